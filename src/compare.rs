//! `secsim compare`: the points of an experiment's sweep (typically the FFS alternatives of one
//! knob) side by side, on the same seeds (common random numbers), as Markdown tables a delegate
//! can paste (`compare.md`) and a tidy table (`compare.csv`), with 95% confidence intervals and
//! differences to the baseline paired by seed.
//!
//! **What is an alternative.** An alternative is a sweep point, labelled by its axis values
//! (`recovery=ExplicitCause`). An experiment without a sweep, or whose sweep has one point, has
//! nothing to compare: `compare` stops before running anything with an input error (exit 2)
//! naming the file. (The variants or flows of a single run are not compared as alternatives:
//! they do not run on the same invokers and load, so a paired difference between them would
//! not mean what it means between points; `secsim run` lists them in `summary.csv`.)
//!
//! **Tables.** Records group by (procedure, flow): flows are never merged, since the flows of an
//! experiment usually are the alternatives of another dimension (one CAPIF method per flow, one
//! PLMN pair per flow). Within a (procedure, flow):
//! - if the variant is a function of the point (every point has one variant value, as for
//!   `capif_recovery`, whose variant is the strategy the sweep sets), the variant is folded into
//!   the alternative: one table, one row per point, each row showing its variant (unless the
//!   variant is the point's axis value, as for `capif_recovery`);
//! - otherwise (several variants at some point, e.g. `capif_invocation` by method), one table
//!   per variant, one row per point that has records of it.
//!
//! The baseline of a table is its first row: point 0, or the first point that has records of
//! the table's (procedure, flow, variant) if point 0 has none. `capif_exposure` records go to
//! the exposure table instead.
//!
//! **Metrics** (one table each in `compare.md`, one row each in `compare.csv`), all computed
//! from the sweep's aggregated `records.csv`, so they can be checked by recomputation
//! (`tests/sim/compare.rs`):
//! - latency \[ms\] of the `ok` runs: mean (pooled over seeds), p50, p90 (nearest rank); the
//!   95% interval of the mean is Student t over the per-seed means;
//! - failure rate: runs whose outcome is not `ok` (error, refused, unreachable, timeout and
//!   `unfinished`, i.e. censored at the end of the run) / runs, with its Wilson 95% interval;
//! - bytes/run and exchanges/run: the mean of the `bytes` and `round_trips` columns (pooled),
//!   interval Student t over per-seed means. A group none of whose records has a non-zero
//!   value has not been measured (the simulator does not count it for that procedure): the
//!   metric is `n/a` in `compare.md` and has no row in `compare.csv`, never 0;
//! - Δ: for every non-baseline row, the difference to the baseline of the per-seed values
//!   (per-seed mean latency, per-seed failure rate, per-seed bytes/run, per-seed
//!   exchanges/run), over the seeds present at both, with its Student t 95% interval.
//! - exposure (CAPIF interconnection): `capif_exposure` records per seed by item and boundary
//!   (`item initiator→responder`), per point.
//!
//! **`compare.csv`** (tidy, one row per procedure, flow, variant, point and metric):
//! `procedure,flow,variant,variant_by_point,point,alternative,baseline_point,metric,runs,ok,n,
//! value,ci95_low,ci95_high,diff,diff_ci95_low,diff_ci95_high`. `variant_by_point` is 1 when
//! the table folds the variant into the alternative (then `variant` is the row's variant), 0
//! for a table per variant. `metric` is one of `latency_ms_mean`, `latency_ms_p50`,
//! `latency_ms_p90`, `failure_rate`, `bytes_per_run`, `exchanges_per_run`, and
//! `exposure_per_seed` (procedure `capif_exposure`, variant = `item initiator→responder`). `n`
//! is the sample the value is over (ok runs for latency, runs otherwise, seeds for exposure).
//! An empty field is undefined (no successful run, a single seed, the baseline's own Δ).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::metrics::Outcome;
use crate::metrics::csv::field;
use crate::metrics::stats::{mean_ci95, quantile, wilson95};
use crate::run::{RunError, RunOptions, write_atomic};
use crate::scenario::{ErrorKind, ScenarioError};
use crate::sweep::{parse_csv, run_sweep};

/// A value with its 95% interval and, for a non-baseline row, the paired difference to the
/// baseline with its 95% interval `(diff, low, high)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Metric {
    pub value: f64,
    pub ci: (f64, f64),
    pub diff: Option<(f64, f64, f64)>,
}

