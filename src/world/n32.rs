//! The N32 plane: consumer NFs, SEPPs, Roaming Intermediaries and producer NFs on the
//! simulated network, driving the sans-IO machines of [`crate::proto::n32`] and
//! [`crate::proto::roaming`].
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
//! A cNF request waits at its cSEPP until N32 with the peer is established; a failed or
//! refused handshake answers every waiting request (a refusal by an RI with the answer the
//! c-SEPP's mapping policy picks from the RI's suggestion). Every request the network
//! carries is correlated by (connection, stream): the world remembers what each outgoing
//! request was for, so each actor's step is a plain function of its input.
//!
//! N32-f keys come from the exporter of the first N32-c TLS connection (TS 33.501
//! 13.2.4.4.1), the initiator from its client secrets and the responder from its server
//! secrets of the same connection; in `timing` fidelity, which computes no TLS secrets, both
//! sides use a master derived from the connection id (documented stand-in).
//!
//! # Audit trail
//!
//! When [`N32Plane::audit`] is active (the invariant checker's log, or a trace), each actor's
//! step emits what it did as an [`N32Audit`] ([`crate::check::n32`] lists them and the
//! invariants judged from them), and every cNF request is a liveness procedure
//! `n32_request`: it begins at the cNF with its timeout as bound and ends where its record is
//! written (also during warm-up, which writes no record). A PRINS message keeps its number
//! (the message id the c-SEPP wrote) along its hops, so that the facts of the sender, the
//! fault injector and the receiver name the same message even when a fault rewrites its
//! metadata. Nothing is built while the audit is off.

use std::collections::BTreeMap;

use p256::ecdsa::VerifyingKey;
use serde_json::{Value, json};

use crate::audit::ProcAudit;
use crate::audit::mutant::{self, Mutant};
use crate::audit::n32::{N32Audit, N32Mutant};
use crate::crypto::cost::CryptoFidelity;
use crate::crypto::jose::Enc;
use crate::crypto::n32f::{Direction, JweEnc, KdfContextId, N32Master, N32fKeys, NonceSequence};
use crate::crypto::pki;
use crate::engine::{Arrival, Ctx, SimDuration, SimRng, SimTime, TimerId, stream};
use crate::metrics::{Outcome, Record};
use crate::net::conn::{ConnFailure, Intercept};
use crate::net::{ConnId, HttpRequest, HttpResponse, Latency, NetEvent, Network, NodeId};
use crate::proto::common::ProblemDetails;
use crate::proto::n32::capability_negotiation::LocalCapPolicy;
use crate::proto::n32::error_reporting;
use crate::proto::n32::parameter_exchange::{LocalParams, derive_keys, policy_view};
use crate::proto::n32::prins::{self, ContextKeys, HttpMessage, PolicyView, RecvContext, RiIdentity, SendContext};
use crate::proto::n32::sepp::{
    Initiator, InitiatorConfig, Input, N32cRequest, Op, Output, Responder, ResponderConfig, ResponderEvent,
    State as InitiatorState, Timer,
};
use crate::proto::n32::types::{
    self, ApiIeMapping, ApiSignature, HttpMethod, IeInfo, ProtectionPolicy, SecurityCapability,
};
use crate::proto::roaming;
use crate::scenario::{N32FlowSpec, N32Spec};

use super::Msg;

/// Engine messages of the N32 plane.
#[derive(Clone, Debug)]
pub enum N32Msg {
    /// The next request of flow `f` is due at its cNF.
    Arrival(u32),
    /// A cNF request's timeout.
    Timeout { conn: ConnId, stream: u32 },
    /// A pNF finished processing.
    Processed { conn: ConnId, stream: u32, flow: u32 },
    /// The c-SEPPs terminate their PRINS contexts (scripted operator action).
    Terminate,
    /// A timer of a c-SEPP's initiator machine.
    Initiator { link: (NodeId, NodeId), timer: Timer },
}

/// The SBI operation the workload exercises: AUSF UE authentication (carries a SUPI, an
/// UEID the protection policy encrypts).
pub const SBI_PATH: &str = "/nausf-auth/v1/ue-authentications";
const N32F_PATH: &str = "/n32f-forward/v1/n32f-process";
const N32C_PREFIX: &str = "/n32c-handshake/v1/";
/// The audit trail's kind for a cNF request (liveness).
const PROC_KIND: &str = "n32_request";

struct Flow {
    label: String,
    cnf: NodeId,
    csepp: NodeId,
    psepp: NodeId,
    pnf: NodeId,
    n32c_via: Option<NodeId>,
    ris: Vec<NodeId>,
    arrival: Arrival,
    request_pad: usize,
    response_pad: usize,
    processing: Option<Latency>,
    timeout: SimDuration,
    start: SimTime,
    rng: SimRng,
    sent: u64,
}

/// What an outgoing request was for, by (connection, stream) at its sender.
enum Pending {
    /// cNF → cSEPP; `proc` is its key in the audit trail.
    Cnf {
        flow: u32,
        start: SimTime,
        timer: TimerId,
        proc: u64,
        /// The request's bytes on the consumer's leg (the record adds its answer's).
        req_bytes: u32,
    },
    /// cSEPP → pSEPP over N32-f, answering the cNF's request `back`.
    N32f {
        link: (NodeId, NodeId),
        back: (ConnId, u32),
        plain_bytes: usize,
        /// Its protected size (N32fReformattedReqMsg JSON), 0 for N32-f TLS.
        protected_bytes: usize,
        /// When the c-SEPP sent it.
        sent: SimTime,
        /// PRINS: how to open the answer.
        open: Option<Box<OpenWith>>,
    },
    /// RI → next hop, answering `back`.
    Relay { back: (ConnId, u32) },
    /// pSEPP → pNF, answering the N32-f request `back`.
    ToPnf {
        back: (ConnId, u32),
        /// PRINS: the p-SEPP, its context id, the metadata message id and the message.
        prins: Option<(NodeId, String, u64, u64)>,
    },
    /// cSEPP → pSEPP on N32-c.
    N32c { link: (NodeId, NodeId), op: Op },
}

/// What the c-SEPP keeps with a PRINS request to open its answer: kept with the request so
/// that an answer arriving after the context was terminated still opens.
struct OpenWith {
    /// The c-SEPP's context id.
    local_id: String,
    /// The answer direction's key.
    keys: ContextKeys,
    /// The message's number (its message id).
    msg: u64,
}

/// The state of N32 between a cSEPP and a pSEPP, at the cSEPP.
enum LinkState {
    Idle,
    Handshaking,
    Tls,
    Prins(Box<PrinsSend>),
    /// Failed at `at`; requests fail fast until the retry time.
    Failed {
        at: SimTime,
    },
}

struct PrinsSend {
    /// The receiver's (pSEPP's) context id: goes into metaData.
    peer_id: String,
    keys: N32fKeys,
    enc: Enc,
    /// The request direction's IVs (`salt || SEQ`, TS 33.501 13.2.4.4.1), never reused.
    nonces: NonceSequence,
    /// Keys to open responses.
    local_id: String,
}

struct Link {
    state: LinkState,
    /// The c-SEPP's initiator machine for this peer.
    machine: Initiator,
    /// Its pending timers.
    timers: BTreeMap<Timer, TimerId>,
    /// N32-c requests sent (handshake messages).
    machine_msgs: u32,
    /// The N32-c connection's byte count before this handshake.
    bytes_base: u64,
    /// cNF requests waiting for N32: (connection, stream) and body.
    waiting: Vec<((ConnId, u32), String)>,
    started: SimTime,
    conn: Option<ConnId>,
    flow: u32,
    /// The cNF answer (status, ProblemDetails) chosen after an RI refused this handshake.
    answer: Option<(u16, String)>,
}

/// The pSEPP's receiving side of a PRINS context.
struct PrinsRecv {
    keys: N32fKeys,
    enc: Enc,
    /// The cSEPP's context id (for responses).
    peer_id: String,
    /// The response direction's IVs, never reused.
    nonces: NonceSequence,
}

/// The N32 actors of one run.
pub struct N32Plane {
    flows: Vec<Flow>,
    spec: N32Spec,
    links: BTreeMap<(NodeId, NodeId), Link>,
    responders: BTreeMap<NodeId, Responder>,
    /// The protection policy both SEPPs configure and exchange (TS 29.573 5.2.3).
    protection_policy: ProtectionPolicy,
    recv: BTreeMap<(NodeId, String), PrinsRecv>,
    pending: BTreeMap<(ConnId, u32), Pending>,
    /// N32-f PRINS hops still ahead of a request and the message's number (its message id
    /// as sent), by its (conn, stream) at the receiver.
    hops: BTreeMap<(ConnId, u32), (Vec<NodeId>, u64)>,
    ri_identities: BTreeMap<NodeId, RiIdentity>,
    ri_keys: BTreeMap<String, VerifyingKey>,
    ris: BTreeMap<NodeId, RiActor>,
    policy: PolicyView,
    node_rng: BTreeMap<NodeId, SimRng>,
    seed: u64,
    message_ids: u64,
    /// Faults injected: (message id, the N32fErrorType the receiver must report).
    pub injected: Vec<(u64, prins::N32fErrorType)>,
    /// Faults the p-SEPPs detected: (message id, reported type), from their n32f-error.
    pub detected: Vec<(u64, prins::N32fErrorType)>,
    /// The audit trail for the invariant checker ([`crate::check`]).
    pub audit: crate::audit::Audit,
    /// cNF requests begun (their keys in the audit trail).
    procs: u64,
}

/// A world that could not be built: the workload names what is wrong.
pub type BuildResult<T> = Result<T, String>;

fn pad(n: u32, base: usize) -> usize {
    (n as usize).saturating_sub(base)
}

