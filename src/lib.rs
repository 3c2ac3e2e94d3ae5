//! # redstart — a Redis-compatible in-memory data server
//!
//! ## Layout
//! From the bottom layer up (each uses only those before it; `tests/layering.rs` checks it):
//! - `resp` (crate `crates/resp`): the wire protocol — request parser and RESP2/RESP3 writer.
//! - [`clock`], [`alloc`], [`log`], [`stats`]: wall-clock readings, the counting allocator
//!   (`used_memory`), Redis-style logging, per-thread counters summed when read.
//! - [`types`]: pure data structures behind the value types (no I/O, no commands).
//! - [`config`]: redis.conf and command-line directives; modules that keep a setting in an
//!   atomic subscribe to changes.
//! - [`net::workers`]: the per-core I/O threads and connection placement.
//! - [`db`]: the keyspace — databases split into locked shards, the hash table, values,
//!   expiry (one path), eviction, lazy freeing, blocked-client state, glob matching, WATCH. It
//!   reports what it does by itself (expired keys, new keys, misses) as effects in the
//!   command's locks, and calls nothing above it.
//! - [`pubsub`]: the pub/sub registry and subscriber mailboxes.
//! - [`client`]: per-connection state and the client registry.
//! - [`notify`]: keyspace notifications (event classes → pub/sub messages).
//! - [`propagate`]: the effects stream — the one door through which changes leave the
//!   keyspace, in execution units, to its consumers (the AOF; later, replicas).
//! - [`server`]: the shared state tying these together.
//! - [`persist`]: RDB files, the AOF (a consumer of the effects stream), fork-based snapshots.
//! - [`cmd`]: the command table, dispatch, a command's effects, and one module per command
//!   family. Each family declares its commands as table rows next to their handlers.
//! - [`net`]: listeners and the per-connection loop (read, parse, dispatch, write). No data
//!   types here.
//! - This file: start-up, shutdown and the active expiry timer, wiring the layers together.
//!
//! See `ARCHITECTURE.md` for how the pieces keep Redis's guarantees on many cores.

pub mod alloc;
pub mod client;
pub mod clock;
pub mod cmd;
pub mod config;
pub mod db;
pub mod latency;
pub mod log;
pub mod net;
pub mod notify;
pub mod persist;
pub mod propagate;
pub mod pubsub;
pub mod server;
pub mod slowlog;
pub mod stats;
pub mod types;

use std::sync::Arc;
use std::time::Duration;

/// Starts the server with `config` and runs until SHUTDOWN or a signal: binds the TCP
/// listeners and the Unix socket, writes the pidfile, and on the way out removes the pidfile and
/// the socket file.
pub async fn run(server: Arc<server::Server>) -> std::io::Result<()> {
    // The dataset is loaded before any connection is accepted (so no client sees -LOADING).
    persist::init(&server);
    // With appendonly yes the AOF is loaded instead of the RDB file, as in Redis.
    if !persist::aof::start(&server, &mut cmd::dispatch::Replay::new(&server)).map_err(std::io::Error::other)? {
        persist::load(&server).map_err(std::io::Error::other)?;
    }
    net::listen(&server).map_err(std::io::Error::other)?;
    let (unix, perm, pidfile) = {
        let c = server.config.read();
        (c.unixsocket.clone(), c.unixsocketperm, c.pidfile.clone())
    };
    if let Some(path) = &unix {
        let l = net::bind_unix(path, perm)
            .map_err(|e| std::io::Error::new(e.kind(), format!("Failed opening Unix socket: {e}")))?;
        log::notice("Ready to accept connections unix");
        tokio::spawn(net::serve_unix(server.clone(), l, path.clone()));
    }
    if !pidfile.is_empty() {
        if let Err(e) = std::fs::write(&pidfile, format!("{}\n", std::process::id())) {
            log::warning(&format!("Failed to write PID file: {e}"));
        }
    }
    log::notice("Ready to accept connections tcp");
    alloc::mark_startup();
    tokio::spawn(active_expire(server.clone()));
    tokio::spawn(persist::cron(server.clone()));
    tokio::spawn(persist::aof::fsync_task());
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        let signal = tokio::select! {
            // SHUTDOWN saved (or chose not to) before notifying.
            _ = server.shutdown.notified() => false,
            _ = tokio::signal::ctrl_c() => { log::warning("Received SIGINT scheduling shutdown..."); true }
            _ = term.recv() => { log::warning("Received SIGTERM scheduling shutdown..."); true }
        };
        log::warning("User requested shutdown...");
        // On a signal, save when save points are set; if that fails keep running, as Redis.
        if !signal || persist::save_on_shutdown(&server, false, false).is_ok() {
            break;
        }
    }
    persist::aof::fsync_now();
    if !pidfile.is_empty() {
        log::notice("Removing the pid file.");
        let _ = std::fs::remove_file(&pidfile);
    }
    if let Some(path) = &unix {
        log::notice("Removing the unix socket file.");
        let _ = std::fs::remove_file(path);
    }
    log::warning("redstart is now ready to exit, bye bye...");
    Ok(())
}

/// The background expiry cycle: `hz` times a second, reclaim keys whose TTL passed, so keys
/// that are never touched again still go away. Each pass is bounded per shard; when a pass
/// finds many expired keys it runs again at once.
async fn active_expire(server: Arc<server::Server>) {
    loop {
        let hz = server.config.read().hz.clamp(1, 500);
        tokio::time::sleep(Duration::from_millis(1000 / hz as u64)).await;
        let s = server.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let start = std::time::Instant::now();
            // Up to ~25 ms of work per tick, as Redis's slow cycle allows about 25% of a core.
            // Each key's `expired` event and its `DEL` (`UNLINK` under lazyfree-lazy-expire)
            // leave while the key's shard is locked, each as a unit of its own.
            let del = propagate::deletion(db::lazyfree::enabled(db::lazyfree::Flag::Expire));
            let mut on_expired = |db: usize, key: &[u8]| {
                notify::publish(&s.pubsub, notify::EXPIRED, db, "expired", key, None);
                s.effects.emit_one(db, &[del, key]);
            };
            if s.keyspace.active_expire.load(std::sync::atomic::Ordering::Relaxed) {
                while s.keyspace.active_expire_with(4096, &mut on_expired) > 0
                    && start.elapsed() < Duration::from_millis(25)
                {}
            }
            // The blocking pool's threads may exit when idle: publish their memory counts.
            alloc::flush();
            alloc::release_free_memory(clock::now_ms(), 1_000);
        })
        .await;
    }
}
