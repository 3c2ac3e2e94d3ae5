//! `redstart check-aof [--fix | --truncate-to-timestamp <unix-seconds>] <file>`: checks an
//! append-only file as `redis-check-aof` 7.0 does, and can cut off a damaged tail.
//!
//! The file may be
//! - a manifest (its name ends with `.manifest`, or its first line that is neither blank nor a
//!   `#` comment starts with `file`): it is read with the server's rules and refused with the
//!   server's lines (see `aof::manifest`), then every file it lists is checked in load order,
//!   the base first (an RDB image when it starts with `REDIS`, else commands), then the
//!   incremental files; history files are skipped;
//! - a single AOF of RESP commands (the pre-7.0 layout), possibly starting with an RDB preamble
//!   (`REDIS...`) followed by commands.
//!
//! Commands are read as the loader reads them; `#` lines (Redis's `#TS:<unix>` annotations) are
//! skipped. Damage is either a *truncation* (the file ends inside a command, or inside a
//! `MULTI` that has no `EXEC`) or a *format error* at a byte offset (`MULTI` inside `MULTI` and
//! `EXEC` without `MULTI` are format errors too). Either way the report names the offset of the
//! first damage and `ok_up_to`, the end of the last complete command outside a transaction.
//!
//! Exit status: 0 when every file is sound (or was repaired), 1 otherwise.
//!
//! `--fix` asks `Continue? [y/N]` on stdin (a pipe works) and truncates the file at `ok_up_to`,
//! dropping everything after the first damage. Only the last file can be truncated: damage in
//! the base or in an earlier incremental file is reported as not fixable. An RDB image that does
//! not check is never fixable. `--truncate-to-timestamp T` cuts the file at the first `#TS:`
//! annotation later than `T` (no question asked); a cut needed in a file other than the last is
//! refused.
//!
//! Differences from `redis-check-aof`: the messages are worded differently (the fixed ones such
//! as `AOF <name> is valid` and `All AOF files and manifest are valid` match); the RDB part is
//! summarised in one line instead of Redis's per-field trace; no `ok_up_to_line` count. A
//! manifest is recognised by its name too (redis-check-aof 7.0 wants a line starting with
//! `file`), so an empty manifest is refused as the server refuses it (redis-check-aof: `AOF ...
//! is empty`, exit status 0); the manifest's lines are not prefixed with a log header.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use super::aof::{parse_manifest, ManifestEntry};
use super::rdb;

/// The first damage found while reading commands.
#[derive(Debug, Clone, PartialEq)]
pub struct Damage {
    pub offset: usize,
    pub reason: String,
    /// The file merely ends early (rather than holding a malformed byte).
    pub truncated: bool,
}

/// What reading the commands of one file found.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    /// The end of the last complete command that is not inside an open transaction.
    pub ok_up_to: usize,
    pub commands: usize,
    pub damage: Option<Damage>,
    /// With a timestamp limit: the offset of the first `#TS:` annotation later than it.
    pub ts_cut: Option<usize>,
}

/// Reads `<prefix><number>\r\n` at `*p`. `Ok(None)`: the data ends first.
fn header(data: &[u8], p: &mut usize, prefix: u8, what: &str) -> Result<Option<usize>, Damage> {
    let start = *p;
    let bad = |offset: usize, reason: String| Damage { offset, reason, truncated: false };
    if start >= data.len() {
        return Ok(None);
    }
    if data[start] != prefix {
        return Err(bad(start, format!("expected '{}' ({what}), found byte 0x{:02x}", prefix as char, data[start])));
    }
    let Some(nl) = data[start..].windows(2).position(|w| w == b"\r\n") else {
        // Up to 20 digits may still be coming; longer is damage.
        return if data.len() - start > 22 { Err(bad(start, format!("{what} line is too long"))) } else { Ok(None) };
    };
    std::str::from_utf8(&data[start + 1..start + nl])
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|&n| n <= 1 << 40)
        .map(|n| {
            *p = start + nl + 2;
            Some(n)
        })
        .ok_or_else(|| bad(start, format!("invalid {what}")))
}

