//! The effects stream against redis-server: every way a key can expire (a lookup, SCAN,
//! RANDOMKEY, the active cycle, EXPIRE into the past) produces the same `expired`/`del` events
//! and the same AOF records as on Redis, grouped into the same units (`MULTI` … `EXEC` around a
//! command and the expired keys it found; one unit per key for SCAN and RANDOMKEY outside a
//! transaction and for the active cycle), and `DEL` becomes `UNLINK` under
//! `lazyfree-lazy-expire`. Then the AOF as a consumer attached at run time: `CONFIG SET
//! appendonly yes|no`, `BGREWRITEAOF` with the AOF off, and `aof-timestamp-enabled`.
//!
//! Active expiry is switched off on both servers (`DEBUG SET-ACTIVE-EXPIRE 0`, Redis needs
//! `enable-debug-command`) wherever a test needs the lookups to find the keys first.

mod common;
use common::aof::*;
use common::*;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

/// The units of a log: a `MULTI` … `EXEC` block is one unit (its commands sorted, since two
/// servers find expired keys in their own hash order), any other command a unit of its own;
/// `SELECT`s are dropped. Returned as a multiset.
fn units(cmds: &[Cmd]) -> BTreeMap<Vec<String>, usize> {
    let mut out = BTreeMap::new();
    let mut block: Option<Vec<String>> = None;
    for (c, text) in cmds.iter().zip(show(cmds)) {
        let name = String::from_utf8_lossy(&c[0]).to_ascii_uppercase();
        match (name.as_str(), block.as_mut()) {
            ("SELECT", _) => {}
            ("MULTI", _) => block = Some(vec!["MULTI".into()]),
            ("EXEC", Some(_)) => {
                let mut b = block.take().unwrap();
                b[1..].sort();
                b.push("EXEC".into());
                *out.entry(b).or_default() += 1;
            }
            (_, Some(b)) => b.push(text),
            (_, None) => *out.entry(vec![text]).or_default() += 1,
        }
    }
    out
}

/// Starts collecting a server's keyspace events of `pattern` on a connection of its own.
fn events(port: u16, pattern: &str) -> Conn {
    let mut c = Conn::connect(port);
    c.run(&format!("PSUBSCRIBE {pattern}"));
    c
}

/// The (channel, payload) pairs received so far, sorted.
fn received(c: &mut Conn) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(r) = c.try_read_reply(Duration::from_millis(200)) {
        let items = reply_items(&r);
        out.push(format!("{} {}", text(&items[2]), text(&items[3])));
    }
    out.sort();
    out
}

/// An AOF pair with keyspace events on and active expiry off on both servers.
fn pair(name: &str) -> AofPair {
    let mut p = AofPair::new(name);
    p.both("CONFIG SET notify-keyspace-events KEA");
    p.both("DEBUG SET-ACTIVE-EXPIRE 0");
    p
}

/// Runs `lines` on both servers and compares the AOF units they appended and the keyspace
/// events they published.
fn compare_units(p: &mut AofPair, lines: &[&str]) -> BTreeMap<Vec<String>, usize> {
    let (mut ea, mut eb) = (events(p.ours.port, "__key*"), events(p.theirs.port, "__key*"));
    let (ba, bb) = p.logged();
    for l in lines {
        let (ra, rb) = p.both(l);
        if !l.starts_with("SCAN") && !l.starts_with("RANDOMKEY") && !l.starts_with("EXEC") {
            assert_eq!(text(&ra), text(&rb), "reply to `{l}`");
        }
    }
    let (aa, ab) = p.logged();
    let (ua, ub) = (units(&aa[ba.len()..]), units(&ab[bb.len()..]));
    assert_eq!(ua, ub, "AOF units for {lines:?}");
    assert_eq!(received(&mut ea), received(&mut eb), "keyspace events for {lines:?}");
    ua
}

fn set_expiring(p: &mut AofPair, keys: &[&str]) {
    for k in keys {
        p.both(&format!("SET {k} v PX 5"));
    }
    std::thread::sleep(Duration::from_millis(30));
}

fn unit(cmds: &[&str]) -> Vec<String> {
    cmds.iter().map(|s| s.to_string()).collect()
}

