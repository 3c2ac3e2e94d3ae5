//! Consumer groups and their pending entries lists: XACK, XPENDING, XCLAIM, XAUTOCLAIM and
//! XGROUP (CREATE, SETID, DESTROY, CREATECONSUMER, DELCONSUMER, HELP).

use super::{
    bad_sub, nogroup_for_key, parse_id, range_end, range_start, setid_prop, write_entry, write_id, xclaim_prop,
};
use crate::cmd::args::{self, Cursor};
use crate::cmd::lookup::get;
use crate::cmd::{blocking, CmdError, CmdResult, Ctx};
use crate::db::value::{Value, NO_EXPIRE};
use crate::notify;
use crate::types::stream::{Group, Stream, StreamId, ENTRIES_READ_UNKNOWN};

const NO_KEY_XGROUP: &str = "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.";

fn nogroup(key: &[u8], group: &[u8]) -> CmdError {
    CmdError::msg(format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        String::from_utf8_lossy(key),
        String::from_utf8_lossy(group)
    ))
}

// ---------------------------------------------------------------------------------------------
// XACK, XPENDING, XCLAIM, XAUTOCLAIM
// ---------------------------------------------------------------------------------------------

pub(super) fn xack(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut db = ctx.db();
    let mut n = 0;
    // As Redis: the key's type first, then a missing key or group acks nothing (0, whatever
    // the IDs are), and only then the IDs are parsed (all before any is acknowledged).
    if let Some(g) = get::<Stream>(&mut db, args[1])?.and_then(|s| s.groups.get_mut(args[2])) {
        let ids = args[3..].iter().map(|a| parse_id(a, true, 0)).collect::<Result<Vec<_>, _>>()?;
        for id in ids {
            n += g.ack(id) as i64;
        }
    }
    if n > 0 {
        db.touch(args[1]);
    } else {
        ctx.propagate_nothing();
    }
    ctx.out.int(n);
    Ok(())
}

/// XPENDING's extended form: min idle, start, end, count, consumer.
type PendingRange<'a> = (u64, StreamId, StreamId, usize, Option<&'a [u8]>);

pub(super) fn xpending(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let argc = args.len();
    let mut ext: Option<PendingRange> = None;
    if argc >= 6 {
        let mut at = 3;
        let mut min_idle = 0i64;
        if args::is(args[3], "idle") {
            if argc < 8 {
                return Err(CmdError::Syntax);
            }
            min_idle = args::int(args[4])?;
            at += 2;
        }
        if argc > 9 {
            return Err(CmdError::Syntax);
        }
        let start = range_start(args[at])?;
        let end = range_end(args[at + 1])?;
        let count = args::int(args[at + 2])?.max(0) as usize;
        let consumer = args.get(at + 3).copied();
        ext = Some((min_idle.max(0) as u64, start, end, count, consumer));
    } else if argc != 3 {
        return Err(CmdError::Syntax);
    }
    let now = ctx.now;
    let (mut db, out) = ctx.db_out();
    let s = get::<Stream>(&mut db, args[1])?;
    let Some(g) = s.and_then(|s| s.groups.get(args[2])) else { return Err(nogroup(args[1], args[2])) };
    match ext {
        None => {
            if g.pel.is_empty() {
                out.array(4);
                out.int(0);
                out.null();
                out.null();
                out.null_array();
                return Ok(());
            }
            out.array(4);
            out.int(g.pel.len() as i64);
            write_id(out, *g.pel.keys().next().unwrap());
            write_id(out, *g.pel.keys().next_back().unwrap());
            let cs: Vec<_> = g.consumers.iter().filter(|(_, c)| !c.pel.is_empty()).collect();
            out.array(cs.len());
            for (name, c) in cs {
                out.array(2);
                out.bulk(name);
                out.bulk_int(c.pel.len() as i64);
            }
        }
        Some((min_idle, start, end, count, consumer)) => {
            let mut rows = Vec::new();
            if start <= end && count > 0 {
                let ids: Box<dyn Iterator<Item = StreamId>> = match consumer {
                    Some(c) => match g.consumers.get(c) {
                        Some(c) => Box::new(c.pel.range(start..=end).copied()),
                        None => Box::new(std::iter::empty()),
                    },
                    None => Box::new(g.pel.range(start..=end).map(|(k, _)| *k)),
                };
                for id in ids {
                    let p = &g.pel[&id];
                    let idle = now as i64 - p.delivery_time as i64;
                    if min_idle > 0 && idle < min_idle as i64 {
                        continue;
                    }
                    rows.push((id, p, idle));
                    if rows.len() >= count {
                        break;
                    }
                }
            }
            out.array(rows.len());
            for (id, p, idle) in rows {
                out.array(4);
                write_id(out, id);
                out.bulk(&p.consumer);
                out.int(idle);
                out.int(p.delivery_count as i64);
            }
        }
    }
    Ok(())
}

