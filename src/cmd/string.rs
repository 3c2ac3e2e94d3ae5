//! String commands: GET, SET (bootstrap subset).

use super::{acl, flags::*, keys, CmdError, CmdResult, CommandSpec, Ctx};
use crate::db::value::{Value, NO_EXPIRE};

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("get", 2, READONLY | FAST, acl::STRING, keys(1, 1, 1), get).doc(
        "string",
        "1.0.0",
        "O(1)",
        "Returns the string value of a key.",
    ),
    CommandSpec::new("set", -3, WRITE | DENYOOM, acl::STRING, keys(1, 1, 1), set).doc(
        "string",
        "1.0.0",
        "O(1)",
        "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.",
    ),
];

fn get(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (mut db, out) = ctx.db_out();
    match db.get_counted(args[1]) {
        None => out.null(),
        Some(e) => match &e.value {
            Value::Str(s) => {
                let mut b = itoa::Buffer::new();
                out.bulk(s.as_bytes(&mut b));
            }
            #[allow(unreachable_patterns)]
            _ => return Err(CmdError::WrongType),
        },
    }
    Ok(())
}

fn set(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if args.len() != 3 {
        return Err(CmdError::Syntax);
    }
    ctx.db().set(args[1], Value::from_bytes(args[2]), NO_EXPIRE);
    ctx.out.ok();
    Ok(())
}
