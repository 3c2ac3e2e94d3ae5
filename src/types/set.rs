//! The set type's data structure (pure, no I/O).
//!
//! Encodings and conversions follow Redis 7.2 (`OBJECT ENCODING`):
//! - `intset` ([`Set::Int`], [`IntSet`]): sorted integers in one buffer, 2, 4 or 8 bytes each
//!   (the narrowest width that fits every member, widened on demand as Redis's intset). Used
//!   while every member is a canonical 64-bit integer and there are at most
//!   `set-max-intset-entries` members.
//! - `listpack` ([`Set::Pack`], the [`Pack`] of the hash type): members in insertion order,
//!   while there are at most `set-max-listpack-entries` (128) members of at most
//!   `set-max-listpack-value` (64) bytes. Redis 7.0 has no listpack sets (it uses `hashtable`);
//!   this is the 7.2 behaviour.
//! - `hashtable` ([`Set::Table`]): an `IndexSet` (hash index over a dense vector: O(1) random
//!   members for SPOP/SRANDMEMBER, and the SSCAN cursor of [`super::hash::scan_positions`]).
//!
//! Creation uses Redis 7.2's size hint (the number of members a command is about to add):
//! `SADD s a b c` creates an intset only if the first member is an integer and the hint fits the
//! intset limit, else a listpack if the hint fits the listpack limit, else a table; adding to
//! an existing small set converts up front when the hint exceeds its encoding's limit. Sets
//! never convert back to a smaller encoding.

use indexmap::IndexSet;

use super::hash::{scan_positions, Pack};
use crate::types::small::{SmallBytes, INLINE_MAX};

/// `set-max-intset-entries`, `set-max-listpack-entries`, `set-max-listpack-value`.
#[derive(Clone, Copy, Debug)]
pub struct SetLimits {
    pub intset_entries: usize,
    pub listpack_entries: usize,
    pub listpack_value: usize,
}

impl Default for SetLimits {
    fn default() -> Self {
        SetLimits { intset_entries: 512, listpack_entries: 128, listpack_value: 64 }
    }
}

/// Redis's cap on intset entries, whatever the configuration says.
const INTSET_HARD_MAX: usize = 1 << 30;

// ---------------------------------------------------------------------------------------------
// IntSet
// ---------------------------------------------------------------------------------------------

/// Sorted distinct integers: one width byte (2, 4 or 8), then the members little-endian at
/// that width. Empty = no allocation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IntSet {
    buf: Vec<u8>,
}

fn width_for(v: i64) -> usize {
    if i16::try_from(v).is_ok() {
        2
    } else if i32::try_from(v).is_ok() {
        4
    } else {
        8
    }
}

impl IntSet {
    pub fn new() -> IntSet {
        IntSet::default()
    }

    fn width(&self) -> usize {
        self.buf.first().map_or(2, |&w| w as usize)
    }

