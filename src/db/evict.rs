//! Eviction: `maxmemory`, `maxmemory-policy`, `maxmemory-samples`, and the LRU/LFU data kept
//! in each entry's `lru` field.
//!
//! ## Settings
//! The directives' `apply` functions store the settings in process-wide atomics ([`set_maxmemory`],
//! [`set_policy`], ...), so the check before every command costs one relaxed load when
//! `maxmemory` is 0 and needs no config lock otherwise.
//!
//! ## The `lru` field
//! As in Redis, `Entry::lru` holds one of two things depending on the policy: under an LRU
//! (or any non-LFU) policy the 24-bit LRU clock in seconds at the last access; under an LFU
//! policy the last decrement time in minutes (16 bits, shifted left by 8) and an 8-bit
//! logarithmic access counter. Switching policy at run time reinterprets old values until keys
//! are accessed again (Redis documents the same).
//!
//! ## Eviction ([`perform`])
//! While the memory counted for eviction (`alloc::used_for_evict`) is over `maxmemory`, evict
//! one key at a time:
//! - random policies pick a uniformly random eligible key (the entry vector gives O(1) random
//!   picks);
//! - LRU / LFU / TTL policies sample `maxmemory-samples` entries from a random shard's table of
//!   each database into a pool of the 16 best candidates kept across rounds (Redis's
//!   approximated LRU), then delete the best candidate that still exists. Keys hash uniformly
//!   to shards, so sampling one shard is a uniform sample of the keyspace.
//!
//! Volatile policies only consider keys with a TTL. The work per call is bounded in time; a
//! call that stops early lets the command run (as Redis's `EVICT_RUNNING`). When no key is
//! eligible the call fails and deny-oom commands get the OOM error.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::time::{Duration, Instant};

use rand::Rng;

use super::value::{EntryRef, Stored, NO_EXPIRE};
use super::Keyspace;
use crate::config::Config;
use crate::types::small::SmallBytes;

/// `maxmemory-policy` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    NoEviction,
    AllKeysLru,
    AllKeysLfu,
    AllKeysRandom,
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
}

impl Policy {
    pub fn parse(s: &str) -> Option<Policy> {
        Some(match s.to_ascii_lowercase().as_str() {
            "noeviction" => Policy::NoEviction,
            "allkeys-lru" => Policy::AllKeysLru,
            "allkeys-lfu" => Policy::AllKeysLfu,
            "allkeys-random" => Policy::AllKeysRandom,
            "volatile-lru" => Policy::VolatileLru,
            "volatile-lfu" => Policy::VolatileLfu,
            "volatile-random" => Policy::VolatileRandom,
            "volatile-ttl" => Policy::VolatileTtl,
            _ => return None,
        })
    }

    fn from_u8(v: u8) -> Policy {
        use Policy::*;
        [NoEviction, AllKeysLru, AllKeysLfu, AllKeysRandom, VolatileLru, VolatileLfu, VolatileRandom, VolatileTtl]
            [v as usize & 7]
    }

    pub fn is_lfu(self) -> bool {
        matches!(self, Policy::AllKeysLfu | Policy::VolatileLfu)
    }

    pub fn volatile_only(self) -> bool {
        matches!(self, Policy::VolatileLru | Policy::VolatileLfu | Policy::VolatileRandom | Policy::VolatileTtl)
    }

    fn random(self) -> bool {
        matches!(self, Policy::AllKeysRandom | Policy::VolatileRandom)
    }
}

static MAXMEMORY: AtomicU64 = AtomicU64::new(0);
static POLICY: AtomicU8 = AtomicU8::new(0);
static SAMPLES: AtomicU32 = AtomicU32::new(5);
static LFU_LOG_FACTOR: AtomicU32 = AtomicU32::new(10);
static LFU_DECAY_TIME: AtomicU32 = AtomicU32::new(1);

