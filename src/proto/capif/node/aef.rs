//! The API exposing function as one node machine: CAPIF-2e sessions and invocations
//! (TS 33.122 6.5.2), its AEF_Security_API (check-authentication, revoke-authorization), its
//! fetches of security information from its CCF over CAPIF-3 and its own method changes
//! (seed 004).
//!
//! Wire truth: a TLS-PSK session's key is the AEFPSK this AEF received from its CCF (its
//! TLS stack accepted the client's binder for that key), never the client's.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::{CapifTimer, PeerTls, json_body};
use crate::audit::capif::{CapifAudit, CapifMutant, GrantValidity, SessionCredential, TokenFacts, fingerprint};
use crate::audit::mutant::Mutant;
use crate::crypto::cost::CryptoOp;
use crate::engine::{SimDuration, SimRng, SimTime};
use crate::net::http::Typed;
use crate::net::tls::{PskEntry, TlsMode};
use crate::net::{ConnId, HttpRequest, HttpResponse, Latency, NodeId};
use crate::proto::capif::authentication::{KeyValidity, PskGrant};
use crate::proto::capif::machines::{Aef, AefInput, AefState, Credential, Output, Peer, Timer};
use crate::proto::capif::mismatch::{AefReaction, RecoveryStrategy, aef_reaction};
use crate::proto::capif::types::{
    CheckAuthenticationReq, RevokeAuthorizationReq, RevokeAuthorizationRsp, SecurityMethod, ServiceSecurity,
};
use crate::proto::common::{ApiBody, ProblemDetails29122, SupportedFeatures};
use crate::proto::effect::{Corr, Effect, Effects, Inbound, Input, Machine};
use crate::proto::payload::{self, MonitoringEventSubscription};

/// `POST` path of check-authentication (TS 29.222 AEF_Security_API).
pub const CHECK_PATH: &str = "/aef-security/v1/check-authentication";
/// `POST` path of revoke-authorization (TS 29.222 AEF_Security_API).
pub const REVOKE_PATH: &str = "/aef-security/v1/revoke-authorization";

/// The bearer token of a request's `Authorization` header (RFC 6750 2.1).
pub fn bearer(req: &HttpRequest) -> Option<&str> {
    req.header("authorization")?.strip_prefix("Bearer ")
}

/// What the AEF observed, for the world's independent checks (`CapifChecks`): measurement
/// only, drained by the world after each input.
#[derive(Clone, Debug)]
pub enum AefObservation {
    /// An invocation refused (any reason).
    RefusedInvocation,
    /// A TLS handshake refused or aborted.
    RefusedHandshake,
    /// A CAPIF-2e session accepted on `conn` for `invoker` with `method`.
    Accepted {
        /// The connection.
        conn: ConnId,
        /// The invoker.
        invoker: String,
        /// The method.
        method: SecurityMethod,
    },
    /// An invocation answered 200.
    Served {
        /// The invoker.
        invoker: String,
        /// Whether it carried a bearer token.
        token: bool,
        /// Whether its session was accepted before the AEF processed the invoker's revocation.
        after_revocation: bool,
        /// Whether its method is one the AEF no longer supports.
        stale_method: bool,
    },
}

impl AefObservation {
    /// The invoker it concerns.
    pub fn invoker(&self) -> Option<&str> {
        match self {
            AefObservation::Accepted { invoker, .. } | AefObservation::Served { invoker, .. } => Some(invoker),
            AefObservation::RefusedInvocation | AefObservation::RefusedHandshake => None,
        }
    }

    /// The connection of an accepted session.
    pub fn session_conn(&self) -> Option<ConnId> {
        match self {
            AefObservation::Accepted { conn, .. } => Some(*conn),
            _ => None,
        }
    }
}

/// Facts the world computes from the wire for the audit of one request (never read for a
/// decision): the credential of a new session and the bearer token as the world verifies it.
#[derive(Clone, Debug, Default)]
pub struct AefAuditFacts {
    /// The session's credential (for a request on a session not accepted yet).
    pub credential: Option<SessionCredential>,
    /// The bearer token's facts.
    pub token: Option<TokenFacts>,
}

