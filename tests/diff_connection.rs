//! Connection commands against redis-server: PING, ECHO, SELECT, QUIT, RESET, AUTH, HELLO,
//! CLIENT. Deterministic replies are compared byte for byte; the rest by invariant.
mod common;
use common::*;
use std::time::Duration;

#[test]
fn ping_echo_select_match_redis() {
    let mut p = Pair::new();
    p.check_all(&[
        "PING",
        "PING hello",
        "PING a b",
        "ECHO",
        "ECHO hi",
        "ECHO a b",
        "SELECT",
        "SELECT 1",
        "SELECT 15",
        "SELECT 16",
        "SELECT -1",
        "SELECT 1.5",
        "SELECT x",
        "SELECT 0",
        "SELECT 99999999999999999999",
    ]);
    p.check_args(&[b"ECHO", b"\xff\x00bin\r\n"]);
    p.check_args(&[b"PING", b""]);
    p.check_args(&[b"ECHO", b""]);
    p.resp3();
    p.check_all(&["PING", "PING x", "ECHO y"]);
}

#[test]
fn auth_without_password_matches_redis() {
    let mut p = Pair::new();
    p.check_all(&["AUTH", "AUTH x", "AUTH default x", "AUTH foo x", "AUTH a b c", "HELLO 2 AUTH foo x"]);
    // The default user has no password: HELLO AUTH accepts any (the HELLO map differs by version).
    for c in [&mut p.a, &mut p.b] {
        assert!(c.run("HELLO 3 AUTH default anything").starts_with(b"%7\r\n"));
    }
}

#[test]
fn auth_with_password_matches_redis() {
    let mut p = Pair::with_args(&["--requirepass", "pw"]);
    p.check_all(&[
        "PING",
        "GET k",
        "FOO",
        "HELLO",
        "HELLO 3",
        "HELLO 2 AUTH default x",
        "AUTH",
        "AUTH x",
        "AUTH default x",
        "AUTH foo pw",
        "AUTH a b c",
        "CLIENT ID",
        "MULTI",
        "AUTH pw",
        "PING",
        "AUTH default pw",
        "SET k v",
        "GET k",
    ]);
    // HELLO with AUTH authenticates and switches protocol at once.
    let (mut a, mut b) = p.conns();
    for c in [&mut a, &mut b] {
        let r = c.run("HELLO 3 AUTH default pw");
        assert!(r.starts_with(b"%7\r\n"), "{}", text(&r));
        assert_eq!(c.run("GET k"), b"$1\r\nv\r\n");
        assert_eq!(c.run("GET nosuch"), b"_\r\n");
        // RESET needs authentication again when a password is set.
        assert_eq!(c.run("RESET"), b"+RESET\r\n");
        assert_eq!(c.run("GET k"), b"-NOAUTH Authentication required.\r\n");
    }
}

#[test]
fn hello_errors_match_redis() {
    let mut p = Pair::new();
    p.check_all(&[
        "HELLO 4",
        "HELLO 1",
        "HELLO 0",
        "HELLO -1",
        "HELLO x",
        "HELLO 3 AUTH",
        "HELLO 3 AUTH default",
        "HELLO 3 SETNAME",
        "HELLO 3 foo",
        "HELLO 2 foo bar",
        "HELLO 3 auth a",
    ]);
    p.check_args(&[b"HELLO", b"3", b"SETNAME", b"a b"]);
    p.check_args(&[b"HELLO", b"3", b"SETNAME", b"a\nb"]);
    // A failed HELLO leaves the protocol alone.
    p.check("GET nosuch");
}

#[test]
fn hello_switches_protocol_and_reports_the_connection() {
    let p = Pair::new();
    let mut c = Conn::connect(p.ours.port);
    let id = text(&c.run("CLIENT ID"));
    let r = c.run("HELLO 3 SETNAME lib");
    let expected_head =
        "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n7.2.4\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n";
    assert!(text(&r).starts_with(expected_head), "{}", text(&r));
    assert!(text(&r).contains(&format!("$2\r\nid\r\n{id}")), "{} vs {id}", text(&r));
    assert!(
        text(&r).ends_with("$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n")
    );
    assert_eq!(c.run("CLIENT GETNAME"), b"$3\r\nlib\r\n");
    assert_eq!(c.run("GET nosuch"), b"_\r\n");
    // HELLO without a version reports the current protocol.
    assert!(text(&c.run("HELLO")).contains("$5\r\nproto\r\n:3\r\n"));
    let r = c.run("HELLO 2");
    assert!(r.starts_with(b"*14\r\n"), "{}", text(&r));
    assert_eq!(c.run("GET nosuch"), b"$-1\r\n");
}

