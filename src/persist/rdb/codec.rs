//! The primitives: CRC-64/Jones, LZF, and the length, integer and string encodings (written
//! by `put_len`/`put_string`, read by [`Reader`]).

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
// Lengths, integers and strings

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
pub(super) fn put_int_string(out: &mut Vec<u8>, v: i64) -> bool {
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

pub struct Reader<'a> {
    pub(super) data: &'a [u8],
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

    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if n > self.left() {
            return Err(eof());
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub(super) fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    pub(super) fn u64_le(&mut self) -> Result<u64, String> {
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
    pub(super) fn count(&mut self, min_bytes: usize) -> Result<usize, String> {
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

    pub(super) fn binary_double(&mut self) -> Result<f64, String> {
        Ok(f64::from_le_bytes(self.take(8)?.try_into().expect("8")))
    }

    /// The old text-encoded double of `ZSET` (type 3): a length byte, 253 = NaN, 254 = +inf,
    /// 255 = -inf.
    pub(super) fn text_double(&mut self) -> Result<f64, String> {
        let n = self.u8()?;
        match n {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            _ => parse_double(self.take(n as usize)?),
        }
    }
}

pub(super) fn parse_double(b: &[u8]) -> Result<f64, String> {
    std::str::from_utf8(b)
        .ok()
        .and_then(|s| match s.to_ascii_lowercase().as_str() {
            "inf" | "+inf" | "infinity" => Some(f64::INFINITY),
            "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
            t => t.parse::<f64>().ok(),
        })
        .ok_or_else(|| "Invalid double value".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
