//! The event loop: pop the earliest event, jump the clock to it, hand it to the world.
//!
//! ```text
//!   Sim::schedule / Ctx::send / Ctx::set_timer
//!        │  payload → slab slot (reused via free list, generation-checked)
//!        ▼
//!   RadixQueue (time, FIFO) ──pop──► World::handle(ctx, Event) ──► more sends/timers
//! ```
//!
//! The engine knows nothing of networks or 3GPP: a [`World`] receives every event and
//! dispatches it to its actors (typically with a `match` on the target's kind), so there is
//! no per-event allocation and no `dyn` dispatch on the hot path. Payloads live in a slab of
//! slots addressed by a `u32`, so a queue entry is 16 bytes.
//!
//! The slab is split by field (struct of arrays) so that delivering an event touches as
//! little memory as it needs: the payloads (`Option<M>`, 1 byte for a unit payload), the
//! senders (loaded only if the world reads [`EventKind::Message`]'s `from`) and the timer
//! generations (touched only by timers). A queue entry's `slot` carries the timer flag in
//! its top bit, so a message never reads the generation array. With a million pending
//! events a random slab access is a cache miss per event, so this layout is what keeps the
//! engine close to the bare kernels there.
//!
//! Timers are events with a [`TimerId`] (slot + generation). [`Ctx::cancel`] is O(1): it
//! drops the payload and the entry is skipped when it reaches the front (lazy tombstone).
//!
//! A run is bounded by an end time and an event count ([`Limits`]); an event later than the
//! end time stays pending, so a run can be resumed with a later bound. The number of events
//! pending at once can be bounded too ([`Sim::limit_pending`]): a model that schedules
//! faster than it delivers stops with [`StopReason::PendingLimit`] instead of growing
//! without bound.
//!
//! With tracing on, every delivered event (time, target, source or timer) and every line a
//! world adds with [`Ctx::trace`] feed a SHA-256 whose value identifies the run.

use sha2::{Digest, Sha256};
use std::io::Write;

use super::queue::{Entry, EventQueue, RadixQueue};
use super::time::{SimDuration, SimTime};

/// An actor (or logical process) id, dense from 0, chosen by the world.
pub type ActorId = u32;

/// The sender of events that come from outside any actor (initial events).
pub const EXTERNAL: ActorId = u32::MAX;

/// Names a pending timer so it can be cancelled.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct TimerId {
    slot: u32,
    generation: u32,
}

/// What kind of event is delivered.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum EventKind {
    /// A message sent by an actor (or [`EXTERNAL`]).
    Message { from: ActorId },
    /// A timer set by the target itself (or for it).
    Timer(TimerId),
}

/// One event handed to the world.
#[derive(Debug)]
pub struct Event<M> {
    pub time: SimTime,
    pub to: ActorId,
    pub kind: EventKind,
    pub msg: M,
}

/// The model: receives every event and reacts through the [`Ctx`].
pub trait World {
    type Msg;
    fn handle(&mut self, ctx: &mut Ctx<'_, Self::Msg>, ev: Event<Self::Msg>);
}

/// Bounds of one call to [`Sim::run`].
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Events later than this stay pending.
    pub until: SimTime,
    /// Stop after this many delivered events (cancelled timers do not count).
    pub max_events: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            until: SimTime::MAX,
            max_events: u64::MAX,
        }
    }
}

/// Why [`Sim::run`] returned.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum StopReason {
    /// No event left.
    Exhausted,
    /// The next event is later than [`Limits::until`].
    TimeLimit,
    /// [`Limits::max_events`] events were delivered.
    EventLimit,
    /// An actor called [`Ctx::stop`].
    Stopped,
    /// Simulated time stopped advancing: [`Stall::events`] events in a row moved it by less
    /// than [`Stall::min_advance`] (only [`Sim::run_watched`] stops for this).
    Stalled,
    /// More events were pending at once than [`Sim::limit_pending`] allows (the event that
    /// crossed the bound is kept; the run stops after the event that scheduled it).
    PendingLimit,
    /// The world's bound on the records it holds in memory was reached. The engine never
    /// returns it: a world stops the run ([`Ctx::stop`]) and its driver reports this instead
    /// of [`StopReason::Stopped`] (`crate::run::MAX_RECORDS_IN_MEMORY`).
    RecordLimit,
}

