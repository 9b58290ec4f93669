//! `secsim bench capif`: full CAPIF flows per wall-clock second, per crypto fidelity.
//!
//! The scenario is built in code (RON text parsed and validated by the crate's scenario
//! loader, so it is exactly what a file would give): one CAPIF provider (CCF `ccf-a`, APF
//! `apf-a`, AEF `aef-a1` behind router `gw-a`) and `--invokers N` API invokers on the Internet
//! side (behind router `access`, one-way latency to it log-normal with a median of 2 to 40 ms,
//! no loss), as in `topologies/capif-storm-1000.ron`. Invoker `k` joins flow `k mod 3`: the
//! three Capif flows prefer only `PSK`, only `PKI` or only `OAUTH`, so the methods split
//! evenly. Each invoker onboards at a time spread uniformly over `--seconds S`, negotiates
//! its method, authenticates on CAPIF-2e and invokes once (the first invocation follows the
//! authentication at once; the next would be due after 10^6 s, beyond the run). The run
//! lasts `S + 30` simulated seconds, so every flow can finish.
//!
//! A *flow* is an invoker whose first `capif_invocation` record is `Ok`; flows/s divides
//! flows by the wall time of building the world plus running it (both also printed). The
//! output is a table, one row per fidelity, and the ratio of `full` to `timing`. With
//! `--repeat K` the fidelities take turns over K rounds and each row is the median round
//! (by wall time), so a change of load on a shared machine hits every fidelity alike:
//!
//! ```text
//! bench=capif invokers=1000 spread_s=10 sim_s=40 seed=1 repeat=1
//! fidelity  flows     of   PSK   PKI OAUTH    events  build_s    run_s   wall_s flows_per_s events_per_s
//! ...
//! ratio full/timing flows_per_s=...
//! ```
//!
//! With `--compare-phold` only `Timing` runs, taking turns with the PHOLD benchmark over
//! `--repeat` rounds (default 3 here) in this process ([`super::phold::against_phold`]);
//! events/s there counts the run loop only (`Sim::run`), as PHOLD's does.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use crate::crypto::cost::CryptoFidelity;
use crate::engine::{Limits, SimTime, StopReason};
use crate::metrics::Outcome;
use crate::run::DEFAULT_MAX_EVENTS;
use crate::scenario::generate::MAX_NODES;
use crate::scenario::{ExperimentFile, TopologyFile, parse_experiment_str, parse_topology_str, validate};

use super::phold::{ComparePholdArgs, PholdArgs, PlaneRun, against_phold};

/// Issue 13: CAPIF at `Timing` should reach this fraction of PHOLD's events/s.
pub const PHOLD_TARGET: f64 = 0.02;

/// The three flows: label and the single method each prefers.
const METHODS: [&str; 3] = ["PSK", "PKI", "OAUTH"];
/// Simulated seconds after the last onboarding start, for the last flows to finish.
const DRAIN_S: u64 = 30;
/// Nodes of the topology besides the invokers: CCF, APF, AEF and the two routers.
const FIXED_NODES: u64 = 5;

/// Flags of `secsim bench capif`.
#[derive(clap::Args, Clone, Debug)]
pub struct CapifBenchArgs {
    /// API invokers (split evenly across PSK, PKI and OAUTH); at most the topology
    /// generators' node limit (100,000) less the 5 other nodes.
    #[arg(long, default_value_t = 1000)]
    pub invokers: u32,
    /// Crypto fidelities to measure, in order (`full`, `keys`, `timing` or `all`).
    #[arg(long, value_delimiter = ',', default_value = "all")]
    pub fidelity: Vec<String>,
    /// Simulated seconds over which the invokers' onboardings are spread.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Master seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Rounds; the fidelities take turns and each row is the round with the median wall time
    /// (default 1, or 3 with `--compare-phold`).
    #[arg(long)]
    pub repeat: Option<u32>,
    #[command(flatten)]
    pub phold: ComparePholdArgs,
}

impl CapifBenchArgs {
    /// `--repeat`, or its default.
    pub fn rounds(&self) -> u32 {
        self.repeat
            .unwrap_or(if self.phold.compare_phold { 3 } else { 1 })
            .max(1)
    }
}

impl Default for CapifBenchArgs {
    fn default() -> Self {
        CapifBenchArgs {
            invokers: 1000,
            fidelity: vec!["all".into()],
            seconds: 10,
            seed: 1,
            repeat: None,
            phold: ComparePholdArgs::default(),
        }
    }
}