/// Takes the eviction settings from a new configuration (a `ConfigCell` subscriber).
pub fn configure(c: &Config) {
    set_maxmemory(c.maxmemory);
    set_policy(&c.maxmemory_policy);
    set_samples(c.maxmemory_samples);
    set_tenacity(c.get("maxmemory-eviction-tenacity").parse().unwrap_or(10));
    set_lfu_log_factor(c.get("lfu-log-factor").parse().unwrap_or(10));
    set_lfu_decay_time(c.get("lfu-decay-time").parse().unwrap_or(1));
}

pub fn set_maxmemory(bytes: u64) {
    MAXMEMORY.store(bytes, Ordering::Relaxed);
}

pub fn maxmemory() -> u64 {
    MAXMEMORY.load(Ordering::Relaxed)
}

pub fn set_policy(name: &str) {
    if let Some(p) = Policy::parse(name) {
        POLICY.store(p as u8, Ordering::Relaxed);
    }
}

pub fn policy() -> Policy {
    Policy::from_u8(POLICY.load(Ordering::Relaxed))
}

pub fn set_samples(n: u32) {
    SAMPLES.store(n.max(1), Ordering::Relaxed);
}

/// `maxmemory-eviction-tenacity` (0..=100, default 10).
static TENACITY: AtomicU32 = AtomicU32::new(10);

pub fn set_tenacity(n: u32) {
    TENACITY.store(n.min(100), Ordering::Relaxed);
}

/// How long one command may spend evicting before it runs anyway (Redis's documented scale for
/// `maxmemory-eviction-tenacity`): 50 µs per step up to 10 (500 µs, the default), then 15% more
/// per step (about 2 minutes at 99), and no limit at 100.
pub fn eviction_time_limit(tenacity: u32) -> Option<Duration> {
    match tenacity {
        0..=10 => Some(Duration::from_micros(50 * tenacity as u64)),
        11..=99 => Some(Duration::from_secs_f64(500e-6 * 1.15f64.powi(tenacity as i32 - 10))),
        _ => None,
    }
}

pub fn set_lfu_log_factor(n: u32) {
    LFU_LOG_FACTOR.store(n, Ordering::Relaxed);
}

pub fn set_lfu_decay_time(n: u32) {
    LFU_DECAY_TIME.store(n, Ordering::Relaxed);
}

// ---------------------------------------------------------------- LRU / LFU data

/// Redis's initial LFU counter for a new key (`LFU_INIT_VAL`): new keys are not evicted at once.
pub const LFU_INIT_VAL: u32 = 5;

/// Redis's 24-bit LRU clock in seconds.
fn lru_clock(now_ms: u64) -> u32 {
    super::lru_clock(now_ms)
}

/// Seconds since `lru` on the wrapping 24-bit clock.
pub fn lru_idle(lru: u32, now_ms: u64) -> u64 {
    let clock = lru_clock(now_ms);
    if clock >= lru {
        (clock - lru) as u64
    } else {
        clock as u64 + ((1u64 << 24) - 1 - lru as u64)
    }
}

/// Minutes, 16 bits: the LFU decrement clock.
fn lfu_minutes(now_ms: u64) -> u32 {
    ((now_ms / 60_000) & 0xffff) as u32
}

/// Minutes elapsed since `ldt` on the wrapping 16-bit clock.
fn lfu_elapsed(ldt: u32, now_ms: u64) -> u32 {
    let now = lfu_minutes(now_ms);
    if now >= ldt {
        now - ldt
    } else {
        65535 - ldt + now
    }
}

/// The LFU counter of `lru` after decay (one step per `lfu-decay-time` minutes), not stored:
/// what OBJECT FREQ reports and eviction compares.
pub fn lfu_decayed(lru: u32, now_ms: u64) -> u32 {
    let ldt = lru >> 8;
    let counter = lru & 0xff;
    let period = LFU_DECAY_TIME.load(Ordering::Relaxed);
    let periods = lfu_elapsed(ldt, now_ms).checked_div(period).unwrap_or(0);
    counter.saturating_sub(periods)
}