impl StopReason {
    /// Every reason, in declaration order.
    pub const ALL: [StopReason; 7] = [
        StopReason::Exhausted,
        StopReason::TimeLimit,
        StopReason::EventLimit,
        StopReason::Stopped,
        StopReason::Stalled,
        StopReason::PendingLimit,
        StopReason::RecordLimit,
    ];

    /// Whether the run stopped before its end: at the event limit, stalled, or stopped by an
    /// actor (`Exhausted` and `TimeLimit` are a run that reached its end).
    pub fn is_early(self) -> bool {
        match self {
            StopReason::Exhausted | StopReason::TimeLimit => false,
            StopReason::EventLimit
            | StopReason::Stopped
            | StopReason::Stalled
            | StopReason::PendingLimit
            | StopReason::RecordLimit => true,
        }
    }

    /// What a user reads: why the run stopped early (`None` if it did not).
    pub fn early_reason(self) -> Option<&'static str> {
        match self {
            StopReason::Exhausted | StopReason::TimeLimit => None,
            StopReason::EventLimit => Some("the event limit (`max_events`) was reached"),
            StopReason::Stopped => Some("an actor stopped the run"),
            StopReason::Stalled => Some("simulated time stopped advancing (a livelock: 1,000,000 events within 10 ms)"),
            StopReason::PendingLimit => Some(
                "the pending-event limit was reached (more events scheduled at once than the engine holds: \
                 procedures pile up faster than they finish; lower the rates, the timeouts or the run's size)",
            ),
            StopReason::RecordLimit => Some(
                "the record limit was reached (the records one run may hold in memory: `max_records`, \
                 or its share of the records all seeds hold together; run fewer seeds at once or shorten the run)",
            ),
        }
    }
}

impl std::fmt::Display for StopReason {
    /// The variant's name (`EventLimit`), as in `manifest.json` and a trace's end line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl std::str::FromStr for StopReason {
    type Err = String;
    /// Parses a variant's name, as [`StopReason`]'s `Display` writes it.
    fn from_str(s: &str) -> Result<StopReason, String> {
        StopReason::ALL
            .into_iter()
            .find(|r| r.to_string() == s)
            .ok_or_else(|| format!("unknown stop reason `{s}`"))
    }
}

/// What [`Sim::run_watched`] calls a stall: `events` delivered events in a row that advance
/// simulated time by less than `min_advance` (a livelock, e.g. a 1 ns timer re-armed forever).
#[derive(Clone, Copy, Debug)]
pub struct Stall {
    pub events: u64,
    pub min_advance: SimDuration,
}

impl Default for Stall {
    /// 1,000,000 events within 10 ms of simulated time: 10^8 events per simulated second,
    /// about 2,000 times the densest shipped scenario (IPX hub, 1,000 PLMNs: 46,000).
    fn default() -> Self {
        Stall {
            events: 1_000_000,
            min_advance: SimDuration::from_millis(10),
        }
    }
}

/// What one call to [`Sim::run`] did.
#[derive(Clone, Copy, Debug)]
pub struct RunStats {
    pub events: u64,
    pub reason: StopReason,
    pub now: SimTime,
}

/// In an entry's `slot`: set when the event is a timer. Slot indices stay below it.
const TIMER_BIT: u32 = 1 << 31;
/// In `Core::meta`: set while the slot holds a pending timer; the generation is above it.
const META_TIMER: u32 = 1;

/// Where trace lines go besides the hash.
pub type TraceSink = Box<dyn Write + Send>;

struct Trace {
    hash: Sha256,
    sink: Option<TraceSink>,
    lines: u64,
    io_error: Option<std::io::Error>,
}

