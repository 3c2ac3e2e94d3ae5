//! Differential tests for the generic key commands and keyspace administration: every command,
//! option and error against redis-server; random or time-based replies by invariant.
mod common;
use common::*;
use std::collections::BTreeSet;
use std::thread::sleep;
use std::time::Duration;

/// Parses a flat RESP2 array of bulk strings (KEYS) into a sorted set.
fn bulk_set(reply: &[u8]) -> BTreeSet<Vec<u8>> {
    let mut out = BTreeSet::new();
    let mut p = reply.iter().position(|&b| b == b'\n').unwrap() + 1;
    while p < reply.len() {
        assert_eq!(reply[p], b'$', "{}", String::from_utf8_lossy(reply));
        let nl = p + reply[p..].iter().position(|&b| b == b'\n').unwrap();
        let n: usize = std::str::from_utf8(&reply[p + 1..nl - 1]).unwrap().parse().unwrap();
        out.insert(reply[nl + 1..nl + 1 + n].to_vec());
        p = nl + 1 + n + 2;
    }
    out
}

/// Splits a SCAN reply into (cursor, keys).
fn scan_reply(reply: &[u8]) -> (u64, BTreeSet<Vec<u8>>) {
    assert!(reply.starts_with(b"*2\r\n$"), "{}", String::from_utf8_lossy(reply));
    let l1 = reply[4..].iter().position(|&b| b == b'\n').unwrap() + 5;
    let l2 = l1 + reply[l1..].iter().position(|&b| b == b'\n').unwrap() + 1;
    let cursor = std::str::from_utf8(&reply[l1..l2 - 2]).unwrap().parse().unwrap();
    (cursor, bulk_set(&reply[l2..]))
}

/// Runs a full SCAN iteration with extra options; returns every key seen.
fn full_scan(c: &mut Conn, opts: &str) -> BTreeSet<Vec<u8>> {
    let mut cursor = 0u64;
    let mut seen = BTreeSet::new();
    let mut calls = 0;
    loop {
        let (next, keys) = scan_reply(&c.run(&format!("SCAN {cursor} {opts}")));
        seen.extend(keys);
        cursor = next;
        calls += 1;
        assert!(calls < 100_000, "SCAN does not terminate");
        if cursor == 0 {
            return seen;
        }
    }
}

fn int_reply(r: &[u8]) -> i64 {
    assert_eq!(r[0], b':', "{}", String::from_utf8_lossy(r));
    std::str::from_utf8(&r[1..r.len() - 2]).unwrap().parse().unwrap()
}

#[test]
fn del_unlink_exists_type_touch() {
    let mut p = Pair::new();
    p.check_all(&[
        "SET a 1",
        "SET b hello",
        "SET c 12345678901234567890123456789012345678901234567890",
        "EXISTS a",
        "EXISTS a a a missing",
        "EXISTS missing",
        "TYPE a",
        "TYPE b",
        "TYPE missing",
        "TOUCH a b missing a",
        "TOUCH missing",
        "DEL a a missing",
        "DEL a",
        "UNLINK b c c missing",
        "UNLINK b",
        "DBSIZE",
        "DEL",
        "UNLINK",
        "EXISTS",
        "TOUCH",
        "TYPE",
        "TYPE a b",
        "DBSIZE x",
    ]);
    // Binary keys.
    p.check_args(&[b"SET", b"\xff\x00k\r\n", b"v"]);
    p.check_args(&[b"EXISTS", b"\xff\x00k\r\n", b"\xff\x00k"]);
    p.check_args(&[b"TYPE", b"\xff\x00k\r\n"]);
    p.check_args(&[b"TOUCH", b"\xff\x00k\r\n"]);
    p.check_args(&[b"DEL", b"\xff\x00k\r\n"]);
    p.check_args(&[b"EXISTS", b"\xff\x00k\r\n"]);
    p.check_args(&[b"SET", b"", b"empty key"]);
    p.check_args(&[b"EXISTS", b""]);
    p.check_args(&[b"UNLINK", b""]);
}

