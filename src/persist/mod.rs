//! Persistence: RDB snapshots and the append-only file.
//!
//! - [`rdb`]: the file format.
//! - [`aof`]: the append-only file (propagation, loading, rewrite).
//! - [`fork`]: point-in-time snapshots in a forked child (BGSAVE, BGREWRITEAOF).
//! - Here: the server's persistence state (changes since the last save, last save time and
//!   status, BGSAVE in progress), `SAVE`/`BGSAVE`, the `save <seconds> <changes>` rules,
//!   scheduled BGSAVEs/rewrites and the automatic AOF rewrite (a timer, [`cron`]), loading at
//!   start-up ([`load`]) and saving at shutdown ([`save_on_shutdown`]).
//!
//! ## How a snapshot is taken
//! As in Redis: `BGSAVE` forks (see `fork`'s module comment). The fork happens with every shard
//! locked, so the file is one point in time (no multi-key command or transaction is
//! half-captured); clients wait only for the fork itself, and the memory overhead is the pages
//! the server modifies while the child runs (copy-on-write, INFO `rdb_last_cow_size`).
//! `SAVE` (and the save at shutdown) writes in the server process while holding every shard,
//! which blocks clients for the duration as Redis's SAVE does, and is equally one point in time.
//! A running child is killed at shutdown before the final save, as Redis does.
//!
//! ## Other differences
//! - The file is loaded before the server accepts connections, so clients never see
//!   `-LOADING` (INFO reports `loading:0`).
//! - The change counter (`rdb_changes_since_last_save`) counts successful write commands, not
//!   Redis's per-element changes; a write that changed nothing (`DEL` of a missing key) counts.
//! - Streams are saved as Redis 7.0 does (`STREAM_LISTPACKS_2`); consumers' 7.2 active time
//!   is not part of that layout and is lost on save (see `rdb/mod.rs`).
//! - `dir` is resolved at start-up by the config (chdir, as Redis); paths are joined to `dir`
//!   so that a later `CONFIG SET dir` takes effect without chdir.

pub mod aof;
pub mod check_aof;
pub mod fork;
pub mod rdb;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use crate::clock::now_ms;
use crate::log;
use crate::server::Server;

/// Persistence state shared by the commands, the cron and INFO.
pub struct State {
    /// Write commands since the last successful save.
    pub dirty: Dirty,
    /// Unix time (s) of the last successful save (start time until then).
    pub lastsave: AtomicU64,
    pub bgsave_in_progress: AtomicBool,
    /// Unix time (s) the running BGSAVE started.
    pub bgsave_started: AtomicU64,
    pub bgsave_scheduled: AtomicBool,
    pub last_bgsave_ok: AtomicBool,
    /// Unix time (s) of the last BGSAVE attempt (failed ones are retried after 5 s).
    pub last_bgsave_try: AtomicU64,
    pub last_bgsave_secs: AtomicI64,
    pub saves: AtomicU64,
    /// Copy-on-write bytes of the last successful BGSAVE child (INFO `rdb_last_cow_size`).
    pub last_cow: AtomicU64,
    pub loading: AtomicBool,
    pub keys_loaded: AtomicU64,
    pub keys_expired_at_load: AtomicU64,
    server: OnceLock<Weak<Server>>,
    tmp_seq: AtomicU64,
}

impl State {
    /// The server, for work done outside any command (background saves, the AOF's detaching).
    pub fn server(&self) -> Option<Arc<Server>> {
        self.server.get().and_then(Weak::upgrade)
    }

    pub fn new(now_unix: u64) -> State {
        State {
            dirty: Dirty::default(),
            lastsave: AtomicU64::new(now_unix),
            bgsave_in_progress: AtomicBool::new(false),
            bgsave_started: AtomicU64::new(0),
            bgsave_scheduled: AtomicBool::new(false),
            last_bgsave_ok: AtomicBool::new(true),
            last_bgsave_try: AtomicU64::new(0),
            last_bgsave_secs: AtomicI64::new(-1),
            saves: AtomicU64::new(0),
            last_cow: AtomicU64::new(0),
            loading: AtomicBool::new(false),
            keys_loaded: AtomicU64::new(0),
            keys_expired_at_load: AtomicU64::new(0),
            server: OnceLock::new(),
            tmp_seq: AtomicU64::new(0),
        }
    }
}

