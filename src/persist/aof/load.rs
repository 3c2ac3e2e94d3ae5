//! Loading the AOF at start-up: the base (an RDB image, or commands) and the incremental files,
//! in manifest order, each command replayed through a [`Replayer`] (the command layer's
//! dispatcher, handed in by the start-up code: persistence knows nothing of commands).
//!
//! A file that ends inside a command, or inside a `MULTI` without its `EXEC`, is truncated: with
//! `aof-load-truncated yes` and in the last file it is cut at the last complete command (before
//! the `MULTI`, as Redis reverts an incomplete transaction) with a warning; otherwise, as any
//! malformed byte, loading stops with the file, the offset and a hint to run
//! `redstart check-aof --fix <manifest>`. `#` lines (`#TS:` annotations) are skipped.

use std::fs::OpenOptions;
use std::path::Path;
use std::sync::atomic::Ordering;

use super::manifest::ManifestEntry;
use crate::log;
use crate::persist::rdb;
use crate::server::Server;

/// Runs the commands read from the AOF (implemented by the command layer).
pub trait Replayer {
    /// Runs one command. `Err` stops loading with that message (an unknown command).
    fn command(&mut self, args: &[&[u8]]) -> Result<(), String>;
    /// Drops a transaction the file left open (a `MULTI` without its `EXEC` at its end).
    fn drop_transaction(&mut self);
}

/// How reading an AOF's commands ended.
#[derive(Debug, PartialEq)]
pub enum Scan {
    /// Every byte was a complete command.
    Complete,
    /// The file ends inside a command (or an annotation line) that starts at this offset.
    Truncated(usize),
}

/// Reads RESP multibulk commands from `data`, calling `on_cmd` for each. A malformed byte is an
/// error naming its offset; an incomplete last command is [`Scan::Truncated`].
pub fn scan(data: &[u8], mut on_cmd: impl FnMut(&[&[u8]]) -> Result<(), String>) -> Result<Scan, String> {
    scan_at(data, |_, args| on_cmd(args))
}

/// [`scan`], also passing each command's offset to `on_cmd`.
pub fn scan_at(data: &[u8], mut on_cmd: impl FnMut(usize, &[&[u8]]) -> Result<(), String>) -> Result<Scan, String> {
    let mut pos = 0;
    // Reads a `<prefix><digits>\r\n` line at `*p`; Ok(None) = data ends first.
    fn line(data: &[u8], p: &mut usize, prefix: u8) -> Result<Option<usize>, String> {
        let start = *p;
        if start >= data.len() {
            return Ok(None);
        }
        if data[start] != prefix {
            return Err(format!("Bad file format reading the append only file (offset {start})"));
        }
        let Some(nl) = data[start..].windows(2).position(|w| w == b"\r\n") else {
            // Up to 20 digits may still be coming; longer is damage.
            return if data.len() - start > 22 {
                Err(format!("Bad file format reading the append only file (offset {start})"))
            } else {
                Ok(None)
            };
        };
        let digits = &data[start + 1..start + nl];
        let n = std::str::from_utf8(digits)
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
            .filter(|&n| n <= 1 << 40)
            .ok_or_else(|| format!("Bad file format reading the append only file (offset {start})"))?;
        *p = start + nl + 2;
        Ok(Some(n))
    }
    while pos < data.len() {
        let cmd_start = pos;
        if data[pos] == b'#' {
            // An annotation (`#TS:<unix>`): skipped, as Redis's loader does.
            match data[pos..].iter().position(|&b| b == b'\n') {
                Some(nl) => {
                    pos += nl + 1;
                    continue;
                }
                None => return Ok(Scan::Truncated(cmd_start)),
            }
        }
        let mut p = pos;
        let Some(argc) = line(data, &mut p, b'*')? else { return Ok(Scan::Truncated(cmd_start)) };
        if argc == 0 {
            return Err(format!("Bad file format reading the append only file (offset {cmd_start})"));
        }
        let mut args: Vec<&[u8]> = Vec::with_capacity(argc.min(1024));
        for _ in 0..argc {
            let Some(len) = line(data, &mut p, b'$')? else { return Ok(Scan::Truncated(cmd_start)) };
            if data.len() < p + len + 2 {
                return Ok(Scan::Truncated(cmd_start));
            }
            if &data[p + len..p + len + 2] != b"\r\n" {
                return Err(format!("Bad file format reading the append only file (offset {})", p + len));
            }
            args.push(&data[p..p + len]);
            p += len + 2;
        }
        on_cmd(cmd_start, &args).map_err(|e| format!("{e} (command at offset {cmd_start})"))?;
        pos = p;
    }
    Ok(Scan::Complete)
}

/// Loads the base and the incremental files, in manifest order.
pub fn load(server: &Server, dir: &Path, entries: &[ManifestEntry], replay: &mut dyn Replayer) -> Result<(), String> {
    let st = crate::persist::state();
    st.loading.store(true, Ordering::Relaxed);
    let r = load_files(server, dir, entries, replay);
    st.loading.store(false, Ordering::Relaxed);
    if r.is_ok() {
        // The replayed commands are not changes since the last save (as Redis).
        st.dirty.reset();
        log::notice("DB loaded from append only file");
    }
    r
}