impl N32Plane {
    /// Builds the plane; `flows` are (index in the workload, spec).
    pub fn build(
        net: &mut Network,
        spec: &N32Spec,
        flows: &[(usize, &N32FlowSpec)],
        seed: u64,
    ) -> BuildResult<N32Plane> {
        let id = |index: usize, name: &str| {
            net.topo
                .node_id(name)
                .ok_or_else(|| format!("workload[{index}]: unknown node `{name}`"))
        };
        let mut out = Vec::new();
        for &(index, f) in flows {
            let label = f
                .name
                .clone()
                .unwrap_or_else(|| format!("{}->{}", f.consumer, f.producer));
            let arrival = f
                .arrival
                .process()
                .map_err(|e| format!("workload[{index}].N32.arrival: {e}"))?;
            out.push(Flow {
                rng: stream(seed, &format!("flow:{label}")),
                cnf: id(index, &f.consumer)?,
                csepp: id(index, &f.c_sepp)?,
                psepp: id(index, &f.p_sepp)?,
                pnf: id(index, &f.producer)?,
                n32c_via: f.n32c_via.as_deref().map(|v| id(index, v)).transpose()?,
                ris: f.n32f_ris.iter().map(|r| id(index, r)).collect::<Result<_, _>>()?,
                label,
                arrival,
                request_pad: pad(f.request_bytes, 120),
                response_pad: pad(f.response_bytes, 80),
                processing: f
                    .processing
                    .as_ref()
                    .map(Latency::from_spec)
                    .transpose()
                    .map_err(|e| format!("workload[{index}]: processing: {e}"))?,
                timeout: f.timeout,
                start: SimTime::ZERO + f.start,
                sent: 0,
            });
        }
        // Every RI gets a signing identity from its own stream; SEPPs learn the RI keys (the
        // IPX provider security information of N32-c parameter exchange).
        let mut ri_identities = BTreeMap::new();
        let mut ri_keys = BTreeMap::new();
        let mut ris = BTreeMap::new();
        for n in 0..net.topo.node_count() as NodeId {
            if net.topo.node(n).role == crate::scenario::NodeRole::Ri {
                let name = net.topo.name(n).to_string();
                let key = pki::key_from_rng(&mut stream(seed, &format!("ri-key:{name}")));
                ri_keys.insert(ri_fqdn(&name), *key.verifying_key());
                ri_identities.insert(
                    n,
                    RiIdentity {
                        fqdn: ri_fqdn(&name),
                        key,
                    },
                );
                ris.insert(n, RiActor::new(spec, &name, n, seed)?);
            }
        }
        let mut node_rng = BTreeMap::new();
        for f in &out {
            for n in [f.cnf, f.csepp, f.psepp, f.pnf] {
                node_rng
                    .entry(n)
                    .or_insert_with(|| stream(seed, &format!("n32:{}", net.topo.name(n))));
            }
        }
        Ok(N32Plane {
            flows: out,
            spec: spec.clone(),
            links: BTreeMap::new(),
            responders: BTreeMap::new(),
            recv: BTreeMap::new(),
            pending: BTreeMap::new(),
            hops: BTreeMap::new(),
            ri_identities,
            ri_keys,
            ris,
            policy: policy_view(&protection_policy()),
            protection_policy: protection_policy(),
            node_rng,
            seed,
            message_ids: 0,
            injected: Vec::new(),
            detected: Vec::new(),
            audit: Default::default(),
            procs: 0,
        })
    }

