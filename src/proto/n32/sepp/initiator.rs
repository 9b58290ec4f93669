//! The initiating SEPP (one machine per peer PLMN): capability negotiation, parameter
//! exchange, N32-f context termination and error reporting as the client of N32-c.

use super::*;

/// Initiating SEPP state (one machine per peer PLMN).
#[derive(Clone, Copy, Debug, Eq, Ord, PartialEq, PartialOrd)]
pub enum State {
    /// No N32-c procedure and no agreed mechanism.
    Idle,
    /// `exchange-capability` sent (TS 29.573 5.2.2).
    CapabilityNegotiation,
    /// `exchange-params` sent, one step at a time (TS 29.573 5.2.3).
    ParameterExchange,
    /// TLS agreed: N32-f on its own TLS connection (TS 33.501 13.5).
    EstablishedTls,
    /// PRINS agreed and the N32-f context established (TS 33.501 13.2).
    EstablishedPrins,
    /// `n32f-terminate` (PRINS) or `exchange-capability [NONE]` (TLS) sent.
    Terminating,
    /// Negotiation or exchange failed; re-run on `Start` or a capability change.
    Failed,
}

impl State {
    /// All states with the spec's description.
    pub const ALL: [(State, &'static str); 7] = [
        (State::Idle, "no agreed mechanism"),
        (State::CapabilityNegotiation, "exchange-capability sent (29.573 5.2.2)"),
        (State::ParameterExchange, "exchange-params sent (29.573 5.2.3)"),
        (State::EstablishedTls, "TLS selected, N32-c closed (33.501 13.5)"),
        (State::EstablishedPrins, "N32-f context established (33.501 13.2.2.4)"),
        (State::Terminating, "n32f-terminate or exchange-capability [NONE] sent"),
        (State::Failed, "negotiation failed (29.573 5.2.2 step 2b)"),
    ];

    /// The name.
    pub fn name(self) -> &'static str {
        match self {
            State::Idle => "Idle",
            State::CapabilityNegotiation => "CapabilityNegotiation",
            State::ParameterExchange => "ParameterExchange",
            State::EstablishedTls => "EstablishedTls",
            State::EstablishedPrins => "EstablishedPrins",
            State::Terminating => "Terminating",
            State::Failed => "Failed",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An [`Input`] as the table sees it.
#[derive(Clone, Copy, Debug, Eq, Ord, PartialEq, PartialOrd)]
pub enum Event {
    /// [`Input::Start`].
    Start,
    /// [`Input::CapabilitiesChanged`].
    CapabilitiesChanged,
    /// 200 `exchange-capability` selecting TLS (or another non-PRINS mechanism).
    SelectedTls,
    /// 200 `exchange-capability` selecting PRINS.
    SelectedPrins,
    /// 200 `exchange-capability` selecting NONE.
    SelectedNone,
    /// 200 `exchange-params`, more steps to go.
    ParamsAccepted,
    /// 200 `exchange-params` of the last step.
    ParamsComplete,
    /// 4xx/5xx, or a 200 the initiator refuses.
    Rejected,
    /// [`Input::Timeout`] with a request outstanding.
    Timeout,
    /// [`Input::TerminateRequested`].
    TerminateRequested,
    /// Any answer to the termination request.
    TerminateAnswered,
    /// [`Input::ContextExpired`].
    ContextExpired,
    /// [`Input::PeerTerminated`].
    PeerTerminated,
}

/// The initiator's transition table.
pub const INITIATOR_TRANSITIONS: &[Transition<State, Event>] = {
    use Event as E;
    use State as S;
    const fn t(from: State, event: Event, to: State, clause: &'static str) -> Transition<State, Event> {
        Transition {
            from,
            event,
            to,
            clause,
        }
    }
    &[
        t(S::Idle, E::Start, S::CapabilityNegotiation, "TS 29.573 5.2.2 step 1"),
        t(
            S::CapabilityNegotiation,
            E::SelectedTls,
            S::EstablishedTls,
            "TS 29.573 5.2.2 step 2a; TS 33.501 13.5",
        ),
        t(
            S::CapabilityNegotiation,
            E::SelectedPrins,
            S::ParameterExchange,
            "TS 29.573 5.2.2 step 2a, 5.2.3",
        ),
        t(
            S::CapabilityNegotiation,
            E::SelectedNone,
            S::Idle,
            "secsim: NONE = no mechanism (open5gs)",
        ),
        t(
            S::CapabilityNegotiation,
            E::Rejected,
            S::Failed,
            "TS 29.573 5.2.2 step 2b",
        ),
        t(S::CapabilityNegotiation, E::Timeout, S::Failed, "secsim: no answer"),
        t(
            S::CapabilityNegotiation,
            E::CapabilitiesChanged,
            S::CapabilityNegotiation,
            "TS 33.501 13.2.2.2 re-run",
        ),
        t(
            S::CapabilityNegotiation,
            E::TerminateRequested,
            S::Idle,
            "secsim: abandon",
        ),
        t(
            S::ParameterExchange,
            E::ParamsAccepted,
            S::ParameterExchange,
            "TS 29.573 5.2.3 next exchange-params",
        ),
        t(
            S::ParameterExchange,
            E::ParamsComplete,
            S::EstablishedPrins,
            "TS 29.573 5.2.3; TS 33.501 13.2.4.4.1",
        ),
        t(S::ParameterExchange, E::Rejected, S::Failed, "TS 29.573 5.2.3 step 2b"),
        t(S::ParameterExchange, E::Timeout, S::Failed, "secsim: no answer"),
        t(
            S::ParameterExchange,
            E::CapabilitiesChanged,
            S::CapabilityNegotiation,
            "TS 33.501 13.2.2.2 re-run",
        ),
        t(
            S::ParameterExchange,
            E::TerminateRequested,
            S::Idle,
            "TS 29.573 5.2.4 (fire-and-forget)",
        ),
        t(S::ParameterExchange, E::PeerTerminated, S::Idle, "TS 29.573 5.2.4"),
        t(
            S::EstablishedTls,
            E::CapabilitiesChanged,
            S::CapabilityNegotiation,
            "TS 33.501 13.2.2.2 re-run",
        ),
        t(
            S::EstablishedTls,
            E::TerminateRequested,
            S::Terminating,
            "secsim: exchange-capability [NONE]",
        ),
        t(S::EstablishedTls, E::PeerTerminated, S::Idle, "secsim: peer sent NONE"),
        t(
            S::EstablishedPrins,
            E::CapabilitiesChanged,
            S::CapabilityNegotiation,
            "TS 33.501 13.2.2.2 re-run",
        ),
        t(
            S::EstablishedPrins,
            E::TerminateRequested,
            S::Terminating,
            "TS 29.573 5.2.4 step 1",
        ),
        t(
            S::EstablishedPrins,
            E::ContextExpired,
            S::ParameterExchange,
            "TS 33.501 13.2.2.4 new context ID",
        ),
        t(S::EstablishedPrins, E::PeerTerminated, S::Idle, "TS 29.573 5.2.4"),
        t(S::Terminating, E::TerminateAnswered, S::Idle, "TS 29.573 5.2.4 step 2"),
        t(S::Terminating, E::Timeout, S::Idle, "secsim: no answer"),
        t(
            S::Failed,
            E::Start,
            S::CapabilityNegotiation,
            "TS 33.501 13.2.2.2 no agreed mechanism",
        ),
        t(
            S::Failed,
            E::CapabilitiesChanged,
            S::CapabilityNegotiation,
            "TS 33.501 13.2.2.2 re-run",
        ),
    ]
};

/// An input of the [`Initiator`].
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// Negotiate (on demand, e.g. first NF message towards the peer PLMN).
    Start,
    /// The answer to a request: status and JSON body (`Null` for none).
    Response {
        /// The operation answered.
        op: Op,
        /// HTTP status.
        status: u16,
        /// JSON body.
        body: serde_json::Value,
    },
    /// The [`Timer::Response`] fired.
    Timeout,
    /// End the pairing (operator or actor decision).
    TerminateRequested,
    /// The SEPP's capabilities changed (new list, priority order): re-negotiate (33.501 13.2.2.2).
    CapabilitiesChanged(Vec<SecurityCapability>),
    /// The [`Timer::ContextExpiry`] fired.
    ContextExpired,
    /// The peer terminated our context or tore the pairing down (from [`ResponderEvent`]s).
    PeerTerminated,
}

/// An effect of the [`Initiator`].
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// Send a request on N32-c (opening the connection if needed).
    Send(N32cRequest),
    /// Start or restart a timer.
    SetTimer {
        /// Which.
        timer: Timer,
        /// When it fires.
        at: SimTime,
    },
    /// Stop a timer.
    CancelTimer {
        /// Which.
        timer: Timer,
    },
    /// Close the N32-c connection.
    CloseN32c,
    /// A mechanism is agreed; for PRINS with its context (derive keys with
    /// [`params::derive_keys`]).
    Established {
        /// TLS or PRINS (or an unknown non-PRINS value).
        capability: SecurityCapability,
        /// The PRINS context.
        context: Option<NegotiatedContext>,
    },
    /// A PRINS context is no longer used (drop its keys).
    ContextReleased {
        /// The context.
        context: NegotiatedContext,
    },
    /// Negotiation or exchange failed (`status: None`: timeout).
    Failed {
        /// HTTP status of the failing answer.
        status: Option<u16>,
        /// Its ProblemDetails, or one describing the refused answer.
        problem: Option<ProblemDetails>,
    },
    /// The peer selected NONE: no mechanism, pairing torn down.
    TornDown,
}

/// Configuration of an [`Initiator`].
///
/// Defaults (via [`InitiatorConfig::new`]): capabilities `[PRINS, TLS]`, separate exchange
/// steps, close N32-c on TLS, response timeout 5 s, no expected peer policy.
#[derive(Clone, Debug, PartialEq)]
pub struct InitiatorConfig {
    /// Own capabilities, priority order.
    pub capabilities: Vec<SecurityCapability>,
    /// Own exchange parameters (including the SEPP FQDN as `sender`).
    pub params: LocalParams,
    /// The policy configured for this peer (compared, 33.501 13.2.2.3).
    pub expected_peer_policy: Option<ProtectionPolicy>,
    /// Separate or combined `exchange-params`.
    pub mode: ExchangeMode,
    /// N32-c after TLS selection.
    pub tls_close: TlsCloseBehaviour,
    /// Wait for an answer.
    pub response_timeout: SimDuration,
}

impl InitiatorConfig {
    /// Defaults around own parameters.
    pub fn new(params: LocalParams) -> Self {
        InitiatorConfig {
            capabilities: vec![SecurityCapability::Prins, SecurityCapability::Tls],
            params,
            expected_peer_policy: None,
            mode: ExchangeMode::Separate,
            tls_close: TlsCloseBehaviour::CloseImmediately,
            response_timeout: SimDuration::from_secs(5),
        }
    }
}

/// What classification extracted from an input.
enum Payload {
    Nothing,
    Selected(SecurityCapability, Fqdn),
    Applied(Applied),
    Problem(Option<u16>, Option<ProblemDetails>),
}

/// The initiating SEPP's N32-c machine towards one peer.
#[derive(Clone, Debug)]
pub struct Initiator {
    pub(super) cfg: InitiatorConfig,
    state: State,
    step: Option<ParamStep>,
    pending: Option<Op>,
    offered: Vec<SecurityCapability>,
    peer: Option<Fqdn>,
    capability: Option<SecurityCapability>,
    local_id: Option<N32fContextId>,
    context: Option<NegotiatedContext>,
    outputs: VecDeque<Output>,
}

impl Initiator {
    /// A machine in `Idle`.
    pub fn new(cfg: InitiatorConfig) -> Self {
        Initiator {
            cfg,
            state: State::Idle,
            step: None,
            pending: None,
            offered: Vec::new(),
            peer: None,
            capability: None,
            local_id: None,
            context: None,
            outputs: VecDeque::new(),
        }
    }

