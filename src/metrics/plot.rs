//! Plots, written as SVG and PNG with plotters. Text uses the DejaVu Sans font embedded in
//! the binary (assets/, Bitstream Vera licence), so PNGs render the same on every machine.
//! Plots are made on request and never asserted on.
//!
//! Conventions shared by every plot:
//! - one palette ([`outcome_color`]): an outcome has the same colour in every plot (`ok`
//!   green, `error` red, `refused` orange, `unreachable` purple, `timeout` brown,
//!   `unfinished` grey); series that are not outcomes (methods, flows) use
//!   [`series_color`], which never repeats an outcome colour;
//! - legends are drawn beside the plot area, never over the data;
//! - titles are measured and shrunk or wrapped to fit the canvas;
//! - at most [`MAX_SERIES`] legend entries per panel ([`cap_series`]): beyond that, the
//!   largest series, the rest pooled as "others", and a p10–p90 band with the median of all
//!   the series' CDFs;
//! - points of a sweep are labelled by their axis values ([`Categories`]), as a small table
//!   under the x axis (runs of equal values merged);
//! - count axes have integer ticks; outcome bars carry their failure fraction.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{self, HPos, Pos, VPos};

use crate::metrics::Outcome;

static FONT: Once = Once::new();

fn register_font() {
    FONT.call_once(|| {
        // The embedded font is valid TrueType; registration fails only on malformed data.
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            include_bytes!("../../assets/DejaVuSans.ttf"),
        );
    });
}

/// A plot could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write plot {path}: {message}")]
pub struct PlotError {
    pub path: String,
    pub message: String,
}

// ---------------------------------------------------------------------------------------------
// Palette

/// The colour of an outcome, the same in every plot.
pub fn outcome_color(o: Outcome) -> RGBColor {
    match o {
        Outcome::Ok => RGBColor(44, 160, 44),
        Outcome::Error => RGBColor(214, 39, 40),
        Outcome::Refused => RGBColor(255, 127, 14),
        Outcome::Unreachable => RGBColor(148, 103, 189),
        Outcome::Timeout => RGBColor(140, 86, 75),
        Outcome::Unfinished => RGBColor(127, 127, 127),
    }
}

/// Outcomes in display order (stacked bars, legends).
const OUTCOMES: [Outcome; 6] = [
    Outcome::Ok,
    Outcome::Error,
    Outcome::Refused,
    Outcome::Unreachable,
    Outcome::Timeout,
    Outcome::Unfinished,
];

/// The outcome an outcome-breakdown kind starts with (`"refused 403 NO_CONTRACT"` → refused).
pub fn kind_outcome(kind: &str) -> Option<Outcome> {
    Outcome::parse(kind.split(' ').next().unwrap_or_default())
}

/// Shade `j` of `c`: the colour itself, then alternately lighter and darker.
fn shade(c: RGBColor, j: usize) -> RGBColor {
    const F: [f64; 6] = [0.0, 0.45, -0.35, 0.7, -0.55, 0.25];
    let f = F[j % F.len()];
    let m = |v: u8| {
        let v = v as f64;
        (if f >= 0.0 { v + (255.0 - v) * f } else { v * (1.0 + f) }).round() as u8
    };
    RGBColor(m(c.0), m(c.1), m(c.2))
}

/// Colours of series that are not outcomes (methods, flows, strategies): none is an outcome
/// colour.
const SERIES_COLORS: [RGBColor; 9] = [
    RGBColor(31, 119, 180),
    RGBColor(227, 119, 194),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(57, 59, 121),
    RGBColor(0, 128, 128),
    RGBColor(184, 134, 11),
    RGBColor(199, 21, 133),
    RGBColor(99, 121, 57),
];

/// The colour of the `i`-th series that is not an outcome.
pub fn series_color(i: usize) -> RGBColor {
    SERIES_COLORS[i % SERIES_COLORS.len()]
}

/// The pooled "others" series.
const OTHERS_COLOR: RGBColor = RGBColor(40, 40, 40);
/// The p10–p90 band across series.
const BAND_COLOR: RGBColor = RGBColor(185, 185, 185);

/// Sort key of an outcome kind: outcomes in [`OUTCOMES`] order, unknown kinds last.
fn kind_rank(kind: &str) -> (usize, &str) {
    let o = kind_outcome(kind).and_then(|o| OUTCOMES.iter().position(|x| *x == o));
    (o.unwrap_or(OUTCOMES.len()), kind)
}

/// The colour of each kind of `kinds` (sorted by [`kind_rank`]): the outcome's colour, the
/// `j`-th kind of one outcome its `j`-th shade.
fn kind_colors(kinds: &[String]) -> Vec<RGBColor> {
    let mut seen: BTreeMap<Option<Outcome>, usize> = BTreeMap::new();
    let mut plain = 0;
    kinds
        .iter()
        .map(|k| match kind_outcome(k) {
            Some(o) => {
                let j = seen.entry(Some(o)).or_default();
                *j += 1;
                shade(outcome_color(o), *j - 1)
            }
            None => {
                plain += 1;
                series_color(plain - 1)
            }
        })
        .collect()
}

/// A failure count beside its total: `"12 (31%)"`.
pub fn count_pct(count: u64, total: u64) -> String {
    if total == 0 {
        return count.to_string();
    }
    // Never "0%" for some or "100%" for not all: near the ends the fraction keeps a decimal
    // and is bounded (`<0.1%`, `>99.9%`).
    let p = 100.0 * count as f64 / total as f64;
    let text = match p {
        _ if count == 0 || count == total => format!("{p:.0}%"),
        p if p < 0.05 => "<0.1%".to_string(),
        p if p < 1.0 => format!("{p:.1}%"),
        p if p >= 99.95 => ">99.9%".to_string(),
        p if p > 99.0 => format!("{p:.1}%"),
        p => format!("{p:.0}%"),
    };
    format!("{count} ({text})")
}

// ---------------------------------------------------------------------------------------------
// Text

fn font(size: u32) -> FontDesc<'static> {
    FontDesc::from(("sans-serif", size as f64))
}

/// Width of `s` in pixels at font size `size`, as the embedded font lays it out.
fn tw(s: &str, size: u32) -> u32 {
    if s.is_empty() {
        return 0;
    }
    font(size)
        .box_size(s)
        .map(|b| b.0)
        .unwrap_or_else(|_| text_px(s, size) as u32)
}

/// Approximate width of `s` in pixels at font size `size` (DejaVu Sans averages about 0.6 em).
fn text_px(s: &str, size: u32) -> i32 {
    (s.chars().count() as f64 * size as f64 * 0.62).ceil() as i32
}

/// `s`, cut with `…` to at most `max_w` pixels at `size`.
fn fit(s: &str, size: u32, max_w: u32) -> String {
    if tw(s, size) <= max_w {
        return s.to_string();
    }
    let chars: Vec<char> = s.chars().collect();
    let mut n = chars.len();
    while n > 0 {
        n -= 1;
        let t: String = chars[..n].iter().collect::<String>() + "…";
        if tw(&t, size) <= max_w {
            return t;
        }
    }
    "…".to_string()
}

/// The lines and font size of a title on a canvas `width` pixels wide: one line at the
/// largest size from `max_size` down to 16 that fits, else wrapped at spaces at 15 px.
fn title_layout(title: &str, width: u32, max_size: u32) -> (Vec<String>, u32) {
    let max_w = width.saturating_sub(30).max(50);
    for size in [22, 20, 18, 16].into_iter().filter(|s| *s <= max_size) {
        if tw(title, size) <= max_w {
            return (vec![title.to_string()], size);
        }
    }
    let size = 15;
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    for word in title.split(' ') {
        let cand = if cur.is_empty() {
            word.to_string()
        } else {
            format!("{cur} {word}")
        };
        if cur.is_empty() || tw(&cand, size) <= max_w {
            cur = cand;
        } else {
            lines.push(std::mem::take(&mut cur));
            cur = word.to_string();
        }
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    (lines.iter().map(|l| fit(l, size, max_w)).collect(), size)
}

fn title_height(lines: &[String], size: u32) -> u32 {
    if lines.iter().all(|l| l.is_empty()) {
        return 8;
    }
    14 + lines.len() as u32 * (size + 6)
}

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Draws `title` at the top of `area` (measured, shrunk or wrapped to fit); returns the rest.
fn titled<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    max_size: u32,
) -> Result<DrawingArea<DB, Shift>, String>
where
    DB::ErrorType: 'static,
{
    let (w, _) = area.dim_in_pixel();
    let (lines, size) = title_layout(title, w, max_size);
    let style = TextStyle::from(font(size)).pos(Pos::new(HPos::Center, VPos::Top));
    for (k, l) in lines.iter().enumerate() {
        area.draw(&Text::new(
            l.clone(),
            (w as i32 / 2, 8 + k as i32 * (size as i32 + 6)),
            style.clone(),
        ))
        .map_err(err)?;
    }
    Ok(area.split_vertically(title_height(&lines, size)).1)
}