/// One alternative (point) of a table.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub point: usize,
    /// The point's axis values, `axis=value, …`.
    pub alternative: String,
    /// The variant of the row's records (for a folded table, this point's variant).
    pub variant: String,
    pub runs: usize,
    pub ok: usize,
    /// Mean latency of the ok runs \[ms\].
    pub latency: Metric,
    pub latency_p50: f64,
    pub latency_p90: f64,
    pub failure: Metric,
    /// `None`: no record of the row carries bytes (n/a).
    pub bytes: Option<Metric>,
    /// `None`: no record of the row carries round trips (n/a).
    pub exchanges: Option<Metric>,
}

/// One (procedure, flow[, variant]) table.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub procedure: String,
    pub flow: String,
    /// `None`: the variant is a function of the point and folded into the alternative;
    /// `Some(v)`: the rows of variant `v`.
    pub variant: Option<String>,
    /// The point of the baseline row (the first row).
    pub baseline: usize,
    pub rows: Vec<Row>,
}

/// Exposure counts per seed by ("item from→to", point).
pub type Exposure = BTreeMap<(String, usize), f64>;

/// Everything `compare.md` and `compare.csv` show.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    /// The sweep's axes (records.csv columns between `point` and `seed`).
    pub axes: Vec<String>,
    /// Point → its axis values, in axis order.
    pub alternatives: BTreeMap<usize, Vec<String>>,
    /// The seeds of the records.
    pub seeds: Vec<u64>,
    pub tables: Vec<Table>,
    pub exposure: Exposure,
}

