//! Semantic checks run once at load, after serde has accepted the shape of a file.
//!
//! Each check returns [`Issue`]s naming the field path of the offending value
//! (`links[3].target`); the loader locates them in the source and reports the first one in
//! file order. Checks, in the order they appear in a file:
//!
//! - topology: domain and node names unique, non-empty and at most [`MAX_NAME_BYTES`] (they
//!   are parts of DNS names and certificates); a node's domain exists; link
//!   endpoints exist and differ; no two links in the same direction; loss in [0, 1);
//!   bandwidth > 0 and finite; rto > 0; latency parameters sane (uniform min <= max,
//!   log-normal sigma >= 0 and finite, empirical non-empty); down windows `from < to`.
//! - experiment: name non-empty and usable as a folder name (`[A-Za-z0-9._-]`, at most
//!   [`MAX_NAME_BYTES`]);
//!   duration > 0; warmup < duration; seeds non-empty, without repeats, at most
//!   [`MAX_SEEDS`]; max_events > 0; max_records in 1..=1,000,000; workload non-empty;
//!   per flow, client != server, rate > 0 and finite, interval > 0, bodies <= 64 MiB,
//!   timeout > 0; the bodies the workload may have in flight (rate x timeout x bytes x
//!   copies) at most [`MAX_BODY_BYTES_IN_FLIGHT`].
//!   Capif flows: invokers non-empty, `aef_ccf` differs from `ccf`, `prefs` non-empty
//!   without duplicates. CAPIF knobs (`capif`): `psk_validity`, `token_lifetime` > 0,
//!   `invocations_per_session` >= 1, the interconnection knobs consistent
//!   ([`InterconnectionKnobs::validate`]), every methods list non-empty without duplicates,
//!   `apis` non-empty, method changes and revocations before the end of the run.
//!   `crypto.costs` slowdowns finite and >= 0. N32 flows: one N32 role per node across the
//!   flows (a SEPP is no NF, a consumer no producer). An AEF is registered at one CCF (the
//!   same `aef_ccf`, or `ccf`, in every Capif flow of that AEF).
//! - experiment on its topology: client, server and via exist; via has role `Proxy` or
//!   `Ri`; the pairs a flow needs (client → server, or client → via and via → server) are
//!   connected in the directed link graph (a duplex link counts both ways). Capif flows:
//!   `ccf` and `aef_ccf` are `Ccf` nodes, `aef` an `Aef` node; invokers are `Invoker` nodes,
//!   `prefix*` entries expand to at least one ([`expand_invokers`]), none is listed twice,
//!   each reaches `ccf` and `aef`; `aef` reaches `aef_ccf` and `ccf` reaches `aef_ccf`.
//!   `capif.aefs` keys are `Aef` nodes; a method change names the AEF of some Capif flow, a
//!   revocation an invoker of some Capif flow, a CCF restart a `Ccf` node some Capif flow uses
//!   (`ccf` or `aef_ccf`), before the end of the run and with `down` > 0.
//!   `n32.ri_policies` keys are `Ri` nodes; every PLMN a policy names (contracts,
//!   `unreachable`, scripted `target_plmn`) is the domain of some `Sepp` node. An N32
//!   flow's consumer and producer are neither `Ri` nodes nor nodes of a Capif flow; an HTTP
//!   flow uses no node of an N32 or Capif flow.
//!
//! Every check the world's builder ([`crate::build`]) makes is made here too, so `validate`
//! and `run` give one verdict, located. Values from the input are quoted with [`quoted`].
//!
//! [`InterconnectionKnobs::validate`]: crate::proto::capif::interconnection::InterconnectionKnobs::validate

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;

use super::load::Scenario;
use super::schema::{ArrivalSpec, ExperimentFile, LatencySpec, NodeRole, TopologyFile, WorkloadSpec};
use crate::engine::SimDuration;
use crate::proto::capif::types::SecurityMethod;

/// The largest request or response body \[bytes\] (64 MiB).
pub const MAX_BODY_BYTES: u32 = 64 * 1024 * 1024;

/// A semantic problem with one value, not yet located in the source.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Issue {
    /// Dotted field path, as in [`ScenarioError::field`](super::ScenarioError::field).
    pub field: String,
    /// Lowercase.
    pub message: String,
    pub suggestion: Option<String>,
}

impl Issue {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Issue {
        Issue {
            field: field.into(),
            message: message.into(),
            suggestion: None,
        }
    }

    fn suggest(mut self, suggestion: Option<String>) -> Issue {
        self.suggestion = suggestion;
        self
    }
}

/// The longest experiment name \[bytes\]: it names the results folder, and file systems
/// allow 255 bytes per name.
pub const MAX_NAME_BYTES: usize = 255;

/// The most seeds an experiment may list (and `--seeds` may ask for): each is a whole run.
pub const MAX_SEEDS: u64 = 100_000;

/// The most characters of a value from the input that a message quotes ([`quoted`]).
pub const MAX_QUOTED_CHARS: usize = 100;

/// A value from the input as a message quotes it: in backticks, and if it is longer than
/// [`MAX_QUOTED_CHARS`] characters, its first ones, `…` and its whole length, so that a
/// name of megabytes does not bury the message (`quoted("nf-a")` is `` `nf-a` ``). Every
/// message that echoes user text goes through this.
pub fn quoted(s: &str) -> String {
    match s.char_indices().nth(MAX_QUOTED_CHARS) {
        None => format!("`{s}`"),
        Some((cut, _)) => format!("`{}…` ({} bytes)", &s[..cut], s.len()),
    }
}

/// The longest name [`suggest`] compares \[characters\].
pub const MAX_SUGGEST_CHARS: usize = 256;

/// The candidate nearest to `found`, if any is near enough to be a likely typo.
///
/// Nearness: case-insensitive Damerau-Levenshtein distance at most a third of the
/// candidate's length (at least 1), or Jaro-Winkler similarity >= 0.88; ties go to the
/// higher similarity, then to the earlier candidate.
///
/// Names longer than [`MAX_SUGGEST_CHARS`] get no suggestion and are never suggested (the
/// distance costs time and memory in the product of the lengths), and a candidate whose
/// length is less than 0.4 times the other's (and differs by 2 or more) is skipped unmeasured:
/// it can pass neither test.
pub fn suggest<'a>(found: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let f = found.to_lowercase();
    let f_len = f.chars().count();
    if f_len > MAX_SUGGEST_CHARS {
        return None;
    }
    let mut best: Option<(usize, f64, &str)> = None;
    for c in candidates {
        if c == found {
            continue;
        }
        let cl = c.to_lowercase();
        let c_len = cl.chars().count();
        let (short, long) = (f_len.min(c_len), f_len.max(c_len));
        // Damerau-Levenshtein >= long - short > max(len / 3, 1), and Jaro <= (2 + short /
        // long) / 3 < 0.8, so Jaro-Winkler <= 0.4 + 0.6 Jaro < 0.88.
        if c_len > MAX_SUGGEST_CHARS || (long - short >= 2 && short * 5 < long * 2) {
            continue;
        }
        let d = strsim::damerau_levenshtein(&f, &cl);
        let jw = strsim::jaro_winkler(&f, &cl);
        if d > (cl.chars().count() / 3).max(1) && jw < 0.88 {
            continue;
        }
        let better = match best {
            None => true,
            Some((bd, bjw, _)) => d < bd || (d == bd && jw > bjw),
        };
        if better {
            best = Some((d, jw, c));
        }
    }
    best.map(|(_, _, c)| c.to_string())
}

fn bad_f64(x: f64) -> bool {
    !x.is_finite()
}

/// Checks a latency distribution written at `at` (`links[0].latency`).
fn latency(at: &str, spec: &LatencySpec, out: &mut Vec<Issue>) {
    let before = out.len();
    latency_fields(at, spec, out);
    // Whatever else the link model refuses when it is built, refused here too.
    if out.len() == before
        && let Err(e) = crate::net::link::Latency::from_spec(spec)
    {
        out.push(Issue::new(at.to_string(), e.to_string()));
    }
}

fn latency_fields(at: &str, spec: &LatencySpec, out: &mut Vec<Issue>) {
    match spec {
        LatencySpec::Constant(_) | LatencySpec::Normal { .. } | LatencySpec::Exponential { .. } => {}
        LatencySpec::Uniform { min, max } => {
            if min > max {
                out.push(Issue::new(
                    format!("{at}.Uniform.min"),
                    format!("uniform min {min} is greater than max {max}"),
                ));
            }
        }
        LatencySpec::LogNormal { sigma, median } => {
            if median.as_nanos() == 0 {
                out.push(Issue::new(
                    format!("{at}.LogNormal.median"),
                    "log-normal median must be > 0 (its logarithm is the distribution's location)",
                ));
            }
            if bad_f64(*sigma) || *sigma < 0.0 {
                out.push(Issue::new(
                    format!("{at}.LogNormal.sigma"),
                    format!("log-normal sigma {sigma} must be finite and >= 0"),
                ));
            }
        }
        LatencySpec::Empirical(samples) => {
            if samples.is_empty() {
                out.push(Issue::new(
                    format!("{at}.Empirical"),
                    "empirical latency needs at least one sample",
                ));
            }
        }
    }
}

