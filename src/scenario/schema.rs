//! The RON schema of topology and experiment files: plain data, validated once at load.
//!
//! Every struct denies unknown fields; defaults are listed on each field. Durations are
//! strings with a unit (`"150ms"`), see [`SimDuration::parse`].
//!
//! A topology file:
//!
//! ```ron
//! Topology(
//!     domains: [(name: "plmn-a", kind: Plmn), (name: "plmn-b", kind: Plmn)],
//!     nodes: [
//!         (name: "nf-a", domain: "plmn-a"),
//!         (name: "nf-b", domain: "plmn-b"),
//!     ],
//!     links: [
//!         // one entry = both directions unless `duplex: false`
//!         (source: "nf-a", target: "nf-b", latency: Constant("20ms")),
//!     ],
//! )
//! ```

//!
//! # Types defined elsewhere
//!
//! The scenario names these types of other modules; each is documented (with its defaults)
//! where it is defined:
//!
//! | field | type | defined in |
//! |---|---|---|
//! | every duration | [`SimDuration`] (`"150ms"`) | `src/engine/time.rs` |
//! | `crypto.fidelity` | [`CryptoFidelity`](crate::crypto::cost::CryptoFidelity) | `src/crypto/cost.rs` |
//! | `crypto.costs` | [`CostModel`](crate::crypto::cost::CostModel), [`OpCosts`](crate::crypto::cost::OpCosts), [`ClassCosts`](crate::crypto::cost::ClassCosts), [`CryptoOp`](crate::crypto::cost::CryptoOp) | `src/crypto/cost.rs` |
//! | `prefs`, `methods`, `interface_methods` | [`SecurityMethod`](crate::proto::capif::types::SecurityMethod) (`"PSK"`, `"PKI"`, `"OAUTH"`) | `src/proto/capif/types.rs` |
//! | `capif.validity_encoding`, `capif.expiry` | [`ValidityEncoding`](crate::proto::capif::authentication::ValidityEncoding), [`ExpiryBehaviour`](crate::proto::capif::authentication::ExpiryBehaviour) | `src/proto/capif/authentication.rs` |
//! | `capif.recovery` | [`RecoveryStrategy`](crate::proto::capif::mismatch::RecoveryStrategy), [`PushChannel`](crate::proto::capif::mismatch::PushChannel) | `src/proto/capif/mismatch.rs` |
//! | `capif.interconnection` | [`InterconnectionKnobs`](crate::proto::capif::interconnection::InterconnectionKnobs) and its item enums | `src/proto/capif/interconnection.rs` |
//! | `n32.*_capabilities` | [`SecurityCapability`](crate::proto::n32::types::SecurityCapability) (`"TLS"`, `"PRINS"`, `"NONE"`) | `src/proto/n32/types.rs` |
//! | `n32.preference` | [`Preference`](crate::proto::n32::capability_negotiation::Preference) | `src/proto/n32/capability_negotiation.rs` |
//! | `n32.tls_close` | [`TlsCloseBehaviour`](crate::proto::n32::sepp::TlsCloseBehaviour) | `src/proto/n32/sepp/mod.rs` |
//! | `n32.ri_policies` | [`RiPolicy`](crate::proto::roaming::RiPolicy), [`Contract`](crate::proto::roaming::policy::Contract), [`RateLimit`](crate::proto::roaming::policy::RateLimit), [`ScriptedDecision`](crate::proto::roaming::policy::ScriptedDecision), [`Decision`](crate::proto::roaming::policy::Decision), [`RefusalReason`](crate::proto::roaming::policy::RefusalReason), [`RejectionSpec`](crate::proto::roaming::policy::RejectionSpec) | `src/proto/roaming/policy.rs` |
//! | `n32.ri_policies[..].rejection.encoding` | [`SuggestionEncoding`](crate::proto::roaming::SuggestionEncoding) | `src/proto/roaming/rejection.rs` |
//! | `n32.ri_policies[..].direct_tls` | [`DirectTlsReaction`](crate::proto::roaming::DirectTlsReaction) | `src/proto/roaming/direct_tls.rs` |
//! | `n32.csepp_mapping` | [`CseppMapping`](crate::proto::roaming::CseppMapping) | `src/proto/roaming/csepp.rs` |
//!
//! `secsim example <kind>` prints a commented experiment to start from; `secsim schema`
//! writes JSON Schemas of both formats for editors ([`json_schema`](super::json_schema)
//! describes how RON maps to the JSON they describe).

use serde::{Deserialize, Serialize};

use crate::engine::SimDuration;

/// A topology file (`topologies/*.ron`), written `Topology(...)`.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename = "Topology")]
pub struct TopologyFile {
    /// Trust domains: PLMNs, CAPIF provider domains, IPX providers.
    pub domains: Vec<DomainSpec>,
    /// Network nodes; each belongs to one domain.
    pub nodes: Vec<NodeSpec>,
    /// Links; each entry makes two directed links unless `duplex: false`.
    pub links: Vec<LinkSpec>,
}

/// The kind of trust domain a node belongs to.
#[derive(Clone, Copy, Debug, Deserialize, Eq, Ord, PartialEq, PartialOrd, Serialize, schemars::JsonSchema)]
pub enum DomainKind {
    /// A mobile network operator's network.
    Plmn,
    /// An IPX / roaming hub provider (Roaming Intermediaries live here).
    Ipx,
    /// A CAPIF provider domain (CCF, AEFs, APFs).
    CapifProvider,
    /// Anything else (a third-party API invoker's network, the Internet).
    Other,
}

/// A trust domain.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DomainSpec {
    /// Unique name. For a PLMN, also its name in RI policies (`n32.ri_policies`: contracts,
    /// unreachable and scripted targets name the domains of SEPPs).
    pub name: String,
    /// What kind of domain it is.
    pub kind: DomainKind,
}

