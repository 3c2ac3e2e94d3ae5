//! The AOF directory and its manifest: `<dir>/<appenddirname>/<appendfilename>.manifest`, one
//! line per file, `file <name> seq <n> type <b|h|i>` (base, history, incremental), replaced
//! atomically (temporary file, fsync, rename, fsync of the directory).
//!
//! ## Reading a manifest: Redis's rules (`aofLoadManifestFromFile`)
//! Start-up refuses a manifest that breaks any of them (with `appendonly no` too, as Redis
//! reads the manifest whatever the setting), logging Redis's lines: `*** FATAL AOF MANIFEST
//! FILE ERROR ***`, the line number and text when a line was being read, and the reason.
//! - Lines are read as `fgets` reads them, at most 1024 bytes including the `\n`: a line that
//!   does not end with `\n` within that (a longer line, the last line without its `\n`, a NUL
//!   byte before the `\n`) is `The AOF manifest file contains too long line`. A part of a line
//!   counts as a line (for the line numbers and for comments: a comment longer than 1023 bytes
//!   goes on as a line of its own, which is then malformed).
//! - A line whose first byte is `#` is a comment; no line at all is `Found an empty AOF
//!   manifest`.
//! - A line is trimmed of spaces, tabs, `\r` and `\n` (so CRLF works); an empty line, blank
//!   lines included, is `Invalid AOF manifest file format`.
//! - The line is split as redis.conf lines are (quotes, escapes); an unbalanced quote, fewer
//!   than 6 words or an odd number of words is `Invalid AOF manifest file format`.
//! - Words pair up as key and value; keys are matched without case, unknown keys are ignored, a
//!   repeated key keeps its last value. `file`: a name with `/` or `\` is `File can't be a path,
//!   just a filename`. `seq`: read as C's `atoll` (leading digits; `3abc` is 3, an overflow
//!   saturates). `type`: its first byte. A missing name, a seq of 0 (or no digits) or an empty
//!   type is `Invalid AOF manifest file format`.
//! - `b`: a second base is `Found duplicate base file information`. `h`: history, never loaded.
//!   `i`: its seq must be greater than the previous `i`'s (and than 0): else `Found a
//!   non-monotonic sequence number`. Any other type (`I` included) is `Unknown AOF file type`.
//!   The base need not come first, and its seq is not compared with the others.
//!
//! Loading then checks that every base and incremental file exists before reading any
//! (`Unable to obtain the AOF file <name> length. stat: <reason>`), see [`super::load`].
//!
//! Differences: a file name that is not UTF-8 is read lossily, so a base or incremental file
//! with such a name is not found (start-up refuses it instead of loading it).

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use parking_lot::Mutex;

use crate::server::Server;

/// One manifest line.
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestEntry {
    pub name: String,
    /// Redis's `long long`: a base's may be negative.
    pub seq: i64,
    pub kind: u8,
}

/// Why a manifest is refused, as Redis logs it (see the module comment).
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestError {
    /// Whether Redis logs `*** FATAL AOF MANIFEST FILE ERROR ***` first (all but an open error).
    pub fatal_header: bool,
    /// The line being read when it was refused: its number (as Redis counts) and trimmed text.
    pub at: Option<(usize, String)>,
    pub reason: String,
}

impl ManifestError {
    fn new(reason: &str, at: Option<(usize, &[u8])>) -> ManifestError {
        ManifestError {
            fatal_header: true,
            at: at.map(|(n, text)| (n, String::from_utf8_lossy(text).into_owned())),
            reason: reason.to_string(),
        }
    }

    /// Redis's log lines for this error, the reason last.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.fatal_header {
            out.push("*** FATAL AOF MANIFEST FILE ERROR ***".to_string());
        }
        if let Some((n, text)) = &self.at {
            out.push(format!("Reading the manifest file, at line {n}"));
            out.push(format!(">>> '{text}'"));
        }
        out.push(self.reason.clone());
        out
    }
}

impl std::fmt::Display for ManifestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.at {
            Some((n, text)) => write!(f, "{} (AOF manifest line {n}: '{text}')", self.reason),
            None => f.write_str(&self.reason),
        }
    }
}