/// A node or domain name above [`MAX_NAME_BYTES`]: each names DNS names (`<node>.5gc.example`,
/// `ca.<domain>`), which hold at most 255 bytes (RFC 1035 2.3.4), and certificate fields.
fn long_name(field: String, what: &str, name: &str) -> Option<Issue> {
    (name.len() > MAX_NAME_BYTES).then(|| {
        Issue::new(
            field,
            format!(
                "{what} name {} is above the limit of {MAX_NAME_BYTES} bytes (it is part of DNS names and \
                 certificates)",
                quoted(name)
            ),
        )
    })
}

/// Checks a topology on its own.
pub fn topology(t: &TopologyFile) -> Vec<Issue> {
    let mut out = Vec::new();
    let mut domains: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, d) in t.domains.iter().enumerate() {
        if d.name.is_empty() {
            out.push(Issue::new(format!("domains[{i}].name"), "domain name is empty"));
        } else if let Some(issue) = long_name(format!("domains[{i}].name"), "domain", &d.name) {
            out.push(issue);
        } else if let Some(j) = domains.get(d.name.as_str()) {
            out.push(Issue::new(
                format!("domains[{i}].name"),
                format!("duplicate domain {} (first defined at domains[{j}])", quoted(&d.name)),
            ));
        } else {
            domains.insert(&d.name, i);
        }
    }
    let domain_names: Vec<&str> = t.domains.iter().map(|d| d.name.as_str()).collect();
    let mut nodes: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, n) in t.nodes.iter().enumerate() {
        if n.name.is_empty() {
            out.push(Issue::new(format!("nodes[{i}].name"), "node name is empty"));
        } else if let Some(issue) = long_name(format!("nodes[{i}].name"), "node", &n.name) {
            out.push(issue);
        } else if let Some(j) = nodes.get(n.name.as_str()) {
            out.push(Issue::new(
                format!("nodes[{i}].name"),
                format!("duplicate node {} (first defined at nodes[{j}])", quoted(&n.name)),
            ));
        } else {
            nodes.insert(&n.name, i);
        }
        if !domains.contains_key(n.domain.as_str()) {
            out.push(
                Issue::new(
                    format!("nodes[{i}].domain"),
                    format!("unknown domain {}", quoted(&n.domain)),
                )
                .suggest(suggest(&n.domain, domain_names.iter().copied())),
            );
        }
    }
    let node_names: Vec<&str> = t.nodes.iter().map(|n| n.name.as_str()).collect();
    let mut directed: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for (i, l) in t.links.iter().enumerate() {
        let at = format!("links[{i}]");
        let mut endpoints_ok = true;
        for (field, name) in [("source", &l.source), ("target", &l.target)] {
            if !nodes.contains_key(name.as_str()) {
                endpoints_ok = false;
                out.push(
                    Issue::new(format!("{at}.{field}"), format!("unknown node {}", quoted(name)))
                        .suggest(suggest(name, node_names.iter().copied())),
                );
            }
        }
        if l.source == l.target {
            endpoints_ok = false;
            out.push(Issue::new(
                format!("{at}.target"),
                format!("link from {} to itself", quoted(&l.source)),
            ));
        }
        if endpoints_ok {
            let mut dirs = vec![(l.source.as_str(), l.target.as_str())];
            if l.duplex {
                dirs.push((l.target.as_str(), l.source.as_str()));
            }
            for (s, d) in dirs {
                if let Some(j) = directed.get(&(s, d)) {
                    out.push(Issue::new(
                        format!("{at}.source"),
                        format!(
                            "duplicate link {} -> {} (already made by links[{j}])",
                            quoted(s),
                            quoted(d)
                        ),
                    ));
                    break;
                }
                directed.insert((s, d), i);
            }
        }
        latency(&format!("{at}.latency"), &l.latency, &mut out);
        if bad_f64(l.loss) || !(0.0..1.0).contains(&l.loss) {
            out.push(Issue::new(
                format!("{at}.loss"),
                format!("loss {} must be in [0, 1)", l.loss),
            ));
        }
        if let Some(rto) = l.rto
            && rto.as_nanos() == 0
        {
            out.push(Issue::new(format!("{at}.rto"), "rto must be > 0"));
        }
        if let Some(bw) = l.bandwidth_mbps
            && (bad_f64(bw) || bw <= 0.0)
        {
            out.push(Issue::new(
                format!("{at}.bandwidth_mbps"),
                format!("bandwidth {bw} Mbit/s must be finite and > 0"),
            ));
        }
        for (j, w) in l.down.iter().enumerate() {
            if let Some(to) = w.to
                && w.from >= to
            {
                out.push(Issue::new(
                    format!("{at}.down[{j}].to"),
                    format!(
                        "down window ends ({to}) before it starts ({}); `to` must be after `from`",
                        w.from
                    ),
                ));
            }
        }
    }
    out
}

