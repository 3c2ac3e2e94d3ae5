//! Differential tests for the set family against redis-server: every command and option, error
//! texts, WRONGTYPE, binary members, RESP3 replies, encodings, random replies by invariant, and
//! a seeded randomised sequence.
//!
//! Ordering: intsets reply in sorted order in both servers (compared byte for byte). Redis 7.0
//! (the oracle) keeps small non-integer sets as `hashtable` with arbitrary order, where Redis 7.2
//! (and redstart) use `listpack`: those replies are compared as multisets, and the `listpack`
//! encoding itself is asserted directly (7.2 behaviour, not diffed).
mod common;
use common::*;

/// Same reply type and length header, same items in any order.
fn check_unordered(p: &mut Pair, line: &str) {
    let (a, b) = p.both(line);
    let head = |r: &[u8]| r[..r.iter().position(|&c| c == b'\r').unwrap_or(r.len())].to_vec();
    assert_eq!(String::from_utf8_lossy(&head(&a)), String::from_utf8_lossy(&head(&b)), "{line}: headers differ");
    assert_eq!(sorted_items(&a), sorted_items(&b), "{line}");
}

fn enc(p: &mut Pair, key: &str) -> String {
    String::from_utf8_lossy(&p.a.run(&format!("OBJECT ENCODING {key}"))).into_owned()
}

#[test]
fn basic_commands() {
    let mut p = Pair::new();
    p.check_all(&[
        "SADD s 3 1 2",
        "SADD s 2 4",
        "SMEMBERS s",
        "SCARD s",
        "SCARD nokey",
        "SISMEMBER s 1",
        "SISMEMBER s 01",
        "SISMEMBER s x",
        "SISMEMBER nokey x",
        "SMISMEMBER s 1 9 4",
        "SMISMEMBER nokey a",
        "SREM s 1 9",
        "SREM nokey 1",
        "SMEMBERS s",
        "SMEMBERS nokey",
        "SREM s 2 3 4",
        "EXISTS s",
        "SADD neg -5 -100000 70000 9223372036854775807 -9223372036854775808 0",
        "SMEMBERS neg",
        "OBJECT ENCODING neg",
        "TYPE neg",
    ]);
    p.check_all(&["SADD w a b c", "SCARD w", "SISMEMBER w b", "SMISMEMBER w a z c", "SREM w b", "SCARD w"]);
    check_unordered(&mut p, "SMEMBERS w");
    p.check_args(&[b"SADD", b"bin\x00", b"\xff\x00", b"", b"\r\n"]);
    p.check_args(&[b"SISMEMBER", b"bin\x00", b""]);
    p.check_args(&[b"SMISMEMBER", b"bin\x00", b"\xff\x00", b"\xff"]);
    p.check_args(&[b"SREM", b"bin\x00", b"\xff\x00"]);
    p.check_args(&[b"SCARD", b"bin\x00"]);
    check_unordered(&mut p, "SMEMBERS bin");
}

#[test]
fn arity_syntax_and_wrongtype() {
    let mut p = Pair::new();
    p.check_all(&[
        "SADD s",
        "SREM s",
        "SISMEMBER s",
        "SMISMEMBER s",
        "SMEMBERS",
        "SCARD",
        "SPOP",
        "SRANDMEMBER",
        "SMOVE a b",
        "SINTER",
        "SINTERCARD 1",
        "SINTERSTORE d",
        "SUNION",
        "SUNIONSTORE d",
        "SDIFF",
        "SDIFFSTORE d",
        "SSCAN s",
        "SET str x",
        "SADD s 1",
    ]);
    for cmd in [
        "SADD str a",
        "SREM str a",
        "SISMEMBER str a",
        "SMISMEMBER str a",
        "SMEMBERS str",
        "SCARD str",
        "SPOP str",
        "SPOP str 2",
        "SPOP str 0",
        "SRANDMEMBER str",
        "SRANDMEMBER str 2",
        "SMOVE str s a",
        "SMOVE s str 1",
        "SMOVE nokey str 1",
        "SINTER s str",
        "SINTER nokey str",
        "SINTERCARD 2 nokey str",
        "SINTERSTORE d nokey str",
        "SUNION s str",
        "SUNIONSTORE d str",
        "SDIFF nokey str",
        "SDIFF s str",
        "SDIFFSTORE d s str",
        "SSCAN str 0",
        "EXISTS d",
    ] {
        p.check(cmd);
    }
    // A store command overwrites a destination of another type.
    p.check_all(&["SUNIONSTORE str s", "TYPE str", "SMEMBERS str"]);
}