impl Comparison {
    /// The label of a point: `axis=value, …`.
    pub fn label(&self, point: usize) -> String {
        self.alternatives.get(&point).map_or_else(
            || format!("point {point}"),
            |vals| {
                self.axes
                    .iter()
                    .zip(vals)
                    .map(|(a, v)| format!("{a}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        )
    }
}

/// Per seed sums of one group.
#[derive(Clone, Copy, Default)]
struct SeedAcc {
    runs: usize,
    ok: usize,
    lat_sum: f64,
    bytes: f64,
    exchanges: f64,
}

#[derive(Default)]
struct Acc {
    lat: Vec<f64>,
    runs: usize,
    ok: usize,
    bytes: f64,
    exchanges: f64,
    has_bytes: bool,
    has_exchanges: bool,
    seeds: BTreeMap<u64, SeedAcc>,
}

impl Acc {
    fn add(&mut self, seed: u64, ok: bool, lat: f64, bytes: f64, exchanges: f64) {
        self.runs += 1;
        self.bytes += bytes;
        self.exchanges += exchanges;
        self.has_bytes |= bytes != 0.0;
        self.has_exchanges |= exchanges != 0.0;
        let s = self.seeds.entry(seed).or_default();
        s.runs += 1;
        s.bytes += bytes;
        s.exchanges += exchanges;
        if ok {
            self.ok += 1;
            self.lat.push(lat);
            s.ok += 1;
            s.lat_sum += lat;
        }
    }
}

type SeedFn = fn(&SeedAcc) -> Option<f64>;

fn seed_latency(s: &SeedAcc) -> Option<f64> {
    (s.ok > 0).then(|| s.lat_sum / s.ok as f64)
}
fn seed_failure(s: &SeedAcc) -> Option<f64> {
    (s.runs > 0).then(|| (s.runs - s.ok) as f64 / s.runs as f64)
}
fn seed_bytes(s: &SeedAcc) -> Option<f64> {
    (s.runs > 0).then(|| s.bytes / s.runs as f64)
}
fn seed_exchanges(s: &SeedAcc) -> Option<f64> {
    (s.runs > 0).then(|| s.exchanges / s.runs as f64)
}

/// The per-seed interval of `f` over `a`, and its difference to `base` paired by seed.
fn metric(value: f64, a: &Acc, base: Option<&Acc>, f: SeedFn) -> Metric {
    let per_seed: Vec<f64> = a.seeds.values().filter_map(f).collect();
    let (_, lo, hi) = mean_ci95(&per_seed);
    let diff = base.and_then(|b| {
        let d: Vec<f64> = a
            .seeds
            .iter()
            .filter_map(|(seed, s)| Some(f(s)? - f(b.seeds.get(seed)?)?))
            .collect();
        (!d.is_empty()).then(|| mean_ci95(&d))
    });
    Metric {
        value,
        ci: (lo, hi),
        diff,
    }
}

fn parse_num(s: &str, what: &str, line: usize) -> Result<f64, String> {
    s.parse::<f64>()
        .map_err(|_| format!("records.csv line {line}: bad {what} `{s}`"))
}

/// The comparison from an aggregated sweep `records.csv` text. Errors (as text) for a
/// `records.csv` that is not a sweep's, has fewer than two points, or has a malformed row.
pub fn compute(records_csv: &str) -> Result<Comparison, String> {
    let rows = parse_csv(records_csv);
    let header = rows.first().ok_or("records.csv is empty")?;
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| format!("records.csv has no `{name}` column"))
    };
    let c_point = header
        .iter()
        .position(|h| h == "point")
        .ok_or("records.csv has no `point` column: it is not a sweep's, nothing to compare")?;
    let (c_seed, c_flow, c_proc, c_var) = (col("seed")?, col("flow")?, col("procedure")?, col("variant")?);
    let (c_lat, c_out, c_bytes, c_rt) = (col("latency_ms")?, col("outcome")?, col("bytes")?, col("round_trips")?);
    let (c_init, c_resp) = (col("initiator")?, col("responder")?);
    if c_seed <= c_point {
        return Err("records.csv: the `seed` column must follow `point` and the axes".into());
    }
    let axes: Vec<String> = header[c_point + 1..c_seed].to_vec();
    let mut alternatives: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    // (procedure, flow, variant, point)
    let mut acc: BTreeMap<(String, String, String, usize), Acc> = BTreeMap::new();
    let mut exposure: Exposure = BTreeMap::new();
    let mut seeds_at: BTreeMap<usize, BTreeSet<u64>> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate().skip(1) {
        let line = i + 1;
        if r.len() != header.len() {
            if r.len() == 1 && r[0].is_empty() {
                continue;
            }
            return Err(format!(
                "records.csv line {line}: {} fields, the header has {}",
                r.len(),
                header.len()
            ));
        }
        let point: usize = r[c_point]
            .parse()
            .map_err(|_| format!("records.csv line {line}: bad point `{}`", r[c_point]))?;
        let seed: u64 = r[c_seed]
            .parse()
            .map_err(|_| format!("records.csv line {line}: bad seed `{}`", r[c_seed]))?;
        seeds_at.entry(point).or_default().insert(seed);
        let vals = r[c_point + 1..c_seed].to_vec();
        match alternatives.get(&point) {
            None => {
                alternatives.insert(point, vals);
            }
            Some(v) if *v != vals => {
                return Err(format!(
                    "records.csv line {line}: point {point} has axis values {vals:?}, earlier rows {v:?}"
                ));
            }
            Some(_) => {}
        }
        if r[c_proc] == "capif_exposure" {
            let key = format!("{} {}→{}", r[c_var], r[c_init], r[c_resp]);
            *exposure.entry((key, point)).or_default() += 1.0;
            continue;
        }
        let outcome = Outcome::parse(&r[c_out])
            .ok_or_else(|| format!("records.csv line {line}: unknown outcome `{}`", r[c_out]))?;
        let ok = outcome == Outcome::Ok;
        let lat = if ok {
            parse_num(&r[c_lat], "latency_ms", line)?
        } else {
            f64::NAN
        };
        let bytes = parse_num(&r[c_bytes], "bytes", line)?;
        let exchanges = parse_num(&r[c_rt], "round_trips", line)?;
        acc.entry((r[c_proc].clone(), r[c_flow].clone(), r[c_var].clone(), point))
            .or_default()
            .add(seed, ok, lat, bytes, exchanges);
    }
    if alternatives.len() < 2 {
        return Err(format!(
            "records.csv has {} point(s): nothing to compare",
            alternatives.len()
        ));
    }
    for ((_, point), v) in exposure.iter_mut() {
        *v /= seeds_at.get(point).map_or(1, BTreeSet::len).max(1) as f64;
    }
    let seeds: Vec<u64> = seeds_at
        .values()
        .flatten()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let cmp = Comparison {
        axes,
        alternatives,
        seeds,
        tables: Vec::new(),
        exposure,
    };

    // Variants per (procedure, flow) and point: folded when each point has one.
    let mut variants: BTreeMap<(&str, &str), BTreeMap<usize, BTreeSet<&str>>> = BTreeMap::new();
    for (procedure, flow, variant, point) in acc.keys() {
        variants
            .entry((procedure, flow))
            .or_default()
            .entry(*point)
            .or_default()
            .insert(variant);
    }
    let mut tables = Vec::new();
    for ((procedure, flow), by_point) in &variants {
        let folded = by_point.values().all(|v| v.len() == 1);
        // (table variant, [(point, variant)])
        let mut members: BTreeMap<Option<&str>, Vec<(usize, &str)>> = BTreeMap::new();
        for (&point, vs) in by_point {
            for &v in vs {
                members.entry((!folded).then_some(v)).or_default().push((point, v));
            }
        }
        for (table_variant, pts) in members {
            let key = |point: usize, v: &str| (procedure.to_string(), flow.to_string(), v.to_string(), point);
            let (base_point, base_variant) = pts[0];
            let base = &acc[&key(base_point, base_variant)];
            let rows = pts
                .iter()
                .map(|&(point, v)| {
                    let a = &acc[&key(point, v)];
                    let b = (point != base_point).then_some(base);
                    let mut lat = a.lat.clone();
                    lat.sort_by(|x, y| x.total_cmp(y));
                    let mean = if lat.is_empty() {
                        f64::NAN
                    } else {
                        lat.iter().sum::<f64>() / lat.len() as f64
                    };
                    let (rate, rlo, rhi) = wilson95((a.runs - a.ok) as u64, a.runs as u64);
                    let runs = a.runs.max(1) as f64;
                    let mut failure = metric(rate, a, b, seed_failure);
                    failure.ci = (rlo, rhi);
                    Row {
                        point,
                        alternative: cmp.label(point),
                        variant: v.to_string(),
                        runs: a.runs,
                        ok: a.ok,
                        latency: metric(mean, a, b, seed_latency),
                        latency_p50: quantile(&lat, 0.5),
                        latency_p90: quantile(&lat, 0.9),
                        failure,
                        // A baseline that does not carry the quantity has no difference.
                        bytes: a
                            .has_bytes
                            .then(|| metric(a.bytes / runs, a, b.filter(|b| b.has_bytes), seed_bytes)),
                        exchanges: a
                            .has_exchanges
                            .then(|| metric(a.exchanges / runs, a, b.filter(|b| b.has_exchanges), seed_exchanges)),
                    }
                })
                .collect();
            tables.push(Table {
                procedure: procedure.to_string(),
                flow: flow.to_string(),
                variant: table_variant.map(str::to_string),
                baseline: base_point,
                rows,
            });
        }
    }
    Ok(Comparison { tables, ..cmp })
}

/// A number for the CSV: empty when undefined.
fn num(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.6}")
    } else {
        String::new()
    }
}