// ---------------------------------------------------------------------------------------------
// Legends (beside the plot area)

#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum Dash {
    Solid,
    Dashed,
    Dotted,
}

#[derive(Clone, Copy, Debug)]
enum Swatch {
    Line(RGBColor, u32, Dash),
    Fill(RGBColor),
}

struct Entry {
    label: String,
    swatch: Swatch,
}

const LEGEND_SIZE: u32 = 13;
const LEGEND_ROW: i32 = 20;

/// The width of a legend column for `entries`, at most `max`; 0 for no entries.
fn legend_width(entries: &[Entry], max: u32) -> u32 {
    if entries.is_empty() {
        return 0;
    }
    (entries.iter().map(|e| tw(&e.label, LEGEND_SIZE)).max().unwrap_or(0) + 56).min(max)
}

/// The dash pattern of a line from `x0` to `x1` as segments.
fn dash_segments(x0: i32, x1: i32, dash: Dash) -> Vec<(i32, i32)> {
    let (on, off) = match dash {
        Dash::Solid => return vec![(x0, x1)],
        Dash::Dashed => (7, 4),
        Dash::Dotted => (2, 3),
    };
    let mut out = Vec::new();
    let mut x = x0;
    while x < x1 {
        out.push((x, (x + on).min(x1)));
        x += on + off;
    }
    out
}

/// Draws `entries` as a framed list at the top of `area` (a column beside the plot).
fn draw_legend<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, entries: &[Entry], top: i32) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    if entries.is_empty() {
        return Ok(());
    }
    let (w, _) = area.dim_in_pixel();
    let w = w as i32;
    let h = 8 + LEGEND_ROW * entries.len() as i32;
    area.draw(&Rectangle::new([(6, top), (w - 6, top + h)], BLACK.mix(0.6)))
        .map_err(err)?;
    let style = TextStyle::from(font(LEGEND_SIZE)).pos(Pos::new(HPos::Left, VPos::Center));
    for (k, e) in entries.iter().enumerate() {
        let y = top + 4 + LEGEND_ROW * k as i32 + LEGEND_ROW / 2;
        match e.swatch {
            Swatch::Line(c, width, dash) => {
                for (a, b) in dash_segments(14, 40, dash) {
                    area.draw(&PathElement::new(vec![(a, y), (b, y)], c.stroke_width(width)))
                        .map_err(err)?;
                }
            }
            Swatch::Fill(c) => {
                area.draw(&Rectangle::new([(16, y - 6), (38, y + 6)], c.filled()))
                    .map_err(err)?;
            }
        }
        let label = fit(&e.label, LEGEND_SIZE, (w - 56).max(10) as u32);
        area.draw(&Text::new(label, (46, y), style.clone())).map_err(err)?;
    }
    Ok(())
}

/// Writes `<stem>.svg` and `<stem>.png` of `size` pixels, `$root` bound to each drawing area
/// in turn.
macro_rules! both {
    ($dir:expr, $stem:expr, $size:expr, |$root:ident| $body:expr) => {{
        let svg = $dir.join(format!("{}.svg", $stem));
        let png = $dir.join(format!("{}.png", $stem));
        let e = |p: &Path, m: String| PlotError {
            path: p.display().to_string(),
            message: m,
        };
        {
            let $root = SVGBackend::new(&svg, $size).into_drawing_area();
            $body
        }
        .map_err(|m| e(&svg, m))?;
        {
            let $root = BitMapBackend::new(&png, $size).into_drawing_area();
            $body
        }
        .map_err(|m| e(&png, m))?;
        Ok(())
    }};
}

// ---------------------------------------------------------------------------------------------
// CDFs

/// One curve of a CDF plot: a label and its samples; with an outcome, the curve takes the
/// outcome's colour (curves of one outcome differ by dash).
#[derive(Clone, Debug, Default)]
pub struct Series {
    pub label: String,
    pub values: Vec<f64>,
    pub outcome: Option<Outcome>,
}

impl Series {
    pub fn new(label: impl Into<String>, values: Vec<f64>) -> Series {
        Series {
            label: label.into(),
            values,
            outcome: None,
        }
    }
}

/// At most this many legend entries in a panel (see [`cap_series`]).
pub const MAX_SERIES: usize = 10;

/// What a panel draws of its series: at most [`MAX_SERIES`] legend entries.
#[derive(Clone, Debug, Default)]
pub struct Capped {
    /// The curves drawn, in input order; with `pooled`, the last is "others".
    pub shown: Vec<Series>,
    /// Whether the last of `shown` pools the series left out.
    pub pooled: bool,
    /// When capped: the sorted finite samples of every non-empty input series, drawn as the
    /// p10–p90 band and the median of their CDFs.
    pub band: Vec<Vec<f64>>,
}

impl Capped {
    /// Legend entries this panel draws.
    pub fn entries(&self) -> usize {
        self.shown
            .iter()
            .filter(|s| s.values.iter().any(|v| v.is_finite()))
            .count()
            + if self.band.len() >= 2 { 2 } else { 0 }
    }
}

fn finite_sorted(v: &[f64]) -> Vec<f64> {
    let mut v: Vec<f64> = v.iter().copied().filter(|v| v.is_finite()).collect();
    v.sort_by(|a, b| a.total_cmp(b));
    v
}

/// Caps `series` at `max` legend entries: all of them if there are at most `max`; else the
/// `max - 3` largest (by sample count, ties by label), "others" pooling the rest, and a band
/// (p10–p90 with the median) of the CDFs of all of them.
pub fn cap_series(series: &[Series], max: usize) -> Capped {
    let nonempty: Vec<&Series> = series
        .iter()
        .filter(|s| s.values.iter().any(|v| v.is_finite()))
        .collect();
    if nonempty.len() <= max {
        return Capped {
            shown: series.to_vec(),
            pooled: false,
            band: Vec::new(),
        };
    }
    let keep = max.saturating_sub(3).max(1);
    let n = |s: &Series| s.values.iter().filter(|v| v.is_finite()).count();
    let mut idx: Vec<usize> = (0..nonempty.len()).collect();
    idx.sort_by(|&a, &b| {
        n(nonempty[b])
            .cmp(&n(nonempty[a]))
            .then_with(|| nonempty[a].label.cmp(&nonempty[b].label))
    });
    let mut top: Vec<usize> = idx[..keep].to_vec();
    top.sort_unstable();
    let rest = &idx[keep..];
    let mut shown: Vec<Series> = top.iter().map(|&i| nonempty[i].clone()).collect();
    shown.push(Series {
        label: format!("others ({} series pooled)", rest.len()),
        values: rest.iter().flat_map(|&i| nonempty[i].values.iter().copied()).collect(),
        outcome: None,
    });
    Capped {
        shown,
        pooled: true,
        band: nonempty.iter().map(|s| finite_sorted(&s.values)).collect(),
    }
}

/// Line style per series label across panels: outcome series in their outcome's colour (the
/// `j`-th label of one outcome dashed differently), the others in [`series_color`] by label
/// order (dashed after the palette's length).
type Styles = BTreeMap<String, (RGBColor, Dash)>;

