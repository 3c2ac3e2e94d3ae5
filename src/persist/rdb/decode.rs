//! Bytes to values: listpack, ziplist and intset blobs, every value type (older and newer
//! encodings included) and streams; lengths are checked against the input before anything is
//! allocated, and values are validated (duplicates, counts, PEL links) under [`LoadLimits`].

use super::codec::{parse_double, Reader};
use super::encode::backlen_size;
use super::{
    SF_DELETED, SF_SAMEFIELDS, T_HASH, T_HASH_LISTPACK, T_HASH_ZIPLIST, T_HASH_ZIPMAP, T_LIST, T_LIST_QUICKLIST,
    T_LIST_QUICKLIST_2, T_LIST_ZIPLIST, T_SET, T_SET_INTSET, T_SET_LISTPACK, T_STREAM_LISTPACKS, T_STREAM_LISTPACKS_2,
    T_STREAM_LISTPACKS_3, T_STRING, T_ZSET, T_ZSET_2, T_ZSET_LISTPACK, T_ZSET_ZIPLIST,
};
use crate::db::value::Value;
use crate::types::hash::{Hash, HashLimits};
use crate::types::list::{Fill, List};
use crate::types::set::{Set, SetLimits};
use crate::types::stream::{Consumer, Group, Pending, Stream, StreamId};
use crate::types::zset::{Limits as ZLimits, Zset};

/// Encoding limits applied to loaded values (the server's current configuration).
#[derive(Clone, Copy, Debug, Default)]
pub struct LoadLimits {
    pub hash: HashLimits,
    pub set: SetLimits,
    pub zset: ZLimits,
    pub fill: Fill,
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

/// Reads a stream of type 15, 19 or 21 (see [`super::encode::put_stream`]; 15 lacks the first/max-deleted
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persist::rdb::put_len;

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
    fn hostile_counts_do_not_allocate() {
        let lim = LoadLimits::default();
        // A plain set claiming 2^32 members in a 6-byte input.
        let mut b = vec![];
        put_len(&mut b, 1 << 32);
        let mut r = Reader::new(&b);
        assert!(read_value(&mut r, T_SET, &lim).is_err());
    }
}
