//! Sweeps: running every point of an experiment's `sweep` (the points themselves are
//! [`crate::scenario::points`]), sharding, resuming and merging, and the sweep's top-level
//! files and plots.

pub use crate::scenario::points::{MAX_POINTS, Point, Points, axis_name, expand, expand_sources, substitute};

use std::collections::BTreeMap;
use std::fs;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde_json::json;

use crate::metrics::Outcome;
use crate::metrics::csv::{RowContext, field};
use crate::metrics::plot;
use crate::run::lock::FolderLock;
use crate::run::{RecordsFormat, RunError, RunOptions, SeedResult, git_commit, run_seed_within, write_atomic};

/// The folder of point `index` inside a results folder.
pub fn point_dir(dir: &Path, index: usize) -> PathBuf {
    dir.join("points").join(format!("p{index:05}"))
}

/// What a sweep run did.
#[derive(Clone, Debug)]
pub struct SweepSummary {
    pub dir: PathBuf,
    /// Points of the sweep.
    pub total: usize,
    /// Points run by this invocation.
    pub ran: usize,
    /// Points skipped because `--resume` found them complete.
    pub skipped: usize,
    /// Events delivered by this invocation.
    pub events: u64,
    pub wall_s: f64,
    /// Whether the top-level files were written (not for a shard).
    pub aggregated: bool,
    /// One line per (point, seed) that stopped before the experiment's end, in point order.
    pub early: Vec<String>,
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> RunError + '_ {
    move |error| RunError::Io {
        path: path.display().to_string(),
        error,
    }
}

