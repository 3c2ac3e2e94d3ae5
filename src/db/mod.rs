//! The keyspace: databases split into shards by key hash, with lazy and active expiry.
//!
//! Every key hashes to one shard; a shard holds that key's slot in *every* database (so `MOVE`
//! and `SWAPDB` never cross a shard boundary for one key) and is guarded by one mutex. A
//! command locks the shards of its keys in ascending order ([`Keyspace::lock_shards`]), runs
//! synchronously, and unlocks; commands that may touch any key (FLUSHALL, KEYS, EXEC, ...) lock
//! every shard ([`Keyspace::lock_all`]). Guards are `!Send`, so holding one across an `.await`
//! does not compile.
//!
//! Modules: [`table`] (the per-database hash table with Redis's SCAN guarantee), [`value`]
//! (values and entries), [`glob`] (Redis's pattern matching), [`watch`] (WATCH bookkeeping).

pub mod blocked;
pub mod digest;
pub mod evict;
pub mod glob;
pub mod lazyfree;
pub mod table;
pub mod thin;
pub mod value;
pub mod watch;

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};

use parking_lot::{Mutex, MutexGuard};

use crate::clock::now_ms;
use crate::stats::Global;
use smallvec::SmallVec;

use table::Table;
use value::{Entry, EntryMut, Value, NO_EXPIRE};
use watch::Watchers;

/// The process-wide key hash: the high 32 bits pick the shard, the low bits the table slot.
/// One random seed per process (not per keyspace) so that a table can rehash its keys on its
/// own when it resizes.
#[inline]
pub fn hash_key(key: &[u8]) -> u64 {
    static HASHER: std::sync::LazyLock<ahash::RandomState> = std::sync::LazyLock::new(ahash::RandomState::new);
    HASHER.hash_one(key)
}

/// Redis's 24-bit LRU clock in seconds.
pub fn lru_clock(now_ms: u64) -> u32 {
    ((now_ms / 1000) & ((1 << 24) - 1)) as u32
}

/// What a [`KeyEffect`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EffectKind {
    /// The key was deleted because its TTL had passed (lazy expiry: a lookup, SCAN or
    /// RANDOMKEY found it). Always recorded: it must reach the effects stream as a `DEL`.
    Expired,
    /// The key was created (keyspace event `new`; recorded only when wanted).
    New,
    /// A read lookup found no key (keyspace event `keymiss`; recorded only when wanted).
    Miss,
}

/// A change (or a miss) the keyspace noticed by itself while a command held its shards. The
/// keyspace knows nothing of propagation or notifications: it queues these in the command's
/// [`Locks`], and the command layer drains them, in order, into the effects stream and the
/// keyspace events, before the command's own effects and reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyEffect {
    pub kind: EffectKind,
    pub db: usize,
    pub key: Box<[u8]>,
}

/// Which optional effects ([`EffectKind::New`], [`EffectKind::Miss`]) are recorded: bit 0
/// `New`, bit 1 `Miss`. Set from above (keyspace notifications) when their configuration
/// changes; read with one relaxed load on every key creation and read miss.
static WANTED: AtomicU8 = AtomicU8::new(0);
const WANT_NEW: u8 = 1;
const WANT_MISS: u8 = 2;

/// Whether `New` and `Miss` effects are recorded (the keyspace-notification flags `n`, `m`).
pub fn want_effects(new: bool, miss: bool) {
    WANTED.store((new as u8 * WANT_NEW) | (miss as u8 * WANT_MISS), Ordering::Relaxed);
}

#[inline]
fn wanted(bit: u8) -> bool {
    WANTED.load(Ordering::Relaxed) & bit != 0
}

/// Counters the keyspace updates (reported by INFO stats).
#[derive(Default)]
pub struct KeyspaceStats {
    pub expired_keys: AtomicU64,
    /// Keys deleted by `maxmemory` eviction (`evict`).
    pub evicted_keys: AtomicU64,
}

/// One shard: its part of every database.
pub struct Shard {
    pub dbs: Box<[Table]>,
    /// Active-expiry position in each database's entry vector.
    expire_cursor: Box<[usize]>,
    /// Running estimate of the remaining TTL (ms) of volatile keys, per database, refreshed by
    /// the active-expiry walk as Redis does (INFO keyspace `avg_ttl`).
    avg_ttl: Box<[u64]>,
    pub watchers: Watchers,
    /// Clients blocked on keys of this shard (`blocked`).
    pub blocked: blocked::ShardWaiters,
}