/// The persistence state (one server per process, like the AOF's).
pub fn state() -> &'static State {
    static STATE: OnceLock<State> = OnceLock::new();
    STATE.get_or_init(|| State::new(unix_now()))
}

/// Lets background saves reach the server (call once at start-up).
pub fn init(server: &Arc<Server>) {
    let _ = state().server.set(Arc::downgrade(server));
}

fn unix_now() -> u64 {
    now_ms() / 1000
}

/// Counts one successful write command (the dispatcher calls this).
#[inline]
pub fn note_write(_server: &Server) {
    crate::stats::add(crate::stats::Global::Writes, 1);
}

/// `rdb_changes_since_last_save`: the write commands counted by every thread (per-thread
/// counters, so cores do not share a cache line per write) minus those a save has covered.
#[derive(Default)]
pub struct Dirty {
    covered: AtomicU64,
}

impl Dirty {
    /// Changes not covered by a save yet.
    pub fn get(&self) -> u64 {
        crate::stats::total(crate::stats::Global::Writes).saturating_sub(self.covered.load(Ordering::Relaxed))
    }
    /// A save covered `n` changes (the count it read when it started).
    pub fn covered(&self, n: u64) {
        self.covered.fetch_add(n, Ordering::Relaxed);
    }
    /// Every change so far is covered (after loading a file).
    pub fn reset(&self) {
        self.covered.store(crate::stats::total(crate::stats::Global::Writes), Ordering::Relaxed);
    }
}

/// Redis's `-MISCONF` condition: the last BGSAVE failed, save points are set and
/// `stop-writes-on-bgsave-error` is on.
pub fn writes_refused(server: &Server) -> bool {
    if crate::persist::state().last_bgsave_ok.load(Ordering::Relaxed) {
        return false;
    }
    let c = server.config.read();
    !c.save.is_empty() && c.get("stop-writes-on-bgsave-error") == "yes"
}

pub const MISCONF: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

/// The RDB file's path (`dir` joined with `dbfilename`).
pub fn rdb_path(server: &Server) -> PathBuf {
    let c = server.config.read();
    let dir = if c.dir.is_empty() { "." } else { c.dir.as_str() };
    PathBuf::from(dir).join(&c.dbfilename)
}

/// A temporary file next to `dbfilename` for a save in progress.
fn tmp_rdb_path(path: &std::path::Path) -> PathBuf {
    let seq = crate::persist::state().tmp_seq.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!("temp-{}-{seq}.rdb", std::process::id()))
}

/// The RDB image to write for SAVE/BGSAVE (config read here, before any fork).
fn rdb_image(server: &Server) -> fork::Image {
    let path = rdb_path(server);
    let (compress, checksum) = {
        let c = server.config.read();
        (c.get("rdbcompression") == "yes", c.get("rdbchecksum") == "yes")
    };
    fork::Image { tmp: tmp_rdb_path(&path), rename_to: Some(path), compress, checksum, aof_base: false }
}

/// `SAVE` (and the save at shutdown): a synchronous snapshot. As Redis's SAVE blocks its only
/// thread, this holds every shard while it writes, so the file is one point in time.
pub fn save(server: &Server) -> Result<(), String> {
    let st = crate::persist::state();
    let img = rdb_image(server);
    let result = {
        let mut locks = server.keyspace.lock_all();
        let dirty_before = st.dirty.get();
        fork::write_image(&mut locks, &server.keyspace, &img, now_ms(), 0, None).map(|_| dirty_before)
    };
    match result {
        Ok(dirty_before) => {
            st.dirty.covered(dirty_before);
            st.lastsave.store(unix_now(), Ordering::Relaxed);
            st.last_bgsave_ok.store(true, Ordering::Relaxed);
            st.saves.fetch_add(1, Ordering::Relaxed);
            log::notice("DB saved on disk");
            Ok(())
        }
        Err(e) => {
            log::warning(&e);
            Err(e)
        }
    }
}

pub const BGSAVE_IN_PROGRESS: &str = "ERR Background save already in progress";
pub const BGSAVE_OTHER_CHILD: &str = "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.";

