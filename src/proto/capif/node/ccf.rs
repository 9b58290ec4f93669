//! The CAPIF core function as one node machine: onboarding, security method negotiation,
//! security information for AEFs and tokens (TS 33.122 6.1, 6.3, 6.5; TS 29.222
//! CAPIF_Security_API) through its procedure machine [`Ccf`], publications (TS 29.222 8.2) and
//! what follows from them for the invokers (seed 004), revocations, restarts, and its side of
//! the CCF-to-CCF interconnection (seed 002, [`super::interconnect`]).
//!
//! Wire truth: the CCF knows its configuration (CA, token key, published AEF profiles and
//! where each AEF and peer CCF is, policy, the onboarding secrets it provisioned, knobs) and
//! what it received: an invoker's API invoker ID and address from the onboarding it answered,
//! the AEF an invoker negotiated for from its request, an invoker's home CCF from that CCF's
//! CAPIF-6e query. Its own TLS stack hands it the name in the client certificate it authenticated and the
//! secrets of the connection (the CAPIF-1e session an AEFPSK is derived from).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::interconnect::Job;
use super::{CapifTimer, Labels, PUBLISH_PREFIX, REVOKE_PATH, capif1e_material, json_body, plane_record};
use crate::audit::capif::{CapifAudit, SecretSent};
use crate::audit::mutant::Mutants;
use crate::crypto::aefpsk::AefPskVariant;
use crate::crypto::cost::CryptoOp;
use crate::crypto::tls13::Tls13Secrets;
use crate::engine::{SimDuration, SimRng, SimTime};
use crate::metrics::Outcome;
use crate::net::tls::TlsMode;
use crate::net::{HttpRequest, HttpResponse, NodeId};
use crate::proto::capif::interconnection::{InterconnectionKnobs, Item};
use crate::proto::capif::machines::{Ccf, CcfInput, Output};
use crate::proto::capif::mismatch::{
    AffectedInvoker, CcfAction, MethodChange, PushBody, RecoveryStrategy, ccf_on_method_change,
};
#[cfg(test)]
use crate::proto::capif::node::interconnect::CAPIF6E_PREFIX;
use crate::proto::capif::onboarding::problem;
use crate::proto::capif::types::{
    AccessTokenReq, ApiInvokerEnrolmentDetails, Cause, RevokeAuthorizationReq, SecurityMethod, SecurityNotification,
    ServiceApiDescription, ServiceSecurity,
};
use crate::proto::common::SupportedFeatures;
use crate::proto::effect::{Corr, Effect, Effects, Inbound, Input, Machine};
#[cfg(test)]
use serde_json::json;

pub(crate) const ONBOARD_PATH: &str = "/api-invoker-management/v1/onboardedInvokers";
pub(crate) const TRUSTED_PREFIX: &str = "/capif-security/v1/trustedInvokers/";
pub(crate) const SECURITIES_PREFIX: &str = "/capif-security/v1/securities/";
/// Where invokers take pushes (a configuration choice: `notificationDestination`'s path).
pub const NOTIFY_PATH: &str = "/capif-notify";

/// Where an AEF the CCF publishes is.
#[derive(Clone, Debug)]
pub struct AefAt {
    /// Its address.
    pub node: NodeId,
    /// The API it exposes.
    pub api: String,
    /// The CCF it is registered at, if another (this CCF learnt it over CAPIF-6e: CCF-B).
    pub home: Option<NodeId>,
    /// The peer CCFs this CCF shares it with (CCF-A: it forwards publications to them).
    pub shared_with: Vec<NodeId>,
}

/// What a CCF is configured with at build.
#[derive(Clone, Debug)]
pub struct CcfNodeConfig {
    pub node: NodeId,
    pub name: String,
    /// The AEFs it publishes, by AEF ID.
    pub aefs: BTreeMap<String, AefAt>,
    /// Every CCF of the topology, in address order (the parties of the interconnection plans).
    pub ccfs: Vec<NodeId>,
    pub interconnection: InterconnectionKnobs,
    /// The recovery strategy of the plane (whether and how it pushes method changes).
    pub strategy: RecoveryStrategy,
    /// The invokers subscribed to `SERVICE_API_UPDATE` (a configuration choice).
    pub subscribed: BTreeSet<NodeId>,
    /// The AEFPSK variant, and the TLS 1.2 stand-in's seed and fidelity.
    pub variant: AefPskVariant,
    pub tls12_seed: u64,
    pub full: bool,
    pub mutants: Mutants,
}

