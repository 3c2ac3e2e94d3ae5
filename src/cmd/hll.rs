//! HyperLogLog commands: PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST.
//!
//! An HLL is a string value in Redis's representation (`crate::types::hll`), so GET/SET,
//! DUMP/RESTORE and RDB files carry it between redstart and Redis. Any string is accepted whose
//! header is an HLL's: otherwise `WRONGTYPE Key is not a valid HyperLogLog string value.` (an
//! integer-encoded string never is one); another type is the usual WRONGTYPE. Sparse opcodes
//! that do not describe the registers answer `INVALIDOBJ Corrupted HLL object detected`.
//!
//! As in Redis, a command that writes to an HLL (PFADD, PFMERGE's destination, PFCOUNT of one
//! key, PFDEBUG) first makes the string `raw` (Redis's `dbUnshareStringValue`), even when it
//! then changes nothing: an `embstr` HLL loaded by SET or RESTORE answers OBJECT ENCODING
//! `raw` after PFCOUNT.
//!
//! What is propagated, as in Redis (which propagates a command when it counted a change):
//! PFADD as received when a register changed (or the key was created); PFMERGE always;
//! PFCOUNT of one key as received when it recomputed and cached the cardinality (a read-only
//! command that writes the cache, flagged `may_replicate`); PFDEBUG GETREG and TODENSE as
//! received when they converted a sparse value to dense; nothing else.
//!
//! Keyspace events: `pfadd` (class string) for PFADD when it changed something and for PFMERGE
//! (Redis raises PFADD's event for a merge). WATCH sees the same changes and PFCOUNT's cache
//! update, not PFDEBUG's conversions (as in Redis).
//!
//! PFDEBUG is not gated by `enable-debug-command` (neither redis-server 7.0 nor 7.2 gates it:
//! only DEBUG and MODULE are protected). Its subcommands are compared as C strings (up to a NUL
//! byte). PFSELFTEST runs [`hll::self_test`] (10 million elements, like Redis's).
//!
//! Differences from Redis: a register set inside a sparse value whose last byte is a cut XZERO
//! opcode answers INVALIDOBJ (Redis writes past the end of its string there).

use super::lookup;
use super::{acl, flags::*, key, key_range, ks, CmdError, CmdResult, CommandSpec, Ctx, NO_KEYS};
use crate::db::value::{StrValue, Value, NO_EXPIRE};
use crate::notify;
use crate::types::hll::{self, Encoding};

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("pfadd", -2, WRITE | DENYOOM | FAST, acl::HYPERLOGLOG, key(1, ks::RW | ks::INSERT), pfadd).doc(
        "hyperloglog",
        "2.8.9",
        "O(1) to add every element.",
        "Adds elements to a HyperLogLog key. Creates the key if it doesn't exist.",
    ),
    CommandSpec::new(
        "pfcount",
        -2,
        READONLY | MAY_REPLICATE,
        acl::HYPERLOGLOG,
        key_range(1, -1, 1, ks::RW | ks::ACCESS)
            .notes("RW because it may change the internal representation of the key, and propagate to replicas"),
        pfcount,
    )
    .doc(
        "hyperloglog",
        "2.8.9",
        "O(1) with a very small average constant time when called with a single key. O(N) with N being the number of keys, and much bigger constant times, when called with multiple keys.",
        "Returns the approximated cardinality of the set(s) observed by the HyperLogLog key(s).",
    ),
    CommandSpec::new(
        "pfmerge",
        -2,
        WRITE | DENYOOM,
        acl::HYPERLOGLOG,
        key(1, ks::RW | ks::ACCESS | ks::INSERT).and(key_range(2, -1, 1, ks::RO | ks::ACCESS)),
        pfmerge,
    )
    .doc(
        "hyperloglog",
        "2.8.9",
        "O(N) to merge N HyperLogLogs, but with high constant times.",
        "Merges one or more HyperLogLog values into a single key.",
    ),
    CommandSpec::new("pfdebug", 3, WRITE | DENYOOM | ADMIN, acl::HYPERLOGLOG, key(2, ks::RW | ks::ACCESS), pfdebug).doc(
        "hyperloglog",
        "2.8.9",
        "N/A",
        "Internal commands for debugging HyperLogLog values.",
    ),
    CommandSpec::new("pfselftest", 1, ADMIN, acl::HYPERLOGLOG, NO_KEYS, pfselftest).doc(
        "hyperloglog",
        "2.8.9",
        "N/A",
        "An internal command for testing HyperLogLog values.",
    ),
];

