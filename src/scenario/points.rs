//! Sweep points: an experiment's `sweep` axes expanded into points, each a complete scenario
//! (running them is `crate::sweep`).
//!
//! ```text
//!  experiment.ron ──Outline──► value ranges of each axis path ──substitute──► point sources
//!  (+ topology.ron)                                                              │
//!                                     load_experiment_source (same validation) ◄─┘
//! ```
//!
//! A point is the base files with each axis's field replaced by one of its values, in RON
//! text, then loaded exactly like a file from disk: every point is validated, errors name the
//! file, the field and the point. Points are numbered in odometer order (the last axis varies
//! fastest); the same seeds run at every point (common random numbers).

use std::path::Path;

use super::locate::Outline;
use super::{ErrorKind, Scenario, ScenarioError, SweepAxis, load_experiment, load_experiment_source};

/// One sweep point.
#[derive(Clone, Debug)]
pub struct Point {
    /// Index in odometer order.
    pub index: usize,
    /// (axis name, value text) per axis.
    pub labels: Vec<(String, String)>,
    /// The scenario of this point.
    pub scenario: Scenario,
}

/// An axis's label: its name or its path.
pub fn axis_name(a: &SweepAxis) -> String {
    a.name.clone().unwrap_or_else(|| a.path.clone())
}

/// Whether an outline key path matches an axis path (`[*]` matches any index).
fn matches(pattern: &str, key: &str) -> bool {
    let (mut p, mut k) = (pattern, key);
    loop {
        match p.find("[*]") {
            None => return p == k,
            Some(i) => {
                if !k.starts_with(&p[..i + 1]) {
                    return false;
                }
                k = &k[i + 1..];
                let Some(close) = k.find(']') else { return false };
                if close == 0 || !k[..close].bytes().all(|b| b.is_ascii_digit()) {
                    return false;
                }
                k = &k[close..];
                p = &p[i + 2..];
            }
        }
    }
}

/// `src` with the values at `path` replaced by `value`; `None` if `path` is not written.
pub fn substitute(src: &str, path: &str, value: &str) -> Option<String> {
    let outer = value_ranges(&Outline::parse(src), path);
    if outer.is_empty() {
        return None;
    }
    let mut out = src.to_string();
    for r in outer.iter().rev() {
        out.replace_range(r.clone(), &quoted(&src[r.clone()], value));
    }
    Some(out)
}

/// `value` as it replaces `old`: quoted if `old` is a string and `value` is not.
fn quoted(old: &str, value: &str) -> String {
    if old.starts_with('"') && !value.starts_with('"') {
        format!("{value:?}")
    } else {
        value.to_string()
    }
}

/// The byte ranges of the values at `path` in the outlined source, in order, the outermost
/// of nested matches only (empty if `path` is not written).
fn value_ranges(outline: &Outline, path: &str) -> Vec<std::ops::Range<usize>> {
    let live = || outline.entries().iter().filter(|e| !e.key_path.starts_with("sweep"));
    // The value stored under the path; failing that, the value whose own variant completes
    // the path (`latency.Constant` names the `Constant(..)` value when nothing is stored
    // under it).
    let mut ranges: Vec<std::ops::Range<usize>> = live()
        .filter(|e| matches(path, &e.key_path))
        .map(|e| e.value.clone())
        .collect();
    if ranges.is_empty() {
        ranges = live()
            .filter(|e| matches(path, &e.path))
            .map(|e| e.value.clone())
            .collect();
    }
    // Keep the outermost of nested matches (a variant's inner atom shares the path).
    ranges.sort_by_key(|r| (r.start, std::cmp::Reverse(r.end)));
    let mut outer: Vec<std::ops::Range<usize>> = Vec::new();
    for r in ranges {
        if outer.last().is_some_and(|o| o.start <= r.start && r.end <= o.end) {
            continue;
        }
        outer.push(r);
    }
    outer
}

/// Where the axes' values go in one base file: (byte range, axis index), in file order.
type Plan = Vec<(std::ops::Range<usize>, usize)>;

/// Where each axis's values go in one base file, found once: (range, axis) in file order,
/// disjoint. `None` if some axis's field is not written there or two axes' ranges overlap:
/// then each point substitutes axis by axis ([`substitute`]), which reports or resolves it.
fn splice_plan(src: &str, axes: &[(usize, &str)]) -> Option<Plan> {
    let outline = Outline::parse(src);
    let mut plan = Vec::new();
    for &(k, path) in axes {
        let ranges = value_ranges(&outline, path);
        if ranges.is_empty() {
            return None;
        }
        plan.extend(ranges.into_iter().map(|r| (r, k)));
    }
    plan.sort_by_key(|(r, _)| r.start);
    plan.windows(2).all(|w| w[0].0.end <= w[1].0.start).then_some(plan)
}

