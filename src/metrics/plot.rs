//! Plots, written as SVG and PNG with plotters. Text uses the DejaVu Sans font embedded in
//! the binary (assets/, Bitstream Vera licence), so PNGs render the same on every machine.
//! Plots are made on request and never asserted on.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor;

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

/// One curve of a CDF plot: a label and its samples.
pub struct Series {
    pub label: String,
    pub values: Vec<f64>,
}

const COLORS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// The largest finite sample of `series`, padded by 5 %, or 1 when there is none.
fn cdf_max_x<'a>(series: impl Iterator<Item = &'a Series>) -> f64 {
    let max_x = series
        .flat_map(|s| s.values.iter().copied())
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    if max_x > 0.0 { max_x * 1.05 } else { 1.0 }
}

/// Draws one CDF chart on `area` (already filled) with x in `0..max_x`; series `i` gets
/// colour `color_of(i)`.
fn draw_cdf_chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: (&str, u32),
    x_label: &str,
    max_x: f64,
    series: &[Series],
    color_of: &dyn Fn(usize) -> RGBColor,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let mut chart = ChartBuilder::on(area)
        .caption(title.0, ("sans-serif", title.1))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..max_x, 0.0..1.0)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc("fraction ≤ x")
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(|e| e.to_string())?;
    for (i, s) in series.iter().enumerate() {
        let mut v: Vec<f64> = s.values.iter().copied().filter(|v| v.is_finite()).collect();
        if v.is_empty() {
            continue;
        }
        v.sort_by(|a, b| a.total_cmp(b));
        let n = v.len() as f64;
        // An empirical CDF is a step function: at each sample x_k it jumps from k/n to
        // (k+1)/n. Long series are subsampled to about 2000 steps.
        let stride = (v.len() / 2000).max(1);
        let mut pts: Vec<(f64, f64)> = Vec::with_capacity(2 * v.len() / stride + 2);
        let mut below = 0.0;
        for (k, &x) in v.iter().enumerate().step_by(stride) {
            pts.push((x, below));
            below = ((k + stride).min(v.len())) as f64 / n;
            pts.push((x, below));
        }
        pts.push((v[v.len() - 1], 1.0));
        let color = color_of(i);
        chart
            .draw_series(LineSeries::new(pts, color.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(format!("{} (n={})", s.label, v.len()))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(|e| e.to_string())?;
    Ok(())
}

fn draw_cdf<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    x_label: &str,
    series: &[Series],
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let max_x = cdf_max_x(series.iter());
    draw_cdf_chart(&root, (title, 22), x_label, max_x, series, &|i| {
        COLORS[i % COLORS.len()]
    })?;
    root.present().map_err(|e| e.to_string())?;
    Ok(())
}

/// Writes `<stem>.svg` and `<stem>.png`: the empirical CDF of each series.
pub fn cdf(dir: &Path, stem: &str, title: &str, x_label: &str, series: &[Series]) -> Result<(), PlotError> {
    register_font();
    let svg = dir.join(format!("{stem}.svg"));
    let png = dir.join(format!("{stem}.png"));
    let err = |p: &Path, m: String| PlotError {
        path: p.display().to_string(),
        message: m,
    };
    draw_cdf(
        SVGBackend::new(&svg, (900, 600)).into_drawing_area(),
        title,
        x_label,
        series,
    )
    .map_err(|m| err(&svg, m))?;
    draw_cdf(
        BitMapBackend::new(&png, (900, 600)).into_drawing_area(),
        title,
        x_label,
        series,
    )
    .map_err(|m| err(&png, m))?;
    Ok(())
}

/// One bar of an outcome breakdown: a label and its counts per outcome (stacked).
pub struct Breakdown {
    pub label: String,
    pub counts: Vec<(String, u64)>,
}

fn draw_breakdown<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    bars: &[Breakdown],
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut kinds: Vec<String> = bars.iter().flat_map(|b| b.counts.iter().map(|c| c.0.clone())).collect();
    kinds.sort();
    kinds.dedup();
    let max = bars
        .iter()
        .map(|b| b.counts.iter().map(|c| c.1).sum::<u64>())
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let n = bars.len().max(1);
    let labels: Vec<String> = bars.iter().map(|b| b.label.clone()).collect();
    let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(10) as u32;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size((longest * 7 + 10).min(420))
        .build_cartesian_2d(0.0..max * 1.05, 0.0..n as f64)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_desc("count")
        .y_labels(n * 2 + 1)
        .y_label_formatter(&|y| {
            let i = y.floor() as usize;
            if (y - i as f64 - 0.5).abs() < 0.01 {
                labels.get(i).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .label_style(("sans-serif", 13))
        .draw()
        .map_err(|e| e.to_string())?;
    for (k, kind) in kinds.iter().enumerate() {
        let color = COLORS[k % COLORS.len()];
        let mut rects = Vec::new();
        for (i, b) in bars.iter().enumerate() {
            let before: u64 = b.counts.iter().filter(|c| c.0 < *kind).map(|c| c.1).sum();
            if let Some(&(_, v)) = b.counts.iter().find(|c| c.0 == *kind) {
                let y = i as f64;
                rects.push(Rectangle::new(
                    [(before as f64, y + 0.15), ((before + v) as f64, y + 0.85)],
                    color.filled(),
                ));
            }
        }
        chart
            .draw_series(rects)
            .map_err(|e| e.to_string())?
            .label(kind.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 13))
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())?;
    Ok(())
}

/// Writes `<stem>.svg` and `<stem>.png`: one horizontal stacked bar per label, one colour
/// per outcome.
pub fn breakdown(dir: &Path, stem: &str, title: &str, bars: &[Breakdown]) -> Result<(), PlotError> {
    register_font();
    let svg = dir.join(format!("{stem}.svg"));
    let png = dir.join(format!("{stem}.png"));
    let height = (120 + 45 * bars.len() as u32).clamp(300, 1400);
    let err = |p: &Path, m: String| PlotError {
        path: p.display().to_string(),
        message: m,
    };
    draw_breakdown(SVGBackend::new(&svg, (1000, height)).into_drawing_area(), title, bars).map_err(|m| err(&svg, m))?;
    draw_breakdown(
        BitMapBackend::new(&png, (1000, height)).into_drawing_area(),
        title,
        bars,
    )
    .map_err(|m| err(&png, m))?;
    Ok(())
}

/// One panel of [`cdf_panels`]: a caption and its curves.
pub struct Panel {
    pub title: String,
    pub series: Vec<Series>,
}

fn draw_cdf_panels<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    x_label: &str,
    panels: &[Panel],
    cols: usize,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let root = root.titled(title, ("sans-serif", 22)).map_err(|e| e.to_string())?;
    // One x range for all panels, so that they compare at a glance; one colour per series
    // label across panels.
    let max_x = cdf_max_x(panels.iter().flat_map(|p| p.series.iter()));
    let mut labels: Vec<&str> = panels
        .iter()
        .flat_map(|p| p.series.iter().map(|s| s.label.as_str()))
        .collect();
    labels.sort_unstable();
    labels.dedup();
    let rows = panels.len().div_ceil(cols).max(1);
    let areas = root.split_evenly((rows, cols));
    for (p, area) in panels.iter().zip(areas.iter()) {
        let color_of = |i: usize| {
            let k = p
                .series
                .get(i)
                .and_then(|s| labels.binary_search(&s.label.as_str()).ok())
                .unwrap_or(i);
            COLORS[k % COLORS.len()]
        };
        draw_cdf_chart(area, (&p.title, 18), x_label, max_x, &p.series, &color_of)?;
    }
    root.present().map_err(|e| e.to_string())?;
    Ok(())
}

/// Writes `<stem>.svg` and `<stem>.png`: one CDF chart per panel, two panels a row, all on
/// the same x range; a series label has the same colour in every panel.
pub fn cdf_panels(dir: &Path, stem: &str, title: &str, x_label: &str, panels: &[Panel]) -> Result<(), PlotError> {
    register_font();
    let svg = dir.join(format!("{stem}.svg"));
    let png = dir.join(format!("{stem}.png"));
    let cols = panels.len().clamp(1, 2);
    let rows = panels.len().div_ceil(cols).max(1) as u32;
    let size = (if cols == 1 { 900 } else { 1400 }, (40 + 420 * rows).min(4000));
    let err = |p: &Path, m: String| PlotError {
        path: p.display().to_string(),
        message: m,
    };
    draw_cdf_panels(
        SVGBackend::new(&svg, size).into_drawing_area(),
        title,
        x_label,
        panels,
        cols,
    )
    .map_err(|m| err(&svg, m))?;
    draw_cdf_panels(
        BitMapBackend::new(&png, size).into_drawing_area(),
        title,
        x_label,
        panels,
        cols,
    )
    .map_err(|m| err(&png, m))?;
    Ok(())
}

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

#[allow(clippy::too_many_arguments)]
fn draw_timeline<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    x_label: &str,
    y_label: &str,
    bin: f64,
    series: &[Binned],
    markers: &[Marker],
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let bins = series.iter().map(|s| s.values.len()).max().unwrap_or(0);
    let max_x = markers
        .iter()
        .map(|m| m.x)
        .filter(|x| x.is_finite())
        .fold(bins as f64 * bin, f64::max);
    let max_x = if max_x > 0.0 { max_x } else { 1.0 };
    let max_y = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    // Head room above the highest step for the legend and the marker captions.
    let max_y = if max_y > 0.0 { max_y * 1.35 } else { 1.0 };
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..max_x, 0.0..max_y)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(|e| e.to_string())?;
    let mut kinds: Vec<&str> = Vec::new();
    for (i, m) in markers.iter().enumerate().filter(|(_, m)| m.x.is_finite()) {
        let (k, first) = match kinds.iter().position(|k| *k == m.kind) {
            Some(k) => (k, false),
            None => {
                kinds.push(&m.kind);
                (kinds.len() - 1, true)
            }
        };
        let style = ShapeStyle {
            color: MARKER_COLORS[k % MARKER_COLORS.len()].mix(0.9),
            filled: false,
            stroke_width: 2,
        };
        let drawn = chart
            .draw_series(DashedLineSeries::new(vec![(m.x, 0.0), (m.x, max_y)], 6, 4, style))
            .map_err(|e| e.to_string())?;
        if first {
            drawn
                .label(m.kind.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        }
        // Captions of markers close together are staggered downwards.
        let row = (i % 4) as f64;
        chart
            .draw_series(std::iter::once(Text::new(
                format!(" {}", m.label),
                (m.x, max_y * (0.99 - 0.05 * row)),
                ("sans-serif", 13),
            )))
            .map_err(|e| e.to_string())?;
    }
    // Earlier series are drawn wider underneath later ones, so that where two coincide both
    // stay visible (a thin line inside a wider one).
    for (i, s) in series.iter().enumerate() {
        let pts = step_points(&s.values, bin);
        if pts.is_empty() {
            continue;
        }
        let color = COLORS[i % COLORS.len()];
        let width = 2 + 2 * (series.len() - 1 - i).min(3) as u32;
        chart
            .draw_series(LineSeries::new(pts, color.stroke_width(width)))
            .map_err(|e| e.to_string())?
            .label(s.label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(width.min(4))));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())?;
    Ok(())
}

