//! Sorted-set commands: ZADD, ZINCRBY, ZREM, ZCARD, ZCOUNT, ZLEXCOUNT, ZSCORE, ZMSCORE, ZRANK,
//! ZREVRANK, ZRANGE, ZRANGESTORE, ZRANGEBYSCORE, ZREVRANGEBYSCORE, ZRANGEBYLEX,
//! ZREVRANGEBYLEX, ZREVRANGE, ZREMRANGEBYRANK, ZREMRANGEBYSCORE, ZREMRANGEBYLEX, ZPOPMIN,
//! ZPOPMAX, ZMPOP, ZRANDMEMBER, ZUNION, ZINTER, ZDIFF, ZUNIONSTORE, ZINTERSTORE, ZDIFFSTORE,
//! ZINTERCARD, ZSCAN.
//!
//! The value lives in [`crate::types::zset`] (encodings `listpack` / `skiplist`, converted as
//! Redis does: on growth past `zset-max-listpack-entries` / `-value`, never back, except that
//! `*STORE` results are encoded by their contents).
//!
//! Replies follow Redis 7.2: scores use the shortest round-trip formatting (`Writer::double`),
//! ZRANK/ZREVRANK accept `WITHSCORE`; in RESP3, score pairs are nested arrays with double
//! scores.
//!
//! The blocking BZPOPMIN, BZPOPMAX and BZMPOP go through `cmd::blocking` (served by re-running
//! them when a key is created or ZADD/ZINCRBY add to it). Keyspace notifications (class `z`)
//! follow Redis: `zadd`/`zincr` when a member was added or its score changed, `zrem`,
//! `zremrangeby{rank,score,lex}`, `zpopmin`/`zpopmax` (also for ZMPOP and the blocking pops),
//! `z{union,inter,diff}store`/`zrangestore`, and a generic `del` when a set is emptied or a
//! store deletes its destination.
//!
//! Differences from Redis:
//! - Plain sets as ZUNION/ZINTER/ZDIFF sources: the set type does not exist on this branch yet;
//!   any non-zset source answers WRONGTYPE (see [`source_entries`], one arm to add).
//! - ZRANDMEMBER with a negative count beyond [`MAX_RANDOM_REPLY`] elements answers
//!   `ERR value is out of range` instead of streaming a reply of unbounded size.
//! - ZSCAN of a `skiplist` set walks the score order: the cursor is the (order-preserving bit
//!   image of the) next score to return, and each call ends on a score boundary, which keeps
//!   SCAN's guarantee (every member present for the whole iteration is returned) under
//!   concurrent writes. Cursor values differ from Redis's, and a call may return more than
//!   COUNT members when many share one score.
//! - Lexicographic ranges on a `skiplist` set whose members have different scores use a binary
//!   search; Redis's answer then depends on its skiplist's random shape (undefined behaviour
//!   per Redis's documentation).

use rand::Rng;

use super::blocking::{self, NullReply};
use crate::notify;

use super::{
    acl, args, flags::*, keys, BeginSearch, CmdError, CmdResult, CommandSpec, Ctx, FindKeys, KeySpec, KeySpecDoc,
};
use crate::db::glob;
use crate::db::value::{EntryMut, Value, NO_EXPIRE};
use crate::types::zset::{LexBound, LexRange, Limits, ScoreRange, Zset};
use resp::Writer;

const G: &str = "sorted-set";

/// `ZUNION`-style key positions: `numkeys` at 1, keys after it.
fn keys_numkeys_at_1(a: &[&[u8]]) -> Vec<usize> {
    numkeys_at(a, 1)
}

/// `ZUNIONSTORE`-style key positions: the destination, then `numkeys` at 2 and the sources.
fn keys_dest_numkeys(a: &[&[u8]]) -> Vec<usize> {
    let mut v = vec![1];
    v.extend(numkeys_at(a, 2));
    v
}

/// `BZMPOP`-style key positions: the timeout at 1, `numkeys` at 2, keys after it.
fn keys_numkeys_at_2(a: &[&[u8]]) -> Vec<usize> {
    numkeys_at(a, 2)
}

fn numkeys_at(a: &[&[u8]], idx: usize) -> Vec<usize> {
    match a.get(idx).and_then(|n| resp::parse_i64(n)) {
        Some(n) if n > 0 => (idx + 1..a.len().min(idx + 1 + n as usize)).collect(),
        _ => Vec::new(),
    }
}

const NUMKEYS1: KeySpec = KeySpec { first: 0, last: 0, step: 0, finder: Some(keys_numkeys_at_1) };
const NUMKEYS2: KeySpec = KeySpec { first: 0, last: 0, step: 0, finder: Some(keys_numkeys_at_2) };
const DEST_NUMKEYS: KeySpec = KeySpec { first: 1, last: 1, step: 1, finder: Some(keys_dest_numkeys) };

// Key specifications where Redis's differ from the ones derived from the flags.
const fn spec(flags: &'static [&'static str], index: i32, find: FindKeys) -> KeySpecDoc {
    KeySpecDoc { flags, begin: BeginSearch::Index(index), find }
}
const ONE: FindKeys = FindKeys::Range { lastkey: 0, keystep: 1, limit: 0 };
const NUM: FindKeys = FindKeys::Keynum { keynumidx: 0, firstkey: 1, keystep: 1 };
const KS_INCR: &[KeySpecDoc] = &[spec(&["RW", "access", "update"], 1, ONE)];
const KS_DELETE: &[KeySpecDoc] = &[spec(&["RW", "delete"], 1, ONE)];
const KS_POP: &[KeySpecDoc] = &[spec(&["RW", "access", "delete"], 1, ONE)];
const KS_RO: &[KeySpecDoc] = &[spec(&["RO"], 1, ONE)];
const KS_RANGESTORE: &[KeySpecDoc] = &[spec(&["OW", "update"], 1, ONE), spec(&["RO", "access"], 2, ONE)];
const KS_MPOP: &[KeySpecDoc] = &[spec(&["RW", "access", "delete"], 1, NUM)];
const KS_BZPOP: &[KeySpecDoc] =
    &[spec(&["RW", "access", "delete"], 1, FindKeys::Range { lastkey: -2, keystep: 1, limit: 0 })];
const KS_BZMPOP: &[KeySpecDoc] = &[spec(&["RW", "access", "delete"], 2, NUM)];
const KS_READ_NUM: &[KeySpecDoc] = &[spec(&["RO", "access"], 1, NUM)];
const KS_STORE_NUM: &[KeySpecDoc] = &[spec(&["OW", "update"], 1, ONE), spec(&["RO", "access"], 2, NUM)];