    /// Nodes this plane owns (their network events come here).
    pub fn nodes(&self) -> Vec<NodeId> {
        let mut v: Vec<NodeId> = self
            .flows
            .iter()
            .flat_map(|f| [f.cnf, f.csepp, f.psepp, f.pnf])
            .collect();
        v.extend(self.ris.keys().copied());
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Censoring (issue 12): the N32 procedures under way when the run stopped at `now`,
    /// recorded as [`Outcome::Unfinished`] with their age: every cNF request still waiting
    /// for its answer (`cnf_request`, in (connection, stream) order), every N32-c handshake
    /// in progress (`n32_handshake`, in link order) and every PRINS N32-f message still
    /// waiting for its answer (`n32f_message`). Each leaves the pending state when its end is
    /// recorded, so none is recorded twice.
    pub fn finish(&mut self, net: &Network, now: SimTime, records: &mut Vec<Record>) {
        let unfinished = |procedure: &'static str,
                          flow: String,
                          initiator: NodeId,
                          responder: NodeId,
                          via: Option<NodeId>,
                          start: SimTime| Record {
            procedure,
            flow,
            variant: String::new(),
            result: String::new(),
            cause: String::new(),
            initiator: net.topo.name(initiator).to_string(),
            responder: net.topo.name(responder).to_string(),
            via: via.map(|v| net.topo.name(v).to_string()).unwrap_or_default(),
            start_ns: start.as_nanos(),
            end_ns: now.as_nanos(),
            outcome: Outcome::Unfinished,
            status: 0,
            new_connection: false,
            bytes: 0,
            round_trips: 0,
            overhead_bytes: 0,
        };
        for p in self.pending.values() {
            match p {
                Pending::Cnf { flow, start, .. } => {
                    let f = &self.flows[*flow as usize];
                    records.push(unfinished(
                        "cnf_request",
                        f.label.clone(),
                        f.cnf,
                        f.pnf,
                        f.n32c_via,
                        *start,
                    ));
                }
                Pending::N32f {
                    link,
                    sent,
                    open: Some(_),
                    ..
                } => {
                    let mut r = unfinished("n32f_message", String::new(), link.0, link.1, None, *sent);
                    r.variant = "PRINS".into();
                    records.push(r);
                }
                _ => {}
            }
        }
        for (link_key, link) in &self.links {
            if matches!(link.state, LinkState::Handshaking) {
                let f = &self.flows[link.flow as usize];
                let mut r = unfinished(
                    "n32_handshake",
                    f.label.clone(),
                    link_key.0,
                    link_key.1,
                    f.n32c_via,
                    link.started,
                );
                r.new_connection = true;
                r.round_trips = link.machine_msgs;
                records.push(r);
            }
        }
    }

    /// Each flow's first arrival.
    pub fn initial_events(&self) -> Vec<(SimTime, NodeId, Msg)> {
        let mut v: Vec<_> = self
            .flows
            .iter()
            .enumerate()
            .map(|(i, f)| (f.start, f.cnf, Msg::N32(N32Msg::Arrival(i as u32))))
            .collect();
        if let Some(f) = self.flows.first() {
            for &t in &self.spec.terminate_at {
                v.push((SimTime::ZERO + t, f.csepp, Msg::N32(N32Msg::Terminate)));
            }
        }
        v
    }

    /// Handles an N32 engine message.
    pub fn on_msg(&mut self, net: &mut Network, ctx: &mut Ctx<'_, Msg>, m: N32Msg, records: &mut Vec<Record>) {
        match m {
            N32Msg::Arrival(fi) => self.on_arrival(net, ctx, fi),
            N32Msg::Timeout { conn, stream } => self.finish_cnf(
                net,
                ctx,
                (conn, stream),
                Outcome::Timeout,
                (0, 0),
                String::new(),
                records,
            ),
            N32Msg::Terminate => self.terminate_all(net, ctx, records),
            N32Msg::Initiator { link, timer } => {
                let input = match timer {
                    Timer::Response => Input::Timeout,
                    Timer::ContextExpiry => Input::ContextExpired,
                };
                if let Some(l) = self.links.get_mut(&link) {
                    l.timers.remove(&timer);
                }
                self.drive(net, ctx, link, input, records);
            }
            N32Msg::Processed { conn, stream, flow } => {
                let body = json!({"authType": "5G_AKA", "pad": "x".repeat(self.flows[flow as usize].response_pad)});
                let rsp = HttpResponse {
                    headers: Default::default(),
                    typed: None,
                    status: 201,
                    schema: "UEAuthenticationCtx",
                    body: body.to_string(),
                };
                net.respond(ctx, conn, stream, rsp);
            }
        }
    }

    fn on_arrival(&mut self, net: &mut Network, ctx: &mut Ctx<'_, Msg>, fi: u32) {
        let f = &mut self.flows[fi as usize];
        let gap = f.arrival.next_gap(&mut f.rng);
        f.sent += 1;
        let body = json!({
            "supiOrSuci": format!("imsi-00101{:010}", f.sent),
            "servingNetworkName": "5G:mnc001.mcc001.3gppnetwork.org",
            "pad": "x".repeat(f.request_pad),
        });
        let req = HttpRequest {
            headers: Default::default(),
            typed: None,
            method: "POST",
            path: SBI_PATH.into(),
            schema: "AuthenticationInfo",
            body: body.to_string(),
        };
        let (cnf, csepp, timeout) = (f.cnf, f.csepp, f.timeout);
        let req_bytes = req.wire_bytes();
        let (conn, stream) = net.request(ctx, cnf, csepp, None, req);
        let timer = ctx.set_timer_for(cnf, timeout, Msg::N32(N32Msg::Timeout { conn, stream }));
        self.procs += 1;
        let proc = self.procs;
        // The request ends with an answer or at its own timeout, whichever comes first.
        self.audit.emit_with(ctx, || ProcAudit::Begin {
            kind: PROC_KIND.into(),
            key: proc,
            node: net.topo.name(cnf).to_string(),
            bound_ns: timeout.as_nanos(),
        });
        self.pending.insert(
            (conn, stream),
            Pending::Cnf {
                flow: fi,
                start: ctx.now(),
                timer,
                proc,
                req_bytes,
            },
        );
        ctx.set_timer_for(cnf, gap, Msg::N32(N32Msg::Arrival(fi)));
    }

    /// A network event at one of this plane's nodes.
    pub fn on_net_event(
        &mut self,
        net: &mut Network,
        ctx: &mut Ctx<'_, Msg>,
        node: NodeId,
        ev: NetEvent,
        records: &mut Vec<Record>,
    ) {
        match ev {
            NetEvent::Connected { .. } => {} // the N32 plane opens no connection with `connect`
            NetEvent::ConnectRequest { conn, client, target } => match self.ris.get_mut(&node) {
                Some(ri) => {
                    if let Some(status) = ri.on_connect(net, ctx, conn, client, target) {
                        self.audit.emit_with(ctx, || N32Audit::ConnectRefused {
                            ri: net.topo.name(node).to_string(),
                            client: net.topo.name(client).to_string(),
                            target: net.topo.name(target).to_string(),
                            conn: u64::from(conn),
                            status,
                        });
                    }
                }
                None => net.accept_connect(ctx, conn),
            },
            NetEvent::Request {
                conn,
                stream,
                client,
                req,
            } => self.on_request(net, ctx, node, client, (conn, stream), req, records),
            NetEvent::Response { conn, stream, rsp } => self.on_response(net, ctx, node, (conn, stream), rsp, records),
            NetEvent::Failed { conn, streams, cause } => {
                for s in streams {
                    self.on_failed(net, ctx, (conn, s), &cause, records);
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_request(
        &mut self,
        net: &mut Network,
        ctx: &mut Ctx<'_, Msg>,
        node: NodeId,
        client: NodeId,
        key: (ConnId, u32),
        req: HttpRequest,
        records: &mut Vec<Record>,
    ) {
        // A cNF request at its cSEPP.
        if let Some(Pending::Cnf { flow, .. }) = self.pending.get(&key) {
            let flow = *flow;
            let link = (node, self.flows[flow as usize].psepp);
            self.at_csepp(net, ctx, link, flow, key, req.body, records);
            return;
        }
        if req.path.starts_with(N32C_PREFIX) {
            self.at_responder(net, ctx, node, client, key, req);
            return;
        }
        if req.path == N32F_PATH {
            if let Some((hops, msg)) = self.hops.remove(&key) {
                if self.ris.contains_key(&node) {
                    self.relay(net, ctx, node, key, (hops, msg), req);
                } else {
                    self.at_psepp_prins(net, ctx, node, key, msg, req, records);
                }
            }
            return;
        }
        if req.path == SBI_PATH {
            // At a pSEPP over N32-f TLS, or at the pNF.
            if let Some(f) = self.flows.iter().position(|f| f.pnf == node) {
                let delay = match &self.flows[f].processing {
                    Some(l) => SimDuration::from_nanos(l.sample(self.node_rng.get_mut(&node).expect("pnf rng"))),
                    None => SimDuration::ZERO,
                };
                let m = Msg::N32(N32Msg::Processed {
                    conn: key.0,
                    stream: key.1,
                    flow: f as u32,
                });
                ctx.set_timer_for(node, delay, m);
            } else if let Some(f) = self.flows.iter().find(|f| f.psepp == node) {
                let pnf = f.pnf;
                let (c, s) = net.request(ctx, node, pnf, None, req);
                self.pending.insert((c, s), Pending::ToPnf { back: key, prins: None });
            }
        }
    }

    fn on_response(
        &mut self,
        net: &mut Network,
        ctx: &mut Ctx<'_, Msg>,
        node: NodeId,
        key: (ConnId, u32),
        rsp: HttpResponse,
        records: &mut Vec<Record>,
    ) {
        let Some(p) = self.pending.remove(&key) else { return };
        match p {
            cnf @ Pending::Cnf { timer, .. } => {
                ctx.cancel(timer);
                let outcome = if (200..300).contains(&rsp.status) {
                    Outcome::Ok
                } else {
                    Outcome::Error
                };
                let cause = serde_json::from_str::<Value>(&rsp.body)
                    .ok()
                    .and_then(|v| v.get("cause").and_then(Value::as_str).map(str::to_string))
                    .unwrap_or_default();
                self.pending.insert(key, cnf);
                let answer = (rsp.status, rsp.wire_bytes());
                self.finish_cnf(net, ctx, key, outcome, answer, cause, records);
            }
            Pending::Relay { back } => net.respond(ctx, back.0, back.1, rsp),
            Pending::ToPnf { back, prins } => match prins {
                None => net.respond(ctx, back.0, back.1, rsp),
                Some((psepp, peer_ctx, message_id, msg)) => {
                    let out = self.protect_response(net, ctx, psepp, &peer_ctx, (message_id, msg), &rsp);
                    net.respond_after(ctx, back.0, back.1, out.0, out.1);
                }
            },
            Pending::N32f {
                link,
                back,
                plain_bytes,
                protected_bytes,
                sent,
                open,
            } => {
                let sizes = (plain_bytes, protected_bytes);
                let (rsp, delay) = self.open_response(net, ctx, link, sent, rsp, sizes, open, records);
                net.respond_after(ctx, back.0, back.1, rsp, delay);
            }
            Pending::N32c { link, op } => self.on_n32c_response(net, ctx, node, link, key.0, op, rsp, records),
        }
    }

    fn on_failed(
        &mut self,
        net: &mut Network,
        ctx: &mut Ctx<'_, Msg>,
        key: (ConnId, u32),
        cause: &ConnFailure,
        records: &mut Vec<Record>,
    ) {
        let Some(p) = self.pending.remove(&key) else { return };
        let (status, detail) = match cause {
            ConnFailure::Refused { status, .. } => (*status, "refused by roaming intermediary"),
            ConnFailure::Unreachable => (504, "peer unreachable"),
            ConnFailure::Reset => (504, "connection reset"),
            ConnFailure::Tls(_) => (504, "tls failure"),
        };
        match p {
            cnf @ Pending::Cnf { .. } => {
                self.pending.insert(key, cnf);
                let outcome = if matches!(cause, ConnFailure::Unreachable | ConnFailure::Reset) {
                    Outcome::Unreachable
                } else {
                    Outcome::Error
                };
                self.finish_cnf(net, ctx, key, outcome, (0, 0), detail.into(), records);
            }
            Pending::N32c { link, .. } => self.handshake_failed(net, ctx, link, cause, records),
            Pending::N32f { back, .. } | Pending::Relay { back } | Pending::ToPnf { back, .. } => {
                let body = ProblemDetails::with_cause(status, "N32F_FORWARDING_FAILED").detail(detail);
                let rsp = HttpResponse {
                    headers: Default::default(),
                    typed: None,
                    status,
                    schema: "ProblemDetails",
                    body: body.to_json(),
                };
                net.respond(ctx, back.0, back.1, rsp);
            }
        }
    }

    /// A cNF request reached its cSEPP: forward it if N32 is up, else wait for it.
    #[allow(clippy::too_many_arguments)]
    fn at_csepp(
        &mut self,
        net: &mut Network,
        ctx: &mut Ctx<'_, Msg>,
        link_key: (NodeId, NodeId),
        flow: u32,
        back: (ConnId, u32),
        body: String,
        records: &mut Vec<Record>,
    ) {
        let now = ctx.now();
        let retry = self.spec.retry_after.unwrap_or(SimDuration::from_secs(10));
        if !self.links.contains_key(&link_key) {
            let mut cfg = InitiatorConfig::new(self.local_params(net, link_key.0));
            cfg.capabilities = Self::caps(
                &self.spec.initiator_capabilities,
                [SecurityCapability::Prins, SecurityCapability::Tls],
            );
            cfg.tls_close = self.spec.tls_close;
            let link = Link {
                state: LinkState::Idle,
                machine: Initiator::new(cfg),
                timers: BTreeMap::new(),
                machine_msgs: 0,
                bytes_base: 0,
                waiting: Vec::new(),
                started: now,
                conn: None,
                flow,
                answer: None,
            };
            self.links.insert(link_key, link);
        }
        let Some(link) = self.links.get_mut(&link_key) else {
            return;
        };
        match &link.state {
            LinkState::Tls | LinkState::Prins(_) => self.forward(net, ctx, link_key, back, body),
            LinkState::Handshaking => link.waiting.push((back, body)),
            LinkState::Failed { at, .. } if now < *at + retry => {
                let (status, body) = self.cnf_answer_for_failure(link_key);
                net.respond(
                    ctx,
                    back.0,
                    back.1,
                    HttpResponse {
                        headers: Default::default(),
                        typed: None,
                        status,
                        schema: "ProblemDetails",
                        body,
                    },
                );
            }
            LinkState::Idle | LinkState::Failed { .. } => {
                link.waiting.push((back, body));
                link.flow = flow;
                self.begin_handshake(net, ctx, link_key, records);
            }
        }
    }

    /// Forwards the cNF request `back` over established N32-f.
    fn forward(
        &mut self,
        net: &mut Network,
        ctx: &mut Ctx<'_, Msg>,
        link_key: (NodeId, NodeId),
        back: (ConnId, u32),
        body: String,
    ) {
        let Some(Pending::Cnf { flow, .. }) = self.pending.get(&back) else {
            return;
        };
        let f = &self.flows[*flow as usize];
        let (via, ris, psepp) = (f.n32c_via, f.ris.clone(), f.psepp);
        let Some(link) = self.links.get_mut(&link_key) else {
            return;
        };
        match &mut link.state {
            LinkState::Tls => {
                // N32-f over its own TLS connection, through the RI's tunnel if N32-c used one.
                let req = HttpRequest {
                    headers: Default::default(),
                    typed: None,
                    method: "POST",
                    path: SBI_PATH.into(),
                    schema: "AuthenticationInfo",
                    body,
                };
                let (c, s) = net.request(ctx, link_key.0, psepp, via, req);
                self.pending.insert(
                    (c, s),
                    Pending::N32f {
                        link: link_key,
                        back,
                        plain_bytes: 0,
                        protected_bytes: 0,
                        sent: ctx.now(),
                        open: None,
                    },
                );
            }
            LinkState::Prins(p) => {
                self.message_ids += 1;
                let message_id = self.message_ids;
                let msg = HttpMessage {
                    method: "POST".into(),
                    scheme: "https".into(),
                    authority: format!("{}.5gc.example", net.topo.name(psepp)),
                    path: SBI_PATH.into(),
                    query: vec![],
                    headers: vec![
                        ("3gpp-sbi-message-priority".into(), "10".into()),
                        ("content-type".into(), "application/json".into()),
                    ],
                    body: serde_json::from_str(&body).unwrap_or(Value::Null),
                };
                let plain_bytes = body.len() + SBI_PATH.len() + 60;
                let dir = crate::crypto::n32f::Direction::ParallelRequest;
                let key = p.keys.get(dir).key.clone();
                // An exhausted sequence (2^32 messages) needs a new context; the request is
                // not sent and times out at the cNF.
                let Ok(nonce) = p.nonces.next_nonce() else {
                    return;
                };
                let send = SendContext {
                    n32f_context_id: p.peer_id.clone(),
                    message_id,
                    // Below full fidelity RIs compute no JWS, so none is expected of them.
                    authorized_ipx_id: ris
                        .first()
                        .filter(|_| net.sec.fidelity == CryptoFidelity::Full)
                        .map(|&r| ri_fqdn(net.topo.name(r))),
                    enc: p.enc,
                };
                let open = ContextKeys {
                    key: p.keys.get(crate::crypto::n32f::Direction::ParallelResponse).key.clone(),
                    enc: p.enc,
                    expired: None,
                };
                let open = Some(Box::new(OpenWith {
                    local_id: p.local_id.clone(),
                    keys: open,
                    msg: message_id,
                }));
                let cost = net.sec.cpu.charge(
                    link_key.0,
                    ctx.now(),
                    &[(
                        crate::crypto::cost::CryptoOp::AesGcmSeal1k,
                        1 + (body.len() / 1024) as u64,
                    )],
                );
                let Ok(mut reformatted) = prins::protect(&send, &msg, &self.policy, &key, nonce) else {
                    return;
                };
                self.audit.emit_with(ctx, || N32Audit::MessageSent {
                    sepp: net.topo.name(link_key.0).to_string(),
                    peer: net.topo.name(psepp).to_string(),
                    msg: message_id,
                    context_id: open.as_ref().map(|o| o.local_id.clone()).unwrap_or_default(),
                    peer_context_id: send.n32f_context_id.clone(),
                });
                if let Some(fault) = self.fault_for(&ris) {
                    let env = prins::fault::FaultEnv {
                        key: key.clone(),
                        nonce,
                    };
                    if let Ok(m) = prins::fault::apply_fault(&reformatted, &fault, &env) {
                        reformatted = m;
                        let expected = expected_error(&fault, net.sec.fidelity);
                        self.injected.push((message_id, expected));
                        self.audit.emit_with(ctx, || N32Audit::FaultInjected {
                            sepp: net.topo.name(link_key.0).to_string(),
                            msg: message_id,
                            fault: fault_name(&fault).into(),
                            expected: wire_name(&expected),
                        });
                    }
                }
                let json = serde_json::to_string(&reformatted).unwrap_or_default();
                let protected_bytes = json.len();
                let mut hops = ris.clone();
                hops.push(psepp);
                let first = hops.remove(0);
                let req = HttpRequest {
                    headers: Default::default(),
                    typed: None,
                    method: "POST",
                    path: N32F_PATH.into(),
                    schema: "N32fReformattedReqMsg",
                    body: json,
                };
                let (c, s) = net.request_after(ctx, link_key.0, first, None, req, cost);
                self.hops.insert((c, s), (hops, message_id));
                self.pending.insert(
                    (c, s),
                    Pending::N32f {
                        link: link_key,
                        back,
                        plain_bytes,
                        protected_bytes,
                        sent: ctx.now(),
                        open,
                    },
                );
            }
            _ => {}
        }
    }

    /// An RI relays a PRINS message: modifies (if configured) and signs, then forwards.
    fn relay(
        &mut self,
        net: &mut Network,
        ctx: &mut Ctx<'_, Msg>,
        ri: NodeId,
        back: (ConnId, u32),
        (mut hops, number): (Vec<NodeId>, u64),
        req: HttpRequest,
    ) {
        let Ok(msg) = serde_json::from_str::<prins::N32fReformattedReqMsg>(&req.body) else {
            let rsp = HttpResponse {
                headers: Default::default(),
                typed: None,
                status: 400,
                schema: "ProblemDetails",
                body: ProblemDetails::with_status(400).to_json(),
            };
            net.respond(ctx, back.0, back.1, rsp);
            return;
        };
        let ops = if self.spec.ri_modify {
            vec![prins::patch::PatchItem::replace("/headers/0/value", json!("12"))]
        } else {
            vec![]
        };
        //= TS 33.501 13.2.4.5: an RI appends its signed Modifications even without changes.
        // Below full fidelity the signature is not computed (its CPU cost is still charged)
        // and the RI relays the message unchanged.
        let signed = match self.ri_identities.get(&ri) {
            Some(id) if net.sec.fidelity == CryptoFidelity::Full => prins::ri_modify(&msg, id, ops).unwrap_or(msg),
            _ => msg,
        };
        let delay = net
            .sec
            .cpu
            .charge(ri, ctx.now(), &[(crate::crypto::cost::CryptoOp::EcdsaSign, 1)]);
        let body = serde_json::to_string(&signed).unwrap_or_default();
        let next = hops.remove(0);
        let fwd = HttpRequest {
            headers: Default::default(),
            typed: None,
            method: "POST",
            path: N32F_PATH.into(),
            schema: "N32fReformattedReqMsg",
            body,
        };
        let (c, s) = net.request_after(ctx, ri, next, None, fwd, delay);
        self.hops.insert((c, s), (hops, number));
        self.pending.insert((c, s), Pending::Relay { back });
    }

    /// The pSEPP opens a PRINS request (message `msg`), forwards it to the pNF, or reports
    /// the fault.
    #[allow(clippy::too_many_arguments)]
    fn at_psepp_prins(
        &mut self,
        net: &mut Network,
        ctx: &mut Ctx<'_, Msg>,
        psepp: NodeId,
        back: (ConnId, u32),
        msg: u64,
        req: HttpRequest,
        records: &mut Vec<Record>,
    ) {
        let now = ctx.now();
        let parsed = serde_json::from_str::<prins::N32fReformattedReqMsg>(&req.body);
        // The p-side RI signs last; with a single RI on the path (a roaming hub) it is the
        // authorized c-side RI itself and signs once.
        let local_ri = self
            .flows
            .iter()
            .find(|f| f.psepp == psepp)
            .and_then(|f| (f.ris.len() == 2).then(|| f.ris[1]))
            .filter(|_| net.sec.fidelity == CryptoFidelity::Full);
        let rx = RecvContext {
            local_ri: local_ri.map(|r| ri_fqdn(net.topo.name(r))),
        };
        let recv = &self.recv;
        let lookup = |id: &str| {
            recv.get(&(psepp, id.to_string())).map(|r| ContextKeys {
                key: r.keys.get(crate::crypto::n32f::Direction::ParallelRequest).key.clone(),
                enc: r.enc,
                expired: None,
            })
        };
        let verifies = 1 + self.flows.iter().find(|f| f.psepp == psepp).map_or(0, |f| f.ris.len()) as u64;
        let delay = net.sec.cpu.charge(
            psepp,
            now,
            &[
                (
                    crate::crypto::cost::CryptoOp::AesGcmOpen1k,
                    1 + (req.body.len() / 1024) as u64,
                ),
                (crate::crypto::cost::CryptoOp::EcdsaVerify, verifies - 1),
            ],
        );
        let mut done = prins::Verification::default();
        let result = match parsed {
            Ok(m) => {
                self.audit.emit_with(ctx, || N32Audit::MessageReceived {
                    sepp: net.topo.name(psepp).to_string(),
                    msg,
                    modifications: m.modifications_block.as_ref().map_or(0, |b| b.len() as u32),
                });
                prins::unprotect_counted(&rx, &m, lookup, &self.ri_keys, &self.policy, &mut done)
            }
            Err(_) => {
                let rsp = HttpResponse {
                    headers: Default::default(),
                    typed: None,
                    status: 400,
                    schema: "ProblemDetails",
                    body: ProblemDetails::with_status(400).to_json(),
                };
                net.respond(ctx, back.0, back.1, rsp);
                return;
            }
        };
        self.audit.emit_with(ctx, || N32Audit::MessageVerified {
            sepp: net.topo.name(psepp).to_string(),
            msg,
            decrypted: done.decrypted,
            jws_verified: done.jws_verified,
            error: result.as_ref().err().map(|f| wire_name(&f.n32f_error_type)),
        });
        match result {
            Ok(u) => {
                let pnf = self
                    .flows
                    .iter()
                    .find(|f| f.psepp == psepp)
                    .map(|f| f.pnf)
                    .unwrap_or(psepp);
                let body = u.message.body.to_string();
                let fwd = HttpRequest {
                    headers: Default::default(),
                    typed: None,
                    method: "POST",
                    path: u.message.path.clone(),
                    schema: "AuthenticationInfo",
                    body,
                };
                let message_id = u.meta.message_id.parse::<u64>().unwrap_or(0);
                let (c, s) = net.request_after(ctx, psepp, pnf, None, fwd, delay);
                self.audit.emit_with(ctx, || N32Audit::MessageAccepted {
                    sepp: net.topo.name(psepp).to_string(),
                    msg,
                    context_id: u.meta.n32f_context_id.clone(),
                });
                self.pending.insert(
                    (c, s),
                    Pending::ToPnf {
                        back,
                        prins: Some((psepp, u.meta.n32f_context_id.clone(), message_id, msg)),
                    },
                );
            }
            Err(fault) => {
                // TS 29.573 5.2.5: report on N32-c; answer the N32-f request with an error.
                let t = format!("{:?}", fault.n32f_error_type);
                records.push(Record {
                    procedure: "n32f_error",
                    flow: String::new(),
                    variant: String::new(),
                    result: String::new(),
                    cause: t.clone(),
                    initiator: net.topo.name(psepp).to_string(),
                    responder: String::new(),
                    via: String::new(),
                    start_ns: now.as_nanos(),
                    end_ns: now.as_nanos(),
                    outcome: Outcome::Error,
                    status: 403,
                    new_connection: false,
                    round_trips: 0,
                    overhead_bytes: 0,
                    bytes: req.body.len() as u64,
                });
                self.report_error(net, ctx, psepp, msg, &fault);
                let body = ProblemDetails::with_cause(403, "N32F_PROTECTION_FAILURE").detail(t);
                let rsp = HttpResponse {
                    headers: Default::default(),
                    typed: None,
                    status: 403,
                    schema: "ProblemDetails",
                    body: body.to_json(),
                };
                net.respond_after(ctx, back.0, back.1, rsp, delay);
            }
        }
    }
}

/// The N32fErrorType the receiver must report for `fault`. Below full fidelity RIs sign
/// nothing and the receiver expects no JWS, so a tampering RI's signed patch is an unexpected
/// modification (INTEGRITY_CHECK_ON_MODIFICATIONS_FAILED) before its content is looked at.
fn expected_error(fault: &prins::fault::Fault, fidelity: CryptoFidelity) -> prins::N32fErrorType {
    match fault {
        prins::fault::Fault::TamperModification(_) if fidelity != CryptoFidelity::Full => {
            prins::N32fErrorType::IntegrityCheckOnModificationsFailed
        }
        f => f.expected().0,
    }
}

/// The name of a fault in the audit trail.
fn fault_name(fault: &prins::fault::Fault) -> &'static str {
    use prins::fault::Fault as F;
    match fault {
        F::TamperCiphertext => "TamperCiphertext",
        F::TamperAad => "TamperAad",
        F::TamperTag => "TamperTag",
        F::BadJweHeader => "BadJweHeader",
        F::UnknownContext => "UnknownContext",
        F::TamperModification(_) => "TamperModification",
        F::BadPatch(_) => "BadPatch",
        F::UnauthorisedRi(_) => "UnauthorisedRi",
        F::ReplayedModification(_) => "ReplayedModification",
        F::ForgeSignature => "ForgeSignature",
        F::StripModifications => "StripModifications",
        F::WrongKey => "WrongKey",
        F::BadEncBlockIndex => "BadEncBlockIndex",
        F::BadIePath => "BadIePath",
        F::BadHeader => "BadHeader",
    }
}

/// The wire string of a unit enum (capabilities, error types).
fn wire_name<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => s,
        other => format!("{other:?}"),
    }
}

/// The audit fingerprint of N32-f keys: the first 8 bytes (hex) of SHA-256 over the JWE
/// `enc`, the JWS `alg`, then each direction's key and IV salt.
fn keys_fingerprint(keys: &N32fKeys, jws: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(keys.enc.name());
    h.update([0]);
    h.update(jws);
    for d in crate::crypto::n32f::Direction::ALL {
        let k = keys.get(d);
        h.update([0]);
        h.update(&k.key);
        h.update(k.iv_salt);
    }
    hex::encode(&h.finalize()[..8])
}

/// The 403 `N32F_PROTECTION_FAILURE` answer to a cNF when the p-SEPP cannot protect a
/// response (`kind` in the detail).
fn protection_failure(kind: prins::N32fErrorType) -> HttpResponse {
    HttpResponse {
        headers: Default::default(),
        typed: None,
        status: 403,
        schema: "ProblemDetails",
        body: ProblemDetails::with_cause(403, "N32F_PROTECTION_FAILURE")
            .detail(format!("{kind:?}"))
            .to_json(),
    }
}

/// The protection policy both SEPPs configure for the workload's API (TS 29.573 6.1.5.3.2):
/// the SUPI (UEID) in the body is encrypted, the message priority header is modifiable by
/// any IPX, all else is integrity protected in clear.
fn protection_policy() -> ProtectionPolicy {
    let ie = |loc, ty, name: &str, modifiable| IeInfo {
        ie_loc: loc,
        ie_type: ty,
        req_ie: Some(name.to_string()),
        rsp_ie: None,
        is_modifiable: modifiable,
        is_modifiable_by_ipx: None,
    };
    ProtectionPolicy {
        api_ie_mapping_list: vec![ApiIeMapping {
            api_signature: ApiSignature::Uri(SBI_PATH.to_string()),
            api_method: HttpMethod::Post,
            ie_list: vec![
                ie(types::IeLocation::Body, types::IeType::Ueid, "/supiOrSuci", None),
                ie(
                    types::IeLocation::Header,
                    types::IeType::Nonsensitive,
                    "3gpp-sbi-message-priority",
                    Some(true),
                ),
            ],
        }],
        data_type_enc_policy: Some(vec![
            types::IeType::Ueid,
            types::IeType::KeyMaterial,
            types::IeType::AuthenticationMaterial,
        ]),
    }
}

/// The FQDN of a Roaming Intermediary (its IPX provider id, JWS `kid` and Modifications
/// identity).
fn ri_fqdn(name: &str) -> String {
    format!("{name}.ipx.example")
}

fn jose_enc(e: JweEnc) -> Enc {
    match e {
        JweEnc::A128Gcm => Enc::A128Gcm,
        JweEnc::A256Gcm => Enc::A256Gcm,
    }
}

impl N32Plane {
    /// Records the end of a cNF request (if it was still open), with the `status` and wire
    /// bytes of the answer the cNF got (`(0, 0)` without one). Its bytes and exchanges are the
    /// consumer's leg (one request, its answer); the N32-f hops are `n32f_message` records.
    #[allow(clippy::too_many_arguments)]
    fn finish_cnf(
        &mut self,
        net: &Network,
        ctx: &mut Ctx<'_, Msg>,
        key: (ConnId, u32),
        outcome: Outcome,
        (status, rsp_bytes): (u16, u32),
        cause: String,
        records: &mut Vec<Record>,
    ) {
        let Some(Pending::Cnf {
            flow,
            start,
            proc,
            req_bytes,
            ..
        }) = self.pending.remove(&key)
        else {
            return;
        };
        let end = ctx.now();
        // Mutant (liveness): the request's end goes unrecorded.
        if !mutant::is(Mutant::DropProcEnd) {
            self.audit.emit_with(ctx, || ProcAudit::End {
                kind: PROC_KIND.into(),
                key: proc,
                outcome: outcome.as_str().into(),
            });
        }
        let f = &self.flows[flow as usize];
        records.push(Record {
            procedure: "cnf_request",
            flow: f.label.clone(),
            variant: String::new(),
            result: String::new(),
            cause,
            initiator: net.topo.name(f.cnf).to_string(),
            responder: net.topo.name(f.pnf).to_string(),
            via: f.n32c_via.map(|v| net.topo.name(v).to_string()).unwrap_or_default(),
            start_ns: start.as_nanos(),
            end_ns: end.as_nanos(),
            outcome,
            status,
            new_connection: false,
            round_trips: 1,
            overhead_bytes: 0,
            bytes: u64::from(req_bytes + rsp_bytes),
        });
    }

    /// The pSEPP protects the pNF's answer to message `msg` (metadata `message_id`) for the
    /// context `local_id`.
    fn protect_response(
        &mut self,
        net: &mut Network,
        ctx: &mut Ctx<'_, Msg>,
        psepp: NodeId,
        local_id: &str,
        (message_id, msg): (u64, u64),
        rsp: &HttpResponse,
    ) -> (HttpResponse, SimDuration) {
        let now = ctx.now();
        let Some(r) = self.recv.get_mut(&(psepp, local_id.to_string())) else {
            // The context was terminated while the pNF answered: the answer cannot be
            // protected, and must not cross N32-f in clear (found by the invariant checker).
            let rsp = protection_failure(prins::N32fErrorType::ContextNotFound);
            return (rsp, SimDuration::ZERO);
        };
        self.audit.emit_with(ctx, || N32Audit::ResponseSent {
            sepp: net.topo.name(psepp).to_string(),
            msg,
            context_id: local_id.to_string(),
        });
        let dir = crate::crypto::n32f::Direction::ParallelResponse;
        let Ok(nonce) = r.nonces.next_nonce() else {
            // 2^32 responses in this context: none can be protected any more.
            return (
                protection_failure(prins::N32fErrorType::ContextNotFound),
                SimDuration::ZERO,
            );
        };
        let send = SendContext {
            n32f_context_id: r.peer_id.clone(),
            message_id,
            authorized_ipx_id: None,
            enc: r.enc,
        };
        let plain = prins::HttpResponse {
            status: rsp.status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: serde_json::from_str(&rsp.body).unwrap_or(Value::Null),
        };
        let delay = net.sec.cpu.charge(
            psepp,
            now,
            &[(
                crate::crypto::cost::CryptoOp::AesGcmSeal1k,
                1 + (rsp.body.len() / 1024) as u64,
            )],
        );
        match prins::protect_response(
            &send,
            &plain,
            ("POST", SBI_PATH),
            &self.policy,
            &r.keys.get(dir).key,
            nonce,
        ) {
            Ok(m) => (
                HttpResponse {
                    headers: Default::default(),
                    typed: None,
                    status: 200,
                    schema: "N32fReformattedRspMsg",
                    body: serde_json::to_string(&m).unwrap_or_default(),
                },
                delay,
            ),
            // Nothing crosses N32-f in clear.
            Err(_) => (
                HttpResponse {
                    headers: Default::default(),
                    typed: None,
                    status: 500,
                    schema: "ProblemDetails",
                    body: ProblemDetails::with_cause(500, "N32F_PROTECTION_FAILURE").to_json(),
                },
                delay,
            ),
        }
    }

    /// The cSEPP opens an N32-f answer and records the N32-f message.
    #[allow(clippy::too_many_arguments)]
    fn open_response(
        &mut self,
        net: &mut Network,
        ctx: &mut Ctx<'_, Msg>,
        link: (NodeId, NodeId),
        sent: SimTime,
        rsp: HttpResponse,
        (plain_bytes, protected_bytes): (usize, usize),
        open: Option<Box<OpenWith>>,
        records: &mut Vec<Record>,
    ) -> (HttpResponse, SimDuration) {
        let now = ctx.now();
        let Some(open) = open else {
            return (rsp, SimDuration::ZERO); // N32-f TLS: the answer is the pNF's
        };
        let OpenWith {
            local_id: local,
            keys,
            msg: number,
        } = *open;
        let protected = rsp.schema == "N32fReformattedRspMsg";
        self.audit.emit_with(ctx, || N32Audit::ResponseReceived {
            sepp: net.topo.name(link.0).to_string(),
            msg: number,
            status: rsp.status,
            protected,
        });
        if !protected {
            if (200..300).contains(&rsp.status) {
                // A success in clear on a PRINS request is no N32-f answer: refused.
                let rsp = HttpResponse {
                    headers: Default::default(),
                    typed: None,
                    status: 502,
                    schema: "ProblemDetails",
                    body: ProblemDetails::with_cause(502, "N32F_PROTECTION_FAILURE").to_json(),
                };
                return (rsp, SimDuration::ZERO);
            }
            return (rsp, SimDuration::ZERO); // an error from a hop, passed on as it is
        }
        let delay = net.sec.cpu.charge(
            link.0,
            now,
            &[(
                crate::crypto::cost::CryptoOp::AesGcmOpen1k,
                1 + (rsp.body.len() / 1024) as u64,
            )],
        );
        let lookup = |id: &str| (id == local).then(|| keys.clone());
        let msg = serde_json::from_str::<prins::N32fReformattedRspMsg>(&rsp.body);
        let mut done = prins::Verification::default();
        let opened = msg.map_err(|_| None).and_then(|m| {
            prins::unprotect_response_counted(
                &RecvContext { local_ri: None },
                &m,
                ("POST", SBI_PATH),
                lookup,
                &self.ri_keys,
                &self.policy,
                &mut done,
            )
            .map_err(|f| Some(f.n32f_error_type))
        });
        self.audit.emit_with(ctx, || N32Audit::ResponseVerified {
            sepp: net.topo.name(link.0).to_string(),
            msg: number,
            decrypted: done.decrypted,
            jws_verified: done.jws_verified,
            error: opened.as_ref().err().map(|e| match e {
                Some(t) => wire_name(t),
                None => "UNREADABLE".to_string(),
            }),
        });
        let opened = opened.ok();
        if let Some(u) = opened.as_ref().filter(|u| (200..300).contains(&u.message.status)) {
            self.audit.emit_with(ctx, || N32Audit::ResponseAccepted {
                sepp: net.topo.name(link.0).to_string(),
                msg: number,
                status: u.message.status,
            });
        }
        let plain_total = plain_bytes + opened.as_ref().map_or(0, |u| u.message.body.to_string().len() + 40);
        records.push(Record {
            procedure: "n32f_message",
            flow: String::new(),
            variant: "PRINS".into(),
            result: String::new(),
            cause: String::new(),
            initiator: net.topo.name(link.0).to_string(),
            responder: net.topo.name(link.1).to_string(),
            via: String::new(),
            start_ns: sent.as_nanos(),
            end_ns: now.as_nanos(),
            outcome: if opened.is_some() { Outcome::Ok } else { Outcome::Error },
            status: rsp.status,
            new_connection: false,
            round_trips: 0,
            overhead_bytes: ((protected_bytes + rsp.body.len()) as u64).saturating_sub(plain_total as u64),
            bytes: (protected_bytes + rsp.body.len()) as u64,
        });
        match opened {
            Some(u) => (
                HttpResponse {
                    headers: Default::default(),
                    typed: None,
                    status: u.message.status,
                    schema: "UEAuthenticationCtx",
                    body: u.message.body.to_string(),
                },
                delay,
            ),
            None => (
                HttpResponse {
                    headers: Default::default(),
                    typed: None,
                    status: 502,
                    schema: "ProblemDetails",
                    body: ProblemDetails::with_cause(502, "N32F_PROTECTION_FAILURE").to_json(),
                },
                delay,
            ),
        }
    }

    /// The fault to inject into the next PRINS message, per the experiment's fault list (the
    /// caller records it in [`N32Plane::injected`] once it is applied).
    fn fault_for(&self, ris: &[NodeId]) -> Option<prins::fault::Fault> {
        let n = self.message_ids;
        let kind = self
            .spec
            .faults
            .iter()
            .find(|f| f.every > 0 && n.is_multiple_of(f.every))?
            .kind;
        let ri = ris.first().and_then(|r| self.ri_identities.get(r)).cloned();
        Some(kind.to_fault(ri))
    }
}

/// A Roaming Intermediary on the network: the sans-IO [`roaming::Ri`] plus its node.
struct RiActor {
    ri: roaming::Ri,
    /// Direct-TLS attempts seen (flow ids for the RI machine).
    direct_attempts: u64,
}

fn plmn_of(net: &Network, node: NodeId) -> String {
    net.topo.domain_of(node).name.clone()
}

impl RiActor {
    fn new(spec: &N32Spec, name: &str, _node: NodeId, seed: u64) -> BuildResult<RiActor> {
        let policy = spec.ri_policies.get(name).cloned().unwrap_or_default();
        let mut rng = stream(seed, &format!("ri-policy-key:{name}"));
        let ri =
            roaming::Ri::new(ri_fqdn(name), policy, &mut rng).map_err(|e| format!("n32.ri_policies[{name}]: {e}"))?;
        Ok(RiActor { ri, direct_attempts: 0 })
    }

    /// What the network does to a direct (non-CONNECT) N32-c connection from `csepp` to
    /// `psepp` that passes this RI, decided when the c-SEPP opens it.
    fn direct_reaction(&mut self, net: &Network, now: SimTime, csepp: NodeId, psepp: NodeId) -> Option<Intercept> {
        // Each attempt is its own flow at the RI (ids above 2^63 never collide with CONNECT
        // flows, which use connection ids).
        self.direct_attempts += 1;
        let id = roaming::FlowId((1 << 63) + self.direct_attempts);
        if let Err(e) = self
            .ri
            .handle_direct_tls(now, id, &plmn_of(net, csepp), &plmn_of(net, psepp))
        {
            debug_assert!(false, "a fresh flow accepts DirectTls: {e}");
            return None;
        }
        let mut action = None;
        while let Some(e) = self.ri.poll_effect() {
            if let roaming::Effect::DirectRefusal { effect, .. } = e {
                action = Some(match effect {
                    roaming::DirectEffect::DropSilently => Intercept::Drop,
                    roaming::DirectEffect::ResetAtTcp => Intercept::Reset,
                    roaming::DirectEffect::AlertAfterClientHello { .. } => Intercept::AlertOnClientHello,
                    roaming::DirectEffect::NoRoute => Intercept::NoRoute,
                });
            }
        }
        if action.is_none() {
            // Let through: the RI forgets the flow once it closes (bounded state).
            let _closed = self.ri.handle_close(now, id);
            while self.ri.poll_effect().is_some() {}
        }
        action
    }

    /// A c-SEPP asks for a tunnel (TS 29.573 5.2.X.2): accept, or refuse with 403. Returns
    /// the status of a refusal.
    fn on_connect(
        &mut self,
        net: &mut Network,
        ctx: &mut Ctx<'_, Msg>,
        conn: ConnId,
        client: NodeId,
        target: NodeId,
    ) -> Option<u16> {
        let id = roaming::FlowId(u64::from(conn));
        let r = self
            .ri
            .handle_connect(ctx.now(), id, &plmn_of(net, client), &plmn_of(net, target));
        if r.is_err() {
            net.refuse_connect(ctx, conn, 400, None, vec![], "");
            return Some(400);
        }
        let mut refused = None;
        while let Some(e) = self.ri.poll_effect() {
            match e {
                roaming::Effect::OpenTunnel { .. } => net.accept_connect(ctx, conn),
                //= TS 29.573 5.2.X.2 step 3: the RI answers the CONNECT with an HTTP error
                roaming::Effect::Reject { rejection, .. } => {
                    refused = Some(rejection.status);
                    if mutant::is(Mutant::N32(N32Mutant::ContextAfterRefusal)) {
                        // Mutant: the refusal is decided, but the tunnel opens.
                        net.accept_connect(ctx, conn);
                        continue;
                    }
                    net.refuse_connect(
                        ctx,
                        conn,
                        rejection.status,
                        Some(rejection.body),
                        rejection.headers,
                        rejection.schema,
                    );
                }
                _ => {}
            }
        }
        refused
    }
}

impl N32Plane {
    fn caps(list: &Option<Vec<SecurityCapability>>, default: [SecurityCapability; 2]) -> Vec<SecurityCapability> {
        list.clone().unwrap_or_else(|| default.to_vec())
    }

    /// The FQDN a SEPP presents (its N32-c certificate names the node).
    fn fqdn(net: &Network, node: NodeId) -> String {
        format!("{}.5gc.example", net.topo.name(node))
    }

    fn local_params(&self, net: &Network, node: NodeId) -> LocalParams {
        LocalParams::new(Self::fqdn(net, node), self.protection_policy.clone())
    }

    /// The SEPP's N32-c responder (created on first use).
    fn responder(&mut self, net: &Network, node: NodeId) -> &mut Responder {
        if !self.responders.contains_key(&node) {
            let mut cfg = ResponderConfig::new(self.local_params(net, node));
            cfg.capability = LocalCapPolicy {
                supported: Self::caps(
                    &self.spec.responder_capabilities,
                    [SecurityCapability::Tls, SecurityCapability::Prins],
                ),
                prefer: self.spec.preference,
            };
            cfg.tls_close = self.spec.tls_close;
            self.responders.insert(node, Responder::new(cfg));
        }
        self.responders.get_mut(&node).expect("inserted above")
    }

    /// The c-SEPP starts (or re-starts) N32 with the p-SEPP (TS 29.573 5.2.2).
    fn start_handshake(
        &mut self,
        net: &mut Network,
        ctx: &mut Ctx<'_, Msg>,
        link_key: (NodeId, NodeId),
        records: &mut Vec<Record>,
    ) {
        let Some(link) = self.links.get(&link_key) else {
            return;
        };
        let via = self.flows[link.flow as usize].n32c_via;
        if via.is_none() {
            // Direct TLS on N32-c: every RI on the route decides now whether to carry it
            // (seed 000 FFS 1); the network applies the reaction of one that will not.
            let path = net.topo.path(link_key.0, link_key.1).unwrap_or_default();
            let on_path: Vec<NodeId> = path
                .iter()
                .filter_map(|&e| net.topo.graph.edge_endpoints(e).map(|(_, b)| b.index() as NodeId))
                .filter(|n| self.ris.contains_key(n))
                .collect();
            let mut action = None;
            for ri in on_path {
                let a = self
                    .ris
                    .get_mut(&ri)
                    .and_then(|r| r.direct_reaction(net, ctx.now(), link_key.0, link_key.1));
                if let Some(a) = a {
                    action = Some((ri, a));
                    break;
                }
            }
            match action {
                Some((ri, a)) => net.set_intercept(ri, link_key.0, link_key.1, Some(a)),
                None => net.set_intercept(0, link_key.0, link_key.1, None),
            }
        }
        if let Some(link) = self.links.get_mut(&link_key) {
            link.machine_msgs = 0;
        }
        self.drive(net, ctx, link_key, Input::Start, records);
    }

    /// Feeds `input` to the c-SEPP's initiator machine and carries out its outputs.
    fn drive(
        &mut self,
        net: &mut Network,
        ctx: &mut Ctx<'_, Msg>,
        link_key: (NodeId, NodeId),
        input: Input,
        records: &mut Vec<Record>,
    ) {
        let now = ctx.now();
        let Some(link) = self.links.get_mut(&link_key) else {
            return;
        };
        let rng = self.node_rng.get_mut(&link_key.0).expect("sepp rng");
        link.machine.handle(now, rng, input);
        let outputs = link.machine.drain_outputs();
        let via = self.flows[link.flow as usize].n32c_via;
        for out in outputs {
            match out {
                Output::Send(req) => {
                    let http = HttpRequest {
                        headers: Default::default(),
                        typed: None,
                        method: "POST",
                        path: req.path().into(),
                        schema: req.schema(),
                        body: req.to_json(),
                    };
                    let wire = u64::from(http.wire_bytes());
                    let (c, s) = net.request(ctx, link_key.0, link_key.1, via, http);
                    if let N32cRequest::ExchangeCapability(body) = &req {
                        self.audit.emit_with(ctx, || N32Audit::CapabilityOffered {
                            sepp: net.topo.name(link_key.0).to_string(),
                            peer: net.topo.name(link_key.1).to_string(),
                            conn: u64::from(c),
                            stream: s,
                            offered: body
                                .supported_sec_capability_list
                                .iter()
                                .map(|c| c.as_str().to_string())
                                .collect(),
                        });
                    }
                    if let Some(link) = self.links.get_mut(&link_key) {
                        // The first N32-c connection's exporter keys N32-f (TS 33.501 13.2.4.4.1).
                        if req.op() == Op::ExchangeCapability || link.conn.is_none() {
                            link.conn = Some(c);
                            // Bytes this handshake puts on the (possibly reused) connection.
                            link.bytes_base = net.conn(c).bytes.saturating_sub(wire);
                        }
                        link.machine_msgs += 1;
                    }
                    self.pending.insert(
                        (c, s),
                        Pending::N32c {
                            link: link_key,
                            op: req.op(),
                        },
                    );
                }
                Output::SetTimer { timer, at } => {
                    let Some(link) = self.links.get_mut(&link_key) else {
                        continue;
                    };
                    if let Some(old) = link.timers.remove(&timer) {
                        ctx.cancel(old);
                    }
                    let id = ctx.set_timer_for(
                        link_key.0,
                        at - now,
                        Msg::N32(N32Msg::Initiator { link: link_key, timer }),
                    );
                    link.timers.insert(timer, id);
                }
                Output::CancelTimer { timer } => {
                    if let Some(old) = self.links.get_mut(&link_key).and_then(|l| l.timers.remove(&timer)) {
                        ctx.cancel(old);
                    }
                }
                Output::CloseN32c => {
                    //= TS 29.573 5.2.2: TLS selected: the N32-c connection is terminated.
                    if let Some(c) = self.links.get(&link_key).and_then(|l| l.conn) {
                        net.close_conn(c);
                    }
                }
                Output::Established { capability, context } => match (capability, context) {
                    (SecurityCapability::Prins, Some(context)) => {
                        let conn = self.links.get(&link_key).and_then(|l| l.conn);
                        let secrets = conn.and_then(|c| net.conn(c).tls.client_secrets.clone());
                        let master = master_of(secrets.as_ref(), conn.unwrap_or(0), self.seed);
                        let keys = derive_keys(&master, &context, KdfContextId::Receiver);
                        if self.audit.active(ctx) {
                            let (sepp, peer) = (net.topo.name(link_key.0), net.topo.name(link_key.1));
                            let conn = conn.map_or(0, u64::from);
                            self.audit.emit(
                                ctx,
                                N32Audit::Established {
                                    sepp: sepp.to_string(),
                                    peer: peer.to_string(),
                                    conn,
                                    capability: SecurityCapability::Prins.as_str().to_string(),
                                },
                            );
                            self.audit.emit(
                                ctx,
                                N32Audit::ContextInstalled {
                                    sepp: sepp.to_string(),
                                    peer: peer.to_string(),
                                    role: "initiator".into(),
                                    conn,
                                    local_id: context.local_id.to_string(),
                                    peer_id: context.peer_id.to_string(),
                                    capability: context.capability.as_str().to_string(),
                                    keys: keys_fingerprint(&keys, &context.jws),
                                },
                            );
                        }
                        let send = PrinsSend {
                            peer_id: context.peer_id.as_str().to_string(),
                            local_id: context.local_id.as_str().to_string(),
                            nonces: NonceSequence::new(keys.get(Direction::ParallelRequest).iv_salt),
                            keys,
                            enc: jose_enc(context.jwe),
                        };
                        self.responder(net, link_key.0).adopt(context);
                        if let Some(link) = self.links.get_mut(&link_key) {
                            link.state = LinkState::Prins(Box::new(send));
                        }
                        self.established(net, ctx, link_key, "PRINS", records);
                    }
                    (c, _) => {
                        if let Some(link) = self.links.get_mut(&link_key) {
                            link.state = LinkState::Tls;
                        }
                        self.audit.emit_with(ctx, || N32Audit::Established {
                            sepp: net.topo.name(link_key.0).to_string(),
                            peer: net.topo.name(link_key.1).to_string(),
                            conn: self.links.get(&link_key).and_then(|l| l.conn).map_or(0, u64::from),
                            capability: c.as_str().to_string(),
                        });
                        let name = serde_json::to_value(&c)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_string));
                        self.established(net, ctx, link_key, &name.unwrap_or_else(|| "TLS".into()), records);
                    }
                },
                Output::ContextReleased { context } => {
                    self.audit.emit_with(ctx, || N32Audit::ContextTerminated {
                        sepp: net.topo.name(link_key.0).to_string(),
                        context_id: context.local_id.to_string(),
                        reason: "Released".into(),
                    });
                    self.responder(net, link_key.0).remove(&context.local_id);
                    self.release_send_context(link_key, Some(context.local_id.as_str()));
                }
                Output::Failed { status, problem } => {
                    let cause = problem
                        .as_ref()
                        .and_then(|p| p.cause.clone())
                        .unwrap_or_else(|| "TIMEOUT".into());
                    let outcome = if status.is_none() {
                        Outcome::Timeout
                    } else {
                        Outcome::Error
                    };
                    self.fail_link(net, ctx, link_key, outcome, status.unwrap_or(0), cause, records);
                }
                Output::TornDown => {
                    if let Some(link) = self.links.get_mut(&link_key) {
                        link.state = LinkState::Idle;
                    }
                }
            }
        }
        // Requests that arrived while a context was being torn down start the next one.
        // (The machine ignores Start while Terminating; it is back in Idle once the peer
        // answered the n32f-terminate.)
        if let Some(link) = self.links.get(&link_key)
            && matches!(link.state, LinkState::Idle | LinkState::Handshaking)
            && !link.waiting.is_empty()
            && link.machine.state() == InitiatorState::Idle
        {
            self.begin_handshake(net, ctx, link_key, records);
        }
    }

