//! HyperLogLog against redis-server: every command, option and error byte for byte; the
//! representation itself (the same bytes after the same PFADDs, sparse-to-dense promotion at
//! the same add under several `hll-sparse-max-bytes`, PFMERGE of sparse/dense mixes); values
//! carried both ways by GET/SET, DUMP/RESTORE and RDB files with equal counts; damaged values
//! (random bytes changed, truncated, extended) answered alike, redstart never crashing; object
//! encodings, keyspace events, WATCH and transactions.
//!
//! Redis 7.0 (the oracle) and 7.2 do not differ for these commands (PFDEBUG is not gated by
//! `enable-debug-command` in either).

mod common;
use common::*;
use std::time::Duration;

/// xorshift64*: seeded, so every run adds the same elements.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    /// A random element: mostly short words, sometimes binary or long.
    fn element(&mut self) -> Vec<u8> {
        match self.below(10) {
            0 => (0..self.below(40)).map(|_| self.next() as u8).collect(),
            1 => vec![b'e'; 1 + self.below(200) as usize],
            _ => format!("el:{}", self.next() % 1_000_000_000).into_bytes(),
        }
    }
}

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).replace("\r\n", "\\r\\n")
}

/// The body of a bulk reply (panics on anything else).
fn bulk(reply: &[u8]) -> Vec<u8> {
    assert_eq!(reply[0], b'$', "not a bulk reply: {}", show(reply));
    let nl = reply.iter().position(|&b| b == b'\r').unwrap();
    let n: usize = std::str::from_utf8(&reply[1..nl]).unwrap().parse().unwrap();
    reply[nl + 2..nl + 2 + n].to_vec()
}

fn get(c: &mut Conn, key: &[u8]) -> Vec<u8> {
    bulk(&c.cmd(&[b"GET", key]))
}

fn set(c: &mut Conn, key: &[u8], value: &[u8]) {
    assert_eq!(c.cmd(&[b"SET", key, value]), b"+OK\r\n");
}

/// `PFADD key elements..` on both, comparing the replies.
fn pfadd(p: &mut Pair, key: &[u8], elements: &[Vec<u8>]) -> Vec<u8> {
    let mut args: Vec<&[u8]> = vec![b"PFADD", key];
    args.extend(elements.iter().map(|e| e.as_slice()));
    p.check_args(&args)
}

/// Both servers hold the same bytes at `key`, and the same encoding.
fn same_value(p: &mut Pair, key: &[u8], what: &str) {
    let (a, b) = (get(&mut p.a, key), get(&mut p.b, key));
    assert!(a == b, "{what}: values of {} differ ({} and {} bytes)", show(key), a.len(), b.len());
    p.check_args(&[b"PFDEBUG", b"ENCODING", key]);
}