impl Shard {
    fn new(databases: usize) -> Shard {
        Shard {
            dbs: (0..databases).map(|_| Table::new()).collect(),
            expire_cursor: vec![0; databases].into_boxed_slice(),
            avg_ttl: vec![0; databases].into_boxed_slice(),
            watchers: Watchers::default(),
            blocked: Default::default(),
        }
    }

    /// Whether `key` is stored in `db` (expired or not): the test Redis applies when a flush
    /// or swap decides which watchers to dirty.
    fn holds(&self, db: usize, hash: u64, key: &[u8]) -> bool {
        self.dbs[db].find(hash, key).is_some()
    }

    /// Empties database `db`, raising the WATCH flag of every client watching a key it held.
    /// Returns the removed entries so the caller decides where to free them.
    pub fn flush(&mut self, ks: &Keyspace, db: usize) -> Vec<value::Stored> {
        if !self.watchers.is_empty() {
            let t = &self.dbs[db];
            self.watchers.touch_db(db, |k| t.find(ks.hash(k), k).is_some());
        }
        self.expire_cursor[db] = 0;
        self.avg_ttl[db] = 0;
        let gone = self.dbs[db].take_all();
        // Clients blocked on keys of this database see their keys gone (Redis 7.2: a blocked
        // XREADGROUP ends with NOGROUP).
        self.blocked.signal_db(&ks.blocked, db);
        gone
    }

    /// Swaps databases `a` and `b` in this shard. A client watching a key in either database
    /// is dirtied when the key is held by either of them (Redis 7's SWAPDB rule).
    pub fn swap(&mut self, ks: &Keyspace, a: usize, b: usize) {
        if a == b {
            return;
        }
        if !self.watchers.is_empty() {
            let this = &*self;
            let in_either = |k: &[u8]| {
                let h = ks.hash(k);
                this.holds(a, h, k) || this.holds(b, h, k)
            };
            this.watchers.touch_db(a, in_either);
            this.watchers.touch_db(b, in_either);
        }
        self.dbs.swap(a, b);
        self.expire_cursor.swap(a, b);
        self.avg_ttl.swap(a, b);
        // Clients blocked on keys of either database find other data behind their keys now
        // (Redis 7.2 re-checks them after SWAPDB: served if a key now holds what they wait
        // for, a blocked XREADGROUP whose key is gone ends with NOGROUP).
        self.blocked.signal_db(&ks.blocked, a);
        self.blocked.signal_db(&ks.blocked, b);
    }

    /// Removes entry `idx` of database `db`.
    pub fn remove_at(&mut self, db: usize, idx: usize) -> Entry {
        self.dbs[db].remove_at(idx)
    }

    /// Sets or clears the expiry of entry `idx`.
    pub fn set_expire(&mut self, db: usize, idx: usize, at: u64) {
        self.dbs[db].set_expire(idx, at);
    }

    /// Keys with an expiry in `db`.
    pub fn volatile(&self, db: usize) -> usize {
        self.dbs[db].volatile()
    }

    /// Deletes entry `idx` of `db`, whose TTL has passed: the one expiry path, shared by key
    /// lookups, SCAN, RANDOMKEY and the active cycle. Raises the WATCH flags, counts
    /// `expired_keys` and frees the value by `lazyfree-lazy-expire`'s rule; returns the key for
    /// the caller to report (the effects stream logs it as `DEL`/`UNLINK`, notifications
    /// publish `expired`). The last entry moves into `idx`.
    pub fn expire_entry(&mut self, stats: &KeyspaceStats, db: usize, idx: usize) -> Box<[u8]> {
        let (e, _) = self.dbs[db].remove_stored(idx);
        let key: Box<[u8]> = e.key.as_bytes().into();
        self.watchers.touch(db, &key);
        stats.expired_keys.fetch_add(1, Ordering::Relaxed);
        lazyfree::expired_stored(e);
        key
    }