const R: u32 = READONLY;
const W: u32 = WRITE;
const Z: u64 = acl::SORTEDSET;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("zadd", -4, W | DENYOOM | FAST, Z, keys(1, 1, 1), zadd).doc(
        G,
        "1.2.0",
        "O(log(N)) for each item added, where N is the number of elements in the sorted set.",
        "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.",
    ),
    CommandSpec::new("zincrby", 4, W | DENYOOM | FAST, Z, keys(1, 1, 1), zincrby).doc(
        G,
        "1.2.0",
        "O(log(N)) where N is the number of elements in the sorted set.",
        "Increments the score of a member in a sorted set.",
    )
    .key_specs(KS_INCR),
    CommandSpec::new("zrem", -3, W | FAST, Z, keys(1, 1, 1), zrem).doc(
        G,
        "1.2.0",
        "O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed.",
        "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.",
    )
    .key_specs(KS_DELETE),
    CommandSpec::new("zcard", 2, R | FAST, Z, keys(1, 1, 1), zcard).doc(
        G,
        "1.2.0",
        "O(1)",
        "Returns the number of members in a sorted set.",
    )
    .key_specs(KS_RO),
    CommandSpec::new("zcount", 4, R | FAST, Z, keys(1, 1, 1), zcount).doc(
        G,
        "2.0.0",
        "O(log(N)) with N being the number of elements in the sorted set.",
        "Returns the count of members in a sorted set that have scores within a range.",
    ),
    CommandSpec::new("zlexcount", 4, R | FAST, Z, keys(1, 1, 1), zlexcount).doc(
        G,
        "2.8.9",
        "O(log(N)) with N being the number of elements in the sorted set.",
        "Returns the number of members in a sorted set within a lexicographical range.",
    ),
    CommandSpec::new("zscore", 3, R | FAST, Z, keys(1, 1, 1), zscore).doc(
        G,
        "1.2.0",
        "O(1)",
        "Returns the score of a member in a sorted set.",
    ),
    CommandSpec::new("zmscore", -3, R | FAST, Z, keys(1, 1, 1), zmscore).doc(
        G,
        "6.2.0",
        "O(N) where N is the number of members being requested.",
        "Returns the score of one or more members in a sorted set.",
    ),
    CommandSpec::new("zrank", -3, R | FAST, Z, keys(1, 1, 1), zrank).doc(
        G,
        "2.0.0",
        "O(log(N))",
        "Returns the index of a member in a sorted set ordered by ascending scores.",
    ),
    CommandSpec::new("zrevrank", -3, R | FAST, Z, keys(1, 1, 1), zrevrank).doc(
        G,
        "2.0.0",
        "O(log(N))",
        "Returns the index of a member in a sorted set ordered by descending scores.",
    ),
    CommandSpec::new("zrange", -4, R, Z, keys(1, 1, 1), zrange).doc(
        G,
        "1.2.0",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.",
        "Returns members in a sorted set within a range of indexes.",
    ),
    CommandSpec::new("zrangestore", -5, W | DENYOOM, Z, keys(1, 2, 1), zrangestore).doc(
        G,
        "6.2.0",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key.",
        "Stores a range of members from sorted set in a key.",
    )
    .key_specs(KS_RANGESTORE),
    CommandSpec::new("zrangebyscore", -4, R, Z, keys(1, 1, 1), zrangebyscore).doc(
        G,
        "1.0.5",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
        "Returns members in a sorted set within a range of scores.",
    ),
    CommandSpec::new("zrevrangebyscore", -4, R, Z, keys(1, 1, 1), zrevrangebyscore).doc(
        G,
        "2.2.0",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
        "Returns members in a sorted set within a range of scores in reverse order.",
    ),
    CommandSpec::new("zrangebylex", -4, R, Z, keys(1, 1, 1), zrangebylex).doc(
        G,
        "2.8.9",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
        "Returns members in a sorted set within a lexicographical range.",
    ),
    CommandSpec::new("zrevrangebylex", -4, R, Z, keys(1, 1, 1), zrevrangebylex).doc(
        G,
        "2.8.9",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
        "Returns members in a sorted set within a lexicographical range in reverse order.",
    ),
    CommandSpec::new("zrevrange", -4, R, Z, keys(1, 1, 1), zrevrange).doc(
        G,
        "1.2.0",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.",
        "Returns members in a sorted set within a range of indexes in reverse order.",
    ),
    CommandSpec::new("zremrangebyrank", 4, W, Z, keys(1, 1, 1), zremrangebyrank).doc(
        G,
        "2.0.0",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.",
        "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.",
    )
    .key_specs(KS_DELETE),
    CommandSpec::new("zremrangebyscore", 4, W, Z, keys(1, 1, 1), zremrangebyscore).doc(
        G,
        "1.2.0",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.",
        "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.",
    )
    .key_specs(KS_DELETE),
    CommandSpec::new("zremrangebylex", 4, W, Z, keys(1, 1, 1), zremrangebylex).doc(
        G,
        "2.8.9",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.",
        "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.",
    )
    .key_specs(KS_DELETE),
    CommandSpec::new("zpopmin", -2, W | FAST, Z, keys(1, 1, 1), zpopmin).doc(
        G,
        "5.0.0",
        "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.",
        "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.",
    )
    .key_specs(KS_POP),
    CommandSpec::new("zpopmax", -2, W | FAST, Z, keys(1, 1, 1), zpopmax).doc(
        G,
        "5.0.0",
        "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.",
        "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.",
    )
    .key_specs(KS_POP),
    CommandSpec::new("zmpop", -4, W | MOVABLEKEYS, Z, NUMKEYS1, zmpop).doc(
        G,
        "7.0.0",
        "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.",
        "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.",
    )
    .key_specs(KS_MPOP),
    CommandSpec::new("bzpopmin", -3, W | NOSCRIPT | FAST | BLOCKING, Z, keys(1, -2, 1), bzpopmin).doc(
        G,
        "5.0.0",
        "O(log(N)) with N being the number of elements in the sorted set.",
        "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.",
    )
    .key_specs(KS_BZPOP),
    CommandSpec::new("bzpopmax", -3, W | NOSCRIPT | FAST | BLOCKING, Z, keys(1, -2, 1), bzpopmax).doc(
        G,
        "5.0.0",
        "O(log(N)) with N being the number of elements in the sorted set.",
        "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise.  Deletes the sorted set if the last element was popped.",
    )
    .key_specs(KS_BZPOP),
    CommandSpec::new("bzmpop", -5, W | BLOCKING | MOVABLEKEYS, Z, NUMKEYS2, bzmpop).doc(
        G,
        "7.0.0",
        "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.",
        "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.",
    )
    .key_specs(KS_BZMPOP),
    CommandSpec::new("zrandmember", -2, R, Z, keys(1, 1, 1), zrandmember)
        .doc(
            G,
            "6.2.0",
            "O(N) where N is the number of members returned",
            "Returns one or more random members from a sorted set.",
        )
        .tips(&["nondeterministic_output"]),
    CommandSpec::new("zunion", -3, R | MOVABLEKEYS, Z, NUMKEYS1, zunion).doc(
        G,
        "6.2.0",
        "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.",
        "Returns the union of multiple sorted sets.",
    )
    .key_specs(KS_READ_NUM),
    CommandSpec::new("zinter", -3, R | MOVABLEKEYS, Z, NUMKEYS1, zinter).doc(
        G,
        "6.2.0",
        "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.",
        "Returns the intersect of multiple sorted sets.",
    )
    .key_specs(KS_READ_NUM),
    CommandSpec::new("zdiff", -3, R | MOVABLEKEYS, Z, NUMKEYS1, zdiff).doc(
        G,
        "6.2.0",
        "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.",
        "Returns the difference between multiple sorted sets.",
    )
    .key_specs(KS_READ_NUM),
    CommandSpec::new("zunionstore", -4, W | DENYOOM | MOVABLEKEYS, Z, DEST_NUMKEYS, zunionstore).doc(
        G,
        "2.0.0",
        "O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.",
        "Stores the union of multiple sorted sets in a key.",
    )
    .key_specs(KS_STORE_NUM),
    CommandSpec::new("zinterstore", -4, W | DENYOOM | MOVABLEKEYS, Z, DEST_NUMKEYS, zinterstore).doc(
        G,
        "2.0.0",
        "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.",
        "Stores the intersect of multiple sorted sets in a key.",
    )
    .key_specs(KS_STORE_NUM),
    CommandSpec::new("zdiffstore", -4, W | DENYOOM | MOVABLEKEYS, Z, DEST_NUMKEYS, zdiffstore).doc(
        G,
        "6.2.0",
        "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.",
        "Stores the difference of multiple sorted sets in a key.",
    )
    .key_specs(KS_STORE_NUM),
    CommandSpec::new("zintercard", -3, R | MOVABLEKEYS, Z, NUMKEYS1, zintercard).doc(
        G,
        "7.0.0",
        "O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets.",
        "Returns the number of members of the intersect of multiple sorted sets.",
    )
    .key_specs(KS_READ_NUM),
    CommandSpec::new("zscan", -3, R, Z, keys(1, 1, 1), zscan)
        .doc(
            G,
            "2.8.0",
            "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.",
            "Iterates over members and scores of a sorted set.",
        )
        .tips(&["nondeterministic_output"]),
];

