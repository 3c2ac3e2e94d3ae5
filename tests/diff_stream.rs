//! Differential tests for the stream family against redis-server: every command and option,
//! error paths, WRONGTYPE, RESP3 replies, ID edge cases. Time-dependent fields (idle times,
//! delivery times, `*` IDs) are compared after masking them, or avoided with explicit IDs.
mod common;
use common::*;

/// Replaces every integer reply (`:<n>`) with `:#` and every time-like ID (`<13+ digits>-<n>`)
/// — for replies whose numbers are clocks (idle, seen-time, delivery time).
fn mask_ints(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b).to_string();
    let mut out = String::new();
    for line in s.split("\r\n") {
        if line.starts_with(':') {
            out.push_str(":#");
        } else {
            out.push_str(line);
        }
        out.push_str("\\r\\n");
    }
    out
}

/// Our reply as Redis 7.0 would write it: without 7.2's consumer `active-time` field.
fn as_70(s: String) -> String {
    s.replace("$11\\r\\nactive-time\\r\\n:#\\r\\n", "")
        .replace("*10\\r\\n$4\\r\\nname", "*8\\r\\n$4\\r\\nname")
        .replace("%5\\r\\n$4\\r\\nname", "%4\\r\\n$4\\r\\nname")
}

fn check_masked(p: &mut Pair, line: &str) {
    let (a, b) = p.both(line);
    assert_eq!(as_70(mask_ints(&a)), mask_ints(&b), "{line}");
}

#[test]
fn xadd_ids_and_errors() {
    let mut p = Pair::new();
    p.check_all(&[
        // Options that use up every argument (no ID, no fields): wrong arity, never a panic.
        "XADD k NOMKSTREAM MAXLEN 5",
        "XADD k MAXLEN 5",
        "XADD k NOMKSTREAM",
        "XADD k MAXLEN ~ 5 LIMIT 10",
        "XADD k NOMKSTREAM * f",
        "XADD k MINID = 0",
        "XADD s 0-0 f v",
        "XADD s 0 f v",
        "XADD s 1-1 f v",
        "XADD s 1-1 f v",
        "XADD s 1-0 f v",
        "XADD s 1-* f v",
        "XADD s 1-* f v g w",
        "XADD s 1 f",
        "XADD s 1 f v g",
        "XADD s abc f v",
        "XADD s 1-x f v",
        "XADD s -1 f v",
        "XADD s +5 f v",
        "XADD s 01-02 f v",
        "XADD s 5- f v",
        "XADD s 5-*x f v",
        "XADD s *-1 f v",
        "XADD s 1-* f v",
        "XADD s 18446744073709551616 f v",
        "XADD s 18446744073709551615-18446744073709551615 f v",
        "XADD s 18446744073709551615-* f v",
        "XADD s * f v",
        "XADD s2 18446744073709551615-* f v",
        "XADD s2 18446744073709551615-* f v",
        "XADD s3 0-* f v",
        "XADD s3 0-* f v",
        "XADD s3 5-18446744073709551615 f v",
        "XADD s3 5-* f v",
        "XADD s4 0-0 f v",
        "XADD s MAXLEN -1 * f v",
        "XADD s MAXLEN ~ 1 LIMIT -1 * f v",
        "XADD s MAXLEN 1 LIMIT 10 * f v",
        "XADD s MAXLEN 1 LIMIT 10 bad f v",
        "XADD s MAXLEN 1 MINID 1 * f v",
        "XADD s LIMIT 5 * f v",
        "XADD s NOMKSTREAM",
        "XADD n NOMKSTREAM * f v",
        "EXISTS n",
        "XADD s MAXLEN x * f v",
        "XADD s MINID x * f v",
        "XADD s bad f",
        "XADD s MAXLEN",
        "XADD",
        "XLEN s",
        "XLEN s3",
        "XLEN nokey",
        "TYPE s",
        "OBJECT ENCODING s",
        "SET str x",
        "XADD str * f v",
        "XLEN str",
        "XRANGE str - +",
        "XREVRANGE str + -",
        "XDEL str 1",
        "XTRIM str MAXLEN 1",
        "XSETID str 1",
        "XREAD STREAMS str 0",
        "XREADGROUP GROUP g c STREAMS str >",
        "XACK str g 1",
        "XPENDING str g",
        "XCLAIM str g c 0 1",
        "XAUTOCLAIM str g c 0 0",
        "XGROUP CREATE str g $",
        "XINFO STREAM str",
        "XINFO GROUPS str",
        "XINFO CONSUMERS str g",
    ]);
    p.check_args(&[b"XADD", b"bin\xff\x00", b"1-1", b"\x00f", b"\xffv"]);
    p.check_args(&[b"XRANGE", b"bin\xff\x00", b"-", b"+"]);
    // `*` IDs are time-based: compare shapes, then that the next explicit ID is refused alike.
    let (a, b) = p.both("XADD t * f v");
    assert!(a.starts_with(b"$") && b.starts_with(b"$"));
    p.check("XADD t 1-1 f v");
    p.check("XLEN t");
}

