//! The list type: a deque of packed nodes, like Redis's quicklist of listpacks.
//!
//! Why not `VecDeque<Box<[u8]>>`: every element would cost a 16-byte fat pointer plus a heap
//! allocation (allocator header and rounding, ~16–32 bytes more), so a list of 1,000,000 short
//! items would take ~40–50 MB where Redis needs ~12 MB. Here elements are stored back to back
//! in nodes of a few KB (the limit is `list-max-listpack-size`, default -2 = 8 KB per node), each
//! element framed as `varint(len) bytes reversed-varint(len)`: 2 bytes of overhead for elements
//! under 128 bytes, and the trailing length lets a node be walked from either end (as listpack's
//! back-length does). A node is a `Vec<u8>` plus its element count (32 bytes), so the per-node
//! overhead is negligible.
//!
//! Complexity: push/pop at either end are O(node size) (a memmove within the end node, as
//! listpack does); LINDEX/LSET/LINSERT find their node by walking node counts from the nearer
//! end (O(N / node capacity)) and then walk inside one node; LRANGE walks once to its start and
//! then streams. Nodes that empty are dropped; neighbours that fit together after removals in
//! the middle are merged, so memory stays proportional to the data.
//!
//! Encoding names (`OBJECT ENCODING`), as Redis 7.2 reports them: `listpack` while the list fits
//! in one node, `quicklist` once it needs a second; it goes back to `listpack` when it is down to
//! one node at most half full (Redis's hysteresis). Sizes are this framing's bytes, which are
//! close to but not exactly Redis's listpack bytes, so the switch can happen a few elements away
//! from Redis's.

use std::collections::VecDeque;

/// Per-node limits derived from `list-max-listpack-size`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fill {
    pub max_bytes: usize,
    pub max_count: usize,
}

impl Fill {
    /// Redis's meaning of `list-max-listpack-size`: negative = bytes per node (-1 = 4 KB ... -5 =
    /// 64 KB, lower values act as -5); positive = elements per node (with an 8 KB safety limit).
    pub fn from_config(fill: i64) -> Fill {
        if fill < 0 {
            let level = (-fill).min(5) as u32;
            Fill { max_bytes: 4096 << (level - 1), max_count: u16::MAX as usize }
        } else {
            Fill { max_bytes: 8192, max_count: fill.max(1) as usize }
        }
    }
}

impl Default for Fill {
    fn default() -> Fill {
        Fill::from_config(-2)
    }
}

fn varint_len(mut n: usize) -> usize {
    let mut l = 1;
    while n >= 0x80 {
        n >>= 7;
        l += 1;
    }
    l
}

/// Bytes an element of `len` bytes takes in a node.
fn framed_len(len: usize) -> usize {
    len + 2 * varint_len(len)
}

fn put_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn frame(out: &mut Vec<u8>, data: &[u8]) {
    let start = out.len();
    put_varint(out, data.len());
    let hdr = out.len() - start;
    out.extend_from_slice(data);
    // The trailer is the header's bytes in reverse, read backwards from the element's end.
    for i in (0..hdr).rev() {
        let b = out[start + i];
        out.push(b);
    }
}

fn framed(data: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(framed_len(data.len()));
    frame(&mut v, data);
    v
}

/// One packed node.
#[derive(Clone, Debug, Default, PartialEq)]
struct Node {
    buf: Vec<u8>,
    count: u32,
}

