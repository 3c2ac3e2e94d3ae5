//! Dispatch: from a parsed command to its reply.
//!
//! [`execute`] is the one entry point for a client's command: table lookup, subcommand
//! resolution, arity, authentication, MULTI queueing, shard locking, the handler, and
//! statistics. Everything a command needs to know about itself comes from its table row.
//!
//! ## Propagation
//! [`run`] is the one propagation point: after a write command succeeded, with its shards still
//! locked, it hands what the command changed to the AOF (and, later, to replicas). By default a
//! command propagates as received, after `persist::aof::rewrite` turned relative expiries into
//! absolute ones. A handler whose effect is not reproduced by re-running it (a random pop, a
//! generated ID, a float result, a delivery time) or that changed nothing says what to propagate
//! instead with [`Ctx::propagate`] (one or more commands, as Redis's `alsoPropagate`) or
//! [`Ctx::propagate_nothing`]. Several commands from one command are wrapped in `MULTI`/`EXEC`;
//! the commands of a transaction are collected until its EXEC returns and written as one
//! `MULTI` … `EXEC` (a single command unwrapped, nothing when nothing was written: as Redis).
//! Keys found expired are logged as `DEL key` before the command that found them.

use std::sync::atomic::Ordering;

use super::table::{subcommand, table};
use super::{flags, CmdError, CommandSpec, Ctx};
use crate::client::Client;
use crate::clock::now_us;
use crate::db::Locks;
use crate::server::Server;
use resp::Writer;

/// Writes `ERR unknown command '<name>', with args beginning with: '<a1>' '<a2>' ` as Redis does
/// (each part cut at 128 bytes).
fn unknown_command(out: &mut Writer, args: &[&[u8]]) {
    let mut msg = b"ERR unknown command '".to_vec();
    msg.extend_from_slice(&args[0][..args[0].len().min(128)]);
    msg.extend_from_slice(b"', with args beginning with: ");
    let mut quoted = Vec::new();
    for a in &args[1..] {
        if quoted.len() >= 128 {
            break;
        }
        let room = 128 - quoted.len();
        quoted.push(b'\'');
        quoted.extend_from_slice(&a[..a.len().min(room)]);
        quoted.extend_from_slice(b"' ");
    }
    msg.extend_from_slice(&quoted);
    out.error_bytes(&msg);
}

/// Resolves `args` to the spec that runs it (a subcommand for container commands) or writes
/// the error Redis gives (unknown command or subcommand, wrong arity) and returns `None`.
pub fn resolve(out: &mut Writer, args: &[&[u8]]) -> Option<&'static CommandSpec> {
    let Some(spec) = table().get(args[0]) else {
        unknown_command(out, args);
        return None;
    };
    let arity_ok =
        |s: &CommandSpec| if s.arity > 0 { args.len() == s.arity as usize } else { args.len() >= (-s.arity) as usize };
    if !spec.subcommands.is_empty() && args.len() >= 2 {
        match subcommand(spec, args[1]) {
            Some(sub) => {
                if !arity_ok(sub) {
                    super::server::cmd_meta(sub).record_rejected();
                    out.error(&CmdError::WrongArity(format!("{}|{}", spec.name, sub.name)).to_string());
                    return None;
                }
                return Some(sub);
            }
            None => {
                let mut msg = b"ERR unknown subcommand '".to_vec();
                msg.extend_from_slice(&args[1][..args[1].len().min(128)]);
                msg.extend_from_slice(format!("'. Try {} HELP.", spec.name.to_ascii_uppercase()).as_bytes());
                out.error_bytes(&msg);
                return None;
            }
        }
    }
    if !arity_ok(spec) {
        super::server::cmd_meta(spec).record_rejected();
        out.error(&CmdError::WrongArity(spec.name.to_string()).to_string());
        return None;
    }
    Some(spec)
}

/// Locks the shards `spec` needs for `args`.
pub fn lock_for<'a>(server: &'a Server, spec: &CommandSpec, args: &[&[u8]]) -> Locks<'a> {
    let ks = &server.keyspace;
    if spec.has(flags::ALL_SHARDS) {
        return ks.lock_all();
    }
    let k = spec.keys;
    if k.finder.is_none() && k.first > 0 && k.first == k.last {
        // The common case: one key.
        return match args.get(k.first as usize) {
            Some(key) => ks.lock_shards(&[ks.shard_of(key)]),
            None => ks.no_locks(),
        };
    }
    if k.first <= 0 && k.finder.is_none() {
        return ks.no_locks();
    }
    let positions = spec.key_positions(args);
    ks.lock_keys(positions.iter().filter_map(|&i| args.get(i).copied()))
}

