//! Set commands: SADD, SREM, SISMEMBER, SMISMEMBER, SMEMBERS, SCARD, SPOP, SRANDMEMBER, SMOVE,
//! SINTER, SINTERCARD, SINTERSTORE, SUNION, SUNIONSTORE, SDIFF, SDIFFSTORE, SSCAN.
//!
//! The data structure and its encodings (`intset` / `listpack` / `hashtable`, with Redis 7.2's
//! thresholds and conversions) live in [`crate::types::set`].
//!
//! Multi-key commands take the sets they read out of their entries for the computation (a
//! placeholder stays in place; nothing else can see it since the command holds the shards'
//! locks) and put them back afterwards, so SINTER/SUNION/SDIFF read large sets without copying
//! them. Results follow Redis's order: SINTER walks the smallest set; SUNION/SDIFF and the
//! STORE variants build a new set starting as an intset, which grows through the usual
//! conversions (so the reply is sorted while it stays an intset).
//!
//! Keyspace events (class `s`), as Redis 7 raises them: `sadd`/`srem` when a member was
//! added/removed, `spop`, then `del` when the set was emptied; SMOVE raises `srem` (and `del`)
//! on the source, then `sadd` on the destination if it lacked the member (nothing when source
//! and destination are one key); the STORE commands raise `sinterstore`/`sunionstore`/
//! `sdiffstore` on the destination, or `del` when an empty result deleted an existing key.
//!
//! Differences from Redis: Redis 7.0 keeps small non-integer sets as `hashtable`; redstart
//! follows Redis 7.2 (`listpack`, insertion order). SRANDMEMBER with a negative count refuses
//! counts below -[`MAX_REPEAT`] with `ERR value is out of range` (Redis tries to build the reply
//! and may run out of memory).

use std::collections::HashMap;

use crate::notify;

use rand::Rng;

