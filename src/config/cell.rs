//! [`ConfigCell`]: the live configuration, read on every core without shared writes.
//!
//! Commands read the configuration often (listpack thresholds on every HSET, the AOF policy on
//! every logged write, limits on every read batch). Behind a reader-writer lock each read would
//! be an atomic add on the lock's one cache line, which two cores then pass back and forth.
//! Here the configuration is an immutable snapshot behind `arc_swap::ArcSwap`: a read takes a
//! guard that costs a thread-local bookkeeping slot, never a write to shared memory; a change
//! (CONFIG SET, start-up) copies the snapshot, edits the copy and publishes it whole, so a
//! reader sees either every value of one CONFIG SET or none.
//!
//! Modules that keep a value where they can read it with shard locks held (an atomic) register
//! a subscriber ([`ConfigCell::subscribe`]): it runs at once and after every change, with the
//! new configuration. The configuration thus knows none of the modules that read it.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use arc_swap::{ArcSwap, Guard};
use parking_lot::{Mutex, MutexGuard};

use super::Config;

pub struct ConfigCell {
    current: ArcSwap<Config>,
    /// Serialises writers, so two concurrent changes cannot lose one another's edits. Holds the
    /// subscribers, called by each writer after it published.
    writers: Mutex<Vec<fn(&Config)>>,
}

impl ConfigCell {
    pub fn new(config: Config) -> ConfigCell {
        ConfigCell { current: ArcSwap::from_pointee(config), writers: Mutex::new(Vec::new()) }
    }

    /// The current snapshot (later changes are not seen through this guard).
    #[inline]
    pub fn read(&self) -> Guard<Arc<Config>> {
        self.current.load()
    }

    /// Calls `f` with the current configuration now and with the new one after every change.
    pub fn subscribe(&self, f: fn(&Config)) {
        let mut subs = self.writers.lock();
        f(&self.current.load());
        subs.push(f);
    }

    /// A private copy of the configuration to edit; it replaces the live one when the guard
    /// is dropped (then the subscribers run). Readers meanwhile see the previous snapshot.
    pub fn write(&self) -> ConfigWrite<'_> {
        let lock = self.writers.lock();
        let copy = Config::clone(&self.current.load());
        ConfigWrite { cell: self, copy, subscribers: lock }
    }
}

/// An edit in progress (see [`ConfigCell::write`]).
pub struct ConfigWrite<'a> {
    cell: &'a ConfigCell,
    copy: Config,
    subscribers: MutexGuard<'a, Vec<fn(&Config)>>,
}

impl Deref for ConfigWrite<'_> {
    type Target = Config;
    fn deref(&self) -> &Config {
        &self.copy
    }
}

impl DerefMut for ConfigWrite<'_> {
    fn deref_mut(&mut self) -> &mut Config {
        &mut self.copy
    }
}

impl Drop for ConfigWrite<'_> {
    fn drop(&mut self) {
        let new = Arc::new(std::mem::take(&mut self.copy));
        self.cell.current.store(new.clone());
        for f in self.subscribers.iter() {
            f(&new);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_publish_on_drop_and_readers_keep_their_snapshot() {
        let cell = ConfigCell::new(Config::default());
        let before = cell.read();
        let old_port = before.port;
        {
            let mut w = cell.write();
            w.port = old_port.wrapping_add(1);
            assert_eq!(cell.read().port, old_port, "not published before the guard drops");
        }
        assert_eq!(cell.read().port, old_port.wrapping_add(1));
        assert_eq!(before.port, old_port, "an old guard keeps its snapshot");
    }

    #[test]
    fn concurrent_writers_lose_no_edit() {
        let cell = Arc::new(ConfigCell::new(Config::default()));
        cell.write().maxclients = 0;
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let cell = cell.clone();
                std::thread::spawn(move || {
                    for _ in 0..250 {
                        cell.write().maxclients += 1;
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(cell.read().maxclients, 1000);
    }

    static SEEN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

    #[test]
    fn subscribers_see_the_current_and_every_new_configuration() {
        let cell = ConfigCell::new(Config::default());
        cell.write().maxclients = 7;
        cell.subscribe(|c| SEEN.store(c.maxclients, std::sync::atomic::Ordering::Relaxed));
        assert_eq!(SEEN.load(std::sync::atomic::Ordering::Relaxed), 7, "called at once");
        cell.write().maxclients = 8;
        assert_eq!(SEEN.load(std::sync::atomic::Ordering::Relaxed), 8, "called after a change");
    }
}