#[test]
fn rename_and_renamenx() {
    let mut p = Pair::new();
    p.check_all(&[
        "RENAME missing x",
        "RENAMENX missing x",
        "RENAME missing missing",
        "RENAMENX missing missing",
        "SET a 1",
        "RENAME a a",
        "RENAMENX a a",
        "GET a",
        "RENAME a b",
        "EXISTS a",
        "GET b",
        "SET c 3",
        "RENAMENX b c",
        "GET b",
        "RENAME b c",
        "GET c",
        "EXISTS b",
        "RENAMENX c d",
        "GET d",
        "RENAME",
        "RENAME a",
        "RENAME a b c",
        "RENAMENX a",
    ]);
    // The TTL travels with the key; the destination's own TTL is replaced.
    p.check_all(&[
        "SET t v",
        "EXPIRE t 100",
        "SET u w",
        "EXPIRE u 5000",
        "RENAME t u",
        "TTL u",
        "SET n 1",
        "EXPIRE u 300",
        "RENAME u n",
        "TTL n",
        "SET p 1",
        "RENAME p n",
        "TTL n",
    ]);
    p.check_args(&[b"SET", b"\x00src", b"v"]);
    p.check_args(&[b"RENAME", b"\x00src", b"\xffdst"]);
    p.check_args(&[b"GET", b"\xffdst"]);
}

#[test]
fn copy_with_db_and_replace() {
    let mut p = Pair::new();
    p.check_all(&[
        "COPY missing x",
        "SET a hello",
        "COPY a a",
        "COPY a a DB 0",
        "COPY a b",
        "GET b",
        "COPY a b",
        "SET a world",
        "COPY a b REPLACE",
        "GET b",
        "COPY a b replace replace",
        "COPY a a DB 1",
        "COPY a x DB 1",
        "COPY a x DB 1",
        "SELECT 1",
        "GET a",
        "GET x",
        "SELECT 0",
        "COPY a b DB 16",
        "COPY a b DB -1",
        "COPY a b DB x",
        "COPY a b DB 99999999999",
        "COPY a b DB",
        "COPY a b REPLACE DB",
        "COPY a b foo",
        "COPY a b DB 0 DB 2",
        "SELECT 2",
        "GET b",
        "SELECT 0",
        "COPY a",
        "COPY missing missing",
        "SET n 12345",
        "COPY n m",
        "OBJECT ENCODING m",
    ]);
    // The copy keeps the TTL; REPLACE over a key with TTL takes the source's (none).
    p.check_all(&["SET t v", "EXPIRE t 1000", "COPY t t2", "TTL t2", "SET plain 1", "COPY plain t2 REPLACE", "TTL t2"]);
}

#[test]
fn move_between_databases() {
    let mut p = Pair::new();
    p.check_all(&[
        "MOVE missing 1",
        "MOVE missing 0",
        "SET a 1",
        "MOVE a 0",
        "MOVE a 16",
        "MOVE a -1",
        "MOVE a x",
        "MOVE a 99999999999",
        "EXPIRE a 500",
        "MOVE a 1",
        "EXISTS a",
        "SELECT 1",
        "GET a",
        "TTL a",
        "SET b in1",
        "SELECT 0",
        "SET b in0",
        "MOVE b 1",
        "GET b",
        "MOVE",
        "MOVE a",
        "MOVE a 1 2",
    ]);
}