    /// Walks up to `budget` entries of `db` from the saved cursor, deleting expired ones and
    /// passing each deleted key to `on_expired`. Returns (entries checked, keys expired).
    fn expire_cycle(
        &mut self,
        stats: &KeyspaceStats,
        db: usize,
        now: u64,
        budget: usize,
        on_expired: &mut dyn FnMut(usize, &[u8]),
    ) -> (usize, usize) {
        let mut checked = 0;
        let mut expired = 0;
        let (mut ttl_sum, mut ttl_n) = (0u64, 0u64);
        let mut i = self.expire_cursor[db];
        while checked < budget && self.dbs[db].volatile() > 0 {
            let t = &self.dbs[db];
            if i >= t.len() {
                i = 0;
                if checked > 0 {
                    break;
                }
                if t.is_empty() {
                    break;
                }
            }
            checked += 1;
            let at = t.expire_at(i);
            if at != NO_EXPIRE && at <= now {
                let key = self.expire_entry(stats, db, i);
                on_expired(db, &key);
                expired += 1;
                // The last entry moved into `i`: look at it next.
            } else {
                if at != NO_EXPIRE && ttl_n < 64 {
                    ttl_sum += at - now;
                    ttl_n += 1;
                }
                i += 1;
            }
        }
        self.expire_cursor[db] = i;
        if let Some(avg) = ttl_sum.checked_div(ttl_n) {
            // Redis's smoothing: each cycle moves the estimate 2% towards the sample mean.
            let old = self.avg_ttl[db];
            self.avg_ttl[db] = if old == 0 { avg } else { (old / 50) * 49 + avg / 50 };
        }
        if self.dbs[db].volatile() == 0 {
            self.avg_ttl[db] = 0;
        }
        (checked, expired)
    }
}

/// All databases, sharded.
pub struct Keyspace {
    shards: Box<[Mutex<Shard>]>,
    databases: usize,
    pub stats: KeyspaceStats,
    /// Whether the active expiry cycle runs (`DEBUG SET-ACTIVE-EXPIRE`).
    pub active_expire: std::sync::atomic::AtomicBool,
    /// Blocked clients across shards (`blocked`).
    pub blocked: blocked::BlockedIndex,
}

/// The shards a command holds. Indexed by shard number; holds either a few shards (the
/// command's keys) or all of them. Also carries what the keyspace noticed by itself while they
/// were held ([`KeyEffect`]s), for the command layer to drain.
pub struct Locks<'a> {
    guards: SmallVec<[(usize, MutexGuard<'a, Shard>); 4]>,
    all: bool,
    /// Effects raised through these locks, oldest first (empty, unallocated, in the common case).
    pub effects: Vec<KeyEffect>,
    /// How many of `effects`, from the front, the command layer has propagated already (it
    /// propagates them as soon as the command propagates something of its own, and publishes
    /// their events later).
    pub effects_propagated: usize,
}

impl Drop for Locks<'_> {
    fn drop(&mut self) {
        // Effects dropped here would be a change the AOF never hears of (not while unwinding
        // from another panic: that one is the bug to report).
        if !std::thread::panicking() {
            debug_assert!(
                self.effects.is_empty(),
                "keyspace effects dropped without being drained: {:?}",
                self.effects
            );
        }
    }
}

impl Keyspace {
    /// `shards` is rounded up to a power of two.
    pub fn new(databases: usize, shards: usize) -> Keyspace {
        let n = shards.max(1).next_power_of_two();
        Keyspace {
            shards: (0..n).map(|_| Mutex::new(Shard::new(databases))).collect(),
            databases,
            stats: KeyspaceStats::default(),
            active_expire: std::sync::atomic::AtomicBool::new(true),
            blocked: Default::default(),
        }
    }

    pub fn databases(&self) -> usize {
        self.databases
    }

    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    #[inline]
    pub fn hash(&self, key: &[u8]) -> u64 {
        hash_key(key)
    }

    #[inline]
    pub fn shard_of(&self, key: &[u8]) -> usize {
        ((self.hash(key) >> 32) as usize) & (self.shards.len() - 1)
    }

