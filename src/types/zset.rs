//! The sorted-set value: members ordered by (score, member bytes), with Redis's two encodings.
//!
//! - [`Pack`] (`OBJECT ENCODING` = `listpack`): one exact-sized byte buffer holding the entries
//!   in order. Each entry is a varint header (`member_len * 2 + not_integer`), the member bytes,
//!   and the score: a zigzag varint when the score is an integer of magnitude ≤ 2^53 (and not
//!   -0); otherwise a varint for a short decimal `m / 10^e` (e in 1..=15) that converts back
//!   to exactly the same `f64` — `zigzag(m) << 2 | e` for e ≤ 2, `zigzag(m) << 6 | e << 2 | 3`
//!   above — so scores such as `7.5`, `75.5` or `0.25` take 2 bytes where Redis's listpack
//!   stores their text; and `0` followed by the 8 bytes of the `f64` for every other score. Small sets of short members cost a few bytes per entry plus one
//!   allocation, less than Redis's listpack. Operations decode the buffer linearly; that is
//!   what Redis does too, and the buffer is bounded by `zset-max-listpack-entries` ×
//!   `zset-max-listpack-value`. Every change reallocates the buffer to its exact new size (as
//!   Redis reallocs a listpack): no growth slack, and no freed tails left behind in the heap.
//! - [`Big`] (`skiplist`): each member stored once, in a slab of nodes (member bytes inline
//!   when short, and score; freed slots are reused, and the slab is rebuilt densely when most
//!   of it is vacant); a hash table of node indices for O(1) `ZSCORE`; and an ordered
//!   "chunked list": sorted chunks of at most [`CHUNK`] `(score, node index)` pairs, with a
//!   Fenwick tree over the chunk sizes. The order compares scores in place and reads a node's
//!   member only to break a tie.
//!
//! Why the chunked list rather than a skiplist with spans: it has the same O(log n) bounds for
//! what Redis needs (find by (score, member): binary search over chunk tails then inside one
//! chunk; rank ↔ position: a Fenwick prefix sum / descent over chunk sizes; insert and delete:
//! a bounded memmove inside one chunk plus a Fenwick update, with an O(n / CHUNK) rebuild only
//! when a chunk splits or disappears, i.e. amortised O(1) extra per operation), while using
//! 16 bytes per element instead of a skiplist node's ~50 bytes of pointers and spans, is
//! cache-friendly for range scans, and needs no `unsafe`. Range deletions drain whole chunk
//! slices at once. Indices rather than pointers let the map and the order share one copy of
//! each member without reference counts.
//!
//! Lexicographic ranges assume, as Redis documents, that all members share one score. For the
//! `Pack` encoding the lex interval is found like Redis's listpack scan (first entry ≥ min from
//! the head, then forward while ≤ max), so even mixed-score sets answer as Redis does there.

use hashbrown::HashTable;
use std::cmp::Ordering;

use crate::types::small::SmallBytes;

use super::hash::splice_exact;

/// Maximum entries per chunk of the `Big` encoding.
pub const CHUNK: usize = 256;

/// Nodes of a range read ahead of the entries (see `Big::range`).
const PREFETCH: usize = 64;

/// The encoding thresholds (`zset-max-listpack-entries`, `zset-max-listpack-value`).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_entries: usize,
    pub max_value: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_entries: 128, max_value: 64 }
    }
}

/// Order of two (score, member) pairs. Scores are never NaN.
#[inline]
pub fn cmp_entry(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> Ordering {
    s1.partial_cmp(&s2).unwrap_or(Ordering::Equal).then_with(|| m1.cmp(m2))
}

/// A score interval (`ZRANGEBYSCORE` syntax: `(` makes a bound exclusive).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreRange {
    pub min: f64,
    pub minex: bool,
    pub max: f64,
    pub maxex: bool,
}

impl ScoreRange {
    /// `s` is at or above the lower bound.
    pub fn gte_min(&self, s: f64) -> bool {
        if self.minex {
            s > self.min
        } else {
            s >= self.min
        }
    }
    /// `s` is at or below the upper bound.
    pub fn lte_max(&self, s: f64) -> bool {
        if self.maxex {
            s < self.max
        } else {
            s <= self.max
        }
    }
}

