//! Deterministic propagation to the AOF, against redis-server: each command runs on redstart and
//! on the oracle (both `appendonly yes`, `appendfsync always`, their own directory), and the
//! commands each one appended to its incremental file are compared, with times and
//! time-based stream IDs normalised. Then restarts: what was logged rebuilds the same state
//! (float results, generated IDs, PEL delivery counts, transactions), and an incomplete
//! transaction at the end of the file is dropped.

mod common;
use common::aof::*;
use common::*;

use std::path::Path;
use std::time::Duration;

#[test]
fn strings_hashes_keyspace_as_redis() {
    let mut p = AofPair::new("strings");
    p.check_all(&[
        "SET f 1.5",
        "INCRBYFLOAT f 2",
        "SET g 1 EX 100",
        "INCRBYFLOAT g 1",
        "INCRBYFLOAT nf 3.0e1",
        "HINCRBYFLOAT h a 1.25",
        "HINCRBYFLOAT h a 1e1",
        "DEL missing",
        "UNLINK missing",
        "SREM nos a",
        "SADD st a",
        "SADD st a",
        "SREM st b",
        "EXPIRE missing 10",
        "GETDEL missing",
        "SET a 1",
        "GETDEL a",
        "SET a 1",
        "GETEX a",
        "GETEX a PERSIST",
        "GETEX a EX 100",
        "GETEX a PERSIST",
        "GETEX a PX 100000",
        "GETEX a EXAT 99999999999",
        "GETEX a PXAT 99999999999999",
        "GETEX a PXAT 1",
        "GETEX missing EX 10",
        "SET b 2 GET",
        "SET b 3 NX GET",
        "SET b 4 XX GET KEEPTTL",
        "SET b2 1 NX GET",
        "SET k v NX EX 10 GET",
        "SET k v3 XX PX 5000 GET",
        "SET k v pxat 99999999999999 GET",
        "SET k v NX pxat 99999999999999",
        "SET k v exat 99999999999",
        "SETNX k x",
        "MSETNX k x n y",
        "GETSET k w",
        "MOVE b 1",
        "COPY k c",
        "SETEX k2 100 v",
        "PSETEX k3 100000 v",
        "EXPIRE k2 100 NX",
        "EXPIRE k2 200 XX",
        "EXPIRE k2 10 GT",
        "PEXPIRE k2 300000",
        "EXPIREAT k2 99999999999",
        "PEXPIREAT k2 99999999999999",
        "EXPIRE k2 -1",
        "SET k4 x",
        "PEXPIREAT k4 1",
        "SET k5 x",
        "EXPIRE k5 0",
        "PERSIST nokey",
        "SET p 1",
        "PERSIST p",
        "EXPIRE p 100",
        "PERSIST p",
        "HSETNX h f v",
        "HSETNX h f v",
        "HDEL h zz",
        "HDEL h f",
        "DEL k nothing c",
    ]);
    // RESTORE: a relative TTL becomes ABSTTL, IDLETIME/FREQ are kept.
    p.both("SET src hello");
    let dump = {
        let r = p.a.run("DUMP src");
        let len_end = r.iter().position(|&b| b == b'\r').unwrap();
        r[len_end + 2..r.len() - 2].to_vec()
    };
    for extra in [&[][..], &[&b"IDLETIME"[..], b"100"], &[b"FREQ", b"5"], &[b"REPLACE", b"ABSTTL"]] {
        for ttl in [&b"0"[..], b"100000"] {
            let mut args: Vec<&[u8]> = vec![b"RESTORE", b"r", ttl, &dump, b"REPLACE"];
            args.extend_from_slice(extra);
            if extra.first() == Some(&&b"REPLACE"[..]) {
                args.truncate(4);
                args.extend_from_slice(extra);
                if ttl != b"0" {
                    continue;
                }
            }
            let (ba, bb) = p.logged();
            let ra = p.a.cmd(&args);
            let rb = p.b.cmd(&args);
            assert_eq!(ra, rb);
            let (aa, ab) = p.logged();
            assert_eq!(normalise(&aa[ba.len()..]), normalise(&ab[bb.len()..]), "{:?}", show(&aa[ba.len()..]));
        }
    }
}

