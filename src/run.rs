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
//! - `latency_cdf.svg` / `.png`: latency CDF of the successful requests per flow and variant
//!   (when the run has HTTP or cNF requests); `handshake_cdf` (N32 handshakes) and `outcomes`
//!   (outcome breakdown per procedure, flow and variant, the invoker's CAPIF procedures too).
//! - when some record is a CAPIF procedure (`capif_*`):
//!   - `capif_ccf_load.csv`: requests per CCF, 1-second bin and operation, mean per seed
//!     (see [`crate::metrics::csv::ccf_load`]);
//!   - `exposure.csv` (when there are `capif_exposure` records): which items crossed which
//!     domain boundary in which flow, counted over all seeds (see
//!     [`crate::metrics::csv::exposure`]), and `exposure.svg` / `.png`, the same as an item ×
//!     boundary grid;
//!   - `capif_latency_cdf.svg` / `.png`: latency CDFs of the successful onboardings,
//!     negotiations, authentications and invocations, one panel per procedure, one curve per
//!     security method;
//!   - `capif_recovery_timeline.svg` / `.png` (when there are method changes or
//!     `capif_recovery` records): failed invocations and authentications and completed
//!     recoveries per simulated second (mean per seed), with the method changes (and
//!     revocations) marked.
//!
//!   The plots are written only when plots are on; the CSV files always.
//! - with `--trace`: `trace.jsonl` (one seed) or `trace-seed-<S>.jsonl` (several), one JSON
//!   line per delivered message.
//!
//! While it writes, a run holds the folder's lock ([`lock::FolderLock`], `.secsim.lock`) and
//! removes it when done; each file goes through a temporary file of its own, renamed into
//! place, so a finished folder holds neither.

pub mod lock;

use std::fs;
use std::io::{BufWriter, IsTerminal};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde_json::json;

use crate::audit::{AuditEvent, RunAudit};
use crate::engine::{Limits, SimDuration, SimTime, Stall, StopReason, TraceSink};
use crate::metrics::csv::{self, RowContext, summary, write_records};
use crate::metrics::plot::{self, Series};
use crate::metrics::{Outcome, Record};
use crate::scenario::{CapifSpec, Scenario, ScenarioError, load_experiment};
use crate::world::BuildError;

/// Default bound on delivered events per run.
pub const DEFAULT_MAX_EVENTS: u64 = 100_000_000;

/// The most events one run may have pending at once ([`crate::engine::Sim::limit_pending`]):
/// a run that schedules more stops early with [`StopReason::PendingLimit`]. Each pending event
/// stands for a procedure step in flight (a timer, a message on a link) and the state behind
/// it: about 1.7 KiB all told in an HTTP pile-up (requests arriving far faster than they are
/// answered), whose run peaked at 870 MiB resident when it stopped here. The shipped
/// scenarios stay below 14,000 (`capif-mismatch-storm`; `n32-ipx-hub` 4,200).
pub const MAX_PENDING_EVENTS: usize = 500_000;

/// Pending events allowed per node of the topology beyond [`MAX_PENDING_EVENTS`]: a scenario
/// of many nodes has that many procedures under way at once (each of 100,000 CAPIF invokers
/// holds its invocation, session and validity timers), so the bound grows with the topology,
/// whose size is itself bounded (the generators' 250,000 nodes).
pub const PENDING_EVENTS_PER_NODE: usize = 16;

/// The pending-event bound of a run on a topology of `nodes` nodes: the larger of
/// [`MAX_PENDING_EVENTS`] and [`PENDING_EVENTS_PER_NODE`] per node.
pub fn pending_limit(nodes: usize) -> usize {
    MAX_PENDING_EVENTS.max(nodes.saturating_mul(PENDING_EVENTS_PER_NODE))
}

/// The most records the seeds of one experiment (or of one sweep point) hold in memory
/// together: every seed's records are kept until the results are written, at about 1 KiB a
/// record at the peak (the record and the tables written from it; measured with 2,000 seeds
/// of `http-baseline`), so about 1 GiB in all. Each seed may keep its share (this divided by
/// the number of seeds, and at most the experiment's `max_records`); a seed that reaches it
/// stops early with [`StopReason::RecordLimit`].
pub const MAX_RECORDS_IN_MEMORY: u64 = 1_000_000;

/// The records one seed of `exp` may hold when `held` seeds' results are kept together: its
/// share of [`MAX_RECORDS_IN_MEMORY`], at most `max_records`, at least 1.
pub fn record_limit(exp: &crate::scenario::ExperimentFile, held: usize) -> u64 {
    let share = MAX_RECORDS_IN_MEMORY / (held.max(1) as u64);
    exp.max_records.unwrap_or(u64::MAX).min(share).max(1)
}

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
    /// Run only the sweep points `p` with `p % n == i` (`(i, n)`), into their point folders.
    pub shard: Option<(usize, usize)>,
    /// Skip sweep points whose folder is already complete.
    pub resume: bool,
    /// The file format of the top-level records table.
    pub format: RecordsFormat,
}

/// The file format of a results folder's top-level records table (`--format`).
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq, clap::ValueEnum)]
pub enum RecordsFormat {
    /// `records.csv` (RFC 4180, header first).
    #[default]
    Csv,
    /// `records.parquet` instead of `records.csv`: the same rows and columns, typed (needs the
    /// cargo feature `parquet`: `cargo build --release --features parquet`).
    Parquet,
}