/// Engine state an event handler may act on.
pub struct Core<M> {
    now: SimTime,
    queue: RadixQueue,
    /// Per slot: the payload, `None` while free or after a cancel.
    msgs: Vec<Option<M>>,
    /// Per slot: the sender.
    froms: Vec<ActorId>,
    /// Per slot: `generation << 1 | META_TIMER`. The generation changes each time a timer
    /// leaves the slot, so a stale [`TimerId`] never matches; message slots keep theirs.
    meta: Vec<u32>,
    free: Vec<u32>,
    stop: bool,
    /// The most slots (events pending at once) the slab may grow to.
    max_pending: usize,
    /// Set (for good) when an event took a slot beyond `max_pending`.
    over: bool,
    delivered: u64,
    trace: Option<Box<Trace>>,
}

impl<M> Core<M> {
    /// Takes a free slot (or a new one) for `msg`; the timer generation for timers.
    #[inline(always)]
    fn alloc(&mut self, from: ActorId, timer: bool, msg: M) -> (u32, u32) {
        let i = match self.free.pop() {
            Some(i) => {
                self.msgs[i as usize] = Some(msg);
                self.froms[i as usize] = from;
                i
            }
            None => self.grow(from, msg),
        };
        if !timer {
            // A message's id never leaves the engine: its generation is not needed.
            return (i, 0);
        }
        let m = &mut self.meta[i as usize];
        *m |= META_TIMER;
        (i, *m >> 1)
    }

    #[cold]
    #[inline(never)]
    fn grow(&mut self, from: ActorId, msg: M) -> u32 {
        let i = self.msgs.len();
        // The slab only grows when every slot is taken, so its length is the most events
        // ever pending at once: the bound is checked here, off the hot path. The event is
        // kept; the run stops after the handler that scheduled it.
        if i >= self.max_pending {
            self.over = true;
            self.stop = true;
        }
        // Slot indices share the entry's `slot` with the timer flag: 2^31 pending events
        // (tens of GiB of state) is far beyond any run this engine is meant for.
        assert!(i < TIMER_BIT as usize, "more than 2^31 pending events");
        self.msgs.push(Some(msg));
        self.froms.push(from);
        self.meta.push(0);
        i as u32
    }

    #[inline(always)]
    fn push(&mut self, at: SimTime, to: ActorId, from: ActorId, timer: bool, msg: M) -> TimerId {
        // An event is never earlier than now: the queue relies on monotone keys.
        let at = at.max(self.now);
        let (slot, generation) = self.alloc(from, timer, msg);
        let tagged = if timer { slot | TIMER_BIT } else { slot };
        self.queue.push(Entry {
            time: at.as_nanos(),
            target: to,
            slot: tagged,
        });
        TimerId { slot, generation }
    }
}

/// Hints the CPU to load the payload of `slot` (a tagged entry slot): a refill reports the
/// entries about to be popped, so the cache miss on their payload overlaps other work.
#[inline(always)]
fn prefetch<M>(msgs: &[Option<M>], slot: u32) {
    #[cfg(target_arch = "x86_64")]
    {
        let p = msgs.as_ptr().wrapping_add((slot & !TIMER_BIT) as usize) as *const i8;
        // SAFETY: `_mm_prefetch` is a hint: it never faults and reads nothing visible to
        // the program, whatever the address (`wrapping_add` keeps the pointer arithmetic
        // defined even for a bad index). SSE is part of the x86_64 baseline.
        unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (msgs, slot);
}

/// The handle an event handler (or setup code) acts through.
pub struct Ctx<'a, M> {
    core: &'a mut Core<M>,
    me: ActorId,
}

