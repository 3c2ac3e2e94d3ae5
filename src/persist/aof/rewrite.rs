//! AOF rewrites (BGREWRITEAOF, the automatic rewrite, and turning the AOF on at run time): a
//! forked child writes the keyspace as a new RDB base while the server keeps serving.
//!
//! 1. Before forking, the file that will receive the writes made during the rewrite is created:
//!    with the AOF on, a new incremental file, listed in the manifest after the current ones
//!    (so a crash at any later point loads base + old incremental files + new one); while the
//!    AOF is being turned on, a temporary incremental file, listed nowhere yet; with the AOF off,
//!    none.
//! 2. At the fork point (every shard locked, so no command is between its change and its
//!    propagation) the writer switches to that file, or the AOF attaches to the effects stream
//!    writing to it: every write before that point is in the child's image, every write after
//!    it goes to the new file, once. There is no rewrite buffer, so the rewrite's cost does not
//!    grow with the write rate.
//! 3. The child writes the base to a temporary file in the AOF directory.
//! 4. On success the parent renames it to the next base name and atomically replaces the
//!    manifest with (new base, new incremental file), then deletes the old files; turning on
//!    ends there (`aof_enabled` was already 1, as in Redis). On failure nothing listed changes:
//!    with the AOF on the manifest still lists the old base and both incremental files, in
//!    order, so nothing is lost; while turning on, the AOF detaches again and the rewrite is
//!    retried by the persistence cron.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use super::manifest::{Manifest, ManifestEntry, MANIFEST};
use super::{writer, Mode};
use crate::log;
use crate::persist::fork;
use crate::server::Server;

static REWRITES: AtomicU64 = AtomicU64::new(0);
/// A rewrite is waiting for the running child to finish (INFO `aof_rewrite_scheduled`).
static REWRITE_SCHEDULED: AtomicBool = AtomicBool::new(false);
static LAST_REWRITE_OK: AtomicBool = AtomicBool::new(true);
static LAST_REWRITE_SECS: AtomicI64 = AtomicI64::new(-1);
/// Unix ms the running rewrite started.
static REWRITE_STARTED: AtomicU64 = AtomicU64::new(0);
static CONSECUTIVE_FAILURES: AtomicU64 = AtomicU64::new(0);
static LAST_FAILURE_AT: AtomicU64 = AtomicU64::new(0);
static LAST_COW: AtomicU64 = AtomicU64::new(0);
/// The AOF's size after the last rewrite (or at start-up): auto-rewrite compares against it.
pub(super) static REWRITE_BASE_SIZE: AtomicU64 = AtomicU64::new(0);
/// INFO's `aof_base_size`.
pub(super) static BASE_SIZE: AtomicU64 = AtomicU64::new(0);

/// What `BGREWRITEAOF` did.
#[derive(Debug, PartialEq)]
pub enum Started {
    Now,
    /// Another child is running: the rewrite starts when it ends.
    Scheduled,
}

/// Number of completed rewrites (INFO `aof_rewrites`).
pub fn rewrites() -> u64 {
    REWRITES.load(Ordering::Relaxed)
}

/// Asks the persistence cron to start a rewrite as soon as no child runs.
pub fn schedule_rewrite() {
    REWRITE_SCHEDULED.store(true, Ordering::Relaxed);
}

pub fn rewrite_scheduled() -> bool {
    REWRITE_SCHEDULED.load(Ordering::Relaxed)
}

pub(super) fn unschedule() {
    REWRITE_SCHEDULED.store(false, Ordering::Relaxed);
}

/// INFO `aof_last_cow_size`.
pub fn last_cow_size() -> u64 {
    LAST_COW.load(Ordering::Relaxed)
}

