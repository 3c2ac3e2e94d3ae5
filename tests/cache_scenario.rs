//! Seed 002's cache deployment, end to end with the `redis` crate against redstart configured as
//! that seed's managed Redis: `maxmemory 64mb`, `maxmemory-policy allkeys-lru`.
//!
//! Four client threads run the seed's usage patterns over a working set about twice the memory
//! limit (≈ 135 MB of values):
//! - sessions: `GET session:{user}`, on a miss `SETEX session:{user} 1800 <1 KB json>`
//!   (30-minute TTL), sometimes refreshed with SETEX on a hit;
//! - API response caching: `GET api:cache:{endpoint}:{hash}`, on a miss
//!   `SET ... <8 KB json> EX 300` (5-minute TTL);
//! - rate limiting: `INCR ratelimit:{ip}:{endpoint}`, then `EXPIRE ... 60` when the count is 1;
//! - cache-aside reads of user profiles: `GET user:profile:{id}`, on a miss `SET` (no TTL).
//!
//! Keys are drawn with a skew (the square of a uniform number), so some keys are hot and the
//! hit rate is meaningful. The run is bounded by operation count, not time. Meanwhile a monitor
//! connection sends PING and `INFO memory` repeatedly. Asserted: the server answers the
//! monitor's PING during the load, `used_memory` (less `mem_not_counted_for_evict`, which
//! `maxmemory` does not limit) stays within a margin of the limit at every sample, eviction
//! happened (`evicted_keys` > 0), `keyspace_hits` and `keyspace_misses` are reported with a hit
//! rate above 0, and no command returned an error (under allkeys-lru there is always a key to
//! evict, so OOM must never be answered). There are no timing assertions. The same scenario
//! runs against redis-server too, so the expectations are checked to be Redis's.
mod common;
use common::*;
use redis::Connection;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const LIMIT: u64 = 64 * 1024 * 1024;
const WORKERS: u64 = 4;
/// Operations per worker: enough writes to fill the limit about twice over.
const OPS: u64 = 15_000;
const SESSIONS: u64 = 20_000; // × 1 KB
const API_KEYS: u64 = 12_000; // × 8 KB
const PROFILES: u64 = 8_000; // × 2 KB
const IPS: u64 = 5_000;

fn conn(port: u16) -> Connection {
    let c = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap().get_connection().unwrap();
    // Generous: the machine is shared; a hang still ends the test instead of blocking it.
    c.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    c
}

/// xorshift64*: deterministic per worker, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// A key index in 0..n, skewed towards small indices (hot keys).
    fn skewed(&mut self, n: u64) -> u64 {
        let u = self.unit();
        ((u * u * n as f64) as u64).min(n - 1)
    }
}

/// A JSON-looking document of about `size` bytes.
fn json(kind: &str, id: u64, size: usize) -> String {
    let mut s = format!("{{\"kind\":\"{kind}\",\"id\":{id},\"data\":\"");
    while s.len() + 2 < size {
        s.push_str("abcdefghijklmnopqrstuvwxyz0123456789"); // 36 bytes
    }
    s.truncate(size - 2);
    s.push_str("\"}");
    s
}

#[derive(Default, Debug)]
struct Counts {
    hits: u64,
    misses: u64,
    errors: Vec<String>,
}

fn worker(port: u16, seed: u64) -> Counts {
    let mut c = conn(port);
    let mut r = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut n = Counts::default();
    let session = json("session", 0, 1024);
    let api = json("api", 0, 8 * 1024);
    let profile = json("profile", 0, 2 * 1024);
    let err = |n: &mut Counts, what: &str, e: redis::RedisError| {
        if n.errors.len() < 10 {
            n.errors.push(format!("{what}: {e}"));
        }
    };
    for _ in 0..OPS {
        let pick = r.next() % 10;
        if pick < 2 {
            // Session lookup / creation / refresh.
            let key = format!("session:{}", r.skewed(SESSIONS));
            match redis::cmd("GET").arg(&key).query::<Option<Vec<u8>>>(&mut c) {
                Ok(Some(v)) => {
                    n.hits += 1;
                    assert_eq!(v.len(), 1024, "{key}: a session value came back damaged");
                    if r.next().is_multiple_of(4) {
                        if let Err(e) = redis::cmd("SETEX").arg(&key).arg(1800).arg(&session).query::<()>(&mut c) {
                            err(&mut n, "SETEX", e);
                        }
                    }
                }
                Ok(None) => {
                    n.misses += 1;
                    if let Err(e) = redis::cmd("SETEX").arg(&key).arg(1800).arg(&session).query::<()>(&mut c) {
                        err(&mut n, "SETEX", e);
                    }
                }
                Err(e) => err(&mut n, "GET", e),
            }
        } else if pick < 6 {
            // API response cache, 5-minute TTL.
            let endpoint = ["users", "orders", "search", "stats"][(r.next() % 4) as usize];
            let key = format!("api:cache:{endpoint}:{:016x}", r.skewed(API_KEYS / 4));
            match redis::cmd("GET").arg(&key).query::<Option<Vec<u8>>>(&mut c) {
                Ok(Some(v)) => {
                    n.hits += 1;
                    assert_eq!(v.len(), 8 * 1024, "{key}: an API response came back damaged");
                }
                Ok(None) => {
                    n.misses += 1;
                    if let Err(e) = redis::cmd("SET").arg(&key).arg(&api).arg("EX").arg(300).query::<()>(&mut c) {
                        err(&mut n, "SET EX", e);
                    }
                }
                Err(e) => err(&mut n, "GET", e),
            }
        } else if pick < 8 {
            // Rate-limit counter: INCR, EXPIRE on the first hit of the window.
            let key = format!("ratelimit:10.0.{}.{}:/api/v1/items", r.skewed(IPS) / 256, r.skewed(IPS) % 256);
            match redis::cmd("INCR").arg(&key).query::<i64>(&mut c) {
                Ok(1) => {
                    if let Err(e) = redis::cmd("EXPIRE").arg(&key).arg(60).query::<i64>(&mut c) {
                        err(&mut n, "EXPIRE", e);
                    }
                }
                Ok(v) => assert!(v > 1, "{key}: INCR answered {v}"),
                Err(e) => err(&mut n, "INCR", e),
            }
        } else {
            // Cache-aside profile read: GET, on a miss "load from the database" and SET.
            let key = format!("user:profile:{}", r.skewed(PROFILES));
            match redis::cmd("GET").arg(&key).query::<Option<Vec<u8>>>(&mut c) {
                Ok(Some(_)) => n.hits += 1,
                Ok(None) => {
                    n.misses += 1;
                    if let Err(e) = redis::cmd("SET").arg(&key).arg(&profile).query::<()>(&mut c) {
                        err(&mut n, "SET", e);
                    }
                }
                Err(e) => err(&mut n, "GET", e),
            }
        }
    }
    n
}