/// What identifies a sweep's results: every point's scenario hash (experiment, topology and
/// the axis values), in point order.
fn sweep_hash(hashes: &[String]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in hashes {
        h.update(p.as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

/// The manifest a sweep folder holds (`manifest.json`, or `shard-manifest.json` for a shard).
fn folder_manifest(dir: &Path) -> Option<(PathBuf, serde_json::Value)> {
    ["manifest.json", "shard-manifest.json"].into_iter().find_map(|n| {
        let f = dir.join(n);
        let text = fs::read_to_string(&f).ok()?;
        Some((f, serde_json::from_str(&text).unwrap_or_default()))
    })
}

/// Refuses to write this sweep (`hash`, `seeds`) into `dir` if `dir` holds another sweep's
/// results (or the same sweep's with other seeds), naming the folder.
fn check_folder(dir: &Path, name: &str, hash: &str, seeds: &[u64]) -> Result<(), RunError> {
    let Some((f, m)) = folder_manifest(dir) else {
        return Ok(());
    };
    let theirs = m["experiment"].as_str().unwrap_or("?");
    // A folder of an older secsim (no sweep hash) is judged by the experiment's name alone.
    let same = match m["sweep_hash"].as_str() {
        Some(h) => h == hash,
        None => theirs == name,
    };
    let message = if !same {
        format!(
            "the folder holds the results of another sweep (experiment `{theirs}`, or `{name}` with other \
             files or axes); choose another --out or remove the folder"
        )
    } else if m["seeds"] != json!(seeds) {
        format!("the folder holds `{name}` run with seeds {}, not {seeds:?}", m["seeds"])
    } else {
        return Ok(());
    };
    Err(RunError::Mismatch {
        path: f.display().to_string(),
        message,
    })
}

/// The `point.json` of a complete point.
fn point_json(p: &Point, total: usize, seeds: &[u64], runs: &[SeedResult]) -> String {
    let v = json!({
        "index": p.index,
        "total": total,
        "experiment": p.scenario.experiment.name,
        "labels": p.labels.iter().map(|(n, v)| json!([n, v])).collect::<Vec<_>>(),
        "scenario_hash": p.scenario.hash,
        "git_commit": git_commit(p.scenario.experiment_path.parent().unwrap_or(Path::new("."))),
        "seeds": seeds,
        "events": runs.iter().map(|r| r.events).collect::<Vec<_>>(),
        "records": runs.iter().map(|r| r.records.len()).collect::<Vec<_>>(),
    });
    serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
}

/// Whether point `index`'s folder holds a complete result (scenario `hash`) for these seeds
/// (for `--resume`).
fn complete(dir: &Path, index: usize, hash: &str, seeds: &[u64]) -> bool {
    let Ok(text) = fs::read_to_string(point_dir(dir, index).join("point.json")) else {
        return false;
    };
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
        return false;
    };
    v["scenario_hash"] == json!(hash) && v["seeds"] == json!(seeds)
}

/// Runs the points of the experiment at `path` (those of shard `i/n` with `--shard`),
/// writing each point's folder as soon as its seeds are done; with `--resume`, points already
/// complete are skipped. Without `--shard`, the top-level files are then written from the
/// point folders ([`aggregate`]), so a sharded run merged with [`merge`] gives the same bytes.
pub fn run_sweep(path: &Path, opts: &RunOptions) -> Result<SweepSummary, RunError> {
    // Points are made on demand (a point holds its whole topology): once to check them all,
    // once more to run each, never all at once.
    let points = Points::open(path)?;
    // The sweep's name, seeds and axes are point 0's (as the file gives them unless an axis
    // changes them).
    let first = points.point(0)?;
    let base = &first.scenario.experiment;
    let seeds: Vec<u64> = match opts.seeds {
        Some(n) => (1..=n).collect(),
        None => base.seeds.clone().unwrap_or_else(|| vec![1]),
    };
    let pool = match opts.threads {
        Some(n) => Some(
            rayon::ThreadPoolBuilder::new()
                .num_threads(n.max(1))
                .build()
                .map_err(|e| RunError::Threads(e.to_string()))?,
        ),
        None => None,
    };
    // Every point must load and build before any work is done (bad input: exit 2).
    let check = || {
        points.check_all(|p| {
            crate::build::world(&p.scenario.topology, &p.scenario.experiment, seeds[0]).map_err(|error| {
                RunError::Build {
                    path: format!("{} (sweep point {})", path.display(), p.index),
                    error,
                }
            })?;
            Ok::<_, RunError>(p.scenario.hash.clone())
        })
    };
    let hashes: Vec<String> = match &pool {
        Some(pool) => pool.install(check)?,
        None => check()?,
    };
    let dir = opts
        .out
        .clone()
        .unwrap_or_else(|| Path::new("results").join(&base.name));
    let hash = sweep_hash(&hashes);
    // Locked before it is checked: no other writer changes it in between (a folder made
    // here has no manifest, so a refusal below leaves nothing new but the folder).
    let existed = dir.is_dir();
    fs::create_dir_all(&dir).map_err(io_err(&dir))?;
    let lock = FolderLock::acquire(&dir);
    let _lock = match (lock, existed) {
        (Ok(l), _) => l,
        (Err(e), false) => {
            let _ = fs::remove_dir(&dir);
            return Err(e);
        }
        (Err(e), true) => return Err(e),
    };
    check_folder(&dir, &base.name, &hash, &seeds)?;
    fs::create_dir_all(dir.join("points")).map_err(io_err(&dir))?;
    let total = points.len();
    let (shard_i, shard_n) = opts.shard.unwrap_or((0, 1));
    let mine: Vec<usize> = (0..total).filter(|i| i % shard_n == shard_i).collect();
    let (todo, done): (Vec<usize>, Vec<usize>) = mine
        .into_iter()
        .partition(|&i| !(opts.resume && complete(&dir, i, &hashes[i], &seeds)));
    let started = Instant::now();
    let bar = if !opts.quiet && std::io::stderr().is_terminal() {
        let b = ProgressBar::new((todo.len() * seeds.len()) as u64);
        b.set_style(
            ProgressStyle::with_template("{spinner} {msg} [{bar:40}] {pos}/{len} runs, {per_sec}, eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b.set_message(format!("{}: {} points x {} seeds", base.name, todo.len(), seeds.len()));
        Some(b)
    } else {
        None
    };
    let events = Mutex::new(0u64);
    let finished = Mutex::new(0usize);
    let failures: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let early: Mutex<Vec<(usize, u64, String)>> = Mutex::new(Vec::new());
    let work = |&index: &usize| {
        let p = match points.point(index) {
            Ok(p) => p,
            Err(e) => {
                // It loaded in the check above: only a file changed since could fail here.
                failures.lock().unwrap_or_else(|e| e.into_inner()).push(e.to_string());
                return;
            }
        };
        let p = &p;
        let results: Vec<Result<SeedResult, String>> = seeds
            .par_iter()
            .map(|&seed| {
                let r = run_seed_within(&p.scenario, seed, seeds.len(), None, false, &|_| {})
                    .map(|(r, _)| r)
                    .map_err(|e| format!("point {} seed {seed}: {e}", p.index));
                if let Some(b) = &bar {
                    b.inc(1);
                }
                r
            })
            .collect();
        let (ok, bad): (Vec<_>, Vec<_>) = results.into_iter().partition(|r| r.is_ok());
        if !bad.is_empty() {
            let mut f = failures.lock().unwrap_or_else(|e| e.into_inner());
            f.extend(bad.into_iter().filter_map(Result::err));
            return; // incomplete: no point.json, a resumed run redoes it
        }
        let runs: Vec<SeedResult> = ok.into_iter().filter_map(Result::ok).collect();
        let what = format!("point {} ", p.index);
        let stops = runs
            .iter()
            .filter_map(|r| r.early_stop(&what).map(|m| (p.index, r.seed, m)));
        early.lock().unwrap_or_else(|e| e.into_inner()).extend(stops);
        let written = write_point(&dir, p, total, &seeds, &runs);
        if let Err(e) = written {
            failures.lock().unwrap_or_else(|e| e.into_inner()).push(e.to_string());
            return;
        }
        let ev: u64 = runs.iter().map(|r| r.events).sum();
        *events.lock().unwrap_or_else(|e| e.into_inner()) += ev;
        let mut n = finished.lock().unwrap_or_else(|e| e.into_inner());
        *n += 1;
        if bar.is_none() && !opts.quiet {
            let at: Vec<String> = p.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let secs = started.elapsed().as_secs_f64().max(1e-9);
            eprintln!(
                "secsim: {} point {} done ({}/{}; {}): {ev} events, {:.0} events/s",
                base.name,
                p.index,
                *n,
                todo.len(),
                at.join(" "),
                *events.lock().unwrap_or_else(|e| e.into_inner()) as f64 / secs
            );
        }
    };
    match &pool {
        Some(pool) => pool.install(|| todo.par_iter().for_each(work)),
        None => todo.par_iter().for_each(work),
    }
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let wall_s = started.elapsed().as_secs_f64();
    let failures = failures.into_inner().unwrap_or_else(|e| e.into_inner());
    let aggregated = opts.shard.is_none() && failures.is_empty();
    if aggregated {
        aggregate(&dir, opts.format)?;
    }
    let commit = git_commit(path.parent().unwrap_or(Path::new(".")));
    let manifest = json!({
        "secsim_version": env!("CARGO_PKG_VERSION"),
        "git_commit": commit,
        "experiment": base.name,
        "experiment_file": path.display().to_string(),
        "axes": base.sweep.iter().map(|a| json!({"name": axis_name(a), "path": a.path, "values": a.values})).collect::<Vec<_>>(),
        "points": total,
        "sweep_hash": hash,
        "seeds": seeds,
        "shard": opts.shard.map(|(i, n)| format!("{i}/{n}")),
        "ran_points": todo,
        "resumed_points": done,
        "threads": opts.threads.unwrap_or_else(rayon::current_num_threads),
        "wall_time_s": wall_s,
    });
    let name = if opts.shard.is_some() {
        "shard-manifest.json"
    } else {
        "manifest.json"
    };
    write_atomic(
        &dir.join(name),
        serde_json::to_string_pretty(&manifest).unwrap_or_default().as_bytes(),
    )?;
    if let Some(first) = failures.first() {
        return Err(RunError::Seeds {
            failed: failures.len(),
            total: todo.len() * seeds.len(),
            dir: dir.display().to_string(),
            first: first.clone(),
        });
    }
    Ok(SweepSummary {
        dir,
        total,
        ran: todo.len(),
        skipped: done.len(),
        events: events.into_inner().unwrap_or(0),
        wall_s,
        aggregated,
        early: {
            let mut e = early.into_inner().unwrap_or_else(|e| e.into_inner());
            e.sort();
            e.into_iter().map(|(_, _, m)| m).collect()
        },
    })
}

/// A point folder's records, gzipped like the sweep's table of every point
/// (`records.csv.gz` at the top; `zcat` or `pandas.read_csv` read either as is).
pub const POINT_RECORDS: &str = "records.csv.gz";

/// Writes one point's folder; `point.json` last, so its presence means complete. Temporary
/// files left in it by an interrupted writer are removed first: the sweep holds the folder's
/// lock and one thread writes each point, so none is in use.
fn write_point(dir: &Path, p: &Point, total: usize, seeds: &[u64], runs: &[SeedResult]) -> Result<(), RunError> {
    let pd = point_dir(dir, p.index);
    fs::create_dir_all(&pd).map_err(io_err(&pd))?;
    for e in fs::read_dir(&pd).map_err(io_err(&pd))?.flatten() {
        if e.file_name().to_str().is_some_and(|n| n.ends_with(".tmp")) && e.path().is_file() {
            let _ = fs::remove_file(e.path());
        }
    }
    let ctx = RowContext::point(&p.scenario.experiment.name, p.index, &p.labels);
    crate::run::write_tables(&ctx, &pd, runs, crate::run::RecordsFile::PointGz)?;
    // The point's own plots (latency CDFs, outcomes, CAPIF timelines and tables).
    crate::run::write_point_outputs(&p.scenario, &pd, runs)?;
    write_atomic(&pd.join("point.json"), point_json(p, total, seeds, runs).as_bytes())
}

/// RFC 4180 rows of a CSV text (quoted fields may hold commas, quotes and newlines).
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => cur.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cur)),
            (false, '\n') => {
                row.push(std::mem::take(&mut cur));
                rows.push(std::mem::take(&mut row));
            }
            (false, '\r') => {}
            (false, c) => cur.push(c),
        }
    }
    if !cur.is_empty() || !row.is_empty() {
        row.push(cur);
        rows.push(row);
    }
    rows
}

