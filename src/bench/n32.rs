//! `secsim bench n32`: N32 handshakes per wall-clock second on a scenario (by default the
//! 50-PLMN IPX hub, where every SEPP pair re-negotiates every second), at a chosen crypto
//! fidelity. Prints one line per fidelity:
//!
//! ```text
//! bench=n32 experiment=n32-ipx-hub fidelity=Full handshakes=1462 wall_s=4.1 handshakes_per_s=356 events_per_s=...
//! ```
//!
//! Here `wall_s` is the whole of `run_seed` (building the world included). With
//! `--compare-phold` the experiment runs at `Timing` fidelity instead, taking turns with the
//! PHOLD benchmark over `--repeat` rounds ([`super::phold::against_phold`]); its events/s
//! there counts the run loop only (`Sim::run`), as PHOLD's does.

use std::path::PathBuf;
use std::time::Instant;

use crate::crypto::cost::CryptoFidelity;
use crate::engine::{Limits, SimTime, StopReason};
use crate::metrics::Outcome;
use crate::run::{DEFAULT_MAX_EVENTS, run_seed};
use crate::scenario::{Scenario, load_experiment};

use super::phold::{ComparePholdArgs, PholdArgs, PlaneRun, against_phold};

/// Issue 13: N32 at `Timing` should reach this fraction of PHOLD's events/s.
pub const PHOLD_TARGET: f64 = 0.05;

/// Flags of `secsim bench n32`.
#[derive(clap::Args, Clone, Debug)]
#[command(group = clap::ArgGroup::new("compare").args(["compare_phold", "compare_crypto_backends"]))]
pub struct N32BenchArgs {
    /// The experiment to run (its first seed).
    #[arg(long, default_value = "experiments/n32-ipx-hub.ron")]
    pub experiment: PathBuf,
    /// Crypto fidelities to measure, in order.
    #[arg(long, value_delimiter = ',', default_value = "full,timing")]
    pub fidelity: Vec<String>,
    #[command(flatten)]
    pub phold: ComparePholdArgs,
    /// Rounds for `--compare-phold` and `--compare-crypto-backends`; each figure is the median
    /// round.
    #[arg(long, default_value_t = 3, requires = "compare", conflicts_with = "fidelity")]
    pub repeat: u32,
    /// Run the plane at `Full` fidelity with each P-256 backend (`fast`, the default: table
    /// signing and `ring` verification; `rustcrypto`: the `p256` crate) in turns and print
    /// their handshakes/s and ratio.
    #[arg(long, conflicts_with_all = ["fidelity", "compare_phold"])]
    pub compare_crypto_backends: bool,
}

impl Default for N32BenchArgs {
    fn default() -> Self {
        N32BenchArgs {
            experiment: PathBuf::from("experiments/n32-ipx-hub.ron"),
            fidelity: vec!["full".into(), "timing".into()],
            phold: ComparePholdArgs::default(),
            repeat: 3,
            compare_crypto_backends: false,
        }
    }
}

/// Builds the scenario's world (timed apart) and runs it to the end in one `Sim::run`, as
/// `run_seed` does in steps: the same delivered events.
pub fn measure(scn: &Scenario, seed: u64) -> Result<PlaneRun, String> {
    let exp = &scn.experiment;
    let t0 = Instant::now();
    let mut sim = crate::build::simulation(&scn.topology, exp, seed).map_err(|e| e.to_string())?;
    let build_s = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let end = SimTime::ZERO + exp.duration;
    let s = sim.run(Limits {
        until: end,
        max_events: exp.max_events.unwrap_or(DEFAULT_MAX_EVENTS),
    });
    let run_s = t1.elapsed().as_secs_f64();
    // As `run_seed`: what is still under way is recorded as unfinished (not timed).
    sim.world.finish(match s.reason {
        StopReason::EventLimit | StopReason::Stopped => sim.now(),
        _ => end,
    });
    let records = &sim.world.records;
    let handshakes = records
        .iter()
        .filter(|x| x.procedure == "n32_handshake" && x.outcome == Outcome::Ok)
        .count();
    let requests = records.iter().filter(|x| x.procedure == "cnf_request").count();
    Ok(PlaneRun {
        events: s.events,
        build_s,
        run_s,
        detail: format!("handshakes={handshakes} requests={requests} stop={:?}", s.reason),
    })
}

/// Runs the benchmark; returns the printed lines.
pub fn run(args: &N32BenchArgs) -> Result<String, String> {
    let mut scn = load_experiment(&args.experiment).map_err(|e| e.to_string())?;
    let seed = scn.experiment.first_seed();
    if args.compare_crypto_backends {
        return super::crypto_backend::compare(&scn, seed, args.repeat);
    }
    if args.phold.compare_phold {
        let phold = PholdArgs {
            events: args.phold.phold_events,
            repeat: args.repeat,
            ..PholdArgs::default()
        }
        .params()?;
        scn.experiment.crypto.fidelity = CryptoFidelity::Timing;
        return against_phold("n32", PHOLD_TARGET, args.repeat, &phold, || measure(&scn, seed));
    }
    let mut out = String::new();
    for f in &args.fidelity {
        let fidelity = match f.to_ascii_lowercase().as_str() {
            "full" => CryptoFidelity::Full,
            "keys" => CryptoFidelity::Keys,
            "timing" => CryptoFidelity::Timing,
            other => return Err(format!("--fidelity: unknown fidelity `{other}` (full, keys, timing)")),
        };
        scn.experiment.crypto.fidelity = fidelity;
        let started = Instant::now();
        let r = run_seed(&scn, seed, None, &|_| {}).map_err(|e| e.to_string())?;
        let wall = started.elapsed().as_secs_f64();
        let handshakes = r
            .records
            .iter()
            .filter(|x| x.procedure == "n32_handshake" && x.outcome == Outcome::Ok)
            .count();
        let requests = r.records.iter().filter(|x| x.procedure == "cnf_request").count();
        out.push_str(&format!(
            "bench=n32 experiment={} fidelity={fidelity:?} handshakes={handshakes} requests={requests} events={} \
             wall_s={wall:.3} handshakes_per_s={:.0} events_per_s={:.0}\n",
            scn.experiment.name,
            r.events,
            handshakes as f64 / wall,
            r.events as f64 / wall,
        ));
    }
    Ok(out)
}
