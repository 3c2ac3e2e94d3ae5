//! Server commands against redis-server: COMMAND introspection, INFO, TIME, LASTSAVE, DEBUG,
//! SHUTDOWN. Deterministic replies are compared byte for byte; the rest by invariant.
mod common;
use common::*;
use std::collections::HashMap;
use std::time::Duration;

#[test]
fn command_info_matches_redis_for_connection_and_server_commands() {
    let mut p = Pair::new();
    p.check_all(&[
        "COMMAND INFO ping echo select nosuch",
        "COMMAND INFO quit auth hello reset",
        "COMMAND INFO time lastsave shutdown debug info",
        "COMMAND INFO get",
        "COMMAND INFO PING",
        "COMMAND INFO client|id client|setname client|getname client|kill client|list",
        "COMMAND INFO client|reply client|no-evict client|help command|count",
        "COMMAND INFO command|nosuch nosuch|x",
    ]);
    p.resp3();
    p.check_all(&["COMMAND INFO ping echo nosuch", "COMMAND INFO get", "COMMAND INFO client|list"]);
}

#[test]
fn command_subcommand_errors_match_redis() {
    let mut p = Pair::new();
    p.check_all(&[
        "COMMAND COUNT x",
        "COMMAND FOO",
        "COMMAND GETKEYS",
        "COMMAND GETKEYS nosuch a",
        "COMMAND GETKEYS get a",
        "COMMAND GETKEYS get a b",
        "COMMAND GETKEYS ping x",
        "COMMAND GETKEYS set a b",
        "COMMAND GETKEYS del a b c",
        "COMMAND GETKEYS client list x",
        "COMMAND GETKEYS client nosuch x",
        "COMMAND GETKEYSANDFLAGS get a",
        "COMMAND GETKEYSANDFLAGS nosuch a b",
        "COMMAND LIST foo",
        "COMMAND LIST FILTERBY",
        "COMMAND LIST FILTERBY foo x",
        "COMMAND LIST FILTERBY module foo",
        "COMMAND LIST FILTERBY aclcat nosuch",
        "COMMAND LIST FILTERBY pattern ech*",
        "COMMAND LIST FILTERBY pattern xyz*",
        "COMMAND DOCS nosuch",
        "COMMAND INFO nosuch",
    ]);
    p.resp3();
    p.check_all(&["COMMAND GETKEYSANDFLAGS get a", "COMMAND DOCS nosuch"]);
    // Redis 7.2 takes a command alone (arity -3, was -4 in 7.0, whose oracle answers with the
    // arity error of COMMAND GETKEYS itself): its own arity and keys are then checked.
    let mut c = Conn::connect(p.ours.port);
    for (line, reply) in [
        ("COMMAND GETKEYS get", "-ERR Invalid number of arguments specified for command\r\n"),
        ("COMMAND GETKEYSANDFLAGS get", "-ERR Invalid number of arguments specified for command\r\n"),
        ("COMMAND GETKEYS ping", "-ERR The command has no key arguments\r\n"),
        ("COMMAND GETKEYS client", "-ERR The command has no key arguments\r\n"),
        ("COMMAND GETKEYS nosuch", "-ERR Invalid command specified\r\n"),
        ("COMMAND GETKEYS", "-ERR wrong number of arguments for 'command|getkeys' command\r\n"),
    ] {
        assert_eq!(text(&c.run(line)), reply, "{line}");
    }
}