struct PointFiles {
    index: usize,
    experiment: String,
    labels: Vec<(String, String)>,
    records: String,
    summary: String,
}

fn read_points(dir: &Path) -> Result<Vec<PointFiles>, RunError> {
    let pdir = dir.join("points");
    let mut entries: Vec<PathBuf> = fs::read_dir(&pdir)
        .map_err(io_err(&pdir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("point.json").is_file())
        .collect();
    entries.sort();
    let mut out = Vec::new();
    let mut total = None;
    for e in entries {
        let read = |f: &str| fs::read_to_string(e.join(f)).map_err(io_err(&e));
        let meta: serde_json::Value = serde_json::from_str(&read("point.json")?).map_err(|err| RunError::Io {
            path: e.join("point.json").display().to_string(),
            error: std::io::Error::other(err),
        })?;
        let index = meta["index"].as_u64().unwrap_or(u64::MAX) as usize;
        total = total.or(meta["total"].as_u64().map(|t| t as usize));
        let labels = meta["labels"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|l| {
                        (
                            l[0].as_str().unwrap_or_default().to_string(),
                            l[1].as_str().unwrap_or_default().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.push(PointFiles {
            index,
            experiment: meta["experiment"].as_str().unwrap_or("sweep").to_string(),
            labels,
            records: crate::run::read_gzip_text(&e.join(POINT_RECORDS)).map_err(io_err(&e.join(POINT_RECORDS)))?,
            summary: read("summary.csv")?,
        });
    }
    out.sort_by_key(|p| p.index);
    let total = total.unwrap_or(0);
    let missing: Vec<usize> = (0..total).filter(|i| out.iter().all(|p| p.index != *i)).collect();
    if total == 0 || !missing.is_empty() {
        let shown: Vec<String> = missing.iter().take(10).map(|i| i.to_string()).collect();
        return Err(RunError::Io {
            path: pdir.display().to_string(),
            error: std::io::Error::other(format!(
                "incomplete sweep: {} of {total} points missing ({}{}); run the missing shards or --resume",
                missing.len().max(usize::from(total == 0)),
                shown.join(", "),
                if missing.len() > 10 { ", ..." } else { "" }
            )),
        });
    }
    out.retain(|p| p.index < total);
    Ok(out)
}

/// The axis values of a point, as plot categories.
type PointValues = Box<dyn Fn(&PointFiles) -> Vec<String>>;

/// Plot labels of sweep axes: an axis whose values (`values[point][axis]`) share a head and
/// a tail (`Poisson(rate_per_s: 5.0)`, `Poisson(rate_per_s: 20.0)`) is named
/// `rate_per_s: Poisson(rate_per_s: …)` and its values are what differs (`5.0`, `20.0`). The
/// shared parts end (head) or start (tail) at a delimiter (`(`, `:`, `,`, space, `"`, `)`,
/// `[`, `]`), so a number is never cut; an axis with one value, or sharing only brackets and
/// punctuation, is kept.
pub fn shorten_axes(axes: &[String], values: &[Vec<String>]) -> (Vec<String>, Vec<Vec<String>>) {
    let delim = |c: char| matches!(c, '(' | ')' | ':' | ',' | ' ' | '"' | '[' | ']');
    let mut names = axes.to_vec();
    let mut out = values.to_vec();
    for (a, name) in names.iter_mut().enumerate() {
        let col: Vec<&str> = values.iter().filter_map(|v| v.get(a).map(String::as_str)).collect();
        let Some(first) = col.first() else { continue };
        if col.iter().all(|v| v == first) {
            continue;
        }
        // Common head, in chars, backed off to just after a delimiter.
        let chars: Vec<Vec<char>> = col.iter().map(|v| v.chars().collect()).collect();
        let min_len = chars.iter().map(Vec::len).min().unwrap_or(0);
        let mut head = (0..min_len)
            .take_while(|&i| chars.iter().all(|c| c[i] == chars[0][i]))
            .count();
        while head > 0 && !delim(chars[0][head - 1]) {
            head -= 1;
        }
        // Common tail (not overlapping the head), backed off to start at a delimiter.
        let mut tail = (0..min_len - head)
            .take_while(|&i| {
                chars
                    .iter()
                    .all(|c| c[c.len() - 1 - i] == chars[0][chars[0].len() - 1 - i])
            })
            .count();
        while tail > 0 && !delim(chars[0][chars[0].len() - tail]) {
            tail -= 1;
        }
        let h: String = chars[0][..head].iter().collect();
        let t: String = chars[0][chars[0].len() - tail..].iter().collect();
        // Only a shared name is worth moving (`Poisson(`), not bare brackets (`(…)`).
        if !h.chars().chain(t.chars()).any(char::is_alphanumeric) {
            continue;
        }
        *name = format!("{name}: {h}…{t}");
        for (row, c) in out.iter_mut().zip(&chars) {
            if let Some(v) = row.get_mut(a) {
                *v = c[head..c.len() - tail].iter().collect();
                if v.is_empty() {
                    *v = "(empty)".into();
                }
            }
        }
    }
    (names, out)
}

/// Writes the top-level files of a sweep from its point folders: `points.csv`, `records.csv.gz`
/// and `summary.csv` (the point files' rows, which carry their point and axis values), box plots of the
/// latency per point for each procedure, and the outcome breakdown per point. Everything is a
/// function of the point folders only, so a merged sharded run gives the same bytes.
pub fn aggregate(dir: &Path, format: RecordsFormat) -> Result<(), RunError> {
    let points = read_points(dir)?;
    let axes: Vec<String> = points[0].labels.iter().map(|(n, _)| n.clone()).collect();
    let axis_header: String = axes.iter().map(|a| format!(",{}", field(a))).collect();
    let mut points_csv = format!("point{axis_header}\n");
    // The point files' rows already carry the experiment, point and axis columns.
    let header_of = |text: &str| text.lines().next().unwrap_or_default().to_string();
    let mut records = header_of(&points[0].records) + "\n";
    let mut summ = header_of(&points[0].summary) + "\n";
    for p in &points {
        let vals: String = p.labels.iter().map(|(_, v)| format!(",{}", field(v))).collect();
        points_csv.push_str(&format!("{}{vals}\n", p.index));
        for (text, out) in [(&p.records, &mut records), (&p.summary, &mut summ)] {
            for line in text.lines().skip(1) {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    write_atomic(&dir.join("points.csv"), points_csv.as_bytes())?;
    format.write(dir, &records, true)?;
    write_atomic(&dir.join("summary.csv"), summ.as_bytes())?;

    // Per point: latencies of successful runs per procedure, outcomes per point; points are
    // labelled by their axis values (a point without labels by its index).
    // What the values of an axis share (`Poisson(rate_per_s: …)`) moves into its name.
    let (cat_axes, values_of): (Vec<String>, PointValues) = if axes.is_empty() {
        (
            vec!["point".to_string()],
            Box::new(|p: &PointFiles| vec![p.index.to_string()]),
        )
    } else {
        let values: Vec<Vec<String>> = points
            .iter()
            .map(|p| p.labels.iter().map(|(_, v)| v.clone()).collect())
            .collect();
        let (names, short) = shorten_axes(&axes, &values);
        let by_index: BTreeMap<usize, Vec<String>> = points.iter().map(|p| p.index).zip(short).collect();
        (
            names,
            Box::new(move |p: &PointFiles| by_index.get(&p.index).cloned().unwrap_or_default()),
        )
    };
    let mut lat: BTreeMap<String, Vec<(&PointFiles, Vec<f64>)>> = BTreeMap::new();
    let mut bars = Vec::new();
    for p in &points {
        let rows = parse_csv(&p.records);
        let Some(header) = rows.first() else { continue };
        let col = |name: &str| header.iter().position(|h| h == name).unwrap_or(usize::MAX);
        let (c_proc, c_out, c_lat) = (col("procedure"), col("outcome"), col("latency_ms"));
        let mut by_proc: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
        for r in rows.iter().skip(1).filter(|r| r.len() == header.len()) {
            *outcomes.entry(r[c_out].clone()).or_default() += 1;
            if Outcome::parse(&r[c_out]) == Some(Outcome::Ok)
                && let Ok(x) = r[c_lat].parse::<f64>()
            {
                by_proc.entry(r[c_proc].clone()).or_default().push(x);
            }
        }
        for (proc_, v) in by_proc {
            lat.entry(proc_).or_default().push((p, v));
        }
        bars.push(plot::Breakdown {
            labels: values_of(p),
            counts: outcomes.into_iter().collect(),
            legend_counts: None,
        });
    }
    let name = points[0].experiment.clone();
    let perr = |e: plot::PlotError| RunError::Io {
        path: e.path.clone(),
        error: std::io::Error::other(e.message),
    };
    for (proc_, series) in &lat {
        let boxes: Vec<plot::BoxStat> = series
            .iter()
            .map(|(p, v)| plot::BoxStat::of(&format!("p{}", p.index), v))
            .collect();
        let cats = plot::Categories {
            axes: cat_axes.clone(),
            values: series.iter().map(|(p, _)| values_of(p)).collect(),
        };
        plot::boxes(
            dir,
            &format!("sweep_{proc_}_latency"),
            &format!("{name}: {proc_} latency of successful runs per point (whiskers p5, p95; box p25-p75; line p50)"),
            "latency [ms]",
            &boxes,
            &cats,
        )
        .map_err(perr)?;
    }
    plot::breakdown(
        dir,
        "sweep_outcomes",
        &format!("{name}: outcomes of all procedures per sweep point (failed: not ok)"),
        &cat_axes,
        &bars,
    )
    .map_err(perr)?;
    Ok(())
}

/// `secsim merge`: copies the point folders of every shard folder into `out` (a point
/// present twice must be byte-identical) and writes the top-level files with [`aggregate`].
/// Returns the number of points.
pub fn merge(out: &Path, shards: &[PathBuf], format: RecordsFormat) -> Result<usize, RunError> {
    // Every input must be a shard of one sweep, run with the same seeds, each shard once.
    let mut first: Option<(PathBuf, serde_json::Value)> = None;
    let mut seen: BTreeMap<String, PathBuf> = BTreeMap::new();
    for s in shards {
        let mismatch = |message: String| RunError::Mismatch {
            path: s.display().to_string(),
            message,
        };
        let Some((_, m)) = folder_manifest(s) else {
            return Err(mismatch(
                "not a sweep folder (no manifest.json or shard-manifest.json)".into(),
            ));
        };
        if m["sweep_hash"].as_str().is_none() {
            return Err(mismatch(
                "its manifest has no sweep_hash (made by an older secsim?)".into(),
            ));
        }
        let shard = m["shard"].as_str().unwrap_or("0/1").to_string();
        if let Some(other) = seen.insert(shard.clone(), s.clone()) {
            return Err(mismatch(format!(
                "shard {shard} is given twice (also {})",
                other.display()
            )));
        }
        match &first {
            None => first = Some((s.clone(), m)),
            Some((f, fm)) => {
                if fm["sweep_hash"] != m["sweep_hash"] {
                    return Err(mismatch(format!(
                        "a shard of another sweep than {} (experiment `{}` here, `{}` there, or other files or axes)",
                        f.display(),
                        m["experiment"].as_str().unwrap_or("?"),
                        fm["experiment"].as_str().unwrap_or("?")
                    )));
                }
                if fm["seeds"] != m["seeds"] {
                    return Err(mismatch(format!(
                        "run with seeds {}, {} with seeds {}",
                        m["seeds"],
                        f.display(),
                        fm["seeds"]
                    )));
                }
            }
        }
    }
    let _lock = if let Some((_, m)) = &first {
        let seeds: Vec<u64> = m["seeds"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_u64())
            .collect();
        let (name, hash) = (
            m["experiment"].as_str().unwrap_or("?"),
            m["sweep_hash"].as_str().unwrap_or(""),
        );
        fs::create_dir_all(out).map_err(io_err(out))?;
        let lock = FolderLock::acquire(out)?;
        check_folder(out, name, hash, &seeds)?;
        Some(lock)
    } else {
        None
    };
    fs::create_dir_all(out.join("points")).map_err(io_err(out))?;
    let mut count = 0;
    let mut manifests = Vec::new();
    for s in shards {
        let pdir = s.join("points");
        let mut entries: Vec<PathBuf> = fs::read_dir(&pdir)
            .map_err(io_err(&pdir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join("point.json").is_file())
            .collect();
        entries.sort();
        for e in entries {
            let Some(name) = e.file_name() else { continue };
            let target = out.join("points").join(name);
            fs::create_dir_all(&target).map_err(io_err(&target))?;
            let mut names: Vec<String> = fs::read_dir(&e)
                .map_err(io_err(&e))?
                .filter_map(|x| x.ok())
                .filter(|x| x.path().is_file())
                .filter_map(|x| x.file_name().to_str().map(str::to_string))
                .filter(|n| !n.ends_with(".tmp") && n != "point.json")
                .collect();
            names.sort();
            names.push("point.json".into()); // last: a complete point
            for f in &names {
                let bytes = fs::read(e.join(f)).map_err(io_err(&e))?;
                let t = target.join(f);
                if let Ok(existing) = fs::read(&t)
                    && existing != bytes
                {
                    return Err(RunError::Io {
                        path: t.display().to_string(),
                        error: std::io::Error::other(format!("differs from {}", e.join(f).display())),
                    });
                }
                write_atomic(&t, &bytes)?;
            }
            count += 1;
        }
        if let Ok(m) = fs::read_to_string(s.join("shard-manifest.json")) {
            manifests.push(serde_json::from_str::<serde_json::Value>(&m).unwrap_or_default());
        }
    }
    aggregate(out, format)?;
    let first = first.map(|(_, m)| m).unwrap_or_default();
    let manifest = json!({
        "secsim_version": env!("CARGO_PKG_VERSION"),
        "experiment": first["experiment"],
        "sweep_hash": first["sweep_hash"],
        "seeds": first["seeds"],
        "merged_from": shards.iter().map(|s| s.display().to_string()).collect::<Vec<_>>(),
        "shards": manifests,
    });
    write_atomic(
        &out.join("manifest.json"),
        serde_json::to_string_pretty(&manifest).unwrap_or_default().as_bytes(),
    )?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    #[test]
    fn axis_values_keep_what_differs() {
        let axes = vec!["ipx_latency".to_string(), "rate".to_string(), "loss".to_string()];
        let row = |a: &str, b: &str, c: &str| vec![a.to_string(), b.to_string(), c.to_string()];
        let values = vec![
            row(
                r#"LogNormal(median: "5ms", sigma: 0.1)"#,
                "Poisson(rate_per_s: 5.0)",
                "0.0",
            ),
            row(
                r#"LogNormal(median: "18ms", sigma: 0.1)"#,
                "Poisson(rate_per_s: 20.0)",
                "0.001",
            ),
            row(
                r#"LogNormal(median: "60ms", sigma: 0.1)"#,
                "Poisson(rate_per_s: 80.0)",
                "0.01",
            ),
        ];
        let (names, short) = super::shorten_axes(&axes, &values);
        assert_eq!(
            names,
            [
                r#"ipx_latency: LogNormal(median: "…", sigma: 0.1)"#,
                "rate: Poisson(rate_per_s: …)",
                // Numbers are never cut ("0." is not a shared head).
                "loss",
            ]
        );
        assert_eq!(short[0], ["5ms", "5.0", "0.0"]);
        assert_eq!(short[1], ["18ms", "20.0", "0.001"]);
        assert_eq!(short[2], ["60ms", "80.0", "0.01"]);
        // One value, or nothing shared: unchanged.
        let (n, v) = super::shorten_axes(&axes[..1], &[vec!["A".into()], vec!["A".into()]]);
        assert_eq!((n[0].as_str(), v[1][0].as_str()), ("ipx_latency", "A"));
        let (n, v) = super::shorten_axes(&axes[..1], &[vec!["x()".into()], vec!["x(1)".into()]]);
        assert_eq!(
            (n[0].as_str(), v[0][0].as_str(), v[1][0].as_str()),
            ("ipx_latency: x(…)", "(empty)", "1")
        );
        // Only brackets shared: unchanged.
        let (n, v) = super::shorten_axes(&axes[..1], &[vec!["()".into()], vec!["(oauth: X)".into()]]);
        assert_eq!((n[0].as_str(), v[0][0].as_str()), ("ipx_latency", "()"));
    }
}
