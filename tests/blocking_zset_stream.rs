//! Blocking sorted-set (BZPOPMIN, BZPOPMAX, BZMPOP) and stream (XREAD / XREADGROUP BLOCK)
//! commands across connections, compared with redis-server: FIFO service, timeouts in both
//! protocols, wake-ups from another connection and from MULTI/EXEC, `$` resolved when blocking,
//! several stream readers served by one XADD, consumer-group state after a blocked read,
//! disconnects and CLIENT UNBLOCK.
//!
//! Each scenario runs the same steps against redstart and redis-server and compares the
//! transcripts of raw replies. Short sleeps only order the steps (a client must be blocked
//! before the next step); nothing asserts on timing. Where Redis 7.2 differs from the 7.0
//! oracle (a blocked XREADGROUP whose key or group goes away), redstart is checked directly.
mod common;
use common::*;
use std::time::Duration;

/// Lets a command sent on another connection reach the server and block.

// ---------------------------------------------------------------------------------------------
// Sorted sets
// ---------------------------------------------------------------------------------------------

#[test]
fn bzpop_waiters_are_served_in_order() {
    compare(|port| {
        let mut waiters: Vec<Conn> = (0..4).map(|_| Conn::connect(port)).collect();
        let cmds = ["BZPOPMIN z 0", "BZPOPMAX other z 0", "BZMPOP 0 2 other z MAX COUNT 2", "BZPOPMIN z 0"];
        for (w, c) in waiters.iter_mut().zip(cmds) {
            send(w, c);
            settle();
        }
        let mut p = Conn::connect(port);
        let mut t = vec![p.run("ZADD z 1 a 2 b 3 c 4 d 5 e")];
        for w in waiters.iter_mut() {
            t.push(w.read_reply());
        }
        t.push(p.run("ZRANGE z 0 -1 WITHSCORES"));
        t.push(p.run("EXISTS z other"));
        t
    });
}

#[test]
fn bzpop_immediate_replies_errors_and_timeouts() {
    compare(|port| {
        let mut c = Conn::connect(port);
        let mut t = vec![
            c.run("ZADD z 1 a 2.5 b 3 c"),
            c.run("BZPOPMIN z 0"),
            c.run("BZPOPMAX nokey z 0"),
            c.run("BZMPOP 0 2 nokey z MIN COUNT 5"),
            c.run("EXISTS z"),
            c.run("BZPOPMIN z 0.05"),
            c.run("BZPOPMAX z 0.01"),
            c.run("BZMPOP 0.05 2 a b MIN"),
            c.run("BZMPOP 0.05 1 a MAX COUNT 3"),
            c.run("BZPOPMIN z -1"),
            c.run("BZPOPMIN z x"),
            c.run("BZPOPMIN z"),
            c.run("BZMPOP 0 0 z MIN"),
            c.run("BZMPOP 0 1 z bogus"),
            c.run("BZMPOP 0 1 z MIN COUNT 0"),
            c.run("BZMPOP 0 1 z MIN COUNT 1 COUNT 1"),
            c.run("BZMPOP 0 5 z MIN"),
            c.run("BZMPOP x 1 z MIN"),
            c.run("BZMPOP -1 1 z MIN"),
            c.run("SET s x"),
            c.run("BZPOPMIN nokey s 0"),
            c.run("BZMPOP 0 2 nokey s MIN"),
            c.run("COMMAND GETKEYS BZMPOP 0 2 k1 k2 MIN"),
            c.run("COMMAND GETKEYS BZPOPMIN k1 k2 0"),
        ];
        c.run("HELLO 3");
        t.push(c.run("BZPOPMIN z 0.05"));
        t.push(c.run("BZMPOP 0.05 1 z MIN"));
        t.push(c.run("ZADD z 1 a 2 b 3 c"));
        t.push(c.run("BZPOPMAX z 0"));
        t.push(c.run("BZMPOP 0 1 z MIN COUNT 5"));
        t
    });
}

