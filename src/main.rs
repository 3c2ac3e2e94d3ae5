//! The `redstart` binary: `redstart [/path/to/redis.conf] [--directive value ...]`.

use redstart::{config::Config, log, server::Server};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let config = match Config::from_args(&args[1..]) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("{msg}");
            std::process::exit(1);
        }
    };
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let exe = std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default();
    let server = Server::new(config, exe, String::new());
    log::notice(&format!("redstart {} starting, {} threads", env!("CARGO_PKG_VERSION"), threads));
    if let Err(e) = rt.block_on(redstart::run(server)) {
        log::warning(&e.to_string());
        std::process::exit(1);
    }
}
