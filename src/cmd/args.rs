//! Argument parsing helpers shared by handlers, with Redis's error texts.

use super::CmdError;

/// Case-insensitive comparison of an argument with an ASCII keyword.
#[inline]
pub fn is(arg: &[u8], keyword: &str) -> bool {
    arg.eq_ignore_ascii_case(keyword.as_bytes())
}

/// A 64-bit integer, or `ERR value is not an integer or out of range`.
pub fn int(arg: &[u8]) -> Result<i64, CmdError> {
    resp::parse_i64(arg).ok_or(CmdError::NotInteger)
}

/// A non-negative integer that fits `usize`.
pub fn uint(arg: &[u8]) -> Result<usize, CmdError> {
    match int(arg)? {
        n if n >= 0 => Ok(n as usize),
        _ => Err(CmdError::NotInteger),
    }
}

/// A double as Redis's `getDoubleFromObject` parses it: `strtod` syntax, `inf`/`-inf`
/// accepted, NaN and leading/trailing spaces rejected.
pub fn float(arg: &[u8]) -> Result<f64, CmdError> {
    parse_f64(arg).ok_or(CmdError::NotFloat)
}

/// Parses a double like `strtod` over the whole argument. `None` on any junk.
pub fn parse_f64(arg: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(arg).ok()?;
    if s.is_empty()
        || s.starts_with(|c: char| c.is_ascii_whitespace())
        || s.ends_with(|c: char| c.is_ascii_whitespace())
    {
        return None;
    }
    let lower = s.to_ascii_lowercase();
    let v = match lower.trim_start_matches(['+', '-']) {
        "inf" | "infinity" => {
            if lower.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            }
        }
        t if t.starts_with("0x") => {
            let neg = lower.starts_with('-');
            let v = u64::from_str_radix(&t[2..], 16).ok()? as f64;
            if neg {
                -v
            } else {
                v
            }
        }
        _ => {
            // Rust accepts "inf"/"nan" spellings strtod also accepts; exclude nan, accept the rest.
            if lower.contains("nan") {
                return None;
            }
            s.parse::<f64>().ok()?
        }
    };
    if v.is_nan() {
        return None;
    }
    Some(v)
}

// ---------------------------------------------------------------------------------------------
// Shapes several families share
// ---------------------------------------------------------------------------------------------

/// Redis's SCAN cursor syntax: `strtoull` over the whole argument, no leading space.
pub fn parse_cursor(arg: &[u8]) -> Option<u64> {
    let (neg, digits) = match arg.first()? {
        b'-' => (true, &arg[1..]),
        b'+' => (false, &arg[1..]),
        _ => (false, arg),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for d in digits {
        v = v.checked_mul(10)?.checked_add((d - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// HSCAN / SSCAN options after the cursor: `MATCH pattern`, `COUNT n` (n ≥ 1), any order,
/// the last one wins; anything else is a syntax error.
pub fn scan_options<'a>(args: &[&'a [u8]]) -> Result<(Option<&'a [u8]>, usize), CmdError> {
    let mut pattern = None;
    let mut count = 10usize;
    let mut i = 0;
    while i < args.len() {
        let has_value = i + 1 < args.len();
        if is(args[i], "count") && has_value {
            let n = int(args[i + 1])?;
            if n < 1 {
                return Err(CmdError::Syntax);
            }
            count = n as usize;
        } else if is(args[i], "match") && has_value {
            pattern = Some(args[i + 1]);
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    Ok((pattern.filter(|p| *p != b"*"), count))
}

/// Largest repetition count HRANDFIELD / SRANDMEMBER / ZRANDMEMBER accept with a negative count (a reply of
/// that many elements is built in memory).
pub const MAX_REPEAT: u64 = 1 << 24;

/// The count of HRANDFIELD / SRANDMEMBER / ZRANDMEMBER: an integer in [-i64::MAX, i64::MAX], with Redis's
/// error texts.
pub fn random_count(arg: &[u8]) -> Result<i64, CmdError> {
    let n = int(arg)?;
    if n == i64::MIN {
        return Err(CmdError::msg(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    Ok(n)
}

/// Lower-cases an ASCII command name into a stack buffer; `None` if it is too long to be a name.
pub fn lower_name<'b>(name: &[u8], buf: &'b mut [u8; 64]) -> Option<&'b str> {
    if name.len() > buf.len() {
        return None;
    }
    for (d, s) in buf.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    std::str::from_utf8(&buf[..name.len()]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_parsing_follows_strtoull() {
        assert_eq!(parse_cursor(b"0"), Some(0));
        assert_eq!(parse_cursor(b"+5"), Some(5));
        assert_eq!(parse_cursor(b"-1"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551616"), None);
        for bad in [&b""[..], b" 1", b"1 ", b"0x1", b"+", b"-", b"abc"] {
            assert_eq!(parse_cursor(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn floats_like_strtod() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"+inf"), Some(f64::INFINITY));
        assert_eq!(parse_f64(b"1e3"), Some(1000.0));
        assert_eq!(parse_f64(b".5"), Some(0.5));
        assert_eq!(parse_f64(b"nan"), None);
        assert_eq!(parse_f64(b" 1"), None);
        assert_eq!(parse_f64(b"1 "), None);
        assert_eq!(parse_f64(b"abc"), None);
        assert_eq!(parse_f64(b""), None);
    }
}