fn styles<'a>(series: impl Iterator<Item = &'a Series>) -> Styles {
    let mut labels: BTreeMap<&str, Option<Outcome>> = BTreeMap::new();
    for s in series {
        labels.entry(&s.label).or_insert(s.outcome);
    }
    let mut per_outcome: BTreeMap<Outcome, usize> = BTreeMap::new();
    let mut plain = 0;
    const DASHES: [Dash; 3] = [Dash::Solid, Dash::Dashed, Dash::Dotted];
    labels
        .into_iter()
        .map(|(label, o)| {
            let style = match o {
                Some(o) => {
                    let j = per_outcome.entry(o).or_default();
                    *j += 1;
                    let j = *j - 1;
                    (shade(outcome_color(o), j / 3), DASHES[j % 3])
                }
                None => {
                    plain += 1;
                    let i = plain - 1;
                    (series_color(i), DASHES[(i / SERIES_COLORS.len()) % 3])
                }
            };
            (label.to_string(), style)
        })
        .collect()
}

/// The style of a shown series (`last_pooled`: it is "others").
fn style_of(styles: &Styles, s: &Series, others: bool) -> (RGBColor, Dash) {
    if others {
        return (OTHERS_COLOR, Dash::Dotted);
    }
    styles.get(&s.label).copied().unwrap_or((series_color(0), Dash::Solid))
}

/// The largest finite sample of `series`, padded by 5 %, or 1 when there is none.
fn cdf_max_x<'a>(series: impl Iterator<Item = &'a Series>) -> f64 {
    let max_x = series
        .flat_map(|s| s.values.iter().copied())
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    if max_x > 0.0 { max_x * 1.05 } else { 1.0 }
}

/// The x range, in decades (log10), of a CDF whose positive values span more than two
/// decades: from the decade below the smallest positive value to the one above the largest.
/// `None` when a linear axis reads well.
fn log_range<'a>(series: impl Iterator<Item = &'a Series>) -> Option<(f64, f64)> {
    let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
    for v in series.flat_map(|s| s.values.iter().copied()) {
        if v.is_finite() && v > 0.0 {
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    (hi > 0.0 && hi / lo > 100.0).then(|| (lo.log10().floor(), hi.log10().ceil()))
}

/// A log-axis tick label: the value with at most 3 significant digits (`0.02`, `150`, `3000`).
fn decade_label(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else {
        let digits = (2 - x.log10().floor() as i32).clamp(0, 6) as usize;
        let t = format!("{x:.digits$}");
        if t.contains('.') {
            t.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            t
        }
    }
}

/// The legend entries of a panel.
fn cdf_entries(c: &Capped, styles: &Styles) -> Vec<Entry> {
    let mut out = Vec::new();
    if c.band.len() >= 2 {
        out.push(Entry {
            label: format!("p10–p90 of {} series' CDFs", c.band.len()),
            swatch: Swatch::Fill(BAND_COLOR),
        });
        out.push(Entry {
            label: format!("median of {} series' CDFs", c.band.len()),
            swatch: Swatch::Line(BLACK, 2, Dash::Dashed),
        });
    }
    let last = c.shown.len().saturating_sub(1);
    for (i, s) in c.shown.iter().enumerate() {
        let n = s.values.iter().filter(|v| v.is_finite()).count();
        if n == 0 {
            continue;
        }
        let (color, dash) = style_of(styles, s, c.pooled && i == last);
        out.push(Entry {
            label: format!("{} (n={n})", s.label),
            swatch: Swatch::Line(color, 2, dash),
        });
    }
    out
}

/// The empirical CDF of sorted `v` as step points (subsampled to about 2000 steps).
fn ecdf_points(v: &[f64]) -> Vec<(f64, f64)> {
    let n = v.len() as f64;
    let stride = (v.len() / 2000).max(1);
    let mut pts: Vec<(f64, f64)> = Vec::with_capacity(2 * v.len() / stride + 2);
    let mut below = 0.0;
    for (k, &x) in v.iter().enumerate().step_by(stride) {
        pts.push((x, below));
        below = ((k + stride).min(v.len())) as f64 / n;
        pts.push((x, below));
    }
    if let Some(&x) = v.last() {
        pts.push((x, 1.0));
    }
    pts
}

/// (x, p10, p50, p90) of the CDFs of `band` on a grid of `0..max_x`.
fn band_points(band: &[Vec<f64>], max_x: f64) -> Vec<(f64, f64, f64, f64)> {
    const GRID: usize = 300;
    (0..=GRID)
        .map(|k| {
            let x = max_x * k as f64 / GRID as f64;
            let mut f: Vec<f64> = band
                .iter()
                .map(|v| v.partition_point(|s| *s <= x) as f64 / v.len() as f64)
                .collect();
            f.sort_by(|a, b| a.total_cmp(b));
            let q = |p: f64| crate::metrics::stats::quantile(&f, p);
            (x, q(0.1), q(0.5), q(0.9))
        })
        .collect()
}

fn draw_line<DB: DrawingBackend>(
    chart: &mut ChartContext<
        '_,
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    pts: Vec<(f64, f64)>,
    color: RGBColor,
    width: u32,
    dash: Dash,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let style = color.stroke_width(width);
    match dash {
        Dash::Solid => chart.draw_series(LineSeries::new(pts, style)).map(|_| ()),
        Dash::Dashed => chart.draw_series(DashedLineSeries::new(pts, 8, 5, style)).map(|_| ()),
        Dash::Dotted => chart.draw_series(DashedLineSeries::new(pts, 2, 4, style)).map(|_| ()),
    }
    .map_err(err)
}

/// Draws one CDF panel on `area` (already filled): its title, the chart with x in
/// `0..max_x`, and its legend in a column on the right.
fn draw_cdf_chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: (&str, u32),
    x_label: &str,
    max_x: f64,
    capped: &Capped,
    styles: &Styles,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let area = titled(area, title.0, title.1)?;
    let entries = cdf_entries(capped, styles);
    let (w, _) = area.dim_in_pixel();
    let lw = legend_width(&entries, w * 2 / 5);
    let (plot, legend) = area.split_horizontally(w - lw);
    // Values over more than two decades (a 3 s timeout beside 20 ms refusals) read on a log
    // axis: x is drawn as log10(x), labelled with x. A band stays on the linear axis.
    let log = if capped.band.len() >= 2 {
        None
    } else {
        log_range(capped.shown.iter())
    };
    let (x_range, desc) = match log {
        Some((lo, hi)) => (lo..hi, format!("{x_label}, log scale")),
        None => (0.0..max_x, x_label.to_string()),
    };
    let mut chart = ChartBuilder::on(&plot)
        .margin(10)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(x_range, 0.0..1.0)
        .map_err(err)?;
    let log_label = |v: &f64| decade_label(10f64.powf(*v));
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(desc).y_desc("fraction ≤ x").label_style(font(14));
    if log.is_some() {
        mesh.x_label_formatter(&log_label).x_labels(8);
    }
    mesh.draw().map_err(err)?;
    if capped.band.len() >= 2 {
        let b = band_points(&capped.band, max_x);
        let mut poly: Vec<(f64, f64)> = b.iter().map(|p| (p.0, p.3)).collect();
        poly.extend(b.iter().rev().map(|p| (p.0, p.1)));
        chart
            .draw_series(std::iter::once(Polygon::new(poly, BAND_COLOR.mix(0.7).filled())))
            .map_err(err)?;
        draw_line(
            &mut chart,
            b.iter().map(|p| (p.0, p.2)).collect(),
            BLACK,
            2,
            Dash::Dashed,
        )?;
    }
    let last = capped.shown.len().saturating_sub(1);
    for (i, s) in capped.shown.iter().enumerate() {
        let v = finite_sorted(&s.values);
        if v.is_empty() {
            continue;
        }
        let (color, dash) = style_of(styles, s, capped.pooled && i == last);
        let mut pts = ecdf_points(&v);
        if let Some((lo, _)) = log {
            // Zero and below sit at the axis' left end.
            for p in &mut pts {
                p.0 = if p.0 > 0.0 { p.0.log10().max(lo) } else { lo };
            }
        }
        draw_line(&mut chart, pts, color, 2, dash)?;
    }
    draw_legend(&legend, &entries, 10)
}

/// Writes `<stem>.svg` and `<stem>.png`: the empirical CDF of each series (at most
/// [`MAX_SERIES`] legend entries, see [`cap_series`]), the legend beside the chart.
pub fn cdf(dir: &Path, stem: &str, title: &str, x_label: &str, series: &[Series]) -> Result<(), PlotError> {
    register_font();
    let capped = cap_series(series, MAX_SERIES);
    let st = styles(capped.shown.iter());
    let lw = legend_width(&cdf_entries(&capped, &st), 420);
    let size = (700 + lw, 600);
    let max_x = cdf_max_x(series.iter());
    both!(dir, stem, size, |root| {
        root.fill(&WHITE)
            .map_err(err)
            .and_then(|_| draw_cdf_chart(&root, (title, 22), x_label, max_x, &capped, &st))
            .and_then(|_| root.present().map_err(err))
    })
}

/// One panel of [`cdf_panels`]: a caption and its curves.
pub struct Panel {
    pub title: String,
    pub series: Vec<Series>,
}

/// Writes `<stem>.svg` and `<stem>.png`: one CDF chart per panel, two panels a row, all on
/// the same x range; a series label has the same colour in every panel.
pub fn cdf_panels(dir: &Path, stem: &str, title: &str, x_label: &str, panels: &[Panel]) -> Result<(), PlotError> {
    register_font();
    let cols = panels.len().clamp(1, 2);
    let rows = panels.len().div_ceil(cols).max(1) as u32;
    let capped: Vec<Capped> = panels.iter().map(|p| cap_series(&p.series, MAX_SERIES)).collect();
    let st = styles(capped.iter().flat_map(|c| c.shown.iter()));
    let lw = capped
        .iter()
        .map(|c| legend_width(&cdf_entries(c, &st), 360))
        .max()
        .unwrap_or(0);
    let width = (520 + lw) * cols as u32;
    let (lines, size) = title_layout(title, width, 22);
    let size = (width, (title_height(&lines, size) + 420 * rows).min(4000));
    // One x range for all panels, so that they compare at a glance.
    let max_x = cdf_max_x(panels.iter().flat_map(|p| p.series.iter()));
    both!(dir, stem, size, |root| {
        (|| {
            root.fill(&WHITE).map_err(err)?;
            let body = titled(&root, title, 22)?;
            let areas = body.split_evenly((rows as usize, cols));
            for ((p, c), area) in panels.iter().zip(&capped).zip(areas.iter()) {
                draw_cdf_chart(area, (&p.title, 18), x_label, max_x, c, &st)?;
            }
            root.present().map_err(err)
        })()
    })
}

// ---------------------------------------------------------------------------------------------
// Timelines

/// One curve of a [`timeline`]: a value per time bin, bin `k` covering
/// `[k·bin, (k+1)·bin)`.
pub struct Binned {
    pub label: String,
    pub values: Vec<f64>,
}

/// A vertical line across a [`timeline`] at `x`, captioned `label`; markers of one `kind`
/// share a colour and a legend entry.
pub struct Marker {
    pub x: f64,
    pub kind: String,
    pub label: String,
}

const MARKER_COLORS: [RGBColor; 3] = [RGBColor(0, 0, 0), RGBColor(160, 0, 160), RGBColor(120, 120, 120)];

/// The step outline of `values` (bins of width `bin`): only the points where the value
/// changes, so long quiet stretches cost nothing.
fn step_points(values: &[f64], bin: f64) -> Vec<(f64, f64)> {
    let mut pts = Vec::new();
    let mut prev: Option<f64> = None;
    for (k, &v) in values.iter().enumerate() {
        let v = if v.is_finite() { v } else { 0.0 };
        let x = k as f64 * bin;
        match prev {
            None => pts.push((x, v)),
            Some(p) if p != v => {
                pts.push((x, p));
                pts.push((x, v));
            }
            Some(_) => {}
        }
        prev = Some(v);
    }
    if let Some(p) = prev {
        pts.push((values.len() as f64 * bin, p));
    }
    pts
}

/// Legend entries of a timeline: the series, then one per marker kind.
fn timeline_entries(series: &[Binned], markers: &[Marker]) -> Vec<Entry> {
    let mut out: Vec<Entry> = series
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.values.is_empty())
        .map(|(i, s)| Entry {
            label: s.label.clone(),
            swatch: Swatch::Line(series_color(i), 3, Dash::Solid),
        })
        .collect();
    let mut kinds: Vec<&str> = Vec::new();
    for m in markers.iter().filter(|m| m.x.is_finite()) {
        if !kinds.contains(&m.kind.as_str()) {
            kinds.push(&m.kind);
            out.push(Entry {
                label: m.kind.clone(),
                swatch: Swatch::Line(MARKER_COLORS[(kinds.len() - 1) % MARKER_COLORS.len()], 2, Dash::Dashed),
            });
        }
    }
    out
}

