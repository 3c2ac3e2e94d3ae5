//! The stream type: an append-only log of entries keyed by 128-bit IDs, plus consumer groups.
//!
//! Layout (why): Redis keeps entries in listpacks of up to `stream-node-max-entries` entries /
//! `stream-node-max-bytes` bytes, indexed by a radix tree keyed by each node's first ("master")
//! ID. We do the same with an ordered map: `BTreeMap<StreamId, Node>`, where a [`Node`] packs its
//! entries into one byte buffer. Per entry it stores a flags byte, the ID as varint deltas from
//! the node's master ID, and the values; when an entry has the same field names as the node's
//! first entry (the common case: producers send the same shape) the field names are not repeated
//! (Redis's "same fields" optimisation). A small entry therefore costs ~6-10 bytes, with one map
//! slot per ~100 entries, so a million-entry stream is a few MB, like Redis. Nodes are shrunk to
//! fit when a new node is opened.
//!
//! Node boundaries are Redis's: each node tracks the size its entries would have as a Redis
//! listpack (integers and integer-like strings as listpack integers, string headers,
//! back-lengths, the master entry), and a new node starts when the last one holds
//! `stream-node-max-entries` entries (deleted ones included) or when its listpack size plus the
//! new entry's string lengths reaches `stream-node-max-bytes`. So `MAXLEN ~` leaves exactly the
//! entries Redis leaves (XLEN, `radix-tree-keys` and `first-entry` match; tests/diff_stream.rs).
//!
//! Deletion (XDEL, exact trimming inside a node) sets a flag in place; a node whose entries are
//! all deleted is dropped. Each node keeps the offset of its first live entry and its last ID,
//! so the first entry, exact trimming from the front and `MINID` need not rescan a node.
//! Approximate trimming (`MAXLEN ~`, `MINID ~`) drops whole nodes only: it looks at the first
//! node and, when that node can go, unlinks it from the map without visiting or moving any
//! entry, so it is O(1) amortised per XADD (at most one node per ~100 XADDs), Redis's rule.
//!
//! Consumer groups keep, as Redis 7: last-delivered ID, `entries-read` (or unknown), a group
//! PEL (ID → consumer, last delivery time, delivery count) and per-consumer PELs (sets of IDs),
//! and for each consumer its seen-time and active-time (Redis 7.2's split).
//!
//! `radix-tree-nodes` in XINFO is computed from the node keys as the node count of a canonical
//! compressed radix tree over the 16-byte big-endian keys ([`rax_nodes`]).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

/// A stream entry ID: milliseconds and sequence number, ordered as Redis orders them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId { ms: u64::MAX, seq: u64::MAX };

    pub const fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    pub fn is_zero(&self) -> bool {
        self.ms == 0 && self.seq == 0
    }

    /// The next ID, or `None` at the maximum.
    pub fn incr(&self) -> Option<StreamId> {
        if self.seq == u64::MAX {
            if self.ms == u64::MAX {
                None
            } else {
                Some(StreamId::new(self.ms + 1, 0))
            }
        } else {
            Some(StreamId::new(self.ms, self.seq + 1))
        }
    }

    /// The previous ID, or `None` at 0-0.
    pub fn decr(&self) -> Option<StreamId> {
        if self.seq == 0 {
            if self.ms == 0 {
                None
            } else {
                Some(StreamId::new(self.ms - 1, u64::MAX))
            }
        } else {
            Some(StreamId::new(self.ms, self.seq - 1))
        }
    }

    /// `<ms>-<seq>` as bytes.
    pub fn fmt(&self) -> Vec<u8> {
        let mut b = itoa::Buffer::new();
        let mut v = Vec::with_capacity(24);
        v.extend_from_slice(b.format(self.ms).as_bytes());
        v.push(b'-');
        v.extend_from_slice(b.format(self.seq).as_bytes());
        v
    }

    /// The 16-byte big-endian key Redis's radix tree uses.
    pub fn key_bytes(&self) -> [u8; 16] {
        let mut k = [0u8; 16];
        k[..8].copy_from_slice(&self.ms.to_be_bytes());
        k[8..].copy_from_slice(&self.seq.to_be_bytes());
        k
    }
}

/// Parses an unsigned 64-bit number as C's `strtoull` does in Redis's ID parser: optional
/// leading whitespace and `+`, decimal digits, no trailing junk, no overflow.
pub fn parse_u64(s: &[u8]) -> Option<u64> {
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        i += 1;
    }
    if i < s.len() && s[i] == b'+' {
        i += 1;
    }
    if i == s.len() {
        return None;
    }
    let mut v: u64 = 0;
    for &c in &s[i..] {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(v)
}

/// How an ID argument was written: a full ID, `ms` alone (sequence missing), or `ms-*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdArg {
    Full(StreamId),
    MsOnly(u64),
    MsAuto(u64),
}

