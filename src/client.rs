//! Per-connection client state, and the registry that `CLIENT LIST`/`CLIENT KILL` read.
//!
//! [`Client`] is owned by the connection task and handed to commands as `ctx.client`.
//! [`ClientInfo`] is the part other connections may read (name, address, current database,
//! last command) or act on (kill), shared through the [`Clients`] registry.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

use crate::db::watch::WatchFlag;

/// A queued MULTI transaction.
#[derive(Default)]
pub struct MultiState {
    /// Queued commands, owned (the read buffer moves on).
    pub queued: Vec<Vec<Vec<u8>>>,
    /// Set when a command failed to queue (unknown, wrong arity): EXEC replies EXECABORT.
    pub aborted: bool,
    /// CLIENT LIST `multi-mem`, as Redis counts it: each queued command's argument bytes plus
    /// one pointer per argument.
    pub mem: usize,
}

impl MultiState {
    /// Queues a command for EXEC.
    pub fn queue(&mut self, args: &[&[u8]]) {
        self.mem += argv_mem(args) + std::mem::size_of::<usize>() * args.len();
        self.queued.push(args.iter().map(|a| a.to_vec()).collect());
    }
}

/// CLIENT LIST `argv-mem` of a command: the bytes of its arguments (Redis's `argv_len_sum`).
pub fn argv_mem(args: &[&[u8]]) -> usize {
    args.iter().map(|a| a.len()).sum()
}

/// What CLIENT INFO / CLIENT LIST say about the client running them, whose query buffer holds
/// the command being run (set by the connection before each command).
#[derive(Clone, Copy, Debug, Default)]
pub struct Running {
    /// The query buffer as Redis has it while the command runs: the batch read so far, this
    /// command included (see `net::conn`).
    pub qbuf: usize,
    /// The query buffer's spare capacity.
    pub qbuf_free: usize,
    /// The `argv-mem` of the command the connection runs (EXEC's for the commands EXEC runs,
    /// as in Redis).
    pub argv_mem: usize,
    /// The replies not yet written, the running command's so far included (`obl`, `oll`,
    /// `omem`).
    pub obuf: usize,
    /// The query and output buffers' capacities while the command runs (`tot-mem`): between
    /// batches an idle connection gives its buffers back, and the stored capacities say 0.
    pub qbuf_cap: usize,
    pub obuf_cap: usize,
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
    /// A Unix-socket client or one on a loopback address (IPv4-mapped included): what the
    /// `local` value of `enable-protected-configs` and its kin admit.
    pub fn is_local(&self) -> bool {
        match self {
            Peer::Unix { .. } => true,
            Peer::Tcp { addr, .. } => match addr.ip() {
                std::net::IpAddr::V4(v4) => v4.is_loopback(),
                std::net::IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
            },
        }
    }

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

/// The values of the three [`Attr`]s, in their order.
type Names = [Option<Vec<u8>>; 3];

/// The shared, readable-by-others part of a client.
pub struct ClientInfo {
    pub id: u64,
    pub peer: Peer,
    pub created: Instant,
    /// CLIENT SETNAME and CLIENT SETINFO values (see [`ClientInfo::attr`]), boxed: most
    /// clients of a large pool set none, and each would otherwise carry three empty slots.
    names: Mutex<Option<Box<Names>>>,
    pub db: AtomicUsize,
    /// Milliseconds since `created` at the last command.
    pub last_interaction_ms: AtomicU64,
    /// The last command run, as an index into the command metadata (`cmd::table::cmd_meta`);
    /// `usize::MAX` before the first command. A relaxed store per command, no lock.
    pub last_cmd: AtomicUsize,
    pub resp: AtomicUsize,
    pub killed: AtomicBool,
    /// The task to wake when the client is killed ([`ClientInfo::killed_wait`]).
    kill_waker: Mutex<Option<std::task::Waker>>,
    /// The socket's file descriptor (-1 until the connection reports it).
    pub fd: AtomicI32,
    /// CLIENT LIST `qbuf` and `qbuf-free` between two batches: the bytes read and not yet
    /// parsed (Redis drops the parsed header and arguments of a partly read command from its
    /// query buffer) and the read buffer's spare capacity.
    pub qbuf: AtomicUsize,
    pub qbuf_free: AtomicUsize,
    /// The read buffer's capacity (`tot-mem`).
    pub qbuf_cap: AtomicUsize,
    /// CLIENT LIST `argv-mem` between two batches: the arguments of a partly read command, or
    /// of the command the client is blocked in.
    pub argv_mem: AtomicUsize,
    /// CLIENT LIST `multi-mem` ([`MultiState::mem`]).
    pub multi_mem: AtomicUsize,
    /// A reply write is waiting for the socket (CLIENT LIST `events=rw`).
    pub writing: AtomicBool,
    /// Pending output bytes and the output buffer's capacity (`omem`, `tot-mem`).
    pub obuf: AtomicUsize,
    pub obuf_cap: AtomicUsize,
    /// Commands queued in MULTI, or -1 outside MULTI.
    pub multi: AtomicI64,
    pub no_evict: AtomicBool,
    /// In MONITOR mode (CLIENT LIST flag `O`).
    pub monitor: AtomicBool,
    pub no_touch: AtomicBool,
    /// Waiting in a blocking command (CLIENT LIST flag `b`); kept by `cmd::blocking`.
    pub blocked: AtomicBool,
    /// Channel, pattern and shard-channel subscription counts (CLIENT LIST `sub`, `psub`, `ssub`).
    pub subs: [AtomicUsize; 3],
    /// This client's memory as last added to the registry-wide sum (`tot-mem`, see
    /// [`ClientInfo::update_mem`]).
    pub mem: AtomicUsize,
}

/// What the pub/sub registry knows of a subscribing client.
impl crate::pubsub::Subscriber for ClientInfo {
    fn id(&self) -> u64 {
        self.id
    }
    fn addr(&self) -> String {
        self.peer.addr_string()
    }
    fn kill(&self) {
        ClientInfo::kill(self)
    }
}

/// What the keyspace knows of a client blocked on keys.
impl crate::db::blocked::BlockedClient for ClientInfo {
    fn client_id(&self) -> u64 {
        self.id
    }
    fn set_blocked(&self, on: bool) {
        self.blocked.store(on, Ordering::Relaxed);
    }
    fn as_any(self: Arc<Self>) -> Arc<dyn std::any::Any + Send + Sync> {
        self
    }
}

/// A client's settable names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attr {
    /// CLIENT SETNAME.
    Name = 0,
    /// CLIENT SETINFO LIB-NAME.
    LibName = 1,
    /// CLIENT SETINFO LIB-VER.
    LibVer = 2,
}

