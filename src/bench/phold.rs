//! PHOLD on the engine: the side-by-side benchmark model of `bench/phold/README.md`.
//!
//! ```text
//!   t=0: each LP i schedules K events to itself at L + Exp(mean)     (Sim::schedule)
//!
//!   event at LP i, time t ──► count it, digest += t * (2i + 1)
//!                        ──► u1 < p ? dest = floor(u2 * N) : dest = i
//!                        ──► ctx.send(dest, L + floor(-mean * ln(1 - u3)), ())
//! ```
//!
//! - N logical processes ([`Phold`] is the [`World`]; an LP is an [`ActorId`]), K initial
//!   events each, so the population of pending events is constant at N*K.
//! - The run stops after exactly E delivered events ([`Limits::max_events`]).
//! - Time is integer ticks, 1 time unit = 1e9 ticks \[ns\]; ties are FIFO by scheduling
//!   order, which is the engine's own tie-break, and the reference kernels' `seq`.
//! - Randomness: one splitmix64 stream per LP, seeded `(seed << 32) ^ ((lp+1) * φ64)`.
//!   Per event: `u1` (remote?), `u2` (destination, only when remote), `u3` (exponential).
//!   `u = (x >> 11) * 2^-53`. The trajectory is thus a function of the seed alone and the
//!   `digest` (`sum(t * (2*lp+1)) mod 2^64`) and `sim_end` equal those of every other
//!   engine of the suite (defaults, 10M events: `c1f13cf22b02dbd5`).
//!
//! [`run`] prints the suite's one line per engine:
//!
//! ```text
//! engine=secsim events=<N> wall_s=<t> events_per_s=<r> sim_end=<T> digest=<hex16> setup_s=<s>
//! ```
//!
//! `wall_s` is the event loop only; `setup_s` is building the world plus scheduling the N*K
//! initial events. With `--repeat K` each kernel runs K times and the median is printed.
//! With `--compare` the bare reference kernels of [`super::baseline`] run in the same
//! process with the same parameters, followed by a ratio line; the secsim line then also
//! carries the process's peak RSS after the secsim runs \[MiB\] and the engine's own
//! allocation per pending event \[bytes\] (queue chunks + slab slots + free list).
//!
//! Wall-clock time is read only here, around the runs, never inside the simulation.

use std::time::Instant;

use crate::engine::{ActorId, Ctx, Event, Limits, Sim, SimDuration, SimTime, World};
use crate::scenario::generate::MAX_NODES;

use super::baseline::{self, BaselineQueue};

/// Ticks per time unit (1 unit = 1 s of simulated time = 1e9 ns).
pub const TICKS_PER_UNIT: f64 = 1e9;
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// The splitmix64 generator of the suite (one stream per LP).
#[derive(Clone, Copy, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// The stream of LP `lp` in the run seeded with `seed`.
    #[inline(always)]
    pub fn for_lp(seed: u64, lp: u64) -> Self {
        SplitMix64((seed << 32) ^ (lp + 1).wrapping_mul(GOLDEN))
    }
    #[inline(always)]
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// A uniform draw in [0, 1) with 53 bits.
    #[inline(always)]
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)
    }
}

/// The model's parameters in engine units, validated.
#[derive(Clone, Copy, Debug)]
pub struct Params {
    /// Logical processes N.
    pub lps: usize,
    /// Initial events per LP K.
    pub init: usize,
    /// Events to deliver E.
    pub events: u64,
    /// Probability that an event goes to a uniformly drawn LP.
    pub remote: f64,
    /// Fixed part of every increment \[ticks\].
    pub lookahead_ticks: u64,
    /// Mean of the exponential part \[ticks\].
    pub mean_ticks: f64,
    pub seed: u64,
}

impl Params {
    /// The pending population N*K.
    pub fn pending(&self) -> usize {
        self.lps * self.init
    }

