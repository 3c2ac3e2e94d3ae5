//! The memory family: MEMORY USAGE / STATS / DOCTOR / PURGE / MALLOC-STATS / HELP, the
//! `maxmemory` check the dispatcher runs before each command ([`before_command`]), and the
//! INFO memory section ([`info_memory`]).
//!
//! Memory figures come from `crate::alloc` (bytes counted by the global allocator, see its
//! module comment for the accuracy) and `/proc/self/statm` for RSS. Eviction itself lives in
//! `db::evict`.
//!
//! ## MEMORY USAGE: how the estimate is made
//! The figure is the entry's share of the keyspace table (the 64-byte entry in the dense vector
//! plus its 8-byte index slot), plus the heap blocks the key and value own, each rounded as glibc
//! rounds a malloc chunk (`alloc::chunk_size`): keys and strings of up to 22 bytes are inline and
//! cost nothing more; integers are inline. For collections, up to `SAMPLES` elements (default 5,
//! 0 = all) are measured and the average is multiplied by the element count, as Redis does; the
//! per-element cost depends on the encoding (a compact listpack/intset costs its bytes plus a
//! couple of bytes of framing, a hash table or skiplist one heap block per member plus node
//! overhead). Listpack-encoded hashes and sorted sets are not sampled: their one exact-sized
//! buffer's size is known, so they report it. Streams count 64 bytes per entry (their nodes
//! are not sampled).
//!
//! ## Differences from Redis
//! - MEMORY USAGE, MEMORY STATS and INFO memory report redstart's own layout, so the numbers
//!   differ from Redis's (usually smaller per key).
//! - MEMORY DOCTOR's wording is redstart's own; it reports the same conditions (empty
//!   instance, peak far above current usage, high fragmentation).
//! - MEMORY MALLOC-STATS answers as Redis built with libc malloc does; MEMORY PURGE calls
//!   glibc's `malloc_trim(0)`.
//! - Lowering `maxmemory` with CONFIG SET evicts at the next command, not inside CONFIG SET.
//!   `maxmemory-eviction-tenacity` sets how long one command may evict (Redis's scale: 500 µs
//!   at the default 10, unlimited at 100); a command that runs out of time still runs, as with
//!   Redis's `EVICT_RUNNING`, and the next command goes on evicting (Redis also continues from
//!   a timer; redstart has no background eviction). `lazyfree-lazy-eviction` and
//!   `lazyfree-lazy-expire` hand evicted and expired values to the lazyfree thread.
//! - `used_memory` minus `mem_not_counted_for_evict` (free capacity of the keyspace tables) is
//!   what `maxmemory` limits; Redis subtracts replication and AOF buffers there.

use std::fmt::Write as _;

use super::args::Cursor;
use super::info::human;
use super::session::unwatch_all;
use super::table::{cmd_meta, subcommand, table};
use super::{flags, flags::*, key, ks, CmdError, CmdResult, CommandSpec, Ctx, NO_KEYS};
use crate::alloc::{self as mem, chunk_size};
use crate::client::Client;
use crate::config::Config;
use crate::db::evict::{self, Outcome};
use crate::db::lazyfree;
use crate::db::value::{Stored, StrValue, Value, KEY_INLINE};
use crate::notify;
use crate::server::Server;
use resp::Writer;

pub const COMMANDS: &[CommandSpec] = &[CommandSpec::new("memory", -2, 0, 0, NO_KEYS, memory_container)
    .doc("server", "4.0.0", "Depends on subcommand.", "A container for memory diagnostics commands.")
    .subcommands(MEMORY_SUBCOMMANDS)];

