//! Sequence charts of one run's message trace, in the style of the 3GPP stage-3 figures:
//! `sequence.mmd` (a Mermaid `sequenceDiagram`) and `sequence.svg` (the same chart drawn
//! here, no external tool). `secsim trace` is [`run_trace`].
//!
//! ```text
//!  trace lines (JSON) ─► ChartBuilder::push ─► Chart ─┬─ to_mermaid ─► sequence.mmd
//!                        (filter, collapse, limit)    └─ to_svg     ─► sequence.svg
//! ```
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
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::engine::{Limits, Sim, SimDuration, SimTime, StopReason};
use crate::scenario::{ScenarioError, load_experiment};
use crate::world::{BuildError, SimWorld};

/// Default cap on the arrows of a chart.
pub const DEFAULT_MAX_MESSAGES: usize = 200;
/// SVG labels longer than this many characters are cut with `…`.
pub const MAX_LABEL_CHARS: usize = 60;

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

/// One trace line, as read.
struct Line<'a> {
    time_ns: u64,
    from: &'a str,
    to: &'a str,
    conn: Option<u64>,
    msg: &'a str,
    method: Option<&'a str>,
    path: Option<&'a str>,
    status: Option<u64>,
    bytes: Option<u64>,
    body: Option<&'a str>,
    /// The body as JSON, when it is an object.
    json: Option<&'a serde_json::Map<String, Value>>,
    /// Headers (CONNECT replies only).
    headers: Option<&'a serde_json::Map<String, Value>>,
    /// `"psk"` on a ClientHello offering a PSK.
    tls: Option<&'a str>,
}