/// `labels`: the title and the x and y axis labels.
fn draw_timeline<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    (title, x_label, y_label): (&str, &str, &str),
    bin: f64,
    series: &[Binned],
    markers: &[Marker],
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(err)?;
    let area = titled(&root, title, 22)?;
    let entries = timeline_entries(series, markers);
    let (w, _) = area.dim_in_pixel();
    let lw = legend_width(&entries, w * 2 / 5);
    let (plot, legend) = area.split_horizontally(w - lw);
    let bins = series.iter().map(|s| s.values.len()).max().unwrap_or(0);
    let max_x = markers
        .iter()
        .map(|m| m.x)
        .filter(|x| x.is_finite())
        .fold(bins as f64 * bin, f64::max);
    let max_x = if max_x > 0.0 { max_x } else { 1.0 };
    let values = || {
        series
            .iter()
            .flat_map(|s| s.values.iter().copied())
            .filter(|v| v.is_finite())
    };
    let max_y = values().fold(0.0f64, f64::max);
    let integral = values().all(|v| v.fract() == 0.0);
    // Head room above the highest step for the marker captions.
    let max_y = if max_y > 0.0 { max_y * 1.25 } else { 1.0 };
    let mut chart = ChartBuilder::on(&plot)
        .margin(10)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..max_x, 0.0..max_y)
        .map_err(err)?;
    let y_fmt = |v: &f64| {
        if !integral {
            format!("{v}")
        } else if v.fract() == 0.0 {
            format!("{v:.0}")
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .y_labels(if integral {
            (max_y.ceil() as usize + 1).clamp(2, 11)
        } else {
            10
        })
        .y_label_formatter(&y_fmt)
        .label_style(font(14))
        .draw()
        .map_err(err)?;
    let mut kinds: Vec<&str> = Vec::new();
    for (i, m) in markers.iter().enumerate().filter(|(_, m)| m.x.is_finite()) {
        let k = match kinds.iter().position(|k| *k == m.kind) {
            Some(k) => k,
            None => {
                kinds.push(&m.kind);
                kinds.len() - 1
            }
        };
        let style = ShapeStyle {
            color: MARKER_COLORS[k % MARKER_COLORS.len()].mix(0.9),
            filled: false,
            stroke_width: 2,
        };
        chart
            .draw_series(DashedLineSeries::new(vec![(m.x, 0.0), (m.x, max_y)], 6, 4, style))
            .map_err(err)?;
        // Captions of markers close together are staggered downwards.
        let row = (i % 4) as f64;
        chart
            .draw_series(std::iter::once(Text::new(
                format!(" {}", m.label),
                (m.x, max_y * (0.99 - 0.05 * row)),
                font(13),
            )))
            .map_err(err)?;
    }
    // Earlier series are drawn wider underneath later ones, so that where two coincide both
    // stay visible (a thin line inside a wider one).
    for (i, s) in series.iter().enumerate() {
        let pts = step_points(&s.values, bin);
        if pts.is_empty() {
            continue;
        }
        let width = 2 + 2 * (series.len() - 1 - i).min(3) as u32;
        chart
            .draw_series(LineSeries::new(pts, series_color(i).stroke_width(width)))
            .map_err(err)?;
    }
    draw_legend(&legend, &entries, 10)?;
    root.present().map_err(err)?;
    Ok(())
}

/// Writes `<stem>.svg` and `<stem>.png`: each series as a step line over time (bins of
/// `bin` x units from 0), and a dashed vertical line per marker; the legend beside.
pub fn timeline(
    dir: &Path,
    stem: &str,
    title: &str,
    (x_label, y_label): (&str, &str),
    bin: f64,
    series: &[Binned],
    markers: &[Marker],
) -> Result<(), PlotError> {
    register_font();
    let bin = if bin.is_finite() && bin > 0.0 { bin } else { 1.0 };
    let lw = legend_width(&timeline_entries(series, markers), 400);
    both!(dir, stem, (860 + lw, 600), |root| {
        draw_timeline(root, (title, x_label, y_label), bin, series, markers)
    })
}

// ---------------------------------------------------------------------------------------------
// Outcome breakdowns

/// One bar of an outcome breakdown: its label cells (one per column of [`breakdown`]) and
/// its counts per outcome kind (stacked; a kind starts with the outcome, e.g.
/// `"refused 403 NO_CONTRACT"`).
pub struct Breakdown {
    pub labels: Vec<String>,
    pub counts: Vec<(String, u64)>,
    /// What the bar stands for in the legend's totals when that is not `counts` (a bar of
    /// per-flow means stands for the flows' sums); `None`: `counts`.
    pub legend_counts: Option<Vec<(String, u64)>>,
}

const BAR_H: u32 = 26;
const CELL_SIZE: u32 = 13;

/// Whether a kind counts as a failure (anything but `ok`).
fn failed(kind: &str) -> bool {
    kind_outcome(kind) != Some(Outcome::Ok)
}

/// What a bar's end says: its total and, if any failed, the failures with their fraction.
fn bar_note(b: &Breakdown) -> String {
    let total: u64 = b.counts.iter().map(|c| c.1).sum();
    let fail: u64 = b.counts.iter().filter(|c| failed(&c.0)).map(|c| c.1).sum();
    if fail == 0 {
        format!("{total}")
    } else {
        format!("{total} · failed {}", count_pct(fail, total))
    }
}

/// Cell `c` of row `r` as shown: outer columns only where their value (or an outer one)
/// changes from the row above.
fn shown_cell(rows: &[Vec<String>], r: usize, c: usize) -> &str {
    let cell = |r: usize, c: usize| rows[r].get(c).map(String::as_str).unwrap_or_default();
    let last = rows[r].len().saturating_sub(1);
    if c < last && r > 0 && (0..=c).all(|k| cell(r, k) == cell(r - 1, k)) {
        ""
    } else {
        cell(r, c)
    }
}

struct BreakdownLayout {
    kinds: Vec<String>,
    colors: Vec<RGBColor>,
    entries: Vec<Entry>,
    col_w: Vec<u32>,
    note_w: u32,
    legend_w: u32,
    size: (u32, u32),
}

fn breakdown_layout(title: &str, columns: &[String], bars: &[Breakdown]) -> BreakdownLayout {
    let mut totals: BTreeMap<&str, u64> = BTreeMap::new();
    for b in bars {
        for (k, v) in b.legend_counts.as_ref().unwrap_or(&b.counts) {
            *totals.entry(k).or_default() += v;
        }
    }
    let mut kinds: Vec<String> = totals.keys().map(|k| k.to_string()).collect();
    kinds.sort_by(|a, b| kind_rank(a).cmp(&kind_rank(b)));
    let colors = kind_colors(&kinds);
    let all: u64 = totals.values().sum();
    let entries: Vec<Entry> = kinds
        .iter()
        .zip(&colors)
        .map(|(k, c)| Entry {
            label: format!("{k}: {}", count_pct(totals[k.as_str()], all)),
            swatch: Swatch::Fill(*c),
        })
        .collect();
    let ncols = bars
        .iter()
        .map(|b| b.labels.len())
        .max()
        .unwrap_or(0)
        .max(columns.len());
    let col_w: Vec<u32> = (0..ncols)
        .map(|c| {
            let head = columns.get(c).map(|h| tw(h, CELL_SIZE)).unwrap_or(0);
            let cells = bars
                .iter()
                .map(|b| b.labels.get(c).map(|l| tw(l, CELL_SIZE)).unwrap_or(0))
                .max()
                .unwrap_or(0);
            (head.max(cells) + 16).min(340)
        })
        .collect();
    let note_w = bars.iter().map(|b| tw(&bar_note(b), 12)).max().unwrap_or(0) + 16;
    let legend_w = legend_width(&entries, 460);
    let width = 30 + col_w.iter().sum::<u32>() + 520 + note_w + legend_w;
    let (lines, ts) = title_layout(title, width, 22);
    let legend_h = 30 + LEGEND_ROW as u32 * entries.len() as u32;
    let height = (title_height(&lines, ts) + 30 + BAR_H * bars.len() as u32 + 60)
        .max(legend_h + 60)
        .max(240);
    BreakdownLayout {
        kinds,
        colors,
        entries,
        col_w,
        note_w,
        legend_w,
        size: (width, height.min(16000)),
    }
}

fn draw_breakdown<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    columns: &[String],
    bars: &[Breakdown],
    lay: &BreakdownLayout,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(err)?;
    let body = titled(&root, title, 22)?;
    let table_w: u32 = 15 + lay.col_w.iter().sum::<u32>();
    let (w, _) = body.dim_in_pixel();
    let (_, rest) = body.split_horizontally(table_w);
    let (chart_area, rest) = rest.split_horizontally(w - table_w - lay.note_w - lay.legend_w);
    let (_, legend) = rest.split_horizontally(lay.note_w);
    let n = bars.len().max(1);
    let max = bars
        .iter()
        .map(|b| b.counts.iter().map(|c| c.1).sum::<u64>())
        .max()
        .unwrap_or(1)
        .max(1);
    let mut chart = ChartBuilder::on(&chart_area)
        .margin_top(26)
        .margin_right(4)
        .x_label_area_size(45)
        .y_label_area_size(0)
        .build_cartesian_2d(0u64..max, 0.0..n as f64)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_desc("count")
        .x_label_formatter(&|v| v.to_string())
        .y_labels(0)
        .label_style(font(13))
        .draw()
        .map_err(err)?;
    // Bar i from the top.
    let y_of = |i: usize| (n - 1 - i) as f64;
    for (kind, color) in lay.kinds.iter().zip(&lay.colors) {
        let mut rects = Vec::new();
        for (i, b) in bars.iter().enumerate() {
            let before: u64 = b
                .counts
                .iter()
                .filter(|c| kind_rank(&c.0) < kind_rank(kind))
                .map(|c| c.1)
                .sum();
            if let Some(&(_, v)) = b.counts.iter().find(|c| c.0 == *kind) {
                let y = y_of(i);
                rects.push(Rectangle::new(
                    [(before, y + 0.15), (before + v, y + 0.85)],
                    color.filled(),
                ));
            }
        }
        chart.draw_series(rects).map_err(err)?;
    }
    // The label table on the left and the notes at the bars' ends, in canvas pixels.
    let left = |c: usize| 15 + lay.col_w[..c].iter().sum::<u32>() as i32;
    let cell_style = TextStyle::from(font(CELL_SIZE)).pos(Pos::new(HPos::Left, VPos::Center));
    let head_style = TextStyle::from(font(CELL_SIZE))
        .pos(Pos::new(HPos::Left, VPos::Bottom))
        .color(&RGBColor(80, 80, 80));
    let top = chart.backend_coord(&(0, n as f64)).1;
    for (c, h) in columns.iter().enumerate() {
        root.draw(&Text::new(
            fit(h, CELL_SIZE, lay.col_w[c] - 8),
            (left(c), top - 4),
            head_style.clone(),
        ))
        .map_err(err)?;
    }
    let rows: Vec<Vec<String>> = bars.iter().map(|b| b.labels.clone()).collect();
    for (i, b) in bars.iter().enumerate() {
        let y = chart.backend_coord(&(0, y_of(i) + 0.5)).1;
        for c in 0..b.labels.len().min(lay.col_w.len()) {
            let text = shown_cell(&rows, i, c);
            if text.is_empty() {
                continue;
            }
            root.draw(&Text::new(
                fit(text, CELL_SIZE, lay.col_w[c] - 8),
                (left(c), y),
                cell_style.clone(),
            ))
            .map_err(err)?;
        }
        let total: u64 = b.counts.iter().map(|c| c.1).sum();
        let x = chart.backend_coord(&(total, 0.0)).0;
        root.draw(&Text::new(
            bar_note(b),
            (x + 6, y),
            TextStyle::from(font(12)).pos(Pos::new(HPos::Left, VPos::Center)),
        ))
        .map_err(err)?;
    }
    draw_legend(&legend, &lay.entries, 26)?;
    root.present().map_err(err)?;
    Ok(())
}

