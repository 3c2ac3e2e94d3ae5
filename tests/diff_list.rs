//! Differential tests for the list family against redis-server: every command, option and
//! error, WRONGTYPE, negative indexes, count edge cases, binary data, expiry and RESP3.
mod common;
use common::*;

fn setup(p: &mut Pair) {
    p.check_all(&["FLUSHALL", "RPUSH l a b c d e a b c", "SET s x"]);
}

#[test]
fn push_pop_len() {
    let mut p = Pair::new();
    setup(&mut p);
    p.check_all(&[
        "LPUSH n 1 2 3",
        "RPUSH n 4 5",
        "LRANGE n 0 -1",
        "LPUSHX missing a",
        "RPUSHX missing a",
        "EXISTS missing",
        "LPUSHX n x y",
        "RPUSHX n z",
        "LLEN n",
        "LLEN missing",
        "LPOP n",
        "RPOP n",
        "LPOP n 2",
        "RPOP n 2",
        "LPOP n 0",
        "RPOP n 0",
        "LPOP n 100",
        "EXISTS n",
        "LPOP n",
        "RPOP n",
        "LPOP n 0",
        "LPOP n 3",
        "RPOP n 3",
        "LPOP l -1",
        "LPOP l x",
        "RPOP l -5",
        "LPOP l 1 2",
        "LPOP",
        "LPUSH l",
        "RPUSH",
        "LLEN",
        "LLEN a b",
        "LPOP l 1",
        "RPOP l 1",
        "LRANGE l 0 -1",
    ]);
}

#[test]
fn wrongtype_everywhere() {
    let mut p = Pair::new();
    setup(&mut p);
    p.check_all(&[
        "LPUSH s a",
        "RPUSH s a",
        "LPUSHX s a",
        "RPUSHX s a",
        "LPOP s",
        "RPOP s 2",
        "LLEN s",
        "LINDEX s 0",
        "LSET s 0 x",
        "LRANGE s 0 -1",
        "LTRIM s 0 1",
        "LINSERT s BEFORE a b",
        "LREM s 0 a",
        "LPOS s a",
        "LMOVE s l LEFT LEFT",
        "LMOVE l s LEFT LEFT",
        "LRANGE l 0 -1",
        "RPOPLPUSH s l",
        "RPOPLPUSH l s",
        "LMPOP 2 missing s LEFT",
        "LMPOP 2 l s LEFT",
        "BLPOP s 0",
        "BLPOP missing s 0",
        "BRPOP l s 0",
        "BLMOVE s l LEFT LEFT 0",
        "BLMOVE l s LEFT LEFT 0",
        "BRPOPLPUSH s l 0",
        "BLMPOP 0 1 s LEFT",
        "GET l",
        "TYPE l",
        "LRANGE l 0 -1",
    ]);
}

#[test]
fn index_set_range_trim() {
    let mut p = Pair::new();
    setup(&mut p);
    for i in [-10, -9, -8, -1, 0, 1, 7, 8, 100] {
        p.check(&format!("LINDEX l {i}"));
    }
    p.check_all(&[
        "LINDEX l x",
        "LINDEX missing x",
        "LINDEX missing 0",
        "LINDEX l 99999999999999999999",
        "LSET l 0 A",
        "LSET l -1 Z",
        "LSET l 8 x",
        "LSET l -9 x",
        "LSET l x y",
        "LSET missing 0 x",
        "LSET missing x x",
        "LRANGE l 0 -1",
        "LSET l 3 a-much-longer-replacement-value-than-before-to-grow-the-node",
        "LRANGE l 0 -1",
    ]);
    for (s, e) in [(0, -1), (-3, -1), (2, 4), (5, 2), (-100, 100), (8, 10), (-1, -2), (7, 7), (0, 0)] {
        p.check(&format!("LRANGE l {s} {e}"));
    }
    p.check_all(&[
        "LRANGE l x 1",
        "LRANGE l 0 y",
        "LRANGE missing 0 -1",
        "LRANGE l -9223372036854775808 9223372036854775807",
        "RPUSH t 1 2 3 4 5 6 7 8 9",
        "LTRIM t 1 -2",
        "LRANGE t 0 -1",
        "LTRIM t -3 100",
        "LRANGE t 0 -1",
        "LTRIM t 0 0",
        "LRANGE t 0 -1",
        "LTRIM t 5 1",
        "EXISTS t",
        "LTRIM missing 0 1",
        "LTRIM l x 1",
        "LTRIM l 0 y",
        "LTRIM missing x 1",
        "RPUSH t 1 2 3",
        "LTRIM t 3 10",
        "EXISTS t",
    ]);
}

