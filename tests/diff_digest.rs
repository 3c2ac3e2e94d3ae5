//! DEBUG DIGEST and DIGEST-VALUE against redis-server: the same dataset gives the same digest,
//! for every type in its small and large encodings, with TTLs, across databases; a change of
//! one element, of a TTL's presence or of a database changes it. Scores are integers and halves
//! (printed alike by the 7.0 oracle's `%.17g` and 7.2's shortest form, which redstart follows).

mod common;
use common::*;

fn pair() -> Pair {
    Pair::with_args(&["--enable-debug-command", "yes"])
}

fn load(p: &mut Pair) {
    let big: Vec<String> = (0..300).map(|i| format!("m{i}")).collect();
    let mut lines: Vec<String> = vec![
        "SET s hello".into(),
        "SET n 12345".into(),
        "SET neg -7".into(),
        format!("SET long {}", "x".repeat(100)),
        "RPUSH l a b 3 c".into(),
        "SADD si 1 2 3 -5".into(),
        "SADD ss a b c".into(),
        "ZADD zs 1 a 2.5 b -3 c".into(),
        "HSET h f1 v1 f2 v2 f3 3".into(),
        "XADD x 1-1 f v g w".into(),
        "XADD x 2-0 f v2".into(),
        "SET ttl v EX 1000".into(),
        "SELECT 1".into(),
        "SET s other".into(),
        "SELECT 0".into(),
    ];
    lines.push(format!("RPUSH lbig {}", big.join(" ")));
    lines.push(format!("SADD sbig {}", big.join(" ")));
    lines.push(format!(
        "ZADD zbig {}",
        big.iter().enumerate().map(|(i, m)| format!("{i} {m}")).collect::<Vec<_>>().join(" ")
    ));
    lines.push(format!("HSET hbig {}", big.iter().map(|m| format!("{m} {m}")).collect::<Vec<_>>().join(" ")));
    for l in &lines {
        p.check(l);
    }
}

#[test]
fn digests_match_redis() {
    let mut p = pair();
    // An empty dataset: forty zeros.
    assert_eq!(p.check("DEBUG DIGEST"), format!("+{}\r\n", "0".repeat(40)).into_bytes());
    load(&mut p);
    let all = p.check("DEBUG DIGEST");
    p.check("DEBUG DIGEST-VALUE s n neg long l si ss zs h x ttl lbig sbig zbig hbig nokey");
    p.check("DEBUG DIGEST-VALUE");
    p.check_all(&["SELECT 1", "DEBUG DIGEST-VALUE s", "SELECT 0"]);
    // Each change moves the digest, on both servers alike.
    let mut seen = vec![all];
    for change in ["PERSIST ttl", "LSET l 0 z", "ZADD zs 3 a", "HSET h f1 v9", "SADD si 7", "MOVE n 1", "FLUSHDB"] {
        p.check(change);
        let d = p.check("DEBUG DIGEST");
        assert!(!seen.contains(&d), "{change} left the digest as it was");
        seen.push(d);
    }
    p.check_all(&["FLUSHALL", "DEBUG DIGEST"]);
    // Off by default, as in Redis.
    let mut p = Pair::new();
    p.check_all(&["DEBUG DIGEST", "DEBUG DIGEST-VALUE k"]);
}

#[test]
fn digest_in_a_transaction_matches_redis() {
    let mut p = pair();
    load(&mut p);
    p.check_all(&["MULTI", "DEBUG DIGEST", "DEBUG DIGEST-VALUE l zs", "EXEC"]);
}