/// Logarithmic increment: the higher the counter, the less likely an access increments it.
fn lfu_log_incr(counter: u32, factor: u32, r: f64) -> u32 {
    if counter >= 255 {
        return 255;
    }
    let base = counter.saturating_sub(LFU_INIT_VAL) as f64;
    let p = 1.0 / (base * factor as f64 + 1.0);
    if r < p {
        counter + 1
    } else {
        counter
    }
}

fn lfu_pack(now_ms: u64, counter: u32) -> u32 {
    (lfu_minutes(now_ms) << 8) | counter.min(255)
}

/// The `lru` value of a key created now.
pub fn initial(now_ms: u64) -> u32 {
    if policy().is_lfu() {
        lfu_pack(now_ms, LFU_INIT_VAL)
    } else {
        lru_clock(now_ms)
    }
}

/// The `lru` value of a key restored (RESTORE, an RDB file) with Redis's `IDLETIME`/`FREQ`
/// (`objectSetLRUOrLFU`): under an LFU policy the given frequency, under the others the given
/// idle time in seconds; `None` when the one the policy uses was not given (the key keeps the
/// value of a new key).
pub fn restored(now_ms: u64, idle_secs: Option<u64>, freq: Option<u8>) -> Option<u32> {
    if policy().is_lfu() {
        freq.map(|f| lfu_pack(now_ms, f as u32))
    } else {
        idle_secs.map(|s| lru_clock(now_ms.saturating_sub(s.saturating_mul(1000))))
    }
}

/// The `lru` value after an access to a key whose value was `old`.
pub fn accessed(old: u32, now_ms: u64) -> u32 {
    if policy().is_lfu() {
        let c = lfu_decayed(old, now_ms);
        let c = lfu_log_incr(c, LFU_LOG_FACTOR.load(Ordering::Relaxed), rand::thread_rng().gen::<f64>());
        lfu_pack(now_ms, c)
    } else {
        lru_clock(now_ms)
    }
}

// ---------------------------------------------------------------- eviction

/// Size of the candidate pool (Redis's `EVPOOL_SIZE`).
const POOL_SIZE: usize = 16;

struct Candidate {
    score: u64,
    shard: usize,
    db: usize,
    key: SmallBytes,
}

thread_local! {
    // One pool per thread: eviction runs on whichever I/O thread finds memory over the limit.
    static POOL: RefCell<Vec<Candidate>> = const { RefCell::new(Vec::new()) };
}

/// Higher = better eviction candidate.
fn score(policy: Policy, e: &EntryRef, now_ms: u64) -> u64 {
    match policy {
        Policy::VolatileTtl => u64::MAX - e.expire_at,
        p if p.is_lfu() => 255 - lfu_decayed(e.lru, now_ms) as u64,
        _ => lru_idle(e.lru, now_ms),
    }
}

fn pool_insert(pool: &mut Vec<Candidate>, c: Candidate) {
    if pool.iter().any(|p| p.shard == c.shard && p.db == c.db && p.key == c.key) {
        return;
    }
    if pool.len() >= POOL_SIZE {
        // pool[0] is the worst candidate (sorted ascending by score).
        if c.score <= pool[0].score {
            return;
        }
        pool.remove(0);
    }
    let at = pool.partition_point(|p| p.score <= c.score);
    pool.insert(at, c);
}

/// Outcome of [`perform`].
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Under the limit (or no limit).
    Ok,
    /// Still over the limit but the time budget ran out: the command may run.
    Running,
    /// Over the limit and nothing can be evicted: deny-oom commands are refused.
    Fail,
}

/// Whether memory is over `maxmemory` (cheap: one load when there is no limit).
#[inline]
pub fn over_limit() -> bool {
    let max = maxmemory();
    max != 0 && crate::alloc::used_for_evict() > max
}

/// Evicts keys until memory is under `maxmemory`; `on_evicted(db, key)` is called for each
/// evicted key while its shard is locked (keyspace notifications). The caller must hold no
/// shard lock. Returns how it ended and the number of keys evicted.
pub fn perform(ks: &Keyspace, on_evicted: &mut dyn FnMut(usize, &[u8])) -> (Outcome, u64) {
    perform_with(ks, &mut crate::alloc::used_for_evict, maxmemory(), policy(), on_evicted)
}