#[test]
fn ranges() {
    let mut p = Pair::new();
    for i in 1..=30 {
        p.check(&format!("XADD s {}-{} f{} v{} g x", i / 3 + 1, i % 3, i % 2, i));
    }
    p.check_all(&[
        "XRANGE s - +",
        "XREVRANGE s + -",
        "XRANGE s - + COUNT 5",
        "XREVRANGE s + - COUNT 5",
        "XRANGE s (2-0 (5-2",
        "XREVRANGE s (5-2 (2-0",
        "XRANGE s 3 4",
        "XREVRANGE s 4 3",
        "XRANGE s (0 +",
        "XRANGE s ( +",
        "XRANGE s (- +",
        "XRANGE s - (+",
        "XRANGE s (18446744073709551615-18446744073709551615 +",
        "XRANGE s - (0-0",
        "XREVRANGE s (0-0 -",
        "XREVRANGE s + (18446744073709551615-18446744073709551615",
        "XRANGE s 5 3",
        "XRANGE s - + COUNT 1 COUNT 2",
        "XRANGE s - + COUNT",
        "XRANGE s - + COUNT 0",
        "XRANGE s - + COUNT -1",
        "XRANGE s - + COUNT x",
        "XRANGE s - + FOO",
        "XRANGE s 0-* +",
        "XRANGE s 0-1-2 +",
        "XRANGE s 18446744073709551616 +",
        "XRANGE s 1-18446744073709551616 +",
        "XRANGE nokey - +",
        "XRANGE s -",
        "XDEL s 2-0 2-0 3-1 99-0",
        "XDEL s bad",
        "XDEL s -",
        "XDEL nokey 1",
        "XRANGE s - + COUNT 4",
        "XREVRANGE s 4 - COUNT 4",
        "XLEN s",
        "XDEL s",
    ]);
}

#[test]
fn trimming() {
    let mut p = Pair::new();
    for i in 1..=350 {
        p.check(&format!("XADD s {i}-1 f v"));
    }
    p.check_all(&[
        "XINFO STREAM s",
        "XTRIM s MAXLEN ~ 300",
        "XLEN s",
        "XTRIM s MAXLEN ~ 200",
        "XLEN s",
        "XTRIM s MAXLEN ~ 10 LIMIT 50",
        "XTRIM s MAXLEN ~ 10 LIMIT 100",
        "XLEN s",
        "XTRIM s MAXLEN = 120",
        "XLEN s",
        "XINFO STREAM s",
        "XTRIM s MINID 250",
        "XRANGE s - + COUNT 2",
        "XTRIM s MINID ~ 320",
        "XTRIM s MINID ~ 320 LIMIT 0",
        "XLEN s",
        "XTRIM s MAXLEN 0",
        "XLEN s",
        "EXISTS s",
        "XINFO STREAM s",
        "XTRIM s MAXLEN",
        "XTRIM s FOO 1",
        "XTRIM s MINID = 5 LIMIT 1",
        "XTRIM s MAXLEN 1 MAXLEN 2",
        "XTRIM s MAXLEN 1 MINID 2",
        "XTRIM s MAXLEN -1",
        "XTRIM s MAXLEN 1 LIMIT",
        "XTRIM s LIMIT 1",
        "XTRIM nokey MAXLEN 0",
    ]);
    // XADD trims after appending; approximate trimming only drops whole nodes.
    for i in 1..=250 {
        p.check(&format!("XADD a MAXLEN ~ 50 {i}-1 f v"));
    }
    p.check("XLEN a");
    for i in 1..=20 {
        p.check(&format!("XADD b MAXLEN 5 {i}-1 f v"));
        p.check(&format!("XADD c MINID {} {i}-1 f v", i.max(3) - 2));
    }
    p.check_all(&["XRANGE b - +", "XRANGE c - +", "XINFO STREAM c", "XADD d NOMKSTREAM MAXLEN 0 1-1 f v"]);
    p.check("XADD e MAXLEN 0 1-1 f v");
    p.check("XINFO STREAM e");
    p.check("XADD e 1-1 f v");
}

#[test]
fn setid() {
    let mut p = Pair::new();
    p.check_all(&[
        "XADD s 1-1 a 1",
        "XADD s 2-1 b 2",
        "XADD s 3-1 c 3",
        "XSETID s 1-1",
        "XSETID s 3-1",
        "XSETID s 5-0",
        "XSETID s 6-0 ENTRIESADDED 1",
        "XSETID s 6-0 ENTRIESADDED -1",
        "XSETID s 6-0 ENTRIESADDED x",
        "XSETID s 6-0 ENTRIESADDED 10 MAXDELETEDID 7-0",
        "XSETID s 6-0 ENTRIESADDED 10 MAXDELETEDID 2-0",
        "XSETID s 6-0 MAXDELETEDID 2-0",
        "XSETID s 6-0 MAXDELETEDID bad",
        "XSETID s 6-0 FOO",
        "XSETID s 6-0 ENTRIESADDED",
        "XSETID nokey 1-1",
        "XSETID s bad",
        "XSETID s 0",
        "XSETID s *",
        "XSETID s 6-*",
        "XSETID s +",
        "XINFO STREAM s",
        "XADD s 5-0 f v",
        "XADD s 6-* f v",
        "XADD e MAXLEN 0 1-1 f v",
        "XSETID e 0-0",
        "XSETID e 0-1",
        "XADD e 0-1 f v",
        "XADD e 0-* f v",
        "XINFO STREAM e",
    ]);
}

