//! Connection commands: PING, ECHO, QUIT, SELECT, RESET, AUTH, HELLO and CLIENT (ID, SETNAME,
//! GETNAME, LIST, INFO, SETINFO, KILL, NO-EVICT, NO-TOUCH, REPLY, HELP).
//!
//! Authentication knows one user, `default`, whose password is `requirepass` (no password:
//! any password is accepted for `default`, as Redis's `nopass` user).
//!
//! Differences from Redis: CLIENT LIST's memory fields (`qbuf-free`, `rbs`, `rbp`, `tot-mem`,
//! ...) are this connection's real buffer sizes, not Redis's (`qbuf`, `argv-mem` and `multi-mem`
//! are Redis's); CLIENT LIST/KILL TYPE know `normal` and `pubsub`
//! clients (a client is `pubsub` while it has a subscription; no replicas yet);
//! CLIENT PAUSE/UNPAUSE/TRACKING/CACHING/UNBLOCK/GETREDIR are not implemented; the HELP text is
//! redstart's own wording.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::reply::help_reply;
use super::session::{unsubscribe_all, unwatch_all};
use super::table::last_cmd_name;
use super::{acl, args, flags::*, CmdError, CmdResult, CommandSpec, Ctx, NO_KEYS, REDIS_VERSION};
use crate::client::{Attr, ClientInfo, ReplyMode, Running};

const CONN: u32 = NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY;

const CLIENT_SUBS: &[CommandSpec] =
    &[
        CommandSpec::new("id", 2, NOSCRIPT | LOADING | STALE, acl::CONNECTION, NO_KEYS, client_id).doc(
            "connection",
            "5.0.0",
            "O(1)",
            "Returns the unique client ID of the connection.",
        ),
        CommandSpec::new("setname", 3, NOSCRIPT | LOADING | STALE, acl::CONNECTION, NO_KEYS, client_setname).doc(
            "connection",
            "2.6.9",
            "O(1)",
            "Sets the connection name.",
        ),
        CommandSpec::new("getname", 2, NOSCRIPT | LOADING | STALE, acl::CONNECTION, NO_KEYS, client_getname).doc(
            "connection",
            "2.6.9",
            "O(1)",
            "Returns the name of the connection.",
        ),
        CommandSpec::new("list", -2, ADMIN | NOSCRIPT | LOADING | STALE, acl::CONNECTION, NO_KEYS, client_list)
            .doc("connection", "2.4.0", "O(N) where N is the number of client connections", "Lists open connections.")
            .tips(&["nondeterministic_output"]),
        CommandSpec::new("info", 2, NOSCRIPT | LOADING | STALE, acl::CONNECTION, NO_KEYS, client_info)
            .doc("connection", "6.2.0", "O(1)", "Returns information about the connection.")
            .tips(&["nondeterministic_output"]),
        CommandSpec::new("setinfo", 4, NOSCRIPT | LOADING | STALE, acl::CONNECTION, NO_KEYS, client_setinfo).doc(
            "connection",
            "7.2.0",
            "O(1)",
            "Sets information specific to the client or connection.",
        ),
        CommandSpec::new("kill", -3, ADMIN | NOSCRIPT | LOADING | STALE, acl::CONNECTION, NO_KEYS, client_kill).doc(
            "connection",
            "2.4.0",
            "O(N) where N is the number of client connections",
            "Terminates open connections.",
        ),
        CommandSpec::new("no-evict", 3, ADMIN | NOSCRIPT | LOADING | STALE, acl::CONNECTION, NO_KEYS, client_no_evict)
            .doc("connection", "7.0.0", "O(1)", "Sets the client eviction mode of the connection."),
        CommandSpec::new("no-touch", 3, NOSCRIPT | LOADING | STALE, acl::CONNECTION, NO_KEYS, client_no_touch).doc(
            "connection",
            "7.2.0",
            "O(1)",
            "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.",
        ),
        CommandSpec::new(
            "unblock",
            -3,
            ADMIN | NOSCRIPT | LOADING | STALE,
            acl::CONNECTION,
            NO_KEYS,
            super::blocking::client_unblock,
        )
        .doc(
            "connection",
            "5.0.0",
            "O(log N) where N is the number of client connections",
            "Unblocks a client blocked by a blocking command from a different connection.",
        ),
        CommandSpec::new("reply", 3, NOSCRIPT | LOADING | STALE, acl::CONNECTION, NO_KEYS, client_reply).doc(
            "connection",
            "3.2.0",
            "O(1)",
            "Instructs the server whether to reply to commands.",
        ),
        CommandSpec::new("help", 2, LOADING | STALE, acl::CONNECTION, NO_KEYS, client_help).doc(
            "connection",
            "5.0.0",
            "O(1)",
            "Returns helpful text about the different subcommands.",
        ),
    ];

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("ping", -1, FAST, acl::CONNECTION, NO_KEYS, ping)
        .doc("connection", "1.0.0", "O(1)", "Returns the server's liveliness response.")
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"]),
    CommandSpec::new("echo", 2, LOADING | STALE | FAST, acl::CONNECTION, NO_KEYS, echo).doc(
        "connection",
        "1.0.0",
        "O(1)",
        "Returns the given string.",
    ),
    CommandSpec::new("quit", -1, CONN, acl::CONNECTION, NO_KEYS, quit).doc(
        "connection",
        "1.0.0",
        "O(1)",
        "Closes the connection.",
    ),
    CommandSpec::new("select", 2, LOADING | STALE | FAST, acl::CONNECTION, NO_KEYS, select).doc(
        "connection",
        "2.0.0",
        "O(1)",
        "Changes the selected database.",
    ),
    CommandSpec::new("reset", 1, CONN, acl::CONNECTION, NO_KEYS, reset).doc(
        "connection",
        "6.2.0",
        "O(1)",
        "Resets the connection.",
    ),
    CommandSpec::new("auth", -2, CONN, acl::CONNECTION, NO_KEYS, auth).doc(
        "connection",
        "1.0.0",
        "O(N) where N is the number of passwords defined for the user",
        "Authenticates the connection.",
    ),
    CommandSpec::new("hello", -1, CONN, acl::CONNECTION, NO_KEYS, hello).doc(
        "connection",
        "6.0.0",
        "O(1)",
        "Handshakes with the Redis server.",
    ),
    CommandSpec::new("client", -2, 0, 0, NO_KEYS, client_help)
        .doc("connection", "2.4.0", "Depends on subcommand.", "A container for client connection commands.")
        .subcommands(CLIENT_SUBS),
];

