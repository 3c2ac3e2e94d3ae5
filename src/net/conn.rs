//! One client connection: read, parse every complete command in the buffer, execute them in
//! order into one output buffer, write it back. Pipelined commands therefore cost one read and
//! one write per batch, and replies always come in request order.
//!
//! Around each command the loop also: sets the reply protocol from the client's (HELLO may
//! switch it for the following replies), drops replies while CLIENT REPLY is OFF/SKIP, counts
//! error replies for INFO errorstats, and mirrors the buffer sizes and MULTI state that CLIENT
//! LIST shows to other clients. The connection closes when the client is killed (CLIENT KILL,
//! checked before every read and while waiting), when it is idle longer than `timeout`, when
//! its unparsed query buffer passes `client-query-buffer-limit`, and after QUIT.
//!
//! Pub/sub: a subscribed client's messages arrive in its mailbox (`crate::pubsub`, "Delivery").
//! Commands run inside `pubsub::in_batch`; the fan-out of the thread's batches
//! (`pubsub::flush_pending`: one `writev` per subscriber that got messages) is written by the
//! thread's park hook ([`before_park`]) once every connection with input has run its commands
//! and written its replies, or after a bounded number of batches. While a subscriber
//! waits for input with nothing left to write it lends its socket to its mailbox, so publishers
//! write to it directly; when it wakes (input, kill, or its mailbox saying the socket is full)
//! it takes the socket back and writes queued frames between replies: before each command (so
//! a message published to this client earlier precedes what its own command writes) and before
//! each flush. A guard takes the socket back before the connection closes it. A write that
//! blocks because the client stopped reading still ends when the client is killed
//! (output-buffer limit, CLIENT KILL). `client-output-buffer-limit` also applies to the replies
//! of one batch (class `normal`, or `pubsub` while subscribed). Subscribed clients are exempt
//! from `timeout`, as in Redis. On close every subscription is dropped.

use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use smallvec::SmallVec;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, Interest};

use crate::client::{argv_mem, Client, Peer, Running};
use crate::cmd::dispatch;
use crate::server::Server;
use resp::{Limits, Parsed, Parser, Writer};

/// Flush replies mid-batch once this much output is pending, so a long pipeline of large
/// replies does not pile up in memory.
const FLUSH_AT: usize = 64 * 1024;
const READ_CHUNK: usize = 16 * 1024;
/// Replies this short go into an idle socket with one write in practice (Linux's default send
/// buffer); a write that has to wait is noticed and shown all the same.
const SURELY_FITS: usize = 16 * 1024;
/// Redis's `PROTO_MBULK_BIG_ARG`: an argument this long gets a buffer of its own.
const BIG_ARG: usize = 32 * 1024;

/// The query buffer as CLIENT INFO reports it while the command `args` runs (see `serve`): the
/// batch's bytes since `ran` (negative: a parsed prefix Redis no longer holds), the spare room,
/// and the command's arguments.
fn running(ran: isize, rbuf: &BytesMut, args: &[&[u8]]) -> Running {
    Running {
        qbuf: (ran + rbuf.len() as isize).max(0) as usize,
        qbuf_free: rbuf.capacity() - rbuf.len(),
        argv_mem: argv_mem(args),
        obuf: 0,
    }
}

/// A client socket (TCP or Unix).
pub trait Transport:
    AsyncRead + AsyncWrite + AsRawFd + std::os::fd::AsFd + Unpin + Send + Sync + Sized + 'static
{
    /// The socket detached from its worker's reactor, while it moves to another worker.
    type Detached: Send + 'static;
    fn detach(self) -> std::io::Result<Self::Detached>;
    /// Registers a detached socket with the calling worker's reactor.
    fn attach(s: Self::Detached) -> std::io::Result<Self>;
    /// Waits until the socket is readable, for `read_some`.
    fn readable_io(&self) -> impl std::future::Future<Output = std::io::Result<()>> + Send;
    /// Runs `f` as tokio's `try_io` for reading: a `WouldBlock` from `f` clears readiness.
    fn try_read_io<R>(&self, f: impl FnOnce() -> std::io::Result<R>) -> std::io::Result<R>;
}