// ---------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------

/// Most elements a negative-count ZRANDMEMBER may return (see the module comment).
pub const MAX_RANDOM_REPLY: u64 = 1 << 24;

/// Owned (member, score) entries.
type Items = Vec<(Box<[u8]>, f64)>;

fn limits(ctx: &Ctx) -> Limits {
    let c = ctx.server.config.read();
    Limits { max_entries: c.zset_max_listpack_entries, max_value: c.zset_max_listpack_value }
}

fn as_zset<'a>(e: EntryMut<'a>) -> Result<&'a Zset, CmdError> {
    match e.value {
        Value::Zset(z) => Ok(z),
        _ => Err(CmdError::WrongType),
    }
}

fn as_zset_mut<'a>(e: EntryMut<'a>) -> Result<&'a mut Zset, CmdError> {
    match e.value {
        Value::Zset(z) => Ok(z),
        _ => Err(CmdError::WrongType),
    }
}

/// A score argument as Redis's `getDoubleFromObject` reads it: strtod syntax over the whole
/// argument, no leading space, no NaN, and no overflow to ±inf or underflow to 0 (ERANGE).
fn score_arg(a: &[u8]) -> Option<f64> {
    let v = args::parse_f64(a)?;
    let body = a.strip_prefix(b"-").or_else(|| a.strip_prefix(b"+")).unwrap_or(a);
    let lower = body.to_ascii_lowercase();
    if v.is_infinite() && !lower.starts_with(b"inf") {
        return None;
    }
    if v == 0.0 {
        let mantissa: &[u8] = match lower.strip_prefix(b"0x") {
            Some(h) => h,
            None => lower.split(|&c| c == b'e').next().unwrap_or(&[]),
        };
        if mantissa.iter().any(|c| c.is_ascii_alphanumeric() && *c != b'0') {
            return None;
        }
    }
    Some(v)
}

fn float_arg(a: &[u8]) -> Result<f64, CmdError> {
    score_arg(a).ok_or(CmdError::NotFloat)
}

/// One end of a score range: optional `(`, then strtod (leading spaces allowed, an empty
/// string reads as 0, as Redis's `zslParseRange`).
fn score_bound(a: &[u8]) -> Option<(f64, bool)> {
    let (ex, body) = match a.first() {
        Some(b'(') => (true, &a[1..]),
        _ => (false, a),
    };
    if body.is_empty() {
        return Some((0.0, ex));
    }
    let start = body.iter().position(|c| !matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))?;
    Some((args::parse_f64(&body[start..])?, ex))
}

fn score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, CmdError> {
    match (score_bound(min), score_bound(max)) {
        (Some((min, minex)), Some((max, maxex))) => Ok(ScoreRange { min, minex, max, maxex }),
        _ => Err(CmdError::msg("ERR min or max is not a float")),
    }
}

fn lex_bound(a: &[u8]) -> Option<LexBound> {
    match a.first()? {
        b'+' if a.len() == 1 => Some(LexBound::PosInf),
        b'-' if a.len() == 1 => Some(LexBound::NegInf),
        b'[' => Some(LexBound::Incl(a[1..].to_vec())),
        b'(' => Some(LexBound::Excl(a[1..].to_vec())),
        _ => None,
    }
}

fn lex_range(min: &[u8], max: &[u8]) -> Result<LexRange, CmdError> {
    match (lex_bound(min), lex_bound(max)) {
        (Some(min), Some(max)) => Ok(LexRange { min, max }),
        _ => Err(CmdError::msg("ERR min or max not valid string range item")),
    }
}

/// Redis's rank normalisation (negative from the end, clamped); `None` for an empty range.
fn rank_window(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let llen = len as i64;
    let mut start = if start < 0 { llen + start } else { start };
    let mut end = if end < 0 { llen + end } else { end };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= llen {
        return None;
    }
    if end >= llen {
        end = llen - 1;
    }
    Some((start as usize, end as usize))
}

/// Writes (member, score) pairs: flat in RESP2, nested pairs in RESP3 (or when `nested`).
fn write_pairs(out: &mut Writer, items: &[(&[u8], f64)], withscores: bool, nested: bool) {
    let nested = withscores && (nested || out.resp3);
    if withscores && !nested {
        out.array(items.len() * 2);
    } else {
        out.array(items.len());
    }
    for (m, s) in items {
        if nested {
            out.array(2);
        }
        out.bulk(m);
        if withscores {
            out.double(*s);
        }
    }
}

