//! Sequence charts of one run's message trace, in the style of the 3GPP stage-3 figures:
//! `sequence.mmd` (a Mermaid `sequenceDiagram`) and `sequence.svg` (the same chart drawn
//! here, no external tool). `secsim trace` ([`run_trace`](mod@crate::run_trace)) runs one
//! seed and feeds its trace lines here.
//!
//! ```text
//!  trace lines ─► TraceLine ─► ChartBuilder::push ─► Chart ─┬─ to_mermaid ─► sequence.mmd
//!                              (filter, collapse, limit)    └─ to_svg     ─► sequence.svg
//! ```
//!
//! This module is the chart model: trace lines ([`TraceLine`], shared with the writer) to
//! participants, arrows and notes. `mermaid.rs` renders [`to_mermaid`], `svg.rs` [`to_svg`].
//!
//! - One arrow per application message: requests solid, responses dashed, labelled with the
//!   OpenAPI schema name (`POST APIInvokerEnrolmentDetails`, `201 APIInvokerEnrolmentDetails`)
//!   or, without a schema, the method and a shortened path (`GET /capif-security/v1/
//!   trustedInvokers/{id}?…`) or the status and its reason phrase (`200 OK`). Long
//!   identifiers in paths (12+ characters with 4+ digits) read `{id}`.
//! - TCP and TLS segments (and an HTTP CONNECT through a proxy) are collapsed into one note
//!   per connection set-up, `TLS 1.3 certificate handshake (conn 7, 66.084 ms)` (or `PSK
//!   handshake` when the client offered an external PSK), at the time of its first segment; [`Options::transport`] shows every segment instead. A refused CONNECT stays
//!   visible as a response arrow. TLS alerts are `-x` arrows.
//! - Every arrow and note carries the simulated time \[ms\], 3 decimals: a `[525.009 ms]`
//!   prefix in Mermaid, a time column in the SVG.
//! - Participants appear in first-appearance order; given the topology's domains
//!   ([`Options::domains`]) they are grouped per domain (Mermaid `box`, SVG frame), the
//!   domains in topology order (so `plmn-a, ipx-a, ipx-b, plmn-b` reads left to right as
//!   the path), nodes of no known domain last.
//! - [`Options::nodes`] keeps the messages whose sender and receiver are both listed (a
//!   connection set-up: both TLS ends, or client and proxy); [`Options::max_messages`] caps
//!   the arrows, a final note counts what was left out.
//!
//! Everything is a pure function of the trace lines and options: same input, same bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::Value;

use crate::metrics::trace_line::TraceLine;

#[cfg(test)]
mod fixtures;
mod mermaid;
mod svg;

pub use mermaid::{mermaid_escape, to_mermaid};
pub use svg::{MAX_LABEL_CHARS, to_svg, truncate_label};

/// Default cap on the arrows of a chart.
pub const DEFAULT_MAX_MESSAGES: usize = 200;

/// What to chart.
#[derive(Clone, Debug)]
pub struct Options {
    /// A title (Mermaid comment, SVG heading); may be empty.
    pub title: String,
    /// Show every TCP/TLS segment instead of one note per connection set-up.
    pub transport: bool,
    /// Keep only messages between these nodes; `None` keeps all.
    pub nodes: Option<Vec<String>>,
    /// At most this many arrows; the rest is counted in a final note.
    pub max_messages: usize,
    /// `(node, domain)` pairs in topology order; participants are grouped by domain, the
    /// domains in the order their first node appears here.
    pub domains: Vec<(String, String)>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            title: String::new(),
            transport: false,
            nodes: None,
            max_messages: DEFAULT_MAX_MESSAGES,
            domains: Vec::new(),
        }
    }
}

/// A lifeline.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Participant {
    /// The node name.
    pub name: String,
    /// A Mermaid-safe identifier (letters, digits, `_`), unique in the chart.
    pub id: String,
    /// The node's domain, when known.
    pub domain: Option<String>,
}

/// Consecutive participants of one domain: `participants[first..=last]`.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Group {
    pub domain: String,
    pub first: usize,
    pub last: usize,
}

/// How an arrow is drawn.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum ArrowKind {
    /// An HTTP request: solid line (`->>`).
    Request,
    /// An HTTP response: dashed line (`-->>`).
    Response,
    /// A TLS alert: solid line ending in a cross (`-x`).
    Alert,
    /// A TCP or TLS segment (with [`Options::transport`]): open arrow (`-)`).
    Transport,
}

