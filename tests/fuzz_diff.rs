//! The differential command fuzzer: redstart and redis-server driven with the same random
//! command streams, everything observable compared.
//!
//! - **Streams**: plausible commands of every implemented family over a small key space (so
//!   commands collide and meet wrong types), with bad numbers, wrong arities and binary values
//!   mixed in; several connections per server (RESP2 and RESP3), transactions, a connection
//!   that blocks (BLPOP & co., BZPOP*, XREAD/XREADGROUP BLOCK) while the others write to,
//!   delete, rename, swap or flush its keys, and one subscriber per protocol recording every
//!   pub/sub message and keyspace event.
//! - **Compared**: every reply byte for byte (as sets where the order is a hash order, by
//!   invariant where it is random); at checkpoints every key of every database (type,
//!   encoding, value, TTL in seconds) and the subscribers' pushes.
//! - **Deterministic from a seed**: a failure prints the seed and a sequence minimised by
//!   dropping steps, ready to paste into a regression test.
//!
//! `cargo test --test fuzz_diff` runs fixed seeds for `REDSTART_FUZZ_SECONDS` (default 40);
//! `scripts/fuzz-diff SECONDS [SEED]` runs random seeds for as long as asked (release build).
//!
//! Rules where Redis 7.0 (the oracle here) and 7.2 (the spec) differ, followed as 7.2 and
//! therefore kept out of the comparison, are listed in [`SEVEN_TWO`].

mod common;
use common::*;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// Where 7.0 and 7.2 differ, the generator avoids the case (each named, with the 7.2 rule).
const SEVEN_TWO: &[&str] = &[
    "SPOP with a count that empties the set under lazyfree-lazy-server-del logs UNLINK (7.2, #12320); \
     the fuzzer leaves lazyfree-lazy-server-del off",
    "A blocked XREADGROUP whose key is deleted, flushed or swapped away ends with the command's own \
     NOGROUP error (7.2 re-runs it; 7.0 answers `-UNBLOCKED the stream key no longer exists`): the \
     blocker connection never runs XREADGROUP",
    "A blocked XREADGROUP whose group is destroyed gets 7.2's NOGROUP text: same reason",
    "Small non-integer sets are `listpack` in 7.2 and `hashtable` in 7.0, and small lists \
     `listpack` in 7.2 where 7.0 says `quicklist`: checkpoints accept exactly these pairs \
     (`same_encoding`); set replies are compared as sets",
    "7.2 prints scores as the shortest text that reads back the same (7.0: `%.17g`): the generator \
     uses scores both print alike (integers, halves, quarters, inf)",
    "7.2's XINFO adds the consumers' `active-time` and `inactive` fields: dropped from our replies \
     before comparing (`drop_7_2_fields`)",
    "XCLAIM and XAUTOCLAIM create their consumer even when they claim nothing in 7.2 (not in 7.0): \
     not generated",
    "ZRANK/ZREVRANK WITHSCORE and SUBSTR-less builds: only commands both versions (and redstart) \
     have are generated",
    "COMMAND GETKEYS/GETKEYSANDFLAGS take a command alone in 7.2 (arity -3; 7.0: -4): the \
     fuzzer asks for the keys of commands with arguments",
    "A blocked XREAD woken by an XADD whose entry its own MAXLEN/MINID trimmed away at once: 7.0 \
     serves the stream with no entries, 7.2 re-runs XREAD, which serves only a stream with \
     entries, and keeps waiting (`woken_empty_by_7_0`)",
];

/// The blocker's replies differ only as the 7.0/7.2 rule on emptied streams says (see
/// [`SEVEN_TWO`]): the oracle answered one stream with an empty entry list, redstart kept
/// waiting until CLIENT UNBLOCK (a null array).
fn woken_empty_by_7_0(ours: Option<&[u8]>, theirs: Option<&[u8]>) -> bool {
    let (Some(b"*-1\r\n"), Some(t)) = (ours, theirs) else { return false };
    matches!(parse_all(t), R::List(_, Some(streams)) if streams.len() == 1
        && matches!(&streams[0], R::List(_, Some(pair)) if pair.len() == 2
            && matches!(&pair[1], R::List(_, Some(entries)) if entries.is_empty())))
}

// ---------------------------------------------------------------------------------------------
// Random source

/// xorshift64*: small, fast, and the same on every platform.
#[derive(Clone)]
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
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
}

// ---------------------------------------------------------------------------------------------
// Arguments

fn b(s: impl AsRef<str>) -> Vec<u8> {
    s.as_ref().as_bytes().to_vec()
}

/// A key of the small key space (commands collide on purpose).
fn key(r: &mut Rng) -> Vec<u8> {
    match r.below(40) {
        // A long key (glob patterns near the nesting limit can match it).
        0 => vec![b'L'; 1200],
        _ => b(*r.pick(&["k0", "k1", "k2", "k3", "k4", "k5", "k6", "{k}7"])),
    }
}

/// A member, field or string value: short words, integers, floats, binary bytes, empty.
fn val(r: &mut Rng) -> Vec<u8> {
    match r.below(12) {
        0 => Vec::new(),
        1 => vec![0, b'\r', b'\n', 255],
        2 => r.range(-5, 5).to_string().into_bytes(),
        3 => r.range(-1_000_000, 1_000_000).to_string().into_bytes(),
        4 => b(*r.pick(&["1.5", "-0.25", "3e2", "inf", "-inf", "nan", "0x10", " 1", "1 "])),
        5 => b(*r.pick(&["9223372036854775807", "-9223372036854775808", "9223372036854775808"])),
        6 => vec![b'x'; r.range(20, 90) as usize],
        _ => b(*r.pick(&["a", "b", "c", "d", "e", "foo", "bar", "m", "zz", "A"])),
    }
}

/// An integer argument, sometimes not one.
fn int(r: &mut Rng, lo: i64, hi: i64) -> Vec<u8> {
    match r.below(20) {
        0 => b(*r.pick(&["x", "1.5", "", "99999999999999999999", "-0", "+1"])),
        _ => r.range(lo, hi).to_string().into_bytes(),
    }
}

fn score(r: &mut Rng) -> Vec<u8> {
    match r.below(14) {
        0 => b(*r.pick(&["inf", "-inf", "+inf", "nan", "x", "1e400"])),
        1 => b(*r.pick(&["0.5", "-2.5", "0.25", "3.0", "-0"])),
        _ => r.range(-3, 6).to_string().into_bytes(),
    }
}

fn score_bound(r: &mut Rng) -> Vec<u8> {
    match r.below(6) {
        0 => b(*r.pick(&["-inf", "+inf", "(1", "(-1", "x", "(x"])),
        _ => r.range(-3, 6).to_string().into_bytes(),
    }
}

fn lex_bound(r: &mut Rng) -> Vec<u8> {
    match r.below(5) {
        0 => b(*r.pick(&["-", "+", "a", "x"])),
        _ => {
            let mut v = b(*r.pick(&["[", "("]));
            v.extend(b(*r.pick(&["a", "b", "c", "foo", "m", ""])));
            v
        }
    }
}

/// A stream ID: explicit (so both servers agree), sometimes auto-sequenced or invalid.
fn stream_id(r: &mut Rng) -> Vec<u8> {
    match r.below(10) {
        0 => format!("{}-*", r.range(1, 30)).into_bytes(),
        1 => b(*r.pick(&["0-0", "x", "-1", "1-x", "0"])),
        _ => format!("{}-{}", r.range(1, 30), r.range(0, 3)).into_bytes(),
    }
}

fn range_id(r: &mut Rng, start: bool) -> Vec<u8> {
    match r.below(6) {
        0 => b(if start { "-" } else { "+" }),
        1 => format!("({}-{}", r.range(1, 30), r.range(0, 3)).into_bytes(),
        _ => format!("{}", r.range(1, 30)).into_bytes(),
    }
}

fn group(r: &mut Rng) -> Vec<u8> {
    b(*r.pick(&["g1", "g2", "nog"]))
}

fn consumer(r: &mut Rng) -> Vec<u8> {
    b(*r.pick(&["c1", "c2", "c3"]))
}

fn channel(r: &mut Rng) -> Vec<u8> {
    b(*r.pick(&["ch0", "ch1", "news.a", "news.b"]))
}

// ---------------------------------------------------------------------------------------------
// Steps