#[test]
fn spop_and_srandmember() {
    let mut p = Pair::new();
    p.check_all(&[
        "SADD s 1 2 3 4 5",
        "SPOP nokey",
        "SPOP nokey 3",
        "SPOP nokey x",
        "SPOP s -1",
        "SPOP s x",
        "SPOP s 1 2",
        "SPOP s 0",
        "SRANDMEMBER nokey",
        "SRANDMEMBER nokey 3",
        "SRANDMEMBER nokey -3",
        "SRANDMEMBER s 0",
        "SRANDMEMBER s x",
        "SRANDMEMBER s 1 2",
        "SRANDMEMBER s -9223372036854775808",
        // Whole set (count ≥ size) of an intset: sorted, deterministic.
        "SRANDMEMBER s 5",
        "SRANDMEMBER s 9223372036854775807",
    ]);
    // Redis would build a reply of 9e18 members; redstart refuses (documented difference).
    assert_eq!(p.a.run("SRANDMEMBER s -9223372036854775807"), b"-ERR value is out of range\r\n");
    let all: Vec<Vec<u8>> = (1..=5).map(|i| i.to_string().into_bytes()).collect();
    for _ in 0..20 {
        let items = sorted_items(&p.a.run("SRANDMEMBER s 3"));
        assert_eq!(items.len(), 3);
        let mut d = items.clone();
        d.dedup();
        assert_eq!(d.len(), 3, "distinct members for a positive count");
        assert!(items.iter().all(|i| all.contains(i)));
        let r = p.a.run("SRANDMEMBER s -12");
        assert!(r.starts_with(b"*12\r\n"));
        assert!(sorted_items(&r).iter().all(|i| all.contains(i)));
        let r = p.a.run("SRANDMEMBER s");
        assert!(all.iter().any(|m| r.ends_with(&[&m[..], b"\r\n"].concat())));
    }
    // SPOP with a count removes what it returns.
    p.both("SADD pop a b c d e f g h");
    let popped = sorted_items(&p.a.run("SPOP pop 3"));
    assert_eq!(popped.len(), 3);
    let rest = sorted_items(&p.a.run("SMEMBERS pop"));
    assert_eq!(rest.len(), 5);
    assert!(popped.iter().all(|m| !rest.contains(m)));
    let one = p.a.run("SPOP pop");
    assert!(one.starts_with(b"$1\r\n"));
    assert_eq!(p.a.run("SCARD pop"), b":4\r\n");
    // Popping everything deletes the key (intset: sorted reply, diffable).
    p.check_all(&["SADD ints 5 3 9", "SPOP ints 10", "EXISTS ints", "SADD one x", "SPOP one", "EXISTS one"]);
    p.check_all(&["SADD big 1 2 3", "SPOP big 3", "EXISTS big"]);
    // A table-encoded set.
    let mut args: Vec<Vec<u8>> = vec![b"SADD".to_vec(), b"t".to_vec()];
    for i in 0..300 {
        args.push(format!("m{i}").into_bytes());
    }
    let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
    p.check_args(&refs);
    let got = sorted_items(&p.a.run("SPOP t 250"));
    assert_eq!(got.len(), 250);
    let mut d = got.clone();
    d.dedup();
    assert_eq!(d.len(), 250);
    assert_eq!(p.a.run("SCARD t"), b":50\r\n");
    let r = sorted_items(&p.a.run("SRANDMEMBER t 40"));
    let mut d = r.clone();
    d.dedup();
    assert_eq!(d.len(), 40);
    // RESP3: SPOP with a count is a set, SRANDMEMBER with a count an array.
    p.resp3();
    p.check_all(&["SPOP nokey 2", "SPOP nokey", "SRANDMEMBER nokey", "SRANDMEMBER nokey 2", "SPOP s 0"]);
    p.check_all(&["SADD r3 7 8", "SRANDMEMBER r3 5", "SPOP r3 5"]);
    assert!(p.a.run("SADD r4 1 2 3").starts_with(b":3"));
    assert!(p.a.run("SPOP r4 2").starts_with(b"~2\r\n"));
    assert!(p.a.run("SRANDMEMBER r4 -2").starts_with(b"*2\r\n"));
}