impl Node {
    /// The element starting at byte `pos`: (data start, data end, next element's start).
    #[inline]
    fn at(&self, pos: usize) -> (usize, usize, usize) {
        let (mut n, mut shift, mut p) = (0usize, 0, pos);
        loop {
            let b = self.buf[p];
            p += 1;
            n |= ((b & 0x7f) as usize) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        let hdr = p - pos;
        (p, p + n, p + n + hdr)
    }

    /// The element ending at byte `end`: (element start, data start, data end).
    #[inline]
    fn before(&self, end: usize) -> (usize, usize, usize) {
        let (mut n, mut shift, mut p) = (0usize, 0, end);
        loop {
            p -= 1;
            let b = self.buf[p];
            n |= ((b & 0x7f) as usize) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        let hdr = end - p;
        let ds = p - n;
        (ds - hdr, ds, p)
    }

    /// Byte offset of element `i` (0 ≤ i ≤ count), walking from the nearer end.
    fn offset_of(&self, i: usize) -> usize {
        let count = self.count as usize;
        if i <= count / 2 {
            let mut pos = 0;
            for _ in 0..i {
                pos = self.at(pos).2;
            }
            pos
        } else {
            let mut pos = self.buf.len();
            for _ in i..count {
                pos = self.before(pos).0;
            }
            pos
        }
    }

    fn get(&self, i: usize) -> &[u8] {
        let (s, e, _) = self.at(self.offset_of(i));
        &self.buf[s..e]
    }

    fn fits(&self, add: usize, fill: Fill) -> bool {
        self.count == 0 || (self.buf.len() + add <= fill.max_bytes && (self.count as usize) < fill.max_count)
    }

    /// Splits off the second half of the elements into a new node.
    fn split(&mut self) -> Node {
        let half = self.count as usize / 2;
        let off = self.offset_of(half);
        let tail = Node { buf: self.buf[off..].to_vec(), count: self.count - half as u32 };
        self.buf.truncate(off);
        self.buf.shrink_to_fit();
        self.count = half as u32;
        tail
    }
}

/// A list of byte strings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct List {
    nodes: VecDeque<Node>,
    len: usize,
    /// Reported as `quicklist` (see the module comment).
    quick: bool,
}

impl List {
    pub fn new() -> List {
        List::default()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `OBJECT ENCODING`.
    pub fn encoding(&self) -> &'static str {
        if self.quick {
            "quicklist"
        } else {
            "listpack"
        }
    }

    /// Bytes of element storage (nodes' capacity), for memory reporting.
    pub fn allocated(&self) -> usize {
        self.nodes.iter().map(|n| n.buf.capacity() + std::mem::size_of::<Node>()).sum()
    }

    /// Updates the reported encoding after a change (Redis's conversion rules).
    fn settle(&mut self, fill: Fill) {
        if self.nodes.len() > 1 {
            self.quick = true;
        } else if self.quick {
            let (bytes, count) = self.nodes.front().map_or((0, 0), |n| (n.buf.len(), n.count as usize));
            if bytes * 2 <= fill.max_bytes && count * 2 <= fill.max_count {
                self.quick = false;
            }
        }
    }

    /// Capacity for a new end node: a list that already filled a node is growing, so the new
    /// node gets its full size at once (no chain of doubling reallocations, which fragments the
    /// heap); a list's first node starts small.
    fn node_capacity(&self, add: usize, fill: Fill) -> usize {
        if self.nodes.is_empty() || fill.max_bytes > 16 * 1024 {
            add
        } else {
            fill.max_bytes.max(add)
        }
    }

    pub fn push_back(&mut self, data: &[u8], fill: Fill) {
        let add = framed_len(data.len());
        match self.nodes.back_mut() {
            Some(n) if n.fits(add, fill) => {
                frame(&mut n.buf, data);
                n.count += 1;
            }
            _ => {
                let mut n = Node { buf: Vec::with_capacity(self.node_capacity(add, fill)), count: 1 };
                frame(&mut n.buf, data);
                self.nodes.push_back(n);
            }
        }
        self.len += 1;
        self.settle(fill);
    }

    pub fn push_front(&mut self, data: &[u8], fill: Fill) {
        let add = framed_len(data.len());
        match self.nodes.front_mut() {
            Some(n) if n.fits(add, fill) => {
                n.buf.splice(0..0, framed(data));
                n.count += 1;
            }
            _ => {
                let mut buf = Vec::with_capacity(self.node_capacity(add, fill));
                frame(&mut buf, data);
                self.nodes.push_front(Node { buf, count: 1 });
            }
        }
        self.len += 1;
        self.settle(fill);
    }

    pub fn pop_front(&mut self, fill: Fill) -> Option<Vec<u8>> {
        let n = self.nodes.front_mut()?;
        let (s, e, next) = n.at(0);
        let v = n.buf[s..e].to_vec();
        n.buf.drain(..next);
        n.count -= 1;
        if n.count == 0 {
            self.nodes.pop_front();
        }
        self.len -= 1;
        self.settle(fill);
        Some(v)
    }

    pub fn pop_back(&mut self, fill: Fill) -> Option<Vec<u8>> {
        let n = self.nodes.back_mut()?;
        let (start, s, e) = n.before(n.buf.len());
        let v = n.buf[s..e].to_vec();
        n.buf.truncate(start);
        n.count -= 1;
        if n.count == 0 {
            self.nodes.pop_back();
        }
        self.len -= 1;
        self.settle(fill);
        Some(v)
    }

