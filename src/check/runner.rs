//! `secsim check` and `secsim soak`: run seeds (or random cases) with the audit on, in
//! parallel, and judge each with the [`super::Checker`].
//!
//! Results come back in seed order whatever the thread count, so the printed report is the
//! same bytes for any `--threads`. A sweep experiment is checked at every point.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

use super::random::Case;
use super::{Report, check_seed};
use crate::run::RunError;
use crate::scenario::Scenario;

/// What to check.
#[derive(Clone, Debug, Default)]
pub struct CheckOptions {
    /// Seeds `1..=N` instead of the experiment's list.
    pub seeds: Option<u64>,
    /// Worker threads (default: all cores).
    pub threads: Option<usize>,
}

/// The verdict on one seed of one point.
#[derive(Clone, Debug)]
pub struct SeedCheck {
    /// The sweep point (`axis=value, …`), empty without a sweep.
    pub point: String,
    pub report: Report,
    /// Engine events of the run.
    pub events: u64,
    /// A run that could not be built (bad scenario for this seed).
    pub error: Option<String>,
}

impl SeedCheck {
    pub fn passed(&self) -> bool {
        self.error.is_none() && self.report.passed()
    }
}

fn pool(threads: Option<usize>) -> Result<Option<rayon::ThreadPool>, RunError> {
    threads
        .map(|n| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(n.max(1))
                .build()
                .map_err(|e| RunError::Threads(e.to_string()))
        })
        .transpose()
}

fn in_pool<R: Send>(pool: &Option<rayon::ThreadPool>, f: impl FnOnce() -> R + Send) -> R {
    match pool {
        Some(p) => p.install(f),
        None => f(),
    }
}

fn check_one(point: &str, scn: &Scenario, seed: u64) -> SeedCheck {
    match check_seed(scn, seed) {
        Ok((res, report)) => SeedCheck {
            point: point.to_string(),
            report,
            events: res.events,
            error: None,
        },
        Err(e) => SeedCheck {
            point: point.to_string(),
            report: Report {
                seed,
                ..Default::default()
            },
            events: 0,
            error: Some(e.to_string()),
        },
    }
}

/// Checks every seed (and every sweep point) of an experiment. `progress` is called with the
/// number of seed runs done and the total.
pub fn check_experiment(
    path: &Path,
    opts: &CheckOptions,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Vec<SeedCheck>, RunError> {
    // Points are made on demand (a point holds its whole topology): once to check them and
    // list their seeds, then by each job that runs one of their seeds.
    let points = crate::sweep::Points::open(path)?;
    let pool = pool(opts.threads)?;
    let seeds_of = in_pool(&pool, || {
        points.check_all(|p| {
            Ok::<_, RunError>(match opts.seeds {
                Some(n) => (1..=n).collect::<Vec<u64>>(),
                None => p.scenario.experiment.seeds.clone().unwrap_or_else(|| vec![1]),
            })
        })
    })?;
    let mut jobs = Vec::new();
    for (pi, seeds) in seeds_of.into_iter().enumerate() {
        jobs.extend(seeds.into_iter().map(|seed| (pi, seed)));
    }
    let total = jobs.len() as u64;
    let done = AtomicU64::new(0);
    let out = in_pool(&pool, || {
        jobs.par_iter()
            .map(|&(pi, seed)| {
                let label = points
                    .labels(pi)
                    .iter()
                    .map(|(a, v)| format!("{a}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let r = match points.point(pi) {
                    Ok(p) => check_one(&label, &p.scenario, seed),
                    // It loaded in the check above: only a file changed since could fail here.
                    Err(e) => SeedCheck {
                        point: label,
                        report: Report {
                            seed,
                            ..Default::default()
                        },
                        events: 0,
                        error: Some(e.to_string()),
                    },
                };
                progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
                r
            })
            .collect::<Vec<_>>()
    });
    Ok(out)
}

/// Checks a written trace file.
pub fn check_trace(path: &Path) -> Result<SeedCheck, String> {
    let report = super::check_trace_file(path)?;
    Ok(SeedCheck {
        point: path.display().to_string(),
        report,
        events: 0,
        error: None,
    })
}

/// One failed soak case.
#[derive(Clone, Debug)]
pub struct SoakFailure {
    pub case: Case,
    /// The violations (or the error) in words.
    pub message: String,
    /// Where the reproducing files were written, if a folder was given.
    pub dir: Option<PathBuf>,
}

/// What a soak run found.
#[derive(Clone, Debug, Default)]
pub struct SoakSummary {
    pub passed: u64,
    pub failures: Vec<SoakFailure>,
    /// Engine events over all cases.
    pub events: u64,
    /// Judgements per invariant over all cases.
    pub checked: std::collections::BTreeMap<&'static str, u64>,
}

/// Checks one random case: the violations or error in words, or `None` if it passed; plus
/// its report when it ran.
pub fn check_case(case: &Case) -> (Option<String>, Option<(u64, Report)>) {
    let scn = match case.load(Path::new("random-case")) {
        Ok(s) => s,
        Err(e) => return (Some(format!("case {} does not load: {e}", case.seed)), None),
    };
    match check_seed(&scn, case.seed) {
        Ok((res, report)) => {
            let msg = (!report.passed()).then(|| {
                report
                    .violations
                    .iter()
                    .take(5)
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            (msg, Some((res.events, report)))
        }
        Err(e) => (Some(format!("case {} does not build: {e}", case.seed)), None),
    }
}

/// Runs the random cases of seeds `from..from + count`; failing cases' files go to
/// `failures_dir/case-<seed>/` when given.
pub fn soak(
    from: u64,
    count: u64,
    threads: Option<usize>,
    failures_dir: Option<&Path>,
    progress: &(dyn Fn(u64, u64, u64) + Sync),
) -> Result<SoakSummary, RunError> {
    let pool = pool(threads)?;
    let done = AtomicU64::new(0);
    let failed = AtomicU64::new(0);
    let results: Vec<(Option<SoakFailure>, u64, std::collections::BTreeMap<&'static str, u64>)> =
        in_pool(&pool, || {
            (from..from + count)
                .into_par_iter()
                .map(|seed| {
                    let case = Case::from_seed(seed);
                    let (msg, rep) = check_case(&case);
                    let (events, checked) = rep.map(|(e, r)| (e, r.checked)).unwrap_or_default();
                    let failure = msg.map(|message| {
                        failed.fetch_add(1, Ordering::Relaxed);
                        let dir = failures_dir.map(|d| d.join(format!("case-{seed}")));
                        if let Some(d) = &dir {
                            let _ = case.write(d);
                        }
                        SoakFailure { case, message, dir }
                    });
                    progress(
                        done.fetch_add(1, Ordering::Relaxed) + 1,
                        count,
                        failed.load(Ordering::Relaxed),
                    );
                    (failure, events, checked)
                })
                .collect()
        });
    let mut s = SoakSummary::default();
    for (f, events, checked) in results {
        s.events += events;
        for (k, v) in checked {
            *s.checked.entry(k).or_default() += v;
        }
        match f {
            Some(f) => s.failures.push(f),
            None => s.passed += 1,
        }
    }
    Ok(s)
}
