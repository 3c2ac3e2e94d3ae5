//! Connection placement over the I/O workers (`net::workers`): connections move between
//! workers between two batches and keep everything a client has (database, name, transaction,
//! watched keys, its read buffer); a lightly loaded server keeps its connections on one worker.
//!
//! `REDSTART_PLACEMENT=churn` makes every movable connection move at every balancer tick, so a
//! client running for a second moves about ten times.

mod common;
use common::*;

use std::thread;
use std::time::{Duration, Instant};

fn info_field(c: &mut Conn, section: &str, field: &str) -> String {
    let info = text(&c.run(&format!("INFO {section}")));
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")).map(str::to_string))
        .unwrap_or_else(|| panic!("INFO {section} has no {field}: {info}"))
}

/// One client's work while it moves: pipelined INCRs, a transaction over several batches,
/// WATCH, SELECT and the connection name, each checked.
fn client_work(port: u16, id: usize, until: Instant) -> usize {
    let mut c = Conn::connect(port);
    assert_eq!(text(&c.run(&format!("CLIENT SETNAME worker-{id}"))), "+OK\r\n");
    assert_eq!(text(&c.run("SELECT 3")), "+OK\r\n");
    let counter = format!("counter:{id}");
    let mut expected = 0;
    let mut rounds = 0;
    while Instant::now() < until {
        // A pipeline: every reply arrives, in order.
        let mut bytes = Vec::new();
        for _ in 0..50 {
            bytes.extend_from_slice(&encode(&[b"INCR", counter.as_bytes()]));
        }
        c.send_raw(&bytes);
        for _ in 0..50 {
            expected += 1;
            assert_eq!(text(&c.read_reply()), format!(":{expected}\r\n"));
        }
        // A transaction spread over batches (the connection may move between any two).
        let watched = format!("watched:{id}");
        assert_eq!(text(&c.run(&format!("WATCH {watched}"))), "+OK\r\n");
        assert_eq!(text(&c.run("MULTI")), "+OK\r\n");
        assert_eq!(text(&c.run(&format!("SET {watched} {rounds}"))), "+QUEUED\r\n");
        assert_eq!(text(&c.run(&format!("GET {counter}"))), "+QUEUED\r\n");
        thread::sleep(Duration::from_millis(3));
        let exec = text(&c.run("EXEC"));
        assert_eq!(exec, format!("*2\r\n+OK\r\n${}\r\n{expected}\r\n", expected.to_string().len()), "EXEC");
        assert_eq!(text(&c.run("CLIENT GETNAME")), format!("${}\r\nworker-{id}\r\n", format!("worker-{id}").len()));
        rounds += 1;
    }
    // Still in database 3, where the counter lives.
    assert_eq!(text(&c.run(&format!("GET {counter}"))), format!("${}\r\n{expected}\r\n", expected.to_string().len()));
    rounds
}