/// Parses `ms[-seq]` or `ms-*` (the star only when `allow_star`). No `-`/`+`/`*` handling.
pub fn parse_id_arg(s: &[u8], allow_star: bool) -> Option<IdArg> {
    match s.iter().position(|&c| c == b'-') {
        None => parse_u64(s).map(IdArg::MsOnly),
        Some(p) => {
            let ms = parse_u64(&s[..p])?;
            let rest = &s[p + 1..];
            if rest == b"*" {
                return allow_star.then_some(IdArg::MsAuto(ms));
            }
            Some(IdArg::Full(StreamId::new(ms, parse_u64(rest)?)))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Varints
// ---------------------------------------------------------------------------------------------

fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

fn get_varint(buf: &[u8], pos: &mut usize) -> u64 {
    let mut v: u64 = 0;
    let mut shift = 0;
    loop {
        let b = buf[*pos];
        *pos += 1;
        v |= ((b & 0x7f) as u64) << shift;
        if b & 0x80 == 0 {
            return v;
        }
        shift += 7;
    }
}

// ---------------------------------------------------------------------------------------------
// Listpack sizes
// ---------------------------------------------------------------------------------------------
//
// Redis decides where a node ends from its listpack's size in bytes, so we keep, per node, the
// size the same entries would have as a listpack, element by element: an integer (or a string
// that is the canonical form of a 64-bit integer) takes 1-9 bytes, a string its length plus a
// 1, 2 or 5-byte header; every element is followed by a 1-5-byte back-length. With the same
// sizes and the same rule, our nodes end where Redis's do, so `MAXLEN ~` trims the same entries.

/// Largest listpack Redis lets a stream node grow to (when `stream-node-max-bytes` is 0 or more).
const LP_MAX_NODE: u64 = 1 << 30;
/// Listpack header (total bytes, element count) and end byte.
const LP_OVERHEAD: u64 = 6 + 1;

/// Bytes of the back-length that follows an element whose encoding is `l` bytes.
fn lp_backlen(l: usize) -> usize {
    match l {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        2_097_152..=268_435_455 => 4,
        _ => 5,
    }
}

/// Listpack bytes of an integer element (encoding + back-length).
fn lp_int_len(v: i64) -> usize {
    let enc = if (0..=127).contains(&v) {
        1
    } else if (-4096..=4095).contains(&v) {
        2
    } else if (i16::MIN as i64..=i16::MAX as i64).contains(&v) {
        3
    } else if (-(1 << 23)..(1 << 23)).contains(&v) {
        4
    } else if (i32::MIN as i64..=i32::MAX as i64).contains(&v) {
        5
    } else {
        9
    };
    enc + 1
}

/// The integer `s` spells canonically (no sign but `-`, no leading zero, no `-0`), if any:
/// a listpack stores such strings as integers.
fn canonical_i64(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.first()? {
        b'-' => (true, &s[1..]),
        b'0'..=b'9' => (false, s),
        _ => return None,
    };
    if digits.is_empty() || digits.len() > 19 || (digits[0] == b'0' && (neg || digits.len() > 1)) {
        return None;
    }
    // Accumulate negatively so that i64::MIN fits.
    let mut v: i64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_sub((c - b'0') as i64)?;
    }
    if neg {
        Some(v)
    } else {
        v.checked_neg()
    }
}

/// Listpack bytes of a string element.
fn lp_str_len(s: &[u8]) -> usize {
    if let Some(v) = canonical_i64(s) {
        return lp_int_len(v);
    }
    let n = s.len();
    let enc = if n < 64 {
        1 + n
    } else if n < 4096 {
        2 + n
    } else {
        5 + n
    };
    enc + lp_backlen(enc)
}

// ---------------------------------------------------------------------------------------------
// Nodes
// ---------------------------------------------------------------------------------------------

const F_DELETED: u8 = 1;
const F_SAMEFIELDS: u8 = 2;

/// A packed run of entries. Buffer layout: master field count and names, then per entry:
/// flags, ms delta (varint), seq (varint), and either the values (same fields as the master) or
/// a field count and field/value pairs; strings are a varint length and bytes.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Node {
    buf: Vec<u8>,
    /// Offset of the first live entry (every entry before it is deleted), so that the first
    /// entry and exact trimming do not walk over a deleted prefix again and again.
    head: usize,
    /// Master field count.
    nf: u32,
    /// Live entries.
    pub live: u32,
    /// Entries ever appended, deleted included (Redis's node count rule counts both).
    pub total: u32,
    /// Listpack bytes of the master field names (and their count) and of the entries; see
    /// [`Node::lp_bytes`]. (Fields are kept few: a node is a map slot per ~100 entries.)
    lp: u64,
    /// ID of the last entry (deleted or not).
    last: StreamId,
}

/// One decoded entry: its ID and flat field/value list.
pub type Entry<'a> = (StreamId, Vec<&'a [u8]>);

/// A node as [`Log::raw_nodes`] returns it: master ID, master field names, entries with
/// their deleted flag.
pub type RawNode<'a> = (StreamId, Vec<&'a [u8]>, Vec<(StreamId, bool, Vec<&'a [u8]>)>);

fn put_str(buf: &mut Vec<u8>, s: &[u8]) {
    put_varint(buf, s.len() as u64);
    buf.extend_from_slice(s);
}

fn get_str<'a>(buf: &'a [u8], pos: &mut usize) -> &'a [u8] {
    let n = get_varint(buf, pos) as usize;
    let s = &buf[*pos..*pos + n];
    *pos += n;
    s
}