/// What a node is; protocol actors are attached by role.
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, Ord, PartialEq, PartialOrd, Serialize, schemars::JsonSchema)]
pub enum NodeRole {
    /// A network function (traffic source or sink). Default.
    #[default]
    Nf,
    /// A router: forwards only.
    Router,
    /// An HTTP proxy that can set up CONNECT tunnels.
    Proxy,
    /// Security Edge Protection Proxy.
    Sepp,
    /// Roaming Intermediary (an HTTP proxy in an IPX domain).
    Ri,
    /// CAPIF core function.
    Ccf,
    /// API exposing function.
    Aef,
    /// API publishing function.
    Apf,
    /// API invoker.
    Invoker,
}

/// A network node.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    /// Unique name; also the node's RNG stream name.
    pub name: String,
    /// The domain it belongs to (a name from `domains`).
    pub domain: String,
    /// Default `Nf`.
    #[serde(default)]
    pub role: NodeRole,
}

/// A link latency distribution (one-way propagation plus queueing, per message).
#[derive(Clone, Debug, Deserialize, PartialEq, Serialize, schemars::JsonSchema)]
pub enum LatencySpec {
    /// Always the same.
    Constant(SimDuration),
    /// Uniform in [min, max].
    Uniform {
        /// Lower bound (<= `max`).
        min: SimDuration,
        /// Upper bound.
        max: SimDuration,
    },
    /// Normal, truncated at zero.
    Normal {
        /// Mean.
        mean: SimDuration,
        /// Standard deviation.
        std: SimDuration,
    },
    /// Log-normal with the given median and shape sigma (of the underlying normal).
    LogNormal {
        /// Median.
        median: SimDuration,
        /// Shape: standard deviation of the underlying normal (finite, >= 0).
        sigma: f64,
    },
    /// Exponential with the given mean.
    Exponential {
        /// Mean.
        mean: SimDuration,
    },
    /// Drawn uniformly from a list of measured samples (at least one).
    Empirical(Vec<SimDuration>),
}

/// A window during which a link is down: `(from: "1s", to: Some("3s"))`; `to: None` means
/// down for the rest of the run.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WindowSpec {
    /// Start of the window, from the start of the run.
    pub from: SimDuration,
    /// End of the window (after `from`). Default `None`: down for the rest of the run.
    #[serde(default)]
    pub to: Option<SimDuration>,
}

fn yes() -> bool {
    true
}

/// A link (or a pair of links, one per direction, each with its own state and RNG stream).
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    /// A node name (from `nodes`).
    pub source: String,
    /// A node name, other than `source`.
    pub target: String,
    /// Also create the link target → source with the same parameters. Default `true`.
    #[serde(default = "yes")]
    pub duplex: bool,
    /// One-way latency per message (see [`LatencySpec`]).
    pub latency: LatencySpec,
    /// Probability that a transmission is lost [0, 1), recovered by TCP retransmission after
    /// an RTO that doubles per loss. Default 0.
    #[serde(default)]
    pub loss: f64,
    /// Retransmission timeout for the first loss. Default `"200ms"` (Linux minimum RTO).
    #[serde(default)]
    pub rto: Option<SimDuration>,
    /// Bandwidth \[Mbit/s\]: adds size / bandwidth serialisation delay and FIFO queueing.
    /// Default: unlimited.
    #[serde(default)]
    pub bandwidth_mbps: Option<f64>,
    /// Down windows. Default none.
    #[serde(default)]
    pub down: Vec<WindowSpec>,
}

/// An experiment file (`experiments/*.ron`), written `Experiment(...)`.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename = "Experiment")]
pub struct ExperimentFile {
    /// Names the results folder `results/<name>/`.
    pub name: String,
    /// Path of the topology file, relative to this file.
    pub topology: String,
    /// Simulated time per run.
    pub duration: SimDuration,
    /// Records that start before this are discarded. Default `"0s"`.
    #[serde(default)]
    pub warmup: SimDuration,
    /// Master seeds, one run each. Default `[1]`. `--seeds N` on the command line
    /// overrides with `1..=N`.
    #[serde(default)]
    pub seeds: Option<Vec<u64>>,
    /// Hard bound on delivered events per run. Default 100,000,000.
    #[serde(default)]
    pub max_events: Option<u64>,
    /// Bound on the records one run (one seed) holds in memory, warm-up records included: a
    /// run that reaches it stops early (`RecordLimit`) with what it has. 1 to 1,000,000.
    /// Default, and never more than, the seed's share of the 1,000,000 records all the seeds
    /// of an experiment (or of a sweep point) may hold together: 1,000,000 / seeds.
    #[serde(default)]
    pub max_records: Option<u64>,
    /// Connection-model knobs. Defaults: see [`NetworkSpec`].
    #[serde(default)]
    pub network: NetworkSpec,
    /// Traffic.
    pub workload: Vec<WorkloadSpec>,
    /// Traffic described by a few numbers, expanded at load (after the topology) into flows
    /// appended to `workload` (see [`crate::scenario::workload_gen`]). Default none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workload_generators: Vec<crate::scenario::workload_gen::WorkloadGenerator>,
    /// What to write. Defaults: see [`OutputSpec`].
    #[serde(default)]
    pub outputs: OutputSpec,
    /// Crypto fidelity and simulated CPU costs. Defaults: see [`CryptoSpec`].
    #[serde(default)]
    pub crypto: CryptoSpec,
    /// N32 knobs. Defaults: see [`N32Spec`].
    #[serde(default)]
    pub n32: N32Spec,
    /// CAPIF knobs. Defaults: see [`CapifSpec`].
    #[serde(default)]
    pub capif: CapifSpec,
    /// Sweep axes: every combination of their values is one point, each run on every seed
    /// (the same seeds at every point: common random numbers). Default none (one point).
    #[serde(default)]
    pub sweep: Vec<SweepAxis>,
    /// The deliberate bug the machines are built with (tests only: never read from a file).
    #[cfg(feature = "mutants")]
    #[serde(skip)]
    #[schemars(skip)]
    pub mutant: Option<crate::audit::mutant::Mutant>,
}