/// One message.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Arrow {
    pub time_ns: u64,
    /// Participant indices.
    pub from: usize,
    pub to: usize,
    pub kind: ArrowKind,
    /// The label, without number or time.
    pub label: String,
    /// Connection, size and full path (SVG tooltip).
    pub detail: String,
}

/// A note over one or more participants.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Note {
    pub time_ns: u64,
    /// Participant indices, `left <= right`.
    pub left: usize,
    pub right: usize,
    pub text: String,
    /// Segments and bytes (SVG tooltip).
    pub detail: String,
}

/// One row of the chart.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Row {
    Arrow(Arrow),
    Note(Note),
}

/// A sequence chart, ready to render.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct Chart {
    pub title: String,
    pub participants: Vec<Participant>,
    /// Domain groups, in participant order (ungrouped participants belong to none).
    pub groups: Vec<Group>,
    pub rows: Vec<Row>,
    /// Trace lines read (well-formed ones).
    pub lines: usize,
    /// Lines that were not trace lines (no `time_ns`, `from`, `to` or `msg`).
    pub skipped_lines: usize,
    /// Arrows past `max_messages`.
    pub omitted_messages: usize,
    /// Connection set-up notes past `max_messages`.
    pub omitted_setups: usize,
    /// The cap that was applied.
    pub max_messages: usize,
}

impl Chart {
    /// The number of arrows drawn.
    pub fn arrows(&self) -> usize {
        self.rows.iter().filter(|r| matches!(r, Row::Arrow(_))).count()
    }

    /// The number of notes drawn (connection set-ups), without the final omission note.
    pub fn notes(&self) -> usize {
        self.rows.len() - self.arrows()
    }

    /// The final note's text, when something was left out.
    pub fn omitted_text(&self) -> Option<String> {
        if self.omitted_messages == 0 && self.omitted_setups == 0 {
            return None;
        }
        let mut s = format!(
            "… {} more {}",
            self.omitted_messages,
            plural(self.omitted_messages, "message")
        );
        if self.omitted_setups > 0 {
            let _ = write!(
                s,
                " and {} {}",
                self.omitted_setups,
                plural(self.omitted_setups, "connection set-up")
            );
        }
        let _ = write!(s, " not shown (--max-messages {})", self.max_messages);
        Some(s)
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 { word.to_string() } else { format!("{word}s") }
}

/// `525009214` ns → `"525.009"` (milliseconds, rounded to the microsecond).
pub fn format_ms(ns: u64) -> String {
    let us = ns / 1000 + u64::from(ns % 1000 >= 500);
    format!("{}.{:03}", us / 1000, us % 1000)
}

/// Builds a [`Chart`] from trace lines (see [`from_trace_lines`]).
pub fn from_trace_lines(lines: &[Value], opts: &Options) -> Chart {
    let mut b = ChartBuilder::new(opts.clone());
    for l in lines {
        b.push(l);
    }
    b.finish()
}

/// Connection, size and full path of a line (an arrow's tooltip).
fn detail(l: &TraceLine<'_>) -> String {
    let mut d = String::new();
    if let Some(c) = l.conn {
        let _ = write!(d, "conn {c}");
    }
    if let Some(b) = l.bytes {
        let _ = write!(d, "{}{b} bytes", if d.is_empty() { "" } else { ", " });
    }
    if let (Some(m), Some(p)) = (l.method(), l.path()) {
        let _ = write!(d, "{}{m} {p}", if d.is_empty() { "" } else { ", " });
    }
    d
}

/// What one connection's set-up segments showed.
#[derive(Clone, Debug, Default)]
struct Setup {
    first_ns: u64,
    last_ns: u64,
    client: String,
    first_to: String,
    syn_ack: bool,
    /// TLS ClientHello: (client, server), end to end.
    hello: Option<(String, String)>,
    /// The ClientHello offered a PSK (TLS-PSK or resumption): no certificates.
    psk: bool,
    finished: bool,
    /// The proxy and the CONNECT target.
    proxy: Option<(String, String)>,
    connect_pending: bool,
    connect_status: Option<u16>,
    segments: u64,
    bytes: u64,
}

impl Setup {
    /// The note's ends: the TLS ends, else client and proxy, else the first segment's ends.
    fn ends(&self) -> (&str, &str) {
        let server = match (&self.hello, &self.proxy) {
            (Some((_, s)), _) => s,
            (None, Some((p, _))) => p,
            (None, None) => &self.first_to,
        };
        let client = self.hello.as_ref().map_or(self.client.as_str(), |h| h.0.as_str());
        (client, server)
    }

