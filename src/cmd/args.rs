//! Argument parsing helpers shared by handlers, with Redis's error texts: single arguments
//! ([`int`], [`uint`], [`float`], [`is`]), the [`Cursor`] the option loops walk, and the shapes
//! several families share (SCAN cursors and options, random-member counts).

use super::CmdError;

/// Case-insensitive comparison of an argument with an ASCII keyword.
#[inline]
pub fn is(arg: &[u8], keyword: &str) -> bool {
    arg.eq_ignore_ascii_case(keyword.as_bytes())
}

/// [`is`] for an argument read as Redis reads it with `strcasecmp`: as a C string, up to its
/// first NUL byte (`GET\0junk` is `GET`).
#[inline]
pub fn is_c(arg: &[u8], keyword: &str) -> bool {
    is(&arg[..arg.iter().position(|&b| b == 0).unwrap_or(arg.len())], keyword)
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

/// A double as Redis's `getDoubleFromObject` (`string2d`) reads it: [`parse_f64`]'s syntax,
/// and no overflow to ±inf or underflow to 0 (strtod's ERANGE); `inf` spelled out is accepted.
/// Scores, weights, GEO coordinates and radii.
pub fn double(a: &[u8]) -> Option<f64> {
    let v = parse_f64(a)?;
    let body = a.strip_prefix(b"-").or_else(|| a.strip_prefix(b"+")).unwrap_or(a);
    let lower = body.to_ascii_lowercase();
    if v.is_infinite() && !lower.starts_with(b"inf") {
        return None;
    }
    if v == 0.0 {
        let mantissa: &[u8] = match lower.strip_prefix(b"0x") {
            Some(h) => h,
            None => lower.split(|&c| c == b'e').next().unwrap_or(&[]),
        };
        if mantissa.iter().any(|c| c.is_ascii_alphanumeric() && *c != b'0') {
            return None;
        }
    }
    Some(v)
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
// Cursor
// ---------------------------------------------------------------------------------------------

/// A cursor over a command's arguments, for option loops (in the spirit of mini-redis's
/// `Parse`). It only walks and matches; each call site keeps its own errors, since Redis's
/// differ from command to command (an unknown word, a keyword missing its value, a bad number).
///
/// A keyword that needs values matches only when they are there ([`Cursor::value_of`],
/// [`Cursor::values_of`], [`Cursor::keyword_with`]): `COUNT` as the last argument is then an
/// unknown word, which is how Redis's loops treat it. Matching methods consume only on a
/// match, so they chain in `if ... else if` ladders, with conditions on the state before them
/// (`!nx && c.keyword("xx")`).
#[derive(Clone, Debug)]
pub struct Cursor<'c, 'a> {
    args: &'c [&'a [u8]],
    pos: usize,
    /// Keywords compare as C strings: up to the argument's first NUL byte (SET, GETEX, LCS).
    c_strings: bool,
}

impl<'c, 'a> Cursor<'c, 'a> {
    /// A cursor at `args[from]`.
    pub fn new(args: &'c [&'a [u8]], from: usize) -> Self {
        Cursor { args, pos: from.min(args.len()), c_strings: false }
    }

    /// Compares keywords as Redis compares C strings: an argument counts up to its first NUL
    /// byte, so `NX\0junk` is `NX`.
    pub fn c_strings(mut self) -> Self {
        self.c_strings = true;
        self
    }

    /// The index in `args` of the next argument.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// How many arguments are left.
    pub fn remaining(&self) -> usize {
        self.args.len() - self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The next argument, not consumed.
    pub fn peek(&self) -> Option<&'a [u8]> {
        self.args.get(self.pos).copied()
    }

    /// The arguments left, not consumed.
    pub fn rest(&self) -> &'c [&'a [u8]] {
        &self.args[self.pos..]
    }

    fn matches(&self, word: &str) -> bool {
        match self.peek() {
            Some(a) if self.c_strings => is(&a[..a.iter().position(|&b| b == 0).unwrap_or(a.len())], word),
            Some(a) => is(a, word),
            None => false,
        }
    }

    /// Consumes the next argument if it is `word` (case-insensitively).
    pub fn keyword(&mut self, word: &str) -> bool {
        self.keyword_with(word, 0)
    }

    /// Consumes the next argument if it is `word` and at least `values` arguments follow it
    /// (which stay for the caller to read).
    pub fn keyword_with(&mut self, word: &str, values: usize) -> bool {
        let hit = self.remaining() > values && self.matches(word);
        if hit {
            self.pos += 1;
        }
        hit
    }

    /// `word v1 .. vn`: consumes the keyword and its `n` values and returns the values, or
    /// consumes nothing (`None`) when the next argument is not `word` or fewer than `n` follow.
    pub fn values_of(&mut self, word: &str, n: usize) -> Option<&'c [&'a [u8]]> {
        if !self.keyword_with(word, n) {
            return None;
        }
        let values = &self.args[self.pos..self.pos + n];
        self.pos += n;
        Some(values)
    }

    /// `word value`: the value, as [`Cursor::values_of`] with one value.
    pub fn value_of(&mut self, word: &str) -> Option<&'a [u8]> {
        self.values_of(word, 1).map(|v| v[0])
    }

    /// `word n` with an integer `n` ([`int`]'s error when it is not one).
    pub fn int_of(&mut self, word: &str) -> Result<Option<i64>, CmdError> {
        self.value_of(word).map(int).transpose()
    }

    /// `LIMIT offset count`, both integers ([`int`]'s error when one is not).
    pub fn limit(&mut self) -> Result<Option<(i64, i64)>, CmdError> {
        match self.values_of("limit", 2) {
            Some(v) => Ok(Some((int(v[0])?, int(v[1])?))),
            None => Ok(None),
        }
    }

    /// The next argument, or a syntax error when there is none.
    pub fn value(&mut self) -> Result<&'a [u8], CmdError> {
        self.next().ok_or(CmdError::Syntax)
    }

    /// The next argument as an integer ([`int`]); a syntax error when there is none.
    pub fn int(&mut self) -> Result<i64, CmdError> {
        int(self.value()?)
    }

    /// The next argument as a non-negative integer ([`uint`]); a syntax error when there is none.
    pub fn uint(&mut self) -> Result<usize, CmdError> {
        uint(self.value()?)
    }

    /// The next argument as a double ([`float`]); a syntax error when there is none.
    pub fn float(&mut self) -> Result<f64, CmdError> {
        float(self.value()?)
    }
}

