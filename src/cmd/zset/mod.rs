//! Sorted-set commands: ZADD, ZINCRBY, ZREM, ZCARD, ZCOUNT, ZLEXCOUNT, ZSCORE, ZMSCORE, ZRANK,
//! ZREVRANK, ZRANGE, ZRANGESTORE, ZRANGEBYSCORE, ZREVRANGEBYSCORE, ZRANGEBYLEX,
//! ZREVRANGEBYLEX, ZREVRANGE, ZREMRANGEBYRANK, ZREMRANGEBYSCORE, ZREMRANGEBYLEX, ZPOPMIN,
//! ZPOPMAX, ZMPOP, ZRANDMEMBER, ZUNION, ZINTER, ZDIFF, ZUNIONSTORE, ZINTERSTORE, ZDIFFSTORE,
//! ZINTERCARD, ZSCAN.
//!
//! The handlers live in submodules: `write` (ZADD, ZINCRBY, ZREM), `ranges` (ZCARD, ZCOUNT,
//! ZLEXCOUNT, ZSCORE, ZMSCORE, ZRANK, ZREVRANK, the ZRANGE family with ZRANGESTORE,
//! ZREMRANGEBY*, ZSCAN), `pops` (ZPOPMIN, ZPOPMAX, ZMPOP, the blocking pops, ZRANDMEMBER) and
//! `algebra` (ZUNION, ZINTER, ZDIFF, their STORE forms, ZINTERCARD). This file holds the command
//! table and the helpers they share (score and range parsing, typed access built on
//! `cmd::lookup`, replies, stores).
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
//!   any non-zset source answers WRONGTYPE (see [`algebra::source_entries`], one arm to add).
//! - ZRANDMEMBER with a negative count beyond [`args::MAX_REPEAT`] elements answers
//!   `ERR value is out of range` instead of streaming a reply of unbounded size.
//! - ZSCAN of a `skiplist` set walks the score order: the cursor is the (order-preserving bit
//!   image of the) next score to return, and each call ends on a score boundary, which keeps
//!   SCAN's guarantee (every member present for the whole iteration is returned) under
//!   concurrent writes. Cursor values differ from Redis's, and a call may return more than
//!   COUNT members when many share one score.
//! - Lexicographic ranges on a `skiplist` set whose members have different scores use a binary
//!   search; Redis's answer then depends on its skiplist's random shape (undefined behaviour
//!   per Redis's documentation).

mod algebra;
mod pops;
mod ranges;
mod write;

use super::keys::{getkeys_numkeys, getkeys_store_numkeys, getkeys_timeout_numkeys};
use super::lookup;
use super::{acl, args, flags::*, key, key_num, key_range, ks, CmdError, CmdResult, CommandSpec, Ctx};
use crate::db::value::{Value, NO_EXPIRE};
use crate::notify;
use crate::types::zset::{LexBound, LexRange, Limits, ScoreRange, Zset};
use algebra::{zdiff, zdiffstore, zinter, zintercard, zinterstore, zunion, zunionstore};
use pops::{bzmpop, bzpopmax, bzpopmin, zmpop, zpopmax, zpopmin, zrandmember};
use ranges::{
    zcard, zcount, zlexcount, zmscore, zrange, zrangebylex, zrangebyscore, zrangestore, zrank, zremrangebylex,
    zremrangebyrank, zremrangebyscore, zrevrange, zrevrangebylex, zrevrangebyscore, zrevrank, zscan, zscore,
};
use resp::Writer;
use write::{zadd, zincrby, zrem};

const G: &str = "sorted-set";