/// Writes `<stem>.svg` and `<stem>.png`: one horizontal stacked bar per entry, labelled by
/// its cells under `columns` (outer columns shown where they change), one colour per
/// outcome kind ([`outcome_color`], shades within one outcome), the total and the failed
/// fraction at each bar's end, and the kinds' totals in the legend.
pub fn breakdown(dir: &Path, stem: &str, title: &str, columns: &[String], bars: &[Breakdown]) -> Result<(), PlotError> {
    register_font();
    let lay = breakdown_layout(title, columns, bars);
    both!(dir, stem, lay.size, |root| draw_breakdown(
        root, title, columns, bars, &lay
    ))
}

// ---------------------------------------------------------------------------------------------
// Tables

/// A table of counts: `cells[r][c]` is the count of row `r`, column `c` (0 is shown as an
/// empty cell).
pub struct Table {
    pub corner: String,
    pub rows: Vec<String>,
    pub cols: Vec<String>,
    pub cells: Vec<Vec<u64>>,
}

const CELL_H: i32 = 30;

fn table_size(t: &Table) -> (u32, u32, i32, i32) {
    let first = t
        .rows
        .iter()
        .chain(std::iter::once(&t.corner))
        .map(|r| tw(r, 14) as i32)
        .max()
        .unwrap_or(0)
        .max(60)
        + 20;
    let col = t.cols.iter().map(|c| tw(c, 14) as i32).max().unwrap_or(0).max(50) + 20;
    let w = (first + col * t.cols.len() as i32 + 40).clamp(400, 8000);
    let h = (CELL_H * (t.rows.len() as i32 + 1) + 30).clamp(100, 8000);
    (w as u32, h as u32, first, col)
}

