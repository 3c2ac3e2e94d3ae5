//! Wall-clock readings shared by every layer: Unix time in milliseconds and microseconds.
//!
//! The keyspace, the logger, persistence and the commands all read time through here, so that
//! a cheaper clock (a TSC-based one, or one reading shared by a batch) can replace the system
//! call in one place.

use std::time::{SystemTime, UNIX_EPOCH};

/// Wall-clock time in Unix milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Unix time in microseconds (one clock reading gives a command both its `now` and its start).
pub fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0)
}