/// Writes `<stem>.svg` and `<stem>.png`: each series as a step line over time (bins of
/// `bin` x units from 0), and a dashed vertical line per marker.
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
    let svg = dir.join(format!("{stem}.svg"));
    let png = dir.join(format!("{stem}.png"));
    let bin = if bin.is_finite() && bin > 0.0 { bin } else { 1.0 };
    let err = |p: &Path, m: String| PlotError {
        path: p.display().to_string(),
        message: m,
    };
    draw_timeline(
        SVGBackend::new(&svg, (1000, 600)).into_drawing_area(),
        title,
        x_label,
        y_label,
        bin,
        series,
        markers,
    )
    .map_err(|m| err(&svg, m))?;
    draw_timeline(
        BitMapBackend::new(&png, (1000, 600)).into_drawing_area(),
        title,
        x_label,
        y_label,
        bin,
        series,
        markers,
    )
    .map_err(|m| err(&png, m))?;
    Ok(())
}

/// A table of counts: `cells[r][c]` is the count of row `r`, column `c` (0 is shown as an
/// empty cell).
pub struct Table {
    pub corner: String,
    pub rows: Vec<String>,
    pub cols: Vec<String>,
    pub cells: Vec<Vec<u64>>,
}

/// Approximate width of `s` in pixels at font size `size` (DejaVu Sans averages about 0.6 em).
fn text_px(s: &str, size: u32) -> i32 {
    (s.chars().count() as f64 * size as f64 * 0.62).ceil() as i32
}