use super::args::{self, random_count, scan_options, Cursor, ScanOptions, MAX_REPEAT};
use super::keys::getkeys_numkeys;
use super::lookup::{get, read, typed, ValueType};
use super::reply::scan_reply;
use super::{acl, flags::*, key, key_num, key_range, ks, CmdError, CmdResult, CommandSpec, Ctx};
use crate::db::value::{Value, NO_EXPIRE};
use crate::db::{glob, Db};
use crate::types::set::{Elem, Set, SetLimits};

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("sadd", -3, WRITE | DENYOOM | FAST, acl::SET, key(1, ks::RW | ks::INSERT), sadd).doc(
        "set",
        "1.0.0",
        "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
        "Adds one or more members to a set. Creates the key if it doesn't exist.",
    ),
    CommandSpec::new("srem", -3, WRITE | FAST, acl::SET, key(1, ks::RW | ks::DELETE), srem).doc(
        "set",
        "1.0.0",
        "O(N) where N is the number of members to be removed.",
        "Removes one or more members from a set. Deletes the set if the last member was removed.",
    ),
    CommandSpec::new("sismember", 3, READONLY | FAST, acl::SET, key(1, ks::RO), sismember).doc(
        "set",
        "1.0.0",
        "O(1)",
        "Determines whether a member belongs to a set.",
    ),
    CommandSpec::new("smismember", -3, READONLY | FAST, acl::SET, key(1, ks::RO | ks::ACCESS), smismember).doc(
        "set",
        "6.2.0",
        "O(N) where N is the number of elements being checked for membership",
        "Determines whether multiple members belong to a set.",
    ),
    CommandSpec::new("smembers", 2, READONLY, acl::SET, key(1, ks::RO | ks::ACCESS), smembers)
        .doc("set", "1.0.0", "O(N) where N is the set cardinality.", "Returns all members of a set.")
        .tips(&["nondeterministic_output_order"]),
    CommandSpec::new("scard", 2, READONLY | FAST, acl::SET, key(1, ks::RO), scard).doc(
        "set",
        "1.0.0",
        "O(1)",
        "Returns the number of members in a set.",
    ),
    CommandSpec::new("spop", -2, WRITE | FAST, acl::SET, key(1, ks::RW | ks::ACCESS | ks::DELETE), spop)
        .doc(
            "set",
            "1.0.0",
            "Without the count argument O(1), otherwise O(N) where N is the value of the passed count.",
            "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.",
        )
        .tips(&["nondeterministic_output"]),
    CommandSpec::new("srandmember", -2, READONLY, acl::SET, key(1, ks::RO | ks::ACCESS), srandmember)
        .doc(
            "set",
            "1.0.0",
            "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count.",
            "Get one or multiple random members from a set",
        )
        .tips(&["nondeterministic_output"]),
    CommandSpec::new("smove", 4, WRITE | FAST, acl::SET, key(1, ks::RW | ks::ACCESS | ks::DELETE).and(key(2, ks::RW | ks::INSERT)), smove).doc(
        "set",
        "1.0.0",
        "O(1)",
        "Moves a member from one set to another.",
    ),
    CommandSpec::new("sinter", -2, READONLY, acl::SET, key_range(1, -1, 1, ks::RO | ks::ACCESS), sinter)
        .doc(
            "set",
            "1.0.0",
            "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.",
            "Returns the intersect of multiple sets.",
        )
        .tips(&["nondeterministic_output_order"]),
    CommandSpec::new("sintercard", -3, READONLY, acl::SET, key_num(1, ks::RO | ks::ACCESS).getkeys(getkeys_numkeys), sintercard)
        .doc(
            "set",
            "7.0.0",
            "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.",
            "Returns the number of members of the intersect of multiple sets.",
        ),
    CommandSpec::new("sinterstore", -3, WRITE | DENYOOM, acl::SET, key(1, ks::RW | ks::UPDATE).and(key_range(2, -1, 1, ks::RO | ks::ACCESS)), sinterstore).doc(
        "set",
        "1.0.0",
        "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.",
        "Stores the intersect of multiple sets in a key.",
    ),
    CommandSpec::new("sunion", -2, READONLY, acl::SET, key_range(1, -1, 1, ks::RO | ks::ACCESS), sunion)
        .doc(
            "set",
            "1.0.0",
            "O(N) where N is the total number of elements in all given sets.",
            "Returns the union of multiple sets.",
        )
        .tips(&["nondeterministic_output_order"]),
    CommandSpec::new("sunionstore", -3, WRITE | DENYOOM, acl::SET, key(1, ks::OW | ks::UPDATE).and(key_range(2, -1, 1, ks::RO | ks::ACCESS)), sunionstore).doc(
        "set",
        "1.0.0",
        "O(N) where N is the total number of elements in all given sets.",
        "Stores the union of multiple sets in a key.",
    ),
    CommandSpec::new("sdiff", -2, READONLY, acl::SET, key_range(1, -1, 1, ks::RO | ks::ACCESS), sdiff)
        .doc(
            "set",
            "1.0.0",
            "O(N) where N is the total number of elements in all given sets.",
            "Returns the difference of multiple sets.",
        )
        .tips(&["nondeterministic_output_order"]),
    CommandSpec::new("sdiffstore", -3, WRITE | DENYOOM, acl::SET, key(1, ks::OW | ks::UPDATE).and(key_range(2, -1, 1, ks::RO | ks::ACCESS)), sdiffstore).doc(
        "set",
        "1.0.0",
        "O(N) where N is the total number of elements in all given sets.",
        "Stores the difference of multiple sets in a key.",
    ),
    CommandSpec::new("sscan", -3, READONLY, acl::SET, key(1, ks::RO | ks::ACCESS), sscan)
        .doc(
            "set",
            "2.8.0",
            "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.",
            "Iterates over members of a set.",
        )
        .tips(&["nondeterministic_output"]),
];

