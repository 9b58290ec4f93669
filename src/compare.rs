//! `secsim compare`: the points of an experiment's sweep (typically the FFS alternatives of one
//! knob) side by side, on the same seeds (common random numbers), as a Markdown table a
//! delegate can paste, with 95% confidence intervals and differences to the first point.
//!
//! Everything is computed from the aggregated `records.csv` of the sweep, so it can be checked
//! by recomputation (`tests/sim/compare.rs`):
//! - `runs`: records of the procedure and variant at the point;
//! - latency: mean, p50, p90 of the successful runs \[ms\]; 95% interval of the mean from
//!   the per-seed means (Student t);
//! - failure rate: runs not `ok` / runs, with its Wilson 95% interval;
//! - differences to the first point: of the mean latency and of the failure rate, paired by
//!   seed (the same seeds run at every point), with a Student t interval of the per-seed
//!   differences;
//! - `bytes/run` and `exchanges/run`: means of the `bytes` and `round_trips` columns;
//! - exposure (CAPIF interconnection): `capif_exposure` records per seed by item and boundary.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::metrics::Outcome;
use crate::metrics::csv::field;
use crate::metrics::stats::{mean_ci95, quantile, wilson95};
use crate::run::{RunError, RunOptions, write_atomic};
use crate::sweep::{parse_csv, run_sweep};

/// One (procedure, variant, point) row of the comparison.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Row {
    pub procedure: String,
    pub variant: String,
    pub point: usize,
    pub alternative: String,
    pub runs: usize,
    pub ok: usize,
    pub latency_mean: f64,
    pub latency_ci: (f64, f64),
    pub latency_p50: f64,
    pub latency_p90: f64,
    pub failure_rate: f64,
    pub failure_ci: (f64, f64),
    pub bytes_per_run: f64,
    pub exchanges_per_run: f64,
    /// Difference of the mean latency to point 0 and its interval (paired by seed).
    pub latency_diff: Option<(f64, f64, f64)>,
    /// Difference of the failure rate to point 0 and its interval (paired by seed).
    pub failure_diff: Option<(f64, f64, f64)>,
}

/// Exposure counts per seed by ("item from→to", point).
pub type Exposure = BTreeMap<(String, usize), f64>;

/// Per seed: (latency sum of ok runs, ok runs, runs).
type SeedAcc = (f64, usize, usize);

#[derive(Default)]
struct Acc {
    lat: Vec<f64>,
    runs: usize,
    ok: usize,
    bytes: f64,
    exchanges: f64,
    /// Per seed: (latency sum, ok count, runs).
    seeds: BTreeMap<u64, (f64, usize, usize)>,
}

