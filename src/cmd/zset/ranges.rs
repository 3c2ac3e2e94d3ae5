//! Reads and removals by position, score or name: ZCARD, ZCOUNT, ZLEXCOUNT, ZSCORE, ZMSCORE,
//! ZRANK, ZREVRANK, the ZRANGE family (ZRANGESTORE, BYSCORE, BYLEX, REV and the legacy forms),
//! ZREMRANGEBYRANK/SCORE/LEX and ZSCAN.

use super::{lex_range, modify, owned, rank_window, read, score_range, store_result, write_pairs};
use crate::cmd::args::{self, Cursor};
use crate::cmd::reply::scan_reply;
use crate::cmd::{lookup, CmdError, CmdResult, Ctx};
use crate::db::glob;
use crate::types::zset::{LexRange, ScoreRange, Zset};
use resp::Writer;

// ---------------------------------------------------------------------------------------------
// Read commands on one key
// ---------------------------------------------------------------------------------------------

pub(super) fn zcard(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    read(ctx, a[1], |o| o.int(0), |z, o| o.int(z.len() as i64))
}

pub(super) fn zcount(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
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

pub(super) fn zlexcount(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
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

pub(super) fn zscore(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
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

pub(super) fn zmscore(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
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

pub(super) fn zrank(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zrank_generic(ctx, a, false)
}

pub(super) fn zrevrank(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
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

pub(super) fn zrange(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, a, 1, None, RangeType::Auto, None)
}
pub(super) fn zrangestore(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, a, 2, Some(a[1]), RangeType::Auto, None)
}
pub(super) fn zrangebyscore(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, a, 1, None, RangeType::Score, Some(false))
}
pub(super) fn zrevrangebyscore(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, a, 1, None, RangeType::Score, Some(true))
}
pub(super) fn zrangebylex(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, a, 1, None, RangeType::Lex, Some(false))
}
pub(super) fn zrevrangebylex(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, a, 1, None, RangeType::Lex, Some(true))
}
pub(super) fn zrevrange(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
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
    let mut c = Cursor::new(a, key_at + 3);
    while !c.is_empty() {
        if store.is_none() && c.keyword("withscores") {
            withscores = true;
        } else if let Some((o, n)) = c.limit()? {
            (offset, count) = (o, n);
        } else if dir.is_none() && c.keyword("rev") {
            dir = Some(true);
        } else if rtype == RangeType::Auto && c.keyword("bylex") {
            rtype = RangeType::Lex;
        } else if rtype == RangeType::Auto && c.keyword("byscore") {
            rtype = RangeType::Score;
        } else {
            return Err(CmdError::Syntax);
        }
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
    let Some(z) = lookup::read::<Zset>(&mut db, key)? else {
        match store {
            // An empty result deletes the destination, with its `del` event.
            Some(dst) => store_result(ctx, dst, Vec::new(), "zrangestore"),
            None => out.array(0),
        }
        return Ok(());
    };
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
            let (lo, hi) = if rev { z.lex_interval_rev(r) } else { z.lex_interval(r) };
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

pub(super) fn zremrangebyrank(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let r = Range::Rank(args::int(a[2])?, args::int(a[3])?);
    zremrange(ctx, a[1], r)
}

pub(super) fn zremrangebyscore(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let r = Range::Score(score_range(a[2], a[3])?);
    zremrange(ctx, a[1], r)
}

pub(super) fn zremrangebylex(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let r = Range::Lex(lex_range(a[2], a[3])?);
    zremrange(ctx, a[1], r)
}

// ---------------------------------------------------------------------------------------------
// ZSCAN
// ---------------------------------------------------------------------------------------------

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

pub(super) fn zscan(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let cursor = args::scan_cursor(a[2])?;
    let (mut db, out) = ctx.db_out();
    let Some(z) = lookup::read::<Zset>(&mut db, a[1])? else {
        scan_reply::<&[u8]>(out, 0, &[]);
        return Ok(());
    };
    let args::ScanOptions { pattern, count, .. } = args::scan_options(a, 3, false)?;
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
