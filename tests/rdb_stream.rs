//! Streams in RDB files and DUMP payloads, with real processes: redis-server 7.0 writes streams
//! (consumer groups, pending entries, deleted entries, trimmed streams, several nodes, empty
//! streams) that redstart loads, and the reverse; DUMP/RESTORE of streams both ways; and
//! `redstart check-rdb` on a sound and a damaged file.
//!
//! Streams are compared through XRANGE, XINFO STREAM, XINFO STREAM FULL, XINFO GROUPS,
//! XINFO CONSUMERS and XPENDING with time fields normalised: absolute timestamps (seen-time,
//! delivery times) and idle times differ between servers and runs, and Redis 7.2 adds
//! `active-time`/`inactive`, which 7.0 lacks (redstart follows 7.2), so those are dropped.

mod common;
use common::*;

use std::path::Path;

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

const STREAMS: [&str; 6] = ["s1", "big", "emptyg", "alldel", "trimmed", "\u{1}bin"];

/// Streams of every shape.
fn populate(c: &mut Connection) {
    for l in [
        "XADD s1 1-1 name alice age 30",
        "XADD s1 1-2 name bob age 31",
        "XADD s1 2-0 other field n -5",
        "XADD s1 5-7 name carol age 123456789012",
        "XADD s1 5-8 name dave",
        "XADD s1 6-0 name eve age 1",
        "XDEL s1 1-2",
        "XGROUP CREATE s1 g1 0",
        "XGROUP CREATE s1 g2 $",
        "XGROUP CREATE s1 g3 0 ENTRIESREAD 2",
        "XREADGROUP GROUP g1 c1 COUNT 2 STREAMS s1 >",
        "XREADGROUP GROUP g1 c2 COUNT 2 STREAMS s1 >",
        "XACK s1 g1 2-0",
        "XGROUP CREATECONSUMER s1 g1 idle-one",
        "XREADGROUP GROUP g3 c1 STREAMS s1 >",
        "XCLAIM s1 g3 c9 0 5-7",
        "XGROUP CREATE emptyg g $ MKSTREAM",
        "XADD alldel 10-1 a b",
        "XADD alldel 10-2 a c",
        "XDEL alldel 10-1 10-2",
        "XGROUP CREATE alldel g 0",
    ] {
        run(c, l);
    }
    for i in 1..=260u32 {
        let v = format!("value-{i}-{}", "x".repeat((i % 40) as usize));
        let f: &[u8] = if i % 3 == 0 { b"alt" } else { b"f" };
        q(
            c,
            &[
                b"XADD",
                b"big",
                format!("{}-{}", 1000 + i / 7, i).as_bytes(),
                f,
                v.as_bytes(),
                b"n",
                i.to_string().as_bytes(),
            ],
        );
        q(
            c,
            &[
                b"XADD",
                b"trimmed",
                b"MAXLEN",
                b"50",
                format!("{}-{}", 2000 + i / 5, i).as_bytes(),
                b"k",
                i.to_string().as_bytes(),
            ],
        );
    }
    for i in (5..200u32).step_by(9) {
        q(c, &[b"XDEL", b"big", format!("{}-{}", 1000 + i / 7, i).as_bytes()]);
    }
    run(c, "XTRIM trimmed MINID 0");
    run(c, "XGROUP CREATE big grp 0");
    run(c, "XREADGROUP GROUP grp alice COUNT 120 STREAMS big >");
    run(c, "XREADGROUP GROUP grp bob COUNT 30 STREAMS big >");
    run(c, "XREADGROUP GROUP grp alice COUNT 5 STREAMS big 0");
    q(c, &[b"XADD", b"\x01bin", b"1-1", b"\x00f\xff", b"\xfe\x00v", b"", b""]);
    q(c, &[b"XGROUP", b"CREATE", b"\x01bin", b"\xffgroup", b"0"]);
    q(c, &[b"XREADGROUP", b"GROUP", b"\xffgroup", b"\x00cons", b"STREAMS", b"\x01bin", b">"]);
    run(c, "SELECT 2");
    run(c, "XADD indb2 1-1 a b");
    run(c, "PEXPIRE indb2 100000000");
    run(c, "SELECT 0");
    run(c, "SET plain string");
}

/// Absolute timestamps become "T"; idle/inactive/active-time pairs are dropped.
fn norm(v: &RV) -> String {
    match v {
        RV::Int(n) if *n > 1_600_000_000_000 => "T".into(),
        RV::Array(a) => {
            let mut out = Vec::new();
            let mut i = 0;
            while i < a.len() {
                if let RV::BulkString(k) = &a[i] {
                    if matches!(k.as_slice(), b"idle" | b"inactive" | b"active-time") && i + 1 < a.len() {
                        i += 2;
                        continue;
                    }
                }
                out.push(norm(&a[i]));
                i += 1;
            }
            format!("[{}]", out.join(","))
        }
        RV::BulkString(b) => format!("{:?}", String::from_utf8_lossy(b)),
        other => format!("{other:?}"),
    }
}