impl ClientInfo {
    /// One of the client's names (`None`: not set, or set to the empty string).
    pub fn attr(&self, which: Attr) -> Option<Vec<u8>> {
        self.names.lock().as_ref().and_then(|n| n[which as usize].clone())
    }

    /// Sets one of the client's names; the empty string clears it.
    pub fn set_attr(&self, which: Attr, value: &[u8]) {
        let mut names = self.names.lock();
        let v = (!value.is_empty()).then(|| value.to_vec());
        if v.is_none() && names.is_none() {
            return;
        }
        let n = names.get_or_insert_with(Default::default);
        n[which as usize] = v;
        if n.iter().all(Option::is_none) {
            *names = None;
        }
    }

    /// Asks the connection to close (CLIENT KILL, SHUTDOWN).
    pub fn kill(&self) {
        self.killed.store(true, Ordering::Release);
        if let Some(w) = self.kill_waker.lock().take() {
            w.wake();
        }
    }

    /// The connection closed: it no longer waits (the waker would keep its task's memory).
    pub fn closed(&self) {
        self.kill_waker.lock().take();
    }

    /// Resolves once the client is killed ([`ClientInfo::kill`]), at once if it was. The
    /// waiting task's waker is kept here, so the wait itself holds nothing but a reference (a
    /// waiting connection's task stays small). One task waits at a time: the connection's.
    pub fn killed_wait(&self) -> impl std::future::Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| {
            if self.killed.load(Ordering::Acquire) {
                return std::task::Poll::Ready(());
            }
            {
                let mut w = self.kill_waker.lock();
                if !w.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    *w = Some(cx.waker().clone());
                }
            }
            // `kill` raises the flag before it takes the waker: a kill that found no waker
            // is seen here.
            if self.killed.load(Ordering::Acquire) {
                std::task::Poll::Ready(())
            } else {
                std::task::Poll::Pending
            }
        })
    }

    pub fn is_unix(&self) -> bool {
        matches!(self.peer, Peer::Unix { .. })
    }

    /// What the connection holds (CLIENT LIST `tot-mem`, INFO `mem_clients_normal`,
    /// `maxmemory-clients`): its two structs, the capacity of its query and output buffers, and
    /// its queued MULTI commands (`multi-mem`; a command's own arguments are in the query buffer).
    /// The pending output is part of the output buffer's capacity. A killed client counts 0: it
    /// is on its way out, and client eviction must not evict more clients for it.
    pub fn tot_mem(&self) -> usize {
        self.tot_mem_with(self.qbuf_cap.load(Ordering::Relaxed), self.obuf_cap.load(Ordering::Relaxed))
    }

    /// [`ClientInfo::tot_mem`] with the buffers' capacities given.
    fn tot_mem_with(&self, qbuf_cap: usize, obuf_cap: usize) -> usize {
        if self.killed.load(Ordering::Relaxed) {
            return 0;
        }
        std::mem::size_of::<ClientInfo>()
            + std::mem::size_of::<Client>()
            + qbuf_cap
            + obuf_cap
            + self.multi_mem.load(Ordering::Relaxed)
    }

    /// Publishes this client's memory ([`ClientInfo::tot_mem`]) to the sum of all clients'
    /// (one shared atomic, touched only when it changed by at least `MEM_STEP`). Returns true when
    /// the sum is over `maxmemory-clients`: the caller then runs [`Clients::evict_for_memory`].
    pub fn update_mem(&self) -> bool {
        let new = self.tot_mem();
        let old = self.mem.load(Ordering::Relaxed);
        // Small changes are not published: a read buffer's capacity moves by the bytes consumed
        // on every request, and one shared counter updated per request would bounce between
        // cores. The sum is therefore exact to within MEM_STEP per client.
        if new != old && (new == 0 || old == 0 || new.abs_diff(old) >= MEM_STEP) {
            let old = self.mem.swap(new, Ordering::Relaxed);
            CLIENTS_MEM.fetch_add(new as i64 - old as i64, Ordering::Release);
        }
        let limit = client_eviction_limit();
        limit > 0 && clients_mem() > limit
    }

    /// The client's line in `CLIENT LIST` / `CLIENT INFO`, without the trailing newline, with
    /// Redis 7.2's fields in Redis 7.2's order. `cmd` is the full name of the last command;
    /// `running` describes the query buffer of the client that runs the CLIENT command (it
    /// holds that command). `qbuf`, `argv-mem`, `multi-mem`, `events`, `user`, `redir`, `resp`
    /// are Redis's values; the other memory figures are this connection's real buffer sizes,
    /// which are not Redis's numbers.
    pub fn describe(&self, cmd: &str, running: Option<Running>) -> String {
        let age = self.created.elapsed();
        let idle_ms = (age.as_millis() as u64).saturating_sub(self.last_interaction_ms.load(Ordering::Relaxed));
        let multi = self.multi.load(Ordering::Relaxed);
        let mut flags = String::new();
        if self.monitor.load(Ordering::Relaxed) {
            flags.push('O');
        }
        let subs: [usize; 3] = std::array::from_fn(|i| self.subs[i].load(Ordering::Relaxed));
        if subs.iter().sum::<usize>() > 0 {
            flags.push('P');
        }
        if multi >= 0 {
            flags.push('x');
        }
        if self.blocked.load(Ordering::Relaxed) {
            flags.push('b');
        }
        if self.is_unix() {
            flags.push('U');
        }
        if self.no_evict.load(Ordering::Relaxed) {
            flags.push('e');
        }
        if self.no_touch.load(Ordering::Relaxed) {
            flags.push('T');
        }
        if flags.is_empty() {
            flags.push('N');
        }
        let lossy =
            |which: Attr| self.attr(which).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
        let (qbuf, qbuf_free, argv_mem, pending) = match running {
            Some(r) => (r.qbuf, r.qbuf_free, r.argv_mem, r.obuf),
            None => (
                self.qbuf.load(Ordering::Relaxed),
                self.qbuf_free.load(Ordering::Relaxed),
                self.argv_mem.load(Ordering::Relaxed),
                self.obuf.load(Ordering::Relaxed),
            ),
        };
        // Redis keeps the first 16 KiB of pending output in the client's reply buffer (`obl`) and
        // the rest in a list of 16 KiB blocks (`oll` blocks, `omem` bytes); redstart's one output
        // buffer is reported split the same way. The reply buffer's size (`rbs`, and its peak
        // `rbp`) is within Redis's bounds: 1 KiB to 16 KiB.
        let obl = pending.min(REPLY_CHUNK);
        let omem = pending - obl;
        let oll = omem.div_ceil(REPLY_CHUNK);
        let rbs = self.obuf_cap.load(Ordering::Relaxed).clamp(1024, REPLY_CHUNK);
        // Redis watches the socket for writing while a reply waits for room in it.
        let events = if self.writing.load(Ordering::Relaxed) { "rw" } else { "r" };
        let tot = match running {
            Some(r) => self.tot_mem_with(r.qbuf_cap, r.obuf_cap),
            None => self.tot_mem(),
        };
        let mut s = String::with_capacity(320);
        let _ = write!(
            s,
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} \
             qbuf={} qbuf-free={} argv-mem={} multi-mem={} rbs={} rbp={} obl={} oll={} omem={} tot-mem={} \
             events={} cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={}",
            self.id,
            self.peer.addr_string(),
            self.peer.local_string(),
            self.fd.load(Ordering::Relaxed),
            lossy(Attr::Name),
            age.as_secs(),
            idle_ms / 1000,
            flags,
            self.db.load(Ordering::Relaxed),
            subs[0],
            subs[1],
            subs[2],
            multi,
            qbuf,
            qbuf_free,
            argv_mem,
            self.multi_mem.load(Ordering::Relaxed),
            rbs,
            rbs,
            obl,
            oll,
            omem,
            tot,
            events,
            cmd,
            self.resp.load(Ordering::Relaxed),
            lossy(Attr::LibName),
            lossy(Attr::LibVer),
        );
        s
    }
}

