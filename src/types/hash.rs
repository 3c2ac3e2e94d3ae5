//! The hash type's data structure (pure, no I/O), and [`Pack`], the compact byte-string list
//! shared with the set type.
//!
//! Encodings, as Redis 7.2 reports them in `OBJECT ENCODING`:
//! - `listpack` ([`Hash::Pack`], a [`PairPack`]): (field, value) pairs in one exact-sized
//!   buffer, in insertion order; updates keep a field's position. Used while the hash has at
//!   most `hash-max-listpack-entries` fields and no field or value longer than
//!   `hash-max-listpack-value` bytes.
//! - `hashtable` ([`Hash::Table`]): an `IndexMap` (hash index over a dense vector). Once
//!   converted a hash never goes back, as in Redis.
//!
//! Why one contiguous buffer for small hashes: a Vec of boxed pairs costs two heap blocks per
//! field plus 32 bytes of pointers, i.e. several hundred bytes for ten small fields, while the
//! packed form costs one block holding the bytes plus one header byte per pair for short
//! strings (Redis's listpack: a length and a back-length per string, 4 bytes per pair). The
//! buffer is reallocated to its exact size on every change (no growth slack, as Redis reallocs
//! a listpack), and the pair count lives beside it, inside the `Box<Hash>` block that exists
//! anyway. Lookups are a linear scan over at most a few hundred short strings in one
//! cache-friendly block, which is what Redis does too. Measured (scripts/bench-types): 10
//! fields of 6 + 11 bytes take a 32-byte `Box<Hash>` block plus a 192-byte buffer block, where
//! Redis takes a 16-byte robj plus a 224-byte listpack allocation.
//!
//! The table's dense vector gives O(1) random picks (HRANDFIELD) and an HSCAN cursor with
//! Redis's guarantee: the cursor walks positions from the end towards the start, and a removal
//! only moves the last element into the hole (so an element present for the whole scan is
//! never moved from an unvisited position to a visited one).

use crate::types::small::{SmallBytes, INLINE_MAX};
use indexmap::IndexMap;

// ---------------------------------------------------------------------------------------------
// Pack: a compact list of byte strings in one buffer
// ---------------------------------------------------------------------------------------------

/// A list of byte strings in one heap block: each entry is a LEB128 length followed by its
/// bytes; the entry count is kept beside the buffer. The buffer is sized exactly (each change
/// reallocates it to its new length, as Redis's listpack does), so a small collection costs
/// one allocation with no growth slack. Used by the set type.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pack {
    buf: Box<[u8]>,
    n: u32,
}

fn varint_len(mut n: usize) -> usize {
    let mut l = 1;
    while n >= 0x80 {
        n >>= 7;
        l += 1;
    }
    l
}

fn put_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

#[inline]
fn get_varint(buf: &[u8], pos: &mut usize) -> usize {
    let mut n = 0usize;
    let mut shift = 0;
    loop {
        let b = buf[*pos];
        *pos += 1;
        n |= ((b & 0x7f) as usize) << shift;
        if b & 0x80 == 0 {
            return n;
        }
        shift += 7;
    }
}

/// `buf` with bytes `start..end` replaced by `with`, in a block of exactly the new length: one
/// `realloc` to the exact size (which glibc often does in place), never `Vec`'s doubling
/// followed by a shrink (that would leave freed tails in the heap, i.e. fragmentation). Shared
/// by the compact encodings of hashes, sets and sorted sets.
pub(crate) fn splice_exact(buf: Box<[u8]>, start: usize, end: usize, with: &[u8]) -> Box<[u8]> {
    let mut v = buf.into_vec();
    let old = v.len();
    let removed = end - start;
    if with.len() >= removed {
        let grow = with.len() - removed;
        v.reserve_exact(grow);
        v.resize(old + grow, 0);
        v.copy_within(end..old, end + grow);
    } else {
        let shrink = removed - with.len();
        v.copy_within(end..old, end - shrink);
        v.truncate(old - shrink);
    }
    v[start..start + with.len()].copy_from_slice(with);
    // Exact already when growing (`reserve_exact` on an exact block); an in-place shrinking
    // realloc otherwise.
    v.into_boxed_slice()
}

impl Pack {
    pub fn new() -> Pack {
        Pack::default()
    }

