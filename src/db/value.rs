//! Values stored in the keyspace, and the entry that carries a key, its value and metadata.
//!
//! Each data-type family adds one variant to [`Value`]; large structures are boxed so that the
//! enum (and so every table entry) stays small.

use crate::types::hash::Hash;
use crate::types::set::Set;
use resp::parse_i64;

use super::small::SmallBytes;

/// Largest string that `OBJECT ENCODING` reports as `embstr` (Redis's
/// `OBJ_ENCODING_EMBSTR_SIZE_LIMIT`).
pub const EMBSTR_MAX: usize = 44;

/// A string value with Redis's three encodings. `Int` is chosen when the text is a canonical
/// 64-bit integer (as Redis's `tryObjectEncoding`); `Emb` for short immutable strings (stored
/// inline in the entry up to 22 bytes); `Raw` for strings that were modified in place (APPEND,
/// SETRANGE) or are longer than `EMBSTR_MAX`. `Raw` is boxed so the enum stays 24 bytes.
#[derive(Clone, Debug, PartialEq)]
pub enum StrValue {
    Int(i64),
    Emb(SmallBytes),
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
            StrValue::Emb(b.into())
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

/// One key with its value and metadata, stored inline in a [`super::table::Table`].
#[derive(Debug)]
pub struct Entry {
    pub key: SmallBytes,
    pub value: Value,
    /// Absolute expiry in Unix milliseconds, or [`NO_EXPIRE`].
    pub expire_at: u64,
    /// Low 32 bits of the key's hash (the table's probe and scan position).
    pub hash: u32,
    /// LRU clock (seconds, 24 bits as in Redis) at last access; used by OBJECT IDLETIME and eviction.
    pub lru: u32,
}

impl Entry {
    pub fn new(key: SmallBytes, hash: u32, value: Value) -> Entry {
        Entry { key, value, expire_at: NO_EXPIRE, hash, lru: 0 }
    }

    pub fn has_expire(&self) -> bool {
        self.expire_at != NO_EXPIRE
    }

    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at != NO_EXPIRE && self.expire_at <= now_ms
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
        assert!(std::mem::size_of::<StrValue>() <= 24, "StrValue is {} bytes", std::mem::size_of::<StrValue>());
        // Collections are boxed so that every entry, strings included, stays at 64 bytes.
        assert!(std::mem::size_of::<Value>() <= 24, "Value is {} bytes", std::mem::size_of::<Value>());
        assert!(std::mem::size_of::<Entry>() <= 64, "Entry is {} bytes", std::mem::size_of::<Entry>());
    }
}
