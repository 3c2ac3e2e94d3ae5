//! String commands: GET, SET, SETNX, SETEX, PSETEX, MGET, MSET, MSETNX, GETSET, GETDEL, GETEX,
//! APPEND, STRLEN, GETRANGE (and its old name SUBSTR), SETRANGE, INCR, INCRBY, DECR, DECRBY,
//! INCRBYFLOAT, LCS.
//!
//! Values keep Redis's encodings (`int`, `embstr`, `raw`): SET-like commands store through
//! `Value::from_bytes`, APPEND/SETRANGE convert to `raw`, the INCR family stores `int`, and
//! INCRBYFLOAT stores its formatted text as `embstr`/`raw` (never `int`, as Redis).
//!
//! INCRBYFLOAT computes in x87 80-bit extended precision like Redis's C `long double`
//! ([`LongDouble`], in `crate::types::longdouble`, so the result does not depend on the host CPU)
//! and formats like `"%.17Lf"` with trailing zeros stripped ([`LongDouble::to_human`]).
//!
//! Option keywords (SET, GETEX, LCS) are compared the way Redis compares C strings: an argument is
//! read up to its first NUL byte, so `NX\0junk` means `NX`.
//!
//! Keyspace events (Redis's): `set` (SET family, MSET, MSETNX, GETSET) plus `expire` when SET
//! sets a TTL, `del`/`expire`/`persist` (GETDEL, GETEX), `append`, `setrange`, `incrby` (INCR,
//! DECR and their BY forms), `incrbyfloat`.
//!
//! Differences from Redis: none known for these commands.

use super::args::{self, Cursor};
use super::lookup;
use super::{acl, flags::*, key, key_range, ks, CmdError, CmdResult, CommandSpec, Ctx, KeyRef};
use crate::db::value::{StrValue, Value, EMBSTR_MAX, NO_EXPIRE};
use crate::notify;
use crate::types::longdouble::LongDouble;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("get", 2, READONLY | FAST, acl::STRING, key(1, ks::RO | ks::ACCESS), get).doc(
        "string",
        "1.0.0",
        "O(1)",
        "Returns the string value of a key.",
    ),
    CommandSpec::new(
        "set",
        -3,
        WRITE | DENYOOM,
        acl::STRING,
        key(1, ks::RW | ks::ACCESS | ks::UPDATE | ks::VARIABLE_FLAGS)
            .notes("RW and ACCESS due to the optional `GET` argument")
            .getkeys(set_getkeys),
        set,
    ).doc(
        "string",
        "1.0.0",
        "O(1)",
        "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.",
    ),
    CommandSpec::new("setnx", 3, WRITE | DENYOOM | FAST, acl::STRING, key(1, ks::OW | ks::INSERT), setnx).doc(
        "string",
        "1.0.0",
        "O(1)",
        "Set the string value of a key only when the key doesn't exist.",
    ),
    CommandSpec::new("setex", 4, WRITE | DENYOOM, acl::STRING, key(1, ks::OW | ks::UPDATE), setex).doc(
        "string",
        "2.0.0",
        "O(1)",
        "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.",
    ),
    CommandSpec::new("psetex", 4, WRITE | DENYOOM, acl::STRING, key(1, ks::OW | ks::UPDATE), psetex).doc(
        "string",
        "2.6.0",
        "O(1)",
        "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.",
    ),
    CommandSpec::new("mget", -2, READONLY | FAST, acl::STRING, key_range(1, -1, 1, ks::RO | ks::ACCESS), mget).doc(
        "string",
        "1.0.0",
        "O(N) where N is the number of keys to retrieve.",
        "Atomically returns the string values of one or more keys.",
    )
.tips(&["request_policy:multi_shard"]),
    CommandSpec::new("mset", -3, WRITE | DENYOOM, acl::STRING, key_range(1, -1, 2, ks::OW | ks::UPDATE), mset).doc(
        "string",
        "1.0.1",
        "O(N) where N is the number of keys to set.",
        "Atomically creates or modifies the string values of one or more keys.",
    )
.tips(&["request_policy:multi_shard", "response_policy:all_succeeded"]),
    CommandSpec::new("msetnx", -3, WRITE | DENYOOM, acl::STRING, key_range(1, -1, 2, ks::OW | ks::INSERT), msetnx).doc(
        "string",
        "1.0.1",
        "O(N) where N is the number of keys to set.",
        "Atomically modifies the string values of one or more keys only when all keys don't exist.",
    )