    /// How the handshake authenticates: a PSK, or certificates.
    fn auth(&self) -> &'static str {
        if self.psk { "PSK" } else { "certificate" }
    }

    fn text(&self, conn: u32) -> String {
        let mut s = match (&self.hello, self.finished, &self.proxy) {
            (Some(_), true, _) => format!("TLS 1.3 {} handshake", self.auth()),
            (Some(_), false, _) => format!("TLS 1.3 {} handshake, not completed", self.auth()),
            (None, _, Some((_, target))) => format!("TCP connect + CONNECT {target}"),
            (None, _, None) if self.syn_ack => "TCP connect".to_string(),
            (None, _, None) => "TCP connect, no answer".to_string(),
        };
        if let Some((proxy, _)) = &self.proxy {
            let _ = write!(s, " via {proxy}");
        }
        let _ = write!(s, " (conn {conn}, {} ms)", format_ms(self.last_ns - self.first_ns));
        s
    }
}

/// A row before participants are numbered; set-ups are resolved at the end.
enum Pending {
    Arrow {
        time_ns: u64,
        from: String,
        to: String,
        kind: ArrowKind,
        label: String,
        detail: String,
    },
    Setup(u32),
    /// A note over the ends of the row before it (what a refused CONNECT suggests).
    Note {
        time_ns: u64,
        from: String,
        to: String,
        text: String,
    },
}

/// Builds a [`Chart`] one trace line at a time, keeping only what is drawn (memory stays
/// bounded by `max_messages` and the number of connections, whatever the trace length).
pub struct ChartBuilder {
    opts: Options,
    filter: Option<BTreeSet<String>>,
    setups: BTreeMap<u32, Setup>,
    rows: Vec<Pending>,
    shown: usize,
    omitted_messages: usize,
    late_setups: Vec<u32>,
    lines: usize,
    skipped: usize,
}

impl Default for ChartBuilder {
    fn default() -> Self {
        ChartBuilder::new(Options::default())
    }
}

impl ChartBuilder {
    pub fn new(opts: Options) -> Self {
        let filter = opts.nodes.as_ref().map(|n| n.iter().cloned().collect());
        ChartBuilder {
            opts,
            filter,
            setups: BTreeMap::new(),
            rows: Vec::new(),
            shown: 0,
            omitted_messages: 0,
            late_setups: Vec::new(),
            lines: 0,
            skipped: 0,
        }
    }

    fn keeps(&self, a: &str, b: &str) -> bool {
        self.filter.as_ref().is_none_or(|f| f.contains(a) && f.contains(b))
    }

    fn arrow(&mut self, l: &TraceLine<'_>, kind: ArrowKind, label: String) {
        if !self.keeps(&l.from, &l.to) {
            return;
        }
        if self.shown >= self.opts.max_messages {
            self.omitted_messages += 1;
            return;
        }
        self.shown += 1;
        self.rows.push(Pending::Arrow {
            time_ns: l.time_ns,
            from: l.from.to_string(),
            to: l.to.to_string(),
            kind,
            label,
            detail: detail(l),
        });
    }

    /// Records a set-up segment; a connection's first one places its note.
    fn setup_segment(&mut self, l: &TraceLine<'_>, conn: u32) -> &mut Setup {
        let new = !self.setups.contains_key(&conn);
        if new && !self.opts.transport {
            if self.shown >= self.opts.max_messages {
                self.late_setups.push(conn);
            } else {
                self.rows.push(Pending::Setup(conn));
            }
        }
        let s = self.setups.entry(conn).or_insert_with(|| Setup {
            first_ns: l.time_ns,
            client: l.from.to_string(),
            first_to: l.to.to_string(),
            ..Setup::default()
        });
        s.last_ns = s.last_ns.max(l.time_ns);
        s.segments += 1;
        s.bytes += u64::from(l.bytes.unwrap_or(0));
        s
    }

    /// Adds one trace line, as parsed JSON (anything but a message line is skipped).
    pub fn push(&mut self, v: &Value) {
        match TraceLine::from_value(v) {
            Some(l) => self.push_line(&l),
            None => self.skipped += 1,
        }
    }

