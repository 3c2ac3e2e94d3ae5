//! SLOWLOG GET [count] | LEN | RESET | HELP over the slow log (`crate::slowlog`, which the
//! dispatcher fills).

use super::{args, flags::*, CmdError, CmdResult, CommandSpec, Ctx, NO_KEYS};

pub const COMMANDS: &[CommandSpec] = &[CommandSpec::new("slowlog", -2, 0, 0, NO_KEYS, container)
    .doc("server", "2.2.12", "Depends on subcommand.", "A container for slow log commands.")
    .subcommands(SUBCOMMANDS)];

const SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("get", -2, ADMIN | LOADING | STALE, 0, NO_KEYS, get)
        .doc("server", "2.2.12", "O(N) where N is the number of entries returned", "Returns the slow log's entries.")
        .tips(&["request_policy:all_nodes", "nondeterministic_output"]),
    CommandSpec::new("help", 2, LOADING | STALE, 0, NO_KEYS, help).doc(
        "server",
        "6.2.0",
        "O(1)",
        "Show helpful text about the different subcommands",
    ),
    CommandSpec::new("len", 2, ADMIN | LOADING | STALE, 0, NO_KEYS, len)
        .doc("server", "2.2.12", "O(1)", "Returns the number of entries in the slow log.")
        .tips(&["request_policy:all_nodes", "response_policy:agg_sum", "nondeterministic_output"]),
    CommandSpec::new("reset", 2, ADMIN | LOADING | STALE, 0, NO_KEYS, reset)
        .doc(
            "server",
            "2.2.12",
            "O(N) where N is the number of entries in the slowlog",
            "Clears all entries from the slow log.",
        )
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"]),
];

fn container(_ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    Err(CmdError::Syntax)
}

/// SLOWLOG GET [count]: the newest `count` entries (10 by default, -1 for all).
fn get(ctx: &mut Ctx, a: &[&[u8]]) -> CmdResult {
    if a.len() > 3 {
        return Err(CmdError::msg(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try SLOWLOG HELP.",
            String::from_utf8_lossy(a[1])
        )));
    }
    let count = match a.get(2) {
        None => Some(10),
        Some(c) => match args::int(c).ok() {
            Some(-1) => None,
            Some(n) if n >= 0 => Some(n as usize),
            _ => return Err(CmdError::msg("ERR count should be greater than or equal to -1")),
        },
    };
    let entries = crate::slowlog::newest(count);
    let out = &mut *ctx.out;
    out.array(entries.len());
    for e in entries {
        out.array(6);
        out.int(e.id as i64);
        out.int(e.time as i64);
        out.int(e.duration as i64);
        out.array(e.args.len());
        for arg in &e.args {
            out.bulk(arg);
        }
        out.bulk(e.peer.as_bytes());
        out.bulk(&e.name);
    }
    Ok(())
}

fn len(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.out.int(crate::slowlog::len() as i64);
    Ok(())
}

fn reset(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    crate::slowlog::reset();
    ctx.out.ok();
    Ok(())
}

fn help(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    super::reply::help_reply(
        ctx.out,
        "SLOWLOG",
        &[
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
            "HELP",
            "    Prints this help.",
        ],
    );
    Ok(())
}