/// How two replies are compared.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Cmp {
    /// Byte for byte.
    Exact,
    /// The top-level array's elements as a multiset (hash-ordered replies).
    Unordered,
    /// A flat array of (field, value) pairs, or a map, as a multiset of pairs.
    Pairs,
    /// Both nil, or both a reply of the same shape (random picks).
    Shape,
    /// Both integers within one of each other (TTLs in seconds), or equal otherwise.
    Near,
    /// As `Exact` with every integer replaced (times, idle times).
    NoInts,
    /// SORT ... ALPHA: elements equal as C strings (up to a NUL byte) may come in any order.
    Alpha,
    /// A SCAN-family command, iterated to the end by the harness (not in MULTI): the sets of
    /// everything returned are compared (cursors are each server's own).
    Scan,
}

#[derive(Clone, Debug)]
enum Step {
    /// A command on connection `conn` (0: RESP2, 1: RESP3).
    Cmd { conn: usize, args: Vec<Vec<u8>>, cmp: Cmp },
    /// A blocking command on the blocker connection; its reply is compared once it comes.
    Block { args: Vec<Vec<u8>> },
    /// Unblocks the blocker if it still waits (CLIENT UNBLOCK from connection 0).
    Unblock,
    /// Compares every key of every database and the subscribers' pushes.
    Checkpoint,
}

fn cmd(conn: usize, cmp: Cmp, args: Vec<Vec<u8>>) -> Step {
    Step::Cmd { conn, args, cmp }
}