/// One end of a lexicographic range (`-`, `+`, `[x`, `(x`).
#[derive(Clone, Debug, PartialEq)]
pub enum LexBound {
    NegInf,
    PosInf,
    Incl(Vec<u8>),
    Excl(Vec<u8>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct LexRange {
    pub min: LexBound,
    pub max: LexBound,
}

impl LexRange {
    pub fn gte_min(&self, m: &[u8]) -> bool {
        match &self.min {
            LexBound::NegInf => true,
            LexBound::PosInf => false,
            LexBound::Incl(x) => m >= x.as_slice(),
            LexBound::Excl(x) => m > x.as_slice(),
        }
    }
    pub fn lte_max(&self, m: &[u8]) -> bool {
        match &self.max {
            LexBound::NegInf => false,
            LexBound::PosInf => true,
            LexBound::Incl(x) => m <= x.as_slice(),
            LexBound::Excl(x) => m < x.as_slice(),
        }
    }

    /// Whether no member can lie in the range: the minimum above the maximum, or equal to it
    /// with either end exclusive (Redis's `zslIsInLexRange` test; `-` sorts first, `+` last).
    pub fn is_empty(&self) -> bool {
        fn key(b: &LexBound) -> (u8, &[u8]) {
            match b {
                LexBound::NegInf => (0, &[]),
                LexBound::Incl(x) | LexBound::Excl(x) => (1, x.as_slice()),
                LexBound::PosInf => (2, &[]),
            }
        }
        let excl = matches!(self.min, LexBound::Excl(_)) || matches!(self.max, LexBound::Excl(_));
        match key(&self.min).cmp(&key(&self.max)) {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Equal => excl,
            std::cmp::Ordering::Less => false,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Pack: the compact encoding
// ---------------------------------------------------------------------------------------------

/// Largest magnitude stored as an integer score (every integer up to 2^53 is exact in `f64`).
const INT_SCORE_MAX: f64 = 9_007_199_254_740_992.0;

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads a varint at `*pos`. The buffer is always one we wrote, so it is well formed.
fn get_varint(buf: &[u8], pos: &mut usize) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let b = buf[*pos];
        *pos += 1;
        v |= ((b & 0x7f) as u64) << shift;
        if b < 0x80 {
            return v;
        }
        shift += 7;
    }
}

/// Powers of ten exactly representable as `f64`, for the decimal score form.
const POW10: [f64; 16] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

#[inline]
fn zigzag(i: i64) -> u64 {
    ((i << 1) ^ (i >> 63)) as u64
}

#[inline]
fn unzigzag(z: u64) -> i64 {
    ((z >> 1) as i64) ^ -((z & 1) as i64)
}

/// A non-integral score as (m, e) with `m as f64 / 10^e == score` exactly, if a short one
/// exists. Both operands of that division are exact `f64` values (|m| ≤ 2^53, 10^e ≤ 10^15)
/// and IEEE division is correctly rounded, so decoding with the same division gives back the
/// very same bits: the check below is the whole proof of exactness.
fn decimal(score: f64) -> Option<(i64, u64)> {
    for (e, p) in POW10.iter().enumerate().skip(1) {
        let m = (score * p).round();
        if m.is_nan() || m.abs() > INT_SCORE_MAX {
            // Too large (or not finite): more digits will not help.
            return None;
        }
        if m / p == score {
            return Some((m as i64, e as u64));
        }
    }
    None
}

fn encode_entry(out: &mut Vec<u8>, member: &[u8], score: f64) {
    // -0 is stored as the integer 0: Redis's listpack does the same (its ZSCORE then says 0,
    // while the skiplist encoding keeps -0).
    let as_int = score.fract() == 0.0 && score.abs() <= INT_SCORE_MAX;
    put_varint(out, (member.len() as u64) * 2 + (!as_int) as u64);
    out.extend_from_slice(member);
    if as_int {
        put_varint(out, zigzag(score as i64));
    } else if let Some((m, e)) = decimal(score) {
        // One or two decimals (the usual case) spend 2 tag bits; more spend 6.
        put_varint(out, if e <= 2 { zigzag(m) << 2 | e } else { zigzag(m) << 6 | e << 2 | 3 });
    } else {
        out.push(0);
        out.extend_from_slice(&score.to_le_bytes());
    }
}

/// The compact encoding: entries in order in one exact-sized buffer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pack {
    buf: Box<[u8]>,
    len: u32,
}

/// An entry decoded from a `Pack`: member, score, and its byte span in the buffer.
struct Decoded<'a> {
    member: &'a [u8],
    score: f64,
    start: usize,
    end: usize,
}

struct PackIter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for PackIter<'a> {
    type Item = Decoded<'a>;
    fn next(&mut self) -> Option<Decoded<'a>> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let start = self.pos;
        let mut p = self.pos;
        let h = get_varint(self.buf, &mut p);
        let mlen = (h >> 1) as usize;
        let member = &self.buf[p..p + mlen];
        p += mlen;
        let z = get_varint(self.buf, &mut p);
        let score = if h & 1 == 0 {
            unzigzag(z) as f64
        } else if z & 3 == 3 {
            unzigzag(z >> 6) as f64 / POW10[((z >> 2) & 15) as usize]
        } else if z != 0 {
            unzigzag(z >> 2) as f64 / POW10[(z & 3) as usize]
        } else {
            let mut b = [0u8; 8];
            b.copy_from_slice(&self.buf[p..p + 8]);
            p += 8;
            f64::from_le_bytes(b)
        };
        self.pos = p;
        Some(Decoded { member, score, start, end: p })
    }
}

impl Pack {
    fn iter(&self) -> PackIter<'_> {
        PackIter { buf: &self.buf, pos: 0 }
    }

    pub fn len(&self) -> usize {
        self.len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes used by the buffer.
    pub fn bytes(&self) -> usize {
        self.buf.len()
    }

    fn find(&self, member: &[u8]) -> Option<(usize, Decoded<'_>)> {
        self.iter().enumerate().find(|(_, d)| d.member == member)
    }

    /// Replaces bytes `start..end` with `with`, reallocating the buffer to its exact new size.
    fn splice(&mut self, start: usize, end: usize, with: &[u8]) {
        self.buf = splice_exact(std::mem::take(&mut self.buf), start, end, with);
    }

    /// Inserts a member that is not present.
    fn insert_new(&mut self, member: &[u8], score: f64) {
        let at = self
            .iter()
            .find(|d| cmp_entry(d.score, d.member, score, member) == Ordering::Greater)
            .map_or(self.buf.len(), |d| d.start);
        let mut e = Vec::with_capacity(member.len() + 10);
        encode_entry(&mut e, member, score);
        self.splice(at, at, &e);
        self.len += 1;
    }

    fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let (_, d) = self.find(member)?;
        let (s, a, b) = (d.score, d.start, d.end);
        self.splice(a, b, &[]);
        self.len -= 1;
        Some(s)
    }

    /// Byte offset of entry `i` (the buffer's end for `i == len`).
    fn offset(&self, i: usize) -> usize {
        self.iter().nth(i).map_or(self.buf.len(), |d| d.start)
    }

    fn remove_range(&mut self, lo: usize, hi: usize) {
        let (a, b) = (self.offset(lo), self.offset(hi));
        self.splice(a, b, &[]);
        self.len -= (hi - lo) as u32;
    }

    /// Builds from entries already in order.
    fn from_sorted<'a>(items: impl Iterator<Item = (&'a [u8], f64)>) -> Pack {
        let mut buf = Vec::new();
        let mut len = 0;
        for (m, s) in items {
            encode_entry(&mut buf, m, s);
            len += 1;
        }
        Pack { buf: buf.into_boxed_slice(), len }
    }
}

