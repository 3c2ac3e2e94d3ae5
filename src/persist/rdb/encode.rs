//! Values to bytes: the listpack builder and every value type in the layouts Redis 7.0 reads
//! (streams as `STREAM_LISTPACKS_2`).

use super::codec::{put_int_string, put_len, put_string, EncodeOpts};
use super::{
    SF_DELETED, SF_SAMEFIELDS, T_HASH, T_HASH_LISTPACK, T_LIST_QUICKLIST_2, T_SET, T_SET_INTSET, T_STREAM_LISTPACKS_2,
    T_STREAM_LISTPACKS_3, T_STRING, T_ZSET_2, T_ZSET_LISTPACK,
};
use crate::db::value::{StrValue, Value};
use crate::types::hash::Hash;
use crate::types::set::{Elem, Set};
use crate::types::stream::{Stream, StreamId};
use crate::types::zset::Zset;

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

pub(super) fn backlen_size(l: u64) -> usize {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persist::rdb::{
        dump_payload, listpack_items, parse_payload, read_value, LoadLimits, Reader, T_STREAM_LISTPACKS,
    };
    use crate::types::stream::Group;

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
}
