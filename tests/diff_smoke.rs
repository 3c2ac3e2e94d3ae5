//! Smoke differential test: the harness itself, and the bootstrap commands.
mod common;
use common::*;

#[test]
fn basic_replies_match_redis() {
    let mut p = Pair::new();
    p.check_all(&[
        "PING",
        "PING hello",
        "ECHO hi",
        "SET k v",
        "GET k",
        "GET missing",
        "DEL k missing",
        "EXISTS k",
        "GET",
        "FOO bar baz",
        "SELECT 99",
        "SELECT x",
    ]);
}

#[test]
fn protocol_errors_close_like_redis() {
    let p = Pair::new();
    for bad in [&b"*1\r\n$x\r\n"[..], b"*x\r\n", b"*1\r\nfoo\r\n", b"SET \"a\n"] {
        let (mut a, mut b) = p.conns();
        a.send_raw(bad);
        b.send_raw(bad);
        assert_eq!(a.read_reply(), b.read_reply());
        assert!(a.is_closed(std::time::Duration::from_secs(2)));
    }
}