/// What one fidelity measured.
#[derive(Clone, Debug)]
pub struct CapifBenchRow {
    pub fidelity: CryptoFidelity,
    /// Invokers whose first invocation succeeded.
    pub flows: usize,
    /// Of those, by the method of the invocation (`PSK`, `PKI`, `OAUTH`).
    pub by_method: BTreeMap<String, usize>,
    /// Delivered engine events.
    pub events: u64,
    /// Why the run stopped.
    pub stop: StopReason,
    /// Wall seconds: building the world, running it.
    pub build_s: f64,
    pub run_s: f64,
}

impl CapifBenchRow {
    /// Build plus run.
    pub fn wall_s(&self) -> f64 {
        self.build_s + self.run_s
    }

    /// Full CAPIF flows per wall second (build plus run).
    pub fn flows_per_s(&self) -> f64 {
        self.flows as f64 / self.wall_s()
    }
}

fn parse_fidelities(list: &[String]) -> Result<Vec<CryptoFidelity>, String> {
    let mut out = Vec::new();
    for f in list {
        match f.trim().to_ascii_lowercase().as_str() {
            "all" => out.extend([CryptoFidelity::Full, CryptoFidelity::Keys, CryptoFidelity::Timing]),
            "full" => out.push(CryptoFidelity::Full),
            "keys" => out.push(CryptoFidelity::Keys),
            "timing" => out.push(CryptoFidelity::Timing),
            other => {
                return Err(format!(
                    "--fidelity: unknown fidelity `{other}` (full, keys, timing, all)"
                ));
            }
        }
    }
    Ok(out)
}

/// Invoker `k`'s node name (1-based, zero-padded to at least four digits).
fn invoker_name(k: u32, width: usize) -> String {
    format!("invoker-{k:0width$}")
}

/// The topology in RON: one provider, `n` invokers behind an access router.
pub fn topology_ron(n: u32) -> String {
    let width = n.to_string().len().max(4);
    let mut s = String::from(
        "Topology(\n    domains: [(name: \"provider-a\", kind: CapifProvider), (name: \"internet\", kind: Other)],\n    \
         nodes: [\n        (name: \"ccf-a\", domain: \"provider-a\", role: Ccf),\n        \
         (name: \"apf-a\", domain: \"provider-a\", role: Apf),\n        \
         (name: \"aef-a1\", domain: \"provider-a\", role: Aef),\n        \
         (name: \"gw-a\", domain: \"provider-a\", role: Router),\n        \
         (name: \"access\", domain: \"internet\", role: Router),\n",
    );
    for k in 1..=n {
        let _ = writeln!(
            s,
            "        (name: \"{}\", domain: \"internet\", role: Invoker),",
            invoker_name(k, width)
        );
    }
    s.push_str(
        "    ],\n    links: [\n        \
         (source: \"ccf-a\", target: \"gw-a\", latency: Uniform(min: \"200us\", max: \"500us\")),\n        \
         (source: \"apf-a\", target: \"gw-a\", latency: Uniform(min: \"200us\", max: \"500us\")),\n        \
         (source: \"aef-a1\", target: \"gw-a\", latency: Uniform(min: \"200us\", max: \"500us\")),\n        \
         (source: \"access\", target: \"gw-a\", latency: LogNormal(median: \"10ms\", sigma: 0.1), \
         bandwidth_mbps: Some(10000.0)),\n",
    );
    for k in 1..=n {
        // Medians spread over [2, 40) ms, deterministic in k.
        let tenth_ms = 20 + (u64::from(k) * 2_654_435_761 % 380);
        let _ = writeln!(
            s,
            "        (source: \"{}\", target: \"access\", latency: LogNormal(median: \"{}.{}ms\", sigma: 0.2)),",
            invoker_name(k, width),
            tenth_ms / 10,
            tenth_ms % 10
        );
    }
    s.push_str("    ],\n)\n");
    s
}