    /// One increment `L + floor(-mean * ln(1 - u))` \[ticks\], drawing one `u`.
    #[inline(always)]
    pub fn delay(&self, rng: &mut SplitMix64) -> u64 {
        let u = rng.uniform();
        self.lookahead_ticks + (-self.mean_ticks * (1.0 - u).ln()) as u64
    }
}

/// Which pending-event sets of the reference kernel `--compare` runs.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Eq, PartialEq)]
pub enum CompareWith {
    /// `std::collections::BinaryHeap` (the suite's baseline).
    Binary,
    /// Hand-written 4-ary heap.
    Quad,
    /// Radix heap on `time << 64 | seq`.
    Radix,
    /// Binary and radix.
    All,
}

/// The largest PHOLD population N*K \[pending events\]: at about 25 bytes a pending event
/// (`docs/bench.md`), about 400 MB, 16 times the documented 1M-pending configuration.
pub const MAX_PENDING: u64 = 16_000_000;

/// `secsim bench phold`: the model's flags (defaults as in the suite) and the driver's.
#[derive(clap::Args, Clone, Debug)]
pub struct PholdArgs {
    /// Logical processes N (at most 100,000, the topology generators' node limit).
    #[arg(long, default_value_t = 1000)]
    pub lps: u64,
    /// Initial events per LP K (constant population N*K, at most 16,000,000 pending events).
    #[arg(long, default_value_t = 10)]
    pub init: u64,
    /// Events to process E (the run stops after exactly E).
    #[arg(long, default_value_t = 10_000_000)]
    pub events: u64,
    /// Remote fraction p.
    #[arg(long, default_value_t = 0.5)]
    pub remote: f64,
    /// Lookahead L [time units].
    #[arg(long, default_value_t = 0.1)]
    pub lookahead: f64,
    /// Mean of the exponential part [time units].
    #[arg(long, default_value_t = 0.9)]
    pub mean: f64,
    /// Master seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Also run the bare reference kernel(s) in this process and print ratios.
    #[arg(long)]
    pub compare: bool,
    /// Runs per kernel; the median run is reported.
    #[arg(long, default_value_t = 3)]
    pub repeat: u32,
    /// Reference kernel(s) for `--compare`.
    #[arg(long, value_enum, default_value_t = CompareWith::All)]
    pub queue: CompareWith,
}

impl Default for PholdArgs {
    fn default() -> Self {
        PholdArgs {
            lps: 1000,
            init: 10,
            events: 10_000_000,
            remote: 0.5,
            lookahead: 0.1,
            mean: 0.9,
            seed: 1,
            compare: false,
            repeat: 3,
            queue: CompareWith::All,
        }
    }
}

impl PholdArgs {
    /// Checks the flags and converts them to engine units.
    pub fn params(&self) -> Result<Params, String> {
        if self.lps == 0 {
            return Err("--lps must be at least 1".into());
        }
        if self.init == 0 {
            return Err("--init must be at least 1".into());
        }
        // LPs are the model's nodes: the topology generators' node limit applies. The
        // population N*K is the pending-event count for the whole run.
        if self.lps > MAX_NODES {
            return Err(format!(
                "--lps {}: above the limit of {MAX_NODES} logical processes (the topology generators' node limit)",
                self.lps
            ));
        }
        let max_pending = MAX_PENDING;
        if self.lps.checked_mul(self.init).is_none_or(|n| n > max_pending) {
            return Err(format!(
                "--lps {} * --init {}: above the limit of {max_pending} pending events (about 400 MB)",
                self.lps, self.init
            ));
        }
        if !(0.0..=1.0).contains(&self.remote) {
            return Err(format!("--remote must be in [0, 1], got {}", self.remote));
        }
        if !self.lookahead.is_finite() || self.lookahead < 0.0 {
            return Err(format!(
                "--lookahead must be a finite number > 0, got {}",
                self.lookahead
            ));
        }
        let lookahead_ticks = (self.lookahead * TICKS_PER_UNIT).round() as u64;
        if lookahead_ticks == 0 {
            return Err(format!(
                "--lookahead must be > 0 (at least 1e-9), got {}",
                self.lookahead
            ));
        }
        if !self.mean.is_finite() || self.mean < 0.0 {
            return Err(format!("--mean must be a finite number >= 0, got {}", self.mean));
        }
        if self.repeat == 0 {
            return Err("--repeat must be at least 1".into());
        }
        Ok(Params {
            lps: self.lps as usize,
            init: self.init as usize,
            events: self.events,
            remote: self.remote,
            lookahead_ticks,
            mean_ticks: self.mean * TICKS_PER_UNIT,
            seed: self.seed,
        })
    }
}