/// [`perform`] with the memory figure, limit and policy given (unit tests).
pub fn perform_with(
    ks: &Keyspace,
    used: &mut dyn FnMut() -> u64,
    max: u64,
    policy: Policy,
    on_evicted: &mut dyn FnMut(usize, &[u8]),
) -> (Outcome, u64) {
    if max == 0 || used() <= max {
        return (Outcome::Ok, 0);
    }
    if policy == Policy::NoEviction {
        return (Outcome::Fail, 0);
    }
    let start = Instant::now();
    let limit = eviction_time_limit(TENACITY.load(Ordering::Relaxed));
    let mut evicted = 0u64;
    while used() > max {
        let freed =
            if policy.random() { evict_random(ks, policy, on_evicted) } else { evict_pooled(ks, policy, on_evicted) };
        if !freed {
            ks.stats.evicted_keys.fetch_add(evicted, Ordering::Relaxed);
            return (Outcome::Fail, evicted);
        }
        evicted += 1;
        // With lazy eviction the memory comes back when the lazyfree thread has freed the
        // values: stop while it works instead of evicting more than needed (Redis lets the
        // command run in that state too).
        let waiting =
            crate::db::lazyfree::enabled(crate::db::lazyfree::Flag::Eviction) && crate::db::lazyfree::pending() > 0;
        let out_of_time = evicted.is_multiple_of(16) && limit.is_some_and(|l| start.elapsed() > l);
        if waiting || out_of_time {
            ks.stats.evicted_keys.fetch_add(evicted, Ordering::Relaxed);
            return (Outcome::Running, evicted);
        }
    }
    ks.stats.evicted_keys.fetch_add(evicted, Ordering::Relaxed);
    (Outcome::Ok, evicted)
}

/// A random index of an eligible entry of `t` (one with a TTL when `volatile`), if any.
fn pick(rng: &mut impl Rng, t: &super::table::Table, volatile: bool) -> Option<usize> {
    if t.is_empty() || (volatile && t.volatile() == 0) {
        return None;
    }
    let start = rng.gen_range(0..t.len());
    if !volatile {
        return Some(start);
    }
    // A few random tries, then a walk from the last try: terminates because the table holds
    // keys with a TTL.
    for _ in 0..8 {
        let i = rng.gen_range(0..t.len());
        if t.expire_at(i) != NO_EXPIRE {
            return Some(i);
        }
    }
    (0..t.len()).map(|k| (start + k) % t.len()).find(|&i| t.expire_at(i) != NO_EXPIRE)
}

/// Removes entry `idx` of `db` in `shard` as an eviction; returns it for the caller to drop
/// after unlocking.
fn remove(shard: &mut super::Shard, db: usize, idx: usize, on_evicted: &mut dyn FnMut(usize, &[u8])) -> Stored {
    let (e, _) = shard.dbs[db].remove_stored(idx);
    shard.watchers.touch(db, e.key.as_bytes());
    on_evicted(db, e.key.as_bytes());
    e
}

fn evict_random(ks: &Keyspace, policy: Policy, on_evicted: &mut dyn FnMut(usize, &[u8])) -> bool {
    let mut rng = rand::thread_rng();
    let n = ks.shards.len();
    let first = rng.gen_range(0..n);
    let dbs = ks.databases;
    let db0 = rng.gen_range(0..dbs);
    for s in 0..n {
        let sid = (first + s) % n;
        let mut shard = ks.shards[sid].lock();
        for d in 0..dbs {
            let db = (db0 + d) % dbs;
            if let Some(idx) = pick(&mut rng, &shard.dbs[db], policy.volatile_only()) {
                let e = remove(&mut shard, db, idx, on_evicted);
                drop(shard);
                crate::db::lazyfree::evicted(e);
                return true;
            }
        }
    }
    false
}

