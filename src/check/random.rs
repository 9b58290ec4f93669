//! Random scenarios: topologies, knobs and faults drawn from one seed, rendered to the two RON
//! files that reproduce them, for the property tests (`tests/sim/invariants.rs`, which draw
//! [`Case`]s with proptest strategies and shrink them) and the soak tier (`secsim soak`, which
//! draws them with [`Case::from_seed`]).
//!
//! A case is one of three shapes, each a topology generator of [`crate::scenario::generate`]:
//!
//! | shape | topology | RIs per N32 path |
//! |---|---|---|
//! | [`Shape::IpxHub`] | 2–200 PLMNs around 1–3 IPX hubs | 1 (same hub) or 2 (two hubs) |
//! | [`Shape::Mesh`] | 2–200 PLMNs, SEPPs linked directly | 0 |
//! | [`Shape::Capif`] | 1–5 CAPIF providers, 1–2 AEFs each, 1–12 invokers | – |
//!
//! with the N32 knobs (capability lists, preference, TLS close, c-SEPP mapping, RI
//! modification, rejection encoding, retry) or the CAPIF knobs (method lists, preferences,
//! validity, expiry behaviour, token lifetime, recovery strategy, all eight interconnection
//! alternatives) drawn at random, and faults: link-down windows, loss, RI refusal windows,
//! N32-f attacks (tampering RIs and the rest of [`crate::scenario::N32FaultKind`]), context
//! terminations, AEF method changes, revocations and CCF restarts.
//!
//! Rendering is a pure function of the case: the same case gives the same bytes, and
//! [`Case::render`]'s output loaded with [`Case::load`] (or written to a folder and run with
//! `secsim check`) reproduces the run exactly.

use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::engine::SimDuration;
use crate::proto::capif::types::SecurityMethod;
use crate::proto::n32::types::SecurityCapability;
use crate::scenario::{
    ArrivalSpec, CapifFlowSpec, ExperimentFile, GeneratorKind, N32FlowSpec, Scenario, ScenarioError, TopologyGenerator,
    WorkloadSpec,
};

/// The topology family of a case.
#[derive(Clone, Debug, PartialEq)]
pub enum Shape {
    /// PLMNs around `hubs` IPX hubs (1..=3, at most `plmns`).
    IpxHub { plmns: u32, hubs: u32 },
    /// PLMNs whose SEPPs form a random mesh with `degree` peers each.
    Mesh { plmns: u32, degree: u32 },
    /// CAPIF providers with their AEFs and `invokers` invokers.
    Capif { providers: u32, aefs: u32, invokers: u32 },
}

/// One fault. Times are in ms from the start of the run; indices are taken modulo what they
/// index (so any value is valid, which keeps shrinking simple).
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// Link `link` is down during `[from_ms, from_ms + len_ms)`.
    LinkDown { link: u32, from_ms: u32, len_ms: u32 },
    /// Link `link` loses `permille`/1000 of its packets.
    Loss { link: u32, permille: u32 },
    /// The IPX hub `hub` refuses every CONNECT during the window.
    RiRefusal { hub: u32, from_ms: u32, len_ms: u32 },
    /// Every `every`-th N32-f message suffers fault `kind` (index into
    /// [`N32_FAULT_KINDS`]).
    N32f { every: u32, kind: u32 },
    /// The operator terminates the N32-f contexts.
    Terminate { at_ms: u32 },
    /// An AEF changes its security methods (bit mask over PSK, PKI, OAUTH; 0 reads as PKI).
    MethodChange { aef: u32, at_ms: u32, methods: u8 },
    /// The CCF of provider `provider` restarts, down for `down_ms`.
    CcfRestart { provider: u32, at_ms: u32, down_ms: u32 },
    /// An invoker's authorization is revoked.
    Revocation { invoker: u32, at_ms: u32 },
}