impl ExperimentFile {
    /// The first of the experiment's seeds (`[1]` by default): the seed a single run, a
    /// benchmark or a recorded trace hash uses.
    pub fn first_seed(&self) -> u64 {
        self.seeds.as_ref().and_then(|s| s.first().copied()).unwrap_or(1)
    }

    /// The mutants every machine of this experiment is built with (none without the
    /// `mutants` feature).
    pub fn mutants(&self) -> crate::audit::mutant::Mutants {
        #[cfg(feature = "mutants")]
        if let Some(m) = self.mutant {
            return crate::audit::mutant::Mutants::only(m);
        }
        crate::audit::mutant::Mutants::NONE
    }
}

/// One sweep axis: a field of the experiment or its topology and the values it takes.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SweepAxis {
    /// Label in outputs. Default: the path.
    #[serde(default)]
    pub name: Option<String>,
    /// A field path in the experiment (`workload[0].N32.arrival`, `capif.recovery`,
    /// `crypto.fidelity`) or, after `topology.`, in its topology file
    /// (`topology.links[*].loss`); `[*]` stands for every element of a list. The field must
    /// be written in the file (a defaulted field is not there to replace).
    pub path: String,
    /// The values as RON text: `"0.01"`, `"TlsFailureOnly"`, `"Poisson(rate_per_s: 5.0)"`.
    /// Where the file has a string (a duration), a value without quotes is quoted: `"5ms"`.
    pub values: Vec<String>,
}

/// Crypto knobs.
#[derive(Clone, Debug, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CryptoSpec {
    /// `Full` (default: everything computed), `Keys` (key schedules and AEADs computed,
    /// signatures and ECDHE simulated from seeded values) or `Timing` (costs only).
    #[serde(default)]
    pub fidelity: crate::crypto::cost::CryptoFidelity,
    /// Simulated CPU cost per crypto operation, per node class (the node's role name, e.g.
    /// `"Sepp"`). Default: the figures measured by `benches/crypto.rs` (docs/crypto-bench.md).
    #[serde(default)]
    pub costs: Option<crate::crypto::cost::CostModel>,
}

/// Connection-model knobs.
#[derive(Clone, Debug, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    /// An idle HTTP/2 connection is closed after this. Default `"60s"`.
    #[serde(default)]
    pub idle_timeout: Option<SimDuration>,
    /// Use TLS between client and proxy as well, before CONNECT. Default `false`.
    #[serde(default)]
    pub tls_to_proxy: Option<bool>,
    /// A client gives up on a connection whose SYN is not answered after this. Default `"3s"`.
    #[serde(default)]
    pub connect_timeout: Option<SimDuration>,
}

/// Outputs of a run.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    /// Write `trace.jsonl` (one line per delivered message). Default `false`.
    #[serde(default)]
    pub trace: bool,
    /// Write plots (SVG and PNG). Default `true`.
    #[serde(default = "yes")]
    pub plots: bool,
}

impl Default for OutputSpec {
    fn default() -> Self {
        OutputSpec {
            trace: false,
            plots: true,
        }
    }
}

/// How requests of a flow arrive.
#[derive(Clone, Debug, Deserialize, PartialEq, Serialize, schemars::JsonSchema)]
pub enum ArrivalSpec {
    /// Poisson process with the given rate.
    Poisson {
        /// Mean arrivals per second \[1/s\] (finite, > 0).
        rate_per_s: f64,
    },
    /// One request every `interval`.
    Periodic {
        /// Time between requests (> 0).
        interval: SimDuration,
    },
}

impl ArrivalSpec {
    /// The process this spec describes (validation refuses bad rates first; the error names
    /// the value).
    pub fn process(&self) -> Result<crate::engine::Arrival, String> {
        match *self {
            ArrivalSpec::Poisson { rate_per_s } => crate::engine::Arrival::poisson(rate_per_s),
            ArrivalSpec::Periodic { interval } => Ok(crate::engine::Arrival::Periodic(interval)),
        }
    }
}

/// One kind of traffic.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
pub enum WorkloadSpec {
    /// HTTP/2 requests over TLS from `client` to `server`, optionally through the CONNECT
    /// proxy `via`.
    Http(HttpFlowSpec),
    /// SBI requests from a consumer NF in one PLMN to a producer NF in another, through the
    /// two SEPPs (N32-c handshake on demand, then N32-f TLS or PRINS).
    N32(N32FlowSpec),
    /// API invokers onboarding at a CCF, negotiating a security method for one AEF,
    /// authenticating on CAPIF-2e and invoking its API (TS 33.122, TS 29.222).
    Capif(CapifFlowSpec),
}

/// A group of API invokers using one AEF's API.
///
/// Each invoker onboards at `ccf` (at `start` plus a uniform offset in `[0, start_spread)`),
/// negotiates a method for `aef`, authenticates and then invokes at `arrival`'s rate. If the
/// AEF is registered at another CCF (`aef_ccf`), CCF-B = `ccf` and CCF-A = `aef_ccf`
/// interconnect over CAPIF-6e.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CapifFlowSpec {
    /// Label in records and plots. Default `"<ccf>-><aef>"`.
    #[serde(default)]
    pub name: Option<String>,
    /// Invoker nodes (role `Invoker`). An entry ending in `*` stands for every invoker whose
    /// name starts with what precedes it (`"invoker-*"`).
    pub invokers: Vec<String>,
    /// The CCF the invokers onboard at (CCF-B when interconnected).
    pub ccf: String,
    /// The AEF whose API they invoke.
    pub aef: String,
    /// The CCF the AEF is registered at (CCF-A). Default: `ccf`.
    #[serde(default)]
    pub aef_ccf: Option<String>,
    /// The invokers' security method preferences, first preferred. Default
    /// `["PSK", "PKI", "OAUTH"]`.
    #[serde(default)]
    pub prefs: Option<Vec<crate::proto::capif::types::SecurityMethod>>,
    /// Invocations per invoker, once authenticated.
    pub arrival: ArrivalSpec,
    /// Onboarding of the first invoker. Default `"0s"`.
    #[serde(default)]
    pub start: SimDuration,
    /// Onboarding times are spread uniformly over `[start, start + start_spread)`. Default
    /// `"1s"`.
    #[serde(default)]
    pub start_spread: Option<SimDuration>,
    /// A CAPIF request (to CCF or AEF) without answer after this fails. Default `"5s"`.
    #[serde(default = "default_timeout")]
    pub timeout: SimDuration,
    /// AEF processing time per invocation. Default none (zero).
    #[serde(default)]
    pub processing: Option<LatencySpec>,
    /// JSON body size of an invocation's answer \[bytes\]. Default 1024.
    #[serde(default = "default_response_bytes")]
    pub response_bytes: u32,
}

