//! The API exposing function (TS 33.122 6.5.2; TS 29.222 AEF_Security_API): authenticating
//! invokers over CAPIF-2e and authorizing their invocations.

use super::*;

named_states! {
    /// The AEF's authentication state for one invoker.
    AefState {
        /// No valid security information (no AEFPSK).
        NoKey => "no valid key / security info for the invoker",
        /// Security information requested from the CCF.
        FetchingKey => "GET /trustedInvokers/{id} sent over CAPIF-3 (TS 33.122 6.5.2.1 step 4)",
        /// Security information held (PSK: AEFPSK valid until its timer).
        KeyValid => "key valid, timer running (TS 33.122 6.5.2.1 step 5)",
        /// CAPIF-2e TLS established.
        Authenticated => "CAPIF-2e session established (TS 33.122 6.5.2.1 step 6)",
        /// Session kept after key expiry; new handshakes refused.
        SessionOnly => "key expired, session kept (seed 003 BlockNewHandshakes)",
    }
}

/// An [`AefInput`] as the table sees it.
#[derive(Clone, Copy, Debug, Eq, Ord, PartialEq, PartialOrd)]
pub enum AefEvent {
    /// [`AefInput::CheckAuthentication`].
    CheckAuthentication,
    /// 200 from the CCF with usable security information.
    SecurityInfo,
    /// CCF refusal or unusable answer.
    FetchFailed,
    /// An accepted CAPIF-2e handshake.
    Handshake,
    /// Key timer fired, no session.
    KeyExpired,
    /// Key timer fired, sessions closed (CloseSessions).
    KeyExpiredClose,
    /// Key timer fired, session kept (BlockNewHandshakes).
    KeyExpiredKeep,
    /// [`AefInput::Invoke`].
    Invoke,
    /// [`AefInput::Revoke`].
    Revoke,
}

/// The AEF's transitions (per invoker).
pub const AEF_TRANSITIONS: &[Transition<AefState, AefEvent>] = {
    use AefEvent as E;
    use AefState as S;
    &[
        t(
            S::NoKey,
            E::CheckAuthentication,
            S::FetchingKey,
            "TS 33.122 6.5.2.1 step 4",
        ),
        t(
            S::NoKey,
            E::Handshake,
            S::Authenticated,
            "TS 33.122 6.5.2.3 (OAUTH: server-auth TLS)",
        ),
        t(S::FetchingKey, E::SecurityInfo, S::KeyValid, "TS 33.122 6.5.2.1 step 5"),
        t(S::FetchingKey, E::FetchFailed, S::NoKey, "TS 29.222 5.6.2.3 error"),
        t(
            S::KeyValid,
            E::CheckAuthentication,
            S::KeyValid,
            "TS 33.122 6.5.2.1 (valid key: answer at once)",
        ),
        t(
            S::KeyValid,
            E::Handshake,
            S::Authenticated,
            "TS 33.122 6.5.2.1 step 6 / 6.5.2.2",
        ),
        t(
            S::KeyValid,
            E::KeyExpired,
            S::NoKey,
            "TS 33.122 6.5.2.1 (seed 003) timer",
        ),
        t(S::KeyValid, E::Revoke, S::NoKey, "TS 29.222 revoke-authorization"),
        t(
            S::Authenticated,
            E::CheckAuthentication,
            S::Authenticated,
            "TS 33.122 6.5.2.1 (valid key)",
        ),
        t(
            S::Authenticated,
            E::Handshake,
            S::Authenticated,
            "TS 33.122 6.5.2.1 step 6 (new session)",
        ),
        t(
            S::Authenticated,
            E::Invoke,
            S::Authenticated,
            "TS 23.222 8.16 authorization",
        ),
        t(
            S::Authenticated,
            E::KeyExpiredClose,
            S::NoKey,
            "seed 003: close sessions at expiry",
        ),
        t(
            S::Authenticated,
            E::KeyExpiredKeep,
            S::SessionOnly,
            "seed 003: block new handshakes only",
        ),
        t(S::Authenticated, E::Revoke, S::NoKey, "TS 29.222 revoke-authorization"),
        t(
            S::SessionOnly,
            E::Invoke,
            S::SessionOnly,
            "TS 23.222 8.16 authorization",
        ),
        t(
            S::SessionOnly,
            E::CheckAuthentication,
            S::FetchingKey,
            "TS 33.122 6.5.2.1 step 4",
        ),
        t(S::SessionOnly, E::Revoke, S::NoKey, "TS 29.222 revoke-authorization"),
        t(
            S::SessionOnly,
            E::Handshake,
            S::Authenticated,
            "TS 33.122 6.5.2.3 (OAUTH after the AEFPSK expired; issue 12)",
        ),
    ]
};

