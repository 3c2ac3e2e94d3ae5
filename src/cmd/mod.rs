//! Commands: the declarative command table, dispatch, the infrastructure handlers share, and one
//! module per command family.
//!
//! Each family module exports `pub const COMMANDS: &[CommandSpec]`, one row per command, next to
//! its handlers. [`table`] gathers the rows into one lookup table that drives dispatch, arity
//! errors, `COMMAND`, ACL categories and key extraction. Adding a command touches its family
//! module only: one handler, one row, one test block.
//!
//! A handler has the shape `fn(&mut Ctx, &[&[u8]]) -> CmdResult`: it parses its arguments
//! (`args[0]` is the command name), works through `ctx.db()`, and writes its reply into
//! `ctx.out`. It returns `Err` only before writing anything; the dispatcher writes the error.
//!
//! The modules form two layers. The command infrastructure (this file, `args` with the argument
//! [`args::Cursor`], `keys` with the key specs, `lookup` with the typed value lookups, `error`,
//! `table`, `dispatch`,
//! `effects`, `blocking`, `info`, `reply`, `session`) may be used by every family; a family
//! (`string`, `generic`, `hash`, `hll`, `list`, `set`, `zset`, `geo`, `stream`, `sort`, `bits`, `slowlog`, `module`, `latency`,
//! `pubsub`, `connection`, `server`, `config`, `memory`, `persistence`, `txn`, `lolwut`) uses only the
//! infrastructure, never another family (`tests/layering.rs` checks it): what two families need
//! alike lives in the infrastructure, which may call into families (the dispatcher, INFO).

pub mod args;
pub mod bits;
pub mod blocking;
pub mod config;
pub mod connection;
pub mod dispatch;
pub mod effects;
pub mod error;
pub mod generic;
pub mod geo;
pub mod hash;
pub mod hll;
pub mod info;
pub mod keys;
pub mod latency;
pub mod list;
pub mod lolwut;
pub mod lookup;
pub mod memory;
pub mod module;
pub mod persistence;
pub mod pubsub;
pub mod reply;
pub mod server;
pub mod session;
pub mod set;
pub mod slowlog;
pub mod sort;
pub mod stream;
pub mod string;
pub mod table;
pub mod txn;
pub mod zset;

pub use error::{CmdError, CmdResult};

/// The Redis version redstart reports (INFO `redis_version`, HELLO `version`).
pub const REDIS_VERSION: &str = "7.2.4";

use crate::client::Client;
use crate::db::{Db, Locks};
use crate::server::Server;
use resp::Writer;

/// Command flags, as Redis names them in `COMMAND INFO`.
pub mod flags {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const PUBSUB: u32 = 1 << 4;
    pub const NOSCRIPT: u32 = 1 << 5;
    pub const BLOCKING: u32 = 1 << 6;
    pub const LOADING: u32 = 1 << 7;
    pub const STALE: u32 = 1 << 8;
    pub const SKIP_MONITOR: u32 = 1 << 9;
    pub const SKIP_SLOWLOG: u32 = 1 << 10;
    pub const FAST: u32 = 1 << 11;
    pub const NO_AUTH: u32 = 1 << 12;
    pub const MAY_REPLICATE: u32 = 1 << 13;
    pub const NO_MANDATORY_KEYS: u32 = 1 << 14;
    pub const NO_MULTI: u32 = 1 << 15;
    /// Derived from the key specs (`CommandSpec::info_flags`), never declared by a row.
    pub const MOVABLEKEYS: u32 = 1 << 16;
    pub const ALLOW_BUSY: u32 = 1 << 17;
    pub const NO_ASYNC_LOADING: u32 = 1 << 18;
    /// redstart-internal: the command may touch any key, so it locks every shard.
    pub const ALL_SHARDS: u32 = 1 << 30;
    /// redstart-internal (Redis's `CMD_TOUCHES_ARBITRARY_KEYS`): the command may find expired
    /// keys it was not given (SCAN, RANDOMKEY); at the top level their `DEL`s are propagated
    /// one by one rather than wrapped in a transaction.
    pub const TOUCHES_ARBITRARY_KEYS: u32 = 1 << 29;
    /// Redis's `CMD_PROTECTED` (not shown by COMMAND): refused unless `enable-debug-command`
    /// (DEBUG) or `enable-module-command` (MODULE LOAD, LOADEX, UNLOAD) lets the client in.
    pub const PROTECTED: u32 = 1 << 28;

