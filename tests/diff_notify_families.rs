//! Differential tests for the keyspace notifications of the hash, list and set families: the
//! frames two subscriber connections (one RESP2, one RESP3) receive from redstart and from
//! redis-server, byte for byte, for every command, its no-op cases (which raise nothing),
//! WRONGTYPE errors, blocked clients served by a push, and class filtering.
//!
//! Each group of commands is followed by `PUBLISH stop <tag>`: the subscribers read until that
//! marker (so a missing event shows as a mismatch, not a hang), then drain briefly to check
//! that nothing follows it on either server.

mod common;
use common::*;
use std::time::Duration;

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).replace("\r\n", "\\r\\n")
}

/// A subscriber on each server (same protocol), listening to every keyspace and keyevent
/// channel of database 0 and to `stop`.
struct Sub {
    a: Conn,
    b: Conn,
    resp3: bool,
}

impl Sub {
    fn new(p: &Pair, resp3: bool) -> Sub {
        let (mut a, mut b) = p.conns();
        if resp3 {
            for c in [&mut a, &mut b] {
                assert!(c.run("HELLO 3").starts_with(b"%"));
            }
        }
        let mut s = Sub { a, b, resp3 };
        for line in ["PSUBSCRIBE __keyevent@0__:* __keyspace@0__:*", "SUBSCRIBE stop"] {
            let w = words(line);
            let args: Vec<&[u8]> = w.iter().map(|a| a.as_slice()).collect();
            let e = encode(&args);
            s.a.send_raw(&e);
            s.b.send_raw(&e);
            for _ in 1..args.len() {
                let (x, y) = (s.a.read_reply(), s.b.read_reply());
                assert_eq!(show(&x), show(&y), "{line}");
            }
        }
        s
    }

    /// Reads frames from both until the `stop` message carrying `tag`; compares the sequences
    /// and checks that nothing else arrives afterwards.
    fn same_until(&mut self, tag: &str, what: &str) -> Vec<String> {
        let stop = format!("{tag}\r\n");
        let read = |c: &mut Conn| {
            let mut v = Vec::new();
            loop {
                let f = c.read_reply();
                let done = f.ends_with(stop.as_bytes());
                v.push(show(&f));
                if done || v.len() > 200 {
                    return v;
                }
            }
        };
        let x = read(&mut self.a);
        let y = read(&mut self.b);
        let proto = if self.resp3 { "RESP3" } else { "RESP2" };
        assert_eq!(x, y, "{proto} notifications for {what} (left: redstart, right: redis-server)");
        let extra_a = self.a.try_read_reply(Duration::from_millis(30)).map(|f| show(&f));
        let extra_b = self.b.try_read_reply(Duration::from_millis(30)).map(|f| show(&f));
        assert_eq!(extra_a, extra_b, "{proto}: frames after the marker for {what}");
        x
    }
}

/// Both subscribers (RESP2 and RESP3).
struct Subs(Sub, Sub);

impl Subs {
    fn new(p: &Pair) -> Subs {
        Subs(Sub::new(p, false), Sub::new(p, true))
    }

    /// Runs `lines` (replies compared too) and compares what both subscribers received; returns
    /// the RESP2 frames (the `stop` marker included) so a test can also assert on them.
    fn run(&mut self, p: &mut Pair, lines: &[&str], tag: &str) -> Vec<String> {
        for l in lines {
            p.check(l);
        }
        p.check(&format!("PUBLISH stop {tag}"));
        let what = format!("{lines:?}");
        let v = self.0.same_until(tag, &what);
        self.1.same_until(tag, &what);
        v
    }

    /// Like `run`, and asserts that the commands raised nothing (the marker alone arrived).
    fn silent(&mut self, p: &mut Pair, lines: &[&str], tag: &str) {
        let v = self.run(p, lines, tag);
        assert_eq!(v.len(), 1, "no event expected for {lines:?}: {v:?}");
    }
}