/// The credential of a CAPIF-2e handshake.
#[derive(Clone, Debug)]
pub enum Credential {
    /// TLS-PSK: the invoker's AEFPSK (the identity is the invoker ID).
    Psk([u8; 32]),
    /// TLS-PKI: the invoker's certificate.
    Certificate(Box<Certificate>),
    /// Server-authenticated TLS only (OAUTH: the token authenticates each request).
    ServerAuthOnly,
}

/// An input of the [`Aef`].
#[derive(Clone, Debug)]
pub enum AefInput {
    /// `POST /check-authentication` from the invoker.
    CheckAuthentication {
        /// Body.
        req: CheckAuthenticationReq,
    },
    /// The CCF's answer to `GET /trustedInvokers/{id}`.
    SecurityInfoResponse {
        /// Invoker.
        invoker: String,
        /// HTTP status.
        status: u16,
        /// Body.
        body: serde_json::Value,
    },
    /// A CAPIF-2e TLS handshake attempt.
    Handshake {
        /// PSK identity or certificate subject.
        invoker: String,
        /// Credential.
        credential: Credential,
    },
    /// A service API request.
    Invoke {
        /// Invoker authenticated on the session.
        invoker: String,
        /// API.
        api: String,
        /// Bearer token, for OAUTH.
        token: Option<String>,
    },
    /// [`Timer::KeyExpiry`] fired.
    KeyExpired {
        /// Invoker.
        invoker: String,
    },
    /// `POST /revoke-authorization` from the CCF.
    Revoke {
        /// Invoker.
        invoker: String,
    },
}

/// Configuration of an [`Aef`].
#[derive(Clone, Debug)]
pub struct AefConfig {
    /// AEF ID.
    pub aef_id: String,
    /// CA certificates from the CCF (TLS-PKI trust anchors).
    pub ccf_anchors: Vec<Certificate>,
    /// Revoked certificates.
    pub revoked_certs: RevocationList,
    /// Token verifier (OAUTH), if offered.
    pub tokens: Option<TokenVerifier>,
    /// Expiry behaviour (seed 003).
    pub expiry: ExpiryBehaviour,
    /// Deliberate bugs (tests only).
    pub mutants: crate::audit::mutant::Mutants,
}

#[derive(Clone, Debug, Default)]
struct AefRecord {
    state: Option<AefState>,
    info: Option<SecurityInformation>,
    /// The security information fetch in flight was sent before a revocation: its answer
    /// is authorization obtained before the revocation and is discarded.
    stale_fetch: bool,
}

/// The API exposing function (sans-IO).
#[derive(Clone, Debug)]
pub struct Aef {
    pub(super) cfg: AefConfig,
    psk: AefPskCache,
    records: BTreeMap<String, AefRecord>,
    fired: std::collections::BTreeSet<(AefState, AefEvent)>,
    outputs: VecDeque<Output>,
    /// The methods the AEF supports since its last method change (`None`: none so far).
    supported: Option<Vec<SecurityMethod>>,
}

impl Aef {
    /// A fresh AEF.
    pub fn new(cfg: AefConfig) -> Self {
        Aef {
            psk: AefPskCache::new(cfg.expiry).with_mutants(cfg.mutants),
            cfg,
            records: BTreeMap::new(),
            fired: Default::default(),
            outputs: VecDeque::new(),
            supported: None,
        }
    }