    /// Flag names in the order Redis lists them (`addReplyCommandFlags`).
    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        // `may_replicate` is not shown (Redis hides it since 7.0).
        (NO_MANDATORY_KEYS, "no_mandatory_keys"),
        (NO_ASYNC_LOADING, "no_async_loading"),
        (NO_MULTI, "no_multi"),
        (MOVABLEKEYS, "movablekeys"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

/// ACL categories. `@read`, `@write`, `@admin`, `@dangerous`, `@pubsub`, `@fast`, `@slow` and
/// `@blocking` are derived from the flags as Redis does; the rest are declared per command.
pub mod acl {
    pub const KEYSPACE: u64 = 1 << 0;
    pub const READ: u64 = 1 << 1;
    pub const WRITE: u64 = 1 << 2;
    pub const SET: u64 = 1 << 3;
    pub const SORTEDSET: u64 = 1 << 4;
    pub const LIST: u64 = 1 << 5;
    pub const HASH: u64 = 1 << 6;
    pub const STRING: u64 = 1 << 7;
    pub const BITMAP: u64 = 1 << 8;
    pub const HYPERLOGLOG: u64 = 1 << 9;
    pub const GEO: u64 = 1 << 10;
    pub const STREAM: u64 = 1 << 11;
    pub const PUBSUB: u64 = 1 << 12;
    pub const ADMIN: u64 = 1 << 13;
    pub const FAST: u64 = 1 << 14;
    pub const SLOW: u64 = 1 << 15;
    pub const BLOCKING: u64 = 1 << 16;
    pub const DANGEROUS: u64 = 1 << 17;
    pub const CONNECTION: u64 = 1 << 18;
    pub const TRANSACTION: u64 = 1 << 19;
    pub const SCRIPTING: u64 = 1 << 20;

    /// Category names in Redis's order.
    pub const NAMES: &[(u64, &str)] = &[
        (KEYSPACE, "keyspace"),
        (READ, "read"),
        (WRITE, "write"),
        (SET, "set"),
        (SORTEDSET, "sortedset"),
        (LIST, "list"),
        (HASH, "hash"),
        (STRING, "string"),
        (BITMAP, "bitmap"),
        (HYPERLOGLOG, "hyperloglog"),
        (GEO, "geo"),
        (STREAM, "stream"),
        (PUBSUB, "pubsub"),
        (ADMIN, "admin"),
        (FAST, "fast"),
        (SLOW, "slow"),
        (BLOCKING, "blocking"),
        (DANGEROUS, "dangerous"),
        (CONNECTION, "connection"),
        (TRANSACTION, "transaction"),
        (SCRIPTING, "scripting"),
    ];
}

pub type Handler = fn(&mut Ctx, &[&[u8]]) -> CmdResult;

pub use keys::{
    key, key_keyword, key_num, key_range, key_unknown, ks, BeginSearch, FindKeys, GetKeys, KeyRef, KeySpec, Keys,
    NO_KEYS,
};

/// One row of the command table.
pub struct CommandSpec {
    /// Lower-case name; for subcommands the subcommand name alone (`get` of `config`).
    pub name: &'static str,
    /// Redis arity: `N` exactly N arguments (name included), `-N` at least N.
    pub arity: i32,
    pub flags: u32,
    /// Declared ACL categories (derived ones are added by [`CommandSpec::acl_categories`]).
    pub acl: u64,
    /// Where the keys are: Redis's key specs (and getkeys function), from which the legacy key
    /// range, `movablekeys`, `COMMAND GETKEYS` and the shards to lock are derived.
    pub keys: Keys,
    pub handler: Handler,
    pub subcommands: &'static [CommandSpec],
    pub group: &'static str,
    pub summary: &'static str,
    pub since: &'static str,
    pub complexity: &'static str,
    /// Command tips (`request_policy:all_shards`, `nondeterministic_output`, ...), COMMAND INFO.
    pub tips: &'static [&'static str],
}

impl CommandSpec {
    /// A table row with the required fields; add documentation with [`CommandSpec::doc`].
    pub const fn new(
        name: &'static str,
        arity: i32,
        flags: u32,
        acl: u64,
        keys: Keys,
        handler: Handler,
    ) -> CommandSpec {
        CommandSpec {
            name,
            arity,
            flags,
            acl,
            keys,
            handler,
            subcommands: &[],
            group: "",
            summary: "",
            since: "",
            complexity: "",
            tips: &[],
        }
    }

    pub const fn doc(
        mut self,
        group: &'static str,
        since: &'static str,
        complexity: &'static str,
        summary: &'static str,
    ) -> Self {
        self.group = group;
        self.since = since;
        self.complexity = complexity;
        self.summary = summary;
        self
    }

