//! Fan-out delivery (`src/pubsub`, "Delivery"): publishers write idle subscribers' sockets
//! directly at the end of their command batch, subscribers take their socket back when they
//! run commands or their socket fills up. These tests drive that hand-over from several threads
//! (the server runs one I/O thread per core, and connections are spread over them):
//! - per-publisher order and no loss or duplicate, for many subscribers (channel, pattern,
//!   RESP2 and RESP3) fed by concurrent pipelining publishers on different connections;
//! - a RESP3 subscriber running commands while messages stream in: every reply arrives whole
//!   and in order between the pushes;
//! - subscribers leaving mid-fan-out (socket closed with unread data, CLIENT KILL, RESET) while
//!   new connections (which may reuse their descriptors) must see only their own replies.

mod common;
use common::*;

use std::collections::HashMap;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

/// The (channel-or-pattern, payload) of a RESP2 `message`/`pmessage` or RESP3 push frame.
fn parse_message(f: &[u8]) -> (String, String) {
    let parts = split_bulks(f);
    match parts[0].as_str() {
        "message" => (parts[1].clone(), parts[2].clone()),
        "pmessage" => (parts[1].clone(), parts[3].clone()),
        other => panic!("not a message frame: {other:?} in {:?}", text(f)),
    }
}

/// The bulk strings of a flat array/push frame.
fn split_bulks(f: &[u8]) -> Vec<String> {
    let s = text(f);
    let mut lines = s.split("\r\n");
    let head = lines.next().unwrap();
    assert!(head.starts_with('*') || head.starts_with('>'), "frame head {head:?}");
    let mut out = Vec::new();
    while let Some(l) = lines.next() {
        if l.starts_with('$') {
            out.push(lines.next().unwrap().to_string());
        }
    }
    out
}

fn bulk(s: &str) -> String {
    format!("${}\r\n{s}\r\n", s.len())
}

/// Publishes `count` messages `p<id>:<seq>` on `channel`, pipelined `batch` at a time; checks
/// every PUBLISH reply is `receivers`.
fn publisher(port: u16, id: usize, channel: &'static str, count: usize, batch: usize, receivers: i64) {
    let mut c = Conn::connect(port);
    let mut seq = 0;
    while seq < count {
        let n = batch.min(count - seq);
        let mut bytes = Vec::new();
        for i in seq..seq + n {
            let msg = format!("p{id}:{i}");
            bytes.extend_from_slice(&encode(&[b"PUBLISH", channel.as_bytes(), msg.as_bytes()]));
        }
        c.send_raw(&bytes);
        for _ in 0..n {
            assert_eq!(text(&c.read_reply()), format!(":{receivers}\r\n"), "PUBLISH count");
        }
        seq += n;
    }
}

/// Reads `total` messages and checks each publisher's sequence arrives complete and in order.
fn check_order(c: &mut Conn, publishers: usize, per_pub: usize, who: &str) {
    let mut next: HashMap<String, usize> = HashMap::new();
    for _ in 0..publishers * per_pub {
        let f = c.try_read_reply(Duration::from_secs(60)).unwrap_or_else(|| panic!("{who}: message missing"));
        let (_, payload) = parse_message(&f);
        let (p, seq) = payload.split_once(':').unwrap();
        let seq: usize = seq.parse().unwrap();
        let want = next.entry(p.to_string()).or_insert(0);
        assert_eq!(seq, *want, "{who}: publisher {p} out of order or lost a message");
        *want += 1;
    }
    assert_eq!(next.len(), publishers, "{who}: every publisher heard");
    assert!(c.try_read_reply(Duration::from_millis(200)).is_none(), "{who}: no extra message");
}

#[test]
fn concurrent_publishers_keep_order_for_many_subscribers() {
    const SUBS: usize = 60;
    const PUBS: usize = 4;
    const PER_PUB: usize = 400;
    let server = start_redstart(&[]);
    let port = server.port;
    let mut subs = Vec::new();
    for i in 0..SUBS {
        let mut c = Conn::connect(port);
        if i % 3 == 2 {
            c.run("HELLO 3");
        }
        let r = if i % 2 == 0 { c.run("SUBSCRIBE fan") } else { c.run("PSUBSCRIBE f*") };
        assert!(r.ends_with(b":1\r\n"), "{}", text(&r));
        subs.push(c);
    }
    let readers: Vec<_> = subs
        .into_iter()
        .enumerate()
        .map(|(i, mut c)| thread::spawn(move || check_order(&mut c, PUBS, PER_PUB, &format!("subscriber {i}"))))
        .collect();
    let start = Arc::new(Barrier::new(PUBS));
    let pubs: Vec<_> = (0..PUBS)
        .map(|id| {
            let start = start.clone();
            thread::spawn(move || {
                start.wait();
                publisher(port, id, "fan", PER_PUB, 1 + id * 7, SUBS as i64);
            })
        })
        .collect();
    for p in pubs {
        p.join().unwrap();
    }
    for r in readers {
        r.join().unwrap();
    }
}