/// The experiment in RON: three Capif flows (only PSK, only PKI, only OAUTH), one
/// invocation each, onboardings spread over `spread_s`.
pub fn experiment_ron(n: u32, spread_s: u64, fidelity: CryptoFidelity) -> String {
    let width = n.to_string().len().max(4);
    let mut s = format!(
        "Experiment(\n    name: \"bench-capif\",\n    topology: \"bench-capif-topology.ron\",\n    \
         duration: \"{}s\",\n    crypto: (fidelity: {fidelity:?}),\n    outputs: (plots: false),\n    workload: [\n",
        spread_s.saturating_add(DRAIN_S)
    );
    for (fi, method) in METHODS.iter().enumerate() {
        let members: Vec<String> = (1..=n)
            .filter(|k| (k - 1) as usize % METHODS.len() == fi)
            .map(|k| format!("\"{}\"", invoker_name(k, width)))
            .collect();
        if members.is_empty() {
            continue;
        }
        let _ = writeln!(
            s,
            "        Capif((name: Some(\"{m}\"), invokers: [{}], ccf: \"ccf-a\", aef: \"aef-a1\", \
             prefs: Some([\"{method}\"]), arrival: Periodic(interval: \"1000000s\"), \
             start_spread: Some(\"{spread_s}s\"))),",
            members.join(", "),
            m = method.to_ascii_lowercase(),
        );
    }
    s.push_str("    ],\n)\n");
    s
}

/// Builds and validates the scenario.
pub fn scenario(n: u32, spread_s: u64, fidelity: CryptoFidelity) -> Result<(TopologyFile, ExperimentFile), String> {
    let tpath = Path::new("<bench capif>/bench-capif-topology.ron");
    let epath = Path::new("<bench capif>/bench-capif.ron");
    let topo = parse_topology_str(&topology_ron(n), tpath).map_err(|e| e.to_string())?;
    let exp = parse_experiment_str(&experiment_ron(n, spread_s, fidelity), epath).map_err(|e| e.to_string())?;
    if let Some(issue) = validate::workload_on(&exp, &topo, tpath).into_iter().next() {
        return Err(format!("{}: {}: {}", epath.display(), issue.field, issue.message));
    }
    Ok((topo, exp))
}

/// Builds and runs the scenario at one fidelity.
pub fn measure(n: u32, spread_s: u64, seed: u64, fidelity: CryptoFidelity) -> Result<CapifBenchRow, String> {
    let (topo, exp) = scenario(n, spread_s, fidelity)?;
    let t0 = Instant::now();
    let mut sim = crate::build::simulation(&topo, &exp, seed).map_err(|e| e.to_string())?;
    let build_s = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let s = sim.run(Limits {
        until: SimTime::ZERO + exp.duration,
        max_events: exp.max_events.unwrap_or(DEFAULT_MAX_EVENTS),
    });
    let run_s = t1.elapsed().as_secs_f64();

    // First capif_invocation record per invoker (records are appended in time order).
    let mut first: BTreeMap<&str, (&str, Outcome)> = BTreeMap::new();
    for r in sim.world.records.iter().filter(|r| r.procedure == "capif_invocation") {
        first
            .entry(r.initiator.as_str())
            .or_insert((r.variant.as_str(), r.outcome));
    }
    let mut by_method: BTreeMap<String, usize> = METHODS.iter().map(|m| (m.to_string(), 0)).collect();
    for (method, outcome) in first.values() {
        if *outcome == Outcome::Ok {
            *by_method.entry(method.to_string()).or_default() += 1;
        }
    }
    Ok(CapifBenchRow {
        fidelity,
        flows: by_method.values().sum(),
        by_method,
        events: s.events,
        stop: s.reason,
        build_s,
        run_s,
    })
}

/// Runs the benchmark; returns the printed table.
pub fn run(args: &CapifBenchArgs) -> Result<String, String> {
    if args.invokers == 0 {
        return Err("--invokers: must be at least 1".into());
    }
    // The scenario is a generated topology: the topology generators' node limit applies.
    let nodes = u64::from(args.invokers) + FIXED_NODES;
    if nodes > MAX_NODES {
        return Err(format!(
            "--invokers {}: the benchmark's topology would have {nodes} nodes ({FIXED_NODES} provider and \
             access nodes besides the invokers), above the topology generators' limit of {MAX_NODES} nodes; \
             give at most --invokers {}",
            args.invokers,
            MAX_NODES - FIXED_NODES
        ));
    }
    if args.seconds == 0 {
        return Err("--seconds: must be at least 1".into());
    }
    if args.phold.compare_phold {
        let phold = PholdArgs {
            events: args.phold.phold_events,
            repeat: args.rounds(),
            ..PholdArgs::default()
        }
        .params()?;
        return against_phold("capif", PHOLD_TARGET, args.rounds(), &phold, || {
            let r = measure(args.invokers, args.seconds, args.seed, CryptoFidelity::Timing)?;
            Ok(PlaneRun {
                events: r.events,
                build_s: r.build_s,
                run_s: r.run_s,
                detail: format!(
                    "flows={}/{} (PSK {}, PKI {}, OAUTH {}) stop={:?}",
                    r.flows, args.invokers, r.by_method["PSK"], r.by_method["PKI"], r.by_method["OAUTH"], r.stop
                ),
            })
        });
    }
    let fidelities = parse_fidelities(&args.fidelity)?;
    let mut runs: Vec<Vec<CapifBenchRow>> = vec![Vec::new(); fidelities.len()];
    for _ in 0..args.rounds() {
        for (i, &f) in fidelities.iter().enumerate() {
            let r = measure(args.invokers, args.seconds, args.seed, f)?;
            if let Some(prev) = runs[i].first()
                && (prev.flows, prev.events) != (r.flows, r.events)
            {
                return Err(format!("{f:?}: rounds differ (flows, events): a determinism bug"));
            }
            runs[i].push(r);
        }
    }
    let rows: Vec<CapifBenchRow> = runs
        .into_iter()
        .map(|mut v| {
            v.sort_by(|a, b| a.wall_s().total_cmp(&b.wall_s()));
            v.swap_remove(v.len() / 2)
        })
        .collect();
    Ok(table(args, &rows))
}

