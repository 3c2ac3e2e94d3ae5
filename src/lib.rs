//! # redstart — a Redis-compatible in-memory data server
//!
//! ## Layout
//! - `resp` (crate `crates/resp`): the wire protocol — request parser and RESP2/RESP3 writer.
//! - [`net`]: listeners and the per-connection loop (read, parse, dispatch, write). No data
//!   types here.
//! - [`cmd`]: the command table, dispatch, and one module per command family. Each family
//!   declares its commands as table rows next to their handlers.
//! - [`db`]: the keyspace — databases split into locked shards, the hash table, values, expiry,
//!   glob matching, WATCH bookkeeping.
//! - [`client`]: per-connection state and the client registry.
//! - [`config`]: redis.conf and command-line directives, CONFIG GET/SET.
//! - [`server`]: the shared state tying these together; [`log`]: Redis-style logging.
//!
//! See `ARCHITECTURE.md` for how the pieces keep Redis's guarantees on many cores.

pub mod client;
pub mod cmd;
pub mod config;
pub mod db;
pub mod log;
pub mod net;
pub mod server;

use std::sync::Arc;
use std::time::Duration;

/// Starts the server with `config` and runs until SHUTDOWN or a signal.
pub async fn run(server: Arc<server::Server>) -> std::io::Result<()> {
    let listeners = net::bind_all(&server).await?;
    let port = server.config.read().port;
    for l in listeners {
        tokio::spawn(net::serve_tcp(server.clone(), l));
    }
    let unix = server.config.read().unixsocket.clone();
    if let Some(path) = unix {
        let _ = std::fs::remove_file(&path);
        let l = tokio::net::UnixListener::bind(&path)?;
        log::notice(&format!("The server is now ready to accept connections at {path}"));
        tokio::spawn(net::serve_unix(server.clone(), l, path));
    }
    log::notice(&format!("Ready to accept connections tcp (port {port})"));
    tokio::spawn(active_expire(server.clone()));
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = server.shutdown.notified() => {}
        _ = tokio::signal::ctrl_c() => log::warning("Received SIGINT scheduling shutdown..."),
        _ = term.recv() => log::warning("Received SIGTERM scheduling shutdown..."),
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
            while s.keyspace.active_expire(4096) > 0 && start.elapsed() < Duration::from_millis(25) {}
        })
        .await;
    }
}