#[test]
fn commands_errors_and_replies_as_redis() {
    let mut p = Pair::new();
    for resp3 in [false, true] {
        if resp3 {
            p.check("FLUSHALL");
            p.resp3();
        }
        p.check_all(&[
            // Arity.
            "PFADD",
            "PFCOUNT",
            "PFMERGE",
            "PFDEBUG",
            "PFDEBUG ENCODING",
            "PFDEBUG ENCODING h x",
            "PFSELFTEST x",
            // Creation without elements, then adds.
            "PFADD h",
            "PFADD h",
            "GET h",
            "PFCOUNT h",
            "GET h",
            "PFADD h a b c",
            "PFADD h a",
            "PFADD h A",
            "PFADD h a a a a",
            "GET h",
            "PFCOUNT h",
            "PFCOUNT h",
            "GET h",
            "PFCOUNT missing",
            "PFCOUNT h missing",
            "PFCOUNT missing1 missing2",
            "PFCOUNT h h h",
            "EXISTS missing missing1",
            // PFDEBUG.
            "PFDEBUG ENCODING h",
            "PFDEBUG encoding h",
            "PFDEBUG DECODE h",
            "PFDEBUG GETREG missing",
            "PFDEBUG nosuch missing",
            "PFDEBUG nosuch h",
            "PFDEBUG ENCODING missing",
            "PFDEBUG TODENSE h",
            "PFDEBUG TODENSE h",
            "PFDEBUG DECODE h",
            "PFDEBUG ENCODING h",
            "PFCOUNT h",
            "PFADD h d",
            "PFCOUNT h",
            "GET h",
            "PFADD g x y z",
            "PFDEBUG GETREG g",
            "PFDEBUG ENCODING g",
            "GET g",
            // PFMERGE: the destination alone, missing sources, sparse and dense inputs.
            "PFMERGE m",
            "GET m",
            "PFMERGE m missing",
            "PFCOUNT m",
            "PFADD s1 a b",
            "PFMERGE m s1",
            "PFDEBUG ENCODING m",
            "GET m",
            "PFMERGE m h",
            "PFDEBUG ENCODING m",
            "PFCOUNT m",
            "PFMERGE m2 s1 missing s1",
            "PFDEBUG ENCODING m2",
            "GET m2",
            // Strings that are not HLLs, other types.
            "SET s hello",
            "PFADD s a",
            "PFADD s",
            "PFCOUNT s",
            "PFCOUNT h s",
            "PFCOUNT missing s",
            "PFMERGE h s",
            "PFMERGE s h",
            "PFMERGE missing2 s",
            "EXISTS missing2",
            "PFDEBUG ENCODING s",
            "PFDEBUG nosuch s",
            "SET i 123",
            "PFCOUNT i",
            "PFADD i x",
            "PFDEBUG GETREG i",
            "SET short HYLL",
            "PFCOUNT short",
            "SET hdr HYLLxxxxxxxxxxxx",
            "PFCOUNT hdr",
            "RPUSH l a",
            "PFADD l",
            "PFADD l a",
            "PFCOUNT l",
            "PFCOUNT h l",
            "PFCOUNT l h",
            "PFMERGE l h",
            "PFMERGE h l",
            "PFDEBUG GETREG l",
            "PFDEBUG nosuch l",
            "TYPE h",
            "OBJECT ENCODING h",
            "STRLEN h",
            "STRLEN g",
        ]);
        // Subcommands compare as C strings, case-insensitively.
        p.check_args(&[b"PFDEBUG", b"encoding\0junk", b"h"]);
        p.check_args(&[b"PFDEBUG", b"EnCoDiNg", b"h"]);
        p.check_args(&[b"PFDEBUG", b"bad\0junk", b"h"]);
        // Binary elements and keys.
        p.check_args(&[b"PFADD", b"\x00k\xff", b"", b"\x00", b"\r\n", &[0xff; 100]]);
        p.check_args(&[b"PFCOUNT", b"\x00k\xff"]);
        p.check_args(&[b"GET", b"\x00k\xff"]);
        // An HLL in another database, and the command inside MULTI.
        p.check_all(&["SELECT 1", "PFADD h x", "PFCOUNT h", "SELECT 0", "MULTI", "PFADD t a", "PFCOUNT t"]);
        p.check_all(&["PFMERGE t h", "PFDEBUG ENCODING t", "PFDEBUG TODENSE t", "EXEC", "GET t"]);
    }
    p.check("PFSELFTEST");
}

/// The same elements added one by one give the same bytes on both servers after every add, and
/// the switch from sparse to dense happens at the same add, for several limits (set on the
/// command line and by CONFIG SET, which takes effect at once).
#[test]
fn same_bytes_and_promotion_point() {
    for (args, runtime) in [(vec![], None), (vec!["--hll-sparse-max-bytes", "200"], Some("700")), (vec![], Some("0"))] {
        let mut p = Pair::with_args(&args);
        for round in 0..2 {
            if round == 1 {
                let Some(limit) = runtime else { break };
                p.check(&format!("CONFIG SET hll-sparse-max-bytes {limit}"));
                p.check("CONFIG GET hll-sparse-max-bytes");
                p.check("FLUSHALL");
            }
            let mut rng = Rng::new(7 + round);
            let mut switched_at = None;
            for i in 0..3500 {
                let n = if i % 10 == 0 { 1 + rng.below(5) as usize } else { 1 };
                let els: Vec<Vec<u8>> = (0..n).map(|_| rng.element()).collect();
                pfadd(&mut p, b"k", &els);
                let enc = p.check("PFDEBUG ENCODING k");
                if switched_at.is_none() && enc == b"+dense\r\n" {
                    switched_at = Some(i);
                }
                if i % 7 == 0 || switched_at == Some(i) {
                    same_value(&mut p, b"k", &format!("after add {i} ({args:?}, limit {runtime:?})"));
                }
                if i % 50 == 0 {
                    p.check("PFCOUNT k");
                }
            }
            assert!(switched_at.is_some(), "never became dense ({args:?}, {runtime:?})");
            same_value(&mut p, b"k", "at the end");
            p.check("PFCOUNT k");
        }
    }
}

