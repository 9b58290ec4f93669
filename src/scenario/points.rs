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
    let outline = Outline::parse(src);
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
    if outer.is_empty() {
        return None;
    }
    let mut out = src.to_string();
    for r in outer.iter().rev() {
        let old = &src[r.clone()];
        let v = if old.starts_with('"') && !value.starts_with('"') {
            format!("{value:?}")
        } else {
            value.to_string()
        };
        out.replace_range(r.clone(), &v);
    }
    Some(out)
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
        }
    }

    fn with_base(path: &Path, base: Scenario, esrc: String, tsrc: String) -> Result<Points, ScenarioError> {
        let axes = base.experiment.sweep.clone();
        if axes.is_empty() {
            return Ok(Points::single(path, base));
        }
        let total = check_axes(path, &esrc, &axes)?;
        Ok(Points {
            path: path.to_path_buf(),
            base,
            esrc,
            tsrc,
            axes,
            total,
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
        let (mut e, mut t) = (esrc.to_string(), self.tsrc.clone());
        for (k, (a, pick)) in self.axes.iter().zip(self.picks(index)).enumerate() {
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
                        "`{field}` is not written in {} (write the field to sweep it)",
                        file.display()
                    ),
                )
            })?;
        }
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
            let batch: Vec<Result<T, E>> = (start..end)
                .into_par_iter()
                .map(|i| check(&self.point(i)?))
                .collect();
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
                    "`{}` overlaps sweep[{j}]'s `{}`: one axis would override the other",
                    a.path, axes[j].path
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