fn show_args(args: &[Vec<u8>]) -> String {
    args.iter()
        .map(|a| {
            let s = String::from_utf8_lossy(a);
            if a.is_empty() || a.iter().any(|&c| c <= b' ' || c >= 127 || c == b'"' || c == b'\\') {
                format!("{:?}", s)
            } else {
                s.into_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            Step::Cmd { conn, args, .. } => write!(f, "c{conn}: {}", show_args(args)),
            Step::Block { args } => write!(f, "blocker: {}", show_args(args)),
            Step::Unblock => write!(f, "unblock the blocker"),
            Step::Checkpoint => write!(f, "checkpoint"),
        }
    }
}

/// Builds a command from a template: `$k` a key, `$v` a value, `$i` an integer in -5..=20,
/// `$s` a score, `$lon`/`$lat` a coordinate, other words as they are.
fn t(r: &mut Rng, template: &str) -> Vec<Vec<u8>> {
    template
        .split(' ')
        .map(|w| match w {
            "$k" => key(r),
            "$v" => val(r),
            "$i" => int(r, -5, 20),
            "$n" => int(r, 0, 6),
            "$s" => score(r),
            "$sb" => score_bound(r),
            "$lb" => lex_bound(r),
            "$id" => stream_id(r),
            "$g" => group(r),
            "$c" => consumer(r),
            "$ch" => channel(r),
            // Geo coordinates within a few degrees of each other, sometimes at or past a limit.
            "$lon" => match r.below(12) {
                0 => b(*r.pick(&["180", "-180", "180.5", "x", "inf", "-0"])),
                _ => format!("{}.{}", r.range(-4, 4), r.range(0, 999)).into_bytes(),
            },
            "$lat" => match r.below(12) {
                0 => b(*r.pick(&["85.05112878", "-85.05112878", "86", "nan", "1e400"])),
                _ => format!("{}.{}", r.range(-4, 4), r.range(0, 999)).into_bytes(),
            },
            // A TTL that cannot run out during a run (or an invalid one): keys never expire
            // by the clock, whose reading differs between the two servers.
            "$ttl" => b(*r.pick(&["1000", "-1", "0", "x", "99999999999999"])),
            w => b(w),
        })
        .collect()
}

/// [`t`] with a template picked from `options`.
fn tp(r: &mut Rng, options: &[&str]) -> Vec<Vec<u8>> {
    let o = *r.pick(options);
    t(r, o)
}

/// One random step (before the blocker and checkpoint logic).
fn command(r: &mut Rng) -> Step {
    let conn = r.below(2) as usize;
    let c = |cmp: Cmp, args: Vec<Vec<u8>>| cmd(conn, cmp, args);
    use Cmp::*;
    // Sometimes a command's keys instead of the command: the command table's key specs
    // (COMMAND GETKEYS / GETKEYSANDFLAGS) against Redis's for the same arguments.
    if r.chance(3) {
        if let Step::Cmd { args, .. } = command(r) {
            // With arguments only: a command alone is 7.2's `no key arguments` where 7.0's
            // arity says `wrong number of arguments`.
            if args.len() > 1 {
                let which = if r.chance(50) { "GETKEYS" } else { "GETKEYSANDFLAGS" };
                return c(Exact, [vec![b("COMMAND"), b(which)], args].concat());
            }
        }
    }
    // A glob pattern around Redis's nesting limit (1000 runs of stars).
    if r.chance(1) {
        let runs = r.range(995, 1005) as usize;
        let mut pat = b"*?".repeat(runs);
        if r.chance(50) {
            pat.push(b'*');
        }
        return c(Unordered, vec![b("KEYS"), pat]);
    }
    match r.below(100) {
        // Strings.
        0..=3 => c(Exact, t(r, "SET $k $v")),
        4 => {
            let opt = r.pick(&[
                "NX",
                "XX",
                "GET",
                "KEEPTTL",
                "EX 1000",
                "PX 900000",
                "EXAT 9999999999",
                "EX 0",
                "PX x",
                "NX XX",
                "GET NX",
            ]);
            let mut a = t(r, "SET $k $v");
            a.extend(opt.split(' ').map(b));
            c(Exact, a)
        }
        5 => c(Exact, tp(r, &["GET $k", "GETDEL $k", "STRLEN $k", "GETRANGE $k $i $i"])),
        6 => {
            c(Exact, tp(r, &["APPEND $k $v", "SETRANGE $k $n $v", "SETNX $k $v", "GETSET $k $v", "MSETNX $k $v $k $v"]))
        }
        7 => c(Exact, tp(r, &["INCR $k", "DECR $k", "INCRBY $k $i", "DECRBY $k $i", "INCRBYFLOAT $k $v"])),
        8 => c(
            Exact,
            tp(
                r,
                &["MSET $k $v $k $v", "MGET $k $k $k", "SETEX $k 1000 $v", "PSETEX $k 900000 $v", "SETEX $k $ttl $v"],
            ),
        ),
        9 => c(
            Exact,
            tp(
                r,
                &[
                    "GETEX $k",
                    "GETEX $k PERSIST",
                    "GETEX $k EX 1000",
                    "LCS $k $k",
                    "LCS $k $k LEN",
                    "LCS $k $k IDX MINMATCHLEN 1 WITHMATCHLEN",
                ],
            ),
        ),
        // Keys.
        10..=11 => c(Exact, tp(r, &["DEL $k $k", "UNLINK $k", "EXISTS $k $k", "TYPE $k", "TOUCH $k $k"])),
        12 => c(
            Near,
            tp(
                r,
                &[
                    "EXPIRE $k 1000",
                    "PEXPIRE $k 900000 NX",
                    "EXPIRE $k -1",
                    "EXPIREAT $k 1",
                    "PERSIST $k",
                    "TTL $k",
                    "PTTL $k",
                    "EXPIRE $k 2000 GT",
                    "EXPIRE $k 500 LT",
                    "EXPIRE $k 1000 XX",
                ],
            ),
        ),
        13 => c(
            Exact,
            tp(
                r,
                &["RENAME $k $k", "RENAMENX $k $k", "COPY $k $k", "COPY $k $k REPLACE", "MOVE $k 1", "COPY $k $k DB 1"],
            ),
        ),
        14 => c(Unordered, tp(r, &["KEYS *", "KEYS k[0-3]", "KEYS *k*", "KEYS ?1"])),
        15 => c(Exact, tp(r, &["DBSIZE", "EXISTS $k", "OBJECT ENCODING nokey"])),
        16 => c(Shape, t(r, "RANDOMKEY")),
        // Hashes.
        17..=20 => c(
            Exact,
            tp(
                r,
                &[
                    "HSET $k $v $v",
                    "HSET $k $v $v $v $v",
                    "HSETNX $k $v $v",
                    "HDEL $k $v $v",
                    "HINCRBY $k $v $i",
                    "HINCRBYFLOAT $k $v $v",
                ],
            ),
        ),
        21..=22 => c(Exact, tp(r, &["HGET $k $v", "HMGET $k $v $v", "HLEN $k", "HEXISTS $k $v", "HSTRLEN $k $v"])),
        23 => c(Pairs, t(r, "HGETALL $k")),
        24 => c(Unordered, tp(r, &["HKEYS $k", "HVALS $k"])),
        25 => c(Shape, tp(r, &["HRANDFIELD $k", "HRANDFIELD $k 2", "HRANDFIELD $k -3 WITHVALUES"])),
        // Lists.
        26..=29 => c(
            Exact,
            tp(
                r,
                &[
                    "LPUSH $k $v $v",
                    "RPUSH $k $v",
                    "LPUSHX $k $v",
                    "RPUSHX $k $v",
                    "LPOP $k",
                    "RPOP $k $n",
                    "LINSERT $k BEFORE $v $v",
                    "LINSERT $k AFTER $v $v",
                ],
            ),
        ),
        30..=32 => c(
            Exact,
            tp(
                r,
                &[
                    "LRANGE $k 0 -1",
                    "LRANGE $k $i $i",
                    "LINDEX $k $i",
                    "LLEN $k",
                    "LSET $k $i $v",
                    "LREM $k $i $v",
                    "LTRIM $k $i $i",
                    "LPOS $k $v",
                    "LPOS $k $v RANK -1 COUNT 0",
                    "LPOS $k $v MAXLEN $i",
                ],
            ),
        ),
        33 => c(
            Exact,
            tp(r, &["LMOVE $k $k LEFT RIGHT", "RPOPLPUSH $k $k", "LMPOP 2 $k $k LEFT COUNT 2", "LMPOP 1 $k RIGHT"]),
        ),
        // Sets.
        34..=37 => c(
            Exact,
            tp(
                r,
                &[
                    "SADD $k $v $v",
                    "SADD $k $i $i $i",
                    "SREM $k $v $v",
                    "SISMEMBER $k $v",
                    "SMISMEMBER $k $v $v",
                    "SCARD $k",
                    "SMOVE $k $k $v",
                    "SINTERCARD 2 $k $k",
                    "SINTERCARD 2 $k $k LIMIT $n",
                ],
            ),
        ),
        38..=39 => c(Unordered, tp(r, &["SMEMBERS $k", "SINTER $k $k", "SUNION $k $k", "SDIFF $k $k"])),
        40 => c(Exact, tp(r, &["SINTERSTORE $k $k $k", "SUNIONSTORE $k $k $k", "SDIFFSTORE $k $k $k"])),
        41 => c(Shape, tp(r, &["SRANDMEMBER $k", "SRANDMEMBER $k 3", "SRANDMEMBER $k -4"])),
        42 => {
            // SPOP only where it is deterministic: popping every member.
            c(Unordered, t(r, "SPOP $k 1000"))
        }
        // Sorted sets.
        43..=47 => c(
            Exact,
            tp(
                r,
                &[
                    "ZADD $k $s $v",
                    "ZADD $k $s $v $s $v",
                    "ZADD $k NX $s $v",
                    "ZADD $k XX CH $s $v",
                    "ZADD $k GT CH $s $v",
                    "ZADD $k INCR $s $v",
                    "ZINCRBY $k $s $v",
                    "ZREM $k $v $v",
                ],
            ),
        ),
        48..=52 => c(
            Exact,
            tp(
                r,
                &[
                    "ZRANGE $k 0 -1 WITHSCORES",
                    "ZRANGE $k $i $i",
                    "ZRANGE $k $sb $sb BYSCORE LIMIT $i $i",
                    "ZRANGE $k $lb $lb BYLEX",
                    "ZREVRANGE $k 0 -1",
                    "ZRANGEBYSCORE $k $sb $sb WITHSCORES",
                    "ZREVRANGEBYSCORE $k $sb $sb",
                    "ZRANGEBYLEX $k $lb $lb",
                    "ZRANK $k $v",
                    "ZREVRANK $k $v",
                    "ZSCORE $k $v",
                    "ZMSCORE $k $v $v",
                    "ZCARD $k",
                    "ZCOUNT $k $sb $sb",
                    "ZLEXCOUNT $k $lb $lb",
                ],
            ),
        ),
        53 => c(
            Exact,
            tp(
                r,
                &[
                    "ZPOPMIN $k",
                    "ZPOPMAX $k $n",
                    "ZMPOP 2 $k $k MIN COUNT 2",
                    "ZREMRANGEBYRANK $k $i $i",
                    "ZREMRANGEBYSCORE $k $sb $sb",
                    "ZREMRANGEBYLEX $k $lb $lb",
                ],
            ),
        ),
        54 => c(
            Exact,
            tp(
                r,
                &[
                    "ZUNIONSTORE $k 2 $k $k",
                    "ZINTERSTORE $k 2 $k $k WEIGHTS 2 3 AGGREGATE MAX",
                    "ZDIFFSTORE $k 2 $k $k",
                    "ZUNION 2 $k $k WITHSCORES",
                    "ZINTER 2 $k $k",
                    "ZDIFF 2 $k $k WITHSCORES",
                    "ZINTERCARD 2 $k $k",
                    "ZRANGESTORE $k $k 0 -1",
                ],
            ),
        ),
        55 => c(Shape, tp(r, &["ZRANDMEMBER $k", "ZRANDMEMBER $k 2 WITHSCORES"])),
        // Streams.
        56..=59 => c(
            Exact,
            tp(
                r,
                &[
                    "XADD $k $id f $v",
                    "XADD $k $id f $v g $v",
                    "XADD $k MAXLEN 3 $id f $v",
                    "XADD $k NOMKSTREAM $id f $v",
                    "XDEL $k $id",
                    "XTRIM $k MAXLEN $n",
                    "XTRIM $k MINID $id",
                    "XLEN $k",
                ],
            ),
        ),
        60..=61 => {
            let (s, e) = (range_id(r, true), range_id(r, false));
            let mut a = vec![b(*r.pick(&["XRANGE", "XREVRANGE"])), key(r)];
            if a[0] == b"XREVRANGE" {
                a.extend([e, s]);
            } else {
                a.extend([s, e]);
            }
            if r.chance(50) {
                a.extend([b("COUNT"), int(r, 0, 4)]);
            }
            c(Exact, a)
        }
        62..=63 => c(
            Exact,
            tp(
                r,
                &[
                    "XGROUP CREATE $k $g $id",
                    "XGROUP CREATE $k $g 0 MKSTREAM",
                    "XGROUP CREATE $k $g $",
                    "XGROUP SETID $k $g $id",
                    "XGROUP SETID $k $g -",
                    "XGROUP SETID $k $g +",
                    "XGROUP CREATE $k $g -",
                    "XGROUP DESTROY $k $g",
                    "XGROUP CREATECONSUMER $k $g $c",
                    "XGROUP DELCONSUMER $k $g $c",
                ],
            ),
        ),
        64..=65 => c(
            NoInts,
            tp(
                r,
                &[
                    "XREADGROUP GROUP $g $c COUNT 2 STREAMS $k >",
                    "XREADGROUP GROUP $g $c STREAMS $k 0",
                    "XREADGROUP GROUP $g $c NOACK STREAMS $k >",
                    "XACK $k $g $id $id",
                    "XREAD COUNT 2 STREAMS $k $k 0 0",
                    "XPENDING $k $g",
                    "XPENDING $k $g - + 10",
                    "XINFO GROUPS $k",
                    "XINFO CONSUMERS $k $g",
                ],
            ),
        ),
        // Transactions and databases.
        66 => c(Exact, t(r, "MULTI")),
        67 => c(Exact, tp(r, &["EXEC", "DISCARD"])),
        68 => c(Exact, tp(r, &["WATCH $k", "UNWATCH"])),
        69 => c(Exact, tp(r, &["SELECT 1", "SELECT 0", "SWAPDB 0 1", "FLUSHDB", "SELECT 0"])),
        // Sorting.
        70 => c(Exact, tp(r, &["SORT $k", "SORT $k STORE $k", "SORT $k ALPHA STORE $k", "SORT $k LIMIT 1 2"])),
        75 => c(Alpha, tp(r, &["SORT $k ALPHA", "SORT $k DESC LIMIT 0 2 ALPHA", "SORT_RO $k ALPHA"])),
        76..=77 => c(
            Scan,
            tp(
                r,
                &[
                    "SCAN 0",
                    "SCAN 0 MATCH k* COUNT 2",
                    "SCAN 0 TYPE hash",
                    "HSCAN $k 0 COUNT 1",
                    "SSCAN $k 0 MATCH *a*",
                    "ZSCAN $k 0",
                    "SSCAN $k 0 COUNT 0",
                    "HSCAN $k x",
                ],
            ),
        ),
        78 => c(
            Exact,
            tp(
                r,
                &[
                    "XSETID $k $id",
                    "XSETID $k 30-3 ENTRIESADDED 100 MAXDELETEDID 1-1",
                    "XADD $k MINID = $id $id f $v",
                    "XTRIM $k MAXLEN ~ 2",
                ],
            ),
        ),
        79 => c(
            Exact,
            tp(
                r,
                &[
                    "HSET $k f1 $v f2 $v f3 $v",
                    "LPUSH $k $v $v $v $v",
                    "SADD $k $v $v $v $v",
                    "ZADD $k $s f1 $s f2 $s f3",
                ],
            ),
        ),
        80 => c(Exact, tp(r, &["SELECT 1", "MOVE $k 0", "SELECT 0", "SWAPDB 1 0", "COPY $k $k DB 0 REPLACE"])),
        81 => c(
            Exact,
            tp(r, &["CLIENT REPLY OFF", "CLIENT REPLY ON", "CLIENT REPLY SKIP", "CLIENT REPLY ON", "CLIENT REPLY x"]),
        ),
        82 => c(NoInts, tp(r, &["XINFO STREAM $k", "XINFO STREAM $k FULL COUNT 2", "XPENDING $k $g IDLE 0 - + 5 $c"])),
        83 => c(
            Exact,
            tp(
                r,
                &["SETRANGE $k 40 $v", "GETRANGE $k -5 -1", "APPEND $k $v", "INCRBYFLOAT $k 1.5", "INCRBYFLOAT $k $i"],
            ),
        ),
        // Bitmaps (offsets small enough that bitmaps stay under a few hundred bytes).
        84 => match r.below(3) {
            0 => {
                let mut a = t(r, "SETBIT $k");
                a.push(if r.chance(5) { int(r, -1, 1) } else { r.range(0, 400).to_string().into_bytes() });
                a.push(int(r, 0, 1));
                c(Exact, a)
            }
            1 => c(
                Exact,
                tp(
                    r,
                    &[
                        "GETBIT $k $n",
                        "GETBIT $k 200",
                        "BITCOUNT $k",
                        "BITCOUNT $k $i $i",
                        "BITCOUNT $k $i $i BIT",
                        "BITCOUNT $k $i $i BYTE",
                        "SUBSTR $k $i $i",
                    ],
                ),
            ),
            _ => c(
                Exact,
                tp(
                    r,
                    &[
                        "BITPOS $k 1",
                        "BITPOS $k 0",
                        "BITPOS $k $n $i",
                        "BITPOS $k 0 $i $i",
                        "BITPOS $k 1 $i $i BIT",
                        "BITPOS $k 0 $i $i BYTE",
                    ],
                ),
            ),
        },
        85 => c(
            Exact,
            tp(
                r,
                &[
                    "BITOP AND $k $k $k",
                    "BITOP OR $k $k",
                    "BITOP XOR $k $k $k",
                    "BITOP NOT $k $k",
                    "BITOP NOT $k $k $k",
                    "BITOP NAND $k $k",
                ],
            ),
        ),
        86 => {
            // BITFIELD: random types, offsets (`#n` too), values and overflow modes.
            let mut a = vec![b(if r.chance(15) { "BITFIELD_RO" } else { "BITFIELD" }), key(r)];
            for _ in 0..r.range(1, 3) {
                if r.chance(30) {
                    a.extend([b("OVERFLOW"), b(*r.pick(&["WRAP", "SAT", "FAIL", "fail", "x"]))]);
                }
                let ty = format!("{}{}", r.pick(&["i", "u"]), r.range(1, 64));
                let off = if r.chance(25) { format!("#{}", r.range(0, 20)) } else { r.range(0, 300).to_string() };
                let op = *r.pick(&["GET", "SET", "INCRBY"]);
                a.extend([b(op), b(ty), b(off)]);
                if op != "GET" {
                    a.push(if r.chance(60) { int(r, -300, 300) } else { val(r) });
                }
            }
            c(Exact, a)
        }
        // HyperLogLog.
        87 => c(Exact, tp(r, &["PFADD $k $v $v", "PFADD $k", "PFADD $k $v $v $v $v $v $v", "PFADD $k $i $n $v"])),
        88 => c(
            Exact,
            tp(
                r,
                &["PFCOUNT $k", "PFCOUNT $k $k", "PFCOUNT $k $k $k", "PFMERGE $k $k", "PFMERGE $k $k $k", "PFMERGE $k"],
            ),
        ),
        89 => c(
            Exact,
            tp(
                r,
                &[
                    "PFDEBUG ENCODING $k",
                    "PFDEBUG TODENSE $k",
                    "PFDEBUG DECODE $k",
                    "PFDEBUG GETREG $k",
                    "PFDEBUG x $k",
                ],
            ),
        ),
        // DUMP / RESTORE (the harness replaces `@dump` by the oracle's payload).
        71 => c(
            Exact,
            vec![
                b("RESTORE"),
                key(r),
                b(*r.pick(&["0", "100000"])),
                b("@dump"),
                b(*r.pick(&["REPLACE", "ABSTTL", "REPLACE"])),
            ],
        ),
        // Pub/sub.
        72..=73 => c(Exact, t(r, "PUBLISH $ch $v")),
        // Bad input: unknown commands, wrong arities.
        74 => {
            c(Exact, tp(r, &["GET", "SET $k", "HSET $k $v", "LPUSH $k", "ZADD $k $s", "XADD $k", "NOSUCH $k", "SADD"]))
        }
        // Geo. STOREDIST is left out: its distances are non-integer scores, which 7.0 (`%.17g`)
        // and 7.2 (shortest) print differently at checkpoints.
        90 => c(
            Exact,
            tp(
                r,
                &[
                    "GEOADD $k $lon $lat $v",
                    "GEOADD $k $lon $lat $v $lon $lat $v",
                    "GEOADD $k NX CH $lon $lat $v",
                    "GEOADD $k XX $lon $lat $v",
                    "GEOADD $k CH $lon $lat $v $lon $lat $v",
                    "GEOADD $k $lon $lat",
                ],
            ),
        ),
        91 => c(Exact, tp(r, &["GEODIST $k $v $v", "GEODIST $k $v $v km", "GEOHASH $k $v $v", "GEOPOS $k $v $v"])),
        92 => c(
            Exact,
            tp(
                r,
                &[
                    "GEOSEARCH $k FROMLONLAT $lon $lat BYRADIUS 500 km WITHDIST",
                    "GEOSEARCH $k FROMMEMBER $v BYBOX 800 $i km ASC WITHCOORD WITHHASH",
                    "GEOSEARCH $k FROMLONLAT $lon $lat BYRADIUS $i mi DESC COUNT $n",
                    "GEOSEARCH $k FROMMEMBER $v BYRADIUS 1000 km COUNT $n ANY",
                    "GEOSEARCHSTORE $k $k FROMLONLAT $lon $lat BYRADIUS 700 km",
                    "GEOSEARCHSTORE $k $k FROMMEMBER $v BYBOX 2000 1000 km COUNT $n",
                    "GEORADIUS $k $lon $lat 600 km ASC STORE $k",
                    "GEORADIUS_RO $k $lon $lat 600 km WITHDIST COUNT $n",
                    "GEORADIUSBYMEMBER $k $v 900 km WITHHASH",
                    "GEORADIUSBYMEMBER $k $v $i km STORE $k",
                ],
            ),
        ),
        // Operator commands whose replies do not depend on timing (the latency monitor is off;
        // the slow log is left out: a loaded machine may log a slow command on one side only).
        93 => c(
            Exact,
            tp(
                r,
                &[
                    "DEBUG DIGEST-VALUE $k $k",
                    "DEBUG DIGEST-VALUE $k",
                    "MODULE LIST",
                    "LATENCY LATEST",
                    "LATENCY HISTORY command",
                    "LATENCY DOCTOR",
                    "DEBUG PROTOCOL $v",
                ],
            ),
        ),
        // Everything else: plain writes that keep keys alive.
        _ => c(
            Exact,
            tp(r, &["SET $k $v", "RPUSH $k $v", "SADD $k $v", "HSET $k $v $v", "ZADD $k $s $v", "XADD $k $id f $v"]),
        ),
    }
}

/// A blocking command for the blocker connection (timeout 0: it is unblocked by the harness
/// if nothing serves it).
fn blocking(r: &mut Rng) -> Step {
    let args = tp(
        r,
        &[
            "BLPOP $k $k 0",
            "BRPOP $k 0",
            "BLMOVE $k $k LEFT LEFT 0",
            "BRPOPLPUSH $k $k 0",
            "BLMPOP 0 2 $k $k RIGHT COUNT 2",
            "BZPOPMIN $k $k 0",
            "BZPOPMAX $k 0",
            "BZMPOP 0 1 $k MAX",
            "XREAD BLOCK 0 STREAMS $k $",
            "XREAD BLOCK 0 STREAMS $k 0",
        ],
    );
    Step::Block { args }
}

/// A whole random sequence.
fn sequence(seed: u64, len: usize) -> Vec<Step> {
    let mut r = Rng::new(seed);
    let mut steps = Vec::with_capacity(len);
    let mut blocked_for = 0;
    for i in 0..len {
        if blocked_for > 0 {
            blocked_for -= 1;
            if blocked_for == 0 {
                steps.push(Step::Unblock);
            }
        } else if r.chance(4) {
            steps.push(blocking(&mut r));
            blocked_for = r.range(1, 6) as usize;
            continue;
        }
        if i % 60 == 59 {
            steps.push(Step::Checkpoint);
        }
        steps.push(command(&mut r));
    }
    if blocked_for > 0 {
        steps.push(Step::Unblock);
    }
    steps.push(Step::Checkpoint);
    steps
}

// ---------------------------------------------------------------------------------------------
// Replies

/// A parsed reply.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum R {
    /// A scalar line (`+`, `-`, `:`, `,`, `#`, `(`, `_`) or a bulk/verbatim body, with its type byte.
    Atom(u8, Vec<u8>),
    /// An aggregate (`*`, `%` as a flat list, `~`, `>`), with its type byte; `None` = null array.
    List(u8, Option<Vec<R>>),
}

