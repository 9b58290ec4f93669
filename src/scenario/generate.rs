//! Topology generators: a topology file may start with `TopologyGenerator(` instead of
//! `Topology(` and describe a family of topologies by a few numbers. The loader expands it
//! into a [`TopologyFile`] ([`generate`]) and validates that like any other topology, so an
//! experiment references a generator file exactly like a topology file.
//!
//! ```ron
//! TopologyGenerator(
//!     seed: 1,                 // default 1: mesh choices and drawn latencies
//!     kind: IpxHub(plmns: 200, ipx_providers: 1),
//!     // kind: RandomMesh(plmns: 20, degree: 3),
//!     // kind: CapifProviders(providers: 3, aefs_per_provider: 2, invokers: 1000),
//! )
//! ```
//!
//! # Families, names and links
//!
//! Names follow the hand-written topologies and the Python scripts they replace
//! (`scripts/gen_ipx_hub.py`, `scripts/gen_capif_storm.py`): PLMN numbers are zero-padded
//! to at least two digits (`plmn-07`, `plmn-123`), invoker numbers to at least four
//! (`invoker-0042`), providers are letters (`a`…`z`, `aa`, `ab`…).
//!
//! - `IpxHub(plmns: N, ipx_providers: P)`: domains `ipx-hub` (or `ipx-hub-1`…`ipx-hub-P`)
//!   then `plmn-01`…; nodes `ri-hub` (`Ri`; or `ri-hub-1`…) then, per PLMN k, `cnf-k`,
//!   `sepp-k` (`Sepp`), `pnf-k`; links per PLMN `cnf-k`–`sepp-k` and `sepp-k`–`pnf-k`
//!   (`nf_*`) and `sepp-k`–its hub (`sepp_*`), PLMN k on hub `(k-1) mod P + 1`; then every
//!   pair of hubs (`ipx_*`). With `P = 1` this is `topologies/ipx-hub-50.ron`'s structure.
//! - `RandomMesh(plmns: N, degree: d)`: the PLMNs of `IpxHub` without a hub; the SEPPs are
//!   linked directly (`sepp_*`, listed sorted by endpoint). A random Hamiltonian path makes
//!   the mesh connected; then SEPPs with fewer than `d` peers are paired at random, so every
//!   SEPP has at least `d` peers and most exactly `d` (a path end or an odd `N·d` leaves a
//!   few with one more; with `d = 1` the path's inner SEPPs have 2).
//! - `CapifProviders(providers: M, aefs_per_provider: A, invokers: I)`: domains
//!   `provider-a`… (`CapifProvider`) and `internet` (`Other`); nodes per provider `ccf-a`
//!   (`Ccf`), `apf-a` (`Apf`), `aef-a1`…`aef-aA` (`Aef`), `gw-a` (`Router`), then `access`
//!   (`Router`) and `invoker-0001`… (`Invoker`) in `internet`; links per provider CCF, APF
//!   and AEFs to the gateway (`provider_*`) and `access`–gateway (`access_*`), then every
//!   pair of gateways (`interconnect_*`, so the CCFs reach each other over CAPIF-6e), then
//!   each invoker to `access` (`invoker_*`). With `M = 1, A = 1, I = 1000` this is
//!   `topologies/capif-storm-1000.ron`'s structure.
//!
//! Every link class has `<class>_latency` (a [`GenLatency`]: any latency distribution, or
//! `LogNormalDrawn(median_min:, median_max:, sigma:)` whose median is drawn per link),
//! `<class>_loss` and `<class>_bandwidth_mbps`; the defaults are listed on
//! [`GeneratorKind`].
//!
//! # Determinism
//!
//! Expansion depends only on the file: no OS randomness, no hash-map order. Each drawn
//! median comes from its own ChaCha stream `topogen:latency:<source>-><target>` of the
//! generator's `seed` ([`stream`]), so growing `plmns` or `invokers` keeps every existing
//! link's draw; the mesh comes from the stream `topogen:mesh`. The Python scripts drew
//! their medians from Python's `random`, so the generated `ipx-hub-50` and
//! `capif-storm-1000` have the same nodes, roles, domains and link endpoints and parameters
//! as the shipped files except the drawn medians (same range and sigma, other values).
//!
//! # Limits
//!
//! At most [`MAX_NODES`] nodes and about [`MAX_LINKS`] link entries; counts of zero, a
//! degree not below `plmns`, more hubs than PLMNs and bad link parameters are errors located
//! at the offending field ([`check`]).

use std::collections::BTreeSet;

use rand::Rng;
use rand::seq::SliceRandom;

use super::schema::{
    DomainKind, DomainSpec, GenLatency, GeneratorKind, LatencySpec, LinkSpec, NodeRole, NodeSpec, TopologyFile,
    TopologyGenerator,
};
use super::validate::{self, Issue};
use crate::engine::{SimDuration, SimRng, stream};

/// The struct name a generator file starts with.
pub const HEADER: &str = "TopologyGenerator";

/// The most nodes a generator may make.
pub const MAX_NODES: u64 = 250_000;

/// The most link entries a generator may make (checked on the count before drawing the
/// mesh, which may add a few more).
pub const MAX_LINKS: u64 = 1_000_000;

/// One class of generated links and the field-name prefix of its parameters.
struct Class<'a> {
    prefix: &'static str,
    latency: &'a GenLatency,
    loss: f64,
    bandwidth_mbps: Option<f64>,
}

impl Class<'_> {
    /// A duplex link of this class; a drawn median comes from the link's own stream.
    fn link(&self, seed: u64, source: &str, target: &str) -> LinkSpec {
        LinkSpec {
            source: source.to_string(),
            target: target.to_string(),
            duplex: true,
            latency: resolve(self.latency, || {
                stream(seed, &format!("topogen:latency:{source}->{target}"))
            }),
            loss: self.loss,
            rto: None,
            bandwidth_mbps: self.bandwidth_mbps,
            down: Vec::new(),
        }
    }
}

