//! The N32 plane's node machines: one sans-IO [`Machine`] per node kind, each owning all its
//! protocol state and decisions, driven by the world's thin router (`world::n32`).
//!
//! ```text
//!  cNF ──SBI req──► cSEPP ══ N32-c (TLS, via RI CONNECT or direct) ══► pSEPP
//!                     │   exchange-capability [, exchange-params]        │
//!                     │                                                  │
//!                     ├─ TLS:   N32-f TLS connection (N32-c closed) ────►│──► pNF
//!                     └─ PRINS: N32fReformattedReqMsg ─► cRI ─► pRI ────►│──► pNF
//!                                (JWE + RI JWS)        modify+sign       │ unprotect
//! ```
//!
//! - [`cnf::Cnf`]: the consumer NF's workload (requests, their deadlines and records).
//! - [`sepp::Sepp`]: a SEPP in both roles: the c-SEPP's initiator per peer and its N32-f send
//!   contexts, the p-SEPP's responder and its N32-f receive contexts.
//! - [`pnf::Pnf`]: the producer NF (answers after its processing time).
//! - [`crate::proto::roaming::node::RiNode`]: a Roaming Intermediary.
//!
//! # Audit trail
//!
//! When the audit is on, each machine emits what it did as an
//! [`N32Audit`](crate::audit::n32::N32Audit) ([`crate::check::n32`] lists them), and every cNF
//! request is a liveness procedure `n32_request`. A PRINS message keeps its number (the
//! message id the c-SEPP wrote) along its hops ([`PrinsRoute`]), so that the facts of the
//! sender, the fault injector and the receiver name the same message even when a fault
//! rewrites its metadata.

pub mod cnf;
pub mod pnf;
pub mod sepp;

use std::sync::Arc;

use crate::engine::SimTime;
use crate::metrics::Record;
use crate::net::{HttpResponse, NodeId};
use crate::proto::common::ProblemDetails;
use crate::proto::effect::{Corr, Effect, Inbound, Input, Machine};
use crate::proto::roaming::node::RiNode;

/// The SBI operation the workload exercises: AUSF UE authentication (carries a SUPI, an
/// UEID the protection policy encrypts).
pub const SBI_PATH: &str = "/nausf-auth/v1/ue-authentications";
/// The N32-f PRINS forwarding resource.
pub const N32F_PATH: &str = "/n32f-forward/v1/n32f-process";
/// The N32-c resources' common prefix.
pub const N32C_PREFIX: &str = "/n32c-handshake/v1/";
/// The audit trail's kind for a cNF request (liveness).
pub const PROC_KIND: &str = "n32_request";

/// The timers of the N32 machines.
#[derive(Clone, Copy, Debug, Eq, Ord, PartialEq, PartialOrd)]
pub enum Timer {
    /// The next request of workload flow `f` is due at its cNF.
    Arrival(u32),
    /// A cNF request's deadline.
    Timeout(Corr),
    /// The pNF finished processing the request `at`.
    Processed(Inbound),
    /// The operator's scripted termination of every PRINS context (the world hands it to
    /// every SEPP).
    Terminate,
    /// A timer of the c-SEPP's initiator machine for `peer`.
    Initiator {
        /// The p-SEPP.
        peer: NodeId,
        /// The initiator's timer.
        timer: crate::proto::n32::sepp::Timer,
    },
}

/// The workload flow a cNF request belongs to, carried with the request as simulation
/// metadata (its typed value, not on the wire): it stands in for the target of the request
/// (`3gpp-Sbi-Target-apiRoot`, which the model does not put on the wire), from which the
/// c-SEPP picks the p-SEPP and the route.
#[derive(Clone, Copy, Debug)]
pub struct SbiTarget(pub u32);

/// The route of a PRINS message, carried with it as simulation metadata (its typed value,
/// not on the wire): the hops still ahead (RIs, then the p-SEPP), as the c-SEPP chose them
/// (standing in for the IPX's routing), and the message's number for the audit trail.
#[derive(Clone, Debug)]
pub struct PrinsRoute {
    /// The next hops; the last is the p-SEPP.
    pub hops: Vec<NodeId>,
    /// The message id the c-SEPP wrote (kept when a fault rewrites the metadata).
    pub number: u64,
}