fn folder_safe(name: &str) -> bool {
    name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Checks an experiment on its own (not its topology).
pub fn experiment(e: &ExperimentFile) -> Vec<Issue> {
    let mut out = Vec::new();
    if e.name.is_empty() {
        out.push(Issue::new("name", "experiment name is empty"));
    } else if e.name.len() > MAX_NAME_BYTES {
        out.push(Issue::new(
            "name",
            format!(
                "experiment name is {} bytes long, above the limit of {MAX_NAME_BYTES} (it names a folder)",
                e.name.len()
            ),
        ));
    } else if !folder_safe(&e.name) {
        out.push(Issue::new(
            "name",
            format!(
                "name {} is not usable as a folder name (use only A-Z, a-z, 0-9, `.`, `_`, `-`)",
                quoted(&e.name)
            ),
        ));
    }
    if e.topology.is_empty() {
        out.push(Issue::new("topology", "topology path is empty"));
    }
    if e.duration.as_nanos() == 0 {
        out.push(Issue::new("duration", "duration must be > 0"));
    } else if e.warmup >= e.duration {
        out.push(Issue::new(
            "warmup",
            format!("warmup {} must be shorter than the duration {}", e.warmup, e.duration),
        ));
    }
    match e.seeds.as_deref() {
        Some([]) => out.push(Issue::new(
            "seeds",
            "seeds list is empty (leave it out for the default `[1]`)",
        )),
        Some(seeds) if seeds.len() > MAX_SEEDS as usize => out.push(Issue::new(
            "seeds",
            format!("{} seeds, above the limit of {MAX_SEEDS}", seeds.len()),
        )),
        Some(seeds) => {
            // A repeated seed runs the same simulation twice and counts it twice.
            let mut first = BTreeMap::new();
            if let Some((i, seed, j)) = seeds
                .iter()
                .enumerate()
                .find_map(|(i, s)| first.insert(*s, i).map(|j| (i, s, j)))
            {
                out.push(Issue::new(
                    format!("seeds[{i}]"),
                    format!("seed {seed} is listed twice (also at seeds[{j}])"),
                ));
            }
        }
        None => {}
    }
    if e.max_events == Some(0) {
        out.push(Issue::new("max_events", "max_events must be > 0"));
    }
    if let Some(n) = e.max_records
        && !(1..=crate::run::MAX_RECORDS_IN_MEMORY).contains(&n)
    {
        out.push(Issue::new(
            "max_records",
            format!(
                "max_records {n} must be between 1 and {} (the records a run may hold in memory)",
                crate::run::MAX_RECORDS_IN_MEMORY
            ),
        ));
    }
    if let Some(idle) = e.network.idle_timeout
        && idle.as_nanos() == 0
    {
        out.push(Issue::new("network.idle_timeout", "idle_timeout must be > 0"));
    }
    if e.workload.is_empty() && e.workload_generators.is_empty() {
        out.push(Issue::new(
            "workload",
            "workload is empty: give at least one flow (or a workload generator)",
        ));
    }
    for (i, w) in e.workload.iter().enumerate() {
        let f = w.view();
        let at = format!("workload[{i}].{}", f.kind);
        if let WorkloadSpec::Http(h) = w {
            if h.client == h.server {
                out.push(Issue::new(
                    format!("{at}.server"),
                    format!("client and server are both {}", quoted(&h.client)),
                ));
            }
            if h.via.as_ref().is_some_and(|v| *v == h.client || *v == h.server) {
                out.push(Issue::new(
                    format!("{at}.via"),
                    "via must differ from client and server",
                ));
            }
        }
        if let WorkloadSpec::N32(n) = w {
            if n.c_sepp == n.p_sepp {
                out.push(Issue::new(
                    format!("{at}.p_sepp"),
                    format!("c_sepp and p_sepp are both {}", quoted(&n.c_sepp)),
                ));
            }
            if n.n32f_ris.len() > 2 {
                out.push(Issue::new(
                    format!("{at}.n32f_ris"),
                    "at most two Roaming Intermediaries may be on N32-f",
                ));
            }
        }
        if let WorkloadSpec::Capif(c) = w {
            if c.invokers.is_empty() {
                out.push(Issue::new(
                    format!("{at}.invokers"),
                    "invokers is empty: give at least one invoker node or `prefix*` pattern",
                ));
            }
            if c.aef_ccf.as_ref().is_some_and(|a| *a == c.ccf) {
                out.push(Issue::new(
                    format!("{at}.aef_ccf"),
                    format!(
                        "ccf and aef_ccf are both {} (leave aef_ccf out when the AEF is registered at the \
                         invokers' CCF)",
                        quoted(&c.ccf)
                    ),
                ));
            }
            if let Some(prefs) = &c.prefs {
                methods(&format!("{at}.prefs"), prefs, &mut out);
            }
        }
        match f.arrival {
            ArrivalSpec::Poisson { rate_per_s } => {
                if bad_f64(*rate_per_s) || *rate_per_s <= 0.0 {
                    out.push(Issue::new(
                        format!("{at}.arrival.Poisson.rate_per_s"),
                        format!("rate {rate_per_s}/s must be finite and > 0"),
                    ));
                }
            }
            ArrivalSpec::Periodic { interval } => {
                if interval.as_nanos() == 0 {
                    out.push(Issue::new(
                        format!("{at}.arrival.Periodic.interval"),
                        "interval must be > 0",
                    ));
                }
            }
        }
        arrival_bounds(e, &at, f.arrival, &mut out);
        for (field, bytes) in [("request_bytes", f.request_bytes), ("response_bytes", f.response_bytes)] {
            if bytes > MAX_BODY_BYTES {
                out.push(Issue::new(
                    format!("{at}.{field}"),
                    format!("{field} {bytes} is above the limit of {MAX_BODY_BYTES} (64 MiB)"),
                ));
            }
        }
        if let Some(p) = f.processing {
            latency(&format!("{at}.processing"), p, &mut out);
        }
        if f.timeout.as_nanos() == 0 {
            out.push(Issue::new(format!("{at}.timeout"), "timeout must be > 0"));
        }
    }
    for (i, f) in e.n32.faults.iter().enumerate() {
        if f.every == 0 {
            out.push(Issue::new(
                format!("n32.faults[{i}].every"),
                "every must be >= 1 (the fault hits every `every`-th N32-f message)",
            ));
        }
    }
    // An estimate over the whole workload: judged only once each flow is sound (a rate
    // below the clock's resolution is the problem to report, not its bodies).
    if out.is_empty() {
        bodies_in_flight(e, &mut out);
    }
    capif_knobs(e, &mut out);
    crypto_costs(e, &mut out);
    n32_roles(e, &mut out);
    aef_registrations(e, &mut out);
    out
}

/// The cost model's own checks (the world runs them too when it is built), located.
fn crypto_costs(e: &ExperimentFile, out: &mut Vec<Issue>) {
    let Some(costs) = &e.crypto.costs else { return };
    for (class, c) in &costs.classes {
        if bad_f64(c.slowdown) || c.slowdown < 0.0 {
            out.push(Issue::new(
                format!("crypto.costs.classes[\"{class}\"].slowdown"),
                format!(
                    "node class {} has slowdown {}; it must be finite and >= 0",
                    quoted(class),
                    c.slowdown
                ),
            ));
        }
    }
}

/// What a node is to the N32 plane: one machine per node, so one of these across every N32
/// flow (a SEPP may be the c-SEPP of some flows and the p-SEPP of others).
#[derive(Clone, Copy, Eq, PartialEq)]
enum N32Role {
    Sepp,
    Consumer,
    Producer,
}

/// Each node has one N32 role across the N32 flows: a SEPP is no NF, a consumer no
/// producer (the builder refuses both: a node runs one machine).
fn n32_roles(e: &ExperimentFile, out: &mut Vec<Issue>) {
    let mut first: BTreeMap<&str, (N32Role, usize, &str)> = BTreeMap::new();
    for (i, w) in e.workload.iter().enumerate() {
        let WorkloadSpec::N32(f) = w else { continue };
        let fields = [
            ("consumer", f.consumer.as_str(), N32Role::Consumer),
            ("c_sepp", &f.c_sepp, N32Role::Sepp),
            ("p_sepp", &f.p_sepp, N32Role::Sepp),
            ("producer", &f.producer, N32Role::Producer),
        ];
        for (field, name, role) in fields {
            let Some(&(had, k, there)) = first.get(name) else {
                first.insert(name, (role, i, field));
                continue;
            };
            if had == role {
                continue;
            }
            let why = match (had, role) {
                (N32Role::Sepp, _) | (_, N32Role::Sepp) => "a node is either a SEPP or an NF, not both",
                _ => "a node is either a consumer or a producer NF, not both",
            };
            out.push(Issue::new(
                format!("workload[{i}].N32.{field}"),
                format!("{} is already the {there} of workload[{k}]: {why}", quoted(name)),
            ));
            break;
        }
    }
}

/// An AEF is registered at one CCF: every Capif flow with that AEF names the same `aef_ccf`
/// (or, without one, the same `ccf`).
fn aef_registrations(e: &ExperimentFile, out: &mut Vec<Issue>) {
    let mut home: BTreeMap<&str, (&str, usize)> = BTreeMap::new();
    for (i, w) in e.workload.iter().enumerate() {
        let WorkloadSpec::Capif(f) = w else { continue };
        let (ccf, field) = match &f.aef_ccf {
            Some(a) => (a.as_str(), "aef_ccf"),
            None => (f.ccf.as_str(), "ccf"),
        };
        match home.get(f.aef.as_str()) {
            None => {
                home.insert(&f.aef, (ccf, i));
            }
            Some(&(other, k)) if other != ccf => out.push(Issue::new(
                format!("workload[{i}].Capif.{field}"),
                format!(
                    "AEF {} is registered at {} here and at {} in workload[{k}]: an AEF is registered at one CCF \
                     (give every flow of this AEF the same aef_ccf)",
                    quoted(&f.aef),
                    quoted(ccf),
                    quoted(other)
                ),
            )),
            Some(_) => {}
        }
    }
}

/// The most bytes the request and response bodies in flight may be expected to take at once
/// \[bytes\] (1 GiB), counting the copies a request's bodies make on their way
/// (3 a request for HTTP and CAPIF, 10 for N32).
pub const MAX_BODY_BYTES_IN_FLIGHT: u64 = 1024 * 1024 * 1024;

/// The copies of its bodies one request in flight holds (measured as peak resident bytes
/// per body byte with 64 MiB bodies: 2.3 for HTTP; 10 for N32, whose SEPPs and
/// intermediaries re-encode the message; CAPIF answers as HTTP).
fn body_copies(w: &WorkloadSpec) -> u64 {
    match w {
        WorkloadSpec::N32(_) => 10,
        _ => 3,
    }
}

/// What cannot run in bounded memory: flows whose bodies in flight, estimated as the
/// requests a flow may have outstanding (its rate times its timeout, or the run's duration
/// if shorter; at least one; times the invokers of a Capif flow) times their request and
/// response bytes times [`body_copies`], sum over the workload to more than
/// [`MAX_BODY_BYTES_IN_FLIGHT`]. The flow that crosses the limit is blamed at its larger
/// body field.
fn bodies_in_flight(e: &ExperimentFile, out: &mut Vec<Issue>) {
    let mut total = 0f64;
    for (i, w) in e.workload.iter().enumerate() {
        let f = w.view();
        let rate_per_s = match *f.arrival {
            ArrivalSpec::Poisson { rate_per_s } if rate_per_s.is_finite() && rate_per_s > 0.0 => rate_per_s,
            ArrivalSpec::Periodic { interval } if interval.as_nanos() > 0 => 1e9 / interval.as_nanos() as f64,
            _ => continue, // refused elsewhere
        };
        let window_s = f.timeout.min(e.duration).as_nanos() as f64 / 1e9;
        let members = match w {
            WorkloadSpec::Capif(c) => c.invokers.len().max(1) as f64,
            _ => 1.0,
        };
        let outstanding = (rate_per_s * window_s).max(1.0) * members;
        let each = u64::from(f.request_bytes) + u64::from(f.response_bytes);
        total += outstanding * (each * body_copies(w)) as f64;
        if total > MAX_BODY_BYTES_IN_FLIGHT as f64 {
            let field = if f.request_bytes >= f.response_bytes && !matches!(w, WorkloadSpec::Capif(_)) {
                "request_bytes"
            } else {
                "response_bytes"
            };
            out.push(Issue::new(
                format!("workload[{i}].{}.{field}", f.kind),
                format!(
                    "about {outstanding:.0} requests of {each} body bytes could be in flight at once (rate x timeout), \
                     so the workload up to this flow could hold about {:.0} MiB for bodies ({} copies a request), \
                     above the limit of {} MiB: lower request_bytes or response_bytes, the rate or the timeout",
                    total / (1024.0 * 1024.0),
                    body_copies(w),
                    MAX_BODY_BYTES_IN_FLIGHT / (1024 * 1024)
                ),
            ));
            return;
        }
    }
}

/// What cannot run: an arrival process whose mean gap is below the clock's 1 ns resolution,
/// or one flow whose arrivals alone (each at least one event) exceed the run's event limit.
fn arrival_bounds(e: &ExperimentFile, at: &str, arrival: &ArrivalSpec, out: &mut Vec<Issue>) {
    let (field, gap_ns) = match *arrival {
        ArrivalSpec::Poisson { rate_per_s } if rate_per_s > 0.0 && rate_per_s.is_finite() => {
            (format!("{at}.arrival.Poisson.rate_per_s"), 1e9 / rate_per_s)
        }
        ArrivalSpec::Periodic { interval } if interval.as_nanos() > 0 => {
            (format!("{at}.arrival.Periodic.interval"), interval.as_nanos() as f64)
        }
        _ => return, // refused above
    };
    if gap_ns < 1.0 {
        out.push(Issue::new(
            field,
            format!("a mean gap of {gap_ns:.3e} ns between arrivals is below the clock's resolution of 1 ns"),
        ));
        return;
    }
    let max_events = e.max_events.unwrap_or(crate::run::DEFAULT_MAX_EVENTS);
    let arrivals = e.duration.as_nanos() as f64 / gap_ns;
    if arrivals > max_events as f64 {
        out.push(Issue::new(
            field,
            format!(
                "this flow alone would start about {arrivals:.3e} procedures in {}, more than the event \
                 limit of {max_events} (`max_events`): lower the rate or the duration, or raise max_events",
                e.duration
            ),
        ));
    }
}

/// Checks a list of security methods written at `at`: non-empty, no duplicates.
fn methods(at: &str, list: &[SecurityMethod], out: &mut Vec<Issue>) {
    let field = at.rsplit('.').next().unwrap_or(at);
    if list.is_empty() {
        out.push(Issue::new(
            at,
            format!("{field} is empty: give at least one security method (`PSK`, `PKI`, `OAUTH`)"),
        ));
    }
    let mut seen: BTreeMap<&SecurityMethod, usize> = BTreeMap::new();
    for (j, m) in list.iter().enumerate() {
        if let Some(first) = seen.get(m) {
            out.push(Issue::new(
                format!("{at}[{j}]"),
                format!("duplicate security method `{m}` (already at {field}[{first}])"),
            ));
        } else {
            seen.insert(m, j);
        }
    }
}

/// Checks that a scripted event at `at` falls inside the run.
fn before_end(field: String, what: &str, at: SimDuration, duration: SimDuration, out: &mut Vec<Issue>) {
    if duration.as_nanos() > 0 && at >= duration {
        out.push(Issue::new(
            field,
            format!("{what} at {at} is not before the end of the run (duration {duration})"),
        ));
    }
}

/// The CAPIF knobs that need no topology.
fn capif_knobs(e: &ExperimentFile, out: &mut Vec<Issue>) {
    let c = &e.capif;
    for (field, value) in [("psk_validity", c.psk_validity), ("token_lifetime", c.token_lifetime)] {
        if value.is_some_and(|v| v.as_nanos() == 0) {
            out.push(Issue::new(format!("capif.{field}"), format!("{field} must be > 0")));
        }
    }
    if let Some(share) = c.event_subscribers
        && (bad_f64(share) || !(0.0..=1.0).contains(&share))
    {
        out.push(Issue::new(
            "capif.event_subscribers",
            format!("event_subscribers {share} must be in [0, 1] (a share of the invokers)"),
        ));
    }
    if c.invocations_per_session == Some(0) {
        out.push(Issue::new(
            "capif.invocations_per_session",
            "invocations_per_session must be >= 1",
        ));
    }
    if let Err(err) = c.interconnection.validate() {
        out.push(Issue::new("capif.interconnection", err.to_string()));
    }
    for (name, aef) in &c.aefs {
        let at = format!("capif.aefs[\"{name}\"]");
        if let Some(m) = &aef.methods {
            methods(&format!("{at}.methods"), m, out);
        }
        if let Some(m) = &aef.interface_methods {
            methods(&format!("{at}.interface_methods"), m, out);
        }
        if let Some(apis) = &aef.apis {
            if apis.is_empty() {
                out.push(Issue::new(
                    format!("{at}.apis"),
                    "apis is empty: give at least one API name (leave it out for `[\"api1\"]`)",
                ));
            }
            let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
            for (j, api) in apis.iter().enumerate() {
                if api.is_empty() {
                    out.push(Issue::new(format!("{at}.apis[{j}]"), "API name is empty"));
                } else if let Some(first) = seen.get(api.as_str()) {
                    out.push(Issue::new(
                        format!("{at}.apis[{j}]"),
                        format!("duplicate API {} (already at apis[{first}])", quoted(api)),
                    ));
                } else {
                    seen.insert(api, j);
                }
            }
        }
    }
    for (k, m) in c.method_changes.iter().enumerate() {
        let at = format!("capif.method_changes[{k}]");
        before_end(format!("{at}.at"), "method change", m.at, e.duration, out);
        methods(&format!("{at}.methods"), &m.methods, out);
    }
    for (k, r) in c.revocations.iter().enumerate() {
        before_end(
            format!("capif.revocations[{k}].at"),
            "revocation",
            r.at,
            e.duration,
            out,
        );
    }
    for (k, r) in c.ccf_restarts.iter().enumerate() {
        let at = format!("capif.ccf_restarts[{k}]");
        before_end(format!("{at}.at"), "CCF restart", r.at, e.duration, out);
        if r.down.as_nanos() == 0 {
            out.push(Issue::new(format!("{at}.down"), "down must be > 0"));
        }
    }
}

/// The directed link graph of a topology, by node name (duplex links count both ways).
pub fn adjacency(t: &TopologyFile) -> BTreeMap<&str, BTreeSet<&str>> {
    let mut adj: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for l in &t.links {
        adj.entry(&l.source).or_default().insert(&l.target);
        if l.duplex {
            adj.entry(&l.target).or_default().insert(&l.source);
        }
    }
    adj
}

/// Whether `to` can be reached from `from` over directed links (breadth-first).
pub fn reachable(adj: &BTreeMap<&str, BTreeSet<&str>>, from: &str, to: &str) -> bool {
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut queue: VecDeque<&str> = VecDeque::from([from]);
    while let Some(n) = queue.pop_front() {
        if n == to {
            return true;
        }
        if !seen.insert(n) {
            continue;
        }
        if let Some(next) = adj.get(n) {
            queue.extend(next.iter().copied().filter(|m| !seen.contains(m)));
        }
    }
    false
}

/// Reachability between nodes over directed links, for many questions on one topology: the
/// strongly connected components are found once (Tarjan, O(V + E)); two nodes of one
/// component reach each other, and otherwise the components that reach a target's component
/// are found by one search on the reversed condensation, memoized per target component. A
/// topology of duplex links is one component per connected part, so every question is a
/// lookup: linear in the size of the topology, however many flows ask (issue 16).
pub struct Reach<'a> {
    component: BTreeMap<&'a str, usize>,
    /// Reversed condensation: `radj[c]` = the components with a link into `c`.
    radj: Vec<Vec<usize>>,
    memo: BTreeMap<usize, Vec<bool>>,
}

