//! Differential tests for the hash family against redis-server: every command and option, error
//! texts, WRONGTYPE, binary fields, RESP3 replies, encoding transitions (OBJECT ENCODING and
//! CONFIG SET of the thresholds), random replies by invariant, and a seeded randomised sequence.
//!
//! Hashtable-encoded hashes iterate in an arbitrary order in both servers: those replies are
//! compared as multisets ([`sorted_items`]). Listpack hashes keep insertion order in both, so
//! their replies are compared byte for byte.
mod common;
use common::*;

fn check_unordered(p: &mut Pair, line: &str) {
    let (a, b) = p.both(line);
    assert_eq!(a.first(), b.first(), "{line}: reply types differ");
    assert_eq!(sorted_items(&a), sorted_items(&b), "{line}");
}

#[test]
fn basic_commands() {
    let mut p = Pair::new();
    p.check_all(&[
        "HSET h f1 v1 f2 v2",
        "HSET h f1 x f3 v3",
        "HGET h f1",
        "HGET h nofield",
        "HGET nokey f",
        "HMGET h f1 nofield f3",
        "HMGET nokey a b",
        "HGETALL h",
        "HKEYS h",
        "HVALS h",
        "HLEN h",
        "HLEN nokey",
        "HEXISTS h f1",
        "HEXISTS h zz",
        "HEXISTS nokey f",
        "HSTRLEN h f1",
        "HSTRLEN h zz",
        "HSTRLEN nokey zz",
        "HSETNX h f1 nope",
        "HSETNX h f4 v4",
        "HSETNX newh f v",
        "HMSET h f5 v5 f6 v6",
        "HGETALL h",
        "HDEL h f1 zz f2",
        "HDEL h zz",
        "HDEL nokey a",
        "HGETALL h",
        "HDEL h f3 f4 f5 f6",
        "EXISTS h",
        "HGETALL nokey",
        "HKEYS nokey",
        "HVALS nokey",
        "TYPE newh",
        "OBJECT ENCODING newh",
    ]);
    // Empty field names and values are fine.
    p.check_all(&["HSET e '' ''", "HGET e ''", "HSTRLEN e ''", "HGETALL e"]);
    p.check_args(&[b"HSET", b"bin\x00key", b"\xff\x00f", b"\x00\r\nv", b"", b"empty"]);
    p.check_args(&[b"HGETALL", b"bin\x00key"]);
    p.check_args(&[b"HGET", b"bin\x00key", b"\xff\x00f"]);
    p.check_args(&[b"HMGET", b"bin\x00key", b"", b"\xff\x00f", b"\xff"]);
    p.check_args(&[b"HDEL", b"bin\x00key", b"\xff\x00f"]);
    p.check_args(&[b"HGETALL", b"bin\x00key"]);
}

#[test]
fn arity_syntax_and_wrongtype() {
    let mut p = Pair::new();
    p.check_all(&[
        "HSET h",
        "HSET h a",
        "HSET h a 1 b",
        "HMSET h a",
        "HMSET h a 1 b",
        "HSETNX h a",
        "HGET h",
        "HMGET h",
        "HDEL h",
        "HLEN",
        "HLEN a b",
        "HEXISTS h",
        "HSTRLEN h",
        "HKEYS",
        "HVALS",
        "HGETALL",
        "HINCRBY h a",
        "HINCRBYFLOAT h a",
        "HRANDFIELD",
        "HSCAN h",
        "SET s x",
    ]);
    for cmd in [
        "HSET s a 1",
        "HSETNX s a 1",
        "HMSET s a 1",
        "HGET s a",
        "HMGET s a",
        "HDEL s a",
        "HEXISTS s a",
        "HLEN s",
        "HSTRLEN s a",
        "HKEYS s",
        "HVALS s",
        "HGETALL s",
        "HINCRBY s a 1",
        "HINCRBYFLOAT s a 1",
        "HRANDFIELD s",
        "HRANDFIELD s 2",
        "HRANDFIELD s -2 WITHVALUES",
        "HSCAN s 0",
    ] {
        p.check(cmd);
    }
    // Argument errors come before the type check where Redis parses first.
    p.check_all(&["HINCRBY s a x", "HINCRBYFLOAT s a x", "HRANDFIELD s x", "HSCAN s x"]);
    // And string commands on a hash.
    p.check_all(&["HSET h a 1", "GET h", "APPEND h x", "INCR h", "TYPE h"]);
}