/// Plane-wide numbering, lent by the world to a machine for one input: audit procedure keys
/// and PRINS message ids are unique across nodes (the audit trail names them alone, and the
/// fault schedule counts the run's messages). A modelling convenience: a real SEPP numbers
/// its own messages.
#[derive(Clone, Copy, Debug, Default)]
pub struct Numbering {
    /// cNF requests begun so far.
    pub procs: u64,
    /// PRINS messages sent so far.
    pub messages: u64,
}

/// The address book every N32 machine is built with: each node's name by address (the
/// names peers present in their certificates, and that records and audit facts use).
pub type Names = Arc<Vec<String>>;

/// A `ProblemDetails` answer.
pub(crate) fn problem(status: u16, problem: ProblemDetails) -> HttpResponse {
    HttpResponse::new(status, "ProblemDetails", problem.to_json())
}

/// An unfinished procedure's censoring record (issue 12).
pub(crate) fn unfinished(procedure: &'static str, names: (&str, &str, &str), start: SimTime, now: SimTime) -> Record {
    Record {
        procedure,
        flow: String::new(),
        variant: String::new(),
        result: String::new(),
        cause: String::new(),
        initiator: names.0.to_string(),
        responder: names.1.to_string(),
        via: names.2.to_string(),
        start_ns: start.as_nanos(),
        end_ns: now.as_nanos(),
        outcome: crate::metrics::Outcome::Unfinished,
        status: 0,
        new_connection: false,
        bytes: 0,
        round_trips: 0,
        overhead_bytes: 0,
    }
}

/// One N32 node's machine.
#[allow(clippy::large_enum_variant)]
pub enum N32Node {
    /// A consumer NF.
    Cnf(cnf::Cnf),
    /// A SEPP.
    Sepp(Box<sepp::Sepp>),
    /// A producer NF.
    Pnf(pnf::Pnf),
    /// A Roaming Intermediary.
    Ri(RiNode),
}

impl N32Node {
    /// Lends the plane-wide numbering for one input.
    pub fn lend(&mut self, n: Numbering) {
        match self {
            N32Node::Cnf(m) => m.numbering = n,
            N32Node::Sepp(m) => m.numbering = n,
            _ => {}
        }
    }

    /// The numbering back after the input.
    pub fn numbering(&self, n: Numbering) -> Numbering {
        match self {
            N32Node::Cnf(m) => m.numbering,
            N32Node::Sepp(m) => m.numbering,
            _ => n,
        }
    }

    /// The censoring record of request `corr` if it is an unfinished procedure.
    pub fn unfinished(&self, corr: Corr, now: SimTime) -> Option<Record> {
        match self {
            N32Node::Cnf(m) => m.unfinished(corr, now),
            N32Node::Sepp(m) => m.unfinished(corr, now),
            _ => None,
        }
    }
}

impl Machine for N32Node {
    type Timer = Timer;

    fn handle(&mut self, now: SimTime, input: Input<Timer>) {
        match self {
            N32Node::Cnf(m) => m.handle(now, input),
            N32Node::Sepp(m) => m.handle(now, input),
            N32Node::Pnf(m) => m.handle(now, input),
            N32Node::Ri(m) => m.handle(now, input),
        }
    }

    fn poll_effect(&mut self) -> Option<Effect<Timer>> {
        match self {
            N32Node::Cnf(m) => m.poll_effect(),
            N32Node::Sepp(m) => m.poll_effect(),
            N32Node::Pnf(m) => m.poll_effect(),
            N32Node::Ri(m) => m.poll_effect(),
        }
    }

    fn set_audit(&mut self, on: bool) {
        match self {
            N32Node::Cnf(m) => m.set_audit(on),
            N32Node::Sepp(m) => m.set_audit(on),
            N32Node::Pnf(m) => m.set_audit(on),
            N32Node::Ri(m) => m.set_audit(on),
        }
    }
}
