//! The command table: every family's rows gathered into one name → spec map, built once; and
//! each row's metadata ([`cmd_meta`]): its full name (`client|list`) and the index of its
//! per-command statistics (`INFO commandstats`, `cmd=` of CLIENT LIST) and error counters.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::stats;

use super::{
    args::lower_name, bits, config, connection, generic, geo, hash, hll, list, lolwut, memory, persistence, pubsub,
    server, set, sort, stream, string, txn, zset, CommandSpec,
};

/// Every family's command rows. A new family adds its `COMMANDS` here once.
const FAMILIES: &[&[CommandSpec]] = &[
    bits::COMMANDS,
    config::COMMANDS,
    connection::COMMANDS,
    generic::COMMANDS,
    geo::COMMANDS,
    hash::COMMANDS,
    hll::COMMANDS,
    list::COMMANDS,
    lolwut::COMMANDS,
    memory::COMMANDS,
    persistence::COMMANDS,
    pubsub::COMMANDS,
    server::COMMANDS,
    set::COMMANDS,
    sort::COMMANDS,
    stream::COMMANDS,
    string::COMMANDS,
    txn::COMMANDS,
    zset::COMMANDS,
];

pub struct Table {
    by_name: HashMap<&'static str, &'static CommandSpec>,
}

static TABLE: OnceLock<Table> = OnceLock::new();

pub fn table() -> &'static Table {
    TABLE.get_or_init(|| {
        let mut by_name = HashMap::new();
        for family in FAMILIES {
            for spec in family.iter() {
                let prev = by_name.insert(spec.name, spec);
                assert!(prev.is_none(), "command {} is declared twice", spec.name);
            }
        }
        Table { by_name }
    })
}

impl Table {
    /// Case-insensitive lookup by name.
    pub fn get(&self, name: &[u8]) -> Option<&'static CommandSpec> {
        let mut buf = [0u8; 64];
        let lower = lower_name(name, &mut buf)?;
        self.by_name.get(lower).copied()
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// Every top-level command, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &'static CommandSpec> + '_ {
        self.by_name.values().copied()
    }
}

/// A subcommand of `parent` by name, case-insensitively.
pub fn subcommand(parent: &'static CommandSpec, name: &[u8]) -> Option<&'static CommandSpec> {
    parent.subcommands.iter().find(|s| s.name.as_bytes().eq_ignore_ascii_case(name))
}

// ---------------------------------------------------------------------------------------------
// Per-command metadata: statistics and error counters.

/// Counters and the full name (`client|list`) of one command-table row.
pub struct CmdMeta {
    /// Position in the metadata table (stored by clients as their last command, and the index
    /// of its counters in `crate::stats`).
    pub index: usize,
    pub full_name: &'static str,
}

impl CmdMeta {
    /// Counts one call that took `usec` microseconds.
    #[inline]
    pub fn record_call(&self, usec: u64) {
        stats::add_cmd(self.index, stats::Cmd::Calls, 1);
        stats::add_cmd(self.index, stats::Cmd::Usec, usec);
    }
    #[inline]
    pub fn record_failed(&self) {
        stats::add_cmd(self.index, stats::Cmd::Failed, 1);
    }
    #[inline]
    pub fn record_rejected(&self) {
        stats::add_cmd(self.index, stats::Cmd::Rejected, 1);
    }
    pub fn calls(&self) -> u64 {
        stats::cmd_total(self.index, stats::Cmd::Calls)
    }
    pub fn usec(&self) -> u64 {
        stats::cmd_total(self.index, stats::Cmd::Usec)
    }
    pub fn rejected_calls(&self) -> u64 {
        stats::cmd_total(self.index, stats::Cmd::Rejected)
    }
    pub fn failed_calls(&self) -> u64 {
        stats::cmd_total(self.index, stats::Cmd::Failed)
    }
}

struct MetaTable {
    by_ptr: HashMap<usize, usize, ahash::RandomState>,
    all: Vec<CmdMeta>,
}

/// Rows not in the table (only in unit tests that build their own) share this one.
static UNKNOWN_META: CmdMeta = CmdMeta { index: usize::MAX, full_name: "NULL" };

static META: OnceLock<MetaTable> = OnceLock::new();

fn meta_table() -> &'static MetaTable {
    META.get_or_init(|| {
        let mut specs: Vec<&'static CommandSpec> = table().iter().collect();
        specs.sort_by_key(|s| s.name);
        let mut all = Vec::new();
        let mut by_ptr = HashMap::with_hasher(ahash::RandomState::new());
        let mut add = |spec: &'static CommandSpec, full_name: &'static str| {
            by_ptr.insert(spec as *const CommandSpec as usize, all.len());
            all.push(CmdMeta { index: all.len(), full_name });
        };
        for spec in specs {
            add(spec, spec.name);
            for sub in spec.subcommands {
                add(sub, Box::leak(format!("{}|{}", spec.name, sub.name).into_boxed_str()));
            }
        }
        crate::stats::init(all.len());
        MetaTable { by_ptr, all }
    })
}

