//! COMMAND introspection against redis-server, for every command redstart implements: COMMAND
//! INFO (flags, `movablekeys`, legacy key range, ACL categories, tips, key specs), COMMAND
//! GETKEYS / GETKEYSANDFLAGS over many argument shapes (errors included), COMMAND LIST
//! FILTERBY, and COMMAND INFO of unknown names.
//!
//! Where Redis 7.2 differs from the 7.0 oracle, redstart follows 7.2 and the oracle's answer is
//! adjusted before comparing (each case says so):
//! - `noscript` was dropped from the blocking commands BLPOP, BRPOP, BRPOPLPUSH, BLMOVE,
//!   BZPOPMIN, BZPOPMAX (they run in scripts, without blocking);
//! - ZRANK/ZREVRANK take `WITHSCORE` (arity -3, was 3);
//! - COMMAND GETKEYS/GETKEYSANDFLAGS have arity -3 (was -4): a command alone is accepted and
//!   checked for keys and arity;
//! - CLIENT SETINFO and CLIENT NO-TOUCH are new.
//!
//! Replies that list commands in Redis's hash order (COMMAND LIST, a container's subcommands)
//! are compared as sets.
mod common;
use common::*;
use std::collections::BTreeSet;

/// Commands that are new in Redis 7.2 (the oracle does not know them).
const NEW_IN_72: &[&str] = &["client|setinfo", "client|no-touch"];

/// Blocking commands that lost `noscript` in 7.2.
const NOSCRIPT_DROPPED: &[&str] = &["blpop", "brpop", "brpoplpush", "blmove", "bzpopmin", "bzpopmax"];

/// Every command redstart implements, containers and subcommands (`client|list`), by full name.
fn our_commands(c: &mut Conn) -> Vec<String> {
    let mut names: Vec<String> =
        reply_items(&c.run("COMMAND LIST")).into_iter().map(|n| String::from_utf8(n).unwrap()).collect();
    names.sort();
    names
}

/// The oracle's COMMAND INFO reply for `name`, adjusted to Redis 7.2 (see the module doc).
fn oracle_info_72(name: &str, reply: Vec<u8>) -> Vec<u8> {
    let mut r = reply;
    if NOSCRIPT_DROPPED.contains(&name) {
        r = drop_flag(&r, "noscript");
    }
    let arity = |r: Vec<u8>, from: &str, to: &str| {
        let (from, to) = (format!("\r\n:{from}\r\n"), format!("\r\n:{to}\r\n"));
        let t = text(&r);
        let at = t.find(&from).expect("arity");
        format!("{}{}{}", &t[..at], to, &t[at + from.len()..]).into_bytes()
    };
    match name {
        "zrank" | "zrevrank" => arity(r, "3", "-3"),
        "command|getkeys" | "command|getkeysandflags" => arity(r, "-4", "-3"),
        _ => r,
    }
}

/// Splits a one-command COMMAND INFO reply (`*1` then the 10-element entry) into the entry up
/// to its subcommands, and the subcommand names.
fn split_subcommands(reply: &[u8]) -> (String, BTreeSet<String>) {
    let t = text(reply);
    // The subcommands are the last element; each sub entry starts with `*10` and its full name.
    let mut head = t.clone();
    let mut subs = BTreeSet::new();
    // The entry itself starts `*1\r\n*10\r\n$`: look for sub entries after that.
    if let Some(first_sub) = t[10..].find("*10\r\n$").map(|i| i + 10) {
        head = t[..first_sub].to_string();
        let mut rest = &t[first_sub..];
        while let Some(i) = rest.find("*10\r\n$") {
            let after = &rest[i + 5..];
            let name_line_end = after.find("\r\n").unwrap();
            let name_start = name_line_end + 2;
            let name_end = name_start + after[name_start..].find("\r\n").unwrap();
            subs.insert(after[name_start..name_end].to_string());
            rest = &after[name_end..];
        }
        // The length of the subcommand array is kept out of the comparison (it counts
        // subcommands redstart does not implement); its type stays.
        let last_line = head[..head.len() - 2].rfind("\r\n").map_or(0, |i| i + 2);
        head.truncate(last_line + 1);
    }
    (head, subs)
}

