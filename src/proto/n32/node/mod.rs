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

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::crypto::n32f::Direction;
use crate::engine::SimTime;
use crate::metrics::Record;
use crate::net::conn::Intercept;
use crate::net::{HttpResponse, NodeId};
use crate::proto::common::ProblemDetails;
use crate::proto::effect::{Corr, Effect, Effects, Inbound, Input, Machine};
use crate::proto::n32::prins::{self, N32fErrorType};
use crate::proto::roaming::node::RiNode;

/// The SBI operation the workload exercises: AUSF UE authentication (carries a SUPI, an
/// UEID the protection policy encrypts).
pub const SBI_PATH: &str = crate::proto::payload::UE_AUTHENTICATIONS_PATH;
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
/// c-SEPP picks the p-SEPP and the route. With it, the JSON value the body encodes (so that
/// the c-SEPP does not parse the body again).
#[derive(Clone, Debug)]
pub struct SbiTarget(pub u32, pub Arc<serde_json::Value>);

/// The route of a PRINS message, carried with it as simulation metadata (its typed value,
/// not on the wire): the hops still ahead (RIs, then the p-SEPP), as the c-SEPP chose them
/// (standing in for the IPX's routing), and the message's number for the audit trail. With
/// them, what its body encodes and the c-SEPP's seal memo, so that no hop parses the body
/// again and the p-SEPP does not decrypt what the c-SEPP sealed ([`prins::SealMemo`]).
#[derive(Clone, Debug)]
pub struct PrinsRoute {
    /// The next hops; the last is the p-SEPP.
    pub hops: Vec<NodeId>,
    /// The message id the c-SEPP wrote (kept when a fault rewrites the metadata).
    pub number: u64,
    /// The message the body encodes (`None`: parse the body).
    pub msg: Option<Arc<prins::N32fReformattedReqMsg>>,
    /// The c-SEPP's memo of the JWE it sealed.
    pub memo: Option<Arc<prins::SealMemo>>,
}

/// A p-SEPP's protected answer, as simulation metadata (its typed value, not on the wire):
/// the message its body encodes and the p-SEPP's seal memo (as in [`PrinsRoute`]).
#[derive(Clone, Debug)]
pub struct PrinsAnswer {
    /// The message the body encodes.
    pub msg: Arc<prins::N32fReformattedRspMsg>,
    /// The p-SEPP's memo of the JWE it sealed.
    pub memo: Arc<prins::SealMemo>,
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

    fn effects(&mut self) -> &mut Effects<Timer> {
        match self {
            N32Node::Cnf(m) => m.effects(),
            N32Node::Sepp(m) => m.effects(),
            N32Node::Pnf(m) => m.effects(),
            N32Node::Ri(m) => m.effects(),
        }
    }
}

/// The N32 plane's machines by address, and what tests observe across them.
#[derive(Default)]
pub struct N32Nodes {
    /// The machines.
    pub machines: BTreeMap<NodeId, N32Node>,
    /// The plane-wide numbering, lent to each machine for one input.
    numbering: Numbering,
}

impl N32Nodes {
    /// The plane of these machines.
    pub fn new(machines: BTreeMap<NodeId, N32Node>) -> N32Nodes {
        N32Nodes {
            machines,
            numbering: Numbering::default(),
        }
    }

    /// Hands `input` to `node`'s machine at `now` (building audit facts if `audit`, the
    /// numbering lent); its effects, in the order pushed.
    pub fn handle(&mut self, node: NodeId, now: SimTime, input: Input<Timer>, audit: bool) -> Vec<Effect<Timer>> {
        let Some(m) = self.machines.get_mut(&node) else {
            return Vec::new();
        };
        m.set_audit(audit);
        m.lend(self.numbering);
        m.handle(now, input);
        self.numbering = m.numbering(self.numbering);
        m.effects().take()
    }

    fn sepps(&self) -> impl Iterator<Item = &sepp::Sepp> {
        self.machines.values().filter_map(|m| match m {
            N32Node::Sepp(s) => Some(&**s),
            _ => None,
        })
    }

    /// The SEPPs' addresses, in order.
    pub fn sepp_nodes(&self) -> Vec<NodeId> {
        let sepps = self.machines.iter().filter(|(_, m)| matches!(m, N32Node::Sepp(_)));
        sepps.map(|(&n, _)| n).collect()
    }

    /// For every established PRINS context: whether the c-SEPP's and the p-SEPP's N32-f keys
    /// are equal (both derived from the same N32-c exporter and context ids).
    pub fn key_agreement(&self) -> Vec<bool> {
        let agree = |(psepp, peer_id, local_id, keys): (NodeId, &str, &str, &crate::crypto::n32f::N32fKeys)| {
            let Some(N32Node::Sepp(p)) = self.machines.get(&psepp) else {
                return false;
            };
            p.recv_context(peer_id)
                .is_some_and(|(id, k)| id == local_id && Direction::ALL.iter().all(|&d| k.get(d) == keys.get(d)))
        };
        self.sepps().flat_map(|s| s.send_contexts().map(agree)).collect()
    }

    /// Faults injected by the c-SEPPs: (message id, the N32fErrorType the receiver must
    /// report), in message order.
    pub fn injected(&self) -> Vec<(u64, N32fErrorType)> {
        let mut v: Vec<_> = self.sepps().flat_map(|s| s.injected.iter().copied()).collect();
        v.sort_by_key(|x| x.0);
        v
    }

    /// Faults the p-SEPPs detected: (message id, reported type), from their n32f-error.
    pub fn detected(&self) -> Vec<(u64, N32fErrorType)> {
        self.sepps().flat_map(|s| s.detected.iter().copied()).collect()
    }

    /// The client of request `at` at SEPP `server` reset its stream (gave up on it).
    pub fn stream_reset(&mut self, server: NodeId, at: Inbound) {
        if let Some(N32Node::Sepp(s)) = self.machines.get_mut(&server) {
            s.stream_reset(at);
        }
    }

    /// A direct connection attempt from `csepp` to `psepp` crosses the nodes `hops`: every
    /// RI among them decides in turn whether it carries it; the first that will not and its
    /// reaction (`(0, None)`: let through).
    pub fn direct_attempt(
        &mut self,
        now: SimTime,
        hops: &[NodeId],
        (csepp, psepp): (NodeId, NodeId),
    ) -> (NodeId, Option<Intercept>) {
        for &n in hops {
            if let Some(N32Node::Ri(ri)) = self.machines.get_mut(&n)
                && let Some(a) = ri.direct_attempt(now, csepp, psepp)
            {
                return (n, Some(a));
            }
        }
        (0, None)
    }

    /// Censoring (issue 12): the handshakes in progress, in (c-SEPP, p-SEPP) order.
    pub fn unfinished_handshakes(&self, now: SimTime) -> Vec<Record> {
        self.sepps().flat_map(|s| s.unfinished_handshakes(now)).collect()
    }
}
