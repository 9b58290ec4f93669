//! `secsim bench scale`: how the cost of a whole `secsim run` grows with the size of an IPX
//! scenario (issue 16). For each PLMN count it writes a generated `IpxHub` topology and an
//! experiment with the same workload per PLMN (a ring of N32 flows through the hub, every SEPP
//! pair re-negotiating each second, as the shipped `n32-ipx-hub`), then times, in this process:
//!
//! - `validate`: [`crate::scenario::load::validate_path`] on the experiment (what `secsim
//!   validate` does), and
//! - `whole`: [`crate::run::run_experiment`] (what `secsim run` does: load, validate, build,
//!   simulate, write every output) with one thread.
//!
//! and prints one line per size and one line of ratios against the smallest size:
//!
//! ```text
//! bench=scale plmns=50 events=30713 validate_s=0.002 build_s=0.01 sim_s=0.2 whole_s=0.7 ns_per_event=24361 sim_ns_per_event=7000 peak_rss_mb=60
//! bench=scale ratio plmns=1000/50 ns_per_event_ratio=0.93 sim_ns_per_event_ratio=1.1 target=1.5
//! ```
//!
//! The same seed is then built and run again with the build and the event loop timed apart
//! (`build_s`, `sim_s`; the event counts must agree). `ns_per_event` is `whole_s` over the
//! events simulated, `sim_ns_per_event` the event loop's share; `peak_rss_mb` is the process's peak
//! resident set so far (`VmHWM`; the sizes run smallest first, so each line's figure is that
//! size's peak). Each figure is the median of `--repeat` rounds.

use std::path::Path;
use std::time::Instant;

use crate::run::{RunOptions, run_experiment};
use crate::scenario::load::{load_experiment, validate_path};

/// Issue 16: per-event cost at the largest size within this factor of the smallest's.
pub const RATIO_TARGET: f64 = 1.5;

/// Flags of `secsim bench scale`.
#[derive(clap::Args, Clone, Debug)]
pub struct ScaleBenchArgs {
    /// PLMN counts, smallest first.
    #[arg(long, value_delimiter = ',', default_value = "50,200,1000")]
    pub plmns: Vec<u32>,
    /// Simulated duration of each run, in seconds.
    #[arg(long, default_value_t = 10)]
    pub seconds: u32,
    /// Requests per second of each PLMN's flow.
    #[arg(long, default_value_t = 5.0)]
    pub rate: f64,
    /// Crypto fidelity of the runs (`full`, `keys`, `timing`).
    #[arg(long, default_value = "timing")]
    pub fidelity: String,
    /// Rounds per size; each figure is the median round.
    #[arg(long, default_value_t = 1)]
    pub repeat: u32,
}

impl Default for ScaleBenchArgs {
    fn default() -> Self {
        ScaleBenchArgs {
            plmns: vec![50, 200, 1000],
            seconds: 10,
            rate: 5.0,
            fidelity: "timing".into(),
            repeat: 1,
        }
    }
}

/// The largest PLMN count the benchmark accepts (the topology generator's own limit applies
/// too).
pub const MAX_PLMNS: u32 = 100_000;

/// One size's figures.
#[derive(Clone, Copy, Debug)]
pub struct SizeRun {
    pub plmns: u32,
    pub events: u64,
    pub validate_s: f64,
    /// Building the world (keys, machines, routes) for one seed.
    pub build_s: f64,
    /// The event loop alone (`Sim::run`).
    pub sim_s: f64,
    pub whole_s: f64,
    pub peak_rss_mb: u64,
}

impl SizeRun {
    /// Wall nanoseconds of the whole command per simulated event.
    pub fn ns_per_event(&self) -> f64 {
        self.whole_s * 1e9 / self.events.max(1) as f64
    }

    /// Wall nanoseconds of the event loop alone per simulated event.
    pub fn sim_ns_per_event(&self) -> f64 {
        self.sim_s * 1e9 / self.events.max(1) as f64
    }
}

/// The experiment text for `plmns` PLMNs (topology file `topology`).
pub fn experiment_text(plmns: u32, topology: &str, seconds: u32, rate: f64, fidelity: &str) -> String {
    let terminate: Vec<String> = (1..seconds).map(|s| format!("\"{s}s\"")).collect();
    format!(
        "// secsim bench scale: {plmns} PLMNs around one IPX hub, a ring of N32 flows.\n\
         Experiment(\n    name: \"scale-{plmns}\",\n    topology: \"{topology}\",\n    duration: \"{seconds}s\",\n    \
         seeds: Some([1]),\n    crypto: (fidelity: {fidelity}),\n    \
         n32: (responder_capabilities: Some([\"PRINS\", \"TLS\"]), terminate_at: [{}]),\n    workload: [],\n    \
         workload_generators: [\n        N32Partners((partners: Ring, both_ways: false, via: Some(\"ri-hub\"), \
         rate_per_s: Fixed({rate:?}))),\n    ],\n)\n",
        terminate.join(", ")
    )
}