/// The comparison table from an aggregated sweep `records.csv` text; also the exposure
/// counts per (item, boundary) and point (per seed).
pub fn compute(records_csv: &str) -> Result<(Vec<Row>, Exposure), String> {
    let rows = parse_csv(records_csv);
    let header = rows.first().ok_or("records.csv is empty")?;
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| format!("records.csv has no `{name}` column"))
    };
    let (c_point, c_seed, c_proc, c_var) = (col("point")?, col("seed")?, col("procedure")?, col("variant")?);
    let (c_lat, c_out, c_bytes, c_rt) = (col("latency_ms")?, col("outcome")?, col("bytes")?, col("round_trips")?);
    let (c_init, c_resp) = (col("initiator")?, col("responder")?);
    let axes: Vec<usize> = (c_point + 1..c_seed).collect();
    let mut labels: BTreeMap<usize, String> = BTreeMap::new();
    let mut acc: BTreeMap<(String, String, usize), Acc> = BTreeMap::new();
    let mut exposure: Exposure = BTreeMap::new();
    let mut seeds_at: BTreeMap<usize, std::collections::BTreeSet<u64>> = BTreeMap::new();
    for r in rows.iter().skip(1).filter(|r| r.len() == header.len()) {
        let point: usize = r[c_point].parse().map_err(|_| format!("bad point `{}`", r[c_point]))?;
        let seed: u64 = r[c_seed].parse().map_err(|_| format!("bad seed `{}`", r[c_seed]))?;
        seeds_at.entry(point).or_default().insert(seed);
        labels.entry(point).or_insert_with(|| {
            axes.iter()
                .map(|&a| format!("{}={}", header[a], r[a]))
                .collect::<Vec<_>>()
                .join(", ")
        });
        if r[c_proc] == "capif_exposure" {
            let key = format!("{} {}→{}", r[c_var], r[c_init], r[c_resp]);
            *exposure.entry((key, point)).or_default() += 1.0;
            continue;
        }
        let a = acc.entry((r[c_proc].clone(), r[c_var].clone(), point)).or_default();
        let ok = Outcome::parse(&r[c_out]) == Some(Outcome::Ok);
        let lat: f64 = r[c_lat].parse().unwrap_or(f64::NAN);
        a.runs += 1;
        a.bytes += r[c_bytes].parse::<f64>().unwrap_or(0.0);
        a.exchanges += r[c_rt].parse::<f64>().unwrap_or(0.0);
        let s = a.seeds.entry(seed).or_default();
        s.2 += 1;
        if ok {
            a.ok += 1;
            a.lat.push(lat);
            s.0 += lat;
            s.1 += 1;
        }
    }
    for ((_, point), v) in exposure.iter_mut() {
        *v /= seeds_at.get(point).map_or(1, |s| s.len()).max(1) as f64;
    }
    let mut out = Vec::new();
    for ((procedure, variant, point), a) in &acc {
        let mut lat = a.lat.clone();
        lat.sort_by(|x, y| x.total_cmp(y));
        let seed_means: Vec<f64> = a.seeds.values().filter(|s| s.1 > 0).map(|s| s.0 / s.1 as f64).collect();
        let (_, lo, hi) = mean_ci95(&seed_means);
        let (rate, rlo, rhi) = wilson95((a.runs - a.ok) as u64, a.runs as u64);
        let base = acc
            .get(&(procedure.clone(), variant.clone(), 0))
            .filter(|_| *point != 0);
        let paired = |f: &dyn Fn(&SeedAcc) -> Option<f64>| -> Option<(f64, f64, f64)> {
            let b = base?;
            let d: Vec<f64> = a
                .seeds
                .iter()
                .filter_map(|(seed, s)| Some(f(s)? - f(b.seeds.get(seed)?)?))
                .collect();
            (!d.is_empty()).then(|| mean_ci95(&d))
        };
        out.push(Row {
            procedure: procedure.clone(),
            variant: variant.clone(),
            point: *point,
            alternative: labels.get(point).cloned().unwrap_or_default(),
            runs: a.runs,
            ok: a.ok,
            latency_mean: if lat.is_empty() {
                f64::NAN
            } else {
                lat.iter().sum::<f64>() / lat.len() as f64
            },
            latency_ci: (lo, hi),
            latency_p50: quantile(&lat, 0.5),
            latency_p90: quantile(&lat, 0.9),
            failure_rate: rate,
            failure_ci: (rlo, rhi),
            bytes_per_run: a.bytes / a.runs.max(1) as f64,
            exchanges_per_run: a.exchanges / a.runs.max(1) as f64,
            latency_diff: paired(&|s| (s.1 > 0).then(|| s.0 / s.1 as f64)),
            failure_diff: paired(&|s| (s.2 > 0).then(|| (s.2 - s.1) as f64 / s.2 as f64)),
        });
    }
    Ok((out, exposure))
}

fn f3(x: f64) -> String {
    if x.is_nan() { "–".into() } else { format!("{x:.3}") }
}

fn pct(x: f64) -> String {
    if x.is_nan() {
        "–".into()
    } else {
        format!("{:.2}%", 100.0 * x)
    }
}

/// `compare.csv`.
pub fn to_csv(rows: &[Row]) -> String {
    let mut out = String::from(
        "procedure,variant,point,alternative,runs,ok,latency_ms_mean,latency_ms_mean_ci95_low,latency_ms_mean_ci95_high,latency_ms_p50,latency_ms_p90,latency_ms_diff,latency_ms_diff_ci95_low,latency_ms_diff_ci95_high,failure_rate,failure_rate_ci95_low,failure_rate_ci95_high,failure_rate_diff,failure_rate_diff_ci95_low,failure_rate_diff_ci95_high,bytes_per_run,exchanges_per_run\n",
    );
    let d = |x: Option<(f64, f64, f64)>| x.map_or(",,".to_string(), |(m, l, h)| format!("{m:.6},{l:.6},{h:.6}"));
    for r in rows {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{:.6},{:.6},{:.6},{:.6},{:.6},{},{:.6},{:.6},{:.6},{},{:.6},{:.6}",
            field(&r.procedure),
            field(&r.variant),
            r.point,
            field(&r.alternative),
            r.runs,
            r.ok,
            r.latency_mean,
            r.latency_ci.0,
            r.latency_ci.1,
            r.latency_p50,
            r.latency_p90,
            d(r.latency_diff),
            r.failure_rate,
            r.failure_ci.0,
            r.failure_ci.1,
            d(r.failure_diff),
            r.bytes_per_run,
            r.exchanges_per_run
        );
    }
    out
}