impl Transport for tokio::net::TcpStream {
    type Detached = std::net::TcpStream;
    fn detach(self) -> std::io::Result<Self::Detached> {
        self.into_std()
    }
    fn attach(s: Self::Detached) -> std::io::Result<Self> {
        Self::from_std(s)
    }
    fn readable_io(&self) -> impl std::future::Future<Output = std::io::Result<()>> + Send {
        self.readable()
    }
    fn try_read_io<R>(&self, f: impl FnOnce() -> std::io::Result<R>) -> std::io::Result<R> {
        self.try_io(Interest::READABLE, f)
    }
}

impl Transport for tokio::net::UnixStream {
    type Detached = std::os::unix::net::UnixStream;
    fn detach(self) -> std::io::Result<Self::Detached> {
        self.into_std()
    }
    fn attach(s: Self::Detached) -> std::io::Result<Self> {
        Self::from_std(s)
    }
    fn readable_io(&self) -> impl std::future::Future<Output = std::io::Result<()>> + Send {
        self.readable()
    }
    fn try_read_io<R>(&self, f: impl FnOnce() -> std::io::Result<R>) -> std::io::Result<R> {
        self.try_io(Interest::READABLE, f)
    }
}

/// Reads what the socket has into the spare capacity of `buf` (at least one byte of spare
/// capacity is required). A read that does not fill the spare capacity drained the socket, so
/// it also clears tokio's readiness: the next read waits for epoll instead of issuing a `recv`
/// that would only return EAGAIN. That saves one syscall per request on unpipelined traffic,
/// as Redis's level-triggered loop does. Tokio only clears the readiness it observed before the
/// read, so data arriving meanwhile still wakes the connection.
async fn read_some<S: Transport>(stream: &S, buf: &mut BytesMut) -> std::io::Result<usize> {
    loop {
        stream.readable_io().await?;
        let mut got = 0usize;
        let res = stream.try_read_io(|| {
            let spare = buf.spare_capacity_mut();
            let room = spare.len();
            let n = socket2::SockRef::from(stream).recv(spare)?;
            got = n;
            if n > 0 && n < room {
                Err(std::io::ErrorKind::WouldBlock.into())
            } else {
                Ok(n)
            }
        });
        match res {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && got > 0 => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
        // SAFETY: `recv` initialised the first `got` bytes of the spare capacity (it returns
        // the number of bytes it wrote), and `got` is at most the spare capacity's length.
        unsafe { buf.set_len(buf.len() + got) };
        return Ok(got);
    }
}

pub async fn run<S: Transport>(server: Arc<Server>, mut stream: S, peer: Peer) {
    server.stats.total_connections_received.fetch_add(1, Ordering::Relaxed);
    let (maxclients, needs_auth) = {
        let c = server.config.read();
        (c.maxclients, c.requirepass.is_some())
    };
    let Some(info) = server.clients.try_register(peer, maxclients) else {
        server.stats.rejected_connections.fetch_add(1, Ordering::Relaxed);
        let _ = stream.write_all(b"-ERR max number of clients reached\r\n").await;
        super::workers::conn_closed();
        return;
    };
    info.fd.store(stream.as_raw_fd(), Ordering::Relaxed);
    let client = Client::new(info.clone(), !needs_auth);
    drive(server, stream, client, ConnState::new()).await
}

/// What a connection carries from one batch to the next, and to another worker when it moves.
struct ConnState {
    rbuf: BytesMut,
    out: Writer,
    parser: Parser,
    obuf_soft_since: Option<std::time::Instant>,
    /// Read from its socket since it last moved (a connection moves at most once per read, so
    /// it cannot bounce between workers without serving its client).
    settled: bool,
}

impl ConnState {
    fn new() -> ConnState {
        ConnState {
            rbuf: BytesMut::with_capacity(READ_CHUNK),
            out: Writer::new(false),
            parser: Parser::new(),
            obuf_soft_since: None,
            settled: true,
        }
    }
}

/// Serves the connection on this worker until it closes or moves to another worker
/// (`workers`, "Placement follows load").
async fn drive<S: Transport>(server: Arc<Server>, mut stream: S, mut client: Client, mut st: ConnState) {
    if let Ok(Some(to)) = serve(&server, &mut stream, &mut client, &mut st).await {
        match stream.detach() {
            Ok(raw) => {
                super::workers::spawn_moved(to, resume::<S>(server, raw, client, st));
                return;
            }
            Err(e) => crate::log::verbose(&format!("Moving a client connection: {e}")),
        }
    }
    close(&server, &mut client);
}

/// A moved connection's continuation on its new worker (boxed: `drive` and `resume` call each
/// other).
fn resume<S: Transport>(
    server: Arc<Server>,
    raw: S::Detached,
    mut client: Client,
    st: ConnState,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async move {
        match S::attach(raw) {
            Ok(stream) => drive(server, stream, client, st).await,
            Err(e) => {
                crate::log::warning(&format!("Registering a moved client connection: {e}"));
                close(&server, &mut client);
            }
        }
    })
}

