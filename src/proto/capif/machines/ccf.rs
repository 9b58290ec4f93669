//! The CAPIF core function (TS 33.122 6.1, 6.3, 6.5; TS 29.222 CAPIF_Security_API): the
//! invoker's onboarding record, method selection and AEFPSK derivation, tokens.

use super::*;

named_states! {
    /// The CCF's record of one API invoker.
    CcfState {
        /// No record.
        Unknown => "not onboarded",
        /// Onboarded, no method negotiated.
        Onboarded => "API invoker ID and certificate issued (TS 33.122 6.1)",
        /// A TrustedInvokers entry exists.
        Trusted => "security method negotiated (TS 33.122 6.3.1)",
        /// Authorization revoked.
        Revoked => "trustedInvokers entry deleted (TS 29.222 5.6)",
    }
}

/// A [`CcfInput`] as the table sees it.
#[derive(Clone, Copy, Debug, Eq, Ord, PartialEq, PartialOrd)]
pub enum CcfEvent {
    /// [`CcfInput::Onboard`].
    Onboard,
    /// [`CcfInput::ObtainSecurityMethod`], `update: false`.
    ObtainSecurityMethod,
    /// [`CcfInput::ObtainSecurityMethod`], `update: true`.
    UpdateSecurityMethod,
    /// [`CcfInput::ObtainSecurityInfo`].
    ObtainSecurityInfo,
    /// [`CcfInput::ObtainToken`].
    ObtainToken,
    /// [`CcfInput::Revoke`].
    Revoke,
}

/// The CCF's transitions (per invoker record).
pub const CCF_TRANSITIONS: &[Transition<CcfState, CcfEvent>] = {
    use CcfEvent as E;
    use CcfState as S;
    &[
        t(S::Unknown, E::Onboard, S::Onboarded, "TS 33.122 6.1; TS 29.222 5.5.2.2"),
        t(
            S::Onboarded,
            E::ObtainSecurityMethod,
            S::Trusted,
            "TS 33.122 6.3.1; TS 29.222 5.6.2.2",
        ),
        t(
            S::Trusted,
            E::ObtainSecurityMethod,
            S::Trusted,
            "TS 29.222 5.6.2.2 (PUT replaces)",
        ),
        t(
            S::Trusted,
            E::UpdateSecurityMethod,
            S::Trusted,
            "TS 29.222 5.6.2.6 update",
        ),
        t(
            S::Trusted,
            E::ObtainSecurityInfo,
            S::Trusted,
            "TS 33.122 6.5.2.1 step 4; TS 29.222 5.6.2.3",
        ),
        t(
            S::Trusted,
            E::ObtainToken,
            S::Trusted,
            "TS 33.122 Annex C; TS 29.222 5.6.2.5",
        ),
        t(S::Trusted, E::Revoke, S::Revoked, "TS 29.222 5.6.2.4 DELETE"),
        // Revocation withdraws the authorization, not the invoker: it may negotiate again, and
        // the AEF accepts it on security information fetched after the revocation (PSK, PKI;
        // never on a token, see `Aef::revoke`).
        t(
            S::Revoked,
            E::ObtainSecurityMethod,
            S::Trusted,
            "secsim: re-negotiation after revocation",
        ),
    ]
};

/// An input of the [`Ccf`]: one request (over CAPIF-1e from the invoker, CAPIF-3 from the AEF).
#[derive(Clone, Debug)]
pub enum CcfInput {
    /// `POST /onboardedInvokers`; `secret_ok` is the onboarding credential check.
    Onboard {
        /// Body.
        req: ApiInvokerEnrolmentDetails,
        /// Onboarding secret accepted.
        secret_ok: bool,
    },
    /// `PUT /trustedInvokers/{id}` or `POST .../update`, over a CAPIF-1e session.
    ObtainSecurityMethod {
        /// Authenticated invoker (CAPIF-1e client certificate).
        invoker: String,
        /// Body.
        body: ServiceSecurity,
        /// `POST .../update`.
        update: bool,
        /// The CAPIF-1e session (needed to derive AEFPSK).
        session: Option<Capif1eMaterial>,
    },
    /// `GET /trustedInvokers/{id}` from an AEF.
    ObtainSecurityInfo {
        /// Invoker.
        invoker: String,
        /// The asking AEF.
        aef_id: String,
    },
    /// `POST /securities/{id}/token`.
    ObtainToken {
        /// Body.
        req: AccessTokenReq,
    },
    /// `DELETE /trustedInvokers/{id}`.
    Revoke {
        /// Invoker.
        invoker: String,
    },
}

