//! Plots, written as SVG and PNG with plotters. Text uses the DejaVu Sans font embedded in
//! the binary (assets/, Bitstream Vera licence), so PNGs render the same on every machine.
//! Plots are made on request and never asserted on.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

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

const COLORS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

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
    let max_x = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let max_x = if max_x > 0.0 { max_x * 1.05 } else { 1.0 };
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
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
        let color = COLORS[i % COLORS.len()];
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
