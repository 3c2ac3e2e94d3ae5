//! CONFIG: GET, SET, RESETSTAT, REWRITE, HELP.
//!
//! CONFIG GET matches glob patterns against every directive name and alias (case-insensitive)
//! and lists each match once: a flat name/value array in RESP2, a map in RESP3. CONFIG SET takes
//! several name/value pairs atomically (Redis 7): every name is checked (unknown, immutable,
//! protected, duplicate), then every value is parsed, then — only if all succeed — all are
//! applied. Values take effect where they are read (`timeout`, `requirepass`, `hz`,
//! `proto-max-bulk-len`, `maxclients`, ... are read per use); `loglevel` updates the logger;
//! `port`/`bind` rebind the listeners (the new sockets are opened before anything changes, so a
//! failure leaves the old configuration in place).
//!
//! Differences from Redis: order of CONFIG GET results (Redis's follows its hash table; ours
//! the directive table); values are treated as UTF-8 (invalid bytes are replaced).

use std::collections::HashSet;
use std::sync::atomic::Ordering;

use super::{flags::*, CmdError, CmdResult, CommandSpec, Ctx, NO_KEYS};
use crate::config::directives::{self, Directive, DIRECTIVES, IMMUTABLE, PROTECTED, SENSITIVE};
use crate::db::glob::{glob_match, is_literal};

const SUB: u32 = ADMIN | NOSCRIPT | LOADING | STALE;

pub const COMMANDS: &[CommandSpec] = &[CommandSpec::new("config", -2, 0, 0, NO_KEYS, help)
    .doc("server", "2.0.0", "Depends on subcommand.", "A container for server configuration commands.")
    .subcommands(&[
        CommandSpec::new("get", -3, SUB, 0, NO_KEYS, get).doc(
            "server",
            "2.0.0",
            "O(N) when N is the number of configuration parameters provided",
            "Returns the effective values of configuration parameters.",
        ),
        CommandSpec::new("set", -4, SUB, 0, NO_KEYS, set)
            .doc(
                "server",
                "2.0.0",
                "O(N) when N is the number of configuration parameters provided",
                "Sets configuration parameters in-flight.",
            )
            .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"]),
        CommandSpec::new("resetstat", 2, SUB, 0, NO_KEYS, resetstat).doc(
            "server",
            "2.0.0",
            "O(1)",
            "Resets the server's statistics.",
        ),
        CommandSpec::new("rewrite", 2, SUB, 0, NO_KEYS, rewrite).doc(
            "server",
            "2.8.0",
            "O(1)",
            "Persists the effective configuration to file.",
        ),
        CommandSpec::new("help", 2, LOADING | STALE, 0, NO_KEYS, help).doc(
            "server",
            "5.0.0",
            "O(1)",
            "Returns helpful text about the different subcommands.",
        ),
    ])];

const HELP: &[&str] = &[
    "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "REWRITE",
    "    Rewrite the configuration file.",
    "HELP",
    "    Prints this help.",
];

fn help(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.out.array(HELP.len());
    for l in HELP {
        ctx.out.simple(l);
    }
    Ok(())
}

fn get(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let cfg = ctx.server.config.read();
    let mut seen: HashSet<&str> = HashSet::new();
    let mut found: Vec<(&[u8], &str)> = Vec::new();
    for pat in &args[2..] {
        for d in DIRECTIVES {
            for name in std::iter::once(d.name).chain(d.alias) {
                if glob_match(pat, name.as_bytes(), true) && seen.insert(name) {
                    // A pattern without wildcards names one directive: Redis echoes it as typed.
                    let shown = if is_literal(pat) { *pat } else { name.as_bytes() };
                    found.push((shown, cfg.get(d.name)));
                }
            }
        }
    }
    if ctx.out.resp3 {
        ctx.out.map(found.len());
    } else {
        ctx.out.array(found.len() * 2);
    }
    for (n, v) in found {
        ctx.out.bulk(n);
        ctx.out.bulk(v.as_bytes());
    }
    Ok(())
}