#[test]
fn bzpop_woken_by_zadd_zincrby_and_stores() {
    compare(|port| {
        let mut w1 = Conn::connect(port);
        let mut w2 = Conn::connect(port);
        let mut w3 = Conn::connect(port);
        w3.run("HELLO 3");
        let mut p = Conn::connect(port);
        send(&mut w1, "BZPOPMIN z1 0");
        send(&mut w2, "BZPOPMAX dst 0");
        send(&mut w3, "BZMPOP 0 1 z3 MIN COUNT 10");
        settle();
        let mut t = vec![p.run("ZINCRBY z1 2.5 m")];
        t.push(w1.read_reply());
        t.push(p.run("ZADD src 1 a 2 b"));
        t.push(p.run("ZUNIONSTORE dst 1 src"));
        t.push(w2.read_reply());
        t.push(p.run("ZADD z3 3 c 1 a 2 b"));
        t.push(w3.read_reply());
        t.push(p.run("ZRANGE dst 0 -1 WITHSCORES"));
        t.push(p.run("EXISTS z1 z3"));
        t
    });
}

#[test]
fn bzpop_woken_after_exec_and_not_inside_multi() {
    compare(|port| {
        let mut w = Conn::connect(port);
        let mut p = Conn::connect(port);
        send(&mut w, "BZPOPMIN z 0");
        settle();
        let mut t = vec![p.run("MULTI"), p.run("ZADD z 1 a"), p.run("ZPOPMIN z"), p.run("ZADD z 5 b 6 c")];
        t.push(p.run("EXEC"));
        t.push(w.read_reply());
        t.push(p.run("ZRANGE z 0 -1 WITHSCORES"));
        // Inside MULTI a blocking pop does not block.
        t.push(w.run("MULTI"));
        t.push(w.run("BZPOPMIN nokey 0"));
        t.push(w.run("BZMPOP 0 1 nokey MAX"));
        t.push(w.run("BZPOPMAX z 0"));
        t.push(w.run("EXEC"));
        t
    });
}

#[test]
fn zset_waiter_ignores_other_types_and_disconnects_leave_nothing() {
    compare(|port| {
        {
            let mut gone = Conn::connect(port);
            send(&mut gone, "BZPOPMIN z 0");
            settle();
        }
        settle();
        let mut w = Conn::connect(port);
        let mut p = Conn::connect(port);
        send(&mut w, "BZPOPMAX z 0");
        settle();
        // A list at the key leaves the zset waiter waiting.
        let mut t = vec![p.run("RPUSH z x"), p.run("DEL z"), p.run("ZADD z 1 a 2 b")];
        t.push(w.read_reply());
        t.push(p.run("ZRANGE z 0 -1 WITHSCORES"));
        let id = String::from_utf8(w.run("CLIENT ID")).unwrap();
        let id = id.trim_start_matches(':').trim().to_string();
        send(&mut w, "BZPOPMIN nokey 0");
        settle();
        t.push(p.run(&format!("CLIENT UNBLOCK {id}")));
        t.push(w.read_reply());
        t.push(p.run("ZADD nokey 1 x"));
        t.push(p.run("ZCARD nokey"));
        t
    });
}

// ---------------------------------------------------------------------------------------------
// Streams: XREAD
// ---------------------------------------------------------------------------------------------