#[test]
fn pops_and_served_blocking_commands_as_redis() {
    let mut p = AofPair::new("pops");
    p.check_all(&[
        "SADD s1 only",
        "SPOP s1",
        "SPOP s1",
        "SPOP s1 3",
        "SADD s2 a b",
        "SPOP s2 10",
        "SADD s3 a",
        "SPOP s3 0",
        "RPUSH l a b c",
        "BLPOP l 0",
        "BRPOP l 0",
        "BLMOVE l l2 left right 0",
        "BRPOPLPUSH l2 l 0",
        "BLMPOP 0 1 l left count 2",
        "ZADD z 1 a 2 b 3 c",
        "BZPOPMIN z 0",
        "BZPOPMAX z 0",
        "BZMPOP 0 1 z min",
        "LPUSH l x y",
        "LMPOP 1 l right COUNT 5",
        "ZADD z 1 a",
        "ZMPOP 1 z max",
        "LPOP nol",
        "LPOP nol 2",
        "RPOPLPUSH nol x",
        "LMOVE nol x left left",
        "LMPOP 1 nol left",
        "ZREM noz a",
        "ZPOPMIN noz",
        "ZMPOP 1 noz min",
        "RPUSH l2 a",
        "LPOP l2 0",
    ]);
    // Blocked clients served later: the push, then the non-blocking form of what was served.
    let (mut wa, mut wb) = (Conn::connect(p.ours.port), Conn::connect(p.theirs.port));
    for (block, push) in [
        ("BLPOP bl 0", "RPUSH bl v"),
        ("BRPOP bl other 0", "RPUSH bl v w"),
        ("BLMOVE bl bl2 RIGHT LEFT 0", "LPUSH bl v"),
        ("BRPOPLPUSH bl bl3 0", "LPUSH bl v"),
        ("BLMPOP 0 2 x bl RIGHT COUNT 3", "RPUSH bl a b"),
        ("BZPOPMIN bz 0", "ZADD bz 1 a 2 b"),
        ("BZMPOP 0 1 bz MAX COUNT 2", "ZADD bz 3 c"),
    ] {
        send(&mut wa, block);
        send(&mut wb, block);
        settle();
        p.check(push);
        assert_eq!(wa.read_reply(), wb.read_reply(), "{block}");
    }
    // A blocking command inside MULTI that finds nothing replies at once and logs nothing.
    p.check_all(&["MULTI", "BLPOP empty 0", "EXEC"]);
}

#[test]
fn spop_with_count_is_srem_batches() {
    // Redis 7.2 propagates SPOP with a count as `SREM key m..` in batches of 1024 members
    // (7.0 wrote one SREM per member in a MULTI): asserted directly against the reply.
    let d = tmpdir("spop");
    let s = ours(&d);
    let mut c = Conn::connect(s.port);
    let mut args: Vec<Vec<u8>> = vec![b"SADD".to_vec(), b"big".to_vec()];
    args.extend((0..3000).map(|i| format!("m{i}").into_bytes()));
    let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
    c.cmd(&refs);
    let before = parse(&incr(&d)).len();
    let reply = c.run("SPOP big 2500");
    let popped = sorted_items(&reply);
    assert_eq!(popped.len(), 2500);
    let logged = parse(&incr(&d))[before..].to_vec();
    assert_eq!(show(&logged[..1]), vec!["MULTI"]);
    assert_eq!(show(&logged[logged.len() - 1..]), vec!["EXEC"]);
    let srems = &logged[1..logged.len() - 1];
    assert_eq!(srems.iter().map(|c| c.len() - 2).collect::<Vec<_>>(), vec![1024, 1024, 452]);
    let mut members: Vec<Vec<u8>> = srems
        .iter()
        .flat_map(|c| {
            assert_eq!(&c[..2], &[b"SREM".to_vec(), b"big".to_vec()]);
            c[2..].to_vec()
        })
        .collect();
    members.sort();
    assert_eq!(members, popped);
    // A single SPOP logs the member it popped.
    let before = parse(&incr(&d)).len();
    let reply = c.run("SPOP big 3");
    let logged = parse(&incr(&d))[before..].to_vec();
    assert_eq!(logged.len(), 1);
    let mut m = logged[0][2..].to_vec();
    m.sort();
    assert_eq!(m, sorted_items(&reply));
}

