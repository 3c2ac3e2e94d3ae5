//! Differential tests for CONFIG: GET of every directive's default and of patterns, SET round
//! trips and errors, RESP3 map replies, `save` lines in config files and on the command line
//! (and their CONFIG REWRITE round trip) — redstart against redis-server 7.0.
//!
//! Skipped by design: `port`, `dir`, `pidfile` (per-process), `bind` (redstart defaults to
//! `127.0.0.1 -::1`, the value Redis's shipped redis.conf uses; Redis's compiled-in default is
//! `* -::*`). Multi-match replies are compared as sets: Redis lists them in hash-table order.
mod common;
use common::*;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
        // Each word is read with strtoll and must be consumed whole.
        ("save", "+5 01"),
        ("save", "1 0"),
        ("save", "9999999999999999999 1"),
        // Split at each space: a doubled space makes an empty word, read as 0 changes.
        ("save", "100  1 2"),
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
        &["save", "0 1"],
        &["save", "100  1"],
        &["save", "100 1 "],
        &["save", " 100 1"],
        &["save", "100 -1"],
        &["save", "100 1x"],
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

/// Sends `args` over the Unix socket `sock` and returns the raw reply (`None`: not ready).
fn unix_cmd(sock: &Path, args: &[&str]) -> Option<Vec<u8>> {
    let mut s = UnixStream::connect(sock).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    s.write_all(&encode(&args)).ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while frame_len(&buf).is_none() {
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(buf)
}

/// How a server started with a config file ended up.
#[derive(Debug, PartialEq)]
enum Saved {
    /// CONFIG GET save, and the `save` lines CONFIG REWRITE then wrote.
    Started { save: String, rewritten: Vec<String> },
    /// Refused to start: its last line of output.
    Refused(String),
}

/// Starts `program` as `program <dir>/c.conf extra...` where the file holds `text` (after the
/// lines that put the server in `dir` on a Unix socket, TCP port 0); returns its `save` value
/// and what CONFIG REWRITE wrote, or how it refused to start.
fn with_conf(program: &str, dir: &Path, text: &str, extra: &[&str]) -> Saved {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    let sock = dir.join("sock");
    let conf = dir.join("c.conf");
    std::fs::write(&conf, format!("port 0\ndir {}\nunixsocket {}\n{text}", dir.display(), sock.display())).unwrap();
    let mut child = Command::new(program)
        .arg(&conf)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
    let start = Instant::now();
    let got = loop {
        if child.try_wait().unwrap().is_some() {
            let out = child.wait_with_output().unwrap();
            let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            let last = all.lines().map(str::trim).rfind(|l| !l.is_empty()).unwrap_or("").to_string();
            return Saved::Refused(last);
        }
        if let Some(r) = unix_cmd(&sock, &["CONFIG", "GET", "save"]) {
            let save = String::from_utf8_lossy(&reply_items(&r)[1]).into_owned();
            assert_eq!(unix_cmd(&sock, &["CONFIG", "REWRITE"]).as_deref(), Some(&b"+OK\r\n"[..]), "{program}");
            let rewritten = std::fs::read_to_string(&conf)
                .unwrap()
                .lines()
                .filter(|l| l.to_ascii_lowercase().starts_with("save"))
                .map(String::from)
                .collect();
            break Saved::Started { save, rewritten };
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{program} neither started nor exited");
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = child.kill();
    let _ = child.wait();
    got
}

/// A bare `save` line (what tools write for `save ""`) and the other ways of writing `save` in
/// a config file and on the command line: the value both servers load, the lines CONFIG
/// REWRITE writes for it, and the value a restart from the rewritten file loads; or both
/// refuse with the same reason. Redis 7.2's `setConfigSaveOption` is 7.0's.
#[test]
fn save_lines_in_config_files() {
    let dir = tmpdir("save-lines");
    let cases: &[(&str, &[&str], Option<&str>)] = &[
        // A bare `save` clears the default rules; after rules it changes nothing.
        ("save\n", &[], Some("")),
        ("save   \n", &[], Some("")),
        ("SAVE\n", &[], Some("")),
        ("save \"\"\n", &[], Some("")),
        ("save \"  \"\n", &[], Some("")),
        ("save 100 1\nsave\n", &[], Some("100 1")),
        ("save\nsave 100 1\nsave 200 2\n", &[], Some("100 1 200 2")),
        ("save 100 1\nsave \"\"\n", &[], Some("")),
        ("save \"\"\nsave 100 1\n", &[], Some("100 1")),
        ("save \"100 1\"\n", &[], Some("100 1")),
        ("save +5 01\nsave 100 \"\"\n", &[], Some("5 1 100 0")),
        ("save 0 1\n", &[], None),
        ("save \"\" 100\n", &[], None),
        ("save 100 -1\n", &[], None),
        ("save 100\n", &[], None),
        ("save \"100 1\" \"200 2\"\n", &[], None),
        // The command line continues the file: `--save` adds to its rules, a bare `--save`
        // (at the end or before another option) is `--save ""`, which clears them.
        ("save 100 1\n", &["--save"], Some("")),
        ("save 100 1\n", &["--save", "--hz", "20"], Some("")),
        ("save 100 1\n", &["--save", "200", "2"], Some("100 1 200 2")),
        ("save 100 1\n", &["--save", "200 2 300 3"], Some("100 1 200 2 300 3")),
        ("save 100 1\n", &["--save", "", "--save", "200 2"], Some("200 2")),
        ("save 100 1\n", &["--save", "200 2", "--save"], Some("")),
        ("save\n", &["--save", "200 2"], Some("200 2")),
        ("", &["--save", "200"], None),
    ];
    for (i, (text, extra, expect)) in cases.iter().enumerate() {
        let theirs = with_conf("redis-server", &dir.join(format!("{i}-redis")), text, extra);
        let ours = with_conf(env!("CARGO_BIN_EXE_redstart"), &dir.join(format!("{i}-ours")), text, extra);
        match (&theirs, &ours) {
            (Saved::Started { save, rewritten }, Saved::Started { save: s2, rewritten: r2 }) => {
                assert_eq!(Some(save.as_str()), *expect, "{text:?} {extra:?}: redis-server");
                assert_eq!(s2, save, "{text:?} {extra:?}: CONFIG GET save");
                assert_eq!(r2, rewritten, "{text:?} {extra:?}: CONFIG REWRITE");
            }
            (Saved::Refused(a), Saved::Refused(b)) => {
                assert!(expect.is_none(), "{text:?} {extra:?}: both refused: {a}");
                assert_eq!(a, "Invalid save parameters", "{text:?} {extra:?}");
                assert_eq!(b, a, "{text:?} {extra:?}");
            }
            _ => panic!("{text:?} {extra:?}:\nredis-server: {theirs:?}\nredstart: {ours:?}"),
        }
        // The rewritten files load the same value again.
        if let Saved::Started { rewritten, .. } = &theirs {
            let again = rewritten.iter().map(|l| format!("{l}\n")).collect::<String>();
            let r = with_conf("redis-server", &dir.join(format!("{i}-redis-again")), &again, &[]);
            let o = with_conf(env!("CARGO_BIN_EXE_redstart"), &dir.join(format!("{i}-ours-again")), &again, &[]);
            assert_eq!(o, r, "{again:?}");
            assert!(matches!(&r, Saved::Started { save, .. } if Some(save.as_str()) == *expect), "{r:?}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