fn draw_table<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, title: &str, t: &Table) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(err)?;
    let (_, _, first, col) = table_size(t);
    let (w, _) = root.dim_in_pixel();
    let (lines, size) = title_layout(title, w, 20);
    let table_top = title_height(&lines, size) as i32;
    let area = titled(&root, title, 20)?;
    let _ = area;
    let left = 20;
    let max = t.cells.iter().flatten().copied().max().unwrap_or(0).max(1) as f64;
    let header = RGBColor(230, 230, 230);
    let base = series_color(0);
    let anchored = |h| TextStyle::from(font(14)).pos(text_anchor::Pos::new(h, text_anchor::VPos::Center));
    // Header row, then one row per item; row 0 is the header.
    for r in 0..=t.rows.len() {
        let y0 = table_top + CELL_H * r as i32;
        let label = if r == 0 { &t.corner } else { &t.rows[r - 1] };
        root.draw(&Rectangle::new(
            [(left, y0), (left + first, y0 + CELL_H)],
            header.filled(),
        ))
        .map_err(err)?;
        root.draw(&Text::new(
            label.clone(),
            (left + 8, y0 + CELL_H / 2),
            anchored(text_anchor::HPos::Left),
        ))
        .map_err(err)?;
        for c in 0..t.cols.len() {
            let x0 = left + first + col * c as i32;
            let (fill, text) = if r == 0 {
                (header, t.cols[c].clone())
            } else {
                let v = t.cells.get(r - 1).and_then(|row| row.get(c)).copied().unwrap_or(0);
                let a = if v == 0 { 0.0 } else { 0.15 + 0.6 * v as f64 / max };
                let mix = |b: u8| (255.0 - (255.0 - b as f64) * a).round() as u8;
                let fill = RGBColor(mix(base.0), mix(base.1), mix(base.2));
                (fill, if v == 0 { String::new() } else { v.to_string() })
            };
            root.draw(&Rectangle::new([(x0, y0), (x0 + col, y0 + CELL_H)], fill.filled()))
                .map_err(err)?;
            root.draw(&Text::new(
                text,
                (x0 + col / 2, y0 + CELL_H / 2),
                anchored(text_anchor::HPos::Center),
            ))
            .map_err(err)?;
        }
    }
    // Grid lines.
    let bottom = table_top + CELL_H * (t.rows.len() as i32 + 1);
    let right = left + first + col * t.cols.len() as i32;
    for r in 0..=t.rows.len() + 1 {
        let y = table_top + CELL_H * r as i32;
        root.draw(&PathElement::new(vec![(left, y), (right, y)], BLACK.mix(0.5)))
            .map_err(err)?;
    }
    for x in std::iter::once(left).chain((0..=t.cols.len()).map(|c| left + first + col * c as i32)) {
        root.draw(&PathElement::new(vec![(x, table_top), (x, bottom)], BLACK.mix(0.5)))
            .map_err(err)?;
    }
    root.present().map_err(err)?;
    Ok(())
}

/// Writes `<stem>.svg` and `<stem>.png`: `table` as a grid of counts, the cells shaded by
/// their count.
pub fn table(dir: &Path, stem: &str, title: &str, table: &Table) -> Result<(), PlotError> {
    register_font();
    let (w, h, _, _) = table_size(table);
    let w = w.max(tw(title, 20) + 40).min(8000);
    let (lines, size) = title_layout(title, w, 20);
    let h = h + title_height(&lines, size);
    both!(dir, stem, (w, h), |root| draw_table(root, title, table))
}

// ---------------------------------------------------------------------------------------------
// Box plots

/// One box of a box plot: whiskers at p5 and p95, box from p25 to p75, line at the median.
#[derive(Clone, Debug, PartialEq)]
pub struct BoxStat {
    pub label: String,
    pub n: usize,
    pub p05: f64,
    pub p25: f64,
    pub p50: f64,
    pub p75: f64,
    pub p95: f64,
}

impl BoxStat {
    /// The box of `v` (nearest-rank quantiles; NaN for an empty sample).
    pub fn of(label: &str, v: &[f64]) -> BoxStat {
        let mut s: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
        s.sort_by(|a, b| a.total_cmp(b));
        let q = |p: f64| crate::metrics::stats::quantile(&s, p);
        BoxStat {
            label: label.to_string(),
            n: s.len(),
            p05: q(0.05),
            p25: q(0.25),
            p50: q(0.5),
            p75: q(0.75),
            p95: q(0.95),
        }
    }
}

/// What labels the items of an axis: one row per axis (`axes`, e.g. the sweep's axes) and
/// per item its value on each (`values[item][axis]`). Empty `axes`: the items' own labels.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Categories {
    pub axes: Vec<String>,
    pub values: Vec<Vec<String>>,
}

impl Categories {
    /// The label rows for `labels` when there are no axes: one unnamed row.
    fn rows_for(&self, labels: &[String]) -> (Vec<String>, Vec<Vec<String>>) {
        if self.axes.is_empty() {
            (vec![String::new()], labels.iter().map(|l| vec![l.clone()]).collect())
        } else {
            (self.axes.clone(), self.values.clone())
        }
    }
}

/// Runs of equal values in row `r` (and every row above it): `(first, last)` item indices.
fn runs(values: &[Vec<String>], r: usize) -> Vec<(usize, usize)> {
    let same = |a: usize, b: usize| (0..=r).all(|k| values[a].get(k) == values[b].get(k));
    let mut out: Vec<(usize, usize)> = Vec::new();
    for i in 0..values.len() {
        match out.last_mut() {
            Some(run) if same(run.1, i) => run.1 = i,
            _ => out.push((i, i)),
        }
    }
    out
}

const BOX_TABLE_ROW: i32 = 20;
const BOX_PLOT_H: u32 = 440;

struct BoxLayout {
    axes: Vec<String>,
    values: Vec<Vec<String>>,
    left: u32,
    size: (u32, u32),
}

fn box_layout(title: &str, boxes: &[BoxStat], cats: &Categories) -> BoxLayout {
    let labels: Vec<String> = boxes.iter().map(|b| b.label.clone()).collect();
    let (axes, values) = cats.rows_for(&labels);
    let last = axes.len() - 1;
    let widest = values
        .iter()
        .map(|v| v.get(last).map(|s| tw(s, 12)).unwrap_or(0))
        .max()
        .unwrap_or(0);
    // Few boxes may take wide slots (long values stay whole); many share about 2400 px.
    let max_slot = (2400 / boxes.len().max(1) as u32).clamp(130, 480);
    let slot = (widest + 12).clamp(40, max_slot);
    let left = axes.iter().map(|a| tw(a, 12)).max().unwrap_or(0).max(60) + 18;
    let width = (left + slot * boxes.len() as u32 + 40).clamp(700, 3600);
    let (lines, ts) = title_layout(title, width, 22);
    let table_h = BOX_TABLE_ROW as u32 * (axes.len() as u32 + 1) + 20;
    BoxLayout {
        axes,
        values,
        left,
        size: (width, title_height(&lines, ts) + BOX_PLOT_H + table_h + 20),
    }
}

