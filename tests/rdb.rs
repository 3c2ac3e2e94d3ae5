//! RDB persistence with real processes: files written by redis-server 7.0 load into redstart
//! and the reverse, redstart → redstart round trips, damaged files are refused at start-up,
//! BGSAVE keeps serving writers, DUMP/RESTORE payloads interoperate, SHUTDOWN saves.
//! Data is compared through commands (every key's type, value and TTL, in every database).

mod common;
use common::*;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use redis::{Connection, Value as RV};

fn con(port: u16) -> Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap().get_connection().unwrap()
}

fn q(c: &mut Connection, args: &[&[u8]]) -> RV {
    let mut cmd = redis::cmd(std::str::from_utf8(args[0]).unwrap());
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c).unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(args[0])))
}

fn run(c: &mut Connection, line: &str) -> RV {
    let w = words(line);
    let a: Vec<&[u8]> = w.iter().map(|x| x.as_slice()).collect();
    q(c, &a)
}

fn start_redis_in(dir: &Path, extra: &[&str]) -> Proc {
    start_redis(&[&["--dir", dir.to_str().unwrap()], extra].concat())
}

fn start_ours_in(dir: &Path, extra: &[&str]) -> Proc {
    start_redstart(&[&["--dir", dir.to_str().unwrap()], extra].concat())
}

/// Writes keys of every type and encoding into `c`, in databases 0 and 3.
fn populate(c: &mut Connection) {
    let lines = [
        "SET int 12345",
        "SET neg -7",
        "SET big 9223372036854775807",
        "SET s hello",
        "SET zeros 007",
        "HSET hsmall f1 v1 f2 22 f3 x",
        "SADD sint 1 2 3 -40000 70000 5000000000",
        "SADD sstr a b c 12",
        "ZADD zsmall 1 a 2.5 b -3 c inf d -inf e 0.1 f",
        "RPUSH lsmall a b 1 -2 300 -5000 70000 5000000000 -5000000000",
        "SET ttlkey v",
        "PEXPIRE ttlkey 100000000",
        "HSET httl a b",
        "EXPIRE httl 5000",
    ];
    for l in lines {
        run(c, l);
    }
    // Large, compressible and binary values.
    q(c, &[b"SET", b"empty", b""]);
    q(c, &[b"RPUSH", b"lsmall", b""]);
    q(c, &[b"HSET", b"hsmall", b"", b"emptyfield"]);
    q(c, &[b"SET", b"long", "abc".repeat(400).as_bytes()]);
    q(c, &[b"SET", b"\x00bin\xff", b"\x01\x02\xff\x00raw"]);
    let noise: Vec<u8> = (0..3000u32).map(|i| (i.wrapping_mul(2654435761) >> 7) as u8).collect();
    q(c, &[b"SET", b"noise", &noise]);
    for i in 0..700 {
        let n = i.to_string();
        let v = format!("value-{i}-{}", "x".repeat(i % 90));
        q(c, &[b"RPUSH", b"lbig", v.as_bytes()]);
        q(c, &[b"HSET", b"hbig", format!("field{i}").as_bytes(), v.as_bytes()]);
        q(c, &[b"SADD", b"sbigint", n.as_bytes()]);
        q(c, &[b"SADD", b"sbigstr", v.as_bytes()]);
        let score = format!("{}", (i as f64) * 1.25 - 300.0);
        q(c, &[b"ZADD", b"zbig", score.as_bytes(), v.as_bytes()]);
    }
    q(c, &[b"HSET", b"hlongval", b"f", "y".repeat(200).as_bytes()]);
    q(c, &[b"ZADD", b"zlongmember", b"1.5", "m".repeat(100).as_bytes()]);
    run(c, "SELECT 3");
    run(c, "SET indb3 yes");
    run(c, "RPUSH l3 x y z");
    run(c, "SELECT 0");
}