/// `compare.csv`: see the module documentation for the columns.
pub fn to_csv(cmp: &Comparison) -> String {
    let mut out = String::from(
        "procedure,flow,variant,variant_by_point,point,alternative,baseline_point,metric,runs,ok,n,value,ci95_low,ci95_high,diff,diff_ci95_low,diff_ci95_high\n",
    );
    for t in &cmp.tables {
        for r in &t.rows {
            let mut line = |metric: &str, n: usize, m: Option<Metric>| {
                let Some(m) = m else { return };
                let (d, dl, dh) = m.diff.unwrap_or((f64::NAN, f64::NAN, f64::NAN));
                let _ = writeln!(
                    out,
                    "{},{},{},{},{},{},{},{metric},{},{},{n},{},{},{},{},{},{}",
                    field(&t.procedure),
                    field(&t.flow),
                    field(&r.variant),
                    u8::from(t.variant.is_none()),
                    r.point,
                    field(&r.alternative),
                    t.baseline,
                    r.runs,
                    r.ok,
                    num(m.value),
                    num(m.ci.0),
                    num(m.ci.1),
                    num(d),
                    num(dl),
                    num(dh),
                );
            };
            let plain = |v: f64| {
                Some(Metric {
                    value: v,
                    ci: (f64::NAN, f64::NAN),
                    diff: None,
                })
            };
            line("latency_ms_mean", r.ok, Some(r.latency));
            line("latency_ms_p50", r.ok, plain(r.latency_p50));
            line("latency_ms_p90", r.ok, plain(r.latency_p90));
            line("failure_rate", r.runs, Some(r.failure));
            line("bytes_per_run", r.runs, r.bytes);
            line("exchanges_per_run", r.runs, r.exchanges);
        }
    }
    for ((item, point), v) in &cmp.exposure {
        let _ = writeln!(
            out,
            "capif_exposure,,{},0,{point},{},{},exposure_per_seed,,,{},{},,,,,",
            field(item),
            field(&cmp.label(*point)),
            cmp.alternatives.keys().next().copied().unwrap_or(0),
            cmp.seeds.len(),
            num(*v)
        );
    }
    out
}

