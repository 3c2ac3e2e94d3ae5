//! The `redstart` binary: `redstart [/path/to/redis.conf | -] [--directive value ...]`,
//! `redstart --version`, `redstart --help`, `redstart check-rdb FILE` (checks an RDB file like
//! `redis-check-rdb`: exit status 0 when it is sound, 1 with the damaged offset otherwise),
//! `redstart check-aof [--fix|--truncate-to-timestamp T] FILE` (checks an AOF manifest and its
//! files, or one AOF, like `redis-check-aof`; see `persist::check_aof`).
//!
//! SIGXFSZ is ignored, so that a write past `RLIMIT_FSIZE` fails with `EFBIG` and is handled
//! as a full disk (Redis 7.0 keeps the default action and is killed).
//!
//! `daemonize yes` is accepted but not supported: redstart logs a warning and stays in the
//! foreground (run it under a supervisor instead).

use redstart::config::{self, Config, Startup};
use redstart::{cmd, log, server::Server};

/// Makes glibc serve large allocations (table slots, entry vectors, big values) with their own
/// mappings, so that freeing them (expiry, DEL, FLUSHALL) returns the memory to the system at
/// once. By default glibc raises this threshold after the first large free, after which big
/// blocks come from arenas that are rarely trimmed and RSS stays at its peak.
fn tune_allocator() {
    // SAFETY: `mallopt` only changes allocator parameters; it is called before any other thread
    // exists, and M_MMAP_THRESHOLD accepts any value up to 32 MiB.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}

/// A write past the file-size limit (`ulimit -f`) then fails with `EFBIG`, which the AOF and
/// RDB writers report like a full disk, instead of the signal killing the process.
fn ignore_sigxfsz() {
    // SAFETY: installing SIG_IGN registers no handler code; it runs before any other thread
    // exists, and SIGXFSZ is a valid signal number.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

/// Counts allocated bytes for INFO `used_memory` and `maxmemory` (see `redstart::alloc`).
#[global_allocator]
static ALLOC: redstart::alloc::Counting = redstart::alloc::Counting;

fn main() {
    tune_allocator();
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("check-rdb") {
        std::process::exit(check_rdb(&args[2..]));
    }
    if args.get(1).map(String::as_str) == Some("check-aof") {
        let code = redstart::persist::check_aof::main(&args[2..], &mut std::io::stdin().lock(), &mut std::io::stdout());
        std::process::exit(code);
    }
    ignore_sigxfsz();
    let config = match Config::startup(&args[1..], &mut std::io::stdin().lock()) {
        Ok(Startup::Run(c)) => *c,
        Ok(Startup::Version) => {
            println!("{}", config::version_line());
            return;
        }
        Ok(Startup::Help) => {
            eprint!("{}", config::usage());
            return;
        }
        Err(msg) => {
            eprintln!("{msg}");
            std::process::exit(1);
        }
    };
    if let Err(e) = log::set_file(&config.logfile) {
        eprintln!("Can't open the log file: {}", config::io_reason(&e));
        std::process::exit(1);
    }
    log::set_level(cmd::config::level_of(&config.loglevel));
    if config.daemonize {
        log::warning("daemonize yes is not supported by redstart: running in the foreground");
    }
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    // Connections run on one single-threaded runtime per core; this runtime only accepts
    // connections and runs background jobs (active expiry, signals).
    redstart::net::start_workers(threads);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    let exe = std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default();
    let config_file = config.config_file.clone();
    let port = config.port;
    let has_config_file = !config_file.is_empty();
    let server = Server::new(config, exe, config_file);
    log::warning("oO0OoO0OoO0Oo redstart is starting oO0OoO0OoO0Oo");
    log::warning(&format!(
        "redstart version={}, redis_version={}, bits=64, commit=00000000, modified=0, pid={}, just started",
        config::VERSION,
        redstart::cmd::REDIS_VERSION,
        std::process::id()
    ));
    if !has_config_file {
        log::warning(
            "Warning: no config file specified, using the default config. In order to specify a config file \
             use redstart /path/to/redstart.conf",
        );
    } else {
        log::warning("Configuration loaded");
    }
    log::notice(&format!("Running mode=standalone, port={port}."));
    log::notice(&format!("{threads} I/O threads"));
    log::warning("Server initialized");
    if let Err(e) = rt.block_on(redstart::run(server)) {
        log::warning(&e.to_string());
        std::process::exit(1);
    }
}

/// `redstart check-rdb FILE`: the exit status.
fn check_rdb(args: &[String]) -> i32 {
    let [file] = args else {
        eprintln!("Usage: redstart check-rdb <rdb-file-name>");
        return 1;
    };
    let data = match std::fs::read(file) {
        Ok(d) => d,
        Err(e) => {
            println!("Cannot open RDB file '{file}': {}", config::io_reason(&e));
            return 1;
        }
    };
    match redstart::persist::rdb::check_file(&data) {
        Ok(report) => {
            print!("{report}");
            0
        }
        Err((offset, reason)) => {
            println!("--- RDB ERROR DETECTED ---");
            println!("[offset {offset}] {reason}");
            println!("RDB file '{file}' is damaged ({} bytes)", data.len());
            1
        }
    }
}