/// Formats the rows as the command prints them.
pub fn table(args: &CapifBenchArgs, rows: &[CapifBenchRow]) -> String {
    let mut out = format!(
        "bench=capif invokers={} spread_s={} sim_s={} seed={} repeat={}\n",
        args.invokers,
        args.seconds,
        args.seconds.saturating_add(DRAIN_S),
        args.seed,
        args.rounds()
    );
    let _ = writeln!(
        out,
        "{:<8} {:>6} {:>6} {:>5} {:>5} {:>5} {:>9} {:>8} {:>8} {:>8} {:>11} {:>12}",
        "fidelity",
        "flows",
        "of",
        "PSK",
        "PKI",
        "OAUTH",
        "events",
        "build_s",
        "run_s",
        "wall_s",
        "flows_per_s",
        "events_per_s"
    );
    for r in rows {
        let m = |k: &str| r.by_method.get(k).copied().unwrap_or(0);
        let _ = write!(
            out,
            "{:<8} {:>6} {:>6} {:>5} {:>5} {:>5} {:>9} {:>8.3} {:>8.3} {:>8.3} {:>11.0} {:>12.0}",
            format!("{:?}", r.fidelity).to_ascii_lowercase(),
            r.flows,
            args.invokers,
            m("PSK"),
            m("PKI"),
            m("OAUTH"),
            r.events,
            r.build_s,
            r.run_s,
            r.wall_s(),
            r.flows_per_s(),
            r.events as f64 / r.wall_s(),
        );
        if r.stop == StopReason::EventLimit {
            out.push_str("  (stopped at the event limit)");
        }
        out.push('\n');
    }
    let find = |f: CryptoFidelity| rows.iter().find(|r| r.fidelity == f);
    if let (Some(full), Some(timing)) = (find(CryptoFidelity::Full), find(CryptoFidelity::Timing)) {
        let _ = writeln!(
            out,
            "ratio full/timing flows_per_s={:.3} (timing is {:.1}x faster)",
            full.flows_per_s() / timing.flows_per_s(),
            timing.flows_per_s() / full.flows_per_s()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nine_invokers_all_flows_complete_at_timing() {
        let r = measure(9, 2, 1, CryptoFidelity::Timing).expect("bench runs");
        assert_eq!(r.flows, 9, "{r:?}");
        for m in METHODS {
            assert_eq!(r.by_method[m], 3, "{r:?}");
        }
        assert_ne!(r.stop, StopReason::EventLimit);
    }

    #[test]
    fn unknown_fidelity_is_refused() {
        let args = CapifBenchArgs {
            fidelity: vec!["fast".into()],
            ..CapifBenchArgs::default()
        };
        assert!(run(&args).unwrap_err().contains("unknown fidelity"));
    }

    #[test]
    fn invokers_beyond_the_generators_node_limit_are_refused() {
        let args = |invokers| CapifBenchArgs {
            invokers,
            fidelity: vec!["fast".into()],
            ..CapifBenchArgs::default()
        };
        let e = run(&args(u32::MAX)).unwrap_err();
        assert!(e.contains("--invokers") && e.contains("limit of 250000 nodes"), "{e}");
        let e = run(&args((MAX_NODES - FIXED_NODES + 1) as u32)).unwrap_err();
        assert!(e.contains("give at most --invokers 249995"), "{e}");
        // At the limit, the size passes and the next check (the fidelity) answers.
        let e = run(&args((MAX_NODES - FIXED_NODES) as u32)).unwrap_err();
        assert!(e.contains("unknown fidelity"), "{e}");
    }
}