    /// State for `invoker`.
    pub fn state(&self, invoker: &str) -> AefState {
        self.records
            .get(invoker)
            .and_then(|r| r.state)
            .unwrap_or(AefState::NoKey)
    }
    /// The AEFPSK cache.
    pub fn psk(&self) -> &AefPskCache {
        &self.psk
    }
    /// The AEF's own method change (TS 33.122 cl. 5.1.1, seed 004): from now on, security
    /// information it holds (or receives) for an invoker with a selected method outside
    /// `methods` is stale: the invoker has to re-negotiate at its CCF, which selects another
    /// method, so a check-authentication does not take it (nor an AEFPSK installed with it)
    /// as the answer but fetches the current information from the CCF (TS 33.122 cl. 6.5.2.1
    /// step 4). Without this (issue 12's siblings), PKI information held from before a PKI ->
    /// PSK change answered check-authentication at once and no AEFPSK was ever fetched (every
    /// TLS-PSK handshake of the re-negotiated invoker failed); an interconnected invoker met
    /// it too when it fetched PKI information from CCF-B just after the change.
    pub fn methods_changed(&mut self, methods: &[SecurityMethod]) {
        self.supported = Some(methods.to_vec());
    }

    /// Whether the security information held for `invoker` is for a method the AEF
    /// supports (`None`: none held).
    fn info_current(&self, invoker: &str) -> Option<bool> {
        let info = self.records.get(invoker).and_then(|r| r.info.as_ref())?;
        Some(match (&self.supported, &info.sel_security_method) {
            (Some(methods), Some(m)) => methods.contains(m),
            _ => true,
        })
    }

    /// Table rows fired so far (bounded by the table).
    pub fn fired(&self) -> &std::collections::BTreeSet<(AefState, AefEvent)> {
        &self.fired
    }
    /// Takes the outputs produced so far.
    pub fn drain_outputs(&mut self) -> Vec<Output> {
        self.outputs.drain(..).collect()
    }

    fn respond(&mut self, path: &str, status: u16, schema: &'static str, body: serde_json::Value) {
        self.outputs.push_back(Output::Send(answer(
            Peer::Invoker,
            "POST",
            path.to_owned(),
            status,
            schema,
            body,
        )));
    }

    fn refuse(&mut self, invoker: &str, path: &str, p: ProblemDetails29122) {
        self.respond(path, p.status.unwrap_or(403), "ProblemDetails", json(&p));
        self.outputs.push_back(Output::Failed {
            invoker: Some(invoker.to_owned()),
            status: p.status,
            problem: Some(p),
        });
    }