/// Configuration of a [`Ccf`].
#[derive(Clone, Debug)]
pub struct CcfConfig {
    /// Published AEFs.
    pub aefs: Vec<AefProfile>,
    /// Access policy (one for all invokers in secsim).
    pub policy: AccessPolicy,
    /// AEFPSK variant.
    pub variant: AefPskVariant,
    /// How the AEF gets the validity.
    pub encoding: ValidityEncoding,
    /// Deliberate bugs (tests only).
    pub mutants: crate::audit::mutant::Mutants,
}

/// Cause of a 403 for a request the invoker's record does not allow (secsim).
pub const CAUSE_INVOKER_STATE: &str = "API_INVOKER_NOT_AUTHORIZED";
/// Cause of a 404 to an AEF asking for an AEFPSK the CCF no longer holds (secsim).
pub const CAUSE_AEFPSK_UNAVAILABLE: &str = "AEFPSK_NOT_AVAILABLE";

/// The CAPIF core function (sans-IO).
#[derive(Clone, Debug)]
pub struct Ccf {
    cfg: CcfConfig,
    onboarding: OnboardingService,
    trusted: TrustedInvokers,
    psk: CcfPskStore,
    tokens: TokenEndpoint,
    records: BTreeMap<String, CcfState>,
    fired: std::collections::BTreeSet<(CcfState, CcfEvent)>,
    outputs: VecDeque<Output>,
}

impl Ccf {
    /// A CCF with its onboarding CA and token endpoint.
    pub fn new(cfg: CcfConfig, onboarding: OnboardingService, tokens: TokenEndpoint) -> Self {
        Ccf {
            cfg,
            onboarding,
            trusted: TrustedInvokers::new(),
            psk: CcfPskStore::default(),
            tokens,
            records: BTreeMap::new(),
            fired: Default::default(),
            outputs: VecDeque::new(),
        }
    }

    /// State of an invoker's record.
    pub fn record(&self, invoker: &str) -> CcfState {
        self.records.get(invoker).copied().unwrap_or(CcfState::Unknown)
    }
    /// The onboarding service (CA certificate for AEFs).
    pub fn onboarding(&self) -> &OnboardingService {
        &self.onboarding
    }
    /// The token key for AEFs.
    pub fn token_key(&self) -> p256::ecdsa::VerifyingKey {
        self.tokens.verifying_key()
    }
    /// The APF reports that `aef_id` now supports `methods` (TS 33.122 5.1.1, seed 004): the
    /// AEF-level list is replaced and interface-level lists are dropped. Returns whether the
    /// AEF is published here.
    pub fn set_aef_methods(&mut self, aef_id: &str, methods: &[SecurityMethod]) -> bool {
        let Some(aef) = self.cfg.aefs.iter_mut().find(|a| a.aef_id == aef_id) else {
            return false;
        };
        aef.security_methods = Some(methods.to_vec());
        if let crate::proto::capif::types::AefLocator::InterfaceDescriptions(ifs) = &mut aef.locator {
            for i in ifs {
                i.security_methods = None;
            }
        }
        true
    }

    /// The CCF restarts (secsim fault, `capif.ccf_restarts`). Lost, as volatile state: the
    /// negotiated security contexts (TrustedInvokers entries) and the AEFPSKs derived for
    /// them; the records of invokers that had negotiated go back to `Onboarded`, so the next
    /// GET, token or update request for them is answered 404 and the invoker negotiates anew.
    /// Kept, as persistent state: onboarding registrations (API invoker IDs, the CA and the
    /// certificates it issued), revocations (`Revoked` records), the published AEF profiles,
    /// the token signing key and its `jti` counter. Tokens are self-contained JWTs, so those
    /// already issued stay valid at the AEFs until they expire; the CCF keeps no other record
    /// of them. Outputs not yet taken are lost.
    pub fn restart(&mut self) {
        self.trusted = TrustedInvokers::new();
        self.psk = CcfPskStore::default();
        for s in self.records.values_mut() {
            if *s == CcfState::Trusted {
                *s = CcfState::Onboarded;
            }
        }
        self.outputs.clear();
    }

    /// The method selected for `invoker` at AEF `aef_id` (its TrustedInvokers entry), if any.
    pub fn selected(&self, invoker: &str, aef_id: &str) -> Option<&SecurityMethod> {
        self.trusted
            .entry_for(invoker, &self.cfg.aefs, aef_id)?
            .sel_security_method
            .as_ref()
    }