/// `compare.md`: one table per (procedure, variant), one row per alternative, then the
/// exposure table if any.
pub fn to_markdown(name: &str, seeds: usize, rows: &[Row], exposure: &Exposure) -> String {
    let mut md = format!(
        "# {name}: alternatives compared\n\n{seeds} seed(s) per alternative, the same seeds for all (common random numbers). \
         Latency in ms over successful runs; [95% CI]: Student t across seeds for means and paired differences, \
         Wilson for failure rates. Δ: difference to the first alternative, paired by seed; `*` marks an interval \
         that excludes 0.\n"
    );
    let mut groups: BTreeMap<(&str, &str), Vec<&Row>> = BTreeMap::new();
    for r in rows {
        groups.entry((&r.procedure, &r.variant)).or_default().push(r);
    }
    for ((procedure, variant), rs) in groups {
        let _ = write!(
            md,
            "\n## {procedure} — {variant}\n\n| alternative | runs | latency mean [95% CI] | p50 | p90 | Δ mean [95% CI] | failure rate [95% CI] | Δ failure [95% CI] | bytes/run | exchanges/run |\n|---|---:|---|---:|---:|---|---|---|---:|---:|\n"
        );
        for r in rs {
            let diff = |d: Option<(f64, f64, f64)>, fmt: &dyn Fn(f64) -> String| match d {
                Some((m, l, h)) => {
                    let star = if l > 0.0 || h < 0.0 { " *" } else { "" };
                    format!("{} [{}, {}]{star}", fmt(m), fmt(l), fmt(h))
                }
                None if r.point == 0 => "(baseline)".to_string(),
                None => "– (not at the first alternative)".to_string(),
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} [{}, {}] | {} | {} | {} | {} [{}, {}] | {} | {:.0} | {:.2} |",
                r.alternative.replace('|', "\\|"),
                r.runs,
                f3(r.latency_mean),
                f3(r.latency_ci.0),
                f3(r.latency_ci.1),
                f3(r.latency_p50),
                f3(r.latency_p90),
                diff(r.latency_diff, &f3),
                pct(r.failure_rate),
                pct(r.failure_ci.0),
                pct(r.failure_ci.1),
                diff(r.failure_diff, &pct),
                r.bytes_per_run,
                r.exchanges_per_run
            );
        }
    }
    if !exposure.is_empty() {
        let points: Vec<usize> = {
            let mut p: Vec<usize> = exposure.keys().map(|k| k.1).collect();
            p.sort();
            p.dedup();
            p
        };
        let alt = |p: usize| {
            rows.iter()
                .find(|r| r.point == p)
                .map_or(format!("point {p}"), |r| r.alternative.clone())
        };
        let _ = write!(
            md,
            "\n## Exposure (items crossing a domain boundary, per seed)\n\n| item, boundary |"
        );
        for &p in &points {
            let _ = write!(md, " {} |", alt(p).replace('|', "\\|"));
        }
        let _ = write!(md, "\n|---|{}\n", "---:|".repeat(points.len()));
        let mut items: Vec<&String> = exposure.keys().map(|k| &k.0).collect();
        items.sort();
        items.dedup();
        for it in items {
            let _ = write!(md, "| {it} |");
            for &p in &points {
                let v = exposure.get(&(it.clone(), p)).copied().unwrap_or(0.0);
                let _ = write!(md, " {v:.1} |");
            }
            md.push('\n');
        }
    }
    md.push_str("\nBox plots per procedure: `sweep_<procedure>_latency.svg`; outcomes: `sweep_outcomes.svg`.\n");
    md
}

/// Runs the sweep of the experiment at `path` (resuming complete points) and writes
/// `compare.md` and `compare.csv` next to its results. Returns the results folder.
pub fn compare(path: &Path, opts: &RunOptions) -> Result<PathBuf, RunError> {
    let s = run_sweep(path, opts)?;
    let rec_path = s.dir.join(crate::run::RecordsFormat::Csv.file_name(true));
    let text = crate::run::read_gzip_text(&rec_path).map_err(|error| RunError::Io {
        path: rec_path.display().to_string(),
        error,
    })?;
    let (rows, exposure) = compute(&text).map_err(|m| RunError::Io {
        path: rec_path.display().to_string(),
        error: std::io::Error::other(m),
    })?;
    let scn = crate::scenario::load_experiment(path)?;
    let seeds = match opts.seeds {
        Some(n) => n as usize,
        None => scn.experiment.seeds.as_ref().map_or(1, Vec::len),
    };
    write_atomic(&s.dir.join("compare.csv"), to_csv(&rows).as_bytes())?;
    let md = to_markdown(&scn.experiment.name, seeds, &rows, &exposure);
    write_atomic(&s.dir.join("compare.md"), md.as_bytes())?;
    Ok(s.dir)
}
