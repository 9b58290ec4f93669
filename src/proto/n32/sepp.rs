//! The SEPP's N32-c machines (TS 29.573 clause 5.2; TS 33.501 clauses 13.2 and 13.5), sans-IO,
//! built from [`capability_negotiation`](super::capability_negotiation),
//! [`parameter_exchange`](super::parameter_exchange), [`context_termination`](super::context_termination) and
//! [`error_reporting`].
//!
//! ```text
//!  Initiator (one per peer PLMN)                      Responder (one per SEPP)
//!   Idle ──Start──► CapabilityNegotiation ── POST /exchange-capability ──► select_capability
//!                     │  TLS ◄───────────────────────── 200 TLS      (CloseN32c, 33.501 13.5)
//!                     │  PRINS ◄─────────────────────── 200 PRINS
//!                     ▼
//!                   ParameterExchange ── POST /exchange-params (a)(b)(c) ──► contexts[R]
//!                     │  ◄──────────────────────────── 200 (R, suites, policy, RI keys)
//!                     ▼
//!   EstablishedTls | EstablishedPrins ── POST /n32f-terminate {R} ──► delete R
//!                     │                ── POST /n32f-error ─────────► record, 204
//!                     ▼
//!                   Terminating ──200/404/timeout──► Idle
//! ```
//!
//! # Driving the machines
//!
//! [`Initiator::handle`] takes `(now, rng, Input)`; its effects are queued as [`Output`]s and
//! drained in order with [`Initiator::poll_output`]: `Send`s and timer commands come in the
//! order the spec performs them, then `Established` / `Failed` / `ContextReleased`. The
//! machine never reads a clock or an RNG except through its inputs; timers are commands
//! ([`Output::SetTimer`]) and come back as [`Input::Timeout`] (response timer) or
//! [`Input::ContextExpired`] (validity timer).
//!
//! [`Responder::handle_request`] answers one request with a [`Reply`] (status, JSON body, schema
//! name, [`ResponderEvent`]s). `peer` is the FQDN authenticated by the N32-c TLS connection.
//!
//! # Transition tables
//!
//! Each machine's state × event table is declared once ([`INITIATOR_TRANSITIONS`],
//! [`RESPONDER_TRANSITIONS`]); the code looks a pair up there first (pairs not in the table are
//! ignored: stale responses, timers or requests), then runs the `match` arm, whose next state
//! must equal the table's (debug assertion, and a test that drives every row). The tables are
//! snapshot-tested as text and Graphviz dot in `tests/snapshots/n32_sepp_*.txt`.
//!
//! # secsim's decisions
//!
//! - Responses are matched to the one outstanding request by [`Op`]; an answer to another
//!   operation (e.g. the 204 of a fire-and-forget `n32f-error`) is ignored.
//! - A policy mismatch with `SendError` is sent as `Output::Send(N32cRequest::ReportError(..))`
//!   without waiting; the exchange goes on.
//! - Leaving a PRINS context (re-negotiation, expiry, abort) sends `n32f-terminate` for it
//!   fire-and-forget; [`Input::TerminateRequested`] waits for the answer in `Terminating`.
//! - Ending a TLS pairing sends `exchange-capability` with only `NONE` (open5gs style), then
//!   closes N32-c.
//! - On TLS both sides emit `CloseN32c` with [`TlsCloseBehaviour::CloseImmediately`] (33.501
//!   13.5; seed 001); the transport closes once. `KeepIdle` leaves the connection to its idle
//!   timeout.
//! - [`Output::Failed`] has `status: None` for a timeout.
//! - The Responder stores every context of the SEPP: its own (role Responder) and those the
//!   Initiator established ([`Responder::adopt`]), so that the peer's `n32f-terminate` and
//!   `n32f-error` find either. It expires only its own; the actor feeds
//!   [`Input::PeerTerminated`] to the Initiator when an adopted one is terminated.

// ProblemDetails is the wire error of the handshake API (224 octets); rejections are the cold path.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, VecDeque};
use std::fmt;

