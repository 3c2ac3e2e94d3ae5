//! A C `long double` as x86-64 Linux has it (x87 80-bit extended precision), computed in
//! software (the `rustc_apfloat` soft-float crate) so results match Redis bit for bit on any
//! host, with Redis's text forms: parsing like `strtold` ([`LongDouble::parse`]) and printing
//! like `"%.17Lf"` with trailing zeros stripped ([`LongDouble::to_human`]). INCRBYFLOAT and
//! HINCRBYFLOAT compute with it.

use rustc_apfloat::ieee::X87DoubleExtended;
use rustc_apfloat::{Float, Round};

/// Correctly rounded (nearest, ties to even) addition, as the x87 FPU does it.
impl std::ops::Add for LongDouble {
    type Output = LongDouble;
    fn add(self, other: LongDouble) -> LongDouble {
        LongDouble(self.0.add_r(other.0, Round::NearestTiesToEven).value)
    }
}

/// Longest text Redis parses as a long double (`MAX_LONG_DOUBLE_CHARS`).
const MAX_LONG_DOUBLE_CHARS: usize = 5 * 1024;

/// A C `long double` as x86-64 Linux has it (80-bit extended precision, 64-bit significand),
/// computed in software so results match Redis bit for bit on any host. Used by INCRBYFLOAT and
/// HINCRBYFLOAT.
#[derive(Clone, Copy, Debug)]
pub struct LongDouble(X87DoubleExtended);

impl LongDouble {
    pub const ZERO: LongDouble = LongDouble(X87DoubleExtended::ZERO);

    pub fn from_i64(n: i64) -> LongDouble {
        // Exact: every i64 fits the 64-bit significand.
        LongDouble(X87DoubleExtended::from_i128(n as i128).value)
    }