pub(super) fn xclaim(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (key, gname, cname) = (args[1], args[2], args[3]);
    let now = ctx.now;
    {
        let mut db = ctx.db();
        let s = get::<Stream>(&mut db, key)?;
        if !s.map(|s| s.groups.contains_key(gname)).unwrap_or(false) {
            return Err(nogroup(key, gname));
        }
    }
    let min_idle =
        resp::parse_i64(args[4]).ok_or_else(|| CmdError::msg("ERR Invalid min-idle-time argument for XCLAIM"))?.max(0);
    let mut ids = Vec::new();
    let mut c = Cursor::new(args, 5);
    while let Some(Ok(id)) = c.peek().map(|a| parse_id(a, true, 0)) {
        ids.push(id);
        c.next();
    }
    let mut delivery_time: Option<i64> = None;
    let mut retrycount: Option<i64> = None;
    let mut force = false;
    let mut justid = false;
    let mut lastid: Option<StreamId> = None;
    let number = |v: &[u8], option: &str| {
        resp::parse_i64(v).ok_or_else(|| CmdError::msg(format!("ERR Invalid {option} option argument for XCLAIM")))
    };
    while let Some(a) = c.peek() {
        if c.keyword("force") {
            force = true;
        } else if c.keyword("justid") {
            justid = true;
        } else if let Some(v) = c.value_of("idle") {
            delivery_time = Some(now as i64 - number(v, "IDLE")?);
        } else if let Some(v) = c.value_of("time") {
            delivery_time = Some(number(v, "TIME")?);
        } else if let Some(v) = c.value_of("retrycount") {
            retrycount = Some(number(v, "RETRYCOUNT")?);
        } else if let Some(v) = c.value_of("lastid") {
            lastid = Some(parse_id(v, true, 0)?);
        } else {
            return Err(CmdError::msg(format!("ERR Unrecognized XCLAIM option '{}'", String::from_utf8_lossy(a))));
        }
    }
    let dtime = match delivery_time {
        Some(t) if t >= 0 && t <= now as i64 => t as u64,
        _ => now,
    };
    // Propagated as Redis does: one XCLAIM in its full form per claimed entry (and per
    // deleted entry dropped from the PEL, with its old owner), or the group's new last ID.
    let propagating = ctx.propagating();
    let mut props: Vec<Vec<Vec<u8>>> = Vec::new();
    let (mut db, out) = ctx.db_out();
    let s = get::<Stream>(&mut db, key)?;
    let Some(s) = s.filter(|s| s.groups.contains_key(gname)) else { return Err(nogroup(key, gname)) };
    let (entries, groups) = s.split_groups();
    let g = groups.get_mut(gname).unwrap();
    let mut moved_last = false;
    if let Some(l) = lastid {
        if l > g.last_id {
            g.last_id = l;
            moved_last = true;
        }
    }
    let (c, new_consumer) = g.consumer(cname, now);
    c.seen_time = now;
    let mut claimed: Vec<StreamId> = Vec::new();
    for id in ids {
        let exists = entries.contains(id);
        if let std::collections::btree_map::Entry::Vacant(v) = g.pel.entry(id) {
            if !(force && exists) {
                continue;
            }
            // FORCE: a PEL entry for an existing entry nobody was delivered.
            v.insert(crate::types::stream::Pending { consumer: cname.into(), delivery_time: now, delivery_count: 0 });
            g.consumers.get_mut(cname).unwrap().pel.insert(id);
        }
        if !exists {
            if propagating {
                let p = &g.pel[&id];
                props.push(xclaim_prop(key, gname, &p.consumer, id, p.delivery_time, p.delivery_count, g.last_id));
            }
            g.ack(id);
            continue;
        }
        let p = &g.pel[&id];
        if min_idle > 0 && (now as i64 - p.delivery_time as i64) < min_idle {
            continue;
        }
        g.deliver(id, cname, dtime, false);
        let p = g.pel.get_mut(&id).unwrap();
        match retrycount {
            Some(r) => p.delivery_count = r as u64,
            None if !justid => p.delivery_count += 1,
            None => {}
        }
        if propagating {
            props.push(xclaim_prop(key, gname, cname, id, p.delivery_time, p.delivery_count, g.last_id));
        }
        claimed.push(id);
    }
    if !claimed.is_empty() {
        g.consumers.get_mut(cname).unwrap().active_time = Some(now);
    }
    if propagating && moved_last && props.is_empty() {
        props.push(setid_prop(key, gname, g));
    }
    out.array(claimed.len());
    for id in &claimed {
        if justid {
            write_id(out, *id);
        } else {
            write_entry(out, &entries.get(*id).unwrap());
        }
    }
    db.touch(key);
    if props.is_empty() {
        ctx.propagate_nothing();
    }
    for p in &props {
        ctx.propagate(p);
    }
    if new_consumer {
        ctx.notify(notify::STREAM, "xgroup-createconsumer", key);
    }
    Ok(())
}