// ---------------------------------------------------------------------------------------------
// Big: hash map + chunked sorted list with a Fenwick tree over chunk sizes
// ---------------------------------------------------------------------------------------------

/// A member of a `Big` set, stored once: its bytes (inline when short) and its score.
#[derive(Clone, Debug, Default)]
struct Node {
    member: SmallBytes,
    score: f64,
}

/// An entry of the order: the score (compared first, without touching the node) and the
/// member's node.
type Item = (f64, u32);

#[derive(Clone, Debug, Default)]
pub struct Big {
    /// Every member, once; vacant slots (listed in `free`) hold an empty member.
    nodes: Vec<Node>,
    free: Vec<u32>,
    /// Node indices, hashed by member: member -> node in O(1).
    dict: HashTable<u32>,
    hasher: ahash::RandomState,
    chunks: Vec<Vec<Item>>,
    /// Fenwick tree (1-based, stored 0-based) over `chunks[i].len()`.
    fen: Vec<usize>,
}

impl PartialEq for Big {
    fn eq(&self, other: &Self) -> bool {
        self.dict.len() == other.dict.len() && self.iter().eq(other.iter())
    }
}

impl Big {
    /// A set of `items`, given in order (score, then member) with distinct members.
    fn from_sorted(items: impl Iterator<Item = (SmallBytes, f64)>) -> Big {
        let mut big = Big::default();
        let (lo, _) = items.size_hint();
        big.nodes.reserve_exact(lo);
        for (member, score) in items {
            let i = u32::try_from(big.nodes.len()).expect("a sorted set holds under 2^32 members");
            let h = big.hasher.hash_one(member.as_bytes());
            big.nodes.push(Node { member, score });
            let Big { dict, nodes, hasher, .. } = &mut big;
            dict.insert_unique(h, i, |&j| hasher.hash_one(nodes[j as usize].member.as_bytes()));
            if big.chunks.last().is_none_or(|c| c.len() >= CHUNK / 2) {
                big.chunks.push(Vec::with_capacity(CHUNK / 2));
            }
            big.chunks.last_mut().expect("pushed").push((score, i));
        }
        big.rebuild();
        big
    }

    fn rebuild(&mut self) {
        let n = self.chunks.len();
        self.fen = self.chunks.iter().map(|c| c.len()).collect();
        for i in 0..n {
            let j = i | (i + 1);
            if j < n {
                self.fen[j] += self.fen[i];
            }
        }
    }

    fn fen_add(&mut self, mut i: usize, delta: isize) {
        while i < self.fen.len() {
            self.fen[i] = (self.fen[i] as isize + delta) as usize;
            i |= i + 1;
        }
    }

    /// Number of entries in chunks `0..i`.
    fn prefix(&self, i: usize) -> usize {
        let mut sum = 0;
        let mut i = i;
        while i > 0 {
            sum += self.fen[i - 1];
            i &= i - 1;
        }
        sum
    }

    /// The chunk holding rank `r` and the offset inside it (`r < len`).
    fn locate(&self, r: usize) -> (usize, usize) {
        let n = self.fen.len();
        let mut pos = 0;
        let mut rem = r;
        let mut step = n.next_power_of_two();
        while step > 0 {
            let next = pos + step;
            if next <= n && self.fen[next - 1] <= rem {
                pos = next;
                rem -= self.fen[next - 1];
            }
            step >>= 1;
        }
        (pos, rem)
    }

    pub fn len(&self) -> usize {
        self.dict.len()
    }

    pub fn is_empty(&self) -> bool {
        self.dict.is_empty()
    }

    fn member(&self, i: u32) -> &[u8] {
        self.nodes[i as usize].member.as_bytes()
    }

    /// The node holding `member`.
    fn find(&self, member: &[u8]) -> Option<u32> {
        let h = self.hasher.hash_one(member);
        self.dict.find(h, |&i| self.member(i) == member).copied()
    }

    fn score(&self, member: &[u8]) -> Option<f64> {
        self.find(member).map(|i| self.nodes[i as usize].score)
    }

    /// First rank whose entry fails `pred`, assuming `pred` holds for a prefix of the order.
    /// With `score_only` the predicate is given an empty member: a search by score then never
    /// reads a node (each probe would be a cache miss).
    fn partition(&self, score_only: bool, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        let holds = |&(s, i): &Item| pred(s, if score_only { &[] } else { self.member(i) });
        let c = self.chunks.partition_point(|ch| holds(ch.last().expect("chunks are never empty")));
        if c == self.chunks.len() {
            return self.len();
        }
        self.prefix(c) + self.chunks[c].partition_point(holds)
    }

