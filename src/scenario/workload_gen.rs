//! Workload generators (issue 16): an experiment's `workload_generators` describe traffic by a
//! few numbers, and the loader expands them, after the topology is loaded, into ordinary
//! `N32(...)` flows appended to `workload` ([`expand`]), validated like written ones.
//!
//! ```ron
//! workload_generators: [
//!     N32Partners((
//!         partners: Random(k: 20),     // Ring | AllPairs | Random(k:) | Gravity(k:, sigma:)
//!         both_ways: true,             // default true: each partner pair sends both ways
//!         via: Some("ri-hub"),         // default none: direct TLS; else N32-c CONNECT and PRINS via this RI
//!         // or `via_linked_ri: true`: each SEPP's own RI (the Ri node linked to it)
//!         rate_per_s: Uniform(min: 1.0, max: 5.0),   // Fixed(r) | Uniform(min:, max:) | LogNormal(median:, sigma:)
//!         seed: 1,                     // default 1: partner choices and drawn rates
//!     )),
//! ],
//! ```
//!
//! # PLMNs and their nodes
//! The PLMNs are the topology's domains of kind `Plmn`, in file order. In each, the SEPP is
//! its first node of role `Sepp`, the consumer NF its first node of role `Nf` and the producer
//! NF its last (the same node when it has only one): the layout of the `IpxHub` and
//! `RandomMesh` topology generators (`cnf-k`, `sepp-k`, `pnf-k`). A PLMN without a SEPP or an
//! NF is an error naming the domain.
//!
//! # Partner graphs
//! Pairs are unordered `{i, j}` of PLMN indices, listed sorted; a pair makes the flow `i -> j`
//! (`i` the lower index) and, with `both_ways`, `j -> i` after it.
//! - `Ring`: PLMN `k` with `k + 1` (the last with the first): `n` pairs (one for `n = 2`).
//! - `AllPairs`: every pair: `n (n - 1) / 2`.
//! - `Random(k:)`: each PLMN draws `k` distinct partners uniformly among the others (stream
//!   `wlgen:<g>:partners:<plmn>`); the pairs are the union, so every PLMN has at least `k`.
//! - `Gravity(k:, sigma:)`: each PLMN gets a weight `w = exp(sigma · N(0, 1))` (stream
//!   `wlgen:<g>:weight:<plmn>`) and draws `k` distinct partners with probability proportional
//!   to their weights; a pair's drawn rate is then scaled by `w_i · w_j / mean(w)²` (large
//!   operators exchange more traffic with each other, as in a gravity model of trade).
//!
//! # Rates, phases and determinism
//! Each flow's Poisson rate is drawn from `rate_per_s` with its own stream
//! `wlgen:<g>:rate:<consumer-plmn>-><producer-plmn>` (`<g>` the generator's index), and then
//! its phase: its first request (which a flow sends at its `start`) is at `start` plus a
//! uniform draw within one mean gap (at most 60 s), so the flows do not all fire at once. Adding
//! PLMNs keeps every existing flow's rate; a Random/Gravity partner draw depends on the number
//! of PLMNs. Expansion depends only on the files: no OS randomness, no hash-map order.
//!
//! # Limits and errors
//! At most [`MAX_GENERATED_FLOWS`] flows in all (refused with the count before any is made);
//! `k` at least 1 and below the number of PLMNs; rate parameters finite and positive, a
//! drawn rate at most [`MAX_RATE_PER_S`]. Errors name `workload_generators[g]` and the field.
//! A generated flow that the experiment-wide checks refuse (e.g. its arrivals exceed
//! `max_events`) is reported at `workload_generators[g]` with the flow's name.

use std::collections::BTreeSet;

use rand::Rng as _;
use rand::seq::index::sample;
use serde::{Deserialize, Serialize};

use super::schema::{
    ArrivalSpec, CapifFlowSpec, DomainKind, LatencySpec, N32FlowSpec, NodeRole, TopologyFile, WorkloadSpec,
    default_request_bytes, default_response_bytes, default_timeout,
};
use super::validate::Issue;
use crate::engine::{SimDuration, SimRng, stream};
use crate::proto::capif::types::SecurityMethod;

/// Generated flows allowed in one experiment (all generators together).
pub const MAX_GENERATED_FLOWS: usize = 1_000_000;

/// The largest drawn per-flow request rate \[1/s\].
pub const MAX_RATE_PER_S: f64 = 1.0e6;

/// A workload generator: traffic described by a few numbers, expanded at load.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
pub enum WorkloadGenerator {
    /// N32 traffic between the topology's PLMNs along a partner graph.
    N32Partners(N32PartnersSpec),
    /// CAPIF invokers spread over the topology's providers (see [`CapifInvokersSpec`]).
    CapifInvokers(CapifInvokersSpec),
}

