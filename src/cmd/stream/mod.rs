//! Stream commands: XADD, XRANGE, XREVRANGE, XLEN, XDEL, XTRIM, XSETID, XREAD, XREADGROUP, XACK,
//! XPENDING, XCLAIM, XAUTOCLAIM, XGROUP (CREATE, SETID, DESTROY, CREATECONSUMER, DELCONSUMER,
//! HELP) and XINFO (STREAM [FULL], GROUPS, CONSUMERS, HELP).
//!
//! The handlers live in submodules: `write` (XADD, XDEL, XTRIM, XSETID and trimming), `read`
//! (XRANGE, XREVRANGE, XLEN, XREAD and XREADGROUP, BLOCK included), `groups` (XACK, XPENDING,
//! XCLAIM, XAUTOCLAIM and XGROUP) and `info` (XINFO). This file holds the command table and the
//! helpers they share (ID parsing, reply writers); the stream itself is reached through
//! `cmd::lookup::get` (`Db::get`: reads of streams count no keyspace hits or misses).
//!
//! The data structure (packed nodes under an ordered map, consumer groups, PELs) lives in
//! `types::stream`. Handlers validate every argument before touching the keyspace, then work on
//! the stream in place and call `db.touch` after a change. Streams, unlike other collections,
//! may exist empty (XDEL/XTRIM never delete the key), as in Redis.
//!
//! Key positions: XREAD/XREADGROUP keys follow `STREAMS` (Redis's key spec: a keyword search, then
//! the first half of what follows), which also tells the dispatcher which shards to lock;
//! COMMAND GETKEYS falls back to Redis's `xreadGetKeys` ([`xread_getkeys`]) as Redis does.
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

mod groups;
mod info;
mod read;
mod write;

use super::{acl, args, flags::*, key, key_keyword, ks, CmdError, CommandSpec, FindKeys, KeyRef, NO_KEYS};
use crate::types::stream::{parse_id_arg, Entry, Group, IdArg, StreamId};
use groups::{
    xack, xautoclaim, xclaim, xgroup_create, xgroup_createconsumer, xgroup_delconsumer, xgroup_destroy, xgroup_help,
    xgroup_setid, xpending,
};
use info::{xinfo_consumers, xinfo_groups, xinfo_help, xinfo_stream};
use read::{xlen, xrange, xread, xreadgroup, xrevrange};
use resp::Writer;
use write::{xadd, xdel, xsetid, xtrim};

const XGROUP_SUB: u32 = WRITE;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("xadd", -5, WRITE | DENYOOM | FAST, acl::STREAM, key(1, ks::RW | ks::UPDATE).notes("UPDATE instead of INSERT because of the optional trimming feature"), xadd).doc(
        "stream",
        "5.0.0",
        "O(1) when adding a new entry, O(N) when trimming where N being the number of entries evicted.",
        "Appends a new message to a stream. Creates the key if it doesn't exist.",
    )
.tips(&["nondeterministic_output"]),
    CommandSpec::new("xrange", -4, READONLY, acl::STREAM, key(1, ks::RO | ks::ACCESS), xrange).doc(
        "stream",
        "5.0.0",
        "O(N) with N being the number of elements being returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1).",
        "Returns the messages from a stream within a range of IDs.",
    ),
    CommandSpec::new("xrevrange", -4, READONLY, acl::STREAM, key(1, ks::RO | ks::ACCESS), xrevrange).doc(
        "stream",
        "5.0.0",
        "O(N) with N being the number of elements returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1).",
        "Returns the messages from a stream within a range of IDs in reverse order.",
    ),
    CommandSpec::new("xlen", 2, READONLY | FAST, acl::STREAM, key(1, ks::RO), xlen).doc(
        "stream",
        "5.0.0",
        "O(1)",
        "Return the number of messages in a stream.",
    ),
    CommandSpec::new("xdel", -3, WRITE | FAST, acl::STREAM, key(1, ks::RW | ks::DELETE), xdel).doc(
        "stream",
        "5.0.0",
        "O(1) for each single item to delete in the stream, regardless of the stream size.",
        "Returns the number of messages after removing them from a stream.",
    ),
    CommandSpec::new("xtrim", -4, WRITE, acl::STREAM, key(1, ks::RW | ks::DELETE), xtrim).doc(
        "stream",
        "5.0.0",
        "O(N), with N being the number of evicted entries. Constant times are very small however, since entries are organized in macro nodes containing multiple entries that can be released with a single deallocation.",
        "Deletes messages from the beginning of a stream.",
    )
