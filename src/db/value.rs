//! Values stored in the keyspace, and the entry that carries a key, its value and metadata.
//!
//! Each data-type family adds one variant to [`Value`]; large structures are boxed so that the
//! enum (and so every table entry) stays small.

use crate::types::hash::Hash;
use crate::types::set::Set;
use resp::parse_i64;

use super::thin::ThinBytes;
use crate::types::small::SmallBytes;

/// Largest string that `OBJECT ENCODING` reports as `embstr` (Redis's
/// `OBJ_ENCODING_EMBSTR_SIZE_LIMIT`).
pub const EMBSTR_MAX: usize = 44;

/// A string stored with Redis's `embstr` encoding: immutable, at most [`EMBSTR_MAX`] bytes.
/// Up to [`EMB_INLINE`] bytes live inside the value itself (no allocation); longer ones behind
/// a thin pointer, so that [`StrValue`] and [`Value`] stay 16 bytes.
#[derive(Clone, Debug, PartialEq)]
pub enum EmbStr {
    Inline { len: u8, buf: [u8; EMB_INLINE] },
    Heap(ThinBytes),
}

/// Longest `embstr` kept inside the value.
pub const EMB_INLINE: usize = 14;

impl EmbStr {
    pub fn new(b: &[u8]) -> EmbStr {
        if b.len() <= EMB_INLINE {
            let mut buf = [0u8; EMB_INLINE];
            buf[..b.len()].copy_from_slice(b);
            EmbStr::Inline { len: b.len() as u8, buf }
        } else {
            EmbStr::Heap(ThinBytes::new(b))
        }
    }

    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            EmbStr::Inline { len, buf } => &buf[..*len as usize],
            EmbStr::Heap(t) => t,
        }
    }

    /// Replaces the bytes in place when `b` has the same length (no allocation); false,
    /// changing nothing, otherwise.
    pub fn overwrite(&mut self, b: &[u8]) -> bool {
        match self {
            EmbStr::Inline { len, buf } if *len as usize == b.len() => {
                buf[..b.len()].copy_from_slice(b);
                true
            }
            EmbStr::Heap(t) => t.overwrite(b),
            _ => false,
        }
    }

    /// Heap bytes requested from the allocator (0 when inline).
    pub fn heap_size(&self) -> usize {
        match self {
            EmbStr::Inline { .. } => 0,
            EmbStr::Heap(t) => t.alloc_size(),
        }
    }
}

impl std::ops::Deref for EmbStr {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl From<&[u8]> for EmbStr {
    fn from(b: &[u8]) -> Self {
        EmbStr::new(b)
    }
}

/// A string value with Redis's three encodings. `Int` is chosen when the text is a canonical
/// 64-bit integer (as Redis's `tryObjectEncoding`); `Emb` for short immutable strings;
/// `Raw` for strings that were modified in place (APPEND, SETRANGE) or are longer than
/// `EMBSTR_MAX`. `Raw` is boxed so the enum stays 16 bytes.
#[derive(Clone, Debug, PartialEq)]
pub enum StrValue {
    Int(i64),
    Emb(EmbStr),
    Raw(Box<Vec<u8>>),
}

impl StrValue {
    /// The encoding Redis would pick for a value stored by `SET`.
    pub fn from_bytes(b: &[u8]) -> StrValue {
        if b.len() <= 20 {
            if let Some(n) = parse_i64(b) {
                return StrValue::Int(n);
            }
        }
        if b.len() <= EMBSTR_MAX {
            StrValue::Emb(EmbStr::new(b))
        } else {
            StrValue::Raw(Box::new(b.to_vec()))
        }
    }