/// The PHOLD world: every LP's random stream plus the run's checksum.
pub struct Phold {
    params: Params,
    /// N as a float, for the destination draw.
    n: f64,
    rngs: Vec<SplitMix64>,
    /// `sum(t * (2*lp+1)) mod 2^64` over delivered events.
    pub digest: u64,
}

impl Phold {
    pub fn new(params: Params) -> Self {
        let rngs = (0..params.lps as u64)
            .map(|i| SplitMix64::for_lp(params.seed, i))
            .collect();
        Phold {
            params,
            n: params.lps as f64,
            rngs,
            digest: 0,
        }
    }

    /// Builds the simulation with the N*K initial events scheduled, in the suite's order
    /// (LP by LP, K draws each).
    pub fn setup(params: Params) -> Sim<Phold> {
        let mut sim = Sim::with_capacity(Phold::new(params), params.pending());
        for lp in 0..params.lps {
            for _ in 0..params.init {
                let t = params.delay(&mut sim.world.rngs[lp]);
                sim.schedule(SimTime::from_nanos(t), lp as ActorId, ());
            }
        }
        sim
    }
}

impl World for Phold {
    type Msg = ();

    #[inline(always)]
    fn handle(&mut self, ctx: &mut Ctx<'_, ()>, ev: Event<()>) {
        let lp = ev.to as usize;
        let now = ev.time.as_nanos();
        self.digest = self.digest.wrapping_add(now.wrapping_mul(2 * lp as u64 + 1));
        let p = &self.params;
        let rng = &mut self.rngs[lp];
        let dest = if rng.uniform() < p.remote {
            ((rng.uniform() * self.n) as usize).min(p.lps - 1)
        } else {
            lp
        };
        let d = p.delay(rng);
        ctx.send(dest as ActorId, SimDuration::from_nanos(d), ());
    }
}

/// One kernel's result line.
#[derive(Clone, Debug)]
pub struct Report {
    pub engine: String,
    pub events: u64,
    pub wall_s: f64,
    /// The time of the last delivered event \[ticks\].
    pub sim_end_ticks: u64,
    pub digest: u64,
    pub setup_s: f64,
}

impl Report {
    pub fn events_per_s(&self) -> f64 {
        self.events as f64 / self.wall_s
    }

    /// The suite's line.
    pub fn line(&self) -> String {
        format!(
            "engine={} events={} wall_s={:.3} events_per_s={:.0} sim_end={:.6} digest={:016x} setup_s={:.3}",
            self.engine,
            self.events,
            self.wall_s,
            self.events_per_s(),
            self.sim_end_ticks as f64 / TICKS_PER_UNIT,
            self.digest,
            self.setup_s
        )
    }
}

/// One secsim run: the report plus the engine's bytes per pending event.
pub fn run_secsim(params: &Params) -> (Report, f64) {
    let start = Instant::now();
    let mut sim = Phold::setup(*params);
    let setup_s = start.elapsed().as_secs_f64();
    let run_start = Instant::now();
    let stats = sim.run(Limits {
        until: SimTime::MAX,
        max_events: params.events,
    });
    let wall_s = run_start.elapsed().as_secs_f64();
    let bytes = sim.allocated_bytes() as f64 / sim.pending().max(1) as f64;
    let report = Report {
        engine: "secsim".into(),
        events: stats.events,
        wall_s,
        sim_end_ticks: stats.now.as_nanos(),
        digest: sim.world.digest,
        setup_s,
    };
    (report, bytes)
}

