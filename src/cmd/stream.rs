//! Stream commands: XADD, XRANGE, XREVRANGE, XLEN, XDEL, XTRIM, XSETID, XREAD, XREADGROUP, XACK,
//! XPENDING, XCLAIM, XAUTOCLAIM, XGROUP (CREATE, SETID, DESTROY, CREATECONSUMER, DELCONSUMER,
//! HELP) and XINFO (STREAM [FULL], GROUPS, CONSUMERS, HELP).
//!
//! The data structure (packed nodes under an ordered map, consumer groups, PELs) lives in
//! `types::stream`. Handlers validate every argument before touching the keyspace, then work on
//! the stream in place and call `db.touch` after a change. Streams, unlike other collections,
//! may exist empty (XDEL/XTRIM never delete the key), as in Redis.
//!
//! Key positions: XREAD/XREADGROUP keys follow `STREAMS`; a finder ([`streams_keys`]) gives the
//! dispatcher those positions so the right shards are locked.
//!
//! Redis 7.2 behaviour followed where it differs from 7.0: XINFO CONSUMERS reports `inactive`
//! (ms since the consumer's last successful read/claim, -1 if never) and XINFO STREAM FULL
//! reports each consumer's `active-time`; `seen-time`/`idle` count from the last attempt.
//! XREAD does not accept `+` (added in 7.4).
//!
//! Blocking reads (`cmd::blocking`): XREAD/XREADGROUP with BLOCK that find nothing register a
//! waiter on every key, with `$` replaced by the stream's last ID at that moment, so the re-run
//! that serves the waiter reads only what was added after it blocked. XADD signals its key, and
//! one XADD serves every waiter it can (each XREAD reader; the first XREADGROUP reader of each
//! group). A blocked XREADGROUP is re-run on any change of its key (XGROUP DESTROY, DEL, an
//! overwrite), as in Redis 7.2, and so ends with the command's own error (`NOGROUP No such key
//! ...`, WRONGTYPE) where 7.0 answered `-NOGROUP the consumer group this client was blocked on
//! no longer exists` / `-UNBLOCKED the stream key no longer exists`. A `>` read that delivers
//! nothing does not create its consumer, as in Redis.
//!
//! Keyspace notifications (class `t`), as Redis: `xadd` (then `xtrim` when its MAXLEN/MINID
//! trimmed something), `xtrim`, `xdel`, `xsetid`, `xgroup-create`, `xgroup-setid`,
//! `xgroup-destroy`, `xgroup-createconsumer` (also when XREADGROUP, XCLAIM or XAUTOCLAIM create
//! a consumer), `xgroup-delconsumer`. XCLAIM and XAUTOCLAIM raise no event of their own.
//!
//! Differences from Redis: `radix-tree-nodes` is the node count of a canonical radix tree over
//! the node keys, which can differ from Redis's after deletions. FLUSHALL/FLUSHDB/SWAPDB do not
//! wake blocked XREADGROUP clients (see `cmd::blocking`).

use super::blocking;
use super::{
    acl, args, flags::*, keys, BeginSearch, CmdError, CmdResult, CommandSpec, Ctx, FindKeys, KeySpec, KeySpecDoc,
};
use crate::db::value::{EntryMut, Value, NO_EXPIRE};
use crate::notify;
use crate::types::stream::{parse_id_arg, Entry, Group, IdArg, Stream, StreamId, Trim, ENTRIES_READ_UNKNOWN};
use resp::Writer;

const XGROUP_SUB: u32 = WRITE;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("xadd", -5, WRITE | DENYOOM | FAST, acl::STREAM, keys(1, 1, 1), xadd).doc(
        "stream",
        "5.0.0",
        "O(1) when adding a new entry, O(N) when trimming where N being the number of entries evicted.",
        "Appends a new message to a stream. Creates the key if it doesn't exist.",
    ),
    CommandSpec::new("xrange", -4, READONLY, acl::STREAM, keys(1, 1, 1), xrange).doc(
        "stream",
        "5.0.0",
        "O(N) with N being the number of elements being returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1).",
        "Returns the messages from a stream within a range of IDs.",
    ),
    CommandSpec::new("xrevrange", -4, READONLY, acl::STREAM, keys(1, 1, 1), xrevrange).doc(
        "stream",
        "5.0.0",
        "O(N) with N being the number of elements returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1).",
        "Returns the messages from a stream within a range of IDs in reverse order.",
    ),
    CommandSpec::new("xlen", 2, READONLY | FAST, acl::STREAM, keys(1, 1, 1), xlen).doc(
        "stream",
        "5.0.0",
        "O(1)",
        "Return the number of messages in a stream.",
    ),
    CommandSpec::new("xdel", -3, WRITE | FAST, acl::STREAM, keys(1, 1, 1), xdel).doc(
        "stream",
        "5.0.0",
        "O(1) for each single item to delete in the stream, regardless of the stream size.",
        "Returns the number of messages after removing them from a stream.",
    ),
    CommandSpec::new("xtrim", -4, WRITE, acl::STREAM, keys(1, 1, 1), xtrim).doc(
        "stream",
        "5.0.0",
        "O(N), with N being the number of evicted entries. Constant times are very small however, since entries are organized in macro nodes containing multiple entries that can be released with a single deallocation.",
        "Deletes messages from the beginning of a stream.",
    ),
    CommandSpec::new("xsetid", -3, WRITE | DENYOOM | FAST, acl::STREAM, keys(1, 1, 1), xsetid).doc(
        "stream",
        "5.0.0",
        "O(1)",
        "An internal command for replicating stream values.",
    ),
    CommandSpec::new(
        "xread",
        -4,
        READONLY | BLOCKING | MOVABLEKEYS,
        acl::STREAM,
        KeySpec { first: 0, last: 0, step: 0, finder: Some(streams_keys) },
        xread,
    )
    .key_specs(&[KeySpecDoc {
        flags: &["RO", "access"],
        begin: BeginSearch::Keyword("STREAMS", 1),
        find: FindKeys::Range { lastkey: -1, keystep: 1, limit: 2 },
    }])
    .doc(
        "stream",
        "5.0.0",
        "",
        "Returns messages from multiple streams with IDs greater than the ones requested. Blocks until a message is available otherwise.",
    ),
    CommandSpec::new(
        "xreadgroup",
        -7,
        WRITE | BLOCKING | MOVABLEKEYS,
        acl::STREAM,
        KeySpec { first: 0, last: 0, step: 0, finder: Some(streams_keys) },
        xreadgroup,
    )
    .key_specs(&[KeySpecDoc {
        flags: &["RO", "access"],
        begin: BeginSearch::Keyword("STREAMS", 4),
        find: FindKeys::Range { lastkey: -1, keystep: 1, limit: 2 },
    }])
    .doc(
        "stream",
        "5.0.0",
        "For each stream mentioned: O(M) with M being the number of elements returned. If M is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1). On the other side when XREADGROUP blocks, XADD will pay the O(N) time in order to serve the N clients blocked on the stream getting new data.",
        "Returns new or historical messages from a stream for a consumer in a group. Blocks until a message is available otherwise.",
    ),
    CommandSpec::new("xack", -4, WRITE | FAST, acl::STREAM, keys(1, 1, 1), xack).doc(
        "stream",
        "5.0.0",
        "O(1) for each message ID processed.",
        "Returns the number of messages that were successfully acknowledged by the consumer group member of a stream.",
    ),
    CommandSpec::new("xpending", -3, READONLY, acl::STREAM, keys(1, 1, 1), xpending).doc(
        "stream",
        "5.0.0",
        "O(N) with N being the number of elements returned, so asking for a small fixed number of entries per call is O(1). O(M), where M is the total number of entries scanned when used with the IDLE filter. When the command returns just the summary and the list of consumers is small, it runs in O(1) time; otherwise, an additional O(N) time for iterating every consumer.",
        "Returns the information and entries from a stream consumer group's pending entries list.",
    ),
    CommandSpec::new("xclaim", -6, WRITE | FAST, acl::STREAM, keys(1, 1, 1), xclaim).doc(
        "stream",
        "5.0.0",
        "O(log N) with N being the number of messages in the PEL of the consumer group.",
        "Changes, or acquires, ownership of a message in a consumer group, as if the message was delivered a consumer group member.",
    ),
    CommandSpec::new("xautoclaim", -6, WRITE | FAST, acl::STREAM, keys(1, 1, 1), xautoclaim).doc(
        "stream",
        "6.2.0",
        "O(1) if COUNT is small.",
        "Changes, or acquires, ownership of messages in a consumer group, as if the messages were delivered to as consumer group member.",
    ),
    CommandSpec::new("xgroup", -2, 0, 0, super::NO_KEYS, xgroup_help)
        .doc("stream", "5.0.0", "Depends on subcommand.", "A container for consumer groups commands.")
        .subcommands(&[
            CommandSpec::new("create", -5, XGROUP_SUB | DENYOOM, acl::STREAM, keys(2, 2, 1), xgroup_create).doc(
                "stream",
                "5.0.0",
                "O(1)",
                "Creates a consumer group.",
            ),
            CommandSpec::new("setid", -5, XGROUP_SUB, acl::STREAM, keys(2, 2, 1), xgroup_setid).doc(
                "stream",
                "5.0.0",
                "O(1)",
                "Sets the last-delivered ID of a consumer group.",
            ),
            CommandSpec::new("destroy", 4, XGROUP_SUB, acl::STREAM, keys(2, 2, 1), xgroup_destroy).doc(
                "stream",
                "5.0.0",
                "O(N) where N is the number of entries in the group's pending entries list (PEL).",
                "Destroys a consumer group.",
            ),
            CommandSpec::new(
                "createconsumer",
                5,
                XGROUP_SUB | DENYOOM,
                acl::STREAM,
                keys(2, 2, 1),
                xgroup_createconsumer,
            )
            .doc("stream", "6.2.0", "O(1)", "Creates a consumer in a consumer group."),
            CommandSpec::new("delconsumer", 5, XGROUP_SUB, acl::STREAM, keys(2, 2, 1), xgroup_delconsumer).doc(
                "stream",
                "5.0.0",
                "O(1)",
                "Deletes a consumer from a consumer group.",
            ),
            CommandSpec::new("help", 2, LOADING | STALE, acl::STREAM, super::NO_KEYS, xgroup_help).doc(
                "stream",
                "5.0.0",
                "O(1)",
                "Returns helpful text about the different subcommands.",
            ),
        ]),
    CommandSpec::new("xinfo", -2, 0, 0, super::NO_KEYS, xinfo_help)
        .doc("stream", "5.0.0", "Depends on subcommand.", "A container for stream introspection commands.")
        .subcommands(&[
            CommandSpec::new("consumers", 4, READONLY, acl::STREAM, keys(2, 2, 1), xinfo_consumers).doc(
                "stream",
                "5.0.0",
                "O(1)",
                "Returns a list of the consumers in a consumer group.",
            ),
            CommandSpec::new("groups", 3, READONLY, acl::STREAM, keys(2, 2, 1), xinfo_groups).doc(
                "stream",
                "5.0.0",
                "O(1)",
                "Returns a list of the consumer groups of a stream.",
            ),
            CommandSpec::new("stream", -3, READONLY, acl::STREAM, keys(2, 2, 1), xinfo_stream).doc(
                "stream",
                "5.0.0",
                "O(1)",
                "Returns information about a stream.",
            ),
            CommandSpec::new("help", 2, LOADING | STALE, acl::STREAM, super::NO_KEYS, xinfo_help).doc(
                "stream",
                "5.0.0",
                "O(1)",
                "Returns helpful text about the different subcommands.",
            ),
        ]),
];

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";
const NO_KEY_XGROUP: &str = "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.";

