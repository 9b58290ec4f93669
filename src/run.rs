//! Running an experiment: one simulation per seed, in parallel, then the outputs.
//!
//! ```text
//!  experiment.ron ─load─► Scenario ─┬─ seed 1 ─► SimWorld ─► Sim::run ─► records ─┐
//!                                   ├─ seed 2 ─► ...                             ├─► results/<name>/
//!                                   └─ seed N ─► ...   (rayon, any thread count)  ┘
//! ```
//!
//! Results are collected in seed order, so every output file is byte-identical whatever the
//! number of threads; only `manifest.json` carries the wall time and thread count. Files are
//! written to a temporary name and renamed, so a reader never sees half a file. A seed that
//! fails does not lose the other seeds' results: they are written and the failure reported.
//!
//! Outputs in the results folder:
//! - `manifest.json`: secsim version, git commit, scenario hash, seeds, per-seed event
//!   counts and trace hashes, wall time.
//! - `records.csv`: one row per procedure run (see [`crate::metrics::csv`]).
//! - `summary.csv`: counts and latency statistics per procedure and variant.
//! - `latency_cdf.svg` / `.png`: latency CDF per variant (successful procedures).
//! - with `--trace`: `trace.jsonl` (one seed) or `trace-seed-<S>.jsonl` (several), one JSON
//!   line per delivered message.

use std::fs;
use std::io::{BufWriter, IsTerminal};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde_json::json;

use crate::engine::Sim;
use crate::engine::{Limits, SimTime, StopReason, TraceSink};
use crate::metrics::csv::{RECORDS_HEADER, RowContext, summary, write_records};
use crate::metrics::plot::{self, Series};
use crate::metrics::{Outcome, Record};
use crate::scenario::{Scenario, ScenarioError, load_experiment};
use crate::world::{BuildError, SimWorld};

/// Default bound on delivered events per run.
pub const DEFAULT_MAX_EVENTS: u64 = 100_000_000;

/// How to run an experiment.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Run seeds `1..=N` instead of the experiment's list.
    pub seeds: Option<u64>,
    /// Results folder; default `results/<experiment name>`.
    pub out: Option<PathBuf>,
    /// Write trace files.
    pub trace: bool,
    /// Worker threads; default all cores.
    pub threads: Option<usize>,
    /// Never draw a progress bar (plain log lines only when not quiet).
    pub quiet: bool,
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Bad input: exit code 2.
    #[error("{0}")]
    Scenario(#[from] ScenarioError),
    /// The scenario loaded but a world could not be built from it: exit code 2.
    #[error("{path}: {error}")]
    Build { path: String, error: BuildError },
    /// Writing results failed.
    #[error("{path}: {error}")]
    Io { path: String, error: std::io::Error },
    /// Some seeds failed; the others' results were written.
    #[error("{failed} of {total} seeds failed (results of the others are in {dir}): {first}")]
    Seeds {
        failed: usize,
        total: usize,
        dir: String,
        first: String,
    },
    #[error("cannot start worker threads: {0}")]
    Threads(String),
}

impl RunError {
    /// The process exit code for this error: 2 for bad input, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            RunError::Scenario(_) | RunError::Build { .. } => 2,
            _ => 1,
        }
    }
}

/// What one seed produced.
#[derive(Clone, Debug)]
pub struct SeedResult {
    pub seed: u64,
    pub records: Vec<Record>,
    pub events: u64,
    pub sim_end: SimTime,
    pub stop: StopReason,
    pub connections: usize,
    pub trace_hash: Option<String>,
    /// Crypto operations charged during the run, by kind.
    pub crypto_ops: std::collections::BTreeMap<String, u64>,
}

/// What a whole run produced.
#[derive(Clone, Debug)]
pub struct RunSummary {
    pub dir: PathBuf,
    pub seeds: Vec<SeedResult>,
    pub wall_s: f64,
}

/// Runs one seed. `progress` receives the fraction of simulated time done.
pub fn run_seed(
    scn: &Scenario,
    seed: u64,
    trace: Option<Option<TraceSink>>,
    progress: &(dyn Fn(f64) + Sync),
) -> Result<SeedResult, BuildError> {
    let exp = &scn.experiment;
    let world = SimWorld::build(&scn.topology, exp, seed)?;
    let initial = world.initial_events();
    let mut sim = Sim::new(world);
    if let Some(sink) = trace {
        sim.enable_trace(sink);
    }
    for (t, node, msg) in initial {
        sim.schedule(t, node, msg);
    }
    let end = SimTime::ZERO + exp.duration;
    let max_events = exp.max_events.unwrap_or(DEFAULT_MAX_EVENTS);
    const STEPS: u64 = 50;
    let mut events = 0;
    let mut stop = StopReason::Exhausted;
    for step in 1..=STEPS {
        let until = SimTime::from_nanos(((end.as_nanos() as u128 * step as u128) / STEPS as u128) as u64);
        let s = sim.run(Limits {
            until,
            max_events: max_events - events,
        });
        events += s.events;
        stop = s.reason;
        progress(step as f64 / STEPS as f64);
        if matches!(s.reason, StopReason::EventLimit | StopReason::Stopped) {
            break;
        }
    }
    let _ = sim.finish_trace();
    let trace_hash = sim.trace_hash();
    let sim_end = sim.now();
    let connections = sim.world.net.conn_count();
    let crypto_ops = sim
        .world
        .net
        .sec
        .cpu
        .ops
        .iter()
        .map(|(op, n)| (format!("{op:?}"), *n))
        .collect();
    Ok(SeedResult {
        seed,
        records: std::mem::take(&mut sim.world.records),
        events,
        sim_end,
        stop,
        connections,
        trace_hash,
        crypto_ops,
    })
}