#[test]
fn expire_family_options_and_errors() {
    let mut p = Pair::new();
    p.check_all(&[
        "EXPIRE missing 10",
        "PEXPIRE missing 10",
        "EXPIREAT missing 10",
        "PEXPIREAT missing 10",
        "SET a 1",
        "EXPIRE a 100 NX XX",
        "EXPIRE a 100 nx gt",
        "EXPIRE a 100 NX LT",
        "EXPIRE a 100 GT LT",
        "EXPIRE a 100 xx gt lt",
        "EXPIRE a x NX XX",
        "EXPIRE a 100 foo",
        "EXPIRE a 100 NX foo",
        "EXPIRE a x foo",
        "EXPIRE a x",
        "EXPIRE a 1.5",
        "EXPIRE a 9223372036854775",
        "EXPIRE a -9223372036854776",
        "PEXPIRE a 9223372036854775807",
        "EXPIREAT a 9223372036854776",
        "TTL a",
        // XX / GT on a key without TTL refuse; NX / LT set.
        "EXPIRE a 100 XX",
        "EXPIRE a 100 GT",
        "TTL a",
        "EXPIRE a 100 LT",
        "TTL a",
        "EXPIRE a 200 NX",
        "EXPIRE a 50 GT",
        "EXPIRE a 200 gt",
        "TTL a",
        "EXPIRE a 300 LT",
        "EXPIRE a 150 lt",
        "TTL a",
        "EXPIRE a 170 XX",
        "TTL a",
        "EXPIRE a 100 GT GT",
        "EXPIRE a 100 nx NX",
        // A refused non-positive expiry leaves the key alone.
        "EXPIRE a 0 NX",
        "EXISTS a",
        "PEXPIRE a 100000",
        // (PTTL right after PEXPIRE depends on the clock: ttl_persist_and_expiretime compares it
        // by range.)
        "EXPIREAT a 4102444800",
        "EXPIRETIME a",
        "PEXPIRETIME a",
        "PEXPIREAT a 4102444800123",
        "PEXPIRETIME a",
        "EXPIRETIME a",
        "PEXPIREAT a 9223372036854775807",
        "PEXPIRETIME a",
        // Non-positive or past times delete the key (and reply 1).
        "EXPIRE a 0",
        "EXISTS a",
        "SET a 1",
        "PEXPIRE a -5",
        "EXISTS a",
        "SET a 1",
        "EXPIREAT a 1000",
        "EXISTS a",
        "SET a 1",
        "PEXPIREAT a 0",
        "EXISTS a",
        "EXPIRE",
        "EXPIRE a",
        "PEXPIREAT a",
    ]);
}

#[test]
fn ttl_persist_and_expiretime() {
    let mut p = Pair::new();
    p.check_all(&[
        "TTL missing",
        "PTTL missing",
        "EXPIRETIME missing",
        "PEXPIRETIME missing",
        "PERSIST missing",
        "SET a 1",
        "TTL a",
        "PTTL a",
        "EXPIRETIME a",
        "PEXPIRETIME a",
        "PERSIST a",
        "EXPIRE a 1000",
        "TTL a",
        "PERSIST a",
        "PERSIST a",
        "TTL a",
        "TTL",
        "TTL a b",
        "PERSIST",
        "EXPIRETIME a b",
    ]);
    // PTTL is time-based: compare by range.
    p.both("PEXPIRE a 5000");
    let (x, y) = p.both("PTTL a");
    for r in [x, y] {
        let v = int_reply(&r);
        assert!((4000..=5000).contains(&v), "PTTL {v}");
    }
}

#[test]
fn expired_keys_are_invisible() {
    let mut p = Pair::new();
    for k in ["e1", "e2", "e3", "e4", "e5", "e6"] {
        p.check(&format!("SET {k} v"));
        p.check(&format!("PEXPIRE {k} 20"));
    }
    p.check("SET live v");
    sleep(Duration::from_millis(80));
    p.check_all(&[
        "EXISTS e1",
        "TYPE e2",
        "TTL e3",
        "PTTL e3",
        "EXPIRETIME e4",
        "PERSIST e4",
        "EXPIRE e5 100",
        "TOUCH e6",
        "RENAME e1 x",
        "RENAMENX e1 x",
        "COPY e2 x",
        "MOVE e3 1",
        "OBJECT ENCODING e4",
        "KEYS e*",
        "KEYS e1",
        "KEYS *",
        "RANDOMKEY",
        "SCAN 0 MATCH e* COUNT 1000",
        "DBSIZE",
    ]);
}