    pub fn len(&self) -> usize {
        self.n as usize
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Heap bytes used.
    pub fn heap_size(&self) -> usize {
        self.buf.len()
    }

    /// The entry starting at byte offset `off`: (data start, data end). `off` must be an entry
    /// boundary produced by this pack.
    #[inline]
    fn entry(&self, off: usize) -> (usize, usize) {
        let mut i = off;
        let n = get_varint(&self.buf, &mut i);
        (i, i + n)
    }

    /// Entries with their byte offsets.
    pub fn iter(&self) -> PackIter<'_> {
        PackIter { pack: self, off: 0 }
    }

    /// Byte offset of the first entry at an index that is a multiple of `stride` and equals
    /// `x`.
    pub fn find(&self, x: &[u8], stride: usize) -> Option<usize> {
        self.iter().step_by(stride).find(|(_, e)| *e == x).map(|(off, _)| off)
    }

    /// The entry at byte offset `off` and the offset of the next one.
    pub fn at(&self, off: usize) -> (&[u8], usize) {
        let (s, e) = self.entry(off);
        (&self.buf[s..e], e)
    }

    /// Byte offset of the entry with index `i` (O(i)).
    pub fn offset_of(&self, i: usize) -> usize {
        self.iter().nth(i).map(|(off, _)| off).unwrap_or(self.buf.len())
    }

    /// Appends one entry.
    pub fn push(&mut self, x: &[u8]) {
        let mut enc = Vec::with_capacity(varint_len(x.len()) + x.len());
        put_varint(&mut enc, x.len());
        enc.extend_from_slice(x);
        let end = self.buf.len();
        self.buf = splice_exact(std::mem::take(&mut self.buf), end, end, &enc);
        self.n += 1;
    }

    /// Builds a pack from entries in order, in one exact allocation.
    pub fn from_entries<'a>(items: impl Iterator<Item = &'a [u8]>) -> Pack {
        let mut buf = Vec::new();
        let mut n = 0;
        for x in items {
            put_varint(&mut buf, x.len());
            buf.extend_from_slice(x);
            n += 1;
        }
        Pack { buf: buf.into_boxed_slice(), n }
    }

    /// Removes `count` consecutive entries starting at byte offset `off`.
    pub fn remove(&mut self, off: usize, count: usize) {
        let mut end = off;
        for _ in 0..count {
            end = self.entry(end).1;
        }
        self.buf = splice_exact(std::mem::take(&mut self.buf), off, end, &[]);
        self.n -= count as u32;
    }

    /// Replaces the entry at byte offset `off` with `x`.
    pub fn replace(&mut self, off: usize, x: &[u8]) {
        let (_, end) = self.entry(off);
        let mut enc = Vec::with_capacity(varint_len(x.len()) + x.len());
        put_varint(&mut enc, x.len());
        enc.extend_from_slice(x);
        self.buf = splice_exact(std::mem::take(&mut self.buf), off, end, &enc);
    }
}

pub struct PackIter<'a> {
    pack: &'a Pack,
    off: usize,
}

impl<'a> Iterator for PackIter<'a> {
    /// (byte offset of the entry, its bytes)
    type Item = (usize, &'a [u8]);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.off >= self.pack.buf.len() {
            return None;
        }
        let off = self.off;
        let (s, e) = self.pack.entry(off);
        self.off = e;
        Some((off, &self.pack.buf[s..e]))
    }
}

// ---------------------------------------------------------------------------------------------
// PairPack: the hash's compact encoding
// ---------------------------------------------------------------------------------------------

/// (field, value) pairs in one exact-sized heap block, in insertion order. Each pair is a
/// header giving both lengths, then the field bytes, then the value bytes. The header is
/// - 1 byte `fl << 4 | vl` when the field is at most 14 bytes and the value at most 15
///   (bytes 0..=239),
/// - 2 bytes when the field is at most 58 bytes and the value at most 64 (every pair the
///   default `hash-max-listpack-value` admits, but for fields of 59..=64 bytes):
///   `c = fl * 65 + vl` (< 3840) as `240 + c / 256`, `c % 256`,
/// - else 255, then both lengths as LEB128 varints.
///
/// So a pair of short strings costs one byte of framing (Redis's listpack: 4, a length and a
/// back-length per string). The pair count is kept beside the buffer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PairPack {
    buf: Box<[u8]>,
    n: u32,
}