    /// The state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The parameter-exchange step in flight (in `ParameterExchange`).
    pub fn step(&self) -> Option<ParamStep> {
        self.step
    }

    /// The agreed capability (in `Established*`).
    pub fn capability(&self) -> Option<&SecurityCapability> {
        self.capability.as_ref()
    }

    /// The PRINS context (complete in `EstablishedPrins`).
    pub fn context(&self) -> Option<&NegotiatedContext> {
        self.context.as_ref()
    }

    /// The configuration.
    pub fn config(&self) -> &InitiatorConfig {
        &self.cfg
    }

    /// The next effect, in emission order.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// All queued effects.
    pub fn drain_outputs(&mut self) -> Vec<Output> {
        self.outputs.drain(..).collect()
    }

    fn classify(&mut self, now: SimTime, input: Input) -> Option<(Event, Payload)> {
        use Payload::*;
        Some(match input {
            Input::Start => (Event::Start, Nothing),
            Input::TerminateRequested => (Event::TerminateRequested, Nothing),
            Input::ContextExpired => (Event::ContextExpired, Nothing),
            Input::PeerTerminated => (Event::PeerTerminated, Nothing),
            Input::CapabilitiesChanged(caps) => {
                self.cfg.capabilities = caps;
                (Event::CapabilitiesChanged, Nothing)
            }
            Input::Timeout => {
                self.pending?;
                (Event::Timeout, Problem(None, None))
            }
            Input::Response { op, status, body } => {
                if self.pending != Some(op) {
                    return None; // stale, or the answer to a fire-and-forget request
                }
                if self.state == State::Terminating {
                    return Some((Event::TerminateAnswered, Nothing));
                }
                let refused = |detail: String| {
                    let mut p = ProblemDetails::with_cause(status, "REFUSED_BY_INITIATOR");
                    p.detail = Some(detail);
                    (Event::Rejected, Problem(Some(status), Some(p)))
                };
                if status != 200 {
                    let problem = serde_json::from_value::<ProblemDetails>(body).ok();
                    return Some((Event::Rejected, Problem(Some(status), problem)));
                }
                match op {
                    Op::ExchangeCapability => match serde_json::from_value::<SecNegotiateRspData>(body) {
                        Err(e) => refused(e.to_string()),
                        Ok(rsp) => match capneg::check_response(&self.offered, &rsp) {
                            Err(e) => refused(e.to_string()),
                            Ok(cap) => {
                                let ev = match cap {
                                    SecurityCapability::Prins => Event::SelectedPrins,
                                    SecurityCapability::None => Event::SelectedNone,
                                    _ => Event::SelectedTls,
                                };
                                (ev, Selected(cap, rsp.sender))
                            }
                        },
                    },
                    Op::ExchangeParams => {
                        let rsp = match serde_json::from_value::<SecParamExchRspData>(body) {
                            Ok(r) => r,
                            Err(e) => return Some(refused(e.to_string())),
                        };
                        // pending == ExchangeParams only in ParameterExchange, where step and local_id are set.
                        let step = self.step.expect("step set in ParameterExchange");
                        let local_id = self.local_id.clone().expect("local id set in ParameterExchange");
                        let applied = params::apply_response(
                            self.context.clone(),
                            &local_id,
                            step,
                            &rsp,
                            &self.cfg.params,
                            self.cfg.expected_peer_policy.as_ref(),
                            self.peer.as_deref().unwrap_or_default(),
                            now,
                        );
                        match applied {
                            Err(e) => refused(e.to_string()),
                            Ok(a) if step.next().is_some() => (Event::ParamsAccepted, Applied(a)),
                            Ok(a) => (Event::ParamsComplete, Applied(a)),
                        }
                    }
                    Op::Terminate | Op::ReportError => return None,
                }
            }
        })
    }

