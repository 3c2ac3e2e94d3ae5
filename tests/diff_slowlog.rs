//! SLOWLOG against redis-server: what is logged (every command at threshold 0; redacted
//! passwords; MULTI but not EXEC, the commands EXEC ran; cut arguments; client names), in what
//! order, with which ids, trimmed at `slowlog-max-len`, off at -1; the subcommands' replies and
//! errors byte for byte. Durations, timestamps and client ports are each server's own: they are
//! checked for plausibility and then set aside.

mod common;
use common::*;

use std::time::{SystemTime, UNIX_EPOCH};

/// SLOWLOG GET -1 of a connection, each entry as (id relative to the newest, arguments, client
/// name), after checking its time, duration and address.
fn entries(c: &mut Conn) -> Vec<(i64, Vec<Vec<u8>>, Vec<u8>)> {
    let raw = c.run("SLOWLOG GET -1");
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let mut items = parse(&raw);
    let Item::List(list) = &mut items else { panic!("{}", text(&raw)) };
    let mut out = Vec::new();
    let mut newest = None;
    for e in list.iter() {
        let Item::List(f) = e else { panic!("entry {e:?}") };
        assert_eq!(f.len(), 6, "{e:?}");
        let (Item::Int(id), Item::Int(time), Item::Int(duration)) = (&f[0], &f[1], &f[2]) else { panic!("{e:?}") };
        assert!((now - 60..=now + 1).contains(time), "timestamp {time}, now {now}");
        assert!((0..10_000_000).contains(duration), "duration {duration}");
        let Item::Bulk(peer) = &f[4] else { panic!("{e:?}") };
        assert!(peer.starts_with(b"127.0.0.1:"), "{}", text(peer));
        let Item::List(args) = &f[3] else { panic!("{e:?}") };
        let args = args.iter().map(|a| if let Item::Bulk(b) = a { b.clone() } else { panic!("{a:?}") }).collect();
        let Item::Bulk(name) = &f[5] else { panic!("{e:?}") };
        let newest = *newest.get_or_insert(*id);
        out.push((newest - id, args, name.clone()));
    }
    out
}

#[derive(Debug)]
enum Item {
    Int(i64),
    Bulk(Vec<u8>),
    List(Vec<Item>),
}

fn parse(raw: &[u8]) -> Item {
    fn one(b: &[u8], at: &mut usize) -> Item {
        let end = at.to_owned() + b[*at..].windows(2).position(|w| w == b"\r\n").unwrap();
        let head = &b[*at + 1..end];
        let n: i64 = std::str::from_utf8(head).unwrap().parse().unwrap();
        let kind = b[*at];
        *at = end + 2;
        match kind {
            b':' => Item::Int(n),
            b'$' => {
                let v = b[*at..*at + n as usize].to_vec();
                *at += n as usize + 2;
                Item::Bulk(v)
            }
            b'*' => Item::List((0..n).map(|_| one(b, at)).collect()),
            k => panic!("unexpected reply type {}", k as char),
        }
    }
    one(raw, &mut 0)
}

fn w(line: &str) -> Vec<Vec<u8>> {
    words(line)
}

#[test]
fn logged_commands_match_redis() {
    let mut p = Pair::new();
    p.check_all(&["CONFIG SET slowlog-log-slower-than 0", "SLOWLOG RESET"]);
    let long = "a".repeat(200);
    let many: Vec<String> = (0..40).map(|i| i.to_string()).collect();
    p.check_all(&["AUTH foo", "AUTH user pass"]);
    // HELLO's reply names each server's version and client id: not compared.
    let (a, b) = p.both("HELLO 2 AUTH default bar SETNAME x");
    assert!(a.starts_with(b"*14\r\n") && b.starts_with(b"*14\r\n"));
    p.check_all(&[
        "CONFIG SET requirepass \"\" maxmemory 0",
        "CLIENT SETNAME myname",
        &format!("SET k {long}"),
        "MULTI",
        "SET a 1",
        "INCR a",
        "EXEC",
        &format!("DEL {}", many.join(" ")),
        "PING",
    ]);
    let (ours, theirs) = (entries(&mut p.a), entries(&mut p.b));
    assert_eq!(ours, theirs);
    // What the comparison rests on, spelled out.
    let args: Vec<&Vec<Vec<u8>>> = ours.iter().map(|(_, a, _)| a).collect();
    assert_eq!(args[0], &w("PING"));
    assert_eq!(args[1].len(), 32);
    assert_eq!(args[1][31], b"... (10 more arguments)");
    assert!(args.iter().all(|a| a[0] != b"EXEC"), "EXEC is not logged, the commands it ran are");
    assert!(args.contains(&&w("INCR a")) && args.contains(&&w("MULTI")));
    assert!(args.contains(&&w("AUTH (redacted)")));
    assert!(args.contains(&&w("CONFIG SET requirepass (redacted) maxmemory 0")));
    assert!(ours.iter().any(|(_, a, n)| a[0] == b"CLIENT" && n == b"myname"));
    assert_eq!(ours.last().unwrap().1, w("SLOWLOG RESET"), "RESET empties the log, then is logged");
    p.check("SLOWLOG LEN");
}