fn limits(ctx: &Ctx) -> SetLimits {
    let c = ctx.server.config.read();
    SetLimits {
        intset_entries: c.set_max_intset_entries,
        listpack_entries: c.set_max_listpack_entries,
        listpack_value: c.set_max_listpack_value,
    }
}

fn bulk_elem(out: &mut resp::Writer, e: Elem) {
    let mut b = itoa::Buffer::new();
    out.bulk(e.bytes(&mut b));
}

fn contains_elem(s: &Set, e: Elem) -> bool {
    match (s, e) {
        (Set::Int(i), Elem::Int(v)) => i.contains(v),
        _ => s.contains(e.bytes(&mut itoa::Buffer::new())),
    }
}

// ---------------------------------------------------------------------------------------------
// Single-key commands
// ---------------------------------------------------------------------------------------------

fn sadd(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let lim = limits(ctx);
    let key = args[1];
    let members = &args[2..];
    let mut db = ctx.db();
    match get::<Set>(&mut db, key)? {
        Some(s) => s.maybe_convert(members.len(), lim),
        None => {
            db.set(key, Value::Set(Box::new(Set::create(members[0], members.len(), lim))), NO_EXPIRE);
        }
    }
    let s = get::<Set>(&mut db, key)?.expect("present");
    let added = members.iter().filter(|m| s.add(m, lim)).count();
    if added > 0 {
        db.touch(key);
        ctx.notify(notify::SET, "sadd", key);
    } else {
        ctx.propagate_nothing();
    }
    ctx.out.int(added as i64);
    Ok(())
}

fn srem(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    let mut db = ctx.db();
    let (removed, empty) = match get::<Set>(&mut db, key)? {
        None => (0, false),
        Some(s) => {
            let mut n = 0;
            for m in &args[2..] {
                if s.remove(m) {
                    n += 1;
                    if s.is_empty() {
                        break;
                    }
                }
            }
            (n, s.is_empty())
        }
    };
    if empty {
        db.remove(key);
    } else if removed > 0 {
        db.touch(key);
    }
    if removed > 0 {
        ctx.notify(notify::SET, "srem", key);
        if empty {
            ctx.notify(notify::GENERIC, "del", key);
        }
    } else {
        ctx.propagate_nothing();
    }
    ctx.out.int(removed);
    Ok(())
}

fn sismember(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut db = ctx.db();
    let found = read::<Set>(&mut db, args[1])?.is_some_and(|s| s.contains(args[2]));
    ctx.out.int(found as i64);
    Ok(())
}

fn smismember(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (mut db, out) = ctx.db_out();
    let s = read::<Set>(&mut db, args[1])?;
    out.array(args.len() - 2);
    for m in &args[2..] {
        out.int(s.is_some_and(|s| s.contains(m)) as i64);
    }
    Ok(())
}

fn smembers(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (mut db, out) = ctx.db_out();
    match read::<Set>(&mut db, args[1])? {
        None => out.set(0),
        Some(s) => {
            out.set(s.len());
            for e in s.iter() {
                bulk_elem(out, e);
            }
        }
    }
    Ok(())
}

fn scard(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut db = ctx.db();
    let n = read::<Set>(&mut db, args[1])?.map_or(0, |s| s.len());
    ctx.out.int(n as i64);
    Ok(())
}