/// The manifest as last written (or read), with the AOF directory and the file name prefix.
pub struct Manifest {
    pub dir: PathBuf,
    pub fname: String,
    pub entries: Vec<ManifestEntry>,
}

impl Manifest {
    /// The manifest of `server`'s AOF directory as it is on disk: empty when there is none (as
    /// Redis, when the path is not a regular file in a directory). A damaged one is refused.
    pub fn read(server: &Server) -> Result<Manifest, ManifestError> {
        let (dir, fname) = aof_dir(server);
        let path = dir.join(format!("{fname}.manifest"));
        let entries = match std::fs::metadata(&path) {
            Ok(md) if md.is_file() => parse_manifest(&read_manifest_file(&path)?)?,
            _ => Vec::new(),
        };
        Ok(Manifest { dir, fname, entries })
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(format!("{}.manifest", self.fname))
    }

    /// The next sequence number for a file of `kind` (`b` or `i`).
    pub fn next_seq(&self, kind: u8) -> i64 {
        self.entries.iter().filter(|e| e.kind == kind).map(|e| e.seq).max().unwrap_or(0).saturating_add(1)
    }

    /// Writes `entries` as the manifest (atomically) and keeps them.
    pub fn store(&mut self, entries: Vec<ManifestEntry>) -> std::io::Result<()> {
        write_atomically(&self.path(), manifest_text(&entries).as_bytes())?;
        self.entries = entries;
        Ok(())
    }

    /// Total size of the listed files of the given kinds.
    pub fn size(&self, kinds: &[u8]) -> u64 {
        self.entries
            .iter()
            .filter(|e| kinds.contains(&e.kind))
            .map(|e| std::fs::metadata(self.dir.join(&e.name)).map(|m| m.len()).unwrap_or(0))
            .sum()
    }
}

/// The manifest while the AOF is on or a rewrite runs (for BGREWRITEAOF and INFO).
pub static MANIFEST: Mutex<Option<Manifest>> = Mutex::new(None);

/// Reads a manifest file's bytes, failing with Redis's messages.
pub fn read_manifest_file(path: &Path) -> Result<Vec<u8>, ManifestError> {
    let mut f = File::open(path).map_err(|e| ManifestError {
        fatal_header: false,
        at: None,
        reason: format!(
            "Fatal error: can't open the AOF manifest file {} for reading: {}",
            path.display(),
            crate::config::io_reason(&e)
        ),
    })?;
    let mut data = Vec::new();
    f.read_to_end(&mut data).map_err(|_| ManifestError::new("Read AOF manifest failed", None))?;
    Ok(data)
}

/// Redis's manifest line limit, `\n` included.
const MAX_LINE: usize = 1024;

/// Parses a manifest with Redis's rules (see the module comment).
pub fn parse_manifest(data: &[u8]) -> Result<Vec<ManifestEntry>, ManifestError> {
    const INVALID: &str = "Invalid AOF manifest file format";
    let mut out: Vec<ManifestEntry> = Vec::new();
    let mut pos = 0;
    let mut linenum = 0;
    let mut has_base = false;
    let mut maxseq: i64 = 0;
    while pos < data.len() {
        // One `fgets` into a buffer of MAX_LINE bytes.
        let limit = (pos + MAX_LINE).min(data.len());
        let end = data[pos..limit].iter().position(|&b| b == b'\n').map_or(limit, |i| pos + i + 1);
        let chunk = &data[pos..end];
        pos = end;
        linenum += 1;
        if chunk[0] == b'#' {
            continue;
        }
        // Redis looks for the `\n` in a C string: a NUL byte ends it.
        let chunk = cstr(chunk);
        if !chunk.contains(&b'\n') {
            return Err(ManifestError::new("The AOF manifest file contains too long line", None));
        }
        let line = trim(chunk);
        let at = Some((linenum, line));
        if line.is_empty() {
            return Err(ManifestError::new(INVALID, at));
        }
        let words = match resp::split_args(line) {
            Some(w) if w.len() >= 6 && w.len() % 2 == 0 => w,
            _ => return Err(ManifestError::new(INVALID, at)),
        };
        let (mut name, mut seq, mut kind) = (None, 0i64, 0u8);
        for kv in words.chunks(2) {
            let (key, value) = (cstr(&kv[0]), cstr(&kv[1]));
            if key.eq_ignore_ascii_case(b"file") {
                if value.iter().any(|&b| b == b'/' || b == b'\\') {
                    return Err(ManifestError::new("File can't be a path, just a filename", at));
                }
                name = Some(String::from_utf8_lossy(value).into_owned());
            } else if key.eq_ignore_ascii_case(b"seq") {
                seq = atoll(value);
            } else if key.eq_ignore_ascii_case(b"type") {
                kind = value.first().copied().unwrap_or(0);
            }
        }
        let Some(name) = name.filter(|_| seq != 0 && kind != 0) else {
            return Err(ManifestError::new(INVALID, at));
        };
        match kind {
            b'b' if has_base => return Err(ManifestError::new("Found duplicate base file information", at)),
            b'b' => has_base = true,
            b'h' => {}
            b'i' if seq <= maxseq => return Err(ManifestError::new("Found a non-monotonic sequence number", at)),
            b'i' => maxseq = seq,
            _ => return Err(ManifestError::new("Unknown AOF file type", at)),
        }
        out.push(ManifestEntry { name, seq, kind });
    }
    if linenum == 0 {
        return Err(ManifestError::new("Found an empty AOF manifest", None));
    }
    Ok(out)
}

