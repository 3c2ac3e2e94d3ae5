//! The command table: every family's rows gathered into one name → spec map, built once.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::{
    args::lower_name, config, connection, generic, hash, list, memory, persistence, pubsub, server, set, sort, stream,
    string, txn, zset, CommandSpec,
};

/// Every family's command rows. A new family adds its `COMMANDS` here once.
const FAMILIES: &[&[CommandSpec]] = &[
    config::COMMANDS,
    connection::COMMANDS,
    generic::COMMANDS,
    hash::COMMANDS,
    list::COMMANDS,
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

#[cfg(test)]
mod tests {
    use super::*;

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
                spec.keys.first > 0
                    || spec.keys.finder.is_some()
                    || !spec.subcommands.is_empty()
                    || !spec.has(super::super::flags::WRITE)
                    || spec.has(super::super::flags::ALL_SHARDS),
                "write command {} declares no keys",
                spec.name
            );
        }
    }
}