/// The connection is closing: its subscriptions, watched keys and registry entry go.
fn close(server: &Server, client: &mut Client) {
    // Fan-out a batch cut short (parse error, QUIT, kill) left for this thread's subscribers.
    fan_out_pending();
    crate::cmd::session::unwatch_all(server, client);
    crate::pubsub::remove_all(&server.pubsub, &mut client.pubsub);
    server.clients.unregister(client.id);
    super::workers::conn_closed();
}

/// Runs the connection's batches. `Ok(Some(worker))`: the connection is between two batches
/// with nothing pending and should move to `worker`.
async fn serve<S: Transport>(
    server: &Arc<Server>,
    stream: &mut S,
    client: &mut Client,
    st: &mut ConnState,
) -> std::io::Result<Option<usize>> {
    let ConnState { rbuf, out, parser, obuf_soft_since, settled } = st;
    let info = client.info.clone();
    // Declared after `stream` is borrowed, so dropped before the socket closes.
    let mut lent = Lent(None);
    loop {
        // What the read buffer holds before this batch consumes anything: `capacity()` only
        // counts the space after the consumed bytes, so it is taken now (see below).
        let rbuf_held = rbuf.capacity();
        // Configuration read once per batch, not per command: the lock is shared by all cores.
        let (max_bulk_len, query_limit, timeout) = {
            let c = server.config.read();
            (c.proto_max_bulk_len, c.client_query_buffer_limit, c.timeout)
        };
        // As Redis, the limit applies to what was read, before any of it is executed: a read
        // that completes an oversized command still closes the connection.
        if rbuf.len() > query_limit {
            crate::log::warning("Closing client that reached max query buffer length");
            return Ok(None);
        }
        // What the batch ran so far, for CLIENT INFO while a command runs: Redis's query buffer
        // then holds what it read since its last batch, minus the parsed part of a command left
        // incomplete by then (moved into its arguments), with the commands already run (it
        // drops them when the batch ends).
        let mut ran = -(parser.parsed_len() as isize);
        // Execute every complete command already buffered.
        loop {
            let limits =
                Limits { max_bulk_len, max_multibulk_len: i32::MAX as i64, unauthenticated: !client.authenticated };
            match parser.parse(rbuf, limits) {
                Ok(None) => break,
                Ok(Some(Parsed::Empty { consumed })) => {
                    rbuf.advance(consumed);
                    ran += consumed as isize;
                }
                Ok(Some(Parsed::Multibulk { consumed })) => {
                    let big = {
                        let args: SmallVec<[&[u8]; 8]> = parser.spans().iter().map(|&(s, e)| &rbuf[s..e]).collect();
                        client.running = running(ran, rbuf, &args);
                        execute(server, client, out, &args);
                        if client.block.pending.is_some() {
                            info.argv_mem.store(argv_mem(&args), Ordering::Relaxed);
                        }
                        args.iter().any(|a| a.len() >= BIG_ARG)
                    };
                    rbuf.advance(consumed);
                    // Redis reads a big argument into a buffer of its own and hands it over,
                    // starting a new query buffer: what came before is gone from it.
                    ran = if big { 0 } else { ran + consumed as isize };
                }
                Ok(Some(Parsed::Inline { consumed, args })) => {
                    let argv: SmallVec<[&[u8]; 8]> = args.iter().map(|a| a.as_slice()).collect();
                    client.running = running(ran, rbuf, &argv);
                    execute(server, client, out, &argv);
                    if client.block.pending.is_some() {
                        info.argv_mem.store(argv_mem(&argv), Ordering::Relaxed);
                    }
                    rbuf.advance(consumed);
                    ran += consumed as isize;
                }
                Err(e) => {
                    fan_out_pending();
                    out.error(&format!("ERR {e}"));
                    let _ = stream.write_all(&out.buf).await;
                    return Ok(None);
                }
            }
            if let Some(b) = client.block.pending.take() {
                if !wait_blocked(server, stream, client, out, rbuf, b, query_limit).await? {
                    return Ok(None);
                }
            }
            if client.close_after_reply {
                fan_out_pending();
                stream.write_all(&out.buf).await?;
                return Ok(None);
            }
            if over_output_limit(client, out, obuf_soft_since) {
                return Ok(None);
            }
            if out.len() >= FLUSH_AT {
                flush_unless_killed(server, stream, out, client).await?;
            } else if crate::pubsub::should_flush() {
                fan_out_now().await;
            }
        }
        // This batch's messages wait for the thread's park hook (`before_park`), unless the
        // thread has been too busy to park for a while (or has no such hook).
        let due = crate::pubsub::batch_ended();
        if due || (crate::pubsub::has_pending() && super::workers::current().is_none()) {
            fan_out_now().await;
        }
        if let Some(mb) = &client.pubsub.mailbox {
            mb.drain_into(&mut out.buf);
        }
        // What CLIENT LIST shows of this client between batches, stored before the replies go:
        // once a client has its reply, other clients see the state that followed.
        info.qbuf.store(rbuf.len() - parser.parsed_len(), Ordering::Relaxed);
        info.argv_mem.store(parser.parsed_args_len(), Ordering::Relaxed);
        if !out.is_empty() {
            flush_unless_killed(server, stream, out, client).await?;
        }
        if info.killed.load(Ordering::Acquire) {
            return Ok(None);
        }
        // A read buffer grown for a large command is given back once it is drained, as Redis
        // shrinks idle query buffers, so the client's memory (`tot-mem`) goes back down. The
        // size is judged from before the batch: once a 4 MB command is consumed, `capacity()`
        // reports only what lies after it, while the connection still holds the 4 MB.
        if rbuf.is_empty() && rbuf_held.max(rbuf.capacity()) > 1 << 20 {
            *rbuf = BytesMut::with_capacity(READ_CHUNK);
        }
        info.qbuf_free.store(rbuf.capacity() - rbuf.len(), Ordering::Relaxed);
        info.qbuf_cap.store(rbuf.capacity(), Ordering::Relaxed);
        info.obuf_cap.store(out.buf.capacity(), Ordering::Relaxed);
        // Client eviction (`maxmemory-clients`), checked whenever a buffer changed size.
        if info.update_mem() {
            server.clients.evict_for_memory();
        }
        // Between two batches, with every reply written: the one point where a connection may
        // move to another worker (`workers`). A subscriber too: it has taken its socket back
        // from its mailbox, and lends it again from the new thread, naming that thread's inbox
        // (frames queued meanwhile wait in the mailbox and are written there first).
        if *settled && out.is_empty() {
            if let Some(to) = super::workers::should_move() {
                *settled = false;
                return Ok(Some(to));
            }
        }
        // Read more, sizing the read to a large bulk in progress (but never its declared
        // length up front: the client may be lying).
        let want = parser.pending_bulk_bytes(rbuf.len()).unwrap_or(0).clamp(READ_CHUNK, 1 << 20);
        rbuf.reserve(want);
        let read = read_some(&*stream, rbuf);
        let mailbox = client.pubsub.mailbox.clone();
        if let Some(mb) = &mailbox {
            // Frames that arrived since the last drain: write them first.
            if !mb.go_idle(stream.as_raw_fd(), Some(&thread_inbox())) {
                continue;
            }
            if lent.0.is_none() {
                lent.0 = Some(mb.clone());
            }
        }
        // `timeout` counts from the client's last input, not from this wait: a wake-up that
        // read nothing (mail, a move request) does not restart it.
        let timeout = if client.pubsub.active() { 0 } else { timeout };
        let quiet_ms = if timeout == 0 {
            0
        } else {
            (info.created.elapsed().as_millis() as u64).saturating_sub(info.last_interaction_ms.load(Ordering::Relaxed))
        };
        let woke = tokio::select! {
            r = read => Woke::Read(r),
            _ = info.kill_notify.notified() => Woke::Close,
            _ = idle(timeout, quiet_ms) => Woke::Close,
            // Messages the publishers could not write (full socket, or a delivery outside a
            // command batch): back to the top, which writes them.
            _ = mail(mailbox.as_deref()) => Woke::Mail,
            // A subscriber that only receives never ends a batch: a move request wakes it,
            // back to the top, where the move happens.
            _ = shed_asked(mailbox.is_some()) => Woke::Shed,
        };
        if let Some(mb) = &mailbox {
            mb.go_busy();
        }
        let n = match woke {
            Woke::Read(r) => r?,
            Woke::Close => return Ok(None),
            Woke::Mail => continue,
            Woke::Shed => {
                // A subscriber is served by its deliveries, not its reads: it may move again.
                *settled = true;
                continue;
            }
        };
        if n == 0 {
            return Ok(None);
        }
        *settled = true;
        crate::stats::add(crate::stats::Global::NetInputBytes, n as u64);
        info.last_interaction_ms.store(info.created.elapsed().as_millis() as u64, Ordering::Relaxed);
    }
}