fn parse(buf: &[u8], at: &mut usize) -> R {
    let end = *at + buf[*at..].windows(2).position(|w| w == b"\r\n").unwrap();
    let kind = buf[*at];
    let head = &buf[*at + 1..end];
    *at = end + 2;
    let n = || std::str::from_utf8(head).unwrap().parse::<i64>().unwrap();
    match kind {
        b'$' | b'=' | b'!' => {
            let len = n();
            if len < 0 {
                return R::Atom(b'_', Vec::new());
            }
            let body = buf[*at..*at + len as usize].to_vec();
            *at += len as usize + 2;
            R::Atom(kind, body)
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let len = n();
            if len < 0 {
                return R::List(kind, None);
            }
            let count = if matches!(kind, b'%' | b'|') { len * 2 } else { len };
            let items = (0..count).map(|_| parse(buf, at)).collect();
            R::List(kind, Some(items))
        }
        _ => R::Atom(kind, head.to_vec()),
    }
}

fn parse_all(buf: &[u8]) -> R {
    let mut at = 0;
    parse(buf, &mut at)
}

/// A reply normalised for comparison by `cmp`.
fn normalise(r: R, cmp: Cmp) -> R {
    match (cmp, r) {
        (Cmp::Unordered, R::List(k, Some(mut items))) => {
            items.sort();
            R::List(k, Some(items))
        }
        (Cmp::Pairs, R::List(k, Some(items))) => {
            let mut pairs: Vec<R> = items.chunks(2).map(|p| R::List(b'p', Some(p.to_vec()))).collect();
            pairs.sort();
            R::List(k, Some(pairs))
        }
        (Cmp::Shape, R::List(k, Some(items))) => {
            R::List(k, Some(vec![R::Atom(b'n', items.len().to_string().into_bytes())]))
        }
        (Cmp::Shape, R::Atom(k, v)) => R::Atom(k, if matches!(k, b'_' | b'-') { v } else { Vec::new() }),
        (Cmp::NoInts, r) => no_ints(r),
        (Cmp::Alpha, R::List(k, Some(mut items))) => {
            // Runs of elements equal up to their first NUL byte, sorted among themselves.
            let cstr = |r: &R| match r {
                R::Atom(_, v) => v.split(|&c| c == 0).next().unwrap_or(&[]).to_vec(),
                _ => Vec::new(),
            };
            // A LIMIT may cut the first or last run, keeping different members of it on each
            // side: those are compared up to their NUL only.
            let mut i = 0;
            while i < items.len() {
                let mut j = i + 1;
                while j < items.len() && cstr(&items[j]) == cstr(&items[i]) {
                    j += 1;
                }
                if i == 0 || j == items.len() {
                    for item in &mut items[i..j] {
                        *item = R::Atom(b'$', cstr(item));
                    }
                }
                items[i..j].sort();
                i = j;
            }
            R::List(k, Some(items))
        }
        (_, r) => r,
    }
}