fn spop(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    let count = match args.len() {
        2 => None,
        3 => match resp::parse_i64(args[2]) {
            Some(n) if n >= 0 => Some(n as u64),
            _ => return Err(CmdError::msg("ERR value is out of range, must be positive")),
        },
        _ => return Err(CmdError::Syntax),
    };
    // Propagated as what it removed (Redis 7.2): `SREM key m..` in batches of 1024 members,
    // `DEL key` when it took the whole set; nothing when it took nothing.
    let prop = ctx.propagating();
    let mut popped: Vec<Vec<u8>> = Vec::new();
    let (mut db, out) = ctx.db_out();
    let mut rng = rand::thread_rng();
    let (empty, whole) = match get::<Set>(&mut db, key)? {
        None => {
            match count {
                None => out.null(),
                Some(_) => out.set(0),
            }
            ctx.propagate_nothing();
            return Ok(());
        }
        Some(s) => match count {
            None => {
                let i = rng.gen_range(0..s.len());
                let m = s.take_nth(i);
                out.bulk(&m);
                if prop {
                    popped.push(m.to_vec());
                }
                (s.is_empty(), s.is_empty())
            }
            Some(0) => {
                out.set(0);
                ctx.propagate_nothing();
                return Ok(());
            }
            Some(n) if n >= s.len() as u64 => {
                out.set(s.len());
                for e in s.iter() {
                    bulk_elem(out, e);
                }
                (true, true)
            }
            Some(n) => {
                out.set(n as usize);
                for _ in 0..n {
                    let i = rng.gen_range(0..s.len());
                    let m = s.take_nth(i);
                    out.bulk(&m);
                    if prop {
                        popped.push(m.to_vec());
                    }
                }
                (false, false)
            }
        },
    };
    if empty {
        db.remove(key);
    } else {
        db.touch(key);
    }
    if whole && count.is_some() {
        // Redis 7.2 (#12320): `UNLINK` under lazyfree-lazy-server-del (7.0 always logs `DEL`).
        let lazy = crate::db::lazyfree::enabled(crate::db::lazyfree::Flag::ServerDel);
        ctx.propagate(&[crate::propagate::deletion(lazy), key]);
    } else {
        for batch in popped.chunks(1024) {
            let mut cmd: Vec<&[u8]> = Vec::with_capacity(batch.len() + 2);
            cmd.push(b"SREM");
            cmd.push(key);
            cmd.extend(batch.iter().map(|m| m.as_slice()));
            ctx.propagate(&cmd);
        }
    }
    ctx.notify(notify::SET, "spop", key);
    if empty {
        ctx.notify(notify::GENERIC, "del", key);
    }
    Ok(())
}

fn srandmember(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let count = match args.len() {
        2 => None,
        3 => Some(random_count(args[2])?),
        _ => return Err(CmdError::Syntax),
    };
    if count.is_some_and(|c| c < 0 && c.unsigned_abs() > MAX_REPEAT) {
        return Err(CmdError::msg("ERR value is out of range"));
    }
    let (mut db, out) = ctx.db_out();
    let s = read::<Set>(&mut db, args[1])?;
    let mut rng = rand::thread_rng();
    let Some(count) = count else {
        match s {
            Some(s) => bulk_elem(out, s.nth(rng.gen_range(0..s.len()))),
            None => out.null(),
        }
        return Ok(());
    };
    let Some(s) = s else {
        out.array(0);
        return Ok(());
    };
    let size = s.len();
    if count == 0 {
        out.array(0);
    } else if count < 0 {
        let n = count.unsigned_abs() as usize;
        out.array(n);
        match s {
            // O(1) random access.
            Set::Table(_) | Set::Int(_) => {
                for _ in 0..n {
                    bulk_elem(out, s.nth(rng.gen_range(0..size)));
                }
            }
            Set::Pack(_) => {
                let all: Vec<Elem> = s.iter().collect();
                for _ in 0..n {
                    bulk_elem(out, all[rng.gen_range(0..size)]);
                }
            }
        }
    } else if count as u64 >= size as u64 {
        out.array(size);
        for e in s.iter() {
            bulk_elem(out, e);
        }
    } else {
        let n = count as usize;
        out.array(n);
        let all: Vec<Elem> = s.iter().collect();
        for i in rand::seq::index::sample(&mut rng, size, n) {
            bulk_elem(out, all[i]);
        }
    }
    Ok(())
}

