//! Connection commands: PING, ECHO, QUIT, SELECT.

use super::{acl, args, flags::*, CmdError, CmdResult, CommandSpec, Ctx, NO_KEYS};

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("ping", -1, FAST, acl::CONNECTION, NO_KEYS, ping).doc(
        "connection",
        "1.0.0",
        "O(1)",
        "Returns the server's liveliness response.",
    ),
    CommandSpec::new("echo", 2, FAST, acl::CONNECTION, NO_KEYS, echo).doc(
        "connection",
        "1.0.0",
        "O(1)",
        "Returns the given string.",
    ),
    CommandSpec::new(
        "quit",
        -1,
        ALLOW_BUSY | NOSCRIPT | LOADING | STALE | FAST | NO_AUTH,
        acl::CONNECTION,
        NO_KEYS,
        quit,
    )
    .doc("connection", "1.0.0", "O(1)", "Closes the connection."),
    CommandSpec::new("select", 2, LOADING | STALE | FAST, acl::CONNECTION, NO_KEYS, select).doc(
        "connection",
        "2.0.0",
        "O(1)",
        "Changes the selected database.",
    ),
];

fn ping(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    match args.len() {
        1 => ctx.out.simple("PONG"),
        2 => ctx.out.bulk(args[1]),
        _ => return Err(CmdError::WrongArity("ping".into())),
    }
    Ok(())
}

fn echo(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    ctx.out.bulk(args[1]);
    Ok(())
}

fn quit(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.client.close_after_reply = true;
    ctx.out.ok();
    Ok(())
}

fn select(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let db = args::int(args[1]).map_err(|_| CmdError::msg("ERR value is not an integer or out of range"))?;
    if db < 0 || db as usize >= ctx.server.keyspace.databases() {
        return Err(CmdError::msg("ERR DB index is out of range"));
    }
    ctx.client.select(db as usize);
    ctx.out.ok();
    Ok(())
}
