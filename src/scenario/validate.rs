//! Semantic checks run once at load, after serde has accepted the shape of a file.
//!
//! Each check returns [`Issue`]s naming the field path of the offending value
//! (`links[3].target`); the loader locates them in the source and reports the first one in
//! file order. Checks, in the order they appear in a file:
//!
//! - topology: domain and node names unique and non-empty; a node's domain exists; link
//!   endpoints exist and differ; no two links in the same direction; loss in [0, 1);
//!   bandwidth > 0 and finite; rto > 0; latency parameters sane (uniform min <= max,
//!   log-normal sigma >= 0 and finite, empirical non-empty); down windows `from < to`.
//! - experiment: name non-empty and usable as a folder name (`[A-Za-z0-9._-]`);
//!   duration > 0; warmup < duration; seeds non-empty; max_events > 0; workload non-empty;
//!   per flow, client != server, rate > 0 and finite, interval > 0, bodies <= 64 MiB,
//!   timeout > 0.
//! - experiment on its topology: client, server and via exist; via has role `Proxy` or
//!   `Ri`; the pairs a flow needs (client → server, or client → via and via → server) are
//!   connected in the directed link graph (a duplex link counts both ways).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;

use super::load::Scenario;
use super::schema::{ArrivalSpec, ExperimentFile, LatencySpec, NodeRole, TopologyFile, WorkloadSpec};

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

/// The candidate nearest to `found`, if any is near enough to be a likely typo.
///
/// Nearness: case-insensitive Damerau-Levenshtein distance at most a third of the
/// candidate's length (at least 1), or Jaro-Winkler similarity >= 0.88; ties go to the
/// higher similarity, then to the earlier candidate.
pub fn suggest<'a>(found: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let f = found.to_lowercase();
    let mut best: Option<(usize, f64, &str)> = None;
    for c in candidates {
        if c == found {
            continue;
        }
        let cl = c.to_lowercase();
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
        LatencySpec::LogNormal { sigma, .. } => {
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

/// Checks a topology on its own.
pub fn topology(t: &TopologyFile) -> Vec<Issue> {
    let mut out = Vec::new();
    let mut domains: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, d) in t.domains.iter().enumerate() {
        if d.name.is_empty() {
            out.push(Issue::new(format!("domains[{i}].name"), "domain name is empty"));
        } else if let Some(j) = domains.get(d.name.as_str()) {
            out.push(Issue::new(
                format!("domains[{i}].name"),
                format!("duplicate domain `{}` (first defined at domains[{j}])", d.name),
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
        } else if let Some(j) = nodes.get(n.name.as_str()) {
            out.push(Issue::new(
                format!("nodes[{i}].name"),
                format!("duplicate node `{}` (first defined at nodes[{j}])", n.name),
            ));
        } else {
            nodes.insert(&n.name, i);
        }
        if !domains.contains_key(n.domain.as_str()) {
            out.push(
                Issue::new(format!("nodes[{i}].domain"), format!("unknown domain `{}`", n.domain))
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
                    Issue::new(format!("{at}.{field}"), format!("unknown node `{name}`"))
                        .suggest(suggest(name, node_names.iter().copied())),
                );
            }
        }
        if l.source == l.target {
            endpoints_ok = false;
            out.push(Issue::new(
                format!("{at}.target"),
                format!("link from `{}` to itself", l.source),
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
                        format!("duplicate link `{s}` -> `{d}` (already made by links[{j}])"),
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
    } else if !folder_safe(&e.name) {
        out.push(Issue::new(
            "name",
            format!(
                "name `{}` is not usable as a folder name (use only A-Z, a-z, 0-9, `.`, `_`, `-`)",
                e.name
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
    if e.seeds.as_ref().is_some_and(Vec::is_empty) {
        out.push(Issue::new(
            "seeds",
            "seeds list is empty (leave it out for the default `[1]`)",
        ));
    }
    if e.max_events == Some(0) {
        out.push(Issue::new("max_events", "max_events must be > 0"));
    }
    if let Some(idle) = e.network.idle_timeout
        && idle.as_nanos() == 0
    {
        out.push(Issue::new("network.idle_timeout", "idle_timeout must be > 0"));
    }
    if e.workload.is_empty() {
        out.push(Issue::new("workload", "workload is empty: give at least one flow"));
    }
    for (i, w) in e.workload.iter().enumerate() {
        let f = w.view();
        let at = format!("workload[{i}].{}", f.kind);
        if let WorkloadSpec::Http(h) = w {
            if h.client == h.server {
                out.push(Issue::new(
                    format!("{at}.server"),
                    format!("client and server are both `{}`", h.client),
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
                    format!("c_sepp and p_sepp are both `{}`", n.c_sepp),
                ));
            }
            if n.n32f_ris.len() > 2 {
                out.push(Issue::new(
                    format!("{at}.n32f_ris"),
                    "at most two Roaming Intermediaries may be on N32-f",
                ));
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
    out
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

/// Checks an experiment's workload against its topology (`topology_path` names it in
/// messages).
pub fn workload_on(e: &ExperimentFile, t: &TopologyFile, topology_path: &Path) -> Vec<Issue> {
    let mut out = Vec::new();
    let roles: BTreeMap<&str, NodeRole> = t.nodes.iter().map(|n| (n.name.as_str(), n.role)).collect();
    let names: Vec<&str> = t.nodes.iter().map(|n| n.name.as_str()).collect();
    let adj = adjacency(t);
    let tp = topology_path.display();
    for (i, w) in e.workload.iter().enumerate() {
        let f = w.view();
        let at = format!("workload[{i}].{}", f.kind);
        let mut ok = true;
        for (field, name, allowed) in &f.nodes {
            match roles.get(name) {
                None => {
                    ok = false;
                    out.push(
                        Issue::new(format!("{at}.{field}"), format!("unknown node `{name}` (not in {tp})"))
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
                            "{field_name} node `{name}` has role {role:?}; it must be {}",
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
        for (from, to, field) in &f.legs {
            if !reachable(&adj, from, to) {
                out.push(Issue::new(
                    format!("{at}.{field}"),
                    format!("`{to}` is unreachable from `{from}` over the links of {tp}"),
                ));
                break;
            }
        }
    }
    out
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
                    let ccf_a = f.aef_ccf.as_ref().map(|a| format!(" (registered at {a})")).unwrap_or_default();
                    format!(
                        "CAPIF {} invoker entr{} at {} -> {}{ccf_a} ({arrival})",
                        f.invokers.len(),
                        if f.invokers.len() == 1 { "y" } else { "ies" },
                        f.ccf,
                        f.aef
                    )
                }
            }
        })
        .collect();
    let seeds = match &e.seeds {
        Some(s) => format!("{s:?}"),
        None => "[1] (default)".to_string(),
    };
    format!(
        "experiment `{}` on {} ({}), {} workload flow{}: {}; seeds {seeds}; duration {} (warmup {}); \
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
    }

    #[test]
    fn reachable_follows_direction() {
        let mut adj: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        adj.entry("a").or_default().insert("b");
        adj.entry("b").or_default().insert("c");
        assert!(reachable(&adj, "a", "c"));
        assert!(!reachable(&adj, "c", "a"));
    }
}