    /// Adds one trace line, as written (JSON text without the newline).
    pub fn push_json(&mut self, line: &[u8]) {
        match TraceLine::parse(line) {
            Some(l) => self.push_line(&l),
            None => self.skipped += 1,
        }
    }

    /// Adds one message line.
    pub fn push_line(&mut self, l: &TraceLine<'_>) {
        self.lines += 1;
        let conn_suffix = l.conn.map(|c| format!(" (conn {c})")).unwrap_or_default();
        let pending_connect = l
            .conn
            .and_then(|c| self.setups.get(&c))
            .is_some_and(|s| s.connect_pending && s.client == l.to);
        if l.msg == "TLS Alert" {
            let label = format!("TLS Alert {}{conn_suffix}", l.body_text().unwrap_or("")).replace("  ", " ");
            self.arrow(l, ArrowKind::Alert, label);
        } else if let (Some(conn), Some("CONNECT")) = (l.conn, l.method()) {
            let target = l.path().unwrap_or("?").to_string();
            let s = self.setup_segment(l, conn);
            s.proxy = Some((l.to.to_string(), target.clone()));
            s.connect_pending = true;
            if self.opts.transport {
                self.arrow(l, ArrowKind::Request, format!("CONNECT {target}{conn_suffix}"));
            }
        } else if let (Some(conn), Some(status), true) = (l.conn, l.status, pending_connect) {
            let s = self.setup_segment(l, conn);
            s.connect_pending = false;
            s.connect_status = Some(status);
            let what = if l.msg == "HTTP CONNECT response" {
                reason(status).to_string()
            } else {
                l.msg.to_string()
            };
            let label = format!("{status} {what}").trim_end().to_string();
            if self.opts.transport {
                self.arrow(l, ArrowKind::Response, format!("{label} (CONNECT, conn {conn})"));
            } else if !(200..300).contains(&status) {
                self.arrow(l, ArrowKind::Response, format!("{label} (CONNECT)"));
            }
            // What tells the rejection encodings apart: where the suggestion travels.
            if !(200..300).contains(&status)
                && let Some(text) = suggestion(l)
                && matches!(self.rows.last(), Some(Pending::Arrow { time_ns, .. }) if *time_ns == l.time_ns)
            {
                self.rows.push(Pending::Note {
                    time_ns: l.time_ns,
                    from: l.from.to_string(),
                    to: l.to.to_string(),
                    text,
                });
            }
        } else if let (Some(conn), true) = (l.conn, l.msg.starts_with("TCP ") || l.msg.starts_with("TLS ")) {
            let s = self.setup_segment(l, conn);
            match &*l.msg {
                "TCP SYN-ACK" => s.syn_ack = true,
                "TLS ClientHello" if s.hello.is_none() => {
                    s.hello = Some((l.from.to_string(), l.to.to_string()));
                    s.psk = l.tls() == Some("psk");
                }
                "TLS Certificate..Finished" => s.finished = true,
                _ => {}
            }
            if self.opts.transport {
                self.arrow(l, ArrowKind::Transport, format!("{}{conn_suffix}", l.msg));
            }
        } else if l.msg.starts_with("TCP ") || l.msg.starts_with("TLS ") {
            // A segment with no connection id: nothing to collapse it into.
            if self.opts.transport {
                self.arrow(l, ArrowKind::Transport, l.msg.to_string());
            }
        } else if let Some(status) = l.status {
            let what = if l.msg.starts_with("HTTP ") {
                reason(status)
            } else {
                &*l.msg
            };
            self.arrow(
                l,
                ArrowKind::Response,
                format!("{status} {what}").trim_end().to_string(),
            );
        } else {
            let what = if l.msg.starts_with("HTTP ") {
                l.path().map(short_path).unwrap_or_else(|| l.msg.to_string())
            } else {
                l.msg.to_string()
            };
            let label = match l.method() {
                Some(m) => format!("{m} {what}"),
                None => what,
            };
            self.arrow(l, ArrowKind::Request, label);
        }
    }

