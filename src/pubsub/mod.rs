//! The pub/sub registry: who listens to which channel, pattern and shard channel, and the
//! per-subscriber message queues (mailboxes) that connections drain into their sockets.
//!
//! ## Delivery
//! A publisher looks the channel up under the registry's read lock, encodes the message frame
//! once per protocol version (RESP2 `*3 message ...`, RESP3 `>3 message ...`; once per pattern
//! for `pmessage`) into a shared [`Bytes`], and appends a handle to it to each subscriber's
//! [`Mailbox`] (a short mutex-protected queue). Each mailbox is appended to under its own lock
//! in the publisher's program order, and every path out of a mailbox (below) takes frames from
//! its head under that lock, so the messages of one publisher reach every subscriber in publish
//! order, whatever core either runs on. A message a client publishes to itself (RESP3, or a
//! keyspace event caused by its own command) is written straight into its reply buffer, before
//! the reply, as Redis does.
//!
//! Nothing touches a socket under the registry lock. Two ways lead from a mailbox to the socket:
//! - Direct (the fast path, Redis's "write pending clients before sleeping"): while a
//!   subscriber's connection is idle — waiting for input, its own replies all written and its
//!   mailbox empty — it lends its socket to the mailbox ([`Mailbox::go_idle`]). A publisher
//!   running inside a connection's command batch ([`in_batch`]) does not wake the subscriber's
//!   task: it records the mailbox in its thread's pending list. The list is written when the
//!   I/O thread has nothing left to run (its park hook, Redis's `beforeSleep`: every connection
//!   with input has run its commands and written its replies by then, the publishers' included,
//!   as Redis answers the publisher before the subscribers), or after [`MAX_PASS_BATCHES`]
//!   batches or [`FLUSH_FRAMES`] frames on a thread too busy to park ([`batch_ended`],
//!   [`should_flush`]). [`flush_pending`] writes each pending mailbox's queued frames to its
//!   socket with one non-blocking `writev`, outside the mailbox lock (a `writing` flag keeps
//!   other writers and the connection out meanwhile). Each socket is written by the I/O thread
//!   that runs its connection: a flush writes its own thread's subscribers and hands the others
//!   over to their thread's [`Inbox`] (one lock and one wake-up per thread per flush), whose task
//!   writes them. A fan-out of the PUBLISH pipelines of several publishers to 1,000 subscribers
//!   thus costs about 1,000 `writev`s per pass and no per-subscriber task wake-up, and the
//!   publishers' next commands arrive while it is written, so the next pass coalesces again.
//! - Through the connection: if the socket is full (`EAGAIN`, partial write) the mailbox takes
//!   the socket back and wakes the connection task, which moves the queued frames into its
//!   output buffer and writes them when the socket drains. While the connection is busy
//!   (executing commands, writing replies) publishers only queue; it drains the mailbox before
//!   each command and before going idle again, so pushes and replies keep Redis's order.
//!   Deliveries outside a command batch (active expiry's keyspace events) wake the task too.
//!
//! The socket is only lent while the connection holds it open: the connection takes it back
//! under the mailbox lock before it closes it (a guard in the connection loop), so a publisher
//! never writes to a closed or reused descriptor.
//!
//! ## Slow consumers
//! `client-output-buffer-limit` is mirrored into atomics ([`set_output_limits`], called by the
//! directive's `apply`). A mailbox's pending output is what is queued plus what its connection
//! took but has not written yet. When it reaches the hard limit, or stays at or over the soft
//! limit for longer than the soft seconds (checked when output is added, as Redis does), the
//! queue is dropped, later messages are discarded and the client is killed: memory stays
//! bounded and other subscribers are unaffected. The connection applies the same rule to its
//! reply buffer with the client's class (`normal` for clients that are not subscribed).
//!
//! Differences from Redis: `PUBSUB CHANNELS`/`SHARDCHANNELS` list channels in hash order (Redis's
//! order is also a hash order, seeded per process); patterns are kept in subscription order, so a
//! message matching several patterns of one client arrives in the order they were subscribed.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::io::IoSlice;
use std::os::fd::{BorrowedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use parking_lot::{Mutex, RwLock};
use tokio::sync::Notify;

use crate::db::glob::glob_match;

/// Output-buffer classes of `client-output-buffer-limit`.
pub const CLASS_NORMAL: usize = 0;
pub const CLASS_REPLICA: usize = 1;
pub const CLASS_PUBSUB: usize = 2;

/// (hard bytes, soft bytes, soft seconds) per class; defaults are Redis's.
static LIMITS: [[AtomicU64; 3]; 3] = [
    [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)],
    [AtomicU64::new(256 << 20), AtomicU64::new(64 << 20), AtomicU64::new(60)],
    [AtomicU64::new(32 << 20), AtomicU64::new(8 << 20), AtomicU64::new(60)],
];

/// A class's limits: hard bytes, soft bytes, soft seconds (0 = no limit).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Limit {
    pub hard: u64,
    pub soft: u64,
    pub soft_secs: u64,
}

impl Limit {
    pub fn is_none(&self) -> bool {
        self.hard == 0 && self.soft == 0
    }

    /// Redis's rule: true when `used` reached the hard limit, or has been at or over the soft
    /// limit for more than `soft_secs` (`since` tracks when it first went over).
    pub fn exceeded(&self, used: u64, since: &mut Option<Instant>) -> bool {
        let hard = self.hard > 0 && used >= self.hard;
        let mut soft = self.soft > 0 && used >= self.soft;
        if soft {
            match since {
                None => {
                    *since = Some(Instant::now());
                    soft = false;
                }
                Some(t) => soft = t.elapsed().as_secs() > self.soft_secs,
            }
        } else {
            *since = None;
        }
        hard || soft
    }
}