fn draw_boxes<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    y_label: &str,
    boxes: &[BoxStat],
    lay: &BoxLayout,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(err)?;
    let body = titled(&root, title, 22)?;
    let (plot, _) = body.split_vertically(BOX_PLOT_H);
    let n = boxes.len().max(1);
    let top = boxes
        .iter()
        .map(|b| b.p95)
        .filter(|x| x.is_finite())
        .fold(0.0f64, f64::max)
        .max(1e-9)
        * 1.1;
    let mut chart = ChartBuilder::on(&plot)
        .margin_top(10)
        .margin_right(20)
        .margin_left(12)
        .x_label_area_size(6)
        .y_label_area_size(lay.left)
        .build_cartesian_2d(0.0..n as f64, 0.0..top)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .y_desc(y_label)
        .x_labels(0)
        .label_style(font(13))
        .draw()
        .map_err(err)?;
    // Separators between the groups of the outermost axis (when there are several axes).
    if lay.axes.len() > 1 {
        for (a, _) in runs(&lay.values, 0).into_iter().skip(1) {
            chart
                .draw_series([PathElement::new(
                    vec![(a as f64, 0.0), (a as f64, top)],
                    BLACK.mix(0.25).stroke_width(1),
                )])
                .map_err(err)?;
        }
    }
    for (i, b) in boxes.iter().enumerate() {
        if b.n == 0 {
            continue;
        }
        let x = i as f64;
        let color = series_color(0);
        let (l, r, m) = (x + 0.25, x + 0.75, x + 0.5);
        chart
            .draw_series([Rectangle::new([(l, b.p25), (r, b.p75)], color.mix(0.35).filled())])
            .map_err(err)?;
        chart
            .draw_series([Rectangle::new([(l, b.p25), (r, b.p75)], color.stroke_width(2))])
            .map_err(err)?;
        for seg in [
            vec![(l, b.p50), (r, b.p50)],
            vec![(m, b.p75), (m, b.p95)],
            vec![(m, b.p25), (m, b.p05)],
            vec![(x + 0.4, b.p95), (x + 0.6, b.p95)],
            vec![(x + 0.4, b.p05), (x + 0.6, b.p05)],
        ] {
            chart
                .draw_series([PathElement::new(seg, BLACK.stroke_width(2))])
                .map_err(err)?;
        }
    }
    // The label table under the x axis: a row per axis (runs of equal values merged), then n.
    let px = |i: usize| chart.backend_coord(&(i as f64, 0.0)).0;
    let y0 = chart.backend_coord(&(0.0, 0.0)).1 + 10;
    let head = TextStyle::from(font(12))
        .pos(Pos::new(HPos::Right, VPos::Center))
        .color(&RGBColor(80, 80, 80));
    let rows = lay.axes.len();
    for r in 0..=rows {
        let y = y0 + BOX_TABLE_ROW * r as i32 + BOX_TABLE_ROW / 2;
        let name = if r == rows { "n" } else { lay.axes[r].as_str() };
        root.draw(&Text::new(name.to_string(), (px(0) - 8, y), head.clone()))
            .map_err(err)?;
        let spans: Vec<(usize, usize, String)> = if r == rows {
            boxes.iter().enumerate().map(|(i, b)| (i, i, b.n.to_string())).collect()
        } else {
            runs(&lay.values, r)
                .into_iter()
                .map(|(a, b)| (a, b, lay.values[a].get(r).cloned().unwrap_or_default()))
                .collect()
        };
        for (a, b, text) in spans {
            let (xa, xb) = (px(a), px(b + 1));
            let size = if r == rows { 11 } else { 12 };
            root.draw(&Text::new(
                fit(&text, size, (xb - xa - 4).max(8) as u32),
                ((xa + xb) / 2, y),
                TextStyle::from(font(size)).pos(Pos::new(HPos::Center, VPos::Center)),
            ))
            .map_err(err)?;
            if r < rows && b + 1 < boxes.len() {
                root.draw(&PathElement::new(
                    vec![(xb, y - BOX_TABLE_ROW / 2 + 2), (xb, y + BOX_TABLE_ROW / 2 - 2)],
                    BLACK.mix(0.3),
                ))
                .map_err(err)?;
            }
        }
    }
    root.present().map_err(err)?;
    Ok(())
}