#[test]
fn insert_rem_pos() {
    let mut p = Pair::new();
    setup(&mut p);
    p.check_all(&[
        "LINSERT l BEFORE a X",
        "LINSERT l after c Y",
        "LINSERT l BEFORE nope X",
        "LINSERT l MIDDLE a X",
        "LINSERT missing BEFORE a X",
        "LINSERT missing MIDDLE a X",
        "LRANGE l 0 -1",
        "LREM l 1 a",
        "LREM l -1 b",
        "LREM l 0 c",
        "LREM l 0 nope",
        "LREM l x a",
        "LREM missing 0 a",
        "LRANGE l 0 -1",
        "DEL l",
        "RPUSH l a b a c a d a",
        "LPOS l a",
        "LPOS l a RANK 2",
        "LPOS l a RANK -1",
        "LPOS l a RANK -2",
        "LPOS l a RANK 10",
        "LPOS l a COUNT 0",
        "LPOS l a COUNT 2",
        "LPOS l a COUNT 2 RANK -1",
        "LPOS l a COUNT 0 RANK 2",
        "LPOS l a MAXLEN 2",
        "LPOS l a MAXLEN 2 COUNT 0",
        "LPOS l a MAXLEN 2 RANK -1 COUNT 0",
        "LPOS l a COUNT 0 MAXLEN 0",
        "LPOS l zz",
        "LPOS l zz COUNT 3",
        "LPOS missing a",
        "LPOS missing a COUNT 1",
        "LPOS l a RANK 0",
        "LPOS l a RANK x",
        "LPOS l a COUNT -1",
        "LPOS l a COUNT x",
        "LPOS l a MAXLEN -1",
        "LPOS l a MAXLEN x",
        "LPOS l a RANK",
        "LPOS l a foo",
        "LPOS l a COUNT 1 COUNT 2",
        "LPOS missing a RANK 0",
        "LPOS l",
        "LREM l 0 a",
        "LRANGE l 0 -1",
        "LREM l 0 b",
        "LREM l 0 c",
        "LREM l 0 d",
        "EXISTS l",
    ]);
}

#[test]
fn moves_and_mpop() {
    let mut p = Pair::new();
    setup(&mut p);
    p.check_all(&[
        "LMOVE l d LEFT RIGHT",
        "LMOVE l d RIGHT LEFT",
        "LMOVE l d left left",
        "LMOVE l d right right",
        "LRANGE d 0 -1",
        "LMOVE l l LEFT RIGHT",
        "LMOVE l l RIGHT LEFT",
        "LRANGE l 0 -1",
        "LMOVE missing d LEFT LEFT",
        "LMOVE l d UP LEFT",
        "LMOVE l d LEFT DOWN",
        "LMOVE missing d UP LEFT",
        "RPOPLPUSH l d",
        "RPOPLPUSH missing d",
        "LRANGE d 0 -1",
        "RPUSH one x",
        "RPOPLPUSH one one",
        "LRANGE one 0 -1",
        "RPOPLPUSH one two",
        "EXISTS one",
        "LRANGE two 0 -1",
        "LMPOP 1 l LEFT",
        "LMPOP 2 missing l RIGHT COUNT 2",
        "LMPOP 2 missing l RIGHT COUNT 100",
        "EXISTS l",
        "LMPOP 1 missing LEFT",
        "LMPOP 2 missing d LEFT COUNT 1",
        "LMPOP 0 l LEFT",
        "LMPOP -1 l LEFT",
        "LMPOP x l LEFT",
        "LMPOP 1 l UP",
        "LMPOP 2 l LEFT",
        "LMPOP 5 l LEFT",
        "LMPOP 1 d LEFT COUNT 0",
        "LMPOP 1 d LEFT COUNT -1",
        "LMPOP 1 d LEFT COUNT x",
        "LMPOP 1 d LEFT COUNT",
        "LMPOP 1 d LEFT COUNT 1 COUNT 1",
        "LMPOP 1 d LEFT foo",
        "LMPOP 99999999999999999999 d LEFT",
        "LMPOP 1",
        "LMPOP 1 d",
    ]);
}

