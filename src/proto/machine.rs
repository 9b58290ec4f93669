//! The transition-table machinery every protocol machine uses: a table is a `const` slice of
//! [`Transition`] rows (state, event, state, clause), looked up with [`lookup`] in the
//! machine's `handle`, and rendered with [`render_table`] for its snapshot test
//! (`tests/snapshots/`). A pair absent from a table is ignored (or refused) by the machine.

use std::fmt;

/// One row of a transition table.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Transition<S, E> {
    /// State before.
    pub from: S,
    /// Event (an input, classified).
    pub event: E,
    /// State after.
    pub to: S,
    /// The spec clause (or "secsim" decision) behind it.
    pub clause: &'static str,
}

/// The state after `event` in `from`, if the table has the pair.
pub fn lookup<S: Copy + Eq, E: Copy + Eq>(table: &[Transition<S, E>], from: S, event: E) -> Option<S> {
    table.iter().find(|t| t.from == from && t.event == event).map(|t| t.to)
}

/// Renders a table as aligned text followed by a Graphviz dot graph (the snapshot format).
pub fn render_table<S: fmt::Display + Copy, E: fmt::Debug + Copy>(
    name: &str,
    states: &[(S, &str)],
    table: &[Transition<S, E>],
) -> String {
    use fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "# {name}: state x event -> state (ignored pairs are absent)\n");
    let _ = writeln!(out, "## states");
    for (s, note) in states {
        let _ = writeln!(out, "{:<24} {note}", s.to_string());
    }
    let _ = writeln!(out, "\n## transitions");
    let _ = writeln!(out, "{:<22} {:<20} {:<22} clause", "from", "event", "to");
    for t in table {
        let ev = format!("{:?}", t.event);
        let _ = writeln!(
            out,
            "{:<22} {:<20} {:<22} {}",
            t.from.to_string(),
            ev,
            t.to.to_string(),
            t.clause
        );
    }
    let _ = writeln!(out, "\n## dot\ndigraph {name} {{\n  rankdir=LR;");
    for t in table {
        let _ = writeln!(out, "  \"{}\" -> \"{}\" [label=\"{:?}\"];", t.from, t.to, t.event);
    }
    let _ = writeln!(out, "}}");
    out
}

/// A table row (for `const` tables: `t(from, event, to, clause)`).
pub const fn t<S, E>(from: S, event: E, to: S, clause: &'static str) -> Transition<S, E> {
    Transition {
        from,
        event,
        to,
        clause,
    }
}
