//! HyperLogLog in Redis's representation, byte for byte, so that a value written by either
//! server (GET/SET, DUMP/RESTORE, RDB files) means the same to the other and counts the same.
//!
//! The value is a string:
//!
//! - a 16-byte header: the magic `HYLL`, the encoding (0 dense, 1 sparse), 3 unused bytes (kept
//!   as they are), and the cached cardinality as 8 bytes little-endian; the most significant bit
//!   of the last byte set means "not valid, recompute";
//! - then the [`REGISTERS`] (16384) registers of 6 bits:
//!   - **dense**: 12288 bytes, register `i` at bit `6 * i`, least significant bit first (a
//!     register that straddles two bytes has its low bits in the high bits of the first byte);
//!   - **sparse**: run-length opcodes covering every register once, in order: `00xxxxxx` ZERO,
//!     `xxxxxx + 1` (1..=64) registers at 0; `01xxxxxx yyyyyyyy` XZERO, 14 bits + 1
//!     (1..=16384) registers at 0; `1vvvvvxx` VAL, `xx + 1` (1..=4) registers at `vvvvv + 1`
//!     (1..=32).
//!
//! An element is hashed with MurmurHash64A (seed `0xadc83b19`); the low [`P`] = 14 bits pick the
//! register, the position of the lowest set bit of the other 50 (plus one, at most 51) is the
//! value the register is raised to. A sparse value grows in place and becomes dense when a
//! register needs a value above 32 or when an update would make it longer than
//! `hll-sparse-max-bytes` (the caller passes the limit; [`sparse_max_bytes`] holds the
//! configured one). The estimator is Redis 7's: Ertl's improved raw estimator over the histogram
//! of register values ("New cardinality estimation algorithms for HyperLogLog sketches",
//! arXiv:1702.01284), computed in the same `f64` operations in the same order, so the counts are
//! Redis's exactly.
//!
//! Damaged values: [`check`] answers whether a string is an HLL at all (Redis's header checks);
//! the walks over sparse opcodes bound every read, and report [`Corrupt`] when the opcodes do
//! not cover exactly the 16384 registers, where Redis reports its corrupted-object error. Where
//! Redis's walk reads the byte after the string (the second byte of an XZERO opcode that is the
//! last byte: the string's terminating NUL), these walks read 0 too, so both agree on every
//! input. One case is not followed: a register set inside such a truncated XZERO, where Redis
//! writes past the string's end; here that value is corrupt.
//!
//! Written from Redis's documented format and behaviour and checked against `redis-server`
//! (`tests/diff_hll.rs`); no command knowledge here.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Bits of the hash that pick the register.
pub const P: u32 = 14;
/// Number of registers.
pub const REGISTERS: usize = 1 << P;
/// Bits of the hash left for the run of zeros.
pub const Q: usize = 64 - P as usize;
/// Bits per dense register.
pub const BITS: usize = 6;
/// Header length.
pub const HDR: usize = 16;
/// Length of a dense value, header included.
pub const DENSE_SIZE: usize = HDR + (REGISTERS * BITS).div_ceil(8);
/// Redis's MurmurHash64A seed.
pub const SEED: u32 = 0xadc8_3b19;
/// `hll-sparse-max-bytes`'s default.
pub const DEFAULT_SPARSE_MAX_BYTES: usize = 3000;

const MAGIC: &[u8; 4] = b"HYLL";
const ENC_DENSE: u8 = 0;
const ENC_SPARSE: u8 = 1;
const REGISTER_MAX: u8 = (1 << BITS) - 1;
/// Largest value a sparse VAL opcode holds.
const VAL_MAX_VALUE: u8 = 32;
/// Longest run of a sparse VAL opcode.
const VAL_MAX_LEN: usize = 4;
/// Longest run of a sparse ZERO opcode (longer runs are XZERO).
const ZERO_MAX_LEN: usize = 64;
/// 1 / (2 ln 2): the estimator's constant for m → ∞.
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

/// The configured `hll-sparse-max-bytes` (kept current by a configuration subscriber).
static SPARSE_MAX_BYTES: AtomicUsize = AtomicUsize::new(DEFAULT_SPARSE_MAX_BYTES);

/// The configured `hll-sparse-max-bytes`.
#[inline]
pub fn sparse_max_bytes() -> usize {
    SPARSE_MAX_BYTES.load(Ordering::Relaxed)
}

/// Sets `hll-sparse-max-bytes` (from the configuration subscriber).
pub fn set_sparse_max_bytes(n: usize) {
    SPARSE_MAX_BYTES.store(n, Ordering::Relaxed);
}

/// A value's encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Dense,
    Sparse,
}

impl Encoding {
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Dense => "dense",
            Encoding::Sparse => "sparse",
        }
    }
}

/// The string is not an HLL: too short, wrong magic, unknown encoding, or a dense value of the
/// wrong length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotHll;

/// An HLL whose sparse opcodes do not describe the 16384 registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Corrupt;

/// Register values of many HLLs merged (the maximum of each register), one byte per register.
pub type Raw = [u8; REGISTERS];

/// Counts of register values (index: the value), what the estimator reads.
pub type Histogram = [u32; 64];

// ---------------------------------------------------------------------------------------------
// Hashing
// ---------------------------------------------------------------------------------------------

