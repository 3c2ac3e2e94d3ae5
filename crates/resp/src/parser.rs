//! Incremental request parser: RESP multibulk (`*N\r\n$L\r\n...`) and inline commands.
//!
//! The parser never copies multibulk arguments: it records `(start, end)` spans into the
//! caller's read buffer. It is resumable: when a command is split across reads, the next call
//! continues where the last one stopped instead of re-scanning, so a 512 MB argument or a
//! 1,000,000-argument command costs O(n) in total. Declared lengths are checked against limits
//! but never used to allocate up front.

use std::fmt;

/// Longest inline command or count line accepted before the newline (Redis: 64 KiB).
pub const INLINE_MAX: usize = 64 * 1024;

/// Limits applied while parsing; mirror `proto-max-bulk-len` and Redis's unauthenticated caps.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest bulk string accepted (`proto-max-bulk-len`).
    pub max_bulk_len: i64,
    /// Largest multibulk count accepted.
    pub max_multibulk_len: i64,
    /// Apply Redis's caps for clients that have not authenticated yet (10 arguments, 16 KiB
    /// bulks), with their own error texts.
    pub unauthenticated: bool,
}

/// Redis's caps for clients that have not authenticated.
const UNAUTH_MULTIBULK: i64 = 10;
const UNAUTH_BULK: i64 = 16384;

impl Default for Limits {
    fn default() -> Self {
        Limits { max_bulk_len: 512 * 1024 * 1024, max_multibulk_len: i32::MAX as i64, unauthenticated: false }
    }
}

/// A protocol violation. Its `Display` is the text after `-ERR ` in Redis's reply; the
/// connection is closed after the reply is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtocolError {
    TooBigInline,
    UnbalancedQuotes,
    TooBigMbulkCount,
    InvalidMultibulkLength,
    TooBigBulkCount,
    ExpectedDollar(u8),
    InvalidBulkLength,
    UnauthenticatedMultibulkLength,
    UnauthenticatedBulkLength,
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::TooBigInline => f.write_str("Protocol error: too big inline request"),
            ProtocolError::UnbalancedQuotes => f.write_str("Protocol error: unbalanced quotes in request"),
            ProtocolError::TooBigMbulkCount => f.write_str("Protocol error: too big mbulk count string"),
            ProtocolError::InvalidMultibulkLength => f.write_str("Protocol error: invalid multibulk length"),
            ProtocolError::TooBigBulkCount => f.write_str("Protocol error: too big bulk count string"),
            ProtocolError::ExpectedDollar(c) => write!(f, "Protocol error: expected '$', got '{}'", *c as char),
            ProtocolError::InvalidBulkLength => f.write_str("Protocol error: invalid bulk length"),
            ProtocolError::UnauthenticatedMultibulkLength => {
                f.write_str("Protocol error: unauthenticated multibulk length")
            }
            ProtocolError::UnauthenticatedBulkLength => f.write_str("Protocol error: unauthenticated bulk length"),
        }
    }
}

impl std::error::Error for ProtocolError {}

/// What a successful `parse` found at the front of the buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A complete multibulk command of `consumed` bytes; its arguments are `Parser::spans()`.
    Multibulk { consumed: usize },
    /// A complete inline command; its arguments were unquoted into owned buffers.
    Inline { consumed: usize, args: Vec<Vec<u8>> },
    /// Bytes that carry no command (an empty line, `*0`, `*-1`): drop them and go on.
    Empty { consumed: usize },
}

/// Resumable parser state for the command at the front of a connection's read buffer.
#[derive(Default, Debug)]
pub struct Parser {
    /// Arguments still expected for the multibulk command in progress (None: not started).
    remaining: Option<usize>,
    /// Length of the bulk string whose `$L\r\n` header has been read.
    pending_bulk: Option<usize>,
    /// Offset of the first byte not yet parsed.
    pos: usize,
    spans: Vec<(usize, usize)>,
}

/// Parses a signed decimal the way Redis's `string2ll` does: no spaces, no `+`, no leading zeros.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = if s[0] == b'-' { (true, &s[1..]) } else { (false, s) };
    if digits.is_empty() || digits[0] == b'0' {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else if v > i64::MAX as u64 {
        None
    } else {
        Some(v as i64)
    }
}

fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    buf[from..].iter().position(|&b| b == b'\r').map(|p| p + from)
}

impl Parser {
    pub fn new() -> Self {
        Self::default()
    }

    /// The argument spans of the last `Parsed::Multibulk`, as byte ranges of the buffer.
    pub fn spans(&self) -> &[(usize, usize)] {
        &self.spans
    }

    /// True when part of a command has been read and more bytes are awaited.
    pub fn in_progress(&self) -> bool {
        self.remaining.is_some()
    }

    /// Bytes at the front of the buffer that belong to the command in progress and are parsed
    /// already (its header, its complete arguments, the header of the argument being read); 0
    /// between commands. Redis has moved these out of its query buffer (CLIENT LIST `qbuf`).
    pub fn parsed_len(&self) -> usize {
        if self.remaining.is_some() {
            self.pos
        } else {
            0
        }
    }

    /// Total length of the complete arguments of the command in progress (CLIENT LIST
    /// `argv-mem` of a client whose command is partly read); 0 between commands.
    pub fn parsed_args_len(&self) -> usize {
        if self.remaining.is_some() {
            self.spans.iter().map(|&(s, e)| e - s).sum()
        } else {
            0
        }
    }

    /// How many more bytes the bulk string in progress needs (for read sizing), if known.
    pub fn pending_bulk_bytes(&self, buffered: usize) -> Option<usize> {
        self.pending_bulk.map(|len| (self.pos + len + 2).saturating_sub(buffered))
    }

    /// Parses the command at the front of `buf`. `Ok(None)`: incomplete, call again with the
    /// same buffer once more bytes have been appended. After a complete command the caller
    /// drops `consumed` bytes from the front of the buffer.
    pub fn parse(&mut self, buf: &[u8], limits: Limits) -> Result<Option<Parsed>, ProtocolError> {
        if self.remaining.is_none() {
            if buf.is_empty() {
                return Ok(None);
            }
            if buf[0] != b'*' {
                return parse_inline(buf);
            }
            let Some(cr) = find_crlf(buf, 1) else {
                if buf.len() > INLINE_MAX {
                    return Err(ProtocolError::TooBigMbulkCount);
                }
                return Ok(None);
            };
            if cr + 1 >= buf.len() {
                return Ok(None);
            }
            let count = parse_i64(&buf[1..cr]).ok_or(ProtocolError::InvalidMultibulkLength)?;
            if count > limits.max_multibulk_len {
                return Err(ProtocolError::InvalidMultibulkLength);
            }
            if limits.unauthenticated && count > UNAUTH_MULTIBULK {
                return Err(ProtocolError::UnauthenticatedMultibulkLength);
            }
            let consumed = cr + 2;
            if count <= 0 {
                return Ok(Some(Parsed::Empty { consumed }));
            }
            self.spans.clear();
            // Cap the up-front reservation: the declared count is not trusted.
            self.spans.reserve((count as usize).min(1024));
            self.remaining = Some(count as usize);
            self.pos = consumed;
        }
        while let Some(remaining) = self.remaining {
            if remaining == 0 {
                let consumed = self.pos;
                self.remaining = None;
                self.pos = 0;
                return Ok(Some(Parsed::Multibulk { consumed }));
            }
            let len = match self.pending_bulk {
                Some(len) => len,
                None => {
                    if self.pos >= buf.len() {
                        return Ok(None);
                    }
                    let Some(cr) = find_crlf(buf, self.pos) else {
                        if buf.len() - self.pos > INLINE_MAX {
                            return Err(ProtocolError::TooBigBulkCount);
                        }
                        return Ok(None);
                    };
                    if buf[self.pos] != b'$' {
                        return Err(ProtocolError::ExpectedDollar(buf[self.pos]));
                    }
                    if cr + 1 >= buf.len() {
                        return Ok(None);
                    }
                    let len = parse_i64(&buf[self.pos + 1..cr]).ok_or(ProtocolError::InvalidBulkLength)?;
                    if len < 0 || len > limits.max_bulk_len {
                        return Err(ProtocolError::InvalidBulkLength);
                    }
                    if limits.unauthenticated && len > UNAUTH_BULK {
                        return Err(ProtocolError::UnauthenticatedBulkLength);
                    }
                    self.pos = cr + 2;
                    self.pending_bulk = Some(len as usize);
                    len as usize
                }
            };
            if buf.len() < self.pos + len + 2 {
                return Ok(None);
            }
            // Redis does not check that the bulk is followed by CRLF; it skips two bytes.
            self.spans.push((self.pos, self.pos + len));
            self.pos += len + 2;
            self.pending_bulk = None;
            self.remaining = Some(remaining - 1);
        }
        unreachable!("loop returns when the command completes")
    }
}