#[test]
fn blocking_commands_that_do_not_block() {
    let mut p = Pair::new();
    setup(&mut p);
    p.check_all(&[
        "BLPOP missing l 0",
        "BRPOP l 0",
        "BLPOP l 0.5",
        "BLMOVE l d LEFT RIGHT 0",
        "BRPOPLPUSH l d 0",
        "BLMPOP 0 2 missing l RIGHT COUNT 2",
        "BLMPOP 1 1 d LEFT",
        "LRANGE d 0 -1",
        "LRANGE l 0 -1",
        // Timeout errors.
        "BLPOP l x",
        "BLPOP l -1",
        "BLPOP l nan",
        "BLPOP l 1x",
        "BRPOP l -0.5",
        "BLMOVE l d LEFT RIGHT x",
        "BLMOVE l d UP RIGHT x",
        "BLMOVE l d LEFT RIGHT -1",
        "BRPOPLPUSH l d x",
        "BLMPOP x 1 l LEFT",
        "BLMPOP -1 1 l LEFT",
        "BLMPOP 0 0 l LEFT",
        "BLMPOP -1 0 l LEFT",
        "BLMPOP x 1 l UP",
        "BLMPOP 0 1 l LEFT COUNT 0",
        "BLPOP",
        "BLPOP l",
        "BLMOVE l d LEFT RIGHT",
        "BLMPOP 0 1 l",
        // Inside MULTI they never block.
        "MULTI",
        "BLPOP missing 0",
        "BRPOP missing 0",
        "BLMOVE missing d LEFT LEFT 0",
        "BRPOPLPUSH missing d 0",
        "BLMPOP 0 1 missing LEFT",
        "BLPOP l 0",
        "EXEC",
    ]);
    // Short timeouts: the null array, for every blocking command.
    p.check_all(&[
        "BLPOP missing 0.01",
        "BRPOP missing missing2 0.01",
        "BLMOVE missing d LEFT LEFT 0.01",
        "BRPOPLPUSH missing d 0.01",
        "BLMPOP 0.01 1 missing LEFT",
    ]);
    p.resp3();
    p.check_all(&[
        "BLPOP missing 0.01",
        "BLMOVE missing d LEFT LEFT 0.01",
        "MULTI",
        "BLPOP missing 0",
        "BLMOVE missing d LEFT LEFT 0",
        "EXEC",
    ]);
}

#[test]
fn timeouts_beyond_64_bit_ms_follow_redis_7_2() {
    // Redis 7.0 (the oracle) lets these overflow to "negative"; 7.2 says "out of range".
    let ours = start_redstart(&[]);
    let mut c = Conn::connect(ours.port);
    assert_eq!(c.run("BLPOP k inf"), b"-ERR timeout is out of range\r\n");
    assert_eq!(c.run("BLPOP k 1e30"), b"-ERR timeout is out of range\r\n");
    assert_eq!(c.run("BLPOP k -inf"), b"-ERR timeout is negative\r\n");
    // LPOS RANK is bounded to ±LONG_MAX in 7.2 (7.0 accepted LONG_MIN).
    c.run("RPUSH l a");
    assert_eq!(
        c.run("LPOS l a RANK -9223372036854775808"),
        b"-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n".to_vec()
    );
    assert_eq!(c.run("LPOS l a RANK -9223372036854775807"), b"$-1\r\n", "accepted, no such match");
}