fn failed(name: &str, why: &str) -> CmdError {
    CmdError::msg(format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"))
}

/// `enable-protected-configs`: CONFIG SET of protected directives (`dir`, `dbfilename`, ...).
fn protected_allowed(ctx: &Ctx) -> bool {
    ctx.enabled_by("enable-protected-configs")
}

fn set(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let pairs = &args[2..];
    if !pairs.len().is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    let text = |a: &[u8]| String::from_utf8_lossy(a).into_owned();
    // 1. Names: known, settable, each once.
    let mut chosen: Vec<(&'static Directive, String, String)> = Vec::new();
    for (i, p) in pairs.chunks(2).enumerate() {
        let name = text(p[0]);
        let Some(d) = directives::find(&name) else {
            return Err(CmdError::msg(format!("ERR Unknown option or number of arguments for CONFIG SET - '{name}'")));
        };
        if d.flags & SENSITIVE != 0 {
            ctx.redact(3 + 2 * i);
        }
        if d.flags & IMMUTABLE != 0 {
            return Err(failed(&name, "can't set immutable config"));
        }
        if d.flags & PROTECTED != 0 && !protected_allowed(ctx) {
            return Err(failed(&name, "can't set protected config"));
        }
        // Redis compares the names as given: a name and its alias are two parameters.
        if chosen.iter().any(|(_, n, _)| n.eq_ignore_ascii_case(&name)) {
            return Err(failed(&name, "duplicate parameter"));
        }
        chosen.push((d, name, text(p[1])));
    }
    // 2. Values: all must parse before anything changes.
    let mut parsed = Vec::with_capacity(chosen.len());
    {
        let cfg = ctx.server.config.read();
        for (d, name, value) in &chosen {
            let v = directives::parse_set(d, value, cfg.get(d.name)).map_err(|e| failed(name, &e))?;
            parsed.push(v);
        }
    }
    // 3. Listeners: open the new sockets first; a failure changes nothing.
    let (mut port, mut bind, old_port, old_bind) = {
        let c = ctx.server.config.read();
        (c.port, c.bind.clone(), c.port, c.bind.clone())
    };
    let mut net_arg = String::new();
    for ((d, name, _), v) in chosen.iter().zip(&parsed) {
        match d.name {
            "port" => {
                port = v.parse().unwrap_or(port);
                net_arg = name.clone();
            }
            "bind" => {
                bind = v.split_whitespace().map(String::from).collect();
                if net_arg.is_empty() {
                    net_arg = name.clone();
                }
            }
            _ => {}
        }
    }
    if port != old_port || bind != old_bind {
        let backlog = ctx.server.config.read().tcp_backlog;
        if let Some(rebind) = ctx.server.rebind.get() {
            rebind(&bind, port, backlog).map_err(|why| failed(&net_arg, &why))?;
        }
    }
    // 4. The AOF, turned on (a rewrite starts, then the AOF follows the effects stream) or off.
    for ((d, name, _), v) in chosen.iter().zip(&parsed) {
        if d.name == "appendonly" {
            let on = v == "yes";
            crate::persist::aof::set_appendonly(ctx.server, on, ctx.locks.holds_all())
                .map_err(|why| failed(name, &why))?;
        }
    }
    // 5. Commit.
    {
        let mut cfg = ctx.server.config.write();
        for ((d, _, _), v) in chosen.iter().zip(parsed) {
            cfg.set(d, v);
        }
        crate::log::set_level(level_of(&cfg.loglevel));
    }
    ctx.out.ok();
    Ok(())
}

/// The logger's level for a `loglevel` value.
pub fn level_of(name: &str) -> u8 {
    match name {
        "debug" => crate::log::DEBUG,
        "verbose" => crate::log::VERBOSE,
        "warning" => crate::log::WARNING,
        _ => crate::log::NOTICE,
    }
}

fn resetstat(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let s = &ctx.server.stats;
    for c in [&s.total_connections_received, &s.rejected_connections] {
        c.store(0, Ordering::Relaxed);
    }
    let k = &ctx.server.keyspace.stats;
    k.expired_keys.store(0, Ordering::Relaxed);
    // Command statistics, keyspace hits and misses (per-thread counters).
    crate::stats::reset();
    ctx.out.ok();
    Ok(())
}

fn rewrite(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let cfg = ctx.server.config.read().clone();
    crate::config::rewrite::rewrite(&cfg).map_err(|e| CmdError::msg(format!("ERR {e}")))?;
    crate::log::notice("CONFIG REWRITE executed with success.");
    ctx.out.ok();
    Ok(())
}
