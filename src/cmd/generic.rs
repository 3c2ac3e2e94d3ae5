//! Generic key commands and keyspace administration: DEL, EXISTS, FLUSHALL, DBSIZE (bootstrap subset).

use super::{acl, flags::*, keys, CmdResult, CommandSpec, Ctx, NO_KEYS};

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("del", -2, WRITE, acl::KEYSPACE, keys(1, -1, 1), del).doc(
        "generic",
        "1.0.0",
        "O(N)",
        "Deletes one or more keys.",
    ),
    CommandSpec::new("exists", -2, READONLY | FAST, acl::KEYSPACE, keys(1, -1, 1), exists).doc(
        "generic",
        "1.0.0",
        "O(N)",
        "Determines whether one or more keys exist.",
    ),
    CommandSpec::new("flushall", -1, WRITE | ALL_SHARDS, acl::KEYSPACE | acl::DANGEROUS, NO_KEYS, flushall).doc(
        "server",
        "1.0.0",
        "O(N) where N is the total number of keys in all databases",
        "Removes all keys from all databases.",
    ),
    CommandSpec::new("dbsize", 1, READONLY | FAST | ALL_SHARDS, acl::KEYSPACE, NO_KEYS, dbsize).doc(
        "server",
        "1.0.0",
        "O(1)",
        "Returns the number of keys in the database.",
    ),
];

fn del(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut db = ctx.db();
    let n = args[1..].iter().filter(|k| db.remove(k).is_some()).count();
    ctx.out.int(n as i64);
    Ok(())
}

fn exists(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut db = ctx.db();
    let n = args[1..].iter().filter(|k| db.exists(k)).count();
    ctx.out.int(n as i64);
    Ok(())
}

fn flushall(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let ndb = ctx.server.keyspace.databases();
    for shard in ctx.locks.shards() {
        for db in 0..ndb {
            shard.watchers.touch_db(db, |_| true);
            drop(shard.dbs[db].take_all());
            shard.volatile[db] = 0;
        }
    }
    ctx.out.ok();
    Ok(())
}

fn dbsize(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let db = ctx.client.db;
    let n: usize = ctx.locks.shards().map(|s| s.dbs[db].len()).sum();
    ctx.out.int(n as i64);
    Ok(())
}