    /// The chart: participants numbered in first-appearance order and grouped by domain.
    pub fn finish(self) -> Chart {
        let keeps_setup = |s: &Setup| {
            let (a, b) = s.ends();
            self.keeps(a, b)
        };
        let omitted_setups = self
            .late_setups
            .iter()
            .filter(|c| self.setups.get(c).is_some_and(keeps_setup))
            .count();
        // Resolve the rows with participant names.
        struct Named {
            names: (String, String),
            row: Row,
        }
        let mut named: Vec<Named> = Vec::with_capacity(self.rows.len());
        for p in &self.rows {
            match p {
                Pending::Arrow {
                    time_ns,
                    from,
                    to,
                    kind,
                    label,
                    detail,
                } => named.push(Named {
                    names: (from.clone(), to.clone()),
                    row: Row::Arrow(Arrow {
                        time_ns: *time_ns,
                        from: 0,
                        to: 0,
                        kind: *kind,
                        label: label.clone(),
                        detail: detail.clone(),
                    }),
                }),
                Pending::Note {
                    time_ns,
                    from,
                    to,
                    text,
                } => named.push(Named {
                    names: (from.clone(), to.clone()),
                    row: Row::Note(Note {
                        time_ns: *time_ns,
                        left: 0,
                        right: 0,
                        text: text.clone(),
                        detail: "suggestion of the refusal".to_string(),
                    }),
                }),
                Pending::Setup(conn) => {
                    let Some(s) = self.setups.get(conn).filter(|s| keeps_setup(s)) else {
                        continue;
                    };
                    let (a, b) = s.ends();
                    named.push(Named {
                        names: (a.to_string(), b.to_string()),
                        row: Row::Note(Note {
                            time_ns: s.first_ns,
                            left: 0,
                            right: 0,
                            text: s.text(*conn),
                            detail: format!(
                                "{} {}, {} bytes",
                                s.segments,
                                plural(s.segments as usize, "segment"),
                                s.bytes
                            ),
                        }),
                    });
                }
            }
        }
        // First appearance, then grouped by domain (domains in first-appearance order).
        let mut order: Vec<&str> = Vec::new();
        for n in &named {
            for name in [n.names.0.as_str(), n.names.1.as_str()] {
                if !order.contains(&name) {
                    order.push(name);
                }
            }
        }
        let domain_of: BTreeMap<&str, &str> = self
            .opts
            .domains
            .iter()
            .map(|(n, d)| (n.as_str(), d.as_str()))
            .collect();
        // A domain's rank: where its first node is in the topology.
        let mut rank: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, d) in &self.opts.domains {
            let next = rank.len();
            rank.entry(d.as_str()).or_insert(next);
        }
        let mut clusters: Vec<(Option<&str>, Vec<&str>)> = Vec::new();
        for name in order {
            let d = domain_of.get(name).copied();
            match clusters.iter_mut().find(|c| d.is_some() && c.0 == d) {
                Some(c) => c.1.push(name),
                None => clusters.push((d, vec![name])),
            }
        }
        // Domains in topology order, then nodes of no known domain (stable: first appearance).
        clusters.sort_by_key(|c| c.0.and_then(|d| rank.get(d).copied()).unwrap_or(usize::MAX));
        let mut participants = Vec::new();
        let mut groups = Vec::new();
        let mut used_ids = BTreeSet::new();
        for (d, names) in clusters {
            if let Some(d) = d {
                groups.push(Group {
                    domain: d.to_string(),
                    first: participants.len(),
                    last: participants.len() + names.len() - 1,
                });
            }
            for name in names {
                participants.push(Participant {
                    name: name.to_string(),
                    id: mermaid::mermaid_id(name, &mut used_ids),
                    domain: d.map(str::to_string),
                });
            }
        }
        let index: BTreeMap<&str, usize> = participants
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name.as_str(), i))
            .collect();
        let rows = named
            .into_iter()
            .map(|n| {
                let (a, b) = (index[n.names.0.as_str()], index[n.names.1.as_str()]);
                match n.row {
                    Row::Arrow(mut x) => {
                        (x.from, x.to) = (a, b);
                        Row::Arrow(x)
                    }
                    Row::Note(mut x) => {
                        (x.left, x.right) = (a.min(b), a.max(b));
                        Row::Note(x)
                    }
                }
            })
            .collect();
        Chart {
            title: self.opts.title.clone(),
            participants,
            groups,
            rows,
            lines: self.lines,
            skipped_lines: self.skipped,
            omitted_messages: self.omitted_messages,
            omitted_setups,
            max_messages: self.opts.max_messages,
        }
    }
}

