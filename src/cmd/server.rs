//! Server commands: INFO, TIME, LASTSAVE, SHUTDOWN, DEBUG (SLEEP only), and COMMAND with its
//! introspection subcommands (COUNT, LIST, INFO, DOCS, GETKEYS, GETKEYSANDFLAGS, HELP).
//!
//! INFO's sections other than `# Memory` are written here ([`info_section`]); `cmd::info`
//! assembles them. The per-command statistics they report (`INFO commandstats`, `cmd=` of
//! CLIENT LIST) and the error counters (`INFO errorstats`) are kept by the command table
//! (`cmd::table::cmd_meta`).
//!
//! Everything `COMMAND` reports comes from the command table, never from a hand-written list:
//! the key specs are each row's (`cmd::keys`), and the legacy key range, `movablekeys` and the
//! keys of COMMAND GETKEYS are derived from them as Redis derives them.
//!
//! Differences from Redis:
//! - `COMMAND DOCS` gives summary, since, group, complexity (and subcommands for containers)
//!   but no `arguments` (the table does not describe arguments yet).
//! - Subcommands are listed in table order (Redis lists them in hash order).
//! - INFO memory is written by `cmd::memory` (counted allocations, see `alloc`); `avg_ttl` is
//!   0; latencystats is not produced; CPU figures come from `/proc/self/stat`; the HELP texts
//!   are redstart's own wording.
//! - DEBUG implements SLEEP, SET-ACTIVE-EXPIRE, DIGEST and DIGEST-VALUE (`db::digest`), behind
//!   `enable-debug-command` (the dispatcher's check of protected commands).

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

use super::info::{self, DEFAULT_SECTIONS, SECTIONS};
use super::reply::help_reply;
use super::table::{all_meta, subcommand, table};
use super::{acl, args, flags, flags::*, ks, BeginSearch, CmdError, CmdResult, CommandSpec, Ctx, FindKeys, KeySpec};
use super::{NO_KEYS, REDIS_VERSION};
use crate::db::digest;
use crate::server::Server;
use crate::stats;
use resp::Writer;

const COMMAND_SUBS: &[CommandSpec] = &[
    CommandSpec::new("count", 2, LOADING | STALE, acl::CONNECTION, NO_KEYS, command_count).doc(
        "server",
        "2.8.13",
        "O(1)",
        "Returns a count of commands.",
    ),
    CommandSpec::new("docs", -2, LOADING | STALE, acl::CONNECTION, NO_KEYS, command_docs)
        .doc(
            "server",
            "7.0.0",
            "O(N) where N is the number of commands to look up",
            "Returns documentary information about one, multiple or all commands.",
        )
        .tips(&["nondeterministic_output_order"]),
    CommandSpec::new("getkeys", -3, LOADING | STALE, acl::CONNECTION, NO_KEYS, command_getkeys).doc(
        "server",
        "2.8.13",
        "O(N) where N is the number of arguments to the command",
        "Extracts the key names from an arbitrary command.",
    ),
    CommandSpec::new("getkeysandflags", -3, LOADING | STALE, acl::CONNECTION, NO_KEYS, command_getkeysandflags).doc(
        "server",
        "7.0.0",
        "O(N) where N is the number of arguments to the command",
        "Extracts the key names and access flags for an arbitrary command.",
    ),
    CommandSpec::new("help", 2, LOADING | STALE, acl::CONNECTION, NO_KEYS, command_help).doc(
        "server",
        "5.0.0",
        "O(1)",
        "Returns helpful text about the different subcommands.",
    ),
    CommandSpec::new("info", -2, LOADING | STALE, acl::CONNECTION, NO_KEYS, command_info)
        .doc(
            "server",
            "2.8.13",
            "O(N) where N is the number of commands to look up",
            "Returns information about one, multiple or all commands.",
        )
        .tips(&["nondeterministic_output_order"]),
    CommandSpec::new("list", -2, LOADING | STALE, acl::CONNECTION, NO_KEYS, command_list)
        .doc(
            "server",
            "7.0.0",
            "O(N) where N is the total number of Redis commands",
            "Returns a list of command names.",
        )
        .tips(&["nondeterministic_output_order"]),
];

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("info", -1, LOADING | STALE, acl::DANGEROUS, NO_KEYS, info)
        .doc("server", "1.0.0", "O(1)", "Returns information and statistics about the server.")
        .tips(&["nondeterministic_output", "request_policy:all_shards", "response_policy:special"]),
    CommandSpec::new("time", 1, LOADING | STALE | FAST, 0, NO_KEYS, time)
        .doc("server", "2.6.0", "O(1)", "Returns the server time.")
        .tips(&["nondeterministic_output"]),
    CommandSpec::new("lastsave", 1, LOADING | STALE | FAST, acl::ADMIN | acl::DANGEROUS, NO_KEYS, lastsave)
        .doc("server", "1.0.0", "O(1)", "Returns the Unix timestamp of the last successful save to disk.")
        .tips(&["nondeterministic_output"]),
    CommandSpec::new("shutdown", -1, ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI | ALLOW_BUSY, 0, NO_KEYS, shutdown)
        .doc(
            "server",
            "1.0.0",
            "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)",
            "Synchronously saves the database(s) to disk and shuts down the Redis server.",
        ),
    CommandSpec::new("debug", -2, ADMIN | NOSCRIPT | LOADING | STALE | PROTECTED, 0, NO_KEYS, debug).doc(
        "server",
        "1.0.0",
        "Depends on subcommand.",
        "A container for debugging commands.",
    ),
    CommandSpec::new("command", -1, LOADING | STALE, acl::CONNECTION, NO_KEYS, command)
        .doc(
            "server",
            "2.8.13",
            "O(N) where N is the total number of Redis commands",
            "Returns detailed information about all commands.",
        )
        .tips(&["nondeterministic_output_order"])
        .subcommands(COMMAND_SUBS),
];