    /// Chunk and offset of (score, member), or where it would be inserted. Members are only
    /// read for entries with an equal score.
    fn position(&self, score: f64, member: &[u8]) -> (usize, usize) {
        let lt = |&(s, i): &Item| match s.partial_cmp(&score).unwrap_or(Ordering::Equal) {
            Ordering::Less => true,
            Ordering::Greater => false,
            Ordering::Equal => self.member(i) < member,
        };
        let c = self.chunks.partition_point(|ch| lt(ch.last().expect("chunks are never empty")));
        if c == self.chunks.len() {
            return match self.chunks.len() {
                0 => (0, 0),
                n => (n - 1, self.chunks[n - 1].len()),
            };
        }
        (c, self.chunks[c].partition_point(lt))
    }

    fn insert_sorted(&mut self, score: f64, node: u32) {
        if self.chunks.is_empty() {
            self.chunks.push(vec![(score, node)]);
            self.fen = vec![1];
            return;
        }
        let (c, o) = self.position(score, self.member(node));
        self.chunks[c].insert(o, (score, node));
        if self.chunks[c].len() > CHUNK {
            let tail = self.chunks[c].split_off(CHUNK / 2);
            // The head keeps the capacity it grew to (twice what it now holds): give the slack
            // back, or chunks filled in order (ascending scores) would stay half empty.
            self.chunks[c].shrink_to_fit();
            self.chunks.insert(c + 1, tail);
            self.rebuild();
        } else {
            self.fen_add(c, 1);
        }
    }

    /// Takes (score, member) out of the order; the member's node is still in place.
    fn remove_sorted(&mut self, score: f64, member: &[u8]) {
        let (c, o) = self.position(score, member);
        self.chunks[c].remove(o);
        let len = self.chunks[c].len();
        if len == 0 {
            self.chunks.remove(c);
            self.rebuild();
        } else if len < CHUNK / 8 && c + 1 < self.chunks.len() && len + self.chunks[c + 1].len() <= CHUNK {
            // Merge small neighbours so heavy deletion does not leave many tiny chunks.
            let next = self.chunks.remove(c + 1);
            self.chunks[c].extend(next);
            self.rebuild();
        } else {
            self.fen_add(c, -1);
        }
    }

    /// Adds or updates; true if the member is new.
    fn insert(&mut self, member: &[u8], score: f64) -> bool {
        let h = self.hasher.hash_one(member);
        if let Some(&i) = self.dict.find(h, |&i| self.member(i) == member) {
            let prev = self.nodes[i as usize].score;
            if prev.to_bits() == score.to_bits() {
                return false;
            }
            self.remove_sorted(prev, member);
            self.nodes[i as usize].score = score;
            self.insert_sorted(score, i);
            return false;
        }
        // Short members are kept inline (no allocation).
        let node = Node { member: SmallBytes::new(member), score };
        let i = match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = node;
                i
            }
            None => {
                self.nodes.push(node);
                u32::try_from(self.nodes.len() - 1).expect("a sorted set holds under 2^32 members")
            }
        };
        let Big { dict, nodes, hasher, .. } = self;
        dict.insert_unique(h, i, |&j| hasher.hash_one(nodes[j as usize].member.as_bytes()));
        self.insert_sorted(score, i);
        true
    }

    /// Takes node `i` out of the map and frees its slot (its member's heap bytes included).
    fn release(&mut self, i: u32) {
        let h = self.hasher.hash_one(self.member(i));
        if let Ok(e) = self.dict.find_entry(h, |&j| j == i) {
            e.remove();
        }
        self.nodes[i as usize] = Node::default();
        self.free.push(i);
    }

    /// After removals: when most node slots are vacant, rebuilds the set densely so memory
    /// follows the set down (amortised O(1) per removal).
    fn maybe_compact(&mut self) {
        if self.nodes.len() >= 64 && self.free.len() * 2 > self.nodes.len() {
            let nodes = std::mem::take(&mut self.nodes);
            let order: Vec<u32> = self.chunks.iter().flatten().map(|&(_, i)| i).collect();
            let mut slots: Vec<Option<Node>> = nodes.into_iter().map(Some).collect();
            *self = Big::from_sorted(order.into_iter().map(|i| {
                let n = slots[i as usize].take().expect("each node is in the order once");
                (n.member, n.score)
            }));
        }
    }

    fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let i = self.find(member)?;
        let s = self.nodes[i as usize].score;
        self.remove_sorted(s, member);
        self.release(i);
        self.maybe_compact();
        Some(s)
    }

    fn get(&self, r: usize) -> (&[u8], f64) {
        let (c, o) = self.locate(r);
        let (s, i) = self.chunks[c][o];
        (self.member(i), s)
    }

    fn iter(&self) -> impl DoubleEndedIterator<Item = (&[u8], f64)> + '_ {
        self.chunks.iter().flatten().map(|&(s, i)| (self.member(i), s))
    }

    /// Entries at ranks `lo..hi`.
    fn range(&self, lo: usize, hi: usize) -> impl Iterator<Item = (&[u8], f64)> + '_ {
        let (c, o) = if lo < self.len() { self.locate(lo) } else { (self.chunks.len(), 0) };
        let items = || self.chunks[c..].iter().flatten().skip(o).take(hi.saturating_sub(lo));
        // Touch the first nodes of the range in a loop whose loads do not depend on each
        // other, so their cache misses overlap instead of being paid one after another while
        // the entries are read (ZRANGEBYSCORE ... LIMIT 0 10 on a 100,000-member set: one
        // miss per entry otherwise).
        let mut touched = 0u64;
        for &(_, i) in items().take(PREFETCH) {
            touched ^= self.nodes[i as usize].score.to_bits();
        }
        std::hint::black_box(touched);
        items().map(|&(s, i)| (self.member(i), s))
    }

    fn remove_range(&mut self, lo: usize, hi: usize) {
        // Ranks shift down as entries go, so the next victim is always at rank `lo`.
        let mut left = hi - lo;
        while left > 0 {
            let (c, o) = self.locate(lo);
            let take = left.min(self.chunks[c].len() - o);
            let gone: Vec<Item> = self.chunks[c].drain(o..o + take).collect();
            for (_, i) in gone {
                self.release(i);
            }
            left -= take;
            if self.chunks[c].is_empty() {
                self.chunks.remove(c);
            }
            self.rebuild();
        }
        self.maybe_compact();
    }

    /// Approximate heap bytes.
    fn heap_bytes(&self) -> usize {
        std::mem::size_of::<Big>()
            + self.nodes.capacity() * std::mem::size_of::<Node>()
            + self.free.capacity() * 4
            + self.dict.capacity() * (std::mem::size_of::<u32>() + 1)
            + self.chunks.iter().map(|c| c.capacity() * std::mem::size_of::<Item>()).sum::<usize>()
            + self.nodes.iter().filter(|n| !n.member.is_inline()).map(|n| n.member.len()).sum::<usize>()
    }
}