impl<'a> Reach<'a> {
    /// The components of `adj`'s graph (see [`adjacency`]).
    pub fn new(adj: &BTreeMap<&'a str, BTreeSet<&'a str>>) -> Self {
        let mut g: petgraph::graph::DiGraph<&'a str, ()> = petgraph::graph::DiGraph::new();
        let mut id: BTreeMap<&'a str, petgraph::graph::NodeIndex> = BTreeMap::new();
        let mut node =
            |g: &mut petgraph::graph::DiGraph<&'a str, ()>, n: &'a str| *id.entry(n).or_insert_with(|| g.add_node(n));
        for (&from, tos) in adj {
            let a = node(&mut g, from);
            for &to in tos {
                let b = node(&mut g, to);
                g.add_edge(a, b, ());
            }
        }
        let sccs = petgraph::algo::tarjan_scc(&g);
        let mut of = vec![0usize; g.node_count()];
        let mut component = BTreeMap::new();
        for (c, members) in sccs.iter().enumerate() {
            for &m in members {
                of[m.index()] = c;
                component.insert(g[m], c);
            }
        }
        let mut radj: Vec<Vec<usize>> = vec![Vec::new(); sccs.len()];
        for e in g.raw_edges() {
            let (a, b) = (of[e.source().index()], of[e.target().index()]);
            if a != b {
                radj[b].push(a);
            }
        }
        for r in &mut radj {
            r.sort_unstable();
            r.dedup();
        }
        Reach {
            component,
            radj,
            memo: BTreeMap::new(),
        }
    }

    /// Whether `to` can be reached from `from` (a node reaches itself).
    pub fn connected(&mut self, from: &str, to: &str) -> bool {
        if from == to {
            return true;
        }
        let (Some(&a), Some(&b)) = (self.component.get(from), self.component.get(to)) else {
            return false;
        };
        if a == b {
            return true;
        }
        let radj = &self.radj;
        self.memo.entry(b).or_insert_with(|| {
            let mut seen = vec![false; radj.len()];
            seen[b] = true;
            let mut queue = VecDeque::from([b]);
            while let Some(c) = queue.pop_front() {
                for &d in &radj[c] {
                    if !seen[d] {
                        seen[d] = true;
                        queue.push_back(d);
                    }
                }
            }
            seen
        })[a]
    }
}

/// Expands the `invokers` of a Capif flow, in order.
///
/// A plain name is kept as written (the validator checks that it is an `Invoker` node); an
/// entry `prefix*` stands for every node with role `Invoker` whose name starts with
/// `prefix`, in topology order (`"*"` alone: every invoker). Fails with (index of the
/// offending entry, message) when a pattern matches no invoker or an invoker would be
/// listed twice. Deterministic; one pass over the nodes per pattern.
pub fn expand_invokers<'a>(patterns: &'a [String], t: &'a TopologyFile) -> Result<Vec<&'a str>, (usize, String)> {
    Ok(expand_entries(patterns, t)?.into_iter().map(|(_, name)| name).collect())
}

