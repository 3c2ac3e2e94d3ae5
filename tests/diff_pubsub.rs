//! Differential tests for pub/sub and keyspace notifications: every frame byte for byte against
//! redis-server, in RESP2 and RESP3.

mod common;
use common::*;
use std::time::Duration;

/// One connection to each server, driven in lockstep.
struct Two {
    a: Conn,
    b: Conn,
}

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).replace("\r\n", "\\r\\n")
}

impl Two {
    fn new(p: &Pair) -> Two {
        let (a, b) = p.conns();
        Two { a, b }
    }

    fn send(&mut self, args: &[&[u8]]) {
        let e = encode(args);
        self.a.send_raw(&e);
        self.b.send_raw(&e);
    }

    /// Reads one frame from each and asserts they are equal.
    fn same(&mut self, what: &str) -> Vec<u8> {
        let x = self.a.read_reply();
        let y = self.b.read_reply();
        assert_eq!(show(&x), show(&y), "{what} (left: redstart, right: redis-server)");
        x
    }

    /// Sends a command and compares `frames` frames of output.
    fn check_n(&mut self, line: &str, frames: usize) -> Vec<u8> {
        let w = words(line);
        let args: Vec<&[u8]> = w.iter().map(|a| a.as_slice()).collect();
        self.send(&args);
        let mut last = Vec::new();
        for i in 0..frames {
            last = self.same(&format!("frame {i} of {line:?}"));
        }
        last
    }

    fn check(&mut self, line: &str) -> Vec<u8> {
        self.check_n(line, 1)
    }

    fn check_args(&mut self, args: &[&[u8]]) -> Vec<u8> {
        self.send(args);
        self.same(&format!("{:?}", args.iter().map(|a| show(a)).collect::<Vec<_>>()))
    }

    fn resp3(&mut self) {
        let x = self.a.run("HELLO 3");
        let y = self.b.run("HELLO 3");
        assert!(x.starts_with(b"%") && y.starts_with(b"%"));
    }

    /// Reads frames from both until `stop` (a message payload) arrives; compares the sequences.
    fn same_until(&mut self, stop: &[u8], what: &str) -> Vec<Vec<u8>> {
        let read = |c: &mut Conn| {
            let mut v = Vec::new();
            loop {
                let f = c.read_reply();
                let done = f.ends_with(&[stop, b"\r\n"].concat());
                v.push(f);
                if done || v.len() > 200 {
                    return v;
                }
            }
        };
        let x = read(&mut self.a);
        let y = read(&mut self.b);
        let sx: Vec<String> = x.iter().map(|f| show(f)).collect();
        let sy: Vec<String> = y.iter().map(|f| show(f)).collect();
        assert_eq!(sx, sy, "{what} (left: redstart, right: redis-server)");
        x
    }
}

#[test]
fn subscribe_frames_and_subscribed_mode_resp2() {
    let mut p = Pair::new();
    let mut s = Two::new(&p);
    s.check_n("SUBSCRIBE a b", 2);
    s.check("SUBSCRIBE a");
    s.check_n("PSUBSCRIBE h* x?", 2);
    s.check_n("PSUBSCRIBE h* q[ab]", 2);
    s.check("PING");
    s.check("PING hello");
    s.check("PING a b");
    // Commands outside the subscription set are refused with Redis's text.
    for line in ["GET x", "SET x y", "PUBLISH a m", "CLIENT LIST", "CONFIG GET port", "MULTI", "ECHO e"] {
        s.check(line);
    }
    s.check("SUBSCRIBE");
    s.check("FOO bar");
    // Messages from another connection, channel and pattern.
    p.check("PUBLISH a hello");
    s.same("message on a");
    p.check("PUBLISH hat hi");
    s.same("pmessage h*");
    p.check("PUBLISH qa x");
    s.same("pmessage q[ab]");
    p.check("PUBLISH nobody x");
    p.check_args(&[b"PUBLISH", b"b", b"\x00bin\xff\r\n"]);
    s.same("binary message");
    p.check("PUBSUB NUMPAT");
    p.check("PUBSUB NUMSUB a b c");
    p.check("PUBSUB CHANNELS a");
    p.check("PUBSUB CHANNELS [ab]x");
    s.check("UNSUBSCRIBE a zz");
    s.check_n("PUNSUBSCRIBE h* nope", 2);
    s.check_n("PUNSUBSCRIBE x? q[ab]", 2);
    s.check("PUNSUBSCRIBE");
    // One channel left: the no-argument form is deterministic.
    s.check("UNSUBSCRIBE");
    s.check("UNSUBSCRIBE");
    s.check("SUNSUBSCRIBE");
    // Not subscribed any more: ordinary commands work again.
    s.check("PING");
    s.check("GET x");
    p.check("PUBSUB NUMSUB a b");
    p.check("PUBSUB NUMPAT");
}

