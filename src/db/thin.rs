//! `ThinBytes`: an owned, immutable byte string behind one thin pointer (8 bytes), its length
//! stored in front of the bytes in the same allocation.
//!
//! `Box<[u8]>` is a fat pointer (16 bytes); inside the 16-byte [`super::value::Value`] and the
//! 24-byte stored key that would leave no room for the enum tag. A thin pointer keeps both
//! small, and a heap string costs one allocation of exactly `4 + len` bytes (a `Box<Vec<u8>>`
//! costs two).

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::ops::Deref;
use std::ptr::NonNull;

/// Bytes in front of the data: the length as a native-endian `u32`.
const HEADER: usize = std::mem::size_of::<u32>();

/// An owned byte string of at most `u32::MAX` bytes behind a thin pointer.
pub struct ThinBytes(NonNull<u8>);

// SAFETY: `ThinBytes` uniquely owns its allocation (like `Box<[u8]>`) and exposes it only
// through `&self` as an immutable slice, so sending or sharing it between threads is as sound as
// for `Box<[u8]>`.
unsafe impl Send for ThinBytes {}
// SAFETY: see `Send`; there is no interior mutability.
unsafe impl Sync for ThinBytes {}

fn layout(len: usize) -> Layout {
    // The header's alignment (4) is the allocation's; `len` is bounded by `u32::MAX`, so the
    // size cannot overflow `isize` on 64-bit targets.
    Layout::from_size_align(HEADER + len, std::mem::align_of::<u32>()).expect("ThinBytes layout")
}

impl ThinBytes {
    /// Copies `b` into a new allocation. Panics if `b` is longer than `u32::MAX` bytes (the
    /// protocol caps a bulk string at 512 MB long before that).
    pub fn new(b: &[u8]) -> ThinBytes {
        let len = u32::try_from(b.len()).expect("ThinBytes longer than u32::MAX");
        let layout = layout(b.len());
        // SAFETY: `layout` has a non-zero size (at least the 4-byte header).
        let p = unsafe { alloc(layout) };
        let Some(p) = NonNull::new(p) else { handle_alloc_error(layout) };
        // SAFETY: `p` points to `HEADER + b.len()` freshly allocated bytes aligned for `u32`:
        // the header write is aligned and in bounds, and the copy fills the `b.len()` bytes
        // after it; source and destination cannot overlap (the destination is new).
        unsafe {
            p.as_ptr().cast::<u32>().write(len);
            std::ptr::copy_nonoverlapping(b.as_ptr(), p.as_ptr().add(HEADER), b.len());
        }
        ThinBytes(p)
    }

    #[inline]
    pub fn len(&self) -> usize {
        // SAFETY: the pointer always addresses a live allocation that starts with the aligned,
        // initialised `u32` length written by `new`.
        unsafe { self.0.as_ptr().cast::<u32>().read() as usize }
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        // SAFETY: the `len()` bytes after the header were initialised by `new` and are never
        // written again; the slice borrows `self`, so the allocation outlives it.
        unsafe { std::slice::from_raw_parts(self.0.as_ptr().add(HEADER), self.len()) }
    }

    /// Overwrites the bytes with `b` when it has the same length; false (nothing changed)
    /// otherwise. `&mut self` guarantees no outstanding borrow of the old bytes.
    pub fn overwrite(&mut self, b: &[u8]) -> bool {
        if b.len() != self.len() {
            return false;
        }
        // SAFETY: the destination is the `len()` data bytes of our own allocation, which we
        // borrow mutably through `&mut self`; `b` is a different, live slice of the same length
        // (it cannot alias our data: no `&` to it can exist while `&mut self` does).
        unsafe { std::ptr::copy_nonoverlapping(b.as_ptr(), self.0.as_ptr().add(HEADER), b.len()) };
        true
    }

    /// Bytes the allocation requests from the allocator (for MEMORY USAGE).
    pub fn alloc_size(&self) -> usize {
        HEADER + self.len()
    }
}

impl Drop for ThinBytes {
    fn drop(&mut self) {
        let layout = layout(self.len());
        // SAFETY: the pointer came from `alloc` with exactly this layout (same length) and is
        // freed only here, once.
        unsafe { dealloc(self.0.as_ptr(), layout) }
    }
}

impl Clone for ThinBytes {
    fn clone(&self) -> Self {
        ThinBytes::new(self.as_bytes())
    }
}

impl Deref for ThinBytes {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for ThinBytes {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl std::fmt::Debug for ThinBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_overwrites() {
        for n in [0usize, 1, 3, 4, 5, 15, 44, 1000] {
            let data: Vec<u8> = (0..n).map(|i| i as u8).collect();
            let mut t = ThinBytes::new(&data);
            assert_eq!(t.len(), n);
            assert_eq!(&*t, &data[..]);
            let c = t.clone();
            assert_eq!(c, t);
            let other: Vec<u8> = data.iter().map(|b| b ^ 0xff).collect();
            assert!(t.overwrite(&other));
            assert_eq!(&*t, &other[..]);
            assert_eq!(&*c, &data[..], "the clone is independent");
            assert!(!t.overwrite(&[0; 2000]));
        }
        assert_eq!(std::mem::size_of::<ThinBytes>(), 8);
        assert_eq!(std::mem::size_of::<Option<ThinBytes>>(), 8);
    }
}
