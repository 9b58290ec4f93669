//! The CAPIF plane: API invokers, CAPIF core functions (CCF), API exposing functions (AEF) and
//! the APF's method changes on the simulated network. The AEF and the APF are node machines
//! ([`crate::proto::capif::node`]) carried by the [`Driver`]; the invoker and the CCF still
//! drive the sans-IO machines of [`crate::proto::capif::machines`] from here.
//!
//! ```text
//!  invoker ══ CAPIF-1e (mutual TLS) ══► CCF          onboarding, PUT/POST trustedInvokers, token
//!     │                                  ▲  ▲
//!     │ check-authentication             │  ╚══ CAPIF-6e ══ CCF-B (interconnection)
//!     ▼                                  │
//!    AEF ══════ CAPIF-3 (mutual TLS) ════╝               GET trustedInvokers, revoke-authorization
//!     ▲
//!     ╚══ CAPIF-2e: TLS-PSK (AEFPSK) | TLS with the CCF-issued certificate | TLS + bearer token
//! ```
//!
//! Every request is a real message on the network and every body is the machines' own JSON.
//! Modelling decisions (see also the README's CAPIF notes):
//! - **Onboarding credential.** Each invoker presents the onboarding secret `secret-<node>`;
//!   the CCF's check compares with the same string. The invoker's key pair is its node's TLS
//!   identity key, so the certificate the CCF issues for it (subject = API invoker ID) replaces
//!   the node's certificate for every later connection; the onboarding connection is closed
//!   so that all later CAPIF-1e requests run on mutual TLS with that certificate.
//! - **CAPIF-1e session → AEFPSK.** With `capif1e_tls: Tls13` the AEFPSK comes from the TLS
//!   1.3 exporter of the very connection the Security Method Response travels on: the invoker
//!   uses its client secrets, the CCF its server secrets. With `Tls12`, or at `timing`
//!   fidelity (which computes no TLS secrets), a real TLS 1.2 handshake (`crypto::tls12`)
//!   between two RNG streams of that connection stands for the session (the wire still
//!   carries the TLS 1.3 flights: a documented stand-in) and the key follows TS 33.122 A.1.
//!   When the invoker's AEFPSK expires it closes its CAPIF-1e connection, so the next
//!   negotiation runs on a new TLS session and yields a new key (seed 003).
//! - **CAPIF-2e.** A session is one TLS connection opened with [`Network::connect`]: TLS-PSK
//!   (identity = API invoker ID, key = AEFPSK; the AEF's TLS stack holds the AEFPSK with its
//!   expiry, so an expired key fails the binder check), or mutual TLS with the CCF-issued
//!   certificate checked against the CCF CAs only (PKI). OAUTH uses the same mutual TLS
//!   connection but the AEF authenticates the request by its bearer token (carried in the
//!   request's `Authorization: Bearer` header, RFC 6750 2.1). The AEF machine is told of each session at its
//!   first request (TLS 1.3: the client certificate is checked when the client's Finished,
//!   which carries the first request, arrives); a refusal aborts the connection with an alert.
//! - **AEF identity on CAPIF-3.** The CCF knows which AEF asks for security information from
//!   the AEF's client certificate on CAPIF-3, not from the request.
//! - **Method change (seed 004).** At a scripted time the APF updates the AEF; the CCF
//!   machines that publish it learn it at once. The AEF reacts to each use of a method it no
//!   longer supports as [`aef_reaction`](crate::proto::capif::mismatch::aef_reaction) says for the configured strategy; for the TLS-only
//!   strategies it also drops its AEFPSKs, so TLS-PSK fails at the ClientHello. Invokers
//!   react as [`invoker_next`] says, bounded by `tls_retries` with `retry_backoff`.
//!   `ServiceApiUpdateEvent` pushes go to the share `event_subscribers` of the invokers
//!   (subscription `sub-<invoker>`, a configuration choice) and carry the description the APF
//!   published.
//! - **Interconnection (seed 002).** When a flow's AEF is registered at another CCF, the
//!   CCF-to-CCF messages of [`interconnection::plan`] for the flow's knobs run on the network
//!   as HTTP exchanges under `/secsim-capif6e/v1/` (no 3GPP encoding exists; bodies name the
//!   plan message and the items it carries): the method query before CCF-B answers the
//!   Security Method Request, the lookups and security information request when the AEF asks
//!   CCF-A (whose answer is CCF-B's machine's ServiceSecurity, AEFPSK included), and the token
//!   messages for OAUTH (CCF-B's machine issues; the AEF trusts CCF-B's key, distributed via
//!   CCF-A). Plan messages between the invoker or AEF and a CCF that the machines do not send
//!   (discovery, AEF challenge, token re-authentication at CCF-A) are counted in the exposure
//!   records but not put on the wire. CCF-A is assumed to know the invoker's home CCF.
//!
//! - **CCF restart** (`capif.ccf_restarts`, a secsim fault). At `at` every connection the CCF
//!   terminates is reset at its peer, the CCF's links are down until `at + down`, and the CCF
//!   machine loses its volatile state ([`Ccf::restart`]); the CAPIF-6e jobs it answers or runs
//!   are dropped and a step towards it fails with 504. An invoker whose authentication meets a
//!   CCF without its security context (404 from the AEF's fetch or the token endpoint)
//!   renegotiates on a new CAPIF-1e session; a 404 to its update sends it back to `PUT`.
//! - **Audit** (issue 7, [`crate::check`]). With the audit on, the plane emits
//!   [`CapifAudit`] facts taken from the wire or from the world's own checks (chains, token
//!   signatures), and a liveness procedure per invoker procedure that has a record: entering
//!   `Onboarding`, `Negotiating`, `Authenticating` or `Invoking` begins one, leaving it ends it;
//!   a recovery from a method change begins when the invoker first meets the change and ends
//!   at its first success with a supported method, or when it gives up. Nothing is built when
//!   the audit is off.
//!
//! Records: `capif_onboarding`, `capif_negotiation`, `capif_authentication` and
//! `capif_invocation` (variant = the method), `capif_recovery` (variant = the strategy;
//! `round_trips` = requests the invoker sent from the change to recovery), `ccf_request`
//! (variant = the CCF operation) and, for interconnected flows, `capif_exposure` (variant = the
//! item, initiator/responder = the domains it left and entered).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::audit::ProcAudit;
use crate::audit::capif::{
    AefAudit, CapifAudit, CapifMutant, FlowAudit, NodeAudit, SecretSent, SessionCredential, SetupAudit, TokenFacts,
    fingerprint,
};
use crate::audit::mutant::Mutant;
use crate::crypto::aefpsk::AefPskVariant;
use crate::crypto::cost::{CryptoFidelity, CryptoOp};
use crate::crypto::pki::{self, RevocationList};
use crate::crypto::tls12;
use crate::engine::{Arrival, Ctx, SimDuration, SimRng, SimTime, TimerId, stream};
use crate::metrics::{Outcome, Record};
use crate::net::conn::ConnFailure;
use crate::net::tls::TlsMode;
use crate::net::{ClientTraffic, ConnId, HttpRequest, HttpResponse, NetEvent, Network, NodeId};
use crate::proto::capif::interconnection::Item;
use crate::proto::capif::interconnection::{self, Party, Plan, Scenario};
use crate::proto::capif::machines::{
    Capif1eMaterial, Ccf, CcfInput, Credential, Invoker, InvokerInput, InvokerState, Output, Peer, Timer,
};
use crate::proto::capif::mismatch::{
    AefReaction, AffectedInvoker, CcfAction, InvokerAction, InvokerSignal, MethodChange, PushBody, RecoveryStrategy,
    ccf_on_method_change, invoker_next,
};
use crate::proto::capif::onboarding::decode_certificate;
use crate::proto::capif::types::{
    AccessTokenReq, ApiInvokerEnrolmentDetails, Cause, EventNotification, InterfaceAddress, InterfaceDescription,
    RevokeAuthorizationReq, SecurityMethod, SecurityNotification, ServiceApiDescription, ServiceSecurity,
};
use crate::proto::common::SupportedFeatures;
use crate::scenario::CapifSpec;

use super::Msg;
use super::driver::{Driver, Io};
use crate::proto::capif::node::{
    AefAuditFacts, AefNode, AefObservation, ApfNode, CHECK_PATH, CapifTimer, PUBLISH_PREFIX, PeerTls, REVOKE_PATH,
    bearer,
};
use crate::proto::effect::{Input, Machine};

/// Engine messages of the CAPIF plane.
#[derive(Clone, Debug)]
pub enum CapifMsg {
    /// Invoker `i` starts onboarding.
    Start(u32),
    /// Invoker `i`'s next invocation is due.
    Arrival(u32),
    /// A timer of invoker `i`'s machine.
    InvokerTimer { inv: u32, timer: Timer },
    /// A timer of the node machine at `node`.
    Timer { node: NodeId, timer: CapifTimer },
    /// Invoker `i`'s back-off is over.
    Retry(u32),
    /// The APF applies `capif.method_changes[k]`.
    MethodChange(u32),
    /// The CCF applies `capif.revocations[k]`.
    Revoke(u32),
    /// `capif.ccf_restarts[k]`: the CCF restarts.
    CcfRestart(u32),
}

const ONBOARD_PATH: &str = "/api-invoker-management/v1/onboardedInvokers";
const TRUSTED_PREFIX: &str = "/capif-security/v1/trustedInvokers/";
const SECURITIES_PREFIX: &str = "/capif-security/v1/securities/";
pub(crate) const NOTIFY_PATH: &str = "/capif-notify";
const CAPIF6E_PREFIX: &str = "/secsim-capif6e/v1/jobs/";
/// Consecutive failed procedures after which an invoker stops (a safety net; each failure
/// also backs off).
const MAX_FAILURES: u32 = 6;

/// What an outstanding request of the plane is for.
#[derive(Clone, Debug)]
pub(crate) enum Pending {
    /// A request of invoker `inv`'s machine.
    Invoker { inv: u32 },
    /// A notification or revoke-authorization: the answer is not used.
    Fire,
    /// Step `step` of cross-CCF job `job`.
    Cross { job: u32, step: usize },
}

/// The procedure an invoker is in (for records).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) enum Phase {
    Idle,
    Onboard,
    Negotiate,
    Authenticate,
    Invoke,
}

pub(crate) struct Stale {
    pub(crate) since: SimTime,
    /// The invoker's client traffic at the change (the recovery record's bytes).
    pub(crate) traffic: ClientTraffic,
    /// First CAPIF-2e use of the old method or push received after the change.
    pub(crate) first: Option<SimTime>,
    /// Requests (and CAPIF-2e handshakes) sent since the change.
    pub(crate) extra: u32,
    /// The AEF's methods since the change.
    pub(crate) now_supported: Vec<SecurityMethod>,
}