    /// The published AEF profiles.
    pub fn aefs(&self) -> &[AefProfile] {
        &self.cfg.aefs
    }

    /// Table rows fired so far (bounded by the table).
    pub fn fired(&self) -> &std::collections::BTreeSet<(CcfState, CcfEvent)> {
        &self.fired
    }
    /// Takes the outputs produced so far.
    pub fn drain_outputs(&mut self) -> Vec<Output> {
        self.outputs.drain(..).collect()
    }

    fn reply<T: Serialize>(
        &mut self,
        to: Peer,
        method: &'static str,
        path: String,
        r: Result<(u16, &'static str, T), ProblemDetails29122>,
    ) {
        let m = match r {
            Ok((status, schema, body)) => answer(to, method, path, status, schema, json(&body)),
            Err(p) => answer(to, method, path, p.status.unwrap_or(500), "ProblemDetails", json(&p)),
        };
        self.outputs.push_back(Output::Send(m));
    }

    /// Feeds one request.
    pub fn handle<R: RngCore + ?Sized>(&mut self, now: SimTime, rng: &mut R, input: CcfInput) {
        use CcfEvent as E;
        let (invoker, event) = match &input {
            CcfInput::Onboard { .. } => (None, E::Onboard),
            CcfInput::ObtainSecurityMethod { invoker, update, .. } => (
                Some(invoker.clone()),
                if *update {
                    E::UpdateSecurityMethod
                } else {
                    E::ObtainSecurityMethod
                },
            ),
            CcfInput::ObtainSecurityInfo { invoker, .. } => (Some(invoker.clone()), E::ObtainSecurityInfo),
            CcfInput::ObtainToken { req } => (Some(req.client_id.clone()), E::ObtainToken),
            CcfInput::Revoke { invoker } => (Some(invoker.clone()), E::Revoke),
        };
        let from = invoker.as_deref().map_or(CcfState::Unknown, |i| self.record(i));
        let Some(to) = lookup(CCF_TRANSITIONS, from, event) else {
            let p = match (from, event) {
                (CcfState::Unknown, _)
                //= TS 29.222 5.6: no trustedInvokers resource for an onboarded invoker (never
                //= negotiated, or lost in a CCF restart): 404, so the invoker negotiates (PUT)
                | (CcfState::Onboarded, E::ObtainSecurityInfo | E::ObtainToken | E::UpdateSecurityMethod) => {
                    problem(404, crate::proto::capif::security_method::CAUSE_INVOKER_NOT_FOUND)
                }
                _ => problem(403, CAUSE_INVOKER_STATE),
            };
            let to = if event == E::ObtainSecurityInfo {
                Peer::Aef
            } else {
                Peer::Invoker
            };
            self.reply::<()>(to, "", String::new(), Err(p));
            return;
        };
        let refused = match input {
            CcfInput::Onboard { req, secret_ok } => {
                let path = "/api-invoker-management/v1/onboardedInvokers".to_owned();
                match self.onboarding.handle_onboard(now, rng, &req, secret_ok) {
                    Ok(res) => {
                        let body = res.response_body(&req);
                        self.records.insert(res.api_invoker_id.clone(), to);
                        self.reply(
                            Peer::Invoker,
                            "POST",
                            path,
                            Ok((201, "APIInvokerEnrolmentDetails", body)),
                        );
                        false
                    }
                    Err(p) => {
                        self.reply::<()>(Peer::Invoker, "POST", path, Err(p));
                        true
                    }
                }
            }
            CcfInput::ObtainSecurityMethod {
                invoker,
                body,
                update,
                session,
            } => {
                let (method, path) = if update {
                    ("POST", format!("/capif-security/v1/trustedInvokers/{invoker}/update"))
                } else {
                    ("PUT", format!("/capif-security/v1/trustedInvokers/{invoker}"))
                };
                let r = self.trusted.handle_put(
                    &invoker,
                    &body,
                    &self.cfg.aefs,
                    &self.cfg.policy,
                    update && from == CcfState::Trusted,
                );
                match r {
                    Ok((status, rsp)) => {
                        self.install_keys(now, &invoker, &rsp, session.as_ref());
                        self.reply(Peer::Invoker, method, path, Ok((status, "ServiceSecurity", rsp)));
                        false
                    }
                    Err(p) => {
                        self.reply::<()>(Peer::Invoker, method, path, Err(p));
                        true
                    }
                }
            }
            CcfInput::ObtainSecurityInfo { invoker, aef_id } => {
                let path = format!(
                    "/capif-security/v1/trustedInvokers/{invoker}?authenticationInfo=true&authorizationInfo=true"
                );
                let r = self.security_info(now, &invoker, &aef_id);
                let failed = r.is_err();
                self.reply(Peer::Aef, "GET", path, r.map(|b| (200, "ServiceSecurity", b)));
                failed
            }
            CcfInput::ObtainToken { req } => {
                let path = format!("/capif-security/v1/securities/{}/token", req.client_id);
                let mut allowed = Scope::new();
                for (aef, apis) in &self.cfg.policy.apis {
                    allowed.allow(aef, apis.iter().cloned());
                }
                let client_ok = from == CcfState::Trusted;
                //= TS 33.122 Annex C: the CCF issues the token over CAPIF-1e
                let m = match self.tokens.handle_token_request(secs(now), &req, client_ok, &allowed) {
                    Ok(rsp) => answer(Peer::Invoker, "POST", path, 200, "AccessTokenRsp", json(&rsp)),
                    Err(e) => {
                        let status = if e.error == crate::proto::capif::types::AccessTokenError::InvalidClient {
                            401
                        } else {
                            400
                        };
                        answer(Peer::Invoker, "POST", path, status, "AccessTokenErr", json(&e))
                    }
                };
                let failed = m.status != Some(200);
                self.outputs.push_back(Output::Send(m));
                failed
            }
            CcfInput::Revoke { invoker } => {
                self.trusted.delete(&invoker);
                let path = format!("/capif-security/v1/trustedInvokers/{invoker}");
                self.reply(Peer::Invoker, "DELETE", path, Ok((204, "", serde_json::Value::Null)));
                false
            }
        };
        if refused {
            return; // refused: the state stays
        }
        self.fired.insert((from, event));
        if let Some(i) = invoker {
            self.records.insert(i, to);
        }
    }

    fn install_keys(&mut self, now: SimTime, invoker: &str, rsp: &ServiceSecurity, session: Option<&Capif1eMaterial>) {
        let Some(session) = session else { return };
        for e in rsp
            .security_info
            .iter()
            .filter(|e| e.sel_security_method == Some(SecurityMethod::Psk))
        {
            let Some((aef, iface)) = crate::proto::capif::security_method::resolve_target(&e.target, &self.cfg.aefs)
            else {
                continue;
            };
            let iface = iface.or(match &aef.locator {
                crate::proto::capif::types::AefLocator::InterfaceDescriptions(v) => v.first(),
                crate::proto::capif::types::AefLocator::DomainName(_) => None,
            });
            let Some(iface) = iface else { continue };
            let wrong;
            let iface = if self.cfg.mutants.on(crate::audit::mutant::Mutant::Capif(
                crate::audit::capif::CapifMutant::AefpskWrongLabel,
            )) {
                // The bug: P0 from another port than the invoker's.
                wrong = crate::proto::capif::types::InterfaceDescription {
                    port: Some(iface.port.unwrap_or(443) + 1),
                    ..iface.clone()
                };
                &wrong
            } else {
                iface
            };
            let validity = SimDuration::from_secs(psk_validity_s(e).unwrap_or(0));
            //= TS 33.122 6.5.2.1 step 2: the CCF derives AEFPSK and starts its validity timer
            if let Ok(k) = derive_entry(now, self.cfg.variant, session.session(), iface, validity) {
                self.psk.install(invoker, &aef.aef_id, k);
            }
        }
    }

    fn security_info(&self, now: SimTime, invoker: &str, aef_id: &str) -> Result<ServiceSecurity, ProblemDetails29122> {
        let all = self.trusted.get(invoker)?;
        let mut entry = self
            .trusted
            .entry_for(invoker, &self.cfg.aefs, aef_id)
            .cloned()
            .ok_or_else(|| problem(404, crate::proto::capif::security_method::CAUSE_AEF_NOT_FOUND))?;
        if entry.sel_security_method == Some(SecurityMethod::Psk) {
            //= TS 33.122 6.5.2.1 step 4: AEFPSK and its remaining validity to the AEF over CAPIF-3
            let grant = self
                .psk
                .grant(now, invoker, aef_id, self.cfg.encoding)
                .ok_or_else(|| problem(404, CAUSE_AEFPSK_UNAVAILABLE))?;
            entry.authentication_info = Some(grant.to_authentication_info());
        }
        Ok(ServiceSecurity {
            security_info: vec![entry],
            ..all.clone()
        })
    }
}