#[test]
fn resp3_pushes_interleave_with_replies() {
    let mut p = Pair::new();
    let mut s = Two::new(&p);
    s.resp3();
    s.check("UNSUBSCRIBE");
    s.check("PUNSUBSCRIBE");
    s.check("SUBSCRIBE a");
    // Any command is allowed; PING is the ordinary PONG.
    s.check("PING");
    s.check("SET k v");
    s.check("GET k");
    // Publishing to itself: the push comes before the reply.
    s.check_n("PUBLISH a self", 2);
    s.check("PSUBSCRIBE *");
    s.check_n("PUBLISH a two", 3);
    p.check("PUBLISH a other");
    s.same("message");
    s.same("pmessage");
    s.check("SSUBSCRIBE sh");
    s.check_n("SPUBLISH sh m", 2);
    s.check_n("UNSUBSCRIBE a b", 2);
    s.check("PUNSUBSCRIBE");
    s.check("SUNSUBSCRIBE sh");
    s.check("SUNSUBSCRIBE");
}

#[test]
fn shard_channels() {
    let mut p = Pair::new();
    let mut s = Two::new(&p);
    s.check_n("SSUBSCRIBE s1 s2 s1", 3);
    s.check("SUBSCRIBE c");
    s.check("GET x");
    p.check("SPUBLISH s1 hello");
    s.same("smessage");
    // PUBLISH and SPUBLISH are separate namespaces.
    p.check("PUBLISH s1 x");
    p.check("SPUBLISH c x");
    p.check("SPUBLISH nobody x");
    p.check("PUBSUB SHARDNUMSUB s1 s2 s3");
    p.check("PUBSUB SHARDNUMSUB");
    p.check("PUBSUB SHARDCHANNELS s1");
    p.check("PUBSUB SHARDCHANNELS x*");
    p.check("PUBSUB NUMSUB s1 c");
    s.check("SUNSUBSCRIBE s1");
    s.check("SUNSUBSCRIBE s2");
    s.check("SUNSUBSCRIBE");
    s.check("UNSUBSCRIBE");
    p.check("PUBSUB SHARDCHANNELS");
    p.check("SPUBLISH");
    p.check("SPUBLISH a");
    p.check("SSUBSCRIBE");
}

#[test]
fn pubsub_introspection_and_errors() {
    let mut p = Pair::new();
    p.check("PUBSUB CHANNELS");
    p.check("PUBSUB NUMPAT");
    p.check("PUBSUB NUMSUB");
    p.check("PUBSUB NUMSUB x");
    p.check("PUBSUB CHANNELS a b");
    p.check("PUBSUB SHARDCHANNELS a b");
    p.check("PUBSUB NUMPAT x");
    p.check("PUBSUB FOO");
    p.check("PUBSUB");
    p.check("PUBLISH");
    p.check("PUBLISH a");
    p.check("PUBLISH a b c");
    p.check("PUBLISH a b");
    p.check("SUBSCRIBE");
    p.check("PSUBSCRIBE");
    let mut s = Two::new(&p);
    s.check("SUBSCRIBE only");
    p.check("PUBSUB CHANNELS");
    p.check("PUBSUB CHANNELS o*");
    p.check("PUBSUB CHANNELS x*");
    p.resp3();
    p.check("PUBSUB NUMSUB only x");
    p.check("PUBSUB CHANNELS");
    // HELP is redstart's own wording: an array of status lines naming every subcommand.
    let (help, theirs) = p.both("PUBSUB HELP");
    assert!(theirs.starts_with(b"*"));
    let text = String::from_utf8_lossy(&help);
    assert!(help.starts_with(b"*"));
    for sub in ["CHANNELS", "NUMPAT", "NUMSUB", "SHARDCHANNELS", "SHARDNUMSUB", "HELP"] {
        assert!(text.contains(&format!("+{sub}")), "{sub} in {text}");
    }
}