.tips(&["request_policy:multi_shard", "response_policy:agg_min"]),
    CommandSpec::new("getset", 3, WRITE | DENYOOM | FAST, acl::STRING, key(1, ks::RW | ks::ACCESS | ks::UPDATE), getset).doc(
        "string",
        "1.0.0",
        "O(1)",
        "Returns the previous string value of a key after setting it to a new value.",
    ),
    CommandSpec::new("getdel", 2, WRITE | FAST, acl::STRING, key(1, ks::RW | ks::ACCESS | ks::DELETE), getdel).doc(
        "string",
        "6.2.0",
        "O(1)",
        "Returns the string value of a key after deleting the key.",
    ),
    CommandSpec::new("getex", -2, WRITE | FAST, acl::STRING, key(1, ks::RW | ks::ACCESS | ks::UPDATE).notes("RW and UPDATE because it changes the TTL"), getex).doc(
        "string",
        "6.2.0",
        "O(1)",
        "Returns the string value of a key after setting its expiration time.",
    ),
    CommandSpec::new("append", 3, WRITE | DENYOOM | FAST, acl::STRING, key(1, ks::RW | ks::INSERT), append).doc(
        "string",
        "2.0.0",
        "O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by Redis will double the free space available on every reallocation.",
        "Appends a string to the value of a key. Creates the key if it doesn't exist.",
    ),
    CommandSpec::new("strlen", 2, READONLY | FAST, acl::STRING, key(1, ks::RO), strlen).doc(
        "string",
        "2.2.0",
        "O(1)",
        "Returns the length of a string value.",
    ),
    CommandSpec::new("getrange", 4, READONLY, acl::STRING, key(1, ks::RO | ks::ACCESS), getrange).doc(
        "string",
        "2.4.0",
        "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.",
        "Returns a substring of the string stored at a key.",
    ),
    // SUBSTR: GETRANGE's old name, same handler.
    CommandSpec::new("substr", 4, READONLY, acl::STRING, key(1, ks::RO | ks::ACCESS), getrange).doc(
        "string",
        "1.0.0",
        "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.",
        "Returns a substring from a string value.",
    ),
    CommandSpec::new("setrange", 4, WRITE | DENYOOM, acl::STRING, key(1, ks::RW | ks::UPDATE), setrange).doc(
        "string",
        "2.2.0",
        "O(1), not counting the time taken to copy the new string in place. Usually, this string is very small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the length of the value argument.",
        "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.",
    ),
    CommandSpec::new("incr", 2, WRITE | DENYOOM | FAST, acl::STRING, key(1, ks::RW | ks::ACCESS | ks::UPDATE), incr).doc(
        "string",
        "1.0.0",
        "O(1)",
        "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.",
    ),
    CommandSpec::new("incrby", 3, WRITE | DENYOOM | FAST, acl::STRING, key(1, ks::RW | ks::ACCESS | ks::UPDATE), incrby).doc(
        "string",
        "1.0.0",
        "O(1)",
        "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
    ),
    CommandSpec::new("decr", 2, WRITE | DENYOOM | FAST, acl::STRING, key(1, ks::RW | ks::ACCESS | ks::UPDATE), decr).doc(
        "string",
        "1.0.0",
        "O(1)",
        "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.",
    ),
    CommandSpec::new("decrby", 3, WRITE | DENYOOM | FAST, acl::STRING, key(1, ks::RW | ks::ACCESS | ks::UPDATE), decrby).doc(
        "string",
        "1.0.0",
        "O(1)",
        "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.",
    ),
    CommandSpec::new("incrbyfloat", 3, WRITE | DENYOOM | FAST, acl::STRING, key(1, ks::RW | ks::ACCESS | ks::UPDATE), incrbyfloat).doc(
        "string",
        "2.6.0",
        "O(1)",
        "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
    ),
    CommandSpec::new("lcs", -3, READONLY, acl::STRING, key_range(1, 1, 1, ks::RO | ks::ACCESS), lcs).doc(
        "string",
        "7.0.0",
        "O(N*M) where N and M are the lengths of s1 and s2, respectively",
        "Finds the longest common substring.",
    ),
];

/// Redis's `setGetKeys`: SET's key is read and updated with `GET` (an argument after the value
/// that C sees as "get": the comparison stops at a NUL byte), otherwise overwritten.
fn set_getkeys(args: &[&[u8]]) -> Vec<KeyRef> {
    if args.len() < 2 {
        return Vec::new();
    }
    let get = args
        .iter()
        .skip(3)
        .any(|a| a.len() >= 3 && a[..3].eq_ignore_ascii_case(b"get") && a.get(3).is_none_or(|&c| c == 0));
    let flags = if get { ks::RW | ks::ACCESS | ks::UPDATE } else { ks::OW | ks::UPDATE };
    vec![KeyRef { pos: 1, flags }]
}

// ---------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------

/// A string value that is never `int`-encoded (Redis's `createStringObject`: embstr when short).
fn plain_str(b: &[u8]) -> StrValue {
    if b.len() <= EMBSTR_MAX {
        StrValue::Emb(b.into())
    } else {
        StrValue::Raw(Box::new(b.to_vec()))
    }
}

/// `proto-max-bulk-len`, the largest string APPEND/SETRANGE may build (and the LCS table bound).
fn max_bulk(ctx: &Ctx) -> i64 {
    ctx.server.config.read().proto_max_bulk_len
}

