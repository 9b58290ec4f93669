//! The responding SEPP (one machine per SEPP): answers N32-c requests and holds the
//! contexts its peers established.

use super::*;

/// The responding SEPP's view of one peer's pairing.
#[derive(Clone, Copy, Debug, Default, Eq, Ord, PartialEq, PartialOrd)]
pub enum PeerState {
    /// No agreed mechanism.
    #[default]
    Idle,
    /// TLS selected for this peer.
    EstablishedTls,
    /// PRINS selected; zero or more contexts.
    EstablishedPrins,
}

impl PeerState {
    /// All states with the spec's description.
    pub const ALL: [(PeerState, &'static str); 3] = [
        (PeerState::Idle, "no agreed mechanism with this peer"),
        (PeerState::EstablishedTls, "TLS selected (29.573 5.2.2 step 2a)"),
        (
            PeerState::EstablishedPrins,
            "PRINS selected; contexts via exchange-params (29.573 5.2.3)",
        ),
    ];
}

impl fmt::Display for PeerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A request (or expiry) as the responder table sees it.
#[derive(Clone, Copy, Debug, Eq, Ord, PartialEq, PartialOrd)]
pub enum ResponderInput {
    /// `exchange-capability` → TLS (or another non-PRINS mechanism).
    CapabilityTls,
    /// `exchange-capability` → PRINS.
    CapabilityPrins,
    /// `exchange-capability` with only NONE: teardown.
    CapabilityNone,
    /// `exchange-capability` → 4xx.
    CapabilityRejected,
    /// `exchange-params` → 200.
    ParamsAccepted,
    /// `exchange-params` → 4xx.
    ParamsRejected,
    /// `n32f-terminate` of a known context → 200.
    Terminated,
    /// `n32f-error` → 204.
    ErrorReported,
    /// `n32f-terminate` / `n32f-error` naming an unknown context → 404.
    ContextUnknown,
    /// A context's validity ended ([`Responder::expire`]).
    Expired,
}

/// The responder's transition table (per peer).
pub const RESPONDER_TRANSITIONS: &[Transition<PeerState, ResponderInput>] = {
    use PeerState as S;
    use ResponderInput as I;
    const fn t(
        from: PeerState,
        event: ResponderInput,
        to: PeerState,
        clause: &'static str,
    ) -> Transition<PeerState, ResponderInput> {
        Transition {
            from,
            event,
            to,
            clause,
        }
    }
    macro_rules! any_state {
        ($($s:expr),*) => {
            [$(
                t($s, I::CapabilityTls, S::EstablishedTls, "TS 29.573 5.2.2 step 2a; TS 33.501 13.5"),
                t($s, I::CapabilityPrins, S::EstablishedPrins, "TS 29.573 5.2.2 step 2a"),
                t($s, I::CapabilityNone, S::Idle, "secsim: NONE tears the pairing down (open5gs)"),
                t($s, I::CapabilityRejected, S::Idle, "TS 29.573 5.2.2 step 2b"),
                t($s, I::Terminated, $s, "TS 29.573 5.2.4"),
                t($s, I::ErrorReported, $s, "TS 29.573 5.2.5"),
                t($s, I::ContextUnknown, $s, "TS 29.573 5.2.4/5.2.5 (404)"),
                t($s, I::Expired, $s, "TS 33.501 13.2.2.4 validity"),
            )*]
        };
    }
    const COMMON: [Transition<PeerState, ResponderInput>; 24] =
        any_state!(S::Idle, S::EstablishedTls, S::EstablishedPrins);
    const ALL: [Transition<PeerState, ResponderInput>; 28] = {
        let extra = [
            t(
                S::EstablishedPrins,
                I::ParamsAccepted,
                S::EstablishedPrins,
                "TS 29.573 5.2.3 step 2a",
            ),
            t(
                S::Idle,
                I::ParamsRejected,
                S::Idle,
                "TS 29.573 5.2.3 step 2b (PRINS not selected)",
            ),
            t(
                S::EstablishedTls,
                I::ParamsRejected,
                S::EstablishedTls,
                "TS 29.573 5.2.3 step 2b (PRINS not selected)",
            ),
            t(
                S::EstablishedPrins,
                I::ParamsRejected,
                S::EstablishedPrins,
                "TS 29.573 5.2.3 step 2b",
            ),
        ];
        let mut out = [COMMON[0]; 28];
        let mut i = 0;
        while i < 24 {
            out[i] = COMMON[i];
            i += 1;
        }
        while i < 28 {
            out[i] = extra[i - 24];
            i += 1;
        }
        out
    };
    &ALL
};

/// Why a context ended.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum TerminationReason {
    /// The peer's `n32f-terminate`.
    Requested,
    /// A new `exchange-capability` from the peer voided it.
    Renegotiated,
    /// The peer tore the pairing down (NONE).
    TornDown,
    /// Its validity ended.
    Expired,
}