/// Commands that run immediately even inside MULTI.
fn runs_inside_multi(spec: &CommandSpec) -> bool {
    matches!(spec.name, "exec" | "discard" | "multi" | "watch" | "quit" | "reset")
}

/// Commands a RESP2 client may send while it is subscribed.
fn allowed_when_subscribed(spec: &CommandSpec) -> bool {
    matches!(
        spec.name,
        "subscribe"
            | "unsubscribe"
            | "psubscribe"
            | "punsubscribe"
            | "ssubscribe"
            | "sunsubscribe"
            | "ping"
            | "quit"
            | "reset"
    )
}

/// Runs one command from a client and appends its reply to `out`.
pub fn execute(server: &Server, client: &mut Client, out: &mut Writer, args: &[&[u8]]) {
    if args.is_empty() {
        return;
    }
    let Some(spec) = resolve(out, args) else {
        if let Some(m) = client.multi.as_mut() {
            m.aborted = true;
        }
        return;
    };
    let meta = super::server::cmd_meta(spec);
    if !client.authenticated && !spec.has(flags::NO_AUTH) {
        meta.record_rejected();
        out.error("NOAUTH Authentication required.");
        if let Some(m) = client.multi.as_mut() {
            m.aborted = true;
        }
        return;
    }
    client.info.last_cmd.store(meta.index, Ordering::Relaxed);
    if client.resp == 2 && client.pubsub.active() && !allowed_when_subscribed(spec) {
        // RESP2 subscribed mode: the connection only carries subscription traffic.
        meta.record_rejected();
        out.error(&format!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            meta.full_name
        ));
        if let Some(m) = client.multi.as_mut() {
            m.aborted = true;
        }
        return;
    }
    // maxmemory: evict, or refuse deny-oom commands (before MULTI queueing, as Redis does).
    if super::memory::before_command(server, client, out, spec) {
        return;
    }
    // The last BGSAVE failed and stop-writes-on-bgsave-error is on, or the AOF cannot be
    // written: writes are refused (Redis refuses PING too).
    let refusal = if !(spec.has(flags::WRITE) || spec.name == "ping") {
        None
    } else if crate::persist::writes_refused(server) {
        Some(crate::persist::MISCONF.to_string())
    } else {
        crate::persist::aof::write_refusal()
    };
    if let Some(msg) = refusal {
        meta.record_rejected();
        out.error(&msg);
        if let Some(m) = client.multi.as_mut() {
            m.aborted = true;
        }
        return;
    }
    if let Some(m) = client.multi.as_mut() {
        if !runs_inside_multi(spec) {
            if spec.has(flags::NO_MULTI) {
                meta.record_rejected();
                out.error("ERR Command not allowed inside a transaction");
                m.aborted = true;
                return;
            }
            m.queued.push(args.iter().map(|a| a.to_vec()).collect());
            out.simple("QUEUED");
            return;
        }
    }
    client.block.may_block = spec.has(flags::BLOCKING);
    let blocked = &server.keyspace.blocked;
    // A write to a shard where clients are blocked takes every shard, so that serving the keys
    // it makes ready happens before any other command (see `blocking`).
    let locks = if blocked.any()
        && spec.has(flags::WRITE)
        && blocked.waits_in_shards_of(&server.keyspace, spec.key_positions(args).iter().filter_map(|&i| args.get(i).copied()))
    {
        server.keyspace.lock_all()
    } else {
        lock_for(server, spec, args)
    };
    let clock_us = now_us();
    let mut ctx = Ctx { server, client, out, locks, now: clock_us / 1000, clock_us, prop: Propagation::default() };
    run(&mut ctx, spec, args);
    if blocked.ready_pending() {
        super::blocking::serve_ready(&mut ctx);
    }
}

/// What the running command propagates instead of itself, and the transaction being collected
/// (the `prop` field of [`Ctx`]). Empty vectors: nothing is allocated unless a handler overrides.
#[derive(Default)]
pub struct Propagation {
    /// The running command replaced its propagation with `cmds` (empty: nothing).
    overridden: bool,
    cmds: Vec<Vec<Vec<u8>>>,
    /// Inside EXEC (AOF on): every command the transaction propagates, with its database.
    txn: Option<Vec<(usize, Vec<Vec<u8>>)>>,
}

