//! `redstart check-aof` against `redis-check-aof` 7.0 on the same files (exit status, what
//! `--fix` and `--truncate-to-timestamp` leave behind), and start-up with damaged AOFs: a
//! corrupt file is refused naming the file, the offset and `redstart check-aof --fix`; an
//! unterminated `MULTI` at the end is reverted with `aof-load-truncated yes`.

mod common;
use common::*;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Runs `prog args` with `answer` on stdin; returns the exit status and stdout.
fn tool(prog: &str, args: &[&str], answer: &str) -> (i32, String) {
    let mut child = Command::new(prog)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {prog}: {e}"));
    let _ = child.stdin.take().unwrap().write_all(answer.as_bytes());
    let out = child.wait_with_output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

fn ours(args: &[&str], answer: &str) -> (i32, String) {
    tool(env!("CARGO_BIN_EXE_redstart"), &[&["check-aof"], args].concat(), answer)
}

fn theirs(args: &[&str], answer: &str) -> (i32, String) {
    tool("redis-check-aof", args, answer)
}

fn cmd(line: &str) -> Vec<u8> {
    let w = words(line);
    encode(&w.iter().map(|a| a.as_slice()).collect::<Vec<_>>())
}

/// Copies directory `from` to `to` (flat).
fn copy_dir(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// Runs both checkers on copies of `dir` (each with `args` and the file `rel` inside the
/// copy); returns (our status, our output, Redis's status) and leaves the copies for
/// inspection as `<dir>-ours` and `<dir>-redis`.
fn both(dir: &Path, flags: &[&str], rel: &str, answer: &str) -> (i32, String, i32) {
    let (a, b) = (dir.with_extension("ours"), dir.with_extension("redis"));
    copy_dir(dir, &a);
    copy_dir(dir, &b);
    let (code, out) = ours(&[flags, &[a.join(rel).to_str().unwrap()]].concat(), answer);
    let (rcode, rout) = theirs(&[flags, &[b.join(rel).to_str().unwrap()]].concat(), answer);
    assert_eq!(code, rcode, "exit status differs on {rel} {flags:?}\nours:\n{out}\nredis:\n{rout}");
    (code, out, rcode)
}

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap()
}

/// An AOF directory as redstart writes it: an RDB base (after BGREWRITEAOF) and an
/// incremental file with `SET a 1`, `SET b 2`.
fn server_dir(name: &str) -> PathBuf {
    let dir = tmpdir(name);
    let p = start_redstart(&["--dir", dir.to_str().unwrap(), "--appendonly", "yes"]);
    let mut c = Conn::connect(p.port);
    c.run("SET base 0");
    assert!(text(&c.run("BGREWRITEAOF")).starts_with('+'));
    // The rewrite runs in a child: wait until its base is installed.
    let t = std::time::Instant::now();
    while !text(&c.run("INFO persistence")).contains("aof_rewrite_in_progress:0\r\n") {
        assert!(t.elapsed() < std::time::Duration::from_secs(20), "rewrite did not finish");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    c.run("SET a 1");
    c.run("SET b 2");
    drop(p);
    dir.join("appendonlydir")
}

const MANIFEST: &str = "appendonly.aof.manifest";
const BASE: &str = "appendonly.aof.2.base.rdb";
const INCR: &str = "appendonly.aof.2.incr.aof";

#[test]
fn valid_and_truncated_single_files() {
    let dir = tmpdir("single");
    let good = [cmd("SET a 1"), cmd("SET b 2")].concat();
    std::fs::write(dir.join("good.aof"), &good).unwrap();
    let (code, out, _) = both(&dir, &[], "good.aof", "");
    assert_eq!(code, 0);
    assert!(out.contains("AOF") && out.contains("is valid"), "{out}");

    // An empty file is valid for both.
    std::fs::write(dir.join("good.aof"), b"").unwrap();
    assert_eq!(both(&dir, &[], "good.aof", "").0, 0);

    // Truncated: exit 1, the offset of the incomplete command; --fix with "y" cuts it off.
    let first = cmd("SET a 1").len();
    std::fs::write(dir.join("good.aof"), &good[..good.len() - 3]).unwrap();
    let (code, out, _) = both(&dir, &[], "good.aof", "");
    assert_eq!(code, 1);
    assert!(out.contains(&format!("[offset {first}]")) && out.contains("ok_up_to=27"), "{out}");
    let (code, out, _) = both(&dir, &["--fix"], "good.aof", "n\n");
    assert_eq!(code, 1);
    assert!(out.contains("Continue? [y/N]") && out.contains("Aborting"), "{out}");
    assert_eq!(read(&dir.with_extension("ours"), "good.aof").len(), good.len() - 3, "unchanged after 'n'");
    let (code, out, _) = both(&dir, &["--fix"], "good.aof", "y\n");
    assert_eq!(code, 0, "{out}");
    assert_eq!(read(&dir.with_extension("ours"), "good.aof"), read(&dir.with_extension("redis"), "good.aof"));
    assert_eq!(read(&dir.with_extension("ours"), "good.aof"), &good[..first]);

    // A bad byte in the middle: --fix (as redis-check-aof on one file) keeps what precedes it.
    let mut bad = good.clone();
    bad[first + 6] = b'X'; // the CR after "$3" of the second command
    std::fs::write(dir.join("good.aof"), &bad).unwrap();
    let (code, out, _) = both(&dir, &[], "good.aof", "");
    assert_eq!(code, 1);
    assert!(out.contains(&format!("[offset {}]", first + 4)) && out.contains("bad format"), "{out}");
    assert_eq!(both(&dir, &["--fix"], "good.aof", "y\n").0, 0);
    assert_eq!(read(&dir.with_extension("ours"), "good.aof"), read(&dir.with_extension("redis"), "good.aof"));

    // An RDB preamble followed by commands (the pre-7.0 single-file layout).
    let sdir = server_dir("single-preamble");
    let pre = [read(&sdir, BASE), good.clone()].concat();
    std::fs::write(dir.join("good.aof"), &pre).unwrap();
    assert_eq!(both(&dir, &[], "good.aof", "").0, 0);
    std::fs::write(dir.join("good.aof"), &pre[..pre.len() - 2]).unwrap();
    assert_eq!(both(&dir, &[], "good.aof", "").0, 1);
    let (code, _, _) = both(&dir, &["--fix"], "good.aof", "y\n");
    assert_eq!(code, 0);
    assert_eq!(read(&dir.with_extension("ours"), "good.aof"), read(&dir.with_extension("redis"), "good.aof"));
    // A damaged preamble is not fixable.
    let mut broken = pre.clone();
    broken[20] ^= 0x55;
    std::fs::write(dir.join("good.aof"), &broken).unwrap();
    assert_eq!(both(&dir, &[], "good.aof", "").0, 1);
    let (code, out, _) = both(&dir, &["--fix"], "good.aof", "y\n");
    assert_eq!(code, 1);
    assert!(out.contains("RDB"), "{out}");
}

#[test]
fn transactions_and_timestamps() {
    let dir = tmpdir("multi");
    let set = cmd("SET a 1");
    let unterminated = [set.clone(), cmd("MULTI"), cmd("SET b 2")].concat();
    std::fs::write(dir.join("x.aof"), &unterminated).unwrap();
    let (code, out, _) = both(&dir, &[], "x.aof", "");
    assert_eq!(code, 1);
    assert!(out.contains(&format!("[offset {}]", set.len())) && out.contains("MULTI"), "{out}");
    assert_eq!(both(&dir, &["--fix"], "x.aof", "y\n").0, 0);
    assert_eq!(read(&dir.with_extension("ours"), "x.aof"), set);
    assert_eq!(read(&dir.with_extension("redis"), "x.aof"), set);

    for damaged in
        [[set.clone(), cmd("MULTI"), cmd("MULTI"), cmd("EXEC")].concat(), [set.clone(), cmd("EXEC")].concat()]
    {
        std::fs::write(dir.join("x.aof"), &damaged).unwrap();
        let (code, out, _) = both(&dir, &[], "x.aof", "");
        assert_eq!(code, 1);
        assert!(out.contains("bad format"), "{out}");
    }
    let whole = [set.clone(), cmd("MULTI"), cmd("SET b 2"), cmd("EXEC")].concat();
    std::fs::write(dir.join("x.aof"), &whole).unwrap();
    assert_eq!(both(&dir, &[], "x.aof", "").0, 0);

    // Timestamp annotations: both cut at the first one later than the limit.
    let annotated = [b"#TS:1000\r\n".to_vec(), set.clone(), b"#TS:2000\r\n".to_vec(), cmd("SET b 2")].concat();
    std::fs::write(dir.join("x.aof"), &annotated).unwrap();
    assert_eq!(both(&dir, &[], "x.aof", "").0, 0);
    let (code, out, _) = both(&dir, &["--truncate-to-timestamp", "1500"], "x.aof", "");
    assert_eq!(code, 0, "{out}");
    assert_eq!(read(&dir.with_extension("ours"), "x.aof"), &annotated[..10 + set.len()]);
    assert_eq!(read(&dir.with_extension("ours"), "x.aof"), read(&dir.with_extension("redis"), "x.aof"));
    assert_eq!(both(&dir, &["--truncate-to-timestamp", "5000"], "x.aof", "").0, 0);
    assert_eq!(read(&dir.with_extension("ours"), "x.aof"), annotated);
}

#[test]
fn manifests_written_by_redstart() {
    let dir = server_dir("manifest");
    let (code, out, _) = both(&dir, &[], MANIFEST, "");
    assert_eq!(code, 0);
    assert!(out.contains("All AOF files and manifest are valid"), "{out}");
    let incr = read(&dir, INCR);

    // The last incr file truncated: fixable, and the server then loads it even with
    // aof-load-truncated no.
    std::fs::write(dir.join(INCR), &incr[..incr.len() - 4]).unwrap();
    assert_eq!(both(&dir, &[], MANIFEST, "").0, 1);
    let (code, out, _) = both(&dir, &["--fix"], MANIFEST, "y\n");
    assert_eq!(code, 0, "{out}");
    let fixed = dir.with_extension("ours");
    assert_eq!(read(&fixed, INCR), read(&dir.with_extension("redis"), INCR));
    assert_eq!(ours(&[fixed.join(MANIFEST).to_str().unwrap()], "").0, 0);
    let root = fixed.with_extension("root");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    std::fs::rename(&fixed, root.join("appendonlydir")).unwrap();
    {
        let p = start_redstart(&["--dir", root.to_str().unwrap(), "--appendonly", "yes", "--aof-load-truncated", "no"]);
        let mut c = Conn::connect(p.port);
        assert_eq!(text(&c.run("MGET base a b")), "*3\r\n$1\r\n0\r\n$1\r\n1\r\n$-1\r\n");
    }

    // Several incr files: damage in one that is not the last is reported and not fixable.
    let third = [cmd("SET c 3"), cmd("SET d 4")].concat();
    std::fs::write(dir.join(INCR), &incr).unwrap();
    std::fs::write(dir.join("appendonly.aof.3.incr.aof"), &third).unwrap();
    std::fs::write(
        dir.join(MANIFEST),
        format!("file {BASE} seq 2 type b\nfile {INCR} seq 2 type i\nfile appendonly.aof.3.incr.aof seq 3 type i\n"),
    )
    .unwrap();
    assert_eq!(both(&dir, &[], MANIFEST, "").0, 0);
    let mut bad = incr.clone();
    let at = incr.len() - 2;
    bad[at] = b'?'; // the last argument's CR
    std::fs::write(dir.join(INCR), &bad).unwrap();
    let (code, out, _) = both(&dir, &[], MANIFEST, "");
    assert_eq!(code, 1);
    assert!(out.contains(&format!("[offset {at}]")) && out.contains(INCR), "{out}");
    let (code, out, _) = both(&dir, &["--fix"], MANIFEST, "y\n");
    assert_eq!(code, 1);
    assert!(out.contains("not the last file"), "{out}");
    assert_eq!(read(&dir.with_extension("ours"), INCR), bad, "a non-last file is never cut");
    // Damage in the last of them is fixable.
    std::fs::write(dir.join(INCR), &incr).unwrap();
    std::fs::write(dir.join("appendonly.aof.3.incr.aof"), &third[..third.len() - 1]).unwrap();
    assert_eq!(both(&dir, &["--fix"], MANIFEST, "y\n").0, 0);
    assert_eq!(read(&dir.with_extension("ours"), "appendonly.aof.3.incr.aof"), cmd("SET c 3"));

    // A file the manifest lists is missing.
    std::fs::remove_file(dir.join("appendonly.aof.3.incr.aof")).unwrap();
    let (code, out, _) = both(&dir, &[], MANIFEST, "");
    assert_eq!(code, 1);
    assert!(out.contains("Cannot open file"), "{out}");

    // A damaged RDB base: never fixable.
    std::fs::write(dir.join(MANIFEST), format!("file {BASE} seq 2 type b\nfile {INCR} seq 2 type i\n")).unwrap();
    let mut base = read(&dir, BASE);
    let n = base.len();
    base[n - 12] ^= 0x40;
    std::fs::write(dir.join(BASE), &base).unwrap();
    assert_eq!(both(&dir, &[], MANIFEST, "").0, 1);
    let (code, out, _) = both(&dir, &["--fix"], MANIFEST, "y\n");
    assert_eq!(code, 1);
    assert!(out.contains("RDB preamble of AOF file") && out.contains(BASE), "{out}");

    // A base of commands (`.base.aof`) is checked as commands.
    std::fs::write(dir.join("appendonly.aof.1.base.aof"), cmd("SET base 0")).unwrap();
    std::fs::write(
        dir.join(MANIFEST),
        format!("file appendonly.aof.1.base.aof seq 1 type b\nfile {INCR} seq 2 type i\n"),
    )
    .unwrap();
    assert_eq!(both(&dir, &[], MANIFEST, "").0, 0);
    std::fs::write(dir.join("appendonly.aof.1.base.aof"), b"*2\r\n$3\r\nGET").unwrap();
    let (code, out, _) = both(&dir, &["--fix"], MANIFEST, "y\n");
    assert_eq!(code, 1);
    assert!(out.contains("not the last file"), "{out}");
}

#[test]
fn start_up_with_damaged_files() {
    let ad = server_dir("startup");
    let root = ad.parent().unwrap().to_path_buf();
    let incr = read(&ad, INCR);

    // Corrupt (not truncated): refused whatever aof-load-truncated says, naming the file, the
    // offset and the repair tool.
    let mut bad = incr.clone();
    let at = incr.len() - cmd("SET b 2").len();
    bad[at] = b'!';
    std::fs::write(ad.join(INCR), &bad).unwrap();
    let msg = refused_with_aof(&root, &["--aof-load-truncated", "yes"]);
    assert!(msg.contains(INCR) && msg.contains(&format!("offset {at}")), "{msg}");
    assert!(msg.contains("redstart check-aof --fix") && msg.contains(MANIFEST), "{msg}");

    // A MULTI without EXEC at the end: refused with aof-load-truncated no ...
    let tail = [cmd("MULTI"), cmd("SET c 3"), cmd("INCR a")].concat();
    std::fs::write(ad.join(INCR), [incr.clone(), tail].concat()).unwrap();
    let msg = refused_with_aof(&root, &["--aof-load-truncated", "no"]);
    assert!(msg.contains("Unexpected end of file") && msg.contains(&format!("offset {}", incr.len())), "{msg}");
    assert!(msg.contains("redstart check-aof --fix"), "{msg}");
    // ... and reverted with yes: the transaction never ran and is cut off the file, so the
    // writes that follow are not swallowed by it at the next start.
    {
        let p = start_redstart(&["--dir", root.to_str().unwrap(), "--appendonly", "yes"]);
        let mut c = Conn::connect(p.port);
        assert_eq!(text(&c.run("MGET a b c")), "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n");
        assert_eq!(read(&ad, INCR), incr);
        c.run("SET d 4");
    }
    let p = start_redstart(&["--dir", root.to_str().unwrap(), "--appendonly", "yes", "--aof-load-truncated", "no"]);
    let mut c = Conn::connect(p.port);
    assert_eq!(text(&c.run("MGET a c d")), "*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n4\r\n");
    drop(p);
    assert_eq!(ours(&[ad.join(MANIFEST).to_str().unwrap()], "").0, 0);

    // A complete transaction in the file is replayed.
    let whole = [cmd("MULTI"), cmd("SET c 3"), cmd("INCR a"), cmd("EXEC")].concat();
    std::fs::write(ad.join(INCR), [incr.clone(), whole].concat()).unwrap();
    let p = start_redstart(&["--dir", root.to_str().unwrap(), "--appendonly", "yes", "--aof-load-truncated", "no"]);
    let mut c = Conn::connect(p.port);
    assert_eq!(text(&c.run("MGET a c")), "*2\r\n$1\r\n2\r\n$1\r\n3\r\n");
}
