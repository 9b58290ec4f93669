//! The CAPIF node machines: one sans-IO machine per node kind, each implementing
//! [`crate::proto::effect::Machine`] and owning all of its node's protocol state and
//! decisions. They drive the inner procedure machines of [`crate::proto::capif::machines`].
//!
//! A node machine knows its own configuration (given at build, [`crate::build::capif`]) and
//! what arrives in its inputs. Two things the driver hands a machine beside the input, both
//! about the node's *own* side of a connection, never the peer's:
//! - [`PeerTls`]: what the node's own TLS stack authenticated of the peer on the connection a
//!   request arrived on (the PSK identity the client offered and the binder check passed, or
//!   the client certificate whose chain it checked);
//! - facts for the audit only ([`crate::audit::capif`]), computed by the world from the wire
//!   (e.g. the key the client's TLS stack used), which a machine copies into its audit facts
//!   and never reads for a decision.

pub mod aef;
pub mod apf;
pub mod ccf;
pub mod interconnect;
pub mod invoker;

pub use aef::*;
pub use apf::*;
pub use ccf::*;
pub use invoker::*;

use std::collections::BTreeMap;

use crate::crypto::pki::Certificate;
use crate::engine::{SimDuration, SimTime};
use crate::net::NodeId;
use crate::proto::capif::machines::InvokerState;
use crate::proto::capif::types::SecurityMethod;
use crate::proto::effect::{Effects, Input, Machine};

/// The timers of every CAPIF node machine (one driver, one timer table for the plane).
#[derive(Clone, Debug, Eq, Ord, PartialEq, PartialOrd)]
pub enum CapifTimer {
    /// An AEF's AEFPSK validity for an invoker ran out.
    AefKeyExpiry(String),
    /// A timer of an invoker's procedure machine.
    Invoker(crate::proto::capif::machines::Timer),
    /// The invoker starts onboarding.
    Start,
    /// The invoker's next invocation is due.
    Arrival,
    /// The invoker's back-off `n` is over (several may run).
    Retry(u64),
}

/// Names and trust domains of the nodes, by address: labels for records and audit facts
/// (measurement), never read for a decision.
#[derive(Clone, Debug, Default)]
pub struct Labels {
    pub names: Vec<String>,
    pub domains: Vec<String>,
}

impl Labels {
    pub fn name(&self, n: NodeId) -> &str {
        self.names.get(n as usize).map_or("", String::as_str)
    }
    pub fn domain(&self, n: NodeId) -> &str {
        self.domains.get(n as usize).map_or("", String::as_str)
    }

    /// The audit fact of `message` from `from` to `to` carrying `items` (no flow label).
    pub fn secret_sent(
        &self,
        (from, to): (NodeId, NodeId),
        message: &str,
        items: Vec<crate::proto::capif::interconnection::Item>,
    ) -> crate::audit::capif::SecretSent {
        crate::audit::capif::SecretSent {
            flow: String::new(),
            invoker_domain: String::new(),
            from: self.name(from).to_string(),
            from_domain: self.domain(from).to_string(),
            to: self.name(to).to_string(),
            to_domain: self.domain(to).to_string(),
            message: message.to_string(),
            items,
            about: None,
            about_node: None,
        }
    }
}

/// One CAPIF node's machine.
pub enum CapifNode {
    Invoker(Box<InvokerNode>),
    Ccf(Box<CcfNode>),
    Aef(Box<AefNode>),
    Apf(ApfNode),
}

impl Machine for CapifNode {
    type Timer = CapifTimer;

    fn handle(&mut self, now: SimTime, input: Input<CapifTimer>) {
        match self {
            CapifNode::Invoker(m) => m.handle(now, input),
            CapifNode::Ccf(m) => m.handle(now, input),
            CapifNode::Aef(m) => m.handle(now, input),
            CapifNode::Apf(m) => m.handle(now, input),
        }
    }

    fn effects(&mut self) -> &mut Effects<CapifTimer> {
        match self {
            CapifNode::Invoker(m) => m.effects(),
            CapifNode::Ccf(m) => m.effects(),
            CapifNode::Aef(m) => m.effects(),
            CapifNode::Apf(m) => m.effects(),
        }
    }
}

