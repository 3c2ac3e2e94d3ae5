//! Configuration: redis.conf parsing, command-line directives, and the values CONFIG GET/SET
//! read and change.
//!
//! - [`directives`]: the declarative directive table (types, defaults, mutability, mapping to
//!   the typed fields of [`Config`]).
//! - [`rewrite`]: CONFIG REWRITE.
//! - This module: the [`Config`] struct, the redis.conf reader (comments, quoting through
//!   `resp::split_args`, `include`, repeated directives) and the command line
//!   (`redstart [/path/to/redis.conf | -] [--directive value ...]`).
//!
//! Differences from Redis: the error header names redstart and the error position names the
//! file (or the command line); `bind` defaults to `127.0.0.1 -::1` (Redis's compiled-in default is
//! `* -::*`, its shipped redis.conf uses ours); `daemonize yes` is accepted but redstart stays in
//! the foreground; `rename-command`, `user` and `loadmodule` lines are accepted and ignored.

pub mod cell;
pub mod directives;
pub mod rewrite;

pub use cell::ConfigCell;

use std::collections::{BTreeMap, HashSet};

use directives::{Directive, DIRECTIVES};

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
    /// `list-max-listpack-size` (list node limits).
    pub list_max_listpack_size: i64,
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
    pub tcp_backlog: u32,
    pub dynamic_hz: bool,
    pub maxmemory_samples: u32,
    pub appenddirname: String,
    /// Encoding thresholds of hashes and sets (`hash-max-listpack-*`, `set-max-*`).
    pub hash_max_listpack_entries: usize,
    pub hash_max_listpack_value: usize,
    pub set_max_intset_entries: usize,
    pub set_max_listpack_entries: usize,
    pub set_max_listpack_value: usize,
    /// `zset-max-listpack-entries` / `zset-max-listpack-value` (sorted-set encoding thresholds).
    pub zset_max_listpack_entries: usize,
    pub zset_max_listpack_value: usize,
    /// `stream-node-max-entries` / `stream-node-max-bytes` (stream node size limits; read on
    /// every XADD, so typed here rather than parsed from `values`).
    pub stream_node_max_entries: u64,
    pub stream_node_max_bytes: u64,
    /// `hll-sparse-max-bytes`: the longest sparse HyperLogLog before it becomes dense.
    pub hll_sparse_max_bytes: usize,
    /// `rename-command` lines from the config file (recognised, not applied yet).
    pub rename_commands: Vec<(String, String)>,
    /// Every directive's canonical value as CONFIG GET prints it, by directive name. The typed
    /// fields above are derived from these by each directive's `apply`.
    pub values: BTreeMap<&'static str, String>,
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
            list_max_listpack_size: -2,
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
            tcp_backlog: 511,
            dynamic_hz: true,
            maxmemory_samples: 5,
            appenddirname: "appendonlydir".into(),
            hash_max_listpack_entries: 512,
            hash_max_listpack_value: 64,
            set_max_intset_entries: 512,
            set_max_listpack_entries: 128,
            set_max_listpack_value: 64,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            stream_node_max_entries: 100,
            stream_node_max_bytes: 4096,
            hll_sparse_max_bytes: 3000,
            rename_commands: Vec::new(),
            values: DIRECTIVES.iter().map(|d| (d.name, d.default.to_string())).collect(),
        }
    }
}

/// What the command line asks for.
pub enum Startup {
    Run(Box<Config>),
    Version,
    Help,
}

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub fn version_line() -> String {
    format!("redstart v={VERSION} (Redis 7.2 compatible) bits=64 build=rust")
}

pub fn usage() -> String {
    "Usage: ./redstart [/path/to/redis.conf] [options] [-]\n       \
     ./redstart - (read config from stdin)\n       \
     ./redstart -v or --version\n       \
     ./redstart -h or --help\n\n\
     Examples:\n       \
     ./redstart (run the server with default config)\n       \
     ./redstart /etc/redis/6379.conf\n       \
     ./redstart --port 7777\n       \
     ./redstart --port 7777 --replicaof 127.0.0.1 8888\n       \
     ./redstart /etc/myredis.conf --loglevel verbose -\n       \
     ./redstart /etc/myredis.conf --loglevel verbose\n"
        .to_string()
}

/// Where a configuration line came from, for error messages.
struct Source<'a> {
    name: &'a str,
    line: usize,
    text: String,
}

fn fatal(src: &Source, msg: &str) -> String {
    format!(
        "\n*** FATAL CONFIG FILE ERROR (redstart {VERSION}) ***\nReading the configuration file, at line {} of {}\n>>> '{}'\n{msg}\n",
        src.line, src.name, src.text
    )
}