/// The current limits of `class`.
pub fn limit(class: usize) -> Limit {
    let l = &LIMITS[class];
    Limit {
        hard: l[0].load(Ordering::Relaxed),
        soft: l[1].load(Ordering::Relaxed),
        soft_secs: l[2].load(Ordering::Relaxed),
    }
}

/// Takes `client-output-buffer-limit` from a new configuration (a `ConfigCell` subscriber).
pub fn configure(c: &crate::config::Config) {
    set_output_limits(c.get("client-output-buffer-limit"));
}

/// Stores a canonical `client-output-buffer-limit` value (`normal 0 0 0 slave ... pubsub ...`).
pub fn set_output_limits(v: &str) {
    let words: Vec<&str> = v.split_whitespace().collect();
    for g in words.chunks(4) {
        if g.len() < 4 {
            break;
        }
        let class = match g[0] {
            "normal" => CLASS_NORMAL,
            "slave" | "replica" => CLASS_REPLICA,
            "pubsub" => CLASS_PUBSUB,
            _ => continue,
        };
        for i in 0..3 {
            LIMITS[class][i].store(g[i + 1].parse().unwrap_or(0), Ordering::Relaxed);
        }
    }
}

/// What the registry needs of a subscribing client (the client registry's `ClientInfo`
/// implements it): its id, its address for the log, and a way to disconnect it.
pub trait Subscriber: Send + Sync {
    fn id(&self) -> u64;
    fn addr(&self) -> String;
    /// Disconnects the client (its output-buffer limit was reached).
    fn kill(&self);
}

/// A subscriber's queue of encoded push frames, drained by its connection task.
pub struct Mailbox {
    pub client: Arc<dyn Subscriber>,
    resp3: AtomicBool,
    queue: Mutex<Queue>,
    notify: Notify,
    /// Bytes the connection took out of the queue and has not written to the socket yet.
    in_flight: AtomicUsize,
    /// The inbox of the I/O thread that runs the connection (set whenever it lends its socket:
    /// a subscriber may move to another thread between two batches, see `net::workers`).
    owner: arc_swap::ArcSwapOption<Inbox>,
}

/// An I/O thread's share of other threads' fan-outs: mailboxes of its connections that other
/// threads' batches delivered to. Each batch writes the subscribers of its own thread and hands
/// the others over, one lock and one wake-up per thread, so every socket is written by its own
/// thread (frames from several publishers and threads coalesce in one `writev`) and the threads
/// write their halves in parallel.
#[derive(Default)]
pub struct Inbox {
    list: Mutex<Vec<Arc<Mailbox>>>,
    notify: Notify,
}

impl Inbox {
    /// Writes the mailboxes handed over so far; returns the bytes written.
    pub fn flush(&self) -> u64 {
        let list = std::mem::take(&mut *self.list.lock());
        list.iter().map(|mb| mb.write_direct()).sum()
    }

    /// Serves the inbox forever (a task on its thread): flushes whenever mailboxes arrive.
    pub async fn serve(&self, on_written: impl Fn(u64)) {
        loop {
            self.notify.notified().await;
            on_written(self.flush());
        }
    }
}

#[derive(Default)]
struct Queue {
    frames: VecDeque<Bytes>,
    bytes: usize,
    soft_since: Option<Instant>,
    /// Over the limit: the client is being closed, further messages are dropped.
    closed: bool,
    /// The connection's socket while the connection is idle and lends it (see Delivery);
    /// `None` while the connection is busy or gone.
    idle_fd: Option<RawFd>,
    /// A publisher is writing the head of `frames` to the lent socket, outside the lock: other
    /// publishers leave the mailbox to it, and the connection waits before taking the socket.
    writing: bool,
    /// The batch token (`BATCH_TOKEN`) of the last thread batch that put it on its pending list.
    scheduled: u64,
}

/// Most frames handed to one `writev`.
const MAX_IOV: usize = 64;
/// A batch that queued this many frames since the thread's last flush flushes before going on,
/// so a long pipeline of PUBLISHes does not pile messages up in memory (a frame is a 32-byte
/// handle to the shared message; 4 MB at most).
const FLUSH_FRAMES: usize = 128 * 1024;
/// Connection batches an I/O thread may run with frames pending before one flushes them, for a
/// thread so busy that it never gets to its park hook (which flushes, see Delivery).
const MAX_PASS_BATCHES: u32 = 64;

thread_local! {
    /// True while this thread runs a connection's command (the batch's end flushes).
    static IN_BATCH: Cell<bool> = const { Cell::new(false) };
    /// Mailboxes given a first frame by this thread's current batch: written by `flush_pending`.
    static PENDING: RefCell<Vec<Arc<Mailbox>>> = const { RefCell::new(Vec::new()) };
    /// Frames queued by this thread since its last `flush_pending`.
    static PENDING_FRAMES: Cell<usize> = const { Cell::new(0) };
    /// Connection batches that ended with frames pending since the last `flush_pending`.
    static PASS_BATCHES: Cell<u32> = const { Cell::new(0) };
    /// This thread's inbox, once a connection of it lent its socket (`set_local_inbox`).
    static LOCAL_INBOX: RefCell<Option<Arc<Inbox>>> = const { RefCell::new(None) };
    /// Identifies this thread's current pending list, so a mailbox goes on it once.
    static BATCH_TOKEN: Cell<u64> = Cell::new(next_token());
}

