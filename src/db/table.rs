//! The key table of one database in one shard: an open-addressing index over a dense entry
//! vector (the layout of `indexmap`, with Redis's scan guarantee added).
//!
//! - `entries` holds the entries contiguously; removal is `swap_remove`, so uniform random
//!   sampling (RANDOMKEY, eviction) is one random index.
//! - `slots` is a power-of-two array of `u64`: the high 32 bits hold the key's hash, the low 32
//!   bits the entry index + 1 (0 = empty). Lookups compare hashes in the slot array and touch an
//!   entry only on a hash match. Collisions use linear probing with backward-shift deletion, so an
//!   entry whose home slot is `h` always lies in the run of occupied slots that starts at `h`.
//! - That invariant gives `scan` Redis's guarantee: the cursor walks home slots in reverse-binary
//!   order, and each step returns every entry whose home is that slot, so a full iteration returns
//!   every key present throughout, even when the table grows or shrinks between steps.

use super::value::Entry;

const EMPTY: u64 = 0;
const MIN_SLOTS: usize = 8;

#[derive(Default)]
pub struct Table {
    slots: Box<[u64]>,
    entries: Vec<Entry>,
}

#[inline]
fn slot_hash(slot: u64) -> u32 {
    (slot >> 32) as u32
}

#[inline]
fn slot_index(slot: u64) -> usize {
    (slot as u32) as usize - 1
}

#[inline]
fn make_slot(hash: u32, index: usize) -> u64 {
    ((hash as u64) << 32) | (index as u64 + 1)
}

/// Reverse-binary increment of a scan cursor over a table with `mask + 1` home slots.
fn next_cursor(cursor: u64, mask: u64) -> u64 {
    let mut v = cursor | !mask;
    v = v.reverse_bits();
    v = v.wrapping_add(1);
    v.reverse_bits()
}

impl Table {
    pub fn new() -> Self {
        Table::default()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    /// Index into `entries` of `key`, if present.
    pub fn find(&self, hash: u32, key: &[u8]) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.mask();
        let mut pos = hash as usize & mask;
        loop {
            let s = self.slots[pos];
            if s == EMPTY {
                return None;
            }
            if slot_hash(s) == hash {
                let idx = slot_index(s);
                if &*self.entries[idx].key == key {
                    return Some(idx);
                }
            }
            pos = (pos + 1) & mask;
        }
    }

    pub fn get(&self, index: usize) -> &Entry {
        &self.entries[index]
    }

    pub fn get_mut(&mut self, index: usize) -> &mut Entry {
        &mut self.entries[index]
    }

    /// Bytes of unused entry-vector capacity (reported to `alloc` as not counted for eviction).
    fn spare(&self) -> i64 {
        ((self.entries.capacity() - self.entries.len()) * std::mem::size_of::<Entry>()) as i64
    }

    /// Inserts an entry whose key is known to be absent; returns its index.
    pub fn insert_new(&mut self, entry: Entry) -> usize {
        let spare = self.spare();
        if (self.entries.len() + 1) * 4 > self.slots.len() * 3 {
            self.resize((self.slots.len() * 2).max(MIN_SLOTS));
        }
        let idx = self.entries.len();
        let hash = entry.hash;
        if self.entries.len() == self.entries.capacity() {
            // Grow by a quarter rather than doubling: a full entry vector wastes at most 25%
            // instead of up to 50%, and large vectors are reallocated with mremap (no copy).
            self.entries.reserve_exact((self.entries.len() / 4).max(4));
        }
        self.entries.push(entry);
        self.place(hash, idx);
        crate::alloc::slack_add(self.spare() - spare);
        idx
    }

    fn place(&mut self, hash: u32, idx: usize) {
        let mask = self.mask();
        let mut pos = hash as usize & mask;
        while self.slots[pos] != EMPTY {
            pos = (pos + 1) & mask;
        }
        self.slots[pos] = make_slot(hash, idx);
    }

    fn resize(&mut self, new_len: usize) {
        self.slots = vec![EMPTY; new_len].into_boxed_slice();
        for idx in 0..self.entries.len() {
            let hash = self.entries[idx].hash;
            self.place(hash, idx);
        }
    }

    /// Position in `slots` of the slot that points at entry `idx`.
    fn slot_of(&self, idx: usize) -> usize {
        let mask = self.mask();
        let mut pos = self.entries[idx].hash as usize & mask;
        loop {
            let s = self.slots[pos];
            debug_assert!(s != EMPTY, "entry {idx} must be indexed");
            if slot_index(s) == idx {
                return pos;
            }
            pos = (pos + 1) & mask;
        }
    }