#[test]
fn groups_and_reads() {
    let mut p = Pair::new();
    p.check_all(&[
        "XGROUP CREATE s g $",
        "XGROUP CREATE s g $ MKSTREAM",
        "XGROUP CREATE s g $ MKSTREAM",
        "XGROUP CREATE s g2 0 ENTRIESREAD 5",
        "XGROUP CREATE s g3 0 ENTRIESREAD -1",
        "XGROUP CREATE s g4 0 ENTRIESREAD -2",
        "XGROUP CREATE s g5 0 ENTRIESREAD x",
        "XGROUP CREATE s g6 bad",
        "XGROUP CREATE s g6 0 FOO",
        "XGROUP CREATE s g7 +",
        "XGROUP CREATE s g8 -",
        "XGROUP CREATE s g10 0 ENTRIESREAD",
        "XGROUP CREATE nokey g bad",
        "XGROUP CREATE s g11 0 MKSTREAM MKSTREAM",
        "XADD s 1-1 a 1",
        "XADD s 2-1 b 2",
        "XADD s 3-1 c 3",
        "XINFO GROUPS s",
        "XGROUP SETID s g 0",
        "XGROUP SETID s g 0 ENTRIESREAD 1",
        "XGROUP SETID s g 0 ENTRIESREAD -3",
        "XGROUP SETID s nog 0",
        "XGROUP SETID nokey g 0",
        "XGROUP SETID s g $ FOO",
        "XGROUP SETID s g bad",
        // `-` and `+` are accepted by SETID (not by CREATE): 0-0 and the largest ID.
        "XGROUP SETID s g -",
        "XINFO GROUPS s",
        "XGROUP SETID s g +",
        "XINFO GROUPS s",
        "XGROUP SETID s g 0-",
        "XGROUP SETID s g 0",
        "XGROUP CREATECONSUMER s g c1",
        "XGROUP CREATECONSUMER s g c1",
        "XGROUP CREATECONSUMER s nog c1",
        "XGROUP CREATECONSUMER nokey g c1",
        "XGROUP DELCONSUMER s g c1",
        "XGROUP DELCONSUMER s g c1",
        "XGROUP DELCONSUMER s nog c1",
        "XGROUP DESTROY s g3",
        "XGROUP DESTROY s g3",
        "XGROUP DESTROY nokey g3",
        "XGROUP FOO",
        "XGROUP",
        "XGROUP HELP",
        "XGROUP CREATE s",
        "XREADGROUP GROUP g c COUNT 1 STREAMS s >",
        "XREADGROUP GROUP g c STREAMS s >",
        "XREADGROUP GROUP g c STREAMS s >",
        "XREADGROUP GROUP g c STREAMS s 0",
        "XREADGROUP GROUP g c2 STREAMS s 0",
        "XREADGROUP GROUP g c STREAMS s 2-1",
        "XREADGROUP GROUP g c STREAMS s $",
        "XREADGROUP GROUP nog c STREAMS s >",
        "XREADGROUP GROUP g c STREAMS nokey >",
        "XREADGROUP GROUP g c STREAMS s",
        "XREADGROUP GROUP g c STREAMS s s > >",
        "XREADGROUP GROUP g c STREAMS s s 0 >",
        "XREADGROUP STREAMS s >",
        "XREADGROUP GROUP g c FOO STREAMS s >",
        "XREADGROUP GROUP g c COUNT x STREAMS s >",
        "XREADGROUP GROUP g c BLOCK -1 STREAMS s >",
        "XREADGROUP GROUP g c STREAMS s + ",
        "XREADGROUP GROUP g c STREAMS s bad",
        "XREADGROUP GROUP g c STREAMS s a 0",
        "XREAD STREAMS s >",
        "XREAD STREAMS s +",
        "XREAD STREAMS s $",
        "XREAD COUNT 1 STREAMS s 0",
        "XREAD STREAMS s nokey 0 0",
        "XREAD STREAMS nokey s 0 1-1",
        "XREAD STREAMS s 3-1",
        "XREAD STREAMS s 18446744073709551615-18446744073709551615",
        "XREAD BLOCK -1 STREAMS s 0",
        "XREAD BLOCK x STREAMS s 0",
        "XREAD BLOCK 0 STREAMS s 0",
        "XREAD BLOCK 10 STREAMS s $",
        "XREAD COUNT -1 STREAMS s 0",
        "XREAD COUNT 0 STREAMS s 0",
        "XREAD NOACK STREAMS s 0",
        "XREAD GROUP g c STREAMS s 0",
        "XREAD FOO STREAMS s 0",
        "XREAD STREAMS",
        "XREAD STREAMS s",
        "XREAD STREAMS s 1 2",
        "XREAD COUNT 1",
        "XREADGROUP GROUP g STREAMS s 0",
        "XACK s g 1-1 9-9",
        "XACK s g bad",
        "XACK s nog 1-1",
        "XACK nokey g 1-1",
        "XINFO CONSUMERS s nog",
        "XINFO CONSUMERS nokey g",
        "XINFO STREAM s FOO",
        "XINFO STREAM s FULL COUNT",
        "XINFO STREAM s FULL FOO 1",
        "XINFO STREAM s FULL COUNT x",
        "XINFO STREAM nokey",
        "XINFO GROUPS nokey",
        "XINFO HELP",
        "XINFO FOO",
        "XINFO",
        "XINFO GROUPS s",
        "XPENDING s g",
        "XPENDING s g IDLE 0 - +",
        "XPENDING s g IDLE 0 - + 5 c x y",
        "XPENDING s g IDLE",
        "XPENDING s g - + 5 c x y z",
        "XPENDING s g x + 5",
        "XPENDING s g - x 5",
        "XPENDING s g - + x",
        "XPENDING s g IDLE x - + 10",
        "XPENDING s g - +",
        "XPENDING s g - + -1",
        "XPENDING s g - + 0",
        "XPENDING s nog",
        "XPENDING nokey g",
        "XPENDING s g IDLE 1000000 - + 10",
        "XPENDING s g - + 10 nobody",
        "XPENDING s g2",
    ]);
    check_masked(&mut p, "XPENDING s g - + 10");
    check_masked(&mut p, "XPENDING s g - + 5 c x");
    check_masked(&mut p, "XPENDING s g - + 5 c x y");
    check_masked(&mut p, "XPENDING s g (1-1 + 10 c");
    check_masked(&mut p, "XPENDING s g IDLE 0 - + 10 c");
    // Deleted entries in history reads; delivery counts.
    p.check_all(&["XGROUP CREATE s h 0", "XREADGROUP GROUP h c STREAMS s >", "XDEL s 1-1"]);
    p.check_all(&[
        "XREADGROUP GROUP h c STREAMS s 0",
        "XREADGROUP GROUP h c COUNT 1 STREAMS s 0",
        "XREADGROUP GROUP h c COUNT 0 STREAMS s 0",
        "XPENDING s h",
        "XINFO GROUPS s",
        "XADD s 4-1 d 4",
        "XREADGROUP GROUP h c2 NOACK STREAMS s >",
        "XPENDING s h",
        "XINFO GROUPS s",
        "XGROUP SETID s h 0",
        "XREADGROUP GROUP h c3 STREAMS s >",
        "XPENDING s h",
        "XINFO GROUPS s",
        "XGROUP DELCONSUMER s h c",
        "XPENDING s h",
    ]);
    check_masked(&mut p, "XPENDING s h - + 10");
    check_masked(&mut p, "XINFO STREAM s FULL");
    check_masked(&mut p, "XINFO STREAM s FULL COUNT 1");
    check_masked(&mut p, "XINFO STREAM s FULL COUNT 0");
}