    /// The value's bytes; integers are formatted into `buf`.
    pub fn as_bytes<'a>(&'a self, buf: &'a mut itoa::Buffer) -> &'a [u8] {
        match self {
            StrValue::Int(n) => buf.format(*n).as_bytes(),
            StrValue::Emb(b) => b,
            StrValue::Raw(v) => v,
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        let mut b = itoa::Buffer::new();
        self.as_bytes(&mut b).to_vec()
    }

    pub fn len(&self) -> usize {
        match self {
            StrValue::Int(n) => itoa::Buffer::new().format(*n).len(),
            StrValue::Emb(b) => b.len(),
            StrValue::Raw(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Converts to the mutable `Raw` encoding and returns the buffer (APPEND, SETRANGE).
    pub fn make_raw(&mut self) -> &mut Vec<u8> {
        if !matches!(self, StrValue::Raw(_)) {
            *self = StrValue::Raw(Box::new(self.to_vec()));
        }
        match self {
            StrValue::Raw(v) => v,
            _ => unreachable!(),
        }
    }

    /// The integer value, if the string is one (`INCR` and friends).
    pub fn as_int(&self) -> Option<i64> {
        match self {
            StrValue::Int(n) => Some(*n),
            StrValue::Emb(b) => parse_i64(b),
            StrValue::Raw(v) => parse_i64(v),
        }
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            StrValue::Int(_) => "int",
            StrValue::Emb(_) => "embstr",
            StrValue::Raw(_) => "raw",
        }
    }
}

/// A value of any type. Families add their variants here.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Str(StrValue),
    Stream(Box<crate::types::stream::Stream>),
    Hash(Box<Hash>),
    Set(Box<Set>),
    Zset(Box<crate::types::zset::Zset>),
    List(Box<crate::types::list::List>),
}

impl Value {
    pub fn from_bytes(b: &[u8]) -> Value {
        Value::Str(StrValue::from_bytes(b))
    }

    /// The name `TYPE` replies with.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::Stream(_) => "stream",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::Zset(_) => "zset",
            Value::List(_) => "list",
        }
    }

    /// The name `OBJECT ENCODING` replies with.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => s.encoding(),
            Value::Stream(_) => "stream",
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::Zset(z) => z.encoding(),
            Value::List(l) => l.encoding(),
        }
    }
}

/// No expiry: `expire_at` holds 0.
pub const NO_EXPIRE: u64 = 0;

/// A key with its value and metadata, detached from the keyspace: what `Db::remove` returns,
/// what `Db::put` stores (RENAME, MOVE, COPY), what loaders build. The table stores the same
/// facts more compactly ([`Stored`], expiry in a side vector).
#[derive(Debug)]
pub struct Entry {
    pub key: SmallBytes,
    pub value: Value,
    /// Absolute expiry in Unix milliseconds, or [`NO_EXPIRE`].
    pub expire_at: u64,
    /// LRU clock (seconds, 24 bits as in Redis) or LFU data at last access.
    pub lru: u32,
}

impl Entry {
    pub fn new(key: SmallBytes, value: Value) -> Entry {
        Entry { key, value, expire_at: NO_EXPIRE, lru: 0 }
    }

    pub fn has_expire(&self) -> bool {
        self.expire_at != NO_EXPIRE
    }

    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at != NO_EXPIRE && self.expire_at <= now_ms
    }
}

/// Longest key stored inside the table entry.
pub const KEY_INLINE: usize = 18;

/// A key as the table stores it, together with the entry's 32-bit metadata word (the LRU
/// clock or LFU data, see `evict`): 24 bytes. Keys of up to [`KEY_INLINE`] bytes need no
/// allocation; the metadata fills what would otherwise be padding.
#[derive(Clone, Debug)]
pub enum Key {
    Inline { len: u8, buf: [u8; KEY_INLINE], meta: u32 },
    Heap { meta: u32, bytes: ThinBytes },
}

impl Key {
    pub fn new(k: &[u8], meta: u32) -> Key {
        if k.len() <= KEY_INLINE {
            let mut buf = [0u8; KEY_INLINE];
            buf[..k.len()].copy_from_slice(k);
            Key::Inline { len: k.len() as u8, buf, meta }
        } else {
            Key::Heap { meta, bytes: ThinBytes::new(k) }
        }
    }

    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Key::Inline { len, buf, .. } => &buf[..*len as usize],
            Key::Heap { bytes, .. } => bytes,
        }
    }

    #[inline]
    pub fn meta(&self) -> u32 {
        match self {
            Key::Inline { meta, .. } | Key::Heap { meta, .. } => *meta,
        }
    }

    #[inline]
    pub fn meta_mut(&mut self) -> &mut u32 {
        match self {
            Key::Inline { meta, .. } | Key::Heap { meta, .. } => meta,
        }
    }

    /// Heap bytes requested from the allocator (0 when inline).
    pub fn heap_size(&self) -> usize {
        match self {
            Key::Inline { .. } => 0,
            Key::Heap { bytes, .. } => bytes.alloc_size(),
        }
    }
}