#[test]
fn reset_quit_and_kill_drop_subscriptions() {
    let mut p = Pair::new();
    let mut s = Two::new(&p);
    s.check_n("SUBSCRIBE a b", 2);
    s.check("PSUBSCRIBE p*");
    s.check("SSUBSCRIBE sh");
    // CLIENT LIST shows the counts and the P flag.
    let list = String::from_utf8(p.a.run("CLIENT LIST")).unwrap();
    assert!(list.contains("flags=P db=0 sub=2 psub=1 ssub=1"), "{list}");
    let pubsub_only = String::from_utf8(p.a.run("CLIENT LIST TYPE pubsub")).unwrap();
    assert_eq!(pubsub_only.matches("id=").count(), 1, "{pubsub_only}");
    s.check("RESET");
    s.check("GET x");
    p.check("PUBSUB NUMSUB a b");
    p.check("PUBSUB NUMPAT");
    p.check("PUBSUB SHARDNUMSUB sh");
    let info = String::from_utf8(p.a.run("INFO stats")).unwrap();
    assert!(info.contains("pubsub_channels:0\r\npubsub_patterns:0\r\npubsubshard_channels:0"), "{info}");

    // QUIT in subscribed mode: +OK, then the connection closes and the subscription goes.
    let mut q = Two::new(&p);
    q.check("SUBSCRIBE gone");
    let info = String::from_utf8(p.a.run("INFO stats")).unwrap();
    assert!(info.contains("pubsub_channels:1\r\n"), "{info}");
    q.check("QUIT");
    assert!(q.a.is_closed(Duration::from_secs(5)) && q.b.is_closed(Duration::from_secs(5)));
    wait_for(&mut p, "PUBSUB NUMSUB gone", ":0\r\n");

    // CLIENT KILL TYPE pubsub closes subscribers only.
    let mut k = Two::new(&p);
    k.check("PSUBSCRIBE k*");
    p.check("CLIENT KILL TYPE pubsub");
    assert!(k.a.is_closed(Duration::from_secs(5)) && k.b.is_closed(Duration::from_secs(5)));
    wait_for(&mut p, "PUBSUB NUMPAT", ":0\r\n");
    p.check("PUBSUB NUMPAT");
    p.check("PING");
}

