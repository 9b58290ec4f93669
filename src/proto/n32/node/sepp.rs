//! A SEPP, in both roles. As c-SEPP it holds a link per p-SEPP: its N32-c initiator, the cNF
//! requests waiting for N32, and once PRINS is up its N32-f send context (keys and request
//! nonces); it forwards requests over N32-f TLS or PRINS, opens the answers, fails fast
//! after a failed handshake and retries after the back-off. As p-SEPP it answers N32-c with
//! its responder, keeps its N32-f receive contexts (keys and response nonces), opens PRINS
//! requests, forwards them to its pNF, protects the answers and reports faults on N32-c.
//!
//! N32-f keys come from the exporter of the first N32-c TLS connection (TS 33.501
//! 13.2.4.4.1), the initiator from its client secrets and the responder from its server
//! secrets of the same connection (the node's own TLS stack hands them over with the input,
//! [`Sepp::set_tls_secrets`]); in `timing` fidelity, which computes no TLS secrets, both
//! sides use a master derived from the connection id (documented stand-in).

use std::collections::{BTreeMap, BTreeSet};

use p256::ecdsa::VerifyingKey;
use serde_json::Value;

use crate::audit::mutant::{self, Mutant};
use crate::audit::n32::{N32Audit, N32Mutant};
use crate::crypto::cost::CryptoOp;
use crate::crypto::jose::Enc;
use crate::crypto::n32f::{Direction, JweEnc, KdfContextId, N32Master, N32fKeys, NonceSequence};
use crate::crypto::tls13::Tls13Secrets;
use crate::engine::{SimDuration, SimRng, SimTime};
use crate::metrics::{Outcome, Record};
use crate::net::conn::ConnFailure;
use crate::net::http::Typed;
use crate::net::tls::TlsMode;
use crate::net::{ConnId, HttpRequest, HttpResponse, NodeId};
use crate::proto::common::ProblemDetails;
use crate::proto::effect::{ConnRef, Corr, Effect, Effects, Inbound, Input, Machine};
use crate::proto::n32::error_reporting;
use crate::proto::n32::parameter_exchange::derive_keys;
use crate::proto::n32::prins::{self, ContextKeys, HttpMessage, PolicyView, RecvContext, RiIdentity, SendContext};
use crate::proto::n32::sepp::{
    Initiator, InitiatorConfig, Input as InitiatorInput, N32cRequest, Op, Output, Responder, ResponderConfig,
    ResponderEvent, State as InitiatorState,
};
use crate::proto::n32::types::{self, SecurityCapability};
use crate::proto::roaming::node::forwarding_failed;
use crate::proto::roaming::{self, CseppMapping, SuggestionEncoding};
use crate::scenario::N32FaultSpec;

use super::{N32C_PREFIX, N32F_PATH, Names, Numbering, PrinsRoute, SBI_PATH, SbiTarget, Timer, problem, unfinished};

/// A workload flow this SEPP is the c-SEPP of.
pub struct SeppFlow {
    /// The flow's label in records.
    pub label: String,
    /// The p-SEPP.
    pub psepp: NodeId,
    /// The RI whose CONNECT tunnel carries N32-c (and N32-f TLS), if any.
    pub via: Option<NodeId>,
    /// The RIs a PRINS message crosses, in order.
    pub ris: Vec<NodeId>,
    /// The IPX provider authorized to modify (the first RI's FQDN; none below full crypto
    /// fidelity, where RIs sign nothing).
    pub authorized_ipx: Option<String>,
    /// The fault injector's tampering RI: the first RI's signing identity (an experiment
    /// knob standing in for a compromised IPX, not the SEPP's knowledge).
    pub fault_ri: Option<RiIdentity>,
}

/// What a SEPP answers for as p-SEPP (from the first flow it is the p-SEPP of).
#[derive(Default)]
pub struct ProducerSide {
    /// Its pNF (where opened requests go).
    pub pnf: Option<NodeId>,
    /// The c-SEPP it reports N32-f faults to.
    pub csepp: Option<NodeId>,
    /// Its own IPX provider (the p-side RI, which signs last), if the path has two RIs and
    /// RIs sign (full fidelity).
    pub local_ri: Option<String>,
    /// The number of RIs on the path (each adds a signature to verify).
    pub path_ris: u64,
}

/// A SEPP's configuration (given at build).
pub struct SeppConfig {
    /// Its own address.
    pub node: NodeId,
    /// The address book (peer FQDNs on N32-c, records, audit facts).
    pub names: Names,
    /// Its N32-c initiator configuration (same towards every peer).
    pub initiator: InitiatorConfig,
    /// Its N32-c responder configuration.
    pub responder: ResponderConfig,
    /// The protection policy it applies (TS 29.573 5.2.3).
    pub policy: PolicyView,
    /// After a failed or refused handshake, requests fail at once for this long.
    pub retry_after: SimDuration,
    /// The flows it is the c-SEPP of, by workload index.
    pub flows: BTreeMap<u32, SeppFlow>,
    /// The fault injector's schedule (an experiment knob, applied to the messages it sends).
    pub faults: Vec<N32FaultSpec>,
    /// The JWS keys of the IPX providers it trusts, by FQDN (the IPX provider security
    /// information of N32-c parameter exchange): the RIs on the N32-f paths of its flows,
    /// as c-SEPP and as p-SEPP.
    pub ipx_keys: BTreeMap<String, VerifyingKey>,
    /// For each RI whose CONNECT tunnel it uses: how that RI encodes its refusal suggestion
    /// and the RI's verifying key (its IPX provider agreement).
    pub ri_rejections: BTreeMap<NodeId, (SuggestionEncoding, VerifyingKey)>,
    /// How it maps an RI's refusal to its answer to the cNF.
    pub mapping: CseppMapping,
    /// Its p-SEPP side.
    pub producer: ProducerSide,
    /// Whether signatures are computed (full crypto fidelity).
    pub full: bool,
    /// The run's seed: the `timing`-fidelity stand-in for N32-c exporter secrets.
    pub seed: u64,
}