    /// Removes entry `idx` and returns it. The last entry moves into `idx`.
    pub fn remove_at(&mut self, idx: usize) -> Entry {
        let spare = self.spare();
        let mask = self.mask();
        // Backward-shift deletion keeps every run contiguous from its home slot.
        let mut hole = self.slot_of(idx);
        let mut pos = (hole + 1) & mask;
        loop {
            let s = self.slots[pos];
            if s == EMPTY {
                break;
            }
            let home = slot_hash(s) as usize & mask;
            // Move `s` into the hole unless its home lies cyclically in (hole, pos].
            let dist_home = pos.wrapping_sub(home) & mask;
            let dist_hole = pos.wrapping_sub(hole) & mask;
            if dist_home >= dist_hole {
                self.slots[hole] = s;
                hole = pos;
            }
            pos = (pos + 1) & mask;
        }
        self.slots[hole] = EMPTY;
        let last = self.entries.len() - 1;
        if idx != last {
            let moved = self.slot_of(last);
            self.slots[moved] = make_slot(self.entries[last].hash, idx);
        }
        let entry = self.entries.swap_remove(idx);
        if self.slots.len() > MIN_SLOTS && self.entries.len() * 8 < self.slots.len() {
            self.resize((self.slots.len() / 2).max(MIN_SLOTS));
            self.entries.shrink_to(self.entries.len() * 2);
        }
        crate::alloc::slack_add(self.spare() - spare);
        entry
    }

    /// Removes every entry, returning the old entries (so the caller can drop them elsewhere).
    pub fn take_all(&mut self) -> Vec<Entry> {
        crate::alloc::slack_add(-self.spare());
        self.slots = Box::default();
        std::mem::take(&mut self.entries)
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Entry> {
        self.entries.iter()
    }

    /// Allocated capacity: (index slots, entry vector capacity). Lets tests check that memory
    /// is returned when the table empties.
    pub fn capacity(&self) -> (usize, usize) {
        (self.slots.len(), self.entries.capacity())
    }

    /// Number of home slots (the scan cursor's modulus).
    pub fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// One scan step: calls `f` with the index of every entry whose home slot is `cursor` (taken
    /// modulo the current size) and returns the next cursor (0 when the iteration is complete).
    pub fn scan_step(&self, cursor: u64, mut f: impl FnMut(usize)) -> u64 {
        if self.slots.is_empty() {
            return 0;
        }
        let mask = self.mask();
        let home = cursor as usize & mask;
        let mut pos = home;
        loop {
            let s = self.slots[pos];
            if s == EMPTY {
                break;
            }
            if slot_hash(s) as usize & mask == home {
                f(slot_index(s));
            }
            pos = (pos + 1) & mask;
            if pos == home {
                break;
            }
        }
        next_cursor(cursor, mask as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::value::{Entry, Value};
    use std::collections::{HashMap, HashSet};

    fn entry(key: &[u8], hash: u32) -> Entry {
        Entry::new(key.into(), hash, Value::from_bytes(b"v"))
    }

    /// A deliberately weak hash so that collisions and long runs are exercised.
    fn weak_hash(k: &[u8]) -> u32 {
        k.iter().fold(0u32, |h, &b| h.wrapping_mul(3).wrapping_add(b as u32)) & 0xff
    }

    #[test]
    fn matches_a_reference_model() {
        let mut t = Table::new();
        let mut model: HashMap<Vec<u8>, ()> = HashMap::new();
        let mut rng = 0x2545F4914F6CDD1Du64;
        for _ in 0..20000 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let key = format!("k{}", rng % 500).into_bytes();
            let h = weak_hash(&key);
            match (rng >> 20) % 3 {
                0 | 1 => {
                    if t.find(h, &key).is_none() {
                        t.insert_new(entry(&key, h));
                    }
                    model.insert(key, ());
                }
                _ => {
                    if let Some(i) = t.find(h, &key) {
                        let e = t.remove_at(i);
                        assert_eq!(&*e.key, &key[..]);
                    }
                    model.remove(&key);
                }
            }
            assert_eq!(t.len(), model.len());
        }
        for k in model.keys() {
            assert!(t.find(weak_hash(k), k).is_some());
        }
        for e in t.iter() {
            assert!(model.contains_key(&*e.key));
        }
    }

    #[test]
    fn scan_returns_every_stable_key_while_resizing() {
        let mut t = Table::new();
        for i in 0..1000 {
            let k = format!("stable{i}").into_bytes();
            t.insert_new(entry(&k, weak_hash(&k).wrapping_mul(2654435761)));
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut step = 0;
        loop {
            cursor = t.scan_step(cursor, |i| {
                seen.insert(t.get(i).key.to_vec());
            });
            // Grow, then shrink, the table while the iteration is in flight.
            step += 1;
            if step < 200 {
                let k = format!("extra{step}").into_bytes();
                let h = weak_hash(&k).wrapping_mul(2654435761) ^ (step as u32);
                for j in 0..40 {
                    let kk = [&k[..], format!("-{j}").as_bytes()].concat();
                    t.insert_new(entry(&kk, h.wrapping_add(j * 7919)));
                }
            } else {
                let extra: Vec<usize> =
                    (0..t.len()).filter(|&i| t.get(i).key.starts_with(b"extra")).take(100).collect();
                for i in extra.into_iter().rev() {
                    t.remove_at(i);
                }
            }
            if cursor == 0 {
                break;
            }
        }
        for i in 0..1000 {
            assert!(seen.contains(format!("stable{i}").as_bytes()), "missed stable{i}");
        }
    }
}