/// CAPIF flows for the topology's API invokers.
///
/// The providers are the topology's `Ccf` nodes in file order, each with the `Aef` nodes of
/// its domain (file order; a provider without an AEF is an error). The invokers are the
/// `Invoker` nodes whose names start with `invokers` (default: all), in file order; invoker
/// `i` onboards at provider `i mod P` (its home CCF). Each invoker then draws, from its own
/// stream `wlgen:<g>:invoker:<name>`: whether its AEF is registered at another provider
/// (probability `interconnected`; that provider uniform among the others, so CCF-B is the
/// home CCF and CCF-A the AEF's), the AEF (uniform among that provider's), and its method
/// preferences (a group of `prefs`, with probability proportional to its `share`). Invokers
/// with the same home CCF, AEF and preference group form one `Capif(...)` flow named
/// `<ccf>-><aef>/<group>` (group index in `prefs`), listed in the order (home provider,
/// AEF provider, AEF, group).
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CapifInvokersSpec {
    /// Only invokers whose names start with this. Default: every `Invoker` node.
    #[serde(default)]
    pub invokers: Option<String>,
    /// Share of invokers whose AEF is registered at another provider's CCF (CAPIF-6e), in
    /// `[0, 1]`. Default 0. Above 0 needs at least two providers.
    #[serde(default)]
    pub interconnected: f64,
    /// Method preference groups, each with its share of the invokers. Default one group with
    /// the CAPIF flows' default preferences.
    #[serde(default)]
    pub prefs: Vec<PrefsShare>,
    /// Invocations per invoker, once authenticated.
    pub arrival: ArrivalSpec,
    /// Seed of the invokers' draws. Default 1.
    #[serde(default = "one")]
    pub seed: u64,
    /// Onboarding of the first invoker. Default `"0s"`.
    #[serde(default)]
    pub start: SimDuration,
    /// Onboarding times spread uniformly over `[start, start + start_spread)`. Default `"1s"`.
    #[serde(default)]
    pub start_spread: Option<SimDuration>,
    /// A CAPIF request without answer after this fails. Default `"5s"`.
    #[serde(default = "default_timeout")]
    pub timeout: SimDuration,
    /// AEF processing time per invocation. Default none (zero).
    #[serde(default)]
    pub processing: Option<LatencySpec>,
    /// JSON body size of an invocation's answer \[bytes\]. Default 1024.
    #[serde(default = "default_response_bytes")]
    pub response_bytes: u32,
}

/// One group of method preferences and the share of invokers that hold it.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrefsShare {
    /// Relative weight (finite, > 0; the shares need not sum to 1).
    pub share: f64,
    /// Security methods, first preferred (non-empty).
    pub prefs: Vec<SecurityMethod>,
}

/// N32 flows between the PLMNs of the topology (see the module documentation).
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct N32PartnersSpec {
    /// Which PLMN pairs exchange traffic.
    pub partners: PartnerGraph,
    /// Each pair sends both ways (two flows). Default true.
    #[serde(default = "yes")]
    pub both_ways: bool,
    /// A Roaming Intermediary that N32-c goes through (HTTP CONNECT) and N32-f (PRINS) is
    /// relayed by. Default none: direct TLS between the SEPPs.
    #[serde(default)]
    pub via: Option<String>,
    /// Instead of one `via` for all: each flow's N32-c goes through the RI linked to its
    /// c-SEPP (the first `Ri` node with a link to it: its IPX provider's hub), and its N32-f
    /// (PRINS) through that RI and, when the p-SEPP's own RI is another, that one too (the
    /// c-IPX and p-IPX of TS 29.573). A SEPP linked to no RI is an error. Default false.
    #[serde(default)]
    pub via_linked_ri: bool,
    /// Each flow's Poisson request rate, drawn per flow.
    pub rate_per_s: RateDraw,
    /// Seed of the partner choices and drawn rates. Default 1.
    #[serde(default = "one")]
    pub seed: u64,
    /// JSON body size of a request \[bytes\]. Default 512.
    #[serde(default = "default_request_bytes")]
    pub request_bytes: u32,
    /// JSON body size of a response \[bytes\]. Default 1024.
    #[serde(default = "default_response_bytes")]
    pub response_bytes: u32,
    /// pNF processing time per request. Default none (zero).
    #[serde(default)]
    pub processing: Option<LatencySpec>,
    /// First request of every flow no earlier than this. Default `"0s"`.
    #[serde(default)]
    pub start: SimDuration,
    /// A cNF request without answer after this counts as timed out. Default `"5s"`.
    #[serde(default = "default_timeout")]
    pub timeout: SimDuration,
}

fn yes() -> bool {
    true
}

fn one() -> u64 {
    1
}

/// Which PLMN pairs exchange traffic.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
pub enum PartnerGraph {
    /// PLMN `k` with `k + 1`, the last with the first.
    Ring,
    /// Every pair of PLMNs.
    AllPairs,
    /// Each PLMN draws `k` distinct partners uniformly.
    Random {
        /// Partners drawn per PLMN (1 ≤ k < PLMNs).
        k: u32,
    },
    /// Each PLMN draws `k` distinct partners with probability proportional to log-normal
    /// weights, and a pair's rate is scaled by the product of its weights.
    Gravity {
        /// Partners drawn per PLMN (1 ≤ k < PLMNs).
        k: u32,
        /// Spread of the log-normal weights (finite, ≥ 0; 0: all weights 1).
        sigma: f64,
    },
}

/// A per-flow request rate \[1/s\].
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
pub enum RateDraw {
    /// The same rate for every flow.
    Fixed(f64),
    /// Uniform in `[min, max]`.
    Uniform {
        /// Lowest rate (> 0).
        min: f64,
        /// Highest rate (≥ min).
        max: f64,
    },
    /// Log-normal with this median and spread.
    LogNormal {
        /// Median rate (> 0).
        median: f64,
        /// Spread of the logarithm (finite, ≥ 0).
        sigma: f64,
    },
}

