//! Damaged AOF manifests, differential: the same AOF directory with one manifest is given to
//! redis-server 7.0 and to redstart; both must refuse it (exit status 1, Redis's log lines) or
//! both start with the same keys. `redstart check-aof` and `redis-check-aof` must agree on it
//! too. The rules are listed in `src/persist/aof/manifest.rs`; Redis 7.2 reads manifests with
//! the same code as 7.0 (`aofLoadManifestFromFile` and the start-up checks did not change), so
//! every expectation below holds for both.
//!
//! One directory serves every case: a base of commands (`SET a 1`, `SET b 2`) and two
//! incremental files (`SET c 3`; `SET d 4`). The servers run on a Unix socket in the case's own
//! directory (TCP port 0), so no port is ever shared with another test.

mod common;
use common::*;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BASE: &str = "appendonly.aof.1.base.aof";
const INCR1: &str = "appendonly.aof.1.incr.aof";
const INCR2: &str = "appendonly.aof.2.incr.aof";
const B: &str = "file appendonly.aof.1.base.aof seq 1 type b\n";
const I1: &str = "file appendonly.aof.1.incr.aof seq 1 type i\n";
const I2: &str = "file appendonly.aof.2.incr.aof seq 2 type i\n";
const ALL: &[&str] = &["a", "b", "c", "d"];
const FATAL: &str = "*** FATAL AOF MANIFEST FILE ERROR ***";
const INVALID: &str = "Invalid AOF manifest file format";
const TOO_LONG: &str = "The AOF manifest file contains too long line";

fn cmd(line: &str) -> Vec<u8> {
    let w = words(line);
    encode(&w.iter().map(|a| a.as_slice()).collect::<Vec<_>>())
}

/// The AOF directory of every case, with `manifest` as its manifest, under `root`.
fn fixture(root: &Path, manifest: &[u8]) {
    let _ = std::fs::remove_dir_all(root);
    let ad = root.join("appendonlydir");
    std::fs::create_dir_all(&ad).unwrap();
    std::fs::write(ad.join(BASE), [cmd("SET a 1"), cmd("SET b 2")].concat()).unwrap();
    std::fs::write(ad.join(INCR1), cmd("SET c 3")).unwrap();
    std::fs::write(ad.join(INCR2), cmd("SET d 4")).unwrap();
    std::fs::write(ad.join("appendonly.aof.manifest"), manifest).unwrap();
}

#[derive(Debug, PartialEq)]
enum Outcome {
    /// Started, with these keys (sorted).
    Started(Vec<String>),
    /// Exited with this status; the messages of its log lines.
    Refused(i32, Vec<String>),
}

/// The message of each log line (`pid:role date time level message`), blank lines dropped.
/// Redis logs its manifest header with newlines around it, so it comes as a line of its own.
fn messages(log: &str) -> Vec<String> {
    log.lines()
        .map(|l| {
            let w: Vec<&str> = l.splitn(7, ' ').collect();
            let prefixed = w.len() >= 6 && (w[0].ends_with(":M") || w[0].ends_with(":C"));
            if prefixed {
                w.get(6).copied().unwrap_or("").trim().to_string()
            } else {
                l.trim().to_string()
            }
        })
        .filter(|m| !m.is_empty())
        .collect()
}