const MEMORY_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("doctor", 2, 0, 0, NO_KEYS, memory_doctor)
        .doc("server", "4.0.0", "O(1)", "Outputs a memory problems report.")
        .tips(&["nondeterministic_output", "request_policy:all_shards", "response_policy:special"]),
    CommandSpec::new("help", 2, LOADING | STALE, 0, NO_KEYS, memory_help).doc(
        "server",
        "4.0.0",
        "O(1)",
        "Returns helpful text about the different subcommands.",
    ),
    CommandSpec::new("malloc-stats", 2, 0, 0, NO_KEYS, memory_malloc_stats)
        .doc(
            "server",
            "4.0.0",
            "Depends on how much memory is allocated, could be slow",
            "Returns the allocator statistics.",
        )
        .tips(&["nondeterministic_output", "request_policy:all_shards", "response_policy:special"]),
    CommandSpec::new("purge", 2, 0, 0, NO_KEYS, memory_purge)
        .doc(
            "server",
            "4.0.0",
            "Depends on how much memory is allocated, could be slow",
            "Asks the allocator to release memory.",
        )
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"]),
    CommandSpec::new("stats", 2, 0, 0, NO_KEYS, memory_stats)
        .doc("server", "4.0.0", "O(1)", "Returns details about memory usage.")
        .tips(&["nondeterministic_output", "request_policy:all_shards", "response_policy:special"]),
    CommandSpec::new("usage", -3, READONLY, 0, key(2, ks::RO), memory_usage).doc(
        "server",
        "4.0.0",
        "O(N) where N is the number of samples.",
        "Estimates the memory usage of a key.",
    ),
];

/// The error deny-oom commands get when memory is over `maxmemory` and nothing can be evicted.
pub const OOM_ERROR: &str = "OOM command not allowed when used memory > 'maxmemory'.";

// ---------------------------------------------------------------- the check before commands

/// Whether a queued transaction holds a deny-oom command (EXEC is then refused on OOM).
fn queued_denyoom(client: &Client) -> bool {
    let Some(m) = client.multi.as_ref() else { return false };
    m.queued.iter().any(|q| {
        let Some(spec) = q.first().and_then(|n| table().get(n)) else { return false };
        let spec = match q.get(1) {
            Some(sub) if !spec.subcommands.is_empty() => subcommand(spec, sub).unwrap_or(spec),
            _ => spec,
        };
        spec.has(flags::DENYOOM)
    })
}

/// Runs before every command (no shard locked): when memory is over `maxmemory`, evicts keys
/// by the policy; when that fails, refuses deny-oom commands (and, inside MULTI, every command
/// but EXEC/DISCARD/QUIT/RESET, as Redis does) with the OOM error. Returns true when the
/// command was refused (the error is written).
#[inline]
pub fn before_command(server: &Server, client: &mut Client, out: &mut Writer, spec: &CommandSpec) -> bool {
    if !evict::over_limit() {
        return false;
    }
    over_limit_slow(server, client, out, spec)
}

#[cold]
fn over_limit_slow(server: &Server, client: &mut Client, out: &mut Writer, spec: &CommandSpec) -> bool {
    let me = client.id;
    // Each evicted key's event and its `DEL` (`UNLINK` under lazyfree-lazy-eviction) leave
    // while its shard is locked, each as a unit of its own (as Redis, outside any transaction).
    let del = crate::propagate::deletion(lazyfree::enabled(lazyfree::Flag::Eviction));
    let (outcome, _) = evict::perform(&server.keyspace, &mut |db, key| {
        notify::publish(&server.pubsub, notify::EVICTED, db, "evicted", key, Some((me, &mut out.buf)));
        server.effects.emit_one(db, &[del, key]);
    });
    if outcome != Outcome::Fail {
        return false;
    }
    let in_multi_queue = client.multi.is_some() && !matches!(spec.name, "exec" | "discard" | "quit" | "reset");
    let reject = spec.has(flags::DENYOOM) || in_multi_queue || (spec.name == "exec" && queued_denyoom(client));
    if !reject {
        return false;
    }
    cmd_meta(spec).record_rejected();
    if spec.name == "exec" && client.multi.is_some() {
        // A refused EXEC discards the transaction, as Redis's EXECABORT does.
        client.multi = None;
        unwatch_all(server, client);
        out.error(&format!("EXECABORT Transaction discarded because of: {OOM_ERROR}"));
        return true;
    }
    out.error(OOM_ERROR);
    if let Some(m) = client.multi.as_mut() {
        m.aborted = true;
    }
    true
}

