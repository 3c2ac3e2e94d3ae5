//! Generic key commands and keyspace administration.
//!
//! Commands: DEL, UNLINK, EXISTS, TYPE, RENAME, RENAMENX, COPY, MOVE, TOUCH, RANDOMKEY,
//! EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT, TTL, PTTL, EXPIRETIME, PEXPIRETIME, PERSIST, KEYS,
//! SCAN, OBJECT (ENCODING, REFCOUNT, IDLETIME, FREQ, HELP), FLUSHDB, FLUSHALL, SWAPDB, DBSIZE.
//!
//! Access-time rules follow Redis 7: lookups that Redis performs with `LOOKUP_NOTOUCH` (TYPE,
//! EXISTS, TTL & co, OBJECT) use `Db::peek`, the others (TOUCH, EXPIRE, RENAME, COPY's source,
//! MOVE) refresh the LRU clock through `Db::get`.
//!
//! SCAN's cursor encodes a shard and a position in that shard's table:
//! `cursor = table_cursor * shard_count + shard`. Shards are visited in order and each table
//! with its hash-order cursor (`Table::scan_step`: a position in the 32-bit hash space), so a full iteration returns every key
//! present throughout, even while the keyspace grows or shrinks.
//!
//! Keyspace events (Redis's, class `g`): `del` (DEL, UNLINK, EXPIRE into the past),
//! `rename_from`/`rename_to`, `move_from`/`move_to`, `copy_to`, `expire`, `persist`; the keyspace
//! adds `new` for the created key. FLUSHDB, FLUSHALL and SWAPDB raise none, as in Redis.
//!
//! Differences from Redis:
//! - `OBJECT IDLETIME` and `OBJECT REFCOUNT` of small integers: Redis shares one object per
//!   integer below 10000 (refcount 2147483647, one LRU clock for all keys holding it); redstart
//!   reports the shared refcount but keeps a per-key access time.
//! - Lazy freeing (UNLINK, FLUSHALL/FLUSHDB ASYNC, DEL with `lazyfree-lazy-user-del`, flushes
//!   with `lazyfree-lazy-user-flush`) follows Redis's rule through `crate::db::lazyfree`: values
//!   that are cheap to free are freed inline.

use super::reply::scan_reply;
use super::{acl, args, flags::*, key, key_range, ks, CmdError, CmdResult, CommandSpec, Ctx, NO_KEYS};
use crate::db::value::{Entry, Stored, Value, NO_EXPIRE};
use crate::db::{glob, lru_clock};
use crate::notify;
use crate::types::small::SmallBytes;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("del", -2, WRITE, acl::KEYSPACE, key_range(1, -1, 1, ks::RM | ks::DELETE), del).doc(
        "generic",
        "1.0.0",
        "O(N) where N is the number of keys that will be removed. When a key to remove holds a value other than a string, the individual complexity for this key is O(M) where M is the number of elements in the list, set, sorted set or hash. Removing a single key that holds a string value is O(1).",
        "Deletes one or more keys.",
    )
.tips(&["request_policy:multi_shard", "response_policy:agg_sum"]),
    CommandSpec::new("unlink", -2, WRITE | FAST, acl::KEYSPACE, key_range(1, -1, 1, ks::RM | ks::DELETE), unlink).doc(
        "generic",
        "4.0.0",
        "O(1) for each key removed regardless of its size. Then the command does O(N) work in a different thread in order to reclaim memory, where N is the number of allocations the deleted objects where composed of.",
        "Asynchronously deletes one or more keys.",
    )
.tips(&["request_policy:multi_shard", "response_policy:agg_sum"]),
    CommandSpec::new("exists", -2, READONLY | FAST, acl::KEYSPACE, key_range(1, -1, 1, ks::RO), exists).doc(
        "generic",
        "3.0.3",
        "O(N) where N is the number of keys to check.",
        "Determines whether one or more keys exist.",
    )
