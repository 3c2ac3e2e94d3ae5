//! Lazy freeing: values that are expensive to free are dropped on one background thread, so a
//! command that deletes a key holding a million elements answers at once and does not hold its
//! shard locks (nor its I/O worker) while the allocator walks the elements.
//!
//! ## What goes to the thread
//! Redis's rule (`LAZYFREE_THRESHOLD`): a value whose *free effort* is above 64 is freed in the
//! background, anything cheaper inline (sending it would cost more than freeing it). The effort
//! is the number of heap blocks the value owns, roughly: strings, and collections in a compact
//! encoding (listpack, intset: one buffer), cost 1; hash tables, sets, sorted sets count one per
//! element; a quicklist one per packed node (estimated as one per 16 elements: the node count is
//! private to `types::list`); a stream one per node plus, per consumer group, one plus the
//! first group's pending-entry count (Redis's estimate). Batches of
//! entries (FLUSHALL/FLUSHDB ASYNC) always go to the thread unless they are small.
//!
//! ## Who uses it
//! - Always lazy: UNLINK, FLUSHALL ASYNC, FLUSHDB ASYNC.
//! - Lazy when configured (Redis 7 defaults: all `no`): DEL (`lazyfree-lazy-user-del`),
//!   FLUSHALL/FLUSHDB without an argument (`lazyfree-lazy-user-flush`), eviction
//!   (`lazyfree-lazy-eviction`), expiry (`lazyfree-lazy-expire`) and implicit deletes such as
//!   an overwritten value (`lazyfree-lazy-server-del`) through [`evicted`], [`expired`] and
//!   [`server_del`], which read the flags the config directives set here (atomics: the
//!   keyspace calls them with shard locks held and must not take the config lock).
//!
//! ## Accounting
//! `lazyfree_pending_objects` (INFO memory) counts keys handed to the thread and not freed yet
//! (a flushed database counts its keys, as Redis's does); `lazyfreed_objects` (INFO memory in
//! Redis 7.0 and 7.2) counts keys freed by the thread since start. The counting allocator sees
//! the bytes when the thread frees them: the thread publishes its allocation delta after each
//! job, so `used_memory` drops as soon as a job is done.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Mutex, OnceLock};

use crate::db::value::{Entry, Stored, StrValue, Value};

/// Redis's `LAZYFREE_THRESHOLD`: values whose free effort is above this go to the thread.
pub const THRESHOLD: usize = 64;

/// The `lazyfree-lazy-*` directives, as the config's `apply` functions set them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flag {
    Eviction,
    Expire,
    ServerDel,
    UserDel,
    UserFlush,
}

static FLAGS: [AtomicBool; 5] = [
    AtomicBool::new(false),
    AtomicBool::new(false),
    AtomicBool::new(false),
    AtomicBool::new(false),
    AtomicBool::new(false),
];

/// Takes the `lazyfree-lazy-*` flags from a new configuration (a `ConfigCell` subscriber).
pub fn configure(c: &crate::config::Config) {
    for (flag, name) in [
        (Flag::Eviction, "lazyfree-lazy-eviction"),
        (Flag::Expire, "lazyfree-lazy-expire"),
        (Flag::ServerDel, "lazyfree-lazy-server-del"),
        (Flag::UserDel, "lazyfree-lazy-user-del"),
        (Flag::UserFlush, "lazyfree-lazy-user-flush"),
    ] {
        set(flag, c.get(name) == "yes");
    }
}

/// Sets a `lazyfree-lazy-*` flag (called by the config directive's `apply`).
pub fn set(flag: Flag, on: bool) {
    FLAGS[flag as usize].store(on, Ordering::Relaxed);
}

/// Whether a `lazyfree-lazy-*` flag is on.
#[inline]
pub fn enabled(flag: Flag) -> bool {
    FLAGS[flag as usize].load(Ordering::Relaxed)
}

static PENDING: AtomicU64 = AtomicU64::new(0);
static FREED: AtomicU64 = AtomicU64::new(0);

/// INFO memory `lazyfree_pending_objects`.
pub fn pending() -> u64 {
    PENDING.load(Ordering::Relaxed)
}

/// INFO memory `lazyfreed_objects`.
pub fn freed() -> u64 {
    FREED.load(Ordering::Relaxed)
}

/// One job for the thread: something to drop, and how many objects it counts for.
struct Job {
    garbage: Box<dyn Send>,
    objects: u64,
}

/// The thread's queue, started on first use. The `Mutex` makes the `Sender` shareable on every
/// Rust version; it is held only to clone or send.
fn queue() -> &'static Mutex<Sender<Job>> {
    static QUEUE: OnceLock<Mutex<Sender<Job>>> = OnceLock::new();
    QUEUE.get_or_init(|| {
        let (tx, rx) = channel::<Job>();
        std::thread::Builder::new()
            .name("lazyfree".into())
            .spawn(move || {
                for job in rx {
                    drop(job.garbage);
                    // Publish the freed bytes at once (the counter is batched per thread).
                    crate::alloc::flush();
                    FREED.fetch_add(job.objects, Ordering::Relaxed);
                    PENDING.fetch_sub(job.objects, Ordering::Relaxed);
                }
            })
            .expect("spawn the lazyfree thread");
        Mutex::new(tx)
    })
}