// ---------------------------------------------------------------------------------------------
// Zset: the value stored in the keyspace
// ---------------------------------------------------------------------------------------------

/// A sorted set in one of its two encodings.
#[derive(Clone, Debug, PartialEq)]
pub enum Zset {
    Pack(Pack),
    Big(Box<Big>),
}

impl Zset {
    /// An empty set encoded as Redis's `zsetTypeCreate` would for `size_hint` elements whose
    /// longest member is `max_len` bytes.
    pub fn with_hint(size_hint: usize, max_len: usize, lim: Limits) -> Zset {
        if size_hint <= lim.max_entries && max_len <= lim.max_value && lim.max_entries > 0 {
            Zset::Pack(Pack::default())
        } else {
            Zset::Big(Box::default())
        }
    }

    /// A set holding `items` (in any order, members distinct), encoded by its contents: the
    /// compact encoding when it fits the limits (Redis's rule for `*STORE` results).
    pub fn from_items(mut items: Vec<(Box<[u8]>, f64)>, lim: Limits) -> Zset {
        items.sort_by(|a, b| cmp_entry(a.1, &a.0, b.1, &b.0));
        let fits = items.len() <= lim.max_entries && items.iter().all(|(m, _)| m.len() <= lim.max_value);
        if fits {
            return Zset::Pack(Pack::from_sorted(items.iter().map(|(m, s)| (&**m, *s))));
        }
        let big = Big::from_sorted(items.into_iter().map(|(m, s)| (SmallBytes::from(m), s)));
        Zset::Big(Box::new(big))
    }

    pub fn len(&self) -> usize {
        match self {
            Zset::Pack(p) => p.len(),
            Zset::Big(b) => b.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of the listpack's buffer (exact), or None for the skiplist encoding.
    pub fn compact_bytes(&self) -> Option<usize> {
        match self {
            Zset::Pack(p) => Some(p.bytes()),
            Zset::Big(_) => None,
        }
    }

    /// `OBJECT ENCODING`.
    pub fn encoding(&self) -> &'static str {
        match self {
            Zset::Pack(_) => "listpack",
            Zset::Big(_) => "skiplist",
        }
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            Zset::Pack(p) => p.find(member).map(|(_, d)| d.score),
            Zset::Big(b) => b.score(member),
        }
    }

    /// Converts the compact encoding to the big one (SORT does this to the sets it sorts, as
    /// Redis's `zsetConvert` in `sortCommandGeneric`).
    pub fn convert(&mut self) {
        if let Zset::Pack(p) = self {
            let big = Big::from_sorted(p.iter().map(|d| (SmallBytes::new(d.member), d.score)));
            *self = Zset::Big(Box::new(big));
        }
    }

    /// Sets `member`'s score, adding it if absent (converting to the big encoding when the
    /// set outgrows `lim`). Returns true if the member is new.
    pub fn insert(&mut self, member: &[u8], score: f64, lim: Limits) -> bool {
        if let Zset::Pack(p) = self {
            if let Some((_, d)) = p.find(member) {
                // The compact form stores -0 as 0 (see `encode_entry`).
                let stored = if score == 0.0 { 0.0 } else { score };
                if d.score.to_bits() != stored.to_bits() {
                    p.remove(member);
                    p.insert_new(member, score);
                }
                return false;
            }
            if p.len() < lim.max_entries && member.len() <= lim.max_value {
                p.insert_new(member, score);
                return true;
            }
            self.convert();
        }
        match self {
            Zset::Big(b) => b.insert(member, score),
            Zset::Pack(_) => unreachable!("converted above"),
        }
    }