/// The configuration of an [`AefNode`] (what the AEF knows at build).
#[derive(Clone, Debug)]
pub struct AefNodeConfig {
    /// The AEF ID.
    pub aef_id: String,
    /// The node of its CCF (CAPIF-3).
    pub ccf: NodeId,
    /// The methods it supports.
    pub methods: Vec<SecurityMethod>,
    /// The API it exposes.
    pub api: String,
    /// The strategy for uses of a method it no longer supports (seed 004).
    pub strategy: RecoveryStrategy,
    /// Processing time of an invocation.
    pub processing: Option<Latency>,
    /// The configured size of a served invocation's answer body \[bytes\]
    /// ([`crate::proto::payload`]).
    pub response_bytes: usize,
    /// Deliberate bugs (tests only).
    pub mutants: crate::audit::mutant::Mutants,
}

/// The API exposing function (sans-IO node machine).
pub struct AefNode {
    cfg: AefNodeConfig,
    /// The inner machine (per-invoker authentication and authorization).
    pub m: Aef,
    /// The methods it supports since its last change.
    pub methods: Vec<SecurityMethod>,
    rng: SimRng,
    /// Sessions accepted: connection → (invoker, method).
    sessions: BTreeMap<ConnId, (String, SecurityMethod)>,
    /// When each session was accepted.
    accepted_at: BTreeMap<ConnId, SimTime>,
    /// check-authentication requests waiting for the CCF, per invoker.
    waiting: BTreeMap<String, Vec<Inbound>>,
    /// AEFPSKs its TLS stack holds, by invoker.
    psk_ids: BTreeSet<String>,
    /// When the AEF processed a revocation, per invoker.
    revoked_at: BTreeMap<String, SimTime>,
    /// Fetches in flight: correlation id → (invoker, sent at).
    fetches: BTreeMap<Corr, (String, SimTime)>,
    next_corr: Corr,
    /// Monitoring event subscriptions created so far (their IDs).
    subscriptions: u64,
    /// The AEFPSK grant being installed (invoker, key fingerprint, validity as received).
    grant_seen: Option<(String, String, GrantValidity)>,
    peer: Option<PeerTls>,
    facts: AefAuditFacts,
    /// Observations for the world's checks.
    pub observed: Vec<AefObservation>,
    fx: Effects<CapifTimer>,
}

impl AefNode {
    /// An AEF with configuration `cfg`, inner machine `m` and random stream `rng`.
    pub fn new(cfg: AefNodeConfig, m: Aef, rng: SimRng) -> AefNode {
        AefNode {
            methods: cfg.methods.clone(),
            cfg,
            m,
            rng,
            sessions: BTreeMap::new(),
            accepted_at: BTreeMap::new(),
            waiting: BTreeMap::new(),
            psk_ids: BTreeSet::new(),
            revoked_at: BTreeMap::new(),
            fetches: BTreeMap::new(),
            next_corr: 0,
            subscriptions: 0,
            grant_seen: None,
            peer: None,
            facts: AefAuditFacts::default(),
            observed: Vec::new(),
            fx: Effects::default(),
        }
    }

    /// The AEF ID.
    pub fn aef_id(&self) -> &str {
        &self.cfg.aef_id
    }

    /// The node of its CCF.
    pub fn ccf(&self) -> NodeId {
        self.cfg.ccf
    }

    /// The API it exposes.
    pub fn api(&self) -> &str {
        &self.cfg.api
    }

    /// Whether `conn` carries a session it accepted.
    pub fn has_session(&self, conn: ConnId) -> bool {
        self.sessions.contains_key(&conn)
    }

    /// What the AEF's own TLS stack authenticated of the peer on the connection of the next
    /// request, and the world's audit facts for it (see [`super`]).
    pub fn peer_seen(&mut self, peer: PeerTls, facts: AefAuditFacts) {
        self.peer = Some(peer);
        self.facts = facts;
    }

    fn respond(&mut self, at: Inbound, status: u16, schema: &'static str, body: String) {
        self.fx.push(Effect::Respond {
            at,
            rsp: Box::new(HttpResponse::new(status, schema, body)),
            delay: SimDuration::ZERO,
        });
    }

