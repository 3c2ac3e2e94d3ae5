//! Keyspace notifications (`notify-keyspace-events`): the events commands raise on keys,
//! published as pub/sub messages on `__keyspace@<db>__:<key>` (payload: the event name) and
//! `__keyevent@<db>__:<event>` (payload: the key).
//!
//! ## Who raises events
//! - Command families, after a command changed a key: `ctx.notify(notify::STRING, "set", key)`
//!   (`cmd::effects`), with the event's class (one of the constants below, Redis's letters)
//!   and Redis's event name, in the order Redis raises them (SET with EX: `set` then
//!   `expire`), only for changes that happened (no event for a failed conditional write or an
//!   empty append). The call costs one relaxed atomic load when the class is not enabled.
//! - The keyspace, by itself: `expired` (a lookup, SCAN or RANDOMKEY deleted an expired key),
//!   `new` (a key was created), `keymiss` (a read found nothing). It queues these as
//!   `db::KeyEffect`s in the command's locks; the command layer publishes them ([`for_effect`])
//!   in order, before the command's next event and before its reply, while the command still
//!   holds the key's shard, so no other command's events on that key overtake them.
//! - Work outside commands: the active expiry cycle (`expired`) and eviction (`evicted`)
//!   publish under the key's shard lock.
//!
//! The flags are a process-wide atomic set when `notify-keyspace-events` changes (redis.conf,
//! CONFIG SET), so the check needs no lock; one process runs one server.

use std::sync::atomic::{AtomicU32, Ordering};

use crate::db::EffectKind;
use crate::pubsub::{PubSub, SelfSink};

/// `K`: publish on `__keyspace@<db>__:<key>`.
pub const KEYSPACE: u32 = 1 << 0;
/// `E`: publish on `__keyevent@<db>__:<event>`.
pub const KEYEVENT: u32 = 1 << 1;
/// `g`: generic commands (DEL, EXPIRE, RENAME, ...).
pub const GENERIC: u32 = 1 << 2;
/// `$`: string commands.
pub const STRING: u32 = 1 << 3;
/// `l`: list commands.
pub const LIST: u32 = 1 << 4;
/// `s`: set commands.
pub const SET: u32 = 1 << 5;
/// `h`: hash commands.
pub const HASH: u32 = 1 << 6;
/// `z`: sorted-set commands.
pub const ZSET: u32 = 1 << 7;
/// `x`: expired events.
pub const EXPIRED: u32 = 1 << 8;
/// `e`: evicted events.
pub const EVICTED: u32 = 1 << 9;
/// `t`: stream commands.
pub const STREAM: u32 = 1 << 10;
/// `m`: key-miss events (not part of `A`).
pub const KEY_MISS: u32 = 1 << 11;
/// `d`: module events.
pub const MODULE: u32 = 1 << 12;
/// `n`: new-key events (not part of `A`).
pub const NEW: u32 = 1 << 13;
/// `A`: alias for `g$lshzxetd`.
pub const ALL: u32 = GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

static FLAGS: AtomicU32 = AtomicU32::new(0);

/// Parses a `notify-keyspace-events` value (already validated by CONFIG). Unknown characters
/// yield `None`.
pub fn parse_flags(v: &str) -> Option<u32> {
    let mut f = 0;
    for c in v.chars() {
        f |= match c {
            'A' => ALL,
            'g' => GENERIC,
            '$' => STRING,
            'l' => LIST,
            's' => SET,
            'h' => HASH,
            'z' => ZSET,
            'x' => EXPIRED,
            'e' => EVICTED,
            'K' => KEYSPACE,
            'E' => KEYEVENT,
            't' => STREAM,
            'm' => KEY_MISS,
            'd' => MODULE,
            'n' => NEW,
            _ => return None,
        };
    }
    Some(f)
}

/// Takes `notify-keyspace-events` from a new configuration (a `ConfigCell` subscriber).
pub fn configure(c: &crate::config::Config) {
    set_flags(&c.notify_keyspace_events);
}

/// Stores the configured value (`notify-keyspace-events`), and tells the keyspace whether to
/// record the key creations and read misses that `new` and `keymiss` report.
pub fn set_flags(v: &str) {
    let f = parse_flags(v).unwrap_or(0);
    FLAGS.store(f, Ordering::Relaxed);
    let on = f & (KEYSPACE | KEYEVENT) != 0;
    crate::db::want_effects(on && f & NEW != 0, on && f & KEY_MISS != 0);
}

/// Whether events of `class` are published at all (one relaxed load).
#[inline]
pub fn enabled(class: u32) -> bool {
    let f = FLAGS.load(Ordering::Relaxed);
    f & class != 0 && f & (KEYSPACE | KEYEVENT) != 0
}

/// Whether any event is published (the dispatcher's check after each command).
#[inline]
pub fn any() -> bool {
    FLAGS.load(Ordering::Relaxed) & (KEYSPACE | KEYEVENT) != 0
}

/// The class and name of the event a keyspace effect raises (`expired`, `new`, `keymiss`).
pub fn for_effect(kind: EffectKind) -> (u32, &'static str) {
    match kind {
        EffectKind::Expired => (EXPIRED, "expired"),
        EffectKind::New => (NEW, "new"),
        EffectKind::Miss => (KEY_MISS, "keymiss"),
    }
}

/// Publishes one event on the keyspace and/or keyevent channel, as the flags ask.
pub fn publish(pubsub: &PubSub, class: u32, db: usize, event: &str, key: &[u8], mut me: SelfSink) {
    let f = FLAGS.load(Ordering::Relaxed);
    if f & class == 0 || pubsub.is_idle() {
        return;
    }
    let mut dbbuf = itoa::Buffer::new();
    let dbs = dbbuf.format(db).as_bytes();
    if f & KEYSPACE != 0 {
        let mut ch = Vec::with_capacity(16 + dbs.len() + key.len());
        ch.extend_from_slice(b"__keyspace@");
        ch.extend_from_slice(dbs);
        ch.extend_from_slice(b"__:");
        ch.extend_from_slice(key);
        let sink = me.as_mut().map(|(id, out)| (*id, &mut **out));
        pubsub.publish(&ch, event.as_bytes(), sink);
    }
    if f & KEYEVENT != 0 {
        let mut ch = Vec::with_capacity(16 + dbs.len() + event.len());
        ch.extend_from_slice(b"__keyevent@");
        ch.extend_from_slice(dbs);
        ch.extend_from_slice(b"__:");
        ch.extend_from_slice(event.as_bytes());
        pubsub.publish(&ch, key, me);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_like_redis() {
        assert_eq!(parse_flags(""), Some(0));
        assert_eq!(parse_flags("AKE"), Some(ALL | KEYSPACE | KEYEVENT));
        assert_eq!(parse_flags("Kx"), Some(KEYSPACE | EXPIRED));
        assert_eq!(parse_flags("A").unwrap() & (KEY_MISS | NEW), 0, "A excludes m and n");
        assert_eq!(parse_flags("q"), None);
    }
}