fn not_hll() -> CmdError {
    CmdError::msg("WRONGTYPE Key is not a valid HyperLogLog string value.")
}

fn corrupt() -> CmdError {
    CmdError::msg("INVALIDOBJ Corrupted HLL object detected")
}

/// The bytes and encoding of an HLL string value, or Redis's error for a string that is not one.
fn hll_of(s: &StrValue) -> Result<(&[u8], Encoding), CmdError> {
    let b: &[u8] = match s {
        StrValue::Int(_) => return Err(not_hll()),
        StrValue::Emb(e) => e,
        StrValue::Raw(v) => v,
    };
    hll::check(b).map(|e| (b, e)).map_err(|_| not_hll())
}

/// An HLL string value for writing: checked, then made `raw` (Redis's `dbUnshareStringValue`).
fn hll_mut(s: &mut StrValue) -> Result<&mut Vec<u8>, CmdError> {
    hll_of(s)?;
    Ok(s.make_raw())
}

/// A new HLL string value.
fn raw_value(v: Vec<u8>) -> Value {
    Value::Str(StrValue::Raw(Box::new(v)))
}

fn pfadd(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    let max_bytes = hll::sparse_max_bytes();
    let mut db = ctx.db();
    let changed = match lookup::get::<StrValue>(&mut db, key)? {
        None => {
            let mut v = hll::new();
            for e in &args[2..] {
                hll::add(&mut v, e, max_bytes).map_err(|_| corrupt())?;
            }
            hll::invalidate(&mut v);
            db.set(key, raw_value(v), NO_EXPIRE);
            true
        }
        Some(s) => {
            let v = hll_mut(s)?;
            let mut changed = false;
            for e in &args[2..] {
                // An error leaves the elements before it added (and nothing propagated), as Redis.
                changed |= hll::add(v, e, max_bytes).map_err(|_| corrupt())?;
            }
            if changed {
                hll::invalidate(v);
                db.touch(key);
            }
            changed
        }
    };
    if changed {
        ctx.notify(notify::STRING, "pfadd", key);
    } else {
        ctx.propagate_nothing();
    }
    ctx.out.int(changed as i64);
    Ok(())
}

fn pfcount(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if args.len() > 2 {
        return pfcount_union(ctx, &args[1..]);
    }
    let key = args[1];
    let mut db = ctx.db();
    let Some(e) = db.get_counted(key) else {
        ctx.out.int(0);
        return Ok(());
    };
    let v = hll_mut(lookup::typed::<StrValue>(e)?)?;
    if let Some(card) = hll::cached(v) {
        ctx.out.int(card as i64);
        return Ok(());
    }
    let card = hll::count(v).map_err(|_| corrupt())?;
    hll::set_cached(v, card);
    db.touch(key);
    // A read that wrote the cache: propagated so that replicas and the AOF hold the same bytes.
    ctx.propagate(args);
    ctx.out.int(card as i64);
    Ok(())
}

/// PFCOUNT of several keys: the cardinality of their union, nothing written. Missing keys count
/// as empty.
fn pfcount_union(ctx: &mut Ctx, keys: &[&[u8]]) -> CmdResult {
    let mut max = Box::new([0u8; hll::REGISTERS]);
    let mut db = ctx.db();
    for key in keys {
        let Some(e) = db.get_counted(key) else { continue };
        let (v, _) = hll_of(lookup::typed::<StrValue>(e)?)?;
        hll::merge(&mut max, v).map_err(|_| corrupt())?;
    }
    ctx.out.int(hll::count_raw(&max) as i64);
    Ok(())
}

