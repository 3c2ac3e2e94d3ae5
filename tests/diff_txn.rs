//! Transactions against redis-server: MULTI/EXEC/DISCARD/WATCH/UNWATCH replies, EXECABORT after
//! queue-time errors, runtime errors that do not roll back, and WATCH failing on writes from
//! other clients, expiry and flushes.

mod common;
use common::*;
use std::time::Duration;

#[test]
fn queued_replies_and_exec() {
    let mut p = Pair::new();
    p.check_all(&[
        "EXEC", "DISCARD", "MULTI", "MULTI", "SET a 1", "INCR a", "GET a", "EXEC", "GET a", "MULTI", "EXEC", "MULTI",
        "SET a 2", "DISCARD", "GET a",
    ]);
}

#[test]
fn queue_time_errors_abort_runtime_errors_do_not() {
    let mut p = Pair::new();
    p.check_all(&[
        "MULTI",
        "SET a 1",
        "NOSUCHCOMMAND x",
        "GET",
        "EXEC",
        "GET a",
        // A runtime error inside EXEC leaves the other commands applied.
        "SET s hello",
        "MULTI",
        "INCR s",
        "SET b 2",
        "EXEC",
        "GET b",
        "MULTI",
        "WATCH x",
        "EXEC",
    ]);
}

#[test]
fn transactions_in_resp3() {
    let mut p = Pair::new();
    p.resp3();
    p.check_all(&["MULTI", "SET a 1", "GET a", "GET nothing", "EXEC"]);
    // A failed WATCH gives the RESP3 null.
    p.check("WATCH a");
    let (mut a, mut b) = p.conns();
    a.run("SET a 2");
    b.run("SET a 2");
    p.check_all(&["MULTI", "GET a", "EXEC"]);
}

#[test]
fn watch_fails_on_writes_by_others() {
    let mut p = Pair::new();
    let (mut a2, mut b2) = p.conns();
    p.check_all(&["SET k 1", "WATCH k"]);
    assert_eq!(a2.run("SET k 2"), b2.run("SET k 2"));
    p.check_all(&["MULTI", "INCR k", "EXEC", "GET k"]);
    // After EXEC the watch is gone: the next transaction runs.
    p.check_all(&["MULTI", "INCR k", "EXEC"]);
    // UNWATCH forgets.
    p.check_all(&["WATCH k", "UNWATCH"]);
    a2.run("SET k 5");
    b2.run("SET k 5");
    p.check_all(&["MULTI", "INCR k", "EXEC"]);
    // A write that does not change anything (SET NX on an existing key) does not break WATCH.
    p.check("WATCH k");
    assert_eq!(a2.run("SET k 9 NX"), b2.run("SET k 9 NX"));
    p.check_all(&["MULTI", "GET k", "EXEC"]);
    // Watching a missing key that another client creates fails the transaction.
    p.check("WATCH fresh");
    a2.run("SET fresh 1");
    b2.run("SET fresh 1");
    p.check_all(&["MULTI", "GET fresh", "EXEC"]);
    // DEL of a watched key by another client.
    p.check("WATCH fresh");
    a2.run("DEL fresh");
    b2.run("DEL fresh");
    p.check_all(&["MULTI", "GET fresh", "EXEC"]);
}

#[test]
fn watch_fails_when_the_key_expires() {
    let mut p = Pair::new();
    p.check_all(&["SET e 1 PX 100", "WATCH e"]);
    std::thread::sleep(Duration::from_millis(200));
    p.check_all(&["MULTI", "GET e", "EXEC"]);
}

#[test]
fn watch_fails_on_flushall() {
    let mut p = Pair::new();
    let (mut a2, mut b2) = p.conns();
    p.check_all(&["SET k 1", "WATCH k"]);
    a2.run("FLUSHALL");
    b2.run("FLUSHALL");
    p.check_all(&["MULTI", "GET k", "EXEC"]);
}

#[test]
fn select_inside_multi_and_watch_in_other_db() {
    let mut p = Pair::new();
    p.check_all(&["MULTI", "SELECT 1", "SET k one", "SELECT 0", "SET k zero", "EXEC", "GET k", "SELECT 1", "GET k"]);
    // A write to the same key name in another database does not touch the watch.
    p.check_all(&["SELECT 0", "WATCH k"]);
    let (mut a2, mut b2) = p.conns();
    a2.run("SELECT 1");
    b2.run("SELECT 1");
    a2.run("SET k other");
    b2.run("SET k other");
    p.check_all(&["MULTI", "GET k", "EXEC"]);
}

#[test]
fn exec_is_atomic_against_concurrent_clients() {
    // Many clients increment two keys inside transactions while readers check, through
    // MULTI/EXEC snapshots, that the two keys are always equal.
    let s = start_redstart(&[]);
    let port = s.port;
    let mut setup = Conn::connect(port);
    setup.run("SET x 0");
    setup.run("SET y 0");
    let writers: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = Conn::connect(port);
                for _ in 0..300 {
                    c.run("MULTI");
                    c.run("INCR x");
                    c.run("INCR y");
                    let r = c.run("EXEC");
                    assert!(r.starts_with(b"*2\r\n"), "{}", String::from_utf8_lossy(&r));
                }
            })
        })
        .collect();
    let mut reader = Conn::connect(port);
    for _ in 0..300 {
        reader.run("MULTI");
        reader.run("GET x");
        reader.run("GET y");
        let r = reader.run("EXEC");
        let text = String::from_utf8_lossy(&r).to_string();
        let vals: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty() && !l.starts_with(['*', '$'])).collect();
        assert_eq!(vals.len(), 2, "{text}");
        assert_eq!(vals[0], vals[1], "transaction saw a half-applied transaction: {text}");
    }
    for w in writers {
        w.join().unwrap();
    }
    assert_eq!(reader.run("GET x"), b"$4\r\n1200\r\n");
    assert_eq!(reader.run("GET y"), b"$4\r\n1200\r\n");
}
