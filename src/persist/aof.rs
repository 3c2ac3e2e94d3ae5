//! The append-only file: Redis 7's multi-part layout, deterministic propagation of write
//! commands, `appendfsync`, and loading at start-up.
//!
//! ## Layout (as Redis 7.0 writes it)
//! `<dir>/<appenddirname>/` holds a manifest `<appendfilename>.manifest` with one line per file,
//! `file <name> seq <n> type <b|h|i>` (base, history, incremental), a base file
//! `<appendfilename>.<seq>.base.rdb` (an RDB image; Redis also accepts `.base.aof`, plain
//! commands) and incremental files `<appendfilename>.<seq>.incr.aof` of RESP multibulk commands.
//! On a start with `appendonly yes` and no manifest, the directory is created with an empty base
//! (an RDB with the `aof-base` aux field) and `incr` file 1, and — as Redis 7.0 — `dump.rdb` is
//! *not* loaded.
//!
//! ## Propagation
//! `cmd::dispatch::run` is the one propagation point (read its module comment): after a write
//! command succeeded, with the command's shards still locked (so commands touching the same keys
//! reach the file in the order they ran), it passes what the command changed to [`feed`], which
//! appends it as one `write`. A command is logged as received after [`rewrite`] made relative
//! expiries absolute (`SET .. EX/PX/EXAT/PXAT` → `SET key value PXAT <ms>`, `SETEX`/`PSETEX` →
//! `SET .. PXAT`, `EXPIRE`/`PEXPIRE`/`EXPIREAT` → `PEXPIREAT` with its NX/XX/GT/LT, `RESTORE`
//! with a relative TTL → `ABSTTL`; `SET .. GET` loses its `GET`, `GETSET` becomes `SET`) — unless
//! its handler said otherwise with `Ctx::propagate` / `Ctx::propagate_nothing`, as Redis
//! rewrites them: `INCRBYFLOAT` → `SET key <result> KEEPTTL`, `HINCRBYFLOAT` → `HSET`, `XADD`
//! with a generated ID → that ID, approximate trimming (`~`) → exact trimming to where it ended
//! (XADD and XTRIM), `XREADGROUP` deliveries → `XCLAIM .. TIME RETRYCOUNT FORCE JUSTID LASTID`
//! (NOACK: `XGROUP CREATECONSUMER` + `XGROUP SETID .. ENTRIESREAD`), `XCLAIM`/`XAUTOCLAIM` →
//! XCLAIM's full form, `SPOP` → `SREM` (in batches of 1024 members, as 7.2) or `DEL`, served
//! blocking commands → their non-blocking form (`BLPOP` → `LPOP key`, `BLMOVE` → `LMOVE`,
//! `BLMPOP`/`LMPOP` → `LPOP key <n>`, `BZPOP*`/`BZMPOP`/`ZMPOP` → `ZPOP*`), `GETDEL` → `DEL`,
//! `GETEX` → `PEXPIREAT`/`PERSIST`/`DEL`, `EXPIRE` in the past → `DEL`. Writes that changed
//! nothing log nothing (`DEL`/`UNLINK` of missing keys, `SREM`/`HDEL`/`ZREM` of absent members,
//! `SADD` of present ones, `EXPIRE` on a missing key or refused by NX/XX/GT/LT, `PERSIST`
//! without TTL, failed `SET NX/XX`, `SETNX`, `MSETNX`, `HSETNX`, pops of missing keys, `XACK`/
//! `XDEL`/`XTRIM` of nothing, ...). Several commands from one command are wrapped in
//! `MULTI`/`EXEC`; a transaction's commands are written as one `MULTI` … `EXEC` when its EXEC
//! returns (one command alone, nothing when nothing was written: as Redis). A `SELECT <db>` goes
//! before a command whose database differs from the last logged one (before `MULTI` for the
//! transaction's first command).
//!
//! Keys deleted because they expired are logged as `DEL key`: by active expiry and eviction
//! ([`log_del`], under the key's shard lock), and by lazy expiry before the command that found
//! them (`Db::find`, SCAN and RANDOMKEY note each with [`lazy_expired`]; the dispatcher logs
//! the `DEL`s before the command).
//!
//! Each propagated batch is appended to an in-memory buffer under a process-wide mutex (in the
//! order the commands ran). Before a connection writes its replies, [`write_and_sync`] writes
//! everything buffered so far, by all clients, with one `write` (the connection first yields,
//! so the other connections of its thread with input run their commands and join); with
//! `appendfsync always` it then waits for a group commit (one fsync for every write made so
//! far). So no reply goes out before its write is in the file, or on disk with `always`. With
//! `everysec` a background task fsyncs once a second ([`fsync_task`]); with `no` the OS
//! decides. Writes made outside a client (active expiry, eviction) are written by the next
//! connection's flush or the once-a-second task.
//!
//! ## Damage and write failures
//! - Loading: a file that ends inside a command, or inside a `MULTI` without its `EXEC`, is a
//!   truncation: with `aof-load-truncated yes` and in the last file it is cut at the last
//!   complete command (before the `MULTI`) with a warning; otherwise, as any malformed byte,
//!   start-up stops with the file, the offset and a hint to run `redstart check-aof --fix
//!   <manifest>` ([`super::check_aof`], the `redis-check-aof` counterpart).
//! - A failed write (full disk, `RLIMIT_FSIZE`: redstart ignores SIGXFSZ) never leaves part of
//!   a command in the file: a short write is cut off again. With `appendfsync always` the
//!   server then exits, as Redis does (the reply of a write that is not on disk is never sent).
//!   Otherwise the command stays pending and is retried once a second; meanwhile
//!   `aof_last_write_status` is `err` and write commands and PING get
//!   `-MISCONF Errors writing to the AOF file: <reason>` (reads work), until a retry succeeds.
//!   A failed background fsync does the same until an fsync succeeds.
//!
//! ## Loading
//! Files are replayed through the dispatcher by a fake client. A file that ends inside a
//! transaction (after `MULTI`, before its `EXEC`, whether or not a command is cut) is treated as
//! truncated at that `MULTI`: with `aof-load-truncated yes` the transaction is dropped and the
//! file cut there, as Redis reverts an incomplete MULTI/EXEC.
//!
//! ## Not yet as Redis
//! - `XREADGROUP` history reads update delivery counts and times without logging anything
//!   (as Redis 7.0), so a replay reaches other counts; the group's `entries-read` after a
//!   non-NOACK read is not logged either (Redis's XCLAIM form carries no counter).
//! - Lazy `DEL`s found inside a transaction are written inside its `MULTI` … `EXEC` (not checked against Redis).
//! - `XCLAIM`/`XAUTOCLAIM` that only create the consumer log nothing.

//! ## Other differences
//! - `BGREWRITEAOF` forks a child that writes the new base while the server keeps serving;
//!   writes from the fork on go to a new incremental file (see [`start_rewrite`]). Failed
//!   rewrites keep every previous file listed as `incr` in the manifest (Redis marks the ones
//!   it is replacing as `history` and deletes them after success; redstart deletes them once
//!   the new manifest is durable). It answers an error when the AOF is off (Redis rewrites
//!   anyway). The automatic rewrite (`auto-aof-rewrite-percentage`/`-min-size`) is checked ten
//!   times a second; after a failed rewrite it waits 10 s per consecutive failure.
//!   `CONFIG SET appendonly` at run time
//!   does not open or close the AOF (only the start-up value counts; INFO's `aof_enabled`
//!   reports whether it is open). `CONFIG SET appendfsync` applies from the next write.
//! - Every logged write takes one process-wide mutex and does one `write` (plus `fsync` with
//!   `always`) while its shards are locked: logging is serialised, as in Redis.
//! - Loading ignores `maxmemory`-style refusals and command errors (only an unknown command
//!   stops it). A base is read as an RDB image when it starts with `REDIS`, else as commands;
//!   an RDB preamble followed by commands in one base file is not supported.
//! - The AOF state is process-wide (one server per process).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::rdb;
use crate::log;
use crate::server::Server;