impl Node {
    /// An empty node whose master fields are `names`.
    fn new<'a>(names: impl ExactSizeIterator<Item = &'a [u8]>) -> Node {
        let mut buf = Vec::new();
        let nf = names.len();
        put_varint(&mut buf, nf as u64);
        let mut lp = lp_int_len(nf as i64) as u64;
        for name in names {
            put_str(&mut buf, name);
            lp += lp_str_len(name) as u64;
        }
        Node { head: buf.len(), buf, nf: nf as u32, lp, ..Node::default() }
    }

    /// The node's size as a Redis listpack: header, master entry (live count, deleted count,
    /// field count, names, terminator), entries.
    fn lp_bytes(&self) -> u64 {
        let master = lp_int_len(self.live as i64) + lp_int_len((self.total - self.live) as i64) + lp_int_len(0);
        LP_OVERHEAD + master as u64 + self.lp
    }

    /// Offset of the first entry (after the master fields).
    fn start(&self) -> usize {
        let mut pos = 0;
        for _ in 0..get_varint(&self.buf, &mut pos) {
            get_str(&self.buf, &mut pos);
        }
        pos
    }

    fn master_fields(&self) -> Vec<&[u8]> {
        let mut pos = 0;
        let n = get_varint(&self.buf, &mut pos) as usize;
        (0..n).map(|_| get_str(&self.buf, &mut pos)).collect()
    }

    /// Whether the flat field/value list `fields` has exactly the master field names.
    fn same_fields(&self, fields: &[&[u8]]) -> bool {
        if fields.len() != 2 * self.nf as usize {
            return false;
        }
        let mut pos = 0;
        get_varint(&self.buf, &mut pos);
        fields.iter().step_by(2).all(|f| get_str(&self.buf, &mut pos) == *f)
    }

    /// Appends an entry (its ID above every ID in the node), encoding straight into the buffer.
    fn append(&mut self, master: StreamId, id: StreamId, fields: &[&[u8]]) {
        let nf = fields.len() / 2;
        let same = self.same_fields(fields);
        let dms = id.ms - master.ms;
        let buf = &mut self.buf;
        buf.push(if same { F_SAMEFIELDS } else { 0 });
        put_varint(buf, dms);
        put_varint(buf, id.seq);
        // Listpack bytes: flags, ms and seq deltas, (field count), strings, element count.
        let mut lp = 2 + lp_int_len(dms as i64) + lp_int_len(id.seq.wrapping_sub(master.seq) as i64);
        let elements = if same {
            for v in fields.iter().skip(1).step_by(2) {
                put_str(buf, v);
                lp += lp_str_len(v);
            }
            nf + 3
        } else {
            put_varint(buf, nf as u64);
            lp += lp_int_len(nf as i64);
            for f in fields {
                put_str(buf, f);
                lp += lp_str_len(f);
            }
            2 * nf + 4
        };
        lp += lp_int_len(elements as i64);
        self.lp += lp as u64;
        self.live += 1;
        self.total += 1;
        self.last = id;
    }

    /// Reads the entry at `*pos` without its values: (offset, flags, id); advances `pos` to
    /// the next entry.
    fn next(&self, master: StreamId, pos: &mut usize) -> (usize, u8, StreamId) {
        let buf = &self.buf;
        let at = *pos;
        let flags = buf[*pos];
        *pos += 1;
        let dms = get_varint(buf, pos);
        let seq = get_varint(buf, pos);
        let n = if flags & F_SAMEFIELDS != 0 { self.nf as usize } else { 2 * get_varint(buf, pos) as usize };
        for _ in 0..n {
            let l = get_varint(buf, pos) as usize;
            *pos += l;
        }
        (at, flags, StreamId::new(master.ms + dms, seq))
    }

    /// Decodes the entry at `pos`: (offset of flags, flags, id, fields); advances `pos`.
    fn decode<'a>(
        &'a self,
        master: StreamId,
        pos: &mut usize,
        mf: &[&'a [u8]],
    ) -> (usize, u8, StreamId, Vec<&'a [u8]>) {
        let at = *pos;
        let buf = &self.buf;
        let flags = buf[*pos];
        *pos += 1;
        let dms = get_varint(buf, pos);
        let seq = get_varint(buf, pos);
        let id = StreamId::new(master.ms + dms, seq);
        let mut out = Vec::new();
        if flags & F_SAMEFIELDS != 0 {
            out.reserve(mf.len() * 2);
            for f in mf {
                out.push(*f);
                out.push(get_str(buf, pos));
            }
        } else {
            let nf = get_varint(buf, pos) as usize;
            out.reserve(nf * 2);
            for _ in 0..2 * nf {
                out.push(get_str(buf, pos));
            }
        }
        (at, flags, id, out)
    }

    /// Offsets, IDs and deleted flags of the entries from the first live one, in order.
    fn scan(&self, master: StreamId) -> Vec<(usize, StreamId, bool)> {
        let mut pos = self.head;
        let mut v = Vec::with_capacity(self.live as usize);
        while pos < self.buf.len() {
            let (at, flags, id) = self.next(master, &mut pos);
            v.push((at, id, flags & F_DELETED != 0));
        }
        v
    }

    /// Offset and deleted flag of entry `id`, if the node holds it.
    fn find(&self, master: StreamId, id: StreamId) -> Option<(usize, bool)> {
        if id > self.last {
            return None;
        }
        let mut pos = self.head;
        while pos < self.buf.len() {
            let (at, flags, e) = self.next(master, &mut pos);
            if e >= id {
                return (e == id).then_some((at, flags & F_DELETED != 0));
            }
        }
        None
    }

    fn entry_at<'a>(&'a self, master: StreamId, at: usize) -> Entry<'a> {
        let mf = self.master_fields();
        let mut pos = at;
        let (_, _, id, f) = self.decode(master, &mut pos, &mf);
        (id, f)
    }

    /// Flags the live entry at `at` deleted (Redis also leaves it in place).
    fn mark_deleted(&mut self, master: StreamId, at: usize) {
        self.buf[at] |= F_DELETED;
        self.live -= 1;
        if at == self.head {
            let mut pos = at;
            while pos < self.buf.len() && self.buf[pos] & F_DELETED != 0 {
                self.next(master, &mut pos);
            }
            self.head = pos;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Consumer groups
// ---------------------------------------------------------------------------------------------

/// One entry of a group's pending entries list.
#[derive(Clone, Debug, PartialEq)]
pub struct Pending {
    pub consumer: Box<[u8]>,
    /// Last delivery time (Unix ms).
    pub delivery_time: u64,
    pub delivery_count: u64,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Consumer {
    /// Last time the consumer tried to interact (Redis 7.2 `seen-time`, XINFO `idle`).
    pub seen_time: u64,
    /// Last successful interaction (7.2 `active-time`, XINFO `inactive`); `None` = never.
    pub active_time: Option<u64>,
    pub pel: BTreeSet<StreamId>,
}

/// `entries-read` unknown (Redis's `SCG_INVALID_ENTRIES_READ`).
pub const ENTRIES_READ_UNKNOWN: i64 = -1;

#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    pub last_id: StreamId,
    pub entries_read: i64,
    pub pel: BTreeMap<StreamId, Pending>,
    pub consumers: BTreeMap<Box<[u8]>, Consumer>,
}

impl Group {
    pub fn new(last_id: StreamId, entries_read: i64) -> Group {
        Group { last_id, entries_read, pel: BTreeMap::new(), consumers: BTreeMap::new() }
    }

    /// The consumer named `name`, created if missing (with `seen_time` = now); returns
    /// whether it was created.
    pub fn consumer(&mut self, name: &[u8], now: u64) -> (&mut Consumer, bool) {
        let created = !self.consumers.contains_key(name);
        if created {
            self.consumers.insert(name.into(), Consumer { seen_time: now, active_time: None, pel: BTreeSet::new() });
        }
        (self.consumers.get_mut(name).unwrap(), created)
    }

    /// Records a delivery of `id` to `consumer` (which must exist): a new PEL entry, or an
    /// existing one moved to this consumer with its count incremented when `count` says so.
    pub fn deliver(&mut self, id: StreamId, consumer: &[u8], now: u64, incr_count: bool) {
        match self.pel.get_mut(&id) {
            Some(p) => {
                if &*p.consumer != consumer {
                    if let Some(old) = self.consumers.get_mut(&p.consumer) {
                        old.pel.remove(&id);
                    }
                    p.consumer = consumer.into();
                }
                p.delivery_time = now;
                if incr_count {
                    p.delivery_count += 1;
                }
            }
            None => {
                self.pel.insert(id, Pending { consumer: consumer.into(), delivery_time: now, delivery_count: 1 });
            }
        }
        if let Some(c) = self.consumers.get_mut(consumer) {
            c.pel.insert(id);
        }
    }

    /// Delivers a never-delivered (`>`) entry: a fresh PEL entry owned by `consumer` (an
    /// older one for the same ID, after SETID moved the group back, is replaced).
    pub fn deliver_new(&mut self, id: StreamId, consumer: &[u8], now: u64) {
        self.ack(id);
        self.deliver(id, consumer, now, true);
    }

    /// Acknowledges `id`; true if it was pending.
    pub fn ack(&mut self, id: StreamId) -> bool {
        match self.pel.remove(&id) {
            Some(p) => {
                if let Some(c) = self.consumers.get_mut(&p.consumer) {
                    c.pel.remove(&id);
                }
                true
            }
            None => false,
        }
    }

    /// Deletes a consumer and its pending entries; returns how many were pending.
    pub fn delete_consumer(&mut self, name: &[u8]) -> Option<usize> {
        let c = self.consumers.remove(name)?;
        for id in &c.pel {
            self.pel.remove(id);
        }
        Some(c.pel.len())
    }
}

// ---------------------------------------------------------------------------------------------
// The stream
// ---------------------------------------------------------------------------------------------

/// Trimming strategy.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Trim {
    MaxLen(u64),
    MinId(StreamId),
}

/// A stream: its entries ([`Log`]) and its consumer groups (ordered by name, as Redis's rax).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Stream {
    pub log: Log,
    pub groups: BTreeMap<Box<[u8]>, Group>,
}