/// Quotes a value as Redis shows command-line arguments in errors (and CONFIG REWRITE writes
/// values that need it): double quotes, backslash escapes, `\xHH` for other bytes.
pub fn repr(s: &str) -> String {
    let mut out = String::from("\"");
    for b in s.bytes() {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            7 => out.push_str("\\a"),
            8 => out.push_str("\\b"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

struct Loader {
    cfg: Config,
    /// Directives already seen in this load (a repeated `save` adds rules instead of replacing).
    seen: HashSet<&'static str>,
}

impl Loader {
    /// Applies one directive line (already split).
    fn directive(&mut self, src: &Source, args: &[String], depth: usize) -> Result<(), String> {
        let name = args[0].to_ascii_lowercase();
        let rest = &args[1..];
        match name.as_str() {
            "include" => {
                if rest.len() != 1 {
                    return Err(fatal(src, "Bad directive or wrong number of arguments"));
                }
                if depth >= 16 {
                    return Err(fatal(src, "Too many nested includes"));
                }
                return self.file(&rest[0], depth + 1);
            }
            "rename-command" => {
                if rest.len() != 2 {
                    return Err(fatal(src, "wrong number of arguments"));
                }
                crate::log::warning("rename-command is recognised but not implemented yet; ignored");
                self.cfg.rename_commands.push((rest[0].clone(), rest[1].clone()));
                return Ok(());
            }
            "user" | "loadmodule" => {
                crate::log::warning(&format!("'{name}' is recognised but not implemented yet; ignored"));
                return Ok(());
            }
            _ => {}
        }
        let Some(d) = directives::find(&name) else {
            return Err(fatal(src, "Bad directive or wrong number of arguments"));
        };
        // A bare `save` is what tools write for `save ""`: Redis accepts it (see `Kind::Save`).
        if rest.is_empty() && !matches!(d.kind, directives::Kind::Save) {
            return Err(fatal(src, "wrong number of arguments"));
        }
        let current = self.cfg.values.get(d.name).cloned().unwrap_or_default();
        let v = directives::parse(d, rest, &current, self.seen.contains(d.name)).map_err(|m| fatal(src, &m))?;
        self.seen.insert(d.name);
        self.cfg.set(d, v);
        Ok(())
    }

    fn text(&mut self, text: &str, name: &str, depth: usize) -> Result<(), String> {
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim_matches(|c: char| c == ' ' || c == '\t' || c == '\r' || c == '\n');
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let src = Source { name, line: n + 1, text: line.to_string() };
            let Some(args) = resp::split_args(line.as_bytes()) else {
                return Err(fatal(&src, "Unbalanced quotes in configuration line"));
            };
            if args.is_empty() {
                continue;
            }
            let args: Vec<String> = args.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect();
            self.directive(&src, &args, depth)?;
        }
        Ok(())
    }

    fn file(&mut self, path: &str, depth: usize) -> Result<(), String> {
        let text = std::fs::read(path).map_err(|e| {
            format!("{}:C # Fatal error, can't open config file '{path}': {}", std::process::id(), io_reason(&e))
        })?;
        self.text(&String::from_utf8_lossy(&text), path, depth)
    }
}

/// The OS's text for an I/O error without Rust's " (os error N)" suffix, as strerror gives it.
pub fn io_reason(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(p) => s[..p].to_string(),
        None => s,
    }
}

impl Config {
    /// Stores a validated canonical value and updates the typed field it maps to.
    pub fn set(&mut self, d: &'static Directive, canonical: String) {
        if let Some(apply) = d.apply {
            apply(self, &canonical);
        }
        self.values.insert(d.name, canonical);
    }

    /// The canonical value of directive `name` (its primary name).
    pub fn get(&self, name: &str) -> &str {
        self.values.get(name).map(|s| s.as_str()).unwrap_or("")
    }

    /// Parses `redstart [config-file | -] [--directive value ...]`. The error is the full text
    /// to print (Redis's fatal-config format) before exiting with status 1.
    pub fn from_args(args: &[String]) -> Result<Config, String> {
        match Config::startup(args, &mut std::io::stdin().lock())? {
            Startup::Run(c) => Ok(*c),
            Startup::Version | Startup::Help => Err(String::new()),
        }
    }

    /// Like [`Config::from_args`], telling `--version`/`--help` apart; `stdin` is read for `-`.
    pub fn startup(args: &[String], stdin: &mut dyn std::io::Read) -> Result<Startup, String> {
        if let Some(first) = args.first() {
            match first.as_str() {
                "-v" | "--version" => return Ok(Startup::Version),
                "-h" | "--help" => return Ok(Startup::Help),
                _ => {}
            }
        }
        let mut loader = Loader { cfg: Config::default(), seen: HashSet::new() };
        let mut i = 0;
        if let Some(first) = args.first() {
            if !first.starts_with("--") && first != "-" {
                let abs = std::fs::canonicalize(first).map(|p| p.display().to_string()).unwrap_or(first.clone());
                loader.file(first, 0)?;
                loader.cfg.config_file = abs;
                i = 1;
            }
        }
        // Directives from the command line, one "line" per `--name`.
        let mut lines: Vec<Vec<String>> = Vec::new();
        let mut read_stdin = false;
        while i < args.len() {
            let a = &args[i];
            if let Some(name) = a.strip_prefix("--") {
                lines.push(vec![name.to_string()]);
                // `--save` with no value means `save ""`, as in Redis.
                if name.eq_ignore_ascii_case("save") && args.get(i + 1).is_none_or(|n| n.starts_with("--")) {
                    lines.last_mut().unwrap().push(String::new());
                }
            } else if a == "-" {
                read_stdin = true;
            } else {
                match lines.last_mut() {
                    Some(l) => l.push(a.clone()),
                    None => {
                        let src = Source { name: "the command line", line: 1, text: a.clone() };
                        return Err(fatal(&src, "Bad directive or wrong number of arguments"));
                    }
                }
            }
            i += 1;
        }
        if read_stdin {
            let mut text = String::new();
            let _ = stdin.read_to_string(&mut text);
            loader.text(&text, "stdin", 0)?;
        }
        // As in Redis, the file, stdin and the command line are one load: a `--save` adds to
        // the file's `save` rules (`--save ""` clears them).
        for (n, l) in lines.iter().enumerate() {
            let mut text = l[0].clone();
            for v in &l[1..] {
                text.push(' ');
                text.push_str(&repr(v));
            }
            let src = Source { name: "the command line", line: n + 1, text };
            loader.directive(&src, l, 0)?;
        }
        let mut cfg = loader.cfg;
        cfg.resolve_dir()?;
        Ok(Startup::Run(Box::new(cfg)))
    }

    /// Enters `dir` (Redis works inside its data directory) and records its absolute path,
    /// which is what CONFIG GET dir prints.
    fn resolve_dir(&mut self) -> Result<(), String> {
        let dir = self.get("dir").to_string();
        if !dir.is_empty() {
            std::env::set_current_dir(&dir).map_err(|e| format!("Can't chdir to '{dir}': {}", io_reason(&e)))?;
        }
        let abs = std::env::current_dir().map(|p| p.display().to_string()).unwrap_or_else(|_| ".".into());
        self.values.insert("dir", abs.clone());
        self.dir = abs;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start(args: &[&str], stdin: &str) -> Result<Config, String> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        match Config::startup(&args, &mut stdin.as_bytes())? {
            Startup::Run(c) => Ok(*c),
            _ => panic!("not a run"),
        }
    }

    #[test]
    fn defaults_agree_with_the_table() {
        let base = Config::default();
        let mut applied = Config::default();
        for d in DIRECTIVES.iter().filter(|d| d.name != "dir") {
            applied.set(d, d.default.to_string());
        }
        assert_eq!(format!("{base:?}"), format!("{applied:?}"));
    }

    #[test]
    fn command_line_directives() {
        let c = start(&["--port", "7001", "--save", "900", "1", "300", "10", "--bind", "127.0.0.1 -::1"], "").unwrap();
        assert_eq!(c.port, 7001);
        assert_eq!(c.save, vec![(900, 1), (300, 10)]);
        assert_eq!(c.bind, vec!["127.0.0.1", "-::1"]);
        let c = start(&["--save", "--maxmemory", "1kb"], "").unwrap();
        assert!(c.save.is_empty());
        assert_eq!(c.maxmemory, 1024);
        let c = start(&["--save", "60", "1", "--save", "10", "2"], "").unwrap();
        assert_eq!(c.get("save"), "60 1 10 2");
    }

    #[test]
    fn stdin_config() {
        let c = start(&["-", "--hz", "20"], "maxclients 7\nhz 5\n").unwrap();
        assert_eq!((c.maxclients, c.hz), (7, 20));
    }

    #[test]
    fn errors_name_the_line() {
        let e = start(&["-"], "port 1\n# c\nfoo bar\n").unwrap_err();
        assert!(e.contains("at line 3 of stdin\n>>> 'foo bar'\nBad directive or wrong number of arguments"), "{e}");
        let e = start(&["--port", "abc"], "").unwrap_err();
        assert!(e.contains(">>> 'port \"abc\"'\nargument couldn't be parsed into an integer"), "{e}");
        let e = start(&["-"], "port \"1\n").unwrap_err();
        assert!(e.contains("Unbalanced quotes in configuration line"), "{e}");
    }
}