/// The CAPIF core function (sans-IO node machine).
pub struct CcfNode {
    pub(super) cfg: CcfNodeConfig,
    pub(super) labels: Arc<Labels>,
    /// The procedure machine.
    pub m: Ccf,
    pub(super) rng: SimRng,
    /// Invokers it onboarded: address → API invoker ID, and back.
    by_node: BTreeMap<NodeId, String>,
    pub(super) node_of: BTreeMap<String, NodeId>,
    /// The AEF each invoker last negotiated for.
    aef_of: BTreeMap<String, String>,
    /// Invokers of other CCFs, by the CCF that asked for them over CAPIF-6e (CCF-A).
    pub(super) homes: BTreeMap<String, NodeId>,
    down_until: Option<SimTime>,
    pub(super) jobs: Vec<Job>,
    /// Its CAPIF-6e requests in flight: correlation id → (job, step).
    pub(super) steps: BTreeMap<Corr, (u32, usize)>,
    pub(super) next_corr: Corr,
    peer: Option<String>,
    secrets: Option<Option<Tls13Secrets>>,
    /// Revoked API invoker IDs (for the world's checks).
    pub revoked: BTreeSet<String>,
    /// Negotiations, and those outside prefs ∩ the AEF's methods (its own check).
    pub negotiations: u64,
    pub outside_intersection: u64,
    pub(super) fx: Effects<CapifTimer>,
}

impl CcfNode {
    pub fn new(cfg: CcfNodeConfig, labels: Arc<Labels>, m: Ccf, rng: SimRng) -> CcfNode {
        CcfNode {
            cfg,
            labels,
            m,
            rng,
            by_node: BTreeMap::new(),
            node_of: BTreeMap::new(),
            aef_of: BTreeMap::new(),
            homes: BTreeMap::new(),
            down_until: None,
            jobs: Vec::new(),
            steps: BTreeMap::new(),
            next_corr: 0,
            peer: None,
            secrets: None,
            revoked: BTreeSet::new(),
            negotiations: 0,
            outside_intersection: 0,
            fx: Effects::default(),
        }
    }

    /// What its own TLS stack authenticated of the client of the next request (the name in
    /// its certificate), and that connection's secrets (server side).
    pub fn peer_seen(&mut self, peer: String, secrets: Option<Tls13Secrets>) {
        self.peer = Some(peer);
        self.secrets = Some(secrets);
    }

    pub(super) fn respond(&mut self, at: Inbound, rsp: HttpResponse) {
        self.fx.push(Effect::Respond {
            at,
            rsp: Box::new(rsp),
            delay: SimDuration::ZERO,
        });
    }

    fn bad(&mut self, at: Inbound, status: u16, cause: &str) {
        let p = problem(status, cause);
        let body = serde_json::to_string(&p).unwrap_or_default();
        self.respond(at, HttpResponse::new(status, "ProblemDetails", body));
    }

    pub(super) fn request(&mut self, to: NodeId, req: HttpRequest) -> Corr {
        self.next_corr += 1;
        let corr = self.next_corr;
        self.fx.push(Effect::Request {
            corr,
            to,
            via: None,
            mode: TlsMode::Certificate,
            req: Box::new(req),
            delay: SimDuration::ZERO,
        });
        corr
    }

    /// What a message carried from this CCF to `to` (the domain-crossing invariant):
    /// `carries` as the CAPIF-6e body lists them, plus what the body shows. `about`: the API
    /// invoker ID it concerns (the router labels the fact with the invoker's flow).
    pub(super) fn audit_sent(
        &mut self,
        about: Option<&str>,
        to: NodeId,
        (message, body): (&str, &str),
        carries: &[Item],
    ) {
        if !self.fx.audit {
            return;
        }
        let mut items = carries.to_vec();
        for item in super::secret_items(body) {
            if !items.contains(&item) {
                items.push(item);
            }
        }
        if items.is_empty() {
            return;
        }
        let ev = SecretSent {
            about: about.map(str::to_string),
            about_node: about.and_then(|id| self.node_of.get(id).copied()),
            ..self.labels.secret_sent((self.cfg.node, to), message, items)
        };
        self.fx
            .push(Effect::Audit(Box::new(CapifAudit::SecretSent(Box::new(ev)).into())));
    }