impl Stream {
    pub fn new() -> Stream {
        Stream::default()
    }

    /// The entries and the groups, borrowed separately (delivering updates both).
    pub fn split_groups(&mut self) -> (&Log, &mut BTreeMap<Box<[u8]>, Group>) {
        (&self.log, &mut self.groups)
    }
}

impl std::ops::Deref for Stream {
    type Target = Log;
    fn deref(&self) -> &Log {
        &self.log
    }
}

impl std::ops::DerefMut for Stream {
    fn deref_mut(&mut self) -> &mut Log {
        &mut self.log
    }
}

/// The entries of a stream and its ID bookkeeping.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Log {
    nodes: BTreeMap<StreamId, Node>,
    length: u64,
    pub last_id: StreamId,
    pub max_deleted_id: StreamId,
    pub entries_added: u64,
}

impl Log {
    pub fn len(&self) -> u64 {
        self.length
    }

    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// Number of packed nodes (`radix-tree-keys`).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// `radix-tree-nodes`, see [`rax_nodes`].
    pub fn rax_node_count(&self) -> usize {
        let keys: Vec<[u8; 16]> = self.nodes.keys().map(|k| k.key_bytes()).collect();
        rax_nodes(&keys)
    }

    /// The first live entry's ID (0-0 when empty).
    pub fn first_id(&self) -> StreamId {
        self.first_entry().map(|e| e.0).unwrap_or_default()
    }