    /// The link enters the handshake (requests now wait for it) and the machine starts.
    fn begin_handshake(
        &mut self,
        net: &mut Network,
        ctx: &mut Ctx<'_, Msg>,
        link_key: (NodeId, NodeId),
        records: &mut Vec<Record>,
    ) {
        if let Some(link) = self.links.get_mut(&link_key) {
            link.state = LinkState::Handshaking;
            link.started = ctx.now();
        }
        self.start_handshake(net, ctx, link_key, records);
    }

    /// A SEPP answers an N32-c request with its responder machine.
    fn at_responder(
        &mut self,
        net: &mut Network,
        ctx: &mut Ctx<'_, Msg>,
        node: NodeId,
        client: NodeId,
        key: (ConnId, u32),
        req: HttpRequest,
    ) {
        let now = ctx.now();
        let peer = Self::fqdn(net, client);
        let mut rng = self
            .node_rng
            .remove(&node)
            .unwrap_or_else(|| stream(self.seed, "n32:responder"));
        let reply = self
            .responder(net, node)
            .handle_raw(now, &mut rng, &peer, &req.path, &req.body);
        self.node_rng.insert(node, rng);
        if reply.status == 200 && req.path == Op::ExchangeCapability.path() && self.audit.active(ctx) {
            // What the 200 answer selected, against the responder's configured list.
            let selected = reply
                .body
                .as_deref()
                .and_then(|b| serde_json::from_str::<types::SecNegotiateRspData>(b).ok())
                .map(|r| r.selected_sec_capability.as_str().to_string())
                .unwrap_or_default();
            let supported = self.responder(net, node).config().capability.supported.clone();
            self.audit.emit(
                ctx,
                N32Audit::CapabilitySelected {
                    sepp: net.topo.name(node).to_string(),
                    peer: net.topo.name(client).to_string(),
                    conn: u64::from(key.0),
                    stream: key.1,
                    supported: supported.iter().map(|c| c.as_str().to_string()).collect(),
                    selected,
                },
            );
        }
        let rsp = HttpResponse {
            headers: Default::default(),
            typed: None,
            status: reply.status,
            schema: reply.schema.unwrap_or(""),
            body: reply.body.unwrap_or_default(),
        };
        net.respond(ctx, key.0, key.1, rsp);
        for e in reply.events {
            match e {
                ResponderEvent::ContextEstablished { context } => {
                    let secrets = net.conn(key.0).tls.server_secrets.clone();
                    let master = master_of(secrets.as_ref(), key.0, self.seed);
                    let keys = derive_keys(&master, &context, KdfContextId::Receiver);
                    self.audit.emit_with(ctx, || N32Audit::ContextInstalled {
                        sepp: net.topo.name(node).to_string(),
                        peer: net.topo.name(client).to_string(),
                        role: "responder".into(),
                        conn: u64::from(key.0),
                        local_id: context.local_id.to_string(),
                        peer_id: context.peer_id.to_string(),
                        capability: context.capability.as_str().to_string(),
                        keys: keys_fingerprint(&keys, &context.jws),
                    });
                    let recv = PrinsRecv {
                        nonces: NonceSequence::new(keys.get(Direction::ParallelResponse).iv_salt),
                        keys,
                        enc: jose_enc(context.jwe),
                        peer_id: context.peer_id.as_str().to_string(),
                    };
                    self.recv.insert((node, context.local_id.as_str().to_string()), recv);
                }
                ResponderEvent::ContextTerminated { context, reason } => {
                    self.audit.emit_with(ctx, || N32Audit::ContextTerminated {
                        sepp: net.topo.name(node).to_string(),
                        context_id: context.local_id.to_string(),
                        reason: format!("{reason:?}"),
                    });
                    self.recv.remove(&(node, context.local_id.as_str().to_string()));
                }
                ResponderEvent::ErrorReported { info, .. } => {
                    let id = info.n32f_message_id.parse::<u64>().unwrap_or(0);
                    let t = serde_json::to_value(&info.n32f_error_type)
                        .ok()
                        .and_then(|v| serde_json::from_value::<prins::N32fErrorType>(v).ok());
                    if let Some(t) = t {
                        self.detected.push((id, t));
                    }
                }
                ResponderEvent::Send { request, .. } => {
                    // A request of the responder's own (e.g. a policy-mismatch report), on
                    // a second N32-c connection (TS 29.573 5.2.3).
                    let http = HttpRequest {
                        headers: Default::default(),
                        typed: None,
                        method: "POST",
                        path: request.path().into(),
                        schema: request.schema(),
                        body: request.to_json(),
                    };
                    let _ = net.request(ctx, node, client, None, http);
                }
                // The initiator closes N32-c itself after a TLS selection; context updates
                // change nothing the network needs.
                ResponderEvent::CloseN32c { .. }
                | ResponderEvent::CapabilitySelected { .. }
                | ResponderEvent::ContextUpdated { .. }
                | ResponderEvent::TornDown { .. } => {}
            }
        }
    }