/// Starts a background save in a forked child (see `fork`); the caller holds no shard lock.
/// `Err` with Redis's message when a child is already running.
pub fn bgsave(server: &Server) -> Result<(), &'static str> {
    let st = crate::persist::state();
    if st.server.get().and_then(Weak::upgrade).is_none() {
        return Err("ERR Background save is not available");
    }
    if !fork::claim(fork::Kind::Rdb) {
        return Err(if fork::active() == Some(fork::Kind::Rdb) { BGSAVE_IN_PROGRESS } else { BGSAVE_OTHER_CHILD });
    }
    st.bgsave_scheduled.store(false, Ordering::Relaxed);
    st.bgsave_started.store(unix_now(), Ordering::Relaxed);
    st.last_bgsave_try.store(unix_now(), Ordering::Relaxed);
    st.bgsave_in_progress.store(true, Ordering::Release);
    let img = rdb_image(server);
    // Changes counted up to the fork point are the ones the file holds (read with every shard
    // locked, so no write command is between its change and its count).
    let dirty_at_fork = Arc::new(AtomicU64::new(0));
    let at_fork = {
        let d = dirty_at_fork.clone();
        move || d.store(crate::persist::state().dirty.get(), Ordering::Relaxed)
    };
    let done = move |r: Result<fork::Report, String>, took: Duration| {
        let st = crate::persist::state();
        let ok = match r {
            Ok(rep) => {
                st.dirty.covered(dirty_at_fork.load(Ordering::Relaxed));
                st.lastsave.store(unix_now(), Ordering::Relaxed);
                st.saves.fetch_add(1, Ordering::Relaxed);
                st.last_cow.store(rep.cow_bytes, Ordering::Relaxed);
                log::notice(&format!(
                    "RDB: {} keys saved, {} MB of memory used by copy-on-write",
                    rep.keys,
                    rep.cow_bytes >> 20
                ));
                log::notice("Background saving terminated with success");
                true
            }
            Err(e) => {
                log::warning(&e);
                log::warning("Background saving error");
                false
            }
        };
        st.last_bgsave_ok.store(ok, Ordering::Relaxed);
        st.last_bgsave_secs.store(took.as_secs() as i64, Ordering::Relaxed);
        st.bgsave_in_progress.store(false, Ordering::Release);
    };
    log::notice("Background saving started");
    if let Err(e) = fork::spawn(server, img, at_fork, done) {
        log::warning(&e);
        st.bgsave_in_progress.store(false, Ordering::Release);
        st.last_bgsave_ok.store(false, Ordering::Relaxed);
        return Err("ERR Background save failed to start");
    }
    Ok(())
}

/// The save rules, scheduled BGSAVEs and AOF rewrites, and the automatic AOF rewrite, checked
/// ten times a second while no child runs.
pub async fn cron(server: Arc<Server>) {
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let st = crate::persist::state();
        if fork::active().is_some() {
            continue;
        }
        if aof::rewrite_scheduled() {
            if let Err(e) = aof::start_rewrite(&server) {
                log::warning(&e);
            }
            continue;
        }
        if st.bgsave_scheduled.load(Ordering::Relaxed) {
            let _ = bgsave(&server);
            continue;
        }
        let now = unix_now();
        let dirty = st.dirty.get();
        let since = now.saturating_sub(st.lastsave.load(Ordering::Relaxed));
        // After a failed BGSAVE, retry only every 5 seconds (as Redis).
        let may_try = st.last_bgsave_ok.load(Ordering::Relaxed)
            || now.saturating_sub(st.last_bgsave_try.load(Ordering::Relaxed)) >= 5;
        let rule =
            server.config.read().save.iter().find(|&&(secs, changes)| dirty >= changes && since >= secs).copied();
        if let (Some((secs, changes)), true) = (rule, may_try) {
            if dirty > 0 {
                log::notice(&format!("{changes} changes in {secs} seconds. Saving..."));
                let _ = bgsave(&server);
                continue;
            }
        }
        aof::auto_rewrite(&server);
    }
}

/// Saves before exiting when asked (`SHUTDOWN SAVE`) or by default when save points are set,
/// unless `nosave`. `Err` means the save failed and the server must keep running.
pub fn save_on_shutdown(server: &Server, force_save: bool, nosave: bool) -> Result<(), String> {
    let wanted = force_save || (!nosave && !server.config.read().save.is_empty());
    // As Redis: a running child is stopped first (its work would be outdated or lost anyway).
    fork::kill_child();
    if !wanted {
        return Ok(());
    }
    log::notice("Saving the final RDB snapshot before exiting.");
    save(server).inspect_err(|_| log::warning("Error trying to save the DB, can't exit."))
}

