//! Networking: listeners (TCP and Unix socket) and the per-connection loop. Knows nothing of
//! data types: it parses requests with the `resp` crate and hands them to `cmd::dispatch`.
//!
//! `bind` follows Redis: each address is bound on `port`; a `-` prefix makes an address
//! optional (failing to bind it only logs), `*` means every IPv4 address and `::*` every IPv6
//! address (bound IPv6-only so both can coexist). CONFIG SET port/bind calls [`rebind`], which
//! opens the new sockets before closing the old ones. Protected mode: while `protected-mode` is
//! yes and no password is set, connections from non-loopback addresses get a `-DENIED` error
//! and are closed.

pub mod conn;
pub mod workers;

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, UnixListener};
use tokio::task::JoinHandle;

use crate::client::Peer;
use crate::server::Server;

/// The running TCP accept loops and the server they serve, so CONFIG SET can replace them.
struct Listening {
    server: Weak<Server>,
    tasks: Vec<(SocketAddr, JoinHandle<()>)>,
}

static LISTENING: Mutex<Option<Listening>> = Mutex::new(None);

/// The socket address for one `bind` entry (without its `-` prefix).
fn socket_addr(host: &str, port: u16) -> Result<SocketAddr, String> {
    let ip: IpAddr = match host {
        "*" => IpAddr::from([0u8; 4]),
        "::*" => IpAddr::from([0u16; 8]),
        h => h.parse().map_err(|_| format!("{h}: Name or service not known"))?,
    };
    Ok(SocketAddr::new(ip, port))
}

fn bind_one(addr: SocketAddr, backlog: u32) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    if addr.is_ipv6() {
        sock.set_only_v6(true)?;
    }
    sock.set_reuse_address(true)?;
    sock.set_nonblocking(true)?;
    sock.bind(&addr.into())?;
    sock.listen(backlog.min(i32::MAX as u32) as i32)?;
    Ok(sock.into())
}

/// Binds every `bind` address on `port` (none when `port` is 0), except those in `keep` (already
/// listening: reused as they are). Mandatory addresses that fail are an error naming the address;
/// optional ones only log. Returns the new listeners and the kept addresses.
type Bound = (Vec<(SocketAddr, std::net::TcpListener)>, Vec<SocketAddr>);

pub fn bind_std(bind: &[String], port: u16, backlog: u32, keep: &[SocketAddr]) -> Result<Bound, String> {
    let (mut out, mut kept) = (Vec::new(), Vec::new());
    if port == 0 {
        return Ok((out, kept));
    }
    for entry in bind {
        let (optional, host) = match entry.strip_prefix('-') {
            Some(h) => (true, h),
            None => (false, entry.as_str()),
        };
        if let Ok(a) = socket_addr(host, port) {
            if keep.contains(&a) {
                kept.push(a);
                continue;
            }
        }
        let res = socket_addr(host, port).and_then(|a| bind_one(a, backlog).map(|l| (a, l)).map_err(|e| e.to_string()));
        match res {
            Ok(l) => out.push(l),
            Err(e) if optional => {
                crate::log::warning(&format!("Could not create server TCP listening socket {host}:{port}: {e}"))
            }
            Err(e) => return Err(format!("Could not create server TCP listening socket {host}:{port}: {e}")),
        }
    }
    Ok((out, kept))
}

/// Binds the configured addresses and starts accepting (start-up).
pub fn listen(server: &Arc<Server>) -> Result<(), String> {
    let (bind, port, backlog) = {
        let c = server.config.read();
        (c.bind.clone(), c.port, c.tcp_backlog)
    };
    let (listeners, _) = bind_std(&bind, port, backlog, &[])?;
    if port != 0 && listeners.is_empty() {
        return Err(format!("Failed listening on port {port} (tcp), aborting."));
    }
    *LISTENING.lock() = Some(Listening { server: Arc::downgrade(server), tasks: Vec::new() });
    let _ = server.rebind.set(rebind);
    start(listeners, &[]).map_err(|e| e.to_string())
}

/// Starts accept loops on `listeners` and stops those whose address is not in `kept`.
fn start(listeners: Vec<(SocketAddr, std::net::TcpListener)>, kept: &[SocketAddr]) -> std::io::Result<()> {
    let mut guard = LISTENING.lock();
    let Some(state) = guard.as_mut() else { return Ok(()) };
    let Some(server) = state.server.upgrade() else { return Ok(()) };
    let mut tokio_listeners = Vec::new();
    for (a, l) in listeners {
        tokio_listeners.push((a, TcpListener::from_std(l)?));
    }
    state.tasks.retain(|(a, t)| {
        let keep = kept.contains(a);
        if !keep {
            t.abort();
        }
        keep
    });
    for (a, l) in tokio_listeners {
        state.tasks.push((a, tokio::spawn(serve_tcp(server.clone(), l))));
    }
    Ok(())
}

/// CONFIG SET port/bind: opens the new sockets (addresses already listening are kept), then
/// stops the accept loops no longer wanted. On error nothing changes and the text is the
/// reason CONFIG SET reports.
pub fn rebind(bind: &[String], port: u16, backlog: u32) -> Result<(), String> {
    let current: Vec<SocketAddr> =
        LISTENING.lock().as_ref().map(|s| s.tasks.iter().map(|(a, _)| *a).collect()).unwrap_or_default();
    let (listeners, kept) = bind_std(bind, port, backlog, &current).map_err(|e| {
        crate::log::warning(&e);
        "Unable to listen on this port".to_string()
    })?;
    if port != 0 && listeners.is_empty() && kept.is_empty() {
        return Err("Failed to bind to specified addresses.".into());
    }
    start(listeners, &kept).map_err(|e| e.to_string())
}