/// Sends KEYS * over the Unix socket `sock`: `None` while the server is not ready.
fn keys(sock: &Path) -> Option<Vec<String>> {
    let mut s = UnixStream::connect(sock).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(&cmd("KEYS *")).ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while frame_len(&buf).is_none() {
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    if buf.starts_with(b"-") {
        return None; // -LOADING
    }
    Some(sorted_items(&buf).iter().map(|k| String::from_utf8_lossy(k).into_owned()).collect())
}

/// Starts `program` (`redis-server` or redstart) on the AOF directory under `root` with
/// `appendonly` as given, and reports whether it started.
fn outcome(program: &str, root: &Path, appendonly: &str) -> Outcome {
    let sock = root.join("sock");
    let log = root.join("log");
    let _ = std::fs::remove_file(&log);
    let mut child = Command::new(program)
        .args(["--port", "0", "--save", "", "--appendonly", appendonly])
        .args(["--dir", root.to_str().unwrap(), "--unixsocket", sock.to_str().unwrap()])
        .args(["--logfile", log.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program} ({e}): install redis-server"));
    let start = Instant::now();
    let result = loop {
        if let Some(status) = child.try_wait().unwrap() {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            break Outcome::Refused(status.code().unwrap_or(-1), messages(&text));
        }
        if let Some(k) = keys(&sock) {
            break Outcome::Started(k);
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{program} neither started nor exited");
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = child.kill();
    let _ = child.wait();
    result
}

const REDSTART: &str = env!("CARGO_BIN_EXE_redstart");

/// What both servers must do with a manifest.
enum Expect<'a> {
    Starts(&'a [&'a str]),
    /// Refused, logging these lines in this order (the last ones it logs).
    Refused(&'a [&'a str]),
}

/// Gives the fixture with `manifest` to both servers (each on its own copy) and checks both
/// against `expect`; returns redstart's AOF directory for further checks.
fn case(name: &str, manifest: &[u8], expect: Expect) -> PathBuf {
    let dir = tmpdir(name);
    for (who, program) in [("redis-server", "redis-server"), ("redstart", REDSTART)] {
        let root = dir.join(who);
        fixture(&root, manifest);
        let got = outcome(program, &root, "yes");
        match (&expect, &got) {
            (Expect::Starts(keys), Outcome::Started(k)) => assert_eq!(k, keys, "{name}: {who}'s keys"),
            (Expect::Refused(lines), Outcome::Refused(1, msgs)) => {
                // The last lines logged (Redis may add one of its own after them).
                let tail = &msgs[msgs.len().saturating_sub(lines.len() + 1)..];
                let found = tail.windows(lines.len()).any(|w| w == *lines);
                assert!(found, "{name}: {who} logged\n{msgs:#?}\nexpected the lines\n{lines:#?}");
            }
            _ => panic!("{name}: {who}: {got:?}"),
        }
    }
    dir.join("redstart").join("appendonlydir")
}

fn refused(name: &str, manifest: &str, lines: &[&str]) {
    case(name, manifest.as_bytes(), Expect::Refused(lines));
}

fn starts(name: &str, manifest: &str, keys: &[&str]) -> PathBuf {
    case(name, manifest.as_bytes(), Expect::Starts(keys))
}

/// Redis's lines for an error found on line `n`.
fn at<'a>(n: usize, line: &'a str, reason: &'a str) -> Vec<String> {
    vec![FATAL.to_string(), format!("Reading the manifest file, at line {n}"), format!(">>> '{line}'"), reason.into()]
}

fn refused_at(name: &str, manifest: &str, n: usize, line: &str, reason: &str) {
    let lines = at(n, line, reason);
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    refused(name, manifest, &lines);
}

#[test]
fn incremental_sequence_numbers_must_increase() {
    let m = format!("{B}{I2}{I1}");
    refused_at("seq-decreasing", &m, 3, I1.trim_end(), "Found a non-monotonic sequence number");
    let m = format!("{B}{I1}file appendonly.aof.2.incr.aof seq 1 type i\n");
    refused_at(
        "seq-equal",
        &m,
        3,
        "file appendonly.aof.2.incr.aof seq 1 type i",
        "Found a non-monotonic sequence number",
    );
    let m = format!("{B}file appendonly.aof.1.incr.aof seq -1 type i\n");
    refused_at(
        "seq-negative",
        &m,
        2,
        "file appendonly.aof.1.incr.aof seq -1 type i",
        "Found a non-monotonic sequence number",
    );
    // The base's number is not compared with the incremental files' (and may be negative).
    starts("seq-base-high", &format!("file {BASE} seq 9 type b\n{I1}{I2}"), ALL);
    starts("seq-base-negative", &format!("file {BASE} seq -2 type b\n{I1}{I2}"), ALL);
}

#[test]
fn blank_lines_are_refused() {
    refused_at("blank-between", &format!("{B}\n{I1}{I2}"), 2, "", INVALID);
    refused_at("blank-at-end", &format!("{B}{I1}{I2}\n"), 4, "", INVALID);
    refused_at("blank-spaces", &format!("{B} \t \n{I1}{I2}"), 2, "", INVALID);
    refused_at("only-newline", "\n", 1, "", INVALID);
    // A comment is a line whose first byte is `#`; an indented one is a malformed line.
    refused_at("indented-comment", &format!("{B}  # note\n{I1}{I2}"), 2, "# note", INVALID);
    starts("comment", &format!("# note\n{B}{I1}# another\n{I2}# no newline at the end"), ALL);
}

