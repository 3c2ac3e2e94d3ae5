//! AOF helpers shared by the propagation tests: redstart and redis-server side by side, each
//! appending to an AOF of its own, and the commands each one logged, parsed and normalised.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::*;

pub type Cmd = Vec<Vec<u8>>;

pub fn aof_args(dir: &Path) -> Vec<String> {
    ["--dir", dir.to_str().unwrap(), "--appendonly", "yes", "--appendfsync", "always"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

pub fn ours(dir: &Path) -> Proc {
    let a = aof_args(dir);
    let mut args: Vec<&str> = a.iter().map(|s| s.as_str()).collect();
    args.extend(["--enable-debug-command", "yes"]);
    start_redstart(&args)
}

pub fn theirs(dir: &Path) -> Proc {
    let a = aof_args(dir);
    let mut args: Vec<&str> = a.iter().map(|s| s.as_str()).collect();
    // DEBUG SET-ACTIVE-EXPIRE, for tests that need lookups to find expired keys first.
    args.extend(["--enable-debug-command", "yes"]);
    let p = start_redis(&args);
    // redis-server answers INFO (the readiness probe) while still loading: wait for commands.
    let mut c = Conn::connect(p.port);
    let start = Instant::now();
    while c.run("PING").starts_with(b"-LOADING") {
        assert!(start.elapsed() < Duration::from_secs(10), "redis-server still loading");
        std::thread::sleep(Duration::from_millis(10));
    }
    p
}

/// The incremental file's bytes (the only one: no rewrite happens in these tests).
pub fn incr(dir: &Path) -> Vec<u8> {
    let ad = dir.join("appendonlydir");
    let mut names: Vec<_> = std::fs::read_dir(&ad)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".incr.aof"))
        .collect();
    names.sort();
    let mut out = Vec::new();
    for n in names {
        out.extend(std::fs::read(ad.join(n)).unwrap());
    }
    out
}

/// Parses RESP multibulk commands (the AOF's format).
pub fn parse(mut data: &[u8]) -> Vec<Cmd> {
    fn line(d: &mut &[u8], prefix: u8) -> usize {
        assert_eq!(d[0], prefix, "bad AOF byte in {:?}", String::from_utf8_lossy(d));
        let nl = d.windows(2).position(|w| w == b"\r\n").unwrap();
        let n = std::str::from_utf8(&d[1..nl]).unwrap().parse().unwrap();
        *d = &d[nl + 2..];
        n
    }
    let mut out = Vec::new();
    while !data.is_empty() {
        if data[0] == b'#' {
            // A `#TS:` annotation.
            let nl = data.iter().position(|&b| b == b'\n').unwrap();
            data = &data[nl + 1..];
            continue;
        }
        let argc = line(&mut data, b'*');
        let mut cmd = Vec::new();
        for _ in 0..argc {
            let len = line(&mut data, b'$');
            cmd.push(data[..len].to_vec());
            data = &data[len + 2..];
        }
        out.push(cmd);
    }
    out
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64
}

/// Replaces Unix-ms times within a day of now by `T`, and stream IDs based on them by `T-n`.
pub fn normalise(cmds: &[Cmd]) -> Vec<String> {
    let now = now_ms();
    let near = |s: &str| s.parse::<u64>().is_ok_and(|v| v.abs_diff(now) < 86_400_000);
    cmds.iter()
        .map(|c| {
            c.iter()
                .map(|a| {
                    let s = String::from_utf8_lossy(a).into_owned();
                    if near(&s) {
                        return "T".to_string();
                    }
                    if let Some((ms, seq)) = s.split_once('-') {
                        // Two IDs generated in one millisecond differ by their sequence:
                        // time-based IDs are compared without it.
                        if near(ms) && seq.parse::<u64>().is_ok() {
                            return "T-n".to_string();
                        }
                    }
                    s
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

pub fn show(cmds: &[Cmd]) -> Vec<String> {
    cmds.iter()
        .map(|c| c.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect::<Vec<_>>().join(" "))
        .collect()
}

/// redstart and redis-server, both logging to an AOF.
pub struct AofPair {
    pub ours: Proc,
    pub theirs: Proc,
    pub a: Conn,
    pub b: Conn,
    pub da: PathBuf,
    pub db: PathBuf,
}

impl AofPair {
    pub fn new(name: &str) -> AofPair {
        let da = tmpdir(&format!("{name}-ours"));
        let db = tmpdir(&format!("{name}-theirs"));
        let o = ours(&da);
        let t = theirs(&db);
        let (a, b) = (Conn::connect(o.port), Conn::connect(t.port));
        AofPair { ours: o, theirs: t, a, b, da, db }
    }

    pub fn logged(&self) -> (Vec<Cmd>, Vec<Cmd>) {
        (parse(&incr(&self.da)), parse(&incr(&self.db)))
    }

    /// Runs `line` on both and asserts both logged the same commands for it (normalised).
    /// Returns what redstart logged for it and its reply.
    pub fn check(&mut self, line: &str) -> (Vec<Cmd>, Vec<u8>) {
        let (ba, bb) = self.logged();
        let ra = self.a.run(line);
        self.b.run(line);
        let (aa, ab) = self.logged();
        let (na, nb) = (&aa[ba.len()..], &ab[bb.len()..]);
        assert_eq!(normalise(na), normalise(nb), "logged for `{line}`: ours {:?} theirs {:?}", show(na), show(nb));
        (na.to_vec(), ra)
    }

    pub fn check_all(&mut self, lines: &[&str]) {
        for l in lines {
            self.check(l);
        }
    }

    /// Runs `line` on both without comparing (setup whose log differs on purpose).
    pub fn both(&mut self, line: &str) -> (Vec<u8>, Vec<u8>) {
        (self.a.run(line), self.b.run(line))
    }
}
