//! The effects stream: the one door through which changes leave the keyspace.
//!
//! Everything that changes the dataset reaches the outside world here, as the commands that
//! reproduce the change: commands (as received, or in the deterministic form their handler
//! chose), keys found expired by a lookup, SCAN or RANDOMKEY, the active expiry cycle, eviction,
//! flushes and (next) scripts. Consumers attach and detach at run time: the AOF is one
//! (`persist::aof`, attached when `appendonly` turns on, detached when it turns off), replicas
//! will be the second; every consumer receives the identical bytes.
//!
//! ## Units, as Redis propagates them
//! An *execution unit* is one top-level command with everything it caused: a transaction's
//! commands, a script's calls, the keys its lookups found expired. Its [`Op`]s are collected in
//! a [`Unit`] in the order they happened (an expired key's `DEL` before the command that found
//! it) and emitted when the unit ends: one op alone, several wrapped in `MULTI` … `EXEC`.
//! Commands that touch arbitrary keys (SCAN, RANDOMKEY) emit each expired key's `DEL` as a unit
//! of its own when they run outside a transaction, as Redis 7.2 does (its
//! `CMD_TOUCHES_ARBITRARY_KEYS`). Work done outside any command (active expiry, eviction) emits
//! one unit per key.
//!
//! ## Bytes
//! The stream encodes each unit once, as RESP multibulk commands, and hands the same bytes to
//! every consumer. A `SELECT <db>` precedes a command whose database differs from the last
//! one in the stream (before the `MULTI` for a transaction's first command); attaching a
//! consumer forgets the last database, so the next unit starts with a `SELECT` for everyone.
//!
//! ## Ordering and cost
//! Units are emitted while the emitter holds the shards of the keys involved, so two units
//! touching the same key reach the stream in the order they ran; the stream's lock orders the
//! rest. With no consumer attached, [`Stream::active`] is one relaxed load and nothing is built.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

/// One command of the stream: its database and its arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op {
    pub db: usize,
    pub argv: Vec<Vec<u8>>,
    /// Proposed by a command ([`Unit::replace`]), as opposed to the keyspace's expiry `DEL`s:
    /// a command deciding to propagate nothing withdraws the ones it proposed.
    own: bool,
}

impl Op {
    pub fn new<A: AsRef<[u8]>>(db: usize, argv: &[A]) -> Op {
        Op { db, argv: argv.iter().map(|a| a.as_ref().to_vec()).collect(), own: false }
    }
}

/// A consumer of the stream (the AOF; later, replicas).
pub trait Consumer: Send + Sync {
    /// One unit's bytes, in stream order. Called with the stream's lock held: queue the bytes,
    /// never block on I/O here.
    fn feed(&self, bytes: &[u8]);
}

/// Identifies an attached consumer (for [`Stream::detach`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConsumerId(u64);

/// The stream: its consumers and the encoding state they share.
pub struct Stream {
    /// Whether any consumer is attached (read before building anything to emit).
    active: AtomicBool,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    consumers: Vec<(ConsumerId, Arc<dyn Consumer>)>,
    next_id: u64,
    /// The database of the last command in the stream.
    selected: Option<usize>,
    /// Scratch buffer for encoding a unit.
    buf: Vec<u8>,
}

impl Default for Stream {
    fn default() -> Self {
        Stream { active: AtomicBool::new(false), inner: Mutex::new(Inner::default()) }
    }
}

impl Stream {
    /// Whether anything consumes the stream (one relaxed load).
    #[inline]
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    /// Attaches `consumer`: it receives every unit emitted from now on, starting with a
    /// `SELECT`. Attach with the keyspace quiescent (every shard locked, as the AOF does at its
    /// fork point) to start exactly after a point-in-time image.
    pub fn attach(&self, consumer: Arc<dyn Consumer>) -> ConsumerId {
        let mut inner = self.inner.lock();
        inner.next_id += 1;
        let id = ConsumerId(inner.next_id);
        inner.consumers.push((id, consumer));
        inner.selected = None;
        self.active.store(true, Ordering::Relaxed);
        id
    }

    /// Forgets the last database: the next unit starts with a `SELECT` (a consumer starting a
    /// new file, such as the AOF's incremental file after a rewrite, needs one).
    pub fn reselect(&self) {
        self.inner.lock().selected = None;
    }

    /// Detaches a consumer; it receives nothing more.
    pub fn detach(&self, id: ConsumerId) {
        let mut inner = self.inner.lock();
        inner.consumers.retain(|(c, _)| *c != id);
        self.active.store(!inner.consumers.is_empty(), Ordering::Relaxed);
    }

    /// Number of attached consumers.
    pub fn consumers(&self) -> usize {
        self.inner.lock().consumers.len()
    }

    /// Emits one command as a unit of its own (no allocation besides the shared buffer).
    pub fn emit_one<A: AsRef<[u8]>>(&self, db: usize, argv: &[A]) {
        if !self.active() {
            return;
        }
        let mut inner = self.inner.lock();
        let Inner { consumers, selected, buf, .. } = &mut *inner;
        buf.clear();
        put_command(buf, selected, db, argv);
        for (_, c) in consumers.iter() {
            c.feed(buf);
        }
    }

