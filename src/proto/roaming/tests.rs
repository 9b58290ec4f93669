//! Unit tests of the RI machine, the encodings and the c-SEPP mapping; named `<state>_<event>`
//! where a state is involved.

use p256::ecdsa::VerifyingKey;
use serde_json::Value;

use super::*;
use crate::crypto::jose;
use crate::crypto::pki::key_from_rng;
use crate::engine::rng::stream;
use crate::engine::time::{SimDuration, SimTime};
use crate::proto::common::{ProblemDetails, ProblemDetailsMsgForwarding};

const A: &str = "001-01";
const B: &str = "002-02";
const C: &str = "003-03";
const FQDN: &str = "ri-1.ipx.example";

fn at_ms(ms: u64) -> SimTime {
    SimTime::ZERO + SimDuration::from_millis(ms)
}

fn ri(policy: RiPolicy) -> Ri {
    Ri::new(FQDN, policy, &mut stream(7, FQDN)).unwrap()
}

fn refuse(reason: RefusalReason) -> Decision {
    Decision::Refuse { reason }
}

fn drain(ri: &mut Ri) -> Vec<Effect> {
    std::iter::from_fn(|| ri.poll_effect()).collect()
}

// ---------------------------------------------------------------------------------------------
// Policy: serde, validation
// ---------------------------------------------------------------------------------------------

#[test]
fn policy_ron_defaults_and_example() {
    let empty: RiPolicy = ron::from_str("()").unwrap();
    assert_eq!(empty, RiPolicy::default());
    assert_eq!(empty.rejection.status, 403);
    assert_eq!(empty.rejection.suggested_status, Some(504));
    assert_eq!(
        empty.rejection.suggested_cause.as_deref(),
        Some(TARGET_PLMN_NOT_REACHABLE)
    );
    assert_eq!(
        empty.rejection.encoding,
        SuggestionEncoding::ProblemDetailsMsgForwarding
    );
    assert_eq!(empty.direct_tls, DirectTlsReaction::RequireConnect);

    let text = r#"(
        contracts: [(from_plmn: "plmn-01", to_plmn: "plmn-02")],
        unreachable: ["plmn-03"],
        rate_limit: Some((per_s: 10.0, burst: 5)),
        scripted: [(at: "10s", until: Some("20s"), decision: Refuse(reason: Scripted))],
        rejection: (suggested_status: Some(503), encoding: ProtectedHeader),
        direct_tls: TlsAlertOnSni,
    )"#;
    let p: RiPolicy = ron::from_str(text).unwrap();
    p.validate().unwrap();
    assert_eq!(p.scripted[0].until, Some(SimDuration::from_secs(20)));
    assert_eq!(p.scripted[0].decision, refuse(RefusalReason::Scripted));
    assert_eq!(p.rejection.status, 403, "unspecified members keep their default");
    assert_eq!(p.rejection.suggested_status, Some(503));
    assert_eq!(p.rejection.encoding, SuggestionEncoding::ProtectedHeader);
    assert!(
        ron::from_str::<RiPolicy>("(contract: [])").is_err(),
        "unknown fields are refused"
    );
}

#[test]
fn policy_validate_refuses_bad_values() {
    let with = |f: fn(&mut RiPolicy)| {
        let mut p = RiPolicy::default();
        f(&mut p);
        p.validate()
    };
    assert_eq!(
        with(|p| p.rate_limit = Some(RateLimit { per_s: 0.0, burst: 1 })),
        Err(PolicyError::Rate(0.0))
    );
    assert!(matches!(
        with(|p| p.rate_limit = Some(RateLimit {
            per_s: f64::NAN,
            burst: 1
        })),
        Err(PolicyError::Rate(_))
    ));
    assert_eq!(
        with(|p| p.rate_limit = Some(RateLimit { per_s: 1.0, burst: 0 })),
        Err(PolicyError::Burst)
    );
    assert_eq!(
        with(|p| p.rejection.status = 200),
        Err(PolicyError::Status {
            field: "status",
            status: 200
        })
    );
    assert_eq!(
        with(|p| p.rejection.suggested_status = Some(302)),
        Err(PolicyError::Status {
            field: "suggested_status",
            status: 302
        })
    );
    assert!(matches!(
        with(|p| p.scripted.push(ScriptedDecision {
            at: SimDuration::from_secs(2),
            until: Some(SimDuration::from_secs(1)),
            target_plmn: None,
            decision: Decision::Accept,
        })),
        Err(PolicyError::Window { index: 0, .. })
    ));
    assert!(
        Ri::new(
            FQDN,
            RiPolicy {
                rejection: RejectionSpec {
                    status: 200,
                    ..RejectionSpec::default()
                },
                ..RiPolicy::default()
            },
            &mut stream(1, "x")
        )
        .is_err()
    );
}