fn evict_pooled(ks: &Keyspace, policy: Policy, on_evicted: &mut dyn FnMut(usize, &[u8])) -> bool {
    let mut rng = rand::thread_rng();
    let samples = SAMPLES.load(Ordering::Relaxed).max(1) as usize;
    let volatile = policy.volatile_only();
    let now = super::now_ms();
    let n = ks.shards.len();
    POOL.with(|pool| {
        let mut pool = pool.borrow_mut();
        // Fill: sample the first shard (from a random start) that has eligible keys.
        let first = rng.gen_range(0..n);
        let mut found_any = false;
        for s in 0..n {
            let sid = (first + s) % n;
            let shard = ks.shards[sid].lock();
            for db in 0..ks.databases {
                let t = &shard.dbs[db];
                for _ in 0..samples {
                    let Some(idx) = pick(&mut rng, t, volatile) else { break };
                    found_any = true;
                    let e = t.get(idx);
                    pool_insert(
                        &mut pool,
                        Candidate { score: score(policy, &e, now), shard: sid, db, key: e.key.into() },
                    );
                }
            }
            if found_any {
                break;
            }
        }
        // Evict the best candidate that still exists (and still qualifies).
        while let Some(c) = pool.pop() {
            if c.shard >= n || c.db >= ks.databases {
                continue;
            }
            let h = ks.hash(&c.key);
            let mut shard = ks.shards[c.shard].lock();
            if let Some(idx) = shard.dbs[c.db].find(h, &c.key) {
                if volatile && shard.dbs[c.db].expire_at(idx) == NO_EXPIRE {
                    continue;
                }
                let e = remove(&mut shard, c.db, idx, on_evicted);
                drop(shard);
                crate::db::lazyfree::evicted(e);
                return true;
            }
        }
        false
    })
}