#[test]
fn client_name_commands_match_redis() {
    let mut p = Pair::new();
    p.check_all(&[
        "CLIENT",
        "CLIENT GETNAME",
        "CLIENT GETNAME x",
        "CLIENT SETNAME",
        "CLIENT SETNAME a b",
        "CLIENT SETNAME myname",
        "CLIENT GETNAME",
        "CLIENT FOO",
        "CLIENT ID x",
        "CLIENT INFO x",
        "CLIENT REPLY",
        "CLIENT REPLY maybe",
        "CLIENT NO-EVICT",
        "CLIENT NO-EVICT maybe",
        "CLIENT NO-EVICT on",
        "CLIENT NO-EVICT OFF",
        "CLIENT LIST foo",
        "CLIENT LIST TYPE",
        "CLIENT LIST TYPE foo",
        "CLIENT LIST ID",
        "CLIENT LIST ID x",
        "CLIENT LIST ID 0",
        "CLIENT LIST ID 99999",
        "CLIENT LIST TYPE pubsub",
        "CLIENT LIST TYPE master",
        "CLIENT LIST TYPE normal ID 1",
    ]);
    p.check_args(&[b"CLIENT", b"SETNAME", b"a b"]);
    p.check_args(&[b"CLIENT", b"SETNAME", b"a\nb"]);
    p.check_args(&[b"CLIENT", b"SETNAME", b"\xff"]);
    p.check("CLIENT GETNAME");
    p.check_args(&[b"CLIENT", b"SETNAME", b""]);
    p.check("CLIENT GETNAME");
    p.resp3();
    p.check("CLIENT GETNAME");
}

#[test]
fn client_kill_errors_match_redis() {
    let mut p = Pair::new();
    p.check_all(&[
        "CLIENT KILL",
        "CLIENT KILL 1.2.3.4:5",
        "CLIENT KILL id",
        "CLIENT KILL id x",
        "CLIENT KILL id 0",
        "CLIENT KILL id -5",
        "CLIENT KILL id 99999",
        "CLIENT KILL foo bar",
        "CLIENT KILL type foo",
        "CLIENT KILL type master",
        "CLIENT KILL type pubsub",
        "CLIENT KILL skipme maybe",
        "CLIENT KILL addr 1.2.3.4:5",
        "CLIENT KILL laddr 1.2.3.4:5",
        "CLIENT KILL user nobody",
        "CLIENT KILL id 1 skipme",
        "CLIENT KILL addr",
    ]);
}

/// Redis 7.2 commands absent from the 7.0 oracle: asserted directly.
#[test]
fn client_setinfo_and_no_touch_follow_redis_7_2() {
    let p = Pair::new();
    let mut c = Conn::connect(p.ours.port);
    assert_eq!(c.run("CLIENT SETINFO LIB-NAME redis-py"), b"+OK\r\n");
    assert_eq!(c.run("CLIENT SETINFO lib-ver 5.0.1"), b"+OK\r\n");
    assert_eq!(c.run("CLIENT SETINFO foo x"), b"-ERR Unrecognized option 'foo'\r\n");
    assert_eq!(
        c.cmd(&[b"CLIENT", b"SETINFO", b"LIB-NAME", b"a b"]),
        b"-ERR lib-name cannot contain spaces, newlines or special characters.\r\n"
    );
    assert_eq!(c.run("CLIENT SETINFO LIB-NAME"), b"-ERR wrong number of arguments for 'client|setinfo' command\r\n");
    assert_eq!(c.run("CLIENT NO-TOUCH on"), b"+OK\r\n");
    assert_eq!(c.run("CLIENT NO-TOUCH maybe"), b"-ERR syntax error\r\n");
    let info = body(&c.run("CLIENT INFO"));
    assert!(info.contains(" lib-name=redis-py lib-ver=5.0.1\n"), "{info}");
    assert!(info.contains(" flags=T "), "{info}");
    assert_eq!(c.run("CLIENT NO-TOUCH off"), b"+OK\r\n");
    assert!(body(&c.run("CLIENT INFO")).contains(" flags=N "));
}