/// N32 knobs; indices are taken modulo the number of alternatives.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct N32Knobs {
    /// Flows as (consumer PLMN, producer PLMN), 0-based (modulo the PLMN count; a flow to its
    /// own PLMN goes to the next one).
    pub flows: Vec<(u32, u32)>,
    /// Requests per second per flow.
    pub rate: u32,
    /// Bit masks over (PRINS, TLS) and order flags: bit 2 puts TLS first.
    pub initiator_caps: u8,
    pub responder_caps: u8,
    pub preference: u32,
    pub tls_close: u32,
    pub csepp_mapping: u32,
    pub ri_modify: bool,
    pub rejection_encoding: u32,
    /// `retry_after` in ms; 0: none.
    pub retry_after_ms: u32,
}

/// CAPIF knobs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CapifKnobs {
    /// Flows as (CCF provider of the invokers, AEF index over all AEFs, preference order
    /// index into [`PREF_ORDERS`]); invokers are dealt round-robin to the flows.
    pub flows: Vec<(u32, u32, u32)>,
    /// Invocations per second per invoker (tenths).
    pub rate_tenths: u32,
    /// Per-AEF method masks (PSK, PKI, OAUTH bits; 0: the default, all three).
    pub aef_methods: Vec<u8>,
    /// AEFPSK validity in s; 0: default.
    pub psk_validity_s: u32,
    pub validity_encoding: u32,
    pub expiry: u32,
    /// Token lifetime in s; 0: default.
    pub token_lifetime_s: u32,
    pub recovery: u32,
    /// Interconnection alternatives, one index per knob of
    /// [`crate::proto::capif::interconnection::InterconnectionKnobs`].
    pub interconnection: [u32; 8],
}

/// One random scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Case {
    /// The run seed (also the topology generator's seed).
    pub seed: u64,
    pub shape: Shape,
    /// Simulated duration \[s\].
    pub duration_s: u32,
    pub n32: N32Knobs,
    pub capif: CapifKnobs,
    pub faults: Vec<Fault>,
}

/// The N32-f fault kinds, in [`Fault::N32f`] index order.
pub const N32_FAULT_KINDS: &[&str] = &[
    "TamperCiphertext",
    "TamperAad",
    "TamperingRi",
    "UnauthorisedRi",
    "WrongKey",
    "UnknownContext",
];
/// Invoker preference orders.
pub const PREF_ORDERS: &[&[SecurityMethod]] = &[
    &[SecurityMethod::Psk, SecurityMethod::Pki, SecurityMethod::Oauth],
    &[SecurityMethod::Pki, SecurityMethod::Oauth, SecurityMethod::Psk],
    &[SecurityMethod::Oauth, SecurityMethod::Psk, SecurityMethod::Pki],
    &[SecurityMethod::Psk],
    &[SecurityMethod::Pki],
    &[SecurityMethod::Oauth],
    &[SecurityMethod::Psk, SecurityMethod::Oauth],
];

/// `list[i mod len]`.
fn pick_of<T: Clone>(list: &[T], i: u32) -> T {
    list[i as usize % list.len()].clone()
}

fn ms_of(v: u32) -> SimDuration {
    SimDuration::from_millis(u64::from(v))
}

/// The methods of a bit mask over [`SecurityMethod::KNOWN`] (PSK, PKI, OAUTH); none reads as PKI.
fn methods_typed(mask: u8) -> Vec<SecurityMethod> {
    let v: Vec<SecurityMethod> = SecurityMethod::KNOWN
        .iter()
        .enumerate()
        .filter(|(b, _)| mask & (1 << b) != 0)
        .map(|(_, m)| m.clone())
        .collect();
    if v.is_empty() { vec![SecurityMethod::Pki] } else { v }
}

/// Capabilities of a bit mask: bit 0 PRINS, bit 1 TLS (none reads as TLS), bit 2 reverses.
fn caps_typed(mask: u8) -> Vec<SecurityCapability> {
    let mut v = Vec::new();
    if mask & 1 != 0 {
        v.push(SecurityCapability::Prins);
    }
    if mask & 2 != 0 {
        v.push(SecurityCapability::Tls);
    }
    if v.is_empty() {
        v.push(SecurityCapability::Tls);
    }
    if mask & 4 != 0 {
        v.reverse();
    }
    v
}

fn letter(p: u32) -> char {
    (b'a' + (p % 26) as u8) as char
}