    /// Locks the shards of `keys` in ascending shard order (the global lock order).
    pub fn lock_keys<'a, 'k>(&'a self, keys: impl Iterator<Item = &'k [u8]>) -> Locks<'a> {
        let mut ids: SmallVec<[usize; 8]> = keys.map(|k| self.shard_of(k)).collect();
        ids.sort_unstable();
        ids.dedup();
        self.lock_shards(&ids)
    }

    /// Locks the given shards; `ids` must be sorted and unique.
    pub fn lock_shards(&self, ids: &[usize]) -> Locks<'_> {
        debug_assert!(ids.windows(2).all(|w| w[0] < w[1]));
        Locks {
            guards: ids.iter().map(|&i| (i, self.shards[i].lock())).collect(),
            all: false,
            effects: Vec::new(),
            effects_propagated: 0,
        }
    }

    /// Locks every shard, in order.
    pub fn lock_all(&self) -> Locks<'_> {
        Locks {
            guards: self.shards.iter().enumerate().map(|(i, m)| (i, m.lock())).collect(),
            all: true,
            effects: Vec::new(),
            effects_propagated: 0,
        }
    }

    /// No locks (commands that touch no key).
    pub fn no_locks(&self) -> Locks<'_> {
        Locks { guards: SmallVec::new(), all: false, effects: Vec::new(), effects_propagated: 0 }
    }

    /// One active-expiry pass over every shard, bounded by `budget` entries per shard and
    /// database. Returns the number of keys expired.
    pub fn active_expire(&self, budget: usize) -> usize {
        self.active_expire_with(budget, &mut |_, _| {})
    }

    /// `active_expire`, calling `on_expired(db, key)` for each key deleted while its shard is
    /// still locked (the caller propagates the deletion and publishes `expired` from there, so
    /// both are ordered with the commands on that key).
    pub fn active_expire_with(&self, budget: usize, on_expired: &mut dyn FnMut(usize, &[u8])) -> usize {
        let now = now_ms();
        let mut total = 0;
        for m in self.shards.iter() {
            let mut shard = m.lock();
            for db in 0..self.databases {
                if shard.volatile(db) == 0 {
                    continue;
                }
                let (_, expired) = shard.expire_cycle(&self.stats, db, now, budget, on_expired);
                total += expired;
            }
        }
        total
    }

    /// Number of keys and of keys with an expiry in `db`, summed over shards one at a time.
    pub fn db_counts(&self, db: usize) -> (usize, usize) {
        let (keys, volatile, _) = self.db_info(db);
        (keys, volatile)
    }

    /// INFO keyspace figures for `db`: (keys, keys with an expiry, estimated average TTL in ms).
    /// Like Redis's, the counts include keys that expired but were not reclaimed yet, and
    /// `avg_ttl` is an estimate maintained by the active-expiry walk (0 when unknown).
    /// Shards are read one at a time, so the figures are not an atomic snapshot.
    pub fn db_info(&self, db: usize) -> (usize, usize, u64) {
        let (mut keys, mut volatile) = (0, 0);
        let (mut weighted, mut weight) = (0u128, 0u128);
        for m in self.shards.iter() {
            let s = m.lock();
            keys += s.dbs[db].len();
            volatile += s.volatile(db);
            if s.avg_ttl[db] > 0 {
                weighted += s.avg_ttl[db] as u128 * s.volatile(db) as u128;
                weight += s.volatile(db) as u128;
            }
        }
        let avg = weighted.checked_div(weight).unwrap_or(0) as u64;
        (keys, volatile, avg)
    }

    /// `db_info` for every database that holds keys, as INFO keyspace lists them.
    pub fn info(&self) -> Vec<(usize, usize, usize, u64)> {
        (0..self.databases)
            .map(|db| {
                let (k, v, a) = self.db_info(db);
                (db, k, v, a)
            })
            .filter(|&(_, k, _, _)| k > 0)
            .collect()
    }
}

/// Result of looking a key up for writing.
pub enum Slot {
    /// Present (and not expired): the entry's index in its table.
    Found(usize),
    Missing,
}

impl<'a> Locks<'a> {
    pub fn holds_all(&self) -> bool {
        self.all
    }

    /// The locked shard `id`. Panics if the command did not lock it: that is a bug in the
    /// command table's key specification.
    #[inline]
    pub fn shard(&mut self, id: usize) -> &mut Shard {
        if self.all {
            return &mut self.guards[id].1;
        }
        for (i, g) in self.guards.iter_mut() {
            if *i == id {
                return g;
            }
        }
        panic!("shard {id} accessed without its lock: check the command's key specification");
    }

    /// Every locked shard (all of them when `holds_all`).
    pub fn shards(&mut self) -> impl Iterator<Item = &mut Shard> + use<'_, 'a> {
        self.guards.iter_mut().map(|(_, g)| &mut **g)
    }

    /// Releases every lock (queued effects stay for the caller to drain).
    pub fn release(&mut self) {
        self.guards.clear();
        self.all = false;
    }