#[test]
fn streams_as_redis() {
    let mut p = AofPair::new("streams");
    p.check_all(&[
        "XADD s * a 1",
        "XADD s 9999999999999-* b 2",
        "XADD s MAXLEN ~ 5 * c 3",
        "XADD s2 * c 3",
        "XADD s2 MAXLEN 5 * c 3",
        "XADD s2 MINID ~ 0 * c 3",
        "XADD s2 MAXLEN ~ 5 LIMIT 10 * d 4",
        "XADD s2 MINID ~ 0 LIMIT 10 * d 5",
        "XADD s3 5-* d 5",
        "XADD s3 7 d 5",
        "XADD s3 NOMKSTREAM 8-1 x y",
        "XADD nos NOMKSTREAM * x y",
        "XTRIM s2 MAXLEN 100",
        "XTRIM s2 MAXLEN ~ 100",
        "XTRIM s2 MAXLEN 2",
        "XTRIM nos MAXLEN 1",
        "XADD q 1-1 a 1",
        "XADD q 2-1 b 2",
        "XADD q 3-1 c 3",
        "XGROUP CREATE q g 0",
        "XGROUP CREATE q g2 $ ENTRIESREAD 3",
        "XREADGROUP GROUP g c1 COUNT 2 STREAMS q >",
        "XREADGROUP GROUP g c1 STREAMS q 0",
        "XREADGROUP GROUP g newc STREAMS q 0",
        "XREADGROUP GROUP g c2 NOACK STREAMS q >",
        "XREADGROUP GROUP g c1 STREAMS q >",
        "XCLAIM q g c3 0 1-1",
        "XCLAIM q g c3 0 2-1 JUSTID",
        "XCLAIM q g c4 0 1-1 IDLE 500 RETRYCOUNT 7 FORCE",
        "XAUTOCLAIM q g c5 0 0 COUNT 1",
        "XAUTOCLAIM q g c5 0 0 JUSTID",
        "XACK q g 1-1",
        "XACK q g 1-1",
        "XGROUP CREATECONSUMER q g c9",
        "XGROUP CREATECONSUMER q g c9",
        "XGROUP DELCONSUMER q g c9",
        "XGROUP SETID q g 0",
        "XREADGROUP GROUP g2 n1 NOACK COUNT 1 STREAMS q >",
        "XDEL q 9-9",
        "XGROUP DESTROY q nog",
        "XADD v 1-1 a 1",
        "XADD v 2-1 b 2",
        "XADD v 3-1 c 3",
        "XGROUP CREATE v g 0",
        "XREADGROUP GROUP g c1 STREAMS v >",
        "XDEL v 1-1 2-1",
        "XCLAIM v g c2 0 1-1",
        "XAUTOCLAIM v g c3 0 0",
        "XCLAIM v g c4 0 9-9 LASTID 9-9",
        "XCLAIM v g c5 0 9-9",
    ]);
    // The generated ID is the one replied.
    let (logged, reply) = p.check("XADD s * e 5");
    assert_eq!(logged.len(), 1);
    assert_eq!(body(&reply), String::from_utf8_lossy(&logged[0][2]));
    // A blocked XREADGROUP served by an XADD logs the XADD, then the delivery as XCLAIM.
    p.both("XGROUP CREATE bq g $ MKSTREAM");
    let (mut wa, mut wb) = (Conn::connect(p.ours.port), Conn::connect(p.theirs.port));
    send(&mut wa, "XREADGROUP GROUP g w BLOCK 0 STREAMS bq >");
    send(&mut wb, "XREADGROUP GROUP g w BLOCK 0 STREAMS bq >");
    settle();
    p.check("XADD bq 5-1 f v");
    assert_eq!(wa.read_reply(), wb.read_reply());
}