#[test]
fn hincrby_and_hincrbyfloat() {
    let mut p = Pair::new();
    p.check_all(&[
        "HINCRBY h n 5",
        "HINCRBY h n -10",
        "HINCRBY h n 0",
        "HINCRBY h n x",
        "HINCRBY h n 1.5",
        "HINCRBY h n 99999999999999999999",
        "HSET h big 9223372036854775806",
        "HINCRBY h big 1",
        "HINCRBY h big 1",
        "HSET h small -9223372036854775807",
        "HINCRBY h small -1",
        "HINCRBY h small -1",
        "HSET h f 1.5",
        "HINCRBY h f 1",
        "HSET h lead 01",
        "HINCRBY h lead 1",
        "HSET h sp ' 1'",
        "HINCRBY h sp 1",
        "HSET h empty ''",
        "HINCRBY h empty 1",
        "HINCRBYFLOAT h fl 1.5",
        "HINCRBYFLOAT h fl 0.1",
        "HINCRBYFLOAT h fl -1.6",
        "HINCRBYFLOAT h fl 1e3",
        "HINCRBYFLOAT h fl 0x10",
        "HINCRBYFLOAT h fl 3.0e-2",
        "HINCRBYFLOAT h fl x",
        "HINCRBYFLOAT h fl ''",
        "HINCRBYFLOAT h fl inf",
        "HINCRBYFLOAT h fl -inf",
        "HINCRBYFLOAT h fl nan",
        "HINCRBYFLOAT h fl 1e5000",
        "HINCRBYFLOAT h n 2.5",
        "HSET h txt abc",
        "HINCRBYFLOAT h txt 1",
        "HSET h inf inf",
        "HINCRBYFLOAT h inf 1",
        "HINCRBYFLOAT h big 1e4930",
        "HINCRBYFLOAT h big 1e4930",
    ]);
    // The long value made the hash a table: arbitrary order.
    check_unordered(&mut p, "HGETALL h");
    p.check_all(&[
        "HINCRBY newkey f 3",
        "HINCRBYFLOAT newkey2 f 3.25",
        "HGETALL newkey",
        "HGETALL newkey2",
        // A failed increment on a missing key creates nothing.
        "HINCRBY nokey f x",
        "HINCRBYFLOAT nokey f x",
        "EXISTS nokey",
    ]);
}

#[test]
fn encodings_and_thresholds() {
    let mut p = Pair::new();
    let long = "x".repeat(65);
    let exact = "y".repeat(64);
    p.check_all(&[
        "HSET h a 1",
        "OBJECT ENCODING h",
        &format!("HSET h b {exact}"),
        "OBJECT ENCODING h",
        &format!("HSET h c {long}"),
        "OBJECT ENCODING h",
        "HDEL h c",
        "OBJECT ENCODING h",
        &format!("HSET lf {long} 1"),
        "OBJECT ENCODING lf",
        &format!("HSETNX nx {long} 1"),
        "OBJECT ENCODING nx",
        &format!("HINCRBY ib {long} 1"),
        "OBJECT ENCODING ib",
        "HSET fl a 1",
        "HINCRBYFLOAT fl a 1e70",
        "OBJECT ENCODING fl",
        "HGET fl a",
    ]);
    // Entry count: 512 stays listpack, 513 converts, and never back.
    let mut args: Vec<Vec<u8>> = vec![b"HSET".to_vec(), b"big".to_vec()];
    for i in 0..512 {
        args.push(format!("f{i}").into_bytes());
        args.push(format!("{i}").into_bytes());
    }
    let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
    p.check_args(&refs);
    p.check_all(&["OBJECT ENCODING big", "HGETALL big", "HSET big one more", "OBJECT ENCODING big", "HLEN big"]);
    p.check_all(&["HDEL big one f1 f2", "OBJECT ENCODING big"]);
    check_unordered(&mut p, "HGETALL big");
    check_unordered(&mut p, "HKEYS big");
    check_unordered(&mut p, "HVALS big");
    p.check_all(&["HGET big f100", "HMGET big f0 f511 nope", "HEXISTS big f3", "HSTRLEN big f300"]);

    // CONFIG SET of the thresholds, both names.
    p.check_all(&[
        "CONFIG SET hash-max-listpack-entries 2",
        "HSET t a 1 b 2",
        "OBJECT ENCODING t",
        "HSET t c 3",
        "OBJECT ENCODING t",
        // Repeated fields in one HSET count once.
        "HSET d a 1 a 2 a 3",
        "OBJECT ENCODING d",
        "CONFIG SET hash-max-ziplist-entries 0",
        "HSET z a 1",
        "OBJECT ENCODING z",
        "CONFIG SET hash-max-listpack-entries 512",
        "CONFIG SET hash-max-listpack-value 3",
        "HSET v a 123",
        "OBJECT ENCODING v",
        "HSET v b 1234",
        "OBJECT ENCODING v",
        "CONFIG SET hash-max-ziplist-value 64",
    ]);
    check_unordered(&mut p, "CONFIG GET hash-max-*");
}

