//! CAPIF on the simulated network: the security properties over many seeds (AEFPSK agreement,
//! no session with an expired key, a revoked token or an untrusted chain, recovery after a
//! method change within its strategy's bound, negotiation inside the intersection), the
//! interconnection alternatives' exposure, and OpenAPI validity of every CAPIF body in the
//! shipped traces.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use secsim::engine::{Limits, SimDuration, SimTime};
use secsim::metrics::{Outcome, Record};
use secsim::proto::capif::interconnection::{self, Scenario as PlanScenario};
use secsim::proto::capif::mismatch::{RecoveryModel, RecoveryStrategy, recovery_bound};
use secsim::proto::capif::types::{AccessTokenReq, SecurityMethod};
use secsim::scenario::{ExperimentFile, TopologyFile, load_experiment, parse_experiment_str, parse_topology_str};
use secsim::world::SimWorld;
use serde_json::Value;

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn simulate(topo: &TopologyFile, exp: &ExperimentFile, seed: u64, trace: bool) -> (SimWorld, Vec<Value>) {
    let mut sim = secsim::build::simulation(topo, exp, seed).unwrap();
    let sink = Shared::default();
    if trace {
        sim.enable_trace(Some(Box::new(sink.clone())));
    }
    sim.run(Limits {
        until: SimTime::ZERO + exp.duration,
        max_events: u64::MAX,
    });
    sim.finish_trace().unwrap();
    let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    let lines = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    (sim.world, lines)
}

fn shipped(name: &str) -> (TopologyFile, ExperimentFile) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments").join(name);
    let scn = load_experiment(&path).unwrap();
    (scn.topology, scn.experiment)
}

/// A single-provider topology with constant latencies and no loss (for the recovery bound):
/// invoker ↔ gw 10 ms, CCF/AEF ↔ gw 1 ms.
fn lab_topology(invokers: usize) -> TopologyFile {
    let mut nodes = String::new();
    let mut links = String::new();
    for k in 1..=invokers {
        nodes.push_str(&format!(
            "(name: \"inv-{k:02}\", domain: \"internet\", role: Invoker),\n"
        ));
        links.push_str(&format!(
            "(source: \"inv-{k:02}\", target: \"gw-a\", latency: Constant(\"10ms\")),\n"
        ));
    }
    let src = format!(
        r#"Topology(
    domains: [(name: "provider-a", kind: CapifProvider), (name: "internet", kind: Other)],
    nodes: [
        (name: "ccf-a", domain: "provider-a", role: Ccf),
        (name: "apf-a", domain: "provider-a", role: Apf),
        (name: "aef-a1", domain: "provider-a", role: Aef),
        (name: "gw-a", domain: "provider-a", role: Router),
        {nodes}
    ],
    links: [
        (source: "ccf-a", target: "gw-a", latency: Constant("1ms")),
        (source: "apf-a", target: "gw-a", latency: Constant("1ms")),
        (source: "aef-a1", target: "gw-a", latency: Constant("1ms")),
        {links}
    ],
)"#
    );
    parse_topology_str(&src, Path::new("lab.ron")).unwrap()
}

fn experiment(src: &str) -> ExperimentFile {
    parse_experiment_str(src, Path::new("test.ron")).unwrap()
}

fn ok(r: &Record) -> bool {
    r.outcome == Outcome::Ok
}

/// The OpenAPI file that defines each CAPIF schema secsim sends.
fn schema_file(name: &str) -> Option<&'static str> {
    match name {
        "APIInvokerEnrolmentDetails" => Some("TS29222_CAPIF_API_Invoker_Management_API"),
        "ServiceSecurity" | "SecurityNotification" | "AccessTokenReq" | "AccessTokenRsp" | "AccessTokenErr" => {
            Some("TS29222_CAPIF_Security_API")
        }
        "CheckAuthenticationReq" | "CheckAuthenticationRsp" | "RevokeAuthorizationReq" | "RevokeAuthorizationRsp" => {
            Some("TS29222_AEF_Security_API")
        }
        "EventNotification" => Some("TS29222_CAPIF_Events_API"),
        "ServiceAPIDescription" => Some("TS29222_CAPIF_Publish_Service_API"),
        "ProblemDetails" => Some("TS29122_CommonData"),
        _ => None,
    }
}