/// Bitmaps: SETBIT and BITFIELD are logged as received when they change something (a new or
/// grown string, or a different value), and not at all otherwise; BITOP whenever it stores or
/// deletes its destination; reads and BITFIELD_RO never. A BITFIELD whose writes all FAIL
/// creates its key without logging it, as Redis.
#[test]
fn bitmaps_as_redis() {
    let mut p = AofPair::new("bits");
    p.check_all(&[
        "SETBIT b 7 1",
        "SETBIT b 7 1",
        "SETBIT b 3 0",
        "SETBIT b 100 0",
        "SETBIT b 100 0",
        "SETBIT b 7 0",
        "SETBIT b x 1",
        "GETBIT b 7",
        "BITCOUNT b",
        "BITPOS b 1",
        "SET n 10",
        "SETBIT n 0 0",
        "BITFIELD f SET u8 0 200",
        "BITFIELD f SET u8 0 200",
        "BITFIELD f GET u8 0",
        "BITFIELD f INCRBY u8 0 0 GET i4 4",
        "BITFIELD f OVERFLOW FAIL INCRBY u8 0 100",
        "BITFIELD f OVERFLOW SAT INCRBY u8 0 100",
        "BITFIELD f OVERFLOW SAT INCRBY u8 0 100",
        "BITFIELD f SET u8 16 0",
        "BITFIELD f SET u8 16 0",
        "BITFIELD f OVERFLOW WRAP INCRBY i8 #3 -1 GET u8 0",
        "BITFIELD f",
        "BITFIELD_RO f GET u8 0",
        "BITFIELD nf OVERFLOW FAIL INCRBY u2 40 9",
        "EXISTS nf",
        "BITFIELD nf OVERFLOW FAIL INCRBY u2 40 9 SET u1 0 1",
        "BITOP OR d b f",
        "BITOP OR d b f",
        "BITOP NOT d2 missing",
        "BITOP AND d missing",
        "BITOP AND d missing",
        "BITOP NOT d b b",
        "MULTI",
        "SETBIT m 1 1",
        "SETBIT m 1 1",
        "BITFIELD m GET u8 0",
        "BITOP XOR m2 m",
        "EXEC",
        "MULTI",
        "SETBIT m 1 1",
        "BITFIELD m SET u8 0 64",
        "EXEC",
    ]);
    let (ours, _) = p.logged();
    assert_eq!(
        show(&ours),
        [
            "SELECT 0",
            "SETBIT b 7 1",
            "SETBIT b 100 0",
            "SETBIT b 7 0",
            "SET n 10",
            "BITFIELD f SET u8 0 200",
            "BITFIELD f OVERFLOW SAT INCRBY u8 0 100",
            "BITFIELD f SET u8 16 0",
            "BITFIELD f OVERFLOW WRAP INCRBY i8 #3 -1 GET u8 0",
            "BITFIELD nf OVERFLOW FAIL INCRBY u2 40 9 SET u1 0 1",
            "BITOP OR d b f",
            "BITOP OR d b f",
            "BITOP AND d missing",
            "MULTI",
            "SETBIT m 1 1",
            "BITOP XOR m2 m",
            "EXEC",
        ]
    );
}