/// Polls a command on both servers until its reply contains `want` (cleanup after a close is
/// asynchronous on both).
fn wait_for(p: &mut Pair, line: &str, want: &str) {
    for _ in 0..200 {
        let (x, y) = p.both(line);
        if show(&x).contains(&show(want.as_bytes())) && show(&y).contains(&show(want.as_bytes())) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("{line} never answered {want}");
}

/// Runs `lines` on the main connections and compares the notification frames a subscriber to
/// every keyspace and keyevent channel received, in order.
fn notifications(p: &mut Pair, s: &mut Two, lines: &[&str], tag: &str) {
    for l in lines {
        p.check(l);
    }
    p.check(&format!("PUBLISH stop {tag}"));
    s.same_until(tag.as_bytes(), &format!("notifications for {lines:?}"));
}

#[test]
fn keyspace_notifications_string_and_generic() {
    let mut p = Pair::new();
    p.check("CONFIG SET notify-keyspace-events KEA");
    p.check("CONFIG GET notify-keyspace-events");
    let mut s = Two::new(&p);
    s.check("PSUBSCRIBE __key*__:*");
    s.check("SUBSCRIBE stop");
    let groups: &[&[&str]] = &[
        &["SET k v", "SET k v EX 100", "SET k w KEEPTTL", "SET k v NX", "SET k2 v XX", "SET k v GET"],
        &["SETNX n 1", "SETNX n 2", "SETEX se 100 v", "PSETEX pse 100000 v"],
        &["MSET m1 a m2 b", "MSETNX m1 a m3 c", "MSETNX m4 a m5 b", "GETSET m1 z"],
        &["GETDEL m2", "GETDEL m2", "GETEX m1 EX 100", "GETEX m1 PERSIST", "GETEX m1 PERSIST", "GETEX m1 EXAT 1"],
        &["APPEND ap x", "APPEND ap yz", "SETRANGE sr 2 ab", "SETRANGE sr 1 c"],
        &["INCR i", "DECR i", "INCRBY i 5", "DECRBY i 2", "INCRBYFLOAT f 1.5", "INCR ap"],
        &["DEL i f nothing", "UNLINK ap sr", "SET r v", "RENAME r r2", "RENAMENX r2 n", "RENAME r2 r2"],
        &["SET mv v", "MOVE mv 1", "SET cp v EX 100", "COPY cp cp2", "COPY cp cp2", "COPY cp cp2 DB 2 REPLACE"],
        &["EXPIRE cp 100", "PEXPIRE cp 100000 NX", "EXPIRE cp 50 GT", "PERSIST cp", "PERSIST cp", "EXPIRE cp -1"],
        &["SET e v", "PEXPIREAT e 1", "EXPIRE nothing 10", "TOUCH k", "FLUSHDB", "SELECT 3", "SET d3 v", "SELECT 0"],
    ];
    // Writing nothing changes nothing: no event.
    p.check_args(&[b"SETRANGE", b"sr", b"0", b""]);
    p.check_args(&[b"SETRANGE", b"none", b"0", b""]);
    p.check_args(&[b"APPEND", b"sr", b""]);
    for (i, g) in groups.iter().enumerate() {
        notifications(&mut p, &mut s, g, &format!("stop{i}"));
    }
    // Only some classes, keyevent only.
    p.check("CONFIG SET notify-keyspace-events Eg");
    notifications(&mut p, &mut s, &["SET a b", "EXPIRE a 100", "DEL a"], "class");
    p.check("CONFIG SET notify-keyspace-events K$");
    notifications(&mut p, &mut s, &["SET a b", "EXPIRE a 100", "DEL a", "APPEND a x"], "class2");
    p.check_args(&[b"CONFIG", b"SET", b"notify-keyspace-events", b""]);
    notifications(&mut p, &mut s, &["SET a b", "DEL a"], "off");
}

#[test]
fn new_keymiss_and_expired_events() {
    let mut p = Pair::new();
    // `n` next to `A` is not kept by redstart (CONFIG GET prints Redis's `AKEm`, from which the
    // classes are derived), so the classes are listed one by one.
    p.check("CONFIG SET notify-keyspace-events KEg$xnm");
    let mut s = Two::new(&p);
    s.check("PSUBSCRIBE __key*");
    s.check("SUBSCRIBE stop");
    notifications(&mut p, &mut s, &["SET a 1", "SET a 2", "GET a", "GET nope", "MGET a nope", "STRLEN nope"], "t1");
    notifications(&mut p, &mut s, &["RENAME a b", "SET c v", "RENAME b c", "COPY c d", "TTL nope"], "t2");
    // Lazy expiry: the read finds the key expired.
    p.check("SET lazy v PX 20");
    std::thread::sleep(Duration::from_millis(60));
    notifications(&mut p, &mut s, &["GET lazy"], "t3");
    // Writing an expired key: expired, then new and set.
    p.check("CONFIG SET notify-keyspace-events KEA");
    // (One key only: with two, whether the second expires lazily or in the active cycle first
    // changes the order of events in both servers.)
    p.check("SET w v PX 20");
    std::thread::sleep(Duration::from_millis(60));
    notifications(&mut p, &mut s, &["SET w x"], "t4");
}

#[test]
fn active_expiry_publishes_expired() {
    let mut p = Pair::new();
    p.check("CONFIG SET notify-keyspace-events Ex");
    let mut s = Two::new(&p);
    s.check("SUBSCRIBE __keyevent@0__:expired");
    p.check("SET hb v PX 50");
    // Nobody touches the key: the background cycle deletes it and publishes the event.
    s.same("expired event from active expiry");
    p.check("EXISTS hb");
}

#[test]
fn resp3_keyspace_events_to_self_precede_the_reply() {
    let mut p = Pair::new();
    p.check("CONFIG SET notify-keyspace-events KEA");
    let mut s = Two::new(&p);
    s.resp3();
    s.check("PSUBSCRIBE __key*");
    s.check_n("SET k v EX 100", 5);
    s.check_n("DEL k", 3);
    s.check("DEL k");
    s.check_n("SET lazy v PX 10", 5);
    std::thread::sleep(Duration::from_millis(40));
    // The lazily expired key's events come before GET's null reply.
    s.check_n("GET lazy", 3);
    s.check_n("MSET a 1 b 2", 5);
}

#[test]
fn binary_channels_and_patterns() {
    let mut p = Pair::new();
    let mut s = Two::new(&p);
    s.check_args(&[b"SUBSCRIBE", b"\x00\xffch"]);
    s.check_args(&[b"PSUBSCRIBE", b"\x00*"]);
    p.check_args(&[b"PUBLISH", b"\x00\xffch", b"m\x00"]);
    s.same("message");
    s.same("pmessage");
    p.check_args(&[b"PUBSUB", b"NUMSUB", b"\x00\xffch"]);
    p.check_args(&[b"PUBSUB", b"CHANNELS", b"\x00*"]);
}