fn fidelity_name(f: &str) -> Result<&'static str, String> {
    match f.to_ascii_lowercase().as_str() {
        "full" => Ok("Full"),
        "keys" => Ok("Keys"),
        "timing" => Ok("Timing"),
        other => Err(format!("--fidelity: unknown fidelity `{other}` (full, keys, timing)")),
    }
}

/// Peak resident set of this process so far \[MB\] (0 where `/proc` has no figure).
fn peak_rss_mb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Times one size in `dir` (files written there).
pub fn measure(dir: &Path, plmns: u32, args: &ScaleBenchArgs) -> Result<SizeRun, String> {
    let fidelity = fidelity_name(&args.fidelity)?;
    let topo = dir.join(format!("ipx-hub-{plmns}.ron"));
    std::fs::write(&topo, format!("TopologyGenerator(kind: IpxHub(plmns: {plmns}))\n"))
        .map_err(|e| format!("{}: {e}", topo.display()))?;
    let exp = dir.join(format!("scale-{plmns}.ron"));
    let text = experiment_text(
        plmns,
        &format!("ipx-hub-{plmns}.ron"),
        args.seconds,
        args.rate,
        fidelity,
    );
    std::fs::write(&exp, text).map_err(|e| format!("{}: {e}", exp.display()))?;
    let (mut validate, mut whole, mut build, mut sim, mut events) = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), 0);
    for _ in 0..args.repeat.max(1) {
        let t0 = Instant::now();
        validate_path(&exp).map_err(|e| e.to_string())?;
        validate.push(t0.elapsed().as_secs_f64());
        let out = dir.join(format!("out-{plmns}"));
        let opts = RunOptions {
            out: Some(out.clone()),
            threads: Some(1),
            quiet: true,
            ..RunOptions::default()
        };
        let t1 = Instant::now();
        let summary = run_experiment(&exp, &opts).map_err(|e| e.to_string())?;
        whole.push(t1.elapsed().as_secs_f64());
        if let Some(why) = summary.early_stops().first() {
            return Err(format!("{plmns} PLMNs: {why}"));
        }
        events = summary.seeds.iter().map(|s| s.events).sum();
        let _ = std::fs::remove_dir_all(&out);
        // The same seed again, build and event loop timed apart.
        let scn = load_experiment(&exp).map_err(|e| e.to_string())?;
        let parts = super::n32::measure(&scn, 1)?;
        if parts.events != events {
            return Err(format!(
                "{plmns} PLMNs: the timed event loop ran {} events, the run {events}",
                parts.events
            ));
        }
        build.push(parts.build_s);
        sim.push(parts.run_s);
    }
    Ok(SizeRun {
        plmns,
        events,
        validate_s: median(validate),
        build_s: median(build),
        sim_s: median(sim),
        whole_s: median(whole),
        peak_rss_mb: peak_rss_mb(),
    })
}

/// Runs the benchmark; returns the printed lines.
pub fn run(args: &ScaleBenchArgs) -> Result<String, String> {
    if args.plmns.is_empty() {
        return Err("--plmns: give at least one PLMN count".into());
    }
    if let Some(&p) = args.plmns.iter().find(|&&p| !(2..=MAX_PLMNS).contains(&p)) {
        return Err(format!("--plmns: {p} is out of range (2..={MAX_PLMNS})"));
    }
    if !(args.rate.is_finite() && args.rate > 0.0 && args.rate <= 1e4) {
        return Err(format!("--rate: must be above 0 and at most 10000, got {}", args.rate));
    }
    if !(1..=3600).contains(&args.seconds) {
        return Err(format!("--seconds: must be between 1 and 3600, got {}", args.seconds));
    }
    if !(1..=100).contains(&args.repeat) {
        return Err(format!("--repeat: must be between 1 and 100, got {}", args.repeat));
    }
    let dir = std::env::temp_dir().join(format!("secsim-bench-scale-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut sizes: Vec<u32> = args.plmns.clone();
    sizes.sort_unstable();
    sizes.dedup();
    let result = (|| {
        let mut out = String::new();
        let mut runs = Vec::new();
        for &p in &sizes {
            eprintln!("bench scale: {p} PLMNs ...");
            let r = measure(&dir, p, args)?;
            let line = format!(
                "bench=scale plmns={} events={} validate_s={:.3} build_s={:.3} sim_s={:.3} whole_s={:.3} \
                 ns_per_event={:.0} sim_ns_per_event={:.0} peak_rss_mb={}\n",
                r.plmns,
                r.events,
                r.validate_s,
                r.build_s,
                r.sim_s,
                r.whole_s,
                r.ns_per_event(),
                r.sim_ns_per_event(),
                r.peak_rss_mb
            );
            out.push_str(&line);
            runs.push(r);
        }
        let base = runs[0];
        for r in &runs[1..] {
            out.push_str(&format!(
                "bench=scale ratio plmns={}/{} ns_per_event_ratio={:.2} sim_ns_per_event_ratio={:.2} \
                 target={RATIO_TARGET}\n",
                r.plmns,
                base.plmns,
                r.ns_per_event() / base.ns_per_event(),
                r.sim_ns_per_event() / base.sim_ns_per_event()
            ));
        }
        Ok(out)
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}
