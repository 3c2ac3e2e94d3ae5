//! Test harness: start redstart and a real `redis-server` (the oracle) on free ports, talk raw
//! RESP to them, and compare replies byte for byte.
//!
//! `redis-server` must be installed (Debian package `redis-server`); differential tests fail
//! with a clear message when it is missing, they never skip.

#![allow(dead_code)]

pub mod aof;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server process that is killed when dropped.
pub struct Proc {
    pub child: Child,
    pub port: u16,
    pub name: &'static str,
    /// The directory made for this server alone (removed with it).
    pub scratch: Option<std::path::PathBuf>,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(d) = &self.scratch {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits until the process we started answers on `port`. `Err` when it is not ours: our
/// process exited (it could not bind: another test's server took the port between `free_port`
/// and the bind), or the server answering reports another process id.
fn wait_ready(port: u16, child: &mut Child) -> Result<(), ()> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if child.try_wait().ok().flatten().is_some() {
            return Err(());
        }
        if let Ok(stream) = TcpStream::connect(("127.0.0.1", port)) {
            let mut c = Conn { stream, buf: Vec::new() };
            // With `persistence`: redis-server answers INFO while it loads an AOF (then other
            // commands get -LOADING), so the server is ready only once `loading:0`.
            c.send_raw(b"*3\r\n$4\r\nINFO\r\n$6\r\nserver\r\n$11\r\npersistence\r\n");
            if let Some(reply) = c.try_read_reply(Duration::from_secs(2)) {
                let text = String::from_utf8_lossy(&reply).into_owned();
                if text.starts_with("-NOAUTH") {
                    // A server started with --requirepass: ours if our process is still alive.
                    std::thread::sleep(Duration::from_millis(100));
                    return if child.try_wait().ok().flatten().is_none() { Ok(()) } else { Err(()) };
                }
                let pid = format!("process_id:{}\r\n", child.id());
                if text.contains(&pid) && text.contains("loading:1\r\n") {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
                if text.contains(&pid) {
                    // redis-server reports loading:0 for a moment between two AOF files: a
                    // command must be accepted too.
                    c.send_raw(b"*1\r\n$4\r\nPING\r\n");
                    match c.try_read_reply(Duration::from_secs(2)) {
                        Some(r) if r.starts_with(b"-LOADING") => {
                            std::thread::sleep(Duration::from_millis(20));
                            continue;
                        }
                        _ => return Ok(()),
                    }
                }
                if text.contains("process_id:") {
                    return Err(());
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(())
}

/// Spawns a server on a free port with `make(port, dir)`, retrying on another port when the
/// port turns out to be taken. `dir` is a fresh directory named `prefix-port`, removed when the
/// server is dropped.
fn spawn_on_free_port(name: &'static str, prefix: &str, mut make: impl FnMut(u16, &str) -> Child) -> Proc {
    for _ in 0..10 {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("{prefix}-{port}"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut child = make(port, dir.to_str().unwrap());
        if wait_ready(port, &mut child).is_ok() {
            return Proc { child, port, name, scratch: Some(dir) };
        }
        let _ = child.kill();
        let _ = child.wait();
        let _ = std::fs::remove_dir_all(&dir);
    }
    panic!("{name} did not start");
}

/// Starts redstart (the binary under test) with extra arguments. Like the oracle, it runs
/// without save points in a directory of its own (so no test reads or writes a `dump.rdb` in the
/// source tree); `extra` may override both.
pub fn start_redstart(extra: &[&str]) -> Proc {
    start_redstart_with_env(extra, &[])
}

/// [`start_redstart`] with environment variables. Connections are placed round robin over the
/// I/O threads (`REDSTART_PLACEMENT=spread`, see `net::workers`), so that the tests exercise
/// the cross-thread paths (fan-out, blocking, WATCH), unless the environment running the tests
/// or `env` chooses another placement.
pub fn start_redstart_with_env(extra: &[&str], env: &[(&str, &str)]) -> Proc {
    let placement = std::env::var("REDSTART_PLACEMENT").unwrap_or_else(|_| "spread".to_string());
    spawn_on_free_port("redstart", "redstart-test", |port, dir| {
        Command::new(env!("CARGO_BIN_EXE_redstart"))
            .args(["--port", &port.to_string(), "--save", "", "--dir", dir])
            .args(extra)
            .env("REDSTART_PLACEMENT", &placement)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redstart")
    })
}

/// Starts the oracle, `redis-server` from Debian, without persistence.
pub fn start_redis(extra: &[&str]) -> Proc {
    spawn_on_free_port("redis-server", "redstart-oracle", |port, dir| {
        Command::new("redis-server")
            .args(["--port", &port.to_string(), "--save", "", "--appendonly", "no", "--dir", dir])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start redis-server ({e}): differential tests need it; install it with `apt-get install redis-server`"
                )
            })
    })
}

/// Encodes a command as a RESP multibulk.
pub fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Splits a command line on spaces (tests use this for readable command lists; use `cmd_args`
/// for arguments with spaces or binary data).
pub fn words(line: &str) -> Vec<Vec<u8>> {
    line.split(' ').filter(|w| !w.is_empty()).map(|w| w.as_bytes().to_vec()).collect()
}

/// A reply as (lossy) text.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The body of a bulk (`$`) or verbatim (`=`, with its `txt:` prefix removed) reply.
pub fn body(reply: &[u8]) -> String {
    let s = text(reply);
    let (_, rest) = s.split_once("\r\n").expect("bulk header");
    let rest = rest.strip_suffix("\r\n").expect("bulk trailer");
    rest.strip_prefix("txt:").unwrap_or(rest).to_string()
}

/// Length of the first complete RESP2/RESP3 value in `buf`, if it is complete.
pub fn frame_len(buf: &[u8]) -> Option<usize> {
    fn line(buf: &[u8], from: usize) -> Option<usize> {
        buf[from..].windows(2).position(|w| w == b"\r\n").map(|p| from + p)
    }
    fn value(buf: &[u8], pos: usize) -> Option<usize> {
        if pos >= buf.len() {
            return None;
        }
        let end = line(buf, pos)?;
        let head = std::str::from_utf8(&buf[pos + 1..end]).ok()?;
        let after = end + 2;
        match buf[pos] {
            b'+' | b'-' | b':' | b',' | b'#' | b'_' | b'(' => Some(after),
            b'$' | b'=' | b'!' => {
                let n: i64 = head.parse().ok()?;
                if n < 0 {
                    return Some(after);
                }
                let stop = after + n as usize + 2;
                (buf.len() >= stop).then_some(stop)
            }
            b'*' | b'~' | b'>' | b'%' | b'|' => {
                let n: i64 = head.parse().ok()?;
                if n < 0 {
                    return Some(after);
                }
                let items = if matches!(buf[pos], b'%' | b'|') { 2 * n } else { n };
                let mut p = after;
                for _ in 0..items {
                    p = value(buf, p)?;
                }
                Some(p)
            }
            other => panic!("not a RESP type byte: {:?} in {:?}", other as char, String::from_utf8_lossy(buf)),
        }
    }
    value(buf, 0)
}

/// A raw RESP connection.
pub struct Conn {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    pub fn connect(port: u16) -> Conn {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        stream.set_nodelay(true).unwrap();
        Conn { stream, buf: Vec::new() }
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// Reads one complete reply, raw. Panics on timeout or close.
    pub fn read_reply(&mut self) -> Vec<u8> {
        self.try_read_reply(Duration::from_secs(10)).expect("reply (timed out or connection closed)")
    }

    /// Reads one reply, or `None` on timeout or when the server closed the connection.
    pub fn try_read_reply(&mut self, timeout: Duration) -> Option<Vec<u8>> {
        self.stream.set_read_timeout(Some(timeout)).unwrap();
        loop {
            if let Some(n) = frame_len(&self.buf) {
                return Some(self.buf.drain(..n).collect());
            }
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// True if the server closed the connection (read returns EOF) within `timeout`.
    pub fn is_closed(&mut self, timeout: Duration) -> bool {
        self.stream.set_read_timeout(Some(timeout)).unwrap();
        let mut chunk = [0u8; 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return true,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                    return false
                }
                // Reset, broken pipe, ...: the server closed it.
                Err(_) => return true,
            }
        }
    }

    pub fn cmd(&mut self, args: &[&[u8]]) -> Vec<u8> {
        self.send_raw(&encode(args));
        self.read_reply()
    }

    /// Sends a space-separated command and returns its raw reply.
    pub fn run(&mut self, line: &str) -> Vec<u8> {
        let w = words(line);
        let args: Vec<&[u8]> = w.iter().map(|a| a.as_slice()).collect();
        self.cmd(&args)
    }
}

/// redstart and redis-server side by side, with a connection to each.
pub struct Pair {
    pub ours: Proc,
    pub oracle: Proc,
    pub a: Conn,
    pub b: Conn,
}

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).replace("\r\n", "\\r\\n")
}

impl Pair {
    pub fn new() -> Pair {
        Pair::with_args(&[])
    }

    /// Both servers started with the same extra arguments.
    pub fn with_args(extra: &[&str]) -> Pair {
        let oracle = start_redis(extra);
        let ours = start_redstart(extra);
        let a = Conn::connect(ours.port);
        let b = Conn::connect(oracle.port);
        Pair { ours, oracle, a, b }
    }

    /// Opens a second pair of connections (for multi-client scenarios).
    pub fn conns(&self) -> (Conn, Conn) {
        (Conn::connect(self.ours.port), Conn::connect(self.oracle.port))
    }

    /// Sends the command to both servers and asserts identical raw replies. Returns the reply.
    pub fn check_args(&mut self, args: &[&[u8]]) -> Vec<u8> {
        let ours = self.a.cmd(args);
        let theirs = self.b.cmd(args);
        let shown: Vec<String> = args.iter().map(|a| show(a)).collect();
        assert_eq!(show(&ours), show(&theirs), "reply to {:?} differs (left: redstart, right: redis-server)", shown);
        ours
    }

    /// `check_args` for a space-separated command line.
    pub fn check(&mut self, line: &str) -> Vec<u8> {
        let w = words(line);
        let args: Vec<&[u8]> = w.iter().map(|a| a.as_slice()).collect();
        self.check_args(&args)
    }

    /// Checks every line in order.
    pub fn check_all(&mut self, lines: &[&str]) {
        for l in lines {
            self.check(l);
        }
    }

    /// Sends a command to both without comparing (setup whose reply legitimately differs).
    pub fn both(&mut self, line: &str) -> (Vec<u8>, Vec<u8>) {
        (self.a.run(line), self.b.run(line))
    }

    /// Switches both connections to RESP3 (HELLO 3); the HELLO replies differ by design.
    pub fn resp3(&mut self) {
        let (x, y) = self.both("HELLO 3");
        assert!(x.starts_with(b"%"), "redstart HELLO 3: {}", show(&x));
        assert!(y.starts_with(b"%"), "redis HELLO 3: {}", show(&y));
    }
}

/// Lets servers reach a steady state (e.g. a client registered as blocked) in scenario tests.
pub fn settle() {
    std::thread::sleep(Duration::from_millis(150));
}

/// Sends a space-separated command without reading its reply.
pub fn send(c: &mut Conn, line: &str) {
    let w = words(line);
    let args: Vec<&[u8]> = w.iter().map(|a| a.as_slice()).collect();
    c.send_raw(&encode(&args));
}

/// Runs `scenario` (which returns the replies it read) against redis-server and redstart and
/// asserts identical transcripts.
pub fn compare(scenario: impl Fn(u16) -> Vec<Vec<u8>>) {
    let oracle = start_redis(&[]);
    let ours = start_redstart(&[]);
    let theirs = scenario(oracle.port);
    let mine = scenario(ours.port);
    let show =
        |t: &Vec<Vec<u8>>| -> Vec<String> { t.iter().map(|r| String::from_utf8_lossy(r).into_owned()).collect() };
    assert_eq!(show(&mine), show(&theirs), "left: redstart, right: redis-server");
    assert!(!mine.is_empty());
}

/// The items of a reply (bulk strings and scalars; arrays, maps and sets flattened), sorted:
/// for comparing replies whose order is arbitrary.
pub fn sorted_items(raw: &[u8]) -> Vec<Vec<u8>> {
    let mut items = reply_items(raw);
    items.sort();
    items
}

/// The items of a reply (bulk strings and scalars; arrays, maps and sets flattened), in order.
pub fn reply_items(raw: &[u8]) -> Vec<Vec<u8>> {
    let mut items = Vec::new();
    let mut p = 0;
    while p < raw.len() {
        let end = p + raw[p..].windows(2).position(|w| w == b"\r\n").unwrap();
        let head = &raw[p + 1..end];
        match raw[p] {
            b'$' => {
                let n: usize = std::str::from_utf8(head).unwrap().parse().unwrap();
                items.push(raw[end + 2..end + 2 + n].to_vec());
                p = end + 2 + n + 2;
            }
            b'*' | b'%' | b'~' => p = end + 2,
            _ => {
                items.push(raw[p..end].to_vec());
                p = end + 2;
            }
        }
    }
    items
}

/// Starts redstart on `dir` with the AOF on (and `extra` options) and expects it to refuse to
/// start; returns its output.
pub fn refused_with_aof(dir: &std::path::Path, extra: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_redstart"))
        .args(["--port", &free_port().to_string(), "--save", "", "--dir", dir.to_str().unwrap()])
        .args(["--appendonly", "yes"])
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success(), "started with a damaged AOF");
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// A fresh empty directory for one test: named after the test binary (this file is compiled
/// into each), `name` and the process id, so parallel tests and binaries never share one.
/// The directories are removed when the test binary exits.
pub fn tmpdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("redstart-{}-{name}-{}", env!("CARGO_CRATE_NAME"), std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    remove_at_exit(d.clone());
    d
}

static AT_EXIT: std::sync::Mutex<Vec<std::path::PathBuf>> = std::sync::Mutex::new(Vec::new());

extern "C" fn remove_dirs() {
    if let Ok(dirs) = AT_EXIT.lock() {
        for d in dirs.iter() {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// Removes `dir` when the process exits (the test harness returns from `main` after the last
/// test, which runs the C library's exit handlers).
fn remove_at_exit(dir: std::path::PathBuf) {
    static REGISTER: std::sync::Once = std::sync::Once::new();
    REGISTER.call_once(|| {
        // SAFETY: `remove_dirs` is an `extern "C" fn()` that does not unwind (it ignores every
        // error and a poisoned lock), as `atexit` requires.
        unsafe {
            libc::atexit(remove_dirs);
        }
    });
    if let Ok(mut dirs) = AT_EXIT.lock() {
        dirs.push(dir);
    }
}

/// `reply` (a COMMAND INFO reply) without the command flag `flag`: the flag's line goes and the
/// set that held it (the nearest aggregate header before it) shrinks by one. For comparing with
/// the 7.0 oracle where Redis 7.2 dropped a flag (`noscript` of the blocking commands).
pub fn drop_flag(reply: &[u8], flag: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(reply).into_owned();
    let mut lines: Vec<String> = text.split("\r\n").map(str::to_string).collect();
    let target = format!("+{flag}");
    while let Some(at) = lines.iter().position(|l| *l == target) {
        let head = (0..at).rev().find(|&i| lines[i].starts_with('*') || lines[i].starts_with('~')).expect("flag set");
        let n: usize = lines[head][1..].parse().expect("set length");
        lines[head] = format!("{}{}", &lines[head][..1], n - 1);
        lines.remove(at);
    }
    lines.join("\r\n").into_bytes()
}