/// `lag` and `entries-read` (Redis 7) through adds, deletes and SETID.
#[test]
fn lag_and_entries_read() {
    let mut p = Pair::new();
    for i in 1..=5 {
        p.check(&format!("XADD s {i}-0 f v"));
    }
    p.check_all(&[
        "XGROUP CREATE s a $",
        "XGROUP CREATE s b 1-0",
        "XGROUP CREATE s c 0",
        "XGROUP CREATE s d 9-0",
        "XGROUP CREATE s e 0 ENTRIESREAD 2",
        "XINFO GROUPS s",
        "XREADGROUP GROUP c x COUNT 2 STREAMS s >",
        "XINFO GROUPS s",
        "XDEL s 4-0",
        "XINFO GROUPS s",
        "XREADGROUP GROUP c x STREAMS s >",
        "XINFO GROUPS s",
        "XDEL s 1-0",
        "XINFO GROUPS s",
        "XADD s 6-0 f v",
        "XINFO GROUPS s",
        "XTRIM s MAXLEN 1",
        "XINFO GROUPS s",
        "XGROUP SETID s a 0 ENTRIESREAD 0",
        "XINFO GROUPS s",
        "XINFO STREAM s",
    ]);
}

#[test]
fn claims() {
    let mut p = Pair::new();
    p.check_all(&[
        "XADD s 1-1 a 1",
        "XADD s 2-1 b 2",
        "XADD s 3-1 c 3",
        "XADD s 4-1 d 4",
        "XGROUP CREATE s g 0",
        "XREADGROUP GROUP g c STREAMS s >",
        "XCLAIM s g d 0 1-1",
        "XCLAIM s g d 0 1-1 JUSTID",
        "XCLAIM s g d 0 1-1 9-9 FORCE",
        "XCLAIM s g d 0 2-1 IDLE 5000 RETRYCOUNT 7",
        "XCLAIM s g d 0 2-1 LASTID 50-0",
        "XINFO GROUPS s",
        "XCLAIM s g d x 2-1",
        "XCLAIM s g d -1 2-1",
        "XCLAIM s g d 0 2-1 IDLE x",
        "XCLAIM s g d 0 2-1 IDLE -1",
        "XCLAIM s g d 0 2-1 TIME x",
        "XCLAIM s g d 0 2-1 RETRYCOUNT x",
        "XCLAIM s g d 0 2-1 RETRYCOUNT -1",
        "XCLAIM s g d 0 2-1 LASTID bad",
        "XCLAIM s g d 0 2-1 FOO",
        "XCLAIM s g d 0 2-1 IDLE",
        "XCLAIM s g d 0 bad",
        "XCLAIM s nog d 0 2-1",
        "XCLAIM nokey g d 0 2-1",
        "XCLAIM nokey g d x 2-1",
        "XCLAIM s g d 100000 2-1",
        "XCLAIM s g e 0 2-1 JUSTID",
        "XDEL s 2-1",
        "XCLAIM s g d 0 2-1",
        "XGROUP CREATE s g2 $",
        "XCLAIM s g2 d 0 3-1",
        "XCLAIM s g2 d 0 3-1 FORCE",
        "XCLAIM s g2 d 0 4-1 FORCE JUSTID",
        "XPENDING s g2",
        "XAUTOCLAIM s g z 0 0 COUNT 1",
        "XAUTOCLAIM s g z 0 0",
        "XAUTOCLAIM s g z 0 0 COUNT 0",
        "XAUTOCLAIM s g z 0 0 COUNT -1",
        "XAUTOCLAIM s g z 0 0 COUNT 100000000",
        "XAUTOCLAIM s g z 0 0 COUNT 9223372036854775807",
        "XAUTOCLAIM s g z 0 0 JUSTID",
        "XAUTOCLAIM s g z 0 0 FOO",
        "XAUTOCLAIM s g z 0 0 COUNT",
        "XAUTOCLAIM s g z x 0",
        "XAUTOCLAIM s g z -1 0",
        "XAUTOCLAIM s g z 0 bad",
        "XAUTOCLAIM s nog z 0 0",
        "XAUTOCLAIM nokey g z 0 0",
        "XAUTOCLAIM nokey g z x 0",
        "XAUTOCLAIM s g z 0 (0",
        "XAUTOCLAIM s g z 0 -",
        "XAUTOCLAIM s g z 0 +",
        "XAUTOCLAIM s g z 100000 0",
        "XDEL s 3-1",
        "XAUTOCLAIM s g y 0 0",
        "XPENDING s g",
    ]);
    check_masked(&mut p, "XPENDING s g - + 10");
    check_masked(&mut p, "XPENDING s g2 - + 10");
}