#[test]
fn every_capif_body_in_the_shipped_traces_validates() {
    if crate::openapi::spec_or_skip().is_none() {
        return;
    }
    let mut seen = BTreeSet::new();
    let mut runs = vec![shipped("capif-single.ron"), shipped("capif-two-providers.ron")];
    // The push alternatives carry SecurityNotification / EventNotification bodies too.
    let (topo, mut exp) = shipped("capif-single.ron");
    exp.capif.recovery = RecoveryStrategy::CcfPush(secsim::proto::capif::mismatch::PushChannel::ServiceApiUpdateEvent);
    runs.push((topo, exp));
    for (topo, exp) in &runs {
        let (_, lines) = simulate(topo, exp, 1, true);
        for l in &lines {
            let Some(name) = l["msg"].as_str() else { continue };
            let Some(file) = schema_file(name) else { continue };
            if l["body"].is_null() {
                continue;
            }
            seen.insert(name.to_string());
            let body = if name == "AccessTokenReq" {
                // application/x-www-form-urlencoded on the wire: validate its fields.
                let form = l["body"].as_str().unwrap();
                serde_json::to_value(AccessTokenReq::from_form(form).unwrap()).unwrap()
            } else {
                l["body"].clone()
            };
            if let Err(errs) = crate::openapi::validate(name, file, &body) {
                panic!("{}: {name} does not validate: {errs:?}\n{body}", exp.name);
            }
        }
    }
    for must in [
        "APIInvokerEnrolmentDetails",
        "ServiceSecurity",
        "CheckAuthenticationReq",
        "CheckAuthenticationRsp",
        "AccessTokenReq",
        "AccessTokenRsp",
        "SecurityNotification",
        "RevokeAuthorizationReq",
        "RevokeAuthorizationRsp",
        "EventNotification",
        "ServiceAPIDescription",
        "ProblemDetails",
    ] {
        assert!(seen.contains(must), "no {must} in the CAPIF traces: {seen:?}");
    }
}

#[test]
fn aefpsk_agrees_and_no_session_with_an_expired_key_or_untrusted_chain() {
    let (topo, base) = shipped("capif-single.ron");
    let mut cases = Vec::new();
    for expiry in ["CloseSessions", "BlockNewHandshakes"] {
        for tls in ["Tls13", "Tls12"] {
            cases.push((expiry, tls, "Full"));
        }
    }
    cases.push(("BlockNewHandshakes", "Tls13", "Timing"));
    for (expiry, tls, fidelity) in cases {
        let mut exp = base.clone();
        exp.capif.expiry = ron::from_str(expiry).unwrap();
        exp.capif.capif1e_tls = ron::from_str(tls).unwrap();
        exp.crypto.fidelity = ron::from_str(fidelity).unwrap();
        exp.capif.psk_validity = Some(SimDuration::from_secs(4));
        for seed in 1..=6 {
            let (world, _) = simulate(&topo, &exp, seed, false);
            let c = &world.capif().unwrap().checks;
            let what = format!("{expiry}/{tls}/{fidelity} seed {seed}: {c:?}");
            assert!(c.psk_sessions >= 3, "{what}: keys expire every 4 s, so sessions renew");
            assert!(c.pki_sessions + c.psk_sessions > 0, "{what}");
            assert_eq!(c.psk_key_mismatch, 0, "{what}");
            assert_eq!(c.expired_key_sessions, 0, "{what}");
            assert_eq!(c.untrusted_sessions, 0, "{what}");
            assert_eq!(c.revoked_successes, 0, "{what}");
            assert_eq!(c.revoked_token_successes, 0, "{what}");
            assert_eq!(c.stale_method_successes, 0, "{what}");
            assert_eq!(c.outside_intersection, 0, "{what}");
            // Invoker and AEF hold the same AEFPSK whenever both hold one.
            for node in 0..world.net.topo.node_count() as u32 {
                if let Some((inv, Some(aef))) =
                    secsim::proto::capif::node::aefpsk_pair(&world.capif().unwrap().nodes, node)
                {
                    assert_eq!(inv, aef, "{what}: node {node}");
                }
            }
            // PSK invocations succeed between key expiries (the invoker renews).
            let psk_ok = world
                .records
                .iter()
                .filter(|r| r.procedure == "capif_invocation" && r.variant == "PSK" && ok(r))
                .count();
            assert!(psk_ok > 20, "{what}: {psk_ok} PSK invocations");
        }
    }
}