/// `src` with each planned range replaced by its axis's value for `picks`: what
/// substituting the axes one after the other gives, since the ranges are disjoint.
fn splice(src: &str, plan: &Plan, axes: &[SweepAxis], picks: &[usize]) -> String {
    let mut out = String::with_capacity(src.len() + 64);
    let mut at = 0;
    for (r, k) in plan {
        out.push_str(&src[at..r.start]);
        out.push_str(&quoted(&src[r.clone()], &axes[*k].values[picks[*k]]));
        at = r.end;
    }
    out.push_str(&src[at..]);
    out
}

/// An error about the sweep of the experiment whose source is `src`, located at `field` (or
/// its nearest written ancestor).
fn error(path: &Path, src: &str, field: String, message: String) -> ScenarioError {
    let outline = Outline::parse(src);
    let offset = outline.find_or_ancestor(&field).map_or(0, |e| e.value.start);
    let (line, column) = outline.line_col(offset);
    ScenarioError {
        kind: ErrorKind::Invalid,
        path: path.to_path_buf(),
        line: Some(u32::try_from(line).unwrap_or(u32::MAX)),
        column: Some(u32::try_from(column).unwrap_or(u32::MAX)),
        field,
        message,
        suggestion: None,
    }
}

/// The most points a sweep may have.
pub const MAX_POINTS: usize = 100_000;

/// The points of the experiment at `path` (one point, index 0, without labels, if it has
/// no sweep), all in memory: for a large sweep use [`Points`], which makes one at a time.
pub fn expand(path: &Path) -> Result<Vec<Point>, ScenarioError> {
    let points = Points::open(path)?;
    (0..points.len()).map(|i| points.point(i)).collect()
}

/// [`expand`] from the experiment's and its topology's source text (errors still name
/// `path` and the topology path the experiment gives).
pub fn expand_sources(path: &Path, esrc: &str, tsrc: &str) -> Result<Vec<Point>, ScenarioError> {
    let points = Points::from_sources(path, esrc, tsrc)?;
    (0..points.len()).map(|i| points.point(i)).collect()
}

/// Points checked at once by [`Points::check_all`]: the most points in memory together is
/// the number of worker threads; a batch's results (one small value a point) are what it
/// keeps.
pub const CHECK_BATCH: usize = 1024;

/// A sweep's points, made on demand: the base files and the axes, never every point at
/// once, so memory does not grow with the number of points (a point's scenario holds its
/// whole topology). [`Points::point`] makes point `i` exactly as [`expand`] does.
pub struct Points {
    path: std::path::PathBuf,
    base: Scenario,
    esrc: String,
    tsrc: String,
    axes: Vec<SweepAxis>,
    total: usize,
    /// Where the axes' values go in the experiment and the topology source (`None`: each
    /// point substitutes axis by axis).
    plans: Option<[Plan; 2]>,
}

impl Points {
    /// The experiment at `path` and its sweep's axes (checked: values, overlaps, the
    /// number of points); no point is made yet.
    pub fn open(path: &Path) -> Result<Points, ScenarioError> {
        let base = load_experiment(path)?;
        if base.experiment.sweep.is_empty() {
            return Ok(Points::single(path, base));
        }
        let read = |p: &Path| {
            std::fs::read_to_string(p).map_err(|e| ScenarioError {
                kind: ErrorKind::Read,
                path: p.to_path_buf(),
                line: None,
                column: None,
                field: String::new(),
                message: e.to_string(),
                suggestion: None,
            })
        };
        let esrc = read(path)?;
        let tsrc = read(&base.topology_path)?;
        Points::with_base(path, base, esrc, tsrc)
    }

    /// [`Points::open`] from the experiment's and its topology's source text.
    pub fn from_sources(path: &Path, esrc: &str, tsrc: &str) -> Result<Points, ScenarioError> {
        let base = load_experiment_source(esrc, path, Some(tsrc))?;
        Points::with_base(path, base, esrc.to_string(), tsrc.to_string())
    }

    fn single(path: &Path, base: Scenario) -> Points {
        Points {
            path: path.to_path_buf(),
            base,
            esrc: String::new(),
            tsrc: String::new(),
            axes: Vec::new(),
            total: 1,
            plans: None,
        }
    }

