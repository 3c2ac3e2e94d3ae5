//! The key table of one database in one shard: an open-addressing index over a dense entry
//! vector (the layout of `indexmap`, with Redis's scan guarantee added).
//!
//! - `entries` holds the entries contiguously (40 bytes each: key + LRU word, value); removal
//!   is `swap_remove`, so uniform random sampling (RANDOMKEY, eviction) is one random index.
//! - `expires` runs parallel to `entries` while the table holds at least one key with a TTL, and
//!   is freed when the last one goes: keys in tables without TTLs pay nothing for expiry.
//! - `slots` is an array of `u32`: the high 26 bits hold the entry index + 1 (0 = empty), the
//!   low 6 bits the slot's distance from the key's home slot (Robin Hood linear probing with
//!   backward-shift deletion). The distance gives every slot's home without rehashing, and a
//!   lookup compares keys only for slots whose home is the key's own.
//! - There are `homes` home slots, any number (not a power of two): a key's home is its 32-bit
//!   hash scaled to `homes` (`hash * homes >> 32`), so homes are in hash order. Probing never
//!   wraps: 63 spare slots follow the last home (a distance never exceeds 63). The table keeps
//!   between 0.6 and 0.85 keys per home, so the index costs about 5.5 bytes per key (4-byte
//!   slots) instead of the 8-11 of a power-of-two table at 0.375-0.75.
//! - SCAN: homes are in hash order and Robin Hood keeps each home's entries together, so a
//!   cursor is a position in the 32-bit hash space. A step returns the keys of the home that
//!   contains the cursor, from the cursor on, and moves the cursor to the next home's first hash.
//!   The steps sweep the hash space upwards whatever the table's size at each step, so a full
//!   iteration returns every key present throughout exactly once, even when the table grows or
//!   shrinks between steps (Redis's guarantee, without its duplicates).
//! - Resizing rehashes every key (hashes are not stored; the process-wide key hash is cheap for
//!   short keys). A probe distance that would not fit in 6 bits grows the table instead.
//!
//! Limit: 2^26 - 2 (67,108,862) entries per table, i.e. per database per shard (with the
//! minimum of 32 shards, over two billion keys per database).

use super::hash_key;
use super::value::{Entry, EntryMut, EntryRef, Key, Stored, Value, NO_EXPIRE};

const EMPTY: u32 = 0;
const MIN_HOMES: usize = 8;
const DIST_BITS: u32 = 6;
const MAX_DIST: u32 = (1 << DIST_BITS) - 1;
/// Most entries one table can index.
pub const MAX_ENTRIES: usize = (1 << (32 - DIST_BITS)) - 2;

#[derive(Default)]
pub struct Table {
    /// `homes + MAX_DIST` slots (empty when the table is).
    slots: Box<[u32]>,
    homes: usize,
    entries: Vec<Stored>,
    /// Empty, or one expiry per entry ([`NO_EXPIRE`] for none).
    expires: Vec<u64>,
    /// Entries with an expiry.
    volatile: usize,
}

#[inline]
fn slot_dist(s: u32) -> u32 {
    s & MAX_DIST
}

#[inline]
fn slot_index(s: u32) -> usize {
    (s >> DIST_BITS) as usize - 1
}

#[inline]
fn make_slot(index: usize, dist: u32) -> u32 {
    debug_assert!(dist <= MAX_DIST && index < MAX_ENTRIES);
    ((index as u32 + 1) << DIST_BITS) | dist
}

/// The home slot of a hash among `homes` (multiply-shift: monotonic in the hash).
#[inline]
fn home_of(hash: u64, homes: usize) -> usize {
    (((hash as u32) as u64 * homes as u64) >> 32) as usize
}

/// The first 32-bit hash whose home is `home` (`home_of(first_hash(h, n), n) == h`).
fn first_hash(home: usize, homes: usize) -> u64 {
    ((home as u64) << 32).div_ceil(homes as u64)
}

/// Homes for `len` keys right after a resize: 0.6 keys per home.
fn homes_for(len: usize) -> usize {
    (len * 5 / 3).max(MIN_HOMES)
}