#[test]
fn a_certificate_from_an_untrusted_ca_gets_no_session() {
    let topo = lab_topology(2);
    let exp = experiment(
        r#"Experiment(name: "untrusted", topology: "lab.ron", duration: "12s",
            capif: (invocations_per_session: Some(5)),
            workload: [Capif((invokers: ["inv-01", "inv-02"], ccf: "ccf-a", aef: "aef-a1",
                              prefs: Some(["PKI"]), arrival: Periodic(interval: "200ms")))])"#,
    );
    let mut sim = secsim::build::simulation(&topo, &exp, 1).unwrap();
    let cut = SimTime::ZERO + SimDuration::from_secs(4);
    sim.run(Limits {
        until: cut,
        max_events: u64::MAX,
    });
    // inv-01 now presents a certificate for its own key and API invoker ID, but issued by a
    // CA the AEF does not trust.
    let node = sim.world.net.topo.node_id("inv-01").unwrap();
    let id = sim.world.net.sec.certificate(node).subject.clone();
    let mut rogue = secsim::crypto::pki::Ca::new_root(
        secsim::crypto::pki::key_from_rng(&mut secsim::engine::stream(9, "rogue")),
        secsim::crypto::pki::Subject::new("ca.rogue", secsim::crypto::pki::Role::Ca, "internet"),
        secsim::crypto::pki::Validity {
            not_before_s: 0,
            not_after_s: 1 << 30,
        },
    )
    .unwrap();
    let key = sim.world.net.sec.verifying_key(node);
    let cert = rogue
        .issue(
            &secsim::crypto::pki::Subject::new(id, secsim::crypto::pki::Role::Invoker, "internet"),
            &key,
            secsim::crypto::pki::Validity {
                not_before_s: 0,
                not_after_s: 1 << 30,
            },
        )
        .unwrap();
    sim.world.net.sec.set_certificate(node, cert);
    sim.run(Limits {
        until: SimTime::ZERO + exp.duration,
        max_events: u64::MAX,
    });
    let w = &sim.world;
    let c = &w.capif().unwrap().checks;
    assert_eq!(c.untrusted_sessions, 0, "{c:?}");
    // TLS 1.3: the client finishes its side before the AEF reads its certificate, so the
    // refusal comes as an alert under the first request. Once the session open at the cut has
    // ended (5 invocations at 200 ms), no invocation of inv-01 succeeds.
    let late_ok = |inv: &str| {
        w.records
            .iter()
            .filter(|r| r.initiator == inv && r.procedure == "capif_invocation" && ok(r))
            .filter(|r| r.start_ns > cut.as_nanos() + 1_500_000_000)
            .count()
    };
    assert_eq!(late_ok("inv-01"), 0, "no session for the rogue certificate");
    assert!(late_ok("inv-02") > 10, "the honest invoker keeps invoking");
    assert!(c.refused_handshakes > 0, "{c:?}");
}

