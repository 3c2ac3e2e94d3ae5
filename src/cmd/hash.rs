//! Hash commands: HSET, HSETNX, HMSET, HGET, HMGET, HDEL, HEXISTS, HLEN, HSTRLEN, HKEYS, HVALS,
//! HGETALL, HINCRBY, HINCRBYFLOAT, HRANDFIELD, HSCAN.
//!
//! The data structure and its encodings (`listpack` / `hashtable`, Redis's thresholds
//! `hash-max-listpack-entries` and `hash-max-listpack-value`) live in [`crate::types::hash`].
//! HINCRBYFLOAT computes in C `long double` precision through [`LongDouble`] (as INCRBYFLOAT
//! does), so results match Redis digit for digit.
//!
//! Keyspace events (class `h`), as Redis 7 raises them: `hset` for HSET/HMSET (even when no
//! value changed) and for HSETNX when it set the field, `hdel` (then `del` when the hash was
//! emptied) when a field was removed, `hincrby`, `hincrbyfloat`. Failed and no-op writes raise
//! nothing; `new` comes from the keyspace when a command creates the key.
//!
//! Differences from Redis: HRANDFIELD with a negative count (repetitions allowed) refuses
//! counts below -[`MAX_REPEAT`] with `ERR value is out of range` instead of building a reply of
//! that many elements (Redis tries and may run out of memory); hashtable-encoded hashes iterate
//! (HGETALL, HKEYS, HSCAN) in an order of their own, as Redis's order is arbitrary too.

use rand::Rng;

use super::args::{self, random_count, scan_options, ScanOptions, MAX_REPEAT};
use super::lookup::{get, get_or_create, read};
use super::reply::scan_reply;
use super::{acl, flags::*, key, ks, CmdError, CmdResult, CommandSpec, Ctx};
use crate::db::glob;
use crate::notify;
use crate::types::hash::{Hash, HashLimits};
use crate::types::longdouble::LongDouble;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("hset", -4, WRITE | DENYOOM | FAST, acl::HASH, key(1, ks::RW | ks::UPDATE), hset).doc(
        "hash",
        "2.0.0",
        "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs.",
        "Creates or modifies the value of a field in a hash.",
    ),
    CommandSpec::new("hsetnx", 4, WRITE | DENYOOM | FAST, acl::HASH, key(1, ks::RW | ks::INSERT), hsetnx).doc(
        "hash",
        "2.0.0",
        "O(1)",
        "Sets the value of a field in a hash only when the field doesn't exist.",
    ),
    CommandSpec::new("hmset", -4, WRITE | DENYOOM | FAST, acl::HASH, key(1, ks::RW | ks::UPDATE), hmset).doc(
        "hash",
        "2.0.0",
        "O(N) where N is the number of fields being set.",
        "Sets the values of multiple fields.",
    ),
    CommandSpec::new("hget", 3, READONLY | FAST, acl::HASH, key(1, ks::RO | ks::ACCESS), hget).doc(
        "hash",
        "2.0.0",
        "O(1)",
        "Returns the value of a field in a hash.",
    ),
    CommandSpec::new("hmget", -3, READONLY | FAST, acl::HASH, key(1, ks::RO | ks::ACCESS), hmget).doc(
        "hash",
        "2.0.0",
        "O(N) where N is the number of fields being requested.",
        "Returns the values of all fields in a hash.",
    ),
    CommandSpec::new("hdel", -3, WRITE | FAST, acl::HASH, key(1, ks::RW | ks::DELETE), hdel).doc(
        "hash",
        "2.0.0",
        "O(N) where N is the number of fields to be removed.",
        "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.",
    ),
    CommandSpec::new("hexists", 3, READONLY | FAST, acl::HASH, key(1, ks::RO), hexists).doc(
        "hash",
        "2.0.0",
        "O(1)",
        "Determines whether a field exists in a hash.",
    ),
    CommandSpec::new("hlen", 2, READONLY | FAST, acl::HASH, key(1, ks::RO), hlen).doc(
        "hash",
        "2.0.0",
        "O(1)",
        "Returns the number of fields in a hash.",
    ),
    CommandSpec::new("hstrlen", 3, READONLY | FAST, acl::HASH, key(1, ks::RO), hstrlen).doc(
        "hash",
        "3.2.0",
        "O(1)",
        "Returns the length of the value of a field.",
    ),
    CommandSpec::new("hkeys", 2, READONLY, acl::HASH, key(1, ks::RO | ks::ACCESS), hkeys)
        .doc("hash", "2.0.0", "O(N) where N is the size of the hash.", "Returns all fields in a hash.")
        .tips(&["nondeterministic_output_order"]),
    CommandSpec::new("hvals", 2, READONLY, acl::HASH, key(1, ks::RO | ks::ACCESS), hvals)
        .doc("hash", "2.0.0", "O(N) where N is the size of the hash.", "Returns all values in a hash.")
        .tips(&["nondeterministic_output_order"]),
    CommandSpec::new("hgetall", 2, READONLY, acl::HASH, key(1, ks::RO | ks::ACCESS), hgetall)
        .doc("hash", "2.0.0", "O(N) where N is the size of the hash.", "Returns all fields and values in a hash.")
        .tips(&["nondeterministic_output_order"]),
    CommandSpec::new("hincrby", 4, WRITE | DENYOOM | FAST, acl::HASH, key(1, ks::RW | ks::ACCESS | ks::UPDATE), hincrby).doc(
        "hash",
        "2.0.0",
        "O(1)",
        "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.",
    ),
    CommandSpec::new("hincrbyfloat", 4, WRITE | DENYOOM | FAST, acl::HASH, key(1, ks::RW | ks::ACCESS | ks::UPDATE), hincrbyfloat).doc(
        "hash",
        "2.6.0",
        "O(1)",
        "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.",
    ),
    CommandSpec::new("hrandfield", -2, READONLY, acl::HASH, key(1, ks::RO | ks::ACCESS), hrandfield)
        .doc(
            "hash",
            "6.2.0",
            "O(N) where N is the number of fields returned",
            "Returns one or more random fields from a hash.",
        )
        .tips(&["nondeterministic_output"]),
    CommandSpec::new("hscan", -3, READONLY, acl::HASH, key(1, ks::RO | ks::ACCESS), hscan)
        .doc(
            "hash",
            "2.8.0",
            "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.",
            "Iterates over fields and values of a hash.",
        )
        .tips(&["nondeterministic_output"]),
];

