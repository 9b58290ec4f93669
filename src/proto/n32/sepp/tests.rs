use super::*;
use crate::crypto::n32f::{KdfContextId, N32Master};
use crate::proto::n32::capability_negotiation::Preference;
use crate::proto::n32::parameter_exchange::{MismatchAction, tests::policy};
use crate::proto::n32::types::N32fErrorType;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;

const A: &str = "sepp.a.example.org";
const B: &str = "sepp.b.example.org";

fn icfg() -> InitiatorConfig {
    InitiatorConfig::new(LocalParams::new(A, policy(1)))
}

fn rcfg() -> ResponderConfig {
    ResponderConfig::new(LocalParams::new(B, policy(2)))
}

fn caps(v: &[SecurityCapability]) -> LocalCapPolicy {
    LocalCapPolicy {
        supported: v.to_vec(),
        prefer: Preference::ResponderOrder,
    }
}

/// An initiator wired to a responder; requests are delivered by hand or until quiet.
struct Pair {
    i: Initiator,
    r: Responder,
    rng: ChaCha8Rng,
    now: SimTime,
    pending: Option<N32cRequest>,
    responder_events: Vec<ResponderEvent>,
}

impl Pair {
    fn new(i: InitiatorConfig, r: ResponderConfig, seed: u64) -> Self {
        Pair {
            i: Initiator::new(i),
            r: Responder::new(r),
            rng: ChaCha8Rng::seed_from_u64(seed),
            now: SimTime::from_nanos(1_000),
            pending: None,
            responder_events: Vec::new(),
        }
    }

    /// Feeds an input; fire-and-forget requests go to the responder at once, the awaited one
    /// (followed by SetTimer Response) is kept for `answer`.
    fn feed(&mut self, input: Input) -> Vec<Output> {
        self.i.handle(self.now, &mut self.rng, input);
        let outs = self.i.drain_outputs();
        for (k, o) in outs.iter().enumerate() {
            if let Output::Send(req) = o {
                let awaited = matches!(
                    outs.get(k + 1),
                    Some(Output::SetTimer {
                        timer: Timer::Response,
                        ..
                    })
                );
                if awaited {
                    self.pending = Some(req.clone());
                } else {
                    let reply = self.r.handle_request(self.now, &mut self.rng, A, req);
                    self.responder_events.extend(reply.events);
                }
            }
        }
        outs
    }

    /// Delivers the awaited request; returns the answer as an input.
    fn answer(&mut self) -> Input {
        let req = self.pending.take().expect("a request is awaited");
        let reply = self
            .r
            .handle_raw(self.now, &mut self.rng, A, req.path(), &req.to_json());
        self.responder_events.extend(reply.events);
        let body = reply
            .body
            .map_or(serde_json::Value::Null, |b| serde_json::from_str(&b).unwrap());
        Input::Response {
            op: req.op(),
            status: reply.status,
            body,
        }
    }

    /// Feeds an input and answers until nothing is awaited.
    fn settle(&mut self, input: Input) -> Vec<Output> {
        let mut all = self.feed(input);
        for _ in 0..16 {
            if self.pending.is_none() {
                return all;
            }
            let rsp = self.answer();
            all.extend(self.feed(rsp));
        }
        panic!("no quiescence");
    }
}

fn has(outs: &[Output], f: impl Fn(&Output) -> bool) -> bool {
    outs.iter().any(f)
}

fn cap_answer(cap: &str) -> Input {
    Input::Response {
        op: Op::ExchangeCapability,
        status: 200,
        body: json!({"sender": B, "selectedSecCapability": cap}),
    }
}

// --- every table row -------------------------------------------------------------------

fn pair_for(row: &Transition<State, Event>) -> Pair {
    let mut i = icfg();
    let mut r = rcfg();
    if row.event == Event::ParamsComplete {
        i.mode = ExchangeMode::Combined;
    }
    match row.from {
        State::EstablishedTls => r.capability = caps(&[SecurityCapability::Tls]),
        State::Failed => r.capability = caps(&[SecurityCapability::Other("X".into())]),
        _ => {}
    }
    let mut p = Pair::new(i, r, 7);
    match row.from {
        State::Idle => {}
        State::CapabilityNegotiation => {
            p.feed(Input::Start);
        }
        State::ParameterExchange => {
            p.feed(Input::Start);
            let rsp = p.answer();
            p.feed(rsp);
        }
        State::EstablishedTls | State::EstablishedPrins | State::Failed => {
            p.settle(Input::Start);
        }
        State::Terminating => {
            p.settle(Input::Start);
            p.feed(Input::TerminateRequested);
        }
    }
    assert_eq!(p.i.state(), row.from, "reaching {}", row.from);
    p
}