/// Encoded size of a pair with a field of `fl` and a value of `vl` bytes.
fn pair_len(fl: usize, vl: usize) -> usize {
    let header = if fl <= 14 && vl <= 15 {
        1
    } else if fl <= 58 && vl <= 64 {
        2
    } else {
        1 + varint_len(fl) + varint_len(vl)
    };
    header + fl + vl
}

fn put_pair(out: &mut Vec<u8>, f: &[u8], v: &[u8]) {
    let (fl, vl) = (f.len(), v.len());
    if fl <= 14 && vl <= 15 {
        out.push((fl << 4 | vl) as u8);
    } else if fl <= 58 && vl <= 64 {
        let c = fl * 65 + vl;
        out.push(240 + (c >> 8) as u8);
        out.push(c as u8);
    } else {
        out.push(255);
        put_varint(out, fl);
        put_varint(out, vl);
    }
    out.extend_from_slice(f);
    out.extend_from_slice(v);
}

/// A pair decoded in place: byte offsets of its start, field, value and end.
#[derive(Clone, Copy, Debug)]
struct PairAt {
    start: usize,
    field: usize,
    value: usize,
    end: usize,
}

impl PairPack {
    pub fn len(&self) -> usize {
        self.n as usize
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Heap bytes used.
    pub fn heap_size(&self) -> usize {
        self.buf.len()
    }

    /// The pair starting at `start` (a pair boundary).
    #[inline]
    fn pair(&self, start: usize) -> PairAt {
        let b = self.buf[start];
        let (fl, vl, field) = if b < 240 {
            ((b >> 4) as usize, (b & 15) as usize, start + 1)
        } else if b < 255 {
            let c = ((b - 240) as usize) << 8 | self.buf[start + 1] as usize;
            (c / 65, c % 65, start + 2)
        } else {
            let mut i = start + 1;
            let fl = get_varint(&self.buf, &mut i);
            let vl = get_varint(&self.buf, &mut i);
            (fl, vl, i)
        };
        PairAt { start, field, value: field + fl, end: field + fl + vl }
    }

    fn pairs(&self) -> impl Iterator<Item = PairAt> + '_ {
        let mut off = 0;
        std::iter::from_fn(move || {
            (off < self.buf.len()).then(|| {
                let p = self.pair(off);
                off = p.end;
                p
            })
        })
    }

    fn find(&self, field: &[u8]) -> Option<PairAt> {
        self.pairs().find(|p| &self.buf[p.field..p.value] == field)
    }

    #[inline]
    fn split(&self, p: PairAt) -> (&[u8], &[u8]) {
        (&self.buf[p.field..p.value], &self.buf[p.value..p.end])
    }