    pub fn first_entry(&self) -> Option<Entry<'_>> {
        self.range(StreamId::MIN, StreamId::MAX, 1, false).into_iter().next()
    }

    pub fn last_entry(&self) -> Option<Entry<'_>> {
        self.range(StreamId::MIN, StreamId::MAX, 1, true).into_iter().next()
    }

    /// Appends an entry; the caller checked `id > last_id`. `fields` is a flat field/value
    /// list. As in Redis, a new node starts when the last one holds `max_entries` entries,
    /// deleted ones included (0 = no limit), or when its listpack size plus the new strings'
    /// lengths reaches `max_bytes` (0 = Redis's 1 GB cap).
    pub fn append(&mut self, id: StreamId, fields: &[&[u8]], max_entries: u64, max_bytes: u64) {
        self.length += 1;
        self.entries_added += 1;
        self.last_id = id;
        if let Some(mut last) = self.nodes.last_entry() {
            let node = last.get();
            let cap = if max_bytes == 0 || max_bytes > LP_MAX_NODE { LP_MAX_NODE } else { max_bytes };
            let strings: u64 = fields.iter().map(|f| f.len() as u64).sum();
            let full = node.lp_bytes() + strings >= cap || (max_entries > 0 && node.total as u64 >= max_entries);
            if !full {
                let master = *last.key();
                last.get_mut().append(master, id, fields);
                return;
            }
            // The node is complete: give back its growth slack.
            last.get_mut().buf.shrink_to_fit();
        }
        let mut node = Node::new(fields.iter().step_by(2).copied());
        node.append(id, id, fields);
        self.nodes.insert(id, node);
    }

    /// Every node as stored, for the RDB writer: master ID, master field names, and every
    /// entry (deleted ones included, flagged) with its flat field/value list.
    pub fn raw_nodes(&self) -> Vec<RawNode<'_>> {
        self.nodes
            .iter()
            .map(|(&master, node)| {
                let mf = node.master_fields();
                let mut pos = node.start();
                let mut entries = Vec::with_capacity(node.total as usize);
                while pos < node.buf.len() {
                    let (_, flags, id, f) = node.decode(master, &mut pos, &mf);
                    entries.push((id, flags & F_DELETED != 0, f));
                }
                (master, mf, entries)
            })
            .collect()
    }

    /// Appends a node read from an RDB file. Entries must be in increasing ID order, at or
    /// after `master`'s ms and after every entry already held; an error says which rule broke.
    /// A node whose entries are all deleted is dropped (Redis never keeps one).
    pub fn push_raw_node(
        &mut self,
        master: StreamId,
        master_fields: &[&[u8]],
        entries: &[(StreamId, bool, Vec<&[u8]>)],
    ) -> Result<(), &'static str> {
        let mut node = Node::new(master_fields.iter().copied());
        let mut prev = self.nodes.last_key_value().map(|(_, n)| n.last);
        for (id, deleted, fields) in entries {
            if id.ms < master.ms || prev.is_some_and(|p| *id <= p) {
                return Err("stream entry IDs out of order");
            }
            if fields.len() % 2 != 0 {
                return Err("odd stream entry field list");
            }
            let at = node.buf.len();
            node.append(master, *id, fields);
            if *deleted {
                node.mark_deleted(master, at);
            }
            prev = Some(*id);
        }
        if node.live > 0 {
            self.length += node.live as u64;
            node.buf.shrink_to_fit();
            self.nodes.insert(master, node);
        }
        Ok(())
    }

    /// Live entries with `start <= id <= end` in order (reverse: descending), at most `count`
    /// (0 = all).
    pub fn range(&self, start: StreamId, end: StreamId, count: usize, rev: bool) -> Vec<Entry<'_>> {
        let mut out = Vec::new();
        if start > end {
            return out;
        }
        let limit = if count == 0 { usize::MAX } else { count };
        // The node holding `start` begins at or before it.
        let first_key = self.nodes.range(..=start).next_back().map(|(k, _)| *k).unwrap_or(start);
        let iter = self.nodes.range((Bound::Included(first_key), Bound::Included(end)));
        if !rev {
            for (&master, node) in iter {
                let mf = node.master_fields();
                let mut pos = node.head;
                while pos < node.buf.len() {
                    let (_, flags, id, f) = node.decode(master, &mut pos, &mf);
                    if id > end {
                        return out;
                    }
                    if flags & F_DELETED == 0 && id >= start {
                        out.push((id, f));
                        if out.len() >= limit {
                            return out;
                        }
                    }
                }
            }
        } else {
            for (&master, node) in iter.rev() {
                let scan = node.scan(master);
                for &(at, id, del) in scan.iter().rev() {
                    if id < start {
                        return out;
                    }
                    if !del && id <= end {
                        out.push(node.entry_at(master, at));
                        if out.len() >= limit {
                            return out;
                        }
                    }
                }
            }
        }
        out
    }

    fn locate(&self, id: StreamId) -> Option<(StreamId, usize, bool)> {
        let (&master, node) = self.nodes.range(..=id).next_back()?;
        node.find(master, id).map(|(at, del)| (master, at, del))
    }

    /// The live entry `id`, if present.
    pub fn get(&self, id: StreamId) -> Option<Entry<'_>> {
        let (master, at, del) = self.locate(id)?;
        if del {
            return None;
        }
        Some(self.nodes[&master].entry_at(master, at))
    }

    pub fn contains(&self, id: StreamId) -> bool {
        matches!(self.locate(id), Some((_, _, false)))
    }

    /// XDEL of one ID; true if it was deleted. Updates `max_deleted_id`.
    pub fn delete(&mut self, id: StreamId) -> bool {
        let Some((master, at, false)) = self.locate(id) else { return false };
        let node = self.nodes.get_mut(&master).unwrap();
        node.mark_deleted(master, at);
        if node.live == 0 {
            self.nodes.remove(&master);
        }
        self.length -= 1;
        if id > self.max_deleted_id {
            self.max_deleted_id = id;
        }
        true
    }

    /// Trims per `strategy`; `approx` removes whole nodes only; `limit` caps the entries
    /// removed (0 = no cap). Returns the number of entries removed.
    ///
    /// Cost: a node that can go is unlinked from the map as a whole (its entries are neither
    /// visited nor moved), so approximate trimming is O(1) per removed node plus one look at the
    /// first node; exact trimming also deletes entries of the first node one by one, starting
    /// at its first live entry.
    pub fn trim(&mut self, strategy: Trim, approx: bool, limit: u64) -> u64 {
        let mut removed = 0u64;
        while let Some(mut first) = self.nodes.first_entry() {
            let node = first.get();
            let live = node.live as u64;
            // Can the whole node go?
            let whole = match strategy {
                Trim::MaxLen(n) => {
                    if self.length <= n {
                        break;
                    }
                    self.length - live >= n
                }
                // Every entry of the node is below min: its last entry is.
                Trim::MinId(min) => node.last < min,
            };
            if whole {
                if limit > 0 && removed + live > limit {
                    break;
                }
                removed += live;
                self.length -= live;
                first.remove();
                continue;
            }
            if approx {
                break;
            }
            // Exact trimming: delete entries of this node one by one.
            let master = *first.key();
            let node = first.get_mut();
            let mut pos = node.head;
            while pos < node.buf.len() {
                let (at, flags, id) = node.next(master, &mut pos);
                if flags & F_DELETED != 0 {
                    continue;
                }
                let stop = match strategy {
                    Trim::MaxLen(n) => self.length <= n,
                    Trim::MinId(min) => id >= min,
                };
                if stop {
                    break;
                }
                node.mark_deleted(master, at);
                self.length -= 1;
                removed += 1;
            }
            if node.live == 0 {
                first.remove();
            }
            break;
        }
        removed
    }

    /// Counter of `id` from the first entry ever added, when it can be known (Redis 7's
    /// estimate): exact at the last ID and, without deletions ahead, at or before the first.
    pub fn estimate_distance(&self, id: StreamId) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if self.length == 0 && id <= self.last_id {
            return Some(self.entries_added);
        }
        if id == self.last_id {
            return Some(self.entries_added);
        }
        if id > self.last_id {
            return None;
        }
        let first = self.first_id();
        if self.max_deleted_id.is_zero() || self.max_deleted_id < first {
            if id < first {
                return Some(self.entries_added - self.length);
            }
            if id == first {
                return Some(self.entries_added - self.length + 1);
            }
        }
        None
    }

    /// Whether an XDEL hole may lie in `[start, end]` (Redis's tombstone check).
    pub fn has_tombstones(&self, start: Option<StreamId>, end: Option<StreamId>) -> bool {
        if self.length == 0 || self.max_deleted_id.is_zero() || self.max_deleted_id < self.first_id() {
            return false;
        }
        let s = start.unwrap_or(StreamId::MIN);
        let e = end.unwrap_or(StreamId::MAX);
        s <= self.max_deleted_id && self.max_deleted_id <= e
    }

    /// A group's lag, or `None` when it cannot be computed.
    pub fn group_lag(&self, g: &Group) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if g.entries_read != ENTRIES_READ_UNKNOWN && !self.has_tombstones(Some(g.last_id), None) {
            return Some(self.entries_added as i64 - g.entries_read);
        }
        self.estimate_distance(g.last_id).map(|d| self.entries_added as i64 - d as i64)
    }

    /// Advances a group past a newly delivered `id` (updates `entries-read` and last ID).
    pub fn group_advance(&self, g: &mut Group, id: StreamId) {
        if id <= g.last_id {
            return;
        }
        if g.entries_read != ENTRIES_READ_UNKNOWN && !self.has_tombstones(Some(id), None) {
            g.entries_read += 1;
        } else if self.entries_added > 0 {
            g.entries_read = self.estimate_distance(id).map(|d| d as i64).unwrap_or(ENTRIES_READ_UNKNOWN);
        }
        g.last_id = id;
    }

    /// Approximate heap bytes used (for MEMORY USAGE-style reporting and tests).
    pub fn heap_bytes(&self) -> usize {
        self.nodes.values().map(|n| n.buf.capacity() + std::mem::size_of::<Node>() + 16).sum()
    }
}