#[test]
fn keys_and_scan() {
    let mut p = Pair::new();
    let keys = ["hello", "hallo", "hxllo", "hllo", "heeeello", "a*b", "a?b", "user:1", "user:2", "user:10"];
    for k in keys {
        p.check(&format!("SET {k} 1"));
    }
    p.check_args(&[b"SET", b"bin\x00\xff", b"1"]);
    for pat in [
        "*",
        "h?llo",
        "h*llo",
        "h[ae]llo",
        "h[^e]llo",
        "h[a-b]llo",
        "user:?",
        "user:*",
        "a\\*b",
        "nomatch*",
        "hello",
        "nokey",
        "*o",
    ] {
        let (x, y) = p.both(&format!("KEYS {pat}"));
        assert_eq!(bulk_set(&x), bulk_set(&y), "KEYS {pat}");
    }
    p.check_args(&[b"KEYS", b"bin\x00\xff"]);
    p.check_all(&["KEYS", "KEYS a b"]);

    // Full iterations return the same key sets, with every option combination.
    let (mut a, mut b) = p.conns();
    for opts in [
        "",
        "COUNT 1",
        "COUNT 3",
        "COUNT 1000",
        "MATCH h*llo",
        "MATCH user:* COUNT 2",
        "TYPE string",
        "TYPE STRING",
        "TYPE list",
        "TYPE nosuchtype",
        "MATCH hello",
        "MATCH nokey",
        "MATCH * TYPE string COUNT 7",
    ] {
        let x = full_scan(&mut a, opts);
        let y = full_scan(&mut b, opts);
        assert_eq!(x, y, "SCAN {opts}");
    }
    assert_eq!(full_scan(&mut a, "").len(), keys.len() + 1);
    // Errors and edge cases are byte-identical.
    p.check_all(&[
        "SCAN",
        "SCAN x",
        "SCAN ''",
        "SCAN 0x1",
        "SCAN 18446744073709551616",
        "SCAN 0 COUNT 0",
        "SCAN 0 COUNT -1",
        "SCAN 0 COUNT x",
        "SCAN 0 COUNT 99999999999999999999",
        "SCAN 0 COUNT",
        "SCAN 0 MATCH",
        "SCAN 0 TYPE",
        "SCAN 0 foo bar",
        "SCAN 0 COUNT 5 foo",
    ]);
    // Valid but unusual cursors end with cursor 0 on both once the iteration completes.
    for c in ["-1", "+0", "18446744073709551615"] {
        let (x, y) = p.both(&format!("SCAN {c} COUNT 100000"));
        assert!(x.starts_with(b"*2\r\n$"), "{}", String::from_utf8_lossy(&x));
        assert!(y.starts_with(b"*2\r\n$"));
    }
    // Empty database.
    p.check_all(&["FLUSHALL", "SCAN 0", "KEYS *", "SCAN 0 MATCH x"]);
}

#[test]
fn randomkey_by_invariant() {
    let mut p = Pair::new();
    p.check("RANDOMKEY");
    let names = ["k1", "k2", "k3", "k4"];
    for k in names {
        p.check(&format!("SET {k} v"));
    }
    let mut seen = BTreeSet::new();
    for _ in 0..200 {
        let r = p.a.run("RANDOMKEY");
        let k = String::from_utf8(r[4..r.len() - 2].to_vec()).unwrap();
        assert!(names.contains(&k.as_str()), "{k}");
        seen.insert(k);
    }
    assert_eq!(seen.len(), 4, "RANDOMKEY should reach every key");
    // Expired keys are never returned.
    for k in names {
        p.check(&format!("PEXPIRE {k} 10"));
    }
    p.check("SET survivor v");
    sleep(Duration::from_millis(50));
    for _ in 0..10 {
        p.check("RANDOMKEY");
    }
    p.check_all(&["RANDOMKEY x"]);
}

#[test]
fn object_subcommands() {
    let mut p = Pair::new();
    p.check_all(&[
        "SET int 1",
        "SET bigint 123456",
        "SET neg -5",
        "SET emb hello",
        "SET raw 123456789012345678901234567890123456789012345678",
        "OBJECT ENCODING int",
        "OBJECT ENCODING bigint",
        "OBJECT ENCODING emb",
        "OBJECT ENCODING raw",
        "OBJECT ENCODING missing",
        "OBJECT encoding int",
        "OBJECT REFCOUNT int",
        "OBJECT REFCOUNT bigint",
        "OBJECT REFCOUNT neg",
        "OBJECT REFCOUNT emb",
        "OBJECT REFCOUNT missing",
        "OBJECT FREQ emb",
        "OBJECT FREQ missing",
        "OBJECT IDLETIME missing",
        "OBJECT HELP",
        "object help",
        "OBJECT",
        "OBJECT HELP x",
        "OBJECT ENCODING",
        "OBJECT ENCODING a b",
        "OBJECT foo",
        "OBJECT foo bar",
    ]);
    // IDLETIME is time-based (and Redis shares small integers): compare by range.
    let (x, y) = p.both("OBJECT IDLETIME emb");
    for r in [x, y] {
        assert!((0..=2).contains(&int_reply(&r)));
    }
}