/// Stores `items` at `dst` (encoded by contents) or deletes `dst` when empty; replies the count
/// and raises `event` (or `del` when an existing `dst` was deleted), as Redis.
fn store_result(ctx: &mut Ctx, dst: &[u8], items: Vec<(Box<[u8]>, f64)>, event: &str) {
    let n = items.len();
    let lim = limits(ctx);
    let mut db = ctx.db();
    if n == 0 {
        if db.remove(dst).is_some() {
            ctx.notify(notify::GENERIC, "del", dst);
        }
    } else {
        db.set(dst, Value::Zset(Box::new(Zset::from_items(items, lim))), NO_EXPIRE);
        ctx.notify(notify::ZSET, event, dst);
    }
    ctx.out.int(n as i64);
}

fn owned(items: Vec<(&[u8], f64)>) -> Vec<(Box<[u8]>, f64)> {
    items.into_iter().map(|(m, s)| (Box::from(m), s)).collect()
}

// ---------------------------------------------------------------------------------------------
// ZADD, ZINCRBY, ZREM
// ---------------------------------------------------------------------------------------------

fn zadd(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zadd_generic(ctx, a, false)
}

fn zincrby(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zadd_generic(ctx, a, true)
}

fn zadd_generic(ctx: &mut Ctx, a: &[&[u8]], zincrby: bool) -> CmdResult {
    let (mut nx, mut xx, mut gt, mut lt, mut ch, mut incr) = (false, false, false, false, false, zincrby);
    let mut i = 2;
    if !zincrby {
        while i < a.len() {
            let o = a[i];
            if args::is(o, "nx") {
                nx = true;
            } else if args::is(o, "xx") {
                xx = true;
            } else if args::is(o, "ch") {
                ch = true;
            } else if args::is(o, "incr") {
                incr = true;
            } else if args::is(o, "gt") {
                gt = true;
            } else if args::is(o, "lt") {
                lt = true;
            } else {
                break;
            }
            i += 1;
        }
    }
    let elements = a.len() - i;
    if elements == 0 || !elements.is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    if nx && xx {
        return Err(CmdError::msg("ERR XX and NX options at the same time are not compatible"));
    }
    if (nx && (gt || lt)) || (gt && lt) {
        return Err(CmdError::msg("ERR GT, LT, and/or NX options at the same time are not compatible"));
    }
    if incr && elements > 2 {
        return Err(CmdError::msg("ERR INCR option supports a single increment-element pair"));
    }
    let mut pairs = Vec::with_capacity(elements / 2);
    for p in a[i..].chunks(2) {
        pairs.push((float_arg(p[0])?, p[1]));
    }
    let lim = limits(ctx);
    let key = a[1];
    let mut db = ctx.db();
    let (mut added, mut updated, mut processed, mut last) = (0i64, 0i64, 0, 0.0);
    let mut fresh = None;
    let z = match db.get(key) {
        Some(e) => as_zset_mut(e)?,
        None => {
            if xx {
                if incr {
                    ctx.out.null();
                } else {
                    ctx.out.int(0);
                }
                return Ok(());
            }
            // As redis-server: the encoding of a new set depends on its first member only; later
            // members convert it as they are added.
            fresh.insert(Zset::with_hint(1, pairs[0].1.len(), lim))
        }
    };
    for (score, m) in pairs {
        match z.score(m) {
            Some(cur) => {
                if nx {
                    continue;
                }
                let new = if incr { cur + score } else { score };
                if new.is_nan() {
                    return Err(CmdError::msg("ERR resulting score is not a number (NaN)"));
                }
                if (gt && new <= cur) || (lt && new >= cur) {
                    continue;
                }
                if new != cur {
                    z.insert(m, new, lim);
                    updated += 1;
                }
                processed += 1;
                last = new;
            }
            None => {
                if xx {
                    continue;
                }
                z.insert(m, score, lim);
                added += 1;
                processed += 1;
                last = score;
            }
        }
    }
    match fresh {
        Some(z) if !z.is_empty() => {
            db.set(key, Value::Zset(Box::new(z)), NO_EXPIRE);
        }
        Some(_) => {}
        None if added + updated > 0 => {
            db.touch(key);
            // New members for clients blocked in BZPOP*/BZMPOP (a new key signals itself).
            blocking::signal_ready(&mut db, key);
        }
        None => {}
    }
    if added + updated > 0 {
        ctx.notify(notify::ZSET, if incr { "zincr" } else { "zadd" }, key);
    }
    if incr {
        if processed > 0 {
            ctx.out.double(last);
        } else {
            ctx.out.null();
        }
    } else {
        ctx.out.int(if ch { added + updated } else { added });
    }
    Ok(())
}

/// Runs `f` on the zset at `key` for writing; touches the key when `f` reports a change and
/// deletes it when it ends up empty. `None` when the key is missing. A change raises `event`,
/// a deletion `del` after it, as Redis.
fn modify<T>(
    ctx: &mut Ctx,
    key: &[u8],
    event: &str,
    f: impl FnOnce(&mut Zset) -> (T, bool),
) -> Result<Option<T>, CmdError> {
    let mut db = ctx.db();
    let Some(e) = db.get(key) else { return Ok(None) };
    let z = as_zset_mut(e)?;
    let (r, changed) = f(z);
    let empty = z.is_empty();
    if empty {
        db.remove(key);
    } else if changed {
        db.touch(key);
    }
    if changed {
        ctx.notify(notify::ZSET, event, key);
    }
    if empty {
        ctx.notify(notify::GENERIC, "del", key);
    }
    Ok(Some(r))
}