fn smove(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (src, dst, member) = (args[1], args[2], args[3]);
    let lim = limits(ctx);
    let mut db = ctx.db();
    if get::<Set>(&mut db, src)?.is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    get::<Set>(&mut db, dst)?;
    if src == dst {
        let found = read::<Set>(&mut db, src)?.is_some_and(|s| s.contains(member));
        ctx.out.int(found as i64);
        return Ok(());
    }
    let s = get::<Set>(&mut db, src)?.expect("checked");
    if !s.remove(member) {
        ctx.out.int(0);
        return Ok(());
    }
    let emptied = s.is_empty();
    if emptied {
        db.remove(src);
    } else {
        db.touch(src);
    }
    // Redis's order: `srem` (and `del`) on the source, then the destination's `new` and `sadd`
    // (none when the destination already held the member).
    ctx.notify(notify::SET, "srem", src);
    if emptied {
        ctx.notify(notify::GENERIC, "del", src);
    }
    let mut db = ctx.db();
    let added = match get::<Set>(&mut db, dst)? {
        Some(d) => d.add(member, lim),
        None => {
            let mut d = Set::create(member, 1, lim);
            d.add(member, lim);
            db.set(dst, Value::Set(Box::new(d)), NO_EXPIRE);
            true
        }
    };
    // The destination changed only if the member was new there (a WATCH on it stays clean
    // otherwise, as in Redis).
    if added {
        db.touch(dst);
        ctx.notify(notify::SET, "sadd", dst);
    }
    ctx.out.int(1);
    Ok(())
}

fn sscan(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let cursor = args::scan_cursor(args[2])?;
    let (mut db, out) = ctx.db_out();
    let Some(s) = read::<Set>(&mut db, args[1])? else {
        scan_reply::<&[u8]>(out, 0, &[]);
        return Ok(());
    };
    let ScanOptions { pattern, count, .. } = scan_options(args, 3, false)?;
    let mut items: Vec<Vec<u8>> = Vec::new();
    let mut buf = itoa::Buffer::new();
    let next = s.scan(cursor, count, |e| {
        let b = e.bytes(&mut buf);
        if pattern.is_none_or(|p| glob::glob_match(p, b, false)) {
            items.push(b.to_vec());
        }
    });
    scan_reply(out, next, &items);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Multi-key commands
// ---------------------------------------------------------------------------------------------

/// Sets taken out of the keyspace for a multi-key computation; `restore` puts them back.
struct Taken<'k> {
    /// Each distinct key and the index of its set in `sets` (None: missing key).
    keys: Vec<(&'k [u8], Option<usize>)>,
    sets: Vec<Set>,
    /// Per argument key: index in `sets`, None for a missing key.
    slots: Vec<Option<usize>>,
}

impl<'k> Taken<'k> {
    /// Takes the sets at `keys` (looked up as reads, in order). Every key is type-checked, as
    /// Redis does, even after a missing one; on WRONGTYPE everything is put back.
    fn take(db: &mut Db, keys: &[&'k [u8]]) -> Result<Taken<'k>, CmdError> {
        let mut t = Taken { keys: Vec::new(), sets: Vec::new(), slots: Vec::with_capacity(keys.len()) };
        let mut seen: HashMap<&[u8], Option<usize>> = HashMap::new();
        for &k in keys {
            if let Some(&slot) = seen.get(k) {
                t.slots.push(slot);
                continue;
            }
            let slot = match db.get_counted(k).map(typed::<Set>) {
                None => None,
                Some(Ok(s)) => {
                    t.sets.push(std::mem::replace(s, Set::new_intset()));
                    Some(t.sets.len() - 1)
                }
                Some(Err(e)) => {
                    t.restore(db);
                    return Err(e);
                }
            };
            seen.insert(k, slot);
            t.keys.push((k, slot));
            t.slots.push(slot);
        }
        Ok(t)
    }

    /// The set of each argument key, in order.
    fn args(&self) -> Vec<Option<&Set>> {
        self.slots.iter().map(|s| s.map(|i| &self.sets[i])).collect()
    }

    fn restore(self, db: &mut Db) {
        let mut sets: Vec<Option<Set>> = self.sets.into_iter().map(Some).collect();
        for (k, slot) in self.keys {
            if let Some(i) = slot {
                if let Some(s) = db.peek(k).and_then(|e| Set::of(e.value)) {
                    *s = sets[i].take().expect("each set restored once");
                }
            }
        }
    }
}

/// Members of the intersection, walking the smallest set as Redis does; stops after `limit`.
fn inter<'s>(sets: &[Option<&'s Set>], limit: usize) -> Vec<Elem<'s>> {
    let mut present: Vec<&Set> = Vec::with_capacity(sets.len());
    for s in sets {
        match s {
            Some(s) => present.push(s),
            None => return Vec::new(),
        }
    }
    present.sort_by_key(|s| s.len());
    let Some((first, rest)) = present.split_first() else { return Vec::new() };
    let mut out = Vec::new();
    for e in first.iter() {
        if out.len() >= limit {
            break;
        }
        if rest.iter().all(|s| contains_elem(s, e)) {
            out.push(e);
        }
    }
    out
}