fn bytes(v: &RV) -> Vec<u8> {
    match v {
        RV::BulkString(b) => b.clone(),
        RV::SimpleString(s) => s.as_bytes().to_vec(),
        RV::Int(n) => n.to_string().into_bytes(),
        RV::Okay => b"OK".to_vec(),
        RV::Nil => b"(nil)".to_vec(),
        other => format!("{other:?}").into_bytes(),
    }
}

fn list(v: RV) -> Vec<Vec<u8>> {
    match v {
        RV::Array(a) => a.iter().map(bytes).collect(),
        other => panic!("not an array: {other:?}"),
    }
}

type Snap = Vec<(usize, Vec<u8>, String, Vec<Vec<u8>>, String)>;

/// Normalises the scores of a WITHSCORES reply: Redis 7.0 formats doubles with 17 digits
/// ("0.10000000000000001"), 7.2 and redstart with the shortest round-trip form ("0.1").
fn scores(mut flat: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    for s in flat.iter_mut().skip(1).step_by(2) {
        let t = String::from_utf8_lossy(s).to_string();
        let v: f64 = match t.as_str() {
            "inf" => f64::INFINITY,
            "-inf" => f64::NEG_INFINITY,
            _ => t.parse().unwrap(),
        };
        *s = format!("{v:?}").into_bytes();
    }
    flat
}

/// Every key of every database: (db, key, type, value as text, TTL class).
fn snapshot(c: &mut Connection) -> Snap {
    let mut out = Vec::new();
    for db in 0..16 {
        run(c, &format!("SELECT {db}"));
        let mut keys = list(run(c, "KEYS *"));
        keys.sort();
        for k in keys {
            let t = String::from_utf8(bytes(&q(c, &[b"TYPE", &k]))).unwrap();
            let mut val = match t.as_str() {
                "string" => vec![bytes(&q(c, &[b"GET", &k]))],
                "list" => list(q(c, &[b"LRANGE", &k, b"0", b"-1"])),
                "set" => list(q(c, &[b"SMEMBERS", &k])),
                "zset" => scores(list(q(c, &[b"ZRANGE", &k, b"0", b"-1", b"WITHSCORES"]))),
                "hash" => {
                    let flat = list(q(c, &[b"HGETALL", &k]));
                    flat.chunks(2).map(|p| [p[0].clone(), b"=".to_vec(), p[1].clone()].concat()).collect()
                }
                other => panic!("unexpected type {other}"),
            };
            if t == "set" || t == "hash" {
                val.sort();
            }
            let pttl = match q(c, &[b"PTTL", &k]) {
                RV::Int(n) => n,
                other => panic!("{other:?}"),
            };
            // TTLs tick between the two reads: compare them by class (none / seconds bucket).
            let ttl = match pttl {
                -1 => "none".to_string(),
                n if n > 0 => format!("~{}", (n + 500_000) / 1_000_000),
                n => panic!("PTTL {n}"),
            };
            out.push((db, k, t, val, ttl));
        }
    }
    run(c, "SELECT 0");
    out
}

/// Asserts two snapshots are equal, reporting the first differing key readably.
fn same(a: &Snap, b: &Snap, what: &str) {
    for (x, y) in a.iter().zip(b.iter()) {
        if x != y {
            let show = |e: &(usize, Vec<u8>, String, Vec<Vec<u8>>, String)| {
                let vals: Vec<String> = e.3.iter().take(12).map(|v| String::from_utf8_lossy(v).into_owned()).collect();
                format!(
                    "db{} {:?} {} {:?}.. ({} items) ttl {}",
                    e.0,
                    String::from_utf8_lossy(&e.1),
                    e.2,
                    vals,
                    e.3.len(),
                    e.4
                )
            };
            panic!("{what}: first difference\n  left:  {}\n  right: {}", show(x), show(y));
        }
    }
    assert_eq!(a.len(), b.len(), "{what}: key counts differ");
}

