//! Start-up and configuration files: the redstart binary with config files (includes,
//! quoting, units, comments), command-line overrides, fatal errors, --version/--help, pidfile,
//! logfile, Unix socket, CONFIG REWRITE and CONFIG SET port.
mod common;
use common::*;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_redstart"))
}

/// Starts redstart with exactly `args` and waits until `port` answers PING.
fn start_with(args: &[&str], port: u16) -> Proc {
    let child = bin().args(args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    // Owned by a Proc at once, so the process is killed and reaped even if start-up fails.
    let p = Proc { child, port, name: "redstart", scratch: None };
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.write_all(b"PING\r\n");
            let mut b = [0u8; 16];
            if s.read(&mut b).is_ok_and(|n| b[..n].starts_with(b"+PONG")) {
                return p;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("redstart did not start with {args:?}");
}

fn get(c: &mut Conn, name: &str) -> String {
    let r = String::from_utf8(c.run(&format!("CONFIG GET {name}"))).unwrap();
    r.split("\r\n").nth(4).unwrap_or("").to_string()
}

#[test]
fn file_with_includes_quoting_units_and_overrides() {
    let d = tmpdir("file");
    let port = free_port();
    std::fs::write(d.join("inner.conf"), "maxmemory-policy allkeys-lru\n").unwrap();
    std::fs::write(d.join("mid.conf"), format!("include {}\nhz 20\n", d.join("inner.conf").display())).unwrap();
    let conf = d.join("redis.conf");
    std::fs::write(
        &conf,
        format!(
            "# a comment\n\n   PORT {port}\nsave 900 1\nsave 300 10\nmaxmemory 2mb\nproto-max-bulk-len 2MB\n\
             client-query-buffer-limit 3m\nrequirepass \"with space\"\nmasterauth 'single \\' quote'\n\
             appendonly YES\ndir {}\nslaveof-is-not-here-below no\n",
            // appendonly yes writes an AOF directory: keep it out of the source tree.
            d.display()
        )
        .replace("slaveof-is-not-here-below no\n", &format!("include {}\ntimeout 5\n", d.join("mid.conf").display())),
    )
    .unwrap();
    let p = start_with(&[conf.to_str().unwrap(), "--timeout", "9", "--requirepass", ""], port);
    let mut c = Conn::connect(p.port);
    assert_eq!(get(&mut c, "save"), "900 1 300 10");
    assert_eq!(get(&mut c, "maxmemory"), (2 * 1024 * 1024).to_string());
    assert_eq!(get(&mut c, "proto-max-bulk-len"), (2 * 1024 * 1024).to_string());
    assert_eq!(get(&mut c, "client-query-buffer-limit"), "3000000");
    assert_eq!(get(&mut c, "masterauth"), "single ' quote");
    assert_eq!(get(&mut c, "appendonly"), "yes");
    assert_eq!(get(&mut c, "maxmemory-policy"), "allkeys-lru");
    assert_eq!(get(&mut c, "hz"), "20");
    // The command line wins over the file.
    assert_eq!(get(&mut c, "timeout"), "9");
    assert_eq!(get(&mut c, "requirepass"), "");
    drop(p);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn unknown_directive_is_fatal() {
    let d = tmpdir("bad");
    let conf = d.join("bad.conf");
    std::fs::write(&conf, "port 7000\n# comment\nfoo bar\n").unwrap();
    let out = bin().arg(&conf).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("*** FATAL CONFIG FILE ERROR"), "{err}");
    assert!(err.contains(&format!("at line 3 of {}", conf.display())), "{err}");
    assert!(err.contains(">>> 'foo bar'\nBad directive or wrong number of arguments"), "{err}");

    std::fs::write(&conf, "maxmemory 12x\n").unwrap();
    let out = bin().arg(&conf).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains(">>> 'maxmemory 12x'\nargument must be a memory value"));

    let out = bin().args(["--port", "1", "--nosuch", "x"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains(">>> 'nosuch \"x\"'"));

    let out = bin().arg(d.join("missing.conf")).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("can't open config file"));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn version_and_help() {
    for flag in ["--version", "-v"] {
        let out = bin().arg(flag).output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("redstart v=0.1.0"));
    }
    for flag in ["--help", "-h"] {
        let out = bin().arg(flag).output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        assert!(String::from_utf8_lossy(&out.stderr).contains("Usage: ./redstart"));
    }
}

#[test]
fn pidfile_logfile_and_unix_socket() {
    let d = tmpdir("pid");
    let port = free_port();
    let pid = d.join("r.pid");
    let log = d.join("r.log");
    let sock = d.join("r.sock");
    let p = start_with(
        &[
            "--port",
            &port.to_string(),
            "--pidfile",
            pid.to_str().unwrap(),
            "--logfile",
            log.to_str().unwrap(),
            "--unixsocket",
            sock.to_str().unwrap(),
            "--unixsocketperm",
            "700",
        ],
        port,
    );
    let written = std::fs::read_to_string(&pid).unwrap();
    assert_eq!(written.trim(), p.child.id().to_string());
    assert!(std::fs::read_to_string(&log).unwrap().contains("Ready to accept connections"));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777, 0o700);
    let mut u = UnixStream::connect(&sock).unwrap();
    u.write_all(b"*1\r\n$4\r\nPING\r\n").unwrap();
    let mut b = [0u8; 7];
    u.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"+PONG\r\n");
    // SIGTERM: clean exit removes the pidfile and the socket file.
    let st = Command::new("kill").arg(p.child.id().to_string()).status().unwrap();
    assert!(st.success());
    let start = Instant::now();
    while (pid.exists() || sock.exists()) && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!pid.exists(), "pidfile not removed");
    assert!(!sock.exists(), "socket file not removed");
    drop(p);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn config_rewrite_preserves_comments() {
    let d = tmpdir("rewrite");
    let port = free_port();
    let conf = d.join("redis.conf");
    std::fs::write(&conf, format!("# keep me\nport {port}\ntimeout 5\n\n# and me\nsave 900 1\n")).unwrap();
    let p = start_with(&[conf.to_str().unwrap()], port);
    let mut c = Conn::connect(p.port);
    assert_eq!(c.run("CONFIG SET timeout 42 maxmemory 1mb"), b"+OK\r\n");
    assert_eq!(c.run("CONFIG REWRITE"), b"+OK\r\n");
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(text.starts_with(&format!("# keep me\nport {port}\ntimeout 42\n\n# and me\nsave 900 1\n")), "{text}");
    assert!(text.contains("# Generated by CONFIG REWRITE\n"), "{text}");
    assert!(text.contains("maxmemory 1048576\n"), "{text}");
    drop(p);
    // The rewritten file starts a server with the new values.
    let p = start_with(&[conf.to_str().unwrap()], port);
    let mut c = Conn::connect(p.port);
    assert_eq!(get(&mut c, "timeout"), "42");
    drop(p);
    let _ = std::fs::remove_dir_all(&d);
}

