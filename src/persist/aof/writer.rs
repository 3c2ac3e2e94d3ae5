//! The AOF's consumer of the effects stream and its file writer: what the stream feeds is
//! buffered in memory, written by the connections before they send replies (one `write` for
//! everything buffered), and fsynced per `appendfsync` (a group commit for `always`, a timer
//! for `everysec`). Write failures keep the data and are retried; `-MISCONF` meanwhile.

use std::fs::File;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::config::Config;
use crate::log;
use crate::propagate::Consumer;

const FSYNC_ALWAYS: u8 = 0;
const FSYNC_EVERYSEC: u8 = 1;
const FSYNC_NO: u8 = 2;

static FSYNC: AtomicU8 = AtomicU8::new(FSYNC_EVERYSEC);
/// `aof-timestamp-enabled`: a `#TS:<unix seconds>` annotation goes before the first unit of
/// each new second ([`LAST_TS`], under [`PENDING`]'s lock).
static TIMESTAMPS: AtomicBool = AtomicBool::new(false);
static LAST_TS: AtomicU64 = AtomicU64::new(0);
/// The incremental file being appended to (`None` while the AOF is off).
static WRITER: Mutex<Option<File>> = Mutex::new(None);
/// A second handle on the open incremental file, fsynced by the everysec task without holding
/// [`WRITER`] (fsync on any descriptor of a file flushes the file).
static SYNC_HANDLE: Mutex<Option<Arc<File>>> = Mutex::new(None);
/// Something was written since the last background fsync.
static UNSYNCED: AtomicBool = AtomicBool::new(false);
/// `appendfsync always` group commit: appends made (WRITTEN) and appends known to be on disk
/// (SYNCED), counted; [`write_and_sync`] brings SYNCED up to WRITTEN before replies go out.
static WRITTEN: AtomicU64 = AtomicU64::new(0);
static SYNCED: AtomicU64 = AtomicU64::new(0);
static GROUP_SYNC: Mutex<()> = Mutex::new(());
/// The last write failed (INFO `aof_last_write_status`; writes get `-MISCONF`), with its errno.
static WRITE_ERR: AtomicBool = AtomicBool::new(false);
static WRITE_ERRNO: AtomicI32 = AtomicI32::new(0);
/// The last background fsync failed (cleared by the next one that succeeds), with its errno.
static FSYNC_ERR: AtomicBool = AtomicBool::new(false);
static FSYNC_ERRNO: AtomicI32 = AtomicI32::new(0);
/// Stream bytes not written to the file yet: what [`Feed`] buffered since the last
/// [`write_and_sync`] (before replies go out), and data whose write failed (`everysec`/`no`),
/// retried once a second ([`retry_pending`]). Locked inside [`WRITER`].
static PENDING: Mutex<Vec<u8>> = Mutex::new(Vec::new());
/// Whether [`PENDING`] holds data (set and cleared under its lock; read without it).
static BUFFERED: AtomicBool = AtomicBool::new(false);
/// INFO's `aof_current_size` (base plus incremental files, in bytes).
pub(super) static CURRENT_SIZE: AtomicU64 = AtomicU64::new(0);

/// The AOF's attachment to the effects stream: every unit's bytes are buffered for the file.
pub struct Feed;

impl Consumer for Feed {
    fn feed(&self, bytes: &[u8]) {
        let mut pending = PENDING.lock();
        if TIMESTAMPS.load(Ordering::Relaxed) {
            let now = crate::clock::now_ms() / 1000;
            if now > LAST_TS.load(Ordering::Relaxed) {
                LAST_TS.store(now, Ordering::Relaxed);
                let _ = write!(pending, "#TS:{now}\r\n");
            }
        }
        pending.extend_from_slice(bytes);
        BUFFERED.store(true, Ordering::Release);
    }
}

/// Takes `appendfsync` and `aof-timestamp-enabled` from a new configuration (a `ConfigCell`
/// subscriber): a change applies from the next write.
pub fn configure(c: &Config) {
    FSYNC.store(fsync_mode(&c.appendfsync), Ordering::Relaxed);
    TIMESTAMPS.store(c.get("aof-timestamp-enabled") == "yes", Ordering::Relaxed);
}

fn fsync_mode(s: &str) -> u8 {
    match s {
        "always" => FSYNC_ALWAYS,
        "no" => FSYNC_NO,
        _ => FSYNC_EVERYSEC,
    }
}

fn always() -> bool {
    FSYNC.load(Ordering::Relaxed) == FSYNC_ALWAYS
}

/// The writer's lock (held while a rewrite reads the files' sizes, so they match
/// `CURRENT_SIZE`).
pub(super) fn lock() -> parking_lot::MutexGuard<'static, Option<File>> {
    WRITER.lock()
}

/// Opens the writer on `file` (an incremental file open for appending).
pub fn open(file: File) -> std::io::Result<()> {
    let sync = file.try_clone()?;
    *SYNC_HANDLE.lock() = Some(Arc::new(sync));
    *WRITER.lock() = Some(file);
    Ok(())
}

