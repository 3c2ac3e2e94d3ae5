//! The latency monitor (LATENCY LATEST, HISTORY, RESET, GRAPH, DOCTOR), as Redis keeps it: per
//! event class (`command` for a command that ran at least `latency-monitor-threshold`
//! milliseconds, `fast-command` for a command flagged fast), a ring of 160 per-second samples
//! (two spikes in one second keep the larger) and the all-time maximum. Off while the threshold
//! is 0 (the default); the command path pays one relaxed load.
//!
//! DOCTOR's report and GRAPH's sparkline follow Redis's texts and rendering, for the events
//! redstart records.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::config::Config;

/// Samples kept per event (Redis's `LATENCY_TS_LEN`).
const TS_LEN: usize = 160;

static THRESHOLD_MS: AtomicU64 = AtomicU64::new(0);
/// `slowlog-log-slower-than` and `hz`, which DOCTOR's advice mentions.
static SLOWLOG_US: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(10_000);

#[derive(Clone, Copy, Default)]
struct Sample {
    /// Unix seconds; 0 for an empty slot.
    time: u64,
    latency: u64,
}

struct Series {
    idx: usize,
    max: u64,
    samples: [Sample; TS_LEN],
}

static EVENTS: Mutex<BTreeMap<String, Series>> = parking_lot::const_mutex(BTreeMap::new());

/// Follows `latency-monitor-threshold` (a config subscriber).
pub fn configure(c: &Config) {
    let num = |name: &str, default: i64| c.values.get(name).and_then(|v| v.parse().ok()).unwrap_or(default);
    THRESHOLD_MS.store(num("latency-monitor-threshold", 0).max(0) as u64, Ordering::Relaxed);
    SLOWLOG_US.store(num("slowlog-log-slower-than", 10_000), Ordering::Relaxed);
}

pub fn threshold_ms() -> u64 {
    THRESHOLD_MS.load(Ordering::Relaxed)
}

/// Records a command that ran `duration_us` microseconds if the monitor is on and it reached
/// the threshold (Redis's `latencyAddSampleIfNeeded` in `call`).
#[inline]
pub fn command(fast: bool, duration_us: u64, now_s: u64) {
    let t = THRESHOLD_MS.load(Ordering::Relaxed);
    let ms = duration_us / 1000;
    if t > 0 && ms >= t {
        add(if fast { "fast-command" } else { "command" }, ms, now_s);
    }
}

#[cold]
fn add(event: &str, latency: u64, now: u64) {
    let mut events = EVENTS.lock();
    let ts = events.entry(event.to_string()).or_insert_with(|| Series {
        idx: 0,
        max: 0,
        samples: [Sample::default(); TS_LEN],
    });
    ts.max = ts.max.max(latency);
    let prev = (ts.idx + TS_LEN - 1) % TS_LEN;
    if ts.samples[prev].time == now {
        ts.samples[prev].latency = ts.samples[prev].latency.max(latency);
        return;
    }
    ts.samples[ts.idx] = Sample { time: now, latency };
    ts.idx = (ts.idx + 1) % TS_LEN;
}

/// LATENCY LATEST: (event, time of the latest sample, its latency, all-time max) per event.
pub fn latest() -> Vec<(String, u64, u64, u64)> {
    let events = EVENTS.lock();
    events
        .iter()
        .map(|(name, ts)| {
            let last = ts.samples[(ts.idx + TS_LEN - 1) % TS_LEN];
            (name.clone(), last.time, last.latency, ts.max)
        })
        .collect()
}

/// The samples of `event`, oldest first, as (time, latency); `None` for an unknown event.
pub fn history(event: &[u8]) -> Option<Vec<(u64, u64)>> {
    let events = EVENTS.lock();
    let ts = events.get(std::str::from_utf8(event).ok()?)?;
    Some(
        (0..TS_LEN)
            .map(|j| ts.samples[(ts.idx + j) % TS_LEN])
            .filter(|s| s.time != 0)
            .map(|s| (s.time, s.latency))
            .collect(),
    )
}

/// Forgets every event (`None`) or those named `event` (case-insensitively); how many.
pub fn reset(event: Option<&[u8]>) -> usize {
    let mut events = EVENTS.lock();
    let before = events.len();
    match event {
        None => events.clear(),
        Some(e) => events.retain(|name, _| !name.as_bytes().eq_ignore_ascii_case(e)),
    }
    before - events.len()
}