    /// The c-SEPP hands an N32-c answer to its initiator machine.
    #[allow(clippy::too_many_arguments)]
    fn on_n32c_response(
        &mut self,
        net: &mut Network,
        ctx: &mut Ctx<'_, Msg>,
        _csepp: NodeId,
        link_key: (NodeId, NodeId),
        _conn: ConnId,
        op: Op,
        rsp: HttpResponse,
        records: &mut Vec<Record>,
    ) {
        let body = serde_json::from_str(&rsp.body).unwrap_or(Value::Null);
        self.drive(
            net,
            ctx,
            link_key,
            Input::Response {
                op,
                status: rsp.status,
                body,
            },
            records,
        );
    }

    /// N32 is up: record the handshake and release the waiting requests.
    fn established(
        &mut self,
        net: &mut Network,
        ctx: &mut Ctx<'_, Msg>,
        link_key: (NodeId, NodeId),
        capability: &str,
        records: &mut Vec<Record>,
    ) {
        let Some(link) = self.links.get_mut(&link_key) else {
            return;
        };
        let waiting = std::mem::take(&mut link.waiting);
        let (start, flow) = (link.started, link.flow);
        let bytes = link
            .conn
            .map_or(0, |c| net.conn(c).bytes.saturating_sub(link.bytes_base));
        self.handshake_record(
            net,
            link_key,
            flow,
            start,
            ctx.now(),
            capability,
            Outcome::Ok,
            200,
            bytes,
            records,
        );
        for (back, body) in waiting {
            self.forward(net, ctx, link_key, back, body);
        }
    }