    fn with_base(path: &Path, base: Scenario, esrc: String, tsrc: String) -> Result<Points, ScenarioError> {
        let axes = base.experiment.sweep.clone();
        if axes.is_empty() {
            return Ok(Points::single(path, base));
        }
        let total = check_axes(path, &esrc, &axes)?;
        let (mut on_e, mut on_t) = (Vec::new(), Vec::new());
        for (k, a) in axes.iter().enumerate() {
            match a.path.strip_prefix("topology.") {
                Some(p) => on_t.push((k, p)),
                None => on_e.push((k, a.path.as_str())),
            }
        }
        let plans = splice_plan(&esrc, &on_e)
            .zip(splice_plan(&tsrc, &on_t))
            .map(|(e, t)| [e, t]);
        Ok(Points {
            path: path.to_path_buf(),
            base,
            esrc,
            tsrc,
            axes,
            total,
            plans,
        })
    }

    /// The number of points (1 without a sweep).
    pub fn len(&self) -> usize {
        self.total
    }

    /// Whether there are no points (never: a sweep has at least one).
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The experiment file itself, as loaded (the sweep's axes unapplied).
    pub fn base(&self) -> &Scenario {
        &self.base
    }

    /// Point `index`'s value index on each axis (odometer order: the last axis varies
    /// fastest).
    fn picks(&self, index: usize) -> Vec<usize> {
        let mut rest = index;
        let mut picks = vec![0; self.axes.len()];
        for (k, a) in self.axes.iter().enumerate().rev() {
            picks[k] = rest % a.values.len();
            rest /= a.values.len();
        }
        picks
    }

    /// Point `index`'s (axis name, value text) per axis.
    pub fn labels(&self, index: usize) -> Vec<(String, String)> {
        let picks = self.picks(index);
        self.axes
            .iter()
            .zip(picks)
            .map(|(a, p)| (axis_name(a), a.values[p].clone()))
            .collect()
    }

    /// Point `index`, loaded (and so validated) like a file from disk; its errors name the
    /// point and its axis values.
    pub fn point(&self, index: usize) -> Result<Point, ScenarioError> {
        if self.axes.is_empty() {
            return Ok(Point {
                index,
                labels: Vec::new(),
                scenario: self.base.clone(),
            });
        }
        let (path, esrc) = (self.path.as_path(), self.esrc.as_str());
        let picks = self.picks(index);
        let (e, t) = match &self.plans {
            Some([pe, pt]) => (
                splice(esrc, pe, &self.axes, &picks),
                splice(&self.tsrc, pt, &self.axes, &picks),
            ),
            None => self.substituted(&picks)?,
        };
        let labels = self.labels(index);
        let scenario = load_experiment_source(&e, path, Some(&t)).map_err(|mut err| {
            let at: Vec<String> = labels.iter().map(|(n, v)| format!("{n} = {v}")).collect();
            err.message = format!("{} (sweep point {index}: {})", err.message, at.join(", "));
            err
        })?;
        Ok(Point {
            index,
            labels,
            scenario,
        })
    }

    /// The experiment's and the topology's source with the axes' values of `picks`
    /// substituted one axis after the other.
    fn substituted(&self, picks: &[usize]) -> Result<(String, String), ScenarioError> {
        let (path, esrc) = (self.path.as_path(), self.esrc.as_str());
        let (mut e, mut t) = (esrc.to_string(), self.tsrc.clone());
        for (k, (a, &pick)) in self.axes.iter().zip(picks).enumerate() {
            let value = &a.values[pick];
            let (target, field, file) = match a.path.strip_prefix("topology.") {
                Some(p) => (&mut t, p, self.base.topology_path.as_path()),
                None => (&mut e, a.path.as_str(), path),
            };
            *target = substitute(target, field, value).ok_or_else(|| {
                error(
                    path,
                    esrc,
                    format!("sweep[{k}].path"),
                    format!(
                        "{} is not written in {} (write the field to sweep it)",
                        super::validate::quoted(field),
                        file.display()
                    ),
                )
            })?;
        }
        Ok((e, t))
    }

    /// Makes every point and hands it to `check`, in parallel batches of [`CHECK_BATCH`]
    /// points (so at most one point per worker thread is in memory, and each is dropped
    /// once checked); returns what `check` returned for each point, in point order, or the
    /// first error in point order (a point that does not load, or `check`'s error).
    pub fn check_all<T, E>(&self, check: impl Fn(&Point) -> Result<T, E> + Sync) -> Result<Vec<T>, E>
    where
        T: Send,
        E: From<ScenarioError> + Send,
    {
        use rayon::prelude::*;
        let mut out = Vec::with_capacity(self.total);
        for start in (0..self.total).step_by(CHECK_BATCH) {
            let end = (start + CHECK_BATCH).min(self.total);
            let batch: Vec<Result<T, E>> = (start..end).into_par_iter().map(|i| check(&self.point(i)?)).collect();
            for r in batch {
                out.push(r?);
            }
        }
        Ok(out)
    }
}

/// Checks the axes of a sweep (values, the topology file, overlaps) and returns the number
/// of points.
fn check_axes(path: &Path, esrc: &str, axes: &[SweepAxis]) -> Result<usize, ScenarioError> {
    for (i, a) in axes.iter().enumerate() {
        if a.values.is_empty() {
            return Err(error(path, esrc, format!("sweep[{i}].values"), "no values".into()));
        }
        // Each point runs the base topology file with its swept fields substituted; a new
        // file name would be ignored, so it is refused.
        if a.path == "topology" {
            return Err(error(
                path,
                esrc,
                format!("sweep[{i}].path"),
                "a sweep cannot change the topology file: sweep its fields (`topology.links[2].latency`), \
                 or write one experiment per topology"
                    .into(),
            ));
        }
        // Two axes on one field (or one inside the other) would override each other.
        let within = |outer: &str, inner: &str| {
            inner == outer
                || inner
                    .strip_prefix(outer)
                    .is_some_and(|r| r.starts_with('.') || r.starts_with('['))
        };
        if let Some(j) = axes[..i]
            .iter()
            .position(|b| within(&b.path, &a.path) || within(&a.path, &b.path))
        {
            return Err(error(
                path,
                esrc,
                format!("sweep[{i}].path"),
                format!(
                    "{} overlaps sweep[{j}]'s {}: one axis would override the other",
                    super::validate::quoted(&a.path),
                    super::validate::quoted(&axes[j].path)
                ),
            ));
        }
    }
    // Checked: 64 axes of two values overflow the product (it wrapped to 0 points in release
    // builds and panicked in debug ones).
    axes.iter()
        .try_fold(1usize, |n, a| n.checked_mul(a.values.len()))
        .filter(|&n| n <= MAX_POINTS)
        .ok_or_else(|| {
            let shown = axes.iter().map(|a| a.values.len() as f64).product::<f64>();
            error(
                path,
                esrc,
                "sweep".into(),
                format!("{shown:.0} points; at most {MAX_POINTS}"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spliced_points_are_the_points_substituted_axis_by_axis() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments");
        let mut planned = 0;
        for name in [
            "sweep-n32-prins.ron",
            "sweep-capif-recovery.ron",
            "compare-n32-preference.ron",
        ] {
            let points = Points::open(&root.join(name)).unwrap();
            planned += usize::from(points.plans.is_some());
            for i in 0..points.len() {
                let (e, t) = points.substituted(&points.picks(i)).unwrap();
                let p = points.point(i).unwrap();
                let want = load_experiment_source(&e, &root.join(name), Some(&t)).unwrap();
                assert_eq!(p.scenario.hash, want.hash, "{name} point {i}");
            }
        }
        assert!(planned >= 2, "the shipped sweeps should splice");
    }

    #[test]
    fn overlapping_wildcard_axes_fall_back_to_substitution() {
        let src = r#"Topology(domains: [], nodes: [], links: [
            (source: "a", target: "b", latency: Constant("5ms"), loss: 0.0),
        ])"#;
        assert!(splice_plan(src, &[(0, "links[*].loss"), (1, "links[0]")]).is_none());
        assert!(splice_plan(src, &[(0, "links[0].loss"), (1, "links[0].latency")]).is_some());
        assert!(splice_plan(src, &[(0, "links[0].bandwidth_mbps")]).is_none());
    }

    #[test]
    fn wildcards_match_indices_only() {
        assert!(matches("links[*].loss", "links[12].loss"));
        assert!(matches("workload[0].N32.arrival", "workload[0].N32.arrival"));
        assert!(!matches("links[*].loss", "links[x].loss"));
        assert!(!matches("links[*].loss", "links[1].latency"));
        assert!(matches("a[*].b[*].c", "a[1].b[22].c"));
    }

    #[test]
    fn substitution_replaces_every_match_and_quotes_strings() {
        let src = r#"Topology(domains: [], nodes: [], links: [
            (source: "a", target: "b", latency: Constant("5ms"), loss: 0.0),
            (source: "b", target: "c", latency: Constant("7ms"), loss: 0.0),
        ])"#;
        let out = substitute(src, "links[*].loss", "0.01").unwrap();
        assert_eq!(out.matches("loss: 0.01").count(), 2);
        let out = substitute(src, "links[1].latency.Constant", "9ms").unwrap();
        assert!(
            out.contains(r#"Constant("9ms")"#) && out.contains(r#"Constant("5ms")"#),
            "{out}"
        );
        let out = substitute(src, "links[0].latency", r#"Uniform(min: "1ms", max: "2ms")"#).unwrap();
        assert!(
            out.contains(r#"latency: Uniform(min: "1ms", max: "2ms"), loss"#),
            "{out}"
        );
        assert!(substitute(src, "links[*].bandwidth_mbps", "1.0").is_none());
    }
}
