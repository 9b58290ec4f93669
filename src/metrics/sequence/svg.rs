//! The SVG drawing of a [`Chart`]: participant boxes on domain frames, lifelines, numbered
//! arrows, notes and a time column; integer coordinates only, no external tool.

use std::fmt::Write as _;

use super::{Arrow, ArrowKind, Chart, GROUP_FILLS, Row, format_ms};

/// SVG labels longer than this many characters are cut with `…`.
pub const MAX_LABEL_CHARS: usize = 60;

/// DejaVu Sans advance widths of ASCII 32..=126, in 1/2048 em (from assets/DejaVuSans.ttf).
const DEJAVU_ADVANCE: [u16; 95] = [
    651, 821, 942, 1716, 1303, 1946, 1597, 563, 799, 799, 1024, 1716, 651, 739, 651, 690, 1303, 1303, 1303, 1303, 1303,
    1303, 1303, 1303, 1303, 1303, 690, 690, 1716, 1716, 1716, 1087, 2048, 1401, 1405, 1430, 1577, 1294, 1178, 1587,
    1540, 604, 604, 1343, 1141, 1767, 1532, 1612, 1235, 1612, 1423, 1300, 1251, 1499, 1401, 2025, 1403, 1251, 1403,
    799, 690, 799, 1716, 1024, 1024, 1255, 1300, 1126, 1300, 1260, 721, 1300, 1298, 569, 569, 1186, 569, 1995, 1298,
    1253, 1300, 1300, 842, 1067, 803, 1298, 1212, 1675, 1212, 1212, 1075, 1303, 690, 1303, 1716,
];

/// The width of `s` in DejaVu Sans at `size` px (other fonts: close enough for layout).
fn text_width(s: &str, size: i64) -> i64 {
    let units: i64 = s
        .chars()
        .map(|c| match c {
            ' '..='~' => i64::from(DEJAVU_ADVANCE[c as usize - 32]),
            '…' => 2048,
            _ => 1716,
        })
        .sum();
    (units * size + 2047) / 2048
}

/// `s` cut to [`MAX_LABEL_CHARS`] characters, the last one `…`.
pub fn truncate_label(s: &str) -> String {
    if s.chars().count() <= MAX_LABEL_CHARS {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(MAX_LABEL_CHARS - 1).collect();
        t.push('…');
        t
    }
}

/// XML text: `&`, `<`, `>`, quotes escaped; control characters dropped.
fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

const MARGIN: i64 = 16;
const TITLE_H: i64 = 30;
const GROUP_LABEL_H: i64 = 22;
const GROUP_PAD: i64 = 10;
const BOX_H: i64 = 32;
const ROW_H: i64 = 30;
const LABEL_SIZE: i64 = 12;
const NAME_SIZE: i64 = 13;
const TIME_SIZE: i64 = 11;
const NOTE_PAD: i64 = 14;
const MIN_GAP: i64 = 110;
const SELF_W: i64 = 30;

/// What a row needs: the gap sum between two lifelines, or room around one.
struct Need {
    a: usize,
    b: usize,
    width: i64,
}