fn event_input(p: &mut Pair, ev: Event) -> Input {
    let rejected = |op| Input::Response {
        op,
        status: 403,
        body: serde_json::to_value(ProblemDetails::with_cause(403, "X")).unwrap(),
    };
    match ev {
        Event::Start => Input::Start,
        Event::CapabilitiesChanged => Input::CapabilitiesChanged(vec![SecurityCapability::Tls]),
        Event::SelectedTls => cap_answer("TLS"),
        Event::SelectedPrins => cap_answer("PRINS"),
        Event::SelectedNone => cap_answer("NONE"),
        Event::ParamsAccepted | Event::ParamsComplete | Event::TerminateAnswered => p.answer(),
        Event::Rejected => rejected(p.pending.as_ref().unwrap().op()),
        Event::Timeout => Input::Timeout,
        Event::TerminateRequested => Input::TerminateRequested,
        Event::ContextExpired => Input::ContextExpired,
        Event::PeerTerminated => Input::PeerTerminated,
    }
}

#[test]
fn initiator_every_row() {
    for row in INITIATOR_TRANSITIONS {
        let mut p = pair_for(row);
        let input = event_input(&mut p, row.event);
        p.feed(input);
        assert_eq!(p.i.state(), row.to, "{} x {:?}", row.from, row.event);
    }
    // table pairs are unique
    for (k, a) in INITIATOR_TRANSITIONS.iter().enumerate() {
        for b in &INITIATOR_TRANSITIONS[k + 1..] {
            assert!(
                !(a.from == b.from && a.event == b.event),
                "{} x {:?} twice",
                a.from,
                a.event
            );
        }
    }
}

#[test]
fn responder_every_row() {
    use ResponderInput as I;
    let ctx_req = |r: &Responder| {
        let id = r
            .contexts()
            .keys()
            .next()
            .cloned()
            .unwrap_or(N32fContextId::from_u64(1));
        N32fContextInfo { n32f_context_id: id }
    };
    for row in RESPONDER_TRANSITIONS {
        let mut rc = rcfg();
        rc.params.validity = SimDuration::from_secs(1);
        let mut p = Pair::new(icfg(), rc, 3);
        // reach the state
        match row.from {
            PeerState::Idle => {}
            PeerState::EstablishedTls => {
                p.r.cfg.capability = caps(&[SecurityCapability::Tls]);
                p.settle(Input::Start);
                p.r.cfg.capability = LocalCapPolicy::default();
            }
            PeerState::EstablishedPrins => {
                p.settle(Input::Start);
            }
        }
        assert_eq!(p.r.peer_state(A), row.from);
        let now = p.now;
        let rng = &mut p.rng;
        let reply = match row.event {
            I::CapabilityTls => {
                p.r.cfg.capability = caps(&[SecurityCapability::Tls]);
                let req = capneg::build_request(A, &[SecurityCapability::Tls]);
                p.r.handle_request(now, rng, A, &N32cRequest::ExchangeCapability(req))
            }
            I::CapabilityPrins | I::CapabilityNone | I::CapabilityRejected => {
                let c = match row.event {
                    I::CapabilityPrins => SecurityCapability::Prins,
                    I::CapabilityNone => SecurityCapability::None,
                    _ => SecurityCapability::Other("X".into()),
                };
                let req = capneg::build_request(A, &[c]);
                p.r.handle_request(now, rng, A, &N32cRequest::ExchangeCapability(req))
            }
            I::ParamsAccepted | I::ParamsRejected => {
                let mut req =
                    params::build_request(&N32fContextId::from_u64(5), &p.i.cfg.params, ParamStep::CipherSuites);
                if row.event == I::ParamsRejected {
                    req.jwe_cipher_suite_list = Some(vec!["A512GCM".into()]);
                }
                p.r.handle_request(now, rng, A, &N32cRequest::ExchangeParams(req))
            }
            I::Terminated => {
                // a context of this peer, adopted if the state has none of its own
                if p.r.contexts().is_empty() {
                    let mut c = params::respond(
                        None,
                        &params::build_request(&N32fContextId::from_u64(8), &p.i.cfg.params, ParamStep::All),
                        &rcfg().params,
                        None,
                        A,
                        N32fContextId::from_u64(9),
                        now,
                    )
                    .unwrap()
                    .context;
                    c.role = crate::crypto::n32f::N32Role::Initiator;
                    p.r.adopt(c);
                }
                let req = ctx_req(&p.r);
                p.r.handle_request(now, rng, A, &N32cRequest::Terminate(req))
            }
            I::ErrorReported => {
                let info = N32fErrorInfo::new("1", N32fErrorType::DecipheringFailed);
                p.r.handle_request(now, rng, A, &N32cRequest::ReportError(info))
            }
            I::ContextUnknown => {
                let req = N32fContextInfo {
                    n32f_context_id: N32fContextId::from_u64(u64::MAX),
                };
                p.r.handle_request(now, rng, A, &N32cRequest::Terminate(req))
            }
            I::Expired => {
                if p.r.own().next().is_none() {
                    let req = params::build_request(&N32fContextId::from_u64(8), &p.i.cfg.params, ParamStep::All);
                    let acc =
                        params::respond(None, &req, &p.r.cfg.params, None, A, N32fContextId::from_u64(9), now).unwrap();
                    p.r.adopt(acc.context);
                }
                let at = p.r.poll_timeout().unwrap();
                let events = p.r.expire(at);
                assert!(matches!(
                    events[0],
                    ResponderEvent::ContextTerminated {
                        reason: TerminationReason::Expired,
                        ..
                    }
                ));
                Reply {
                    status: 0,
                    body: None,
                    schema: None,
                    events,
                }
            }
        };
        assert_eq!(p.r.peer_state(A), row.to, "{} x {:?}: {reply:?}", row.from, row.event);
    }
}