/// The link latency of one link; `rng` is asked for only by a drawn median.
fn resolve(latency: &GenLatency, rng: impl FnOnce() -> SimRng) -> LatencySpec {
    match latency {
        GenLatency::Constant(d) => LatencySpec::Constant(*d),
        GenLatency::Uniform { min, max } => LatencySpec::Uniform { min: *min, max: *max },
        GenLatency::Normal { mean, std } => LatencySpec::Normal { mean: *mean, std: *std },
        GenLatency::LogNormal { median, sigma } => LatencySpec::LogNormal {
            median: *median,
            sigma: *sigma,
        },
        GenLatency::Exponential { mean } => LatencySpec::Exponential { mean: *mean },
        GenLatency::Empirical(samples) => LatencySpec::Empirical(samples.clone()),
        GenLatency::LogNormalDrawn {
            median_min,
            median_max,
            sigma,
        } => {
            // Whole microseconds inside [min, max]; a range inside one microsecond is its min.
            let lo = median_min.as_nanos().div_ceil(1000);
            let hi = median_max.as_nanos() / 1000;
            let median = if lo > hi {
                *median_min
            } else {
                SimDuration::from_nanos(rng().random_range(lo..=hi) * 1000)
            };
            LatencySpec::LogNormal { median, sigma: *sigma }
        }
    }
}

/// The variant name, for field paths (`kind.IpxHub.plmns`).
fn variant(kind: &GeneratorKind) -> &'static str {
    match kind {
        GeneratorKind::IpxHub { .. } => "IpxHub",
        GeneratorKind::RandomMesh { .. } => "RandomMesh",
        GeneratorKind::CapifProviders { .. } => "CapifProviders",
    }
}

/// The link classes of a generator.
fn classes(kind: &GeneratorKind) -> Vec<Class<'_>> {
    match kind {
        GeneratorKind::IpxHub {
            nf_latency,
            nf_loss,
            nf_bandwidth_mbps,
            sepp_latency,
            sepp_loss,
            sepp_bandwidth_mbps,
            ipx_latency,
            ipx_loss,
            ipx_bandwidth_mbps,
            ..
        } => vec![
            Class {
                prefix: "nf",
                latency: nf_latency,
                loss: *nf_loss,
                bandwidth_mbps: *nf_bandwidth_mbps,
            },
            Class {
                prefix: "sepp",
                latency: sepp_latency,
                loss: *sepp_loss,
                bandwidth_mbps: *sepp_bandwidth_mbps,
            },
            Class {
                prefix: "ipx",
                latency: ipx_latency,
                loss: *ipx_loss,
                bandwidth_mbps: *ipx_bandwidth_mbps,
            },
        ],
        GeneratorKind::RandomMesh {
            nf_latency,
            nf_loss,
            nf_bandwidth_mbps,
            sepp_latency,
            sepp_loss,
            sepp_bandwidth_mbps,
            ..
        } => vec![
            Class {
                prefix: "nf",
                latency: nf_latency,
                loss: *nf_loss,
                bandwidth_mbps: *nf_bandwidth_mbps,
            },
            Class {
                prefix: "sepp",
                latency: sepp_latency,
                loss: *sepp_loss,
                bandwidth_mbps: *sepp_bandwidth_mbps,
            },
        ],
        GeneratorKind::CapifProviders {
            provider_latency,
            provider_loss,
            provider_bandwidth_mbps,
            access_latency,
            access_loss,
            access_bandwidth_mbps,
            invoker_latency,
            invoker_loss,
            invoker_bandwidth_mbps,
            interconnect_latency,
            interconnect_loss,
            interconnect_bandwidth_mbps,
            ..
        } => vec![
            Class {
                prefix: "provider",
                latency: provider_latency,
                loss: *provider_loss,
                bandwidth_mbps: *provider_bandwidth_mbps,
            },
            Class {
                prefix: "access",
                latency: access_latency,
                loss: *access_loss,
                bandwidth_mbps: *access_bandwidth_mbps,
            },
            Class {
                prefix: "invoker",
                latency: invoker_latency,
                loss: *invoker_loss,
                bandwidth_mbps: *invoker_bandwidth_mbps,
            },
            Class {
                prefix: "interconnect",
                latency: interconnect_latency,
                loss: *interconnect_loss,
                bandwidth_mbps: *interconnect_bandwidth_mbps,
            },
        ],
    }
}

/// Checks one link class by validating a one-link topology made of it, so the messages are
/// those of hand-written links; `links[0].latency.X` becomes `<at>.<prefix>_latency.X`.
fn check_class(at: &str, class: &Class<'_>, out: &mut Vec<Issue>) {
    let latency_at = format!("{at}.{}_latency", class.prefix);
    let drawn = matches!(class.latency, GenLatency::LogNormalDrawn { .. });
    if let GenLatency::LogNormalDrawn {
        median_min, median_max, ..
    } = class.latency
        && median_min > median_max
    {
        out.push(Issue::new(
            format!("{latency_at}.LogNormalDrawn.median_min"),
            format!("median_min {median_min} is greater than median_max {median_max}"),
        ));
    }
    let node = |name: &str| NodeSpec {
        name: name.to_string(),
        domain: "d".to_string(),
        role: NodeRole::Nf,
    };
    let probe = TopologyFile {
        domains: vec![DomainSpec {
            name: "d".to_string(),
            kind: DomainKind::Other,
        }],
        nodes: vec![node("a"), node("b")],
        links: vec![class.link(0, "a", "b")],
    };
    for issue in validate::topology(&probe) {
        let Some(rest) = issue.field.strip_prefix("links[0].") else {
            continue;
        };
        let field = if let Some(tail) = rest.strip_prefix("latency") {
            let tail = if drawn {
                tail.replacen(".LogNormal", ".LogNormalDrawn", 1)
            } else {
                tail.to_string()
            };
            format!("{latency_at}{tail}")
        } else {
            format!("{at}.{}_{rest}", class.prefix)
        };
        out.push(Issue::new(field, issue.message));
    }
}

