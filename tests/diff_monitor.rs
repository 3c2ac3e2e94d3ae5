//! MONITOR against redis-server: the lines a monitor receives for another client's commands
//! (quoting and escaping, redacted passwords, admin commands left out, the commands EXEC ran
//! before EXEC itself, the database after SELECT), what a monitor may still do (PING; not touch
//! the keyspace; a second MONITOR unanswered; RESET ends it), and MONITOR refused inside a
//! transaction. Time stamps and client addresses are each server's own and set aside. The test
//! servers place connections round robin over their I/O threads, so the monitor and the writer
//! run on different threads here.

mod common;
use common::*;

use std::time::{Duration, Instant};

/// Reads everything `c` receives until `lines` lines arrived (or 5 s passed).
fn read_lines(c: &mut Conn, lines: usize) -> Vec<String> {
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while out.len() < lines && Instant::now() < deadline {
        if let Some(r) = c.try_read_reply(Duration::from_millis(200)) {
            out.push(text(&r));
        }
    }
    out
}

/// A monitor line with its time stamp and client address set aside (the database kept).
fn normal(line: &str) -> String {
    let Some(rest) = line.strip_prefix('+') else { return line.to_string() };
    let (stamp, rest) = rest.split_once(" [").unwrap_or_else(|| panic!("{line:?}"));
    let (secs, micros) = stamp.split_once('.').unwrap_or_else(|| panic!("{line:?}"));
    assert!(secs.parse::<u64>().is_ok() && micros.len() == 6, "{line:?}");
    let (db, rest) = rest.split_once(' ').unwrap();
    let (_addr, args) = rest.split_once("] ").unwrap_or_else(|| panic!("{line:?}"));
    format!("+T [{db} A] {args}")
}

fn scenario(port: u16) -> Vec<String> {
    let mut m = Conn::connect(port);
    let mut seen = vec![text(&m.run("MONITOR"))];
    let mut c = Conn::connect(port);
    let cmds: Vec<Vec<Vec<u8>>> = vec![
        words("SET k v"),
        words("GET k"),
        vec![b"SET".to_vec(), b"a\"\\".to_vec(), b"x\ny\x01z\t\x7f\xff".to_vec()],
        words("CONFIG GET maxmemory"),
        words("AUTH x"),
        words("MULTI"),
        words("INCR n"),
        words("EXEC"),
        words("SELECT 2"),
        words("PING"),
        words("HELLO 2 AUTH default x"),
        words("SET num 123"),
        words("NOSUCH x"),
        words("GET"),
    ];
    for cmd in &cmds {
        let refs: Vec<&[u8]> = cmd.iter().map(|a| a.as_slice()).collect();
        c.cmd(&refs);
    }
    // SET, GET, SET, AUTH, MULTI, INCR, EXEC, SELECT, PING, HELLO, SET: eleven lines.
    seen.extend(read_lines(&mut m, 11).iter().map(|l| normal(l)));
    seen.push(text(&m.run("GET x")));
    seen.push(text(&m.run("PING")));
    // CLIENT LIST flags of the monitor: `O`.
    let list = text(&c.run("CLIENT LIST"));
    seen.push(list.lines().filter(|l| l.contains("flags=O ")).count().to_string());
    seen.push(normal(&read_lines(&mut m, 1).concat()));
    m.send_raw(b"MONITOR\r\n");
    seen.push(format!("{:?}", m.try_read_reply(Duration::from_millis(300)).map(|r| text(&r))));
    seen.push(text(&m.run("RESET")));
    c.run("SET after reset");
    seen.push(format!("{:?}", m.try_read_reply(Duration::from_millis(300)).map(|r| text(&r))));
    c.run("MULTI");
    c.run("MONITOR");
    seen.push(text(&c.run("EXEC")));
    seen
}

#[test]
fn monitor_matches_redis() {
    let p = Pair::new();
    let (ours, theirs) = (scenario(p.ours.port), scenario(p.oracle.port));
    assert_eq!(ours, theirs);
    assert!(ours.iter().any(|l| l.contains(r#""SET" "a\"\\" "x\ny\x01z\t\x7f\xff""#)), "{ours:#?}");
    assert!(ours.iter().any(|l| l == "+T [0 A] \"AUTH\" \"(redacted)\"\r\n"), "{ours:#?}");
    assert!(!ours.iter().any(|l| l.contains("CONFIG")), "{ours:#?}");
}
