//! The persistence command family: SAVE, BGSAVE [SCHEDULE], BGREWRITEAOF, DUMP, RESTORE.
//! (LASTSAVE and SHUTDOWN live with the server family; the machinery is in `persist`.)
//!
//! BGSAVE and BGREWRITEAOF fork a child that writes a point-in-time image (`persist::fork`);
//! only one child runs at a time. As in Redis, BGSAVE SCHEDULE and BGREWRITEAOF while another
//! child runs (or inside MULTI/EXEC) are scheduled and started by the persistence cron.
//!
//! Differences from Redis:
//! - BGREWRITEAOF answers an error when the AOF was not on at start-up (Redis rewrites anyway).
//! - DUMP of a stream key writes it as Redis 7.0 does (see `persist::rdb`).
//! - RESTORE's IDLETIME and FREQ set the idle time (LRU policies) or the LFU counter (LFU policies).

use super::args::{self, Cursor};
use super::{acl, flags::*, key, ks, CmdError, CmdResult, CommandSpec, Ctx, NO_KEYS};
use crate::db::value::Value;
use crate::notify;
use crate::persist::{self, rdb};

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("save", 1, ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI, acl::DANGEROUS, NO_KEYS, save).doc(
        "server",
        "1.0.0",
        "O(N) where N is the total number of keys in all databases",
        "Synchronously saves the database(s) to disk.",
    ),
    CommandSpec::new("bgsave", -1, ADMIN | NOSCRIPT | NO_ASYNC_LOADING, acl::DANGEROUS, NO_KEYS, bgsave).doc(
        "server",
        "1.0.0",
        "O(1)",
        "Asynchronously saves the database(s) to disk.",
    ),
    CommandSpec::new("bgrewriteaof", 1, ADMIN | NOSCRIPT | NO_ASYNC_LOADING, acl::DANGEROUS, NO_KEYS, bgrewriteaof)
        .doc("server", "1.0.0", "O(1)", "Asynchronously rewrites the append-only file to disk."),
    CommandSpec::new("dump", 2, READONLY, acl::KEYSPACE, key(1, ks::RO | ks::ACCESS), dump).doc(
        "generic",
        "2.6.0",
        "O(1) to access the key and additional O(N*M) to serialize it, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1).",
        "Returns a serialized representation of the value stored at a key.",
    )
.tips(&["nondeterministic_output"]),
    CommandSpec::new("restore", -4, WRITE | DENYOOM, acl::KEYSPACE | acl::DANGEROUS, key(1, ks::OW | ks::UPDATE), restore).doc(
        "generic",
        "2.6.0",
        "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).",
        "Creates a key from the serialized representation of a value.",
    ),
];

fn rdb_child_running() -> bool {
    persist::fork::active() == Some(persist::fork::Kind::Rdb)
}

fn save(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    if rdb_child_running() {
        return Err(CmdError::msg(persist::BGSAVE_IN_PROGRESS));
    }
    persist::save(ctx.server).map_err(|_| CmdError::msg("ERR"))?;
    ctx.out.ok();
    Ok(())
}

/// BGREWRITEAOF: forks the rewrite (see `persist::aof::start_rewrite`), or schedules it when a
/// BGSAVE child runs or inside EXEC (every shard is locked there: the fork must wait).
fn bgrewriteaof(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    use persist::aof::{self, Started};
    if ctx.locks.holds_all() {
        if persist::fork::active() == Some(persist::fork::Kind::Aof) {
            return Err(CmdError::msg("ERR Background append only file rewriting already in progress"));
        }
        aof::schedule_rewrite();
        ctx.out.simple("Background append only file rewriting scheduled");
        return Ok(());
    }
    match aof::start_rewrite(ctx.server).map_err(CmdError::msg)? {
        Started::Now => ctx.out.simple("Background append only file rewriting started"),
        Started::Scheduled => ctx.out.simple("Background append only file rewriting scheduled"),
    }
    Ok(())
}