#[test]
fn command_info_matches_redis_for_every_command() {
    let mut p = Pair::new();
    let names = our_commands(&mut p.a);
    assert!(names.len() > 200, "{}", names.len());
    let oracle_names: BTreeSet<String> =
        reply_items(&p.b.run("COMMAND LIST")).into_iter().map(|n| String::from_utf8(n).unwrap()).collect();
    for resp3 in [false, true] {
        if resp3 {
            p.resp3();
        }
        for name in &names {
            let ours = p.a.run(&format!("COMMAND INFO {name}"));
            let theirs = p.b.run(&format!("COMMAND INFO {name}"));
            if NEW_IN_72.contains(&name.as_str()) {
                assert!(!oracle_names.contains(name.as_str()), "{name} is in 7.0 after all");
                assert!(text(&ours).contains(&format!("\r\n{name}\r\n")), "{name}: {}", text(&ours));
                continue;
            }
            let theirs = oracle_info_72(name, theirs);
            let (our_head, our_subs) = split_subcommands(&ours);
            let (their_head, their_subs) = split_subcommands(&theirs);
            assert_eq!(our_head, their_head, "COMMAND INFO {name} (resp3: {resp3})");
            // A container's subcommands come in Redis's hash order: compared as sets, limited to
            // what redstart implements (each is compared by itself above).
            let their_subs: BTreeSet<String> =
                their_subs.into_iter().filter(|s| names.contains(s) || NEW_IN_72.contains(&s.as_str())).collect();
            let our_subs: BTreeSet<String> =
                our_subs.into_iter().filter(|s| !NEW_IN_72.contains(&s.as_str())).collect();
            let their_subs: BTreeSet<String> =
                their_subs.into_iter().filter(|s| !NEW_IN_72.contains(&s.as_str())).collect();
            assert_eq!(our_subs, their_subs, "subcommands of {name}");
        }
    }
}

/// `movablekeys` is derived from the key specs (a spec that is not a plain index/range): the
/// commands whose keys are found by `numkeys`, a keyword or the getkeys function have it, as
/// in Redis; the compared rows above say the same for every command, this names them.
#[test]
fn movablekeys_follows_the_key_specs() {
    let mut p = Pair::new();
    for name in [
        "sort",
        "sort_ro",
        "zunionstore",
        "zinterstore",
        "zdiffstore",
        "zunion",
        "zinter",
        "zdiff",
        "zintercard",
        "sintercard",
        "lmpop",
        "blmpop",
        "zmpop",
        "bzmpop",
        "xread",
        "xreadgroup",
    ] {
        let ours = text(&p.check(&format!("COMMAND INFO {name}")));
        assert!(ours.contains("+movablekeys\r\n"), "{name}: {ours}");
    }
    for name in ["get", "set", "mset", "lmove", "sinterstore", "del", "copy", "bitcount", "xadd"] {
        let (ours, theirs) = p.both(&format!("COMMAND INFO {name}"));
        assert!(!text(&ours).contains("movablekeys"), "{name}");
        if !theirs.starts_with(b"*1\r\n*-1") {
            assert!(!text(&theirs).contains("movablekeys"), "{name}");
        }
    }
}

/// Argument shapes tried with every command: keys, values, counts (valid, zero, too many,
/// `01` that only C's `atoi` reads), keywords (STREAMS, STORE, GET, BY, WEIGHTS).
const SHAPES: &[&str] = &[
    "",
    "k",
    "k v",
    "k v w",
    "k 1 2",
    "2 a b",
    "2 a b c",
    "0 a b",
    "1 a",
    "k1 k2 k3 k4",
    "0 2 a b left",
    "a b left right",
    "streams a 0",
    "group g c streams a b 0 0",
    "k v get",
    "k v GeT",
    "k store d",
    "k by x get y store d",
    "d 2 a b weights 1 2",
    "x 01 a",
    "k v ex 10",
    "3 a b",
    "-1 a",
    "d 01 a",
    "a b c d e f g",
    "count 2 streams a b c d",
    "x streams a",
];

#[test]
fn getkeys_matches_redis_for_every_command() {
    let mut p = Pair::new();
    let names = our_commands(&mut p.a);
    for name in &names {
        if NEW_IN_72.contains(&name.as_str()) {
            continue;
        }
        for shape in SHAPES {
            for sub in ["GETKEYS", "GETKEYSANDFLAGS"] {
                let line = format!("COMMAND {sub} {} {shape}", name.replace('|', " "));
                let ours = p.a.run(line.trim());
                let theirs = p.b.run(line.trim());
                let cmd_words = name.split('|').count() + shape.split(' ').filter(|w| !w.is_empty()).count();
                if cmd_words == 1 && text(&theirs).contains("wrong number of arguments for 'command|getkeys") {
                    // 7.2: a command alone is looked at (see the module doc).
                    let t = text(&ours);
                    assert!(
                        t == "-ERR The command has no key arguments\r\n"
                            || t == "-ERR Invalid number of arguments specified for command\r\n",
                        "{line}: {t}"
                    );
                    continue;
                }
                if matches!(name.as_str(), "zrank" | "zrevrank")
                    && text(&theirs) == "-ERR Invalid number of arguments specified for command\r\n"
                    && cmd_words > 3
                {
                    // 7.2's ZRANK key member [WITHSCORE].
                    assert!(ours.starts_with(b"*1\r\n"), "{line}: {}", text(&ours));
                    continue;
                }
                assert_eq!(text(&ours), text(&theirs), "{line}");
            }
        }
    }
}

