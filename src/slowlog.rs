//! The slow log (SLOWLOG): commands that ran for at least `slowlog-log-slower-than`
//! microseconds (a negative value turns it off, 0 logs every command), newest first, at most
//! `slowlog-max-len` of them, each entry as Redis keeps it: an id that only grows (SLOWLOG RESET
//! does not restart it), the Unix time in seconds, the duration, the arguments (at most 32, the
//! last of them `... (N more arguments)` when there were more; each string cut at 128 bytes
//! with `... (N more bytes)`; arguments a command redacted shown as `(redacted)`), and the
//! client's address and name.
//!
//! The command path asks [`wants`] with the command's duration (two relaxed loads) and builds
//! an entry only when it is slow; the log itself is behind one lock, taken only then and by
//! SLOWLOG.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

use parking_lot::Mutex;

use crate::config::Config;

/// Redis's `SLOWLOG_ENTRY_MAX_ARGC` and `SLOWLOG_ENTRY_MAX_STRING`.
const MAX_ARGC: usize = 32;
const MAX_STRING: usize = 128;

static SLOWER_THAN: AtomicI64 = AtomicI64::new(10_000);
static MAX_LEN: AtomicUsize = AtomicUsize::new(128);

/// One logged command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub id: u64,
    /// Unix time in seconds when it was logged.
    pub time: u64,
    /// Microseconds the command ran.
    pub duration: u64,
    pub args: Vec<Vec<u8>>,
    /// `ip:port` of the client (or the Unix socket's path and `:0`).
    pub peer: String,
    pub name: Vec<u8>,
}

struct Log {
    entries: VecDeque<Entry>,
    next_id: u64,
}

static LOG: Mutex<Log> = parking_lot::const_mutex(Log { entries: VecDeque::new(), next_id: 0 });

/// Follows `slowlog-log-slower-than` and `slowlog-max-len` (a config subscriber).
pub fn configure(c: &Config) {
    let num = |name: &str, default: i64| c.values.get(name).and_then(|v| v.parse().ok()).unwrap_or(default);
    SLOWER_THAN.store(num("slowlog-log-slower-than", 10_000), Ordering::Relaxed);
    MAX_LEN.store(num("slowlog-max-len", 128).max(0) as usize, Ordering::Relaxed);
}

/// Whether a command that ran `duration` microseconds is logged.
#[inline]
pub fn wants(duration: u64) -> bool {
    let t = SLOWER_THAN.load(Ordering::Relaxed);
    t >= 0 && duration >= t as u64
}

/// Logs a command (see the module doc for the form of its arguments); `redacted(i)` tells
/// whether argument `i` is to be hidden. The oldest entries past `slowlog-max-len` go, as in
/// Redis only here (lowering the limit takes effect at the next entry).
pub fn push(duration: u64, time: u64, args: &[&[u8]], redacted: impl Fn(usize) -> bool, peer: String, name: Vec<u8>) {
    let argc = args.len().min(MAX_ARGC);
    let mut kept = Vec::with_capacity(argc);
    for (i, a) in args.iter().take(argc).enumerate() {
        if argc != args.len() && i == argc - 1 {
            kept.push(format!("... ({} more arguments)", args.len() - argc + 1).into_bytes());
        } else if redacted(i) {
            kept.push(b"(redacted)".to_vec());
        } else if a.len() > MAX_STRING {
            let mut cut = a[..MAX_STRING].to_vec();
            cut.extend_from_slice(format!("... ({} more bytes)", a.len() - MAX_STRING).as_bytes());
            kept.push(cut);
        } else {
            kept.push(a.to_vec());
        }
    }
    let mut log = LOG.lock();
    let id = log.next_id;
    log.next_id += 1;
    log.entries.push_front(Entry { id, time, duration, args: kept, peer, name });
    let max = MAX_LEN.load(Ordering::Relaxed);
    log.entries.truncate(max);
}

/// The newest `count` entries (all with `None`), newest first.
pub fn newest(count: Option<usize>) -> Vec<Entry> {
    let log = LOG.lock();
    log.entries.iter().take(count.unwrap_or(usize::MAX)).cloned().collect()
}

pub fn len() -> usize {
    LOG.lock().entries.len()
}

/// Empties the log (ids go on from where they were).
pub fn reset() {
    LOG.lock().entries.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_cut_as_redis_cuts_them() {
        let long = vec![b'a'; 200];
        let many: Vec<Vec<u8>> = (0..40).map(|i| i.to_string().into_bytes()).collect();
        let mut args: Vec<&[u8]> = vec![b"del", &long];
        args.extend(many.iter().map(|a| a.as_slice()));
        let before = newest(None).first().map_or(0, |e| e.id + 1);
        push(12, 1, &args, |i| i == 2, "127.0.0.1:1".into(), b"n".to_vec());
        let e = newest(Some(1)).remove(0);
        assert!(e.id >= before);
        assert_eq!(e.args.len(), 32);
        assert_eq!(e.args[1], [&long[..128], b"... (72 more bytes)"].concat());
        assert_eq!(e.args[2], b"(redacted)");
        assert_eq!(e.args[31], b"... (11 more arguments)");
        assert_eq!((e.duration, e.time, e.peer.as_str(), &e.name[..]), (12, 1, "127.0.0.1:1", &b"n"[..]));
    }
}