#[test]
fn transactions_and_expiry_as_redis() {
    let mut p = AofPair::new("txn");
    p.check_all(&[
        "MULTI",
        "SET t1 1",
        "GET t1",
        "INCR t1",
        "EXEC",
        // Nothing written: nothing logged.
        "MULTI",
        "GET t1",
        "DEL nothing",
        "EXEC",
        // One write: logged alone.
        "MULTI",
        "INCRBYFLOAT t2 1.5",
        "SPOP nos",
        "EXEC",
        // Several commands from one command inside a transaction are not nested.
        "XADD q 1-1 a 1",
        "XADD q 2-1 a 1",
        "XGROUP CREATE q g 0",
        "MULTI",
        "SET t3 x",
        "XREADGROUP GROUP g c STREAMS q >",
        "EXEC",
        // Databases switched inside a transaction.
        "SELECT 2",
        "MULTI",
        "SET x 1",
        "SELECT 3",
        "SET y 2",
        "EXEC",
        "SELECT 0",
        "SET z 1",
        // A discarded or failed transaction logs nothing.
        "MULTI",
        "SET d 1",
        "DISCARD",
        "WATCH w",
        "SET w 1",
        "MULTI",
        "SET w 2",
        "EXEC",
    ]);
    // Expired keys are logged as `DEL key`: by the lookup that finds them (lazy expiry,
    // before the command's own entry) or by active expiry, whichever comes first (a race on
    // both servers), so what was logged over the window is compared as a multiset.
    p.check_all(&["SET e1 x PX 30", "SET e2 x PX 30", "SET e3 x PX 30"]);
    let (ba, bb) = p.logged();
    std::thread::sleep(Duration::from_millis(150));
    p.both("SET e1 y");
    p.both("GET e2");
    p.both("LPUSH e3 a");
    let (aa, ab) = p.logged();
    let sorted = |v: &[Cmd]| {
        let mut v = show(v);
        v.sort();
        v
    };
    let (na, nb) = (sorted(&aa[ba.len()..]), sorted(&ab[bb.len()..]));
    assert_eq!(na, nb);
    assert_eq!(na, vec!["DEL e1", "DEL e2", "DEL e3", "LPUSH e3 a", "SET e1 y"]);
    let ours = show(&aa[ba.len()..]);
    let at = |l: &str| ours.iter().position(|x| x == l).unwrap();
    assert!(at("DEL e1") < at("SET e1 y") && at("DEL e3") < at("LPUSH e3 a"), "{ours:?}");
}

/// HyperLogLog: PFADD when a register changed, PFCOUNT when it cached a recomputed count (a
/// read-only command that writes), PFMERGE always, PFDEBUG only when it converted to dense;
/// inside transactions too. Replaying the log gives the same bytes.
#[test]
fn hyperloglog_as_redis() {
    let mut p = AofPair::new("hll");
    p.check_all(&[
        "PFADD h",
        "PFADD h",
        "PFADD h a b c",
        "PFADD h a",
        "PFCOUNT h",
        "PFCOUNT h",
        "PFCOUNT missing",
        "PFCOUNT h missing",
        "PFADD e",
        "PFMERGE m h e",
        "PFMERGE m",
        "PFDEBUG ENCODING m",
        "PFDEBUG DECODE m",
        "PFDEBUG TODENSE m",
        "PFDEBUG TODENSE m",
        "PFDEBUG DECODE m",
        "PFDEBUG GETREG h",
        "PFDEBUG GETREG h",
        "PFDEBUG nosuch h",
        "PFDEBUG GETREG missing",
        "SET s notanhll",
        "PFADD s a",
        "PFCOUNT s",
        "PFMERGE s h",
        "MULTI",
        "PFADD x 1 2 3",
        "PFCOUNT x",
        "PFCOUNT x",
        "PFADD x 1",
        "EXEC",
        "MULTI",
        "PFCOUNT x",
        "PFADD x 1",
        "EXEC",
    ]);
    p.both("PFADD y a");
    let (logged, _) = p.check("PFCOUNT y");
    assert_eq!(show(&logged), vec!["PFCOUNT y"], "a recomputed count is logged");
    let (logged, _) = p.check("PFCOUNT y");
    assert!(logged.is_empty(), "a cached count is not");
    let (logged, _) = p.check("PFDEBUG GETREG y");
    assert_eq!(show(&logged), vec!["PFDEBUG GETREG y"], "a conversion to dense is logged");
    let keys = ["h", "e", "m", "x", "y"];
    let before: Vec<Vec<u8>> = keys.iter().map(|k| p.a.run(&format!("GET {k}"))).collect();
    let (ours, da) = (p.ours, p.da);
    let (_ours, mut c) = restart(ours, &da);
    let after: Vec<Vec<u8>> = keys.iter().map(|k| c.run(&format!("GET {k}"))).collect();
    assert_eq!(before, after, "replaying the AOF rebuilds the same bytes");
}