    pub fn iter(&self) -> PairIter<'_> {
        PairIter { pack: self, off: 0 }
    }

    /// Sets `field`; true if it is new (appended at the end, as Redis does).
    fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        let mut enc = Vec::with_capacity(field.len() + value.len() + 3);
        put_pair(&mut enc, field, value);
        let (start, end, new) = match self.find(field) {
            Some(p) if &self.buf[p.value..p.end] == value => return false,
            Some(p) => (p.start, p.end, false),
            None => (self.buf.len(), self.buf.len(), true),
        };
        self.buf = splice_exact(std::mem::take(&mut self.buf), start, end, &enc);
        self.n += new as u32;
        new
    }

    /// Updates `field` in place if present (true), else leaves the pack alone (false).
    fn update(&mut self, field: &[u8], value: &[u8]) -> bool {
        let Some(p) = self.find(field) else { return false };
        if &self.buf[p.value..p.end] != value {
            let mut enc = Vec::with_capacity(field.len() + value.len() + 3);
            put_pair(&mut enc, field, value);
            self.buf = splice_exact(std::mem::take(&mut self.buf), p.start, p.end, &enc);
        }
        true
    }

    /// Appends pairs whose fields are absent, with one reallocation.
    fn append(&mut self, pairs: &[(&[u8], &[u8])]) {
        if pairs.is_empty() {
            return;
        }
        // Encoded straight into the grown block: a temporary encoding buffer freed after the
        // block's allocation would leave a hole of the same size in the heap per command.
        let grow: usize = pairs.iter().map(|(f, v)| pair_len(f.len(), v.len())).sum();
        let mut v = std::mem::take(&mut self.buf).into_vec();
        v.reserve_exact(grow);
        for (f, x) in pairs {
            put_pair(&mut v, f, x);
        }
        debug_assert_eq!(v.len(), v.capacity());
        self.buf = v.into_boxed_slice();
        self.n += pairs.len() as u32;
    }

    fn remove(&mut self, field: &[u8]) -> bool {
        match self.find(field) {
            Some(p) => {
                self.buf = splice_exact(std::mem::take(&mut self.buf), p.start, p.end, &[]);
                self.n -= 1;
                true
            }
            None => false,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Hash
// ---------------------------------------------------------------------------------------------

pub type Table = IndexMap<SmallBytes, SmallBytes, ahash::RandomState>;

/// Replaces a table value, in place when the length is unchanged.
fn set_value(v: &mut SmallBytes, value: &[u8]) {
    if !v.overwrite(value) {
        *v = SmallBytes::new(value);
    }
}

/// `hash-max-listpack-entries` and `hash-max-listpack-value`.
#[derive(Clone, Copy, Debug)]
pub struct HashLimits {
    pub entries: usize,
    pub value: usize,
}

impl Default for HashLimits {
    fn default() -> Self {
        HashLimits { entries: 512, value: 64 }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Hash {
    Pack(PairPack),
    Table(Box<Table>),
}

impl Default for Hash {
    fn default() -> Self {
        Hash::Pack(PairPack::default())
    }
}

impl Hash {
    pub fn new() -> Hash {
        Hash::default()
    }

    pub fn len(&self) -> usize {
        match self {
            Hash::Pack(p) => p.len(),
            Hash::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of the listpack's buffer (exact), or None for the table encoding.
    pub fn compact_bytes(&self) -> Option<usize> {
        match self {
            Hash::Pack(p) => Some(p.heap_size()),
            Hash::Table(_) => None,
        }
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Hash::Pack(_) => "listpack",
            Hash::Table(_) => "hashtable",
        }
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self {
            Hash::Pack(p) => p.find(field).map(|at| p.split(at).1),
            Hash::Table(t) => t.get(field).map(|v| &**v),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        match self {
            Hash::Pack(p) => p.find(field).is_some(),
            Hash::Table(t) => t.contains_key(field),
        }
    }

    /// Converts to the table encoding (never back).
    pub fn convert(&mut self) {
        if let Hash::Pack(p) = self {
            let mut t = Table::with_capacity_and_hasher(p.len(), ahash::RandomState::new());
            for (f, v) in p.iter() {
                t.insert(f.into(), v.into());
            }
            *self = Hash::Table(Box::new(t));
        }
    }

    /// Converts when any of `items` is longer than the listpack value limit (Redis checks a
    /// command's field and value arguments before it writes any of them).
    pub fn convert_for(&mut self, items: &[&[u8]], lim: HashLimits) {
        if matches!(self, Hash::Pack(_)) && items.iter().any(|x| x.len() > lim.value) {
            self.convert();
        }
    }

    /// Sets `field` to `value`; true if the field is new. Converts to a table when the field
    /// or value is too long for the listpack or the hash outgrows its entry limit.
    pub fn set(&mut self, field: &[u8], value: &[u8], lim: HashLimits) -> bool {
        self.convert_for(&[field, value], lim);
        match self {
            Hash::Pack(p) => {
                let new = p.set(field, value);
                if p.len() > lim.entries {
                    self.convert();
                }
                new
            }
            // A short field is built inline (no allocation), so one probe finds or inserts it;
            // a long one is looked up before it is copied to the heap. Values are rewritten in
            // place when the length is unchanged.
            Hash::Table(t) if field.len() <= INLINE_MAX => match t.entry(SmallBytes::new(field)) {
                indexmap::map::Entry::Occupied(mut e) => {
                    set_value(e.get_mut(), value);
                    false
                }
                indexmap::map::Entry::Vacant(e) => {
                    e.insert(SmallBytes::new(value));
                    true
                }
            },
            Hash::Table(t) => match t.get_mut(field) {
                Some(v) => {
                    set_value(v, value);
                    false
                }
                None => {
                    t.insert(SmallBytes::new(field), SmallBytes::new(value));
                    true
                }
            },
        }
    }

    /// `HSET`'s field/value arguments (`items`, alternating): converts first if any is too long
    /// for the listpack, then sets each in order; returns how many fields were new. New fields
    /// of a listpack are appended with one reallocation for the whole command rather than one
    /// each (same result: the fields go to the end in argument order, a repeated field keeps
    /// its first position and its last value).
    pub fn set_pairs(&mut self, items: &[&[u8]], lim: HashLimits) -> usize {
        self.convert_for(items, lim);
        let mut added = 0;
        let mut i = 0;
        if let Hash::Pack(p) = self {
            let mut fresh: Vec<(&[u8], &[u8])> = Vec::new();
            while i + 1 < items.len() && p.len() + fresh.len() <= lim.entries {
                let (f, v) = (items[i], items[i + 1]);
                i += 2;
                if let Some(slot) = fresh.iter_mut().find(|(g, _)| *g == f) {
                    slot.1 = v;
                } else if !p.update(f, v) {
                    fresh.push((f, v));
                }
            }
            added = fresh.len();
            p.append(&fresh);
            if p.len() > lim.entries {
                self.convert();
            }
        }
        while i + 1 < items.len() {
            added += self.set(items[i], items[i + 1], lim) as usize;
            i += 2;
        }
        added
    }

    /// Removes `field`; true if it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Pack(p) => p.remove(field),
            Hash::Table(t) => t.swap_remove(field).is_some(),
        }
    }

    /// Every (field, value), in Redis's order for the listpack (insertion order).
    pub fn iter(&self) -> HashIter<'_> {
        match self {
            Hash::Pack(p) => HashIter::Pack(p.iter()),
            Hash::Table(t) => HashIter::Table(t.iter()),
        }
    }

    /// The pair at position `i` (< len): O(1) for tables, O(i) for the listpack.
    pub fn nth(&self, i: usize) -> (&[u8], &[u8]) {
        match self {
            Hash::Pack(p) => p.iter().nth(i).expect("index in range"),
            Hash::Table(t) => {
                let (f, v) = t.get_index(i).expect("index in range");
                (f, v)
            }
        }
    }

    /// One HSCAN step from `cursor`, calling `f` for each pair visited. Small hashes are
    /// returned whole with cursor 0 (as Redis does for listpacks); tables visit about `count`
    /// positions from the end of the dense vector down. Returns the next cursor (0 = done).
    pub fn scan<'a>(&'a self, cursor: u64, count: usize, mut f: impl FnMut(&'a [u8], &'a [u8])) -> u64 {
        match self {
            Hash::Pack(_) => {
                for (k, v) in self.iter() {
                    f(k, v);
                }
                0
            }
            Hash::Table(t) => {
                let (n, next) = scan_positions(t.len(), cursor, count);
                for i in n {
                    let (k, v) = t.get_index(i).expect("in range");
                    f(k, v);
                }
                next
            }
        }
    }
}

/// The positions a table SCAN step visits and the cursor after it. A cursor `c > 0` means
/// "positions below `c` are still to visit"; 0 starts at the top. Positions are visited from
/// the highest down, so swap-removal (which moves the last element into a hole) never carries
/// an unvisited element into the visited range.
pub fn scan_positions(len: usize, cursor: u64, count: usize) -> (std::ops::Range<usize>, u64) {
    let top = if cursor == 0 { len } else { (cursor.min(len as u64)) as usize };
    let low = top.saturating_sub(count.max(1));
    (low..top, low as u64)
}

/// The (field, value) pairs of a [`PairPack`], in order.
pub struct PairIter<'a> {
    pack: &'a PairPack,
    off: usize,
}

impl<'a> Iterator for PairIter<'a> {
    type Item = (&'a [u8], &'a [u8]);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.off >= self.pack.buf.len() {
            return None;
        }
        let p = self.pack.pair(self.off);
        self.off = p.end;
        Some(self.pack.split(p))
    }
}