.tips(&["request_policy:multi_shard", "response_policy:agg_sum"]),
    CommandSpec::new("type", 2, READONLY | FAST, acl::KEYSPACE, key(1, ks::RO), type_cmd).doc(
        "generic",
        "1.0.0",
        "O(1)",
        "Determines the type of value stored at a key.",
    ),
    CommandSpec::new("rename", 3, WRITE, acl::KEYSPACE, key(1, ks::RW | ks::ACCESS | ks::DELETE).and(key(2, ks::OW | ks::UPDATE)), rename).doc(
        "generic",
        "1.0.0",
        "O(1)",
        "Renames a key and overwrites the destination.",
    ),
    CommandSpec::new("renamenx", 3, WRITE | FAST, acl::KEYSPACE, key(1, ks::RW | ks::ACCESS | ks::DELETE).and(key(2, ks::OW | ks::INSERT)), renamenx).doc(
        "generic",
        "1.0.0",
        "O(1)",
        "Renames a key only when the target key name doesn't exist.",
    ),
    CommandSpec::new("copy", -3, WRITE | DENYOOM, acl::KEYSPACE, key(1, ks::RO | ks::ACCESS).and(key(2, ks::OW | ks::UPDATE)), copy).doc(
        "generic",
        "6.2.0",
        "O(N) worst case for collections, where N is the number of nested items. O(1) for string values.",
        "Copies the value of a key to a new key.",
    ),
    CommandSpec::new("move", 3, WRITE | FAST, acl::KEYSPACE, key(1, ks::RW | ks::ACCESS | ks::UPDATE), move_cmd).doc(
        "generic",
        "1.0.0",
        "O(1)",
        "Moves a key to another database.",
    ),
    CommandSpec::new("touch", -2, READONLY | FAST, acl::KEYSPACE, key_range(1, -1, 1, ks::RO), touch).doc(
        "generic",
        "3.2.1",
        "O(N) where N is the number of keys that will be touched.",
        "Returns the number of existing keys out of those specified after updating the time they were last accessed.",
    )
.tips(&["request_policy:multi_shard", "response_policy:agg_sum"]),
    CommandSpec::new("randomkey", 1, READONLY | ALL_SHARDS | TOUCHES_ARBITRARY_KEYS, acl::KEYSPACE, NO_KEYS, randomkey).doc(
        "generic",
        "1.0.0",
        "O(1)",
        "Returns a random key name from the database.",
    )
.tips(&["request_policy:all_shards", "nondeterministic_output"]),
    CommandSpec::new("expire", -3, WRITE | FAST, acl::KEYSPACE, key(1, ks::RW | ks::UPDATE), expire).doc(
        "generic",
        "1.0.0",
        "O(1)",
        "Sets the expiration time of a key in seconds.",
    ),
    CommandSpec::new("pexpire", -3, WRITE | FAST, acl::KEYSPACE, key(1, ks::RW | ks::UPDATE), pexpire).doc(
        "generic",
        "2.6.0",
        "O(1)",
        "Sets the expiration time of a key in milliseconds.",
    ),
    CommandSpec::new("expireat", -3, WRITE | FAST, acl::KEYSPACE, key(1, ks::RW | ks::UPDATE), expireat).doc(
        "generic",
        "1.2.0",
        "O(1)",
        "Sets the expiration time of a key to a Unix timestamp.",
    ),
    CommandSpec::new("pexpireat", -3, WRITE | FAST, acl::KEYSPACE, key(1, ks::RW | ks::UPDATE), pexpireat).doc(
        "generic",
        "2.6.0",
        "O(1)",
        "Sets the expiration time of a key to a Unix milliseconds timestamp.",
    ),
    CommandSpec::new("ttl", 2, READONLY | FAST, acl::KEYSPACE, key(1, ks::RO | ks::ACCESS), ttl).doc(
        "generic",
        "1.0.0",
        "O(1)",
        "Returns the expiration time in seconds of a key.",
    )
.tips(&["nondeterministic_output"]),
    CommandSpec::new("pttl", 2, READONLY | FAST, acl::KEYSPACE, key(1, ks::RO | ks::ACCESS), pttl).doc(
        "generic",
        "2.6.0",
        "O(1)",
        "Returns the expiration time in milliseconds of a key.",
    )
.tips(&["nondeterministic_output"]),
    CommandSpec::new("expiretime", 2, READONLY | FAST, acl::KEYSPACE, key(1, ks::RO | ks::ACCESS), expiretime).doc(
        "generic",
        "7.0.0",
        "O(1)",
        "Returns the expiration time of a key as a Unix timestamp.",
    ),
    CommandSpec::new("pexpiretime", 2, READONLY | FAST, acl::KEYSPACE, key(1, ks::RO | ks::ACCESS), pexpiretime).doc(
        "generic",
        "7.0.0",
        "O(1)",
        "Returns the expiration time of a key as a Unix milliseconds timestamp.",
    ),
    CommandSpec::new("persist", 2, WRITE | FAST, acl::KEYSPACE, key(1, ks::RW | ks::UPDATE), persist).doc(
        "generic",
        "2.2.0",
        "O(1)",
        "Removes the expiration time of a key.",
    ),
    CommandSpec::new("keys", 2, READONLY | ALL_SHARDS, acl::KEYSPACE | acl::DANGEROUS, NO_KEYS, keys_cmd).doc(
        "generic",
        "1.0.0",
        "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.",
        "Returns all key names that match a pattern.",
    )