fn load_files(server: &Server, dir: &Path, entries: &[ManifestEntry], replay: &mut dyn Replayer) -> Result<(), String> {
    let truncated_ok = server.config.read().get("aof-load-truncated") == "yes";
    let ordered: Vec<&ManifestEntry> =
        entries.iter().filter(|e| e.kind == b'b').chain(entries.iter().filter(|e| e.kind == b'i')).collect();
    let count = ordered.len();
    // Every listed file must exist before any is read (Redis sums their sizes first), so a
    // missing one never leaves a partial dataset loaded.
    for e in &ordered {
        if let Err(err) = std::fs::metadata(dir.join(&e.name)) {
            return Err(format!(
                "Unable to obtain the AOF file {} length. stat: {}",
                e.name,
                crate::config::io_reason(&err)
            ));
        }
    }
    let manifest = dir.join(format!("{}.manifest", server.config.read().appendfilename));
    let fix_hint =
        format!("make a backup of your AOF files, then use `redstart check-aof --fix {}`", manifest.display());
    for (idx, e) in ordered.into_iter().enumerate() {
        let path = dir.join(&e.name);
        let data = std::fs::read(&path).map_err(|err| {
            format!("Unrecoverable error reading the append only file {}: {}", e.name, crate::config::io_reason(&err))
        })?;
        if data.starts_with(b"REDIS") {
            // An RDB base (or preamble): load it as an RDB image.
            let lim = crate::persist::load_limits(server);
            let now = crate::clock::now_ms();
            let mut dup = false;
            let r = rdb::parse_file(&data, &lim, server.keyspace.databases(), |k| {
                if k.expire_at == 0 || k.expire_at > now {
                    dup |= crate::persist::insert(server, k, now).is_err();
                }
            });
            match r {
                Ok(_) if !dup => continue,
                Ok(_) => return Err(format!("Duplicate key found in the AOF base file {}", e.name)),
                Err(err) => return Err(format!("Bad file format reading the append only file {}: {err}", e.name)),
            }
        }
        // Where the transaction being read started: a file that ends before its EXEC (a crash
        // in the middle of writing it) is cut there, as Redis reverts an incomplete MULTI.
        let mut multi_at: Option<usize> = None;
        let scanned = scan_at(&data, |at, args| {
            if args[0].eq_ignore_ascii_case(b"multi") {
                multi_at = Some(at);
            } else if args[0].eq_ignore_ascii_case(b"exec") || args[0].eq_ignore_ascii_case(b"discard") {
                multi_at = None;
            }
            replay.command(args).map_err(|err| format!("{err} reading the append only file {}", e.name))
        });
        let scanned = match (scanned, multi_at) {
            (Ok(_), Some(at)) => {
                log::warning(&format!("Revert incomplete MULTI/EXEC transaction in AOF file {}", e.name));
                // The queued commands are dropped with the transaction.
                replay.drop_transaction();
                Ok(Scan::Truncated(at))
            }
            (r, _) => r,
        };
        match scanned {
            Ok(Scan::Complete) => {}
            Ok(Scan::Truncated(at)) => {
                // Only the last file may end early (the others were complete when closed).
                let is_last = idx + 1 == count;
                if !(truncated_ok && is_last) {
                    return Err(if is_last {
                        format!(
                            "Unexpected end of file reading the append only file {} at offset {at}. You can: 1) {fix_hint}; 2) alternatively set the 'aof-load-truncated' configuration option to yes and restart the server.",
                            e.name
                        )
                    } else {
                        format!(
                            "Unexpected end of file reading the append only file {} at offset {at}, which is not the last AOF file: it cannot be repaired by truncation.",
                            e.name
                        )
                    });
                }
                log::warning(&format!("!!! Warning: short read while loading the AOF file {}!!!", e.name));
                log::warning(&format!(
                    "AOF {} loaded anyway because aof-load-truncated is enabled; truncating it to {at} bytes (valid prefix)",
                    e.name
                ));
                OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .and_then(|f| f.set_len(at as u64))
                    .map_err(|err| format!("Error truncating the AOF file {}: {err}", e.name))?;
            }
            Err(err) => return Err(format!("{err} in {}: {fix_hint}", e.name)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::propagate::encode;

    #[test]
    fn scan_complete_truncated_and_bad() {
        let mut data = Vec::new();
        encode(&mut data, &[&b"SET"[..], b"a", b"1"]);
        encode(&mut data, &[&b"SET"[..], b"b", b"2"]);
        let mut n = 0;
        assert_eq!(
            scan(&data, |_| {
                n += 1;
                Ok(())
            })
            .unwrap(),
            Scan::Complete
        );
        assert_eq!(n, 2);
        let first_len = data.len() / 2;
        for cut in first_len + 1..data.len() {
            let mut n = 0;
            assert_eq!(
                scan(&data[..cut], |_| {
                    n += 1;
                    Ok(())
                })
                .unwrap(),
                Scan::Truncated(first_len)
            );
            assert_eq!(n, 1);
        }
        let mut bad = data.clone();
        bad[first_len] = b'x';
        assert!(scan(&bad, |_| Ok(())).unwrap_err().contains(&format!("offset {first_len}")));
    }

    #[test]
    fn annotations_are_skipped() {
        let mut data = b"#TS:1796672982\r\n".to_vec();
        encode(&mut data, &[&b"SET"[..], b"a", b"1"]);
        data.extend_from_slice(b"#TS:1796672983\r\n");
        encode(&mut data, &[&b"DEL"[..], b"a"]);
        let mut seen = Vec::new();
        assert_eq!(
            scan(&data, |a| {
                seen.push(a[0].to_vec());
                Ok(())
            })
            .unwrap(),
            Scan::Complete
        );
        assert_eq!(seen, vec![b"SET".to_vec(), b"DEL".to_vec()]);
        let cut = data.len() - b"*2\r\n$3\r\nDEL\r\n$1\r\na\r\n".len() - 3;
        assert!(matches!(scan(&data[..cut], |_| Ok(())).unwrap(), Scan::Truncated(_)));
    }
}
