//! List commands: LPUSH, RPUSH, LPUSHX, RPUSHX, LPOP, RPOP, LLEN, LINDEX, LSET, LRANGE, LTRIM,
//! LINSERT, LREM, LPOS, LMOVE, RPOPLPUSH, LMPOP, and the blocking BLPOP, BRPOP, BLMOVE,
//! BRPOPLPUSH, BLMPOP (through `cmd::blocking`).
//!
//! Values are `types::list::List` (packed nodes, limits from `list-max-listpack-size`). As in
//! Redis, a list that becomes empty is deleted, and argument errors are reported in Redis's
//! order (some commands look the key up before parsing an index, some after).
//!
//! Keyspace events (class `l`), as Redis 7 raises them: `lpush`/`rpush` (LPUSHX/RPUSHX too),
//! `lpop`/`rpop` (LMPOP and the blocking pops too, also when a waiter is served: the command is
//! re-run on its behalf), `lset`, `linsert`, `lrem`, `ltrim` (even when nothing is trimmed),
//! then `del` when the list was emptied. LMOVE/RPOPLPUSH raise the destination's push first,
//! then the source's pop and `del`. No-ops (nothing popped, removed or inserted) raise nothing.
//!
//! Differences from Redis: the switch between the `listpack` and `quicklist` encodings is
//! computed on this implementation's node sizes, so it can happen a few elements away from
//! Redis's threshold. Redis 7.2 behaviours that differ from the 7.0 oracle are followed (LPOS
//! RANK bounds, blocking timeouts too large for 64-bit milliseconds).