.tips(&["request_policy:all_shards", "nondeterministic_output_order"]),
    CommandSpec::new("scan", -2, READONLY | ALL_SHARDS | TOUCHES_ARBITRARY_KEYS, acl::KEYSPACE, NO_KEYS, scan).doc(
        "generic",
        "2.8.0",
        "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.",
        "Iterates over the key names in the database.",
    )
.tips(&["nondeterministic_output", "request_policy:special"]),
    CommandSpec::new("object", -2, 0, 0, NO_KEYS, object_container)
        .doc("generic", "2.2.3", "Depends on subcommand.", "A container for object introspection commands.")
        .subcommands(OBJECT_SUBCOMMANDS),
    CommandSpec::new("flushdb", -1, WRITE | ALL_SHARDS, acl::KEYSPACE | acl::DANGEROUS, NO_KEYS, flushdb).doc(
        "server",
        "1.0.0",
        "O(N) where N is the number of keys in the selected database",
        "Remove all keys from the current database.",
    )
.tips(&["request_policy:all_shards", "response_policy:all_succeeded"]),
    CommandSpec::new("flushall", -1, WRITE | ALL_SHARDS, acl::KEYSPACE | acl::DANGEROUS, NO_KEYS, flushall).doc(
        "server",
        "1.0.0",
        "O(N) where N is the total number of keys in all databases",
        "Removes all keys from all databases.",
    )
.tips(&["request_policy:all_shards", "response_policy:all_succeeded"]),
    CommandSpec::new("swapdb", 3, WRITE | FAST | ALL_SHARDS, acl::KEYSPACE | acl::DANGEROUS, NO_KEYS, swapdb).doc(
        "server",
        "4.0.0",
        "O(N) where N is the count of clients watching or blocking on keys from both databases.",
        "Swaps two Redis databases.",
    ),
    CommandSpec::new("dbsize", 1, READONLY | FAST | ALL_SHARDS, acl::KEYSPACE, NO_KEYS, dbsize).doc(
        "server",
        "1.0.0",
        "O(1)",
        "Returns the number of keys in the database.",
    )
.tips(&["request_policy:all_shards", "response_policy:agg_sum"]),
];

const OBJECT_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("encoding", 3, READONLY, acl::KEYSPACE, key(2, ks::RO), object_encoding)
        .doc("generic", "2.2.3", "O(1)", "Returns the internal encoding of a Redis object.")
        .tips(&["nondeterministic_output"]),
    CommandSpec::new("freq", 3, READONLY, acl::KEYSPACE, key(2, ks::RO), object_freq)
        .doc("generic", "4.0.0", "O(1)", "Returns the logarithmic access frequency counter of a Redis object.")
        .tips(&["nondeterministic_output"]),
    CommandSpec::new("help", 2, LOADING | STALE, acl::KEYSPACE, NO_KEYS, object_help).doc(
        "generic",
        "6.2.0",
        "O(1)",
        "Returns helpful text about the different subcommands.",
    ),
    CommandSpec::new("idletime", 3, READONLY, acl::KEYSPACE, key(2, ks::RO), object_idletime)
        .doc("generic", "2.2.3", "O(1)", "Returns the time since the last access to a Redis object.")
        .tips(&["nondeterministic_output"]),
    CommandSpec::new("refcount", 3, READONLY, acl::KEYSPACE, key(2, ks::RO), object_refcount)
        .doc("generic", "2.2.3", "O(1)", "Returns the reference count of a value of a key.")
        .tips(&["nondeterministic_output"]),
];

/// Redis's `getIntFromObject`: a 32-bit integer, with Redis's two error texts.
fn int32(arg: &[u8]) -> Result<i32, CmdError> {
    let n = args::int(arg)?;
    i32::try_from(n)
        .map_err(|_| CmdError::msg("ERR value is out of range, value must between -2147483648 and 2147483647"))
}