fn ping(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if args.len() <= 2 && ctx.client.resp == 2 && ctx.client.pubsub.active() {
        // RESP2 subscribed mode: a `pong` frame shaped like a message.
        ctx.out.array(2);
        ctx.out.bulk(b"pong");
        ctx.out.bulk(args.get(1).copied().unwrap_or(b""));
        return Ok(());
    }
    match args.len() {
        1 => ctx.out.simple("PONG"),
        2 => ctx.out.bulk(args[1]),
        _ => return Err(CmdError::WrongArity("ping".into())),
    }
    Ok(())
}

fn echo(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    ctx.out.bulk(args[1]);
    Ok(())
}

fn quit(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.client.close_after_reply = true;
    ctx.out.ok();
    Ok(())
}

fn select(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let db = args::int(args[1]).map_err(|_| CmdError::msg("ERR value is not an integer or out of range"))?;
    if db < 0 || db as usize >= ctx.server.keyspace.databases() {
        return Err(CmdError::msg("ERR DB index is out of range"));
    }
    ctx.client.select(db as usize);
    ctx.out.ok();
    Ok(())
}

/// Back to a fresh connection's state: no MULTI, no WATCH, db 0, RESP2, no name, replies on,
/// not authenticated if a password is required.
fn reset(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.client.multi = None;
    ctx.locks.release();
    unwatch_all(ctx.server, ctx.client);
    unsubscribe_all(ctx);
    ctx.client.select(0);
    ctx.client.set_resp(2);
    ctx.out.resp3 = false;
    ctx.client.info.set_attr(Attr::Name, b"");
    ctx.client.reply_mode = ReplyMode::On;
    ctx.client.reply_skip = 0;
    ctx.client.info.no_evict.store(false, Ordering::Relaxed);
    ctx.client.info.no_touch.store(false, Ordering::Relaxed);
    ctx.client.authenticated = ctx.server.config.read().requirepass.is_none();
    ctx.out.simple("RESET");
    Ok(())
}