fn parse_inline(buf: &[u8]) -> Result<Option<Parsed>, ProtocolError> {
    // Redis looks for the newline with `strchr`, which stops at a NUL byte: a NUL before the
    // newline hides it, and the request stays incomplete until it grows past the inline limit.
    let Some(nl) = buf.iter().position(|&b| b == b'\n' || b == 0).filter(|&i| buf[i] == b'\n') else {
        if buf.len() > INLINE_MAX {
            return Err(ProtocolError::TooBigInline);
        }
        return Ok(None);
    };
    let mut line = &buf[..nl];
    if line.last() == Some(&b'\r') {
        line = &line[..line.len() - 1];
    }
    let args = split_args(line).ok_or(ProtocolError::UnbalancedQuotes)?;
    let consumed = nl + 1;
    if args.is_empty() {
        return Ok(Some(Parsed::Empty { consumed }));
    }
    Ok(Some(Parsed::Inline { consumed, args }))
}

/// C's `isspace`: space, \t, \n, \v, \f, \r.
fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn hex_val(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Splits a line into arguments with the quoting rules of redis-cli and redis.conf:
/// double quotes with `\n`, `\xHH`-style escapes, single quotes with only `\'`, and a closing
/// quote that must be followed by a space or the end. `None` means unbalanced quotes.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    // Redis splits a C string: a NUL byte ends the line.
    let line = match line.iter().position(|&b| b == 0) {
        Some(nul) => &line[..nul],
        None => line,
    };
    let mut args = Vec::new();
    let mut i = 0;
    let n = line.len();
    loop {
        while i < n && is_c_space(line[i]) {
            i += 1;
        }
        if i >= n {
            return Some(args);
        }
        let mut cur = Vec::new();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            if in_dq {
                if i >= n {
                    return None;
                }
                let c = line[i];
                if c == b'\\' && i + 3 < n && line[i + 1] == b'x' {
                    if let (Some(h), Some(l)) = (hex_val(line[i + 2]), hex_val(line[i + 3])) {
                        cur.push(h * 16 + l);
                        i += 4;
                        continue;
                    }
                }
                if c == b'\\' && i + 1 < n {
                    i += 1;
                    cur.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                } else if c == b'"' {
                    if i + 1 < n && !is_c_space(line[i + 1]) {
                        return None;
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                }
                i += 1;
            } else if in_sq {
                if i >= n {
                    return None;
                }
                let c = line[i];
                if c == b'\\' && i + 1 < n && line[i + 1] == b'\'' {
                    cur.push(b'\'');
                    i += 2;
                    continue;
                } else if c == b'\'' {
                    if i + 1 < n && !is_c_space(line[i + 1]) {
                        return None;
                    }
                    i += 1;
                    break;
                }
                cur.push(c);
                i += 1;
            } else {
                if i >= n {
                    break;
                }
                match line[i] {
                    b' ' | b'\n' | b'\r' | b'\t' => break,
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    c => cur.push(c),
                }
                i += 1;
            }
        }
        args.push(cur);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, ProtocolError> {
        let mut p = Parser::new();
        let mut buf = input;
        let mut out = Vec::new();
        loop {
            match p.parse(buf, Limits::default())? {
                None => return Ok(out),
                Some(Parsed::Multibulk { consumed }) => {
                    out.push(p.spans().iter().map(|&(s, e)| buf[s..e].to_vec()).collect());
                    buf = &buf[consumed..];
                }
                Some(Parsed::Inline { consumed, args }) => {
                    out.push(args);
                    buf = &buf[consumed..];
                }
                Some(Parsed::Empty { consumed }) => buf = &buf[consumed..],
            }
        }
    }

    #[test]
    fn multibulk_and_pipeline() {
        let cmds = parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n").unwrap();
        assert_eq!(cmds, vec![vec![b"GET".to_vec(), b"k".to_vec()], vec![b"PING".to_vec()]]);
    }

    #[test]
    fn resumes_byte_by_byte() {
        let input = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n";
        let mut p = Parser::new();
        for end in 1..input.len() {
            assert_eq!(p.parse(&input[..end], Limits::default()).unwrap(), None, "at {end}");
        }
        assert_eq!(p.parse(input, Limits::default()).unwrap(), Some(Parsed::Multibulk { consumed: input.len() }));
        assert_eq!(p.spans(), &[(8, 11), (17, 18), (24, 29)]);
        assert_eq!((p.parsed_len(), p.parsed_args_len()), (0, 0));
    }

    #[test]
    fn reports_the_parsed_part_of_a_partial_command() {
        // As Redis's query buffer: the header, SET and k are parsed, so is `$5`; `hel` is not.
        let input = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhel";
        let mut p = Parser::new();
        assert_eq!(p.parse(input, Limits::default()).unwrap(), None);
        assert_eq!((input.len() - p.parsed_len(), p.parsed_args_len()), (3, 4));
    }

    #[test]
    fn inline_commands() {
        assert_eq!(parse_all(b"PING\r\n").unwrap(), vec![vec![b"PING".to_vec()]]);
        assert_eq!(
            parse_all(b"set \"a b\" 'c\\'d' \"\\x41\\n\"\n").unwrap(),
            vec![vec![b"set".to_vec(), b"a b".to_vec(), b"c'd".to_vec(), b"A\n".to_vec()]]
        );
        assert_eq!(parse_all(b"\r\n\n").unwrap(), Vec::<Vec<Vec<u8>>>::new());
        assert_eq!(parse_all(b"set \"abc\n"), Err(ProtocolError::UnbalancedQuotes));
        assert_eq!(parse_all(b"set \"a\"b\n"), Err(ProtocolError::UnbalancedQuotes));
        assert_eq!(parse_all(b"get a\0junk\n").unwrap(), Vec::<Vec<Vec<u8>>>::new(), "NUL hides the newline");
        assert_eq!(split_args(b"get a\0junk").unwrap(), vec![b"get".to_vec(), b"a".to_vec()]);
        assert_eq!(parse_all(b"\x0bget\x0ca\n").unwrap(), vec![vec![b"get\x0ca".to_vec()]]);
    }

    #[test]
    fn errors() {
        assert_eq!(parse_all(b"*x\r\n"), Err(ProtocolError::InvalidMultibulkLength));
        assert_eq!(parse_all(b"*1\r\nfoo\r\n"), Err(ProtocolError::ExpectedDollar(b'f')));
        assert_eq!(parse_all(b"*1\r\n$-1\r\n"), Err(ProtocolError::InvalidBulkLength));
        assert_eq!(parse_all(b"*1\r\n$536870913\r\n"), Err(ProtocolError::InvalidBulkLength));
        assert_eq!(parse_all(b"*3000000000\r\n"), Err(ProtocolError::InvalidMultibulkLength));
        let unauth = Limits { unauthenticated: true, ..Limits::default() };
        assert_eq!(Parser::new().parse(b"*11\r\n", unauth), Err(ProtocolError::UnauthenticatedMultibulkLength));
        assert_eq!(Parser::new().parse(b"*1\r\n$16385\r\n", unauth), Err(ProtocolError::UnauthenticatedBulkLength));
        assert_eq!(Parser::new().parse(b"*10\r\n$16384\r\n", unauth), Ok(None));
        assert_eq!(parse_all(&[b'a'; INLINE_MAX + 1]), Err(ProtocolError::TooBigInline));
        let mut big = b"*".to_vec();
        big.extend(std::iter::repeat_n(b'1', INLINE_MAX + 1));
        assert_eq!(parse_all(&big), Err(ProtocolError::TooBigMbulkCount));
    }

    #[test]
    fn lying_length_is_not_allocated() {
        let mut p = Parser::new();
        assert_eq!(
            p.parse(b"*1\r\n$2147483647\r\n", Limits { max_bulk_len: i64::MAX, ..Limits::default() }).unwrap(),
            None
        );
        assert!(p.spans.capacity() <= 1024);
        let mut p = Parser::new();
        assert_eq!(p.parse(b"*2147483647\r\n", Limits::default()).unwrap(), None);
        assert!(p.spans.capacity() <= 1024);
    }

    #[test]
    fn empty_multibulk_is_skipped() {
        assert_eq!(parse_all(b"*0\r\n*-1\r\n*1\r\n$0\r\n\r\n").unwrap(), vec![vec![Vec::new()]]);
    }

    #[test]
    fn i64_parsing_matches_redis() {
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        for bad in [&b""[..], b"-", b"01", b"+1", b" 1", b"1 ", b"-0", b"1.0"] {
            assert_eq!(parse_i64(bad), None, "{:?}", bad);
        }
    }

    /// Parses `input` fed in chunks cycling through `chunks`; returns commands and whether a
    /// protocol error ended the stream.
    fn parse_chunked(input: &[u8], chunks: &[usize]) -> (Vec<Vec<Vec<u8>>>, bool) {
        let limits = Limits { max_bulk_len: 1 << 16, max_multibulk_len: 1 << 12, unauthenticated: false };
        let mut p = Parser::new();
        let mut buf = Vec::new();
        let mut fed = 0;
        let mut sizes = chunks.iter().copied().cycle();
        let mut out = Vec::new();
        loop {
            match p.parse(&buf, limits) {
                Ok(Some(Parsed::Multibulk { consumed })) => {
                    out.push(p.spans().iter().map(|&(s, e)| buf[s..e].to_vec()).collect());
                    buf.drain(..consumed);
                }
                Ok(Some(Parsed::Inline { consumed, args })) => {
                    out.push(args);
                    buf.drain(..consumed);
                }
                Ok(Some(Parsed::Empty { consumed })) => {
                    buf.drain(..consumed);
                }
                Ok(None) if fed == input.len() => return (out, false),
                Ok(None) => {
                    let n = sizes.next().unwrap().clamp(1, input.len() - fed);
                    buf.extend_from_slice(&input[fed..fed + n]);
                    fed += n;
                }
                Err(_) => return (out, true),
            }
        }
    }

    /// A seeded mutation fuzzer that runs with the unit tests (the libFuzzer target in
    /// `fuzz/` explores further): valid pipelines with random byte flips, insertions and
    /// truncations must parse identically whether delivered whole or in small chunks, and never panic.
    #[test]
    fn random_streams_parse_the_same_in_any_chunking() {
        let mut rng = 0x9E3779B97F4A7C15u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let base: &[&[u8]] = &[
            b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n",
            b"*1\r\n$4\r\nPING\r\n",
            b"PING\r\n",
            b"set \"a b\" 'c'\n",
            b"*0\r\n",
            b"*2\r\n$0\r\n\r\n$1\r\nx\r\n",
        ];
        for _ in 0..3000 {
            let mut input = Vec::new();
            for _ in 0..(1 + next() % 6) {
                input.extend_from_slice(base[(next() % base.len() as u64) as usize]);
            }
            for _ in 0..(next() % 4) {
                let pos = (next() % (input.len() as u64 + 1)) as usize;
                match next() % 3 {
                    0 if pos < input.len() => input[pos] = next() as u8,
                    1 => input.insert(pos, b"*$\r\n0123456789-"[(next() % 15) as usize]),
                    _ => input.truncate(pos.max(1)),
                }
            }
            let whole = parse_chunked(&input, &[input.len()]);
            let a = (next() % 5 + 1) as usize;
            let b = (next() % 3 + 1) as usize;
            assert_eq!(whole, parse_chunked(&input, &[a, b]), "input {:?}", String::from_utf8_lossy(&input));
        }
    }
}