fn next_token() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Runs `f` (a command of a connection's batch) so that its deliveries are written by the
/// batch's [`flush_pending`] instead of waking each subscriber's task. The caller must call
/// `flush_pending` before it waits for anything.
pub fn in_batch<R>(f: impl FnOnce() -> R) -> R {
    let was = IN_BATCH.with(|b| b.replace(true));
    let r = f();
    IN_BATCH.with(|b| b.set(was));
    r
}

/// True when the current batch queued enough frames that it should flush before going on.
pub fn should_flush() -> bool {
    PENDING_FRAMES.with(|c| c.get()) >= FLUSH_FRAMES
}

/// Mailboxes for another thread's inbox, collected during one flush.
type Handover = (Arc<Inbox>, Vec<Arc<Mailbox>>);

/// The calling I/O thread's inbox: the connection loop creates it (and spawns the task serving
/// it) on a thread's first subscriber and passes it here.
pub fn local_inbox() -> Option<Arc<Inbox>> {
    LOCAL_INBOX.with(|l| l.borrow().clone())
}

/// Records the calling thread's inbox (see `local_inbox`).
pub fn set_local_inbox(inbox: Arc<Inbox>) {
    LOCAL_INBOX.with(|l| *l.borrow_mut() = Some(inbox));
}

/// True if this thread's batches queued frames that `flush_pending` has not written yet.
pub fn has_pending() -> bool {
    PENDING.with(|p| !p.borrow().is_empty())
}

/// A connection's batch ended. True when the thread's pending frames should be flushed now
/// rather than by its park hook: the thread ran `MAX_PASS_BATCHES` batches without parking.
pub fn batch_ended() -> bool {
    if !has_pending() {
        return false;
    }
    PASS_BATCHES.with(|c| {
        c.set(c.get() + 1);
        c.get() >= MAX_PASS_BATCHES
    })
}

/// Writes the frames queued for the mailboxes this thread's batches delivered to (see Delivery).
/// Returns the bytes written to sockets.
pub fn flush_pending() -> u64 {
    PENDING_FRAMES.with(|c| c.set(0));
    PASS_BATCHES.with(|c| c.set(0));
    let mut list = PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()));
    if list.is_empty() {
        return 0;
    }
    BATCH_TOKEN.with(|t| t.set(next_token()));
    let local = LOCAL_INBOX.with(|l| l.borrow().clone());
    let mut remote: smallvec::SmallVec<[Handover; 4]> = smallvec::SmallVec::new();
    let mut written = 0;
    for mb in list.drain(..) {
        let owner = mb.owner.load();
        let to = match &*owner {
            Some(o) if !local.as_ref().is_some_and(|l| Arc::ptr_eq(l, o)) => {
                Some(remote.iter().position(|(r, _)| Arc::ptr_eq(r, o)).unwrap_or_else(|| {
                    remote.push((o.clone(), Vec::new()));
                    remote.len() - 1
                }))
            }
            _ => None,
        };
        drop(owner);
        match to {
            Some(i) => remote[i].1.push(mb),
            None => written += mb.write_direct(),
        }
    }
    for (inbox, mbs) in remote {
        inbox.list.lock().extend(mbs);
        inbox.notify.notify_one();
    }
    // What other threads handed to this one joins this flush.
    if let Some(l) = &local {
        written += l.flush();
    }
    // Keep the list's capacity for the next batch.
    PENDING.with(|p| {
        let mut p = p.borrow_mut();
        if p.is_empty() {
            *p = list;
        }
    });
    written
}

impl Mailbox {
    pub fn new(client: Arc<dyn Subscriber>, resp3: bool) -> Arc<Mailbox> {
        Arc::new(Mailbox {
            client,
            resp3: AtomicBool::new(resp3),
            queue: Mutex::new(Queue::default()),
            notify: Notify::new(),
            in_flight: AtomicUsize::new(0),
            owner: arc_swap::ArcSwapOption::empty(),
        })
    }

    pub fn id(&self) -> u64 {
        self.client.id()
    }

    pub fn resp3(&self) -> bool {
        self.resp3.load(Ordering::Relaxed)
    }

    /// The protocol later frames are encoded for (HELLO, RESET).
    pub fn set_resp3(&self, on: bool) {
        self.resp3.store(on, Ordering::Relaxed);
    }

    /// Queues one frame, enforcing the pubsub output-buffer limit, and sees that it gets
    /// written: by the current batch's `flush_pending`, or by the woken connection.
    fn deliver(self: &Arc<Self>, frame: &Bytes, lim: Limit) {
        let mut q = self.queue.lock();
        if q.closed {
            return;
        }
        let first = q.frames.is_empty();
        q.frames.push_back(frame.clone());
        q.bytes += frame.len();
        let used = (q.bytes + self.in_flight.load(Ordering::Relaxed)) as u64;
        let Queue { soft_since, .. } = &mut *q;
        if !lim.is_none() && lim.exceeded(used, soft_since) {
            q.closed = true;
            q.frames = VecDeque::new();
            q.bytes = 0;
            q.idle_fd = None;
            drop(q);
            crate::log::warning(&format!(
                "Client id={} addr={} scheduled to be closed ASAP for overcoming of output buffer limits.",
                self.client.id(),
                self.client.addr()
            ));
            self.client.kill();
            return;
        }
        if IN_BATCH.with(|b| b.get()) {
            // Every batch writes the mailboxes it delivered to (once each), even when another
            // thread's batch queued the first frame: each publisher pays for its own fan-out,
            // which keeps publishers from running ahead of delivery.
            PENDING_FRAMES.with(|c| c.set(c.get() + 1));
            let token = BATCH_TOKEN.with(|t| t.get());
            if q.scheduled != token {
                q.scheduled = token;
                drop(q);
                PENDING.with(|p| p.borrow_mut().push(self.clone()));
            }
        } else if first {
            drop(q);
            self.notify.notify_one();
        }
    }