/// Redis's `checkStringLength`: would a string of `size + add` bytes exceed `max`?
fn check_string_length(size: u64, add: u64, max: i64) -> CmdResult {
    if (size as u128 + add as u128) > max.max(0) as u128 {
        return Err(CmdError::msg("ERR string exceeds maximum allowed size (proto-max-bulk-len)"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// SET / GETEX option parsing and expire times
// ---------------------------------------------------------------------------------------------

/// Which expiry option was given (SET, GETEX).
#[derive(Clone, Copy, PartialEq, Debug)]
enum ExpireKind {
    Ex,
    Px,
    ExAt,
    PxAt,
}

#[derive(Default, Debug)]
struct ExtOpts<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    expire: Option<(ExpireKind, &'a [u8])>,
}

/// Parses SET's options (`for_set`) or GETEX's, from `args[from..]`, with Redis's conflict rules:
/// NX/XX exclude each other; EX/PX/EXAT/PXAT exclude each other (repeating the same one is
/// allowed, the last wins) and KEEPTTL/PERSIST; any violation or unknown word is a syntax error.
fn parse_ext_opts<'a>(args: &[&'a [u8]], from: usize, for_set: bool) -> Result<ExtOpts<'a>, CmdError> {
    let mut o = ExtOpts::default();
    // Redis compares these keywords as C strings: an argument counts up to its first NUL byte.
    let mut c = Cursor::new(args, from).c_strings();
    while !c.is_empty() {
        let kind = o.expire.map(|(k, _)| k);
        let only_expire = |k: ExpireKind| kind.is_none() || kind == Some(k);
        if for_set && !o.xx && c.keyword("nx") {
            o.nx = true;
        } else if for_set && !o.nx && c.keyword("xx") {
            o.xx = true;
        } else if for_set && c.keyword("get") {
            o.get = true;
        } else if for_set && kind.is_none() && c.keyword("keepttl") {
            o.keepttl = true;
        } else if !for_set && kind.is_none() && c.keyword("persist") {
            o.persist = true;
        } else if let Some((k, v)) = expire_option(&mut c) {
            if o.keepttl || o.persist || !only_expire(k) {
                return Err(CmdError::Syntax);
            }
            o.expire = Some((k, v));
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok(o)
}

/// `EX|PX|EXAT|PXAT value` at the cursor.
fn expire_option<'a>(c: &mut Cursor<'_, 'a>) -> Option<(ExpireKind, &'a [u8])> {
    [("ex", ExpireKind::Ex), ("px", ExpireKind::Px), ("exat", ExpireKind::ExAt), ("pxat", ExpireKind::PxAt)]
        .into_iter()
        .find_map(|(word, kind)| c.value_of(word).map(|v| (kind, v)))
}

/// The absolute expiry (Unix ms) for an expire argument, with Redis's validation: not an
/// integer → `ERR value is not an integer...`; zero, negative, or overflowing when scaled to ms
/// or made absolute → `ERR invalid expire time in '<cmd>' command`.
fn expire_at(arg: &[u8], kind: ExpireKind, now: u64, cmd: &str) -> Result<u64, CmdError> {
    let n = args::int(arg)?;
    let invalid = || CmdError::InvalidExpire(cmd.to_string());
    if n <= 0 {
        return Err(invalid());
    }
    let ms = match kind {
        ExpireKind::Ex | ExpireKind::ExAt => n.checked_mul(1000).ok_or_else(invalid)?,
        ExpireKind::Px | ExpireKind::PxAt => n,
    };
    let abs = match kind {
        ExpireKind::Ex | ExpireKind::Px => ms.checked_add(now as i64).ok_or_else(invalid)?,
        ExpireKind::ExAt | ExpireKind::PxAt => ms,
    };
    Ok(abs as u64)
}

// ---------------------------------------------------------------------------------------------
// GET / SET family
// ---------------------------------------------------------------------------------------------

fn get(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (mut db, out) = ctx.db_out();
    match lookup::read::<StrValue>(&mut db, args[1])? {
        None => out.null(),
        Some(s) => {
            let mut b = itoa::Buffer::new();
            out.bulk(s.as_bytes(&mut b));
        }
    }
    Ok(())
}

/// What SET does once its options are known; shared by SET, SETNX, SETEX, PSETEX.
struct SetReq<'a> {
    key: &'a [u8],
    value: &'a [u8],
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    /// Absolute expiry, already validated.
    expire: Option<u64>,
    /// The command as received, and how it propagates (see [`SetReq::propagate`]).
    argv: &'a [&'a [u8]],
    form: SetForm,
}

/// Which command a [`SetReq`] came from, for its propagated form.
#[derive(Clone, Copy, PartialEq)]
enum SetForm {
    /// SET, SETNX, SETEX, PSETEX.
    Set,
    /// GETSET: propagated as `SET key value`.
    GetSet,
}

