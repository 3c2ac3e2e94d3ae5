//! Per-connection client state, and the registry that `CLIENT LIST`/`CLIENT KILL` read.
//!
//! [`Client`] is owned by the connection task and handed to commands as `ctx.client`.
//! [`ClientInfo`] is the part other connections may read (name, address, current database,
//! last command) or act on (kill), shared through the [`Clients`] registry.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::db::watch::WatchFlag;

/// A queued MULTI transaction.
#[derive(Default)]
pub struct MultiState {
    /// Queued commands, owned (the read buffer moves on).
    pub queued: Vec<Vec<Vec<u8>>>,
    /// Set when a command failed to queue (unknown, wrong arity): EXEC replies EXECABORT.
    pub aborted: bool,
}

/// Keys a client WATCHes, and the flag raised when one of them changes.
#[derive(Default)]
pub struct WatchState {
    pub flag: WatchFlag,
    /// (database, key, whether the key had an expiry that may lapse before EXEC)
    pub keys: Vec<(usize, Vec<u8>)>,
}

/// Where a client connected from.
#[derive(Clone, Debug)]
pub enum Peer {
    Tcp { addr: SocketAddr, local: SocketAddr },
    Unix { path: String },
}

impl Peer {
    pub fn addr_string(&self) -> String {
        match self {
            Peer::Tcp { addr, .. } => addr.to_string(),
            Peer::Unix { path } => format!("{path}:0"),
        }
    }
    pub fn local_string(&self) -> String {
        match self {
            Peer::Tcp { local, .. } => local.to_string(),
            Peer::Unix { path } => format!("{path}:0"),
        }
    }
}

/// The shared, readable-by-others part of a client.
pub struct ClientInfo {
    pub id: u64,
    pub peer: Peer,
    pub created: Instant,
    pub name: Mutex<Option<Vec<u8>>>,
    pub lib_name: Mutex<Option<Vec<u8>>>,
    pub lib_ver: Mutex<Option<Vec<u8>>>,
    pub db: AtomicUsize,
    /// Milliseconds since `created` at the last command.
    pub last_interaction_ms: AtomicU64,
    /// Name of the last command run (for `cmd=` in CLIENT LIST).
    pub last_cmd: Mutex<&'static str>,
    pub resp: AtomicUsize,
    pub killed: AtomicBool,
    pub kill_notify: Notify,
}

impl ClientInfo {
    /// Asks the connection to close (CLIENT KILL, SHUTDOWN).
    pub fn kill(&self) {
        self.killed.store(true, Ordering::Release);
        self.kill_notify.notify_one();
    }
}

/// State owned by one connection.
pub struct Client {
    pub id: u64,
    pub db: usize,
    pub resp: u8,
    pub authenticated: bool,
    pub multi: Option<MultiState>,
    pub watch: WatchState,
    /// Close the connection once the pending replies are written (QUIT).
    pub close_after_reply: bool,
    pub info: Arc<ClientInfo>,
}

impl Client {
    pub fn new(info: Arc<ClientInfo>, authenticated: bool) -> Client {
        Client {
            id: info.id,
            db: 0,
            resp: 2,
            authenticated,
            multi: None,
            watch: WatchState::default(),
            close_after_reply: false,
            info,
        }
    }

    pub fn select(&mut self, db: usize) {
        self.db = db;
        self.info.db.store(db, Ordering::Relaxed);
    }
}

/// Every connected client, by id.
#[derive(Default)]
pub struct Clients {
    next_id: AtomicU64,
    map: Mutex<BTreeMap<u64, Arc<ClientInfo>>>,
}

impl Clients {
    pub fn register(&self, peer: Peer) -> Arc<ClientInfo> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let info = Arc::new(ClientInfo {
            id,
            peer,
            created: Instant::now(),
            name: Mutex::new(None),
            lib_name: Mutex::new(None),
            lib_ver: Mutex::new(None),
            db: AtomicUsize::new(0),
            last_interaction_ms: AtomicU64::new(0),
            last_cmd: Mutex::new("NULL"),
            resp: AtomicUsize::new(2),
            killed: AtomicBool::new(false),
            kill_notify: Notify::new(),
        });
        self.map.lock().insert(id, info.clone());
        info
    }

    pub fn unregister(&self, id: u64) {
        self.map.lock().remove(&id);
    }

    pub fn len(&self) -> usize {
        self.map.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A snapshot of every client, in id order.
    pub fn all(&self) -> Vec<Arc<ClientInfo>> {
        self.map.lock().values().cloned().collect()
    }

    pub fn get(&self, id: u64) -> Option<Arc<ClientInfo>> {
        self.map.lock().get(&id).cloned()
    }
}