.tips(&["nondeterministic_output"]),
    CommandSpec::new("xsetid", -3, WRITE | DENYOOM | FAST, acl::STREAM, key(1, ks::RW | ks::UPDATE), xsetid).doc(
        "stream",
        "5.0.0",
        "O(1)",
        "An internal command for replicating stream values.",
    ),
    CommandSpec::new(
        "xread",
        -4,
        READONLY | BLOCKING,
        acl::STREAM,
        key_keyword("STREAMS", 1, STREAMS_KEYS, ks::RO | ks::ACCESS).getkeys(xread_getkeys),
        xread,
    )
    .doc(
        "stream",
        "5.0.0",
        "",
        "Returns messages from multiple streams with IDs greater than the ones requested. Blocks until a message is available otherwise.",
    ),
    CommandSpec::new(
        "xreadgroup",
        -7,
        WRITE | BLOCKING,
        acl::STREAM,
        key_keyword("STREAMS", 4, STREAMS_KEYS, ks::RO | ks::ACCESS).getkeys(xread_getkeys),
        xreadgroup,
    )
    .doc(
        "stream",
        "5.0.0",
        "For each stream mentioned: O(M) with M being the number of elements returned. If M is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1). On the other side when XREADGROUP blocks, XADD will pay the O(N) time in order to serve the N clients blocked on the stream getting new data.",
        "Returns new or historical messages from a stream for a consumer in a group. Blocks until a message is available otherwise.",
    ),
    CommandSpec::new("xack", -4, WRITE | FAST, acl::STREAM, key(1, ks::RW | ks::UPDATE), xack).doc(
        "stream",
        "5.0.0",
        "O(1) for each message ID processed.",
        "Returns the number of messages that were successfully acknowledged by the consumer group member of a stream.",
    ),
    CommandSpec::new("xpending", -3, READONLY, acl::STREAM, key(1, ks::RO | ks::ACCESS), xpending).doc(
        "stream",
        "5.0.0",
        "O(N) with N being the number of elements returned, so asking for a small fixed number of entries per call is O(1). O(M), where M is the total number of entries scanned when used with the IDLE filter. When the command returns just the summary and the list of consumers is small, it runs in O(1) time; otherwise, an additional O(N) time for iterating every consumer.",
        "Returns the information and entries from a stream consumer group's pending entries list.",
    )
.tips(&["nondeterministic_output"]),
    CommandSpec::new("xclaim", -6, WRITE | FAST, acl::STREAM, key(1, ks::RW | ks::UPDATE), xclaim).doc(
        "stream",
        "5.0.0",
        "O(log N) with N being the number of messages in the PEL of the consumer group.",
        "Changes, or acquires, ownership of a message in a consumer group, as if the message was delivered a consumer group member.",
    )
.tips(&["nondeterministic_output"]),
    CommandSpec::new("xautoclaim", -6, WRITE | FAST, acl::STREAM, key(1, ks::RW | ks::DELETE), xautoclaim).doc(
        "stream",
        "6.2.0",
        "O(1) if COUNT is small.",
        "Changes, or acquires, ownership of messages in a consumer group, as if the messages were delivered to as consumer group member.",
    )
