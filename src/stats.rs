//! Per-thread statistics counters, summed when read.
//!
//! Counters bumped on every command (calls and time per command, keyspace hits and misses)
//! would make every core write the same cache lines if they were plain global atomics, so each
//! thread that runs commands gets its own block of counters: it writes only its own (relaxed,
//! uncontended atomic adds), and INFO sums the blocks of all threads. Blocks are registered once
//! per thread and live for the process (only the fixed I/O worker threads run commands).

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
    cmds: Box<[AtomicU64]>,
}

static COMMANDS: OnceLock<usize> = OnceLock::new();
static BLOCKS: Mutex<Vec<&'static Block>> = parking_lot::const_mutex(Vec::new());

/// Sets the number of command-table rows (once, before any counting).
pub fn init(commands: usize) {
    COMMANDS.get_or_init(|| commands);
}

fn new_block() -> &'static Block {
    // The command table sets the number of rows; a thread may count bytes before any command
    // ran (its first read), so make sure the table is built before sizing the block.
    if COMMANDS.get().is_none() {
        crate::cmd::server::init_command_stats();
    }
    let n = *COMMANDS.get().unwrap_or(&0) * PER_CMD;
    let block: &'static Block =
        Box::leak(Box::new(Block { globals: Default::default(), cmds: (0..n).map(|_| AtomicU64::new(0)).collect() }));
    BLOCKS.lock().push(block);
    block
}

thread_local! {
    static LOCAL: &'static Block = new_block();
}

/// Adds `n` to command `index`'s counter `which` for the calling thread.
#[inline]
pub fn add_cmd(index: usize, which: Cmd, n: u64) {
    LOCAL.with(|b| {
        if let Some(c) = b.cmds.get(index * PER_CMD + which as usize) {
            c.fetch_add(n, Ordering::Relaxed);
        }
    });
}

/// Adds `n` to a global counter for the calling thread.
#[inline]
pub fn add(which: Global, n: u64) {
    LOCAL.with(|b| b.globals[which as usize].fetch_add(n, Ordering::Relaxed));
}

/// Sum over all threads of command `index`'s counter `which`.
pub fn cmd_total(index: usize, which: Cmd) -> u64 {
    let i = index * PER_CMD + which as usize;
    BLOCKS.lock().iter().map(|b| b.cmds.get(i).map_or(0, |c| c.load(Ordering::Relaxed))).sum()
}

/// Sum over all threads of every command's `which` counter.
pub fn all_cmds_total(which: Cmd) -> u64 {
    BLOCKS
        .lock()
        .iter()
        .flat_map(|b| b.cmds.iter().skip(which as usize).step_by(PER_CMD))
        .map(|c| c.load(Ordering::Relaxed))
        .sum()
}

/// Sum over all threads of a global counter.
pub fn total(which: Global) -> u64 {
    BLOCKS.lock().iter().map(|b| b.globals[which as usize].load(Ordering::Relaxed)).sum()
}

/// Zeroes every counter (CONFIG RESETSTAT). Concurrent increments may survive, as in Redis
/// where commands run right after the reset count again.
pub fn reset() {
    for b in BLOCKS.lock().iter() {
        let resettable = b.globals.iter().enumerate().filter(|&(i, _)| i != Global::Writes as usize).map(|(_, c)| c);
        for c in resettable.chain(b.cmds.iter()) {
            c.store(0, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_across_threads() {
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
}