#[test]
fn smove() {
    let mut p = Pair::new();
    p.check_all(&[
        "SADD a 1 2 x",
        "SADD b 3",
        "SMOVE a b 1",
        "SMOVE a b 1",
        "SMOVE a b nope",
        "SMOVE nokey b 1",
        "SMOVE a a 2",
        "SMOVE a a 9",
        "SMEMBERS b",
        "SMOVE a newdst 2",
        "SMEMBERS newdst",
        "OBJECT ENCODING newdst",
        "SMOVE a b x",
        "EXISTS a",
        "SCARD b",
    ]);
    check_unordered(&mut p, "SMEMBERS b");
    // Redis 7.2: an intset receiving a string becomes a listpack (7.0: hashtable).
    assert_eq!(enc(&mut p, "b"), "$8\r\nlistpack\r\n");
}

#[test]
fn set_algebra() {
    let mut p = Pair::new();
    p.check_all(&[
        "SADD i1 1 2 3 4 5",
        "SADD i2 4 5 6 2",
        "SADD i3 5 2 100",
        "SINTER i1 i2",
        "SINTER i1 i2 i3",
        "SINTER i1 nokey",
        "SINTER nokey",
        "SINTER i1 i1",
        "SUNION i1 i2 i3",
        "SUNION nokey i3",
        "SUNION nokey",
        "SDIFF i1 i2",
        "SDIFF i1 i2 i3",
        "SDIFF i1 i1",
        "SDIFF nokey i1",
        "SDIFF i1 nokey",
        "SINTERCARD 2 i1 i2",
        "SINTERCARD 3 i1 i2 i3 LIMIT 1",
        "SINTERCARD 2 i1 i2 LIMIT 0",
        "SINTERCARD 2 i1 i2 limit 100",
        "SINTERCARD 1 i1 LIMIT 1 LIMIT 2",
        "SINTERCARD 2 i1 nokey",
        "SINTERCARD 0 i1",
        "SINTERCARD -1 i1",
        "SINTERCARD x i1",
        "SINTERCARD 3 i1 i2",
        "SINTERCARD 99999999999999999999 i1",
        "SINTERCARD 1 i1 LIMIT",
        "SINTERCARD 1 i1 LIMIT -1",
        "SINTERCARD 1 i1 LIMIT x",
        "SINTERCARD 1 i1 foo",
        "SINTERSTORE d i1 i2",
        "SMEMBERS d",
        "OBJECT ENCODING d",
        "SINTERSTORE d i1 nokey",
        "EXISTS d",
        "SUNIONSTORE d i1 i2",
        "SMEMBERS d",
        "SDIFFSTORE d i1 i2",
        "SMEMBERS d",
        "SDIFFSTORE d nokey",
        "EXISTS d",
        // The destination may be a source.
        "SUNIONSTORE i1 i1 i3",
        "SMEMBERS i1",
        "SINTERSTORE i1 i1 i2",
        "SMEMBERS i1",
        // TTL of the destination is dropped.
        "SADD e 1",
        "EXPIRE e 100",
        "SUNIONSTORE e i2",
        "TTL e",
    ]);
    // Strings: order is arbitrary in the oracle (hashtable in 7.0).
    p.check_all(&["SADD s1 a b c d", "SADD s2 c d e", "SADD s3 d x"]);
    for q in ["SINTER s1 s2", "SINTER s1 s2 s3", "SUNION s1 s2 s3", "SDIFF s1 s2", "SDIFF s1 s2 s3", "SUNION i2 s3"] {
        check_unordered(&mut p, q);
    }
    p.check_all(&["SINTERCARD 2 s1 s2", "SUNIONSTORE d s1 s2 i2", "SCARD d", "SDIFFSTORE d s1 s2", "SCARD d"]);
    check_unordered(&mut p, "SMEMBERS d");
    // Redis 7.2: store results built from strings are listpacks (7.0 says hashtable).
    assert_eq!(enc(&mut p, "d"), "$8\r\nlistpack\r\n");
    p.resp3();
    p.check_all(&[
        "SINTER i2 i3",
        "SUNION nokey",
        "SDIFF i2 i3",
        "SMEMBERS i2",
        "SMEMBERS nokey",
        "SINTERCARD 2 i2 i3",
    ]);
    check_unordered(&mut p, "SUNION s1 s2");
}