const R: u32 = READONLY;
const W: u32 = WRITE;
const Z: u64 = acl::SORTEDSET;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("zadd", -4, W | DENYOOM | FAST, Z, key(1, ks::RW | ks::UPDATE), zadd).doc(
        G,
        "1.2.0",
        "O(log(N)) for each item added, where N is the number of elements in the sorted set.",
        "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.",
    ),
    CommandSpec::new("zincrby", 4, W | DENYOOM | FAST, Z, key(1, ks::RW | ks::ACCESS | ks::UPDATE), zincrby).doc(
        G,
        "1.2.0",
        "O(log(N)) where N is the number of elements in the sorted set.",
        "Increments the score of a member in a sorted set.",
    ),
    CommandSpec::new("zrem", -3, W | FAST, Z, key(1, ks::RW | ks::DELETE), zrem).doc(
        G,
        "1.2.0",
        "O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed.",
        "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.",
    ),
    CommandSpec::new("zcard", 2, R | FAST, Z, key(1, ks::RO), zcard).doc(
        G,
        "1.2.0",
        "O(1)",
        "Returns the number of members in a sorted set.",
    ),
    CommandSpec::new("zcount", 4, R | FAST, Z, key(1, ks::RO | ks::ACCESS), zcount).doc(
        G,
        "2.0.0",
        "O(log(N)) with N being the number of elements in the sorted set.",
        "Returns the count of members in a sorted set that have scores within a range.",
    ),
    CommandSpec::new("zlexcount", 4, R | FAST, Z, key(1, ks::RO | ks::ACCESS), zlexcount).doc(
        G,
        "2.8.9",
        "O(log(N)) with N being the number of elements in the sorted set.",
        "Returns the number of members in a sorted set within a lexicographical range.",
    ),
    CommandSpec::new("zscore", 3, R | FAST, Z, key(1, ks::RO | ks::ACCESS), zscore).doc(
        G,
        "1.2.0",
        "O(1)",
        "Returns the score of a member in a sorted set.",
    ),
    CommandSpec::new("zmscore", -3, R | FAST, Z, key(1, ks::RO | ks::ACCESS), zmscore).doc(
        G,
        "6.2.0",
        "O(N) where N is the number of members being requested.",
        "Returns the score of one or more members in a sorted set.",
    ),
    CommandSpec::new("zrank", -3, R | FAST, Z, key(1, ks::RO | ks::ACCESS), zrank).doc(
        G,
        "2.0.0",
        "O(log(N))",
        "Returns the index of a member in a sorted set ordered by ascending scores.",
    ),
    CommandSpec::new("zrevrank", -3, R | FAST, Z, key(1, ks::RO | ks::ACCESS), zrevrank).doc(
        G,
        "2.0.0",
        "O(log(N))",
        "Returns the index of a member in a sorted set ordered by descending scores.",
    ),
    CommandSpec::new("zrange", -4, R, Z, key(1, ks::RO | ks::ACCESS), zrange).doc(
        G,
        "1.2.0",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.",
        "Returns members in a sorted set within a range of indexes.",
    ),
    CommandSpec::new("zrangestore", -5, W | DENYOOM, Z, key(1, ks::OW | ks::UPDATE).and(key(2, ks::RO | ks::ACCESS)), zrangestore).doc(
        G,
        "6.2.0",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key.",
        "Stores a range of members from sorted set in a key.",
    ),
    CommandSpec::new("zrangebyscore", -4, R, Z, key(1, ks::RO | ks::ACCESS), zrangebyscore).doc(
        G,
        "1.0.5",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
        "Returns members in a sorted set within a range of scores.",
    ),
    CommandSpec::new("zrevrangebyscore", -4, R, Z, key(1, ks::RO | ks::ACCESS), zrevrangebyscore).doc(
        G,
        "2.2.0",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
        "Returns members in a sorted set within a range of scores in reverse order.",
    ),
    CommandSpec::new("zrangebylex", -4, R, Z, key(1, ks::RO | ks::ACCESS), zrangebylex).doc(
        G,
        "2.8.9",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
        "Returns members in a sorted set within a lexicographical range.",
    ),
    CommandSpec::new("zrevrangebylex", -4, R, Z, key(1, ks::RO | ks::ACCESS), zrevrangebylex).doc(
        G,
        "2.8.9",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
        "Returns members in a sorted set within a lexicographical range in reverse order.",
    ),
    CommandSpec::new("zrevrange", -4, R, Z, key(1, ks::RO | ks::ACCESS), zrevrange).doc(
        G,
        "1.2.0",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.",
        "Returns members in a sorted set within a range of indexes in reverse order.",
    ),
    CommandSpec::new("zremrangebyrank", 4, W, Z, key(1, ks::RW | ks::DELETE), zremrangebyrank).doc(
        G,
        "2.0.0",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.",
        "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.",
    ),
    CommandSpec::new("zremrangebyscore", 4, W, Z, key(1, ks::RW | ks::DELETE), zremrangebyscore).doc(
        G,
        "1.2.0",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.",
        "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.",
    ),
    CommandSpec::new("zremrangebylex", 4, W, Z, key(1, ks::RW | ks::DELETE), zremrangebylex).doc(
        G,
        "2.8.9",
        "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.",
        "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.",
    ),
    CommandSpec::new("zpopmin", -2, W | FAST, Z, key(1, ks::RW | ks::ACCESS | ks::DELETE), zpopmin).doc(
        G,
        "5.0.0",
        "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.",
        "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.",
    ),
    CommandSpec::new("zpopmax", -2, W | FAST, Z, key(1, ks::RW | ks::ACCESS | ks::DELETE), zpopmax).doc(
        G,
        "5.0.0",
        "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.",
        "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.",
    ),
    CommandSpec::new("zmpop", -4, W, Z, key_num(1, ks::RW | ks::ACCESS | ks::DELETE).getkeys(getkeys_numkeys), zmpop).doc(
        G,
        "7.0.0",
        "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.",
        "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.",
    ),
    CommandSpec::new("bzpopmin", -3, W | FAST | BLOCKING, Z, key_range(1, -2, 1, ks::RW | ks::ACCESS | ks::DELETE), bzpopmin).doc(
        G,
        "5.0.0",
        "O(log(N)) with N being the number of elements in the sorted set.",
        "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.",
    ),
    CommandSpec::new("bzpopmax", -3, W | FAST | BLOCKING, Z, key_range(1, -2, 1, ks::RW | ks::ACCESS | ks::DELETE), bzpopmax).doc(
        G,
        "5.0.0",
        "O(log(N)) with N being the number of elements in the sorted set.",
        "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise.  Deletes the sorted set if the last element was popped.",
    ),
    CommandSpec::new("bzmpop", -5, W | BLOCKING, Z, key_num(2, ks::RW | ks::ACCESS | ks::DELETE).getkeys(getkeys_timeout_numkeys), bzmpop).doc(
        G,
        "7.0.0",
        "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.",
        "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.",
    ),
    CommandSpec::new("zrandmember", -2, R, Z, key(1, ks::RO | ks::ACCESS), zrandmember)
        .doc(
            G,
            "6.2.0",
            "O(N) where N is the number of members returned",
            "Returns one or more random members from a sorted set.",
        )
        .tips(&["nondeterministic_output"]),
    CommandSpec::new("zunion", -3, R, Z, key_num(1, ks::RO | ks::ACCESS).getkeys(getkeys_numkeys), zunion).doc(
        G,
        "6.2.0",
        "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.",
        "Returns the union of multiple sorted sets.",
    ),
    CommandSpec::new("zinter", -3, R, Z, key_num(1, ks::RO | ks::ACCESS).getkeys(getkeys_numkeys), zinter).doc(
        G,
        "6.2.0",
        "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.",
        "Returns the intersect of multiple sorted sets.",
    ),
    CommandSpec::new("zdiff", -3, R, Z, key_num(1, ks::RO | ks::ACCESS).getkeys(getkeys_numkeys), zdiff).doc(
        G,
        "6.2.0",
        "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.",
        "Returns the difference between multiple sorted sets.",
    ),
    CommandSpec::new("zunionstore", -4, W | DENYOOM, Z, key(1, ks::OW | ks::UPDATE).and(key_num(2, ks::RO | ks::ACCESS)).getkeys(getkeys_store_numkeys), zunionstore).doc(
        G,
        "2.0.0",
        "O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.",
        "Stores the union of multiple sorted sets in a key.",
    ),
    CommandSpec::new("zinterstore", -4, W | DENYOOM, Z, key(1, ks::OW | ks::UPDATE).and(key_num(2, ks::RO | ks::ACCESS)).getkeys(getkeys_store_numkeys), zinterstore).doc(
        G,
        "2.0.0",
        "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.",
        "Stores the intersect of multiple sorted sets in a key.",
    ),
    CommandSpec::new("zdiffstore", -4, W | DENYOOM, Z, key(1, ks::OW | ks::UPDATE).and(key_num(2, ks::RO | ks::ACCESS)).getkeys(getkeys_store_numkeys), zdiffstore).doc(
        G,
        "6.2.0",
        "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.",
        "Stores the difference of multiple sorted sets in a key.",
    ),
    CommandSpec::new("zintercard", -3, R, Z, key_num(1, ks::RO | ks::ACCESS).getkeys(getkeys_numkeys), zintercard).doc(
        G,
        "7.0.0",
        "O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets.",
        "Returns the number of members of the intersect of multiple sorted sets.",
    ),
    CommandSpec::new("zscan", -3, R, Z, key(1, ks::RO | ks::ACCESS), zscan)
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