    /// Feeds one input.
    pub fn handle<R: RngCore + ?Sized>(&mut self, now: SimTime, _rng: &mut R, input: AefInput) {
        use AefEvent as E;
        let invoker = match &input {
            AefInput::CheckAuthentication { req } => req.api_invoker_id.clone(),
            AefInput::SecurityInfoResponse { invoker, .. }
            | AefInput::Handshake { invoker, .. }
            | AefInput::Invoke { invoker, .. }
            | AefInput::KeyExpired { invoker }
            | AefInput::Revoke { invoker } => invoker.clone(),
        };
        let from = self.state(&invoker);
        const CHECK: &str = "/aef-security/v1/check-authentication";
        // Classify, doing the checks whose outcome picks the event.
        let event = match &input {
            AefInput::CheckAuthentication { .. } => E::CheckAuthentication,
            AefInput::SecurityInfoResponse { status, body, .. } => {
                let entry = (*status == 200)
                    .then(|| serde_json::from_value::<ServiceSecurity>(body.clone()).ok())
                    .flatten()
                    .and_then(|s| s.security_info.into_iter().next());
                let stale = self.records.get(&invoker).is_some_and(|r| r.stale_fetch);
                let usable = !stale
                    && entry.as_ref().is_some_and(|e| {
                        e.sel_security_method != Some(SecurityMethod::Psk)
                            || e.authentication_info
                                .as_deref()
                                .is_some_and(|a| PskGrant::parse(a).is_ok())
                    });
                if from == AefState::FetchingKey {
                    self.records.entry(invoker.clone()).or_default().info = entry.filter(|_| usable);
                }
                if usable { E::SecurityInfo } else { E::FetchFailed }
            }
            AefInput::Handshake { credential, .. } => {
                if lookup(AEF_TRANSITIONS, from, E::Handshake).is_none() {
                    return; // e.g. SessionOnly: refused below the table, nothing to record
                }
                match self.check_handshake(now, &invoker, credential) {
                    Ok(()) => E::Handshake,
                    Err(e) => {
                        self.outputs.push_back(Output::Failed {
                            invoker: Some(invoker),
                            status: None,
                            problem: Some(problem(401, &e.to_string())),
                        });
                        return;
                    }
                }
            }
            AefInput::Invoke { .. } => E::Invoke,
            AefInput::KeyExpired { .. } => match (from, self.cfg.expiry) {
                (AefState::Authenticated, ExpiryBehaviour::CloseSessions) => E::KeyExpiredClose,
                (AefState::Authenticated, ExpiryBehaviour::BlockNewHandshakes) => E::KeyExpiredKeep,
                _ => E::KeyExpired,
            },
            AefInput::Revoke { .. } => E::Revoke,
        };
        if event == E::Revoke && lookup(AEF_TRANSITIONS, from, event).is_none() {
            // NoKey or FetchingKey: no row (the state stays), but the revocation still acts
            // below the table: the invoker's tokens are refused from now on, and the answer to
            // a fetch in flight (what the CCF held before it revoked) is discarded.
            self.revoke(from, &invoker);
            return;
        }
        let Some(to) = lookup(AEF_TRANSITIONS, from, event) else {
            if let AefInput::Invoke { .. } = input {
                self.refuse(&invoker, "/", problem(401, "API_INVOKER_NOT_AUTHENTICATED"));
            }
            return; // not in the table: ignored
        };
        let mut next = to;
        match input {
            AefInput::CheckAuthentication { req } => {
                let reissue = from == AefState::SessionOnly;
                // Information for a method the AEF dropped is stale (`methods_changed`).
                let current = self.info_current(&invoker);
                match self.psk.check_authentication(now, &req) {
                    //= TS 33.122 6.5.2.1 step 5: answer once the AEF holds a valid key
                    CheckOutcome::Ready(rsp) if !reissue && from != AefState::NoKey && current != Some(false) => {
                        self.respond(CHECK, 200, "CheckAuthenticationRsp", json(&rsp));
                    }
                    _ if from != AefState::NoKey && !reissue && current == Some(true) => {
                        // PKI / OAUTH info held without a key
                        let rsp = crate::proto::capif::types::CheckAuthenticationRsp {
                            supported_features: SupportedFeatures::none(),
                        };
                        self.respond(CHECK, 200, "CheckAuthenticationRsp", json(&rsp));
                    }
                    _ => {
                        //= TS 33.122 6.5.2.1 step 4: fetch security information over CAPIF-3
                        let path = format!(
                            "/capif-security/v1/trustedInvokers/{invoker}?authenticationInfo=true&authorizationInfo=true"
                        );
                        self.outputs
                            .push_back(Output::Send(msg(Peer::Ccf, "GET", path, "", serde_json::Value::Null)));
                        next = AefState::FetchingKey;
                    }
                }
            }
            AefInput::SecurityInfoResponse { .. } if event == E::SecurityInfo => {
                let info = self.records.get(&invoker).and_then(|r| r.info.clone());
                if let Some(grant) = info
                    .as_ref()
                    .and_then(|e| e.authentication_info.as_deref())
                    .and_then(|a| PskGrant::parse(a).ok())
                {
                    let k = self.psk.install(now, &invoker, &grant);
                    self.outputs.push_back(Output::SetTimer {
                        timer: Timer::KeyExpiry(invoker.clone()),
                        at: k.expires_at,
                    });
                    self.outputs.push_back(Output::KeyInstalled {
                        invoker: invoker.clone(),
                        expires_at: k.expires_at,
                    });
                }
                let rsp = crate::proto::capif::types::CheckAuthenticationRsp {
                    supported_features: SupportedFeatures::none(),
                };
                self.respond(CHECK, 200, "CheckAuthenticationRsp", json(&rsp));
            }
            AefInput::SecurityInfoResponse { status, .. } => {
                self.records.entry(invoker.clone()).or_default().stale_fetch = false;
                self.refuse(
                    &invoker,
                    CHECK,
                    problem(if status >= 400 { status } else { 403 }, "SECURITY_INFO_UNAVAILABLE"),
                );
            }
            AefInput::Handshake { credential, .. } => {
                let method = match credential {
                    Credential::Psk(_) => SecurityMethod::Psk,
                    Credential::Certificate(_) => SecurityMethod::Pki,
                    Credential::ServerAuthOnly => SecurityMethod::Oauth,
                };
                self.outputs.push_back(Output::Established {
                    invoker: invoker.clone(),
                    method,
                });
            }
            AefInput::Invoke { api, token, .. } => {
                let path = format!("/{api}");
                let inv = Invocation {
                    invoker: &invoker,
                    aef: &self.cfg.aef_id,
                    api: &api,
                };
                //= TS 33.122 6.5.2.1 step 6; TS 23.222 8.16: authorize each invocation
                let r = match (&token, &self.cfg.tokens) {
                    (Some(tok), Some(v)) => match v.verify(secs(now), tok) {
                        Ok(claims) => authorize_with_token(&inv, &claims).map_err(|d| d.problem()),
                        Err(e) => Err(problem(401, "INVALID_TOKEN").detail(e.to_string())),
                    },
                    (Some(_), None) => Err(problem(401, "INVALID_TOKEN")),
                    (None, _) => {
                        let info = self.records.get(&invoker).and_then(|r| r.info.as_ref());
                        authorize_with_info(&inv, info.and_then(|e| e.authorization_info.as_deref()))
                            .map_err(|d| d.problem())
                    }
                };
                match r {
                    Ok(()) => self.respond(&path, 200, "", serde_json::Value::Null),
                    Err(p) => self.refuse(&invoker, &path, p),
                }
            }
            AefInput::KeyExpired { .. } => {
                for closed in self.psk.expire(now) {
                    self.outputs.push_back(Output::SessionClosed { invoker: closed });
                }
            }
            AefInput::Revoke { .. } => {
                self.revoke(from, &invoker);
                self.outputs.push_back(Output::CancelTimer {
                    timer: Timer::KeyExpiry(invoker.clone()),
                });
                if from == AefState::Authenticated || from == AefState::SessionOnly {
                    self.outputs.push_back(Output::SessionClosed {
                        invoker: invoker.clone(),
                    });
                }
                self.psk.remove(&invoker);
            }
        }
        self.fired.insert((from, event));
        self.records.entry(invoker).or_default().state = Some(next);
    }