pub(crate) struct InvokerActor {
    pub(crate) node: NodeId,
    pub(crate) name: String,
    pub(crate) flow: u32,
    pub(crate) m: Invoker,
    pub(crate) start_at: SimTime,
    pub(crate) rng: SimRng,
    pub(crate) timers: BTreeMap<Timer, TimerId>,
    /// The CAPIF-1e connection the last CCF request used.
    pub(crate) capif1e: Option<ConnId>,
    /// The open CAPIF-2e session and its mode.
    pub(crate) session: Option<(ConnId, TlsMode)>,
    pub(crate) sessions: u32,
    pub(crate) in_session: u32,
    pub(crate) want_invoke: bool,
    pub(crate) phase: Phase,
    pub(crate) phase_start: SimTime,
    /// The invoker's client traffic when its phase began (a record's bytes and exchanges).
    pub(crate) phase_traffic: ClientTraffic,
    pub(crate) hold_until: SimTime,
    pub(crate) retries: u32,
    pub(crate) failures: u32,
    pub(crate) gave_up: bool,
    pub(crate) arrivals_started: bool,
    /// Renegotiation due once the current request is answered.
    pub(crate) renegotiate: bool,
    pub(crate) stale: Option<Stale>,
    /// Interconnected flows: exposure already recorded for this method.
    pub(crate) exposed: Option<SecurityMethod>,
    /// Liveness audit: the procedure under way (kind, key), if any.
    pub(crate) proc: Option<(&'static str, u64)>,
    /// Liveness audit: the key of the recovery from a method change under way, if any.
    pub(crate) recovery: Option<u64>,
    /// An invocation is under way whose `capif_invocation` record is not written yet.
    pub(crate) invocation_open: bool,
    /// Consecutive refused invocations (reset by a served one): an invoker whose every
    /// invocation is refused gives up after [`MAX_FAILURES`] of them, even when each new
    /// session authenticates (issue 12).
    pub(crate) refusals: u32,
}

pub(crate) struct CcfActor {
    pub(crate) m: Ccf,
    pub(crate) rng: SimRng,
}

pub(crate) struct Flow {
    pub(crate) label: String,
    pub(crate) ccf: NodeId,
    pub(crate) aef: NodeId,
    pub(crate) aef_ccf: NodeId,
    pub(crate) arrival: Arrival,
    pub(crate) timeout: SimDuration,
}

impl Flow {
    fn interconnected(&self) -> bool {
        self.ccf != self.aef_ccf
    }
}

/// One CCF-to-CCF exchange of a plan.
#[derive(Clone, Debug)]
struct Step {
    from: NodeId,
    to: NodeId,
    name: &'static str,
    carries: Vec<interconnection::Item>,
    reply: Option<(&'static str, Vec<interconnection::Item>)>,
    /// The answer is CCF-B's machine's security information for (invoker, AEF ID).
    machine: Option<(String, String)>,
}

/// What happens when a cross-CCF job's steps are done.
#[derive(Clone, Debug)]
enum Then {
    /// Feed the deferred input to the CCF at `ccf` and answer on (conn, stream).
    Ccf {
        ccf: NodeId,
        conn: ConnId,
        stream: u32,
        input: Box<CcfInput>,
        op: &'static str,
        /// The request's bytes on the wire (the `ccf_request` record's bytes).
        req_bytes: u32,
    },
    /// Answer on (conn, stream) with the last step's answer.
    Relay { from: NodeId, conn: ConnId, stream: u32 },
}

pub(crate) struct Job {
    steps: Vec<Step>,
    then: Then,
    last: Option<(u16, &'static str, String)>,
    /// The invoker whose procedure it serves.
    inv: Option<u32>,
    /// Lost in a CCF restart: its steps are not run and nobody is answered.
    dead: bool,
}

/// Independent checks of the security properties, counted as the run goes (tests assert on
/// them; see `tests/sim/capif.rs`).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct CapifChecks {
    /// TLS-PSK sessions the AEF accepted.
    pub psk_sessions: u64,
    /// ... whose AEFPSK differed between invoker and AEF (must stay 0).
    pub psk_key_mismatch: u64,
    /// ... accepted with a key past its validity (must stay 0).
    pub expired_key_sessions: u64,
    /// PKI sessions the AEF accepted.
    pub pki_sessions: u64,
    /// ... whose client certificate does not chain to a CCF CA (must stay 0).
    pub untrusted_sessions: u64,
    /// Invocations answered 200 for an invoker, after the AEF processed its revocation, on a
    /// session accepted before it (0).
    pub revoked_successes: u64,
    /// Invocations answered 200 with a bearer token that is revoked (0).
    pub revoked_token_successes: u64,
    /// Invocations answered 200 with a method the AEF no longer supports (0).
    pub stale_method_successes: u64,
    /// Negotiations whose method lies outside prefs ∩ AEF methods (0).
    pub outside_intersection: u64,
    /// Successful negotiations.
    pub negotiations: u64,
    /// Invocations refused by the AEF (any reason).
    pub refused_invocations: u64,
    /// TLS handshakes the AEF refused or aborted.
    pub refused_handshakes: u64,
}

/// The CAPIF actors of one run.
pub struct CapifPlane {
    pub(crate) spec: CapifSpec,
    pub(crate) seed: u64,
    pub(crate) flows: Vec<Flow>,
    pub(crate) invokers: Vec<InvokerActor>,
    pub(crate) by_node: BTreeMap<NodeId, u32>,
    pub(crate) by_id: BTreeMap<String, u32>,
    pub(crate) ccfs: BTreeMap<NodeId, CcfActor>,
    pub(crate) aefs: BTreeMap<NodeId, AefNode>,
    pub(crate) pending: BTreeMap<(ConnId, u32), Pending>,
    /// APF nodes in the AEFs' domains (they publish method changes).
    pub(crate) apfs: BTreeMap<NodeId, ApfNode>,
    pub(crate) jobs: Vec<Job>,
    pub(crate) tls12: BTreeMap<ConnId, tls12::Tls12Session>,
    pub(crate) variant: AefPskVariant,
    pub(crate) strategy: RecoveryStrategy,
    /// Share of the invokers subscribed to `SERVICE_API_UPDATE` (`event_subscribers`).
    pub(crate) event_share: f64,
    pub(crate) tls_retries: u32,
    pub(crate) backoff: SimDuration,
    pub(crate) per_session: u32,
    /// CCF CA certificates (TLS-PKI trust anchors of the AEFs).
    pub(crate) ccf_cas: Vec<pki::Certificate>,
    /// Invoker tokens by ID (for the revoked-token check).
    pub(crate) revoked_ids: BTreeSet<String>,
    pub checks: CapifChecks,
    /// The driver of the node machines; its audit trail ([`crate::proto::effect`]) is the
    /// plane's, for the invariant checker ([`crate::check`]).
    pub driver: Driver<CapifTimer>,
    /// CCF names, in the order of `ccf_cas`.
    pub(crate) ccf_names: Vec<String>,
    /// Every CCF's token key (the world's own check of bearer tokens, for the audit).
    pub(crate) token_keys: Vec<(String, p256::ecdsa::VerifyingKey)>,
    /// Restarting CCFs: unreachable until.
    pub(crate) down_until: BTreeMap<NodeId, SimTime>,
    /// Whether the `Setup` audit event was emitted.
    pub(crate) announced: bool,
    /// The next liveness procedure key.
    pub(crate) next_proc: u64,
}

pub(crate) fn interface_of(aef: &str, api: &str, methods: Option<Vec<SecurityMethod>>) -> InterfaceDescription {
    InterfaceDescription {
        address: InterfaceAddress::Fqdn(format!("{aef}.capif.example")),
        port: Some(443),
        api_prefix: Some(format!("/{api}/v1")),
        security_methods: methods,
    }
}

pub(crate) fn default_methods() -> Vec<SecurityMethod> {
    vec![SecurityMethod::Psk, SecurityMethod::Pki, SecurityMethod::Oauth]
}

fn method_label(m: Option<&SecurityMethod>) -> String {
    m.map_or_else(|| "none".to_string(), |m| m.as_str().to_string())
}

fn strategy_label(s: RecoveryStrategy) -> String {
    match s {
        RecoveryStrategy::CcfPush(c) => format!("CcfPush({c:?})"),
        other => format!("{other:?}"),
    }
}

/// (Re)starts the timer `key` of an actor at `at`, cancelling the one it replaces.
fn restart_timer<K: Ord>(
    timers: &mut BTreeMap<K, TimerId>,
    key: K,
    ctx: &mut Ctx<'_, Msg>,
    node: NodeId,
    at: SimTime,
    msg: Msg,
) {
    if let Some(old) = timers.remove(&key) {
        ctx.cancel(old);
    }
    let id = ctx.set_timer_for(node, at.saturating_since(ctx.now()), msg);
    timers.insert(key, id);
}

/// A record of the plane (no connection or protection counts, no cause; the caller fills
/// bytes where the procedure has them).
#[allow(clippy::too_many_arguments)]
fn plane_record(
    procedure: &'static str,
    variant: String,
    initiator: String,
    responder: String,
    flow: String,
    start: SimTime,
    end: SimTime,
    outcome: Outcome,
    status: u16,
    round_trips: u32,
) -> Record {
    Record {
        procedure,
        flow,
        variant,
        result: String::new(),
        cause: String::new(),
        initiator,
        responder,
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

fn json_body(v: &Value) -> String {
    if v.is_null() { String::new() } else { v.to_string() }
}

/// How an input ends the invoker's procedure, for the liveness audit (`ok` is refined by the
/// state change).
fn outcome_label(input: &InvokerInput) -> &'static str {
    match input {
        InvokerInput::Response { status, .. } if *status < 300 => "ok",
        InvokerInput::Response { .. } => "rejected",
        InvokerInput::Timeout => "timeout",
        InvokerInput::TlsFailed => "failed",
        InvokerInput::KeyExpired => "key_expired",
        InvokerInput::SessionClosed => "closed",
        InvokerInput::Renegotiate { .. } => "renegotiate",
        InvokerInput::Start
        | InvokerInput::Authenticate
        | InvokerInput::TlsEstablished
        | InvokerInput::Invoke { .. } => "ok",
    }
}

/// The secrets a message shows (its body, followed by its `Authorization` header if any): an
/// onboarding secret, an AEFPSK grant, an access token.
fn secret_items(body: &str) -> Vec<Item> {
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

impl CapifPlane {
    /// Every node whose network events belong to this plane.
    pub fn nodes(&self) -> Vec<NodeId> {
        let mut v: Vec<NodeId> = self.invokers.iter().map(|i| i.node).collect();
        v.extend(self.ccfs.keys());
        v.extend(self.aefs.keys());
        v.extend(self.apfs.keys());
        v
    }

    /// The invoker machines (for tests).
    pub fn invoker_states(&self) -> Vec<(String, InvokerState, Option<SecurityMethod>)> {
        self.invokers
            .iter()
            .map(|i| (i.name.clone(), i.m.state(), i.m.method().cloned()))
            .collect()
    }

    /// The AEFPSK the invoker on `node` holds and the one its AEF holds for it (for tests).
    pub fn aefpsk_pair(&self, node: NodeId) -> Option<([u8; 32], Option<[u8; 32]>)> {
        let i = &self.invokers[*self.by_node.get(&node)? as usize];
        let key = i.m.aefpsk()?.key;
        let id = i.m.api_invoker_id()?;
        let aef = self.aefs.get(&self.flows[i.flow as usize].aef)?;
        Some((key, aef.m.psk().entry(id).map(|e| e.key)))
    }

    /// The initial events: onboarding starts and scripted changes.
    pub fn initial_events(&self) -> Vec<(SimTime, NodeId, Msg)> {
        let mut v: Vec<(SimTime, NodeId, Msg)> = self
            .invokers
            .iter()
            .enumerate()
            .map(|(i, a)| (a.start_at, a.node, Msg::Capif(CapifMsg::Start(i as u32))))
            .collect();
        let any = self.invokers.first().map_or(0, |i| i.node);
        for (k, c) in self.spec.method_changes.iter().enumerate() {
            v.push((SimTime::ZERO + c.at, any, Msg::Capif(CapifMsg::MethodChange(k as u32))));
        }
        for (k, r) in self.spec.revocations.iter().enumerate() {
            v.push((SimTime::ZERO + r.at, any, Msg::Capif(CapifMsg::Revoke(k as u32))));
        }
        for (k, r) in self.spec.ccf_restarts.iter().enumerate() {
            v.push((SimTime::ZERO + r.at, any, Msg::Capif(CapifMsg::CcfRestart(k as u32))));
        }
        v
    }

    // -----------------------------------------------------------------------------------------
    // Engine messages
    // -----------------------------------------------------------------------------------------

    /// Handles one of the plane's own engine messages.
    pub fn on_msg(&mut self, net: &mut Network, ctx: &mut Ctx<'_, Msg>, m: CapifMsg, records: &mut Vec<Record>) {
        if !self.announced {
            self.announce(net, ctx);
        }
        match m {
            CapifMsg::Start(i) => {
                self.begin(net, i, Phase::Onboard, ctx.now());
                self.feed(net, ctx, i, InvokerInput::Start, records);
            }
            CapifMsg::Arrival(i) => {
                let inv = &mut self.invokers[i as usize];
                if inv.gave_up {
                    return;
                }
                let gap = self.flows[inv.flow as usize].arrival.next_gap(&mut inv.rng);
                ctx.set_timer_for(inv.node, gap, Msg::Capif(CapifMsg::Arrival(i)));
                inv.want_invoke = true;
                self.advance(net, ctx, i, records);
            }
            CapifMsg::InvokerTimer { inv, timer } => {
                let a = &mut self.invokers[inv as usize];
                a.timers.remove(&timer);
                match timer {
                    Timer::Response => self.feed(net, ctx, inv, InvokerInput::Timeout, records),
                    Timer::KeyExpiry(_) => {
                        //= TS 33.122 6.5.2.1 (seed 003): a new key needs a new CAPIF-1e session
                        if let Some(c) = a.capif1e.take() {
                            net.close_conn(c);
                        }
                        if let Some((c, _)) = a.session.take() {
                            net.close_conn(c);
                        }
                        self.feed(net, ctx, inv, InvokerInput::KeyExpired, records);
                    }
                }
                self.advance(net, ctx, inv, records);
            }
            CapifMsg::Timer { node, timer } => {
                self.driver.fired(node, &timer);
                self.run_aef(net, ctx, node, Input::Timer(timer), records);
            }
            CapifMsg::Retry(i) => self.advance(net, ctx, i, records),
            CapifMsg::MethodChange(k) => self.method_change(net, ctx, k as usize, records),
            CapifMsg::Revoke(k) => self.revoke(net, ctx, k as usize),
            CapifMsg::CcfRestart(k) => self.ccf_restart(net, ctx, k as usize),
        }
    }

    fn begin(&mut self, net: &Network, i: u32, phase: Phase, now: SimTime) {
        let a = &mut self.invokers[i as usize];
        a.phase = phase;
        a.phase_start = now;
        a.phase_traffic = net.client_traffic(a.node);
    }

    /// Feeds an input to invoker `i`'s machine and acts on its outputs.
    fn feed(
        &mut self,
        net: &mut Network,
        ctx: &mut Ctx<'_, Msg>,
        i: u32,
        input: InvokerInput,
        records: &mut Vec<Record>,
    ) {
        let now = ctx.now();
        let label = outcome_label(&input);
        let a = &mut self.invokers[i as usize];
        let before = a.m.state();
        a.m.handle(now, &mut a.rng, input);
        let after = a.m.state();
        if after == InvokerState::Invoking && before != InvokerState::Invoking {
            a.invocation_open = true;
        }
        let outputs = a.m.drain_outputs();
        for o in outputs {
            self.invoker_output(net, ctx, i, o, records);
        }
        self.proc_audit(net, ctx, i, before, after, label);
        self.phase_records(net, ctx, i, (before, after, label), records);
    }

    // -----------------------------------------------------------------------------------------
    // Audit (issue 7): facts for the invariant checker, built only when the audit is on
    // -----------------------------------------------------------------------------------------

    /// Emits the `Setup` fact (once, at the plane's first engine message).
    fn announce(&mut self, net: &Network, ctx: &mut Ctx<'_, Msg>) {
        self.announced = true;
        if !self.driver.audit.active(ctx) {
            return;
        }
        let domain = |n: NodeId| net.topo.domain_of(n).name.clone();
        let setup = SetupAudit {
            interconnection: self.spec.interconnection,
            expiry: self.spec.expiry,
            token_leeway_s: self.spec.token_leeway.as_nanos() / 1_000_000_000,
            ccfs: self
                .ccfs
                .keys()
                .map(|&c| NodeAudit {
                    node: net.topo.name(c).to_string(),
                    domain: domain(c),
                })
                .collect(),
            aefs: self
                .aefs
                .iter()
                .map(|(&n, a)| AefAudit {
                    aef: a.aef_id().to_string(),
                    domain: domain(n),
                    methods: a.methods.clone(),
                })
                .collect(),
            flows: self
                .flows
                .iter()
                .map(|f| FlowAudit {
                    label: f.label.clone(),
                    ccf: net.topo.name(f.ccf).to_string(),
                    aef: net.topo.name(f.aef).to_string(),
                    aef_ccf: net.topo.name(f.aef_ccf).to_string(),
                    recovery_bound_ns: self.recovery_bound(net, f.timeout).as_nanos(),
                    recovery_budget: self.recovery_budget(),
                })
                .collect(),
        };
        self.driver.audit.emit(ctx, CapifAudit::Setup(Box::new(setup)));
    }

    /// The liveness bound of an invoker procedure: what its own timers allow once nothing
    /// disturbs it. A request waits at most the flow's `timeout` (the invoker's response
    /// timer); authentication adds the CAPIF-2e TLS handshake, which has no timer of its own,
    /// allowed the network's `connect_timeout`; a recovery may take every retry, back-off and
    /// failure the invoker allows before it gives up.
    fn proc_bound(&self, net: &Network, i: u32, kind: &str) -> SimDuration {
        let timeout = self.flows[self.invokers[i as usize].flow as usize].timeout;
        let handshake = net.cfg.connect_timeout;
        match kind {
            "capif_authentication" => timeout + handshake,
            "capif_recovery" => self.recovery_bound(net, timeout),
            _ => timeout,
        }
    }

    /// The most failed procedures an invoker allows itself in one recovery (from a method
    /// change, a revocation, a CCF restart) before it gives up: [`MAX_FAILURES`] consecutive
    /// failures, the `tls_retries` of the TLS-only strategies, one renegotiation and one
    /// re-onboarding.
    fn recovery_budget(&self) -> u32 {
        MAX_FAILURES + self.tls_retries + 2
    }

    /// The time a recovery may take for a flow with request timeout `timeout`: every
    /// procedure of its budget waiting its full timeout, TLS handshake and back-off.
    fn recovery_bound(&self, net: &Network, timeout: SimDuration) -> SimDuration {
        (timeout + net.cfg.connect_timeout + self.backoff) * u64::from(self.recovery_budget())
    }

    /// Liveness audit of a state change of invoker `i`'s machine: leaving a procedure's state
    /// ends it, entering one begins it.
    fn proc_audit(
        &mut self,
        net: &Network,
        ctx: &mut Ctx<'_, Msg>,
        i: u32,
        before: InvokerState,
        after: InvokerState,
        label: &'static str,
    ) {
        use InvokerState as S;
        if before == after || !self.driver.audit.active(ctx) {
            return;
        }
        let kind_of = |s: InvokerState| match s {
            S::Onboarding => Some("capif_onboarding"),
            S::Negotiating => Some("capif_negotiation"),
            S::Authenticating => Some("capif_authentication"),
            S::Invoking => Some("capif_invocation"),
            _ => None,
        };
        if let Some((kind, key)) = self.invokers[i as usize].proc.take() {
            let ok = matches!(
                (before, after),
                (S::Onboarding, S::Onboarded)
                    | (S::Negotiating, S::MethodSelected)
                    | (S::Authenticating, S::Authenticated)
            ) || (before == S::Invoking && label == "ok");
            let outcome = if ok {
                "ok"
            } else if label == "ok" {
                "error"
            } else {
                label
            };
            self.proc_end(ctx, kind, key, outcome);
        }
        if let Some(kind) = kind_of(after) {
            let key = self.proc_begin(net, ctx, i, kind);
            self.invokers[i as usize].proc = Some((kind, key));
        }
    }

    fn proc_begin(&mut self, net: &Network, ctx: &mut Ctx<'_, Msg>, i: u32, kind: &'static str) -> u64 {
        let key = self.next_proc;
        self.next_proc += 1;
        let bound = self.proc_bound(net, i, kind);
        let node = self.invokers[i as usize].name.clone();
        self.driver.audit.emit(
            ctx,
            ProcAudit::Begin {
                kind: kind.to_string(),
                key,
                node,
                bound_ns: bound.as_nanos(),
            },
        );
        key
    }

    fn proc_end(&mut self, ctx: &mut Ctx<'_, Msg>, kind: &'static str, key: u64, outcome: &str) {
        if crate::audit::mutant::is(Mutant::DropProcEnd) {
            return;
        }
        self.driver.audit.emit(
            ctx,
            ProcAudit::End {
                kind: kind.to_string(),
                key,
                outcome: outcome.to_string(),
            },
        );
    }

    /// A recovery from a method change begins when invoker `i` first meets the change (its
    /// first use of the old method, or a push).
    fn recovery_audit(&mut self, net: &Network, ctx: &mut Ctx<'_, Msg>, i: u32) {
        let a = &self.invokers[i as usize];
        if a.gave_up
            || a.recovery.is_some()
            || a.stale.as_ref().is_none_or(|s| s.first.is_none())
            || !self.driver.audit.active(ctx)
        {
            return;
        }
        let key = self.proc_begin(net, ctx, i, "capif_recovery");
        self.invokers[i as usize].recovery = Some(key);
    }

    /// Ends invoker `i`'s recovery, if one is under way.
    fn recovery_end(&mut self, ctx: &mut Ctx<'_, Msg>, i: u32, outcome: &str) {
        if let Some(key) = self.invokers[i as usize].recovery.take() {
            self.proc_end(ctx, "capif_recovery", key, outcome);
        }
    }

    /// Invoker `i` stops for good: a definite error. A recovery from a method change under
    /// way ends with it (a `capif_recovery` record with outcome `error`, cause `gave_up`).
    fn give_up(&mut self, net: &Network, ctx: &mut Ctx<'_, Msg>, i: u32, records: &mut Vec<Record>) {
        let now = ctx.now();
        let a = &mut self.invokers[i as usize];
        if a.gave_up {
            return;
        }
        a.gave_up = true;
        if let Some(s) = a.stale.take_if(|s| s.first.is_some()) {
            let mut r = self.recovery_record(net, i, &s, now, Outcome::Error);
            r.cause = "gave_up".into();
            records.push(r);
        }
        if self.driver.audit.active(ctx) {
            let ev = CapifAudit::GaveUp {
                node: self.invokers[i as usize].name.clone(),
            };
            self.driver.audit.emit(ctx, ev);
        }
        self.recovery_end(ctx, i, "gave_up");
    }

    /// The `capif_recovery` record of invoker `i`'s recovery `s` ending at `end`: from the
    /// first meeting with the change (or the change itself), variant = the strategy,
    /// `round_trips` = requests and handshakes sent since the change.
    fn recovery_record(&self, net: &Network, i: u32, s: &Stale, end: SimTime, outcome: Outcome) -> Record {
        let a = &self.invokers[i as usize];
        let f = &self.flows[a.flow as usize];
        let mut r = plane_record(
            "capif_recovery",
            strategy_label(self.strategy),
            a.name.clone(),
            net.topo.name(f.aef).to_string(),
            f.label.clone(),
            s.first.unwrap_or(s.since),
            end,
            outcome,
            0,
            s.extra,
        );
        r.bytes = net.client_traffic(a.node).since(s.traffic).0;
        r
    }

    /// Censoring (issue 12): the procedures of each invoker (in index order) under way when
    /// the run stopped at `now`, recorded as [`Outcome::Unfinished`] with their age and the
    /// fields their end record would have had: the onboarding, negotiation, authentication
    /// or invocation its machine is in (an invocation only if its record is not written yet),
    /// and a recovery from a method change that began (the invoker met the change) and
    /// neither succeeded nor gave up. A procedure's end record clears what is looked at here
    /// (the machine leaves the state; the recovery's `stale` is taken), so none is counted
    /// twice.
    pub fn finish(&mut self, net: &Network, now: SimTime, records: &mut Vec<Record>) {
        use InvokerState as S;
        for i in 0..self.invokers.len() as u32 {
            let a = &self.invokers[i as usize];
            let method = method_label(a.m.method());
            let open = match a.m.state() {
                S::Onboarding => Some(("capif_onboarding", String::new())),
                S::Negotiating => Some(("capif_negotiation", String::new())),
                S::Authenticating => Some(("capif_authentication", method)),
                S::Invoking if a.invocation_open => Some(("capif_invocation", method)),
                _ => None,
            };
            if let Some((procedure, variant)) = open {
                self.record(net, i, procedure, variant, now, (Outcome::Unfinished, 0, ""), records);
            }
            let a = &self.invokers[i as usize];
            if !a.gave_up
                && let Some(s) = a.stale.as_ref().filter(|s| s.first.is_some())
            {
                let r = self.recovery_record(net, i, s, now, Outcome::Unfinished);
                records.push(r);
            }
        }
    }

    /// Emits what a message carried (identifiers, secrets) from `from` to `to`, for the
    /// domain-crossing invariant: `carries` as the CAPIF-6e body lists them, plus what the
    /// body shows ([`secret_items`]).
    #[allow(clippy::too_many_arguments)]
    fn audit_sent(
        &mut self,
        net: &Network,
        ctx: &mut Ctx<'_, Msg>,
        inv: Option<u32>,
        from: NodeId,
        to: NodeId,
        message: &str,
        body: &str,
        carries: &[Item],
    ) {
        if !self.driver.audit.active(ctx) {
            return;
        }
        let mut items = carries.to_vec();
        for item in secret_items(body) {
            if !items.contains(&item) {
                items.push(item);
            }
        }
        if items.is_empty() {
            return;
        }
        let (flow, invoker_domain) = match inv {
            Some(i) => {
                let a = &self.invokers[i as usize];
                (
                    self.flows[a.flow as usize].label.clone(),
                    net.topo.domain_of(a.node).name.clone(),
                )
            }
            None => (String::new(), String::new()),
        };
        let ev = SecretSent {
            flow,
            invoker_domain,
            from: net.topo.name(from).to_string(),
            from_domain: net.topo.domain_of(from).name.clone(),
            to: net.topo.name(to).to_string(),
            to_domain: net.topo.domain_of(to).name.clone(),
            message: message.to_string(),
            items,
        };
        self.driver.audit.emit(ctx, CapifAudit::SecretSent(Box::new(ev)));
    }

    /// What the AEF had when it accepted a session: the PSK it holds and the one the
    /// client's TLS stack used; the client chain checked by the world against each CCF CA;
    /// the bearer token as the world decodes and verifies it.
    #[allow(clippy::too_many_arguments)]
    fn credential_facts(
        &self,
        net: &Network,
        now: SimTime,
        node: NodeId,
        client: NodeId,
        invoker: &str,
        credential: &Credential,
        token: Option<&str>,
    ) -> SessionCredential {
        match credential {
            Credential::Psk(offered) => SessionCredential::Psk {
                aef_key: self.aefs[&node].m.psk().entry(invoker).map(|e| fingerprint(&e.key)),
                offered_key: fingerprint(offered),
            },
            Credential::Certificate(_) => {
                let cert = net.sec.certificate(client);
                let now_s = now.as_nanos() / 1_000_000_000;
                let anchor = self
                    .ccf_cas
                    .iter()
                    .zip(&self.ccf_names)
                    .find(|(ca, _)| {
                        pki::verify_chain(cert, &[], std::slice::from_ref(*ca), now_s, &RevocationList::new()).is_ok()
                    })
                    .map(|(_, n)| n.clone());
                SessionCredential::Pki {
                    subject: cert.subject.clone(),
                    anchor,
                }
            }
            Credential::ServerAuthOnly => SessionCredential::Oauth {
                token: token.and_then(|t| self.token_facts(t)),
            },
        }
    }

    /// A bearer token's claims, and the CCF whose key verifies its signature.
    fn token_facts(&self, token: &str) -> Option<TokenFacts> {
        let signed = self.token_keys.iter().find_map(|(n, k)| {
            crate::crypto::jose::verify_compact(k, token)
                .ok()
                .map(|v| (n.clone(), v.payload))
        });
        let (signed_by, payload) = match signed {
            Some((n, p)) => (Some(n), p),
            None => (
                None,
                crate::crypto::jose::b64_decode(token.split('.').nth(1)?, "payload").ok()?,
            ),
        };
        let claims: crate::crypto::jwt::AccessTokenClaims = serde_json::from_slice(&payload).ok()?;
        Some(TokenFacts {
            jti: claims.jti,
            client_id: claims.client_id,
            exp_s: claims.exp,
            signed_by,
        })
    }

    /// Records the end of a procedure from the invoker's state change.
    fn phase_records(
        &mut self,
        net: &mut Network,
        ctx: &mut Ctx<'_, Msg>,
        i: u32,
        (before, after, label): (InvokerState, InvokerState, &'static str),
        records: &mut Vec<Record>,
    ) {
        use InvokerState as S;
        let now = ctx.now();
        let a = &self.invokers[i as usize];
        let method = method_label(a.m.method());
        if before == S::Invoking && after != S::Invoking && a.invocation_open {
            // The invocation ended without an answer or a session failure (its response
            // timer, its AEFPSK's expiry): one record all the same.
            let (outcome, cause) = match label {
                "timeout" => (Outcome::Timeout, ""),
                other => (Outcome::Error, other),
            };
            self.record(net, i, "capif_invocation", method, now, (outcome, 0, cause), records);
            return;
        }
        let (procedure, ok) = match (before, after) {
            (S::Onboarding, S::Onboarded) => ("capif_onboarding", true),
            (S::Onboarding, S::Unonboarded) => ("capif_onboarding", false),
            (S::Negotiating, S::MethodSelected) => ("capif_negotiation", true),
            (S::Negotiating, S::Onboarded) => ("capif_negotiation", false),
            (S::Authenticating, S::Authenticated) => ("capif_authentication", true),
            (S::Authenticating, S::MethodSelected | S::Onboarded) => ("capif_authentication", false),
            _ => return,
        };
        // Authentication runs under the selected method (the variant); a negotiation's
        // method is what it settles on (its result); onboarding comes before any method.
        let (variant, result) = match (procedure, ok) {
            ("capif_authentication", _) => (method, String::new()),
            ("capif_negotiation", true) => (String::new(), method),
            _ => (String::new(), String::new()),
        };
        self.record(
            net,
            i,
            procedure,
            variant,
            now,
            if ok {
                (Outcome::Ok, 0, "")
            } else {
                (Outcome::Error, 0, "")
            },
            records,
        );
        if let Some(r) = records.last_mut().filter(|r| r.procedure == procedure) {
            r.result = result;
        }
        let a = &mut self.invokers[i as usize];
        if ok {
            a.failures = 0;
        } else {
            a.failures += 1;
            let backoff = self.backoff;
            a.hold_until = now + backoff;
            ctx.set_timer_for(a.node, backoff, Msg::Capif(CapifMsg::Retry(i)));
            if a.failures >= MAX_FAILURES {
                self.give_up(net, ctx, i, records);
            }
        }
        let a = &mut self.invokers[i as usize];
        a.phase = Phase::Idle;
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        net: &Network,
        i: u32,
        procedure: &'static str,
        variant: String,
        end: SimTime,
        (outcome, status, cause): (Outcome, u16, &str),
        records: &mut Vec<Record>,
    ) {
        let a = &self.invokers[i as usize];
        let f = &self.flows[a.flow as usize];
        let responder = match procedure {
            "capif_authentication" | "capif_invocation" => f.aef,
            _ => f.ccf,
        };
        let mut r = plane_record(
            procedure,
            variant,
            a.name.clone(),
            net.topo.name(responder).to_string(),
            f.label.clone(),
            a.phase_start,
            end,
            outcome,
            status,
            0,
        );
        r.cause = cause.to_string();
        (r.bytes, r.round_trips) = net.client_traffic(a.node).since(a.phase_traffic);
        records.push(r);
        if procedure == "capif_invocation" {
            self.invokers[i as usize].invocation_open = false;
        }
    }

    /// Moves invoker `i` towards invoking when nothing is outstanding.
    fn advance(&mut self, net: &mut Network, ctx: &mut Ctx<'_, Msg>, i: u32, records: &mut Vec<Record>) {
        let now = ctx.now();
        let a = &self.invokers[i as usize];
        if a.gave_up || now < a.hold_until {
            return;
        }
        match a.m.state() {
            InvokerState::Unonboarded => {
                self.begin(net, i, Phase::Onboard, now);
                self.feed(net, ctx, i, InvokerInput::Start, records);
            }
            InvokerState::Onboarded => {
                self.begin(net, i, Phase::Negotiate, now);
                self.feed(net, ctx, i, InvokerInput::Start, records);
            }
            InvokerState::MethodSelected => {
                let a = &mut self.invokers[i as usize];
                let first = a.sessions == 0;
                if !(a.want_invoke || first || a.renegotiate) {
                    return;
                }
                let renegotiate = std::mem::take(&mut a.renegotiate)
                    || (self.strategy == RecoveryStrategy::RenegotiateBeforeEachSession && a.in_session == u32::MAX);
                if renegotiate {
                    self.begin(net, i, Phase::Negotiate, now);
                    self.feed(net, ctx, i, InvokerInput::Renegotiate { session: None }, records);
                } else {
                    self.begin(net, i, Phase::Authenticate, now);
                    self.feed(net, ctx, i, InvokerInput::Authenticate, records);
                }
            }
            InvokerState::Authenticated => {
                let a = &mut self.invokers[i as usize];
                if a.renegotiate {
                    a.renegotiate = false;
                    if let Some((c, _)) = a.session.take() {
                        net.close_conn(c);
                    }
                    self.begin(net, i, Phase::Negotiate, now);
                    self.feed(net, ctx, i, InvokerInput::Renegotiate { session: None }, records);
                } else if a.want_invoke {
                    a.want_invoke = false;
                    let api = self.aefs[&self.flows[a.flow as usize].aef].api().to_string();
                    self.begin(net, i, Phase::Invoke, now);
                    self.feed(net, ctx, i, InvokerInput::Invoke { api }, records);
                }
            }
            _ => {}
        }
    }

    fn invoker_output(
        &mut self,
        net: &mut Network,
        ctx: &mut Ctx<'_, Msg>,
        i: u32,
        o: Output,
        records: &mut Vec<Record>,
    ) {
        let now = ctx.now();
        let a = &mut self.invokers[i as usize];
        let node = a.node;
        match o {
            Output::Send(m) => {
                let f = &self.flows[a.flow as usize];
                let mut req = HttpRequest::new(m.method, m.path.clone(), m.schema, json_body(&m.body));
                if let Some(auth) = m.authorization {
                    req = req.with_header("authorization", auth);
                }
                if let Some(s) = &mut a.stale {
                    s.extra += 1;
                }
                let to = match m.to {
                    Peer::Ccf => f.ccf,
                    Peer::Aef => f.aef,
                    Peer::Invoker => return,
                };
                // What the message shows: its body and its Authorization header.
                let sent = self
                    .driver
                    .audit
                    .active(ctx)
                    .then(|| match req.header("authorization") {
                        Some(a) => format!("{} {a}", req.body),
                        None => req.body.clone(),
                    });
                let (conn, stream) = match m.to {
                    Peer::Ccf => {
                        let (c, s) = net.request(ctx, node, to, None, req);
                        a.capif1e = Some(c);
                        (c, s)
                    }
                    Peer::Aef if m.path == CHECK_PATH => net.request(ctx, node, to, None, req),
                    _ => {
                        if let Some(s) = &mut a.stale
                            && s.first.is_none()
                        {
                            s.first = Some(now);
                        }
                        let mode = a.session.as_ref().map_or(TlsMode::Certificate, |(_, m)| m.clone());
                        net.request_with(ctx, node, to, None, mode, req)
                    }
                };
                self.pending.insert((conn, stream), Pending::Invoker { inv: i });
                if let Some(body) = sent {
                    self.audit_sent(net, ctx, Some(i), node, to, m.schema, &body, &[]);
                }
                self.recovery_audit(net, ctx, i);
            }
            Output::SetTimer { timer, at } => {
                let msg = Msg::Capif(CapifMsg::InvokerTimer {
                    inv: i,
                    timer: timer.clone(),
                });
                restart_timer(&mut a.timers, timer, ctx, node, at, msg);
            }
            Output::CancelTimer { timer } => {
                if let Some(old) = a.timers.remove(&timer) {
                    ctx.cancel(old);
                }
            }
            Output::StartTls { method, psk } => {
                //= TS 33.122 6.5.2.1 step 6: TLS on CAPIF-2e with the selected method
                let mode = match (&method, psk) {
                    (SecurityMethod::Psk, Some((id, key))) => TlsMode::ExternalPsk {
                        identity: id.into_bytes(),
                        psk: key.to_vec(),
                    },
                    _ => TlsMode::Certificate,
                };
                let aef = self.flows[a.flow as usize].aef;
                if let Some((old, _)) = a.session.take() {
                    net.close_conn(old);
                }
                if let Some(s) = &mut a.stale {
                    s.extra += 1;
                    if s.first.is_none() {
                        s.first = Some(now);
                    }
                }
                let conn = net.connect(ctx, node, aef, None, mode.clone());
                a.session = Some((conn, mode));
                a.in_session = 0;
                a.sessions += 1;
                self.recovery_audit(net, ctx, i);
            }
            Output::Established { method, .. } => {
                let a = &mut self.invokers[i as usize];
                a.retries = 0;
                if !a.arrivals_started {
                    // Invocations start once the first CAPIF-2e session is up.
                    a.arrivals_started = true;
                    ctx.set_timer_for(node, SimDuration::ZERO, Msg::Capif(CapifMsg::Arrival(i)));
                }
                let f = &self.flows[a.flow as usize];
                if f.interconnected() && a.exposed.as_ref() != Some(&method) {
                    a.exposed = Some(method.clone());
                    self.exposure(net, i, &method, now, records);
                }
            }
            Output::KeyInstalled { invoker, expires_at } => {
                let c = net.sec.cpu.charge(node, now, &[(CryptoOp::Kdf3gpp, 1)]);
                let _ = c;
                if self.driver.audit.active(ctx)
                    && let Some(k) = a.m.aefpsk()
                {
                    let ev = CapifAudit::PskDerived {
                        invoker,
                        aef: net.topo.name(self.flows[a.flow as usize].aef).to_string(),
                        key: fingerprint(&k.key),
                        expires_at_ns: expires_at.as_nanos(),
                    };
                    self.driver.audit.emit(ctx, ev);
                }
            }
            Output::Failed {
                status: Some(404),
                problem: Some(p),
                ..
            } if matches!(
                p.cause.as_deref(),
                Some("SECURITY_INFO_UNAVAILABLE" | crate::proto::capif::security_method::CAUSE_INVOKER_NOT_FOUND)
            ) && a.m.state() == InvokerState::MethodSelected =>
            {
                //= TS 33.122 6.5.2.1: without a security context at the CCF (none, expired, or
                //= lost in a restart) steps 1-2 run again: the invoker negotiates on a new
                //= CAPIF-1e session (update; a 404 to it leads to PUT), then authenticates.
                a.renegotiate = true;
                a.want_invoke = true;
                if let Some(c) = a.capif1e.take() {
                    net.close_conn(c);
                }
            }
            Output::Failed { .. } | Output::SessionClosed { .. } => {}
        }
    }

    fn exposure(&self, net: &Network, i: u32, method: &SecurityMethod, now: SimTime, records: &mut Vec<Record>) {
        let a = &self.invokers[i as usize];
        let f = &self.flows[a.flow as usize];
        let plan = self.plan_for(net, f, method.clone());
        for e in interconnection::exposure(&plan, interconnection::default_domain) {
            records.push(plane_record(
                "capif_exposure",
                format!("{:?}", e.item),
                format!("{:?}", e.from_domain),
                format!("{:?}", e.to_domain),
                f.label.clone(),
                now,
                now,
                Outcome::Ok,
                0,
                0,
            ));
        }
    }

    fn plan_for(&self, net: &Network, f: &Flow, method: SecurityMethod) -> Plan {
        let n_peer_ccfs = (0..net.topo.node_count() as NodeId)
            .filter(|&n| net.topo.node(n).role == crate::scenario::NodeRole::Ccf && n != f.aef_ccf)
            .count()
            .max(1) as u16;
        interconnection::plan(
            &self.spec.interconnection,
            &Scenario {
                n_peer_ccfs,
                has_mapping: true,
                method,
                n_apis: 1,
                rnaa: false,
            },
        )
    }

    // -----------------------------------------------------------------------------------------
    // Network events
    // -----------------------------------------------------------------------------------------

    /// Handles a network event at one of the plane's nodes.
    pub fn on_net_event(
        &mut self,
        net: &mut Network,
        ctx: &mut Ctx<'_, Msg>,
        node: NodeId,
        ev: NetEvent,
        records: &mut Vec<Record>,
    ) {
        if let Some(a) = self.apfs.get_mut(&node) {
            if let Some(input) = self.driver.input(node, ev) {
                let mut io = Io { net, ctx, records };
                self.driver.handle(&mut io, node, a, input);
            }
            return;
        }
        if self.aefs.contains_key(&node) && !matches!(ev, NetEvent::ConnectRequest { .. }) {
            let Some(input) = self.driver.input(node, ev) else {
                return;
            };
            if let Input::Request { at, client, req } = &input {
                self.aef_peer(net, ctx, node, (at.conn, *client), req);
            }
            return self.run_aef(net, ctx, node, input, records);
        }
        match ev {
            NetEvent::ConnectRequest { conn, .. } => net.accept_connect(ctx, conn),
            NetEvent::Request {
                conn,
                stream,
                client,
                req,
            } => {
                if self.ccfs.contains_key(&node) {
                    self.at_ccf(net, ctx, node, conn, stream, client, req, records);
                } else if let Some(&i) = self.by_node.get(&node) {
                    self.notified(net, ctx, i, conn, stream, req, records);
                }
            }
            NetEvent::Response { conn, stream, rsp } => {
                let Some(p) = self.pending.remove(&(conn, stream)) else {
                    return;
                };
                self.on_response(net, ctx, p, conn, rsp.status, rsp.body, records);
            }
            NetEvent::Connected { conn } => {
                let Some(&i) = self.by_node.get(&node) else { return };
                if self.invokers[i as usize]
                    .session
                    .as_ref()
                    .is_some_and(|(c, _)| *c == conn)
                {
                    self.feed(net, ctx, i, InvokerInput::TlsEstablished, records);
                    self.advance(net, ctx, i, records);
                }
            }
            NetEvent::Failed { conn, streams, cause } => {
                let mut lost: Vec<Pending> = streams
                    .iter()
                    .filter_map(|s| self.pending.remove(&(conn, *s)))
                    .collect();
                if let Some(&i) = self.by_node.get(&node) {
                    let on_session = self.invokers[i as usize]
                        .session
                        .as_ref()
                        .is_some_and(|(c, _)| *c == conn);
                    if on_session {
                        lost.retain(|p| !matches!(p, Pending::Invoker { .. }));
                        self.session_failed(net, ctx, i, &cause, records);
                        return;
                    }
                }
                for p in lost {
                    match p {
                        Pending::Invoker { inv, .. } => {
                            self.feed(net, ctx, inv, InvokerInput::TlsFailed, records);
                        }
                        Pending::Cross { job, .. } => {
                            // The peer CCF is unreachable (or restarted): the job fails.
                            let j = &mut self.jobs[job as usize];
                            let p = crate::proto::capif::onboarding::problem(504, "TARGET_CCF_NOT_REACHABLE");
                            j.last = Some((504, "ProblemDetails", serde_json::to_string(&p).unwrap_or_default()));
                            let then = j.then.clone();
                            self.finish_job(net, ctx, job, then, records);
                        }
                        Pending::Fire => {}
                    }
                }
            }
        }
    }

    /// The CAPIF-2e session of invoker `i` failed or was closed by the AEF.
    fn session_failed(
        &mut self,
        net: &mut Network,
        ctx: &mut Ctx<'_, Msg>,
        i: u32,
        cause: &ConnFailure,
        records: &mut Vec<Record>,
    ) {
        let now = ctx.now();
        let a = &mut self.invokers[i as usize];
        a.session = None;
        let invoking = a.m.state() == InvokerState::Invoking;
        let m = method_label(a.m.method());
        let alert = match cause {
            ConnFailure::Tls(t) => t.alert,
            _ => "",
        };
        if alert == "close_notify" {
            // The AEF closed the session (key expiry with CloseSessions, revocation).
            if invoking {
                self.record(net, i, "capif_invocation", m, now, (Outcome::Error, 0, alert), records);
            }
            self.feed(net, ctx, i, InvokerInput::SessionClosed, records);
            self.advance(net, ctx, i, records);
            return;
        }
        if invoking {
            let alert = if alert.is_empty() { "handshake_failure" } else { alert };
            self.record(
                net,
                i,
                "capif_invocation",
                m,
                now,
                (Outcome::Refused, 0, alert),
                records,
            );
        }
        self.feed(net, ctx, i, InvokerInput::TlsFailed, records);
        let reaction = AefReaction::TlsAlert(if alert.is_empty() { "handshake_failure" } else { alert });
        self.react(
            net,
            ctx,
            i,
            invoker_next(self.strategy, InvokerSignal::Aef(&reaction)),
            records,
        );
    }

    /// Invoker `i` acts on what a failure or push told it.
    fn react(
        &mut self,
        net: &mut Network,
        ctx: &mut Ctx<'_, Msg>,
        i: u32,
        action: InvokerAction,
        records: &mut Vec<Record>,
    ) {
        let now = ctx.now();
        let (tls_retries, backoff) = (self.tls_retries, self.backoff);
        let a = &mut self.invokers[i as usize];
        match action {
            InvokerAction::Proceed => {}
            InvokerAction::GiveUp => {
                if let Some((c, _)) = a.session.take() {
                    net.close_conn(c);
                }
                self.give_up(net, ctx, i, records);
            }
            InvokerAction::Retry if a.retries < tls_retries => {
                a.retries += 1;
                // A retry retries the invocation that failed, without waiting for the next.
                a.want_invoke = true;
                a.hold_until = now + backoff;
                ctx.set_timer_for(a.node, backoff, Msg::Capif(CapifMsg::Retry(i)));
            }
            InvokerAction::Retry | InvokerAction::ReNegotiate { .. } => {
                //= TS 33.122 5.1.1 (seed 004): re-ask the CCF, then invoke with the new method
                a.retries = 0;
                a.renegotiate = true;
                a.want_invoke = true;
                a.hold_until = now;
                if matches!(
                    a.m.state(),
                    InvokerState::Authenticating | InvokerState::Invoking | InvokerState::Negotiating
                ) {
                    return; // after the outstanding request
                }
                self.advance(net, ctx, i, records);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_response(
        &mut self,
        net: &mut Network,
        ctx: &mut Ctx<'_, Msg>,
        p: Pending,
        conn: ConnId,
        status: u16,
        body: String,
        records: &mut Vec<Record>,
    ) {
        let value: Value = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&body).unwrap_or(Value::String(body.clone()))
        };
        match p {
            Pending::Invoker { inv: i } => {
                let a = &mut self.invokers[i as usize];
                let state = a.m.state();
                if state == InvokerState::Negotiating && status < 300 {
                    //= TS 33.122 6.5.2.1 step 2: derive from the CAPIF-1e session of this connection
                    let material = self.capif1e_material(net, conn, true);
                    self.invokers[i as usize].m.set_capif1e(material);
                }
                if state == InvokerState::Onboarding && status == 201 {
                    //= TS 33.122 6.1: later CAPIF-1e requests use the issued certificate
                    let cert = serde_json::from_value::<ApiInvokerEnrolmentDetails>(value.clone())
                        .ok()
                        .and_then(|d| d.onboarding_information.api_invoker_certificate)
                        .and_then(|c| decode_certificate(&c));
                    if let Some(cert) = cert {
                        let id = cert.subject.clone();
                        net.sec.set_certificate(self.invokers[i as usize].node, cert);
                        self.by_id.insert(id.clone(), i);
                        if self.driver.audit.active(ctx) {
                            let a = &self.invokers[i as usize];
                            let f = &self.flows[a.flow as usize];
                            let ev = CapifAudit::Onboarded {
                                node: a.name.clone(),
                                invoker: id,
                                ccf: net.topo.name(f.ccf).to_string(),
                                flow: f.label.clone(),
                            };
                            self.driver.audit.emit(ctx, ev);
                        }
                    }
                    net.close_conn(conn);
                    self.invokers[i as usize].capif1e = None;
                }
                if state == InvokerState::Invoking {
                    self.invocation_answered(net, ctx, i, status, &value, records);
                    return;
                }
                let not_found = status == 404
                    && value.get("cause").and_then(Value::as_str)
                        == Some(crate::proto::capif::security_method::CAUSE_INVOKER_NOT_FOUND);
                self.feed(net, ctx, i, InvokerInput::Response { status, body: value }, records);
                if state == InvokerState::Negotiating && status >= 400 && !not_found {
                    // No common method, revoked...: final for this invoker. (A CCF without a
                    // trusted-invoker entry for an update, e.g. after a restart, is not: the
                    // invoker is back in Onboarded and negotiates with PUT.)
                    self.give_up(net, ctx, i, records);
                }
                self.advance(net, ctx, i, records);
            }
            Pending::Fire => {}
            Pending::Cross { job, step } => {
                let j = &mut self.jobs[job as usize];
                if j.dead || step >= j.steps.len() {
                    return; // lost in a CCF restart
                }
                let schema = if j.steps[step].machine.is_some() && status == 200 {
                    "ServiceSecurity"
                } else if status >= 400 {
                    "ProblemDetails"
                } else {
                    ""
                };
                j.last = Some((status, schema, body));
                if status >= 400 {
                    let then = j.then.clone();
                    self.finish_job(net, ctx, job, then, records);
                } else {
                    self.run_step(net, ctx, job, step + 1, records);
                }
            }
        }
    }

    fn invocation_answered(
        &mut self,
        net: &mut Network,
        ctx: &mut Ctx<'_, Msg>,
        i: u32,
        status: u16,
        value: &Value,
        records: &mut Vec<Record>,
    ) {
        let now = ctx.now();
        let a = &self.invokers[i as usize];
        let method = a.m.method().cloned();
        let outcome = if status < 300 { Outcome::Ok } else { Outcome::Refused };
        // A refusal's cause: ProblemDetails `cause`, or the OAuth `error` (RFC 6750).
        let cause = match status {
            ..300 => "",
            _ => value["cause"].as_str().or(value["error"].as_str()).unwrap_or_default(),
        };
        self.record(
            net,
            i,
            "capif_invocation",
            method_label(method.as_ref()),
            now,
            (outcome, status, cause),
            records,
        );
        self.feed(
            net,
            ctx,
            i,
            InvokerInput::Response {
                status,
                body: value.clone(),
            },
            records,
        );
        let a = &mut self.invokers[i as usize];
        if status < 300 {
            a.failures = 0;
            a.in_session += 1;
            // Recovered from a method change?
            a.refusals = 0;
            if let Some(s) = a
                .stale
                .take_if(|s| method.as_ref().is_some_and(|m| s.now_supported.contains(m)))
            {
                let recovered = a.recovery.take();
                if let Some(key) = recovered {
                    self.proc_end(ctx, "capif_recovery", key, "ok");
                }
                let r = self.recovery_record(net, i, &s, now, Outcome::Ok);
                records.push(r);
            }
            let a = &mut self.invokers[i as usize];
            if a.in_session >= self.per_session {
                // The session ends; the next invocation authenticates a new one.
                if let Some((c, _)) = a.session.take() {
                    net.close_conn(c);
                }
                if self.strategy == RecoveryStrategy::RenegotiateBeforeEachSession {
                    a.renegotiate = true;
                }
                self.feed(net, ctx, i, InvokerInput::SessionClosed, records);
            }
            self.advance(net, ctx, i, records);
            return;
        }
        a.failures += 1;
        a.refusals += 1;
        let problem = serde_json::from_value::<crate::proto::common::ProblemDetails29122>(value.clone()).ok();
        let action = match problem {
            Some(body) if crate::proto::capif::mismatch::parse_mismatch(&body).is_some() => invoker_next(
                self.strategy,
                InvokerSignal::Aef(&AefReaction::ProblemDetails { status, body }),
            ),
            Some(body) if body.cause.as_deref() == Some("INVALID_TOKEN") && !a.gave_up => {
                // Expired (or revoked) token: a new session fetches a new one.
                if let Some((c, _)) = a.session.take() {
                    net.close_conn(c);
                }
                self.feed(net, ctx, i, InvokerInput::SessionClosed, records);
                InvokerAction::Retry
            }
            _ => InvokerAction::GiveUp,
        };
        let a = &self.invokers[i as usize];
        // (The SingleTokenKey mutant restores the endless retry of issue 12 as well.)
        let endless = crate::audit::mutant::is(Mutant::Capif(CapifMutant::SingleTokenKey));
        if a.failures >= MAX_FAILURES || (a.refusals >= MAX_FAILURES && !endless) {
            //= TS 33.122 6.5.2.3 / Annex C: a token the AEF keeps refusing (401) although each
            //= new session fetched a new one is a definite error, not a reason to loop
            self.give_up(net, ctx, i, records);
            return;
        }
        self.react(net, ctx, i, action, records);
    }

    /// A push reached invoker `i` (SecurityNotification or CAPIF event).
    #[allow(clippy::too_many_arguments)]
    fn notified(
        &mut self,
        net: &mut Network,
        ctx: &mut Ctx<'_, Msg>,
        i: u32,
        conn: ConnId,
        stream: u32,
        req: HttpRequest,
        records: &mut Vec<Record>,
    ) {
        net.respond(
            ctx,
            conn,
            stream,
            HttpResponse {
                headers: Default::default(),
                typed: None,
                status: 204,
                schema: "",
                body: String::new(),
            },
        );
        let action = match req.schema {
            "SecurityNotification" => serde_json::from_str::<SecurityNotification>(&req.body)
                .ok()
                .map(|n| invoker_next(self.strategy, InvokerSignal::Security(&n))),
            "EventNotification" => serde_json::from_str::<EventNotification>(&req.body)
                .ok()
                .map(|n| invoker_next(self.strategy, InvokerSignal::Event(&n))),
            _ => None,
        };
        let Some(action) = action else { return };
        let now = ctx.now();
        if let Some(s) = &mut self.invokers[i as usize].stale
            && s.first.is_none()
        {
            s.first = Some(now);
        }
        self.recovery_audit(net, ctx, i);
        let a = &self.invokers[i as usize];
        if a.m.state() == InvokerState::Unonboarded || a.m.state() == InvokerState::Onboarding {
            return;
        }
        self.react(net, ctx, i, action, records);
    }

    // -----------------------------------------------------------------------------------------
    // CCF
    // -----------------------------------------------------------------------------------------

    fn capif1e_material(&mut self, net: &Network, conn: ConnId, client_side: bool) -> Capif1eMaterial {
        if self.variant == AefPskVariant::Tls13Exporter {
            let c = net.conn(conn);
            let s = if client_side {
                &c.tls.client_secrets
            } else {
                &c.tls.server_secrets
            };
            if let Some(s) = s {
                return Capif1eMaterial::Tls13(Box::new(s.clone()));
            }
        }
        let seed = self.seed;
        let full = net.sec.fidelity == CryptoFidelity::Full;
        let s = self.tls12.entry(conn).or_insert_with(|| {
            let mut c = stream(seed, &format!("capif1e-client:{conn}"));
            let mut s = stream(seed, &format!("capif1e-server:{conn}"));
            if full {
                // Invariant: the TLS 1.2 handshake between two honest RNG streams cannot fail.
                tls12::handshake(&mut c, &mut s, true).expect("tls 1.2 handshake between honest ends")
            } else {
                // `keys` / `timing`: ECDHE simulated by a seeded pre-master secret; the PRF runs.
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
                session.master_secret =
                    tls12::master_secret(&pre_master, &session.client_random, &session.server_random);
                session
            }
        });
        Capif1eMaterial::Tls12(s.clone())
    }

    #[allow(clippy::too_many_arguments)]
    fn at_ccf(
        &mut self,
        net: &mut Network,
        ctx: &mut Ctx<'_, Msg>,
        node: NodeId,
        conn: ConnId,
        stream: u32,
        client: NodeId,
        req: HttpRequest,
        records: &mut Vec<Record>,
    ) {
        let client_name = net.topo.name(client).to_string();
        let authenticated = net.sec.expected_name(client, &client_name);
        let path = req.path.clone();
        let req_bytes = req.wire_bytes();
        let bad = |net: &mut Network, ctx: &mut Ctx<'_, Msg>, status: u16, cause: &str| {
            let p = crate::proto::capif::onboarding::problem(status, cause);
            net.respond(
                ctx,
                conn,
                stream,
                HttpResponse {
                    headers: Default::default(),
                    typed: None,
                    status,
                    schema: "ProblemDetails",
                    body: serde_json::to_string(&p).unwrap_or_default(),
                },
            );
        };
        if self.down_until.get(&node).is_some_and(|&t| ctx.now() < t) {
            // Restarting: nothing listens (the connection is reset).
            net.abort_conn(ctx, conn, "internal_error", "ccf restarting".into());
            return;
        }
        if let Some(rest) = path.strip_prefix(CAPIF6E_PREFIX) {
            self.cross_step_at(net, ctx, node, conn, stream, rest);
            return;
        }
        if path.starts_with(PUBLISH_PREFIX) && req.method == "PUT" {
            //= TS 29.222 8.2 Publish_Service_API: the APF updates the AEF profile
            let Some(desc) = req.decode::<ServiceApiDescription>() else {
                return bad(net, ctx, 400, "INVALID_BODY");
            };
            for p in desc.aef_profiles.iter().flatten() {
                let methods = p.security_methods.clone().unwrap_or_default();
                self.publish_change(net, ctx, &p.aef_id, &methods, (&desc.api_name, Some(&desc)));
            }
            let now = ctx.now();
            let rsp = HttpResponse {
                headers: Default::default(),
                typed: None,
                status: 200,
                schema: "ServiceAPIDescription",
                body: req.body,
            };
            let mut r = plane_record(
                "ccf_request",
                "publish".into(),
                client_name.clone(),
                net.topo.name(node).to_string(),
                String::new(),
                now,
                now,
                Outcome::Ok,
                200,
                1,
            );
            r.bytes = u64::from(req_bytes + rsp.wire_bytes());
            records.push(r);
            net.respond(ctx, conn, stream, rsp);
            return;
        }
        let (op, input): (&'static str, CcfInput) = if path == ONBOARD_PATH && req.method == "POST" {
            let Ok(body) = serde_json::from_str::<ApiInvokerEnrolmentDetails>(&req.body) else {
                return bad(net, ctx, 400, "INVALID_BODY");
            };
            let secret_ok = body.onboarding_information.onboarding_secret.as_deref()
                == Some(format!("secret-{client_name}").as_str());
            ("onboarding", CcfInput::Onboard { req: body, secret_ok })
        } else if let Some(rest) = path.strip_prefix(TRUSTED_PREFIX) {
            let (id, query) = rest.split_once('?').unwrap_or((rest, ""));
            if req.method == "GET" {
                let _ = query;
                let aef_id = client_name.clone();
                let invoker = id.to_string();
                let local = self.ccfs[&node].m.record(&invoker) != crate::proto::capif::machines::CcfState::Unknown;
                if !local && let Some(&i) = self.by_id.get(&invoker) {
                    let f = &self.flows[self.invokers[i as usize].flow as usize];
                    if f.interconnected() && f.aef_ccf == node {
                        //= seed 002 6.X.3.1: CCF-A requests the security information from CCF-B
                        let method = self.invokers[i as usize]
                            .m
                            .method()
                            .cloned()
                            .unwrap_or(SecurityMethod::Pki);
                        let plan = self.plan_for(net, f, method);
                        let steps =
                            self.steps_between(net, &plan, f, "Obtain_API_Invoker_Info request", &invoker, &aef_id);
                        self.start_job(
                            net,
                            ctx,
                            Some(i),
                            steps,
                            Then::Relay {
                                from: node,
                                conn,
                                stream,
                            },
                            records,
                        );
                        return;
                    }
                }
                ("security_info", CcfInput::ObtainSecurityInfo { invoker, aef_id })
            } else {
                let (id, update) = match id.strip_suffix("/update") {
                    Some(id) => (id, true),
                    None => (id, false),
                };
                if id != authenticated {
                    return bad(net, ctx, 403, "API_INVOKER_NOT_AUTHENTICATED");
                }
                let Ok(body) = serde_json::from_str::<ServiceSecurity>(&req.body) else {
                    return bad(net, ctx, 400, "INVALID_BODY");
                };
                let session = Some(self.capif1e_material(net, conn, false));
                let input = CcfInput::ObtainSecurityMethod {
                    invoker: id.to_string(),
                    body,
                    update,
                    session,
                };
                if let Some(&i) = self.by_id.get(id) {
                    let f = &self.flows[self.invokers[i as usize].flow as usize];
                    if f.interconnected() && f.ccf == node {
                        //= seed 002 6.X.2: CCF-B asks CCF-A for the AEF's methods first
                        let plan = self.plan_for(net, f, SecurityMethod::Psk);
                        let steps = self.steps_before(net, &plan, f);
                        let then = Then::Ccf {
                            ccf: node,
                            conn,
                            stream,
                            input: Box::new(input),
                            op: "negotiation",
                            req_bytes,
                        };
                        self.start_job(net, ctx, Some(i), steps, then, records);
                        return;
                    }
                }
                ("negotiation", input)
            }
        } else if let Some(rest) = path.strip_prefix(SECURITIES_PREFIX) {
            let Ok(token_req) = AccessTokenReq::from_form(req.body.trim_matches('"')) else {
                return bad(net, ctx, 400, "INVALID_BODY");
            };
            let id = rest.trim_end_matches("/token");
            if id != authenticated || token_req.client_id != authenticated {
                return bad(net, ctx, 403, "API_INVOKER_NOT_AUTHENTICATED");
            }
            let input = CcfInput::ObtainToken { req: token_req };
            if let Some(&i) = self.by_id.get(id) {
                let f = &self.flows[self.invokers[i as usize].flow as usize];
                if f.interconnected() && f.ccf == node {
                    //= seed 002 6.X.3.3: the token messages of the chosen alternative
                    let plan = self.plan_for(net, f, SecurityMethod::Oauth);
                    let mut steps = self.steps_between(net, &plan, f, "AccessTokenReq", id, "");
                    if crate::audit::mutant::is(Mutant::Capif(CapifMutant::LeakOnboardingSecret)) {
                        // The bug: the token request is relayed verbatim, onboarding secret
                        // included, whatever the `oauth` alternative.
                        steps.insert(
                            0,
                            Step {
                                from: node,
                                to: f.aef_ccf,
                                name: "AccessTokenReq (forwarded)",
                                carries: vec![Item::InvokerId, Item::OnboardingSecret],
                                reply: Some(("AccessTokenRsp", vec![Item::AccessToken])),
                                machine: None,
                            },
                        );
                    }
                    let then = Then::Ccf {
                        ccf: node,
                        conn,
                        stream,
                        input: Box::new(input),
                        op: "token",
                        req_bytes,
                    };
                    self.start_job(net, ctx, Some(i), steps, then, records);
                    return;
                }
            }
            ("token", input)
        } else {
            return bad(net, ctx, 404, "RESOURCE_NOT_FOUND");
        };
        self.ccf_feed(net, ctx, node, conn, stream, (op, req_bytes), client, input, records);
    }

    #[allow(clippy::too_many_arguments)]
    fn ccf_feed(
        &mut self,
        net: &mut Network,
        ctx: &mut Ctx<'_, Msg>,
        node: NodeId,
        conn: ConnId,
        stream: u32,
        (op, req_bytes): (&'static str, u32),
        client: NodeId,
        input: CcfInput,
        records: &mut Vec<Record>,
    ) {
        let now = ctx.now();
        let ops: &[(CryptoOp, u64)] = match (&input, op) {
            (CcfInput::Onboard { .. }, _) => &[(CryptoOp::EcdsaSign, 1)],
            (CcfInput::ObtainToken { .. }, _) => &[(CryptoOp::EcdsaSign, 1)],
            (CcfInput::ObtainSecurityMethod { .. }, _) => &[(CryptoOp::Kdf3gpp, 1), (CryptoOp::TlsExporter, 1)],
            _ => &[],
        };
        let delay = net.sec.cpu.charge(node, now, ops);
        let asked = match &input {
            CcfInput::ObtainSecurityMethod { body, .. } => body
                .security_info
                .first()
                .map(|e| (e.target.clone(), e.pref_security_methods.clone())),
            _ => None,
        };
        let inv = match &input {
            CcfInput::Onboard { .. } => self.by_node.get(&client).copied(),
            CcfInput::ObtainSecurityMethod { invoker, .. }
            | CcfInput::ObtainSecurityInfo { invoker, .. }
            | CcfInput::Revoke { invoker } => self.by_id.get(invoker).copied(),
            CcfInput::ObtainToken { req } => self.by_id.get(&req.client_id).copied(),
        };
        let asked_by = match &input {
            CcfInput::ObtainSecurityMethod { invoker, .. } => invoker.clone(),
            _ => String::new(),
        };
        let audit = self.driver.audit.active(ctx);
        let c = self.ccfs.get_mut(&node).expect("ccf node");
        c.m.handle(now, &mut c.rng, input);
        let outputs = c.m.drain_outputs();
        // Independent check: the selection lies in prefs ∩ the AEF's effective methods.
        let mut negotiated = Vec::new();
        if let Some((target, prefs)) = asked {
            let resolved = crate::proto::capif::security_method::resolve_target(&target, c.m.aefs()).map(|(a, i)| {
                let methods = i
                    .and_then(|i| i.security_methods.clone())
                    .or_else(|| a.security_methods.clone())
                    .unwrap_or_default();
                (a.aef_id.clone(), methods)
            });
            let effective = resolved.as_ref().map(|(_, m)| m);
            for o in &outputs {
                if let Output::Send(m) = o
                    && m.status.is_some_and(|s| s < 300)
                    && let Ok(rsp) = serde_json::from_value::<ServiceSecurity>(m.body.clone())
                {
                    for e in rsp.security_info {
                        let Some(sel) = e.sel_security_method else { continue };
                        self.checks.negotiations += 1;
                        if !prefs.contains(&sel) || !effective.is_some_and(|m| m.contains(&sel)) {
                            self.checks.outside_intersection += 1;
                        }
                        if audit {
                            let (aef, known) = resolved.clone().unwrap_or_default();
                            negotiated.push(CapifAudit::Negotiated {
                                ccf: net.topo.name(node).to_string(),
                                invoker: asked_by.clone(),
                                aef,
                                offered: prefs.clone(),
                                known,
                                selected: sel,
                            });
                        }
                    }
                }
            }
        }
        for ev in negotiated {
            self.driver.audit.emit(ctx, ev);
        }
        let mut status = 0;
        let mut rsp_bytes = 0;
        for o in outputs {
            if let Output::Send(m) = o
                && let Some(s) = m.status
            {
                status = s;
                let rsp = HttpResponse {
                    headers: Default::default(),
                    typed: None,
                    status: s,
                    schema: m.schema,
                    body: json_body(&m.body),
                };
                rsp_bytes += rsp.wire_bytes();
                if audit {
                    self.audit_sent(net, ctx, inv, node, client, m.schema, &rsp.body, &[]);
                }
                net.respond_after(ctx, conn, stream, rsp, delay);
            }
        }
        let mut r = plane_record(
            "ccf_request",
            op.to_string(),
            net.topo.name(client).to_string(),
            net.topo.name(node).to_string(),
            String::new(),
            now,
            now + delay,
            if status < 400 { Outcome::Ok } else { Outcome::Error },
            status,
            1,
        );
        // One exchange: the request and its answer, as the CCF sees them.
        r.bytes = u64::from(req_bytes + rsp_bytes);
        records.push(r);
    }

    // -----------------------------------------------------------------------------------------
    // Interconnection jobs (CAPIF-6e)
    // -----------------------------------------------------------------------------------------

    fn party_node(&self, net: &Network, f: &Flow, p: Party) -> Option<NodeId> {
        match p {
            Party::CcfA => Some(f.aef_ccf),
            Party::CcfB => Some(f.ccf),
            Party::OtherCcf(k) => (0..net.topo.node_count() as NodeId)
                .filter(|&n| net.topo.node(n).role == crate::scenario::NodeRole::Ccf && n != f.aef_ccf && n != f.ccf)
                .nth(k as usize),
            _ => None,
        }
    }

    fn is_ccf(p: Party) -> bool {
        matches!(p, Party::CcfA | Party::CcfB | Party::OtherCcf(_))
    }

    /// CCF-to-CCF exchanges among the plan's messages in `range`, paired request/answer;
    /// parties without a node in the topology (more peer CCFs than exist) are skipped.
    fn steps_in(
        &self,
        net: &Network,
        plan: &Plan,
        f: &Flow,
        range: std::ops::Range<usize>,
        invoker: &str,
        aef_id: &str,
    ) -> Vec<Step> {
        let msgs = &plan.messages[range];
        let mut steps = Vec::new();
        let mut k = 0;
        while k < msgs.len() {
            let m = &msgs[k];
            if !(Self::is_ccf(m.from) && Self::is_ccf(m.to)) {
                k += 1;
                continue;
            }
            let reply = msgs
                .get(k + 1)
                .filter(|r| r.from == m.to && r.to == m.from)
                .map(|r| (r.name, r.carries.clone()));
            k += if reply.is_some() { 2 } else { 1 };
            let (Some(from), Some(to)) = (self.party_node(net, f, m.from), self.party_node(net, f, m.to)) else {
                continue;
            };
            let machine = (m.name == "security information request").then(|| (invoker.to_string(), aef_id.to_string()));
            steps.push(Step {
                from,
                to,
                name: m.name,
                carries: m.carries.clone(),
                reply,
                machine,
            });
        }
        steps
    }

    /// The exchanges before CCF-B answers the Security Method Request.
    fn steps_before(&self, net: &Network, plan: &Plan, f: &Flow) -> Vec<Step> {
        let end = plan
            .messages
            .iter()
            .position(|m| m.from == Party::CcfB && m.to == Party::Invoker && m.name == "ServiceSecurity")
            .unwrap_or(0);
        self.steps_in(net, plan, f, 0..end, "", "")
    }

    /// The exchanges after the first message named `after` up to the next message to the AEF
    /// or the invoker that closes the phase.
    fn steps_between(
        &self,
        net: &Network,
        plan: &Plan,
        f: &Flow,
        after: &str,
        invoker: &str,
        aef_id: &str,
    ) -> Vec<Step> {
        let Some(start) = plan.messages.iter().position(|m| m.name == after) else {
            return Vec::new();
        };
        let end = plan.messages[start + 1..]
            .iter()
            .position(|m| !Self::is_ccf(m.from) || !Self::is_ccf(m.to))
            .map_or(plan.messages.len(), |p| start + 1 + p);
        // The token phase also covers one-way key distribution (CCF-B -> CCF-A -> AEF).
        let end = if after == "AccessTokenReq" {
            plan.messages[start + 1..]
                .iter()
                .position(|m| m.to == Party::Invoker)
                .map_or(plan.messages.len(), |p| start + 1 + p)
        } else {
            end
        };
        self.steps_in(net, plan, f, start + 1..end, invoker, aef_id)
    }

    #[allow(clippy::too_many_arguments)]
    fn start_job(
        &mut self,
        net: &mut Network,
        ctx: &mut Ctx<'_, Msg>,
        inv: Option<u32>,
        steps: Vec<Step>,
        then: Then,
        records: &mut Vec<Record>,
    ) {
        let job = self.jobs.len() as u32;
        self.jobs.push(Job {
            steps,
            then,
            last: None,
            inv,
            dead: false,
        });
        self.run_step(net, ctx, job, 0, records);
    }

    fn run_step(
        &mut self,
        net: &mut Network,
        ctx: &mut Ctx<'_, Msg>,
        job: u32,
        step: usize,
        records: &mut Vec<Record>,
    ) {
        let j = &self.jobs[job as usize];
        if j.dead {
            return;
        }
        let Some(s) = j.steps.get(step) else {
            let then = j.then.clone();
            self.finish_job(net, ctx, job, then, records);
            return;
        };
        let carries: Vec<String> = s.carries.iter().map(|c| format!("{c:?}")).collect();
        let req = HttpRequest {
            headers: Default::default(),
            typed: None,
            method: "POST",
            path: format!("{CAPIF6E_PREFIX}{job}/steps/{step}"),
            schema: "",
            body: json!({"secsimInterconnection": s.name, "carries": carries}).to_string(),
        };
        let (from, to, name, items, inv) = (s.from, s.to, s.name, s.carries.clone(), j.inv);
        let (conn, stream) = net.request(ctx, from, to, None, req);
        self.pending.insert((conn, stream), Pending::Cross { job, step });
        self.audit_sent(net, ctx, inv, from, to, name, "", &items);
    }

    /// A CCF receives step `rest` (`{job}/steps/{k}`) of a cross-CCF job.
    fn cross_step_at(
        &mut self,
        net: &mut Network,
        ctx: &mut Ctx<'_, Msg>,
        node: NodeId,
        conn: ConnId,
        stream: u32,
        rest: &str,
    ) {
        let mut parts = rest.split("/steps/");
        let job = parts.next().and_then(|j| j.parse::<usize>().ok());
        let step = parts.next().and_then(|k| k.parse::<usize>().ok());
        let Some(s) = job
            .zip(step)
            .and_then(|(j, k)| self.jobs.get(j).and_then(|job| job.steps.get(k)))
            .cloned()
        else {
            net.respond(
                ctx,
                conn,
                stream,
                HttpResponse {
                    headers: Default::default(),
                    typed: None,
                    status: 404,
                    schema: "",
                    body: String::new(),
                },
            );
            return;
        };
        let rsp = match (&s.machine, &s.reply) {
            (Some((invoker, aef_id)), _) => {
                //= seed 002 6.X.3.1: CCF-B provides the security information (AEFPSK or root CA)
                let now = ctx.now();
                let c = self.ccfs.get_mut(&node).expect("ccf node");
                c.m.handle(
                    now,
                    &mut c.rng,
                    CcfInput::ObtainSecurityInfo {
                        invoker: invoker.clone(),
                        aef_id: aef_id.clone(),
                    },
                );
                let out = c.m.drain_outputs();
                out.into_iter()
                    .find_map(|o| match o {
                        Output::Send(m) => m.status.map(|st| HttpResponse {
                            headers: Default::default(),
                            typed: None,
                            status: st,
                            schema: m.schema,
                            body: json_body(&m.body),
                        }),
                        _ => None,
                    })
                    .unwrap_or(HttpResponse {
                        headers: Default::default(),
                        typed: None,
                        status: 500,
                        schema: "",
                        body: String::new(),
                    })
            }
            (None, Some((name, carries))) => {
                let carries: Vec<String> = carries.iter().map(|c| format!("{c:?}")).collect();
                HttpResponse {
                    headers: Default::default(),
                    typed: None,
                    status: 200,
                    schema: "",
                    body: json!({"secsimInterconnection": name, "carries": carries}).to_string(),
                }
            }
            (None, None) => HttpResponse {
                headers: Default::default(),
                typed: None,
                status: 204,
                schema: "",
                body: String::new(),
            },
        };
        if self.driver.audit.active(ctx) {
            let inv = job.and_then(|j| self.jobs.get(j)).and_then(|j| j.inv);
            let (name, carries) = s.reply.clone().unwrap_or((s.name, Vec::new()));
            let to = net.conn(conn).client;
            let body = rsp.body.clone();
            self.audit_sent(net, ctx, inv, node, to, name, &body, &carries);
        }
        net.respond(ctx, conn, stream, rsp);
    }

    fn finish_job(
        &mut self,
        net: &mut Network,
        ctx: &mut Ctx<'_, Msg>,
        job: u32,
        then: Then,
        records: &mut Vec<Record>,
    ) {
        let last = self.jobs[job as usize].last.take();
        // Steps are no longer needed once the job ends.
        self.jobs[job as usize].steps.clear();
        if self.jobs[job as usize].dead {
            return; // lost in a CCF restart: nobody waits for it
        }
        let inv = self.jobs[job as usize].inv;
        match then {
            Then::Ccf {
                ccf,
                conn,
                stream,
                input,
                op,
                req_bytes,
            } => {
                if let Some((status, schema, body)) = last.filter(|l| l.0 >= 400) {
                    net.respond(
                        ctx,
                        conn,
                        stream,
                        HttpResponse {
                            headers: Default::default(),
                            typed: None,
                            status,
                            schema,
                            body,
                        },
                    );
                    return;
                }
                let client = net.conn(conn).client;
                self.ccf_feed(net, ctx, ccf, conn, stream, (op, req_bytes), client, *input, records);
            }
            Then::Relay { from, conn, stream } => {
                let (status, schema, body) = last.unwrap_or((
                    404,
                    "ProblemDetails",
                    serde_json::to_string(&crate::proto::capif::onboarding::problem(
                        404,
                        crate::proto::capif::security_method::CAUSE_INVOKER_NOT_FOUND,
                    ))
                    .unwrap_or_default(),
                ));
                let now = ctx.now();
                let aef = net.conn(conn).client;
                self.audit_sent(net, ctx, inv, from, aef, schema, &body, &[]);
                let rsp = HttpResponse {
                    headers: Default::default(),
                    typed: None,
                    status,
                    schema,
                    body,
                };
                let mut r = plane_record(
                    "ccf_request",
                    "security_info_relay".into(),
                    net.topo.name(net.conn(conn).client).to_string(),
                    net.topo.name(from).to_string(),
                    String::new(),
                    now,
                    now,
                    if status < 400 { Outcome::Ok } else { Outcome::Error },
                    status,
                    1,
                );
                // The answer relayed to the AEF.
                r.bytes = u64::from(rsp.wire_bytes());
                records.push(r);
                net.respond(ctx, conn, stream, rsp);
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // AEF
    // -----------------------------------------------------------------------------------------

    // -----------------------------------------------------------------------------------------
    // AEF
    // -----------------------------------------------------------------------------------------

    /// Hands `input` to the AEF machine at `node` and applies its effects; then the world's
    /// own checks of what it observed.
    fn run_aef(
        &mut self,
        net: &mut Network,
        ctx: &mut Ctx<'_, Msg>,
        node: NodeId,
        input: Input<CapifTimer>,
        records: &mut Vec<Record>,
    ) {
        let Some(a) = self.aefs.get_mut(&node) else { return };
        a.set_audit(self.driver.audit.active(ctx));
        let mut io = Io { net, ctx, records };
        self.driver.handle(&mut io, node, a, input);
        let now = ctx.now();
        self.observe_aef(net, node, now);
    }

    /// What the AEF's own TLS stack authenticated of the client of a request on `conn`, and
    /// (audit on) the world's facts about it: the key the client's TLS stack used, its chain
    /// as the world checks it against each CCF CA, the bearer token as the world verifies it.
    fn aef_peer(
        &mut self,
        net: &Network,
        ctx: &Ctx<'_, Msg>,
        node: NodeId,
        (conn, client): (ConnId, NodeId),
        req: &HttpRequest,
    ) {
        if req.path == CHECK_PATH || req.path == REVOKE_PATH {
            return;
        }
        let name = net.sec.expected_name(client, net.topo.name(client));
        let peer = match &net.conn(conn).tls.mode {
            TlsMode::ExternalPsk { identity, .. } => PeerTls::Psk {
                identity: String::from_utf8_lossy(identity).into_owned(),
            },
            TlsMode::Certificate => PeerTls::Certificate {
                name,
                cert: Box::new(net.sec.certificate(client).clone()),
            },
        };
        let mut facts = AefAuditFacts::default();
        if self.driver.audit.active(ctx) {
            let token = bearer(req).map(str::to_string);
            if !self.aefs[&node].has_session(conn) {
                let (invoker, credential) = match (&net.conn(conn).tls.mode, &peer) {
                    (TlsMode::ExternalPsk { psk, .. }, PeerTls::Psk { identity }) => {
                        let mut key = [0u8; 32];
                        let n = psk.len().min(32);
                        key[..n].copy_from_slice(&psk[..n]);
                        (identity.clone(), Credential::Psk(key))
                    }
                    (_, PeerTls::Certificate { name, .. }) if token.is_some() => {
                        (name.clone(), Credential::ServerAuthOnly)
                    }
                    (_, PeerTls::Certificate { name, cert }) => (name.clone(), Credential::Certificate(cert.clone())),
                    (_, PeerTls::Psk { identity }) => (identity.clone(), Credential::ServerAuthOnly),
                };
                let now = ctx.now();
                facts.credential =
                    Some(self.credential_facts(net, now, node, client, &invoker, &credential, token.as_deref()));
            }
            facts.token = token.as_deref().and_then(|t| self.token_facts(t));
        }
        if let Some(a) = self.aefs.get_mut(&node) {
            a.peer_seen(peer, facts);
        }
    }

    /// The world's independent checks of what the AEF at `node` observed (measurement only:
    /// they read the wire and the other machines, and decide nothing).
    fn observe_aef(&mut self, net: &Network, node: NodeId, now: SimTime) {
        let observed = std::mem::take(&mut self.aefs.get_mut(&node).expect("aef node").observed);
        for o in observed {
            match o {
                AefObservation::RefusedInvocation => self.checks.refused_invocations += 1,
                AefObservation::RefusedHandshake => self.checks.refused_handshakes += 1,
                AefObservation::Accepted { conn, invoker, method } => match method {
                    SecurityMethod::Psk => {
                        self.checks.psk_sessions += 1;
                        // The key the client's TLS stack used, as the wire shows it.
                        let TlsMode::ExternalPsk { psk, .. } = &net.conn(conn).tls.mode else {
                            continue;
                        };
                        let mut k = [0u8; 32];
                        let n = psk.len().min(32);
                        k[..n].copy_from_slice(&psk[..n]);
                        let entry = self.aefs[&node].m.psk().entry(&invoker).cloned();
                        let inv_key = self
                            .by_id
                            .get(&invoker)
                            .and_then(|&i| self.invokers[i as usize].m.aefpsk().map(|e| e.key));
                        if entry.as_ref().map(|e| e.key) != Some(k) || inv_key != Some(k) {
                            self.checks.psk_key_mismatch += 1;
                        }
                        if entry.is_none_or(|e| e.expires_at <= now) {
                            self.checks.expired_key_sessions += 1;
                        }
                    }
                    SecurityMethod::Pki => {
                        self.checks.pki_sessions += 1;
                        let c = net.sec.certificate(net.conn(conn).client);
                        let now_s = now.as_nanos() / 1_000_000_000;
                        if pki::verify_chain(c, &[], &self.ccf_cas, now_s, &RevocationList::new()).is_err() {
                            self.checks.untrusted_sessions += 1;
                        }
                    }
                    _ => {}
                },
                AefObservation::Served {
                    invoker,
                    token,
                    after_revocation,
                    stale_method,
                } => {
                    self.checks.revoked_successes += u64::from(after_revocation);
                    self.checks.revoked_token_successes += u64::from(token && self.revoked_ids.contains(&invoker));
                    self.checks.stale_method_successes += u64::from(stale_method);
                }
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Scripted changes
    // -----------------------------------------------------------------------------------------

    fn method_change(&mut self, net: &mut Network, ctx: &mut Ctx<'_, Msg>, k: usize, records: &mut Vec<Record>) {
        let now = ctx.now();
        let Some(c) = self.spec.method_changes.get(k).cloned() else {
            return;
        };
        let Some(node) = net.topo.node_id(&c.aef) else { return };
        let Some(a) = self.aefs.get_mut(&node) else { return };
        // The AEF changes its methods now; uses of the old ones fail from here on.
        a.set_audit(self.driver.audit.active(ctx));
        a.change_methods(&c.methods);
        let api = a.api().to_string();
        {
            let mut io = Io { net, ctx, records };
            self.driver.drain(&mut io, node, a);
        }
        for i in 0..self.invokers.len() as u32 {
            let inv = &self.invokers[i as usize];
            if self.flows[inv.flow as usize].aef != node {
                continue;
            }
            let Some(m) = inv.m.method() else { continue };
            if c.methods.contains(m) {
                continue;
            }
            // A recovery from an earlier change under way is superseded by this one (for the
            // audit); in the records it is one recovery, which now needs the new methods.
            self.recovery_end(ctx, i, "superseded");
            let inv = &mut self.invokers[i as usize];
            match &mut inv.stale {
                Some(s) => s.now_supported = c.methods.clone(),
                None => {
                    let traffic = net.client_traffic(inv.node);
                    inv.stale = Some(Stale {
                        since: now,
                        traffic,
                        first: None,
                        extra: 0,
                        now_supported: c.methods.clone(),
                    })
                }
            }
        }
        //= TS 33.122 5.1.1 (seed 004): "API publishing function shall inform the CAPIF core
        //= function the updated security method when AEF updates its security method"
        let Some((&apf, a)) = self.apfs.iter_mut().find(|(_, a)| a.publishes(&c.aef)) else {
            // No APF node in the AEF's domain: the CCF learns it at once.
            self.publish_change(net, ctx, &c.aef, &c.methods, (&api, None));
            return;
        };
        a.publish_change(&c.aef, &c.methods);
        let mut io = Io { net, ctx, records };
        self.driver.drain(&mut io, apf, a);
    }

    /// The CCF learns an AEF's new methods: every CCF machine that publishes the AEF updates
    /// (CCF-B's copy too, which secsim does not model as a separate CAPIF-6e message), and,
    /// for `CcfPush`, the CCFs notify the invokers whose method the AEF no longer supports.
    fn publish_change(
        &mut self,
        net: &mut Network,
        ctx: &mut Ctx<'_, Msg>,
        aef_id: &str,
        methods: &[SecurityMethod],
        (api, published): (&str, Option<&ServiceApiDescription>),
    ) {
        for ccf in self.ccfs.values_mut() {
            ccf.m.set_aef_methods(aef_id, methods);
        }
        if self.driver.audit.active(ctx) {
            let ev = CapifAudit::MethodsPublished {
                aef: aef_id.to_string(),
                methods: methods.to_vec(),
            };
            self.driver.audit.emit(ctx, ev);
        }
        let Some(aef) = net.topo.node_id(aef_id) else { return };
        let mut affected = Vec::new();
        let share = self.event_share;
        let subscribed = |i: usize| ((i + 1) as f64 * share).floor() > (i as f64 * share).floor();
        for (i, inv) in self.invokers.iter().enumerate() {
            if self.flows[inv.flow as usize].aef != aef {
                continue;
            }
            let (Some(m), Some(id)) = (inv.m.method(), inv.m.api_invoker_id()) else {
                continue;
            };
            if !methods.contains(m) {
                affected.push(AffectedInvoker {
                    api_invoker_id: id.to_string(),
                    subscription_id: subscribed(i).then(|| format!("sub-{id}")),
                });
            }
        }
        // The event carries the description the APF published (its AEF profiles name the new
        // methods), so a subscriber can prefer them when it renegotiates.
        let change = MethodChange {
            aef_id: aef_id.to_string(),
            api_ids: vec![api.to_string()],
            descriptions: published.into_iter().cloned().collect(),
        };
        for action in ccf_on_method_change(self.strategy, &change, &affected) {
            let CcfAction::Notify { invoker, body } = action;
            let Some(&i) = self.by_id.get(&invoker) else { continue };
            let inv = &self.invokers[i as usize];
            let ccf = self.flows[inv.flow as usize].ccf;
            let (schema, body) = match body {
                PushBody::Security(n) => ("SecurityNotification", serde_json::to_string(&n).unwrap_or_default()),
                PushBody::Event(e) => ("EventNotification", serde_json::to_string(&e).unwrap_or_default()),
            };
            let req = HttpRequest {
                headers: Default::default(),
                typed: None,
                method: "POST",
                path: NOTIFY_PATH.into(),
                schema,
                body,
            };
            let (conn, stream) = net.request(ctx, ccf, inv.node, None, req);
            self.pending.insert((conn, stream), Pending::Fire);
        }
    }

    /// `capif.ccf_restarts[k]`: the CCF restarts (see [`crate::scenario::CcfRestartSpec`] and
    /// [`Ccf::restart`]). Every connection it terminates is reset at once at its peer (as TCP
    /// would tell them at their next segment: a simplification); its links are down until
    /// `at + down` (set at build); it loses its volatile state and the CAPIF-6e jobs it
    /// answers or runs.
    fn ccf_restart(&mut self, net: &mut Network, ctx: &mut Ctx<'_, Msg>, k: usize) {
        let now = ctx.now();
        let Some(r) = self.spec.ccf_restarts.get(k).cloned() else {
            return;
        };
        let Some(node) = net.topo.node_id(&r.ccf) else { return };
        let Some(c) = self.ccfs.get_mut(&node) else { return };
        c.m.restart();
        self.down_until.insert(node, now + r.down);
        if self.driver.audit.active(ctx) {
            let ev = CapifAudit::CcfRestarted {
                ccf: r.ccf.clone(),
                down_ns: r.down.as_nanos(),
            };
            self.driver.audit.emit(ctx, ev);
        }
        for id in 0..net.conn_count() as ConnId {
            let c = net.conn(id);
            if c.client == node || c.server == node {
                ctx.send_at(c.client, now, Msg::Net(crate::net::Wire::Reset(id)));
            }
        }
        for j in &mut self.jobs {
            let mine = match &j.then {
                Then::Ccf { ccf, .. } => *ccf == node,
                Then::Relay { from, .. } => *from == node,
            };
            if mine && !j.steps.is_empty() {
                j.dead = true;
            }
        }
    }

    fn revoke(&mut self, net: &mut Network, ctx: &mut Ctx<'_, Msg>, k: usize) {
        let now = ctx.now();
        let Some(r) = self.spec.revocations.get(k).cloned() else {
            return;
        };
        let Some(node) = net.topo.node_id(&r.invoker) else {
            return;
        };
        let Some(&i) = self.by_node.get(&node) else { return };
        let inv = &self.invokers[i as usize];
        let Some(id) = inv.m.api_invoker_id().map(str::to_string) else {
            return;
        };
        let f = &self.flows[inv.flow as usize];
        let (ccf, aef, aef_ccf) = (f.ccf, f.aef, f.aef_ccf);
        //= TS 29.222 5.6.2.4: the CCF deletes the invoker's security context...
        let c = self.ccfs.get_mut(&ccf).expect("ccf node");
        c.m.handle(now, &mut c.rng, CcfInput::Revoke { invoker: id.clone() });
        let _ = c.m.drain_outputs();
        self.revoked_ids.insert(id.clone());
        let a = &self.aefs[&aef];
        let notification = SecurityNotification {
            api_invoker_id: id.clone(),
            aef_id: Some(a.aef_id().to_string()),
            api_ids: vec![a.api().to_string()],
            cause: Cause::UnexpectedReason,
        };
        // ...tells the AEF (revoke-authorization, from the AEF's CCF)...
        let body = RevokeAuthorizationReq {
            revoke_info: notification.clone(),
            supported_features: SupportedFeatures::none(),
        };
        let req = HttpRequest {
            headers: Default::default(),
            typed: None,
            method: "POST",
            path: REVOKE_PATH.into(),
            schema: "RevokeAuthorizationReq",
            body: serde_json::to_string(&body).unwrap_or_default(),
        };
        let (conn, stream) = net.request(ctx, aef_ccf, aef, None, req);
        self.pending.insert((conn, stream), Pending::Fire);
        // ...and notifies the invoker.
        let req = HttpRequest {
            headers: Default::default(),
            typed: None,
            method: "POST",
            path: NOTIFY_PATH.into(),
            schema: "SecurityNotification",
            body: serde_json::to_string(&notification).unwrap_or_default(),
        };
        let (conn, stream) = net.request(ctx, ccf, node, None, req);
        self.pending.insert((conn, stream), Pending::Fire);
    }
}
