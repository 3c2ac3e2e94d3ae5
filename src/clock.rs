//! Wall-clock readings shared by every layer: Unix time in milliseconds and microseconds.
//!
//! The keyspace, the logger, persistence and the commands all read time through here. A
//! command reads the clock twice (its start, which is also its `now`, and its end, for
//! `commandstats`), so the reading is on the hot path of every request: it is the system's
//! wall clock at most once per millisecond per thread, and in between that reading advanced by
//! the CPU's time-stamp counter (`quanta`, which falls back to the OS's monotonic clock where
//! the counter is not usable). Within a millisecond the two clocks cannot drift apart by more
//! than NTP's slew rate allows (0.5 µs), and a step of the wall clock is seen within 1 ms.

use std::cell::Cell;
use std::time::{SystemTime, UNIX_EPOCH};

/// How long a thread's anchor (a wall-clock reading and the counter at that moment) serves.
const ANCHOR_US: u64 = 1000;

thread_local! {
    static ANCHOR: Cell<Option<(u64, quanta::Instant)>> = const { Cell::new(None) };
}

fn system_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0)
}

/// Unix time in microseconds (one clock reading gives a command both its `now` and its start).
#[inline]
pub fn now_us() -> u64 {
    let tick = quanta::Instant::now();
    ANCHOR.with(|anchor| {
        if let Some((unix, at)) = anchor.get() {
            let since = tick.saturating_duration_since(at);
            let us = since.as_secs() * 1_000_000 + u64::from(since.subsec_micros());
            if us < ANCHOR_US {
                return unix + us;
            }
        }
        let unix = system_us();
        anchor.set(Some((unix, tick)));
        unix
    })
}

/// Wall-clock time in Unix milliseconds.
#[inline]
pub fn now_ms() -> u64 {
    now_us() / 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_system_clock() {
        for _ in 0..2000 {
            let before = system_us();
            let ours = now_us();
            let after = system_us();
            // Within an anchor's life (1 ms) of the system clock: a step of the wall clock (a
            // VM's clock being corrected) shows only at the next anchor.
            assert!(ours + 2 * ANCHOR_US >= before && ours <= after + 2 * ANCHOR_US, "{before} {ours} {after}");
            std::thread::sleep(std::time::Duration::from_micros(97));
        }
        let a = now_ms();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let b = now_ms();
        assert!((19..=60).contains(&(b - a)), "{a} {b}");
    }
}