use super::args::{self, Cursor};
use super::blocking::{self, NullReply};
use super::keys::{getkeys_numkeys, getkeys_timeout_numkeys};
use super::lookup::get;
use super::{acl, flags::*, key, key_num, key_range, ks, CmdError, CmdResult, CommandSpec, Ctx};
use crate::db::value::{Value, NO_EXPIRE};
use crate::db::Db;
use crate::notify;
use crate::types::list::{Fill, List};

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("lpush", -3, WRITE | DENYOOM | FAST, acl::LIST, key(1, ks::RW | ks::INSERT), lpush).doc(
        "list",
        "1.0.0",
        "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
        "Prepends one or more elements to a list. Creates the key if it doesn't exist.",
    ),
    CommandSpec::new("rpush", -3, WRITE | DENYOOM | FAST, acl::LIST, key(1, ks::RW | ks::INSERT), rpush).doc(
        "list",
        "1.0.0",
        "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
        "Appends one or more elements to a list. Creates the key if it doesn't exist.",
    ),
    CommandSpec::new("lpushx", -3, WRITE | DENYOOM | FAST, acl::LIST, key(1, ks::RW | ks::INSERT), lpushx).doc(
        "list",
        "2.2.0",
        "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
        "Prepends one or more elements to a list only when the list exists.",
    ),
    CommandSpec::new("rpushx", -3, WRITE | DENYOOM | FAST, acl::LIST, key(1, ks::RW | ks::INSERT), rpushx).doc(
        "list",
        "2.2.0",
        "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
        "Appends an element to a list only when the list exists.",
    ),
    CommandSpec::new("lpop", -2, WRITE | FAST, acl::LIST, key(1, ks::RW | ks::ACCESS | ks::DELETE), lpop).doc(
        "list",
        "1.0.0",
        "O(N) where N is the number of elements returned",
        "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.",
    ),
    CommandSpec::new("rpop", -2, WRITE | FAST, acl::LIST, key(1, ks::RW | ks::ACCESS | ks::DELETE), rpop).doc(
        "list",
        "1.0.0",
        "O(N) where N is the number of elements returned",
        "Returns and removes the last elements of the list. Deletes the list if the last element was popped.",
    ),
    CommandSpec::new("llen", 2, READONLY | FAST, acl::LIST, key(1, ks::RO), llen).doc(
        "list",
        "1.0.0",
        "O(1)",
        "Returns the length of a list.",
    ),
    CommandSpec::new("lindex", 3, READONLY, acl::LIST, key(1, ks::RO | ks::ACCESS), lindex).doc(
        "list",
        "1.0.0",
        "O(N) where N is the number of elements to traverse to get to the element at index. This makes asking for the first or the last element of the list O(1).",
        "Returns an element from a list by its index.",
    ),
    CommandSpec::new("lset", 4, WRITE | DENYOOM, acl::LIST, key(1, ks::RW | ks::UPDATE), lset).doc(
        "list",
        "1.0.0",
        "O(N) where N is the length of the list. Setting either the first or the last element of the list is O(1).",
        "Sets the value of an element in a list by its index.",
    ),
    CommandSpec::new("lrange", 4, READONLY, acl::LIST, key(1, ks::RO | ks::ACCESS), lrange).doc(
        "list",
        "1.0.0",
        "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range.",
        "Returns a range of elements from a list.",
    ),
    CommandSpec::new("ltrim", 4, WRITE, acl::LIST, key(1, ks::RW | ks::DELETE), ltrim).doc(
        "list",
        "1.0.0",
        "O(N) where N is the number of elements to be removed by the operation.",
        "Removes elements from both ends a list. Deletes the list if all elements were trimmed.",
    ),
    CommandSpec::new("linsert", 5, WRITE | DENYOOM, acl::LIST, key(1, ks::RW | ks::INSERT), linsert).doc(
        "list",
        "2.2.0",
        "O(N) where N is the number of elements to traverse before seeing the value pivot. This means that inserting somewhere on the left end on the list (head) can be considered O(1) and inserting somewhere on the right end (tail) is O(N).",
        "Inserts an element before or after another element in a list.",
    ),
    CommandSpec::new("lrem", 4, WRITE, acl::LIST, key(1, ks::RW | ks::DELETE), lrem).doc(
        "list",
        "1.0.0",
        "O(N+M) where N is the length of the list and M is the number of elements removed.",
        "Removes elements from a list. Deletes the list if the last element was removed.",
    ),
    CommandSpec::new("lpos", -3, READONLY, acl::LIST, key(1, ks::RO | ks::ACCESS), lpos).doc(
        "list",
        "6.0.6",
        "O(N) where N is the number of elements in the list, for the average case. When searching for elements near the head or the tail of the list, or when the MAXLEN option is provided, the command may run in constant time.",
        "Returns the index of matching elements in a list.",
    ),
    CommandSpec::new("lmove", 5, WRITE | DENYOOM, acl::LIST, key(1, ks::RW | ks::ACCESS | ks::DELETE).and(key(2, ks::RW | ks::INSERT)), lmove).doc(
        "list",
        "6.2.0",
        "O(1)",
        "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.",
    ),
    CommandSpec::new("rpoplpush", 3, WRITE | DENYOOM, acl::LIST, key(1, ks::RW | ks::ACCESS | ks::DELETE).and(key(2, ks::RW | ks::INSERT)), rpoplpush).doc(
        "list",
        "1.2.0",
        "O(1)",
        "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.",
    ),
    CommandSpec::new("lmpop", -4, WRITE, acl::LIST, key_num(1, ks::RW | ks::ACCESS | ks::DELETE).getkeys(getkeys_numkeys), lmpop).doc(
        "list",
        "7.0.0",
        "O(N+M) where N is the number of provided keys and M is the number of elements returned.",
        "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.",
    ),
    CommandSpec::new("blpop", -3, WRITE | BLOCKING, acl::LIST, key_range(1, -2, 1, ks::RW | ks::ACCESS | ks::DELETE), blpop).doc(
        "list",
        "2.0.0",
        "O(N) where N is the number of provided keys.",
        "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
    ),
    CommandSpec::new("brpop", -3, WRITE | BLOCKING, acl::LIST, key_range(1, -2, 1, ks::RW | ks::ACCESS | ks::DELETE), brpop).doc(
        "list",
        "2.0.0",
        "O(N) where N is the number of provided keys.",
        "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
    ),
    CommandSpec::new("blmove", 6, WRITE | DENYOOM | BLOCKING, acl::LIST, key(1, ks::RW | ks::ACCESS | ks::DELETE).and(key(2, ks::RW | ks::INSERT)), blmove).doc(
        "list",
        "6.2.0",
        "O(1)",
        "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.",
    ),
    CommandSpec::new("brpoplpush", 4, WRITE | DENYOOM | BLOCKING, acl::LIST, key(1, ks::RW | ks::ACCESS | ks::DELETE).and(key(2, ks::RW | ks::INSERT)), brpoplpush).doc(
        "list",
        "2.2.0",
        "O(1)",
        "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.",
    ),
    CommandSpec::new("blmpop", -5, WRITE | BLOCKING, acl::LIST, key_num(2, ks::RW | ks::ACCESS | ks::DELETE).getkeys(getkeys_timeout_numkeys), blmpop).doc(
        "list",
        "7.0.0",
        "O(N+M) where N is the number of provided keys and M is the number of elements returned.",
        "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
    ),
];

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn fill(ctx: &Ctx) -> Fill {
    Fill::from_config(ctx.server.config.read().list_max_listpack_size)
}