#[test]
fn moving_connections_keep_their_state_and_order() {
    let server = start_redstart_with_env(&[], &[("REDSTART_PLACEMENT", "churn")]);
    let port = server.port;
    let mut admin = Conn::connect(port);
    if info_field(&mut admin, "server", "redstart_io_threads") == "1" {
        eprintln!("one I/O thread on this machine: nothing can move");
        return;
    }
    let until = Instant::now() + Duration::from_millis(1500);
    let workers: Vec<_> = (0..4).map(|id| thread::spawn(move || client_work(port, id, until))).collect();
    // A blocked client is not moved while it waits, and is served by a push from another
    // connection (possibly on another worker).
    let blocked = thread::spawn(move || {
        let mut c = Conn::connect(port);
        text(&c.run("BLPOP placement:queue 10"))
    });
    thread::sleep(Duration::from_millis(400));
    assert_eq!(text(&admin.run("RPUSH placement:queue job")), ":1\r\n");
    assert_eq!(blocked.join().unwrap(), "*2\r\n$15\r\nplacement:queue\r\n$3\r\njob\r\n");
    for w in workers {
        assert!(w.join().unwrap() > 0);
    }
    // A WATCH broken by another client while the watcher moves still fails the transaction.
    let mut watcher = Conn::connect(port);
    assert_eq!(text(&watcher.run("WATCH shared")), "+OK\r\n");
    thread::sleep(Duration::from_millis(250));
    assert_eq!(text(&admin.run("SET shared changed")), "+OK\r\n");
    thread::sleep(Duration::from_millis(250));
    assert_eq!(text(&watcher.run("MULTI")), "+OK\r\n");
    assert_eq!(text(&watcher.run("SET shared mine")), "+QUEUED\r\n");
    assert_eq!(text(&watcher.run("EXEC")), "*-1\r\n");
    let moves: u64 = info_field(&mut admin, "stats", "redstart_client_moves").parse().unwrap();
    assert!(moves >= 10, "connections moved {moves} times");
    // Every connection is counted once, wherever it runs (once the closed ones are gone).
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let per: usize = info_field(&mut admin, "server", "redstart_io_thread_clients")
            .split(',')
            .map(|n| n.parse::<usize>().unwrap())
            .sum();
        let clients = text(&admin.run("CLIENT LIST")).lines().filter(|l| l.starts_with("id=")).count();
        if per == clients || Instant::now() > deadline {
            assert_eq!(per, clients);
            break;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_lightly_loaded_server_keeps_connections_on_one_worker() {
    let server = start_redstart_with_env(&[], &[("REDSTART_PLACEMENT", "pack")]);
    let mut conns: Vec<Conn> = (0..10).map(|_| Conn::connect(server.port)).collect();
    for c in &mut conns {
        assert_eq!(text(&c.run("PING")), "+PONG\r\n");
    }
    let per: Vec<usize> = info_field(&mut conns[0], "server", "redstart_io_thread_clients")
        .split(',')
        .map(|n| n.parse().unwrap())
        .collect();
    assert_eq!(per[0], 10, "{per:?}");
    assert!(per[1..].iter().all(|&n| n == 0), "{per:?}");
    assert_eq!(info_field(&mut conns[0], "stats", "redstart_client_moves"), "0");
}

#[test]
fn subscribers_move_between_workers_and_keep_every_message_in_order() {
    let server = start_redstart_with_env(&[], &[("REDSTART_PLACEMENT", "churn")]);
    let port = server.port;
    let moves = || -> u64 {
        let mut admin = Conn::connect(port);
        info_field(&mut admin, "stats", "redstart_client_moves").parse().unwrap()
    };
    {
        let mut admin = Conn::connect(port);
        if info_field(&mut admin, "server", "redstart_io_threads") == "1" {
            eprintln!("one I/O thread on this machine: nothing can move");
            return;
        }
    }
    // Two channel subscribers (RESP2) and a pattern subscriber (RESP3).
    let mut subs: Vec<Conn> = (0..3).map(|_| Conn::connect(port)).collect();
    assert_eq!(text(&subs[0].run("SUBSCRIBE ch")), "*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n");
    assert_eq!(text(&subs[1].run("SUBSCRIBE ch")), "*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n");
    assert!(text(&subs[2].run("HELLO 3")).starts_with('%'));
    assert_eq!(text(&subs[2].run("PSUBSCRIBE c*")), ">3\r\n$10\r\npsubscribe\r\n$2\r\nc*\r\n:1\r\n");
    // With only the subscribers connected and nothing published, the move requests are all
    // that wakes them, and they move (about 10 times a second each).
    let before = moves();
    thread::sleep(Duration::from_millis(1000));
    let idle_moves = moves() - before;
    assert!(idle_moves >= 6, "idle subscribers moved {idle_moves} times in 1 s");
    // Two publishers, paced over about a second, while everyone keeps moving.
    const PER: usize = 1500;
    let publishers: Vec<_> = (0..2)
        .map(|id| {
            thread::spawn(move || {
                let mut c = Conn::connect(port);
                for batch in 0..PER / 50 {
                    let mut bytes = Vec::new();
                    for seq in batch * 50..(batch + 1) * 50 {
                        bytes.extend_from_slice(&encode(&[b"PUBLISH", b"ch", format!("p{id}:{seq}").as_bytes()]));
                    }
                    c.send_raw(&bytes);
                    for _ in 0..50 {
                        assert_eq!(text(&c.read_reply()), ":3\r\n");
                    }
                    thread::sleep(Duration::from_millis(30));
                }
            })
        })
        .collect();
    // Every subscriber gets every message, each publisher's in order.
    for (n, sub) in subs.iter_mut().enumerate() {
        let mut next = [0usize; 2];
        for _ in 0..2 * PER {
            let frame = sub.read_reply();
            let items = reply_items(&frame);
            let payload = text(items.last().unwrap());
            let (p, seq) = payload.strip_prefix('p').unwrap().split_once(':').unwrap();
            let (p, seq): (usize, usize) = (p.parse().unwrap(), seq.parse().unwrap());
            assert_eq!(seq, next[p], "subscriber {n}, publisher {p}: {payload} out of order");
            next[p] += 1;
        }
        assert_eq!(next, [PER, PER], "subscriber {n}");
    }
    for p in publishers {
        p.join().unwrap();
    }
    // Still subscribed where they are now: one more message reaches each.
    let mut c = Conn::connect(port);
    assert_eq!(text(&c.run("PUBLISH ch last")), ":3\r\n");
    for sub in &mut subs {
        assert_eq!(text(reply_items(&sub.read_reply()).last().unwrap()), "last");
    }
}
