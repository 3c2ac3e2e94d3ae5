//! Typed access to a key's value: one lookup for every value type, answering WRONGTYPE when the
//! key holds another type.
//!
//! [`ValueType`] is implemented by each type a [`Value`] holds ([`StrValue`], [`Hash`], [`Set`],
//! [`List`], [`Zset`], [`Stream`]). The functions pair it with the `Db` lookup a call site
//! needs; which one is part of a command's behaviour, as it decides whether the key's LRU clock
//! (or LFU counter) is refreshed and whether a keyspace hit or miss is counted (INFO
//! `keyspace_hits`/`keyspace_misses`, OBJECT IDLETIME/FREQ, `keymiss` events):
//!
//! - [`read`]: `Db::get_counted`, a read command's lookup (access recorded, hit or miss
//!   counted), for reading.
//! - [`get`]: `Db::get` (access recorded, nothing counted), for writing; also the lookup of the
//!   families whose reads count nothing (lists, streams).
//! - [`get_or_create`]: `Db::get`, storing an empty value (no TTL) when the key is missing.
//! - [`typed`]: the value of an entry found by any other lookup (`peek`, `peek_counted`, or
//!   one whose entry the caller needs too).

use super::CmdError;
use crate::db::value::{EntryMut, StrValue, Value, NO_EXPIRE};
use crate::db::Db;
use crate::types::hash::Hash;
use crate::types::list::List;
use crate::types::set::Set;
use crate::types::stream::Stream;
use crate::types::zset::Zset;

/// A type a [`Value`] can hold.
pub trait ValueType: Sized {
    /// The value as `Self`, or `None` when it holds another type.
    fn of(v: &mut Value) -> Option<&mut Self>;

    /// A value holding `self` (what [`get_or_create`] stores).
    fn into_value(self) -> Value;
}

impl ValueType for StrValue {
    fn of(v: &mut Value) -> Option<&mut Self> {
        match v {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    fn into_value(self) -> Value {
        Value::Str(self)
    }
}

/// The collection types, boxed inside [`Value`].
macro_rules! boxed_value_type {
    ($($t:ty => $variant:ident),* $(,)?) => {$(
        impl ValueType for $t {
            fn of(v: &mut Value) -> Option<&mut Self> {
                match v {
                    Value::$variant(x) => Some(x),
                    _ => None,
                }
            }

            fn into_value(self) -> Value {
                Value::$variant(Box::new(self))
            }
        }
    )*};
}

boxed_value_type!(Hash => Hash, Set => Set, List => List, Zset => Zset, Stream => Stream);

/// The value of an entry as `T`, or WRONGTYPE.
pub fn typed<T: ValueType>(e: EntryMut<'_>) -> Result<&mut T, CmdError> {
    T::of(e.value).ok_or(CmdError::WrongType)
}

/// The `T` at `key` for a read command (`Db::get_counted`): `None` if the key is missing,
/// WRONGTYPE if it holds another type.
pub fn read<'d, T: ValueType>(db: &'d mut Db, key: &[u8]) -> Result<Option<&'d T>, CmdError> {
    match db.get_counted(key) {
        None => Ok(None),
        Some(e) => typed(e).map(|v| Some(&*v)),
    }
}

/// The `T` at `key` through `Db::get`: `None` if the key is missing, WRONGTYPE if it holds
/// another type. After a change the caller calls `Db::touch` (or deletes an emptied key).
pub fn get<'d, T: ValueType>(db: &'d mut Db, key: &[u8]) -> Result<Option<&'d mut T>, CmdError> {
    match db.get(key) {
        None => Ok(None),
        Some(e) => typed(e).map(Some),
    }
}

/// The `T` at `key` for writing, stored empty (without TTL) first if the key is missing;
/// WRONGTYPE for another type, before anything is created. The caller must leave the value
/// non-empty or delete the key. An existing key is looked up twice (`Db::get` for the type
/// check, then for the access: a borrow cannot be returned from one arm of a match whose other
/// arm writes to the database).
pub fn get_or_create<'d, T: ValueType + Default>(db: &'d mut Db, key: &[u8]) -> Result<&'d mut T, CmdError> {
    match db.get(key).map(|e| T::of(e.value).is_some()) {
        Some(false) => return Err(CmdError::WrongType),
        Some(true) => {}
        None => {
            db.set(key, T::default().into_value(), NO_EXPIRE);
        }
    }
    match db.get(key) {
        Some(e) => typed(e),
        None => unreachable!("just checked or created"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Keyspace;

    #[test]
    fn lookups_check_the_type() {
        let ks = Keyspace::new(1, 1);
        let mut locks = ks.lock_all();
        let mut db = Db { ks: &ks, locks: &mut locks, db: 0, now: 1_000 };
        db.set(b"s", Value::from_bytes(b"v"), NO_EXPIRE);
        assert_eq!(read::<Hash>(&mut db, b"s").err(), Some(CmdError::WrongType));
        assert!(read::<StrValue>(&mut db, b"s").unwrap().is_some());
        assert!(get::<Set>(&mut db, b"missing").unwrap().is_none());
        assert_eq!(get_or_create::<Hash>(&mut db, b"s").err(), Some(CmdError::WrongType));
        assert!(get_or_create::<Hash>(&mut db, b"h").unwrap().is_empty());
        assert!(typed::<Hash>(db.peek(b"h").unwrap()).is_ok());
        assert_eq!(typed::<List>(db.peek(b"h").unwrap()).err(), Some(CmdError::WrongType));
    }
}