impl<M> Ctx<'_, M> {
    /// The current simulated time.
    #[inline(always)]
    pub fn now(&self) -> SimTime {
        self.core.now
    }
    /// The actor whose event is being handled ([`EXTERNAL`] during setup).
    #[inline(always)]
    pub fn me(&self) -> ActorId {
        self.me
    }
    /// Acts as another actor from here on (worlds that relay events between layers).
    pub fn set_me(&mut self, me: ActorId) {
        self.me = me;
    }
    /// Delivers `msg` to `to` after `delay`.
    #[inline(always)]
    pub fn send(&mut self, to: ActorId, delay: SimDuration, msg: M) {
        let at = self.core.now + delay;
        self.core.push(at, to, self.me, false, msg);
    }
    /// Delivers `msg` to `to` at `at` (clamped to now).
    #[inline(always)]
    pub fn send_at(&mut self, to: ActorId, at: SimTime, msg: M) {
        self.core.push(at, to, self.me, false, msg);
    }
    /// Delivers `msg` to `to` after `delay`, as if sent by `from`.
    #[inline(always)]
    pub fn send_from(&mut self, from: ActorId, to: ActorId, delay: SimDuration, msg: M) {
        let at = self.core.now + delay;
        self.core.push(at, to, from, false, msg);
    }
    /// Sets a timer for the current actor.
    #[inline(always)]
    pub fn set_timer(&mut self, delay: SimDuration, msg: M) -> TimerId {
        let at = self.core.now + delay;
        let me = self.me;
        self.core.push(at, me, me, true, msg)
    }
    /// Sets a timer for `actor`.
    #[inline(always)]
    pub fn set_timer_for(&mut self, actor: ActorId, delay: SimDuration, msg: M) -> TimerId {
        let at = self.core.now + delay;
        self.core.push(at, actor, actor, true, msg)
    }
    /// Cancels a pending timer; false if it already fired or was cancelled.
    #[inline(always)]
    pub fn cancel(&mut self, id: TimerId) -> bool {
        let i = id.slot as usize;
        let live = (id.generation << 1) | META_TIMER;
        match (self.core.meta.get(i), self.core.msgs.get_mut(i)) {
            (Some(&m), Some(msg)) if m == live && msg.is_some() => {
                *msg = None;
                true
            }
            _ => false,
        }
    }
    /// Ends the run after the current event.
    pub fn stop(&mut self) {
        self.core.stop = true;
    }
    /// Whether tracing is on (build trace lines only then).
    #[inline(always)]
    pub fn tracing(&self) -> bool {
        self.core.trace.is_some()
    }
    /// Adds one line to the trace (hashed, and written to the sink if any).
    pub fn trace(&mut self, line: &str) {
        if let Some(t) = self.core.trace.as_deref_mut() {
            t.hash.update(line.as_bytes());
            t.hash.update(b"\n");
            t.lines += 1;
            if let Some(sink) = t.sink.as_mut()
                && t.io_error.is_none()
                && let Err(e) = sink.write_all(line.as_bytes()).and_then(|_| sink.write_all(b"\n"))
            {
                t.io_error = Some(e);
            }
        }
    }
}

/// A simulation: the engine core plus the world it drives.
pub struct Sim<W: World> {
    pub world: W,
    core: Core<W::Msg>,
    held: Option<Entry>,
}

impl<W: World> Sim<W> {
    pub fn new(world: W) -> Self {
        Self::with_capacity(world, 0)
    }

    /// Pre-sizes the queue and slab for `pending` simultaneous events.
    pub fn with_capacity(world: W, pending: usize) -> Self {
        Sim {
            world,
            core: Core {
                now: SimTime::ZERO,
                queue: if pending > 0 {
                    RadixQueue::with_capacity(pending)
                } else {
                    RadixQueue::new()
                },
                msgs: Vec::with_capacity(pending),
                froms: Vec::with_capacity(pending),
                meta: Vec::with_capacity(pending),
                free: Vec::new(),
                stop: false,
                max_pending: usize::MAX,
                over: false,
                delivered: 0,
                trace: None,
            },
            held: None,
        }
    }

    /// Turns tracing on; lines also go to `sink` if given.
    pub fn enable_trace(&mut self, sink: Option<TraceSink>) {
        self.core.trace = Some(Box::new(Trace {
            hash: Sha256::new(),
            sink,
            lines: 0,
            io_error: None,
        }));
    }