#[test]
fn line_length_limit() {
    // 1024 bytes per line, the newline included.
    let pad = |line: &str, len: usize| format!("{}{}\n", line.trim_end(), " ".repeat(len - line.trim_end().len()));
    starts("line-1024", &format!("{B}{I1}{}", pad(I2, 1023)), ALL);
    refused("line-1025", &format!("{B}{I1}{}", pad(I2, 1024)), &[FATAL, TOO_LONG]);
    refused("line-2000", &format!("{B}{I1}{}", pad(I2, 2000)), &[FATAL, TOO_LONG]);
    // The last line without its newline, a NUL byte, CR line ends: no newline in the line.
    refused("no-final-newline", &format!("{B}{I1}{}", I2.trim_end()), &[FATAL, TOO_LONG]);
    refused("nul-byte", &format!("{B}{I1}{}\0\n", I2.trim_end()), &[FATAL, TOO_LONG]);
    refused("cr-line-ends", &format!("{B}{I1}{I2}").replace('\n', "\r"), &[FATAL, TOO_LONG]);
    // A comment is read in 1024-byte parts too: what follows the first part is a line.
    starts("comment-1024", &format!("#{}\n{B}{I1}{I2}", "x".repeat(1022)), ALL);
    refused_at("comment-1025", &format!("#{}\n{B}{I1}{I2}", "x".repeat(1023)), 2, "", INVALID);
    let rest = "y".repeat(20);
    refused_at("comment-long", &format!("#{}{rest}\n{B}", "x".repeat(1023)), 2, &rest, INVALID);
}

#[test]
fn empty_manifest() {
    refused("empty", "", &[FATAL, "Found an empty AOF manifest"]);
    // Only comments: no file is listed, so the AOF starts anew (empty), as when there is no
    // manifest at all.
    let ad = starts("only-comments", "# nothing here\n", &[]);
    let m = std::fs::read_to_string(ad.join("appendonly.aof.manifest")).unwrap();
    assert!(m.contains("type b\n") && m.contains("type i\n"), "{m}");
}

#[test]
fn file_types() {
    let line = |t: &str| format!("file {INCR2} seq 2 type {t}");
    refused_at("type-x", &format!("{B}{I1}{}\n", line("x")), 3, &line("x"), "Unknown AOF file type");
    refused_at("type-upper", &format!("{B}{I1}{}\n", line("I")), 3, &line("I"), "Unknown AOF file type");
    refused_at("type-empty", &format!("{B}{I1}{}\n", line("\"\"")), 3, &line("\"\""), INVALID);
    // Only the first byte of the type counts.
    starts("type-word", &format!("{B}{I1}{}\n", line("incr")), ALL);
}

#[test]
fn base_and_history_entries() {
    let dup = format!("file {BASE} seq 2 type b");
    refused_at("base-twice", &format!("{B}{dup}\n{I1}{I2}"), 2, &dup, "Found duplicate base file information");
    // The base is loaded first wherever it is listed.
    starts("base-last", &format!("{I1}{I2}{B}"), ALL);
    starts("no-base", &format!("{I1}{I2}"), &["c", "d"]);
    starts("base-only", B, &["a", "b"]);
    // History files are not loaded (even missing ones); start-up drops them from the manifest
    // and deletes them.
    let ad = starts(
        "history",
        &format!("file old.rdb seq 1 type h\n{B}{I1}file gone.aof seq 9 type h\n{I2}file {INCR1} seq 3 type h\n"),
        ALL,
    );
    let m = std::fs::read_to_string(ad.join("appendonly.aof.manifest")).unwrap();
    assert_eq!(m, format!("{B}{I1}{I2}"));
    assert!(ad.join(INCR1).exists(), "a history entry naming a listed file keeps the file");
    // Only history files: nothing to load, a new AOF. Redis then deletes the history file even
    // when it has the name of the base it has just created (and fails at the next start);
    // redstart keeps it.
    let ad = starts("only-history", "file appendonly.aof.1.base.rdb seq 1 type h\n", &[]);
    assert!(ad.join("appendonly.aof.1.base.rdb").exists());
    let root = ad.parent().unwrap();
    assert_eq!(outcome(REDSTART, root, "yes"), Outcome::Started(vec![]));
}

