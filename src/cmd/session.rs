//! Per-client state that more than one command tears down: the keys a client WATCHes (UNWATCH,
//! EXEC, DISCARD, RESET, an EXEC refused for OOM, disconnection) and its Pub/Sub subscriptions
//! (RESET; the connection does the same on close).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::Ctx;
use crate::client::Client;
use crate::server::Server;

/// Forgets every key the client watches (UNWATCH, EXEC, DISCARD, RESET, disconnect).
pub fn unwatch_all(server: &Server, client: &mut Client) {
    let flag = client.watch.flag.clone();
    for (db, key) in std::mem::take(&mut client.watch.keys) {
        let mut locks = server.keyspace.lock_keys(std::iter::once(key.as_slice()));
        let sid = server.keyspace.shard_of(&key);
        locks.shard(sid).watchers.unwatch(db, &key, &flag);
    }
    client.watch.flag = Arc::default();
}

/// Drops every subscription of the client (RESET; the connection does the same on close).
pub fn unsubscribe_all(ctx: &mut Ctx) {
    crate::pubsub::remove_all(&ctx.server.pubsub, &mut ctx.client.pubsub);
    ctx.client.monitor = false;
    ctx.client.info.monitor.store(false, Ordering::Relaxed);
    // As for UNSUBSCRIBE (`cmd::pubsub`): what was published before the removal precedes the reply.
    if let Some(mb) = &ctx.client.pubsub.mailbox {
        mb.drain_into(&mut ctx.out.buf);
    }
    sync_counts(ctx);
}

/// Mirrors the subscription counts into CLIENT LIST's fields.
pub fn sync_counts(ctx: &mut Ctx) {
    let (c, p, s) = ctx.client.pubsub.counts();
    let subs = &ctx.client.info.subs;
    subs[0].store(c, Ordering::Relaxed);
    subs[1].store(p, Ordering::Relaxed);
    subs[2].store(s, Ordering::Relaxed);
}