    /// Deletes entry `idx` of `db` in locked shard `sid` because its TTL passed (see
    /// [`Shard::expire_entry`]) and queues the [`EffectKind::Expired`] effect.
    pub fn expire(&mut self, stats: &KeyspaceStats, sid: usize, db: usize, idx: usize) {
        let key = self.shard(sid).expire_entry(stats, db, idx);
        self.effects.push(KeyEffect { kind: EffectKind::Expired, db, key });
    }

    /// Queues an optional effect (`New`, `Miss`) when it is wanted.
    #[inline]
    fn note(&mut self, kind: EffectKind, db: usize, key: &[u8]) {
        let bit = match kind {
            EffectKind::New => WANT_NEW,
            EffectKind::Miss => WANT_MISS,
            EffectKind::Expired => u8::MAX,
        };
        if wanted(bit) {
            self.effects.push(KeyEffect { kind, db, key: key.into() });
        }
    }
}

/// A view of one database through a command's locks: the API command handlers use.
pub struct Db<'l, 'a> {
    pub ks: &'a Keyspace,
    pub locks: &'l mut Locks<'a>,
    pub db: usize,
    pub now: u64,
}

impl<'l, 'a> Db<'l, 'a> {
    /// Locates `key`, deleting it first if it has expired (lazy expiry).
    pub fn find(&mut self, key: &[u8]) -> (usize, Slot) {
        let h = self.ks.hash(key);
        let sid = ((h >> 32) as usize) & (self.ks.shard_count() - 1);
        let db = self.db;
        let now = self.now;
        let shard = self.locks.shard(sid);
        match shard.dbs[db].find(h, key) {
            Some(idx) => {
                let at = shard.dbs[db].expire_at(idx);
                if at != NO_EXPIRE && at <= now {
                    self.locks.expire(&self.ks.stats, sid, db, idx);
                    (sid, Slot::Missing)
                } else {
                    (sid, Slot::Found(idx))
                }
            }
            None => (sid, Slot::Missing),
        }
    }

