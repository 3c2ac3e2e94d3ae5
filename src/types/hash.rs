//! The hash type's data structure (pure, no I/O), and [`Pack`], the compact byte-string list
//! shared with the set type.
//!
//! Encodings, as Redis 7.2 reports them in `OBJECT ENCODING`:
//! - `listpack` ([`Hash::Pack`]): fields and values alternate in one [`Pack`], in insertion
//!   order; updates keep a field's position. Used while the hash has at most
//!   `hash-max-listpack-entries` fields and no field or value longer than
//!   `hash-max-listpack-value` bytes.
//! - `hashtable` ([`Hash::Table`]): an `IndexMap` (hash index over a dense vector). Once
//!   converted a hash never goes back, as in Redis.
//!
//! Why one contiguous buffer for small hashes: a Vec of boxed pairs costs two heap blocks per
//! field plus 32 bytes of pointers, i.e. several hundred bytes for ten small fields, while the
//! packed form costs one block holding 1 length byte per string plus the bytes themselves —
//! less than Redis's listpack (2 bytes of overhead per string). Lookups are a linear scan over
//! at most a few hundred short strings in one cache-friendly block, which is what Redis does too.
//!
//! The table's dense vector gives O(1) random picks (HRANDFIELD) and an HSCAN cursor with
//! Redis's guarantee: the cursor walks positions from the end towards the start, and a removal
//! only moves the last element into the hole (so an element present for the whole scan is
//! never moved from an unvisited position to a visited one).

use indexmap::IndexMap;

// ---------------------------------------------------------------------------------------------
// Pack: a compact list of byte strings in one buffer
// ---------------------------------------------------------------------------------------------

/// A list of byte strings in one heap block: a 4-byte little-endian entry count, then each
/// entry as a LEB128 length followed by its bytes. The buffer is sized exactly (each change
/// reallocates, as Redis's listpack does), so a small collection costs one allocation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pack {
    buf: Vec<u8>,
}

const HEADER: usize = 4;

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

impl Pack {
    pub fn new() -> Pack {
        Pack { buf: Vec::new() }
    }

    pub fn len(&self) -> usize {
        if self.buf.is_empty() {
            0
        } else {
            u32::from_le_bytes(self.buf[..HEADER].try_into().unwrap()) as usize
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn set_len(&mut self, n: usize) {
        if self.buf.is_empty() {
            self.buf.extend_from_slice(&[0; HEADER]);
        }
        self.buf[..HEADER].copy_from_slice(&(n as u32).to_le_bytes());
    }

    /// Heap bytes used.
    pub fn heap_size(&self) -> usize {
        self.buf.capacity()
    }

    /// The entry starting at byte offset `off`: (data start, data end). `off` must be an entry
    /// boundary produced by this pack.
    #[inline]
    fn entry(&self, off: usize) -> (usize, usize) {
        let mut n = 0usize;
        let mut shift = 0;
        let mut i = off;
        loop {
            let b = self.buf[i];
            n |= ((b & 0x7f) as usize) << shift;
            i += 1;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        (i, i + n)
    }

    /// Entries with their byte offsets.
    pub fn iter(&self) -> PackIter<'_> {
        PackIter { pack: self, off: HEADER.min(self.buf.len()) }
    }

    /// Byte offset of the first entry at an index that is a multiple of `stride` and equals
    /// `x` (stride 2: hash fields, never values).
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
        let n = self.len();
        self.set_len(n + 1);
        self.buf.reserve_exact(varint_len(x.len()) + x.len());
        put_varint(&mut self.buf, x.len());
        self.buf.extend_from_slice(x);
    }

    /// Removes `count` consecutive entries starting at byte offset `off`.
    pub fn remove(&mut self, off: usize, count: usize) {
        let mut end = off;
        for _ in 0..count {
            end = self.entry(end).1;
        }
        self.buf.drain(off..end);
        let n = self.len() - count;
        if n == 0 {
            self.buf = Vec::new();
        } else {
            self.set_len(n);
            self.buf.shrink_to_fit();
        }
    }

    /// Replaces the entry at byte offset `off` with `x`.
    pub fn replace(&mut self, off: usize, x: &[u8]) {
        let (_, end) = self.entry(off);
        let mut enc = Vec::with_capacity(varint_len(x.len()) + x.len());
        put_varint(&mut enc, x.len());
        enc.extend_from_slice(x);
        self.buf.splice(off..end, enc);
        self.buf.shrink_to_fit();
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
// Hash
// ---------------------------------------------------------------------------------------------

pub type Table = IndexMap<Box<[u8]>, Box<[u8]>, ahash::RandomState>;

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
    Pack(Pack),
    Table(Box<Table>),
}

impl Default for Hash {
    fn default() -> Self {
        Hash::Pack(Pack::new())
    }
}

impl Hash {
    pub fn new() -> Hash {
        Hash::default()
    }

    pub fn len(&self) -> usize {
        match self {
            Hash::Pack(p) => p.len() / 2,
            Hash::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Hash::Pack(_) => "listpack",
            Hash::Table(_) => "hashtable",
        }
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self {
            Hash::Pack(p) => p.find(field, 2).map(|off| {
                let (_, next) = p.at(off);
                p.at(next).0
            }),
            Hash::Table(t) => t.get(field).map(|v| &**v),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        match self {
            Hash::Pack(p) => p.find(field, 2).is_some(),
            Hash::Table(t) => t.contains_key(field),
        }
    }

    /// Converts to the table encoding (never back).
    pub fn convert(&mut self) {
        if let Hash::Pack(p) = self {
            let mut t = Table::with_capacity_and_hasher(p.len() / 2, ahash::RandomState::new());
            let mut it = p.iter();
            while let (Some((_, f)), Some((_, v))) = (it.next(), it.next()) {
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
                if let Some(off) = p.find(field, 2) {
                    let (_, next) = p.at(off);
                    p.replace(next, value);
                    return false;
                }
                p.push(field);
                p.push(value);
                if p.len() / 2 > lim.entries {
                    self.convert();
                }
                true
            }
            Hash::Table(t) => {
                if let Some(v) = t.get_mut(field) {
                    *v = value.into();
                    false
                } else {
                    t.insert(field.into(), value.into());
                    true
                }
            }
        }
    }

    /// Removes `field`; true if it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Pack(p) => match p.find(field, 2) {
                Some(off) => {
                    p.remove(off, 2);
                    true
                }
                None => false,
            },
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
            Hash::Pack(p) => {
                let off = p.offset_of(2 * i);
                let (f, next) = p.at(off);
                (f, p.at(next).0)
            }
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

pub enum HashIter<'a> {
    Pack(PackIter<'a>),
    Table(indexmap::map::Iter<'a, Box<[u8]>, Box<[u8]>>),
}

impl<'a> Iterator for HashIter<'a> {
    type Item = (&'a [u8], &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            HashIter::Pack(it) => {
                let (_, f) = it.next()?;
                let (_, v) = it.next()?;
                Some((f, v))
            }
            HashIter::Table(it) => it.next().map(|(k, v)| (&**k, &**v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        // 4-byte header, then one length byte per string.
        let data: usize = (0..10).map(|i| format!("field{i}").len() + format!("v{i}").len() + 2).sum();
        assert_eq!(p.heap_size(), HEADER + data);
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