/// Why a waiting connection woke up.
enum Woke {
    Read(std::io::Result<usize>),
    Close,
    Mail,
    Shed,
}

/// The mailbox a connection lends its socket to; takes the socket back when dropped, which
/// happens before the socket is closed (see `pubsub`, "Delivery").
struct Lent(Option<Arc<crate::pubsub::Mailbox>>);

impl Drop for Lent {
    fn drop(&mut self) {
        if let Some(mb) = &self.0 {
            mb.go_busy();
        }
    }
}

/// This I/O thread's pub/sub inbox (`pubsub::Inbox`), created with the task that serves it on
/// the thread's first subscriber.
fn thread_inbox() -> Arc<crate::pubsub::Inbox> {
    if let Some(i) = crate::pubsub::local_inbox() {
        return i;
    }
    let inbox = Arc::new(crate::pubsub::Inbox::default());
    crate::pubsub::set_local_inbox(inbox.clone());
    let serving = inbox.clone();
    tokio::spawn(async move {
        serving
            .serve(|n| {
                if n > 0 {
                    crate::stats::add(crate::stats::Global::NetOutputBytes, n);
                }
            })
            .await
    });
    inbox
}

/// Writes the pub/sub messages this thread's commands queued for idle subscribers.
fn fan_out_pending() {
    let n = crate::pubsub::flush_pending();
    if n > 0 {
        crate::stats::add(crate::stats::Global::NetOutputBytes, n);
    }
}