/// Owned (member, score) entries.
type Items = Vec<(Box<[u8]>, f64)>;

fn limits(ctx: &Ctx) -> Limits {
    let c = ctx.server.config.read();
    Limits { max_entries: c.zset_max_listpack_entries, max_value: c.zset_max_listpack_value }
}

/// A score argument as Redis's `getDoubleFromObject` reads it (see [`args::double`]).
use super::args::double as score_arg;

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
    let Some(z) = lookup::get::<Zset>(&mut db, key)? else { return Ok(None) };
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

/// Runs `f` with the zset at `key` (a counted read lookup) and the reply writer; `missing`
/// writes the reply for a missing key.
fn read(ctx: &mut Ctx, key: &[u8], missing: impl FnOnce(&mut Writer), f: impl FnOnce(&Zset, &mut Writer)) -> CmdResult {
    let (mut db, out) = ctx.db_out();
    match lookup::read::<Zset>(&mut db, key)? {
        None => missing(out),
        Some(z) => f(z, out),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_args_follow_redis() {
        assert_eq!(score_arg(b"1e400"), None, "see args::double");
        assert_eq!(score_bound(b""), Some((0.0, false)));
        assert_eq!(score_bound(b"( 2"), Some((2.0, true)));
        assert_eq!(score_bound(b"1 "), None);
        assert_eq!(score_bound(b"(1e400"), Some((f64::INFINITY, true)));
    }
}
