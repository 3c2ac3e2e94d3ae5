//! LATENCY against redis-server: the monitor off by default (DOCTOR's refusal, empty LATEST),
//! on with `latency-monitor-threshold`: a DEBUG SLEEP spike recorded under `command`, LATEST,
//! HISTORY, GRAPH and DOCTOR (with the advice that depends on the slow log's settings) in
//! Redis's words and layout, RESET, and the errors. Numbers (times, milliseconds) depend on each
//! server's clock and are compared as shapes where a spike is involved.

mod common;
use common::*;

/// A reply with every run of digits replaced by `N`.
fn shape(r: &[u8]) -> String {
    let mut out = String::new();
    let mut digits = false;
    for c in String::from_utf8_lossy(r).chars() {
        if c.is_ascii_digit() {
            if !digits {
                out.push('N');
            }
            digits = true;
        } else {
            digits = false;
            out.push(c);
        }
    }
    out
}

#[test]
fn latency_monitor_matches_redis() {
    let mut p = Pair::with_args(&["--enable-debug-command", "yes"]);
    p.check_all(&[
        "LATENCY LATEST",
        "LATENCY HISTORY command",
        "LATENCY RESET",
        "LATENCY DOCTOR",
        "LATENCY GRAPH command",
        "LATENCY HISTORY",
        "LATENCY foo",
        // A threshold no ordinary command reaches, even on a loaded machine, and one spike
        // well above it.
        "CONFIG SET latency-monitor-threshold 150",
        // Enabled, nothing recorded yet.
        "LATENCY DOCTOR",
        "DEBUG SLEEP 0.3",
        "LATENCY GRAPH nosuch",
        "LATENCY HISTORY nosuch",
    ]);
    for line in ["LATENCY LATEST", "LATENCY HISTORY command", "LATENCY GRAPH command", "LATENCY DOCTOR"] {
        let (a, b) = p.both(line);
        assert_eq!(shape(&a), shape(&b), "{line}: redstart {} / redis {}", text(&a), text(&b));
    }
    let (a, _) = p.both("LATENCY LATEST");
    assert!(text(&a).contains("command") && reply_items(&a).len() == 4, "{}", text(&a));
    // DOCTOR's advice follows the slow log's configuration.
    for slowlog in ["-1", "0", "1000000"] {
        p.check(&format!("CONFIG SET slowlog-log-slower-than {slowlog}"));
        let (a, b) = p.both("LATENCY DOCTOR");
        assert_eq!(shape(&a), shape(&b), "slowlog {slowlog}: redstart {} / redis {}", text(&a), text(&b));
    }
    p.check_all(&["LATENCY RESET command foo", "LATENCY LATEST", "LATENCY RESET", "LATENCY DOCTOR"]);
    // RESP3: DOCTOR and GRAPH are verbatim strings.
    p.resp3();
    p.check("LATENCY DOCTOR");
}

#[test]
fn command_info_matches_redis() {
    let mut p = Pair::new();
    p.check("COMMAND INFO latency|latest latency|history latency|reset latency|graph latency|doctor latency|help");
}