/// `fan_out_pending` now, from a connection's batch. As in Redis, the AOF gets the writes
/// before any client hears of them (the keyspace events and messages included), not only
/// before the replies.
async fn fan_out_now() {
    if crate::persist::aof::must_write() {
        crate::persist::aof::write_and_sync(crate::net::workers::current().is_some()).await;
    }
    fan_out_pending();
}

/// The I/O threads' park hook (tokio `on_thread_park`, Redis's `beforeSleep`): runs when none of
/// the thread's tasks can make progress. The `appendfsync always` group commit, then the pub/sub
/// messages the thread's batches queued: every connection that had input has run its commands
/// and written its replies by now (Redis answers the publisher before it writes the
/// subscribers too), so one `writev` per subscriber carries the messages of every publisher
/// of this pass, and the publishers' next commands are on their way meanwhile.
pub(crate) fn before_park() {
    crate::persist::aof::before_park();
    if crate::pubsub::has_pending() {
        if crate::persist::aof::must_write() {
            crate::persist::aof::write_and_sync_now();
        }
        fan_out_pending();
    }
}

/// Runs one command: protocol, dispatch, CLIENT REPLY suppression, error statistics, and the
/// state other clients see in CLIENT LIST. Allocation-free unless the command itself allocates.
#[inline]
fn execute(server: &Server, client: &mut Client, out: &mut Writer, args: &[&[u8]]) {
    out.resp3 = client.resp == 3;
    if let Some(mb) = &client.pubsub.mailbox {
        mb.drain_into(&mut out.buf);
    }
    let mark = out.len();
    out.push_end = mark;
    crate::pubsub::in_batch(|| dispatch::execute(server, client, out, args));
    if out.buf.get(mark) == Some(&b'-') {
        crate::stats::record_error(&out.buf[mark + 1..]);
    }
    if client.take_reply_suppressed() {
        // What the command pushed (pub/sub confirmations and messages, keyspace events) still
        // goes out, as in Redis: only its reply is dropped.
        out.truncate(out.push_end.max(mark));
    }
    let (multi, multi_mem) = client.multi.as_ref().map_or((-1, 0), |m| (m.queued.len() as i64, m.mem));
    client.info.multi.store(multi, Ordering::Relaxed);
    client.info.multi_mem.store(multi_mem, Ordering::Relaxed);
    client.info.obuf.store(out.len(), Ordering::Relaxed);
}

