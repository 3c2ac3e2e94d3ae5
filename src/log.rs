//! Redis-style log lines: `pid:role dd Mon yyyy hh:mm:ss.mmm <level> message`, written to
//! stdout or, when `logfile` is set, appended to that file (opened per line, as Redis does, so
//! log rotation needs no signal).

use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};

pub const DEBUG: u8 = 0;
pub const VERBOSE: u8 = 1;
pub const NOTICE: u8 = 2;
pub const WARNING: u8 = 3;

static LEVEL: AtomicU8 = AtomicU8::new(NOTICE);
static FILE: parking_lot::Mutex<Option<String>> = parking_lot::Mutex::new(None);

/// Sends log lines to `path` (appended) instead of stdout; `""` means stdout. Fails if the file
/// cannot be opened for appending.
pub fn set_file(path: &str) -> std::io::Result<()> {
    if !path.is_empty() {
        std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    }
    *FILE.lock() = (!path.is_empty()).then(|| path.to_string());
    Ok(())
}

pub fn set_level(level: u8) {
    LEVEL.store(level, Ordering::Relaxed);
}

fn timestamp() -> String {
    let ms = crate::clock::now_ms();
    let secs = (ms / 1000) as i64;
    let (y, mo, d) = civil_from_days(secs.div_euclid(86400));
    let sod = secs.rem_euclid(86400);
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    format!(
        "{:02} {} {} {:02}:{:02}:{:02}.{:03}",
        d,
        MONTHS[(mo - 1) as usize],
        y,
        sod / 3600,
        sod % 3600 / 60,
        sod % 60,
        ms % 1000
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + if m <= 2 { 1 } else { 0 }, m, d)
}

pub fn log(level: u8, msg: &str) {
    if level < LEVEL.load(Ordering::Relaxed) {
        return;
    }
    let mark = match level {
        DEBUG => '.',
        VERBOSE => '-',
        NOTICE => '*',
        _ => '#',
    };
    let line = format!("{}:M {} {} {}\n", std::process::id(), timestamp(), mark, msg);
    let file = FILE.lock();
    match file.as_deref() {
        Some(path) => {
            if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
                let _ = f.write_all(line.as_bytes());
            }
        }
        None => {
            let _ = std::io::stdout().lock().write_all(line.as_bytes());
        }
    }
}

pub fn verbose(msg: &str) {
    log(VERBOSE, msg)
}
pub fn notice(msg: &str) {
    log(NOTICE, msg)
}
pub fn warning(msg: &str) {
    log(WARNING, msg)
}

#[cfg(test)]
mod tests {
    #[test]
    fn civil_dates() {
        assert_eq!(super::civil_from_days(0), (1970, 1, 1));
        assert_eq!(super::civil_from_days(20413), (2025, 11, 21));
    }
}