/// An outstanding request of this SEPP's.
enum Pending {
    /// c-SEPP → p-SEPP over N32-f, answering the cNF's request `back`.
    N32f {
        peer: NodeId,
        back: Inbound,
        plain_bytes: usize,
        /// Its protected size (N32fReformattedReqMsg JSON), 0 for N32-f TLS.
        protected_bytes: usize,
        /// When it was sent.
        sent: SimTime,
        /// PRINS: how to open the answer.
        open: Option<Box<OpenWith>>,
    },
    /// p-SEPP → pNF, answering the N32-f request `back`.
    ToPnf {
        back: Inbound,
        /// PRINS: its context id, the metadata message id and the message's number.
        prins: Option<(String, u64, u64)>,
    },
    /// c-SEPP → p-SEPP on N32-c.
    N32c { peer: NodeId, op: Op },
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

/// The state of N32 with a p-SEPP.
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

/// The c-SEPP's N32-f PRINS send context.
struct PrinsSend {
    /// The receiver's (p-SEPP's) context id: goes into metaData.
    peer_id: String,
    keys: N32fKeys,
    enc: Enc,
    /// The request direction's IVs (`salt || SEQ`, TS 33.501 13.2.4.4.1), never reused.
    nonces: NonceSequence,
    /// Its own context id (answers name it).
    local_id: String,
}

/// A cNF request waiting for N32: where to answer it, its body, its flow.
type WaitingRequest = (Inbound, String, u32);

/// N32 with one p-SEPP.
struct Link {
    state: LinkState,
    machine: Initiator,
    /// The initiator's armed timers.
    timers: BTreeSet<crate::proto::n32::sepp::Timer>,
    /// N32-c requests sent (handshake messages).
    machine_msgs: u32,
    waiting: Vec<WaitingRequest>,
    started: SimTime,
    /// The N32-c request whose connection keys N32-f (the last exchange-capability).
    key_corr: Option<Corr>,
    /// Its connection and that connection's client secrets, once answered on it.
    conn: Option<(ConnId, Option<Tls13Secrets>)>,
    flow: u32,
    /// The cNF answer (status, ProblemDetails) chosen after an RI refused this handshake.
    answer: Option<(u16, String)>,
}

/// The p-SEPP's receiving side of a PRINS context.
struct PrinsRecv {
    keys: N32fKeys,
    enc: Enc,
    /// The c-SEPP's context id (for responses).
    peer_id: String,
    /// The response direction's IVs, never reused.
    nonces: NonceSequence,
}

/// A SEPP's machine.
pub struct Sepp {
    cfg: SeppConfig,
    rng: SimRng,
    links: BTreeMap<NodeId, Link>,
    responder: Responder,
    recv: BTreeMap<String, PrinsRecv>,
    pending: BTreeMap<Corr, Pending>,
    /// cNF requests whose stream the cNF reset (gave up on).
    reset: BTreeSet<Inbound>,
    /// The TLS secrets of the connection the current input arrived on (this node's side).
    tls: Option<(ConnId, Tls13Secrets)>,
    next: Corr,
    fx: Effects<Timer>,
    /// The plane-wide numbering lent for the current input.
    pub numbering: Numbering,
    /// Faults injected: (message id, the N32fErrorType the receiver must report).
    pub injected: Vec<(u64, prins::N32fErrorType)>,
    /// Faults detected as p-SEPP: (message id, reported type), from the n32f-error reports.
    pub detected: Vec<(u64, prins::N32fErrorType)>,
}

impl Sepp {
    /// A SEPP with its configuration and its own random stream.
    pub fn new(cfg: SeppConfig, rng: SimRng) -> Sepp {
        Sepp {
            responder: Responder::new(cfg.responder.clone()),
            cfg,
            rng,
            links: BTreeMap::new(),
            recv: BTreeMap::new(),
            pending: BTreeMap::new(),
            reset: BTreeSet::new(),
            tls: None,
            next: 0,
            fx: Effects::default(),
            numbering: Numbering::default(),
            injected: Vec::new(),
            detected: Vec::new(),
        }
    }

    /// The node's TLS stack: the secrets of the connection `conn` the next input arrives on
    /// (its own side's; `None` in `timing` fidelity).
    pub fn set_tls_secrets(&mut self, conn: ConnId, secrets: Option<Tls13Secrets>) {
        self.tls = secrets.map(|s| (conn, s));
    }

    /// The cNF reset the stream of its request `at` (gave up on it): it is not forwarded.
    pub fn stream_reset(&mut self, at: Inbound) {
        self.reset.insert(at);
    }

    fn name(&self, node: NodeId) -> String {
        self.cfg.names[node as usize].clone()
    }

    fn me(&self) -> String {
        self.name(self.cfg.node)
    }

    fn corr(&mut self) -> Corr {
        self.next += 1;
        self.next
    }

    fn secrets_of(&self, conn: ConnId) -> Option<Tls13Secrets> {
        self.tls.as_ref().filter(|(c, _)| *c == conn).map(|(_, s)| s.clone())
    }

    fn via_name(&self, flow: u32) -> String {
        self.cfg.flows[&flow].via.map(|v| self.name(v)).unwrap_or_default()
    }

    fn respond(&mut self, at: Inbound, rsp: HttpResponse) {
        self.fx.push(Effect::Respond {
            at,
            rsp,
            delay: SimDuration::ZERO,
        });
    }

    fn request(&mut self, to: NodeId, via: Option<NodeId>, req: HttpRequest) -> Corr {
        let corr = self.corr();
        self.fx.push(Effect::Request {
            corr,
            to,
            via,
            mode: TlsMode::Certificate,
            req,
            delay: SimDuration::ZERO,
        });
        corr
    }

    fn on_request(&mut self, now: SimTime, at: Inbound, client: NodeId, req: HttpRequest) {
        // A cNF request (unless the cNF already gave up on it).
        if let Some(&SbiTarget(flow)) = req.typed::<SbiTarget>()
            && !self.reset.remove(&at)
            && let Some(f) = self.cfg.flows.get(&flow)
        {
            let peer = f.psepp;
            self.at_csepp(now, peer, flow, at, req.body);
            return;
        }
        if req.path.starts_with(N32C_PREFIX) {
            self.at_responder(now, at, client, &req);
            return;
        }
        if req.path == N32F_PATH {
            if let Some(route) = req.typed::<PrinsRoute>() {
                let number = route.number;
                self.at_psepp_prins(now, at, number, &req);
            }
            return;
        }
        if req.path == SBI_PATH
            && let Some(pnf) = self.cfg.producer.pnf
        {
            // Over N32-f TLS: on to the pNF as it is.
            let corr = self.request(pnf, None, req);
            self.pending.insert(corr, Pending::ToPnf { back: at, prins: None });
        }
    }

