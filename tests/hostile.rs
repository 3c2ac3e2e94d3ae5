//! Hostile input: malformed RESP, lying lengths, random bytes, huge commands. The server must
//! answer like Redis (error, then close), stay up for other clients, and keep memory bounded.

mod common;
use common::*;
use std::io::Write;
use std::time::Duration;

/// Resident set size of a process in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn assert_alive(port: u16) {
    let mut c = Conn::connect(port);
    assert_eq!(c.run("PING"), b"+PONG\r\n");
}

#[test]
fn malformed_requests_get_redis_errors_and_close() {
    let p = Pair::new();
    let cases: &[&[u8]] = &[
        b"*1\r\n$x\r\n",
        b"*x\r\n",
        b"*-5\r\n*1\r\n$4\r\nPING\r\n",
        b"*1\r\nfoo\r\n",
        b"*1\r\n$-1\r\n",
        b"*1\r\n$2147483648\r\n",
        b"*1\r\n$536870913\r\n",
        b"*3000000000\r\n",
        b"*1\r\n$+4\r\nPING\r\n",
        b"*01\r\n$4\r\nPING\r\n",
        b"SET \"unbalanced\r\n",
        b"SET 'a'b c\r\n",
        b"GET a\0junk\r\n",
        b"GET a\0junk\r\n*1\r\n$4\r\nPING\r\n",
        b"  PING   \r\n",
        b"\r\n\r\nPING\r\n",
        b"*2\r\n$3\r\nGET\r\n$1\r\nkXX",
        b"*1\r\n$4\r\nPINGXX*1\r\n$4\r\nPING\r\n",
    ];
    for bad in cases {
        let (mut a, mut b) = p.conns();
        a.send_raw(bad);
        b.send_raw(bad);
        let mut ours = Vec::new();
        let mut theirs = Vec::new();
        while let Some(r) = b.try_read_reply(Duration::from_millis(300)) {
            theirs.push(r);
        }
        while let Some(r) = a.try_read_reply(Duration::from_millis(300)) {
            ours.push(r);
        }
        assert_eq!(ours, theirs, "replies to {:?}", String::from_utf8_lossy(bad));
    }
    assert_alive(p.ours.port);
}

#[test]
fn unauthenticated_clients_get_tight_limits() {
    let p = Pair::with_args(&["--requirepass", "secret"]);
    for bad in [&b"*11\r\n"[..], b"*1\r\n$16385\r\n", b"*2\r\n$4\r\nAUTH\r\n$3\r\nbad\r\n"] {
        let (mut a, mut b) = p.conns();
        a.send_raw(bad);
        b.send_raw(bad);
        let theirs = b.try_read_reply(Duration::from_millis(500));
        let ours = a.try_read_reply(Duration::from_millis(500));
        assert_eq!(ours, theirs, "reply to {:?}", String::from_utf8_lossy(bad));
    }
}

#[test]
fn lying_bulk_length_is_not_allocated_up_front() {
    let s = start_redstart(&[]);
    let pid = s.child.id();
    let before = rss_kib(pid);
    // Declare 512 MB (the largest length allowed) on 20 connections, send a few bytes, wait.
    let mut conns = Vec::new();
    for _ in 0..20 {
        let mut c = Conn::connect(s.port);
        c.send_raw(b"*2\r\n$3\r\nGET\r\n$536870912\r\nabc");
        conns.push(c);
    }
    std::thread::sleep(Duration::from_millis(300));
    let after = rss_kib(pid);
    assert!(after < before + 64 * 1024, "RSS grew from {before} KiB to {after} KiB");
    assert_alive(s.port);
}

#[test]
fn random_bytes_never_take_the_server_down() {
    let s = start_redstart(&[]);
    let mut rng = 0x1234_5678_9abc_def1u64;
    for round in 0..200 {
        let mut c = Conn::connect(s.port);
        let mut junk = Vec::with_capacity(4096);
        let len = 1 + (round * 37) % 4096;
        for _ in 0..len {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            // Bias towards protocol bytes so the parser goes deep.
            junk.push(match rng % 8 {
                0 => b'*',
                1 => b'$',
                2 => b'\r',
                3 => b'\n',
                4 => b'0' + (rng >> 8) as u8 % 10,
                _ => (rng >> 16) as u8,
            });
        }
        let _ = c.stream.write_all(&junk);
        // Drop the connection half-way through whatever it was sending.
    }
    assert_alive(s.port);
}

#[test]
fn a_million_argument_command_works() {
    let s = start_redstart(&[]);
    let mut c = Conn::connect(s.port);
    let n = 1_000_000usize;
    let mut req = format!("*{}\r\n$6\r\nEXISTS\r\n", n + 1).into_bytes();
    for i in 0..n {
        let k = format!("k{}", i % 1000);
        req.extend_from_slice(format!("${}\r\n{}\r\n", k.len(), k).as_bytes());
    }
    c.send_raw(b"*3\r\n$3\r\nSET\r\n$2\r\nk7\r\n$1\r\nv\r\n");
    assert_eq!(c.read_reply(), b"+OK\r\n");
    c.send_raw(&req);
    // k7 appears 1000 times among the million arguments.
    assert_eq!(c.read_reply(), b":1000\r\n");
    assert_alive(s.port);
}

#[test]
fn truncated_frames_then_disconnect_leave_no_trace() {
    let s = start_redstart(&[]);
    for cut in [1, 5, 9, 14, 20] {
        let full = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";
        let mut c = Conn::connect(s.port);
        c.send_raw(&full[..cut]);
    }
    let mut c = Conn::connect(s.port);
    assert_eq!(c.run("EXISTS key"), b":0\r\n");
    assert_eq!(c.run("DBSIZE"), b":0\r\n");
}