/// True for addresses protected mode lets in: loopback, IPv4 or IPv6 (including IPv4-mapped).
fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
    }
}

/// Sent to a non-loopback client in protected mode, then the connection is closed.
pub const DENIED: &[u8] = b"-DENIED Redis is running in protected mode because protected mode is enabled and no \
password is set for the default user. In this mode connections are only accepted from the loopback interface. \
To accept connections from other hosts, set a password (requirepass), or disable protected mode with \
'CONFIG SET protected-mode no' from the loopback interface or the '--protected-mode no' option, making sure \
the server is not reachable from untrusted networks.\r\n";

pub use workers::start as start_workers;

/// Accepts TCP connections forever, handing each to a worker.
pub async fn serve_tcp(server: Arc<Server>, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((mut stream, addr)) => {
                let local = stream.local_addr().unwrap_or(addr);
                let _ = stream.set_nodelay(true);
                let (keepalive, protected) = {
                    let c = server.config.read();
                    (c.tcp_keepalive, c.protected_mode && c.requirepass.is_none())
                };
                if protected && !is_loopback(addr.ip()) {
                    server.stats.rejected_connections.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tokio::spawn(async move {
                        let _ = stream.write_all(DENIED).await;
                    });
                    continue;
                }
                if keepalive > 0 {
                    let sock = socket2_keepalive(&stream, keepalive);
                    if let Err(e) = sock {
                        crate::log::verbose(&format!("tcp-keepalive: {e}"));
                    }
                }
                let Some(conn) =
                    conn::accept(&server, Peer::Tcp { addr, local }, std::os::fd::AsRawFd::as_raw_fd(&stream))
                else {
                    tokio::spawn(async move {
                        let _ = stream.write_all(conn::MAX_CLIENTS_REACHED).await;
                    });
                    continue;
                };
                let server = server.clone();
                // Re-register the socket with the worker's reactor, so its readiness events
                // wake the worker directly.
                let std_stream = match stream.into_std() {
                    Ok(s) => s,
                    Err(e) => {
                        conn::abandon(&server, conn);
                        crate::log::warning(&format!("Accepting client connection: {e}"));
                        continue;
                    }
                };
                workers::spawn_new(async move {
                    match tokio::net::TcpStream::from_std(std_stream) {
                        Ok(stream) => conn::run(server, stream, conn).await,
                        Err(e) => {
                            conn::abandon(&server, conn);
                            crate::log::warning(&format!("Registering client connection: {e}"))
                        }
                    }
                });
            }
            Err(e) => {
                crate::log::warning(&format!("Accepting client connection: {e}"));
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Binds the Unix socket at `path` (replacing a stale socket file) with permissions `perm`
/// (octal, 0 = leave the umask's).
pub fn bind_unix(path: &str, perm: u32) -> std::io::Result<UnixListener> {
    let _ = std::fs::remove_file(path);
    let l = UnixListener::bind(path)?;
    if perm != 0 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(perm))?;
    }
    Ok(l)
}

/// Accepts Unix-socket connections forever.
pub async fn serve_unix(server: Arc<Server>, listener: UnixListener, path: String) {
    loop {
        match listener.accept().await {
            Ok((mut stream, _)) => {
                let Some(conn) =
                    conn::accept(&server, Peer::Unix { path: path.clone() }, std::os::fd::AsRawFd::as_raw_fd(&stream))
                else {
                    tokio::spawn(async move {
                        let _ = stream.write_all(conn::MAX_CLIENTS_REACHED).await;
                    });
                    continue;
                };
                let server = server.clone();
                let std_stream = match stream.into_std() {
                    Ok(s) => s,
                    Err(_) => {
                        conn::abandon(&server, conn);
                        continue;
                    }
                };
                workers::spawn_new(async move {
                    match tokio::net::UnixStream::from_std(std_stream) {
                        Ok(stream) => conn::run(server, stream, conn).await,
                        Err(e) => {
                            conn::abandon(&server, conn);
                            crate::log::warning(&format!("Registering client connection: {e}"))
                        }
                    }
                });
            }
            Err(e) => {
                crate::log::warning(&format!("Accepting client connection: {e}"));
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

fn socket2_keepalive(stream: &tokio::net::TcpStream, secs: u64) -> std::io::Result<()> {
    let sock = socket2::SockRef::from(stream);
    let ka = socket2::TcpKeepalive::new()
        .with_time(Duration::from_secs(secs))
        .with_interval(Duration::from_secs((secs / 3).max(1)));
    sock.set_tcp_keepalive(&ka)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(socket_addr("*", 1).unwrap().to_string(), "0.0.0.0:1");
        assert_eq!(socket_addr("::*", 1).unwrap().to_string(), "[::]:1");
        assert_eq!(socket_addr("::1", 2).unwrap().to_string(), "[::1]:2");
        assert!(socket_addr("nonsense", 2).is_err());
        assert!(is_loopback("127.0.0.1".parse().unwrap()));
        assert!(is_loopback("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!is_loopback("10.0.0.1".parse().unwrap()));
    }
}
