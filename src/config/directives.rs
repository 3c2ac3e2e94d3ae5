//! The directive table: one row per redis.conf directive — name, alias, value type, default as
//! CONFIG GET prints it, whether CONFIG SET may change it, and how it lands in [`Config`]'s
//! typed fields.
//!
//! Every value is kept in canonical printed form (`Config::values`, what CONFIG GET answers and
//! CONFIG REWRITE writes); a row's `apply` function copies the canonical value into a typed
//! field of [`Config`] for values read on hot paths. The rest of the server reads values in
//! three ways: a typed field, `Config::get` (the canonical text), or — for modules that keep a
//! value in an atomic they read with shard locks held (eviction, lazy freeing, keyspace
//! notifications, output-buffer limits, client eviction, the AOF) — a subscriber each owning
//! module registers with `ConfigCell::subscribe`, called with every new configuration. Which
//! directives have an effect is listed in the README.

use super::Config;

/// How a directive's arguments are parsed and printed.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// `yes` / `no`, case-insensitive.
    Bool,
    /// A decimal integer within `[min, max]`.
    Int(i64, i64),
    /// A byte count with optional unit (`1k` = 1000, `1kb` = 1024, ...) within `[min, max]`.
    Mem(i64, i64),
    /// A memory value or a percentage (`10%`).
    MemOrPercent,
    /// One of the listed lower-case words.
    Enum(&'static [&'static str]),
    /// Any string.
    Str,
    /// An octal permission mask (`unixsocketperm`).
    Octal,
    /// `save <seconds> <changes> [...]` or `save ""`.
    Save,
    /// One or more addresses.
    Bind,
    /// `<class> <hard> <soft> <seconds>` groups.
    ClientOutputBufferLimit,
    /// Exactly three integers in [-2000, 2000].
    OomScoreAdjValues,
    /// Doubles in [0, 100].
    Percentiles,
    /// Keyspace event class characters.
    NotifyEvents,
    /// `<host> <port>` or `no one`.
    ReplicaOf,
}

/// CONFIG SET refuses the directive: `can't set immutable config`.
pub const IMMUTABLE: u8 = 1;
/// CONFIG SET refuses the directive unless enable-protected-configs: `can't set protected config`.
pub const PROTECTED: u8 = 2;
/// A secret (a password): CONFIG SET's value for it is redacted from the slow log.
pub const SENSITIVE: u8 = 4;

pub struct Directive {
    pub name: &'static str,
    pub alias: Option<&'static str>,
    pub kind: Kind,
    pub default: &'static str,
    pub flags: u8,
    pub apply: Option<fn(&mut Config, &str)>,
}

impl Directive {
    const fn new(name: &'static str, kind: Kind, default: &'static str) -> Directive {
        Directive { name, alias: None, kind, default, flags: 0, apply: None }
    }
    const fn alias(mut self, a: &'static str) -> Self {
        self.alias = Some(a);
        self
    }
    const fn immutable(mut self) -> Self {
        self.flags |= IMMUTABLE;
        self
    }
    const fn protected(mut self) -> Self {
        self.flags |= PROTECTED;
        self
    }
    const fn sensitive(mut self) -> Self {
        self.flags |= SENSITIVE;
        self
    }
    const fn apply(mut self, f: fn(&mut Config, &str)) -> Self {
        self.apply = Some(f);
        self
    }
    /// Directives whose value is a list of words (one argument containing spaces is split).
    pub fn multi_arg(&self) -> bool {
        matches!(
            self.kind,
            Kind::Save
                | Kind::Bind
                | Kind::ClientOutputBufferLimit
                | Kind::OomScoreAdjValues
                | Kind::Percentiles
                | Kind::ReplicaOf
        )
    }
}