const CELL_H: i32 = 30;
const TABLE_TOP: i32 = 50;

fn table_size(t: &Table) -> (u32, u32, i32, i32) {
    let first = t
        .rows
        .iter()
        .chain(std::iter::once(&t.corner))
        .map(|r| text_px(r, 14))
        .max()
        .unwrap_or(0)
        .max(60)
        + 20;
    let col = t.cols.iter().map(|c| text_px(c, 14)).max().unwrap_or(0).max(50) + 20;
    let w = (first + col * t.cols.len() as i32 + 40).clamp(400, 8000);
    let h = (TABLE_TOP + CELL_H * (t.rows.len() as i32 + 1) + 30).clamp(150, 8000);
    (w as u32, h as u32, first, col)
}

fn draw_table<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, title: &str, t: &Table) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let (w, _, first, col) = table_size(t);
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let left = 20;
    let title_style = TextStyle::from(("sans-serif", 20)).pos(text_anchor::Pos::new(
        text_anchor::HPos::Center,
        text_anchor::VPos::Center,
    ));
    root.draw(&Text::new(
        title.to_string(),
        (w as i32 / 2, TABLE_TOP / 2),
        title_style,
    ))
    .map_err(e)?;
    let max = t.cells.iter().flatten().copied().max().unwrap_or(0).max(1) as f64;
    let header = RGBColor(230, 230, 230);
    let shade = COLORS[0];
    let anchored = |h| TextStyle::from(("sans-serif", 14)).pos(text_anchor::Pos::new(h, text_anchor::VPos::Center));
    // Header row, then one row per item; row 0 is the header.
    for r in 0..=t.rows.len() {
        let y0 = TABLE_TOP + CELL_H * r as i32;
        let label = if r == 0 { &t.corner } else { &t.rows[r - 1] };
        root.draw(&Rectangle::new(
            [(left, y0), (left + first, y0 + CELL_H)],
            header.filled(),
        ))
        .map_err(e)?;
        root.draw(&Text::new(
            label.clone(),
            (left + 8, y0 + CELL_H / 2),
            anchored(text_anchor::HPos::Left),
        ))
        .map_err(e)?;
        for c in 0..t.cols.len() {
            let x0 = left + first + col * c as i32;
            let (fill, text) = if r == 0 {
                (header, t.cols[c].clone())
            } else {
                let v = t.cells.get(r - 1).and_then(|row| row.get(c)).copied().unwrap_or(0);
                let a = if v == 0 { 0.0 } else { 0.15 + 0.6 * v as f64 / max };
                let mix = |base: u8| (255.0 - (255.0 - base as f64) * a).round() as u8;
                let fill = RGBColor(mix(shade.0), mix(shade.1), mix(shade.2));
                (fill, if v == 0 { String::new() } else { v.to_string() })
            };
            root.draw(&Rectangle::new([(x0, y0), (x0 + col, y0 + CELL_H)], fill.filled()))
                .map_err(e)?;
            root.draw(&Text::new(
                text,
                (x0 + col / 2, y0 + CELL_H / 2),
                anchored(text_anchor::HPos::Center),
            ))
            .map_err(e)?;
        }
    }
    // Grid lines.
    let bottom = TABLE_TOP + CELL_H * (t.rows.len() as i32 + 1);
    let right = left + first + col * t.cols.len() as i32;
    for r in 0..=t.rows.len() + 1 {
        let y = TABLE_TOP + CELL_H * r as i32;
        root.draw(&PathElement::new(vec![(left, y), (right, y)], BLACK.mix(0.5)))
            .map_err(e)?;
    }
    for x in std::iter::once(left).chain((0..=t.cols.len()).map(|c| left + first + col * c as i32)) {
        root.draw(&PathElement::new(vec![(x, TABLE_TOP), (x, bottom)], BLACK.mix(0.5)))
            .map_err(e)?;
    }
    root.present().map_err(|e| e.to_string())?;
    Ok(())
}

