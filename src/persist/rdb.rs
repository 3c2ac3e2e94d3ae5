//! The RDB file format (version 10, as Redis 7.0 writes it): encoder and decoder.
//!
//! Written from the public description of the format (opcodes, length encoding, listpack,
//! intset, ziplist, LZF and CRC-64/Jones); no Redis code.
//!
//! - **Writing** produces what Redis 7.0 can read: strings (int-encoded when the value is a
//!   32-bit integer, LZF-compressed when `rdbcompression yes` and it saves space), lists as
//!   `QUICKLIST_2` of listpacks, sets as `INTSET` or plain `SET` (never the 7.2-only
//!   `SET_LISTPACK`), sorted sets as `ZSET_LISTPACK` or `ZSET_2` (binary doubles), hashes as
//!   `HASH_LISTPACK` or plain `HASH`, expiry times in ms, `SELECTDB`, `RESIZEDB`, aux fields,
//!   `EOF` and the CRC-64 checksum (zero when `rdbchecksum no`, as Redis).
//! - **Reading** also accepts the older and newer encodings: ziplists (hash, zset, list and
//!   quicklist of ziplists), plain lists, `ZSET` with string scores, `SET_LISTPACK` (7.2),
//!   second-resolution expiry, `IDLE`/`FREQ`. Files up to version 11 are accepted.
//! - **Streams** are written as `STREAM_LISTPACKS_2` (type 19, what Redis 7.0 writes and reads;
//!   7.2's type 21 only adds each consumer's active time, which 7.0 cannot read, so that time
//!   is not saved and reloads as "never"). Node boundaries and deleted entries are kept as
//!   they are, so XINFO's radix-tree counts survive a round trip. Types 15, 19 and 21 are
//!   read; the IDs, counts and PEL links inside are checked (entries in order, node counts,
//!   every consumer PEL entry in the group's PEL and every group PEL entry owned once).
//! - **Not supported:** modules and functions are refused.
//! - [`check_file`] backs `redstart check-rdb`: it decodes a whole file and reports its
//!   contents or the byte offset where it is damaged.
//!
//! Every length read from a file is checked against the bytes left before anything is
//! allocated, so a hostile file or `RESTORE` payload yields an error, never a panic or an
//! unbounded allocation.

use crate::db::value::{StrValue, Value};
use crate::types::hash::{Hash, HashLimits};
use crate::types::list::{Fill, List};
use crate::types::set::{Elem, Set, SetLimits};
use crate::types::stream::{Consumer, Group, Pending, Stream, StreamId};
use crate::types::zset::{Limits as ZLimits, Zset};

pub const RDB_VERSION: u16 = 10;
/// Newest version this decoder reads (Redis 7.2 writes 11).
pub const RDB_MAX_READ_VERSION: u16 = 11;

// Opcodes.
const OP_FUNCTION2: u8 = 245;
const OP_FUNCTION: u8 = 246;
const OP_MODULE_AUX: u8 = 247;
const OP_IDLE: u8 = 248;
const OP_FREQ: u8 = 249;
const OP_AUX: u8 = 250;
const OP_RESIZEDB: u8 = 251;
const OP_EXPIRETIME_MS: u8 = 252;
const OP_EXPIRETIME: u8 = 253;
const OP_SELECTDB: u8 = 254;
const OP_EOF: u8 = 255;

// Value types.
pub const T_STRING: u8 = 0;
pub const T_LIST: u8 = 1;
pub const T_SET: u8 = 2;
pub const T_ZSET: u8 = 3;
pub const T_HASH: u8 = 4;
pub const T_ZSET_2: u8 = 5;
pub const T_HASH_ZIPMAP: u8 = 9;
pub const T_LIST_ZIPLIST: u8 = 10;
pub const T_SET_INTSET: u8 = 11;
pub const T_ZSET_ZIPLIST: u8 = 12;
pub const T_HASH_ZIPLIST: u8 = 13;
pub const T_LIST_QUICKLIST: u8 = 14;
pub const T_HASH_LISTPACK: u8 = 16;
pub const T_ZSET_LISTPACK: u8 = 17;
pub const T_LIST_QUICKLIST_2: u8 = 18;
pub const T_SET_LISTPACK: u8 = 20;
pub const T_STREAM_LISTPACKS: u8 = 15;
pub const T_STREAM_LISTPACKS_2: u8 = 19;
pub const T_STREAM_LISTPACKS_3: u8 = 21;

// ---------------------------------------------------------------------------------------------
// CRC-64/Jones (reflected, polynomial 0xad93d23594c935a9, init 0, no final xor): the checksum
// Redis appends to RDB files and DUMP payloads.