#[test]
fn getkeys_flags_and_errors_match_redis() {
    let mut p = Pair::new();
    p.check_all(&[
        // SET's key flags depend on GET (Redis 7.2's variable flags).
        "COMMAND GETKEYSANDFLAGS SET k v",
        "COMMAND GETKEYSANDFLAGS SET k v GET",
        "COMMAND GETKEYSANDFLAGS SET k v EX 10 get",
        "COMMAND GETKEYSANDFLAGS SET get get",
        // Several key specs, each with its flags.
        "COMMAND GETKEYSANDFLAGS LMOVE a b LEFT RIGHT",
        "COMMAND GETKEYSANDFLAGS BLMOVE a b LEFT RIGHT 0",
        "COMMAND GETKEYSANDFLAGS COPY a b",
        "COMMAND GETKEYSANDFLAGS RENAME a b",
        "COMMAND GETKEYSANDFLAGS SINTERSTORE d a b",
        "COMMAND GETKEYSANDFLAGS ZUNIONSTORE d 2 a b WEIGHTS 1 2",
        "COMMAND GETKEYSANDFLAGS ZRANGESTORE d s 0 -1",
        "COMMAND GETKEYSANDFLAGS MSET a 1 b 2",
        "COMMAND GETKEYSANDFLAGS DEL a b",
        "COMMAND GETKEYSANDFLAGS EXISTS a b",
        "COMMAND GETKEYSANDFLAGS XREADGROUP GROUP g c COUNT 1 STREAMS a b > >",
        "COMMAND GETKEYSANDFLAGS OBJECT ENCODING k",
        "COMMAND GETKEYSANDFLAGS MEMORY USAGE k SAMPLES 5",
        "COMMAND GETKEYSANDFLAGS XGROUP CREATE s g $ MKSTREAM",
        // The getkeys function when the specs do not fit (no flags, store key last).
        "COMMAND GETKEYSANDFLAGS ZUNIONSTORE d 01 a",
        "COMMAND GETKEYSANDFLAGS SORT k BY x GET y STORE d",
        // Errors.
        "COMMAND GETKEYS ZUNIONSTORE d 3 a",
        "COMMAND GETKEYS ZUNIONSTORE d 0 a",
        "COMMAND GETKEYS LMPOP 0 a LEFT",
        "COMMAND GETKEYS XREAD COUNT 1 STREAMS",
        "COMMAND GETKEYS PING x",
        "COMMAND GETKEYS CONFIG GET x",
        "COMMAND GETKEYS SPUBLISH ch msg",
        "COMMAND GETKEYS nosuch a",
        "COMMAND GETKEYS OBJECT nosuch k",
        "COMMAND GETKEYS CLIENT nosuch x",
        "COMMAND GETKEYS GET a b",
        "COMMAND GETKEYS OBJECT ENCODING",
        "COMMAND GETKEYSANDFLAGS nosuch a b",
        "COMMAND NOSUCH",
    ]);
    p.resp3();
    p.check_all(&["COMMAND GETKEYSANDFLAGS SET k v", "COMMAND GETKEYSANDFLAGS LMOVE a b LEFT RIGHT"]);
}

/// More than 256 keys (Redis's keys buffer grows past its static part).
#[test]
fn getkeys_with_many_keys() {
    let mut p = Pair::new();
    let mut mset: Vec<Vec<u8>> = vec![b"COMMAND".to_vec(), b"GETKEYS".to_vec(), b"MSET".to_vec()];
    for i in 0..300 {
        mset.push(format!("key:{i}").into_bytes());
        mset.push(format!("v{i}").into_bytes());
    }
    let args: Vec<&[u8]> = mset.iter().map(|a| a.as_slice()).collect();
    let reply = p.check_args(&args);
    assert!(reply.starts_with(b"*300\r\n"));
    let mut del: Vec<Vec<u8>> = vec![b"COMMAND".to_vec(), b"GETKEYSANDFLAGS".to_vec(), b"DEL".to_vec()];
    del.extend((0..1000).map(|i| format!("k{i}").into_bytes()));
    let args: Vec<&[u8]> = del.iter().map(|a| a.as_slice()).collect();
    assert!(p.check_args(&args).starts_with(b"*1000\r\n"));
    let mut zu: Vec<Vec<u8>> = vec![b"COMMAND".to_vec(), b"GETKEYS".to_vec(), b"ZUNIONSTORE".to_vec(), b"d".to_vec()];
    zu.push(b"400".to_vec());
    zu.extend((0..400).map(|i| format!("z{i}").into_bytes()));
    let args: Vec<&[u8]> = zu.iter().map(|a| a.as_slice()).collect();
    assert!(p.check_args(&args).starts_with(b"*401\r\n"));
}