#[test]
fn resp3_replies() {
    let mut p = Pair::new();
    p.resp3();
    p.check_all(&[
        "XADD s 1-1 a 1",
        "XADD s 2-1 b 2",
        "XREAD STREAMS s 0",
        "XREAD STREAMS s nokey 0 0",
        "XREAD STREAMS s 5",
        "XADD n NOMKSTREAM * f v",
        "XINFO STREAM s",
        "XGROUP CREATE s g 0",
        "XREADGROUP GROUP g c STREAMS s >",
        "XREADGROUP GROUP g c STREAMS s >",
        "XREADGROUP GROUP g c STREAMS s 0",
        "XDEL s 1-1",
        "XREADGROUP GROUP g c STREAMS s 0",
        "XINFO GROUPS s",
        "XPENDING s g",
        "XGROUP CREATE s g2 0",
        "XPENDING s g2",
        "XADD e MAXLEN 0 1-1 f v",
        "XINFO STREAM e",
    ]);
    check_masked(&mut p, "XINFO STREAM s FULL");
}

/// Redis 7.2 fields (asserted directly: the 7.0 oracle lacks them): XINFO CONSUMERS `inactive`
/// and XINFO STREAM FULL `active-time`.
#[test]
fn redis72_consumer_fields() {
    let s = start_redstart(&[]);
    let mut c = Conn::connect(s.port);
    c.run("XADD s 1-1 f v");
    c.run("XGROUP CREATE s g 0");
    c.run("XGROUP CREATECONSUMER s g idle");
    c.run("XREADGROUP GROUP g busy STREAMS s >");
    let r = String::from_utf8(c.run("XINFO CONSUMERS s g")).unwrap();
    // busy has been active; idle never was (-1).
    assert!(r.starts_with("*2\r\n*8\r\n$4\r\nname\r\n$4\r\nbusy\r\n$7\r\npending\r\n:1\r\n$4\r\nidle\r\n:"), "{r}");
    assert!(r.contains("$8\r\ninactive\r\n:-1\r\n"), "{r}");
    let full = String::from_utf8(c.run("XINFO STREAM s FULL")).unwrap();
    assert!(full.contains("$11\r\nactive-time\r\n:-1\r\n"), "{full}");
    assert!(full.contains("$9\r\nseen-time\r\n"), "{full}");
}

/// XREAD/XREADGROUP with BLOCK reply at once when data is there (true blocking is tested in
/// tests/blocking_zset_stream.rs).
#[test]
fn block_with_data_replies_at_once() {
    let mut p = Pair::new();
    p.check_all(&[
        "XADD s 1-1 f v",
        "XREAD BLOCK 0 STREAMS s 0",
        "XGROUP CREATE s g 0",
        "XREADGROUP GROUP g c BLOCK 0 STREAMS s >",
        "XREADGROUP GROUP g c BLOCK 0 STREAMS s 0",
        "XREAD BLOCK 20 STREAMS s $",
        "XREADGROUP GROUP g c BLOCK 20 STREAMS s >",
    ]);
}

