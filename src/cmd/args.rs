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