    /// The live entry for `key`, with its LRU clock refreshed (a read access).
    pub fn get(&mut self, key: &[u8]) -> Option<EntryMut<'_>> {
        let (sid, slot) = self.find(key);
        match slot {
            Slot::Found(idx) => {
                let now = self.now;
                let mut e = self.locks.shard(sid).dbs[self.db].get_mut(idx);
                e.set_lru(evict::accessed(e.lru(), now));
                Some(e)
            }
            Slot::Missing => None,
        }
    }

    /// The live entry for `key` without refreshing its LRU clock (Redis's `LOOKUP_NOTOUCH`:
    /// TYPE, TTL, EXISTS, OBJECT, and writes that keep the access time).
    pub fn peek(&mut self, key: &[u8]) -> Option<EntryMut<'_>> {
        let (sid, slot) = self.find(key);
        match slot {
            Slot::Found(idx) => Some(self.locks.shard(sid).dbs[self.db].get_mut(idx)),
            Slot::Missing => None,
        }
    }

    /// `peek`, counting a keyspace hit or miss (read commands that do not touch the LRU clock).
    pub fn peek_counted(&mut self, key: &[u8]) -> Option<EntryMut<'_>> {
        self.lookup_counted(key, false)
    }

    /// One lookup that counts a hit or a miss (and raises `keymiss`), optionally refreshing the
    /// LRU clock.
    fn lookup_counted(&mut self, key: &[u8], touch: bool) -> Option<EntryMut<'_>> {
        let (sid, slot) = self.find(key);
        match slot {
            Slot::Found(idx) => {
                crate::stats::add(Global::KeyspaceHits, 1);
                let now = self.now;
                let mut e = self.locks.shard(sid).dbs[self.db].get_mut(idx);
                if touch {
                    e.set_lru(evict::accessed(e.lru(), now));
                }
                Some(e)
            }
            Slot::Missing => {
                self.miss(key);
                None
            }
        }
    }

    /// Counts a read miss and queues the `Miss` effect (keyspace event `keymiss`).
    fn miss(&mut self, key: &[u8]) {
        crate::stats::add(Global::KeyspaceMisses, 1);
        self.locks.note(EffectKind::Miss, self.db, key);
    }

    /// Stores a whole entry under its own key (RENAME, MOVE, COPY), keeping its expiry and LRU
    /// clock; the entry's hash is recomputed. Replaces and returns any live entry of that key.
    pub fn put(&mut self, entry: Entry) -> Option<Entry> {
        let h = self.ks.hash(&entry.key);
        let old = self.remove_quiet(&entry.key);
        let sid = ((h >> 32) as usize) & (self.ks.shard_count() - 1);
        let db = self.db;
        let shard = self.locks.shard(sid);
        let key = entry.key.clone();
        shard.dbs[db].insert_entry(h, entry);
        shard.watchers.touch(db, &key);
        if !shard.blocked.is_empty() {
            shard.blocked.signal(&self.ks.blocked, db, &key);
        }
        self.locks.note(EffectKind::New, db, &key);
        old
    }

    /// Removes `key` without raising WATCH flags (the caller raises them for the change it makes).
    fn remove_quiet(&mut self, key: &[u8]) -> Option<Entry> {
        let (sid, slot) = self.find(key);
        match slot {
            Slot::Found(idx) => Some(self.locks.shard(sid).remove_at(self.db, idx)),
            Slot::Missing => None,
        }
    }

    /// Number of keys stored in this database across the locked shards (all of them for an
    /// `ALL_SHARDS` command), expired-but-unreclaimed keys included as Redis's DBSIZE does.
    pub fn len(&mut self) -> usize {
        let db = self.db;
        self.locks.shards().map(|s| s.dbs[db].len()).sum()
    }

    pub fn is_empty(&mut self) -> bool {
        self.len() == 0
    }

    /// Like `get`, but also counts a keyspace hit or miss (read commands on one key).
    pub fn get_counted(&mut self, key: &[u8]) -> Option<EntryMut<'_>> {
        self.lookup_counted(key, true)
    }

    pub fn exists(&mut self, key: &[u8]) -> bool {
        matches!(self.find(key).1, Slot::Found(_))
    }

    /// Stores `value` under `key`, replacing any old value, with expiry `expire_at`
    /// ([`NO_EXPIRE`] for none). Returns whether it replaced a live key. The old value is
    /// freed after the shard is released (`lazyfree-lazy-server-del`: on the lazyfree thread
    /// when costly).
    pub fn set(&mut self, key: &[u8], value: Value, expire_at: u64) -> bool {
        let h = self.ks.hash(key);
        let (sid, slot) = self.find(key);
        let db = self.db;
        let now = self.now;
        let lru = evict::initial(now);
        let shard = self.locks.shard(sid);
        let old = match slot {
            Slot::Found(idx) => {
                let mut e = shard.dbs[db].get_mut(idx);
                let old_value = std::mem::replace(e.value, value);
                // An overwrite is an access: LRU clock refreshed, LFU counter kept and bumped.
                e.set_lru(evict::accessed(e.lru(), now));
                shard.set_expire(db, idx, expire_at);
                Some(old_value)
            }
            Slot::Missing => {
                shard.dbs[db].insert(h, key, value, lru, expire_at);
                None
            }
        };
        // A new key may be what blocked clients wait for; an overwritten one ends the wait of
        // clients that must notice (XREADGROUP).
        shard.blocked.signal(&self.ks.blocked, db, key);
        shard.watchers.touch(db, key);
        match old {
            None => {
                self.locks.note(EffectKind::New, db, key);
                false
            }
            Some(v) => {
                crate::db::lazyfree::server_del_value(v);
                true
            }
        }
    }

    /// Stores the string `bytes` under `key` exactly as `set(key, Value::from_bytes(bytes), ..)`
    /// does, but when the old value is a string of the same length and the same (`embstr`)
    /// encoding, its buffer is reused: no allocation, and nothing freed while the shard is
    /// locked. Caches and session stores overwrite values of one size all the time.
    pub fn set_str(&mut self, key: &[u8], bytes: &[u8], expire_at: u64) {
        let emb = bytes.len() <= value::EMBSTR_MAX && !(bytes.len() <= 20 && resp::parse_i64(bytes).is_some());
        if emb {
            let (sid, slot) = self.find(key);
            if let Slot::Found(idx) = slot {
                let (db, now) = (self.db, self.now);
                let shard = self.locks.shard(sid);
                let mut e = shard.dbs[db].get_mut(idx);
                if let Value::Str(value::StrValue::Emb(old)) = &mut *e.value {
                    if old.overwrite(bytes) {
                        e.set_lru(evict::accessed(e.lru(), now));
                        shard.set_expire(db, idx, expire_at);
                        shard.blocked.signal(&self.ks.blocked, db, key);
                        shard.watchers.touch(db, key);
                        return;
                    }
                }
            }
        }
        self.set(key, Value::from_bytes(bytes), expire_at);
    }

    /// Sets the value of an existing entry, keeping its TTL (`KEEPTTL`); inserts without TTL if absent.
    pub fn set_keep_ttl(&mut self, key: &[u8], value: Value) {
        let expire = match self.get(key) {
            Some(e) => e.expire_at,
            None => NO_EXPIRE,
        };
        self.set(key, value, expire);
    }

    /// Deletes `key`; returns the removed entry.
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let (sid, slot) = self.find(key);
        match slot {
            Slot::Found(idx) => {
                let db = self.db;
                let shard = self.locks.shard(sid);
                let e = shard.remove_at(db, idx);
                shard.watchers.touch(db, key);
                // Clients blocked in XREADGROUP on the key end their wait.
                shard.blocked.signal(&self.ks.blocked, db, key);
                Some(e)
            }
            Slot::Missing => None,
        }
    }

    /// Sets the expiry of an existing key; false if the key does not exist.
    pub fn set_expire(&mut self, key: &[u8], at: u64) -> bool {
        let (sid, slot) = self.find(key);
        match slot {
            Slot::Found(idx) => {
                let db = self.db;
                let shard = self.locks.shard(sid);
                shard.set_expire(db, idx, at);
                shard.watchers.touch(db, key);
                true
            }
            Slot::Missing => false,
        }
    }

    /// Marks `key` as modified for WATCH.
    /// Call after changing an entry in place through `get`.
    pub fn touch(&mut self, key: &[u8]) {
        let sid = self.ks.shard_of(key);
        let db = self.db;
        self.locks.shard(sid).watchers.touch(db, key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_remove_and_lazy_expiry() {
        let ks = Keyspace::new(16, 4);
        let mut locks = ks.lock_all();
        let mut db = Db { ks: &ks, locks: &mut locks, db: 0, now: 1_000 };
        assert!(!db.set(b"a", Value::from_bytes(b"1"), NO_EXPIRE));
        assert!(!db.set(b"b", Value::from_bytes(b"2"), 1_500));
        assert!(db.set(b"b", Value::from_bytes(b"3"), 1_500), "replaced");
        assert!(db.get(b"a").is_some());
        assert!(db.get(b"b").is_some());
        db.now = 1_500;
        assert!(db.get(b"b").is_none(), "expired at its deadline");
        assert_eq!(ks.stats.expired_keys.load(Ordering::Relaxed), 1);
        assert!(db.remove(b"a").is_some());
        assert!(db.remove(b"a").is_none());
        // The lazy expiry is reported to the layers above, once.
        let expired = KeyEffect { kind: EffectKind::Expired, db: 0, key: b"b"[..].into() };
        assert_eq!(std::mem::take(&mut locks.effects), vec![expired]);
    }

    #[test]
    fn optional_effects_are_not_recorded_unless_wanted() {
        // Notifications off (the default, never changed by unit tests: the switch is global).
        let ks = Keyspace::new(1, 4);
        let mut locks = ks.lock_all();
        let mut db = Db { ks: &ks, locks: &mut locks, db: 0, now: 1_000 };
        db.set(b"a", Value::from_bytes(b"1"), NO_EXPIRE);
        assert!(db.get_counted(b"nothing").is_none());
        assert!(locks.effects.is_empty());
    }

    #[test]
    fn active_expiry_reclaims_untouched_keys() {
        let ks = Keyspace::new(1, 4);
        {
            let mut locks = ks.lock_all();
            let mut db = Db { ks: &ks, locks: &mut locks, db: 0, now: now_ms() };
            for i in 0..10_000 {
                db.set(format!("k{i}").as_bytes(), Value::from_bytes(b"v"), 1);
            }
            db.set(b"keep", Value::from_bytes(b"v"), NO_EXPIRE);
        }
        let mut expired = 0;
        while expired < 10_000 {
            let n = ks.active_expire(1000);
            assert!(n > 0, "progress");
            expired += n;
        }
        assert_eq!(ks.db_counts(0), (1, 0));
        // Memory is returned: every shard's table shrank back to a handful of slots.
        let mut locks = ks.lock_all();
        for s in locks.shards() {
            let (slots, cap) = s.dbs[0].capacity();
            assert!(slots <= 16 && cap <= 16, "table kept {slots} slots, {cap} entries");
        }
    }

    fn watcher(ks: &Keyspace, db: usize, key: &[u8]) -> watch::WatchFlag {
        let flag = watch::WatchFlag::default();
        let mut locks = ks.lock_all();
        locks.shard(ks.shard_of(key)).watchers.watch(db, key, &flag);
        flag
    }

    fn raised(f: &watch::WatchFlag) -> bool {
        f.load(Ordering::Acquire)
    }

    #[test]
    fn flush_dirties_watchers_of_held_keys_only() {
        let ks = Keyspace::new(2, 4);
        {
            let mut locks = ks.lock_all();
            let mut db = Db { ks: &ks, locks: &mut locks, db: 0, now: 1_000 };
            db.set(b"held", Value::from_bytes(b"v"), NO_EXPIRE);
        }
        let held = watcher(&ks, 0, b"held");
        let missing = watcher(&ks, 0, b"missing");
        let other_db = watcher(&ks, 1, b"held");
        let mut locks = ks.lock_all();
        let mut n = 0;
        for s in locks.shards() {
            n += s.flush(&ks, 0).len();
        }
        assert_eq!(n, 1);
        assert!(raised(&held));
        assert!(!raised(&missing));
        assert!(!raised(&other_db));
    }

    #[test]
    fn swap_moves_tables_and_dirties_keys_in_either_db() {
        let ks = Keyspace::new(3, 4);
        {
            let mut locks = ks.lock_all();
            let mut db = Db { ks: &ks, locks: &mut locks, db: 0, now: 1_000 };
            db.set(b"a", Value::from_bytes(b"0"), 5_000);
            db.db = 1;
            db.set(b"b", Value::from_bytes(b"1"), NO_EXPIRE);
        }
        let a0 = watcher(&ks, 0, b"a");
        let b0 = watcher(&ks, 0, b"b");
        let c0 = watcher(&ks, 0, b"c");
        let a2 = watcher(&ks, 2, b"a");
        {
            let mut locks = ks.lock_all();
            for s in locks.shards() {
                s.swap(&ks, 0, 1);
            }
        }
        assert!(raised(&a0) && raised(&b0));
        assert!(!raised(&c0) && !raised(&a2));
        assert_eq!(ks.db_counts(0), (1, 0));
        assert_eq!(ks.db_counts(1), (1, 1));
        let mut locks = ks.lock_all();
        let mut db = Db { ks: &ks, locks: &mut locks, db: 1, now: 1_000 };
        assert_eq!(db.peek(b"a").map(|e| e.expire_at), Some(5_000));
    }

    #[test]
    fn put_keeps_metadata_and_replaces() {
        let ks = Keyspace::new(1, 4);
        let mut locks = ks.lock_all();
        let mut db = Db { ks: &ks, locks: &mut locks, db: 0, now: 1_000 };
        db.set(b"dst", Value::from_bytes(b"old"), 9_000);
        let mut e =
            db.remove(b"nothing").unwrap_or_else(|| Entry::new(b"dst".to_vec().into(), Value::from_bytes(b"new")));
        e.expire_at = 7_000;
        e.lru = 42;
        let old = db.put(e).expect("replaced");
        assert_eq!(old.value, Value::from_bytes(b"old"));
        let got = db.peek(b"dst").unwrap();
        assert_eq!((got.expire_at, got.lru()), (7_000, 42));
        assert_eq!(*got.value, Value::from_bytes(b"new"));
        drop(locks);
        assert_eq!(ks.db_counts(0), (1, 1));
    }

    #[test]
    fn db_info_estimates_avg_ttl() {
        let ks = Keyspace::new(1, 2);
        let now = now_ms();
        {
            let mut locks = ks.lock_all();
            let mut db = Db { ks: &ks, locks: &mut locks, db: 0, now };
            for i in 0..100 {
                db.set(format!("k{i}").as_bytes(), Value::from_bytes(b"v"), now + 100_000);
            }
        }
        assert_eq!(ks.active_expire(1000), 0);
        let (keys, expires, avg) = ks.db_info(0);
        assert_eq!((keys, expires), (100, 100));
        assert!(avg > 90_000 && avg <= 100_000, "avg_ttl {avg}");
        assert_eq!(ks.info(), vec![(0, 100, 100, avg)]);
    }
}
