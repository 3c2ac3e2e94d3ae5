//! Blocking operations: the infrastructure behind BLPOP & co., reusable by every family that
//! blocks (sorted-set BZPOP*, stream XREAD/XREADGROUP BLOCK), and CLIENT UNBLOCK.
//!
//! # Semantics kept from Redis
//! - Clients blocked on a key are served first-blocked first-served.
//! - Data pushed to a key with waiters is served to them *before any other command runs*: a
//!   client that pipelines `LPUSH k v` + `LPOP k` while another waits in `BLPOP k` sees its LPOP
//!   return nil. A push inside MULTI/EXEC wakes waiters after EXEC.
//! - A waiter is served by re-running its command on its behalf (Redis 7.2's model), with its
//!   database and protocol; a key of another type than the waiter wants leaves it waiting,
//!   except for waiters registered with `any_change` ([`block_opts`], XREADGROUP), re-run on
//!   every signal of their keys (a deletion or overwrite included) so they fail as in 7.2.
//! - Streams serve every waiter a write can satisfy (each XREAD reader), lists and sorted sets
//!   pop for waiters in order until the key is gone.
//! - Inside MULTI blocking commands do not block: they reply at once.
//! - Timeouts reply with the null array (RESP3 `_`); CLIENT UNBLOCK id [TIMEOUT|ERROR]; a
//!   client that disconnects or is killed while blocked leaves nothing behind.
//!
//! # API for a blocking command handler
//! 1. Parse the timeout first with [`parse_timeout`] (Redis's errors; returns an absolute
//!    deadline in Unix ms, 0 = forever).
//! 2. Try to serve the request now. If it can be served, reply as the non-blocking command.
//! 3. Otherwise `return block(ctx, &keys, deadline, "list", args, NullReply::Array)`: `wants`
//!    is the `TYPE` name the waiter is served for; `in_multi` is the reply when the client may
//!    not block (MULTI). The handler must not have written anything. `block` either writes that
//!    reply, or registers a waiter on every key (in those keys' shards, under the locks the
//!    command already holds) and leaves a [`Blocked`] in `ctx.client.block`, or — when the
//!    handler is being re-run to serve a waiter — notes that the waiter must keep waiting.
//!
//! Producers need nothing in most cases: creating or overwriting a key (`Db::set`, `Db::put`)
//! and deleting one (`Db::remove`) signal it. A command that adds data to an *existing* key
//! that may have waiters (XADD to a stream, ZADD to a sorted set) calls [`signal_ready`] under
//! its locks.
//!
//! # How it works
//! - The state lives in the keyspace (`db::blocked`): per shard, FIFO queues of waiters per
//!   (db, key) and the keys signalled ready; per keyspace, the number of blocked clients, a
//!   "some key is ready" flag, and the waiters by client id (CLIENT UNBLOCK).
//! - Dispatch: when a client is blocked on a key in one of the shards a write command touches
//!   (a relaxed load of the global count, then of per-shard counts), the command takes every
//!   shard lock from the start, so that the command and the serving of the keys it made ready
//!   form one atomic step. A waiter that registers between that check and the command's lock
//!   is still served (the command finds it, then serves under every lock right after). After the command, if a key was signalled,
//!   [`serve_ready`] (all shards held) re-runs each ready key's waiters in FIFO order while the
//!   key holds the wanted type; the reply bytes go into the waiter's `Slot` and its task is
//!   woken. Serving can make more keys ready (BLMOVE chains); the loop runs until none is.
//! - The blocked connection awaits its slot, its deadline, a kill, and its socket (EOF = the
//!   client left). On timeout/unblock/disconnect it removes its waiter under the keys' shard
//!   locks; a serve that won the race is seen then (the slot holds a reply) and delivered.
//!   A slot is claimed (`Waiting` → `Serving`) before the command is re-run, so CLIENT UNBLOCK
//!   cannot cancel a waiter whose element is being popped.
//!
//! Lock order: shard locks (ascending) → `BlockedIndex::clients` → a slot's state. No lock is
//! held across an `.await`.
//!
//! INFO `blocked_clients` is `BlockedIndex::blocked_clients`; CLIENT LIST shows the `b` flag
//! (`ClientInfo::blocked`, set by [`block`], cleared when the waiter is forgotten).
//!
//! FLUSHALL, FLUSHDB and SWAPDB mark every key of the databases they change ready, so their
//! waiters are re-checked as Redis 7.2 does (a list waiter whose key arrives by SWAPDB is
//! served, a blocked XREADGROUP whose key went away ends with NOGROUP).
//!
//! Difference from Redis: INFO `total_blocking_keys` is not computed.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{args, dispatch, CmdError, CmdResult, Ctx};
use crate::client::{Client, ClientInfo};
use crate::db::blocked::{forget, Blocked, Slot, SlotState, Waiter};
use crate::db::Db;
use resp::Writer;

