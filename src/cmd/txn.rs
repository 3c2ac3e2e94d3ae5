//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! Commands queued after MULTI are stored owned in the client. EXEC is flagged `ALL_SHARDS`:
//! it runs with every shard locked, so the whole transaction is atomic and isolated from
//! clients on other cores. WATCH registers the client's flag in the watched keys' shards; any
//! write path of the keyspace raises it (see `db::watch`), and EXEC fails with a null reply
//! when it is raised or a watched key has expired since.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::session::unwatch_all;
use super::{acl, dispatch, flags::*, key_range, ks, CmdError, CmdResult, CommandSpec, Ctx, NO_KEYS};

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("multi", 1, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, acl::TRANSACTION, NO_KEYS, multi).doc(
        "transactions",
        "1.2.0",
        "O(1)",
        "Starts a transaction.",
    ),
    CommandSpec::new(
        "exec",
        1,
        NOSCRIPT | LOADING | STALE | SKIP_SLOWLOG | ALL_SHARDS,
        acl::TRANSACTION,
        NO_KEYS,
        exec,
    )
    .doc(
        "transactions",
        "1.2.0",
        "Depends on commands in the transaction",
        "Executes all commands in a transaction.",
    ),
    CommandSpec::new("discard", 1, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, acl::TRANSACTION, NO_KEYS, discard)
        .doc("transactions", "2.0.0", "O(N), when N is the number of queued commands", "Discards a transaction."),
    CommandSpec::new(
        "watch",
        -2,
        NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY,
        acl::TRANSACTION,
        key_range(1, -1, 1, ks::RO),
        watch,
    )
    .doc(
        "transactions",
        "2.2.0",
        "O(1) for every key.",
        "Monitors changes to keys to determine the execution of a transaction.",
    ),
    CommandSpec::new("unwatch", 1, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, acl::TRANSACTION, NO_KEYS, unwatch)
        .doc("transactions", "2.2.0", "O(1)", "Forgets about watched keys of a transaction."),
];

fn multi(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(CmdError::msg("ERR MULTI calls can not be nested"));
    }
    ctx.client.multi = Some(Default::default());
    ctx.out.ok();
    Ok(())
}

fn discard(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    if ctx.client.multi.take().is_none() {
        return Err(CmdError::msg("ERR DISCARD without MULTI"));
    }
    unwatch_locked(ctx);
    ctx.out.ok();
    Ok(())
}

fn exec(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let Some(state) = ctx.client.multi.take() else {
        return Err(CmdError::msg("ERR EXEC without MULTI"));
    };
    if state.aborted {
        unwatch_locked(ctx);
        return Err(CmdError::msg("EXECABORT Transaction discarded because of previous errors."));
    }
    // A watched key that expired since WATCH counts as modified: looking it up deletes it
    // lazily, which raises the flag.
    let watched = std::mem::take(&mut ctx.client.watch.keys);
    for (db, key) in &watched {
        ctx.db_at(*db).exists(key);
    }
    ctx.client.watch.keys = watched;
    let dirty = ctx.client.watch.flag.load(Ordering::Acquire);
    unwatch_locked(ctx);
    if dirty {
        ctx.out.null_array();
        return Ok(());
    }
    ctx.out.array(state.queued.len());
    for argv in &state.queued {
        let args: Vec<&[u8]> = argv.iter().map(|a| a.as_slice()).collect();
        // Resolution succeeded when the command was queued; it cannot fail now.
        if let Some(spec) = dispatch::resolve(ctx.out, &args) {
            dispatch::run(ctx, spec, &args);
        }
    }
    Ok(())
}

fn watch(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(CmdError::msg("ERR WATCH inside MULTI is not allowed"));
    }
    let db = ctx.client.db;
    let flag = ctx.client.watch.flag.clone();
    for key in &args[1..] {
        if ctx.client.watch.keys.iter().any(|(d, k)| *d == db && k == key) {
            continue;
        }
        let sid = ctx.server.keyspace.shard_of(key);
        ctx.locks.shard(sid).watchers.watch(db, key, &flag);
        ctx.client.watch.keys.push((db, key.to_vec()));
    }
    ctx.out.ok();
    Ok(())
}

fn unwatch(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    // Inside EXEC (every shard held) through the held locks: releasing them would leave the
    // rest of the transaction without its locks.
    unwatch_locked(ctx);
    ctx.out.ok();
    Ok(())
}

/// Forgets every watched key of the client in `ctx`, using the locks it holds when it holds
/// them all, or taking each shard's lock otherwise.
fn unwatch_locked(ctx: &mut Ctx) {
    if ctx.locks.holds_all() {
        let flag = ctx.client.watch.flag.clone();
        for (db, key) in std::mem::take(&mut ctx.client.watch.keys) {
            let sid = ctx.server.keyspace.shard_of(&key);
            ctx.locks.shard(sid).watchers.unwatch(db, &key, &flag);
        }
        ctx.client.watch.flag = Arc::default();
    } else {
        ctx.locks.release();
        unwatch_all(ctx.server, ctx.client);
    }
}