/// The counters of a command-table row (one hash lookup).
#[inline]
pub fn cmd_meta(spec: &CommandSpec) -> &'static CmdMeta {
    let t = meta_table();
    match t.by_ptr.get(&(spec as *const CommandSpec as usize)) {
        Some(&i) => &t.all[i],
        None => &UNKNOWN_META,
    }
}

/// The full name of the command stored as a client's last command (`NULL` before any).
pub fn last_cmd_name(index: usize) -> &'static str {
    meta_table().all.get(index).map_or("NULL", |m| m.full_name)
}

/// Every row's counters: containers followed by their subcommands, in name order (`INFO
/// commandstats`, `COMMAND LIST`).
pub fn all_meta() -> &'static [CmdMeta] {
    &meta_table().all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_has_metadata() {
        for spec in table().iter() {
            assert_eq!(cmd_meta(spec).full_name, spec.name);
            for sub in spec.subcommands {
                assert_eq!(cmd_meta(sub).full_name, format!("{}|{}", spec.name, sub.name));
            }
        }
    }

    #[test]
    fn table_rows_are_well_formed() {
        let t = table();
        for spec in t.iter() {
            assert_eq!(spec.name, spec.name.to_ascii_lowercase());
            assert!(spec.arity != 0, "{} has arity 0", spec.name);
            for sub in spec.subcommands {
                assert!(sub.arity != 0 && sub.name == sub.name.to_ascii_lowercase(), "{}|{}", spec.name, sub.name);
            }
            // A command with keys must lock them, or lock everything.
            assert!(
                spec.keys.has_keys()
                    || !spec.subcommands.is_empty()
                    || !spec.has(super::super::flags::WRITE)
                    || spec.has(super::super::flags::ALL_SHARDS),
                "write command {} declares no keys",
                spec.name
            );
        }
    }

    /// Every row and subcommand row.
    fn all_rows() -> Vec<&'static CommandSpec> {
        table().iter().flat_map(|s| std::iter::once(s).chain(s.subcommands.iter())).collect()
    }

    #[test]
    fn movablekeys_is_derived_never_declared() {
        for spec in all_rows() {
            assert!(!spec.has(super::super::flags::MOVABLEKEYS), "{} declares movablekeys", spec.name);
        }
    }

    /// The shards a command locks cover every key COMMAND GETKEYS reports for it (a command
    /// that locks everything aside), and never point past the arguments.
    #[test]
    fn locked_keys_cover_getkeys() {
        let shapes = [
            "k",
            "k v",
            "k v w",
            "2 a b",
            "2 a b c",
            "0 a b",
            "1 a",
            "01 a",
            "9 a b",
            "0 2 a b left",
            "a b left right",
            "streams a 0",
            "count 1 streams a b 0 0",
            "group g c streams a b 0 0",
            "k v get",
            "k store d",
            "k by x get y store d",
            "d 2 a b weights 1 2",
            "d 01 a",
            "x y z w v u",
        ];
        for spec in all_rows() {
            for shape in shapes {
                let mut args: Vec<&[u8]> = vec![spec.name.as_bytes()];
                args.extend(shape.split(' ').map(str::as_bytes));
                let locked = spec.key_positions(&args);
                assert!(locked.iter().all(|&p| p < args.len()), "{} {shape}: {locked:?}", spec.name);
                if spec.has(super::super::flags::ALL_SHARDS) {
                    continue;
                }
                for k in spec.keys.get(&args) {
                    assert!(locked.contains(&k.pos), "{} {shape}: key {} not locked ({locked:?})", spec.name, k.pos);
                }
            }
        }
    }
}
