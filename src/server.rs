//! The state every connection shares: keyspace, configuration, clients and statistics.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::Notify;

use crate::client::Clients;
use crate::config::{Config, ConfigCell};
use crate::db::Keyspace;
use crate::propagate::Stream;
use crate::pubsub::PubSub;

/// Server-wide counters reported by INFO.
#[derive(Default)]
pub struct Stats {
    pub total_connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
}

/// Replaces the TCP listeners: `bind` addresses, `port`, `tcp-backlog`.
pub type Rebind = fn(&[String], u16, u32) -> Result<(), String>;

pub struct Server {
    pub keyspace: Keyspace,
    pub config: ConfigCell,
    pub clients: Clients,
    /// Channel, pattern and shard-channel subscriptions.
    pub pubsub: PubSub,
    /// The effects stream: every change leaving the keyspace, for the AOF (and replicas).
    pub effects: Stream,
    /// Replaces the TCP listeners (`bind`, `port`, `tcp-backlog`); set by the network layer
    /// when it starts listening, called by CONFIG SET port/bind. `Err` is the reason to report.
    pub rebind: OnceLock<Rebind>,
    pub stats: Stats,
    pub started: Instant,
    pub started_unix: u64,
    /// 40 hex characters, new at every start (INFO `run_id`).
    pub run_id: String,
    /// Notified when SHUTDOWN (or a signal) asks the server to stop.
    pub shutdown: Notify,
    /// Executable path and config file, for INFO.
    pub executable: String,
    pub config_file: String,
}

impl Server {
    pub fn new(config: Config, executable: String, config_file: String) -> Arc<Server> {
        let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let started_unix = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let run_id: String = (0..40).map(|_| format!("{:x}", rand::random::<u8>() & 15)).collect();
        let server = Arc::new(Server {
            keyspace: Keyspace::new(config.databases, (threads * 16).max(32)),
            config: ConfigCell::new(config),
            clients: Clients::default(),
            pubsub: PubSub::default(),
            effects: Stream::default(),
            rebind: OnceLock::new(),
            stats: Stats::default(),
            started: Instant::now(),
            started_unix,
            run_id,
            shutdown: Notify::new(),
            executable,
            config_file,
        });
        // The modules that keep configuration values in atomics follow every change.
        let owners: [fn(&Config); 8] = [
            crate::db::evict::configure,
            crate::db::lazyfree::configure,
            crate::notify::configure,
            crate::pubsub::configure,
            crate::client::configure,
            |c| crate::types::hll::set_sparse_max_bytes(c.hll_sparse_max_bytes),
            crate::slowlog::configure,
            crate::latency::configure,
        ];
        for f in owners {
            server.config.subscribe(f);
        }
        server
    }
}