/// The chart as a standalone SVG: participant boxes (top and bottom) on domain frames,
/// lifelines, numbered arrows with labels, notes, and the simulated time of each row in a
/// left column. Integer coordinates only: the same chart gives the same bytes.
pub fn to_svg(chart: &Chart) -> String {
    let n = chart.participants.len();
    let omitted = chart.omitted_text();
    let title = if chart.title.is_empty() {
        "sequence chart".to_string()
    } else {
        chart.title.clone()
    };
    // Labels as drawn.
    let mut number = 0;
    let labels: Vec<String> = chart
        .rows
        .iter()
        .map(|r| match r {
            Row::Arrow(a) => {
                number += 1;
                format!("{number}. {}", truncate_label(&a.label))
            }
            Row::Note(x) => truncate_label(&x.text),
        })
        .collect();
    // Not cut: it ends with the flag to change.
    let omitted_label = omitted;

    // Participant boxes (a one-participant group is at least as wide as its label).
    let mut box_w: Vec<i64> = chart
        .participants
        .iter()
        .map(|p| (text_width(&p.name, NAME_SIZE) + 20).max(90))
        .collect();
    for g in chart.groups.iter().filter(|g| g.first == g.last) {
        box_w[g.first] = box_w[g.first].max(text_width(&g.domain, LABEL_SIZE) + 16 - 2 * GROUP_PAD);
    }
    let group_of = |i: usize| chart.groups.iter().position(|g| g.first <= i && i <= g.last);

    // Gaps between neighbouring lifelines, widened for every label that spans them.
    let mut gaps: Vec<i64> = (1..n)
        .map(|i| {
            let base = box_w[i - 1] / 2 + box_w[i] / 2 + 16;
            let frame = if group_of(i - 1) != group_of(i) {
                2 * GROUP_PAD + 12
            } else {
                0
            };
            (base + frame).max(MIN_GAP)
        })
        .collect();
    let mut needs: Vec<Need> = Vec::new();
    let need_around = |i: usize, half: i64, needs: &mut Vec<Need>| {
        if i > 0 {
            needs.push(Need {
                a: i - 1,
                b: i,
                width: half + box_w[i - 1] / 2 + 8,
            });
        }
        if i + 1 < n {
            needs.push(Need {
                a: i,
                b: i + 1,
                width: half + box_w[i + 1] / 2 + 8,
            });
        }
    };
    for (row, label) in chart.rows.iter().zip(&labels) {
        let w = text_width(label, LABEL_SIZE);
        match row {
            Row::Arrow(a) if a.from == a.to => {
                if a.from + 1 < n {
                    needs.push(Need {
                        a: a.from,
                        b: a.from + 1,
                        width: SELF_W + 12 + w + 12,
                    });
                }
            }
            Row::Arrow(a) => needs.push(Need {
                a: a.from.min(a.to),
                b: a.from.max(a.to),
                width: w + 24,
            }),
            Row::Note(x) if x.left == x.right => need_around(x.left, (w + 16) / 2, &mut needs),
            Row::Note(x) => needs.push(Need {
                a: x.left,
                b: x.right,
                width: w + 16 - 2 * NOTE_PAD,
            }),
        }
    }
    if let (Some(label), true) = (&omitted_label, n > 1) {
        needs.push(Need {
            a: 0,
            b: n - 1,
            width: text_width(label, LABEL_SIZE) + 16 - 2 * NOTE_PAD,
        });
    }
    for g in chart.groups.iter().filter(|g| g.first < g.last) {
        needs.push(Need {
            a: g.first,
            b: g.last,
            width: text_width(&g.domain, LABEL_SIZE) + 16 - 2 * GROUP_PAD - box_w[g.first] / 2 - box_w[g.last] / 2,
        });
    }
    needs.sort_by_key(|x| (x.b - x.a, x.a, x.b, x.width));
    for need in &needs {
        let span = &mut gaps[need.a..need.b];
        let have: i64 = span.iter().sum();
        if have < need.width {
            let k = span.len() as i64;
            let extra = need.width - have;
            for (j, g) in span.iter_mut().enumerate() {
                *g += extra / k + i64::from((j as i64) < extra % k);
            }
        }
    }

    // Horizontal extents, relative to the first lifeline at 0.
    let mut centers = vec![0i64; n];
    for i in 1..n {
        centers[i] = centers[i - 1] + gaps[i - 1];
    }
    let (mut min_x, mut max_x) = (0i64, 0i64);
    let mut extend = |lo: i64, hi: i64| {
        min_x = min_x.min(lo);
        max_x = max_x.max(hi);
    };
    for i in 0..n {
        let pad = if group_of(i).is_some() { GROUP_PAD } else { 0 };
        extend(centers[i] - box_w[i] / 2 - pad, centers[i] + box_w[i] / 2 + pad);
    }
    for (row, label) in chart.rows.iter().zip(&labels) {
        let w = text_width(label, LABEL_SIZE);
        match row {
            Row::Arrow(a) if a.from == a.to => extend(centers[a.from], centers[a.from] + SELF_W + 12 + w),
            Row::Arrow(a) => {
                let mid = (centers[a.from] + centers[a.to]) / 2;
                extend(mid - w / 2, mid + w / 2);
            }
            Row::Note(x) => {
                let (lo, hi) = note_x(&centers, x.left, x.right, w);
                extend(lo, hi);
            }
        }
    }
    if let (Some(label), true) = (&omitted_label, n > 0) {
        let (lo, hi) = note_x(&centers, 0, n - 1, text_width(label, LABEL_SIZE));
        extend(lo, hi);
    }
    let gutter = chart
        .rows
        .iter()
        .map(|r| {
            let t = match r {
                Row::Arrow(a) => a.time_ns,
                Row::Note(x) => x.time_ns,
            };
            text_width(&format!("{} ms", format_ms(t)), TIME_SIZE)
        })
        .max()
        .unwrap_or(0)
        .max(text_width("time", TIME_SIZE))
        + 16;
    let shift = MARGIN + gutter + 8 - min_x;
    let cx: Vec<i64> = centers.iter().map(|c| c + shift).collect();
    let width = (max_x + shift + MARGIN)
        .max(text_width(&title, 14) + 2 * MARGIN)
        .max(360);

    // Vertical layout.
    let frames_top = MARGIN + TITLE_H;
    let box_top = frames_top + if chart.groups.is_empty() { 0 } else { GROUP_LABEL_H };
    let rows_top = box_top + BOX_H + 10;
    let row_count = chart.rows.len() as i64 + i64::from(omitted_label.is_some()) + i64::from(n == 0);
    let rows_end = rows_top + row_count * ROW_H;
    let bottom_box = rows_end + 10;
    let frames_bottom = bottom_box + BOX_H + 8;
    let height = frames_bottom + MARGIN;

    let mut s = String::new();
    let _ = writeln!(s, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="DejaVu Sans, sans-serif" font-size="{LABEL_SIZE}">"#
    );
    let _ = writeln!(
        s,
        r##"<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>"##
    );
    let _ = writeln!(
        s,
        r##"<text x="{MARGIN}" y="{}" font-size="14" font-weight="bold" fill="#222222">{}</text>"##,
        MARGIN + 16,
        xml(&title)
    );
    // Domain frames.
    for (k, g) in chart.groups.iter().enumerate() {
        let (r, gg, b) = GROUP_FILLS[k % GROUP_FILLS.len()];
        let x0 = cx[g.first] - box_w[g.first] / 2 - GROUP_PAD;
        let x1 = cx[g.last] + box_w[g.last] / 2 + GROUP_PAD;
        let _ = writeln!(
            s,
            r##"<rect x="{x0}" y="{frames_top}" width="{}" height="{}" rx="4" fill="rgb({r},{gg},{b})" stroke="#c8ccd4"/>"##,
            x1 - x0,
            frames_bottom - frames_top
        );
        let _ = writeln!(
            s,
            r##"<text x="{}" y="{}" font-weight="bold" fill="#445066">{}</text>"##,
            x0 + 8,
            frames_top + 15,
            xml(&g.domain)
        );
    }
    // Time column heading and lifelines.
    let time_x = MARGIN + gutter - 8;
    let _ = writeln!(
        s,
        r##"<text x="{time_x}" y="{}" font-size="{TIME_SIZE}" text-anchor="end" fill="#666666">time [ms]</text>"##,
        box_top + BOX_H / 2 + 4
    );
    for &x in &cx {
        let _ = writeln!(
            s,
            r##"<line x1="{x}" y1="{}" x2="{x}" y2="{bottom_box}" stroke="#a0a0a0" stroke-width="1"/>"##,
            box_top + BOX_H
        );
    }
    for y in [box_top, bottom_box] {
        for (i, p) in chart.participants.iter().enumerate() {
            let _ = writeln!(
                s,
                r##"<rect x="{}" y="{y}" width="{}" height="{BOX_H}" rx="3" fill="#eaeefc" stroke="#6670a0"/>"##,
                cx[i] - box_w[i] / 2,
                box_w[i]
            );
            let _ = writeln!(
                s,
                r##"<text x="{}" y="{}" font-size="{NAME_SIZE}" text-anchor="middle" fill="#111111">{}</text>"##,
                cx[i],
                y + BOX_H / 2 + 5,
                xml(&p.name)
            );
        }
    }
    // Rows.
    for (k, (row, label)) in chart.rows.iter().zip(&labels).enumerate() {
        let top = rows_top + k as i64 * ROW_H;
        let w = text_width(label, LABEL_SIZE);
        let (time_ns, tip) = match row {
            Row::Arrow(a) => (a.time_ns, format!("{} — {}", a.label, a.detail)),
            Row::Note(x) => (x.time_ns, format!("{} — {}", x.text, x.detail)),
        };
        let _ = writeln!(s, "<g>\n<title>{} ms: {}</title>", format_ms(time_ns), xml(&tip));
        let _ = writeln!(
            s,
            r##"<text x="{time_x}" y="{}" font-size="{TIME_SIZE}" text-anchor="end" fill="#555555">{} ms</text>"##,
            top + 20,
            format_ms(time_ns)
        );
        match row {
            Row::Arrow(a) => svg_arrow(&mut s, a, &cx, top, label),
            Row::Note(x) => svg_note(&mut s, &cx, x.left, x.right, top, label, w),
        }
        s.push_str("</g>\n");
    }
    let extra_top = rows_top + chart.rows.len() as i64 * ROW_H;
    if let (Some(label), true) = (&omitted_label, n > 0) {
        svg_note(&mut s, &cx, 0, n - 1, extra_top, label, text_width(label, LABEL_SIZE));
    } else if n == 0 {
        let text = omitted_label.unwrap_or_else(|| "no messages".to_string());
        let _ = writeln!(
            s,
            r##"<text x="{}" y="{}" fill="#666666">{}</text>"##,
            MARGIN + gutter + 8,
            extra_top + 20,
            xml(&text)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// A note's horizontal extent over lifelines `left..=right` for text `w` wide.
fn note_x(cx: &[i64], left: usize, right: usize, w: i64) -> (i64, i64) {
    if left == right {
        let half = (w + 16).max(80) / 2;
        (cx[left] - half, cx[left] + half)
    } else {
        (cx[left] - NOTE_PAD, cx[right] + NOTE_PAD)
    }
}

fn svg_note(s: &mut String, cx: &[i64], left: usize, right: usize, top: i64, label: &str, w: i64) {
    let (x0, x1) = note_x(cx, left, right, w);
    let _ = writeln!(
        s,
        r##"<rect x="{x0}" y="{}" width="{}" height="{}" fill="#fff6c8" stroke="#c9b458"/>"##,
        top + 4,
        x1 - x0,
        ROW_H - 6
    );
    let _ = writeln!(
        s,
        r##"<text x="{}" y="{}" text-anchor="middle" fill="#333333">{}</text>"##,
        (x0 + x1) / 2,
        top + 20,
        xml(label)
    );
}

fn svg_arrow(s: &mut String, a: &Arrow, cx: &[i64], top: i64, label: &str) {
    let (color, dash, width) = match a.kind {
        ArrowKind::Request => ("#1f2a44", "", 1.5),
        ArrowKind::Response => ("#1f2a44", r#" stroke-dasharray="6,4""#, 1.5),
        ArrowKind::Alert => ("#c62828", "", 1.5),
        ArrowKind::Transport => ("#7a7a7a", "", 1.0),
    };
    let (x0, x1) = (cx[a.from], cx[a.to]);
    if a.from == a.to {
        let y = top + 14;
        let _ = writeln!(
            s,
            r##"<path d="M {x0} {y} H {} V {} H {}" fill="none" stroke="{color}" stroke-width="{width}"{dash}/>"##,
            x0 + SELF_W,
            y + 10,
            x0 + 2
        );
        arrow_head(s, a.kind, x0, y + 10, -1, color);
        let _ = writeln!(
            s,
            r##"<text x="{}" y="{}" fill="{color}">{}</text>"##,
            x0 + SELF_W + 12,
            y + 9,
            xml(label)
        );
        return;
    }
    let y = top + 19;
    let dir = if x1 > x0 { 1 } else { -1 };
    let _ = writeln!(
        s,
        r##"<line x1="{x0}" y1="{y}" x2="{}" y2="{y}" stroke="{color}" stroke-width="{width}"{dash}/>"##,
        x1 - dir * 2
    );
    arrow_head(s, a.kind, x1, y, dir, color);
    let _ = writeln!(
        s,
        r##"<text x="{}" y="{}" text-anchor="middle" fill="{color}" stroke="#ffffff" stroke-width="3" paint-order="stroke">{}</text>"##,
        (x0 + x1) / 2,
        y - 6,
        xml(label)
    );
}

/// The end of an arrow at `(x, y)` pointing in `dir` (+1 right, -1 left).
fn arrow_head(s: &mut String, kind: ArrowKind, x: i64, y: i64, dir: i64, color: &str) {
    match kind {
        ArrowKind::Alert => {
            let c = x - dir * 7;
            let _ = writeln!(
                s,
                r#"<path d="M {} {} L {} {} M {} {} L {} {}" stroke="{color}" stroke-width="2"/>"#,
                c - 5,
                y - 5,
                c + 5,
                y + 5,
                c - 5,
                y + 5,
                c + 5,
                y - 5
            );
        }
        ArrowKind::Transport => {
            let _ = writeln!(
                s,
                r#"<path d="M {} {} L {x} {y} L {} {}" fill="none" stroke="{color}" stroke-width="1"/>"#,
                x - dir * 8,
                y - 4,
                x - dir * 8,
                y + 4
            );
        }
        ArrowKind::Request | ArrowKind::Response => {
            let _ = writeln!(
                s,
                r#"<path d="M {x} {y} L {} {} L {} {} Z" fill="{color}"/>"#,
                x - dir * 9,
                y - 4,
                x - dir * 9,
                y + 4
            );
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::fixtures::{capif_trace, domains, req};
    use super::super::{Options, from_trace_lines};
    use super::*;

    /// Tags balance, attributes are quoted, the root is `svg`.
    pub(in crate::metrics::sequence) fn assert_svg_well_formed(svg: &str) {
        assert!(svg.starts_with("<?xml"));
        let mut stack: Vec<String> = Vec::new();
        let mut rest = svg;
        let mut roots = 0;
        while let Some(i) = rest.find('<') {
            let text = &rest[..i];
            assert!(!text.contains('>'), "stray > in {text:?}");
            let j = rest[i..].find('>').expect("unclosed tag") + i;
            let tag = &rest[i + 1..j];
            assert!(!tag.contains('<'), "< inside tag {tag:?}");
            assert_eq!(tag.matches('"').count() % 2, 0, "unbalanced quotes in {tag:?}");
            if tag.starts_with('?') {
                assert!(tag.ends_with('?'));
            } else if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(stack.pop().as_deref(), Some(name), "mismatched </{name}>");
            } else {
                let name = tag.split_whitespace().next().unwrap().trim_end_matches('/').to_string();
                if stack.is_empty() {
                    roots += 1;
                    assert_eq!(name, "svg");
                }
                if !tag.ends_with('/') {
                    stack.push(name);
                }
            }
            for entity in rest[..i].split('&').skip(1) {
                let name = entity.split(';').next().unwrap();
                assert!(["amp", "lt", "gt", "quot", "apos"].contains(&name), "entity &{name};");
            }
            rest = &rest[j + 1..];
        }
        assert!(stack.is_empty(), "unclosed {stack:?}");
        assert_eq!(roots, 1);
        assert_eq!(rest.trim(), "");
    }

    #[test]
    fn svg_is_deterministic_and_well_formed() {
        let opts = Options {
            title: "capif <test> & \"quotes\"".to_string(),
            domains: domains(),
            max_messages: 4,
            ..Options::default()
        };
        let mut trace = capif_trace();
        // A self-message and a label over 60 characters.
        trace.push(req(800_000_000, "ccf-a", "ccf-a", 3, "HTTP request", "POST", "/a"));
        let a = to_svg(&from_trace_lines(&trace, &opts));
        let b = to_svg(&from_trace_lines(&trace, &opts));
        assert_eq!(a, b);
        assert_svg_well_formed(&a);
        assert!(a.contains(r#"font-family="DejaVu Sans, sans-serif""#));
        assert!(a.contains("capif &lt;test&gt; &amp; &quot;quotes&quot;"));
        assert!(a.contains("1. POST APIInvokerEnrolmentDetails"));
        assert!(a.contains("TLS 1.3 certificate handshake (conn 0, 4.000 ms)"));
        assert!(a.contains("provider-a") && a.contains("internet"));
        assert!(a.contains("more messages"));
        for opts in [
            Options::default(),
            Options {
                transport: true,
                ..Options::default()
            },
        ] {
            let svg = to_svg(&from_trace_lines(&trace, &opts));
            assert_svg_well_formed(&svg);
        }
        let long = vec![req(1, "a", "b", 0, &"S".repeat(100), "POST", "/")];
        let svg = to_svg(&from_trace_lines(&long, &Options::default()));
        assert_svg_well_formed(&svg);
        assert!(svg.contains(&format!("1. POST {}…", "S".repeat(MAX_LABEL_CHARS - 6))));
    }

    #[test]
    fn svg_helpers() {
        let long = "x".repeat(80);
        let t = truncate_label(&long);
        assert_eq!(t.chars().count(), MAX_LABEL_CHARS);
        assert!(t.ends_with('…'));
        assert_eq!(text_width("", 12), 0);
        assert_eq!(text_width("m", 2048), 1995);
    }
}