/// `n` zero-padded to at least `width` digits.
fn num(n: u64, width: usize) -> String {
    format!("{n:0width$}")
}

/// Provider letters: 0 → `a`, 25 → `z`, 26 → `aa`, 27 → `ab`…
fn letters(mut i: u64) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'a' + (i % 26) as u8);
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// Node and link counts (links: before the mesh's extra edges), and the count field to
/// blame for each when it is too large.
fn sizes(kind: &GeneratorKind) -> ((u64, &'static str), (u64, &'static str)) {
    match kind {
        GeneratorKind::IpxHub {
            plmns, ipx_providers, ..
        } => {
            let (n, p) = (u64::from(*plmns), u64::from(*ipx_providers));
            let hub_pairs = p * p.saturating_sub(1) / 2;
            let links_blame = if hub_pairs > 3 * n { "ipx_providers" } else { "plmns" };
            ((3 * n + p, "plmns"), (3 * n + hub_pairs, links_blame))
        }
        GeneratorKind::RandomMesh { plmns, degree, .. } => {
            let (n, d) = (u64::from(*plmns), u64::from(*degree));
            let mesh = (n * d).div_ceil(2).max(n.saturating_sub(1));
            let links_blame = if mesh > 2 * n { "degree" } else { "plmns" };
            ((3 * n, "plmns"), (2 * n + mesh, links_blame))
        }
        GeneratorKind::CapifProviders {
            providers,
            aefs_per_provider,
            invokers,
            ..
        } => {
            let (m, a, i) = (
                u64::from(*providers),
                u64::from(*aefs_per_provider),
                u64::from(*invokers),
            );
            // Saturating: u32::MAX providers of u32::MAX AEFs overflow u64 (and must still
            // be refused as too large, not wrap below the limit).
            let provider_nodes = m.saturating_mul(3 + a);
            let nodes_blame = if i >= provider_nodes {
                "invokers"
            } else if m * 3 >= m * a {
                "providers"
            } else {
                "aefs_per_provider"
            };
            let pairs = m * m.saturating_sub(1) / 2;
            let links_blame = if pairs >= i.max(provider_nodes) {
                "providers"
            } else {
                nodes_blame
            };
            (
                (provider_nodes.saturating_add(1 + i), nodes_blame),
                (provider_nodes.saturating_add(pairs).saturating_add(i), links_blame),
            )
        }
    }
}

/// Checks a generator's parameters; field paths are those of the generator file
/// (`kind.RandomMesh.degree`, `kind.IpxHub.sepp_latency.LogNormalDrawn.sigma`).
pub fn check(g: &TopologyGenerator) -> Vec<Issue> {
    let at = format!("kind.{}", variant(&g.kind));
    let mut out = Vec::new();
    let mut at_least = |field: &str, value: u32, min: u32, what: &str| {
        if value < min {
            out.push(Issue::new(
                format!("{at}.{field}"),
                format!("{field} must be >= {min}{what}, found {value}"),
            ));
            false
        } else {
            true
        }
    };
    let counts_ok = match &g.kind {
        GeneratorKind::IpxHub {
            plmns, ipx_providers, ..
        } => {
            let a = at_least("plmns", *plmns, 1, "");
            let b = at_least("ipx_providers", *ipx_providers, 1, "");
            if a && b && ipx_providers > plmns {
                out.push(Issue::new(
                    format!("{at}.ipx_providers"),
                    format!("ipx_providers {ipx_providers} is more than plmns {plmns}: every hub needs a PLMN"),
                ));
            }
            a && b
        }
        GeneratorKind::RandomMesh { plmns, degree, .. } => {
            let a = at_least("plmns", *plmns, 2, " (a mesh needs two SEPPs)");
            let b = at_least("degree", *degree, 1, "");
            if a && b && degree >= plmns {
                out.push(Issue::new(
                    format!("{at}.degree"),
                    format!(
                        "degree {degree} must be less than plmns {plmns} (a SEPP has at most {} peers)",
                        plmns - 1
                    ),
                ));
            }
            a && b
        }
        GeneratorKind::CapifProviders {
            providers,
            aefs_per_provider,
            invokers,
            ..
        } => {
            let a = at_least("providers", *providers, 1, "");
            let b = at_least("aefs_per_provider", *aefs_per_provider, 1, "");
            let c = at_least("invokers", *invokers, 1, "");
            a && b && c
        }
    };
    if counts_ok {
        let ((nodes, nodes_blame), (links, links_blame)) = sizes(&g.kind);
        if nodes > MAX_NODES {
            out.push(Issue::new(
                format!("{at}.{nodes_blame}"),
                format!("the generated topology would have {nodes} nodes, above the limit of {MAX_NODES}"),
            ));
        } else if links > MAX_LINKS {
            out.push(Issue::new(
                format!("{at}.{links_blame}"),
                format!("the generated topology would have at least {links} links, above the limit of {MAX_LINKS}"),
            ));
        }
    }
    for class in classes(&g.kind) {
        check_class(&at, &class, &mut out);
    }
    out
}

/// Checks a generator ([`check`]) and expands it into a topology.
pub fn generate(g: &TopologyGenerator) -> Result<TopologyFile, Vec<Issue>> {
    let issues = check(g);
    if !issues.is_empty() {
        return Err(issues);
    }
    Ok(expand(g))
}