/// Reads the RESP commands of `data` from `start` on (see the module comment). `ts_limit`: stop
/// at the first `#TS:` annotation later than it.
pub fn check_commands(data: &[u8], start: usize, ts_limit: Option<i64>) -> Checked {
    let mut out = Checked { ok_up_to: start, commands: 0, damage: None, ts_cut: None };
    let mut pos = start;
    // Offset of the open MULTI, if any.
    let mut multi: Option<usize> = None;
    let truncated = |offset: usize, reason: &str| Damage { offset, reason: reason.into(), truncated: true };
    while pos < data.len() {
        let cmd_start = pos;
        if data[pos] == b'#' {
            // An annotation line.
            let Some(nl) = data[pos..].windows(2).position(|w| w == b"\r\n") else {
                out.damage = Some(truncated(pos, "the file ends inside an annotation line"));
                return out;
            };
            let line = &data[pos + 1..pos + nl];
            if let (Some(limit), Some(ts)) = (ts_limit, line.strip_prefix(b"TS:")) {
                let ts = std::str::from_utf8(ts).ok().and_then(|s| s.parse::<i64>().ok());
                if ts.is_some_and(|ts| ts > limit) {
                    out.ts_cut = Some(pos);
                    return out;
                }
            }
            pos += nl + 2;
            if multi.is_none() {
                out.ok_up_to = pos;
            }
            continue;
        }
        let mut p = pos;
        let argc = match header(data, &mut p, b'*', "argument count") {
            Ok(Some(0)) => {
                out.damage = Some(Damage { offset: cmd_start, reason: "empty command".into(), truncated: false });
                return out;
            }
            Ok(Some(n)) => n,
            Ok(None) => {
                out.damage = Some(truncated(multi.unwrap_or(cmd_start), "the file ends inside a command"));
                return out;
            }
            Err(d) => {
                out.damage = Some(d);
                return out;
            }
        };
        let mut name: &[u8] = b"";
        for i in 0..argc {
            let len = match header(data, &mut p, b'$', "bulk length") {
                Ok(Some(n)) => n,
                Ok(None) => {
                    out.damage = Some(truncated(multi.unwrap_or(cmd_start), "the file ends inside a command"));
                    return out;
                }
                Err(d) => {
                    out.damage = Some(d);
                    return out;
                }
            };
            if data.len() < p + len + 2 {
                out.damage = Some(truncated(multi.unwrap_or(cmd_start), "the file ends inside a command"));
                return out;
            }
            if &data[p + len..p + len + 2] != b"\r\n" {
                out.damage = Some(Damage {
                    offset: p + len,
                    reason: format!("expected \\r\\n after an argument, found {:02x?}", &data[p + len..p + len + 2]),
                    truncated: false,
                });
                return out;
            }
            if i == 0 {
                name = &data[p..p + len];
            }
            p += len + 2;
        }
        if name.eq_ignore_ascii_case(b"multi") {
            if multi.is_some() {
                out.damage = Some(Damage { offset: cmd_start, reason: "MULTI inside MULTI".into(), truncated: false });
                return out;
            }
            multi = Some(cmd_start);
        } else if name.eq_ignore_ascii_case(b"exec") && multi.take().is_none() {
            out.damage = Some(Damage { offset: cmd_start, reason: "EXEC without MULTI".into(), truncated: false });
            return out;
        }
        out.commands += 1;
        pos = p;
        if multi.is_none() {
            out.ok_up_to = pos;
        }
    }
    if let Some(at) = multi {
        out.damage = Some(truncated(at, "the file ends before the EXEC of the MULTI"));
    }
    out
}

/// What the files are.
#[derive(Debug, PartialEq)]
pub enum Kind {
    Manifest,
    /// One file of commands, maybe after an RDB preamble.
    Single,
    Empty,
}

/// Tells a manifest from an AOF by its first line that is neither blank nor a `#` comment: a
/// manifest's starts with `file` (after any white space).
pub fn kind(data: &[u8]) -> Kind {
    if data.is_empty() {
        return Kind::Empty;
    }
    if data.starts_with(b"REDIS") {
        return Kind::Single;
    }
    let first = data.split(|&b| b == b'\n').map(|l| l.trim_ascii()).find(|l| !l.is_empty() && !l.starts_with(b"#"));
    match first {
        Some(l) if l.starts_with(b"file") => Kind::Manifest,
        _ => Kind::Single,
    }
}

struct Opts {
    fix: bool,
    ts: Option<i64>,
}

struct Io<'a> {
    input: &'a mut dyn BufRead,
    out: &'a mut dyn Write,
}