// ---------------------------------------------------------------- MEMORY USAGE

/// Bytes of one heap block holding `n` bytes.
fn block(n: usize) -> usize {
    chunk_size(n, 8) as usize
}

/// Average-based estimate: `per(element)` summed over the first `samples` elements (0 = all),
/// scaled to `len` elements.
fn sampled<'a>(elems: impl Iterator<Item = usize> + 'a, len: usize, samples: usize) -> usize {
    let mut n = 0usize;
    let mut sum = 0usize;
    for s in elems.take(if samples == 0 { usize::MAX } else { samples }) {
        n += 1;
        sum += s;
    }
    if n == 0 {
        0
    } else {
        ((sum as f64 / n as f64) * len as f64) as usize
    }
}

/// Per-member cost by encoding: compact encodings store the bytes plus framing, node-based
/// ones a heap block per member plus node/bucket overhead.
fn member_cost(encoding: &str, len: usize) -> usize {
    match encoding {
        "listpack" | "quicklist" => len + 2,
        "intset" => 8,
        _ => block(len) + 32,
    }
}

/// The MEMORY USAGE estimate of one entry (see the module comment).
pub fn entry_usage(key: &[u8], value: &Value, samples: usize) -> usize {
    // The 40-byte stored entry plus its share of the index (4-byte slots, at most 3/4 full).
    let key_heap = if key.len() > KEY_INLINE { block(4 + key.len()) } else { 0 };
    let base = std::mem::size_of::<Stored>() + 8 + key_heap;
    let value = match value {
        Value::Str(StrValue::Int(_)) => 0,
        Value::Str(StrValue::Emb(b)) => match b.heap_size() {
            0 => 0,
            n => block(n),
        },
        Value::Str(StrValue::Raw(v)) => block(std::mem::size_of::<Vec<u8>>()) + block(v.capacity()),
        // The compact encodings know their exact size: the boxed value plus one exact block.
        Value::Hash(h) if h.compact_bytes().is_some() => {
            block(std::mem::size_of_val(&**h)) + h.compact_bytes().map_or(0, |b| if b == 0 { 0 } else { block(b) })
        }
        Value::Zset(z) if z.compact_bytes().is_some() => {
            block(std::mem::size_of_val(&**z)) + z.compact_bytes().map_or(0, |b| if b == 0 { 0 } else { block(b) })
        }
        Value::Hash(h) => {
            let enc = h.encoding();
            block(std::mem::size_of_val(&**h))
                + sampled(
                    h.iter().map(|(f, v)| member_cost(enc, f.len()) + member_cost(enc, v.len())),
                    h.len(),
                    samples,
                )
        }
        Value::Set(s) => {
            let enc = s.encoding();
            let mut buf = itoa::Buffer::new();
            block(std::mem::size_of_val(&**s))
                + sampled(s.iter().map(|m| member_cost(enc, m.bytes(&mut buf).len())), s.len(), samples)
        }
        Value::Zset(z) => {
            let enc = z.encoding();
            let take = if samples == 0 { z.len() } else { samples.min(z.len()) };
            let extra = if enc == "listpack" { 9 } else { 16 };
            block(std::mem::size_of_val(&**z))
                + sampled(z.range(0, take).iter().map(|(m, _)| member_cost(enc, m.len()) + extra), z.len(), samples)
        }
        Value::List(l) => {
            let enc = l.encoding();
            block(std::mem::size_of_val(&**l)) + sampled(l.iter().map(|m| member_cost(enc, m.len())), l.len(), samples)
        }
        Value::Stream(s) => block(std::mem::size_of_val(&**s)) + s.log.len() as usize * 64,
    };
    base + value
}