/// One line about a generator: `IpxHub with 200 PLMNs, 1 IPX hub (seed 1)`.
pub fn describe(g: &TopologyGenerator) -> String {
    let what = match &g.kind {
        GeneratorKind::IpxHub {
            plmns, ipx_providers, ..
        } => format!(
            "IpxHub with {plmns} PLMNs, {ipx_providers} IPX hub{}",
            if *ipx_providers == 1 { "" } else { "s" }
        ),
        GeneratorKind::RandomMesh { plmns, degree, .. } => {
            format!("RandomMesh of {plmns} PLMNs, degree {degree}")
        }
        GeneratorKind::CapifProviders {
            providers,
            aefs_per_provider,
            invokers,
            ..
        } => format!(
            "CapifProviders with {providers} provider{} ({aefs_per_provider} AEF{} each), {invokers} invoker{}",
            if *providers == 1 { "" } else { "s" },
            if *aefs_per_provider == 1 { "" } else { "s" },
            if *invokers == 1 { "" } else { "s" },
        ),
    };
    format!("{what} (seed {})", g.seed)
}

struct Builder {
    t: TopologyFile,
    seed: u64,
}

impl Builder {
    fn domain(&mut self, name: String, kind: DomainKind) {
        self.t.domains.push(DomainSpec { name, kind });
    }
    fn node(&mut self, name: &str, domain: &str, role: NodeRole) {
        self.t.nodes.push(NodeSpec {
            name: name.to_string(),
            domain: domain.to_string(),
            role,
        });
    }
    fn link(&mut self, class: &Class<'_>, source: &str, target: &str) {
        let l = class.link(self.seed, source, target);
        self.t.links.push(l);
    }
}

/// Expands a generator that passed [`check`].
fn expand(g: &TopologyGenerator) -> TopologyFile {
    let mut b = Builder {
        t: TopologyFile {
            domains: Vec::new(),
            nodes: Vec::new(),
            links: Vec::new(),
        },
        seed: g.seed,
    };
    let classes = classes(&g.kind);
    match &g.kind {
        GeneratorKind::IpxHub {
            plmns, ipx_providers, ..
        } => {
            let (nf, sepp, ipx) = (&classes[0], &classes[1], &classes[2]);
            let hubs: Vec<(String, String)> = if *ipx_providers == 1 {
                vec![("ipx-hub".to_string(), "ri-hub".to_string())]
            } else {
                (1..=*ipx_providers)
                    .map(|p| (format!("ipx-hub-{p}"), format!("ri-hub-{p}")))
                    .collect()
            };
            for (domain, _) in &hubs {
                b.domain(domain.clone(), DomainKind::Ipx);
            }
            plmn_domains(&mut b, *plmns);
            for (domain, ri) in &hubs {
                b.node(ri, domain, NodeRole::Ri);
            }
            plmn_nodes(&mut b, *plmns);
            for k in 1..=u64::from(*plmns) {
                let (cnf, sepp_k, pnf) = plmn_names(k);
                b.link(nf, &cnf, &sepp_k);
                b.link(nf, &sepp_k, &pnf);
                let hub = &hubs[((k - 1) % hubs.len() as u64) as usize].1;
                b.link(sepp, &sepp_k, hub);
            }
            for i in 0..hubs.len() {
                for j in i + 1..hubs.len() {
                    b.link(ipx, &hubs[i].1, &hubs[j].1);
                }
            }
        }
        GeneratorKind::RandomMesh { plmns, degree, .. } => {
            let (nf, sepp) = (&classes[0], &classes[1]);
            plmn_domains(&mut b, *plmns);
            plmn_nodes(&mut b, *plmns);
            for k in 1..=u64::from(*plmns) {
                let (cnf, sepp_k, pnf) = plmn_names(k);
                b.link(nf, &cnf, &sepp_k);
                b.link(nf, &sepp_k, &pnf);
            }
            let mut rng = stream(g.seed, "topogen:mesh");
            for (i, j) in mesh(*plmns as usize, *degree as usize, &mut rng) {
                let (a, c) = (plmn_names(i as u64 + 1).1, plmn_names(j as u64 + 1).1);
                b.link(sepp, &a, &c);
            }
        }
        GeneratorKind::CapifProviders {
            providers,
            aefs_per_provider,
            invokers,
            ..
        } => {
            let (inside, access, invoker, interconnect) = (&classes[0], &classes[1], &classes[2], &classes[3]);
            let ids: Vec<String> = (0..u64::from(*providers)).map(letters).collect();
            for x in &ids {
                b.domain(format!("provider-{x}"), DomainKind::CapifProvider);
            }
            b.domain("internet".to_string(), DomainKind::Other);
            let aefs = |x: &str| -> Vec<String> { (1..=*aefs_per_provider).map(|j| format!("aef-{x}{j}")).collect() };
            for x in &ids {
                let domain = format!("provider-{x}");
                b.node(&format!("ccf-{x}"), &domain, NodeRole::Ccf);
                b.node(&format!("apf-{x}"), &domain, NodeRole::Apf);
                for aef in aefs(x) {
                    b.node(&aef, &domain, NodeRole::Aef);
                }
                b.node(&format!("gw-{x}"), &domain, NodeRole::Router);
            }
            b.node("access", "internet", NodeRole::Router);
            let invoker_names: Vec<String> = (1..=u64::from(*invokers))
                .map(|k| format!("invoker-{}", num(k, 4)))
                .collect();
            for name in &invoker_names {
                b.node(name, "internet", NodeRole::Invoker);
            }
            for x in &ids {
                let gw = format!("gw-{x}");
                b.link(inside, &format!("ccf-{x}"), &gw);
                b.link(inside, &format!("apf-{x}"), &gw);
                for aef in aefs(x) {
                    b.link(inside, &aef, &gw);
                }
                b.link(access, "access", &gw);
            }
            for i in 0..ids.len() {
                for j in i + 1..ids.len() {
                    b.link(interconnect, &format!("gw-{}", ids[i]), &format!("gw-{}", ids[j]));
                }
            }
            for name in &invoker_names {
                b.link(invoker, name, "access");
            }
        }
    }
    b.t
}

/// `cnf-k`, `sepp-k`, `pnf-k`.
fn plmn_names(k: u64) -> (String, String, String) {
    let k = num(k, 2);
    (format!("cnf-{k}"), format!("sepp-{k}"), format!("pnf-{k}"))
}