fn no_ints(r: R) -> R {
    match r {
        R::Atom(b':', _) => R::Atom(b':', Vec::new()),
        R::List(k, Some(items)) => R::List(k, Some(items.into_iter().map(no_ints).collect())),
        r => r,
    }
}

/// Removes 7.2's XINFO consumer fields (`active-time`, `inactive`) and their values from
/// key-value lists, so a 7.2 reply reads as 7.0's.
fn drop_7_2_fields(r: R) -> R {
    match r {
        R::List(k, Some(items)) => {
            let named = |x: &R| matches!(x, R::Atom(_, v) if v == b"active-time" || v == b"inactive");
            let mut out = Vec::with_capacity(items.len());
            let mut it = items.into_iter();
            while let Some(x) = it.next() {
                if named(&x) {
                    it.next();
                } else {
                    out.push(drop_7_2_fields(x));
                }
            }
            R::List(k, Some(out))
        }
        r => r,
    }
}

/// OBJECT ENCODING of a key of `ty` agrees: equal, or 7.2's `listpack` where 7.0 says
/// `hashtable` (small sets) or `quicklist` (small lists).
fn same_encoding(ty: &[u8], ours: &[u8], theirs: &[u8]) -> bool {
    ours == theirs
        || (ours == b"$8\r\nlistpack\r\n"
            && ((ty == b"+set\r\n" && theirs == b"$9\r\nhashtable\r\n")
                || (ty == b"+list\r\n" && theirs == b"$9\r\nquicklist\r\n")))
}

/// Whether two replies agree under `cmp`.
fn agree(ours: &[u8], theirs: &[u8], cmp: Cmp) -> bool {
    if cmp == Cmp::Exact {
        return ours == theirs;
    }
    agree_r(parse_all(ours), parse_all(theirs), cmp)
}

/// [`agree`] on parsed replies.
fn agree_r(ours: R, theirs: R, cmp: Cmp) -> bool {
    match (cmp, &ours, &theirs) {
        (Cmp::Near, R::Atom(b':', a), R::Atom(b':', b)) => {
            let (a, b): (i64, i64) =
                (String::from_utf8_lossy(a).parse().unwrap(), String::from_utf8_lossy(b).parse().unwrap());
            a == b || (a > 1 && b > 1 && (a - b).abs() <= 1000)
        }
        (Cmp::NoInts, _, _) => no_ints(drop_7_2_fields(ours)) == normalise(theirs, cmp),
        _ => normalise(ours, cmp) == normalise(theirs, cmp),
    }
}

/// EXEC's replies agree: element by element, each under its queued command's comparison.
fn agree_exec(ours: &[u8], theirs: &[u8], queued: &[Cmp]) -> bool {
    match (parse_all(ours), parse_all(theirs)) {
        (R::List(k1, Some(a)), R::List(k2, Some(b))) if k1 == k2 && a.len() == queued.len() && b.len() == a.len() => {
            a.into_iter().zip(b).zip(queued).all(|((x, y), &cmp)| agree_r(x, y, cmp))
        }
        _ => ours == theirs,
    }
}

fn shown(raw: &[u8]) -> String {
    let s = String::from_utf8_lossy(raw).replace("\r\n", "\\r\\n");
    if s.len() > 400 {
        format!("{}…", &s[..400])
    } else {
        s
    }
}

// ---------------------------------------------------------------------------------------------
// The harness

/// One server with its connections.
struct Side {
    proc: Proc,
    /// 0: RESP2, 1: RESP3, 2: the blocker (RESP2), 3: the harness's own (never in MULTI).
    conns: Vec<Conn>,
    /// Client IDs of `conns`.
    ids: Vec<Vec<u8>>,
    /// Subscribers: RESP2 and RESP3, to every channel and keyspace event.
    subs: Vec<Conn>,
    /// What the subscribers received since the last checkpoint.
    pushes: Vec<Vec<Vec<u8>>>,
}

impl Side {
    fn start(ours: bool) -> Side {
        let args = ["--notify-keyspace-events", "KEA", "--enable-debug-command", "yes"];
        let proc = if ours { start_redstart(&args) } else { start_redis(&args) };
        let mut side = Side { proc, conns: Vec::new(), ids: Vec::new(), subs: Vec::new(), pushes: vec![Vec::new(); 2] };
        side.connect();
        side
    }

    /// Fresh connections (and subscribers) to an empty server.
    fn connect(&mut self) {
        let port = self.proc.port;
        let mut c0 = Conn::connect(port);
        c0.run("FLUSHALL");
        self.conns = (0..4).map(|_| Conn::connect(port)).collect();
        self.conns[1].run("HELLO 3");
        self.ids =
            self.conns.iter_mut().map(|c| c.run("CLIENT ID")[1..].strip_suffix(b"\r\n").unwrap().to_vec()).collect();
        self.subs = (0..2).map(|_| Conn::connect(port)).collect();
        self.subs[1].run("HELLO 3");
        for s in self.subs.iter_mut() {
            s.send_raw(&encode(&[b"SUBSCRIBE", b"ch0", b"ch1"]));
            s.read_reply();
            s.read_reply();
            s.send_raw(&encode(&[b"PSUBSCRIBE", b"news.*", b"__key*__:*"]));
            s.read_reply();
            s.read_reply();
        }
        self.pushes = vec![Vec::new(); 2];
    }