/// Events with the `new` class too (`n` is not part of `A`), listed class by class.
const ALL_NEW: &str = "CONFIG SET notify-keyspace-events KEg$lshzxn";

#[test]
fn hash_events() {
    let mut p = Pair::new();
    p.check("CONFIG SET notify-keyspace-events KEA");
    let mut s = Subs::new(&p);
    s.run(&mut p, &["HSET h a 1 b 2", "HSET h a 1", "HMSET h a 2 c 3"], "h1");
    s.run(&mut p, &["HSETNX h d 4", "HSETNX h2 f v"], "h2");
    s.run(&mut p, &["HDEL h a zz", "HDEL h b c d"], "h3");
    s.run(&mut p, &["HINCRBY hi f 1", "HINCRBY hi f -3", "HINCRBYFLOAT hi g 1.5", "HINCRBYFLOAT hi f 0.5"], "h4");
    s.run(&mut p, &["HDEL h2 f", "HDEL hi f g"], "h5");
    // No-ops and errors raise nothing.
    p.check("HSET hs s x");
    s.run(&mut p, &[], "h6");
    s.silent(
        &mut p,
        &[
            "HSETNX hs s y",
            "HDEL hs nothere",
            "HDEL missing f",
            "HINCRBY hs s 1",
            "HINCRBYFLOAT hs s 1",
            "HINCRBY hs n notanumber",
            "HINCRBYFLOAT hs n nan",
        ],
        "h7",
    );
    p.check("SET str v");
    s.run(&mut p, &[], "h8");
    s.silent(
        &mut p,
        &["HSET str a 1", "HSETNX str a 1", "HDEL str a", "HINCRBY str a 1", "HINCRBYFLOAT str a 1"],
        "h9",
    );
    // Binary keys and fields.
    p.check_args(&[b"HSET", b"\xff\x00k", b"\x00", b"v"]);
    p.check_args(&[b"HDEL", b"\xff\x00k", b"\x00"]);
    s.run(&mut p, &[], "h10");
    // Read commands raise nothing.
    s.silent(&mut p, &["HGET hs s", "HGETALL hs", "HLEN hs", "HEXISTS hs s", "HMGET hs s t", "HSTRLEN hs s"], "h11");
    // `new` comes before the command's own event when it creates the key.
    p.check(ALL_NEW);
    s.run(&mut p, &["HSET n1 a 1", "HSETNX n2 a 1", "HINCRBY n3 a 1", "HINCRBYFLOAT n4 a 1", "HSET n1 b 2"], "h12");
}

#[test]
fn list_events() {
    let mut p = Pair::new();
    p.check(ALL_NEW);
    let mut s = Subs::new(&p);
    s.run(&mut p, &["LPUSH l a b c", "RPUSH l d e", "LPUSHX l x", "RPUSHX l y"], "l1");
    s.run(&mut p, &["LPOP l", "RPOP l", "LPOP l 2", "RPOP l 1"], "l2");
    s.run(&mut p, &["RPOP l 10", "RPUSH l2 a", "LPOP l2"], "l3");
    s.run(
        &mut p,
        &["RPUSH l a b c a b c", "LSET l 0 z", "LSET l -1 q", "LINSERT l BEFORE b i", "LINSERT l AFTER q j"],
        "l4",
    );
    s.run(&mut p, &["LREM l 1 b", "LREM l -1 a", "LREM l 0 c"], "l5");
    // LTRIM raises `ltrim` even when it keeps everything, and `del` when it removes everything.
    s.run(&mut p, &["LTRIM l 0 -1", "LTRIM l 1 -1", "LTRIM l 5 1"], "l6");
    s.run(&mut p, &["RPUSH r a b", "LREM r 0 a", "LREM r 0 b"], "l7");
    // No-ops and errors raise nothing.
    p.check("RPUSH k a b");
    p.check("SET str v");
    s.run(&mut p, &[], "l8");
    s.silent(
        &mut p,
        &[
            "LPUSHX missing a",
            "RPUSHX missing a",
            "LPOP missing",
            "RPOP missing 2",
            "LPOP k 0",
            "LSET k 10 x",
            "LSET missing 0 x",
            "LINSERT k BEFORE nothere x",
            "LINSERT missing BEFORE a x",
            "LREM k 0 nothere",
            "LREM missing 0 a",
            "LTRIM missing 0 1",
            "LMOVE missing d LEFT LEFT",
            "RPOPLPUSH missing d",
            "LMPOP 2 missing missing2 LEFT",
        ],
        "l9",
    );
    s.silent(
        &mut p,
        &[
            "LPUSH str a",
            "RPUSHX str a",
            "LPOP str",
            "LSET str 0 a",
            "LTRIM str 0 1",
            "LMOVE k str LEFT LEFT",
            "LMOVE str k LEFT LEFT",
            "LMPOP 1 str LEFT",
        ],
        "l10",
    );
    // Reads raise nothing.
    s.silent(&mut p, &["LRANGE k 0 -1", "LLEN k", "LINDEX k 0", "LPOS k a"], "l11");
    // Binary keys.
    p.check_args(&[b"RPUSH", b"\xff\x00k", b"\x00"]);
    p.check_args(&[b"RPOP", b"\xff\x00k"]);
    s.run(&mut p, &[], "l12");
}