    /// Writes the queued frames to the lent socket, if the connection is idle. On a full
    /// socket or an error the connection takes over (it is woken). Returns the bytes written.
    fn write_direct(&self) -> u64 {
        let mut q = self.queue.lock();
        if q.writing {
            // Another thread is writing this socket; it also writes what was queued meanwhile.
            return 0;
        }
        let mut written = 0u64;
        while let Some(fd) = q.idle_fd {
            if q.frames.is_empty() {
                break;
            }
            // The syscall runs outside the lock, so publishers on other threads queue without
            // waiting for it; only this writer removes frames while `writing` is set.
            let head: smallvec::SmallVec<[Bytes; MAX_IOV]> = q.frames.iter().take(MAX_IOV).cloned().collect();
            q.writing = true;
            drop(q);
            let res = {
                let iov: smallvec::SmallVec<[IoSlice; MAX_IOV]> = head.iter().map(|f| IoSlice::new(f)).collect();
                // SAFETY: `idle_fd` holds the connection's socket only between `go_idle` and
                // `go_busy`; `go_busy` waits for `writing` to clear, and the connection calls it
                // before it closes the socket, so the descriptor is open and is that socket.
                let fd = unsafe { BorrowedFd::borrow_raw(fd) };
                socket2::SockRef::from(&fd)
                    .send_vectored_with_flags(&iov, libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT)
                    .map(|n| (n, n == iov.iter().map(|s| s.len()).sum::<usize>()))
            };
            drop(head);
            q = self.queue.lock();
            q.writing = false;
            match res {
                Ok((n, all)) => {
                    written += n as u64;
                    q.consume(n);
                    if !all {
                        // The socket is full: the connection waits for it to drain.
                        q.idle_fd = None;
                        self.notify.notify_one();
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => {
                    // Full (`EAGAIN`) or broken: the connection takes over and finds out.
                    q.idle_fd = None;
                    self.notify.notify_one();
                }
            }
        }
        written
    }

    /// The connection is about to wait for input with all its output written: lends it its
    /// socket `fd` (see Delivery); `owner` is its thread's inbox. False, lending nothing, if frames are waiting (the connection
    /// writes them first).
    pub fn go_idle(&self, fd: RawFd, owner: Option<&Arc<Inbox>>) -> bool {
        if let Some(o) = owner {
            if !self.owner.load().as_ref().is_some_and(|cur| Arc::ptr_eq(cur, o)) {
                // First idle, or the connection moved: frames handed to the old thread's inbox
                // meanwhile are still written (by that thread, under the same protocol).
                self.owner.store(Some(o.clone()));
            }
        }
        let mut q = self.queue.lock();
        if !q.frames.is_empty() {
            return false;
        }
        q.idle_fd = Some(fd);
        true
    }

    /// The connection takes its socket back: it woke up, or it is closing the socket.
    pub fn go_busy(&self) {
        loop {
            let mut q = self.queue.lock();
            if !q.writing {
                q.idle_fd = None;
                return;
            }
            drop(q);
            // A publisher on another thread is in one non-blocking `writev` to the socket.
            std::thread::yield_now();
        }
    }

    /// Waits until frames are queued (returns at once if some are).
    pub async fn ready(&self) {
        self.notify.notified().await
    }

    /// True if frames are waiting.
    pub fn has_pending(&self) -> bool {
        self.queue.lock().bytes > 0
    }

    /// Appends every queued frame to `out`. Returns the number of bytes moved.
    pub fn drain_into(&self, out: &mut Vec<u8>) -> usize {
        let mut q = self.queue.lock();
        let n = q.bytes;
        for f in q.frames.drain(..) {
            out.extend_from_slice(&f);
        }
        q.bytes = 0;
        if q.frames.capacity() > 1024 {
            q.frames.shrink_to(64);
        }
        n
    }

    /// The connection reports how many output bytes it holds unwritten (for the limits).
    pub fn set_in_flight(&self, n: usize) {
        self.in_flight.store(n, Ordering::Relaxed);
    }

    /// Bytes queued and not yet taken by the connection.
    pub fn queued_bytes(&self) -> usize {
        self.queue.lock().bytes
    }
}

impl Queue {
    /// Drops the first `n` queued bytes (written to the socket).
    fn consume(&mut self, mut n: usize) {
        self.bytes -= n;
        while n > 0 {
            let Some(f) = self.frames.front_mut() else { break };
            if f.len() <= n {
                n -= f.len();
                self.frames.pop_front();
            } else {
                f.advance(n);
                n = 0;
            }
        }
    }
}

type Subscribers = Vec<Arc<Mailbox>>;
type ChannelMap = HashMap<Box<[u8]>, Subscribers, ahash::RandomState>;

/// Every subscription of the server.
#[derive(Default)]
pub struct PubSub {
    channels: RwLock<ChannelMap>,
    /// Patterns in subscription order, each with its subscribers.
    patterns: RwLock<Vec<(Box<[u8]>, Subscribers)>>,
    shard: RwLock<ChannelMap>,
    /// Number of (client, channel-or-pattern) subscriptions, for a cheap "anyone listening?".
    total: AtomicUsize,
    /// MONITOR clients, and their number (checked after every command).
    monitors: RwLock<Subscribers>,
    monitoring: AtomicUsize,
}

/// What kind of subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Channel,
    Pattern,
    Shard,
}

/// Where a publisher's own copy goes: its client id and its reply buffer.
pub type SelfSink<'a> = Option<(u64, &'a mut Vec<u8>)>;

