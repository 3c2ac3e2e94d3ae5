//! Write failures with real processes, injected without root: the file-size limit of a running
//! server is lowered with `prlimit --pid` (writes past it fail with EFBIG, or a short write that
//! Redis reports as ENOSPC) and lifted again. redis-server 7.0 runs in the same setups as the
//! oracle; it is started with SIGXFSZ ignored (it would be killed otherwise), while redstart
//! ignores SIGXFSZ itself, which these tests also check.
//!
//! - AOF with `appendfsync everysec`: the write that failed is acknowledged, then write
//!   commands and PING get `-MISCONF Errors writing to the AOF file: ...` while reads work,
//!   INFO says `aof_last_write_status:err`; once the limit is lifted the pending write is
//!   retried and writes work again. Nothing is lost across a restart.
//! - AOF with `appendfsync always`: the server exits without acknowledging the failed write.
//! - RDB: a failing BGSAVE with save points and `stop-writes-on-bgsave-error yes` refuses
//!   writes with Redis's MISCONF text until a BGSAVE succeeds.

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server under test: redstart (`redis == false`) or redis-server with SIGXFSZ ignored.
struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(redis: bool, dir: &Path, args: &[&str]) -> Server {
    for _ in 0..5 {
        let port = free_port();
        let mut base: Vec<String> =
            ["--port", &port.to_string(), "--dir", dir.to_str().unwrap()].iter().map(|s| s.to_string()).collect();
        base.extend(args.iter().map(|s| s.to_string()));
        let child = if redis {
            // `trap ''` sets SIGXFSZ to ignored, which `exec` keeps: the pid is redis-server's.
            Command::new("bash")
                .arg("-c")
                .arg("trap '' XFSZ; exec redis-server \"$@\"")
                .arg("redis-server")
                .args(&base)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("bash + redis-server")
        } else {
            Command::new(env!("CARGO_BIN_EXE_redstart"))
                .args(&base)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redstart")
        };
        let mut s = Server { child, port };
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if s.child.try_wait().unwrap().is_some() {
                break;
            }
            if let Ok(stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                drop(stream);
                let mut c = Conn::connect(port);
                let info = text(&c.run("INFO server persistence"));
                if !info.contains(&format!("process_id:{}\r\n", s.child.id())) {
                    break;
                }
                // redis-server answers INFO while it loads its AOF; other commands get -LOADING.
                // Between two AOF files it briefly reports loading:0, so PING must pass too.
                if info.contains("loading:0\r\n") && text(&c.run("PING")) == "+PONG\r\n" {
                    return s;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = s.child.kill();
    }
    panic!("server did not start");
}

/// Sets the soft file-size limit of process `pid` (the hard limit stays unlimited, so that the
/// soft one can be raised again without privileges).
fn fsize(pid: u32, soft: &str) {
    let st = Command::new("prlimit")
        .args(["--pid", &pid.to_string(), &format!("--fsize={soft}:unlimited")])
        .status()
        .expect("prlimit (util-linux) is needed");
    assert!(st.success(), "prlimit failed");
}

fn info_field(c: &mut Conn, field: &str) -> String {
    let info = text(&c.run("INFO persistence"));
    let line = info.lines().find(|l| l.starts_with(&format!("{field}:"))).unwrap_or_else(|| panic!("{info}"));
    line.split_once(':').unwrap().1.to_string()
}

/// Retries `line` until its reply is not an error (a retry runs once a second).
fn until_ok(c: &mut Conn, line: &str) -> String {
    let t = Instant::now();
    loop {
        let r = text(&c.run(line));
        if !r.starts_with('-') || t.elapsed() > Duration::from_secs(15) {
            return r;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn incr_file(dir: &Path) -> PathBuf {
    dir.join("appendonlydir").join("appendonly.aof.1.incr.aof")
}

/// The everysec scenario on one server; returns the replies that both servers must match.
fn aof_everysec(redis: bool) -> Vec<String> {
    let dir = tmpdir(if redis { "everysec-redis" } else { "everysec-ours" });
    let args = ["--save", "", "--appendonly", "yes", "--appendfsync", "everysec"];
    let mut seen = Vec::new();
    {
        let s = start(redis, &dir, &args);
        let mut c = Conn::connect(s.port);
        seen.push(text(&c.run("SET a 1")));
        let size = std::fs::metadata(incr_file(&dir)).unwrap().len();
        // Room for part of the next command only: a short write.
        fsize(s.child.id(), &(size + 10).to_string());
        seen.push(text(&c.run("SET b 2")));
        // The write is done after the reply by Redis (before it by redstart): wait until the
        // error is visible.
        let t = Instant::now();
        while info_field(&mut c, "aof_last_write_status") != "err" && t.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(50));
        }
        seen.push(info_field(&mut c, "aof_last_write_status"));
        seen.push(text(&c.run("SET c 3")));
        seen.push(text(&c.run("PING")));
        seen.push(text(&c.run("GET a")));
        seen.push(text(&c.run("DBSIZE")));
        // No partial command was left in the file.
        assert_eq!(std::fs::metadata(incr_file(&dir)).unwrap().len(), size, "redis={redis}");

        fsize(s.child.id(), "unlimited");
        seen.push(until_ok(&mut c, "SET c 3"));
        seen.push(info_field(&mut c, "aof_last_write_status"));
        seen.push(text(&c.run("SET d 4")));
    }
    // Killed (SIGKILL): everything acknowledged is in the AOF.
    let s = start(redis, &dir, &args);
    let mut c = Conn::connect(s.port);
    seen.push(text(&c.run("MGET a b c d")));
    seen
}

#[test]
fn aof_write_error_everysec_refuses_writes_until_it_recovers() {
    let ours = aof_everysec(false);
    let theirs = aof_everysec(true);
    // The last reply is MGET after a SIGKILL: with everysec Redis may postpone the write of the
    // last SET while a background fsync runs (and then loses it, within everysec's promise);
    // redstart writes before replying. Everything before it must match.
    assert_eq!(ours[..10], theirs[..10]);
    assert!(theirs[10].starts_with("*4\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"), "{}", theirs[10]);
    let misconf = "-MISCONF Errors writing to the AOF file: No space left on device\r\n";
    assert_eq!(ours[2], "err");
    assert_eq!(ours[3], misconf);
    assert_eq!(ours[4], misconf, "PING is refused too");
    assert_eq!(ours[5], "$1\r\n1\r\n");
    assert_eq!(ours[7], "+OK\r\n");
    assert_eq!(ours[8], "ok");
    assert_eq!(ours[10], "*4\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n");
}

/// With appendfsync always, a failed write stops the server before the reply: returns
/// (reply to SET a, whether SET b got any reply, MGET a b after a restart).
fn aof_always(redis: bool) -> (String, bool, String) {
    let dir = tmpdir(if redis { "always-redis" } else { "always-ours" });
    let args = ["--save", "", "--appendonly", "yes", "--appendfsync", "always"];
    let first;
    let answered;
    {
        let mut s = start(redis, &dir, &args);
        let mut c = Conn::connect(s.port);
        first = text(&c.run("SET a 1"));
        let size = std::fs::metadata(incr_file(&dir)).unwrap().len();
        fsize(s.child.id(), &size.to_string());
        c.send_raw(&encode(&[b"SET", b"b", b"2"]));
        answered = c.try_read_reply(Duration::from_secs(10)).is_some();
        let t = Instant::now();
        while s.child.try_wait().unwrap().is_none() && t.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let status = s.child.try_wait().unwrap().expect("the server exits");
        assert!(!status.success(), "redis={redis}: {status}");
    }
    let s = start(redis, &dir, &args);
    let mut c = Conn::connect(s.port);
    (first, answered, text(&c.run("MGET a b")))
}

#[test]
fn aof_write_error_always_exits_without_acknowledging() {
    let ours = aof_always(false);
    assert_eq!(ours, ("+OK\r\n".to_string(), false, "*2\r\n$1\r\n1\r\n$-1\r\n".to_string()));
    assert_eq!(ours, aof_always(true));
}

fn wait_bgsave(c: &mut Conn) -> String {
    let t = Instant::now();
    while info_field(c, "rdb_bgsave_in_progress") != "0" && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    info_field(c, "rdb_last_bgsave_status")
}

fn rdb_bgsave(redis: bool) -> Vec<String> {
    let dir = tmpdir(if redis { "rdb-redis" } else { "rdb-ours" });
    let args = ["--save", "3600 1", "--appendonly", "no"];
    let mut seen = Vec::new();
    {
        let s = start(redis, &dir, &args);
        let mut c = Conn::connect(s.port);
        seen.push(text(&c.run("SET a 1")));
        fsize(s.child.id(), "10");
        seen.push(text(&c.run("BGSAVE")));
        seen.push(wait_bgsave(&mut c));
        seen.push(text(&c.run("SET b 2")));
        seen.push(text(&c.run("PING")));
        seen.push(text(&c.run("GET a")));
        // Only with stop-writes-on-bgsave-error yes.
        seen.push(text(&c.run("CONFIG SET stop-writes-on-bgsave-error no")));
        seen.push(text(&c.run("SET b 2")));
        seen.push(text(&c.run("CONFIG SET stop-writes-on-bgsave-error yes")));
        seen.push(text(&c.run("SET b 3")));
        fsize(s.child.id(), "unlimited");
        seen.push(text(&c.run("BGSAVE")));
        seen.push(wait_bgsave(&mut c));
        seen.push(text(&c.run("SET c 3")));
        seen.push(text(&c.run("SAVE")));
    }
    let s = start(redis, &dir, &args);
    let mut c = Conn::connect(s.port);
    seen.push(text(&c.run("MGET a b c")));
    seen
}

#[test]
fn failed_bgsave_refuses_writes_until_a_bgsave_succeeds() {
    let ours = rdb_bgsave(false);
    assert_eq!(ours, rdb_bgsave(true));
    assert_eq!(ours[2], "err");
    assert!(ours[3].starts_with("-MISCONF Redis is configured to save RDB snapshots"), "{}", ours[3]);
    assert_eq!(ours[4], ours[3]);
    assert_eq!(ours[5], "$1\r\n1\r\n");
    assert_eq!(ours[7], "+OK\r\n");
    assert_eq!(ours[9], ours[3]);
    assert_eq!(ours[11], "ok");
    assert_eq!(ours[12], "+OK\r\n");
    assert_eq!(ours[14], "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n");
}