    /// Removes `member`; returns its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        match self {
            Zset::Pack(p) => p.remove(member),
            Zset::Big(b) => b.remove(member),
        }
    }

    /// Ascending rank and score of `member`.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        match self {
            Zset::Pack(p) => p.find(member).map(|(i, d)| (i, d.score)),
            Zset::Big(b) => {
                let s = b.score(member)?;
                let (c, o) = b.position(s, member);
                Some((b.prefix(c) + o, s))
            }
        }
    }

    /// The entry at ascending rank `r` (`r < len`).
    pub fn get(&self, r: usize) -> (&[u8], f64) {
        match self {
            Zset::Pack(p) => {
                let d = p.iter().nth(r).expect("rank in range");
                (d.member, d.score)
            }
            Zset::Big(b) => b.get(r),
        }
    }

    /// Entries at ascending ranks `lo..hi` (clamped to the set).
    pub fn range(&self, lo: usize, hi: usize) -> Vec<(&[u8], f64)> {
        let hi = hi.min(self.len());
        if lo >= hi {
            return Vec::new();
        }
        match self {
            Zset::Pack(p) => p.iter().skip(lo).take(hi - lo).map(|d| (d.member, d.score)).collect(),
            Zset::Big(b) => b.range(lo, hi).collect(),
        }
    }

    /// Every entry in ascending order.
    pub fn entries(&self) -> Vec<(&[u8], f64)> {
        self.range(0, self.len())
    }

    /// First rank at or after `from` whose entry fails `pred` (a linear scan for the compact
    /// encoding, a binary search for the big one: they agree when `pred` holds on a prefix).
    /// `score_only`: `pred` looks at the score alone (see `Big::partition`).
    fn partition_from(&self, from: usize, score_only: bool, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        match self {
            Zset::Pack(p) => {
                from + p
                    .iter()
                    .skip(from)
                    .position(|d| !pred(d.score, d.member))
                    .unwrap_or(p.len().saturating_sub(from))
            }
            Zset::Big(b) => b.partition(score_only, pred).max(from),
        }
    }

    /// First rank whose score fails `pred` (which must hold on a prefix of the order).
    pub fn partition_by_score_key(&self, pred: impl Fn(f64) -> bool) -> usize {
        self.partition_from(0, true, |s, _| pred(s))
    }

    /// Ranks `lo..hi` of the entries whose score lies in `r`.
    pub fn score_interval(&self, r: &ScoreRange) -> (usize, usize) {
        let lo = self.partition_from(0, true, |s, _| !r.gte_min(s));
        let hi = self.partition_from(lo, true, |s, _| r.lte_max(s));
        (lo, hi)
    }

    /// Ranks `lo..hi` of the entries whose member lies in `r`, found from the lowest rank up
    /// (ZRANGEBYLEX, ZLEXCOUNT, ZREMRANGEBYLEX; see the module comment). Lex ranges assume
    /// every score is equal; when they are not, the answer is Redis's: nothing when the range
    /// is empty or the last member is below the minimum or the first above the maximum (its
    /// early exit), else the first member not below the minimum and those after it up to the
    /// maximum (a scan for the compact encoding, as Redis's listpack walk).
    pub fn lex_interval(&self, r: &LexRange) -> (usize, usize) {
        if !self.lex_possible(r) {
            return (0, 0);
        }
        let lo = self.partition_from(0, false, |_, m| !r.gte_min(m));
        let hi = self.partition_from(lo, false, |_, m| r.lte_max(m));
        (lo, hi)
    }

    /// [`Zset::lex_interval`] found from the highest rank down (ZREVRANGEBYLEX, ZRANGE BYLEX
    /// REV): the last member not above the maximum and those before it down to the minimum.
    /// The same as the upward interval when every score is equal.
    pub fn lex_interval_rev(&self, r: &LexRange) -> (usize, usize) {
        if !self.lex_possible(r) {
            return (0, 0);
        }
        match self {
            Zset::Pack(p) => {
                let members: Vec<&[u8]> = p.iter().map(|d| d.member).collect();
                let Some(hi) = members.iter().rposition(|m| r.lte_max(m)) else { return (0, 0) };
                let lo = members[..=hi].iter().rposition(|m| !r.gte_min(m)).map_or(0, |i| i + 1);
                (lo.min(hi + 1), hi + 1)
            }
            Zset::Big(_) => self.lex_interval(r),
        }
    }

    /// Redis's early exit for lex ranges (`zslIsInLexRange`).
    fn lex_possible(&self, r: &LexRange) -> bool {
        let n = self.len();
        if n == 0 || r.is_empty() {
            return false;
        }
        let (first, last) = (self.range(0, 1), self.range(n - 1, n));
        r.gte_min(last[0].0) && r.lte_max(first[0].0)
    }

    /// Removes the entries at ranks `lo..hi` (clamped); returns how many were removed.
    pub fn remove_range(&mut self, lo: usize, hi: usize) -> usize {
        let hi = hi.min(self.len());
        if lo >= hi {
            return 0;
        }
        match self {
            Zset::Pack(p) => p.remove_range(lo, hi),
            Zset::Big(b) => b.remove_range(lo, hi),
        }
        hi - lo
    }

    /// Approximate heap bytes (for tests and MEMORY-style reporting).
    pub fn heap_bytes(&self) -> usize {
        match self {
            Zset::Pack(p) => p.bytes(),
            Zset::Big(b) => b.heap_bytes(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use std::collections::{BTreeMap, HashMap};

    /// Model key: (score ordered bits, member).
    fn key(s: f64, m: &[u8]) -> (i64, Vec<u8>) {
        // Monotonic map from f64 (no NaN; -0 folded to 0) to i64.
        let s = if s == 0.0 { 0.0 } else { s };
        let b = s.to_bits() as i64;
        (if b < 0 { b ^ i64::MAX } else { b }, m.to_vec())
    }

    fn check(z: &Zset, model: &BTreeMap<(i64, Vec<u8>), f64>) {
        assert_eq!(z.len(), model.len());
        let want: Vec<(Vec<u8>, f64)> = model.iter().map(|((_, m), s)| (m.clone(), *s)).collect();
        let got: Vec<(Vec<u8>, f64)> = z.entries().into_iter().map(|(m, s)| (m.to_vec(), s)).collect();
        assert_eq!(got, want);
        for (r, (m, s)) in want.iter().enumerate() {
            assert_eq!(z.rank(m), Some((r, *s)));
            assert_eq!(z.get(r), (m.as_slice(), *s));
            assert_eq!(z.score(m), Some(*s));
        }
    }

    fn run(seed: u64, lim: Limits, ops: usize, members: u32) {
        run_with(seed, lim, ops, members, "m")
    }

    /// `run` with members named `{prefix}{n}` (a long prefix gives members stored on the heap).
    fn run_with(seed: u64, lim: Limits, ops: usize, members: u32, prefix: &str) {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut z = Zset::with_hint(0, 0, lim);
        let mut model: BTreeMap<(i64, Vec<u8>), f64> = BTreeMap::new();
        let mut scores: HashMap<Vec<u8>, f64> = HashMap::new();
        let pick_score = |rng: &mut rand::rngs::StdRng| -> f64 {
            match rng.gen_range(0..10) {
                0 => f64::INFINITY,
                1 => f64::NEG_INFINITY,
                2 => 0.0,
                3 => rng.gen_range(-1e6..1e6),
                4 => 1e300 * rng.gen_range(-2.0..2.0),
                _ => rng.gen_range(-20..20) as f64,
            }
        };
        for step in 0..ops {
            let m = format!("{prefix}{}", rng.gen_range(0..members)).into_bytes();
            match rng.gen_range(0..10) {
                0..=4 => {
                    let s = pick_score(&mut rng);
                    let new = z.insert(&m, s, lim);
                    let old = scores.insert(m.clone(), s);
                    assert_eq!(new, old.is_none());
                    if let Some(o) = old {
                        model.remove(&key(o, &m));
                    }
                    model.insert(key(s, &m), s);
                }
                5..=6 => {
                    let got = z.remove(&m);
                    let old = scores.remove(&m);
                    assert_eq!(got.map(f64::to_bits), old.map(f64::to_bits));
                    if let Some(o) = old {
                        model.remove(&key(o, &m));
                    }
                }
                7 => {
                    // Score range: ranks of the interval agree with the model.
                    let a = pick_score(&mut rng);
                    let b = pick_score(&mut rng);
                    let r = ScoreRange { min: a.min(b), minex: rng.gen(), max: a.max(b), maxex: rng.gen() };
                    let (lo, hi) = z.score_interval(&r);
                    let want: Vec<usize> = model
                        .values()
                        .enumerate()
                        .filter(|(_, s)| r.gte_min(**s) && r.lte_max(**s))
                        .map(|(i, _)| i)
                        .collect();
                    if want.is_empty() {
                        assert!(lo >= hi, "empty range gives {lo}..{hi}");
                    } else {
                        assert_eq!((lo, hi), (want[0], want[want.len() - 1] + 1));
                    }
                }
                8 => {
                    // Rank-range removal.
                    let n = z.len();
                    if n > 0 && rng.gen_range(0..4) == 0 {
                        let lo = rng.gen_range(0..n);
                        let hi = (lo + rng.gen_range(0..(n - lo).min(300) + 1)).min(n);
                        let victims: Vec<(i64, Vec<u8>)> = model.keys().skip(lo).take(hi - lo).cloned().collect();
                        assert_eq!(z.remove_range(lo, hi), victims.len());
                        for k in victims {
                            model.remove(&k);
                            scores.remove(&k.1);
                        }
                    }
                }
                _ => {
                    let lo = rng.gen_range(0..=z.len());
                    let hi = rng.gen_range(lo..=z.len());
                    let got: Vec<Vec<u8>> = z.range(lo, hi).into_iter().map(|(m, _)| m.to_vec()).collect();
                    let want: Vec<Vec<u8>> = model.keys().skip(lo).take(hi - lo).map(|k| k.1.clone()).collect();
                    assert_eq!(got, want);
                }
            }
            if step % 97 == 0 {
                check(&z, &model);
            }
        }
        check(&z, &model);
    }

    #[test]
    fn compact_encoding_matches_model() {
        run(1, Limits { max_entries: usize::MAX, max_value: usize::MAX }, 3000, 60);
    }

    #[test]
    fn big_encoding_matches_model() {
        // max_entries 0: the set is big from the first insert; many members exercise chunk
        // splits, merges and the Fenwick tree.
        run(2, Limits { max_entries: 0, max_value: 64 }, 40_000, 3000);
        run(3, Limits { max_entries: 0, max_value: 64 }, 5_000, 20);
        // Members longer than the inline size, and scores that tie often (a member comparison
        // reads the node), with a slot free list that fills and compacts.
        run_with(4, Limits { max_entries: 0, max_value: 64 }, 20_000, 500, "member-with-a-long-name-");
    }

    #[test]
    fn big_encoding_frees_and_reuses_node_slots() {
        let lim = Limits { max_entries: 0, max_value: 64 };
        let mut z = Zset::with_hint(0, 0, lim);
        let long = |i: u32| format!("a-member-long-enough-for-the-heap-{i:05}").into_bytes();
        for i in 0..10_000 {
            assert!(z.insert(&long(i), (i % 7) as f64, lim));
        }
        let Zset::Big(b) = &z else { panic!("big encoding") };
        let full = b.heap_bytes();
        assert_eq!(b.nodes.len(), 10_000);
        // Removing one member leaves its slot vacant, and the next new member takes it.
        assert_eq!(z.remove(&long(5)), Some(5.0));
        let Zset::Big(b) = &z else { panic!() };
        assert_eq!((b.free.len(), b.len()), (1, 9_999));
        assert!(z.insert(b"new", 0.5, lim));
        let Zset::Big(b) = &z else { panic!() };
        assert_eq!((b.free.len(), b.nodes.len()), (0, 10_000));
        assert_eq!(z.rank(b"new").map(|(_, s)| s), Some(0.5));
        // Removing most members compacts the nodes: memory follows the set down.
        assert_eq!(z.remove_range(0, 9_000), 9_000);
        for i in 0..10_000 {
            z.remove(&long(i));
            if z.len() <= 100 {
                break;
            }
        }
        let Zset::Big(b) = &z else { panic!() };
        assert!(b.nodes.len() < 2 * b.len().max(64), "{} nodes for {} members", b.nodes.len(), b.len());
        assert!(b.heap_bytes() * 20 < full, "{} after, {full} before", b.heap_bytes());
        let entries: Vec<(Vec<u8>, f64)> = z.entries().into_iter().map(|(m, s)| (m.to_vec(), s)).collect();
        for (r, (m, s)) in entries.iter().enumerate() {
            assert_eq!(z.rank(m), Some((r, *s)));
        }
        assert!(entries.windows(2).all(|w| cmp_entry(w[0].1, &w[0].0, w[1].1, &w[1].0) == Ordering::Less));
    }

    #[test]
    fn converts_when_outgrowing_limits() {
        let lim = Limits { max_entries: 4, max_value: 8 };
        let mut z = Zset::with_hint(0, 0, lim);
        for i in 0..4 {
            z.insert(format!("m{i}").as_bytes(), i as f64, lim);
        }
        assert_eq!(z.encoding(), "listpack");
        z.insert(b"m9", 9.0, lim);
        assert_eq!(z.encoding(), "skiplist");
        let mut y = Zset::with_hint(0, 0, lim);
        y.insert(b"0123456789", 1.0, lim);
        assert_eq!(y.encoding(), "skiplist");
        assert_eq!(Zset::from_items(vec![(b"a"[..].into(), 1.0)], lim).encoding(), "listpack");
    }

    #[test]
    fn lex_intervals() {
        let lim = Limits::default();
        for big in [false, true] {
            let mut z = Zset::with_hint(if big { 1000 } else { 0 }, 0, lim);
            for m in ["a", "b", "c", "d", "e"] {
                z.insert(m.as_bytes(), 0.0, lim);
            }
            let r = |min: LexBound, max: LexBound| z.lex_interval(&LexRange { min, max });
            assert_eq!(r(LexBound::NegInf, LexBound::PosInf), (0, 5));
            assert_eq!(r(LexBound::Incl(b"b".to_vec()), LexBound::Excl(b"d".to_vec())), (1, 3));
            assert_eq!(r(LexBound::Excl(b"b".to_vec()), LexBound::Incl(b"d".to_vec())), (2, 4));
            let (lo, hi) = r(LexBound::PosInf, LexBound::NegInf);
            assert!(lo >= hi);
        }
    }

    #[test]
    fn compact_scores_round_trip() {
        let lim = Limits::default();
        let mut z = Zset::with_hint(0, 0, lim);
        let vals = [
            0.0,
            -0.0,
            1.5,
            -3.0,
            9007199254740992.0,
            9007199254740994.0,
            1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN,
            0.1,
            -7.5,
            123.456,
            1.0 / 3.0,
            1e-300,
            5e-324,
            0.000_000_000_000_001,
            4503599627370495.5,
            -9007199254740991.0,
        ];
        for (i, v) in vals.iter().enumerate() {
            z.insert(format!("{i}").as_bytes(), *v, lim);
        }
        for (i, v) in vals.iter().enumerate() {
            let want = if *v == 0.0 { 0.0 } else { *v };
            assert_eq!(z.score(format!("{i}").as_bytes()).map(f64::to_bits), Some(want.to_bits()));
        }
    }

    #[test]
    fn decimal_scores_are_short_and_exact() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..20_000 {
            let s: f64 = match rng.gen_range(0..4) {
                0 => rng.gen_range(-1e6..1e6),
                1 => rng.gen_range(-100_000i64..100_000) as f64 / 100.0,
                2 => f64::from_bits(rng.gen()),
                _ => rng.gen_range(-1000i64..1000) as f64 + 0.5,
            };
            if s.is_nan() {
                continue;
            }
            let mut buf = Vec::new();
            encode_entry(&mut buf, b"m", s);
            let p = Pack { buf: buf.into_boxed_slice(), len: 1 };
            let d = p.iter().next().unwrap();
            let want = if s == 0.0 { 0.0 } else { s };
            assert_eq!(d.score.to_bits(), want.to_bits(), "{s:?}");
            assert_eq!(d.member, b"m");
        }
        // 75.5 and 0.25: header, member, and a 2-byte decimal score; 1/3: 1 + 8 bytes.
        for (s, n) in [(75.5, 2), (-204.7, 2), (0.25, 2), (1.0 / 3.0, 9)] {
            let mut buf = Vec::new();
            encode_entry(&mut buf, b"member:1:0", s);
            assert_eq!(buf.len(), 1 + 10 + n, "{s}");
        }
    }

    #[test]
    fn pack_buffer_is_exact_after_every_change() {
        let lim = Limits::default();
        let mut z = Zset::with_hint(0, 0, lim);
        for i in 0..50 {
            z.insert(format!("m{i}").as_bytes(), i as f64 + 0.5, lim);
            z.insert(format!("m{}", i / 2).as_bytes(), -(i as f64), lim);
            if i % 3 == 0 {
                z.remove(format!("m{}", i / 3).as_bytes());
            }
            if let Zset::Pack(p) = &z {
                let mut exact = Vec::new();
                for (m, s) in z.entries() {
                    encode_entry(&mut exact, m, s);
                }
                assert_eq!(p.bytes(), exact.len());
                assert_eq!(&*p.buf, &exact[..]);
            }
        }
    }
}
