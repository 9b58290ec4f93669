//! N32 on the simulated network: handshake outcomes, key agreement, fault detection, and
//! OpenAPI validity of every N32 body the shipped experiments carry.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use secsim::engine::{Limits, SimTime};
use secsim::scenario::load_experiment;
use secsim::world::SimWorld;
use serde_json::Value;

/// A trace sink the test can read afterwards.
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

/// Runs a shipped experiment for `seed`; returns the world and the trace lines.
fn run(experiment: &str, seed: u64) -> (SimWorld, Vec<Value>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("experiments")
        .join(experiment);
    let scn = load_experiment(&path).unwrap();
    let mut sim = secsim::build::simulation(&scn.topology, &scn.experiment, seed).unwrap();
    let sink = Shared::default();
    sim.enable_trace(Some(Box::new(sink.clone())));
    sim.run(Limits {
        until: SimTime::ZERO + scn.experiment.duration,
        max_events: u64::MAX,
    });
    sim.finish_trace().unwrap();
    let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    let lines = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    (sim.world, lines)
}

const N32_EXPERIMENTS: [&str; 5] = [
    "n32-tls-direct.ron",
    "n32-prins-two-ri.ron",
    "n32-prins-faults.ron",
    "n32-ri-reject-encodings.ron",
    "n32-direct-tls-reactions.ron",
];

/// The OpenAPI file that defines each N32 schema secsim sends.
fn schema_file(name: &str) -> Option<&'static str> {
    match name {
        "SecNegotiateReqData"
        | "SecNegotiateRspData"
        | "SecParamExchReqData"
        | "SecParamExchRspData"
        | "N32fContextInfo"
        | "N32fErrorInfo" => Some("TS29573_N32_Handshake"),
        "N32fReformattedReqMsg" | "N32fReformattedRspMsg" | "ProblemDetailsMsgForwarding" => {
            Some("TS29573_JOSEProtectedMessageForwarding")
        }
        "ProblemDetails" => Some("TS29571_CommonData"),
        _ => None,
    }
}

#[test]
fn every_n32_body_in_the_shipped_traces_validates() {
    if crate::openapi::spec_or_skip().is_none() {
        return;
    }
    let mut seen = BTreeSet::new();
    for e in N32_EXPERIMENTS {
        let (_, lines) = run(e, 1);
        for l in &lines {
            let Some(name) = l["msg"].as_str() else { continue };
            let Some(file) = schema_file(name) else { continue };
            if l["body"].is_null() {
                continue;
            }
            seen.insert(name.to_string());
            if l["body"].get("suggestedStatus").is_some() {
                // Seed 000 FFS 2 alternative "flat fields": new attributes that no Rel-18
                // schema declares. The body is a valid ProblemDetails otherwise.
                crate::openapi::validate_lenient(name, file, &l["body"]).unwrap();
                let strict = crate::openapi::validate(name, file, &l["body"]).unwrap_err();
                assert!(
                    strict
                        .iter()
                        .all(|e| e.contains("suggestedStatus") || e.contains("suggestedCause")),
                    "{strict:?}"
                );
                continue;
            }
            if let Err(errs) = crate::openapi::validate(name, file, &l["body"]) {
                panic!("{e}: {name} does not validate: {errs:?}\n{}", l["body"]);
            }
        }
    }
    for must in [
        "SecNegotiateReqData",
        "SecNegotiateRspData",
        "SecParamExchReqData",
        "SecParamExchRspData",
        "N32fReformattedReqMsg",
        "N32fReformattedRspMsg",
        "N32fErrorInfo",
        "N32fContextInfo",
        "ProblemDetailsMsgForwarding",
        "ProblemDetails",
    ] {
        assert!(seen.contains(must), "no {must} in the shipped traces");
    }
}

