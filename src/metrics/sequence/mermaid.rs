//! The Mermaid text of a [`Chart`]: a `sequenceDiagram` with numbered arrows, participants
//! in a `box` per domain, times as `[525.009 ms]` prefixes.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::{ArrowKind, Chart, GROUP_FILLS, Row, format_ms};

/// Mermaid words an identifier must not be.
const MERMAID_KEYWORDS: [&str; 28] = [
    "actor",
    "activate",
    "alt",
    "and",
    "as",
    "autonumber",
    "box",
    "break",
    "create",
    "critical",
    "deactivate",
    "destroy",
    "else",
    "end",
    "left",
    "link",
    "links",
    "loop",
    "note",
    "of",
    "opt",
    "over",
    "par",
    "participant",
    "properties",
    "rect",
    "right",
    "title",
];

/// A unique identifier made of ASCII letters, digits and `_`.
pub(super) fn mermaid_id(name: &str, used: &mut BTreeSet<String>) -> String {
    let mut id: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if id.is_empty() || id.starts_with(|c: char| c.is_ascii_digit() || c == '_') {
        id.insert(0, 'n');
    }
    if MERMAID_KEYWORDS.contains(&id.to_ascii_lowercase().as_str()) || id.starts_with(['x', 'X']) {
        // `a-xb` would read as a cross arrow to `b`.
        id.insert(0, 'n');
    }
    let mut candidate = id.clone();
    let mut k = 2;
    while used.contains(&candidate) {
        candidate = format!("{id}_{k}");
        k += 1;
    }
    used.insert(candidate.clone());
    candidate
}

/// Text Mermaid parses literally: `#`, `;`, `:`, `<`, `>` as entity codes, line breaks as
/// spaces.
pub fn mermaid_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '#' => out.push_str("#35;"),
            ';' => out.push_str("#59;"),
            ':' => out.push_str("#58;"),
            '<' => out.push_str("#60;"),
            '>' => out.push_str("#62;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The Mermaid text: `sequenceDiagram`, numbered arrows, participants in `box`es per domain.
pub fn to_mermaid(chart: &Chart) -> String {
    let mut s = String::from("sequenceDiagram\n");
    if !chart.title.is_empty() {
        let _ = writeln!(s, "    %% {}", chart.title.replace('\n', " "));
    }
    if chart.participants.is_empty() {
        s.push_str("    %% no messages\n");
        if let Some(t) = chart.omitted_text() {
            let _ = writeln!(s, "    %% {t}");
        }
        return s;
    }
    s.push_str("    autonumber\n");
    let mut g = 0;
    let mut i = 0;
    while i < chart.participants.len() {
        match chart.groups.get(g).filter(|grp| grp.first == i) {
            Some(grp) => {
                let (r, gg, b) = GROUP_FILLS[g % GROUP_FILLS.len()];
                let _ = writeln!(s, "    box rgb({r},{gg},{b}) {}", mermaid_escape(&grp.domain));
                for p in &chart.participants[grp.first..=grp.last] {
                    let _ = writeln!(s, "        participant {} as {}", p.id, mermaid_escape(&p.name));
                }
                s.push_str("    end\n");
                i = grp.last + 1;
                g += 1;
            }
            None => {
                let p = &chart.participants[i];
                let _ = writeln!(s, "    participant {} as {}", p.id, mermaid_escape(&p.name));
                i += 1;
            }
        }
    }
    let id = |i: usize| chart.participants[i].id.as_str();
    for row in &chart.rows {
        match row {
            Row::Arrow(a) => {
                let arrow = match a.kind {
                    ArrowKind::Request => "->>",
                    ArrowKind::Response => "-->>",
                    ArrowKind::Alert => "-x",
                    ArrowKind::Transport => "-)",
                };
                let label = mermaid_escape(&format!("[{} ms] {}", format_ms(a.time_ns), a.label));
                let _ = writeln!(s, "    {}{arrow}{}: {label}", id(a.from), id(a.to));
            }
            Row::Note(n) => {
                let text = mermaid_escape(&format!("[{} ms] {}", format_ms(n.time_ns), n.text));
                let _ = writeln!(s, "    Note over {}: {text}", over(chart, n.left, n.right));
            }
        }
    }
    if let Some(t) = chart.omitted_text() {
        let last = chart.participants.len() - 1;
        let _ = writeln!(s, "    Note over {}: {}", over(chart, 0, last), mermaid_escape(&t));
    }
    s
}

fn over(chart: &Chart, left: usize, right: usize) -> String {
    if left == right {
        chart.participants[left].id.clone()
    } else {
        format!("{},{}", chart.participants[left].id, chart.participants[right].id)
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{capif_trace, domains};
    use super::super::{Options, from_trace_lines};
    use super::*;

    #[test]
    fn mermaid_of_a_small_trace() {
        let opts = Options {
            title: "capif · seed 1".to_string(),
            domains: domains(),
            ..Options::default()
        };
        let chart = from_trace_lines(&capif_trace(), &opts);
        assert_eq!(chart.arrows(), 5);
        assert_eq!(chart.notes(), 2);
        assert_eq!(
            to_mermaid(&chart),
            "sequenceDiagram
    %% capif · seed 1
    autonumber
    box rgb(238,243,251) provider-a
        participant ccf_a as ccf-a
        participant aef_a1 as aef-a1
    end
    box rgb(240,248,236) internet
        participant invoker_1 as invoker-1
    end
    Note over ccf_a,invoker_1: [458.926 ms] TLS 1.3 certificate handshake (conn 0, 4.000 ms)
    invoker_1->>ccf_a: [525.009 ms] POST APIInvokerEnrolmentDetails
    ccf_a-->>invoker_1: [544.462 ms] 201 APIInvokerEnrolmentDetails
    Note over ccf_a,aef_a1: [600.000 ms] TLS 1.3 certificate handshake (conn 1, 4.000 ms)
    aef_a1->>ccf_a: [610.000 ms] GET /capif-security/v1/trustedInvokers/{id}?…
    ccf_a-->>aef_a1: [611.000 ms] 404 Not Found
    aef_a1-xinvoker_1: [700.000 ms] TLS Alert bad_certificate (conn 2)
"
        );
    }

    #[test]
    fn mermaid_helpers() {
        let mut used = BTreeSet::new();
        assert_eq!(mermaid_id("end", &mut used), "nend");
        assert_eq!(mermaid_id("x-1", &mut used), "nx_1");
        assert_eq!(mermaid_id("a.b", &mut used), "a_b");
        assert_eq!(mermaid_id("a-b", &mut used), "a_b_2");
        assert_eq!(mermaid_id("5gc", &mut used), "n5gc");
        assert_eq!(mermaid_escape("a;b#c:d<e>"), "a#59;b#35;c#58;d#60;e#62;");
    }
}
