//! The append-only file with real processes: redstart → redstart restarts keep every type and
//! TTL, redis-server 7.0 loads an AOF directory redstart wrote and the reverse, a truncated tail
//! is dropped (aof-load-truncated yes) or refused (no), a corrupt middle is refused with its
//! offset, and with `appendfsync always` every acknowledged write survives SIGKILL.

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redis::{Connection, Value as RV};

fn con(port: u16) -> Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap().get_connection().unwrap()
}

fn run(c: &mut Connection, line: &str) -> RV {
    let w = words(line);
    let mut cmd = redis::cmd(std::str::from_utf8(&w[0]).unwrap());
    for a in &w[1..] {
        cmd.arg(a.as_slice());
    }
    cmd.query(c).unwrap_or_else(|e| panic!("{line}: {e}"))
}

fn ours(dir: &Path, extra: &[&str]) -> Proc {
    start_redstart(&[&["--dir", dir.to_str().unwrap(), "--appendonly", "yes"], extra].concat())
}

fn theirs(dir: &Path) -> Proc {
    let p = start_redis(&["--dir", dir.to_str().unwrap(), "--appendonly", "yes"]);
    // redis-server answers (INFO, which readiness uses) while it still loads the AOF: wait
    // until commands are served.
    let mut c = Conn::connect(p.port);
    let start = std::time::Instant::now();
    while c.run("PING").starts_with(b"-LOADING") {
        assert!(start.elapsed() < Duration::from_secs(10), "redis-server still loading");
        std::thread::sleep(Duration::from_millis(10));
    }
    p
}

fn kill9(p: &mut Proc) {
    // `Child::kill` sends SIGKILL: no shutdown code runs.
    p.child.kill().unwrap();
    p.child.wait().unwrap();
}

/// Writes keys of several types, with relative and absolute expiries, in databases 0 and 3.
fn populate(c: &mut Connection) {
    for line in [
        "SET s hello",
        "SET ex v EX 1000",
        "SET px v PX 2000000",
        "SETEX sx 3000 v",
        "PSETEX psx 4000000 v",
        "SET pers v",
        "EXPIRE pers 5000",
        "SET gx v",
        "GETEX gx EX 6000",
        "SET cond v EX 100",
        "EXPIRE cond 7000 GT",
        "EXPIRE cond 500 LT",
        "INCR n",
        "INCRBY n 41",
        "APPEND s _world",
        "HSET h f1 v1 f2 v2",
        "HDEL h f2",
        "RPUSH l a b c d",
        "LPOP l",
        "SADD st x y z",
        "SREM st y",
        "ZADD z 1 a 2.5 b -3 c",
        "ZINCRBY z 10 a",
        "SADD pop m1 m2 m3 m4 m5 m6 m7 m8 m9",
        "SPOP pop",
        "SPOP pop 3",
        "SADD pop1 only",
        "SPOP pop1",
        "SET gone v",
        "DEL gone",
        "SET short v PX 1",
        "MULTI",
        "SET tx1 1",
        "RPUSH tx2 a",
        "EXEC",
        "SELECT 3",
        "SET d3 three EX 8000",
        "RPUSH l3 1 2 3",
        "RENAME l3 l3b",
        "SELECT 0",
        "SET after-select back",
    ] {
        run(c, line);
    }
    std::thread::sleep(Duration::from_millis(20));
}

type Snap = Vec<(usize, String, String, Vec<String>, String)>;

/// Every key of every database: (db, key, type, value, TTL to the nearest 10 s).
fn snapshot(c: &mut Connection) -> Snap {
    let mut out = Vec::new();
    for db in 0..16 {
        run(c, &format!("SELECT {db}"));
        let mut keys: Vec<String> = redis::cmd("KEYS").arg("*").query(c).unwrap();
        keys.sort();
        for k in keys {
            let t: String = redis::cmd("TYPE").arg(&k).query(c).unwrap();
            let q = |c: &mut Connection, args: &[&str]| -> Vec<String> {
                let mut cmd = redis::cmd(args[0]);
                for a in &args[1..] {
                    cmd.arg(*a);
                }
                cmd.query(c).unwrap()
            };
            let mut val = match t.as_str() {
                "string" => vec![redis::cmd("GET").arg(&k).query::<String>(c).unwrap()],
                "list" => q(c, &["LRANGE", &k, "0", "-1"]),
                "set" => q(c, &["SMEMBERS", &k]),
                "zset" => q(c, &["ZRANGE", &k, "0", "-1", "WITHSCORES"]),
                "hash" => q(c, &["HGETALL", &k]),
                other => panic!("unexpected type {other}"),
            };
            if t == "set" {
                val.sort();
            }
            let pttl: i64 = redis::cmd("PTTL").arg(&k).query(c).unwrap();
            let ttl = if pttl == -1 { "none".into() } else { format!("~{}", (pttl + 5000) / 10_000) };
            out.push((db, k, t, val, ttl));
        }
    }
    run(c, "SELECT 0");
    out
}