/// The rewrite lines of INFO persistence, from `aof_rewrite_in_progress` to
/// `aof_rewrites_consecutive_failures`.
pub fn info_rewrite_fields(o: &mut String) {
    let running = fork::active() == Some(fork::Kind::Aof);
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

/// Where the writes made during a rewrite go (see the module comment).
enum NewIncr {
    /// AOF on: a new incremental file, already listed in the manifest.
    Listed { seq: i64, file: File },
    /// Turning on: a temporary file, listed once the rewrite succeeded.
    Temp { path: PathBuf, file: File },
    /// AOF off: the rewrite only produces a base.
    None,
}

const FAILED: &str =
    "ERR Can't execute an AOF background rewriting. Please check the server logs for more information.";

/// Starts a rewrite in a forked child (see the module comment), or schedules it when another
/// child runs. Works whether the AOF is on, being turned on, or off (as Redis 7's BGREWRITEAOF).
pub fn start_rewrite(server: &Server) -> Result<Started, String> {
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
        FAILED.to_string()
    };
    let mode = super::mode();
    // 1. The file for the writes made during the rewrite.
    let (dir, incr) = {
        let mut guard = MANIFEST.lock();
        if guard.is_none() || mode != Mode::On {
            *guard = Some(Manifest::read(server).map_err(|e| fail(e.to_string()))?);
        }
        let m = guard.as_mut().expect("just set");
        if let Err(e) = std::fs::create_dir_all(&m.dir) {
            return Err(fail(format!("Can't open or create append-only dir {}: {e}", m.dir.display())));
        }
        let incr = match mode {
            Mode::On => {
                let seq = m.next_seq(b'i');
                let name = format!("{}.{seq}.incr.aof", m.fname);
                let file = match create(&m.dir.join(&name)) {
                    Ok(f) => f,
                    Err(e) => return Err(fail(format!("Can't create the AOF incr file {name}: {e}"))),
                };
                let mut listed = m.entries.clone();
                listed.push(ManifestEntry { name: name.clone(), seq, kind: b'i' });
                if let Err(e) = m.store(listed) {
                    let _ = std::fs::remove_file(m.dir.join(&name));
                    return Err(fail(format!("Can't write the AOF manifest file: {e}")));
                }
                log::notice(&format!("Creating AOF incr file {name} on background rewrite"));
                NewIncr::Listed { seq, file }
            }
            Mode::WaitRewrite => {
                let path = m.dir.join(format!("temp-{}.incr", m.fname));
                match create(&path) {
                    Ok(file) => {
                        log::notice(&format!("Creating AOF incr file temp-{}.incr on background rewrite", m.fname));
                        NewIncr::Temp { path, file }
                    }
                    Err(e) => return Err(fail(format!("Can't create the temporary AOF incr file: {e}"))),
                }
            }
            Mode::Off => NewIncr::None,
        };
        (m.dir.clone(), incr)
    };
    let compress = server.config.read().get("rdbcompression") == "yes";
    static TMP_SEQ: AtomicU64 = AtomicU64::new(0);
    let tmp =
        dir.join(format!("temp-rewriteaof-bg-{}-{}.aof", std::process::id(), TMP_SEQ.fetch_add(1, Ordering::Relaxed)));
    let img = fork::Image { tmp: tmp.clone(), rename_to: None, compress, checksum: true, aof_base: true };
    // 2. The switch, at the fork point (every shard locked).
    let mut old_file: Option<File> = None;
    let (listed_seq, temp_path) = match &incr {
        NewIncr::Listed { seq, .. } => (Some(*seq), None),
        NewIncr::Temp { path, .. } => (None, Some(path.clone())),
        NewIncr::None => (None, None),
    };
    let at_fork = || match incr {
        NewIncr::Listed { file, .. } => {
            match writer::switch(file) {
                Ok(old) => old_file = old,
                Err(e) => log::warning(&format!("Can't switch the AOF to its new incr file: {e}")),
            }
            // The new file is loaded after the new base: it starts with a SELECT.
            server.effects.reselect();
        }
        NewIncr::Temp { file, .. } => super::attach(server, file),
        NewIncr::None => {}
    };
    let done = move |r: Result<fork::Report, String>, took: Duration| {
        LAST_REWRITE_SECS.store(took.as_secs() as i64, Ordering::Relaxed);
        let installed = r.and_then(|rep| install(&tmp, listed_seq, temp_path.as_deref()).map(|_| rep));
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
                if let Some(path) = &temp_path {
                    // Turning on failed: detach again and retry later (as Redis), unless the AOF
                    // was turned off meanwhile.
                    super::detach_after_failed_start(path);
                }
            }
        }
    };
    REWRITE_STARTED.store(crate::clock::now_ms(), Ordering::Relaxed);
    log::notice("Background append only file rewriting started");
    if let Err(e) = fork::spawn(server, img, at_fork, done) {
        // `spawn` released the slot. A listed incr file stays listed (nothing is lost, the
        // next rewrite folds it in); a temporary one is given up.
        log::warning(&e);
        return Err(FAILED.into());
    }
    REWRITES.fetch_add(1, Ordering::Relaxed);
    // The old incremental file is complete: make its tail durable without blocking anyone.
    if let Some(old) = old_file {
        let _ = std::thread::Builder::new().name("aof-fsync-old".into()).spawn(move || {
            if let Err(e) = old.sync_data() {
                log::warning(&format!("Error syncing the previous AOF incr file: {e}"));
            }
        });
    }
    Ok(Started::Now)
}