const FSYNC_ALWAYS: u8 = 0;
const FSYNC_EVERYSEC: u8 = 1;
const FSYNC_NO: u8 = 2;

/// Set once the AOF is open for appending (after loading): [`feed`] does nothing until then.
static ENABLED: AtomicBool = AtomicBool::new(false);
static FSYNC: AtomicU8 = AtomicU8::new(FSYNC_EVERYSEC);
static WRITER: Mutex<Option<Writer>> = Mutex::new(None);
/// A second handle on the open incremental file, fsynced by the everysec task without holding
/// [`WRITER`] (fsync on any descriptor of a file flushes the file).
static SYNC_HANDLE: Mutex<Option<Arc<File>>> = Mutex::new(None);
/// Something was written since the last background fsync.
static UNSYNCED: AtomicBool = AtomicBool::new(false);
/// `appendfsync always` group commit: appends made (WRITTEN) and appends known to be on disk
/// (SYNCED), counted; [`sync_written`] brings SYNCED up to WRITTEN before replies go out.
static WRITTEN: AtomicU64 = AtomicU64::new(0);
static SYNCED: AtomicU64 = AtomicU64::new(0);
static GROUP_SYNC: Mutex<()> = Mutex::new(());
/// The last write failed (INFO `aof_last_write_status`; writes get `-MISCONF`), with its errno.
static WRITE_ERR: AtomicBool = AtomicBool::new(false);
static WRITE_ERRNO: AtomicI32 = AtomicI32::new(0);
/// The last background fsync failed (cleared by the next one that succeeds), with its errno.
static FSYNC_ERR: AtomicBool = AtomicBool::new(false);
static FSYNC_ERRNO: AtomicI32 = AtomicI32::new(0);
/// Logged commands not written to the file yet: what [`feed`] buffered since the last
/// [`write_and_sync`] (before replies go out), and data whose write failed
/// (`everysec`/`no`), retried once a second ([`retry_pending`]). Locked inside [`WRITER`].
static PENDING: Mutex<Vec<u8>> = Mutex::new(Vec::new());
/// Whether [`PENDING`] holds data (set and cleared under its lock; read without it).
static BUFFERED: AtomicBool = AtomicBool::new(false);
/// INFO's `aof_base_size` and `aof_current_size` (base plus incremental files, in bytes; as
/// Redis, 0 for a base created empty at start-up).
static BASE_SIZE: AtomicU64 = AtomicU64::new(0);
static CURRENT_SIZE: AtomicU64 = AtomicU64::new(0);
/// The manifest's current entries and the AOF directory (for BGREWRITEAOF).
static MANIFEST: Mutex<Option<(PathBuf, String, Vec<ManifestEntry>)>> = Mutex::new(None);
static REWRITES: AtomicU64 = AtomicU64::new(0);

struct Writer {
    file: File,
    /// The database the last logged command ran in.
    db: Option<usize>,
    buf: Vec<u8>,
}

/// Whether the AOF is on and open.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Appends the AOF lines of INFO persistence that follow `aof_last_write_status` when the AOF
/// is on (the rest of the section is written by the server family).
pub fn info_fields(o: &mut String) {
    if !enabled() {
        return;
    }
    o.push_str(&format!(
        "aof_current_size:{}\r\naof_base_size:{}\r\naof_pending_rewrite:0\r\naof_buffer_length:0\r\naof_pending_bio_fsync:0\r\naof_delayed_fsync:0\r\n",
        CURRENT_SIZE.load(Ordering::Relaxed),
        BASE_SIZE.load(Ordering::Relaxed)
    ));
}

/// INFO's `aof_last_write_status` (a failed write or background fsync, as Redis).
pub fn last_write_ok() -> bool {
    !WRITE_ERR.load(Ordering::Relaxed) && !FSYNC_ERR.load(Ordering::Relaxed)
}

/// The `-MISCONF` error write commands (and PING) get while the AOF cannot be written, as
/// Redis: `None` when writing works.
pub fn write_refusal() -> Option<String> {
    if !enabled() {
        return None;
    }
    let errno = if WRITE_ERR.load(Ordering::Relaxed) {
        WRITE_ERRNO.load(Ordering::Relaxed)
    } else if FSYNC_ERR.load(Ordering::Relaxed) {
        FSYNC_ERRNO.load(Ordering::Relaxed)
    } else {
        return None;
    };
    Some(format!("MISCONF Errors writing to the AOF file: {}", strerror(errno)))
}

/// The C library's text for `errno` (without Rust's ` (os error N)` suffix).
fn strerror(errno: i32) -> String {
    let s = std::io::Error::from_raw_os_error(errno).to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Writes all of `data` at the end of `file`. On failure, a partial write is cut off again so
/// that the file still ends at a command boundary; `Err` holds the error (`ENOSPC` for a short
/// write, as Redis reports it) and how many bytes of `data` stayed in the file anyway (when
/// cutting failed).
fn write_whole(mut file: &File, data: &[u8]) -> Result<(), (std::io::Error, usize)> {
    let mut done = 0;
    while done < data.len() {
        match file.write(&data[done..]) {
            Ok(0) => return Err((std::io::Error::from_raw_os_error(libc::ENOSPC), undo(file, done))),
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                let e = if done > 0 { std::io::Error::from_raw_os_error(libc::ENOSPC) } else { e };
                return Err((e, undo(file, done)));
            }
        }
    }
    Ok(())
}

/// Removes the last `written` bytes of a partial write; returns how many remain in the file.
fn undo(file: &File, written: usize) -> usize {
    if written == 0 {
        return 0;
    }
    let cut = file.metadata().and_then(|m| file.set_len(m.len().saturating_sub(written as u64)));
    match cut {
        Ok(()) => 0,
        Err(e) => {
            log::warning(&format!("Could not remove a short write from the AOF file: {e}"));
            written
        }
    }
}

/// Appends `buf` (after any [`PENDING`] data) to the open incremental file; with `always` the
/// append is counted for the group commit ([`sync_written`], before any reply is sent). A
/// failure with `always` stops the server, as Redis does (the reply must not be sent for a
/// write that is not on disk); otherwise the data is kept for a retry and writes are refused
/// with `-MISCONF` until a retry succeeds.
fn append(w: &mut Writer, buf: &[u8], always: bool) {
    let mut pending = PENDING.lock();
    if buf.is_empty() && pending.is_empty() {
        return;
    }
    let data: &[u8] = if pending.is_empty() {
        buf
    } else {
        pending.extend_from_slice(buf);
        &pending
    };
    let mut res = write_whole(&w.file, data);
    if res.is_ok() {
        CURRENT_SIZE.fetch_add(data.len() as u64, Ordering::Relaxed);
        if always {
            WRITTEN.fetch_add(1, Ordering::Release);
        } else {
            UNSYNCED.store(true, Ordering::Relaxed);
        }
    }
    match res.as_mut() {
        Ok(()) => {
            pending.clear();
            BUFFERED.store(false, Ordering::Release);
            if WRITE_ERR.swap(false, Ordering::Relaxed) {
                log::warning("AOF write error looks solved, redstart can write again.");
            }
        }
        Err((e, kept)) => {
            if always {
                log::warning(&format!("Error writing to the AOF file: {e}"));
                log::warning("Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting...");
                std::process::exit(1);
            }
            let kept = *kept;
            CURRENT_SIZE.fetch_add(kept as u64, Ordering::Relaxed);
            if pending.is_empty() {
                pending.extend_from_slice(&buf[kept..]);
            } else {
                pending.drain(..kept);
            }
            WRITE_ERRNO.store(e.raw_os_error().unwrap_or(libc::EIO), Ordering::Relaxed);
            if !WRITE_ERR.swap(true, Ordering::Relaxed) {
                log::warning(&format!("Error writing to the AOF file: {e}"));
            }
        }
    }
}