#[test]
fn resp3_nulls() {
    let mut p = Pair::new();
    setup(&mut p);
    p.resp3();
    p.check_all(&[
        "LPOP missing",
        "LPOP missing 2",
        "LPOP l 0",
        "LINDEX l 100",
        "LINDEX missing 0",
        "LPOS l zz",
        "LPOS l zz COUNT 0",
        "LMOVE missing l LEFT LEFT",
        "RPOPLPUSH missing l",
        "LMPOP 1 missing LEFT",
        "LMPOP 1 l LEFT COUNT 2",
        "LRANGE l 0 -1",
        "BLPOP l 0",
    ]);
}

#[test]
fn binary_expiry_and_large_lists() {
    let mut p = Pair::new();
    p.check("FLUSHALL");
    p.check_args(&[b"RPUSH", b"\xff\x00k", b"\x00", b"a\r\nb", b""]);
    p.check_args(&[b"LRANGE", b"\xff\x00k", b"0", b"-1"]);
    p.check_args(&[b"LPOS", b"\xff\x00k", b""]);
    p.check_args(&[b"LREM", b"\xff\x00k", b"0", b"\x00"]);
    p.check_args(&[b"LMOVE", b"\xff\x00k", b"\xfe", b"LEFT", b"RIGHT"]);
    p.check_args(&[b"LRANGE", b"\xfe", b"0", b"-1"]);
    // Expired keys behave as missing.
    p.check_all(&["RPUSH e a b", "PEXPIRE e 20"]);
    std::thread::sleep(std::time::Duration::from_millis(60));
    p.check_all(&["LLEN e", "LPOP e", "LRANGE e 0 -1", "LPUSHX e x", "EXISTS e", "RPUSH e z", "TTL e"]);
    // A list spanning many nodes, with big elements and edits in the middle.
    let big = "x".repeat(5000);
    for i in 0..300 {
        p.check(&format!("RPUSH big item-{i}"));
        if i % 50 == 0 {
            p.check(&format!("LPUSH big {big}{i}"));
        }
    }
    p.check_all(&[
        "LLEN big",
        "LINDEX big 150",
        "LINDEX big -150",
        "LSET big 100 changed",
        "LINSERT big BEFORE item-200 inserted",
        "LREM big 3 item-7",
        "LRANGE big 95 110",
        "LTRIM big 3 -4",
        "LRANGE big -5 -1",
        "LPOS big item-250",
        "LPOS big changed RANK -1",
        "LPOP big 4",
        "RPOP big 4",
        "LLEN big",
    ]);
    // Options and list commands while TYPE and OBJECT agree on a list.
    p.check_all(&["TYPE big", "RPUSH ttl a", "EXPIRE ttl 100", "RPUSH ttl b", "TTL ttl", "LPOP ttl", "TTL ttl"]);
}

#[test]
fn object_encoding_follows_redis_7_2() {
    // Redis 7.0 reports `quicklist` for every list; 7.2 uses `listpack` for small ones.
    let ours = start_redstart(&[]);
    let mut c = Conn::connect(ours.port);
    c.run("RPUSH l a b c");
    assert_eq!(c.run("OBJECT ENCODING l"), b"$8\r\nlistpack\r\n");
    let big = "y".repeat(3000);
    for _ in 0..4 {
        c.run(&format!("RPUSH l {big}"));
    }
    assert_eq!(c.run("OBJECT ENCODING l"), b"$9\r\nquicklist\r\n");
    c.run("LTRIM l 0 2");
    assert_eq!(c.run("OBJECT ENCODING l"), b"$8\r\nlistpack\r\n");
    c.run("CONFIG SET list-max-listpack-size 4");
    c.run("RPUSH m 1 2 3 4");
    assert_eq!(c.run("OBJECT ENCODING m"), b"$8\r\nlistpack\r\n");
    c.run("RPUSH m 5");
    assert_eq!(c.run("OBJECT ENCODING m"), b"$9\r\nquicklist\r\n");
    assert_eq!(c.run("LRANGE m 0 -1"), b"*5\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n");
}