const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

/// Checks `user`/`pass` against the default user; true when they authenticate.
fn check_password(ctx: &Ctx, user: &[u8], pass: &[u8]) -> bool {
    if user != b"default" {
        return false;
    }
    match &ctx.server.config.read().requirepass {
        None => true,
        // Compare in constant time with respect to the content, as Redis does.
        Some(pw) => pw.len() == pass.len() && pw.iter().zip(pass).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0,
    }
}

fn auth(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    // The password (and the user name with it) never reaches the slow log.
    if args.len() <= 3 {
        for i in 1..args.len() {
            ctx.redact(i);
        }
    }
    let (user, pass): (&[u8], &[u8]) = match args.len() {
        2 => {
            if ctx.server.config.read().requirepass.is_none() {
                return Err(CmdError::msg(
                    "ERR AUTH <password> called without any password configured for the default user. \
                     Are you sure your configuration is correct?",
                ));
            }
            (b"default", args[1])
        }
        3 => (args[1], args[2]),
        _ => return Err(CmdError::Syntax),
    };
    if !check_password(ctx, user, pass) {
        return Err(CmdError::msg(WRONGPASS));
    }
    ctx.client.authenticated = true;
    ctx.out.ok();
    Ok(())
}

/// Client names and library attributes: printable ASCII without spaces.
fn valid_attr(v: &[u8]) -> bool {
    v.iter().all(|&b| (b'!'..=b'~').contains(&b))
}

fn set_name(ctx: &mut Ctx, name: &[u8]) -> CmdResult {
    if !valid_attr(name) {
        return Err(CmdError::msg("ERR Client names cannot contain spaces, newlines or special characters."));
    }
    ctx.client.info.set_attr(Attr::Name, name);
    Ok(())
}