/// TLS version of CAPIF-1e (invoker to CCF); the AEFPSK derivation depends on it (TS 33.122
/// Annex A; DIGEST 6).
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, PartialEq, Serialize, schemars::JsonSchema)]
pub enum Capif1eTls {
    /// TLS 1.3: AEFPSK from the exporter (secsim's documented TLS 1.3 variant).
    #[default]
    Tls13,
    /// TLS 1.2: AEFPSK from the master secret and session ID (TS 33.122 A.1).
    Tls12,
}

/// An AEF as its APF publishes it.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CapifAefSpec {
    /// AEF-level security methods (`AefProfile.securityMethods`). Default all three.
    #[serde(default)]
    pub methods: Option<Vec<crate::proto::capif::types::SecurityMethod>>,
    /// Interface-level methods, which override the AEF-level ones. Default none.
    #[serde(default)]
    pub interface_methods: Option<Vec<crate::proto::capif::types::SecurityMethod>>,
    /// The API names it exposes (the invokers use the first; each is the TS 29.122 monitoring
    /// event API under that name, see `proto::payload`). Default `["3gpp-monitoring-event"]`.
    #[serde(default)]
    pub apis: Option<Vec<String>>,
}

/// The APF changes an AEF's security methods at `at` (seed 004).
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MethodChangeSpec {
    /// When, from the start of the run (before the end of the run).
    pub at: SimDuration,
    /// The AEF node.
    pub aef: String,
    /// Its methods from then on (AEF level; interface-level methods are dropped).
    pub methods: Vec<crate::proto::capif::types::SecurityMethod>,
}

/// The CCF revokes an invoker's authorization at `at` (TS 29.222 5.6.2.4: DELETE
/// trustedInvokers, revoke-authorization to the AEF, SecurityNotification to the invoker).
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RevocationSpec {
    /// When, from the start of the run (before the end of the run).
    pub at: SimDuration,
    /// The invoker node.
    pub invoker: String,
}

/// The CCF `ccf` restarts at `at` and is unreachable for `down` (a secsim fault; no 3GPP
/// procedure). At `at` every connection the CCF terminates is dropped (its peers see a
/// reset), its links are down until `at + down` (segments sent to or from it are
/// retransmitted, and get through once it is back), and it loses its volatile state: the
/// negotiated security contexts (TrustedInvokers entries) and their AEFPSKs, and the CAPIF-6e
/// exchanges it was part of. Onboarding registrations, revocations, published AEF profiles and
/// its CA and token keys persist (see `Ccf::restart`). Invokers recover through their own
/// timers, retries and back-off: an AEF whose CCF no longer knows the invoker answers
/// `check-authentication` with 404 and the invoker negotiates again.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CcfRestartSpec {
    /// When, from the start of the run (before the end of the run).
    pub at: SimDuration,
    /// The CCF node (the `ccf` or `aef_ccf` of some Capif flow).
    pub ccf: String,
    /// How long it stays unreachable (> 0).
    pub down: SimDuration,
}

/// CAPIF knobs, including the FFS alternatives of seeds 002, 003 and 004 (DIGEST 11).
#[derive(Clone, Debug, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CapifSpec {
    /// CAPIF-1e TLS version. Default `Tls13`.
    #[serde(default)]
    pub capif1e_tls: Capif1eTls,
    /// AEFPSK validity the CCF grants. Default `"3600s"`.
    #[serde(default)]
    pub psk_validity: Option<SimDuration>,
    /// How the CCF tells the AEF the validity (seed 003). Default `Remaining`.
    #[serde(default)]
    pub validity_encoding: crate::proto::capif::authentication::ValidityEncoding,
    /// What the AEF does at AEFPSK expiry (seed 003). Default `BlockNewHandshakes`.
    #[serde(default)]
    pub expiry: crate::proto::capif::authentication::ExpiryBehaviour,
    /// Access token lifetime. Default `"600s"`.
    #[serde(default)]
    pub token_lifetime: Option<SimDuration>,
    /// Clock leeway of the AEF's token check. Default `"0s"`.
    #[serde(default)]
    pub token_leeway: SimDuration,
    /// How invokers learn of a method change (seed 004). Default `ExplicitCause`.
    #[serde(default)]
    pub recovery: crate::proto::capif::mismatch::RecoveryStrategy,
    /// Share of the invokers subscribed to the CCF's `SERVICE_API_UPDATE` event, in [0, 1]
    /// (`CcfPush(ServiceApiUpdateEvent)` only: the others are never pushed to and fall back to
    /// TLS failures). Subscribers are spread evenly over the invokers in their order (invoker
    /// `i` of `n` is one when ⌊(i+1)·share⌋ > ⌊i·share⌋); a configuration choice, not a
    /// subscription on the wire. Default 1 (every invoker).
    #[serde(default)]
    pub event_subscribers: Option<f64>,
    /// TLS failures an invoker retries before inferring a method change. Default 2.
    #[serde(default)]
    pub tls_retries: Option<u32>,
    /// Wait before each such retry. Default `"500ms"`.
    #[serde(default)]
    pub retry_backoff: Option<SimDuration>,
    /// Invocations per CAPIF-2e session; then the invoker closes it and the next invocation
    /// authenticates a new one. Default 20.
    #[serde(default)]
    pub invocations_per_session: Option<u32>,
    /// CCF-to-CCF alternatives (seed 002). Defaults: the first of each item.
    #[serde(default)]
    pub interconnection: crate::proto::capif::interconnection::InterconnectionKnobs,
    /// AEFs by node name. Default for one not listed: all three methods, API `api1`.
    #[serde(default)]
    pub aefs: std::collections::BTreeMap<String, CapifAefSpec>,
    /// Scripted APF method changes. Default none.
    #[serde(default)]
    pub method_changes: Vec<MethodChangeSpec>,
    /// Scripted revocations. Default none.
    #[serde(default)]
    pub revocations: Vec<RevocationSpec>,
    /// Scripted CCF restarts (see [`CcfRestartSpec`]). Default none.
    #[serde(default)]
    pub ccf_restarts: Vec<CcfRestartSpec>,
}