/// Encodes a `message`/`smessage` push (`kind`, channel, payload), or a `pmessage` when
/// `pattern` is given.
pub fn encode_message(resp3: bool, kind: &[u8], pattern: Option<&[u8]>, channel: &[u8], msg: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(48 + kind.len() + channel.len() + msg.len() + pattern.map_or(0, |p| p.len()));
    let n = if pattern.is_some() { 4 } else { 3 };
    b.put_u8(if resp3 { b'>' } else { b'*' });
    put_int(&mut b, n);
    put_bulk(&mut b, kind);
    if let Some(p) = pattern {
        put_bulk(&mut b, p);
    }
    put_bulk(&mut b, channel);
    put_bulk(&mut b, msg);
    b.freeze()
}

fn put_int(b: &mut BytesMut, n: usize) {
    let mut f = itoa::Buffer::new();
    b.put_slice(f.format(n).as_bytes());
    b.put_slice(b"\r\n");
}

fn put_bulk(b: &mut BytesMut, s: &[u8]) {
    b.put_u8(b'$');
    put_int(b, s.len());
    b.put_slice(s);
    b.put_slice(b"\r\n");
}

/// Delivers to `subs`, encoding lazily once per protocol; returns how many received.
fn fan_out(
    subs: &[Arc<Mailbox>],
    me: &mut SelfSink,
    lim: Limit,
    encode: &dyn Fn(bool) -> Bytes,
    frames: &mut [Option<Bytes>; 2],
) -> usize {
    for mb in subs {
        let r3 = mb.resp3();
        let f = frames[r3 as usize].get_or_insert_with(|| encode(r3));
        match me {
            Some((id, out)) if *id == mb.id() => out.extend_from_slice(f),
            _ => mb.deliver(f, lim),
        }
    }
    subs.len()
}

impl PubSub {
    /// Adds a MONITOR client.
    pub fn add_monitor(&self, mb: &Arc<Mailbox>) {
        self.monitors.write().push(mb.clone());
        self.monitoring.fetch_add(1, Ordering::Relaxed);
    }

    /// Removes a MONITOR client (RESET, disconnection); whether it was one.
    pub fn remove_monitor(&self, mb: &Arc<Mailbox>) -> bool {
        if !self.has_monitors() {
            return false;
        }
        let mut list = self.monitors.write();
        let before = list.len();
        list.retain(|m| !Arc::ptr_eq(m, mb));
        let removed = before - list.len();
        self.monitoring.fetch_sub(removed, Ordering::Relaxed);
        removed > 0
    }

    /// Whether any client monitors (one relaxed load: the command path asks after each command).
    #[inline]
    pub fn has_monitors(&self) -> bool {
        self.monitoring.load(Ordering::Relaxed) > 0
    }

    /// Sends one MONITOR line (an encoded status reply, the same in RESP2 and RESP3) to every
    /// monitor; the monitor that ran the command gets it in its own reply buffer.
    pub fn feed_monitors(&self, line: Bytes, mut me: SelfSink) {
        let list = self.monitors.read();
        let mut frames = [None, None];
        fan_out(&list, &mut me, limit(CLASS_REPLICA), &|_| line.clone(), &mut frames);
    }

    fn map(&self, kind: Kind) -> &RwLock<ChannelMap> {
        match kind {
            Kind::Shard => &self.shard,
            _ => &self.channels,
        }
    }

    /// Adds `mb` to the subscribers of `name`. The caller (the client's own state) makes sure
    /// it is not subscribed already.
    pub fn add(&self, kind: Kind, name: &[u8], mb: &Arc<Mailbox>) {
        self.total.fetch_add(1, Ordering::Relaxed);
        if kind == Kind::Pattern {
            let mut pats = self.patterns.write();
            match pats.iter_mut().find(|(p, _)| &**p == name) {
                Some((_, subs)) => subs.push(mb.clone()),
                None => pats.push((name.into(), vec![mb.clone()])),
            }
            return;
        }
        self.map(kind).write().entry(name.into()).or_default().push(mb.clone());
    }

    /// Removes `mb` from the subscribers of `name` (dropping the channel when it empties).
    pub fn remove(&self, kind: Kind, name: &[u8], mb: &Arc<Mailbox>) {
        let drop_mb = |subs: &mut Subscribers| {
            if let Some(i) = subs.iter().position(|m| Arc::ptr_eq(m, mb)) {
                subs.remove(i);
                self.total.fetch_sub(1, Ordering::Relaxed);
            }
            subs.is_empty()
        };
        if kind == Kind::Pattern {
            let mut pats = self.patterns.write();
            if let Some(i) = pats.iter().position(|(p, _)| &**p == name) {
                if drop_mb(&mut pats[i].1) {
                    pats.remove(i);
                }
            }
            return;
        }
        let mut map = self.map(kind).write();
        if let Some(subs) = map.get_mut(name) {
            if drop_mb(subs) {
                map.remove(name);
            }
        }
    }