// ---------------------------------------------------------------------------------------------
// INFO

fn info(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut wanted: Vec<&str> = Vec::new();
    if args.len() == 1 {
        wanted.extend_from_slice(DEFAULT_SECTIONS);
    }
    for a in &args[1..] {
        if args::is(a, "default") {
            wanted.extend_from_slice(DEFAULT_SECTIONS);
        } else if args::is(a, "all") || args::is(a, "everything") {
            wanted.extend_from_slice(SECTIONS);
        } else if let Some(s) = SECTIONS.iter().find(|s| args::is(a, s)) {
            wanted.push(s);
        }
    }
    let text = info::info_text(ctx.server, ctx.client.db, &wanted);
    ctx.out.verbatim("txt", text.as_bytes());
    Ok(())
}

fn now_unix_us() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros()).unwrap_or(0)
}

/// (user, system, children user, children system) CPU seconds from a `/proc/.../stat` file.
/// Times there are in clock ticks, 100 per second on Linux (USER_HZ).
fn cpu_times(path: &str) -> (f64, f64, f64, f64) {
    let Ok(s) = std::fs::read_to_string(path) else { return (0.0, 0.0, 0.0, 0.0) };
    // The command name (field 2) may contain spaces; fields resume after its closing paren.
    let rest = s.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest.split_whitespace().map(|v| v.parse().unwrap_or(0.0)).collect();
    let tick = |i: usize| f.get(i).copied().unwrap_or(0.0) / 100.0;
    // After the paren: state is index 0, so utime (field 14) is index 11.
    (tick(11), tick(12), tick(13), tick(14))
}

fn os_string() -> String {
    let read = |p: &str| std::fs::read_to_string(p).map(|s| s.trim().to_string()).unwrap_or_default();
    format!("{} {} {}", read("/proc/sys/kernel/ostype"), read("/proc/sys/kernel/osrelease"), std::env::consts::ARCH)
}

/// Commands per second between two INFO calls at least 100 ms apart (Redis samples every
/// 100 ms in its cron; redstart has no cron for it, so it samples on demand).
fn ops_per_sec(total: u64) -> u64 {
    static SAMPLE: Mutex<Option<(Instant, u64, u64)>> = parking_lot::const_mutex(None);
    let mut s = SAMPLE.lock();
    let now = Instant::now();
    match *s {
        Some((at, _, rate)) if now.duration_since(at) < Duration::from_millis(100) => rate,
        Some((at, count, _)) => {
            let rate = (total.saturating_sub(count) as f64 / now.duration_since(at).as_secs_f64()) as u64;
            *s = Some((now, total, rate));
            rate
        }
        None => {
            *s = Some((now, total, 0));
            0
        }
    }
}

