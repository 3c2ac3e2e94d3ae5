//! Pub/Sub commands: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH, SSUBSCRIBE,
//! SUNSUBSCRIBE, SPUBLISH and PUBSUB (CHANNELS, NUMSUB, NUMPAT, SHARDCHANNELS, SHARDNUMSUB, HELP).
//!
//! The registry and message delivery live in `crate::pubsub`; this module keeps the client's
//! own subscription set (`Client::pubsub`) and the registry in step and writes Redis's
//! confirmation frames: `subscribe`/`psubscribe` count channels plus patterns, `ssubscribe`
//! counts shard channels; an UNSUBSCRIBE without arguments and without subscriptions answers
//! one frame with a null name. Confirmations are pushes (`>`) in RESP3. Messages a client
//! publishes to itself are written before the PUBLISH reply, as in Redis.
//!
//! Subscribed-mode restrictions (RESP2) are applied by the dispatcher; PING's subscribed-mode
//! reply is in `cmd::connection`.
//!
//! Differences from Redis: PUBSUB HELP is redstart's own wording; there is no cluster, so shard
//! channels are ordinary channels in their own namespace (no slot checks).

use std::sync::Arc;

use super::reply::help_reply;
use super::session::sync_counts;
use super::{acl, flags::*, key, key_range, ks, CmdError, CmdResult, CommandSpec, Ctx, NO_KEYS};
use crate::pubsub::{Kind, Mailbox};

const SUB: u32 = PUBSUB | NOSCRIPT | LOADING | STALE;
const PUB: u32 = PUBSUB | LOADING | STALE | FAST;
const INTRO: u32 = PUBSUB | LOADING | STALE;

const PUBSUB_SUBS: &[CommandSpec] = &[
    CommandSpec::new("channels", -2, INTRO, 0, NO_KEYS, pubsub_channels).doc(
        "pubsub",
        "2.8.0",
        "O(N) where N is the number of active channels, and assuming constant time pattern matching (relatively short channels and patterns)",
        "Returns the active channels.",
    ),
    CommandSpec::new("numsub", -2, INTRO, 0, NO_KEYS, pubsub_numsub).doc(
        "pubsub",
        "2.8.0",
        "O(N) for the NUMSUB subcommand, where N is the number of requested channels",
        "Returns a count of subscribers to channels.",
    ),
    CommandSpec::new("numpat", 2, INTRO, 0, NO_KEYS, pubsub_numpat).doc(
        "pubsub",
        "2.8.0",
        "O(1)",
        "Returns a count of unique pattern subscriptions.",
    ),
    CommandSpec::new("shardchannels", -2, INTRO, 0, NO_KEYS, pubsub_shardchannels).doc(
        "pubsub",
        "7.0.0",
        "O(N) where N is the number of active shard channels, and assuming constant time pattern matching (relatively short shard channels).",
        "Returns the active shard channels.",
    ),
    CommandSpec::new("shardnumsub", -2, INTRO, 0, NO_KEYS, pubsub_shardnumsub).doc(
        "pubsub",
        "7.0.0",
        "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard channels",
        "Returns the count of subscribers of shard channels.",
    ),
    CommandSpec::new("help", 2, LOADING | STALE, 0, NO_KEYS, pubsub_help).doc(
        "pubsub",
        "6.2.0",
        "O(1)",
        "Returns helpful text about the different subcommands.",
    ),
];

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("monitor", 1, ADMIN | NOSCRIPT | LOADING | STALE, 0, NO_KEYS, monitor).doc(
        "server",
        "1.0.0",
        "O(1)",
        "Listens for all requests received by the server in real-time.",
    ),
    CommandSpec::new("subscribe", -2, SUB, 0, NO_KEYS, subscribe).doc(
        "pubsub",
        "2.0.0",
        "O(N) where N is the number of channels to subscribe to.",
        "Listens for messages published to channels.",
    ),
    CommandSpec::new("unsubscribe", -1, SUB, 0, NO_KEYS, unsubscribe).doc(
        "pubsub",
        "2.0.0",
        "O(N) where N is the number of channels to unsubscribe.",
        "Stops listening to messages posted to channels.",
    ),
    CommandSpec::new("psubscribe", -2, SUB, 0, NO_KEYS, psubscribe).doc(
        "pubsub",
        "2.0.0",
        "O(N) where N is the number of patterns to subscribe to.",
        "Listens for messages published to channels that match one or more patterns.",
    ),
    CommandSpec::new("punsubscribe", -1, SUB, 0, NO_KEYS, punsubscribe).doc(
        "pubsub",
        "2.0.0",
        "O(N) where N is the number of patterns to unsubscribe.",
        "Stops listening to messages published to channels that match one or more patterns.",
    ),
    CommandSpec::new("publish", 3, PUB, 0, NO_KEYS, publish).doc(
        "pubsub",
        "2.0.0",
        "O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total number of subscribed patterns (by any client).",
        "Posts a message to a channel.",
    ),
    CommandSpec::new("ssubscribe", -2, SUB, 0, key_range(1, -1, 1, ks::NOT_KEY), ssubscribe)
        .doc(
            "pubsub",
            "7.0.0",
            "O(N) where N is the number of shard channels to subscribe to.",
            "Listens for messages published to shard channels.",
        ),
    CommandSpec::new("sunsubscribe", -1, SUB, 0, key_range(1, -1, 1, ks::NOT_KEY), sunsubscribe)
        .doc(
            "pubsub",
            "7.0.0",
            "O(N) where N is the number of shard channels to unsubscribe.",
            "Stops listening to messages posted to shard channels.",
        ),
    CommandSpec::new("spublish", 3, PUB, 0, key(1, ks::NOT_KEY), spublish)
        .doc(
            "pubsub",
            "7.0.0",
            "O(N) where N is the number of clients subscribed to the receiving shard channel.",
            "Post a message to a shard channel",
        ),
    CommandSpec::new("pubsub", -2, 0, 0, NO_KEYS, pubsub_help)
        .doc("pubsub", "2.8.0", "Depends on subcommand.", "A container for Pub/Sub commands.")
        .subcommands(PUBSUB_SUBS),
];