impl RateDraw {
    fn check(&self, at: &str) -> Result<(), Issue> {
        let pos = |v: f64, f: &str| {
            if v.is_finite() && v > 0.0 && v <= MAX_RATE_PER_S {
                Ok(())
            } else {
                Err(Issue::new(
                    format!("{at}.{f}"),
                    format!("a rate must be finite, above 0 and at most {MAX_RATE_PER_S:e} per second, got {v}"),
                ))
            }
        };
        match *self {
            RateDraw::Fixed(r) => pos(r, "Fixed"),
            RateDraw::Uniform { min, max } => {
                pos(min, "Uniform.min")?;
                pos(max, "Uniform.max")?;
                if max < min {
                    return Err(Issue::new(
                        format!("{at}.Uniform.max"),
                        format!("max ({max}) is below min ({min})"),
                    ));
                }
                Ok(())
            }
            RateDraw::LogNormal { median, sigma } => {
                pos(median, "LogNormal.median")?;
                check_sigma(sigma, &format!("{at}.LogNormal.sigma"))
            }
        }
    }

    fn draw(&self, rng: &mut SimRng) -> f64 {
        match *self {
            RateDraw::Fixed(r) => r,
            RateDraw::Uniform { min, max } => {
                if max > min {
                    rng.random_range(min..=max)
                } else {
                    min
                }
            }
            RateDraw::LogNormal { median, sigma } => median * (sigma * normal(rng)).exp(),
        }
    }
}

fn check_sigma(sigma: f64, at: &str) -> Result<(), Issue> {
    if sigma.is_finite() && (0.0..=10.0).contains(&sigma) {
        Ok(())
    } else {
        Err(Issue::new(
            at,
            format!("sigma must be finite and in [0, 10], got {sigma}"),
        ))
    }
}

/// A standard normal draw (Box–Muller; two uniforms per draw, so the stream's use is fixed).
fn normal(rng: &mut SimRng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// One PLMN's nodes.
struct Plmn<'a> {
    domain: &'a str,
    sepp: &'a str,
    consumer: &'a str,
    producer: &'a str,
}

fn plmns<'a>(topology: &'a TopologyFile, at: &str) -> Result<Vec<Plmn<'a>>, Issue> {
    let mut out = Vec::new();
    // Nodes per domain in file order: one pass over the nodes.
    let index: std::collections::BTreeMap<&str, usize> = topology
        .domains
        .iter()
        .filter(|d| d.kind == DomainKind::Plmn)
        .enumerate()
        .map(|(i, d)| (d.name.as_str(), i))
        .collect();
    let mut parts: Vec<(Option<&str>, Option<&str>, Option<&str>)> = vec![(None, None, None); index.len()];
    for n in &topology.nodes {
        let Some(&i) = index.get(n.domain.as_str()) else {
            continue;
        };
        let p = &mut parts[i];
        match n.role {
            NodeRole::Sepp if p.0.is_none() => p.0 = Some(&n.name),
            NodeRole::Nf => {
                if p.1.is_none() {
                    p.1 = Some(&n.name);
                }
                p.2 = Some(&n.name);
            }
            _ => {}
        }
    }
    for d in topology.domains.iter().filter(|d| d.kind == DomainKind::Plmn) {
        let (sepp, consumer, producer) = parts[index[d.name.as_str()]];
        let (Some(sepp), Some(consumer), Some(producer)) = (sepp, consumer, producer) else {
            return Err(Issue::new(
                at,
                format!(
                    "PLMN `{}` has no {} node: every PLMN of the topology needs a SEPP and an NF",
                    d.name,
                    if sepp.is_none() { "Sepp" } else { "Nf" }
                ),
            ));
        };
        out.push(Plmn {
            domain: &d.name,
            sepp,
            consumer,
            producer,
        });
    }
    if out.len() < 2 {
        return Err(Issue::new(
            at,
            format!("the topology has {} PLMN(s); N32 traffic needs at least 2", out.len()),
        ));
    }
    Ok(out)
}

/// Unordered PLMN index pairs `(i, j)`, `i < j`, sorted.
type Pairs = BTreeSet<(usize, usize)>;