fn plmn_domains(b: &mut Builder, plmns: u32) {
    for k in 1..=u64::from(plmns) {
        b.domain(format!("plmn-{}", num(k, 2)), DomainKind::Plmn);
    }
}

fn plmn_nodes(b: &mut Builder, plmns: u32) {
    for k in 1..=u64::from(plmns) {
        let domain = format!("plmn-{}", num(k, 2));
        let (cnf, sepp, pnf) = plmn_names(k);
        b.node(&cnf, &domain, NodeRole::Nf);
        b.node(&sepp, &domain, NodeRole::Sepp);
        b.node(&pnf, &domain, NodeRole::Nf);
    }
}

/// A random connected graph on `n >= 2` vertices in which every vertex has at least
/// `degree` (`1 <= degree < n`) neighbours: a random Hamiltonian path, then vertices short
/// of `degree` paired at random (with each other while possible). Edges `(i, j)`, `i < j`,
/// sorted.
fn mesh(n: usize, degree: usize, rng: &mut SimRng) -> BTreeSet<(usize, usize)> {
    let mut adj: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n];
    let mut edges = BTreeSet::new();
    let mut add = |adj: &mut Vec<BTreeSet<usize>>, u: usize, v: usize| {
        adj[u].insert(v);
        adj[v].insert(u);
        edges.insert((u.min(v), u.max(v)));
    };
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(rng);
    for w in order.windows(2) {
        add(&mut adj, w[0], w[1]);
    }
    // `open`: the vertices still short of `degree`, with their positions for O(1) removal.
    const GONE: usize = usize::MAX;
    let mut open: Vec<usize> = Vec::new();
    let mut pos = vec![GONE; n];
    for (u, a) in adj.iter().enumerate() {
        if a.len() < degree {
            pos[u] = open.len();
            open.push(u);
        }
    }
    let close = |open: &mut Vec<usize>, pos: &mut Vec<usize>, u: usize| {
        let p = pos[u];
        if p != GONE {
            open.swap_remove(p);
            if let Some(&moved) = open.get(p) {
                pos[moved] = p;
            }
            pos[u] = GONE;
        }
    };
    let mut todo = open.clone();
    todo.shuffle(rng);
    for u in todo {
        while adj[u].len() < degree {
            let eligible = |v: usize, adj: &[BTreeSet<usize>]| v != u && !adj[u].contains(&v);
            // A few random probes among the open vertices, then a scan of them, then any
            // vertex (which then has one peer more than `degree`).
            let mut partner = None;
            for _ in 0..16 {
                if open.len() < 2 {
                    break;
                }
                let v = open[rng.random_range(0..open.len())];
                if eligible(v, &adj) {
                    partner = Some(v);
                    break;
                }
            }
            if partner.is_none() {
                let mut candidates: Vec<usize> = open.iter().copied().filter(|&v| eligible(v, &adj)).collect();
                if candidates.is_empty() {
                    candidates = (0..n).filter(|&v| eligible(v, &adj)).collect();
                }
                candidates.sort_unstable();
                if candidates.is_empty() {
                    // Unreachable for degree < n: u would be adjacent to every vertex.
                    break;
                }
                partner = Some(candidates[rng.random_range(0..candidates.len())]);
            }
            let Some(v) = partner else { break };
            add(&mut adj, u, v);
            for w in [u, v] {
                if adj[w].len() >= degree {
                    close(&mut open, &mut pos, w);
                }
            }
        }
    }
    edges
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, VecDeque};
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::scenario::load::{load_topology, parse_topology_str};

    fn root() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }

    fn parse(src: &str) -> TopologyGenerator {
        ron::from_str(src).unwrap()
    }

    fn gen_src(src: &str) -> TopologyFile {
        generate(&parse(src)).unwrap()
    }

    fn ron_of(t: &TopologyFile) -> String {
        ron::to_string(t).unwrap()
    }

    /// Node name → (role, domain, domain kind).
    fn nodes_of(t: &TopologyFile) -> Vec<(String, NodeRole, String, DomainKind)> {
        let kinds: BTreeMap<&str, DomainKind> = t.domains.iter().map(|d| (d.name.as_str(), d.kind)).collect();
        t.nodes
            .iter()
            .map(|n| (n.name.clone(), n.role, n.domain.clone(), kinds[n.domain.as_str()]))
            .collect()
    }

    fn connected(t: &TopologyFile) -> bool {
        let adj = validate::adjacency(t);
        let Some(first) = t.nodes.first() else {
            return true;
        };
        let mut seen = BTreeSet::from([first.name.as_str()]);
        let mut queue = VecDeque::from([first.name.as_str()]);
        while let Some(u) = queue.pop_front() {
            for v in adj.get(u).into_iter().flatten() {
                if seen.insert(v) {
                    queue.push_back(v);
                }
            }
        }
        seen.len() == t.nodes.len()
    }

    fn sepp_degrees(t: &TopologyFile) -> BTreeMap<String, usize> {
        let mut d: BTreeMap<String, usize> = BTreeMap::new();
        for l in &t.links {
            if l.source.starts_with("sepp-") && l.target.starts_with("sepp-") {
                *d.entry(l.source.clone()).or_default() += 1;
                *d.entry(l.target.clone()).or_default() += 1;
            }
        }
        d
    }

    #[test]
    fn ipx_hub_sizes_names_and_hub_assignment() {
        let t = gen_src("TopologyGenerator(kind: IpxHub(plmns: 7, ipx_providers: 3))");
        assert_eq!((t.domains.len(), t.nodes.len(), t.links.len()), (3 + 7, 3 + 21, 21 + 3));
        assert!(validate::topology(&t).is_empty());
        assert!(connected(&t));
        assert_eq!(t.nodes[0].name, "ri-hub-1");
        assert_eq!(t.nodes[3].name, "cnf-01");
        // PLMN 4 on hub 1, PLMN 5 on hub 2.
        let hub_of = |s: &str| {
            t.links
                .iter()
                .find(|l| l.source == s && l.target.starts_with("ri-"))
                .unwrap()
        };
        assert_eq!(hub_of("sepp-04").target, "ri-hub-1");
        assert_eq!(hub_of("sepp-05").target, "ri-hub-2");
        let last = t.links.last().unwrap();
        assert_eq!((last.source.as_str(), last.target.as_str()), ("ri-hub-2", "ri-hub-3"));
        // Three-digit PLMNs keep the at-least-two-digit convention.
        let big = gen_src("TopologyGenerator(kind: IpxHub(plmns: 120))");
        assert!(big.nodes.iter().any(|n| n.name == "sepp-07"));
        assert!(big.nodes.iter().any(|n| n.name == "sepp-120"));
    }

    #[test]
    fn mesh_is_connected_with_min_degree() {
        for (n, d) in [
            (2, 1),
            (3, 1),
            (3, 2),
            (5, 4),
            (10, 1),
            (10, 2),
            (20, 3),
            (21, 3),
            (101, 7),
            (300, 4),
        ] {
            for seed in 1..=4 {
                let src = format!("TopologyGenerator(seed: {seed}, kind: RandomMesh(plmns: {n}, degree: {d}))");
                let t = gen_src(&src);
                assert_eq!(t.nodes.len(), 3 * n);
                assert!(validate::topology(&t).is_empty(), "{src}");
                assert!(connected(&t), "{src}: not connected");
                let degrees = sepp_degrees(&t);
                assert_eq!(degrees.len(), n, "{src}");
                assert!(degrees.values().all(|&k| k >= d), "{src}: {degrees:?}");
                // Near-regular: only a few SEPPs above `degree` (path ends, odd n·d,
                // `degree 1` path interiors).
                if d >= 2 {
                    let above = degrees.values().filter(|&&k| k > d).count();
                    assert!(above <= 2 + n / 20, "{src}: {above} SEPPs above degree {d}");
                }
                // Mesh edges are listed sorted by PLMN number, source before target.
                let k = |s: &str| -> u32 { s.trim_start_matches("sepp-").parse().unwrap() };
                let mesh: Vec<(u32, u32)> = t
                    .links
                    .iter()
                    .filter(|l| l.source.starts_with("sepp-") && l.target.starts_with("sepp-"))
                    .map(|l| (k(&l.source), k(&l.target)))
                    .collect();
                assert!(mesh.windows(2).all(|w| w[0] < w[1]), "{src}");
                assert!(mesh.iter().all(|(a, b)| a < b), "{src}");
            }
        }
        // Complete graph when degree = plmns - 1.
        let t = gen_src("TopologyGenerator(kind: RandomMesh(plmns: 6, degree: 5))");
        assert_eq!(t.links.len(), 12 + 15);
    }

    #[test]
    fn same_seed_same_topology_other_seed_other_mesh() {
        let a = gen_src("TopologyGenerator(seed: 7, kind: RandomMesh(plmns: 30, degree: 3))");
        let b = gen_src("TopologyGenerator(seed: 7, kind: RandomMesh(plmns: 30, degree: 3))");
        let c = gen_src("TopologyGenerator(seed: 8, kind: RandomMesh(plmns: 30, degree: 3))");
        assert_eq!(ron_of(&a), ron_of(&b));
        let edges = |t: &TopologyFile| -> Vec<(String, String)> {
            t.links.iter().map(|l| (l.source.clone(), l.target.clone())).collect()
        };
        assert_ne!(edges(&a), edges(&c));
        // Drawn medians depend on the seed too; fixed distributions do not.
        for kind in ["IpxHub(plmns: 10)", "CapifProviders(providers: 2, invokers: 10)"] {
            let x = gen_src(&format!("TopologyGenerator(seed: 1, kind: {kind})"));
            let y = gen_src(&format!("TopologyGenerator(seed: 1, kind: {kind})"));
            let z = gen_src(&format!("TopologyGenerator(seed: 2, kind: {kind})"));
            assert_eq!(ron_of(&x), ron_of(&y));
            assert_ne!(ron_of(&x), ron_of(&z));
            assert_eq!(edges(&x), edges(&z));
        }
    }

    #[test]
    fn growing_keeps_existing_draws() {
        let small = gen_src("TopologyGenerator(kind: IpxHub(plmns: 10))");
        let large = gen_src("TopologyGenerator(kind: IpxHub(plmns: 40))");
        for l in &small.links {
            let same = large
                .links
                .iter()
                .find(|m| m.source == l.source && m.target == l.target)
                .unwrap();
            assert_eq!(l.latency, same.latency);
        }
    }

    #[test]
    fn drawn_medians_stay_in_range_on_microseconds() {
        let t = gen_src(
            r#"TopologyGenerator(kind: CapifProviders(providers: 1, invokers: 500,
                invoker_latency: LogNormalDrawn(median_min: "2.5ms", median_max: "3ms", sigma: 0.3)))"#,
        );
        let mut seen = BTreeSet::new();
        for l in t.links.iter().filter(|l| l.source.starts_with("invoker-")) {
            let LatencySpec::LogNormal { median, sigma } = l.latency else {
                panic!("{:?}", l.latency)
            };
            assert_eq!(sigma, 0.3);
            let ns = median.as_nanos();
            assert!((2_500_000..=3_000_000).contains(&ns) && ns % 1000 == 0, "{median}");
            seen.insert(ns);
        }
        assert!(seen.len() > 100);
        // A range inside one microsecond is its minimum.
        let one = resolve(
            &GenLatency::LogNormalDrawn {
                median_min: SimDuration::from_nanos(1500),
                median_max: SimDuration::from_nanos(1800),
                sigma: 0.1,
            },
            || stream(1, "x"),
        );
        assert_eq!(
            one,
            LatencySpec::LogNormal {
                median: SimDuration::from_nanos(1500),
                sigma: 0.1
            }
        );
    }

    #[test]
    fn capif_providers_sizes_and_letters() {
        let t = gen_src("TopologyGenerator(kind: CapifProviders(providers: 3, aefs_per_provider: 2, invokers: 5))");
        // Per provider: ccf, apf, 2 AEFs, gw; then access and 5 invokers.
        assert_eq!((t.domains.len(), t.nodes.len()), (4, 3 * 5 + 1 + 5));
        // Per provider: 4 inside + 1 access; 3 gateway pairs; 5 invokers.
        assert_eq!(t.links.len(), 3 * 5 + 3 + 5);
        assert!(validate::topology(&t).is_empty());
        assert!(connected(&t));
        let names: Vec<&str> = t.nodes.iter().map(|n| n.name.as_str()).collect();
        for n in ["ccf-c", "aef-b2", "gw-a", "invoker-0005"] {
            assert!(names.contains(&n), "{n} not in {names:?}");
        }
        assert!(t.links.iter().any(|l| l.source == "gw-a" && l.target == "gw-c"));
        assert_eq!(
            [0, 25, 26, 27, 51, 52, 701, 702].map(letters),
            ["a", "z", "aa", "ab", "az", "ba", "zz", "aaa"]
        );
    }

    /// The generated `ipx-hub` with 50 PLMNs is the shipped `topologies/ipx-hub-50.ron`
    /// (scripts/gen_ipx_hub.py) up to the drawn SEPP–hub medians.
    #[test]
    fn ipx_hub_50_matches_the_shipped_file() {
        let shipped = load_topology(&root().join("topologies/ipx-hub-50.ron")).unwrap();
        let t = gen_src("TopologyGenerator(kind: IpxHub(plmns: 50))");
        assert_eq!(nodes_of(&t), nodes_of(&shipped));
        let domains = |t: &TopologyFile| -> Vec<(String, DomainKind)> {
            t.domains.iter().map(|d| (d.name.clone(), d.kind)).collect()
        };
        assert_eq!(domains(&t), domains(&shipped));
        same_links_but_drawn(&t, &shipped, 3.0, 60.0, 0.1);
    }

    /// `CapifProviders(providers: 1, aefs_per_provider: 1, invokers: 1000)` is the shipped
    /// `topologies/capif-storm-1000.ron` (scripts/gen_capif_storm.py) up to the drawn
    /// invoker medians.
    #[test]
    fn capif_storm_1000_matches_the_shipped_file() {
        let shipped = load_topology(&root().join("topologies/capif-storm-1000.ron")).unwrap();
        let t = gen_src("TopologyGenerator(kind: CapifProviders(providers: 1, aefs_per_provider: 1, invokers: 1000))");
        assert_eq!(nodes_of(&t), nodes_of(&shipped));
        same_links_but_drawn(&t, &shipped, 2.0, 40.0, 0.2);
    }

    /// Same link endpoints in the same order with the same parameters, except log-normal
    /// medians drawn in `[lo_ms, hi_ms]` with `sigma` (the Python scripts' draws).
    fn same_links_but_drawn(t: &TopologyFile, shipped: &TopologyFile, lo_ms: f64, hi_ms: f64, sigma: f64) {
        assert_eq!(t.links.len(), shipped.links.len());
        let mut drawn = 0;
        for (a, b) in t.links.iter().zip(&shipped.links) {
            assert_eq!((&a.source, &a.target, a.duplex), (&b.source, &b.target, b.duplex));
            assert_eq!(
                (a.loss, a.bandwidth_mbps, a.rto),
                (b.loss, b.bandwidth_mbps, b.rto),
                "{}",
                a.source
            );
            match (&a.latency, &b.latency) {
                (
                    LatencySpec::LogNormal { median: ma, sigma: sa },
                    LatencySpec::LogNormal { median: mb, sigma: sb },
                ) if *sa == sigma && *sb == sigma && ma != mb => {
                    for m in [ma, mb] {
                        // The Python rounded to 0.1 ms.
                        assert!((lo_ms - 0.05..=hi_ms + 0.05).contains(&m.as_millis_f64()), "{m}");
                    }
                    drawn += 1;
                }
                (x, y) => assert_eq!(x, y, "{} -> {}", a.source, a.target),
            }
        }
        assert!(drawn > shipped.links.len() / 4, "only {drawn} drawn links differ");
    }

    #[test]
    fn shipped_generator_files_load() {
        for (file, nodes, check) in [
            ("gen-ipx-hub-200.ron", 601, "sepp-200"),
            ("gen-mesh-20.ron", 60, "pnf-20"),
            ("gen-capif-3-providers.ron", 3 * 5 + 1 + 300, "invoker-0300"),
        ] {
            let t = load_topology(&root().join("topologies").join(file)).unwrap();
            assert_eq!(t.nodes.len(), nodes, "{file}");
            assert!(t.nodes.iter().any(|n| n.name == check), "{file}");
            assert!(connected(&t), "{file}");
        }
    }

    #[test]
    fn check_reports_fields() {
        let issues = |src: &str| -> Vec<(String, String)> {
            check(&parse(src)).into_iter().map(|i| (i.field, i.message)).collect()
        };
        let one = |src: &str| {
            let v = issues(src);
            assert_eq!(v.len(), 1, "{src}: {v:?}");
            v.into_iter().next().unwrap()
        };
        assert_eq!(one("TopologyGenerator(kind: IpxHub(plmns: 0))").0, "kind.IpxHub.plmns");
        assert_eq!(
            one("TopologyGenerator(kind: IpxHub(plmns: 2, ipx_providers: 3))").1,
            "ipx_providers 3 is more than plmns 2: every hub needs a PLMN"
        );
        assert_eq!(
            one("TopologyGenerator(kind: RandomMesh(plmns: 5, degree: 5))"),
            (
                "kind.RandomMesh.degree".to_string(),
                "degree 5 must be less than plmns 5 (a SEPP has at most 4 peers)".to_string()
            )
        );
        assert_eq!(
            one("TopologyGenerator(kind: RandomMesh(plmns: 1, degree: 1))").1,
            "plmns must be >= 2 (a mesh needs two SEPPs), found 1"
        );
        assert_eq!(
            one("TopologyGenerator(kind: CapifProviders(providers: 1, invokers: 300000))"),
            (
                "kind.CapifProviders.invokers".to_string(),
                "the generated topology would have 300005 nodes, above the limit of 250000".to_string()
            )
        );
        assert_eq!(
            one("TopologyGenerator(kind: CapifProviders(providers: 3000, invokers: 1))").0,
            "kind.CapifProviders.providers"
        );
        assert_eq!(
            one("TopologyGenerator(kind: RandomMesh(plmns: 30000, degree: 100))").0,
            "kind.RandomMesh.degree"
        );
        assert_eq!(
            one("TopologyGenerator(kind: IpxHub(plmns: 1, sepp_loss: 1.5))"),
            (
                "kind.IpxHub.sepp_loss".to_string(),
                "loss 1.5 must be in [0, 1)".to_string()
            )
        );
        assert_eq!(
            one(r#"TopologyGenerator(kind: IpxHub(plmns: 1, nf_latency: Uniform(min: "2ms", max: "1ms")))"#).0,
            "kind.IpxHub.nf_latency.Uniform.min"
        );
        assert_eq!(
            one(
                r#"TopologyGenerator(kind: IpxHub(plmns: 1, sepp_latency: LogNormalDrawn(median_min: "1ms", median_max: "2ms", sigma: -1.0)))"#
            )
            .0,
            "kind.IpxHub.sepp_latency.LogNormalDrawn.sigma"
        );
        assert_eq!(
            one(
                r#"TopologyGenerator(kind: IpxHub(plmns: 1, sepp_latency: LogNormalDrawn(median_min: "3ms", median_max: "2ms", sigma: 1.0)))"#
            )
            .0,
            "kind.IpxHub.sepp_latency.LogNormalDrawn.median_min"
        );
        assert_eq!(
            one("TopologyGenerator(kind: CapifProviders(providers: 1, invokers: 1, access_bandwidth_mbps: Some(0.0)))")
                .0,
            "kind.CapifProviders.access_bandwidth_mbps"
        );
        assert!(
            issues("TopologyGenerator(kind: CapifProviders(providers: 60, aefs_per_provider: 9, invokers: 99))")
                .is_empty()
        );
    }

    #[test]
    fn huge_counts_are_refused_without_overflow() {
        // Regression (fuzzing): providers × (3 + aefs_per_provider) overflowed u64 (a panic in
        // debug builds, a wrapped small count in release that passed the limit).
        for src in [
            "TopologyGenerator(kind: CapifProviders(providers: 4294967295, aefs_per_provider: 4294967295, invokers: 4294967295))",
            "TopologyGenerator(kind: CapifProviders(providers: 4294967295, aefs_per_provider: 4294967293, invokers: 1))",
            "TopologyGenerator(kind: IpxHub(plmns: 4294967295, ipx_providers: 4294967295))",
            "TopologyGenerator(kind: IpxHub(plmns: 1000000000))",
            "TopologyGenerator(kind: RandomMesh(plmns: 4294967295, degree: 4294967294))",
        ] {
            let issues = check(&parse(src));
            assert_eq!(issues.len(), 1, "{src}: {issues:?}");
            assert!(issues[0].message.contains("above the limit"), "{src}: {issues:?}");
            assert!(generate(&parse(src)).is_err());
        }
    }

    #[test]
    fn load_locates_generator_errors() {
        let src = "// a mesh\nTopologyGenerator(\n    kind: RandomMesh(plmns: 4, degree: 4),\n)\n";
        let e = parse_topology_str(src, Path::new("g.ron")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "g.ron:3:40: kind.RandomMesh.degree: degree 4 must be less than plmns 4 (a SEPP has at most 3 peers)"
        );
        let e = parse_topology_str("TopologyGenerator(kind: IpxHub(plmn: 4))", Path::new("g.ron")).unwrap_err();
        assert_eq!(e.field, "kind.IpxHub.plmn");
        assert_eq!(e.suggestion.as_deref(), Some("plmns"));
        let e = parse_topology_str("TopologyGenrator(kind: IpxHub(plmns: 4))", Path::new("g.ron")).unwrap_err();
        assert_eq!(e.suggestion.as_deref(), Some("TopologyGenerator"), "{e}");
    }

    /// Pieces of generator files, for token soups.
    const SOUP: [&str; 30] = [
        "(",
        ")",
        ",",
        ":",
        " ",
        "kind",
        "seed",
        "IpxHub",
        "RandomMesh",
        "CapifProviders",
        "plmns",
        "degree",
        "providers",
        "invokers",
        "aefs_per_provider",
        "ipx_providers",
        "0",
        "1",
        "3",
        "7",
        "100000",
        "4294967296",
        "-1",
        "sepp_latency",
        "LogNormalDrawn",
        "median_min",
        "\"5ms\"",
        "sigma",
        "sepp_loss",
        "1.5",
    ];

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, ..Default::default() })]

        #[test]
        fn generator_soup_never_panics(toks in proptest::collection::vec(proptest::sample::select(&SOUP[..]), 0..40)) {
            let src = format!("TopologyGenerator({})", toks.concat());
            if let Err(e) = parse_topology_str(&src, Path::new("fuzz.ron")) {
                let (Some(line), Some(col)) = (e.line, e.column) else { panic!("no position: {e}") };
                proptest::prop_assert!(line == 1 && col as usize <= src.chars().count() + 1, "{e}");
            }
        }
    }
}