/// One entry of a table's dense entry vector: 40 bytes. The expiry lives in a parallel vector
/// that exists only while the table holds keys with a TTL.
#[derive(Clone, Debug)]
pub struct Stored {
    pub key: Key,
    pub value: Value,
}

/// Read access to a stored entry.
#[derive(Clone, Copy)]
pub struct EntryRef<'a> {
    pub key: &'a [u8],
    pub value: &'a Value,
    pub expire_at: u64,
    pub lru: u32,
}

impl EntryRef<'_> {
    pub fn has_expire(&self) -> bool {
        self.expire_at != NO_EXPIRE
    }

    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at != NO_EXPIRE && self.expire_at <= now_ms
    }
}

/// Write access to a stored entry's value and metadata (its key and expiry are read-only here:
/// the expiry changes through `Db::set_expire`, which keeps the volatile count right).
pub struct EntryMut<'a> {
    pub key: &'a [u8],
    pub value: &'a mut Value,
    pub expire_at: u64,
    meta: &'a mut u32,
}

impl<'a> EntryMut<'a> {
    pub(super) fn new(s: &'a mut Stored, expire_at: u64) -> EntryMut<'a> {
        let Stored { key, value } = s;
        // Split borrows: the key's bytes and its metadata word live in the same enum.
        match key {
            Key::Inline { len, buf, meta } => EntryMut { key: &buf[..*len as usize], value, expire_at, meta },
            Key::Heap { meta, bytes } => EntryMut { key: bytes, value, expire_at, meta },
        }
    }

    pub fn has_expire(&self) -> bool {
        self.expire_at != NO_EXPIRE
    }

    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at != NO_EXPIRE && self.expire_at <= now_ms
    }

    /// The LRU clock or LFU data.
    pub fn lru(&self) -> u32 {
        *self.meta
    }

    pub fn set_lru(&mut self, v: u32) {
        *self.meta = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_follow_redis() {
        assert_eq!(StrValue::from_bytes(b"123").encoding(), "int");
        assert_eq!(StrValue::from_bytes(b"0123").encoding(), "embstr");
        assert_eq!(StrValue::from_bytes(&[b'a'; 44]).encoding(), "embstr");
        assert_eq!(StrValue::from_bytes(&[b'a'; 45]).encoding(), "raw");
        let mut s = StrValue::from_bytes(b"12");
        s.make_raw().push(b'3');
        assert_eq!(s.encoding(), "raw");
        assert_eq!(s.as_int(), Some(123));
    }

    #[test]
    fn entries_stay_small() {
        assert_eq!(std::mem::size_of::<EmbStr>(), 16);
        assert_eq!(std::mem::size_of::<StrValue>(), 16);
        // Collections are boxed (one thin pointer) so that every value, strings included,
        // fits in 16 bytes and a stored entry (key + metadata + value) in 40.
        assert_eq!(std::mem::size_of::<Value>(), 16);
        assert_eq!(std::mem::size_of::<Key>(), 24);
        assert_eq!(std::mem::size_of::<Stored>(), 40);
    }

    #[test]
    fn keys_inline_and_on_the_heap() {
        for n in [0usize, 1, KEY_INLINE, KEY_INLINE + 1, 100] {
            let k: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
            let mut key = Key::new(&k, 7);
            assert_eq!(key.as_bytes(), &k[..]);
            assert_eq!(key.meta(), 7);
            *key.meta_mut() = 1 << 23;
            assert_eq!(key.meta(), 1 << 23);
            assert_eq!(key.as_bytes(), &k[..]);
        }
    }

    #[test]
    fn emb_strings_inline_and_on_the_heap() {
        for n in [0usize, EMB_INLINE, EMB_INLINE + 1, EMBSTR_MAX] {
            let b = vec![b'x'; n];
            let mut s = StrValue::from_bytes(&b);
            assert_eq!(s.encoding(), "embstr");
            assert_eq!(s.to_vec(), b);
            let StrValue::Emb(e) = &mut s else { panic!("embstr") };
            assert!(e.overwrite(&vec![b'y'; n]));
            assert!(!e.overwrite(&vec![b'y'; n + 1]));
            assert_eq!(s.to_vec(), vec![b'y'; n]);
        }
    }
}