fn limits(ctx: &Ctx) -> HashLimits {
    let c = ctx.server.config.read();
    HashLimits { entries: c.hash_max_listpack_entries, value: c.hash_max_listpack_value }
}

// ---------------------------------------------------------------------------------------------
// Writes
// ---------------------------------------------------------------------------------------------

fn hset_generic(ctx: &mut Ctx, args: &[&[u8]], name: &str) -> Result<i64, CmdError> {
    if !args.len().is_multiple_of(2) {
        return Err(CmdError::WrongArity(name.to_string()));
    }
    let lim = limits(ctx);
    let key = args[1];
    let mut db = ctx.db();
    let h = get_or_create::<Hash>(&mut db, key)?;
    // Redis converts first if any field or value is too long for the listpack (`set_pairs`
    // does so).
    let added = h.set_pairs(&args[2..], lim) as i64;
    db.touch(key);
    // Redis raises `hset` even when every field already held the same value.
    ctx.notify(notify::HASH, "hset", key);
    Ok(added)
}

fn hset(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let n = hset_generic(ctx, args, "hset")?;
    ctx.out.int(n);
    Ok(())
}

fn hmset(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    hset_generic(ctx, args, "hmset")?;
    ctx.out.ok();
    Ok(())
}

fn hsetnx(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let lim = limits(ctx);
    let key = args[1];
    let mut db = ctx.db();
    let h = get_or_create::<Hash>(&mut db, key)?;
    if h.contains(args[2]) {
        ctx.out.int(0);
        ctx.propagate_nothing();
        return Ok(());
    }
    h.set(args[2], args[3], lim);
    db.touch(key);
    ctx.notify(notify::HASH, "hset", key);
    ctx.out.int(1);
    Ok(())
}