// ---------------------------------------------------------------------------------------------
// Decisions
// ---------------------------------------------------------------------------------------------

#[test]
fn decide_precedence_scripted_contract_unreachable_rate() {
    let policy = RiPolicy {
        contracts: vec![
            Contract {
                from_plmn: A.into(),
                to_plmn: B.into(),
            },
            Contract {
                from_plmn: A.into(),
                to_plmn: C.into(),
            },
        ],
        unreachable: vec![C.into(), B.into()],
        rate_limit: Some(RateLimit { per_s: 1.0, burst: 1 }),
        scripted: vec![ScriptedDecision {
            at: SimDuration::from_secs(100),
            until: None,
            target_plmn: Some(B.into()),
            decision: Decision::Accept,
        }],
        ..RiPolicy::default()
    };
    let mut ri = ri(policy);
    let t = at_ms(0);
    // contract > unreachable: (B -> C) has no contract, and C is unreachable.
    assert_eq!(ri.decide(t, B, C), refuse(RefusalReason::NoContract));
    // unreachable > rate limit: refused attempts spend no token.
    assert_eq!(ri.decide(t, A, C), refuse(RefusalReason::TargetUnreachable));
    assert_eq!(ri.decide(t, A, C), refuse(RefusalReason::TargetUnreachable));
    assert_eq!(ri.tokens(), Some(1));
    // scripted > everything: from 100 s, B is accepted for anyone (no contract C -> B, B
    // unreachable), without spending a token.
    let late = at_ms(100_000);
    assert_eq!(ri.decide(late, C, B), Decision::Accept);
    assert_eq!(ri.decide(late, C, B), Decision::Accept);
    assert_eq!(ri.tokens(), Some(1), "scripted accepts spend no token");
    // With C reachable: the token goes, then the rate limit speaks, but after the contract.
    let mut ri = Ri::new(
        FQDN,
        RiPolicy {
            unreachable: vec![],
            ..ri.policy().clone()
        },
        &mut stream(7, FQDN),
    )
    .unwrap();
    assert_eq!(ri.decide(t, A, C), Decision::Accept);
    assert_eq!(ri.decide(t, A, C), refuse(RefusalReason::RateLimited));
    assert_eq!(
        ri.decide(t, C, A),
        refuse(RefusalReason::NoContract),
        "contract > rate limit"
    );
    assert_eq!(ri.decide(at_ms(1_000), A, C), Decision::Accept, "refilled after 1 s");
}

#[test]
fn decide_contracts_are_directional_and_empty_allows_all() {
    let mut open = ri(RiPolicy::default());
    assert_eq!(open.decide(at_ms(0), C, A), Decision::Accept);
    let mut ri = ri(RiPolicy {
        contracts: vec![Contract {
            from_plmn: A.into(),
            to_plmn: B.into(),
        }],
        ..RiPolicy::default()
    });
    assert_eq!(ri.decide(at_ms(0), A, B), Decision::Accept);
    assert_eq!(ri.decide(at_ms(0), B, A), refuse(RefusalReason::NoContract));
}

