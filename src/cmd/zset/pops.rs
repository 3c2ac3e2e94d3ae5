//! Pops and random reads: ZPOPMIN, ZPOPMAX, ZMPOP, the blocking BZPOPMIN, BZPOPMAX and BZMPOP,
//! and ZRANDMEMBER.

use rand::Rng;

use super::{modify, owned, read, write_pairs, Items};
use crate::cmd::args::{self, random_count, Cursor, MAX_REPEAT};
use crate::cmd::blocking::{self, NullReply};
use crate::cmd::{lookup, CmdError, CmdResult, Ctx};
use crate::types::zset::Zset;

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

pub(super) fn zpopmin(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zpop_cmd(ctx, a, false)
}

pub(super) fn zpopmax(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
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
    lookup::get::<Zset>(&mut ctx.db(), a[1])?;
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

pub(super) fn zmpop(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
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
    let mut c = Cursor::new(a, where_at + 1);
    while !c.is_empty() {
        if count.is_none() && c.keyword_with("count", 1) {
            match c.next().and_then(resp::parse_i64) {
                Some(n) if n > 0 => count = Some(n as usize),
                _ => return Err(CmdError::msg("ERR count should be greater than 0")),
            }
        } else {
            return Err(CmdError::Syntax);
        }
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

pub(super) fn bzpopmin(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    bzpop(ctx, a, false)
}

pub(super) fn bzpopmax(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
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

pub(super) fn bzmpop(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    let deadline = blocking::parse_timeout(a[1], ctx.now)?;
    zmpop_generic(ctx, a, 2, Some(deadline))
}

// ---------------------------------------------------------------------------------------------
// ZRANDMEMBER
// ---------------------------------------------------------------------------------------------

pub(super) fn zrandmember(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
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
    let l = random_count(a[2])?;
    if a.len() > 4 || (a.len() == 4 && !args::is(a[3], "withscores")) {
        return Err(CmdError::Syntax);
    }
    let withscores = a.len() == 4;
    if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
        return Err(CmdError::msg("ERR value is out of range"));
    }
    let (mut db, out) = ctx.db_out();
    let Some(z) = lookup::read::<Zset>(&mut db, a[1])? else {
        out.array(0);
        return Ok(());
    };
    if l == 0 {
        out.array(0);
        return Ok(());
    }
    let mut rng = rand::thread_rng();
    let len = z.len();
    let items: Vec<(&[u8], f64)> = if l < 0 {
        if l.unsigned_abs() > MAX_REPEAT {
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
