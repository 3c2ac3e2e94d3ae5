//! `SmallBytes`: an immutable byte string stored inline when it is at most 22 bytes long, on the
//! heap otherwise. 24 bytes in all.
//!
//! Keys and short string values are usually small (`session:4f2a`, `user:1042:rate`, a JSON
//! flag). Storing them inside the table entry saves a heap allocation each (16 bytes of payload
//! plus the allocator's 16 bytes of overhead) and a cache miss on every lookup, since the key
//! bytes sit next to the entry the probe already loaded.

use std::fmt;
use std::ops::Deref;

/// Longest string kept inline.
pub const INLINE_MAX: usize = 22;

#[derive(Clone)]
enum Repr {
    Inline { len: u8, buf: [u8; INLINE_MAX] },
    Heap(Box<[u8]>),
}

/// An immutable byte string with small-string optimisation.
#[derive(Clone)]
pub struct SmallBytes(Repr);

impl SmallBytes {
    pub fn new(b: &[u8]) -> SmallBytes {
        if b.len() <= INLINE_MAX {
            let mut buf = [0u8; INLINE_MAX];
            buf[..b.len()].copy_from_slice(b);
            SmallBytes(Repr::Inline { len: b.len() as u8, buf })
        } else {
            SmallBytes(Repr::Heap(b.into()))
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, buf } => &buf[..*len as usize],
            Repr::Heap(b) => b,
        }
    }

    /// Replaces the bytes with `b` in place when it has the same length (no allocation).
    /// Returns false, changing nothing, when the lengths differ.
    pub fn overwrite(&mut self, b: &[u8]) -> bool {
        match &mut self.0 {
            Repr::Inline { len, buf } if *len as usize == b.len() => buf[..b.len()].copy_from_slice(b),
            Repr::Heap(h) if h.len() == b.len() => h.copy_from_slice(b),
            _ => return false,
        }
        true
    }

    /// True when the bytes live inside the struct (for memory accounting).
    pub fn is_inline(&self) -> bool {
        matches!(self.0, Repr::Inline { .. })
    }
}

impl Default for SmallBytes {
    fn default() -> Self {
        SmallBytes(Repr::Inline { len: 0, buf: [0; INLINE_MAX] })
    }
}

impl Deref for SmallBytes {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsRef<[u8]> for SmallBytes {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl std::borrow::Borrow<[u8]> for SmallBytes {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl From<&[u8]> for SmallBytes {
    fn from(b: &[u8]) -> Self {
        SmallBytes::new(b)
    }
}

impl From<Vec<u8>> for SmallBytes {
    fn from(v: Vec<u8>) -> Self {
        if v.len() <= INLINE_MAX {
            SmallBytes::new(&v)
        } else {
            SmallBytes(Repr::Heap(v.into_boxed_slice()))
        }
    }
}

impl From<Box<[u8]>> for SmallBytes {
    fn from(b: Box<[u8]>) -> Self {
        if b.len() <= INLINE_MAX {
            SmallBytes::new(&b)
        } else {
            SmallBytes(Repr::Heap(b))
        }
    }
}

impl PartialEq for SmallBytes {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for SmallBytes {}

impl PartialEq<[u8]> for SmallBytes {
    fn eq(&self, other: &[u8]) -> bool {
        self.as_bytes() == other
    }
}

impl std::hash::Hash for SmallBytes {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state)
    }
}

impl fmt::Debug for SmallBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_and_heap_round_trip() {
        for len in [0, 1, 21, 22, 23, 100] {
            let v: Vec<u8> = (0..len as u8).collect();
            let s = SmallBytes::new(&v);
            assert_eq!(&*s, &v[..]);
            assert_eq!(s.is_inline(), len <= INLINE_MAX);
            assert_eq!(SmallBytes::from(v.clone()), s);
            assert_eq!(SmallBytes::from(v.clone().into_boxed_slice()), s);
            let mut t = s.clone();
            let other: Vec<u8> = v.iter().map(|b| b ^ 0xff).collect();
            assert!(t.overwrite(&other));
            assert_eq!(&*t, &other[..]);
            assert!(!t.overwrite(&vec![0u8; len + 1]), "a different length is refused");
            assert_eq!(&*t, &other[..]);
        }
    }

    #[test]
    fn is_24_bytes() {
        assert_eq!(std::mem::size_of::<SmallBytes>(), 24);
    }
}