/// COMMAND LIST with each filter. Redis lists in hash order, so the lists are compared as sets:
/// redstart's must be the oracle's, less the commands redstart does not implement, plus the
/// commands new in 7.2 that match.
#[test]
fn command_list_filters_match_redis() {
    let mut p = Pair::new();
    let ours_all: BTreeSet<Vec<u8>> = reply_items(&p.a.run("COMMAND LIST")).into_iter().collect();
    let set = |r: &[u8]| -> BTreeSet<Vec<u8>> {
        assert!(r.starts_with(b"*"), "{}", text(r));
        reply_items(r).into_iter().collect()
    };
    let mut filters: Vec<Vec<String>> = Vec::new();
    for cat in [
        "keyspace",
        "read",
        "write",
        "set",
        "sortedset",
        "list",
        "hash",
        "string",
        "bitmap",
        "hyperloglog",
        "geo",
        "stream",
        "pubsub",
        "admin",
        "fast",
        "slow",
        "blocking",
        "dangerous",
        "connection",
        "transaction",
        "scripting",
        "READ",
        "Keyspace",
        "@read",
        "all",
        "nosuch",
        "",
    ] {
        filters.push(vec!["ACLCAT".into(), cat.into()]);
    }
    for pat in [
        "*",
        "c*",
        "CONFIG*",
        "config|*",
        "*|*",
        "x*",
        "get",
        "g?t",
        "[gs]et",
        "[^g]et",
        "[a-c]*",
        "*\\|*",
        "client|s*",
        "nosuch",
        "",
    ] {
        filters.push(vec!["PATTERN".into(), pat.into()]);
    }
    for module in ["foo", ""] {
        filters.push(vec!["MODULE".into(), module.into()]);
    }
    for f in &filters {
        for kw in ["FILTERBY", "filterby"] {
            let mut args: Vec<&[u8]> = vec![b"COMMAND", b"LIST", kw.as_bytes()];
            args.extend(f.iter().map(|a| a.as_bytes()));
            let ours = set(&p.a.cmd(&args));
            let theirs = set(&p.b.cmd(&args));
            let theirs: BTreeSet<Vec<u8>> = theirs.intersection(&ours_all).cloned().collect();
            let ours_known: BTreeSet<Vec<u8>> =
                ours.iter().filter(|n| !NEW_IN_72.contains(&text(n).as_str())).cloned().collect();
            assert_eq!(ours_known, theirs, "COMMAND LIST FILTERBY {f:?}");
        }
    }
    // The new 7.2 commands are filtered like the others.
    let conn = set(&p.a.run("COMMAND LIST FILTERBY ACLCAT connection"));
    assert!(conn.contains(b"client|setinfo".as_slice()) && conn.contains(b"client|no-touch".as_slice()));
    p.check_all(&[
        "COMMAND LIST FILTERBY",
        "COMMAND LIST FILTERBY aclcat",
        "COMMAND LIST FILTERBY nosuch x",
        "COMMAND LIST FILTERBY aclcat read extra",
        "COMMAND LIST FILTERBY aclcat read FILTERBY pattern g*",
        "COMMAND LIST nosuch",
        "COMMAND LIST FILTERBY MODULE foo",
        "COMMAND LIST FILTERBY ACLCAT nosuch",
    ]);
}

/// COMMAND INFO and DOCS of names that are not commands: a null for each (in RESP3 too), or
/// nothing (DOCS).
#[test]
fn command_info_of_unknown_names_matches_redis() {
    let mut p = Pair::new();
    let lines = [
        "COMMAND INFO nosuch",
        "COMMAND INFO get nosuch config|nosuch",
        "COMMAND INFO config|get|x get|x |get config| | nosuch|get",
        "COMMAND INFO CONFIG|GET Get",
        "COMMAND INFO get get",
        "COMMAND INFO command|info",
        "COMMAND DOCS nosuch config|nosuch",
        "COMMAND DOCS nosuch get|x",
        "COMMAND COUNT x",
        "COMMAND INFO",
    ];
    // Containers list their subcommands in hash order: INFO of a container is left to the test
    // above; these lines name none.
    for resp3 in [false, true] {
        if resp3 {
            p.resp3();
        }
        for line in lines {
            if line == "COMMAND INFO" {
                // Every command: redstart implements fewer, so only the first entry's shape.
                let ours = p.a.run(line);
                assert!(ours.starts_with(b"*") && ours.len() > 10_000, "{}", text(&ours[..100]));
                continue;
            }
            p.check(line);
        }
    }
}