const USAGE: &str = "Usage: redstart check-aof [--fix|--truncate-to-timestamp <unix-time>] <file.manifest|file.aof>";

/// `redstart check-aof ARGS`: the exit status. `input` answers `--fix`'s question.
pub fn main(args: &[String], input: &mut dyn BufRead, out: &mut dyn Write) -> i32 {
    let mut opts = Opts { fix: false, ts: None };
    let mut file = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--fix" => opts.fix = true,
            "--truncate-to-timestamp" => {
                let Some(ts) = it.next().and_then(|s| s.parse::<i64>().ok()) else {
                    let _ = writeln!(out, "Invalid timestamp: --truncate-to-timestamp needs a unix time in seconds");
                    return 1;
                };
                opts.ts = Some(ts);
            }
            _ if a.starts_with("--") || file.is_some() => {
                let _ = writeln!(out, "{USAGE}");
                return 1;
            }
            _ => file = Some(a.clone()),
        }
    }
    let Some(file) = file else {
        let _ = writeln!(out, "{USAGE}");
        return 1;
    };
    if opts.fix && opts.ts.is_some() {
        let _ = writeln!(out, "--fix and --truncate-to-timestamp cannot be used together\n{USAGE}");
        return 1;
    }
    let mut io = Io { input, out };
    let r = run(&file, &opts, &mut io);
    let _ = io.out.flush();
    match r {
        Ok(()) => 0,
        Err(()) => 1,
    }
}

fn run(file: &str, opts: &Opts, io: &mut Io) -> Result<(), ()> {
    let data = read(Path::new(file), "", io)?;
    if file.ends_with(".manifest") {
        // Read as the server reads its manifest, whatever its first line (redis-check-aof calls
        // an empty one an empty AOF and exits with 0, the server refuses it).
        return check_manifest(Path::new(file), &data, opts, io);
    }
    match kind(&data) {
        Kind::Empty => {
            let _ = writeln!(io.out, "AOF {file} is empty");
            Ok(())
        }
        Kind::Single => {
            let _ = writeln!(io.out, "Checking the append only file {file}");
            check_file(Path::new(file), file, &data, true, opts, io)?;
            let _ = writeln!(io.out, "AOF {file} is valid");
            Ok(())
        }
        Kind::Manifest => check_manifest(Path::new(file), &data, opts, io),
    }
}

fn read(path: &Path, suffix: &str, io: &mut Io) -> Result<Vec<u8>, ()> {
    std::fs::read(path).map_err(|e| {
        let _ = writeln!(io.out, "Cannot open file {}: {}{suffix}", path.display(), crate::config::io_reason(&e));
    })
}

fn check_manifest(path: &Path, data: &[u8], opts: &Opts, io: &mut Io) -> Result<(), ()> {
    let _ = writeln!(io.out, "Checking the AOF manifest {}", path.display());
    // The loader's rules and Redis's lines (see `aof::manifest`).
    let entries = parse_manifest(data).map_err(|e| {
        for line in e.lines() {
            let _ = writeln!(io.out, "{line}");
        }
    })?;
    let dir: PathBuf = path.parent().map(Path::to_path_buf).unwrap_or_default();
    // A manifest listing no base or incr file (only history files, say) is valid: the server
    // starts with an empty dataset, as Redis.
    let files: Vec<&ManifestEntry> =
        entries.iter().filter(|e| e.kind == b'b').chain(entries.iter().filter(|e| e.kind == b'i')).collect();
    for (i, e) in files.iter().enumerate() {
        let is_last = i + 1 == files.len();
        let p = dir.join(&e.name);
        let data = read(&p, ", aborting...", io)?;
        let label = if e.kind == b'b' { "BASE" } else { "INCR" };
        let _ = writeln!(io.out, "Checking {label} AOF {}", e.name);
        // Only the last incremental file can be cut (a base is never the one appended to).
        check_file(&p, &e.name, &data, is_last && e.kind == b'i', opts, io)?;
        let _ = writeln!(io.out, "{label} AOF {} is valid", e.name);
    }
    let _ = writeln!(io.out, "All AOF files and manifest are valid");
    Ok(())
}

