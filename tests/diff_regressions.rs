//! Differences the differential fuzzer (`tests/fuzz_diff.rs`) found, each minimised to a few
//! commands and kept here as a regression test against redis-server.

mod common;
use common::*;

/// XACK checks the key's type, then answers 0 for a missing key or group whatever its IDs,
/// and only then parses the IDs.
#[test]
fn xack_checks_type_and_group_before_ids() {
    let mut p = Pair::new();
    p.check_all(&[
        "XACK k5 g2 -1 12-3",
        "SET s v",
        "XACK s g -1",
        "XADD st 1-1 f v",
        "XACK st nog -1",
        "XGROUP CREATE st g 0",
        "XACK st g -1",
        "XACK st g 1-1 x",
    ]);
}

/// XDEL answers 0 for a missing key and checks the type before it parses the IDs.
#[test]
fn xdel_checks_key_and_type_before_ids() {
    let mut p = Pair::new();
    p.check_all(&[
        "XDEL nokey 20-*",
        "SET str v",
        "XDEL str x",
        "XADD s 1-1 f v",
        "XDEL s 1-1 x",
        "XLEN s",
        "XDEL s 1-1",
    ]);
}

/// XGROUP SETID checks the key and the group before it parses the ID.
#[test]
fn xgroup_setid_checks_key_and_group_before_the_id() {
    let mut p = Pair::new();
    p.check_all(&[
        "XGROUP SETID nokey nog 4-*",
        "SET str v",
        "XGROUP SETID str g x",
        "XADD s 1-1 f v",
        "XGROUP SETID s nog x",
        "XGROUP CREATE s g 0",
        "XGROUP SETID s g x",
        "XGROUP SETID s g 4-*",
    ]);
}

/// ZRANGESTORE from a missing source deletes the destination and raises its `del` event.
#[test]
fn zrangestore_from_a_missing_key_raises_del() {
    compare(|port| {
        let mut c = Conn::connect(port);
        let mut sub = Conn::connect(port);
        c.run("CONFIG SET notify-keyspace-events KEA");
        sub.run("PSUBSCRIBE __key*__:*");
        c.run("SET dst v");
        let mut out = vec![c.run("ZRANGESTORE dst nosrc 0 -1"), c.run("EXISTS dst")];
        c.run("CONFIG SET notify-keyspace-events \"\"");
        while let Some(r) = sub.try_read_reply(std::time::Duration::from_millis(100)) {
            out.push(r);
        }
        out
    });
}

/// SORT and SORT_RO convert a listpack sorted set to a skiplist (Redis's sortCommandGeneric),
/// even when the sort then fails.
#[test]
fn sort_converts_sorted_sets_to_skiplists() {
    let mut p = Pair::new();
    p.check_all(&[
        "ZADD z 1 a 2 b",
        "OBJECT ENCODING z",
        "SORT_RO z ALPHA",
        "OBJECT ENCODING z",
        "ZADD y 6 a",
        "SORT y",
        "OBJECT ENCODING y",
        "ZADD x 1 2",
        "SORT x STORE dst",
        "OBJECT ENCODING x",
    ]);
}

/// UNWATCH queued in a transaction runs inside EXEC without giving up EXEC's locks (the
/// commands after it used to run unlocked: a panic and no reply).
#[test]
fn unwatch_inside_a_transaction() {
    let mut p = Pair::new();
    p.check_all(&[
        "RPUSH k0 a b c",
        "WATCH k0",
        "MULTI",
        "UNWATCH",
        "RPOP k0 4",
        "LPUSH k1 x",
        "EXEC",
        "LRANGE k1 0 -1",
    ]);
    p.resp3();
    p.check_all(&["MULTI", "UNWATCH", "RPOP k0 4", "EXEC"]);
}