/// One experiment per strategy: 12 invokers prefer PSK, the APF drops PSK at 6 s.
fn storm(strategy: &str, seed_list: &str) -> ExperimentFile {
    experiment(&format!(
        r#"Experiment(name: "storm", topology: "lab.ron", duration: "16s", seeds: Some({seed_list}),
            capif: (recovery: {strategy}, tls_retries: Some(2), retry_backoff: Some("300ms"),
                    invocations_per_session: Some(4),
                    method_changes: [(at: "6s", aef: "aef-a1", methods: ["PKI", "OAUTH"])]),
            workload: [Capif((invokers: ["inv-*"], ccf: "ccf-a", aef: "aef-a1",
                              prefs: Some(["PSK", "OAUTH", "PKI"]), arrival: Poisson(rate_per_s: 2.0),
                              start_spread: Some("3s")))])"#
    ))
}

#[test]
fn after_a_method_change_nobody_succeeds_with_the_old_method_and_everyone_recovers_in_bound() {
    let topo = lab_topology(12);
    // Round trips of the lab topology: invoker-AEF and invoker-CCF 2 x (10 + 1) ms,
    // AEF-CCF 2 x (1 + 1) ms.
    let rtt = |ms: u64| SimDuration::from_millis(ms);
    for strategy in RecoveryStrategy::ALL {
        let label = match strategy {
            RecoveryStrategy::CcfPush(c) => format!("CcfPush({c:?})"),
            s => format!("{s:?}"),
        };
        let model = RecoveryModel {
            rtt_invoker_aef: rtt(22),
            rtt_invoker_ccf: rtt(22),
            rtt_aef_ccf: rtt(4),
            tls_retries: 2,
            retry_backoff: rtt(300),
        };
        // The model counts one round trip per handshake; on the network a new connection is
        // TCP + TLS (two), and a CAPIF-2e attempt is check-authentication plus the
        // handshake. Allow each round trip twice, plus CPU time for the signatures.
        let doubled = RecoveryModel {
            rtt_invoker_aef: rtt(44),
            rtt_invoker_ccf: rtt(44),
            rtt_aef_ccf: rtt(8),
            ..model
        };
        let bound = recovery_bound(strategy, &doubled) + rtt(20);
        for seed in 1..=3u64 {
            let exp = storm(&label, &format!("[{seed}]"));
            let (world, _) = simulate(&topo, &exp, seed, false);
            let c = &world.capif().unwrap().checks;
            let what = format!("{label} seed {seed}");
            assert_eq!(c.stale_method_successes, 0, "{what}: {c:?}");
            let change = 6_000_000_000u64;
            // No PSK invocation succeeds after the change.
            let late_psk = world
                .records
                .iter()
                .filter(|r| r.procedure == "capif_invocation" && r.variant == "PSK" && ok(r))
                .filter(|r| r.start_ns > change)
                .count();
            assert_eq!(late_psk, 0, "{what}");
            // Every invoker (all negotiated PSK before 6 s) recovers once, within the bound.
            let rec: Vec<&Record> = world
                .records
                .iter()
                .filter(|r| r.procedure == "capif_recovery")
                .collect();
            let who: BTreeSet<&str> = rec.iter().map(|r| r.initiator.as_str()).collect();
            assert_eq!(who.len(), 12, "{what}: recovered {who:?}");
            for r in &rec {
                let took = SimDuration::from_nanos(r.end_ns - r.start_ns);
                assert!(took <= bound, "{what}: {} took {took} > bound {bound}", r.initiator);
                assert!(r.variant == label, "{what}");
            }
            // Each invoker ends on a method the AEF still supports.
            for (inv, _, m) in {
                let p = world.capif().unwrap();
                secsim::proto::capif::node::invoker_states(&p.nodes, &p.invokers)
            } {
                assert!(
                    matches!(m, Some(SecurityMethod::Oauth) | Some(SecurityMethod::Pki)),
                    "{what}: {inv} ends with {m:?}"
                );
            }
        }
    }
}