#[test]
fn command_lists_come_from_the_table() {
    let s = start_redstart(&[]);
    let mut c = Conn::connect(s.port);
    let count: usize = text(&c.run("COMMAND COUNT"))[1..].trim().parse().unwrap();
    assert!(count >= 20, "{count}");
    let all = c.run("COMMAND");
    assert!(all.starts_with(format!("*{count}\r\n").as_bytes()));
    let list = text(&c.run("COMMAND LIST"));
    for name in ["ping", "client|list", "command|docs", "info", "get", "multi"] {
        assert!(list.contains(&format!("\r\n{name}\r\n")), "{name} missing from COMMAND LIST");
    }
    // ACL category filter: every connection command, no string command.
    let conn = text(&c.run("COMMAND LIST FILTERBY ACLCAT connection"));
    assert!(conn.contains("\r\nping\r\n") && conn.contains("\r\nclient|id\r\n") && !conn.contains("\r\nget\r\n"));
    let pat = text(&c.run("COMMAND LIST FILTERBY PATTERN CLIENT|*"));
    assert!(pat.contains("client|setinfo") && !pat.contains("\r\nping\r\n"), "{pat}");
    // COMMAND INFO with no names = every command.
    assert_eq!(c.run("COMMAND INFO"), all);
    // DOCS: summary, since, group, complexity (arguments are not reported).
    let docs = c.run("COMMAND DOCS ping");
    assert_eq!(
        text(&docs),
        "*2\r\n$4\r\nping\r\n*8\r\n$7\r\nsummary\r\n$41\r\nReturns the server's liveliness response.\r\n\
         $5\r\nsince\r\n$5\r\n1.0.0\r\n$5\r\ngroup\r\n$10\r\nconnection\r\n$10\r\ncomplexity\r\n$4\r\nO(1)\r\n"
    );
    let docs = text(&c.run("COMMAND DOCS client"));
    assert!(docs.contains("$11\r\nsubcommands\r\n") && docs.contains("client|setname"), "{docs}");
    assert!(text(&c.run("COMMAND HELP")).starts_with("*"));
    assert!(c.run("HELLO 3").starts_with(b"%"));
    assert!(c.run("COMMAND DOCS get").starts_with(b"%1\r\n"));
}

#[test]
fn time_lastsave_debug_shapes() {
    let mut p = Pair::new();
    p.check_all(&["TIME x", "LASTSAVE x", "DEBUG", "SHUTDOWN foo", "SHUTDOWN nosave save", "SHUTDOWN abort now"]);
    for c in [&mut p.a, &mut p.b] {
        let t = text(&c.run("TIME"));
        let parts: Vec<&str> = t.split("\r\n").collect();
        assert_eq!(parts[0], "*2", "{t}");
        let secs: u64 = parts[2].parse().unwrap();
        let usec: u64 = parts[4].parse().unwrap();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        assert!(secs.abs_diff(now) <= 5 && usec < 1_000_000, "{t}");
        let l = text(&c.run("LASTSAVE"));
        let at: u64 = l[1..].trim().parse().unwrap();
        assert!(at <= now + 1 && at + 3600 > now, "{l}");
    }
    // DEBUG is off by default (`enable-debug-command no`), refused as Redis refuses it, also
    // inside MULTI (where the transaction is then aborted).
    p.check_all(&["DEBUG SLEEP 0", "DEBUG HELP", "MULTI", "DEBUG SLEEP 0", "PING", "EXEC"]);
    let mut p = Pair::with_args(&["--enable-debug-command", "yes"]);
    let types = [
        "string", "integer", "double", "bignum", "null", "array", "set", "map", "attrib", "push", "verbatim", "true",
        "false", "foo", "MAP",
    ];
    for resp in [2, 3] {
        for t in types {
            if resp == 3 && (t == "push" || t == "attrib") {
                // A push frame or an attribute, then the reply.
                let (a, b) = p.both(&format!("DEBUG PROTOCOL {t}"));
                let (a2, b2) = (p.a.read_reply(), p.b.read_reply());
                assert_eq!((text(&a), text(&a2)), (text(&b), text(&b2)));
                assert!(a.starts_with(b">2") || a.starts_with(b"|1"), "{}", text(&a));
                continue;
            }
            p.check(&format!("DEBUG PROTOCOL {t}"));
        }
        p.check_all(&[
            "DEBUG SLEEP 0",
            "DEBUG SLEEP 0.01",
            "DEBUG SLEEP",
            "DEBUG nosuch",
            "DEBUG ERROR FOO",
            "DEBUG ERROR \"ERR two words\"",
            "DEBUG ERROR a b",
            "DEBUG LOG hello",
            "DEBUG LOG",
            "DEBUG CHANGE-REPL-ID",
            "DEBUG CHANGE-REPL-ID x",
            "DEBUG PROTOCOL a b",
            "SHUTDOWN ABORT",
        ]);
        p.resp3();
    }
}

fn parse_info(s: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut sections: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for block in s.split("\r\n\r\n").filter(|b| !b.is_empty()) {
        let mut lines = block.split("\r\n").filter(|l| !l.is_empty());
        let head = lines.next().expect("section header");
        let name = head.strip_prefix("# ").unwrap_or_else(|| panic!("bad header {head:?}")).to_string();
        let kv = lines
            .map(|l| {
                let (k, v) = l.split_once(':').unwrap_or_else(|| panic!("bad line {l:?}"));
                (k.to_string(), v.to_string())
            })
            .collect();
        sections.push((name, kv));
    }
    sections
}