pub(super) fn xautoclaim(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (key, gname, cname) = (args[1], args[2], args[3]);
    let now = ctx.now;
    {
        let mut db = ctx.db();
        get::<Stream>(&mut db, key)?;
    }
    let min_idle = resp::parse_i64(args[4])
        .ok_or_else(|| CmdError::msg("ERR Invalid min-idle-time argument for XAUTOCLAIM"))?
        .max(0);
    let start = range_start(args[5])?;
    let mut count: i64 = 100;
    let mut justid = false;
    let mut c = Cursor::new(args, 6);
    while !c.is_empty() {
        if let Some(n) = c.int_of("count")? {
            if !(1..=i64::MAX / 10).contains(&n) {
                return Err(CmdError::msg("ERR COUNT must be > 0"));
            }
            count = n;
        } else if c.keyword("justid") {
            justid = true;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    // Propagated as XCLAIM's full form per claimed or deleted entry (as XCLAIM).
    let propagating = ctx.propagating();
    let mut props: Vec<Vec<Vec<u8>>> = Vec::new();
    let (mut db, out) = ctx.db_out();
    let s = get::<Stream>(&mut db, key)?;
    let Some(s) = s.filter(|s| s.groups.contains_key(gname)) else { return Err(nogroup(key, gname)) };
    let (entries, groups) = s.split_groups();
    let g = groups.get_mut(gname).unwrap();
    let (c, new_consumer) = g.consumer(cname, now);
    c.seen_time = now;
    let mut attempts = count.saturating_mul(10);
    let mut remaining = count;
    let mut claimed = Vec::new();
    let mut deleted = Vec::new();
    let mut cursor = StreamId::MIN;
    let candidates: Vec<StreamId> = g.pel.range(start..).map(|(k, _)| *k).collect();
    let mut it = candidates.into_iter().peekable();
    while attempts > 0 && remaining > 0 {
        let Some(id) = it.next() else { break };
        attempts -= 1;
        if !entries.contains(id) {
            // Deleted entries leave the PEL and count toward COUNT, as in Redis.
            if propagating {
                let p = &g.pel[&id];
                props.push(xclaim_prop(key, gname, &p.consumer, id, p.delivery_time, p.delivery_count, g.last_id));
            }
            g.ack(id);
            deleted.push(id);
            remaining -= 1;
            continue;
        }
        let p = &g.pel[&id];
        if min_idle > 0 && (now as i64 - p.delivery_time as i64) < min_idle {
            continue;
        }
        g.deliver(id, cname, now, !justid);
        if propagating {
            let p = &g.pel[&id];
            props.push(xclaim_prop(key, gname, cname, id, p.delivery_time, p.delivery_count, g.last_id));
        }
        claimed.push(id);
        remaining -= 1;
    }
    if let Some(next) = it.peek() {
        cursor = *next;
    }
    if !claimed.is_empty() {
        g.consumers.get_mut(cname).unwrap().active_time = Some(now);
    }
    out.array(3);
    write_id(out, cursor);
    out.array(claimed.len());
    for id in &claimed {
        if justid {
            write_id(out, *id);
        } else {
            write_entry(out, &entries.get(*id).unwrap());
        }
    }
    out.array(deleted.len());
    for id in deleted {
        write_id(out, id);
    }
    db.touch(key);
    if props.is_empty() {
        ctx.propagate_nothing();
    }
    for p in &props {
        ctx.propagate(p);
    }
    if new_consumer {
        ctx.notify(notify::STREAM, "xgroup-createconsumer", key);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// XGROUP
// ---------------------------------------------------------------------------------------------

const XGROUP_HELP: &[&str] = &[
    "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
    "HELP",
    "    Prints this help.",
];

pub(super) fn xgroup_help(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.out.array(XGROUP_HELP.len());
    for l in XGROUP_HELP {
        ctx.out.simple(l);
    }
    Ok(())
}

fn entries_read_arg(arg: &[u8]) -> Result<i64, CmdError> {
    let n = args::int(arg)?;
    if n < -1 {
        return Err(CmdError::msg("ERR value for ENTRIESREAD must be positive or -1"));
    }
    Ok(n)
}

pub(super) fn xgroup_create(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (key, gname) = (args[2], args[3]);
    let mut mkstream = false;
    let mut entries_read = ENTRIES_READ_UNKNOWN;
    let mut c = Cursor::new(args, 5);
    while !c.is_empty() {
        if c.keyword("mkstream") {
            mkstream = true;
        } else if let Some(n) = c.value_of("entriesread") {
            entries_read = entries_read_arg(n)?;
        } else {
            return Err(bad_sub("CREATE", "XGROUP"));
        }
    }
    let mut db = ctx.db();
    let exists = get::<Stream>(&mut db, key)?.is_some();
    if !exists && !mkstream {
        return Err(CmdError::msg(NO_KEY_XGROUP));
    }
    let id = if args[4] == b"$" { None } else { Some(parse_id(args[4], true, 0)?) };
    let s = match get::<Stream>(&mut db, key)? {
        Some(s) => s,
        None => {
            db.set(key, Value::Stream(Box::default()), NO_EXPIRE);
            get::<Stream>(&mut db, key)?.expect("just created")
        }
    };
    if s.groups.contains_key(gname) {
        return Err(CmdError::msg("BUSYGROUP Consumer Group name already exists"));
    }
    let id = id.unwrap_or(s.last_id);
    s.groups.insert(gname.into(), Group::new(id, entries_read));
    db.touch(key);
    ctx.out.ok();
    ctx.notify(notify::STREAM, "xgroup-create", key);
    Ok(())
}

/// The stream and group for XGROUP subcommands (their own error texts).
macro_rules! xgroup_target {
    ($db:expr, $key:expr, $group:expr) => {{
        let Some(s) = get::<Stream>(&mut $db, $key)? else { return Err(CmdError::msg(NO_KEY_XGROUP)) };
        if !s.groups.contains_key($group) {
            return Err(nogroup_for_key($key, $group));
        }
        s
    }};
}

pub(super) fn xgroup_setid(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (key, gname) = (args[2], args[3]);
    let mut entries_read = ENTRIES_READ_UNKNOWN;
    match args.len() {
        5 => {}
        7 if args::is(args[5], "entriesread") => entries_read = entries_read_arg(args[6])?,
        _ => return Err(bad_sub("SETID", "XGROUP")),
    }
    let mut db = ctx.db();
    let s = xgroup_target!(db, key, gname);
    // The ID is parsed once the key and group are known to exist, as Redis. Unlike CREATE,
    // SETID takes `-` and `+` (the smallest and largest IDs).
    let id = if args[4] == b"$" { s.last_id } else { parse_id(args[4], false, 0)? };
    let g = s.groups.get_mut(gname).unwrap();
    g.last_id = id;
    g.entries_read = entries_read;
    db.touch(key);
    ctx.out.ok();
    ctx.notify(notify::STREAM, "xgroup-setid", key);
    Ok(())
}

pub(super) fn xgroup_destroy(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut db = ctx.db();
    let Some(s) = get::<Stream>(&mut db, args[2])? else { return Err(CmdError::msg(NO_KEY_XGROUP)) };
    let n = s.groups.remove(args[3]).is_some();
    if n {
        db.touch(args[2]);
        // Clients blocked in XREADGROUP on this group are re-run and get NOGROUP.
        blocking::signal_ready(&mut db, args[2]);
    }
    ctx.out.int(n as i64);
    if n {
        ctx.notify(notify::STREAM, "xgroup-destroy", args[2]);
    } else {
        ctx.propagate_nothing();
    }
    Ok(())
}

pub(super) fn xgroup_createconsumer(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let mut db = ctx.db();
    let s = xgroup_target!(db, args[2], args[3]);
    let created = s.groups.get_mut(args[3]).unwrap().consumer(args[4], now).1;
    if created {
        db.touch(args[2]);
    }
    ctx.out.int(created as i64);
    if created {
        ctx.notify(notify::STREAM, "xgroup-createconsumer", args[2]);
    } else {
        ctx.propagate_nothing();
    }
    Ok(())
}

pub(super) fn xgroup_delconsumer(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut db = ctx.db();
    let s = xgroup_target!(db, args[2], args[3]);
    let n = s.groups.get_mut(args[3]).unwrap().delete_consumer(args[4]);
    if n.is_some() {
        db.touch(args[2]);
    }
    ctx.out.int(n.unwrap_or(0) as i64);
    if n.is_some() {
        ctx.notify(notify::STREAM, "xgroup-delconsumer", args[2]);
    }
    Ok(())
}
