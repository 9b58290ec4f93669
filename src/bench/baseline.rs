//! The suite's bare reference kernel (`bench/phold/rust-baseline`), ported verbatim so
//! `secsim bench phold --compare` measures it in the same process, on the same machine
//! state, with the same parameters.
//!
//! ```text
//!   loop { ev = fes.pop(); count; draw u1 [u2] u3 at ev.lp; fes.push(Ev { t + d, seq++, dest }) }
//! ```
//!
//! No framework: a pending-event set of 24-byte `Copy` events `(time, seq, lp)` ordered by
//! `(time, seq)`, LP state in a flat `Vec`, no boxing, no `dyn`, no allocation per event.
//! The model, RNG draws and output line are those of [`super::phold`], so the digest of
//! every variant equals secsim's.
//!
//! Pending-event sets ([`BaselineQueue`]), all giving the identical order:
//! - `binary`: `std::collections::BinaryHeap`, pre-sized (the suite's baseline);
//! - `quad`: a hand-written 4-ary implicit heap;
//! - `radix`: a radix heap on the u128 key `time << 64 | seq` (129 growable `Vec` buckets),
//!   valid because a DES never schedules into the past.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::time::Instant;

use super::phold::{Params, Report, SplitMix64};

/// The reference kernel's pending-event set.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum BaselineQueue {
    Binary,
    Quad,
    Radix,
}

impl BaselineQueue {
    /// The short name used in ratio lines.
    pub fn name(self) -> &'static str {
        match self {
            BaselineQueue::Binary => "binary",
            BaselineQueue::Quad => "quad",
            BaselineQueue::Radix => "radix",
        }
    }
}

/// 24 bytes (16 key + 4 payload + padding).
#[derive(Clone, Copy)]
struct Ev {
    time: u64,
    seq: u64,
    lp: u32,
}