fn invalid_id() -> CmdError {
    CmdError::msg(INVALID_ID)
}

/// Where the keys of XREAD/XREADGROUP start: after `STREAMS`, found by walking the options
/// exactly as [`read_cmd`] parses them (so an option value spelled `streams` is not mistaken
/// for the keyword). `None` when the options do not parse; the handler then fails before it
/// touches any key.
fn streams_start(args: &[&[u8]]) -> Option<usize> {
    let mut i = 1;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let a = args[i];
        if (args::is(a, "block") || args::is(a, "count")) && more >= 1 {
            i += 2;
        } else if args::is(a, "streams") && more >= 1 {
            return Some(i + 1);
        } else if args::is(a, "group") && more >= 2 {
            i += 3;
        } else if args::is(a, "noack") {
            i += 1;
        } else {
            return None;
        }
    }
    None
}

/// Key positions of XREAD/XREADGROUP: the first half of the arguments after `STREAMS`.
pub fn streams_keys(args: &[&[u8]]) -> Vec<usize> {
    let Some(p) = streams_start(args) else { return Vec::new() };
    let n = args.len() - p;
    if !n.is_multiple_of(2) {
        return Vec::new();
    }
    (p..p + n / 2).collect()
}

/// Parses an ID. `strict` rejects `-`/`+`; a missing sequence becomes `missing_seq`.
fn parse_id(arg: &[u8], strict: bool, missing_seq: u64) -> Result<StreamId, CmdError> {
    if !strict && arg == b"-" {
        return Ok(StreamId::MIN);
    }
    if !strict && arg == b"+" {
        return Ok(StreamId::MAX);
    }
    match parse_id_arg(arg, false) {
        Some(IdArg::Full(id)) => Ok(id),
        Some(IdArg::MsOnly(ms)) => Ok(StreamId::new(ms, missing_seq)),
        _ => Err(invalid_id()),
    }
}

/// A range start: `-`, an ID, or `(ID` (exclusive).
fn range_start(arg: &[u8]) -> Result<StreamId, CmdError> {
    if let Some(rest) = arg.strip_prefix(b"(") {
        let id = parse_id(rest, true, 0)?;
        return id.incr().ok_or_else(|| CmdError::msg("ERR invalid start ID for the interval"));
    }
    parse_id(arg, false, 0)
}

/// A range end: `+`, an ID, or `(ID` (exclusive).
fn range_end(arg: &[u8]) -> Result<StreamId, CmdError> {
    if let Some(rest) = arg.strip_prefix(b"(") {
        let id = parse_id(rest, true, u64::MAX)?;
        return id.decr().ok_or_else(|| CmdError::msg("ERR invalid end ID for the interval"));
    }
    parse_id(arg, false, u64::MAX)
}

fn write_id(out: &mut Writer, id: StreamId) {
    // `<ms>-<seq>` formatted on the stack: at most 20 + 1 + 20 bytes.
    let mut b = [0u8; 41];
    let mut ib = itoa::Buffer::new();
    let ms = ib.format(id.ms).as_bytes();
    let n = ms.len();
    b[..n].copy_from_slice(ms);
    b[n] = b'-';
    let seq = ib.format(id.seq).as_bytes();
    b[n + 1..n + 1 + seq.len()].copy_from_slice(seq);
    out.bulk(&b[..n + 1 + seq.len()]);
}

fn write_entry(out: &mut Writer, e: &Entry) {
    out.array(2);
    write_id(out, e.0);
    out.array(e.1.len());
    for f in &e.1 {
        out.bulk(f);
    }
}

fn write_entries(out: &mut Writer, es: &[Entry]) {
    out.array(es.len());
    for e in es {
        write_entry(out, e);
    }
}

/// The stream in an entry, or WRONGTYPE.
fn as_stream<'a>(e: EntryMut<'a>) -> Result<&'a mut Stream, CmdError> {
    match e.value {
        Value::Stream(s) => Ok(s),
        #[allow(unreachable_patterns)]
        _ => Err(CmdError::WrongType),
    }
}