/// An effect of the [`Responder`].
#[derive(Clone, Debug, PartialEq)]
pub enum ResponderEvent {
    /// A capability was selected for `peer`.
    CapabilitySelected {
        /// The peer SEPP.
        peer: Fqdn,
        /// The selection.
        capability: SecurityCapability,
    },
    /// Close the N32-c connection with `peer` (after sending the answer).
    CloseN32c {
        /// The peer SEPP.
        peer: Fqdn,
    },
    /// A new PRINS context (derive keys with [`params::derive_keys`]).
    ContextEstablished {
        /// The context.
        context: NegotiatedContext,
    },
    /// A context's policy or RI info was updated by a later step.
    ContextUpdated {
        /// The context.
        context: NegotiatedContext,
    },
    /// A context is gone. If its role is Initiator (adopted), feed [`Input::PeerTerminated`] to
    /// the Initiator for that peer.
    ContextTerminated {
        /// The context.
        context: NegotiatedContext,
        /// Why.
        reason: TerminationReason,
    },
    /// An `n32f-error` was recorded.
    ErrorReported {
        /// The reporting peer SEPP.
        peer: Fqdn,
        /// The report.
        info: N32fErrorInfo,
    },
    /// The peer tore the pairing down (NONE): feed [`Input::PeerTerminated`] to the Initiator.
    TornDown {
        /// The peer SEPP.
        peer: Fqdn,
    },
    /// Send a request to `peer` (on a second N32-c connection, 29.573 5.2.3).
    Send {
        /// The peer SEPP.
        peer: Fqdn,
        /// The request.
        request: N32cRequest,
    },
}

/// The answer to one request.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// JSON body (`None` for 204).
    pub body: Option<String>,
    /// OpenAPI schema of the body (`"ProblemDetails"` for errors).
    pub schema: Option<&'static str>,
    /// Effects, in order.
    pub events: Vec<ResponderEvent>,
}

impl Reply {
    fn ok<T: Serialize>(status: u16, schema: &'static str, body: &T, events: Vec<ResponderEvent>) -> Self {
        Reply {
            status,
            body: Some(serde_json::to_string(body).expect("n32-c bodies serialize")),
            schema: Some(schema),
            events,
        }
    }

    fn problem(p: &ProblemDetails, events: Vec<ResponderEvent>) -> Self {
        Reply {
            status: p.status.unwrap_or(500),
            body: Some(serde_json::to_string(p).expect("ProblemDetails serializes")),
            schema: Some("ProblemDetails"),
            events,
        }
    }
}

/// Configuration of a [`Responder`].
#[derive(Clone, Debug, PartialEq)]
pub struct ResponderConfig {
    /// Capability policy.
    pub capability: LocalCapPolicy,
    /// Own exchange parameters (including the SEPP FQDN as `sender`).
    pub params: LocalParams,
    /// Policies configured per peer SEPP (compared, 33.501 13.2.2.3).
    pub expected_policies: BTreeMap<Fqdn, ProtectionPolicy>,
    /// N32-c after TLS selection (default close).
    pub tls_close: TlsCloseBehaviour,
    /// Its deliberate bugs (none outside the checker's tests).
    pub mutants: Mutants,
}

impl ResponderConfig {
    /// Defaults: [`LocalCapPolicy::default`], no expected policies, close on TLS, no mutants.
    pub fn new(params: LocalParams) -> Self {
        ResponderConfig {
            capability: LocalCapPolicy::default(),
            params,
            expected_policies: BTreeMap::new(),
            tls_close: TlsCloseBehaviour::CloseImmediately,
            mutants: Mutants::NONE,
        }
    }
}

/// The responding SEPP's N32-c machine (all peers).
#[derive(Clone, Debug)]
pub struct Responder {
    pub(super) cfg: ResponderConfig,
    peers: BTreeMap<Fqdn, PeerState>,
    contexts: BTreeMap<N32fContextId, NegotiatedContext>,
    errors: Vec<(SimTime, Fqdn, N32fErrorInfo)>,
}

