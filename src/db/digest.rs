//! DEBUG DIGEST and DIGEST-VALUE as Redis computes them, so that the same dataset gives the
//! same digest in redstart and in Redis (tools and test suites compare servers this way).
//!
//! Two SHA-1 steps build everything: `xor` adds SHA1(data) into a digest by XOR (order does not
//! matter: set members, hash fields, sorted-set members, the keys of a database), `mix` replaces
//! a digest by SHA1(digest XOR SHA1(data)) (order matters: list elements, stream entries, the
//! parts of one element). A value's digest starts with its type code (4 bytes, big-endian),
//! then its contents as text (integers in decimal, scores in the shortest form that reads back,
//! as Redis 7.2 prints them; stream IDs as `ms.seq`), then `!!expire!!` if the key has a TTL.
//! A dataset's digest mixes each non-empty database's number, then XORs in each key's digest
//! (its name mixed, then its value's). Keys whose TTL passed but that are still stored count,
//! as in Redis.

use sha1::{Digest as _, Sha1};

use super::value::Value;
use crate::types::set::Elem;
use crate::types::stream::StreamId;

pub type Digest = [u8; 20];

/// `digest ^= SHA1(data)` (Redis's `xorDigest`).
pub fn xor(digest: &mut Digest, data: &[u8]) {
    let h = Sha1::digest(data);
    for (d, h) in digest.iter_mut().zip(h.iter()) {
        *d ^= h;
    }
}

/// `digest = SHA1(digest ^ SHA1(data))` (Redis's `mixDigest`).
pub fn mix(digest: &mut Digest, data: &[u8]) {
    xor(digest, data);
    *digest = Sha1::digest(&digest[..]).into();
}

/// Adds `value` (and whether its key has a TTL) to `digest` (Redis's `xorObjectDigest`).
pub fn value(digest: &mut Digest, value: &Value, has_expire: bool) {
    let mut num = itoa::Buffer::new();
    let code: u32 = match value {
        Value::Str(_) => 0,
        Value::List(_) => 1,
        Value::Set(_) => 2,
        Value::Zset(_) => 3,
        Value::Hash(_) => 4,
        Value::Stream(_) => 6,
    };
    mix(digest, &code.to_be_bytes());
    match value {
        Value::Str(s) => mix(digest, s.as_bytes(&mut num)),
        Value::List(l) => {
            for e in l.iter() {
                mix(digest, e);
            }
        }
        Value::Set(s) => {
            for e in s.iter() {
                match e {
                    Elem::Int(v) => xor(digest, num.format(v).as_bytes()),
                    Elem::Bytes(b) => xor(digest, b),
                }
            }
        }
        Value::Zset(z) => {
            for (member, score) in z.entries() {
                let mut e = Digest::default();
                mix(&mut e, member);
                mix(&mut e, resp::format_double(score).as_bytes());
                xor(digest, &e);
            }
        }
        Value::Hash(h) => {
            for (f, v) in h.iter() {
                let mut e = Digest::default();
                mix(&mut e, f);
                mix(&mut e, v);
                xor(digest, &e);
            }
        }
        Value::Stream(st) => {
            for (id, fields) in st.log.range(StreamId::MIN, StreamId::MAX, 0, false) {
                mix(digest, format!("{}.{}", id.ms, id.seq).as_bytes());
                for f in fields {
                    mix(digest, f);
                }
            }
        }
    }
    if has_expire {
        xor(digest, b"!!expire!!");
    }
}

/// Lower-case hex, as DEBUG replies with it.
pub fn hex(digest: &Digest) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_depends_on_order_and_xor_does_not() {
        let (mut a, mut b) = (Digest::default(), Digest::default());
        mix(&mut a, b"x");
        mix(&mut a, b"y");
        mix(&mut b, b"y");
        mix(&mut b, b"x");
        assert_ne!(a, b);
        let (mut a, mut b) = (Digest::default(), Digest::default());
        xor(&mut a, b"x");
        xor(&mut a, b"y");
        xor(&mut b, b"y");
        xor(&mut b, b"x");
        assert_eq!(a, b);
        assert_eq!(hex(&Digest::default()), "0".repeat(40));
    }
}