    /// What revoke-authorization withdraws (TS 29.222 5.6.2.4): the security information and
    /// key (so a TLS-PSK or TLS-PKI session needs information fetched after the revocation,
    /// which the CCF gives only after a re-negotiation), the answer to a fetch sent before it,
    /// and every token of the invoker (a token carries no issue time, so the AEF cannot tell a
    /// token issued after a re-negotiation from one issued before: none is accepted from now
    /// on).
    fn revoke(&mut self, from: AefState, invoker: &str) {
        //= TS 29.222 5.6.2.4: every token of the revoked invoker is refused from now on
        if let Some(v) = &mut self.cfg.tokens {
            v.revoked.client_ids.insert(invoker.to_owned());
        }
        let state = self.records.remove(invoker).and_then(|r| r.state);
        if from == AefState::FetchingKey {
            // The answer may carry what the CCF held before it revoked.
            let r = self.records.entry(invoker.to_owned()).or_default();
            r.state = state;
            r.stale_fetch = true;
        }
    }

    fn check_handshake(
        &mut self,
        now: SimTime,
        invoker: &str,
        credential: &Credential,
    ) -> Result<(), crate::proto::capif::authentication::AuthError> {
        use crate::proto::capif::authentication::AuthError;
        // Without security information only the OAUTH handshake (server auth) is possible.
        if self.state(invoker) == AefState::NoKey && !matches!(credential, Credential::ServerAuthOnly) {
            return Err(AuthError::NoKey(invoker.to_owned()));
        }
        match credential {
            Credential::Psk(key) => self.psk.accept_handshake(now, invoker, key),
            Credential::Certificate(cert) => verify_invoker_certificate(
                secs(now),
                cert,
                &[],
                &self.cfg.ccf_anchors,
                &self.cfg.revoked_certs,
                invoker,
            ),
            Credential::ServerAuthOnly => Ok(()),
        }
    }
}
