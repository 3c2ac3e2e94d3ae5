//! Lazy freeing, client memory and MEMORY PURGE against redstart alone (the figures are
//! redstart's own; the reply texts are diffed in `diff_memory.rs`):
//! - UNLINK of a key holding 1,000,000 elements (set, list, hash, sorted set) answers before
//!   the value is freed (`lazyfree_pending_objects` is 1 right after it), another connection's
//!   PINGs are answered while the free is pending, and `used_memory` drops once it is done;
//! - DEL frees inline unless `lazyfree-lazy-user-del` is on; FLUSHALL ASYNC and FLUSHALL under
//!   `lazyfree-lazy-user-flush` free in the background;
//! - a client with a large pending output buffer raises `used_memory`, `mem_clients_normal` and
//!   its CLIENT LIST `omem`/`tot-mem`;
//! - `maxmemory-clients` evicts the biggest client but not a CLIENT NO-EVICT one;
//! - MEMORY PURGE returns freed heap to the system (RSS does not grow).

mod common;
use common::*;

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ELEMENTS: usize = 1_000_000;
const PER_CMD: usize = 1000;

fn field(info: &str, name: &str) -> u64 {
    let line = info.lines().find(|l| l.starts_with(&format!("{name}:"))).unwrap_or_else(|| panic!("no {name} in INFO"));
    line[name.len() + 1..].trim().parse().unwrap()
}

fn info(c: &mut Conn, section: &str) -> String {
    body(&c.run(&format!("INFO {section}")))
}

/// Fills `key` with `n` elements (a multiple of 1000) using `cmd` (SADD, RPUSH, HSET, ZADD),
/// pipelined.
fn fill_n(c: &mut Conn, cmd: &str, key: &str, n: usize) {
    let mut batch = Vec::new();
    let mut pending = 0;
    for chunk in 0..n / PER_CMD {
        let mut args: Vec<Vec<u8>> = vec![cmd.into(), key.into()];
        for i in chunk * PER_CMD..(chunk + 1) * PER_CMD {
            match cmd {
                "HSET" => {
                    args.push(format!("f{i}").into());
                    args.push(b"v".to_vec());
                }
                "ZADD" => {
                    args.push(i.to_string().into());
                    args.push(format!("m{i}").into());
                }
                _ => args.push(format!("m{i}").into()),
            }
        }
        let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
        batch.extend_from_slice(&encode(&refs));
        pending += 1;
        if pending == 50 {
            c.send_raw(&batch);
            batch.clear();
            for _ in 0..pending {
                let r = c.read_reply();
                assert!(r.starts_with(b":"), "{}", text(&r));
            }
            pending = 0;
        }
    }
    assert_eq!(pending, 0);
}

/// A key large enough to be freed lazily (and slowly enough to observe) in the tests that are
/// not about the million-element case.
fn fill(c: &mut Conn, cmd: &str, key: &str) {
    fill_n(c, cmd, key, 100_000);
}

/// A connection that PINGs continuously (each PING pipelined with INFO memory) and counts the
/// PONGs answered while `lazyfree_pending_objects` was above zero.
struct Pinger {
    stop: Arc<AtomicBool>,
    total: Arc<AtomicU64>,
    while_pending: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<()>,
}