/// Writes `<stem>.svg` and `<stem>.png`: `table` as a grid of counts, the cells shaded by
/// their count.
pub fn table(dir: &Path, stem: &str, title: &str, table: &Table) -> Result<(), PlotError> {
    register_font();
    let svg = dir.join(format!("{stem}.svg"));
    let png = dir.join(format!("{stem}.png"));
    let (w, h, _, _) = table_size(table);
    let w = w.max(text_px(title, 20) as u32 + 40);
    let err = |p: &Path, m: String| PlotError {
        path: p.display().to_string(),
        message: m,
    };
    draw_table(SVGBackend::new(&svg, (w, h)).into_drawing_area(), title, table).map_err(|m| err(&svg, m))?;
    draw_table(BitMapBackend::new(&png, (w, h)).into_drawing_area(), title, table).map_err(|m| err(&png, m))?;
    Ok(())
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
                    series: vec![Series {
                        label: "PSK".into(),
                        values: vec![3.0, 1.0, f64::NAN, 2.0],
                    }],
                },
                Panel {
                    title: "b".into(),
                    series: vec![],
                },
                Panel {
                    title: "c".into(),
                    series: vec![Series {
                        label: "PKI".into(),
                        values: vec![],
                    }],
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
        let draw = |stem: &str| {
            cdf_panels(&d, &format!("{stem}-cdf"), "t", "ms", &panels()).unwrap();
            timeline(&d, &format!("{stem}-tl"), "t", ("s", "n"), 1.0, &binned(), &markers()).unwrap();
            table(&d, &format!("{stem}-table"), "t", &grid()).unwrap();
        };
        draw("one");
        draw("two");
        for kind in ["cdf", "tl", "table"] {
            assert_eq!(written(&d, &format!("one-{kind}")), written(&d, &format!("two-{kind}")));
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
        for stem in ["none-cdf", "none-tl", "none-table"] {
            written(&d, stem);
        }
        let _ = std::fs::remove_dir_all(&d);
    }
}

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

