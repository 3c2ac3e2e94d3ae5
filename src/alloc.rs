//! Memory accounting: the global allocator wrapper behind INFO `used_memory` and eviction.
//!
//! [`Counting`] forwards every call to the system allocator (glibc malloc) and counts the bytes
//! each block really occupies in malloc's heap: glibc rounds a request up to a 16-byte multiple
//! with an 8-byte header, 32 bytes at least ([`chunk_size`]). Counting chunk sizes rather than
//! requested sizes makes `used_memory` close to what malloc holds, as Redis's `zmalloc` does with
//! `malloc_usable_size`.
//!
//! ## Cost: per-thread counters
//! One shared atomic updated on every allocation would bounce its cache line between cores on
//! every request. Each thread instead keeps a signed delta in a thread-local cell and adds it to
//! the global atomic only when it exceeds [`FLUSH_BYTES`] in either direction; allocation churn
//! that frees what it allocated never touches shared memory.
//!
//! ## Accuracy
//! - The global figure lags the truth by less than `FLUSH_BYTES` (32 KiB) per live thread:
//!   with redstart's one I/O thread per core plus a few background threads, under 0.5 MiB on a
//!   16-core machine. [`used_memory`] adds the calling thread's own pending delta, so the thread
//!   that evicts sees its own frees at once.
//! - A thread that exits with a pending delta loses it (a thread-local with a destructor is not
//!   safe to use inside an allocator). The I/O workers live as long as the process; the
//!   background expiry job calls [`flush`] after each pass.
//! - Allocations made by C code inside glibc (its own `malloc` calls, e.g. for thread stacks'
//!   TLS) and memory mapped outside malloc are not counted; they appear in `used_memory_rss`.
//! - Counting starts when the process starts: binaries that do not install [`Counting`] (unit
//!   tests) report 0 and never evict.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// A thread's pending delta is published once it reaches this many bytes either way.
pub const FLUSH_BYTES: i64 = 32 * 1024;

static USED: AtomicI64 = AtomicI64::new(0);
static PEAK: AtomicU64 = AtomicU64::new(0);
/// Bytes allocated but not counted for eviction (free capacity of the keyspace tables' entry
/// vectors: see [`not_counted_for_evict`]).
static SLACK: AtomicI64 = AtomicI64::new(0);

thread_local! {
    // `const` initialisers and no destructor: no lazy registration, no allocation on access.
    static DELTA: Cell<i64> = const { Cell::new(0) };
    static SLACK_DELTA: Cell<i64> = const { Cell::new(0) };
}

/// The bytes glibc's malloc uses for a request of `size` bytes: 8-byte header, rounded up to 16,
/// at least 32. Requests aligned beyond 16 cost up to `align` more.
#[inline]
pub fn chunk_size(size: usize, align: usize) -> i64 {
    let c = ((size + 8 + 15) & !15).max(32);
    (if align > 16 { c + align } else { c }) as i64
}

#[inline]
fn add(bytes: i64) {
    let spilled = DELTA.try_with(|d| {
        let v = d.get() + bytes;
        if v.abs() >= FLUSH_BYTES {
            d.set(0);
            v
        } else {
            d.set(v);
            0
        }
    });
    let v = spilled.unwrap_or(bytes);
    if v != 0 {
        let now = USED.fetch_add(v, Ordering::Relaxed) + v;
        if v > 0 {
            PEAK.fetch_max(now.max(0) as u64, Ordering::Relaxed);
        }
    }
}

/// The counting allocator; `src/main.rs` installs it as the global allocator.
pub struct Counting;

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so it
// upholds GlobalAlloc's contract exactly as `System` does; the bookkeeping only touches a
// `const`-initialised thread-local `Cell<i64>` (no allocation, no destructor, no unwinding) and
// atomics.
unsafe impl GlobalAlloc for Counting {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged (see the impl's comment).
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            add(chunk_size(layout.size(), layout.align()));
        }
        p
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            add(chunk_size(layout.size(), layout.align()));
        }
        p
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged.
        unsafe { System.dealloc(ptr, layout) };
        add(-chunk_size(layout.size(), layout.align()));
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            add(chunk_size(new_size, layout.align()) - chunk_size(layout.size(), layout.align()));
        }
        p
    }
}

/// Bytes in use: the global counter plus this thread's pending delta.
pub fn used_memory() -> u64 {
    let mine = DELTA.try_with(|d| d.get()).unwrap_or(0);
    (USED.load(Ordering::Relaxed) + mine).max(0) as u64
}

/// The highest `used_memory` seen (as published by the global counter).
pub fn peak_memory() -> u64 {
    PEAK.load(Ordering::Relaxed).max(used_memory())
}

static STARTUP: AtomicU64 = AtomicU64::new(0);

/// RSS minus `used_memory` when the server became ready: the binary, the libraries, stacks.
static STARTUP_GAP: AtomicI64 = AtomicI64::new(0);

/// Records the memory in use once the server is ready (INFO `used_memory_startup`).
pub fn mark_startup() {
    STARTUP.store(used_memory(), Ordering::Relaxed);
    STARTUP_GAP.store(rss_bytes() as i64 - used_memory() as i64, Ordering::Relaxed);
}

