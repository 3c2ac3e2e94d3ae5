//! Keyspace behaviour at server level: SCAN's guarantee while other clients grow and shrink
//! the keyspace, and active expiry reclaiming keys nobody touches again.
mod common;
use common::*;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// Sends `cmds` as one pipeline and reads every reply; returns the replies.
fn pipeline(c: &mut Conn, cmds: &[Vec<Vec<u8>>]) -> Vec<Vec<u8>> {
    let mut buf = Vec::new();
    for cmd in cmds {
        let args: Vec<&[u8]> = cmd.iter().map(|a| a.as_slice()).collect();
        buf.extend_from_slice(&encode(&args));
    }
    c.send_raw(&buf);
    cmds.iter().map(|_| c.read_reply()).collect()
}

fn cmd(parts: &[&[u8]]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.to_vec()).collect()
}

fn int_reply(r: &[u8]) -> i64 {
    assert_eq!(r[0], b':', "{}", String::from_utf8_lossy(r));
    std::str::from_utf8(&r[1..r.len() - 2]).unwrap().parse().unwrap()
}

/// Parses a SCAN reply into (cursor, keys).
fn scan_reply(reply: &[u8]) -> (u64, Vec<Vec<u8>>) {
    let mut lines = Vec::new();
    let mut p = 0;
    while p < reply.len() {
        let nl = p + reply[p..].iter().position(|&b| b == b'\n').unwrap();
        lines.push((p, nl));
        if reply[p] == b'$' {
            let n: usize = std::str::from_utf8(&reply[p + 1..nl - 1]).unwrap().parse().unwrap();
            lines.push((nl + 1, nl + 1 + n));
            p = nl + 1 + n + 2;
        } else {
            p = nl + 1;
        }
    }
    // *2, $len, cursor, *n, then ($len, key) pairs.
    let cursor = std::str::from_utf8(&reply[lines[2].0..lines[2].1]).unwrap().parse().unwrap();
    let keys = lines[4..].chunks(2).map(|c| reply[c[1].0..c[1].1].to_vec()).collect();
    (cursor, keys)
}

fn load(c: &mut Conn, prefix: &str, range: std::ops::Range<usize>) {
    let keys: Vec<Vec<Vec<u8>>> = range.map(|i| cmd(&[b"SET", format!("{prefix}{i}").as_bytes(), b"v"])).collect();
    for chunk in keys.chunks(1000) {
        for r in pipeline(c, chunk) {
            assert_eq!(r, b"+OK\r\n");
        }
    }
}

/// Full SCAN iterations while another client keeps adding and deleting keys (the tables grow
/// and shrink under the cursor): every key present throughout is returned.
#[test]
fn scan_returns_every_stable_key_under_churn() {
    let srv = start_redstart(&[]);
    let mut c = Conn::connect(srv.port);
    const STABLE: usize = 3000;
    load(&mut c, "stable:", 0..STABLE);

    let stop = Arc::new(AtomicBool::new(false));
    let churn = {
        let stop = stop.clone();
        let port = srv.port;
        thread::spawn(move || {
            let mut c = Conn::connect(port);
            let mut round = 0usize;
            while !stop.load(Ordering::Relaxed) {
                // Grow by 4000 keys, then delete them: the tables double and halve repeatedly.
                load(&mut c, &format!("churn{round}:"), 0..4000);
                let dels: Vec<Vec<Vec<u8>>> =
                    (0..4000).map(|i| cmd(&[b"DEL", format!("churn{round}:{i}").as_bytes()])).collect();
                for chunk in dels.chunks(1000) {
                    pipeline(&mut c, chunk);
                }
                round += 1;
            }
            round
        })
    };

    let mut iterations = 0;
    let start = Instant::now();
    while iterations < 3 || (start.elapsed() < Duration::from_secs(3) && iterations < 20) {
        let mut seen: HashSet<Vec<u8>> = HashSet::new();
        let mut cursor = 0u64;
        let mut calls = 0;
        loop {
            let (next, keys) = scan_reply(&c.run(&format!("SCAN {cursor} COUNT 37")));
            seen.extend(keys);
            cursor = next;
            calls += 1;
            assert!(calls < 1_000_000, "SCAN does not terminate");
            if cursor == 0 {
                break;
            }
        }
        for i in 0..STABLE {
            assert!(seen.contains(format!("stable:{i}").as_bytes()), "iteration {iterations} missed stable:{i}");
        }
        iterations += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let rounds = churn.join().unwrap();
    assert!(rounds > 0, "the churn thread made no progress");
}

/// SCAN with MATCH and TYPE over a keyspace that shrinks while iterating (keys deleted by the
/// scanning client itself between calls): stable keys are all seen, deleted ones never after
/// their deletion.
#[test]
fn scan_while_the_keyspace_shrinks() {
    let srv = start_redstart(&[]);
    let mut c = Conn::connect(srv.port);
    load(&mut c, "keep:", 0..500);
    load(&mut c, "drop:", 0..20_000);
    let mut seen = HashSet::new();
    let mut cursor = 0u64;
    let mut dropped = 0;
    loop {
        let (next, keys) = scan_reply(&c.run(&format!("SCAN {cursor} MATCH keep:* TYPE string COUNT 100")));
        for k in &keys {
            assert!(k.starts_with(b"keep:"), "MATCH let {:?} through", String::from_utf8_lossy(k));
        }
        seen.extend(keys);
        // Delete a slice of the other keys: the tables shrink below the cursor's size.
        if dropped < 20_000 {
            let dels: Vec<Vec<Vec<u8>>> =
                (dropped..dropped + 2000).map(|i| cmd(&[b"DEL", format!("drop:{i}").as_bytes()])).collect();
            pipeline(&mut c, &dels);
            dropped += 2000;
        }
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    assert_eq!(seen.len(), 500);
    assert_eq!(int_reply(&c.run("DBSIZE")), 500);
}

/// Keys set with a 1 s TTL and never touched again are reclaimed by active expiry.
#[test]
fn active_expiry_reclaims_200k_keys() {
    let srv = start_redstart(&[]);
    let mut c = Conn::connect(srv.port);
    const N: usize = 200_000;
    let batch: Vec<Vec<Vec<u8>>> = (0..N)
        .flat_map(|i| {
            let k = format!("ttl:{i}").into_bytes();
            [cmd(&[b"SET", &k, b"value"]), cmd(&[b"PEXPIRE", &k, b"1000"])]
        })
        .collect();
    for chunk in batch.chunks(10_000) {
        for r in pipeline(&mut c, chunk) {
            assert!(r == b"+OK\r\n" || r == b":1\r\n", "{}", String::from_utf8_lossy(&r));
        }
    }
    c.run("SET persistent v");
    let start = Instant::now();
    loop {
        let n = int_reply(&c.run("DBSIZE"));
        if n == 1 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{n} keys left after 30 s");
        thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(c.run("EXISTS persistent"), b":1\r\n");
    // The reclaimed keys are gone for every command.
    assert_eq!(c.run("SCAN 0 MATCH ttl:* COUNT 1000")[..], b"*2\r\n$1\r\n0\r\n*0\r\n"[..]);
}