    fn abort(&mut self, conn: ConnId, alert: &'static str, reason: &str) {
        self.fx.push(Effect::Abort {
            conn,
            alert,
            reason: reason.into(),
        });
    }

    /// The AEF changes its methods (the scripted change of seed 004): uses of the others
    /// fail from now on; for the TLS-only strategies its TLS stack drops its AEFPSKs, so
    /// TLS-PSK fails at the ClientHello.
    pub fn change_methods(&mut self, methods: &[SecurityMethod]) {
        self.methods = methods.to_vec();
        self.m.methods_changed(methods);
        let aef = self.cfg.aef_id.clone();
        self.fx.audit(|| {
            CapifAudit::AefMethodsChanged {
                aef,
                methods: methods.to_vec(),
            }
            .into()
        });
        if self.cfg.strategy.drops_psks_on_withdrawal() && !methods.contains(&SecurityMethod::Psk) {
            for id in std::mem::take(&mut self.psk_ids) {
                self.fx.push(Effect::RemovePsk(id.into_bytes()));
            }
        }
    }

    fn on_request(&mut self, now: SimTime, at: Inbound, req: HttpRequest) {
        let peer = self.peer.take();
        let facts = std::mem::take(&mut self.facts);
        if req.path == CHECK_PATH {
            let Some(body) = req.decode::<CheckAuthenticationReq>() else {
                return self.respond(at, 400, "", String::new());
            };
            let invoker = body.api_invoker_id.clone();
            self.waiting.entry(invoker.clone()).or_default().push(at);
            self.m
                .handle(now, &mut self.rng, AefInput::CheckAuthentication { req: body });
            self.drive(now, Some(&invoker));
            return;
        }
        if req.path == REVOKE_PATH {
            let Some(body) = req.decode::<RevokeAuthorizationReq>() else {
                return self.respond(at, 400, "", String::new());
            };
            let invoker = body.revoke_info.api_invoker_id.clone();
            let aef = self.cfg.aef_id.clone();
            self.fx.audit(|| {
                CapifAudit::RevocationReceived {
                    aef,
                    invoker: invoker.clone(),
                }
                .into()
            });
            self.revoked_at.insert(invoker.clone(), now);
            // (The AcceptRevokedInvoker bug: acknowledged, not acted on.)
            if !self.cfg.mutants.on(Mutant::Capif(CapifMutant::AcceptRevokedInvoker)) {
                self.m.handle(
                    now,
                    &mut self.rng,
                    AefInput::Revoke {
                        invoker: invoker.clone(),
                    },
                );
                if self.psk_ids.remove(&invoker) {
                    self.fx.push(Effect::RemovePsk(invoker.clone().into_bytes()));
                }
            }
            self.drive(now, Some(&invoker));
            let rsp = RevokeAuthorizationRsp {
                supported_features: SupportedFeatures::none(),
            };
            return self.respond(
                at,
                200,
                "RevokeAuthorizationRsp",
                serde_json::to_string(&rsp).unwrap_or_default(),
            );
        }
        self.invocation(now, at, req, peer, facts);
    }