    pub fn len(&self) -> usize {
        if self.buf.is_empty() {
            0
        } else {
            (self.buf.len() - 1) / self.width()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn heap_size(&self) -> usize {
        self.buf.capacity()
    }

    #[inline]
    pub fn get(&self, i: usize) -> i64 {
        let w = self.width();
        let s = &self.buf[1 + i * w..1 + (i + 1) * w];
        match w {
            2 => i16::from_le_bytes(s.try_into().unwrap()) as i64,
            4 => i32::from_le_bytes(s.try_into().unwrap()) as i64,
            _ => i64::from_le_bytes(s.try_into().unwrap()),
        }
    }

    fn search(&self, v: i64) -> Result<usize, usize> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.get(mid).cmp(&v) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    pub fn contains(&self, v: i64) -> bool {
        self.search(v).is_ok()
    }

    fn encode(w: usize, v: i64, out: &mut Vec<u8>) {
        match w {
            2 => out.extend_from_slice(&(v as i16).to_le_bytes()),
            4 => out.extend_from_slice(&(v as i32).to_le_bytes()),
            _ => out.extend_from_slice(&v.to_le_bytes()),
        }
    }

    /// Inserts `v`; false if it was present.
    pub fn insert(&mut self, v: i64) -> bool {
        let pos = match self.search(v) {
            Ok(_) => return false,
            Err(p) => p,
        };
        let w = self.width().max(width_for(v));
        let n = self.len();
        let mut out = Vec::with_capacity(1 + (n + 1) * w);
        out.push(w as u8);
        for i in 0..pos {
            Self::encode(w, self.get(i), &mut out);
        }
        Self::encode(w, v, &mut out);
        for i in pos..n {
            Self::encode(w, self.get(i), &mut out);
        }
        self.buf = out;
        true
    }

    /// Removes `v`; false if absent.
    pub fn remove(&mut self, v: i64) -> bool {
        match self.search(v) {
            Ok(i) => {
                let w = self.width();
                self.buf.drain(1 + i * w..1 + (i + 1) * w);
                if self.buf.len() == 1 {
                    self.buf = Vec::new();
                } else {
                    self.buf.shrink_to_fit();
                }
                true
            }
            Err(_) => false,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }
}

// ---------------------------------------------------------------------------------------------
// Set
// ---------------------------------------------------------------------------------------------

pub type Table = IndexSet<SmallBytes, ahash::RandomState>;

/// A member as stored: intsets hold integers, the other encodings bytes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Elem<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

impl<'a> Elem<'a> {
    /// The member's bytes (integers formatted into `buf`).
    pub fn bytes<'b>(&self, buf: &'b mut itoa::Buffer) -> &'b [u8]
    where
        'a: 'b,
    {
        match *self {
            Elem::Int(n) => buf.format(n).as_bytes(),
            Elem::Bytes(b) => b,
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.bytes(&mut itoa::Buffer::new()).to_vec()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Set {
    Int(IntSet),
    Pack(Pack),
    Table(Box<Table>),
}

fn int_of(x: &[u8]) -> Option<i64> {
    resp::parse_i64(x)
}

impl Set {
    /// An empty intset: the starting point of sets built member by member (SUNIONSTORE,
    /// SINTERSTORE, SDIFFSTORE), which then grow through the usual conversions.
    pub fn new_intset() -> Set {
        Set::Int(IntSet::new())
    }

    /// The empty set Redis 7.2 creates for a command about to add `size_hint` members, the
    /// first being `first`.
    pub fn create(first: &[u8], size_hint: usize, lim: SetLimits) -> Set {
        if int_of(first).is_some() && size_hint <= lim.intset_entries.min(INTSET_HARD_MAX) {
            Set::Int(IntSet::new())
        } else if size_hint <= lim.listpack_entries {
            Set::Pack(Pack::new())
        } else {
            Set::Table(Box::new(Table::with_capacity_and_hasher(size_hint.min(1 << 16), Default::default())))
        }
    }

    /// Converts a small set to a table up front when a command is about to add more members
    /// than its encoding allows.
    pub fn maybe_convert(&mut self, size_hint: usize, lim: SetLimits) {
        let over = match self {
            Set::Int(_) => size_hint > lim.intset_entries.min(INTSET_HARD_MAX),
            Set::Pack(_) => size_hint > lim.listpack_entries,
            Set::Table(_) => false,
        };
        if over {
            self.convert_to_table();
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Set::Int(s) => s.len(),
            Set::Pack(p) => p.len(),
            Set::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Set::Int(_) => "intset",
            Set::Pack(_) => "listpack",
            Set::Table(_) => "hashtable",
        }
    }

    pub fn contains(&self, x: &[u8]) -> bool {
        match self {
            Set::Int(s) => int_of(x).is_some_and(|v| s.contains(v)),
            Set::Pack(p) => p.find(x, 1).is_some(),
            Set::Table(t) => t.contains(x),
        }
    }

    fn convert_to_table(&mut self) {
        let mut t = Table::with_capacity_and_hasher(self.len() + 1, Default::default());
        let mut buf = itoa::Buffer::new();
        for e in self.iter() {
            t.insert(SmallBytes::new(e.bytes(&mut buf)));
        }
        *self = Set::Table(Box::new(t));
    }

    /// Adds `x`; true if it is new. Converts as Redis 7.2 does: an intset that gets a
    /// non-integer becomes a listpack if the result fits the listpack limits (else a table), an
    /// intset over its entry limit becomes a table, and a listpack that would exceed its limits
    /// becomes a table.
    pub fn add(&mut self, x: &[u8], lim: SetLimits) -> bool {
        match self {
            Set::Int(s) => {
                if let Some(v) = int_of(x) {
                    let added = s.insert(v);
                    if added && s.len() > lim.intset_entries.min(INTSET_HARD_MAX) {
                        self.convert_to_table();
                    }
                    return added;
                }
                // The longest member text in the intset bounds every member's length.
                let maxlen = match s.len() {
                    0 => 0,
                    n => itoa::Buffer::new().format(s.get(0)).len().max(itoa::Buffer::new().format(s.get(n - 1)).len()),
                };
                if s.len() < lim.listpack_entries && x.len() <= lim.listpack_value && maxlen <= lim.listpack_value {
                    let mut p = Pack::new();
                    let mut b = itoa::Buffer::new();
                    for v in s.iter() {
                        p.push(b.format(v).as_bytes());
                    }
                    p.push(x);
                    *self = Set::Pack(p);
                } else {
                    self.convert_to_table();
                    self.add(x, lim);
                }
                true
            }
            Set::Pack(p) => {
                if p.find(x, 1).is_some() {
                    return false;
                }
                if p.len() < lim.listpack_entries && x.len() <= lim.listpack_value {
                    p.push(x);
                } else {
                    self.convert_to_table();
                    self.add(x, lim);
                }
                true
            }
            // A short member is built inline (no allocation), so one probe both finds and
            // inserts it; a long one is looked up before it is copied to the heap.
            Set::Table(t) if x.len() <= INLINE_MAX => t.insert(SmallBytes::new(x)),
            Set::Table(t) => !t.contains(x) && t.insert(SmallBytes::new(x)),
        }
    }

    /// Removes `x`; true if it was a member.
    pub fn remove(&mut self, x: &[u8]) -> bool {
        match self {
            Set::Int(s) => int_of(x).is_some_and(|v| s.remove(v)),
            Set::Pack(p) => match p.find(x, 1) {
                Some(off) => {
                    p.remove(off, 1);
                    true
                }
                None => false,
            },
            Set::Table(t) => t.swap_remove(x),
        }
    }

    /// Members in Redis's order for small encodings (sorted for intsets, insertion order for
    /// listpacks); tables in their own order.
    pub fn iter(&self) -> SetIter<'_> {
        match self {
            Set::Int(s) => SetIter::Int(s, 0),
            Set::Pack(p) => SetIter::Pack(p.iter()),
            Set::Table(t) => SetIter::Table(t.iter()),
        }
    }

    /// The member at position `i` (< len): O(1) except for listpacks (O(i)).
    pub fn nth(&self, i: usize) -> Elem<'_> {
        match self {
            Set::Int(s) => Elem::Int(s.get(i)),
            Set::Pack(p) => Elem::Bytes(p.at(p.offset_of(i)).0),
            Set::Table(t) => Elem::Bytes(t.get_index(i).expect("in range")),
        }
    }

    /// Removes and returns the member at position `i` (< len).
    pub fn take_nth(&mut self, i: usize) -> Vec<u8> {
        let v = self.nth(i).to_vec();
        match self {
            Set::Table(t) => {
                t.swap_remove_index(i);
            }
            _ => {
                self.remove(&v);
            }
        }
        v
    }

    /// One SSCAN step (see [`super::hash::Hash::scan`]): small sets whole with cursor 0.
    pub fn scan<'a>(&'a self, cursor: u64, count: usize, mut f: impl FnMut(Elem<'a>)) -> u64 {
        match self {
            Set::Table(t) => {
                let (r, next) = scan_positions(t.len(), cursor, count);
                for i in r {
                    f(Elem::Bytes(t.get_index(i).expect("in range")));
                }
                next
            }
            _ => {
                for e in self.iter() {
                    f(e);
                }
                0
            }
        }
    }
}

pub enum SetIter<'a> {
    Int(&'a IntSet, usize),
    Pack(super::hash::PackIter<'a>),
    Table(indexmap::set::Iter<'a, SmallBytes>),
}

impl<'a> Iterator for SetIter<'a> {
    type Item = Elem<'a>;
    fn next(&mut self) -> Option<Elem<'a>> {
        match self {
            SetIter::Int(s, i) => {
                if *i < s.len() {
                    *i += 1;
                    Some(Elem::Int(s.get(*i - 1)))
                } else {
                    None
                }
            }
            SetIter::Pack(it) => it.next().map(|(_, b)| Elem::Bytes(b)),
            SetIter::Table(it) => it.next().map(|b| Elem::Bytes(b)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_members_short_and_long() {
        let lim = SetLimits { intset_entries: 512, listpack_entries: 0, listpack_value: 64 };
        let mut s = Set::create(b"x", 2, lim);
        let long = vec![b'm'; INLINE_MAX + 1];
        assert!(s.add(b"short", lim));
        assert_eq!(s.encoding(), "hashtable");
        assert!(s.add(&long, lim));
        assert!(!s.add(b"short", lim), "inline member found in one probe");
        assert!(!s.add(&long, lim), "heap member found before it is copied");
        assert!(s.contains(b"short") && s.contains(&long));
        assert_eq!(s.len(), 2);
        assert!(s.remove(&long));
        assert!(!s.contains(&long));
        assert_eq!(s.iter().map(|e| e.to_vec()).collect::<Vec<_>>(), vec![b"short".to_vec()]);
    }

    fn members(s: &Set) -> Vec<Vec<u8>> {
        s.iter().map(|e| e.to_vec()).collect()
    }

    #[test]
    fn intset_sorted_widens_and_removes() {
        let mut s = IntSet::new();
        assert!(s.insert(5));
        assert!(s.insert(-3));
        assert!(!s.insert(5));
        assert_eq!(s.heap_size(), 1 + 2 * 2, "16-bit members");
        assert!(s.insert(70_000));
        assert_eq!(s.heap_size(), 1 + 3 * 4, "widened to 32 bits");
        assert!(s.insert(i64::MIN));
        assert!(s.insert(i64::MAX));
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![i64::MIN, -3, 5, 70_000, i64::MAX]);
        assert!(s.contains(70_000) && !s.contains(4));
        assert!(s.remove(-3));
        assert!(!s.remove(-3));
        for v in [i64::MIN, 5, 70_000, i64::MAX] {
            assert!(s.remove(v));
        }
        assert!(s.is_empty());
        assert_eq!(s.heap_size(), 0);
    }

    #[test]
    fn set_encodings_follow_redis_7_2() {
        let lim = SetLimits::default();
        let mut s = Set::create(b"1", 1, lim);
        s.add(b"1", lim);
        s.add(b"2", lim);
        assert_eq!(s.encoding(), "intset");
        // "01" is not a canonical integer.
        s.add(b"01", lim);
        assert_eq!(s.encoding(), "listpack");
        assert_eq!(members(&s), vec![b"1".to_vec(), b"2".to_vec(), b"01".to_vec()]);
        assert!(s.contains(b"01") && s.contains(b"2") && !s.contains(b"1 "));

        // A long member: table.
        let mut s = Set::create(b"a", 1, lim);
        s.add(b"a", lim);
        assert_eq!(s.encoding(), "listpack");
        s.add(&[b'x'; 65], lim);
        assert_eq!(s.encoding(), "hashtable");
        assert_eq!(s.len(), 2);

        // Listpack entry limit.
        let mut s = Set::create(b"a", 1, lim);
        for i in 0..128 {
            s.add(format!("m{i}").as_bytes(), lim);
        }
        assert_eq!(s.encoding(), "listpack");
        s.add(b"more", lim);
        assert_eq!(s.encoding(), "hashtable");

        // Intset entry limit goes straight to a table.
        let small = SetLimits { intset_entries: 3, ..lim };
        let mut s = Set::create(b"1", 1, small);
        for i in 0..4 {
            s.add(i.to_string().as_bytes(), small);
        }
        assert_eq!(s.encoding(), "hashtable");

        // Size hints.
        assert_eq!(Set::create(b"1", 4, small).encoding(), "listpack");
        assert_eq!(Set::create(b"1", 200, lim).encoding(), "intset");
        assert_eq!(Set::create(b"1", 600, lim).encoding(), "hashtable");
        assert_eq!(Set::create(b"a", 129, lim).encoding(), "hashtable");
        assert_eq!(Set::create(b"a", 128, lim).encoding(), "listpack");
        let mut s = Set::create(b"a", 1, lim);
        s.add(b"a", lim);
        s.maybe_convert(129, lim);
        assert_eq!(s.encoding(), "hashtable");
    }

    #[test]
    fn intset_to_listpack_needs_room() {
        let lim = SetLimits { intset_entries: 512, listpack_entries: 2, listpack_value: 64 };
        let mut s = Set::new_intset();
        s.add(b"1", lim);
        s.add(b"2", lim);
        s.add(b"x", lim);
        assert_eq!(s.encoding(), "hashtable");
        let lim = SetLimits { intset_entries: 512, listpack_entries: 128, listpack_value: 3 };
        let mut s = Set::new_intset();
        s.add(b"1000", lim);
        s.add(b"x", lim);
        assert_eq!(s.encoding(), "hashtable", "an intset member is longer than the value limit");
    }

    #[test]
    fn take_nth_and_remove_everywhere() {
        let lim = SetLimits::default();
        for first in [&b"1"[..], b"a"] {
            let mut s = Set::create(first, 1, lim);
            for i in 0..10 {
                s.add(format!("{}{i}", if first == b"a" { "a" } else { "" }).as_bytes(), lim);
            }
            let mut got = Vec::new();
            while !s.is_empty() {
                let n = s.len();
                got.push(s.take_nth(n / 2));
                assert_eq!(s.len(), n - 1);
            }
            got.sort();
            got.dedup();
            assert_eq!(got.len(), 10);
        }
        let mut t = Set::Table(Box::default());
        t.add(b"a", lim);
        t.add(b"b", lim);
        assert!(t.remove(b"a") && !t.remove(b"a"));
        assert_eq!(members(&t), vec![b"b".to_vec()]);
    }
}
