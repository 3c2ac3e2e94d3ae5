//! The append-only file: Redis 7's multi-part layout, fed by the effects stream.
//!
//! ## Layout (as Redis 7.0 writes it)
//! `<dir>/<appenddirname>/` holds a manifest `<appendfilename>.manifest` ([`manifest`]), a base
//! file `<appendfilename>.<seq>.base.rdb` (an RDB image; Redis also accepts `.base.aof`, plain
//! commands) and incremental files `<appendfilename>.<seq>.incr.aof` of RESP multibulk commands.
//! On a start with `appendonly yes` and no manifest, the directory is created with an empty base
//! (an RDB with the `aof-base` aux field) and `incr` file 1, and — as Redis 7.0 — `dump.rdb` is
//! *not* loaded.
//!
//! ## What is written
//! The AOF is a consumer of the effects stream (`crate::propagate`, read its module comment):
//! it receives the bytes of every execution unit — commands in their deterministic form, keys
//! that expired or were evicted as `DEL`/`UNLINK`, transactions as `MULTI` … `EXEC`, `SELECT`s
//! where the database changes — and appends them to the current incremental file ([`writer`]).
//! With `aof-timestamp-enabled yes` a `#TS:<unix seconds>` annotation precedes the first unit of
//! each new second (`redstart check-aof --truncate-to-timestamp` reads them; loading skips them).
//!
//! ## On and off at run time
//! As in Redis, `CONFIG SET appendonly yes` starts a rewrite ([`rewrite`]) and attaches the AOF
//! to the stream at the rewrite's fork point, writing to a temporary incremental file; the AOF is
//! on (`aof_enabled:1`) from that moment, and the files are listed in the manifest once the new
//! base is written (a failed rewrite detaches it and is retried). `appendonly no` stops a running
//! rewrite, writes and fsyncs what is buffered, and detaches the AOF. `BGREWRITEAOF` works with
//! the AOF off too: it writes a new base and a manifest listing only it.
//!
//! ## Damage and write failures
//! A damaged manifest stops start-up exactly where Redis's does, with Redis's log lines (the
//! rules are in [`manifest`]; the manifest is read with `appendonly no` too, as Redis), and so
//! does a listed base or incremental file that is missing (checked before anything is loaded).
//! History entries (`type h`, which Redis leaves when it stops between a rewrite and its
//! clean-up) are not loaded; start-up drops them from the manifest and deletes their files.
//! Loading ([`load`]) cuts a truncated last file with `aof-load-truncated yes` and otherwise
//! stops start-up naming the file and offset. A failed write (full disk, `RLIMIT_FSIZE`:
//! redstart ignores SIGXFSZ) never leaves part of a command in the file; with `appendfsync
//! always` the server then exits, as Redis does; otherwise the data stays buffered and is
//! retried once a second, and write commands and PING get `-MISCONF Errors writing to the AOF
//! file: <reason>` until a retry succeeds. A failed background fsync does the same.
//!
//! ## Not yet as Redis
//! - `XREADGROUP` history reads update delivery counts and times without logging anything
//!   (as Redis 7.0), so a replay reaches other counts; the group's `entries-read` after a
//!   non-NOACK read is not logged either (Redis's XCLAIM form carries no counter).
//! - `XCLAIM`/`XAUTOCLAIM` that only create the consumer log nothing.
//!
//! ## Other differences
//! - Failed rewrites keep every previous file listed as `incr` in the manifest (Redis marks the
//!   ones it is replacing as `history` and deletes them after success; redstart deletes them
//!   once the new manifest is durable). The automatic rewrite is checked ten times a second;
//!   after a failed rewrite it waits 10 s per consecutive failure.
//! - Loading ignores `maxmemory`-style refusals and command errors (only an unknown command
//!   stops it). A base is read as an RDB image when it starts with `REDIS`, else as commands;
//!   an RDB preamble followed by commands in one base file is not supported.
//! - The AOF state is process-wide (one server per process).

pub mod load;
pub mod manifest;
pub mod rewrite;
pub mod writer;

use std::fs::{File, OpenOptions};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

pub use load::{scan, scan_at, Replayer, Scan};
pub use manifest::{parse_manifest, read_manifest_file, ManifestEntry, ManifestError};
pub use rewrite::{
    auto_rewrite, info_rewrite_fields, last_cow_size, rewrite_scheduled, rewrites, schedule_rewrite, start_rewrite,
    Started,
};
pub use writer::{
    before_park, fsync_now, fsync_task, last_write_ok, must_write, write_and_sync, write_and_sync_now, write_refusal,
};