/// The git commit of the checkout holding `dir`, if any.
pub fn git_commit(dir: &Path) -> String {
    std::process::Command::new("git")
        .arg("-C")
        .arg(if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        })
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown".to_string())
}

/// Writes `bytes` to `path` atomically (temporary file, then rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RunError> {
    let tmp = path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    fs::write(&tmp, bytes)
        .and_then(|_| fs::rename(&tmp, path))
        .map_err(|error| RunError::Io {
            path: path.display().to_string(),
            error,
        })
}

/// Loads, runs every seed and writes the results folder.
pub fn run_experiment(path: &Path, opts: &RunOptions) -> Result<RunSummary, RunError> {
    let scn = load_experiment(path)?;
    let exp = &scn.experiment;
    let seeds: Vec<u64> = match opts.seeds {
        Some(n) => (1..=n).collect(),
        None => exp.seeds.clone().unwrap_or_else(|| vec![1]),
    };
    // Build one world up front so that scenario problems surface as input errors (exit 2)
    // before any work is done.
    SimWorld::build(&scn.topology, exp, seeds[0]).map_err(|error| RunError::Build {
        path: path.display().to_string(),
        error,
    })?;
    let dir = opts.out.clone().unwrap_or_else(|| Path::new("results").join(&exp.name));
    fs::create_dir_all(&dir).map_err(|error| RunError::Io {
        path: dir.display().to_string(),
        error,
    })?;

    let started = Instant::now();
    let trace_file = |seed: u64| -> PathBuf {
        if seeds.len() == 1 {
            dir.join("trace.jsonl")
        } else {
            dir.join(format!("trace-seed-{seed}.jsonl"))
        }
    };
    let bar = if !opts.quiet && std::io::stderr().is_terminal() {
        let b = ProgressBar::new(seeds.len() as u64 * 1000);
        b.set_style(
            ProgressStyle::with_template("{spinner} {msg} [{bar:40}] {percent:>3}% elapsed {elapsed} eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b.set_message(format!("{} ({} seeds)", exp.name, seeds.len()));
        Some(b)
    } else {
        None
    };
    let done = Mutex::new(0usize);
    let work = |&seed: &u64| -> Result<SeedResult, String> {
        let sink: Option<Option<TraceSink>> = if opts.trace || exp.outputs.trace {
            let p = trace_file(seed);
            let f = fs::File::create(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            Some(Some(Box::new(BufWriter::new(f))))
        } else {
            None
        };
        let last = Mutex::new(0u64);
        let progress = |frac: f64| {
            if let Some(b) = &bar {
                let now = (frac * 1000.0) as u64;
                let mut l = last.lock().unwrap_or_else(|e| e.into_inner());
                b.inc(now.saturating_sub(*l));
                *l = now;
            }
        };
        let r = run_seed(&scn, seed, sink, &progress).map_err(|e| format!("seed {seed}: {e}"))?;
        let mut d = done.lock().unwrap_or_else(|e| e.into_inner());
        *d += 1;
        if bar.is_none() && !opts.quiet {
            eprintln!(
                "secsim: {} seed {seed} done ({}/{}): {} events, {} records",
                exp.name,
                *d,
                seeds.len(),
                r.events,
                r.records.len()
            );
        }
        Ok(r)
    };
    let results: Vec<Result<SeedResult, String>> = match opts.threads {
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build()
            .map_err(|e| RunError::Threads(e.to_string()))?
            .install(|| seeds.par_iter().map(work).collect()),
        None => seeds.par_iter().map(work).collect(),
    };
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let wall_s = started.elapsed().as_secs_f64();
    let (ok, failed): (Vec<_>, Vec<_>) = results.into_iter().partition(|r| r.is_ok());
    let ok: Vec<SeedResult> = ok.into_iter().filter_map(Result::ok).collect();
    let failed: Vec<String> = failed.into_iter().filter_map(Result::err).collect();

    write_outputs(&scn, &dir, &ok, wall_s, opts)?;
    if let Some(first) = failed.first() {
        return Err(RunError::Seeds {
            failed: failed.len(),
            total: seeds.len(),
            dir: dir.display().to_string(),
            first: first.clone(),
        });
    }
    Ok(RunSummary { dir, seeds: ok, wall_s })
}

fn write_outputs(
    scn: &Scenario,
    dir: &Path,
    runs: &[SeedResult],
    wall_s: f64,
    opts: &RunOptions,
) -> Result<(), RunError> {
    let exp = &scn.experiment;
    let commit = git_commit(scn.experiment_path.parent().unwrap_or(Path::new(".")));
    let ctx = RowContext {
        scenario_hash: &scn.hash,
        commit: &commit,
    };
    let mut rows = String::from(RECORDS_HEADER);
    for r in runs {
        write_records(&mut rows, &ctx, r.seed, &r.records);
    }
    write_atomic(&dir.join("records.csv"), rows.as_bytes())?;
    let by_seed: Vec<(u64, Vec<Record>)> = runs.iter().map(|r| (r.seed, r.records.clone())).collect();
    write_atomic(&dir.join("summary.csv"), summary(&ctx, &by_seed).as_bytes())?;

    if exp.outputs.plots {
        write_plots(&exp.name, dir, runs)?;
    }

    let manifest = json!({
        "secsim_version": env!("CARGO_PKG_VERSION"),
        "git_commit": commit,
        "experiment": exp.name,
        "experiment_file": scn.experiment_path.display().to_string(),
        "topology_file": scn.topology_path.display().to_string(),
        "scenario_hash": scn.hash,
        "seeds": runs.iter().map(|r| r.seed).collect::<Vec<_>>(),
        "runs": runs.iter().map(|r| json!({
            "seed": r.seed,
            "events": r.events,
            "sim_end_ns": r.sim_end.as_nanos(),
            "stop": format!("{:?}", r.stop),
            "records": r.records.len(),
            "connections": r.connections,
            "trace_hash": r.trace_hash,
            "crypto_ops": r.crypto_ops,
        })).collect::<Vec<_>>(),
        "trace": opts.trace || exp.outputs.trace,
        "threads": opts.threads.unwrap_or_else(rayon::current_num_threads),
        "wall_time_s": wall_s,
    });
    let text = serde_json::to_string_pretty(&manifest).unwrap_or_default();
    write_atomic(&dir.join("manifest.json"), text.as_bytes())
}

/// The latency CDFs (requests; N32 handshakes when there are any) and the outcome breakdown.
fn write_plots(name: &str, dir: &Path, runs: &[SeedResult]) -> Result<(), RunError> {
    use std::collections::BTreeMap;
    let io = |e: plot::PlotError| RunError::Io {
        path: e.path.clone(),
        error: std::io::Error::other(e.message),
    };
    let records = || runs.iter().flat_map(|r| &r.records);
    let base = |v: &str| v.split(" [").next().unwrap_or(v).to_string();
    let cdf_of = |procs: &[&str]| -> Vec<Series> {
        let mut groups: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for r in records().filter(|r| procs.contains(&r.procedure) && r.outcome == Outcome::Ok) {
            groups.entry(base(&r.variant)).or_default().push(r.latency_ms());
        }
        groups
            .into_iter()
            .map(|(label, values)| Series { label, values })
            .collect()
    };
    let requests = cdf_of(&["http_request", "cnf_request"]);
    plot::cdf(
        dir,
        "latency_cdf",
        &format!("{name}: request latency (successful)"),
        "latency [ms]",
        &requests,
    )
    .map_err(io)?;
    if records().any(|r| r.procedure == "n32_handshake") {
        let mut groups: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for r in records().filter(|r| r.procedure == "n32_handshake") {
            groups
                .entry(format!("{} ({})", r.variant, r.outcome.as_str()))
                .or_default()
                .push(r.latency_ms());
        }
        let series: Vec<Series> = groups
            .into_iter()
            .map(|(label, values)| Series { label, values })
            .collect();
        plot::cdf(
            dir,
            "handshake_cdf",
            &format!("{name}: N32 handshake duration"),
            "duration [ms]",
            &series,
        )
        .map_err(io)?;
    }
    // Outcomes per flow: what the consumer finally saw, with the status and cause.
    let mut bars: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for r in records().filter(|r| matches!(r.procedure, "http_request" | "cnf_request" | "n32_handshake")) {
        let label = format!("{}: {}", r.procedure, base(&r.variant));
        let cause = r
            .variant
            .split(" [")
            .nth(1)
            .map(|c| c.trim_end_matches(']').to_string());
        let kind = match (r.outcome, cause) {
            (Outcome::Ok, _) => "ok".to_string(),
            (o, Some(c)) => format!("{} {} {c}", o.as_str(), r.status),
            (o, None) => format!("{} {}", o.as_str(), r.status),
        };
        *bars.entry(label).or_default().entry(kind).or_default() += 1;
    }
    let bars: Vec<plot::Breakdown> = bars
        .into_iter()
        .map(|(label, counts)| plot::Breakdown {
            label,
            counts: counts.into_iter().collect(),
        })
        .collect();
    plot::breakdown(
        dir,
        "outcomes",
        &format!("{name}: outcomes (rejections and failures)"),
        &bars,
    )
    .map_err(io)
}