/// GEOADD is logged as the `zadd` Redis rewrites it into (options as typed, integer scores),
/// only when it changed the set; searches log nothing; GEORADIUS ... STORE and GEOSEARCHSTORE
/// are logged as received when they stored or deleted their destination. A restart rebuilds
/// the same geo sets (scores above 2^53 included).
#[test]
fn geo_as_redis() {
    let mut p = AofPair::new("geo");
    p.check_all(&[
        "GEOADD g 13.361389 38.115556 Palermo 15.087269 37.502669 Catania",
        "GEOADD g 180 85.05112878 corner -180 -85.05112878 other 180 0 east",
        "GEOADD g XX 1 1 nosuch",
        "GEOADD g NX 13.361389 38.115556 Palermo",
        "GEOADD g 13.361389 38.115556 Palermo",
        "GEOADD g ch 13.4 38.1 Palermo 1 1 new",
        "GEOADD g xx CH 13.5 38.1 Palermo 1 1 fresh",
        "GEOADD nokey XX 1 1 a",
        "GEOADD g 200 0 bad",
        "GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 200 km",
        "GEORADIUS g 15 37 200 km",
        "GEORADIUS_RO g 15 37 200 km",
        "GEORADIUSBYMEMBER g Palermo 200 km",
        "GEOPOS g Palermo",
        "GEODIST g Palermo Catania",
        "GEOHASH g Palermo",
        "GEORADIUS g 15 37 200 km STORE dst",
        "GEORADIUS g 15 37 200 km STOREDIST dst2",
        "GEORADIUSBYMEMBER g Palermo 200 km STORE dst3",
        "GEOSEARCHSTORE dst4 g FROMLONLAT 15 37 BYRADIUS 200 km",
        "GEOSEARCHSTORE dst4 g FROMLONLAT 15 37 BYBOX 400 400 km STOREDIST",
        "GEOSEARCHSTORE dst4 g FROMLONLAT 100 37 BYRADIUS 200 km",
        "GEOSEARCHSTORE dst4 g FROMLONLAT 100 37 BYRADIUS 200 km",
        "GEOSEARCHSTORE dst5 nokey FROMLONLAT 100 37 BYRADIUS 200 km",
        "SET dst5 x",
        "GEOSEARCHSTORE dst5 nokey FROMLONLAT 100 37 BYRADIUS 200 km",
        "GEORADIUS g 100 37 200 km STORE dst",
        "GEORADIUS g 100 37 200 km STORE dst",
        "GEORADIUSBYMEMBER g nosuch 200 km STORE dst",
        "MULTI",
        "GEOADD g 2 2 m2",
        "GEOSEARCH g FROMLONLAT 2 2 BYRADIUS 1 km",
        "GEOSEARCHSTORE dst6 g FROMLONLAT 2 2 BYRADIUS 1 km",
        "EXEC",
        "MULTI",
        "GEOADD g 2 2 m2",
        "GEORADIUS g 2 2 1 km",
        "EXEC",
    ]);
    let probes =
        ["ZRANGE g 0 -1 WITHSCORES", "ZRANGE dst3 0 -1 WITHSCORES", "ZRANGE dst6 0 -1 WITHSCORES", "EXISTS dst4"];
    let before: Vec<Vec<u8>> = probes.iter().map(|l| p.a.run(l)).collect();
    let AofPair { ours: s, da, .. } = p;
    let (_s, mut c) = restart(s, &da);
    for (l, b) in probes.iter().zip(&before) {
        assert_eq!(text(&c.run(l)), text(b), "{l} after restart");
    }
}

