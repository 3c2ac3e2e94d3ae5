//! Point-in-time snapshots in a forked child (BGSAVE, BGREWRITEAOF), as Redis takes them.
//!
//! ## How a snapshot is taken
//! [`spawn`] takes every shard lock (the dispatcher's global lock order, so it waits for the
//! commands running on other cores to finish and no command can start), calls `fork()`, and
//! the parent releases the locks at once. The fork point is therefore a moment between two
//! commands on every shard: no transaction or multi-key command is half-applied in the image.
//! The child, which has a copy-on-write view of the parent's memory as of that moment,
//! serialises the keyspace into a temporary file, `fsync`s it and (for BGSAVE) renames it over
//! `dbfilename`, then reports `ok <keys> <cow-bytes>` or `err <message>` on a pipe and leaves
//! with `_exit`. A thread of the parent blocks in `waitpid` for it and then runs the job's
//! completion (update the save state, or install the new AOF base).
//!
//! Memory: clients are only held while `fork()` copies the page tables (about 2 ms per GB of
//! RSS). Afterwards the parent and the child share every page; a page is copied only when the
//! parent writes to it while the child runs, so the overhead is the set of pages written during
//! the save (`rdb_last_cow_size` / `aof_last_cow_size`: the child's `Private_Dirty`, read from
//! `/proc/self/smaps_rollup` just before it exits), not a second copy of the dataset.
//!
//! ## What the child may touch (the SAFETY argument for `fork` in a threaded process)
//! After `fork()` only the calling thread exists in the child. Any lock another thread held at
//! that moment stays locked forever in the child, and the tokio runtime's worker threads, timers
//! and I/O driver are gone. So the child:
//! - reads the shards only through the guards the forking thread itself holds (copied into the
//!   child's memory with the rest of the stack), never takes a shard lock;
//! - takes no other lock of ours: not the logger's, not the AOF writer's, not the config's
//!   `RwLock`, not the child-state here. Everything it needs (paths, `rdbcompression`,
//!   `rdbchecksum`, the clock reading, the key delay, the parent's pid) is read *before* the
//!   fork and passed in by value;
//! - allocates with glibc's malloc, which is safe in the child of a multi-threaded process
//!   (glibc's `fork` takes and re-initialises malloc's arena locks around the fork); the
//!   counting allocator wrapper (`alloc.rs`) only touches atomics and `const` thread-locals;
//! - does file I/O with plain system calls (`std::fs::File`, no stdio locks), never writes to
//!   stdout/stderr, never logs: errors go back to the parent through the pipe;
//! - never returns into the caller's code: it ends with `libc::_exit`, so no destructor runs
//!   (dropping the copied guards would write to the copied mutexes, harmlessly, but tokio's
//!   destructors would try to talk to threads that do not exist). A panic is caught and turned
//!   into an error report (the panic hook is silenced first: the default hook locks stderr);
//! - resets SIGTERM/SIGINT to their default action (the parent's tokio handlers only write to a
//!   pipe that nobody reads in the child), and checks every 1024 keys whether its parent died
//!   (then it stops: a snapshot nobody will install is useless).
//!
//! Only one child runs at a time ([`claim`]), as in Redis.

use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, AtomicU8, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::rdb;
use crate::db::{Keyspace, Locks};
use crate::server::Server;

/// Which job a child runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Rdb = 1,
    Aof = 2,
}

/// The running child's job (0: none) and pid (0: none or not forked yet).
static ACTIVE: AtomicU8 = AtomicU8::new(0);
static PID: AtomicI32 = AtomicI32::new(0);

/// The job of the running child, if any.
pub fn active() -> Option<Kind> {
    match ACTIVE.load(Ordering::Acquire) {
        1 => Some(Kind::Rdb),
        2 => Some(Kind::Aof),
        _ => None,
    }
}

/// Reserves the single child slot for `kind`; `false` when a child is already running (or
/// being started). The slot is released when the child has been reaped and its job finished,
/// or by [`release`] when starting it failed.
pub fn claim(kind: Kind) -> bool {
    ACTIVE.compare_exchange(0, kind as u8, Ordering::AcqRel, Ordering::Acquire).is_ok()
}