fn memory_usage(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    // Redis's default sample count for nested values.
    let mut samples = 5usize;
    let mut c = Cursor::new(args, 3);
    while !c.is_empty() {
        match c.int_of("samples")? {
            Some(n) if n >= 0 => samples = n as usize,
            _ => return Err(CmdError::Syntax),
        }
    }
    match ctx.db().peek(args[2]).map(|e| entry_usage(e.key, e.value, samples)) {
        Some(n) => ctx.out.int(n as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

// ---------------------------------------------------------------- figures

/// Memory figures shared by INFO memory and MEMORY STATS.
struct Figures {
    used: u64,
    peak: u64,
    startup: u64,
    rss: u64,
    /// Keyspace tables (index slots and entry vectors), per database with keys.
    tables: Vec<(usize, u64)>,
    overhead: u64,
    keys: u64,
    /// Connected clients' buffers and structs (`mem_clients_normal`).
    clients: u64,
}

fn figures(server: &Server) -> Figures {
    // Clients' buffers first, then used_memory: a connection allocates a buffer before it
    // publishes its size, so read in this order `used` covers every buffer that `clients`
    // counts, even when another thread grows one in between (read the other way round, a
    // thread preempted between the two reads reported client buffers that used_memory did not
    // contain yet).
    let clients = crate::client::clients_mem();
    let used = mem::used_memory();
    let startup = mem::startup_memory().min(used);
    let tables = evict::table_overhead(&server.keyspace);
    let keys: u64 = server.keyspace.info().iter().map(|&(_, k, _, _)| k as u64).sum();
    let overhead = (startup + clients + tables.iter().map(|&(_, b)| b).sum::<u64>()).min(used);
    Figures {
        used,
        peak: mem::peak_memory().max(used),
        startup,
        rss: mem::rss_bytes(),
        tables,
        overhead,
        keys,
        clients,
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// The INFO `# Memory` section, Redis 7.0's fields in its order.
pub fn info_memory(server: &Server, cfg: &Config, o: &mut String) {
    let f = figures(server);
    let sys = total_system_memory();
    let dataset = f.used - f.overhead;
    let net = f.used.saturating_sub(f.startup);
    o.push_str("# Memory\r\n");
    let mut line = |s: String| {
        o.push_str(&s);
        o.push_str("\r\n");
    };
    line(format!("used_memory:{}", f.used));
    line(format!("used_memory_human:{}", human(f.used)));
    line(format!("used_memory_rss:{}", f.rss));
    line(format!("used_memory_rss_human:{}", human(f.rss)));
    line(format!("used_memory_peak:{}", f.peak));
    line(format!("used_memory_peak_human:{}", human(f.peak)));
    line(format!("used_memory_peak_perc:{:.2}%", ratio(f.used, f.peak) * 100.0));
    line(format!("used_memory_overhead:{}", f.overhead));
    line(format!("used_memory_startup:{}", f.startup));
    line(format!("used_memory_dataset:{dataset}"));
    line(format!("used_memory_dataset_perc:{:.2}%", ratio(dataset, net) * 100.0));
    line(format!("allocator_allocated:{}", f.used));
    line(format!("allocator_active:{}", f.used));
    line(format!("allocator_resident:{}", f.rss));
    line(format!("total_system_memory:{sys}"));
    line(format!("total_system_memory_human:{}", human(sys)));
    for l in [
        "used_memory_lua:0",
        "used_memory_vm_eval:0",
        "used_memory_lua_human:0B",
        "used_memory_scripts_eval:0",
        "number_of_cached_scripts:0",
        "number_of_functions:0",
        "number_of_libraries:0",
        "used_memory_vm_functions:0",
        "used_memory_vm_total:0",
        "used_memory_vm_total_human:0B",
        "used_memory_functions:0",
        "used_memory_scripts:0",
        "used_memory_scripts_human:0B",
    ] {
        line(l.to_string());
    }
    line(format!("maxmemory:{}", cfg.maxmemory));
    line(format!("maxmemory_human:{}", human(cfg.maxmemory)));
    line(format!("maxmemory_policy:{}", cfg.maxmemory_policy));
    // glibc does not report active/resident separately: allocator ratios are 1 and the whole
    // difference between RSS and used memory shows in the RSS overhead and fragmentation.
    line("allocator_frag_ratio:1.00".to_string());
    line("allocator_frag_bytes:0".to_string());
    line("allocator_rss_ratio:1.00".to_string());
    line("allocator_rss_bytes:0".to_string());
    line(format!("rss_overhead_ratio:{:.2}", ratio(f.rss, f.used)));
    line(format!("rss_overhead_bytes:{}", f.rss as i64 - f.used as i64));
    line(format!("mem_fragmentation_ratio:{:.2}", ratio(f.rss, f.used)));
    line(format!("mem_fragmentation_bytes:{}", f.rss as i64 - f.used as i64));
    line(format!("mem_not_counted_for_evict:{}", mem::not_counted_for_evict()));
    for l in ["mem_replication_backlog:0", "mem_total_replication_buffers:0", "mem_clients_slaves:0"] {
        line(l.to_string());
    }
    line(format!("mem_clients_normal:{}", f.clients));
    for l in ["mem_cluster_links:0", "mem_aof_buffer:0", "mem_allocator:libc", "active_defrag_running:0"] {
        line(l.to_string());
    }
    line(format!("lazyfree_pending_objects:{}", crate::db::lazyfree::pending()));
    line(format!("lazyfreed_objects:{}", crate::db::lazyfree::freed()));
}

/// Total RAM from /proc/meminfo (0 where unavailable).
pub fn total_system_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()))
        })
        .map_or(0, |kb| kb * 1024)
}