/// The bytes of `s` before its first NUL (what C sees of it).
fn cstr(s: &[u8]) -> &[u8] {
    s.iter().position(|&b| b == 0).map_or(s, |n| &s[..n])
}

/// `sdstrim(line, " \t\r\n")`.
fn trim(s: &[u8]) -> &[u8] {
    let keep = |b: &u8| !matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let Some(start) = s.iter().position(keep) else { return &[] };
    let end = s.iter().rposition(keep).map_or(start, |e| e + 1);
    &s[start..end]
}

/// C's `atoll`: leading white space, a sign, the digits that follow; saturates on overflow.
fn atoll(s: &[u8]) -> i64 {
    let mut i = s.iter().take_while(|&&b| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')).count();
    let neg = s.get(i) == Some(&b'-');
    if matches!(s.get(i), Some(b'-' | b'+')) {
        i += 1;
    }
    let mut v: i64 = 0;
    for &b in s[i..].iter().take_while(|b| b.is_ascii_digit()) {
        let d = (b - b'0') as i64;
        v = if neg { v.saturating_mul(10).saturating_sub(d) } else { v.saturating_mul(10).saturating_add(d) };
    }
    v
}

/// Whether Redis quotes `name` when it writes a manifest (`sdsneedsrepr`).
fn needs_repr(name: &str) -> bool {
    name.bytes().any(|b| matches!(b, b'\\' | b'"') || !(0x21..=0x7e).contains(&b))
}

pub fn manifest_text(entries: &[ManifestEntry]) -> String {
    entries
        .iter()
        .map(|e| {
            let name = if needs_repr(&e.name) { crate::config::repr(&e.name) } else { e.name.clone() };
            format!("file {name} seq {} type {}\n", e.seq, e.kind as char)
        })
        .collect()
}

/// Replaces `path` with `data` so that a crash leaves either the old or the new content.
pub fn write_atomically(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp-redstart");
    let mut f = File::create(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// The AOF directory (`dir` joined with `appenddirname`) and `appendfilename`.
pub fn aof_dir(server: &Server) -> (PathBuf, String) {
    let c = server.config.read();
    let dir = if c.dir.is_empty() { "." } else { c.dir.as_str() };
    (PathBuf::from(dir).join(&c.appenddirname), c.appendfilename.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_round_trip() {
        let text = "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n";
        let m = parse_manifest(text.as_bytes()).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[0], ManifestEntry { name: "appendonly.aof.1.base.rdb".into(), seq: 1, kind: b'b' });
        assert_eq!(manifest_text(&m), text);
        let m = Manifest { dir: PathBuf::new(), fname: "a".into(), entries: m };
        assert_eq!((m.next_seq(b'b'), m.next_seq(b'i')), (2, 2));
        // Names Redis would quote are quoted, and read back.
        let odd = vec![ManifestEntry { name: "a b\"c".into(), seq: 3, kind: b'i' }];
        assert_eq!(manifest_text(&odd), "file \"a b\\\"c\" seq 3 type i\n");
        assert_eq!(parse_manifest(manifest_text(&odd).as_bytes()).unwrap(), odd);
    }

    fn err(text: &[u8]) -> (Option<usize>, String) {
        let e = parse_manifest(text).unwrap_err();
        (e.at.map(|a| a.0), e.reason)
    }

    #[test]
    fn redis_rules() {
        const B: &str = "file b.rdb seq 1 type b\n";
        let ok = |t: &str| parse_manifest(t.as_bytes()).unwrap();
        assert_eq!(err(b""), (None, "Found an empty AOF manifest".into()));
        assert_eq!(ok("# only a comment\n"), vec![]);
        assert_eq!(err(b"\n"), (Some(1), "Invalid AOF manifest file format".into()));
        assert_eq!(err(format!("{B} \t\r\n").as_bytes()).0, Some(2));
        assert_eq!(err(format!("{B}file x seq 1").as_bytes()).1, "The AOF manifest file contains too long line");
        assert_eq!(err(b"file x\0 seq 1 type i\n").1, "The AOF manifest file contains too long line");
        let long = format!("file i.aof seq 1 type i{}", " ".repeat(1100));
        let exact = format!("{}\n", &long[..1023]);
        assert_eq!(ok(&exact).len(), 1);
        let over = format!("{}\n", &long[..1024]);
        assert_eq!(err(over.as_bytes()).1, "The AOF manifest file contains too long line");
        // A comment of 1024 bytes and more: its rest is a line of its own.
        assert_eq!(ok(&format!("#{}\n{B}", "x".repeat(1022))).len(), 1);
        assert_eq!(
            err(format!("#{}\n{B}", "x".repeat(1023)).as_bytes()),
            (Some(2), "Invalid AOF manifest file format".into())
        );
        assert_eq!(err(format!("{B}  # indented\n").as_bytes()).0, Some(2));
        for bad in [
            "file a seq 1",
            "file a seq 1 type i x",
            "seq 1 type i x y",
            "file a seq 0 type i",
            "file a seq x type i",
            "file a seq 1 type \"\"",
            "file \"a seq 1 type i",
            "file \"a\"b seq 1 type i",
        ] {
            assert_eq!(
                err(format!("{bad}\n").as_bytes()),
                (Some(1), "Invalid AOF manifest file format".into()),
                "{bad}"
            );
        }
        for bad in ["file ./a seq 1 type i", "file a\\b seq 1 type h", "file \"a\\x2fb\" seq 1 type i"] {
            assert_eq!(err(format!("{bad}\n").as_bytes()).1, "File can't be a path, just a filename", "{bad}");
        }
        assert_eq!(err(b"file a seq 1 type x\n").1, "Unknown AOF file type");
        assert_eq!(err(b"file a seq 1 type I\n").1, "Unknown AOF file type");
        assert_eq!(err(format!("{B}{B}").as_bytes()), (Some(2), "Found duplicate base file information".into()));
        for bad in [
            "file a seq 2 type i\nfile b seq 2 type i\n",
            "file a seq 2 type i\nfile b seq 1 type i\n",
            "file a seq -1 type i\n",
        ] {
            assert_eq!(err(bad.as_bytes()).1, "Found a non-monotonic sequence number", "{bad}");
        }
        // Accepted as Redis accepts them.
        let m = ok("FILE i.aof Type incr SEQ 3abc other x\r\n\tfile 'b b' seq -4 type b  \nfile h seq 1 type h\n");
        assert_eq!(m[0], ManifestEntry { name: "i.aof".into(), seq: 3, kind: b'i' });
        assert_eq!(m[1], ManifestEntry { name: "b b".into(), seq: -4, kind: b'b' });
        assert_eq!(m[2].kind, b'h');
        assert_eq!(ok("file i seq 99999999999999999999 type i\n")[0].seq, i64::MAX);
        assert_eq!(ok("file x seq 1 type i file y\n")[0].name, "y");
        assert_eq!(ok("file i seq 1 type i\n# no newline").len(), 1);
    }
}
