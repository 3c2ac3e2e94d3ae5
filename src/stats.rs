//! Per-thread statistics counters, summed when read.
//!
//! Counters bumped on every command (calls and time per command, keyspace hits and misses)
//! would make every core write the same cache lines if they were plain global atomics, so each
//! thread that runs commands gets its own block of counters, and INFO sums the blocks of all
//! threads. A counter has one writer, its thread, so an increment is a relaxed load and store
//! (no locked read-modify-write); CONFIG RESETSTAT does not write the counters but records
//! their values as a baseline that readers subtract. Blocks are registered once per thread and
//! live for the process (only the fixed I/O worker threads run commands).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use parking_lot::Mutex;

/// Counters kept per command-table row.
#[derive(Clone, Copy, Debug)]
#[repr(usize)]
pub enum Cmd {
    Calls = 0,
    Usec = 1,
    Rejected = 2,
    Failed = 3,
}
const PER_CMD: usize = 4;

/// Global counters.
#[derive(Clone, Copy, Debug)]
#[repr(usize)]
pub enum Global {
    KeyspaceHits = 0,
    KeyspaceMisses = 1,
    NetInputBytes = 2,
    NetOutputBytes = 3,
    /// Successful write commands, never reset (`persist::Dirty` subtracts what saves covered).
    Writes = 4,
}
const GLOBALS: usize = 5;

struct Block {
    globals: [AtomicU64; GLOBALS],
    /// Per-command counters, allocated at the thread's first command (a thread may count bytes
    /// before the command table exists).
    cmds: OnceLock<Box<[AtomicU64]>>,
    /// The values at the last reset, written only by [`reset`] (under `BLOCKS`' lock).
    globals_base: [AtomicU64; GLOBALS],
    cmds_base: OnceLock<Box<[AtomicU64]>>,
}

/// Adds `n` to a counter only the calling thread writes.
#[inline(always)]
fn bump(c: &AtomicU64, n: u64) {
    c.store(c.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
}

/// A counter's value since the last reset.
#[inline]
fn since_reset(c: &AtomicU64, base: Option<&AtomicU64>) -> u64 {
    c.load(Ordering::Relaxed).wrapping_sub(base.map_or(0, |b| b.load(Ordering::Relaxed)))
}

static COMMANDS: OnceLock<usize> = OnceLock::new();
static BLOCKS: Mutex<Vec<&'static Block>> = parking_lot::const_mutex(Vec::new());

/// Sets the number of command-table rows (once, before any counting).
pub fn init(commands: usize) {
    COMMANDS.get_or_init(|| commands);
}

fn new_block() -> &'static Block {
    let block: &'static Block = Box::leak(Box::new(Block {
        globals: Default::default(),
        cmds: OnceLock::new(),
        globals_base: Default::default(),
        cmds_base: OnceLock::new(),
    }));
    BLOCKS.lock().push(block);
    block
}

impl Block {
    /// The per-command counters, sized by [`init`] (which the command table calls before any
    /// command runs).
    fn cmds(&self) -> &[AtomicU64] {
        self.cmds.get_or_init(|| {
            let n = COMMANDS.get().copied().unwrap_or(0) * PER_CMD;
            (0..n).map(|_| AtomicU64::new(0)).collect()
        })
    }

    /// The per-command counters if this thread counted any.
    fn cmds_if_any(&self) -> &[AtomicU64] {
        self.cmds.get().map_or(&[], |c| c)
    }

    /// Per-command counter `i` since the last reset.
    fn cmd(&self, i: usize) -> u64 {
        self.cmds_if_any().get(i).map_or(0, |c| since_reset(c, self.cmds_base.get().and_then(|b| b.get(i))))
    }

    fn global(&self, which: Global) -> u64 {
        since_reset(&self.globals[which as usize], Some(&self.globals_base[which as usize]))
    }
}

thread_local! {
    static LOCAL: &'static Block = new_block();
}

/// Adds `n` to command `index`'s counter `which` for the calling thread.
#[inline]
pub fn add_cmd(index: usize, which: Cmd, n: u64) {
    LOCAL.with(|b| {
        if let Some(c) = b.cmds().get(index * PER_CMD + which as usize) {
            bump(c, n);
        }
    });
}

/// Counts one call of command `index` that took `usec` microseconds.
#[inline]
pub fn add_call(index: usize, usec: u64) {
    LOCAL.with(|b| {
        if let Some(c) = b.cmds().get(index * PER_CMD..index * PER_CMD + 2) {
            bump(&c[Cmd::Calls as usize], 1);
            bump(&c[Cmd::Usec as usize], usec);
        }
    });
}

/// Adds `n` to a global counter for the calling thread.
#[inline]
pub fn add(which: Global, n: u64) {
    LOCAL.with(|b| bump(&b.globals[which as usize], n));
}