// --- snapshots -------------------------------------------------------------------------

#[test]
fn initiator_table_snapshot() {
    let text = render_table("n32_sepp_initiator", &State::ALL, INITIATOR_TRANSITIONS);
    crate::proto::snapshot::check("n32_sepp_initiator.txt", &text);
}

#[test]
fn responder_table_snapshot() {
    let text = render_table("n32_sepp_responder", &PeerState::ALL, RESPONDER_TRANSITIONS);
    crate::proto::snapshot::check("n32_sepp_responder.txt", &text);
}

// --- procedures --------------------------------------------------------------------------

#[test]
fn capability_negotiation_tls_closes_n32c() {
    for (behaviour, closes) in [
        (TlsCloseBehaviour::CloseImmediately, true),
        (TlsCloseBehaviour::KeepIdle, false),
    ] {
        let mut i = icfg();
        i.tls_close = behaviour;
        let mut r = rcfg();
        r.capability = caps(&[SecurityCapability::Tls, SecurityCapability::Prins]);
        r.tls_close = behaviour;
        let mut p = Pair::new(i, r, 1);
        let outs = p.settle(Input::Start);
        assert_eq!(p.i.state(), State::EstablishedTls);
        assert_eq!(has(&outs, |o| *o == Output::CloseN32c), closes);
        assert!(has(&outs, |o| matches!(o, Output::Established { context: None, .. })));
        let r_close = p
            .responder_events
            .iter()
            .any(|e| matches!(e, ResponderEvent::CloseN32c { .. }));
        assert_eq!(r_close, closes);
        assert_eq!(p.r.peer_state(A), PeerState::EstablishedTls);
        // TLS teardown: exchange-capability [NONE], then close
        let outs = p.settle(Input::TerminateRequested);
        assert_eq!(p.i.state(), State::Idle);
        assert!(has(&outs, |o| *o == Output::CloseN32c));
        assert_eq!(p.r.peer_state(A), PeerState::Idle);
    }
}