    /// (node index, index within node) of element `i < len`, walking from the nearer end.
    fn locate(&self, i: usize) -> (usize, usize) {
        debug_assert!(i < self.len);
        if i < self.len / 2 {
            let mut i = i;
            for (ni, n) in self.nodes.iter().enumerate() {
                if i < n.count as usize {
                    return (ni, i);
                }
                i -= n.count as usize;
            }
        } else {
            let mut from_end = self.len - 1 - i;
            for (ni, n) in self.nodes.iter().enumerate().rev() {
                if from_end < n.count as usize {
                    return (ni, n.count as usize - 1 - from_end);
                }
                from_end -= n.count as usize;
            }
        }
        unreachable!("index within length")
    }

    /// Element `i` (0-based from the head).
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        if i >= self.len {
            return None;
        }
        let (ni, j) = self.locate(i);
        Some(self.nodes[ni].get(j))
    }

    /// Replaces element `i`; false if out of range.
    pub fn set(&mut self, i: usize, data: &[u8], fill: Fill) -> bool {
        if i >= self.len {
            return false;
        }
        let (ni, j) = self.locate(i);
        let n = &mut self.nodes[ni];
        let off = n.offset_of(j);
        let next = n.at(off).2;
        n.buf.splice(off..next, framed(data));
        self.fix_oversized(ni, fill);
        self.settle(fill);
        true
    }

    /// Inserts `data` so that it becomes element `i` (0 ≤ i ≤ len).
    pub fn insert(&mut self, i: usize, data: &[u8], fill: Fill) {
        if i == 0 {
            return self.push_front(data, fill);
        }
        if i == self.len {
            return self.push_back(data, fill);
        }
        let (ni, j) = self.locate(i);
        let n = &mut self.nodes[ni];
        let off = n.offset_of(j);
        n.buf.splice(off..off, framed(data));
        n.count += 1;
        self.len += 1;
        self.fix_oversized(ni, fill);
        self.settle(fill);
    }

    /// Splits node `ni` while it holds more than one element and exceeds the limits.
    fn fix_oversized(&mut self, ni: usize, fill: Fill) {
        let n = &mut self.nodes[ni];
        if n.count <= 1 || (n.buf.len() <= fill.max_bytes && n.count as usize <= fill.max_count) {
            return;
        }
        let tail = n.split();
        self.nodes.insert(ni + 1, tail);
        // Halving: the recursion depth is logarithmic in the node size.
        self.fix_oversized(ni + 1, fill);
        self.fix_oversized(ni, fill);
    }

    /// Merges small neighbours around node `ni` (after removals in the middle).
    fn merge_around(&mut self, ni: usize, fill: Fill) {
        let can = |a: &Node, b: &Node| {
            a.buf.len() + b.buf.len() <= fill.max_bytes && (a.count + b.count) as usize <= fill.max_count
        };
        if ni + 1 < self.nodes.len() && can(&self.nodes[ni], &self.nodes[ni + 1]) {
            let b = self.nodes.remove(ni + 1).expect("neighbour");
            let a = &mut self.nodes[ni];
            a.buf.extend_from_slice(&b.buf);
            a.count += b.count;
        }
        if ni > 0 && ni < self.nodes.len() && can(&self.nodes[ni - 1], &self.nodes[ni]) {
            let b = self.nodes.remove(ni).expect("node");
            let a = &mut self.nodes[ni - 1];
            a.buf.extend_from_slice(&b.buf);
            a.count += b.count;
        }
    }

    /// Removes the first `n` elements.
    pub fn drop_front(&mut self, n: usize, fill: Fill) {
        let mut n = n.min(self.len);
        self.len -= n;
        while n > 0 {
            let node = self.nodes.front_mut().expect("elements left");
            if node.count as usize <= n {
                n -= node.count as usize;
                self.nodes.pop_front();
            } else {
                let off = node.offset_of(n);
                node.buf.drain(..off);
                node.count -= n as u32;
                n = 0;
            }
        }
        self.settle(fill);
    }

    /// Removes the last `n` elements.
    pub fn drop_back(&mut self, n: usize, fill: Fill) {
        let mut n = n.min(self.len);
        self.len -= n;
        while n > 0 {
            let node = self.nodes.back_mut().expect("elements left");
            if node.count as usize <= n {
                n -= node.count as usize;
                self.nodes.pop_back();
            } else {
                let keep = node.count as usize - n;
                let off = node.offset_of(keep);
                node.buf.truncate(off);
                node.count = keep as u32;
                n = 0;
            }
        }
        self.settle(fill);
    }