/// A key's stream if it exists (WRONGTYPE for other types).
macro_rules! lookup {
    ($db:expr, $key:expr) => {
        match $db.get($key) {
            Some(e) => Some(as_stream(e)?),
            None => None,
        }
    };
}

/// `stream-node-max-entries` and `stream-node-max-bytes` (typed config fields: this runs on
/// every XADD).
fn node_limits(ctx: &Ctx) -> (u64, u64) {
    let cfg = ctx.server.config.read();
    (cfg.stream_node_max_entries, cfg.stream_node_max_bytes)
}

fn nogroup(key: &[u8], group: &[u8]) -> CmdError {
    CmdError::msg(format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        String::from_utf8_lossy(key),
        String::from_utf8_lossy(group)
    ))
}

fn nogroup_for_key(key: &[u8], group: &[u8]) -> CmdError {
    CmdError::msg(format!(
        "NOGROUP No such consumer group '{}' for key name '{}'",
        String::from_utf8_lossy(group),
        String::from_utf8_lossy(key)
    ))
}

/// Trimming options shared by XADD and XTRIM.
#[derive(Default)]
struct TrimArgs {
    strategy: Option<Trim>,
    approx: bool,
    limit: Option<i64>,
    /// Where the `~` and the threshold are in the arguments (for propagation).
    approx_at: usize,
    threshold_at: usize,
}

impl TrimArgs {
    /// Tries to parse one trimming option at `args[i]`; returns the next index, or `None` if
    /// `args[i]` is not a trimming option.
    fn parse(&mut self, args: &[&[u8]], i: usize) -> Result<Option<usize>, CmdError> {
        let a = args[i];
        let more = args.len() - 1 - i;
        let is_maxlen = args::is(a, "maxlen");
        if (is_maxlen || args::is(a, "minid")) && more >= 1 {
            let mut j = i + 1;
            let mut approx = false;
            if more >= 2 && (args[j] == b"~" || args[j] == b"=") {
                approx = args[j] == b"~";
                self.approx_at = j;
                j += 1;
            }
            self.threshold_at = j;
            if self.strategy.is_some() {
                return Err(CmdError::msg(
                    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
                ));
            }
            if is_maxlen {
                let n = args::int(args[j])?;
                if n < 0 {
                    return Err(CmdError::msg("ERR The MAXLEN argument must be >= 0."));
                }
                self.strategy = Some(Trim::MaxLen(n as u64));
            } else {
                self.strategy = Some(Trim::MinId(parse_id(args[j], false, 0)?));
            }
            self.approx = approx;
            return Ok(Some(j + 1));
        }
        if args::is(a, "limit") && more >= 1 {
            let n = args::int(args[i + 1])?;
            if n < 0 {
                return Err(CmdError::msg("ERR The LIMIT argument must be >= 0."));
            }
            self.limit = Some(n);
            return Ok(Some(i + 2));
        }
        Ok(None)
    }

    /// `loading`: the AOF is being replayed, where (as for Redis's AOF client) LIMIT is
    /// accepted with exact trimming, the form approximate trimming is propagated in.
    fn check(&self, loading: bool) -> CmdResult {
        if self.limit.is_some() {
            if self.strategy.is_none() {
                return Err(CmdError::msg(
                    "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
                ));
            }
            if !self.approx && !loading {
                return Err(CmdError::msg("ERR syntax error, LIMIT cannot be used without the special ~ option"));
            }
        }
        Ok(())
    }

    fn apply(&self, s: &mut Stream, max_entries: u64) -> u64 {
        let Some(strategy) = self.strategy else { return 0 };
        let limit = match self.limit {
            Some(l) => l as u64,
            // Redis's default for `~`: 100 nodes' worth of entries, or 10000 when nodes have
            // no entry limit.
            None if self.approx && max_entries == 0 => 10_000,
            None if self.approx => max_entries.saturating_mul(100),
            None => 0,
        };
        s.trim(strategy, self.approx, limit)
    }

    /// Approximate trimming is propagated as exact trimming to where it ended (Redis's form):
    /// `~` becomes `=` and the threshold the stream's length (MAXLEN) or first ID (MINID).
    fn propagated(&self, args: &mut [Vec<u8>], s: &Stream) {
        let Some(strategy) = self.strategy else { return };
        if !self.approx {
            return;
        }
        args[self.approx_at] = b"=".to_vec();
        args[self.threshold_at] = match strategy {
            Trim::MaxLen(_) => s.log.len().to_string().into_bytes(),
            Trim::MinId(_) => s.log.first_id().fmt(),
        };
    }
}

// ---------------------------------------------------------------------------------------------
// XADD, XRANGE, XREVRANGE, XLEN, XDEL, XTRIM, XSETID
// ---------------------------------------------------------------------------------------------

fn xadd(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    let mut nomkstream = false;
    let mut trim = TrimArgs::default();
    let mut i = 2;
    let mut id_arg = None;
    while i < args.len() {
        if args::is(args[i], "nomkstream") {
            nomkstream = true;
            i += 1;
            continue;
        }
        if let Some(next) = trim.parse(args, i)? {
            i = next;
            continue;
        }
        // The ID.
        let a = args[i];
        id_arg = Some(if a == b"*" {
            None
        } else {
            match parse_id_arg(a, true) {
                Some(x) => Some(x),
                None => return Err(invalid_id()),
            }
        });
        break;
    }
    let nfields = args.len() - i - 1;
    if id_arg.is_none() || nfields < 2 || !nfields.is_multiple_of(2) {
        return Err(CmdError::WrongArity("xadd".into()));
    }
    trim.check(crate::persist::state().loading.load(std::sync::atomic::Ordering::Relaxed))?;
    let id_at = i;
    let id_arg = id_arg.unwrap();
    if let Some(IdArg::Full(id)) = id_arg {
        if id.is_zero() {
            return Err(CmdError::msg("ERR The ID specified in XADD must be greater than 0-0"));
        }
    }
    if let Some(IdArg::MsOnly(0)) = id_arg {
        return Err(CmdError::msg("ERR The ID specified in XADD must be greater than 0-0"));
    }
    let fields = &args[i + 1..];
    let (max_entries, max_bytes) = node_limits(ctx);
    let now = ctx.now;
    let propagating = ctx.propagating();
    let (mut db, out) = ctx.db_out();
    let s = match db.get(key) {
        Some(e) => as_stream(e)?,
        None => {
            if nomkstream {
                out.null();
                ctx.propagate_nothing();
                return Ok(());
            }
            db.set(key, Value::Stream(Box::default()), NO_EXPIRE);
            as_stream(db.get(key).unwrap())?
        }
    };
    let last = s.last_id;
    let too_small =
        || CmdError::msg("ERR The ID specified in XADD is equal or smaller than the target stream top item");
    if last == StreamId::MAX {
        return Err(CmdError::msg("ERR The stream has exhausted the last possible ID, unable to add more items"));
    }
    let id = match id_arg {
        None => {
            if now > last.ms {
                StreamId::new(now, 0)
            } else {
                last.incr().unwrap()
            }
        }
        Some(IdArg::MsAuto(ms)) => {
            if ms > last.ms {
                StreamId::new(ms, 0)
            } else if ms == last.ms {
                if last.seq == u64::MAX {
                    // Redis's reply when the sequence part would overflow.
                    return Err(CmdError::msg("ERR Elements are too large to be stored"));
                }
                StreamId::new(ms, last.seq + 1)
            } else {
                return Err(too_small());
            }
        }
        Some(IdArg::MsOnly(ms)) => StreamId::new(ms, 0),
        Some(IdArg::Full(id)) => id,
    };
    if id <= last {
        return Err(too_small());
    }
    s.append(id, fields, max_entries, max_bytes);
    let trimmed = trim.apply(s, max_entries);
    write_id(out, id);
    // Propagated with the ID it generated and exact trimming (as Redis), so a replay adds the
    // same entry and keeps the same entries.
    let generated = !matches!(id_arg, Some(IdArg::Full(_)) | Some(IdArg::MsOnly(_)));
    let prop = (generated || trim.approx) && propagating;
    let mut prop_args: Vec<Vec<u8>> = Vec::new();
    if prop {
        prop_args = args.iter().map(|a| a.to_vec()).collect();
        if generated {
            prop_args[id_at] = id.fmt();
        }
        trim.propagated(&mut prop_args, s);
    }
    db.touch(key);
    // Readers blocked on the stream (XREAD / XREADGROUP BLOCK) are served after this command.
    // A waiter on this key registered while holding its shard's lock, which we hold now, so
    // the relaxed count read here sees it; with no one blocked anywhere, skip the key hashing.
    if db.ks.blocked.any() {
        blocking::signal_ready(&mut db, key);
    }
    if prop {
        ctx.propagate(&prop_args);
    }
    ctx.notify(notify::STREAM, "xadd", key);
    if trimmed > 0 {
        ctx.notify(notify::STREAM, "xtrim", key);
    }
    Ok(())
}