impl PartialEq for Ev {
    fn eq(&self, o: &Self) -> bool {
        self.time == o.time && self.seq == o.seq
    }
}
impl Eq for Ev {}
impl PartialOrd for Ev {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Ev {
    #[inline(always)]
    fn cmp(&self, o: &Self) -> Ordering {
        // Reversed: BinaryHeap is a max-heap, we want the earliest (time, seq).
        (o.time, o.seq).cmp(&(self.time, self.seq))
    }
}

/// Minimal interface shared by the pending-event-set variants.
trait Fes {
    fn push(&mut self, ev: Ev);
    fn pop(&mut self) -> Option<Ev>;
}

struct StdBinary(BinaryHeap<Ev>);

impl Fes for StdBinary {
    #[inline(always)]
    fn push(&mut self, ev: Ev) {
        self.0.push(ev)
    }
    #[inline(always)]
    fn pop(&mut self) -> Option<Ev> {
        self.0.pop()
    }
}

/// 4-ary min-heap on (time, seq).
struct QuadHeap(Vec<Ev>);

#[inline(always)]
fn before(a: &Ev, b: &Ev) -> bool {
    (a.time, a.seq) < (b.time, b.seq)
}

impl Fes for QuadHeap {
    #[inline(always)]
    fn push(&mut self, ev: Ev) {
        let v = &mut self.0;
        let mut i = v.len();
        v.push(ev);
        while i > 0 {
            let parent = (i - 1) / 4;
            if !before(&ev, &v[parent]) {
                break;
            }
            v[i] = v[parent];
            i = parent;
        }
        v[i] = ev;
    }
    #[inline(always)]
    fn pop(&mut self) -> Option<Ev> {
        let v = &mut self.0;
        let last = v.pop()?;
        if v.is_empty() {
            return Some(last);
        }
        let top = v[0];
        let n = v.len();
        let mut i = 0;
        loop {
            let c = 4 * i + 1;
            if c >= n {
                break;
            }
            let end = (c + 4).min(n);
            let mut m = c;
            for j in c + 1..end {
                if before(&v[j], &v[m]) {
                    m = j;
                }
            }
            if !before(&v[m], &last) {
                break;
            }
            v[i] = v[m];
            i = m;
        }
        v[i] = last;
        Some(top)
    }
}

/// Radix heap (monotone priority queue) on the 128-bit key time<<64|seq.
/// Bucket b holds keys whose highest bit differing from `last` is b-1.
struct RadixHeap {
    last: u128,
    len: usize,
    buckets: Vec<Vec<Ev>>,
}

#[inline(always)]
fn key(ev: &Ev) -> u128 {
    ((ev.time as u128) << 64) | ev.seq as u128
}

impl RadixHeap {
    fn new() -> Self {
        RadixHeap {
            last: 0,
            len: 0,
            buckets: (0..129).map(|_| Vec::new()).collect(),
        }
    }
    #[inline(always)]
    fn bucket(&self, k: u128) -> usize {
        (128 - (k ^ self.last).leading_zeros()) as usize
    }
}

impl Fes for RadixHeap {
    #[inline(always)]
    fn push(&mut self, ev: Ev) {
        let b = self.bucket(key(&ev));
        self.buckets[b].push(ev);
        self.len += 1;
    }
    #[inline(always)]
    fn pop(&mut self) -> Option<Ev> {
        if self.len == 0 {
            return None;
        }
        if self.buckets[0].is_empty() {
            // Invariant: len > 0 and bucket 0 is empty, so some higher bucket holds an entry.
            let b = (1..129).find(|&b| !self.buckets[b].is_empty())?;
            let items = std::mem::take(&mut self.buckets[b]);
            self.last = items.iter().map(key).min()?;
            for ev in &items {
                let nb = self.bucket(key(ev));
                self.buckets[nb].push(*ev);
            }
            // Give the (now empty) allocation back to its bucket for reuse.
            let mut items = items;
            items.clear();
            self.buckets[b] = items;
        }
        self.len -= 1;
        // Bucket 0 holds only keys equal to `last`; keys are unique (seq), so one item.
        self.buckets[0].pop()
    }
}

/// Runs the reference kernel with the pending-event set `queue`.
pub fn run(p: &Params, queue: BaselineQueue) -> Report {
    let cap = p.pending();
    match queue {
        BaselineQueue::Binary => kernel(p, "rust-binaryheap", StdBinary(BinaryHeap::with_capacity(cap))),
        BaselineQueue::Quad => kernel(p, "rust-quadheap", QuadHeap(Vec::with_capacity(cap))),
        BaselineQueue::Radix => kernel(p, "rust-radixheap", RadixHeap::new()),
    }
}

/// The whole simulation kernel: pop, handle, push. Monomorphised per queue.
fn kernel<Q: Fes>(p: &Params, name: &str, mut fes: Q) -> Report {
    let start = Instant::now();

    let mut rngs: Vec<SplitMix64> = (0..p.lps as u64).map(|i| SplitMix64::for_lp(p.seed, i)).collect();
    let mut seq: u64 = 0;
    for (lp, rng) in rngs.iter_mut().enumerate() {
        for _ in 0..p.init {
            let t = p.delay(rng);
            fes.push(Ev {
                time: t,
                seq,
                lp: lp as u32,
            });
            seq += 1;
        }
    }

    let setup_s = start.elapsed().as_secs_f64();
    let run_start = Instant::now();
    let n = p.lps as f64;
    let mut processed: u64 = 0;
    let mut digest: u64 = 0;
    let mut now: u64 = 0;
    while processed < p.events {
        let Some(ev) = fes.pop() else { break };
        now = ev.time;
        let lp = ev.lp as usize;
        processed += 1;
        digest = digest.wrapping_add(now.wrapping_mul(2 * lp as u64 + 1));
        let rng = &mut rngs[lp];
        let dest = if rng.uniform() < p.remote {
            ((rng.uniform() * n) as usize).min(p.lps - 1)
        } else {
            lp
        };
        let t = now + p.delay(rng);
        fes.push(Ev {
            time: t,
            seq,
            lp: dest as u32,
        });
        seq += 1;
    }

    let wall_s = run_start.elapsed().as_secs_f64();
    Report {
        engine: name.to_string(),
        events: processed,
        wall_s,
        sim_end_ticks: now,
        digest,
        setup_s,
    }
}