const fn b(name: &'static str, default: &'static str) -> Directive {
    Directive::new(name, Kind::Bool, default)
}
const fn i(name: &'static str, min: i64, max: i64, default: &'static str) -> Directive {
    Directive::new(name, Kind::Int(min, max), default)
}
const fn m(name: &'static str, min: i64, default: &'static str) -> Directive {
    Directive::new(name, Kind::Mem(min, i64::MAX), default)
}
const fn e(name: &'static str, values: &'static [&'static str], default: &'static str) -> Directive {
    Directive::new(name, Kind::Enum(values), default)
}
const fn s(name: &'static str, default: &'static str) -> Directive {
    Directive::new(name, Kind::Str, default)
}

const I32: i64 = i32::MAX as i64;
const I64: i64 = i64::MAX;
const MB: i64 = 1024 * 1024;

// apply functions: the canonical value is already validated, so parsing cannot fail.
fn yes(v: &str) -> bool {
    v == "yes"
}
fn num<T: std::str::FromStr + Default>(v: &str) -> T {
    v.parse().unwrap_or_default()
}

pub const POLICIES: &[&str] = &[
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
];
pub const LOGLEVELS: &[&str] = &["debug", "verbose", "notice", "warning"];
const SHUTDOWN: &[&str] = &["default", "save", "nosave", "now", "force"];

/// Every directive, in the order CONFIG REWRITE appends new ones.
pub static DIRECTIVES: &[Directive] = &[
    // Network.
    Directive::new("bind", Kind::Bind, "127.0.0.1 -::1")
        .apply(|c, v| c.bind = v.split_whitespace().map(String::from).collect()),
    s("bind-source-addr", ""),
    b("protected-mode", "yes").apply(|c, v| c.protected_mode = yes(v)),
    i("port", 0, 65535, "6379").apply(|c, v| c.port = num(v)),
    i("tcp-backlog", 0, I32, "511").immutable().apply(|c, v| c.tcp_backlog = num(v)),
    s("unixsocket", "").immutable().apply(|c, v| c.unixsocket = (!v.is_empty()).then(|| v.to_string())),
    Directive::new("unixsocketperm", Kind::Octal, "0")
        .immutable()
        .apply(|c, v| c.unixsocketperm = u32::from_str_radix(v, 8).unwrap_or(0)),
    i("timeout", 0, I32, "0").apply(|c, v| c.timeout = num(v)),
    i("tcp-keepalive", 0, I32, "300").apply(|c, v| c.tcp_keepalive = num(v)),
    i("socket-mark-id", 0, u32::MAX as i64, "0").immutable(),
    // TLS (redstart speaks no TLS; accepted and stored).
    i("tls-port", 0, 65535, "0"),
    s("tls-cert-file", ""),
    s("tls-key-file", ""),
    s("tls-key-file-pass", ""),
    s("tls-client-cert-file", ""),
    s("tls-client-key-file", ""),
    s("tls-client-key-file-pass", ""),
    s("tls-dh-params-file", ""),
    s("tls-ca-cert-file", ""),
    s("tls-ca-cert-dir", ""),
    e("tls-auth-clients", &["no", "yes", "optional"], "yes"),
    b("tls-replication", "no"),
    b("tls-cluster", "no"),
    s("tls-protocols", ""),
    s("tls-ciphers", ""),
    s("tls-ciphersuites", ""),
    b("tls-prefer-server-ciphers", "no"),
    b("tls-session-caching", "yes"),
    i("tls-session-cache-size", 0, I32, "20480"),
    i("tls-session-cache-timeout", 0, I32, "300"),
    // General.
    b("daemonize", "no").immutable().apply(|c, v| c.daemonize = yes(v)),
    e("supervised", &["upstart", "systemd", "auto", "no"], "no").immutable(),
    s("pidfile", "").immutable().apply(|c, v| c.pidfile = v.to_string()),
    e("loglevel", LOGLEVELS, "notice").apply(|c, v| c.loglevel = v.to_string()),
    s("logfile", "").immutable().apply(|c, v| c.logfile = v.to_string()),
    b("syslog-enabled", "no").immutable(),
    s("syslog-ident", "redis").immutable(),
    e(
        "syslog-facility",
        &["user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"],
        "local0",
    )
    .immutable(),
    b("crash-log-enabled", "yes"),
    b("crash-memcheck-enabled", "yes"),
    i("databases", 1, I32, "16").immutable().apply(|c, v| c.databases = num(v)),
    b("always-show-logo", "no").immutable(),
    b("set-proc-title", "yes").immutable(),
    s("proc-title-template", "{title} {listen-addr} {server-mode}"),
    // Snapshotting.
    Directive::new("save", Kind::Save, "3600 1 300 100 60 10000").apply(|c, v| {
        let n: Vec<u64> = v.split_whitespace().map(num).collect();
        c.save = n.chunks(2).map(|p| (p[0], p[1])).collect();
    }),
    b("stop-writes-on-bgsave-error", "yes"),
    b("rdbcompression", "yes"),
    b("rdbchecksum", "yes").immutable(),
    e("sanitize-dump-payload", &["no", "yes", "clients"], "no"),
    s("dbfilename", "dump.rdb").protected().apply(|c, v| c.dbfilename = v.to_string()),
    b("rdb-del-sync-files", "no"),
    s("dir", "").protected().apply(|c, v| c.dir = v.to_string()),
    // Replication.
    Directive::new("replicaof", Kind::ReplicaOf, "").alias("slaveof").immutable(),
    s("masterauth", "").sensitive(),
    s("masteruser", ""),
    b("replica-serve-stale-data", "yes").alias("slave-serve-stale-data"),
    b("replica-read-only", "yes").alias("slave-read-only"),
    b("repl-diskless-sync", "yes"),
    i("repl-diskless-sync-delay", 0, I32, "5"),
    i("repl-diskless-sync-max-replicas", 0, I32, "0"),
    e("repl-diskless-load", &["disabled", "on-empty-db", "swapdb"], "disabled"),
    i("repl-ping-replica-period", 1, I32, "10").alias("repl-ping-slave-period"),
    i("repl-timeout", 1, I32, "60"),
    b("repl-disable-tcp-nodelay", "no"),
    m("repl-backlog-size", 1, "1048576"),
    i("repl-backlog-ttl", 0, I64, "3600"),
    i("replica-priority", 0, I32, "100").alias("slave-priority"),
    e("propagation-error-behavior", &["ignore", "panic", "panic-on-replicas"], "ignore"),
    b("replica-ignore-disk-write-errors", "no"),
    b("replica-announced", "yes"),
    i("min-replicas-to-write", 0, I32, "0").alias("min-slaves-to-write"),
    i("min-replicas-max-lag", 0, I32, "10").alias("min-slaves-max-lag"),
    s("replica-announce-ip", "").alias("slave-announce-ip"),
    i("replica-announce-port", 0, 65535, "0").alias("slave-announce-port"),
    // Keys tracking, security.
    i("tracking-table-max-keys", 0, I64, "1000000"),
    i("acllog-max-len", 0, I64, "128"),
    s("aclfile", "").immutable(),
    e("acl-pubsub-default", &["allchannels", "resetchannels"], "resetchannels"),
    s("requirepass", "").sensitive().apply(|c, v| c.requirepass = (!v.is_empty()).then(|| v.as_bytes().to_vec())),
    // Clients and memory.
    i("maxclients", 1, u32::MAX as i64, "10000").apply(|c, v| c.maxclients = num(v)),
    m("maxmemory", 0, "0").apply(|c, v| c.maxmemory = num(v)),
    e("maxmemory-policy", POLICIES, "noeviction").apply(|c, v| c.maxmemory_policy = v.to_string()),
    i("maxmemory-samples", 1, I32, "5").apply(|c, v| c.maxmemory_samples = num(v)),
    i("maxmemory-eviction-tenacity", 0, 100, "10"),
    b("replica-ignore-maxmemory", "yes").alias("slave-ignore-maxmemory"),
    i("active-expire-effort", 1, 10, "1"),
    Directive::new("maxmemory-clients", Kind::MemOrPercent, "0"),
    // Lazy freeing.
    b("lazyfree-lazy-eviction", "no"),
    b("lazyfree-lazy-expire", "no"),
    b("lazyfree-lazy-server-del", "no"),
    b("replica-lazy-flush", "no").alias("slave-lazy-flush"),
    b("lazyfree-lazy-user-del", "no"),
    b("lazyfree-lazy-user-flush", "no"),
    // Threads, kernel.
    i("io-threads", 1, 128, "1").immutable(),
    b("io-threads-do-reads", "no").immutable(),
    e("oom-score-adj", &["no", "yes", "relative", "absolute"], "no"),
    Directive::new("oom-score-adj-values", Kind::OomScoreAdjValues, "0 200 800"),
    b("disable-thp", "yes").immutable(),
    // Append only file.
    b("appendonly", "no").apply(|c, v| c.appendonly = yes(v)),
    s("appendfilename", "appendonly.aof").immutable().apply(|c, v| c.appendfilename = v.to_string()),
    s("appenddirname", "appendonlydir").immutable().apply(|c, v| c.appenddirname = v.to_string()),
    e("appendfsync", &["everysec", "always", "no"], "everysec").apply(|c, v| c.appendfsync = v.to_string()),
    b("no-appendfsync-on-rewrite", "no"),
    i("auto-aof-rewrite-percentage", 0, I32, "100"),
    m("auto-aof-rewrite-min-size", 0, "67108864"),
    b("aof-load-truncated", "yes"),
    b("aof-use-rdb-preamble", "yes"),
    b("aof-timestamp-enabled", "no"),
    b("aof-disable-auto-gc", "no"),
    // Shutdown, scripting, cluster.
    i("shutdown-timeout", 0, I32, "10"),
    e("shutdown-on-sigint", SHUTDOWN, "default"),
    e("shutdown-on-sigterm", SHUTDOWN, "default"),
    i("busy-reply-threshold", 0, I64, "5000").alias("lua-time-limit"),
    b("cluster-enabled", "no").immutable(),
    s("cluster-config-file", "nodes.conf").immutable(),
    i("cluster-node-timeout", 0, I64, "15000"),
    i("cluster-port", 0, 65535, "0").immutable(),
    i("cluster-replica-validity-factor", 0, I32, "10").alias("cluster-slave-validity-factor"),
    i("cluster-migration-barrier", 0, I32, "1"),
    b("cluster-allow-replica-migration", "yes"),
    b("cluster-require-full-coverage", "yes"),
    b("cluster-replica-no-failover", "no").alias("cluster-slave-no-failover"),
    b("cluster-allow-reads-when-down", "no"),
    b("cluster-allow-pubsubshard-when-down", "yes"),
    m("cluster-link-sendbuf-limit", 0, "0"),
    s("cluster-announce-hostname", ""),
    e("cluster-preferred-endpoint-type", &["ip", "hostname", "unknown-endpoint"], "ip"),
    s("cluster-announce-ip", ""),
    i("cluster-announce-port", 0, 65535, "0"),
    i("cluster-announce-bus-port", 0, 65535, "0"),
    i("cluster-announce-tls-port", 0, 65535, "0"),
    // Slow log, latency, events.
    i("slowlog-log-slower-than", -1, I64, "10000"),
    i("slowlog-max-len", 0, I64, "128"),
    i("latency-monitor-threshold", 0, I64, "0"),
    b("latency-tracking", "yes"),
    Directive::new("latency-tracking-info-percentiles", Kind::Percentiles, "50 99 99.9"),
    Directive::new("notify-keyspace-events", Kind::NotifyEvents, "")
        .apply(|c, v| c.notify_keyspace_events = v.to_string()),
    // Encodings.
    i("hash-max-listpack-entries", 0, I64, "512")
        .alias("hash-max-ziplist-entries")
        .apply(|c, v| c.hash_max_listpack_entries = num(v)),
    m("hash-max-listpack-value", 0, "64")
        .alias("hash-max-ziplist-value")
        .apply(|c, v| c.hash_max_listpack_value = num(v)),
    i("list-max-listpack-size", i32::MIN as i64, I32, "-2")
        .alias("list-max-ziplist-size")
        .apply(|c, v| c.list_max_listpack_size = num(v)),
    i("list-compress-depth", 0, I32, "0"),
    i("set-max-intset-entries", 0, I64, "512").apply(|c, v| c.set_max_intset_entries = num(v)),
    // Redis 7.2 (listpack-encoded small sets); redis-server 7.0 lacks these two.
    i("set-max-listpack-entries", 0, I64, "128").apply(|c, v| c.set_max_listpack_entries = num(v)),
    m("set-max-listpack-value", 0, "64").apply(|c, v| c.set_max_listpack_value = num(v)),
    i("zset-max-listpack-entries", 0, I64, "128")
        .alias("zset-max-ziplist-entries")
        .apply(|c, v| c.zset_max_listpack_entries = num(v)),
    m("zset-max-listpack-value", 0, "64")
        .alias("zset-max-ziplist-value")
        .apply(|c, v| c.zset_max_listpack_value = num(v)),
    m("hll-sparse-max-bytes", 0, "3000").apply(|c, v| c.hll_sparse_max_bytes = num(v)),
    m("stream-node-max-bytes", 0, "4096").apply(|c, v| c.stream_node_max_bytes = num(v)),
    i("stream-node-max-entries", 0, I64, "100").apply(|c, v| c.stream_node_max_entries = num(v)),
    // Advanced.
    b("activerehashing", "yes"),
    Directive::new(
        "client-output-buffer-limit",
        Kind::ClientOutputBufferLimit,
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
    ),
    m("client-query-buffer-limit", MB, "1073741824").apply(|c, v| c.client_query_buffer_limit = num(v)),
    m("proto-max-bulk-len", MB, "536870912").apply(|c, v| c.proto_max_bulk_len = num(v)),
    i("hz", 0, I32, "10").apply(|c, v| c.hz = num(v)),
    b("dynamic-hz", "yes").apply(|c, v| c.dynamic_hz = yes(v)),
    b("aof-rewrite-incremental-fsync", "yes"),
    b("rdb-save-incremental-fsync", "yes"),
    i("lfu-log-factor", 0, I32, "10"),
    i("lfu-decay-time", 0, I32, "1"),
    b("activedefrag", "no"),
    m("active-defrag-ignore-bytes", 1, "104857600"),
    i("active-defrag-threshold-lower", 0, 1000, "10"),
    i("active-defrag-threshold-upper", 0, 1000, "100"),
    i("active-defrag-cycle-min", 1, 99, "1"),
    i("active-defrag-cycle-max", 1, 99, "25"),
    i("active-defrag-max-scan-fields", 1, I64, "1000"),
    b("jemalloc-bg-thread", "yes"),
    s("server_cpulist", "").immutable(),
    s("bio_cpulist", "").immutable(),
    s("aof_rewrite_cpulist", "").immutable(),
    s("bgsave_cpulist", "").immutable(),
    s("ignore-warnings", ""),
    e("enable-protected-configs", &["no", "yes", "local"], "no").immutable(),
    e("enable-debug-command", &["no", "yes", "local"], "no").immutable(),
    e("enable-module-command", &["no", "yes", "local"], "no").immutable(),
];

/// Directives accepted in redis.conf but absent from CONFIG GET (handled by the loader).
pub const FILE_ONLY: &[&str] = &["include", "rename-command", "user", "loadmodule"];

/// The row for `name` (or one of its aliases), case-insensitively.
pub fn find(name: &str) -> Option<&'static Directive> {
    DIRECTIVES
        .iter()
        .find(|d| d.name.eq_ignore_ascii_case(name) || d.alias.is_some_and(|a| a.eq_ignore_ascii_case(name)))
}

