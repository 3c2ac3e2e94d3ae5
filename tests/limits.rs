//! Connection limits against redis-server: `maxclients`, idle `timeout`, and the query buffer
//! limit.

mod common;
use common::*;
use std::time::Duration;

#[test]
fn maxclients_refuses_with_redis_error() {
    let mut p = Pair::with_args(&["--maxclients", "2"]);
    // The readiness probe's connection may still be closing: wait until each server counts only
    // the pair's own connection.
    for conn in [&mut p.a, &mut p.b] {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while conn.run("CLIENT LIST").split(|&b| b == b'\n').filter(|l| l.windows(6).any(|w| w == b" addr=")).count()
            > 1
        {
            assert!(std::time::Instant::now() < deadline, "probe connection never went away");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    // `Pair` holds one connection to each server; open a second, then a third is refused.
    let (mut a2, mut b2) = p.conns();
    // Make sure the second connections are fully registered before the third arrives.
    assert_eq!(a2.run("PING"), b2.run("PING"));
    let (mut a3, mut b3) = p.conns();
    let ours = a3.try_read_reply(Duration::from_secs(2));
    let theirs = b3.try_read_reply(Duration::from_secs(2));
    assert_eq!(theirs.as_deref(), Some(&b"-ERR max number of clients reached\r\n"[..]));
    assert_eq!(ours, theirs);
}

#[test]
fn idle_clients_are_closed_after_timeout() {
    let mut p = Pair::with_args(&["--timeout", "1"]);
    p.check("PING");
    // Redis checks idle clients in its periodic cron, so allow a few seconds.
    assert!(p.a.is_closed(Duration::from_secs(10)), "redstart kept an idle client");
    assert!(p.b.is_closed(Duration::from_secs(10)), "redis-server kept an idle client");
}

#[test]
fn query_buffer_limit_closes_the_connection() {
    let s = start_redstart(&["--client-query-buffer-limit", "1mb"]);
    let mut c = Conn::connect(s.port);
    // A 2 MB bulk argument exceeds the 1 MB query buffer limit before it completes.
    c.send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n");
    let chunk = vec![b'x'; 64 * 1024];
    for _ in 0..31 {
        if std::io::Write::write_all(&mut c.stream, &chunk).is_err() {
            break;
        }
    }
    assert!(c.is_closed(Duration::from_secs(5)), "connection past the query buffer limit stayed open");
    let mut other = Conn::connect(s.port);
    assert_eq!(other.run("PING"), b"+PONG\r\n");
}