/// What a node's own TLS stack authenticated of the peer on the connection a request came
/// on (the server side of the handshake).
#[derive(Clone, Debug)]
pub enum PeerTls {
    /// TLS-PSK: the identity the client offered (its binder matched the key this node holds).
    Psk {
        /// The PSK identity.
        identity: String,
    },
    /// Certificate TLS: the name the client's certificate carries and the certificate.
    Certificate {
        /// The authenticated name (the certificate's subject).
        name: String,
        /// The client's certificate.
        cert: Box<Certificate>,
    },
}

/// The JSON text of a machine's body (`Null`: no body).
pub(crate) fn json_body(v: &serde_json::Value) -> String {
    if v.is_null() { String::new() } else { v.to_string() }
}

/// A record of the CAPIF plane: `(procedure, variant)`, its flow, `(initiator, responder)`,
/// `(start, end)` and `(outcome, status, round_trips)`; no bytes, cause or result (the caller
/// fills those the procedure has).
pub(crate) fn plane_record(
    (procedure, variant): (&'static str, String),
    flow: &str,
    (initiator, responder): (&str, &str),
    (start, end): (SimTime, SimTime),
    (outcome, status, round_trips): (crate::metrics::Outcome, u16, u32),
) -> crate::metrics::Record {
    crate::metrics::Record {
        procedure,
        flow: flow.to_string(),
        variant,
        result: String::new(),
        cause: String::new(),
        initiator: initiator.to_string(),
        responder: responder.to_string(),
        via: String::new(),
        start_ns: start.as_nanos(),
        end_ns: end.as_nanos(),
        outcome,
        status,
        new_connection: false,
        bytes: 0,
        round_trips,
        overhead_bytes: 0,
    }
}

/// The secrets a message shows (its body, followed by its `Authorization` header if any): an
/// onboarding secret, an AEFPSK grant, an access token (for the domain-crossing audit).
pub(crate) fn secret_items(body: &str) -> Vec<crate::proto::capif::interconnection::Item> {
    use crate::proto::capif::interconnection::Item;
    let mut v = Vec::new();
    if body.contains("\"onboardingSecret\":\"") || body.contains("client_secret=") {
        v.push(Item::OnboardingSecret);
    }
    if body.contains("aefpsk=") {
        v.push(Item::Aefpsk);
    }
    if body.contains("\"access_token\"") || body.contains("Bearer ") {
        v.push(Item::AccessToken);
    }
    v
}

/// The TLS 1.2 session that stands for the CAPIF-1e session of connection `conn` when the
/// AEFPSK follows TS 33.122 A.1 with TLS 1.2 (`capif1e_tls: Tls12`, or `Timing` fidelity,
/// which computes no TLS 1.3 secrets). A documented stand-in: both ends of the connection
/// compute it from the run's seed and the connection (a real TLS 1.2 handshake between two
/// RNG streams at `Full`; ECDHE simulated by a seeded pre-master secret below), while the
/// wire carries the TLS 1.3 flights. Issue 14 puts A.1 on the wire.
pub(crate) fn tls12_stand_in(seed: u64, conn: crate::net::ConnId, full: bool) -> crate::crypto::tls12::Tls12Session {
    use crate::crypto::tls12;
    let mut c = crate::engine::stream(seed, &format!("capif1e-client:{conn}"));
    let mut s = crate::engine::stream(seed, &format!("capif1e-server:{conn}"));
    if full {
        // Invariant: the TLS 1.2 handshake between two honest RNG streams cannot fail.
        return tls12::handshake(&mut c, &mut s, true).expect("tls 1.2 handshake between honest ends");
    }
    let mut session = tls12::Tls12Session {
        client_random: [0; 32],
        server_random: [0; 32],
        session_id: [0; 32],
        master_secret: [0; 48],
        extended_master_secret: false,
    };
    let mut pre_master = [0u8; 32];
    rand::RngCore::fill_bytes(&mut c, &mut session.client_random);
    rand::RngCore::fill_bytes(&mut s, &mut session.server_random);
    rand::RngCore::fill_bytes(&mut s, &mut session.session_id);
    rand::RngCore::fill_bytes(&mut s, &mut pre_master);
    session.master_secret = tls12::master_secret(&pre_master, &session.client_random, &session.server_random);
    session
}

/// The CAPIF-1e session material of connection `conn` as this end's own TLS stack has it:
/// the TLS 1.3 secrets for the exporter variant, else the TLS 1.2 stand-in.
pub(crate) fn capif1e_material(
    variant: crate::crypto::aefpsk::AefPskVariant,
    secrets: Option<&crate::crypto::tls13::Tls13Secrets>,
    (seed, conn, full): (u64, crate::net::ConnId, bool),
) -> crate::proto::capif::machines::Capif1eMaterial {
    use crate::proto::capif::machines::Capif1eMaterial;
    match (variant, secrets) {
        (crate::crypto::aefpsk::AefPskVariant::Tls13Exporter, Some(s)) => Capif1eMaterial::Tls13(Box::new(s.clone())),
        _ => Capif1eMaterial::Tls12(tls12_stand_in(seed, conn, full)),
    }
}

/// A scripted event of the scenario (`capif.method_changes`, `revocations`, `ccf_restarts`),
/// handed at its time to the nodes the builder lists for it, in that order.
#[derive(Clone, Debug)]
pub enum Scripted {
    /// AEF `aef_id` changes its security methods. The AEF applies it; its APF publishes it
    /// (without an APF, the AEF's CCF learns it at once); each of its invokers is told, for
    /// measurement only (the invoker's own decisions wait for the wire).
    MethodChange {
        aef_id: String,
        methods: Vec<SecurityMethod>,
    },
    /// The CCF revokes `invoker`'s onboarding for `aef_id`.
    Revoke { invoker: NodeId, aef_id: String },
    /// The CCF restarts and is down for `down`.
    Restart { down: SimDuration },
}

impl CapifNode {
    /// Hands scripted event `ev` to this node; whether it applied (effects to drain).
    pub fn scripted(&mut self, now: SimTime, ev: &Scripted) -> bool {
        match (self, ev) {
            (CapifNode::Aef(a), Scripted::MethodChange { methods, .. }) => a.change_methods(methods),
            (CapifNode::Invoker(i), Scripted::MethodChange { methods, .. }) => i.handle_aef_change(now, methods),
            (CapifNode::Apf(a), Scripted::MethodChange { aef_id, methods }) => a.publish_change(aef_id, methods),
            (CapifNode::Ccf(c), Scripted::MethodChange { aef_id, methods }) => c.handle_aef_change(aef_id, methods),
            (CapifNode::Ccf(c), Scripted::Revoke { invoker, aef_id }) => c.handle_revocation(now, *invoker, aef_id),
            (CapifNode::Ccf(c), Scripted::Restart { down }) => c.handle_restart(now, *down),
            _ => return false,
        }
        true
    }

    /// The AEF machine, if this is one.
    pub fn aef(&mut self) -> Option<&mut AefNode> {
        match self {
            CapifNode::Aef(a) => Some(a),
            _ => None,
        }
    }

    /// The invoker machine, if this is one.
    pub fn invoker(&mut self) -> Option<&mut InvokerNode> {
        match self {
            CapifNode::Invoker(i) => Some(i),
            _ => None,
        }
    }

    /// The APF machine, if this is one.
    pub fn apf(&mut self) -> Option<&mut ApfNode> {
        match self {
            CapifNode::Apf(a) => Some(a),
            _ => None,
        }
    }

    /// The CCF machine, if this is one.
    pub fn ccf(&mut self) -> Option<&mut CcfNode> {
        match self {
            CapifNode::Ccf(c) => Some(c),
            _ => None,
        }
    }
}

/// The invoker machines (for tests): name, state, selected method, in `invokers` order.
pub fn invoker_states(
    nodes: &BTreeMap<NodeId, CapifNode>,
    invokers: &[NodeId],
) -> Vec<(String, InvokerState, Option<SecurityMethod>)> {
    let inv = invokers.iter().filter_map(|n| match nodes.get(n) {
        Some(CapifNode::Invoker(i)) => Some(i),
        _ => None,
    });
    inv.map(|i| (i.config().name.clone(), i.m.state(), i.m.method().cloned()))
        .collect()
}

/// The AEFPSK the invoker on `node` holds and the one its AEF holds for it (for tests).
pub fn aefpsk_pair(nodes: &BTreeMap<NodeId, CapifNode>, node: NodeId) -> Option<([u8; 32], Option<[u8; 32]>)> {
    let Some(CapifNode::Invoker(i)) = nodes.get(&node) else {
        return None;
    };
    let (key, id) = (i.m.aefpsk()?.key, i.m.api_invoker_id()?);
    let Some(CapifNode::Aef(aef)) = nodes.get(&i.config().aef) else {
        return None;
    };
    Some((key, aef.m.psk().entry(id).map(|e| e.key)))
}