#[test]
fn replies_stay_whole_between_pushes() {
    let server = start_redstart(&[]);
    let port = server.port;
    let mut sub = Conn::connect(port);
    sub.run("HELLO 3");
    assert!(sub.run("SUBSCRIBE news").ends_with(b":1\r\n"));
    const COUNT: usize = 3000;
    let publishing = thread::spawn(move || publisher(port, 0, "news", COUNT, 10, 1));
    // Commands on the subscribed connection while messages stream in: each reply must come
    // back whole, in order, with the pushes before and after it intact and in order.
    let mut seq = 0usize;
    let mut echo = 0usize;
    while seq < COUNT {
        let tag = format!("echo-{echo}-{}", "y".repeat(echo % 300));
        sub.send_raw(&encode(&[b"ECHO", tag.as_bytes()]));
        loop {
            let f = sub.read_reply();
            if f.starts_with(b">") {
                let (ch, payload) = parse_message(&f);
                assert_eq!(ch, "news");
                assert_eq!(payload, format!("p0:{seq}"), "push order");
                seq += 1;
            } else {
                assert_eq!(text(&f), bulk(&tag), "ECHO reply");
                break;
            }
        }
        echo += 1;
        if echo > 100_000 {
            break;
        }
    }
    publishing.join().unwrap();
    while seq < COUNT {
        let f = sub.read_reply();
        assert_eq!(parse_message(&f).1, format!("p0:{seq}"), "push order");
        seq += 1;
    }
    assert_eq!(text(&sub.run("PING")), "+PONG\r\n");
}

#[test]
fn subscribers_leaving_mid_fan_out() {
    const SUBS: usize = 40;
    const PER_PUB: usize = 3000;
    let server = start_redstart(&[]);
    let port = server.port;
    let mut admin = Conn::connect(port);
    let mut stay = Vec::new();
    let mut leave = Vec::new();
    for i in 0..SUBS {
        let mut c = Conn::connect(port);
        let id = text(&c.run("CLIENT ID"));
        assert!(c.run("SUBSCRIBE churn").ends_with(b":1\r\n"));
        if i % 2 == 0 {
            stay.push(c);
        } else {
            leave.push((c, id.trim_start_matches(':').trim().to_string()));
        }
    }
    let readers: Vec<_> = stay
        .into_iter()
        .enumerate()
        .map(|(i, mut c)| {
            thread::spawn(move || {
                check_order(&mut c, 1, PER_PUB, &format!("staying subscriber {i}"));
                c
            })
        })
        .collect();
    // The publisher does not check PUBLISH counts: they drop as subscribers leave.
    let publishing = thread::spawn(move || {
        let mut c = Conn::connect(port);
        for chunk in 0..PER_PUB / 20 {
            let mut bytes = Vec::new();
            for i in chunk * 20..chunk * 20 + 20 {
                bytes.extend_from_slice(&encode(&[b"PUBLISH", b"churn", format!("p0:{i}").as_bytes()]));
            }
            c.send_raw(&bytes);
            for _ in 0..20 {
                assert!(c.read_reply().starts_with(b":"));
            }
        }
    });
    // Leave in three ways while the messages flow, and open fresh connections (which may get a
    // departed subscriber's descriptor number) that must only ever see their own replies.
    let mut fresh = Vec::new();
    for (k, (mut c, id)) in leave.into_iter().enumerate() {
        thread::sleep(Duration::from_millis(5));
        match k % 3 {
            0 => drop(c), // closed with unread messages pending
            1 => assert_eq!(text(&admin.run(&format!("CLIENT KILL ID {id}"))), ":1\r\n"),
            _ => {
                c.send_raw(&encode(&[b"RESET"]));
                // Messages may precede the RESET reply; after it, none.
                loop {
                    let f = c.read_reply();
                    if f == b"+RESET\r\n" {
                        break;
                    }
                    parse_message(&f);
                }
                assert_eq!(text(&c.run("PING")), "+PONG\r\n");
                fresh.push(c);
            }
        }
        let mut n = Conn::connect(port);
        assert_eq!(text(&n.run(&format!("ECHO fresh-{k}"))), bulk(&format!("fresh-{k}")));
        fresh.push(n);
    }
    publishing.join().unwrap();
    let stayed: Vec<Conn> = readers.into_iter().map(|r| r.join().unwrap()).collect();
    for (i, c) in fresh.iter_mut().enumerate() {
        assert_eq!(text(&c.run(&format!("ECHO again-{i}"))), bulk(&format!("again-{i}")));
        assert!(c.try_read_reply(Duration::from_millis(20)).is_none(), "no stray frame");
    }
    // Every departed subscriber is gone from the registry.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = text(&admin.run("PUBSUB NUMSUB churn"));
        if r == format!("*2\r\n$5\r\nchurn\r\n:{}\r\n", SUBS / 2) || Instant::now() > deadline {
            assert_eq!(r, format!("*2\r\n$5\r\nchurn\r\n:{}\r\n", SUBS / 2));
            break;
        }
        thread::sleep(Duration::from_millis(20));
    }
    drop(stayed);
}