/// Gives the slot back after a failed start.
pub fn release() {
    PID.store(0, Ordering::Release);
    ACTIVE.store(0, Ordering::Release);
}

/// Test hook: `REDSTART_DEBUG_KEY_SAVE_DELAY_US=<n>` makes a forked child sleep `n` µs after
/// each key (Redis's `rdb-key-save-delay`, which redstart does not expose as a directive), so
/// tests can observe a save in progress.
fn key_delay_us() -> u64 {
    static D: OnceLock<u64> = OnceLock::new();
    *D.get_or_init(|| std::env::var("REDSTART_DEBUG_KEY_SAVE_DELAY_US").ok().and_then(|v| v.parse().ok()).unwrap_or(0))
}

/// What to write: an RDB image of the whole keyspace.
#[derive(Clone, Debug)]
pub struct Image {
    /// Written first, then `fsync`ed.
    pub tmp: PathBuf,
    /// Renamed over this path by the writer (BGSAVE, SAVE); `None`: the parent installs it.
    pub rename_to: Option<PathBuf>,
    pub compress: bool,
    pub checksum: bool,
    /// Add the `aof-base` aux field (an AOF base file).
    pub aof_base: bool,
}

/// What a successful child reports.
#[derive(Clone, Copy, Debug, Default)]
pub struct Report {
    pub keys: u64,
    /// Memory the child's pages stopped sharing with the parent (its `Private_Dirty`), bytes.
    pub cow_bytes: u64,
}

/// Serialises every database from the shards in `locks` (which must hold all of them) into
/// `img.tmp`, `fsync`s it and renames it when asked. Returns the number of keys written.
/// Used by the forked child and, in the server process itself, by `SAVE`. Takes no lock and
/// does not log (see the module comment).
pub fn write_image(
    locks: &mut Locks,
    ks: &Keyspace,
    img: &Image,
    now: u64,
    delay_us: u64,
    parent: Option<i32>,
) -> Result<u64, String> {
    let r = write_tmp(locks, ks, img, now, delay_us, parent);
    let r = r.and_then(|n| match &img.rename_to {
        Some(to) => std::fs::rename(&img.tmp, to)
            .map(|_| n)
            .map_err(|e| format!("Error moving temp DB file {} on the final destination: {e}", img.tmp.display())),
        None => Ok(n),
    });
    if r.is_err() {
        let _ = std::fs::remove_file(&img.tmp);
    }
    r
}

fn write_tmp(
    locks: &mut Locks,
    ks: &Keyspace,
    img: &Image,
    now: u64,
    delay_us: u64,
    parent: Option<i32>,
) -> Result<u64, String> {
    debug_assert!(locks.holds_all());
    let mut file = std::fs::File::create(&img.tmp)
        .map_err(|e| format!("Failed opening the temp RDB file {} for saving: {e}", img.tmp.display()))?;
    let werr = |e: std::io::Error| format!("Write error saving DB on disk: {e}");
    let opts = rdb::EncodeOpts { compress: img.compress };
    let mut crc = 0u64;
    let mut buf = Vec::with_capacity(1 << 17);
    let mut flush = |buf: &mut Vec<u8>, file: &mut std::fs::File| -> Result<(), String> {
        if img.checksum {
            crc = rdb::crc64(crc, buf);
        }
        file.write_all(buf).map_err(werr)?;
        buf.clear();
        Ok(())
    };
    rdb::put_header(&mut buf, now, 0, img.aof_base);
    let mut saved = 0u64;
    for db in 0..ks.databases() {
        let (mut keys, mut volatile) = (0, 0);
        for sid in 0..ks.shard_count() {
            let s = locks.shard(sid);
            keys += s.dbs[db].len();
            volatile += s.volatile(db);
        }
        if keys == 0 {
            continue;
        }
        rdb::put_select_db(&mut buf, db, keys, volatile);
        for sid in 0..ks.shard_count() {
            for e in locks.shard(sid).dbs[db].iter() {
                if e.is_expired(now) {
                    continue;
                }
                rdb::put_entry(&mut buf, e.key, e.value, e.expire_at, opts);
                saved += 1;
                if buf.len() >= 1 << 16 {
                    flush(&mut buf, &mut file)?;
                }
                if delay_us > 0 {
                    std::thread::sleep(Duration::from_micros(delay_us));
                }
                if let Some(ppid) = parent {
                    // SAFETY: getppid has no preconditions and cannot fail.
                    if (delay_us > 0 || saved.is_multiple_of(1024)) && unsafe { libc::getppid() } != ppid {
                        return Err("the parent process exited".into());
                    }
                }
            }
        }
    }
    flush(&mut buf, &mut file)?;
    // The footer's CRC covers the EOF byte: put_footer folds it in, so write it unhashed.
    rdb::put_footer(&mut buf, crc, img.checksum);
    file.write_all(&buf).map_err(werr)?;
    file.sync_all().map_err(werr)?;
    Ok(saved)
}