/// Redis's reply buffer and reply-list block size (CLIENT LIST `obl`, `oll`, `omem`).
const REPLY_CHUNK: usize = 16 * 1024;

/// What CLIENT REPLY asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ReplyMode {
    #[default]
    On,
    Off,
    /// Suppress the reply of this command (CLIENT REPLY SKIP itself) and of the next one.
    Skip,
}

/// Sum of every registered client's [`ClientInfo::mem`] (INFO `mem_clients_normal`).
static CLIENTS_MEM: AtomicI64 = AtomicI64::new(0);
/// INFO stats `evicted_clients`.
static EVICTED_CLIENTS: AtomicU64 = AtomicU64::new(0);
/// `maxmemory-clients`: bytes when positive or zero (0 = off), minus a percentage of
/// `maxmemory` when negative.
static MAXMEMORY_CLIENTS: AtomicI64 = AtomicI64::new(0);

/// Client memory changes smaller than this are not published to the shared sum.
const MEM_STEP: usize = 16 * 1024;

/// Redis's floor for the client eviction limit, so a tiny setting cannot lock every client out.
pub const MIN_CLIENT_EVICTION_LIMIT: u64 = 128 * 1024;

/// Total memory of all connected clients (INFO `mem_clients_normal`). Acquire, paired with the
/// Release of `update_mem`: a later read of `used_memory` covers the buffers counted here.
pub fn clients_mem() -> u64 {
    CLIENTS_MEM.load(Ordering::Acquire).max(0) as u64
}

