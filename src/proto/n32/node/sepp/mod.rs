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

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use p256::ecdsa::VerifyingKey;
use serde_json::Value;

use crate::audit::mutant::{Mutant, Mutants};
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

use super::{
    N32C_PREFIX, N32F_PATH, Names, Numbering, PrinsAnswer, PrinsRoute, SBI_PATH, SbiTarget, Timer, problem, unfinished,
};

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
    /// The deliberate bugs it is built with (none outside the checker's tests).
    pub mutants: Mutants,
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

/// A cNF request waiting for N32: where to answer it, its body (and the JSON value it
/// encodes, if it came with it), its flow.
type WaitingRequest = (Inbound, (String, Option<Arc<Value>>), u32);

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

mod consumer;
mod producer;

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
        self.reset.remove(&at); // answered: its reset no longer matters (bounded state)
        self.fx.push(Effect::Respond {
            at,
            rsp: Box::new(rsp),
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
            req: Box::new(req),
            delay: SimDuration::ZERO,
        });
        corr
    }

    fn on_request(&mut self, now: SimTime, at: Inbound, client: NodeId, req: HttpRequest) {
        // A cNF request (unless the cNF already gave up on it).
        if let Some(SbiTarget(flow, value)) = req.typed::<SbiTarget>()
            && !self.reset.remove(&at)
            && let Some(f) = self.cfg.flows.get(flow)
        {
            let (peer, flow, value) = (f.psepp, *flow, value.clone());
            self.at_csepp(now, peer, flow, at, (req.body, Some(value)));
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
                        rsp: Box::new(out),
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
                self.reset.remove(&back); // answered below (bounded state)
                let (rsp, worked) = self.open_response(now, peer, sent, rsp, (plain_bytes, protected_bytes), open);
                self.after(
                    worked,
                    Effect::Respond {
                        at: back,
                        rsp: Box::new(rsp),
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

    fn effects(&mut self) -> &mut Effects<Timer> {
        &mut self.fx
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
