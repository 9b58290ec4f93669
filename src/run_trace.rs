//! `secsim trace`: runs one seed of an experiment with the message trace on and writes its
//! sequence chart (`sequence.mmd`, `sequence.svg`, drawn by [`crate::metrics::sequence`]).
//! The trace goes straight into the chart builder, line by line; no trace file is written.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::engine::{Limits, SimDuration, SimTime, StopReason};
use crate::metrics::sequence::{Chart, ChartBuilder, DEFAULT_MAX_MESSAGES, Options, format_ms, to_mermaid, to_svg};
use crate::scenario::{ScenarioError, load_experiment};
use crate::world::BuildError;

/// How to run `secsim trace`.
#[derive(Clone, Debug)]
pub struct TraceOptions {
    pub seed: u64,
    /// Stop here; default the experiment's duration.
    pub until: Option<SimDuration>,
    /// Output folder; default `results/<experiment name>`.
    pub out: Option<PathBuf>,
    pub nodes: Option<Vec<String>>,
    pub max_messages: usize,
    pub transport: bool,
}

impl Default for TraceOptions {
    fn default() -> Self {
        TraceOptions {
            seed: 1,
            until: None,
            out: None,
            nodes: None,
            max_messages: DEFAULT_MAX_MESSAGES,
            transport: false,
        }
    }
}

/// What `secsim trace` wrote.
#[derive(Clone, Debug)]
pub struct TraceOutput {
    pub mermaid: PathBuf,
    pub svg: PathBuf,
    /// The chart (without renderings).
    pub chart: Chart,
    pub events: u64,
    pub stop: StopReason,
    pub until: SimDuration,
}

/// Why `secsim trace` failed.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The experiment or topology file is bad: exit code 2.
    #[error("{0}")]
    Scenario(#[from] ScenarioError),
    /// The scenario loaded but no world could be built from it: exit code 2.
    #[error("{path}: {error}")]
    Build { path: String, error: BuildError },
    /// A bad flag value: exit code 2.
    #[error("{flag}: {message}")]
    Flag { flag: &'static str, message: String },
    /// Writing the outputs failed: exit code 1.
    #[error("{path}: {error}")]
    Io { path: String, error: std::io::Error },
}

impl TraceError {
    /// The process exit code: 2 for bad input, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            TraceError::Io { .. } => 1,
            _ => 2,
        }
    }
}

/// A `--until` value: a duration such as `2s` or `500ms`.
pub fn parse_until(text: &str) -> Result<SimDuration, String> {
    SimDuration::parse(text).map_err(|e| e.to_string())
}

/// A trace sink feeding a [`ChartBuilder`] line by line.
struct ChartSink {
    partial: Vec<u8>,
    builder: Arc<Mutex<ChartBuilder>>,
}

impl ChartSink {
    fn feed(&mut self, line: &[u8]) {
        self.builder.lock().unwrap_or_else(|e| e.into_inner()).push_json(line);
    }
}

impl Write for ChartSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut rest = buf;
        while let Some(i) = rest.iter().position(|&c| c == b'\n') {
            if self.partial.is_empty() {
                self.feed(&rest[..i]);
            } else {
                self.partial.extend_from_slice(&rest[..i]);
                let line = std::mem::take(&mut self.partial);
                self.feed(&line);
            }
            rest = &rest[i + 1..];
        }
        self.partial.extend_from_slice(rest);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), TraceError> {
    crate::run::write_file_atomic(path, bytes).map_err(|error| TraceError::Io {
        path: path.display().to_string(),
        error,
    })
}

/// Runs one seed of the experiment at `path` with the trace on, until `opts.until`, and
/// writes `sequence.mmd` and `sequence.svg` into the output folder.
pub fn run_trace(path: &Path, opts: &TraceOptions) -> Result<TraceOutput, TraceError> {
    let scn = load_experiment(path)?;
    let exp = &scn.experiment;
    if let Some(nodes) = &opts.nodes {
        let known: Vec<&str> = scn.topology.nodes.iter().map(|n| n.name.as_str()).collect();
        if nodes.is_empty() {
            return Err(TraceError::Flag {
                flag: "--nodes",
                message: "no node given".to_string(),
            });
        }
        for name in nodes {
            if name.trim().is_empty() {
                return Err(TraceError::Flag {
                    flag: "--nodes",
                    message: "empty node name in the list".to_string(),
                });
            }
            if !known.contains(&name.as_str()) {
                let best = known
                    .iter()
                    .map(|k| (strsim::levenshtein(k, name), *k))
                    .min()
                    .filter(|(d, _)| *d <= 3)
                    .map(|(_, k)| format!(" (did you mean `{k}`?)"))
                    .unwrap_or_default();
                return Err(TraceError::Flag {
                    flag: "--nodes",
                    message: format!(
                        "unknown node `{name}`: not a node of {}{best}",
                        scn.topology_path.display()
                    ),
                });
            }
        }
    }
    let mut sim = crate::build::simulation(&scn.topology, exp, opts.seed).map_err(|error| TraceError::Build {
        path: path.display().to_string(),
        error,
    })?;
    let until = opts.until.unwrap_or(exp.duration);
    let title = format!(
        "{} · seed {} · until {} ms",
        exp.name,
        opts.seed,
        format_ms(until.as_nanos())
    );
    let chart_opts = Options {
        title,
        transport: opts.transport,
        nodes: opts.nodes.clone(),
        max_messages: opts.max_messages,
        domains: scn
            .topology
            .nodes
            .iter()
            .map(|n| (n.name.clone(), n.domain.clone()))
            .collect(),
    };
    let builder = Arc::new(Mutex::new(ChartBuilder::new(chart_opts)));
    sim.enable_trace(Some(Box::new(ChartSink {
        partial: Vec::new(),
        builder: Arc::clone(&builder),
    })));
    let limits = Limits {
        until: SimTime::ZERO + until,
        max_events: exp.max_events.unwrap_or(crate::run::DEFAULT_MAX_EVENTS),
    };
    sim.limit_pending(crate::run::pending_limit(scn.topology.nodes.len()));
    sim.world.max_records = usize::try_from(crate::run::record_limit(exp, 1)).unwrap_or(usize::MAX);
    let mut stats = sim.run_watched(limits, crate::engine::Stall::default());
    if stats.reason == StopReason::Stopped && sim.world.record_limit_reached() {
        stats.reason = StopReason::RecordLimit;
    }
    // The sink never fails.
    let _ = sim.finish_trace();
    drop(sim);
    let chart = std::mem::take(&mut *builder.lock().unwrap_or_else(|e| e.into_inner())).finish();

    let dir = opts.out.clone().unwrap_or_else(|| Path::new("results").join(&exp.name));
    fs::create_dir_all(&dir).map_err(|error| TraceError::Io {
        path: dir.display().to_string(),
        error,
    })?;
    let mermaid = dir.join("sequence.mmd");
    let svg = dir.join("sequence.svg");
    write_file(&mermaid, to_mermaid(&chart).as_bytes())?;
    write_file(&svg, to_svg(&chart).as_bytes())?;
    Ok(TraceOutput {
        mermaid,
        svg,
        chart,
        events: stats.events,
        stop: stats.reason,
        until,
    })
}