const LIST_FIELDS: &[&str] = &[
    "id",
    "addr",
    "laddr",
    "fd",
    "name",
    "age",
    "idle",
    "flags",
    "db",
    "sub",
    "psub",
    "ssub",
    "multi",
    "qbuf",
    "qbuf-free",
    "argv-mem",
    "multi-mem",
    "rbs",
    "rbp",
    "obl",
    "oll",
    "omem",
    "tot-mem",
    "events",
    "cmd",
    "user",
    "redir",
    "resp",
    "lib-name",
    "lib-ver",
];

fn fields(line: &str) -> Vec<(String, String)> {
    line.split(' ')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or_else(|| panic!("field without '=': {kv:?} in {line:?}"));
            (k.to_string(), v.to_string())
        })
        .collect()
}

#[test]
fn client_list_has_redis_7_2_fields_in_order() {
    let s = start_redstart(&[]);
    let mut a = Conn::connect(s.port);
    let mut b = Conn::connect(s.port);
    assert_eq!(a.run("CLIENT SETNAME first"), b"+OK\r\n");
    assert_eq!(a.run("SELECT 3"), b"+OK\r\n");
    assert_eq!(b.run("MULTI"), b"+OK\r\n");
    assert_eq!(b.run("PING"), b"+QUEUED\r\n");
    let a_id = text(&a.run("CLIENT ID"))[1..].trim().to_string();
    // The harness's readiness probe closed its connection; the server may not have noticed yet.
    let mut list = body(&a.run("CLIENT LIST"));
    for _ in 0..100 {
        if list.lines().count() == 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        list = body(&a.run("CLIENT LIST"));
    }
    assert!(list.ends_with('\n'));
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2, "{list}");
    for l in &lines {
        let f = fields(l);
        let names: Vec<&str> = f.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, LIST_FIELDS);
        for (k, v) in &f {
            if !matches!(
                k.as_str(),
                "addr" | "laddr" | "name" | "flags" | "events" | "cmd" | "user" | "lib-name" | "lib-ver"
            ) {
                v.parse::<i64>().unwrap_or_else(|_| panic!("{k}={v} is not a number"));
            }
        }
    }
    let mine = fields(lines.iter().find(|l| l.starts_with(&format!("id={a_id} "))).unwrap());
    let get = |f: &[(String, String)], k: &str| f.iter().find(|(n, _)| n == k).unwrap().1.clone();
    assert_eq!(get(&mine, "name"), "first");
    assert_eq!(get(&mine, "db"), "3");
    assert_eq!(get(&mine, "cmd"), "client|list");
    assert_eq!(get(&mine, "flags"), "N");
    assert_eq!(get(&mine, "multi"), "-1");
    assert_eq!(get(&mine, "resp"), "2");
    let other = fields(lines.iter().find(|l| !l.starts_with(&format!("id={a_id} "))).unwrap());
    assert_eq!(get(&other, "flags"), "x");
    assert_eq!(get(&other, "multi"), "1");
    // As in Redis, a queued command is the client's last command.
    assert_eq!(get(&other, "cmd"), "ping");
    // Filters.
    let only = body(&a.run(&format!("CLIENT LIST ID {a_id} 99999")));
    assert_eq!(only.lines().count(), 1);
    assert_eq!(body(&a.run("CLIENT LIST TYPE normal")).lines().count(), 2);
    assert_eq!(body(&a.run("CLIENT LIST TYPE replica")), "");
    // CLIENT INFO is this client's line.
    let info = body(&a.run("CLIENT INFO"));
    assert!(info.starts_with(&format!("id={a_id} ")) && info.ends_with('\n'), "{info}");
    assert!(info.contains(" cmd=client|info "), "{info}");
    // RESP3: verbatim strings.
    assert!(a.run("HELLO 3").starts_with(b"%"));
    assert!(a.run("CLIENT INFO").starts_with(b"="));
    assert!(a.run("CLIENT LIST").starts_with(b"="));
}