impl<'a> Iterator for Cursor<'_, 'a> {
    type Item = &'a [u8];

    /// The next argument, consumed.
    fn next(&mut self) -> Option<&'a [u8]> {
        let a = self.peek()?;
        self.pos += 1;
        Some(a)
    }
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

/// A SCAN-family cursor argument, or `ERR invalid cursor`.
pub fn scan_cursor(arg: &[u8]) -> Result<u64, CmdError> {
    parse_cursor(arg).ok_or_else(|| CmdError::msg("ERR invalid cursor"))
}

/// The options of SCAN, HSCAN, SSCAN and ZSCAN.
#[derive(Debug, PartialEq)]
pub struct ScanOptions<'a> {
    /// `MATCH pattern`; `None` also for `*`, which matches everything.
    pub pattern: Option<&'a [u8]>,
    /// `COUNT n`, 10 by default.
    pub count: usize,
    /// `TYPE name` (SCAN only).
    pub type_name: Option<&'a [u8]>,
}

/// SCAN-family options from `args[from..]`: `MATCH pattern`, `COUNT n` (n ≥ 1) and, when
/// `with_type` (SCAN), `TYPE name`; any order, the last one wins. Anything else (a keyword
/// without its value included) is a syntax error; a COUNT that is not an integer is
/// `ERR value is not an integer or out of range`.
pub fn scan_options<'a>(args: &[&'a [u8]], from: usize, with_type: bool) -> Result<ScanOptions<'a>, CmdError> {
    let mut o = ScanOptions { pattern: None, count: 10, type_name: None };
    let mut c = Cursor::new(args, from);
    while !c.is_empty() {
        if let Some(n) = c.int_of("count")? {
            if n < 1 {
                return Err(CmdError::Syntax);
            }
            o.count = n as usize;
        } else if let Some(p) = c.value_of("match") {
            o.pattern = Some(p);
        } else if with_type && c.keyword_with("type", 1) {
            o.type_name = c.next();
        } else {
            return Err(CmdError::Syntax);
        }
    }
    o.pattern = o.pattern.filter(|p| *p != b"*");
    Ok(o)
}