/// Where a refused CONNECT carries the suggested status and cause, and what they are: the
/// `3gpp-connect-res-info` JWS (its payload decoded), the RFC 9209 `proxy-status` details,
/// the ProblemDetailsMsgForwarding members or the flat body members; `None` without a
/// suggestion.
fn suggestion(l: &TraceLine<'_>) -> Option<String> {
    use base64::Engine as _;
    let join = |status: Option<&Value>, cause: Option<&Value>| {
        let status = status.and_then(Value::as_u64).map(|s| s.to_string());
        let cause = cause.and_then(Value::as_str).map(str::to_string);
        [status, cause].into_iter().flatten().collect::<Vec<_>>().join(" ")
    };
    if let Some(jws) = l.header("3gpp-connect-res-info") {
        let payload = jws
            .split('.')
            .nth(1)
            .and_then(|p| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p).ok())
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
        let what = payload
            .map(|p| join(p.get("suggestedStatusCode"), p.get("suggestedCause")))
            .unwrap_or_default();
        return Some(
            format!("3gpp-Connect-Res-Info (JWS, signed): {what}")
                .trim_end_matches([':', ' '])
                .to_string(),
        );
    }
    if let Some(ps) = l.header("proxy-status") {
        let error = ps.split(';').map(str::trim).find_map(|p| p.strip_prefix("error="));
        let details = ps
            .split_once("details=")
            .map(|(_, d)| d.trim().trim_matches('"').replace("suggested-", ""));
        let mut s = "Proxy-Status".to_string();
        if let Some(e) = error {
            let _ = write!(s, " error={e}");
        }
        if let Some(d) = details {
            let _ = write!(s, ": {d}");
        }
        return Some(s);
    }
    let body = l.body_object()?;
    if body.contains_key("suggestedStatusCode") || body.contains_key("suggestedProblemDetails") {
        let cause = body.get("suggestedProblemDetails").and_then(|p| p.get("cause"));
        return Some(format!(
            "body suggestedStatusCode/ProblemDetails: {}",
            join(body.get("suggestedStatusCode"), cause)
        ));
    }
    if body.contains_key("suggestedStatus") || body.contains_key("suggestedCause") {
        return Some(format!(
            "body suggestedStatus/Cause (flat): {}",
            join(body.get("suggestedStatus"), body.get("suggestedCause"))
        ));
    }
    None
}

/// The reason phrase of an HTTP status (RFC 9110), or `""`.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

/// A path for a label: query replaced by `?…`, long identifiers (12+ characters, 4+ digits)
/// by `{id}`, and beyond 48 characters the middle segments by `…`.
pub fn short_path(path: &str) -> String {
    let (p, query) = match path.split_once('?') {
        Some((p, _)) => (p, "?…"),
        None => (path, ""),
    };
    let segs: Vec<&str> = p
        .split('/')
        .map(|s| {
            if s.chars().count() >= 12 && s.chars().filter(char::is_ascii_digit).count() >= 4 {
                "{id}"
            } else {
                s
            }
        })
        .collect();
    let mut out = segs.join("/");
    // "", api, version, ..., last: keep the API name and the last two segments.
    if out.chars().count() > 48 && segs.len() > 5 {
        let n = segs.len();
        out = format!("{}/{}/…/{}/{}", segs[0], segs[1], segs[n - 2], segs[n - 1]);
    }
    out + query
}