#[test]
fn parameter_exchange_gives_equal_contexts_and_keys() {
    for seed in 0..50u64 {
        for mode in [ExchangeMode::Separate, ExchangeMode::Combined] {
            let mut i = icfg();
            i.mode = mode;
            let mut p = Pair::new(i, rcfg(), seed);
            let outs = p.settle(Input::Start);
            assert_eq!(p.i.state(), State::EstablishedPrins, "seed {seed}");
            let ci = p.i.context().unwrap().clone();
            assert!(has(
                &outs,
                |o| matches!(o, Output::Established { context: Some(c), .. } if *c == ci)
            ));
            assert!(has(&outs, |o| matches!(
                o,
                Output::SetTimer {
                    timer: Timer::ContextExpiry,
                    ..
                }
            )));
            assert_eq!(p.r.contexts().len(), 1);
            let cr = p.r.contexts().values().next().unwrap().clone();
            assert_eq!((&ci.local_id, &ci.peer_id), (&cr.peer_id, &cr.local_id));
            assert_eq!(Some(&ci.policy), cr.peer_policy.as_ref());
            assert_eq!(Some(&cr.policy), ci.peer_policy.as_ref());
            assert_eq!((ci.jwe, &ci.jws), (cr.jwe, &cr.jws));
            let master = N32Master::from_bytes([seed as u8; 64]);
            assert_eq!(
                params::derive_keys(&master, &ci, KdfContextId::Receiver, Mutants::NONE),
                params::derive_keys(&master, &cr, KdfContextId::Receiver, Mutants::NONE)
            );
        }
    }
}

#[test]
fn policy_mismatch_reports_only_with_send_error() {
    for action in [MismatchAction::SendError, MismatchAction::LogOnly] {
        let mut i = icfg();
        i.expected_peer_policy = Some(policy(99));
        i.params.on_mismatch = action;
        let mut r = rcfg();
        r.expected_policies.insert(A.into(), policy(98));
        r.params.on_mismatch = action;
        let mut p = Pair::new(i, r, 2);
        let outs = p.settle(Input::Start);
        assert_eq!(p.i.state(), State::EstablishedPrins, "a mismatch does not abort");
        let sent = outs.iter().find_map(|o| match o {
            Output::Send(N32cRequest::ReportError(e)) => Some(e.clone()),
            _ => None,
        });
        let r_sent = p.responder_events.iter().find_map(|e| match e {
            ResponderEvent::Send {
                request: N32cRequest::ReportError(e),
                ..
            } => Some(e.clone()),
            _ => None,
        });
        match action {
            MismatchAction::SendError => {
                let e = sent.expect("initiator reports");
                assert_eq!(e.n32f_error_type, N32fErrorType::PolicyMismatch);
                assert_eq!(e.n32f_context_id.as_ref(), Some(&p.i.context().unwrap().local_id));
                assert!(
                    e.policy_mismatch_list.unwrap()[0]
                        .param
                        .starts_with("/selProtectionPolicyInfo")
                );
                // the responder recorded the initiator's report
                assert_eq!(p.r.errors().len(), 1);
                let e = r_sent.expect("responder reports");
                assert!(
                    e.policy_mismatch_list.unwrap()[0]
                        .param
                        .starts_with("/protectionPolicyInfo")
                );
            }
            MismatchAction::LogOnly => {
                assert!(sent.is_none() && r_sent.is_none());
                assert!(p.r.errors().is_empty());
            }
        }
    }
}

#[test]
fn termination_removes_context_then_404() {
    let mut p = Pair::new(icfg(), rcfg(), 4);
    p.settle(Input::Start);
    let ctx = p.i.context().unwrap().clone();
    let outs = p.settle(Input::TerminateRequested);
    assert_eq!(p.i.state(), State::Idle);
    assert!(has(
        &outs,
        |o| matches!(o, Output::ContextReleased { context } if *context == ctx)
    ));
    assert!(has(&outs, |o| matches!(
        o,
        Output::CancelTimer {
            timer: Timer::ContextExpiry
        }
    )));
    assert!(p.r.contexts().is_empty());
    let again = N32cRequest::Terminate(term::build_request(&ctx));
    let reply = p.r.handle_request(p.now, &mut p.rng, A, &again);
    assert_eq!(reply.status, 404);
    let pd: ProblemDetails = serde_json::from_str(reply.body.as_deref().unwrap()).unwrap();
    assert_eq!(pd.cause.as_deref(), Some("CONTEXT_NOT_FOUND"));
}

