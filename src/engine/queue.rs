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
//! and an entry is 16 bytes. Buckets are chains of fixed-size chunks of one arena, drawn
//! from one shared free list, so memory follows the number of pending events (no per-bucket
//! `Vec` slack). Each bucket tracks its smallest time as entries arrive, so a refill is a
//! single pass over the bucket it splits.
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
    /// When the event fires \[ns\].
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
/// Entries a refill moves into buckets `0..=SOON_BITS` are reported by
/// [`RadixQueue::pop_hinting`]: they are at most `2^SOON_BITS` ns after the new minimum.
const SOON_BITS: usize = 16;

#[derive(Clone, Copy, Debug)]
struct Bucket {
    /// Smallest time in the bucket (`u64::MAX` when empty): the next `last` on refill.
    min: u64,
    /// Arena index of the next entry to read (bucket 0's FIFO cursor; else the chain's
    /// first entry).
    head: u32,
    /// Arena index where the next entry goes; a multiple of `CHUNK` when the tail chunk is
    /// full or the bucket has none (empty buckets keep 0).
    tail: u32,
    /// Entries in the bucket.
    len: u32,
}

impl Bucket {
    const EMPTY: Bucket = Bucket {
        min: u64::MAX,
        head: 0,
        tail: 0,
        len: 0,
    };
}