/// XPENDING's extended form with the idle times (index 2) checked then dropped.
fn pending(c: &mut Connection, key: &[u8], group: &[u8]) -> String {
    let summary = norm(&q(c, &[b"XPENDING", key, group]));
    let RV::Array(rows) = q(c, &[b"XPENDING", key, group, b"-", b"+", b"1000"]) else { panic!("xpending") };
    let mut out = vec![summary];
    for r in rows {
        let RV::Array(mut f) = r else { panic!("row") };
        let RV::Int(idle) = f[2] else { panic!("idle {:?}", f[2]) };
        assert!((0..100_000_000).contains(&idle), "idle {idle}");
        f.remove(2);
        out.push(norm(&RV::Array(f)));
    }
    out.join("\n")
}

fn snapshot(c: &mut Connection) -> Vec<String> {
    let mut out = Vec::new();
    for db in [0, 2] {
        run(c, &format!("SELECT {db}"));
        let RV::Array(keys) = run(c, "KEYS *") else { panic!("keys") };
        let mut keys: Vec<Vec<u8>> =
            keys.into_iter().map(|k| if let RV::BulkString(b) = k { b } else { panic!() }).collect();
        keys.sort();
        out.push(format!("db{db} keys {keys:?}"));
        for k in keys {
            let k = k.as_slice();
            let t = norm(&q(c, &[b"TYPE", k]));
            out.push(format!("{k:?} type {t}"));
            if t != "Okay" && t != "SimpleString(\"stream\")" && !t.contains("stream") {
                continue;
            }
            let ttl = match q(c, &[b"PTTL", k]) {
                RV::Int(-1) => "none".to_string(),
                RV::Int(n) if n > 0 => "set".to_string(),
                other => format!("{other:?}"),
            };
            out.push(format!("{k:?} ttl {ttl}"));
            out.push(format!("{k:?} xrange {}", norm(&q(c, &[b"XRANGE", k, b"-", b"+"]))));
            out.push(format!("{k:?} xlen {}", norm(&q(c, &[b"XLEN", k]))));
            out.push(format!("{k:?} info {}", norm(&q(c, &[b"XINFO", b"STREAM", k]))));
            out.push(format!("{k:?} full {}", norm(&q(c, &[b"XINFO", b"STREAM", k, b"FULL"]))));
            let groups = q(c, &[b"XINFO", b"GROUPS", k]);
            out.push(format!("{k:?} groups {}", norm(&groups)));
            let RV::Array(gs) = groups else { panic!("groups") };
            for g in gs {
                let RV::Array(g) = g else { panic!("group") };
                let RV::BulkString(name) = &g[1] else { panic!("name") };
                out.push(format!("{k:?} consumers {}", norm(&q(c, &[b"XINFO", b"CONSUMERS", k, name]))));
                out.push(format!("{k:?} pending {}", pending(c, k, name)));
            }
        }
    }
    run(c, "SELECT 0");
    out
}

fn same(a: &[String], b: &[String], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: snapshot sizes\n{a:#?}\n{b:#?}");
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x, y, "{what}");
    }
}

fn start_redis_in(dir: &Path) -> Proc {
    start_redis(&["--dir", dir.to_str().unwrap()])
}

fn start_ours_in(dir: &Path) -> Proc {
    start_redstart(&["--dir", dir.to_str().unwrap()])
}

fn sanity(snap: &[String]) {
    // The data really holds what the comparison relies on.
    let all = snap.join("\n");
    for k in STREAMS {
        assert!(all.contains(&format!("{:?} xlen", k.as_bytes())), "missing {k}");
    }
    assert!(all.contains("\"c9\""), "claimed consumer missing");
    assert!(all.contains("\"idle-one\""), "consumer without pending entries missing");
}

/// redis-server 7.0 writes streams (type 19); redstart loads them identically.
#[test]
fn redis_streams_load_into_redstart() {
    let dir = tmpdir("r2s");
    let expected = {
        let r = start_redis_in(&dir);
        let mut c = con(r.port);
        populate(&mut c);
        // 7.0 writes STREAM_LISTPACKS_2.
        let RV::BulkString(p) = run(&mut c, "DUMP s1") else { panic!("dump") };
        assert_eq!(p[0], 19);
        assert_eq!(run(&mut c, "SAVE"), RV::Okay);
        snapshot(&mut c)
    };
    sanity(&expected);
    let ours = start_ours_in(&dir);
    let mut c = con(ours.port);
    same(&snapshot(&mut c), &expected, "redis -> redstart");
    // The loaded stream keeps working: new entries, reads and acks.
    run(&mut c, "XADD s1 7-0 name zed");
    assert_eq!(run(&mut c, "XACK s1 g1 1-1 5-7"), RV::Int(2));
    assert_eq!(run(&mut c, "XLEN big"), RV::Int(260 - 22));
}