/// Loads the RDB file at start-up, before connections are accepted. A missing file is an
/// empty dataset; a damaged one is an error (the server refuses to start).
pub fn load(server: &Server) -> Result<(), String> {
    let path = rdb_path(server);
    let data = match std::fs::read(&path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("Fatal error loading the DB: {e}. Exiting.")),
    };
    let st = crate::persist::state();
    st.loading.store(true, Ordering::Relaxed);
    let start = Instant::now();
    let lim = load_limits(server);
    let ks = &server.keyspace;
    let now = now_ms();
    let (mut loaded, mut expired) = (0u64, 0u64);
    let mut dup = None;
    let result = rdb::parse_file(&data, &lim, ks.databases(), |k| {
        if k.expire_at != 0 && k.expire_at <= now {
            expired += 1;
            return;
        }
        if insert(server, k, now).is_err() && dup.is_none() {
            dup = Some(());
        }
        loaded += 1;
    });
    st.loading.store(false, Ordering::Relaxed);
    let result = result.and_then(|i| if dup.is_some() { Err("Duplicate key found in RDB file".into()) } else { Ok(i) });
    // A parse error in a file whose trailing checksum does not match its contents: say so,
    // since the cause is damage rather than a format this reader does not know.
    let result = result.map_err(|e| {
        let n = data.len();
        if n >= 17 && !e.starts_with("Wrong RDB checksum") {
            let stored = u64::from_le_bytes(data[n - 8..].try_into().expect("8 bytes"));
            if stored != 0 && stored != rdb::crc64(0, &data[..n - 8]) {
                return format!("{e}; the file's checksum does not match its contents: it is damaged or truncated");
            }
        }
        e
    });
    match result {
        Ok(_) => {
            st.keys_loaded.store(loaded, Ordering::Relaxed);
            st.keys_expired_at_load.store(expired, Ordering::Relaxed);
            log::notice(&format!("Done loading RDB, keys loaded: {loaded}, keys expired: {expired}."));
            log::notice(&format!("DB loaded from disk: {:.3} seconds", start.elapsed().as_secs_f64()));
            Ok(())
        }
        Err(e) => {
            Err(format!("Short read or OOM loading DB. Unrecoverable error, aborting now. ({}: {e})", path.display()))
        }
    }
}

/// The server's encoding limits, applied to loaded values.
pub fn load_limits(server: &Server) -> rdb::LoadLimits {
    let c = server.config.read();
    rdb::LoadLimits {
        hash: crate::types::hash::HashLimits { entries: c.hash_max_listpack_entries, value: c.hash_max_listpack_value },
        set: crate::types::set::SetLimits {
            intset_entries: c.set_max_intset_entries,
            listpack_entries: c.set_max_listpack_entries,
            listpack_value: c.set_max_listpack_value,
        },
        zset: crate::types::zset::Limits {
            max_entries: c.zset_max_listpack_entries,
            max_value: c.zset_max_listpack_value,
        },
        fill: crate::types::list::Fill::from_config(c.list_max_listpack_size),
    }
}

/// Inserts one loaded key straight into its shard's table (no WATCH flags, notifications or
/// blocked-client wake-ups: nobody is connected yet). `Err` on a duplicate key.
pub(crate) fn insert(server: &Server, k: rdb::Loaded, now: u64) -> Result<(), ()> {
    let ks = &server.keyspace;
    let h = ks.hash(&k.key);
    let sid = ks.shard_of(&k.key);
    let mut locks = ks.lock_shards(&[sid]);
    let shard = locks.shard(sid);
    if shard.dbs[k.db].find(h, &k.key).is_some() {
        return Err(());
    }
    // IDLE and FREQ records set the access clock or the LFU counter, by the policy.
    let lru = crate::db::evict::restored(now, k.idle, k.freq).unwrap_or_else(|| crate::db::evict::initial(now));
    shard.dbs[k.db].insert(h, &k.key, k.value, lru, k.expire_at);
    Ok(())
}