#[test]
fn hrandfield() {
    let mut p = Pair::new();
    p.check_all(&[
        "HSET h a 1 b 2 c 3 d 4 e 5",
        "HRANDFIELD nokey",
        "HRANDFIELD nokey 3",
        "HRANDFIELD nokey -3 WITHVALUES",
        "HRANDFIELD h 0",
        "HRANDFIELD h 0 WITHVALUES",
        // Whole hash (count ≥ size) comes in listpack order: deterministic.
        "HRANDFIELD h 5",
        "HRANDFIELD h 100 WITHVALUES",
        "HRANDFIELD h x",
        "HRANDFIELD h 1 WITHVALUE",
        "HRANDFIELD h 1 WITHVALUES x",
        "HRANDFIELD h -9223372036854775808",
        "HRANDFIELD h 9223372036854775807 WITHVALUES",
        "HRANDFIELD h -9223372036854775807 WITHVALUES",
        "HRANDFIELD h 4611686018427387904 WITHVALUES",
    ]);
    // Redis would try to build a reply of 4.6e18 pairs (and run out of memory); redstart
    // refuses repetition counts beyond 2^24 (documented difference).
    assert_eq!(p.a.run("HRANDFIELD h -4611686018427387903 WITHVALUES"), b"-ERR value is out of range\r\n");
    assert_eq!(p.a.run("HRANDFIELD h -16777217"), b"-ERR value is out of range\r\n");
    assert!(p.a.run("HRANDFIELD h -3").starts_with(b"*3\r\n"));
    let fields: Vec<&[u8]> = vec![b"a", b"b", b"c", b"d", b"e"];
    for _ in 0..20 {
        // One field.
        let r = p.a.run("HRANDFIELD h");
        assert!(fields.iter().any(|f| r == format!("${}\r\n{}\r\n", f.len(), String::from_utf8_lossy(f)).as_bytes()));
        // Distinct fields for a positive count.
        let items = sorted_items(&p.a.run("HRANDFIELD h 3"));
        assert_eq!(items.len(), 3);
        let mut d = items.clone();
        d.dedup();
        assert_eq!(d.len(), 3, "distinct");
        assert!(items.iter().all(|i| fields.contains(&i.as_slice())));
        // Repetitions for a negative count.
        let r = p.a.run("HRANDFIELD h -20");
        assert!(r.starts_with(b"*20\r\n"));
        assert!(sorted_items(&r).iter().all(|i| fields.contains(&i.as_slice())));
        // Values belong to their fields.
        let r = p.a.run("HRANDFIELD h -7 WITHVALUES");
        assert!(r.starts_with(b"*14\r\n"));
        let text = String::from_utf8_lossy(&r).into_owned();
        let bulks: Vec<&str> =
            text.split("\r\n").filter(|l| !l.starts_with(['$', '*'])).filter(|l| !l.is_empty()).collect();
        for pair in bulks.chunks(2) {
            let want = (pair[0].as_bytes()[0] - b'a' + b'1') as char;
            assert_eq!(pair[1], want.to_string());
        }
    }
    // RESP3: WITHVALUES pairs are nested arrays; one field is a bulk; missing is null.
    p.resp3();
    p.check_all(&["HRANDFIELD nokey", "HRANDFIELD nokey 2 WITHVALUES", "HRANDFIELD h 5 WITHVALUES"]);
    let r = p.a.run("HRANDFIELD h -3 WITHVALUES");
    assert!(r.starts_with(b"*3\r\n*2\r\n$1\r\n"), "{}", String::from_utf8_lossy(&r));
    let r = p.a.run("HRANDFIELD h 2 WITHVALUES");
    assert!(r.starts_with(b"*2\r\n*2\r\n$1\r\n"), "{}", String::from_utf8_lossy(&r));
    // A table-encoded hash: invariants only.
    let long = "x".repeat(70);
    p.check(&format!("HSET t a 1 b {long}"));
    for _ in 0..10 {
        let items = sorted_items(&p.a.run("HRANDFIELD t 1 WITHVALUES"));
        assert!(items == vec![b"1".to_vec(), b"a".to_vec()] || items == vec![b"b".to_vec(), long.as_bytes().to_vec()]);
    }
}