    /// The handshake failed: record it and answer every waiting cNF request.
    #[allow(clippy::too_many_arguments)]
    fn fail_link(
        &mut self,
        net: &mut Network,
        ctx: &mut Ctx<'_, Msg>,
        link_key: (NodeId, NodeId),
        outcome: Outcome,
        status: u16,
        cause: String,
        records: &mut Vec<Record>,
    ) {
        let now = ctx.now();
        let Some(link) = self.links.get_mut(&link_key) else {
            return;
        };
        link.state = LinkState::Failed { at: now };
        let waiting = std::mem::take(&mut link.waiting);
        let (start, flow) = (link.started, link.flow);
        self.handshake_record(net, link_key, flow, start, now, &cause, outcome, status, 0, records);
        let (status, body) = self.cnf_answer_for_failure(link_key);
        for (back, _) in waiting {
            net.respond(
                ctx,
                back.0,
                back.1,
                HttpResponse {
                    headers: Default::default(),
                    typed: None,
                    status,
                    schema: "ProblemDetails",
                    body: body.clone(),
                },
            );
        }
    }

    fn handshake_failed(
        &mut self,
        net: &mut Network,
        ctx: &mut Ctx<'_, Msg>,
        link_key: (NodeId, NodeId),
        cause: &ConnFailure,
        records: &mut Vec<Record>,
    ) {
        let (outcome, status, why) = match cause {
            ConnFailure::Refused { status, body, headers } => {
                //= TS 29.573 5.2.X.2 step 4: the c-SEPP answers the cNF, using the RI's
                //= suggested status and application error as its policy says.
                let via = self
                    .links
                    .get(&link_key)
                    .and_then(|l| self.flows[l.flow as usize].n32c_via);
                let ri = via.and_then(|v| self.ris.get(&v));
                let enc = ri.map(|r| r.ri.policy().rejection.encoding).unwrap_or_default();
                let key = ri.map(|r| r.ri.verifying_key());
                let rejection = roaming::Rejection {
                    status: *status,
                    body: body.clone().unwrap_or_default(),
                    schema: "ProblemDetails",
                    headers: headers.clone(),
                };
                let suggestion = roaming::decode_rejection(enc, &rejection, key.as_ref());
                let (cnf_status, problem) = roaming::answer_to_cnf(&self.spec.csepp_mapping, &suggestion);
                let ri_cause = serde_json::from_str::<Value>(rejection.body.as_str())
                    .ok()
                    .and_then(|v| v.get("cause").and_then(Value::as_str).map(str::to_string))
                    .unwrap_or_else(|| "REFUSED_BY_RI".into());
                if let Some(link) = self.links.get_mut(&link_key) {
                    link.answer = Some((cnf_status, serde_json::to_string(&problem).unwrap_or_default()));
                }
                (Outcome::Refused, *status, ri_cause)
            }
            ConnFailure::Unreachable => (Outcome::Unreachable, 0, "UNREACHABLE".into()),
            ConnFailure::Reset => (Outcome::Unreachable, 0, "CONNECTION_RESET".into()),
            ConnFailure::Tls(t) => (Outcome::Error, 0, format!("TLS_{}", t.alert.to_uppercase())),
        };
        // The connection failed under the initiator's outstanding request: it starts over
        // from Idle (its response timer would otherwise report the same failure again).
        if let Some(link) = self.links.get_mut(&link_key) {
            for (_, id) in std::mem::take(&mut link.timers) {
                ctx.cancel(id);
            }
            link.machine = Initiator::new(link.machine.config().clone());
        }
        self.fail_link(net, ctx, link_key, outcome, status, why, records);
    }