fn draw_boxes<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    y_label: &str,
    boxes: &[BoxStat],
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let n = boxes.len().max(1);
    let top = boxes
        .iter()
        .map(|b| b.p95)
        .filter(|x| x.is_finite())
        .fold(0.0f64, f64::max)
        .max(1e-9)
        * 1.1;
    let labels: Vec<String> = boxes.iter().map(|b| b.label.clone()).collect();
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..n as f64, 0.0..top)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .y_desc(y_label)
        .x_labels(n * 2 + 1)
        .x_label_formatter(&|x| {
            let i = x.floor() as usize;
            if (x - i as f64 - 0.5).abs() < 0.01 {
                labels.get(i).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .label_style(("sans-serif", 13))
        .draw()
        .map_err(|e| e.to_string())?;
    for (i, b) in boxes.iter().enumerate() {
        if b.n == 0 {
            continue;
        }
        let x = i as f64;
        let color = COLORS[0];
        let (l, r, m) = (x + 0.25, x + 0.75, x + 0.5);
        chart
            .draw_series([Rectangle::new([(l, b.p25), (r, b.p75)], color.mix(0.35).filled())])
            .map_err(|e| e.to_string())?;
        chart
            .draw_series([Rectangle::new([(l, b.p25), (r, b.p75)], color.stroke_width(2))])
            .map_err(|e| e.to_string())?;
        for seg in [
            vec![(l, b.p50), (r, b.p50)],
            vec![(m, b.p75), (m, b.p95)],
            vec![(m, b.p25), (m, b.p05)],
            vec![(x + 0.4, b.p95), (x + 0.6, b.p95)],
            vec![(x + 0.4, b.p05), (x + 0.6, b.p05)],
        ] {
            chart
                .draw_series([PathElement::new(seg, BLACK.stroke_width(2))])
                .map_err(|e| e.to_string())?;
        }
    }
    root.present().map_err(|e| e.to_string())?;
    Ok(())
}

/// Writes `<stem>.svg` and `<stem>.png`: one box per entry (p5, p25, p50, p75, p95).
pub fn boxes(dir: &Path, stem: &str, title: &str, y_label: &str, boxes: &[BoxStat]) -> Result<(), PlotError> {
    register_font();
    let svg = dir.join(format!("{stem}.svg"));
    let png = dir.join(format!("{stem}.png"));
    let err = |p: &Path, m: String| PlotError {
        path: p.display().to_string(),
        message: m,
    };
    let (w, h) = (((boxes.len() as u32) * 60 + 300).clamp(700, 2400), 650);
    draw_boxes(SVGBackend::new(&svg, (w, h)).into_drawing_area(), title, y_label, boxes).map_err(|m| err(&svg, m))?;
    draw_boxes(
        BitMapBackend::new(&png, (w, h)).into_drawing_area(),
        title,
        y_label,
        boxes,
    )
    .map_err(|m| err(&png, m))?;
    Ok(())
}