    /// Adds one line to the trace outside any event (a header before the run starts).
    pub fn trace_line(&mut self, line: &str) {
        self.ctx(0).1.trace(line);
    }

    /// The trace hash so far (hex), if tracing is on.
    pub fn trace_hash(&self) -> Option<String> {
        self.core.trace.as_ref().map(|t| hex::encode(t.hash.clone().finalize()))
    }

    /// Flushes the trace sink; reports the first write error met during the run.
    pub fn finish_trace(&mut self) -> std::io::Result<()> {
        if let Some(t) = self.core.trace.as_deref_mut() {
            if let Some(e) = t.io_error.take() {
                return Err(e);
            }
            if let Some(s) = t.sink.as_mut() {
                s.flush()?;
            }
        }
        Ok(())
    }

    pub fn now(&self) -> SimTime {
        self.core.now
    }
    /// Events delivered so far.
    pub fn delivered(&self) -> u64 {
        self.core.delivered
    }
    /// Events pending (including cancelled timers not yet reached).
    pub fn pending(&self) -> usize {
        self.core.queue.len() + self.held.is_some() as usize
    }

    /// The most events pending at once so far (the slab's length).
    pub fn pending_high_water(&self) -> usize {
        self.core.msgs.len()
    }

    /// Bounds the events pending at once (timers, messages in flight, cancelled timers not
    /// yet reached) to `max` (default: no bound beyond the slot index's 2^31). An event
    /// scheduled beyond it is kept, and [`Sim::run`] stops with [`StopReason::PendingLimit`]
    /// after the handler that scheduled it, and at once in every later call.
    pub fn limit_pending(&mut self, max: usize) {
        self.core.max_pending = max;
    }

    /// Bytes the engine holds for pending events: queue chunks, slab slots and the free
    /// list (capacities, so this is the high-water mark of the run so far).
    pub fn allocated_bytes(&self) -> usize {
        self.core.queue.allocated_bytes()
            + self.core.msgs.capacity() * std::mem::size_of::<Option<W::Msg>>()
            + (self.core.froms.capacity() + self.core.meta.capacity() + self.core.free.capacity())
                * std::mem::size_of::<u32>()
    }

    /// A context for setup code acting as `me` (initial events, timers).
    pub fn ctx(&mut self, me: ActorId) -> (&mut W, Ctx<'_, W::Msg>) {
        (
            &mut self.world,
            Ctx {
                core: &mut self.core,
                me,
            },
        )
    }

    /// Schedules an initial event from outside any actor.
    pub fn schedule(&mut self, at: SimTime, to: ActorId, msg: W::Msg) {
        self.core.push(at, to, EXTERNAL, false, msg);
    }

    /// [`Sim::run`] in windows of `stall.events` events, stopping with
    /// [`StopReason::Stalled`] after a window that advanced simulated time by less than
    /// `stall.min_advance` (a window cut short by another bound is not judged).
    pub fn run_watched(&mut self, limits: Limits, stall: Stall) -> RunStats {
        let window = stall.events.max(1);
        let mut events = 0u64;
        loop {
            let start = self.core.now;
            let s = self.run(Limits {
                until: limits.until,
                max_events: (limits.max_events - events).min(window),
            });
            events += s.events;
            let cut = s.reason != StopReason::EventLimit || events >= limits.max_events;
            let reason = if cut {
                Some(s.reason)
            } else if s.now.saturating_since(start) < stall.min_advance {
                Some(StopReason::Stalled)
            } else {
                None
            };
            if let Some(reason) = reason {
                return RunStats {
                    events,
                    reason,
                    now: s.now,
                };
            }
        }
    }