impl Responder {
    /// A responder with no pairing.
    pub fn new(cfg: ResponderConfig) -> Self {
        Responder {
            cfg,
            peers: BTreeMap::new(),
            contexts: BTreeMap::new(),
            errors: Vec::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ResponderConfig {
        &self.cfg
    }

    /// The pairing state with `peer`.
    pub fn peer_state(&self, peer: &str) -> PeerState {
        self.peers.get(peer).copied().unwrap_or_default()
    }

    /// All contexts, by local ID.
    pub fn contexts(&self) -> &BTreeMap<N32fContextId, NegotiatedContext> {
        &self.contexts
    }

    /// Recorded `n32f-error` reports (time, peer, report).
    pub fn errors(&self) -> &[(SimTime, Fqdn, N32fErrorInfo)] {
        &self.errors
    }

    /// Stores a context the Initiator established, so the peer's requests find it.
    pub fn adopt(&mut self, ctx: NegotiatedContext) {
        self.contexts.insert(ctx.local_id.clone(), ctx);
    }

    /// Removes a context (e.g. on the Initiator's `ContextReleased`).
    pub fn remove(&mut self, local_id: &N32fContextId) -> Option<NegotiatedContext> {
        self.contexts.remove(local_id)
    }

    /// The earliest expiry of an own context.
    pub fn poll_timeout(&self) -> Option<SimTime> {
        self.own().map(|c| c.expires_at).min()
    }

    pub(super) fn own(&self) -> impl Iterator<Item = &NegotiatedContext> {
        self.contexts
            .values()
            .filter(|c| c.role == crate::crypto::n32f::N32Role::Responder)
    }

    /// Drops own contexts whose validity ended at `now`.
    pub fn expire(&mut self, now: SimTime) -> Vec<ResponderEvent> {
        let ids: Vec<_> = self
            .own()
            .filter(|c| c.expires_at <= now)
            .map(|c| c.local_id.clone())
            .collect();
        let mut events = Vec::new();
        for id in ids {
            let ctx = self.contexts.remove(&id).expect("listed above");
            self.step(&ctx.peer, ResponderInput::Expired);
            events.push(ResponderEvent::ContextTerminated {
                context: ctx,
                reason: TerminationReason::Expired,
            });
        }
        events
    }

    /// Applies a table row for `peer` (the request was classified by the caller).
    fn step(&mut self, peer: &str, input: ResponderInput) {
        let from = self.peer_state(peer);
        // Every (state, input) the responder produces is in the table (any_state! rows, and
        // exchange-params is classified ParamsRejected outside EstablishedPrins).
        let to = lookup(RESPONDER_TRANSITIONS, from, input).expect("responder input in RESPONDER_TRANSITIONS");
        self.peers.insert(peer.to_owned(), to);
    }

    /// Drops `peer`'s contexts (own only, or all), with events.
    fn drop_peer_contexts(&mut self, peer: &str, own_only: bool, reason: TerminationReason) -> Vec<ResponderEvent> {
        let ids: Vec<_> = self
            .contexts
            .values()
            .filter(|c| c.peer == peer && (!own_only || c.role == crate::crypto::n32f::N32Role::Responder))
            .map(|c| c.local_id.clone())
            .collect();
        ids.into_iter()
            .map(|id| ResponderEvent::ContextTerminated {
                context: self.contexts.remove(&id).expect("listed above"),
                reason,
            })
            .collect()
    }

    /// Parses and answers a request received on `path` from `peer`.
    pub fn handle_raw<R: RngCore + ?Sized>(
        &mut self,
        now: SimTime,
        rng: &mut R,
        peer: &str,
        path: &str,
        body: &str,
    ) -> Reply {
        match N32cRequest::parse(path, body) {
            Ok(req) => self.handle_request(now, rng, peer, &req),
            Err(p) => Reply::problem(&p, Vec::new()),
        }
    }

    /// Answers a request from `peer` (the FQDN authenticated by N32-c TLS).
    pub fn handle_request<R: RngCore + ?Sized>(
        &mut self,
        now: SimTime,
        rng: &mut R,
        peer: &str,
        req: &N32cRequest,
    ) -> Reply {
        use ResponderInput as I;
        let sender = self.cfg.params.sender.clone();
        match req {
            N32cRequest::ExchangeCapability(body) => {
                let selected = capneg::select_capability(
                    &body.supported_sec_capability_list,
                    &self.cfg.capability,
                    self.cfg.mutants,
                );
                match selected {
                    //= TS 29.573 5.2.2 step 2b
                    Err(p) => {
                        let events = self.drop_peer_contexts(peer, true, TerminationReason::Renegotiated);
                        self.step(peer, I::CapabilityRejected);
                        Reply::problem(&p, events)
                    }
                    // secsim: NONE tears the pairing down, all its contexts included
                    Ok(SecurityCapability::None) => {
                        let mut events = self.drop_peer_contexts(peer, false, TerminationReason::TornDown);
                        self.step(peer, I::CapabilityNone);
                        events.push(ResponderEvent::TornDown { peer: peer.to_owned() });
                        events.push(ResponderEvent::CloseN32c { peer: peer.to_owned() });
                        let rsp = capneg::build_response(&sender, SecurityCapability::None);
                        Reply::ok(200, "SecNegotiateRspData", &rsp, events)
                    }
                    //= TS 29.573 5.2.2 step 2a: a new negotiation voids this peer's earlier agreement
                    Ok(cap) => {
                        let mut events = self.drop_peer_contexts(peer, true, TerminationReason::Renegotiated);
                        let prins = cap == SecurityCapability::Prins;
                        self.step(peer, if prins { I::CapabilityPrins } else { I::CapabilityTls });
                        events.push(ResponderEvent::CapabilitySelected {
                            peer: peer.to_owned(),
                            capability: cap.clone(),
                        });
                        if !prins && self.cfg.tls_close == TlsCloseBehaviour::CloseImmediately {
                            //= TS 29.573 5.2.2 step 2a; TS 33.501 13.5: close N32-c
                            events.push(ResponderEvent::CloseN32c { peer: peer.to_owned() });
                        }
                        Reply::ok(
                            200,
                            "SecNegotiateRspData",
                            &capneg::build_response(&sender, cap),
                            events,
                        )
                    }
                }
            }
            N32cRequest::ExchangeParams(body) => {
                if self.peer_state(peer) != PeerState::EstablishedPrins {
                    self.step(peer, I::ParamsRejected);
                    let mut p = ProblemDetails::with_cause(403, CAUSE_PRINS_NOT_NEGOTIATED);
                    p.detail = Some("exchange-params before PRINS was selected".into());
                    return Reply::problem(&p, Vec::new());
                }
                let existing = self
                    .contexts
                    .values()
                    .find(|c| {
                        c.peer == peer
                            && c.peer_id == body.n32f_context_id
                            && c.role == crate::crypto::n32f::N32Role::Responder
                    })
                    .cloned();
                let mut fresh = new_context_id(rng);
                // 64 random bits rarely collide; draw again (bounded) if they do.
                for _ in 0..8 {
                    if !self.contexts.contains_key(&fresh) {
                        break;
                    }
                    fresh = new_context_id(rng);
                }
                let expected = self.cfg.expected_policies.get(peer);
                //= TS 29.573 5.2.3 step 2
                match params::respond(existing.as_ref(), body, &self.cfg.params, expected, peer, fresh, now) {
                    Err(p) => {
                        self.step(peer, I::ParamsRejected);
                        Reply::problem(&p, Vec::new())
                    }
                    Ok(acc) => {
                        self.step(peer, I::ParamsAccepted);
                        let mut events = Vec::new();
                        if acc.created {
                            if let Some(old) = existing {
                                // the same initiator ID again: the new context replaces the old one
                                self.contexts.remove(&old.local_id);
                            }
                            events.push(ResponderEvent::ContextEstablished {
                                context: acc.context.clone(),
                            });
                        } else {
                            events.push(ResponderEvent::ContextUpdated {
                                context: acc.context.clone(),
                            });
                        }
                        self.contexts.insert(acc.context.local_id.clone(), acc.context);
                        if let Some(report) = acc.report {
                            //= TS 33.501 13.2.2.3: report POLICY_MISMATCH (second N32-c connection)
                            events.push(ResponderEvent::Send {
                                peer: peer.to_owned(),
                                request: N32cRequest::ReportError(report),
                            });
                        }
                        Reply::ok(200, "SecParamExchRspData", &acc.response, events)
                    }
                }
            }
            //= TS 29.573 5.2.4 step 2
            N32cRequest::Terminate(body) => match term::handle_request(&mut self.contexts, peer, body) {
                Ok((rsp, ctx)) => {
                    self.step(peer, I::Terminated);
                    let ev = ResponderEvent::ContextTerminated {
                        context: ctx,
                        reason: TerminationReason::Requested,
                    };
                    Reply::ok(200, "N32fContextInfo", &rsp, vec![ev])
                }
                Err(p) => {
                    self.step(peer, I::ContextUnknown);
                    Reply::problem(&p, Vec::new())
                }
            },
            //= TS 29.573 5.2.5 step 2
            N32cRequest::ReportError(info) => {
                let known = |id: &N32fContextId| {
                    self.contexts
                        .values()
                        .any(|c| c.peer == peer && (c.local_id == *id || c.peer_id == *id))
                };
                match error_reporting::accept_report(info, known) {
                    Ok(()) => {
                        self.step(peer, I::ErrorReported);
                        self.errors.push((now, peer.to_owned(), info.clone()));
                        Reply {
                            status: 204,
                            body: None,
                            schema: None,
                            events: vec![ResponderEvent::ErrorReported {
                                peer: peer.to_owned(),
                                info: info.clone(),
                            }],
                        }
                    }
                    Err(p) => {
                        self.step(peer, I::ContextUnknown);
                        Reply::problem(&p, Vec::new())
                    }
                }
            }
        }
    }
}