#[test]
fn lookups_log_the_expired_keys_in_the_commands_unit() {
    let mut p = pair("lookup");
    set_expiring(&mut p, &["r1", "w1", "m1", "m2", "x1"]);
    let u = compare_units(&mut p, &["GET r1", "SET w1 y", "MGET m1 m2 nothing", "EXISTS x1"]);
    // A read that found one expired key logs its DEL alone; a write is wrapped with it.
    assert_eq!(u.get(&unit(&["DEL r1"])), Some(&1));
    assert_eq!(u.get(&unit(&["MULTI", "DEL w1", "SET w1 y", "EXEC"])), Some(&1), "{u:?}");
    assert_eq!(u.get(&unit(&["MULTI", "DEL m1", "DEL m2", "EXEC"])), Some(&1), "{u:?}");
    // Inside a transaction, the expired keys join the transaction's unit.
    set_expiring(&mut p, &["t1", "t2"]);
    let u = compare_units(&mut p, &["MULTI", "GET t1", "SET t2 z", "INCR n", "EXEC"]);
    assert_eq!(u.len(), 1, "{u:?}");
}

#[test]
fn scan_and_randomkey_log_each_expired_key_alone_outside_a_transaction() {
    let mut p = pair("scan");
    p.both("SET keep v");
    set_expiring(&mut p, &["s1", "s2", "s3", "s4"]);
    let u = compare_units(&mut p, &["SCAN 0 COUNT 1000"]);
    assert_eq!(u.len(), 4, "one unit per key: {u:?}");
    set_expiring(&mut p, &["r1"]);
    // RANDOMKEY draws until it finds a live key, deleting the expired ones it meets; each
    // server draws its own keys, so each runs until it met the expired one.
    let (ba, bb) = p.logged();
    let (mut ea, mut eb) = (events(p.ours.port, "__key*"), events(p.theirs.port, "__key*"));
    for c in [&mut p.a, &mut p.b] {
        let mut tries = 0;
        while c.run("DBSIZE") != b":1\r\n" {
            assert_eq!(c.run("RANDOMKEY"), b"$4\r\nkeep\r\n", "an expired key is never returned");
            tries += 1;
            assert!(tries < 1000, "RANDOMKEY never met the expired key");
        }
    }
    let (aa, ab) = p.logged();
    assert_eq!(units(&aa[ba.len()..]), units(&ab[bb.len()..]));
    assert_eq!(units(&aa[ba.len()..]).get(&unit(&["DEL r1"])), Some(&1));
    assert_eq!(received(&mut ea), received(&mut eb));
    // Inside MULTI the keys SCAN finds join the transaction's unit (Redis 7.2, #11788).
    set_expiring(&mut p, &["q1", "q2"]);
    let u = compare_units(&mut p, &["MULTI", "SCAN 0 COUNT 1000", "EXEC"]);
    assert_eq!(u.get(&unit(&["MULTI", "DEL q1", "DEL q2", "EXEC"])), Some(&1), "{u:?}");
}