fn info_field(info: &str, field: &str) -> u64 {
    let line = info
        .lines()
        .find(|l| l.starts_with(&format!("{field}:")))
        .unwrap_or_else(|| panic!("INFO has no {field}:\n{info}"));
    line[field.len() + 1..].trim().parse().unwrap_or_else(|_| panic!("bad {line}"))
}

/// Memory counted against `maxmemory`, and `used_memory` itself.
fn memory(c: &mut Connection) -> (u64, u64) {
    let info: String = redis::cmd("INFO").arg("memory").query(c).unwrap();
    let used = info_field(&info, "used_memory");
    let slack = info_field(&info, "mem_not_counted_for_evict");
    (used.saturating_sub(slack), used)
}

const ARGS: [&str; 4] = ["--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"];

#[test]
fn seed_002_cache_under_allkeys_lru() {
    let s = start_redstart(&ARGS);
    scenario(s.port);
}

/// The same scenario against redis-server: the expectations above are Redis's behaviour, not
/// redstart's own.
#[test]
fn seed_002_cache_under_allkeys_lru_oracle() {
    let s = start_redis(&ARGS);
    scenario(s.port);
}

fn scenario(port: u16) {
    let done = Arc::new(AtomicBool::new(false));
    let monitor = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut c = conn(port);
            let (mut pings, mut max_counted, mut max_used) = (0u64, 0u64, 0u64);
            while !done.load(Ordering::Relaxed) {
                let pong: String = redis::cmd("PING").query(&mut c).expect("PING during the load");
                assert_eq!(pong, "PONG");
                pings += 1;
                let (counted, used) = memory(&mut c);
                max_counted = max_counted.max(counted);
                max_used = max_used.max(used);
                std::thread::sleep(Duration::from_millis(100));
            }
            (pings, max_counted, max_used)
        })
    };

    let workers: Vec<_> = (0..WORKERS).map(|i| std::thread::spawn(move || worker(port, i + 1))).collect();
    let counts: Vec<Counts> = workers.into_iter().map(|w| w.join().expect("worker panicked")).collect();
    done.store(true, Ordering::Relaxed);
    let (pings, max_counted, max_used) = monitor.join().expect("monitor panicked");

    let mut c = conn(port);
    let errors: Vec<&String> = counts.iter().flat_map(|n| &n.errors).collect();
    assert!(errors.is_empty(), "commands failed under allkeys-lru: {errors:?}");
    let (hits, misses) = counts.iter().fold((0, 0), |(h, m), n| (h + n.hits, m + n.misses));

    let stats: String = redis::cmd("INFO").arg("stats").query(&mut c).unwrap();
    let evicted = info_field(&stats, "evicted_keys");
    let khits = info_field(&stats, "keyspace_hits");
    let kmisses = info_field(&stats, "keyspace_misses");
    let (counted, used) = memory(&mut c);
    let dbsize: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    eprintln!(
        "port {port}: pings {pings}; max counted {max_counted}, max used {max_used}, final counted {counted} used {used}; \
         evicted_keys {evicted}; keyspace hits {khits} misses {kmisses}; client hits {hits} misses {misses}; \
         dbsize {dbsize}"
    );

    // The server stayed responsive: the monitor's PINGs were answered during the load (the
    // first one is sent before the workers start, the loop runs until they finish).
    assert!(pings >= 1);
    let pong: String = redis::cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG");

    // Memory stayed near the limit (a command in flight and unflushed per-thread allocation
    // counters may overshoot a little), and the instance was really used up to it.
    let margin = LIMIT / 8;
    assert!(max_counted <= LIMIT + margin, "counted memory peaked at {max_counted}, limit {LIMIT}");
    assert!(max_used <= LIMIT * 3 / 2, "used_memory peaked at {max_used}");
    assert!(counted <= LIMIT + margin, "final counted memory {counted}");
    assert!(counted >= LIMIT / 2, "counted memory {counted}: the working set should have filled the instance");

    // The working set is about twice the memory: keys were evicted.
    assert!(evicted > 0, "no key was evicted");

    // Hit/miss counters are reported and agree with what the clients saw: every GET the clients
    // counted is a keyspace lookup (INCR and SET do not count), so the server's figures are at
    // least the clients'.
    assert!(khits >= hits && khits > 0, "keyspace_hits {khits}, client hits {hits}");
    assert!(kmisses >= misses && kmisses > 0, "keyspace_misses {kmisses}, client misses {misses}");
    let rate = khits as f64 / (khits + kmisses) as f64;
    assert!(rate > 0.0 && rate < 1.0, "hit rate {rate}");
}