    /// Runs until a bound is reached, the queue empties or an actor stops the run.
    pub fn run(&mut self, limits: Limits) -> RunStats {
        let until = limits.until.as_nanos();
        let mut events = 0u64;
        self.core.stop = false;
        if self.core.over {
            // Beyond the pending-event bound (in setup code or an earlier call).
            return RunStats {
                events,
                reason: StopReason::PendingLimit,
                now: self.core.now,
            };
        }
        let reason = loop {
            if events >= limits.max_events {
                break StopReason::EventLimit;
            }
            let entry = match self.held.take() {
                Some(e) => e,
                None => match self.core.queue.pop_hinting(|slot| prefetch(&self.core.msgs, slot)) {
                    Some(e) => e,
                    None => break StopReason::Exhausted,
                },
            };
            if entry.time > until {
                self.held = Some(entry);
                break StopReason::TimeLimit;
            }
            let slot = entry.slot & !TIMER_BIT;
            let msg = self.core.msgs[slot as usize].take();
            let timer = if entry.slot & TIMER_BIT != 0 {
                // The timer leaves the slot: a new generation, timer flag cleared.
                let m = &mut self.core.meta[slot as usize];
                let generation = *m >> 1;
                *m = generation.wrapping_add(1) << 1;
                Some(TimerId { slot, generation })
            } else {
                None
            };
            self.core.free.push(slot);
            let Some(msg) = msg else {
                continue; // a cancelled timer
            };
            self.core.now = SimTime::from_nanos(entry.time);
            events += 1;
            if let Some(t) = self.core.trace.as_deref_mut() {
                let (tag, who) = match timer {
                    None => (0u8, self.core.froms[slot as usize]),
                    Some(_) => (1u8, entry.target),
                };
                t.hash.update(entry.time.to_be_bytes());
                t.hash.update(entry.target.to_be_bytes());
                t.hash.update([tag]);
                t.hash.update(who.to_be_bytes());
            }
            // The sender is loaded here, where a world that ignores it (the handler is
            // inlined) lets the compiler drop the load: a cache miss saved per event.
            let kind = match timer {
                Some(id) => EventKind::Timer(id),
                None => EventKind::Message {
                    from: self.core.froms[slot as usize],
                },
            };
            let ev = Event {
                time: self.core.now,
                to: entry.target,
                kind,
                msg,
            };
            let mut ctx = Ctx {
                core: &mut self.core,
                me: entry.target,
            };
            self.world.handle(&mut ctx, ev);
            if self.core.stop {
                break if self.core.over {
                    StopReason::PendingLimit
                } else {
                    StopReason::Stopped
                };
            }
        };
        self.core.delivered += events;
        RunStats {
            events,
            reason,
            now: self.core.now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Log {
        seen: Vec<(u64, ActorId, &'static str)>,
        cancel_next: Option<TimerId>,
    }

    impl World for Log {
        type Msg = &'static str;
        fn handle(&mut self, ctx: &mut Ctx<'_, &'static str>, ev: Event<&'static str>) {
            self.seen.push((ev.time.as_nanos(), ev.to, ev.msg));
            match ev.msg {
                "arm" => {
                    let keep = ctx.set_timer(SimDuration::from_nanos(10), "keep");
                    let drop = ctx.set_timer(SimDuration::from_nanos(5), "dropped");
                    assert!(keep != drop);
                    self.cancel_next = Some(drop);
                }
                "cancel" => {
                    let id = self.cancel_next.take().unwrap();
                    assert!(ctx.cancel(id));
                    assert!(!ctx.cancel(id), "a second cancel must report false");
                }
                _ => {}
            }
        }
    }

    #[test]
    fn queue_orders_by_time_then_fifo() {
        let mut sim = Sim::new(Log::default());
        sim.schedule(SimTime::from_nanos(20), 1, "c");
        sim.schedule(SimTime::from_nanos(10), 2, "a");
        sim.schedule(SimTime::from_nanos(20), 3, "d");
        sim.schedule(SimTime::from_nanos(10), 4, "b");
        let stats = sim.run(Limits::default());
        assert_eq!(stats.reason, StopReason::Exhausted);
        let order: Vec<_> = sim.world.seen.iter().map(|s| s.2).collect();
        assert_eq!(order, ["a", "b", "c", "d"]);
    }

    #[test]
    fn timer_cancel_skips_the_event() {
        let mut sim = Sim::new(Log::default());
        sim.schedule(SimTime::ZERO, 0, "arm");
        sim.schedule(SimTime::from_nanos(1), 0, "cancel");
        let stats = sim.run(Limits::default());
        let msgs: Vec<_> = sim.world.seen.iter().map(|s| s.2).collect();
        assert_eq!(msgs, ["arm", "cancel", "keep"]);
        assert_eq!(stats.events, 3);
    }

    #[test]
    fn cancel_after_fire_is_refused_even_when_slot_reused() {
        struct W(Vec<TimerId>, Vec<bool>);
        impl World for W {
            type Msg = u8;
            fn handle(&mut self, ctx: &mut Ctx<'_, u8>, ev: Event<u8>) {
                match ev.msg {
                    0 => self.0.push(ctx.set_timer(SimDuration::from_nanos(1), 1)),
                    1 => {
                        // The fired timer's slot is free again; a new timer reuses it.
                        let fired = self.0[0];
                        let fresh = ctx.set_timer(SimDuration::from_nanos(1), 2);
                        self.1.push(ctx.cancel(fired));
                        self.1.push(ctx.cancel(fresh));
                    }
                    _ => panic!("cancelled timer delivered"),
                }
            }
        }
        let mut sim = Sim::new(W(vec![], vec![]));
        sim.schedule(SimTime::ZERO, 0, 0);
        sim.run(Limits::default());
        assert_eq!(sim.world.1, [false, true]);
    }

    /// A slot goes timer -> message -> timer; the first timer's id must match neither.
    #[test]
    fn stale_timer_id_never_cancels_a_message_or_later_timer() {
        struct W {
            first: Option<TimerId>,
            results: Vec<bool>,
            seen: Vec<u8>,
        }
        impl World for W {
            type Msg = u8;
            fn handle(&mut self, ctx: &mut Ctx<'_, u8>, ev: Event<u8>) {
                self.seen.push(ev.msg);
                match ev.msg {
                    0 => self.first = Some(ctx.set_timer(SimDuration::from_nanos(1), 1)),
                    // The fired timer's slot now carries a message.
                    1 => {
                        ctx.send(0, SimDuration::from_nanos(1), 2);
                        let stale = self.first.unwrap();
                        self.results.push(ctx.cancel(stale));
                    }
                    // The message's slot now carries a new timer.
                    2 => {
                        let fresh = ctx.set_timer(SimDuration::from_nanos(1), 3);
                        let stale = self.first.unwrap();
                        self.results.push(ctx.cancel(stale));
                        self.results.push(ctx.cancel(fresh));
                    }
                    _ => panic!("cancelled timer delivered"),
                }
            }
        }
        let mut sim = Sim::new(W {
            first: None,
            results: vec![],
            seen: vec![],
        });
        sim.schedule(SimTime::ZERO, 0, 0);
        sim.run(Limits::default());
        assert_eq!(sim.world.seen, [0, 1, 2]);
        assert_eq!(sim.world.results, [false, false, true]);
    }

    /// A world that schedules two events per event it handles: the pending set doubles
    /// until the bound stops the run, and every later call stops at once.
    #[test]
    fn pending_limit_stops_a_growing_queue_and_keeps_its_events() {
        struct Fork;
        impl World for Fork {
            type Msg = ();
            fn handle(&mut self, ctx: &mut Ctx<'_, ()>, _: Event<()>) {
                ctx.send(0, SimDuration::from_nanos(1), ());
                ctx.send(0, SimDuration::from_nanos(1), ());
            }
        }
        let mut sim = Sim::new(Fork);
        sim.limit_pending(100);
        sim.schedule(SimTime::ZERO, 0, ());
        let s = sim.run(Limits::default());
        assert_eq!(s.reason, StopReason::PendingLimit);
        // The slab grew one slot past the bound (the event that crossed it is kept).
        assert_eq!(sim.pending_high_water(), 101);
        assert_eq!(sim.pending(), 101);
        assert_eq!(s.events, 100);
        let again = sim.run(Limits::default());
        assert_eq!((again.reason, again.events), (StopReason::PendingLimit, 0));
        // Unbounded, the same world runs to its event limit.
        let mut free = Sim::new(Fork);
        free.schedule(SimTime::ZERO, 0, ());
        let s = free.run(Limits {
            until: SimTime::MAX,
            max_events: 1000,
        });
        assert_eq!(s.reason, StopReason::EventLimit);
    }

    #[test]
    fn stop_reasons_parse_as_they_display() {
        for r in StopReason::ALL {
            assert_eq!(r.to_string().parse::<StopReason>(), Ok(r));
            assert_eq!(r.to_string(), format!("{r:?}"));
            assert_eq!(r.is_early(), r.early_reason().is_some());
        }
        assert!(
            "Bogus"
                .parse::<StopReason>()
                .unwrap_err()
                .contains("unknown stop reason")
        );
    }

    /// A livelock (a message re-sent `step` ns later forever) is a stall; the same loop with
    /// a step of 1 ms is not, and runs to its time limit.
    #[test]
    fn run_watched_stops_a_livelock_and_only_a_livelock() {
        struct Spin(u64);
        impl World for Spin {
            type Msg = ();
            fn handle(&mut self, ctx: &mut Ctx<'_, ()>, _: Event<()>) {
                ctx.send(0, SimDuration::from_nanos(self.0), ());
            }
        }
        let stall = Stall {
            events: 1000,
            min_advance: SimDuration::from_micros(100),
        };
        let run = |step: u64| {
            let mut sim = Sim::new(Spin(step));
            sim.schedule(SimTime::ZERO, 0, ());
            let limits = Limits {
                until: SimTime::ZERO + SimDuration::from_secs(10),
                max_events: 1_000_000,
            };
            sim.run_watched(limits, stall)
        };
        let s = run(1);
        assert_eq!((s.reason, s.events), (StopReason::Stalled, 1000));
        let s = run(1_000_000);
        assert_eq!((s.reason, s.events), (StopReason::TimeLimit, 10_001));
        // The event limit still wins when it comes first.
        let mut sim = Sim::new(Spin(1_000_000));
        sim.schedule(SimTime::ZERO, 0, ());
        let s = sim.run_watched(
            Limits {
                until: SimTime::MAX,
                max_events: 2500,
            },
            stall,
        );
        assert_eq!((s.reason, s.events), (StopReason::EventLimit, 2500));
    }

    #[test]
    fn limits_bound_time_and_events_and_resume() {
        let mut sim = Sim::new(Log::default());
        for t in 0..10 {
            sim.schedule(SimTime::from_nanos(t * 10), 0, "x");
        }
        let s = sim.run(Limits {
            until: SimTime::from_nanos(35),
            max_events: u64::MAX,
        });
        assert_eq!((s.events, s.reason), (4, StopReason::TimeLimit));
        let s = sim.run(Limits {
            until: SimTime::MAX,
            max_events: 3,
        });
        assert_eq!((s.events, s.reason), (3, StopReason::EventLimit));
        assert_eq!(sim.now(), SimTime::from_nanos(60));
        let s = sim.run(Limits::default());
        assert_eq!((s.events, s.reason), (3, StopReason::Exhausted));
        assert_eq!(sim.delivered(), 10);
    }

    #[test]
    fn trace_hash_depends_on_events() {
        let run = |t2: u64| {
            let mut sim = Sim::new(Log::default());
            sim.enable_trace(None);
            sim.schedule(SimTime::from_nanos(1), 0, "a");
            sim.schedule(SimTime::from_nanos(t2), 1, "b");
            sim.run(Limits::default());
            sim.trace_hash().unwrap()
        };
        assert_eq!(run(2), run(2));
        assert_ne!(run(2), run(3));
    }
}