/// A new set holding `members`, built as Redis builds SUNION/SDIFF/STORE results (starting as
/// an intset and converting as it grows).
fn build(members: impl Iterator<Item = Vec<u8>>, lim: SetLimits) -> Set {
    let mut s = Set::new_intset();
    for m in members {
        s.add(&m, lim);
    }
    s
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Union,
    Diff,
}

fn union_diff(sets: &[Option<&Set>], op: Op, lim: SetLimits) -> Set {
    match op {
        Op::Union => build(sets.iter().flatten().flat_map(|s| s.iter().map(|e| e.to_vec())), lim),
        Op::Diff => match sets.first() {
            Some(Some(first)) => build(
                first.iter().filter(|&e| !sets[1..].iter().flatten().any(|s| contains_elem(s, e))).map(|e| e.to_vec()),
                lim,
            ),
            _ => Set::new_intset(),
        },
    }
}

fn write_members(out: &mut resp::Writer, s: &Set) {
    out.set(s.len());
    for e in s.iter() {
        bulk_elem(out, e);
    }
}

fn sinter(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (mut db, out) = ctx.db_out();
    let t = Taken::take(&mut db, &args[1..])?;
    {
        let sets = t.args();
        let r = inter(&sets, usize::MAX);
        out.set(r.len());
        for e in r {
            bulk_elem(out, e);
        }
    }
    t.restore(&mut db);
    Ok(())
}

fn sintercard(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let numkeys = match resp::parse_i64(args[1]) {
        Some(n) if n >= 1 => n as u64,
        _ => return Err(CmdError::msg("ERR numkeys should be greater than 0")),
    };
    if numkeys > (args.len() - 2) as u64 {
        return Err(CmdError::msg("ERR Number of keys can't be greater than number of args"));
    }
    let end = 2 + numkeys as usize;
    let mut limit = 0u64;
    let mut c = Cursor::new(args, end);
    while !c.is_empty() {
        limit = match c.value_of("limit").map(resp::parse_i64) {
            Some(Some(n)) if n >= 0 => n as u64,
            Some(_) => return Err(CmdError::msg("ERR LIMIT can't be negative")),
            None => return Err(CmdError::Syntax),
        };
    }
    let limit = if limit == 0 { usize::MAX } else { limit.min(usize::MAX as u64) as usize };
    let mut db = ctx.db();
    let t = Taken::take(&mut db, &args[2..end])?;
    let n = inter(&t.args(), limit).len();
    t.restore(&mut db);
    ctx.out.int(n as i64);
    Ok(())
}

/// Stores `result` at `dst` (deleting `dst` when it is empty) and replies with its size.
/// Raises `event` on `dst`, or `del` when an empty result deleted an existing key.
fn store(ctx: &mut Ctx, dst: &[u8], result: Set, event: &str) {
    let n = result.len();
    let mut db = ctx.db();
    if n == 0 {
        if db.remove(dst).is_some() {
            ctx.notify(notify::GENERIC, "del", dst);
        }
    } else {
        db.set(dst, Value::Set(Box::new(result)), NO_EXPIRE);
        ctx.notify(notify::SET, event, dst);
    }
    ctx.out.int(n as i64);
}