#[test]
fn keys_and_words() {
    for (name, line) in [
        ("no-seq", format!("file {INCR2} type i")),
        ("no-type", format!("file {INCR2} seq 2")),
        ("no-file", "seq 2 type i".to_string()),
        ("no-seq-other-key", format!("file {INCR2} type i other x")),
        ("odd-words", format!("file {INCR2} seq 2 type i extra")),
        ("four-words", format!("file {INCR2} seq 2")),
        ("seq-zero", format!("file {INCR2} seq 0 type i")),
        ("seq-minus-zero", format!("file {INCR2} seq -0 type i")),
        ("seq-word", format!("file {INCR2} seq two type i")),
        ("unbalanced-quote", format!("file \"{INCR2} seq 2 type i")),
        ("quote-glued", format!("file \"{INCR2}\"x seq 2 type i")),
        ("vertical-tab", format!("file\x0b{INCR2} seq 2 type i")),
    ] {
        refused_at(name, &format!("{B}{I1}{line}\n"), 3, &line, INVALID);
    }
    for (name, line) in [
        ("unknown-key", format!("file {INCR2} seq 2 type i future yes")),
        ("reordered", format!("type i seq 2 file {INCR2}")),
        ("upper-keys", format!("FILE {INCR2} Seq 2 TYPE i")),
        ("repeated-key", format!("file nothing seq 2 type i file {INCR2}")),
        // `seq` is read as C's atoll.
        ("seq-trailing", format!("file {INCR2} seq 2abc type i")),
        ("seq-plus", format!("file {INCR2} seq +2 type i")),
        ("seq-overflow", format!("file {INCR2} seq 99999999999999999999 type i")),
        ("seq-quoted-space", format!("file {INCR2} seq ' 2' type i")),
    ] {
        starts(name, &format!("{B}{I1}{line}\n"), ALL);
    }
}

#[test]
fn quoting_and_paths() {
    starts("double-quoted", &format!("{B}{I1}file \"{INCR2}\" seq 2 type i\n"), ALL);
    starts("single-quoted", &format!("{B}{I1}file '{INCR2}' seq 2 type i\n"), ALL);
    let path = "File can't be a path, just a filename";
    for (name, file) in [
        ("dot-slash", format!("./{INCR2}")),
        ("absolute", format!("/tmp/{INCR2}")),
        ("backslash", "a\\b".to_string()),
        ("escaped-slash", "\"a\\x2fb\"".to_string()),
    ] {
        let line = format!("file {file} seq 2 type i");
        refused_at(name, &format!("{B}{I1}{line}\n"), 3, &line, path);
    }
    // Checked on history entries too.
    let line = "file a\\b seq 3 type h";
    refused_at("backslash-history", &format!("{B}{I1}{I2}{line}\n"), 4, line, path);
    // A quoted name with a space is a name like another.
    refused(
        "spaced-name",
        &format!("{B}{I1}file \"append only.aof\" seq 2 type i\n"),
        &["Unable to obtain the AOF file append only.aof length. stat: No such file or directory"],
    );
}

#[test]
fn listed_files_must_exist() {
    // Checked before anything is loaded.
    for (name, m, file) in [
        (
            "incr-missing",
            format!("{B}{I1}{I2}file appendonly.aof.3.incr.aof seq 3 type i\n"),
            "appendonly.aof.3.incr.aof",
        ),
        ("base-missing", format!("file appendonly.aof.7.base.rdb seq 7 type b\n{I1}{I2}"), "appendonly.aof.7.base.rdb"),
        (
            "first-incr-missing",
            format!("{B}file appendonly.aof.0.incr.aof seq 1 type i\n{I2}"),
            "appendonly.aof.0.incr.aof",
        ),
    ] {
        let line = format!("Unable to obtain the AOF file {file} length. stat: No such file or directory");
        refused(name, &m, &[&line]);
    }
    // A name that is a directory.
    refused(
        "dot-dot",
        &format!("{B}{I1}{I2}file .. seq 3 type i\n"),
        &["Unrecoverable error reading the append only file ..: Is a directory"],
    );
    refused(
        "empty-name",
        &format!("{B}{I1}{I2}file \"\" seq 3 type i\n"),
        &["Unrecoverable error reading the append only file : Is a directory"],
    );
}