#[test]
fn xread_keys_lock_the_right_shards() {
    let mut p = Pair::new();
    for k in ["a", "b", "c", "d", "e", "f"] {
        p.check(&format!("XADD {k} 1-1 k {k}"));
    }
    p.check("XREAD COUNT 1 STREAMS a b c d e f 0 0 0 0 0 0");
    p.check("XREAD COUNT 1 STREAMS streams b STREAMS 0 0 0");
    p.check("COMMAND GETKEYS XREAD COUNT 1 STREAMS a b 0 0");
    p.check("COMMAND GETKEYS XREADGROUP GROUP g c STREAMS a b > >");
    p.check("COMMAND INFO XREAD");
}

/// Option values that look like the STREAMS keyword must not confuse key extraction (the
/// dispatcher locks exactly the keys the handler reads).
#[test]
fn streams_keyword_as_option_value() {
    let mut p = Pair::new();
    p.check_all(&[
        "XADD s 1-1 f v",
        "XADD c 1-1 f v",
        "XGROUP CREATE s streams 0",
        "XREADGROUP GROUP streams c STREAMS s >",
        "XREADGROUP GROUP streams STREAMS STREAMS s 0",
        "XREAD COUNT streams STREAMS s 0",
        "XREAD STREAMS streams 0",
        "XREAD BLOCK 0 COUNT 1 STREAMS s c 0 0",
    ]);
}

#[test]
fn expiry_copy_rename_and_edge_cases() {
    let mut p = Pair::new();
    p.check_all(&[
        "XADD s 1-1 f v",
        "XGROUP CREATE s g 0",
        "XREADGROUP GROUP g c STREAMS s >",
        "COPY s s2",
        "XINFO GROUPS s2",
        "XPENDING s2 g",
        "RENAME s2 s3",
        "XLEN s3",
        "TYPE s3",
        "PEXPIRE s 1",
    ]);
    std::thread::sleep(std::time::Duration::from_millis(20));
    p.check_all(&[
        "XLEN s",
        "XINFO STREAM s",
        "XREAD STREAMS s 0",
        "XREADGROUP GROUP g c STREAMS s >",
        "XGROUP CREATE newkey g bad MKSTREAM",
        "EXISTS newkey",
        "XGROUP CREATE newkey g 5-5 MKSTREAM",
        "XINFO STREAM newkey",
        "XINFO GROUPS newkey",
    ]);
    // XAUTOCLAIM gives up after COUNT*10 attempts over deleted entries and returns a cursor.
    for i in 1..=30 {
        p.check(&format!("XADD d {i}-1 f v"));
    }
    p.check("XGROUP CREATE d g 0");
    p.check("XREADGROUP GROUP g c STREAMS d >");
    for i in 1..=25 {
        p.check(&format!("XDEL d {i}-1"));
    }
    p.check_all(&[
        "XAUTOCLAIM d g c2 0 0 COUNT 1",
        "XAUTOCLAIM d g c2 0 0 COUNT 1",
        "XAUTOCLAIM d g c2 0 0 COUNT 2 JUSTID",
        "XPENDING d g",
        "XCLAIM d g c3 0 1-1 26-1 27-1 JUSTID",
        "XPENDING d g",
    ]);
}

/// PEL idle times and delivery counts are exact: IDLE/TIME/RETRYCOUNT set them, each delivery
/// counts once, and idle grows with the clock.
#[test]
fn pel_idle_and_counts_are_exact() {
    let s = start_redstart(&[]);
    let mut c = Conn::connect(s.port);
    c.run("XADD s 1-1 f v");
    c.run("XGROUP CREATE s g 0");
    c.run("XREADGROUP GROUP g a STREAMS s >");
    c.run("XREADGROUP GROUP g a STREAMS s 0");
    c.run("XCLAIM s g b 0 1-1 IDLE 5000");
    let r = String::from_utf8(c.run("XPENDING s g - + 10")).unwrap();
    let parts: Vec<&str> = r.split("\r\n").collect();
    // *1 *4 $3 1-1 $1 b :idle :count
    assert_eq!(parts[5], "b", "{r}");
    let idle: i64 = parts[6][1..].parse().unwrap();
    assert!((5000..6000).contains(&idle), "{r}");
    assert_eq!(parts[7], ":3", "{r}");
    c.run("XCLAIM s g b 0 1-1 TIME 1000 RETRYCOUNT 9 JUSTID");
    let r = String::from_utf8(c.run("XPENDING s g - + 10")).unwrap();
    let parts: Vec<&str> = r.split("\r\n").collect();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let idle: i64 = parts[6][1..].parse().unwrap();
    assert!((now - 1000 - idle).abs() < 5000, "{r}");
    assert_eq!(parts[7], ":9", "{r}");
    std::thread::sleep(std::time::Duration::from_millis(30));
    c.run("XCLAIM s g b 0 1-1");
    std::thread::sleep(std::time::Duration::from_millis(30));
    let r = String::from_utf8(c.run("XPENDING s g IDLE 25 - + 10")).unwrap();
    assert!(r.contains(":10\r\n"), "{r}");
}

/// Subscribes fresh connections to both servers on every keyspace and keyevent channel, plus
/// `stop` (the end marker of each batch).
fn subscribers(p: &Pair) -> (Conn, Conn) {
    let (mut a, mut b) = p.conns();
    for c in [&mut a, &mut b] {
        c.run("PSUBSCRIBE __key*__:*");
        c.run("SUBSCRIBE stop");
    }
    (a, b)
}