fn bgsave(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let schedule = match args.len() {
        1 => false,
        2 if args::is(args[1], "schedule") => true,
        _ => return Err(CmdError::Syntax),
    };
    if rdb_child_running() {
        return Err(CmdError::msg(persist::BGSAVE_IN_PROGRESS));
    }
    // Another child, or inside EXEC (every shard is locked there, the fork must wait): Redis
    // schedules the save when asked to (always inside EXEC).
    if persist::fork::active().is_some() || ctx.locks.holds_all() {
        if schedule || ctx.locks.holds_all() {
            crate::persist::state().bgsave_scheduled.store(true, std::sync::atomic::Ordering::Relaxed);
            ctx.out.simple("Background saving scheduled");
            return Ok(());
        }
        return Err(CmdError::msg(persist::BGSAVE_OTHER_CHILD));
    }
    persist::bgsave(ctx.server).map_err(CmdError::msg)?;
    ctx.out.simple("Background saving started");
    Ok(())
}

fn dump(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut db = ctx.db();
    let Some(e) = db.get_counted(args[1]) else {
        ctx.out.null();
        return Ok(());
    };
    let payload = rdb::dump_payload(e.value);
    ctx.out.bulk(&payload);
    Ok(())
}

fn restore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    let ttl = args::int(args[2])?;
    let (mut replace, mut absttl, mut idle, mut freq) = (false, false, None, None);
    let mut c = Cursor::new(args, 4);
    while !c.is_empty() {
        if c.keyword("replace") {
            replace = true;
        } else if c.keyword("absttl") {
            absttl = true;
        } else if freq.is_none() && c.keyword_with("idletime", 1) {
            let v = c.int()?;
            if v < 0 {
                return Err(CmdError::msg("ERR Invalid IDLETIME value, must be >= 0"));
            }
            idle = Some(v as u64);
        } else if idle.is_none() && c.keyword_with("freq", 1) {
            let v = c.int()?;
            if !(0..=255).contains(&v) {
                return Err(CmdError::msg("ERR Invalid FREQ value, must be >= 0 and <= 255"));
            }
            freq = Some(v);
        } else {
            return Err(CmdError::Syntax);
        }
    }
    if ttl < 0 {
        return Err(CmdError::msg("ERR Invalid TTL value, must be >= 0"));
    }
    let now = ctx.now;
    if !replace && ctx.db().exists(key) {
        return Err(CmdError::msg("BUSYKEY Target key name already exists."));
    }
    let lim = persist::load_limits(ctx.server);
    let value: Value = rdb::parse_payload(args[3], &lim).map_err(|e| CmdError::msg(format!("ERR {e}")))?;
    let expire_at = match (ttl, absttl) {
        (0, _) => 0,
        (t, true) => t as u64,
        (t, false) => now.saturating_add(t as u64),
    };
    let mut db = ctx.db();
    if expire_at != 0 && expire_at <= now {
        // Already expired: the key is deleted (if REPLACE found one) and nothing is stored;
        // the deletion propagates as `DEL` (`UNLINK` under lazyfree-lazy-server-del, Redis 7.2).
        let deleted = db.remove(key).is_some();
        ctx.out.ok();
        if deleted {
            ctx.notify(notify::GENERIC, "del", key);
            let lazy = crate::db::lazyfree::enabled(crate::db::lazyfree::Flag::ServerDel);
            ctx.propagate(&[crate::propagate::deletion(lazy), key]);
        } else {
            ctx.propagate_nothing();
        }
        return Ok(());
    }
    db.set(key, value, expire_at);
    if let Some(lru) = crate::db::evict::restored(now, idle, freq.map(|f| f as u8)) {
        if let Some(mut e) = db.peek(key) {
            e.set_lru(lru);
        }
    }
    if expire_at != 0 && !absttl && ctx.propagating() {
        // A relative TTL propagates as an absolute one.
        let mut b = itoa::Buffer::new();
        let mut argv: Vec<&[u8]> = args.to_vec();
        argv[2] = b.format(expire_at).as_bytes();
        argv.push(b"ABSTTL");
        ctx.propagate(&argv);
    }
    ctx.out.ok();
    ctx.notify(notify::GENERIC, "restore", key);
    Ok(())
}