/// A value built by one server, carried to the other by GET/SET and by DUMP/RESTORE, counts
/// the same there, and both keep producing the same bytes as elements keep arriving.
#[test]
fn values_carried_both_ways() {
    let mut p = Pair::new();
    let mut rng = Rng::new(42);
    for (round, &size) in [0usize, 1, 10, 150, 900, 2500, 20_000].iter().enumerate() {
        for ours_first in [true, false] {
            let key = format!("x{round}{ours_first}").into_bytes();
            let elements: Vec<Vec<u8>> = (0..size).map(|_| rng.element()).collect();
            // Built on one side only.
            let (from, to) = if ours_first { (&mut p.a, &mut p.b) } else { (&mut p.b, &mut p.a) };
            let mut args: Vec<&[u8]> = vec![b"PFADD", &key];
            from.cmd(&args);
            for chunk in elements.chunks(100) {
                args.truncate(2);
                args.extend(chunk.iter().map(|e| e.as_slice()));
                from.cmd(&args);
            }
            let value = get(from, &key);
            set(to, &key, &value);
            p.check_args(&[b"PFCOUNT", &key]);
            same_value(&mut p, &key, "after GET/SET and PFCOUNT");
            // DUMP/RESTORE in the other direction, under another key.
            let restored = [&key[..], b"r"].concat();
            let (src, dst) = if ours_first { (&mut p.b, &mut p.a) } else { (&mut p.a, &mut p.b) };
            let dump = bulk(&src.cmd(&[b"DUMP", &key]));
            assert_eq!(dst.cmd(&[b"RESTORE", &restored, b"0", &dump]), b"+OK\r\n");
            let dump2 = bulk(&dst.cmd(&[b"DUMP", &restored]));
            assert_eq!(src.cmd(&[b"RESTORE", &restored, b"0", &dump2]), b"+OK\r\n");
            p.check_args(&[b"OBJECT", b"ENCODING", &restored]);
            p.check_args(&[b"PFCOUNT", &restored, &key]);
            p.check_args(&[b"PFCOUNT", &restored]);
            p.check_args(&[b"OBJECT", b"ENCODING", &restored]);
            same_value(&mut p, &restored, "after RESTORE and PFCOUNT");
            // More elements on both.
            for _ in 0..20 {
                let els: Vec<Vec<u8>> = (0..1 + rng.below(20)).map(|_| rng.element()).collect();
                pfadd(&mut p, &key, &els);
            }
            same_value(&mut p, &key, "after more adds");
            p.check_args(&[b"PFCOUNT", &key]);
        }
    }
}

/// PFMERGE and PFCOUNT of many keys over sparse, dense and missing inputs, into missing,
/// sparse and dense destinations, under several limits.
#[test]
fn merges_of_sparse_and_dense_values() {
    let mut p = Pair::new();
    let mut rng = Rng::new(3);
    for limit in ["3000", "300", "6000"] {
        p.check(&format!("CONFIG SET hll-sparse-max-bytes {limit}"));
        p.check("FLUSHALL");
        let sizes = [0usize, 3, 40, 300, 1500, 6000];
        for (i, &n) in sizes.iter().enumerate() {
            let key = format!("src{i}").into_bytes();
            p.check_args(&[b"PFADD", &key]);
            let els: Vec<Vec<u8>> = (0..n).map(|_| rng.element()).collect();
            for chunk in els.chunks(200) {
                pfadd(&mut p, &key, chunk);
            }
            same_value(&mut p, &key, "source");
        }
        p.check("PFDEBUG TODENSE src1");
        for round in 0..40 {
            let k = 1 + rng.below(4) as usize;
            let mut srcs: Vec<String> = (0..k).map(|_| format!("src{}", rng.below(sizes.len() as u64 + 1))).collect();
            let dest = match rng.below(3) {
                0 => format!("new{round}"),
                1 => {
                    // A copy of a source as the destination (its registers are merged too).
                    let from = format!("src{}", rng.below(sizes.len() as u64));
                    p.check(&format!("COPY {from} d{round}"));
                    format!("d{round}")
                }
                _ => {
                    srcs.clear();
                    format!("src{}", rng.below(sizes.len() as u64))
                }
            };
            let line = format!("PFMERGE {dest} {}", srcs.join(" "));
            p.check(line.trim());
            same_value(&mut p, dest.as_bytes(), &line);
            p.check(&format!("PFCOUNT {dest}"));
            p.check(&format!("PFCOUNT {} {dest}", srcs.join(" ")));
        }
    }
}