use crate::log;
use crate::persist::rdb;
use crate::propagate::ConsumerId;
use crate::server::Server;
use manifest::{Manifest, MANIFEST};

/// Redis's `aof_state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Off = 0,
    /// Turning on: a rewrite is writing the first base; the AOF is attached (or about to be).
    WaitRewrite = 1,
    On = 2,
}

static MODE: AtomicU8 = AtomicU8::new(Mode::Off as u8);
/// The AOF's attachment to the effects stream while it is attached.
static ATTACHED: Mutex<Option<ConsumerId>> = Mutex::new(None);

pub fn mode() -> Mode {
    match MODE.load(Ordering::Relaxed) {
        2 => Mode::On,
        1 => Mode::WaitRewrite,
        _ => Mode::Off,
    }
}

fn set_mode(m: Mode) {
    MODE.store(m as u8, Ordering::Relaxed);
}

/// INFO's `aof_enabled`: on, or being turned on (as Redis reports `AOF_WAIT_REWRITE`).
pub fn enabled() -> bool {
    mode() != Mode::Off
}

/// Opens the writer on `file` and attaches the AOF to the effects stream (with every shard
/// locked, or before any client runs).
fn attach(server: &Server, file: File) {
    if let Err(e) = writer::open(file) {
        log::warning(&format!("Can't open the AOF incr file: {e}"));
        return;
    }
    let mut a = ATTACHED.lock();
    if a.is_none() {
        *a = Some(server.effects.attach(Arc::new(writer::Feed)));
    }
}

/// Detaches the AOF from the effects stream and closes its file (after writing and fsyncing
/// what was buffered).
fn detach() {
    let server = crate::persist::state().server();
    if let (Some(id), Some(s)) = (ATTACHED.lock().take(), server) {
        s.effects.detach(id);
    }
    writer::close();
}

/// Turning on failed (the first rewrite did): detach, drop the temporary incremental file and
/// schedule another try, unless the AOF was turned off meanwhile.
fn detach_after_failed_start(temp_incr: &std::path::Path) {
    if mode() == Mode::WaitRewrite {
        detach();
        rewrite::schedule_rewrite();
    }
    let _ = std::fs::remove_file(temp_incr);
}

/// The first rewrite after turning on succeeded: the AOF is on.
fn started() {
    if MODE.compare_exchange(Mode::WaitRewrite as u8, Mode::On as u8, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
        log::notice("AOF rewrite after turning the AOF on finished: the AOF is on");
    }
}

/// Appends the AOF lines of INFO persistence that follow `aof_last_write_status` when the AOF
/// is on (the rest of the section is written by the server family).
pub fn info_fields(o: &mut String) {
    if !enabled() {
        return;
    }
    o.push_str(&format!(
        "aof_current_size:{}\r\naof_base_size:{}\r\naof_pending_rewrite:0\r\naof_buffer_length:0\r\naof_pending_bio_fsync:0\r\naof_delayed_fsync:0\r\n",
        writer::CURRENT_SIZE.load(Ordering::Relaxed),
        rewrite::BASE_SIZE.load(Ordering::Relaxed)
    ));
}