    /// Waits until the blocker connection is blocked or has its reply (waiting on the
    /// server's own view: a command sent on one connection may run after one sent later on
    /// another).
    /// Returns the reply when it came at once (the command was served or failed without
    /// blocking): only then is the command over, its effects and events all published.
    fn wait_blocked_or_answered(&mut self) -> Option<Vec<u8>> {
        let id = self.ids[2].clone();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(2) {
            if let Some(r) = self.conns[2].try_read_reply(Duration::from_millis(1)) {
                return Some(r);
            }
            let line = self.conns[3].cmd(&[b"CLIENT", b"LIST", b"ID", &id]);
            let text = String::from_utf8_lossy(&line);
            let flags = text.split(' ').find_map(|f| f.strip_prefix("flags=")).unwrap_or("");
            if flags.contains('b') {
                return None;
            }
        }
        None
    }

    /// Collects what the subscribers received (until they are quiet for a moment).
    fn collect_pushes(&mut self, quiet: Duration) {
        for (i, s) in self.subs.iter_mut().enumerate() {
            while let Some(r) = s.try_read_reply(quiet) {
                self.pushes[i].push(r);
            }
        }
    }
}

/// Reports a step that took unusually long (a server that stalls without failing).
struct Slow<'a>(Instant, usize, &'a Step);
impl Drop for Slow<'_> {
    fn drop(&mut self) {
        if self.0.elapsed() > Duration::from_secs(2) {
            eprintln!("slow step {} ({:?}): {}", self.1, self.0.elapsed(), self.2);
        }
    }
}