/// LATENCY GRAPH `event` at `now`: the header, a rule and the sparkline of its samples, or
/// `None` for an unknown event.
pub fn graph(event: &[u8], now: u64) -> Option<String> {
    let events = EVENTS.lock();
    let (name, ts) = events.get_key_value(std::str::from_utf8(event).ok()?)?;
    let mut seq = Vec::new();
    for j in 0..TS_LEN {
        let s = ts.samples[(ts.idx + j) % TS_LEN];
        if s.time == 0 {
            continue;
        }
        let ago = now.saturating_sub(s.time);
        let label = match ago {
            0..60 => format!("{ago}s"),
            60..3600 => format!("{}m", ago / 60),
            3600..86400 => format!("{}h", ago / 3600),
            _ => format!("{}d", ago / 86400),
        };
        seq.push((s.latency, label));
    }
    let (min, max) = seq.iter().fold((u64::MAX, 0), |(lo, hi), &(v, _)| (lo.min(v), hi.max(v)));
    let mut out = format!("{name} - high {max} ms, low {} ms (all time high {} ms)\n", min.min(max), ts.max);
    out.push_str(&"-".repeat(GRAPH_COLS));
    out.push('\n');
    sparkline(&mut out, &seq, GRAPH_COLS, 4);
    Some(out)
}

const GRAPH_COLS: usize = 80;

/// Renders samples as Redis's sparklines with fill (`_o#` over `rows` rows, `|` below the top
/// of a column), `columns` samples per block, each sample's label written downwards under it.
fn sparkline(out: &mut String, seq: &[(u64, String)], columns: usize, rows: usize) {
    const FILL: [char; 3] = ['_', 'o', '#'];
    let min = seq.iter().map(|s| s.0).min().unwrap_or(0) as f64;
    let max = seq.iter().map(|s| s.0).max().unwrap_or(0) as f64;
    let relmax = if max - min == 0.0 { 1.0 } else { max - min };
    let steps = (FILL.len() * rows) as i64;
    for (b, block) in seq.chunks(columns).enumerate() {
        if b != 0 {
            out.push('\n');
        }
        let mut row = 0;
        loop {
            let mut line = vec![' '; block.len()];
            let mut more = false;
            for (j, (value, label)) in block.iter().enumerate() {
                let step = (((*value as f64 - min) * steps as f64) / relmax) as i64;
                let step = step.clamp(0, steps - 1);
                if row < rows {
                    more = true;
                    let idx = step - ((rows - row - 1) * FILL.len()) as i64;
                    if (0..FILL.len() as i64).contains(&idx) {
                        line[j] = FILL[idx as usize];
                    } else if idx >= FILL.len() as i64 {
                        line[j] = '|';
                    }
                } else if row == rows {
                    // One blank line between the graph and the labels.
                    more = true;
                    break;
                } else if let Some(c) = label.chars().nth(row - rows - 1) {
                    more = true;
                    line[j] = c;
                }
            }
            if !more {
                break;
            }
            row += 1;
            out.extend(line);
            out.push('\n');
        }
    }
}

/// Event statistics for DOCTOR: (samples, average, mean absolute deviation, period in seconds).
fn analyze(ts: &Series, now: u64) -> (u64, u64, u64, u64) {
    let live: Vec<Sample> = ts.samples.iter().copied().filter(|s| s.time != 0).collect();
    if live.is_empty() {
        return (0, 0, 0, 0);
    }
    let n = live.len() as u64;
    let avg = live.iter().map(|s| s.latency).sum::<u64>() / n;
    let oldest = live.iter().map(|s| s.time).min().unwrap_or(now);
    let period = now.saturating_sub(oldest).max(1);
    let mad = live.iter().map(|s| (avg as i64 - s.latency as i64).unsigned_abs()).sum::<u64>() / n;
    (n, avg, mad, period)
}

/// Whether the process uses transparent huge pages (`AnonHugePages` in smaps).
fn anon_huge_pages() -> bool {
    std::fs::read_to_string("/proc/self/smaps_rollup")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("AnonHugePages:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()))
        })
        .is_some_and(|kb| kb > 0)
}