/// Bytes held by the keyspace tables themselves (index slots and entry vectors, whose entries
/// embed short keys and values), per database that holds keys: MEMORY STATS `db.N` and the
/// keyspace part of `used_memory_overhead`. Locks each shard in turn.
pub fn table_overhead(ks: &Keyspace) -> Vec<(usize, u64)> {
    let mut per_db = vec![0u64; ks.databases];
    let mut keys = vec![0usize; ks.databases];
    for m in ks.shards.iter() {
        let s = m.lock();
        for (db, t) in s.dbs.iter().enumerate() {
            per_db[db] += t.overhead_bytes() as u64;
            keys[db] += t.len();
        }
    }
    per_db.into_iter().enumerate().filter(|&(db, _)| keys[db] > 0).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::value::{Value, NO_EXPIRE};
    use crate::db::Db;

    #[test]
    fn tenacity_scale() {
        assert_eq!(eviction_time_limit(0), Some(Duration::ZERO));
        assert_eq!(eviction_time_limit(10), Some(Duration::from_micros(500)));
        let l11 = eviction_time_limit(11).unwrap();
        assert!(l11 > Duration::from_micros(570) && l11 < Duration::from_micros(580), "{l11:?}");
        let l99 = eviction_time_limit(99).unwrap();
        assert!(l99 > Duration::from_secs(100) && l99 < Duration::from_secs(140), "{l99:?}");
        assert_eq!(eviction_time_limit(100), None);
    }

    fn fill(ks: &Keyspace, n: usize, ttl_every: usize) {
        let mut locks = ks.lock_all();
        let now = crate::clock::now_ms();
        let mut db = Db { ks, locks: &mut locks, db: 0, now };
        for i in 0..n {
            let at = if ttl_every > 0 && i % ttl_every == 0 { now + 1_000_000 + i as u64 } else { NO_EXPIRE };
            db.set(format!("k{i}").as_bytes(), Value::from_bytes(b"v"), at);
        }
    }

    /// Evicts until `keep` keys are left, using the key count as the memory figure. One call
    /// has a time budget and may stop early on a loaded machine (`Running`): call again, as the
    /// next command would.
    fn run(ks: &Keyspace, policy: Policy, keep: u64) -> (Outcome, u64, Vec<Vec<u8>>) {
        let mut gone = Vec::new();
        let mut total = 0;
        loop {
            let mut used = || ks.db_counts(0).0 as u64;
            let (o, n) = perform_with(ks, &mut used, keep, policy, &mut |_, k| gone.push(k.to_vec()));
            total += n;
            if o != Outcome::Running {
                return (o, total, gone);
            }
        }
    }

    #[test]
    fn allkeys_policies_evict_down_to_the_limit() {
        for p in [Policy::AllKeysLru, Policy::AllKeysLfu, Policy::AllKeysRandom] {
            let ks = Keyspace::new(1, 4);
            fill(&ks, 1000, 0);
            let (o, n, gone) = run(&ks, p, 600);
            assert_eq!(o, Outcome::Ok, "{p:?}");
            assert_eq!((n, gone.len()), (400, 400));
            assert_eq!(ks.db_counts(0).0, 600);
            assert_eq!(ks.stats.evicted_keys.load(Ordering::Relaxed), 400);
        }
    }

    #[test]
    fn volatile_policies_spare_keys_without_ttl() {
        for p in [Policy::VolatileLru, Policy::VolatileLfu, Policy::VolatileRandom, Policy::VolatileTtl] {
            let ks = Keyspace::new(1, 4);
            fill(&ks, 1000, 10); // 100 keys with a TTL
            let (o, n, gone) = run(&ks, p, 500);
            assert_eq!(o, Outcome::Fail, "{p:?}: only 100 keys are evictable");
            assert_eq!(n, 100);
            assert!(gone.iter().all(|k| std::str::from_utf8(&k[1..]).unwrap().parse::<usize>().unwrap() % 10 == 0));
            assert_eq!(ks.db_counts(0), (900, 0));
        }
    }

    #[test]
    fn noeviction_fails_and_volatile_ttl_prefers_short_ttls() {
        let ks = Keyspace::new(1, 4);
        fill(&ks, 100, 0);
        assert_eq!(run(&ks, Policy::NoEviction, 50).0, Outcome::Fail);
        assert_eq!(run(&ks, Policy::AllKeysLru, 0).0, Outcome::Ok, "no limit");
        let ks = Keyspace::new(1, 4);
        fill(&ks, 2000, 1); // TTL grows with the index
        let (_, _, gone) = run(&ks, Policy::VolatileTtl, 1900);
        let mean: usize =
            gone.iter().map(|k| std::str::from_utf8(&k[1..]).unwrap().parse::<usize>().unwrap()).sum::<usize>()
                / gone.len();
        assert!(mean < 700, "approximated TTL order evicts mostly short TTLs (mean index {mean})");
    }

    #[test]
    fn lfu_counter_grows_logarithmically_and_decays() {
        let now = 10 * 60_000;
        let mut c = LFU_INIT_VAL;
        for _ in 0..100 {
            c = lfu_log_incr(c, 10, 0.0);
        }
        assert_eq!(c, LFU_INIT_VAL + 100, "r = 0 always increments");
        assert_eq!(lfu_log_incr(LFU_INIT_VAL + 10, 10, 0.5), LFU_INIT_VAL + 10, "p = 1/101");
        assert_eq!(lfu_log_incr(255, 0, 0.0), 255);
        let v = lfu_pack(now, 20);
        assert_eq!(lfu_decayed(v, now), 20);
        assert_eq!(lfu_decayed(v, now + 3 * 60_000), 17, "one step per minute (decay time 1)");
        assert_eq!(lfu_decayed(v, now + 300 * 60_000), 0);
    }

    #[test]
    fn pool_keeps_the_best_candidates() {
        let mut pool = Vec::new();
        for s in 0..40u64 {
            pool_insert(
                &mut pool,
                Candidate { score: (s * 7) % 40, shard: 0, db: 0, key: format!("{s}").as_bytes().into() },
            );
        }
        assert_eq!(pool.len(), POOL_SIZE);
        assert_eq!(pool.last().unwrap().score, 39);
        assert!(pool.windows(2).all(|w| w[0].score <= w[1].score));
        assert_eq!(pool[0].score, 24);
    }
}
