//! Reply encoder: writes RESP2 or RESP3 straight into a connection's output buffer.
//!
//! Handlers call these methods instead of building reply values, so a `GET` copies its value
//! once (into the output buffer) and allocates nothing. Types that differ between protocol
//! versions (null, map, set, double, boolean, push) are encoded per `resp3`.

/// An output buffer plus the protocol version it speaks.
#[derive(Debug, Default)]
pub struct Writer {
    pub buf: Vec<u8>,
    pub resp3: bool,
    /// Where the last push frame written ends (pub/sub confirmations and messages, keyspace
    /// events for the client itself): a connection whose replies are off (`CLIENT REPLY OFF`)
    /// drops a command's reply but keeps what it pushed, as Redis does. The owner resets it.
    pub push_end: usize,
}

impl Writer {
    pub fn new(resp3: bool) -> Self {
        Writer { buf: Vec::with_capacity(1024), resp3, push_end: 0 }
    }

    fn line(&mut self, prefix: u8, n: i64) {
        self.buf.push(prefix);
        let mut b = itoa::Buffer::new();
        self.buf.extend_from_slice(b.format(n).as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    /// `+OK`-style status reply. `s` must not contain CR or LF.
    pub fn simple(&mut self, s: &str) {
        self.buf.push(b'+');
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    /// Error reply. `msg` is the full text including its code (`ERR ...`, `WRONGTYPE ...`);
    /// CR and LF are replaced by spaces as Redis does.
    pub fn error(&mut self, msg: &str) {
        self.error_bytes(msg.as_bytes());
    }

    /// Error reply from raw bytes (messages that quote binary client input).
    pub fn error_bytes(&mut self, msg: &[u8]) {
        self.buf.push(b'-');
        let start = self.buf.len();
        self.buf.extend_from_slice(msg);
        for b in &mut self.buf[start..] {
            if *b == b'\r' || *b == b'\n' {
                *b = b' ';
            }
        }
        self.buf.extend_from_slice(b"\r\n");
    }

    pub fn int(&mut self, n: i64) {
        self.line(b':', n);
    }

    pub fn bulk(&mut self, data: &[u8]) {
        self.line(b'$', data.len() as i64);
        self.buf.extend_from_slice(data);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// An integer sent as a bulk string (e.g. `GET` of an int-encoded value).
    pub fn bulk_int(&mut self, n: i64) {
        let mut b = itoa::Buffer::new();
        self.bulk(b.format(n).as_bytes());
    }

    /// RESP3 verbatim string (`=`), a plain bulk string in RESP2.
    pub fn verbatim(&mut self, format: &str, data: &[u8]) {
        if self.resp3 {
            self.line(b'=', (data.len() + 4) as i64);
            self.buf.extend_from_slice(format.as_bytes());
            self.buf.push(b':');
            self.buf.extend_from_slice(data);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(data);
        }
    }

    /// The null reply: `$-1` in RESP2, `_` in RESP3.
    pub fn null(&mut self) {
        if self.resp3 {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.buf.extend_from_slice(b"$-1\r\n");
        }
    }

    /// The null array: `*-1` in RESP2, `_` in RESP3.
    pub fn null_array(&mut self) {
        if self.resp3 {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.buf.extend_from_slice(b"*-1\r\n");
        }
    }

    pub fn array(&mut self, len: usize) {
        self.line(b'*', len as i64);
    }

    /// A map header: `%N` in RESP3, an array of `2N` in RESP2.
    pub fn map(&mut self, pairs: usize) {
        if self.resp3 {
            self.line(b'%', pairs as i64);
        } else {
            self.line(b'*', 2 * pairs as i64);
        }
    }

    /// A set header: `~N` in RESP3, an array in RESP2.
    pub fn set(&mut self, len: usize) {
        if self.resp3 {
            self.line(b'~', len as i64);
        } else {
            self.line(b'*', len as i64);
        }
    }

    /// A push header: `>N` in RESP3, an array in RESP2 (pub/sub messages).
    pub fn push(&mut self, len: usize) {
        if self.resp3 {
            self.line(b'>', len as i64);
        } else {
            self.line(b'*', len as i64);
        }
    }

    /// A boolean: `#t`/`#f` in RESP3, `:1`/`:0` in RESP2.
    pub fn boolean(&mut self, v: bool) {
        if self.resp3 {
            self.buf.extend_from_slice(if v { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(v as i64);
        }
    }

    /// A double: `,<repr>` in RESP3, a bulk string in RESP2, formatted as Redis 7.2 does
    /// (shortest representation that round-trips, `inf`, `-inf`, `nan`).
    pub fn double(&mut self, v: f64) {
        let s = format_double(v);
        if self.resp3 {
            self.buf.push(b',');
            self.buf.extend_from_slice(s.as_bytes());
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(s.as_bytes());
        }
    }

    /// Appends bytes that are already RESP-encoded.
    pub fn raw(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Drops everything written after `mark` (used to retract a partial reply).
    pub fn truncate(&mut self, mark: usize) {
        self.buf.truncate(mark);
    }

    /// Notes that everything written so far ends with a push frame (see `push_end`).
    pub fn pushed(&mut self) {
        self.push_end = self.buf.len();
    }
}

/// Formats a double the way Redis 7.2 replies with it: the shortest decimal that round-trips,
/// in `%g`-like style (exponent form outside 1e-5..1e17 magnitude), `inf`, `-inf`, `nan`.
pub fn format_double(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    // `{:e}` gives the shortest round-trip digits; choose fixed or exponent notation as %g does
    // with the precision equal to the number of significant digits.
    let e = format!("{:e}", v);
    let (mantissa, exp) = e.split_once('e').expect("exponent form");
    let exp: i32 = exp.parse().expect("exponent");
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let neg = v < 0.0;
    let precision = digits.len().max(1) as i32;
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if exp < -4 || exp >= precision.max(17) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let a = exp.unsigned_abs();
        if a < 10 {
            out.push('0');
        }
        out.push_str(&a.to_string());
    } else if exp < 0 {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.push_str(&digits);
            for _ in digits.len()..int_len {
                out.push('0');
            }
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_both_protocols() {
        let mut w = Writer::new(false);
        w.null();
        w.map(1);
        w.boolean(true);
        w.double(1.5);
        assert_eq!(w.buf, b"$-1\r\n*2\r\n:1\r\n$3\r\n1.5\r\n");
        let mut w = Writer::new(true);
        w.null();
        w.map(1);
        w.boolean(true);
        w.double(1.5);
        assert_eq!(w.buf, b"_\r\n%1\r\n#t\r\n,1.5\r\n");
    }

    #[test]
    fn errors_have_no_newlines() {
        let mut w = Writer::new(false);
        w.error("ERR a\r\nb");
        assert_eq!(w.buf, b"-ERR a  b\r\n");
    }

    #[test]
    fn double_formatting() {
        assert_eq!(format_double(1.1), "1.1");
        assert_eq!(format_double(3.0), "3");
        assert_eq!(format_double(-2.5), "-2.5");
        assert_eq!(format_double(0.0001), "0.0001");
        assert_eq!(format_double(0.00001), "1e-05");
        assert_eq!(format_double(1e17), "1e+17");
        assert_eq!(format_double(12345678901234567.0), "12345678901234568");
        assert_eq!(format_double(f64::INFINITY), "inf");
        assert_eq!(format_double(f64::NEG_INFINITY), "-inf");
    }
}