#[test]
fn every_injected_fault_is_detected_and_reported_with_its_type() {
    for seed in 1..=4 {
        let (world, _) = run("n32-prins-faults.ron", seed);
        let p = world.n32().unwrap();
        // Reports name the message ID the receiver read; a TamperAad fault changes exactly
        // that, so compare the reported types as a multiset, and the IDs of the others.
        let types = |v: &[(u64, secsim::proto::n32::prins::N32fErrorType)]| {
            let mut t: Vec<String> = v.iter().map(|x| format!("{:?}", x.1)).collect();
            t.sort();
            t
        };
        let (injected, detected) = (&p.injected(), &p.detected());
        assert!(injected.len() > 30, "seed {seed}: only {} faults", injected.len());
        // Every fault injected before the end has been reported once with the right type;
        // reports still in flight when the run ends are the only difference allowed.
        let in_flight = injected.len() - detected.len();
        assert!(
            detected.len() <= injected.len() && in_flight <= 3,
            "seed {seed}: {in_flight} unreported"
        );
        let settled = &injected[..detected.len()];
        assert_eq!(types(detected), types(settled), "seed {seed}");
        let ids: BTreeSet<u64> = detected.iter().map(|d| d.0).collect();
        for (id, t) in settled {
            if format!("{t:?}") != "IntegrityCheckFailed" {
                assert!(
                    ids.contains(id),
                    "seed {seed}: fault on message {id} ({t:?}) not reported"
                );
            }
        }
    }
}

#[test]
fn prins_contexts_agree_and_tls_closes_n32c() {
    for seed in 1..=5 {
        let (world, lines) = run("n32-prins-two-ri.ron", seed);
        let agree = world.n32().unwrap().key_agreement();
        assert!(!agree.is_empty() && agree.iter().all(|&a| a), "seed {seed}: {agree:?}");
        // Every cNF request succeeds, except one in flight across a scripted termination
        // (10 s, 20 s): it meets CONTEXT_NOT_FOUND at the p-SEPP, as it should.
        for r in world
            .records
            .iter()
            .filter(|r| r.procedure == "cnf_request" && r.status != 201)
        {
            let spans = [10_000_000_000u64, 20_000_000_000]
                .iter()
                .any(|&t| r.start_ns <= t && t <= r.end_ns);
            assert!(spans && r.status == 403, "seed {seed}: {r:?}");
        }
        assert!(lines.iter().any(|l| l["msg"] == "N32fContextInfo"));

        let (world, lines) = run("n32-tls-direct.ron", seed);
        let n32c: BTreeSet<u64> = lines
            .iter()
            .filter(|l| l["msg"].as_str().is_some_and(|m| m.starts_with("SecNegotiate")))
            .map(|l| l["conn"].as_u64().unwrap())
            .collect();
        let n32f: BTreeSet<u64> = lines
            .iter()
            .filter(|l| l["msg"] == "AuthenticationInfo" && l["from"] == "sepp-a")
            .map(|l| l["conn"].as_u64().unwrap())
            .collect();
        assert_eq!(n32c.len(), 1);
        assert!(
            !n32f.is_empty() && n32c.is_disjoint(&n32f),
            "TLS: N32-f runs on its own connection"
        );
        let h: Vec<_> = world
            .records
            .iter()
            .filter(|r| r.procedure == "n32_handshake")
            .collect();
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].result, "TLS", "{:?}", h[0]);
    }
}

