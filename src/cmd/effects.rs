//! What a command sends out besides its reply: its effects on the stream (`propagate`) and its
//! keyspace events (`notify`). The API command handlers use, on [`Ctx`]:
//!
//! - [`Ctx::notify`] / [`Ctx::notify_db`]: raise a keyspace event after changing a key.
//! - [`Ctx::propagate`]: propagate these arguments instead of the command as received (call it
//!   again to propagate several commands, in order; they are wrapped in `MULTI`/`EXEC`). This is
//!   how a command whose re-run would not reproduce its effect says what to log: relative
//!   expiries made absolute (`SET .. EX` → `SET .. PXAT`), a random pop as `SREM`, a generated
//!   stream ID as that ID, a float result as a `SET`, a served blocking command as its
//!   non-blocking form. Which commands rewrite themselves is thus a property of their handler.
//! - [`Ctx::propagate_nothing`]: the write changed nothing; propagate nothing.
//! - [`Ctx::propagating`]: whether anything consumes the stream (skip building what would be
//!   propagated otherwise).
//!
//! A write command that calls neither propagates as received, once it succeeded with a reply.
//!
//! Effects the keyspace raised by itself during the command (`db::KeyEffect`: a key found
//! expired, a key created, a read miss) are drained here, in order: an expired key becomes a
//! `DEL` (`UNLINK` under `lazyfree-lazy-expire`) in the command's execution unit before anything
//! the command propagates afterwards, and each effect's keyspace event is published before the
//! command's next event and before its reply.

use super::Ctx;
use crate::db::lazyfree::{self, Flag};
use crate::db::EffectKind;
use crate::notify;
use crate::propagate::Op;

impl Ctx<'_> {
    /// Raises `event` of `class` on `key` in the client's selected database (one relaxed load
    /// when the class is not enabled).
    #[inline]
    pub fn notify(&mut self, class: u32, event: &str, key: &[u8]) {
        if notify::enabled(class) {
            let db = self.client.db;
            self.publish_event(class, event, key, db);
        }
    }

    /// Raises `event` on `key` in database `db` (MOVE's and COPY's destination).
    #[inline]
    pub fn notify_db(&mut self, class: u32, event: &str, key: &[u8], db: usize) {
        if notify::enabled(class) {
            self.publish_event(class, event, key, db);
        }
    }

    #[cold]
    fn publish_event(&mut self, class: u32, event: &str, key: &[u8], db: usize) {
        self.publish_effects(None);
        let me = self.client.id;
        let before = self.out.len();
        notify::publish(&self.server.pubsub, class, db, event, key, Some((me, &mut self.out.buf)));
        if self.out.len() > before {
            self.out.pushed();
        }
    }

    /// Propagates `args` instead of the command being run (call it again to propagate several
    /// commands, in order).
    pub fn propagate<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        if self.unit.on() {
            self.propagate_effects();
            let db = self.client.db;
            self.unit.replace(db, args);
        }
    }

    /// The command being run changed nothing: propagate nothing (anything it passed to
    /// [`Ctx::propagate`] before is withdrawn).
    pub fn propagate_nothing(&mut self) {
        self.unit.withdraw();
    }

    /// Whether the command's effects are propagated (handlers may skip building them).
    #[inline]
    pub fn propagating(&self) -> bool {
        self.unit.on()
    }

    /// Moves the `DEL`s of keys the keyspace found expired, not moved yet, into the execution
    /// unit.
    fn propagate_effects(&mut self) {
        let from = self.locks.effects_propagated;
        if from == self.locks.effects.len() {
            return;
        }
        self.locks.effects_propagated = self.locks.effects.len();
        if !self.unit.on() {
            return;
        }
        let del = crate::propagate::deletion(lazyfree::enabled(Flag::Expire));
        for e in &self.locks.effects[from..] {
            if e.kind == EffectKind::Expired {
                self.unit.push(Op::new(e.db, &[del, &e.key]));
            }
        }
    }

    /// Drains every effect the keyspace queued: propagates the expired keys (see
    /// [`Ctx::propagate_effects`]) and publishes each effect's keyspace event. This client's own
    /// copies of the events go at the end of its output, or at `mark` (before the reply it
    /// already wrote).
    pub(crate) fn publish_effects(&mut self, mark: Option<usize>) {
        if self.locks.effects.is_empty() {
            return;
        }
        self.propagate_effects();
        let mut effects = std::mem::take(&mut self.locks.effects);
        self.locks.effects_propagated = 0;
        if notify::any() {
            let me = self.client.id;
            let before = self.out.len();
            let mut mine = Vec::new();
            for e in &effects {
                let (class, event) = notify::for_effect(e.kind);
                let sink = if mark.is_some() { &mut mine } else { &mut self.out.buf };
                notify::publish(&self.server.pubsub, class, e.db, event, &e.key, Some((me, sink)));
            }
            if let Some(at) = mark.filter(|_| !mine.is_empty()) {
                let at = at.min(self.out.buf.len());
                let end = at + mine.len();
                self.out.buf.splice(at..at, mine);
                self.out.push_end = self.out.push_end.max(end);
            } else if self.out.len() > before {
                self.out.pushed();
            }
        }
        // Keep the allocation for the next effects of this command.
        effects.clear();
        self.locks.effects = effects;
    }
}