fn hello(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut proto = ctx.client.resp;
    if args.len() >= 2 {
        let v =
            args::int(args[1]).map_err(|_| CmdError::msg("ERR Protocol version is not an integer or out of range"))?;
        if !(2..=3).contains(&v) {
            return Err(CmdError::msg("NOPROTO unsupported protocol version"));
        }
        proto = v as u8;
    }
    let mut creds: Option<(&[u8], &[u8])> = None;
    let mut name: Option<&[u8]> = None;
    let mut c = args::Cursor::new(args, 2);
    while let Some(a) = c.peek() {
        let at = c.pos();
        if let Some(v) = c.values_of("auth", 2) {
            ctx.redact(at + 1);
            ctx.redact(at + 2);
            creds = Some((v[0], v[1]));
        } else if let Some(v) = c.value_of("setname") {
            name = Some(v);
        } else {
            return Err(CmdError::msg(format!("ERR Syntax error in HELLO option '{}'", String::from_utf8_lossy(a))));
        }
    }
    if let Some((user, pass)) = creds {
        if !check_password(ctx, user, pass) {
            return Err(CmdError::msg(WRONGPASS));
        }
        ctx.client.authenticated = true;
    }
    if !ctx.client.authenticated {
        return Err(CmdError::msg(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO \
             AUTH <user> <pass> option can be used to authenticate the client and select the RESP \
             protocol version at the same time",
        ));
    }
    if let Some(n) = name {
        set_name(ctx, n)?;
    }
    // The reply already speaks the new protocol, as do the following ones.
    ctx.client.set_resp(proto);
    ctx.out.resp3 = proto == 3;
    let out = &mut *ctx.out;
    out.map(7);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.int(proto as i64);
    out.bulk(b"id");
    out.int(ctx.client.id as i64);
    out.bulk(b"mode");
    out.bulk(b"standalone");
    out.bulk(b"role");
    out.bulk(b"master");
    out.bulk(b"modules");
    out.array(0);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// CLIENT

fn client_id(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.out.int(ctx.client.id as i64);
    Ok(())
}

fn client_setname(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    set_name(ctx, args[2])?;
    ctx.out.ok();
    Ok(())
}

fn client_getname(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let name = ctx.client.info.attr(Attr::Name);
    match name {
        Some(n) => ctx.out.bulk(&n),
        None => ctx.out.null(),
    }
    Ok(())
}

/// A client's CLIENT LIST line; the calling client's own is described as it is while this
/// command runs, as Redis does: its query buffer holds the command, and its pending replies
/// include what the command (or the EXEC running it) wrote so far.
fn describe(ctx: &Ctx, info: &ClientInfo) -> String {
    let running = (info.id == ctx.client.id).then(|| Running {
        obuf: ctx.out.len(),
        obuf_cap: ctx.out.buf.capacity(),
        ..ctx.client.running
    });
    info.describe(last_cmd_name(info.last_cmd.load(Ordering::Relaxed)), running)
}

/// Client types of CLIENT LIST/KILL TYPE: `Some(pubsub?)` for the types redstart clients can
/// have (`normal`, `pubsub`), `None` for types no client has (master, replica).
fn parse_type(t: &[u8]) -> Result<Option<bool>, CmdError> {
    if args::is(t, "normal") {
        Ok(Some(false))
    } else if args::is(t, "pubsub") {
        Ok(Some(true))
    } else if ["master", "replica", "slave"].iter().any(|k| args::is(t, k)) {
        Ok(None)
    } else {
        Err(CmdError::msg(format!("ERR Unknown client type '{}'", String::from_utf8_lossy(t))))
    }
}

/// Whether a client is of the type `parse_type` returned.
fn is_type(c: &ClientInfo, t: Option<bool>) -> bool {
    let pubsub = c.subs.iter().any(|n| n.load(Ordering::Relaxed) > 0);
    t == Some(pubsub)
}

fn client_list(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut clients = ctx.server.clients.all();
    if args.len() == 4 && args::is(args[2], "type") {
        let t = parse_type(args[3])?;
        clients.retain(|c| is_type(c, t));
    } else if args.len() >= 4 && args::is(args[2], "id") {
        let mut ids = Vec::with_capacity(args.len() - 3);
        for a in &args[3..] {
            // Any integer is accepted (ids below 1 match nobody); only non-integers fail.
            match args::int(a) {
                Ok(id) => ids.push(id),
                Err(_) => return Err(CmdError::msg("ERR Invalid client ID")),
            }
        }
        clients.retain(|c| ids.contains(&(c.id as i64)));
    } else if args.len() != 2 {
        return Err(CmdError::Syntax);
    }
    let mut text = String::with_capacity(clients.len() * 300);
    for c in &clients {
        text.push_str(&describe(ctx, c));
        text.push('\n');
    }
    ctx.out.verbatim("txt", text.as_bytes());
    Ok(())
}

fn client_info(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let mut line = describe(ctx, &ctx.client.info);
    line.push('\n');
    ctx.out.verbatim("txt", line.as_bytes());
    Ok(())
}

fn client_setinfo(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (slot, attr) = if args::is(args[2], "lib-name") {
        (Attr::LibName, "lib-name")
    } else if args::is(args[2], "lib-ver") {
        (Attr::LibVer, "lib-ver")
    } else {
        return Err(CmdError::msg(format!("ERR Unrecognized option '{}'", String::from_utf8_lossy(args[2]))));
    };
    let v = args[3];
    if !valid_attr(v) {
        return Err(CmdError::msg(format!("ERR {attr} cannot contain spaces, newlines or special characters.")));
    }
    ctx.client.info.set_attr(slot, v);
    ctx.out.ok();
    Ok(())
}

/// The filters of `CLIENT KILL <option> <value> ...`.
#[derive(Default)]
struct KillFilter {
    id: Option<u64>,
    addr: Option<Vec<u8>>,
    laddr: Option<Vec<u8>>,
    /// Some(type) when filtering by type (see `parse_type`).
    kind: Option<Option<bool>>,
    skipme: bool,
}

impl KillFilter {
    fn matches(&self, c: &ClientInfo, me: u64) -> bool {
        (!self.skipme || c.id != me)
            && self.id.is_none_or(|id| c.id == id)
            && self.addr.as_ref().is_none_or(|a| c.peer.addr_string().as_bytes() == a.as_slice())
            && self.laddr.as_ref().is_none_or(|a| c.peer.local_string().as_bytes() == a.as_slice())
            && self.kind.is_none_or(|t| is_type(c, t))
    }
}

fn client_kill(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let me = ctx.client.id;
    if args.len() == 3 {
        // Old form: CLIENT KILL ip:port, the client itself included.
        let target = ctx.server.clients.all().into_iter().find(|c| c.peer.addr_string().as_bytes() == args[2]);
        let Some(c) = target else { return Err(CmdError::msg("ERR No such client")) };
        c.kill();
        ctx.out.ok();
        return Ok(());
    }
    if !args.len().is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    let mut f = KillFilter { skipme: true, ..Default::default() };
    for pair in args[2..].chunks(2) {
        let (opt, v) = (pair[0], pair[1]);
        if args::is(opt, "id") {
            match args::int(v) {
                Ok(id) if id > 0 => f.id = Some(id as u64),
                _ => return Err(CmdError::msg("ERR client-id should be greater than 0")),
            }
        } else if args::is(opt, "type") {
            f.kind = Some(parse_type(v)?);
        } else if args::is(opt, "addr") {
            f.addr = Some(v.to_vec());
        } else if args::is(opt, "laddr") {
            f.laddr = Some(v.to_vec());
        } else if args::is(opt, "user") {
            if v != b"default" {
                return Err(CmdError::msg(format!("ERR No such user '{}'", String::from_utf8_lossy(v))));
            }
        } else if args::is(opt, "skipme") {
            if args::is(v, "yes") {
                f.skipme = true;
            } else if args::is(v, "no") {
                f.skipme = false;
            } else {
                return Err(CmdError::Syntax);
            }
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let victims: Vec<Arc<ClientInfo>> = ctx.server.clients.all().into_iter().filter(|c| f.matches(c, me)).collect();
    for c in &victims {
        c.kill();
    }
    ctx.out.int(victims.len() as i64);
    Ok(())
}

fn on_off(v: &[u8]) -> Result<bool, CmdError> {
    if args::is(v, "on") {
        Ok(true)
    } else if args::is(v, "off") {
        Ok(false)
    } else {
        Err(CmdError::Syntax)
    }
}

fn client_no_evict(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let on = on_off(args[2])?;
    ctx.client.info.no_evict.store(on, Ordering::Relaxed);
    ctx.out.ok();
    Ok(())
}

fn client_no_touch(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let on = on_off(args[2])?;
    ctx.client.info.no_touch.store(on, Ordering::Relaxed);
    ctx.out.ok();
    Ok(())
}

fn client_reply(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let v = args[2];
    if args::is(v, "on") {
        ctx.client.reply_mode = ReplyMode::On;
        ctx.client.reply_skip = 0;
        ctx.out.ok();
    } else if args::is(v, "off") {
        ctx.client.reply_mode = ReplyMode::Off;
    } else if args::is(v, "skip") {
        // SKIP while OFF keeps replies off.
        if ctx.client.reply_mode != ReplyMode::Off {
            ctx.client.reply_mode = ReplyMode::Skip;
            ctx.client.reply_skip = 2;
        }
    } else {
        return Err(CmdError::Syntax);
    }
    Ok(())
}

fn client_help(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    help_reply(
        ctx.out,
        "CLIENT",
        &[
            "GETNAME",
            "    The name of this connection.",
            "ID",
            "    The ID of this connection.",
            "INFO",
            "    Details of this connection, in the CLIENT LIST format.",
            "KILL <ip:port>",
            "    Close the connection from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Close the connections matching every filter. Filters:",
            "    * ID <client-id>",
            "    * ADDR (<ip:port>|<unixsocket>:0)",
            "    * LADDR (<ip:port>|<unixsocket>:0)",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "    * USER <username>",
            "    * SKIPME (YES|NO)  (default YES: never this connection)",
            "LIST [TYPE (NORMAL|MASTER|REPLICA|PUBSUB)] [ID <client-id> [...]]",
            "    Details of the connections, one per line.",
            "NO-EVICT (ON|OFF)",
            "    Exempt this connection from client eviction.",
            "NO-TOUCH (ON|OFF)",
            "    Whether this connection's commands leave the keys' LRU/LFU alone.",
            "REPLY (ON|OFF|SKIP)",
            "    Turn the replies to this connection on or off, or skip the next one.",
            "SETINFO (LIB-NAME|LIB-VER) <value>",
            "    Record the client library's name or version.",
            "SETNAME <name>",
            "    Name this connection.",
            "HELP",
            "    Print this help.",
        ],
    );
    Ok(())
}