#[test]
fn negotiation_never_picks_outside_the_intersection() {
    let topo = lab_topology(1);
    let all = ["PSK", "PKI", "OAUTH"];
    let subsets: Vec<Vec<&str>> = (1u32..8)
        .map(|mask| (0..3).filter(|b| mask & (1 << b) != 0).map(|b| all[b]).collect())
        .collect();
    let list = |v: &[&str]| {
        format!(
            "[{}]",
            v.iter().map(|m| format!("\"{m}\"")).collect::<Vec<_>>().join(", ")
        )
    };
    let mut selections = BTreeSet::new();
    for prefs in &subsets {
        for aef in &subsets {
            // Reverse preference order as well as the natural one.
            for order in [prefs.clone(), prefs.iter().rev().copied().collect()] {
                let exp = experiment(&format!(
                    r#"Experiment(name: "neg", topology: "lab.ron", duration: "3s",
                        capif: (aefs: {{"aef-a1": (methods: Some({aefm}))}}),
                        workload: [Capif((invokers: ["inv-01"], ccf: "ccf-a", aef: "aef-a1",
                                          prefs: Some({p}), arrival: Periodic(interval: "1s"),
                                          start_spread: Some("0s")))])"#,
                    aefm = list(aef),
                    p = list(&order)
                ));
                let (world, _) = simulate(&topo, &exp, 1, false);
                let c = &world.capif().unwrap().checks;
                assert_eq!(c.outside_intersection, 0, "{order:?} x {aef:?}");
                let chosen = {
                    let p = world.capif().unwrap();
                    secsim::proto::capif::node::invoker_states(&p.nodes, &p.invokers)
                }[0]
                .2
                .clone();
                let expected = order.iter().find(|m| aef.contains(m)).map(|m| SecurityMethod::from(*m));
                assert_eq!(chosen, expected, "{order:?} x {aef:?}");
                let negotiated = world
                    .records
                    .iter()
                    .any(|r| r.procedure == "capif_negotiation" && ok(r));
                assert_eq!(negotiated, expected.is_some(), "{order:?} x {aef:?}");
                if expected.is_none() {
                    assert!(!world.records.iter().any(|r| r.procedure == "capif_invocation"));
                }
                selections.insert(format!("{chosen:?}"));
            }
        }
    }
    assert_eq!(selections.len(), 4, "{selections:?}");
}

#[test]
fn revocation_reaches_aef_and_invoker_and_nothing_succeeds_after_it() {
    let (topo, exp) = shipped("capif-single.ron");
    for seed in 1..=4 {
        let (world, lines) = simulate(&topo, &exp, seed, true);
        let c = &world.capif().unwrap().checks;
        assert_eq!(c.revoked_successes + c.revoked_token_successes, 0, "seed {seed}: {c:?}");
        let revoked_at = lines
            .iter()
            .find(|l| l["msg"] == "RevokeAuthorizationReq")
            .and_then(|l| l["time_ns"].as_u64())
            .expect("revoke-authorization sent");
        assert!(
            lines
                .iter()
                .any(|l| l["msg"] == "SecurityNotification" && l["to"] == "invoker-2")
        );
        let after = world
            .records
            .iter()
            .filter(|r| r.initiator == "invoker-2" && r.procedure == "capif_invocation" && ok(r))
            .filter(|r| r.start_ns > revoked_at)
            .count();
        assert_eq!(after, 0, "seed {seed}");
        assert!(
            world
                .records
                .iter()
                .any(|r| r.initiator == "invoker-2" && r.procedure == "capif_invocation" && ok(r)),
            "seed {seed}: invoker-2 invoked before"
        );
    }
}