/// The replies of both servers to one command (the oracle's `None` when it closed the
/// connection).
fn both(p: &mut Pair, args: &[&[u8]]) -> (Vec<u8>, Option<Vec<u8>>) {
    let e = encode(args);
    p.a.send_raw(&e);
    let ours = p
        .a
        .try_read_reply(Duration::from_secs(10))
        .unwrap_or_else(|| panic!("redstart did not answer {:?}", args.iter().map(|a| show(a)).collect::<Vec<_>>()));
    p.b.send_raw(&e);
    (ours, p.b.try_read_reply(Duration::from_secs(10)))
}

/// Changes 1 to 3 bytes of `v` at random positions (the header's too), or cuts or extends it.
fn damage(rng: &mut Rng, v: &[u8]) -> Vec<u8> {
    let mut d = v.to_vec();
    match rng.below(10) {
        0 => d.truncate(rng.below(d.len() as u64) as usize),
        1 => d.extend((0..1 + rng.below(4)).map(|_| rng.next() as u8)),
        _ => {
            for _ in 0..1 + rng.below(3) {
                // Mostly in the registers, sometimes in the header.
                let at = if rng.below(5) == 0 {
                    rng.below(16) as usize
                } else {
                    16 + rng.below(d.len() as u64 - 16) as usize
                };
                d[at] = match rng.below(3) {
                    0 => d[at] ^ (1 << rng.below(8)),
                    _ => rng.next() as u8,
                };
            }
        }
    }
    d
}