    fn on_response(&mut self, now: SimTime, corr: Corr, conn: ConnId, rsp: HttpResponse) {
        let Some(p) = self.pending.remove(&corr) else { return };
        match p {
            Pending::ToPnf { back, prins: None } => self.respond(back, rsp),
            Pending::ToPnf {
                back,
                prins: Some((local_id, message_id, msg)),
            } => {
                let (out, worked) = self.protect_response(&local_id, (message_id, msg), &rsp);
                self.after(
                    worked,
                    Effect::Respond {
                        at: back,
                        rsp: out,
                        delay: SimDuration::ZERO,
                    },
                );
            }
            Pending::N32f {
                peer,
                back,
                plain_bytes,
                protected_bytes,
                sent,
                open,
            } => {
                let (rsp, worked) = self.open_response(now, peer, sent, rsp, (plain_bytes, protected_bytes), open);
                self.after(
                    worked,
                    Effect::Respond {
                        at: back,
                        rsp,
                        delay: SimDuration::ZERO,
                    },
                );
            }
            Pending::N32c { peer, op } => {
                self.note_conn(peer, corr, conn);
                let body = serde_json::from_str(&rsp.body).unwrap_or(Value::Null);
                let input = InitiatorInput::Response {
                    op,
                    status: rsp.status,
                    body,
                };
                self.drive(now, peer, input);
            }
        }
    }

    /// Pushes `e`, after the work held if `worked`.
    fn after(&mut self, worked: bool, e: Effect<Timer>) {
        self.fx.push(if worked { Effect::AfterWork(Box::new(e)) } else { e });
    }

    /// The connection (and its client secrets) of the link's keying N32-c request.
    fn note_conn(&mut self, peer: NodeId, corr: Corr, conn: ConnId) {
        let secrets = self.secrets_of(conn);
        if let Some(link) = self.links.get_mut(&peer)
            && (link.key_corr == Some(corr) || link.conn.is_none())
        {
            link.conn = Some((conn, secrets));
        }
    }

    fn on_failed(&mut self, now: SimTime, corrs: Vec<Corr>, cause: &ConnFailure) {
        for corr in corrs {
            let Some(p) = self.pending.remove(&corr) else { continue };
            match p {
                Pending::N32c { peer, .. } => self.handshake_failed(now, peer, cause),
                Pending::N32f { back, .. } | Pending::ToPnf { back, .. } => {
                    self.respond(back, forwarding_failed(cause))
                }
            }
        }
    }

    /// A cNF request reached this c-SEPP: forward it if N32 is up, else wait for it.
    fn at_csepp(&mut self, now: SimTime, peer: NodeId, flow: u32, back: Inbound, body: String) {
        let retry = self.cfg.retry_after;
        if !self.links.contains_key(&peer) {
            let link = Link {
                state: LinkState::Idle,
                machine: Initiator::new(self.cfg.initiator.clone()),
                timers: BTreeSet::new(),
                machine_msgs: 0,
                waiting: Vec::new(),
                started: now,
                key_corr: None,
                conn: None,
                flow,
                answer: None,
            };
            self.links.insert(peer, link);
        }
        let Some(link) = self.links.get_mut(&peer) else { return };
        match &link.state {
            LinkState::Tls | LinkState::Prins(_) => self.forward(now, peer, (back, body, flow)),
            LinkState::Handshaking => link.waiting.push((back, body, flow)),
            LinkState::Failed { at, .. } if now < *at + retry => {
                let (status, body) = self.cnf_answer_for_failure(peer);
                self.respond(back, HttpResponse::new(status, "ProblemDetails", body));
            }
            LinkState::Idle | LinkState::Failed { .. } => {
                link.waiting.push((back, body, flow));
                link.flow = flow;
                self.begin_handshake(now, peer);
            }
        }
    }

    /// Forwards the cNF request `back` over established N32-f.
    fn forward(&mut self, now: SimTime, peer: NodeId, (back, body, flow): WaitingRequest) {
        if self.reset.remove(&back) {
            return; // the cNF gave up on it
        }
        let Some(f) = self.cfg.flows.get(&flow) else { return };
        let (via, ris, psepp) = (f.via, f.ris.clone(), f.psepp);
        let Some(link) = self.links.get_mut(&peer) else { return };
        match &mut link.state {
            LinkState::Tls => {
                // N32-f over its own TLS connection, through the RI's tunnel if N32-c used one.
                let req = HttpRequest::new("POST", SBI_PATH, "AuthenticationInfo", body);
                let corr = self.request(psepp, via, req);
                self.pending.insert(
                    corr,
                    Pending::N32f {
                        peer,
                        back,
                        plain_bytes: 0,
                        protected_bytes: 0,
                        sent: now,
                        open: None,
                    },
                );
            }
            LinkState::Prins(p) => {
                self.numbering.messages += 1;
                let message_id = self.numbering.messages;
                let msg = HttpMessage {
                    method: "POST".into(),
                    scheme: "https".into(),
                    authority: format!("{}.5gc.example", self.cfg.names[psepp as usize]),
                    path: SBI_PATH.into(),
                    query: vec![],
                    headers: vec![
                        ("3gpp-sbi-message-priority".into(), "10".into()),
                        ("content-type".into(), "application/json".into()),
                    ],
                    body: serde_json::from_str(&body).unwrap_or(Value::Null),
                };
                let plain_bytes = body.len() + SBI_PATH.len() + 60;
                let key = p.keys.get(Direction::ParallelRequest).key.clone();
                // An exhausted sequence (2^32 messages) needs a new context; the request is
                // not sent and times out at the cNF.
                let Ok(nonce) = p.nonces.next_nonce() else { return };
                let send = SendContext {
                    n32f_context_id: p.peer_id.clone(),
                    message_id,
                    // Below full fidelity RIs compute no JWS, so none is expected of them.
                    authorized_ipx_id: self.cfg.flows[&flow].authorized_ipx.clone(),
                    enc: p.enc,
                };
                let open = Box::new(OpenWith {
                    local_id: p.local_id.clone(),
                    keys: ContextKeys {
                        key: p.keys.get(Direction::ParallelResponse).key.clone(),
                        enc: p.enc,
                        expired: None,
                    },
                    msg: message_id,
                });
                self.fx.push(Effect::Work(vec![(
                    CryptoOp::AesGcmSeal1k,
                    1 + (body.len() / 1024) as u64,
                )]));
                let Ok(mut reformatted) = prins::protect(&send, &msg, &self.cfg.policy, &key, nonce) else {
                    return;
                };
                let (me, peer_name) = (self.me(), self.name(psepp));
                self.fx.audit(|| {
                    N32Audit::MessageSent {
                        sepp: me.clone(),
                        peer: peer_name,
                        msg: message_id,
                        context_id: open.local_id.clone(),
                        peer_context_id: send.n32f_context_id.clone(),
                    }
                    .into()
                });
                if let Some(fault) = self.fault_for(flow) {
                    let env = prins::fault::FaultEnv {
                        key: key.clone(),
                        nonce,
                    };
                    if let Ok(m) = prins::fault::apply_fault(&reformatted, &fault, &env) {
                        reformatted = m;
                        let expected = expected_error(&fault, self.cfg.full);
                        self.injected.push((message_id, expected));
                        self.fx.audit(|| {
                            N32Audit::FaultInjected {
                                sepp: me,
                                msg: message_id,
                                fault: fault_name(&fault).into(),
                                expected: wire_name(&expected),
                            }
                            .into()
                        });
                    }
                }
                let json = serde_json::to_string(&reformatted).unwrap_or_default();
                let protected_bytes = json.len();
                let mut hops = ris;
                hops.push(psepp);
                let first = hops.remove(0);
                let mut req = HttpRequest::new("POST", N32F_PATH, "N32fReformattedReqMsg", json);
                req.typed = Some(Typed::new(PrinsRoute {
                    hops,
                    number: message_id,
                }));
                let corr = self.corr();
                self.fx.push(Effect::AfterWork(Box::new(Effect::Request {
                    corr,
                    to: first,
                    via: None,
                    mode: TlsMode::Certificate,
                    req,
                    delay: SimDuration::ZERO,
                })));
                self.pending.insert(
                    corr,
                    Pending::N32f {
                        peer,
                        back,
                        plain_bytes,
                        protected_bytes,
                        sent: now,
                        open: Some(open),
                    },
                );
            }
            _ => {}
        }
    }