impl Ctx<'_> {
    /// Propagates `args` instead of the command being run (call it again to propagate several
    /// commands, in order; they are wrapped in `MULTI`/`EXEC`).
    pub fn propagate<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        if crate::persist::aof::enabled() {
            self.prop.overridden = true;
            self.prop.cmds.push(args.iter().map(|a| a.as_ref().to_vec()).collect());
        }
    }

    /// The command being run changed nothing: propagate nothing (anything passed to
    /// [`Ctx::propagate`] before is dropped).
    pub fn propagate_nothing(&mut self) {
        self.prop.overridden = true;
        self.prop.cmds.clear();
    }

    /// Whether propagation is on (handlers may skip building what they would propagate).
    pub fn propagating(&self) -> bool {
        crate::persist::aof::enabled()
    }
}

/// Runs a resolved command with the locks already in `ctx` (EXEC calls this for each queued
/// command while holding every shard).
pub fn run(ctx: &mut Ctx, spec: &CommandSpec, args: &[&[u8]]) {
    let meta = super::server::cmd_meta(spec);
    let aof = crate::persist::aof::enabled();
    if aof {
        ctx.prop.overridden = false;
        ctx.prop.cmds.clear();
        if spec.name == "exec" && ctx.prop.txn.is_none() {
            ctx.prop.txn = Some(Vec::new());
        }
    }
    // Two clock readings per command, the first shared with `ctx.now`.
    let start = match std::mem::take(&mut ctx.clock_us) {
        0 => now_us(),
        t => t,
    };
    let mark = ctx.out.len();
    let result = (spec.handler)(ctx, args);
    meta.record_call(now_us().saturating_sub(start));
    if result.is_ok() && spec.has(super::flags::WRITE) {
        crate::persist::note_write(ctx.server);
    }
    if aof {
        propagate(ctx, spec, args, result.is_ok() && ctx.out.len() > mark);
    }
    if let Err(e) = result {
        meta.record_failed();
        debug_assert_eq!(ctx.out.len(), mark, "{} wrote a reply and then failed", spec.name);
        ctx.out.truncate(mark);
        ctx.out.error(&e.to_string());
    }
    // Keyspace events the keyspace queued itself (lazy `expired`, `new`, `keymiss`) and the
    // command did not publish yet: a copy for this client goes before its reply, as in Redis.
    if crate::notify::any() {
        crate::notify::flush_pending_before(ctx, mark);
    }
}

/// The propagation point (see the module comment): `wrote` is whether a write command
/// succeeded with a reply (a blocking command that blocked replied nothing yet; it propagates
/// when it is served).
fn propagate(ctx: &mut Ctx, spec: &CommandSpec, args: &[&[u8]], wrote: bool) {
    use crate::persist::aof;
    let server = ctx.server;
    let expired = aof::take_lazy_expired();
    for (db, key) in expired {
        let del = vec![b"DEL".to_vec(), key];
        match ctx.prop.txn.as_mut() {
            Some(t) => t.push((db, del)),
            None => aof::feed(server, |b| b.cmd(db, &del)),
        }
    }
    let overridden = std::mem::take(&mut ctx.prop.overridden);
    if wrote && spec.has(super::flags::WRITE) {
        let db = ctx.client.db;
        if overridden {
            let cmds = std::mem::take(&mut ctx.prop.cmds);
            match ctx.prop.txn.as_mut() {
                Some(t) => t.extend(cmds.into_iter().map(|c| (db, c))),
                None => aof::feed(server, |b| {
                    let wrap = cmds.len() > 1;
                    if wrap {
                        b.multi(db);
                    }
                    for c in &cmds {
                        b.cmd(db, c);
                    }
                    if wrap {
                        b.exec();
                    }
                }),
            }
        } else {
            let rewritten = aof::rewrite(spec.name, args, ctx.now);
            match (ctx.prop.txn.as_mut(), rewritten) {
                (Some(t), Some(v)) => t.push((db, v)),
                (Some(t), None) => t.push((db, args.iter().map(|a| a.to_vec()).collect())),
                (None, Some(v)) => aof::feed(server, |b| b.cmd(db, &v)),
                (None, None) => aof::feed(server, |b| b.cmd(db, args)),
            }
        }
    }
    ctx.prop.cmds.clear();
    if spec.name == "exec" {
        if let Some(t) = ctx.prop.txn.take() {
            aof::feed(server, |b| {
                let wrap = t.len() > 1;
                if wrap {
                    b.multi(t[0].0);
                }
                for (db, c) in &t {
                    b.cmd(*db, c);
                }
                if wrap {
                    b.exec();
                }
            });
        }
    }
}