fn get(c: &mut Conn, line: &str) -> String {
    body(&c.run(line))
}

fn int(c: &mut Conn, line: &str) -> i64 {
    let r = text(&c.run(line));
    r.strip_prefix(':').and_then(|x| x.strip_suffix("\r\n")).unwrap_or_else(|| panic!("{line}: {r}")).parse().unwrap()
}

/// The scalar items of a reply, in order (arrays flattened).
fn items(raw: &[u8]) -> Vec<String> {
    reply_items(raw).iter().map(|b| text(b)).collect()
}

fn restart(s: Proc, d: &Path) -> (Proc, Conn) {
    drop(s);
    let s = ours(d);
    let c = Conn::connect(s.port);
    (s, c)
}

#[test]
fn restart_rebuilds_the_same_state() {
    let d = tmpdir("restart");
    let s = ours(&d);
    let mut c = Conn::connect(s.port);
    for l in [
        "SET f 0.1",
        "EXPIRE f 1000",
        "INCRBYFLOAT f 0.2",
        "HINCRBYFLOAT h x 1.1",
        "HINCRBYFLOAT h x 2.2",
        "XADD s * a 1",
        "XADD s MAXLEN ~ 1 * b 2",
        "XADD s * c 3",
        "XADD s * d 4",
        "XGROUP CREATE s g 0",
        "XREADGROUP GROUP g c1 COUNT 2 STREAMS s >",
        "XREADGROUP GROUP g c2 NOACK COUNT 1 STREAMS s >",
        "XREADGROUP GROUP g c3 STREAMS s >",
        "MULTI",
        "INCR t",
        "SADD st a b c",
        "SPOP st 2",
        "EXEC",
        "SADD st2 only",
        "SPOP st2",
    ] {
        c.run(l);
    }
    // Delivery counts: the first entry claimed twice more, the second once with JUSTID.
    let ids = items(&c.run("XRANGE s - +"));
    let (first, second) = (ids[0].clone(), ids[3].clone());
    c.run(&format!("XCLAIM s g c3 0 {first}"));
    c.run(&format!("XCLAIM s g c1 0 {first}"));
    c.run(&format!("XCLAIM s g c2 0 {second} JUSTID"));
    let probes = ["GET f", "HGET h x", "XRANGE s - +", "XPENDING s g", "GET t", "SMEMBERS st", "EXISTS st2", "XLEN s"];
    let before: Vec<Vec<u8>> = probes.iter().map(|l| c.run(l)).collect();
    // (id, consumer, delivery count) of each pending entry; idle times move on.
    let pel = |c: &mut Conn| {
        items(&c.run("XPENDING s g - + 10"))
            .chunks(4)
            .map(|e| (e[0].clone(), e[1].clone(), e[3].clone()))
            .collect::<Vec<_>>()
    };
    let pel_before = pel(&mut c);
    assert_eq!(pel_before.len(), 3, "{pel_before:?}");
    assert_eq!(pel_before[0], (first.clone(), "c1".to_string(), ":3".to_string()));
    let ttl_before = int(&mut c, "PTTL f");
    let (_s, mut c) = restart(s, &d);
    for (l, b) in probes.iter().zip(&before) {
        assert_eq!(text(&c.run(l)), text(b), "{l} after restart");
    }
    assert_eq!(pel(&mut c), pel_before);
    let ttl_after = int(&mut c, "PTTL f");
    assert!(ttl_after > 900_000 && ttl_after <= ttl_before, "TTL kept by INCRBYFLOAT's KEEPTTL: {ttl_after}");
    assert_eq!(get(&mut c, "GET f"), "0.3");
    assert_eq!(get(&mut c, "HGET h x"), "3.3");
}