/// Frames a subscriber received up to the `stop` message carrying `tag`.
fn frames_until(c: &mut Conn, tag: &str) -> Vec<String> {
    let mut v = Vec::new();
    loop {
        let f = String::from_utf8_lossy(&c.read_reply()).replace("\r\n", "\\r\\n");
        let done = f.contains("$4\\r\\nstop\\r\\n") && f.ends_with(&format!("{tag}\\r\\n"));
        v.push(f);
        if done {
            return v;
        }
    }
}

/// Runs `lines` on both servers and compares the notifications the subscribers received.
fn notifications(p: &mut Pair, subs: &mut (Conn, Conn), lines: &[&str], tag: &str) {
    for l in lines {
        p.check(l);
    }
    p.check(&format!("PUBLISH stop {tag}"));
    let ours = frames_until(&mut subs.0, tag);
    let theirs = frames_until(&mut subs.1, tag);
    assert_eq!(ours, theirs, "notifications for {lines:?} (left: redstart, right: redis-server)");
    assert!(ours.len() > 1, "no event at all for {lines:?}");
}

/// Class `t` events (and the generic/new ones around them), compared with redis-server. XCLAIM
/// and XAUTOCLAIM raise no event of their own in Redis (only `xgroup-createconsumer` when they
/// create the consumer). An XCLAIM that claims nothing creates its consumer in Redis 7.2 (which
/// updates its seen-time) but not in 7.0: left out of the comparison, asserted below.
#[test]
fn keyspace_notifications() {
    let mut p = Pair::new();
    p.check("CONFIG SET notify-keyspace-events KEA");
    let mut subs = subscribers(&p);
    let groups: &[&[&str]] = &[
        &["XADD s 1-1 a 1", "XADD s 2-1 a 1", "XADD s NOMKSTREAM 3-1 a 1", "XADD nos NOMKSTREAM 3-1 a 1"],
        &["XADD s MAXLEN 2 4-1 a 1", "XADD s MAXLEN 10 5-1 a 1", "XADD s 1-0 a 1", "XADD s MINID 0 6-1 a 1"],
        &["XTRIM s MAXLEN 10", "XTRIM s MAXLEN 1", "XTRIM nos MAXLEN 0", "XDEL s 1-1", "XDEL s 6-1"],
        &["XADD s 7-1 a 1", "XGROUP CREATE s g 0", "XGROUP CREATE s g 0", "XGROUP CREATE nos2 g 0 MKSTREAM"],
        &["XGROUP CREATECONSUMER s g c1", "XGROUP CREATECONSUMER s g c1", "XGROUP CREATECONSUMER s nog c1"],
        &["XREADGROUP GROUP g c2 STREAMS s >", "XREADGROUP GROUP g c3 COUNT 1 STREAMS s 0"],
        &["XREADGROUP GROUP g c9 STREAMS s >", "XREADGROUP GROUP g c3 NOACK STREAMS s >", "XADD s 8-1 b 2"],
        &["XCLAIM s g c4 0 7-1", "XCLAIM s g c4 0 9-1", "XCLAIM s g c4 0 7-1 JUSTID"],
        &["XAUTOCLAIM s g c6 0 0", "XAUTOCLAIM s g c6 0 0 COUNT 1 JUSTID", "XAUTOCLAIM s g c7 0 0"],
        &["XGROUP DELCONSUMER s g c6", "XGROUP DELCONSUMER s g nobody", "XGROUP SETID s g 0"],
        &["XGROUP SETID s g $ ENTRIESREAD 1", "XSETID s 99-1", "XSETID s 1-1", "XACK s g 7-1"],
        &["XGROUP DESTROY s g", "XGROUP DESTROY s g", "DEL s", "XREAD STREAMS nos2 0"],
        &["SET str x", "XADD str 1-1 a 1", "XGROUP CREATE str g $"],
    ];
    for (i, g) in groups.iter().enumerate() {
        notifications(&mut p, &mut subs, g, &format!("stream{i}"));
    }
    // Only the t class, keyspace only.
    p.check("CONFIG SET notify-keyspace-events Kt");
    notifications(&mut p, &mut subs, &["XADD q 1-1 a 1", "XDEL q 1-1", "DEL q", "XADD q 2-2 a 1"], "class");
}

/// Redis 7.2: XCLAIM creates (and raises `xgroup-createconsumer` for) its consumer even when it
/// claims nothing, since every attempt updates the consumer's seen-time. Checked on redstart.
#[test]
fn xclaim_creates_its_consumer_as_redis_7_2() {
    let ours = start_redstart(&[]);
    let mut c = Conn::connect(ours.port);
    let mut sub = Conn::connect(ours.port);
    c.run("CONFIG SET notify-keyspace-events KEA");
    sub.run("SUBSCRIBE __keyevent@0__:xgroup-createconsumer");
    c.run("XADD s 1-1 a 1");
    c.run("XGROUP CREATE s g 0");
    assert_eq!(c.run("XCLAIM s g c5 0 1-1"), b"*0\r\n");
    assert_eq!(sub.read_reply(), b"*3\r\n$7\r\nmessage\r\n$36\r\n__keyevent@0__:xgroup-createconsumer\r\n$1\r\ns\r\n");
    assert_eq!(c.run("XGROUP CREATECONSUMER s g c5"), b":0\r\n");
}

