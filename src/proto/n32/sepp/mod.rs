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

use crate::audit::mutant::Mutants;
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

    /// The JSON body as a string (what [`N32cRequest::to_value`] prints, without building it).
    pub fn to_json(&self) -> String {
        match self {
            N32cRequest::ExchangeCapability(b) => serde_json::to_string(b),
            N32cRequest::ExchangeParams(b) => serde_json::to_string(b),
            N32cRequest::Terminate(b) => serde_json::to_string(b),
            N32cRequest::ReportError(b) => serde_json::to_string(b),
        }
        .expect("n32-c bodies serialize")
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

impl TlsCloseBehaviour {
    /// Every alternative, in declaration order (the random cases draw from it).
    pub const ALL: [TlsCloseBehaviour; 2] = [TlsCloseBehaviour::CloseImmediately, TlsCloseBehaviour::KeepIdle];
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

mod initiator;
mod responder;
#[cfg(test)]
mod tests;

pub use initiator::*;
pub use responder::*;
