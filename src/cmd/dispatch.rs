//! Dispatch: from a parsed command to its reply.
//!
//! [`execute`] is the one entry point for a client's command: table lookup, subcommand
//! resolution, arity, authentication, MULTI queueing, shard locking, the handler, and
//! statistics. Everything a command needs to know about itself comes from its table row.
//!
//! ## Effects
//! [`run`] brackets every command in the execution unit of `ctx.unit` (`propagate::Unit`):
//! what the handler and the keyspace propagate is collected there (see `cmd::effects` for the
//! handlers' API), the keyspace's own effects are drained after the handler, and a successful
//! write that chose nothing else is propagated as received. The unit goes to the effects stream
//! when the top-level command returns, while its shards are still locked, so writes to the same
//! keys reach the stream in the order they ran. EXEC runs its commands through [`run`] inside
//! its own unit: a transaction is one unit, wrapped in `MULTI`/`EXEC` when it propagates more
//! than one command; no command is recognised by its name.

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
                    super::table::cmd_meta(sub).record_rejected();
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
        super::table::cmd_meta(spec).record_rejected();
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
    if let Some(i) = spec.keys.single() {
        // The common case: one key.
        return match args.get(i) {
            Some(key) => ks.lock_shards(&[ks.shard_of(key)]),
            None => ks.no_locks(),
        };
    }
    if !spec.keys.has_keys() {
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
    let meta = super::table::cmd_meta(spec);
    if !client.authenticated && !spec.has(flags::NO_AUTH) {
        meta.record_rejected();
        out.error("NOAUTH Authentication required.");
        if let Some(m) = client.multi.as_mut() {
            m.aborted = true;
        }
        return;
    }
    if spec.has(flags::PROTECTED) {
        let (name, directive) = if meta.full_name.starts_with("module|") {
            ("MODULE", "enable-module-command")
        } else {
            ("DEBUG", "enable-debug-command")
        };
        if !super::enabled_by(server, &client.info.peer, directive) {
            meta.record_rejected();
            out.error(&format!(
                "ERR {name} command not allowed. If the {directive} option is set to \"local\", you can run it \
                 from a local connection, otherwise you need to set this option in the configuration file, and \
                 then restart the server."
            ));
            if let Some(m) = client.multi.as_mut() {
                m.aborted = true;
            }
            return;
        }
    }
    // A monitor is a replica to Redis: it may not touch the keyspace.
    if client.monitor && (spec.has(flags::WRITE) || spec.has(flags::READONLY) || spec.has(flags::MAY_REPLICATE)) {
        meta.record_rejected();
        out.error("ERR Replica can't interact with the keyspace");
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
            m.queue(args);
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
        && blocked
            .waits_in_shards_of(&server.keyspace, spec.key_positions(args).iter().filter_map(|&i| args.get(i).copied()))
    {
        server.keyspace.lock_all()
    } else {
        lock_for(server, spec, args)
    };
    let clock_us = now_us();
    let mut ctx =
        Ctx { server, client, out, locks, now: clock_us / 1000, clock_us, unit: Default::default(), redacted: 0 };
    run(&mut ctx, spec, args);
    if blocked.ready_pending() {
        super::blocking::serve_ready(&mut ctx);
    }
}

/// Runs a resolved command with the locks already in `ctx` (EXEC calls this for each queued
/// command while holding every shard): the handler, its statistics, and its effects (see the
/// module comment).
pub fn run(ctx: &mut Ctx, spec: &CommandSpec, args: &[&[u8]]) {
    let meta = super::table::cmd_meta(spec);
    let saved = ctx.unit.enter(&ctx.server.effects);
    if spec.has(flags::TOUCHES_ARBITRARY_KEYS) && ctx.unit.top_level() {
        ctx.unit.split();
    }
    // Two clock readings per command, the first shared with `ctx.now`.
    let start = match std::mem::take(&mut ctx.clock_us) {
        0 => now_us(),
        t => t,
    };
    let mark = ctx.out.len();
    let redacted = std::mem::take(&mut ctx.redacted);
    let result = (spec.handler)(ctx, args);
    let duration = now_us().saturating_sub(start);
    meta.record_call(duration);
    if !ctx.client.internal {
        if crate::slowlog::wants(duration) && !spec.has(flags::SKIP_SLOWLOG) {
            slow(ctx, args, duration, start);
        }
        crate::latency::command(spec.has(flags::FAST), duration, start / 1_000_000);
        if ctx.server.pubsub.has_monitors() && !spec.has(flags::ADMIN) && !ctx.client.block.serving {
            feed_monitors(ctx, args);
        }
    }
    ctx.redacted = redacted;
    let write = spec.has(flags::WRITE);
    if result.is_ok() && write {
        crate::persist::note_write(ctx.server);
    }
    // A write that succeeded with a reply propagates as received unless it chose otherwise (a
    // blocking command that blocked replied nothing yet; it propagates when it is served).
    let as_received = result.is_ok() && write && ctx.out.len() > mark;
    if let Err(e) = result {
        meta.record_failed();
        debug_assert_eq!(ctx.out.len(), mark, "{} wrote a reply and then failed", spec.name);
        ctx.out.truncate(mark);
        ctx.out.error(&e.to_string());
    }
    // What the keyspace noticed by itself: propagated before the command, and this client's
    // copies of the events before its reply, as in Redis.
    ctx.publish_effects(Some(mark));
    let db = ctx.client.db;
    ctx.unit.leave(saved, &ctx.server.effects, as_received.then_some((db, args)));
}

/// Logs a slow command (`crate::slowlog`), its arguments as the client sent them but for those
/// the handler redacted. A command that blocks is logged when it is served (its run then:
/// Redis adds the time it waited), not when it blocks or has to keep waiting.
#[cold]
fn slow(ctx: &Ctx, args: &[&[u8]], duration: u64, start: u64) {
    if ctx.client.block.pending.is_some() || ctx.client.block.still_waiting {
        return;
    }
    let info = &ctx.client.info;
    crate::slowlog::push(
        duration,
        start / 1_000_000,
        args,
        |i| ctx.is_redacted(i),
        info.peer.addr_string(),
        info.attr(crate::client::Attr::Name).unwrap_or_default(),
    );
}

/// The MONITOR line of a command that ran: `+<unix time>.<µs> [<db> <client address>] "arg" ...`,
/// each argument quoted and escaped as Redis's `sdscatrepr`, redacted ones as `"(redacted)"`.
#[cold]
fn feed_monitors(ctx: &mut Ctx, args: &[&[u8]]) {
    let now = now_us();
    let info = &ctx.client.info;
    let addr = match &info.peer {
        crate::client::Peer::Unix { path } => format!("unix:{path}"),
        peer => peer.addr_string(),
    };
    let mut line = format!("+{}.{:06} [{} {}]", now / 1_000_000, now % 1_000_000, ctx.client.db, addr).into_bytes();
    for (i, a) in args.iter().enumerate() {
        line.push(b' ');
        let a: &[u8] = if ctx.is_redacted(i) { b"(redacted)" } else { a };
        repr(&mut line, a);
    }
    line.extend_from_slice(b"\r\n");
    let me = ctx.client.monitor.then_some((ctx.client.id, &mut ctx.out.buf));
    ctx.server.pubsub.feed_monitors(bytes::Bytes::from(line), me);
}

/// `s` quoted and escaped as Redis's `sdscatrepr`.
fn repr(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &c in s {
        match c {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(c),
            _ => out.extend_from_slice(format!("\\x{c:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

/// Replays the AOF's commands at start-up (`persist::aof::Replayer`): each runs through
/// [`execute`] for a client of its own, as Redis's fake AOF client. Replies are discarded; an
/// unknown command stops loading.
pub struct Replay<'s> {
    server: &'s Server,
    client: Client,
    out: Writer,
}

impl<'s> Replay<'s> {
    pub fn new(server: &'s Server) -> Replay<'s> {
        let info = server.clients.register(crate::client::Peer::Unix { path: "aof-loading".into() });
        let mut client = Client::new(info, true);
        client.internal = true;
        Replay { server, client, out: Writer::new(false) }
    }
}

impl crate::persist::aof::Replayer for Replay<'_> {
    fn command(&mut self, args: &[&[u8]]) -> Result<(), String> {
        self.out.truncate(0);
        execute(self.server, &mut self.client, &mut self.out, args);
        if self.out.buf.starts_with(b"-ERR unknown command") {
            return Err(format!("Unknown command '{}'", String::from_utf8_lossy(args[0])));
        }
        Ok(())
    }

    fn drop_transaction(&mut self) {
        self.client.multi = None;
    }
}

impl Drop for Replay<'_> {
    fn drop(&mut self) {
        self.server.clients.unregister(self.client.id);
    }
}
