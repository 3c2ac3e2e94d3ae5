//! Differential tests for CONFIG: GET of every directive's default and of patterns, SET round
//! trips and errors, RESP3 map replies — redstart against redis-server 7.0.
//!
//! Skipped by design: `port`, `dir`, `pidfile` (per-process), `bind` (redstart defaults to
//! `127.0.0.1 -::1`, the value Redis's shipped redis.conf uses; Redis's compiled-in default is
//! `* -::*`). Multi-match replies are compared as sets: Redis lists them in hash-table order.
mod common;
use common::*;

const SKIP: &[&str] = &["port", "dir", "pidfile", "bind"];

/// Redis 7.2 directives that redis-server 7.0 (the oracle) does not have (listpack-encoded
/// sets); left out of every comparison.
const ONLY_7_2: &[&str] = &["set-max-listpack-entries", "set-max-listpack-value"];

/// Name/value pairs of a CONFIG GET reply (RESP2 array or RESP3 map), sorted.
fn pairs(raw: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(raw).into_owned();
    let mut lines = text.split("\r\n");
    let head = lines.next().unwrap();
    assert!(head.starts_with('*') || head.starts_with('%'), "not an array or map: {text}");
    let mut items = Vec::new();
    while let Some(l) = lines.next() {
        if l.starts_with('$') {
            items.push(lines.next().unwrap().to_string());
        }
    }
    let mut out: Vec<(String, String)> = items
        .chunks(2)
        .map(|c| (c[0].clone(), c[1].clone()))
        .filter(|(n, _)| !ONLY_7_2.contains(&n.as_str()))
        .collect();
    out.sort();
    out
}

fn pair() -> Pair {
    Pair::with_args(&["--save", ""])
}

#[test]
fn every_default_matches() {
    let mut p = pair();
    let all = pairs(&p.b.run("CONFIG GET *"));
    assert!(all.len() > 150, "oracle has {} directives", all.len());
    for (name, _) in &all {
        if !SKIP.contains(&name.as_str()) {
            p.check(&format!("CONFIG GET {name}"));
        }
    }
    // CONFIG GET * lists the same names with the same values.
    let ours: Vec<_> =
        pairs(&p.a.run("CONFIG GET *")).into_iter().filter(|(n, _)| !SKIP.contains(&n.as_str())).collect();
    let theirs: Vec<_> = all.into_iter().filter(|(n, _)| !SKIP.contains(&n.as_str())).collect();
    assert_eq!(ours, theirs);
}

#[test]
fn patterns_and_case() {
    let mut p = pair();
    for q in [
        "CONFIG GET *max*",
        "CONFIG GET maxmemory maxmemory *memory*",
        "CONFIG GET hash-max-*",
        "CONFIG GET MAXMEMORY",
        "CONFIG GET Hz TIMEOUT",
        "CONFIG GET slave*",
        "CONFIG GET nosuchthing",
        "CONFIG GET ?z",
        "CONFIG GET [l-m]*",
    ] {
        let (x, y) = p.both(q);
        assert_eq!(pairs(&x), pairs(&y), "{q}");
    }
    p.check("CONFIG GET nosuchthing");
    p.check("CONFIG GET maxmemory");
    p.check("CONFIG GET hash-max-ziplist-entries");
    p.check("CONFIG GET");
    p.check("CONFIG");
    p.check("CONFIG FOO");
    p.check("CONFIG HELP");
    p.check("CONFIG HELP extra");
    p.check("CONFIG RESETSTAT");
    p.check("CONFIG RESETSTAT x");
    p.check("CONFIG REWRITE");
    p.check("config get timeout");
}

#[test]
fn set_round_trips() {
    let mut p = pair();
    for (name, value) in [
        ("timeout", "30"),
        ("hz", "0"),
        ("hz", "1000"),
        ("hz", "20"),
        ("maxmemory", "1GB"),
        ("maxmemory", "10k"),
        ("maxmemory", "3mb"),
        ("maxmemory", "0"),
        ("appendfsync", "ALWAYS"),
        ("appendonly", "YES"),
        ("appendonly", "no"),
        ("maxmemory-policy", "ALLKEYS-LRU"),
        ("loglevel", "WARNING"),
        ("loglevel", "notice"),
        ("save", "100 10 200 20"),
        ("save", ""),
        ("notify-keyspace-events", "KEA"),
        ("notify-keyspace-events", "Kx"),
        ("notify-keyspace-events", "lshzxegtmdn"),
        ("notify-keyspace-events", "AKEmn"),
        ("notify-keyspace-events", "Em"),
        ("notify-keyspace-events", "K"),
        ("notify-keyspace-events", ""),
        ("client-output-buffer-limit", "normal 1mb 2k 3"),
        ("client-output-buffer-limit", "replica 1 2 3 pubsub 4 5 6"),
        ("list-max-ziplist-size", "5"),
        ("hash-max-ziplist-entries", "100"),
        ("proto-max-bulk-len", "2mb"),
        ("client-query-buffer-limit", "2mb"),
        ("maxmemory-clients", "10%"),
        ("maxmemory-clients", "1kb"),
        ("oom-score-adj-values", "1 2 3"),
        ("latency-tracking-info-percentiles", "50 99"),
        ("tcp-keepalive", "10"),
        ("protected-mode", "no"),
        ("maxclients", "100"),
        ("slowlog-log-slower-than", "-1"),
        ("masterauth", "secret word"),
        ("tls-port", "0"),
    ] {
        p.check_args(&[b"CONFIG", b"SET", name.as_bytes(), value.as_bytes()]);
        p.check(&format!("CONFIG GET {name}"));
    }
    // Several at once, aliases included.
    p.check("CONFIG SET timeout 1 hash-max-ziplist-entries 3 hash-max-listpack-entries 4");
    p.check("CONFIG SET timeout 7 hz 15");
    p.check("CONFIG GET timeout");
    p.check("CONFIG GET hz");
}