/// Seed 000: a refused CONNECT never yields an established N32 context, and the cNF sees
/// the RI's suggested status and cause exactly when the c-SEPP's mapping policy uses it.
#[test]
fn ri_refusal_yields_no_context_and_the_cnf_answer_follows_the_mapping() {
    use secsim::proto::roaming::{CseppMapping, SuggestionEncoding};
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/n32-ri-reject-encodings.ron");
    let base = load_experiment(&path).unwrap();
    let mappings = [
        CseppMapping::UseSuggestion,
        CseppMapping::OwnAnswer {
            status: 502,
            cause: "OWN_CAUSE".into(),
        },
        CseppMapping::UseSuggestionIfVerified,
    ];
    for mapping in mappings {
        for seed in 1..=3 {
            let mut exp = base.experiment.clone();
            exp.n32.csepp_mapping = mapping.clone();
            for p in exp.n32.ri_policies.values_mut() {
                p.rejection.suggested_status = Some(503);
                p.rejection.suggested_cause = Some("SUGGESTED_CAUSE".into());
            }
            let mut sim = secsim::build::simulation(&base.topology, &exp, seed).unwrap();
            sim.run(Limits {
                until: SimTime::ZERO + exp.duration,
                max_events: u64::MAX,
            });
            let refusal_end = 20_000_000_000u64;
            let mut refused = 0;
            for r in &sim.world.records {
                match r.procedure {
                    "n32_handshake" if r.start_ns < refusal_end => {
                        assert_eq!((r.outcome, r.status), (secsim::metrics::Outcome::Refused, 403), "{r:?}");
                        refused += 1;
                    }
                    "cnf_request" if r.end_ns < refusal_end => {
                        // No context exists yet: nothing gets through.
                        assert_ne!(r.outcome, secsim::metrics::Outcome::Ok, "{r:?}");
                        let enc = r.flow.as_str();
                        let verified = enc == format!("{:?}", SuggestionEncoding::ProtectedHeader);
                        let suggested = match &mapping {
                            CseppMapping::UseSuggestion => true,
                            CseppMapping::OwnAnswer { .. } => false,
                            CseppMapping::UseSuggestionIfVerified => verified,
                        };
                        let (status, cause) = if suggested {
                            (503, "SUGGESTED_CAUSE")
                        } else if let CseppMapping::OwnAnswer { status, cause } = &mapping {
                            (*status, cause.as_str())
                        } else {
                            (504, "TARGET_NF_NOT_REACHABLE")
                        };
                        assert_eq!(r.status, status, "{mapping:?}: {r:?}");
                        assert_eq!(r.cause, cause, "{mapping:?}: {r:?}");
                    }
                    _ => {}
                }
            }
            assert!(refused >= 4, "{mapping:?} seed {seed}: every RI refused");
            // After the window, every c-SEPP establishes N32.
            let ok = sim
                .world
                .records
                .iter()
                .filter(|r| r.procedure == "n32_handshake" && r.outcome == secsim::metrics::Outcome::Ok);
            assert_eq!(ok.count(), 4, "{mapping:?} seed {seed}");
        }
    }
}

/// Over random capability lists and seeds, on the simulated network: a handshake that
/// succeeds agreed on a capability in both lists; with nothing in common it fails (403).
#[test]
fn agreed_capability_is_always_in_both_lists() {
    use rand::{Rng, SeedableRng};
    use secsim::proto::n32::types::SecurityCapability as C;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/n32-tls-direct.ron");
    let base = load_experiment(&path).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let pick = |rng: &mut rand_chacha::ChaCha8Rng| -> Vec<C> {
        let mut v = match rng.random_range(0..4) {
            0 => vec![C::Tls],
            1 => vec![C::Prins],
            2 => vec![C::Tls, C::Prins],
            _ => vec![C::Prins, C::Tls],
        };
        if rng.random_bool(0.2) {
            v.retain(|c| *c == C::Prins);
        }
        v
    };
    for seed in 1..=24u64 {
        let mut exp = base.experiment.clone();
        exp.duration = secsim::engine::SimDuration::from_secs(2);
        let (ini, res) = (pick(&mut rng), pick(&mut rng));
        exp.n32.initiator_capabilities = Some(ini.clone());
        exp.n32.responder_capabilities = Some(res.clone());
        let mut sim = secsim::build::simulation(&base.topology, &exp, seed).unwrap();
        sim.run(Limits {
            until: SimTime::ZERO + exp.duration,
            max_events: u64::MAX,
        });
        let h = sim
            .world
            .records
            .iter()
            .find(|r| r.procedure == "n32_handshake")
            .expect("a handshake");
        let common = ini.iter().any(|c| res.contains(c));
        if common {
            let agreed = if h.result == "TLS" { C::Tls } else { C::Prins };
            assert!(h.result == "TLS" || h.result == "PRINS", "{h:?}");
            assert!(
                ini.contains(&agreed) && res.contains(&agreed),
                "{ini:?} / {res:?}: {h:?}"
            );
        } else {
            // Nothing common: 403; an empty offer is malformed: 400 (capability_negotiation.rs).
            let expected = if ini.is_empty() { 400 } else { 403 };
            assert_eq!(h.status, expected, "{ini:?} / {res:?}: {h:?}");
        }
    }
}
