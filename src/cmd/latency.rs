//! LATENCY LATEST | HISTORY | RESET | GRAPH | DOCTOR | HELP over the latency monitor
//! (`crate::latency`, which the dispatcher feeds). HISTOGRAM (per-command latency
//! distributions, `latency-tracking`) is not there yet.

use super::flags::*;
use super::{CmdError, CmdResult, CommandSpec, Ctx, NO_KEYS};

pub const COMMANDS: &[CommandSpec] = &[CommandSpec::new("latency", -2, 0, 0, NO_KEYS, container)
    .doc("server", "2.8.13", "Depends on subcommand.", "A container for latency diagnostics commands.")
    .subcommands(SUBCOMMANDS)];

const FLAGS: u32 = ADMIN | NOSCRIPT | LOADING | STALE;
const TIPS: &[&str] = &["nondeterministic_output", "request_policy:all_nodes", "response_policy:special"];

const SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("doctor", 2, FLAGS, 0, NO_KEYS, doctor)
        .doc("server", "2.8.13", "O(1)", "Returns a human-readable latency analysis report.")
        .tips(TIPS),
    CommandSpec::new("graph", 3, FLAGS, 0, NO_KEYS, graph)
        .doc("server", "2.8.13", "O(1)", "Returns a latency graph for an event.")
        .tips(TIPS),
    CommandSpec::new("help", 2, LOADING | STALE, 0, NO_KEYS, help).doc(
        "server",
        "2.8.13",
        "O(1)",
        "Returns helpful text about the different subcommands.",
    ),
    CommandSpec::new("history", 3, FLAGS, 0, NO_KEYS, history)
        .doc("server", "2.8.13", "O(1)", "Returns timestamp-latency samples for an event.")
        .tips(TIPS),
    CommandSpec::new("latest", 2, FLAGS, 0, NO_KEYS, latest)
        .doc("server", "2.8.13", "O(1)", "Returns the latest latency samples for all events.")
        .tips(TIPS),
    CommandSpec::new("reset", -2, FLAGS, 0, NO_KEYS, reset)
        .doc("server", "2.8.13", "O(1)", "Resets the latency data for one or more events.")
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"]),
];

fn container(_ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    Err(CmdError::Syntax)
}

fn now_s(ctx: &Ctx) -> u64 {
    ctx.now / 1000
}

fn latest(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let events = crate::latency::latest();
    ctx.out.array(events.len());
    for (name, time, latency, max) in events {
        ctx.out.array(4);
        ctx.out.bulk(name.as_bytes());
        ctx.out.int(time as i64);
        ctx.out.int(latency as i64);
        ctx.out.int(max as i64);
    }
    Ok(())
}

fn history(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let samples = crate::latency::history(args[2]).unwrap_or_default();
    ctx.out.array(samples.len());
    for (time, latency) in samples {
        ctx.out.array(2);
        ctx.out.int(time as i64);
        ctx.out.int(latency as i64);
    }
    Ok(())
}

fn reset(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let n = if args.len() == 2 {
        crate::latency::reset(None)
    } else {
        args[2..].iter().map(|e| crate::latency::reset(Some(e))).sum()
    };
    ctx.out.int(n as i64);
    Ok(())
}

fn graph(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    match crate::latency::graph(args[2], now_s(ctx)) {
        Some(g) => {
            ctx.out.verbatim("txt", g.as_bytes());
            Ok(())
        }
        None => {
            Err(CmdError::msg(format!("ERR No samples available for event '{}'", String::from_utf8_lossy(args[2]))))
        }
    }
}

fn doctor(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let report = crate::latency::doctor(now_s(ctx));
    ctx.out.verbatim("txt", report.as_bytes());
    Ok(())
}

fn help(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    super::reply::help_reply(
        ctx.out,
        "LATENCY",
        &[
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "GRAPH <event>",
            "    Return an ASCII latency graph for the <event> class.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HELP",
            "    Prints this help.",
        ],
    );
    Ok(())
}