    /// A service API invocation on a CAPIF-2e session.
    fn invocation(&mut self, now: SimTime, at: Inbound, req: HttpRequest, peer: Option<PeerTls>, facts: AefAuditFacts) {
        let conn = at.conn;
        let token = bearer(&req).map(str::to_string);
        let Some(peer) = peer else { return };
        let (invoker, used, credential) = match peer {
            PeerTls::Psk { identity } => {
                // The AEFPSK this AEF holds for the identity (its TLS stack checked the binder).
                let key = self.m.psk().entry(&identity).map_or([0; 32], |e| e.key);
                (identity, SecurityMethod::Psk, Credential::Psk(key))
            }
            PeerTls::Certificate { name, .. } if token.is_some() => {
                (name, SecurityMethod::Oauth, Credential::ServerAuthOnly)
            }
            PeerTls::Certificate { name, cert } => (name, SecurityMethod::Pki, Credential::Certificate(cert)),
        };
        //= TS 33.122 5.1.1 (seed 004): the AEF refuses a method it no longer supports
        // (The StaleMethodAccepted bug: every method is taken as still supported.)
        let reaction = if self.cfg.mutants.on(Mutant::Capif(CapifMutant::StaleMethodAccepted)) {
            AefReaction::Accept
        } else {
            aef_reaction(self.cfg.strategy, &used, &self.methods)
        };
        match reaction {
            AefReaction::Accept => {}
            AefReaction::ProblemDetails { status, body } => {
                self.observed.push(AefObservation::RefusedInvocation);
                return self.respond(
                    at,
                    status,
                    "ProblemDetails",
                    serde_json::to_string(&body).unwrap_or_default(),
                );
            }
            AefReaction::TlsAlert(alert) => {
                self.sessions.remove(&conn);
                self.accepted_at.remove(&conn);
                self.observed.push(AefObservation::RefusedHandshake);
                return self.abort(conn, alert, "security method no longer supported");
            }
        }
        if !self.sessions.contains_key(&conn) {
            self.m.handle(
                now,
                &mut self.rng,
                AefInput::Handshake {
                    invoker: invoker.clone(),
                    credential,
                },
            );
            let out = self.m.drain_outputs();
            let accepted = out.iter().any(|o| matches!(o, Output::Established { .. }));
            if !accepted {
                self.observed.push(AefObservation::RefusedHandshake);
                let alert = match used {
                    SecurityMethod::Psk => "unknown_psk_identity",
                    SecurityMethod::Pki => "bad_certificate",
                    _ => "handshake_failure",
                };
                return self.abort(conn, alert, "refused by the AEF");
            }
            self.sessions.insert(conn, (invoker.clone(), used.clone()));
            self.accepted_at.insert(conn, now);
            if let Some(credential) = facts.credential {
                let aef = self.cfg.aef_id.clone();
                let (invoker, method) = (invoker.clone(), used.clone());
                self.fx.audit(|| {
                    CapifAudit::SessionAccepted {
                        aef,
                        invoker,
                        conn,
                        method,
                        credential,
                    }
                    .into()
                });
            }
            self.observed.push(AefObservation::Accepted {
                conn,
                invoker: invoker.clone(),
                method: used.clone(),
            });
        }
        //= TS 29.122 5.3.2: `POST {apiRoot}/<API name>/v1/{scsAsId}/subscriptions`; the API
        //= name is what the invocation is authorized for
        let api = req
            .path
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string();
        let subscription = payload::parse_subscriptions_path(&req.path)
            .filter(|_| req.method == "POST")
            .and_then(|_| req.decode::<MonitoringEventSubscription>());
        let oauth = token.is_some();
        self.m.handle(
            now,
            &mut self.rng,
            AefInput::Invoke {
                invoker: invoker.clone(),
                api,
                token,
            },
        );
        let delay = match &self.cfg.processing {
            Some(l) => SimDuration::from_nanos(l.sample(&mut self.rng)),
            None => SimDuration::ZERO,
        };
        let ops = if oauth {
            vec![(CryptoOp::EcdsaVerify, 1)]
        } else {
            Vec::new()
        };
        for o in self.m.drain_outputs() {
            if let Output::Send(m) = o
                && let Some(status) = m.status
            {
                let rsp = if status == 200 && subscription.is_none() {
                    //= TS 29.122 5.2.6: an invocation that is no subscription request
                    self.observed.push(AefObservation::RefusedInvocation);
                    let p = ProblemDetails29122::with_cause(400, "INVALID_MSG_FORMAT")
                        .detail("not a MonitoringEventSubscription on a subscriptions collection");
                    HttpResponse::new(
                        400,
                        ProblemDetails29122::SCHEMA,
                        json_body(&serde_json::to_value(&p).unwrap_or_default()),
                    )
                } else if let (200, Some(sub)) = (status, &subscription) {
                    // A session accepted before the revocation is authorization obtained
                    // before it (a later one needed security information fetched after it).
                    let after_revocation = self
                        .revoked_at
                        .get(&invoker)
                        .is_some_and(|r| self.accepted_at.get(&conn).is_none_or(|s| s < r));
                    self.observed.push(AefObservation::Served {
                        invoker: invoker.clone(),
                        token: oauth,
                        after_revocation,
                        stale_method: !self.methods.contains(&used),
                    });
                    if self.fx.audit {
                        let (aef, invoker, method, token) = (
                            self.cfg.aef_id.clone(),
                            invoker.clone(),
                            used.clone(),
                            facts.token.clone(),
                        );
                        self.fx.audit(|| {
                            CapifAudit::InvocationServed {
                                aef,
                                invoker,
                                conn,
                                method,
                                token,
                            }
                            .into()
                        });
                    }
                    //= TS 29.122 4.4.2: 201 with the created subscription
                    self.subscriptions += 1;
                    let api_root = format!("https://{}.capif.example", self.cfg.aef_id);
                    let (created, text) = payload::monitoring_event_created(
                        sub,
                        &api_root,
                        &req.path,
                        self.subscriptions,
                        self.cfg.response_bytes,
                    );
                    let mut rsp = HttpResponse::new(201, MonitoringEventSubscription::SCHEMA, text);
                    rsp.typed = Some(Typed::new(created));
                    rsp
                } else {
                    self.observed.push(AefObservation::RefusedInvocation);
                    HttpResponse::new(status, m.schema, json_body(&m.body))
                };
                self.fx.push(Effect::RespondAfterWork {
                    at,
                    rsp: Box::new(rsp),
                    delay,
                    ops: ops.clone(),
                });
            }
        }
    }