impl RecordsFormat {
    /// Refuses a format this build cannot write (bad input: exit code 2).
    pub fn check(self) -> Result<(), String> {
        match self {
            RecordsFormat::Csv => Ok(()),
            RecordsFormat::Parquet if cfg!(feature = "parquet") => Ok(()),
            RecordsFormat::Parquet => Err(
                "--format parquet: this secsim was built without the `parquet` feature; \
                 build it with `cargo build --release --features parquet`"
                    .into(),
            ),
        }
    }

    /// The file name of a results folder's records table: `records.csv`, gzipped
    /// (`records.csv.gz`) for a sweep's table of every point, or `records.parquet`.
    pub fn file_name(self, sweep: bool) -> &'static str {
        match (self, sweep) {
            (RecordsFormat::Csv, false) => "records.csv",
            (RecordsFormat::Csv, true) => "records.csv.gz",
            (RecordsFormat::Parquet, _) => "records.parquet",
        }
    }

    /// Writes the records table `csv_text` into `dir` in this format (see
    /// [`RecordsFormat::file_name`]).
    pub fn write(self, dir: &Path, csv_text: &str, sweep: bool) -> Result<(), RunError> {
        match self {
            RecordsFormat::Csv if sweep => {
                let path = dir.join(self.file_name(true));
                let gz = gzip(csv_text.as_bytes()).map_err(|error| RunError::Io {
                    path: path.display().to_string(),
                    error,
                })?;
                write_atomic(&path, &gz)
            }
            RecordsFormat::Csv => write_atomic(&dir.join("records.csv"), csv_text.as_bytes()),
            #[cfg(feature = "parquet")]
            RecordsFormat::Parquet => {
                let path = dir.join("records.parquet");
                crate::metrics::parquet::write_from_csv(csv_text, &path).map_err(|e| RunError::Io {
                    path: path.display().to_string(),
                    error: std::io::Error::other(e),
                })
            }
            #[cfg(not(feature = "parquet"))]
            RecordsFormat::Parquet => Err(RunError::Io {
                path: dir.join("records.parquet").display().to_string(),
                error: std::io::Error::other(self.check().unwrap_err()),
            }),
        }
    }
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
    /// Another live process is writing the output folder (it holds its [`lock::FolderLock`]):
    /// exit code 2, nothing written.
    #[error(
        "{dir}: another secsim (pid {pid}) is writing this folder; wait for it to finish or give another --out \
         (if pid {pid} is no secsim, remove {dir}/{lock_file})",
        lock_file = lock::LOCK_FILE
    )]
    Locked { dir: String, pid: u32 },
    /// Results that do not belong together (merge of shards of different sweeps or seeds, a
    /// shard given twice, a resume into another sweep's folder): exit code 2, nothing written.
    #[error("{path}: {message}")]
    Mismatch { path: String, message: String },
}