#[test]
fn token_bucket_refills_in_simulated_time() {
    let run = || {
        let mut bucket = TokenBucket::new(&RateLimit { per_s: 2.0, burst: 3 });
        let times = [0, 0, 0, 0, 499, 500, 500, 1000, 10_000, 10_000, 10_000, 10_000, 10_001];
        times.map(|ms| bucket.try_take(at_ms(ms)))
    };
    let got = run();
    assert_eq!(
        got,
        [
            true, true, true, false, false, true, false, true, true, true, true, false, false
        ]
    );
    assert_eq!(run(), got, "same inputs, same decisions");
    // A clock going backwards refills nothing.
    let mut bucket = TokenBucket::new(&RateLimit { per_s: 1.0, burst: 1 });
    assert!(bucket.try_take(at_ms(5_000)));
    assert!(!bucket.try_take(at_ms(1_000)));
    assert!(bucket.try_take(at_ms(6_000)));
    // Odd rates round to whole nanoseconds per token: 3/s = 333_333_333 ns.
    let mut bucket = TokenBucket::new(&RateLimit { per_s: 3.0, burst: 1 });
    assert!(bucket.try_take(SimTime::ZERO));
    assert!(!bucket.try_take(SimTime::from_nanos(333_333_332)));
    assert!(bucket.try_take(SimTime::from_nanos(333_333_333)));
}

#[test]
fn decide_rate_limit_over_time() {
    let mut ri = ri(RiPolicy {
        rate_limit: Some(RateLimit { per_s: 10.0, burst: 2 }),
        ..RiPolicy::default()
    });
    let decisions: Vec<bool> = (0..10)
        .map(|i| ri.decide(at_ms(i * 50), A, B) == Decision::Accept)
        .collect();
    // Two from the burst, then one every 100 ms.
    assert_eq!(
        decisions,
        [true, true, true, false, true, false, true, false, true, false]
    );
}

#[test]
fn scripted_windows() {
    let script = |at, until: Option<u64>, target: Option<&str>, decision| ScriptedDecision {
        at: SimDuration::from_secs(at),
        until: until.map(SimDuration::from_secs),
        target_plmn: target.map(str::to_owned),
        decision,
    };
    let mut ri = ri(RiPolicy {
        scripted: vec![
            script(10, Some(20), None, refuse(RefusalReason::Scripted)),
            script(15, None, Some(B), refuse(RefusalReason::TargetUnreachable)),
            script(30, None, None, Decision::Accept),
        ],
        unreachable: vec![C.into()],
        ..RiPolicy::default()
    });
    let cases = [
        (9_999, B, Decision::Accept),
        (10_000, B, refuse(RefusalReason::Scripted)),
        (15_000, B, refuse(RefusalReason::Scripted)), // first active script wins
        (19_999, C, refuse(RefusalReason::Scripted)),
        (20_000, B, refuse(RefusalReason::TargetUnreachable)), // second, B only, open-ended
        (20_000, A, Decision::Accept),
        (20_000, C, refuse(RefusalReason::TargetUnreachable)), // policy, no script for C
        (30_000, C, Decision::Accept),                         // third overrides `unreachable`
        (99_000, B, refuse(RefusalReason::TargetUnreachable)),
    ];
    for (ms, target, expected) in cases {
        assert_eq!(ri.decide(at_ms(ms), A, target), expected, "{ms} ms, target {target}");
    }
}

// ---------------------------------------------------------------------------------------------
// Machine
// ---------------------------------------------------------------------------------------------

#[test]
fn listening_connect_accepts_then_tunnelling_close() {
    let mut ri = ri(RiPolicy::default());
    let id = FlowId(1);
    assert_eq!(ri.handle_connect(at_ms(0), id, A, B), Ok(State::Tunnelling));
    assert_eq!(ri.state(id), State::Tunnelling);
    assert_eq!(
        drain(&mut ri),
        [Effect::OpenTunnel {
            id,
            target_plmn: B.into()
        }]
    );
    assert_eq!(ri.handle_close(at_ms(5), id), Ok(State::Closed));
    assert_eq!(drain(&mut ri), [Effect::CloseTunnel { id }]);
    assert_eq!(ri.state(id), State::Listening, "final flows are forgotten");
}

