//! Pub/sub fan-out load generator for `scripts/bench-pubsub` (not a test).
//!
//! `pubsub_bench <port> <publishers> <subscribers> <channel|pattern> <messages per publisher> [rate]`
//! connects the subscribers (SUBSCRIBE bench:ch, or PSUBSCRIBE bench:*), then each publisher
//! sends its messages (64-byte payloads carrying the send time). Without `rate` (closed loop,
//! for throughput) each publisher keeps up to 16 in flight, so the load saturates whichever side
//! is slower and latency is mostly queueing. With `rate` (open loop, for latency) each publisher
//! sends `rate` messages per second on a 1 ms clock, whatever the replies do, the way a status
//! bus publishes: the latency of a fixed load both servers can carry.
//! Prints one line: `delivered_per_s p50_us p99_us` — deliveries (messages received summed over
//! subscribers) per second from the first send to the last receipt, and publish-to-receive
//! latency percentiles over every delivery.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PAYLOAD: usize = 64;

fn cmd(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Reads until `n` occurrences of `needle` have been seen (counting across reads).
async fn read_count(s: &mut (impl AsyncReadExt + Unpin), needle: &[u8], n: usize) {
    let mut buf = Vec::new();
    let mut seen = 0;
    let mut chunk = vec![0u8; 64 * 1024];
    while seen < n {
        let r = s.read(&mut chunk).await.expect("read");
        assert!(r > 0, "server closed");
        buf.extend_from_slice(&chunk[..r]);
        let mut start = 0;
        while let Some(p) = buf[start..].windows(needle.len()).position(|w| w == needle) {
            seen += 1;
            start += p + needle.len();
        }
        let keep = buf.len().saturating_sub(needle.len() - 1).max(start);
        buf.drain(..keep);
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a: Vec<String> = std::env::args().collect();
    let port: u16 = a[1].parse().unwrap();
    let publishers: usize = a[2].parse().unwrap();
    let subscribers: usize = a[3].parse().unwrap();
    let pattern = a[4] == "pattern";
    let per_pub: usize = a[5].parse().unwrap();
    let rate: Option<f64> = a.get(6).map(|r| r.parse().unwrap());
    let total = publishers * per_pub;
    let epoch = Instant::now();

    let mut subs = Vec::new();
    for _ in 0..subscribers {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        s.set_nodelay(true).unwrap();
        let c = if pattern { cmd(&[b"PSUBSCRIBE", b"bench:*"]) } else { cmd(&[b"SUBSCRIBE", b"bench:ch"]) };
        s.write_all(&c).await.unwrap();
        read_count(&mut s, b":1\r\n", 1).await;
        subs.push(s);
    }
    let header = format!("${PAYLOAD}\r\n").into_bytes();
    let mut tasks = Vec::new();
    for mut s in subs {
        let header = header.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(total);
            let mut buf: Vec<u8> = Vec::with_capacity(128 * 1024);
            let mut chunk = vec![0u8; 64 * 1024];
            while lat.len() < total {
                let r = s.read(&mut chunk).await.expect("subscriber read");
                assert!(r > 0, "subscriber closed by the server");
                let now = epoch.elapsed().as_nanos() as u64;
                buf.extend_from_slice(&chunk[..r]);
                let mut pos = 0;
                while let Some(p) = buf[pos..].windows(header.len()).position(|w| w == &header[..]) {
                    let at = pos + p + header.len();
                    if buf.len() < at + PAYLOAD + 2 {
                        break;
                    }
                    let sent: u64 = std::str::from_utf8(&buf[at..at + 20]).unwrap().parse().unwrap();
                    lat.push(((now.saturating_sub(sent)) / 1000) as u32);
                    pos = at + PAYLOAD + 2;
                }
                buf.drain(..pos);
            }
            (lat, epoch.elapsed())
        }));
    }
    let start = epoch.elapsed();
    let mut pubs = Vec::new();
    for _ in 0..publishers {
        pubs.push(tokio::spawn(async move {
            let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
            s.set_nodelay(true).unwrap();
            let stamped = || {
                let mut p = format!("{:020}", epoch.elapsed().as_nanos() as u64).into_bytes();
                p.resize(PAYLOAD, b'x');
                cmd(&[b"PUBLISH", b"bench:ch", &p])
            };
            match rate {
                None => {
                    let mut sent = 0;
                    while sent < per_pub {
                        let n = 16.min(per_pub - sent);
                        let batch: Vec<u8> = (0..n).flat_map(|_| stamped()).collect();
                        s.write_all(&batch).await.unwrap();
                        read_count(&mut s, b"\r\n", n).await;
                        sent += n;
                    }
                }
                Some(rate) => {
                    let (mut rd, mut wr) = s.into_split();
                    let replies = tokio::spawn(async move { read_count(&mut rd, b"\r\n", per_pub).await });
                    let t0 = Instant::now();
                    let mut tick = tokio::time::interval(Duration::from_millis(1));
                    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                    let mut sent = 0;
                    while sent < per_pub {
                        tick.tick().await;
                        let due = ((t0.elapsed().as_secs_f64() * rate) as usize).clamp(sent, per_pub);
                        let batch: Vec<u8> = (sent..due).flat_map(|_| stamped()).collect();
                        wr.write_all(&batch).await.unwrap();
                        sent = due;
                    }
                    replies.await.unwrap();
                }
            }
        }));
    }
    for p in pubs {
        p.await.unwrap();
    }
    let mut all = Vec::new();
    let mut end = Duration::ZERO;
    for t in tasks {
        let (lat, at) = tokio::time::timeout(Duration::from_secs(120), t).await.expect("deliveries").unwrap();
        all.extend(lat);
        end = end.max(at);
    }
    all.sort_unstable();
    let pct = |q: f64| all[((all.len() as f64 - 1.0) * q) as usize];
    let secs = (end - start).as_secs_f64();
    println!("{:.0} {} {}", all.len() as f64 / secs, pct(0.50), pct(0.99));
}
