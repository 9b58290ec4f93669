//! The API invoker as one node machine: onboarding and negotiation with its CCF over
//! CAPIF-1e, authentication to its AEF and invocations over CAPIF-2e, its reactions to
//! failures and pushes (seed 004), its back-off and giving up, and the records and liveness
//! facts of its procedures. It drives the procedure machine [`Invoker`].
//!
//! Wire truth: the invoker knows its configuration (enrolment request, preferences, target,
//! its CCF's and AEF's addresses, knobs) and what it received. Two things come from its own
//! stack: the TLS secrets of the connection an answer arrived on (the CAPIF-1e session its
//! AEFPSK is derived from) and, for measurement only, its own client traffic counters (read
//! by the driver). One measurement marker is simulator knowledge: the scripted method change
//! of its AEF ([`InvokerNode::handle_aef_change`]) opens the recovery record that measures
//! how long the invoker takes to get back to a supported method; it decides nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::Value;

use super::{CHECK_PATH, CapifTimer, Labels, capif1e_material, json_body, plane_record, secret_items};
use crate::audit::ProcAudit;
use crate::audit::capif::{CapifAudit, CapifMutant, SecretSent, fingerprint};
use crate::audit::mutant::{Mutant, Mutants};
use crate::crypto::aefpsk::AefPskVariant;
use crate::crypto::cost::CryptoOp;
use crate::crypto::tls13::Tls13Secrets;
use crate::engine::{Arrival, SimDuration, SimRng, SimTime};
use crate::metrics::{Outcome, Record};
use crate::net::conn::ConnFailure;
use crate::net::tls::TlsMode;
use crate::net::{ConnId, HttpRequest, HttpResponse, NodeId};
use crate::proto::capif::interconnection::{Exposure, Item};
use crate::proto::capif::machines::{Invoker, InvokerInput, InvokerState, Output, Peer, Timer};
use crate::proto::capif::mismatch::{AefReaction, InvokerAction, InvokerSignal, RecoveryStrategy, invoker_next};
use crate::proto::capif::onboarding::decode_certificate;
use crate::proto::capif::types::{ApiInvokerEnrolmentDetails, EventNotification, SecurityMethod, SecurityNotification};
use crate::proto::effect::{ConnRef, Corr, Effect, Effects, Inbound, Input, Machine};

/// Consecutive failed procedures after which an invoker stops (a safety net; each failure
/// also backs off).
pub const MAX_FAILURES: u32 = 6;

/// The traffic mark of the procedure under way, and of the recovery from a method change.
const PHASE_MARK: Corr = 0;
const STALE_MARK: Corr = 1;

/// The most failed procedures an invoker allows itself in one recovery (from a method
/// change, a revocation, a CCF restart) before it gives up: [`MAX_FAILURES`] consecutive
/// failures, the `tls_retries` of the TLS-only strategies, one renegotiation and one
/// re-onboarding.
pub fn recovery_budget(tls_retries: u32) -> u32 {
    MAX_FAILURES + tls_retries + 2
}

/// The time a recovery may take for a flow with request timeout `timeout`: every procedure
/// of its budget waiting its full timeout, TLS handshake (`connect_timeout`) and back-off.
pub fn recovery_bound(
    timeout: SimDuration,
    connect_timeout: SimDuration,
    backoff: SimDuration,
    retries: u32,
) -> SimDuration {
    (timeout + connect_timeout + backoff) * u64::from(recovery_budget(retries))
}

/// What an invoker is configured with at build.
#[derive(Clone, Debug)]
pub struct InvokerNodeConfig {
    /// Its own address and name.
    pub node: NodeId,
    pub name: String,
    /// The flow it belongs to (the records' `flow`).
    pub flow: String,
    /// Its CCF (CAPIF-1e) and its AEF (CAPIF-2e), and the API it invokes.
    pub ccf: NodeId,
    pub aef: NodeId,
    pub api: String,
    /// Its invocations' arrival process.
    pub arrival: Arrival,
    /// The answer timeout of each request.
    pub timeout: SimDuration,
    /// The network's connect timeout (the liveness bound of an authentication).
    pub connect_timeout: SimDuration,
    /// How it reacts to a method it no longer may use (seed 004), with retries and back-off.
    pub strategy: RecoveryStrategy,
    pub tls_retries: u32,
    pub backoff: SimDuration,
    /// Invocations per CAPIF-2e session.
    pub per_session: u32,
    /// For an interconnected flow: the exposure of each method's plan (records).
    pub exposures: Option<BTreeMap<SecurityMethod, Vec<Exposure>>>,
    /// The AEFPSK variant, and the TLS 1.2 stand-in's seed and fidelity.
    pub variant: AefPskVariant,
    pub tls12_seed: u64,
    pub full: bool,
    pub mutants: Mutants,
}

/// The recovery from a method change under way (measurement).
#[derive(Clone, Debug)]
struct Stale {
    since: SimTime,
    /// First CAPIF-2e use of the old method or push received after the change.
    first: Option<SimTime>,
    /// Requests (and CAPIF-2e handshakes) sent since the change.
    extra: u32,
    /// The AEF's methods since the change.
    now_supported: Vec<SecurityMethod>,
}