fn create(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).truncate(true).write(true).open(path)?;
    OpenOptions::new().append(true).open(path)
}

/// Installs a finished rewrite: `tmp` becomes the next base file and the manifest lists it
/// and the incremental files from `listed_seq` on (AOF on), or the temporary incremental file
/// renamed to the next incremental name (turning on), or nothing else (AOF off); older files go.
fn install(tmp: &Path, listed_seq: Option<i64>, temp_incr: Option<&Path>) -> Result<(), String> {
    let mut guard = MANIFEST.lock();
    let Some(m) = guard.as_mut() else { return Err("the AOF manifest is gone".into()) };
    let seq = m.next_seq(b'b');
    let base = ManifestEntry { name: format!("{}.{seq}.base.rdb", m.fname), seq, kind: b'b' };
    let base_path = m.dir.join(&base.name);
    std::fs::rename(tmp, &base_path).map_err(|e| format!("Error trying to rename the temporary AOF base file: {e}"))?;
    let mut new_entries = vec![base];
    if let Some(from) = listed_seq {
        new_entries.extend(m.entries.iter().filter(|e| e.kind == b'i' && e.seq >= from).cloned());
    }
    if let Some(temp) = temp_incr {
        let seq = m.next_seq(b'i');
        let name = format!("{}.{seq}.incr.aof", m.fname);
        std::fs::rename(temp, m.dir.join(&name))
            .map_err(|e| format!("Error trying to rename the temporary AOF incr file: {e}"))?;
        log::notice(&format!("Successfully renamed the temporary AOF incr file into {name}"));
        new_entries.push(ManifestEntry { name, seq, kind: b'i' });
    }
    let old = std::mem::take(&mut m.entries);
    if let Err(e) = m.store(new_entries) {
        m.entries = old;
        let _ = std::fs::remove_file(&base_path);
        return Err(format!("Can't write the AOF manifest file: {e}"));
    }
    // The new manifest is durable: the old files are history.
    for gone in old.iter().filter(|o| !m.entries.iter().any(|n| n.name == o.name)) {
        log::notice(&format!("Removing the history file {}", gone.name));
        let _ = std::fs::remove_file(m.dir.join(&gone.name));
    }
    BASE_SIZE.store(m.size(b"b"), Ordering::Relaxed);
    {
        // Under the writer's lock the incremental files' sizes and CURRENT_SIZE agree.
        let _w = writer::lock();
        let total = m.size(b"bi");
        writer::CURRENT_SIZE.store(total, Ordering::Relaxed);
        REWRITE_BASE_SIZE.store(total, Ordering::Relaxed);
    }
    if temp_incr.is_some() {
        super::started();
    }
    Ok(())
}

/// `auto-aof-rewrite-percentage` / `auto-aof-rewrite-min-size`: starts a rewrite when the AOF
/// grew by that percentage over its size after the last rewrite (or at start-up) and is above
/// the minimum size. Called by the persistence cron while no child runs. After a failed
/// rewrite it waits 10 s per consecutive failure (at most an hour) before trying again.
pub fn auto_rewrite(server: &Server) {
    if super::mode() != Mode::On || fork::active().is_some() {
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
    let cur = writer::CURRENT_SIZE.load(Ordering::Relaxed);
    let base = REWRITE_BASE_SIZE.load(Ordering::Relaxed).max(1);
    let growth = cur.saturating_sub(base).saturating_mul(100) / base;
    if cur > min && growth >= perc {
        log::notice(&format!("Starting automatic rewriting of AOF on {growth}% growth"));
        if let Err(e) = start_rewrite(server) {
            log::warning(&e);
        }
    }
}