#[test]
fn xread_block_woken_by_xadd_with_dollar_resolved_at_block_time() {
    compare(|port| {
        let mut w = Conn::connect(port);
        let mut p = Conn::connect(port);
        let mut t = vec![p.run("XADD s 1-1 a 1")];
        send(&mut w, "XREAD BLOCK 0 STREAMS s $");
        settle();
        t.push(p.run("XADD s 2-1 b 2"));
        t.push(w.read_reply());
        // `$` on a missing key waits for its first entry.
        send(&mut w, "XREAD BLOCK 0 STREAMS nokey $");
        settle();
        t.push(p.run("XADD nokey 5-5 c 3"));
        t.push(w.read_reply());
        // An explicit ID ahead of the stream: entries below it keep the reader waiting.
        send(&mut w, "XREAD BLOCK 0 STREAMS s 100-0");
        settle();
        t.push(p.run("XADD s 50-0 d 4"));
        t.push(p.run("XADD s 150-0 e 5"));
        t.push(w.read_reply());
        // Pipelined after the blocked read, a command waits for it.
        send(&mut w, "XREAD BLOCK 0 STREAMS s $");
        send(&mut w, "PING after");
        settle();
        t.push(p.run("XADD s 200-0 f 6"));
        t.push(w.read_reply());
        t.push(w.read_reply());
        t
    });
}

#[test]
fn xread_one_xadd_serves_every_blocked_reader() {
    compare(|port| {
        let mut readers: Vec<Conn> = (0..4).map(|_| Conn::connect(port)).collect();
        readers[3].run("HELLO 3");
        let mut p = Conn::connect(port);
        p.run("XADD s 1-1 a 1");
        let cmds = [
            "XREAD BLOCK 0 STREAMS s $",
            "XREAD COUNT 1 BLOCK 0 STREAMS s 1-1",
            "XREAD BLOCK 0 STREAMS other s 0 $",
            "XREAD BLOCK 0 STREAMS s other $ $",
        ];
        for (r, c) in readers.iter_mut().zip(cmds) {
            send(r, c);
            settle();
        }
        let mut t = vec![p.run("MULTI"), p.run("XADD s 2-1 b 2"), p.run("XADD s 3-1 c 3"), p.run("EXEC")];
        for r in readers.iter_mut() {
            t.push(r.read_reply());
        }
        // A second XADD to the other key serves a new reader on it only.
        send(&mut readers[0], "XREAD BLOCK 0 STREAMS s other $ $");
        settle();
        t.push(p.run("XADD other 9-9 z 26"));
        t.push(readers[0].read_reply());
        t.push(p.run("XLEN s"));
        t
    });
}

#[test]
fn xread_timeouts_and_multi() {
    compare(|port| {
        let mut c = Conn::connect(port);
        let mut t = vec![
            c.run("XREAD BLOCK 50 STREAMS s $"),
            c.run("XADD s 1-1 a 1"),
            c.run("XREAD BLOCK 50 STREAMS s $"),
            c.run("XREAD BLOCK 50 STREAMS s 1-1"),
            c.run("XGROUP CREATE s g $"),
            c.run("XREADGROUP GROUP g c BLOCK 50 STREAMS s >"),
            c.run("XREAD BLOCK 10 COUNT 2 STREAMS s a $ $"),
        ];
        c.run("HELLO 3");
        t.push(c.run("XREAD BLOCK 50 STREAMS s $"));
        t.push(c.run("XREADGROUP GROUP g c BLOCK 50 STREAMS s >"));
        t.push(c.run("MULTI"));
        t.push(c.run("XREAD BLOCK 0 STREAMS s $"));
        t.push(c.run("XREADGROUP GROUP g c BLOCK 0 STREAMS s >"));
        t.push(c.run("EXEC"));
        t.push(c.run("XINFO GROUPS s"));
        t
    });
}

// ---------------------------------------------------------------------------------------------
// Streams: XREADGROUP
// ---------------------------------------------------------------------------------------------

