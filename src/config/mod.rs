//! Configuration: redis.conf parsing, command-line directives, and the values CONFIG GET/SET
//! read and change.
//!
//! (Bootstrap version: `--port` and `--bind` only; the full directive table replaces it.)

#[derive(Clone, Debug)]
pub struct Config {
    pub bind: Vec<String>,
    pub port: u16,
    pub protected_mode: bool,
    pub requirepass: Option<Vec<u8>>,
    pub timeout: u64,
    pub maxclients: usize,
    pub tcp_keepalive: u64,
    pub unixsocket: Option<String>,
    pub databases: usize,
    pub proto_max_bulk_len: i64,
    pub client_query_buffer_limit: usize,
    pub hz: u32,
    pub unixsocketperm: u32,
    pub maxmemory: u64,
    pub maxmemory_policy: String,
    pub dir: String,
    pub dbfilename: String,
    /// `save` rules as (seconds, changes); empty = no snapshots.
    pub save: Vec<(u64, u64)>,
    pub appendonly: bool,
    pub appendfilename: String,
    pub appendfsync: String,
    pub loglevel: String,
    pub logfile: String,
    pub pidfile: String,
    pub daemonize: bool,
    pub notify_keyspace_events: String,
    /// Path of the config file the server was started with ("" if none), for CONFIG REWRITE and INFO.
    pub config_file: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: vec!["127.0.0.1".into(), "-::1".into()],
            port: 6379,
            protected_mode: true,
            requirepass: None,
            timeout: 0,
            maxclients: 10000,
            tcp_keepalive: 300,
            unixsocket: None,
            databases: 16,
            proto_max_bulk_len: 512 * 1024 * 1024,
            client_query_buffer_limit: 1024 * 1024 * 1024,
            hz: 10,
            unixsocketperm: 0,
            maxmemory: 0,
            maxmemory_policy: "noeviction".into(),
            dir: ".".into(),
            dbfilename: "dump.rdb".into(),
            save: vec![(3600, 1), (300, 100), (60, 10000)],
            appendonly: false,
            appendfilename: "appendonly.aof".into(),
            appendfsync: "everysec".into(),
            loglevel: "notice".into(),
            logfile: String::new(),
            pidfile: String::new(),
            daemonize: false,
            notify_keyspace_events: String::new(),
            config_file: String::new(),
        }
    }
}

impl Config {
    /// Parses `redstart [config-file] [--directive value ...]`.
    pub fn from_args(args: &[String]) -> Result<Config, String> {
        let mut c = Config::default();
        let mut i = 0;
        while i < args.len() {
            match args[i].as_str() {
                "--port" => {
                    c.port = args.get(i + 1).and_then(|v| v.parse().ok()).ok_or("bad --port")?;
                    i += 2;
                }
                "--bind" => {
                    c.bind = args.get(i + 1).ok_or("bad --bind")?.split_whitespace().map(String::from).collect();
                    i += 2;
                }
                // Minimal bootstrap support so AUTH can be tested; the directive table replaces it.
                "--requirepass" => {
                    let pw = args.get(i + 1).ok_or("bad --requirepass")?;
                    c.requirepass = if pw.is_empty() { None } else { Some(pw.as_bytes().to_vec()) };
                    i += 2;
                }
                other => return Err(format!("unsupported argument {other}")),
            }
        }
        Ok(c)
    }
}
