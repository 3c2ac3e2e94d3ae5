//! The keyspace side of blocking commands (BLPOP & co., BZPOP*, XREAD/XREADGROUP BLOCK): who
//! waits on which key, in which order, and where each waiter's outcome is delivered.
//!
//! - Per shard ([`ShardWaiters`], a field of the shard): FIFO queues of waiters per (db, key),
//!   and the keys signalled ready. Writes that create, overwrite or delete a key signal it
//!   (`Db::set`, `Db::put`, `Db::remove`); commands adding to an existing key signal it
//!   through the command layer.
//! - Per keyspace ([`BlockedIndex`]): the number of blocked clients, registrations per shard
//!   (so a write knows cheaply whether it must take every shard), a "some key is ready" flag,
//!   and each blocked client's [`Slot`] by client id (CLIENT UNBLOCK).
//! - Per client ([`ClientBlock`], a field of `client::Client`): whether the running command may
//!   block, and the [`Blocked`] request the connection waits on.
//!
//! Registering, serving (re-running a waiter's command) and the command API live in
//! `cmd::blocking`; this module holds the state and the waiting. Lock order: shard locks
//! (ascending) → `BlockedIndex::clients` → a slot's state. No lock is held across an `.await`.

use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::Notify;

use super::Keyspace;
use crate::clock::now_ms;
use resp::Writer;

/// What a slot holds.
pub enum SlotState {
    Waiting,
    /// Claimed by a serve in progress (all shards held).
    Serving,
    Served(Vec<u8>),
    Unblocked {
        error: bool,
    },
}

/// Where a waiter's outcome is delivered.
pub struct Slot {
    pub state: Mutex<SlotState>,
    notify: Notify,
}

impl Default for Slot {
    fn default() -> Slot {
        Slot { state: Mutex::new(SlotState::Waiting), notify: Notify::new() }
    }
}

impl Slot {
    pub fn set(&self, s: SlotState) {
        *self.state.lock() = s;
        self.notify.notify_one();
    }

    /// CLIENT UNBLOCK: true if the waiter was waiting (not being served or done).
    pub fn unblock(&self, error: bool) -> bool {
        let mut st = self.state.lock();
        if matches!(*st, SlotState::Waiting) {
            *st = SlotState::Unblocked { error };
            drop(st);
            self.notify.notify_one();
            return true;
        }
        false
    }
}

/// What the keyspace needs of a blocked client: its id, and the `b` flag CLIENT LIST shows.
/// The client registry's `ClientInfo` implements it; the command layer gets the concrete type
/// back through [`BlockedClient::as_any`] when it re-runs a waiter's command.
pub trait BlockedClient: Send + Sync + 'static {
    fn client_id(&self) -> u64;
    fn set_blocked(&self, on: bool);
    fn as_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
}

/// One blocked request.
pub struct Waiter {
    pub id: u64,
    pub owner: Arc<dyn BlockedClient>,
    pub db: usize,
    pub resp: u8,
    pub args: Vec<Vec<u8>>,
    pub keys: Vec<Vec<u8>>,
    /// The `TYPE` name the waiter is served for.
    pub wants: &'static str,
    /// Re-run whenever the key is signalled, whatever it holds (XREADGROUP: a deleted key, a
    /// type change or a destroyed group ends the wait with the command's error, as in 7.2).
    pub any_change: bool,
    pub slot: Arc<Slot>,
}

/// A shard's waiters.
#[derive(Default)]
pub struct ShardWaiters {
    /// FIFO queue of waiters per (db, key).
    pub queues: HashMap<(usize, Vec<u8>), VecDeque<Arc<Waiter>>>,
    /// Keys signalled since the last serve.
    pub ready: Vec<(usize, Vec<u8>)>,
}

impl ShardWaiters {
    pub fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }

    /// Marks `key` of `db` ready if someone waits on it. Cheap when nobody waits in this shard.
    pub fn signal(&mut self, index: &BlockedIndex, db: usize, key: &[u8]) {
        if self.queues.is_empty() {
            return;
        }
        let k = (db, key.to_vec());
        if self.queues.contains_key(&k) && !self.ready.contains(&k) {
            self.ready.push(k);
            index.ready.store(true, Ordering::Release);
        }
    }

    /// Marks every key of `db` that someone waits on ready (FLUSHDB, FLUSHALL, SWAPDB).
    pub fn signal_db(&mut self, index: &BlockedIndex, db: usize) {
        let mut any = false;
        for k in self.queues.keys() {
            if k.0 == db && !self.ready.contains(k) {
                self.ready.push(k.clone());
                any = true;
            }
        }
        if any {
            index.ready.store(true, Ordering::Release);
        }
    }

    /// Removes waiter `id` from the queue of `key`; true if it was there.
    pub fn remove(&mut self, db: usize, key: &[u8], id: u64) -> bool {
        let k = (db, key.to_vec());
        let Some(q) = self.queues.get_mut(&k) else { return false };
        let before = q.len();
        q.retain(|w| w.id != id);
        let removed = q.len() != before;
        if q.is_empty() {
            self.queues.remove(&k);
        }
        removed
    }
}

/// Keyspace-wide blocking state.
pub struct BlockedIndex {
    pub count: AtomicUsize,
    /// Waiter registrations per shard (shard id modulo the table size; a collision only makes
    /// a write lock every shard needlessly).
    per_shard: [AtomicU32; SHARD_SLOTS],
    pub ready: AtomicBool,
    pub next_id: AtomicU64,
    /// The waiting slot of each blocked client, by client id (CLIENT UNBLOCK).
    pub clients: Mutex<HashMap<u64, Arc<Slot>>>,
}

