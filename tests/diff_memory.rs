//! Differential tests of the memory family against redis-server: CONFIG round trips of the
//! memory directives, MEMORY subcommand errors, the OOM error under `noeviction`, OBJECT FREQ.
//! Memory figures themselves differ by design (different layouts): those replies are compared
//! by type and invariant only.

mod common;
use common::*;

#[test]
fn config_round_trips_of_memory_directives() {
    let mut p = Pair::new();
    p.check_all(&[
        "CONFIG SET maxmemory 100mb",
        "CONFIG GET maxmemory",
        "CONFIG SET maxmemory 1gb",
        "CONFIG GET maxmemory",
        "CONFIG SET maxmemory 12345",
        "CONFIG GET maxmemory",
        "CONFIG SET maxmemory 3k",
        "CONFIG GET maxmemory",
        "CONFIG SET maxmemory abc",
        "CONFIG SET maxmemory -1",
        "CONFIG SET maxmemory 1.5mb",
        "CONFIG SET maxmemory 0",
        "CONFIG GET maxmemory",
        "CONFIG GET maxmemory-policy",
        "CONFIG SET maxmemory-policy foo",
        "CONFIG SET maxmemory-policy",
        "CONFIG SET maxmemory-samples 0",
        "CONFIG SET maxmemory-samples -3",
        "CONFIG SET maxmemory-samples x",
        "CONFIG SET maxmemory-samples 10",
        "CONFIG GET maxmemory-samples",
        "CONFIG SET maxmemory-eviction-tenacity 101",
        "CONFIG SET maxmemory-eviction-tenacity 50",
        "CONFIG GET maxmemory-eviction-tenacity",
        "CONFIG SET lfu-log-factor -1",
        "CONFIG SET lfu-log-factor 20",
        "CONFIG GET lfu-log-factor",
        "CONFIG SET lfu-decay-time -1",
        "CONFIG SET lfu-decay-time 5",
        "CONFIG GET lfu-decay-time",
        "CONFIG SET lazyfree-lazy-eviction yes",
        "CONFIG GET lazyfree-lazy-eviction",
        "CONFIG SET lazyfree-lazy-eviction maybe",
    ]);
    for policy in [
        "noeviction",
        "allkeys-lru",
        "allkeys-lfu",
        "allkeys-random",
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "VOLATILE-TTL",
    ] {
        p.check(&format!("CONFIG SET maxmemory-policy {policy}"));
        p.check("CONFIG GET maxmemory-policy");
    }
}

#[test]
fn memory_subcommand_errors() {
    let mut p = Pair::new();
    p.check_all(&[
        "SET foo bar",
        "MEMORY",
        "MEMORY foo",
        "MEMORY USAGE",
        "MEMORY USAGE nokey",
        "MEMORY USAGE foo SAMPLES",
        "MEMORY USAGE foo SAMPLES -1",
        "MEMORY USAGE foo SAMPLES x",
        "MEMORY USAGE foo SAMPLES 99999999999999999999",
        "MEMORY USAGE foo bar 1",
        "MEMORY USAGE foo SAMPLES 1 2",
        "MEMORY USAGE nokey SAMPLES x",
        "MEMORY PURGE",
        "MEMORY PURGE x",
        "MEMORY DOCTOR x",
        "MEMORY STATS x",
        "MEMORY MALLOC-STATS x",
        "MEMORY HELP",
        "MEMORY help",
        "MEMORY HELP x",
    ]);
    p.check_args(&[b"MEMORY", b"USAGE", b"\xff\x00missing"]);
    // Sizes are implementation-specific: an integer on both sides.
    for line in ["MEMORY USAGE foo", "MEMORY USAGE foo SAMPLES 0", "MEMORY usage foo samples 3"] {
        let (a, b) = p.both(line);
        assert!(a.starts_with(b":") && b.starts_with(b":"), "{line}: {} / {}", text(&a), text(&b));
        assert!(text(&a)[1..].trim().parse::<i64>().unwrap() > 0);
    }
    // Collections of every type report a positive size.
    p.both("RPUSH l a b c");
    p.both("HSET h f v");
    p.both("SADD s 1 2 x");
    p.both("ZADD z 1 a 2 b");
    p.both("XADD x 1-1 f v");
    for k in ["l", "h", "s", "z", "x"] {
        let (a, _) = p.both(&format!("MEMORY USAGE {k} SAMPLES 0"));
        assert!(a.starts_with(b":") && text(&a)[1..].trim().parse::<i64>().unwrap() > 0, "{k}: {}", text(&a));
    }
    let (a, b) = p.both("MEMORY STATS");
    assert!(a.starts_with(b"*") && b.starts_with(b"*"));
    assert!(text(&a).contains("peak.allocated") && text(&a).contains("keys.count") && text(&a).contains("db.0"));
    let (a, b) = p.both("MEMORY DOCTOR");
    assert!(a.starts_with(b"$") && b.starts_with(b"$"));
    p.resp3();
    p.check("MEMORY USAGE nokey");
    let (a, b) = p.both("MEMORY STATS");
    assert!(a.starts_with(b"%") && b.starts_with(b"%"), "{}", text(&a));
    let (a, b) = p.both("MEMORY DOCTOR");
    assert!(a.starts_with(b"=") && b.starts_with(b"="), "{}", text(&a));
}