#[test]
fn xreadgroup_block_served_with_new_entries_and_pel() {
    compare(|port| {
        let mut alice = Conn::connect(port);
        let mut bob = Conn::connect(port);
        let mut carol = Conn::connect(port);
        let mut p = Conn::connect(port);
        let mut t = vec![p.run("XGROUP CREATE s g $ MKSTREAM"), p.run("XGROUP CREATE s g2 $")];
        send(&mut alice, "XREADGROUP GROUP g alice BLOCK 0 STREAMS s >");
        settle();
        send(&mut bob, "XREADGROUP GROUP g bob COUNT 1 NOACK BLOCK 0 STREAMS s >");
        settle();
        send(&mut carol, "XREADGROUP GROUP g2 carol BLOCK 0 STREAMS s >");
        settle();
        // One entry: alice (first in g) and carol (g2) get it; bob keeps waiting.
        t.push(p.run("XADD s 1-1 a 1"));
        t.push(alice.read_reply());
        t.push(carol.read_reply());
        t.push(p.run("XADD s 2-1 b 2"));
        t.push(bob.read_reply());
        t.push(p.run("XPENDING s g"));
        t.push(p.run("XPENDING s g2"));
        t.push(p.run("XINFO GROUPS s"));
        t.push(alice.run("XREADGROUP GROUP g alice STREAMS s 0"));
        t.push(p.run("XACK s g 1-1"));
        t.push(p.run("XPENDING s g"));
        t
    });
}