const CRC_TABLE: [u64; 256] = {
    // The reflected form of 0xad93d23594c935a9.
    const POLY: u64 = 0x95ac_9329_ac4b_c9b5;
    let mut t = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u64;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 == 1 { (c >> 1) ^ POLY } else { c >> 1 };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// Continues a CRC-64/Jones over `data` (start with 0).
pub fn crc64(mut crc: u64, data: &[u8]) -> u64 {
    for &b in data {
        crc = CRC_TABLE[((crc ^ b as u64) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

// ---------------------------------------------------------------------------------------------
// LZF: literal runs (`000LLLLL` + L+1 bytes) and back references (`LLLooooo [LLLLLLLL] oooooooo`:
// length-2 in 3 bits, extended by a byte when 7; offset-1 in 13 bits).

const LZF_MAX_OFF: usize = 1 << 13;
const LZF_MAX_REF: usize = (1 << 8) + (1 << 3); // longest match: 7 + 255 + 2 = 264
const LZF_HASH_BITS: u32 = 14;

/// Compresses `src`; `None` when the result would not be shorter than `max_out` bytes.
pub fn lzf_compress(src: &[u8], max_out: usize) -> Option<Vec<u8>> {
    let n = src.len();
    let mut out = Vec::with_capacity(max_out.min(n + n / 16 + 8));
    let mut table = vec![usize::MAX; 1 << LZF_HASH_BITS];
    let hash = |i: usize| -> usize {
        let v = (src[i] as u32) << 16 | (src[i + 1] as u32) << 8 | src[i + 2] as u32;
        (v.wrapping_mul(2654435761) >> (32 - LZF_HASH_BITS)) as usize
    };
    let mut lit_start = 0;
    let mut i = 0;
    let flush_lits = |out: &mut Vec<u8>, from: usize, to: usize| {
        let mut s = from;
        while s < to {
            let run = (to - s).min(32);
            out.push((run - 1) as u8);
            out.extend_from_slice(&src[s..s + run]);
            s += run;
        }
    };
    while i + 2 < n {
        let h = hash(i);
        let cand = table[h];
        table[h] = i;
        if cand != usize::MAX && i - cand <= LZF_MAX_OFF && src[cand..cand + 3] == src[i..i + 3] {
            let max = (n - i).min(LZF_MAX_REF);
            let mut len = 3;
            while len < max && src[cand + len] == src[i + len] {
                len += 1;
            }
            flush_lits(&mut out, lit_start, i);
            let off = i - cand - 1;
            let l = len - 2;
            if l < 7 {
                out.push(((l as u8) << 5) | (off >> 8) as u8);
            } else {
                out.push((7 << 5) | (off >> 8) as u8);
                out.push((l - 7) as u8);
            }
            out.push(off as u8);
            // Index the positions the match covers (cheaply: the last two).
            let end = i + len;
            for j in (end.saturating_sub(2)).max(i + 1)..end {
                if j + 2 < n {
                    table[hash(j)] = j;
                }
            }
            i = end;
            lit_start = i;
            if out.len() >= max_out {
                return None;
            }
        } else {
            i += 1;
        }
    }
    flush_lits(&mut out, lit_start, n);
    (out.len() < max_out).then_some(out)
}

/// Decompresses `src` into exactly `out_len` bytes.
pub fn lzf_decompress(src: &[u8], out_len: usize) -> Result<Vec<u8>, String> {
    let bad = || "Invalid LZF compressed string".to_string();
    // LZF expands at most ~132x (a 2-byte reference yields up to 264 bytes): refuse claims
    // beyond that before allocating.
    if out_len > src.len().saturating_mul(133).saturating_add(64) {
        return Err(bad());
    }
    let mut out = Vec::with_capacity(out_len);
    let mut i = 0;
    while i < src.len() {
        let ctrl = src[i] as usize;
        i += 1;
        if ctrl < 32 {
            let run = ctrl + 1;
            if i + run > src.len() || out.len() + run > out_len {
                return Err(bad());
            }
            out.extend_from_slice(&src[i..i + run]);
            i += run;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += *src.get(i).ok_or_else(bad)? as usize;
                i += 1;
            }
            len += 2;
            let lo = *src.get(i).ok_or_else(bad)? as usize;
            i += 1;
            let back = ((ctrl & 0x1f) << 8) + lo + 1;
            if back > out.len() || out.len() + len > out_len {
                return Err(bad());
            }
            let start = out.len() - back;
            for k in 0..len {
                out.push(out[start + k]);
            }
        }
    }
    if out.len() != out_len {
        return Err(bad());
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Encoder

/// Options for writing values.
#[derive(Clone, Copy, Debug)]
pub struct EncodeOpts {
    /// `rdbcompression`: LZF-compress strings longer than 20 bytes when it saves space.
    pub compress: bool,
}

pub fn put_len(out: &mut Vec<u8>, len: u64) {
    if len < 1 << 6 {
        out.push(len as u8);
    } else if len < 1 << 14 {
        out.push(0x40 | (len >> 8) as u8);
        out.push(len as u8);
    } else if len <= u32::MAX as u64 {
        out.push(0x80);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&len.to_be_bytes());
    }
}

/// Writes an integer as Redis's int-encoded string when it fits 32 bits; false otherwise.
fn put_int_string(out: &mut Vec<u8>, v: i64) -> bool {
    if v >= i8::MIN as i64 && v <= i8::MAX as i64 {
        out.push(0xC0);
        out.push(v as i8 as u8);
    } else if v >= i16::MIN as i64 && v <= i16::MAX as i64 {
        out.push(0xC1);
        out.extend_from_slice(&(v as i16).to_le_bytes());
    } else if v >= i32::MIN as i64 && v <= i32::MAX as i64 {
        out.push(0xC2);
        out.extend_from_slice(&(v as i32).to_le_bytes());
    } else {
        return false;
    }
    true
}

/// Writes a string: int-encoded if it is the canonical text of a 32-bit integer (Redis does
/// this for strings up to 11 bytes), LZF-compressed if allowed and smaller, else raw.
pub fn put_string(out: &mut Vec<u8>, s: &[u8], o: EncodeOpts) {
    if s.len() <= 11 {
        if let Some(v) = resp::parse_i64(s) {
            if put_int_string(out, v) {
                return;
            }
        }
    }
    if o.compress && s.len() > 20 {
        // Redis only keeps a compressed form that saves at least 4 bytes.
        if let Some(c) = lzf_compress(s, s.len() - 4) {
            out.push(0xC3);
            put_len(out, c.len() as u64);
            put_len(out, s.len() as u64);
            out.extend_from_slice(&c);
            return;
        }
    }
    put_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// Builds a listpack (the blob inside `HASH_LISTPACK`, `ZSET_LISTPACK`, `QUICKLIST_2` nodes).
pub struct ListpackBuilder {
    buf: Vec<u8>,
    count: usize,
}

impl Default for ListpackBuilder {
    fn default() -> Self {
        ListpackBuilder { buf: vec![0; 6], count: 0 }
    }
}

impl ListpackBuilder {
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn bytes(&self) -> usize {
        self.buf.len() + 1
    }

    pub fn push_int(&mut self, v: i64) {
        let start = self.buf.len();
        if (0..=127).contains(&v) {
            self.buf.push(v as u8);
        } else if (-4096..=4095).contains(&v) {
            let u = (v as u16) & 0x1fff;
            self.buf.push(0xC0 | (u >> 8) as u8);
            self.buf.push(u as u8);
        } else if v >= i16::MIN as i64 && v <= i16::MAX as i64 {
            self.buf.push(0xF1);
            self.buf.extend_from_slice(&(v as i16).to_le_bytes());
        } else if (-(1 << 23)..(1 << 23)).contains(&v) {
            self.buf.push(0xF2);
            self.buf.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
        } else if v >= i32::MIN as i64 && v <= i32::MAX as i64 {
            self.buf.push(0xF3);
            self.buf.extend_from_slice(&(v as i32).to_le_bytes());
        } else {
            self.buf.push(0xF4);
            self.buf.extend_from_slice(&v.to_le_bytes());
        }
        self.finish_entry(start);
    }

    /// Adds an element: integer-encoded when it is the canonical text of an i64, as Redis does.
    pub fn push(&mut self, s: &[u8]) {
        if s.len() <= 20 {
            if let Some(v) = resp::parse_i64(s) {
                return self.push_int(v);
            }
        }
        let start = self.buf.len();
        let n = s.len();
        if n < 64 {
            self.buf.push(0x80 | n as u8);
        } else if n < 4096 {
            self.buf.push(0xE0 | (n >> 8) as u8);
            self.buf.push(n as u8);
        } else {
            self.buf.push(0xF0);
            self.buf.extend_from_slice(&(n as u32).to_le_bytes());
        }
        self.buf.extend_from_slice(s);
        self.finish_entry(start);
    }

    /// Appends the entry's back-length: its size in 7-bit groups, most significant first,
    /// every byte but the first flagged with the high bit, so it can be read right to left.
    fn finish_entry(&mut self, start: usize) {
        let l = (self.buf.len() - start) as u64;
        let groups = backlen_size(l);
        for g in (0..groups).rev() {
            let b = ((l >> (7 * g)) & 127) as u8;
            self.buf.push(if g == groups - 1 { b } else { b | 128 });
        }
        self.count += 1;
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(0xFF);
        let total = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&total.to_le_bytes());
        let n = if self.count < 65535 { self.count as u16 } else { 65535 };
        self.buf[4..6].copy_from_slice(&n.to_le_bytes());
        self.buf
    }
}

fn backlen_size(l: u64) -> usize {
    match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    }
}

/// A score as Redis writes it into a listpack: an integer when it is one, else text that
/// `strtod` reads back to the same double.
fn push_score(lp: &mut ListpackBuilder, s: f64) {
    if s.fract() == 0.0 && s.abs() < 9.0e15 {
        lp.push_int(s as i64);
    } else {
        lp.push(format!("{s:?}").as_bytes());
    }
}

/// Writes `value`'s type byte and payload.
pub fn put_value(out: &mut Vec<u8>, value: &Value, o: EncodeOpts) {
    let mut b = itoa::Buffer::new();
    match value {
        Value::Str(s) => {
            out.push(T_STRING);
            match s {
                StrValue::Int(v) => {
                    if !put_int_string(out, *v) {
                        put_string(out, b.format(*v).as_bytes(), o);
                    }
                }
                _ => put_string(out, s.as_bytes(&mut b), o),
            }
        }
        Value::List(l) => {
            out.push(T_LIST_QUICKLIST_2);
            // Nodes of at most 128 elements or ~8 KB, whichever comes first.
            let mut nodes: Vec<Vec<u8>> = Vec::new();
            let mut lp = ListpackBuilder::default();
            for e in l.iter() {
                if !lp.is_empty() && (lp.len() >= 128 || lp.bytes() + e.len() > 8192) {
                    nodes.push(std::mem::take(&mut lp).finish());
                }
                lp.push(e);
            }
            if !lp.is_empty() {
                nodes.push(lp.finish());
            }
            put_len(out, nodes.len() as u64);
            for n in nodes {
                put_len(out, 2); // container: packed
                put_string(out, &n, o);
            }
        }
        Value::Set(s) => match &**s {
            Set::Int(is) => {
                out.push(T_SET_INTSET);
                let (min, max) = is.iter().fold((0i64, 0i64), |(a, z), v| (a.min(v), z.max(v)));
                let width: usize = if min >= i16::MIN as i64 && max <= i16::MAX as i64 {
                    2
                } else if min >= i32::MIN as i64 && max <= i32::MAX as i64 {
                    4
                } else {
                    8
                };
                let mut blob = Vec::with_capacity(8 + width * is.len());
                blob.extend_from_slice(&(width as u32).to_le_bytes());
                blob.extend_from_slice(&(is.len() as u32).to_le_bytes());
                for v in is.iter() {
                    blob.extend_from_slice(&v.to_le_bytes()[..width]);
                }
                put_string(out, &blob, o);
            }
            _ => {
                out.push(T_SET);
                put_len(out, s.len() as u64);
                for e in s.iter() {
                    match e {
                        Elem::Int(v) => put_string(out, b.format(v).as_bytes(), o),
                        Elem::Bytes(x) => put_string(out, x, o),
                    }
                }
            }
        },
        Value::Zset(z) => match &**z {
            Zset::Pack(_) => {
                out.push(T_ZSET_LISTPACK);
                let mut lp = ListpackBuilder::default();
                for (m, s) in z.entries() {
                    lp.push(m);
                    push_score(&mut lp, s);
                }
                put_string(out, &lp.finish(), o);
            }
            Zset::Big(_) => {
                out.push(T_ZSET_2);
                let items = z.entries();
                put_len(out, items.len() as u64);
                // Highest first, as Redis writes them (its loader then prepends cheaply).
                for (m, s) in items.iter().rev() {
                    put_string(out, m, o);
                    out.extend_from_slice(&s.to_le_bytes());
                }
            }
        },
        Value::Hash(h) => match &**h {
            Hash::Pack(_) => {
                out.push(T_HASH_LISTPACK);
                let mut lp = ListpackBuilder::default();
                for (f, v) in h.iter() {
                    lp.push(f);
                    lp.push(v);
                }
                put_string(out, &lp.finish(), o);
            }
            Hash::Table(_) => {
                out.push(T_HASH);
                put_len(out, h.len() as u64);
                for (f, v) in h.iter() {
                    put_string(out, f, o);
                    put_string(out, v, o);
                }
            }
        },
        Value::Stream(st) => put_stream(out, st, o),
    }
}

const SF_DELETED: i64 = 1;
const SF_SAMEFIELDS: i64 = 2;

fn put_id_lens(out: &mut Vec<u8>, id: StreamId) {
    put_len(out, id.ms);
    put_len(out, id.seq);
}

/// A stream as `STREAM_LISTPACKS_2` (type 19, what Redis 7.0 writes and reads): one listpack
/// per node, keyed by its 128-bit big-endian master ID. The listpack opens with the master
/// entry (live count, deleted count, master field count, the names, a 0 terminator); each
/// entry is flags, ms and seq deltas from the master ID, then either the values alone (same
/// fields as the master) or a field count and the pairs, then its element count ("lp-count").
/// Then the length, last ID, first ID, max deleted ID, entries added, and the groups with
/// their PEL (raw IDs, delivery time, count) and consumers (seen time, own PEL as raw IDs).
fn put_stream(out: &mut Vec<u8>, st: &Stream, o: EncodeOpts) {
    put_stream_as(out, st, o, T_STREAM_LISTPACKS_2);
}

/// [`put_stream`] in the layout of type `t` (15, 19 or 21); the older and newer ones only for
/// tests of the reader.
fn put_stream_as(out: &mut Vec<u8>, st: &Stream, o: EncodeOpts, t: u8) {
    out.push(t);
    let nodes = st.log.raw_nodes();
    put_len(out, nodes.len() as u64);
    for (master, mf, entries) in &nodes {
        let mut lp = ListpackBuilder::default();
        let deleted = entries.iter().filter(|e| e.1).count() as i64;
        lp.push_int(entries.len() as i64 - deleted);
        lp.push_int(deleted);
        lp.push_int(mf.len() as i64);
        for f in mf {
            lp.push(f);
        }
        lp.push_int(0);
        for (id, del, fields) in entries {
            let nf = fields.len() / 2;
            let same = nf == mf.len() && (0..nf).all(|i| fields[2 * i] == mf[i]);
            let mut flags = if same { SF_SAMEFIELDS } else { 0 };
            if *del {
                flags |= SF_DELETED;
            }
            lp.push_int(flags);
            lp.push_int(id.ms.wrapping_sub(master.ms) as i64);
            lp.push_int(id.seq.wrapping_sub(master.seq) as i64);
            if same {
                for i in 0..nf {
                    lp.push(fields[2 * i + 1]);
                }
                lp.push_int(nf as i64 + 3);
            } else {
                lp.push_int(nf as i64);
                for f in fields {
                    lp.push(f);
                }
                lp.push_int(2 * nf as i64 + 4);
            }
        }
        put_string(out, &master.key_bytes(), o);
        put_string(out, &lp.finish(), o);
    }
    put_len(out, st.log.len());
    put_id_lens(out, st.log.last_id);
    if t >= T_STREAM_LISTPACKS_2 {
        put_id_lens(out, st.log.first_id());
        put_id_lens(out, st.log.max_deleted_id);
        put_len(out, st.log.entries_added);
    }
    put_len(out, st.groups.len() as u64);
    for (name, g) in &st.groups {
        put_string(out, name, o);
        put_id_lens(out, g.last_id);
        if t >= T_STREAM_LISTPACKS_2 {
            // -1 (unknown) is written as its 64-bit two's complement.
            put_len(out, g.entries_read as u64);
        }
        put_len(out, g.pel.len() as u64);
        for (id, p) in &g.pel {
            out.extend_from_slice(&id.key_bytes());
            out.extend_from_slice(&p.delivery_time.to_le_bytes());
            put_len(out, p.delivery_count);
        }
        put_len(out, g.consumers.len() as u64);
        for (cname, c) in &g.consumers {
            put_string(out, cname, o);
            out.extend_from_slice(&c.seen_time.to_le_bytes());
            if t >= T_STREAM_LISTPACKS_3 {
                out.extend_from_slice(&c.active_time.map_or(u64::MAX, |a| a).to_le_bytes());
            }
            put_len(out, c.pel.len() as u64);
            for id in &c.pel {
                out.extend_from_slice(&id.key_bytes());
            }
        }
    }
}

fn lp_int(items: &[Vec<u8>], i: usize) -> Result<i64, String> {
    items.get(i).and_then(|b| resp::parse_i64(b)).ok_or_else(|| corrupt("stream listpack"))
}

fn raw_id(r: &mut Reader) -> Result<StreamId, String> {
    let b = r.take(16)?;
    Ok(StreamId::new(
        u64::from_be_bytes(b[0..8].try_into().expect("8")),
        u64::from_be_bytes(b[8..16].try_into().expect("8")),
    ))
}

fn id_lens(r: &mut Reader) -> Result<StreamId, String> {
    Ok(StreamId::new(r.length()?, r.length()?))
}

/// Reads a stream of type 15, 19 or 21 (see [`put_stream`]; 15 lacks the first/max-deleted
/// IDs, entries added and entries-read; 21 adds each consumer's active time).
fn read_stream(r: &mut Reader, t: u8) -> Result<Stream, String> {
    let bad = || corrupt("stream");
    let mut st = Stream::new();
    let nodes = r.count(2)?;
    for _ in 0..nodes {
        let key = r.string()?;
        if key.len() != 16 {
            return Err("Stream node key entry is not the size of a stream ID".into());
        }
        let master = StreamId::new(
            u64::from_be_bytes(key[0..8].try_into().expect("8")),
            u64::from_be_bytes(key[8..16].try_into().expect("8")),
        );
        let items = listpack_items(&r.string()?)?;
        if items.is_empty() {
            return Err("Empty listpack inside stream".into());
        }
        let live = lp_int(&items, 0)?;
        let deleted = lp_int(&items, 1)?;
        let nmf = usize::try_from(lp_int(&items, 2)?).map_err(|_| bad())?;
        if nmf > items.len() {
            return Err(bad());
        }
        let mf: Vec<&[u8]> = items.get(3..3 + nmf).ok_or_else(bad)?.iter().map(|v| &v[..]).collect();
        let mut i = 3 + nmf;
        if lp_int(&items, i)? != 0 {
            return Err(bad());
        }
        i += 1;
        let mut entries = Vec::new();
        while i < items.len() {
            let flags = lp_int(&items, i)?;
            let ms = master.ms.wrapping_add(lp_int(&items, i + 1)? as u64);
            let seq = master.seq.wrapping_add(lp_int(&items, i + 2)? as u64);
            i += 3;
            let mut fields: Vec<&[u8]> = Vec::new();
            if flags & SF_SAMEFIELDS != 0 {
                let vals = items.get(i..i + nmf).ok_or_else(bad)?;
                for (f, v) in mf.iter().zip(vals) {
                    fields.push(f);
                    fields.push(v);
                }
                i += nmf;
            } else {
                let nf = usize::try_from(lp_int(&items, i)?).map_err(|_| bad())?;
                if nf > items.len() {
                    return Err(bad());
                }
                fields.extend(items.get(i + 1..i + 1 + 2 * nf).ok_or_else(bad)?.iter().map(|v| &v[..]));
                i += 1 + 2 * nf;
            }
            lp_int(&items, i)?; // lp-count
            i += 1;
            entries.push((StreamId::new(ms, seq), flags & SF_DELETED != 0, fields));
        }
        let del = entries.iter().filter(|e| e.1).count() as i64;
        if live != entries.len() as i64 - del || deleted != del {
            return Err("Stream node entry counts do not match its entries".into());
        }
        st.log.push_raw_node(master, &mf, &entries).map_err(|e| format!("Corrupt stream: {e}"))?;
    }
    let length = r.length()?;
    if length != st.log.len() {
        return Err("Stream length does not match its entries".into());
    }
    st.log.last_id = id_lens(r)?;
    if st.log.last_entry().is_some_and(|(id, _)| id > st.log.last_id) {
        return Err("Stream last ID is smaller than its last entry".into());
    }
    if t >= T_STREAM_LISTPACKS_2 {
        id_lens(r)?; // first ID: recomputed from the entries
        st.log.max_deleted_id = id_lens(r)?;
        st.log.entries_added = r.length()?;
    } else {
        st.log.entries_added = length;
    }
    let ngroups = r.count(1)?;
    for _ in 0..ngroups {
        let name = r.string()?;
        let last_id = id_lens(r)?;
        let entries_read =
            if t >= T_STREAM_LISTPACKS_2 { r.length()? as i64 } else { crate::types::stream::ENTRIES_READ_UNKNOWN };
        let mut g = Group::new(last_id, entries_read);
        let npel = r.count(17)?;
        for _ in 0..npel {
            let id = raw_id(r)?;
            let delivery_time = r.u64_le()?;
            let delivery_count = r.length()?;
            let p = Pending { consumer: Box::default(), delivery_time, delivery_count };
            if g.pel.insert(id, p).is_some() {
                return Err("Duplicated global PEL entry loading stream consumer group".into());
            }
        }
        let ncons = r.count(2)?;
        for _ in 0..ncons {
            let cname: Box<[u8]> = r.string()?.into();
            let seen_time = r.u64_le()?;
            // 7.2's active time; -1 (all ones) = never active.
            let active_time =
                if t >= T_STREAM_LISTPACKS_3 { Some(r.u64_le()?).filter(|&a| a != u64::MAX) } else { None };
            let mut c = Consumer { seen_time, active_time, pel: Default::default() };
            let n = r.count(16)?;
            for _ in 0..n {
                let id = raw_id(r)?;
                let p = g.pel.get_mut(&id).ok_or("Consumer PEL entry not found in the group's global PEL")?;
                if !p.consumer.is_empty() || !c.pel.insert(id) {
                    return Err("Consumer PEL entry owned twice".into());
                }
                p.consumer = cname.clone();
            }
            if g.consumers.insert(cname, c).is_some() {
                return Err("Duplicated consumer name in stream group".into());
            }
        }
        if g.pel.values().any(|p| p.consumer.is_empty()) {
            return Err("Stream group has a pending entry with no consumer".into());
        }
        if st.groups.insert(name.into(), g).is_some() {
            return Err("Duplicated consumer group name loading stream".into());
        }
    }
    Ok(st)
}

/// The file header and aux fields.
pub fn put_header(out: &mut Vec<u8>, now_ms: u64, used_mem: u64, aof_base: bool) {
    out.extend_from_slice(format!("REDIS{RDB_VERSION:04}").as_bytes());
    let o = EncodeOpts { compress: false };
    let mut aux = |k: &str, v: &str| {
        out.push(OP_AUX);
        put_string(out, k.as_bytes(), o);
        put_string(out, v.as_bytes(), o);
    };
    // Redis 7.0 reads the version to report it; "7.0.15" keeps tools that check it happy.
    aux("redis-ver", "7.0.15");
    aux("redis-bits", &(usize::BITS).to_string());
    aux("ctime", &(now_ms / 1000).to_string());
    aux("used-mem", &used_mem.to_string());
    aux("aof-base", if aof_base { "1" } else { "0" });
}

pub fn put_select_db(out: &mut Vec<u8>, db: usize, keys: usize, expires: usize) {
    out.push(OP_SELECTDB);
    put_len(out, db as u64);
    out.push(OP_RESIZEDB);
    put_len(out, keys as u64);
    put_len(out, expires as u64);
}

/// One key: optional expiry, then type, key and value. Returns false (and writes nothing) for
/// a value the writer does not handle.
pub fn put_entry(out: &mut Vec<u8>, key: &[u8], value: &Value, expire_at: u64, o: EncodeOpts) {
    if expire_at != 0 {
        out.push(OP_EXPIRETIME_MS);
        out.extend_from_slice(&expire_at.to_le_bytes());
    }
    let tpos = out.len();
    put_value(out, value, o);
    // put_value wrote the type byte then the payload; the key goes between them.
    let payload = out.split_off(tpos + 1);
    put_string(out, key, o);
    out.extend_from_slice(&payload);
}

/// EOF opcode and checksum over everything before it (`checksum` false: zero, as Redis with
/// `rdbchecksum no`).
pub fn put_footer(out: &mut Vec<u8>, crc_so_far: u64, checksum: bool) {
    out.push(OP_EOF);
    let crc = if checksum { crc64(crc_so_far, &[OP_EOF]) } else { 0 };
    out.extend_from_slice(&crc.to_le_bytes());
}

/// A `DUMP` payload: type + value, the RDB version (2 bytes LE) and a CRC-64 of both.
pub fn dump_payload(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    put_value(&mut out, value, EncodeOpts { compress: true });
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

// ---------------------------------------------------------------------------------------------
// Decoder

/// Encoding limits applied to loaded values (the server's current configuration).
#[derive(Clone, Copy, Debug, Default)]
pub struct LoadLimits {
    pub hash: HashLimits,
    pub set: SetLimits,
    pub zset: ZLimits,
    pub fill: Fill,
}

pub struct Reader<'a> {
    data: &'a [u8],
    pub pos: usize,
}

fn eof() -> String {
    "Unexpected EOF reading RDB file".to_string()
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Reader<'a> {
        Reader { data, pos: 0 }
    }

    fn left(&self) -> usize {
        self.data.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if n > self.left() {
            return Err(eof());
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn u64_le(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }

    /// A length, or `Err(Ok(enc))` for the special string encodings.
    fn len_or_enc(&mut self) -> Result<Result<u64, u8>, String> {
        let b = self.u8()?;
        Ok(match b >> 6 {
            0 => Ok((b & 0x3f) as u64),
            1 => Ok((((b & 0x3f) as u64) << 8) | self.u8()? as u64),
            2 => match b {
                0x80 => Ok(u32::from_be_bytes(self.take(4)?.try_into().expect("4")) as u64),
                0x81 => Ok(u64::from_be_bytes(self.take(8)?.try_into().expect("8"))),
                _ => return Err(format!("Unknown length encoding {b} in rdbLoadLen()")),
            },
            _ => Err(b & 0x3f),
        })
    }

    pub fn length(&mut self) -> Result<u64, String> {
        match self.len_or_enc()? {
            Ok(n) => Ok(n),
            Err(_) => Err("Unexpected string encoding where a length was expected".into()),
        }
    }

    /// A count of items each taking at least `min_bytes`: refused when the rest of the input
    /// cannot hold them (so no allocation is sized by a lie).
    fn count(&mut self, min_bytes: usize) -> Result<usize, String> {
        let n = self.length()?;
        if n > (self.left() / min_bytes.max(1)) as u64 {
            return Err(eof());
        }
        Ok(n as usize)
    }

    pub fn string(&mut self) -> Result<Vec<u8>, String> {
        match self.len_or_enc()? {
            Ok(n) => Ok(self.take(usize::try_from(n).map_err(|_| eof())?)?.to_vec()),
            Err(0) => Ok((self.u8()? as i8).to_string().into_bytes()),
            Err(1) => Ok(i16::from_le_bytes(self.take(2)?.try_into().expect("2")).to_string().into_bytes()),
            Err(2) => Ok(i32::from_le_bytes(self.take(4)?.try_into().expect("4")).to_string().into_bytes()),
            Err(3) => {
                let clen = self.length()?;
                let ulen = self.length()?;
                let c = self.take(usize::try_from(clen).map_err(|_| eof())?)?;
                lzf_decompress(c, usize::try_from(ulen).map_err(|_| eof())?)
            }
            Err(e) => Err(format!("Unknown RDB string encoding type {e}")),
        }
    }

    fn binary_double(&mut self) -> Result<f64, String> {
        Ok(f64::from_le_bytes(self.take(8)?.try_into().expect("8")))
    }

    /// The old text-encoded double of `ZSET` (type 3): a length byte, 253 = NaN, 254 = +inf,
    /// 255 = -inf.
    fn text_double(&mut self) -> Result<f64, String> {
        let n = self.u8()?;
        match n {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            _ => parse_double(self.take(n as usize)?),
        }
    }
}

fn parse_double(b: &[u8]) -> Result<f64, String> {
    std::str::from_utf8(b)
        .ok()
        .and_then(|s| match s.to_ascii_lowercase().as_str() {
            "inf" | "+inf" | "infinity" => Some(f64::INFINITY),
            "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
            t => t.parse::<f64>().ok(),
        })
        .ok_or_else(|| "Invalid double value".to_string())
}

fn corrupt(what: &str) -> String {
    format!("Corrupt {what}")
}

/// The elements of a listpack blob.
pub fn listpack_items(lp: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let bad = || corrupt("listpack");
    if lp.len() < 7 || u32::from_le_bytes(lp[0..4].try_into().expect("4")) as usize != lp.len() {
        return Err(bad());
    }
    let mut items = Vec::new();
    let mut i = 6;
    loop {
        let b = *lp.get(i).ok_or_else(bad)?;
        if b == 0xFF {
            if i + 1 != lp.len() {
                return Err(bad());
            }
            break;
        }
        let need = |i: usize, n: usize| if i + n <= lp.len() { Ok(()) } else { Err(bad()) };
        let start = i;
        let item: Vec<u8> = if b & 0x80 == 0 {
            i += 1;
            (b as i64).to_string().into_bytes()
        } else if b & 0xC0 == 0x80 {
            let n = (b & 0x3f) as usize;
            need(i + 1, n)?;
            i += 1 + n;
            lp[i - n..i].to_vec()
        } else if b & 0xE0 == 0xC0 {
            need(i, 2)?;
            let u = (((b & 0x1f) as u16) << 8) | lp[i + 1] as u16;
            // 13-bit two's complement.
            let v = if u & 0x1000 != 0 { u as i64 - 0x2000 } else { u as i64 };
            i += 2;
            v.to_string().into_bytes()
        } else if b & 0xF0 == 0xE0 {
            need(i, 2)?;
            let n = (((b & 0x0f) as usize) << 8) | lp[i + 1] as usize;
            need(i + 2, n)?;
            i += 2 + n;
            lp[i - n..i].to_vec()
        } else {
            let int = |w: usize, i: usize| -> Result<i64, String> {
                need(i + 1, w)?;
                let mut buf = [0u8; 8];
                buf[..w].copy_from_slice(&lp[i + 1..i + 1 + w]);
                let shift = 64 - 8 * w as u32;
                Ok((i64::from_le_bytes(buf) << shift) >> shift)
            };
            match b {
                0xF0 => {
                    need(i + 1, 4)?;
                    let n = u32::from_le_bytes(lp[i + 1..i + 5].try_into().expect("4")) as usize;
                    need(i + 5, n)?;
                    i += 5 + n;
                    lp[i - n..i].to_vec()
                }
                0xF1 => {
                    let v = int(2, i)?;
                    i += 3;
                    v.to_string().into_bytes()
                }
                0xF2 => {
                    let v = int(3, i)?;
                    i += 4;
                    v.to_string().into_bytes()
                }
                0xF3 => {
                    let v = int(4, i)?;
                    i += 5;
                    v.to_string().into_bytes()
                }
                0xF4 => {
                    let v = int(8, i)?;
                    i += 9;
                    v.to_string().into_bytes()
                }
                _ => return Err(bad()),
            }
        };
        i += backlen_size((i - start) as u64);
        if i > lp.len() {
            return Err(bad());
        }
        items.push(item);
    }
    Ok(items)
}

/// The elements of a ziplist blob (the encoding before listpack; RDB files from Redis < 7).
pub fn ziplist_items(zl: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let bad = || corrupt("ziplist");
    if zl.len() < 11 || u32::from_le_bytes(zl[0..4].try_into().expect("4")) as usize != zl.len() {
        return Err(bad());
    }
    let mut items = Vec::new();
    let mut i = 10;
    let need = |i: usize, n: usize| if i + n <= zl.len() { Ok(()) } else { Err(bad()) };
    loop {
        let b = *zl.get(i).ok_or_else(bad)?;
        if b == 0xFF {
            break;
        }
        // prevlen
        i += if b == 0xFE { 5 } else { 1 };
        need(i, 1)?;
        let e = zl[i];
        let item = match e >> 6 {
            0 => {
                let n = (e & 0x3f) as usize;
                need(i + 1, n)?;
                i += 1 + n;
                zl[i - n..i].to_vec()
            }
            1 => {
                need(i, 2)?;
                let n = (((e & 0x3f) as usize) << 8) | zl[i + 1] as usize;
                need(i + 2, n)?;
                i += 2 + n;
                zl[i - n..i].to_vec()
            }
            2 => {
                need(i, 5)?;
                let n = u32::from_be_bytes(zl[i + 1..i + 5].try_into().expect("4")) as usize;
                need(i + 5, n)?;
                i += 5 + n;
                zl[i - n..i].to_vec()
            }
            _ => {
                let int = |w: usize| -> Result<i64, String> {
                    need(i + 1, w)?;
                    let mut buf = [0u8; 8];
                    buf[..w].copy_from_slice(&zl[i + 1..i + 1 + w]);
                    let shift = 64 - 8 * w as u32;
                    Ok((i64::from_le_bytes(buf) << shift) >> shift)
                };
                let (v, w) = match e {
                    0xC0 => (int(2)?, 2),
                    0xD0 => (int(4)?, 4),
                    0xE0 => (int(8)?, 8),
                    0xF0 => (int(3)?, 3),
                    0xFE => (int(1)?, 1),
                    0xF1..=0xFD => ((e & 0x0f) as i64 - 1, 0),
                    _ => return Err(bad()),
                };
                i += 1 + w;
                v.to_string().into_bytes()
            }
        };
        items.push(item);
    }
    Ok(items)
}

fn intset_items(b: &[u8]) -> Result<Vec<i64>, String> {
    let bad = || corrupt("intset");
    if b.len() < 8 {
        return Err(bad());
    }
    let w = u32::from_le_bytes(b[0..4].try_into().expect("4")) as usize;
    let n = u32::from_le_bytes(b[4..8].try_into().expect("4")) as usize;
    if !matches!(w, 2 | 4 | 8) || b.len() != 8 + w.checked_mul(n).ok_or_else(bad)? {
        return Err(bad());
    }
    Ok(b[8..]
        .chunks(w)
        .map(|c| {
            let mut buf = [0u8; 8];
            buf[..w].copy_from_slice(c);
            let shift = 64 - 8 * w as u32;
            (i64::from_le_bytes(buf) << shift) >> shift
        })
        .collect())
}

fn build_hash(pairs: impl Iterator<Item = (Vec<u8>, Vec<u8>)>, lim: HashLimits) -> Result<Value, String> {
    // All pairs at once: a listpack hash is then built with one allocation, not one per field.
    let items: Vec<Vec<u8>> = pairs.flat_map(|(f, v)| [f, v]).collect();
    let refs: Vec<&[u8]> = items.iter().map(|x| &x[..]).collect();
    let mut h = Hash::new();
    if h.set_pairs(&refs, lim) != refs.len() / 2 {
        return Err("Duplicate hash fields detected".into());
    }
    Ok(Value::Hash(Box::new(h)))
}

fn build_set(items: Vec<Vec<u8>>, lim: SetLimits) -> Result<Value, String> {
    let Some(first) = items.first() else {
        return Err("Empty set".into());
    };
    let mut s = Set::create(first, items.len(), lim);
    for x in &items {
        if !s.add(x, lim) {
            return Err("Duplicate set members detected".into());
        }
    }
    Ok(Value::Set(Box::new(s)))
}

fn build_zset(items: Vec<(Vec<u8>, f64)>, lim: ZLimits) -> Result<Value, String> {
    let max_len = items.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
    if items.len() <= lim.max_entries && max_len <= lim.max_value && lim.max_entries > 0 {
        // The compact encoding (as `with_hint` would choose), built in one allocation.
        if items.iter().any(|(_, s)| s.is_nan()) {
            return Err("Zset with NAN score detected".into());
        }
        let mut members: Vec<&[u8]> = items.iter().map(|(m, _)| &m[..]).collect();
        members.sort_unstable();
        if members.windows(2).any(|w| w[0] == w[1]) {
            return Err("Duplicate zset fields detected".into());
        }
        let items = items.into_iter().map(|(m, s)| (m.into_boxed_slice(), s)).collect();
        return Ok(Value::Zset(Box::new(Zset::from_items(items, lim))));
    }
    let mut z = Zset::with_hint(items.len(), max_len, lim);
    for (m, s) in &items {
        if s.is_nan() {
            return Err("Zset with NAN score detected".into());
        }
        if !z.insert(m, *s, lim) {
            return Err("Duplicate zset fields detected".into());
        }
    }
    Ok(Value::Zset(Box::new(z)))
}

fn build_list(items: impl Iterator<Item = Vec<u8>>, fill: Fill) -> Value {
    let mut l = List::new();
    for x in items {
        l.push_back(&x, fill);
    }
    Value::List(Box::new(l))
}

type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

fn pairs(items: Vec<Vec<u8>>) -> Result<Pairs, String> {
    if !items.len().is_multiple_of(2) {
        return Err(corrupt("pair list"));
    }
    let mut out = Vec::with_capacity(items.len() / 2);
    let mut it = items.into_iter();
    while let (Some(a), Some(b)) = (it.next(), it.next()) {
        out.push((a, b));
    }
    Ok(out)
}

fn scored(items: Vec<Vec<u8>>) -> Result<Vec<(Vec<u8>, f64)>, String> {
    pairs(items)?.into_iter().map(|(m, s)| Ok((m, parse_double(&s)?))).collect()
}

/// Reads a value of type `t`. `Ok(None)` for an empty collection (skipped, as Redis does).
pub fn read_value(r: &mut Reader, t: u8, lim: &LoadLimits) -> Result<Option<Value>, String> {
    let v = match t {
        T_STRING => Value::from_bytes(&r.string()?),
        T_LIST => {
            let n = r.count(1)?;
            let mut items = Vec::with_capacity(n.min(1 << 16));
            for _ in 0..n {
                items.push(r.string()?);
            }
            build_list(items.into_iter(), lim.fill)
        }
        T_SET => {
            let n = r.count(1)?;
            let mut items = Vec::with_capacity(n.min(1 << 16));
            for _ in 0..n {
                items.push(r.string()?);
            }
            if items.is_empty() {
                return Ok(None);
            }
            build_set(items, lim.set)?
        }
        T_ZSET | T_ZSET_2 => {
            let n = r.count(2)?;
            let mut items = Vec::with_capacity(n.min(1 << 16));
            for _ in 0..n {
                let m = r.string()?;
                let s = if t == T_ZSET_2 { r.binary_double()? } else { r.text_double()? };
                items.push((m, s));
            }
            if items.is_empty() {
                return Ok(None);
            }
            build_zset(items, lim.zset)?
        }
        T_HASH => {
            let n = r.count(2)?;
            let mut items = Vec::with_capacity(n.min(1 << 16));
            for _ in 0..n {
                items.push((r.string()?, r.string()?));
            }
            if items.is_empty() {
                return Ok(None);
            }
            build_hash(items.into_iter(), lim.hash)?
        }
        T_SET_INTSET => {
            let b = r.string()?;
            let items: Vec<Vec<u8>> = intset_items(&b)?.into_iter().map(|v| v.to_string().into_bytes()).collect();
            if items.is_empty() {
                return Ok(None);
            }
            build_set(items, lim.set)?
        }
        T_SET_LISTPACK => {
            let items = listpack_items(&r.string()?)?;
            if items.is_empty() {
                return Ok(None);
            }
            build_set(items, lim.set)?
        }
        T_LIST_ZIPLIST => build_list(ziplist_items(&r.string()?)?.into_iter(), lim.fill),
        T_ZSET_ZIPLIST | T_ZSET_LISTPACK => {
            let b = r.string()?;
            let items = if t == T_ZSET_ZIPLIST { ziplist_items(&b)? } else { listpack_items(&b)? };
            if items.is_empty() {
                return Ok(None);
            }
            build_zset(scored(items)?, lim.zset)?
        }
        T_HASH_ZIPLIST | T_HASH_LISTPACK => {
            let b = r.string()?;
            let items = if t == T_HASH_ZIPLIST { ziplist_items(&b)? } else { listpack_items(&b)? };
            if items.is_empty() {
                return Ok(None);
            }
            build_hash(pairs(items)?.into_iter(), lim.hash)?
        }
        T_LIST_QUICKLIST | T_LIST_QUICKLIST_2 => {
            let n = r.count(1)?;
            let mut l = List::new();
            for _ in 0..n {
                let container = if t == T_LIST_QUICKLIST_2 { r.length()? } else { 2 };
                let blob = r.string()?;
                match container {
                    1 => l.push_back(&blob, lim.fill),
                    2 => {
                        let items = if t == T_LIST_QUICKLIST { ziplist_items(&blob)? } else { listpack_items(&blob)? };
                        for x in items {
                            l.push_back(&x, lim.fill);
                        }
                    }
                    _ => return Err(format!("Unknown quicklist container {container}")),
                }
            }
            Value::List(Box::new(l))
        }
        T_HASH_ZIPMAP => return Err("Zipmap-encoded hashes (RDB < 4) are not supported".into()),
        T_STREAM_LISTPACKS | T_STREAM_LISTPACKS_2 | T_STREAM_LISTPACKS_3 => Value::Stream(Box::new(read_stream(r, t)?)),
        6 | 7 => return Err("Module values are not supported".into()),
        _ => return Err(format!("Unknown RDB value type {t}")),
    };
    if let Value::List(l) = &v {
        if l.is_empty() {
            return Ok(None);
        }
    }
    Ok(Some(v))
}

/// One key loaded from a file.
pub struct Loaded {
    pub db: usize,
    pub key: Vec<u8>,
    pub value: Value,
    /// Absolute ms, 0 = none.
    pub expire_at: u64,
    pub idle: Option<u64>,
    pub freq: Option<u8>,
}

/// What a file held besides keys.
#[derive(Debug, Default)]
pub struct FileInfo {
    pub version: u16,
    pub aux: Vec<(Vec<u8>, Vec<u8>)>,
    pub keys: usize,
    pub checksum: u64,
}

/// Parses a whole RDB file, calling `on_key` for each key, and verifies the checksum at the
/// end (unless the file's checksum is 0: written with `rdbchecksum no`).
pub fn parse_file(
    data: &[u8],
    lim: &LoadLimits,
    databases: usize,
    on_key: impl FnMut(Loaded),
) -> Result<FileInfo, String> {
    parse_file_at(data, lim, databases, on_key).map_err(|(_, e)| e)
}

/// [`parse_file`], with the byte offset where reading stopped on error.
pub fn parse_file_at(
    data: &[u8],
    lim: &LoadLimits,
    databases: usize,
    mut on_key: impl FnMut(Loaded),
) -> Result<FileInfo, (usize, String)> {
    let mut r = Reader::new(data);
    parse_body(&mut r, lim, databases, &mut on_key).map_err(|e| (r.pos, e))
}

/// [`parse_file_at`] for an RDB image followed by other data (an AOF's RDB preamble): also
/// returns where the image ends (after its checksum).
pub fn parse_prefix(
    data: &[u8],
    lim: &LoadLimits,
    databases: usize,
    mut on_key: impl FnMut(Loaded),
) -> Result<(FileInfo, usize), (usize, String)> {
    let mut r = Reader::new(data);
    match parse_body(&mut r, lim, databases, &mut on_key) {
        Ok(info) => Ok((info, r.pos)),
        Err(e) => Err((r.pos, e)),
    }
}

fn parse_body(
    r: &mut Reader,
    lim: &LoadLimits,
    databases: usize,
    on_key: &mut impl FnMut(Loaded),
) -> Result<FileInfo, String> {
    let data = r.data;
    if data.len() < 9 || &data[..5] != b"REDIS" {
        return Err("Wrong signature trying to load DB from file".into());
    }
    let version = std::str::from_utf8(&data[5..9])
        .ok()
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or("Wrong signature trying to load DB from file")?;
    if !(1..=RDB_MAX_READ_VERSION).contains(&version) {
        return Err(format!("Can't handle RDB format version {version}"));
    }
    let mut info = FileInfo { version, ..Default::default() };
    r.pos = 9;
    let mut db = 0usize;
    let (mut expire, mut idle, mut freq) = (0u64, None, None);
    loop {
        let op = r.u8()?;
        match op {
            OP_EOF => {
                if version >= 5 {
                    let at = r.pos;
                    let stored = r.u64_le()?;
                    info.checksum = stored;
                    if stored != 0 {
                        let computed = crc64(0, &data[..at]);
                        if computed != stored {
                            return Err(format!(
                                "Wrong RDB checksum expected: ({stored:x}) got ({computed:x}). Aborting now."
                            ));
                        }
                    }
                }
                return Ok(info);
            }
            OP_SELECTDB => {
                let n = r.length()?;
                if n >= databases as u64 {
                    return Err(format!(
                        "FATAL: Data file was created with a Redis server configured to handle more than {databases} databases. Exiting"
                    ));
                }
                db = n as usize;
            }
            OP_RESIZEDB => {
                r.length()?;
                r.length()?;
            }
            OP_EXPIRETIME_MS => expire = r.u64_le()?,
            OP_EXPIRETIME => {
                expire = u32::from_le_bytes(r.take(4)?.try_into().expect("4")) as u64 * 1000;
            }
            OP_IDLE => idle = Some(r.length()?),
            OP_FREQ => freq = Some(r.u8()?),
            OP_AUX => {
                let k = r.string()?;
                let v = r.string()?;
                info.aux.push((k, v));
            }
            OP_MODULE_AUX => return Err("Module auxiliary data is not supported".into()),
            OP_FUNCTION | OP_FUNCTION2 => return Err("Functions in RDB files are not supported".into()),
            t => {
                let key = r.string()?;
                let value = read_value(r, t, lim)?;
                if let Some(value) = value {
                    info.keys += 1;
                    on_key(Loaded { db, key, value, expire_at: expire, idle, freq });
                }
                (expire, idle, freq) = (0, None, None);
            }
        }
    }
}

/// `redstart check-rdb`: reads a whole file and describes it (version, aux fields, keys by
/// type and expiry per database), or says where it is damaged: `Err` holds the byte offset
/// where reading stopped and the reason. Values are fully decoded and checked, as on load.
pub fn check_file(data: &[u8]) -> Result<String, (usize, String)> {
    use std::collections::BTreeMap;
    use std::fmt::Write;
    // db -> type -> count, and db -> keys with an expiry.
    let mut by_type: BTreeMap<usize, BTreeMap<&'static str, u64>> = BTreeMap::new();
    let mut expires: BTreeMap<usize, u64> = BTreeMap::new();
    let info = parse_file_at(data, &LoadLimits::default(), 1 << 16, |k| {
        *by_type.entry(k.db).or_default().entry(k.value.type_name()).or_default() += 1;
        if k.expire_at != 0 {
            *expires.entry(k.db).or_default() += 1;
        }
    })?;
    let mut out = String::new();
    let _ = writeln!(out, "RDB version: {}", info.version);
    for (k, v) in &info.aux {
        let _ = writeln!(out, "AUX {} = {}", String::from_utf8_lossy(k), String::from_utf8_lossy(v));
    }
    for (db, types) in &by_type {
        let total: u64 = types.values().sum();
        let _ = writeln!(out, "db{db}: keys={total} expires={}", expires.get(db).copied().unwrap_or(0));
        for (t, n) in types {
            let _ = writeln!(out, "db{db}: {t}={n}");
        }
    }
    let _ = writeln!(out, "keys: {}", info.keys);
    let _ = writeln!(
        out,
        "checksum: {}",
        if info.checksum == 0 { "none".into() } else { format!("{:016x} OK", info.checksum) }
    );
    let _ = writeln!(out, "RDB looks OK!");
    Ok(out)
}

/// Checks and decodes a `DUMP` payload into a value.
pub fn parse_payload(p: &[u8], lim: &LoadLimits) -> Result<Value, String> {
    let bad = || "DUMP payload version or checksum are wrong".to_string();
    if p.len() < 10 {
        return Err(bad());
    }
    let (body, footer) = p.split_at(p.len() - 10);
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    if version > RDB_MAX_READ_VERSION {
        return Err(bad());
    }
    let crc = u64::from_le_bytes(footer[2..10].try_into().expect("8"));
    if crc != 0 && crc64(0, &p[..p.len() - 8]) != crc {
        return Err(bad());
    }
    let mut r = Reader::new(body);
    let t = r.u8().map_err(|_| bad())?;
    let v = read_value(&mut r, t, lim).map_err(|_| "Bad data format".to_string())?;
    if r.pos != body.len() {
        return Err("Bad data format".into());
    }
    v.ok_or_else(|| "Bad data format".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_zset_builders_reject_duplicates_and_pick_encodings() {
        let hl = HashLimits { entries: 3, value: 8 };
        let pairs = |v: &[(&str, &str)]| {
            v.iter().map(|(f, x)| (f.as_bytes().to_vec(), x.as_bytes().to_vec())).collect::<Vec<_>>()
        };
        assert!(build_hash(pairs(&[("a", "1"), ("b", "2"), ("a", "3")]).into_iter(), hl).is_err());
        assert!(
            build_hash(pairs(&[("a", "1"), ("b", "2"), ("c", "3"), ("d", "4"), ("a", "5")]).into_iter(), hl).is_err()
        );
        for (input, enc) in [
            (pairs(&[("a", "1"), ("b", "2")]), "listpack"),
            (pairs(&[("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")]), "hashtable"),
            (pairs(&[("a", "123456789")]), "hashtable"),
        ] {
            let Ok(Value::Hash(h)) = build_hash(input.clone().into_iter(), hl) else { panic!("built") };
            assert_eq!(h.encoding(), enc);
            let got: Vec<(Vec<u8>, Vec<u8>)> = h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
            assert_eq!(got, input);
        }
        let zl = ZLimits { max_entries: 3, max_value: 8 };
        let items = |v: &[(&str, f64)]| v.iter().map(|(m, s)| (m.as_bytes().to_vec(), *s)).collect::<Vec<_>>();
        assert!(build_zset(items(&[("a", 1.0), ("b", 2.0), ("a", 3.0)]), zl).is_err());
        assert!(build_zset(items(&[("a", 1.0), ("b", f64::NAN)]), zl).is_err());
        assert!(build_zset(items(&[("a", 1.0), ("b", 2.0), ("c", 3.0), ("a", 0.5)]), zl).is_err());
        for (input, enc) in [
            (items(&[("b", 2.5), ("a", -0.0), ("c", 0.1)]), "listpack"),
            (items(&[("b", 2.5), ("a", 1.0), ("c", 0.1), ("d", 7.0)]), "skiplist"),
            (items(&[("long-member", 1.0)]), "skiplist"),
        ] {
            let Ok(Value::Zset(z)) = build_zset(input.clone(), zl) else { panic!("built") };
            assert_eq!(z.encoding(), enc);
            let mut want: Vec<(Vec<u8>, f64)> =
                input.iter().map(|(m, s)| (m.clone(), if *s == 0.0 { 0.0 } else { *s })).collect();
            want.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
            let got: Vec<(Vec<u8>, f64)> = z.entries().into_iter().map(|(m, s)| (m.to_vec(), s)).collect();
            assert_eq!(got, want);
        }
    }

    #[test]
    fn crc64_known_vector() {
        // The check value of CRC-64/Jones as Redis uses it.
        assert_eq!(crc64(0, b"123456789"), 0xe9c6d914c4b8d9ca);
        assert_eq!(crc64(crc64(0, b"1234"), b"56789"), 0xe9c6d914c4b8d9ca);
    }

    #[test]
    fn lzf_round_trips() {
        let samples: Vec<Vec<u8>> = vec![
            b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_vec(),
            b"hello world hello world hello world hello world!".to_vec(),
            (0..5000u32).map(|i| (i % 7) as u8 + b'a').collect(),
            (0..20000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect(),
            vec![0; 100_000],
        ];
        for s in samples {
            match lzf_compress(&s, s.len()) {
                Some(c) => assert_eq!(lzf_decompress(&c, s.len()).unwrap(), s),
                None => assert!(s.len() > 1000, "compressible sample not compressed"),
            }
        }
        assert!(lzf_compress(&[b'a'; 1000], 1000).unwrap().len() < 20);
        // Hostile input: a back reference before the start, and an impossible length claim.
        assert!(lzf_decompress(&[0x20, 0x05], 3).is_err());
        assert!(lzf_decompress(&[0x00, b'a'], 1 << 40).is_err());
        assert!(lzf_decompress(&[0x01, b'a'], 2).is_err());
    }

    #[test]
    fn listpack_round_trips() {
        let items: Vec<Vec<u8>> = vec![
            b"0".to_vec(),
            b"127".to_vec(),
            b"-1".to_vec(),
            b"4095".to_vec(),
            b"-4096".to_vec(),
            b"30000".to_vec(),
            b"-8000000".to_vec(),
            b"2000000000".to_vec(),
            b"-9223372036854775808".to_vec(),
            b"9223372036854775807".to_vec(),
            b"007".to_vec(),
            b"".to_vec(),
            vec![b'x'; 63],
            vec![b'y'; 64],
            vec![b'z'; 4095],
            vec![b'w'; 4096],
            vec![b'v'; 70000],
        ];
        let mut lp = ListpackBuilder::default();
        for i in &items {
            lp.push(i);
        }
        let blob = lp.finish();
        assert_eq!(listpack_items(&blob).unwrap(), items);
        // Truncations and a wrong total are refused, never a panic.
        for cut in 0..blob.len().min(200) {
            assert!(listpack_items(&blob[..cut]).is_err());
        }
    }

    #[test]
    fn strings_encode_as_redis() {
        let o = EncodeOpts { compress: true };
        let mut out = Vec::new();
        put_string(&mut out, b"12", o);
        assert_eq!(out, [0xC0, 12]);
        out.clear();
        put_string(&mut out, b"-300", o);
        assert_eq!(out, [0xC1, 0xD4, 0xFE]);
        out.clear();
        put_string(&mut out, b"012", o);
        assert_eq!(out, [3, b'0', b'1', b'2']);
        out.clear();
        put_string(&mut out, &[b'q'; 100], o);
        assert_eq!(out[0], 0xC3);
        let mut r = Reader::new(&out);
        assert_eq!(r.string().unwrap(), vec![b'q'; 100]);
    }

    #[test]
    fn dump_payload_round_trips_and_rejects_damage() {
        let lim = LoadLimits::default();
        let v = Value::from_bytes(b"hello");
        let p = dump_payload(&v);
        assert_eq!(parse_payload(&p, &lim).unwrap(), v);
        let mut bad = p.clone();
        bad[1] ^= 1;
        assert!(parse_payload(&bad, &lim).is_err());
        assert!(parse_payload(&p[..5], &lim).is_err());
    }

    fn sample_stream() -> Stream {
        let mut st = Stream::new();
        for i in 1..=250u64 {
            let v = i.to_string();
            let fields: Vec<&[u8]> =
                if i % 4 == 0 { vec![b"other", v.as_bytes()] } else { vec![b"f", v.as_bytes(), b"g", b"text value"] };
            st.log.append(StreamId::new(100 + i / 3, i), &fields, 100, 4096);
        }
        for i in (3..200u64).step_by(7) {
            assert!(st.log.delete(StreamId::new(100 + i / 3, i)));
        }
        st.log.trim(crate::types::stream::Trim::MaxLen(200), false, 0);
        let mut g = Group::new(StreamId::new(150, 140), 120);
        g.consumer(b"alice", 1_700_000_000_000);
        g.consumer(b"bob", 1_700_000_000_001).0.active_time = Some(1_700_000_000_002);
        g.deliver(StreamId::new(140, 120), b"alice", 1_700_000_000_005, true);
        g.deliver(StreamId::new(141, 124), b"bob", 1_700_000_000_006, true);
        g.deliver(StreamId::new(141, 124), b"bob", 1_700_000_000_007, true);
        st.groups.insert((*b"g1").into(), g);
        st.groups.insert((*b"empty").into(), Group::new(StreamId::MIN, -1));
        st
    }

    #[test]
    fn streams_round_trip_in_every_layout() {
        let st = sample_stream();
        let lim = LoadLimits::default();
        for t in [T_STREAM_LISTPACKS, T_STREAM_LISTPACKS_2, T_STREAM_LISTPACKS_3] {
            let mut out = Vec::new();
            put_stream_as(&mut out, &st, EncodeOpts { compress: true }, t);
            let mut r = Reader::new(&out);
            let tt = r.u8().unwrap();
            let Some(Value::Stream(back)) = read_value(&mut r, tt, &lim).unwrap() else { panic!("not a stream") };
            assert_eq!(r.pos, out.len());
            assert_eq!(
                back.log.range(StreamId::MIN, StreamId::MAX, 0, false),
                st.log.range(StreamId::MIN, StreamId::MAX, 0, false)
            );
            assert_eq!(back.log.len(), st.log.len());
            assert_eq!(back.log.node_count(), st.log.node_count());
            assert_eq!(back.log.last_id, st.log.last_id);
            let mut want = st.groups.clone();
            if t == T_STREAM_LISTPACKS {
                // No entries-read, max deleted ID or entries added in the oldest layout.
                assert_eq!(back.log.entries_added, st.log.len());
                for g in want.values_mut() {
                    g.entries_read = -1;
                }
            } else {
                assert_eq!(back.log.max_deleted_id, st.log.max_deleted_id);
                assert_eq!(back.log.entries_added, st.log.entries_added);
            }
            if t < T_STREAM_LISTPACKS_3 {
                for c in want.values_mut().flat_map(|g| g.consumers.values_mut()) {
                    c.active_time = None;
                }
            }
            assert_eq!(back.groups, want, "type {t}");
        }
    }

    #[test]
    fn damaged_stream_payloads_fail_cleanly() {
        let p = dump_payload(&Value::Stream(Box::new(sample_stream())));
        let lim = LoadLimits::default();
        assert!(parse_payload(&p, &lim).is_ok());
        // Bypass the checksum (0 = unchecked) so the decoder itself meets every damage.
        let mut body = p.clone();
        let n = body.len();
        body[n - 8..].fill(0);
        for cut in (0..n - 10).step_by(3) {
            let mut b = body[..cut].to_vec();
            b.extend_from_slice(&body[n - 10..]);
            assert!(parse_payload(&b, &lim).is_err());
        }
        for i in (0..n - 10).step_by(2) {
            for x in [0x01u8, 0x80, 0xff] {
                let mut b = body.clone();
                b[i] ^= x;
                let _ = parse_payload(&b, &lim); // must not panic
            }
        }
    }

    #[test]
    fn hostile_counts_do_not_allocate() {
        let lim = LoadLimits::default();
        // A plain set claiming 2^32 members in a 6-byte input.
        let mut b = vec![];
        put_len(&mut b, 1 << 32);
        let mut r = Reader::new(&b);
        assert!(read_value(&mut r, T_SET, &lim).is_err());
    }
}