/// The group commit's fsync (see [`write_and_sync`]), with the group-commit lock held: makes
/// every append made so far durable.
fn sync_locked(_g: parking_lot::MutexGuard<'_, ()>) {
    // The target before the handle: a writer switch in between has synced the old file up to
    // the switch (`sync_before_switch`), so this fsync of the new file covers `target`.
    let target = WRITTEN.load(Ordering::Acquire);
    if SYNCED.load(Ordering::Acquire) >= target {
        return;
    }
    let Some(f) = SYNC_HANDLE.lock().clone() else { return };
    if let Err(e) = f.sync_data() {
        log::warning(&format!(
            "Can't persist AOF for fsync error when the AOF fsync policy is 'always': {e}. Exiting..."
        ));
        std::process::exit(1);
    }
    SYNCED.fetch_max(target, Ordering::Release);
}

/// Before the writer switches to another file: appends still waiting for the group commit go
/// to disk now (they are in the old file, which `sync_written` no longer sees).
fn sync_before_switch(old: &File) {
    let target = WRITTEN.load(Ordering::Acquire);
    if SYNCED.load(Ordering::Acquire) < target {
        if let Err(e) = old.sync_data() {
            log::warning(&format!("Can't persist AOF for fsync error when switching files: {e}. Exiting..."));
            std::process::exit(1);
        }
        SYNCED.fetch_max(target, Ordering::Release);
    }
}

/// Retries writing [`PENDING`] data (once a second while a write error lasts).
pub fn retry_pending(always: bool) {
    if PENDING.lock().is_empty() {
        return;
    }
    let mut guard = WRITER.lock();
    if let Some(w) = guard.as_mut() {
        append(w, &[], always);
    }
}

/// Called when a rewrite switched to a new incremental file: the new base holds everything
/// that was pending, and its successful write shows the disk works again.
fn writer_switched() {
    PENDING.lock().clear();
    BUFFERED.store(false, Ordering::Release);
    WRITE_ERR.store(false, Ordering::Relaxed);
}

fn fsync_mode(s: &str) -> u8 {
    match s {
        "always" => FSYNC_ALWAYS,
        "no" => FSYNC_NO,
        _ => FSYNC_EVERYSEC,
    }
}

