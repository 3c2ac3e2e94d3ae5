//! WATCH bookkeeping for one shard: which clients watch which keys.
//!
//! Every write path in [`super::Db`] calls [`Watchers::touch`]; with no watched keys that is one
//! branch. A watching client holds a [`WatchFlag`]; EXEC fails when the flag was raised.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Raised when any key a client watches is modified.
pub type WatchFlag = Arc<AtomicBool>;

#[derive(Default)]
pub struct Watchers {
    /// Key → (database, flag) of every client watching it.
    map: HashMap<Box<[u8]>, Vec<(usize, WatchFlag)>>,
}

impl Watchers {
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    #[inline]
    pub fn touch(&self, db: usize, key: &[u8]) {
        if self.map.is_empty() {
            return;
        }
        if let Some(list) = self.map.get(key) {
            for (d, flag) in list {
                if *d == db {
                    flag.store(true, Ordering::Release);
                }
            }
        }
    }

    /// Raises the flag of every client watching a key in `db` for which `pred(key)` holds
    /// (FLUSHDB, FLUSHALL, SWAPDB).
    pub fn touch_db(&self, db: usize, mut pred: impl FnMut(&[u8]) -> bool) {
        for (key, list) in &self.map {
            for (d, flag) in list {
                if *d == db && pred(key) {
                    flag.store(true, Ordering::Release);
                }
            }
        }
    }

    pub fn watch(&mut self, db: usize, key: &[u8], flag: &WatchFlag) {
        let list = self.map.entry(key.into()).or_default();
        if !list.iter().any(|(d, f)| *d == db && Arc::ptr_eq(f, flag)) {
            list.push((db, flag.clone()));
        }
    }

    pub fn unwatch(&mut self, db: usize, key: &[u8], flag: &WatchFlag) {
        if let Some(list) = self.map.get_mut(key) {
            list.retain(|(d, f)| !(*d == db && Arc::ptr_eq(f, flag)));
            if list.is_empty() {
                self.map.remove(key);
            }
        }
    }
}