    /// What the c-SEPP answers the cNF while N32 with the peer is down: after an RI's
    /// refusal, the answer its mapping policy derived; otherwise its own 504.
    fn cnf_answer_for_failure(&self, link_key: (NodeId, NodeId)) -> (u16, String) {
        if let Some((status, body)) = self.links.get(&link_key).and_then(|l| l.answer.clone()) {
            return (status, body);
        }
        (504, ProblemDetails::with_cause(504, roaming::OWN_CAUSE).to_json())
    }

    /// The p-SEPP reports an N32-f fault on message `msg` to the c-SEPP on N32-c (TS 29.573
    /// 5.2.5).
    fn report_error(
        &mut self,
        net: &mut Network,
        ctx: &mut Ctx<'_, Msg>,
        psepp: NodeId,
        msg: u64,
        fault: &prins::N32fFault,
    ) {
        let Some(csepp) = self.flows.iter().find(|f| f.psepp == psepp).map(|f| f.csepp) else {
            return;
        };
        let mut info = error_reporting::from_prins_fault(fault);
        if fault.n32f_error_type == prins::N32fErrorType::ContextNotFound {
            // The reporter has no such context and cannot name one the peer would know.
            info.n32f_context_id = None;
        }
        // Mutant: the report goes out twice.
        let copies = if mutant::is(Mutant::N32(N32Mutant::DoubleFaultReport)) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            self.audit.emit_with(ctx, || N32Audit::ErrorReported {
                sepp: net.topo.name(psepp).to_string(),
                peer: net.topo.name(csepp).to_string(),
                msg,
                message_id: info.n32f_message_id.clone(),
                error_type: info.n32f_error_type.as_str().to_string(),
            });
            let req = N32cRequest::ReportError(info.clone());
            let http = HttpRequest {
                headers: Default::default(),
                typed: None,
                method: "POST",
                path: req.path().into(),
                schema: req.schema(),
                body: req.to_json(),
            };
            let _ = net.request(ctx, psepp, csepp, None, http);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn handshake_record(
        &self,
        net: &Network,
        link: (NodeId, NodeId),
        flow: u32,
        start: SimTime,
        end: SimTime,
        detail: &str,
        outcome: Outcome,
        status: u16,
        bytes: u64,
        records: &mut Vec<Record>,
    ) {
        let f = &self.flows[flow as usize];
        // A success's detail is the agreed capability, a failure's its cause.
        let (result, cause) = match outcome {
            Outcome::Ok => (detail.to_string(), String::new()),
            _ => (String::new(), detail.to_string()),
        };
        records.push(Record {
            procedure: "n32_handshake",
            flow: f.label.clone(),
            variant: String::new(),
            result,
            cause,
            initiator: net.topo.name(link.0).to_string(),
            responder: net.topo.name(link.1).to_string(),
            via: f.n32c_via.map(|v| net.topo.name(v).to_string()).unwrap_or_default(),
            start_ns: start.as_nanos(),
            end_ns: end.as_nanos(),
            outcome,
            status,
            new_connection: true,
            round_trips: self.links.get(&link).map_or(0, |l| l.machine_msgs),
            overhead_bytes: 0,
            bytes,
        });
    }
}

/// The N32 master key of connection `conn` (TS 33.501 13.2.4.4.1); in `timing` fidelity a
/// stand-in derived from the seed and connection id (no TLS secrets are computed there).
fn master_of(secrets: Option<&crate::crypto::tls13::Tls13Secrets>, conn: ConnId, seed: u64) -> N32Master {
    match secrets {
        Some(s) => N32Master::from_tls13(s),
        None => {
            use sha2::{Digest, Sha512};
            let h = Sha512::new()
                .chain_update(seed.to_be_bytes())
                .chain_update(conn.to_be_bytes())
                .finalize();
            let mut b = [0u8; 64];
            b.copy_from_slice(&h);
            N32Master::from_bytes(b)
        }
    }
}

impl crate::scenario::N32FaultKind {
    /// The PRINS fault this kind injects (`ri`: the authorized RI, for RI faults).
    pub fn to_fault(self, ri: Option<RiIdentity>) -> prins::fault::Fault {
        use crate::scenario::N32FaultKind as K;
        use prins::fault::Fault;
        let rogue = || RiIdentity {
            fqdn: "rogue-ri.example".into(),
            key: pki::key_from_rng(&mut stream(0, "rogue-ri")),
        };
        match self {
            K::TamperCiphertext => Fault::TamperCiphertext,
            K::TamperAad => Fault::TamperAad,
            // Without an authorized RI on the path the tampering modification is signed by a
            // party the p-SEPP does not know: an unauthorised RI, whatever it changes (found by
            // the property tests on a mesh without RIs, where the receiver rightly reported
            // INTEGRITY_CHECK_ON_MODIFICATIONS_FAILED).
            K::TamperingRi => match ri {
                Some(ri) => Fault::TamperModification(ri),
                None => Fault::UnauthorisedRi(rogue()),
            },
            K::UnauthorisedRi => Fault::UnauthorisedRi(rogue()),
            K::WrongKey => Fault::WrongKey,
            K::UnknownContext => Fault::UnknownContext,
        }
    }
}

impl N32Plane {
    /// Every c-SEPP terminates its PRINS contexts with `n32f-terminate` (TS 29.573 5.2.4).
    fn terminate_all(&mut self, net: &mut Network, ctx: &mut Ctx<'_, Msg>, records: &mut Vec<Record>) {
        let keys: Vec<(NodeId, NodeId)> = self.links.keys().copied().collect();
        for key in keys {
            if matches!(self.links.get(&key).map(|l| &l.state), Some(LinkState::Prins(_))) {
                self.drive(net, ctx, key, Input::TerminateRequested, records);
                self.release_send_context(key, None);
            }
        }
    }