pub enum HashIter<'a> {
    Pack(PairIter<'a>),
    Table(indexmap::map::Iter<'a, SmallBytes, SmallBytes>),
}

impl<'a> Iterator for HashIter<'a> {
    type Item = (&'a [u8], &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            HashIter::Pack(it) => it.next(),
            HashIter::Table(it) => it.next().map(|(k, v)| (&**k, &**v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_fields_and_values_short_and_long() {
        let lim = HashLimits { entries: 0, value: 64 };
        let mut h = Hash::new();
        let long_field = vec![b'f'; INLINE_MAX + 1];
        let long_value = vec![b'v'; 100];
        assert!(h.set(b"a", b"1", lim), "new short field");
        assert_eq!(h.encoding(), "hashtable");
        assert!(h.set(&long_field, b"2", lim), "new long field");
        assert!(!h.set(b"a", b"9", lim), "same length: rewritten in place");
        assert!(!h.set(b"a", &long_value, lim), "longer value: replaced");
        assert!(!h.set(&long_field, b"22", lim), "long field found, value replaced");
        assert_eq!(h.get(b"a"), Some(&long_value[..]));
        assert_eq!(h.get(&long_field), Some(&b"22"[..]));
        assert!(!h.set(b"a", b"", lim));
        assert_eq!(h.get(b"a"), Some(&b""[..]));
        assert_eq!(h.len(), 2);
        assert!(h.remove(&long_field));
        assert!(!h.contains(&long_field));
        assert_eq!(h.len(), 1);
    }

    #[test]
    fn pack_push_find_remove_replace() {
        let mut p = Pack::new();
        assert!(p.is_empty());
        assert_eq!(p.heap_size(), 0);
        let long = vec![b'x'; 300];
        for x in [&b"a"[..], b"", &long, b"\xff\x00"] {
            p.push(x);
        }
        assert_eq!(p.len(), 4);
        let items: Vec<&[u8]> = p.iter().map(|(_, e)| e).collect();
        assert_eq!(items, vec![&b"a"[..], b"", &long[..], b"\xff\x00"]);
        let off = p.find(&long, 1).unwrap();
        p.replace(off, b"short");
        assert_eq!(p.at(off).0, b"short");
        assert_eq!(p.find(b"\xff\x00", 2), None, "stride 2 skips odd positions");
        assert!(p.find(b"\xff\x00", 1).is_some());
        p.remove(p.offset_of(1), 2);
        let items: Vec<&[u8]> = p.iter().map(|(_, e)| e).collect();
        assert_eq!(items, vec![&b"a"[..], b"\xff\x00"]);
        p.remove(p.offset_of(0), 2);
        assert!(p.is_empty());
        assert_eq!(p.heap_size(), 0, "an emptied pack frees its buffer");
    }

    #[test]
    fn pack_is_compact() {
        let mut p = Pack::new();
        for i in 0..10 {
            p.push(format!("field{i}").as_bytes());
            p.push(format!("v{i}").as_bytes());
        }
        // One length byte per string, nothing else.
        let data: usize = (0..10).map(|i| format!("field{i}").len() + format!("v{i}").len() + 2).sum();
        assert_eq!(p.heap_size(), data);
    }

    #[test]
    fn pair_pack_headers_round_trip_at_every_boundary() {
        let lens = [0usize, 1, 14, 15, 16, 58, 59, 64, 65, 127, 128, 300];
        let mut want: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut p = PairPack::default();
        for (i, &fl) in lens.iter().enumerate() {
            for (j, &vl) in lens.iter().enumerate() {
                // Distinct fields: a prefix byte pair, then filler up to the length.
                let mut f = vec![b'f'; fl];
                if fl >= 2 {
                    f[0] = i as u8;
                    f[1] = j as u8;
                }
                if fl < 2 && want.iter().any(|(g, _)| *g == f) {
                    continue;
                }
                let v = vec![(i * 13 + j) as u8; vl];
                assert!(p.set(&f, &v));
                want.push((f, v));
            }
        }
        let got: Vec<(Vec<u8>, Vec<u8>)> = p.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
        assert_eq!(got, want);
        assert_eq!(p.len(), want.len());
        let framing = |fl: usize, vl: usize| {
            if fl <= 14 && vl <= 15 {
                1
            } else if fl <= 58 && vl <= 64 {
                2
            } else {
                1 + varint_len(fl) + varint_len(vl)
            }
        };
        let size: usize = want.iter().map(|(f, v)| framing(f.len(), v.len()) + f.len() + v.len()).sum();
        assert_eq!(p.heap_size(), size, "exactly sized, no slack");
        // Updates that change the header's form keep the order; removals shrink exactly.
        let (f0, _) = want[0].clone();
        assert!(!p.set(&f0, &[b'x'; 200]));
        assert_eq!(p.iter().next().unwrap(), (&f0[..], &[b'x'; 200][..]));
        assert!(!p.set(&f0, b"y"));
        assert_eq!(p.heap_size(), size - framing(f0.len(), want[0].1.len()) - want[0].1.len() + 2);
        for (f, _) in &want {
            assert!(p.remove(f));
            assert!(!p.remove(f));
        }
        assert!(p.is_empty());
        assert_eq!(p.heap_size(), 0, "an emptied pack frees its buffer");
    }

    #[test]
    fn hash_listpack_keeps_insertion_order_and_updates_in_place() {
        let lim = HashLimits::default();
        let mut h = Hash::new();
        assert!(h.set(b"b", b"1", lim));
        assert!(h.set(b"a", b"2", lim));
        assert!(!h.set(b"b", b"3", lim));
        // A value equal to a field name is not a field.
        assert!(h.set(b"c", b"a", lim));
        assert!(!h.contains(b"3"));
        assert_eq!(h.get(b"b"), Some(&b"3"[..]));
        let pairs: Vec<_> = h.iter().collect();
        assert_eq!(pairs, vec![(&b"b"[..], &b"3"[..]), (b"a", b"2"), (b"c", b"a")]);
        assert_eq!(h.nth(1), (&b"a"[..], &b"2"[..]));
        assert_eq!(h.encoding(), "listpack");
        assert!(h.remove(b"a"));
        assert!(!h.remove(b"a"));
        assert_eq!(h.len(), 2);
    }

    #[test]
    fn set_pairs_matches_one_at_a_time() {
        let mut rng_state = 12345u64;
        let mut next = move |n: u64| {
            rng_state = rng_state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (rng_state >> 33) % n
        };
        for round in 0..300 {
            let lim = HashLimits { entries: 1 + next(12) as usize, value: 4 + next(8) as usize };
            let (mut a, mut b) = (Hash::new(), Hash::new());
            for _ in 0..4 {
                let items: Vec<Vec<u8>> = (0..2 * (1 + next(8)))
                    .map(|_| {
                        let len = 1 + next(if round % 3 == 0 { 12 } else { 3 }) as usize;
                        vec![b'a' + next(6) as u8; len]
                    })
                    .collect();
                let refs: Vec<&[u8]> = items.iter().map(|x| &x[..]).collect();
                let added_a = a.set_pairs(&refs, lim);
                b.convert_for(&refs, lim);
                let added_b = refs.chunks(2).filter(|c| b.set(c[0], c[1], lim)).count();
                assert_eq!(added_a, added_b);
                assert_eq!(a.encoding(), b.encoding());
                assert_eq!(a.iter().collect::<Vec<_>>(), b.iter().collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn hash_converts_on_entries_and_value_length_and_never_back() {
        let lim = HashLimits { entries: 3, value: 8 };
        let mut h = Hash::new();
        for f in [&b"a"[..], b"b", b"c"] {
            h.set(f, b"v", lim);
        }
        assert_eq!(h.encoding(), "listpack");
        h.set(b"d", b"v", lim);
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.len(), 4);
        h.remove(b"d");
        h.remove(b"c");
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.get(b"a"), Some(&b"v"[..]));

        let mut h = Hash::new();
        h.set(b"a", b"12345678", lim);
        assert_eq!(h.encoding(), "listpack");
        h.set(b"a", b"123456789", lim);
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.get(b"a"), Some(&b"123456789"[..]));

        let mut h = Hash::new();
        h.set(b"a", b"1", lim);
        h.convert_for(&[b"a", b"123456789"], lim);
        assert_eq!(h.encoding(), "hashtable");
    }

    #[test]
    fn table_scan_visits_everything_present_throughout() {
        let lim = HashLimits { entries: 0, value: 64 };
        let mut h = Hash::new();
        for i in 0..100 {
            h.set(format!("f{i}").as_bytes(), b"v", lim);
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        let mut round = 0;
        loop {
            cursor = h.scan(cursor, 7, |k, _| {
                seen.insert(k.to_vec());
            });
            // Churn between calls: delete some fields and add new ones.
            round += 1;
            h.remove(format!("f{}", 90 + round % 10).as_bytes());
            h.set(format!("new{round}").as_bytes(), b"v", lim);
            if cursor == 0 {
                break;
            }
        }
        for i in 0..90 {
            assert!(seen.contains(format!("f{i}").as_bytes()), "f{i} missed");
        }
    }

    #[test]
    fn scan_positions_walk_down() {
        assert_eq!(scan_positions(10, 0, 4), (6..10, 6));
        assert_eq!(scan_positions(10, 6, 4), (2..6, 2));
        assert_eq!(scan_positions(10, 2, 4), (0..2, 0));
        // A cursor beyond a shrunken table restarts at its top.
        assert_eq!(scan_positions(3, 50, 10), (0..3, 0));
    }
}