impl Pinger {
    fn start(port: u16) -> Pinger {
        let stop = Arc::new(AtomicBool::new(false));
        let total = Arc::new(AtomicU64::new(0));
        let while_pending = Arc::new(AtomicU64::new(0));
        let (s, t, w) = (stop.clone(), total.clone(), while_pending.clone());
        let thread = std::thread::spawn(move || {
            let mut c = Conn::connect(port);
            while !s.load(Ordering::Relaxed) {
                c.send_raw(b"PING\r\nINFO memory\r\n");
                assert_eq!(c.read_reply(), b"+PONG\r\n");
                let i = body(&c.read_reply());
                t.fetch_add(1, Ordering::Relaxed);
                if field(&i, "lazyfree_pending_objects") > 0 {
                    w.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        let p = Pinger { stop, total, while_pending, thread };
        p.wait_past(0);
        p
    }

    /// Waits (up to 30 s) until the pinger has had more than `n` replies.
    fn wait_past(&self, n: u64) {
        let start = Instant::now();
        while self.total.load(Ordering::Relaxed) <= n {
            assert!(start.elapsed() < Duration::from_secs(30), "the pinger got no reply");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn finish(self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("pinger");
        (self.total.load(Ordering::Relaxed), self.while_pending.load(Ordering::Relaxed))
    }
}

/// Polls INFO until the lazyfree thread has nothing pending; returns the final memory section.
fn wait_freed(c: &mut Conn) -> String {
    let start = Instant::now();
    loop {
        let i = info(c, "memory");
        if field(&i, "lazyfree_pending_objects") == 0 {
            return i;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "lazy free never finished");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn unlink_of_a_million_elements_does_not_stall_other_clients() {
    let s = start_redstart(&[]);
    let mut c = Conn::connect(s.port);
    let mut pinged_while_pending = 0;
    // 1,000,000 elements for the set; the other types 100,000 (the file stays within its time
    // budget on a debug build: they all take the same path).
    for (cmd, key, n) in
        [("SADD", "set", ELEMENTS), ("RPUSH", "list", 100_000), ("HSET", "hash", 100_000), ("ZADD", "zset", 100_000)]
    {
        fill_n(&mut c, cmd, key, n);
        let before = field(&info(&mut c, "memory"), "used_memory");
        let freed_before = field(&info(&mut c, "memory"), "lazyfreed_objects");
        let pinger = Pinger::start(s.port);
        // INFO runs right after UNLINK in the same batch: the value is still being freed.
        c.send_raw(&[encode(&[b"UNLINK", key.as_bytes(), b"nokey"]), b"INFO memory\r\n".to_vec()].concat());
        assert_eq!(c.read_reply(), b":1\r\n", "{key}");
        let i = body(&c.read_reply());
        // Freeing the million-member set takes long enough (hundreds of PINGs in a debug build)
        // to catch it pending reliably; the smaller values are too quick on a loaded machine
        // (a quicklist frees one block per packed node), so for them the proof that they went
        // to the thread is `lazyfreed_objects`, which only the thread increments.
        if n == ELEMENTS {
            assert_eq!(field(&i, "lazyfree_pending_objects"), 1, "{key}: UNLINK answered before the free");
        }
        assert_eq!(c.run("EXISTS set list hash zset"), b":0\r\n");
        // The pinger's replies keep coming after the UNLINK.
        pinger.wait_past(pinger.total.load(Ordering::Relaxed));
        let after = wait_freed(&mut c);
        let (_, while_pending) = pinger.finish();
        pinged_while_pending += while_pending;
        assert_eq!(field(&after, "lazyfreed_objects"), freed_before + 1, "{key}");
        let used = field(&after, "used_memory");
        assert!(used < before - n as u64 * 4, "{key}: used_memory {before} -> {used}");
    }
    // Over the four frees, other clients' commands ran while a free was in progress.
    assert!(pinged_while_pending > 0, "no PING answered while a free was pending");
}

#[test]
fn del_is_lazy_only_when_configured_and_flushes_follow_their_mode() {
    let s = start_redstart(&[]);
    let mut c = Conn::connect(s.port);
    fill(&mut c, "SADD", "k");
    // lazyfree-lazy-user-del no (the default): DEL frees before it answers.
    c.send_raw(b"DEL k\r\nINFO memory\r\n");
    assert_eq!(c.read_reply(), b":1\r\n");
    let i = body(&c.read_reply());
    assert_eq!((field(&i, "lazyfree_pending_objects"), field(&i, "lazyfreed_objects")), (0, 0));

    assert_eq!(c.run("CONFIG SET lazyfree-lazy-user-del yes"), b"+OK\r\n");
    fill(&mut c, "SADD", "k");
    // Only the lazyfree thread counts `lazyfreed_objects`.
    assert_eq!(c.run("DEL k"), b":1\r\n");
    assert_eq!(field(&wait_freed(&mut c), "lazyfreed_objects"), 1);
    // Small values are freed inline even when lazy.
    c.run("SADD small a b c");
    assert_eq!(c.run("DEL small"), b":1\r\n");
    assert_eq!(c.run("UNLINK small"), b":0\r\n");
    assert_eq!(field(&wait_freed(&mut c), "lazyfreed_objects"), 1);

    // FLUSHALL ASYNC counts one object per key; FLUSHALL SYNC frees inline.
    let sets: Vec<u8> = (0..1000).flat_map(|i| format!("SET key:{i} v\r\n").into_bytes()).collect();
    c.send_raw(&sets);
    for _ in 0..1000 {
        assert_eq!(c.read_reply(), b"+OK\r\n");
    }
    fill(&mut c, "SADD", "l");
    assert_eq!(c.run("FLUSHALL ASYNC"), b"+OK\r\n");
    assert_eq!(c.run("DBSIZE"), b":0\r\n");
    let freed = field(&wait_freed(&mut c), "lazyfreed_objects");
    assert_eq!(freed, 1 + 1001, "one object per flushed key (after the DEL above)");
    fill(&mut c, "RPUSH", "l");
    c.send_raw(b"FLUSHDB SYNC\r\nINFO memory\r\n");
    assert_eq!(c.read_reply(), b"+OK\r\n");
    assert_eq!(field(&body(&c.read_reply()), "lazyfreed_objects"), freed);
    // Without an argument, lazyfree-lazy-user-flush decides.
    assert_eq!(c.run("CONFIG SET lazyfree-lazy-user-flush yes"), b"+OK\r\n");
    fill(&mut c, "SADD", "s");
    assert_eq!(c.run("FLUSHDB"), b"+OK\r\n");
    assert_eq!(field(&wait_freed(&mut c), "lazyfreed_objects"), freed + 1);
}

fn client_line(c: &mut Conn, name: &str) -> String {
    let list = body(&c.run("CLIENT LIST"));
    list.lines()
        .find(|l| l.contains(&format!(" name={name} ")))
        .unwrap_or_else(|| panic!("{name} not listed"))
        .to_string()
}

fn client_field(line: &str, name: &str) -> u64 {
    let kv = line.split(' ').find(|kv| kv.starts_with(&format!("{name}="))).unwrap();
    kv[name.len() + 1..].parse().unwrap()
}

#[test]
fn a_large_command_leaves_no_read_buffer_behind() {
    let s = start_redstart(&[]);
    let mut c = Conn::connect(s.port);
    const BIG: u64 = 4 * 1024 * 1024;
    let used = |c: &mut Conn| field(&info(c, "memory"), "used_memory");
    let base = used(&mut c);
    c.cmd(&[b"SET", b"big", &vec![b'x'; BIG as usize]]);
    c.run("PING");
    // The value, and not the 4 MB (or more) buffer it was read into.
    let with_value = used(&mut c);
    assert!(with_value < base + BIG + BIG / 8, "used_memory {base} -> {with_value} for a {BIG}-byte value");
    assert_eq!(c.run("DEL big"), b":1\r\n");
    let after = used(&mut c);
    assert!(after < base + BIG / 8, "used_memory {base} -> {after} after DEL");
}

#[test]
fn pending_output_counts_as_client_memory() {
    let s = start_redstart(&[]);
    let mut c = Conn::connect(s.port);
    const BIG: usize = 4 * 1024 * 1024;
    c.cmd(&[b"SET", b"big", &vec![b'x'; BIG]]);
    // The 4 MB read buffer the SET needed is replaced at the next read: baseline after it.
    c.run("PING");
    let i = info(&mut c, "memory");
    let (used0, clients0) = (field(&i, "used_memory"), field(&i, "mem_clients_normal"));
    assert!(clients0 > 0 && clients0 < 1024 * 1024, "{clients0}");
    // A client that asks for 40 MB of replies and reads none of them.
    let mut slow = Conn::connect(s.port);
    slow.run("CLIENT SETNAME slow");
    slow.send_raw(&b"GET big\r\n".repeat(10));
    let start = Instant::now();
    let (used, clients) = loop {
        let i = info(&mut c, "memory");
        let (used, clients) = (field(&i, "used_memory"), field(&i, "mem_clients_normal"));
        if clients >= clients0 + BIG as u64 {
            break (used, clients);
        }
        assert!(start.elapsed() < Duration::from_secs(20), "mem_clients_normal stayed at {clients}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(used >= used0 + BIG as u64, "used_memory {used0} -> {used} (clients {clients})");
    let line = client_line(&mut c, "slow");
    assert!(client_field(&line, "tot-mem") >= BIG as u64, "{line}");
    assert!(client_field(&line, "omem") > 0 && client_field(&line, "obl") == 16384, "{line}");
    assert!(client_field(&line, "oll") > 0, "{line}");
    // Once the client reads its replies, the memory goes back.
    for _ in 0..10 {
        let r = slow.read_reply();
        assert_eq!(r.len(), BIG + 12);
    }
    let start = Instant::now();
    loop {
        let clients = field(&info(&mut c, "memory"), "mem_clients_normal");
        if clients < 1024 * 1024 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "mem_clients_normal stayed at {clients}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn maxmemory_clients_evicts_the_biggest_client_but_not_no_evict_ones() {
    let s = start_redstart(&[]);
    let mut c = Conn::connect(s.port);
    // 10% of maxmemory: an 8 MB limit.
    assert_eq!(c.run("CONFIG SET maxmemory 80mb"), b"+OK\r\n");
    assert_eq!(c.run("CONFIG SET maxmemory-clients 10%"), b"+OK\r\n");
    let evicted = |c: &mut Conn| field(&info(c, "stats"), "evicted_clients");
    assert_eq!(evicted(&mut c), 0);
    // A NO-EVICT client with a 2 MB command still arriving in its query buffer (the buffer's
    // capacity may reach twice that), then one with 12 MB.
    let command = |len: usize| format!("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n${len}\r\n");
    const KEEP: usize = 2 * 1024 * 1024;
    const BIG: usize = 12 * 1024 * 1024;
    let mut keep = Conn::connect(s.port);
    assert_eq!(keep.run("CLIENT NO-EVICT on"), b"+OK\r\n");
    keep.send_raw(command(KEEP + 1024).as_bytes());
    keep.send_raw(&vec![b'a'; KEEP]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(evicted(&mut c), 0, "the clients are under the 8 MB limit");
    let mut big = Conn::connect(s.port);
    big.send_raw(command(BIG + 1024).as_bytes());
    // The server may close the connection while the payload is still being sent.
    let _ = big.stream.write_all(&vec![b'b'; BIG]);
    assert!(big.is_closed(Duration::from_secs(10)), "the biggest evictable client is disconnected");
    assert_eq!(evicted(&mut c), 1);
    // The NO-EVICT client is still served.
    keep.send_raw(&[vec![b'a'; 1024], b"\r\n".to_vec()].concat());
    assert_eq!(keep.read_reply(), b"+OK\r\n");
    assert_eq!(c.run("STRLEN k"), format!(":{}\r\n", KEEP + 1024).as_bytes());
    // Its flag shows in CLIENT LIST, and goes away with OFF.
    keep.run("CLIENT SETNAME keep");
    assert!(client_line(&mut c, "keep").contains(" flags=e "));
    assert_eq!(keep.run("CLIENT NO-EVICT off"), b"+OK\r\n");
    assert!(client_line(&mut c, "keep").contains(" flags=N "));
    // With maxmemory-clients off nothing is evicted.
    assert_eq!(c.run("CONFIG SET maxmemory-clients 0"), b"+OK\r\n");
    let mut b2 = Conn::connect(s.port);
    b2.send_raw(command(BIG + 1024).as_bytes());
    b2.send_raw(&vec![b'b'; BIG]);
    assert!(!b2.is_closed(Duration::from_millis(500)));
    assert_eq!(evicted(&mut c), 1);
}

fn rss_pages(pid: u32) -> u64 {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).unwrap();
    statm.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Loads 100,000 keys with 200-byte values (tens of MB of small heap blocks), then deletes 99 in
/// 100: the freed blocks leave whole free pages between the survivors, which only malloc_trim
/// returns (the top of the heap is still in use). Returns the RSS pages before and when full.
fn fill_then_delete_99_percent(c: &mut Conn, pid: u32) -> (u64, u64) {
    let base = rss_pages(pid);
    for chunk in 0..100 {
        let mut batch = Vec::new();
        for i in 0..1000 {
            batch.extend_from_slice(&encode(&[b"SET", format!("key:{chunk}:{i}").as_bytes(), &[b'v'; 200]]));
        }
        c.send_raw(&batch);
        for _ in 0..1000 {
            assert_eq!(c.read_reply(), b"+OK\r\n");
        }
    }
    let full = rss_pages(pid);
    assert!(full > base + 2_500, "RSS grew by {} pages", full - base);
    for chunk in 0..100 {
        let mut batch = Vec::new();
        for i in (0..1000).filter(|i| i % 100 != 0) {
            batch.extend_from_slice(&encode(&[b"DEL", format!("key:{chunk}:{i}").as_bytes()]));
        }
        c.send_raw(&batch);
        for _ in 0..990 {
            assert_eq!(c.read_reply(), b":1\r\n");
        }
    }
    (base, full)
}

#[test]
fn memory_purge_returns_freed_heap_to_the_system() {
    let s = start_redstart(&[]);
    let pid = s.child.id();
    let mut c = Conn::connect(s.port);
    let (base, full) = fill_then_delete_99_percent(&mut c, pid);
    let deleted = rss_pages(pid);
    assert_eq!(c.run("MEMORY PURGE"), b"+OK\r\n");
    let purged = rss_pages(pid);
    let figures = format!("RSS pages: {base} at start, {full} full, {deleted} after DEL, {purged} after PURGE");
    // glibc keeps the free pages between live blocks until trimmed. The server's own periodic
    // trim may already have given some back after the DELs; after PURGE at least half of what
    // the keys had taken is returned (measured: about 70-85%), and PURGE never adds any.
    assert!(purged <= deleted + 16, "{figures}");
    assert!(purged + (full - base) / 2 < full, "{figures}");
    // The remaining keys are intact.
    assert_eq!(c.run("DBSIZE"), b":1000\r\n");
    assert_eq!(c.run("STRLEN key:7:100"), b":200\r\n");
}

/// Without MEMORY PURGE: the server's once-a-second check trims the heap by itself when much
/// freed memory stays resident (`alloc::release_free_memory`).
#[test]
fn freed_memory_is_returned_without_purge() {
    let s = start_redstart(&[]);
    let pid = s.child.id();
    let mut c = Conn::connect(s.port);
    let (base, full) = fill_then_delete_99_percent(&mut c, pid);
    // Within a few seconds at least half of what the keys had taken is resident no more.
    let t = Instant::now();
    let mut now = rss_pages(pid);
    while now + (full - base) / 2 >= full && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(100));
        now = rss_pages(pid);
    }
    assert!(now + (full - base) / 2 < full, "RSS pages: {base} at start, {full} full, {now} after DEL");
    assert_eq!(c.run("DBSIZE"), b":1000\r\n");
}

#[test]
fn implicit_deletes_follow_server_del_and_expire_flags() {
    let s = start_redstart(&[]);
    let mut c = Conn::connect(s.port);
    let freed = |c: &mut Conn| field(&wait_freed(c), "lazyfreed_objects");
    let big = |c: &mut Conn, key: &str| {
        let members: Vec<String> = (0..500).map(|i| format!("m{i}")).collect();
        assert_eq!(c.run(&format!("SADD {key} {}", members.join(" "))), b":500\r\n");
    };
    // Flags off: RENAME over a large destination, COPY REPLACE and EXPIRE in the past free inline.
    big(&mut c, "a");
    big(&mut c, "b");
    assert_eq!(c.run("RENAME a b"), b"+OK\r\n");
    big(&mut c, "a");
    assert_eq!(c.run("COPY a b REPLACE"), b":1\r\n");
    assert_eq!(c.run("EXPIRE a 0"), b":1\r\n");
    assert_eq!(freed(&mut c), 0);
    // lazyfree-lazy-server-del: the replaced destinations go to the thread.
    assert_eq!(c.run("CONFIG SET lazyfree-lazy-server-del yes"), b"+OK\r\n");
    big(&mut c, "a");
    assert_eq!(c.run("RENAME a b"), b"+OK\r\n");
    assert_eq!(freed(&mut c), 1);
    big(&mut c, "a");
    assert_eq!(c.run("COPY a b REPLACE"), b":1\r\n");
    assert_eq!(freed(&mut c), 2);
    assert_eq!(c.run("EXPIRE a 0"), b":1\r\n");
    assert_eq!(freed(&mut c), 2, "EXPIRE follows lazyfree-lazy-expire, not server-del");
    // A value overwritten by SET is a server-side delete too.
    big(&mut c, "a");
    assert_eq!(c.run("SET a plain"), b"+OK\r\n");
    assert_eq!(freed(&mut c), 3);
    assert_eq!(c.run("DEL a"), b":1\r\n");
    // lazyfree-lazy-expire: EXPIRE into the past, and a key found expired by a lookup.
    assert_eq!(c.run("CONFIG SET lazyfree-lazy-expire yes"), b"+OK\r\n");
    assert_eq!(c.run("PEXPIREAT b 1"), b":1\r\n");
    assert_eq!(freed(&mut c), 4);
    big(&mut c, "a");
    assert_eq!(c.run("PEXPIRE a 1"), b":1\r\n");
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(c.run("EXISTS a"), b":0\r\n");
    assert_eq!(freed(&mut c), 5);
    assert_eq!(c.run("DBSIZE"), b":0\r\n");
}

#[test]
fn maxmemory_clients_counts_pending_output() {
    let s = start_redstart(&[]);
    let mut c = Conn::connect(s.port);
    c.cmd(&[b"SET", b"big", &vec![b'x'; 4 * 1024 * 1024]]);
    // The 4 MB read buffer this took is given back once drained: this client stays small.
    assert_eq!(c.run("CONFIG SET maxmemory-clients 2mb"), b"+OK\r\n");
    assert!(field(&info(&mut c, "memory"), "mem_clients_normal") < 1024 * 1024);
    // A client that asks for 40 MB of replies and does not read them goes over the limit.
    let mut slow = Conn::connect(s.port);
    slow.send_raw(&b"GET big\r\n".repeat(10));
    assert!(slow.is_closed(Duration::from_secs(20)), "the client holding the replies is evicted");
    assert_eq!(field(&info(&mut c, "stats"), "evicted_clients"), 1);
    assert_eq!(c.run("PING"), b"+PONG\r\n");
}

/// A stream's free effort is Redis's estimate (nodes, plus per group one and the first group's
/// pending entries): a one-node stream with two groups of 100 pending entries goes to the
/// lazyfree thread on UNLINK and counts one object, on both servers; a small one is freed
/// inline and counts none.
#[test]
fn stream_free_effort_counts_pending_entries_as_redis() {
    let ours = start_redstart(&[]);
    let theirs = start_redis(&[]);
    let mut counts = Vec::new();
    for port in [ours.port, theirs.port] {
        let mut c = Conn::connect(port);
        for (key, pending) in [("small", 3), ("big", 100)] {
            for i in 0..pending {
                c.run(&format!("XADD {key} 1-{} f v", i + 1));
            }
            c.run(&format!("XGROUP CREATE {key} g1 0"));
            c.run(&format!("XGROUP CREATE {key} g2 0"));
            c.run(&format!("XREADGROUP GROUP g1 c STREAMS {key} >"));
            c.run(&format!("XREADGROUP GROUP g2 c STREAMS {key} >"));
            let before = field(&wait_freed(&mut c), "lazyfreed_objects");
            assert_eq!(c.run(&format!("UNLINK {key}")), b":1\r\n");
            let start = Instant::now();
            let mut freed;
            loop {
                freed = field(&wait_freed(&mut c), "lazyfreed_objects") - before;
                // A deferred free is counted once the thread ran: give it a moment.
                if freed > 0 || start.elapsed() > Duration::from_millis(300) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            counts.push((port == ours.port, key, freed));
        }
    }
    assert_eq!(
        counts[..2].iter().map(|c| c.2).collect::<Vec<_>>(),
        counts[2..].iter().map(|c| c.2).collect::<Vec<_>>(),
        "{counts:?}"
    );
    assert_eq!(counts[1].2, 1, "{counts:?}");
}