/// Node count of a compressed radix tree (as Redis's rax) over sorted 16-byte keys: the root,
/// plus for each compressed chain the node it leads to, plus one node per branch edge.
pub fn rax_nodes(keys: &[[u8; 16]]) -> usize {
    fn below(keys: &[[u8; 16]], d: usize) -> usize {
        if d == 16 {
            return 0;
        }
        let mut e = d;
        while e < 16 && keys.iter().all(|k| k[e] == keys[0][e]) {
            e += 1;
        }
        if e == 16 {
            1
        } else if e > d {
            1 + branch(keys, e)
        } else {
            branch(keys, d)
        }
    }
    fn branch(keys: &[[u8; 16]], e: usize) -> usize {
        let mut n = 0;
        let mut i = 0;
        while i < keys.len() {
            let mut j = i + 1;
            while j < keys.len() && keys[j][e] == keys[i][e] {
                j += 1;
            }
            n += 1 + below(&keys[i..j], e + 1);
            i = j;
        }
        n
    }
    if keys.is_empty() {
        1
    } else {
        1 + below(keys, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(ms: u64, seq: u64) -> StreamId {
        StreamId::new(ms, seq)
    }

    fn fill(s: &mut Stream, n: u64, max: u64) {
        for i in 1..=n {
            s.append(id(i, 0), &[b"f", b"v"], max, 4096);
        }
    }

    #[test]
    fn id_parsing_and_ordering() {
        assert_eq!(parse_id_arg(b"1-2", false), Some(IdArg::Full(id(1, 2))));
        assert_eq!(parse_id_arg(b"5", false), Some(IdArg::MsOnly(5)));
        assert_eq!(parse_id_arg(b"+5", false), Some(IdArg::MsOnly(5)));
        assert_eq!(parse_id_arg(b"5-*", true), Some(IdArg::MsAuto(5)));
        assert_eq!(parse_id_arg(b"5-*", false), None);
        assert_eq!(parse_id_arg(b"18446744073709551616", false), None);
        assert_eq!(parse_id_arg(b"1-2-3", false), None);
        assert_eq!(parse_id_arg(b"-1", false), None);
        assert_eq!(parse_id_arg(b"5-", false), None);
        assert!(id(1, u64::MAX) < id(2, 0));
        assert_eq!(id(1, u64::MAX).incr(), Some(id(2, 0)));
        assert_eq!(StreamId::MAX.incr(), None);
        assert_eq!(StreamId::MIN.decr(), None);
        assert_eq!(id(2, 0).decr(), Some(id(1, u64::MAX)));
        assert_eq!(id(12, 3).fmt(), b"12-3");
    }

    #[test]
    fn nodes_pack_and_decode() {
        let mut s = Stream::new();
        fill(&mut s, 250, 100);
        s.append(id(300, 7), &[b"other", b"x", b"y", b""], 100, 4096);
        assert_eq!(s.len(), 251);
        assert_eq!(s.node_count(), 3);
        let all = s.range(StreamId::MIN, StreamId::MAX, 0, false);
        assert_eq!(all.len(), 251);
        assert_eq!(all[0], (id(1, 0), vec![&b"f"[..], b"v"]));
        assert_eq!(all[250], (id(300, 7), vec![&b"other"[..], b"x", b"y", b""]));
        let rev = s.range(id(99, 0), id(102, 0), 0, true);
        assert_eq!(rev.iter().map(|e| e.0.ms).collect::<Vec<_>>(), vec![102, 101, 100, 99]);
        assert_eq!(s.range(id(5, 1), id(7, 0), 0, false).len(), 2);
        assert_eq!(s.range(StreamId::MIN, StreamId::MAX, 3, true).len(), 3);
        assert_eq!(s.get(id(300, 7)).unwrap().1.len(), 4);
        assert!(s.get(id(300, 6)).is_none());
    }

    #[test]
    fn delete_and_trim() {
        let mut s = Stream::new();
        fill(&mut s, 250, 100);
        assert!(s.delete(id(10, 0)));
        assert!(!s.delete(id(10, 0)));
        assert_eq!(s.max_deleted_id, id(10, 0));
        assert_eq!(s.len(), 249);
        // Approximate: only whole nodes (first node has 99 live entries).
        assert_eq!(s.trim(Trim::MaxLen(200), true, 0), 0);
        assert_eq!(s.trim(Trim::MaxLen(150), true, 0), 99);
        assert_eq!(s.node_count(), 2);
        assert_eq!(s.trim(Trim::MaxLen(140), false, 0), 10);
        assert_eq!(s.first_id(), id(111, 0));
        assert_eq!(s.trim(Trim::MinId(id(120, 0)), false, 0), 9);
        assert_eq!(s.first_id(), id(120, 0));
        // LIMIT stops before a node that would exceed it.
        assert_eq!(s.trim(Trim::MinId(id(240, 0)), true, 50), 0);
        assert_eq!(s.trim(Trim::MinId(id(240, 0)), true, 0), 81);
        assert_eq!(s.len(), 50);
        assert_eq!(s.entries_added, 250);
    }

    #[test]
    fn pel_bookkeeping() {
        let mut s = Stream::new();
        fill(&mut s, 3, 100);
        let mut g = Group::new(StreamId::MIN, 0);
        g.consumer(b"a", 10);
        g.consumer(b"b", 10);
        g.deliver(id(1, 0), b"a", 100, true);
        g.deliver(id(2, 0), b"a", 100, true);
        assert_eq!(g.consumers[&b"a"[..]].pel.len(), 2);
        // Claim by b moves the entry between consumer PELs.
        g.deliver(id(1, 0), b"b", 200, true);
        assert_eq!(g.pel[&id(1, 0)].delivery_count, 2);
        assert_eq!(g.pel[&id(1, 0)].delivery_time, 200);
        assert_eq!(g.consumers[&b"a"[..]].pel.len(), 1);
        assert!(g.consumers[&b"b"[..]].pel.contains(&id(1, 0)));
        assert!(g.ack(id(1, 0)));
        assert!(!g.ack(id(1, 0)));
        assert!(g.consumers[&b"b"[..]].pel.is_empty());
        assert_eq!(g.delete_consumer(b"a"), Some(1));
        assert!(g.pel.is_empty());
        // Group progress and lag.
        let mut g = Group::new(StreamId::MIN, 0);
        s.group_advance(&mut g, id(1, 0));
        assert_eq!((g.entries_read, s.group_lag(&g)), (1, Some(2)));
        s.group_advance(&mut g, id(2, 0));
        s.group_advance(&mut g, id(3, 0));
        assert_eq!((g.entries_read, s.group_lag(&g)), (3, Some(0)));
        // A deletion after the group's position makes the counter an estimate.
        let mut g2 = Group::new(StreamId::MIN, 0);
        s.delete(id(2, 0));
        s.group_advance(&mut g2, id(1, 0));
        assert_eq!(g2.entries_read, ENTRIES_READ_UNKNOWN);
        assert_eq!(s.group_lag(&g2), None);
    }

    #[test]
    fn rax_node_counts() {
        assert_eq!(rax_nodes(&[]), 1);
        assert_eq!(rax_nodes(&[id(1, 1).key_bytes()]), 2);
        // Two keys differing in the last byte: root chain, branch, two leaves.
        assert_eq!(rax_nodes(&[id(1, 1).key_bytes(), id(1, 2).key_bytes()]), 4);
    }

    #[test]
    fn small_entries_are_compact() {
        let mut s = Stream::new();
        for i in 0..10_000u64 {
            s.append(id(1_700_000_000_000 + i / 3, i % 3), &[b"f", b"v"], 100, 4096);
        }
        assert!(s.heap_bytes() < 10_000 * 12, "{} bytes", s.heap_bytes());
    }

    /// The first ID of every node, in order.
    fn masters(s: &Stream) -> Vec<StreamId> {
        s.nodes.keys().copied().collect()
    }

    #[test]
    fn approximate_trim_drops_whole_nodes_and_never_too_many() {
        for n in [0u64, 1, 50, 99, 100, 101, 250, 899, 900, 901, 999, 1000, 1001, 5000] {
            let mut s = Stream::new();
            fill(&mut s, 1000, 100);
            let before = masters(&s);
            let removed = s.trim(Trim::MaxLen(n), true, 0);
            assert_eq!(removed + s.len(), 1000);
            // Never below the requested length, and not one node more could have gone.
            assert!(s.len() >= n.min(1000), "n={n} len={}", s.len());
            assert!(s.len() < n + 100 || s.len() == 1000, "n={n} len={}", s.len());
            // Whole nodes: the remaining nodes are the last ones, untouched.
            assert_eq!(removed % 100, 0);
            assert_eq!(masters(&s), before[(removed / 100) as usize..].to_vec());
            if !s.is_empty() {
                assert_eq!(s.first_id(), masters(&s)[0]);
            }
            assert_eq!((s.entries_added, s.last_id), (1000, id(1000, 0)));
            assert_eq!(s.max_deleted_id, StreamId::MIN);
        }
        // LIMIT: whole nodes only, never more entries than the limit.
        let mut s = Stream::new();
        fill(&mut s, 1000, 100);
        assert_eq!(s.trim(Trim::MaxLen(0), true, 250), 200);
        assert_eq!(s.trim(Trim::MaxLen(0), true, 99), 0);
        assert_eq!(s.first_id(), id(201, 0));
    }

    #[test]
    fn xadd_style_approximate_trim_keeps_length_in_one_node_band() {
        let mut s = Stream::new();
        let fields: [&[u8]; 2] = [b"field", b"value"];
        for i in 1..=20_000u64 {
            s.append(id(i, 0), &fields, 100, 4096);
            let removed = s.trim(Trim::MaxLen(1000), true, 100 * 100);
            assert!(removed == 0 || removed == 100);
            assert!(s.len() <= 1100 && s.len() >= i.min(1000));
        }
        assert_eq!(s.node_count(), s.len().div_ceil(100) as usize);
        assert_eq!(s.entries_added, 20_000);
        assert_eq!(s.last_entry().unwrap().0, id(20_000, 0));
    }

    #[test]
    fn exact_trim_is_exact() {
        for n in [0u64, 1, 37, 100, 101, 555, 999, 1000, 2000] {
            let mut s = Stream::new();
            fill(&mut s, 1000, 100);
            s.trim(Trim::MaxLen(n), false, 0);
            assert_eq!(s.len(), n.min(1000));
            if n > 0 {
                assert_eq!(s.first_id(), id(1000 - n.min(1000) + 1, 0));
                assert_eq!(s.range(StreamId::MIN, StreamId::MAX, 0, false).len() as u64, n.min(1000));
            } else {
                assert_eq!(s.first_entry(), None);
            }
        }
        // Repeated exact trimming by one entry walks each node once (head offset), and stays exact.
        let mut s = Stream::new();
        for i in 1..=1000 {
            s.append(id(i, 0), &[b"f", b"v"], 100, 4096);
            assert_eq!(s.trim(Trim::MaxLen(10), false, 0), u64::from(i > 10));
            assert_eq!(s.len(), i.min(10));
            assert_eq!(s.first_id(), id(i.max(10) - 9, 0));
        }
    }

    #[test]
    fn minid_trimming() {
        let mut s = Stream::new();
        fill(&mut s, 1000, 100);
        // Approximate: only nodes whose last entry is below the minimum.
        assert_eq!(s.trim(Trim::MinId(id(250, 0)), true, 0), 200);
        assert_eq!(s.first_id(), id(201, 0));
        assert_eq!(s.trim(Trim::MinId(id(300, 0)), true, 0), 0);
        assert_eq!(s.trim(Trim::MinId(id(301, 0)), true, 0), 100);
        // Exact: everything below the minimum, nothing at or above it.
        assert_eq!(s.trim(Trim::MinId(id(333, 1)), false, 0), 33);
        assert_eq!(s.first_id(), id(334, 0));
        assert_eq!(s.trim(Trim::MinId(id(334, 0)), false, 0), 0);
        assert_eq!(s.trim(Trim::MinId(StreamId::MAX), false, 0), 667);
        assert!(s.is_empty());
        assert_eq!((s.node_count(), s.first_id()), (0, StreamId::MIN));
    }

    #[test]
    fn trimming_with_deleted_entries() {
        let mut s = Stream::new();
        fill(&mut s, 300, 100);
        // Delete the head of the first node and the last entry of the stream.
        for i in 1..=5 {
            assert!(s.delete(id(i, 0)));
        }
        assert!(s.delete(id(300, 0)));
        assert_eq!((s.len(), s.first_id(), s.max_deleted_id), (294, id(6, 0), id(300, 0)));
        assert_eq!(s.last_entry().unwrap().0, id(299, 0));
        assert_eq!(s.last_id, id(300, 0));
        assert!(s.get(id(3, 0)).is_none() && s.get(id(6, 0)).is_some());
        // The first node holds 95 live entries: it goes as a whole once 95 can go.
        assert_eq!(s.trim(Trim::MaxLen(200), true, 0), 0);
        assert_eq!(s.trim(Trim::MaxLen(199), true, 0), 95);
        assert_eq!(s.first_id(), id(101, 0));
        // Exact trimming skips deleted entries and counts live ones only (101, 103, 104 go).
        assert!(s.delete(id(102, 0)));
        assert_eq!(s.trim(Trim::MaxLen(195), false, 0), 3);
        assert_eq!(s.first_id(), id(105, 0));
        assert_eq!(s.len(), 195);
        // Deleted entries still count towards a node's size: the last node (100 entries, one
        // deleted) is full, the next append opens a new one.
        let nodes = s.node_count();
        s.append(id(301, 0), &[b"f", b"v"], 100, 4096);
        assert_eq!(s.node_count(), nodes + 1);
        assert_eq!(s.last_entry().unwrap().0, id(301, 0));
        // A node whose entries are all deleted is dropped.
        assert!(s.delete(id(301, 0)));
        assert_eq!(s.node_count(), nodes);
        assert_eq!(s.max_deleted_id, id(301, 0));
        assert_eq!(s.entries_added, 301);
    }

    #[test]
    fn node_sizes_follow_listpack_bytes() {
        // Header 7, master entry: count, deleted, field count (2 each), "f" (3), terminator (2).
        let mut n = Node::new([&b"f"[..]].into_iter());
        assert_eq!(n.lp_bytes(), 7 + 2 + 2 + 2 + 3 + 2);
        // flags, ms, seq (2 each), "v" (3), element count (2).
        n.append(id(5, 0), id(5, 0), &[b"f", b"v"]);
        assert_eq!(n.lp_bytes(), 18 + 11);
        // Integer-like strings are integers: 1000 takes 3 bytes, a 64-byte string 67.
        let long = [b'a'; 64];
        n.append(id(5, 0), id(6, 1), &[b"f", b"1000"]);
        assert_eq!(n.lp_bytes(), 29 + 2 + 2 + 2 + 3 + 2);
        n.append(id(5, 0), id(7, 0), &[b"f", &long]);
        assert_eq!(n.lp_bytes(), 40 + 2 + 2 + 2 + 67 + 2);
        // Different fields: field count and names stored, element count 2n+4.
        n.append(id(5, 0), id(8, 0), &[b"g", b"-1", b"h", b"007"]);
        assert_eq!(n.lp_bytes(), 115 + 2 + 2 + 2 + 2 + 3 + 3 + 3 + 5 + 2);
        assert_eq!(canonical_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(canonical_i64(b"9223372036854775808"), None);
        assert_eq!(canonical_i64(b"-0"), None);
        assert_eq!(canonical_i64(b"+1"), None);
        assert_eq!(canonical_i64(b"0"), Some(0));
        // The byte rule: a node ends when its size plus the new strings reaches the limit.
        let mut s = Stream::new();
        let v = [b'x'; 1000];
        for i in 1..=10 {
            s.append(id(i, 0), &[b"f", &v], 0, 4096);
        }
        // A node of k entries is 18 + 1012k bytes; the 5th entry's strings (1001 bytes) would
        // take 4066 to 4096 or more, so it opens a new node: nodes of 4, 4 and 2 entries.
        assert_eq!(s.node_count(), 3);
        assert_eq!(masters(&s), vec![id(1, 0), id(5, 0), id(9, 0)]);
    }

    #[test]
    fn node_stays_small() {
        // One map slot per ~100 entries: keep the per-node bookkeeping small.
        assert!(std::mem::size_of::<Node>() <= 72, "{}", std::mem::size_of::<Node>());
    }
}