/// LATENCY DOCTOR's report at `now`, in Redis's words.
pub fn doctor(now: u64) -> String {
    let events = EVENTS.lock();
    let threshold = THRESHOLD_MS.load(Ordering::Relaxed);
    if events.is_empty() && threshold == 0 {
        return "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may \
                use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't \
                in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n"
            .into();
    }
    let mut report = String::new();
    let (mut slowlog_enabled, mut slowlog_tuning, mut slowlog_inspect) = (false, false, false);
    let (mut scheduler, mut large_objects) = (false, false);
    let mut advices = 0;
    for (i, (name, ts)) in events.iter().enumerate() {
        if i == 0 {
            report.push_str(
                "Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do \
                 you Dave?\n\n",
            );
        }
        let (n, avg, mad, period) = analyze(ts, now);
        report.push_str(&format!(
            "{}. {name}: {n} latency spikes (average {avg}ms, mean deviation {mad}ms, period {:.2} sec). Worst all \
             time event {}ms.",
            i + 1,
            period as f64 / n.max(1) as f64,
            ts.max
        ));
        if name == "command" {
            let slowlog = SLOWLOG_US.load(Ordering::Relaxed);
            if slowlog < 0 {
                slowlog_enabled = true;
                advices += 1;
            } else if (slowlog / 1000) as u64 > threshold {
                slowlog_tuning = true;
                advices += 1;
            }
            slowlog_inspect = true;
            large_objects = true;
            advices += 2;
        }
        if name == "fast-command" {
            scheduler = true;
            advices += 1;
        }
        report.push('\n');
    }
    let thp = anon_huge_pages();
    if thp {
        advices += 1;
    }
    if events.is_empty() && advices == 0 {
        report.push_str(
            "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest \
             bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n",
        );
        return report;
    }
    if advices == 0 {
        report.push_str(
            "\nWhile there are latency events logged, I'm not able to suggest any easy fix. Please use the Redis \
             community to get some help, providing this report in your help request.\n",
        );
        return report;
    }
    report.push_str("\nI have a few advices for you:\n\n");
    let us = threshold * 1000;
    if slowlog_enabled {
        report.push_str(&format!(
            "- There are latency issues with potentially slow commands you are using. Try to enable the Slow Log \
             Redis feature using the command 'CONFIG SET slowlog-log-slower-than {us}'. If the Slow log is disabled \
             Redis is not able to log slow commands execution for you.\n"
        ));
    }
    if slowlog_tuning {
        report.push_str(&format!(
            "- Your current Slow Log configuration only logs events that are slower than your configured latency \
             monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than {us}'.\n"
        ));
    }
    if slowlog_inspect {
        report.push_str(
            "- Check your Slow Log to understand what are the commands you are running which are too slow to \
             execute. Please check https://redis.io/commands/slowlog for more information.\n",
        );
    }
    if scheduler {
        report.push_str(
            "- The system is slow to execute Redis code paths not containing system calls. This usually means the \
             system does not provide Redis CPU time to run for long periods. You should try to:\n  1) Lower the \
             system load.\n  2) Use a computer / VM just for Redis if you are running other software in the same \
             system.\n  3) Check if you have a \"noisy neighbour\" problem.\n  4) Check with 'redis-cli \
             --intrinsic-latency 100' what is the intrinsic latency in your system.\n  5) Check if the problem is \
             allocator-related by recompiling Redis with MALLOC=libc, if you are using Jemalloc. However this may \
             create fragmentation problems.\n",
        );
    }
    if large_objects {
        report.push_str(
            "- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. \
             If you have very large objects that are often deleted, expired, or evicted, try to fragment those \
             objects into multiple smaller objects.\n",
        );
    }
    if thp {
        report.push_str(
            "- I detected a non zero amount of anonymous huge pages used by your process. This creates very serious \
             latency events in different conditions, especially when Redis is persisting on disk. To disable THP \
             support use the command 'echo never > /sys/kernel/mm/transparent_hugepage/enabled', make sure to also \
             add it into /etc/rc.local so that the command will be executed again after a reboot. Note that even if \
             you have already disabled THP, you still need to restart the Redis process to get rid of the huge pages \
             already created.\n",
        );
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_sample_draws_as_redis_draws_it() {
        let mut out = String::new();
        sparkline(&mut out, &[(50, "0s".into())], 80, 4);
        assert_eq!(out, " \n \n \n_\n \n0\ns\n");
        let mut out = String::new();
        sparkline(&mut out, &[(10, "2s".into()), (40, "1s".into()), (25, "0s".into())], 80, 2);
        // Six steps over two rows: 10 → 0, 40 → 5 (capped), 25 → 3 (a full lower row).
        assert_eq!(out, " #_\n_||\n   \n210\nsss\n");
    }
}