/// Sum over all threads of command `index`'s counter `which`.
pub fn cmd_total(index: usize, which: Cmd) -> u64 {
    let i = index * PER_CMD + which as usize;
    BLOCKS.lock().iter().map(|b| b.cmd(i)).sum()
}

/// Sum over all threads of every command's `which` counter.
pub fn all_cmds_total(which: Cmd) -> u64 {
    let rows = COMMANDS.get().copied().unwrap_or(0);
    BLOCKS.lock().iter().flat_map(|b| (0..rows).map(move |r| b.cmd(r * PER_CMD + which as usize))).sum()
}

/// Sum over all threads of a global counter.
pub fn total(which: Global) -> u64 {
    BLOCKS.lock().iter().map(|b| b.global(which)).sum()
}

/// Zeroes every counter, error counts included (CONFIG RESETSTAT): the current values become
/// the baselines readers subtract. Concurrent increments may survive, as in Redis where
/// commands run right after the reset count again.
pub fn reset() {
    for b in BLOCKS.lock().iter() {
        for (i, (c, base)) in b.globals.iter().zip(&b.globals_base).enumerate() {
            if i != Global::Writes as usize {
                base.store(c.load(Ordering::Relaxed), Ordering::Relaxed);
            }
        }
        let cmds = b.cmds_if_any();
        let bases = b.cmds_base.get_or_init(|| (0..cmds.len()).map(|_| AtomicU64::new(0)).collect());
        for (c, base) in cmds.iter().zip(bases.iter()) {
            base.store(c.load(Ordering::Relaxed), Ordering::Relaxed);
        }
    }
    ERRORS.lock().clear();
    TOTAL_ERRORS.store(0, Ordering::Relaxed);
}

/// Error replies sent, by error code (`ERR`, `WRONGTYPE`, ...), for INFO errorstats.
static ERRORS: Mutex<BTreeMap<String, u64>> = parking_lot::const_mutex(BTreeMap::new());
static TOTAL_ERRORS: AtomicU64 = AtomicU64::new(0);
/// Redis stops tracking new error codes past this many distinct ones.
const MAX_ERROR_CODES: usize = 128;

/// Counts an error reply; `msg` is the reply after its `-`. Called by the connection for each
/// top-level error reply.
pub fn record_error(msg: &[u8]) {
    TOTAL_ERRORS.fetch_add(1, Ordering::Relaxed);
    let end = msg.iter().position(|&b| b == b' ' || b == b'\r').unwrap_or(msg.len());
    let code = &msg[..end];
    let Ok(code) = std::str::from_utf8(code) else { return };
    let mut errors = ERRORS.lock();
    if let Some(n) = errors.get_mut(code) {
        *n += 1;
    } else if errors.len() < MAX_ERROR_CODES {
        errors.insert(code.to_string(), 1);
    }
}

/// INFO `total_error_replies`.
pub fn total_errors() -> u64 {
    TOTAL_ERRORS.load(Ordering::Relaxed)
}

/// INFO errorstats: (error code, count) in code order.
pub fn error_counts() -> Vec<(String, u64)> {
    ERRORS.lock().iter().map(|(k, v)| (k.clone(), *v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`reset`] is process-wide: the tests that read totals take turns.
    static TURNS: Mutex<()> = parking_lot::const_mutex(());

    #[test]
    fn counts_across_threads() {
        let _turn = TURNS.lock();
        init(8);
        let before = cmd_total(3, Cmd::Calls);
        let hits = total(Global::KeyspaceHits);
        let threads: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| {
                    for _ in 0..1000 {
                        add_cmd(3, Cmd::Calls, 1);
                        add(Global::KeyspaceHits, 1);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(cmd_total(3, Cmd::Calls) >= before + 4000);
        assert!(total(Global::KeyspaceHits) >= hits + 4000);
    }

    #[test]
    fn reset_starts_every_thread_from_zero() {
        let _turn = TURNS.lock();
        init(8);
        let count = |n| {
            std::thread::spawn(move || {
                for _ in 0..n {
                    add_call(5, 2);
                    add(Global::NetInputBytes, 3);
                }
            })
            .join()
            .unwrap()
        };
        count(100);
        assert!(cmd_total(5, Cmd::Calls) >= 100 && cmd_total(5, Cmd::Usec) >= 200);
        reset();
        // Other tests of this binary may count meanwhile, but not this command row.
        assert_eq!((cmd_total(5, Cmd::Calls), cmd_total(5, Cmd::Usec)), (0, 0));
        count(7);
        add_call(5, 1);
        assert_eq!((cmd_total(5, Cmd::Calls), cmd_total(5, Cmd::Usec)), (8, 15));
        assert!(total(Global::NetInputBytes) >= 21);
    }

    #[test]
    fn error_codes_are_counted() {
        record_error(b"TESTCODE something");
        record_error(b"TESTCODE else");
        assert_eq!(error_counts().iter().find(|(c, _)| c == "TESTCODE").map(|(_, n)| *n), Some(2));
    }
}