fn f3(x: f64) -> String {
    if x.is_finite() { format!("{x:.3}") } else { "–".into() }
}

fn f1(x: f64) -> String {
    if x.is_finite() { format!("{x:.1}") } else { "–".into() }
}

fn f2(x: f64) -> String {
    if x.is_finite() { format!("{x:.2}") } else { "–".into() }
}

fn pct(x: f64) -> String {
    if x.is_finite() {
        format!("{:.2}%", 100.0 * x)
    } else {
        "–".into()
    }
}

/// Markdown cell text: `|` escaped, newlines flattened.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// `value [low, high]`.
fn with_ci(m: &Metric, fmt: fn(f64) -> String) -> String {
    format!("{} [{}, {}]", fmt(m.value), fmt(m.ci.0), fmt(m.ci.1))
}

/// The Δ cell of a row.
fn diff_cell(m: Option<&Metric>, is_base: bool, fmt: fn(f64) -> String) -> String {
    if is_base {
        return "(baseline)".into();
    }
    match m.and_then(|m| m.diff) {
        Some((d, l, h)) => {
            let star = if l > 0.0 || h < 0.0 { " *" } else { "" };
            format!("{} [{}, {}]{star}", fmt(d), fmt(l), fmt(h))
        }
        None => "–".into(),
    }
}

/// The `## …` heading of a table.
pub fn heading(t: &Table) -> String {
    let mut h = t.procedure.clone();
    if !t.flow.is_empty() {
        let _ = write!(h, " · flow `{}`", t.flow.replace('`', "'"));
    }
    if let Some(v) = &t.variant {
        if v.is_empty() {
            h.push_str(" · no variant");
        } else {
            let _ = write!(h, " · variant `{}`", v.replace('`', "'"));
        }
    }
    h
}