/// After a change to the list at `key`: deletes it when empty (returning true), or marks it
/// modified.
fn settle(db: &mut Db, key: &[u8]) -> bool {
    if db.get(key).is_some_and(|e| matches!(&e.value, Value::List(l) if l.is_empty())) {
        db.remove(key);
        true
    } else {
        db.touch(key);
        false
    }
}

/// The event of a push to one end.
fn push_event(left: bool) -> &'static str {
    if left {
        "lpush"
    } else {
        "rpush"
    }
}

/// The events of a pop from one end of `key`: `lpop`/`rpop`, then `del` if it emptied the list.
fn pop_events(ctx: &mut Ctx, key: &[u8], left: bool, deleted: bool) {
    ctx.notify(notify::LIST, if left { "lpop" } else { "rpop" }, key);
    if deleted {
        ctx.notify(notify::GENERIC, "del", key);
    }
}

/// Pushes `vals` to `key` (creating it unless `only_existing`), returning the new length or
/// `None` if the key was missing and `only_existing`. Type-checked before any change.
fn push_to(
    db: &mut Db,
    key: &[u8],
    vals: &[&[u8]],
    left: bool,
    only_existing: bool,
    fill: Fill,
) -> Result<Option<usize>, CmdError> {
    let push = |l: &mut List| {
        for v in vals {
            if left {
                l.push_front(v, fill);
            } else {
                l.push_back(v, fill);
            }
        }
        l.len()
    };
    match get::<List>(db, key)? {
        Some(l) => {
            let n = push(l);
            db.touch(key);
            blocking::signal_ready(db, key);
            Ok(Some(n))
        }
        None if only_existing => Ok(None),
        None => {
            let mut l = List::new();
            let n = push(&mut l);
            db.set(key, Value::List(Box::new(l)), NO_EXPIRE);
            Ok(Some(n))
        }
    }
}

/// LEFT | RIGHT, true for LEFT.
fn parse_where(arg: &[u8]) -> Result<bool, CmdError> {
    if args::is(arg, "left") {
        Ok(true)
    } else if args::is(arg, "right") {
        Ok(false)
    } else {
        Err(CmdError::Syntax)
    }
}

/// Redis's `getPositiveLongFromObjectOrReply` with a custom message for both failures.
fn positive(arg: &[u8], msg: &'static str) -> Result<i64, CmdError> {
    match resp::parse_i64(arg) {
        Some(n) if n >= 0 => Ok(n),
        _ => Err(CmdError::msg(msg)),
    }
}

/// Pops up to `count` elements from one end of the list at `key` (which must exist); also
/// returns whether the list was emptied (and deleted).
fn pop_n(db: &mut Db, key: &[u8], left: bool, count: usize, fill: Fill) -> (Vec<Vec<u8>>, bool) {
    let mut out = Vec::new();
    if let Ok(Some(l)) = get::<List>(db, key) {
        let n = count.min(l.len());
        out.reserve(n);
        for _ in 0..n {
            let v = if left { l.pop_front(fill) } else { l.pop_back(fill) };
            out.extend(v);
        }
    }
    let deleted = settle(db, key);
    (out, deleted)
}

// ---------------------------------------------------------------------------------------------
// Push / pop
// ---------------------------------------------------------------------------------------------

fn push_cmd(ctx: &mut Ctx, args: &[&[u8]], left: bool, only_existing: bool) -> CmdResult {
    let fill = fill(ctx);
    let n = push_to(&mut ctx.db(), args[1], &args[2..], left, only_existing, fill)?;
    if n.is_some() {
        // LPUSHX/RPUSHX raise the same events as LPUSH/RPUSH.
        ctx.notify(notify::LIST, push_event(left), args[1]);
    }
    ctx.out.int(n.unwrap_or(0) as i64);
    Ok(())
}