use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::engine::time::{SimDuration, SimTime};
use crate::proto::common::{Fqdn, ProblemDetails};
use crate::proto::n32::capability_negotiation::{self as capneg, LocalCapPolicy};
use crate::proto::n32::context_termination as term;
use crate::proto::n32::error_reporting;
use crate::proto::n32::parameter_exchange::{
    self as params, Applied, ExchangeMode, LocalParams, NegotiatedContext, ParamStep, new_context_id,
};
use crate::proto::n32::types::{
    N32fContextId, N32fContextInfo, N32fErrorInfo, ProtectionPolicy, SecNegotiateReqData, SecNegotiateRspData,
    SecParamExchReqData, SecParamExchRspData, SecurityCapability,
};

// ---------------------------------------------------------------------------------------------
// Operations and requests
// ---------------------------------------------------------------------------------------------

/// The four N32-c operations (TS 29.573 clause 6.1.3).
#[derive(Clone, Copy, Debug, Eq, Ord, PartialEq, PartialOrd)]
pub enum Op {
    /// `POST /exchange-capability`.
    ExchangeCapability,
    /// `POST /exchange-params`.
    ExchangeParams,
    /// `POST /n32f-terminate`.
    Terminate,
    /// `POST /n32f-error`.
    ReportError,
}

impl Op {
    /// All operations.
    pub const ALL: [Op; 4] = [
        Op::ExchangeCapability,
        Op::ExchangeParams,
        Op::Terminate,
        Op::ReportError,
    ];

    /// The request path under the API root.
    pub fn path(self) -> &'static str {
        match self {
            Op::ExchangeCapability => "/n32c-handshake/v1/exchange-capability",
            Op::ExchangeParams => "/n32c-handshake/v1/exchange-params",
            Op::Terminate => "/n32c-handshake/v1/n32f-terminate",
            Op::ReportError => "/n32c-handshake/v1/n32f-error",
        }
    }

    /// The OpenAPI schema of the request body.
    pub fn request_schema(self) -> &'static str {
        match self {
            Op::ExchangeCapability => "SecNegotiateReqData",
            Op::ExchangeParams => "SecParamExchReqData",
            Op::Terminate => "N32fContextInfo",
            Op::ReportError => "N32fErrorInfo",
        }
    }

    /// The OpenAPI schema of the success body (`None`: 204).
    pub fn response_schema(self) -> Option<&'static str> {
        match self {
            Op::ExchangeCapability => Some("SecNegotiateRspData"),
            Op::ExchangeParams => Some("SecParamExchRspData"),
            Op::Terminate => Some("N32fContextInfo"),
            Op::ReportError => None,
        }
    }

    /// The success status.
    pub fn success_status(self) -> u16 {
        match self {
            Op::ReportError => 204,
            _ => 200,
        }
    }
}

/// An N32-c request body, typed.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum N32cRequest {
    /// Capability negotiation (5.2.2).
    ExchangeCapability(SecNegotiateReqData),
    /// Parameter exchange (5.2.3).
    ExchangeParams(SecParamExchReqData),
    /// Context termination (5.2.4).
    Terminate(N32fContextInfo),
    /// Error reporting (5.2.5).
    ReportError(N32fErrorInfo),
}

/// Cause of a 400 for an unparsable body (TS 29.500).
pub const CAUSE_INVALID_MSG_FORMAT: &str = "INVALID_MSG_FORMAT";

/// Cause of a 404 for an unknown resource path (TS 29.500).
pub const CAUSE_RESOURCE_URI_STRUCTURE_NOT_FOUND: &str = "RESOURCE_URI_STRUCTURE_NOT_FOUND";

/// Cause of a 403 for `exchange-params` without PRINS agreed (secsim's string).
pub const CAUSE_PRINS_NOT_NEGOTIATED: &str = "PRINS_NOT_NEGOTIATED";

impl N32cRequest {
    /// The operation.
    pub fn op(&self) -> Op {
        match self {
            N32cRequest::ExchangeCapability(_) => Op::ExchangeCapability,
            N32cRequest::ExchangeParams(_) => Op::ExchangeParams,
            N32cRequest::Terminate(_) => Op::Terminate,
            N32cRequest::ReportError(_) => Op::ReportError,
        }
    }

