//! Writes to one sorted set: ZADD, ZINCRBY (one parser, `zadd_generic`) and ZREM.

use super::{float_arg, limits, modify};
use crate::cmd::args::Cursor;
use crate::cmd::{blocking, lookup, CmdError, CmdResult, Ctx};
use crate::db::value::{Value, NO_EXPIRE};
use crate::notify;
use crate::types::zset::Zset;

// ---------------------------------------------------------------------------------------------
// ZADD, ZINCRBY, ZREM
// ---------------------------------------------------------------------------------------------

pub(super) fn zadd(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zadd_generic(ctx, a, false)
}

pub(super) fn zincrby(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zadd_generic(ctx, a, true)
}

fn zadd_generic(ctx: &mut Ctx, a: &[&[u8]], zincrby: bool) -> CmdResult {
    let (mut nx, mut xx, mut gt, mut lt, mut ch, mut incr) = (false, false, false, false, false, zincrby);
    // ZADD's flags come first; the score/member pairs start at the first other argument.
    let mut c = Cursor::new(a, 2);
    if !zincrby {
        loop {
            if c.keyword("nx") {
                nx = true;
            } else if c.keyword("xx") {
                xx = true;
            } else if c.keyword("ch") {
                ch = true;
            } else if c.keyword("incr") {
                incr = true;
            } else if c.keyword("gt") {
                gt = true;
            } else if c.keyword("lt") {
                lt = true;
            } else {
                break;
            }
        }
    }
    let i = c.pos();
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
    let z = match lookup::get::<Zset>(&mut db, key)? {
        Some(z) => z,
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

pub(super) fn zrem(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
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