// The ACL category `@pubsub` is derived from the PUBSUB flag; `acl` is 0 on every row.
const _: u64 = acl::PUBSUB;

/// MONITOR: from now on the client receives a line for every command the server runs (fed by
/// `dispatch::run`). A monitor already gets no reply; inside a transaction it is refused, as
/// Redis refuses clients that expect a reply per command.
fn monitor(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    if !ctx.unit.top_level() {
        return Err(CmdError::msg("ERR MONITOR isn't allowed for DENY BLOCKING client"));
    }
    if ctx.client.monitor {
        return Ok(());
    }
    let mb = mailbox(ctx);
    ctx.server.pubsub.add_monitor(&mb);
    ctx.client.monitor = true;
    ctx.client.info.monitor.store(true, std::sync::atomic::Ordering::Relaxed);
    ctx.out.ok();
    Ok(())
}

/// The client's mailbox, created at its first subscription.
fn mailbox(ctx: &mut Ctx) -> Arc<Mailbox> {
    let resp3 = ctx.client.resp == 3;
    let info = ctx.client.info.clone();
    ctx.client.pubsub.mailbox.get_or_insert_with(|| Mailbox::new(info, resp3)).clone()
}

/// One confirmation frame: `[kind, name-or-null, count]`.
fn confirm(ctx: &mut Ctx, kind: &[u8], name: Option<&[u8]>, count: usize) {
    ctx.out.push(3);
    ctx.out.bulk(kind);
    match name {
        Some(n) => ctx.out.bulk(n),
        None => ctx.out.null(),
    }
    ctx.out.int(count as i64);
    ctx.out.pushed();
}

fn count_for(ctx: &Ctx, kind: Kind) -> usize {
    match kind {
        Kind::Shard => ctx.client.pubsub.shard_count(),
        _ => ctx.client.pubsub.count(),
    }
}

fn subscribe_generic(ctx: &mut Ctx, args: &[&[u8]], kind: Kind, word: &[u8]) -> CmdResult {
    let mb = mailbox(ctx);
    for name in &args[1..] {
        if ctx.client.pubsub.insert(kind, name) {
            ctx.server.pubsub.add(kind, name, &mb);
        }
        let n = count_for(ctx, kind);
        confirm(ctx, word, Some(name), n);
    }
    sync_counts(ctx);
    Ok(())
}

