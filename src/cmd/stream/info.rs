//! XINFO: STREAM [FULL], GROUPS, CONSUMERS and HELP.

use super::{bad_sub, nogroup_for_key, write_entries, write_entry, write_id};
use crate::cmd::lookup::get;
use crate::cmd::{args, CmdError, CmdResult, Ctx};
use crate::types::stream::{Group, Stream, StreamId, ENTRIES_READ_UNKNOWN};
use resp::Writer;

// ---------------------------------------------------------------------------------------------
// XINFO
// ---------------------------------------------------------------------------------------------

const XINFO_HELP: &[&str] = &[
    "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
    "HELP",
    "    Prints this help.",
];

pub(super) fn xinfo_help(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.out.array(XINFO_HELP.len());
    for l in XINFO_HELP {
        ctx.out.simple(l);
    }
    Ok(())
}

fn opt_int(out: &mut Writer, v: Option<i64>) {
    match v {
        Some(n) => out.int(n),
        None => out.null(),
    }
}

fn entries_read_reply(g: &Group) -> Option<i64> {
    (g.entries_read != ENTRIES_READ_UNKNOWN).then_some(g.entries_read)
}

pub(super) fn xinfo_consumers(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let (mut db, out) = ctx.db_out();
    let Some(s) = get::<Stream>(&mut db, args[2])? else { return Err(CmdError::NoSuchKey) };
    let Some(g) = s.groups.get(args[3]) else { return Err(nogroup_for_key(args[2], args[3])) };
    out.array(g.consumers.len());
    for (name, c) in &g.consumers {
        out.map(4);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"pending");
        out.int(c.pel.len() as i64);
        out.bulk(b"idle");
        out.int(now as i64 - c.seen_time as i64);
        out.bulk(b"inactive");
        out.int(c.active_time.map(|t| now as i64 - t as i64).unwrap_or(-1));
    }
    Ok(())
}

pub(super) fn xinfo_groups(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (mut db, out) = ctx.db_out();
    let Some(s) = get::<Stream>(&mut db, args[2])? else { return Err(CmdError::NoSuchKey) };
    out.array(s.groups.len());
    for (name, g) in &s.groups {
        out.map(6);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"consumers");
        out.int(g.consumers.len() as i64);
        out.bulk(b"pending");
        out.int(g.pel.len() as i64);
        out.bulk(b"last-delivered-id");
        write_id(out, g.last_id);
        out.bulk(b"entries-read");
        opt_int(out, entries_read_reply(g));
        out.bulk(b"lag");
        opt_int(out, s.group_lag(g));
    }
    Ok(())
}

pub(super) fn xinfo_stream(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut full = false;
    let mut count: usize = 10;
    match args.len() {
        3 => {}
        4 if args::is(args[3], "full") => full = true,
        6 if args::is(args[3], "full") && args::is(args[4], "count") => {
            full = true;
            count = args::int(args[5])?.max(0) as usize;
        }
        _ => return Err(bad_sub("STREAM", "XINFO")),
    }
    let (mut db, out) = ctx.db_out();
    let Some(s) = get::<Stream>(&mut db, args[2])? else { return Err(CmdError::NoSuchKey) };
    out.map(if full { 9 } else { 10 });
    out.bulk(b"length");
    out.int(s.len() as i64);
    out.bulk(b"radix-tree-keys");
    out.int(s.node_count() as i64);
    out.bulk(b"radix-tree-nodes");
    out.int(s.rax_node_count() as i64);
    out.bulk(b"last-generated-id");
    write_id(out, s.last_id);
    out.bulk(b"max-deleted-entry-id");
    write_id(out, s.max_deleted_id);
    out.bulk(b"entries-added");
    out.int(s.entries_added as i64);
    out.bulk(b"recorded-first-entry-id");
    write_id(out, s.first_id());
    if !full {
        out.bulk(b"groups");
        out.int(s.groups.len() as i64);
        out.bulk(b"first-entry");
        match s.first_entry() {
            Some(e) => write_entry(out, &e),
            None => out.null(),
        }
        out.bulk(b"last-entry");
        match s.last_entry() {
            Some(e) => write_entry(out, &e),
            None => out.null(),
        }
        return Ok(());
    }
    out.bulk(b"entries");
    write_entries(out, &s.range(StreamId::MIN, StreamId::MAX, count, false));
    let limit = if count == 0 { usize::MAX } else { count };
    out.bulk(b"groups");
    out.array(s.groups.len());
    for (name, g) in &s.groups {
        out.map(7);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"last-delivered-id");
        write_id(out, g.last_id);
        out.bulk(b"entries-read");
        opt_int(out, entries_read_reply(g));
        out.bulk(b"lag");
        opt_int(out, s.group_lag(g));
        out.bulk(b"pel-count");
        out.int(g.pel.len() as i64);
        out.bulk(b"pending");
        let n = g.pel.len().min(limit);
        out.array(n);
        for (id, p) in g.pel.iter().take(n) {
            out.array(4);
            write_id(out, *id);
            out.bulk(&p.consumer);
            out.int(p.delivery_time as i64);
            out.int(p.delivery_count as i64);
        }
        out.bulk(b"consumers");
        out.array(g.consumers.len());
        for (cname, c) in &g.consumers {
            out.map(5);
            out.bulk(b"name");
            out.bulk(cname);
            out.bulk(b"seen-time");
            out.int(c.seen_time as i64);
            out.bulk(b"active-time");
            out.int(c.active_time.map(|t| t as i64).unwrap_or(-1));
            out.bulk(b"pel-count");
            out.int(c.pel.len() as i64);
            out.bulk(b"pending");
            let n = c.pel.len().min(limit);
            out.array(n);
            for id in c.pel.iter().take(n) {
                let p = &g.pel[id];
                out.array(3);
                write_id(out, *id);
                out.int(p.delivery_time as i64);
                out.int(p.delivery_count as i64);
            }
        }
    }
    Ok(())
}