const SHARD_SLOTS: usize = 256;

impl Default for BlockedIndex {
    fn default() -> Self {
        BlockedIndex {
            count: AtomicUsize::new(0),
            per_shard: std::array::from_fn(|_| AtomicU32::new(0)),
            ready: AtomicBool::new(false),
            next_id: AtomicU64::new(0),
            clients: Mutex::new(HashMap::new()),
        }
    }
}

impl BlockedIndex {
    /// The registration counter of shard `sid`.
    pub fn shard_slot(&self, sid: usize) -> &AtomicU32 {
        &self.per_shard[sid % SHARD_SLOTS]
    }

    /// Whether some client waits on a key in one of the shards of `keys`: a write to them must
    /// take every shard, so that the serving of those keys happens within the command's atomic
    /// step. Only called while `any()` holds.
    pub fn waits_in_shards_of<'k>(&self, ks: &Keyspace, mut keys: impl Iterator<Item = &'k [u8]>) -> bool {
        keys.any(|k| self.shard_slot(ks.shard_of(k)).load(Ordering::Relaxed) > 0)
    }

    /// Whether any client is blocked (a relaxed load: dispatch checks it per write command).
    #[inline]
    pub fn any(&self) -> bool {
        self.count.load(Ordering::Relaxed) > 0
    }

    #[inline]
    pub fn ready_pending(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Number of blocked clients.
    pub fn blocked_clients(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }
}

/// The per-client blocking state (a field of `Client`).
#[derive(Default)]
pub struct ClientBlock {
    /// Set by dispatch for each command a client sends: whether it may block (a BLOCKING
    /// command run directly, not queued in MULTI).
    pub may_block: bool,
    /// This client is a stand-in re-running a waiter's command.
    pub serving: bool,
    /// Set by `block` while serving: the waiter has to keep waiting.
    pub still_waiting: bool,
    /// Set by `block` when the command blocked; the connection takes it and waits.
    pub pending: Option<Blocked>,
}

/// A blocked command, owned by its connection while it waits.
pub struct Blocked {
    pub waiter: Arc<Waiter>,
    /// Absolute deadline in Unix ms (0 = none).
    pub deadline_ms: u64,
}

/// Outcome of a wait, for the connection.
pub enum WaitEnd {
    /// The deadline passed.
    Timeout,
    /// Served or unblocked (the slot says which).
    Woken,
}

impl Blocked {
    /// Time left before the deadline, `None` when it waits forever.
    pub fn time_left(&self) -> Option<std::time::Duration> {
        (self.deadline_ms != 0).then(|| std::time::Duration::from_millis(self.deadline_ms.saturating_sub(now_ms())))
    }

    /// Resolves when the waiter was served or unblocked.
    pub async fn woken(&self) {
        loop {
            if matches!(*self.waiter.slot.state.lock(), SlotState::Served(_) | SlotState::Unblocked { .. }) {
                return;
            }
            self.waiter.slot.notify.notified().await;
        }
    }

    /// Waits until served, unblocked or timed out (the connection also watches its socket).
    pub async fn wait(&self) -> WaitEnd {
        match self.time_left() {
            None => {
                self.woken().await;
                WaitEnd::Woken
            }
            Some(d) => tokio::select! {
                _ = self.woken() => WaitEnd::Woken,
                _ = tokio::time::sleep(d) => WaitEnd::Timeout,
            },
        }
    }

    /// Removes the waiter from its queues; true if it was still queued (not served).
    fn dequeue(&self, ks: &Keyspace) -> bool {
        let w = &self.waiter;
        let mut locks = ks.lock_keys(w.keys.iter().map(|k| k.as_slice()));
        let mut removed = false;
        for key in &w.keys {
            let sid = ks.shard_of(key);
            if locks.shard(sid).blocked.remove(w.db, key, w.id) {
                ks.blocked.shard_slot(sid).fetch_sub(1, Ordering::Relaxed);
                removed = true;
            }
        }
        if removed {
            forget(ks, w);
        }
        removed
    }

    /// Ends the wait (timeout, unblock, or served) and returns the reply bytes to send.
    pub fn finish(self, ks: &Keyspace) -> Vec<u8> {
        self.dequeue(ks);
        let st = std::mem::replace(&mut *self.waiter.slot.state.lock(), SlotState::Waiting);
        match st {
            SlotState::Served(bytes) => bytes,
            SlotState::Unblocked { error: true } => b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n".to_vec(),
            _ => {
                let mut w = Writer::new(self.waiter.resp == 3);
                w.null_array();
                w.buf
            }
        }
    }

    /// The client went away: drop the waiter (a reply already served is lost with it, as in
    /// Redis when a client disconnects right after being served).
    pub fn cancel(self, ks: &Keyspace) {
        self.dequeue(ks);
    }
}

/// Forgets a waiter that left every queue (served, timed out, unblocked or gone).
pub fn forget(ks: &Keyspace, w: &Waiter) {
    ks.blocked.count.fetch_sub(1, Ordering::Relaxed);
    w.owner.set_blocked(false);
    let id = w.owner.client_id();
    let mut clients = ks.blocked.clients.lock();
    if clients.get(&id).is_some_and(|s| Arc::ptr_eq(s, &w.slot)) {
        clients.remove(&id);
    }
}