/// Removes the listed subscriptions (all of `kind` when none are listed) and confirms each.
pub fn unsubscribe_generic(ctx: &mut Ctx, args: &[&[u8]], kind: Kind, word: &[u8]) -> CmdResult {
    let names: Vec<Box<[u8]>> =
        if args.len() > 1 { args[1..].iter().map(|a| Box::from(*a)).collect() } else { ctx.client.pubsub.list(kind) };
    if names.is_empty() {
        let n = count_for(ctx, kind);
        confirm(ctx, word, None, n);
        return Ok(());
    }
    let mb = ctx.client.pubsub.mailbox.clone();
    for name in &names {
        if ctx.client.pubsub.take(kind, name) {
            if let Some(mb) = &mb {
                ctx.server.pubsub.remove(kind, name, mb);
                // Messages published before the removal (another core's publisher may have
                // queued them while this command ran) go before the confirmation: none of
                // the channel's messages may follow it.
                mb.drain_into(&mut ctx.out.buf);
            }
        }
        let n = count_for(ctx, kind);
        confirm(ctx, word, Some(name), n);
    }
    sync_counts(ctx);
    Ok(())
}

fn subscribe(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    subscribe_generic(ctx, args, Kind::Channel, b"subscribe")
}

fn unsubscribe(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    unsubscribe_generic(ctx, args, Kind::Channel, b"unsubscribe")
}

fn psubscribe(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    subscribe_generic(ctx, args, Kind::Pattern, b"psubscribe")
}

fn punsubscribe(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    unsubscribe_generic(ctx, args, Kind::Pattern, b"punsubscribe")
}

fn ssubscribe(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    subscribe_generic(ctx, args, Kind::Shard, b"ssubscribe")
}

fn sunsubscribe(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    unsubscribe_generic(ctx, args, Kind::Shard, b"sunsubscribe")
}

fn publish(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let me = ctx.client.id;
    let before = ctx.out.len();
    let n = ctx.server.pubsub.publish(args[1], args[2], Some((me, &mut ctx.out.buf)));
    if ctx.out.len() > before {
        // The client's own copy (RESP3, subscribed to the channel): a push, kept when
        // replies are off.
        ctx.out.pushed();
    }
    ctx.out.int(n as i64);
    Ok(())
}

fn spublish(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let me = ctx.client.id;
    let before = ctx.out.len();
    let n = ctx.server.pubsub.spublish(args[1], args[2], Some((me, &mut ctx.out.buf)));
    if ctx.out.len() > before {
        // The client's own copy (RESP3, subscribed to the channel): a push, kept when
        // replies are off.
        ctx.out.pushed();
    }
    ctx.out.int(n as i64);
    Ok(())
}

fn sub_syntax(args: &[&[u8]]) -> CmdError {
    CmdError::msg(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
        String::from_utf8_lossy(args[1])
    ))
}

fn list_channels(ctx: &mut Ctx, args: &[&[u8]], kind: Kind) -> CmdResult {
    if args.len() > 3 {
        return Err(sub_syntax(args));
    }
    let chans = ctx.server.pubsub.channels(kind, args.get(2).copied());
    ctx.out.array(chans.len());
    for c in &chans {
        ctx.out.bulk(c);
    }
    Ok(())
}

fn numsub(ctx: &mut Ctx, args: &[&[u8]], kind: Kind) -> CmdResult {
    ctx.out.array((args.len() - 2) * 2);
    for c in &args[2..] {
        ctx.out.bulk(c);
        let n = ctx.server.pubsub.numsub(kind, c);
        ctx.out.int(n as i64);
    }
    Ok(())
}

fn pubsub_channels(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    list_channels(ctx, args, Kind::Channel)
}

fn pubsub_shardchannels(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    list_channels(ctx, args, Kind::Shard)
}

fn pubsub_numsub(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    numsub(ctx, args, Kind::Channel)
}

fn pubsub_shardnumsub(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    numsub(ctx, args, Kind::Shard)
}

fn pubsub_numpat(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let n = ctx.server.pubsub.numpat();
    ctx.out.int(n as i64);
    Ok(())
}

fn pubsub_help(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    help_reply(
        ctx.out,
        "PUBSUB",
        &[
            "CHANNELS [<pattern>]",
            "    The channels with at least one subscriber, those matching <pattern> if given.",
            "NUMPAT",
            "    How many distinct patterns have subscribers.",
            "NUMSUB [<channel> ...]",
            "    Each channel with its number of subscribers (pattern subscribers not counted).",
            "SHARDCHANNELS [<pattern>]",
            "    The shard channels with at least one subscriber, those matching <pattern> if given.",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Each shard channel with its number of subscribers.",
            "HELP",
            "    Print this help.",
        ],
    );
    Ok(())
}