fn incr_file(dir: &Path) -> PathBuf {
    dir.join("appendonlydir").join("appendonly.aof.1.incr.aof")
}

#[test]
fn layout_and_deterministic_form() {
    let dir = tmpdir("layout");
    let mut p = ours(&dir, &[]);
    let mut c = con(p.port);
    run(&mut c, "SET a 1 EX 100");
    run(&mut c, "SELECT 2");
    run(&mut c, "RPUSH l x");
    run(&mut c, "GET a");
    let info: String = redis::cmd("INFO").arg("persistence").query(&mut c).unwrap();
    let field = |name: &str| info.lines().find_map(|l| l.strip_prefix(name)).map(str::to_string);
    assert_eq!(field("aof_enabled:").as_deref(), Some("1"));
    assert_eq!(field("aof_last_write_status:").as_deref(), Some("ok"));
    // As redis-server 7.0: a base created at start counts 0; the current size is what was logged.
    assert_eq!(field("aof_base_size:").as_deref(), Some("0"));
    let logged = std::fs::metadata(incr_file(&dir)).unwrap().len();
    assert_eq!(field("aof_current_size:"), Some(logged.to_string()));
    kill9(&mut p);
    let ad = dir.join("appendonlydir");
    assert_eq!(
        std::fs::read_to_string(ad.join("appendonly.aof.manifest")).unwrap(),
        "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    );
    assert!(std::fs::read(ad.join("appendonly.aof.1.base.rdb")).unwrap().starts_with(b"REDIS0010"));
    let incr = String::from_utf8(std::fs::read(incr_file(&dir)).unwrap()).unwrap();
    let words: Vec<&str> = incr.split("\r\n").collect();
    // SELECT 0, SET a 1 PXAT <ms>, SELECT 2, RPUSH l x; the read-only GET is not logged.
    assert_eq!(&words[..5], &["*2", "$6", "SELECT", "$1", "0"]);
    assert_eq!(&words[5..13], &["*5", "$3", "SET", "$1", "a", "$1", "1", "$4"]);
    assert_eq!(words[13], "PXAT");
    let at: u64 = words[15].parse().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    assert!(at > now + 50_000 && at <= now + 100_000, "PXAT {at} vs now {now}");
    assert_eq!(&words[16..], &["*2", "$6", "SELECT", "$1", "2", "*3", "$5", "RPUSH", "$1", "l", "$1", "x", ""]);
}

#[test]
fn restart_keeps_every_type_and_ttl() {
    let dir = tmpdir("restart");
    let mut p = ours(&dir, &[]);
    let mut c = con(p.port);
    populate(&mut c);
    let before = snapshot(&mut c);
    assert!(before.iter().any(|e| e.1 == "cond" && e.4 == "~50"), "EXPIRE LT applied: {before:?}");
    assert!(!before.iter().any(|e| e.1 == "gone" || e.1 == "short"));
    // SIGKILL: the writes are already in the file (written before each reply).
    kill9(&mut p);
    drop(c);
    let p = ours(&dir, &[]);
    let mut c = con(p.port);
    assert_eq!(snapshot(&mut c), before);
    let info: String = redis::cmd("INFO").arg("persistence").query(&mut c).unwrap();
    assert!(info.contains("rdb_changes_since_last_save:0\r\n"), "replay counted as changes: {info}");
    // And the reopened file keeps appending: a second restart sees a later write too.
    run(&mut c, "SET later 1");
    drop(p);
    let p = ours(&dir, &[]);
    let mut c = con(p.port);
    assert_eq!(run(&mut c, "GET later"), RV::BulkString(b"1".to_vec()));
}

#[test]
fn redis_loads_ours_and_ours_loads_redis() {
    let dir = tmpdir("interop");
    let mut p = ours(&dir, &[]);
    let mut c = con(p.port);
    populate(&mut c);
    let before = snapshot(&mut c);
    kill9(&mut p);
    {
        let r = theirs(&dir);
        let mut c = con(r.port);
        assert_eq!(snapshot(&mut c), before, "redis-server loading redstart's AOF");
    }
    // The reverse: a directory redis-server 7.0 created and appended to.
    let dir2 = tmpdir("interop2");
    let before = {
        let r = theirs(&dir2);
        let mut c = con(r.port);
        populate(&mut c);
        snapshot(&mut c)
    };
    let p = ours(&dir2, &[]);
    let mut c = con(p.port);
    assert_eq!(snapshot(&mut c), before, "redstart loading redis-server's AOF");
}

#[test]
fn truncated_tail_and_corrupt_middle() {
    let dir = tmpdir("trunc");
    {
        let mut p = ours(&dir, &[]);
        let mut c = con(p.port);
        run(&mut c, "SET a 1");
        run(&mut c, "SET b 2");
        kill9(&mut p);
    }
    let path = incr_file(&dir);
    let good = std::fs::read(&path).unwrap();
    let partial = b"*3\r\n$3\r\nSET\r\n$1\r\nc\r\n$1";
    std::fs::write(&path, [good.as_slice(), partial].concat()).unwrap();

    let msg = refused_with_aof(&dir, &["--aof-load-truncated", "no"]);
    assert!(msg.contains("Unexpected end of file") && msg.contains(&format!("offset {}", good.len())), "{msg}");

    // aof-load-truncated yes (the default): the partial command is dropped and cut off the file.
    {
        let p = ours(&dir, &[]);
        let mut c = con(p.port);
        assert_eq!(
            run(&mut c, "MGET a b c"),
            RV::Array(vec![RV::BulkString(b"1".to_vec()), RV::BulkString(b"2".to_vec()), RV::Nil])
        );
        assert_eq!(run(&mut c, "SET d 4"), RV::Okay);
    }
    let after = std::fs::read(&path).unwrap();
    assert!(after.starts_with(&good) && !after[good.len()..].starts_with(b"*3\r\n$3\r\nSET\r\n$1\r\nc"));

    // A damaged byte in the middle is refused whatever aof-load-truncated says, naming the offset.
    let mut bad = after.clone();
    let second = good.len() / 2;
    let at = second + bad[second..].iter().position(|&b| b == b'*').unwrap();
    bad[at] = b'?';
    std::fs::write(&path, &bad).unwrap();
    let msg = refused_with_aof(&dir, &[]);
    assert!(msg.contains(&format!("offset {at}")), "{msg}");
}

/// A blocking pop served by another client's push is logged after that push: replay pops too.
/// A relative RESTORE TTL is logged as ABSTTL.
#[test]
fn served_blocking_pop_and_restore_survive_restart() {
    let dir = tmpdir("block");
    let mut p = ours(&dir, &[]);
    let port = p.port;
    let waiter = std::thread::spawn(move || {
        let mut c = con(port);
        run(&mut c, "SELECT 4");
        run(&mut c, "BLPOP q 0")
    });
    let mut c = con(port);
    run(&mut c, "SELECT 4");
    // Wait until the BLPOP is blocked, then push two elements: it takes the first.
    for _ in 0..500 {
        let info: String = redis::cmd("INFO").arg("clients").query(&mut c).unwrap();
        if info.contains("blocked_clients:1") {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    run(&mut c, "RPUSH q a b");
    let got = waiter.join().unwrap();
    assert_eq!(got, RV::Array(vec![RV::BulkString(b"q".to_vec()), RV::BulkString(b"a".to_vec())]));
    run(&mut c, "SET src v");
    let payload: Vec<u8> = redis::cmd("DUMP").arg("src").query(&mut c).unwrap();
    redis::cmd("RESTORE").arg("dst").arg(900_000).arg(payload).query::<()>(&mut c).unwrap();
    let before = snapshot(&mut c);
    kill9(&mut p);
    let p = ours(&dir, &[]);
    let mut c = con(p.port);
    assert_eq!(snapshot(&mut c), before);
    run(&mut c, "SELECT 4");
    assert_eq!(run(&mut c, "LRANGE q 0 -1"), RV::Array(vec![RV::BulkString(b"b".to_vec())]));
    let pttl: i64 = redis::cmd("PTTL").arg("dst").query(&mut c).unwrap();
    assert!(pttl > 800_000 && pttl <= 900_000, "{pttl}");
}

/// The rewrite runs in a forked child: waits for it to finish.
fn wait_rewrite(c: &mut Connection) {
    for _ in 0..1000 {
        let info: String = redis::cmd("INFO").arg("persistence").query(c).unwrap();
        if info.contains("aof_rewrite_in_progress:0") {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// BGREWRITEAOF: a new base and incr file (seq 2, as redis-server 7.0 names them), the old
/// files deleted, later writes in the new incr file; both servers load the result.
#[test]
fn bgrewriteaof_then_restart() {
    let dir = tmpdir("rewrite");
    let mut p = ours(&dir, &[]);
    let mut c = con(p.port);
    populate(&mut c);
    assert_eq!(run(&mut c, "BGREWRITEAOF"), RV::SimpleString("Background append only file rewriting started".into()));
    wait_rewrite(&mut c);
    let ad = dir.join("appendonlydir");
    assert_eq!(
        std::fs::read_to_string(ad.join("appendonly.aof.manifest")).unwrap(),
        "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
    );
    assert!(!ad.join("appendonly.aof.1.incr.aof").exists() && !ad.join("appendonly.aof.1.base.rdb").exists());
    run(&mut c, "SELECT 5");
    run(&mut c, "SET after-rewrite 1 EX 9000");
    run(&mut c, "SELECT 0");
    run(&mut c, "DEL s");
    let info: String = redis::cmd("INFO").arg("persistence").query(&mut c).unwrap();
    assert!(info.contains("aof_rewrites:1"), "{info}");
    let before = snapshot(&mut c);
    assert!(before.iter().any(|e| e.0 == 5 && e.1 == "after-rewrite"));
    kill9(&mut p);
    {
        let p = ours(&dir, &[]);
        let mut c = con(p.port);
        assert_eq!(snapshot(&mut c), before, "redstart after its rewrite");
    }
    let r = theirs(&dir);
    let mut c = con(r.port);
    assert_eq!(snapshot(&mut c), before, "redis-server loading redstart's rewritten AOF");

    // Streams are part of the rewritten base too (with their consumer groups).
    let dir = tmpdir("rewrite-stream");
    let mut p = ours(&dir, &[]);
    let mut c = con(p.port);
    run(&mut c, "XADD st 1-1 f v");
    run(&mut c, "XADD st 2-1 f w");
    run(&mut c, "XGROUP CREATE st g 0");
    let _: redis::Value = redis::cmd("BGREWRITEAOF").query(&mut c).unwrap();
    wait_rewrite(&mut c);
    assert!(dir.join("appendonlydir").join("appendonly.aof.2.base.rdb").exists());
    kill9(&mut p);
    let p = ours(&dir, &[]);
    let mut c = con(p.port);
    let len: i64 = redis::cmd("XLEN").arg("st").query(&mut c).unwrap();
    assert_eq!(len, 2);
    let groups: Vec<redis::Value> = redis::cmd("XINFO").arg("GROUPS").arg("st").query(&mut c).unwrap();
    assert_eq!(groups.len(), 1);
}

#[test]
fn fsync_always_keeps_acknowledged_writes_across_sigkill() {
    let dir = tmpdir("crash");
    let mut p = ours(&dir, &["--appendfsync", "always"]);
    let port = p.port;
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut c = con(port);
            let mut acked = Vec::new();
            for i in 0.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let r: redis::RedisResult<String> = redis::cmd("SET").arg(format!("k{i}")).arg(i).query(&mut c);
                match r {
                    Ok(_) => acked.push(i),
                    Err(_) => break,
                }
            }
            acked
        })
    };
    std::thread::sleep(Duration::from_millis(400));
    kill9(&mut p);
    stop.store(true, Ordering::Relaxed);
    let acked = writer.join().unwrap();
    assert!(!acked.is_empty());
    let p = ours(&dir, &["--appendfsync", "always"]);
    let mut c = con(p.port);
    for i in &acked {
        let v: Option<String> = redis::cmd("GET").arg(format!("k{i}")).query(&mut c).unwrap();
        assert_eq!(v, Some(i.to_string()), "acknowledged key k{i} lost");
    }
}
