//! MODULE against redis-server: LIST empty, LOAD/LOADEX/UNLOAD refused under
//! `enable-module-command no` (the default) and failing as Redis fails on a library it cannot
//! load or a name it does not have under `yes`; HELP, errors and COMMAND INFO byte for byte.

mod common;
use common::*;

const CASES: &[&str] = &[
    "MODULE LIST",
    "MODULE list",
    "MODULE LOAD /tmp/no-such-module.so",
    "MODULE LOAD /tmp/no-such-module.so a b",
    "MODULE LOADEX /tmp/no-such-module.so CONFIG a b ARGS c",
    "MODULE UNLOAD foo",
    "MODULE UNLOAD",
    "MODULE LOAD",
    "MODULE HELP",
    "MODULE help x",
    "MODULE",
    "MODULE LIST x",
    "MODULE foo",
    "CONFIG GET enable-module-command",
    "COMMAND INFO module|list module|load module|loadex module|unload module|help",
];

#[test]
fn module_commands_match_redis() {
    let mut p = Pair::new();
    p.check_all(CASES);
    let mut p = Pair::with_args(&["--enable-module-command", "yes"]);
    p.check_all(CASES);
    let mut p = Pair::with_args(&["--enable-module-command", "local"]);
    p.check_all(CASES);
}