/// A flow of inter-PLMN SBI requests (AUSF UE authentication, which carries a SUPI).
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct N32FlowSpec {
    /// Label in records and plots. Default `"<consumer>-><producer>"`.
    #[serde(default)]
    pub name: Option<String>,
    /// The consumer NF (cNF).
    pub consumer: String,
    /// Its SEPP (c-SEPP, the N32-c initiator).
    pub c_sepp: String,
    /// The producer's SEPP (p-SEPP, the N32-c responder).
    pub p_sepp: String,
    /// The producer NF (pNF).
    pub producer: String,
    /// A Roaming Intermediary the c-SEPP reaches the p-SEPP through with HTTP CONNECT on
    /// N32-c (and N32-f in TLS mode). Default: direct TLS.
    #[serde(default)]
    pub n32c_via: Option<String>,
    /// The Roaming Intermediaries on the N32-f PRINS path, in order (c-side first), at most
    /// two. The first is the authorized IPX that may modify. Default none.
    #[serde(default)]
    pub n32f_ris: Vec<String>,
    /// How the cNF's requests arrive.
    pub arrival: ArrivalSpec,
    /// JSON body size of a request \[bytes\]. Default 512.
    #[serde(default = "default_request_bytes")]
    pub request_bytes: u32,
    /// JSON body size of a response \[bytes\]. Default 1024.
    #[serde(default = "default_response_bytes")]
    pub response_bytes: u32,
    /// pNF processing time per request. Default none (zero).
    #[serde(default)]
    pub processing: Option<LatencySpec>,
    /// First request no earlier than this. Default `"0s"`.
    #[serde(default)]
    pub start: SimDuration,
    /// A cNF request without answer after this counts as timed out. Default `"5s"`.
    #[serde(default = "default_timeout")]
    pub timeout: SimDuration,
}

/// N32 knobs, including the FFS alternatives of seeds 000 and 001 (DIGEST 11).
#[derive(Clone, Debug, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct N32Spec {
    /// The initiating SEPPs' supported capabilities in priority order. Default
    /// `["PRINS", "TLS"]`.
    #[serde(default)]
    pub initiator_capabilities: Option<Vec<crate::proto::n32::types::SecurityCapability>>,
    /// The responding SEPPs' supported capabilities in priority order. Default
    /// `["TLS", "PRINS"]`.
    #[serde(default)]
    pub responder_capabilities: Option<Vec<crate::proto::n32::types::SecurityCapability>>,
    /// How the responder picks among the common capabilities. Default `ResponderOrder`.
    #[serde(default)]
    pub preference: crate::proto::n32::capability_negotiation::Preference,
    /// After selecting TLS: close N32-c at once or keep it idle (seed 001). Default close.
    #[serde(default)]
    pub tls_close: crate::proto::n32::sepp::TlsCloseBehaviour,
    /// The Roaming Intermediaries' policies, by node name: contracts, reachability, rate
    /// limit, scripted decisions, the rejection and its suggestion encoding (seed 000 FFS 2:
    /// `rejection: (encoding: ...)`) and the reaction to direct TLS on N32-c (seed 000 FFS
    /// 1: `direct_tls: ...`). Default for an RI not listed: `RiPolicy::default()` (accept
    /// every CONNECT, refuse direct TLS at TCP).
    #[serde(default)]
    pub ri_policies: std::collections::BTreeMap<String, crate::proto::roaming::RiPolicy>,
    /// How the c-SEPP answers the cNF after an RI refused N32-c. Default `UseSuggestion`.
    #[serde(default)]
    pub csepp_mapping: crate::proto::roaming::CseppMapping,
    /// RIs on the N32-f path modify the (modifiable) message priority header. Default false:
    /// they still sign (TS 33.501 13.2.4.5).
    #[serde(default)]
    pub ri_modify: bool,
    /// Faults injected into N32-f PRINS messages. Default none.
    #[serde(default)]
    pub faults: Vec<N32FaultSpec>,
    /// After a failed or refused handshake, cNF requests fail at once for this long before
    /// the c-SEPP tries again. Default `"10s"`.
    #[serde(default)]
    pub retry_after: Option<SimDuration>,
    /// At each of these times every c-SEPP terminates its PRINS contexts (`n32f-terminate`,
    /// TS 29.573 5.2.4); the next request negotiates a new one. Default none.
    #[serde(default)]
    pub terminate_at: Vec<SimDuration>,
}

/// A fault injected into every `every`-th N32-f PRINS message.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct N32FaultSpec {
    /// Every `every`-th N32-f PRINS message (>= 1) gets the fault.
    pub every: u64,
    /// Which fault.
    pub kind: N32FaultKind,
}

/// The N32-f faults a scenario can inject (see `proto::n32::prins::fault::Fault`).
#[derive(Clone, Copy, Debug, Deserialize, Eq, PartialEq, Serialize, schemars::JsonSchema)]
pub enum N32FaultKind {
    /// An attacker on the path flips a ciphertext bit.
    TamperCiphertext,
    /// An attacker changes the message ID in the integrity-protected block.
    TamperAad,
    /// The authorized RI changes an IE it may not modify.
    TamperingRi,
    /// An RI that is not authorized appends a valid signature.
    UnauthorisedRi,
    /// The sender sealed with the wrong key.
    WrongKey,
    /// The message names a context the receiver does not have.
    UnknownContext,
}