    /// Emits `ops` as one unit: alone when there is one, wrapped in `MULTI` … `EXEC` when there
    /// are several (the `SELECT` for the first one goes before the `MULTI`).
    pub fn emit(&self, ops: &[Op]) {
        if ops.is_empty() || !self.active() {
            return;
        }
        let mut inner = self.inner.lock();
        let Inner { consumers, selected, buf, .. } = &mut *inner;
        buf.clear();
        let wrap = ops.len() > 1;
        if wrap {
            put_command(buf, selected, ops[0].db, &[b"MULTI"]);
        }
        for op in ops {
            put_command(buf, selected, op.db, &op.argv);
        }
        if wrap {
            encode(buf, &[b"EXEC"]);
        }
        for (_, c) in consumers.iter() {
            c.feed(buf);
        }
    }
}

/// Appends `argv` as it runs in `db`, after a `SELECT` when the stream was in another database.
fn put_command<A: AsRef<[u8]>>(buf: &mut Vec<u8>, selected: &mut Option<usize>, db: usize, argv: &[A]) {
    if *selected != Some(db) {
        let mut d = itoa::Buffer::new();
        encode(buf, &[&b"SELECT"[..], d.format(db).as_bytes()]);
        *selected = Some(db);
    }
    encode(buf, argv);
}