/// A blocked XREADGROUP whose group is destroyed gets NOGROUP. Redis 7.2 re-runs the command,
/// so the text is the command's own NOGROUP error; 7.0 (the oracle) answers `-NOGROUP the
/// consumer group this client was blocked on no longer exists`. Likewise, a deleted key gives
/// 7.2's NOGROUP (7.0: `-UNBLOCKED the stream key no longer exists`) and a key overwritten by
/// another type gives WRONGTYPE. Asserted on redstart directly.
#[test]
fn xreadgroup_group_destroyed_or_key_deleted_follows_redis_7_2() {
    let ours = start_redstart(&[]);
    let mut w = Conn::connect(ours.port);
    let mut p = Conn::connect(ours.port);
    let nogroup = b"-NOGROUP No such key 's' or consumer group 'g' in XREADGROUP with GROUP option\r\n".to_vec();

    assert_eq!(p.run("XGROUP CREATE s g $ MKSTREAM"), b"+OK\r\n");
    send(&mut w, "XREADGROUP GROUP g c BLOCK 0 STREAMS s >");
    settle();
    assert_eq!(p.run("XGROUP DESTROY s g"), b":1\r\n");
    assert_eq!(w.read_reply(), nogroup);

    assert_eq!(p.run("XGROUP CREATE s g $"), b"+OK\r\n");
    send(&mut w, "XREADGROUP GROUP g c BLOCK 0 STREAMS s >");
    settle();
    assert_eq!(p.run("DEL s"), b":1\r\n");
    assert_eq!(w.read_reply(), nogroup);

    assert_eq!(p.run("XGROUP CREATE s g $ MKSTREAM"), b"+OK\r\n");
    send(&mut w, "XREADGROUP GROUP g c BLOCK 0 STREAMS s >");
    settle();
    assert_eq!(p.run("SET s x"), b"+OK\r\n");
    assert_eq!(w.read_reply(), b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n".to_vec());

    // Another group going away, or other writes, leave the reader waiting.
    assert_eq!(p.run("DEL s"), b":1\r\n");
    assert_eq!(p.run("XGROUP CREATE s g $ MKSTREAM"), b"+OK\r\n");
    assert_eq!(p.run("XGROUP CREATE s other $"), b"+OK\r\n");
    send(&mut w, "XREADGROUP GROUP g c BLOCK 0 STREAMS s >");
    settle();
    assert_eq!(p.run("XGROUP DESTROY s other"), b":1\r\n");
    assert_eq!(p.run("XGROUP SETID s g 0"), b"+OK\r\n");
    assert!(w.try_read_reply(Duration::from_millis(200)).is_none());
    assert_eq!(p.run("XADD s 1-1 f v"), b"$3\r\n1-1\r\n");
    assert_eq!(
        w.read_reply(),
        b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n".to_vec()
    );
    assert_eq!(p.run("INFO clients").windows(18).filter(|w| w == b"blocked_clients:0\r").count(), 1);

    // FLUSHALL, FLUSHDB and SWAPDB take the key away too: 7.2's NOGROUP (7.0 wakes the reader
    // with `-UNBLOCKED the stream key no longer exists`). Readers used to wait forever.
    for flush in ["FLUSHALL", "FLUSHDB ASYNC", "SWAPDB 0 1"] {
        assert_eq!(p.run("FLUSHALL"), b"+OK\r\n");
        assert_eq!(p.run("XGROUP CREATE s g $ MKSTREAM"), b"+OK\r\n");
        send(&mut w, "XREADGROUP GROUP g c BLOCK 0 STREAMS s >");
        settle();
        assert_eq!(p.run(flush), b"+OK\r\n");
        assert_eq!(w.read_reply(), nogroup, "after {flush}");
    }
}

/// SWAPDB serves clients blocked on a key that the swap brings into their database, and
/// leaves the others waiting (as both 7.0 and 7.2 do).
#[test]
fn swapdb_serves_waiters_whose_key_arrives() {
    compare(|port| {
        let mut w = Conn::connect(port);
        let mut z = Conn::connect(port);
        let mut p = Conn::connect(port);
        p.run("FLUSHALL");
        p.run("SELECT 1");
        p.run("RPUSH k x");
        p.run("ZADD z 1 m");
        p.run("SELECT 0");
        send(&mut w, "BLPOP k 0");
        send(&mut z, "BLPOP z 0");
        settle();
        let mut out = vec![p.run("SWAPDB 0 1"), w.read_reply()];
        // `z` holds a sorted set now: the list waiter keeps waiting.
        assert!(z.try_read_reply(Duration::from_millis(200)).is_none());
        out.push(p.run("LPUSH z y"));
        out.push(p.run("TYPE z"));
        out
    });
}

/// What both versions agree on: the reader is woken with an error when its group goes away
/// while blocked, and the stream and remaining groups are intact.
#[test]
fn xreadgroup_group_destroyed_both_versions_error() {
    compare(|port| {
        let mut w = Conn::connect(port);
        let mut p = Conn::connect(port);
        let mut t = vec![p.run("XGROUP CREATE s g $ MKSTREAM"), p.run("XGROUP CREATE s g2 $")];
        send(&mut w, "XREADGROUP GROUP g c BLOCK 0 STREAMS s >");
        settle();
        t.push(p.run("XGROUP DESTROY s g"));
        let r = w.read_reply();
        t.push(r[..8].to_vec()); // "-NOGROUP": the rest of the text differs between 7.0 and 7.2.
        t.push(p.run("XINFO GROUPS s"));
        t.push(w.run("PING"));
        t
    });
}

#[test]
fn stream_waiters_disconnect_or_unblock_leave_nothing() {
    compare(|port| {
        let mut p = Conn::connect(port);
        let mut t = vec![p.run("XGROUP CREATE s g $ MKSTREAM")];
        {
            let mut g1 = Conn::connect(port);
            let mut g2 = Conn::connect(port);
            send(&mut g1, "XREADGROUP GROUP g gone BLOCK 0 STREAMS s >");
            send(&mut g2, "XREAD BLOCK 0 STREAMS s $");
            settle();
        }
        settle();
        let mut w = Conn::connect(port);
        send(&mut w, "XREADGROUP GROUP g stays BLOCK 0 STREAMS s >");
        settle();
        t.push(p.run("XADD s 1-1 a 1"));
        t.push(w.read_reply());
        t.push(p.run("XPENDING s g"));
        let id = String::from_utf8(w.run("CLIENT ID")).unwrap();
        let id = id.trim_start_matches(':').trim().to_string();
        send(&mut w, "XREAD BLOCK 0 STREAMS s $");
        settle();
        t.push(p.run(&format!("CLIENT UNBLOCK {id}")));
        t.push(w.read_reply());
        send(&mut w, "XREADGROUP GROUP g stays BLOCK 0 STREAMS s >");
        settle();
        t.push(p.run(&format!("CLIENT UNBLOCK {id} ERROR")));
        t.push(w.read_reply());
        t.push(p.run("XADD s 2-1 b 2"));
        t.push(p.run("XPENDING s g"));
        t.push(p.run("XLEN s"));
        t
    });
}

/// The `name=value` field `name` of an INFO or CLIENT LIST reply.
fn field(reply: &[u8], name: &str) -> Vec<u8> {
    let s = String::from_utf8_lossy(reply);
    let v = s
        .split(['\r', '\n', ' '])
        .find_map(|f| f.strip_prefix(name).and_then(|r| r.strip_prefix([':', '='])))
        .unwrap_or("<missing>");
    format!("{name}={v}").into_bytes()
}

#[test]
fn info_blocked_clients_and_client_list_flag() {
    compare(|port| {
        let mut w1 = Conn::connect(port);
        let mut w2 = Conn::connect(port);
        let mut p = Conn::connect(port);
        let id = String::from_utf8(w1.run("CLIENT ID")).unwrap();
        let id = id.trim_start_matches(':').trim().to_string();
        let mut t = vec![field(&p.run("INFO clients"), "blocked_clients")];
        p.run("XADD s 1-1 a 1");
        send(&mut w1, "BZPOPMIN z 0");
        send(&mut w2, "XREAD BLOCK 0 STREAMS s $");
        settle();
        t.push(field(&p.run("INFO clients"), "blocked_clients"));
        t.push(field(&p.run(&format!("CLIENT LIST ID {id}")), "flags"));
        t.push(p.run("ZADD z 1 a"));
        t.push(w1.read_reply());
        t.push(field(&p.run("INFO clients"), "blocked_clients"));
        t.push(field(&p.run(&format!("CLIENT LIST ID {id}")), "flags"));
        t.push(p.run("XADD s 2-2 b 2"));
        t.push(w2.read_reply());
        t.push(field(&p.run("INFO clients"), "blocked_clients"));
        assert_eq!(t[1], b"blocked_clients=2");
        assert_eq!(t[2], b"flags=b");
        assert_eq!(t[9], b"blocked_clients=0");
        assert_eq!(t[6], b"flags=N");
        t
    });
}

#[test]
fn served_waiters_raise_their_notifications() {
    compare(|port| {
        let mut p = Conn::connect(port);
        p.run("CONFIG SET notify-keyspace-events KEA");
        let mut sub = Conn::connect(port);
        sub.run("PSUBSCRIBE __keyevent@0__:*");
        let mut w1 = Conn::connect(port);
        let mut w2 = Conn::connect(port);
        let mut w3 = Conn::connect(port);
        p.run("XGROUP CREATE s g $ MKSTREAM");
        send(&mut w1, "BZMPOP 0 1 z MAX COUNT 5");
        send(&mut w2, "XREADGROUP GROUP g newbie BLOCK 0 STREAMS s >");
        send(&mut w3, "BZPOPMIN z2 0");
        settle();
        let mut t = vec![p.run("ZADD z 1 a 2 b"), w1.read_reply()];
        t.push(p.run("XADD s 1-1 f v"));
        t.push(w2.read_reply());
        t.push(p.run("MULTI"));
        t.push(p.run("ZADD z2 1 a 2 b"));
        t.push(p.run("ZINCRBY z2 5 a"));
        t.push(p.run("EXEC"));
        t.push(w3.read_reply());
        p.run("PUBLISH __keyevent@0__:stop end");
        loop {
            let f = sub.read_reply();
            let end = f.ends_with(b"$3\r\nend\r\n");
            t.push(f);
            if end {
                break;
            }
        }
        t
    });
}

#[test]
fn xread_block_timeout_argument() {
    compare(|port| {
        let mut c = Conn::connect(port);
        ["1.5", "-0", "+5", " 5", "x", "-1", "9223372036854775808"]
            .iter()
            .map(|t| c.cmd(&[b"XREAD", b"BLOCK", t.as_bytes(), b"STREAMS", b"s", b"0-0"]))
            .collect()
    });
    // Redis 7.2: a deadline beyond the 64-bit millisecond range is an error (7.0 wrapped it).
    let ours = start_redstart(&[]);
    let mut c = Conn::connect(ours.port);
    assert_eq!(c.run("XREAD BLOCK 9223372036854775807 STREAMS s 0-0"), b"-ERR timeout is out of range\r\n");
    assert_eq!(
        c.run("XREADGROUP GROUP g c BLOCK 9223372036854775000 STREAMS s >"),
        b"-ERR timeout is out of range\r\n"
    );
    assert_eq!(c.run("BZPOPMIN z 9223372036854775"), b"-ERR timeout is out of range\r\n");
}

fn flatten(v: &redis::Value, out: &mut Vec<String>) {
    match v {
        redis::Value::BulkString(b) => out.push(String::from_utf8_lossy(b).into_owned()),
        redis::Value::Array(items) => items.iter().for_each(|i| flatten(i, out)),
        redis::Value::Map(pairs) => pairs.iter().for_each(|(k, v)| {
            flatten(k, out);
            flatten(v, out);
        }),
        _ => {}
    }
}

/// Consumers of one group blocked in XREADGROUP while a producer appends: every entry is
/// delivered to exactly one consumer, and the group's PEL holds them all.
#[test]
fn consumer_group_work_queue_delivers_each_entry_once() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    const N: usize = 300;
    let ours = start_redstart(&[]);
    let url = format!("redis://127.0.0.1:{}/", ours.port);
    let mut con = redis::Client::open(url.as_str()).unwrap().get_connection().unwrap();
    let _: () =
        redis::cmd("XGROUP").arg("CREATE").arg("jobs").arg("g").arg("$").arg("MKSTREAM").query(&mut con).unwrap();
    let done = Arc::new(AtomicUsize::new(0));
    let consumers: Vec<_> = (0..4)
        .map(|i| {
            let url = url.clone();
            let done = done.clone();
            std::thread::spawn(move || {
                let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();
                let mut got = Vec::new();
                while done.load(Ordering::SeqCst) < N {
                    let v: redis::Value = redis::cmd("XREADGROUP")
                        .arg("GROUP")
                        .arg("g")
                        .arg(format!("c{i}"))
                        .arg("COUNT")
                        .arg(7)
                        .arg("BLOCK")
                        .arg(100)
                        .arg("STREAMS")
                        .arg("jobs")
                        .arg(">")
                        .query(&mut con)
                        .unwrap();
                    let mut f = Vec::new();
                    flatten(&v, &mut f);
                    // [key, id, "job", n, id, "job", n, ...]
                    for chunk in f[f.len().min(1)..].chunks(3) {
                        got.push(chunk[2].parse::<usize>().unwrap());
                        done.fetch_add(1, Ordering::SeqCst);
                    }
                }
                got
            })
        })
        .collect();
    for n in 0..N {
        let _: String = redis::cmd("XADD").arg("jobs").arg("*").arg("job").arg(n).query(&mut con).unwrap();
    }
    let mut all: Vec<usize> = consumers.into_iter().flat_map(|h| h.join().unwrap()).collect();
    all.sort_unstable();
    assert_eq!(all, (0..N).collect::<Vec<_>>());
    let pending: redis::Value = redis::cmd("XPENDING").arg("jobs").arg("g").query(&mut con).unwrap();
    let redis::Value::Array(items) = pending else { panic!("{pending:?}") };
    assert_eq!(items[0], redis::Value::Int(N as i64));
    let blocked: String = redis::cmd("INFO").arg("clients").query(&mut con).unwrap();
    assert!(blocked.contains("blocked_clients:0\r\n"), "{blocked}");
}
