//! Criterion benches of the engine's event loop, in events per second
//! (`cargo bench --bench engine`).
//!
//! - `phold/10k_pending`, `phold/1m_pending`: the suite's PHOLD model (1000 LPs x 10 and x 1000
//!   initial events), 1M delivered events per iteration; setup is outside the timing.
//! - `timers/set_cancel`: every event cancels the actor's pending guard timer and sets a new
//!   one (the 3GPP guard-timer pattern: set far more often than fired), then sends itself
//!   the next tick. Cancelled timers stay as tombstones until the queue reaches them.
//! - `zero_delay/relay`: messages relayed around a ring with zero delay, so every event is
//!   at "now" (the queue's FIFO fast path).

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use secsim::bench::phold::{Phold, PholdArgs};
use secsim::engine::{ActorId, Ctx, Event, EventKind, Limits, Sim, SimDuration, SimTime, TimerId, World};

const EVENTS: u64 = 1_000_000;

fn phold(c: &mut Criterion) {
    let mut g = c.benchmark_group("phold");
    g.sample_size(10);
    g.throughput(Throughput::Elements(EVENTS));
    for (name, init) in [("10k_pending", 10), ("1m_pending", 1000)] {
        let params = PholdArgs {
            init,
            events: EVENTS,
            ..PholdArgs::default()
        }
        .params()
        .expect("valid parameters");
        g.bench_function(name, |b| {
            b.iter_batched(
                || Phold::setup(params),
                |mut sim| {
                    let stats = sim.run(Limits {
                        until: SimTime::MAX,
                        max_events: EVENTS,
                    });
                    black_box(sim.world.digest);
                    (stats, sim)
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

/// Actors that re-arm a guard timer on every tick.
struct Guards {
    guard: Vec<Option<TimerId>>,
    fired: u64,
}

impl World for Guards {
    type Msg = ();
    fn handle(&mut self, ctx: &mut Ctx<'_, ()>, ev: Event<()>) {
        if let EventKind::Timer(_) = ev.kind {
            self.fired += 1;
            return;
        }
        let me = ev.to as usize;
        if let Some(id) = self.guard[me].take() {
            ctx.cancel(id);
        }
        self.guard[me] = Some(ctx.set_timer(SimDuration::from_secs(1), ()));
        let tick = 1_000 + (me as u64 * 7919) % 1_000;
        ctx.send(ev.to, SimDuration::from_nanos(tick), ());
    }
}

fn timers(c: &mut Criterion) {
    let mut g = c.benchmark_group("timers");
    g.sample_size(10);
    g.throughput(Throughput::Elements(EVENTS));
    let actors = 1000;
    g.bench_function("set_cancel", |b| {
        b.iter_batched(
            || {
                let mut sim = Sim::with_capacity(
                    Guards {
                        guard: vec![None; actors],
                        fired: 0,
                    },
                    2 * actors,
                );
                for a in 0..actors {
                    sim.schedule(SimTime::from_nanos(a as u64), a as ActorId, ());
                }
                sim
            },
            |mut sim| {
                let stats = sim.run(Limits {
                    until: SimTime::MAX,
                    max_events: EVENTS,
                });
                (stats, sim)
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

/// A ring of relays: each message goes on to the next actor at once.
struct Ring(u32);

impl World for Ring {
    type Msg = u64;
    fn handle(&mut self, ctx: &mut Ctx<'_, u64>, ev: Event<u64>) {
        ctx.send((ev.to + 1) % self.0, SimDuration::ZERO, ev.msg + 1);
    }
}

fn zero_delay(c: &mut Criterion) {
    let mut g = c.benchmark_group("zero_delay");
    g.sample_size(10);
    g.throughput(Throughput::Elements(EVENTS));
    g.bench_function("relay", |b| {
        b.iter_batched(
            || {
                let mut sim = Sim::with_capacity(Ring(100), 64);
                for k in 0..64 {
                    sim.schedule(SimTime::ZERO, k % 100, 0);
                }
                sim
            },
            |mut sim| {
                let stats = sim.run(Limits {
                    until: SimTime::MAX,
                    max_events: EVENTS,
                });
                (stats, sim)
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, phold, timers, zero_delay);
criterion_main!(benches);