/// Switches the writer to `file` (a rewrite's new incremental file, at its fork point): what is
/// buffered goes to the old file first, and appends waiting for a group commit are fsynced there.
/// Returns the old file.
pub fn switch(file: File) -> std::io::Result<Option<File>> {
    let sync = file.try_clone()?;
    let mut w = WRITER.lock();
    if let Some(old) = w.as_mut() {
        append(old, &[], always());
        sync_before_switch(old);
    }
    let old = w.replace(file);
    // The rewrite's base holds the effect of every write so far, pending ones included, and
    // the new file's successful creation shows the disk works again.
    PENDING.lock().clear();
    BUFFERED.store(false, Ordering::Release);
    WRITE_ERR.store(false, Ordering::Relaxed);
    *SYNC_HANDLE.lock() = Some(Arc::new(sync));
    Ok(old)
}

/// Closes the writer (the AOF turned off): writes what is buffered, fsyncs and wakes every
/// connection waiting for a group commit. What could not be written is dropped with the file.
pub fn close() {
    let mut w = WRITER.lock();
    if let Some(f) = w.as_mut() {
        append(f, &[], false);
        let _ = f.sync_data();
    }
    *w = None;
    *SYNC_HANDLE.lock() = None;
    PENDING.lock().clear();
    BUFFERED.store(false, Ordering::Release);
    WRITE_ERR.store(false, Ordering::Relaxed);
    FSYNC_ERR.store(false, Ordering::Relaxed);
    SYNCED.fetch_max(WRITTEN.load(Ordering::Acquire), Ordering::Release);
    SYNC_DONE.notify_waiters();
}

/// INFO's `aof_last_write_status` (a failed write or background fsync, as Redis).
pub fn last_write_ok() -> bool {
    !WRITE_ERR.load(Ordering::Relaxed) && !FSYNC_ERR.load(Ordering::Relaxed)
}

/// The `-MISCONF` error write commands (and PING) get while the AOF cannot be written, as
/// Redis: `None` when writing works.
pub fn write_refusal() -> Option<String> {
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

/// Appends `buf` (after any [`PENDING`] data) to `file`; with `always` the append is counted
/// for the group commit ([`write_and_sync`], before any reply is sent). A failure with `always`
/// stops the server, as Redis does (the reply must not be sent for a write that is not on
/// disk); otherwise the data is kept for a retry and writes are refused with `-MISCONF` until a
/// retry succeeds.
fn append(file: &mut File, buf: &[u8], always: bool) {
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
    let mut res = write_whole(file, data);
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
fn retry_pending() {
    if PENDING.lock().is_empty() {
        return;
    }
    if let Some(w) = WRITER.lock().as_mut() {
        append(w, &[], always());
    }
}

/// Whether a connection must call [`write_and_sync`] before sending replies: AOF data is
/// buffered, or written but not yet fsynced under `appendfsync always`. Two atomic loads.
#[inline]
pub fn must_write() -> bool {
    BUFFERED.load(Ordering::Acquire) || SYNCED.load(Ordering::Acquire) < WRITTEN.load(Ordering::Acquire)
}

/// Writes everything the stream buffered (one `write` for all clients' commands since the
/// last call) and, with `appendfsync always`, waits until it is on disk. Connections call it
/// before writing replies, so no reply goes out before its write reached the file (and, with
/// `always`, the disk).
///
/// The fsync is a group commit: on an I/O worker (`on_worker`) it waits for the thread's park
/// hook ([`before_park`]), which runs when no connection of the thread has anything left to do,
/// so one fsync covers every connection whose request had arrived (Redis fsyncs in
/// `beforeSleep`). Elsewhere the first waiter fsyncs for everyone.
pub async fn write_and_sync(on_worker: bool) {
    if BUFFERED.load(Ordering::Acquire) {
        if let Some(w) = WRITER.lock().as_mut() {
            append(w, &[], always());
        }
    }
    let mine = WRITTEN.load(Ordering::Acquire);
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
    if BUFFERED.load(Ordering::Acquire) {
        if let Some(w) = WRITER.lock().as_mut() {
            append(w, &[], always());
        }
    }
    if SYNCED.load(Ordering::Acquire) < WRITTEN.load(Ordering::Acquire) {
        sync_locked(GROUP_SYNC.lock());
    }
    SYNC_DONE.notify_waiters();
}

/// Completions of group commits.
static SYNC_DONE: std::sync::LazyLock<tokio::sync::Notify> = std::sync::LazyLock::new(tokio::sync::Notify::new);

/// Once a second: retries a failed write, and with `appendfsync everysec` fsyncs when something
/// was written. Writes made outside any connection (active expiry, eviction) reach the file here
/// at the latest.
pub async fn fsync_task() {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if BUFFERED.load(Ordering::Acquire) || WRITE_ERR.load(Ordering::Relaxed) {
            retry_pending();
        }
        if FSYNC.load(Ordering::Relaxed) != FSYNC_EVERYSEC || !UNSYNCED.swap(false, Ordering::Relaxed) {
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
        let _ = w.sync_data();
    }
}