    /// True if nobody subscribes to anything (keyspace notifications skip their work).
    pub fn is_idle(&self) -> bool {
        self.total.load(Ordering::Relaxed) == 0
    }

    /// PUBLISH: delivers to the channel's subscribers and to every matching pattern's. Returns
    /// the number of receivers.
    pub fn publish(&self, channel: &[u8], msg: &[u8], mut me: SelfSink) -> usize {
        let lim = limit(CLASS_PUBSUB);
        let mut n = 0;
        {
            let map = self.channels.read();
            if let Some(subs) = map.get(channel) {
                let mut frames = [None, None];
                n += fan_out(subs, &mut me, lim, &|r3| encode_message(r3, b"message", None, channel, msg), &mut frames);
            }
        }
        let pats = self.patterns.read();
        for (pat, subs) in pats.iter() {
            if glob_match(pat, channel, false) {
                let mut frames = [None, None];
                let enc = |r3| encode_message(r3, b"pmessage", Some(pat), channel, msg);
                n += fan_out(subs, &mut me, lim, &enc, &mut frames);
            }
        }
        n
    }

    /// SPUBLISH: delivers to the shard channel's subscribers.
    pub fn spublish(&self, channel: &[u8], msg: &[u8], mut me: SelfSink) -> usize {
        let lim = limit(CLASS_PUBSUB);
        let map = self.shard.read();
        match map.get(channel) {
            Some(subs) => {
                let mut frames = [None, None];
                fan_out(subs, &mut me, lim, &|r3| encode_message(r3, b"smessage", None, channel, msg), &mut frames)
            }
            None => 0,
        }
    }

    /// Active channels (`Kind::Channel` or `Kind::Shard`) matching `pattern` (all if `None`).
    pub fn channels(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Box<[u8]>> {
        self.map(kind).read().keys().filter(|c| pattern.is_none_or(|p| glob_match(p, c, false))).cloned().collect()
    }

    /// Number of subscribers of a channel.
    pub fn numsub(&self, kind: Kind, channel: &[u8]) -> usize {
        self.map(kind).read().get(channel).map_or(0, |s| s.len())
    }

    /// Number of distinct patterns subscribed.
    pub fn numpat(&self) -> usize {
        self.patterns.read().len()
    }

    /// Number of active channels of `kind` (INFO).
    pub fn channel_count(&self, kind: Kind) -> usize {
        self.map(kind).read().len()
    }
}

/// One client's subscriptions, owned by its connection.
#[derive(Default)]
pub struct ClientSubs {
    /// Created at the first subscription; lives as long as the connection.
    pub mailbox: Option<Arc<Mailbox>>,
    /// Boxed, and only while the client subscribes to something: most connections never do,
    /// and each of them would otherwise carry the empty tables.
    sets: Option<Box<SubSets>>,
}

#[derive(Default)]
struct SubSets {
    channels: HashMap<Box<[u8]>, u64, ahash::RandomState>,
    patterns: Vec<Box<[u8]>>,
    shard: HashMap<Box<[u8]>, u64, ahash::RandomState>,
    /// Orders the subscriptions (the order PUBSUB and RESET list them in).
    seq: u64,
}

impl ClientSubs {
    /// Channels plus patterns: the count in (p)(un)subscribe confirmations.
    pub fn count(&self) -> usize {
        self.sets.as_deref().map_or(0, |s| s.channels.len() + s.patterns.len())
    }

    pub fn shard_count(&self) -> usize {
        self.sets.as_deref().map_or(0, |s| s.shard.len())
    }

    /// Subscribed to anything (Redis's pubsub client flag).
    pub fn active(&self) -> bool {
        self.count() + self.shard_count() > 0
    }

    /// Records a subscription; false if it existed.
    pub fn insert(&mut self, kind: Kind, name: &[u8]) -> bool {
        let sets = self.sets.get_or_insert_with(Default::default);
        sets.seq += 1;
        let seq = sets.seq;
        match kind {
            Kind::Channel | Kind::Shard => {
                let map = if kind == Kind::Shard { &mut sets.shard } else { &mut sets.channels };
                if map.contains_key(name) {
                    return false;
                }
                map.insert(name.into(), seq);
                true
            }
            Kind::Pattern => {
                if sets.patterns.iter().any(|p| &**p == name) {
                    false
                } else {
                    sets.patterns.push(name.into());
                    true
                }
            }
        }
    }

    /// Forgets a subscription; false if there was none.
    pub fn take(&mut self, kind: Kind, name: &[u8]) -> bool {
        let Some(sets) = self.sets.as_deref_mut() else { return false };
        let found = match kind {
            Kind::Channel => sets.channels.remove(name).is_some(),
            Kind::Shard => sets.shard.remove(name).is_some(),
            Kind::Pattern => match sets.patterns.iter().position(|p| &**p == name) {
                Some(i) => {
                    sets.patterns.remove(i);
                    true
                }
                None => false,
            },
        };
        if sets.channels.is_empty() && sets.patterns.is_empty() && sets.shard.is_empty() {
            self.sets = None;
        }
        found
    }

    /// Every subscription of `kind`, in subscription order.
    pub fn list(&self, kind: Kind) -> Vec<Box<[u8]>> {
        let Some(sets) = self.sets.as_deref() else { return Vec::new() };
        let sorted = |m: &HashMap<Box<[u8]>, u64, ahash::RandomState>| {
            let mut v: Vec<(&Box<[u8]>, &u64)> = m.iter().collect();
            v.sort_by_key(|(_, s)| **s);
            v.into_iter().map(|(k, _)| k.clone()).collect()
        };
        match kind {
            Kind::Channel => sorted(&sets.channels),
            Kind::Shard => sorted(&sets.shard),
            Kind::Pattern => sets.patterns.clone(),
        }
    }