fn lpush(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    push_cmd(ctx, args, true, false)
}

fn rpush(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    push_cmd(ctx, args, false, false)
}

fn lpushx(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    push_cmd(ctx, args, true, true)
}

fn rpushx(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    push_cmd(ctx, args, false, true)
}

fn pop_cmd(ctx: &mut Ctx, args: &[&[u8]], left: bool) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::WrongArity(if left { "lpop" } else { "rpop" }.into()));
    }
    let count = match args.get(2) {
        Some(a) => Some(positive(a, "ERR value is out of range, must be positive")? as usize),
        None => None,
    };
    let fill = fill(ctx);
    let key = args[1];
    let (mut db, out) = ctx.db_out();
    if get::<List>(&mut db, key)?.is_none() {
        match count {
            Some(_) => out.null_array(),
            None => out.null(),
        }
        ctx.propagate_nothing();
        return Ok(());
    }
    let deleted = match count {
        None => {
            let (v, deleted) = pop_n(&mut db, key, left, 1, fill);
            out.bulk(&v[0]);
            deleted
        }
        // A count of 0 pops nothing and raises nothing.
        Some(0) => {
            out.array(0);
            ctx.propagate_nothing();
            return Ok(());
        }
        Some(n) => {
            let (vals, deleted) = pop_n(&mut db, key, left, n, fill);
            out.array(vals.len());
            for v in &vals {
                out.bulk(v);
            }
            deleted
        }
    };
    pop_events(ctx, key, left, deleted);
    Ok(())
}

fn lpop(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    pop_cmd(ctx, args, true)
}

fn rpop(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    pop_cmd(ctx, args, false)
}

// ---------------------------------------------------------------------------------------------
// Reads and in-place edits
// ---------------------------------------------------------------------------------------------

fn llen(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let n = get::<List>(&mut ctx.db(), args[1])?.map_or(0, |l| l.len());
    ctx.out.int(n as i64);
    Ok(())
}

/// A Redis index (negative counts from the tail) resolved against `len`.
fn resolve_index(i: i64, len: usize) -> Option<usize> {
    let i = if i < 0 { len as i64 + i } else { i };
    (i >= 0 && (i as u64) < len as u64).then_some(i as usize)
}

fn lindex(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (mut db, out) = ctx.db_out();
    let Some(l) = get::<List>(&mut db, args[1])? else {
        out.null();
        return Ok(());
    };
    let i = args::int(args[2])?;
    match resolve_index(i, l.len()).and_then(|i| l.get(i)) {
        Some(v) => out.bulk(v),
        None => out.null(),
    }
    Ok(())
}

fn lset(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let fill = fill(ctx);
    let mut db = ctx.db();
    let Some(l) = get::<List>(&mut db, args[1])? else { return Err(CmdError::NoSuchKey) };
    let i = args::int(args[2])?;
    let Some(i) = resolve_index(i, l.len()) else { return Err(CmdError::msg("ERR index out of range")) };
    l.set(i, args[3], fill);
    db.touch(args[1]);
    ctx.notify(notify::LIST, "lset", args[1]);
    ctx.out.ok();
    Ok(())
}

/// Redis's LRANGE/LTRIM range normalisation: `Some((start, end))` inclusive, or `None` when
/// the range is empty.
fn normalize_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut s = if start < 0 { len + start } else { start };
    let mut e = if end < 0 { len + end } else { end };
    if s < 0 {
        s = 0;
    }
    if s > e || s >= len {
        return None;
    }
    if e >= len {
        e = len - 1;
    }
    Some((s as usize, e as usize))
}

fn lrange(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let start = args::int(args[2])?;
    let end = args::int(args[3])?;
    let (mut db, out) = ctx.db_out();
    let Some(l) = get::<List>(&mut db, args[1])? else {
        out.array(0);
        return Ok(());
    };
    match normalize_range(start, end, l.len()) {
        None => out.array(0),
        Some((s, e)) => {
            out.array(e - s + 1);
            for v in l.iter_from(s).take(e - s + 1) {
                out.bulk(v);
            }
        }
    }
    Ok(())
}