/// A PLMN's number as the generators write it (two digits at least: `07`, `123`).
fn plmn_num(k: u32) -> String {
    format!("{:02}", k + 1)
}

impl Case {
    /// A case drawn from `seed` alone (the soak tier's cases): sizes are kept small enough
    /// that a case runs in tens of milliseconds.
    pub fn from_seed(seed: u64) -> Case {
        let mut r = ChaCha8Rng::seed_from_u64(seed ^ 0x5EC5_1A7E_C0DE_0007);
        let shape = match r.random_range(0..10) {
            0..=3 => {
                let plmns = if r.random_bool(0.1) {
                    r.random_range(2..=200)
                } else {
                    r.random_range(2..=12)
                };
                Shape::IpxHub {
                    plmns,
                    hubs: r.random_range(1..=3.min(plmns)),
                }
            }
            4..=5 => {
                let plmns = if r.random_bool(0.1) {
                    r.random_range(3..=200)
                } else {
                    r.random_range(2..=12)
                };
                Shape::Mesh {
                    plmns,
                    degree: r.random_range(1..=3.min(plmns - 1)),
                }
            }
            _ => Shape::Capif {
                providers: r.random_range(1..=5),
                aefs: r.random_range(1..=2),
                invokers: r.random_range(1..=8),
            },
        };
        let duration_s = r.random_range(2..=6);
        let horizon = duration_s * 1000;
        let n32 = N32Knobs {
            flows: (0..r.random_range(1..=4))
                .map(|_| (r.random_range(0..200), r.random_range(0..200)))
                .collect(),
            rate: r.random_range(1..=4),
            initiator_caps: r.random_range(1..8),
            responder_caps: r.random_range(1..8),
            preference: r.random_range(0..3),
            tls_close: r.random_range(0..2),
            csepp_mapping: r.random_range(0..3),
            ri_modify: r.random_bool(0.5),
            rejection_encoding: r.random_range(0..4),
            retry_after_ms: if r.random_bool(0.3) {
                r.random_range(100..2000)
            } else {
                0
            },
        };
        let capif = CapifKnobs {
            flows: (0..r.random_range(1..=3))
                .map(|_| (r.random_range(0..5), r.random_range(0..10), r.random_range(0..7)))
                .collect(),
            rate_tenths: r.random_range(2..=20),
            aef_methods: (0..10)
                .map(|_| if r.random_bool(0.5) { 0 } else { r.random_range(1..8) })
                .collect(),
            psk_validity_s: if r.random_bool(0.4) { r.random_range(1..6) } else { 0 },
            validity_encoding: r.random_range(0..2),
            expiry: r.random_range(0..2),
            token_lifetime_s: if r.random_bool(0.4) { r.random_range(1..6) } else { 0 },
            recovery: r.random_range(0..5),
            interconnection: std::array::from_fn(|_| r.random_range(0..3)),
        };
        let is_capif = matches!(shape, Shape::Capif { .. });
        let mut faults = Vec::new();
        for _ in 0..r.random_range(0..=4) {
            let from_ms = r.random_range(0..horizon / 2);
            let f = match (is_capif, r.random_range(0..4)) {
                (_, 0) => Fault::LinkDown {
                    link: r.random_range(0..1000),
                    from_ms,
                    len_ms: r.random_range(50..2000),
                },
                (_, 1) => Fault::Loss {
                    link: r.random_range(0..1000),
                    permille: r.random_range(1..50),
                },
                (false, 2) => Fault::RiRefusal {
                    hub: r.random_range(0..3),
                    from_ms,
                    len_ms: r.random_range(50..2000),
                },
                (false, _) if r.random_bool(0.5) => Fault::N32f {
                    every: r.random_range(1..20),
                    kind: r.random_range(0..N32_FAULT_KINDS.len() as u32),
                },
                (false, _) => Fault::Terminate { at_ms: from_ms },
                (true, 2) => Fault::MethodChange {
                    aef: r.random_range(0..10),
                    at_ms: from_ms,
                    methods: r.random_range(0..8),
                },
                (true, _) if r.random_bool(0.5) => Fault::CcfRestart {
                    provider: r.random_range(0..5),
                    at_ms: from_ms,
                    down_ms: r.random_range(50..2000),
                },
                (true, _) => Fault::Revocation {
                    invoker: r.random_range(0..12),
                    at_ms: from_ms,
                },
            };
            faults.push(f);
        }
        Case {
            seed,
            shape,
            duration_s,
            n32,
            capif,
            faults,
        }
    }