impl SetReq<'_> {
    /// Propagates the SET that happened in Redis's deterministic form (`setGenericCommand`): with
    /// an expiry, `SET key value PXAT <ms>` (NX/XX/GET dropped: the SET happened); without one,
    /// the command minus its `GET`s; GETSET as `SET key value`.
    fn propagate(&self, ctx: &mut Ctx) {
        match (self.expire, self.form) {
            (Some(at), SetForm::Set) => {
                let mut b = itoa::Buffer::new();
                ctx.propagate(&[&b"SET"[..], self.key, self.value, b"PXAT", b.format(at).as_bytes()]);
            }
            (_, SetForm::GetSet) => ctx.propagate(&[&b"SET"[..], self.key, self.value]),
            (None, _) if self.get => {
                let kept: Vec<&[u8]> = self
                    .argv
                    .iter()
                    .enumerate()
                    .filter(|&(j, a)| j < 3 || !a.eq_ignore_ascii_case(b"get"))
                    .map(|(_, a)| *a)
                    .collect();
                ctx.propagate(&kept);
            }
            _ => {}
        }
    }
}

/// Runs a SET. Replies: the old value (GET), else `ok` on success and `abort` when NX/XX stop
/// it (`None` → null).
fn set_generic(
    ctx: &mut Ctx,
    r: SetReq,
    ok: impl FnOnce(&mut resp::Writer),
    abort: impl FnOnce(&mut resp::Writer),
) -> CmdResult {
    let (mut db, out) = ctx.db_out();
    let found = if r.get {
        match lookup::read::<StrValue>(&mut db, r.key)? {
            None => {
                out.null();
                false
            }
            Some(s) => {
                let mut b = itoa::Buffer::new();
                out.bulk(s.as_bytes(&mut b));
                true
            }
        }
    } else if r.nx || r.xx {
        db.exists(r.key)
    } else {
        // A plain SET does not need to know: skip the lookup.
        false
    };
    if (r.nx && found) || (r.xx && !found) {
        if !r.get {
            abort(out);
        }
        ctx.propagate_nothing();
        return Ok(());
    }
    if r.keepttl {
        db.set_keep_ttl(r.key, Value::from_bytes(r.value));
    } else {
        db.set_str(r.key, r.value, r.expire.unwrap_or(NO_EXPIRE));
    }
    ctx.notify(notify::STRING, "set", r.key);
    if r.expire.is_some() {
        ctx.notify(notify::GENERIC, "expire", r.key);
    }
    if !r.get {
        ok(ctx.out);
    }
    if ctx.propagating() {
        r.propagate(ctx);
    }
    Ok(())
}

fn set(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let o = parse_ext_opts(args, 3, true)?;
    let expire = match o.expire {
        Some((kind, v)) => Some(expire_at(v, kind, ctx.now, "set")?),
        None => None,
    };
    let req = SetReq {
        key: args[1],
        value: args[2],
        nx: o.nx,
        xx: o.xx,
        get: o.get,
        keepttl: o.keepttl,
        expire,
        argv: args,
        form: SetForm::Set,
    };
    set_generic(ctx, req, |w| w.ok(), |w| w.null())
}

fn setnx(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let req = SetReq {
        key: args[1],
        value: args[2],
        nx: true,
        xx: false,
        get: false,
        keepttl: false,
        expire: None,
        argv: args,
        form: SetForm::Set,
    };
    set_generic(ctx, req, |w| w.int(1), |w| w.int(0))
}

fn setex_generic(ctx: &mut Ctx, args: &[&[u8]], kind: ExpireKind, cmd: &str) -> CmdResult {
    let expire = Some(expire_at(args[2], kind, ctx.now, cmd)?);
    let req = SetReq {
        key: args[1],
        value: args[3],
        nx: false,
        xx: false,
        get: false,
        keepttl: false,
        expire,
        argv: args,
        form: SetForm::Set,
    };
    set_generic(ctx, req, |w| w.ok(), |w| w.null())
}

fn setex(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    setex_generic(ctx, args, ExpireKind::Ex, "setex")
}

fn psetex(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    setex_generic(ctx, args, ExpireKind::Px, "psetex")
}

fn mget(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (mut db, out) = ctx.db_out();
    out.array(args.len() - 1);
    let mut b = itoa::Buffer::new();
    for key in &args[1..] {
        match lookup::read::<StrValue>(&mut db, key) {
            Ok(Some(s)) => out.bulk(s.as_bytes(&mut b)),
            // MGET answers nil for a key of another type, never an error.
            _ => out.null(),
        }
    }
    Ok(())
}

fn mset_pairs(ctx: &mut Ctx, args: &[&[u8]]) {
    for pair in args[1..].chunks_exact(2) {
        ctx.db().set_str(pair[0], pair[1], NO_EXPIRE);
        ctx.notify(notify::STRING, "set", pair[0]);
    }
}

fn mset(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if args.len().is_multiple_of(2) {
        return Err(CmdError::WrongArity("mset".into()));
    }
    mset_pairs(ctx, args);
    ctx.out.ok();
    Ok(())
}

fn msetnx(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if args.len().is_multiple_of(2) {
        return Err(CmdError::WrongArity("msetnx".into()));
    }
    let mut db = ctx.db();
    if args[1..].iter().step_by(2).any(|k| db.exists(k)) {
        ctx.out.int(0);
        ctx.propagate_nothing();
        return Ok(());
    }
    mset_pairs(ctx, args);
    ctx.out.int(1);
    Ok(())
}