#[test]
fn every_interconnection_alternative_runs_and_exposes_only_what_its_plan_says() {
    let (topo, base) = shipped("capif-two-providers.ron");
    let alternatives = [
        "()",
        "(ccf_b_id: OptionalIfNoMapping)",
        "(ccf_b_id: OpaqueHandle)",
        "(ccf_b_id: OpaqueHandle, home_lookup: AskAllPeers)",
        "(home_lookup: RoutablePrefix)",
        "(psk_scope: PerInvokerAefApi)",
        "(authorization: PullPerInvocation)",
        "(authorization: CacheTtl(\"5s\"))",
        "(oauth: CcfBForwards)",
        "(oauth: TokenExchange, ccf_a_issues: TrustSignedAssertion)",
        "(oauth: TokenExchange, ccf_a_issues: ReauthWithCcfBCert)",
        "(oauth: TokenExchange, ccf_a_issues: NarrowUnauthenticated)",
        "(discovery: CcfIdInSecurityMethodResponse)",
        "(discovery: AefChallenge)",
        "(rnaa: NotSupported)",
    ];
    let mut distinct = BTreeSet::new();
    for alt in alternatives {
        let mut exp = base.clone();
        exp.capif.interconnection = ron::from_str(alt).unwrap();
        exp.duration = SimDuration::from_secs(6);
        let (world, _) = simulate(&topo, &exp, 1, false);
        let knobs = exp.capif.interconnection;
        for method in [SecurityMethod::Psk, SecurityMethod::Pki, SecurityMethod::Oauth] {
            let flow = match method {
                SecurityMethod::Psk => "psk",
                SecurityMethod::Pki => "pki",
                _ => "oauth",
            };
            let invoked = world
                .records
                .iter()
                .any(|r| r.flow == flow && r.procedure == "capif_invocation" && ok(r));
            assert!(invoked, "{alt}: {flow} never invoked");
            let plan = interconnection::plan(
                &knobs,
                &PlanScenario {
                    n_peer_ccfs: 1,
                    has_mapping: true,
                    method: method.clone(),
                    n_apis: 1,
                    rnaa: false,
                },
            );
            let want: BTreeSet<String> = interconnection::exposure(&plan, interconnection::default_domain)
                .iter()
                .map(|e| format!("{:?} {:?}->{:?}", e.item, e.from_domain, e.to_domain))
                .collect();
            let got: BTreeSet<String> = world
                .records
                .iter()
                .filter(|r| r.procedure == "capif_exposure" && r.flow == flow)
                .map(|r| format!("{} {}->{}", r.variant, r.initiator, r.responder))
                .collect();
            assert_eq!(got, want, "{alt} {flow}");
            for (item, domain) in interconnection::forbidden(&knobs) {
                let bad = format!("{item:?}");
                let to = format!("{domain:?}");
                assert!(
                    !world
                        .records
                        .iter()
                        .any(|r| r.procedure == "capif_exposure" && r.variant == bad && r.responder == to),
                    "{alt}: {bad} reached {to}"
                );
            }
            distinct.insert(format!("{flow} {got:?}"));
        }
        assert_eq!(world.capif().unwrap().checks.psk_key_mismatch, 0, "{alt}");
    }
    assert!(distinct.len() > 6, "the alternatives change what crosses: {distinct:?}");
}

#[test]
fn capif_runs_are_deterministic() {
    let (topo, exp) = shipped("capif-two-providers.ron");
    let (a, la) = simulate(&topo, &exp, 2, true);
    let (b, lb) = simulate(&topo, &exp, 2, true);
    assert_eq!(a.records, b.records);
    assert_eq!(la, lb);
}

/// A plane's build error names the flow it is about, once (issue 13: it read
/// `workload[0]: workload[1]: ...`, blaming the first flow).
#[test]
fn a_build_error_names_its_own_flow_once() {
    let topo = lab_topology(2);
    // Built directly (validation would refuse it first): the second Capif flow names a CCF
    // that does not exist (its AEF registered at `ccf-a`, as in the first flow).
    let exp = experiment(
        r#"Experiment(name: "bad", topology: "lab.ron", duration: "2s",
            workload: [Capif((invokers: ["inv-01"], ccf: "ccf-a", aef: "aef-a1", arrival: Periodic(interval: "1s"))),
                       Capif((invokers: ["inv-02"], ccf: "ccf-zz", aef: "aef-a1", aef_ccf: Some("ccf-a"),
                              arrival: Periodic(interval: "1s")))])"#,
    );
    let err = secsim::build::simulation(&topo, &exp, 1)
        .err()
        .expect("refused")
        .to_string();
    assert_eq!(err, "workload[1].Capif.ccf: unknown node `ccf-zz`");
}