    /// Acts on the inner machine's outputs; answers to the invoker go to the oldest
    /// check-authentication waiting for `invoker`.
    fn drive(&mut self, now: SimTime, invoker: Option<&str>) {
        for o in self.m.drain_outputs() {
            match o {
                Output::Send(m) if m.to == Peer::Ccf => {
                    //= TS 33.122 6.5.2.1 step 4: security information over CAPIF-3
                    let corr = self.next_corr;
                    self.next_corr += 1;
                    let req = HttpRequest::new(m.method, m.path, m.schema, json_body(&m.body));
                    self.fx.push(Effect::Request {
                        corr,
                        to: self.cfg.ccf,
                        via: None,
                        mode: TlsMode::Certificate,
                        req: Box::new(req),
                        delay: SimDuration::ZERO,
                    });
                    self.fetches
                        .insert(corr, (invoker.unwrap_or_default().to_string(), now));
                }
                Output::Send(m) => {
                    let Some(status) = m.status else { continue };
                    let Some(q) = invoker.and_then(|i| self.waiting.get_mut(i)) else {
                        continue;
                    };
                    if q.is_empty() {
                        continue;
                    }
                    let at = q.remove(0);
                    self.respond(at, status, m.schema, json_body(&m.body));
                }
                Output::SetTimer {
                    timer: Timer::KeyExpiry(inv),
                    at,
                } => self
                    .fx
                    .set_timer(at.saturating_since(now), CapifTimer::AefKeyExpiry(inv)),
                Output::CancelTimer {
                    timer: Timer::KeyExpiry(inv),
                } => self.fx.cancel_timer(CapifTimer::AefKeyExpiry(inv)),
                Output::KeyInstalled { invoker, expires_at } => {
                    if let Some((inv, key, validity)) = self.grant_seen.take().filter(|g| g.0 == invoker) {
                        let aef = self.cfg.aef_id.clone();
                        self.fx.audit(|| {
                            CapifAudit::PskInstalled {
                                aef,
                                invoker: inv,
                                key,
                                validity,
                                expires_at_ns: expires_at.as_nanos(),
                            }
                            .into()
                        });
                    }
                    //= TS 33.122 6.5.2.1 step 5: the AEF's TLS stack holds the AEFPSK until expiry
                    if let Some(e) = self.m.psk().entry(&invoker) {
                        self.fx.push(Effect::InstallPsk {
                            identity: invoker.clone().into_bytes(),
                            entry: PskEntry {
                                key: e.key.to_vec(),
                                expires: Some(expires_at),
                            },
                        });
                        self.psk_ids.insert(invoker);
                    }
                }
                Output::SessionClosed { invoker } => {
                    let conns: Vec<ConnId> = self
                        .sessions
                        .iter()
                        .filter(|(_, (i, _))| *i == invoker)
                        .map(|(c, _)| *c)
                        .collect();
                    for c in conns {
                        self.sessions.remove(&c);
                        self.accepted_at.remove(&c);
                        self.abort(c, "close_notify", "session closed by the AEF");
                    }
                }
                _ => {}
            }
        }
    }