fn sinterstore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let lim = limits(ctx);
    let mut db = ctx.db();
    let t = Taken::take(&mut db, &args[2..])?;
    let result = build(inter(&t.args(), usize::MAX).into_iter().map(|e| e.to_vec()), lim);
    t.restore(&mut db);
    store(ctx, args[1], result, "sinterstore");
    Ok(())
}

fn union_diff_cmd(ctx: &mut Ctx, keys: &[&[u8]], op: Op, dst: Option<&[u8]>) -> CmdResult {
    let event = match op {
        Op::Union => "sunionstore",
        Op::Diff => "sdiffstore",
    };
    let lim = limits(ctx);
    let mut db = ctx.db();
    let t = Taken::take(&mut db, keys)?;
    let result = union_diff(&t.args(), op, lim);
    t.restore(&mut db);
    match dst {
        Some(d) => store(ctx, d, result, event),
        None => write_members(ctx.out, &result),
    }
    Ok(())
}

fn sunion(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    union_diff_cmd(ctx, &args[1..], Op::Union, None)
}

fn sunionstore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    union_diff_cmd(ctx, &args[2..], Op::Union, Some(args[1]))
}

fn sdiff(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    union_diff_cmd(ctx, &args[1..], Op::Diff, None)
}

fn sdiffstore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    union_diff_cmd(ctx, &args[2..], Op::Diff, Some(args[1]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sintercard_key_positions() {
        let a: Vec<&[u8]> = vec![b"sintercard", b"2", b"a", b"b", b"LIMIT", b"1"];
        let sintercard = COMMANDS.iter().find(|c| c.name == "sintercard").unwrap();
        let keys = |a: &[&[u8]]| sintercard.keys.get(a).iter().map(|k| k.pos).collect::<Vec<_>>();
        assert_eq!(keys(&a), vec![2, 3]);
        assert_eq!(sintercard.key_positions(&a), vec![2, 3]);
        let a: Vec<&[u8]> = vec![b"sintercard", b"3", b"a", b"b"];
        assert!(keys(&a).is_empty());
        let a: Vec<&[u8]> = vec![b"sintercard", b"x", b"a"];
        assert!(keys(&a).is_empty());
        let a: Vec<&[u8]> = vec![b"sintercard", b"-1", b"a"];
        assert!(keys(&a).is_empty());
    }

    #[test]
    fn inter_union_diff() {
        let lim = SetLimits::default();
        let a = build([b"1".to_vec(), b"2".to_vec(), b"3".to_vec()].into_iter(), lim);
        let b = build([b"3".to_vec(), b"2".to_vec(), b"x".to_vec()].into_iter(), lim);
        let r: Vec<Vec<u8>> = inter(&[Some(&a), Some(&b)], usize::MAX).iter().map(|e| e.to_vec()).collect();
        assert_eq!(r, vec![b"2".to_vec(), b"3".to_vec()]);
        assert_eq!(inter(&[Some(&a), Some(&b)], 1).len(), 1);
        assert!(inter(&[Some(&a), None], usize::MAX).is_empty());
        let u = union_diff(&[Some(&a), None, Some(&b)], Op::Union, lim);
        assert_eq!(u.len(), 4);
        assert_eq!(u.encoding(), "listpack");
        let d = union_diff(&[Some(&a), Some(&b)], Op::Diff, lim);
        assert_eq!(d.iter().map(|e| e.to_vec()).collect::<Vec<_>>(), vec![b"1".to_vec()]);
        assert_eq!(d.encoding(), "intset");
        assert!(union_diff(&[None, Some(&a)], Op::Diff, lim).is_empty());
    }
}