/// Clients disconnected by client eviction (INFO stats `evicted_clients`).
pub fn evicted_clients() -> u64 {
    EVICTED_CLIENTS.load(Ordering::Relaxed)
}

/// Sets `maxmemory-clients` from its canonical form: a byte count, or `N%` of `maxmemory`.
/// Takes `maxmemory-clients` from a new configuration (a `ConfigCell` subscriber).
pub fn configure(c: &crate::config::Config) {
    set_maxmemory_clients(c.get("maxmemory-clients"));
}

pub fn set_maxmemory_clients(v: &str) {
    let raw = match v.strip_suffix('%') {
        Some(p) => -p.parse::<i64>().unwrap_or(0),
        None => v.parse::<i64>().unwrap_or(0),
    };
    MAXMEMORY_CLIENTS.store(raw, Ordering::Relaxed);
}

/// The client eviction limit in bytes, 0 when off: `maxmemory-clients`, or its percentage of
/// `maxmemory` (off while `maxmemory` is 0), never below [`MIN_CLIENT_EVICTION_LIMIT`].
pub fn client_eviction_limit() -> u64 {
    let raw = MAXMEMORY_CLIENTS.load(Ordering::Relaxed);
    let limit =
        if raw < 0 { crate::db::evict::maxmemory().saturating_mul(raw.unsigned_abs()) / 100 } else { raw as u64 };
    if limit == 0 {
        0
    } else {
        limit.max(MIN_CLIENT_EVICTION_LIMIT)
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
    /// CLIENT REPLY state; the connection drops replies while it is not `On`.
    pub reply_mode: ReplyMode,
    /// Replies still to drop in `Skip` mode (SKIP's own and the next command's).
    pub reply_skip: u8,
    /// Pub/sub subscriptions and the queue of messages for this connection.
    pub pubsub: crate::pubsub::ClientSubs,
    pub info: Arc<ClientInfo>,
    /// Blocking-command state (`cmd::blocking`).
    pub block: crate::db::blocked::ClientBlock,
    /// The query buffer while the current command runs (CLIENT INFO of itself).
    pub running: Running,
    /// A client of the server's own (the AOF loader): its commands are not logged in SLOWLOG.
    pub internal: bool,
    /// In MONITOR mode (`pubsub::PubSub::add_monitor`).
    pub monitor: bool,
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
            reply_mode: ReplyMode::On,
            reply_skip: 0,
            pubsub: Default::default(),
            info,
            block: Default::default(),
            running: Running::default(),
            internal: false,
            monitor: false,
        }
    }

    pub fn select(&mut self, db: usize) {
        self.db = db;
        self.info.db.store(db, Ordering::Relaxed);
    }

    /// Switches the protocol of the following replies (HELLO, RESET).
    pub fn set_resp(&mut self, resp: u8) {
        self.resp = resp;
        self.info.resp.store(resp as usize, Ordering::Relaxed);
        if let Some(mb) = &self.pubsub.mailbox {
            mb.set_resp3(resp == 3);
        }
    }

    /// Called by the connection after each command: whether to drop the reply just written
    /// (CLIENT REPLY OFF / SKIP).
    pub fn take_reply_suppressed(&mut self) -> bool {
        match self.reply_mode {
            ReplyMode::On => false,
            ReplyMode::Off => true,
            ReplyMode::Skip => {
                self.reply_skip = self.reply_skip.saturating_sub(1);
                if self.reply_skip == 0 {
                    self.reply_mode = ReplyMode::On;
                }
                true
            }
        }
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
            names: Mutex::new(None),
            db: AtomicUsize::new(0),
            last_interaction_ms: AtomicU64::new(0),
            last_cmd: AtomicUsize::new(usize::MAX),
            resp: AtomicUsize::new(2),
            killed: AtomicBool::new(false),
            kill_waker: Mutex::new(None),
            fd: AtomicI32::new(-1),
            qbuf: AtomicUsize::new(0),
            qbuf_free: AtomicUsize::new(0),
            qbuf_cap: AtomicUsize::new(0),
            argv_mem: AtomicUsize::new(0),
            multi_mem: AtomicUsize::new(0),
            writing: AtomicBool::new(false),
            obuf: AtomicUsize::new(0),
            obuf_cap: AtomicUsize::new(0),
            multi: AtomicI64::new(-1),
            no_evict: AtomicBool::new(false),
            monitor: AtomicBool::new(false),
            no_touch: AtomicBool::new(false),
            blocked: AtomicBool::new(false),
            subs: Default::default(),
            mem: AtomicUsize::new(0),
        });
        self.map.lock().insert(id, info.clone());
        info
    }

    /// Registers a client unless `max` clients are already connected (the check and the
    /// insertion happen under one lock, so concurrent connections cannot overshoot `max`).
    pub fn try_register(&self, peer: Peer, max: usize) -> Option<Arc<ClientInfo>> {
        let info = self.register(peer);
        let mut map = self.map.lock();
        if map.len() > max {
            map.remove(&info.id);
            return None;
        }
        Some(info)
    }

    pub fn unregister(&self, id: u64) {
        if let Some(info) = self.map.lock().remove(&id) {
            let m = info.mem.swap(0, Ordering::Relaxed);
            CLIENTS_MEM.fetch_sub(m as i64, Ordering::Relaxed);
        }
    }

    /// Client eviction (`maxmemory-clients`): while the clients' memory is over the limit, kills
    /// the client using the most memory, skipping clients flagged CLIENT NO-EVICT, and counts
    /// each in `evicted_clients`. A killed client stops counting at once (its connection closes
    /// soon after), so concurrent checks do not evict more than needed; one eviction pass runs
    /// at a time. Returns the number of clients evicted.
    pub fn evict_for_memory(&self) -> usize {
        static RUNNING: Mutex<()> = Mutex::new(());
        let Some(_running) = RUNNING.try_lock() else { return 0 };
        let limit = client_eviction_limit();
        if limit == 0 || clients_mem() <= limit {
            return 0;
        }
        let mut candidates: Vec<(usize, Arc<ClientInfo>)> = self
            .map
            .lock()
            .values()
            .filter(|c| !c.no_evict.load(Ordering::Relaxed) && !c.killed.load(Ordering::Relaxed))
            .map(|c| (c.mem.load(Ordering::Relaxed), c.clone()))
            .collect();
        candidates.sort_by_key(|c| std::cmp::Reverse(c.0));
        let mut evicted = 0;
        for (_, c) in candidates {
            if clients_mem() <= limit {
                break;
            }
            crate::log::verbose(&format!(
                "Evicting client: id={} addr={} tot-mem={}",
                c.id,
                c.peer.addr_string(),
                c.mem.load(Ordering::Relaxed)
            ));
            c.kill();
            c.update_mem();
            EVICTED_CLIENTS.fetch_add(1, Ordering::Relaxed);
            evicted += 1;
        }
        evicted
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

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> Client {
        let clients = Clients::default();
        let peer = Peer::Tcp { addr: "127.0.0.1:5000".parse().unwrap(), local: "127.0.0.1:6379".parse().unwrap() };
        Client::new(clients.register(peer), true)
    }

    #[test]
    fn reply_skip_drops_two_replies() {
        let mut c = client();
        assert!(!c.take_reply_suppressed());
        c.reply_mode = ReplyMode::Skip;
        c.reply_skip = 2;
        assert!(c.take_reply_suppressed(), "SKIP's own reply");
        assert!(c.take_reply_suppressed(), "the next command's reply");
        assert!(!c.take_reply_suppressed());
        c.reply_mode = ReplyMode::Off;
        assert!(c.take_reply_suppressed() && c.take_reply_suppressed());
    }

    #[test]
    fn client_eviction_limit_follows_the_directive() {
        set_maxmemory_clients("0");
        assert_eq!(client_eviction_limit(), 0);
        set_maxmemory_clients("1048576");
        assert_eq!(client_eviction_limit(), 1 << 20);
        // Redis's floor.
        set_maxmemory_clients("1");
        assert_eq!(client_eviction_limit(), MIN_CLIENT_EVICTION_LIMIT);
        // (Percentages depend on the global maxmemory, which other unit tests set: covered by
        // tests/lazyfree.rs.)
        set_maxmemory_clients("0");
    }

    #[test]
    fn tot_mem_counts_buffers_and_a_killed_client_counts_nothing() {
        let c = client();
        let base = c.info.tot_mem();
        c.info.qbuf_cap.store(1000, Ordering::Relaxed);
        c.info.obuf_cap.store(500, Ordering::Relaxed);
        assert_eq!(c.info.tot_mem(), base + 1500);
        c.info.obuf.store(40_000, Ordering::Relaxed);
        let line = c.info.describe("get", None);
        assert!(line.contains(" obl=16384 oll=2 omem=23616 "), "{line}");
        c.info.kill();
        assert_eq!(c.info.tot_mem(), 0);
    }

    #[test]
    fn small_changes_are_not_published() {
        let c = client();
        c.info.update_mem();
        let published = c.info.mem.load(Ordering::Relaxed);
        assert_eq!(published, c.info.tot_mem());
        c.info.qbuf_cap.store(100, Ordering::Relaxed);
        c.info.update_mem();
        assert_eq!(c.info.mem.load(Ordering::Relaxed), published);
        c.info.qbuf_cap.store(MEM_STEP, Ordering::Relaxed);
        c.info.update_mem();
        assert_eq!(c.info.mem.load(Ordering::Relaxed), published + MEM_STEP);
    }

    #[test]
    fn describe_lists_fields_in_order() {
        let mut c = client();
        c.select(4);
        c.info.set_attr(Attr::Name, b"me");
        let line = c.info.describe("get", None);
        let keys: Vec<&str> = line.split(' ').map(|kv| kv.split_once('=').unwrap().0).collect();
        assert_eq!(keys.first(), Some(&"id"));
        assert_eq!(keys.last(), Some(&"lib-ver"));
        assert_eq!(keys.len(), 30);
        assert!(line.contains(" addr=127.0.0.1:5000 laddr=127.0.0.1:6379 "));
        assert!(line.contains(" name=me ") && line.contains(" db=4 ") && line.contains(" cmd=get "));
    }
}
