//! Reading: XRANGE, XREVRANGE, XLEN, and XREAD/XREADGROUP (one parser and reply path for both,
//! BLOCK included; a group read also delivers into the group's PEL).

use super::{parse_id, range_end, range_start, setid_prop, write_entries, write_entry, write_id, xclaim_prop};
use crate::cmd::args::Cursor;
use crate::cmd::lookup::get;
use crate::cmd::{blocking, CmdError, CmdResult, Ctx};
use crate::notify;
use crate::types::stream::{Stream, StreamId};
use resp::Writer;

// ---------------------------------------------------------------------------------------------
// XRANGE, XREVRANGE, XLEN
// ---------------------------------------------------------------------------------------------

fn range_cmd(ctx: &mut Ctx, args: &[&[u8]], rev: bool) -> CmdResult {
    let (start, end) =
        if rev { (range_start(args[3])?, range_end(args[2])?) } else { (range_start(args[2])?, range_end(args[3])?) };
    let mut count: Option<i64> = None;
    let mut c = Cursor::new(args, 4);
    while !c.is_empty() {
        match c.int_of("count")? {
            Some(n) => count = Some(n),
            None => return Err(CmdError::Syntax),
        }
    }
    let (mut db, out) = ctx.db_out();
    let Some(s) = get::<Stream>(&mut db, args[1])? else {
        out.array(0);
        return Ok(());
    };
    let count = match count {
        Some(c) if c <= 0 => {
            out.null_array();
            return Ok(());
        }
        Some(c) => c as usize,
        None => 0,
    };
    write_entries(out, &s.range(start, end, count, rev));
    Ok(())
}

pub(super) fn xrange(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    range_cmd(ctx, args, false)
}

pub(super) fn xrevrange(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    range_cmd(ctx, args, true)
}