/// RESP3 replies (nulls). HELLO belongs to the connection family, which is not on this branch
/// yet: run with `--ignored` once it is merged.
#[test]
fn resp3_replies() {
    let mut p = Pair::new();
    p.resp3();
    p.check_all(&[
        "RANDOMKEY",
        "SET emb hello",
        "OBJECT ENCODING missing",
        "OBJECT REFCOUNT missing",
        "OBJECT IDLETIME missing",
        "OBJECT FREQ missing",
        "OBJECT ENCODING emb",
        "OBJECT HELP",
        "TYPE emb",
        "TYPE missing",
        "SCAN 0",
        "KEYS *",
        "RANDOMKEY",
        "TTL missing",
    ]);
}

#[test]
fn flush_swap_and_dbsize() {
    let mut p = Pair::new();
    p.check_all(&[
        "SET a 1",
        "SET b 2",
        "SELECT 1",
        "SET c 3",
        "DBSIZE",
        "SELECT 0",
        "DBSIZE",
        "SWAPDB 0 1",
        "DBSIZE",
        "GET c",
        "SWAPDB 1 1",
        "SWAPDB 0 16",
        "SWAPDB -1 0",
        "SWAPDB x 0",
        "SWAPDB 0 x",
        "SWAPDB x y",
        "SWAPDB 99999999999 0",
        "SWAPDB 0 99999999999",
        "SWAPDB 0",
        "SWAPDB 0 1 2",
        "SWAPDB 1 0",
        "FLUSHDB",
        "DBSIZE",
        "SELECT 1",
        "DBSIZE",
        "FLUSHDB ASYNC",
        "DBSIZE",
        "SET x 1",
        "FLUSHDB sync",
        "DBSIZE",
        "FLUSHDB foo",
        "FLUSHDB ASYNC SYNC",
        "FLUSHALL foo",
        "FLUSHALL async sync",
        "SET x 1",
        "SELECT 5",
        "SET y 1",
        "FLUSHALL ASYNC",
        "DBSIZE",
        "SELECT 1",
        "DBSIZE",
        "SET z 1",
        "FLUSHALL SYNC",
        "DBSIZE",
        "FLUSHALL",
        "DBSIZE",
    ]);
    // TTLs move with SWAPDB.
    p.check_all(&["SELECT 0", "SET t v", "EXPIRE t 100", "SWAPDB 0 3", "SELECT 3", "TTL t", "SELECT 0", "TTL t"]);
}

/// The main connections WATCH `watch` in `watch_db` after the second connections ran
/// `before`; then the second connections run `after`, and EXEC must reply the same on both
/// (nil when the watch was dirtied). Returns the EXEC reply.
fn watch_case(p: &mut Pair, watch_db: u32, watch: &str, before: &[&str], after: &[&str]) -> Vec<u8> {
    let (mut a2, mut b2) = p.conns();
    for line in before {
        assert_eq!(a2.run(line), b2.run(line), "{line}");
    }
    p.check(&format!("SELECT {watch_db}"));
    p.check(&format!("WATCH {watch}"));
    for line in after {
        assert_eq!(a2.run(line), b2.run(line), "{line}");
    }
    p.check("MULTI");
    p.check("PING");
    let r = p.check("EXEC");
    p.check("SELECT 0");
    r
}