/// [`expand_invokers`], each invoker with the index of the entry it comes from.
fn expand_entries<'a>(patterns: &'a [String], t: &'a TopologyFile) -> Result<Vec<(usize, &'a str)>, (usize, String)> {
    let mut out: Vec<(usize, &'a str)> = Vec::new();
    let mut seen: BTreeMap<&'a str, usize> = BTreeMap::new();
    for (i, p) in patterns.iter().enumerate() {
        match p.strip_suffix('*') {
            None => {
                if let Some(first) = seen.insert(p, i) {
                    return Err((
                        i,
                        format!("duplicate invoker {} (already listed at invokers[{first}])", quoted(p)),
                    ));
                }
                out.push((i, p));
            }
            Some(prefix) => {
                let before = out.len();
                for n in &t.nodes {
                    if n.role != NodeRole::Invoker || !n.name.starts_with(prefix) {
                        continue;
                    }
                    if let Some(first) = seen.insert(&n.name, i) {
                        let message = if first == i {
                            format!(
                                "{} matches invoker {} twice (a duplicate node)",
                                quoted(p),
                                quoted(&n.name)
                            )
                        } else {
                            format!(
                                "{} matches invoker {}, already listed at invokers[{first}]",
                                quoted(p),
                                quoted(&n.name)
                            )
                        };
                        return Err((i, message));
                    }
                    out.push((i, &n.name));
                }
                if out.len() == before {
                    return Err((i, format!("{} matches no node with role Invoker", quoted(p))));
                }
            }
        }
    }
    Ok(out)
}

/// Likely intended `prefix*` patterns for a pattern that matched nothing: the prefixes of
/// the invokers' names one character shorter, as long or one longer than the pattern's.
fn glob_suggestion(pattern: &str, t: &TopologyFile) -> Option<String> {
    let prefix = pattern.strip_suffix('*')?;
    let len = prefix.chars().count();
    let mut candidates: BTreeSet<String> = BTreeSet::new();
    for n in t.nodes.iter().filter(|n| n.role == NodeRole::Invoker) {
        for l in [len.saturating_sub(1), len, len + 1] {
            if l > 0 && l <= n.name.chars().count() {
                candidates.insert(format!("{}*", n.name.chars().take(l).collect::<String>()));
            }
        }
    }
    suggest(pattern, candidates.iter().map(String::as_str))
}

/// `unknown node` or `has role X; it must be R` for a node named in the knobs, if either.
fn node_issue(
    field: String,
    what: &str,
    name: &str,
    want: NodeRole,
    roles: &BTreeMap<&str, NodeRole>,
    tp: &std::path::Display<'_>,
) -> Option<Issue> {
    match roles.get(name) {
        None => Some(Issue::new(
            field,
            format!("unknown node {} (not in {tp})", quoted(name)),
        )),
        Some(role) if *role != want => Some(Issue::new(
            field,
            format!("{what} node {} has role {role:?}; it must be {want:?}", quoted(name)),
        )),
        Some(_) => None,
    }
}

/// Checks an experiment's workload against its topology (`topology_path` names it in
/// messages).
pub fn workload_on<'a>(e: &'a ExperimentFile, t: &'a TopologyFile, topology_path: &Path) -> Vec<Issue> {
    let mut out = Vec::new();
    let roles: BTreeMap<&str, NodeRole> = t.nodes.iter().map(|n| (n.name.as_str(), n.role)).collect();
    let names: Vec<&str> = t.nodes.iter().map(|n| n.name.as_str()).collect();
    let adj = adjacency(t);
    // One component analysis answers every flow's and invoker's reachability question.
    let mut reach = Reach::new(&adj);
    let mut connected = |from: &str, to: &'a str| reach.connected(from, to);
    let tp = topology_path.display();
    // What the CAPIF knobs may refer to: the AEFs and (expanded) invokers of Capif flows.
    let mut capif_aefs: Vec<&str> = Vec::new();
    let mut capif_ccfs: Vec<&str> = Vec::new();
    let mut capif_invokers: Vec<&str> = Vec::new();
    let mut all_expanded = true;
    // Each invoker's flow (an invoker runs one Capif flow).
    let mut flow_of: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, w) in e.workload.iter().enumerate() {
        let f = w.view();
        let at = format!("workload[{i}].{}", f.kind);
        let mut ok = true;
        let mut globbed: Vec<(usize, &str)> = Vec::new();
        if let WorkloadSpec::Capif(c) = w {
            if !capif_aefs.contains(&c.aef.as_str()) {
                capif_aefs.push(&c.aef);
            }
            for ccf in std::iter::once(&c.ccf).chain(c.aef_ccf.as_ref()) {
                if !capif_ccfs.contains(&ccf.as_str()) {
                    capif_ccfs.push(ccf);
                }
            }
            match expand_entries(&c.invokers, t) {
                Ok(expanded) => {
                    for &(j, inv) in &expanded {
                        if let Some(&k) = flow_of.get(inv) {
                            ok = false;
                            out.push(Issue::new(
                                format!("{at}.invokers[{j}]"),
                                format!(
                                    "invoker {} is also in workload[{k}] (an invoker runs one Capif flow)",
                                    quoted(inv)
                                ),
                            ));
                            break;
                        }
                        flow_of.insert(inv, i);
                    }
                    // Plain names are checked with the flow's other nodes below.
                    globbed.extend(expanded.iter().filter(|(j, _)| c.invokers[*j].ends_with('*')));
                    capif_invokers.extend(expanded.iter().map(|(_, inv)| *inv));
                }
                Err((j, message)) => {
                    ok = false;
                    all_expanded = false;
                    // A glob that matched nothing: a near prefix that matches.
                    let pattern = &c.invokers[j];
                    let matches_some = |prefix: &str| {
                        t.nodes
                            .iter()
                            .any(|n| n.role == NodeRole::Invoker && n.name.starts_with(prefix))
                    };
                    let suggestion = match pattern.strip_suffix('*') {
                        Some(prefix) if !matches_some(prefix) => glob_suggestion(pattern, t),
                        _ => None,
                    };
                    out.push(Issue::new(format!("{at}.invokers[{j}]"), message).suggest(suggestion));
                }
            }
        }
        for (field, name, allowed) in &f.nodes {
            match roles.get(name) {
                None => {
                    ok = false;
                    out.push(
                        Issue::new(
                            format!("{at}.{field}"),
                            format!("unknown node {} (not in {tp})", quoted(name)),
                        )
                        .suggest(suggest(name, names.iter().copied())),
                    );
                }
                Some(role) if !allowed.is_empty() && !allowed.contains(role) => {
                    ok = false;
                    let want: Vec<String> = allowed.iter().map(|r| format!("{r:?}")).collect();
                    let field_name = field.split('[').next().unwrap_or(field);
                    out.push(Issue::new(
                        format!("{at}.{field}"),
                        format!(
                            "{field_name} node {} has role {role:?}; it must be {}",
                            quoted(name),
                            want.join(" or ")
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        if !ok {
            continue;
        }
        let mut reached = true;
        for (from, to, field) in &f.legs {
            if !connected(from, to) {
                out.push(Issue::new(
                    format!("{at}.{field}"),
                    format!(
                        "{} is unreachable from {} over the links of {tp}",
                        quoted(to),
                        quoted(from)
                    ),
                ));
                reached = false;
                break;
            }
        }
        if let (WorkloadSpec::Capif(c), true) = (w, reached)
            && !globbed.is_empty()
        {
            'targets: for to in [c.ccf.as_str(), c.aef.as_str()] {
                for &(j, inv) in &globbed {
                    if !connected(inv, to) {
                        out.push(Issue::new(
                            format!("{at}.invokers[{j}]"),
                            format!(
                                "{} is unreachable from {} (matched by {}) over the links of {tp}",
                                quoted(to),
                                quoted(inv),
                                quoted(&c.invokers[j])
                            ),
                        ));
                        break 'targets;
                    }
                }
            }
        }
    }
    // Revocations of invokers a broken flow would have listed are not errors of their own.
    let invokers = all_expanded.then_some(capif_invokers.as_slice());
    capif_knobs_on(e, &roles, &capif_aefs, invokers, &tp, &mut out);
    capif_restarts_on(e, &roles, &capif_ccfs, &tp, &mut out);
    ri_policies_on(e, t, &roles, &tp, &mut out);
    http_outside_planes(e, &capif_invokers, &roles, &mut out);
    n32_nfs_on(e, &capif_invokers, &roles, &mut out);
    out
}

/// An N32 flow's consumer and producer are NFs: not a Roaming Intermediary (every `Ri` node
/// runs the RI machine once there is an N32 flow, so the flow would start nothing) and not a
/// node of a Capif flow (a node runs one plane's machine).
fn n32_nfs_on(e: &ExperimentFile, capif_invokers: &[&str], roles: &BTreeMap<&str, NodeRole>, out: &mut Vec<Issue>) {
    let mut capif: BTreeMap<&str, String> = BTreeMap::new();
    for (i, w) in e.workload.iter().enumerate() {
        let WorkloadSpec::Capif(f) = w else { continue };
        for n in [Some(&f.ccf), Some(&f.aef), f.aef_ccf.as_ref()].into_iter().flatten() {
            capif.entry(n).or_insert_with(|| format!("workload[{i}]"));
        }
    }
    for inv in capif_invokers {
        capif.entry(inv).or_insert_with(|| "a Capif flow".into());
    }
    for (i, w) in e.workload.iter().enumerate() {
        let WorkloadSpec::N32(f) = w else { continue };
        for (field, name) in [("consumer", &f.consumer), ("producer", &f.producer)] {
            let message = if roles.get(name.as_str()) == Some(&NodeRole::Ri) {
                format!(
                    "{field} node {} is a Roaming Intermediary (role Ri), which runs the RI machine, not an NF: \
                     use an Nf node",
                    quoted(name)
                )
            } else if let Some(by) = capif.get(name.as_str()) {
                format!(
                    "{field} node {} is a node of the CAPIF plane ({by}): a node runs one plane's machine, so \
                     use a node outside the Capif flows",
                    quoted(name)
                )
            } else {
                continue;
            };
            out.push(Issue::new(format!("workload[{i}].N32.{field}"), message));
            break;
        }
    }
}

/// An HTTP flow's nodes must not be nodes of the N32 or the CAPIF plane: a node's network
/// events go to its plane's machine, so the HTTP flow would run and record nothing.
fn http_outside_planes(
    e: &ExperimentFile,
    capif_invokers: &[&str],
    roles: &BTreeMap<&str, NodeRole>,
    out: &mut Vec<Issue>,
) {
    // Node → (plane, the flow that puts it there).
    let mut plane: BTreeMap<&str, (&str, String)> = BTreeMap::new();
    let mut n32_flows = false;
    for (i, w) in e.workload.iter().enumerate() {
        let nodes: Vec<&str> = match w {
            WorkloadSpec::N32(f) => {
                n32_flows = true;
                let mut v = vec![f.consumer.as_str(), &f.c_sepp, &f.p_sepp, &f.producer];
                v.extend(f.n32c_via.as_deref());
                v.extend(f.n32f_ris.iter().map(String::as_str));
                v
            }
            WorkloadSpec::Capif(f) => {
                let mut v = vec![f.ccf.as_str(), &f.aef];
                v.extend(f.aef_ccf.as_deref());
                v
            }
            WorkloadSpec::Http(_) => continue,
        };
        let which = if matches!(w, WorkloadSpec::N32(_)) {
            "N32"
        } else {
            "CAPIF"
        };
        for n in nodes {
            plane.entry(n).or_insert((which, format!("workload[{i}]")));
        }
    }
    for inv in capif_invokers {
        plane.entry(inv).or_insert(("CAPIF", "a Capif flow".into()));
    }
    if n32_flows {
        for (n, r) in roles {
            if *r == NodeRole::Ri {
                plane.entry(n).or_insert(("N32", "every Roaming Intermediary".into()));
            }
        }
    }
    for (i, w) in e.workload.iter().enumerate() {
        let WorkloadSpec::Http(f) = w else { continue };
        let ends = [
            ("client", Some(&f.client)),
            ("server", Some(&f.server)),
            ("via", f.via.as_ref()),
        ];
        for (field, name) in ends {
            if let Some(name) = name
                && let Some((which, by)) = plane.get(name.as_str())
            {
                out.push(Issue::new(
                    format!("workload[{i}].Http.{field}"),
                    format!(
                        "{} is a node of the {which} plane ({by}): its events go to that plane's machine, so \
                         this HTTP flow would run nothing; use a node outside the N32 and Capif flows",
                        quoted(name)
                    ),
                ));
                break;
            }
        }
    }
}

/// The Roaming Intermediaries' policies (`n32.ri_policies`): each key is an `Ri` node, and
/// every PLMN a policy names (contract ends, unreachable targets, scripted targets) is a
/// domain of the topology with a SEPP in it. The RI compares these with the domain names of
/// the two SEPPs of each attempt, so any other name would match nothing: a contract list of
/// unknown names refuses every CONNECT.
fn ri_policies_on(
    e: &ExperimentFile,
    t: &TopologyFile,
    roles: &BTreeMap<&str, NodeRole>,
    tp: &std::path::Display<'_>,
    out: &mut Vec<Issue>,
) {
    let ri_nodes: Vec<&str> = t
        .nodes
        .iter()
        .filter(|n| n.role == NodeRole::Ri)
        .map(|n| n.name.as_str())
        .collect();
    let domains: BTreeSet<&str> = t.domains.iter().map(|d| d.name.as_str()).collect();
    // The PLMNs an RI can see: the domains of the SEPPs, in topology order.
    let mut plmns: Vec<&str> = Vec::new();
    for n in t.nodes.iter().filter(|n| n.role == NodeRole::Sepp) {
        if !plmns.contains(&n.domain.as_str()) {
            plmns.push(&n.domain);
        }
    }
    let check = |field: String, name: &str, out: &mut Vec<Issue>| {
        if plmns.contains(&name) {
            return;
        }
        let message = if domains.contains(name) {
            format!(
                "domain {} has no Sepp node, so no N32 connection comes from or goes to it",
                quoted(name)
            )
        } else {
            format!(
                "unknown PLMN {}: PLMNs are named by their domain in {tp} ({})",
                quoted(name),
                if plmns.is_empty() {
                    "which has no Sepp node".to_string()
                } else {
                    let shown: Vec<&str> = plmns.iter().take(5).copied().collect();
                    let more = if plmns.len() > 5 { ", …" } else { "" };
                    format!("with a Sepp: {}{more}", shown.join(", "))
                }
            )
        };
        out.push(Issue::new(field, message).suggest(suggest(name, plmns.iter().copied())));
    };
    for (ri, policy) in &e.n32.ri_policies {
        let at = format!("n32.ri_policies[\"{ri}\"]");
        if let Some(issue) = node_issue(at.clone(), "ri_policies key", ri, NodeRole::Ri, roles, tp) {
            out.push(issue.suggest(suggest(ri, ri_nodes.iter().copied())));
            continue;
        }
        // The policy's own checks (the RI runs them too when it is built), located here.
        if let Err(e) = policy.validate() {
            use crate::proto::roaming::policy::PolicyError;
            let field = match &e {
                PolicyError::Rate(_) => "rate_limit.per_s".to_string(),
                PolicyError::Burst => "rate_limit.burst".to_string(),
                PolicyError::Status { field, .. } => format!("rejection.{field}"),
                PolicyError::Window { index, .. } => format!("scripted[{index}].until"),
            };
            let message = e.to_string();
            let message = message.strip_prefix("ri policy: ").unwrap_or(&message);
            out.push(Issue::new(format!("{at}.{field}"), message.to_string()));
        }
        for (i, c) in policy.contracts.iter().enumerate() {
            check(format!("{at}.contracts[{i}].from_plmn"), &c.from_plmn, out);
            check(format!("{at}.contracts[{i}].to_plmn"), &c.to_plmn, out);
        }
        for (i, u) in policy.unreachable.iter().enumerate() {
            check(format!("{at}.unreachable[{i}]"), u, out);
        }
        for (i, s) in policy.scripted.iter().enumerate() {
            if let Some(target) = &s.target_plmn {
                check(format!("{at}.scripted[{i}].target_plmn"), target, out);
            }
        }
    }
}

/// The CCF restarts: each names a `Ccf` node that some Capif flow uses.
fn capif_restarts_on(
    e: &ExperimentFile,
    roles: &BTreeMap<&str, NodeRole>,
    capif_ccfs: &[&str],
    tp: &std::path::Display<'_>,
    out: &mut Vec<Issue>,
) {
    let ccf_nodes: Vec<&str> = roles
        .iter()
        .filter(|(_, r)| **r == NodeRole::Ccf)
        .map(|(n, _)| *n)
        .collect();
    let mut candidates: Vec<&str> = capif_ccfs.to_vec();
    candidates.extend(ccf_nodes.iter().filter(|c| !capif_ccfs.contains(c)));
    for (k, r) in e.capif.ccf_restarts.iter().enumerate() {
        let field = format!("capif.ccf_restarts[{k}].ccf");
        if let Some(issue) = node_issue(field.clone(), "restarted ccf", &r.ccf, NodeRole::Ccf, roles, tp) {
            out.push(issue.suggest(suggest(&r.ccf, candidates.iter().copied())));
        } else if !capif_ccfs.contains(&r.ccf.as_str()) {
            out.push(
                Issue::new(field, format!("no Capif flow uses CCF {}", quoted(&r.ccf)))
                    .suggest(suggest(&r.ccf, capif_ccfs.iter().copied())),
            );
        }
    }
}

/// The CAPIF knobs that name nodes: AEF profiles, method changes, revocations.
fn capif_knobs_on(
    e: &ExperimentFile,
    roles: &BTreeMap<&str, NodeRole>,
    capif_aefs: &[&str],
    capif_invokers: Option<&[&str]>,
    tp: &std::path::Display<'_>,
    out: &mut Vec<Issue>,
) {
    let c = &e.capif;
    let aef_nodes: Vec<&str> = roles
        .iter()
        .filter(|(_, r)| **r == NodeRole::Aef)
        .map(|(n, _)| *n)
        .collect();
    for name in c.aefs.keys() {
        let field = format!("capif.aefs[\"{name}\"]");
        if let Some(issue) = node_issue(field, "aefs key", name, NodeRole::Aef, roles, tp) {
            out.push(issue.suggest(suggest(name, aef_nodes.iter().copied())));
        }
    }
    // AEFs of Capif flows first: they are what a method change can name.
    let mut aef_candidates: Vec<&str> = capif_aefs.to_vec();
    aef_candidates.extend(aef_nodes.iter().filter(|a| !capif_aefs.contains(a)));
    for (k, m) in c.method_changes.iter().enumerate() {
        let field = format!("capif.method_changes[{k}].aef");
        if let Some(issue) = node_issue(field.clone(), "method change aef", &m.aef, NodeRole::Aef, roles, tp) {
            out.push(issue.suggest(suggest(&m.aef, aef_candidates.iter().copied())));
        } else if !capif_aefs.contains(&m.aef.as_str()) {
            out.push(
                Issue::new(field, format!("no Capif flow uses AEF {}", quoted(&m.aef)))
                    .suggest(suggest(&m.aef, capif_aefs.iter().copied())),
            );
        }
    }
    let listed = capif_invokers.unwrap_or_default();
    let invokers: BTreeSet<&str> = listed.iter().copied().collect();
    for (k, r) in c.revocations.iter().enumerate() {
        let field = format!("capif.revocations[{k}].invoker");
        let suggestion = || suggest(&r.invoker, listed.iter().copied());
        if let Some(issue) = node_issue(
            field.clone(),
            "revoked invoker",
            &r.invoker,
            NodeRole::Invoker,
            roles,
            tp,
        ) {
            out.push(issue.suggest(suggestion()));
        } else if capif_invokers.is_some() && !invokers.contains(r.invoker.as_str()) {
            out.push(
                Issue::new(
                    field,
                    format!("invoker {} is not an invoker of any Capif flow", quoted(&r.invoker)),
                )
                .suggest(suggestion()),
            );
        }
    }
}

/// One paragraph about a topology.
pub fn summarize_topology(t: &TopologyFile) -> String {
    let directed: usize = t.links.iter().map(|l| if l.duplex { 2 } else { 1 }).sum();
    let mut roles: BTreeMap<String, usize> = BTreeMap::new();
    for n in &t.nodes {
        *roles.entry(format!("{:?}", n.role)).or_default() += 1;
    }
    let roles: Vec<String> = roles.iter().map(|(r, k)| format!("{k} {r}")).collect();
    let domains: Vec<String> = t.domains.iter().map(|d| format!("{} ({:?})", d.name, d.kind)).collect();
    format!(
        "topology with {} domain{} [{}], {} node{} ({}), {} link entr{} making {} directed link{}.",
        t.domains.len(),
        plural(t.domains.len()),
        domains.join(", "),
        t.nodes.len(),
        plural(t.nodes.len()),
        roles.join(", "),
        t.links.len(),
        if t.links.len() == 1 { "y" } else { "ies" },
        directed,
        plural(directed),
    )
}

/// One paragraph about a loaded experiment and its topology.
pub fn summarize_scenario(s: &Scenario) -> String {
    let e = &s.experiment;
    let flows: Vec<String> = e
        .workload
        .iter()
        .map(|w| {
            let arrival = match w.view().arrival {
                ArrivalSpec::Poisson { rate_per_s } => format!("Poisson {rate_per_s}/s"),
                ArrivalSpec::Periodic { interval } => format!("every {interval}"),
            };
            match w {
                WorkloadSpec::Http(f) => {
                    let via = f.via.as_ref().map(|v| format!(" via {v}")).unwrap_or_default();
                    format!("{}->{}{via} ({arrival})", f.client, f.server)
                }
                WorkloadSpec::N32(f) => {
                    format!(
                        "N32 {}->{}->{}->{} ({arrival})",
                        f.consumer, f.c_sepp, f.p_sepp, f.producer
                    )
                }
                WorkloadSpec::Capif(f) => {
                    let ccf_a = f
                        .aef_ccf
                        .as_ref()
                        .map(|a| format!(" registered at {a}"))
                        .unwrap_or_default();
                    let mut entries: Vec<&str> = f.invokers.iter().take(3).map(String::as_str).collect();
                    if f.invokers.len() > 3 {
                        entries.push("…");
                    }
                    let count = match expand_invokers(&f.invokers, &s.topology) {
                        Ok(all) => format!("{} invoker{}", all.len(), plural(all.len())),
                        Err(_) => format!(
                            "{} entr{}",
                            f.invokers.len(),
                            if f.invokers.len() == 1 { "y" } else { "ies" }
                        ),
                    };
                    format!(
                        "CAPIF {} ({count}) onboarding at {}, invoking {}{ccf_a} ({arrival})",
                        entries.join(", "),
                        f.ccf,
                        f.aef
                    )
                }
            }
        })
        .collect();
    let capif = if e.workload.iter().any(|w| matches!(w, WorkloadSpec::Capif(_))) {
        let c = &e.capif;
        let n = |k: usize, what: &str| format!("{k} {what}{}", plural(k));
        format!(
            "; CAPIF-1e {:?}, recovery {:?}, {}, {}, {}",
            c.capif1e_tls,
            c.recovery,
            n(c.aefs.len(), "AEF profile"),
            n(c.method_changes.len(), "method change"),
            n(c.revocations.len(), "revocation"),
        )
    } else {
        String::new()
    };
    let seeds = match &e.seeds {
        Some(s) => format!("{s:?}"),
        None => "[1] (default)".to_string(),
    };
    format!(
        "experiment `{}` on {} ({}), {} workload flow{}: {}{capif}; seeds {seeds}; duration {} (warmup {}); \
         max {} events; scenario hash {}.",
        e.name,
        s.topology_path.display(),
        summarize_topology(&s.topology).trim_end_matches('.'),
        e.workload.len(),
        plural(e.workload.len()),
        flows.join(", "),
        e.duration,
        e.warmup,
        e.max_events.unwrap_or(100_000_000),
        s.hash,
    )
}

/// `"3 Plmn, 1 Ipx"`: how many of each, in the order of their first appearance sorted by name.
fn counts<K: Ord + std::fmt::Debug>(items: impl Iterator<Item = K>) -> String {
    let mut by: BTreeMap<K, usize> = BTreeMap::new();
    for k in items {
        *by.entry(k).or_default() += 1;
    }
    by.iter()
        .map(|(k, n)| format!("{n} {k:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A topology in one line of counts (domains per kind, nodes per role, links): what
/// `secsim validate` prints without `--verbose`, whatever the size.
pub fn brief_topology(t: &TopologyFile) -> String {
    let directed: usize = t.links.iter().map(|l| if l.duplex { 2 } else { 1 }).sum();
    format!(
        "topology with {} domain{} ({}), {} node{} ({}), {} link entr{} making {} directed link{}.",
        t.domains.len(),
        plural(t.domains.len()),
        counts(t.domains.iter().map(|d| d.kind)),
        t.nodes.len(),
        plural(t.nodes.len()),
        counts(t.nodes.iter().map(|n| n.role)),
        t.links.len(),
        if t.links.len() == 1 { "y" } else { "ies" },
        directed,
        plural(directed),
    )
}

/// A loaded experiment in a few lines of counts (flows per kind, invokers, generators, seeds,
/// duration, hash): what `secsim validate` prints without `--verbose`
/// ([`summarize_scenario`] lists every domain and flow).
pub fn brief_scenario(s: &Scenario) -> String {
    let e = &s.experiment;
    let (mut http, mut n32, mut n32_via, mut capif, mut capif_6e, mut invokers) = (0, 0, 0, 0, 0, 0);
    for w in &e.workload {
        match w {
            WorkloadSpec::Http(_) => http += 1,
            WorkloadSpec::N32(f) => {
                n32 += 1;
                n32_via += usize::from(f.n32c_via.is_some() || !f.n32f_ris.is_empty());
            }
            WorkloadSpec::Capif(f) => {
                capif += 1;
                capif_6e += usize::from(f.aef_ccf.is_some());
                invokers += expand_invokers(&f.invokers, &s.topology).map_or(f.invokers.len(), |v| v.len());
            }
        }
    }
    let mut kinds = Vec::new();
    if http > 0 {
        kinds.push(format!("{http} HTTP"));
    }
    if n32 > 0 {
        kinds.push(format!("{n32} N32 ({n32_via} through a Roaming Intermediary)"));
    }
    if capif > 0 {
        kinds.push(format!(
            "{capif} CAPIF ({invokers} invoker{}, {capif_6e} flow{} interconnected)",
            plural(invokers),
            plural(capif_6e)
        ));
    }
    let generated = if e.workload_generators.is_empty() {
        String::new()
    } else {
        format!(
            ", {} from {} workload generator{}",
            e.workload.len().saturating_sub(s.written_flows),
            e.workload_generators.len(),
            plural(e.workload_generators.len())
        )
    };
    let seeds = match &e.seeds {
        Some(v) if v.len() > 10 => format!("{} seeds ({}..{})", v.len(), v[0], v[v.len() - 1]),
        Some(v) => format!("seeds {v:?}"),
        None => "seeds [1] (default)".to_string(),
    };
    format!(
        "experiment `{}` on {}\n  {}\n  {} workload flow{}: {}{generated}\n  {seeds}; duration {} (warmup {}); \
         max {} events; scenario hash {}\n  (--verbose lists every domain and flow)",
        e.name,
        s.topology_path.display(),
        brief_topology(&s.topology),
        e.workload.len(),
        plural(e.workload.len()),
        if kinds.is_empty() {
            "none".to_string()
        } else {
            kinds.join(", ")
        },
        e.duration,
        e.warmup,
        e.max_events.unwrap_or(100_000_000),
        s.hash,
    )
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggest_typos() {
        assert_eq!(
            suggest("latncy", ["source", "target", "latency", "loss"]).as_deref(),
            Some("latency")
        );
        assert_eq!(suggest("Constnt", ["Constant", "Uniform"]).as_deref(), Some("Constant"));
        assert_eq!(suggest("nf-x", ["nf-a", "sepp-b"]).as_deref(), Some("nf-a"));
        assert_eq!(suggest("zzzzzz", ["source", "target"]), None);
        // The length pre-filter keeps the near misses of either length.
        assert_eq!(suggest("", ["a", "bb"]).as_deref(), Some("a"));
        assert_eq!(
            suggest("nf-a", ["nf-a-very-long-name", "nf-b"]).as_deref(),
            Some("nf-b")
        );
    }

    #[test]
    fn suggest_is_cheap_on_huge_names() {
        // Regression: a 10 MB unknown name made the distance matrix 10M × the candidate's
        // length (and two huge names the product of both).
        // Two 10 MB names would need a matrix of 10^14 cells: this returns at once or never.
        let huge = "x".repeat(10_000_000);
        let other = format!("{huge}y");
        assert_eq!(suggest(&huge, ["nf-a", other.as_str()]), None);
        assert_eq!(suggest("nf-a", [huge.as_str(), "nf-b"]).as_deref(), Some("nf-b"));
    }

    #[test]
    fn quoted_cuts_long_values() {
        assert_eq!(quoted("nf-a"), "`nf-a`");
        let exact = "é".repeat(MAX_QUOTED_CHARS);
        assert_eq!(quoted(&exact), format!("`{exact}`"));
        let long = format!("{exact}xyz");
        assert_eq!(quoted(&long), format!("`{exact}…` ({} bytes)", long.len()));
        // A message quoting a huge name stays short.
        let huge = "x".repeat(10_000_000);
        assert!(quoted(&huge).len() < 200);
    }

    #[test]
    fn n32_roles_and_aef_homes_are_one_per_node() {
        let exp = |flows: &str| -> ExperimentFile {
            ron::from_str(&format!(
                r#"Experiment(name: "x", topology: "t.ron", duration: "1s", workload: [{flows}])"#
            ))
            .unwrap()
        };
        let n32 = |c: &str, cs: &str, ps: &str, p: &str| {
            format!(
                r#"N32((consumer: "{c}", c_sepp: "{cs}", p_sepp: "{ps}", producer: "{p}", arrival: Poisson(rate_per_s: 1.0))),"#
            )
        };
        let capif = |ccf: &str, aef_ccf: &str| {
            format!(
                r#"Capif((invokers: ["i"], ccf: "{ccf}", aef: "aef", aef_ccf: {aef_ccf}, arrival: Poisson(rate_per_s: 1.0))),"#
            )
        };
        let fields = |e: ExperimentFile| -> Vec<String> { experiment(&e).into_iter().map(|i| i.field).collect() };
        // A SEPP may be a c-SEPP and a p-SEPP; an NF may be the consumer of several flows.
        let ok = n32("c", "s1", "s2", "p") + &n32("c", "s2", "s1", "q");
        assert!(fields(exp(&ok)).is_empty());
        let sepp_nf = n32("c", "s1", "s2", "p") + &n32("s1", "s3", "s2", "q");
        assert_eq!(fields(exp(&sepp_nf)), ["workload[1].N32.consumer"]);
        assert_eq!(fields(exp(&n32("c", "s1", "s2", "c"))), ["workload[0].N32.producer"]);
        let two_homes = capif("ccf-a", "None") + &capif("ccf-b", "Some(\"ccf-c\")");
        assert_eq!(fields(exp(&two_homes)), ["workload[1].Capif.aef_ccf"]);
        let one_home = capif("ccf-a", "None") + &capif("ccf-b", "Some(\"ccf-a\")");
        assert!(fields(exp(&one_home)).is_empty());
    }

    #[test]
    fn seeds_must_be_distinct_and_bounded() {
        let exp = |seeds: &str| -> ExperimentFile {
            ron::from_str(&format!(
                r#"Experiment(name: "x", topology: "t.ron", duration: "1s", seeds: {seeds},
                   workload: [Http((client: "a", server: "b", arrival: Poisson(rate_per_s: 1.0)))])"#
            ))
            .unwrap()
        };
        let fields = |seeds: &str| -> Vec<(String, String)> {
            experiment(&exp(seeds))
                .into_iter()
                .map(|i| (i.field, i.message))
                .collect()
        };
        assert!(fields("Some([1, 2, 3])").is_empty());
        assert_eq!(
            fields("Some([4, 2, 4])"),
            [(
                "seeds[2]".to_string(),
                "seed 4 is listed twice (also at seeds[0])".to_string()
            )]
        );
        let many: Vec<String> = (0..=MAX_SEEDS).map(|s| s.to_string()).collect();
        let v = fields(&format!("Some([{}])", many.join(",")));
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].0, "seeds");
        assert!(v[0].1.contains("above the limit of 100000"), "{v:?}");
    }

    fn capif_topology() -> TopologyFile {
        let src = r#"Topology(
            domains: [(name: "p", kind: CapifProvider), (name: "i", kind: Other)],
            nodes: [
                (name: "ccf", domain: "p", role: Ccf),
                (name: "inv-b2", domain: "i", role: Invoker),
                (name: "inv-a1", domain: "i", role: Invoker),
                (name: "inv-lookalike", domain: "i", role: Router),
                (name: "inv-a2", domain: "i", role: Invoker),
                (name: "other-1", domain: "i", role: Invoker),
            ],
            links: [],
        )"#;
        ron::from_str(src).unwrap()
    }

    fn pats(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn expand_invokers_keeps_order_and_expands_prefixes_in_topology_order() {
        let t = capif_topology();
        let p = pats(&["other-1", "inv-*"]);
        assert_eq!(
            expand_invokers(&p, &t).unwrap(),
            ["other-1", "inv-b2", "inv-a1", "inv-a2"]
        );
        let p = pats(&["inv-a*", "inv-b2"]);
        assert_eq!(expand_invokers(&p, &t).unwrap(), ["inv-a1", "inv-a2", "inv-b2"]);
        // Plain names are kept as written (their role is checked by the validator).
        let p = pats(&["ccf", "inv-a1"]);
        assert_eq!(expand_invokers(&p, &t).unwrap(), ["ccf", "inv-a1"]);
        // `*` alone: every invoker, routers sharing a prefix never.
        let p = pats(&["*"]);
        assert_eq!(
            expand_invokers(&p, &t).unwrap(),
            ["inv-b2", "inv-a1", "inv-a2", "other-1"]
        );
        assert_eq!(expand_invokers(&[], &t).unwrap(), Vec::<&str>::new());
    }

    #[test]
    fn expand_invokers_refuses_empty_globs_and_duplicates() {
        let t = capif_topology();
        let (i, m) = expand_invokers(&pats(&["inv-a1", "nobody-*"]), &t).unwrap_err();
        assert_eq!((i, m.as_str()), (1, "`nobody-*` matches no node with role Invoker"));
        // A router with the prefix does not count.
        let (i, _) = expand_invokers(&pats(&["inv-look*"]), &t).unwrap_err();
        assert_eq!(i, 0);
        let (i, m) = expand_invokers(&pats(&["inv-a1", "other-1", "inv-a1"]), &t).unwrap_err();
        assert_eq!(i, 2);
        assert!(
            m.contains("duplicate invoker `inv-a1` (already listed at invokers[0])"),
            "{m}"
        );
        let (i, m) = expand_invokers(&pats(&["inv-a2", "inv-a*"]), &t).unwrap_err();
        assert_eq!(i, 1);
        assert!(
            m.contains("`inv-a*` matches invoker `inv-a2`, already listed at invokers[0]"),
            "{m}"
        );
        let (i, _) = expand_invokers(&pats(&["inv-*", "inv-a1"]), &t).unwrap_err();
        assert_eq!(i, 1);
        let (i, _) = expand_invokers(&pats(&["inv-a*", "inv-*"]), &t).unwrap_err();
        assert_eq!(i, 1);
    }

    #[test]
    fn expand_invokers_is_cheap_for_a_storm() {
        let mut t = capif_topology();
        let proto = t.nodes[1].clone();
        for k in 0..5000 {
            let mut n = proto.clone();
            n.name = format!("storm-{k:05}");
            t.nodes.push(n);
        }
        let p = pats(&["storm-*"]);
        let all = expand_invokers(&p, &t).unwrap();
        assert_eq!(all.len(), 5000);
        assert_eq!((all[0], all[4999]), ("storm-00000", "storm-04999"));
    }

    #[test]
    fn glob_suggestions_are_prefixes_of_invokers() {
        let t = capif_topology();
        assert_eq!(glob_suggestion("invv-*", &t).as_deref(), Some("inv-*"));
        assert_eq!(glob_suggestion("othr-*", &t).as_deref(), Some("other-*"));
        assert_eq!(glob_suggestion("zzzzzzzz*", &t), None);
    }

    #[test]
    fn reachable_follows_direction() {
        let mut adj: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        adj.entry("a").or_default().insert("b");
        adj.entry("b").or_default().insert("c");
        assert!(reachable(&adj, "a", "c"));
        assert!(!reachable(&adj, "c", "a"));
    }

    /// The component analysis answers as the breadth-first search does, on every pair of a
    /// graph with one-way chains, cycles, a node with no links and unknown names.
    #[test]
    fn reach_agrees_with_the_search_on_every_pair() {
        let mut adj: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (a, b) in [
            ("a", "b"),
            ("b", "c"),
            ("c", "a"), // a cycle a-b-c
            ("c", "d"),
            ("d", "e"),
            ("e", "d"), // a cycle d-e below it
            ("f", "e"), // f reaches d-e only
            ("g", "h"), // a separate one-way pair
        ] {
            adj.entry(a).or_default().insert(b);
        }
        let names = ["a", "b", "c", "d", "e", "f", "g", "h", "nowhere"];
        let mut reach = Reach::new(&adj);
        for from in names {
            for to in names {
                assert_eq!(reach.connected(from, to), reachable(&adj, from, to), "{from} -> {to}");
            }
        }
        assert!(reach.connected("a", "e") && !reach.connected("e", "a") && !reach.connected("f", "a"));
    }
}