/// Checks one file (RDB preamble and/or commands); `Ok` when it is sound or was repaired.
fn check_file(path: &Path, name: &str, data: &[u8], cuttable: bool, opts: &Opts, io: &mut Io) -> Result<(), ()> {
    let mut start = 0;
    if data.starts_with(b"REDIS") {
        match rdb::parse_prefix(data, &rdb::LoadLimits::default(), 1 << 16, |_| {}) {
            Ok((info, end)) => {
                let sum = if info.checksum == 0 { "no checksum".to_string() } else { "checksum OK".to_string() };
                let _ = writeln!(
                    io.out,
                    "[offset 0] RDB image version {}: {} keys, {sum}, ends at offset {end}",
                    info.version, info.keys
                );
                start = end;
                if end < data.len() {
                    let _ = writeln!(io.out, "RDB preamble is OK, checking the commands after it");
                }
            }
            Err((offset, reason)) => {
                let _ = writeln!(io.out, "--- RDB ERROR DETECTED ---\n[offset {offset}] {reason}");
                let _ = writeln!(io.out, "RDB preamble of AOF file {name} is not sane, aborting.");
                return Err(());
            }
        }
    }
    let c = check_commands(data, start, opts.ts);
    if let Some(d) = &c.damage {
        let _ = writeln!(
            io.out,
            "[offset {}] {}{}",
            d.offset,
            d.reason,
            if d.truncated { " (truncated)" } else { " (bad format)" }
        );
    }
    let size = data.len();
    let _ = writeln!(
        io.out,
        "AOF analyzed: filename={name}, size={size}, ok_up_to={}, commands={}, diff={}",
        c.ok_up_to,
        c.commands,
        size - c.ok_up_to
    );
    if c.damage.is_some() {
        if !opts.fix {
            if cuttable {
                let _ = writeln!(io.out, "AOF {name} is not valid. Use the --fix option to try fixing it.");
            } else {
                let _ =
                    writeln!(io.out, "AOF {name} is not valid, and --fix cannot repair it: it is not the last file.");
            }
            return Err(());
        }
        if !cuttable {
            let _ = writeln!(io.out, "Failed to truncate AOF {name} because it is not the last file");
            return Err(());
        }
        let _ = write!(
            io.out,
            "This will shrink the AOF {name} from {size} bytes, with {} bytes, to {} bytes\nContinue? [y/N]: ",
            size - c.ok_up_to,
            c.ok_up_to
        );
        let _ = io.out.flush();
        let mut answer = String::new();
        let _ = io.input.read_line(&mut answer);
        if !answer.trim_start().starts_with(['y', 'Y']) {
            let _ = writeln!(io.out, "Aborting...");
            return Err(());
        }
        truncate(path, name, c.ok_up_to, io)?;
        let _ = writeln!(io.out, "Successfully truncated AOF {name}");
        return Ok(());
    }
    if let Some(ts) = opts.ts {
        match c.ts_cut {
            Some(_) if !cuttable => {
                let _ =
                    writeln!(io.out, "Failed to truncate AOF {name} to timestamp {ts} because it is not the last file");
                return Err(());
            }
            Some(at) => {
                truncate(path, name, at, io)?;
                let _ = writeln!(io.out, "Successfully truncated AOF {name} to timestamp {ts}");
            }
            None => {
                let _ = writeln!(io.out, "Truncate nothing in AOF {name} to timestamp {ts}");
            }
        }
    }
    Ok(())
}