/// Stable, chunked radix heap on the 64-bit time (see the module doc).
///
/// All chunks live in one arena (`entries`, chunk `c` is `entries[c*CHUNK..(c+1)*CHUNK]`),
/// so reaching an entry is one index, and a bucket is a chain of chunks linked by `next`.
pub struct RadixQueue {
    last: u64,
    len: usize,
    /// Bit b set when bucket b is non-empty.
    nonempty: u128,
    buckets: [Bucket; BUCKETS],
    entries: Vec<Entry>,
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
            entries: Vec::new(),
            next: Vec::new(),
            free: Vec::new(),
        }
    }

    /// Pre-allocates room for `n` entries (setup of large initial populations).
    pub fn with_capacity(n: usize) -> Self {
        let mut q = Self::new();
        let want = n.div_ceil(CHUNK) + BUCKETS;
        q.entries.reserve_exact(want * CHUNK);
        q.next.reserve_exact(want);
        q.free.reserve_exact(want);
        for _ in 0..want {
            let id = q.new_chunk();
            q.free.push(id);
        }
        // Hand out low chunks first.
        q.free.reverse();
        q
    }

    /// Bytes held by the queue's chunks (for memory accounting).
    pub fn allocated_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<Entry>()
            + (self.next.capacity() + self.free.capacity()) * std::mem::size_of::<u32>()
    }

    #[inline(always)]
    fn bucket_of(&self, time: u64) -> usize {
        (64 - (time ^ self.last).leading_zeros()) as usize
    }

    #[cold]
    #[inline(never)]
    fn new_chunk(&mut self) -> u32 {
        let id = self.next.len();
        // Chunk indices times CHUNK must fit the u32 arena index.
        assert!((id + 1) * CHUNK < NONE as usize, "radix queue arena full");
        if self.entries.capacity() - self.entries.len() < CHUNK {
            // Grow by an eighth (whole chunks), not double: memory follows the pending
            // count (a large arena is remapped, not copied, by the allocator).
            let more = (self.entries.len() / 8).max(16 * CHUNK).next_multiple_of(CHUNK);
            self.entries.reserve_exact(more);
            self.next.reserve_exact(more / CHUNK);
        }
        self.entries.resize(self.entries.len() + CHUNK, Entry::default());
        self.next.push(NONE);
        id as u32
    }

    #[inline(always)]
    fn take_chunk(&mut self) -> u32 {
        match self.free.pop() {
            Some(id) => id,
            None => self.new_chunk(),
        }
    }

    /// Appends `e` to bucket `b` (does not touch `len` or `nonempty`).
    #[inline(always)]
    fn append(&mut self, b: usize, e: Entry) {
        let mut bk = self.buckets[b];
        if (bk.tail as usize).is_multiple_of(CHUNK) {
            self.link_chunk(&mut bk);
        }
        self.entries[bk.tail as usize] = e;
        bk.tail += 1;
        bk.len += 1;
        bk.min = bk.min.min(e.time);
        self.buckets[b] = bk;
    }

    /// Gives `bk` a fresh tail chunk (its tail chunk is full, or it has none).
    #[inline(always)]
    fn link_chunk(&mut self, bk: &mut Bucket) {
        let id = self.take_chunk();
        self.next[id as usize] = NONE;
        let at = id * CHUNK as u32;
        if bk.len == 0 {
            bk.head = at;
        } else {
            self.next[(bk.tail as usize - 1) / CHUNK] = id;
        }
        bk.tail = at;
    }

    /// Pops like [`EventQueue::pop`], and calls `soon` with the slot of every entry that a
    /// refill moves close to the front (within `2^SOON_BITS` ns of the new minimum), so the
    /// caller can prefetch its payload before the entry is popped.
    #[inline(always)]
    pub(crate) fn pop_hinting(&mut self, soon: impl FnMut(u32)) -> Option<Entry> {
        if self.len == 0 {
            return None;
        }
        if self.buckets[0].len == 0 {
            self.refill(soon);
        }
        Some(self.pop_front())
    }

    /// Takes bucket 0's first entry. Precondition: bucket 0 is not empty.
    #[inline(always)]
    fn pop_front(&mut self) -> Entry {
        let bk = &mut self.buckets[0];
        let e = self.entries[bk.head as usize];
        bk.head += 1;
        bk.len -= 1;
        self.len -= 1;
        if (bk.head as usize).is_multiple_of(CHUNK) || bk.len == 0 {
            if bk.len == 0 {
                self.release_bucket0();
            } else {
                let old = (bk.head - 1) / CHUNK as u32;
                bk.head = self.next[old as usize] * CHUNK as u32;
                self.free.push(old);
            }
        }
        e
    }

    /// Refills bucket 0 from the lowest non-empty bucket. Precondition: bucket 0 is empty
    /// and the queue is not.
    #[cold]
    #[inline(never)]
    fn refill(&mut self, mut soon: impl FnMut(u32)) {
        // Invariant: the queue is non-empty, so some bit is set; bucket 0 is empty.
        let b = self.nonempty.trailing_zeros() as usize;
        debug_assert!(b > 0 && b < BUCKETS);
        let src = self.buckets[b];
        self.buckets[b] = Bucket::EMPTY;
        self.last = src.min;
        // A stable split into lower buckets; each source chunk is freed once read. A bucket
        // other than 0 is never read before it is split, so its data starts at its head
        // chunk's first entry.
        let mut nonempty = self.nonempty & !(1u128 << b);
        let mut at = src.head as usize;
        let mut remaining = src.len as usize;
        while remaining > 0 {
            let n = remaining.min(CHUNK - at % CHUNK);
            for i in at..at + n {
                let e = self.entries[i];
                let nb = self.bucket_of(e.time);
                if nb <= SOON_BITS {
                    soon(e.slot);
                }
                nonempty |= 1u128 << nb;
                self.append(nb, e);
            }
            remaining -= n;
            let c = (at + n - 1) / CHUNK;
            self.free.push(c as u32);
            if remaining > 0 {
                at = self.next[c] as usize * CHUNK;
            }
        }
        self.nonempty = nonempty;
    }

    /// Frees bucket 0's last chunk once it is empty.
    #[inline(always)]
    fn release_bucket0(&mut self) {
        // Every earlier chunk was freed as the cursor left it, so only the chunk just read
        // (also the tail chunk) remains.
        let c = (self.buckets[0].head - 1) / CHUNK as u32;
        self.free.push(c);
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
        self.nonempty |= 1u128 << b;
        self.len += 1;
    }

    #[inline(always)]
    fn pop(&mut self) -> Option<Entry> {
        if self.len == 0 {
            return None;
        }
        if self.buckets[0].len == 0 {
            self.refill(|_| {});
        }
        Some(self.pop_front())
    }

    fn peek_time(&mut self) -> Option<u64> {
        if self.len == 0 {
            return None;
        }
        if self.buckets[0].len == 0 {
            self.refill(|_| {});
        }
        Some(self.entries[self.buckets[0].head as usize].time)
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

    /// Long runs of equal times cross chunk boundaries in bucket 0 while it is being read
    /// and written: the order must match the reference heap, and every chunk must come
    /// back to the free list.
    #[test]
    fn equal_times_match_reference_across_chunks() {
        let mut q = RadixQueue::new();
        let mut r = BinaryQueue::default();
        let mut slot = 0u32;
        let mut push = |q: &mut RadixQueue, r: &mut BinaryQueue, time: u64| {
            let e = Entry { time, target: 0, slot };
            slot += 1;
            q.push(e);
            r.push(e);
        };
        for round in 0..20u64 {
            for _ in 0..(3 * CHUNK + 7) {
                push(&mut q, &mut r, round);
            }
            // Pop two thirds, pushing one more at "now" for every third pop.
            for k in 0..2 * CHUNK {
                let e = q.pop().unwrap();
                assert_eq!(Some(e), r.pop());
                if k % 3 == 0 {
                    push(&mut q, &mut r, e.time);
                }
            }
        }
        while let Some(e) = r.pop() {
            assert_eq!(q.pop(), Some(e));
        }
        assert_eq!(q.pop(), None);
        assert_eq!(q.free.len(), q.next.len(), "chunks leaked");
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