#[test]
fn renegotiation_and_expiry_replace_the_context() {
    let mut p = Pair::new(icfg(), rcfg(), 5);
    p.settle(Input::Start);
    let first = p.i.context().unwrap().clone();
    p.settle(Input::ContextExpired);
    assert_eq!(p.i.state(), State::EstablishedPrins);
    let second = p.i.context().unwrap().clone();
    assert_ne!(first.local_id, second.local_id);
    assert_eq!(p.r.contexts().len(), 1, "old context terminated at the peer");
    p.settle(Input::CapabilitiesChanged(vec![SecurityCapability::Tls]));
    assert_eq!(p.i.state(), State::EstablishedTls);
    assert!(p.r.contexts().is_empty());
}

#[test]
fn failure_and_timeout() {
    let mut r = rcfg();
    r.capability = caps(&[SecurityCapability::Tls]);
    let mut i = icfg();
    i.capabilities = vec![SecurityCapability::Prins];
    let mut p = Pair::new(i, r, 6);
    let outs = p.settle(Input::Start);
    assert_eq!(p.i.state(), State::Failed);
    let failed = outs.iter().find_map(|o| match o {
        Output::Failed { status, problem } => Some((*status, problem.clone())),
        _ => None,
    });
    let (status, problem) = failed.unwrap();
    assert_eq!(status, Some(403));
    assert_eq!(
        problem.unwrap().cause.as_deref(),
        Some(capneg::CAUSE_CAPABILITY_MISMATCH)
    );
    // timeout from Failed → Start → no answer
    p.feed(Input::Start);
    let outs = p.feed(Input::Timeout);
    assert_eq!(p.i.state(), State::Failed);
    assert!(has(&outs, |o| *o
        == Output::Failed {
            status: None,
            problem: None
        }));
    // a stale answer is ignored
    let outs = p.feed(cap_answer("TLS"));
    assert!(outs.is_empty());
    assert_eq!(p.i.state(), State::Failed);
}

#[test]
fn requests_round_trip_with_openapi_names() {
    let ctx_id = N32fContextId::from_u64(0xABC);
    let reqs = [
        N32cRequest::ExchangeCapability(capneg::build_request(A, &[SecurityCapability::Prins])),
        N32cRequest::ExchangeParams(params::build_request(&ctx_id, &icfg().params, ParamStep::All)),
        N32cRequest::Terminate(N32fContextInfo {
            n32f_context_id: ctx_id.clone(),
        }),
        N32cRequest::ReportError(error_reporting::policy_mismatch(&ctx_id, vec![])),
    ];
    let keys = [
        "supportedSecCapabilityList",
        "jweCipherSuiteList",
        "n32fContextId",
        "n32fErrorType",
    ];
    for (req, key) in reqs.iter().zip(keys) {
        let json = req.to_json();
        assert!(json.contains(key), "{json}");
        assert_eq!(N32cRequest::parse(req.path(), &json).unwrap(), *req);
        assert_eq!(req.schema(), req.op().request_schema());
    }
    assert_eq!(reqs[0].path(), "/n32c-handshake/v1/exchange-capability");
    let mut r = Responder::new(rcfg());
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let reply = r.handle_raw(SimTime::ZERO, &mut rng, A, "/n32c-handshake/v1/nope", "{}");
    assert_eq!(reply.status, 404);
    let reply = r.handle_raw(
        SimTime::ZERO,
        &mut rng,
        A,
        Op::ExchangeParams.path(),
        "{\"n32fContextId\":\"xyz\"}",
    );
    assert_eq!((reply.status, reply.schema), (400, Some("ProblemDetails")));
    let reply = r.handle_raw(
        SimTime::ZERO,
        &mut rng,
        A,
        Op::ExchangeCapability.path(),
        &reqs[0].to_json(),
    );
    let rsp: SecNegotiateRspData = serde_json::from_str(reply.body.as_deref().unwrap()).unwrap();
    assert_eq!(
        (reply.status, rsp.selected_sec_capability),
        (200, SecurityCapability::Prins)
    );
}

#[test]
fn same_seed_same_outputs() {
    let run = |seed| {
        let mut p = Pair::new(icfg(), rcfg(), seed);
        format!("{:?}{:?}", p.settle(Input::Start), p.responder_events)
    };
    assert_eq!(run(11), run(11));
    assert_ne!(run(11), run(12));
}