#[test]
fn watch_sees_flush_and_swap() {
    let mut p = Pair::new();
    let dirty = b"*-1\r\n".to_vec();
    // FLUSHDB of the watched db with the key present → dirty.
    let r = watch_case(&mut p, 0, "k", &["FLUSHALL", "SET k 1"], &["FLUSHDB"]);
    assert_eq!(r, dirty);
    // Watched key absent from the flushed db → not dirty.
    let r = watch_case(&mut p, 0, "k", &["FLUSHALL", "SET other 1"], &["FLUSHDB"]);
    assert_ne!(r, dirty);
    // Flushing another db that holds the key → not dirty.
    let r = watch_case(&mut p, 0, "k", &["FLUSHALL", "SET k 1", "SELECT 1", "SET k 1"], &["FLUSHDB"]);
    assert_ne!(r, dirty);
    // FLUSHALL dirties watched keys in any db.
    let r = watch_case(&mut p, 3, "k", &["FLUSHALL", "SELECT 3", "SET k 1"], &["FLUSHALL"]);
    assert_eq!(r, dirty);
    let r = watch_case(&mut p, 3, "k", &["FLUSHALL", "SELECT 3", "SET j 1"], &["FLUSHALL ASYNC"]);
    assert_ne!(r, dirty);
    // SWAPDB: the key exists in the watched db, in the other db, or in neither.
    let r = watch_case(&mut p, 0, "k", &["FLUSHALL", "SET k 1"], &["SWAPDB 0 1"]);
    assert_eq!(r, dirty);
    let r = watch_case(&mut p, 0, "k", &["FLUSHALL", "SELECT 1", "SET k 1"], &["SWAPDB 0 1"]);
    assert_eq!(r, dirty);
    let r = watch_case(&mut p, 0, "k", &["FLUSHALL", "SELECT 1", "SET j 1"], &["SWAPDB 0 1"]);
    assert_ne!(r, dirty);
    // A swap of two other databases never dirties.
    let r = watch_case(&mut p, 0, "k", &["FLUSHALL", "SET k 1", "SELECT 2", "SET k 1"], &["SWAPDB 1 2"]);
    assert_ne!(r, dirty);
}

#[test]
fn watch_sees_key_commands() {
    let mut p = Pair::new();
    let dirty = b"*-1\r\n".to_vec();
    let cases: &[(&str, &[&str], bool)] = &[
        ("dst", &["SET src 1", "RENAME src dst"], true),
        ("src", &["SET src 1", "RENAME src dst"], true),
        ("dst", &["SET src 1", "RENAMENX src dst"], true),
        ("dst", &["SET src 1", "COPY src dst"], true),
        ("src", &["SET src 1", "COPY src dst"], false),
        ("src", &["SET src 1", "MOVE src 1"], true),
        ("src", &["SET src 1", "EXPIRE src 100"], true),
        ("src", &["SET src 1", "PERSIST src"], false),
        ("src", &["SET src 1", "EXPIRE src 100", "PERSIST src"], true),
        ("src", &["SET src 1", "EXPIRE src 0"], true),
        ("src", &["SET src 1", "TOUCH src", "TYPE src", "TTL src", "OBJECT ENCODING src"], false),
        ("src", &["SET src 1", "DEL src"], true),
        ("src", &["SET src 1", "UNLINK src"], true),
        ("src", &["DEL src"], false),
    ];
    for (watch, other, expect_dirty) in cases {
        p.check("FLUSHALL");
        let (mut a2, mut b2) = p.conns();
        // Setup commands that create the key run before WATCH; the rest after.
        let (setup, rest) = other.split_at(1);
        assert_eq!(a2.run(setup[0]), b2.run(setup[0]));
        p.check(&format!("WATCH {watch}"));
        for line in rest {
            assert_eq!(a2.run(line), b2.run(line), "{line}");
        }
        p.check("MULTI");
        p.check("PING");
        let r = p.check("EXEC");
        assert_eq!(r == dirty, *expect_dirty, "WATCH {watch} then {other:?}");
    }
}

/// Redis's glob matcher gives up past 1000 nested runs of `*` (CVE-2022-36021's protection):
/// such a pattern finds nothing, whichever command matches with it.
#[test]
fn glob_nesting_limit_as_redis() {
    let mut p = Pair::new();
    let key = vec![b'x'; 50_000];
    p.check_args(&[b"SET", &key, b"v"]);
    for (runs, tail) in [(1000, &b""[..]), (1001, b""), (1000, b"*"), (50_000, b"")] {
        let pat: Vec<u8> = [b'*', b'?'].repeat(runs).into_iter().chain(tail.iter().copied()).collect();
        p.check_args(&[b"KEYS", &pat]);
        p.check_args(&[b"SCAN", b"0", b"MATCH", &pat, b"COUNT", b"1000"]);
    }
}