/// The run with the median wall time, with the median setup time. Every run must give the
/// same digest (the model is deterministic).
fn median(mut runs: Vec<Report>) -> Result<Report, String> {
    let first = (runs[0].digest, runs[0].sim_end_ticks, runs[0].events);
    if let Some(r) = runs.iter().find(|r| (r.digest, r.sim_end_ticks, r.events) != first) {
        return Err(format!(
            "engine {} is not deterministic: digest {:016x} then {:016x}",
            r.engine, first.0, r.digest
        ));
    }
    let mut setups: Vec<f64> = runs.iter().map(|r| r.setup_s).collect();
    setups.sort_by(f64::total_cmp);
    runs.sort_by(|a, b| a.wall_s.total_cmp(&b.wall_s));
    let mut report = runs.swap_remove(runs.len() / 2);
    report.setup_s = setups[setups.len() / 2];
    Ok(report)
}

/// The process's peak resident set \[MiB\] (Linux `VmHWM`), if known.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

/// Resets the peak resident set to the current one (Linux; ignored elsewhere).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn fmt_rss(rss: Option<f64>) -> String {
    rss.map_or_else(|| "n/a".to_string(), |m| format!("{m:.1}"))
}

/// `secsim bench phold`: runs the model (and with `--compare` the reference kernels) and
/// returns the printed text, one line per engine plus a ratio line.
///
/// The kernels take turns (secsim, then each reference kernel, `--repeat` rounds), so a
/// change of load on a shared machine hits all of them alike; each line is the median
/// run. secsim's peak RSS is read after its first run, before any other kernel has run in
/// the process; a reference kernel's is the smallest over its runs (the peak is reset
/// before each run, but memory freed by an earlier kernel may still be resident).
pub fn run(args: &PholdArgs) -> Result<String, String> {
    let params = args.params()?;
    let mut kernels: Vec<Option<BaselineQueue>> = vec![None];
    if args.compare {
        kernels.extend(
            match args.queue {
                CompareWith::Binary => &[BaselineQueue::Binary][..],
                CompareWith::Quad => &[BaselineQueue::Quad][..],
                CompareWith::Radix => &[BaselineQueue::Radix][..],
                CompareWith::All => &[BaselineQueue::Binary, BaselineQueue::Radix][..],
            }
            .iter()
            .map(|&q| Some(q)),
        );
    }
    let mut runs: Vec<Vec<Report>> = vec![Vec::new(); kernels.len()];
    let mut rss: Vec<Option<f64>> = vec![None; kernels.len()];
    let mut bytes = 0.0;
    for round in 0..args.repeat {
        for (k, kernel) in kernels.iter().enumerate() {
            reset_peak_rss();
            let report = match kernel {
                None => {
                    let (report, b) = run_secsim(&params);
                    bytes = b;
                    report
                }
                Some(q) => baseline::run(&params, *q),
            };
            let peak = peak_rss_mib();
            rss[k] = match (k, round) {
                (0, 0) => peak,
                (0, _) => rss[k],
                _ => rss[k].zip(peak).map(|(a, b)| a.min(b)).or(peak),
            };
            runs[k].push(report);
        }
    }
    let mut reports = Vec::new();
    for r in runs {
        reports.push(median(r)?);
    }
    let ours = &reports[0];
    if !args.compare {
        return Ok(format!("{}\n", ours.line()));
    }
    let mut out = format!(
        "{} peak_rss_mib={} bytes_per_pending={bytes:.1}\n",
        ours.line(),
        fmt_rss(rss[0])
    );
    let mut ratios = Vec::new();
    for (k, theirs) in reports.iter().enumerate().skip(1) {
        let name = kernels[k].map_or("secsim", BaselineQueue::name);
        if (theirs.digest, theirs.sim_end_ticks, theirs.events) != (ours.digest, ours.sim_end_ticks, ours.events) {
            return Err(format!(
                "secsim and the {name} kernel disagree: digest {:016x} vs {:016x}",
                ours.digest, theirs.digest
            ));
        }
        out.push_str(&format!("{} peak_rss_mib={}\n", theirs.line(), fmt_rss(rss[k])));
        ratios.push(format!(
            "secsim/{name}={:.2}",
            ours.events_per_s() / theirs.events_per_s()
        ));
    }
    out.push_str(&format!("ratio {}\n", ratios.join(" ")));
    Ok(out)
}