/// Appends `args` as a RESP multibulk.
pub fn encode<A: AsRef<[u8]>>(out: &mut Vec<u8>, args: &[A]) {
    let mut n = itoa::Buffer::new();
    out.push(b'*');
    out.extend_from_slice(n.format(args.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    for a in args {
        let a = a.as_ref();
        out.push(b'$');
        out.extend_from_slice(n.format(a.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

fn parse_i64(a: &[u8]) -> Option<i64> {
    std::str::from_utf8(a).ok()?.parse::<i64>().ok()
}

/// Absolute ms for an expiry option (`ex`, `px`, `exat`, `pxat`) with value `v`, given the
/// command's clock `now` (the handler already validated the value).
fn absolute(kind: &[u8], v: &[u8], now: u64) -> Option<i64> {
    let n = parse_i64(v)?;
    let now = now as i64;
    Some(match kind.to_ascii_lowercase().as_slice() {
        b"ex" => now.saturating_add(n.saturating_mul(1000)),
        b"px" => now.saturating_add(n),
        b"exat" => n.saturating_mul(1000),
        b"pxat" => n,
        _ => return None,
    })
}

/// The deterministic form of one command (see the module comment). `None`: log as received.
pub fn rewrite(name: &str, args: &[&[u8]], now: u64) -> Option<Vec<Vec<u8>>> {
    let own = |a: &[&[u8]]| a.iter().map(|x| x.to_vec()).collect::<Vec<_>>();
    match name {
        "set" => {
            // With an expiry: `SET key value PXAT <ms>` (NX/XX/GET dropped: the SET happened).
            // Without: as received minus GET (its reply is no part of the write).
            let mut i = 3;
            let mut has_get = false;
            while i < args.len() {
                let lower = args[i].to_ascii_lowercase();
                if matches!(lower.as_slice(), b"ex" | b"px" | b"exat" | b"pxat") && i + 1 < args.len() {
                    let at = absolute(&lower, args[i + 1], now)?;
                    return Some(vec![
                        b"SET".to_vec(),
                        args[1].to_vec(),
                        args[2].to_vec(),
                        b"PXAT".to_vec(),
                        at.to_string().into_bytes(),
                    ]);
                }
                has_get |= lower == b"get";
                i += 1;
            }
            has_get.then(|| args.iter().filter(|a| !a.eq_ignore_ascii_case(b"get")).map(|a| a.to_vec()).collect())
        }
        // GETSET's write is a SET (its reply is no part of it).
        "getset" => Some(vec![b"SET".to_vec(), args[1].to_vec(), args[2].to_vec()]),
        "setex" | "psetex" => {
            let at = absolute(if name == "setex" { b"ex" } else { b"px" }, args[2], now)?;
            Some(vec![
                b"SET".to_vec(),
                args[1].to_vec(),
                args[3].to_vec(),
                b"PXAT".to_vec(),
                at.to_string().into_bytes(),
            ])
        }
        "expire" | "pexpire" | "expireat" => {
            let kind: &[u8] = match name {
                "expire" => b"ex",
                "pexpire" => b"px",
                _ => b"exat",
            };
            let at = absolute(kind, args[2], now)?;
            let mut out = vec![b"PEXPIREAT".to_vec(), args[1].to_vec(), at.to_string().into_bytes()];
            out.extend(own(&args[3..]));
            Some(out)
        }
        "restore" if args.len() >= 4 => {
            // A relative TTL becomes ABSTTL (an absolute one stays as it is).
            let abs = args[4..].iter().any(|a| a.eq_ignore_ascii_case(b"absttl"));
            let ttl = parse_i64(args[2])?;
            if abs || ttl <= 0 {
                return None;
            }
            let mut out = own(args);
            out[2] = (now as i64).saturating_add(ttl).to_string().into_bytes();
            out.push(b"ABSTTL".to_vec());
            Some(out)
        }
        _ => None,
    }
}

/// A batch of commands written to the log with one `write` (see [`feed`]). Each command names
/// the database it ran in; a `SELECT` goes before it when that differs from the last logged one.
pub struct Batch<'w> {
    buf: &'w mut Vec<u8>,
    db: &'w mut Option<usize>,
}

impl Batch<'_> {
    /// Appends one command that ran in database `db`.
    pub fn cmd<A: AsRef<[u8]>>(&mut self, db: usize, args: &[A]) {
        if *self.db != Some(db) {
            let mut d = itoa::Buffer::new();
            encode(self.buf, &[&b"SELECT"[..], d.format(db).as_bytes()]);
            *self.db = Some(db);
        }
        encode(self.buf, args);
    }

    /// Appends `MULTI` for a transaction whose first command runs in `db` (as Redis, the
    /// `SELECT` for that database goes before the `MULTI`; later switches go inside).
    pub fn multi(&mut self, db: usize) {
        self.cmd(db, &[b"MULTI"]);
    }

    /// Appends `EXEC`.
    pub fn exec(&mut self) {
        encode(self.buf, &[b"EXEC"]);
    }
}

/// The one write path of the log: `fill` appends commands to a [`Batch`], which is written with
/// one `write` (so a crash cuts it at most once, and a cut `MULTI` … `EXEC` is trimmed by the
/// loader) and, with `appendfsync always`, fsynced before returning. Callers hold the shards of
/// the keys they log, so commands on the same keys reach the file in the order they ran. Does
/// nothing when the AOF is off.
pub fn feed(server: &Server, fill: impl FnOnce(&mut Batch)) {
    if !enabled() {
        return;
    }
    // Read per write so that `CONFIG SET appendfsync always` applies to the next write.
    // Stored only when it changed: a store on every write would pass the line between cores.
    let mode = fsync_mode(&server.config.read().appendfsync);
    if FSYNC.load(Ordering::Relaxed) != mode {
        FSYNC.store(mode, Ordering::Relaxed);
    }
    let mut guard = WRITER.lock();
    let Some(w) = guard.as_mut() else { return };
    w.buf.clear();
    fill(&mut Batch { buf: &mut w.buf, db: &mut w.db });
    if w.buf.is_empty() {
        return;
    }
    // Buffered: the connection writes everything buffered by then, with one `write` (and one
    // fsync with `always`), before it sends its replies (`write_and_sync`), as Redis writes
    // its AOF buffer once per event-loop iteration.
    let mut pending = PENDING.lock();
    pending.extend_from_slice(&w.buf);
    BUFFERED.store(true, Ordering::Release);
}

/// Whether a connection must call [`write_and_sync`] before sending replies: AOF data is
/// buffered, or written but not yet fsynced under `appendfsync always`. Two atomic loads.
#[inline]
pub fn must_write() -> bool {
    BUFFERED.load(Ordering::Acquire) || SYNCED.load(Ordering::Acquire) < WRITTEN.load(Ordering::Acquire)
}

/// Writes everything [`feed`] buffered (one `write` for all clients' commands since the last
/// call) and, with `appendfsync always`, waits until it is on disk. Connections call it before
/// writing replies, so no reply goes out before its write reached the file (and, with
/// `always`, the disk).
///
/// The fsync is a group commit: the first connection to need it fsyncs, in its own thread, for
/// every write made so far; connections that arrive meanwhile wait for it without blocking
/// their threads, which serve other connections, whose writes go into the next fsync (Redis
/// gets the same effect by fsyncing once per event-loop iteration).
pub async fn write_and_sync() {
    if BUFFERED.load(Ordering::Acquire) {
        let always = FSYNC.load(Ordering::Relaxed) == FSYNC_ALWAYS;
        if let Some(w) = WRITER.lock().as_mut() {
            append(w, &[], always);
        }
    }
    let mine = WRITTEN.load(Ordering::Acquire);
    // On an I/O worker the fsync waits for the thread's park hook ([`before_park`]): it runs
    // when no connection of the thread has anything left to do, so one fsync covers every
    // connection whose request had arrived (Redis fsyncs in `beforeSleep`). Elsewhere the
    // first waiter fsyncs.
    let on_worker = crate::net::workers::current().is_some();
    if on_worker && SYNCED.load(Ordering::Acquire) < mine {
        WAITING.with(|w| w.set(w.get() + 1));
    }
    while SYNCED.load(Ordering::Acquire) < mine {
        let notified = SYNC_DONE.notified();
        tokio::pin!(notified);
        // Registered before the check, so a completion between the check and the await wakes us.
        notified.as_mut().enable();
        if SYNCED.load(Ordering::Acquire) >= mine {
            break;
        }
        if !on_worker {
            if let Some(guard) = GROUP_SYNC.try_lock() {
                sync_locked(guard);
                SYNC_DONE.notify_waiters();
                continue;
            }
        }
        notified.await;
    }
    if on_worker {
        WAITING.with(|w| w.set(w.get().saturating_sub(1)));
    }
}

thread_local! {
    /// Connections of this I/O thread waiting for an `appendfsync always` fsync.
    static WAITING: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The I/O workers' park hook (tokio `on_thread_park`, Redis's `beforeSleep`): when this
/// thread's connections wait for an fsync and none has anything else to do, write what is
/// buffered and fsync once for all of them, then wake them (the runtime runs them instead of
/// parking).
pub fn before_park() {
    if WAITING.with(|w| w.get()) > 0 {
        write_and_sync_now();
    }
}

/// [`write_and_sync`] without waiting for a group commit: writes what is buffered and, with
/// `appendfsync always`, fsyncs in the calling thread (waking every connection waiting for that
/// fsync). For the I/O thread's park hook, before it sends pub/sub messages.
pub fn write_and_sync_now() {
    let always = FSYNC.load(Ordering::Relaxed) == FSYNC_ALWAYS;
    if BUFFERED.load(Ordering::Acquire) {
        if let Some(w) = WRITER.lock().as_mut() {
            append(w, &[], always);
        }
    }
    if SYNCED.load(Ordering::Acquire) < WRITTEN.load(Ordering::Acquire) {
        sync_locked(GROUP_SYNC.lock());
    }
    SYNC_DONE.notify_waiters();
}

/// Completions of group commits.
static SYNC_DONE: std::sync::LazyLock<tokio::sync::Notify> = std::sync::LazyLock::new(tokio::sync::Notify::new);

/// Logs `DEL key`: a key deleted by active expiry or eviction (called with the key's shard
/// locked, as Redis propagates those deletions).
pub fn log_del(server: &Server, db: usize, key: &[u8]) {
    feed(server, |b| b.cmd(db, &[&b"DEL"[..], key]));
}

thread_local! {
    /// Keys this thread's current command deleted by lazy expiry, as (db, key): the dispatcher
    /// logs a `DEL` for each before the command's own propagation (see `cmd::dispatch`).
    static LAZY_EXPIRED: std::cell::RefCell<Vec<(usize, Vec<u8>)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Notes that a lookup deleted `key` of `db` because it had expired (lazy expiry); the running
/// command's propagation logs `DEL key` first. Does nothing when the AOF is off.
pub fn lazy_expired(db: usize, key: &[u8]) {
    if enabled() {
        LAZY_EXPIRED.with(|q| q.borrow_mut().push((db, key.to_vec())));
    }
}

/// Takes the keys noted by [`lazy_expired`] (empty, without allocating, in the common case).
pub fn take_lazy_expired() -> Vec<(usize, Vec<u8>)> {
    LAZY_EXPIRED.with(|q| {
        let mut q = q.borrow_mut();
        if q.is_empty() {
            Vec::new()
        } else {
            std::mem::take(&mut *q)
        }
    })
}

/// `appendfsync everysec`: fsync once a second when something was written. Reads the policy
/// from the config each tick, so `CONFIG SET appendfsync` takes effect.
pub async fn fsync_task(server: Arc<Server>) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        FSYNC.store(fsync_mode(&server.config.read().appendfsync), Ordering::Relaxed);
        if enabled() {
            retry_pending(FSYNC.load(Ordering::Relaxed) == FSYNC_ALWAYS);
        }
        if !enabled() || FSYNC.load(Ordering::Relaxed) != FSYNC_EVERYSEC || !UNSYNCED.swap(false, Ordering::Relaxed) {
            continue;
        }
        let Some(f) = SYNC_HANDLE.lock().clone() else { continue };
        let _ = tokio::task::spawn_blocking(move || match f.sync_data() {
            Err(e) => {
                if !FSYNC_ERR.swap(true, Ordering::Relaxed) {
                    log::warning(&format!("Error syncing the AOF file: {e}"));
                }
                FSYNC_ERRNO.store(e.raw_os_error().unwrap_or(libc::EIO), Ordering::Relaxed);
                UNSYNCED.store(true, Ordering::Relaxed);
            }
            Ok(()) => {
                if FSYNC_ERR.swap(false, Ordering::Relaxed) {
                    log::warning("AOF fsync error looks solved, redstart can write again.");
                }
            }
        })
        .await;
    }
}

/// Flushes the AOF to disk (on shutdown).
pub fn fsync_now() {
    if let Some(w) = WRITER.lock().as_mut() {
        // A last try for writes that failed (a no-op when nothing is pending).
        append(w, &[], false);
        log::notice("Calling fsync() on the AOF file.");
        let _ = w.file.sync_data();
    }
}

/// One manifest line.
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestEntry {
    pub name: String,
    pub seq: u64,
    pub kind: u8,
}

/// Parses a manifest (`file <name> seq <n> type <b|h|i>` lines, keys in any order).
pub fn parse_manifest(text: &str) -> Result<Vec<ManifestEntry>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parts: Vec<&str> = line.split_ascii_whitespace().collect();
        if !parts.len().is_multiple_of(2) {
            return Err(format!("Invalid AOF manifest file format at line {}", n + 1));
        }
        let (mut name, mut seq, mut kind) = (None, None, None);
        for kv in parts.chunks(2) {
            match kv[0] {
                "file" => name = Some(kv[1].to_string()),
                "seq" => seq = kv[1].parse::<u64>().ok(),
                "type" if kv[1].len() == 1 => kind = Some(kv[1].as_bytes()[0]),
                _ => {}
            }
        }
        match (name, seq, kind) {
            (Some(name), Some(seq), Some(kind)) if matches!(kind, b'b' | b'h' | b'i') && !name.contains('/') => {
                out.push(ManifestEntry { name, seq, kind })
            }
            _ => return Err(format!("Invalid AOF manifest file format at line {}", n + 1)),
        }
    }
    if out.iter().filter(|e| e.kind == b'b').count() > 1 {
        return Err("Found duplicate base file information in the AOF manifest".into());
    }
    Ok(out)
}

fn manifest_text(entries: &[ManifestEntry]) -> String {
    entries.iter().map(|e| format!("file {} seq {} type {}\n", e.name, e.seq, e.kind as char)).collect()
}

fn write_atomically(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp-redstart");
    let mut f = File::create(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

fn aof_dir(server: &Server) -> (PathBuf, String) {
    let c = server.config.read();
    let dir = if c.dir.is_empty() { "." } else { c.dir.as_str() };
    (PathBuf::from(dir).join(&c.appenddirname), c.appendfilename.clone())
}

/// Start-up: with `appendonly yes`, loads the AOF (creating the directory when there is none)
/// and opens its last incremental file for appending. Returns whether the AOF is on (then the
/// RDB file is not loaded, as in Redis).
pub fn start(server: &Server) -> Result<bool, String> {
    let (on, fsync) = {
        let c = server.config.read();
        (c.appendonly, c.appendfsync.clone())
    };
    if !on {
        return Ok(false);
    }
    FSYNC.store(fsync_mode(&fsync), Ordering::Relaxed);
    let (dir, fname) = aof_dir(server);
    let manifest_path = dir.join(format!("{fname}.manifest"));
    let mut entries = match std::fs::read_to_string(&manifest_path) {
        Ok(text) => {
            let entries = parse_manifest(&text)?;
            load(server, &dir, &entries)?;
            let size = |e: &ManifestEntry| std::fs::metadata(dir.join(&e.name)).map(|m| m.len()).unwrap_or(0);
            BASE_SIZE.store(entries.iter().filter(|e| e.kind == b'b').map(size).sum(), Ordering::Relaxed);
            CURRENT_SIZE.store(entries.iter().filter(|e| e.kind != b'h').map(size).sum(), Ordering::Relaxed);
            entries
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(&dir)
                .map_err(|e| format!("Can't open or create append-only dir {}: {e}", dir.display()))?;
            let base = format!("{fname}.1.base.rdb");
            // Nothing is loaded when the AOF is created, so the base is an empty RDB image.
            let mut buf = Vec::new();
            rdb::put_header(&mut buf, crate::clock::now_ms(), 0, true);
            let crc = rdb::crc64(0, &buf);
            rdb::put_footer(&mut buf, crc, true);
            write_atomically(&dir.join(&base), &buf).map_err(|e| format!("Can't write the AOF base file: {e}"))?;
            log::notice(&format!("Creating AOF base file {base} on server start"));
            vec![ManifestEntry { name: base, seq: 1, kind: b'b' }]
        }
        Err(e) => return Err(format!("Can't open the AOF manifest file {}: {e}", manifest_path.display())),
    };
    if !entries.iter().any(|e| e.kind == b'i') {
        let seq = entries.iter().filter(|e| e.kind == b'i').map(|e| e.seq).max().unwrap_or(0) + 1;
        let name = format!("{fname}.{seq}.incr.aof");
        File::create(dir.join(&name)).map_err(|e| format!("Can't create the AOF incr file {name}: {e}"))?;
        log::notice(&format!("Creating AOF incr file {name} on server start"));
        entries.push(ManifestEntry { name, seq, kind: b'i' });
        write_atomically(&manifest_path, manifest_text(&entries).as_bytes())
            .map_err(|e| format!("Can't write the AOF manifest file: {e}"))?;
    }
    let last = entries.iter().rev().find(|e| e.kind == b'i').expect("an incr file").name.clone();
    let file = OpenOptions::new()
        .append(true)
        .open(dir.join(&last))
        .map_err(|e| format!("Can't open the append-only file {last}: {e}"))?;
    let sync = file.try_clone().map_err(|e| format!("Can't open the append-only file {last}: {e}"))?;
    *SYNC_HANDLE.lock() = Some(Arc::new(sync));
    *WRITER.lock() = Some(Writer { file, db: None, buf: Vec::new() });
    *MANIFEST.lock() = Some((dir, fname, entries));
    REWRITE_BASE_SIZE.store(CURRENT_SIZE.load(Ordering::Relaxed), Ordering::Relaxed);
    ENABLED.store(true, Ordering::Relaxed);
    Ok(true)
}

/// Number of completed rewrites (INFO `aof_rewrites`).
pub fn rewrites() -> u64 {
    REWRITES.load(Ordering::Relaxed)
}

/// A rewrite is waiting for the running BGSAVE child to finish (INFO `aof_rewrite_scheduled`).
static REWRITE_SCHEDULED: AtomicBool = AtomicBool::new(false);
static LAST_REWRITE_OK: AtomicBool = AtomicBool::new(true);
static LAST_REWRITE_SECS: AtomicI64 = AtomicI64::new(-1);
/// Unix ms the running rewrite started.
static REWRITE_STARTED: AtomicU64 = AtomicU64::new(0);
static CONSECUTIVE_FAILURES: AtomicU64 = AtomicU64::new(0);
static LAST_FAILURE_AT: AtomicU64 = AtomicU64::new(0);
static LAST_COW: AtomicU64 = AtomicU64::new(0);
/// The AOF's size after the last rewrite (or at start-up): auto-rewrite compares against it.
static REWRITE_BASE_SIZE: AtomicU64 = AtomicU64::new(0);

/// What `BGREWRITEAOF` did.
#[derive(Debug, PartialEq)]
pub enum Started {
    Now,
    /// A BGSAVE child is running: the rewrite starts when it ends.
    Scheduled,
}

/// Asks the persistence cron to start a rewrite as soon as no child runs.
pub fn schedule_rewrite() {
    REWRITE_SCHEDULED.store(true, Ordering::Relaxed);
}

pub fn rewrite_scheduled() -> bool {
    REWRITE_SCHEDULED.load(Ordering::Relaxed)
}

/// The rewrite lines of INFO persistence, from `aof_rewrite_in_progress` to
/// `aof_rewrites_consecutive_failures`.
pub fn info_rewrite_fields(o: &mut String) {
    let running = super::fork::active() == Some(super::fork::Kind::Aof);
    let cur = if running {
        (crate::clock::now_ms().saturating_sub(REWRITE_STARTED.load(Ordering::Relaxed)) / 1000) as i64
    } else {
        -1
    };
    o.push_str(&format!(
        "aof_rewrite_in_progress:{}\r\naof_rewrite_scheduled:{}\r\naof_last_rewrite_time_sec:{}\r\naof_current_rewrite_time_sec:{cur}\r\naof_last_bgrewrite_status:{}\r\naof_rewrites:{}\r\naof_rewrites_consecutive_failures:{}\r\n",
        running as u8,
        rewrite_scheduled() as u8,
        LAST_REWRITE_SECS.load(Ordering::Relaxed),
        if LAST_REWRITE_OK.load(Ordering::Relaxed) { "ok" } else { "err" },
        rewrites(),
        CONSECUTIVE_FAILURES.load(Ordering::Relaxed),
    ));
}

/// INFO `aof_last_cow_size`.
pub fn last_cow_size() -> u64 {
    LAST_COW.load(Ordering::Relaxed)
}

/// `BGREWRITEAOF` (and the automatic and scheduled rewrites): rewrites the AOF in a forked
/// child without stopping clients.
///
/// 1. A new incremental file is created and the manifest rewritten to list it after the
///    current files (so a crash at any later point loads base + old incr files + new one).
/// 2. With every shard locked (`fork::spawn`), the writer switches to the new incremental file
///    and the process forks: every write before that point is in the old files and in the
///    child's image; every write after it goes to the new incremental file only.
/// 3. The child writes the keyspace as an RDB base file (a temporary file in the AOF directory).
/// 4. When it succeeds, the parent renames it to the next base name and atomically replaces
///    the manifest with (new base, new incremental file), then deletes the old files. When it
///    fails, nothing is changed: the manifest still lists the old base and both incremental
///    files, in order, so no write is lost.
///
/// Writes during the rewrite are appended once, to the new file (no rewrite buffer to copy),
/// so the rewrite's cost does not depend on the write rate.
pub fn start_rewrite(server: &Server) -> Result<Started, String> {
    use super::fork;
    if !enabled() {
        return Err("ERR redstart rewrites the AOF only when appendonly was yes at start-up".into());
    }
    if fork::active() == Some(fork::Kind::Aof) {
        return Err("ERR Background append only file rewriting already in progress".into());
    }
    if !fork::claim(fork::Kind::Aof) {
        REWRITE_SCHEDULED.store(true, Ordering::Relaxed);
        return Ok(Started::Scheduled);
    }
    REWRITE_SCHEDULED.store(false, Ordering::Relaxed);
    let fail = |e: String| {
        log::warning(&e);
        fork::release();
        "ERR Can't execute an AOF background rewriting. Please check the server logs for more information.".to_string()
    };
    // 1. The new incremental file, listed in the manifest before anything is written to it.
    let (dir, incr) = {
        let mut manifest = MANIFEST.lock();
        let Some((dir, fname, entries)) = manifest.as_mut() else { return Err(fail("the AOF is not open".into())) };
        let seq = entries.iter().filter(|e| e.kind == b'i').map(|e| e.seq).max().unwrap_or(0) + 1;
        let incr = ManifestEntry { name: format!("{fname}.{seq}.incr.aof"), seq, kind: b'i' };
        if let Err(e) = File::create(dir.join(&incr.name)) {
            return Err(fail(format!("Can't create the AOF incr file {}: {e}", incr.name)));
        }
        let mut listed = entries.clone();
        listed.push(incr.clone());
        if let Err(e) = write_atomically(&dir.join(format!("{fname}.manifest")), manifest_text(&listed).as_bytes()) {
            let _ = std::fs::remove_file(dir.join(&incr.name));
            return Err(fail(format!("Can't write the AOF manifest file: {e}")));
        }
        *entries = listed;
        (dir.clone(), incr)
    };
    let opened = OpenOptions::new().append(true).open(dir.join(&incr.name)).and_then(|f| {
        let sync = f.try_clone()?;
        Ok((f, sync))
    });
    let (file, sync) = match opened {
        Ok(x) => x,
        Err(e) => return Err(fail(format!("Can't open the AOF incr file {}: {e}", incr.name))),
    };
    let compress = server.config.read().get("rdbcompression") == "yes";
    static TMP_SEQ: AtomicU64 = AtomicU64::new(0);
    let tmp =
        dir.join(format!("temp-rewriteaof-bg-{}-{}.aof", std::process::id(), TMP_SEQ.fetch_add(1, Ordering::Relaxed)));
    let img = fork::Image { tmp: tmp.clone(), rename_to: None, compress, checksum: true, aof_base: true };
    // 2. The switch, at the fork point (every shard locked; feed runs only under shard locks).
    let old_file: Arc<Mutex<Option<File>>> = Arc::default();
    let at_fork = {
        let old_file = old_file.clone();
        move || {
            let mut w = WRITER.lock();
            if let Some(old) = w.as_mut() {
                // What was buffered belongs to the old file (the child's base holds its effect
                // too, but a failed rewrite keeps the old file).
                append(old, &[], FSYNC.load(Ordering::Relaxed) == FSYNC_ALWAYS);
                sync_before_switch(&old.file);
            }
            let old = w.replace(Writer { file, db: None, buf: Vec::new() });
            // The child's base holds the effect of every write so far, pending ones included.
            writer_switched();
            *SYNC_HANDLE.lock() = Some(Arc::new(sync));
            *old_file.lock() = old.map(|w| w.file);
        }
    };
    let incr_seq = incr.seq;
    let done = move |r: Result<fork::Report, String>, took: Duration| {
        LAST_REWRITE_SECS.store(took.as_secs() as i64, Ordering::Relaxed);
        let installed = r.and_then(|rep| install_rewrite(&tmp, incr_seq).map(|_| rep));
        match installed {
            Ok(rep) => {
                LAST_REWRITE_OK.store(true, Ordering::Relaxed);
                CONSECUTIVE_FAILURES.store(0, Ordering::Relaxed);
                LAST_COW.store(rep.cow_bytes, Ordering::Relaxed);
                log::notice(&format!(
                    "Background AOF rewrite finished successfully ({} keys, {} MB of memory used by copy-on-write)",
                    rep.keys,
                    rep.cow_bytes >> 20
                ));
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                LAST_REWRITE_OK.store(false, Ordering::Relaxed);
                CONSECUTIVE_FAILURES.fetch_add(1, Ordering::Relaxed);
                LAST_FAILURE_AT.store(crate::clock::now_ms(), Ordering::Relaxed);
                log::warning(&e);
                log::warning("Background AOF rewrite terminated with error");
            }
        }
    };
    REWRITE_STARTED.store(crate::clock::now_ms(), Ordering::Relaxed);
    log::notice("Background append only file rewriting started");
    if let Err(e) = fork::spawn(server, img, at_fork, done) {
        // `spawn` released the slot. If the switch happened, the new file is in the manifest
        // already: nothing is lost, the next rewrite folds it in.
        log::warning(&e);
        return Err(
            "ERR Can't execute an AOF background rewriting. Please check the server logs for more information.".into(),
        );
    }
    REWRITES.fetch_add(1, Ordering::Relaxed);
    // The old incremental file is complete: make its tail durable without blocking anyone.
    if let Some(old) = old_file.lock().take() {
        let _ = std::thread::Builder::new().name("aof-fsync-old".into()).spawn(move || {
            if let Err(e) = old.sync_data() {
                log::warning(&format!("Error syncing the previous AOF incr file: {e}"));
            }
        });
    }
    Ok(Started::Now)
}

/// Installs a finished rewrite: `tmp` becomes the next base file and the manifest lists it and
/// the incremental files from `incr_seq` on (the one opened at the fork); older files go.
fn install_rewrite(tmp: &Path, incr_seq: u64) -> Result<(), String> {
    let mut manifest = MANIFEST.lock();
    let Some((dir, fname, entries)) = manifest.as_mut() else { return Err("the AOF is not open".into()) };
    let seq = entries.iter().filter(|e| e.kind == b'b').map(|e| e.seq).max().unwrap_or(0) + 1;
    let base = ManifestEntry { name: format!("{fname}.{seq}.base.rdb"), seq, kind: b'b' };
    let base_path = dir.join(&base.name);
    std::fs::rename(tmp, &base_path).map_err(|e| format!("Error trying to rename the temporary AOF base file: {e}"))?;
    let mut new_entries = vec![base];
    new_entries.extend(entries.iter().filter(|e| e.kind == b'i' && e.seq >= incr_seq).cloned());
    if let Err(e) = write_atomically(&dir.join(format!("{fname}.manifest")), manifest_text(&new_entries).as_bytes()) {
        let _ = std::fs::remove_file(&base_path);
        return Err(format!("Can't write the AOF manifest file: {e}"));
    }
    // The new manifest is durable: the old files are history.
    for old in entries.iter() {
        if !new_entries.iter().any(|n| n.name == old.name) {
            let _ = std::fs::remove_file(dir.join(&old.name));
        }
    }
    let size = |name: &str| std::fs::metadata(dir.join(name)).map(|m| m.len()).unwrap_or(0);
    let base_len = size(&new_entries[0].name);
    BASE_SIZE.store(base_len, Ordering::Relaxed);
    {
        // Under the writer's lock the incremental files' sizes and CURRENT_SIZE agree.
        let _w = WRITER.lock();
        let incr_len: u64 = new_entries[1..].iter().map(|e| size(&e.name)).sum();
        CURRENT_SIZE.store(base_len + incr_len, Ordering::Relaxed);
        REWRITE_BASE_SIZE.store(base_len + incr_len, Ordering::Relaxed);
    }
    *entries = new_entries;
    Ok(())
}

/// `auto-aof-rewrite-percentage` / `auto-aof-rewrite-min-size`: starts a rewrite when the AOF
/// grew by that percentage over its size after the last rewrite (or at start-up) and is above
/// the minimum size. Called by the persistence cron while no child runs. After a failed
/// rewrite it waits 10 s per consecutive failure (at most an hour) before trying again.
pub fn auto_rewrite(server: &Server) {
    if !enabled() || super::fork::active().is_some() {
        return;
    }
    let (perc, min) = {
        let c = server.config.read();
        (
            c.get("auto-aof-rewrite-percentage").parse::<u64>().unwrap_or(0),
            c.get("auto-aof-rewrite-min-size").parse::<u64>().unwrap_or(64 << 20),
        )
    };
    let fails = CONSECUTIVE_FAILURES.load(Ordering::Relaxed);
    if perc == 0
        || (fails > 0
            && crate::clock::now_ms().saturating_sub(LAST_FAILURE_AT.load(Ordering::Relaxed))
                < (fails * 10_000).min(3_600_000))
    {
        return;
    }
    let cur = CURRENT_SIZE.load(Ordering::Relaxed);
    let base = REWRITE_BASE_SIZE.load(Ordering::Relaxed).max(1);
    let growth = cur.saturating_sub(base).saturating_mul(100) / base;
    if cur > min && growth >= perc {
        log::notice(&format!("Starting automatic rewriting of AOF on {growth}% growth"));
        if let Err(e) = start_rewrite(server) {
            log::warning(&e);
        }
    }
}

/// How reading an AOF's commands ended.
#[derive(Debug, PartialEq)]
pub enum Scan {
    /// Every byte was a complete command.
    Complete,
    /// The file ends inside a command that starts at this offset.
    Truncated(usize),
}

/// Reads RESP multibulk commands from `data`, calling `on_cmd` for each. A malformed byte is an
/// error naming its offset; an incomplete last command is [`Scan::Truncated`].
pub fn scan(data: &[u8], mut on_cmd: impl FnMut(&[&[u8]]) -> Result<(), String>) -> Result<Scan, String> {
    scan_at(data, |_, args| on_cmd(args))
}

/// [`scan`], also passing each command's offset to `on_cmd`.
pub fn scan_at(data: &[u8], mut on_cmd: impl FnMut(usize, &[&[u8]]) -> Result<(), String>) -> Result<Scan, String> {
    let mut pos = 0;
    // Reads a `<prefix><digits>\r\n` line at `*p`; Ok(None) = data ends first.
    fn line(data: &[u8], p: &mut usize, prefix: u8) -> Result<Option<usize>, String> {
        let start = *p;
        if start >= data.len() {
            return Ok(None);
        }
        if data[start] != prefix {
            return Err(format!("Bad file format reading the append only file (offset {start})"));
        }
        let Some(nl) = data[start..].windows(2).position(|w| w == b"\r\n") else {
            // Up to 20 digits may still be coming; longer is damage.
            return if data.len() - start > 22 {
                Err(format!("Bad file format reading the append only file (offset {start})"))
            } else {
                Ok(None)
            };
        };
        let digits = &data[start + 1..start + nl];
        let n = std::str::from_utf8(digits)
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
            .filter(|&n| n <= 1 << 40)
            .ok_or_else(|| format!("Bad file format reading the append only file (offset {start})"))?;
        *p = start + nl + 2;
        Ok(Some(n))
    }
    while pos < data.len() {
        let cmd_start = pos;
        let mut p = pos;
        let Some(argc) = line(data, &mut p, b'*')? else { return Ok(Scan::Truncated(cmd_start)) };
        if argc == 0 {
            return Err(format!("Bad file format reading the append only file (offset {cmd_start})"));
        }
        let mut args: Vec<&[u8]> = Vec::with_capacity(argc.min(1024));
        for _ in 0..argc {
            let Some(len) = line(data, &mut p, b'$')? else { return Ok(Scan::Truncated(cmd_start)) };
            if data.len() < p + len + 2 {
                return Ok(Scan::Truncated(cmd_start));
            }
            if &data[p + len..p + len + 2] != b"\r\n" {
                return Err(format!("Bad file format reading the append only file (offset {})", p + len));
            }
            args.push(&data[p..p + len]);
            p += len + 2;
        }
        on_cmd(cmd_start, &args).map_err(|e| format!("{e} (command at offset {cmd_start})"))?;
        pos = p;
    }
    Ok(Scan::Complete)
}

/// Loads the base and the incremental files, in manifest order.
fn load(server: &Server, dir: &Path, entries: &[ManifestEntry]) -> Result<(), String> {
    let st = &server.persist;
    st.loading.store(true, Ordering::Relaxed);
    let r = load_inner(server, dir, entries);
    st.loading.store(false, Ordering::Relaxed);
    if r.is_ok() {
        // The replayed commands are not changes since the last save (as Redis).
        st.dirty.reset();
        log::notice("DB loaded from append only file");
    }
    r
}

fn load_inner(server: &Server, dir: &Path, entries: &[ManifestEntry]) -> Result<(), String> {
    let truncated_ok = server.config.read().get("aof-load-truncated") == "yes";
    let info = server.clients.register(crate::client::Peer::Unix { path: "aof-loading".into() });
    let mut client = crate::client::Client::new(info.clone(), true);
    let ordered: Vec<&ManifestEntry> =
        entries.iter().filter(|e| e.kind == b'b').chain(entries.iter().filter(|e| e.kind == b'i')).collect();
    let count = ordered.len();
    let manifest = dir.join(format!("{}.manifest", server.config.read().appendfilename));
    let fix_hint =
        format!("make a backup of your AOF files, then use `redstart check-aof --fix {}`", manifest.display());
    let mut result = Ok(());
    for (idx, e) in ordered.into_iter().enumerate() {
        let path = dir.join(&e.name);
        let data = match std::fs::read(&path) {
            Ok(d) => d,
            Err(err) => {
                result = Err(format!("Can't open the append-only file {}: {err}", e.name));
                break;
            }
        };
        if data.starts_with(b"REDIS") {
            // An RDB base (or preamble): load it as an RDB image.
            let lim = super::load_limits(server);
            let now = crate::clock::now_ms();
            let mut dup = false;
            let r = rdb::parse_file(&data, &lim, server.keyspace.databases(), |k| {
                if k.expire_at == 0 || k.expire_at > now {
                    dup |= super::insert(server, k, now).is_err();
                }
            });
            match r {
                Ok(_) if !dup => continue,
                Ok(_) => result = Err(format!("Duplicate key found in the AOF base file {}", e.name)),
                Err(err) => result = Err(format!("Bad file format reading the append only file {}: {err}", e.name)),
            }
            break;
        }
        let mut out = resp::Writer::new(false);
        // Where the transaction being read started: a file that ends before its EXEC (a crash
        // in the middle of writing it) is cut there, as Redis reverts an incomplete MULTI.
        let mut multi_at: Option<usize> = None;
        let scanned = scan_at(&data, |at, args| {
            if args[0].eq_ignore_ascii_case(b"multi") {
                multi_at = Some(at);
            } else if args[0].eq_ignore_ascii_case(b"exec") || args[0].eq_ignore_ascii_case(b"discard") {
                multi_at = None;
            }
            out.truncate(0);
            crate::cmd::dispatch::execute(server, &mut client, &mut out, args);
            let reply = &out.buf;
            if reply.starts_with(b"-ERR unknown command") {
                return Err(format!(
                    "Unknown command '{}' reading the append only file {}",
                    String::from_utf8_lossy(args[0]),
                    e.name
                ));
            }
            Ok(())
        });
        let scanned = match (scanned, multi_at) {
            (Ok(_), Some(at)) => {
                log::warning(&format!("Revert incomplete MULTI/EXEC transaction in AOF file {}", e.name));
                // The queued commands are dropped with the transaction.
                client.multi = None;
                Ok(Scan::Truncated(at))
            }
            (r, _) => r,
        };
        match scanned {
            Ok(Scan::Complete) => {}
            Ok(Scan::Truncated(at)) => {
                // Only the last file may end early (the others were complete when closed).
                let is_last = idx + 1 == count;
                if truncated_ok && is_last {
                    log::warning(&format!("!!! Warning: short read while loading the AOF file {}!!!", e.name));
                    log::warning(&format!("AOF {} loaded anyway because aof-load-truncated is enabled; truncating it to {at} bytes (valid prefix)", e.name));
                    if let Err(err) = OpenOptions::new().write(true).open(&path).and_then(|f| f.set_len(at as u64)) {
                        result = Err(format!("Error truncating the AOF file {}: {err}", e.name));
                        break;
                    }
                } else {
                    result = Err(if is_last {
                        format!(
                            "Unexpected end of file reading the append only file {} at offset {at}. You can: 1) {fix_hint}; 2) alternatively set the 'aof-load-truncated' configuration option to yes and restart the server.",
                            e.name
                        )
                    } else {
                        format!(
                            "Unexpected end of file reading the append only file {} at offset {at}, which is not the last AOF file: it cannot be repaired by truncation.",
                            e.name
                        )
                    });
                    break;
                }
            }
            Err(err) => {
                result = Err(format!("{err} in {}: {fix_hint}", e.name));
                break;
            }
        }
    }
    server.clients.unregister(info.id);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_round_trip() {
        let text = "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n";
        let m = parse_manifest(text).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[0], ManifestEntry { name: "appendonly.aof.1.base.rdb".into(), seq: 1, kind: b'b' });
        assert_eq!(manifest_text(&m), text);
        assert!(parse_manifest("file x seq 1\n").is_err());
        assert!(parse_manifest("file ../x seq 1 type i\n").is_err());
    }

    #[test]
    fn rewrites_relative_expiries() {
        let r = |a: &[&[u8]]| {
            rewrite(std::str::from_utf8(a[0]).unwrap(), a, 1000)
                .map(|v| v.iter().map(|x| String::from_utf8_lossy(x).into_owned()).collect::<Vec<_>>().join(" "))
        };
        assert_eq!(r(&[b"set", b"k", b"v", b"EX", b"10"]).unwrap(), "SET k v PXAT 11000");
        assert_eq!(r(&[b"set", b"k", b"v", b"nx", b"px", b"5", b"get"]).unwrap(), "SET k v PXAT 1005");
        assert_eq!(r(&[b"set", b"k", b"v", b"get", b"pxat", b"5"]).unwrap(), "SET k v PXAT 5");
        assert_eq!(r(&[b"set", b"k", b"v", b"NX", b"get", b"KEEPTTL"]).unwrap(), "set k v NX KEEPTTL");
        assert_eq!(r(&[b"set", b"k", b"v"]), None);
        assert_eq!(r(&[b"setex", b"k", b"2", b"v"]).unwrap(), "SET k v PXAT 3000");
        assert_eq!(r(&[b"psetex", b"k", b"2", b"v"]).unwrap(), "SET k v PXAT 1002");
        assert_eq!(r(&[b"expire", b"k", b"3", b"NX"]).unwrap(), "PEXPIREAT k 4000 NX");
        assert_eq!(r(&[b"expireat", b"k", b"3"]).unwrap(), "PEXPIREAT k 3000");
        assert_eq!(r(&[b"restore", b"k", b"5", b"p", b"REPLACE"]).unwrap(), "restore k 1005 p REPLACE ABSTTL");
        assert_eq!(r(&[b"restore", b"k", b"5000", b"p", b"absttl"]), None);
        assert_eq!(r(&[b"restore", b"k", b"0", b"p"]), None);
    }

    #[test]
    fn scan_complete_truncated_and_bad() {
        let mut data = Vec::new();
        encode(&mut data, &[&b"SET"[..], b"a", b"1"]);
        encode(&mut data, &[&b"SET"[..], b"b", b"2"]);
        let mut n = 0;
        assert_eq!(
            scan(&data, |_| {
                n += 1;
                Ok(())
            })
            .unwrap(),
            Scan::Complete
        );
        assert_eq!(n, 2);
        let first_len = data.len() / 2;
        for cut in first_len + 1..data.len() {
            let mut n = 0;
            assert_eq!(
                scan(&data[..cut], |_| {
                    n += 1;
                    Ok(())
                })
                .unwrap(),
                Scan::Truncated(first_len)
            );
            assert_eq!(n, 1);
        }
        let mut bad = data.clone();
        bad[first_len] = b'x';
        assert!(scan(&bad, |_| Ok(())).unwrap_err().contains(&format!("offset {first_len}")));
    }
}