#[test]
fn the_active_cycle_logs_each_key_alone() {
    let mut p = pair("active");
    set_expiring(&mut p, &["a1", "a2", "a3"]);
    let (mut ea, mut eb) = (events(p.ours.port, "__key*"), events(p.theirs.port, "__key*"));
    let (ba, bb) = p.logged();
    p.both("DEBUG SET-ACTIVE-EXPIRE 1");
    let start = Instant::now();
    loop {
        let (aa, ab) = p.logged();
        if aa.len() - ba.len() >= 3 && ab.len() - bb.len() >= 3 {
            assert_eq!(units(&aa[ba.len()..]), units(&ab[bb.len()..]));
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "active expiry deleted nothing");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (ra, rb) = (received(&mut ea), received(&mut eb));
    assert_eq!(ra, rb);
    assert!(ra.contains(&"__keyevent@0__:expired a1".to_string()), "{ra:?}");
}

#[test]
fn lazy_expiry_unlinks_under_lazyfree_lazy_expire() {
    let mut p = pair("unlink");
    p.both("CONFIG SET lazyfree-lazy-expire yes");
    set_expiring(&mut p, &["u1", "u2"]);
    let u = compare_units(&mut p, &["GET u1", "SCAN 0", "SET e v", "EXPIRE e -1"]);
    assert_eq!(u.get(&unit(&["UNLINK u1"])), Some(&1), "{u:?}");
    assert_eq!(u.get(&unit(&["UNLINK e"])), Some(&1), "EXPIRE into the past: {u:?}");
    p.both("CONFIG SET lazyfree-lazy-expire no");
    let u = compare_units(&mut p, &["SET e v", "PEXPIRE e 0"]);
    assert_eq!(u.get(&unit(&["DEL e"])), Some(&1), "{u:?}");
}

/// The manifest of an AOF directory, with each line's file name and whether that file exists.
fn manifest(dir: &Path) -> Vec<String> {
    let ad = dir.join("appendonlydir");
    let text = std::fs::read_to_string(ad.join("appendonly.aof.manifest")).unwrap_or_default();
    text.lines().map(|l| l.to_string()).collect()
}

fn info_field(c: &mut Conn, field: &str) -> String {
    let info = text(&c.run("INFO persistence"));
    info.lines().find_map(|l| l.strip_prefix(&format!("{field}:"))).unwrap_or("").trim().to_string()
}

fn wait_rewrite(c: &mut Conn) {
    let start = Instant::now();
    while info_field(c, "aof_rewrite_in_progress") != "0" || info_field(c, "aof_rewrite_scheduled") != "0" {
        assert!(start.elapsed() < Duration::from_secs(20), "rewrite did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The AOF directory's files (manifest excluded), sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.join("appendonlydir"))
        .map(|r| r.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    v.retain(|n| !n.ends_with(".manifest"));
    v.sort();
    v
}

#[test]
fn appendonly_turns_on_and_off_at_run_time_as_redis() {
    let (da, db) = (tmpdir("on-ours"), tmpdir("on-theirs"));
    let ours = start_redstart(&["--dir", da.to_str().unwrap()]);
    let theirs = start_redis(&["--dir", db.to_str().unwrap()]);
    let (mut a, mut b) = (Conn::connect(ours.port), Conn::connect(theirs.port));
    for c in [&mut a, &mut b] {
        c.run("SET before 1");
        assert_eq!(info_field(c, "aof_enabled"), "0");
        assert_eq!(c.run("CONFIG SET appendonly yes"), b"+OK\r\n");
        // On at once, while the first rewrite runs.
        assert_eq!(info_field(c, "aof_enabled"), "1");
        c.run("SET during 2");
        wait_rewrite(c);
        c.run("SET after 3");
    }
    assert_eq!(manifest(&da), manifest(&db), "manifest after turning on");
    assert_eq!(files(&da), files(&db));
    // The incremental file holds what was written after the fork point. Redis may postpone
    // its write while a background fsync runs (up to 2 s with everysec): wait for both.
    let start = Instant::now();
    while [&da, &db].iter().any(|d| !show(&parse(&incr(d))).contains(&"SET after 3".to_string()))
        && start.elapsed() < Duration::from_secs(5)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let (la, lb) = (parse(&incr(&da)), parse(&incr(&db)));
    assert_eq!(normalise(&la), normalise(&lb));
    assert!(show(&la).contains(&"SET after 3".to_string()), "{:?}", show(&la));
    // Off: nothing more is written, the files stay.
    for c in [&mut a, &mut b] {
        assert_eq!(c.run("CONFIG SET appendonly no"), b"+OK\r\n");
        assert_eq!(info_field(c, "aof_enabled"), "0");
        c.run("SET off 4");
    }
    assert_eq!(parse(&incr(&da)).len(), la.len(), "nothing appended while off");
    assert_eq!(manifest(&da), manifest(&db));
    // On again: a new base and incremental file replace the old ones, as Redis numbers them.
    for c in [&mut a, &mut b] {
        c.run("CONFIG SET appendonly yes");
        wait_rewrite(c);
    }
    assert_eq!(manifest(&da), manifest(&db));
    assert_eq!(files(&da), files(&db));
    // A restart with appendonly yes loads every key, the ones written before turning on too.
    drop(a);
    drop(ours);
    let ours = start_redstart(&["--dir", da.to_str().unwrap(), "--appendonly", "yes"]);
    let mut a = Conn::connect(ours.port);
    assert_eq!(sorted_items(&a.run("KEYS *")), sorted_items(&b.run("KEYS *")));
    assert_eq!(body(&a.run("GET during")), "2");
}

#[test]
fn bgrewriteaof_with_the_aof_off_writes_a_base_as_redis() {
    let (da, db) = (tmpdir("bgr-ours"), tmpdir("bgr-theirs"));
    let ours = start_redstart(&["--dir", da.to_str().unwrap()]);
    let theirs = start_redis(&["--dir", db.to_str().unwrap()]);
    let (mut a, mut b) = (Conn::connect(ours.port), Conn::connect(theirs.port));
    for c in [&mut a, &mut b] {
        c.run("SET k v");
        assert_eq!(c.run("BGREWRITEAOF"), b"+Background append only file rewriting started\r\n");
        wait_rewrite(c);
        assert_eq!(info_field(c, "aof_enabled"), "0");
        assert_eq!(info_field(c, "aof_rewrites"), "1");
    }
    assert_eq!(manifest(&da), manifest(&db));
    assert_eq!(manifest(&da), vec!["file appendonly.aof.1.base.rdb seq 1 type b".to_string()]);
    assert_eq!(files(&da), files(&db));
}

#[test]
fn timestamps_annotate_the_aof_and_are_skipped_when_loading() {
    let d = tmpdir("ts");
    let s = start_redstart(&["--dir", d.to_str().unwrap(), "--appendonly", "yes", "--aof-timestamp-enabled", "yes"]);
    let mut c = Conn::connect(s.port);
    c.run("SET a 1");
    c.run("SET b 2");
    std::thread::sleep(Duration::from_millis(1100));
    c.run("SET c 3");
    let raw = String::from_utf8(incr(&d)).unwrap();
    let lines: Vec<&str> = raw.split("\r\n").filter(|l| l.starts_with("#TS:")).collect();
    assert_eq!(lines.len(), 2, "one annotation per second with writes: {raw:?}");
    assert!(raw.starts_with("#TS:"), "the annotation goes before the unit's SELECT: {raw:?}");
    let secs: Vec<u64> = lines.iter().map(|l| l[4..].parse().unwrap()).collect();
    assert!(secs[1] > secs[0]);
    drop(c);
    drop(s);
    let s = start_redstart(&["--dir", d.to_str().unwrap(), "--appendonly", "yes"]);
    let mut c = Conn::connect(s.port);
    assert_eq!(reply_items(&c.run("MGET a b c")), vec![b"1".to_vec(), b"2".to_vec(), b"3".to_vec()]);
}

#[test]
fn deletions_follow_the_lazyfree_flags() {
    let mut p = pair("lazydel");
    p.both("CONFIG SET lazyfree-lazy-expire yes");
    p.both("CONFIG SET lazyfree-lazy-server-del yes");
    // As the 7.0 oracle: GETDEL always logs DEL; GETEX to a time past logs UNLINK under
    // lazyfree-lazy-expire.
    let u = compare_units(&mut p, &["SET a 1", "GETDEL a", "SET b 1", "GETEX b PXAT 1"]);
    assert_eq!(u.get(&unit(&["DEL a"])), Some(&1), "{u:?}");
    assert_eq!(u.get(&unit(&["UNLINK b"])), Some(&1), "{u:?}");
    // Redis 7.2 (#12320, "Update SPOP and RESTORE commands to replicate unlink commands ... when
    // the server is configured to use async server deletes"): SPOP emptying a set and RESTORE
    // of an expired TTL over an existing key log UNLINK under lazyfree-lazy-server-del; the 7.0
    // oracle still logs DEL, so this part checks redstart alone.
    let (before, _) = p.logged();
    p.a.run("SADD s x y");
    p.a.run("SPOP s 5");
    p.a.run("SET r v");
    let dump = p.a.run("DUMP r");
    let payload = reply_items(&dump).remove(0);
    p.a.cmd(&[b"RESTORE", b"r", b"1", &payload, b"REPLACE", b"ABSTTL"]);
    let (after, _) = p.logged();
    let tail = show(&after[before.len()..]);
    assert!(tail.contains(&"UNLINK s".to_string()) && tail.contains(&"UNLINK r".to_string()), "{tail:?}");
    p.a.run("CONFIG SET lazyfree-lazy-server-del no");
    p.a.run("SADD t x");
    p.a.run("SPOP t 5");
    let (last, _) = p.logged();
    assert_eq!(show(&last).last().map(String::as_str), Some("DEL t"));
}
