//! The pending-event set: events ordered by (time, insertion sequence).
//!
//! ```text
//!   push(time, target, slot) ──► [ bucket 0 | 1 | 2 | ... | 64 ] ──► pop() earliest, FIFO on ties
//!                                  ▲ keys equal to `last` (FIFO cursor)
//! ```
//!
//! [`RadixQueue`] (the default) is a *stable* radix heap on the 64-bit time. A discrete-event
//! simulation never schedules into the past, so keys are monotone and bucket `b` holds the
//! entries whose highest bit differing from the last popped time is `b - 1`. Each bucket is
//! kept in insertion order: pushes append (they carry the newest sequence number), and a
//! bucket is only redistributed when every lower bucket is empty, so its stable split keeps
//! that order. Ties are thus popped first-in first-out without storing a sequence number,
//! and an entry is 16 bytes. Buckets are chains of fixed-size chunks drawn from one shared
//! free list, so memory follows the number of pending events (no per-bucket `Vec` slack).
//! Events scheduled at "now" land in bucket 0 and leave by its FIFO cursor: the zero-delay
//! fast path costs no ordering work.
//!
//! [`BinaryQueue`] is `std::collections::BinaryHeap` with an explicit sequence number: the
//! reference that tests check the radix queue against, and a baseline for benches.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// One pending event as the queue sees it [16 bytes].
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct Entry {
    /// When the event fires [ns].
    pub time: u64,
    /// The actor (or logical process) it is for.
    pub target: u32,
    /// A handle to the event's payload, owned by the caller (a slab index).
    pub slot: u32,
}

/// A pending-event set. Implementations must pop in (time, insertion order) order and may
/// assume that no entry is pushed with a time earlier than the last popped one.
pub trait EventQueue {
    fn push(&mut self, e: Entry);
    fn pop(&mut self) -> Option<Entry>;
    /// The earliest time pending, without removing it.
    fn peek_time(&mut self) -> Option<u64>;
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

const CHUNK: usize = 256;
const BUCKETS: usize = 65;
const NONE: u32 = u32::MAX;

type Chunk = Box<[Entry; CHUNK]>;

#[derive(Clone, Copy, Debug)]
struct Bucket {
    /// First and last chunk of the chain (NONE when empty).
    head_chunk: u32,
    tail_chunk: u32,
    /// Entries written into the tail chunk.
    tail_len: u32,
    /// Entries consumed from the head chunk (bucket 0's FIFO cursor).
    head_pos: u32,
    /// Entries in the bucket.
    len: u32,
}

impl Bucket {
    const EMPTY: Bucket = Bucket {
        head_chunk: NONE,
        tail_chunk: NONE,
        tail_len: 0,
        head_pos: 0,
        len: 0,
    };
}

/// Stable, chunked radix heap on the 64-bit time (see the module doc).
pub struct RadixQueue {
    last: u64,
    len: usize,
    /// Bit b set when bucket b is non-empty.
    nonempty: u128,
    buckets: [Bucket; BUCKETS],
    chunks: Vec<Chunk>,
    /// Next chunk in a chain, per chunk.
    next: Vec<u32>,
    free: Vec<u32>,
}

impl Default for RadixQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl RadixQueue {
    pub fn new() -> Self {
        RadixQueue {
            last: 0,
            len: 0,
            nonempty: 0,
            buckets: [Bucket::EMPTY; BUCKETS],
            chunks: Vec::new(),
            next: Vec::new(),
            free: Vec::new(),
        }
    }

    /// Pre-allocates room for `n` entries (setup of large initial populations).
    pub fn with_capacity(n: usize) -> Self {
        let mut q = Self::new();
        let want = n.div_ceil(CHUNK) + BUCKETS;
        q.chunks.reserve(want);
        q.next.reserve(want);
        q.free.reserve(want);
        for _ in 0..want {
            let id = q.new_chunk();
            q.free.push(id);
        }
        q
    }

    /// Bytes held by the queue's chunks (for memory accounting).
    pub fn allocated_bytes(&self) -> usize {
        self.chunks.len() * (CHUNK * std::mem::size_of::<Entry>() + 4)
    }

    #[inline(always)]
    fn bucket_of(&self, time: u64) -> usize {
        (64 - (time ^ self.last).leading_zeros()) as usize
    }