#[test]
fn oom_error_under_noeviction() {
    // 1 byte: every server is over the limit at once.
    let mut p = Pair::new();
    p.check_all(&["SET keep v", "RPUSH list a", "CONFIG SET maxmemory 1", "CONFIG GET maxmemory-policy"]);
    p.check_all(&[
        "SET k v",
        "SET keep other",
        "RPUSH list b",
        "INCR n",
        "SETNX k v",
        "HSET h f v",
        "GET keep",
        "LRANGE list 0 -1",
        "EXISTS keep",
        "EXPIRE keep 100",
        "PERSIST keep",
        "DEL keep",
        "GET keep",
        "DEL list",
        "PING",
        // In MULTI every queued command is refused and EXEC aborts; DISCARD still works.
        "MULTI",
        "GET keep",
        "SET k v",
        "EXEC",
        "MULTI",
        "DISCARD",
        "CONFIG SET maxmemory 0",
        "SET k v",
        "GET k",
    ]);
}

#[test]
fn object_freq_follows_the_lfu_counter() {
    let mut p = Pair::new();
    p.check_all(&[
        "SET f v",
        "OBJECT FREQ f",
        "CONFIG SET maxmemory-policy allkeys-lfu",
        // A new key starts at 5; the first access always increments (probability 1).
        "SET g v",
        "OBJECT FREQ g",
        "GET g",
        "OBJECT FREQ g",
        "OBJECT FREQ nokey",
        "OBJECT IDLETIME g",
        "SET h v",
        "SET h w",
        "OBJECT FREQ h",
        "CONFIG SET maxmemory-policy allkeys-lru",
        "OBJECT FREQ g",
    ]);
}

#[test]
fn exec_with_a_queued_write_is_refused_on_oom() {
    let mut p = Pair::new();
    let (mut a2, mut b2) = p.conns();
    p.check_all(&["MULTI", "GET k", "SET k v"]);
    a2.run("CONFIG SET maxmemory 1");
    b2.run("CONFIG SET maxmemory 1");
    p.check_all(&["EXEC", "GET k", "MULTI", "DISCARD"]);
    a2.run("CONFIG SET maxmemory 0");
    b2.run("CONFIG SET maxmemory 0");
    p.check_all(&["MULTI", "GET k", "CONFIG SET maxmemory 1", "EXEC", "SET x y"]);
    // A transaction of reads only runs over the limit.
    p.check_all(&["MULTI", "CONFIG SET maxmemory 0"]);
    p.check_all(&["GET k", "EXEC", "SET k v", "MULTI", "GET k", "EXEC"]);
}