/// One protocol-plane run for [`against_phold`]: the engine's count of delivered events
/// (`RunStats::events` of `Sim::run`) and the wall time of the run loop alone; building the
/// world and scheduling its initial events (`build_s`) is timed apart and left out of the rate.
#[derive(Clone, Debug)]
pub struct PlaneRun {
    pub events: u64,
    pub build_s: f64,
    pub run_s: f64,
    /// What the run achieved, for the printed line (e.g. `handshakes=1462`); must not
    /// change from one round to the next.
    pub detail: String,
}

impl PlaneRun {
    /// Delivered events per wall second of the run loop.
    pub fn events_per_s(&self) -> f64 {
        self.events as f64 / self.run_s
    }
}

/// A ratio with four significant digits (at least four decimals), e.g. `0.01250`, `1.250`.
pub fn fmt_ratio(r: f64) -> String {
    if !r.is_finite() || r <= 0.0 {
        return format!("{r}");
    }
    let decimals = (3 - r.log10().floor() as i64).clamp(4, 15) as usize;
    format!("{r:.decimals$}")
}

/// `--compare-phold` of `secsim bench n32` and `secsim bench capif`: the protocol plane
/// (`plane`, one build and run per call, at `Timing` fidelity) and PHOLD (`phold`, one
/// [`run_secsim`] per round) take turns over `repeat` rounds in this process; the medians
/// (by run-loop wall time; the event counts must agree across rounds) give the protocol
/// plane's and PHOLD's simulated events per wall second and their ratio:
///
/// ```text
/// compare-phold plane=n32 fidelity=Timing repeat=3 phold_lps=1000 phold_init=10 phold_events=10000000
/// n32 (Timing) median of 3: events=... build_s=... run_s=... events_per_s=... handshakes=...
/// phold median of 3: engine=secsim events=10000000 wall_s=... events_per_s=... ...
/// n32 (Timing): 123456 events/s; phold: 9876543 events/s; ratio 0.01250
/// target n32/phold >= 0.05 at Timing: not met
/// ```
pub fn against_phold(
    label: &str,
    target: f64,
    repeat: u32,
    phold: &Params,
    mut plane: impl FnMut() -> Result<PlaneRun, String>,
) -> Result<String, String> {
    if repeat == 0 {
        return Err("--repeat must be at least 1".into());
    }
    let mut planes: Vec<PlaneRun> = Vec::new();
    let mut pholds: Vec<Report> = Vec::new();
    for _ in 0..repeat {
        let p = plane()?;
        if let Some(first) = planes.first()
            && (first.events, &first.detail) != (p.events, &p.detail)
        {
            return Err(format!(
                "{label}: rounds differ ({} events, {} then {} events, {}): a determinism bug",
                first.events, first.detail, p.events, p.detail
            ));
        }
        planes.push(p);
        pholds.push(run_secsim(phold).0);
    }
    planes.sort_by(|a, b| a.run_s.total_cmp(&b.run_s));
    let ours = planes.swap_remove(planes.len() / 2);
    let theirs = median(pholds)?;
    let (a, b) = (ours.events_per_s(), theirs.events_per_s());
    let ratio = a / b;
    let mut out = format!(
        "compare-phold plane={label} fidelity=Timing repeat={repeat} phold_lps={} phold_init={} phold_events={}\n",
        phold.lps, phold.init, phold.events
    );
    out.push_str(&format!(
        "{label} (Timing) median of {repeat}: events={} build_s={:.3} run_s={:.3} events_per_s={a:.0}{}{}\n",
        ours.events,
        ours.build_s,
        ours.run_s,
        if ours.detail.is_empty() { "" } else { " " },
        ours.detail
    ));
    out.push_str(&format!("phold median of {repeat}: {}\n", theirs.line()));
    out.push_str(&format!(
        "{label} (Timing): {a:.0} events/s; phold: {b:.0} events/s; ratio {}\n",
        fmt_ratio(ratio)
    ));
    out.push_str(&format!(
        "target {label}/phold >= {target} at Timing: {}\n",
        if ratio >= target { "met" } else { "not met" }
    ));
    Ok(out)
}