#[test]
fn length_limit_threshold_and_replies_match_redis() {
    let mut p = Pair::new();
    p.check_all(&[
        "CONFIG SET slowlog-log-slower-than 0 slowlog-max-len 3",
        "SLOWLOG RESET",
        "SET a 1",
        "GET a",
        "GET b",
        "GET c",
        "SLOWLOG LEN",
        // Lowering the limit trims at the next entry, not at once.
        "CONFIG SET slowlog-max-len 1",
        "SLOWLOG LEN",
        "SLOWLOG LEN",
    ]);
    assert_eq!(entries(&mut p.a), entries(&mut p.b));
    p.check_all(&[
        "CONFIG SET slowlog-log-slower-than -1 slowlog-max-len 128",
        "SLOWLOG RESET",
        "SET a 2",
        "SLOWLOG LEN",
        "SLOWLOG GET",
        "SLOWLOG GET 0",
        "SLOWLOG GET -2",
        "SLOWLOG GET x",
        "SLOWLOG GET 99999999999999999999",
        "SLOWLOG GET 1 2",
        "SLOWLOG GeT 1 2",
        "SLOWLOG LEN x",
        "SLOWLOG RESET x",
        "SLOWLOG",
        "SLOWLOG foo",
        "SLOWLOG HELP",
        "SLOWLOG help x",
        "CONFIG GET slowlog-max-len",
        "CONFIG GET slowlog-log-slower-than",
        "CONFIG SET slowlog-log-slower-than -2",
        "CONFIG SET slowlog-max-len -1",
        // A high threshold logs nothing fast.
        "CONFIG SET slowlog-log-slower-than 1000000",
        "SET a 3",
        "SLOWLOG LEN",
    ]);
}

#[test]
fn command_info_matches_redis() {
    let mut p = Pair::new();
    // The container's own row; its subcommands come in Redis's hash order there, so they are
    // compared one by one.
    let (a, b) = p.both("COMMAND INFO slowlog");
    let head = b"*1\r\n*10\r\n$7\r\nslowlog\r\n:-2\r\n*0\r\n:0\r\n:0\r\n:0\r\n*1\r\n+@slow\r\n*0\r\n*0\r\n*4\r\n";
    assert!(a.starts_with(head) && b.starts_with(head), "{}", text(&a));
    assert_eq!(a.len(), b.len());
    p.check("COMMAND INFO slowlog|get slowlog|len slowlog|reset slowlog|help");
}

/// Commands replayed from the AOF at start-up are not logged (Redis's loader runs them outside
/// its command path); the slow log starts with what clients send.
#[test]
fn aof_replay_is_not_logged() {
    let dir = tmpdir("slowlog-aof");
    let args = ["--dir", dir.to_str().unwrap(), "--appendonly", "yes", "--slowlog-log-slower-than", "0"];
    {
        let s = start_redstart(&args);
        let mut c = Conn::connect(s.port);
        for i in 0..20 {
            assert_eq!(c.run(&format!("SET k{i} v")), b"+OK\r\n");
        }
        let len: usize = text(&c.run("SLOWLOG LEN"))[1..].trim().parse().unwrap();
        assert!(len >= 20, "the 20 SETs are logged: {len}");
    }
    let s = start_redstart(&args);
    let mut c = Conn::connect(s.port);
    assert_eq!(c.run("DBSIZE"), b":20\r\n");
    let logged = entries(&mut c);
    assert!(logged.iter().all(|(_, a, _)| a[0] != b"SET"), "{logged:?}");
}
