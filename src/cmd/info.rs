//! INFO's text: the sections in Redis's order, each written by the family that owns its
//! figures (`cmd::memory` for `# Memory`, `cmd::server` for the others), joined in Redis's
//! format. The INFO command (in `cmd::server`) picks the sections.

use crate::server::Server;

/// Section names in the order Redis emits them.
pub const SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "cluster",
    "keyspace",
];
pub const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
];

/// The INFO text for the given sections (any order, duplicates allowed), in Redis's format:
/// `# Title` headers, `key:value` CRLF lines, a blank line between sections.
pub fn info_text(server: &Server, _db: usize, wanted: &[&str]) -> String {
    let mut out = String::with_capacity(4096);
    for name in SECTIONS.iter().filter(|s| wanted.contains(s)) {
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        if *name == "memory" {
            let cfg = server.config.read();
            super::memory::info_memory(server, &cfg, &mut out);
        } else {
            super::server::info_section(server, name, &mut out);
        }
    }
    out
}

/// `1.37M`-style sizes, as Redis's `bytesToHuman`.
pub fn human(n: u64) -> String {
    let n = n as f64;
    const UNITS: &[(f64, &str)] = &[
        (1024.0, "K"),
        (1024.0 * 1024.0, "M"),
        (1024.0 * 1024.0 * 1024.0, "G"),
        (1024.0 * 1024.0 * 1024.0 * 1024.0, "T"),
    ];
    if n < 1024.0 {
        return format!("{}B", n as u64);
    }
    let mut unit = UNITS[0];
    for u in UNITS {
        if n >= u.0 {
            unit = *u;
        }
    }
    format!("{:.2}{}", n / unit.0, unit.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes() {
        assert_eq!(human(100), "100B");
        assert_eq!(human(1024), "1.00K");
        assert_eq!(human(1_435_984), "1.37M");
    }
}
