//! Whole files and payloads: the header and aux fields, `SELECTDB`/`RESIZEDB`, keys with their
//! expiry, the EOF footer and checksum, DUMP payloads, and the parse/check entry points.

use super::codec::{crc64, put_len, put_string, EncodeOpts, Reader};
use super::decode::{read_value, LoadLimits};
use super::encode::put_value;
use super::{
    OP_AUX, OP_EOF, OP_EXPIRETIME, OP_EXPIRETIME_MS, OP_FREQ, OP_FUNCTION, OP_FUNCTION2, OP_IDLE, OP_MODULE_AUX,
    OP_RESIZEDB, OP_SELECTDB, RDB_MAX_READ_VERSION, RDB_VERSION,
};
use crate::db::value::Value;

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
}