/// A bare `save` line (what tools write for `save ""`) disables snapshots, as in Redis (the
/// differential cases are in `tests/diff_config.rs`); CONFIG REWRITE writes it as `save ""`,
/// and rules as one line each.
#[test]
fn bare_save_line() {
    let d = tmpdir("bare-save");
    let port = free_port();
    let conf = d.join("redis.conf");
    std::fs::write(&conf, format!("port {port}\nsave\ntimeout 5\n")).unwrap();
    let p = start_with(&[conf.to_str().unwrap()], port);
    let mut c = Conn::connect(p.port);
    assert_eq!(get(&mut c, "save"), "");
    assert_eq!(c.run("CONFIG REWRITE"), b"+OK\r\n");
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(text.starts_with(&format!("port {port}\nsave \"\"\ntimeout 5\n")), "{text}");
    assert_eq!(c.cmd(&[b"CONFIG", b"SET", b"save", b"100 1 200 2"]), b"+OK\r\n");
    assert_eq!(c.run("CONFIG REWRITE"), b"+OK\r\n");
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(text.starts_with(&format!("port {port}\nsave 100 1\nsave 200 2\ntimeout 5\n")), "{text}");
    drop(p);
    // After rules, a bare `save` changes nothing; `--save` alone clears them.
    std::fs::write(&conf, format!("port {port}\nsave 100 1\nsave\n")).unwrap();
    let p = start_with(&[conf.to_str().unwrap()], port);
    assert_eq!(get(&mut Conn::connect(p.port), "save"), "100 1");
    drop(p);
    let p = start_with(&[conf.to_str().unwrap(), "--save"], port);
    assert_eq!(get(&mut Conn::connect(p.port), "save"), "");
    drop(p);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn config_set_port_rebinds() {
    let p = start_redstart(&[]);
    let mut c = Conn::connect(p.port);
    let new = free_port();
    assert_eq!(c.run(&format!("CONFIG SET port {new}")), b"+OK\r\n");
    let mut c2 = Conn::connect(new);
    assert_eq!(c2.run("PING"), b"+PONG\r\n");
    assert_eq!(get(&mut c2, "port"), new.to_string());
    // The old connection is still served; the old port is closed.
    assert_eq!(c.run("PING"), b"+PONG\r\n");
    std::thread::sleep(Duration::from_millis(100));
    assert!(std::net::TcpStream::connect(("127.0.0.1", p.port)).is_err());
    // Binding an address that is not ours fails and changes nothing.
    let r = String::from_utf8(c2.run("CONFIG SET bind 192.0.2.1")).unwrap();
    assert!(r.starts_with("-ERR CONFIG SET failed (possibly related to argument 'bind')"), "{r}");
    assert_eq!(get(&mut c2, "bind"), "127.0.0.1 -::1");
}

#[test]
fn protected_mode_lets_loopback_in() {
    let p = start_redstart(&["--protected-mode", "yes"]);
    let mut c = Conn::connect(p.port);
    assert_eq!(c.run("PING"), b"+PONG\r\n");
}

/// The start-up and shutdown lines harnesses wait for, as Redis 7.2 writes them.
#[test]
fn log_lines_harnesses_wait_for() {
    let dir = tmpdir("log-lines");
    let log = dir.join("r.log");
    {
        let s = start_redstart(&["--logfile", log.to_str().unwrap()]);
        let mut c = Conn::connect(s.port);
        c.send_raw(b"SHUTDOWN NOSAVE\r\n");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !std::fs::read_to_string(&log).unwrap_or_default().contains("ready to exit")
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let text = std::fs::read_to_string(&log).unwrap();
        let pid = format!("pid={}, just started", s.child.id());
        for line in [&pid[..], "Server initialized", "Ready to accept connections tcp\n", &format!("port={}.", s.port)]
        {
            assert!(text.contains(line), "{line:?} in {text}");
        }
        for w in
            ["is starting", "Server initialized", "Ready to accept", "User requested shutdown", "bye bye"].windows(2)
        {
            assert!(text.find(w[0]) < text.find(w[1]), "{w:?} in order in {text}");
        }
    }
}