/// The `--compare-phold` flags of `bench n32` and `bench capif`.
#[derive(clap::Args, Clone, Debug)]
pub struct ComparePholdArgs {
    /// Run the plane at `Timing` fidelity and the PHOLD benchmark (`bench phold`'s defaults)
    /// in turns in this process, and print both events/s (run loop only) and their ratio.
    #[arg(long, conflicts_with = "fidelity")]
    pub compare_phold: bool,
    /// PHOLD events per round for `--compare-phold` (1000 LPs x 10 as in `bench phold`).
    #[arg(
        long,
        default_value_t = 10_000_000,
        requires = "compare_phold",
        conflicts_with = "fidelity"
    )]
    pub phold_events: u64,
}

impl Default for ComparePholdArgs {
    fn default() -> Self {
        ComparePholdArgs {
            compare_phold: false,
            phold_events: 10_000_000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(lps: u64, init: u64, events: u64, remote: f64, seed: u64) -> Params {
        PholdArgs {
            lps,
            init,
            events,
            remote,
            seed,
            ..PholdArgs::default()
        }
        .params()
        .unwrap()
    }

    fn secsim_digest(p: &Params) -> (u64, u64, u64) {
        let (r, _) = run_secsim(p);
        (r.digest, r.sim_end_ticks, r.events)
    }

    fn baseline_digest(p: &Params, q: BaselineQueue) -> (u64, u64, u64) {
        let r = baseline::run(p, q);
        (r.digest, r.sim_end_ticks, r.events)
    }

    #[test]
    fn secsim_matches_baselines_small() {
        for (lps, init, events, remote, seed) in [
            (100, 10, 200_000, 0.5, 1),
            (100, 10, 200_000, 0.0, 2),
            (100, 10, 200_000, 1.0, 3),
            (7, 1, 50_000, 0.5, 4),
            (1, 3, 20_000, 1.0, 5),
            (50, 40, 100_000, 0.3, 0xDEAD_BEEF),
        ] {
            let p = params(lps, init, events, remote, seed);
            let ours = secsim_digest(&p);
            assert_eq!(ours.2, events);
            for q in [BaselineQueue::Binary, BaselineQueue::Quad, BaselineQueue::Radix] {
                assert_eq!(ours, baseline_digest(&p, q), "{q:?} lps={lps} init={init} seed={seed}");
            }
        }
    }

    /// Ties are frequent when the exponential part is zero: the FIFO order decides.
    #[test]
    fn secsim_matches_baseline_with_ties() {
        let mut p = params(20, 5, 30_000, 0.5, 9);
        p.mean_ticks = 0.0;
        p.lookahead_ticks = 3;
        assert_eq!(secsim_digest(&p), baseline_digest(&p, BaselineQueue::Binary));
    }

    /// The (**) rows of the suite's README tables: golden digests for smaller event counts.
    #[test]
    fn readme_digests_for_smaller_event_counts() {
        for (init, events, digest) in [
            (10, 200_000, "1ab41cbdc380ead2"),
            (10, 1_000_000, "a66a006c9a681af0"),
            (1000, 200_000, "008b010bfe3f4e03"),
            (1000, 300_000, "0102e5155e859a3c"),
            (1000, 1_000_000, "08215a60050c0f79"),
        ] {
            let p = params(1000, init, events, 0.5, 1);
            assert_eq!(
                format!("{:016x}", secsim_digest(&p).0),
                digest,
                "1000 x {init}, {events} events"
            );
        }
    }

    #[test]
    fn run_prints_the_suite_line_and_ratios() {
        let args = PholdArgs {
            lps: 10,
            init: 2,
            events: 1000,
            compare: true,
            repeat: 1,
            ..PholdArgs::default()
        };
        let out = run(&args).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 4, "{out}");
        assert!(lines[0].starts_with("engine=secsim events=1000 wall_s="), "{out}");
        assert!(lines[0].contains(" bytes_per_pending="), "{out}");
        assert!(lines[1].starts_with("engine=rust-binaryheap events=1000 "), "{out}");
        assert!(lines[3].starts_with("ratio secsim/binary="), "{out}");
        let plain = run(&PholdArgs { compare: false, ..args }).unwrap();
        assert_eq!(plain.lines().count(), 1);
        assert!(plain.trim_end().ends_with(|c: char| c.is_ascii_digit()), "{plain}");
    }

    #[test]
    fn ratios_keep_four_significant_digits() {
        assert_eq!(fmt_ratio(0.0125), "0.01250");
        assert_eq!(fmt_ratio(0.000_123_456), "0.0001235");
        assert_eq!(fmt_ratio(1.25), "1.2500");
        assert_eq!(fmt_ratio(12.5), "12.5000");
    }

    #[test]
    fn against_phold_prints_the_ratio_of_the_medians() {
        let phold = params(10, 2, 1000, 0.5, 1);
        let mut k = 0.0;
        let out = against_phold("toy", 0.05, 3, &phold, || {
            k += 1.0;
            Ok(PlaneRun {
                events: 500,
                build_s: 0.1,
                run_s: 0.001 * k,
                detail: "ok=1".into(),
            })
        })
        .unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 5, "{out}");
        assert!(
            lines[1]
                .starts_with("toy (Timing) median of 3: events=500 build_s=0.100 run_s=0.002 events_per_s=250000 ok=1"),
            "{out}"
        );
        assert!(lines[3].starts_with("toy (Timing): 250000 events/s; phold: "), "{out}");
        let mut n = 0;
        let err = against_phold("toy", 0.05, 2, &phold, || {
            n += 1;
            Ok(PlaneRun {
                events: n,
                build_s: 0.0,
                run_s: 1.0,
                detail: String::new(),
            })
        })
        .unwrap_err();
        assert!(err.contains("determinism"), "{err}");
    }