    /// A fault's start time, folded into the first three quarters of the run (the loader
    /// refuses scheduled events at or after the end).
    pub fn clamp_at(&self, at_ms: u32) -> u32 {
        at_ms % (self.duration_s.max(1) * 750)
    }

    /// The topology generator of the case.
    pub fn generator(&self) -> TopologyGenerator {
        let kind = match self.shape {
            Shape::IpxHub { plmns, hubs } => {
                let text = format!("IpxHub(plmns: {plmns}, ipx_providers: {})", hubs.clamp(1, plmns.max(1)));
                ron::from_str(&text).expect("generator kind")
            }
            Shape::Mesh { plmns, degree } => {
                let text = format!("RandomMesh(plmns: {plmns}, degree: {degree})");
                ron::from_str(&text).expect("generator kind")
            }
            Shape::Capif {
                providers,
                aefs,
                invokers,
            } => {
                let text =
                    format!("CapifProviders(providers: {providers}, aefs_per_provider: {aefs}, invokers: {invokers})");
                ron::from_str(&text).expect("generator kind")
            }
        };
        let kind: GeneratorKind = kind;
        TopologyGenerator { seed: self.seed, kind }
    }

    /// The case's two files: (experiment, topology). The experiment names its topology
    /// `topology.ron` in the same folder.
    pub fn render(&self) -> Result<(String, String), String> {
        let mut topo = crate::scenario::generate::generate(&self.generator()).map_err(|issues| {
            let v: Vec<String> = issues.iter().map(|i| format!("{i:?}")).collect();
            format!("generator: {}", v.join("; "))
        })?;
        let links = topo.links.len() as u32;
        for f in &self.faults {
            match *f {
                Fault::LinkDown { link, from_ms, len_ms } if links > 0 => {
                    let from_ms = self.clamp_at(from_ms);
                    let l = &mut topo.links[(link % links) as usize];
                    l.down.push(crate::scenario::WindowSpec {
                        from: crate::engine::SimDuration::from_millis(u64::from(from_ms)),
                        to: Some(crate::engine::SimDuration::from_millis(
                            u64::from(from_ms) + u64::from(len_ms.max(1)),
                        )),
                    });
                }
                Fault::Loss { link, permille } if links > 0 => {
                    let l = &mut topo.links[(link % links) as usize];
                    l.loss = (l.loss + f64::from(permille.min(200)) / 1000.0).min(0.2);
                }
                _ => {}
            }
        }
        for l in &mut topo.links {
            l.down.sort_by_key(|w| w.from);
            // Overlapping windows are merged (the topology loader refuses overlaps).
            let mut merged: Vec<crate::scenario::WindowSpec> = Vec::new();
            for w in l.down.drain(..) {
                match merged.last_mut() {
                    Some(last) if last.to.is_none_or(|t| w.from <= t) => {
                        last.to = match (last.to, w.to) {
                            (Some(a), Some(b)) => Some(a.max(b)),
                            _ => None,
                        };
                    }
                    _ => merged.push(w),
                }
            }
            l.down = merged;
        }
        let topology = format!(
            "// secsim random case {} (topology)\n{}\n",
            self.seed,
            ron::ser::to_string_pretty(&topo, ron::ser::PrettyConfig::default().struct_names(true))
                .map_err(|e| e.to_string())?
        );
        let experiment = self.render_experiment_typed()?;
        Ok((experiment, topology))
    }

    /// The experiment as a typed [`ExperimentFile`], written with the `ron` serializer.
    fn render_experiment_typed(&self) -> Result<String, String> {
        let exp = self.experiment()?;
        let body = ron::ser::to_string_pretty(&exp, ron::ser::PrettyConfig::default().struct_names(true))
            .map_err(|e| e.to_string())?;
        Ok(format!(
            "// secsim random case {}: {:?}\n// faults: {:?}\n{body}\n",
            self.seed, self.shape, self.faults
        ))
    }