#[test]
fn list_move_and_multi_pop_events() {
    let mut p = Pair::new();
    p.check(ALL_NEW);
    let mut s = Subs::new(&p);
    // The destination's push (after its `new`) comes first, then the source's pop and `del`.
    s.run(&mut p, &["RPUSH s a b c", "LMOVE s d LEFT RIGHT", "LMOVE s d RIGHT LEFT", "RPOPLPUSH s d"], "m1");
    // Source and destination are one key: push and pop, never `del`.
    s.run(
        &mut p,
        &["RPUSH one x", "LMOVE one one LEFT RIGHT", "RPOPLPUSH one one", "RPUSH one y", "RPOPLPUSH one one"],
        "m2",
    );
    // The non-blocking forms of the blocking commands.
    s.run(
        &mut p,
        &["RPUSH a 1 2 3 4", "BLPOP none a 0", "BRPOP a 0", "BLMOVE a b RIGHT LEFT 0", "BRPOPLPUSH a b 0"],
        "m3",
    );
    s.run(&mut p, &["RPUSH a 1 2 3", "LMPOP 2 none a LEFT", "LMPOP 1 a RIGHT COUNT 5", "RPUSH a 1 2"], "m4");
    s.run(&mut p, &["BLMPOP 0 2 none a RIGHT COUNT 1", "BLMPOP 0 1 a LEFT COUNT 9"], "m5");
    // Inside MULTI: the events are raised when EXEC runs the commands.
    s.run(&mut p, &["MULTI", "RPUSH t a", "LPOP t", "BLPOP t 0", "EXEC"], "m6");
}

/// Sends `line` to the redstart and redis-server connections `a` and `b` without reading.
fn send_both(a: &mut Conn, b: &mut Conn, line: &str) {
    let w = words(line);
    let args: Vec<&[u8]> = w.iter().map(|a| a.as_slice()).collect();
    let e = encode(&args);
    a.send_raw(&e);
    b.send_raw(&e);
}