/// A database index for MOVE and COPY ... DB.
fn db_index(ctx: &Ctx, arg: &[u8]) -> Result<usize, CmdError> {
    let n = int32(arg)?;
    if n < 0 || n as usize >= ctx.server.keyspace.databases() {
        return Err(CmdError::msg("ERR DB index is out of range"));
    }
    Ok(n as usize)
}

fn del(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut n = 0;
    for k in &args[1..] {
        if let Some(e) = ctx.db().remove(k) {
            n += 1;
            ctx.notify(notify::GENERIC, "del", k);
            // Freed after the reply is written, on the lazyfree thread when configured.
            crate::db::lazyfree::user_del(e);
        }
    }
    if n == 0 {
        ctx.propagate_nothing();
    }
    ctx.out.int(n as i64);
    Ok(())
}

fn unlink(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut n = 0;
    for k in &args[1..] {
        if let Some(e) = ctx.db().remove(k) {
            n += 1;
            ctx.notify(notify::GENERIC, "del", k);
            crate::db::lazyfree::drop_entry(e);
        }
    }
    if n == 0 {
        ctx.propagate_nothing();
    }
    ctx.out.int(n);
    Ok(())
}

fn exists(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut db = ctx.db();
    let n = args[1..].iter().filter(|k| db.peek_counted(k).is_some()).count();
    ctx.out.int(n as i64);
    Ok(())
}

fn touch(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut db = ctx.db();
    let n = args[1..].iter().filter(|k| db.get_counted(k).is_some()).count();
    ctx.out.int(n as i64);
    Ok(())
}

fn type_cmd(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let name = ctx.db().peek_counted(args[1]).map(|e| e.value.type_name()).unwrap_or("none");
    ctx.out.simple(name);
    Ok(())
}

fn rename(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    rename_generic(ctx, args, false)
}

fn renamenx(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    rename_generic(ctx, args, true)
}

fn rename_generic(ctx: &mut Ctx, args: &[&[u8]], nx: bool) -> CmdResult {
    let (src, dst) = (args[1], args[2]);
    let mut db = ctx.db();
    if db.get(src).is_none() {
        return Err(CmdError::NoSuchKey);
    }
    if src == dst {
        if nx {
            ctx.out.int(0);
        } else {
            ctx.out.ok();
        }
        return Ok(());
    }
    if nx && db.get(dst).is_some() {
        ctx.out.int(0);
        return Ok(());
    }
    // The entry moves whole: value, expiry and access time carry over; `put` replaces (and
    // dirties) the destination, `remove` dirties the source.
    let mut e = db.remove(src).expect("looked up under the same locks");
    e.key = dst.into();
    // The replaced destination goes as Redis's implicit deletes do (`lazyfree-lazy-server-del`).
    if let Some(old) = db.put(e) {
        crate::db::lazyfree::server_del(old);
    }
    ctx.notify(notify::GENERIC, "rename_from", src);
    ctx.notify(notify::GENERIC, "rename_to", dst);
    if nx {
        ctx.out.int(1);
    } else {
        ctx.out.ok();
    }
    Ok(())
}