/// Austin Appleby's MurmurHash64A (64-bit little-endian reads, the tail bytes folded in from
/// the lowest up).
pub fn murmur64a(key: &[u8], seed: u32) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed as u64 ^ (key.len() as u64).wrapping_mul(M);
    let mut blocks = key.chunks_exact(8);
    for b in &mut blocks {
        let mut k = u64::from_le_bytes(b.try_into().unwrap());
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= (b as u64) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element goes to and the value it proposes (1..=51): the low [`P`] bits of
/// its hash, and one more than the number of trailing zeros of the remaining bits.
#[inline]
pub fn position(element: &[u8]) -> (usize, u8) {
    let h = murmur64a(element, SEED);
    let index = (h & (REGISTERS as u64 - 1)) as usize;
    let rest = (h >> P) | (1 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

// ---------------------------------------------------------------------------------------------
// Header
// ---------------------------------------------------------------------------------------------

/// A new, empty HLL as Redis creates it: sparse, one XZERO over every register, the cached
/// cardinality 0 and valid.
pub fn new() -> Vec<u8> {
    let mut v = Vec::with_capacity(HDR + 8);
    v.extend_from_slice(MAGIC);
    v.extend_from_slice(&[ENC_SPARSE, 0, 0, 0]);
    v.extend_from_slice(&[0; 8]);
    let (op, width) = zeros_op(REGISTERS);
    v.extend_from_slice(&op[..width]);
    v
}

/// Whether `b` is an HLL (Redis's checks, in its order), and its encoding.
pub fn check(b: &[u8]) -> Result<Encoding, NotHll> {
    if b.len() < HDR || &b[..4] != MAGIC {
        return Err(NotHll);
    }
    match b[4] {
        ENC_DENSE if b.len() == DENSE_SIZE => Ok(Encoding::Dense),
        ENC_SPARSE => Ok(Encoding::Sparse),
        _ => Err(NotHll),
    }
}

/// The cached cardinality, if valid. `b` holds at least a header.
#[inline]
pub fn cached(b: &[u8]) -> Option<u64> {
    (b[15] & 0x80 == 0).then(|| u64::from_le_bytes(b[8..16].try_into().unwrap()))
}

/// Caches `card` (valid).
pub fn set_cached(b: &mut [u8], card: u64) {
    b[8..16].copy_from_slice(&card.to_le_bytes());
}

/// Marks the cached cardinality as not valid.
#[inline]
pub fn invalidate(b: &mut [u8]) {
    b[15] |= 0x80;
}

// ---------------------------------------------------------------------------------------------
// Dense registers
// ---------------------------------------------------------------------------------------------

/// Register `i` of dense registers `regs`.
#[inline]
pub fn dense_get(regs: &[u8], i: usize) -> u8 {
    let bit = i * BITS;
    let (b, fb) = (bit / 8, bit % 8);
    let mut v = regs[b] >> fb;
    // A register starting at bit 0 or 2 of its byte fits in that byte.
    if fb > 8 - BITS {
        v |= regs[b + 1] << (8 - fb);
    }
    v & REGISTER_MAX
}

/// Sets register `i` of dense registers `regs` to `v` (at most 63).
#[inline]
pub fn dense_set(regs: &mut [u8], i: usize, v: u8) {
    let bit = i * BITS;
    let (b, fb) = (bit / 8, bit % 8);
    regs[b] = (regs[b] & !(REGISTER_MAX << fb)) | (v << fb);
    if fb > 8 - BITS {
        let shift = 8 - fb;
        regs[b + 1] = (regs[b + 1] & !(REGISTER_MAX >> shift)) | (v >> shift);
    }
}

/// Raises register `i` to `v`; whether it changed.
#[inline]
fn dense_raise(regs: &mut [u8], i: usize, v: u8) -> bool {
    if dense_get(regs, i) < v {
        dense_set(regs, i, v);
        true
    } else {
        false
    }
}

/// Calls `f(k, value)` for the 16 registers of a 12-byte group of dense registers, `k` in
/// 0..16: two 48-bit words, each read with one unaligned 64-bit load.
#[inline(always)]
fn group(c: &[u8], mut f: impl FnMut(usize, u8)) {
    let lo = u64::from_le_bytes(c[0..8].try_into().unwrap());
    let hi = u64::from_le_bytes(c[4..12].try_into().unwrap()) >> 16;
    for k in 0..8 {
        f(k, ((lo >> (BITS * k)) & REGISTER_MAX as u64) as u8);
    }
    for k in 0..8 {
        f(8 + k, ((hi >> (BITS * k)) & REGISTER_MAX as u64) as u8);
    }
}

/// The histogram of dense registers, 16 registers per 12 bytes, counted into four histograms
/// in turn so that equal neighbours do not wait on each other's increment.
fn dense_histogram(regs: &[u8]) -> Histogram {
    let mut h = [[0u32; 64]; 4];
    for c in regs.chunks_exact(12) {
        group(c, |k, v| h[k & 3][v as usize] += 1);
    }
    sum4(&h)
}

fn sum4(h: &[[u32; 64]; 4]) -> Histogram {
    let mut out = [0u32; 64];
    for (j, o) in out.iter_mut().enumerate() {
        *o = h[0][j] + h[1][j] + h[2][j] + h[3][j];
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Sparse opcodes
// ---------------------------------------------------------------------------------------------

/// One sparse opcode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Op {
    /// Registers covered.
    run: usize,
    /// Their value (0 for ZERO and XZERO).
    value: u8,
    /// Bytes: 2 for XZERO, else 1.
    width: usize,
}

/// Registers covered by each one-byte opcode (ZERO, VAL); 0 for the first byte of an XZERO.
/// Looked up rather than branched on: ZERO and VAL opcodes alternate unpredictably.
static RUN: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = match b >> 6 {
            0 => (b & 0x3f) as u8 + 1,
            1 => 0,
            _ => (b & 0x03) as u8 + 1,
        };
        b += 1;
    }
    t
};

/// The register value of each opcode byte (0 for ZERO and XZERO).
static VALUE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0x80;
    while b < 256 {
        t[b] = ((b >> 2) & 0x1f) as u8 + 1;
        b += 1;
    }
    t
};

/// The opcode at `s[i]` (`i < s.len()`). The second byte of an XZERO that is the last byte reads
/// 0, as Redis's walk reads the string's terminating NUL there.
#[inline(always)]
fn op_at(s: &[u8], i: usize) -> Op {
    let b = s[i];
    match RUN[b as usize] {
        0 => {
            let lo = s.get(i + 1).copied().unwrap_or(0) as usize;
            Op { run: (((b & 0x3f) as usize) << 8 | lo) + 1, value: 0, width: 2 }
        }
        run => Op { run: run as usize, value: VALUE[b as usize], width: 1 },
    }
}

/// A VAL opcode: `run` (1..=4) registers at `value` (1..=32).
#[inline]
fn val_op(value: u8, run: usize) -> u8 {
    0x80 | ((value - 1) << 2) | (run - 1) as u8
}

/// The opcode for `run` zero registers: ZERO up to 64, else XZERO (bytes, width).
#[inline]
fn zeros_op(run: usize) -> ([u8; 2], usize) {
    if run > ZERO_MAX_LEN {
        ([0x40 | ((run - 1) >> 8) as u8, ((run - 1) & 0xff) as u8], 2)
    } else {
        ([(run - 1) as u8, 0], 1)
    }
}

/// Up to 5 bytes of opcodes replacing one (XZERO VAL XZERO at most).
struct Seq {
    b: [u8; 5],
    n: usize,
}

impl Seq {
    fn push(&mut self, byte: u8) {
        self.b[self.n] = byte;
        self.n += 1;
    }

    fn zeros(&mut self, run: usize) {
        let (op, width) = zeros_op(run);
        for &byte in &op[..width] {
            self.push(byte);
        }
    }
}

/// The histogram of sparse opcodes `s` (after the header); `Corrupt` unless they cover exactly
/// every register.
fn sparse_histogram(s: &[u8]) -> Result<Histogram, Corrupt> {
    let mut h = [0u32; 64];
    let (mut idx, mut i) = (0usize, 0);
    while i < s.len() {
        let op = op_at(s, i);
        idx += op.run;
        h[op.value as usize] = h[op.value as usize].wrapping_add(op.run as u32);
        i += op.width;
    }
    if idx != REGISTERS {
        return Err(Corrupt);
    }
    Ok(h)
}

/// Calls `f(first, run, value)` for each VAL opcode of `s` (after the header); `Corrupt` unless
/// the opcodes cover exactly every register (a VAL opcode passing the last register is corrupt
/// at once: it is never applied).
fn sparse_values(s: &[u8], mut f: impl FnMut(usize, usize, u8)) -> Result<(), Corrupt> {
    let (mut idx, mut i) = (0usize, 0);
    while i < s.len() {
        let op = op_at(s, i);
        if op.value != 0 {
            if idx + op.run > REGISTERS {
                return Err(Corrupt);
            }
            f(idx, op.run, op.value);
        }
        idx += op.run;
        i += op.width;
    }
    if idx != REGISTERS {
        return Err(Corrupt);
    }
    Ok(())
}

/// Sparse opcodes as PFDEBUG DECODE shows them: `z:<run>` (ZERO), `Z:<run>` (XZERO),
/// `v:<value>,<run>` (VAL), separated by spaces.
pub fn decode(hll: &[u8]) -> String {
    let s = &hll[HDR..];
    let mut out = String::new();
    let mut i = 0;
    while i < s.len() {
        let op = op_at(s, i);
        if !out.is_empty() {
            out.push(' ');
        }
        let item = match (op.value, op.width) {
            (0, 1) => format!("z:{}", op.run),
            (0, _) => format!("Z:{}", op.run),
            (v, _) => format!("v:{},{}", v, op.run),
        };
        out.push_str(&item);
        i += op.width;
    }
    out
}

/// Converts a sparse HLL to dense, keeping the header (cached cardinality and unused bytes
/// included). `Ok(false)` if it was dense already.
pub fn to_dense(hll: &mut Vec<u8>) -> Result<bool, Corrupt> {
    if hll[4] != ENC_SPARSE {
        return Ok(false);
    }
    let mut dense = Vec::with_capacity(DENSE_SIZE);
    dense.extend_from_slice(&hll[..HDR]);
    dense[4] = ENC_DENSE;
    dense.resize(DENSE_SIZE, 0);
    let regs = &mut dense[HDR..];
    sparse_values(&hll[HDR..], |first, run, value| {
        for r in first..first + run {
            dense_set(regs, r, value);
        }
    })?;
    *hll = dense;
    Ok(true)
}

/// The one-byte opcodes at the start of eight bytes read as one little-endian word (the first
/// byte starting an opcode): how many registers they cover and how many bytes they are, up to
/// the first XZERO (a two-byte opcode) or all eight. Each byte's run is its low 6 bits (ZERO) or
/// low 2 bits (VAL) plus one; the runs (at most 64 each) are summed in 16-bit lanes. A sparse
/// value's gaps between set registers are mostly XZEROs, so a walk that gave up on any word
/// holding one would step through most opcodes one at a time.
#[inline(always)]
fn block_prefix(x: u64) -> (usize, usize) {
    const HI: u64 = 0x8080_8080_8080_8080;
    const ONES: u64 = 0x0101_0101_0101_0101;
    // XZERO: bit 7 clear, bit 6 set (shifted into bit 7 of the same byte). Bytes after the
    // first one found may be an XZERO's second byte: only the first counts.
    let xzero = !x & (x << 1) & HI;
    let bytes = (xzero.trailing_zeros() / 8) as usize;
    let val = (x & HI) >> 7;
    let mut runs = (x & ((ONES * 0x3f) ^ (val * 0x3c))) + ONES;
    if bytes < 8 {
        runs &= (1u64 << (8 * bytes)) - 1;
    }
    let pairs = (runs & 0x00ff_00ff_00ff_00ff) + ((runs >> 8) & 0x00ff_00ff_00ff_00ff);
    ((pairs.wrapping_mul(0x0001_0001_0001_0001) >> 48) as usize, bytes)
}

/// Where a register is in sparse opcodes.
struct Found {
    /// The opcode covering it.
    p: usize,
    /// The first register that opcode covers.
    first: usize,
    /// The opcode before it, if any.
    prev: Option<usize>,
    op: Op,
}

/// The sparse opcode of `hll` covering register `index`; `None` when the opcodes end before
/// it. Runs of one-byte opcodes that end before the register are skipped eight at a time.
fn locate(hll: &[u8], index: usize) -> Option<Found> {
    let (mut p, mut first, mut prev) = (HDR, 0usize, None);
    loop {
        if let Some(block) = hll.get(p..p + 8) {
            let (sum, bytes) = block_prefix(u64::from_le_bytes(block.try_into().unwrap()));
            if bytes > 0 && first + sum <= index {
                first += sum;
                prev = Some(p + bytes - 1);
                p += bytes;
                if bytes == 8 {
                    continue;
                }
                // An XZERO follows: it is stepped over (or found) below.
            }
        }
        if p >= hll.len() {
            return None;
        }
        let op = op_at(hll, p);
        if index < first + op.run {
            return Some(Found { p, first, prev, op });
        }
        prev = Some(p);
        p += op.width;
        first += op.run;
    }
}

/// Raises register `index` of sparse `hll` to `count`, as Redis does it in place: the opcode
/// covering the register is rewritten (a VAL or ZERO of one register in place, anything else
/// split into up to three opcodes), then neighbouring VAL opcodes of one value are joined
/// (looking at up to five opcodes from the one before the change). Promoted to dense when the
/// value is above what VAL holds or when the value would grow past `max_bytes`. Whether the
/// register changed.
fn sparse_set(hll: &mut Vec<u8>, index: usize, count: u8, max_bytes: usize) -> Result<bool, Corrupt> {
    if count > VAL_MAX_VALUE {
        return promote(hll, index, count);
    }
    let Some(Found { p, first, prev, op }) = locate(hll, index) else { return Err(Corrupt) };
    if p + op.width > hll.len() {
        // An XZERO cut by the end of the string (see the module doc).
        return Err(Corrupt);
    }
    if op.value != 0 {
        if op.value >= count {
            return Ok(false);
        }
        if op.run == 1 {
            hll[p] = val_op(count, 1);
            return Ok(sparse_updated(hll, prev));
        }
    } else if op.width == 1 && op.run == 1 {
        hll[p] = val_op(count, 1);
        return Ok(sparse_updated(hll, prev));
    }
    // Split the opcode: what precedes the register, the register, what follows (at most
    // XZERO VAL XZERO: 5 bytes).
    let last = first + op.run - 1;
    let mut seq = Seq { b: [0; 5], n: 0 };
    if op.value == 0 {
        if index != first {
            seq.zeros(index - first);
        }
        seq.push(val_op(count, 1));
        if index != last {
            seq.zeros(last - index);
        }
    } else {
        if index != first {
            seq.push(val_op(op.value, index - first));
        }
        seq.push(val_op(count, 1));
        if index != last {
            seq.push(val_op(op.value, last - index));
        }
    }
    let n = seq.n;
    let len = hll.len();
    if n > op.width && len + n - op.width > max_bytes {
        return promote(hll, index, count);
    }
    // Replace the opcode's bytes by the sequence, moving what follows.
    if n > op.width {
        hll.resize(len + n - op.width, 0);
    }
    hll.copy_within(p + op.width..len, p + n);
    hll.truncate(len + n - op.width);
    hll[p..p + n].copy_from_slice(&seq.b[..n]);
    Ok(sparse_updated(hll, prev))
}

/// After a sparse change: joins adjacent VAL opcodes of one value whose runs fit one opcode,
/// scanning up to five opcodes from `prev` (the opcode before the change, or the first), and
/// invalidates the cached cardinality. Returns true (the register changed).
fn sparse_updated(hll: &mut Vec<u8>, prev: Option<usize>) -> bool {
    let mut p = prev.unwrap_or(HDR);
    let mut scan = 5;
    while p < hll.len() && scan > 0 {
        scan -= 1;
        let op = op_at(hll, p);
        if op.value == 0 {
            p += op.width;
            continue;
        }
        if p + 1 < hll.len() {
            let next = op_at(hll, p + 1);
            if next.value == op.value && op.run + next.run <= VAL_MAX_LEN {
                hll[p + 1] = val_op(op.value, op.run + next.run);
                hll.remove(p);
                // Look at the joined opcode again: it may join the next one too.
                continue;
            }
        }
        p += 1;
    }
    invalidate(hll);
    true
}

/// Converts to dense and raises register `index` to `count` there.
fn promote(hll: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Corrupt> {
    to_dense(hll)?;
    Ok(dense_raise(&mut hll[HDR..], index, count))
}

// ---------------------------------------------------------------------------------------------
// Operations on a value
// ---------------------------------------------------------------------------------------------

/// Adds `element` to `hll` (an HLL by [`check`]); whether a register changed. A sparse value
/// becomes dense past `max_bytes` (see the module doc). The cached cardinality is left to the
/// caller (Redis's PFADD invalidates it once, after every element).
pub fn add(hll: &mut Vec<u8>, element: &[u8], max_bytes: usize) -> Result<bool, Corrupt> {
    let (index, count) = position(element);
    raise(hll, index, count, max_bytes)
}

/// Raises register `index` of `hll` to `count` (the set operation of PFADD and PFMERGE).
pub fn raise(hll: &mut Vec<u8>, index: usize, count: u8, max_bytes: usize) -> Result<bool, Corrupt> {
    match hll[4] {
        ENC_DENSE => Ok(dense_raise(&mut hll[HDR..], index, count)),
        ENC_SPARSE => sparse_set(hll, index, count, max_bytes),
        _ => Err(Corrupt),
    }
}

/// The histogram of `hll`'s registers.
pub fn histogram(hll: &[u8]) -> Result<Histogram, Corrupt> {
    match hll[4] {
        ENC_DENSE => Ok(dense_histogram(&hll[HDR..])),
        ENC_SPARSE => sparse_histogram(&hll[HDR..]),
        _ => Err(Corrupt),
    }
}

/// The estimated cardinality of `hll` (not using or updating the cache).
pub fn count(hll: &[u8]) -> Result<u64, Corrupt> {
    histogram(hll).map(|h| estimate(&h))
}

/// Every register of `hll`, one byte each (PFDEBUG GETREG reads a dense value).
pub fn registers(hll: &[u8]) -> Result<Box<Raw>, Corrupt> {
    let mut raw = Box::new([0u8; REGISTERS]);
    merge(&mut raw, hll)?;
    Ok(raw)
}

/// Raises each register of `max` to `hll`'s (PFCOUNT of many keys, PFMERGE).
pub fn merge(max: &mut Raw, hll: &[u8]) -> Result<(), Corrupt> {
    match hll[4] {
        ENC_DENSE => {
            for (c, m) in hll[HDR..].chunks_exact(12).zip(max.chunks_exact_mut(16)) {
                group(c, |k, v| m[k] = m[k].max(v));
            }
            Ok(())
        }
        ENC_SPARSE => sparse_values(&hll[HDR..], |first, run, value| {
            for m in &mut max[first..first + run] {
                *m = (*m).max(value);
            }
        }),
        _ => Err(Corrupt),
    }
}

/// Sets every register of dense `hll` to `max` (PFMERGE into a dense destination, whose own
/// registers are merged into `max` already), 16 registers per 12 bytes.
pub fn store_dense(hll: &mut [u8], max: &Raw) {
    for (c, m) in hll[HDR..].chunks_exact_mut(12).zip(max.chunks_exact(16)) {
        let (mut lo, mut hi) = (0u64, 0u64);
        for k in 0..8 {
            lo |= ((m[k] & REGISTER_MAX) as u64) << (BITS * k);
            hi |= ((m[8 + k] & REGISTER_MAX) as u64) << (BITS * k);
        }
        c[..6].copy_from_slice(&lo.to_le_bytes()[..6]);
        c[6..].copy_from_slice(&hi.to_le_bytes()[..6]);
    }
}

/// Whether `hll` (an HLL by [`check`]) is dense.
#[inline]
pub fn is_dense(hll: &[u8]) -> bool {
    hll[4] == ENC_DENSE
}

/// The histogram of merged registers.
pub fn raw_histogram(max: &Raw) -> Histogram {
    let mut h = [[0u32; 64]; 4];
    for c in max.chunks_exact(4) {
        for (k, &v) in c.iter().enumerate() {
            h[k][(v & 63) as usize] += 1;
        }
    }
    sum4(&h)
}

// ---------------------------------------------------------------------------------------------
// The estimator
// ---------------------------------------------------------------------------------------------

/// Ertl's σ(x) = x + Σ_{k≥1} x^(2^k) 2^(k-1), summed until it stops changing.
fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let before = z;
        z += x * y;
        y += y;
        if z == before {
            return z;
        }
    }
}