    #[test]
    fn bad_flags_are_errors() {
        let bad = [
            PholdArgs {
                lps: 0,
                ..PholdArgs::default()
            },
            PholdArgs {
                init: 0,
                ..PholdArgs::default()
            },
            PholdArgs {
                remote: 1.5,
                ..PholdArgs::default()
            },
            PholdArgs {
                remote: f64::NAN,
                ..PholdArgs::default()
            },
            PholdArgs {
                lookahead: 0.0,
                ..PholdArgs::default()
            },
            PholdArgs {
                lookahead: f64::INFINITY,
                ..PholdArgs::default()
            },
            PholdArgs {
                mean: -1.0,
                ..PholdArgs::default()
            },
            PholdArgs {
                repeat: 0,
                ..PholdArgs::default()
            },
            PholdArgs {
                lps: 1 << 20,
                init: 1 << 20,
                ..PholdArgs::default()
            },
        ];
        for args in bad {
            let err = run(&args).unwrap_err();
            assert!(err.starts_with("--"), "{err}");
        }
    }

    #[test]
    fn sizes_beyond_the_node_and_pending_limits_are_refused() {
        let params = |lps, init| {
            PholdArgs {
                lps,
                init,
                ..PholdArgs::default()
            }
            .params()
        };
        assert!(
            params(MAX_NODES + 1, 1)
                .unwrap_err()
                .contains("limit of 250000 logical processes")
        );
        assert!(
            params(100_000, 161)
                .unwrap_err()
                .contains("limit of 16000000 pending events")
        );
        assert!(params(1000, u64::MAX).unwrap_err().contains("pending events"));
        assert!(params(100_000, 160).is_ok());
    }
}