/// The child's `Private_Dirty` in bytes (0 when /proc is unavailable).
fn own_private_dirty() -> u64 {
    std::fs::read_to_string("/proc/self/smaps_rollup").ok().as_deref().and_then(private_dirty).unwrap_or(0)
}

/// The child's whole life. Never returns.
///
/// # Safety
/// Must be called only in a freshly forked child, by the thread that forked, with `locks`
/// being guards that thread held at the fork (see the module comment for what it may touch).
unsafe fn child_main(locks: &mut Locks, ks: &Keyspace, img: &Image, now: u64, delay: u64, ppid: i32, wfd: RawFd) -> ! {
    // SAFETY: resetting a signal disposition is async-signal-safe and touches no lock.
    unsafe {
        libc::signal(libc::SIGTERM, libc::SIG_DFL);
        libc::signal(libc::SIGINT, libc::SIG_DFL);
    }
    // The default hook would lock stderr, which another thread may have held at the fork.
    std::panic::set_hook(Box::new(|_| {}));
    let r =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| write_image(locks, ks, img, now, delay, Some(ppid))));
    let (msg, code) = match r {
        Ok(Ok(keys)) => (format!("ok {keys} {}", own_private_dirty()), 0),
        Ok(Err(e)) => (format!("err {e}"), 1),
        Err(_) => ("err the snapshot child panicked".to_string(), 1),
    };
    // SAFETY: `wfd` is the pipe's write end, open in this process; the message is far below
    // PIPE_BUF-sized limits of the pipe's buffer, so the write cannot block on a reader.
    // `_exit` ends the process without running destructors or atexit handlers.
    unsafe {
        libc::write(wfd, msg.as_ptr().cast(), msg.len());
        libc::_exit(code)
    }
}