/// Returns free heap memory to the operating system when the process holds clearly more than
/// it uses. glibc gives back only the top of each heap on its own; memory freed below live
/// allocations (a flushed database, a closed client's buffers, a table's old index) stays
/// resident until `malloc_trim`, which releases every free page of every arena: what jemalloc's
/// background purging does for Redis. Called from the server cron, at most every
/// `min_interval_ms`. It trims when the resident size exceeds `used_memory` by more than it
/// did at start-up plus 1 MiB and 1/64 of `used_memory` (so at most ~1.5% of the data stays
/// resident but free); what a trim could not return (free space inside partly used pages) is
/// remembered, so an untrimmable remainder does not trigger a trim every time. Returns whether
/// it trimmed.
pub fn release_free_memory(now_ms: u64, min_interval_ms: u64) -> bool {
    static LAST: AtomicU64 = AtomicU64::new(0);
    static FLOOR: AtomicI64 = AtomicI64::new(0);
    let last = LAST.load(Ordering::Relaxed);
    if now_ms.saturating_sub(last) < min_interval_ms {
        return false;
    }
    LAST.store(now_ms, Ordering::Relaxed);
    let extra = || rss_bytes() as i64 - used_memory() as i64 - STARTUP_GAP.load(Ordering::Relaxed);
    let before = extra();
    let floor = FLOOR.load(Ordering::Relaxed);
    if before < floor.max(0) + (1 << 20).max(used_memory() as i64 / 64) {
        // Below the floor (memory was reused or freed): lower it again.
        FLOOR.store(floor.min(before), Ordering::Relaxed);
        return false;
    }
    trim();
    FLOOR.store(extra(), Ordering::Relaxed);
    true
}

/// Releases all free memory the allocator can give back (`MEMORY PURGE`).
pub fn trim() {
    // SAFETY: `malloc_trim` is thread-safe (it takes each arena's lock in turn) and only
    // returns free pages to the kernel; it never touches memory that is still allocated.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// `used_memory` when the server became ready.
pub fn startup_memory() -> u64 {
    STARTUP.load(Ordering::Relaxed)
}

/// Publishes this thread's pending deltas (call before a short-lived thread ends).
pub fn flush() {
    let d = DELTA.try_with(|d| d.replace(0)).unwrap_or(0);
    if d != 0 {
        USED.fetch_add(d, Ordering::Relaxed);
    }
    let s = SLACK_DELTA.try_with(|d| d.replace(0)).unwrap_or(0);
    if s != 0 {
        SLACK.fetch_add(s, Ordering::Relaxed);
    }
}

/// Records that `bytes` of allocated memory became (positive) or stopped being (negative) free
/// capacity of a keyspace table. Same per-thread batching as the allocator counter.
#[inline]
pub fn slack_add(bytes: i64) {
    if bytes == 0 {
        return;
    }
    let spilled = SLACK_DELTA.try_with(|d| {
        let v = d.get() + bytes;
        if v.abs() >= FLUSH_BYTES {
            d.set(0);
            v
        } else {
            d.set(v);
            0
        }
    });
    let v = spilled.unwrap_or(bytes);
    if v != 0 {
        SLACK.fetch_add(v, Ordering::Relaxed);
    }
}

/// Allocated bytes that eviction does not count: unused capacity of the keyspace tables' entry
/// vectors. Deleting a key frees its slot in the vector, but the vector shrinks only when the
/// table is much emptier; without this correction eviction would see no progress for small
/// keys. New keys reuse that capacity before the vector grows again.
pub fn not_counted_for_evict() -> u64 {
    let mine = SLACK_DELTA.try_with(|d| d.get()).unwrap_or(0);
    (SLACK.load(Ordering::Relaxed) + mine).max(0) as u64
}

/// `used_memory` minus what eviction does not count: the figure compared with `maxmemory`.
pub fn used_for_evict() -> u64 {
    used_memory().saturating_sub(not_counted_for_evict())
}

/// Resident set size in bytes (`/proc/self/statm`, 4 KiB pages); 0 where unavailable.
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()))
        .map_or(0, |pages| pages * 4096)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_sizes_follow_glibc() {
        assert_eq!(chunk_size(0, 1), 32);
        assert_eq!(chunk_size(24, 8), 32);
        assert_eq!(chunk_size(25, 8), 48);
        assert_eq!(chunk_size(64, 8), 80);
        assert_eq!(chunk_size(100, 64), 112 + 64);
    }

    #[test]
    fn deltas_batch_per_thread() {
        // Unit tests do not install the allocator, so only explicit slack moves here.
        // Other test threads flush their own deltas concurrently: look at this thread's only.
        let mine = || SLACK_DELTA.with(|d| d.get());
        let before = mine();
        slack_add(100);
        assert_eq!(mine(), before + 100, "small deltas stay thread-local");
        slack_add(FLUSH_BYTES);
        assert_eq!(mine(), 0, "a large delta is published");
        slack_add(-100 - FLUSH_BYTES);
        flush();
        assert_eq!(mine(), 0);
    }
}