/// Writes INFO section `name` (every section but `memory`, which `cmd::memory` writes; see
/// `cmd::info`).
pub fn info_section(server: &Server, name: &str, o: &mut String) {
    macro_rules! line {
        ($($arg:tt)*) => {{ let _ = write!(o, $($arg)*); o.push_str("\r\n"); }};
    }
    let cfg = server.config.read().clone();
    let uptime = server.started.elapsed().as_secs();
    match name {
        "server" => {
            o.push_str("# Server\r\n");
            line!("redis_version:{REDIS_VERSION}");
            line!("redis_git_sha1:00000000");
            line!("redis_git_dirty:0");
            line!("redis_build_id:0");
            line!("redis_mode:standalone");
            line!("redstart_version:{}", env!("CARGO_PKG_VERSION"));
            line!("os:{}", os_string());
            line!("arch_bits:{}", usize::BITS);
            line!("monotonic_clock:POSIX clock_gettime");
            line!("multiplexing_api:epoll");
            line!("atomicvar_api:c11-builtin");
            line!("gcc_version:0.0.0");
            line!("process_id:{}", std::process::id());
            line!("process_supervised:no");
            line!("run_id:{}", server.run_id);
            line!("tcp_port:{}", cfg.port);
            line!("server_time_usec:{}", now_unix_us());
            line!("uptime_in_seconds:{uptime}");
            line!("uptime_in_days:{}", uptime / 86400);
            line!("hz:{}", cfg.hz);
            line!("configured_hz:{}", cfg.hz);
            line!("lru_clock:{}", crate::db::lru_clock(crate::clock::now_ms()));
            line!("executable:{}", server.executable);
            let config_file = if cfg.config_file.is_empty() { &server.config_file } else { &cfg.config_file };
            line!("config_file:{config_file}");
            line!("io_threads_active:0");
            // redstart's own: its I/O workers and how many clients each runs (`net::workers`).
            let workers = crate::net::workers::snapshot();
            line!("redstart_io_threads:{}", workers.len());
            let per: Vec<String> = workers.iter().map(|(c, _)| c.to_string()).collect();
            line!("redstart_io_thread_clients:{}", per.join(","));
            if cfg.port != 0 {
                let binds: Vec<String> = cfg.bind.iter().map(|b| format!("bind={b}")).collect();
                line!("listener0:name=tcp,{},port={}", binds.join(","), cfg.port);
            }
            if let Some(path) = &cfg.unixsocket {
                line!("listener1:name=unix,bind={path}");
            }
        }
        "clients" => {
            o.push_str("# Clients\r\n");
            let clients = server.clients.all();
            let max_in = clients.iter().map(|c| c.qbuf_cap.load(Ordering::Relaxed)).max().unwrap_or(0);
            let max_out = clients.iter().map(|c| c.obuf.load(Ordering::Relaxed)).max().unwrap_or(0);
            line!("connected_clients:{}", clients.len());
            line!("cluster_connections:0");
            line!("maxclients:{}", cfg.maxclients);
            line!("client_recent_max_input_buffer:{max_in}");
            line!("client_recent_max_output_buffer:{max_out}");
            line!("blocked_clients:{}", server.keyspace.blocked.blocked_clients());
            line!("tracking_clients:0");
            let pubsub_clients =
                clients.iter().filter(|c| c.subs.iter().any(|n| n.load(Ordering::Relaxed) > 0)).count();
            line!("pubsub_clients:{pubsub_clients}");
            line!("watching_clients:0");
            line!("clients_in_timeout_table:0");
            line!("total_watched_keys:0");
            line!("total_blocking_keys:0");
            line!("total_blocking_keys_on_nokey:0");
        }
        "persistence" => {
            o.push_str("# Persistence\r\n");
            let ps = crate::persist::state();
            let ld = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
            let flag = |a: &std::sync::atomic::AtomicBool| a.load(std::sync::atomic::Ordering::Relaxed);
            let in_bg = flag(&ps.bgsave_in_progress);
            line!("loading:{}", flag(&ps.loading) as u8);
            line!("async_loading:0");
            line!("current_cow_peak:0");
            line!("current_cow_size:0");
            line!("current_cow_size_age:0");
            line!("current_fork_perc:0.00");
            line!("current_save_keys_processed:0");
            line!("current_save_keys_total:0");
            line!("rdb_changes_since_last_save:{}", ps.dirty.get());
            line!("rdb_bgsave_in_progress:{}", in_bg as u8);
            line!("rdb_last_save_time:{}", ld(&ps.lastsave));
            line!("rdb_last_bgsave_status:{}", if flag(&ps.last_bgsave_ok) { "ok" } else { "err" });
            line!("rdb_last_bgsave_time_sec:{}", ps.last_bgsave_secs.load(std::sync::atomic::Ordering::Relaxed));
            let cur = if in_bg {
                ((now_unix_us() / 1_000_000) as u64).saturating_sub(ld(&ps.bgsave_started)) as i64
            } else {
                -1
            };
            line!("rdb_current_bgsave_time_sec:{cur}");
            line!("rdb_saves:{}", ld(&ps.saves));
            line!("rdb_last_cow_size:{}", ld(&ps.last_cow));
            line!("rdb_last_load_keys_expired:{}", ld(&ps.keys_expired_at_load));
            line!("rdb_last_load_keys_loaded:{}", ld(&ps.keys_loaded));
            // The AOF is opened at start-up only: report whether it is open.
            line!("aof_enabled:{}", crate::persist::aof::enabled() as u8);
            crate::persist::aof::info_rewrite_fields(o);
            line!("aof_last_write_status:{}", if crate::persist::aof::last_write_ok() { "ok" } else { "err" });
            line!("aof_last_cow_size:{}", crate::persist::aof::last_cow_size());
            crate::persist::aof::info_fields(o);
            line!("module_fork_in_progress:0");
            line!("module_fork_last_cow_size:0");
        }
        "stats" => {
            let st = &server.stats;
            let ks = &server.keyspace.stats;
            let total = crate::stats::all_cmds_total(crate::stats::Cmd::Calls);
            o.push_str("# Stats\r\n");
            line!("total_connections_received:{}", st.total_connections_received.load(Ordering::Relaxed));
            line!("total_commands_processed:{total}");
            line!("instantaneous_ops_per_sec:{}", ops_per_sec(total));
            line!("total_net_input_bytes:{}", crate::stats::total(crate::stats::Global::NetInputBytes));
            line!("total_net_output_bytes:{}", crate::stats::total(crate::stats::Global::NetOutputBytes));
            line!("total_net_repl_input_bytes:0");
            line!("total_net_repl_output_bytes:0");
            line!("instantaneous_input_kbps:0.00");
            line!("instantaneous_output_kbps:0.00");
            line!("instantaneous_input_repl_kbps:0.00");
            line!("instantaneous_output_repl_kbps:0.00");
            line!("rejected_connections:{}", st.rejected_connections.load(Ordering::Relaxed));
            line!("sync_full:0");
            line!("sync_partial_ok:0");
            line!("sync_partial_err:0");
            line!("expired_keys:{}", ks.expired_keys.load(Ordering::Relaxed));
            line!("expired_stale_perc:0.00");
            line!("expired_time_cap_reached_count:0");
            line!("expire_cycle_cpu_milliseconds:0");
            line!("evicted_keys:{}", server.keyspace.stats.evicted_keys.load(Ordering::Relaxed));
            line!("evicted_clients:{}", crate::client::evicted_clients());
            line!("total_eviction_exceeded_time:0");
            line!("current_eviction_exceeded_time:0");
            line!("keyspace_hits:{}", crate::stats::total(crate::stats::Global::KeyspaceHits));
            line!("keyspace_misses:{}", crate::stats::total(crate::stats::Global::KeyspaceMisses));
            let ps = &server.pubsub;
            line!("pubsub_channels:{}", ps.channel_count(crate::pubsub::Kind::Channel));
            line!("pubsub_patterns:{}", ps.numpat());
            line!("pubsubshard_channels:{}", ps.channel_count(crate::pubsub::Kind::Shard));
            line!("latest_fork_usec:0");
            line!("total_forks:0");
            line!("migrate_cached_sockets:0");
            line!("slave_expires_tracked_keys:0");
            line!("active_defrag_hits:0");
            line!("active_defrag_misses:0");
            line!("active_defrag_key_hits:0");
            line!("active_defrag_key_misses:0");
            line!("total_active_defrag_time:0");
            line!("current_active_defrag_time:0");
            line!("tracking_total_keys:0");
            line!("tracking_total_items:0");
            line!("tracking_total_prefixes:0");
            line!("unexpected_error_replies:0");
            line!("total_error_replies:{}", stats::total_errors());
            line!("dump_payload_sanitizations:0");
            line!("total_reads_processed:0");
            line!("total_writes_processed:0");
            line!("io_threaded_reads_processed:0");
            line!("io_threaded_writes_processed:0");
            line!("redstart_client_moves:{}", crate::net::workers::moves());
            line!("client_query_buffer_limit_disconnections:0");
            line!("client_output_buffer_limit_disconnections:0");
            line!("reply_buffer_shrinks:0");
            line!("reply_buffer_expands:0");
            line!("eventloop_cycles:0");
            line!("eventloop_duration_sum:0");
            line!("eventloop_duration_cmd_sum:0");
            line!("instantaneous_eventloop_cycles_per_sec:0");
            line!("instantaneous_eventloop_duration_usec:0");
            line!("acl_access_denied_auth:0");
            line!("acl_access_denied_cmd:0");
            line!("acl_access_denied_key:0");
            line!("acl_access_denied_channel:0");
        }
        "replication" => {
            o.push_str("# Replication\r\n");
            line!("role:master");
            line!("connected_slaves:0");
            line!("master_failover_state:no-failover");
            line!("master_replid:{}", server.run_id);
            line!("master_replid2:0000000000000000000000000000000000000000");
            line!("master_repl_offset:0");
            line!("second_repl_offset:-1");
            line!("repl_backlog_active:0");
            line!("repl_backlog_size:1048576");
            line!("repl_backlog_first_byte_offset:0");
            line!("repl_backlog_histlen:0");
        }
        "cpu" => {
            let (user, sys, cuser, csys) = cpu_times("/proc/self/stat");
            let (muser, msys, _, _) = cpu_times(&format!("/proc/self/task/{}/stat", std::process::id()));
            o.push_str("# CPU\r\n");
            line!("used_cpu_sys:{sys:.6}");
            line!("used_cpu_user:{user:.6}");
            line!("used_cpu_sys_children:{csys:.6}");
            line!("used_cpu_user_children:{cuser:.6}");
            line!("used_cpu_sys_main_thread:{msys:.6}");
            line!("used_cpu_user_main_thread:{muser:.6}");
        }
        "modules" => o.push_str("# Modules\r\n"),
        "commandstats" => {
            o.push_str("# Commandstats\r\n");
            for m in all_meta() {
                let calls = m.calls();
                let rejected = m.rejected_calls();
                let failed = m.failed_calls();
                if calls == 0 && rejected == 0 && failed == 0 {
                    continue;
                }
                let usec = m.usec();
                let per = if calls == 0 { 0.0 } else { usec as f64 / calls as f64 };
                line!(
                    "cmdstat_{}:calls={calls},usec={usec},usec_per_call={per:.2},rejected_calls={rejected},failed_calls={failed}",
                    m.full_name
                );
            }
        }
        "errorstats" => {
            o.push_str("# Errorstats\r\n");
            for (code, n) in stats::error_counts() {
                line!("errorstat_{code}:count={n}");
            }
        }
        "cluster" => {
            o.push_str("# Cluster\r\n");
            line!("cluster_enabled:0");
        }
        "keyspace" => {
            o.push_str("# Keyspace\r\n");
            for db in 0..server.keyspace.databases() {
                let (keys, expires) = server.keyspace.db_counts(db);
                if keys > 0 {
                    // avg_ttl is not tracked yet (Redis estimates it in its expiry cycle).
                    line!("db{db}:keys={keys},expires={expires},avg_ttl=0");
                }
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// TIME, LASTSAVE, SHUTDOWN, DEBUG

fn time(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let us = now_unix_us();
    ctx.out.array(2);
    ctx.out.bulk_int((us / 1_000_000) as i64);
    ctx.out.bulk_int((us % 1_000_000) as i64);
    Ok(())
}

fn lastsave(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    // The start time until the first successful save, as Redis.
    ctx.out.int(crate::persist::state().lastsave.load(std::sync::atomic::Ordering::Relaxed) as i64);
    Ok(())
}

fn shutdown(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (mut nosave, mut save, mut abort) = (false, false, false);
    for a in &args[1..] {
        if args::is(a, "nosave") {
            nosave = true;
        } else if args::is(a, "save") {
            save = true;
        } else if args::is(a, "now") || args::is(a, "force") {
        } else if args::is(a, "abort") {
            abort = true;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    if (nosave && save) || (abort && args.len() > 2) {
        return Err(CmdError::Syntax);
    }
    if abort {
        return Err(CmdError::msg("ERR No shutdown in progress."));
    }
    crate::log::warning("User requested shutdown...");
    // Save first (SHUTDOWN SAVE, or save points set and not NOSAVE); if that fails the server
    // keeps running and says so, as Redis. On success the process exits once `run` returns and,
    // as Redis, the client gets no reply: its connection just closes.
    if crate::persist::save_on_shutdown(ctx.server, save, nosave).is_err() {
        return Err(CmdError::msg("ERR Errors trying to SHUTDOWN. Check logs."));
    }
    ctx.client.close_after_reply = true;
    ctx.server.shutdown.notify_one();
    Ok(())
}

fn debug(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if args::is(args[1], "sleep") && args.len() == 3 {
        // Redis parses the delay with strtod and ignores junk: "x" sleeps 0 seconds.
        let secs = args::parse_f64(args[2]).unwrap_or(0.0);
        if secs > 0.0 && secs.is_finite() {
            // Blocks this worker as DEBUG SLEEP blocks Redis's event loop (capped at a day so a
            // huge value cannot wedge a thread forever).
            std::thread::sleep(Duration::from_secs_f64(secs.min(86400.0)));
        }
        ctx.out.ok();
        return Ok(());
    }
    if args::is(args[1], "set-active-expire") && args.len() == 3 {
        // As Redis (`atoi`): any non-zero number turns the active expiry cycle on.
        let on = std::str::from_utf8(args[2]).ok().and_then(|s| s.trim().parse::<i64>().ok()).unwrap_or(0) != 0;
        ctx.server.keyspace.active_expire.store(on, std::sync::atomic::Ordering::Relaxed);
        ctx.out.ok();
        return Ok(());
    }
    if args::is(args[1], "digest") && args.len() == 2 {
        let d = with_all_shards(ctx, dataset_digest);
        ctx.out.simple(&digest::hex(&d));
        return Ok(());
    }
    if args::is(args[1], "digest-value") {
        let db = ctx.client.db;
        let digests = with_all_shards(ctx, |ctx| {
            let ks = &ctx.server.keyspace;
            let locks = &mut ctx.locks;
            args[2..]
                .iter()
                .map(|key| {
                    // Found even when its TTL has passed (not deleted here), as in Redis.
                    let mut d = digest::Digest::default();
                    let t = &locks.shard(ks.shard_of(key)).dbs[db];
                    if let Some(i) = t.find(ks.hash(key), key) {
                        let e = t.get(i);
                        digest::value(&mut d, e.value, e.has_expire());
                    }
                    d
                })
                .collect::<Vec<_>>()
        });
        ctx.out.array(digests.len());
        for d in digests {
            ctx.out.simple(&digest::hex(&d));
        }
        return Ok(());
    }
    if args::is(args[1], "help") && args.len() == 2 {
        help_reply(
            ctx.out,
            "DEBUG",
            &[
                "CHANGE-REPL-ID",
                "    Change the replication IDs of the instance (OK: redstart has no replication yet).",
                "DIGEST",
                "    Output a hex signature representing the current DB content.",
                "DIGEST-VALUE <key> [<key> ...]",
                "    Output a hex signature of the values of all the specified keys.",
                "ERROR <string>",
                "    Return a Redis protocol error with <string> as message.",
                "LOG <message>",
                "    Write <message> to the server log.",
                "PROTOCOL <type>",
                "    Reply with a test value of the specified type: string, integer, double,",
                "    bignum, null, array, set, map, attrib, push, verbatim, true, false.",
                "SET-ACTIVE-EXPIRE <0|1>",
                "    0 stops the background expiry cycle (keys still expire when accessed); 1 turns",
                "    it back on.",
                "SLEEP <seconds>",
                "    Stop the server for <seconds> (a decimal number allowed).",
                "HELP",
                "    Print this help.",
            ],
        );
        return Ok(());
    }
    if args::is(args[1], "protocol") && args.len() == 3 {
        return debug_protocol(ctx, args[2]);
    }
    if args::is(args[1], "error") && args.len() == 3 {
        // A reply error with the given text, for clients' tests (Redis's `addReplyErrorSds`).
        let mut msg = b"-".to_vec();
        msg.extend(args[2].iter().map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }));
        msg.extend_from_slice(b"\r\n");
        ctx.out.raw(&msg);
        return Ok(());
    }
    if args::is(args[1], "log") && args.len() == 3 {
        crate::log::warning(&format!("DEBUG LOG: {}", String::from_utf8_lossy(args[2])));
        ctx.out.ok();
        return Ok(());
    }
    if args::is(args[1], "change-repl-id") && args.len() == 2 {
        // No replication yet: nothing to change, and Redis answers OK.
        ctx.out.ok();
        return Ok(());
    }
    Err(CmdError::msg(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
        String::from_utf8_lossy(&args[1][..args[1].len().min(128)])
    )))
}

/// DEBUG PROTOCOL <type>: a sample reply of each RESP type, as Redis sends them (clients test
/// their parsers with it).
fn debug_protocol(ctx: &mut Ctx, kind: &[u8]) -> CmdResult {
    let out = &mut *ctx.out;
    let resp3 = out.resp3;
    match &kind.to_ascii_lowercase()[..] {
        b"string" => out.bulk(b"Hello World"),
        b"integer" => out.int(12345),
        // Redis's sample value (not an approximation of π).
        #[allow(clippy::approx_constant)]
        b"double" => out.double(3.141),
        b"bignum" if resp3 => out.raw(b"(1234567999999999999999999999999999999\r\n"),
        b"bignum" => out.bulk(b"1234567999999999999999999999999999999"),
        b"null" => out.null(),
        b"array" | b"set" | b"map" => {
            let k = kind.to_ascii_lowercase();
            match &k[..] {
                b"array" => out.array(3),
                b"set" => out.set(3),
                _ => out.map(3),
            }
            for i in 0..3 {
                out.int(i);
                if k == b"map" {
                    out.boolean(i == 1);
                }
            }
        }
        b"attrib" => {
            if resp3 {
                out.raw(b"|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n");
            }
            out.bulk(b"Some real reply following the attribute");
        }
        b"push" => {
            if !resp3 {
                return Err(CmdError::msg("ERR RESP2 is not supported by this command"));
            }
            out.push(2);
            out.bulk(b"server-cpu-usage");
            out.int(42);
            out.pushed();
            out.bulk(b"Some real reply following the push reply");
        }
        b"verbatim" => out.verbatim("txt", b"This is a verbatim\nstring"),
        b"true" => out.boolean(true),
        b"false" => out.boolean(false),
        _ => {
            return Err(CmdError::msg(
                "ERR Wrong protocol type name. Please use one of the following: \
                 string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false",
            ))
        }
    }
    Ok(())
}

/// Runs `f` with every shard locked: the command's own locks when it holds them all (DEBUG
/// inside EXEC), otherwise all of them taken for the call.
fn with_all_shards<R>(ctx: &mut Ctx, f: impl FnOnce(&mut Ctx) -> R) -> R {
    if ctx.locks.holds_all() {
        return f(ctx);
    }
    let all = ctx.server.keyspace.lock_all();
    let mine = std::mem::replace(&mut ctx.locks, all);
    let r = f(ctx);
    ctx.locks = mine;
    r
}

/// DEBUG DIGEST over every database (see `db::digest`).
fn dataset_digest(ctx: &mut Ctx) -> digest::Digest {
    let mut fin = digest::Digest::default();
    for db in 0..ctx.server.keyspace.databases() {
        let mut first = true;
        for shard in ctx.locks.shards() {
            for e in shard.dbs[db].iter() {
                if std::mem::take(&mut first) {
                    digest::mix(&mut fin, &(db as u32).to_be_bytes());
                }
                let mut d = digest::Digest::default();
                digest::mix(&mut d, e.key);
                digest::value(&mut d, e.value, e.has_expire());
                digest::xor(&mut fin, &d);
            }
        }
    }
    fin
}

// ---------------------------------------------------------------------------------------------
// COMMAND

/// Looks a command up by name, `container|sub` included.
fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    if let Some(spec) = table().get(name) {
        return Some(spec);
    }
    let bar = name.iter().position(|&b| b == b'|')?;
    let parent = table().get(&name[..bar])?;
    subcommand(parent, &name[bar + 1..])
}

/// Every command, containers followed by their subcommands, with full names, in name order.
fn all_commands() -> Vec<(&'static str, &'static CommandSpec)> {
    all_meta().iter().filter_map(|m| lookup(m.full_name.as_bytes()).map(|s| (m.full_name, s))).collect()
}

/// A set of flag names (command flags, key-spec flags) in `names`' order.
fn write_flag_set(out: &mut Writer, flags: u32, names: &[(u32, &str)]) {
    let names: Vec<&str> = names.iter().filter(|(f, _)| flags & f != 0).map(|&(_, n)| n).collect();
    out.set(names.len());
    for n in names {
        out.simple(n);
    }
}

fn write_acl(out: &mut Writer, spec: &CommandSpec) {
    let cats = spec.acl_categories();
    let names: Vec<&str> = acl::NAMES.iter().filter(|(c, _)| cats & c != 0).map(|&(_, n)| n).collect();
    out.set(names.len());
    for n in names {
        out.simple(&format!("@{n}"));
    }
}

fn write_key_spec(out: &mut Writer, spec: &KeySpec) {
    out.map(3 + usize::from(!spec.notes.is_empty()));
    if !spec.notes.is_empty() {
        out.bulk(b"notes");
        out.bulk(spec.notes.as_bytes());
    }
    out.bulk(b"flags");
    write_flag_set(out, spec.flags, ks::NAMES);
    out.bulk(b"begin_search");
    out.map(2);
    out.bulk(b"type");
    match spec.begin {
        BeginSearch::Index(i) => {
            out.bulk(b"index");
            out.bulk(b"spec");
            out.map(1);
            out.bulk(b"index");
            out.int(i as i64);
        }
        BeginSearch::Keyword(kw, from) => {
            out.bulk(b"keyword");
            out.bulk(b"spec");
            out.map(2);
            out.bulk(b"keyword");
            out.bulk(kw.as_bytes());
            out.bulk(b"startfrom");
            out.int(from as i64);
        }
        BeginSearch::Unknown => {
            out.bulk(b"unknown");
            out.bulk(b"spec");
            out.map(0);
        }
    }
    out.bulk(b"find_keys");
    out.map(2);
    out.bulk(b"type");
    match spec.find {
        FindKeys::Range { lastkey, keystep, limit } => {
            out.bulk(b"range");
            out.bulk(b"spec");
            out.map(3);
            out.bulk(b"lastkey");
            out.int(lastkey as i64);
            out.bulk(b"keystep");
            out.int(keystep as i64);
            out.bulk(b"limit");
            out.int(limit as i64);
        }
        FindKeys::Keynum { keynumidx, firstkey, keystep } => {
            out.bulk(b"keynum");
            out.bulk(b"spec");
            out.map(3);
            out.bulk(b"keynumidx");
            out.int(keynumidx as i64);
            out.bulk(b"firstkey");
            out.int(firstkey as i64);
            out.bulk(b"keystep");
            out.int(keystep as i64);
        }
        FindKeys::Unknown => {
            out.bulk(b"unknown");
            out.bulk(b"spec");
            out.map(0);
        }
    }
}

/// The 10-element `COMMAND INFO` entry of a command.
fn write_command_info(out: &mut Writer, full_name: &str, spec: &'static CommandSpec) {
    out.array(10);
    out.bulk(full_name.as_bytes());
    out.int(spec.arity as i64);
    write_flag_set(out, spec.info_flags(), flags::NAMES);
    let (first, last, step) = spec.keys.legacy_range();
    out.int(first as i64);
    out.int(last as i64);
    out.int(step as i64);
    write_acl(out, spec);
    out.set(spec.tips.len());
    for t in spec.tips {
        out.bulk(t.as_bytes());
    }
    let specs = spec.keys.specs();
    out.set(specs.len());
    for ks in specs {
        write_key_spec(out, ks);
    }
    // Redis: an empty set without subcommands, an array of them otherwise.
    if spec.subcommands.is_empty() {
        out.set(0);
    } else {
        out.array(spec.subcommands.len());
    }
    for sub in spec.subcommands {
        write_command_info(out, &format!("{}|{}", full_name, sub.name), sub);
    }
}

fn command(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    let mut top: Vec<&'static CommandSpec> = table().iter().collect();
    top.sort_by_key(|s| s.name);
    ctx.out.array(top.len());
    for spec in top {
        write_command_info(ctx.out, spec.name, spec);
    }
    Ok(())
}

fn command_count(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    ctx.out.int(table().len() as i64);
    Ok(())
}

fn command_info(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    if args.len() == 2 {
        return command(ctx, args);
    }
    ctx.out.array(args.len() - 2);
    for name in &args[2..] {
        match lookup(name) {
            Some(spec) => {
                let full = String::from_utf8_lossy(name).to_ascii_lowercase();
                write_command_info(ctx.out, &full, spec);
            }
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn write_docs(out: &mut Writer, full_name: &str, spec: &'static CommandSpec) {
    let n = 4 + usize::from(!spec.subcommands.is_empty());
    out.map(n);
    out.bulk(b"summary");
    out.bulk(spec.summary.as_bytes());
    out.bulk(b"since");
    out.bulk(spec.since.as_bytes());
    out.bulk(b"group");
    out.bulk(spec.group.as_bytes());
    out.bulk(b"complexity");
    out.bulk(spec.complexity.as_bytes());
    if !spec.subcommands.is_empty() {
        out.bulk(b"subcommands");
        out.map(spec.subcommands.len());
        for sub in spec.subcommands {
            let name = format!("{}|{}", full_name, sub.name);
            out.bulk(name.as_bytes());
            write_docs(out, &name, sub);
        }
    }
}

fn command_docs(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let found: Vec<(String, &'static CommandSpec)> = if args.len() == 2 {
        let mut top: Vec<&'static CommandSpec> = table().iter().collect();
        top.sort_by_key(|s| s.name);
        top.into_iter().map(|s| (s.name.to_string(), s)).collect()
    } else {
        args[2..]
            .iter()
            .filter_map(|n| lookup(n).map(|s| (String::from_utf8_lossy(n).to_ascii_lowercase(), s)))
            .collect()
    };
    ctx.out.map(found.len());
    for (name, spec) in found {
        ctx.out.bulk(name.as_bytes());
        write_docs(ctx.out, &name, spec);
    }
    Ok(())
}

fn command_list(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let all = all_commands();
    let names: Vec<&str> = match args.len() {
        2 => all.iter().map(|(n, _)| *n).collect(),
        5 if args::is(args[2], "filterby") => {
            let v = args[4];
            if args::is(args[3], "module") {
                Vec::new()
            } else if args::is(args[3], "aclcat") {
                match acl::NAMES.iter().find(|(_, n)| args::is(v, n)) {
                    Some(&(cat, _)) => {
                        all.iter().filter(|(_, s)| s.acl_categories() & cat != 0).map(|(n, _)| *n).collect()
                    }
                    None => Vec::new(),
                }
            } else if args::is(args[3], "pattern") {
                all.iter()
                    .filter(|(n, _)| crate::db::glob::glob_match(v, n.as_bytes(), true))
                    .map(|(n, _)| *n)
                    .collect()
            } else {
                return Err(CmdError::Syntax);
            }
        }
        _ => return Err(CmdError::Syntax),
    };
    ctx.out.array(names.len());
    for n in names {
        ctx.out.bulk(n.as_bytes());
    }
    Ok(())
}

/// COMMAND GETKEYS and GETKEYSANDFLAGS, as Redis's `getKeysSubcommandImpl`: the command line
/// is resolved as Redis's `lookupCommand` does (a container alone is itself; with more
/// arguments, its subcommand), then checked for keys, then for arity, then its keys are found
/// from the table's key specs (see `Keys::get`).
fn getkeys(ctx: &mut Ctx, args: &[&[u8]], with_flags: bool) -> CmdResult {
    let cmd = &args[2..];
    let base = table().get(cmd[0]);
    let spec = match base {
        Some(b) if cmd.len() > 1 && !b.subcommands.is_empty() => subcommand(b, cmd[1]),
        other => other,
    };
    let Some(spec) = spec else {
        return Err(CmdError::msg("ERR Invalid command specified"));
    };
    if !spec.keys.has_keys() {
        return Err(CmdError::msg("ERR The command has no key arguments"));
    }
    let arity_ok = if spec.arity > 0 { cmd.len() == spec.arity as usize } else { cmd.len() >= (-spec.arity) as usize };
    if !arity_ok {
        return Err(CmdError::msg("ERR Invalid number of arguments specified for command"));
    }
    let keys = spec.keys.get(cmd);
    if keys.is_empty() && !spec.has(NO_MANDATORY_KEYS) {
        return Err(CmdError::msg("ERR Invalid arguments specified for command"));
    }
    ctx.out.array(keys.len());
    for k in keys {
        if with_flags {
            ctx.out.array(2);
            ctx.out.bulk(cmd[k.pos]);
            write_flag_set(ctx.out, k.flags, ks::NAMES);
        } else {
            ctx.out.bulk(cmd[k.pos]);
        }
    }
    Ok(())
}

fn command_getkeys(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    getkeys(ctx, args, false)
}

fn command_getkeysandflags(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    getkeys(ctx, args, true)
}

fn command_help(ctx: &mut Ctx, _args: &[&[u8]]) -> CmdResult {
    help_reply(
        ctx.out,
        "COMMAND",
        &[
            "(no subcommand)",
            "    Describe every command.",
            "COUNT",
            "    Number of commands.",
            "LIST [FILTERBY (MODULE <name>|ACLCAT <category>|PATTERN <glob>)]",
            "    Names of the commands, optionally filtered.",
            "INFO [<command-name> ...]",
            "    Details of the named commands, or of every command.",
            "DOCS [<command-name> ...]",
            "    Documentation of the named commands, or of every command.",
            "GETKEYS <full-command>",
            "    The key arguments of a command line.",
            "GETKEYSANDFLAGS <full-command>",
            "    The key arguments of a command line and their access flags.",
            "HELP",
            "    Print this help.",
        ],
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_finds_subcommands() {
        assert_eq!(lookup(b"COMMAND|count").map(|s| s.name), Some("count"));
        assert!(lookup(b"nosuch").is_none());
        assert!(lookup(b"command|nosuch").is_none());
    }
}
