//! MODULE LIST | LOAD | LOADEX | UNLOAD | HELP. Redis modules are C shared libraries written
//! against Redis's internal API; redstart cannot load them (README). LIST answers that none is
//! loaded; LOAD and LOADEX fail as Redis fails on a library it cannot load, UNLOAD as on a name
//! that is not loaded, behind `enable-module-command` as in Redis (the dispatcher's check of
//! protected commands).

use super::{flags::*, CmdError, CmdResult, CommandSpec, Ctx, NO_KEYS};

pub const COMMANDS: &[CommandSpec] = &[CommandSpec::new("module", -2, 0, 0, NO_KEYS, container)
    .doc("server", "4.0.0", "Depends on subcommand.", "A container for module commands.")
    .subcommands(SUBCOMMANDS)];

const SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("help", 2, LOADING | STALE, 0, NO_KEYS, help).doc(
        "server",
        "5.0.0",
        "O(1)",
        "Returns helpful text about the different subcommands.",
    ),
    CommandSpec::new("list", 2, ADMIN | NOSCRIPT, 0, NO_KEYS, list)
        .doc("server", "4.0.0", "O(N) where N is the number of loaded modules.", "Returns all loaded modules.")
        .tips(&["nondeterministic_output_order"]),
    CommandSpec::new("load", -3, ADMIN | NOSCRIPT | NO_ASYNC_LOADING | PROTECTED, 0, NO_KEYS, load).doc(
        "server",
        "4.0.0",
        "O(1)",
        "Loads a module.",
    ),
    CommandSpec::new("loadex", -3, ADMIN | NOSCRIPT | NO_ASYNC_LOADING | PROTECTED, 0, NO_KEYS, load).doc(
        "server",
        "7.0.0",
        "O(1)",
        "Loads a module using extended parameters.",
    ),
    CommandSpec::new("unload", 3, ADMIN | NOSCRIPT | NO_ASYNC_LOADING | PROTECTED, 0, NO_KEYS, unload).doc(
        "server",
        "4.0.0",
        "O(1)",
        "Unloads a module.",
    ),
];

fn container(_ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    Err(CmdError::Syntax)
}

fn list(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.out.array(0);
    Ok(())
}

fn load(_ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    crate::log::warning(&format!(
        "Module {} failed to load: redstart does not load Redis modules",
        String::from_utf8_lossy(args[2])
    ));
    Err(CmdError::msg("ERR Error loading the extension. Please check the server logs."))
}

fn unload(_ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    Err(CmdError::msg("ERR Error unloading module: no such module with that name"))
}

fn help(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    super::reply::help_reply(
        ctx.out,
        "MODULE",
        &[
            "LIST",
            "    Return a list of loaded modules.",
            "LOAD <path> [<arg> ...]",
            "    Load a module library from <path>, passing to it any optional arguments.",
            "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
            "    Load a module library from <path>, while passing it module configurations and optional arguments.",
            "UNLOAD <name>",
            "    Unload a module.",
            "HELP",
            "    Prints this help.",
        ],
    );
    Ok(())
}