fn zrem(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let n = modify(ctx, a[1], "zrem", |z| {
        let n = a[2..].iter().filter(|m| z.remove(m).is_some()).count();
        (n, n > 0)
    })?;
    if n.unwrap_or(0) == 0 {
        ctx.propagate_nothing();
    }
    ctx.out.int(n.unwrap_or(0) as i64);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Read commands on one key
// ---------------------------------------------------------------------------------------------

/// Runs `f` with the zset at `key` (a counted read lookup) and the reply writer; `missing`
/// writes the reply for a missing key.
fn read(ctx: &mut Ctx, key: &[u8], missing: impl FnOnce(&mut Writer), f: impl FnOnce(&Zset, &mut Writer)) -> CmdResult {
    let (mut db, out) = ctx.db_out();
    match db.get_counted(key) {
        None => missing(out),
        Some(e) => f(as_zset(e)?, out),
    }
    Ok(())
}

fn zcard(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    read(ctx, a[1], |o| o.int(0), |z, o| o.int(z.len() as i64))
}

fn zcount(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let r = score_range(a[2], a[3])?;
    read(
        ctx,
        a[1],
        |o| o.int(0),
        |z, o| {
            let (lo, hi) = z.score_interval(&r);
            o.int(hi.saturating_sub(lo) as i64)
        },
    )
}

fn zlexcount(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let r = lex_range(a[2], a[3])?;
    read(
        ctx,
        a[1],
        |o| o.int(0),
        |z, o| {
            let (lo, hi) = z.lex_interval(&r);
            o.int(hi.saturating_sub(lo) as i64)
        },
    )
}

fn zscore(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    read(
        ctx,
        a[1],
        |o| o.null(),
        |z, o| match z.score(a[2]) {
            Some(s) => o.double(s),
            None => o.null(),
        },
    )
}

fn zmscore(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let members = &a[2..];
    read(
        ctx,
        a[1],
        |o| {
            o.array(members.len());
            members.iter().for_each(|_| o.null());
        },
        |z, o| {
            o.array(members.len());
            for m in members {
                match z.score(m) {
                    Some(s) => o.double(s),
                    None => o.null(),
                }
            }
        },
    )
}

fn zrank(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zrank_generic(ctx, a, false)
}

fn zrevrank(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zrank_generic(ctx, a, true)
}

/// ZRANK / ZREVRANK, with Redis 7.2's `WITHSCORE`.
fn zrank_generic(ctx: &mut Ctx, a: &[&[u8]], rev: bool) -> CmdResult {
    if a.len() > 4 {
        return Err(CmdError::WrongArity(if rev { "zrevrank" } else { "zrank" }.into()));
    }
    let withscore = a.len() == 4;
    if withscore && !args::is(a[3], "withscore") {
        return Err(CmdError::Syntax);
    }
    let none = |o: &mut Writer| if withscore { o.null_array() } else { o.null() };
    read(ctx, a[1], none, |z, o| match z.rank(a[2]) {
        Some((r, s)) => {
            let r = if rev { z.len() - 1 - r } else { r };
            if withscore {
                o.array(2);
                o.int(r as i64);
                o.double(s);
            } else {
                o.int(r as i64);
            }
        }
        None => none(o),
    })
}

// ---------------------------------------------------------------------------------------------
// The ZRANGE family
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum RangeType {
    Auto,
    Rank,
    Score,
    Lex,
}

enum Range {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

fn zrange(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, a, 1, None, RangeType::Auto, None)
}
fn zrangestore(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, a, 2, Some(a[1]), RangeType::Auto, None)
}
fn zrangebyscore(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, a, 1, None, RangeType::Score, Some(false))
}
fn zrevrangebyscore(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, a, 1, None, RangeType::Score, Some(true))
}
fn zrangebylex(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, a, 1, None, RangeType::Lex, Some(false))
}
fn zrevrangebylex(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, a, 1, None, RangeType::Lex, Some(true))
}
fn zrevrange(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, a, 1, None, RangeType::Rank, Some(true))
}

/// The ranks to emit for a score/lex interval `lo..hi` with LIMIT `offset`/`count` (Redis:
/// a negative offset yields nothing, a negative count means all).
fn limit_window(lo: usize, hi: usize, offset: i64, count: i64, rev: bool) -> (usize, usize) {
    if offset < 0 || lo >= hi {
        return (0, 0);
    }
    let n = hi - lo;
    let off = (offset as u64).min(n as u64) as usize;
    let take = if count < 0 { n - off } else { (count as u64).min((n - off) as u64) as usize };
    if rev {
        (hi - off - take, hi - off)
    } else {
        (lo + off, lo + off + take)
    }
}