    /// The experiment of the case: every knob drawn from its enum's `ALL`.
    pub fn experiment(&self) -> Result<ExperimentFile, String> {
        let skeleton = format!(
            "Experiment(name: \"case-{}\", topology: \"topology.ron\", duration: \"{}s\", seeds: Some([{}]), workload: [])",
            self.seed,
            self.duration_s.max(1),
            self.seed
        );
        let mut exp: ExperimentFile = ron::from_str(&skeleton).map_err(|e| e.to_string())?;
        match self.shape {
            Shape::IpxHub { plmns, hubs } => self.typed_n32(&mut exp, plmns, Some(hubs.clamp(1, plmns.max(1)))),
            Shape::Mesh { plmns, .. } => self.typed_n32(&mut exp, plmns, None),
            Shape::Capif {
                providers,
                aefs,
                invokers,
            } => self.typed_capif(&mut exp, providers, aefs, invokers),
        }
        Ok(exp)
    }

    fn typed_n32(&self, exp: &mut ExperimentFile, plmns: u32, hubs: Option<u32>) {
        use crate::proto::n32::capability_negotiation::Preference;
        use crate::proto::n32::sepp::TlsCloseBehaviour;
        use crate::proto::roaming::{
            CseppMapping, Decision, RefusalReason, RiPolicy, ScriptedDecision, SuggestionEncoding,
        };
        let k = &self.n32;
        let hub_name = |plmn: u32| -> String {
            match hubs {
                Some(1) => "ri-hub".to_string(),
                Some(h) => format!("ri-hub-{}", plmn % h + 1),
                None => String::new(),
            }
        };
        let n = &mut exp.n32;
        n.initiator_capabilities = Some(caps_typed(k.initiator_caps));
        n.responder_capabilities = Some(caps_typed(k.responder_caps));
        n.preference = match pick_of(&Preference::ALL, k.preference) {
            Preference::PrinsIfIntermediaries { .. } => Preference::PrinsIfIntermediaries {
                ris_on_path: hubs.is_some(),
            },
            p => p,
        };
        n.tls_close = pick_of(&TlsCloseBehaviour::ALL, k.tls_close);
        n.csepp_mapping = pick_of(&CseppMapping::all(), k.csepp_mapping);
        n.ri_modify = k.ri_modify;
        if k.retry_after_ms > 0 {
            n.retry_after = Some(SimDuration::from_millis(u64::from(k.retry_after_ms)));
        }
        let mut refusals: std::collections::BTreeMap<String, Vec<ScriptedDecision>> = Default::default();
        for f in &self.faults {
            match *f {
                Fault::N32f { every, kind } => n.faults.push(crate::scenario::N32FaultSpec {
                    every: u64::from(every.max(1)),
                    kind: pick_of(&crate::scenario::N32FaultKind::ALL, kind),
                }),
                Fault::Terminate { at_ms } => n.terminate_at.push(ms_of(self.clamp_at(at_ms))),
                Fault::RiRefusal { hub, from_ms, len_ms } if hubs.is_some() => {
                    let from_ms = self.clamp_at(from_ms);
                    refusals.entry(hub_name(hub)).or_default().push(ScriptedDecision {
                        at: ms_of(from_ms),
                        until: Some(ms_of(from_ms + len_ms.max(1))),
                        target_plmn: None,
                        decision: Decision::Refuse {
                            reason: RefusalReason::Scripted,
                        },
                    });
                }
                _ => {}
            }
        }
        n.terminate_at.sort_unstable();
        n.terminate_at.dedup();
        if hubs.is_some() {
            let encoding = pick_of(&SuggestionEncoding::ALL, k.rejection_encoding);
            for h in 0..hubs.unwrap_or(1) {
                let name = hub_name(h);
                let mut policy = RiPolicy {
                    scripted: refusals.get(&name).cloned().unwrap_or_default(),
                    ..RiPolicy::default()
                };
                policy.rejection.encoding = encoding;
                n.ri_policies.insert(name, policy);
            }
        }
        let plmns = plmns.max(2);
        let mut seen = std::collections::BTreeSet::new();
        for &(a, b) in &k.flows {
            let a = a % plmns;
            let mut b = b % plmns;
            if b == a {
                b = (a + 1) % plmns;
            }
            if !seen.insert((a, b)) {
                continue;
            }
            let (na, nb) = (plmn_num(a), plmn_num(b));
            let (n32c_via, n32f_ris) = match hubs {
                None => (None, Vec::new()),
                Some(_) => {
                    let (ha, hb) = (hub_name(a), hub_name(b));
                    let ris = if ha == hb {
                        vec![ha.clone()]
                    } else {
                        vec![ha.clone(), hb]
                    };
                    (Some(ha), ris)
                }
            };
            exp.workload.push(WorkloadSpec::N32(N32FlowSpec {
                name: None,
                consumer: format!("cnf-{na}"),
                c_sepp: format!("sepp-{na}"),
                p_sepp: format!("sepp-{nb}"),
                producer: format!("pnf-{nb}"),
                n32c_via,
                n32f_ris,
                arrival: ArrivalSpec::Poisson {
                    rate_per_s: f64::from(k.rate.clamp(1, 50)),
                },
                request_bytes: crate::scenario::schema::default_request_bytes(),
                response_bytes: crate::scenario::schema::default_response_bytes(),
                processing: None,
                start: SimDuration::ZERO,
                timeout: crate::scenario::schema::default_timeout(),
            }));
        }
    }

