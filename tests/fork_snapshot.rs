//! BGSAVE and BGREWRITEAOF in a forked child (`persist::fork`): the server keeps serving while
//! the child works, the file is one point in time (a transaction running throughout is never
//! half-captured, a write acknowledged after the fork is not in it), a rewrite under writes
//! loses nothing and applies nothing twice, the automatic rewrite triggers, a killed child
//! leaves the previous files intact, and the replies when a child is busy match redis-server.
//!
//! The child is slowed down by the test hook `REDSTART_DEBUG_KEY_SAVE_DELAY_US` (µs per key;
//! redis-server's equivalent is `CONFIG SET rdb-key-save-delay`).

mod common;
use common::*;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Starts redstart in `dir` with the child's per-key delay (0: none).
fn start(dir: &Path, delay_us: u64, extra: &[&str]) -> Proc {
    for _ in 0..10 {
        let port = free_port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_redstart"))
            .args(["--port", &port.to_string(), "--save", "", "--dir", dir.to_str().unwrap()])
            .args(extra)
            .env("REDSTART_DEBUG_KEY_SAVE_DELAY_US", delay_us.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redstart");
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) && child.try_wait().ok().flatten().is_none() {
            if let Ok(stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                drop(stream);
                let mut c = Conn::connect(port);
                if body(&c.run("INFO server")).contains(&format!("process_id:{}\r\n", child.id())) {
                    return Proc { child, port, name: "redstart", scratch: None };
                }
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("redstart did not start");
}

fn info(c: &mut Conn, field: &str) -> String {
    let text = body(&c.run("INFO persistence"));
    let prefix = format!("{field}:");
    text.lines().find_map(|l| l.strip_prefix(&prefix)).unwrap_or_else(|| panic!("no {field} in INFO")).to_string()
}

fn wait_for(c: &mut Conn, field: &str, value: &str) {
    let t = Instant::now();
    while info(c, field) != value {
        assert!(t.elapsed() < Duration::from_secs(60), "{field} never became {value}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `n` keys `key:<i>` in one pipeline.
fn populate(c: &mut Conn, n: usize) {
    let mut buf = Vec::new();
    for i in 0..n {
        buf.extend(encode(&[b"SET", format!("key:{i}").as_bytes(), format!("value-{i}").as_bytes()]));
    }
    c.send_raw(&buf);
    for _ in 0..n {
        assert_eq!(c.read_reply(), b"+OK\r\n");
    }
}

/// An integer reply, or a bulk holding an integer.
fn int(reply: &[u8]) -> i64 {
    let t = text(reply);
    match t.strip_prefix(':') {
        Some(n) => n.trim_end().parse().unwrap(),
        None => body(reply).parse().unwrap_or_else(|_| panic!("not a number: {t}")),
    }
}

/// The process ids whose parent is `pid` (from /proc).
fn children_of(pid: u32) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = e.file_name().to_string_lossy().parse::<i32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else { continue };
        // `pid (comm) state ppid ...`: comm may hold spaces, so split after the last ')'.
        let Some(rest) = stat.rsplit_once(')').map(|x| x.1) else { continue };
        if rest.split_whitespace().nth(1).and_then(|p| p.parse::<u32>().ok()) == Some(pid) {
            out.push(child);
        }
    }
    out
}

fn kill_child_of(p: &Proc) {
    let t = Instant::now();
    loop {
        let kids = children_of(p.child.id());
        if let Some(&k) = kids.first() {
            // SAFETY: kill has no memory-safety preconditions.
            assert_eq!(unsafe { libc::kill(k, libc::SIGKILL) }, 0);
            return;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "no child process found");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn kill9(p: &mut Proc) {
    p.child.kill().unwrap();
    p.child.wait().unwrap();
}

fn manifest(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest")).unwrap()
}

fn aof_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.join("appendonlydir"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A writer that runs `MULTI; INCR a; INCR b; EXEC` until stopped; returns the count of
/// acknowledged transactions.
fn txn_writer(port: u16, stop: Arc<AtomicBool>, done: Arc<AtomicU64>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut c = Conn::connect(port);
        let mut txn = Vec::new();
        for line in ["MULTI", "INCR pair:a", "INCR pair:b", "EXEC"] {
            txn.extend(encode(&words(line).iter().map(|w| w.as_slice()).collect::<Vec<_>>()));
        }
        while !stop.load(Ordering::Relaxed) {
            c.send_raw(&txn);
            for _ in 0..4 {
                c.read_reply();
            }
            done.fetch_add(1, Ordering::Relaxed);
        }
    })
}

#[test]
fn bgsave_runs_in_a_child_and_is_one_point_in_time() {
    let dir = tmpdir("bgsave");
    let p = start(&dir, 500, &[]);
    let mut c = Conn::connect(p.port);
    populate(&mut c, 2000);
    let (stop, n) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
    let w = txn_writer(p.port, stop.clone(), n.clone());
    while n.load(Ordering::Relaxed) < 20 {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(text(&c.run("BGSAVE")), "+Background saving started\r\n");
    // The server answers while the child writes: a write now is acknowledged, and the save is
    // still running (2000 keys at 0.5 ms each).
    assert_eq!(text(&c.run("SET after:fork 1")), "+OK\r\n");
    assert_eq!(info(&mut c, "rdb_bgsave_in_progress"), "1");
    let before = n.load(Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(100));
    assert!(n.load(Ordering::Relaxed) > before, "the writer was stopped during BGSAVE");
    assert_eq!(text(&c.run("BGSAVE")), "-ERR Background save already in progress\r\n");
    assert_eq!(text(&c.run("SAVE")), "-ERR Background save already in progress\r\n");
    wait_for(&mut c, "rdb_bgsave_in_progress", "0");
    stop.store(true, Ordering::Relaxed);
    w.join().unwrap();
    assert_eq!(info(&mut c, "rdb_last_bgsave_status"), "ok");
    assert_eq!(info(&mut c, "rdb_saves"), "1");
    // Writes after the fork are still changes since the last save.
    assert!(info(&mut c, "rdb_changes_since_last_save").parse::<u64>().unwrap() >= 1);
    assert!(!std::fs::read_dir(&dir).unwrap().flatten().any(|e| e.file_name().to_string_lossy().starts_with("temp-")));

    // Load the file in a fresh server: both counters from the same moment, and nothing
    // written after the fork.
    let dir2 = tmpdir("bgsave-load");
    std::fs::copy(dir.join("dump.rdb"), dir2.join("dump.rdb")).unwrap();
    let q = start(&dir2, 0, &[]);
    let mut d = Conn::connect(q.port);
    let (a, b) = (int(&d.run("GET pair:a")), int(&d.run("GET pair:b")));
    assert_eq!(a, b, "the transaction was half-captured");
    assert!(a >= 20);
    assert_eq!(text(&d.run("EXISTS after:fork")), ":0\r\n");
    assert_eq!(text(&d.run("DBSIZE")), ":2002\r\n");
    assert_eq!(body(&d.run("GET key:1999")), "value-1999");
}

#[test]
fn bgrewriteaof_under_writes_loses_nothing_and_applies_nothing_twice() {
    let dir = tmpdir("rewrite");
    let mut p = start(&dir, 300, &["--appendonly", "yes", "--appendfsync", "always"]);
    let mut c = Conn::connect(p.port);
    populate(&mut c, 2000);
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicU64::new(0));
    let w = {
        let (stop, acked, port) = (stop.clone(), acked.clone(), p.port);
        std::thread::spawn(move || {
            let mut c = Conn::connect(port);
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                assert_eq!(int(&c.run(&format!("INCR ctr:{}", i % 10))), (i / 10 + 1) as i64);
                assert_eq!(text(&c.run(&format!("SET w:{i} {i}"))), "+OK\r\n");
                i += 1;
                acked.store(i, Ordering::Relaxed);
            }
        })
    };
    while acked.load(Ordering::Relaxed) < 50 {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(text(&c.run("BGREWRITEAOF")), "+Background append only file rewriting started\r\n");
    assert_eq!(info(&mut c, "aof_rewrite_in_progress"), "1");
    assert_eq!(text(&c.run("BGREWRITEAOF")), "-ERR Background append only file rewriting already in progress\r\n");
    // Writes at the fork went to a new incremental file, listed in the manifest at once.
    let m = manifest(&dir);
    assert!(m.contains("appendonly.aof.2.incr.aof seq 2 type i"), "{m}");
    assert!(m.contains("appendonly.aof.1.incr.aof seq 1 type i"), "{m}");
    let mid = acked.load(Ordering::Relaxed);
    wait_for(&mut c, "aof_rewrite_in_progress", "0");
    assert!(acked.load(Ordering::Relaxed) > mid, "writes stopped during the rewrite");
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::Relaxed);
    w.join().unwrap();
    assert_eq!(info(&mut c, "aof_last_bgrewrite_status"), "ok");
    assert_eq!(info(&mut c, "aof_rewrites"), "1");
    assert_eq!(
        manifest(&dir),
        "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
    );
    assert_eq!(aof_files(&dir), ["appendonly.aof.2.base.rdb", "appendonly.aof.2.incr.aof", "appendonly.aof.manifest"]);
    let total = acked.load(Ordering::Relaxed);

    // appendfsync always: every acknowledged write survives SIGKILL, each exactly once.
    kill9(&mut p);
    let q = start(&dir, 0, &["--appendonly", "yes"]);
    let mut d = Conn::connect(q.port);
    for k in 0..10 {
        let expect = (total / 10 + u64::from(k < total % 10)) as i64;
        assert_eq!(int(&d.run(&format!("GET ctr:{k}"))), expect, "ctr:{k} after {total} writes");
    }
    for i in (0..total).step_by(7).chain([total - 1]) {
        assert_eq!(body(&d.run(&format!("GET w:{i}"))), i.to_string());
    }
    assert_eq!(int(&d.run("DBSIZE")), 2000 + 10.min(total as i64) + total as i64);
}

#[test]
fn auto_rewrite_triggers_on_growth() {
    let dir = tmpdir("auto");
    let p = start(&dir, 0, &["--appendonly", "yes"]);
    let mut c = Conn::connect(p.port);
    assert_eq!(info(&mut c, "aof_rewrites"), "0");
    c.run("CONFIG SET auto-aof-rewrite-percentage 100");
    c.run("CONFIG SET auto-aof-rewrite-min-size 4096");
    populate(&mut c, 200);
    wait_for(&mut c, "aof_rewrites", "1");
    wait_for(&mut c, "aof_rewrite_in_progress", "0");
    let base: u64 = info(&mut c, "aof_base_size").parse().unwrap();
    assert!(base > 1000, "base {base}");
    // Doubling the file since that rewrite triggers the next one.
    let mut buf = Vec::new();
    for i in 0..400 {
        buf.extend(encode(&[b"SET", format!("more:{i}").as_bytes(), b"xxxxxxxxxxxxxxxxxxxx"]));
    }
    c.send_raw(&buf);
    for _ in 0..400 {
        c.read_reply();
    }
    wait_for(&mut c, "aof_rewrites", "2");
    wait_for(&mut c, "aof_rewrite_in_progress", "0");
    assert_eq!(info(&mut c, "aof_last_bgrewrite_status"), "ok");
    // Percentage 0 turns it off.
    c.run("CONFIG SET auto-aof-rewrite-percentage 0");
    c.send_raw(&buf);
    for _ in 0..400 {
        c.read_reply();
    }
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(info(&mut c, "aof_rewrites"), "2");
}

#[test]
fn a_killed_child_leaves_the_previous_files_intact() {
    // BGSAVE: the previous dump.rdb stays, the status is err, the temp file is gone.
    let dir = tmpdir("killed");
    let mut p = start(&dir, 1000, &["--appendonly", "yes", "--appendfsync", "always"]);
    let mut c = Conn::connect(p.port);
    populate(&mut c, 50);
    c.run("BGSAVE");
    wait_for(&mut c, "rdb_bgsave_in_progress", "0");
    let first = std::fs::read(dir.join("dump.rdb")).unwrap();
    populate(&mut c, 1000);
    assert_eq!(text(&c.run("BGSAVE")), "+Background saving started\r\n");
    kill_child_of(&p);
    wait_for(&mut c, "rdb_bgsave_in_progress", "0");
    assert_eq!(info(&mut c, "rdb_last_bgsave_status"), "err");
    assert_eq!(std::fs::read(dir.join("dump.rdb")).unwrap(), first);
    assert!(!std::fs::read_dir(&dir).unwrap().flatten().any(|e| e.file_name().to_string_lossy().starts_with("temp-")));

    // BGREWRITEAOF: the manifest keeps the old base and both incremental files, in order.
    assert_eq!(text(&c.run("BGREWRITEAOF")), "+Background append only file rewriting started\r\n");
    assert_eq!(text(&c.run("SET during:failed 1")), "+OK\r\n");
    kill_child_of(&p);
    wait_for(&mut c, "aof_rewrite_in_progress", "0");
    assert_eq!(info(&mut c, "aof_last_bgrewrite_status"), "err");
    assert_eq!(info(&mut c, "aof_rewrites_consecutive_failures"), "1");
    assert_eq!(
        manifest(&dir),
        "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
    );
    assert_eq!(
        aof_files(&dir),
        [
            "appendonly.aof.1.base.rdb",
            "appendonly.aof.1.incr.aof",
            "appendonly.aof.2.incr.aof",
            "appendonly.aof.manifest"
        ]
    );
    assert_eq!(text(&c.run("SET after:failed 1")), "+OK\r\n");
    kill9(&mut p);
    let mut q = start(&dir, 0, &["--appendonly", "yes", "--appendfsync", "always"]);
    let mut d = Conn::connect(q.port);
    assert_eq!(int(&d.run("DBSIZE")), 1002);
    assert_eq!(body(&d.run("GET key:999")), "value-999");

    // The next rewrite folds all three files into one base.
    assert_eq!(text(&d.run("BGREWRITEAOF")), "+Background append only file rewriting started\r\n");
    wait_for(&mut d, "aof_rewrite_in_progress", "0");
    assert_eq!(info(&mut d, "aof_last_bgrewrite_status"), "ok");
    assert_eq!(
        manifest(&dir),
        "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.3.incr.aof seq 3 type i\n"
    );
    kill9(&mut q);
    let r = start(&dir, 0, &["--appendonly", "yes"]);
    let mut e = Conn::connect(r.port);
    assert_eq!(int(&e.run("DBSIZE")), 1002);
}

/// The replies while a child runs, against redis-server 7.0 slowed down the same way.
#[test]
fn busy_child_replies_match_redis() {
    let dir = tmpdir("diff");
    let ours = start(&dir, 1000, &["--appendonly", "yes"]);
    let odir = tmpdir("diff-oracle");
    let theirs = start_redis(&["--dir", odir.to_str().unwrap(), "--appendonly", "yes"]);
    let mut o = Conn::connect(theirs.port);
    assert_eq!(text(&o.run("CONFIG SET rdb-key-save-delay 1000")), "+OK\r\n");
    let mut a = Conn::connect(ours.port);
    for c in [&mut a, &mut o] {
        populate(c, 1500);
    }
    let script = [
        "BGSAVE",
        "BGSAVE",
        "BGSAVE SCHEDULE",
        "SAVE",
        "BGREWRITEAOF",
        "BGSAVE x",
        "BGSAVE SCHEDULE now",
        "INFO-WAIT",
        "BGREWRITEAOF",
        "BGREWRITEAOF",
        "BGSAVE",
        "BGSAVE SCHEDULE",
        "INFO-WAIT",
        "MULTI",
        "BGSAVE",
        "BGREWRITEAOF",
        "EXEC",
        "INFO-WAIT",
    ];
    for line in script {
        if line == "INFO-WAIT" {
            // Wait for every child and scheduled job to finish on both.
            // (A scheduled BGSAVE has no INFO field: idle twice, 400 ms apart, covers the
            // cron's start of it, which runs every 100 ms.)
            for c in [&mut a, &mut o] {
                let busy = |c: &mut Conn| {
                    ["rdb_bgsave_in_progress", "aof_rewrite_in_progress", "aof_rewrite_scheduled"]
                        .iter()
                        .any(|f| info(c, f) != "0")
                };
                let t = Instant::now();
                loop {
                    std::thread::sleep(Duration::from_millis(400));
                    if !busy(c) {
                        std::thread::sleep(Duration::from_millis(400));
                        if !busy(c) {
                            break;
                        }
                    }
                    assert!(t.elapsed() < Duration::from_secs(60), "children never finished");
                }
            }
            continue;
        }
        let (x, y) = (a.run(line), o.run(line));
        assert_eq!(text(&x), text(&y), "{line}");
    }
    for f in ["rdb_last_bgsave_status", "aof_last_bgrewrite_status", "rdb_saves", "aof_rewrites"] {
        assert_eq!(info(&mut a, f), info(&mut o, f), "{f}");
    }
}