    /// The CCF's answer to a fetch (`None`: the connection failed, 504).
    fn fetched(&mut self, now: SimTime, corr: Corr, rsp: Option<HttpResponse>) {
        let Some((invoker, sent)) = self.fetches.remove(&corr) else {
            return;
        };
        let (status, value) = match rsp {
            Some(rsp) => {
                let value: Value = if rsp.body.is_empty() {
                    Value::Null
                } else {
                    serde_json::from_str(&rsp.body).unwrap_or(Value::String(rsp.body.clone()))
                };
                if self.fx.audit {
                    // The AEFPSK and validity as they arrived on the wire.
                    self.grant_seen = serde_json::from_value::<ServiceSecurity>(value.clone())
                        .ok()
                        .and_then(|s| s.security_info.into_iter().next())
                        .and_then(|e| e.authentication_info)
                        .and_then(|a| PskGrant::parse(&a).ok())
                        .map(|g| {
                            let validity = match g.validity {
                                KeyValidity::Remaining(d) => GrantValidity::Remaining { ns: d.as_nanos() },
                                KeyValidity::Absolute(t) => GrantValidity::Absolute { at_ns: t.as_nanos() },
                            };
                            (invoker.clone(), fingerprint(&g.key), validity)
                        });
                }
                (rsp.status, value)
            }
            None => (504, Value::Null),
        };
        let before = self.m.state(&invoker);
        self.m.handle(
            now,
            &mut self.rng,
            AefInput::SecurityInfoResponse {
                invoker: invoker.clone(),
                status,
                body: value,
            },
        );
        if before == AefState::FetchingKey && self.m.state(&invoker) == AefState::KeyValid {
            let aef = self.cfg.aef_id.clone();
            let inv = invoker.clone();
            self.fx.audit(|| {
                CapifAudit::SecurityInfoObtained {
                    aef,
                    invoker: inv,
                    requested_at_ns: sent.as_nanos(),
                }
                .into()
            });
        }
        self.drive(now, Some(&invoker));
        self.grant_seen = None;
    }
}

impl Machine for AefNode {
    type Timer = CapifTimer;

    fn handle(&mut self, now: SimTime, input: Input<CapifTimer>) {
        match input {
            Input::Request { at, req, .. } => self.on_request(now, at, req),
            Input::Response { corr, rsp, .. } => self.fetched(now, corr, Some(rsp)),
            Input::Failed { corrs, .. } => {
                for corr in corrs {
                    self.fetched(now, corr, None);
                }
            }
            Input::Timer(CapifTimer::AefKeyExpiry(invoker)) => {
                self.m.handle(now, &mut self.rng, AefInput::KeyExpired { invoker });
                self.drive(now, None);
            }
            Input::Timer(_) | Input::Connected { .. } | Input::ConnectRequest { .. } | Input::Sent { .. } => {}
        }
    }