/// The null reply a blocking command gives when it may not block.
#[derive(Clone, Copy)]
pub enum NullReply {
    Array,
    Bulk,
}

/// Redis's blocking timeout (float seconds) as an absolute deadline in Unix ms; 0 = forever.
pub fn parse_timeout(arg: &[u8], now: u64) -> Result<u64, CmdError> {
    let secs = args::parse_f64(arg).ok_or(CmdError::msg("ERR timeout is not a float or out of range"))?;
    let ms = secs * 1000.0;
    // Redis 7.2 rejects timeouts that do not fit a 64-bit millisecond count (7.0 let them
    // wrap to negative values).
    if ms > i64::MAX as f64 {
        return Err(CmdError::msg("ERR timeout is out of range"));
    }
    let ms = ms.ceil() as i64;
    if ms < 0 {
        return Err(CmdError::msg("ERR timeout is negative"));
    }
    if ms == 0 {
        return Ok(0);
    }
    if ms > i64::MAX - now as i64 {
        return Err(CmdError::msg("ERR timeout is out of range"));
    }
    Ok(now + ms as u64)
}

/// Blocks the command in `ctx` on `keys` (see the module comment).
pub fn block(
    ctx: &mut Ctx,
    keys: &[&[u8]],
    deadline_ms: u64,
    wants: &'static str,
    args: &[&[u8]],
    in_multi: NullReply,
) -> CmdResult {
    block_opts(ctx, keys, deadline_ms, wants, args, in_multi, false)
}

/// [`block`], with `any_change`: the waiter is re-run each time one of its keys is signalled,
/// even when the key is gone or holds another type (XREADGROUP, whose re-run then fails with
/// NOGROUP / WRONGTYPE). Producers signal deletions and overwrites themselves for such keys:
/// `Db::remove` and `Db::set` over an existing key signal it.
pub fn block_opts(
    ctx: &mut Ctx,
    keys: &[&[u8]],
    deadline_ms: u64,
    wants: &'static str,
    args: &[&[u8]],
    in_multi: NullReply,
    any_change: bool,
) -> CmdResult {
    let b = &mut ctx.client.block;
    if b.serving {
        b.still_waiting = true;
        return Ok(());
    }
    if !b.may_block {
        match in_multi {
            NullReply::Array => ctx.out.null_array(),
            NullReply::Bulk => ctx.out.null(),
        }
        // Nothing was served: nothing to propagate.
        ctx.propagate_nothing();
        return Ok(());
    }
    let ks = &ctx.server.keyspace;
    let mut uniq: Vec<Vec<u8>> = Vec::with_capacity(keys.len());
    for k in keys {
        if !uniq.iter().any(|u| u == k) {
            uniq.push(k.to_vec());
        }
    }
    let slot = Arc::new(Slot::default());
    let waiter = Arc::new(Waiter {
        id: ks.blocked.next_id.fetch_add(1, Ordering::Relaxed),
        owner: ctx.client.info.clone(),
        db: ctx.client.db,
        resp: ctx.client.resp,
        args: args.iter().map(|a| a.to_vec()).collect(),
        keys: uniq,
        wants,
        any_change,
        slot: slot.clone(),
    });
    let db = ctx.client.db;
    for key in &waiter.keys {
        let sid = ks.shard_of(key);
        ctx.locks.shard(sid).blocked.queues.entry((db, key.clone())).or_default().push_back(waiter.clone());
        ks.blocked.shard_slot(sid).fetch_add(1, Ordering::Relaxed);
    }
    ks.blocked.count.fetch_add(1, Ordering::Relaxed);
    ctx.client.info.blocked.store(true, Ordering::Relaxed);
    ks.blocked.clients.lock().insert(ctx.client.id, slot);
    ctx.client.block.pending = Some(Blocked { waiter, deadline_ms });
    Ok(())
}

/// Signals that `key` in `db`'s database got data (for commands that add to an existing key).
pub fn signal_ready(db: &mut Db, key: &[u8]) {
    let ks = db.ks;
    let d = db.db;
    db.locks.shard(ks.shard_of(key)).blocked.signal(&ks.blocked, d, key);
}