    fn on_request(&mut self, now: SimTime, at: Inbound, client: NodeId, req: HttpRequest) {
        let authenticated = self.peer.take().unwrap_or_default();
        let secrets = self.secrets.take().flatten();
        let req_bytes = req.wire_bytes();
        if self.down_until.is_some_and(|t| now < t) {
            // Restarting: nothing listens (the connection is reset).
            self.fx.push(Effect::Abort {
                conn: at.conn,
                alert: "internal_error",
                reason: "ccf restarting".into(),
            });
            return;
        }
        let path = req.path.clone();
        if path.starts_with(super::interconnect::CAPIF6E_PREFIX) {
            return self.step_at(now, at, client, &req);
        }
        if path.starts_with(PUBLISH_PREFIX) && req.method == "PUT" {
            //= TS 29.222 8.2 Publish_Service_API: the APF (or, over CAPIF-6e, the AEF's own
            //= CCF) updates the AEF profile
            let Some(desc) = req.decode::<ServiceApiDescription>() else {
                return self.bad(at, 400, "INVALID_BODY");
            };
            let from_peer = self.cfg.ccfs.contains(&client);
            self.handle_publication(&desc, from_peer);
            let rsp = HttpResponse::new(200, "ServiceAPIDescription", req.body);
            let mut r = plane_record(
                ("ccf_request", "publish".into()),
                "",
                (self.labels.name(client), &self.cfg.name),
                (now, now),
                (Outcome::Ok, 200, 1),
            );
            r.bytes = u64::from(req_bytes + rsp.wire_bytes());
            self.fx.record(r);
            return self.respond(at, rsp);
        }
        let (op, input): (&'static str, CcfInput) = if path == ONBOARD_PATH && req.method == "POST" {
            let Ok(body) = serde_json::from_str::<ApiInvokerEnrolmentDetails>(&req.body) else {
                return self.bad(at, 400, "INVALID_BODY");
            };
            // The onboarding secret it provisioned for the client's name (configuration).
            let secret_ok = body.onboarding_information.onboarding_secret.as_deref()
                == Some(format!("secret-{authenticated}").as_str());
            ("onboarding", CcfInput::Onboard { req: body, secret_ok })
        } else if let Some(rest) = path.strip_prefix(TRUSTED_PREFIX) {
            let (id, _query) = rest.split_once('?').unwrap_or((rest, ""));
            if req.method == "GET" {
                // The AEF is known by its client certificate on CAPIF-3.
                let (invoker, aef_id) = (id.to_string(), authenticated);
                let local = self.m.record(&invoker) != crate::proto::capif::machines::CcfState::Unknown;
                if !local && let Some(&home) = self.homes.get(&invoker) {
                    //= seed 002 6.X.3.1: CCF-A requests the security information from CCF-B
                    return self.relay_security_info(now, (at, client), home, (&invoker, &aef_id));
                }
                ("security_info", CcfInput::ObtainSecurityInfo { invoker, aef_id })
            } else {
                let (id, update) = match id.strip_suffix("/update") {
                    Some(id) => (id, true),
                    None => (id, false),
                };
                if id != authenticated {
                    return self.bad(at, 403, "API_INVOKER_NOT_AUTHENTICATED");
                }
                let Ok(body) = serde_json::from_str::<ServiceSecurity>(&req.body) else {
                    return self.bad(at, 400, "INVALID_BODY");
                };
                let c = &self.cfg;
                let session = Some(capif1e_material(
                    c.variant,
                    secrets.as_ref(),
                    (c.tls12_seed, at.conn, c.full),
                ));
                let target = body.security_info.first().map(|e| e.target.clone());
                let aef = target.and_then(|t| {
                    crate::proto::capif::security_method::resolve_target(&t, self.m.aefs())
                        .map(|(a, _)| a.aef_id.clone())
                });
                let input = CcfInput::ObtainSecurityMethod {
                    invoker: id.to_string(),
                    body,
                    update,
                    session,
                };
                if let Some(aef) = aef {
                    self.aef_of.insert(id.to_string(), aef.clone());
                    if let Some(home) = self.cfg.aefs.get(&aef).and_then(|a| a.home) {
                        //= seed 002 6.X.2: CCF-B asks CCF-A for the AEF's methods first
                        return self.remote_negotiation(now, (at, client), home, (input, req_bytes));
                    }
                }
                ("negotiation", input)
            }
        } else if let Some(rest) = path.strip_prefix(SECURITIES_PREFIX) {
            let Ok(token_req) = AccessTokenReq::from_form(req.body.trim_matches('"')) else {
                return self.bad(at, 400, "INVALID_BODY");
            };
            let id = rest.trim_end_matches("/token");
            if id != authenticated || token_req.client_id != authenticated {
                return self.bad(at, 403, "API_INVOKER_NOT_AUTHENTICATED");
            }
            let id = id.to_string();
            let input = CcfInput::ObtainToken { req: token_req };
            let home = self
                .aef_of
                .get(&id)
                .and_then(|a| self.cfg.aefs.get(a))
                .and_then(|a| a.home);
            if let Some(home) = home {
                //= seed 002 6.X.3.3: the token messages of the chosen alternative
                return self.remote_token(now, (at, client), home, (&id, input, req_bytes));
            }
            ("token", input)
        } else {
            return self.bad(at, 404, "RESOURCE_NOT_FOUND");
        };
        self.feed(now, (at, client), (op, req_bytes), input);
    }

