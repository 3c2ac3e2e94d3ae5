//! Networking: listeners (TCP and Unix socket) and the per-connection loop. Knows nothing of
//! data types: it parses requests with the `resp` crate and hands them to `cmd::dispatch`.

pub mod conn;

use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, UnixListener};

use crate::client::Peer;
use crate::server::Server;

/// Binds every configured address. Addresses prefixed with `-` are optional (Redis's syntax):
/// failing to bind them is not an error.
pub async fn bind_all(server: &Server) -> std::io::Result<Vec<TcpListener>> {
    let (addrs, port) = {
        let c = server.config.read();
        (c.bind.clone(), c.port)
    };
    let mut listeners = Vec::new();
    if port == 0 {
        return Ok(listeners);
    }
    for a in addrs {
        let (optional, host) = match a.strip_prefix('-') {
            Some(h) => (true, h.to_string()),
            None => (false, a.clone()),
        };
        let host = if host == "*" { "0.0.0.0".to_string() } else { host };
        let addr = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
        match TcpListener::bind(&addr).await {
            Ok(l) => listeners.push(l),
            Err(e) if optional => crate::log::warning(&format!("Could not bind optional address {addr}: {e}")),
            Err(e) => {
                return Err(std::io::Error::new(
                    e.kind(),
                    format!("Could not create server TCP listening socket {addr}: {e}"),
                ))
            }
        }
    }
    Ok(listeners)
}

/// Accepts TCP connections forever, spawning a task per connection.
pub async fn serve_tcp(server: Arc<Server>, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, addr)) => {
                let local = stream.local_addr().unwrap_or(addr);
                let _ = stream.set_nodelay(true);
                let keepalive = server.config.read().tcp_keepalive;
                if keepalive > 0 {
                    let sock = socket2_keepalive(&stream, keepalive);
                    if let Err(e) = sock {
                        crate::log::verbose(&format!("tcp-keepalive: {e}"));
                    }
                }
                let server = server.clone();
                tokio::spawn(conn::run(server, stream, Peer::Tcp { addr, local }));
            }
            Err(e) => {
                crate::log::warning(&format!("Accepting client connection: {e}"));
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Accepts Unix-socket connections forever.
pub async fn serve_unix(server: Arc<Server>, listener: UnixListener, path: String) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let server = server.clone();
                tokio::spawn(conn::run(server, stream, Peer::Unix { path: path.clone() }));
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