    /// LREM: removes up to `limit` elements equal to `elem` (0 = all), scanning from the tail
    /// when `from_tail`. Returns the number removed.
    pub fn remove_matching(&mut self, elem: &[u8], limit: usize, from_tail: bool, fill: Fill) -> usize {
        let mut removed = 0;
        let order: Vec<usize> =
            if from_tail { (0..self.nodes.len()).rev().collect() } else { (0..self.nodes.len()).collect() };
        let mut touched = Vec::new();
        for ni in order {
            if limit != 0 && removed >= limit {
                break;
            }
            let node = &self.nodes[ni];
            let mut spans = Vec::with_capacity(node.count as usize);
            let mut pos = 0;
            while pos < node.buf.len() {
                let (s, e, next) = node.at(pos);
                spans.push((pos, next, &node.buf[s..e] == elem));
                pos = next;
            }
            let mut drop = vec![false; spans.len()];
            let idx: Vec<usize> = if from_tail { (0..spans.len()).rev().collect() } else { (0..spans.len()).collect() };
            let mut any = false;
            for k in idx {
                if limit != 0 && removed >= limit {
                    break;
                }
                if spans[k].2 {
                    drop[k] = true;
                    removed += 1;
                    any = true;
                }
            }
            if any {
                let mut buf = Vec::with_capacity(node.buf.len());
                let mut count = 0;
                for (k, &(a, b, _)) in spans.iter().enumerate() {
                    if !drop[k] {
                        buf.extend_from_slice(&node.buf[a..b]);
                        count += 1;
                    }
                }
                self.nodes[ni] = Node { buf, count };
                touched.push(ni);
            }
        }
        self.len -= removed;
        if !touched.is_empty() {
            self.nodes.retain(|n| n.count > 0);
            // Merge pass over the whole list: cheap relative to the O(N) scan just done.
            let mut i = 0;
            while i < self.nodes.len() {
                let before = self.nodes.len();
                self.merge_around(i, fill);
                if self.nodes.len() == before {
                    i += 1;
                }
            }
        }
        self.settle(fill);
        removed
    }

    /// Elements from index `start` towards the tail.
    pub fn iter_from(&self, start: usize) -> Iter<'_> {
        if start >= self.len {
            return Iter { list: self, node: self.nodes.len(), pos: 0 };
        }
        let (ni, j) = self.locate(start);
        Iter { list: self, node: ni, pos: self.nodes[ni].offset_of(j) }
    }

    pub fn iter(&self) -> Iter<'_> {
        self.iter_from(0)
    }

    /// Elements from the tail towards the head.
    pub fn iter_rev(&self) -> RevIter<'_> {
        let node = self.nodes.len();
        RevIter { list: self, node, end: 0 }
    }
}

pub struct Iter<'a> {
    list: &'a List,
    node: usize,
    pos: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let nodes = &self.list.nodes;
        while self.node < nodes.len() {
            let n = &nodes[self.node];
            if self.pos < n.buf.len() {
                let (s, e, next) = n.at(self.pos);
                self.pos = next;
                return Some(&n.buf[s..e]);
            }
            self.node += 1;
            self.pos = 0;
        }
        None
    }
}

pub struct RevIter<'a> {
    list: &'a List,
    /// One past the node being read; `end` is the byte end of the next element within it.
    node: usize,
    end: usize,
}