/// redstart writes streams; redis-server 7.0 loads them identically (and its own checks pass).
#[test]
fn redstart_streams_load_into_redis() {
    let dir = tmpdir("s2r");
    let expected = {
        let ours = start_ours_in(&dir);
        let mut c = con(ours.port);
        populate(&mut c);
        let RV::BulkString(p) = run(&mut c, "DUMP s1") else { panic!("dump") };
        assert_eq!(p[0], 19);
        assert_eq!(run(&mut c, "SAVE"), RV::Okay);
        snapshot(&mut c)
    };
    sanity(&expected);
    // redstart's own checker reads what redstart wrote.
    let (code, out) = check_rdb(&dir.join("dump.rdb"));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("db0: stream=6") && out.contains("db2: keys=1 expires=1"), "{out}");
    {
        let r = start_redis(&["--dir", dir.to_str().unwrap(), "--sanitize-dump-payload", "yes"]);
        let mut c = con(r.port);
        same(&snapshot(&mut c), &expected, "redstart -> redis");
        // And back: Redis saves what it loaded, redstart loads that.
        assert_eq!(run(&mut c, "SAVE"), RV::Okay);
    }
    let ours = start_ours_in(&dir);
    let mut c = con(ours.port);
    same(&snapshot(&mut c), &expected, "redstart -> redis -> redstart");
}

/// DUMP in one server, RESTORE in the other, both ways, for every stream.
#[test]
fn dump_restore_streams_both_ways() {
    // Deep sanitisation makes Redis validate every listpack entry, flag, count and PEL link of
    // the payloads redstart writes.
    let r = start_redis(&["--sanitize-dump-payload", "yes"]);
    let ours = start_redstart(&[]);
    let mut rc = con(r.port);
    let mut oc = con(ours.port);
    populate(&mut rc);
    populate(&mut oc);
    let base_r = snapshot(&mut rc);
    let base_o = snapshot(&mut oc);
    same(&base_o, &base_r, "same data before DUMP");
    for k in STREAMS {
        let RV::BulkString(p) = q(&mut rc, &[b"DUMP", k.as_bytes()]) else { panic!("dump {k}") };
        assert_eq!(q(&mut oc, &[b"RESTORE", k.as_bytes(), b"0", &p, b"REPLACE"]), RV::Okay, "redis -> redstart {k}");
        let RV::BulkString(p) = q(&mut oc, &[b"DUMP", k.as_bytes()]) else { panic!("dump {k}") };
        assert_eq!(q(&mut rc, &[b"RESTORE", k.as_bytes(), b"0", &p, b"REPLACE"]), RV::Okay, "redstart -> redis {k}");
    }
    same(&snapshot(&mut oc), &base_r, "after restores (redstart)");
    same(&snapshot(&mut rc), &base_r, "after restores (redis)");
    // A damaged stream payload is refused by both, with the same error.
    let RV::BulkString(mut p) = run(&mut oc, "DUMP big") else { panic!() };
    let mid = p.len() / 2;
    p[mid] ^= 0x55;
    let e1 = redis::cmd("RESTORE").arg("x").arg(0).arg(&p).query::<RV>(&mut oc).unwrap_err();
    let e2 = redis::cmd("RESTORE").arg("x").arg(0).arg(&p).query::<RV>(&mut rc).unwrap_err();
    assert_eq!(e1.to_string(), e2.to_string());
}

fn check_rdb(file: &Path) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_redstart"))
        .args(["check-rdb", file.to_str().unwrap()])
        .output()
        .unwrap();
    (out.status.code().unwrap(), String::from_utf8_lossy(&out.stdout).to_string())
}

/// `redstart check-rdb` describes a sound file and locates damage in a broken one.
#[test]
fn check_rdb_tool() {
    let dir = tmpdir("check");
    {
        let r = start_redis_in(&dir);
        let mut c = con(r.port);
        populate(&mut c);
        assert_eq!(run(&mut c, "SAVE"), RV::Okay);
    }
    let file = dir.join("dump.rdb");
    let (code, out) = check_rdb(&file);
    assert_eq!(code, 0, "{out}");
    for want in ["RDB version: 10", "AUX redis-ver = 7.0.15", "db0: keys=7 expires=0", "db0: stream=6", "db0: string=1"]
    {
        assert!(out.contains(want), "{want} not in {out}");
    }
    assert!(out.contains("db2: keys=1 expires=1"), "{out}");
    // Damage a byte in the middle (a stream's listpack): reported with an offset, status 1.
    let mut data = std::fs::read(&file).unwrap();
    let bad = dir.join("bad.rdb");
    let mid = data.len() / 2;
    data[mid] ^= 0xff;
    std::fs::write(&bad, &data).unwrap();
    let (code, out) = check_rdb(&bad);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("RDB ERROR DETECTED") && out.contains("[offset "), "{out}");
    // Truncated: the offset is where the data ran out.
    let data = std::fs::read(&file).unwrap();
    std::fs::write(&bad, &data[..data.len() - 20]).unwrap();
    let (code, out) = check_rdb(&bad);
    assert_eq!(code, 1);
    assert!(out.contains("Unexpected EOF"), "{out}");
    // Missing file and bad usage.
    assert_eq!(check_rdb(&dir.join("nope.rdb")).0, 1);
}