#[test]
fn line_ends_and_white_space() {
    starts("crlf", &format!("{B}{I1}{I2}").replace('\n', "\r\n"), ALL);
    starts("trailing-spaces", &format!("{}   \n{I1}{I2}", B.trim_end()), ALL);
    starts("leading-spaces", &format!("  {B}\t{I1}{I2}"), ALL);
    starts("tabs", &format!("{}{I1}{I2}", B.replace(' ', "\t")), ALL);
}

#[test]
fn manifest_is_read_with_appendonly_no() {
    // Redis reads the manifest at start-up whatever `appendonly` says.
    let dir = tmpdir("aof-off");
    for (who, program) in [("redis-server", "redis-server"), ("redstart", REDSTART)] {
        let root = dir.join(who);
        fixture(&root, format!("{B}{I2}{I1}").as_bytes());
        match outcome(program, &root, "no") {
            Outcome::Refused(1, msgs) => {
                assert!(msgs.iter().any(|m| m == "Found a non-monotonic sequence number"), "{who}: {msgs:?}")
            }
            other => panic!("{who}: {other:?}"),
        }
        // Not a regular file: no manifest (with the AOF off, nothing is written).
        std::fs::remove_file(root.join("appendonlydir/appendonly.aof.manifest")).unwrap();
        std::fs::create_dir(root.join("appendonlydir/appendonly.aof.manifest")).unwrap();
        assert_eq!(outcome(program, &root, "no"), Outcome::Started(vec![]), "{who}");
        assert!(matches!(outcome(program, &root, "yes"), Outcome::Refused(1, _)), "{who}");
    }
}

/// `check-aof` on the manifest: (exit status, output).
fn check(program: &[&str], manifest: &Path) -> (i32, String) {
    let out = Command::new(program[0])
        .args(&program[1..])
        .arg(manifest)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program:?}: {e}"));
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn check_aof_agrees() {
    let dir = tmpdir("check");
    let cases: Vec<(String, Option<&str>)> = vec![
        (format!("{B}{I1}{I2}"), None),
        (format!("{B}{I2}{I1}"), Some("Found a non-monotonic sequence number")),
        (format!("{B}\n{I1}"), Some(INVALID)),
        (format!("{B}{I1}{}", I2.trim_end()), Some(TOO_LONG)),
        (format!("{B}{I1}file {INCR2} seq 2 type x\n"), Some("Unknown AOF file type")),
        (format!("{B}{B}"), Some("Found duplicate base file information")),
        (format!("{B}{I1}file ./x seq 2 type i\n"), Some("File can't be a path, just a filename")),
        (format!("{B}{I1}file {INCR2} seq 0 type i\n"), Some(INVALID)),
        (format!("{B}{I1}file appendonly.aof.3.incr.aof seq 3 type i\n"), Some("No such file or directory")),
        (format!("# c\n  {B}{I1}FILE {INCR2} seq 2abc type incr x y\r\n"), None),
        (format!("{I1}{I2}{B}"), None),
        ("file old seq 1 type h\n".to_string(), None),
    ];
    for (i, (m, reason)) in cases.iter().enumerate() {
        let root = dir.join(i.to_string());
        fixture(&root, m.as_bytes());
        let manifest = root.join("appendonlydir/appendonly.aof.manifest");
        let (code, out) = check(&[REDSTART, "check-aof"], &manifest);
        let (rcode, rout) = check(&["redis-check-aof"], &manifest);
        assert_eq!(code, rcode, "{m:?}\nours:\n{out}\nredis:\n{rout}");
        assert_eq!(code, reason.is_some() as i32, "{m:?}\n{out}");
        if let Some(r) = reason {
            assert!(out.contains(r) && rout.contains(r), "{m:?}\nours:\n{out}\nredis:\n{rout}");
        }
        // And the server agrees.
        let started = matches!(outcome(REDSTART, &root, "yes"), Outcome::Started(_));
        assert_eq!(started, reason.is_none(), "{m:?}");
    }
    // An empty manifest stops the server; redis-check-aof calls it an empty AOF (exit 0),
    // redstart check-aof refuses it as the server does.
    fixture(&dir.join("empty"), b"");
    let manifest = dir.join("empty/appendonlydir/appendonly.aof.manifest");
    let (code, out) = check(&[REDSTART, "check-aof"], &manifest);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("Found an empty AOF manifest"), "{out}");
    let (rcode, rout) = check(&["redis-check-aof"], &manifest);
    assert_eq!(rcode, 0, "{rout}");
    assert!(rout.contains("is empty"), "{rout}");
}