/// Polls until both servers report `n` blocked clients.
fn wait_blocked(p: &mut Pair, n: usize) {
    let want = format!("blocked_clients:{n}\r\n");
    for _ in 0..500 {
        let (x, y) = p.both("INFO clients");
        if show(&x).contains(&show(want.as_bytes())) && show(&y).contains(&show(want.as_bytes())) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("the servers never reported {want}");
}

#[test]
fn served_blocked_clients_raise_the_pop_events() {
    let mut p = Pair::new();
    p.check(ALL_NEW);
    let mut s = Subs::new(&p);
    let cases: &[(&str, &[&str])] = &[
        ("BLPOP a b 0", &["RPUSH b 1"]),
        ("BLPOP a b 0", &["RPUSH b 1 2"]),
        ("BRPOP a 0", &["RPUSH a 1 2"]),
        ("BLMPOP 0 2 a b LEFT COUNT 2", &["RPUSH b 1 2 3"]),
        ("BLMPOP 0 2 a b RIGHT COUNT 5", &["RPUSH b 1 2 3"]),
        ("BLMOVE a d LEFT RIGHT 0", &["RPUSH a 1"]),
        ("BLMOVE a d LEFT RIGHT 0", &["RPUSH a 1 2"]),
        ("BRPOPLPUSH a d 0", &["RPUSH d x", "RPUSH a 1"]),
        ("BLMOVE a a LEFT RIGHT 0", &["RPUSH a 1"]),
        ("BLPOP a 0", &["MULTI", "RPUSH a 1", "RPUSH a 2", "EXEC"]),
    ];
    for (i, (block, pushes)) in cases.iter().enumerate() {
        p.check("FLUSHALL");
        let (mut a, mut b) = p.conns();
        send_both(&mut a, &mut b, block);
        wait_blocked(&mut p, 1);
        let ev = s.run(&mut p, pushes, &format!("b{i}"));
        let (x, y) = (a.read_reply(), b.read_reply());
        assert_eq!(show(&x), show(&y), "reply to the served {block}");
        // The served pop is part of what was published (not only the push).
        assert!(ev.iter().any(|f| f.contains("pop")), "{block}: no pop event in {ev:?}");
    }
}

#[test]
fn set_events() {
    let mut p = Pair::new();
    p.check(ALL_NEW);
    let mut s = Subs::new(&p);
    s.run(&mut p, &["SADD s a b c", "SADD s a d", "SREM s a zz", "SREM s b c d"], "s1");
    // SPOP's members are random: pop from single-member sets, or everything.
    s.run(&mut p, &["SADD p x", "SPOP p", "SADD p 1 2 3", "SPOP p 3", "SADD p 1 2", "SPOP p 5"], "s2");
    p.check("SADD p 1 2 3");
    s.run(&mut p, &[], "s3");
    let (x, y) = p.both("SPOP p");
    assert_eq!(x.len(), y.len(), "one member popped");
    p.both("SPOP p 1");
    s.run(&mut p, &[], "s4");
    // SMOVE: `srem` (and `del`) on the source, then the destination's `new` and `sadd`; no
    // `sadd` when the destination holds the member already, nothing when source = destination.
    s.run(&mut p, &["SADD a 1 2 3", "SADD b 2", "SMOVE a b 1", "SMOVE a b 2", "SMOVE a c 3"], "s5");
    s.run(&mut p, &["SADD a 1", "SMOVE a a 1", "SMOVE a a 9", "SMOVE a b 9", "SMOVE missing b 1"], "s6");
    // STORE commands: the event on the destination (no `new` when it existed, whatever its
    // type), `del` when an empty result deletes an existing destination, nothing otherwise.
    s.run(&mut p, &["SADD x 1 2 3", "SADD y 2 3 4", "SINTERSTORE d x y", "SINTERSTORE d x y"], "s7");
    s.run(&mut p, &["SUNIONSTORE d x y", "SDIFFSTORE d x y", "SDIFFSTORE d x x", "SDIFFSTORE d x x"], "s8");
    s.run(&mut p, &["SET d v", "SUNIONSTORE d x", "SINTERSTORE e x nothing", "SUNIONSTORE e none"], "s9");
    s.run(&mut p, &["SET d v", "SINTERSTORE d x nothing", "SET d v", "SDIFFSTORE d nothing x"], "s10");
    // No-ops and errors raise nothing.
    p.check("SET str v");
    s.run(&mut p, &[], "s11");
    s.silent(
        &mut p,
        &[
            "SADD x 1",
            "SREM x 9",
            "SREM missing 1",
            "SPOP missing",
            "SPOP missing 2",
            "SPOP x 0",
            "SMOVE x y 9",
            "SADD str a",
            "SREM str a",
            "SPOP str",
            "SMOVE str x 1",
            "SMOVE x str 1",
            "SINTERSTORE d2 x str",
            "SUNIONSTORE d2 str",
            "SISMEMBER x 1",
            "SMEMBERS x",
            "SCARD x",
            "SINTER x y",
            "SINTERCARD 2 x y",
            "SUNION x y",
            "SDIFF x y",
        ],
        "s12",
    );
    // Binary keys and members.
    p.check_args(&[b"SADD", b"\xff\x00k", b"\x00"]);
    p.check_args(&[b"SREM", b"\xff\x00k", b"\x00"]);
    s.run(&mut p, &[], "s13");
}

#[test]
fn class_filtering() {
    let mut p = Pair::new();
    let mut s = Subs::new(&p);
    let script: &[&str] = &[
        "HSET h a 1",
        "HDEL h a",
        "RPUSH l a b",
        "LPOP l 2",
        "SADD s a",
        "SREM s a",
        "SET k v",
        "RPUSH m a",
        "LMOVE m n LEFT LEFT",
        "SADD x 1",
        "SMOVE x y 1",
    ];
    for (i, flags) in ["Kl", "El", "Eh", "Ks", "KEg", "KE$", "Kls", "En", "KEhlsn"].iter().enumerate() {
        p.check("FLUSHALL");
        p.check(&format!("CONFIG SET notify-keyspace-events {flags}"));
        s.run(&mut p, script, &format!("c{i}"));
    }
    // Flags without K or E publish nothing.
    p.check("FLUSHALL");
    p.check("CONFIG SET notify-keyspace-events lsh");
    s.silent(&mut p, script, "none");
}

/// The `flags` and `cmd` fields of each CLIENT LIST line, sorted.
fn flags_and_cmds(list: &[u8]) -> Vec<String> {
    let field = |line: &str, name: &str| line.split(' ').find_map(|f| f.strip_prefix(name)).unwrap_or("?").to_string();
    let mut v: Vec<String> = String::from_utf8_lossy(list)
        .lines()
        .filter(|l| l.starts_with("id="))
        .map(|l| format!("{} {}", field(l, "flags="), field(l, "cmd=")))
        .collect();
    v.sort();
    v
}

#[test]
fn blocked_clients_in_info_and_client_list() {
    let mut p = Pair::new();
    let (mut a, mut b) = p.conns();
    send_both(&mut a, &mut b, "BLPOP q 0");
    wait_blocked(&mut p, 1);
    let (x, y) = p.both("CLIENT LIST");
    let (fx, fy) = (flags_and_cmds(&x), flags_and_cmds(&y));
    assert_eq!(fx, fy, "CLIENT LIST flags and cmd (left: redstart, right: redis-server)");
    assert!(fx.iter().any(|l| l == "b blpop"), "{fx:?}");
    // Served: no longer blocked.
    p.check("RPUSH q v");
    assert_eq!(show(&a.read_reply()), show(&b.read_reply()));
    wait_blocked(&mut p, 0);
    let (x, y) = p.both("CLIENT LIST");
    assert_eq!(flags_and_cmds(&x), flags_and_cmds(&y), "after the serve");
    // Timed out and unblocked clients are no longer counted either.
    send_both(&mut a, &mut b, "BLPOP q 0.05");
    assert_eq!(show(&a.read_reply()), show(&b.read_reply()));
    wait_blocked(&mut p, 0);
    send_both(&mut a, &mut b, "BLPOP q 0");
    wait_blocked(&mut p, 1);
    // A second blocked client.
    let (mut c, mut d) = p.conns();
    send_both(&mut c, &mut d, "BRPOP q2 0");
    wait_blocked(&mut p, 2);
    drop(c);
    drop(d);
    wait_blocked(&mut p, 1);
}