fn copy(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (src, dst) = (args[1], args[2]);
    let src_db = ctx.client.db;
    let mut dst_db = src_db;
    let mut replace = false;
    let mut c = args::Cursor::new(args, 3);
    while !c.is_empty() {
        if c.keyword("replace") {
            replace = true;
        } else if let Some(db) = c.value_of("db") {
            dst_db = db_index(ctx, db)?;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    if src == dst && src_db == dst_db {
        return Err(CmdError::msg("ERR source and destination objects are the same"));
    }
    let (value, expire_at) = match ctx.db().get_counted(src) {
        Some(e) => (e.value.clone(), e.expire_at),
        None => {
            ctx.out.int(0);
            return Ok(());
        }
    };
    let mut db = ctx.db_at(dst_db);
    if db.get(dst).is_some() {
        if !replace {
            ctx.out.int(0);
            return Ok(());
        }
        if let Some(old) = db.remove(dst) {
            crate::db::lazyfree::server_del(old);
        }
    }
    // A copy is a new object: its access time starts now.
    let mut e = Entry::new(dst.into(), value);
    e.expire_at = expire_at;
    e.lru = lru_clock(ctx.now);
    ctx.db_at(dst_db).put(e);
    ctx.notify_db(notify::GENERIC, "copy_to", dst, dst_db);
    ctx.out.int(1);
    Ok(())
}

fn move_cmd(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    let dst_db = db_index(ctx, args[2])?;
    if dst_db == ctx.client.db {
        return Err(CmdError::msg("ERR source and destination objects are the same"));
    }
    if ctx.db().get(key).is_none() || ctx.db_at(dst_db).get(key).is_some() {
        ctx.out.int(0);
        return Ok(());
    }
    let e = ctx.db().remove(key).expect("looked up under the same locks");
    ctx.db_at(dst_db).put(e);
    ctx.notify(notify::GENERIC, "move_from", key);
    ctx.notify_db(notify::GENERIC, "move_to", key, dst_db);
    ctx.out.int(1);
    Ok(())
}

fn randomkey(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let db = ctx.client.db;
    let n = ctx.server.keyspace.shard_count();
    let now = ctx.now;
    loop {
        let total: usize = ctx.locks.shards().map(|s| s.dbs[db].len()).sum();
        if total == 0 {
            ctx.out.null();
            return Ok(());
        }
        // A uniform pick over all keys: a uniform index into the concatenated entry vectors.
        let mut r = (rand::random::<u64>() % total as u64) as usize;
        for sid in 0..n {
            let shard = ctx.locks.shard(sid);
            let len = shard.dbs[db].len();
            if r >= len {
                r -= len;
                continue;
            }
            if shard.dbs[db].get(r).is_expired(now) {
                // Reclaim it and draw again, as Redis does.
                ctx.locks.expire(&ctx.server.keyspace.stats, sid, db, r);
                break;
            }
            let key = shard.dbs[db].key_at(r);
            ctx.out.bulk(key);
            return Ok(());
        }
    }
}

fn expire(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let base = ctx.now;
    expire_generic(ctx, args, base, true, "expire")
}

fn pexpire(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let base = ctx.now;
    expire_generic(ctx, args, base, false, "pexpire")
}

fn expireat(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    expire_generic(ctx, args, 0, true, "expireat")
}

fn pexpireat(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    expire_generic(ctx, args, 0, false, "pexpireat")
}

/// The EXPIRE family. `base` is added to the given time (now for relative forms, 0 for
/// absolute ones); `seconds` scales it by 1000.
fn expire_generic(ctx: &mut Ctx, args: &[&[u8]], base: u64, seconds: bool, name: &str) -> CmdResult {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for a in &args[3..] {
        if args::is(a, "nx") {
            nx = true;
        } else if args::is(a, "xx") {
            xx = true;
        } else if args::is(a, "gt") {
            gt = true;
        } else if args::is(a, "lt") {
            lt = true;
        } else {
            return Err(CmdError::msg(format!("ERR Unsupported option {}", String::from_utf8_lossy(a))));
        }
    }
    if nx && (xx || gt || lt) {
        return Err(CmdError::msg("ERR NX and XX, GT or LT options at the same time are not compatible"));
    }
    if gt && lt {
        return Err(CmdError::msg("ERR GT and LT options at the same time are not compatible"));
    }
    let mut when = args::int(args[2])?;
    let invalid = || CmdError::InvalidExpire(name.to_string());
    if seconds {
        when = when.checked_mul(1000).ok_or_else(invalid)?;
    }
    let when = when.checked_add(base as i64).ok_or_else(invalid)?;
    let now = ctx.now;
    let mut db = ctx.db();
    let Some(e) = db.get(args[1]) else {
        ctx.out.int(0);
        ctx.propagate_nothing();
        return Ok(());
    };
    // A key without expiry counts as an infinite TTL for GT and LT.
    let current = e.has_expire().then_some(e.expire_at as i64);
    let refused = (nx && current.is_some())
        || (xx && current.is_none())
        || (gt && current.is_none_or(|c| when <= c))
        || (lt && current.is_some_and(|c| when >= c));
    if refused {
        ctx.out.int(0);
        ctx.propagate_nothing();
        return Ok(());
    }
    if when <= now as i64 {
        // A deadline in the past deletes the key as expiry does (`lazyfree-lazy-expire`).
        if let Some(e) = db.remove(args[1]) {
            crate::db::lazyfree::expired(e);
        }
        let lazy = crate::db::lazyfree::enabled(crate::db::lazyfree::Flag::Expire);
        ctx.propagate(&[crate::propagate::deletion(lazy), args[1]]);
        ctx.notify(notify::GENERIC, "del", args[1]);
    } else {
        db.set_expire(args[1], when as u64);
        ctx.notify(notify::GENERIC, "expire", args[1]);
        // Propagated as `PEXPIREAT key <ms> [options]` (PEXPIREAT itself as received).
        if name != "pexpireat" && ctx.propagating() {
            let mut b = itoa::Buffer::new();
            let mut argv: Vec<&[u8]> = vec![b"PEXPIREAT", args[1], b.format(when).as_bytes()];
            argv.extend_from_slice(&args[3..]);
            ctx.propagate(&argv);
        }
    }
    ctx.out.int(1);
    Ok(())
}

/// TTL, PTTL, EXPIRETIME, PEXPIRETIME: -2 for a missing key, -1 without expiry.
fn ttl_generic(ctx: &mut Ctx, key: &[u8], ms: bool, absolute: bool) -> CmdResult {
    let now = ctx.now;
    let reply = match ctx.db().peek_counted(key) {
        None => -2,
        Some(e) if !e.has_expire() => -1,
        Some(e) => {
            let t = if absolute { e.expire_at } else { e.expire_at.saturating_sub(now) } as i64;
            if ms {
                t
            } else {
                (t + 500) / 1000
            }
        }
    };
    ctx.out.int(reply);
    Ok(())
}

fn ttl(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    ttl_generic(ctx, args[1], false, false)
}

fn pttl(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    ttl_generic(ctx, args[1], true, false)
}

fn expiretime(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    ttl_generic(ctx, args[1], false, true)
}

fn pexpiretime(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    ttl_generic(ctx, args[1], true, true)
}

fn persist(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut db = ctx.db();
    let had = db.get(args[1]).is_some_and(|e| e.has_expire());
    if had {
        db.set_expire(args[1], NO_EXPIRE);
        ctx.notify(notify::GENERIC, "persist", args[1]);
    } else {
        ctx.propagate_nothing();
    }
    ctx.out.int(had as i64);
    Ok(())
}

fn keys_cmd(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let pat = args[1];
    let db = ctx.client.db;
    let now = ctx.now;
    let (ks, locks, out) = (&ctx.server.keyspace, &mut ctx.locks, &mut *ctx.out);
    if glob::is_literal(pat) {
        // One possible key: a direct lookup. Like Redis's KEYS, expired keys are skipped
        // without being deleted.
        let h = ks.hash(pat);
        let t = &locks.shard(ks.shard_of(pat)).dbs[db];
        match t.find(h, pat) {
            Some(i) if !t.get(i).is_expired(now) => {
                out.array(1);
                out.bulk(pat);
            }
            _ => out.array(0),
        }
        return Ok(());
    }
    let all = pat == b"*";
    let mut found: Vec<&[u8]> = Vec::new();
    // Two passes over borrowed keys would need the locks twice; gather references instead.
    let shards: Vec<_> = locks.shards().collect();
    for s in &shards {
        for e in s.dbs[db].iter() {
            if !e.is_expired(now) && (all || glob::glob_match(pat, e.key, false)) {
                found.push(e.key);
            }
        }
    }
    out.array(found.len());
    for k in found {
        out.bulk(k);
    }
    Ok(())
}

fn scan(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let cursor = args::scan_cursor(args[1])?;
    let args::ScanOptions { pattern, count, type_name } = args::scan_options(args, 2, true)?;
    let count = count as u64;
    let db = ctx.client.db;
    let now = ctx.now;
    let wanted = |key: &[u8], value: &Value| {
        type_name.is_none_or(|t| t.eq_ignore_ascii_case(value.type_name().as_bytes()))
            && pattern.is_none_or(|p| glob::glob_match(p, key, false))
    };
    let mut found: Vec<SmallBytes> = Vec::new();

    // A literal pattern names one key: answer a fresh iteration with a direct lookup.
    if let (0, Some(p)) = (cursor, pattern) {
        if glob::is_literal(p) {
            if let Some(e) = ctx.db().peek(p) {
                if wanted(e.key, e.value) {
                    found.push(e.key.into());
                }
            }
            scan_reply(ctx.out, 0, &found);
            return Ok(());
        }
    }

    let ks = &ctx.server.keyspace;
    let nshards = ks.shard_count() as u64;
    let mut shard = (cursor % nshards) as usize;
    let mut tcur = cursor / nshards;
    // Like Redis: at most ten table steps per requested key, so sparse tables end the call.
    let mut budget = count.saturating_mul(10);
    let mut hits: Vec<usize> = Vec::new();
    let mut dead: Vec<usize> = Vec::new();
    let next = loop {
        let t = &ctx.locks.shard(shard).dbs[db];
        if t.is_empty() {
            tcur = 0;
        } else {
            hits.clear();
            tcur = t.scan_step(tcur, |i| hits.push(i));
            for &i in &hits {
                let e = t.get(i);
                if e.is_expired(now) {
                    dead.push(i);
                } else if wanted(e.key, e.value) {
                    found.push(e.key.into());
                }
            }
            // Reclaim expired keys met on the way (as Redis does), highest index first so
            // that `swap_remove` never moves another index of this batch.
            dead.sort_unstable_by(|a, b| b.cmp(a));
            for i in dead.drain(..) {
                ctx.locks.expire(&ks.stats, shard, db, i);
            }
            budget -= 1;
        }
        if tcur == 0 {
            shard += 1;
            if shard as u64 == nshards {
                break 0;
            }
        }
        if found.len() as u64 >= count || budget == 0 {
            break tcur * nshards + shard as u64;
        }
    };
    scan_reply(ctx.out, next, &found);
    Ok(())
}

/// Never runs: the dispatcher resolves OBJECT to a subcommand (its arity requires one).
fn object_container(_ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    Err(CmdError::Syntax)
}

fn lfu_policy(ctx: &Ctx) -> bool {
    ctx.server.config.read().maxmemory_policy.contains("lfu")
}

fn object_encoding(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    match ctx.db().peek_counted(args[2]).map(|e| e.value.encoding()) {
        Some(enc) => ctx.out.bulk(enc.as_bytes()),
        None => ctx.out.null(),
    }
    Ok(())
}

/// Integers Redis keeps as shared objects (`OBJ_SHARED_INTEGERS`).
const SHARED_INTEGERS: i64 = 10_000;
/// The refcount Redis reports for shared objects (`OBJ_SHARED_REFCOUNT`).
const SHARED_REFCOUNT: i64 = i32::MAX as i64;

fn object_refcount(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    // Redis stops sharing integers when maxmemory is set with an LRU/LFU policy (each key
    // needs its own access clock).
    let shares = {
        let c = ctx.server.config.read();
        c.maxmemory == 0 || !(c.maxmemory_policy.contains("lru") || c.maxmemory_policy.contains("lfu"))
    };
    let rc = ctx.db().peek_counted(args[2]).map(|e| match &e.value {
        Value::Str(crate::db::value::StrValue::Int(n)) if shares && (0..SHARED_INTEGERS).contains(n) => SHARED_REFCOUNT,
        _ => 1,
    });
    match rc {
        Some(n) => ctx.out.int(n),
        None => ctx.out.null(),
    }
    Ok(())
}

/// Seconds since `lru` on Redis's wrapping 24-bit LRU clock.
fn idle_seconds(lru: u32, now_ms: u64) -> u64 {
    let clock = lru_clock(now_ms);
    if clock >= lru {
        (clock - lru) as u64
    } else {
        (clock as u64) + ((1u64 << 24) - 1 - lru as u64)
    }
}

fn object_idletime(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let lfu = lfu_policy(ctx);
    let Some(lru) = ctx.db().peek_counted(args[2]).map(|e| e.lru()) else {
        ctx.out.null();
        return Ok(());
    };
    if lfu {
        return Err(CmdError::msg("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."));
    }
    ctx.out.int(idle_seconds(lru, now) as i64);
    Ok(())
}

fn object_freq(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let lfu = lfu_policy(ctx);
    let Some(lru) = ctx.db().peek_counted(args[2]).map(|e| e.lru()) else {
        ctx.out.null();
        return Ok(());
    };
    if !lfu {
        return Err(CmdError::msg("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."));
    }
    // The entry's LFU counter after decay (`db::evict`), not stored back, as Redis does.
    let decayed = crate::db::evict::lfu_decayed(lru, now);
    ctx.out.int(decayed as i64);
    Ok(())
}

fn object_help(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    const HELP: &[&str] = &[
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Prints this help.",
    ];
    ctx.out.array(HELP.len());
    for line in HELP {
        ctx.out.simple(line);
    }
    Ok(())
}

/// FLUSHDB/FLUSHALL's optional argument: true for ASYNC; without one,
/// `lazyfree-lazy-user-flush` decides.
fn flush_mode(args: &[&[u8]]) -> Result<bool, CmdError> {
    match args {
        [_] => Ok(crate::db::lazyfree::enabled(crate::db::lazyfree::Flag::UserFlush)),
        [_, m] if args::is(m, "async") => Ok(true),
        [_, m] if args::is(m, "sync") => Ok(false),
        _ => Err(CmdError::Syntax),
    }
}

fn flush_dbs(ctx: &mut Ctx, dbs: std::ops::Range<usize>, lazy: bool) {
    let ks = &ctx.server.keyspace;
    let mut removed: Vec<Stored> = Vec::new();
    for shard in ctx.locks.shards() {
        for db in dbs.clone() {
            let batch = shard.flush(ks, db);
            if removed.is_empty() {
                removed = batch;
            } else {
                removed.extend(batch);
            }
        }
    }
    if lazy {
        crate::db::lazyfree::drop_entries(removed);
    }
}

fn flushdb(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let lazy = flush_mode(args)?;
    let db = ctx.client.db;
    flush_dbs(ctx, db..db + 1, lazy);
    ctx.out.ok();
    Ok(())
}

fn flushall(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let lazy = flush_mode(args)?;
    let n = ctx.server.keyspace.databases();
    flush_dbs(ctx, 0..n, lazy);
    ctx.out.ok();
    Ok(())
}

fn swapdb(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let a = int32(args[1]).map_err(|_| CmdError::msg("ERR invalid first DB index"))?;
    let b = int32(args[2]).map_err(|_| CmdError::msg("ERR invalid second DB index"))?;
    let n = ctx.server.keyspace.databases();
    let ok = |d: i32| d >= 0 && (d as usize) < n;
    if !ok(a) || !ok(b) {
        return Err(CmdError::msg("ERR DB index is out of range"));
    }
    let ks = &ctx.server.keyspace;
    for shard in ctx.locks.shards() {
        shard.swap(ks, a as usize, b as usize);
    }
    ctx.out.ok();
    Ok(())
}

fn dbsize(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let n = ctx.db().len();
    ctx.out.int(n as i64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs commands through the dispatcher on an in-process server (for configurations the
    /// command line cannot set yet, such as an LFU policy).
    fn run_all(config: crate::config::Config, cmds: &[&str]) -> Vec<String> {
        // The LRU/LFU mode of the keyspace is process-wide (`db::evict`), set by the directive's
        // apply; a Config built field by field skips it, so set it here, one test at a time.
        static ONE_AT_A_TIME: parking_lot::Mutex<()> = parking_lot::Mutex::new(());
        let _serial = ONE_AT_A_TIME.lock();
        crate::db::evict::set_policy(&config.maxmemory_policy);
        let server = crate::server::Server::new(config, String::new(), String::new());
        let info = server.clients.register(crate::client::Peer::Unix { path: "t".into() });
        let mut client = crate::client::Client::new(info, true);
        cmds.iter()
            .map(|line| {
                let mut out = resp::Writer::new(false);
                let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
                super::super::dispatch::execute(&server, &mut client, &mut out, &args);
                String::from_utf8_lossy(&out.buf).into_owned()
            })
            .collect()
    }

    #[test]
    fn object_under_an_lfu_policy() {
        let config = crate::config::Config { maxmemory_policy: "allkeys-lfu".into(), ..Default::default() };
        let r = run_all(config, &["SET f hello", "OBJECT FREQ f", "OBJECT IDLETIME f", "OBJECT FREQ nokey"]);
        assert_eq!(r[1], ":5\r\n");
        assert!(r[2].starts_with("-ERR An LFU maxmemory policy is selected, idle time not tracked."), "{}", r[2]);
        assert_eq!(r[3], "$-1\r\n");
        let r = run_all(Default::default(), &["SET f hello", "OBJECT FREQ f", "OBJECT IDLETIME f"]);
        assert!(r[1].starts_with("-ERR An LFU maxmemory policy is not selected"), "{}", r[1]);
        assert_eq!(r[2], ":0\r\n");
    }

    #[test]
    fn refcount_of_shared_integers_depends_on_the_policy() {
        let cmds = ["SET a 5", "OBJECT REFCOUNT a"];
        assert_eq!(run_all(Default::default(), &cmds)[1], ":2147483647\r\n");
        let config =
            crate::config::Config { maxmemory: 1 << 30, maxmemory_policy: "allkeys-lru".into(), ..Default::default() };
        assert_eq!(run_all(config, &cmds)[1], ":1\r\n");
    }

    #[test]
    fn idle_time_wraps_with_the_lru_clock() {
        assert_eq!(idle_seconds(lru_clock(10_000), 15_000), 5);
        let max = (1u64 << 24) - 1;
        // The clock wrapped: lru near the top, now near zero.
        assert_eq!(idle_seconds(max as u32 - 1, 2_000), 2 + 1);
    }
}