fn hdel(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    let mut db = ctx.db();
    let (deleted, empty) = match get::<Hash>(&mut db, key)? {
        None => (0, false),
        Some(h) => {
            let mut n = 0;
            for f in &args[2..] {
                if h.remove(f) {
                    n += 1;
                    if h.is_empty() {
                        break;
                    }
                }
            }
            (n, h.is_empty())
        }
    };
    if empty {
        db.remove(key);
    } else if deleted > 0 {
        db.touch(key);
    }
    if deleted > 0 {
        ctx.notify(notify::HASH, "hdel", key);
        if empty {
            ctx.notify(notify::GENERIC, "del", key);
        }
    } else {
        ctx.propagate_nothing();
    }
    ctx.out.int(deleted);
    Ok(())
}

fn hincrby(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let by = args::int(args[3])?;
    let lim = limits(ctx);
    let key = args[1];
    let mut db = ctx.db();
    // Check the type before creating anything.
    get::<Hash>(&mut db, key)?;
    let cur = match get::<Hash>(&mut db, key) {
        Ok(Some(h)) => match h.get(args[2]) {
            Some(v) => resp::parse_i64(v).ok_or_else(|| CmdError::msg("ERR hash value is not an integer"))?,
            None => 0,
        },
        _ => 0,
    };
    let new = cur.checked_add(by).ok_or(CmdError::Overflow)?;
    let mut b = itoa::Buffer::new();
    let text = b.format(new);
    get_or_create::<Hash>(&mut db, key)?.set(args[2], text.as_bytes(), lim);
    db.touch(key);
    ctx.notify(notify::HASH, "hincrby", key);
    ctx.out.int(new);
    Ok(())
}