impl<'a> Iterator for RevIter<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let nodes = &self.list.nodes;
        loop {
            if self.end == 0 {
                if self.node == 0 {
                    return None;
                }
                self.node -= 1;
                self.end = nodes[self.node].buf.len();
                continue;
            }
            let n = &nodes[self.node];
            let (start, s, e) = n.before(self.end);
            self.end = start;
            return Some(&n.buf[s..e]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn check(l: &List, m: &VecDeque<Vec<u8>>) {
        assert_eq!(l.len(), m.len());
        let fwd: Vec<&[u8]> = l.iter().collect();
        let want: Vec<&[u8]> = m.iter().map(|v| v.as_slice()).collect();
        assert_eq!(fwd, want);
        let mut rev: Vec<&[u8]> = l.iter_rev().collect();
        rev.reverse();
        assert_eq!(rev, want);
        assert_eq!(l.nodes.iter().map(|n| n.count as usize).sum::<usize>(), l.len());
        assert!(l.nodes.iter().all(|n| n.count > 0));
    }

    fn random_elem(rng: &mut impl Rng) -> Vec<u8> {
        let len = match rng.gen_range(0..10) {
            0 => rng.gen_range(100..400),
            1 => 0,
            _ => rng.gen_range(1..12),
        };
        (0..len).map(|_| rng.gen_range(b'a'..b'e')).collect()
    }

    #[test]
    fn randomised_against_vecdeque() {
        for (seed, fill) in [(1u64, Fill::from_config(-1)), (2, Fill::from_config(5)), (3, Fill::from_config(-2))] {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let mut l = List::new();
            let mut m: VecDeque<Vec<u8>> = VecDeque::new();
            for step in 0..6000 {
                let e = random_elem(&mut rng);
                match rng.gen_range(0..12) {
                    0 | 1 => {
                        l.push_back(&e, fill);
                        m.push_back(e);
                    }
                    2 | 3 => {
                        l.push_front(&e, fill);
                        m.push_front(e);
                    }
                    4 => assert_eq!(l.pop_front(fill), m.pop_front()),
                    5 => assert_eq!(l.pop_back(fill), m.pop_back()),
                    6 if !m.is_empty() => {
                        let i = rng.gen_range(0..m.len());
                        assert_eq!(l.get(i), Some(m[i].as_slice()));
                        assert!(l.set(i, &e, fill));
                        m[i] = e;
                    }
                    7 => {
                        let i = rng.gen_range(0..=m.len());
                        l.insert(i, &e, fill);
                        m.insert(i, e);
                    }
                    8 if step % 7 == 0 => {
                        let n = rng.gen_range(0..4);
                        let tail = rng.gen_bool(0.5);
                        let target = random_elem(&mut rng);
                        let mut removed = 0;
                        if tail {
                            let mut i = m.len();
                            while i > 0 && (n == 0 || removed < n) {
                                i -= 1;
                                if m[i] == target {
                                    m.remove(i);
                                    removed += 1;
                                }
                            }
                        } else {
                            let mut i = 0;
                            while i < m.len() && (n == 0 || removed < n) {
                                if m[i] == target {
                                    m.remove(i);
                                    removed += 1;
                                } else {
                                    i += 1;
                                }
                            }
                        }
                        assert_eq!(l.remove_matching(&target, n, tail, fill), removed);
                    }
                    9 if step % 11 == 0 => {
                        let a = rng.gen_range(0..=m.len().min(5));
                        let b = rng.gen_range(0..=(m.len() - a).min(5));
                        l.drop_front(a, fill);
                        l.drop_back(b, fill);
                        m.drain(..a);
                        m.truncate(m.len() - b);
                    }
                    10 if !m.is_empty() => {
                        let i = rng.gen_range(0..m.len());
                        let got: Vec<&[u8]> = l.iter_from(i).take(3).collect();
                        let want: Vec<&[u8]> = m.iter().skip(i).take(3).map(|v| v.as_slice()).collect();
                        assert_eq!(got, want);
                    }
                    _ => {}
                }
                if step % 50 == 0 {
                    check(&l, &m);
                }
                assert!(l.nodes.iter().all(|n| n.count == 1 || n.buf.len() <= fill.max_bytes));
            }
            check(&l, &m);
        }
    }

    #[test]
    fn encoding_switches_with_hysteresis() {
        let fill = Fill::from_config(4);
        let mut l = List::new();
        for i in 0..4 {
            l.push_back(format!("{i}").as_bytes(), fill);
        }
        assert_eq!(l.encoding(), "listpack");
        l.push_back(b"x", fill);
        assert_eq!(l.encoding(), "quicklist");
        l.pop_back(fill);
        l.pop_back(fill);
        assert_eq!(l.encoding(), "quicklist", "3 of 4 is more than half");
        l.pop_back(fill);
        assert_eq!(l.encoding(), "listpack");
    }

    #[test]
    fn long_elements_round_trip() {
        let fill = Fill::default();
        let mut l = List::new();
        let big = vec![7u8; 100_000];
        l.push_back(b"a", fill);
        l.push_back(&big, fill);
        l.push_front(&big, fill);
        assert_eq!(l.get(1), Some(&b"a"[..]));
        assert_eq!(l.pop_back(fill).unwrap(), big);
        assert_eq!(l.pop_front(fill).unwrap(), big);
        assert_eq!(l.pop_front(fill).unwrap(), b"a");
        assert!(l.is_empty() && l.nodes.is_empty());
    }
}