/// Appends `args` as a RESP multibulk.
pub fn encode<A: AsRef<[u8]>>(out: &mut Vec<u8>, args: &[A]) {
    let mut n = itoa::Buffer::new();
    out.push(b'*');
    out.extend_from_slice(n.format(args.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    for a in args {
        let a = a.as_ref();
        out.push(b'$');
        out.extend_from_slice(n.format(a.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// The execution unit being run (Redis's `also_propagate` array plus its nesting level): the
/// ops collected so far and the state of the command running inside it. Owned by the command
/// context; nothing is allocated unless an op is collected.
#[derive(Default)]
pub struct Unit {
    /// Commands running: 1 for a top-level command, more inside EXEC (or a script).
    depth: u32,
    /// Whether the stream had a consumer when the unit began (fixed for the whole unit).
    on: bool,
    ops: Vec<Op>,
    /// Emit each op as a unit of its own (SCAN, RANDOMKEY outside a transaction).
    split: bool,
    /// The running command chose what it propagates ([`Unit::replace`], [`Unit::withdraw`]):
    /// it is not propagated as received.
    replaced: bool,
    /// Where the running command's ops start in `ops`.
    start: usize,
}

/// The state of the enclosing command while a nested one runs (see [`Unit::enter`]).
pub struct Saved {
    replaced: bool,
    start: usize,
}

impl Unit {
    /// Starts a command in this unit (a new unit when none runs); returns the enclosing
    /// command's state, to be given back to [`Unit::leave`].
    pub fn enter(&mut self, stream: &Stream) -> Saved {
        if self.depth == 0 {
            self.on = stream.active();
            self.split = false;
        }
        self.depth += 1;
        let start = std::mem::replace(&mut self.start, self.ops.len());
        Saved { replaced: std::mem::take(&mut self.replaced), start }
    }

    /// Whether this unit propagates (a consumer was attached when it began).
    #[inline]
    pub fn on(&self) -> bool {
        self.on
    }

    /// Whether the running command is the top-level one.
    pub fn top_level(&self) -> bool {
        self.depth == 1
    }

    /// Emits each op of this unit on its own (commands that touch arbitrary keys, run at the
    /// top level).
    pub fn split(&mut self) {
        self.split = true;
    }

    /// Appends an op caused by the keyspace (an expired key's `DEL`) or by the command.
    pub fn push(&mut self, op: Op) {
        if self.on {
            self.ops.push(op);
        }
    }

    /// The running command propagates `argv` (in `db`) instead of itself; several calls
    /// propagate several commands, in order.
    pub fn replace<A: AsRef<[u8]>>(&mut self, db: usize, argv: &[A]) {
        if self.on {
            self.replaced = true;
            let mut op = Op::new(db, argv);
            op.own = true;
            self.ops.push(op);
        }
    }

    /// The running command changed nothing: it propagates nothing, and what it (or commands
    /// it ran) passed to [`Unit::replace`] is withdrawn; the keyspace's `DEL`s stay.
    pub fn withdraw(&mut self) {
        self.replaced = true;
        if self.ops.len() > self.start {
            let mut i = 0;
            let start = self.start;
            self.ops.retain(|o| {
                i += 1;
                i <= start || !o.own
            });
        }
    }

    /// Whether the running command chose its propagation (it is not propagated as received).
    pub fn replaced(&self) -> bool {
        self.replaced
    }

    /// Ends the running command and gives the enclosing one its state back. `as_received` is
    /// the command itself (its database and arguments) when it is a write that succeeded: it is
    /// propagated unless it chose its propagation. When the unit ends (the top-level command
    /// returned), its ops are emitted to `stream`.
    pub fn leave<A: AsRef<[u8]>>(&mut self, saved: Saved, stream: &Stream, as_received: Option<(usize, &[A])>) {
        let itself = as_received.filter(|_| self.on && !self.replaced);
        self.replaced = saved.replaced;
        self.start = saved.start;
        self.depth -= 1;
        if let Some((db, argv)) = itself {
            if self.depth == 0 && self.ops.is_empty() {
                // The common case: one command, encoded straight from its arguments.
                stream.emit_one(db, argv);
                return;
            }
            self.ops.push(Op::new(db, argv));
        }
        if self.depth > 0 || self.ops.is_empty() {
            return;
        }
        let mut ops = std::mem::take(&mut self.ops);
        if self.split {
            for op in &ops {
                stream.emit(std::slice::from_ref(op));
            }
        } else {
            stream.emit(&ops);
        }
        // Keep the allocation for the next unit of this context.
        ops.clear();
        self.ops = ops;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A consumer that keeps what it was fed.
    #[derive(Default)]
    struct Tape(Mutex<Vec<u8>>);

    impl Consumer for Tape {
        fn feed(&self, bytes: &[u8]) {
            self.0.lock().extend_from_slice(bytes);
        }
    }

    fn text(t: &Tape) -> String {
        String::from_utf8_lossy(&t.0.lock()).replace("\r\n", " ")
    }

    #[test]
    fn nothing_is_built_without_consumers() {
        let s = Stream::default();
        assert!(!s.active());
        let mut u = Unit::default();
        let saved = u.enter(&s);
        assert!(!u.on());
        u.replace(0, &["SET", "k", "v"]);
        u.push(Op::new(0, &["DEL", "x"]));
        assert!(u.ops.is_empty(), "nothing collected while nothing consumes");
        u.leave(saved, &s, None::<(usize, &[&str])>);
    }

    #[test]
    fn units_select_wrap_and_reach_every_consumer_alike() {
        let s = Stream::default();
        let (a, b) = (Arc::new(Tape::default()), Arc::new(Tape::default()));
        s.attach(a.clone());
        s.emit_one(0, &["SET", "k", "v"]);
        s.emit_one(0, &["INCR", "n"]);
        s.emit(&[Op::new(3, &["DEL", "x"]), Op::new(3, &["SET", "x", "1"]), Op::new(0, &["DEL", "y"])]);
        assert_eq!(
            text(&a),
            "*2 $6 SELECT $1 0 *3 $3 SET $1 k $1 v *2 $4 INCR $1 n *2 $6 SELECT $1 3 *1 $5 MULTI *2 $3 DEL $1 x \
             *3 $3 SET $1 x $1 1 *2 $6 SELECT $1 0 *2 $3 DEL $1 y *1 $4 EXEC "
        );
        // A consumer attached later starts with a SELECT, and from then on both get the same bytes.
        let id = s.attach(b.clone());
        a.0.lock().clear();
        s.emit_one(0, &["DEL", "z"]);
        assert_eq!(text(&a), "*2 $6 SELECT $1 0 *2 $3 DEL $1 z ");
        assert_eq!(text(&a), text(&b));
        s.detach(id);
        s.emit_one(0, &["DEL", "w"]);
        assert_eq!(text(&b), "*2 $6 SELECT $1 0 *2 $3 DEL $1 z ", "detached: nothing more");
        assert_eq!(s.consumers(), 1);
    }

    #[test]
    fn a_unit_collects_nested_commands_and_withdraws_only_its_own() {
        let s = Stream::default();
        let t = Arc::new(Tape::default());
        s.attach(t.clone());
        let mut u = Unit::default();
        // EXEC: two nested commands, the second withdraws what it proposed but not the DEL the
        // keyspace raised for it.
        let exec = u.enter(&s);
        let first = u.enter(&s);
        u.replace(0, &["SET", "a", "1"]);
        u.leave(first, &s, None::<(usize, &[&str])>);
        let second = u.enter(&s);
        u.push(Op::new(0, &["DEL", "gone"]));
        u.replace(0, &["SREM", "s", "m"]);
        u.withdraw();
        assert!(u.replaced());
        u.leave(second, &s, Some((0, &["SREM", "s", "m"][..])));
        assert!(!u.replaced(), "EXEC's own state is back");
        assert!(t.0.lock().len() <= "*2 $6 SELECT $1 0 ".len() * 2, "nothing emitted before the unit ends");
        u.leave(exec, &s, None::<(usize, &[&str])>);
        assert_eq!(text(&t), "*2 $6 SELECT $1 0 *1 $5 MULTI *3 $3 SET $1 a $1 1 *2 $3 DEL $4 gone *1 $4 EXEC ");
    }

    #[test]
    fn split_units_emit_each_op_alone() {
        let s = Stream::default();
        let t = Arc::new(Tape::default());
        s.attach(t.clone());
        let mut u = Unit::default();
        let scan = u.enter(&s);
        u.split();
        u.push(Op::new(0, &["DEL", "a"]));
        u.push(Op::new(0, &["DEL", "b"]));
        u.leave(scan, &s, None::<(usize, &[&str])>);
        assert_eq!(text(&t), "*2 $6 SELECT $1 0 *2 $3 DEL $1 a *2 $3 DEL $1 b ");
    }
}