pub(super) fn xlen(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut db = ctx.db();
    let n = get::<Stream>(&mut db, args[1])?.map(|s| s.len()).unwrap_or(0);
    ctx.out.int(n as i64);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// XREAD, XREADGROUP
// ---------------------------------------------------------------------------------------------

enum ReadId {
    After(StreamId),
    /// `>`: entries never delivered to the group.
    New,
}

pub(super) fn xread(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    read_cmd(ctx, args, false)
}

pub(super) fn xreadgroup(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    read_cmd(ctx, args, true)
}

fn read_cmd(ctx: &mut Ctx, args: &[&[u8]], is_group: bool) -> CmdResult {
    let mut count: usize = 0;
    let mut block: Option<u64> = None;
    let mut noack = false;
    let mut group: Option<(&[u8], &[u8])> = None;
    let mut streams_at = 0;
    let mut c = Cursor::new(args, 1);
    while !c.is_empty() {
        if let Some(t) = c.value_of("block") {
            let t = resp::parse_i64(t).ok_or_else(|| CmdError::msg("ERR timeout is not an integer or out of range"))?;
            if t < 0 {
                return Err(CmdError::msg("ERR timeout is negative"));
            }
            // Absolute deadline in Unix ms, 0 = forever. Redis 7.2 rejects a deadline past
            // the 64-bit millisecond range (7.0 let it wrap).
            if t > 0 && t > i64::MAX - ctx.now as i64 {
                return Err(CmdError::msg("ERR timeout is out of range"));
            }
            block = Some(if t == 0 { 0 } else { ctx.now + t as u64 });
        } else if let Some(n) = c.int_of("count")? {
            count = n.max(0) as usize;
        } else if c.keyword_with("streams", 1) {
            streams_at = c.pos();
            if !c.remaining().is_multiple_of(2) {
                return Err(CmdError::msg(
                    "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
                ));
            }
            break;
        } else if let Some(g) = c.values_of("group", 2) {
            if !is_group {
                return Err(CmdError::msg(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            group = Some((g[0], g[1]));
        } else if c.keyword("noack") {
            if !is_group {
                return Err(CmdError::msg(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            noack = true;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    if streams_at == 0 {
        return Err(CmdError::Syntax);
    }
    if is_group && group.is_none() {
        return Err(CmdError::msg("ERR Missing GROUP option for XREADGROUP"));
    }
    let n = (args.len() - streams_at) / 2;
    let keys = &args[streams_at..streams_at + n];
    let ids_raw = &args[streams_at + n..];
    let now = ctx.now;
    let propagating = is_group && ctx.propagating();
    // What a group read propagates (as Redis): each entry delivered by a `>` read as an XCLAIM
    // that recreates its PEL entry; a NOACK read as the consumer's creation and the group's new
    // last ID. History reads propagate nothing.
    let mut props: Vec<Vec<Vec<u8>>> = Vec::new();
    let (mut db, out) = ctx.db_out();

    // Validate everything before replying.
    let mut ids = Vec::with_capacity(n);
    for (k, raw) in keys.iter().zip(ids_raw) {
        let s = get::<Stream>(&mut db, k)?;
        if let Some((g, _)) = group {
            if s.as_ref().map(|s| !s.groups.contains_key(g)).unwrap_or(true) {
                return Err(CmdError::msg(format!(
                    "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
                    String::from_utf8_lossy(k),
                    String::from_utf8_lossy(g)
                )));
            }
        }
        let id = if *raw == b"$" {
            if is_group {
                return Err(CmdError::msg("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set."));
            }
            ReadId::After(s.map(|s| s.last_id).unwrap_or_default())
        } else if *raw == b">" {
            if !is_group {
                return Err(CmdError::msg("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option."));
            }
            ReadId::New
        } else {
            ReadId::After(parse_id(raw, true, 0)?)
        };
        ids.push(id);
    }

    // Collect the replies per stream (history reads always appear, even empty).
    let mark = out.len();
    let mut items: Vec<usize> = Vec::new();
    let mut body = Writer::new(out.resp3);
    let mut changed = false;
    let mut new_consumer: Vec<&[u8]> = Vec::new();
    for (k, id) in keys.iter().zip(&ids) {
        let Some(s) = get::<Stream>(&mut db, k)? else { continue };
        match group {
            None => {
                let ReadId::After(after) = id else { unreachable!() };
                let Some(start) = after.incr() else { continue };
                let es = s.range(start, StreamId::MAX, count, false);
                if es.is_empty() {
                    continue;
                }
                pair_header(&mut body);
                body.bulk(k);
                write_entries(&mut body, &es);
                items.push(1);
            }
            Some((gname, cname)) => {
                let (entries, groups) = s.split_groups();
                let g = groups.get_mut(gname).unwrap();
                if let ReadId::New = id {
                    // As Redis: a `>` read that delivers nothing (and so may block) does not
                    // create the consumer; an existing one is still seen.
                    let start = g.last_id.incr().unwrap_or(StreamId::MAX);
                    if g.last_id == StreamId::MAX || entries.range(start, StreamId::MAX, 1, false).is_empty() {
                        if let Some(c) = g.consumers.get_mut(cname) {
                            c.seen_time = now;
                        }
                        continue;
                    }
                }
                let (c, created) = g.consumer(cname, now);
                c.seen_time = now;
                if created {
                    new_consumer.push(*k);
                }
                match id {
                    ReadId::New => {
                        let es = entries.range(g.last_id.incr().unwrap_or(StreamId::MAX), StreamId::MAX, count, false);
                        if g.last_id == StreamId::MAX || es.is_empty() {
                            continue;
                        }
                        for e in &es {
                            entries.group_advance(g, e.0);
                            if !noack {
                                g.deliver_new(e.0, cname, now);
                                if propagating {
                                    let count = g.pel.get(&e.0).map_or(1, |p| p.delivery_count);
                                    props.push(xclaim_prop(k, gname, cname, e.0, now, count, g.last_id));
                                }
                            }
                        }
                        if noack && propagating {
                            if created {
                                props.push(vec![
                                    b"XGROUP".to_vec(),
                                    b"CREATECONSUMER".to_vec(),
                                    k.to_vec(),
                                    gname.to_vec(),
                                    cname.to_vec(),
                                ]);
                            }
                            props.push(setid_prop(k, gname, g));
                        }
                        g.consumers.get_mut(cname).unwrap().active_time = Some(now);
                        pair_header(&mut body);
                        body.bulk(k);
                        write_entries(&mut body, &es);
                        items.push(1);
                        changed = true;
                    }
                    ReadId::After(after) => {
                        let c = g.consumers.get(cname).unwrap();
                        let limit = if count == 0 { usize::MAX } else { count };
                        let pending: Vec<StreamId> = match after.incr() {
                            Some(st) => c.pel.range(st..).take(limit).copied().collect(),
                            None => Vec::new(),
                        };
                        pair_header(&mut body);
                        body.bulk(k);
                        body.array(pending.len());
                        for pid in &pending {
                            match entries.get(*pid) {
                                Some(e) => {
                                    write_entry(&mut body, &e);
                                    let p = g.pel.get_mut(pid).unwrap();
                                    p.delivery_count += 1;
                                    p.delivery_time = now;
                                }
                                None => {
                                    body.array(2);
                                    write_id(&mut body, *pid);
                                    body.null_array();
                                }
                            }
                        }
                        if !pending.is_empty() {
                            g.consumers.get_mut(cname).unwrap().active_time = Some(now);
                        }
                        items.push(1);
                        changed = true;
                    }
                }
            }
        }
    }
    let must_block = items.is_empty() && block.is_some();
    if must_block {
        // Nothing written: `blocking::block_opts` below replies or registers the waiter.
    } else if items.is_empty() {
        out.null_array();
    } else {
        // RESP2: an array of [key, entries] pairs; RESP3: a map key → entries.
        out.map(items.len());
        if !out.resp3 {
            out.truncate(mark);
            out.array(items.len());
        }
        out.raw(&body.buf);
    }
    if changed && is_group {
        for k in keys {
            db.touch(k);
        }
    }
    if is_group {
        if props.is_empty() {
            ctx.propagate_nothing();
        }
        for p in &props {
            ctx.propagate(p);
        }
    }
    for k in new_consumer {
        ctx.notify(notify::STREAM, "xgroup-createconsumer", k);
    }
    if let (true, Some(deadline)) = (must_block, block) {
        // `$` is resolved now: the waiter is re-run with the IDs it had when it blocked, so it
        // gets the entries added after that moment (as Redis 7.2 rewrites the command).
        let mut owned: Vec<Vec<u8>> = args.iter().map(|a| a.to_vec()).collect();
        for (j, id) in ids.iter().enumerate() {
            if let (ReadId::After(after), true) = (id, ids_raw[j] == b"$") {
                owned[streams_at + n + j] = after.fmt();
            }
        }
        let argv: Vec<&[u8]> = owned.iter().map(|a| a.as_slice()).collect();
        return blocking::block_opts(ctx, keys, deadline, "stream", &argv, blocking::NullReply::Array, is_group);
    }
    Ok(())
}

/// The `[key, entries]` pair header of XREAD replies (none in RESP3, where they are a map).
fn pair_header(body: &mut Writer) {
    if !body.resp3 {
        body.array(2);
    }
}