/// Whether sparse opcodes `v` (a value with a sparse header) end with the first byte of an XZERO
/// opcode whose second byte is missing: where PFADD and PFMERGE may set a register inside it,
/// Redis writes past its string's end and redstart answers INVALIDOBJ (the one difference).
fn ends_in_cut_xzero(v: &[u8]) -> bool {
    if v.len() <= 16 || v[4] != 1 {
        return false;
    }
    let mut i = 16;
    while i < v.len() {
        if v[i] >> 6 == 1 {
            if i + 1 == v.len() {
                return true;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    false
}

/// Valid values with random bytes changed: both servers answer every command alike (an error,
/// or the same count and the same bytes), and redstart never crashes.
#[test]
fn damaged_values_answered_alike() {
    let mut p = Pair::new();
    let mut rng = Rng::new(11);
    let mut bases = Vec::new();
    for n in [1usize, 5, 30, 200, 700, 3000] {
        p.check("DEL base");
        let els: Vec<Vec<u8>> = (0..n).map(|_| rng.element()).collect();
        for chunk in els.chunks(200) {
            pfadd(&mut p, b"base", chunk);
        }
        bases.push(get(&mut p.a, b"base"));
    }
    let sparse = bases.iter().filter(|b| b[4] == 1).count();
    assert!(sparse >= 4 && sparse < bases.len(), "sparse and dense bases");
    let (mut compared, mut oracle_crashes, mut cut_cases) = (0, 0, 0);
    for case in 0..400 {
        let base = &bases[rng.below(bases.len() as u64) as usize];
        let bad = damage(&mut rng, base);
        set(&mut p.a, b"c", &bad);
        set(&mut p.b, b"c", &bad);
        let el = rng.element();
        let cmds: Vec<Vec<&[u8]>> = vec![
            vec![b"PFDEBUG", b"ENCODING", b"c"],
            vec![b"PFCOUNT", b"c", b"base"],
            vec![b"PFCOUNT", b"c"],
            vec![b"PFDEBUG", b"DECODE", b"c"],
            vec![b"PFMERGE", b"d", b"c"],
            vec![b"PFADD", b"c", &el, b"x", b"y"],
            vec![b"PFCOUNT", b"c"],
            vec![b"PFDEBUG", b"GETREG", b"c"],
            vec![b"GET", b"c"],
            vec![b"GET", b"d"],
            vec![b"DEL", b"d"],
        ];
        let cut = ends_in_cut_xzero(&bad);
        for args in &cmds {
            if cut && args[0] == b"PFADD" {
                cut_cases += 1;
                continue;
            }
            let (ours, theirs) = both(&mut p, args);
            let Some(theirs) = theirs else {
                // The oracle did not survive this value: restart it and go on.
                oracle_crashes += 1;
                eprintln!("case {case}: redis-server closed the connection on {:?}", show(args[0]));
                p.oracle = start_redis(&[]);
                p.b = Conn::connect(p.oracle.port);
                break;
            };
            if ours != theirs {
                let file = std::env::temp_dir().join(format!("hll-damaged-{}.bin", std::process::id()));
                std::fs::write(&file, &bad).unwrap();
                let shown: Vec<String> = args.iter().map(|a| show(a)).collect();
                panic!(
                    "case {case}: {shown:?}: redstart {:?}, redis-server {:?} (value in {file:?})",
                    show(&ours),
                    show(&theirs)
                );
            }
            compared += 1;
        }
        assert_eq!(p.a.run("PING"), b"+PONG\r\n");
    }
    eprintln!("{compared} replies compared, {oracle_crashes} oracle crashes, {cut_cases} PFADDs skipped (cut XZERO)");
    assert!(oracle_crashes < 5, "the oracle crashed {oracle_crashes} times");
    // Shapes the random changes rarely make: a header alone, a cut XZERO, trailing opcodes,
    // a dense value of the wrong length, every register at its maximum.
    let empty = bases[0][..16].to_vec();
    let mut xzero_cut = bases[0][..16].to_vec();
    xzero_cut.push(0x7f);
    let mut extra_val = bases[0].clone();
    extra_val.push(0x80);
    let mut extra_zero = bases[0].clone();
    extra_zero.push(0x00);
    let dense = bases.iter().find(|b| b[4] == 0).unwrap().clone();
    let mut all_max = dense.clone();
    all_max[16..].fill(0xff);
    all_max[15] |= 0x80;
    for v in [
        empty,
        xzero_cut.clone(),
        extra_val,
        extra_zero,
        dense[..dense.len() - 1].to_vec(),
        [&dense[..], b"x"].concat(),
        all_max,
    ] {
        set(&mut p.a, b"c", &v);
        set(&mut p.b, b"c", &v);
        for line in ["PFCOUNT c", "PFCOUNT c base", "PFDEBUG DECODE c", "PFMERGE d c", "GET d", "PFCOUNT c", "GET c"] {
            p.check(line);
        }
        if !ends_in_cut_xzero(&v) {
            p.check("PFADD c a b c d e f");
            p.check("GET c");
        }
        p.check("DEL d");
    }
    // The one difference (see `cmd::hll`): a register set inside a cut XZERO at the end, where
    // Redis writes past its string's end, is refused as corrupt.
    set(&mut p.a, b"c", &xzero_cut);
    assert_eq!(p.a.run("PFADD c a"), b"-INVALIDOBJ Corrupted HLL object detected\r\n");
    assert_eq!(get(&mut p.a, b"c"), xzero_cut);
}

/// OBJECT ENCODING follows Redis (a write makes an `embstr` HLL `raw`), keyspace events, WATCH
/// and the cache.
#[test]
fn encodings_events_and_watch() {
    let mut p = Pair::new();
    p.check_all(&["PFADD h a b c", "OBJECT ENCODING h"]);
    let v = get(&mut p.a, b"h");
    for line in ["PFCOUNT e", "PFADD e x", "PFMERGE d e", "PFDEBUG ENCODING e", "PFCOUNT e e2"] {
        set(&mut p.a, b"e", &v);
        set(&mut p.b, b"e", &v);
        set(&mut p.a, b"e2", &v);
        set(&mut p.b, b"e2", &v);
        p.check_all(&["OBJECT ENCODING e", line, "OBJECT ENCODING e", "OBJECT ENCODING e2"]);
    }
    // Keyspace events.
    p.check("CONFIG SET notify-keyspace-events KEA");
    let (mut sa, mut sb) = p.conns();
    for c in [&mut sa, &mut sb] {
        c.run("PSUBSCRIBE __key*@0__:*");
    }
    p.check_all(&[
        "PFADD n",
        "PFADD n a",
        "PFADD n a",
        "PFCOUNT n",
        "PFCOUNT n",
        "PFCOUNT n h",
        "PFMERGE n h",
        "PFMERGE n2",
        "PFMERGE n2 missing",
        "PFDEBUG TODENSE n",
        "PFDEBUG GETREG h",
        "SET s x",
        "PFADD s a",
        "PUBLISH __keyspace@0__:end end",
    ]);
    let read = |c: &mut Conn| {
        let mut v = Vec::new();
        loop {
            let f = c.read_reply();
            let done = show(&f).contains("__keyspace@0__:end");
            v.push(show(&f));
            if done {
                return v;
            }
        }
    };
    assert_eq!(read(&mut sa), read(&mut sb), "keyspace events");
    // WATCH: PFADD that changes, PFCOUNT that caches, PFMERGE abort the transaction; PFADD
    // that changes nothing, a cached PFCOUNT and PFDEBUG's conversion do not.
    let (mut wa, mut wb) = p.conns();
    for (line, _) in [
        ("PFADD w a", true),
        ("PFADD w a", false),
        ("PFCOUNT w", true),
        ("PFCOUNT w", false),
        ("PFDEBUG GETREG w", false),
        ("PFMERGE w", true),
        ("PFADD w b", true),
        ("PFDEBUG TODENSE w", false),
    ] {
        p.check("PFADD w");
        for c in [&mut wa, &mut wb] {
            c.run("WATCH w");
            c.run("MULTI");
            c.run("PING");
        }
        p.check(line);
        let (x, y) = (wa.run("EXEC"), wb.run("EXEC"));
        assert_eq!(show(&x), show(&y), "EXEC after {line}");
    }
}

/// RDB files: HLLs saved by redis-server load into redstart, and the reverse, with the same
/// bytes and counts (sparse, dense, cached and not).
#[test]
fn rdb_files_carry_hlls_both_ways() {
    let lines = |c: &mut Conn| {
        let mut rng = Rng::new(5);
        for (k, n) in [("a", 0usize), ("b", 20), ("c", 2000), ("d", 30_000)] {
            c.run(&format!("PFADD {k}"));
            let els: Vec<Vec<u8>> = (0..n).map(|_| rng.element()).collect();
            for chunk in els.chunks(500) {
                let mut args: Vec<&[u8]> = vec![b"PFADD", k.as_bytes()];
                args.extend(chunk.iter().map(|e| e.as_slice()));
                c.cmd(&args);
            }
        }
        c.run("PFCOUNT c");
        c.run("PFMERGE m a b c");
    };
    let keys = ["a", "b", "c", "d", "m"];
    for redis_first in [true, false] {
        let dir = tmpdir(if redis_first { "hll-r2s" } else { "hll-s2r" });
        let d = dir.to_str().unwrap();
        let first = if redis_first { start_redis(&["--dir", d]) } else { start_redstart(&["--dir", d]) };
        let mut c = Conn::connect(first.port);
        lines(&mut c);
        let saved: Vec<Vec<u8>> = keys.iter().map(|k| get(&mut c, k.as_bytes())).collect();
        assert_eq!(c.run("SAVE"), b"+OK\r\n");
        drop(first);
        let second = if redis_first { start_redstart(&["--dir", d]) } else { start_redis(&["--dir", d]) };
        let mut c2 = Conn::connect(second.port);
        for (k, v) in keys.iter().zip(&saved) {
            assert!(get(&mut c2, k.as_bytes()) == *v, "{k} loaded with other bytes (redis first: {redis_first})");
        }
        // Counts agree with a server of the other kind holding the same bytes.
        let other = if redis_first { start_redis(&[]) } else { start_redstart(&[]) };
        let mut c3 = Conn::connect(other.port);
        for (k, v) in keys.iter().zip(&saved) {
            set(&mut c3, k.as_bytes(), v);
        }
        for line in ["PFCOUNT a", "PFCOUNT b", "PFCOUNT c", "PFCOUNT d", "PFCOUNT m", "PFCOUNT a b c d m"] {
            assert_eq!(show(&c2.run(line)), show(&c3.run(line)), "{line}");
        }
        for k in keys {
            assert!(get(&mut c2, k.as_bytes()) == get(&mut c3, k.as_bytes()), "{k} after PFCOUNT");
        }
    }
}