/// Forks a child writing `img` as of this instant (see the module comment). The caller must
/// have [`claim`]ed the slot and hold no shard lock (every shard is locked here). `at_fork` runs with every shard
/// locked just before the fork (BGREWRITEAOF switches its incremental file there). `done` runs
/// on a thread of the parent once the child has exited, with its report and the time it took;
/// the slot is released after it. On a failed start the slot is released and `Err` returned.
pub fn spawn(
    server: &Server,
    img: Image,
    at_fork: impl FnOnce(),
    done: impl FnOnce(Result<Report, String>, Duration) + Send + 'static,
) -> Result<(), String> {
    let ks = &server.keyspace;
    let delay = key_delay_us();
    // SAFETY: getpid has no preconditions.
    let ppid = unsafe { libc::getpid() };
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` is a valid array of two descriptors for pipe2 to fill.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        release();
        return Err(format!("Can't create the pipe to the snapshot child: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
    let (rd, wr) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let start = Instant::now();
    let mut locks = ks.lock_all();
    // Clocks and config were read by the caller; `now` defines which keys count as expired.
    let now = crate::clock::now_ms();
    at_fork();
    // SAFETY: see the module comment. The child runs only `child_main`, which reads the
    // shards through `locks` (held by this thread, hence consistent in the child), takes no
    // other lock, and ends with `_exit`.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: we are the child, on the forking thread, and `locks` holds every shard.
        unsafe { child_main(&mut locks, ks, &img, now, delay, ppid, std::os::fd::AsRawFd::as_raw_fd(&wr)) }
    }
    let forked = pid > 0;
    // The parent lets clients in again at once.
    drop(locks);
    drop(wr);
    if !forked {
        release();
        return Err(format!("Can't fork: {}", std::io::Error::last_os_error()));
    }
    PID.store(pid, Ordering::Release);
    let fork_ms = start.elapsed().as_secs_f64() * 1000.0;
    crate::log::notice(&format!("Background child started by pid {pid} (fork took {fork_ms:.3} ms)"));
    let tmp = img.tmp.clone();
    let reaper = std::thread::Builder::new().name("fork-reaper".into()).spawn(move || {
        let result = wait_child(pid, rd);
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        done(result, start.elapsed());
        release();
    });
    if let Err(e) = reaper {
        // Without a reaper nobody would finish the job: stop the child now.
        // SAFETY: `pid` is our child, not reaped yet.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        }
        let _ = std::fs::remove_file(&img.tmp);
        release();
        return Err(format!("Can't start the thread waiting for the child: {e}"));
    }
    Ok(())
}

/// Blocks until `pid` exits and reads its report.
fn wait_child(pid: i32, rd: OwnedFd) -> Result<Report, String> {
    let mut status = 0;
    loop {
        // SAFETY: `pid` is our child and `status` a valid out-pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            break;
        }
        let err = std::io::Error::last_os_error();
        if r < 0 && err.kind() != std::io::ErrorKind::Interrupted {
            return Err(format!("waitpid failed: {err}"));
        }
    }
    let mut text = String::new();
    let _ = std::fs::File::from(rd).read_to_string(&mut text);
    let signal = libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status));
    parse_report(&text, signal, libc::WEXITSTATUS(status))
}

/// The child's outcome from its pipe message and how it ended.
fn parse_report(text: &str, signal: Option<i32>, code: i32) -> Result<Report, String> {
    if let Some(sig) = signal {
        return Err(format!("Background child terminated by signal {sig}"));
    }
    if let Some(rest) = text.strip_prefix("ok ").filter(|_| code == 0) {
        let mut it = rest.split_ascii_whitespace().map(|x| x.parse::<u64>().unwrap_or(0));
        return Ok(Report { keys: it.next().unwrap_or(0), cow_bytes: it.next().unwrap_or(0) });
    }
    match text.strip_prefix("err ") {
        Some(e) => Err(e.to_string()),
        None => Err(format!("Background child exited with code {code}")),
    }
}

/// `Private_Dirty` in bytes from the text of an `smaps_rollup` file.
fn private_dirty(smaps: &str) -> Option<u64> {
    smaps
        .lines()
        .find_map(|l| l.strip_prefix("Private_Dirty:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
}

/// Stops a running child (at shutdown, as Redis does before its final save) and waits, up to
/// a few seconds, for its job to be finished as failed (its temporary file removed).
pub fn kill_child() {
    let pid = PID.load(Ordering::Acquire);
    if pid <= 0 || active().is_none() {
        return;
    }
    crate::log::notice(&format!("There is a child (pid {pid}) saving: killing it"));
    // SAFETY: `pid` is our child: it is not reaped before the slot is released, so the pid
    // cannot have been reused by another process.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let start = Instant::now();
    while active().is_some() && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports() {
        let r = parse_report("ok 12 4096", None, 0).unwrap();
        assert_eq!((r.keys, r.cow_bytes), (12, 4096));
        assert_eq!(parse_report("err disk full", None, 1).unwrap_err(), "disk full");
        assert_eq!(parse_report("", Some(9), 0).unwrap_err(), "Background child terminated by signal 9");
        // Killed after it reported success: still a failure (the rename may not have happened).
        assert!(parse_report("ok 1 0", Some(9), 0).is_err());
        assert_eq!(parse_report("", None, 3).unwrap_err(), "Background child exited with code 3");
        assert!(parse_report("ok 1 0", None, 1).is_err());
    }

    #[test]
    fn smaps_private_dirty() {
        let text =
            "55d0-7ffc ---p 00000000 00:00 0 [rollup]\nRss:  2048 kB\nPrivate_Clean:  4 kB\nPrivate_Dirty:   312 kB\n";
        assert_eq!(private_dirty(text), Some(312 * 1024));
        assert_eq!(private_dirty("Rss: 1 kB\n"), None);
    }
}