fn hincrbyfloat(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let by = LongDouble::parse(args[3]).ok_or(CmdError::NotFloat)?;
    if !by.is_finite() {
        return Err(CmdError::msg("ERR value is NaN or Infinity"));
    }
    let lim = limits(ctx);
    let key = args[1];
    let mut db = ctx.db();
    let cur = match get::<Hash>(&mut db, key)? {
        None => LongDouble::ZERO,
        Some(h) => match h.get(args[2]) {
            Some(v) => LongDouble::parse(v).ok_or_else(|| CmdError::msg("ERR hash value is not a float"))?,
            None => LongDouble::ZERO,
        },
    };
    let sum = cur + by;
    if !sum.is_finite() {
        return Err(CmdError::msg("ERR increment would produce NaN or Infinity"));
    }
    let text = sum.to_human();
    get_or_create::<Hash>(&mut db, key)?.set(args[2], text.as_bytes(), lim);
    db.touch(key);
    // Propagated as the value it stored, so a replay does not redo the float arithmetic.
    ctx.propagate(&[&b"HSET"[..], key, args[2], text.as_bytes()]);
    ctx.notify(notify::HASH, "hincrbyfloat", key);
    ctx.out.bulk(text.as_bytes());
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Reads
// ---------------------------------------------------------------------------------------------

fn hget(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (mut db, out) = ctx.db_out();
    match read::<Hash>(&mut db, args[1])?.and_then(|h| h.get(args[2])) {
        Some(v) => out.bulk(v),
        None => out.null(),
    }
    Ok(())
}

fn hmget(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (mut db, out) = ctx.db_out();
    let h = read::<Hash>(&mut db, args[1])?;
    out.array(args.len() - 2);
    for f in &args[2..] {
        match h.and_then(|h| h.get(f)) {
            Some(v) => out.bulk(v),
            None => out.null(),
        }
    }
    Ok(())
}

fn hexists(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut db = ctx.db();
    let found = read::<Hash>(&mut db, args[1])?.is_some_and(|h| h.contains(args[2]));
    ctx.out.int(found as i64);
    Ok(())
}

fn hlen(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut db = ctx.db();
    let n = read::<Hash>(&mut db, args[1])?.map_or(0, |h| h.len());
    ctx.out.int(n as i64);
    Ok(())
}

fn hstrlen(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut db = ctx.db();
    let n = read::<Hash>(&mut db, args[1])?.and_then(|h| h.get(args[2])).map_or(0, |v| v.len());
    ctx.out.int(n as i64);
    Ok(())
}

/// HKEYS / HVALS / HGETALL.
fn hgetall_generic(ctx: &mut Ctx, key: &[u8], fields: bool, values: bool) -> CmdResult {
    let (mut db, out) = ctx.db_out();
    let h = read::<Hash>(&mut db, key)?;
    let n = h.map_or(0, |h| h.len());
    if fields && values {
        out.map(n);
    } else {
        out.array(n);
    }
    if let Some(h) = h {
        for (f, v) in h.iter() {
            if fields {
                out.bulk(f);
            }
            if values {
                out.bulk(v);
            }
        }
    }
    Ok(())
}

fn hkeys(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    hgetall_generic(ctx, args[1], true, false)
}

fn hvals(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    hgetall_generic(ctx, args[1], false, true)
}

fn hgetall(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    hgetall_generic(ctx, args[1], true, true)
}

fn hrandfield(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if args.len() == 2 {
        let (mut db, out) = ctx.db_out();
        match read::<Hash>(&mut db, args[1])? {
            Some(h) => {
                let i = rand::thread_rng().gen_range(0..h.len());
                out.bulk(h.nth(i).0);
            }
            None => out.null(),
        }
        return Ok(());
    }
    let count = random_count(args[2])?;
    let withvalues = match args.len() {
        3 => false,
        4 if args::is(args[3], "withvalues") => true,
        _ => return Err(CmdError::Syntax),
    };
    if withvalues && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return Err(CmdError::msg("ERR value is out of range"));
    }
    if count < 0 && count.unsigned_abs() > MAX_REPEAT {
        return Err(CmdError::msg("ERR value is out of range"));
    }
    let (mut db, out) = ctx.db_out();
    let Some(h) = read::<Hash>(&mut db, args[1])? else {
        out.array(0);
        return Ok(());
    };
    let size = h.len();
    let resp3 = out.resp3;
    let emit = |out: &mut resp::Writer, f: &[u8], v: &[u8]| {
        if withvalues && resp3 {
            out.array(2);
        }
        out.bulk(f);
        if withvalues {
            out.bulk(v);
        }
    };
    let header = |out: &mut resp::Writer, n: usize| out.array(if withvalues && !resp3 { 2 * n } else { n });
    let mut rng = rand::thread_rng();
    if count == 0 {
        out.array(0);
    } else if count < 0 || count == 1 {
        // Repetitions allowed.
        let n = count.unsigned_abs() as usize;
        header(out, n);
        for _ in 0..n {
            let (f, v) = h.nth(rng.gen_range(0..size));
            emit(out, f, v);
        }
    } else if count as u64 >= size as u64 {
        header(out, size);
        for (f, v) in h.iter() {
            emit(out, f, v);
        }
    } else {
        let n = count as usize;
        header(out, n);
        let pairs: Vec<(&[u8], &[u8])> = h.iter().collect();
        for i in rand::seq::index::sample(&mut rng, size, n) {
            emit(out, pairs[i].0, pairs[i].1);
        }
    }
    Ok(())
}

fn hscan(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let cursor = args::scan_cursor(args[2])?;
    let (mut db, out) = ctx.db_out();
    let Some(h) = read::<Hash>(&mut db, args[1])? else {
        scan_reply::<&[u8]>(out, 0, &[]);
        return Ok(());
    };
    // Options are parsed once the key is known to hold a hash, as Redis does.
    let ScanOptions { pattern, count, .. } = scan_options(args, 3, false)?;
    let mut items: Vec<&[u8]> = Vec::new();
    let next = h.scan(cursor, count, |f, v| {
        if pattern.is_none_or(|p| glob::glob_match(p, f, false)) {
            items.push(f);
            items.push(v);
        }
    });
    scan_reply(out, next, &items);
    Ok(())
}