    fn typed_capif(&self, exp: &mut ExperimentFile, providers: u32, aefs: u32, invokers: u32) {
        use crate::proto::capif::authentication::{ExpiryBehaviour, ValidityEncoding};
        use crate::proto::capif::interconnection::{
            CcfAIssues, CcfBIdExposure, CcfDiscovery, CrossAuthorization, CrossOauth, HomeCcfLookup, PskScope, Rnaa,
        };
        use crate::proto::capif::mismatch::RecoveryStrategy;
        use crate::scenario::{CapifAefSpec, CcfRestartSpec, MethodChangeSpec, RevocationSpec};
        let k = &self.capif;
        let providers = providers.max(1);
        let aefs = aefs.max(1);
        let invokers = invokers.max(1);
        let aef_name = |i: u32| -> (String, u32) {
            let i = i % (providers * aefs);
            let p = i / aefs;
            (format!("aef-{}{}", letter(p), i % aefs + 1), p)
        };
        let c = &mut exp.capif;
        c.validity_encoding = pick_of(&ValidityEncoding::ALL, k.validity_encoding);
        c.expiry = pick_of(&ExpiryBehaviour::ALL, k.expiry);
        c.recovery = pick_of(&RecoveryStrategy::ALL, k.recovery);
        if k.psk_validity_s > 0 {
            c.psk_validity = Some(SimDuration::from_secs(u64::from(k.psk_validity_s)));
        }
        if k.token_lifetime_s > 0 {
            c.token_lifetime = Some(SimDuration::from_secs(u64::from(k.token_lifetime_s)));
        }
        let [
            rnaa,
            discovery,
            ccf_b_id,
            home_lookup,
            psk_scope,
            authorization,
            oauth,
            ccf_a_issues,
        ] = k.interconnection;
        let ic = &mut c.interconnection;
        ic.rnaa = pick_of(&Rnaa::ALL, rnaa);
        ic.discovery = pick_of(&CcfDiscovery::ALL, discovery);
        ic.ccf_b_id = pick_of(&CcfBIdExposure::ALL, ccf_b_id);
        ic.home_lookup = pick_of(&HomeCcfLookup::ALL, home_lookup);
        ic.psk_scope = pick_of(&PskScope::ALL, psk_scope);
        ic.authorization = pick_of(&CrossAuthorization::ALL, authorization);
        ic.oauth = pick_of(&CrossOauth::ALL, oauth);
        ic.ccf_a_issues = pick_of(&CcfAIssues::ALL, ccf_a_issues);
        // The one combination the knobs refuse (`InterconnectionKnobs::validate`): a routable
        // prefix would reveal the CCF-B id that the opaque handle hides.
        if ic.ccf_b_id == CcfBIdExposure::OpaqueHandle && ic.home_lookup == HomeCcfLookup::RoutablePrefix {
            ic.home_lookup = HomeCcfLookup::MapLearned;
        }
        for i in 0..providers * aefs {
            let mask = k.aef_methods.get(i as usize).copied().unwrap_or(0);
            if mask != 0 {
                c.aefs.insert(
                    aef_name(i).0,
                    CapifAefSpec {
                        methods: Some(methods_typed(mask)),
                        interface_methods: None,
                        apis: None,
                    },
                );
            }
        }
        let flows: Vec<(u32, u32, u32)> = if k.flows.is_empty() {
            vec![(0, 0, 0)]
        } else {
            k.flows.clone()
        };
        let nflows = (flows.len() as u32).min(invokers);
        // Method changes go to AEFs some flow uses (the loader refuses the others).
        let mut used: Vec<String> = flows.iter().take(nflows as usize).map(|f| aef_name(f.1).0).collect();
        used.sort();
        used.dedup();
        // CCF restarts go to CCFs some flow uses (the loader refuses the others).
        let mut ccfs_used: Vec<u32> = Vec::new();
        for f in flows.iter().take(nflows as usize) {
            ccfs_used.push(f.0 % providers);
            ccfs_used.push(aef_name(f.1).1);
        }
        ccfs_used.sort_unstable();
        ccfs_used.dedup();
        for f in &self.faults {
            match *f {
                Fault::MethodChange { aef, at_ms, methods } => c.method_changes.push(MethodChangeSpec {
                    at: ms_of(self.clamp_at(at_ms)),
                    aef: used[aef as usize % used.len()].clone(),
                    methods: methods_typed(methods),
                }),
                Fault::Revocation { invoker, at_ms } => c.revocations.push(RevocationSpec {
                    at: ms_of(self.clamp_at(at_ms)),
                    invoker: format!("invoker-{:04}", invoker % invokers + 1),
                }),
                Fault::CcfRestart {
                    provider,
                    at_ms,
                    down_ms,
                } => c.ccf_restarts.push(CcfRestartSpec {
                    at: ms_of(self.clamp_at(at_ms)),
                    ccf: format!("ccf-{}", letter(ccfs_used[provider as usize % ccfs_used.len()])),
                    down: ms_of(down_ms.max(1)),
                }),
                _ => {}
            }
        }
        // In time order (the loader wants it), then by AEF and methods.
        c.method_changes.sort_by_cached_key(|m| {
            let methods: Vec<&str> = m.methods.iter().map(|x| x.as_str()).collect();
            (m.at, m.aef.clone(), methods.join(","))
        });
        for (fi, &(ccf, aef, pref)) in flows.iter().take(nflows as usize).enumerate() {
            let members: Vec<String> = (0..invokers)
                .filter(|i| i % nflows == fi as u32)
                .map(|i| format!("invoker-{:04}", i + 1))
                .collect();
            let ccf_p = ccf % providers;
            let (aef, aef_p) = aef_name(aef);
            exp.workload.push(WorkloadSpec::Capif(CapifFlowSpec {
                name: None,
                invokers: members,
                ccf: format!("ccf-{}", letter(ccf_p)),
                aef,
                aef_ccf: (aef_p != ccf_p).then(|| format!("ccf-{}", letter(aef_p))),
                prefs: Some(PREF_ORDERS[pref as usize % PREF_ORDERS.len()].to_vec()),
                arrival: ArrivalSpec::Poisson {
                    rate_per_s: f64::from(k.rate_tenths.clamp(1, 100)) / 10.0,
                },
                start: SimDuration::ZERO,
                start_spread: None,
                timeout: crate::scenario::schema::default_timeout(),
                processing: None,
                response_bytes: crate::scenario::schema::default_response_bytes(),
            }));
        }
    }