/// `compare.md`: a header (experiment, seeds, alternatives, baseline), then one section per
/// (procedure, flow[, variant]) with a table per metric, one row per alternative, then the
/// exposure table if any.
pub fn to_markdown(name: &str, file: &str, cmp: &Comparison) -> String {
    let seeds = cmp.seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
    let mut md = format!(
        "# {name}: alternatives compared\n\n\
         - Experiment: `{file}`\n\
         - Seeds: {} ({seeds}), the same at every alternative (common random numbers)\n\
         - Baseline: {} (the first alternative)\n\n\
         | point |{}\n|---:|{}\n",
        cmp.seeds.len(),
        cmp.label(cmp.alternatives.keys().next().copied().unwrap_or(0)),
        cmp.axes.iter().map(|a| format!(" {} |", cell(a))).collect::<String>(),
        "---|".repeat(cmp.axes.len()),
    );
    for (i, (p, vals)) in cmp.alternatives.iter().enumerate() {
        let _ = write!(md, "| {p}{} |", if i == 0 { " (baseline)" } else { "" });
        for v in vals {
            let _ = write!(md, " {} |", cell(v));
        }
        md.push('\n');
    }
    md.push_str(
        "\nLatency in ms over the successful (`ok`) runs. Failures: every outcome but `ok`, `unfinished` \
         (censored at the end of the run) included. [95% CI]: Student t across seeds for means and \
         differences, Wilson for failure rates. Δ: difference to the table's baseline, paired by seed \
         (seeds present at both); `*` marks an interval that excludes 0. –: undefined (no successful \
         run, one seed). n/a: no record of the procedure carries the quantity (not measured). One \
         section per procedure and flow; when the variant (method, strategy, encoding) is set by the \
         alternative, it is a column, otherwise each variant has its own section.\n",
    );
    for t in &cmp.tables {
        let _ = write!(md, "\n## {}\n", heading(t));
        // A folded variant is a column unless it is the alternative's own axis value.
        let set_by_axis = |r: &Row| cmp.alternatives.get(&r.point).is_some_and(|v| v.contains(&r.variant));
        let show_variant = t.variant.is_none() && t.rows.iter().any(|r| !r.variant.is_empty() && !set_by_axis(r));
        if t.variant.is_none() && t.rows.iter().all(|r| !r.variant.is_empty() && set_by_axis(r)) {
            md.push_str(
                "
The variant is the alternative's axis value.
",
            );
        }
        let (vh, vs) = if show_variant { (" variant |", "---|") } else { ("", "") };
        let vcell = |r: &Row| {
            if show_variant {
                format!(" {} |", cell(&r.variant))
            } else {
                String::new()
            }
        };
        let alt = |r: &Row| cell(&r.alternative);
        let _ = write!(
            md,
            "\n**Latency [ms]**\n\n| alternative |{vh} ok / runs | mean [95% CI] | p50 | p90 | Δ mean [95% CI] |\n|---|{vs}---:|---|---:|---:|---|\n"
        );
        for r in &t.rows {
            let _ = writeln!(
                md,
                "| {} |{} {} / {} | {} | {} | {} | {} |",
                alt(r),
                vcell(r),
                r.ok,
                r.runs,
                with_ci(&r.latency, f3),
                f3(r.latency_p50),
                f3(r.latency_p90),
                diff_cell(Some(&r.latency), r.point == t.baseline, f3)
            );
        }
        let _ = write!(
            md,
            "\n**Failure rate**\n\n| alternative |{vh} failures / runs | rate [95% CI] | Δ rate [95% CI] |\n|---|{vs}---:|---|---|\n"
        );
        for r in &t.rows {
            let _ = writeln!(
                md,
                "| {} |{} {} / {} | {} | {} |",
                alt(r),
                vcell(r),
                r.runs - r.ok,
                r.runs,
                with_ci(&r.failure, pct),
                diff_cell(Some(&r.failure), r.point == t.baseline, pct)
            );
        }
        type Pick = fn(&Row) -> Option<&Metric>;
        type Fmt = fn(f64) -> String;
        let per_run: [(&str, &str, Pick, Fmt); 2] = [
            ("Bytes/run", "bytes", |r| r.bytes.as_ref(), f1),
            ("Exchanges/run", "round_trips", |r| r.exchanges.as_ref(), f2),
        ];
        for (title, column, pick, fmt) in per_run {
            if t.rows.iter().all(|r| pick(r).is_none()) {
                let _ = writeln!(
                    md,
                    "\n**{title}**: n/a (no record of this procedure carries `{column}`)"
                );
                continue;
            }
            let _ = write!(
                md,
                "\n**{title}**\n\n| alternative |{vh} runs | {} [95% CI] | Δ [95% CI] |\n|---|{vs}---:|---|---|\n",
                title.to_lowercase()
            );
            for r in &t.rows {
                let value = pick(r).map_or("n/a".to_string(), |m| with_ci(m, fmt));
                let d = if pick(r).is_none() {
                    "n/a".to_string()
                } else {
                    diff_cell(pick(r), r.point == t.baseline, fmt)
                };
                let _ = writeln!(md, "| {} |{} {} | {value} | {d} |", alt(r), vcell(r), r.runs);
            }
        }
    }
    if !cmp.exposure.is_empty() {
        let points: Vec<usize> = cmp.alternatives.keys().copied().collect();
        let _ = write!(
            md,
            "\n## Exposure (items crossing a domain boundary, per seed)\n\n| item, boundary |"
        );
        for &p in &points {
            let _ = write!(md, " {} |", cell(&cmp.label(p)));
        }
        let _ = write!(md, "\n|---|{}\n", "---:|".repeat(points.len()));
        let items: BTreeSet<&String> = cmp.exposure.keys().map(|k| &k.0).collect();
        for it in items {
            let _ = write!(md, "| {} |", cell(it));
            for &p in &points {
                let v = cmp.exposure.get(&(it.clone(), p)).copied().unwrap_or(0.0);
                let _ = write!(md, " {v:.1} |");
            }
            md.push('\n');
        }
    }
    md.push_str("\nBox plots per procedure: `sweep_<procedure>_latency.svg`; outcomes: `sweep_outcomes.svg`.\n");
    md
}

/// The input error for an experiment with nothing to compare.
fn nothing_to_compare(path: &Path, why: &str) -> RunError {
    RunError::Scenario(ScenarioError {
        kind: ErrorKind::Invalid,
        path: path.to_path_buf(),
        line: None,
        column: None,
        field: "sweep".into(),
        message: format!(
            "nothing to compare: {why}; `secsim compare` runs every point of the experiment's `sweep` \
             on the same seeds (add a sweep with two or more values of the knob to compare, or use \
             `secsim run` for a single alternative)"
        ),
        suggestion: None,
    })
}