/// The CAPIF-2e session: the `Connect` that opened it, its connection once known, its mode.
#[derive(Clone, Debug)]
struct Session {
    corr: Corr,
    conn: Option<ConnId>,
    mode: TlsMode,
}

/// The API invoker (sans-IO node machine).
pub struct InvokerNode {
    cfg: InvokerNodeConfig,
    labels: Arc<Labels>,
    /// The procedure machine.
    pub m: Invoker,
    rng: SimRng,
    next_corr: Corr,
    /// Requests in flight, and those of them to the CCF.
    requests: BTreeSet<Corr>,
    to_ccf: BTreeSet<Corr>,
    /// The CAPIF-1e connection the last CCF request used.
    capif1e: Option<ConnId>,
    session: Option<Session>,
    /// Its own TLS stack's secrets of the connection the current input arrived on.
    secrets: Option<(ConnId, Option<Tls13Secrets>)>,
    sessions: u32,
    in_session: u32,
    want_invoke: bool,
    phase_start: SimTime,
    hold_until: SimTime,
    retries: u32,
    failures: u32,
    gave_up: bool,
    arrivals_started: bool,
    /// Renegotiation due once the current request is answered.
    renegotiate: bool,
    stale: Option<Stale>,
    /// Interconnected flows: exposure already recorded for this method.
    exposed: Option<SecurityMethod>,
    /// Liveness audit: the procedure under way (kind, key), and the recovery.
    proc: Option<(&'static str, u64)>,
    recovery: Option<u64>,
    next_proc: u64,
    next_retry: u64,
    /// An invocation is under way whose `capif_invocation` record is not written yet.
    invocation_open: bool,
    /// Consecutive refused invocations (reset by a served one): an invoker whose every
    /// invocation is refused gives up after [`MAX_FAILURES`] of them, even when each new
    /// session authenticates (issue 12).
    refusals: u32,
    fx: Effects<CapifTimer>,
}

fn method_label(m: Option<&SecurityMethod>) -> String {
    m.map_or_else(|| "none".to_string(), |m| m.as_str().to_string())
}

pub(crate) fn strategy_label(s: RecoveryStrategy) -> String {
    match s {
        RecoveryStrategy::CcfPush(c) => format!("CcfPush({c:?})"),
        other => format!("{other:?}"),
    }
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

impl InvokerNode {
    pub fn new(cfg: InvokerNodeConfig, labels: Arc<Labels>, m: Invoker, rng: SimRng) -> InvokerNode {
        InvokerNode {
            cfg,
            labels,
            m,
            rng,
            next_corr: 0,
            requests: BTreeSet::new(),
            to_ccf: BTreeSet::new(),
            capif1e: None,
            session: None,
            secrets: None,
            sessions: 0,
            in_session: 0,
            want_invoke: false,
            phase_start: SimTime::ZERO,
            hold_until: SimTime::ZERO,
            retries: 0,
            failures: 0,
            gave_up: false,
            arrivals_started: false,
            renegotiate: false,
            stale: None,
            exposed: None,
            proc: None,
            recovery: None,
            next_proc: 0,
            next_retry: 0,
            invocation_open: false,
            refusals: 0,
            fx: Effects::default(),
        }
    }

    /// Its configuration.
    pub fn config(&self) -> &InvokerNodeConfig {
        &self.cfg
    }

    /// Its own TLS stack hands it the secrets of connection `conn` (before an answer on it).
    pub fn set_tls_secrets(&mut self, conn: ConnId, secrets: Option<Tls13Secrets>) {
        self.secrets = Some((conn, secrets));
    }

    /// The scripted method change of its AEF (measurement only, see the module doc): a
    /// recovery from it is measured if its method is no longer among `methods`.
    pub fn handle_aef_change(&mut self, now: SimTime, methods: &[SecurityMethod]) {
        let Some(m) = self.m.method() else { return };
        if methods.contains(m) {
            return;
        }
        // A recovery from an earlier change under way is superseded by this one (for the
        // audit); in the records it is one recovery, which now needs the new methods.
        self.recovery_end("superseded");
        match &mut self.stale {
            Some(s) => s.now_supported = methods.to_vec(),
            None => {
                self.fx.push(Effect::MarkTraffic(STALE_MARK));
                self.stale = Some(Stale {
                    since: now,
                    first: None,
                    extra: 0,
                    now_supported: methods.to_vec(),
                })
            }
        }
    }

    fn corr(&mut self) -> Corr {
        self.next_corr += 1;
        self.next_corr
    }

    fn close_session(&mut self) {
        if let Some(s) = self.session.take() {
            self.fx
                .push(Effect::Close(s.conn.map_or(ConnRef::Corr(s.corr), ConnRef::Id)));
        }
    }

    fn close_capif1e(&mut self) {
        if let Some(c) = self.capif1e.take() {
            self.fx.push(Effect::Close(ConnRef::Id(c)));
        }
    }

    fn begin(&mut self, now: SimTime) {
        self.phase_start = now;
        self.fx.push(Effect::MarkTraffic(PHASE_MARK));
    }

    /// Feeds an input to the procedure machine and acts on its outputs.
    fn feed(&mut self, now: SimTime, input: InvokerInput) {
        let label = outcome_label(&input);
        let before = self.m.state();
        self.m.handle(now, &mut self.rng, input);
        let after = self.m.state();
        if after == InvokerState::Invoking && before != InvokerState::Invoking {
            self.invocation_open = true;
        }
        for o in self.m.drain_outputs() {
            self.output(now, o);
        }
        self.proc_audit(before, after, label);
        self.phase_records(now, (before, after, label));
    }

    // -----------------------------------------------------------------------------------------
    // Audit: facts for the invariant checker, built only when the audit is on
    // -----------------------------------------------------------------------------------------

    /// The liveness bound of a procedure: what its own timers allow once nothing disturbs it.
    /// A request waits at most the flow's `timeout`; authentication adds the CAPIF-2e TLS
    /// handshake, allowed the network's `connect_timeout`; a recovery may take every retry,
    /// back-off and failure the invoker allows before it gives up.
    fn proc_bound(&self, kind: &str) -> SimDuration {
        let c = &self.cfg;
        match kind {
            "capif_authentication" => c.timeout + c.connect_timeout,
            "capif_recovery" => recovery_bound(c.timeout, c.connect_timeout, c.backoff, c.tls_retries),
            _ => c.timeout,
        }
    }

    /// Liveness audit of a state change: leaving a procedure's state ends it, entering one
    /// begins it.
    fn proc_audit(&mut self, before: InvokerState, after: InvokerState, label: &'static str) {
        use InvokerState as S;
        if before == after || !self.fx.audit {
            return;
        }
        let kind_of = |s: InvokerState| match s {
            S::Onboarding => Some("capif_onboarding"),
            S::Negotiating => Some("capif_negotiation"),
            S::Authenticating => Some("capif_authentication"),
            S::Invoking => Some("capif_invocation"),
            _ => None,
        };
        if let Some((kind, key)) = self.proc.take() {
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
            self.proc_end(kind, key, outcome);
        }
        if let Some(kind) = kind_of(after) {
            let key = self.proc_begin(kind);
            self.proc = Some((kind, key));
        }
    }

    /// Begins a liveness procedure; its key is this machine's (the router numbers them for
    /// the run).
    fn proc_begin(&mut self, kind: &'static str) -> u64 {
        let key = self.next_proc;
        self.next_proc += 1;
        let bound_ns = self.proc_bound(kind).as_nanos();
        let node = self.cfg.name.clone();
        self.fx.audit(|| {
            ProcAudit::Begin {
                kind: kind.to_string(),
                key,
                node,
                bound_ns,
            }
            .into()
        });
        key
    }

    fn proc_end(&mut self, kind: &'static str, key: u64, outcome: &str) {
        if self.cfg.mutants.on(Mutant::DropProcEnd) {
            return;
        }
        self.fx.audit(|| {
            ProcAudit::End {
                kind: kind.to_string(),
                key,
                outcome: outcome.to_string(),
            }
            .into()
        });
    }

    /// A recovery from a method change begins when the invoker first meets the change (its
    /// first use of the old method, or a push).
    fn recovery_audit(&mut self) {
        if self.gave_up
            || self.recovery.is_some()
            || self.stale.as_ref().is_none_or(|s| s.first.is_none())
            || !self.fx.audit
        {
            return;
        }
        self.recovery = Some(self.proc_begin("capif_recovery"));
    }

    /// Ends the recovery, if one is under way.
    fn recovery_end(&mut self, outcome: &str) {
        if let Some(key) = self.recovery.take() {
            self.proc_end("capif_recovery", key, outcome);
        }
    }

    /// What a message carried from this invoker to `to` (the domain-crossing invariant).
    fn audit_sent(&mut self, to: NodeId, message: &str, body: &str) {
        let items: Vec<Item> = secret_items(body);
        if items.is_empty() {
            return;
        }
        let ev = SecretSent {
            flow: self.cfg.flow.clone(),
            invoker_domain: self.labels.domain(self.cfg.node).to_string(),
            ..self.labels.secret_sent((self.cfg.node, to), message, items)
        };
        self.fx.audit(|| CapifAudit::SecretSent(Box::new(ev)).into());
    }

    /// The invoker stops for good: a definite error. A recovery from a method change under
    /// way ends with it (a `capif_recovery` record with outcome `error`, cause `gave_up`).
    fn give_up(&mut self, now: SimTime) {
        if self.gave_up {
            return;
        }
        self.gave_up = true;
        if let Some(s) = self.stale.take_if(|s| s.first.is_some()) {
            let mut r = self.recovery_record(&s, now, Outcome::Error);
            r.cause = "gave_up".into();
            self.fx.push(Effect::RecordTraffic {
                record: Box::new(r),
                mark: STALE_MARK,
                exchanges: false,
            });
        }
        let node = self.cfg.name.clone();
        self.fx.audit(|| CapifAudit::GaveUp { node }.into());
        self.recovery_end("gave_up");
    }

    /// The `capif_recovery` record of recovery `s` ending at `end`: from the first meeting
    /// with the change (or the change itself), variant = the strategy, `round_trips` =
    /// requests and handshakes sent since the change (bytes: the driver, since the mark).
    fn recovery_record(&self, s: &Stale, end: SimTime, outcome: Outcome) -> Record {
        plane_record(
            ("capif_recovery", strategy_label(self.cfg.strategy)),
            &self.cfg.flow,
            (&self.cfg.name, self.labels.name(self.cfg.aef)),
            (s.first.unwrap_or(s.since), end),
            (outcome, 0, s.extra),
        )
    }

    /// Censoring (issue 12): the procedure under way when the run stopped at `now`, recorded
    /// as [`Outcome::Unfinished`] with its age and the fields its end record would have had:
    /// the onboarding, negotiation, authentication or invocation its machine is in (an
    /// invocation only if its record is not written yet), and a recovery from a method change
    /// that began (the invoker met the change) and neither succeeded nor gave up. An end
    /// record clears what is looked at here, so none is counted twice.
    pub fn finish(&mut self, now: SimTime) {
        use InvokerState as S;
        let method = method_label(self.m.method());
        let open = match self.m.state() {
            S::Onboarding => Some(("capif_onboarding", String::new())),
            S::Negotiating => Some(("capif_negotiation", String::new())),
            S::Authenticating => Some(("capif_authentication", method)),
            S::Invoking if self.invocation_open => Some(("capif_invocation", method)),
            _ => None,
        };
        if let Some((procedure, variant)) = open {
            self.record(procedure, variant, now, (Outcome::Unfinished, 0, ""));
        }
        if !self.gave_up
            && let Some(s) = self.stale.as_ref().filter(|s| s.first.is_some())
        {
            let r = self.recovery_record(s, now, Outcome::Unfinished);
            self.fx.push(Effect::RecordTraffic {
                record: Box::new(r),
                mark: STALE_MARK,
                exchanges: false,
            });
        }
    }

    // -----------------------------------------------------------------------------------------
    // Records
    // -----------------------------------------------------------------------------------------

    /// Records the end of a procedure from the machine's state change.
    fn phase_records(&mut self, now: SimTime, (before, after, label): (InvokerState, InvokerState, &'static str)) {
        use InvokerState as S;
        let method = method_label(self.m.method());
        if before == S::Invoking && after != S::Invoking && self.invocation_open {
            // The invocation ended without an answer or a session failure (its response
            // timer, its AEFPSK's expiry): one record all the same.
            let (outcome, cause) = match label {
                "timeout" => (Outcome::Timeout, ""),
                other => (Outcome::Error, other),
            };
            self.record("capif_invocation", method, now, (outcome, 0, cause));
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
        let outcome = if ok { Outcome::Ok } else { Outcome::Error };
        let mut r = self.phase_record(procedure, variant, now, (outcome, 0, ""));
        r.result = result;
        self.fx.push(Effect::RecordTraffic {
            record: Box::new(r),
            mark: PHASE_MARK,
            exchanges: true,
        });
        if ok {
            self.failures = 0;
        } else {
            self.failures += 1;
            self.hold_until = now + self.cfg.backoff;
            self.retry_after(self.cfg.backoff);
            if self.failures >= MAX_FAILURES {
                self.give_up(now);
            }
        }
    }

    fn retry_after(&mut self, after: SimDuration) {
        self.next_retry += 1;
        self.fx.set_timer(after, CapifTimer::Retry(self.next_retry));
    }

    fn phase_record(
        &self,
        procedure: &'static str,
        variant: String,
        end: SimTime,
        (outcome, status, cause): (Outcome, u16, &str),
    ) -> Record {
        let responder = match procedure {
            "capif_authentication" | "capif_invocation" => self.cfg.aef,
            _ => self.cfg.ccf,
        };
        let mut r = plane_record(
            (procedure, variant),
            &self.cfg.flow,
            (&self.cfg.name, self.labels.name(responder)),
            (self.phase_start, end),
            (outcome, status, 0),
        );
        r.cause = cause.to_string();
        r
    }

    /// A procedure's record, its bytes and exchanges since the procedure began.
    fn record(&mut self, procedure: &'static str, variant: String, end: SimTime, how: (Outcome, u16, &str)) {
        let r = self.phase_record(procedure, variant, end, how);
        self.fx.push(Effect::RecordTraffic {
            record: Box::new(r),
            mark: PHASE_MARK,
            exchanges: true,
        });
        if procedure == "capif_invocation" {
            self.invocation_open = false;
        }
    }

    fn exposure(&mut self, method: &SecurityMethod, now: SimTime) {
        let Some(list) = self.cfg.exposures.as_ref().and_then(|e| e.get(method)) else {
            return;
        };
        for e in list.clone() {
            self.fx.record(plane_record(
                ("capif_exposure", format!("{:?}", e.item)),
                &self.cfg.flow,
                (&format!("{:?}", e.from_domain), &format!("{:?}", e.to_domain)),
                (now, now),
                (Outcome::Ok, 0, 0),
            ));
        }
    }

    // -----------------------------------------------------------------------------------------
    // Moving on
    // -----------------------------------------------------------------------------------------

    /// Moves towards invoking when nothing is outstanding.
    fn advance(&mut self, now: SimTime) {
        if self.gave_up || now < self.hold_until {
            return;
        }
        match self.m.state() {
            InvokerState::Unonboarded | InvokerState::Onboarded => {
                self.begin(now);
                self.feed(now, InvokerInput::Start);
            }
            InvokerState::MethodSelected => {
                let first = self.sessions == 0;
                if !(self.want_invoke || first || self.renegotiate) {
                    return;
                }
                let renegotiate = std::mem::take(&mut self.renegotiate)
                    || (self.cfg.strategy.renegotiates_each_session() && self.in_session == u32::MAX);
                self.begin(now);
                if renegotiate {
                    self.feed(now, InvokerInput::Renegotiate { session: None });
                } else {
                    self.feed(now, InvokerInput::Authenticate);
                }
            }
            InvokerState::Authenticated => {
                if self.renegotiate {
                    self.renegotiate = false;
                    self.close_session();
                    self.begin(now);
                    self.feed(now, InvokerInput::Renegotiate { session: None });
                } else if self.want_invoke {
                    self.want_invoke = false;
                    let api = self.cfg.api.clone();
                    self.begin(now);
                    self.feed(now, InvokerInput::Invoke { api });
                }
            }
            _ => {}
        }
    }

    fn output(&mut self, now: SimTime, o: Output) {
        match o {
            Output::Send(m) => {
                let mut req = HttpRequest::new(m.method, m.path.clone(), m.schema, json_body(&m.body));
                if let Some(auth) = m.authorization {
                    req = req.with_header("authorization", auth);
                }
                if let Some(s) = &mut self.stale {
                    s.extra += 1;
                }
                let to = match m.to {
                    Peer::Ccf => self.cfg.ccf,
                    Peer::Aef => self.cfg.aef,
                    Peer::Invoker => return,
                };
                // What the message shows: its body and its Authorization header.
                let sent = self.fx.audit.then(|| match req.header("authorization") {
                    Some(a) => format!("{} {a}", req.body),
                    None => req.body.clone(),
                });
                let corr = self.corr();
                let mode = match m.to {
                    Peer::Ccf => {
                        self.to_ccf.insert(corr);
                        TlsMode::Certificate
                    }
                    Peer::Aef if m.path == CHECK_PATH => TlsMode::Certificate,
                    _ => {
                        if let Some(s) = &mut self.stale
                            && s.first.is_none()
                        {
                            s.first = Some(now);
                        }
                        self.session.as_ref().map_or(TlsMode::Certificate, |s| s.mode.clone())
                    }
                };
                self.requests.insert(corr);
                self.fx.push(Effect::Request {
                    corr,
                    to,
                    via: None,
                    mode,
                    req: Box::new(req),
                    delay: SimDuration::ZERO,
                });
                if let Some(body) = sent {
                    self.audit_sent(to, m.schema, &body);
                }
                self.recovery_audit();
            }
            Output::SetTimer { timer, at } => self.fx.set_timer(at.saturating_since(now), CapifTimer::Invoker(timer)),
            Output::CancelTimer { timer } => self.fx.cancel_timer(CapifTimer::Invoker(timer)),
            Output::StartTls { method, psk } => {
                //= TS 33.122 6.5.2.1 step 6: TLS on CAPIF-2e with the selected method
                let mode = match (&method, psk) {
                    (SecurityMethod::Psk, Some((id, key))) => TlsMode::ExternalPsk {
                        identity: id.into_bytes(),
                        psk: key.to_vec(),
                    },
                    _ => TlsMode::Certificate,
                };
                self.close_session();
                if let Some(s) = &mut self.stale {
                    s.extra += 1;
                    if s.first.is_none() {
                        s.first = Some(now);
                    }
                }
                let corr = self.corr();
                self.fx.push(Effect::Connect {
                    corr,
                    to: self.cfg.aef,
                    via: None,
                    mode: mode.clone(),
                });
                self.session = Some(Session { corr, conn: None, mode });
                self.in_session = 0;
                self.sessions += 1;
                self.recovery_audit();
            }
            Output::Established { method, .. } => {
                self.retries = 0;
                if !self.arrivals_started {
                    // Invocations start once the first CAPIF-2e session is up.
                    self.arrivals_started = true;
                    self.fx.set_timer(SimDuration::ZERO, CapifTimer::Arrival);
                }
                if self.cfg.exposures.is_some() && self.exposed.as_ref() != Some(&method) {
                    self.exposed = Some(method.clone());
                    self.exposure(&method, now);
                }
            }
            Output::KeyInstalled { invoker, expires_at } => {
                self.fx.push(Effect::Work(vec![(CryptoOp::Kdf3gpp, 1)]));
                if self.fx.audit
                    && let Some(k) = self.m.aefpsk()
                {
                    let ev = CapifAudit::PskDerived {
                        invoker,
                        aef: self.labels.name(self.cfg.aef).to_string(),
                        key: fingerprint(&k.key),
                        expires_at_ns: expires_at.as_nanos(),
                    };
                    self.fx.push(Effect::Audit(Box::new(ev.into())));
                }
            }
            Output::Failed {
                status: Some(404),
                problem: Some(p),
                ..
            } if matches!(
                p.cause.as_deref(),
                Some("SECURITY_INFO_UNAVAILABLE" | crate::proto::capif::security_method::CAUSE_INVOKER_NOT_FOUND)
            ) && self.m.state() == InvokerState::MethodSelected =>
            {
                //= TS 33.122 6.5.2.1: without a security context at the CCF (none, expired, or
                //= lost in a restart) steps 1-2 run again: the invoker negotiates on a new
                //= CAPIF-1e session (update; a 404 to it leads to PUT), then authenticates.
                self.renegotiate = true;
                self.want_invoke = true;
                self.close_capif1e();
            }
            Output::Failed { .. } | Output::SessionClosed { .. } => {}
        }
    }

    /// The CAPIF-2e session failed or was closed by the AEF.
    fn session_failed(&mut self, now: SimTime, cause: &ConnFailure) {
        self.session = None;
        let invoking = self.m.state() == InvokerState::Invoking;
        let m = method_label(self.m.method());
        let alert = match cause {
            ConnFailure::Tls(t) => t.alert,
            _ => "",
        };
        if alert == "close_notify" {
            // The AEF closed the session (key expiry with CloseSessions, revocation).
            if invoking {
                self.record("capif_invocation", m, now, (Outcome::Error, 0, alert));
            }
            self.feed(now, InvokerInput::SessionClosed);
            self.advance(now);
            return;
        }
        let alert = if alert.is_empty() { "handshake_failure" } else { alert };
        if invoking {
            self.record("capif_invocation", m, now, (Outcome::Refused, 0, alert));
        }
        self.feed(now, InvokerInput::TlsFailed);
        let action = invoker_next(self.cfg.strategy, InvokerSignal::Aef(&AefReaction::TlsAlert(alert)));
        self.react(now, action);
    }

    /// Acts on what a failure or push told it.
    fn react(&mut self, now: SimTime, action: InvokerAction) {
        match action {
            InvokerAction::Proceed => {}
            InvokerAction::GiveUp => {
                self.close_session();
                self.give_up(now);
            }
            InvokerAction::Retry if self.retries < self.cfg.tls_retries => {
                self.retries += 1;
                // A retry retries the invocation that failed, without waiting for the next.
                self.want_invoke = true;
                self.hold_until = now + self.cfg.backoff;
                self.retry_after(self.cfg.backoff);
            }
            InvokerAction::Retry | InvokerAction::ReNegotiate { .. } => {
                //= TS 33.122 5.1.1 (seed 004): re-ask the CCF, then invoke with the new method
                self.retries = 0;
                self.renegotiate = true;
                self.want_invoke = true;
                self.hold_until = now;
                if matches!(
                    self.m.state(),
                    InvokerState::Authenticating | InvokerState::Invoking | InvokerState::Negotiating
                ) {
                    return; // after the outstanding request
                }
                self.advance(now);
            }
        }
    }

    fn on_response(&mut self, now: SimTime, conn: ConnId, rsp: HttpResponse) {
        let status = rsp.status;
        let value: Value = if rsp.body.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&rsp.body).unwrap_or(Value::String(rsp.body.clone()))
        };
        let state = self.m.state();
        if state == InvokerState::Negotiating && status < 300 {
            //= TS 33.122 6.5.2.1 step 2: derive from the CAPIF-1e session of this connection
            let secrets = self.secrets.take().filter(|(c, _)| *c == conn).and_then(|(_, s)| s);
            let c = &self.cfg;
            let material = capif1e_material(c.variant, secrets.as_ref(), (c.tls12_seed, conn, c.full));
            self.m.set_capif1e(material);
        }
        if state == InvokerState::Onboarding && status == 201 {
            //= TS 33.122 6.1: later CAPIF-1e requests use the issued certificate
            let cert = serde_json::from_value::<ApiInvokerEnrolmentDetails>(value.clone())
                .ok()
                .and_then(|d| d.onboarding_information.api_invoker_certificate)
                .and_then(|c| decode_certificate(&c));
            if let Some(cert) = cert {
                let invoker = cert.subject.clone();
                self.fx.push(Effect::SetCertificate(Box::new(cert)));
                if self.fx.audit {
                    let ev = CapifAudit::Onboarded {
                        node: self.cfg.name.clone(),
                        invoker,
                        ccf: self.labels.name(self.cfg.ccf).to_string(),
                        flow: self.cfg.flow.clone(),
                    };
                    self.fx.push(Effect::Audit(Box::new(ev.into())));
                }
            }
            self.fx.push(Effect::Close(ConnRef::Id(conn)));
            self.capif1e = None;
        }
        if state == InvokerState::Invoking {
            return self.invocation_answered(now, status, &value);
        }
        let not_found = status == 404
            && value.get("cause").and_then(Value::as_str)
                == Some(crate::proto::capif::security_method::CAUSE_INVOKER_NOT_FOUND);
        self.feed(now, InvokerInput::Response { status, body: value });
        if state == InvokerState::Negotiating && status >= 400 && !not_found {
            // No common method, revoked...: final for this invoker. (A CCF without a
            // trusted-invoker entry for an update, e.g. after a restart, is not: the
            // invoker is back in Onboarded and negotiates with PUT.)
            self.give_up(now);
        }
        self.advance(now);
    }

    fn invocation_answered(&mut self, now: SimTime, status: u16, value: &Value) {
        let method = self.m.method().cloned();
        let outcome = if status < 300 { Outcome::Ok } else { Outcome::Refused };
        // A refusal's cause: ProblemDetails `cause`, or the OAuth `error` (RFC 6750).
        let cause = match status {
            ..300 => "",
            _ => value["cause"].as_str().or(value["error"].as_str()).unwrap_or_default(),
        };
        self.record(
            "capif_invocation",
            method_label(method.as_ref()),
            now,
            (outcome, status, cause),
        );
        self.feed(
            now,
            InvokerInput::Response {
                status,
                body: value.clone(),
            },
        );
        if status < 300 {
            self.failures = 0;
            self.in_session += 1;
            self.refusals = 0;
            // Recovered from a method change?
            if let Some(s) = self
                .stale
                .take_if(|s| method.as_ref().is_some_and(|m| s.now_supported.contains(m)))
            {
                if let Some(key) = self.recovery.take() {
                    self.proc_end("capif_recovery", key, "ok");
                }
                let r = self.recovery_record(&s, now, Outcome::Ok);
                self.fx.push(Effect::RecordTraffic {
                    record: Box::new(r),
                    mark: STALE_MARK,
                    exchanges: false,
                });
            }
            if self.in_session >= self.cfg.per_session {
                // The session ends; the next invocation authenticates a new one.
                self.close_session();
                if self.cfg.strategy.renegotiates_each_session() {
                    self.renegotiate = true;
                }
                self.feed(now, InvokerInput::SessionClosed);
            }
            self.advance(now);
            return;
        }
        self.failures += 1;
        self.refusals += 1;
        let problem = serde_json::from_value::<crate::proto::common::ProblemDetails29122>(value.clone()).ok();
        let action = match problem {
            Some(body) if crate::proto::capif::mismatch::parse_mismatch(&body).is_some() => invoker_next(
                self.cfg.strategy,
                InvokerSignal::Aef(&AefReaction::ProblemDetails { status, body }),
            ),
            Some(body) if body.cause.as_deref() == Some("INVALID_TOKEN") && !self.gave_up => {
                // Expired (or revoked) token: a new session fetches a new one.
                self.close_session();
                self.feed(now, InvokerInput::SessionClosed);
                InvokerAction::Retry
            }
            _ => InvokerAction::GiveUp,
        };
        // (The SingleTokenKey mutant restores the endless retry of issue 12 as well.)
        let endless = self.cfg.mutants.on(Mutant::Capif(CapifMutant::SingleTokenKey));
        if self.failures >= MAX_FAILURES || (self.refusals >= MAX_FAILURES && !endless) {
            //= TS 33.122 6.5.2.3 / Annex C: a token the AEF keeps refusing (401) although each
            //= new session fetched a new one is a definite error, not a reason to loop
            self.give_up(now);
            return;
        }
        self.react(now, action);
    }

    /// A push reached the invoker (SecurityNotification or CAPIF event).
    fn notified(&mut self, now: SimTime, at: Inbound, req: HttpRequest) {
        self.fx.push(Effect::Respond {
            at,
            rsp: Box::new(HttpResponse::new(204, "", String::new())),
            delay: SimDuration::ZERO,
        });
        let strategy = self.cfg.strategy;
        let action = match req.schema {
            "SecurityNotification" => serde_json::from_str::<SecurityNotification>(&req.body)
                .ok()
                .map(|n| invoker_next(strategy, InvokerSignal::Security(&n))),
            "EventNotification" => serde_json::from_str::<EventNotification>(&req.body)
                .ok()
                .map(|n| invoker_next(strategy, InvokerSignal::Event(&n))),
            _ => None,
        };
        let Some(action) = action else { return };
        if let Some(s) = &mut self.stale
            && s.first.is_none()
        {
            s.first = Some(now);
        }
        self.recovery_audit();
        if matches!(self.m.state(), InvokerState::Unonboarded | InvokerState::Onboarding) {
            return;
        }
        self.react(now, action);
    }

    fn timer(&mut self, now: SimTime, t: CapifTimer) {
        match t {
            CapifTimer::Start => {
                self.begin(now);
                self.feed(now, InvokerInput::Start);
            }
            CapifTimer::Arrival => {
                if self.gave_up {
                    return;
                }
                let gap = self.cfg.arrival.next_gap(&mut self.rng);
                self.fx.set_timer(gap, CapifTimer::Arrival);
                self.want_invoke = true;
                self.advance(now);
            }
            CapifTimer::Invoker(Timer::Response) => {
                self.feed(now, InvokerInput::Timeout);
                self.advance(now);
            }
            CapifTimer::Invoker(Timer::KeyExpiry(_)) => {
                //= TS 33.122 6.5.2.1 (seed 003): a new key needs a new CAPIF-1e session
                self.close_capif1e();
                self.close_session();
                self.feed(now, InvokerInput::KeyExpired);
                self.advance(now);
            }
            CapifTimer::Retry(_) => self.advance(now),
            CapifTimer::AefKeyExpiry(_) => {}
        }
    }
}

impl Machine for InvokerNode {
    type Timer = CapifTimer;

    fn handle(&mut self, now: SimTime, input: Input<CapifTimer>) {
        match input {
            Input::Timer(t) => self.timer(now, t),
            Input::Request { at, req, .. } => self.notified(now, at, req),
            Input::Sent { corr, conn, .. } => {
                if self.to_ccf.remove(&corr) {
                    self.capif1e = Some(conn);
                }
            }
            Input::Response { corr, conn, rsp } => {
                self.requests.remove(&corr);
                self.on_response(now, conn, rsp);
            }
            Input::Connected { corr, conn } => {
                if let Some(s) = self.session.as_mut().filter(|s| s.corr == corr) {
                    s.conn = Some(conn);
                    self.feed(now, InvokerInput::TlsEstablished);
                    self.advance(now);
                }
            }
            Input::Failed { conn, corrs, cause } => {
                let on_session = self
                    .session
                    .as_ref()
                    .is_some_and(|s| s.conn == Some(conn) || corrs.contains(&s.corr));
                let lost: Vec<Corr> = corrs.into_iter().filter(|c| self.requests.remove(c)).collect();
                if on_session {
                    return self.session_failed(now, &cause);
                }
                for _ in lost {
                    self.feed(now, InvokerInput::TlsFailed);
                }
            }
            Input::ConnectRequest { .. } => {}
        }
    }

    fn effects(&mut self) -> &mut Effects<CapifTimer> {
        &mut self.fx
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::capif::machines::{Capif1eMaterial, InvokerConfig};
    use crate::proto::capif::onboarding::enrolment_request;
    use crate::proto::capif::types::SecurityTarget;

    const CCF: NodeId = 1;
    const AEF: NodeId = 2;

    fn node() -> InvokerNode {
        let mut rng = crate::engine::stream(1, "invoker-node-test");
        let key = crate::crypto::pki::key_from_rng(&mut rng);
        let iface = crate::proto::capif::security_method::tests::iface(None);
        let placeholder = crate::crypto::tls12::Tls12Session {
            client_random: [0; 32],
            server_random: [0; 32],
            session_id: [0; 32],
            master_secret: [0; 48],
            extended_master_secret: true,
        };
        let m = Invoker::new(InvokerConfig {
            enrolment: enrolment_request(key.verifying_key(), Some("secret-inv".into()), "https://inv/n".into()),
            target: SecurityTarget::InterfaceDetails(iface.clone()),
            interface: iface,
            prefs: vec![SecurityMethod::Psk],
            variant: AefPskVariant::Tls12MasterSecret,
            capif1e: Capif1eMaterial::Tls12(placeholder),
            response_timeout: SimDuration::from_secs(1),
        });
        let cfg = InvokerNodeConfig {
            node: 0,
            name: "inv".into(),
            flow: "f".into(),
            ccf: CCF,
            aef: AEF,
            api: "api1".into(),
            arrival: Arrival::Periodic(SimDuration::from_secs(1)),
            timeout: SimDuration::from_secs(1),
            connect_timeout: SimDuration::from_secs(3),
            strategy: RecoveryStrategy::ExplicitCause,
            tls_retries: 2,
            backoff: SimDuration::from_millis(500),
            per_session: 20,
            exposures: None,
            variant: AefPskVariant::Tls12MasterSecret,
            tls12_seed: 1,
            full: false,
            mutants: Mutants::NONE,
        };
        InvokerNode::new(cfg, Arc::new(Labels::default()), m, rng)
    }

    fn drain(n: &mut InvokerNode) -> Vec<Effect<CapifTimer>> {
        std::iter::from_fn(|| n.poll_effect()).collect()
    }

    /// Onboarding goes to its own CCF with a traffic mark first and a response timer after;
    /// when its connection fails, the onboarding is recorded as an error with the bytes since
    /// the mark, and the invoker backs off before it tries again.
    #[test]
    fn a_failed_onboarding_is_recorded_and_backs_off() {
        let mut n = node();
        n.handle(SimTime::ZERO, Input::Timer(CapifTimer::Start));
        let fx = drain(&mut n);
        let [
            Effect::MarkTraffic(PHASE_MARK),
            Effect::Request { corr, to, req, .. },
            Effect::SetTimer {
                timer: CapifTimer::Invoker(Timer::Response),
                ..
            },
        ] = &fx[..]
        else {
            panic!("mark, onboarding request, timer expected: {fx:?}")
        };
        assert_eq!((*to, req.path.as_str()), (CCF, super::super::ccf::ONBOARD_PATH));
        let failed = Input::Failed {
            conn: 4,
            corrs: vec![*corr],
            cause: ConnFailure::Reset,
        };
        n.handle(SimTime::from_nanos(5), failed);
        let fx = drain(&mut n);
        let record = fx.iter().find_map(|e| match e {
            Effect::RecordTraffic { record, mark, .. } if *mark == PHASE_MARK => Some(record),
            _ => None,
        });
        let r = record.unwrap_or_else(|| panic!("an onboarding record expected: {fx:?}"));
        assert_eq!((r.procedure, r.outcome), ("capif_onboarding", Outcome::Error));
        assert!(
            fx.iter()
                .any(|e| matches!(e, Effect::SetTimer { after, timer: CapifTimer::Retry(_) } if *after == SimDuration::from_millis(500))),
            "{fx:?}"
        );
    }
}