/// Light fills for the domain groups, in turn.
const GROUP_FILLS: [(u8, u8, u8); 6] = [
    (238, 243, 251),
    (240, 248, 236),
    (251, 243, 234),
    (245, 238, 249),
    (236, 248, 248),
    (251, 238, 240),
];

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::fixtures::{capif_trace, line, req, rsp};
    use super::svg::tests::assert_svg_well_formed;
    use super::*;

    #[test]
    fn transport_filter_and_limit() {
        // Every segment shown.
        let opts = Options {
            transport: true,
            ..Options::default()
        };
        let chart = from_trace_lines(&capif_trace(), &opts);
        assert_eq!(chart.arrows(), 15);
        assert_eq!(chart.notes(), 0);
        let m = to_mermaid(&chart);
        assert!(m.contains("invoker_1-)ccf_a: [458.926 ms] TCP SYN (conn 0)\n"), "{m}");
        // Only invoker-1 and ccf-a: the AEF's exchanges and the alert disappear.
        let opts = Options {
            nodes: Some(vec!["invoker-1".to_string(), "ccf-a".to_string()]),
            ..Options::default()
        };
        let chart = from_trace_lines(&capif_trace(), &opts);
        assert_eq!((chart.arrows(), chart.notes(), chart.participants.len()), (2, 1, 2));
        // Two arrows at most: the rest counted in the last note.
        let opts = Options {
            max_messages: 2,
            ..Options::default()
        };
        let chart = from_trace_lines(&capif_trace(), &opts);
        assert_eq!(
            (chart.arrows(), chart.omitted_messages, chart.omitted_setups),
            (2, 3, 1)
        );
        let m = to_mermaid(&chart);
        assert!(
            m.ends_with(
                "    Note over invoker_1,ccf_a: … 3 more messages and 1 connection set-up not shown (--max-messages 2)\n"
            ),
            "{m}"
        );
        // Nothing at all.
        let chart = from_trace_lines(&[json!({"nope": 1})], &Options::default());
        assert_eq!(chart.skipped_lines, 1);
        assert_eq!(to_mermaid(&chart), "sequenceDiagram\n    %% no messages\n");
        assert_svg_well_formed(&to_svg(&chart));
    }

    #[test]
    fn proxy_connect_refused_and_tunnelled() {
        let mut v = vec![
            line(1_000, "sepp-2", "ri-2", 4, "TCP SYN"),
            line(2_000, "ri-2", "sepp-2", 4, "TCP SYN-ACK"),
            req(3_000, "sepp-2", "ri-2", 4, "HTTP CONNECT", "CONNECT", "sepp-b"),
            rsp(4_000, "ri-2", "sepp-2", 4, "ProblemDetails", 403),
        ];
        v.extend(vec![
            line(10_000, "nf-a", "proxy", 5, "TCP SYN"),
            line(11_000, "proxy", "nf-a", 5, "TCP SYN-ACK"),
            req(12_000, "nf-a", "proxy", 5, "HTTP CONNECT", "CONNECT", "nf-b"),
            line(13_000, "proxy", "nf-b", 5, "TCP SYN"),
            line(14_000, "nf-b", "proxy", 5, "TCP SYN-ACK"),
            rsp(15_000, "proxy", "nf-a", 5, "HTTP CONNECT response", 200),
            line(16_000, "nf-a", "nf-b", 5, "TLS ClientHello"),
            line(17_000, "nf-b", "nf-a", 5, "TLS ServerHello..Finished"),
            line(18_000, "nf-a", "nf-b", 5, "TLS Certificate..Finished"),
            req(19_000, "nf-a", "nf-b", 5, "HTTP request", "POST", "/x/v1/a;b#c:d"),
            rsp(20_000, "nf-b", "nf-a", 5, "HTTP response", 200),
        ]);
        let chart = from_trace_lines(&v, &Options::default());
        let m = to_mermaid(&chart);
        assert!(
            m.contains("Note over sepp_2,ri_2: [0.001 ms] TCP connect + CONNECT sepp-b via ri-2 (conn 4, 0.003 ms)"),
            "{m}"
        );
        assert!(
            m.contains("ri_2-->>sepp_2: [0.004 ms] 403 ProblemDetails (CONNECT)"),
            "{m}"
        );
        assert!(
            m.contains("Note over nf_a,nf_b: [0.010 ms] TLS 1.3 certificate handshake via proxy (conn 5, 0.008 ms)"),
            "{m}"
        );
        assert!(
            m.contains("nf_a->>nf_b: [0.019 ms] POST /x/v1/a#59;b#35;c#58;d\n"),
            "{m}"
        );
        assert!(m.contains("nf_b-->>nf_a: [0.020 ms] 200 OK\n"), "{m}");
        // The proxy itself takes part only in the refused tunnel's note.
        assert_eq!(
            chart.participants.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
            ["sepp-2", "ri-2", "nf-a", "nf-b"]
        );
    }

    #[test]
    fn helpers() {
        assert_eq!(format_ms(525_009_214), "525.009");
        assert_eq!(format_ms(525_009_500), "525.010");
        assert_eq!(format_ms(0), "0.000");
        assert_eq!(format_ms(2_000_000_000), "2000.000");
        assert_eq!(
            short_path("/capif-security/v1/trustedInvokers/INV1421324881689490?a=b"),
            "/capif-security/v1/trustedInvokers/{id}?…"
        );
        assert_eq!(
            short_path("/nsecsim-long-api-name/v1/collection/sub-collection/item/leaf-resource"),
            "/nsecsim-long-api-name/…/item/leaf-resource"
        );
    }
}