#[test]
fn evaluating_refuse_sends_rejection() {
    let mut ri = ri(RiPolicy {
        unreachable: vec![C.into()],
        ..RiPolicy::default()
    });
    let id = FlowId(7);
    assert_eq!(ri.handle_connect(at_ms(0), id, A, C), Ok(State::Refused));
    let effects = drain(&mut ri);
    let [
        Effect::Reject {
            id: got,
            reason,
            rejection,
        },
    ] = effects.as_slice()
    else {
        panic!("{effects:?}");
    };
    assert_eq!((*got, *reason), (id, RefusalReason::TargetUnreachable));
    assert_eq!(rejection.status, 403);
    assert_eq!(rejection.schema, "ProblemDetailsMsgForwarding");
    let body: ProblemDetailsMsgForwarding = serde_json::from_str(&rejection.body).unwrap();
    assert_eq!(body.problem.cause.as_deref(), Some(TARGET_PLMN_NOT_REACHABLE));
    assert_eq!(body.suggested_status_code, Some(504));
    assert_eq!(ri.state(id), State::Listening);
}

#[test]
fn listening_close_and_tunnelling_connect_are_refused() {
    let mut ri = ri(RiPolicy::default());
    let id = FlowId(3);
    assert_eq!(
        ri.handle_close(at_ms(0), id),
        Err(RiError::NoTransition {
            id,
            state: State::Listening,
            event: Event::Close
        })
    );
    ri.handle_connect(at_ms(0), id, A, B).unwrap();
    drain(&mut ri);
    let err = ri.handle_connect(at_ms(1), id, A, B).unwrap_err();
    assert_eq!(err.to_string(), "ri: flow 3 in state Tunnelling cannot take Connect");
    assert_eq!(
        ri.handle_direct_tls(at_ms(1), id, A, B).unwrap_err().to_string(),
        "ri: flow 3 in state Tunnelling cannot take DirectTls"
    );
    assert_eq!(ri.state(id), State::Tunnelling, "a refused input changes nothing");
    assert!(drain(&mut ri).is_empty());
}

#[test]
fn inspecting_direct_tls_per_reaction() {
    for reaction in DirectTlsReaction::ALL {
        let mut ri = ri(RiPolicy {
            unreachable: vec![C.into()],
            rate_limit: Some(RateLimit { per_s: 1.0, burst: 1 }),
            direct_tls: reaction,
            ..RiPolicy::default()
        });
        // Refused target.
        assert_eq!(ri.handle_direct_tls(at_ms(0), FlowId(1), A, C), Ok(State::Refused));
        let expected_reason = reaction.consults_policy().then_some(RefusalReason::TargetUnreachable);
        assert_eq!(
            drain(&mut ri),
            [Effect::DirectRefusal {
                id: FlowId(1),
                reason: expected_reason,
                effect: reaction.direct_tls_effect()
            }],
            "{reaction:?}"
        );
        // Allowed target: forwarded unless the RI requires CONNECT.
        let state = ri.handle_direct_tls(at_ms(0), FlowId(2), A, B).unwrap();
        if reaction == DirectTlsReaction::RequireConnect {
            assert_eq!(state, State::Refused);
            assert_eq!(ri.tokens().unwrap(), 1, "no token spent");
            // ... and the same flow over CONNECT goes through.
            assert_eq!(ri.handle_connect(at_ms(0), FlowId(3), A, B), Ok(State::Tunnelling));
        } else {
            assert_eq!(state, State::Tunnelling, "{reaction:?}");
        }
    }
    use DirectEffect::*;
    let effects = DirectTlsReaction::ALL.map(|r| (r.direct_tls_effect(), r.blame()));
    assert_eq!(
        effects,
        [
            (DropSilently, Blame::PeerSepp),
            (ResetAtTcp, Blame::PeerSepp),
            (AlertAfterClientHello { alert: "access_denied" }, Blame::PeerSepp),
            (ResetAtTcp, Blame::Ri),
            (NoRoute, Blame::Network),
        ]
    );
}