#[test]
fn info_sections_have_redis_format() {
    let mut p = Pair::new();
    let titles = |s: &str| parse_info(s).into_iter().map(|(n, _)| n).collect::<Vec<_>>();
    // Same sections as Redis for each selector (Redis 7.0 also has Latencystats, not produced).
    for sel in ["", "default", "server", "server clients", "CPU", "keyspace", "cluster", "nosuch", "all", "everything"]
    {
        let (a, b) = p.both(&format!("INFO {sel}"));
        let ours = body(&a);
        let theirs = body(&b);
        let mut want = titles(&theirs);
        want.retain(|t| t != "Latencystats");
        if ours.is_empty() {
            assert!(theirs.is_empty(), "INFO {sel}");
            continue;
        }
        assert_eq!(titles(&ours), want, "INFO {sel}");
        assert!(!ours.ends_with("\r\n\r\n") && ours.ends_with("\r\n"));
    }
    p.check("INFO cluster");
    p.check("INFO nosuch");
    p.check("INFO modules");
    p.check("INFO cluster nosuch");
    // Every field Redis 7.0 reports in these sections is there too.
    let (a, b) = p.both("INFO everything");
    let ours: HashMap<String, Vec<(String, String)>> = parse_info(&body(&a)).into_iter().collect();
    for (name, fields) in parse_info(&body(&b)) {
        if matches!(name.as_str(), "Latencystats" | "Commandstats" | "Errorstats" | "Keyspace") {
            continue;
        }
        let mine = &ours[&name];
        for (k, _) in fields {
            if k == "redis_build_id" || k.starts_with("rdb_last_load") {
                continue;
            }
            assert!(mine.iter().any(|(m, _)| *m == k), "INFO {name} lacks {k}");
        }
    }
    let server = &ours["Server"];
    let get = |sec: &Vec<(String, String)>, k: &str| sec.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap();
    assert_eq!(get(server, "redis_version"), "7.2.4");
    assert_eq!(get(server, "redstart_version"), env!("CARGO_PKG_VERSION"));
    assert_eq!(get(server, "tcp_port"), p.ours.port.to_string());
    assert_eq!(get(&ours["Persistence"], "loading"), "0");
    assert_eq!(get(&ours["Replication"], "role"), "master");
    for k in ["process_id", "uptime_in_seconds", "server_time_usec", "lru_clock", "hz"] {
        get(server, k).parse::<u64>().unwrap();
    }
    for k in ["used_memory", "used_memory_rss"] {
        assert!(get(&ours["Memory"], k).parse::<u64>().unwrap() > 0, "{k}");
    }
    get(&ours["CPU"], "used_cpu_user").parse::<f64>().unwrap();
    // RESP3: a verbatim string.
    p.resp3();
    let (a, b) = p.both("INFO cluster");
    assert_eq!(a, b);
    assert!(a.starts_with(b"=34\r\ntxt:# Cluster"));
}

#[test]
fn info_stats_keyspace_and_commandstats_count() {
    let s = start_redstart(&[]);
    let mut c = Conn::connect(s.port);
    let stats = |c: &mut Conn, sec: &str| -> HashMap<String, String> {
        parse_info(&body(&c.run(&format!("INFO {sec}")))).into_iter().flat_map(|(_, kv)| kv).collect()
    };
    assert_eq!(text(&c.run("INFO keyspace")), "$12\r\n# Keyspace\r\n\r\n");
    c.run("SET a 1");
    c.run("SET b 2");
    c.run("SELECT 3");
    c.run("SET c 3");
    c.run("GET c");
    c.run("GET nosuch");
    c.run("GET");
    c.run("NOSUCH");
    let ks = stats(&mut c, "keyspace");
    assert_eq!(ks["db0"], "keys=2,expires=0,avg_ttl=0");
    assert_eq!(ks["db3"], "keys=1,expires=0,avg_ttl=0");
    assert!(!ks.contains_key("db1"));
    let st = stats(&mut c, "stats");
    assert!(st["total_commands_processed"].parse::<u64>().unwrap() >= 7);
    assert!(st["total_connections_received"].parse::<u64>().unwrap() >= 1);
    assert!(st["total_error_replies"].parse::<u64>().unwrap() >= 2);
    let cs = stats(&mut c, "commandstats");
    let set = &cs["cmdstat_set"];
    assert!(set.starts_with("calls=3,usec="), "{set}");
    assert!(set.ends_with(",rejected_calls=0,failed_calls=0"), "{set}");
    assert!(
        cs["cmdstat_get"].starts_with("calls=2,") && cs["cmdstat_get"].ends_with("rejected_calls=1,failed_calls=0")
    );
    assert!(cs.contains_key("cmdstat_info"));
    c.run("SELECT x");
    let cs = stats(&mut c, "commandstats");
    assert!(cs["cmdstat_select"].ends_with("failed_calls=1"), "{}", cs["cmdstat_select"]);
    c.run("CLIENT ID");
    assert!(stats(&mut c, "commandstats").contains_key("cmdstat_client|id"));
    let es = stats(&mut c, "errorstats");
    assert!(es["errorstat_ERR"].trim_start_matches("count=").parse::<u64>().unwrap() >= 3);
}