#[test]
fn hscan() {
    let mut p = Pair::new();
    p.check_all(&[
        "HSET h a 1 b 2 ab 3 zz 4",
        "HSCAN h 0",
        "HSCAN h 0 MATCH a*",
        "HSCAN h 0 match *b COUNT 1",
        "HSCAN h 0 COUNT 1",
        "HSCAN h 123",
        "HSCAN h -1",
        "HSCAN h 18446744073709551615",
        "HSCAN h 18446744073709551616",
        "HSCAN h x",
        "HSCAN h 0 COUNT 0",
        "HSCAN h 0 COUNT -1",
        "HSCAN h 0 COUNT x",
        "HSCAN h 0 MATCH",
        "HSCAN h 0 TYPE string",
        "HSCAN h 0 NOVALUES",
        "HSCAN h 0 foo bar",
        "HSCAN nokey 0",
        "HSCAN nokey 0 COUNT 0",
        "HSCAN nokey x",
    ]);
    // A table: a full iteration returns every field exactly as the oracle's does (as sets).
    let mut args: Vec<Vec<u8>> = vec![b"HSET".to_vec(), b"t".to_vec()];
    for i in 0..600 {
        args.push(format!("field:{i}").into_bytes());
        args.push(format!("{i}").into_bytes());
    }
    let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
    p.check_args(&refs);
    p.check("OBJECT ENCODING t");
    for (pattern, count) in [("*", 10), ("field:1*", 7), ("nomatch", 50)] {
        let mut sets = Vec::new();
        for conn in [&mut p.a, &mut p.b] {
            let mut all = Vec::new();
            let mut cursor = "0".to_string();
            loop {
                let r = conn.run(&format!("HSCAN t {cursor} MATCH {pattern} COUNT {count}"));
                let text = String::from_utf8_lossy(&r).into_owned();
                let lines: Vec<&str> = text.split("\r\n").collect();
                cursor = lines[2].to_string();
                let mut items: Vec<String> =
                    lines[4..].iter().filter(|l| !l.starts_with('$') && !l.is_empty()).map(|s| s.to_string()).collect();
                all.append(&mut items);
                if cursor == "0" {
                    break;
                }
            }
            let mut pairs: Vec<(String, String)> = all.chunks(2).map(|c| (c[0].clone(), c[1].clone())).collect();
            pairs.sort();
            pairs.dedup();
            sets.push(pairs);
        }
        assert_eq!(sets[0], sets[1], "HSCAN MATCH {pattern}");
    }
}

#[test]
fn resp3_replies() {
    let mut p = Pair::new();
    p.resp3();
    p.check_all(&[
        "HSET h a 1 b 2",
        "HGETALL h",
        "HGETALL nokey",
        "HKEYS h",
        "HVALS nokey",
        "HGET h nofield",
        "HGET nokey a",
        "HMGET h a nofield",
        "HEXISTS h a",
        "HSCAN h 0",
        "HINCRBYFLOAT h a 1.5",
        "HRANDFIELD nokey",
    ]);
}

#[test]
fn expired_keys_and_watch() {
    let mut p = Pair::new();
    p.check_all(&["HSET h a 1", "PEXPIRE h 20"]);
    std::thread::sleep(std::time::Duration::from_millis(60));
    p.check_all(&["HGET h a", "HLEN h", "HSETNX h b 2", "HGETALL h", "TTL h"]);
    // HSET keeps the TTL of an existing hash.
    p.check_all(&["HSET k a 1", "EXPIRE k 100", "HSET k b 2", "HDEL k a", "TTL k"]);
    // Writes dirty WATCH.
    for cmd in ["HSET w a 2", "HDEL w a", "HINCRBY w n 1", "HINCRBYFLOAT w n 1"] {
        p.check_all(&["HSET w a 1", "WATCH w"]);
        let (mut a, mut b) = p.conns();
        a.run(cmd);
        b.run(cmd);
        p.check_all(&["MULTI", "HGET w a", "EXEC"]);
    }
    // A no-op HDEL does not.
    p.check_all(&["WATCH w", "HDEL w nofield", "MULTI", "HLEN w", "EXEC"]);
}

/// A tiny deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
}