#[test]
fn set_errors() {
    let mut p = pair();
    for args in [
        &["foo", "bar"][..],
        &["port", "abc"],
        &["maxmemory", "12x"],
        &["maxmemory", "-1"],
        &["maxmemory", "1.5gb"],
        &["appendonly", "maybe"],
        &["databases", "5"],
        &["daemonize", "no"],
        &["unixsocket", "/tmp/x"],
        &["appendfilename", "x"],
        &["dir", "/tmp"],
        &["dbfilename", "x.rdb"],
        &["timeout", "-1"],
        &["timeout", "1k"],
        &["timeout", "+5"],
        &["timeout", " 5"],
        &["timeout", "99999999999999999999"],
        &["maxmemory-policy", "bad"],
        &["loglevel", "foo"],
        &["save", "1 2 3"],
        &["save", "a b"],
        &["save", "  "],
        &["timeout", "1", "timeout", "2"],
        &["timeout", "1", "hz"],
        &["timeout", "5", "foo", "1"],
        &["timeout", "5", "port", "abc"],
        &["timeout", "5", "databases", "1"],
        &["hash-max-ziplist-entries", "1", "hash-max-listpack-entries", "x"],
        &["maxmemory-samples", "0"],
        &["notify-keyspace-events", "q"],
        &["proto-max-bulk-len", "10"],
        &["client-output-buffer-limit", "normal 1 2"],
        &["client-output-buffer-limit", "nobody 1 2 3"],
        &["client-output-buffer-limit", "normal x 2 3"],
        &["oom-score-adj-values", "1 2"],
        &["latency-tracking-info-percentiles", "50 200"],
        &["latency-tracking-info-percentiles", "abc"],
        &["maxclients", "0"],
        &["slaveof", "a b"],
        &["replicaof", "no one"],
        &["rename-command", "a b"],
        &["include", "/x"],
        &["timeout"],
    ] {
        let mut full: Vec<&[u8]> = vec![b"CONFIG", b"SET"];
        full.extend(args.iter().map(|a| a.as_bytes()));
        p.check_args(&full);
    }
    // The failed multi-argument sets changed nothing.
    p.check("CONFIG GET timeout");
    p.check("CONFIG GET hash-max-listpack-entries");
}

#[test]
fn resp3_map_form() {
    let mut p = pair();
    // HELLO belongs to the connection family; until it is merged this branch cannot switch.
    if p.a.run("HELLO 3").starts_with(b"-ERR unknown command") {
        eprintln!("HELLO not available yet: RESP3 CONFIG GET not checked");
        return;
    }
    p.b.run("HELLO 3");
    p.check("CONFIG GET maxmemory");
    p.check("CONFIG GET nosuchthing");
    p.check("CONFIG GET hash-max-ziplist-entries");
    let (x, y) = p.both("CONFIG GET *max*");
    assert!(x.starts_with(b"%"), "{}", String::from_utf8_lossy(&x));
    assert_eq!(pairs(&x), pairs(&y));
}

#[test]
fn requirepass_applies_to_new_connections() {
    let mut p = pair();
    p.check("CONFIG SET requirepass s3cret");
    // The connection that set it stays authenticated.
    p.check("PING");
    let (mut a, mut b) = p.conns();
    assert_eq!(a.run("PING"), b"-NOAUTH Authentication required.\r\n".to_vec());
    assert_eq!(b.run("PING"), b"-NOAUTH Authentication required.\r\n".to_vec());
    p.check_args(&[b"CONFIG", b"SET", b"requirepass", b""]);
    let (mut a, mut b) = p.conns();
    assert_eq!(a.run("PING"), b.run("PING"));
}