/// The pairs `(i, j)`, `i < j`, sorted, and for `Gravity` the weights.
fn pairs(g: usize, spec: &N32PartnersSpec, ps: &[Plmn<'_>], at: &str) -> Result<(Pairs, Option<Vec<f64>>), Issue> {
    let n = ps.len();
    let check_k = |k: u32, f: &str| -> Result<usize, Issue> {
        let k = k as usize;
        if k == 0 || k >= n {
            return Err(Issue::new(
                format!("{at}.partners.{f}.k"),
                format!("k must be at least 1 and below the number of PLMNs ({n}), got {k}"),
            ));
        }
        Ok(k)
    };
    let mut out = BTreeSet::new();
    let mut weights = None;
    match spec.partners {
        PartnerGraph::Ring => {
            for i in 0..n {
                let j = (i + 1) % n;
                out.insert((i.min(j), i.max(j)));
            }
        }
        PartnerGraph::AllPairs => {
            let count = n * (n - 1) / 2 * if spec.both_ways { 2 } else { 1 };
            if count > MAX_GENERATED_FLOWS {
                return Err(too_many(at, count));
            }
            for i in 0..n {
                for j in i + 1..n {
                    out.insert((i, j));
                }
            }
        }
        PartnerGraph::Random { k } => {
            let k = check_k(k, "Random")?;
            bound(at, n, k, spec.both_ways)?;
            for (i, p) in ps.iter().enumerate() {
                let mut rng = stream(spec.seed, &format!("wlgen:{g}:partners:{}", p.domain));
                for x in sample(&mut rng, n - 1, k) {
                    let j = if x >= i { x + 1 } else { x };
                    out.insert((i.min(j), i.max(j)));
                }
            }
        }
        PartnerGraph::Gravity { k, sigma } => {
            let k = check_k(k, "Gravity")?;
            check_sigma(sigma, &format!("{at}.partners.Gravity.sigma"))?;
            bound(at, n, k, spec.both_ways)?;
            let w: Vec<f64> = ps
                .iter()
                .map(|p| (sigma * normal(&mut stream(spec.seed, &format!("wlgen:{g}:weight:{}", p.domain)))).exp())
                .collect();
            for (i, p) in ps.iter().enumerate() {
                let mut rng = stream(spec.seed, &format!("wlgen:{g}:partners:{}", p.domain));
                let others: Vec<usize> = (0..n).filter(|&j| j != i).collect();
                let chosen = rand::seq::index::sample_weighted(&mut rng, others.len(), |x| w[others[x]], k)
                    .map_err(|e| Issue::new(format!("{at}.partners.Gravity"), format!("weights: {e}")))?;
                for x in chosen {
                    let j = others[x];
                    out.insert((i.min(j), i.max(j)));
                }
            }
            weights = Some(w);
        }
    }
    Ok((out, weights))
}

fn too_many(at: &str, count: usize) -> Issue {
    Issue::new(
        format!("{at}.partners"),
        format!("this generator makes {count} flows; at most {MAX_GENERATED_FLOWS} generated flows are allowed"),
    )
}

fn bound(at: &str, n: usize, k: usize, both: bool) -> Result<(), Issue> {
    let most = n.saturating_mul(k).saturating_mul(if both { 2 } else { 1 });
    if most > MAX_GENERATED_FLOWS {
        return Err(too_many(at, most));
    }
    Ok(())
}

/// The flows of generator `g` (at field path `at`) on `topology`.
pub fn flows(
    g: usize,
    gen_: &WorkloadGenerator,
    topology: &TopologyFile,
    at: &str,
) -> Result<Vec<WorkloadSpec>, Issue> {
    match gen_ {
        WorkloadGenerator::N32Partners(spec) => Ok(n32_flows(g, spec, topology, &format!("{at}.N32Partners"))?
            .into_iter()
            .map(WorkloadSpec::N32)
            .collect()),
        WorkloadGenerator::CapifInvokers(spec) => Ok(capif_flows(g, spec, topology, &format!("{at}.CapifInvokers"))?
            .into_iter()
            .map(WorkloadSpec::Capif)
            .collect()),
    }
}

/// The CAPIF flows of a `CapifInvokers` generator (see [`CapifInvokersSpec`]).
fn capif_flows(
    g: usize,
    spec: &CapifInvokersSpec,
    topology: &TopologyFile,
    at: &str,
) -> Result<Vec<CapifFlowSpec>, Issue> {
    if !(spec.interconnected.is_finite() && (0.0..=1.0).contains(&spec.interconnected)) {
        return Err(Issue::new(
            format!("{at}.interconnected"),
            format!("a share must be in [0, 1], got {}", spec.interconnected),
        ));
    }
    for (k, p) in spec.prefs.iter().enumerate() {
        if !(p.share.is_finite() && p.share > 0.0) {
            return Err(Issue::new(
                format!("{at}.prefs[{k}].share"),
                format!("a share must be finite and above 0, got {}", p.share),
            ));
        }
        if p.prefs.is_empty() {
            return Err(Issue::new(
                format!("{at}.prefs[{k}].prefs"),
                "a preference list needs at least one security method",
            ));
        }
    }
    // Providers: CCFs in file order, each with the AEFs of its domain.
    let ccfs: Vec<(&str, &str)> = topology
        .nodes
        .iter()
        .filter(|n| n.role == NodeRole::Ccf)
        .map(|n| (n.name.as_str(), n.domain.as_str()))
        .collect();
    if ccfs.is_empty() {
        return Err(Issue::new(at, "the topology has no node of role Ccf"));
    }
    let by_domain: std::collections::BTreeMap<&str, usize> =
        ccfs.iter().enumerate().rev().map(|(i, (_, d))| (*d, i)).collect();
    let mut aefs: Vec<Vec<&str>> = vec![Vec::new(); ccfs.len()];
    for n in topology.nodes.iter().filter(|n| n.role == NodeRole::Aef) {
        if let Some(&i) = by_domain.get(n.domain.as_str()) {
            aefs[i].push(&n.name);
        }
    }
    if let Some(i) = aefs.iter().position(Vec::is_empty) {
        return Err(Issue::new(
            at,
            format!(
                "CCF `{}` has no node of role Aef in its domain `{}`",
                ccfs[i].0, ccfs[i].1
            ),
        ));
    }
    if spec.interconnected > 0.0 && ccfs.len() < 2 {
        return Err(Issue::new(
            format!("{at}.interconnected"),
            "interconnection needs at least two providers (Ccf nodes); the topology has one",
        ));
    }
    let prefix = spec.invokers.as_deref().unwrap_or("");
    let invokers: Vec<&str> = topology
        .nodes
        .iter()
        .filter(|n| n.role == NodeRole::Invoker && n.name.starts_with(prefix))
        .map(|n| n.name.as_str())
        .collect();
    if invokers.is_empty() {
        return Err(Issue::new(
            format!("{at}.invokers"),
            format!("no node of role Invoker has a name starting with `{prefix}`"),
        ));
    }
    let total: f64 = spec.prefs.iter().map(|p| p.share).sum();
    let p = ccfs.len();
    // (home, AEF provider, AEF index, group) -> invokers, in that order.
    let mut groups: std::collections::BTreeMap<(usize, usize, usize, usize), Vec<String>> = Default::default();
    for (i, name) in invokers.iter().enumerate() {
        let mut rng = stream(spec.seed, &format!("wlgen:{g}:invoker:{name}"));
        let home = i % p;
        let other: f64 = rng.random();
        let pick: f64 = rng.random();
        let target = if other < spec.interconnected {
            let x = ((pick * (p - 1) as f64) as usize).min(p - 2);
            if x >= home { x + 1 } else { x }
        } else {
            home
        };
        let a = rng.random_range(0..aefs[target].len());
        let mut group = 0;
        if spec.prefs.len() > 1 {
            let mut u = rng.random::<f64>() * total;
            group = spec.prefs.len() - 1;
            for (k, ps) in spec.prefs.iter().enumerate() {
                if u < ps.share {
                    group = k;
                    break;
                }
                u -= ps.share;
            }
        }
        groups
            .entry((home, target, a, group))
            .or_default()
            .push((*name).to_string());
    }
    Ok(groups
        .into_iter()
        .map(|((home, target, a, group), invokers)| CapifFlowSpec {
            name: Some(format!("{}->{}/{group}", ccfs[home].0, aefs[target][a])),
            invokers,
            ccf: ccfs[home].0.to_string(),
            aef: aefs[target][a].to_string(),
            aef_ccf: (target != home).then(|| ccfs[target].0.to_string()),
            prefs: spec.prefs.get(group).map(|ps| ps.prefs.clone()),
            arrival: spec.arrival.clone(),
            start: spec.start,
            start_spread: spec.start_spread,
            timeout: spec.timeout,
            processing: spec.processing.clone(),
            response_bytes: spec.response_bytes,
        })
        .collect())
}

/// The flows of an `N32Partners` generator (see the module documentation).
fn n32_flows(g: usize, spec: &N32PartnersSpec, topology: &TopologyFile, at: &str) -> Result<Vec<N32FlowSpec>, Issue> {
    let at = at.to_string();
    spec.rate_per_s.check(&format!("{at}.rate_per_s"))?;
    if let Some(v) = &spec.via
        && !topology.nodes.iter().any(|n| &n.name == v && n.role == NodeRole::Ri)
    {
        return Err(Issue::new(
            format!("{at}.via"),
            format!("`{v}` is not a node of role Ri in the topology"),
        ));
    }
    let ps = plmns(topology, &at)?;
    // Each PLMN's own RI, for `via_linked_ri`.
    let mut own_ri: Vec<Option<String>> = vec![None; ps.len()];
    if spec.via_linked_ri {
        if spec.via.is_some() {
            return Err(Issue::new(
                format!("{at}.via_linked_ri"),
                "give either `via` (one RI for every flow) or `via_linked_ri: true`, not both",
            ));
        }
        let ris: BTreeSet<&str> = topology
            .nodes
            .iter()
            .filter(|n| n.role == NodeRole::Ri)
            .map(|n| n.name.as_str())
            .collect();
        let index: std::collections::BTreeMap<&str, usize> = ps.iter().enumerate().map(|(i, p)| (p.sepp, i)).collect();
        for l in &topology.links {
            for (a, b) in [(&l.source, &l.target), (&l.target, &l.source)] {
                if let (Some(&i), true) = (index.get(a.as_str()), ris.contains(b.as_str())) {
                    own_ri[i].get_or_insert_with(|| b.clone());
                }
            }
        }
        if let Some(i) = own_ri.iter().position(Option::is_none) {
            return Err(Issue::new(
                format!("{at}.via_linked_ri"),
                format!(
                    "SEPP `{}` of PLMN `{}` has no link to a node of role Ri",
                    ps[i].sepp, ps[i].domain
                ),
            ));
        }
    }
    let (pairs, weights) = pairs(g, spec, &ps, &at)?;
    let mean_w = weights.as_ref().map(|w| w.iter().sum::<f64>() / w.len() as f64);
    let mut out = Vec::with_capacity(pairs.len() * 2);
    for (i, j) in pairs {
        let dirs: &[(usize, usize)] = if spec.both_ways { &[(i, j), (j, i)] } else { &[(i, j)] };
        for &(c, p) in dirs {
            let (cp, pp) = (&ps[c], &ps[p]);
            let mut rng = stream(spec.seed, &format!("wlgen:{g}:rate:{}->{}", cp.domain, pp.domain));
            let mut rate = spec.rate_per_s.draw(&mut rng);
            if let (Some(w), Some(m)) = (&weights, mean_w) {
                rate *= w[c] * w[p] / (m * m);
            }
            let rate = rate.clamp(f64::MIN_POSITIVE, MAX_RATE_PER_S);
            // A flow's first request is at its start: each flow gets its own phase, uniform
            // within one mean gap (at most a minute), so that thousands of flows do not all
            // fire at `start` together.
            let phase_s = rng.random::<f64>() * (1.0 / rate).min(60.0);
            let start = spec.start + SimDuration::from_nanos((phase_s * 1e9) as u64);
            out.push(N32FlowSpec {
                name: Some(format!("{} -> {}", cp.domain, pp.domain)),
                consumer: cp.consumer.to_string(),
                c_sepp: cp.sepp.to_string(),
                p_sepp: pp.sepp.to_string(),
                producer: pp.producer.to_string(),
                n32c_via: spec.via.clone().or_else(|| own_ri[c].clone()),
                n32f_ris: match (&spec.via, &own_ri[c], &own_ri[p]) {
                    (Some(v), _, _) => vec![v.clone()],
                    (None, Some(a), Some(b)) if a != b => vec![a.clone(), b.clone()],
                    (None, Some(a), _) => vec![a.clone()],
                    (None, None, _) => Vec::new(),
                },
                arrival: ArrivalSpec::Poisson { rate_per_s: rate },
                request_bytes: spec.request_bytes,
                response_bytes: spec.response_bytes,
                processing: spec.processing.clone(),
                start,
                timeout: spec.timeout,
            });
        }
    }
    Ok(out)
}

/// Expands every generator of `generators` on `topology`: the flows to append to `workload`,
/// and for each the generator index it came from.
pub fn expand(
    generators: &[WorkloadGenerator],
    topology: &TopologyFile,
) -> Result<(Vec<WorkloadSpec>, Vec<usize>), Issue> {
    let mut flows_out = Vec::new();
    let mut from = Vec::new();
    for (g, gen_) in generators.iter().enumerate() {
        let fs = flows(g, gen_, topology, &format!("workload_generators[{g}]"))?;
        if flows_out.len() + fs.len() > MAX_GENERATED_FLOWS {
            return Err(too_many(
                &format!("workload_generators[{g}]"),
                flows_out.len() + fs.len(),
            ));
        }
        from.extend(std::iter::repeat_n(g, fs.len()));
        flows_out.extend(fs);
    }
    Ok((flows_out, from))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::load::parse_topology_str;
    use std::path::Path;

    fn hub(n: usize) -> TopologyFile {
        parse_topology_str(
            &format!("TopologyGenerator(kind: IpxHub(plmns: {n}))"),
            Path::new("hub.ron"),
        )
        .unwrap()
    }

    fn gen_(src: &str) -> WorkloadGenerator {
        ron::from_str(src).unwrap()
    }

    /// The generator's flows, all N32.
    fn flows(g: usize, gen_: &WorkloadGenerator, t: &TopologyFile, at: &str) -> Result<Vec<N32FlowSpec>, Issue> {
        Ok(super::flows(g, gen_, t, at)?
            .into_iter()
            .map(|w| match w {
                WorkloadSpec::N32(f) => f,
                _ => panic!("an N32Partners generator made a non-N32 flow"),
            })
            .collect())
    }

    fn capif(src: &str, t: &TopologyFile) -> Result<Vec<CapifFlowSpec>, Issue> {
        Ok(super::flows(0, &gen_(src), t, "workload_generators[0]")?
            .into_iter()
            .map(|w| match w {
                WorkloadSpec::Capif(f) => f,
                _ => panic!("a CapifInvokers generator made a non-CAPIF flow"),
            })
            .collect())
    }

    fn providers(p: u32, aefs: u32, invokers: u32) -> TopologyFile {
        parse_topology_str(
            &format!(
                "TopologyGenerator(kind: CapifProviders(providers: {p}, aefs_per_provider: {aefs}, invokers: {invokers}))"
            ),
            Path::new("capif.ron"),
        )
        .unwrap()
    }

    #[test]
    fn capif_invokers_are_spread_over_providers_aefs_and_preference_groups() {
        let t = providers(3, 2, 3000);
        let fs = capif(
            r#"CapifInvokers((interconnected: 0.25, arrival: Poisson(rate_per_s: 1.0),
                 prefs: [(share: 3.0, prefs: ["PSK"]), (share: 1.0, prefs: ["OAUTH", "PKI"])]))"#,
            &t,
        )
        .unwrap();
        // Every invoker in exactly one flow.
        let mut all: Vec<&String> = fs.iter().flat_map(|f| &f.invokers).collect();
        assert_eq!(all.len(), 3000);
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 3000);
        let count = |p: &dyn Fn(&CapifFlowSpec) -> bool| -> usize {
            fs.iter().filter(|f| p(f)).map(|f| f.invokers.len()).sum()
        };
        // Shares within a few standard deviations of what was asked.
        let inter = count(&|f| f.aef_ccf.is_some());
        assert!((600..=900).contains(&inter), "interconnected {inter}");
        let psk = count(&|f| f.prefs.as_deref() == Some(&[SecurityMethod::Psk][..]));
        assert!((2100..=2400).contains(&psk), "PSK group {psk}");
        // Home CCF round robin: 1,000 invokers each.
        for ccf in ["ccf-a", "ccf-b", "ccf-c"] {
            assert_eq!(count(&|f| f.ccf == ccf), 1000, "{ccf}");
        }
        // An interconnected flow's AEF belongs to its aef_ccf's provider, another one's to its CCF's.
        for f in &fs {
            let owner = f.aef_ccf.as_ref().unwrap_or(&f.ccf);
            assert_eq!(
                owner.strip_prefix("ccf-"),
                f.aef.strip_prefix("aef-").map(|a| &a[..1]),
                "{:?}",
                f.name
            );
            assert_ne!(f.aef_ccf.as_ref(), Some(&f.ccf));
        }
        // Same seed, same flows; another seed, other draws.
        let again = capif(
            r#"CapifInvokers((interconnected: 0.25, arrival: Poisson(rate_per_s: 1.0),
                 prefs: [(share: 3.0, prefs: ["PSK"]), (share: 1.0, prefs: ["OAUTH", "PKI"])]))"#,
            &t,
        )
        .unwrap();
        assert_eq!(format!("{fs:?}"), format!("{again:?}"));
        let other = capif(
            r#"CapifInvokers((interconnected: 0.25, arrival: Poisson(rate_per_s: 1.0), seed: 2,
                 prefs: [(share: 3.0, prefs: ["PSK"]), (share: 1.0, prefs: ["OAUTH", "PKI"])]))"#,
            &t,
        )
        .unwrap();
        assert_ne!(format!("{fs:?}"), format!("{other:?}"));
    }

    #[test]
    fn bad_capif_generators_are_located() {
        let err = |src: &str, t: &TopologyFile| capif(src, t).unwrap_err().field;
        let two = providers(2, 1, 10);
        assert_eq!(
            err(
                "CapifInvokers((interconnected: 1.5, arrival: Poisson(rate_per_s: 1.0)))",
                &two
            ),
            "workload_generators[0].CapifInvokers.interconnected"
        );
        assert_eq!(
            err(
                r#"CapifInvokers((prefs: [(share: 0.0, prefs: ["PSK"])], arrival: Poisson(rate_per_s: 1.0)))"#,
                &two
            ),
            "workload_generators[0].CapifInvokers.prefs[0].share"
        );
        assert_eq!(
            err(
                "CapifInvokers((prefs: [(share: 1.0, prefs: [])], arrival: Poisson(rate_per_s: 1.0)))",
                &two
            ),
            "workload_generators[0].CapifInvokers.prefs[0].prefs"
        );
        assert_eq!(
            err(
                r#"CapifInvokers((invokers: Some("nobody"), arrival: Poisson(rate_per_s: 1.0)))"#,
                &two
            ),
            "workload_generators[0].CapifInvokers.invokers"
        );
        assert_eq!(
            err(
                "CapifInvokers((interconnected: 0.5, arrival: Poisson(rate_per_s: 1.0)))",
                &providers(1, 1, 10)
            ),
            "workload_generators[0].CapifInvokers.interconnected"
        );
        assert_eq!(
            err("CapifInvokers((arrival: Poisson(rate_per_s: 1.0)))", &hub(3)),
            "workload_generators[0].CapifInvokers"
        );
    }

    fn names(fs: &[N32FlowSpec]) -> Vec<String> {
        fs.iter().map(|f| f.name.clone().unwrap()).collect()
    }

    #[test]
    fn ring_matches_the_hand_written_ipx_hub_workload() {
        let t = hub(4);
        let g = gen_(r#"N32Partners((partners: Ring, both_ways: false, via: Some("ri-hub"), rate_per_s: Fixed(5.0)))"#);
        let fs = flows(0, &g, &t, "w").unwrap();
        assert_eq!(
            names(&fs),
            [
                "plmn-01 -> plmn-02",
                "plmn-01 -> plmn-04",
                "plmn-02 -> plmn-03",
                "plmn-03 -> plmn-04"
            ]
        );
        let f = &fs[0];
        assert_eq!((f.consumer.as_str(), f.c_sepp.as_str()), ("cnf-01", "sepp-01"));
        assert_eq!((f.p_sepp.as_str(), f.producer.as_str()), ("sepp-02", "pnf-02"));
        assert_eq!(f.n32c_via.as_deref(), Some("ri-hub"));
        assert_eq!(f.n32f_ris, ["ri-hub"]);
        assert!(matches!(f.arrival, ArrivalSpec::Poisson { rate_per_s } if rate_per_s == 5.0));
        // Each flow's first request within one mean gap (0.2 s) of the start, not all at once.
        let starts: BTreeSet<u64> = fs.iter().map(|f| f.start.as_nanos()).collect();
        assert_eq!(starts.len(), fs.len());
        assert!(starts.iter().all(|&s| s < 200_000_000), "{starts:?}");
    }

    #[test]
    fn counts_per_partner_graph_and_both_ways() {
        let t = hub(30);
        let count = |p: &str, both: bool| {
            let g = gen_(&format!(
                "N32Partners((partners: {p}, both_ways: {both}, rate_per_s: Fixed(1.0)))"
            ));
            flows(0, &g, &t, "w").unwrap()
        };
        assert_eq!(count("Ring", true).len(), 60);
        assert_eq!(count("AllPairs", false).len(), 30 * 29 / 2);
        let r = count("Random(k: 5)", false);
        // Every PLMN has at least k partners; the union of draws is between n·k/2 and n·k.
        assert!((75..=150).contains(&r.len()), "{}", r.len());
        let mut degree = std::collections::BTreeMap::new();
        for f in &r {
            *degree.entry(f.c_sepp.clone()).or_insert(0) += 1;
            *degree.entry(f.p_sepp.clone()).or_insert(0) += 1;
        }
        assert_eq!(degree.len(), 30);
        assert!(degree.values().all(|&d| d >= 5));
        // Each pair both ways: the reverse of every flow follows it.
        let both = count("Random(k: 5)", true);
        assert_eq!(both.len(), 2 * r.len());
        for w in both.chunks(2) {
            assert_eq!(w[0].c_sepp, w[1].p_sepp);
            assert_eq!(w[0].p_sepp, w[1].c_sepp);
        }
    }

    #[test]
    fn draws_are_deterministic_per_seed_and_stable_when_plmns_are_added() {
        let g = |seed: u64| {
            gen_(&format!(
                "N32Partners((partners: Ring, rate_per_s: Uniform(min: 1.0, max: 9.0), seed: {seed}))"
            ))
        };
        let rates = |t: &TopologyFile, seed: u64| -> Vec<(String, f64)> {
            flows(0, &g(seed), t, "w")
                .unwrap()
                .into_iter()
                .map(|f| match f.arrival {
                    ArrivalSpec::Poisson { rate_per_s } => (f.name.unwrap(), rate_per_s),
                    _ => unreachable!("generated flows are Poisson"),
                })
                .collect()
        };
        let (small, large) = (hub(5), hub(9));
        assert_eq!(rates(&small, 1), rates(&small, 1));
        assert_ne!(rates(&small, 1), rates(&small, 2));
        let big = rates(&large, 1);
        // plmn-01 -> plmn-02 exists in both and keeps its rate.
        let a = rates(&small, 1)
            .into_iter()
            .find(|x| x.0 == "plmn-01 -> plmn-02")
            .unwrap();
        assert!(big.contains(&a));
        assert!(big.iter().all(|x| (1.0..=9.0).contains(&x.1)));
    }

    #[test]
    fn gravity_gives_heavier_plmns_more_partners_and_traffic() {
        let t = hub(60);
        let g = gen_("N32Partners((partners: Gravity(k: 3, sigma: 1.5), rate_per_s: Fixed(1.0)))");
        let fs = flows(0, &g, &t, "w").unwrap();
        let rate = |f: &N32FlowSpec| match f.arrival {
            ArrivalSpec::Poisson { rate_per_s } => rate_per_s,
            _ => unreachable!("generated flows are Poisson"),
        };
        // Rates differ (scaled by the weights) and the traffic of a pair is the same both ways.
        let distinct: BTreeSet<u64> = fs.iter().map(|f| rate(f).to_bits()).collect();
        assert!(distinct.len() > 10);
        for w in fs.chunks(2) {
            assert_eq!(rate(&w[0]), rate(&w[1]));
        }
        let sigma0 = gen_("N32Partners((partners: Gravity(k: 3, sigma: 0.0), rate_per_s: Fixed(1.0)))");
        assert!(flows(0, &sigma0, &t, "w").unwrap().iter().all(|f| rate(f) == 1.0));
    }

    #[test]
    fn linked_ris_carry_each_flow_through_its_own_ipx() {
        let t = parse_topology_str(
            "TopologyGenerator(kind: IpxHub(plmns: 8, ipx_providers: 4))",
            Path::new("hubs.ron"),
        )
        .unwrap();
        let g = gen_("N32Partners((partners: Ring, via_linked_ri: true, rate_per_s: Fixed(1.0)))");
        let fs = flows(0, &g, &t, "w").unwrap();
        // PLMN k is on hub (k-1) mod 4 + 1: plmn-01 -> plmn-02 crosses ri-hub-1 then ri-hub-2,
        // plmn-01 -> plmn-05 stays on ri-hub-1.
        let f = fs
            .iter()
            .find(|f| f.name.as_deref() == Some("plmn-01 -> plmn-02"))
            .unwrap();
        assert_eq!(f.n32c_via.as_deref(), Some("ri-hub-1"));
        assert_eq!(f.n32f_ris, ["ri-hub-1", "ri-hub-2"]);
        let back = fs
            .iter()
            .find(|f| f.name.as_deref() == Some("plmn-02 -> plmn-01"))
            .unwrap();
        assert_eq!(back.n32c_via.as_deref(), Some("ri-hub-2"));
        assert_eq!(back.n32f_ris, ["ri-hub-2", "ri-hub-1"]);
        let g = gen_("N32Partners((partners: AllPairs, via_linked_ri: true, rate_per_s: Fixed(1.0)))");
        let fs = flows(0, &g, &t, "w").unwrap();
        let f = fs
            .iter()
            .find(|f| f.name.as_deref() == Some("plmn-01 -> plmn-05"))
            .unwrap();
        assert_eq!(f.n32f_ris, ["ri-hub-1"]);
        // Both ways of choosing an RI at once, and a SEPP without an RI, are refused.
        let both = gen_(
            r#"N32Partners((partners: Ring, via: Some("ri-hub-1"), via_linked_ri: true, rate_per_s: Fixed(1.0)))"#,
        );
        assert_eq!(
            flows(0, &both, &t, "w").unwrap_err().field,
            "w.N32Partners.via_linked_ri"
        );
        let mesh = parse_topology_str(
            "TopologyGenerator(kind: RandomMesh(plmns: 4, degree: 2))",
            Path::new("m.ron"),
        )
        .unwrap();
        let e = flows(0, &g, &mesh, "w").unwrap_err();
        assert!(e.message.contains("has no link to a node of role Ri"), "{}", e.message);
    }

    #[test]
    fn bad_generators_are_located() {
        let t = hub(4);
        let err = |src: &str| flows(0, &gen_(src), &t, "workload_generators[0]").unwrap_err().field;
        assert_eq!(
            err("N32Partners((partners: Random(k: 4), rate_per_s: Fixed(1.0)))"),
            "workload_generators[0].N32Partners.partners.Random.k"
        );
        assert_eq!(
            err("N32Partners((partners: Random(k: 0), rate_per_s: Fixed(1.0)))"),
            "workload_generators[0].N32Partners.partners.Random.k"
        );
        assert_eq!(
            err("N32Partners((partners: Ring, rate_per_s: Fixed(0.0)))"),
            "workload_generators[0].N32Partners.rate_per_s.Fixed"
        );
        assert_eq!(
            err("N32Partners((partners: Ring, rate_per_s: Uniform(min: 3.0, max: 2.0)))"),
            "workload_generators[0].N32Partners.rate_per_s.Uniform.max"
        );
        assert_eq!(
            err("N32Partners((partners: Ring, rate_per_s: LogNormal(median: 1.0, sigma: -1.0)))"),
            "workload_generators[0].N32Partners.rate_per_s.LogNormal.sigma"
        );
        assert_eq!(
            err(r#"N32Partners((partners: Ring, via: Some("sepp-01"), rate_per_s: Fixed(1.0)))"#),
            "workload_generators[0].N32Partners.via"
        );
        // A topology with fewer than two PLMNs, and the flow bound.
        let one = hub(1);
        let e = flows(
            0,
            &gen_("N32Partners((partners: Ring, rate_per_s: Fixed(1.0)))"),
            &one,
            "w",
        )
        .unwrap_err();
        assert!(e.message.contains("needs at least 2"), "{}", e.message);
        let big = hub(1500);
        let e = flows(
            0,
            &gen_("N32Partners((partners: AllPairs, rate_per_s: Fixed(1.0)))"),
            &big,
            "w",
        )
        .unwrap_err();
        assert!(e.message.contains("at most 1000000 generated flows"), "{}", e.message);
    }
}