fn range_cmd(ctx: &mut Ctx, args: &[&[u8]], rev: bool) -> CmdResult {
    let (start, end) =
        if rev { (range_start(args[3])?, range_end(args[2])?) } else { (range_start(args[2])?, range_end(args[3])?) };
    let mut count: Option<i64> = None;
    let mut i = 4;
    while i < args.len() {
        if args::is(args[i], "count") && i + 1 < args.len() {
            count = Some(args::int(args[i + 1])?);
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let (mut db, out) = ctx.db_out();
    let Some(s) = lookup!(db, args[1]) else {
        out.array(0);
        return Ok(());
    };
    let count = match count {
        Some(c) if c <= 0 => {
            out.null_array();
            return Ok(());
        }
        Some(c) => c as usize,
        None => 0,
    };
    write_entries(out, &s.range(start, end, count, rev));
    Ok(())
}

fn xrange(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    range_cmd(ctx, args, false)
}

fn xrevrange(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    range_cmd(ctx, args, true)
}

fn xlen(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut db = ctx.db();
    let n = lookup!(db, args[1]).map(|s| s.len()).unwrap_or(0);
    ctx.out.int(n as i64);
    Ok(())
}

fn xdel(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let ids = args[2..].iter().map(|a| parse_id(a, true, 0)).collect::<Result<Vec<_>, _>>()?;
    let mut db = ctx.db();
    let mut n = 0;
    if let Some(s) = lookup!(db, args[1]) {
        for id in ids {
            n += s.delete(id) as i64;
        }
        if n > 0 {
            db.touch(args[1]);
        }
    }
    ctx.out.int(n);
    if n > 0 {
        ctx.notify(notify::STREAM, "xdel", args[1]);
    } else {
        ctx.propagate_nothing();
    }
    Ok(())
}

fn xtrim(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut trim = TrimArgs::default();
    let mut i = 2;
    while i < args.len() {
        match trim.parse(args, i)? {
            Some(next) => i = next,
            None => return Err(CmdError::Syntax),
        }
    }
    trim.check(crate::persist::state().loading.load(std::sync::atomic::Ordering::Relaxed))?;
    if trim.strategy.is_none() {
        return Err(CmdError::Syntax);
    }
    let (max_entries, _) = node_limits(ctx);
    let mut db = ctx.db();
    let mut n = 0;
    let mut prop_args: Option<Vec<Vec<u8>>> = None;
    if let Some(s) = lookup!(db, args[1]) {
        n = trim.apply(s, max_entries);
        if n > 0 && trim.approx {
            let mut v: Vec<Vec<u8>> = args.iter().map(|a| a.to_vec()).collect();
            trim.propagated(&mut v, s);
            prop_args = Some(v);
        }
        if n > 0 {
            db.touch(args[1]);
        }
    }
    match prop_args {
        Some(v) => ctx.propagate(&v),
        None if n == 0 => ctx.propagate_nothing(),
        None => {}
    }
    ctx.out.int(n as i64);
    if n > 0 {
        ctx.notify(notify::STREAM, "xtrim", args[1]);
    }
    Ok(())
}

fn xsetid(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let id = parse_id(args[2], true, 0)?;
    let mut entries_added: Option<u64> = None;
    let mut max_deleted: Option<StreamId> = None;
    let mut i = 3;
    while i < args.len() {
        let more = args.len() - 1 - i;
        if args::is(args[i], "entriesadded") && more >= 1 {
            let n = args::int(args[i + 1])?;
            if n < 0 {
                return Err(CmdError::msg("ERR entries_added must be positive"));
            }
            entries_added = Some(n as u64);
            i += 2;
        } else if args::is(args[i], "maxdeletedid") && more >= 1 {
            let m = parse_id(args[i + 1], true, 0)?;
            if id < m {
                return Err(CmdError::msg(
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ));
            }
            max_deleted = Some(m);
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let mut db = ctx.db();
    let Some(s) = lookup!(db, args[1]) else { return Err(CmdError::NoSuchKey) };
    if let Some(n) = entries_added {
        if s.len() > n {
            return Err(CmdError::msg(
                "ERR The entries_added specified in XSETID is smaller than the target stream length",
            ));
        }
    }
    if !s.is_empty() {
        let top = s.last_entry().map(|e| e.0).unwrap_or_default();
        if id < top {
            return Err(CmdError::msg("ERR The ID specified in XSETID is smaller than the target stream top item"));
        }
    }
    s.last_id = id;
    if let Some(n) = entries_added {
        s.entries_added = n;
    }
    if let Some(m) = max_deleted {
        s.max_deleted_id = m;
    }
    db.touch(args[1]);
    ctx.out.ok();
    ctx.notify(notify::STREAM, "xsetid", args[1]);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// XREAD, XREADGROUP
// ---------------------------------------------------------------------------------------------

enum ReadId {
    After(StreamId),
    /// `>`: entries never delivered to the group.
    New,
}

fn xread(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    read_cmd(ctx, args, false)
}

fn xreadgroup(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    read_cmd(ctx, args, true)
}

fn read_cmd(ctx: &mut Ctx, args: &[&[u8]], is_group: bool) -> CmdResult {
    let mut count: usize = 0;
    let mut block: Option<u64> = None;
    let mut noack = false;
    let mut group: Option<(&[u8], &[u8])> = None;
    let mut streams_at = 0;
    let mut i = 1;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let a = args[i];
        if args::is(a, "block") && more >= 1 {
            let t = resp::parse_i64(args[i + 1])
                .ok_or_else(|| CmdError::msg("ERR timeout is not an integer or out of range"))?;
            if t < 0 {
                return Err(CmdError::msg("ERR timeout is negative"));
            }
            // Absolute deadline in Unix ms, 0 = forever. Redis 7.2 rejects a deadline past
            // the 64-bit millisecond range (7.0 let it wrap).
            if t > 0 && t > i64::MAX - ctx.now as i64 {
                return Err(CmdError::msg("ERR timeout is out of range"));
            }
            block = Some(if t == 0 { 0 } else { ctx.now + t as u64 });
            i += 2;
        } else if args::is(a, "count") && more >= 1 {
            let c = args::int(args[i + 1])?;
            count = c.max(0) as usize;
            i += 2;
        } else if args::is(a, "streams") && more >= 1 {
            streams_at = i + 1;
            if !(args.len() - streams_at).is_multiple_of(2) {
                return Err(CmdError::msg(
                    "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
                ));
            }
            break;
        } else if args::is(a, "group") && more >= 2 {
            if !is_group {
                return Err(CmdError::msg(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            group = Some((args[i + 1], args[i + 2]));
            i += 3;
        } else if args::is(a, "noack") {
            if !is_group {
                return Err(CmdError::msg(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            noack = true;
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    if streams_at == 0 {
        return Err(CmdError::Syntax);
    }
    if is_group && group.is_none() {
        return Err(CmdError::msg("ERR Missing GROUP option for XREADGROUP"));
    }
    let n = (args.len() - streams_at) / 2;
    let keys = &args[streams_at..streams_at + n];
    let ids_raw = &args[streams_at + n..];
    let now = ctx.now;
    let propagating = is_group && ctx.propagating();
    // What a group read propagates (as Redis): each entry delivered by a `>` read as an XCLAIM
    // that recreates its PEL entry; a NOACK read as the consumer's creation and the group's new
    // last ID. History reads propagate nothing.
    let mut props: Vec<Vec<Vec<u8>>> = Vec::new();
    let (mut db, out) = ctx.db_out();

    // Validate everything before replying.
    let mut ids = Vec::with_capacity(n);
    for (k, raw) in keys.iter().zip(ids_raw) {
        let s = lookup!(db, k);
        if let Some((g, _)) = group {
            if s.as_ref().map(|s| !s.groups.contains_key(g)).unwrap_or(true) {
                return Err(CmdError::msg(format!(
                    "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
                    String::from_utf8_lossy(k),
                    String::from_utf8_lossy(g)
                )));
            }
        }
        let id = if *raw == b"$" {
            if is_group {
                return Err(CmdError::msg("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set."));
            }
            ReadId::After(s.map(|s| s.last_id).unwrap_or_default())
        } else if *raw == b">" {
            if !is_group {
                return Err(CmdError::msg("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option."));
            }
            ReadId::New
        } else {
            ReadId::After(parse_id(raw, true, 0)?)
        };
        ids.push(id);
    }

    // Collect the replies per stream (history reads always appear, even empty).
    let mark = out.len();
    let mut items: Vec<usize> = Vec::new();
    let mut body = Writer::new(out.resp3);
    let mut changed = false;
    let mut new_consumer: Vec<&[u8]> = Vec::new();
    for (k, id) in keys.iter().zip(&ids) {
        let Some(s) = lookup!(db, k) else { continue };
        match group {
            None => {
                let ReadId::After(after) = id else { unreachable!() };
                let Some(start) = after.incr() else { continue };
                let es = s.range(start, StreamId::MAX, count, false);
                if es.is_empty() {
                    continue;
                }
                pair_header(&mut body);
                body.bulk(k);
                write_entries(&mut body, &es);
                items.push(1);
            }
            Some((gname, cname)) => {
                let (entries, groups) = s.split_groups();
                let g = groups.get_mut(gname).unwrap();
                if let ReadId::New = id {
                    // As Redis: a `>` read that delivers nothing (and so may block) does not
                    // create the consumer; an existing one is still seen.
                    let start = g.last_id.incr().unwrap_or(StreamId::MAX);
                    if g.last_id == StreamId::MAX || entries.range(start, StreamId::MAX, 1, false).is_empty() {
                        if let Some(c) = g.consumers.get_mut(cname) {
                            c.seen_time = now;
                        }
                        continue;
                    }
                }
                let (c, created) = g.consumer(cname, now);
                c.seen_time = now;
                if created {
                    new_consumer.push(*k);
                }
                match id {
                    ReadId::New => {
                        let es = entries.range(g.last_id.incr().unwrap_or(StreamId::MAX), StreamId::MAX, count, false);
                        if g.last_id == StreamId::MAX || es.is_empty() {
                            continue;
                        }
                        for e in &es {
                            entries.group_advance(g, e.0);
                            if !noack {
                                g.deliver_new(e.0, cname, now);
                                if propagating {
                                    let count = g.pel.get(&e.0).map_or(1, |p| p.delivery_count);
                                    props.push(xclaim_prop(k, gname, cname, e.0, now, count, g.last_id));
                                }
                            }
                        }
                        if noack && propagating {
                            if created {
                                props.push(vec![
                                    b"XGROUP".to_vec(),
                                    b"CREATECONSUMER".to_vec(),
                                    k.to_vec(),
                                    gname.to_vec(),
                                    cname.to_vec(),
                                ]);
                            }
                            props.push(setid_prop(k, gname, g));
                        }
                        g.consumers.get_mut(cname).unwrap().active_time = Some(now);
                        pair_header(&mut body);
                        body.bulk(k);
                        write_entries(&mut body, &es);
                        items.push(1);
                        changed = true;
                    }
                    ReadId::After(after) => {
                        let c = g.consumers.get(cname).unwrap();
                        let limit = if count == 0 { usize::MAX } else { count };
                        let pending: Vec<StreamId> = match after.incr() {
                            Some(st) => c.pel.range(st..).take(limit).copied().collect(),
                            None => Vec::new(),
                        };
                        pair_header(&mut body);
                        body.bulk(k);
                        body.array(pending.len());
                        for pid in &pending {
                            match entries.get(*pid) {
                                Some(e) => {
                                    write_entry(&mut body, &e);
                                    let p = g.pel.get_mut(pid).unwrap();
                                    p.delivery_count += 1;
                                    p.delivery_time = now;
                                }
                                None => {
                                    body.array(2);
                                    write_id(&mut body, *pid);
                                    body.null_array();
                                }
                            }
                        }
                        if !pending.is_empty() {
                            g.consumers.get_mut(cname).unwrap().active_time = Some(now);
                        }
                        items.push(1);
                        changed = true;
                    }
                }
            }
        }
    }
    let must_block = items.is_empty() && block.is_some();
    if must_block {
        // Nothing written: `blocking::block_opts` below replies or registers the waiter.
    } else if items.is_empty() {
        out.null_array();
    } else {
        // RESP2: an array of [key, entries] pairs; RESP3: a map key → entries.
        out.map(items.len());
        if !out.resp3 {
            out.truncate(mark);
            out.array(items.len());
        }
        out.raw(&body.buf);
    }
    if changed && is_group {
        for k in keys {
            db.touch(k);
        }
    }
    if is_group {
        if props.is_empty() {
            ctx.propagate_nothing();
        }
        for p in &props {
            ctx.propagate(p);
        }
    }
    for k in new_consumer {
        ctx.notify(notify::STREAM, "xgroup-createconsumer", k);
    }
    if let (true, Some(deadline)) = (must_block, block) {
        // `$` is resolved now: the waiter is re-run with the IDs it had when it blocked, so it
        // gets the entries added after that moment (as Redis 7.2 rewrites the command).
        let mut owned: Vec<Vec<u8>> = args.iter().map(|a| a.to_vec()).collect();
        for (j, id) in ids.iter().enumerate() {
            if let (ReadId::After(after), true) = (id, ids_raw[j] == b"$") {
                owned[streams_at + n + j] = after.fmt();
            }
        }
        let argv: Vec<&[u8]> = owned.iter().map(|a| a.as_slice()).collect();
        return blocking::block_opts(ctx, keys, deadline, "stream", &argv, blocking::NullReply::Array, is_group);
    }
    Ok(())
}

/// Redis's propagated form of a delivery or claim: `XCLAIM key group consumer 0 id TIME <ms>
/// RETRYCOUNT <n> FORCE JUSTID LASTID <group last id>`, which recreates the PEL entry as it is.
fn xclaim_prop(
    key: &[u8],
    group: &[u8],
    consumer: &[u8],
    id: StreamId,
    time: u64,
    count: u64,
    last_id: StreamId,
) -> Vec<Vec<u8>> {
    vec![
        b"XCLAIM".to_vec(),
        key.to_vec(),
        group.to_vec(),
        consumer.to_vec(),
        b"0".to_vec(),
        id.fmt(),
        b"TIME".to_vec(),
        time.to_string().into_bytes(),
        b"RETRYCOUNT".to_vec(),
        count.to_string().into_bytes(),
        b"FORCE".to_vec(),
        b"JUSTID".to_vec(),
        b"LASTID".to_vec(),
        last_id.fmt(),
    ]
}

/// `XGROUP SETID key group <last id> ENTRIESREAD <n>`: a group's read position, as Redis
/// propagates it after a NOACK read.
fn setid_prop(key: &[u8], group: &[u8], g: &Group) -> Vec<Vec<u8>> {
    vec![
        b"XGROUP".to_vec(),
        b"SETID".to_vec(),
        key.to_vec(),
        group.to_vec(),
        g.last_id.fmt(),
        b"ENTRIESREAD".to_vec(),
        g.entries_read.to_string().into_bytes(),
    ]
}

/// The `[key, entries]` pair header of XREAD replies (none in RESP3, where they are a map).
fn pair_header(body: &mut Writer) {
    if !body.resp3 {
        body.array(2);
    }
}

// ---------------------------------------------------------------------------------------------
// XACK, XPENDING, XCLAIM, XAUTOCLAIM
// ---------------------------------------------------------------------------------------------

fn xack(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let ids = args[3..].iter().map(|a| parse_id(a, true, 0)).collect::<Result<Vec<_>, _>>()?;
    let mut db = ctx.db();
    let mut n = 0;
    if let Some(s) = lookup!(db, args[1]) {
        if let Some(g) = s.groups.get_mut(args[2]) {
            for id in ids {
                n += g.ack(id) as i64;
            }
        }
    }
    if n > 0 {
        db.touch(args[1]);
    } else {
        ctx.propagate_nothing();
    }
    ctx.out.int(n);
    Ok(())
}

/// XPENDING's extended form: min idle, start, end, count, consumer.
type PendingRange<'a> = (u64, StreamId, StreamId, usize, Option<&'a [u8]>);

fn xpending(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let argc = args.len();
    let mut ext: Option<PendingRange> = None;
    if argc >= 6 {
        let mut at = 3;
        let mut min_idle = 0i64;
        if args::is(args[3], "idle") {
            if argc < 8 {
                return Err(CmdError::Syntax);
            }
            min_idle = args::int(args[4])?;
            at += 2;
        }
        if argc > 9 {
            return Err(CmdError::Syntax);
        }
        let start = range_start(args[at])?;
        let end = range_end(args[at + 1])?;
        let count = args::int(args[at + 2])?.max(0) as usize;
        let consumer = args.get(at + 3).copied();
        ext = Some((min_idle.max(0) as u64, start, end, count, consumer));
    } else if argc != 3 {
        return Err(CmdError::Syntax);
    }
    let now = ctx.now;
    let (mut db, out) = ctx.db_out();
    let s = lookup!(db, args[1]);
    let Some(g) = s.and_then(|s| s.groups.get(args[2])) else { return Err(nogroup(args[1], args[2])) };
    match ext {
        None => {
            if g.pel.is_empty() {
                out.array(4);
                out.int(0);
                out.null();
                out.null();
                out.null_array();
                return Ok(());
            }
            out.array(4);
            out.int(g.pel.len() as i64);
            write_id(out, *g.pel.keys().next().unwrap());
            write_id(out, *g.pel.keys().next_back().unwrap());
            let cs: Vec<_> = g.consumers.iter().filter(|(_, c)| !c.pel.is_empty()).collect();
            out.array(cs.len());
            for (name, c) in cs {
                out.array(2);
                out.bulk(name);
                out.bulk_int(c.pel.len() as i64);
            }
        }
        Some((min_idle, start, end, count, consumer)) => {
            let mut rows = Vec::new();
            if start <= end && count > 0 {
                let ids: Box<dyn Iterator<Item = StreamId>> = match consumer {
                    Some(c) => match g.consumers.get(c) {
                        Some(c) => Box::new(c.pel.range(start..=end).copied()),
                        None => Box::new(std::iter::empty()),
                    },
                    None => Box::new(g.pel.range(start..=end).map(|(k, _)| *k)),
                };
                for id in ids {
                    let p = &g.pel[&id];
                    let idle = now as i64 - p.delivery_time as i64;
                    if min_idle > 0 && idle < min_idle as i64 {
                        continue;
                    }
                    rows.push((id, p, idle));
                    if rows.len() >= count {
                        break;
                    }
                }
            }
            out.array(rows.len());
            for (id, p, idle) in rows {
                out.array(4);
                write_id(out, id);
                out.bulk(&p.consumer);
                out.int(idle);
                out.int(p.delivery_count as i64);
            }
        }
    }
    Ok(())
}

fn xclaim(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (key, gname, cname) = (args[1], args[2], args[3]);
    let now = ctx.now;
    {
        let mut db = ctx.db();
        let s = lookup!(db, key);
        if !s.map(|s| s.groups.contains_key(gname)).unwrap_or(false) {
            return Err(nogroup(key, gname));
        }
    }
    let min_idle =
        resp::parse_i64(args[4]).ok_or_else(|| CmdError::msg("ERR Invalid min-idle-time argument for XCLAIM"))?.max(0);
    let mut ids = Vec::new();
    let mut j = 5;
    while j < args.len() {
        match parse_id(args[j], true, 0) {
            Ok(id) => ids.push(id),
            Err(_) => break,
        }
        j += 1;
    }
    let mut delivery_time: Option<i64> = None;
    let mut retrycount: Option<i64> = None;
    let mut force = false;
    let mut justid = false;
    let mut lastid: Option<StreamId> = None;
    while j < args.len() {
        let more = args.len() - 1 - j;
        let a = args[j];
        if args::is(a, "force") {
            force = true;
        } else if args::is(a, "justid") {
            justid = true;
        } else if args::is(a, "idle") && more >= 1 {
            j += 1;
            let v =
                resp::parse_i64(args[j]).ok_or_else(|| CmdError::msg("ERR Invalid IDLE option argument for XCLAIM"))?;
            delivery_time = Some(now as i64 - v);
        } else if args::is(a, "time") && more >= 1 {
            j += 1;
            let v =
                resp::parse_i64(args[j]).ok_or_else(|| CmdError::msg("ERR Invalid TIME option argument for XCLAIM"))?;
            delivery_time = Some(v);
        } else if args::is(a, "retrycount") && more >= 1 {
            j += 1;
            let v = resp::parse_i64(args[j])
                .ok_or_else(|| CmdError::msg("ERR Invalid RETRYCOUNT option argument for XCLAIM"))?;
            retrycount = Some(v);
        } else if args::is(a, "lastid") && more >= 1 {
            j += 1;
            lastid = Some(parse_id(args[j], true, 0)?);
        } else {
            return Err(CmdError::msg(format!("ERR Unrecognized XCLAIM option '{}'", String::from_utf8_lossy(a))));
        }
        j += 1;
    }
    let dtime = match delivery_time {
        Some(t) if t >= 0 && t <= now as i64 => t as u64,
        _ => now,
    };
    // Propagated as Redis does: one XCLAIM in its full form per claimed entry (and per
    // deleted entry dropped from the PEL, with its old owner), or the group's new last ID.
    let propagating = ctx.propagating();
    let mut props: Vec<Vec<Vec<u8>>> = Vec::new();
    let (mut db, out) = ctx.db_out();
    let s = lookup!(db, key);
    let Some(s) = s.filter(|s| s.groups.contains_key(gname)) else { return Err(nogroup(key, gname)) };
    let (entries, groups) = s.split_groups();
    let g = groups.get_mut(gname).unwrap();
    let mut moved_last = false;
    if let Some(l) = lastid {
        if l > g.last_id {
            g.last_id = l;
            moved_last = true;
        }
    }
    let (c, new_consumer) = g.consumer(cname, now);
    c.seen_time = now;
    let mut claimed: Vec<StreamId> = Vec::new();
    for id in ids {
        let exists = entries.contains(id);
        if let std::collections::btree_map::Entry::Vacant(v) = g.pel.entry(id) {
            if !(force && exists) {
                continue;
            }
            // FORCE: a PEL entry for an existing entry nobody was delivered.
            v.insert(crate::types::stream::Pending { consumer: cname.into(), delivery_time: now, delivery_count: 0 });
            g.consumers.get_mut(cname).unwrap().pel.insert(id);
        }
        if !exists {
            if propagating {
                let p = &g.pel[&id];
                props.push(xclaim_prop(key, gname, &p.consumer, id, p.delivery_time, p.delivery_count, g.last_id));
            }
            g.ack(id);
            continue;
        }
        let p = &g.pel[&id];
        if min_idle > 0 && (now as i64 - p.delivery_time as i64) < min_idle {
            continue;
        }
        g.deliver(id, cname, dtime, false);
        let p = g.pel.get_mut(&id).unwrap();
        match retrycount {
            Some(r) => p.delivery_count = r as u64,
            None if !justid => p.delivery_count += 1,
            None => {}
        }
        if propagating {
            props.push(xclaim_prop(key, gname, cname, id, p.delivery_time, p.delivery_count, g.last_id));
        }
        claimed.push(id);
    }
    if !claimed.is_empty() {
        g.consumers.get_mut(cname).unwrap().active_time = Some(now);
    }
    if propagating && moved_last && props.is_empty() {
        props.push(setid_prop(key, gname, g));
    }
    out.array(claimed.len());
    for id in &claimed {
        if justid {
            write_id(out, *id);
        } else {
            write_entry(out, &entries.get(*id).unwrap());
        }
    }
    db.touch(key);
    if props.is_empty() {
        ctx.propagate_nothing();
    }
    for p in &props {
        ctx.propagate(p);
    }
    if new_consumer {
        ctx.notify(notify::STREAM, "xgroup-createconsumer", key);
    }
    Ok(())
}

fn xautoclaim(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (key, gname, cname) = (args[1], args[2], args[3]);
    let now = ctx.now;
    {
        let mut db = ctx.db();
        lookup!(db, key);
    }
    let min_idle = resp::parse_i64(args[4])
        .ok_or_else(|| CmdError::msg("ERR Invalid min-idle-time argument for XAUTOCLAIM"))?
        .max(0);
    let start = range_start(args[5])?;
    let mut count: i64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if args::is(args[j], "count") && more >= 1 {
            count = args::int(args[j + 1])?;
            if !(1..=i64::MAX / 10).contains(&count) {
                return Err(CmdError::msg("ERR COUNT must be > 0"));
            }
            j += 2;
        } else if args::is(args[j], "justid") {
            justid = true;
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    // Propagated as XCLAIM's full form per claimed or deleted entry (as XCLAIM).
    let propagating = ctx.propagating();
    let mut props: Vec<Vec<Vec<u8>>> = Vec::new();
    let (mut db, out) = ctx.db_out();
    let s = lookup!(db, key);
    let Some(s) = s.filter(|s| s.groups.contains_key(gname)) else { return Err(nogroup(key, gname)) };
    let (entries, groups) = s.split_groups();
    let g = groups.get_mut(gname).unwrap();
    let (c, new_consumer) = g.consumer(cname, now);
    c.seen_time = now;
    let mut attempts = count.saturating_mul(10);
    let mut remaining = count;
    let mut claimed = Vec::new();
    let mut deleted = Vec::new();
    let mut cursor = StreamId::MIN;
    let candidates: Vec<StreamId> = g.pel.range(start..).map(|(k, _)| *k).collect();
    let mut it = candidates.into_iter().peekable();
    while attempts > 0 && remaining > 0 {
        let Some(id) = it.next() else { break };
        attempts -= 1;
        if !entries.contains(id) {
            // Deleted entries leave the PEL and count toward COUNT, as in Redis.
            if propagating {
                let p = &g.pel[&id];
                props.push(xclaim_prop(key, gname, &p.consumer, id, p.delivery_time, p.delivery_count, g.last_id));
            }
            g.ack(id);
            deleted.push(id);
            remaining -= 1;
            continue;
        }
        let p = &g.pel[&id];
        if min_idle > 0 && (now as i64 - p.delivery_time as i64) < min_idle {
            continue;
        }
        g.deliver(id, cname, now, !justid);
        if propagating {
            let p = &g.pel[&id];
            props.push(xclaim_prop(key, gname, cname, id, p.delivery_time, p.delivery_count, g.last_id));
        }
        claimed.push(id);
        remaining -= 1;
    }
    if let Some(next) = it.peek() {
        cursor = *next;
    }
    if !claimed.is_empty() {
        g.consumers.get_mut(cname).unwrap().active_time = Some(now);
    }
    out.array(3);
    write_id(out, cursor);
    out.array(claimed.len());
    for id in &claimed {
        if justid {
            write_id(out, *id);
        } else {
            write_entry(out, &entries.get(*id).unwrap());
        }
    }
    out.array(deleted.len());
    for id in deleted {
        write_id(out, id);
    }
    db.touch(key);
    if props.is_empty() {
        ctx.propagate_nothing();
    }
    for p in &props {
        ctx.propagate(p);
    }
    if new_consumer {
        ctx.notify(notify::STREAM, "xgroup-createconsumer", key);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// XGROUP
// ---------------------------------------------------------------------------------------------

const XGROUP_HELP: &[&str] = &[
    "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
    "HELP",
    "    Prints this help.",
];

fn xgroup_help(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.out.array(XGROUP_HELP.len());
    for l in XGROUP_HELP {
        ctx.out.simple(l);
    }
    Ok(())
}

fn bad_sub(sub: &str, help: &str) -> CmdError {
    CmdError::msg(format!("ERR unknown subcommand or wrong number of arguments for '{sub}'. Try {help} HELP."))
}

fn entries_read_arg(arg: &[u8]) -> Result<i64, CmdError> {
    let n = args::int(arg)?;
    if n < -1 {
        return Err(CmdError::msg("ERR value for ENTRIESREAD must be positive or -1"));
    }
    Ok(n)
}

fn xgroup_create(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (key, gname) = (args[2], args[3]);
    let mut mkstream = false;
    let mut entries_read = ENTRIES_READ_UNKNOWN;
    let mut i = 5;
    while i < args.len() {
        if args::is(args[i], "mkstream") {
            mkstream = true;
            i += 1;
        } else if args::is(args[i], "entriesread") && i + 1 < args.len() {
            entries_read = entries_read_arg(args[i + 1])?;
            i += 2;
        } else {
            return Err(bad_sub("CREATE", "XGROUP"));
        }
    }
    let mut db = ctx.db();
    let exists = lookup!(db, key).is_some();
    if !exists && !mkstream {
        return Err(CmdError::msg(NO_KEY_XGROUP));
    }
    let id = if args[4] == b"$" { None } else { Some(parse_id(args[4], true, 0)?) };
    let s = match lookup!(db, key) {
        Some(s) => s,
        None => {
            db.set(key, Value::Stream(Box::default()), NO_EXPIRE);
            as_stream(db.get(key).unwrap())?
        }
    };
    if s.groups.contains_key(gname) {
        return Err(CmdError::msg("BUSYGROUP Consumer Group name already exists"));
    }
    let id = id.unwrap_or(s.last_id);
    s.groups.insert(gname.into(), Group::new(id, entries_read));
    db.touch(key);
    ctx.out.ok();
    ctx.notify(notify::STREAM, "xgroup-create", key);
    Ok(())
}

/// The stream and group for XGROUP subcommands (their own error texts).
macro_rules! xgroup_target {
    ($db:expr, $key:expr, $group:expr) => {{
        let Some(s) = lookup!($db, $key) else { return Err(CmdError::msg(NO_KEY_XGROUP)) };
        if !s.groups.contains_key($group) {
            return Err(nogroup_for_key($key, $group));
        }
        s
    }};
}

fn xgroup_setid(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (key, gname) = (args[2], args[3]);
    let mut entries_read = ENTRIES_READ_UNKNOWN;
    match args.len() {
        5 => {}
        7 if args::is(args[5], "entriesread") => entries_read = entries_read_arg(args[6])?,
        _ => return Err(bad_sub("SETID", "XGROUP")),
    }
    let id = if args[4] == b"$" { None } else { Some(parse_id(args[4], true, 0)?) };
    let mut db = ctx.db();
    let s = xgroup_target!(db, key, gname);
    let id = id.unwrap_or(s.last_id);
    let g = s.groups.get_mut(gname).unwrap();
    g.last_id = id;
    g.entries_read = entries_read;
    db.touch(key);
    ctx.out.ok();
    ctx.notify(notify::STREAM, "xgroup-setid", key);
    Ok(())
}

fn xgroup_destroy(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut db = ctx.db();
    let Some(s) = lookup!(db, args[2]) else { return Err(CmdError::msg(NO_KEY_XGROUP)) };
    let n = s.groups.remove(args[3]).is_some();
    if n {
        db.touch(args[2]);
        // Clients blocked in XREADGROUP on this group are re-run and get NOGROUP.
        blocking::signal_ready(&mut db, args[2]);
    }
    ctx.out.int(n as i64);
    if n {
        ctx.notify(notify::STREAM, "xgroup-destroy", args[2]);
    } else {
        ctx.propagate_nothing();
    }
    Ok(())
}

fn xgroup_createconsumer(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let mut db = ctx.db();
    let s = xgroup_target!(db, args[2], args[3]);
    let created = s.groups.get_mut(args[3]).unwrap().consumer(args[4], now).1;
    if created {
        db.touch(args[2]);
    }
    ctx.out.int(created as i64);
    if created {
        ctx.notify(notify::STREAM, "xgroup-createconsumer", args[2]);
    } else {
        ctx.propagate_nothing();
    }
    Ok(())
}

fn xgroup_delconsumer(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut db = ctx.db();
    let s = xgroup_target!(db, args[2], args[3]);
    let n = s.groups.get_mut(args[3]).unwrap().delete_consumer(args[4]);
    if n.is_some() {
        db.touch(args[2]);
    }
    ctx.out.int(n.unwrap_or(0) as i64);
    if n.is_some() {
        ctx.notify(notify::STREAM, "xgroup-delconsumer", args[2]);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// XINFO
// ---------------------------------------------------------------------------------------------

const XINFO_HELP: &[&str] = &[
    "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
    "HELP",
    "    Prints this help.",
];

fn xinfo_help(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.out.array(XINFO_HELP.len());
    for l in XINFO_HELP {
        ctx.out.simple(l);
    }
    Ok(())
}

fn opt_int(out: &mut Writer, v: Option<i64>) {
    match v {
        Some(n) => out.int(n),
        None => out.null(),
    }
}

fn entries_read_reply(g: &Group) -> Option<i64> {
    (g.entries_read != ENTRIES_READ_UNKNOWN).then_some(g.entries_read)
}

fn xinfo_consumers(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let now = ctx.now;
    let (mut db, out) = ctx.db_out();
    let Some(s) = lookup!(db, args[2]) else { return Err(CmdError::NoSuchKey) };
    let Some(g) = s.groups.get(args[3]) else { return Err(nogroup_for_key(args[2], args[3])) };
    out.array(g.consumers.len());
    for (name, c) in &g.consumers {
        out.map(4);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"pending");
        out.int(c.pel.len() as i64);
        out.bulk(b"idle");
        out.int(now as i64 - c.seen_time as i64);
        out.bulk(b"inactive");
        out.int(c.active_time.map(|t| now as i64 - t as i64).unwrap_or(-1));
    }
    Ok(())
}

fn xinfo_groups(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (mut db, out) = ctx.db_out();
    let Some(s) = lookup!(db, args[2]) else { return Err(CmdError::NoSuchKey) };
    out.array(s.groups.len());
    for (name, g) in &s.groups {
        out.map(6);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"consumers");
        out.int(g.consumers.len() as i64);
        out.bulk(b"pending");
        out.int(g.pel.len() as i64);
        out.bulk(b"last-delivered-id");
        write_id(out, g.last_id);
        out.bulk(b"entries-read");
        opt_int(out, entries_read_reply(g));
        out.bulk(b"lag");
        opt_int(out, s.group_lag(g));
    }
    Ok(())
}

fn xinfo_stream(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut full = false;
    let mut count: usize = 10;
    match args.len() {
        3 => {}
        4 if args::is(args[3], "full") => full = true,
        6 if args::is(args[3], "full") && args::is(args[4], "count") => {
            full = true;
            count = args::int(args[5])?.max(0) as usize;
        }
        _ => return Err(bad_sub("STREAM", "XINFO")),
    }
    let (mut db, out) = ctx.db_out();
    let Some(s) = lookup!(db, args[2]) else { return Err(CmdError::NoSuchKey) };
    out.map(if full { 9 } else { 10 });
    out.bulk(b"length");
    out.int(s.len() as i64);
    out.bulk(b"radix-tree-keys");
    out.int(s.node_count() as i64);
    out.bulk(b"radix-tree-nodes");
    out.int(s.rax_node_count() as i64);
    out.bulk(b"last-generated-id");
    write_id(out, s.last_id);
    out.bulk(b"max-deleted-entry-id");
    write_id(out, s.max_deleted_id);
    out.bulk(b"entries-added");
    out.int(s.entries_added as i64);
    out.bulk(b"recorded-first-entry-id");
    write_id(out, s.first_id());
    if !full {
        out.bulk(b"groups");
        out.int(s.groups.len() as i64);
        out.bulk(b"first-entry");
        match s.first_entry() {
            Some(e) => write_entry(out, &e),
            None => out.null(),
        }
        out.bulk(b"last-entry");
        match s.last_entry() {
            Some(e) => write_entry(out, &e),
            None => out.null(),
        }
        return Ok(());
    }
    out.bulk(b"entries");
    write_entries(out, &s.range(StreamId::MIN, StreamId::MAX, count, false));
    let limit = if count == 0 { usize::MAX } else { count };
    out.bulk(b"groups");
    out.array(s.groups.len());
    for (name, g) in &s.groups {
        out.map(7);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"last-delivered-id");
        write_id(out, g.last_id);
        out.bulk(b"entries-read");
        opt_int(out, entries_read_reply(g));
        out.bulk(b"lag");
        opt_int(out, s.group_lag(g));
        out.bulk(b"pel-count");
        out.int(g.pel.len() as i64);
        out.bulk(b"pending");
        let n = g.pel.len().min(limit);
        out.array(n);
        for (id, p) in g.pel.iter().take(n) {
            out.array(4);
            write_id(out, *id);
            out.bulk(&p.consumer);
            out.int(p.delivery_time as i64);
            out.int(p.delivery_count as i64);
        }
        out.bulk(b"consumers");
        out.array(g.consumers.len());
        for (cname, c) in &g.consumers {
            out.map(5);
            out.bulk(b"name");
            out.bulk(cname);
            out.bulk(b"seen-time");
            out.int(c.seen_time as i64);
            out.bulk(b"active-time");
            out.int(c.active_time.map(|t| t as i64).unwrap_or(-1));
            out.bulk(b"pel-count");
            out.int(c.pel.len() as i64);
            out.bulk(b"pending");
            let n = c.pel.len().min(limit);
            out.array(n);
            for id in c.pel.iter().take(n) {
                let p = &g.pel[id];
                out.array(3);
                write_id(out, *id);
                out.int(p.delivery_time as i64);
                out.int(p.delivery_count as i64);
            }
        }
    }
    Ok(())
}