// ---------------------------------------------------------------- other subcommands

/// Never runs: the dispatcher resolves MEMORY to a subcommand.
fn memory_container(_ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    Err(CmdError::Syntax)
}

fn memory_stats(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let f = figures(ctx.server);
    let dataset = f.used - f.overhead;
    let net = f.used.saturating_sub(f.startup);
    let out = &mut *ctx.out;
    out.map(27 + f.tables.len());
    let int = |out: &mut Writer, k: &str, v: i64| {
        out.bulk(k.as_bytes());
        out.int(v);
    };
    int(out, "peak.allocated", f.peak as i64);
    int(out, "total.allocated", f.used as i64);
    int(out, "startup.allocated", f.startup as i64);
    for k in ["replication.backlog", "clients.slaves", "clients.normal", "cluster.links", "aof.buffer", "lua.caches"] {
        int(out, k, if k == "clients.normal" { f.clients as i64 } else { 0 });
    }
    int(out, "functions.caches", 0);
    for &(db, bytes) in &f.tables {
        out.bulk(format!("db.{db}").as_bytes());
        out.map(3);
        // Expiry times live in the entries themselves: no separate expires table.
        int(out, "overhead.hashtable.main", bytes as i64);
        int(out, "overhead.hashtable.expires", 0);
        int(out, "overhead.hashtable.slot-to-keys", 0);
    }
    int(out, "overhead.total", f.overhead as i64);
    int(out, "keys.count", f.keys as i64);
    int(out, "keys.bytes-per-key", net.checked_div(f.keys).unwrap_or(0) as i64);
    int(out, "dataset.bytes", dataset as i64);
    out.bulk(b"dataset.percentage");
    out.double(ratio(dataset, net) * 100.0);
    out.bulk(b"peak.percentage");
    out.double(ratio(f.used, f.peak) * 100.0);
    int(out, "allocator.allocated", f.used as i64);
    int(out, "allocator.active", f.used as i64);
    int(out, "allocator.resident", f.rss as i64);
    out.bulk(b"allocator-fragmentation.ratio");
    out.double(1.0);
    int(out, "allocator-fragmentation.bytes", 0);
    out.bulk(b"allocator-rss.ratio");
    out.double(1.0);
    int(out, "allocator-rss.bytes", 0);
    out.bulk(b"rss-overhead.ratio");
    out.double(ratio(f.rss, f.used));
    int(out, "rss-overhead.bytes", f.rss as i64 - f.used as i64);
    out.bulk(b"fragmentation");
    out.double(ratio(f.rss, f.used));
    int(out, "fragmentation.bytes", f.rss as i64 - f.used as i64);
    Ok(())
}