/// Start-up: follows the configuration's `appendfsync` and `aof-timestamp-enabled`; reads the
/// manifest (whatever `appendonly` says, as Redis: a damaged one stops start-up, see
/// [`manifest`]); with `appendonly yes`, loads the AOF through `replay` (creating the directory
/// when there is none), opens its last incremental file for appending and attaches it to the
/// effects stream. Returns whether the AOF is on (then the RDB file is not loaded, as in Redis).
pub fn start(server: &Server, replay: &mut dyn Replayer) -> Result<bool, String> {
    server.config.subscribe(writer::configure);
    let mut m = Manifest::read(server).map_err(refuse)?;
    if !server.config.read().appendonly {
        return Ok(false);
    }
    if !m.entries.iter().any(|e| e.kind != b'h') {
        // No manifest, or one listing only history files (or nothing): a new AOF, as Redis.
        std::fs::create_dir_all(&m.dir)
            .map_err(|e| format!("Can't open or create append-only dir {}: {e}", m.dir.display()))?;
        let seq = m.next_seq(b'b');
        let base = format!("{}.{seq}.base.rdb", m.fname);
        // Nothing is loaded when the AOF is created, so the base is an empty RDB image.
        let mut buf = Vec::new();
        rdb::put_header(&mut buf, crate::clock::now_ms(), 0, true);
        let crc = rdb::crc64(0, &buf);
        rdb::put_footer(&mut buf, crc, true);
        manifest::write_atomically(&m.dir.join(&base), &buf)
            .map_err(|e| format!("Can't write the AOF base file: {e}"))?;
        log::notice(&format!("Creating AOF base file {base} on server start"));
        m.entries.push(ManifestEntry { name: base, seq, kind: b'b' });
    } else {
        load::load(server, &m.dir, &m.entries, replay)?;
        rewrite::BASE_SIZE.store(m.size(b"b"), Ordering::Relaxed);
        writer::CURRENT_SIZE.store(m.size(b"bi"), Ordering::Relaxed);
    }
    // History files (left by a rewrite that Redis finished but did not clean up) are dropped
    // from the manifest and deleted, as Redis does at start-up.
    let history: Vec<ManifestEntry> = m.entries.iter().filter(|e| e.kind == b'h').cloned().collect();
    let mut entries: Vec<ManifestEntry> = m.entries.iter().filter(|e| e.kind != b'h').cloned().collect();
    if !entries.iter().any(|e| e.kind == b'i') {
        let seq = m.next_seq(b'i');
        let name = format!("{}.{seq}.incr.aof", m.fname);
        File::create(m.dir.join(&name)).map_err(|e| format!("Can't create the AOF incr file {name}: {e}"))?;
        log::notice(&format!("Creating AOF incr file {name} on server start"));
        entries.push(ManifestEntry { name, seq, kind: b'i' });
    }
    if entries != m.entries {
        m.store(entries).map_err(|e| format!("Can't write the AOF manifest file: {e}"))?;
    }
    // A history file that has the name of a listed file is not deleted (Redis deletes it: a
    // manifest listing only `h appendonly.aof.1.base.rdb` loses the new base it creates).
    for h in history.iter().filter(|h| !m.entries.iter().any(|e| e.name == h.name)) {
        log::notice(&format!("Removing the history file {}", h.name));
        let _ = std::fs::remove_file(m.dir.join(&h.name));
    }
    let Some(last) = m.entries.iter().rev().find(|e| e.kind == b'i').map(|e| e.name.clone()) else {
        return Err("The AOF manifest lists no incr file".into());
    };
    let file = OpenOptions::new()
        .append(true)
        .open(m.dir.join(&last))
        .map_err(|e| format!("Can't open the append-only file {last}: {e}"))?;
    *MANIFEST.lock() = Some(m);
    rewrite::REWRITE_BASE_SIZE.store(writer::CURRENT_SIZE.load(Ordering::Relaxed), Ordering::Relaxed);
    set_mode(Mode::On);
    attach(server, file);
    Ok(true)
}

/// A refused manifest: logs Redis's lines but the last, which start-up reports as its error.
fn refuse(e: ManifestError) -> String {
    let mut lines = e.lines();
    let last = lines.pop().unwrap_or_default();
    for l in lines {
        log::warning(&l);
    }
    last
}

/// `CONFIG SET appendonly yes|no` (see the module comment). `Err` when the AOF cannot be
/// turned on (CONFIG SET then fails, as Redis's does). Inside EXEC (`in_exec`: every shard is
/// locked, the fork must wait) the first rewrite is scheduled.
pub fn set_appendonly(server: &Server, on: bool, in_exec: bool) -> Result<(), String> {
    match (on, mode()) {
        (true, Mode::Off) if in_exec => {
            set_mode(Mode::WaitRewrite);
            schedule_rewrite();
            Ok(())
        }
        (true, Mode::Off) => {
            set_mode(Mode::WaitRewrite);
            match start_rewrite(server) {
                Ok(_) => Ok(()),
                Err(e) => {
                    set_mode(Mode::Off);
                    log::warning(&format!(
                        "Redis needs to enable the AOF but can't trigger a background AOF rewrite operation: {e}"
                    ));
                    Err("Unable to turn on AOF. Check server logs.".into())
                }
            }
        }
        (false, Mode::On | Mode::WaitRewrite) => {
            set_mode(Mode::Off);
            rewrite::unschedule();
            if crate::persist::fork::active() == Some(crate::persist::fork::Kind::Aof) {
                log::notice("Killing running AOF rewrite child");
                crate::persist::fork::kill_child();
            }
            detach();
            *MANIFEST.lock() = None;
            Ok(())
        }
        _ => Ok(()),
    }
}
