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
        // The consumed part of the batch is still held (`capacity()` counts from the cursor).
        qbuf_cap: ran.max(0) as usize + rbuf.capacity(),
        obuf_cap: 0,
    }
}

// ---------------------------------------------------------------------------------------------
// Idle connections hold no buffers.
//
// A connection takes a read buffer when its socket has data and an output buffer when it has
// replies to write, from a small per-thread pool, and gives each back once it is drained: an
// idle connection (the many of a large client pool) holds neither, and a busy one reuses the
// same warm buffers without calling the allocator.

/// Most buffers a thread keeps for reuse (of each kind).
const POOLED: usize = 64;

thread_local! {
    static READ_BUFFERS: std::cell::RefCell<Vec<BytesMut>> = const { std::cell::RefCell::new(Vec::new()) };
    static OUT_BUFFERS: std::cell::RefCell<Vec<Vec<u8>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A read buffer of at least `READ_CHUNK` bytes: a pooled one, or a new one.
fn take_read_buffer() -> BytesMut {
    READ_BUFFERS.with(|p| p.borrow_mut().pop()).unwrap_or_else(|| BytesMut::with_capacity(READ_CHUNK))
}

/// Gives back a drained read buffer (a grown one is freed instead).
fn give_back_read_buffer(buf: &mut BytesMut) {
    let b = std::mem::take(buf);
    if b.capacity() >= READ_CHUNK && b.capacity() <= 2 * READ_CHUNK {
        READ_BUFFERS.with(|p| {
            let mut p = p.borrow_mut();
            if p.len() < POOLED {
                let mut b = b;
                b.clear();
                p.push(b);
            }
        });
    }
}

/// An output buffer for a batch's replies (pooled when one is free).
fn take_out_buffer(out: &mut Writer) {
    if out.buf.capacity() == 0 {
        if let Some(b) = OUT_BUFFERS.with(|p| p.borrow_mut().pop()) {
            out.buf = b;
        }
    }
}

/// Gives back an output buffer once every reply was written (a grown one is freed instead).
fn give_back_out_buffer(out: &mut Writer) {
    let b = std::mem::take(&mut out.buf);
    if b.capacity() > 0 && b.capacity() <= 64 * 1024 {
        OUT_BUFFERS.with(|p| {
            let mut p = p.borrow_mut();
            if p.len() < POOLED {
                let mut b = b;
                b.clear();
                p.push(b);
            }
        });
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
    /// Readiness for `read_some` (tokio's `poll_read_ready`: the waker goes in the socket's
    /// own slot, so a waiting connection's task holds no waiter of its own).
    fn poll_readable(&self, cx: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>>;
    /// Runs `f` as tokio's `try_io` for reading: a `WouldBlock` from `f` clears readiness.
    fn try_read_io<R>(&self, f: impl FnOnce() -> std::io::Result<R>) -> std::io::Result<R>;
    /// Writes what the socket takes now (tokio's `try_write`: `WouldBlock` clears readiness).
    fn try_write_now(&self, buf: &[u8]) -> std::io::Result<usize>;
}

impl Transport for tokio::net::TcpStream {
    type Detached = std::net::TcpStream;
    fn detach(self) -> std::io::Result<Self::Detached> {
        self.into_std()
    }
    fn attach(s: Self::Detached) -> std::io::Result<Self> {
        Self::from_std(s)
    }
    fn poll_readable(&self, cx: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>> {
        self.poll_read_ready(cx)
    }
    fn try_read_io<R>(&self, f: impl FnOnce() -> std::io::Result<R>) -> std::io::Result<R> {
        self.try_io(Interest::READABLE, f)
    }
    fn try_write_now(&self, buf: &[u8]) -> std::io::Result<usize> {
        self.try_write(buf)
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
    fn poll_readable(&self, cx: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>> {
        self.poll_read_ready(cx)
    }
    fn try_read_io<R>(&self, f: impl FnOnce() -> std::io::Result<R>) -> std::io::Result<R> {
        self.try_io(Interest::READABLE, f)
    }
    fn try_write_now(&self, buf: &[u8]) -> std::io::Result<usize> {
        self.try_write(buf)
    }
}

/// Reads what the socket has into the spare capacity of `buf` (at least one byte of spare
/// capacity is required). A read that does not fill the spare capacity drained the socket, so
/// it also clears tokio's readiness: the next read waits for epoll instead of issuing a `recv`
/// that would only return EAGAIN. That saves one syscall per request on unpipelined traffic,
/// as Redis's level-triggered loop does. Tokio only clears the readiness it observed before the
/// read, so data arriving meanwhile still wakes the connection.
///
/// A hand-made future (no `async fn`): the task of a waiting connection holds three words
/// for it.
fn read_some<'a, S: Transport>(
    stream: &'a S,
    buf: &'a mut BytesMut,
    want: usize,
) -> impl std::future::Future<Output = std::io::Result<usize>> + 'a {
    std::future::poll_fn(move |cx| loop {
        if let Err(e) = std::task::ready!(stream.poll_readable(cx)) {
            return std::task::Poll::Ready(Err(e));
        }
        // The buffer is taken only now that there is something to read (see "Idle connections").
        if buf.capacity() == 0 {
            *buf = take_read_buffer();
        }
        if buf.capacity() - buf.len() < want {
            buf.reserve(want);
        }
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
            Err(e) => return std::task::Poll::Ready(Err(e)),
        }
        // SAFETY: `recv` initialised the first `got` bytes of the spare capacity (it returns
        // the number of bytes it wrote), and `got` is at most the spare capacity's length.
        unsafe { buf.set_len(buf.len() + got) };
        return std::task::Poll::Ready(Ok(got));
    })
}

/// What a refused connection reads before it is closed (`maxclients`).
pub const MAX_CLIENTS_REACHED: &[u8] = b"-ERR max number of clients reached\r\n";

/// A new connection, on the thread that accepted it: counted, and registered as a client
/// (`fd` is its socket) unless `maxclients` is reached. `None`: refused; the caller writes
/// [`MAX_CLIENTS_REACHED`] and closes the socket.
pub fn accept(server: &Server, peer: Peer, fd: std::os::fd::RawFd) -> Option<Box<Conn>> {
    server.stats.total_connections_received.fetch_add(1, Ordering::Relaxed);
    let (maxclients, needs_auth) = {
        let c = server.config.read();
        (c.maxclients, c.requirepass.is_some())
    };
    let Some(info) = server.clients.try_register(peer, maxclients) else {
        server.stats.rejected_connections.fetch_add(1, Ordering::Relaxed);
        return None;
    };
    info.fd.store(fd, Ordering::Relaxed);
    Some(Box::new(Conn { client: Client::new(info, !needs_auth), st: ConnState::new() }))
}

/// An accepted connection whose socket could not be registered with a worker: it goes.
pub fn abandon(server: &Server, mut conn: Box<Conn>) {
    close(server, &mut conn.client);
}

/// A connection's state, boxed (and made before its task): an async function keeps its
/// arguments beside the locals made of them, so a large state passed by value would take its
/// room twice in the connection's task.
pub struct Conn {
    client: Client,
    st: ConnState,
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
            rbuf: BytesMut::new(),
            out: Writer::default(),
            parser: Parser::new(),
            obuf_soft_since: None,
            settled: true,
        }
    }
}

/// Serves an accepted connection on this worker until it closes or moves to another worker
/// (`workers`, "Placement follows load").
///
/// An `async` block rather than an `async fn`: a function would keep its arguments twice in
/// the task (as arguments, and as the locals it moves them into).
#[allow(clippy::manual_async_fn)]
pub fn run<S: Transport>(
    server: Arc<Server>,
    mut stream: S,
    mut conn: Box<Conn>,
) -> impl std::future::Future<Output = ()> + Send {
    async move {
        let moving = {
            let Conn { client, st } = &mut *conn;
            serve(&server, &mut stream, client, st).await
        };
        if let Ok(Some(to)) = moving {
            match stream.detach() {
                Ok(raw) => {
                    super::workers::spawn_moved(to, resume::<S>(server, raw, conn));
                    return;
                }
                Err(e) => crate::log::verbose(&format!("Moving a client connection: {e}")),
            }
        }
        close(&server, &mut conn.client);
    }
}

/// A moved connection's continuation on its new worker (boxed: `drive` and `resume` call each
/// other).
fn resume<S: Transport>(
    server: Arc<Server>,
    raw: S::Detached,
    mut conn: Box<Conn>,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async move {
        match S::attach(raw) {
            Ok(stream) => run(server, stream, conn).await,
            Err(e) => {
                crate::log::warning(&format!("Registering a moved client connection: {e}"));
                close(&server, &mut conn.client);
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
    client.info.closed();
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
        take_out_buffer(out);
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
                // Boxed, as every wait but the idle one: the connection's task is as large as its
                // largest wait, and an idle connection should cost little.
                if !Box::pin(wait_blocked(server, stream, client, out, rbuf, b, query_limit)).await? {
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
        // A drained buffer goes back to the thread's pool (a grown one is freed): an idle
        // connection holds no read buffer.
        if rbuf.is_empty() && parser.parsed_len() == 0 && rbuf.capacity() > 0 {
            if rbuf_held > 1 << 20 {
                *rbuf = BytesMut::new();
            } else {
                give_back_read_buffer(rbuf);
            }
        }
        if out.is_empty() && out.buf.capacity() > 0 {
            give_back_out_buffer(out);
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
        let read = read_some(&*stream, rbuf, want);
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
            _ = info.killed_wait() => Woke::Close,
            _ = idle(timeout, quiet_ms) => Woke::Close,
            w = subscriber_wake(mailbox.as_deref()) => w,
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
        Box::pin(crate::persist::aof::write_and_sync(crate::net::workers::current().is_some())).await;
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

/// What else wakes a waiting subscriber (given its mailbox; nothing wakes other clients):
/// - messages the publishers could not write (full socket, or a delivery outside a command
///   batch): back to the top, which writes them;
/// - a request to move from its worker (see `workers::shed_asked`): a subscriber that only
///   receives never ends a batch, so it goes back to the top, where the move happens. Other
///   connections reach the move point with their next command, so they do not register with
///   the worker's wake-up on every wait.
///
/// Boxed, so that the tasks of other clients need no room for it.
async fn subscriber_wake(mb: Option<&crate::pubsub::Mailbox>) -> Woke {
    match mb {
        Some(mb) => {
            Box::pin(async {
                tokio::select! {
                    _ = mb.ready() => Woke::Mail,
                    _ = super::workers::shed_asked() => Woke::Shed,
                }
            })
            .await
        }
        None => std::future::pending().await,
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
async fn flush_unless_killed<S: Transport>(
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
    // The usual case: the socket takes every reply at once, and nothing is awaited (the AOF
    // aside, whose data must reach the file first).
    let mut counted = false;
    if !crate::persist::aof::must_write() {
        let pending = out.buf.len();
        crate::stats::add(crate::stats::Global::NetOutputBytes, pending as u64);
        counted = true;
        info.obuf.store(if pending <= SURELY_FITS { 0 } else { pending }, Ordering::Relaxed);
        let n = write_now(stream, &out.buf)?;
        out.buf.drain(..n);
    }
    if !out.is_empty() {
        // Biased towards the write: a client that killed itself (CLIENT KILL ... SKIPME no)
        // still gets its reply, as in Redis; the kill only cuts short a write that cannot
        // complete. Boxed: see `wait_blocked`'s call.
        Box::pin(async {
            tokio::select! {
                biased;
                r = flush(stream, out, info, counted) => r,
                _ = info.killed_wait() => {
                    Err(std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "client killed"))
                }
            }
        })
        .await?;
    }
    flushed(out, info);
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
        if let Err(e) = flush(stream, out, &client.info, false).await {
            blocked.cancel(&server.keyspace);
            return Err(e);
        }
    }
    let info = client.info.clone();
    // CLIENT LIST of a blocked client: its command's arguments (`argv-mem`, stored when it
    // blocked) and what is buffered behind it.
    info.qbuf.store(rbuf.len(), Ordering::Relaxed);
    info.qbuf_free.store(rbuf.capacity() - rbuf.len(), Ordering::Relaxed);
    info.qbuf_cap.store(rbuf.capacity(), Ordering::Relaxed);
    let gone = loop {
        let want = if rbuf.capacity() - rbuf.len() < 1024 { READ_CHUNK } else { 0 };
        tokio::select! {
            _ = blocked.wait() => break false,
            _ = info.killed_wait() => break true,
            r = read_some(&*stream, rbuf, want) => match r {
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
/// The timer is boxed, and made only when there is a timeout: the task of a waiting connection
/// holds a pointer, not a timer entry.
fn idle(timeout_secs: u64, quiet_ms: u64) -> impl std::future::Future<Output = ()> {
    let mut sleep = (timeout_secs > 0)
        .then(|| Box::pin(tokio::time::sleep(Duration::from_millis((timeout_secs * 1000).saturating_sub(quiet_ms)))));
    std::future::poll_fn(move |cx| match sleep.as_mut() {
        Some(s) => std::future::Future::poll(s.as_mut(), cx),
        None => std::task::Poll::Pending,
    })
}

/// Writes what the socket takes of `buf` now, without waiting; returns how much that was.
fn write_now<S: Transport>(stream: &S, buf: &[u8]) -> std::io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match stream.try_write_now(&buf[done..]) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// The output buffer was written: empty, and no longer huge.
fn flushed(out: &mut Writer, info: &crate::client::ClientInfo) {
    info.obuf.store(0, Ordering::Relaxed);
    out.buf.clear();
    if out.buf.capacity() > 1 << 20 {
        out.buf.shrink_to(64 * 1024);
    }
}

/// Writes the pending replies, waiting for the socket as long as it takes. `counted`: the
/// caller already added them to the output statistics.
async fn flush<S: AsyncWrite + Unpin>(
    stream: &mut S,
    out: &mut Writer,
    info: &crate::client::ClientInfo,
    counted: bool,
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
    if !counted {
        crate::stats::add(crate::stats::Global::NetOutputBytes, out.buf.len() as u64);
    }
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
    flushed(out, info);
    Ok(())
}