#[test]
fn client_kill_closes_the_connection() {
    let s = start_redstart(&[]);
    let mut killer = Conn::connect(s.port);
    let mut victim = Conn::connect(s.port);
    let mut bystander = Conn::connect(s.port);
    let victim_id = text(&victim.run("CLIENT ID"))[1..].trim().to_string();
    assert_eq!(killer.run(&format!("CLIENT KILL ID {victim_id}")), b":1\r\n");
    assert!(victim.is_closed(Duration::from_secs(5)), "killed client still connected");
    assert_eq!(bystander.run("PING"), b"+PONG\r\n");
    assert_eq!(killer.run(&format!("CLIENT KILL ID {victim_id}")), b":0\r\n");

    // Old form by address.
    let mut victim = Conn::connect(s.port);
    let info = body(&victim.run("CLIENT INFO"));
    let addr = fields(info.trim_end()).into_iter().find(|(k, _)| k == "addr").unwrap().1;
    assert_eq!(killer.run(&format!("CLIENT KILL {addr}")), b"+OK\r\n");
    assert!(victim.is_closed(Duration::from_secs(5)));

    // Filters: ADDR + SKIPME; killing oneself replies, then closes.
    let info = body(&killer.run("CLIENT INFO"));
    let addr = fields(info.trim_end()).into_iter().find(|(k, _)| k == "addr").unwrap().1;
    assert_eq!(killer.run(&format!("CLIENT KILL ADDR {addr}")), b":0\r\n");
    assert_eq!(killer.run(&format!("CLIENT KILL ADDR {addr} SKIPME no")), b":1\r\n");
    assert!(killer.is_closed(Duration::from_secs(5)));

    // TYPE normal (SKIPME yes by default) kills everyone else.
    let mut c = Conn::connect(s.port);
    assert_eq!(c.run("CLIENT KILL TYPE normal USER default"), b":1\r\n");
    assert!(bystander.is_closed(Duration::from_secs(5)));
    assert_eq!(c.run("PING"), b"+PONG\r\n");
}

#[test]
fn client_reply_off_and_skip() {
    let p = Pair::new();
    for port in [p.ours.port, p.oracle.port] {
        let mut c = Conn::connect(port);
        // OFF: no reply to itself nor to the following commands, until ON.
        c.send_raw(&encode(&[b"CLIENT", b"REPLY", b"OFF"]));
        c.send_raw(&encode(&[b"SET", b"k", b"1"]));
        c.send_raw(&encode(&[b"GET", b"k"]));
        c.send_raw(&encode(&[b"CLIENT", b"REPLY", b"ON"]));
        assert_eq!(c.read_reply(), b"+OK\r\n");
        // SKIP: no reply to itself and to the next command.
        c.send_raw(&encode(&[b"CLIENT", b"REPLY", b"SKIP"]));
        c.send_raw(&encode(&[b"ECHO", b"skipped"]));
        assert_eq!(c.run("ECHO shown"), b"$5\r\nshown\r\n");
        assert_eq!(c.run("GET k"), b"$1\r\n1\r\n");
    }
}

#[test]
fn pushes_are_delivered_while_replies_are_off() {
    // Redis keeps pub/sub confirmations and messages (and keyspace events for the client
    // itself) flowing under CLIENT REPLY OFF, in RESP2 and RESP3: only replies are dropped.
    // (A RESP3 client that turned replies off and subscribed used to hang.)
    compare(|port| {
        let mut out = Vec::new();
        for resp3 in [false, true] {
            let mut c = Conn::connect(port);
            if resp3 {
                c.run("HELLO 3");
            }
            let mut publisher = Conn::connect(port);
            c.send_raw(&encode(&[b"CLIENT", b"REPLY", b"OFF"]));
            c.send_raw(&encode(&[b"SUBSCRIBE", b"ch"]));
            c.send_raw(&encode(&[b"PING"]));
            out.push(c.read_reply());
            assert_eq!(publisher.run("PUBLISH ch hello"), b":1\r\n");
            out.push(c.read_reply());
            c.send_raw(&encode(&[b"UNSUBSCRIBE"]));
            out.push(c.read_reply());
            if resp3 {
                // Keyspace events for itself, around a suppressed reply.
                publisher.run("CONFIG SET notify-keyspace-events KA");
                c.send_raw(&encode(&[b"SUBSCRIBE", b"__keyspace@0__:k"]));
                out.push(c.read_reply());
                c.send_raw(&encode(&[b"SET", b"k", b"v"]));
                out.push(c.read_reply());
                c.send_raw(&encode(&[b"PUBLISH", b"x", b"y"]));
                publisher.run("CONFIG SET notify-keyspace-events \"\"");
            }
            c.send_raw(&encode(&[b"CLIENT", b"REPLY", b"ON"]));
            out.push(c.read_reply());
        }
        out
    });
}