    /// Parses text as Redis's `string2ld` does (`strtold` over the whole argument): decimal or
    /// hexadecimal (`0x1.8p3`, `0x10`) notation, `inf`/`infinity`; rejected are the empty
    /// string, leading whitespace, trailing junk or NUL bytes, NaN, values that overflow to
    /// infinity and nonzero values that underflow to zero. Correctly rounded to nearest-even.
    pub fn parse(text: &[u8]) -> Option<LongDouble> {
        if text.is_empty() || text.len() >= MAX_LONG_DOUBLE_CHARS {
            return None;
        }
        let s = std::str::from_utf8(text).ok()?;
        let (neg, body) = match s.as_bytes()[0] {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let lower = body.to_ascii_lowercase();
        if lower == "inf" || lower == "infinity" {
            let v = X87DoubleExtended::INFINITY;
            return Some(LongDouble(if neg { -v } else { v }));
        }
        let (hex, digits) = match lower.strip_prefix("0x") {
            Some(rest) => (true, rest),
            None => (false, lower.as_str()),
        };
        if !valid_float_syntax(digits, hex) {
            return None;
        }
        // Normalise to what the soft-float parser accepts: hex needs an explicit exponent.
        let mut norm = String::with_capacity(lower.len() + 4);
        if hex {
            norm.push_str("0x");
            norm.push_str(digits);
            if !digits.contains('p') {
                norm.push_str("p0");
            }
        } else {
            norm.push_str(digits);
        }
        let r = X87DoubleExtended::from_str_r(&norm, Round::NearestTiesToEven).ok()?;
        let v = r.value;
        // strtold reports ERANGE for overflow (±HUGE_VAL) and total underflow (0): Redis
        // rejects both. A zero written as zero is fine.
        if v.is_infinite() {
            return None;
        }
        if v.is_zero() && has_nonzero_digit(digits, hex) {
            return None;
        }
        Some(LongDouble(if neg { -v } else { v }))
    }

    pub fn is_finite(self) -> bool {
        self.0.is_finite()
    }

    /// Redis's human form of a long double: `printf("%.17Lf")` (exact decimal expansion rounded
    /// half-to-even at 17 fraction digits, as glibc does), then trailing zeros and a trailing
    /// point removed, and `-0` written `0`. Never exponent notation. Finite values only.
    pub fn to_human(self) -> String {
        let bits = self.0.to_bits();
        let sig = bits as u64;
        let biased = ((bits >> 64) & 0x7fff) as i32;
        let neg = (bits >> 79) & 1 == 1;
        // value = sig * 2^exp2 (denormals use the minimum exponent).
        let exp2 = biased.max(1) - 16383 - 63;
        let mut s = format_fixed17(sig, exp2);
        if neg {
            s.insert(0, '-');
        }
        // Strip trailing zeros of the fraction, then the point.
        let trimmed = s.trim_end_matches('0').trim_end_matches('.');
        if trimmed == "-0" {
            "0".to_string()
        } else {
            trimmed.to_string()
        }
    }
}

/// strtod syntax for the part after the sign and `0x`: digits with an optional point (at least
/// one digit), then an optional exponent (`e`/`p` with optional sign and at least one digit).
fn valid_float_syntax(s: &str, hex: bool) -> bool {
    let is_digit = |c: u8| if hex { c.is_ascii_hexdigit() } else { c.is_ascii_digit() };
    let b = s.as_bytes();
    let mut i = 0;
    let mut mant_digits = 0;
    while i < b.len() && is_digit(b[i]) {
        i += 1;
        mant_digits += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && is_digit(b[i]) {
            i += 1;
            mant_digits += 1;
        }
    }
    if mant_digits == 0 {
        return false;
    }
    if i == b.len() {
        return true;
    }
    if b[i] != if hex { b'p' } else { b'e' } {
        return false;
    }
    i += 1;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let exp_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    i > exp_start && i == b.len()
}

/// Whether the mantissa (before any exponent) has a nonzero digit.
fn has_nonzero_digit(s: &str, hex: bool) -> bool {
    let stop = if hex { 'p' } else { 'e' };
    s.chars().take_while(|&c| c != stop).any(|c| c.is_ascii_hexdigit() && c != '0')
}

/// `sig * 2^exp2` in fixed notation with exactly 17 fraction digits, rounded half to even.
fn format_fixed17(sig: u64, exp2: i32) -> String {
    const SCALE: u128 = 100_000_000_000_000_000; // 10^17
    let (int_digits, frac) = if exp2 >= 0 {
        (big_shl_to_decimal(sig, exp2 as u32), 0u128)
    } else {
        let k = (-exp2) as u32;
        let (int_part, frac_bits) = if k >= 64 { (0u64, sig) } else { (sig >> k, sig & ((1u64 << k) - 1)) };
        // frac_bits / 2^k scaled by 10^17; frac_bits * 10^17 < 2^64 * 2^57 fits u128.
        let num = frac_bits as u128 * SCALE;
        let mut q = if k >= 128 { 0 } else { num >> k };
        let rem_cmp = if k >= 128 {
            // num < 2^121 <= 2^(k-1): below one half.
            std::cmp::Ordering::Less
        } else {
            let rem = num - (q << k);
            rem.cmp(&(1u128 << (k - 1)))
        };
        let round_up = match rem_cmp {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Equal => q & 1 == 1,
            std::cmp::Ordering::Less => false,
        };
        if round_up {
            q += 1;
        }
        let mut ip = int_part as u128;
        if q == SCALE {
            q = 0;
            ip += 1;
        }
        (ip.to_string(), q)
    };
    format!("{int_digits}.{frac:017}")
}

/// Decimal digits of `sig << shift` (shift up to ~16400 bits), by repeated division by 10^9.
fn big_shl_to_decimal(sig: u64, shift: u32) -> String {
    if shift < 64 {
        return ((sig as u128) << shift).to_string();
    }
    // Little-endian 32-bit limbs.
    let limb_shift = (shift / 32) as usize;
    let bit_shift = shift % 32;
    let mut limbs = vec![0u32; limb_shift];
    let wide = (sig as u128) << bit_shift;
    for i in 0..4 {
        limbs.push((wide >> (32 * i)) as u32);
    }
    while limbs.last() == Some(&0) {
        limbs.pop();
    }
    let mut chunks = Vec::new();
    while !limbs.is_empty() {
        let mut rem = 0u64;
        for l in limbs.iter_mut().rev() {
            let cur = (rem << 32) | *l as u64;
            *l = (cur / 1_000_000_000) as u32;
            rem = cur % 1_000_000_000;
        }
        chunks.push(rem as u32);
        while limbs.last() == Some(&0) {
            limbs.pop();
        }
    }
    let mut s = chunks.last().map(|c| c.to_string()).unwrap_or_else(|| "0".into());
    for c in chunks.iter().rev().skip(1) {
        s.push_str(&format!("{c:09}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incr(a: &str, b: &str) -> String {
        (LongDouble::parse(a.as_bytes()).unwrap() + LongDouble::parse(b.as_bytes()).unwrap()).to_human()
    }

    #[test]
    fn long_double_matches_redis_text() {
        // Expected texts were taken from redis-server (INCRBYFLOAT).
        assert_eq!(incr("0.2", "0.1"), "0.3");
        assert_eq!(incr("0.1", "0.2"), "0.3");
        assert_eq!(incr("10", "0.5"), "10.5");
        assert_eq!(incr("10.5", "0.5"), "11");
        assert_eq!(incr("5.0e3", "0"), "5000");
        assert_eq!(incr("1", "-1"), "0");
        assert_eq!(incr("-0", "-0"), "0");
        assert_eq!(incr("0", "-1e-30"), "0");
        assert_eq!(incr("0", "0x10"), "16");
        assert_eq!(incr("0", "0x1p4"), "16");
        assert_eq!(incr("0", ".5"), "0.5");
        assert_eq!(incr("0", "5."), "5");
        // Ties at the 17th fraction digit round to even, as glibc's printf.
        assert_eq!(incr("0", "0.000003814697265625"), "0.00000381469726562");
        assert_eq!(incr("0", "0.000011444091796875"), "0.00001144409179688");
    }

    #[test]
    fn long_double_parse_rejects_like_strtold() {
        for bad in
            ["", " 1", "1 ", "1e", "e5", ".", "-", "abc", "nan", "1e5000", "-1e5000", "1e-5000", "1\0", "0x", "1.2.3"]
        {
            assert!(LongDouble::parse(bad.as_bytes()).is_none(), "{bad:?} should be rejected");
        }
        for ok in ["0", "-0", "0e-5000", "+1.5", "1E3", "inf", "-Infinity", "1e-4940", "0x1.8p1", "0X10"] {
            assert!(LongDouble::parse(ok.as_bytes()).is_some(), "{ok:?} should parse");
        }
        assert!(!LongDouble::parse(b"inf").unwrap().is_finite());
    }

    #[test]
    fn long_double_huge_values_print_in_full() {
        let v = LongDouble::parse(b"1e300").unwrap();
        let s = v.to_human();
        assert_eq!(s.len(), 301);
        assert!(s.starts_with("1000000000000000000"), "{s}");
        assert_eq!(LongDouble::from_i64(i64::MIN).to_human(), "-9223372036854775808");
        assert_eq!(LongDouble::from_i64(i64::MAX).to_human(), "9223372036854775807");
    }
}