    /// Feeds one input.
    pub fn handle<R: RngCore + ?Sized>(&mut self, now: SimTime, rng: &mut R, input: Input) {
        let Some((event, payload)) = self.classify(now, input) else {
            return;
        };
        let Some(to) = lookup(INITIATOR_TRANSITIONS, self.state, event) else {
            return; // not in the table: ignored
        };
        use Event as E;
        use State as S;
        let next = match (self.state, event) {
            //= TS 29.573 5.2.2 step 1; TS 33.501 13.2.2.2 (re-run when no mechanism or capabilities change)
            (S::Idle | S::Failed, E::Start) | (S::Failed | S::CapabilityNegotiation, E::CapabilitiesChanged) => {
                self.cancel_pending();
                self.send_capability(now);
                S::CapabilityNegotiation
            }
            //= TS 29.573 5.2.2 step 2a: any capability other than PRINS terminates the N32-c connection
            (S::CapabilityNegotiation, E::SelectedTls) => {
                self.cancel_pending();
                let Payload::Selected(cap, peer) = payload else {
                    unreachable!("classified")
                };
                self.peer = Some(peer);
                self.capability = Some(cap.clone());
                if self.cfg.tls_close == TlsCloseBehaviour::CloseImmediately {
                    //= TS 33.501 13.5 (seed 001): close N32-c at once
                    self.outputs.push_back(Output::CloseN32c);
                }
                self.outputs.push_back(Output::Established {
                    capability: cap,
                    context: None,
                });
                S::EstablishedTls
            }
            //= TS 29.573 5.2.2 step 2a: PRINS keeps N32-c for the parameter exchange (5.2.3)
            (S::CapabilityNegotiation, E::SelectedPrins) => {
                self.cancel_pending();
                let Payload::Selected(cap, peer) = payload else {
                    unreachable!("classified")
                };
                self.peer = Some(peer);
                self.capability = Some(cap);
                self.start_exchange(now, rng);
                S::ParameterExchange
            }
            // secsim: NONE = no mechanism; tear the pairing down (open5gs, DIGEST 1 [?])
            (S::CapabilityNegotiation, E::SelectedNone) => {
                self.cancel_pending();
                self.capability = None;
                self.outputs.push_back(Output::CloseN32c);
                self.outputs.push_back(Output::TornDown);
                S::Idle
            }
            //= TS 29.573 5.2.2 step 2b, 5.2.3 step 2b: 4xx/5xx
            (S::CapabilityNegotiation | S::ParameterExchange, E::Rejected | E::Timeout) => {
                self.cancel_pending();
                self.abandon_context(true);
                self.capability = None;
                let Payload::Problem(status, problem) = payload else {
                    unreachable!("classified")
                };
                self.outputs.push_back(Output::Failed { status, problem });
                S::Failed
            }
            (S::CapabilityNegotiation, E::TerminateRequested) => {
                self.cancel_pending();
                S::Idle
            }
            //= TS 29.573 5.2.3: separate exchange-params POSTs, one step after the other
            (S::ParameterExchange, E::ParamsAccepted) => {
                self.cancel_pending();
                let Payload::Applied(a) = payload else {
                    unreachable!("classified")
                };
                self.take_applied(a);
                let step = self
                    .step
                    .and_then(ParamStep::next)
                    .expect("ParamsAccepted has a next step");
                self.send_step(step, now);
                S::ParameterExchange
            }
            //= TS 33.501 13.2.4.4.1: the exchange done, both sides export the master and derive keys
            (S::ParameterExchange, E::ParamsComplete) => {
                self.cancel_pending();
                let Payload::Applied(a) = payload else {
                    unreachable!("classified")
                };
                self.take_applied(a);
                self.step = None;
                let ctx = self.context.clone().expect("applied");
                self.outputs.push_back(Output::SetTimer {
                    timer: Timer::ContextExpiry,
                    at: ctx.expires_at,
                });
                self.outputs.push_back(Output::Established {
                    capability: SecurityCapability::Prins,
                    context: Some(ctx),
                });
                S::EstablishedPrins
            }
            (S::ParameterExchange, E::TerminateRequested) => {
                self.cancel_pending();
                self.abandon_context(true);
                S::Idle
            }
            //= TS 33.501 13.2.2.2: re-run whenever capabilities change
            (S::ParameterExchange | S::EstablishedTls | S::EstablishedPrins, E::CapabilitiesChanged) => {
                self.cancel_pending();
                self.abandon_context(true);
                self.capability = None;
                self.send_capability(now);
                S::CapabilityNegotiation
            }
            (S::ParameterExchange | S::EstablishedPrins | S::EstablishedTls, E::PeerTerminated) => {
                self.cancel_pending();
                self.abandon_context(false);
                self.capability = None;
                S::Idle
            }
            // secsim: end a TLS pairing with exchange-capability [NONE] (open5gs style)
            (S::EstablishedTls, E::TerminateRequested) => {
                let req = capneg::build_request(&self.cfg.params.sender, &[SecurityCapability::None]);
                self.offered = vec![SecurityCapability::None];
                self.send_pending(N32cRequest::ExchangeCapability(req), now);
                self.capability = None;
                S::Terminating
            }
            //= TS 29.573 5.2.4 step 1: n32f-terminate names the peer's context ID
            (S::EstablishedPrins, E::TerminateRequested) => {
                let ctx = self.take_context().expect("context in EstablishedPrins");
                self.send_pending(N32cRequest::Terminate(term::build_request(&ctx)), now);
                self.outputs.push_back(Output::ContextReleased { context: ctx });
                self.capability = None;
                S::Terminating
            }
            //= TS 33.501 13.2.2.4: a new context needs a new context ID; re-run the exchange
            (S::EstablishedPrins, E::ContextExpired) => {
                self.abandon_context(true);
                self.start_exchange(now, rng);
                S::ParameterExchange
            }
            //= TS 29.573 5.2.4 step 2
            (S::Terminating, E::TerminateAnswered | E::Timeout) => {
                if self.pending.take() == Some(Op::ExchangeCapability) {
                    self.outputs.push_back(Output::CloseN32c);
                }
                if event == E::TerminateAnswered {
                    self.outputs.push_back(Output::CancelTimer { timer: Timer::Response });
                }
                S::Idle
            }
            (s, e) => unreachable!("{s} x {e:?} is in INITIATOR_TRANSITIONS without an arm"),
        };
        debug_assert_eq!(
            next, to,
            "arm and INITIATOR_TRANSITIONS disagree on {} x {event:?}",
            self.state
        );
        self.state = next;
    }