#[test]
fn ri_transition_table_snapshot() {
    crate::proto::snapshot::check("roaming_ri.txt", &render_table());
}

#[test]
fn transition_table_is_a_function() {
    for (i, a) in TRANSITIONS.iter().enumerate() {
        assert!(!a.from.is_final(), "no transition leaves a final state");
        for b in &TRANSITIONS[i + 1..] {
            assert!((a.from, a.event) != (b.from, b.event), "duplicate row {a:?}");
        }
        assert!(a.clause.starts_with("TS 29.573") || a.clause.starts_with("RFC"));
    }
}

// ---------------------------------------------------------------------------------------------
// Encodings
// ---------------------------------------------------------------------------------------------

fn key() -> p256::ecdsa::SigningKey {
    key_from_rng(&mut stream(7, FQDN))
}

fn encode(enc: SuggestionEncoding, spec: &RejectionSpec) -> Rejection {
    encode_rejection(enc, FQDN, spec, RefusalReason::NoContract, B, at_ms(12_345), &key())
}

#[test]
fn every_encoding_round_trips() {
    let spec = RejectionSpec::default();
    let vk = *key().verifying_key();
    for enc in SuggestionEncoding::ALL {
        let rejection = encode(enc, &spec);
        assert_eq!(rejection.status, 403);
        assert_eq!(rejection.header("Content-Type"), Some("application/problem+json"));
        for keys in [Some(&vk), None] {
            let s = decode_rejection(enc, &rejection, keys);
            assert_eq!(s.status, Some(504), "{enc:?}");
            assert_eq!(s.cause.as_deref(), Some(TARGET_PLMN_NOT_REACHABLE), "{enc:?}");
            assert_eq!(s.verified, enc.verifiable() && keys.is_some(), "{enc:?}");
            assert_eq!(s.bytes, rejection.size_bytes());
        }
    }
    // Without any suggestion, nothing is found, whatever the encoding.
    let bare = RejectionSpec {
        suggested_status: None,
        suggested_cause: None,
        ..RejectionSpec::default()
    };
    for enc in SuggestionEncoding::ALL {
        let s = decode_rejection(enc, &encode(enc, &bare), Some(&vk));
        assert_eq!((s.status, s.cause, s.verified), (None, None, false), "{enc:?}");
    }
    // Only a cause: the status stays absent.
    let cause_only = RejectionSpec {
        suggested_status: None,
        ..RejectionSpec::default()
    };
    for enc in SuggestionEncoding::ALL {
        let s = decode_rejection(enc, &encode(enc, &cause_only), Some(&vk));
        assert_eq!(
            (s.status, s.cause.as_deref()),
            (None, Some(TARGET_PLMN_NOT_REACHABLE)),
            "{enc:?}"
        );
    }
}

#[test]
fn protected_header_binds_plmn_iat_and_kid() {
    let rejection = encode(SuggestionEncoding::ProtectedHeader, &RejectionSpec::default());
    let compact = rejection.header(CONNECT_RES_INFO).unwrap();
    let verified = jose::verify_compact(key().verifying_key(), compact).unwrap();
    assert_eq!(verified.kid.as_deref(), Some(FQDN));
    let info: ConnectResInfo = serde_json::from_slice(&verified.payload).unwrap();
    assert_eq!(
        info,
        ConnectResInfo {
            suggested_status_code: Some(504),
            suggested_cause: Some(TARGET_PLMN_NOT_REACHABLE.into()),
            plmn: B.into(),
            iat: 12,
        }
    );
    // Deterministic: same seed, same bytes.
    assert_eq!(
        encode(SuggestionEncoding::ProtectedHeader, &RejectionSpec::default()),
        rejection
    );
}