#[test]
fn loader_applies_complete_transactions_and_drops_a_cut_one() {
    let d = tmpdir("cut");
    let s = ours(&d);
    let mut c = Conn::connect(s.port);
    c.run("SET before 1");
    c.run("MULTI");
    c.run("SET in1 a");
    c.run("SET in2 b");
    c.run("EXEC");
    drop(c);
    drop(s);
    let path = {
        let ad = d.join("appendonlydir");
        let name = std::fs::read_dir(&ad)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .find(|n| n.ends_with(".incr.aof"))
            .unwrap();
        ad.join(name)
    };
    let complete = std::fs::read(&path).unwrap();
    assert!(show(&parse(&complete)).contains(&"MULTI".to_string()));
    // A transaction cut before its EXEC (complete commands, no EXEC): dropped, file trimmed.
    let mut cut = complete.clone();
    cut.extend_from_slice(b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$4\r\nlost\r\n$1\r\nx\r\n");
    std::fs::write(&path, &cut).unwrap();
    let s = ours(&d);
    let mut c = Conn::connect(s.port);
    assert_eq!(get(&mut c, "GET in1"), "a");
    assert_eq!(get(&mut c, "GET in2"), "b");
    assert_eq!(c.run("EXISTS lost"), b":0\r\n");
    assert_eq!(std::fs::read(&path).unwrap(), complete, "the incomplete transaction is cut off");
    // New writes after the trimmed tail are loaded on the next start.
    c.run("SET after 1");
    drop(c);
    drop(s);
    // A transaction cut inside a command.
    let mut cut = std::fs::read(&path).unwrap();
    let good = cut.clone();
    cut.extend_from_slice(b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$4\r\nlost\r\n$1\r\nx\r\n*1\r\n$4\r\nEX");
    std::fs::write(&path, &cut).unwrap();
    let s = ours(&d);
    let mut c = Conn::connect(s.port);
    assert_eq!(get(&mut c, "GET after"), "1");
    assert_eq!(c.run("EXISTS lost"), b":0\r\n");
    assert_eq!(std::fs::read(&path).unwrap(), good);
    drop(s);
}

#[test]
fn eviction_logs_del() {
    let d = tmpdir("evict");
    let s = start_redstart(&[
        "--dir",
        d.to_str().unwrap(),
        "--appendonly",
        "yes",
        "--appendfsync",
        "no",
        "--maxmemory",
        "4mb",
        "--maxmemory-policy",
        "allkeys-random",
    ]);
    let mut c = Conn::connect(s.port);
    let value = "v".repeat(100);
    let mut batch = Vec::new();
    for i in 0..40_000 {
        batch.extend_from_slice(&encode(&[b"SET", format!("k{i}").as_bytes(), value.as_bytes()]));
        if i % 500 == 499 {
            c.send_raw(&batch);
            batch.clear();
            for _ in 0..500 {
                c.read_reply();
            }
        }
    }
    let logged = parse(&incr(&d));
    let dels: Vec<&Cmd> = logged.iter().filter(|c| c[0] == b"DEL").collect();
    assert!(dels.len() > 1000, "evictions logged: {}", dels.len());
    for d in dels.iter().take(50) {
        assert_eq!(c.cmd(&[b"EXISTS", &d[1]]), b":0\r\n", "{:?}", text(&d[1]));
    }
}