fn getset(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let req = SetReq {
        key: args[1],
        value: args[2],
        nx: false,
        xx: false,
        get: true,
        keepttl: false,
        expire: None,
        argv: args,
        form: SetForm::GetSet,
    };
    set_generic(ctx, req, |_| {}, |_| {})
}

fn getdel(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (mut db, out) = ctx.db_out();
    match lookup::read::<StrValue>(&mut db, args[1])? {
        None => {
            out.null();
            ctx.propagate_nothing();
            return Ok(());
        }
        Some(s) => {
            let mut b = itoa::Buffer::new();
            out.bulk(s.as_bytes(&mut b));
        }
    }
    db.remove(args[1]);
    ctx.propagate(&[&b"DEL"[..], args[1]]);
    ctx.notify(notify::GENERIC, "del", args[1]);
    Ok(())
}

fn getex(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let o = parse_ext_opts(args, 2, false)?;
    let now = ctx.now;
    let (mut db, out) = ctx.db_out();
    let (had_ttl, at) = match db.get_counted(args[1]) {
        // A missing key answers nil even when the expire argument is bad.
        None => {
            out.null();
            ctx.propagate_nothing();
            return Ok(());
        }
        Some(e) => {
            let had = e.has_expire();
            let s = lookup::typed::<StrValue>(e)?;
            let at = match o.expire {
                Some((kind, v)) => Some(expire_at(v, kind, now, "getex")?),
                None => None,
            };
            let mut b = itoa::Buffer::new();
            out.bulk(s.as_bytes(&mut b));
            (had, at)
        }
    };
    match (at, o.expire) {
        // An absolute time already past deletes the key (after replying with its value).
        (Some(at), Some((ExpireKind::ExAt | ExpireKind::PxAt, _))) if at <= now => {
            db.remove(args[1]);
            // `UNLINK` under lazyfree-lazy-expire, as Redis's GETEX.
            let lazy = crate::db::lazyfree::enabled(crate::db::lazyfree::Flag::Expire);
            ctx.propagate(&[crate::propagate::deletion(lazy), args[1]]);
            ctx.notify(notify::GENERIC, "del", args[1]);
        }
        (Some(at), _) => {
            db.set_expire(args[1], at);
            // Propagated as Redis does: `PEXPIREAT key <ms>`.
            let mut b = itoa::Buffer::new();
            ctx.propagate(&[&b"PEXPIREAT"[..], args[1], b.format(at).as_bytes()]);
            ctx.notify(notify::GENERIC, "expire", args[1]);
        }
        // PERSIST on a key without a TTL changes nothing (and signals no modification).
        (None, _) if o.persist && had_ttl => {
            db.set_expire(args[1], NO_EXPIRE);
            ctx.propagate(&[&b"PERSIST"[..], args[1]]);
            ctx.notify(notify::GENERIC, "persist", args[1]);
        }
        _ => ctx.propagate_nothing(),
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// APPEND, STRLEN, GETRANGE, SETRANGE
// ---------------------------------------------------------------------------------------------

fn append(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let max = max_bulk(ctx);
    let (key, add) = (args[1], args[2]);
    let mut db = ctx.db();
    let len = match lookup::get::<StrValue>(&mut db, key)? {
        None => {
            // A new key is stored as SET would store it (int/embstr/raw).
            db.set(key, Value::from_bytes(add), NO_EXPIRE);
            add.len()
        }
        Some(s) => {
            check_string_length(s.len() as u64, add.len() as u64, max)?;
            let buf = s.make_raw();
            buf.extend_from_slice(add);
            let n = buf.len();
            db.touch(key);
            n
        }
    };
    ctx.notify(notify::STRING, "append", key);
    ctx.out.int(len as i64);
    Ok(())
}

fn strlen(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut db = ctx.db();
    let n = lookup::read::<StrValue>(&mut db, args[1])?.map_or(0, |s| s.len());
    ctx.out.int(n as i64);
    Ok(())
}

/// GETRANGE's byte range of a string of `len` bytes for inclusive indexes `start..=end`
/// (negative counts from the end), or `None` for an empty result.
pub fn substr_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    if start < 0 && end < 0 && start > end {
        return None;
    }
    let len = len as i128;
    let fix = |i: i64| {
        let i = i as i128;
        (if i < 0 { len + i } else { i }).max(0)
    };
    let start = fix(start);
    let end = fix(end).min(len - 1);
    if len == 0 || start > end {
        return None;
    }
    Some((start as usize, end as usize + 1))
}

fn getrange(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let start = args::int(args[2])?;
    let end = args::int(args[3])?;
    let (mut db, out) = ctx.db_out();
    match lookup::read::<StrValue>(&mut db, args[1])? {
        None => out.bulk(b""),
        Some(s) => {
            let mut b = itoa::Buffer::new();
            let bytes = s.as_bytes(&mut b);
            match substr_range(start, end, bytes.len()) {
                Some((from, to)) => out.bulk(&bytes[from..to]),
                None => out.bulk(b""),
            }
        }
    }
    Ok(())
}

fn setrange(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let offset = args::int(args[2])?;
    if offset < 0 {
        return Err(CmdError::msg("ERR offset is out of range"));
    }
    let offset = offset as u64;
    let (key, value) = (args[1], args[3]);
    let max = max_bulk(ctx);
    let mut db = ctx.db();
    let len = match lookup::get::<StrValue>(&mut db, key)? {
        None => {
            // Writing nothing to a missing key creates nothing.
            if value.is_empty() {
                ctx.out.int(0);
                return Ok(());
            }
            check_string_length(offset, value.len() as u64, max)?;
            let mut buf = vec![0u8; offset as usize + value.len()];
            buf[offset as usize..].copy_from_slice(value);
            let n = buf.len();
            db.set(key, Value::Str(StrValue::Raw(Box::new(buf))), NO_EXPIRE);
            n
        }
        Some(s) => {
            if value.is_empty() {
                // Nothing to write: the value (and its encoding) stays as it is.
                let n = s.len();
                ctx.out.int(n as i64);
                return Ok(());
            }
            check_string_length(offset, value.len() as u64, max)?;
            let buf = s.make_raw();
            let end = offset as usize + value.len();
            if buf.len() < end {
                buf.resize(end, 0);
            }
            buf[offset as usize..end].copy_from_slice(value);
            let n = buf.len();
            db.touch(key);
            n
        }
    };
    ctx.notify(notify::STRING, "setrange", key);
    ctx.out.int(len as i64);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// INCR family
// ---------------------------------------------------------------------------------------------

fn incr_decr(ctx: &mut Ctx, key: &[u8], by: i64) -> CmdResult {
    let mut db = ctx.db();
    let n = match lookup::get::<StrValue>(&mut db, key)? {
        None => {
            db.set(key, Value::Str(StrValue::Int(by)), NO_EXPIRE);
            by
        }
        Some(s) => {
            let cur = s.as_int().ok_or(CmdError::NotInteger)?;
            let n = cur.checked_add(by).ok_or(CmdError::Overflow)?;
            // In place: the key keeps its TTL.
            *s = StrValue::Int(n);
            db.touch(key);
            n
        }
    };
    ctx.notify(notify::STRING, "incrby", key);
    ctx.out.int(n);
    Ok(())
}

fn incr(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    incr_decr(ctx, args[1], 1)
}

fn decr(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    incr_decr(ctx, args[1], -1)
}

fn incrby(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let by = args::int(args[2])?;
    incr_decr(ctx, args[1], by)
}

fn decrby(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let by = args::int(args[2])?;
    // Negating i64::MIN overflows; Redis has a dedicated error for it.
    let by = by.checked_neg().ok_or_else(|| CmdError::msg("ERR decrement would overflow"))?;
    incr_decr(ctx, args[1], by)
}

fn incrbyfloat(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    let mut db = ctx.db();
    let (cur, existed) = match lookup::get::<StrValue>(&mut db, key)? {
        None => (LongDouble::ZERO, false),
        Some(s) => {
            let v = match &*s {
                StrValue::Int(n) => LongDouble::from_i64(*n),
                s => {
                    let mut b = itoa::Buffer::new();
                    LongDouble::parse(s.as_bytes(&mut b)).ok_or(CmdError::NotFloat)?
                }
            };
            (v, true)
        }
    };
    let by = LongDouble::parse(args[2]).ok_or(CmdError::NotFloat)?;
    let sum = cur + by;
    if !sum.is_finite() {
        return Err(CmdError::msg("ERR increment would produce NaN or Infinity"));
    }
    let text = sum.to_human();
    let value = Value::Str(plain_str(text.as_bytes()));
    if existed {
        db.set_keep_ttl(key, value);
    } else {
        db.set(key, value, NO_EXPIRE);
    }
    // Propagated as the value it stored, so a replay does not redo the float arithmetic.
    ctx.propagate(&[&b"SET"[..], key, text.as_bytes(), b"KEEPTTL"]);
    ctx.notify(notify::STRING, "incrbyfloat", key);
    ctx.out.bulk(text.as_bytes());
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// LCS
// ---------------------------------------------------------------------------------------------

/// One matching run found by LCS: inclusive ranges in the first and second string.
#[derive(Debug, PartialEq)]
pub struct LcsMatch {
    pub a: (usize, usize),
    pub b: (usize, usize),
}

/// The LCS table of `a` and `b`: `t[i * (b.len()+1) + j]` is the LCS length of `a[..i]`, `b[..j]`.
fn lcs_table(a: &[u8], b: &[u8]) -> Vec<u32> {
    let w = b.len() + 1;
    let mut t = vec![0u32; (a.len() + 1) * w];
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            t[i * w + j] = if a[i - 1] == b[j - 1] {
                t[(i - 1) * w + j - 1] + 1
            } else {
                t[(i - 1) * w + j].max(t[i * w + j - 1])
            };
        }
    }
    t
}

/// Walks the LCS table back from the end, returning the common subsequence and its contiguous
/// matching runs, from the end of the strings towards the start (Redis's reply order). On a tie
/// the walk moves along `b` first, as Redis does, so the reported runs are the same.
pub fn lcs_walk(a: &[u8], b: &[u8]) -> (Vec<u8>, Vec<LcsMatch>) {
    let t = lcs_table(a, b);
    let w = b.len() + 1;
    let mut seq = Vec::with_capacity(t[a.len() * w + b.len()] as usize);
    let mut runs = Vec::new();
    let (mut i, mut j) = (a.len(), b.len());
    // The run being extended: (a_start, a_end, b_start, b_end), all inclusive.
    let mut run: Option<(usize, usize, usize, usize)> = None;
    while i > 0 && j > 0 {
        if a[i - 1] == b[j - 1] {
            seq.push(a[i - 1]);
            run = Some(match run {
                Some((_, ae, _, be)) => (i - 1, ae, j - 1, be),
                None => (i - 1, i - 1, j - 1, j - 1),
            });
            i -= 1;
            j -= 1;
            // A run ends when either string is exhausted.
            if i == 0 || j == 0 {
                if let Some((as_, ae, bs, be)) = run.take() {
                    runs.push(LcsMatch { a: (as_, ae), b: (bs, be) });
                }
            }
        } else {
            if t[(i - 1) * w + j] > t[i * w + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
            if let Some((as_, ae, bs, be)) = run.take() {
                runs.push(LcsMatch { a: (as_, ae), b: (bs, be) });
            }
        }
    }
    seq.reverse();
    (seq, runs)
}

fn lcs(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let max = max_bulk(ctx);
    let mut db = ctx.db();
    let type_err = || CmdError::msg("ERR The specified keys must contain string values");
    let mut fetch = |key: &[u8]| -> Result<Option<Vec<u8>>, ()> {
        match lookup::read::<StrValue>(&mut db, key) {
            Ok(s) => Ok(s.map(|s| s.to_vec())),
            Err(_) => Err(()),
        }
    };
    // Both keys are looked up before the type check, as Redis does (it counts both).
    let (ra, rb) = (fetch(args[1]), fetch(args[2]));
    let (a, b) = match (ra, rb) {
        (Ok(a), Ok(b)) => (a.unwrap_or_default(), b.unwrap_or_default()),
        _ => return Err(type_err()),
    };
    let (mut idx, mut len, mut withmatchlen, mut minmatchlen) = (false, false, false, 0i64);
    let mut c = Cursor::new(args, 3).c_strings();
    while !c.is_empty() {
        if c.keyword("idx") {
            idx = true;
        } else if c.keyword("len") {
            len = true;
        } else if c.keyword("withmatchlen") {
            withmatchlen = true;
        } else if let Some(n) = c.int_of("minmatchlen")? {
            minmatchlen = n.max(0);
        } else {
            return Err(CmdError::Syntax);
        }
    }
    if idx && len {
        return Err(CmdError::msg("ERR If you want both the length and indexes, please just use IDX."));
    }
    if a.len() >= u32::MAX as usize - 1 || b.len() >= u32::MAX as usize - 1 {
        return Err(CmdError::msg("ERR String too long for LCS"));
    }
    // The dynamic-programming table is bounded like Redis bounds it, so a client cannot make
    // the server allocate more than proto-max-bulk-len for it.
    let cells = (a.len() as u128 + 1) * (b.len() as u128 + 1);
    if cells * 4 > max.max(0) as u128 {
        return Err(CmdError::msg("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"));
    }
    let out = &mut *ctx.out;
    if len && !idx {
        let t = lcs_table(&a, &b);
        out.int(t[t.len() - 1] as i64);
        return Ok(());
    }
    let (seq, runs) = lcs_walk(&a, &b);
    if !idx {
        out.bulk(&seq);
        return Ok(());
    }
    let shown: Vec<&LcsMatch> =
        runs.iter().filter(|m| minmatchlen == 0 || (m.a.1 - m.a.0 + 1) as i64 >= minmatchlen).collect();
    out.map(2);
    out.bulk(b"matches");
    out.array(shown.len());
    for m in shown {
        out.array(2 + withmatchlen as usize);
        out.array(2);
        out.int(m.a.0 as i64);
        out.int(m.a.1 as i64);
        out.array(2);
        out.int(m.b.0 as i64);
        out.int(m.b.1 as i64);
        if withmatchlen {
            out.int((m.a.1 - m.a.0 + 1) as i64);
        }
    }
    out.bulk(b"len");
    out.int(seq.len() as i64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substr_ranges() {
        assert_eq!(substr_range(0, -1, 5), Some((0, 5)));
        assert_eq!(substr_range(1, 3, 5), Some((1, 4)));
        assert_eq!(substr_range(-3, -1, 5), Some((2, 5)));
        assert_eq!(substr_range(-1, -3, 5), None);
        assert_eq!(substr_range(3, 1, 5), None);
        assert_eq!(substr_range(0, 100, 5), Some((0, 5)));
        assert_eq!(substr_range(-100, 1, 5), Some((0, 2)));
        assert_eq!(substr_range(10, 20, 5), None);
        assert_eq!(substr_range(0, -1, 0), None);
        assert_eq!(substr_range(i64::MIN, i64::MAX, 5), Some((0, 5)));
        assert_eq!(substr_range(0, i64::MIN, 5), Some((0, 1)));
    }

    #[test]
    fn lcs_runs_follow_redis() {
        // LCS ohmytext mynewtext IDX from Redis's documentation example.
        let (seq, runs) = lcs_walk(b"ohmytext", b"mynewtext");
        assert_eq!(seq, b"mytext");
        assert_eq!(runs, vec![LcsMatch { a: (4, 7), b: (5, 8) }, LcsMatch { a: (2, 3), b: (0, 1) }]);
        let (seq, runs) = lcs_walk(b"", b"abc");
        assert!(seq.is_empty() && runs.is_empty());
    }

    #[test]
    fn option_keywords_stop_at_nul() {
        let a: Vec<&[u8]> = vec![b"set", b"k", b"v", b"NX\0junk"];
        assert!(parse_ext_opts(&a, 3, true).unwrap().nx);
        let a: Vec<&[u8]> = vec![b"set", b"k", b"v", b"NXjunk"];
        assert_eq!(parse_ext_opts(&a, 3, true).unwrap_err(), CmdError::Syntax);
        let a: Vec<&[u8]> = vec![b"set", b"k", b"v", b"EX", b"1", b"PX", b"2"];
        assert_eq!(parse_ext_opts(&a, 3, true).unwrap_err(), CmdError::Syntax);
        let a: Vec<&[u8]> = vec![b"set", b"k", b"v", b"EX", b"1", b"EX", b"2"];
        assert_eq!(parse_ext_opts(&a, 3, true).unwrap().expire, Some((ExpireKind::Ex, &b"2"[..])));
    }

    /// Runs commands in-process on a RESP3 connection and returns each raw reply.
    fn run_resp3(cmds: &[&str]) -> Vec<String> {
        use crate::client::{Client, Peer};
        use crate::config::Config;
        use crate::server::Server;
        let server = Server::new(Config::default(), String::new(), String::new());
        let info = server.clients.register(Peer::Unix { path: "test".into() });
        let mut client = Client::new(info, true);
        let mut out = resp::Writer::new(true);
        cmds.iter()
            .map(|line| {
                let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
                let mark = out.len();
                crate::cmd::dispatch::execute(&server, &mut client, &mut out, &args);
                String::from_utf8_lossy(&out.buf[mark..]).into_owned()
            })
            .collect()
    }

    #[test]
    fn resp3_nulls_and_lcs_map() {
        // Expected bytes taken from redis-server after HELLO 3 (the diff test covers the same
        // once redstart speaks HELLO).
        let got = run_resp3(&[
            "GET missing",
            "SET k v",
            "MGET k missing",
            "SET k v NX",
            "SET k v2 GET",
            "SET n v XX GET",
            "GETDEL missing3",
            "GETEX missing4 EX 10",
            "MSET key1 ohmytext key2 mynewtext",
            "LCS key1 key2 IDX WITHMATCHLEN MINMATCHLEN 4",
            "LCS m1 m2 IDX",
            "INCRBYFLOAT f 1.5",
        ]);
        let want = [
            "_\r\n",
            "+OK\r\n",
            "*2\r\n$1\r\nv\r\n_\r\n",
            "_\r\n",
            "$1\r\nv\r\n",
            "_\r\n",
            "_\r\n",
            "_\r\n",
            "+OK\r\n",
            "%2\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n$3\r\nlen\r\n:6\r\n",
            "%2\r\n$7\r\nmatches\r\n*0\r\n$3\r\nlen\r\n:0\r\n",
            "$3\r\n1.5\r\n",
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn expire_times_validate_like_redis() {
        let inv = Err(CmdError::InvalidExpire("set".into()));
        assert_eq!(expire_at(b"0", ExpireKind::Px, 1000, "set"), inv);
        assert_eq!(expire_at(b"-5", ExpireKind::Ex, 1000, "set"), inv);
        assert_eq!(expire_at(b"9223372036854776", ExpireKind::ExAt, 0, "set"), inv);
        assert_eq!(expire_at(b"9223372036854775807", ExpireKind::Px, 1, "set"), inv);
        assert_eq!(expire_at(b"9223372036854775807", ExpireKind::PxAt, 1, "set"), Ok(i64::MAX as u64));
        assert_eq!(expire_at(b"2", ExpireKind::Ex, 1000, "set"), Ok(3000));
        assert_eq!(expire_at(b"x", ExpireKind::Ex, 1000, "set"), Err(CmdError::NotInteger));
    }
}