/// Parses a memory value (`100`, `1k`, `2mb`, `3GB`): `None` if malformed or overflowing.
pub fn parse_memory(v: &str) -> Option<u64> {
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (digits, unit) = v.split_at(split);
    if digits.is_empty() {
        return None;
    }
    let mul: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    digits.parse::<u64>().ok()?.checked_mul(mul)
}

fn int_arg(v: &str) -> Result<i64, String> {
    resp::parse_i64(v.as_bytes()).ok_or_else(|| "argument couldn't be parsed into an integer".to_string())
}

fn range_err(min: i64, max: i64) -> String {
    format!("argument must be between {min} and {max} inclusive")
}

/// Keyspace event classes in the order Redis prints them; `A` stands for all of them.
const EVENT_CLASSES: &[u8] = b"g$lshzxetdn";

fn parse_events(v: &str) -> Result<String, String> {
    let mut set = [false; 256];
    for c in v.bytes() {
        match c {
            b'A' => EVENT_CLASSES.iter().for_each(|&x| set[x as usize] = true),
            b'g' | b'$' | b'l' | b's' | b'h' | b'z' | b'x' | b'e' | b't' | b'd' | b'n' | b'K' | b'E' | b'm' => {
                set[c as usize] = true
            }
            _ => return Err("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".into()),
        }
    }
    let mut out = String::new();
    if EVENT_CLASSES.iter().all(|&x| set[x as usize]) {
        out.push('A');
    } else {
        out.extend(EVENT_CLASSES.iter().filter(|&&x| set[x as usize]).map(|&x| x as char));
    }
    out.extend(b"KEm".iter().filter(|&&x| set[x as usize]).map(|&x| x as char));
    Ok(out)
}