/// Hands `garbage` (counting as `objects` keys) to the thread.
fn defer(garbage: Box<dyn Send>, objects: u64) {
    PENDING.fetch_add(objects, Ordering::Relaxed);
    let job = Job { garbage, objects };
    // A poisoned lock only means another sender panicked; the sender itself is intact.
    let sent = queue().lock().unwrap_or_else(|p| p.into_inner()).send(job);
    if let Err(e) = sent {
        // The thread is gone (it never exits, unless dropping a value panicked): free here
        // rather than lose the value.
        PENDING.fetch_sub(objects, Ordering::Relaxed);
        drop(e.0);
    }
}

/// Redis's "free effort" of a value: about how many heap blocks freeing it walks.
pub fn free_effort(v: &Value) -> usize {
    match v {
        Value::Str(StrValue::Int(_) | StrValue::Emb(_) | StrValue::Raw(_)) => 1,
        Value::Hash(h) if h.encoding() != "listpack" => h.len(),
        Value::Set(s) if s.encoding() == "hashtable" => s.len(),
        Value::Zset(z) if z.encoding() != "listpack" => z.len(),
        Value::List(l) if l.encoding() == "quicklist" => l.len() / 16,
        // As Redis: one per node, and per group one plus the first group's PEL size (an
        // estimate for all groups).
        Value::Stream(s) => {
            s.log.node_count() + s.groups.values().next().map_or(0, |g| s.groups.len() * (1 + g.pel.len()))
        }
        _ => 1,
    }
}

/// Drops `v`: on the thread when its free effort is above [`THRESHOLD`], inline otherwise.
/// Returns true when it was deferred.
pub fn drop_value(v: Value) -> bool {
    if free_effort(&v) > THRESHOLD {
        defer(Box::new(v), 1);
        true
    } else {
        drop(v);
        false
    }
}

/// Drops a removed entry by the same rule as [`drop_value`] (the key is freed with it).
pub fn drop_entry(e: Entry) -> bool {
    if free_effort(&e.value) > THRESHOLD {
        defer(Box::new(e), 1);
        true
    } else {
        drop(e);
        false
    }
}

/// Drops the entries a flush removed: on the thread unless the batch is cheap to free (fewer
/// entries than the threshold, none of them large), counting one object per key.
pub fn drop_entries(batch: Vec<Stored>) {
    let effort: usize = batch.iter().map(|e| free_effort(&e.value)).take(THRESHOLD + 1).sum();
    if batch.len() > THRESHOLD || effort > THRESHOLD {
        let n = batch.len() as u64;
        defer(Box::new(batch), n);
    } else {
        drop(batch);
    }
}

/// Drops `e` lazily when `flag` is on, inline otherwise.
#[inline]
fn drop_if(flag: Flag, e: Entry) {
    if enabled(flag) {
        drop_entry(e);
    } else {
        drop(e);
    }
}

/// An entry removed by eviction (`lazyfree-lazy-eviction`).
pub fn evicted(e: Stored) {
    drop_stored_if(Flag::Eviction, e)
}

/// A stored entry the keyspace deleted because its TTL passed, lazily or by the active cycle
/// (`lazyfree-lazy-expire`).
pub fn expired_stored(e: Stored) {
    drop_stored_if(Flag::Expire, e)
}

#[inline]
fn drop_stored_if(flag: Flag, e: Stored) {
    if enabled(flag) && free_effort(&e.value) > THRESHOLD {
        defer(Box::new(e), 1);
    } else {
        drop(e);
    }
}

/// An entry removed because its TTL passed, lazily or by the active cycle
/// (`lazyfree-lazy-expire`).
pub fn expired(e: Entry) {
    drop_if(Flag::Expire, e)
}

/// An entry (or overwritten value) deleted as a side effect of a command: the destination of
/// RENAME, a value replaced by SET, ... (`lazyfree-lazy-server-del`).
pub fn server_del(e: Entry) {
    drop_if(Flag::ServerDel, e)
}

/// A value overwritten in place (`lazyfree-lazy-server-del`).
pub fn server_del_value(v: Value) {
    if enabled(Flag::ServerDel) {
        drop_value(v);
    }
}

/// A key deleted by DEL (`lazyfree-lazy-user-del`).
pub fn user_del(e: Entry) {
    drop_if(Flag::UserDel, e)
}

/// Waits until the thread has freed everything handed to it so far (tests, DEBUG-style use).
pub fn wait_idle() {
    while pending() > 0 {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::set::{Set, SetLimits};

    fn big_set(n: usize) -> Value {
        let mut s = Set::new_intset();
        for i in 0..n {
            s.add(format!("member:{i}").as_bytes(), SetLimits::default());
        }
        Value::Set(Box::new(s))
    }

    #[test]
    fn strings_and_small_values_are_freed_inline() {
        assert_eq!(free_effort(&Value::from_bytes(&[b'x'; 100_000])), 1);
        assert!(!drop_value(Value::from_bytes(b"v")));
        assert!(!drop_value(big_set(10)));
    }

    #[test]
    fn large_collections_go_to_the_thread_and_are_counted() {
        let before = freed();
        let v = big_set(1000);
        assert!(free_effort(&v) > THRESHOLD);
        assert!(drop_value(v));
        wait_idle();
        assert!(freed() > before);
    }

    #[test]
    fn flags_round_trip() {
        assert!(!enabled(Flag::UserFlush));
        set(Flag::UserFlush, true);
        assert!(enabled(Flag::UserFlush));
        set(Flag::UserFlush, false);
        assert!(!enabled(Flag::UserFlush));
    }
}