/// ZRANGE and its variants. `key_at` is the source key's index; `store` the destination of
/// ZRANGESTORE; `rtype`/`rev` preset by the legacy commands (Auto/None: from the options).
fn zrange_generic(
    ctx: &mut Ctx,
    a: &[&[u8]],
    key_at: usize,
    store: Option<&[u8]>,
    mut rtype: RangeType,
    rev: Option<bool>,
) -> CmdResult {
    let mut dir = rev;
    let (mut withscores, mut offset, mut count) = (false, 0i64, -1i64);
    let mut j = key_at + 3;
    while j < a.len() {
        let left = a.len() - j - 1;
        let o = a[j];
        if store.is_none() && args::is(o, "withscores") {
            withscores = true;
        } else if args::is(o, "limit") && left >= 2 {
            offset = args::int(a[j + 1])?;
            count = args::int(a[j + 2])?;
            j += 2;
        } else if dir.is_none() && args::is(o, "rev") {
            dir = Some(true);
        } else if rtype == RangeType::Auto && args::is(o, "bylex") {
            rtype = RangeType::Lex;
        } else if rtype == RangeType::Auto && args::is(o, "byscore") {
            rtype = RangeType::Score;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let rev = dir.unwrap_or(false);
    if rtype == RangeType::Auto {
        rtype = RangeType::Rank;
    }
    if count != -1 && rtype == RangeType::Rank {
        return Err(CmdError::msg(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && rtype == RangeType::Lex {
        return Err(CmdError::msg("ERR syntax error, WITHSCORES not supported in combination with BYLEX"));
    }
    let (mut min, mut max) = (a[key_at + 1], a[key_at + 2]);
    if rev && rtype != RangeType::Rank {
        std::mem::swap(&mut min, &mut max);
    }
    let range = match rtype {
        RangeType::Score => Range::Score(score_range(min, max)?),
        RangeType::Lex => Range::Lex(lex_range(min, max)?),
        _ => Range::Rank(args::int(min)?, args::int(max)?),
    };
    let key = a[key_at];
    let (mut db, out) = ctx.db_out();
    let Some(e) = db.get_counted(key) else {
        match store {
            Some(dst) => {
                db.remove(dst);
                out.int(0);
            }
            None => out.array(0),
        }
        return Ok(());
    };
    let z = as_zset(e)?;
    let (lo, hi) = match &range {
        Range::Rank(s, e) => match rank_window(*s, *e, z.len()) {
            None => (0, 0),
            Some((s, e)) if rev => (z.len() - 1 - e, z.len() - s),
            Some((s, e)) => (s, e + 1),
        },
        Range::Score(r) => {
            let (lo, hi) = z.score_interval(r);
            limit_window(lo, hi, offset, count, rev)
        }
        Range::Lex(r) => {
            let (lo, hi) = z.lex_interval(r);
            limit_window(lo, hi, offset, count, rev)
        }
    };
    let mut items = z.range(lo, hi);
    if rev {
        items.reverse();
    }
    match store {
        Some(dst) => {
            let items = owned(items);
            store_result(ctx, dst, items, "zrangestore");
        }
        None => write_pairs(out, &items, withscores, false),
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// ZREMRANGEBY*
// ---------------------------------------------------------------------------------------------

fn zremrange(ctx: &mut Ctx, key: &[u8], range: Range) -> CmdResult {
    let event = match &range {
        Range::Rank(..) => "zremrangebyrank",
        Range::Score(_) => "zremrangebyscore",
        Range::Lex(_) => "zremrangebylex",
    };
    let n = modify(ctx, key, event, |z| {
        let (lo, hi) = match &range {
            Range::Rank(s, e) => rank_window(*s, *e, z.len()).map_or((0, 0), |(s, e)| (s, e + 1)),
            Range::Score(r) => z.score_interval(r),
            Range::Lex(r) => z.lex_interval(r),
        };
        let n = z.remove_range(lo, hi);
        (n, n > 0)
    })?;
    ctx.out.int(n.unwrap_or(0) as i64);
    Ok(())
}

fn zremrangebyrank(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let r = Range::Rank(args::int(a[2])?, args::int(a[3])?);
    zremrange(ctx, a[1], r)
}

fn zremrangebyscore(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let r = Range::Score(score_range(a[2], a[3])?);
    zremrange(ctx, a[1], r)
}

fn zremrangebylex(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let r = Range::Lex(lex_range(a[2], a[3])?);
    zremrange(ctx, a[1], r)
}

// ---------------------------------------------------------------------------------------------
// ZPOPMIN, ZPOPMAX, ZMPOP
// ---------------------------------------------------------------------------------------------

/// Pops up to `count` entries from the first non-empty zset among `keys` (lowest scores
/// first unless `max`). `Ok(None)` when every key is missing. WRONGTYPE stops the search.
fn pop(ctx: &mut Ctx, keys: &[&[u8]], max: bool, count: usize) -> Result<Option<(usize, Items)>, CmdError> {
    for (i, key) in keys.iter().enumerate() {
        let popped = modify(ctx, key, if max { "zpopmax" } else { "zpopmin" }, |z| {
            let n = count.min(z.len());
            let (lo, hi) = if max { (z.len() - n, z.len()) } else { (0, n) };
            let mut items = owned(z.range(lo, hi));
            if max {
                items.reverse();
            }
            z.remove_range(lo, hi);
            (items, n > 0)
        })?;
        if let Some(items) = popped {
            return Ok(Some((i, items)));
        }
    }
    Ok(None)
}

fn zpopmin(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zpop_cmd(ctx, a, false)
}

fn zpopmax(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zpop_cmd(ctx, a, true)
}

fn zpop_cmd(ctx: &mut Ctx, a: &[&[u8]], max: bool) -> CmdResult {
    if a.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let count = match a.get(2) {
        Some(c) => match resp::parse_i64(c) {
            Some(n) if n >= 0 => Some(n as usize),
            _ => return Err(CmdError::msg("ERR value is out of range, must be positive")),
        },
        None => None,
    };
    // Type check first (count 0 still answers WRONGTYPE), then pop.
    if let Some(e) = ctx.db().get(a[1]) {
        as_zset(e)?;
    }
    if count == Some(0) {
        ctx.out.array(0);
        ctx.propagate_nothing();
        return Ok(());
    }
    let items = pop(ctx, &a[1..2], max, count.unwrap_or(1))?.map(|p| p.1).unwrap_or_default();
    if items.is_empty() {
        ctx.propagate_nothing();
    }
    let items: Vec<(&[u8], f64)> = items.iter().map(|(m, s)| (&**m, *s)).collect();
    // RESP3 nests the pairs only when a count was given.
    let nested = ctx.out.resp3 && count.is_some();
    if ctx.out.resp3 && !nested {
        ctx.out.array(items.len() * 2);
        for (m, s) in &items {
            ctx.out.bulk(m);
            ctx.out.double(*s);
        }
    } else {
        write_pairs(ctx.out, &items, true, nested);
    }
    Ok(())
}

fn zmpop(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zmpop_generic(ctx, a, 1, None)
}

/// ZMPOP (`numkeys` at 1) and BZMPOP (`numkeys` at 2, `deadline` set: blocks when every key
/// is missing).
fn zmpop_generic(ctx: &mut Ctx, a: &[&[u8]], at: usize, deadline: Option<u64>) -> CmdResult {
    let bad_numkeys = || CmdError::msg("ERR numkeys should be greater than 0");
    let numkeys = resp::parse_i64(a[at]).ok_or_else(bad_numkeys)?;
    if numkeys < 1 {
        return Err(bad_numkeys());
    }
    let where_at = (numkeys as u64).saturating_add(at as u64 + 1);
    if where_at >= a.len() as u64 {
        return Err(CmdError::Syntax);
    }
    let where_at = where_at as usize;
    let max = if args::is(a[where_at], "min") {
        false
    } else if args::is(a[where_at], "max") {
        true
    } else {
        return Err(CmdError::Syntax);
    };
    let mut count = None;
    let mut j = where_at + 1;
    while j < a.len() {
        if count.is_none() && args::is(a[j], "count") && j + 1 < a.len() {
            j += 1;
            match resp::parse_i64(a[j]) {
                Some(n) if n > 0 => count = Some(n as usize),
                _ => return Err(CmdError::msg("ERR count should be greater than 0")),
            }
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let keys = &a[at + 1..where_at];
    match pop(ctx, keys, max, count.unwrap_or(1))? {
        None => match deadline {
            Some(d) => return blocking::block(ctx, keys, d, "zset", a, NullReply::Array),
            None => {
                ctx.out.null_array();
                ctx.propagate_nothing();
            }
        },
        Some((i, items)) => {
            // ZMPOP and BZMPOP propagate as the pop they did: `ZPOPMIN|ZPOPMAX key <n popped>`.
            let mut b = itoa::Buffer::new();
            let n = b.format(items.len());
            ctx.propagate(&[if max { &b"ZPOPMAX"[..] } else { b"ZPOPMIN" }, keys[i], n.as_bytes()]);
            let items: Vec<(&[u8], f64)> = items.iter().map(|(m, s)| (&**m, *s)).collect();
            ctx.out.array(2);
            ctx.out.bulk(keys[i]);
            write_pairs(ctx.out, &items, true, true);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// BZPOPMIN, BZPOPMAX, BZMPOP
// ---------------------------------------------------------------------------------------------

fn bzpopmin(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    bzpop(ctx, a, false)
}

fn bzpopmax(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    bzpop(ctx, a, true)
}

/// `BZPOP* key [key ...] timeout`: `[key, member, score]` from the first non-empty key.
fn bzpop(ctx: &mut Ctx, a: &[&[u8]], max: bool) -> CmdResult {
    let deadline = blocking::parse_timeout(a[a.len() - 1], ctx.now)?;
    let keys = &a[1..a.len() - 1];
    match pop(ctx, keys, max, 1)? {
        Some((i, items)) => {
            // Served: propagated as the non-blocking pop (Redis's form).
            ctx.propagate(&[if max { &b"ZPOPMAX"[..] } else { b"ZPOPMIN" }, keys[i]]);
            let (m, sc) = &items[0];
            ctx.out.array(3);
            ctx.out.bulk(keys[i]);
            ctx.out.bulk(m);
            ctx.out.double(*sc);
            Ok(())
        }
        None => blocking::block(ctx, keys, deadline, "zset", a, NullReply::Array),
    }
}

fn bzmpop(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let deadline = blocking::parse_timeout(a[1], ctx.now)?;
    zmpop_generic(ctx, a, 2, Some(deadline))
}

// ---------------------------------------------------------------------------------------------
// ZRANDMEMBER
// ---------------------------------------------------------------------------------------------

fn zrandmember(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    if a.len() == 2 {
        return read(
            ctx,
            a[1],
            |o| o.null(),
            |z, o| {
                let r = rand::thread_rng().gen_range(0..z.len());
                o.bulk(z.get(r).0);
            },
        );
    }
    let l = args::int(a[2])?;
    if l == i64::MIN {
        return Err(CmdError::msg(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    if a.len() > 4 || (a.len() == 4 && !args::is(a[3], "withscores")) {
        return Err(CmdError::Syntax);
    }
    let withscores = a.len() == 4;
    if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
        return Err(CmdError::msg("ERR value is out of range"));
    }
    let (mut db, out) = ctx.db_out();
    let Some(e) = db.get_counted(a[1]) else {
        out.array(0);
        return Ok(());
    };
    let z = as_zset(e)?;
    if l == 0 {
        out.array(0);
        return Ok(());
    }
    let mut rng = rand::thread_rng();
    let len = z.len();
    let items: Vec<(&[u8], f64)> = if l < 0 {
        if l.unsigned_abs() > MAX_RANDOM_REPLY {
            return Err(CmdError::msg("ERR value is out of range"));
        }
        // Decode a compact set once; pick from a big one by rank (O(log n) each).
        let all = if matches!(z, Zset::Pack(_)) { Some(z.entries()) } else { None };
        (0..l.unsigned_abs())
            .map(|_| {
                let i = rng.gen_range(0..len);
                all.as_ref().map_or_else(|| z.get(i), |all| all[i])
            })
            .collect()
    } else if l as u64 >= len as u64 {
        // The whole set, highest first: Redis walks it from the tail.
        let mut all = z.entries();
        all.reverse();
        all
    } else {
        let mut idx = rand::seq::index::sample(&mut rng, len, l as usize).into_vec();
        idx.sort_unstable();
        let all = if len <= 4 * l as usize { Some(z.entries()) } else { None };
        let mut v: Vec<(&[u8], f64)> =
            idx.into_iter().map(|i| all.as_ref().map_or_else(|| z.get(i), |all| all[i])).collect();
        // A random order, as Redis's sampling gives.
        rand::seq::SliceRandom::shuffle(&mut v[..], &mut rng);
        v
    };
    write_pairs(out, &items, withscores, false);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// ZUNION, ZINTER, ZDIFF (+STORE), ZINTERCARD
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

fn aggregate(target: &mut f64, v: f64, agg: Aggregate) {
    match agg {
        Aggregate::Sum => {
            *target += v;
            // inf + -inf: Redis keeps 0.
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if v < *target {
                *target = v
            }
        }
        Aggregate::Max => {
            if v > *target {
                *target = v
            }
        }
    }
}

/// The (member, score) entries of a ZUNION-family source: a sorted set, or a plain set whose
/// members all score 1 (as in Redis).
fn source_entries(e: EntryMut) -> Result<Items, CmdError> {
    match &*e.value {
        Value::Zset(z) => Ok(owned(z.entries())),
        Value::Set(set) => {
            let mut buf = itoa::Buffer::new();
            Ok(set.iter().map(|m| (Box::from(m.bytes(&mut buf)), 1.0)).collect())
        }
        _ => Err(CmdError::WrongType),
    }
}

fn zunion(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zsetop(ctx, a, None, SetOp::Union, false, "zunion")
}
fn zinter(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zsetop(ctx, a, None, SetOp::Inter, false, "zinter")
}
fn zdiff(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zsetop(ctx, a, None, SetOp::Diff, false, "zdiff")
}
fn zunionstore(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zsetop(ctx, a, Some(a[1]), SetOp::Union, false, "zunionstore")
}
fn zinterstore(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zsetop(ctx, a, Some(a[1]), SetOp::Inter, false, "zinterstore")
}
fn zdiffstore(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zsetop(ctx, a, Some(a[1]), SetOp::Diff, false, "zdiffstore")
}
fn zintercard(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zsetop(ctx, a, None, SetOp::Inter, true, "zintercard")
}

fn zsetop(ctx: &mut Ctx, a: &[&[u8]], dst: Option<&[u8]>, op: SetOp, card: bool, name: &str) -> CmdResult {
    let nk_at = if dst.is_some() { 2 } else { 1 };
    let setnum = args::int(a[nk_at])?;
    if setnum < 1 {
        return Err(CmdError::msg(format!("ERR at least 1 input key is needed for '{name}' command")));
    }
    if setnum as u64 > (a.len() - nk_at - 1) as u64 {
        return Err(CmdError::Syntax);
    }
    let setnum = setnum as usize;
    // Look every source up first: WRONGTYPE comes before option errors, as in Redis.
    let mut srcs: Vec<Option<Items>> = Vec::with_capacity(setnum);
    {
        let mut db = ctx.db();
        for key in &a[nk_at + 1..nk_at + 1 + setnum] {
            srcs.push(match db.get_counted(key) {
                Some(e) => Some(source_entries(e)?),
                None => None,
            });
        }
    }
    let mut weights = vec![1.0; setnum];
    let (mut agg, mut withscores, mut limit) = (Aggregate::Sum, false, 0usize);
    let mut j = nk_at + 1 + setnum;
    while j < a.len() {
        let remaining = a.len() - j;
        let o = a[j];
        if op != SetOp::Diff && !card && remaining > setnum && args::is(o, "weights") {
            for (k, w) in weights.iter_mut().enumerate() {
                *w = score_arg(a[j + 1 + k]).ok_or_else(|| CmdError::msg("ERR weight value is not a float"))?;
            }
            j += 1 + setnum;
        } else if op != SetOp::Diff && !card && remaining >= 2 && args::is(o, "aggregate") {
            let v = a[j + 1];
            agg = if args::is(v, "sum") {
                Aggregate::Sum
            } else if args::is(v, "min") {
                Aggregate::Min
            } else if args::is(v, "max") {
                Aggregate::Max
            } else {
                return Err(CmdError::Syntax);
            };
            j += 2;
        } else if dst.is_none() && !card && args::is(o, "withscores") {
            withscores = true;
            j += 1;
        } else if card && remaining >= 2 && args::is(o, "limit") {
            match resp::parse_i64(a[j + 1]) {
                Some(n) if n >= 0 => limit = n as usize,
                _ => return Err(CmdError::msg("ERR LIMIT can't be negative")),
            }
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }

    let weighted = |s: f64, w: f64| {
        let v = s * w;
        if v.is_nan() {
            0.0
        } else {
            v
        }
    };
    let mut result: Vec<(Box<[u8]>, f64)> = Vec::new();
    match op {
        SetOp::Inter => {
            let mut order: Vec<usize> = (0..setnum).collect();
            if srcs.iter().any(|s| s.as_ref().is_none_or(|v| v.is_empty())) {
                order.clear();
            }
            order.sort_by_key(|&i| srcs[i].as_ref().map_or(0, |v| v.len()));
            if let Some((&first, rest)) = order.split_first() {
                let maps: Vec<(std::collections::HashMap<&[u8], f64>, f64)> = rest
                    .iter()
                    .map(|&i| {
                        (srcs[i].as_ref().expect("present").iter().map(|(m, s)| (&**m, *s)).collect(), weights[i])
                    })
                    .collect();
                'outer: for (m, s) in srcs[first].as_ref().expect("present") {
                    let mut score = weighted(*s, weights[first]);
                    for (map, w) in &maps {
                        match map.get(&**m) {
                            Some(v) => aggregate(&mut score, weighted(*v, *w), agg),
                            None => continue 'outer,
                        }
                    }
                    result.push((m.clone(), score));
                    if card && limit > 0 && result.len() >= limit {
                        break;
                    }
                }
            }
        }
        SetOp::Union => {
            let mut order: Vec<usize> = (0..setnum).collect();
            order.sort_by_key(|&i| srcs[i].as_ref().map_or(0, |v| v.len()));
            let mut acc: std::collections::HashMap<Box<[u8]>, f64> = std::collections::HashMap::new();
            for i in order {
                let Some(src) = srcs[i].take() else { continue };
                for (m, s) in src {
                    let v = weighted(s, weights[i]);
                    match acc.get_mut(&m) {
                        Some(t) => aggregate(t, v, agg),
                        None => {
                            acc.insert(m, v);
                        }
                    }
                }
            }
            result = acc.into_iter().collect();
        }
        SetOp::Diff => {
            if let Some(first) = srcs[0].take() {
                let others: std::collections::HashSet<&[u8]> =
                    srcs[1..].iter().flatten().flat_map(|v| v.iter().map(|(m, _)| &**m)).collect();
                result = first.into_iter().filter(|(m, _)| !others.contains(&**m)).collect();
            }
        }
    }
    if card {
        ctx.out.int(result.len() as i64);
        return Ok(());
    }
    if let Some(dst) = dst {
        store_result(ctx, dst, result, name);
        return Ok(());
    }
    result.sort_by(|x, y| crate::types::zset::cmp_entry(x.1, &x.0, y.1, &y.0));
    let items: Vec<(&[u8], f64)> = result.iter().map(|(m, s)| (&**m, *s)).collect();
    write_pairs(ctx.out, &items, withscores, false);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// ZSCAN
// ---------------------------------------------------------------------------------------------

/// Redis's SCAN cursor syntax: `strtoull` over the whole argument.
fn parse_cursor(arg: &[u8]) -> Option<u64> {
    let (neg, digits) = match arg.first()? {
        b'-' => (true, &arg[1..]),
        b'+' => (false, &arg[1..]),
        _ => (false, arg),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for d in digits {
        v = v.checked_mul(10)?.checked_add((d - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// Order-preserving image of a score in `u64` (never 0 for a non-NaN score).
fn score_key(s: f64) -> u64 {
    let s = if s == 0.0 { 0.0 } else { s };
    let b = s.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | (1 << 63)
    }
}

fn zscan(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let cursor = parse_cursor(a[2]).ok_or_else(|| CmdError::msg("ERR invalid cursor"))?;
    let (mut db, out) = ctx.db_out();
    let Some(e) = db.get_counted(a[1]) else {
        out.array(2);
        out.bulk(b"0");
        out.array(0);
        return Ok(());
    };
    let z = as_zset(e)?;
    let (pattern, count) = super::hash::scan_options(&a[3..])?;
    let count = count as u64;
    let (items, next) = match z {
        // The compact encoding is returned whole in one call, as Redis does.
        Zset::Pack(_) => (z.entries(), 0),
        Zset::Big(_) => {
            let lo = if cursor == 0 { 0 } else { z.partition_by_score_key(|s| score_key(s) < cursor) };
            let mut hi = (lo as u64 + count).min(z.len() as u64) as usize;
            // End on a score boundary so the next cursor names a score not returned yet.
            if hi < z.len() {
                let boundary = z.get(hi - 1).1;
                hi = z.partition_by_score_key(|s| score_key(s) <= score_key(boundary));
            }
            let next = if hi >= z.len() { 0 } else { score_key(z.get(hi).1) };
            (z.range(lo, hi), next)
        }
    };
    let items: Vec<(&[u8], f64)> =
        items.into_iter().filter(|(m, _)| pattern.is_none_or(|p| glob::glob_match(p, m, false))).collect();
    out.array(2);
    out.bulk(itoa::Buffer::new().format(next).as_bytes());
    out.array(items.len() * 2);
    for (m, s) in items {
        out.bulk(m);
        out.bulk(scan_score(s).as_bytes());
    }
    Ok(())
}

/// ZSCAN's score text (Redis's `d2string`): integral scores within ±(i64::MAX / 2) print as
/// integers (`1e17` → `100000000000000000`), others as the shortest round-trip double.
fn scan_score(s: f64) -> String {
    const LIM: f64 = (i64::MAX / 2) as f64;
    if s != 0.0 && s.fract() == 0.0 && (-LIM..=LIM).contains(&s) {
        return itoa::Buffer::new().format(s as i64).to_string();
    }
    resp::format_double(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_args_follow_redis() {
        assert_eq!(score_arg(b"1.5"), Some(1.5));
        assert_eq!(score_arg(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(score_arg(b"1e400"), None);
        assert_eq!(score_arg(b"1e-400"), None);
        assert_eq!(score_arg(b"0e5"), Some(0.0));
        assert_eq!(score_arg(b" 1"), None);
        assert_eq!(score_bound(b""), Some((0.0, false)));
        assert_eq!(score_bound(b"( 2"), Some((2.0, true)));
        assert_eq!(score_bound(b"1 "), None);
        assert_eq!(score_bound(b"(1e400"), Some((f64::INFINITY, true)));
    }

    #[test]
    fn windows() {
        assert_eq!(rank_window(0, -1, 5), Some((0, 4)));
        assert_eq!(rank_window(-100, 100, 5), Some((0, 4)));
        assert_eq!(rank_window(3, 1, 5), None);
        assert_eq!(rank_window(i64::MIN, i64::MAX, 5), Some((0, 4)));
        assert_eq!(limit_window(2, 8, 1, 2, false), (3, 5));
        assert_eq!(limit_window(2, 8, 1, 2, true), (5, 7));
        assert_eq!(limit_window(2, 8, -1, 2, false), (0, 0));
        assert_eq!(limit_window(2, 8, 0, -5, true), (2, 8));
        assert_eq!(limit_window(2, 8, 100, 1, true), (2, 2));
    }

    #[test]
    fn score_keys_are_ordered() {
        let v = [f64::NEG_INFINITY, -1e300, -1.0, -0.0, 0.0, 1e-300, 1.0, f64::INFINITY];
        for w in v.windows(2) {
            assert!(score_key(w[0]) <= score_key(w[1]));
            assert!(score_key(w[0]) != 0);
        }
    }
}