/// Largest repetition count HRANDFIELD / SRANDMEMBER / ZRANDMEMBER accept with a negative count
/// (a reply of that many elements is built in memory).
pub const MAX_REPEAT: u64 = 1 << 24;

/// The count of HRANDFIELD / SRANDMEMBER / ZRANDMEMBER: an integer in [-i64::MAX, i64::MAX],
/// with Redis's error texts.
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
    fn cursor_matches_only_complete_options() {
        let a: Vec<&[u8]> = vec![b"cmd", b"Limit", b"1", b"x", b"COUNT"];
        let mut c = Cursor::new(&a, 1);
        assert!(!c.keyword("count"));
        assert_eq!(c.limit(), Err(CmdError::NotInteger), "offset 1 parses, count x does not");
        let mut c = Cursor::new(&a, 4);
        assert_eq!(c.value_of("count"), None, "a keyword without its value is not matched");
        assert_eq!((c.pos(), c.remaining()), (4, 1));
        assert!(c.keyword("count") && c.is_empty());
        assert_eq!(c.value(), Err(CmdError::Syntax));
        let a: Vec<&[u8]> = vec![b"GROUP", b"g", b"c", b"STREAMS", b"k", b"0"];
        let mut c = Cursor::new(&a, 0);
        assert_eq!(c.values_of("group", 2), Some(&a[1..3]));
        assert!(c.keyword_with("streams", 1));
        assert_eq!(c.rest(), &a[4..]);
        assert_eq!(c.collect::<Vec<_>>(), vec![&b"k"[..], b"0"]);
    }

    #[test]
    fn c_string_keywords_stop_at_nul() {
        let a: Vec<&[u8]> = vec![b"NX\0junk", b"NXjunk"];
        assert!(!Cursor::new(&a, 0).keyword("nx"));
        let mut c = Cursor::new(&a, 0).c_strings();
        assert!(c.keyword("nx"));
        assert!(!c.keyword("nx"));
    }

    #[test]
    fn scan_options_like_redis() {
        let a: Vec<&[u8]> = vec![b"scan", b"0", b"MATCH", b"*", b"count", b"5", b"TYPE", b"hash"];
        let o = scan_options(&a, 2, true).unwrap();
        assert_eq!(o, ScanOptions { pattern: None, count: 5, type_name: Some(b"hash") });
        assert_eq!(scan_options(&a, 2, false), Err(CmdError::Syntax), "TYPE is SCAN's only");
        let a: Vec<&[u8]> = vec![b"hscan", b"k", b"0", b"COUNT", b"0"];
        assert_eq!(scan_options(&a, 3, false), Err(CmdError::Syntax));
        let a: Vec<&[u8]> = vec![b"hscan", b"k", b"0", b"COUNT", b"x"];
        assert_eq!(scan_options(&a, 3, false), Err(CmdError::NotInteger));
        let a: Vec<&[u8]> = vec![b"hscan", b"k", b"0", b"MATCH"];
        assert_eq!(scan_options(&a, 3, false), Err(CmdError::Syntax));
    }

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
    fn doubles_like_string2d() {
        assert_eq!(double(b"1.5"), Some(1.5));
        assert_eq!(double(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(double(b"1e400"), None);
        assert_eq!(double(b"1e-400"), None);
        assert_eq!(double(b"0e5"), Some(0.0));
        assert_eq!(double(b" 1"), None);
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