    /// The c-SEPP stops sending under its PRINS context on `link_key` (only if it is
    /// `local_id`, when given): requests wait for the next handshake.
    fn release_send_context(&mut self, link_key: (NodeId, NodeId), local_id: Option<&str>) {
        // Mutant: the send state outlives the released context.
        if mutant::is(Mutant::N32(N32Mutant::UseTerminatedContext)) {
            return;
        }
        if let Some(link) = self.links.get_mut(&link_key)
            && matches!(&link.state, LinkState::Prins(p) if local_id.is_none_or(|id| p.local_id == id))
        {
            link.state = LinkState::Idle;
        }
    }
}

impl N32Plane {
    /// For every established PRINS context: whether the c-SEPP's and the p-SEPP's N32-f keys
    /// are equal (both derived from the same N32-c exporter and context ids).
    pub fn key_agreement(&self) -> Vec<bool> {
        self.links
            .iter()
            .filter_map(|(&(_, psepp), l)| match &l.state {
                LinkState::Prins(p) => Some(self.recv.get(&(psepp, p.peer_id.clone())).is_some_and(|r| {
                    r.peer_id == p.local_id
                        && crate::crypto::n32f::Direction::ALL
                            .iter()
                            .all(|&d| r.keys.get(d) == p.keys.get(d))
                })),
                _ => None,
            })
            .collect()
    }
}
