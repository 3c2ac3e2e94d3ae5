//! Slow consumers: one subscriber stops reading while ~100 MB are published on its channel. With
//! the default `client-output-buffer-limit pubsub 32mb 8mb 60` it is disconnected, the server's
//! RSS stays bounded (far below what was published), and a subscriber that keeps reading gets
//! every message, in order.

mod common;
use common::*;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

const MSG: usize = 16 * 1024;
const COUNT: u64 = 6_400; // 100 MiB of payload
const BATCH: u64 = 64;

fn rss_kb(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn payload(seq: u64) -> Vec<u8> {
    let mut p = vec![b'x'; MSG];
    p[..20].copy_from_slice(format!("{seq:020}").as_bytes());
    p
}

#[test]
fn slow_subscriber_is_disconnected_and_memory_stays_bounded() {
    let server = start_redstart(&[]);
    let pid = server.child.id();
    let port = server.port;

    // The slow subscriber: subscribes, then never reads again. A small receive buffer keeps the
    // kernel from absorbing much of the stream.
    let slow = {
        let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        sock.set_recv_buffer_size(64 * 1024).unwrap();
        sock.connect(&std::net::SocketAddr::from(([127, 0, 0, 1], port)).into()).unwrap();
        let mut s: TcpStream = sock.into();
        s.write_all(&encode(&[b"SUBSCRIBE", b"firehose"])).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).unwrap();
        assert!(buf[..n].starts_with(b"*3\r\n$9\r\nsubscribe\r\n"));
        s
    };

    // The normal subscriber reads everything and checks the order.
    let mut good = Conn::connect(port);
    let r = good.run("SUBSCRIBE firehose");
    assert!(r.ends_with(b":1\r\n"));
    let received = Arc::new(AtomicU64::new(0));
    let reader = {
        let received = received.clone();
        thread::spawn(move || {
            for seq in 0..COUNT {
                let f = good
                    .try_read_reply(Duration::from_secs(60))
                    .unwrap_or_else(|| panic!("message {seq} for the reading subscriber"));
                let header = format!("*3\r\n$7\r\nmessage\r\n$8\r\nfirehose\r\n${MSG}\r\n");
                assert!(f.starts_with(header.as_bytes()), "frame {seq}");
                let got = &f[header.len()..header.len() + 20];
                assert_eq!(got, format!("{seq:020}").as_bytes(), "message {seq} out of order");
                received.store(seq + 1, Ordering::Relaxed);
            }
            good
        })
    };

    // Sample the server's RSS while publishing.
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        thread::spawn(move || {
            let mut peak = 0;
            while !done.load(Ordering::Relaxed) {
                peak = peak.max(rss_kb(pid));
                thread::sleep(Duration::from_millis(5));
            }
            peak
        })
    };

    let mut publisher = Conn::connect(port);
    let mut last_receivers = Vec::new();
    let mut seq = 0;
    while seq < COUNT {
        // The reading subscriber keeps up: stay within 8 MiB of what it consumed (its own
        // backlog must stay under the limit too, whatever the machine's speed).
        while seq > received.load(Ordering::Relaxed) + 512 {
            thread::sleep(Duration::from_millis(1));
        }
        let mut batch = Vec::new();
        for s in seq..(seq + BATCH).min(COUNT) {
            batch.extend_from_slice(&encode(&[b"PUBLISH", b"firehose", &payload(s)]));
        }
        let n = (seq + BATCH).min(COUNT) - seq;
        publisher.send_raw(&batch);
        for _ in 0..n {
            last_receivers = publisher.read_reply();
        }
        seq += n;
    }
    // By the end only the reading subscriber is left.
    assert_eq!(last_receivers, b":1\r\n");
    let _good = reader.join().expect("reading subscriber got every message in order");
    assert_eq!(received.load(Ordering::Relaxed), COUNT);
    done.store(true, Ordering::Relaxed);
    let peak_kb = sampler.join().unwrap();

    // The slow subscriber was closed: after what the kernel buffered, its socket reads EOF.
    let mut slow = slow;
    slow.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut sink = vec![0u8; 1 << 20];
    let mut closed = false;
    let mut drained = 0usize;
    loop {
        match slow.read(&mut sink) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(n) => drained += n,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                closed = true;
                break;
            }
            Err(_) => break,
        }
    }
    assert!(closed, "slow subscriber still connected after {drained} bytes");
    assert!(drained < 64 << 20, "the slow subscriber got {drained} bytes: more than the limit allows");

    let mut admin = Conn::connect(port);
    assert_eq!(admin.run("PUBSUB NUMSUB firehose"), b"*2\r\n$8\r\nfirehose\r\n:1\r\n");
    // 100 MiB went through; the server never held more than the limit's worth for the slow
    // subscriber (32 MiB hard limit, plus its baseline and the reader's in-flight data).
    assert!(peak_kb < 96 * 1024, "peak RSS {peak_kb} kB");
    let rss_after = rss_kb(pid);
    assert!(rss_after < 96 * 1024, "RSS after {rss_after} kB");
}