/// Runs the sweep of the experiment at `path` (resuming complete points) and writes
/// `compare.md` and `compare.csv` next to its results. Returns the results folder. An
/// experiment without a sweep, or with a one-point sweep, is an input error (nothing run).
pub fn compare(path: &Path, opts: &RunOptions) -> Result<PathBuf, RunError> {
    let points = crate::sweep::Points::open(path)?;
    let scn = points.base();
    if scn.experiment.sweep.is_empty() {
        return Err(nothing_to_compare(path, "the experiment has no sweep"));
    }
    if points.len() < 2 {
        return Err(nothing_to_compare(path, "its sweep has a single point"));
    }
    let name = scn.experiment.name.clone();
    let s = run_sweep(path, opts)?;
    let rec_path = s.dir.join(crate::run::RecordsFormat::Csv.file_name(true));
    let text = crate::run::read_gzip_text(&rec_path).map_err(|error| RunError::Io {
        path: rec_path.display().to_string(),
        error,
    })?;
    let cmp = compute(&text).map_err(|m| RunError::Io {
        path: rec_path.display().to_string(),
        error: std::io::Error::other(m),
    })?;
    write_atomic(&s.dir.join("compare.csv"), to_csv(&cmp).as_bytes())?;
    let md = to_markdown(&name, &path.display().to_string(), &cmp);
    write_atomic(&s.dir.join("compare.md"), md.as_bytes())?;
    Ok(s.dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "experiment,point,recovery,seed,flow,procedure,variant,outcome,result,cause,status,initiator,responder,via,start_ns,end_ns,latency_ms,new_connection,bytes,round_trips,overhead_bytes\n";

    /// A records.csv line: `(point, seed)`, `(flow, procedure, variant, outcome)`, `(latency,
    /// bytes, round trips)`.
    fn rec(
        (point, seed): (usize, u64),
        (flow, procedure, variant, outcome): (&str, &str, &str, &str),
        (lat, bytes, rt): (f64, u64, u32),
    ) -> String {
        let axis = ["A", "B", "C"][point];
        format!(
            "x,{point},{axis},{seed},{flow},{procedure},{variant},{outcome},,,200,i,r,,0,0,{lat},0,{bytes},{rt},0\n"
        )
    }

    fn table<'a>(c: &'a Comparison, procedure: &str, variant: Option<&str>) -> &'a Table {
        c.tables
            .iter()
            .find(|t| t.procedure == procedure && t.variant.as_deref() == variant)
            .unwrap_or_else(|| panic!("no table {procedure} {variant:?}: {:?}", c.tables))
    }

    /// Two points x two seeds. `rec` (variant = the point's strategy) folds into one table;
    /// `inv` (two methods at point 0) gets one table per method.
    fn sample() -> String {
        let mut s = String::from(HEADER);
        // rec, point 0 (S0): seed 1 latencies 10, 20; seed 2: 30 and an unfinished run.
        s += &rec((0, 1), ("f", "rec", "S0", "ok"), (10.0, 0, 2));
        s += &rec((0, 1), ("f", "rec", "S0", "ok"), (20.0, 0, 4));
        s += &rec((0, 2), ("f", "rec", "S0", "ok"), (30.0, 0, 3));
        s += &rec((0, 2), ("f", "rec", "S0", "unfinished"), (99.0, 0, 1));
        // rec, point 1 (S1): seed 1: 16; seed 2: 39, 50.
        s += &rec((1, 1), ("f", "rec", "S1", "ok"), (16.0, 0, 1));
        s += &rec((1, 2), ("f", "rec", "S1", "ok"), (39.0, 0, 1));
        s += &rec((1, 2), ("f", "rec", "S1", "ok"), (50.0, 0, 1));
        // inv: PSK and OAUTH at point 0, PSK only at point 1; bytes only on OAUTH.
        s += &rec((0, 1), ("f", "inv", "PSK", "ok"), (1.0, 0, 0));
        s += &rec((0, 1), ("f", "inv", "OAUTH", "ok"), (2.0, 100, 0));
        s += &rec((1, 1), ("f", "inv", "PSK", "refused"), (1.0, 0, 0));
        s
    }

    #[test]
    fn compare_folds_a_variant_set_by_the_point_and_pairs_by_seed() {
        let c = compute(&sample()).unwrap();
        assert_eq!(c.axes, vec!["recovery".to_string()]);
        assert_eq!(c.seeds, vec![1, 2]);
        let t = table(&c, "rec", None);
        assert_eq!((t.baseline, t.rows.len()), (0, 2));
        let (b, r) = (&t.rows[0], &t.rows[1]);
        assert_eq!((b.alternative.as_str(), b.variant.as_str()), ("recovery=A", "S0"));
        assert_eq!((r.alternative.as_str(), r.variant.as_str()), ("recovery=B", "S1"));
        // Pooled means: (10+20+30)/3 = 20, (16+39+50)/3 = 35.
        assert!((b.latency.value - 20.0).abs() < 1e-9);
        assert!((r.latency.value - 35.0).abs() < 1e-9);
        // Per-seed means: base 15, 30; point 1: 16, 44.5; differences 1, 14.5: mean 7.75;
        // with two seeds s / sqrt(2) = |14.5 - 1| / 2 = 6.75, half = t(0.975, 1) 12.706 * 6.75.
        let (d, lo, hi) = r.latency.diff.unwrap();
        assert!((d - 7.75).abs() < 1e-9);
        assert!(
            (hi - d - 85.7655).abs() < 1e-6 && (d - lo - 85.7655).abs() < 1e-6,
            "{lo} {hi}"
        );
        assert!(b.latency.diff.is_none());
        // The unfinished run is a failure: 1 of 4 at point 0; per seed 0 and 0.5; point 1: 0, 0.
        assert_eq!((b.runs, b.ok), (4, 3));
        assert!((b.failure.value - 0.25).abs() < 1e-12);
        assert!((r.failure.diff.unwrap().0 + 0.25).abs() < 1e-12);
        // Exchanges: point 0 (2+4+3+1)/4 = 2.5; point 1: 1; per seed 3, 2 vs 1, 1: Δ -1.5.
        assert!((b.exchanges.unwrap().value - 2.5).abs() < 1e-12);
        assert!((r.exchanges.unwrap().diff.unwrap().0 + 1.5).abs() < 1e-12);
        // No byte in any `rec` record: n/a, not 0.
        assert!(b.bytes.is_none() && r.bytes.is_none());
    }

    #[test]
    fn compare_keeps_a_table_per_variant_when_a_point_has_several() {
        let c = compute(&sample()).unwrap();
        let psk = table(&c, "inv", Some("PSK"));
        assert_eq!(psk.rows.iter().map(|r| r.point).collect::<Vec<_>>(), vec![0, 1]);
        assert!((psk.rows[1].failure.value - 1.0).abs() < 1e-12);
        assert!((psk.rows[1].failure.diff.unwrap().0 - 1.0).abs() < 1e-12);
        let oauth = table(&c, "inv", Some("OAUTH"));
        assert_eq!(oauth.rows.len(), 1);
        assert!((oauth.rows[0].bytes.unwrap().value - 100.0).abs() < 1e-12);
        assert_eq!(c.tables.len(), 3);
        let md = to_markdown("x", "x.ron", &c);
        assert!(md.contains("## inv · flow `f` · variant `PSK`"), "{md}");
        assert!(
            md.contains("**Bytes/run**: n/a (no record of this procedure carries `bytes`)"),
            "{md}"
        );
        assert!(md.contains("| recovery=B | S1 | 3 / 3 | 35.000 ["), "{md}");
        let csv = to_csv(&c);
        assert!(
            csv.contains("\nrec,f,S1,1,1,recovery=B,0,latency_ms_mean,3,3,3,35.000000,"),
            "{csv}"
        );
        assert!(!csv.contains("rec,f,S0,1,0,recovery=A,0,bytes_per_run"), "{csv}");
    }

    #[test]
    fn compare_refuses_records_with_nothing_to_compare() {
        let one_point: String = sample()
            .lines()
            .filter(|l| !l.starts_with("x,1,"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(compute(&one_point).unwrap_err().contains("nothing to compare"));
        let no_sweep = "experiment,seed,flow,procedure,variant,outcome,result,cause,status,initiator,responder,via,start_ns,end_ns,latency_ms,new_connection,bytes,round_trips,overhead_bytes\n";
        assert!(compute(no_sweep).unwrap_err().contains("not a sweep"));
        let bad = format!("{}{}", sample(), rec((1, 1), ("f", "rec", "S1", "maybe"), (1.0, 0, 0)));
        assert!(compute(&bad).unwrap_err().contains("unknown outcome `maybe`"));
    }
}