#[test]
fn reset_leaves_multi_and_restores_defaults() {
    let p = Pair::new();
    for port in [p.ours.port, p.oracle.port] {
        let mut c = Conn::connect(port);
        assert_eq!(c.run("RESET x"), b"-ERR wrong number of arguments for 'reset' command\r\n");
        assert_eq!(c.run("CLIENT SETNAME n"), b"+OK\r\n");
        assert_eq!(c.run("SELECT 2"), b"+OK\r\n");
        assert_eq!(c.run("SET k v"), b"+OK\r\n");
        assert_eq!(c.run("WATCH k"), b"+OK\r\n");
        assert!(c.run("HELLO 3").starts_with(b"%"));
        assert_eq!(c.run("MULTI"), b"+OK\r\n");
        assert_eq!(c.run("SET k w"), b"+QUEUED\r\n");
        assert_eq!(c.run("RESET"), b"+RESET\r\n");
        assert_eq!(c.run("EXEC"), b"-ERR EXEC without MULTI\r\n");
        assert_eq!(c.run("CLIENT GETNAME"), b"$-1\r\n", "RESP2 and no name after RESET");
        assert_eq!(c.run("GET k"), b"$-1\r\n", "db 0 after RESET");
        assert_eq!(c.run("SELECT 2"), b"+OK\r\n");
        assert_eq!(c.run("GET k"), b"$1\r\nv\r\n", "the queued SET never ran");
    }
}

#[test]
fn quit_closes_after_ok() {
    let mut p = Pair::new();
    p.check("QUIT");
    assert!(p.a.is_closed(Duration::from_secs(5)));
    assert!(p.b.is_closed(Duration::from_secs(5)));
}

#[test]
fn real_client_library_connects_with_resp3() {
    let s = start_redstart(&[]);
    let url = format!("redis://127.0.0.1:{}/2?protocol=resp3", s.port);
    let client = redis::Client::open(url).unwrap();
    let mut con = client.get_connection().unwrap();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut con).unwrap();
    let v: Option<String> = redis::cmd("GET").arg("k").query(&mut con).unwrap();
    assert_eq!(v.as_deref(), Some("v"));
    let missing: Option<String> = redis::cmd("GET").arg("nosuch").query(&mut con).unwrap();
    assert_eq!(missing, None);
    let _: () = redis::cmd("CLIENT").arg("SETNAME").arg("rs").query(&mut con).unwrap();
    let info: String = redis::cmd("CLIENT").arg("INFO").query(&mut con).unwrap();
    assert!(info.contains(" resp=3 "), "{info}");
    assert!(info.contains(" db=2 "), "{info}");
    assert!(info.contains(" name=rs "), "{info}");
    let info: String = redis::cmd("INFO").arg("persistence").query(&mut con).unwrap();
    assert!(info.contains("loading:0\r\n"), "{info}");
    // And RESP2 with a password.
    let s = start_redstart(&["--requirepass", "secret"]);
    let url = format!("redis://:secret@127.0.0.1:{}/0", s.port);
    let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
    let bad = format!("redis://:wrong@127.0.0.1:{}/0", s.port);
    assert!(redis::Client::open(bad).unwrap().get_connection().is_err());
}

/// What client libraries send on connect, pipelined: HELLO 3 with AUTH and SETNAME, SETINFO,
/// SELECT.
#[test]
fn library_handshake_pipeline() {
    let s = start_redstart(&["--requirepass", "pw"]);
    let mut c = Conn::connect(s.port);
    let mut batch = Vec::new();
    batch.extend(encode(&[b"HELLO", b"3", b"AUTH", b"default", b"pw", b"SETNAME", b"app"]));
    batch.extend(encode(&[b"CLIENT", b"SETINFO", b"LIB-NAME", b"go-redis(,go1.22)"]));
    batch.extend(encode(&[b"CLIENT", b"SETINFO", b"LIB-VER", b"9.5.1"]));
    batch.extend(encode(&[b"SELECT", b"1"]));
    batch.extend(encode(&[b"INFO", b"persistence"]));
    c.send_raw(&batch);
    assert!(c.read_reply().starts_with(b"%7\r\n"));
    assert_eq!(c.read_reply(), b"+OK\r\n");
    assert_eq!(c.read_reply(), b"+OK\r\n");
    assert_eq!(c.read_reply(), b"+OK\r\n");
    let info = c.read_reply();
    assert!(info.starts_with(b"="), "RESP3 INFO is a verbatim string");
    assert!(body(&info).contains("\r\nloading:0\r\n"));
    let me = body(&c.run("CLIENT INFO"));
    assert!(
        me.contains(" name=app ")
            && me.contains(" db=1 ")
            && me.contains(" lib-name=go-redis(,go1.22) lib-ver=9.5.1\n"),
        "{me}"
    );
}