/// Serves every ready key's waiters. Called by dispatch after a command when a key was
/// signalled; takes every shard lock if the command did not hold them all.
pub fn serve_ready(ctx: &mut Ctx) {
    let ks = &ctx.server.keyspace;
    if !ctx.locks.holds_all() {
        ctx.locks.release();
        let effects = std::mem::take(&mut ctx.locks.effects);
        ctx.locks = ks.lock_all();
        ctx.locks.effects = effects;
    }
    while ks.blocked.ready.swap(false, Ordering::AcqRel) {
        let mut ready = Vec::new();
        for s in ctx.locks.shards() {
            ready.append(&mut s.blocked.ready);
        }
        for (db, key) in ready {
            serve_key(ctx, db, &key);
        }
    }
}

fn serve_key(ctx: &mut Ctx, db: usize, key: &[u8]) {
    let ks = &ctx.server.keyspace;
    let sid = ks.shard_of(key);
    let snapshot: Vec<Arc<Waiter>> = match ctx.locks.shard(sid).blocked.queues.get(&(db, key.to_vec())) {
        Some(q) => q.iter().cloned().collect(),
        None => return,
    };
    for w in snapshot {
        let ty = ctx.db_at(db).peek(key).map(|e| e.value.type_name());
        if ty != Some(w.wants) && !w.any_change {
            continue;
        }
        {
            let mut st = w.slot.state.lock();
            if !matches!(*st, SlotState::Waiting) {
                continue;
            }
            *st = SlotState::Serving;
        }
        let (reply, still) = rerun(ctx, &w);
        if still {
            *w.slot.state.lock() = SlotState::Waiting;
            continue;
        }
        for k in &w.keys {
            let sid = ks.shard_of(k);
            if ctx.locks.shard(sid).blocked.remove(w.db, k, w.id) {
                ks.blocked.shard_slot(sid).fetch_sub(1, Ordering::Relaxed);
            }
        }
        forget(ks, &w);
        w.slot.set(SlotState::Served(reply));
    }
}

/// Runs a waiter's command on its behalf; returns its reply and whether it must keep waiting.
fn rerun(ctx: &mut Ctx, w: &Waiter) -> (Vec<u8>, bool) {
    let info = w.owner.clone().as_any().downcast::<ClientInfo>().expect("waiters are registered by clients");
    let mut client = Client::new(info, true);
    client.db = w.db;
    client.resp = w.resp;
    client.block.serving = true;
    let mut out = Writer::new(w.resp == 3);
    let args: Vec<&[u8]> = w.args.iter().map(|a| a.as_slice()).collect();
    let Some(spec) = dispatch::resolve(&mut out, &args) else { return (out.buf, false) };
    // Run through the caller's context (its locks) with the stand-in client and writer swapped
    // in, then swap the caller's back.
    std::mem::swap(ctx.client, &mut client);
    std::mem::swap(ctx.out, &mut out);
    dispatch::run(ctx, spec, &args);
    std::mem::swap(ctx.client, &mut client);
    std::mem::swap(ctx.out, &mut out);
    let still = client.block.still_waiting;
    (out.buf, still)
}

/// CLIENT UNBLOCK client-id [TIMEOUT|ERROR]
pub fn client_unblock(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let id = args::int(args[2])?;
    let error = match args.get(3) {
        None => false,
        Some(r) if args::is(r, "timeout") => false,
        Some(r) if args::is(r, "error") => true,
        Some(_) => return Err(CmdError::msg("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")),
    };
    let slot = ctx.server.keyspace.blocked.clients.lock().get(&(id as u64)).cloned();
    ctx.out.int(slot.is_some_and(|s| s.unblock(error)) as i64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_follow_redis() {
        let now = 1_000_000;
        assert_eq!(parse_timeout(b"0", now), Ok(0));
        assert_eq!(parse_timeout(b"1.5", now), Ok(now + 1500));
        assert_eq!(parse_timeout(b"0.0001", now), Ok(now + 1), "rounded up to a millisecond");
        let neg = Err(CmdError::msg("ERR timeout is negative"));
        assert_eq!(parse_timeout(b"-1", now), neg);
        assert_eq!(parse_timeout(b"-inf", now), neg);
        let nf = Err(CmdError::msg("ERR timeout is not a float or out of range"));
        assert_eq!(parse_timeout(b"x", now), nf);
        assert_eq!(parse_timeout(b"nan", now), nf);
        assert_eq!(parse_timeout(b" 1", now), nf);
        let oor = Err(CmdError::msg("ERR timeout is out of range"));
        assert_eq!(parse_timeout(b"inf", now), oor);
        assert_eq!(parse_timeout(b"1e30", now), oor);
        assert_eq!(parse_timeout(b"9223372036854775", now), oor);
    }
}