    fn new_chunk(&mut self) -> u32 {
        let id = self.chunks.len() as u32;
        self.chunks.push(Box::new([Entry::default(); CHUNK]));
        self.next.push(NONE);
        id
    }

    #[inline(always)]
    fn take_chunk(&mut self) -> u32 {
        match self.free.pop() {
            Some(id) => id,
            None => self.new_chunk(),
        }
    }

    #[inline(always)]
    fn append(&mut self, b: usize, e: Entry) {
        let bucket = self.buckets[b];
        if bucket.tail_chunk == NONE || bucket.tail_len as usize == CHUNK {
            let id = self.take_chunk();
            self.next[id as usize] = NONE;
            let bk = &mut self.buckets[b];
            if bk.tail_chunk == NONE {
                bk.head_chunk = id;
                bk.head_pos = 0;
            } else {
                self.next[bk.tail_chunk as usize] = id;
            }
            bk.tail_chunk = id;
            bk.tail_len = 0;
        }
        let bk = &mut self.buckets[b];
        self.chunks[bk.tail_chunk as usize][bk.tail_len as usize] = e;
        bk.tail_len += 1;
        bk.len += 1;
        self.nonempty |= 1u128 << b;
    }

    /// Refills bucket 0 from the lowest non-empty bucket. Precondition: bucket 0 is empty
    /// and the queue is not.
    #[cold]
    #[inline(never)]
    fn refill(&mut self) {
        // Invariant: the queue is non-empty, so some bit is set; bucket 0 is empty.
        let b = self.nonempty.trailing_zeros() as usize;
        debug_assert!(b > 0 && b < BUCKETS);
        let src = self.buckets[b];
        self.buckets[b] = Bucket::EMPTY;
        self.nonempty &= !(1u128 << b);
        // Pass 1: the minimum time becomes the new `last`.
        let mut min = u64::MAX;
        let mut c = src.head_chunk;
        let mut pos = src.head_pos as usize;
        let mut remaining = src.len as usize;
        while remaining > 0 {
            let chunk = &self.chunks[c as usize];
            let end = (pos + remaining).min(CHUNK);
            for e in &chunk[pos..end] {
                min = min.min(e.time);
            }
            remaining -= end - pos;
            c = self.next[c as usize];
            pos = 0;
        }
        self.last = min;
        // Pass 2: a stable split into lower buckets; each source chunk is freed once read.
        let mut c = src.head_chunk;
        let mut pos = src.head_pos as usize;
        let mut remaining = src.len as usize;
        while remaining > 0 {
            let end = (pos + remaining).min(CHUNK);
            for i in pos..end {
                let e = self.chunks[c as usize][i];
                let nb = self.bucket_of(e.time);
                self.append(nb, e);
            }
            remaining -= end - pos;
            let next = self.next[c as usize];
            self.free.push(c);
            c = next;
            pos = 0;
        }
        // Chunks of the chain past the data (none: tail chunk is the last one read).
        debug_assert!(c == NONE || src.len == 0);
    }

    fn release_bucket0(&mut self) {
        let bk = self.buckets[0];
        let mut c = bk.head_chunk;
        while c != NONE {
            let next = self.next[c as usize];
            self.free.push(c);
            c = next;
        }
        self.buckets[0] = Bucket::EMPTY;
        self.nonempty &= !1;
    }
}

impl EventQueue for RadixQueue {
    #[inline(always)]
    fn push(&mut self, e: Entry) {
        debug_assert!(e.time >= self.last, "event scheduled into the past");
        let b = self.bucket_of(e.time);
        self.append(b, e);
        self.len += 1;
    }

    #[inline(always)]
    fn pop(&mut self) -> Option<Entry> {
        if self.len == 0 {
            return None;
        }
        if self.buckets[0].len == 0 {
            self.refill();
        }
        let bk = &mut self.buckets[0];
        let e = self.chunks[bk.head_chunk as usize][bk.head_pos as usize];
        bk.head_pos += 1;
        bk.len -= 1;
        self.len -= 1;
        if bk.len == 0 {
            self.release_bucket0();
        } else if bk.head_pos as usize == CHUNK {
            let old = bk.head_chunk;
            bk.head_chunk = self.next[old as usize];
            bk.head_pos = 0;
            self.free.push(old);
        }
        Some(e)
    }

    fn peek_time(&mut self) -> Option<u64> {
        if self.len == 0 {
            return None;
        }
        if self.buckets[0].len == 0 {
            self.refill();
        }
        let bk = &self.buckets[0];
        Some(self.chunks[bk.head_chunk as usize][bk.head_pos as usize].time)
    }