/// Waits for messages in a subscriber's mailbox; forever without one.
async fn mail(mb: Option<&crate::pubsub::Mailbox>) {
    match mb {
        Some(mb) => mb.ready().await,
        None => std::future::pending::<()>().await,
    }
}

/// Resolves when a subscriber's worker asks connections to move (see `workers::shed_asked`).
/// Other connections reach the move point with their next command, so they do not register
/// with the worker's wake-up on every wait.
async fn shed_asked(subscriber: bool) {
    if subscriber {
        super::workers::shed_asked().await
    } else {
        std::future::pending::<()>().await
    }
}

/// `client-output-buffer-limit` for the replies buffered in this batch. Logs and returns true
/// when the client must be closed.
fn over_output_limit(client: &Client, out: &Writer, since: &mut Option<std::time::Instant>) -> bool {
    let class = if client.pubsub.active() { crate::pubsub::CLASS_PUBSUB } else { crate::pubsub::CLASS_NORMAL };
    let lim = crate::pubsub::limit(class);
    if lim.is_none() || !lim.exceeded(out.len() as u64, since) {
        return false;
    }
    crate::log::warning(&format!(
        "Client id={} addr={} closed for overcoming of output buffer limits.",
        client.id,
        client.info.peer.addr_string()
    ));
    true
}

/// `flush`, abandoned when the client is killed meanwhile (a subscriber that stopped reading
/// would otherwise keep the task blocked in `write`). A subscriber's mailbox is told how much
/// output is in flight, for its output-buffer limit.
async fn flush_unless_killed<S: AsyncWrite + Unpin>(
    server: &Server,
    stream: &mut S,
    out: &mut Writer,
    client: &Client,
) -> std::io::Result<()> {
    let mb = client.pubsub.mailbox.as_deref();
    if let Some(mb) = mb {
        mb.set_in_flight(out.len());
    }
    let info = &client.info;
    // The pending replies count as client memory while they are written (INFO
    // `mem_clients_normal`, `maxmemory-clients`): a client that stops reading holds them.
    info.obuf_cap.store(out.buf.capacity(), Ordering::Relaxed);
    if info.update_mem() {
        server.clients.evict_for_memory();
    }
    // Biased towards the write: a client that killed itself (CLIENT KILL ... SKIPME no) still
    // gets its reply, as in Redis; the kill only cuts short a write that cannot complete.
    tokio::select! {
        biased;
        r = flush(stream, out, info) => r?,
        _ = info.kill_notify.notified() => {
            return Err(std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "client killed"));
        }
    }
    if let Some(mb) = mb {
        mb.set_in_flight(0);
    }
    Ok(())
}

