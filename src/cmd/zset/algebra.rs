//! Set algebra over sorted sets: ZUNION, ZINTER, ZDIFF, their STORE forms, and ZINTERCARD.

use super::{owned, score_arg, store_result, write_pairs, Items};
use crate::cmd::args::{self, Cursor};
use crate::cmd::{CmdError, CmdResult, Ctx};
use crate::db::value::{EntryMut, Value};

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

pub(super) fn zunion(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zsetop(ctx, a, None, SetOp::Union, false, "zunion")
}
pub(super) fn zinter(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zsetop(ctx, a, None, SetOp::Inter, false, "zinter")
}
pub(super) fn zdiff(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zsetop(ctx, a, None, SetOp::Diff, false, "zdiff")
}
pub(super) fn zunionstore(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zsetop(ctx, a, Some(a[1]), SetOp::Union, false, "zunionstore")
}
pub(super) fn zinterstore(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zsetop(ctx, a, Some(a[1]), SetOp::Inter, false, "zinterstore")
}
pub(super) fn zdiffstore(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    zsetop(ctx, a, Some(a[1]), SetOp::Diff, false, "zdiffstore")
}
pub(super) fn zintercard(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
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
    let mut c = Cursor::new(a, nk_at + 1 + setnum);
    let algebra = op != SetOp::Diff && !card;
    while !c.is_empty() {
        if algebra && c.keyword_with("weights", setnum) {
            for w in weights.iter_mut() {
                *w = c.next().and_then(score_arg).ok_or_else(|| CmdError::msg("ERR weight value is not a float"))?;
            }
        } else if algebra && c.keyword_with("aggregate", 1) {
            let v = c.value()?;
            agg = if args::is(v, "sum") {
                Aggregate::Sum
            } else if args::is(v, "min") {
                Aggregate::Min
            } else if args::is(v, "max") {
                Aggregate::Max
            } else {
                return Err(CmdError::Syntax);
            };
        } else if dst.is_none() && !card && c.keyword("withscores") {
            withscores = true;
        } else if card && c.keyword_with("limit", 1) {
            match c.next().and_then(resp::parse_i64) {
                Some(n) if n >= 0 => limit = n as usize,
                _ => return Err(CmdError::msg("ERR LIMIT can't be negative")),
            }
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