    /// The counts CLIENT LIST shows.
    pub fn counts(&self) -> (usize, usize, usize) {
        self.sets.as_deref().map_or((0, 0, 0), |s| (s.channels.len(), s.patterns.len(), s.shard.len()))
    }
}

/// Drops every subscription of a client from the registry (RESET, disconnect).
pub fn remove_all(ps: &PubSub, subs: &mut ClientSubs) {
    let Some(mb) = subs.mailbox.clone() else { return };
    ps.remove_monitor(&mb);
    for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
        for name in subs.list(kind) {
            subs.take(kind, &name);
            ps.remove(kind, &name, &mb);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A subscriber standing in for a client.
    #[derive(Default)]
    struct Fake {
        id: u64,
        killed: AtomicBool,
    }

    impl Subscriber for Fake {
        fn id(&self) -> u64 {
            self.id
        }
        fn addr(&self) -> String {
            "127.0.0.1:5000".into()
        }
        fn kill(&self) {
            self.killed.store(true, Ordering::Release);
        }
    }

    /// Registered clients: ids handed out in order.
    #[derive(Default)]
    struct Clients(AtomicU64, Mutex<Vec<Arc<Fake>>>);

    fn mailbox(clients: &Clients, resp3: bool) -> Arc<Mailbox> {
        let fake = Arc::new(Fake { id: clients.0.fetch_add(1, Ordering::Relaxed) + 1, ..Default::default() });
        clients.1.lock().push(fake.clone());
        Mailbox::new(fake, resp3)
    }

    fn killed(clients: &Clients, mb: &Mailbox) -> bool {
        clients.1.lock().iter().any(|f| f.id == mb.id() && f.killed.load(Ordering::Acquire))
    }

    fn drain(mb: &Mailbox) -> String {
        let mut v = Vec::new();
        mb.drain_into(&mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn frames_per_protocol() {
        let f = encode_message(false, b"message", None, b"ch", b"hi");
        assert_eq!(&f[..], b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n");
        let f = encode_message(true, b"pmessage", Some(b"c*"), b"ch", b"");
        assert_eq!(&f[..], b">4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n$2\r\nch\r\n$0\r\n\r\n");
    }

    #[test]
    fn publish_counts_channels_and_patterns_and_keeps_order() {
        let clients = Clients::default();
        let ps = PubSub::default();
        let a = mailbox(&clients, false);
        let b = mailbox(&clients, true);
        ps.add(Kind::Channel, b"news", &a);
        ps.add(Kind::Pattern, b"n*", &a);
        ps.add(Kind::Pattern, b"n*", &b);
        ps.add(Kind::Pattern, b"x*", &b);
        assert_eq!(ps.numpat(), 2);
        assert_eq!(ps.publish(b"news", b"1", None), 3);
        assert_eq!(ps.publish(b"news", b"2", None), 3);
        assert_eq!(ps.publish(b"other", b"3", None), 0);
        let got = drain(&a);
        let i1 = got.find("$1\r\n1\r\n").unwrap();
        let i2 = got.find("$1\r\n2\r\n").unwrap();
        assert!(i1 < i2);
        assert!(drain(&b).starts_with(">4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$1\r\n1\r\n"));
        ps.remove(Kind::Pattern, b"n*", &a);
        ps.remove(Kind::Pattern, b"n*", &b);
        assert_eq!(ps.numpat(), 1);
        ps.remove(Kind::Channel, b"news", &a);
        assert_eq!(ps.channel_count(Kind::Channel), 0);
    }

    #[test]
    fn self_delivery_goes_to_the_reply_buffer() {
        let clients = Clients::default();
        let ps = PubSub::default();
        let a = mailbox(&clients, true);
        ps.add(Kind::Shard, b"s", &a);
        let mut out = Vec::new();
        assert_eq!(ps.spublish(b"s", b"m", Some((a.id(), &mut out))), 1);
        assert!(out.starts_with(b">3\r\n$8\r\nsmessage\r\n"));
        assert!(!a.has_pending());
    }

    #[test]
    fn limits_follow_redis_rule() {
        let l = Limit { hard: 100, soft: 10, soft_secs: 0 };
        let mut since = None;
        assert!(l.exceeded(100, &mut since), "hard");
        assert!(!l.exceeded(5, &mut since));
        assert!(!l.exceeded(20, &mut since), "soft starts the clock");
        assert!(since.is_some());
        std::thread::sleep(std::time::Duration::from_millis(1100));
        assert!(l.exceeded(20, &mut since), "soft for longer than 0 s");
        assert!(!l.exceeded(5, &mut since));
        assert!(since.is_none());
    }

    #[test]
    fn mailbox_over_hard_limit_is_closed() {
        let clients = Clients::default();
        let a = mailbox(&clients, false);
        let f = Bytes::from(vec![b'x'; 64]);
        let lim = Limit { hard: 1000, soft: 0, soft_secs: 0 };
        for _ in 0..100 {
            a.deliver(&f, lim);
        }
        assert!(killed(&clients, &a));
        assert_eq!(a.queued_bytes(), 0, "queue dropped");
    }

    /// A connected, non-blocking Unix socket pair with small buffers.
    fn socket_pair() -> (std::os::unix::net::UnixStream, std::os::unix::net::UnixStream) {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        socket2::SockRef::from(&a).set_send_buffer_size(4096).unwrap();
        (a, b)
    }

    #[test]
    fn batch_writes_idle_subscribers_directly_in_order() {
        use std::io::Read;
        use std::os::fd::AsRawFd;
        let clients = Clients::default();
        let ps = PubSub::default();
        let a = mailbox(&clients, false);
        let (sock, mut peer) = socket_pair();
        ps.add(Kind::Channel, b"c", &a);
        assert!(a.go_idle(sock.as_raw_fd(), None));
        in_batch(|| {
            ps.publish(b"c", b"1", None);
            ps.publish(b"c", b"2", None);
        });
        assert!(has_pending());
        assert_eq!(a.queued_bytes(), 2 * 31, "queued until the batch ends");
        let n = flush_pending();
        assert_eq!(n, 2 * 31);
        assert!(!has_pending());
        assert_eq!(a.queued_bytes(), 0);
        let mut got = vec![0u8; 62];
        peer.read_exact(&mut got).unwrap();
        assert_eq!(
            &got[..],
            b"*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\n1\r\n*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\n2\r\n"
        );
    }

    #[test]
    fn a_thread_too_busy_to_park_flushes_after_max_pass_batches() {
        let clients = Clients::default();
        let ps = PubSub::default();
        let a = mailbox(&clients, false);
        ps.add(Kind::Channel, b"c", &a);
        assert!(!batch_ended(), "nothing pending: nothing to flush");
        in_batch(|| ps.publish(b"c", b"1", None));
        for i in 1..MAX_PASS_BATCHES {
            assert!(!batch_ended(), "batch {i} leaves the flush to the park hook");
        }
        assert!(batch_ended(), "batch {MAX_PASS_BATCHES} flushes");
        flush_pending();
        assert!(!has_pending());
        in_batch(|| ps.publish(b"c", b"2", None));
        assert!(!batch_ended(), "a flush starts a new pass");
        flush_pending();
    }

    #[test]
    fn busy_connection_keeps_its_queue_and_full_socket_hands_back() {
        use std::io::Read;
        use std::os::fd::AsRawFd;
        let clients = Clients::default();
        let ps = PubSub::default();
        let a = mailbox(&clients, false);
        let (sock, mut peer) = socket_pair();
        ps.add(Kind::Channel, b"c", &a);
        // Busy (never lent, or taken back): publishers only queue.
        in_batch(|| ps.publish(b"c", b"x", None));
        assert_eq!(flush_pending(), 0);
        assert_eq!(a.queued_bytes(), 31);
        assert!(!a.go_idle(sock.as_raw_fd(), None), "frames waiting: the connection writes them first");
        let mut v = Vec::new();
        a.drain_into(&mut v);
        assert!(a.go_idle(sock.as_raw_fd(), None));
        a.go_busy();
        in_batch(|| ps.publish(b"c", b"y", None));
        assert_eq!(flush_pending(), 0, "taken back: nothing written");
        a.drain_into(&mut v);
        let mut want = encode_message(false, b"message", None, b"c", b"x").to_vec();
        want.extend_from_slice(&encode_message(false, b"message", None, b"c", b"y"));
        assert_eq!(v, want, "the connection got both, in order");
        // Lent, then the socket fills: what does not fit stays queued, in order, and the
        // mailbox hands the socket back (a later batch writes nothing).
        assert!(a.go_idle(sock.as_raw_fd(), None));
        let big = vec![b'z'; 1000];
        in_batch(|| {
            for _ in 0..500 {
                ps.publish(b"c", &big, None);
            }
        });
        let written = flush_pending() as usize;
        let frame = encode_message(false, b"message", None, b"c", &big).len();
        assert!(written > 0 && written < 500 * frame, "partly written: {written}");
        assert_eq!(a.queued_bytes(), 500 * frame - written);
        in_batch(|| ps.publish(b"c", b"late", None));
        assert_eq!(flush_pending(), 0);
        // The connection's side: what the socket took, then the queue, is the whole sequence.
        let mut got = vec![0u8; written];
        peer.read_exact(&mut got).unwrap();
        a.drain_into(&mut got);
        let mut want = Vec::new();
        for _ in 0..500 {
            want.extend_from_slice(&encode_message(false, b"message", None, b"c", &big));
        }
        want.extend_from_slice(&encode_message(false, b"message", None, b"c", b"late"));
        assert!(got == want, "bytes in publish order");
    }

    #[test]
    fn client_subs_order_and_counts() {
        let mut s = ClientSubs::default();
        assert!(s.insert(Kind::Channel, b"b"));
        assert!(s.insert(Kind::Channel, b"a"));
        assert!(!s.insert(Kind::Channel, b"b"));
        assert!(s.insert(Kind::Pattern, b"p"));
        assert!(s.insert(Kind::Shard, b"s"));
        assert_eq!(s.count(), 3);
        assert_eq!(s.counts(), (2, 1, 1));
        assert_eq!(s.list(Kind::Channel), vec![Box::from(&b"b"[..]), Box::from(&b"a"[..])]);
        assert!(s.take(Kind::Channel, b"b"));
        assert!(!s.take(Kind::Channel, b"b"));
    }

    #[test]
    fn output_limits_parse() {
        set_output_limits("normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60");
        assert_eq!(limit(CLASS_PUBSUB), Limit { hard: 33554432, soft: 8388608, soft_secs: 60 });
        assert!(limit(CLASS_NORMAL).is_none());
    }
}