impl<'a> Line<'a> {
    fn parse(v: &'a Value) -> Option<Line<'a>> {
        Some(Line {
            time_ns: v.get("time_ns")?.as_u64()?,
            from: v.get("from")?.as_str()?,
            to: v.get("to")?.as_str()?,
            conn: v.get("conn").and_then(Value::as_u64),
            msg: v.get("msg")?.as_str()?,
            method: v.get("method").and_then(Value::as_str),
            path: v.get("path").and_then(Value::as_str),
            status: v.get("status").and_then(Value::as_u64),
            bytes: v.get("bytes").and_then(Value::as_u64),
            body: v.get("body").and_then(Value::as_str),
            json: v.get("body").and_then(Value::as_object),
            headers: v.get("headers").and_then(Value::as_object),
            tls: v.get("tls").and_then(Value::as_str),
        })
    }

    fn detail(&self) -> String {
        let mut d = String::new();
        if let Some(c) = self.conn {
            let _ = write!(d, "conn {c}");
        }
        if let Some(b) = self.bytes {
            let _ = write!(d, "{}{b} bytes", if d.is_empty() { "" } else { ", " });
        }
        if let (Some(m), Some(p)) = (self.method, self.path) {
            let _ = write!(d, "{}{m} {p}", if d.is_empty() { "" } else { ", " });
        }
        d
    }
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
    connect_status: Option<u64>,
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

    fn text(&self, conn: u64) -> String {
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
    Setup(u64),
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
    setups: BTreeMap<u64, Setup>,
    rows: Vec<Pending>,
    shown: usize,
    omitted_messages: usize,
    late_setups: Vec<u64>,
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

    fn arrow(&mut self, l: &Line<'_>, kind: ArrowKind, label: String) {
        if !self.keeps(l.from, l.to) {
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
            detail: l.detail(),
        });
    }

    /// Records a set-up segment; a connection's first one places its note.
    fn setup_segment(&mut self, l: &Line<'_>, conn: u64) -> &mut Setup {
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
        s.bytes += l.bytes.unwrap_or(0);
        s
    }

    /// Adds one trace line.
    pub fn push(&mut self, v: &Value) {
        let Some(l) = Line::parse(v) else {
            self.skipped += 1;
            return;
        };
        self.lines += 1;
        let conn_suffix = l.conn.map(|c| format!(" (conn {c})")).unwrap_or_default();
        let pending_connect = l
            .conn
            .and_then(|c| self.setups.get(&c))
            .is_some_and(|s| s.connect_pending && s.client == l.to);
        if l.msg == "TLS Alert" {
            let label = format!("TLS Alert {}{conn_suffix}", l.body.unwrap_or("")).replace("  ", " ");
            self.arrow(&l, ArrowKind::Alert, label);
        } else if let (Some(conn), Some("CONNECT")) = (l.conn, l.method) {
            let target = l.path.unwrap_or("?").to_string();
            let s = self.setup_segment(&l, conn);
            s.proxy = Some((l.to.to_string(), target.clone()));
            s.connect_pending = true;
            if self.opts.transport {
                self.arrow(&l, ArrowKind::Request, format!("CONNECT {target}{conn_suffix}"));
            }
        } else if let (Some(conn), Some(status), true) = (l.conn, l.status, pending_connect) {
            let s = self.setup_segment(&l, conn);
            s.connect_pending = false;
            s.connect_status = Some(status);
            let what = if l.msg == "HTTP CONNECT response" {
                reason(status).to_string()
            } else {
                l.msg.to_string()
            };
            let label = format!("{status} {what}").trim_end().to_string();
            if self.opts.transport {
                self.arrow(&l, ArrowKind::Response, format!("{label} (CONNECT, conn {conn})"));
            } else if !(200..300).contains(&status) {
                self.arrow(&l, ArrowKind::Response, format!("{label} (CONNECT)"));
            }
            // What tells the rejection encodings apart: where the suggestion travels.
            if !(200..300).contains(&status)
                && let Some(text) = suggestion(&l)
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
            let s = self.setup_segment(&l, conn);
            match l.msg {
                "TCP SYN-ACK" => s.syn_ack = true,
                "TLS ClientHello" if s.hello.is_none() => {
                    s.hello = Some((l.from.to_string(), l.to.to_string()));
                    s.psk = l.tls == Some("psk");
                }
                "TLS Certificate..Finished" => s.finished = true,
                _ => {}
            }
            if self.opts.transport {
                self.arrow(&l, ArrowKind::Transport, format!("{}{conn_suffix}", l.msg));
            }
        } else if l.msg.starts_with("TCP ") || l.msg.starts_with("TLS ") {
            // A segment with no connection id: nothing to collapse it into.
            if self.opts.transport {
                self.arrow(&l, ArrowKind::Transport, l.msg.to_string());
            }
        } else if let Some(status) = l.status {
            let what = if l.msg.starts_with("HTTP ") {
                reason(status)
            } else {
                l.msg
            };
            self.arrow(
                &l,
                ArrowKind::Response,
                format!("{status} {what}").trim_end().to_string(),
            );
        } else {
            let what = if l.msg.starts_with("HTTP ") {
                l.path.map(short_path).unwrap_or_else(|| l.msg.to_string())
            } else {
                l.msg.to_string()
            };
            let label = match l.method {
                Some(m) => format!("{m} {what}"),
                None => what,
            };
            self.arrow(&l, ArrowKind::Request, label);
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
                    id: mermaid_id(name, &mut used_ids),
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
fn suggestion(l: &Line<'_>) -> Option<String> {
    use base64::Engine as _;
    let header = |name: &str| {
        l.headers?
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.as_str())
    };
    let join = |status: Option<&Value>, cause: Option<&Value>| {
        let status = status.and_then(Value::as_u64).map(|s| s.to_string());
        let cause = cause.and_then(Value::as_str).map(str::to_string);
        [status, cause].into_iter().flatten().collect::<Vec<_>>().join(" ")
    };
    if let Some(jws) = header("3gpp-connect-res-info") {
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
    if let Some(ps) = header("proxy-status") {
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
    let body = l.json?;
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
fn reason(status: u64) -> &'static str {
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
fn mermaid_id(name: &str, used: &mut BTreeSet<String>) -> String {
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

/// Light fills for the domain groups, in turn.
const GROUP_FILLS: [(u8, u8, u8); 6] = [
    (238, 243, 251),
    (240, 248, 236),
    (251, 243, 234),
    (245, 238, 249),
    (236, 248, 248),
    (251, 238, 240),
];

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

// ---------------------------------------------------------------------------------------
// SVG

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

// ---------------------------------------------------------------------------------------
// `secsim trace`

/// How to run `secsim trace`.
#[derive(Clone, Debug)]
pub struct TraceOptions {
    pub seed: u64,
    /// Stop here; default the experiment's duration.
    pub until: Option<SimDuration>,
    /// Output folder; default `results/<experiment name>`.
    pub out: Option<PathBuf>,
    pub nodes: Option<Vec<String>>,
    pub max_messages: usize,
    pub transport: bool,
}

impl Default for TraceOptions {
    fn default() -> Self {
        TraceOptions {
            seed: 1,
            until: None,
            out: None,
            nodes: None,
            max_messages: DEFAULT_MAX_MESSAGES,
            transport: false,
        }
    }
}

/// What `secsim trace` wrote.
#[derive(Clone, Debug)]
pub struct TraceOutput {
    pub mermaid: PathBuf,
    pub svg: PathBuf,
    /// The chart (without renderings).
    pub chart: Chart,
    pub events: u64,
    pub stop: StopReason,
    pub until: SimDuration,
}

/// Why `secsim trace` failed.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The experiment or topology file is bad: exit code 2.
    #[error("{0}")]
    Scenario(#[from] ScenarioError),
    /// The scenario loaded but no world could be built from it: exit code 2.
    #[error("{path}: {error}")]
    Build { path: String, error: BuildError },
    /// A bad flag value: exit code 2.
    #[error("{flag}: {message}")]
    Flag { flag: &'static str, message: String },
    /// Writing the outputs failed: exit code 1.
    #[error("{path}: {error}")]
    Io { path: String, error: std::io::Error },
}

impl TraceError {
    /// The process exit code: 2 for bad input, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            TraceError::Io { .. } => 1,
            _ => 2,
        }
    }
}

/// A `--until` value: a duration such as `2s` or `500ms`.
pub fn parse_until(text: &str) -> Result<SimDuration, String> {
    SimDuration::parse(text).map_err(|e| e.to_string())
}

/// A trace sink feeding a [`ChartBuilder`] line by line.
struct ChartSink {
    partial: Vec<u8>,
    builder: Arc<Mutex<ChartBuilder>>,
}

impl ChartSink {
    fn feed(&mut self, line: &[u8]) {
        let mut b = self.builder.lock().unwrap_or_else(|e| e.into_inner());
        match serde_json::from_slice::<Value>(line) {
            Ok(v) => b.push(&v),
            Err(_) => b.skipped += 1,
        }
    }
}

impl Write for ChartSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut rest = buf;
        while let Some(i) = rest.iter().position(|&c| c == b'\n') {
            if self.partial.is_empty() {
                self.feed(&rest[..i]);
            } else {
                self.partial.extend_from_slice(&rest[..i]);
                let line = std::mem::take(&mut self.partial);
                self.feed(&line);
            }
            rest = &rest[i + 1..];
        }
        self.partial.extend_from_slice(rest);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), TraceError> {
    let tmp = path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    fs::write(&tmp, bytes)
        .and_then(|_| fs::rename(&tmp, path))
        .map_err(|error| TraceError::Io {
            path: path.display().to_string(),
            error,
        })
}

/// Runs one seed of the experiment at `path` with the trace on, until `opts.until`, and
/// writes `sequence.mmd` and `sequence.svg` into the output folder.
pub fn run_trace(path: &Path, opts: &TraceOptions) -> Result<TraceOutput, TraceError> {
    let scn = load_experiment(path)?;
    let exp = &scn.experiment;
    if let Some(nodes) = &opts.nodes {
        let known: Vec<&str> = scn.topology.nodes.iter().map(|n| n.name.as_str()).collect();
        if nodes.is_empty() {
            return Err(TraceError::Flag {
                flag: "--nodes",
                message: "no node given".to_string(),
            });
        }
        for name in nodes {
            if name.trim().is_empty() {
                return Err(TraceError::Flag {
                    flag: "--nodes",
                    message: "empty node name in the list".to_string(),
                });
            }
            if !known.contains(&name.as_str()) {
                let best = known
                    .iter()
                    .map(|k| (strsim::levenshtein(k, name), *k))
                    .min()
                    .filter(|(d, _)| *d <= 3)
                    .map(|(_, k)| format!(" (did you mean `{k}`?)"))
                    .unwrap_or_default();
                return Err(TraceError::Flag {
                    flag: "--nodes",
                    message: format!(
                        "unknown node `{name}`: not a node of {}{best}",
                        scn.topology_path.display()
                    ),
                });
            }
        }
    }
    let world = SimWorld::build(&scn.topology, exp, opts.seed).map_err(|error| TraceError::Build {
        path: path.display().to_string(),
        error,
    })?;
    let until = opts.until.unwrap_or(exp.duration);
    let title = format!(
        "{} · seed {} · until {} ms",
        exp.name,
        opts.seed,
        format_ms(until.as_nanos())
    );
    let chart_opts = Options {
        title,
        transport: opts.transport,
        nodes: opts.nodes.clone(),
        max_messages: opts.max_messages,
        domains: scn
            .topology
            .nodes
            .iter()
            .map(|n| (n.name.clone(), n.domain.clone()))
            .collect(),
    };
    let builder = Arc::new(Mutex::new(ChartBuilder::new(chart_opts)));
    let initial = world.initial_events();
    let mut sim = Sim::new(world);
    sim.enable_trace(Some(Box::new(ChartSink {
        partial: Vec::new(),
        builder: Arc::clone(&builder),
    })));
    for (t, node, msg) in initial {
        sim.schedule(t, node, msg);
    }
    let stats = sim.run(Limits {
        until: SimTime::ZERO + until,
        max_events: exp.max_events.unwrap_or(crate::run::DEFAULT_MAX_EVENTS),
    });
    // The sink never fails.
    let _ = sim.finish_trace();
    drop(sim);
    let chart = std::mem::take(&mut *builder.lock().unwrap_or_else(|e| e.into_inner())).finish();

    let dir = opts.out.clone().unwrap_or_else(|| Path::new("results").join(&exp.name));
    fs::create_dir_all(&dir).map_err(|error| TraceError::Io {
        path: dir.display().to_string(),
        error,
    })?;
    let mermaid = dir.join("sequence.mmd");
    let svg = dir.join("sequence.svg");
    write_file(&mermaid, to_mermaid(&chart).as_bytes())?;
    write_file(&svg, to_svg(&chart).as_bytes())?;
    Ok(TraceOutput {
        mermaid,
        svg,
        chart,
        events: stats.events,
        stop: stats.reason,
        until,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn line(t: u64, from: &str, to: &str, conn: u64, msg: &str) -> Value {
        json!({"time_ns": t, "from": from, "to": to, "conn": conn, "msg": msg, "method": null,
               "path": null, "status": null, "bytes": 74, "body": null})
    }

    fn req(t: u64, from: &str, to: &str, conn: u64, msg: &str, method: &str, path: &str) -> Value {
        let mut v = line(t, from, to, conn, msg);
        v["method"] = json!(method);
        v["path"] = json!(path);
        v["bytes"] = json!(300);
        v
    }

    fn rsp(t: u64, from: &str, to: &str, conn: u64, msg: &str, status: u16) -> Value {
        let mut v = line(t, from, to, conn, msg);
        v["status"] = json!(status);
        v["bytes"] = json!(500);
        v
    }

    fn handshake(t: u64, c: &str, s: &str, conn: u64) -> Vec<Value> {
        vec![
            line(t, c, s, conn, "TCP SYN"),
            line(t + 1_000_000, s, c, conn, "TCP SYN-ACK"),
            line(t + 2_000_000, c, s, conn, "TLS ClientHello"),
            line(t + 3_000_000, s, c, conn, "TLS ServerHello..Finished"),
            line(t + 4_000_000, c, s, conn, "TLS Certificate..Finished"),
        ]
    }

    /// An invoker onboards at the CCF, then an AEF refuses it with an alert.
    fn capif_trace() -> Vec<Value> {
        let mut v = handshake(458_925_525, "invoker-1", "ccf-a", 0);
        v.push(req(
            525_009_214,
            "invoker-1",
            "ccf-a",
            0,
            "APIInvokerEnrolmentDetails",
            "POST",
            "/api-invoker-management/v1/onboardedInvokers",
        ));
        v.push(rsp(
            544_462_349,
            "ccf-a",
            "invoker-1",
            0,
            "APIInvokerEnrolmentDetails",
            201,
        ));
        v.extend(handshake(600_000_000, "aef-a1", "ccf-a", 1));
        v.push(req(
            610_000_000,
            "aef-a1",
            "ccf-a",
            1,
            "HTTP request",
            "GET",
            "/capif-security/v1/trustedInvokers/INV1421324881689490?authenticationInfo=true",
        ));
        v.push(rsp(611_000_000, "ccf-a", "aef-a1", 1, "HTTP response", 404));
        let mut alert = line(700_000_000, "aef-a1", "invoker-1", 2, "TLS Alert");
        alert["body"] = json!("bad_certificate");
        v.push(alert);
        v
    }

    fn domains() -> Vec<(String, String)> {
        [
            ("ccf-a", "provider-a"),
            ("aef-a1", "provider-a"),
            ("invoker-1", "internet"),
        ]
        .iter()
        .map(|(n, d)| (n.to_string(), d.to_string()))
        .collect()
    }

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
        let mut used = BTreeSet::new();
        assert_eq!(mermaid_id("end", &mut used), "nend");
        assert_eq!(mermaid_id("x-1", &mut used), "nx_1");
        assert_eq!(mermaid_id("a.b", &mut used), "a_b");
        assert_eq!(mermaid_id("a-b", &mut used), "a_b_2");
        assert_eq!(mermaid_id("5gc", &mut used), "n5gc");
        assert_eq!(mermaid_escape("a;b#c:d<e>"), "a#59;b#35;c#58;d#60;e#62;");
        let long = "x".repeat(80);
        let t = truncate_label(&long);
        assert_eq!(t.chars().count(), MAX_LABEL_CHARS);
        assert!(t.ends_with('…'));
        assert_eq!(text_width("", 12), 0);
        assert_eq!(text_width("m", 2048), 1995);
    }

    /// Tags balance, attributes are quoted, the root is `svg`.
    fn assert_svg_well_formed(svg: &str) {
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
}