impl N32FaultKind {
    /// Every alternative, in declaration order (the random cases draw from it).
    pub const ALL: [N32FaultKind; 6] = [
        N32FaultKind::TamperCiphertext,
        N32FaultKind::TamperAad,
        N32FaultKind::TamperingRi,
        N32FaultKind::UnauthorisedRi,
        N32FaultKind::WrongKey,
        N32FaultKind::UnknownContext,
    ];
}

pub(crate) fn default_request_bytes() -> u32 {
    512
}
pub(crate) fn default_response_bytes() -> u32 {
    1024
}
pub(crate) fn default_timeout() -> SimDuration {
    SimDuration::from_secs(5)
}

/// A flow of HTTP/2 requests.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpFlowSpec {
    /// Label in records and plots. Default `"<client>-><server>"` (plus `" via <proxy>"`).
    #[serde(default)]
    pub name: Option<String>,
    /// The client node.
    pub client: String,
    /// The server node (other than `client`).
    pub server: String,
    /// A node with role `Proxy` or `Ri` to tunnel through with HTTP CONNECT. Default none.
    #[serde(default)]
    pub via: Option<String>,
    /// How the client's requests arrive.
    pub arrival: ArrivalSpec,
    /// JSON body size of a request \[bytes\]. Default 512.
    #[serde(default = "default_request_bytes")]
    pub request_bytes: u32,
    /// JSON body size of a response \[bytes\]. Default 1024.
    #[serde(default = "default_response_bytes")]
    pub response_bytes: u32,
    /// Server processing time per request. Default none (zero).
    #[serde(default)]
    pub processing: Option<LatencySpec>,
    /// First request no earlier than this. Default `"0s"`.
    #[serde(default)]
    pub start: SimDuration,
    /// A request without answer after this counts as timed out. Default `"5s"`.
    #[serde(default = "default_timeout")]
    pub timeout: SimDuration,
}

/// What validation needs to know of any flow, whatever its kind.
pub struct FlowView<'a> {
    /// The variant name in field paths (`Http`, `N32`).
    pub kind: &'static str,
    /// (field, node name, the roles it must have; empty = any).
    pub nodes: Vec<(String, &'a str, &'static [NodeRole])>,
    /// Pairs that must be connected, as (from, to, field to blame).
    pub legs: Vec<(&'a str, &'a str, String)>,
    pub arrival: &'a ArrivalSpec,
    pub request_bytes: u32,
    pub response_bytes: u32,
    pub processing: Option<&'a LatencySpec>,
    pub timeout: SimDuration,
}

const ANY: &[NodeRole] = &[];
const PROXIES: &[NodeRole] = &[NodeRole::Proxy, NodeRole::Ri];
const SEPPS: &[NodeRole] = &[NodeRole::Sepp];
const RIS: &[NodeRole] = &[NodeRole::Ri];
const CCFS: &[NodeRole] = &[NodeRole::Ccf];
const AEFS: &[NodeRole] = &[NodeRole::Aef];
const INVOKERS: &[NodeRole] = &[NodeRole::Invoker];