/// Ertl's τ(x) = (1 - x - Σ_{k≥1} (1 - x^(2^-k))² 2^-k) / 3, summed until it stops changing.
fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let before = z;
        y *= 0.5;
        let d = 1.0 - x;
        z -= d * d * y;
        if z == before {
            return z / 3.0;
        }
    }
}

/// The cardinality estimated from a histogram of register values (Redis 7's estimator).
pub fn estimate(h: &Histogram) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - h[Q + 1] as f64) / m);
    for j in (1..=Q).rev() {
        z += h[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(h[0] as f64 / m);
    let e = (ALPHA_INF * m * m / z).round();
    // Out of range (z = 0: every register above 50), C's `llroundl` gives LLONG_MIN, which
    // Redis turns into 2^63 (shown by PFCOUNT as -2^63, and cached as not valid).
    if e.is_finite() && e < 9_223_372_036_854_775_808.0 {
        e as u64
    } else {
        1 << 63
    }
}

/// The estimated cardinality of merged registers.
pub fn count_raw(max: &Raw) -> u64 {
    estimate(&raw_histogram(max))
}

// ---------------------------------------------------------------------------------------------
// Self test (PFSELFTEST)
// ---------------------------------------------------------------------------------------------

/// Checks the representation: dense registers read back what was written (random values, every
/// register, up to 1000 rounds); then `elements` distinct elements (PFSELFTEST: 10 million) added to a dense and a sparse
/// value side by side: at cardinalities 1, 10, 100, ... the sparse value is still sparse while
/// small, both estimate the same, and the error is within six standard errors (one at 10).
/// `seed` varies the values. `Err` names the failure.
pub fn self_test(seed: u64, max_bytes: usize, elements: u64) -> Result<(), String> {
    let mut rng = seed | 1;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut regs = vec![0u8; DENSE_SIZE - HDR];
    let mut expect = vec![0u8; REGISTERS];
    for _ in 0..(elements / 10_000).clamp(1, 1000) {
        for (i, e) in expect.iter_mut().enumerate() {
            *e = (next() & REGISTER_MAX as u64) as u8;
            dense_set(&mut regs, i, *e);
        }
        if let Some(i) = (0..REGISTERS).find(|&i| dense_get(&regs, i) != expect[i]) {
            return Err(format!("TESTFAILED Register error at {i}"));
        }
    }
    let mut dense = new();
    to_dense(&mut dense).map_err(|_| "TESTFAILED dense conversion".to_string())?;
    let mut sparse = new();
    let relerr = 1.04 / (REGISTERS as f64).sqrt();
    let base = next();
    let mut checkpoint: u64 = 1;
    for j in 1..=elements {
        let e = (j ^ base).to_le_bytes();
        let _ = add(&mut dense, &e, max_bytes);
        let _ = add(&mut sparse, &e, max_bytes);
        if j != checkpoint {
            continue;
        }
        if j < (max_bytes / 2) as u64 && check(&sparse) != Ok(Encoding::Sparse) {
            return Err("TESTFAILED sparse encoding not used".into());
        }
        let card = count(&dense).map_err(|_| "TESTFAILED dense value corrupted".to_string())?;
        if count(&sparse) != Ok(card) {
            return Err("TESTFAILED dense/sparse disagree".into());
        }
        let maxerr = if j == 10 { 1 } else { (relerr * 6.0 * checkpoint as f64).ceil() as u64 };
        let abserr = checkpoint.abs_diff(card);
        if abserr > maxerr {
            return Err(format!("TESTFAILED Too big error. card:{checkpoint} abserr:{abserr}"));
        }
        checkpoint *= 10;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sparse value's opcodes, decoded to registers (panics if not exactly 16384).
    fn sparse_registers(hll: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut i = HDR;
        while i < hll.len() {
            let op = op_at(hll, i);
            out.extend(std::iter::repeat_n(op.value, op.run));
            i += op.width;
        }
        assert_eq!(out.len(), REGISTERS);
        out
    }

    #[test]
    fn murmur64a_known_values() {
        // Computed with an independent implementation whose register positions (low 14 bits)
        // and run lengths match redis-server's PFADD + PFDEBUG GETREG for these elements
        // (`hello`: register 9216 = 1, `a`: 12711 = 2, `12345678`: 10579 = 3).
        assert_eq!(murmur64a(b"", 0), 0);
        assert_eq!(murmur64a(b"", SEED), 0xd8df_ea65_85bc_9732);
        assert_eq!(murmur64a(b"hello", SEED), 0x0f65_6f01_eecf_e400);
        assert_eq!(murmur64a(b"a", SEED), 0x53d2_470a_9b43_b1a7);
        assert_eq!(murmur64a(b"12345678", SEED), 0x95eb_b863_8913_2953);
        assert_eq!(murmur64a(b"The quick brown fox jumps over the lazy dog", 0), 0x5589_ca33_042a_861b);
        assert_eq!(position(b"hello"), (9216, 1));
        assert_eq!(position(b"a"), (12711, 2));
        assert_eq!(position(b"12345678"), (10579, 3));
    }

    #[test]
    fn empty_values_are_redis_bytes() {
        let v = new();
        assert_eq!(v, b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\0\x7f\xff");
        assert_eq!(check(&v), Ok(Encoding::Sparse));
        assert_eq!(cached(&v), Some(0));
        assert_eq!(count(&v), Ok(0));
        assert_eq!(decode(&v), "Z:16384");
    }

    #[test]
    fn header_checks() {
        let mut v = new();
        assert_eq!(check(&v[..15]), Err(NotHll));
        v[0] = b'h';
        assert_eq!(check(&v), Err(NotHll));
        v[0] = b'H';
        v[4] = 2;
        assert_eq!(check(&v), Err(NotHll));
        v[4] = 0;
        assert_eq!(check(&v), Err(NotHll), "dense of the wrong length");
        to_dense(&mut new()).unwrap();
        let mut d = new();
        to_dense(&mut d).unwrap();
        assert_eq!((d.len(), check(&d)), (DENSE_SIZE, Ok(Encoding::Dense)));
        invalidate(&mut d);
        assert_eq!(cached(&d), None);
        set_cached(&mut d, 12345);
        assert_eq!(cached(&d), Some(12345));
    }

    #[test]
    fn dense_registers_round_trip() {
        let mut regs = vec![0u8; DENSE_SIZE - HDR];
        for i in 0..REGISTERS {
            dense_set(&mut regs, i, ((i * 7 + 3) % 64) as u8);
        }
        for i in 0..REGISTERS {
            assert_eq!(dense_get(&regs, i), ((i * 7 + 3) % 64) as u8, "register {i}");
        }
        // Redis's bit order: register 0 in the low 6 bits of byte 0, register 1 from bit 6.
        let mut regs = vec![0u8; DENSE_SIZE - HDR];
        dense_set(&mut regs, 1, 0b111111);
        assert_eq!(&regs[..2], &[0b1100_0000, 0b0000_1111]);
        let h = dense_histogram(&regs);
        assert_eq!((h[0], h[63]), (REGISTERS as u32 - 1, 1));
    }

    #[test]
    fn sparse_and_dense_agree_as_elements_arrive() {
        let mut sparse = new();
        let mut dense = new();
        to_dense(&mut dense).unwrap();
        let mut seen_dense_switch = false;
        for n in 0..20_000u32 {
            let e = format!("element:{n}");
            let a = add(&mut sparse, e.as_bytes(), 3000).unwrap();
            let b = add(&mut dense, e.as_bytes(), 3000).unwrap();
            assert_eq!(a, b, "element {n}");
            if check(&sparse) == Ok(Encoding::Sparse) {
                assert!(sparse.len() <= 3000);
                if n % 97 == 0 {
                    let regs = sparse_registers(&sparse);
                    assert!((0..REGISTERS).all(|i| regs[i] == dense_get(&dense[HDR..], i)));
                    assert_eq!(count(&sparse), count(&dense));
                    let mut converted = sparse.clone();
                    assert_eq!(to_dense(&mut converted), Ok(true));
                    assert_eq!(converted[HDR..], dense[HDR..]);
                }
            } else {
                seen_dense_switch = true;
            }
        }
        assert!(seen_dense_switch);
        assert_eq!(sparse[HDR..], dense[HDR..]);
        let est = count(&dense).unwrap() as f64;
        assert!((est - 20_000.0).abs() < 20_000.0 * 0.05, "{est}");
    }

    #[test]
    fn sparse_splits_and_joins_opcodes() {
        let mut v = new();
        assert_eq!(sparse_set(&mut v, 100, 3, 3000), Ok(true));
        assert_eq!(decode(&v), "Z:100 v:3,1 Z:16283");
        assert_eq!(sparse_set(&mut v, 101, 3, 3000), Ok(true));
        assert_eq!(decode(&v), "Z:100 v:3,2 Z:16282");
        assert_eq!(sparse_set(&mut v, 101, 2, 3000), Ok(false));
        assert_eq!(sparse_set(&mut v, 0, 1, 3000), Ok(true));
        assert_eq!(decode(&v), "v:1,1 Z:99 v:3,2 Z:16282");
        assert_eq!(sparse_set(&mut v, 102, 3, 3000), Ok(true));
        assert_eq!(sparse_set(&mut v, 103, 3, 3000), Ok(true));
        assert_eq!(decode(&v), "v:1,1 Z:99 v:3,4 Z:16280");
        assert_eq!(sparse_set(&mut v, 102, 5, 3000), Ok(true));
        assert_eq!(decode(&v), "v:1,1 Z:99 v:3,2 v:5,1 v:3,1 Z:16280");
        // A short zero run splits into ZERO opcodes.
        assert_eq!(sparse_set(&mut v, 10, 2, 3000), Ok(true));
        assert_eq!(decode(&v), "v:1,1 z:9 v:2,1 Z:89 v:3,2 v:5,1 v:3,1 Z:16280");
        assert_eq!(cached(&v), None, "a change invalidates the cache");
        // A value above 32 promotes.
        assert_eq!(sparse_set(&mut v, 5000, 33, 3000), Ok(true));
        assert_eq!(check(&v), Ok(Encoding::Dense));
        assert_eq!(dense_get(&v[HDR..], 5000), 33);
        assert_eq!(dense_get(&v[HDR..], 102), 5);
        // Growth past the limit promotes.
        let mut v = new();
        assert_eq!(sparse_set(&mut v, 100, 3, 19), Ok(true));
        assert_eq!(check(&v), Ok(Encoding::Dense));
    }

    #[test]
    fn locating_by_blocks_agrees_with_the_opcode_walk() {
        let mut rng = 0x1234_5678_9abc_def1u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for round in 0..300 {
            // Random opcodes (valid or not), XZEROs included now and then.
            let mut v = new()[..HDR].to_vec();
            for _ in 0..(next() % 400) {
                let b = next() as u8;
                v.push(if round % 3 == 0 || b >> 6 != 1 { b } else { b & 0x3f });
            }
            for _ in 0..50 {
                let index = (next() % 20_000) as usize;
                let (mut p, mut first, mut prev, mut found) = (HDR, 0, None, None);
                while p < v.len() {
                    let op = op_at(&v, p);
                    if index < first + op.run {
                        found = Some((p, first, prev, op));
                        break;
                    }
                    prev = Some(p);
                    p += op.width;
                    first += op.run;
                }
                let got = locate(&v, index).map(|f| (f.p, f.first, f.prev, f.op));
                assert_eq!(got, found, "register {index} in {v:?}");
            }
        }
        assert_eq!(
            block_prefix(u64::from_le_bytes([0x3f, 0x80, 0x83, 0xff, 0, 0, 0x3f, 0x9c])),
            (64 + 1 + 4 + 4 + 1 + 1 + 64 + 1, 8)
        );
        assert_eq!(block_prefix(u64::from_le_bytes([0, 0x83, 0, 0, 0, 0, 0, 0x40])), (1 + 4 + 1 + 1 + 1 + 1 + 1, 7));
        assert_eq!(block_prefix(u64::from_le_bytes([0x7f, 0, 0, 0, 0, 0, 0, 0])), (0, 0));
        // The byte after an XZERO's first is not looked at, whatever it holds.
        assert_eq!(block_prefix(u64::from_le_bytes([0x05, 0x40, 0x7f, 0x40, 0, 0, 0, 0])), (6, 1));
    }

    #[test]
    fn corrupt_sparse_values_are_reported() {
        let mut v = new();
        v.truncate(HDR + 1); // a lone XZERO byte: 0x7f then the implicit 0 → 16129 registers
        assert_eq!(count(&v), Err(Corrupt));
        assert_eq!(to_dense(&mut v.clone()), Err(Corrupt));
        let mut raw = [0u8; REGISTERS];
        assert_eq!(merge(&mut raw, &v), Err(Corrupt));
        assert_eq!(add(&mut v, b"x", 3000), Err(Corrupt));
        // Too many registers, by a ZERO or a VAL opcode (redis-server 7.0.15 says corrupt to
        // both, whether counting, merging or converting).
        for extra in [0x00, val_op(3, 1)] {
            let mut v = new();
            v.push(extra);
            assert_eq!(count(&v), Err(Corrupt));
            assert_eq!(merge(&mut raw, &v), Err(Corrupt));
            assert_eq!(to_dense(&mut v), Err(Corrupt));
        }
        // The header only.
        let v = new()[..HDR].to_vec();
        assert_eq!(count(&v), Err(Corrupt));
        assert_eq!(decode(&v), "");
        assert_eq!(add(&mut v.clone(), b"x", 3000), Err(Corrupt));
    }

    #[test]
    fn estimator_edges() {
        let mut h = [0u32; 64];
        h[0] = REGISTERS as u32;
        assert_eq!(estimate(&h), 0);
        let mut raw = [0u8; REGISTERS];
        raw[7] = 1;
        assert_eq!(count_raw(&raw), 1);
        raw = [51; REGISTERS];
        assert_eq!(count_raw(&raw), 1 << 63, "as redis-server 7.0 answers");
        raw = [63; REGISTERS];
        assert_eq!(count_raw(&raw), 1 << 63);
        assert_eq!(sigma(0.0), 0.0);
        assert_eq!(tau(1.0), 0.0);
    }

    #[test]
    fn merged_registers_are_the_maximum() {
        let mut a = new();
        let mut b = new();
        for n in 0..500 {
            add(&mut a, format!("a{n}").as_bytes(), 3000).unwrap();
            add(&mut b, format!("b{n}").as_bytes(), 3000).unwrap();
        }
        let mut both = a.clone();
        for n in 0..500 {
            add(&mut both, format!("b{n}").as_bytes(), 3000).unwrap();
        }
        let mut raw = [0u8; REGISTERS];
        merge(&mut raw, &a).unwrap();
        to_dense(&mut b).unwrap();
        merge(&mut raw, &b).unwrap();
        assert_eq!(count_raw(&raw), count(&both).unwrap());
        assert_eq!(*registers(&both).unwrap(), raw);
        // Storing the merged registers into a dense value gives the dense form of the union.
        let mut stored = new();
        to_dense(&mut stored).unwrap();
        store_dense(&mut stored, &raw);
        to_dense(&mut both).unwrap();
        assert_eq!(stored[HDR..], both[HDR..]);
    }

    #[test]
    fn self_test_passes() {
        assert_eq!(self_test(42, DEFAULT_SPARSE_MAX_BYTES, 100_000), Ok(()));
    }
}