/// A command blocked (`cmd::blocking`): send the replies before it, then wait for its outcome
/// while watching the socket (EOF = the client left) and kills. Commands pipelined after it
/// stay buffered until it is done. Returns false when the connection must close.
async fn wait_blocked<S: Transport>(
    server: &Server,
    stream: &mut S,
    client: &mut Client,
    out: &mut Writer,
    rbuf: &mut BytesMut,
    blocked: crate::db::blocked::Blocked,
    query_limit: usize,
) -> std::io::Result<bool> {
    fan_out_pending();
    if !out.is_empty() {
        if let Err(e) = flush(stream, out, &client.info).await {
            blocked.cancel(&server.keyspace);
            return Err(e);
        }
    }
    let info = client.info.clone();
    // CLIENT LIST of a blocked client: its command's arguments (`argv-mem`, stored when it
    // blocked) and what is buffered behind it.
    info.qbuf.store(rbuf.len(), Ordering::Relaxed);
    info.qbuf_free.store(rbuf.capacity() - rbuf.len(), Ordering::Relaxed);
    let gone = loop {
        if rbuf.capacity() - rbuf.len() < 1024 {
            rbuf.reserve(READ_CHUNK);
        }
        tokio::select! {
            _ = blocked.wait() => break false,
            _ = info.kill_notify.notified() => break true,
            r = read_some(&*stream, rbuf) => match r {
                Ok(n) if n > 0 && rbuf.len() <= query_limit => continue,
                _ => break true,
            },
        }
    };
    info.argv_mem.store(0, Ordering::Relaxed);
    if gone || info.killed.load(Ordering::Acquire) {
        blocked.cancel(&server.keyspace);
        return Ok(false);
    }
    let reply = blocked.finish(&server.keyspace);
    if client.reply_mode == crate::client::ReplyMode::On {
        if reply.first() == Some(&b'-') {
            crate::stats::record_error(&reply[1..]);
        }
        out.raw(&reply);
    }
    Ok(true)
}

/// Resolves when a client quiet for `quiet_ms` already reaches `timeout_secs` (never for 0).
async fn idle(timeout_secs: u64, quiet_ms: u64) {
    if timeout_secs == 0 {
        std::future::pending::<()>().await;
    }
    tokio::time::sleep(Duration::from_millis((timeout_secs * 1000).saturating_sub(quiet_ms))).await;
}

async fn flush<S: AsyncWrite + Unpin>(
    stream: &mut S,
    out: &mut Writer,
    info: &crate::client::ClientInfo,
) -> std::io::Result<()> {
    // The AOF data of the writes these replies acknowledge goes to the file first (and to the
    // disk with `appendfsync always`). Yielding first lets the other connections of this
    // thread that have input run their commands, so one write (and one fsync) covers them all.
    if crate::persist::aof::must_write() {
        tokio::task::yield_now().await;
        crate::persist::aof::write_and_sync(crate::net::workers::current().is_some()).await;
    }
    // Counted before the write, so a client that has read a reply also sees it counted
    // (with several I/O threads, INFO on another connection could otherwise run first).
    crate::stats::add(crate::stats::Global::NetOutputBytes, out.buf.len() as u64);
    {
        // CLIENT LIST: the replies are pending output until the socket takes them, with
        // `events=rw` while the write waits for room. Replies that fit in the socket at once
        // are taken as written before the write, so that a client that read them never sees
        // them pending (another thread may describe it before this one goes on).
        let pending = out.buf.len();
        info.obuf.store(if pending <= SURELY_FITS { 0 } else { pending }, Ordering::Relaxed);
        let mut write = std::pin::pin!(stream.write_all(&out.buf));
        let written = std::future::poll_fn(|cx| {
            let p = std::future::Future::poll(write.as_mut(), cx);
            if p.is_pending() && !info.writing.load(Ordering::Relaxed) {
                info.obuf.store(pending, Ordering::Relaxed);
                info.writing.store(true, Ordering::Relaxed);
            }
            p
        })
        .await;
        info.writing.store(false, Ordering::Relaxed);
        info.obuf.store(0, Ordering::Relaxed);
        written?;
    }
    out.buf.clear();
    if out.buf.capacity() > 1 << 20 {
        out.buf.shrink_to(64 * 1024);
    }
    Ok(())
}