    pub const fn subcommands(mut self, subs: &'static [CommandSpec]) -> Self {
        self.subcommands = subs;
        self
    }

    /// Command tips reported by `COMMAND INFO`.
    pub const fn tips(mut self, tips: &'static [&'static str]) -> Self {
        self.tips = tips;
        self
    }

    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    /// All ACL categories: declared plus those Redis derives from the flags.
    pub fn acl_categories(&self) -> u64 {
        let mut c = self.acl;
        if self.has(flags::WRITE) {
            c |= acl::WRITE;
        }
        if self.has(flags::READONLY) && self.acl & acl::SCRIPTING == 0 {
            c |= acl::READ;
        }
        if self.has(flags::ADMIN) {
            c |= acl::ADMIN | acl::DANGEROUS;
        }
        if self.has(flags::PUBSUB) {
            c |= acl::PUBSUB;
        }
        if self.has(flags::FAST) {
            c |= acl::FAST;
        }
        if self.has(flags::BLOCKING) {
            c |= acl::BLOCKING;
        }
        if c & acl::FAST == 0 {
            c |= acl::SLOW;
        }
        c
    }

    /// The flags `COMMAND INFO` shows: the declared ones, plus `movablekeys` when the legacy
    /// key range does not find every key (derived from the key specs, as Redis does).
    pub fn info_flags(&self) -> u32 {
        if self.keys.movable() {
            self.flags | flags::MOVABLEKEYS
        } else {
            self.flags
        }
    }

    /// Positions of the keys to lock for `args` (see [`Keys::lock_positions`]).
    pub fn key_positions(&self, args: &[&[u8]]) -> Vec<usize> {
        self.keys.lock_positions(args)
    }
}

/// What a command runs with: the server, the calling client, the reply buffer and the shards
/// locked for it.
/// Whether a directive of the `enable-protected-configs` kind (`no`, `yes`, `local`) lets a
/// client at `peer` through: `local` admits Unix-socket and loopback clients.
pub fn enabled_by(server: &Server, peer: &crate::client::Peer, directive: &str) -> bool {
    match server.config.read().get(directive) {
        "yes" => true,
        "local" => peer.is_local(),
        _ => false,
    }
}

pub struct Ctx<'a> {
    pub server: &'a Server,
    pub client: &'a mut Client,
    pub out: &'a mut Writer,
    pub locks: Locks<'a>,
    /// Cached time for the whole command (Redis uses one clock reading per command).
    pub now: u64,
    /// The clock reading `now` came from, in microseconds, until `dispatch::run` uses it as
    /// the command's start time (0 afterwards: later commands of an EXEC read the clock).
    pub clock_us: u64,
    /// The execution unit the command runs in: what it propagates (see `effects`).
    pub unit: crate::propagate::Unit,
    /// Arguments of the running command to hide from SLOWLOG (bit `i`: argument `i`), set by
    /// the commands that take secrets ([`Ctx::redact`]).
    pub redacted: u64,
}

impl<'a> Ctx<'a> {
    /// Whether a directive of the `enable-protected-configs` kind (`no`, `yes`, `local`) lets
    /// this client through: `local` admits Unix-socket and loopback clients.
    pub fn enabled_by(&self, directive: &str) -> bool {
        enabled_by(self.server, &self.client.info.peer, directive)
    }

    /// Hides argument `i` of the running command (a password) from the slow log, as Redis's
    /// `redactClientCommandArgument`.
    pub fn redact(&mut self, i: usize) {
        if i < 64 {
            self.redacted |= 1 << i;
        }
    }

    /// Whether argument `i` of the running command was redacted ([`Ctx::redact`]).
    pub fn is_redacted(&self, i: usize) -> bool {
        i < 64 && self.redacted & (1 << i) != 0
    }

    /// The client's selected database, through this command's locks.
    pub fn db(&mut self) -> Db<'_, 'a> {
        let db = self.client.db;
        self.db_at(db)
    }

    /// The selected database and the reply writer at once, for handlers that reply with data
    /// borrowed from the keyspace.
    pub fn db_out(&mut self) -> (Db<'_, 'a>, &mut Writer) {
        let db = self.client.db;
        (Db { ks: &self.server.keyspace, locks: &mut self.locks, db, now: self.now }, self.out)
    }

    /// Database `db`, through this command's locks.
    pub fn db_at(&mut self, db: usize) -> Db<'_, 'a> {
        Db { ks: &self.server.keyspace, locks: &mut self.locks, db, now: self.now }
    }
}