fn pfmerge(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let dest = args[1];
    let max_bytes = hll::sparse_max_bytes();
    let mut max = Box::new([0u8; hll::REGISTERS]);
    // The destination is merged too; the result is dense when any value merged is.
    let mut dense = false;
    let mut db = ctx.db();
    for key in &args[1..] {
        let Some(e) = db.get_counted(key) else { continue };
        let (v, enc) = hll_of(lookup::typed::<StrValue>(e)?)?;
        dense |= enc == Encoding::Dense;
        hll::merge(&mut max, v).map_err(|_| corrupt())?;
    }
    if !db.exists(dest) {
        db.set(dest, raw_value(hll::new()), NO_EXPIRE);
    }
    let Some(s) = lookup::get::<StrValue>(&mut db, dest)? else { unreachable!("just checked or created") };
    let v = hll_mut(s)?;
    if dense {
        hll::to_dense(v).map_err(|_| corrupt())?;
    }
    // A sparse destination is raised register by register, as Redis does: it grows (and may
    // become dense) exactly as by as many PFADDs, so the bytes are Redis's. Once dense, its
    // registers are the merged ones (it was merged too): stored 16 at a time.
    for (i, &m) in max.iter().enumerate() {
        if hll::is_dense(v) {
            break;
        }
        if m != 0 {
            let _ = hll::raise(v, i, m, max_bytes);
        }
    }
    if hll::is_dense(v) {
        hll::store_dense(v, &max);
    }
    hll::invalidate(v);
    db.touch(dest);
    ctx.notify(notify::STRING, "pfadd", dest);
    ctx.out.ok();
    Ok(())
}

/// A subcommand compared as Redis compares C strings (up to a NUL byte), case-insensitively.
fn is_sub(arg: &[u8], name: &str) -> bool {
    let end = arg.iter().position(|&b| b == 0).unwrap_or(arg.len());
    arg[..end].eq_ignore_ascii_case(name.as_bytes())
}

fn pfdebug(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (sub, key) = (args[1], args[2]);
    let (mut db, out) = ctx.db_out();
    let Some(s) = lookup::get::<StrValue>(&mut db, key)? else {
        return Err(CmdError::msg("ERR The specified key does not exist"));
    };
    let v = hll_mut(s)?;
    let sparse = hll::check(v) == Ok(Encoding::Sparse);
    let mut converted = false;
    if is_sub(sub, "getreg") {
        if sparse {
            hll::to_dense(v).map_err(|_| corrupt())?;
            converted = true;
        }
        let regs = hll::registers(v).map_err(|_| corrupt())?;
        out.array(hll::REGISTERS);
        for &r in regs.iter() {
            out.int(r as i64);
        }
    } else if is_sub(sub, "decode") {
        if !sparse {
            return Err(CmdError::msg("ERR HLL encoding is not sparse"));
        }
        out.bulk(hll::decode(v).as_bytes());
    } else if is_sub(sub, "encoding") {
        out.simple(if sparse { "sparse" } else { "dense" });
    } else if is_sub(sub, "todense") {
        if sparse {
            hll::to_dense(v).map_err(|_| corrupt())?;
            converted = true;
        }
        out.int(converted as i64);
    } else {
        let end = sub.iter().position(|&b| b == 0).unwrap_or(sub.len());
        return Err(CmdError::msg(format!(
            "ERR Unknown PFDEBUG subcommand '{}'",
            String::from_utf8_lossy(&sub[..end])
        )));
    }
    // A conversion is propagated (Redis counts it as a change) but, as in Redis, not signalled
    // to WATCH.
    if !converted {
        ctx.propagate_nothing();
    }
    Ok(())
}

fn pfselftest(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let seed = crate::clock::now_us();
    hll::self_test(seed, hll::sparse_max_bytes(), 10_000_000).map_err(|e| CmdError::msg(format!("ERR {e}")))?;
    ctx.out.ok();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subcommands_compare_as_c_strings() {
        assert!(is_sub(b"GetReg", "getreg"));
        assert!(is_sub(b"getreg\0junk", "getreg"));
        assert!(!is_sub(b"getregs", "getreg"));
    }
}