fn parse_percentile(w: &str) -> Result<f64, String> {
    match w.parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
        Ok(_) => Err("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]".into()),
        Err(_) => Err("Invalid latency-tracking-info-percentiles parameters".into()),
    }
}

/// Validates save rules as Redis's `setConfigSaveOption` does (pairs of `seconds changes`, each
/// read with C's `strtoll` and wholly consumed: white space before it, a sign, leading zeros and
/// an empty word, read as 0, are accepted; seconds at least 1, changes at least 0; an overflow
/// saturates) and returns them as CONFIG GET prints them. Unlike Redis, the changes are not cut
/// to a C `int` (Redis shows `save 100 2147483648` as `100 -2147483648`).
fn save_rules(words: &[String]) -> Result<String, String> {
    const INVALID: &str = "Invalid save parameters";
    if !words.len().is_multiple_of(2) {
        return Err(INVALID.into());
    }
    let mut rules = Vec::with_capacity(words.len());
    for (i, w) in words.iter().enumerate() {
        let n = strtoll(w).ok_or(INVALID)?;
        if n < if i % 2 == 0 { 1 } else { 0 } {
            return Err(INVALID.into());
        }
        rules.push(n.to_string());
    }
    Ok(rules.join(" "))
}

/// C's `strtoll(s, &end, 10)` when it must consume all of `s` (`None` otherwise).
fn strtoll(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let mut i = b.iter().take_while(|&&c| matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')).count();
    let neg = b.get(i) == Some(&b'-');
    if matches!(b.get(i), Some(b'+' | b'-')) {
        i += 1;
    }
    let digits = &b[i..];
    if digits.is_empty() {
        // No number at all: strtoll consumes nothing, so only an empty string is "all of it".
        return s.is_empty().then_some(0);
    }
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: i64 = 0;
    for &c in digits {
        let d = (c - b'0') as i64;
        v = if neg { v.saturating_mul(10).saturating_sub(d) } else { v.saturating_mul(10).saturating_add(d) };
    }
    Some(v)
}

/// [`parse`] for CONFIG SET's one value: a multi-word value is split at each space, as Redis
/// splits it (so doubled, leading or trailing spaces make empty words), and `save` replaces
/// the rules.
pub fn parse_set(d: &Directive, value: &str, current: &str) -> Result<String, String> {
    match d.kind {
        Kind::Save => {
            let words: Vec<String> =
                if value.is_empty() { Vec::new() } else { value.split(' ').map(String::from).collect() };
            save_rules(&words)
        }
        _ => parse(d, std::slice::from_ref(&value.to_string()), current, false),
    }
}

/// Client class names as CONFIG GET prints them, in order.
const OBL_CLASSES: [&str; 3] = ["normal", "slave", "pubsub"];

/// Validates `args` for directive `d` and returns the canonical printed value. `current` is
/// the value before this line (for directives that merge, like `client-output-buffer-limit`),
/// `append` says whether this directive already appeared earlier in the same file (repeated
/// `save` lines add rules).
pub fn parse(d: &Directive, args: &[String], current: &str, append: bool) -> Result<String, String> {
    let words: Vec<String> = if d.multi_arg() && args.len() == 1 {
        args[0].split_whitespace().map(String::from).collect()
    } else {
        args.to_vec()
    };
    let single = || -> Result<&str, String> {
        if args.len() != 1 {
            return Err("wrong number of arguments".into());
        }
        Ok(args[0].as_str())
    };
    match d.kind {
        Kind::Bool => match single()?.to_ascii_lowercase().as_str() {
            "yes" => Ok("yes".into()),
            "no" => Ok("no".into()),
            _ => Err("argument must be 'yes' or 'no'".into()),
        },
        Kind::Int(min, max) => {
            let n = int_arg(single()?)?;
            if n < min || n > max {
                return Err(range_err(min, max));
            }
            // Redis clamps hz to [1, 500] rather than refusing.
            let n = if d.name == "hz" { n.clamp(1, 500) } else { n };
            Ok(n.to_string())
        }
        Kind::Mem(min, max) => {
            let n = parse_memory(single()?).ok_or("argument must be a memory value")?;
            if n > max as u64 || (n as i64) < min {
                return Err(range_err(min, max));
            }
            Ok(n.to_string())
        }
        Kind::MemOrPercent => {
            let v = single()?;
            if let Some(p) = v.strip_suffix('%') {
                match resp::parse_i64(p.as_bytes()) {
                    Some(n) if n > 100 => return Err("percentage argument must be less or equal to 100".into()),
                    Some(n) if n >= 0 => return Ok(format!("{n}%")),
                    _ => return Err("argument must be a memory or percent value".into()),
                }
            }
            parse_memory(v).map(|n| n.to_string()).ok_or_else(|| "argument must be a memory or percent value".into())
        }
        Kind::Enum(values) => {
            let v = single()?.to_ascii_lowercase();
            if values.contains(&v.as_str()) {
                Ok(v)
            } else {
                Err(format!("argument(s) must be one of the following: {}", values.join(", ")))
            }
        }
        Kind::Str => Ok(single()?.to_string()),
        Kind::Octal => {
            let v = single()?;
            match u32::from_str_radix(v, 8) {
                Ok(n) if !v.is_empty() && !v.starts_with('+') && n <= 0o777 => Ok(format!("{n:o}")),
                _ => Err("Invalid socket file permissions".into()),
            }
        }
        Kind::Save => {
            // A config-file line (or `--save`): `save` alone, `save ""` and one argument made of
            // words are Redis's `setConfigSaveOption` cases (see `save_rules`).
            let (words, clear) = match args {
                [one] if one.is_empty() => (Vec::new(), true),
                // One argument is split again as a config line is (quotes included); Redis
                // reads unbalanced quotes there as no words.
                [one] => {
                    let w: Vec<String> = resp::split_args(one.as_bytes())
                        .unwrap_or_default()
                        .iter()
                        .map(|a| String::from_utf8_lossy(a).into_owned())
                        .collect();
                    match w.as_slice() {
                        [only] if only.is_empty() => (Vec::new(), true),
                        _ => (w, false),
                    }
                }
                _ => (args.to_vec(), false),
            };
            let rules = save_rules(&words)?;
            // The first `save` of a load replaces the default rules, later ones add to them;
            // `save ""` always clears. So a bare `save` clears the defaults, and after rules it
            // changes nothing.
            if append && !clear && !current.is_empty() {
                return Ok([current.to_string(), rules].join(" ").trim_end().to_string());
            }
            Ok(rules)
        }
        Kind::Bind => {
            if words.is_empty() || words.len() > 16 {
                return Err("wrong number of arguments".into());
            }
            Ok(words.join(" "))
        }
        Kind::ClientOutputBufferLimit => {
            if words.is_empty() || !words.len().is_multiple_of(4) {
                return Err("Wrong number of arguments in buffer limit configuration.".into());
            }
            // Start from the current per-class values and overwrite the classes given.
            let cur: Vec<&str> = current.split_whitespace().collect();
            let mut classes: Vec<[String; 3]> = OBL_CLASSES
                .iter()
                .map(|cls| {
                    let at = cur.iter().position(|w| w == cls);
                    match at {
                        Some(p) if p + 3 < cur.len() + 1 && cur.len() >= p + 4 => {
                            [cur[p + 1].to_string(), cur[p + 2].to_string(), cur[p + 3].to_string()]
                        }
                        _ => ["0".into(), "0".into(), "0".into()],
                    }
                })
                .collect();
            for g in words.chunks(4) {
                let class = match g[0].to_ascii_lowercase().as_str() {
                    "normal" => 0,
                    "replica" | "slave" => 1,
                    "pubsub" => 2,
                    _ => return Err("Invalid client class specified in buffer limit configuration.".into()),
                };
                let hard = parse_memory(&g[1]);
                let soft = parse_memory(&g[2]);
                let secs = resp::parse_i64(g[3].as_bytes()).filter(|n| *n >= 0);
                match (hard, soft, secs) {
                    (Some(h), Some(s), Some(t)) => classes[class] = [h.to_string(), s.to_string(), t.to_string()],
                    _ => {
                        return Err("Error in hard, soft or soft_seconds setting in buffer limit configuration.".into())
                    }
                }
            }
            Ok(OBL_CLASSES
                .iter()
                .zip(classes)
                .map(|(n, [h, s, t])| format!("{n} {h} {s} {t}"))
                .collect::<Vec<_>>()
                .join(" "))
        }
        Kind::OomScoreAdjValues => {
            if words.len() != 3 {
                return Err("wrong number of arguments".into());
            }
            let mut out = Vec::new();
            for w in &words {
                match resp::parse_i64(w.as_bytes()) {
                    Some(n) if (-2000..=2000).contains(&n) => out.push(n.to_string()),
                    _ => return Err("Invalid oom-score-adj-values".into()),
                }
            }
            Ok(out.join(" "))
        }
        Kind::Percentiles => {
            let mut out = Vec::new();
            for w in &words {
                out.push(parse_percentile(w)?.to_string());
            }
            Ok(out.join(" "))
        }
        Kind::NotifyEvents => parse_events(single()?),
        Kind::ReplicaOf => {
            if words.len() != 2 {
                return Err("wrong number of arguments".into());
            }
            if words[0].eq_ignore_ascii_case("no") && words[1].eq_ignore_ascii_case("one") {
                return Ok(String::new());
            }
            match resp::parse_i64(words[1].as_bytes()) {
                Some(p) if (0..=65535).contains(&p) => Ok(format!("{} {p}", words[0])),
                _ => Err("Invalid master port".into()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str, args: &[&str]) -> Result<String, String> {
        let d = find(name).unwrap();
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        parse(d, &args, d.default, false)
    }

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("1k"), Some(1000));
        assert_eq!(parse_memory("1kb"), Some(1024));
        assert_eq!(parse_memory("2MB"), Some(2 * 1024 * 1024));
        assert_eq!(parse_memory("3g"), Some(3_000_000_000));
        assert_eq!(parse_memory("1Gb"), Some(1 << 30));
        assert_eq!(parse_memory("12x"), None);
        assert_eq!(parse_memory("-1"), None);
        assert_eq!(parse_memory("1.5gb"), None);
        assert_eq!(parse_memory("99999999999999999999gb"), None);
    }

    #[test]
    fn typed_values() {
        assert_eq!(p("appendonly", &["YES"]).unwrap(), "yes");
        assert_eq!(p("appendonly", &["maybe"]).unwrap_err(), "argument must be 'yes' or 'no'");
        assert_eq!(p("hz", &["0"]).unwrap(), "1");
        assert_eq!(p("hz", &["1000"]).unwrap(), "500");
        assert_eq!(p("timeout", &["-1"]).unwrap_err(), "argument must be between 0 and 2147483647 inclusive");
        assert_eq!(p("port", &["7", "8"]).unwrap_err(), "wrong number of arguments");
        assert_eq!(p("maxmemory-policy", &["ALLKEYS-LRU"]).unwrap(), "allkeys-lru");
        assert_eq!(p("slaveof", &["no", "one"]).unwrap(), "");
        assert_eq!(p("unixsocketperm", &["0700"]).unwrap(), "700");
        assert_eq!(p("maxmemory-clients", &["10%"]).unwrap(), "10%");
        assert_eq!(p("maxmemory-clients", &["100%"]).unwrap(), "100%");
        assert!(p("maxmemory-clients", &["101%"]).is_err());
    }

    #[test]
    fn special_values() {
        assert_eq!(p("save", &["900 1 300 10"]).unwrap(), "900 1 300 10");
        assert_eq!(p("save", &["900", "1"]).unwrap(), "900 1");
        assert_eq!(p("save", &[""]).unwrap(), "");
        assert!(p("save", &["1 2 3"]).is_err());
        let d = find("save").unwrap();
        assert_eq!(parse(d, &["10".into(), "2".into()], "5 1", true).unwrap(), "5 1 10 2");
        // A bare `save` (and one of no words): clears the defaults, then changes nothing.
        assert_eq!(p("save", &[]).unwrap(), "");
        assert_eq!(p("save", &["  "]).unwrap(), "");
        assert_eq!(parse(d, &[], "5 1", true).unwrap(), "5 1");
        assert_eq!(parse(d, &["  ".into()], "5 1", true).unwrap(), "5 1");
        assert_eq!(parse(d, &["".into()], "5 1", true).unwrap(), "");
        assert_eq!(parse(d, &["\"\"".into()], "5 1", true).unwrap(), "");
        // strtoll: signs, zeros, empty words, white space before, saturation.
        assert_eq!(p("save", &["+5", "01"]).unwrap(), "5 1");
        assert_eq!(p("save", &["100", ""]).unwrap(), "100 0");
        assert_eq!(p("save", &[" 7", "1"]).unwrap(), "7 1");
        assert_eq!(p("save", &["99999999999999999999", "1"]).unwrap(), "9223372036854775807 1");
        for bad in [&["0", "1"][..], &["", "1"], &["1", "-1"], &["1", "1x"], &["1 ", "1"], &["a", "1"]] {
            assert_eq!(p("save", bad).unwrap_err(), "Invalid save parameters", "{bad:?}");
        }
        // CONFIG SET splits at each space.
        assert_eq!(parse_set(d, "", "5 1").unwrap(), "");
        assert_eq!(parse_set(d, "100 1 200 2", "5 1").unwrap(), "100 1 200 2");
        for bad in ["  ", "100  1", "100 1 ", " 100 1", "0 1"] {
            assert!(parse_set(d, bad, "5 1").is_err(), "{bad:?}");
        }
        assert_eq!(parse_set(d, "100  1 2", "").unwrap(), "100 0 1 2");
        assert_eq!(p("bind", &["127.0.0.1 -::1"]).unwrap(), "127.0.0.1 -::1");
        assert_eq!(
            p("client-output-buffer-limit", &["normal 1mb 2k 3"]).unwrap(),
            "normal 1048576 2000 3 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
        );
        assert_eq!(p("notify-keyspace-events", &["KEA"]).unwrap(), "AKE");
        assert_eq!(p("notify-keyspace-events", &["lshzxegtmdn"]).unwrap(), "glshzxetdnm");
        assert_eq!(p("notify-keyspace-events", &["Kx"]).unwrap(), "xK");
        assert!(p("notify-keyspace-events", &["q"]).is_err());
        assert_eq!(p("latency-tracking-info-percentiles", &["50 99 99.9"]).unwrap(), "50 99 99.9");
    }

    #[test]
    fn every_default_parses_to_itself() {
        // (replicaof's default, "", means "no one"; it has no one-argument form.)
        for d in DIRECTIVES.iter().filter(|d| d.name != "replicaof") {
            let args = vec![d.default.to_string()];
            let v = parse(d, &args, d.default, false);
            assert_eq!(v.as_deref(), Ok(d.default), "{}", d.name);
        }
    }
}