#[test]
fn shutdown_stops_the_process() {
    let mut s = start_redstart(&[]);
    let mut c = Conn::connect(s.port);
    assert_eq!(c.run("SHUTDOWN foo"), b"-ERR syntax error\r\n");
    c.send_raw(&encode(&[b"SHUTDOWN", b"NOSAVE"]));
    assert!(c.is_closed(Duration::from_secs(10)), "no reply, the connection just closes");
    let mut exited = false;
    for _ in 0..200 {
        if s.child.try_wait().unwrap().is_some() {
            exited = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(exited, "redstart still running after SHUTDOWN");
    // SHUTDOWN is not allowed in MULTI (NO_MULTI flag).
    let mut p = Pair::new();
    p.check_all(&["MULTI", "SHUTDOWN", "EXEC"]);
}

/// `total_net_input_bytes` / `total_net_output_bytes` (per-thread counters in redstart, summed
/// by INFO) count the same bytes as Redis for the same traffic after CONFIG RESETSTAT, on
/// one connection and then on a second one.
#[test]
fn net_byte_counters_match_redis() {
    let mut p = Pair::new();
    let field = |info: &[u8], f: &str| -> u64 {
        let s = String::from_utf8_lossy(info);
        s.lines()
            .find_map(|l| l.strip_prefix(&format!("{f}:")).map(|v| v.trim().parse().unwrap()))
            .unwrap_or_else(|| panic!("no {f} in INFO"))
    };
    p.check("CONFIG RESETSTAT");
    p.check_all(&["SET k hello", "GET k", "GET missing", "DEL k", "PING"]);
    let (mut a2, mut b2) = p.conns();
    for line in ["SET other 12345", "INCR other", "ECHO bytes"] {
        assert_eq!(a2.run(line), b2.run(line), "{line}");
    }
    drop((a2, b2));
    let (x, y) = p.both("INFO stats");
    for f in ["total_net_input_bytes", "total_net_output_bytes"] {
        assert_eq!(field(&x, f), field(&y, f), "{f} (left: redstart, right: redis-server)");
    }
}

/// Command statistics count every call on every I/O thread, including threads whose first
/// counted event was a read (before any command had built the statistics table): 8 fresh
/// connections (spread over the threads) each pipelining 100 INCRs give the same
/// `cmdstat_incr` and `total_commands_processed` as Redis.
#[test]
fn command_statistics_count_every_call_on_every_thread() {
    let mut p = Pair::new();
    let (x, y) = p.both("CONFIG RESETSTAT");
    assert_eq!((x.as_slice(), y.as_slice()), (&b"+OK\r\n"[..], &b"+OK\r\n"[..]));
    for i in 0..8 {
        let (mut a, mut b) = p.conns();
        let mut bytes = Vec::new();
        for _ in 0..100 {
            bytes.extend_from_slice(&encode(&[b"INCR", format!("n{i}").as_bytes()]));
        }
        for c in [&mut a, &mut b] {
            c.send_raw(&bytes);
            for k in 1..=100 {
                assert_eq!(text(&c.read_reply()), format!(":{k}\r\n"));
            }
        }
    }
    let calls = |info: &[u8]| -> String {
        let s = String::from_utf8_lossy(info).to_string();
        s.lines().find(|l| l.starts_with("cmdstat_incr:")).unwrap_or("").split(',').next().unwrap_or("").to_string()
    };
    let (x, y) = p.both("INFO commandstats");
    assert_eq!(calls(&x), "cmdstat_incr:calls=800");
    assert_eq!(calls(&x), calls(&y));
}