#[test]
fn tampered_protected_header_fails_verification() {
    let rejection = encode(SuggestionEncoding::ProtectedHeader, &RejectionSpec::default());
    let vk = *key().verifying_key();
    let compact = rejection.header(CONNECT_RES_INFO).unwrap().to_owned();
    let parts: Vec<&str> = compact.split('.').collect();
    // An on-path party rewrites the suggestion (e.g. to 200) and keeps the signature.
    let forged_payload =
        jose::b64_encode(br#"{"suggestedStatusCode":503,"suggestedCause":"FORGED","plmn":"002-02","iat":12}"#);
    let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    let mut tampered = rejection.clone();
    tampered.headers.retain(|(n, _)| n != CONNECT_RES_INFO);
    tampered.headers.push((CONNECT_RES_INFO.into(), forged));
    let s = decode_rejection(SuggestionEncoding::ProtectedHeader, &tampered, Some(&vk));
    assert!(!s.verified);
    assert_eq!(
        (s.status, s.cause.as_deref()),
        (Some(503), Some("FORGED")),
        "the claim is read, unverified"
    );
    // Another key (an RI the c-SEPP does not trust) fails too.
    let other: VerifyingKey = *key_from_rng(&mut stream(8, "ri-2")).verifying_key();
    assert!(!decode_rejection(SuggestionEncoding::ProtectedHeader, &rejection, Some(&other)).verified);
    // Garbage never panics.
    let mut garbage = rejection.clone();
    garbage.headers = vec![(CONNECT_RES_INFO.into(), "not.a.jws!".into())];
    let s = decode_rejection(SuggestionEncoding::ProtectedHeader, &garbage, Some(&vk));
    assert_eq!((s.status, s.cause, s.verified), (None, None, false));
    for enc in [
        SuggestionEncoding::ProblemDetailsMsgForwarding,
        SuggestionEncoding::FlatFields,
    ] {
        let mut bad = encode(enc, &RejectionSpec::default());
        bad.body = "{\"status\": \"x\"".into();
        let s = decode_rejection(enc, &bad, Some(&vk));
        assert_eq!((s.status, s.cause), (None, None));
    }
}

#[test]
fn proxy_status_header_format() {
    let rejection = encode(SuggestionEncoding::ProxyStatus, &RejectionSpec::default());
    assert_eq!(
        rejection.header(PROXY_STATUS),
        Some(
            r#"ri-1.ipx.example; error=http_request_denied; details="suggested-status=504 suggested-cause=TARGET_PLMN_NOT_REACHABLE""#
        )
    );
    // An FQDN that is not an sf-token is sent as an sf-string; the last member is read.
    let r = encode_rejection(
        SuggestionEncoding::ProxyStatus,
        "1ri.ipx.example",
        &RejectionSpec::default(),
        RefusalReason::TargetUnreachable,
        B,
        at_ms(0),
        &key(),
    );
    let value = r.header(PROXY_STATUS).unwrap();
    assert!(
        value.starts_with(r#""1ri.ipx.example"; error=destination_unavailable; "#),
        "{value}"
    );
    let mut chained = r.clone();
    chained.headers = vec![(
        PROXY_STATUS.into(),
        format!(r#"ri-far.example; error=connection_timeout; details="suggested-status=502", {value}"#),
    )];
    let s = decode_rejection(SuggestionEncoding::ProxyStatus, &chained, None);
    assert_eq!(
        (s.status, s.cause.as_deref()),
        (Some(504), Some(TARGET_PLMN_NOT_REACHABLE))
    );
}

#[test]
fn rejection_sizes_per_encoding() {
    let spec = RejectionSpec::default();
    let sizes = SuggestionEncoding::ALL.map(|enc| (enc, decode_rejection(enc, &encode(enc, &spec), None).bytes));
    for (enc, bytes) in sizes {
        println!("{enc:?}: {bytes} B");
    }
    let size = |e: SuggestionEncoding| sizes.iter().find(|(x, _)| *x == e).unwrap().1;
    use SuggestionEncoding::*;
    assert!(size(FlatFields) < size(ProblemDetailsMsgForwarding));
    assert!(size(ProxyStatus) < size(ProtectedHeader));
    assert!(
        SuggestionEncoding::ALL
            .iter()
            .all(|e| size(*e) <= size(ProtectedHeader))
    );
    // The signature alone is 86 base64url characters.
    assert!(size(ProtectedHeader) - size(FlatFields) > 86);
}

#[test]
fn bodies_use_exact_openapi_member_names() {
    let spec = RejectionSpec::default();
    let value = |enc| -> Value { serde_json::from_str(&encode(enc, &spec).body).unwrap() };
    let keys = |v: &Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };

    // ProblemDetailsMsgForwarding: round trip through the common type, member for member.
    let v = value(SuggestionEncoding::ProblemDetailsMsgForwarding);
    assert_eq!(
        keys(&v),
        [
            "status",
            "detail",
            "cause",
            "suggestedStatusCode",
            "suggestedProblemDetails"
        ]
    );
    assert_eq!(keys(&v["suggestedProblemDetails"]), ["status", "cause"]);
    let typed: ProblemDetailsMsgForwarding = serde_json::from_value(v.clone()).unwrap();
    assert_eq!(serde_json::to_value(&typed).unwrap(), v);
    assert_eq!(typed.problem.cause.as_deref(), Some("NO_ROAMING_CONTRACT"));

    // Plain ProblemDetails for ProtectedHeader and ProxyStatus.
    for enc in [SuggestionEncoding::ProtectedHeader, SuggestionEncoding::ProxyStatus] {
        let rejection = encode(enc, &spec);
        assert_eq!(rejection.schema, "ProblemDetails");
        let v: Value = serde_json::from_str(&rejection.body).unwrap();
        assert_eq!(keys(&v), ["status", "detail", "cause"]);
        let typed: ProblemDetails = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(serde_json::to_value(&typed).unwrap(), v);
        assert_eq!(typed.status, Some(403));
    }

    // FlatFields: parses as ProblemDetails (the schema is open) but the two secsim members do
    // not survive the typed round trip: they are not TS 29.571 members.
    let v = value(SuggestionEncoding::FlatFields);
    assert_eq!(
        keys(&v),
        ["status", "detail", "cause", "suggestedStatus", "suggestedCause"]
    );
    let typed: ProblemDetails = serde_json::from_value(v.clone()).unwrap();
    let back = serde_json::to_value(&typed).unwrap();
    assert_eq!(keys(&back), ["status", "detail", "cause"]);
}

// ---------------------------------------------------------------------------------------------
// c-SEPP mapping
// ---------------------------------------------------------------------------------------------

/// How the c-SEPP holds the RI's key.
#[derive(Clone, Copy, Debug)]
enum KeyCase {
    Right,
    Missing,
    Wrong,
}

#[test]
fn cnf_sees_suggestion_exactly_when_policy_says() {
    // A suggestion distinct from every default, so whose answer the cNF got is unambiguous.
    let spec = RejectionSpec {
        suggested_status: Some(503),
        suggested_cause: Some("RI_SUGGESTED".into()),
        ..RejectionSpec::default()
    };
    let right = *key().verifying_key();
    let wrong = *key_from_rng(&mut stream(9, "not-the-ri")).verifying_key();
    let mappings = [
        CseppMapping::UseSuggestion,
        CseppMapping::OwnAnswer {
            status: 502,
            cause: "OWN".into(),
        },
        CseppMapping::UseSuggestionIfVerified,
    ];
    let mut rows = 0;
    for mapping in &mappings {
        for enc in SuggestionEncoding::ALL {
            for key_case in [KeyCase::Right, KeyCase::Missing, KeyCase::Wrong] {
                let keys = match key_case {
                    KeyCase::Right => Some(&right),
                    KeyCase::Missing => None,
                    KeyCase::Wrong => Some(&wrong),
                };
                let suggestion = decode_rejection(enc, &encode(enc, &spec), keys);
                let verified = enc == SuggestionEncoding::ProtectedHeader && matches!(key_case, KeyCase::Right);
                assert_eq!(suggestion.verified, verified, "{enc:?} {key_case:?}");
                let relay = match mapping {
                    CseppMapping::UseSuggestion => true,
                    CseppMapping::OwnAnswer { .. } => false,
                    CseppMapping::UseSuggestionIfVerified => verified,
                };
                let (status, problem) = answer_to_cnf(mapping, &suggestion);
                let expected = match (relay, mapping) {
                    (true, _) => (503, "RI_SUGGESTED"),
                    (false, CseppMapping::OwnAnswer { .. }) => (502, "OWN"),
                    (false, _) => (OWN_STATUS, OWN_CAUSE),
                };
                let context = format!("{mapping:?} {enc:?} {key_case:?}");
                assert_eq!(
                    (status, problem.cause.as_deref()),
                    (expected.0, Some(expected.1)),
                    "{context}"
                );
                assert_eq!(problem.status, Some(status), "{context}");
                assert_eq!(mapping.relays(&suggestion), relay, "{context}");
                rows += 1;
            }
        }
    }
    assert_eq!(rows, 3 * 4 * 3);
}

#[test]
fn answer_to_cnf_fills_defaults_and_ignores_non_errors() {
    let s = |status, cause: Option<&str>| Suggestion {
        status,
        cause: cause.map(str::to_owned),
        verified: true,
        bytes: 0,
    };
    let m = CseppMapping::UseSuggestion;
    assert_eq!(answer_to_cnf(&m, &Suggestion::none()).0, OWN_STATUS);
    let (status, p) = answer_to_cnf(&m, &s(Some(503), None));
    assert_eq!((status, p.cause.as_deref()), (503, Some(OWN_CAUSE)));
    let (status, p) = answer_to_cnf(&m, &s(None, Some("X")));
    assert_eq!((status, p.cause.as_deref()), (OWN_STATUS, Some("X")));
    let (status, _) = answer_to_cnf(&m, &s(Some(200), Some("X")));
    assert_eq!(status, OWN_STATUS, "a 2xx suggestion is never relayed");
    let (status, _) = answer_to_cnf(&CseppMapping::UseSuggestionIfVerified, &s(Some(429), None));
    assert_eq!(status, 429);
}

#[test]
fn csepp_mapping_ron() {
    let m: CseppMapping = ron::from_str("OwnAnswer(cause: \"X\")").unwrap();
    assert_eq!(
        m,
        CseppMapping::OwnAnswer {
            status: 504,
            cause: "X".into()
        }
    );
    assert_eq!(
        ron::from_str::<CseppMapping>("OwnAnswer()").unwrap(),
        CseppMapping::own_default()
    );
    assert_eq!(
        ron::from_str::<CseppMapping>("UseSuggestionIfVerified").unwrap(),
        CseppMapping::UseSuggestionIfVerified
    );
    assert_eq!(CseppMapping::default(), CseppMapping::UseSuggestion);
    assert_eq!(
        ron::from_str::<DirectTlsReaction>("OutOfBand").unwrap(),
        DirectTlsReaction::OutOfBand
    );
}

#[test]
fn ri_end_to_end_rejection_reaches_cnf() {
    let policy = RiPolicy {
        contracts: vec![Contract {
            from_plmn: A.into(),
            to_plmn: B.into(),
        }],
        rejection: RejectionSpec {
            encoding: SuggestionEncoding::ProtectedHeader,
            ..RejectionSpec::default()
        },
        ..RiPolicy::default()
    };
    let mut ri = ri(policy);
    let vk = ri.verifying_key();
    ri.handle_connect(at_ms(2_000), FlowId(1), A, C).unwrap();
    let Some(Effect::Reject { rejection, reason, .. }) = ri.poll_effect() else {
        panic!("expected a rejection");
    };
    assert_eq!(reason, RefusalReason::NoContract);
    let suggestion = decode_rejection(SuggestionEncoding::ProtectedHeader, &rejection, Some(&vk));
    assert!(suggestion.verified);
    let (status, problem) = answer_to_cnf(&CseppMapping::UseSuggestionIfVerified, &suggestion);
    assert_eq!(
        (status, problem.cause.as_deref()),
        (504, Some(TARGET_PLMN_NOT_REACHABLE))
    );
}