impl WorkloadSpec {
    /// The common view of this flow.
    pub fn view(&self) -> FlowView<'_> {
        match self {
            WorkloadSpec::Http(f) => {
                let mut nodes = vec![
                    ("client".to_string(), f.client.as_str(), ANY),
                    ("server".into(), f.server.as_str(), ANY),
                ];
                let legs = match &f.via {
                    Some(v) => {
                        nodes.push(("via".into(), v.as_str(), PROXIES));
                        vec![
                            (f.client.as_str(), v.as_str(), "via".into()),
                            (v.as_str(), f.server.as_str(), "server".into()),
                        ]
                    }
                    None => vec![(f.client.as_str(), f.server.as_str(), "server".into())],
                };
                FlowView {
                    kind: "Http",
                    nodes,
                    legs,
                    arrival: &f.arrival,
                    request_bytes: f.request_bytes,
                    response_bytes: f.response_bytes,
                    processing: f.processing.as_ref(),
                    timeout: f.timeout,
                }
            }
            WorkloadSpec::N32(f) => {
                let mut nodes = vec![
                    ("consumer".to_string(), f.consumer.as_str(), ANY),
                    ("c_sepp".into(), f.c_sepp.as_str(), SEPPS),
                    ("p_sepp".into(), f.p_sepp.as_str(), SEPPS),
                    ("producer".into(), f.producer.as_str(), ANY),
                ];
                let mut legs = vec![
                    (f.consumer.as_str(), f.c_sepp.as_str(), "c_sepp".to_string()),
                    (f.p_sepp.as_str(), f.producer.as_str(), "producer".into()),
                ];
                match &f.n32c_via {
                    Some(v) => {
                        nodes.push(("n32c_via".into(), v.as_str(), RIS));
                        legs.push((f.c_sepp.as_str(), v.as_str(), "n32c_via".into()));
                        legs.push((v.as_str(), f.p_sepp.as_str(), "p_sepp".into()));
                    }
                    None => legs.push((f.c_sepp.as_str(), f.p_sepp.as_str(), "p_sepp".into())),
                }
                let mut prev = f.c_sepp.as_str();
                for (i, r) in f.n32f_ris.iter().enumerate() {
                    nodes.push((format!("n32f_ris[{i}]"), r.as_str(), RIS));
                    legs.push((prev, r.as_str(), format!("n32f_ris[{i}]")));
                    prev = r.as_str();
                }
                if !f.n32f_ris.is_empty() {
                    legs.push((prev, f.p_sepp.as_str(), "p_sepp".into()));
                }
                FlowView {
                    kind: "N32",
                    nodes,
                    legs,
                    arrival: &f.arrival,
                    request_bytes: f.request_bytes,
                    response_bytes: f.response_bytes,
                    processing: f.processing.as_ref(),
                    timeout: f.timeout,
                }
            }
            WorkloadSpec::Capif(f) => {
                let mut nodes = vec![
                    ("ccf".to_string(), f.ccf.as_str(), CCFS),
                    ("aef".into(), f.aef.as_str(), AEFS),
                ];
                let aef_ccf = f.aef_ccf.as_deref().unwrap_or(&f.ccf);
                let mut legs = vec![(f.aef.as_str(), aef_ccf, "aef".to_string())];
                if let Some(a) = &f.aef_ccf {
                    nodes.push(("aef_ccf".into(), a.as_str(), CCFS));
                    legs.push((f.ccf.as_str(), a.as_str(), "aef_ccf".into()));
                }
                // `prefix*` entries are expanded (and checked) against the topology by the
                // validator; plain names are checked here like any node field.
                for (i, inv) in f.invokers.iter().enumerate() {
                    if !inv.ends_with('*') {
                        nodes.push((format!("invokers[{i}]"), inv.as_str(), INVOKERS));
                        legs.push((inv.as_str(), f.ccf.as_str(), format!("invokers[{i}]")));
                        legs.push((inv.as_str(), f.aef.as_str(), format!("invokers[{i}]")));
                    }
                }
                FlowView {
                    kind: "Capif",
                    nodes,
                    legs,
                    arrival: &f.arrival,
                    request_bytes: default_request_bytes(),
                    response_bytes: f.response_bytes,
                    processing: f.processing.as_ref(),
                    timeout: f.timeout,
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Topology generators (`topologies/gen-*.ron`), expanded by `scenario::generate`.
// ---------------------------------------------------------------------------------------

/// A topology generator file, written `TopologyGenerator(...)`: a family of topologies
/// described by a few numbers, expanded at load into a [`TopologyFile`] (see
/// [`generate`](super::generate) for the node names, links and draws).
///
/// ```ron
/// TopologyGenerator(
///     seed: 7,
///     kind: IpxHub(plmns: 200),
/// )
/// ```
#[derive(Clone, Debug, Deserialize, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename = "TopologyGenerator")]
pub struct TopologyGenerator {
    /// The generator's own seed: mesh choices and per-link latency draws. Default 1. (Run
    /// seeds are the experiment's; they do not change the generated topology.)
    #[serde(default = "gen_default_seed")]
    pub seed: u64,
    /// Which family, and its size and link parameters.
    pub kind: GeneratorKind,
}

fn gen_default_seed() -> u64 {
    1
}

/// A family of generated topologies. Every link class has `<class>_latency`,
/// `<class>_loss` and `<class>_bandwidth_mbps` fields with the defaults listed (those of the
/// Python scripts and hand-written topologies they replace).
#[derive(Clone, Debug, Deserialize, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub enum GeneratorKind {
    /// N PLMNs (each `cnf-k`, `sepp-k`, `pnf-k` in `plmn-k`) around one or more IPX
    /// roaming hubs (`ri-hub` in `ipx-hub`; with several, `ri-hub-1`… in `ipx-hub-1`…,
    /// PLMN k on hub `(k-1) mod P + 1`, the hubs fully meshed).
    IpxHub {
        /// Number of PLMNs, >= 1.
        plmns: u32,
        /// Number of IPX providers (hubs), 1..=plmns. Default 1.
        #[serde(default = "gen_one")]
        ipx_providers: u32,
        /// cNF–SEPP and SEPP–pNF links. Default `Uniform(min: "300us", max: "700us")`.
        #[serde(default = "gen_nf_latency")]
        nf_latency: GenLatency,
        /// Default 0.
        #[serde(default)]
        nf_loss: f64,
        /// Default `None` (unlimited).
        #[serde(default)]
        nf_bandwidth_mbps: Option<f64>,
        /// SEPP–hub links. Default `LogNormalDrawn(median_min: "3ms", median_max: "60ms",
        /// sigma: 0.1)`.
        #[serde(default = "gen_hub_sepp_latency")]
        sepp_latency: GenLatency,
        /// Default 0.0005.
        #[serde(default = "gen_backbone_loss")]
        sepp_loss: f64,
        /// Default `Some(1000.0)`.
        #[serde(default = "gen_backbone_bandwidth")]
        sepp_bandwidth_mbps: Option<f64>,
        /// Hub–hub links (only with several hubs). Default `LogNormal(median: "18ms",
        /// sigma: 0.1)`.
        #[serde(default = "gen_ipx_latency")]
        ipx_latency: GenLatency,
        /// Default 0.0005.
        #[serde(default = "gen_backbone_loss")]
        ipx_loss: f64,
        /// Default `Some(1000.0)`.
        #[serde(default = "gen_backbone_bandwidth")]
        ipx_bandwidth_mbps: Option<f64>,
    },
    /// N PLMNs (as in `IpxHub`) whose SEPPs are linked directly: a random connected mesh in
    /// which every SEPP has at least `degree` peers (most exactly `degree`).
    RandomMesh {
        /// Number of PLMNs, >= 2.
        plmns: u32,
        /// Peers per SEPP, 1..plmns.
        degree: u32,
        /// cNF–SEPP and SEPP–pNF links. Default `Uniform(min: "300us", max: "700us")`.
        #[serde(default = "gen_nf_latency")]
        nf_latency: GenLatency,
        /// Default 0.
        #[serde(default)]
        nf_loss: f64,
        /// Default `None` (unlimited).
        #[serde(default)]
        nf_bandwidth_mbps: Option<f64>,
        /// SEPP–SEPP links. Default `LogNormalDrawn(median_min: "10ms", median_max: "40ms",
        /// sigma: 0.1)`.
        #[serde(default = "gen_mesh_sepp_latency")]
        sepp_latency: GenLatency,
        /// Default 0.0005.
        #[serde(default = "gen_backbone_loss")]
        sepp_loss: f64,
        /// Default `Some(1000.0)`.
        #[serde(default = "gen_backbone_bandwidth")]
        sepp_bandwidth_mbps: Option<f64>,
    },
    /// M CAPIF providers (`provider-a`, `provider-b`, … each with `ccf-a`, `apf-a`,
    /// `aef-a1`… and a gateway router `gw-a`) and API invokers (`invoker-0001`…) on the
    /// Internet side behind one access router `access` linked to every gateway; the
    /// gateways are fully meshed (CAPIF-6/6e between the CCFs).
    CapifProviders {
        /// Number of providers, >= 1.
        providers: u32,
        /// AEFs per provider, >= 1. Default 1.
        #[serde(default = "gen_one")]
        aefs_per_provider: u32,
        /// Number of API invokers, >= 1.
        invokers: u32,
        /// CCF, APF and AEF links to their gateway. Default `Uniform(min: "200us", max:
        /// "500us")`.
        #[serde(default = "gen_provider_latency")]
        provider_latency: GenLatency,
        /// Default 0.
        #[serde(default)]
        provider_loss: f64,
        /// Default `None` (unlimited).
        #[serde(default)]
        provider_bandwidth_mbps: Option<f64>,
        /// Access router–gateway links. Default `LogNormal(median: "10ms", sigma: 0.1)`.
        #[serde(default = "gen_access_latency")]
        access_latency: GenLatency,
        /// Default 0.
        #[serde(default)]
        access_loss: f64,
        /// Default `Some(10000.0)`.
        #[serde(default = "gen_access_bandwidth")]
        access_bandwidth_mbps: Option<f64>,
        /// Invoker–access router links. Default `LogNormalDrawn(median_min: "2ms",
        /// median_max: "40ms", sigma: 0.2)`.
        #[serde(default = "gen_invoker_latency")]
        invoker_latency: GenLatency,
        /// Default 0.
        #[serde(default)]
        invoker_loss: f64,
        /// Default `None` (unlimited).
        #[serde(default)]
        invoker_bandwidth_mbps: Option<f64>,
        /// Gateway–gateway links (only with several providers). Default `LogNormal(median:
        /// "12ms", sigma: 0.1)`.
        #[serde(default = "gen_interconnect_latency")]
        interconnect_latency: GenLatency,
        /// Default 0.
        #[serde(default)]
        interconnect_loss: f64,
        /// Default `None` (unlimited).
        #[serde(default)]
        interconnect_bandwidth_mbps: Option<f64>,
    },
}

/// The latency of one class of generated links: any [`LatencySpec`], the same on every
/// link of the class, or `LogNormalDrawn`, a log-normal whose median is drawn once per link.
#[derive(Clone, Debug, Deserialize, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub enum GenLatency {
    /// As [`LatencySpec::Constant`].
    Constant(SimDuration),
    /// As [`LatencySpec::Uniform`].
    Uniform {
        /// Lower bound (<= `max`).
        min: SimDuration,
        /// Upper bound.
        max: SimDuration,
    },
    /// As [`LatencySpec::Normal`].
    Normal {
        /// Mean.
        mean: SimDuration,
        /// Standard deviation.
        std: SimDuration,
    },
    /// As [`LatencySpec::LogNormal`].
    LogNormal {
        /// Median.
        median: SimDuration,
        /// Shape (finite, >= 0).
        sigma: f64,
    },
    /// As [`LatencySpec::Exponential`].
    Exponential {
        /// Mean.
        mean: SimDuration,
    },
    /// As [`LatencySpec::Empirical`].
    Empirical(Vec<SimDuration>),
    /// Each link gets `LogNormal(median: m, sigma: sigma)` with `m` drawn uniformly from
    /// `[median_min, median_max]` (whole microseconds) from the generator's seed: links of
    /// different lengths, as the Python scripts drew them.
    LogNormalDrawn {
        /// Smallest median (<= `median_max`).
        median_min: SimDuration,
        /// Largest median.
        median_max: SimDuration,
        /// Shape (finite, >= 0).
        sigma: f64,
    },
}

fn gen_one() -> u32 {
    1
}
fn gen_nf_latency() -> GenLatency {
    GenLatency::Uniform {
        min: SimDuration::from_micros(300),
        max: SimDuration::from_micros(700),
    }
}
fn gen_hub_sepp_latency() -> GenLatency {
    GenLatency::LogNormalDrawn {
        median_min: SimDuration::from_millis(3),
        median_max: SimDuration::from_millis(60),
        sigma: 0.1,
    }
}
fn gen_mesh_sepp_latency() -> GenLatency {
    GenLatency::LogNormalDrawn {
        median_min: SimDuration::from_millis(10),
        median_max: SimDuration::from_millis(40),
        sigma: 0.1,
    }
}
fn gen_ipx_latency() -> GenLatency {
    GenLatency::LogNormal {
        median: SimDuration::from_millis(18),
        sigma: 0.1,
    }
}
fn gen_backbone_loss() -> f64 {
    0.0005
}
fn gen_backbone_bandwidth() -> Option<f64> {
    Some(1000.0)
}
fn gen_provider_latency() -> GenLatency {
    GenLatency::Uniform {
        min: SimDuration::from_micros(200),
        max: SimDuration::from_micros(500),
    }
}
fn gen_access_latency() -> GenLatency {
    GenLatency::LogNormal {
        median: SimDuration::from_millis(10),
        sigma: 0.1,
    }
}
fn gen_access_bandwidth() -> Option<f64> {
    Some(10000.0)
}
fn gen_invoker_latency() -> GenLatency {
    GenLatency::LogNormalDrawn {
        median_min: SimDuration::from_millis(2),
        median_max: SimDuration::from_millis(40),
        sigma: 0.2,
    }
}
fn gen_interconnect_latency() -> GenLatency {
    GenLatency::LogNormal {
        median: SimDuration::from_millis(12),
        sigma: 0.1,
    }
}