#[test]
fn randomised_sequences_match() {
    let mut p = Pair::new();
    // Small thresholds so conversions happen often.
    p.check_all(&["CONFIG SET hash-max-listpack-entries 8", "CONFIG SET hash-max-listpack-value 6"]);
    let keys = ["h1", "h2", "h3", "str"];
    let fields = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "longfield", ""];
    let values = ["1", "-3", "x", "1.5", "abcdefgh", "", "9223372036854775807", "007"];
    p.check("SET str x");
    for seed in [1u64, 7, 42, 1234] {
        let mut r = Rng(seed.wrapping_mul(0x9e3779b97f4a7c15) | 1);
        for _ in 0..400 {
            let k = r.pick(&keys);
            let f = r.pick(&fields);
            let v = r.pick(&values);
            let f2 = r.pick(&fields);
            let line = match r.next() % 14 {
                0 | 1 => format!("HSET {k} {f} {v} {f2} {v}"),
                2 => format!("HSETNX {k} {f} {v}"),
                3 => format!("HGET {k} {f}"),
                4 => format!("HMGET {k} {f} {f2}"),
                5 => format!("HDEL {k} {f} {f2}"),
                6 => format!("HINCRBY {k} {f} {}", r.next() % 7),
                7 => format!("HINCRBYFLOAT {k} {f} 0.{}", r.next() % 100),
                8 => format!("HEXISTS {k} {f}"),
                9 => format!("HSTRLEN {k} {f}"),
                10 => format!("HLEN {k}"),
                11 => format!("OBJECT ENCODING {k}"),
                12 => format!("HGETALL {k}"),
                _ => format!("HKEYS {k}"),
            };
            let enc = p.b.run(&format!("OBJECT ENCODING {k}"));
            p.a.run(&format!("OBJECT ENCODING {k}"));
            if enc.starts_with(b"$9\r\nhashtable") && (line.starts_with("HGETALL") || line.starts_with("HKEYS")) {
                check_unordered(&mut p, &line);
            } else {
                let w = words(&line);
                // Empty field names: words() drops them, so send explicit args.
                let w: Vec<Vec<u8>> =
                    if line.contains("  ") || line.ends_with(' ') { split_keep_empty(&line) } else { w };
                let args: Vec<&[u8]> = w.iter().map(|a| a.as_slice()).collect();
                p.check_args(&args);
            }
        }
        p.check_all(&["DEL h1 h2 h3"]);
    }
}

fn split_keep_empty(line: &str) -> Vec<Vec<u8>> {
    line.split(' ').map(|w| w.as_bytes().to_vec()).collect()
}

/// One HSET with many pairs: repeated fields keep their first position and last value, and a
/// conversion part-way through the arguments gives the same hash as Redis's field-by-field
/// insertion (redstart appends a listpack's new fields in one step).
#[test]
fn multi_pair_hset_order_and_conversion() {
    let mut p = Pair::new();
    p.check_all(&[
        "HSET n a 1 b 2 c 3 a 4 d 5 b 6",
        "HGETALL n",
        "HSET n e 7 c 8 e 9",
        "HGETALL n",
        "HSET n c 8 a 4",
        "HGETALL n",
        "OBJECT ENCODING n",
        "CONFIG SET hash-max-listpack-entries 3",
        "HSET m a 1 b 2 a 9 c 3 d 4 e 5",
        "OBJECT ENCODING m",
        "HLEN m",
        "HSET m2 a 1 b 2 c 3 a 7",
        "OBJECT ENCODING m2",
        "HGETALL m2",
        "HSET m2 d 4",
        "OBJECT ENCODING m2",
        "CONFIG SET hash-max-listpack-entries 512",
    ]);
    check_unordered(&mut p, "HGETALL m");
    // Field and value lengths around the compact pair header's size classes.
    let mut args: Vec<Vec<u8>> = vec![b"HSET".to_vec(), b"lens".to_vec()];
    for (i, (fl, vl)) in
        [(14, 15), (15, 15), (14, 16), (58, 64), (59, 1), (1, 64), (0, 0), (64, 64)].into_iter().enumerate()
    {
        args.push(vec![b'a' + i as u8; fl]);
        args.push(vec![b'v'; vl]);
    }
    let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
    p.check_args(&refs);
    p.check_all(&["OBJECT ENCODING lens", "HGETALL lens", "HLEN lens", "HDEL lens bbbbbbbbbbbbbbb", "HGETALL lens"]);
}