impl RunError {
    /// The process exit code for this error: 2 for bad input, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            RunError::Scenario(_) | RunError::Build { .. } | RunError::Mismatch { .. } | RunError::Locked { .. } => 2,
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

impl RunSummary {
    /// One line per seed that stopped before the experiment's end, saying where and why.
    pub fn early_stops(&self) -> Vec<String> {
        self.seeds.iter().filter_map(|r| r.early_stop("")).collect()
    }
}

/// Exit status of a run or sweep that wrote its results but in which at least one seed
/// stopped before the experiment's end (event limit, stalled simulated time, an actor's stop).
pub const EXIT_STOPPED_EARLY: u8 = 3;

impl SeedResult {
    /// `"<what>seed S stopped early at T s of simulated time: <why>"` if it did.
    pub fn early_stop(&self, what: &str) -> Option<String> {
        let why = self.stop.early_reason()?;
        let at = self.sim_end.as_nanos() as f64 / 1e9;
        Some(format!(
            "{what}seed {} stopped early at {at:.6} s of simulated time after {} events: {why}",
            self.seed, self.events
        ))
    }
}

/// Runs one seed. `progress` receives the fraction of simulated time done.
pub fn run_seed(
    scn: &Scenario,
    seed: u64,
    trace: Option<Option<TraceSink>>,
    progress: &(dyn Fn(f64) + Sync),
) -> Result<SeedResult, BuildError> {
    run_seed_within(scn, seed, 1, trace, false, progress).map(|(r, _)| r)
}

/// Runs one seed; with `audit`, also returns the run's audit trail (for
/// [`crate::check`]). With a trace, the audit events are in it too, after a first `Run`
/// line.
pub fn run_seed_audited(
    scn: &Scenario,
    seed: u64,
    trace: Option<Option<TraceSink>>,
    audit: bool,
    progress: &(dyn Fn(f64) + Sync),
) -> Result<(SeedResult, Vec<(SimTime, AuditEvent)>), BuildError> {
    run_seed_within(scn, seed, 1, trace, audit, progress)
}

/// [`run_seed_audited`] for one of `held` seeds whose results are kept in memory together:
/// the seed keeps at most [`record_limit`]`(exp, held)` records.
pub fn run_seed_within(
    scn: &Scenario,
    seed: u64,
    held: usize,
    trace: Option<Option<TraceSink>>,
    audit: bool,
    progress: &(dyn Fn(f64) + Sync),
) -> Result<(SeedResult, Vec<(SimTime, AuditEvent)>), BuildError> {
    let exp = &scn.experiment;
    let mut sim = crate::build::simulation(&scn.topology, exp, seed)?;
    sim.limit_pending(pending_limit(scn.topology.nodes.len()));
    sim.world.max_records = usize::try_from(record_limit(exp, held)).unwrap_or(usize::MAX);
    if audit {
        sim.world.enable_audit();
    }
    let run = AuditEvent::Run(RunAudit {
        seed,
        end_ns: exp.duration.as_nanos(),
        heal_ns: scn.heal_time().map(|t| t.as_nanos()),
    });
    if let Some(sink) = trace {
        sim.enable_trace(sink);
        sim.trace_line(&crate::audit::trace_line(SimTime::ZERO, &run));
    }
    let end = SimTime::ZERO + exp.duration;
    let max_events = exp.max_events.unwrap_or(DEFAULT_MAX_EVENTS);
    const STEPS: u64 = 50;
    let mut events = 0;
    let mut stop = StopReason::Exhausted;
    for step in 1..=STEPS {
        let until = SimTime::from_nanos(((end.as_nanos() as u128 * step as u128) / STEPS as u128) as u64);
        let limits = Limits {
            until,
            max_events: max_events - events,
        };
        let s = sim.run_watched(limits, Stall::default());
        events += s.events;
        stop = match s.reason {
            StopReason::Stopped if sim.world.record_limit_reached() => StopReason::RecordLimit,
            r => r,
        };
        progress(step as f64 / STEPS as f64);
        if stop.is_early() {
            break;
        }
    }
    let trace_hash = sim.trace_hash();
    let sim_end = sim.now();
    sim.trace_line(&crate::audit::trace_end_line(sim_end, events, &format!("{stop:?}")));
    let _ = sim.finish_trace();
    // Censoring (issue 12): what is still under way is recorded as unfinished, aged to the
    // stop time (the experiment's end, or where an event limit or an actor stopped the run).
    sim.world.finish(if stop.is_early() { sim_end } else { end });
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
    let mut trail = Vec::new();
    if audit {
        trail.push((SimTime::ZERO, run));
        trail.extend(sim.world.take_audit());
    }
    let result = SeedResult {
        seed,
        records: sim.world.take_records(),
        events,
        sim_end,
        stop,
        connections,
        trace_hash,
        crypto_ops,
    };
    Ok((result, trail))
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

/// `bytes` gzipped (RFC 1952, no file name, time 0: the same input gives the same bytes).
pub fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Write as _;
    let mut enc = flate2::write::GzEncoder::new(Vec::with_capacity(bytes.len() / 6), flate2::Compression::new(6));
    enc.write_all(bytes)?;
    enc.finish()
}

/// The text of a gzipped file.
pub fn read_gzip_text(path: &Path) -> std::io::Result<String> {
    use std::io::Read as _;
    let mut text = String::new();
    flate2::read::GzDecoder::new(fs::File::open(path)?).read_to_string(&mut text)?;
    Ok(text)
}

/// Writes `bytes` to `path` atomically (temporary file, then rename): a reader never sees
/// half a file. The temporary file has a name of its own ([`lock::temp_path`]), so concurrent writers
/// never share one.
pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = lock::temp_path(path);
    let written = fs::write(&tmp, bytes).and_then(|_| fs::rename(&tmp, path));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

/// [`write_file_atomic`] with the error as a [`RunError`] naming the path.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RunError> {
    write_file_atomic(path, bytes).map_err(|error| RunError::Io {
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
    crate::build::world(&scn.topology, exp, seeds[0]).map_err(|error| RunError::Build {
        path: path.display().to_string(),
        error,
    })?;
    let dir = opts.out.clone().unwrap_or_else(|| Path::new("results").join(&exp.name));
    fs::create_dir_all(&dir).map_err(|error| RunError::Io {
        path: dir.display().to_string(),
        error,
    })?;
    let _lock = lock::FolderLock::acquire(&dir)?;

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
        let r = run_seed_within(&scn, seed, seeds.len(), sink, false, &progress)
            .map(|(r, _)| r)
            .map_err(|e| format!("seed {seed}: {e}"))?;
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
    write_tables(&RowContext::run(&exp.name), dir, runs, RecordsFile::Top(opts.format))?;
    write_point_outputs(scn, dir, runs)?;

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

/// Where [`write_tables`] puts the records.
pub(crate) enum RecordsFile {
    /// The top-level table of a results folder, in this format.
    Top(RecordsFormat),
    /// A sweep point's `records.csv.gz` (the sweep's top-level table holds the same rows).
    PointGz,
}

/// The records table and `summary.csv` of one set of seeds, each row prefixed with the
/// context columns of `ctx`.
pub(crate) fn write_tables(
    ctx: &RowContext,
    dir: &Path,
    runs: &[SeedResult],
    records: RecordsFile,
) -> Result<(), RunError> {
    let mut rows = csv::records_header(ctx);
    for r in runs {
        write_records(&mut rows, ctx, r.seed, &r.records);
    }
    match records {
        RecordsFile::Top(format) => format.write(dir, &rows, false)?,
        RecordsFile::PointGz => {
            let path = dir.join(crate::sweep::POINT_RECORDS);
            let gz = gzip(rows.as_bytes()).map_err(|error| RunError::Io {
                path: path.display().to_string(),
                error,
            })?;
            write_atomic(&path, &gz)?;
        }
    }
    let by_seed: Vec<(u64, &[Record])> = runs.iter().map(|r| (r.seed, r.records.as_slice())).collect();
    write_atomic(&dir.join("summary.csv"), summary(ctx, &by_seed).as_bytes())
}

/// The plots (and CAPIF CSVs) of one set of seeds, as a single run writes them: used for each
/// sweep point's folder.
pub(crate) fn write_point_outputs(scn: &Scenario, dir: &Path, runs: &[SeedResult]) -> Result<(), RunError> {
    let exp = &scn.experiment;
    if exp.outputs.plots {
        write_plots(&exp.name, dir, runs)?;
    }
    let per_seed: Vec<&[Record]> = runs.iter().map(|r| r.records.as_slice()).collect();
    write_capif_outputs(
        &CapifOutputs {
            name: &exp.name,
            capif: &exp.capif,
            duration: exp.duration,
            plots: exp.outputs.plots,
        },
        dir,
        &per_seed,
    )
}

/// What a series or a bar of a record is called in plots: its non-empty flow, variant and
/// (with `result`) result, joined by ` · `; `"all"` if none.
fn plot_key(r: &Record, result: bool) -> String {
    let parts: Vec<&str> = [
        r.flow.as_str(),
        r.variant.as_str(),
        if result { r.result.as_str() } else { "" },
    ]
    .into_iter()
    .filter(|p| !p.is_empty())
    .collect();
    if parts.is_empty() {
        "all".to_string()
    } else {
        parts.join(" · ")
    }
}

/// The kind of an outcome bar segment: `ok`, or the outcome with the status (if any) and
/// the cause (if any), e.g. `refused 403 NO_CONTRACT`.
fn outcome_kind(r: &Record) -> String {
    let mut kind = r.outcome.as_str().to_string();
    if r.outcome == Outcome::Ok {
        return kind;
    }
    if r.status != 0 {
        kind = format!("{kind} {}", r.status);
    }
    if !r.cause.is_empty() {
        kind = format!("{kind} {}", r.cause);
    }
    kind
}

/// The latency CDFs (requests; N32 handshakes when there are any) and the outcome breakdown.
fn write_plots(name: &str, dir: &Path, runs: &[SeedResult]) -> Result<(), RunError> {
    use std::collections::BTreeMap;
    let records = || runs.iter().flat_map(|r| &r.records);
    // Successful requests per flow (and variant); beyond ten flows the plot shows a band.
    let mut groups: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for r in records().filter(|r| matches!(r.procedure, "http_request" | "cnf_request") && r.outcome == Outcome::Ok) {
        groups.entry(plot_key(r, false)).or_default().push(r.latency_ms());
    }
    let requests: Vec<Series> = groups
        .into_iter()
        .map(|(label, values)| Series::new(label, values))
        .collect();
    // No request plane (a CAPIF-only run): no empty axes.
    if !requests.is_empty() {
        plot::cdf(
            dir,
            "latency_cdf",
            &format!("{name}: request latency (successful)"),
            "latency [ms]",
            &requests,
        )
        .map_err(plot_error)?;
    }
    if records().any(|r| r.procedure == "n32_handshake") {
        // Per agreed capability (or flow) and outcome, in the outcome's colour.
        let mut groups: BTreeMap<(String, Outcome), Vec<f64>> = BTreeMap::new();
        for r in records().filter(|r| r.procedure == "n32_handshake") {
            groups
                .entry((plot_key(r, true), r.outcome))
                .or_default()
                .push(r.latency_ms());
        }
        let series: Vec<Series> = groups
            .into_iter()
            .map(|((key, outcome), values)| Series {
                label: format!("{key} ({})", outcome.as_str()),
                values,
                outcome: Some(outcome),
            })
            .collect();
        plot::cdf(
            dir,
            "handshake_cdf",
            &format!("{name}: N32 handshake duration"),
            "duration [ms]",
            &series,
        )
        .map_err(plot_error)?;
    }
    // Outcomes per procedure and flow: what the consumer finally saw, with status and cause
    // (for CAPIF: the invoker's procedures; exposure records are facts, CCF requests the
    // server's view).
    let shown = |r: &&Record| {
        matches!(r.procedure, "http_request" | "cnf_request" | "n32_handshake")
            || (r.procedure.starts_with("capif_") && r.procedure != "capif_exposure")
    };
    if !records().any(|r| shown(&r)) {
        return Ok(());
    }
    let with_variant = records().filter(shown).any(|r| !r.variant.is_empty());
    let mut bars: BTreeMap<Vec<String>, BTreeMap<String, u64>> = BTreeMap::new();
    for r in records().filter(shown) {
        let mut labels = vec![
            r.procedure.to_string(),
            if r.flow.is_empty() {
                "–".to_string()
            } else {
                r.flow.clone()
            },
        ];
        if with_variant {
            labels.push(r.variant.clone());
        }
        *bars.entry(labels).or_default().entry(outcome_kind(r)).or_default() += 1;
    }
    let bars = fold_many_flows(bars);
    let mut columns = vec!["procedure".to_string(), "flow".to_string()];
    if with_variant {
        columns.push("variant".to_string());
    }
    plot::breakdown(
        dir,
        "outcomes",
        &format!("{name}: outcomes per flow (failed: not ok)"),
        &columns,
        &bars,
    )
    .map_err(plot_error)
}

/// Records per outcome kind (`ok`, `error 403 …`).
type OutcomeCounts = std::collections::BTreeMap<String, u64>;

/// Beyond this many flows of one procedure (and variant), the outcome breakdown shows the
/// [`WORST_FLOWS`] flows with the highest failure fraction and one bar for the others.
const MAX_FLOW_BARS: usize = 12;
const WORST_FLOWS: usize = 8;

/// The outcome bars, keyed by `[procedure, flow, (variant)]`, in key order. A procedure (and
/// variant) with more than [`MAX_FLOW_BARS`] flows shows its [`WORST_FLOWS`] worst flows
/// (failure fraction, then failures, then name), labelled `worst: <flow>`, then one bar
/// `other M (mean per flow)` whose counts are the others' mean per flow, rounded (so the bars
/// share a scale); the legend counts every flow. `summary.csv` has every flow.
fn fold_many_flows(bars: std::collections::BTreeMap<Vec<String>, OutcomeCounts>) -> Vec<plot::Breakdown> {
    use std::collections::BTreeMap;
    // Group by the key without the flow (procedure, variant), keeping key order.
    let mut groups: BTreeMap<Vec<String>, Vec<(String, OutcomeCounts)>> = BTreeMap::new();
    for (mut labels, counts) in bars {
        let flow = labels.remove(1);
        groups.entry(labels).or_default().push((flow, counts));
    }
    let with_flow = |key: &[String], flow: String| {
        let mut l = key.to_vec();
        l.insert(1, flow);
        l
    };
    let failed = |c: &BTreeMap<String, u64>| -> (u64, u64) {
        let all: u64 = c.values().sum();
        (all - c.get("ok").copied().unwrap_or(0), all)
    };
    let mut out = Vec::new();
    for (key, mut flows) in groups {
        if flows.len() <= MAX_FLOW_BARS {
            for (flow, counts) in flows {
                out.push(plot::Breakdown {
                    labels: with_flow(&key, flow),
                    counts: counts.into_iter().collect(),
                    legend_counts: None,
                });
            }
            continue;
        }
        flows.sort_by(|a, b| {
            let ((fa, na), (fb, nb)) = (failed(&a.1), failed(&b.1));
            // fa/na > fb/nb first, compared exactly.
            (u128::from(fb) * u128::from(na))
                .cmp(&(u128::from(fa) * u128::from(nb)))
                .then(fb.cmp(&fa))
                .then(a.0.cmp(&b.0))
        });
        let others = flows.split_off(WORST_FLOWS);
        for (flow, counts) in flows {
            out.push(plot::Breakdown {
                labels: with_flow(&key, format!("worst: {flow}")),
                counts: counts.into_iter().collect(),
                legend_counts: None,
            });
        }
        let mut sum: BTreeMap<String, u64> = BTreeMap::new();
        for (_, counts) in &others {
            for (k, n) in counts {
                *sum.entry(k.clone()).or_default() += n;
            }
        }
        let m = others.len() as u64;
        out.push(plot::Breakdown {
            labels: with_flow(&key, format!("other {m} (mean per flow)")),
            counts: sum
                .iter()
                .map(|(k, n)| (k.clone(), (n + m / 2) / m))
                .filter(|(_, n)| *n > 0)
                .collect(),
            legend_counts: Some(sum.into_iter().collect()),
        });
    }
    out
}

fn plot_error(e: plot::PlotError) -> RunError {
    RunError::Io {
        path: e.path.clone(),
        error: std::io::Error::other(e.message),
    }
}

/// What [`write_capif_outputs`] needs of the experiment.
struct CapifOutputs<'a> {
    name: &'a str,
    capif: &'a CapifSpec,
    duration: SimDuration,
    plots: bool,
}

/// The CAPIF procedures in the order an invoker runs them, with their short names.
const CAPIF_PHASES: [(&str, &str); 4] = [
    ("capif_onboarding", "onboarding"),
    ("capif_negotiation", "negotiation"),
    ("capif_authentication", "authentication"),
    ("capif_invocation", "invocation"),
];

/// Bound on the bins of the recovery timeline (one per simulated second).
const MAX_TIMELINE_BINS: u64 = 1_000_000;

/// The CAPIF outputs (see the module documentation); nothing when no record of `runs` (one
/// slice per seed, in seed order) is a `capif_` procedure.
fn write_capif_outputs(o: &CapifOutputs<'_>, dir: &Path, runs: &[&[Record]]) -> Result<(), RunError> {
    use std::collections::BTreeMap;
    let records = || runs.iter().flat_map(|r| r.iter());
    if !records().any(|r| r.procedure.starts_with("capif_")) {
        return Ok(());
    }
    let seeds = runs.len().max(1);
    let has_exposure = records().any(|r| r.procedure == "capif_exposure");
    write_atomic(&dir.join("capif_ccf_load.csv"), csv::ccf_load(runs).as_bytes())?;
    if has_exposure {
        write_atomic(&dir.join("exposure.csv"), csv::exposure(runs).as_bytes())?;
    }
    if !o.plots {
        return Ok(());
    }
    // Latency by method: one panel per procedure, one curve per method. Onboarding comes
    // before any method is chosen, so it is one curve.
    let panels: Vec<plot::Panel> = CAPIF_PHASES
        .iter()
        .map(|&(procedure, short)| {
            let mut groups: BTreeMap<String, Vec<f64>> = BTreeMap::new();
            for r in records().filter(|r| r.procedure == procedure && r.outcome == Outcome::Ok) {
                // The method: known at the start, else what the negotiation settled on.
                let method = if r.variant.is_empty() { &r.result } else { &r.variant };
                let label = if procedure == "capif_onboarding" || method.is_empty() {
                    "all".to_string()
                } else {
                    method.clone()
                };
                groups.entry(label).or_default().push(r.latency_ms());
            }
            plot::Panel {
                title: short.to_string(),
                series: groups
                    .into_iter()
                    .map(|(label, values)| Series::new(label, values))
                    .collect(),
            }
        })
        .collect();
    plot::cdf_panels(
        dir,
        "capif_latency_cdf",
        &format!("{}: CAPIF latency by security method (successful)", o.name),
        "latency [ms]",
        &panels,
    )
    .map_err(plot_error)?;

    // Failures and recoveries per simulated second around the method changes.
    let changes = &o.capif.method_changes;
    if !changes.is_empty() || records().any(|r| r.procedure == "capif_recovery") {
        const SEC: u64 = 1_000_000_000;
        let counted = |r: &Record| match r.procedure {
            "capif_invocation" | "capif_authentication" => r.outcome != Outcome::Ok,
            "capif_recovery" => r.outcome == Outcome::Ok,
            _ => false,
        };
        let last_ns = records()
            .filter(|r| counted(r))
            .map(|r| r.end_ns)
            .chain(changes.iter().map(|c| c.at.as_nanos()))
            .fold(o.duration.as_nanos(), u64::max);
        let bins = last_ns.div_ceil(SEC).clamp(1, MAX_TIMELINE_BINS) as usize;
        let mut series: Vec<(&str, &str, Vec<f64>, u64)> = vec![
            ("capif_invocation", "failed invocations", vec![0.0; bins], 0),
            ("capif_authentication", "failed authentications", vec![0.0; bins], 0),
            ("capif_recovery", "completed recoveries", vec![0.0; bins], 0),
        ];
        for r in records().filter(|r| counted(r)) {
            if let Some(s) = series.iter_mut().find(|s| s.0 == r.procedure) {
                s.3 += 1;
                if let Some(v) = s.2.get_mut((r.end_ns / SEC) as usize) {
                    *v += 1.0 / seeds as f64;
                }
            }
        }
        let series: Vec<plot::Binned> = series
            .into_iter()
            .map(|(_, label, values, n)| plot::Binned {
                label: format!("{label} (n={n})"),
                values,
            })
            .collect();
        let mut markers: Vec<plot::Marker> = changes
            .iter()
            .map(|c| plot::Marker {
                x: c.at.as_secs_f64(),
                kind: "method change".to_string(),
                label: format!(
                    "{} → {}",
                    c.aef,
                    c.methods.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", ")
                ),
            })
            .collect();
        markers.extend(o.capif.revocations.iter().map(|v| plot::Marker {
            x: v.at.as_secs_f64(),
            kind: "revocation".to_string(),
            label: format!("revoke {}", v.invoker),
        }));
        markers.sort_by(|a, b| a.x.total_cmp(&b.x));
        let y_label = if seeds == 1 {
            "per second".to_string()
        } else {
            format!("per second (mean of {seeds} seeds)")
        };
        plot::timeline(
            dir,
            "capif_recovery_timeline",
            &format!("{}: CAPIF failures and recoveries around method changes", o.name),
            ("simulated time [s]", &y_label),
            1.0,
            &series,
            &markers,
        )
        .map_err(plot_error)?;
    }

    // The exposure grid: items × boundaries, summed over flows and seeds.
    if has_exposure {
        let mut counts: BTreeMap<(&str, String), u64> = BTreeMap::new();
        for r in records().filter(|r| r.procedure == "capif_exposure") {
            *counts
                .entry((r.variant.as_str(), format!("{} → {}", r.initiator, r.responder)))
                .or_default() += 1;
        }
        let mut rows: Vec<String> = counts.keys().map(|k| k.0.to_string()).collect();
        rows.dedup();
        let mut cols: Vec<String> = counts.keys().map(|k| k.1.clone()).collect();
        cols.sort();
        cols.dedup();
        let cells = rows
            .iter()
            .map(|item| {
                cols.iter()
                    .map(|b| counts.get(&(item.as_str(), b.clone())).copied().unwrap_or(0))
                    .collect()
            })
            .collect();
        let table = plot::Table {
            corner: "item \\ boundary".to_string(),
            rows,
            cols,
            cells,
        };
        let title = if seeds == 1 {
            format!("{}: items crossing CAPIF domain boundaries", o.name)
        } else {
            format!("{}: items crossing CAPIF domain boundaries ({seeds} seeds)", o.name)
        };
        plot::table(dir, "exposure", &title, &table).map_err(plot_error)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::proto::capif::types::SecurityMethod;
    use crate::scenario::{MethodChangeSpec, RevocationSpec};

    #[test]
    fn many_flows_fold_into_the_worst_and_a_mean_bar() {
        // 20 flows of one procedure: flow i has 100 runs, i of them failed.
        let mut bars: BTreeMap<Vec<String>, BTreeMap<String, u64>> = BTreeMap::new();
        for i in 0..20u64 {
            let mut c = BTreeMap::new();
            c.insert("ok".to_string(), 100 - i);
            if i > 0 {
                c.insert("error 403".to_string(), i);
            }
            bars.insert(vec!["cnf_request".into(), format!("f{i:02}")], c);
        }
        // 3 flows of another: left as they are.
        for i in 0..3 {
            bars.insert(
                vec!["n32_handshake".into(), format!("f{i:02}")],
                BTreeMap::from([("ok".to_string(), 5)]),
            );
        }
        let out = fold_many_flows(bars);
        assert_eq!(out.len(), WORST_FLOWS + 1 + 3);
        let flows: Vec<&str> = out.iter().map(|b| b.labels[1].as_str()).collect();
        assert_eq!(&flows[..3], ["worst: f19", "worst: f18", "worst: f17"]);
        assert_eq!(flows[WORST_FLOWS], "other 12 (mean per flow)");
        assert_eq!(&flows[WORST_FLOWS + 1..], ["f00", "f01", "f02"]);
        // The others are f00..f11: failures 0..=11, mean 5.5 → 6 (rounded), ok 94.5 → 95.
        let other = &out[WORST_FLOWS];
        assert_eq!(other.counts, vec![("error 403".to_string(), 6), ("ok".to_string(), 95)]);
        // The legend counts every flow once: 2000 runs, 190 failures.
        let legend: u64 = out
            .iter()
            .take(WORST_FLOWS + 1)
            .flat_map(|b| b.legend_counts.as_ref().unwrap_or(&b.counts))
            .map(|c| c.1)
            .sum();
        assert_eq!(legend, 2000);
        let failed: u64 = out
            .iter()
            .take(WORST_FLOWS + 1)
            .flat_map(|b| b.legend_counts.as_ref().unwrap_or(&b.counts))
            .filter(|c| c.0 != "ok")
            .map(|c| c.1)
            .sum();
        assert_eq!(failed, 190);
    }

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("secsim-run-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    fn rec(procedure: &'static str, variant: &str, initiator: &str, responder: &str, end_s: f64) -> Record {
        let end_ns = (end_s * 1e9) as u64;
        Record {
            procedure,
            flow: "flow".to_string(),
            variant: variant.to_string(),
            result: String::new(),
            cause: String::new(),
            initiator: initiator.to_string(),
            responder: responder.to_string(),
            via: String::new(),
            start_ns: end_ns.saturating_sub(30_000_000),
            end_ns,
            outcome: Outcome::Ok,
            status: 200,
            new_connection: false,
            bytes: 0,
            round_trips: 0,
            overhead_bytes: 0,
        }
    }

    fn failed(mut r: Record) -> Record {
        r.outcome = Outcome::Error;
        r.status = 403;
        r
    }

    /// Two seeds of a small CAPIF run: a method change at 2 s, failures, a recovery, CCF
    /// requests and exposure records.
    fn seeds() -> Vec<Vec<Record>> {
        let one = vec![
            rec("capif_onboarding", "none", "invoker-1", "ccf-a", 0.1),
            rec("capif_negotiation", "PSK", "invoker-1", "ccf-a", 0.2),
            rec("capif_authentication", "PSK", "invoker-1", "aef-a1", 0.3),
            rec("capif_invocation", "PSK", "invoker-1", "aef-a1", 0.5),
            rec("capif_invocation", "OAUTH", "invoker-2", "aef-a1", 0.6),
            failed(rec(
                "capif_invocation",
                "PSK [MethodNotSupported]",
                "invoker-1",
                "aef-a1",
                2.1,
            )),
            failed(rec("capif_authentication", "PSK", "invoker-1", "aef-a1", 2.2)),
            rec("capif_recovery", "ExplicitCause", "invoker-1", "aef-a1", 2.6),
            rec("capif_invocation", "PKI", "invoker-1", "aef-a1", 2.6),
            rec("ccf_request", "token", "invoker-2", "ccf-a", 0.4),
            rec("ccf_request", "negotiation", "invoker-1", "ccf-a", 2.4),
            rec("capif_exposure", "InvokerId", "B", "A", 0.3),
            rec("capif_exposure", "Aefpsk", "B", "A", 0.3),
        ];
        let two = vec![
            rec("capif_onboarding", "none", "invoker-1", "ccf-a", 0.12),
            rec("capif_invocation", "PSK", "invoker-1", "aef-a1", 0.7),
            rec("ccf_request", "token", "invoker-2", "ccf-a", 0.8),
            rec("capif_exposure", "InvokerId", "B", "A", 0.35),
            rec("capif_exposure", "InvokerId", "Invoker", "B", 0.35),
        ];
        vec![one, two]
    }

    fn spec() -> CapifSpec {
        CapifSpec {
            method_changes: vec![MethodChangeSpec {
                at: SimDuration::from_secs(2),
                aef: "aef-a1".to_string(),
                methods: vec![SecurityMethod::Pki, SecurityMethod::Oauth],
            }],
            revocations: vec![RevocationSpec {
                at: SimDuration::from_millis(2500),
                invoker: "invoker-2".to_string(),
            }],
            ..CapifSpec::default()
        }
    }

    fn write(dir: &Path, capif: &CapifSpec, duration: SimDuration, runs: &[Vec<Record>], plots: bool) {
        let per_seed: Vec<&[Record]> = runs.iter().map(Vec::as_slice).collect();
        let o = CapifOutputs {
            name: "test",
            capif,
            duration,
            plots,
        };
        write_capif_outputs(&o, dir, &per_seed).unwrap();
    }

    const CAPIF_FILES: [&str; 9] = [
        "capif_ccf_load.csv",
        "exposure.csv",
        "exposure.svg",
        "exposure.png",
        "capif_latency_cdf.svg",
        "capif_latency_cdf.png",
        "capif_recovery_timeline.svg",
        "capif_recovery_timeline.png",
        // Only written by `write_plots`, never here.
        "latency_cdf.svg",
    ];

    fn listing(dir: &Path) -> BTreeMap<String, Vec<u8>> {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|p| {
                (
                    p.file_name().unwrap().to_string_lossy().into_owned(),
                    fs::read(&p).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn capif_outputs_are_written_and_deterministic() {
        let a = scratch("capif-a");
        let b = scratch("capif-b");
        write(&a, &spec(), SimDuration::from_secs(4), &seeds(), true);
        write(&b, &spec(), SimDuration::from_secs(4), &seeds(), true);
        let (fa, fb) = (listing(&a), listing(&b));
        let names: Vec<&str> = fa.keys().map(String::as_str).collect();
        let mut expected = CAPIF_FILES[..8].to_vec();
        expected.sort_unstable();
        assert_eq!(names, expected);
        for (name, bytes) in &fa {
            assert!(!bytes.is_empty(), "{name} is empty");
            assert_eq!(Some(bytes), fb.get(name), "{name} differs between two writes");
        }
        assert_eq!(
            String::from_utf8(fa["exposure.csv"].clone()).unwrap(),
            "item,from_domain,to_domain,flow,records\n\
             Aefpsk,B,A,flow,1\n\
             InvokerId,B,A,flow,2\n\
             InvokerId,Invoker,B,flow,1\n"
        );
        assert_eq!(
            String::from_utf8(fa["capif_ccf_load.csv"].clone()).unwrap(),
            "ccf,second,operation,requests\n\
             ccf-a,0,token,1.000000\n\
             ccf-a,2,negotiation,0.500000\n"
        );
        let svg = String::from_utf8(fa["capif_latency_cdf.svg"].clone()).unwrap();
        for label in [
            "onboarding",
            "negotiation",
            "authentication",
            "invocation",
            "PSK (n=2)",
            "all (n=2)",
        ] {
            assert!(svg.contains(label), "capif_latency_cdf.svg lacks {label}");
        }
        let svg = String::from_utf8(fa["exposure.svg"].clone()).unwrap();
        assert!(svg.contains("InvokerId") && svg.contains("Invoker → B"));
        let _ = fs::remove_dir_all(&a);
        let _ = fs::remove_dir_all(&b);
    }

    #[test]
    fn capif_outputs_only_what_the_records_call_for() {
        // No CAPIF record: nothing at all.
        let d = scratch("capif-none");
        let http = vec![vec![rec("http_request", "a->b", "a", "b", 1.0)]];
        write(&d, &spec(), SimDuration::from_secs(4), &http, true);
        assert!(listing(&d).is_empty());
        // No exposure, no method change, no recovery: the CCF load and the latency CDFs.
        let d = scratch("capif-plain");
        let plain: Vec<Vec<Record>> = seeds()
            .into_iter()
            .map(|s| {
                s.into_iter()
                    .filter(|r| !matches!(r.procedure, "capif_exposure" | "capif_recovery"))
                    .collect()
            })
            .collect();
        write(&d, &CapifSpec::default(), SimDuration::from_secs(4), &plain, true);
        let names: Vec<String> = listing(&d).into_keys().collect();
        assert_eq!(
            names,
            ["capif_ccf_load.csv", "capif_latency_cdf.png", "capif_latency_cdf.svg"]
        );
        // Plots off: the CSV files only.
        let d2 = scratch("capif-noplots");
        write(&d2, &spec(), SimDuration::from_secs(4), &seeds(), false);
        let names: Vec<String> = listing(&d2).into_keys().collect();
        assert_eq!(names, ["capif_ccf_load.csv", "exposure.csv"]);
        let _ = fs::remove_dir_all(&d);
        let _ = fs::remove_dir_all(&d2);
    }

    #[test]
    fn capif_outputs_survive_odd_input() {
        // A zero-length run whose only CAPIF records failed, at time 0, with a method change
        // at 0 and no seeds' worth of successes; and a run with no seeds at all.
        let d = scratch("capif-odd");
        let odd = vec![vec![
            failed(rec("capif_invocation", "none", "i", "aef", 0.0)),
            rec("capif_recovery", "TlsFailureOnly", "i", "aef", 0.0),
        ]];
        let mut capif = spec();
        capif.method_changes[0].at = SimDuration::ZERO;
        write(&d, &capif, SimDuration::ZERO, &odd, true);
        let files = listing(&d);
        assert!(files.contains_key("capif_recovery_timeline.png"));
        assert!(files.values().all(|b| !b.is_empty()));
        write(&d, &capif, SimDuration::ZERO, &[], true);
        write(&d, &capif, SimDuration::ZERO, &[vec![], vec![]], true);
        let _ = fs::remove_dir_all(&d);
    }
}