    /// The request path.
    pub fn path(&self) -> &'static str {
        self.op().path()
    }

    /// The OpenAPI schema of the body.
    pub fn schema(&self) -> &'static str {
        self.op().request_schema()
    }

    /// The JSON body (OpenAPI member names).
    pub fn to_value(&self) -> serde_json::Value {
        // These types serialize to JSON objects without failure (no non-string map keys).
        match self {
            N32cRequest::ExchangeCapability(b) => serde_json::to_value(b),
            N32cRequest::ExchangeParams(b) => serde_json::to_value(b),
            N32cRequest::Terminate(b) => serde_json::to_value(b),
            N32cRequest::ReportError(b) => serde_json::to_value(b),
        }
        .expect("n32-c bodies serialize")
    }

    /// The JSON body as a string.
    pub fn to_json(&self) -> String {
        self.to_value().to_string()
    }

    /// Parses a body received on `path`; the error is the 400/404 to answer.
    pub fn parse(path: &str, body: &str) -> Result<N32cRequest, ProblemDetails> {
        fn de<T: serde::de::DeserializeOwned>(body: &str) -> Result<T, ProblemDetails> {
            serde_json::from_str(body).map_err(|e| {
                let mut p = ProblemDetails::with_cause(400, CAUSE_INVALID_MSG_FORMAT);
                p.detail = Some(e.to_string());
                p
            })
        }
        let op = Op::ALL.into_iter().find(|op| op.path() == path).ok_or_else(|| {
            let mut p = ProblemDetails::with_cause(404, CAUSE_RESOURCE_URI_STRUCTURE_NOT_FOUND);
            p.detail = Some(format!("no n32c-handshake operation at {path}"));
            p
        })?;
        Ok(match op {
            Op::ExchangeCapability => N32cRequest::ExchangeCapability(de(body)?),
            Op::ExchangeParams => N32cRequest::ExchangeParams(de(body)?),
            Op::Terminate => N32cRequest::Terminate(de(body)?),
            Op::ReportError => N32cRequest::ReportError(de(body)?),
        })
    }
}

/// What to do with the N32-c connection once TLS is selected (seed 001's implicit choice).
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, PartialEq, Serialize, schemars::JsonSchema)]
pub enum TlsCloseBehaviour {
    /// Close at once (TS 29.573 5.2.2 step 2a, TS 33.501 13.5; default).
    #[default]
    CloseImmediately,
    /// Leave it idle (closed by the transport's idle timeout).
    KeepIdle,
}

/// The timers a machine asks for.
#[derive(Clone, Copy, Debug, Eq, Ord, PartialEq, PartialOrd)]
pub enum Timer {
    /// Waiting for the answer to the outstanding request → [`Input::Timeout`].
    Response,
    /// End of the PRINS context's validity → [`Input::ContextExpired`].
    ContextExpiry,
}

// ---------------------------------------------------------------------------------------------
// Transition tables
// ---------------------------------------------------------------------------------------------

use crate::proto::machine::lookup;
pub use crate::proto::machine::{Transition, render_table};

// ---------------------------------------------------------------------------------------------
// Initiator
// ---------------------------------------------------------------------------------------------

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
    cfg: InitiatorConfig,
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

// ---------------------------------------------------------------------------------------------
// Responder
// ---------------------------------------------------------------------------------------------

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
}

impl ResponderConfig {
    /// Defaults: [`LocalCapPolicy::default`], no expected policies, close on TLS.
    pub fn new(params: LocalParams) -> Self {
        ResponderConfig {
            capability: LocalCapPolicy::default(),
            params,
            expected_policies: BTreeMap::new(),
            tls_close: TlsCloseBehaviour::CloseImmediately,
        }
    }
}

/// The responding SEPP's N32-c machine (all peers).
#[derive(Clone, Debug)]
pub struct Responder {
    cfg: ResponderConfig,
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

    fn own(&self) -> impl Iterator<Item = &NegotiatedContext> {
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
                let selected = capneg::select_capability(&body.supported_sec_capability_list, &self.cfg.capability);
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

#[cfg(test)]
mod tests {
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
                            params::respond(None, &req, &p.r.cfg.params, None, A, N32fContextId::from_u64(9), now)
                                .unwrap();
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
                    params::derive_keys(&master, &ci, KdfContextId::Receiver),
                    params::derive_keys(&master, &cr, KdfContextId::Receiver)
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
}