/// `XADD ... MAXLEN ~ n` many times: approximate trimming drops whole nodes only, so XLEN,
/// `radix-tree-keys`, `first-entry` and `entries-added` after it depend on where nodes end. Our
/// nodes follow Redis's rules (`stream-node-max-entries` counting deleted entries,
/// `stream-node-max-bytes` against the node's listpack size plus the new strings), so they match
/// Redis exactly: with the entry rule (small entries), with the byte rule (values of many sizes,
/// integer-like values that a listpack stores as integers), with different field names per
/// entry, after XDELs, and after CONFIG SET of both limits.
#[test]
fn approximate_trimming_follows_redis_nodes() {
    let mut p = Pair::new();
    // Entry-count rule.
    for i in 1..=1200 {
        let r = p.check(&format!("XADD s MAXLEN ~ 250 {i}-1 f v"));
        assert_eq!(r, format!("${}\r\n{i}-1\r\n", format!("{i}-1").len()).into_bytes());
        if i % 97 == 0 {
            p.check_all(&["XLEN s", "XINFO STREAM s"]);
        }
    }
    p.check_all(&["XLEN s", "XINFO STREAM s"]);
    // Byte rule: values from 0 to ~2 KB, some integer-like, some field names differing.
    for i in 1..=800u64 {
        let id = format!("{i}-{}", i % 3);
        let big = "x".repeat((i * 37 % 700) as usize + if i % 50 == 0 { 1500 } else { 0 });
        let num = format!("{}", (i as i64 * 7919) * if i % 2 == 0 { -1 } else { 1 } * (1i64 << (i % 40)));
        let field = if i % 9 == 0 { "other" } else { "f" };
        let args: Vec<&[u8]> = vec![
            b"XADD",
            b"b",
            b"MAXLEN",
            b"~",
            b"40",
            id.as_bytes(),
            field.as_bytes(),
            big.as_bytes(),
            b"n",
            num.as_bytes(),
        ];
        p.check_args(&args);
        if i % 13 == 0 {
            p.check_all(&["XLEN b", "XINFO STREAM b"]);
        }
    }
    // XDEL'd entries still count towards a node's entries; trimming then drops nodes with holes.
    for i in 1..=300 {
        p.check(&format!("XADD d MAXLEN ~ 120 {i}-1 f {i}"));
        if i % 4 == 0 {
            p.check(&format!("XDEL d {}-1", i - 1));
        }
        if i % 29 == 0 {
            p.check_all(&["XLEN d", "XINFO STREAM d"]);
        }
    }
    // MINID ~ drops a node only when its last entry is below the minimum.
    for i in 1..=400 {
        p.check(&format!("XADD m MINID ~ {} {i}-1 f v", i.max(150) - 150));
        if i % 31 == 0 {
            p.check_all(&["XLEN m", "XINFO STREAM m"]);
        }
    }
    // Other limits, set at run time.
    p.check_all(&["CONFIG SET stream-node-max-entries 7", "CONFIG SET stream-node-max-bytes 300"]);
    for i in 1..=300u64 {
        let v = "y".repeat((i * 13 % 90) as usize);
        p.check(&format!("XADD c MAXLEN ~ 30 {i}-1 f {v} g {i}"));
        if i % 17 == 0 {
            p.check_all(&["XLEN c", "XINFO STREAM c"]);
        }
    }
    // Without an entry limit per node, the default LIMIT of `~` is 10000 entries (else 100
    // times the entry limit): 10,100 entries in nodes of a few entries, pipelined.
    p.check_all(&["CONFIG SET stream-node-max-entries 0", "CONFIG SET stream-node-max-bytes 100"]);
    for chunk in 0..101 {
        let mut raw = Vec::new();
        for i in chunk * 100 + 1..=chunk * 100 + 100 {
            let id = format!("{i}-1");
            raw.extend_from_slice(
                format!("*5\r\n$4\r\nXADD\r\n$3\r\nbig\r\n${}\r\n{id}\r\n$1\r\nf\r\n$1\r\nv\r\n", id.len()).as_bytes(),
            );
        }
        p.a.send_raw(&raw);
        p.b.send_raw(&raw);
        for _ in 0..100 {
            assert_eq!(p.a.read_reply(), p.b.read_reply());
        }
    }
    p.check_all(&["XLEN big", "XINFO STREAM big", "XTRIM big MAXLEN ~ 0", "XLEN big", "XTRIM big MAXLEN ~ 0 LIMIT 50"]);
    p.check_all(&["XLEN big", "XADD big MAXLEN ~ 0 20000-1 f v", "XLEN big", "XINFO STREAM big"]);
    p.check_all(&["CONFIG SET stream-node-max-entries 0", "CONFIG SET stream-node-max-bytes 0"]);
    for i in 1..=50 {
        p.check(&format!("XADD z MAXLEN ~ 10 {i}-1 f v"));
    }
    p.check_all(&["XLEN z", "XINFO STREAM z"]);
}