fn ltrim(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let start = args::int(args[2])?;
    let end = args::int(args[3])?;
    let fill = fill(ctx);
    let key = args[1];
    let mut db = ctx.db();
    let Some(l) = get::<List>(&mut db, key)? else {
        ctx.out.ok();
        return Ok(());
    };
    let len = l.len();
    match normalize_range(start, end, len) {
        None => l.drop_front(len, fill),
        Some((s, e)) => {
            l.drop_back(len - 1 - e, fill);
            l.drop_front(s, fill);
        }
    }
    // Redis raises `ltrim` even when the range keeps every element.
    let deleted = settle(&mut db, key);
    ctx.notify(notify::LIST, "ltrim", key);
    if deleted {
        ctx.notify(notify::GENERIC, "del", key);
    }
    ctx.out.ok();
    Ok(())
}

fn linsert(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let after = if args::is(args[2], "after") {
        true
    } else if args::is(args[2], "before") {
        false
    } else {
        return Err(CmdError::Syntax);
    };
    let fill = fill(ctx);
    let key = args[1];
    let mut db = ctx.db();
    let Some(l) = get::<List>(&mut db, key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let Some(pos) = l.iter().position(|v| v == args[3]) else {
        ctx.out.int(-1);
        return Ok(());
    };
    l.insert(pos + after as usize, args[4], fill);
    let n = l.len();
    db.touch(key);
    ctx.notify(notify::LIST, "linsert", key);
    ctx.out.int(n as i64);
    Ok(())
}

fn lrem(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let count = args::int(args[2])?;
    let fill = fill(ctx);
    let key = args[1];
    let mut db = ctx.db();
    let Some(l) = get::<List>(&mut db, key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let limit = count.unsigned_abs().min(usize::MAX as u64) as usize;
    let removed = l.remove_matching(args[3], limit, count < 0, fill);
    if removed > 0 {
        let deleted = settle(&mut db, key);
        ctx.notify(notify::LIST, "lrem", key);
        if deleted {
            ctx.notify(notify::GENERIC, "del", key);
        }
    }
    ctx.out.int(removed as i64);
    Ok(())
}

fn lpos(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (mut rank, mut count, mut maxlen) = (1i64, None::<usize>, 0usize);
    let mut c = Cursor::new(args, 3);
    while !c.is_empty() {
        if let Some(r) = c.int_of("rank")? {
            rank = r;
            if rank == i64::MIN {
                // Redis 7.2 bounds RANK to ±LONG_MAX (7.0 accepted LONG_MIN and overflowed).
                return Err(CmdError::msg(
                    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
                ));
            }
            if rank == 0 {
                return Err(CmdError::msg(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                ));
            }
        } else if let Some(n) = c.value_of("count") {
            count = Some(positive(n, "ERR COUNT can't be negative")? as usize);
        } else if let Some(n) = c.value_of("maxlen") {
            maxlen = positive(n, "ERR MAXLEN can't be negative")? as usize;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let (mut db, out) = ctx.db_out();
    let Some(l) = get::<List>(&mut db, args[1])? else {
        match count {
            Some(_) => out.array(0),
            None => out.null(),
        }
        return Ok(());
    };
    let elem = args[2];
    let len = l.len();
    let want = match count {
        Some(0) => usize::MAX,
        Some(n) => n,
        None => 1,
    };
    let scan = if maxlen == 0 { len } else { maxlen.min(len) };
    let mut skip = rank.unsigned_abs() - 1;
    let mut found = Vec::new();
    let mut visit = |i: usize, v: &[u8]| {
        if v == elem {
            if skip > 0 {
                skip -= 1;
            } else {
                found.push(i);
            }
        }
        found.len() >= want
    };
    if rank > 0 {
        for (i, v) in l.iter().take(scan).enumerate() {
            if visit(i, v) {
                break;
            }
        }
    } else {
        for (k, v) in l.iter_rev().take(scan).enumerate() {
            if visit(len - 1 - k, v) {
                break;
            }
        }
    }
    match count {
        Some(_) => {
            out.array(found.len());
            for i in found {
                out.int(i as i64);
            }
        }
        None => match found.first() {
            Some(&i) => out.int(i as i64),
            None => out.null(),
        },
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Moves and multi-key pops
// ---------------------------------------------------------------------------------------------

/// LMOVE's work: `Ok(None)` when the source is missing. WRONGTYPE on either key before any change.
/// Events in Redis's order: the push on the destination (after its `new`), then the pop on the
/// source, then `del` if the source was emptied (never when source and destination are one).
fn do_move(ctx: &mut Ctx, src: &[u8], dst: &[u8], from_left: bool, to_left: bool) -> Result<Option<Vec<u8>>, CmdError> {
    let fill = fill(ctx);
    let mut db = ctx.db();
    if get::<List>(&mut db, src)?.is_none() {
        return Ok(None);
    }
    get::<List>(&mut db, dst)?;
    let l = get::<List>(&mut db, src)?.expect("checked above");
    let v = if from_left { l.pop_front(fill) } else { l.pop_back(fill) }.expect("lists are never empty");
    let deleted = if src == dst {
        if to_left {
            l.push_front(&v, fill);
        } else {
            l.push_back(&v, fill);
        }
        db.touch(src);
        false
    } else {
        // The source is deleted (quietly: `del` is raised after the push) before the
        // destination is created, as the destination's `new` precedes its push event.
        let deleted = settle(&mut db, src);
        push_to(&mut db, dst, &[&v], to_left, false, fill)?;
        deleted
    };
    ctx.notify(notify::LIST, push_event(to_left), dst);
    pop_events(ctx, src, from_left, deleted);
    Ok(Some(v))
}

fn lmove(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let from = parse_where(args[3])?;
    let to = parse_where(args[4])?;
    match do_move(ctx, args[1], args[2], from, to)? {
        Some(v) => ctx.out.bulk(&v),
        None => {
            ctx.out.null();
            ctx.propagate_nothing();
        }
    }
    Ok(())
}

fn rpoplpush(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    match do_move(ctx, args[1], args[2], false, true)? {
        Some(v) => ctx.out.bulk(&v),
        None => {
            ctx.out.null();
            ctx.propagate_nothing();
        }
    }
    Ok(())
}

/// Parsed `numkeys key... LEFT|RIGHT [COUNT n]` starting at `at`: (keys, left, count).
fn parse_mpop<'a>(args: &[&'a [u8]], at: usize) -> Result<(Vec<&'a [u8]>, bool, usize), CmdError> {
    let numkeys = match resp::parse_i64(args[at]) {
        Some(n) if n > 0 => n as u64,
        _ => return Err(CmdError::msg("ERR numkeys should be greater than 0")),
    };
    let where_idx = at as u64 + numkeys + 1;
    if where_idx >= args.len() as u64 {
        return Err(CmdError::Syntax);
    }
    let where_idx = where_idx as usize;
    let left = parse_where(args[where_idx])?;
    let mut count = None;
    let mut c = Cursor::new(args, where_idx + 1);
    while !c.is_empty() {
        if count.is_none() && c.keyword_with("count", 1) {
            count = match c.next().and_then(resp::parse_i64) {
                Some(n) if n > 0 => Some(n as usize),
                _ => return Err(CmdError::msg("ERR count should be greater than 0")),
            };
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok((args[at + 1..where_idx].to_vec(), left, count.unwrap_or(1)))
}

/// Pops from the first non-empty list of `keys`, replying `[key, [elements]]`; false if all
/// are missing. WRONGTYPE stops at the first key of another type, as Redis.
fn mpop_first(ctx: &mut Ctx, keys: &[&[u8]], left: bool, count: usize) -> Result<bool, CmdError> {
    let fill = fill(ctx);
    let (mut db, out) = ctx.db_out();
    for &key in keys {
        if get::<List>(&mut db, key)?.is_some() {
            let (vals, deleted) = pop_n(&mut db, key, left, count, fill);
            out.array(2);
            out.bulk(key);
            out.array(vals.len());
            for v in &vals {
                out.bulk(v);
            }
            // LMPOP and BLMPOP propagate as the pop they did: `LPOP|RPOP key <n popped>`.
            let mut b = itoa::Buffer::new();
            let n = b.format(vals.len());
            ctx.propagate(&[if left { &b"LPOP"[..] } else { b"RPOP" }, key, n.as_bytes()]);
            pop_events(ctx, key, left, deleted);
            return Ok(true);
        }
    }
    Ok(false)
}

fn lmpop(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (keys, left, count) = parse_mpop(args, 1)?;
    if !mpop_first(ctx, &keys, left, count)? {
        ctx.out.null_array();
        ctx.propagate_nothing();
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Blocking variants
// ---------------------------------------------------------------------------------------------

fn bpop(ctx: &mut Ctx, args: &[&[u8]], left: bool) -> CmdResult {
    let deadline = blocking::parse_timeout(args[args.len() - 1], ctx.now)?;
    let keys = &args[1..args.len() - 1];
    let fill = fill(ctx);
    let (mut db, out) = ctx.db_out();
    for &key in keys {
        if get::<List>(&mut db, key)?.is_some() {
            let (v, deleted) = pop_n(&mut db, key, left, 1, fill);
            out.array(2);
            out.bulk(key);
            out.bulk(&v[0]);
            // Served: propagated as the non-blocking pop (Redis's form).
            ctx.propagate(&[if left { &b"LPOP"[..] } else { b"RPOP" }, key]);
            pop_events(ctx, key, left, deleted);
            return Ok(());
        }
    }
    blocking::block(ctx, keys, deadline, "list", args, NullReply::Array)
}

fn blpop(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    bpop(ctx, args, true)
}

fn brpop(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    bpop(ctx, args, false)
}

fn bmove(ctx: &mut Ctx, args: &[&[u8]], timeout: &[u8], from: bool, to: bool) -> CmdResult {
    let deadline = blocking::parse_timeout(timeout, ctx.now)?;
    match do_move(ctx, args[1], args[2], from, to)? {
        Some(v) => {
            ctx.out.bulk(&v);
            // Served: BLMOVE propagates as LMOVE, BRPOPLPUSH as RPOPLPUSH.
            if args.len() == 6 {
                ctx.propagate(&[&b"LMOVE"[..], args[1], args[2], args[3], args[4]]);
            } else {
                ctx.propagate(&[&b"RPOPLPUSH"[..], args[1], args[2]]);
            }
            Ok(())
        }
        None => blocking::block(ctx, &args[1..2], deadline, "list", args, NullReply::Bulk),
    }
}

fn blmove(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let from = parse_where(args[3])?;
    let to = parse_where(args[4])?;
    bmove(ctx, args, args[5], from, to)
}

fn brpoplpush(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    bmove(ctx, args, args[3], false, true)
}

fn blmpop(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (keys, left, count) = parse_mpop(args, 2)?;
    let deadline = blocking::parse_timeout(args[1], ctx.now)?;
    if mpop_first(ctx, &keys, left, count)? {
        return Ok(());
    }
    blocking::block(ctx, &keys, deadline, "list", args, NullReply::Array)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_like_redis() {
        assert_eq!(normalize_range(0, -1, 3), Some((0, 2)));
        assert_eq!(normalize_range(-100, 100, 3), Some((0, 2)));
        assert_eq!(normalize_range(2, 1, 3), None);
        assert_eq!(normalize_range(3, 5, 3), None);
        assert_eq!(normalize_range(i64::MIN, i64::MAX, 3), Some((0, 2)));
        assert_eq!(resolve_index(-1, 3), Some(2));
        assert_eq!(resolve_index(-4, 3), None);
        assert_eq!(resolve_index(i64::MIN, 3), None);
    }

    #[test]
    fn numkeys_keys_never_overrun() {
        let lmpop = COMMANDS.iter().find(|c| c.name == "lmpop").unwrap();
        let a: Vec<&[u8]> = vec![b"lmpop", b"2", b"a", b"b", b"left"];
        assert_eq!(lmpop.key_positions(&a), vec![2, 3]);
        assert_eq!(lmpop.keys.get(&a).iter().map(|k| k.pos).collect::<Vec<_>>(), vec![2, 3]);
        let bad: Vec<&[u8]> = vec![b"lmpop", b"9", b"a", b"left"];
        assert!(lmpop.key_positions(&bad).iter().all(|&p| p < bad.len()));
        assert!(lmpop.keys.get(&bad).is_empty());
        let big: Vec<&[u8]> = vec![b"lmpop", b"99999999999999999999", b"a", b"left"];
        assert!(lmpop.key_positions(&big).is_empty());
        assert!(lmpop.keys.get(&big).is_empty());
    }
}