    /// The fault to inject into the next PRINS message, per the experiment's fault list (the
    /// caller records it in [`Sepp::injected`] once it is applied).
    fn fault_for(&self, flow: u32) -> Option<prins::fault::Fault> {
        let n = self.numbering.messages;
        let kind = self
            .cfg
            .faults
            .iter()
            .find(|f| f.every > 0 && n.is_multiple_of(f.every))?
            .kind;
        Some(kind.to_fault(self.cfg.flows[&flow].fault_ri.clone()))
    }

    /// The p-SEPP opens a PRINS request (message `msg`), forwards it to the pNF, or reports
    /// the fault.
    fn at_psepp_prins(&mut self, now: SimTime, back: Inbound, msg: u64, req: &HttpRequest) {
        let parsed = serde_json::from_str::<prins::N32fReformattedReqMsg>(&req.body);
        // The p-side RI signs last; with a single RI on the path (a roaming hub) it is the
        // authorized c-side RI itself and signs once.
        let rx = RecvContext {
            local_ri: self.cfg.producer.local_ri.clone(),
        };
        let verifies = 1 + self.cfg.producer.path_ris;
        self.fx.push(Effect::Work(vec![
            (CryptoOp::AesGcmOpen1k, 1 + (req.body.len() / 1024) as u64),
            (CryptoOp::EcdsaVerify, verifies - 1),
        ]));
        let me = self.me();
        let mut done = prins::Verification::default();
        let result = match parsed {
            Ok(m) => {
                self.fx.audit(|| {
                    N32Audit::MessageReceived {
                        sepp: me.clone(),
                        msg,
                        modifications: m.modifications_block.as_ref().map_or(0, |b| b.len() as u32),
                    }
                    .into()
                });
                let recv = &self.recv;
                let lookup = |id: &str| {
                    recv.get(id).map(|r| ContextKeys {
                        key: r.keys.get(Direction::ParallelRequest).key.clone(),
                        enc: r.enc,
                        expired: None,
                    })
                };
                prins::unprotect_counted(&rx, &m, lookup, &self.cfg.ipx_keys, &self.cfg.policy, &mut done)
            }
            Err(_) => {
                self.respond(back, problem(400, ProblemDetails::with_status(400)));
                return;
            }
        };
        self.fx.audit(|| {
            N32Audit::MessageVerified {
                sepp: me.clone(),
                msg,
                decrypted: done.decrypted,
                jws_verified: done.jws_verified,
                error: result.as_ref().err().map(|f| wire_name(&f.n32f_error_type)),
            }
            .into()
        });
        match result {
            Ok(u) => {
                let pnf = self.cfg.producer.pnf.unwrap_or(self.cfg.node);
                let fwd = HttpRequest::new(
                    "POST",
                    u.message.path.clone(),
                    "AuthenticationInfo",
                    u.message.body.to_string(),
                );
                let message_id = u.meta.message_id.parse::<u64>().unwrap_or(0);
                let corr = self.corr();
                self.fx.push(Effect::AfterWork(Box::new(Effect::Request {
                    corr,
                    to: pnf,
                    via: None,
                    mode: TlsMode::Certificate,
                    req: fwd,
                    delay: SimDuration::ZERO,
                })));
                let context_id = u.meta.n32f_context_id.clone();
                self.fx.audit(|| {
                    N32Audit::MessageAccepted {
                        sepp: me,
                        msg,
                        context_id: context_id.clone(),
                    }
                    .into()
                });
                self.pending.insert(
                    corr,
                    Pending::ToPnf {
                        back,
                        prins: Some((context_id, message_id, msg)),
                    },
                );
            }
            Err(fault) => {
                //= TS 29.573 5.2.5: report on N32-c; answer the N32-f request with an error.
                let t = format!("{:?}", fault.n32f_error_type);
                self.fx.record(Record {
                    procedure: "n32f_error",
                    flow: String::new(),
                    variant: String::new(),
                    result: String::new(),
                    cause: t.clone(),
                    initiator: me,
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
                self.report_error(msg, &fault);
                let body = ProblemDetails::with_cause(403, "N32F_PROTECTION_FAILURE").detail(t);
                self.fx.push(Effect::AfterWork(Box::new(Effect::Respond {
                    at: back,
                    rsp: problem(403, body),
                    delay: SimDuration::ZERO,
                })));
            }
        }
    }

    /// The p-SEPP protects the pNF's answer to message `msg` (metadata `message_id`) for the
    /// context `local_id`; whether it charged work for it.
    fn protect_response(
        &mut self,
        local_id: &str,
        (message_id, msg): (u64, u64),
        rsp: &HttpResponse,
    ) -> (HttpResponse, bool) {
        let me = self.me();
        let Some(r) = self.recv.get_mut(local_id) else {
            // The context was terminated while the pNF answered: the answer cannot be
            // protected, and must not cross N32-f in clear (found by the invariant checker).
            return (protection_failure(prins::N32fErrorType::ContextNotFound), false);
        };
        self.fx.audit(|| {
            N32Audit::ResponseSent {
                sepp: me,
                msg,
                context_id: local_id.to_string(),
            }
            .into()
        });
        let Ok(nonce) = r.nonces.next_nonce() else {
            // 2^32 responses in this context: none can be protected any more.
            return (protection_failure(prins::N32fErrorType::ContextNotFound), false);
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
        self.fx.push(Effect::Work(vec![(
            CryptoOp::AesGcmSeal1k,
            1 + (rsp.body.len() / 1024) as u64,
        )]));
        let key = &r.keys.get(Direction::ParallelResponse).key;
        match prins::protect_response(&send, &plain, ("POST", SBI_PATH), &self.cfg.policy, key, nonce) {
            Ok(m) => (
                HttpResponse::new(
                    200,
                    "N32fReformattedRspMsg",
                    serde_json::to_string(&m).unwrap_or_default(),
                ),
                true,
            ),
            // Nothing crosses N32-f in clear.
            Err(_) => (
                problem(500, ProblemDetails::with_cause(500, "N32F_PROTECTION_FAILURE")),
                true,
            ),
        }
    }

    /// The c-SEPP opens an N32-f answer and records the N32-f message; whether it charged
    /// work for it.
    fn open_response(
        &mut self,
        now: SimTime,
        peer: NodeId,
        sent: SimTime,
        rsp: HttpResponse,
        (plain_bytes, protected_bytes): (usize, usize),
        open: Option<Box<OpenWith>>,
    ) -> (HttpResponse, bool) {
        let Some(open) = open else {
            return (rsp, false); // N32-f TLS: the answer is the pNF's
        };
        let OpenWith {
            local_id: local,
            keys,
            msg: number,
        } = *open;
        let protected = rsp.schema == "N32fReformattedRspMsg";
        let me = self.me();
        self.fx.audit(|| {
            N32Audit::ResponseReceived {
                sepp: me.clone(),
                msg: number,
                status: rsp.status,
                protected,
            }
            .into()
        });
        if !protected {
            if (200..300).contains(&rsp.status) {
                // A success in clear on a PRINS request is no N32-f answer: refused.
                return (
                    problem(502, ProblemDetails::with_cause(502, "N32F_PROTECTION_FAILURE")),
                    false,
                );
            }
            return (rsp, false); // an error from a hop, passed on as it is
        }
        self.fx.push(Effect::Work(vec![(
            CryptoOp::AesGcmOpen1k,
            1 + (rsp.body.len() / 1024) as u64,
        )]));
        let lookup = |id: &str| (id == local).then(|| keys.clone());
        let msg = serde_json::from_str::<prins::N32fReformattedRspMsg>(&rsp.body);
        let mut done = prins::Verification::default();
        let opened = msg.map_err(|_| None).and_then(|m| {
            prins::unprotect_response_counted(
                &RecvContext { local_ri: None },
                &m,
                ("POST", SBI_PATH),
                lookup,
                &self.cfg.ipx_keys,
                &self.cfg.policy,
                &mut done,
            )
            .map_err(|f| Some(f.n32f_error_type))
        });
        self.fx.audit(|| {
            N32Audit::ResponseVerified {
                sepp: me.clone(),
                msg: number,
                decrypted: done.decrypted,
                jws_verified: done.jws_verified,
                error: opened.as_ref().err().map(|e| match e {
                    Some(t) => wire_name(t),
                    None => "UNREADABLE".to_string(),
                }),
            }
            .into()
        });
        let opened = opened.ok();
        if let Some(u) = opened.as_ref().filter(|u| (200..300).contains(&u.message.status)) {
            let status = u.message.status;
            self.fx.audit(|| {
                N32Audit::ResponseAccepted {
                    sepp: me.clone(),
                    msg: number,
                    status,
                }
                .into()
            });
        }
        let plain_total = plain_bytes + opened.as_ref().map_or(0, |u| u.message.body.to_string().len() + 40);
        self.fx.record(Record {
            procedure: "n32f_message",
            flow: String::new(),
            variant: "PRINS".into(),
            result: String::new(),
            cause: String::new(),
            initiator: me,
            responder: self.name(peer),
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
                HttpResponse::new(u.message.status, "UEAuthenticationCtx", u.message.body.to_string()),
                true,
            ),
            None => (
                problem(502, ProblemDetails::with_cause(502, "N32F_PROTECTION_FAILURE")),
                true,
            ),
        }
    }

    /// The c-SEPP starts (or re-starts) N32 with the p-SEPP (TS 29.573 5.2.2).
    fn start_handshake(&mut self, now: SimTime, peer: NodeId) {
        let Some(link) = self.links.get_mut(&peer) else { return };
        if self.cfg.flows[&link.flow].via.is_none() {
            // Direct TLS on N32-c: every RI on the route decides now whether to carry it
            // (seed 000 FFS 1).
            self.fx.push(Effect::DirectAttempt { to: peer });
        }
        link.machine_msgs = 0;
        self.drive(now, peer, InitiatorInput::Start);
    }

    /// The link enters the handshake (requests now wait for it) and the machine starts.
    fn begin_handshake(&mut self, now: SimTime, peer: NodeId) {
        if let Some(link) = self.links.get_mut(&peer) {
            link.state = LinkState::Handshaking;
            link.started = now;
        }
        self.start_handshake(now, peer);
    }

    /// Feeds `input` to the initiator machine for `peer` and carries out its outputs.
    fn drive(&mut self, now: SimTime, peer: NodeId, input: InitiatorInput) {
        let Some(link) = self.links.get_mut(&peer) else { return };
        link.machine.handle(now, &mut self.rng, input);
        let outputs = link.machine.drain_outputs();
        let via = self.cfg.flows[&link.flow].via;
        for out in outputs {
            match out {
                Output::Send(req) => self.send_n32c(peer, via, &req),
                Output::SetTimer { timer, at } => {
                    if let Some(link) = self.links.get_mut(&peer) {
                        link.timers.insert(timer);
                    }
                    self.fx.set_timer(at - now, Timer::Initiator { peer, timer });
                }
                Output::CancelTimer { timer } => {
                    if self.links.get_mut(&peer).is_some_and(|l| l.timers.remove(&timer)) {
                        self.fx.cancel_timer(Timer::Initiator { peer, timer });
                    }
                }
                Output::CloseN32c => {
                    //= TS 29.573 5.2.2: TLS selected: the N32-c connection is terminated.
                    if let Some(link) = self.links.get(&peer) {
                        match (link.conn.as_ref(), link.key_corr) {
                            (Some((c, _)), _) => self.fx.push(Effect::Close(ConnRef::Id(*c))),
                            (None, Some(corr)) => self.fx.push(Effect::Close(ConnRef::Corr(corr))),
                            (None, None) => {}
                        }
                    }
                }
                Output::Established { capability, context } => self.established_output(now, peer, capability, context),
                Output::ContextReleased { context } => {
                    let me = self.me();
                    self.fx.audit(|| {
                        N32Audit::ContextTerminated {
                            sepp: me,
                            context_id: context.local_id.to_string(),
                            reason: "Released".into(),
                        }
                        .into()
                    });
                    self.responder.remove(&context.local_id);
                    self.release_send_context(peer, Some(context.local_id.as_str()));
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
                    self.fail_link(now, peer, outcome, status.unwrap_or(0), cause);
                }
                Output::TornDown => {
                    if let Some(link) = self.links.get_mut(&peer) {
                        link.state = LinkState::Idle;
                    }
                }
            }
        }
        // Requests that arrived while a context was being torn down start the next one.
        // (The machine ignores Start while Terminating; it is back in Idle once the peer
        // answered the n32f-terminate.)
        if let Some(link) = self.links.get(&peer)
            && matches!(link.state, LinkState::Idle | LinkState::Handshaking)
            && !link.waiting.is_empty()
            && link.machine.state() == InitiatorState::Idle
        {
            self.begin_handshake(now, peer);
        }
    }

    /// Sends an N32-c request of the initiator's.
    fn send_n32c(&mut self, peer: NodeId, via: Option<NodeId>, req: &N32cRequest) {
        let http = HttpRequest::new("POST", req.path(), req.schema(), req.to_json());
        let wire = u64::from(http.wire_bytes());
        let corr = self.request(peer, via, http);
        if let N32cRequest::ExchangeCapability(body) = req
            && self.fx.audit
        {
            let ev = N32Audit::CapabilityOffered {
                sepp: self.me(),
                peer: self.name(peer),
                conn: 0,
                stream: 0,
                offered: body
                    .supported_sec_capability_list
                    .iter()
                    .map(|c| c.as_str().to_string())
                    .collect(),
            };
            self.fx.push(Effect::AuditStream { corr, ev: ev.into() });
        }
        if let Some(link) = self.links.get_mut(&peer) {
            // The first N32-c connection's exporter keys N32-f (TS 33.501 13.2.4.4.1).
            if req.op() == Op::ExchangeCapability || link.key_corr.is_none() {
                link.key_corr = Some(corr);
                link.conn = None;
                // Bytes this handshake puts on the (possibly reused) connection.
                self.fx.push(Effect::MarkBytes {
                    mark: Corr::from(peer),
                    conn: ConnRef::Corr(corr),
                    less: wire,
                });
            }
            link.machine_msgs += 1;
        }
        self.pending.insert(corr, Pending::N32c { peer, op: req.op() });
    }

    /// The initiator agreed a mechanism with `peer`.
    fn established_output(
        &mut self,
        now: SimTime,
        peer: NodeId,
        capability: SecurityCapability,
        context: Option<crate::proto::n32::parameter_exchange::NegotiatedContext>,
    ) {
        let (me, peer_name) = (self.me(), self.name(peer));
        let conn = self.links.get(&peer).and_then(|l| l.conn.as_ref());
        let conn_id = conn.map_or(0, |(c, _)| *c);
        match (capability, context) {
            (SecurityCapability::Prins, Some(context)) => {
                let secrets = conn.and_then(|(_, s)| s.as_ref());
                let master = master_of(secrets, conn_id, self.cfg.seed);
                let keys = derive_keys(&master, &context, KdfContextId::Receiver);
                if self.fx.audit {
                    let conn = u64::from(conn_id);
                    self.fx.push(Effect::Audit(
                        N32Audit::Established {
                            sepp: me.clone(),
                            peer: peer_name.clone(),
                            conn,
                            capability: SecurityCapability::Prins.as_str().to_string(),
                        }
                        .into(),
                    ));
                    self.fx.push(Effect::Audit(
                        N32Audit::ContextInstalled {
                            sepp: me,
                            peer: peer_name,
                            role: "initiator".into(),
                            conn,
                            local_id: context.local_id.to_string(),
                            peer_id: context.peer_id.to_string(),
                            capability: context.capability.as_str().to_string(),
                            keys: keys_fingerprint(&keys, &context.jws),
                        }
                        .into(),
                    ));
                }
                let send = PrinsSend {
                    peer_id: context.peer_id.as_str().to_string(),
                    local_id: context.local_id.as_str().to_string(),
                    nonces: NonceSequence::new(keys.get(Direction::ParallelRequest).iv_salt),
                    keys,
                    enc: jose_enc(context.jwe),
                };
                self.responder.adopt(context);
                if let Some(link) = self.links.get_mut(&peer) {
                    link.state = LinkState::Prins(Box::new(send));
                }
                self.established(now, peer, "PRINS");
            }
            (c, _) => {
                if let Some(link) = self.links.get_mut(&peer) {
                    link.state = LinkState::Tls;
                }
                self.fx.audit(|| {
                    N32Audit::Established {
                        sepp: me,
                        peer: peer_name,
                        conn: u64::from(conn_id),
                        capability: c.as_str().to_string(),
                    }
                    .into()
                });
                let name = serde_json::to_value(&c)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string));
                self.established(now, peer, &name.unwrap_or_else(|| "TLS".into()));
            }
        }
    }

    /// N32 is up: record the handshake and release the waiting requests.
    fn established(&mut self, now: SimTime, peer: NodeId, capability: &str) {
        let Some(link) = self.links.get_mut(&peer) else { return };
        let waiting = std::mem::take(&mut link.waiting);
        let record = self.handshake_record(peer, now, capability, Outcome::Ok, 200);
        self.fx.push(Effect::RecordBytes {
            record,
            mark: Corr::from(peer),
        });
        for w in waiting {
            self.forward(now, peer, w);
        }
    }

    /// The handshake failed: record it and answer every waiting cNF request.
    fn fail_link(&mut self, now: SimTime, peer: NodeId, outcome: Outcome, status: u16, cause: String) {
        let Some(link) = self.links.get_mut(&peer) else { return };
        link.state = LinkState::Failed { at: now };
        let waiting = std::mem::take(&mut link.waiting);
        let record = self.handshake_record(peer, now, &cause, outcome, status);
        self.fx.record(record);
        let (status, body) = self.cnf_answer_for_failure(peer);
        for (back, _, _) in waiting {
            self.respond(back, HttpResponse::new(status, "ProblemDetails", body.clone()));
        }
    }

    /// The N32-c connection failed under the handshake with `peer`.
    fn handshake_failed(&mut self, now: SimTime, peer: NodeId, cause: &ConnFailure) {
        let (outcome, status, why) = match cause {
            ConnFailure::Refused { status, body, headers } => {
                //= TS 29.573 5.2.X.2 step 4: the c-SEPP answers the cNF, using the RI's
                //= suggested status and application error as its policy says.
                let via = self.links.get(&peer).and_then(|l| self.cfg.flows[&l.flow].via);
                let ri = via.and_then(|v| self.cfg.ri_rejections.get(&v));
                let enc = ri.map(|r| r.0).unwrap_or_default();
                let key = ri.map(|r| r.1);
                let rejection = roaming::Rejection {
                    status: *status,
                    body: body.clone().unwrap_or_default(),
                    schema: "ProblemDetails",
                    headers: headers.clone(),
                };
                let suggestion = roaming::decode_rejection(enc, &rejection, key.as_ref());
                let (cnf_status, problem) = roaming::answer_to_cnf(&self.cfg.mapping, &suggestion);
                let ri_cause = serde_json::from_str::<Value>(rejection.body.as_str())
                    .ok()
                    .and_then(|v| v.get("cause").and_then(Value::as_str).map(str::to_string))
                    .unwrap_or_else(|| "REFUSED_BY_RI".into());
                if let Some(link) = self.links.get_mut(&peer) {
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
        if let Some(link) = self.links.get_mut(&peer) {
            for timer in std::mem::take(&mut link.timers) {
                self.fx.cancel_timer(Timer::Initiator { peer, timer });
            }
            link.machine = Initiator::new(link.machine.config().clone());
        }
        self.fail_link(now, peer, outcome, status, why);
    }

    /// What the c-SEPP answers the cNF while N32 with the peer is down: after an RI's
    /// refusal, the answer its mapping policy derived; otherwise its own 504.
    fn cnf_answer_for_failure(&self, peer: NodeId) -> (u16, String) {
        if let Some((status, body)) = self.links.get(&peer).and_then(|l| l.answer.clone()) {
            return (status, body);
        }
        (504, ProblemDetails::with_cause(504, roaming::OWN_CAUSE).to_json())
    }

    /// The handshake record with `peer` (its bytes are filled by the driver on success).
    fn handshake_record(&self, peer: NodeId, end: SimTime, detail: &str, outcome: Outcome, status: u16) -> Record {
        let link = &self.links[&peer];
        // A success's detail is the agreed capability, a failure's its cause.
        let (result, cause) = match outcome {
            Outcome::Ok => (detail.to_string(), String::new()),
            _ => (String::new(), detail.to_string()),
        };
        Record {
            procedure: "n32_handshake",
            flow: self.cfg.flows[&link.flow].label.clone(),
            variant: String::new(),
            result,
            cause,
            initiator: self.me(),
            responder: self.name(peer),
            via: self.via_name(link.flow),
            start_ns: link.started.as_nanos(),
            end_ns: end.as_nanos(),
            outcome,
            status,
            new_connection: true,
            round_trips: link.machine_msgs,
            overhead_bytes: 0,
            bytes: 0,
        }
    }

    /// The p-SEPP reports an N32-f fault on message `msg` to the c-SEPP on N32-c (TS 29.573
    /// 5.2.5).
    fn report_error(&mut self, msg: u64, fault: &prins::N32fFault) {
        let Some(csepp) = self.cfg.producer.csepp else { return };
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
            let (me, peer) = (self.me(), self.name(csepp));
            self.fx.audit(|| {
                N32Audit::ErrorReported {
                    sepp: me,
                    peer,
                    msg,
                    message_id: info.n32f_message_id.clone(),
                    error_type: info.n32f_error_type.as_str().to_string(),
                }
                .into()
            });
            let req = N32cRequest::ReportError(info.clone());
            let http = HttpRequest::new("POST", req.path(), req.schema(), req.to_json());
            self.request(csepp, None, http);
        }
    }

    /// This SEPP answers an N32-c request with its responder machine.
    fn at_responder(&mut self, now: SimTime, at: Inbound, client: NodeId, req: &HttpRequest) {
        let peer = format!("{}.5gc.example", self.name(client));
        let reply = self
            .responder
            .handle_raw(now, &mut self.rng, &peer, &req.path, &req.body);
        if reply.status == 200 && req.path == Op::ExchangeCapability.path() && self.fx.audit {
            // What the 200 answer selected, against the responder's configured list.
            let selected = reply
                .body
                .as_deref()
                .and_then(|b| serde_json::from_str::<types::SecNegotiateRspData>(b).ok())
                .map(|r| r.selected_sec_capability.as_str().to_string())
                .unwrap_or_default();
            let supported = &self.responder.config().capability.supported;
            let ev = N32Audit::CapabilitySelected {
                sepp: self.me(),
                peer: self.name(client),
                conn: u64::from(at.conn),
                stream: at.stream,
                supported: supported.iter().map(|c| c.as_str().to_string()).collect(),
                selected,
            };
            self.fx.push(Effect::Audit(ev.into()));
        }
        let rsp = HttpResponse::new(reply.status, reply.schema.unwrap_or(""), reply.body.unwrap_or_default());
        self.respond(at, rsp);
        for e in reply.events {
            match e {
                ResponderEvent::ContextEstablished { context } => {
                    let secrets = self.secrets_of(at.conn);
                    let master = master_of(secrets.as_ref(), at.conn, self.cfg.seed);
                    let keys = derive_keys(&master, &context, KdfContextId::Receiver);
                    let (me, peer) = (self.me(), self.name(client));
                    self.fx.audit(|| {
                        N32Audit::ContextInstalled {
                            sepp: me,
                            peer,
                            role: "responder".into(),
                            conn: u64::from(at.conn),
                            local_id: context.local_id.to_string(),
                            peer_id: context.peer_id.to_string(),
                            capability: context.capability.as_str().to_string(),
                            keys: keys_fingerprint(&keys, &context.jws),
                        }
                        .into()
                    });
                    let recv = PrinsRecv {
                        nonces: NonceSequence::new(keys.get(Direction::ParallelResponse).iv_salt),
                        keys,
                        enc: jose_enc(context.jwe),
                        peer_id: context.peer_id.as_str().to_string(),
                    };
                    self.recv.insert(context.local_id.as_str().to_string(), recv);
                }
                ResponderEvent::ContextTerminated { context, reason } => {
                    let me = self.me();
                    self.fx.audit(|| {
                        N32Audit::ContextTerminated {
                            sepp: me,
                            context_id: context.local_id.to_string(),
                            reason: format!("{reason:?}"),
                        }
                        .into()
                    });
                    self.recv.remove(context.local_id.as_str());
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
                    let http = HttpRequest::new("POST", request.path(), request.schema(), request.to_json());
                    self.request(client, None, http);
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

    /// Every PRINS context of this c-SEPP's is terminated with `n32f-terminate` (TS 29.573
    /// 5.2.4).
    fn terminate_all(&mut self, now: SimTime) {
        let peers: Vec<NodeId> = self.links.keys().copied().collect();
        for peer in peers {
            if matches!(self.links.get(&peer).map(|l| &l.state), Some(LinkState::Prins(_))) {
                self.drive(now, peer, InitiatorInput::TerminateRequested);
                self.release_send_context(peer, None);
            }
        }
    }

    /// The c-SEPP stops sending under its PRINS context with `peer` (only if it is
    /// `local_id`, when given): requests wait for the next handshake.
    fn release_send_context(&mut self, peer: NodeId, local_id: Option<&str>) {
        // Mutant: the send state outlives the released context.
        if mutant::is(Mutant::N32(N32Mutant::UseTerminatedContext)) {
            return;
        }
        if let Some(link) = self.links.get_mut(&peer)
            && matches!(&link.state, LinkState::Prins(p) if local_id.is_none_or(|id| p.local_id == id))
        {
            link.state = LinkState::Idle;
        }
    }

    /// The censoring record of request `corr`, if it is an unfinished PRINS message (issue 12).
    pub fn unfinished(&self, corr: Corr, now: SimTime) -> Option<Record> {
        match self.pending.get(&corr)? {
            Pending::N32f {
                peer,
                sent,
                open: Some(_),
                ..
            } => {
                let (me, peer) = (self.me(), self.name(*peer));
                let mut r = unfinished("n32f_message", (&me, &peer, ""), *sent, now);
                r.variant = "PRINS".into();
                Some(r)
            }
            _ => None,
        }
    }

    /// The censoring records of the handshakes in progress, in peer order (issue 12).
    pub fn unfinished_handshakes(&self, now: SimTime) -> Vec<Record> {
        let mut v = Vec::new();
        for (&peer, link) in &self.links {
            if matches!(link.state, LinkState::Handshaking) {
                let (me, p, via) = (self.me(), self.name(peer), self.via_name(link.flow));
                let mut r = unfinished("n32_handshake", (&me, &p, &via), link.started, now);
                r.flow = self.cfg.flows[&link.flow].label.clone();
                r.new_connection = true;
                r.round_trips = link.machine_msgs;
                v.push(r);
            }
        }
        v
    }

    /// The PRINS send contexts: (p-SEPP, the p-SEPP's context id, own context id, keys).
    pub fn send_contexts(&self) -> impl Iterator<Item = (NodeId, &str, &str, &N32fKeys)> {
        self.links.iter().filter_map(|(&peer, l)| match &l.state {
            LinkState::Prins(p) => Some((peer, p.peer_id.as_str(), p.local_id.as_str(), &p.keys)),
            _ => None,
        })
    }

    /// The PRINS receive context `local_id`: (the c-SEPP's context id, keys).
    pub fn recv_context(&self, local_id: &str) -> Option<(&str, &N32fKeys)> {
        self.recv.get(local_id).map(|r| (r.peer_id.as_str(), &r.keys))
    }
}

impl Machine for Sepp {
    type Timer = Timer;

    fn handle(&mut self, now: SimTime, input: Input<Timer>) {
        match input {
            Input::Request { at, client, req } => self.on_request(now, at, client, req),
            Input::Response { corr, conn, rsp } => self.on_response(now, corr, conn, rsp),
            Input::Failed { corrs, cause, .. } => self.on_failed(now, corrs, &cause),
            Input::ConnectRequest { conn, .. } => self.fx.push(Effect::AcceptTunnel(conn)),
            Input::Timer(Timer::Initiator { peer, timer }) => {
                let input = match timer {
                    crate::proto::n32::sepp::Timer::Response => InitiatorInput::Timeout,
                    crate::proto::n32::sepp::Timer::ContextExpiry => InitiatorInput::ContextExpired,
                };
                if let Some(l) = self.links.get_mut(&peer) {
                    l.timers.remove(&timer);
                }
                self.drive(now, peer, input);
            }
            Input::Timer(Timer::Terminate) => self.terminate_all(now),
            _ => {}
        }
        self.tls = None;
    }

    fn poll_effect(&mut self) -> Option<Effect<Timer>> {
        self.fx.pop()
    }

    fn set_audit(&mut self, on: bool) {
        self.fx.audit = on;
    }
}

/// The N32fErrorType the receiver must report for `fault`. Below full fidelity RIs sign
/// nothing and the receiver expects no JWS, so a tampering RI's signed patch is an unexpected
/// modification (INTEGRITY_CHECK_ON_MODIFICATIONS_FAILED) before its content is looked at.
fn expected_error(fault: &prins::fault::Fault, full: bool) -> prins::N32fErrorType {
    match fault {
        prins::fault::Fault::TamperModification(_) if !full => {
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
    for d in Direction::ALL {
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
    problem(
        403,
        ProblemDetails::with_cause(403, "N32F_PROTECTION_FAILURE").detail(format!("{kind:?}")),
    )
}

fn jose_enc(e: JweEnc) -> Enc {
    match e {
        JweEnc::A128Gcm => Enc::A128Gcm,
        JweEnc::A256Gcm => Enc::A256Gcm,
    }
}

/// The N32 master key of connection `conn` (TS 33.501 13.2.4.4.1); in `timing` fidelity a
/// stand-in derived from the seed and connection id (no TLS secrets are computed there).
fn master_of(secrets: Option<&Tls13Secrets>, conn: ConnId, seed: u64) -> N32Master {
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
            key: crate::crypto::pki::key_from_rng(&mut crate::engine::stream(0, "rogue-ri")),
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