/// Iterates a SCAN-family command (cursor `0` in its template) to the end: `Err` with the
/// first reply when it is not a cursor reply (an error), else everything returned, as a sorted
/// set (of pairs for HSCAN and ZSCAN).
fn scan_all(c: &mut Conn, args: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, String> {
    let at = if args[0].eq_ignore_ascii_case(b"SCAN") { 1 } else { 2 };
    let pairs = args[0].eq_ignore_ascii_case(b"HSCAN") || args[0].eq_ignore_ascii_case(b"ZSCAN");
    let mut args = args.to_vec();
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..10_000 {
        let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
        let raw = c.cmd(&refs);
        let R::List(_, Some(reply)) = parse_all(&raw) else { return Err(shown(&raw)) };
        let (R::Atom(_, cursor), R::List(_, Some(items))) = (&reply[0], &reply[1]) else { return Err(shown(&raw)) };
        let items: Vec<Vec<u8>> =
            items.iter().map(|i| if let R::Atom(_, v) = i { v.clone() } else { Vec::new() }).collect();
        if pairs {
            seen.extend(items.chunks(2).map(|p| [p[0].clone(), b"=".to_vec(), p[1].clone()].concat()));
        } else {
            seen.extend(items);
        }
        if cursor == b"0" {
            return Ok(seen.into_iter().collect());
        }
        args[at] = cursor.clone();
    }
    Err("the iteration did not end".into())
}

/// A difference: the step where it showed, and what differed.
struct Failure {
    at: usize,
    what: String,
}

/// ZRANGEBYLEX & co. (the generator's lex-range commands, key in `args[1]`).
fn is_lex_range(args: &[Vec<u8>]) -> bool {
    let is = |w: &[u8]| args[0].eq_ignore_ascii_case(w);
    is(b"ZRANGEBYLEX")
        || is(b"ZREVRANGEBYLEX")
        || is(b"ZLEXCOUNT")
        || is(b"ZREMRANGEBYLEX")
        || (is(b"ZRANGE") && args.iter().any(|a| a.eq_ignore_ascii_case(b"BYLEX")))
}

/// Whether the oracle's `key` is a skiplist-encoded sorted set whose members have different
/// scores: there Redis answers a lex range by its skiplist's random levels (README, deliberate
/// differences), so the fuzzer does not compare one. Asked on the connection's own database.
fn lex_order_is_redis_random(c: &mut Conn, key: &[u8]) -> bool {
    if c.cmd(&[b"OBJECT", b"ENCODING", key]) != b"$8\r\nskiplist\r\n" {
        return false;
    }
    // The lowest and the highest member's scores (raw replies: the same in RESP2 and RESP3
    // for equal scores).
    let first = reply_items(&c.cmd(&[b"ZRANGE", key, b"0", b"0"]));
    let last = reply_items(&c.cmd(&[b"ZRANGE", key, b"-1", b"-1"]));
    match (first.first(), last.first()) {
        (Some(a), Some(b)) => c.cmd(&[b"ZSCORE", key, a]) != c.cmd(&[b"ZSCORE", key, b]),
        _ => false,
    }
}

/// Redis's SORT error for a score that does not parse (see its use in [`run`]).
const SORT_STALE_ERRNO: &[u8] = b"-ERR One or more scores can't be converted into double\r\n";

/// Runs `steps` on both sides (connected, empty); the first difference, if any.
fn run(ours: &mut Side, theirs: &mut Side, steps: &[Step]) -> Result<(), Failure> {
    let fail = |at: usize, what: String| Err(Failure { at, what });
    // The blocker's state: waiting (with the reply each server gave at once, if any).
    let mut blocked: Option<[Option<Vec<u8>>; 2]> = None;
    let mut dump: Vec<u8> = Vec::new();
    // Per connection: inside MULTI, the comparison of each queued command.
    let mut queued: [Option<Vec<Cmp>>; 2] = [None, None];
    // Per connection: CLIENT REPLY OFF, and how many replies SKIP still drops.
    let mut replies: [(bool, u8); 2] = [(false, 0); 2];
    for (at, step) in steps.iter().enumerate() {
        let t0 = Instant::now();
        let _slow = Slow(t0, at, step);
        match step {
            Step::Cmd { conn, args, cmp } => {
                let mut args = args.clone();
                if args.iter().any(|a| a == b"@dump") {
                    if dump.is_empty() {
                        continue;
                    }
                    for a in args.iter_mut().filter(|a| *a == b"@dump") {
                        *a = dump.clone();
                    }
                }
                if args[0] == b"SET" && args.len() == 3 && at % 7 == 0 {
                    // Keep a payload of the oracle's for RESTORE.
                    if let R::Atom(b'$', d) = parse_all(&theirs.conns[3].cmd(&[b"DUMP", &args[1]])) {
                        dump = d;
                    }
                }
                if *cmp == Cmp::Scan {
                    if queued[*conn].is_some() || replies[*conn] != (false, 0) {
                        continue;
                    }
                    let (a, b) = (scan_all(&mut ours.conns[*conn], &args), scan_all(&mut theirs.conns[*conn], &args));
                    if a != b {
                        return fail(at, format!("`{step}` iterated: redstart {a:?} / redis {b:?}"));
                    }
                    continue;
                }
                let is = |w: &[u8]| args[0].eq_ignore_ascii_case(w);
                if is_lex_range(&args)
                    && (queued[*conn].is_some() || replies[*conn] != (false, 0) || {
                        let probe = &mut theirs.conns[*conn];
                        lex_order_is_redis_random(probe, &args[1])
                    })
                {
                    // A named difference (README): a lex range over members with different
                    // scores in a skiplist is answered by Redis's random skiplist levels. Not
                    // sent at all where the encoding cannot be checked first (in MULTI, or
                    // with replies off), so both keyspaces stay alike.
                    continue;
                }
                if is(b"CLIENT") && queued[*conn].is_some() {
                    // CLIENT REPLY inside MULTI would change the replies of EXEC's own array.
                    continue;
                }
                let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
                let msg = encode(&refs);
                ours.conns[*conn].send_raw(&msg);
                theirs.conns[*conn].send_raw(&msg);
                // CLIENT REPLY OFF/SKIP: no reply is expected (both must stay silent).
                let mode = &mut replies[*conn];
                if is(b"CLIENT") && args.len() == 3 && args[1].eq_ignore_ascii_case(b"REPLY") {
                    let arg = args[2].to_ascii_uppercase();
                    match &arg[..] {
                        b"OFF" => *mode = (true, 0),
                        b"ON" => *mode = (false, 0),
                        b"SKIP" if !mode.0 => *mode = (false, 2),
                        _ => {}
                    }
                }
                let silent =
                    mode.0 || mode.1 > 0 || (is(b"CLIENT") && args.len() == 3 && args[2].eq_ignore_ascii_case(b"OFF"));
                if mode.1 > 0 {
                    mode.1 -= 1;
                }
                let wait = if silent { Duration::from_millis(20) } else { Duration::from_secs(5) };
                let a = ours.conns[*conn].try_read_reply(wait);
                let mut b = theirs.conns[*conn].try_read_reply(wait);
                if (is(b"SORT") || is(b"SORT_RO"))
                    && b.as_deref() == Some(SORT_STALE_ERRNO)
                    && a.as_ref().is_some_and(|a| a[0] != b'-')
                {
                    // A Redis bug, not copied: SORT tests `errno == ERANGE` after strtod without
                    // clearing it first, so it fails on valid numbers when an earlier command
                    // (ZADD 1e400, INCRBYFLOAT overflow) left ERANGE behind. Accepting a
                    // connection ends Redis's accept loop on EAGAIN, clearing it: the oracle is
                    // asked again after one, and must then agree (SORT failed without effect).
                    let mut fresh = Conn::connect(theirs.proc.port);
                    fresh.cmd(&[b"PING"]);
                    theirs.conns[*conn].send_raw(&msg);
                    b = theirs.conns[*conn].try_read_reply(wait);
                }
                if silent {
                    if a.is_some() || b.is_some() {
                        return fail(
                            at,
                            format!(
                                "`{step}` with replies off: redstart {:?} / redis {:?}",
                                a.map(|x| shown(&x)),
                                b.map(|x| shown(&x))
                            ),
                        );
                    }
                    // A queued command whose QUEUED was suppressed still has a reply in EXEC.
                    if let Some(q) = queued[*conn].as_mut() {
                        if !is(b"EXEC") && !is(b"DISCARD") && !is(b"MULTI") {
                            q.push(*cmp);
                        }
                    }
                    if is(b"EXEC") || is(b"DISCARD") {
                        queued[*conn] = None;
                    } else if is(b"MULTI") && queued[*conn].is_none() {
                        queued[*conn] = Some(Vec::new());
                    }
                    continue;
                }
                let same = match (&a, &b) {
                    (Some(a), Some(b)) if is(b"EXEC") => {
                        let q = queued[*conn].take().unwrap_or_default();
                        agree_exec(a, b, &q)
                    }
                    (Some(a), Some(b)) => agree(a, b, *cmp),
                    _ => false,
                };
                // What EXEC will answer: each queued command's reply, compared as it would be.
                match (&b, queued[*conn].as_mut()) {
                    (Some(b), _) if is(b"MULTI") && b == b"+OK\r\n" => queued[*conn] = Some(Vec::new()),
                    (Some(b), Some(q)) if b == b"+QUEUED\r\n" => q.push(*cmp),
                    _ if is(b"DISCARD") => queued[*conn] = None,
                    _ => {}
                }
                match (a, b) {
                    (Some(_), Some(_)) if same => {}
                    (a, b) => {
                        return fail(
                            at,
                            format!(
                                "reply to `{step}`: redstart {} / redis {}",
                                a.map_or("<none>".into(), |x| shown(&x)),
                                b.map_or("<none>".into(), |x| shown(&x))
                            ),
                        )
                    }
                }
            }
            Step::Block { args } => {
                let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
                let msg = encode(&refs);
                ours.conns[2].send_raw(&msg);
                theirs.conns[2].send_raw(&msg);
                // Before the next step: blocked (or answered at once), on both servers.
                blocked = Some([ours.wait_blocked_or_answered(), theirs.wait_blocked_or_answered()]);
            }
            Step::Unblock | Step::Checkpoint if blocked.is_some() => {
                // Answered at once, served by now, or still waiting: unblock it (a timeout
                // reply) if it has not answered yet.
                let [early_a, early_b] = blocked.take().unwrap();
                let mut got = Vec::new();
                for (s, early) in [(&mut *ours, early_a), (&mut *theirs, early_b)] {
                    got.push(early.or_else(|| {
                        let id = s.ids[2].clone();
                        s.conns[3].cmd(&[b"CLIENT", b"UNBLOCK", &id]);
                        s.conns[2].try_read_reply(Duration::from_secs(5))
                    }));
                }
                let (b, a) = (got.pop().unwrap(), got.pop().unwrap());
                if a != b && !woken_empty_by_7_0(a.as_deref(), b.as_deref()) {
                    return fail(
                        at,
                        format!(
                            "blocker's reply: redstart {} / redis {}",
                            a.map_or("<none>".into(), |x| shown(&x)),
                            b.map_or("<none>".into(), |x| shown(&x))
                        ),
                    );
                }
                if matches!(step, Step::Checkpoint) {
                    queued = [None, None];
                    replies = [(false, 0); 2];
                    checkpoint(ours, theirs).or_else(|w| fail(at, w))?;
                }
            }
            Step::Unblock => {}
            Step::Checkpoint => {
                queued = [None, None];
                replies = [(false, 0); 2];
                checkpoint(ours, theirs).or_else(|w| fail(at, w))?
            }
        }
    }
    Ok(())
}

/// Compares every key of databases 0 and 1 (type, encoding, value, TTL) and the pushes.
fn checkpoint(ours: &mut Side, theirs: &mut Side) -> Result<(), String> {
    // Replies back on, and a transaction left open by the sequence ended.
    // DISCARD first: with replies off, a CLIENT REPLY ON inside MULTI would be queued. Whether
    // DISCARD and CLIENT REPLY ON answer depends on the reply mode, so a PING with a marker
    // follows them and everything up to its echo is drained: no fixed wait that a loaded
    // machine could outlast, leaving a stale reply to be taken for the next command's.
    const MARK: &[u8] = b"$17\r\nfuzz-checkpoint-7\r\n";
    for s in [&mut *ours, &mut *theirs] {
        for c in s.conns.iter_mut().take(2) {
            c.send_raw(&encode(&[b"DISCARD"]));
            c.send_raw(&encode(&[b"CLIENT", b"REPLY", b"ON"]));
            c.send_raw(&encode(&[b"PING", b"fuzz-checkpoint-7"]));
            let mut drained = 0;
            loop {
                match c.try_read_reply(Duration::from_secs(10)) {
                    Some(r) if r == MARK => break,
                    Some(_) if drained < 3 => drained += 1,
                    other => return Err(format!("checkpoint: no PING echo, got {:?}", other.map(|x| shown(&x)))),
                }
            }
        }
    }
    let mut c = (Conn::connect(ours.proc.port), Conn::connect(theirs.proc.port));
    for db in ["0", "1"] {
        let sel = |c: &mut Conn| c.cmd(&[b"SELECT", db.as_bytes()]);
        sel(&mut c.0);
        sel(&mut c.1);
        let mut keys = (sorted_items(&c.0.run("KEYS *")), sorted_items(&c.1.run("KEYS *")));
        if keys.0 != keys.1 {
            return Err(format!("db {db} keys: redstart {:?} / redis {:?}", shown_list(&keys.0), shown_list(&keys.1)));
        }
        for k in std::mem::take(&mut keys.0) {
            let ty = c.1.cmd(&[b"TYPE", &k]);
            let reads: Vec<(Vec<Vec<u8>>, Cmp)> = match &ty[..] {
                b"+string\r\n" => vec![(vec![b("GET"), k.clone()], Cmp::Exact)],
                b"+hash\r\n" => vec![(vec![b("HGETALL"), k.clone()], Cmp::Pairs)],
                b"+list\r\n" => vec![(vec![b("LRANGE"), k.clone(), b("0"), b("-1")], Cmp::Exact)],
                b"+set\r\n" => vec![(vec![b("SMEMBERS"), k.clone()], Cmp::Unordered)],
                b"+zset\r\n" => vec![(vec![b("ZRANGE"), k.clone(), b("0"), b("-1"), b("WITHSCORES")], Cmp::Exact)],
                b"+stream\r\n" => vec![
                    (vec![b("XRANGE"), k.clone(), b("-"), b("+")], Cmp::Exact),
                    (vec![b("XINFO"), b("STREAM"), k.clone(), b("FULL")], Cmp::NoInts),
                ],
                _ => vec![],
            };
            let mut checks = vec![(vec![b("TYPE"), k.clone()], Cmp::Exact), (vec![b("TTL"), k.clone()], Cmp::Near)];
            checks.extend(reads);
            let enc: [&[u8]; 3] = [b"OBJECT", b"ENCODING", &k];
            let (a, b) = (c.0.cmd(&enc), c.1.cmd(&enc));
            if !same_encoding(&ty, &a, &b) {
                return Err(format!(
                    "db {db}: `OBJECT ENCODING {}`: redstart {} / redis {}",
                    shown(&k),
                    shown(&a),
                    shown(&b)
                ));
            }
            for (args, cmp) in checks {
                let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
                let (a, b) = (c.0.cmd(&refs), c.1.cmd(&refs));
                if !agree(&a, &b, cmp) {
                    return Err(format!(
                        "db {db}: `{}`: redstart {} / redis {}",
                        show_args(&args),
                        shown(&a),
                        shown(&b)
                    ));
                }
            }
        }
    }
    // The whole dataset at once, every database (after the key-by-key comparison, which names
    // what differs), as Redis digests it (DEBUG DIGEST): keys
    // whose TTL passed but that are still stored count too.
    let digests = (c.0.cmd(&[b"DEBUG", b"DIGEST"]), c.1.cmd(&[b"DEBUG", b"DIGEST"]));
    if digests.0 != digests.1 {
        return Err(format!("DEBUG DIGEST: redstart {} / redis {}", shown(&digests.0), shown(&digests.1)));
    }
    ours.collect_pushes(Duration::from_millis(30));
    theirs.collect_pushes(Duration::from_millis(30));
    for i in 0..2 {
        let (a, b) = (std::mem::take(&mut ours.pushes[i]), std::mem::take(&mut theirs.pushes[i]));
        if a != b {
            let first = a.iter().zip(&b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
            return Err(format!(
                "subscriber {} (RESP{}) push {first} of {}/{}: redstart {} / redis {}",
                i,
                i + 2,
                a.len(),
                b.len(),
                a.get(first).map_or("<none>".into(), |x| shown(x)),
                b.get(first).map_or("<none>".into(), |x| shown(x))
            ));
        }
    }
    Ok(())
}

fn shown_list(v: &[Vec<u8>]) -> Vec<String> {
    v.iter().map(|x| String::from_utf8_lossy(x).into_owned()).collect()
}

/// Drops steps while the sequence still fails: chunks halving down to single steps.
fn shrink(ours: &mut Side, theirs: &mut Side, mut steps: Vec<Step>, deadline: Instant) -> Vec<Step> {
    let mut chunk = steps.len() / 2;
    while chunk >= 1 && Instant::now() < deadline {
        let mut i = 0;
        while i < steps.len() && Instant::now() < deadline {
            let mut trial = steps.clone();
            trial.drain(i..(i + chunk).min(trial.len()));
            trial.push(Step::Checkpoint);
            ours.connect();
            theirs.connect();
            if run(ours, theirs, &trial).is_err() {
                trial.pop();
                steps = trial;
            } else {
                i += chunk;
            }
        }
        chunk /= 2;
    }
    steps
}

/// Runs seeds until `budget` is spent; panics with the seed and a minimised sequence on the
/// first difference.
fn fuzz(first_seed: u64, random_seeds: bool, budget: Duration, steps_per_seed: usize) {
    let mut ours = Side::start(true);
    let mut theirs = Side::start(false);
    let start = Instant::now();
    let mut seed = first_seed;
    let mut runs = 0;
    let mut total_steps = 0;
    while start.elapsed() < budget {
        let steps = sequence(seed, steps_per_seed);
        ours.connect();
        theirs.connect();
        if let Err(f) = run(&mut ours, &mut theirs, &steps) {
            let mut report = String::new();
            let _ = writeln!(report, "difference with seed {seed} at step {}: {}", f.at, f.what);
            let failing: Vec<Step> = steps[..=f.at].to_vec();
            // A difference that does not come back on a rerun is a race: reported as it is.
            let reproduces = (0..3).any(|_| {
                ours.connect();
                theirs.connect();
                run(&mut ours, &mut theirs, &failing).is_err()
            });
            if !reproduces {
                let _ = writeln!(report, "did not reproduce on reruns; the last steps were:");
                for s in &failing[failing.len().saturating_sub(40)..] {
                    let _ = writeln!(report, "    {s}");
                }
                panic!("{report}");
            }
            let minimal = shrink(&mut ours, &mut theirs, failing, Instant::now() + Duration::from_secs(120));
            ours.connect();
            theirs.connect();
            let again = run(&mut ours, &mut theirs, &[minimal.clone(), vec![Step::Checkpoint]].concat());
            let _ = writeln!(
                report,
                "minimised to {} steps ({}):",
                minimal.len(),
                again.err().map_or("did not reproduce".into(), |f| f.what)
            );
            for s in &minimal {
                let _ = writeln!(report, "    {s}");
            }
            panic!("{report}");
        }
        runs += 1;
        total_steps += steps.len();
        seed = if random_seeds { Rng::new(seed ^ start.elapsed().as_nanos() as u64).next() } else { seed + 1 };
    }
    eprintln!("fuzz_diff: {runs} sequences, {total_steps} steps, seeds from {first_seed}, no difference");
}

#[test]
fn redstart_answers_as_redis() {
    let secs: u64 = std::env::var("REDSTART_FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(40);
    let (seed, random) = match std::env::var("REDSTART_FUZZ_SEED").ok().and_then(|s| s.parse().ok()) {
        Some(s) => (s, std::env::var("REDSTART_FUZZ_RANDOM").is_ok()),
        None => (1, false),
    };
    assert!(!SEVEN_TWO.is_empty());
    fuzz(seed, random, Duration::from_secs(secs), 300);
}

#[test]
fn the_comparison_tells_replies_apart() {
    let empty = &b"*1\r\n*2\r\n$2\r\nk2\r\n*0\r\n"[..];
    assert!(woken_empty_by_7_0(Some(b"*-1\r\n"), Some(empty)));
    assert!(!woken_empty_by_7_0(Some(b"*-1\r\n"), Some(b"*1\r\n*2\r\n$2\r\nk2\r\n*1\r\n*2\r\n$3\r\n1-1\r\n*0\r\n")));
    assert!(!woken_empty_by_7_0(Some(empty), Some(b"*-1\r\n")));
    // SORT ... ALPHA: ties up to a NUL in any order, and a LIMIT may cut a run of them.
    let (nul, empty, a) = (
        &b"*2\r\n$3\r\nbar\r\n$2\r\n\0x\r\n"[..],
        &b"*2\r\n$3\r\nbar\r\n$0\r\n\r\n"[..],
        &b"*2\r\n$3\r\nbar\r\n$1\r\na\r\n"[..],
    );
    assert!(agree(nul, empty, Cmp::Alpha) && !agree(nul, empty, Cmp::Exact));
    assert!(!agree(a, empty, Cmp::Alpha));
    assert!(agree(
        b"*3\r\n$2\r\n\0x\r\n$0\r\n\r\n$1\r\nb\r\n",
        b"*3\r\n$0\r\n\r\n$2\r\n\0x\r\n$1\r\nb\r\n",
        Cmp::Alpha
    ));
    assert!(!agree(
        b"*3\r\n$1\r\na\r\n$2\r\nb\0\r\n$1\r\nc\r\n",
        b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n",
        Cmp::Alpha
    ));
    assert!(agree(b"*2\r\n$1\r\na\r\n$1\r\nb\r\n", b"*2\r\n$1\r\nb\r\n$1\r\na\r\n", Cmp::Unordered));
    assert!(!agree(b"*2\r\n$1\r\na\r\n$1\r\nb\r\n", b"*2\r\n$1\r\nb\r\n$1\r\na\r\n", Cmp::Exact));
    assert!(agree(
        b"*4\r\n$1\r\nf\r\n$1\r\n1\r\n$1\r\ng\r\n$1\r\n2\r\n",
        b"*4\r\n$1\r\ng\r\n$1\r\n2\r\n$1\r\nf\r\n$1\r\n1\r\n",
        Cmp::Pairs
    ));
    assert!(!agree(
        b"*4\r\n$1\r\nf\r\n$1\r\n1\r\n$1\r\ng\r\n$1\r\n2\r\n",
        b"*4\r\n$1\r\nf\r\n$1\r\n2\r\n$1\r\ng\r\n$1\r\n1\r\n",
        Cmp::Pairs
    ));
    assert!(agree(b":999\r\n", b":1000\r\n", Cmp::Near));
    assert!(!agree(b":-1\r\n", b":1000\r\n", Cmp::Near));
    assert!(agree(b"$1\r\nx\r\n", b"$1\r\ny\r\n", Cmp::Shape));
    assert!(!agree(b"$1\r\nx\r\n", b"$-1\r\n", Cmp::Shape));
    assert!(agree(b"*2\r\n:5\r\n$1\r\nx\r\n", b"*2\r\n:7\r\n$1\r\nx\r\n", Cmp::NoInts));
    // Sequences are deterministic from their seed.
    assert_eq!(format!("{:?}", sequence(7, 50)), format!("{:?}", sequence(7, 50)));
}
