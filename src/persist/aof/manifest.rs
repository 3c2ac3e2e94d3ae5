//! The AOF directory and its manifest: `<dir>/<appenddirname>/<appendfilename>.manifest`, one
//! line per file, `file <name> seq <n> type <b|h|i>` (base, history, incremental), replaced
//! atomically (temporary file, fsync, rename, fsync of the directory).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;

use crate::server::Server;

/// One manifest line.
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestEntry {
    pub name: String,
    pub seq: u64,
    pub kind: u8,
}

/// The manifest as last written (or read), with the AOF directory and the file name prefix.
pub struct Manifest {
    pub dir: PathBuf,
    pub fname: String,
    pub entries: Vec<ManifestEntry>,
}

impl Manifest {
    /// The manifest of `server`'s AOF directory as it is on disk (empty when there is none).
    pub fn read(server: &Server) -> Result<Manifest, String> {
        let (dir, fname) = aof_dir(server);
        let path = dir.join(format!("{fname}.manifest"));
        let entries = match std::fs::read_to_string(&path) {
            Ok(text) => parse_manifest(&text)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(format!("Can't open the AOF manifest file {}: {e}", path.display())),
        };
        Ok(Manifest { dir, fname, entries })
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(format!("{}.manifest", self.fname))
    }

    /// The next sequence number for a file of `kind` (`b` or `i`).
    pub fn next_seq(&self, kind: u8) -> u64 {
        self.entries.iter().filter(|e| e.kind == kind).map(|e| e.seq).max().unwrap_or(0) + 1
    }

    /// Writes `entries` as the manifest (atomically) and keeps them.
    pub fn store(&mut self, entries: Vec<ManifestEntry>) -> std::io::Result<()> {
        write_atomically(&self.path(), manifest_text(&entries).as_bytes())?;
        self.entries = entries;
        Ok(())
    }

    /// Total size of the listed files of the given kinds.
    pub fn size(&self, kinds: &[u8]) -> u64 {
        self.entries
            .iter()
            .filter(|e| kinds.contains(&e.kind))
            .map(|e| std::fs::metadata(self.dir.join(&e.name)).map(|m| m.len()).unwrap_or(0))
            .sum()
    }
}

/// The manifest while the AOF is on or a rewrite runs (for BGREWRITEAOF and INFO).
pub static MANIFEST: Mutex<Option<Manifest>> = Mutex::new(None);

/// Parses a manifest (`file <name> seq <n> type <b|h|i>` lines, keys in any order).
pub fn parse_manifest(text: &str) -> Result<Vec<ManifestEntry>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parts: Vec<&str> = line.split_ascii_whitespace().collect();
        if !parts.len().is_multiple_of(2) {
            return Err(format!("Invalid AOF manifest file format at line {}", n + 1));
        }
        let (mut name, mut seq, mut kind) = (None, None, None);
        for kv in parts.chunks(2) {
            match kv[0] {
                "file" => name = Some(kv[1].to_string()),
                "seq" => seq = kv[1].parse::<u64>().ok(),
                "type" if kv[1].len() == 1 => kind = Some(kv[1].as_bytes()[0]),
                _ => {}
            }
        }
        match (name, seq, kind) {
            (Some(name), Some(seq), Some(kind)) if matches!(kind, b'b' | b'h' | b'i') && !name.contains('/') => {
                out.push(ManifestEntry { name, seq, kind })
            }
            _ => return Err(format!("Invalid AOF manifest file format at line {}", n + 1)),
        }
    }
    if out.iter().filter(|e| e.kind == b'b').count() > 1 {
        return Err("Found duplicate base file information in the AOF manifest".into());
    }
    Ok(out)
}

pub fn manifest_text(entries: &[ManifestEntry]) -> String {
    entries.iter().map(|e| format!("file {} seq {} type {}\n", e.name, e.seq, e.kind as char)).collect()
}

/// Replaces `path` with `data` so that a crash leaves either the old or the new content.
pub fn write_atomically(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp-redstart");
    let mut f = File::create(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// The AOF directory (`dir` joined with `appenddirname`) and `appendfilename`.
pub fn aof_dir(server: &Server) -> (PathBuf, String) {
    let c = server.config.read();
    let dir = if c.dir.is_empty() { "." } else { c.dir.as_str() };
    (PathBuf::from(dir).join(&c.appenddirname), c.appendfilename.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_round_trip() {
        let text = "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n";
        let m = parse_manifest(text).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[0], ManifestEntry { name: "appendonly.aof.1.base.rdb".into(), seq: 1, kind: b'b' });
        assert_eq!(manifest_text(&m), text);
        assert!(parse_manifest("file x seq 1\n").is_err());
        assert!(parse_manifest("file ../x seq 1 type i\n").is_err());
        let m = Manifest { dir: PathBuf::new(), fname: "a".into(), entries: m };
        assert_eq!((m.next_seq(b'b'), m.next_seq(b'i')), (2, 2));
    }
}