/// Writes `<stem>.svg` and `<stem>.png`: one box per entry (p5, p25, p50, p75, p95),
/// labelled under the x axis by `cats` (a row per axis, runs of equal values merged) and by
/// the sample count `n`.
pub fn boxes(
    dir: &Path,
    stem: &str,
    title: &str,
    y_label: &str,
    boxes: &[BoxStat],
    cats: &Categories,
) -> Result<(), PlotError> {
    register_font();
    let lay = box_layout(title, boxes, cats);
    both!(dir, stem, lay.size, |root| draw_boxes(
        root, title, y_label, boxes, &lay
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("secsim-plot-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn written(dir: &Path, stem: &str) -> (Vec<u8>, Vec<u8>) {
        let svg = std::fs::read(dir.join(format!("{stem}.svg"))).unwrap();
        let png = std::fs::read(dir.join(format!("{stem}.png"))).unwrap();
        assert!(!svg.is_empty() && !png.is_empty(), "{stem} is empty");
        (svg, png)
    }

    fn hex(c: RGBColor) -> String {
        format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2)
    }

    #[test]
    fn steps_keep_only_the_changes() {
        assert_eq!(step_points(&[], 1.0), vec![]);
        assert_eq!(
            step_points(&[0.0, 0.0, 2.0, 2.0, f64::NAN], 0.5),
            vec![(0.0, 0.0), (1.0, 0.0), (1.0, 2.0), (2.0, 2.0), (2.0, 0.0), (2.5, 0.0)]
        );
    }

    #[test]
    fn new_plots_are_deterministic_and_survive_empty_input() {
        let d = scratch("new");
        let panels = || {
            vec![
                Panel {
                    title: "a".into(),
                    series: vec![Series::new("PSK", vec![3.0, 1.0, f64::NAN, 2.0])],
                },
                Panel {
                    title: "b".into(),
                    series: vec![],
                },
                Panel {
                    title: "c".into(),
                    series: vec![Series::new("PKI", vec![])],
                },
            ]
        };
        let binned = || {
            vec![
                Binned {
                    label: "fail".into(),
                    values: vec![0.0, 3.0, 1.0],
                },
                Binned {
                    label: "empty".into(),
                    values: vec![],
                },
            ]
        };
        let markers = || {
            vec![Marker {
                x: 1.5,
                kind: "method change".into(),
                label: "aef → PKI".into(),
            }]
        };
        let grid = || Table {
            corner: "item".into(),
            rows: vec!["InvokerId".into(), "Aefpsk".into()],
            cols: vec!["B → A".into()],
            cells: vec![vec![4], vec![]],
        };
        let bars = || {
            vec![
                Breakdown {
                    labels: vec!["http_request".into(), "f1".into()],
                    counts: vec![("ok".into(), 30), ("refused 403 NO_CONTRACT".into(), 12)],
                    legend_counts: None,
                },
                Breakdown {
                    labels: vec!["http_request".into(), "f2".into()],
                    counts: vec![("unfinished 0".into(), 2)],
                    legend_counts: None,
                },
            ]
        };
        let cats = || Categories {
            axes: vec!["strategy".into(), "loss".into()],
            values: vec![vec!["Backoff".into(), "0".into()], vec!["Backoff".into(), "0.1".into()]],
        };
        let stats = || vec![BoxStat::of("p0", &[1.0, 2.0, 3.0]), BoxStat::of("p1", &[])];
        let draw = |stem: &str| {
            cdf_panels(&d, &format!("{stem}-cdf"), "t", "ms", &panels()).unwrap();
            timeline(&d, &format!("{stem}-tl"), "t", ("s", "n"), 1.0, &binned(), &markers()).unwrap();
            table(&d, &format!("{stem}-table"), "t", &grid()).unwrap();
            let cols = ["procedure".to_string(), "flow".to_string()];
            breakdown(&d, &format!("{stem}-bars"), "t", &cols, &bars()).unwrap();
            boxes(&d, &format!("{stem}-box"), "t", "ms", &stats(), &cats()).unwrap();
        };
        draw("one");
        draw("two");
        for kind in ["cdf", "tl", "table", "bars", "box"] {
            assert_eq!(written(&d, &format!("one-{kind}")), written(&d, &format!("two-{kind}")));
            // Not a blank canvas: the PNG compresses to more than a white page would.
            let (svg, _) = written(&d, &format!("one-{kind}"));
            assert!(svg.len() > 1000, "{kind}: {} bytes of SVG", svg.len());
        }
        // Nothing to draw at all.
        cdf_panels(&d, "none-cdf", "t", "ms", &[]).unwrap();
        timeline(&d, "none-tl", "t", ("s", "n"), 0.0, &[], &[]).unwrap();
        let empty = Table {
            corner: String::new(),
            rows: vec![],
            cols: vec![],
            cells: vec![],
        };
        table(&d, "none-table", "t", &empty).unwrap();
        breakdown(&d, "none-bars", "t", &[], &[]).unwrap();
        boxes(&d, "none-box", "t", "ms", &[], &Categories::default()).unwrap();
        cdf(&d, "none-one", "t", "ms", &[]).unwrap();
        for stem in ["none-cdf", "none-tl", "none-table", "none-bars", "none-box", "none-one"] {
            written(&d, stem);
        }
        let _ = std::fs::remove_dir_all(&d);
    }

    /// One palette: an outcome has the same colour in a CDF and in a breakdown, and every
    /// outcome its own colour, none shared with the series palette.
    #[test]
    fn an_outcome_has_one_colour_in_every_plot_kind() {
        let d = scratch("palette");
        let ok = hex(outcome_color(Outcome::Ok));
        let unfinished = hex(outcome_color(Outcome::Unfinished));
        let mut s = Series::new("PRINS (ok)", vec![1.0, 2.0]);
        s.outcome = Some(Outcome::Ok);
        let mut u = Series::new("PRINS (unfinished)", vec![3.0]);
        u.outcome = Some(Outcome::Unfinished);
        cdf(&d, "cdf", "t", "ms", &[s, u]).unwrap();
        let bars = [Breakdown {
            labels: vec!["x".into()],
            counts: vec![("unfinished 0".into(), 1), ("ok".into(), 3)],
            legend_counts: None,
        }];
        breakdown(&d, "bars", "t", &[], &bars).unwrap();
        for stem in ["cdf", "bars"] {
            let svg = String::from_utf8(written(&d, stem).0).unwrap();
            assert!(svg.contains(&ok), "{stem} lacks the ok colour {ok}");
            assert!(svg.contains(&unfinished), "{stem} lacks the unfinished colour");
        }
        let colors: Vec<RGBColor> = OUTCOMES.iter().map(|o| outcome_color(*o)).collect();
        for (i, a) in colors.iter().enumerate() {
            assert!(!colors[i + 1..].contains(a), "two outcomes share {a:?}");
            assert!(!SERIES_COLORS.contains(a), "series palette reuses {a:?}");
        }
        // The kinds of one outcome are shades of it, in a fixed order.
        let kinds = ["ok".to_string(), "refused 403 A".into(), "refused 403 B".into()];
        let c = kind_colors(&kinds);
        assert_eq!(c[0], outcome_color(Outcome::Ok));
        assert_eq!(c[1], outcome_color(Outcome::Refused));
        assert_ne!(c[2], c[1]);
        assert_eq!(kind_colors(&kinds), c);
        let _ = std::fs::remove_dir_all(&d);
    }

    /// 60 series in: at most MAX_SERIES legend entries, a band over all 60 and the rest
    /// pooled as "others".
    #[test]
    fn many_series_are_capped_with_a_band_and_others() {
        let series: Vec<Series> = (0..60)
            .map(|i| {
                Series::new(
                    format!("flow-{i:02}"),
                    (0..(10 + i)).map(|k| (k * (i + 1)) as f64).collect(),
                )
            })
            .collect();
        let c = cap_series(&series, MAX_SERIES);
        assert!(c.entries() <= MAX_SERIES, "{} entries", c.entries());
        assert!(c.pooled);
        assert_eq!(c.band.len(), 60);
        let others = c.shown.last().unwrap();
        assert!(others.label.starts_with("others ("), "{}", others.label);
        // The largest flows are kept, in input order; every sample is drawn once.
        let kept: Vec<&str> = c.shown[..c.shown.len() - 1].iter().map(|s| s.label.as_str()).collect();
        assert_eq!(
            kept,
            [
                "flow-53", "flow-54", "flow-55", "flow-56", "flow-57", "flow-58", "flow-59"
            ]
        );
        let total: usize = series.iter().map(|s| s.values.len()).sum();
        assert_eq!(c.shown.iter().map(|s| s.values.len()).sum::<usize>(), total);
        // Band: p10 ≤ median ≤ p90 everywhere.
        for (_, lo, mid, hi) in band_points(&c.band, 700.0) {
            assert!(lo <= mid && mid <= hi);
        }
        // Few series: untouched.
        let few = cap_series(&series[..4], MAX_SERIES);
        assert_eq!(few.shown.len(), 4);
        assert!(few.band.is_empty() && !few.pooled);
        // And the plot draws.
        let d = scratch("cap");
        cdf(&d, "many", "t", "ms", &series).unwrap();
        let svg = String::from_utf8(written(&d, "many").0).unwrap();
        assert!(svg.contains("others (53 series pooled)"));
        assert!(!svg.contains("flow-00 (n="), "a small flow has its own legend entry");
        let _ = std::fs::remove_dir_all(&d);
    }

    /// Box plots label their items with the categories (axis values), not the item labels.
    #[test]
    fn box_plots_are_labelled_by_axis_values() {
        let d = scratch("axes");
        let stats: Vec<BoxStat> = (0..4)
            .map(|i| BoxStat::of(&format!("p{i}"), &[1.0, i as f64]))
            .collect();
        let cats = Categories {
            axes: vec!["strategy".into(), "loss".into()],
            values: vec![
                vec!["Backoff".into(), "0".into()],
                vec!["Backoff".into(), "0.1".into()],
                vec!["ReNegotiate".into(), "0".into()],
                vec!["ReNegotiate".into(), "0.1".into()],
            ],
        };
        boxes(&d, "b", "t", "ms", &stats, &cats).unwrap();
        let svg = String::from_utf8(written(&d, "b").0).unwrap();
        // plotters writes a text element's content on its own line.
        let text = |t: &str| format!("\n{t}\n</text>");
        for t in ["strategy", "loss", "ReNegotiate", "0.1"] {
            assert!(svg.contains(&text(t)), "no {t}");
        }
        // Runs of equal outer values are merged: each strategy is written once.
        assert_eq!(svg.matches(&text("Backoff")).count(), 1);
        assert!(!svg.contains(&text("p0")) && !svg.contains(&text("p3")));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn long_titles_are_shrunk_or_wrapped_to_the_canvas() {
        register_font();
        let (lines, size) = title_layout("short", 900, 22);
        assert_eq!((lines.len(), size), (1, 22));
        let long = "compare-capif-interconnection: capif_authentication latency per sweep point (p5-p25-p50-p75-p95)";
        let (lines, size) = title_layout(long, 700, 22);
        assert!(lines.len() > 1 || size < 22);
        for l in &lines {
            assert!(tw(l, size) <= 700 - 30, "{l}");
        }
        assert_eq!(lines.join(" "), long);
        assert_eq!(count_pct(12, 39), "12 (31%)");
        assert_eq!(count_pct(1, 400), "1 (0.2%)");
        assert_eq!(count_pct(1, 3004), "1 (<0.1%)");
        assert_eq!(count_pct(6016, 6020), "6016 (99.9%)");
        assert_eq!(count_pct(9999, 10000), "9999 (>99.9%)");
        assert_eq!(count_pct(995, 1000), "995 (99.5%)");
        assert_eq!(count_pct(0, 10), "0 (0%)");
        assert_eq!(count_pct(10, 10), "10 (100%)");
    }
}