.tips(&["nondeterministic_output"]),
    CommandSpec::new("xgroup", -2, 0, 0, NO_KEYS, xgroup_help)
        .doc("stream", "5.0.0", "Depends on subcommand.", "A container for consumer groups commands.")
        .subcommands(&[
            CommandSpec::new("create", -5, XGROUP_SUB | DENYOOM, acl::STREAM, key(2, ks::RW | ks::INSERT), xgroup_create).doc(
                "stream",
                "5.0.0",
                "O(1)",
                "Creates a consumer group.",
            ),
            CommandSpec::new("setid", -5, XGROUP_SUB, acl::STREAM, key(2, ks::RW | ks::UPDATE), xgroup_setid).doc(
                "stream",
                "5.0.0",
                "O(1)",
                "Sets the last-delivered ID of a consumer group.",
            ),
            CommandSpec::new("destroy", 4, XGROUP_SUB, acl::STREAM, key(2, ks::RW | ks::DELETE), xgroup_destroy).doc(
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
                key(2, ks::RW | ks::INSERT),
                xgroup_createconsumer,
            )
            .doc("stream", "6.2.0", "O(1)", "Creates a consumer in a consumer group."),
            CommandSpec::new("delconsumer", 5, XGROUP_SUB, acl::STREAM, key(2, ks::RW | ks::DELETE), xgroup_delconsumer).doc(
                "stream",
                "5.0.0",
                "O(1)",
                "Deletes a consumer from a consumer group.",
            ),
            CommandSpec::new("help", 2, LOADING | STALE, acl::STREAM, NO_KEYS, xgroup_help).doc(
                "stream",
                "5.0.0",
                "O(1)",
                "Returns helpful text about the different subcommands.",
            ),
        ]),
    CommandSpec::new("xinfo", -2, 0, 0, NO_KEYS, xinfo_help)
        .doc("stream", "5.0.0", "Depends on subcommand.", "A container for stream introspection commands.")
        .subcommands(&[
            CommandSpec::new("consumers", 4, READONLY, acl::STREAM, key(2, ks::RO | ks::ACCESS), xinfo_consumers).doc(
                "stream",
                "5.0.0",
                "O(1)",
                "Returns a list of the consumers in a consumer group.",
            )
.tips(&["nondeterministic_output"]),
            CommandSpec::new("groups", 3, READONLY, acl::STREAM, key(2, ks::RO | ks::ACCESS), xinfo_groups).doc(
                "stream",
                "5.0.0",
                "O(1)",
                "Returns a list of the consumer groups of a stream.",
            ),
            CommandSpec::new("stream", -3, READONLY, acl::STREAM, key(2, ks::RO | ks::ACCESS), xinfo_stream).doc(
                "stream",
                "5.0.0",
                "O(1)",
                "Returns information about a stream.",
            ),
            CommandSpec::new("help", 2, LOADING | STALE, acl::STREAM, NO_KEYS, xinfo_help).doc(
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

fn invalid_id() -> CmdError {
    CmdError::msg(INVALID_ID)
}

/// Where the keys of XREAD/XREADGROUP start: after `STREAMS`, found by walking the options
/// exactly as [`read::read_cmd`] parses them (so an option value spelled `streams` is not mistaken
/// for the keyword). `None` when the options do not parse; the handler then fails before it
/// touches any key.
fn streams_start(args: &[&[u8]]) -> Option<usize> {
    let mut c = args::Cursor::new(args, 1);
    while !c.is_empty() {
        if c.keyword_with("streams", 1) {
            return Some(c.pos());
        }
        let skipped = c.value_of("block").is_some()
            || c.value_of("count").is_some()
            || c.values_of("group", 2).is_some()
            || c.keyword("noack");
        if !skipped {
            return None;
        }
    }
    None
}

/// XREAD/XREADGROUP's key spec: after `STREAMS`, the first half of the remaining arguments.
const STREAMS_KEYS: FindKeys = FindKeys::Range { lastkey: -1, keystep: 1, limit: 2 };

/// Redis's `xreadGetKeys` (used by COMMAND GETKEYS when the key spec does not fit the
/// arguments): the first half of the arguments after the `STREAMS` option, no flags.
fn xread_getkeys(args: &[&[u8]]) -> Vec<KeyRef> {
    let Some(p) = streams_start(args) else { return Vec::new() };
    let n = args.len() - p;
    if !n.is_multiple_of(2) {
        return Vec::new();
    }
    (p..p + n / 2).map(|pos| KeyRef { pos, flags: 0 }).collect()
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

fn nogroup_for_key(key: &[u8], group: &[u8]) -> CmdError {
    CmdError::msg(format!(
        "NOGROUP No such consumer group '{}' for key name '{}'",
        String::from_utf8_lossy(group),
        String::from_utf8_lossy(key)
    ))
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

fn bad_sub(sub: &str, help: &str) -> CmdError {
    CmdError::msg(format!("ERR unknown subcommand or wrong number of arguments for '{sub}'. Try {help} HELP."))
}