    fn send_pending(&mut self, req: N32cRequest, now: SimTime) {
        self.pending = Some(req.op());
        self.outputs.push_back(Output::Send(req));
        self.outputs.push_back(Output::SetTimer {
            timer: Timer::Response,
            at: now.saturating_add(self.cfg.response_timeout),
        });
    }

    /// Forgets the outstanding request; cancels its timer unless it fired.
    fn cancel_pending(&mut self) {
        if self.pending.take().is_some() {
            self.outputs.push_back(Output::CancelTimer { timer: Timer::Response });
        }
    }

    fn send_capability(&mut self, now: SimTime) {
        self.offered = self.cfg.capabilities.clone();
        let req = capneg::build_request(&self.cfg.params.sender, &self.offered);
        self.send_pending(N32cRequest::ExchangeCapability(req), now);
    }

    fn start_exchange<R: RngCore + ?Sized>(&mut self, now: SimTime, rng: &mut R) {
        //= TS 33.501 13.2.2.4: each SEPP picks the context ID the peer uses towards it
        self.local_id = Some(new_context_id(rng));
        self.context = None;
        self.send_step(ParamStep::first(self.cfg.mode), now);
    }

    fn send_step(&mut self, step: ParamStep, now: SimTime) {
        self.step = Some(step);
        let id = self.local_id.as_ref().expect("local id set before a step");
        let req = params::build_request(id, &self.cfg.params, step);
        self.send_pending(N32cRequest::ExchangeParams(req), now);
    }

    fn take_applied(&mut self, a: Applied) {
        self.context = Some(a.context);
        if let Some(report) = a.report {
            //= TS 33.501 13.2.2.3: per operator policy, report POLICY_MISMATCH on n32f-error
            self.outputs.push_back(Output::Send(N32cRequest::ReportError(report)));
        }
    }

    fn take_context(&mut self) -> Option<NegotiatedContext> {
        if self.state == State::EstablishedPrins {
            self.outputs.push_back(Output::CancelTimer {
                timer: Timer::ContextExpiry,
            });
        }
        self.step = None;
        self.context.take()
    }

    /// Drops the context (if any): released, and `n32f-terminate` sent fire-and-forget when
    /// the peer may still hold it.
    fn abandon_context(&mut self, tell_peer: bool) {
        if let Some(ctx) = self.take_context() {
            if tell_peer {
                self.outputs
                    .push_back(Output::Send(N32cRequest::Terminate(term::build_request(&ctx))));
            }
            self.outputs.push_back(Output::ContextReleased { context: ctx });
        }
    }
}