fn memory_doctor(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let f = figures(ctx.server);
    let mut report = String::new();
    if f.used < 5 * 1024 * 1024 {
        report.push_str(
            "This instance holds too little data for a memory report (under 5 MB in use). \
             Add data and ask again.",
        );
    } else {
        let mut issues = Vec::new();
        if f.peak > f.used.saturating_mul(3) / 2 {
            issues.push(format!(
                " * Peak memory: the peak ({} bytes) is more than 150% of the current usage ({} bytes): \
                 RSS stays high after large deletions until the allocator returns memory.",
                f.peak, f.used
            ));
        }
        let frag = ratio(f.rss, f.used);
        if frag > 1.4 {
            issues.push(format!(
                " * High fragmentation: RSS is {frag:.2} times the memory in use; MEMORY USAGE of \
                 large keys and a restart can tell where it comes from."
            ));
        }
        if issues.is_empty() {
            report.push_str("No memory problem found in this instance.");
        } else {
            report.push_str("Memory problems found in this instance:\n\n");
            for i in issues {
                let _ = writeln!(report, "{i}");
            }
        }
    }
    ctx.out.verbatim("txt", report.as_bytes());
    Ok(())
}

fn memory_malloc_stats(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.out.verbatim("txt", b"Stats not supported for the current allocator");
    Ok(())
}

/// Returns free memory at the top of glibc's heaps, and whole free pages inside them, to the
/// system (`malloc_trim(0)`), as Redis's MEMORY PURGE asks jemalloc to purge dirty pages.
fn memory_purge(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    purge();
    ctx.out.ok();
    Ok(())
}

/// `malloc_trim(0)` where the C library is glibc; nothing elsewhere.
pub fn purge() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` takes a plain integer, touches only the allocator's own state under
    // the allocator's locks (it is thread-safe like malloc/free), and invalidates no live
    // allocation: it only releases memory that malloc already considers free.
    unsafe {
        libc::malloc_trim(0);
    }
}

fn memory_help(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    const HELP: &[&str] = &[
        "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DOCTOR",
        "    Return memory problems reports.",
        "MALLOC-STATS",
        "    Return internal statistics report from the memory allocator.",
        "PURGE",
        "    Attempt to purge dirty pages for reclamation by the allocator.",
        "STATS",
        "    Return information about the memory usage of the server.",
        "USAGE <key> [SAMPLES <count>]",
        "    Return memory in bytes used by <key> and its value. Nested values are",
        "    sampled up to <count> times (default: 5, 0 means sample all).",
        "HELP",
        "    Prints this help.",
    ];
    ctx.out.array(HELP.len());
    for line in HELP {
        ctx.out.simple(line);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::value::Value;

    #[test]
    fn usage_grows_with_the_value() {
        let v = Value::from_bytes(b"v");
        assert_eq!(entry_usage(b"k", &v, 5), 48);
        assert_eq!(entry_usage(b"k", &Value::from_bytes(b"12345"), 5), 48);
        assert_eq!(entry_usage(b"k", &Value::from_bytes(&[b'x'; 20]), 5), 48 + block(24));
        assert!(entry_usage(b"k", &Value::from_bytes(&[b'x'; 1000]), 5) >= 48 + 1000);
        assert_eq!(entry_usage(&[b'k'; 100], &v, 5), 48 + block(104));
    }

    #[test]
    fn sampling_scales_the_average() {
        assert_eq!(sampled([10, 20].into_iter(), 100, 2), 1500);
        assert_eq!(sampled([10, 20, 30].into_iter(), 3, 0), 60);
        assert_eq!(sampled(std::iter::empty(), 0, 5), 0);
    }
}