    #[inline(always)]
    fn len(&self) -> usize {
        self.len
    }
}

#[derive(Clone, Copy, Eq, PartialEq)]
struct Keyed {
    time: u64,
    seq: u64,
    target: u32,
    slot: u32,
}

impl Ord for Keyed {
    #[inline(always)]
    fn cmp(&self, o: &Self) -> Ordering {
        // Reversed: BinaryHeap is a max-heap and we want the earliest (time, seq).
        (o.time, o.seq).cmp(&(self.time, self.seq))
    }
}
impl PartialOrd for Keyed {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

/// `std::collections::BinaryHeap` keyed by (time, seq): the reference implementation.
#[derive(Default)]
pub struct BinaryQueue {
    heap: BinaryHeap<Keyed>,
    seq: u64,
}

impl BinaryQueue {
    pub fn with_capacity(n: usize) -> Self {
        BinaryQueue {
            heap: BinaryHeap::with_capacity(n),
            seq: 0,
        }
    }
}

impl EventQueue for BinaryQueue {
    #[inline(always)]
    fn push(&mut self, e: Entry) {
        self.heap.push(Keyed {
            time: e.time,
            seq: self.seq,
            target: e.target,
            slot: e.slot,
        });
        self.seq += 1;
    }
    #[inline(always)]
    fn pop(&mut self) -> Option<Entry> {
        self.heap.pop().map(|k| Entry {
            time: k.time,
            target: k.target,
            slot: k.slot,
        })
    }
    fn peek_time(&mut self) -> Option<u64> {
        self.heap.peek().map(|k| k.time)
    }
    fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn entry_is_16_bytes() {
        assert_eq!(std::mem::size_of::<Entry>(), 16);
    }

    #[test]
    fn pops_by_time_then_fifo() {
        let mut q = RadixQueue::new();
        q.push(Entry {
            time: 5,
            target: 0,
            slot: 0,
        });
        q.push(Entry {
            time: 3,
            target: 1,
            slot: 1,
        });
        q.push(Entry {
            time: 5,
            target: 2,
            slot: 2,
        });
        q.push(Entry {
            time: 3,
            target: 3,
            slot: 3,
        });
        let order: Vec<u32> = std::iter::from_fn(|| q.pop()).map(|e| e.slot).collect();
        assert_eq!(order, vec![1, 3, 0, 2]);
    }

    /// The radix queue pops exactly what the reference heap pops, ties included, over a
    /// random workload of interleaved pushes (some at "now") and pops.
    #[test]
    fn radix_matches_binary_heap() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut a = RadixQueue::new();
        let mut b = BinaryQueue::default();
        let mut now = 0u64;
        let mut slot = 0u32;
        for step in 0..200_000u32 {
            let push = a.is_empty() || rng.random_bool(0.52);
            if push {
                let dt = match rng.random_range(0..4) {
                    0 => 0,
                    1 => rng.random_range(0..4),
                    2 => rng.random_range(0..1_000),
                    _ => rng.random_range(0..1_000_000_000),
                };
                let e = Entry {
                    time: now + dt,
                    target: step,
                    slot,
                };
                slot += 1;
                a.push(e);
                b.push(e);
            } else {
                assert_eq!(a.peek_time(), b.peek_time());
                let (x, y) = (a.pop(), b.pop());
                assert_eq!(x, y);
                now = x.unwrap().time;
            }
            assert_eq!(a.len(), b.len());
        }
        while let Some(y) = b.pop() {
            assert_eq!(a.pop(), Some(y));
        }
        assert_eq!(a.pop(), None);
    }

    #[test]
    fn memory_follows_pending_count() {
        let mut q = RadixQueue::new();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for i in 0..100_000u32 {
            q.push(Entry {
                time: rng.random_range(0..1u64 << 40),
                target: 0,
                slot: i,
            });
        }
        // Churn: pop one, push one later, many times.
        for i in 0..300_000u32 {
            let e = q.pop().unwrap();
            q.push(Entry {
                time: e.time + rng.random_range(0..1u64 << 30),
                target: 0,
                slot: i,
            });
        }
        let per_entry = q.allocated_bytes() as f64 / q.len() as f64;
        assert!(per_entry < 24.0, "{per_entry} bytes per pending entry");
    }
}