/// Grows a vector when full: by a quarter while it is small (a reallocation copies it), by a
/// sixteenth once it is large enough to live in its own mapping (main.rs sets the mmap threshold
/// to 256 KiB), where glibc's realloc moves pages with mremap instead of copying. A large full
/// vector so wastes at most 6.25%.
fn reserve_some<T>(v: &mut Vec<T>) {
    if v.len() == v.capacity() {
        let large = v.len() * std::mem::size_of::<T>() >= 256 * 1024;
        v.reserve_exact((v.len() / if large { 16 } else { 4 }).max(4));
    }
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

    /// Entries with an expiry.
    pub fn volatile(&self) -> usize {
        self.volatile
    }

    /// Index into `entries` of `key` (whose [`hash_key`] is `hash`), if present.
    #[inline]
    pub fn find(&self, hash: u64, key: &[u8]) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let mut pos = home_of(hash, self.homes);
        let mut dist = 0;
        loop {
            let s = self.slots[pos];
            // Robin Hood order: the key would have been placed before any slot that is closer
            // to its own home than we are to ours.
            if s == EMPTY || slot_dist(s) < dist {
                return None;
            }
            if slot_dist(s) == dist {
                let idx = slot_index(s);
                if self.entries[idx].key.as_bytes() == key {
                    return Some(idx);
                }
            }
            pos += 1;
            dist += 1;
        }
    }

    #[inline]
    pub fn expire_at(&self, index: usize) -> u64 {
        self.expires.get(index).copied().unwrap_or(NO_EXPIRE)
    }

    #[inline]
    pub fn key_at(&self, index: usize) -> &[u8] {
        self.entries[index].key.as_bytes()
    }

    #[inline]
    pub fn get(&self, index: usize) -> EntryRef<'_> {
        let s = &self.entries[index];
        EntryRef { key: s.key.as_bytes(), value: &s.value, expire_at: self.expire_at(index), lru: s.key.meta() }
    }

    #[inline]
    pub fn get_mut(&mut self, index: usize) -> EntryMut<'_> {
        let at = self.expire_at(index);
        EntryMut::new(&mut self.entries[index], at)
    }

    /// Sets or clears the expiry of entry `index`, keeping the volatile count.
    pub fn set_expire(&mut self, index: usize, at: u64) {
        let old = self.expire_at(index);
        match (old != NO_EXPIRE, at != NO_EXPIRE) {
            (false, false) => return,
            (false, true) => {
                self.volatile += 1;
                if self.expires.is_empty() {
                    let spare = self.spare();
                    let mut v = Vec::with_capacity(self.entries.capacity());
                    v.resize(self.entries.len(), NO_EXPIRE);
                    self.expires = v;
                    crate::alloc::slack_add(self.spare() - spare);
                }
            }
            (true, false) => self.volatile -= 1,
            (true, true) => {}
        }
        self.expires[index] = at;
        if self.volatile == 0 {
            self.drop_expires();
        }
    }

    fn drop_expires(&mut self) {
        let spare = self.spare();
        self.expires = Vec::new();
        crate::alloc::slack_add(self.spare() - spare);
    }

    /// Bytes of unused vector capacity (reported to `alloc` as not counted for eviction).
    fn spare(&self) -> i64 {
        ((self.entries.capacity() - self.entries.len()) * std::mem::size_of::<Stored>()
            + (self.expires.capacity() - self.expires.len()) * std::mem::size_of::<u64>()) as i64
    }

    /// Inserts a key known to be absent (`hash` is its [`hash_key`]); returns its index.
    /// Panics beyond [`MAX_ENTRIES`] (see the module comment).
    pub fn insert(&mut self, hash: u64, key: &[u8], value: Value, lru: u32, expire_at: u64) -> usize {
        assert!(self.entries.len() < MAX_ENTRIES, "a keyspace table is limited to {MAX_ENTRIES} keys");
        let spare = self.spare();
        if (self.entries.len() + 1) * 20 > self.homes * 17 {
            self.resize(homes_for(self.entries.len() + 1));
        }
        let idx = self.entries.len();
        reserve_some(&mut self.entries);
        self.entries.push(Stored { key: Key::new(key, lru), value });
        if !self.expires.is_empty() {
            if self.expires.capacity() < self.entries.capacity() {
                self.expires.reserve_exact(self.entries.capacity() - self.expires.len());
            }
            self.expires.push(NO_EXPIRE);
        }
        if !self.place(hash, idx) {
            self.resize(self.homes * 3 / 2);
        }
        crate::alloc::slack_add(self.spare() - spare);
        self.set_expire(idx, expire_at);
        idx
    }

    /// Inserts a detached entry whose key is known to be absent; returns its index.
    pub fn insert_entry(&mut self, hash: u64, e: Entry) -> usize {
        self.insert(hash, &e.key, e.value, e.lru, e.expire_at)
    }

    /// Robin Hood insertion of entry `idx` with hash `hash`. False when a probe distance would
    /// overflow (the table must then grow; entries placed so far stay valid except the one
    /// carried, which the resize places again from `entries`).
    fn place(&mut self, hash: u64, idx: usize) -> bool {
        let mut pos = home_of(hash, self.homes);
        let mut cur = make_slot(idx, 0);
        let mut dist = 0;
        loop {
            let s = self.slots[pos];
            if s == EMPTY {
                self.slots[pos] = cur;
                return true;
            }
            if slot_dist(s) < dist {
                // Take the slot from the richer entry and carry that one on.
                self.slots[pos] = cur;
                cur = s;
                dist = slot_dist(s);
            }
            pos += 1;
            dist += 1;
            if dist > MAX_DIST {
                return false;
            }
            cur = (cur & !MAX_DIST) | dist;
        }
    }

    /// Rebuilds the index with `homes` home slots (growing by half again while a probe
    /// distance would overflow).
    fn resize(&mut self, mut homes: usize) {
        'retry: loop {
            self.homes = homes;
            self.slots = vec![EMPTY; homes + MAX_DIST as usize].into_boxed_slice();
            for idx in 0..self.entries.len() {
                let h = hash_key(self.entries[idx].key.as_bytes());
                if !self.place(h, idx) {
                    homes = homes * 3 / 2;
                    continue 'retry;
                }
            }
            return;
        }
    }

    /// Position in `slots` of the slot that points at entry `idx`.
    fn slot_of(&self, idx: usize) -> usize {
        let mut pos = home_of(hash_key(self.entries[idx].key.as_bytes()), self.homes);
        loop {
            let s = self.slots[pos];
            debug_assert!(s != EMPTY, "entry {idx} must be indexed");
            if slot_index(s) == idx {
                return pos;
            }
            pos += 1;
        }
    }

    /// Removes entry `idx` and returns it. The last entry moves into `idx`.
    pub fn remove_at(&mut self, idx: usize) -> Entry {
        let stored = self.remove_stored(idx);
        let expire_at = stored.1;
        let Stored { key, value } = stored.0;
        Entry { key: key.as_bytes().into(), value, expire_at, lru: key.meta() }
    }

    /// `remove_at` without converting the key (the caller only drops the entry).
    pub fn remove_stored(&mut self, idx: usize) -> (Stored, u64) {
        let spare = self.spare();
        // Backward-shift deletion: pull the following slots of the run one step back until an
        // empty slot or one already at its home.
        let mut hole = self.slot_of(idx);
        loop {
            let next = hole + 1;
            let s = self.slots.get(next).copied().unwrap_or(EMPTY);
            if s == EMPTY || slot_dist(s) == 0 {
                break;
            }
            self.slots[hole] = s - 1;
            hole = next;
        }
        self.slots[hole] = EMPTY;
        let last = self.entries.len() - 1;
        if idx != last {
            let moved = self.slot_of(last);
            self.slots[moved] = make_slot(idx, slot_dist(self.slots[moved]));
        }
        let expire_at = if self.expires.is_empty() { NO_EXPIRE } else { self.expires.swap_remove(idx) };
        let stored = self.entries.swap_remove(idx);
        if expire_at != NO_EXPIRE {
            self.volatile -= 1;
            if self.volatile == 0 {
                self.drop_expires();
            }
        }
        if self.homes > MIN_HOMES && self.entries.len() * 8 < self.homes {
            self.resize(homes_for(self.entries.len()));
            self.entries.shrink_to(self.entries.len() * 2);
            self.expires.shrink_to(self.entries.capacity());
        }
        crate::alloc::slack_add(self.spare() - spare);
        (stored, expire_at)
    }

    /// Removes every entry, returning them (so the caller can drop them elsewhere).
    pub fn take_all(&mut self) -> Vec<Stored> {
        crate::alloc::slack_add(-self.spare());
        self.slots = Box::default();
        self.homes = 0;
        self.expires = Vec::new();
        self.volatile = 0;
        std::mem::take(&mut self.entries)
    }

    /// Every entry, in storage order.
    pub fn iter(&self) -> impl Iterator<Item = EntryRef<'_>> + '_ {
        (0..self.entries.len()).map(move |i| self.get(i))
    }

    /// Allocated capacity: (home slots, entry vector capacity). Lets tests check that memory
    /// is returned when the table empties.
    pub fn capacity(&self) -> (usize, usize) {
        (self.homes, self.entries.capacity())
    }

    /// Heap bytes of the table's own arrays (slots, entries, expiries), capacity included.
    pub fn overhead_bytes(&self) -> usize {
        self.slots.len() * 4
            + self.entries.capacity() * std::mem::size_of::<Stored>()
            + self.expires.capacity() * std::mem::size_of::<u64>()
    }

    /// Number of home slots.
    pub fn slot_count(&self) -> usize {
        self.homes
    }

    /// One scan step: calls `f` with the index of every entry whose home contains the hash
    /// position `cursor` (a 32-bit hash value) and whose hash is not below it, and returns the
    /// next position (0 when the iteration is complete). See the module comment.
    pub fn scan_step(&self, cursor: u64, mut f: impl FnMut(usize)) -> u64 {
        if self.slots.is_empty() || cursor > u32::MAX as u64 {
            return 0;
        }
        let home = home_of(cursor, self.homes);
        let mut pos = home;
        let mut dist = 0;
        while let Some(&s) = self.slots.get(pos) {
            // This home's entries sit at distance `dist` here; a smaller distance means the run
            // of this home is over.
            if s == EMPTY || slot_dist(s) < dist {
                break;
            }
            if slot_dist(s) == dist {
                let idx = slot_index(s);
                if cursor == 0 || hash_key(self.entries[idx].key.as_bytes()) as u32 as u64 >= cursor {
                    f(idx);
                }
            }
            pos += 1;
            dist += 1;
        }
        if home + 1 >= self.homes {
            0
        } else {
            first_hash(home + 1, self.homes)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::value::Value;
    use std::collections::{HashMap, HashSet};

    fn insert(t: &mut Table, key: &[u8]) -> usize {
        t.insert(hash_key(key), key, Value::from_bytes(b"v"), 0, NO_EXPIRE)
    }

    #[test]
    fn matches_a_reference_model() {
        let mut t = Table::new();
        let mut model: HashMap<Vec<u8>, u64> = HashMap::new();
        let mut rng = 0x2545F4914F6CDD1Du64;
        for step in 0..40000u64 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let key = format!("k{}", rng % 2000).into_bytes();
            let h = hash_key(&key);
            match (rng >> 20) % 4 {
                0 | 1 => {
                    let at = if step % 3 == 0 { step + 1 } else { NO_EXPIRE };
                    match t.find(h, &key) {
                        None => {
                            t.insert(h, &key, Value::from_bytes(b"v"), 0, at);
                        }
                        Some(i) => t.set_expire(i, at),
                    }
                    model.insert(key, at);
                }
                _ => {
                    if let Some(i) = t.find(h, &key) {
                        let e = t.remove_at(i);
                        assert_eq!(&*e.key, &key[..]);
                        assert_eq!(e.expire_at, model[&key]);
                    }
                    model.remove(&key);
                }
            }
            assert_eq!(t.len(), model.len());
            assert_eq!(t.volatile(), model.values().filter(|&&a| a != NO_EXPIRE).count());
        }
        for (k, at) in &model {
            let i = t.find(hash_key(k), k).expect("present");
            assert_eq!(t.expire_at(i), *at);
        }
        for e in t.iter() {
            assert!(model.contains_key(e.key));
        }
        assert!(t.find(hash_key(b"absent"), b"absent").is_none());
    }

    #[test]
    fn expiry_vector_exists_only_while_needed() {
        let mut t = Table::new();
        for i in 0..100 {
            insert(&mut t, format!("k{i}").as_bytes());
        }
        assert_eq!(t.expires.capacity(), 0);
        t.set_expire(5, 42);
        assert_eq!((t.volatile(), t.expire_at(5), t.expire_at(6)), (1, 42, NO_EXPIRE));
        insert(&mut t, b"new");
        assert_eq!(t.expires.len(), t.entries.len());
        t.set_expire(5, NO_EXPIRE);
        assert_eq!((t.volatile(), t.expires.capacity()), (0, 0));
    }

    #[test]
    fn scan_returns_every_stable_key_while_resizing() {
        let mut t = Table::new();
        for i in 0..1000 {
            insert(&mut t, format!("stable{i}").as_bytes());
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut step = 0;
        loop {
            cursor = t.scan_step(cursor, |i| {
                seen.insert(t.key_at(i).to_vec());
            });
            // Grow, then shrink, the table while the iteration is in flight.
            step += 1;
            if step < 200 {
                for j in 0..40 {
                    insert(&mut t, format!("extra{step}-{j}").as_bytes());
                }
            } else {
                let extra: Vec<usize> = (0..t.len()).filter(|&i| t.key_at(i).starts_with(b"extra")).take(100).collect();
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

    #[test]
    fn every_entry_is_visited_by_exactly_one_home() {
        let mut t = Table::new();
        for i in 0..5000 {
            insert(&mut t, format!("x{i}").as_bytes());
        }
        let mut count = vec![0; t.len()];
        let mut cursor = 0;
        let mut steps = 0;
        loop {
            cursor = t.scan_step(cursor, |i| count[i] += 1);
            steps += 1;
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(steps, t.slot_count());
        assert!(count.iter().all(|&c| c == 1));
        // Homes are in hash order and the first hash of each home maps back to it.
        for h in [0, 1, 7, t.slot_count() - 1] {
            assert_eq!(home_of(first_hash(h, t.slot_count()), t.slot_count()), h);
        }
    }
}