/// Lex ranges over members with different scores answer as Redis (its early exit on the first
/// and last members, and its walk from either end), for the compact encoding.
#[test]
fn lex_ranges_over_mixed_scores() {
    let mut p = Pair::new();
    p.check_all(&["ZADD z 3 b", "ZADD z 0 nan"]);
    for r in ["(m +", "- +", "[a [c", "[n (z", "- [b", "(b +", "[z [a", "(a (a", "+ -"] {
        let (min, max) = r.split_once(' ').unwrap();
        p.check_all(&[
            &format!("ZRANGEBYLEX z {min} {max}"),
            &format!("ZREVRANGEBYLEX z {max} {min}"),
            &format!("ZRANGE z {min} {max} BYLEX"),
            &format!("ZRANGE z {max} {min} BYLEX REV LIMIT 0 1"),
            &format!("ZLEXCOUNT z {min} {max}"),
        ]);
    }
    p.check_all(&[
        "ZADD y 1 d 2 a 3 e 4 b 5 f",
        "ZREVRANGEBYLEX y + -",
        "ZREVRANGEBYLEX y [e [b",
        "ZRANGEBYLEX y [b [e",
    ]);
    p.check_all(&["ZREMRANGEBYLEX y [a [c", "ZRANGE y 0 -1", "ZREMRANGEBYLEX z (m +", "ZRANGE z 0 -1"]);
}

/// With replies off, EXEC's reply is dropped whole even when a PUBLISH inside it reached no
/// subscriber on the client itself (its array header used to leak out).
#[test]
fn exec_with_publish_while_replies_are_off() {
    compare(|port| {
        let mut c = Conn::connect(port);
        c.run("HELLO 3");
        for cmd in ["CLIENT REPLY OFF", "MULTI", "PUBLISH news.b x", "ZADD k6 6 7", "EXEC"] {
            let w = words(cmd);
            let args: Vec<&[u8]> = w.iter().map(|a| a.as_slice()).collect();
            c.send_raw(&encode(&args));
        }
        let silent = c.try_read_reply(std::time::Duration::from_millis(200));
        c.send_raw(&encode(&[b"CLIENT", b"REPLY", b"ON"]));
        vec![format!("{silent:?}").into_bytes(), c.read_reply(), c.run("ZSCORE k6 7")]
    });
}

/// Numeric SORT right after a command that overflowed a double sorts. Redis 7.0 and 7.2 test
/// `errno == ERANGE` after strtod without clearing it, so there the SORT can fail on the stale
/// errno of the ZADD before it; once another connection has been accepted (Redis's accept loop
/// ends on EAGAIN) the oracle sorts too, and both answers are the same.
#[test]
fn sort_does_not_read_a_stale_range_error() {
    let mut p = Pair::new();
    p.check_all(&["SADD k 1 3 2", "ZADD z 1e400 m"]);
    assert_eq!(p.a.run("SORT k"), b"*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n");
    let (_fresh_a, _fresh_b) = p.conns();
    p.check_all(&["PING", "SORT k", "SORT k DESC"]);
}

/// A blocked XREAD stays blocked when the XADD that wakes it trims its own entry away (MINID
/// above it, or MAXLEN 0): Redis 7.2 re-runs XREAD, which serves only streams with entries.
/// (7.0 answered the stream with an empty entry list; the fuzzer names this rule.)
#[test]
fn xread_is_not_served_by_an_entry_trimmed_at_once() {
    let s = start_redstart(&[]);
    let mut blocker = Conn::connect(s.port);
    let mut c = Conn::connect(s.port);
    blocker.send_raw(&encode(&[b"XREAD", b"BLOCK", b"0", b"STREAMS", b"k2", b"$"]));
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert_eq!(c.run("XADD k2 MINID = 22-2 1-2 f v"), b"$3\r\n1-2\r\n");
    assert_eq!(c.run("XLEN k2"), b":0\r\n");
    assert!(blocker.try_read_reply(std::time::Duration::from_millis(300)).is_none(), "still blocked");
    assert_eq!(c.run("XADD k2 30-0 g w"), b"$4\r\n30-0\r\n");
    let r = blocker.try_read_reply(std::time::Duration::from_secs(5)).expect("served");
    assert!(text(&r).contains("30-0"), "{}", text(&r));
}