    fn effects(&mut self) -> &mut Effects<CapifTimer> {
        &mut self.fx
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::pki::RevocationList;
    use crate::proto::capif::authentication::ExpiryBehaviour;
    use crate::proto::capif::machines::AefConfig;
    use crate::proto::capif::types::{Cause, SecurityNotification};

    const CCF: NodeId = 7;

    fn node() -> AefNode {
        let cfg = AefConfig {
            aef_id: "aef1".into(),
            ccf_anchors: Vec::new(),
            revoked_certs: RevocationList::new(),
            tokens: None,
            expiry: ExpiryBehaviour::default(),
            mutants: crate::audit::mutant::Mutants::NONE,
        };
        let node_cfg = AefNodeConfig {
            aef_id: "aef1".into(),
            ccf: CCF,
            methods: vec![SecurityMethod::Psk, SecurityMethod::Pki],
            api: "api1".into(),
            strategy: RecoveryStrategy::ExplicitCause,
            processing: None,
            response_bytes: 2,
            mutants: crate::audit::mutant::Mutants::NONE,
        };
        AefNode::new(node_cfg, Aef::new(cfg), crate::engine::stream(1, "aef:test"))
    }

    fn drain(n: &mut AefNode) -> Vec<Effect<CapifTimer>> {
        std::iter::from_fn(|| n.poll_effect()).collect()
    }

    fn at(conn: ConnId) -> Inbound {
        Inbound { conn, stream: 1 }
    }

    /// Without security information, check-authentication asks the AEF's own CCF over CAPIF-3;
    /// when that connection fails, the waiting request is answered from the failure.
    #[test]
    fn check_authentication_fetches_from_its_ccf() {
        let mut n = node();
        let body = CheckAuthenticationReq {
            api_invoker_id: "inv-1".into(),
            supported_features: SupportedFeatures::none(),
        };
        let req = HttpRequest::json("POST", CHECK_PATH, "CheckAuthenticationReq", body);
        n.handle(
            SimTime::ZERO,
            Input::Request {
                at: at(3),
                client: 1,
                req,
            },
        );
        let fx = drain(&mut n);
        let [
            Effect::Request {
                corr, to, mode, req, ..
            },
        ] = &fx[..]
        else {
            panic!("one fetch expected: {fx:?}")
        };
        assert_eq!((*to, mode), (CCF, &TlsMode::Certificate));
        assert!(req.path.starts_with("/capif-security/v1/trustedInvokers/inv-1"));
        let failed = Input::Failed {
            conn: 9,
            corrs: vec![*corr],
            cause: crate::net::conn::ConnFailure::Reset,
        };
        n.handle(SimTime::ZERO, failed);
        let fx = drain(&mut n);
        let [Effect::Respond { at: a, rsp, .. }] = &fx[..] else {
            panic!("one answer expected: {fx:?}")
        };
        assert_eq!((a.conn, rsp.status), (3, 504));
    }

    /// A TLS-PSK session is checked against the AEFPSK the AEF holds (none here): the AEF
    /// refuses it without ever seeing the client's key.
    #[test]
    fn psk_session_without_its_own_key_is_refused() {
        let mut n = node();
        n.peer_seen(
            PeerTls::Psk {
                identity: "inv-1".into(),
            },
            AefAuditFacts::default(),
        );
        let req = HttpRequest::new("POST", "/api1", "", String::new());
        n.handle(
            SimTime::ZERO,
            Input::Request {
                at: at(4),
                client: 1,
                req,
            },
        );
        let fx = drain(&mut n);
        assert!(
            matches!(
                &fx[..],
                [Effect::Abort {
                    conn: 4,
                    alert: "unknown_psk_identity",
                    ..
                }]
            ),
            "{fx:?}"
        );
        assert!(matches!(&n.observed[..], [AefObservation::RefusedHandshake]));
    }

    /// revoke-authorization: the audit fact comes before the answer, in the order decided.
    #[test]
    fn revocation_is_acknowledged_after_its_audit_fact() {
        let mut n = node();
        n.set_audit(true);
        let body = RevokeAuthorizationReq {
            revoke_info: SecurityNotification {
                api_invoker_id: "inv-1".into(),
                aef_id: Some("aef1".into()),
                api_ids: vec!["api1".into()],
                cause: Cause::UnexpectedReason,
            },
            supported_features: SupportedFeatures::none(),
        };
        let req = HttpRequest::json("POST", REVOKE_PATH, "RevokeAuthorizationReq", body);
        n.handle(
            SimTime::ZERO,
            Input::Request {
                at: at(5),
                client: CCF,
                req,
            },
        );
        let fx = drain(&mut n);
        assert!(
            matches!(&fx[..], [Effect::Audit(_), Effect::Respond { rsp, .. }] if rsp.status == 200),
            "{fx:?}"
        );
    }
}