    /// Loads the rendered case as a scenario (paths under `dir`, which need not exist).
    pub fn load(&self, dir: &Path) -> Result<Scenario, String> {
        let (exp, topo) = self.render()?;
        crate::scenario::load_experiment_source(&exp, &dir.join("experiment.ron"), Some(&topo))
            .map_err(|e: ScenarioError| e.to_string())
    }

    /// Writes the case's two files to `dir` (created), for `secsim check dir/experiment.ron`.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        let (exp, topo) = self.render().map_err(std::io::Error::other)?;
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("experiment.ron"), exp)?;
        std::fs::write(dir.join("topology.ron"), topo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the renderer writes loads back to the typed experiment, and the draws reach
    /// every alternative of every knob's enum.
    #[test]
    fn rendered_cases_load_back_and_reach_every_alternative() {
        let pretty = ron::ser::PrettyConfig::default().struct_names(true);
        let mut seen: std::collections::BTreeSet<String> = Default::default();
        for seed in 0..400 {
            let case = Case::from_seed(seed);
            let typed = case.experiment().unwrap();
            let b = ron::ser::to_string_pretty(&typed, pretty.clone()).unwrap();
            let n = &typed.n32;
            seen.insert(format!("pref {:?}", std::mem::discriminant(&n.preference)));
            seen.insert(format!("close {:?}", n.tls_close));
            seen.insert(format!("map {:?}", std::mem::discriminant(&n.csepp_mapping)));
            for f in &n.faults {
                seen.insert(format!("fault {:?}", f.kind));
            }
            for p in n.ri_policies.values() {
                seen.insert(format!("enc {:?}", p.rejection.encoding));
            }
            let c = &typed.capif;
            if typed.workload.iter().any(|w| matches!(w, WorkloadSpec::Capif(_))) {
                seen.insert(format!("rec {:?}", c.recovery));
                seen.insert(format!("val {:?}", c.validity_encoding));
                seen.insert(format!("exp {:?}", c.expiry));
                seen.insert(format!("auth {:?}", c.interconnection.authorization));
                seen.insert(format!("oauth {:?}", c.interconnection.oauth));
            }
            // What the renderer writes loads back to the same experiment.
            let (exp, _) = case.render().unwrap();
            let back: ExperimentFile = ron::from_str(&exp).unwrap();
            assert_eq!(
                ron::ser::to_string_pretty(&back, pretty.clone()).unwrap(),
                b,
                "seed {seed}"
            );
        }
        use crate::proto::capif::authentication::{ExpiryBehaviour, ValidityEncoding};
        use crate::proto::capif::interconnection::{CrossAuthorization, CrossOauth};
        use crate::proto::capif::mismatch::RecoveryStrategy;
        use crate::proto::n32::capability_negotiation::Preference;
        use crate::proto::n32::sepp::TlsCloseBehaviour;
        use crate::proto::roaming::{CseppMapping, SuggestionEncoding};
        let mut want: std::collections::BTreeSet<String> = Default::default();
        want.extend(
            Preference::ALL
                .iter()
                .map(|p| format!("pref {:?}", std::mem::discriminant(p))),
        );
        want.extend(TlsCloseBehaviour::ALL.iter().map(|p| format!("close {p:?}")));
        want.extend(
            CseppMapping::all()
                .iter()
                .map(|p| format!("map {:?}", std::mem::discriminant(p))),
        );
        want.extend(
            crate::scenario::N32FaultKind::ALL
                .iter()
                .map(|p| format!("fault {p:?}")),
        );
        want.extend(SuggestionEncoding::ALL.iter().map(|p| format!("enc {p:?}")));
        want.extend(RecoveryStrategy::ALL.iter().map(|p| format!("rec {p:?}")));
        want.extend(ValidityEncoding::ALL.iter().map(|p| format!("val {p:?}")));
        want.extend(ExpiryBehaviour::ALL.iter().map(|p| format!("exp {p:?}")));
        want.extend(CrossAuthorization::ALL.iter().map(|p| format!("auth {p:?}")));
        want.extend(CrossOauth::ALL.iter().map(|p| format!("oauth {p:?}")));
        let missing: Vec<&String> = want.difference(&seen).collect();
        assert!(missing.is_empty(), "never drawn in 400 cases: {missing:?}");
        assert_eq!(want.len(), 33);
    }
}