/// A CLIENT INFO / CLIENT LIST line made comparable: `id`, `addr`, `laddr`, `fd`, `age`, `idle`
/// normalised; the memory figures that depend on the allocator and the buffers' layout
/// (`qbuf-free`, `rbs`, `rbp`, `tot-mem`, and `obl`/`oll`/`omem` when `output` says the client
/// has a large unread output) checked for plausibility and normalised; every other field kept
/// exactly. Redis 7.2 added `lib-name` and `lib-ver` (last), which the 7.0 oracle lacks: they
/// must be there in redstart's line and are then dropped.
fn comparable(line: &str, ours: bool, output: bool) -> String {
    let mut f = fields(line.trim_end());
    if ours {
        let names: Vec<&str> = f.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names[names.len() - 2..], ["lib-name", "lib-ver"], "{line}");
        f.truncate(f.len() - 2);
    }
    let num = |k: &str| -> u64 {
        let v = &f.iter().find(|(n, _)| n == k).unwrap_or_else(|| panic!("{k} in {line}")).1;
        v.parse().unwrap_or_else(|_| panic!("{k}={v} in {line}"))
    };
    let (qbuf, free, rbs, rbp, tot, obl) =
        (num("qbuf"), num("qbuf-free"), num("rbs"), num("rbp"), num("tot-mem"), num("obl"));
    assert!(free < 1 << 30, "qbuf-free in {line}");
    assert!((1024..=32 * 1024).contains(&rbs) && rbp <= rbs, "rbs/rbp in {line}");
    assert!(tot >= qbuf + free && tot < 1 << 31, "tot-mem in {line}");
    assert!(obl <= 16 * 1024, "obl in {line}");
    if output {
        assert!(num("omem") > 0 && num("oll") > 0, "unread output in {line}");
    }
    let mut memory = vec!["qbuf-free", "rbs", "rbp", "tot-mem"];
    if output {
        memory.extend(["obl", "oll", "omem"]);
    }
    f.iter()
        .map(|(k, v)| {
            if matches!(k.as_str(), "id" | "addr" | "laddr" | "fd" | "age" | "idle") || memory.contains(&k.as_str()) {
                format!("{k}=*")
            } else {
                format!("{k}={v}")
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Sends `cmds` in one write and reads one reply per command.
fn pipeline(c: &mut Conn, cmds: &[&[&[u8]]]) -> Vec<Vec<u8>> {
    let mut bytes = Vec::new();
    for args in cmds {
        bytes.extend(encode(args));
    }
    c.send_raw(&bytes);
    cmds.iter().map(|_| c.read_reply()).collect()
}

/// The line of client `id` in CLIENT LIST, seen from `c`.
fn line_of(c: &mut Conn, id: &str) -> String {
    body(&c.run(&format!("CLIENT LIST ID {id}")))
}

/// CLIENT INFO and CLIENT LIST describe a client as Redis does: its query buffer while the
/// command runs (`qbuf` includes the command, the commands pipelined behind it, and those run
/// before it in the same read; a big argument read before starts a new buffer), `argv-mem`
/// (the running command's argument bytes; EXEC's inside EXEC; a partly read command's parsed
/// arguments; a blocked command's), `multi-mem` (queued bytes plus a pointer per argument),
/// `events` (`rw` while output waits for the socket), `user`, `redir`, `resp`, flags, counts.
#[test]
fn client_info_fields_match_redis() {
    let scenario = |port: u16, ours: bool| -> Vec<String> {
        let mut t = Vec::new();
        let mut line = |s: String, output: bool| t.push(comparable(&s, ours, output));
        // A fresh connection; then with a second command pipelined behind, and before.
        line(body(&Conn::connect(port).run("CLIENT INFO")), false);
        let r = pipeline(&mut Conn::connect(port), &[&[b"CLIENT", b"INFO"], &[b"PING"]]);
        line(body(&r[0]), false);
        let r = pipeline(&mut Conn::connect(port), &[&[b"PING"], &[b"CLIENT", b"INFO"]]);
        line(body(&r[1]), false);
        // A 10 KB argument in the same read, and a 50 KB one read before (Redis gives a big
        // argument a buffer of its own).
        let big = vec![b'x'; 10_000];
        let r = pipeline(&mut Conn::connect(port), &[&[b"SET", b"k", &big], &[b"CLIENT", b"INFO"], &[b"GET", b"k"]]);
        line(body(&r[1]), false);
        let big = vec![b'x'; 50_000];
        let r = pipeline(&mut Conn::connect(port), &[&[b"ECHO", &big], &[b"CLIENT", b"INFO"]]);
        line(body(&r[1]), false);
        // Inside EXEC (pipelined with MULTI): the queued bytes, EXEC's argv, its partial reply.
        let r = pipeline(
            &mut Conn::connect(port),
            &[&[b"MULTI"], &[b"SET", b"a", b"b"], &[b"CLIENT", b"INFO"], &[b"EXEC"]],
        );
        let exec = text(&r[3]);
        let at = exec.find("id=").expect("CLIENT INFO in EXEC");
        line(exec[at..exec[at..].find('\n').unwrap() + at].to_string(), false);
        // RESP3, a name, another database.
        let mut c = Conn::connect(port);
        c.run("HELLO 3");
        c.run("CLIENT SETNAME me");
        c.run("SELECT 5");
        line(body(&c.run("CLIENT INFO")), false);
        // Seen from another connection: a client in MULTI, one with a partly sent command, a
        // blocked one with a command pipelined behind its BLPOP, a subscriber.
        let mut watcher = Conn::connect(port);
        let mut m = Conn::connect(port);
        let m_id = text(&m.run("CLIENT ID"))[1..].trim().to_string();
        m.run("MULTI");
        m.run("SET a b");
        m.run("SET abc defg");
        line(line_of(&mut watcher, &m_id), false);
        m.run("EXEC");
        line(line_of(&mut watcher, &m_id), false);
        let mut partial = Conn::connect(port);
        let p_id = text(&partial.run("CLIENT ID"))[1..].trim().to_string();
        partial.send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$5\r\nhel");
        settle();
        line(line_of(&mut watcher, &p_id), false);
        partial.send_raw(b"lo\r\n");
        assert_eq!(partial.read_reply(), b"+OK\r\n");
        let mut blocked = Conn::connect(port);
        let b_id = text(&blocked.run("CLIENT ID"))[1..].trim().to_string();
        blocked.send_raw(&[encode(&[b"BLPOP", b"nokey", b"0"]), encode(&[b"PING"])].concat());
        settle();
        line(line_of(&mut watcher, &b_id), false);
        watcher.run("LPUSH nokey x");
        blocked.read_reply();
        blocked.read_reply();
        let mut sub = Conn::connect(port);
        let s_id = text(&sub.run("CLIENT ID"))[1..].trim().to_string();
        sub.run("SUBSCRIBE ch");
        line(line_of(&mut watcher, &s_id), false);
        // A client that does not read its replies: output pending, the socket full.
        let mut slow = Conn::connect(port);
        let w_id = text(&slow.run("CLIENT ID"))[1..].trim().to_string();
        watcher.cmd(&[b"SET", b"big", &vec![b'y'; 1 << 20]]);
        slow.send_raw(&encode(&[b"GET", b"big"]).repeat(20));
        std::thread::sleep(std::time::Duration::from_millis(500));
        line(line_of(&mut watcher, &w_id), true);
        t
    };
    let oracle = start_redis(&[]);
    let ours = start_redstart(&[]);
    let theirs = scenario(oracle.port, false);
    let mine = scenario(ours.port, true);
    for (a, b) in mine.iter().zip(&theirs) {
        assert_eq!(a, b, "left: redstart, right: redis-server");
    }
    assert_eq!(mine.len(), theirs.len());
}