    /// Hands a request to the procedure machine and answers it after the CPU work it costs.
    pub(super) fn feed(
        &mut self,
        now: SimTime,
        (at, client): (Inbound, NodeId),
        (op, req_bytes): (&'static str, u32),
        input: CcfInput,
    ) {
        let ops: Vec<(CryptoOp, u64)> = match &input {
            CcfInput::Onboard { .. } | CcfInput::ObtainToken { .. } => vec![(CryptoOp::EcdsaSign, 1)],
            CcfInput::ObtainSecurityMethod { .. } => vec![(CryptoOp::Kdf3gpp, 1), (CryptoOp::TlsExporter, 1)],
            _ => Vec::new(),
        };
        self.fx.push(Effect::Work(ops));
        let asked = match &input {
            CcfInput::ObtainSecurityMethod { body, .. } => body
                .security_info
                .first()
                .map(|e| (e.target.clone(), e.pref_security_methods.clone())),
            _ => None,
        };
        let about = match &input {
            CcfInput::Onboard { .. } => self.by_node.get(&client).cloned(),
            CcfInput::ObtainSecurityMethod { invoker, .. }
            | CcfInput::ObtainSecurityInfo { invoker, .. }
            | CcfInput::Revoke { invoker } => Some(invoker.clone()),
            CcfInput::ObtainToken { req } => Some(req.client_id.clone()),
        };
        let asked_by = match &input {
            CcfInput::ObtainSecurityMethod { invoker, .. } => invoker.clone(),
            _ => String::new(),
        };
        let onboarding = matches!(input, CcfInput::Onboard { .. });
        self.m.handle(now, &mut self.rng, input);
        let outputs = self.m.drain_outputs();
        // Its own check: the selection lies in prefs ∩ the AEF's effective methods.
        if let Some((target, prefs)) = asked {
            let resolved =
                crate::proto::capif::security_method::resolve_target(&target, self.m.aefs()).map(|(a, i)| {
                    let methods = i
                        .and_then(|i| i.security_methods.clone())
                        .or_else(|| a.security_methods.clone())
                        .unwrap_or_default();
                    (a.aef_id.clone(), methods)
                });
            let mut negotiated = Vec::new();
            for o in &outputs {
                if let Output::Send(m) = o
                    && m.status.is_some_and(|s| s < 300)
                    && let Ok(rsp) = serde_json::from_value::<ServiceSecurity>(m.body.clone())
                {
                    for e in rsp.security_info {
                        let Some(sel) = e.sel_security_method else { continue };
                        self.negotiations += 1;
                        let effective = resolved.as_ref().map(|(_, m)| m);
                        if !prefs.contains(&sel) || !effective.is_some_and(|m| m.contains(&sel)) {
                            self.outside_intersection += 1;
                        }
                        if self.fx.audit {
                            let (aef, known) = resolved.clone().unwrap_or_default();
                            negotiated.push(CapifAudit::Negotiated {
                                ccf: self.cfg.name.clone(),
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
            for ev in negotiated {
                self.fx.push(Effect::Audit(Box::new(ev.into())));
            }
        }
        let mut status = 0;
        let mut rsp_bytes = 0;
        for o in outputs {
            if let Output::Send(m) = o
                && let Some(s) = m.status
            {
                status = s;
                if onboarding
                    && s == 201
                    && let Some(id) = m.body.get("apiInvokerId").and_then(serde_json::Value::as_str)
                {
                    self.by_node.insert(client, id.to_string());
                    self.node_of.insert(id.to_string(), client);
                }
                let rsp = HttpResponse::new(s, m.schema, json_body(&m.body));
                rsp_bytes += rsp.wire_bytes();
                let about = if onboarding {
                    self.by_node.get(&client).cloned()
                } else {
                    about.clone()
                };
                self.audit_sent(about.as_deref(), client, (m.schema, &rsp.body), &[]);
                self.fx.push(Effect::AfterWork(Box::new(Effect::Respond {
                    at,
                    rsp: Box::new(rsp),
                    delay: SimDuration::ZERO,
                })));
            }
        }
        let outcome = if status < 400 { Outcome::Ok } else { Outcome::Error };
        let mut r = plane_record(
            ("ccf_request", op.to_string()),
            "",
            (self.labels.name(client), &self.cfg.name),
            (now, now),
            (outcome, status, 1),
        );
        // One exchange: the request and its answer, as the CCF sees them; it ends when the
        // CCF's CPU is done.
        r.bytes = u64::from(req_bytes + rsp_bytes);
        self.fx.push(Effect::AfterWork(Box::new(Effect::Record(Box::new(r)))));
    }

    /// A publication of AEF profiles reached this CCF: from the APF (the AEF's own CCF), or
    /// over CAPIF-6e from the AEF's CCF (`from_peer`). The CCF updates its profiles and, for
    /// `CcfPush`, notifies the invokers it selected a method for that the AEF no longer
    /// supports; the AEF's own CCF passes the publication on to the peer CCFs it shares the
    /// AEF with.
    pub fn handle_publication(&mut self, desc: &ServiceApiDescription, from_peer: bool) {
        for p in desc.aef_profiles.iter().flatten() {
            let methods = p.security_methods.clone().unwrap_or_default();
            self.publish(&p.aef_id, &methods, (&desc.api_name, Some(desc)), from_peer);
        }
    }

    /// AEF `aef_id` of this CCF now supports `methods` and no APF is modelled in its domain:
    /// the CCF learns it at once (a configuration choice) and the events carry no
    /// description.
    pub fn handle_aef_change(&mut self, aef_id: &str, methods: &[SecurityMethod]) {
        let api = self.cfg.aefs.get(aef_id).map(|a| a.api.clone()).unwrap_or_default();
        self.publish(aef_id, methods, (&api, None), false);
    }

    fn publish(
        &mut self,
        aef_id: &str,
        methods: &[SecurityMethod],
        (api, desc): (&str, Option<&ServiceApiDescription>),
        from_peer: bool,
    ) {
        self.m.set_aef_methods(aef_id, methods);
        let ccf = from_peer.then(|| self.cfg.name.clone());
        self.fx.audit(|| {
            CapifAudit::MethodsPublished {
                aef: aef_id.to_string(),
                methods: methods.to_vec(),
                ccf,
            }
            .into()
        });
        let mut affected = Vec::new();
        for (node, id) in &self.by_node {
            let Some(m) = self.m.selected(id, aef_id) else { continue };
            if !methods.contains(m) {
                affected.push(AffectedInvoker {
                    api_invoker_id: id.clone(),
                    subscription_id: self.cfg.subscribed.contains(node).then(|| format!("sub-{id}")),
                });
            }
        }
        // The event carries the description published (its AEF profiles name the new
        // methods), so a subscriber can prefer them when it renegotiates.
        let change = MethodChange {
            aef_id: aef_id.to_string(),
            api_ids: vec![api.to_string()],
            descriptions: desc.into_iter().cloned().collect(),
        };
        for action in ccf_on_method_change(self.cfg.strategy, &change, &affected) {
            let CcfAction::Notify { invoker, body } = action;
            let Some(&to) = self.node_of.get(&invoker) else {
                continue;
            };
            let req = match body {
                PushBody::Security(n) => HttpRequest::json("POST", NOTIFY_PATH, "SecurityNotification", n),
                PushBody::Event(e) => HttpRequest::json("POST", NOTIFY_PATH, "EventNotification", e),
            };
            self.request(to, req);
        }
        let Some(at) = self.cfg.aefs.get(aef_id).filter(|a| a.home.is_none()) else {
            return;
        };
        //= TS 29.222 CAPIF-6e: the AEF's CCF publishes the update to the peer CCFs it shares
        //= the AEF with
        let desc = desc.cloned().unwrap_or_else(|| ServiceApiDescription {
            api_name: api.to_string(),
            api_id: Some(api.to_string()),
            aef_profiles: Some(self.m.aefs().iter().filter(|p| p.aef_id == aef_id).cloned().collect()),
            description: None,
            supported_features: Some(SupportedFeatures::none()),
            shareable_info: None,
            pub_api_path: None,
            ccf_id: None,
        });
        for peer in at.shared_with.clone() {
            let path = format!("{PUBLISH_PREFIX}{}/service-apis/{api}", self.cfg.name);
            self.request(
                peer,
                HttpRequest::json("PUT", path, "ServiceAPIDescription", desc.clone()),
            );
        }
    }

    /// The operator revokes the authorization of the invoker at `invoker` for AEF `aef_id`
    /// (`capif.revocations`): the CCF deletes its security context, tells the AEF
    /// (revoke-authorization) and notifies the invoker.
    pub fn handle_revocation(&mut self, now: SimTime, invoker: NodeId, aef_id: &str) {
        let Some(id) = self.by_node.get(&invoker).cloned() else {
            return;
        };
        let Some(aef) = self.cfg.aefs.get(aef_id).cloned() else {
            return;
        };
        //= TS 29.222 5.6.2.4: the CCF deletes the invoker's security context...
        self.m
            .handle(now, &mut self.rng, CcfInput::Revoke { invoker: id.clone() });
        let _ = self.m.drain_outputs();
        self.revoked.insert(id.clone());
        let notification = SecurityNotification {
            api_invoker_id: id,
            aef_id: Some(aef_id.to_string()),
            api_ids: vec![aef.api.clone()],
            cause: Cause::UnexpectedReason,
        };
        // ...tells the AEF (revoke-authorization)...
        let body = RevokeAuthorizationReq {
            revoke_info: notification.clone(),
            supported_features: SupportedFeatures::none(),
        };
        let req = HttpRequest::new(
            "POST",
            REVOKE_PATH,
            "RevokeAuthorizationReq",
            serde_json::to_string(&body).unwrap_or_default(),
        );
        self.request(aef.node, req);
        // ...and notifies the invoker.
        let req = HttpRequest::new(
            "POST",
            NOTIFY_PATH,
            "SecurityNotification",
            serde_json::to_string(&notification).unwrap_or_default(),
        );
        self.request(invoker, req);
    }

    /// The CCF restarts (`capif.ccf_restarts`, see [`Ccf::restart`]) and stays down for
    /// `down`: it loses its volatile state and the CAPIF-6e jobs it runs (the world resets
    /// its connections).
    pub fn handle_restart(&mut self, now: SimTime, down: SimDuration) {
        self.m.restart();
        self.down_until = Some(now + down);
        let (ccf, down_ns) = (self.cfg.name.clone(), down.as_nanos());
        self.fx.audit(|| CapifAudit::CcfRestarted { ccf, down_ns }.into());
        for j in &mut self.jobs {
            if !j.steps.is_empty() {
                j.dead = true;
            }
        }
    }
}

impl Machine for CcfNode {
    type Timer = CapifTimer;

    fn handle(&mut self, now: SimTime, input: Input<CapifTimer>) {
        match input {
            Input::Request { at, client, req } => self.on_request(now, at, client, req),
            Input::Response { corr, rsp, .. } => self.step_answered(now, corr, Some(rsp)),
            Input::Failed { corrs, .. } => {
                for corr in corrs {
                    self.step_answered(now, corr, None);
                }
            }
            Input::Sent { .. } | Input::Connected { .. } | Input::ConnectRequest { .. } | Input::Timer(_) => {}
        }
    }

    fn effects(&mut self) -> &mut Effects<CapifTimer> {
        &mut self.fx
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::pki::key_from_rng;
    use crate::proto::capif::authentication::{TokenEndpoint, ValidityEncoding};
    use crate::proto::capif::machines::CcfConfig;
    use crate::proto::capif::onboarding::tests::service;
    use crate::proto::capif::security_method::{AccessPolicy, tests::aef};
    use crate::proto::capif::types::SecurityMethod::{Pki, Psk};

    const CCF_A: NodeId = 1;
    const CCF_B: NodeId = 2;
    const AEF: NodeId = 3;

    /// CCF-A, where `aef1` is registered and shared with CCF-B.
    fn ccf_a() -> CcfNode {
        let mut rng = crate::engine::stream(1, "ccf-node-test");
        let onboarding = service(&mut rng);
        let tokens = TokenEndpoint::new(key_from_rng(&mut rng), "ccf-a", 600);
        let cfg = CcfConfig {
            aefs: vec![aef(vec![Psk, Pki], None)],
            policy: AccessPolicy::default(),
            variant: AefPskVariant::Tls12MasterSecret,
            encoding: ValidityEncoding::Remaining,
            mutants: Mutants::NONE,
        };
        let at = AefAt {
            node: AEF,
            api: "api1".into(),
            home: None,
            shared_with: vec![CCF_B],
        };
        let node_cfg = CcfNodeConfig {
            node: CCF_A,
            name: "ccf-a".into(),
            aefs: [("aef1".to_string(), at)].into(),
            ccfs: vec![CCF_A, CCF_B],
            interconnection: InterconnectionKnobs::default(),
            strategy: RecoveryStrategy::ExplicitCause,
            subscribed: BTreeSet::new(),
            variant: AefPskVariant::Tls12MasterSecret,
            tls12_seed: 1,
            full: false,
            mutants: Mutants::NONE,
        };
        let m = Ccf::new(cfg, onboarding, tokens);
        CcfNode::new(
            node_cfg,
            Arc::new(Labels::default()),
            m,
            crate::engine::stream(1, "ccf:a"),
        )
    }

    fn drain(n: &mut CcfNode) -> Vec<Effect<CapifTimer>> {
        std::iter::from_fn(|| n.poll_effect()).collect()
    }

    /// CCF-A answers a CAPIF-6e step from the message alone, learns the invoker's home CCF from
    /// CCF-B's method query, asks CCF-B when the AEF wants that invoker's security information,
    /// and answers the AEF 504 when CCF-B cannot be reached.
    #[test]
    fn ccf_a_learns_the_home_ccf_from_the_query_and_asks_it() {
        let mut n = ccf_a();
        let body = json!({
            "secsimInterconnection": "security method query",
            "carries": ["InvokerId"],
            "reply": {"secsimInterconnection": "AEF security methods", "carries": []},
            "apiInvokerId": "INV1",
        });
        let query = HttpRequest::new("POST", format!("{CAPIF6E_PREFIX}0/steps/0"), "", body.to_string());
        n.peer_seen("ccf-b".into(), None);
        let at = Inbound { conn: 5, stream: 1 };
        n.handle(
            SimTime::ZERO,
            Input::Request {
                at,
                client: CCF_B,
                req: query,
            },
        );
        let fx = drain(&mut n);
        assert!(
            matches!(&fx[..], [Effect::Respond { rsp, .. }] if rsp.status == 200 && rsp.body.contains("AEF security methods")),
            "{fx:?}"
        );
        let get = HttpRequest::new(
            "GET",
            format!("{TRUSTED_PREFIX}INV1?authenticationInfo=true"),
            "",
            String::new(),
        );
        n.peer_seen("aef1".into(), None);
        let from_aef = Inbound { conn: 6, stream: 1 };
        n.handle(
            SimTime::ZERO,
            Input::Request {
                at: from_aef,
                client: AEF,
                req: get,
            },
        );
        let fx = drain(&mut n);
        let [Effect::Request { corr, to, req, .. }] = &fx[..] else {
            panic!("one CAPIF-6e request expected: {fx:?}")
        };
        assert_eq!(*to, CCF_B);
        assert!(
            req.path.starts_with(CAPIF6E_PREFIX) && req.body.contains("\"apiInvokerId\":\"INV1\""),
            "{req:?}"
        );
        let failed = Input::Failed {
            conn: 7,
            corrs: vec![*corr],
            cause: crate::net::conn::ConnFailure::Reset,
        };
        n.handle(SimTime::ZERO, failed);
        let fx = drain(&mut n);
        assert!(
            fx.iter()
                .any(|e| matches!(e, Effect::Respond { at, rsp, .. } if *at == from_aef && rsp.status == 504)),
            "{fx:?}"
        );
    }
}