fn truncate(path: &Path, name: &str, len: usize, io: &mut Io) -> Result<(), ()> {
    let r = std::fs::OpenOptions::new().write(true).open(path).and_then(|f| {
        f.set_len(len as u64)?;
        f.sync_all()
    });
    r.map_err(|e| {
        let _ = writeln!(io.out, "Failed to truncate AOF {name}: {}", crate::config::io_reason(&e));
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(args: &[&str]) -> Vec<u8> {
        let mut v = Vec::new();
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        crate::propagate::encode(&mut v, &a);
        v
    }

    #[test]
    fn complete_truncated_and_bad() {
        let one = cmd(&["SET", "a", "1"]);
        let data = [one.clone(), cmd(&["SET", "b", "2"])].concat();
        let c = check_commands(&data, 0, None);
        assert_eq!((c.ok_up_to, c.commands, c.damage), (data.len(), 2, None));
        for cut in one.len() + 1..data.len() {
            let c = check_commands(&data[..cut], 0, None);
            assert_eq!(c.ok_up_to, one.len());
            let d = c.damage.unwrap();
            assert!(d.truncated && d.offset == one.len(), "{cut}: {d:?}");
        }
        let mut bad = data.clone();
        bad[one.len() + 5] = b'x'; // inside "$3\r\n" of the second command
        let d = check_commands(&bad, 0, None).damage.unwrap();
        assert!(!d.truncated);
        assert_eq!(d.offset, one.len() + 4);
        let mut bad = data.clone();
        let at = one.len() + data[one.len()..].windows(3).position(|w| w == b"SET").unwrap() + 3;
        bad[at] = b'X'; // the CRLF after "SET"
        let c = check_commands(&bad, 0, None);
        assert_eq!((c.ok_up_to, c.damage.unwrap().offset), (one.len(), at));
        assert!(!check_commands(b"*0\r\n", 0, None).damage.unwrap().truncated);
        assert!(!check_commands(b"*abc\r\n", 0, None).damage.unwrap().truncated);
        assert!(!check_commands(&[b'*'; 40], 0, None).damage.unwrap().truncated);
    }

    #[test]
    fn transactions() {
        let set = cmd(&["SET", "a", "1"]);
        let (multi, exec) = (cmd(&["MULTI"]), cmd(&["exec"]));
        let whole = [set.clone(), multi.clone(), set.clone(), exec.clone()].concat();
        assert_eq!(check_commands(&whole, 0, None).damage, None);
        // Unterminated at the end: a truncation at the MULTI, at every cut inside the block.
        for cut in set.len() + 1..whole.len() {
            let c = check_commands(&whole[..cut], 0, None);
            let d = c.damage.unwrap();
            assert!(d.truncated && d.offset == set.len() && c.ok_up_to == set.len(), "{cut}");
        }
        let nested = [multi.clone(), multi.clone(), exec.clone()].concat();
        let d = check_commands(&nested, 0, None).damage.unwrap();
        assert_eq!((d.offset, d.truncated), (multi.len(), false));
        let stray = [set.clone(), exec].concat();
        let d = check_commands(&stray, 0, None).damage.unwrap();
        assert_eq!((d.offset, d.truncated), (set.len(), false));
    }

    #[test]
    fn annotations_and_timestamps() {
        let set = cmd(&["SET", "a", "1"]);
        let data = [b"#TS:100\r\n".to_vec(), set.clone(), b"#TS:200\r\n".to_vec(), set.clone()].concat();
        let c = check_commands(&data, 0, None);
        assert_eq!((c.damage, c.commands, c.ok_up_to), (None, 2, data.len()));
        let c = check_commands(&data, 0, Some(150));
        assert_eq!(c.ts_cut, Some(9 + set.len()));
        assert_eq!(check_commands(&data, 0, Some(50)).ts_cut, Some(0));
        assert_eq!(check_commands(&data, 0, Some(200)).ts_cut, None);
        assert!(check_commands(b"#TS:1", 0, None).damage.unwrap().truncated);
    }

    #[test]
    fn kinds() {
        assert_eq!(kind(b""), Kind::Empty);
        assert_eq!(kind(b"file a.aof seq 1 type b\n"), Kind::Manifest);
        assert_eq!(kind(b"# comment\nfile a.aof seq 1 type b\n"), Kind::Manifest);
        assert_eq!(kind(b"REDIS0010..."), Kind::Single);
        assert_eq!(kind(b"*1\r\n$4\r\nPING\r\n"), Kind::Single);
        assert_eq!(kind(b"#TS:1\r\n*1\r\n$4\r\nPING\r\n"), Kind::Single);
    }

    #[test]
    fn usage_errors() {
        let run = |args: &[&str]| {
            let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
            let mut out = Vec::new();
            let code = main(&args, &mut &b""[..], &mut out);
            (code, String::from_utf8(out).unwrap())
        };
        assert!(run(&[]).1.starts_with("Usage:"));
        assert_eq!(run(&[]).0, 1);
        assert_eq!(run(&["--bogus", "f"]).0, 1);
        assert_eq!(run(&["a", "b"]).0, 1);
        assert_eq!(run(&["--truncate-to-timestamp", "x", "f"]).0, 1);
        assert_eq!(run(&["--fix", "--truncate-to-timestamp", "1", "f"]).0, 1);
        let (code, out) = run(&["/nonexistent/redstart.aof"]);
        assert_eq!(code, 1);
        assert!(out.starts_with("Cannot open file /nonexistent/redstart.aof"), "{out}");
    }
}