fn wait_exit(p: &mut Proc) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(s) = p.child.try_wait().unwrap() {
            return s;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{} did not exit", p.name);
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// redis-server 7.0 writes every type; redstart loads it and holds the same data.
#[test]
fn redis_file_loads_into_redstart() {
    let dir = tmpdir("r2s");
    let expected = {
        let r = start_redis_in(&dir, &[]);
        let mut c = con(r.port);
        populate(&mut c);
        assert_eq!(run(&mut c, "SAVE"), RV::Okay);
        snapshot(&mut c)
    };
    assert_eq!(expected.len(), 25);
    let ours = start_ours_in(&dir, &[]);
    let mut c = con(ours.port);
    same(&snapshot(&mut c), &expected, "redis -> redstart");
    // The loaded values took redstart's own encodings.
    assert_eq!(bytes(&run(&mut c, "OBJECT ENCODING hsmall")), b"listpack");
    assert_eq!(bytes(&run(&mut c, "OBJECT ENCODING hbig")), b"hashtable");
    assert_eq!(bytes(&run(&mut c, "OBJECT ENCODING sint")), b"intset");
    assert_eq!(bytes(&run(&mut c, "OBJECT ENCODING zbig")), b"skiplist");
}

/// redstart writes every type; redis-server 7.0 loads it and holds the same data.
#[test]
fn redstart_file_loads_into_redis() {
    for compression in ["yes", "no"] {
        let dir = tmpdir(&format!("s2r-{compression}"));
        let expected = {
            let ours = start_ours_in(&dir, &["--rdbcompression", compression]);
            let mut c = con(ours.port);
            populate(&mut c);
            assert_eq!(run(&mut c, "SAVE"), RV::Okay);
            snapshot(&mut c)
        };
        let r = start_redis_in(&dir, &[]);
        let mut c = con(r.port);
        same(&snapshot(&mut c), &expected, &format!("rdbcompression {compression}"));
        // Redis accepted the checksum and the structures (its own integrity check).
        assert_eq!(
            bytes(&run(&mut c, "DBSIZE")),
            (expected.iter().filter(|e| e.0 == 0).count()).to_string().as_bytes()
        );
    }
}

/// redstart → redstart, through SHUTDOWN (which saves by default when save points are set).
#[test]
fn round_trip_through_shutdown() {
    let dir = tmpdir("s2s");
    let expected;
    {
        let mut ours = start_ours_in(&dir, &["--save", "3600 1"]);
        let mut c = con(ours.port);
        populate(&mut c);
        expected = snapshot(&mut c);
        let info = bytes(&run(&mut c, "INFO persistence"));
        let info = String::from_utf8(info).unwrap();
        assert!(!info.contains("rdb_changes_since_last_save:0\r\n"), "{info}");
        let _ = redis::cmd("SHUTDOWN").query::<RV>(&mut c);
        assert!(wait_exit(&mut ours).success());
    }
    assert!(dir.join("dump.rdb").exists());
    let mut ours = start_ours_in(&dir, &[]);
    let mut c = con(ours.port);
    same(&snapshot(&mut c), &expected, "redstart -> redstart");
    let info = String::from_utf8(bytes(&run(&mut c, "INFO persistence"))).unwrap();
    assert!(info.contains(&format!("rdb_last_load_keys_loaded:{}\r\n", expected.len())), "{info}");
    // SHUTDOWN NOSAVE leaves the file as it was.
    run(&mut c, "FLUSHALL");
    let _ = redis::cmd("SHUTDOWN").arg("NOSAVE").query::<RV>(&mut c);
    assert!(wait_exit(&mut ours).success());
    let ours = start_ours_in(&dir, &[]);
    same(&snapshot(&mut con(ours.port)), &expected, "after NOSAVE");
}

/// SIGTERM saves when save points are set.
#[test]
fn sigterm_saves() {
    let dir = tmpdir("term");
    let mut ours = start_ours_in(&dir, &["--save", "3600 1"]);
    let mut c = con(ours.port);
    run(&mut c, "SET k v");
    run(&mut c, "RPUSH l a b c");
    let pid = ours.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    assert!(wait_exit(&mut ours).success());
    let ours = start_ours_in(&dir, &[]);
    let mut c = con(ours.port);
    assert_eq!(bytes(&run(&mut c, "GET k")), b"v");
    assert_eq!(list(run(&mut c, "LRANGE l 0 -1")), vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
}

/// Starts redstart on `dir` and expects it to refuse to start; returns its stderr and stdout.
fn refused(dir: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_redstart"))
        .args(["--port", &free_port().to_string(), "--save", "", "--dir", dir.to_str().unwrap()])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success(), "started with a damaged file");
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn damaged_files_are_refused() {
    let dir = tmpdir("bad");
    {
        let ours = start_ours_in(&dir, &[]);
        let mut c = con(ours.port);
        populate(&mut c);
        assert_eq!(run(&mut c, "SAVE"), RV::Okay);
    }
    let good = std::fs::read(dir.join("dump.rdb")).unwrap();
    // A flipped byte in the middle of a value: the checksum no longer matches.
    let mut flipped = good.clone();
    let at = good.len() / 2;
    flipped[at] ^= 0x01;
    std::fs::write(dir.join("dump.rdb"), &flipped).unwrap();
    let log = refused(&dir);
    assert!(log.contains("checksum"), "{log}");
    // A flipped byte in the checksum itself.
    let mut badsum = good.clone();
    let n = badsum.len();
    badsum[n - 3] ^= 0x40;
    std::fs::write(dir.join("dump.rdb"), &badsum).unwrap();
    assert!(refused(&dir).contains("Wrong RDB checksum"));
    // Truncated files.
    for cut in [good.len() - 5, good.len() / 3, 20, 3] {
        std::fs::write(dir.join("dump.rdb"), &good[..cut]).unwrap();
        let log = refused(&dir);
        assert!(log.contains("Unexpected EOF") || log.contains("Wrong signature"), "cut {cut}: {log}");
    }
    // The intact file still loads.
    std::fs::write(dir.join("dump.rdb"), &good).unwrap();
    let ours = start_ours_in(&dir, &[]);
    assert_eq!(bytes(&run(&mut con(ours.port), "GET s")), b"hello");
}

/// BGSAVE runs while clients keep writing; every write is acknowledged, and the saved file
/// holds a state each key was in.
#[test]
fn bgsave_keeps_serving() {
    let dir = tmpdir("bg");
    let ours = start_ours_in(&dir, &[]);
    let port = ours.port;
    let mut c = con(port);
    let mut pipe = redis::pipe();
    for i in 0..20000 {
        pipe.cmd("SET").arg(format!("key:{i}")).arg(format!("{i}-{}", "v".repeat(50))).ignore();
    }
    pipe.query::<()>(&mut c).unwrap();
    assert_eq!(bytes(&run(&mut c, "LASTSAVE")).len(), 10);
    let writer = std::thread::spawn(move || {
        let mut w = con(port);
        for i in 0..2000 {
            let r: String = redis::cmd("SET").arg(format!("during:{i}")).arg(i).query(&mut w).unwrap();
            assert_eq!(r, "OK");
        }
    });
    assert_eq!(run(&mut c, "BGSAVE"), RV::SimpleString("Background saving started".into()));
    // BGSAVE SCHEDULE while a BGSAVE runs is refused as in Redis 7.0 (or starts one when the
    // first already finished).
    match redis::cmd("BGSAVE").arg("SCHEDULE").query::<RV>(&mut c) {
        Ok(RV::SimpleString(s)) => assert_eq!(s, "Background saving started"),
        Ok(other) => panic!("{other:?}"),
        Err(e) => assert!(e.to_string().contains("Background save already in progress"), "{e}"),
    }
    writer.join().unwrap();
    let start = Instant::now();
    loop {
        let info = String::from_utf8(bytes(&run(&mut c, "INFO persistence"))).unwrap();
        let scheduled_done = !info.contains("rdb_bgsave_in_progress:1") && info.contains("rdb_saves:");
        if scheduled_done && info.contains("rdb_last_bgsave_status:ok") && !info.contains("rdb_saves:0\r\n") {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{info}");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Wait for the scheduled one too.
    std::thread::sleep(Duration::from_millis(300));
    while String::from_utf8(bytes(&run(&mut c, "INFO persistence"))).unwrap().contains("rdb_bgsave_in_progress:1") {
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(ours);
    let ours = start_ours_in(&dir, &[]);
    let mut c = con(ours.port);
    let n: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert!((20000..=22000).contains(&n), "{n}");
    assert_eq!(bytes(&run(&mut c, "GET key:12345")), format!("12345-{}", "v".repeat(50)).as_bytes());
}

/// `save <seconds> <changes>` triggers a background save on its own.
#[test]
fn save_rule_triggers_bgsave() {
    let dir = tmpdir("rule");
    let ours = start_ours_in(&dir, &["--save", "1 3"]);
    let mut c = con(ours.port);
    for i in 0..3 {
        run(&mut c, &format!("SET k{i} v"));
    }
    let start = Instant::now();
    while !dir.join("dump.rdb").exists() {
        assert!(start.elapsed() < Duration::from_secs(30), "no save happened");
        std::thread::sleep(Duration::from_millis(100));
    }
    // `save ""` turns the rules off: changes are counted but never saved automatically.
    q(&mut c, &[b"CONFIG", b"SET", b"save", b""]);
    let info = String::from_utf8(bytes(&run(&mut c, "INFO persistence"))).unwrap();
    assert!(info.contains("rdb_last_bgsave_status:ok"), "{info}");
}

/// An unwritable `dir`: BGSAVE fails, writes get -MISCONF, reads work; a good dir recovers.
#[test]
fn failed_bgsave_stops_writes() {
    let dir = tmpdir("misconf");
    let ours = start_ours_in(&dir, &["--save", "3600 1", "--enable-protected-configs", "yes"]);
    let mut c = con(ours.port);
    run(&mut c, "SET k v");
    let missing = dir.join("missing");
    run(&mut c, &format!("CONFIG SET dir {}", missing.display()));
    // A direct SAVE fails with -ERR.
    let e = redis::cmd("SAVE").query::<RV>(&mut c).unwrap_err();
    assert_eq!(e.code(), Some("ERR"));
    run(&mut c, "BGSAVE");
    let start = Instant::now();
    loop {
        let info = String::from_utf8(bytes(&run(&mut c, "INFO persistence"))).unwrap();
        if info.contains("rdb_last_bgsave_status:err") {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{info}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let e = redis::cmd("SET").arg("k").arg("w").query::<RV>(&mut c).unwrap_err();
    assert_eq!(e.code(), Some("MISCONF"));
    assert_eq!(bytes(&run(&mut c, "GET k")), b"v");
    std::fs::create_dir_all(&missing).unwrap();
    run(&mut c, "BGSAVE");
    let start = Instant::now();
    while redis::cmd("SET").arg("k").arg("w").query::<RV>(&mut c).is_err() {
        assert!(start.elapsed() < Duration::from_secs(30));
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(missing.join("dump.rdb").exists());
}

/// DUMP payloads cross between redis-server and redstart in both directions.
#[test]
fn dump_restore_interoperate() {
    let r = start_redis(&[]);
    let ours = start_redstart(&[]);
    let (mut rc, mut oc) = (con(r.port), con(ours.port));
    populate(&mut rc);
    populate(&mut oc);
    let keys = list(run(&mut rc, "KEYS *"));
    for k in &keys {
        copy_key(&mut rc, &mut oc, k);
        copy_key(&mut oc, &mut rc, k);
    }
}

/// DUMPs `k` on `from`, RESTOREs it as `copy:k` on `to`, and compares the two.
fn copy_key(from: &mut Connection, to: &mut Connection, k: &[u8]) {
    let payload = bytes(&q(from, &[b"DUMP", k]));
    let mut dst = b"copy:".to_vec();
    dst.extend_from_slice(k);
    assert_eq!(q(to, &[b"RESTORE", &dst, b"0", &payload, b"REPLACE"]), RV::Okay, "{}", String::from_utf8_lossy(k));
    assert_eq!(snapshot_one(from, k), snapshot_one(to, &dst), "{}", String::from_utf8_lossy(k));
}

fn snapshot_one(c: &mut Connection, k: &[u8]) -> (String, Vec<Vec<u8>>) {
    let t = String::from_utf8(bytes(&q(c, &[b"TYPE", k]))).unwrap();
    let mut v = match t.as_str() {
        "string" => vec![bytes(&q(c, &[b"GET", k]))],
        "list" => list(q(c, &[b"LRANGE", k, b"0", b"-1"])),
        "set" => list(q(c, &[b"SMEMBERS", k])),
        "zset" => scores(list(q(c, &[b"ZRANGE", k, b"0", b"-1", b"WITHSCORES"]))),
        "hash" => list(q(c, &[b"HGETALL", k])),
        _ => vec![],
    };
    if t == "set" {
        v.sort();
    }
    if t == "hash" {
        let mut pairs: Vec<Vec<u8>> =
            v.chunks(2).map(|p| [p[0].clone(), b"=".to_vec(), p[1].clone()].concat()).collect();
        pairs.sort();
        v = pairs;
    }
    (t, v)
}

/// RESTORE's options and errors, byte for byte against redis-server.
#[test]
fn restore_options_diff() {
    let mut p = Pair::new();
    p.check("SET src hello");
    p.check("RPUSH lsrc a b c");
    // A payload both accept (Redis's own DUMP of "hello").
    let payload = {
        let r = start_redis(&[]);
        let mut c = con(r.port);
        run(&mut c, "SET x hello");
        bytes(&run(&mut c, "DUMP x"))
    };
    let pl: &[u8] = &payload;
    p.check_args(&[b"RESTORE", b"a", b"0", pl]);
    p.check_args(&[b"GET", b"a"]);
    p.check_args(&[b"RESTORE", b"a", b"0", pl]);
    p.check_args(&[b"RESTORE", b"a", b"0", pl, b"REPLACE"]);
    p.check_args(&[b"RESTORE", b"b", b"-1", pl]);
    p.check_args(&[b"RESTORE", b"b", b"x", pl]);
    p.check_args(&[b"RESTORE", b"b", b"0", pl, b"IDLETIME", b"-1"]);
    p.check_args(&[b"RESTORE", b"b", b"0", pl, b"IDLETIME", b"x"]);
    p.check_args(&[b"RESTORE", b"b", b"0", pl, b"FREQ", b"256"]);
    p.check_args(&[b"RESTORE", b"b", b"0", pl, b"FREQ", b"-1"]);
    p.check_args(&[b"RESTORE", b"b", b"0", pl, b"BOGUS"]);
    p.check_args(&[b"RESTORE", b"b", b"0", pl, b"IDLETIME"]);
    p.check_args(&[b"RESTORE", b"b", b"0", b"garbage"]);
    let mut bad = payload.clone();
    bad[2] ^= 1;
    p.check_args(&[b"RESTORE", b"b", b"0", &bad]);
    p.check_args(&[b"RESTORE", b"b", b"0", pl, b"IDLETIME", b"1000"]);
    p.check_args(&[b"OBJECT", b"IDLETIME", b"b"]);
    p.check_args(&[b"RESTORE", b"c", b"1", pl, b"ABSTTL"]);
    p.check_args(&[b"EXISTS", b"c"]);
    p.check_args(&[b"RESTORE", b"d", b"100000", pl]);
    p.check_args(&[b"RESTORE", b"e", b"99999999999999", pl, b"ABSTTL"]);
    p.check_args(&[b"TTL", b"e"]);
    p.check("RESTORE f");
    p.check("DUMP nosuch");
    p.check("DUMP a b");
    p.check("BGSAVE x");
    p.check("BGSAVE SCHEDULE x");
    p.check("SAVE x");
}
