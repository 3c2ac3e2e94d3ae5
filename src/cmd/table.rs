//! The command table: every family's rows gathered into one name → spec map, built once; and
//! each row's metadata ([`cmd_meta`]): its full name (`client|list`) and the index of its
//! per-command statistics (`INFO commandstats`, `cmd=` of CLIENT LIST) and error counters.

use std::sync::OnceLock;

use crate::stats;

use super::{
    bits, config, connection, generic, geo, hash, hll, latency, list, lolwut, memory, module, persistence, pubsub,
    server, set, slowlog, sort, stream, string, txn, zset, CommandSpec,
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
    latency::COMMANDS,
    list::COMMANDS,
    lolwut::COMMANDS,
    memory::COMMANDS,
    module::COMMANDS,
    persistence::COMMANDS,
    pubsub::COMMANDS,
    server::COMMANDS,
    set::COMMANDS,
    slowlog::COMMANDS,
    sort::COMMANDS,
    stream::COMMANDS,
    string::COMMANDS,
    txn::COMMANDS,
    zset::COMMANDS,
];

/// Name → spec, looked up once per command: an open-addressing table (linear probing, at most
/// a quarter full) keyed by a hash of the name's ASCII-case-folded bytes, so a lookup neither
/// lowercases the name into a buffer nor runs a keyed general-purpose hasher; the one candidate
/// slot (rarely two) is confirmed with a case-insensitive comparison.
pub struct Table {
    slots: Box<[Option<&'static CommandSpec>]>,
    len: usize,
}

/// FNV-1a over the bytes with bit 5 set (ASCII letters folded to lower case; other bytes may
/// collide, which the comparison after the lookup sorts out).
#[inline]
fn name_hash(name: &[u8]) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in name {
        h = (h ^ u64::from(b | 0x20)).wrapping_mul(0x0100_0000_01b3);
    }
    (h ^ (h >> 29)) as usize
}

static TABLE: OnceLock<Table> = OnceLock::new();

pub fn table() -> &'static Table {
    TABLE.get_or_init(|| {
        let specs: Vec<&'static CommandSpec> = FAMILIES.iter().flat_map(|f| f.iter()).collect();
        let size = (specs.len() * 4).next_power_of_two();
        let mut slots = vec![None; size].into_boxed_slice();
        for spec in &specs {
            let mut i = name_hash(spec.name.as_bytes()) & (size - 1);
            while let Some(other) = slots[i] {
                let other: &CommandSpec = other;
                assert!(other.name != spec.name, "command {} is declared twice", spec.name);
                i = (i + 1) & (size - 1);
            }
            slots[i] = Some(*spec);
        }
        Table { slots, len: specs.len() }
    })
}

impl Table {
    /// Case-insensitive lookup by name.
    #[inline]
    pub fn get(&self, name: &[u8]) -> Option<&'static CommandSpec> {
        let mask = self.slots.len() - 1;
        let mut i = name_hash(name) & mask;
        loop {
            let spec = self.slots[i]?;
            if spec.name.len() == name.len() && spec.name.as_bytes().eq_ignore_ascii_case(name) {
                return Some(spec);
            }
            i = (i + 1) & mask;
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every top-level command, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &'static CommandSpec> + '_ {
        self.slots.iter().flatten().copied()
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
        stats::add_call(self.index, usec);
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
    /// Row address → index in `all`: open addressing as [`Table`], keyed by a multiplicative
    /// hash of the address (looked up twice per command).
    by_ptr: Box<[(usize, usize)]>,
    all: Vec<CmdMeta>,
}

#[inline]
fn ptr_slot(ptr: usize, mask: usize) -> usize {
    ((ptr >> 3).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40) & mask
}

/// Rows not in the table (only in unit tests that build their own) share this one.
static UNKNOWN_META: CmdMeta = CmdMeta { index: usize::MAX, full_name: "NULL" };

static META: OnceLock<MetaTable> = OnceLock::new();

fn meta_table() -> &'static MetaTable {
    META.get_or_init(|| {
        let mut specs: Vec<&'static CommandSpec> = table().iter().collect();
        specs.sort_by_key(|s| s.name);
        let mut all = Vec::new();
        let mut rows = Vec::new();
        let mut add = |spec: &'static CommandSpec, full_name: &'static str| {
            rows.push((spec as *const CommandSpec as usize, all.len()));
            all.push(CmdMeta { index: all.len(), full_name });
        };
        for spec in specs {
            add(spec, spec.name);
            for sub in spec.subcommands {
                add(sub, Box::leak(format!("{}|{}", spec.name, sub.name).into_boxed_str()));
            }
        }
        let size = (rows.len() * 4).next_power_of_two();
        let mut by_ptr = vec![(0usize, 0usize); size].into_boxed_slice();
        for (ptr, index) in rows {
            let mut i = ptr_slot(ptr, size - 1);
            while by_ptr[i].0 != 0 {
                i = (i + 1) & (size - 1);
            }
            by_ptr[i] = (ptr, index);
        }
        crate::stats::init(all.len());
        MetaTable { by_ptr, all }
    })
}

/// The counters of a command-table row (one probe, rarely two).
#[inline]
pub fn cmd_meta(spec: &CommandSpec) -> &'static CmdMeta {
    let t = meta_table();
    let ptr = spec as *const CommandSpec as usize;
    let mask = t.by_ptr.len() - 1;
    let mut i = ptr_slot(ptr, mask);
    loop {
        match t.by_ptr[i] {
            (0, _) => return &UNKNOWN_META,
            (p, index) if p == ptr => return &t.all[index],
            _ => i = (i + 1) & mask,
        }
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
    fn lookup_ignores_case_and_nothing_else() {
        let t = table();
        assert_eq!(t.iter().count(), t.len());
        assert_eq!(t.len(), FAMILIES.iter().map(|f| f.len()).sum::<usize>());
        for spec in t.iter() {
            let name = spec.name.as_bytes();
            let upper = name.to_ascii_uppercase();
            let mixed: Vec<u8> =
                name.iter().enumerate().map(|(i, c)| if i % 2 == 0 { c.to_ascii_uppercase() } else { *c }).collect();
            for n in [name, &upper[..], &mixed[..]] {
                assert!(std::ptr::eq(t.get(n).unwrap(), spec), "{}", spec.name);
            }
            // Longer, shorter, and the same bytes with bit 5 flipped where that is not a case.
            assert!(t.get(&[name, b"x"].concat()).is_none_or(|s| s.name.len() == name.len() + 1));
            assert!(t.get(&name[..name.len() - 1]).is_none_or(|s| s.name.len() == name.len() - 1));
            let flipped: Vec<u8> = name.iter().map(|&c| if c.is_ascii_alphabetic() { c } else { c ^ 0x20 }).collect();
            if flipped != name {
                assert!(t.get(&flipped).is_none(), "{}", spec.name);
            }
            assert!(std::ptr::eq(cmd_meta(spec), &all_meta()[cmd_meta(spec).index]));
        }
        assert!(t.get(b"").is_none() && t.get(b"nosuchcommand").is_none() && t.get(&[0xff; 70]).is_none());
    }

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