#[test]
fn encodings_and_thresholds() {
    let mut p = Pair::new();
    // Intset while integer and ≤ 512 members (same in 7.0 and 7.2).
    let mut args: Vec<Vec<u8>> = vec![b"SADD".to_vec(), b"ints".to_vec()];
    for i in 0..512 {
        args.push(format!("{}", i * 7 - 1000).into_bytes());
    }
    let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
    p.check_args(&refs);
    p.check_all(&["OBJECT ENCODING ints", "SMEMBERS ints", "SADD ints 100000", "OBJECT ENCODING ints", "SCARD ints"]);
    p.check_all(&["SREM ints 100000 -1000", "OBJECT ENCODING ints"]);
    // Non-canonical integers are strings.
    for m in ["01", "+1", "-0", "1.0", "9223372036854775808", " 1"] {
        p.check_args(&[b"SADD", b"canon", b"5", m.as_bytes()]);
    }
    p.check_all(&["SCARD canon", "SISMEMBER canon 01", "SISMEMBER canon 1"]);
    p.check_all(&["CONFIG SET set-max-intset-entries 3", "SADD few 1 2 3", "OBJECT ENCODING few"]);
    p.check_all(&["CONFIG SET set-max-intset-entries 512"]);

    // Redis 7.2 listpack sets (asserted directly; redis-server 7.0 answers hashtable).
    let lp = "$8\r\nlistpack\r\n";
    let ht = "$9\r\nhashtable\r\n";
    let is = "$6\r\nintset\r\n";
    p.a.run("SADD l a b c");
    assert_eq!(enc(&mut p, "l"), lp);
    assert_eq!(p.a.run("SMEMBERS l"), b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n", "listpack: insertion order");
    p.a.run("SADD mixed 1 2");
    assert_eq!(enc(&mut p, "mixed"), is);
    p.a.run("SADD mixed x");
    assert_eq!(enc(&mut p, "mixed"), lp);
    assert_eq!(p.a.run("SMEMBERS mixed"), b"*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\nx\r\n");
    p.a.run(&format!("SADD long {}", "v".repeat(65)));
    assert_eq!(enc(&mut p, "long"), ht);
    p.a.run(&format!("SADD edge {}", "v".repeat(64)));
    assert_eq!(enc(&mut p, "edge"), lp);
    let many: Vec<String> = (0..128).map(|i| format!("m{i}")).collect();
    p.a.run(&format!("SADD lp128 {}", many.join(" ")));
    assert_eq!(enc(&mut p, "lp128"), lp);
    p.a.run("SADD lp128 one-more");
    assert_eq!(enc(&mut p, "lp128"), ht);
    p.a.run("SREM lp128 one-more m1 m2");
    assert_eq!(enc(&mut p, "lp128"), ht, "never converts back");
    // Size hint: one SADD of 129 members (even duplicates) creates a table, as 7.2 does.
    p.a.run(&format!("SADD hint {}", vec!["dup"; 129].join(" ")));
    assert_eq!(enc(&mut p, "hint"), ht);
    assert_eq!(p.a.run("SCARD hint"), b":1\r\n");
    // The 7.2 thresholds are configurable.
    assert_eq!(p.a.run("CONFIG SET set-max-listpack-entries 2"), b"+OK\r\n");
    p.a.run("SADD two a b");
    assert_eq!(enc(&mut p, "two"), lp);
    p.a.run("SADD two c");
    assert_eq!(enc(&mut p, "two"), ht);
    assert_eq!(p.a.run("CONFIG SET set-max-listpack-value 2"), b"+OK\r\n");
    assert_eq!(p.a.run("CONFIG SET set-max-listpack-entries 128"), b"+OK\r\n");
    p.a.run("SADD short ab");
    assert_eq!(enc(&mut p, "short"), lp);
    p.a.run("SADD short abc");
    assert_eq!(enc(&mut p, "short"), ht);
    assert_eq!(
        p.a.run("CONFIG GET set-max-listpack-*"),
        b"*4\r\n$24\r\nset-max-listpack-entries\r\n$3\r\n128\r\n$22\r\nset-max-listpack-value\r\n$1\r\n2\r\n"
    );
}

#[test]
fn sscan() {
    let mut p = Pair::new();
    p.check_all(&[
        "SADD s 1 2 3 10 20",
        "SSCAN s 0",
        "SSCAN s 0 MATCH 1*",
        "SSCAN s 0 COUNT 1",
        "SSCAN s 7",
        "SSCAN s x",
        "SSCAN s 0 COUNT 0",
        "SSCAN s 0 MATCH",
        "SSCAN s 0 NOVALUE",
        "SSCAN s 0 TYPE set",
        "SSCAN nokey 0",
        "SSCAN nokey 0 COUNT 0",
    ]);
    let mut args: Vec<Vec<u8>> = vec![b"SADD".to_vec(), b"t".to_vec()];
    for i in 0..700 {
        args.push(format!("member:{i}").into_bytes());
    }
    let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
    p.check_args(&refs);
    for (pattern, count) in [("*", 10), ("member:2*", 13)] {
        let mut sets = Vec::new();
        for conn in [&mut p.a, &mut p.b] {
            let mut all = Vec::new();
            let mut cursor = "0".to_string();
            loop {
                let r = conn.run(&format!("SSCAN t {cursor} MATCH {pattern} COUNT {count}"));
                let text = String::from_utf8_lossy(&r).into_owned();
                let lines: Vec<&str> = text.split("\r\n").collect();
                cursor = lines[2].to_string();
                all.extend(lines[4..].iter().filter(|l| !l.starts_with('$') && !l.is_empty()).map(|s| s.to_string()));
                if cursor == "0" {
                    break;
                }
            }
            all.sort();
            all.dedup();
            sets.push(all);
        }
        assert_eq!(sets[0], sets[1], "SSCAN MATCH {pattern}");
    }
}

#[test]
fn expired_keys_and_watch() {
    let mut p = Pair::new();
    p.check_all(&["SADD s 1", "PEXPIRE s 20", "SADD t 2"]);
    std::thread::sleep(std::time::Duration::from_millis(60));
    p.check_all(&["SISMEMBER s 1", "SCARD s", "SUNION s t", "SMOVE s t 1", "SADD s 5", "SMEMBERS s", "TTL s"]);
    for cmd in ["SADD w 2", "SREM w 1", "SPOP w", "SMOVE w other 1", "SINTERSTORE w w", "SUNIONSTORE w w"] {
        p.check_all(&["DEL w", "SADD w 1", "WATCH w"]);
        let (mut a, mut b) = p.conns();
        a.run(cmd);
        b.run(cmd);
        p.check_all(&["MULTI", "SCARD w", "EXEC"]);
    }
    p.check_all(&["SADD w 1", "WATCH w", "SADD w 1", "SREM w nope", "MULTI", "SCARD w", "EXEC"]);
    // SMOVE of a member the destination already holds changes only the source: a WATCH on
    // the destination stays clean (and one on the source fails).
    for watched in ["dst", "src"] {
        p.check_all(&["DEL src dst", "SADD src m x", "SADD dst m", &format!("WATCH {watched}")]);
        let (mut a, mut b) = p.conns();
        a.run("SMOVE src dst m");
        b.run("SMOVE src dst m");
        p.check_all(&["MULTI", "SCARD dst", "EXEC"]);
    }
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
    p.check_all(&["CONFIG SET set-max-intset-entries 6", "SET str x"]);
    let keys = ["s1", "s2", "s3", "str", "none"];
    let members = ["1", "2", "3", "4", "5", "6", "7", "-1", "100000", "a", "b", "c", "01"];
    for seed in [3u64, 11, 99, 2024] {
        let mut r = Rng(seed.wrapping_mul(0x9e3779b97f4a7c15) | 1);
        for _ in 0..400 {
            let (k, k2, k3) = (r.pick(&keys), r.pick(&keys), r.pick(&keys));
            let (m, m2) = (r.pick(&members), r.pick(&members));
            let line = match r.next() % 16 {
                0..=2 => format!("SADD {k} {m} {m2}"),
                3 => format!("SREM {k} {m} {m2}"),
                4 => format!("SISMEMBER {k} {m}"),
                5 => format!("SMISMEMBER {k} {m} {m2}"),
                6 => format!("SCARD {k}"),
                7 => format!("SMOVE {k} {k2} {m}"),
                8 => format!("SMEMBERS {k}"),
                9 => format!("SINTER {k} {k2} {k3}"),
                10 => format!("SUNION {k} {k2}"),
                11 => format!("SDIFF {k} {k2} {k3}"),
                12 => format!("SINTERCARD 2 {k} {k2} LIMIT {}", r.next() % 3),
                13 => format!("SINTERSTORE {k} {k2} {k3}"),
                14 => format!("SUNIONSTORE {k} {k2} {k3}"),
                _ => format!("SDIFFSTORE {k} {k2} {k3}"),
            };
            // Only intset replies have a defined order in both servers.
            let ordered_ok = ["SMEMBERS", "SINTER ", "SUNION ", "SDIFF "].iter().all(|c| !line.starts_with(c));
            if ordered_ok {
                p.check(&line);
            } else {
                check_unordered(&mut p, &line);
            }
            // Intset-ness must agree exactly (listpack vs hashtable is the 7.0/7.2 difference).
            let (ea, eb) = p.both(&format!("OBJECT ENCODING {k}"));
            assert_eq!(ea == b"$6\r\nintset\r\n", eb == b"$6\r\nintset\r\n", "encoding of {k} after {line}");
        }
        p.check_all(&["DEL s1 s2 s3"]);
    }
}
