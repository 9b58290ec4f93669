//! The API invoker (TS 33.122 6.1, 6.3.1; TS 29.222 5.5, 5.6): onboarding, method negotiation,
//! authentication to the AEF and invocation.

use super::*;
use crate::proto::common::ApiBody;
use crate::proto::payload::{self, MonitoringEventSubscription};

named_states! {
    /// API invoker state towards one CCF and one AEF.
    InvokerState {
        /// Not onboarded.
        Unonboarded => "no API invoker ID (TS 33.122 6.1)",
        /// Onboarding request sent.
        Onboarding => "POST /onboardedInvokers sent (TS 29.222 5.5)",
        /// API invoker ID and certificate held.
        Onboarded => "onboarded, no security method",
        /// Security Method Request sent.
        Negotiating => "PUT|POST /trustedInvokers/{id}[/update] sent (TS 33.122 6.3.1)",
        /// Method chosen by the CCF (see `Invoker::method`).
        MethodSelected => "security method selected (TS 33.122 6.3.1 response)",
        /// check-authentication or token request sent, or CAPIF-2e TLS running.
        Authenticating => "authentication initiation / token / TLS on CAPIF-2e (TS 33.122 6.5.2)",
        /// CAPIF-2e authenticated.
        Authenticated => "CAPIF-2e TLS established",
        /// Service API request outstanding.
        Invoking => "service API invocation outstanding",
    }
}

/// An [`InvokerInput`] as the table sees it.
#[derive(Clone, Copy, Debug, Eq, Ord, PartialEq, PartialOrd)]
pub enum InvokerEvent {
    /// [`InvokerInput::Start`].
    Start,
    /// 201 to onboarding.
    OnboardAccepted,
    /// 201/200 to the Security Method Request with a method for the AEF.
    MethodChosen,
    /// [`InvokerInput::Authenticate`].
    Authenticate,
    /// 200 check-authentication or AccessTokenRsp: run TLS.
    AuthReady,
    /// [`InvokerInput::TlsEstablished`].
    TlsEstablished,
    /// [`InvokerInput::Invoke`].
    Invoke,
    /// Any answer to the invocation.
    InvokeAnswered,
    /// Refusal of the outstanding request (4xx/5xx), or [`InvokerInput::TlsFailed`].
    Rejected,
    /// [`InvokerInput::Timeout`].
    Timeout,
    /// [`InvokerInput::KeyExpired`].
    KeyExpired,
    /// [`InvokerInput::Renegotiate`].
    Renegotiate,
    /// [`InvokerInput::SessionClosed`].
    SessionClosed,
}

/// The invoker's transitions.
pub const INVOKER_TRANSITIONS: &[Transition<InvokerState, InvokerEvent>] = {
    use InvokerEvent as E;
    use InvokerState as S;
    &[
        t(
            S::Unonboarded,
            E::Start,
            S::Onboarding,
            "TS 33.122 6.1; TS 29.222 5.5.2.2",
        ),
        t(
            S::Onboarding,
            E::OnboardAccepted,
            S::Onboarded,
            "TS 33.122 6.1 (ID + certificate)",
        ),
        t(S::Onboarding, E::Rejected, S::Unonboarded, "TS 29.222 5.5.2.2 error"),
        t(S::Onboarding, E::Timeout, S::Unonboarded, "secsim: no answer"),
        t(
            S::Onboarded,
            E::Start,
            S::Negotiating,
            "TS 33.122 6.3.1 security method request",
        ),
        t(
            S::Negotiating,
            E::MethodChosen,
            S::MethodSelected,
            "TS 33.122 6.3.1 response",
        ),
        t(S::Negotiating, E::Rejected, S::Onboarded, "TS 29.222 5.6 error"),
        t(S::Negotiating, E::Timeout, S::Onboarded, "secsim: no answer"),
        t(
            S::MethodSelected,
            E::Authenticate,
            S::Authenticating,
            "TS 33.122 6.5.2.1 step 3 / Annex C",
        ),
        t(
            S::MethodSelected,
            E::KeyExpired,
            S::Onboarded,
            "TS 33.122 6.5.2.1 (seed 003) new key needed",
        ),
        t(
            S::MethodSelected,
            E::Renegotiate,
            S::Negotiating,
            "TS 29.222 trustedInvokers update",
        ),
        t(
            S::Authenticating,
            E::AuthReady,
            S::Authenticating,
            "TS 33.122 6.5.2.1 step 5 / Annex C token",
        ),
        t(
            S::Authenticating,
            E::TlsEstablished,
            S::Authenticated,
            "TS 33.122 6.5.2.1 step 6",
        ),
        t(
            S::Authenticating,
            E::Rejected,
            S::MethodSelected,
            "TS 29.222 AEF_Security_API error",
        ),
        t(S::Authenticating, E::Timeout, S::MethodSelected, "secsim: no answer"),
        t(
            S::Authenticating,
            E::KeyExpired,
            S::Onboarded,
            "TS 33.122 6.5.2.1 (seed 003)",
        ),
        t(
            S::Authenticating,
            E::Renegotiate,
            S::Negotiating,
            "secsim: method change (seed 004)",
        ),
        t(
            S::Authenticated,
            E::Invoke,
            S::Invoking,
            "TS 33.122 6.5.2.1 step 6 invocation",
        ),
        t(
            S::Authenticated,
            E::KeyExpired,
            S::Onboarded,
            "TS 33.122 6.5.2.1 (seed 003)",
        ),
        t(
            S::Authenticated,
            E::Renegotiate,
            S::Negotiating,
            "secsim: method change (seed 004)",
        ),
        t(
            S::Invoking,
            E::InvokeAnswered,
            S::Authenticated,
            "TS 23.222 8.16 authorization result",
        ),
        t(S::Invoking, E::Timeout, S::Authenticated, "secsim: no answer"),
        t(S::Invoking, E::KeyExpired, S::Onboarded, "TS 33.122 6.5.2.1 (seed 003)"),
        t(
            S::Invoking,
            E::Renegotiate,
            S::Negotiating,
            "secsim: method change (seed 004)",
        ),
        t(
            S::Authenticated,
            E::Rejected,
            S::MethodSelected,
            "RFC 8446 4.4.2: client certificate refused after Finished",
        ),
        t(
            S::Invoking,
            E::Rejected,
            S::MethodSelected,
            "RFC 8446 6.2: alert under the invocation",
        ),
        t(
            S::Authenticated,
            E::SessionClosed,
            S::MethodSelected,
            "secsim: CAPIF-2e session ended; the next one authenticates again",
        ),
        t(
            S::Invoking,
            E::SessionClosed,
            S::MethodSelected,
            "secsim: CAPIF-2e session closed under the invocation",
        ),
    ]
};

/// An input of the [`Invoker`].
#[derive(Clone, Debug)]
pub enum InvokerInput {
    /// Onboard (in `Unonboarded`) or send the Security Method Request (in `Onboarded`).
    Start,
    /// The answer to the outstanding request.
    Response {
        /// HTTP status.
        status: u16,
        /// JSON body.
        body: serde_json::Value,
    },
    /// Begin CAPIF-2e authentication with the selected method.
    Authenticate,
    /// CAPIF-2e TLS came up.
    TlsEstablished,
    /// CAPIF-2e TLS failed (e.g. unknown PSK identity).
    TlsFailed,
    /// Invoke an API of the AEF.
    Invoke {
        /// API name.
        api: String,
    },
    /// [`Timer::Response`] fired.
    Timeout,
    /// [`Timer::KeyExpiry`] fired.
    KeyExpired,
    /// The CAPIF-2e session ended (closed by either side, idle, or key expiry at the AEF).
    SessionClosed,
    /// Re-run negotiation (`POST /trustedInvokers/{id}/update`), optionally over a new CAPIF-1e
    /// session (a new AEFPSK).
    Renegotiate {
        /// New CAPIF-1e session material.
        session: Option<Capif1eMaterial>,
    },
}

/// Configuration of an [`Invoker`].
#[derive(Clone, Debug)]
pub struct InvokerConfig {
    /// The enrolment request (public key, onboarding secret).
    pub enrolment: ApiInvokerEnrolmentDetails,
    /// The AEF and its interface the invoker wants.
    pub target: SecurityTarget,
    /// The interface (P0 of AEFPSK).
    pub interface: crate::proto::capif::types::InterfaceDescription,
    /// Method preferences.
    pub prefs: Vec<SecurityMethod>,
    /// AEFPSK derivation variant.
    pub variant: AefPskVariant,
    /// CAPIF-1e session material.
    pub capif1e: Capif1eMaterial,
    /// Answer timeout.
    pub response_timeout: SimDuration,
}

#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum Pending {
    Onboard,
    Negotiate,
    CheckAuth,
    Token,
    Invoke,
}

/// The API invoker (sans-IO).
#[derive(Clone, Debug)]
pub struct Invoker {
    cfg: InvokerConfig,
    state: InvokerState,
    id: Option<String>,
    method: Option<SecurityMethod>,
    selected: Option<SecurityInformation>,
    key: Option<AefPskEntry>,
    token: Option<AccessTokenRsp>,
    pending: Option<Pending>,
    fired: std::collections::BTreeSet<(InvokerState, InvokerEvent)>,
    outputs: VecDeque<Output>,
}

impl Invoker {
    /// A fresh invoker.
    pub fn new(cfg: InvokerConfig) -> Self {
        Invoker {
            cfg,
            state: InvokerState::Unonboarded,
            id: None,
            method: None,
            selected: None,
            key: None,
            token: None,
            pending: None,
            fired: Default::default(),
            outputs: VecDeque::new(),
        }
    }

    /// Current state.
    pub fn state(&self) -> InvokerState {
        self.state
    }
    /// API invoker ID, once onboarded.
    pub fn api_invoker_id(&self) -> Option<&str> {
        self.id.as_deref()
    }
    /// The selected method.
    pub fn method(&self) -> Option<&SecurityMethod> {
        self.method.as_ref()
    }
    /// The CCF's answer entry for the AEF (selected method, authorization info).
    pub fn security_info(&self) -> Option<&SecurityInformation> {
        self.selected.as_ref()
    }
    /// The AEFPSK, for PSK.
    pub fn aefpsk(&self) -> Option<&AefPskEntry> {
        self.key.as_ref()
    }
    /// The access token, for OAUTH.
    pub fn token(&self) -> Option<&AccessTokenRsp> {
        self.token.as_ref()
    }
    /// The method preferences it sends.
    pub fn prefs(&self) -> &[SecurityMethod] {
        &self.cfg.prefs
    }

    /// Table rows fired so far (bounded by the table).
    pub fn fired(&self) -> &std::collections::BTreeSet<(InvokerState, InvokerEvent)> {
        &self.fired
    }
    /// Takes the outputs produced so far.
    pub fn drain_outputs(&mut self) -> Vec<Output> {
        self.outputs.drain(..).collect()
    }

    /// Sets the CAPIF-1e session the next AEFPSK is derived from: the caller (the world)
    /// passes the session of the connection the Security Method Response arrives on, so
    /// invoker and CCF derive from the same TLS session; a new CAPIF-1e connection after key
    /// expiry gives a new AEFPSK (seed 003).
    pub fn set_capif1e(&mut self, session: Capif1eMaterial) {
        self.cfg.capif1e = session;
    }

    fn send(&mut self, now: SimTime, pending: Pending, msg: Message) {
        self.pending = Some(pending);
        self.outputs.push_back(Output::Send(msg));
        self.outputs.push_back(Output::SetTimer {
            timer: Timer::Response,
            at: now + self.cfg.response_timeout,
        });
    }

    fn classify(&self, input: &InvokerInput) -> Option<InvokerEvent> {
        use InvokerEvent as E;
        Some(match input {
            InvokerInput::Start => E::Start,
            InvokerInput::Authenticate => E::Authenticate,
            InvokerInput::TlsEstablished => E::TlsEstablished,
            InvokerInput::TlsFailed => E::Rejected,
            InvokerInput::Invoke { .. } => E::Invoke,
            InvokerInput::Timeout => E::Timeout,
            InvokerInput::KeyExpired => E::KeyExpired,
            InvokerInput::Renegotiate { .. } => E::Renegotiate,
            InvokerInput::SessionClosed => E::SessionClosed,
            InvokerInput::Response { status, .. } => match (self.pending?, status) {
                (Pending::Invoke, _) => E::InvokeAnswered,
                (_, 400..) => E::Rejected,
                (Pending::Onboard, _) => E::OnboardAccepted,
                (Pending::Negotiate, _) => E::MethodChosen,
                (Pending::CheckAuth | Pending::Token, _) => E::AuthReady,
            },
        })
    }

    /// Feeds one input.
    pub fn handle<R: RngCore + ?Sized>(&mut self, now: SimTime, _rng: &mut R, input: InvokerInput) {
        let Some(event) = self.classify(&input) else {
            return;
        };
        let Some(to) = lookup(INVOKER_TRANSITIONS, self.state, event) else {
            return; // not in the table: ignored
        };
        use InvokerEvent as E;
        let was = self.pending;
        if matches!(
            event,
            E::OnboardAccepted
                | E::MethodChosen
                | E::AuthReady
                | E::InvokeAnswered
                | E::Rejected
                | E::Timeout
                | E::SessionClosed
        ) && self.pending.take().is_some()
        {
            self.outputs.push_back(Output::CancelTimer { timer: Timer::Response });
        }
        let mut next = to;
        match (event, input) {
            (E::Start, _) if self.state == InvokerState::Unonboarded => {
                //= TS 29.222 5.5.2.2: POST /onboardedInvokers
                let body = json(&self.cfg.enrolment);
                let path = "/api-invoker-management/v1/onboardedInvokers".to_owned();
                let m = msg(Peer::Ccf, "POST", path, "APIInvokerEnrolmentDetails", body);
                self.send(now, Pending::Onboard, m);
            }
            (E::OnboardAccepted, InvokerInput::Response { body, .. }) => {
                let id = serde_json::from_value::<ApiInvokerEnrolmentDetails>(body)
                    .ok()
                    .and_then(|d| d.api_invoker_id);
                match id {
                    Some(id) => self.id = Some(id),
                    None => {
                        next = InvokerState::Unonboarded;
                        self.fail(None, Some(problem(400, "INVALID_ONBOARDING_RESPONSE")));
                    }
                }
            }
            (E::Start, _) => self.negotiate(now, false),
            (E::Renegotiate, InvokerInput::Renegotiate { session }) => {
                if let Some(s) = session {
                    self.cfg.capif1e = s;
                }
                self.key = None;
                self.token = None;
                self.outputs.push_back(Output::CancelTimer {
                    timer: Timer::KeyExpiry(self.id.clone().unwrap_or_default()),
                });
                //= TS 29.222 5.6: POST /trustedInvokers/{id}/update (method change, seed 004)
                self.negotiate(now, true);
            }
            (E::MethodChosen, InvokerInput::Response { body, .. }) => next = self.on_method(now, body),
            (E::Authenticate, _) => self.authenticate(now),
            (E::AuthReady, InvokerInput::Response { body, .. }) => {
                if was == Some(Pending::Token) {
                    self.token = serde_json::from_value(body).ok();
                }
                let method = self.method.clone().unwrap_or(SecurityMethod::Pki);
                let psk = match (&method, &self.key) {
                    (SecurityMethod::Psk, Some(k)) => Some((self.id.clone().unwrap_or_default(), k.key)),
                    _ => None,
                };
                //= TS 33.122 6.5.2.1 step 6: TLS on CAPIF-2e, PSK identity = apiInvokerId
                self.outputs.push_back(Output::StartTls { method, psk });
            }
            (E::TlsEstablished, _) => {
                self.outputs.push_back(Output::Established {
                    invoker: self.id.clone().unwrap_or_default(),
                    method: self.method.clone().unwrap_or(SecurityMethod::Pki),
                });
            }
            (E::Invoke, InvokerInput::Invoke { api }) => {
                //= TS 29.122 4.4.2: the invoker, an SCS/AS, subscribes to a monitoring event of
                //= its UE; its SCS/AS ID is its API invoker ID
                let scs_as_id = self.id.clone().unwrap_or_default();
                let notify = &self.cfg.enrolment.notification_destination;
                let host = notify
                    .split("://")
                    .nth(1)
                    .and_then(|r| r.split('/').next())
                    .unwrap_or("invoker.example");
                let sub = payload::monitoring_event_subscription(format!("ue1@{host}"), notify.clone());
                let body = serde_json::to_value(&sub).unwrap_or_default();
                let path = payload::subscriptions_path(&api, &scs_as_id);
                //= TS 33.122 Annex C: the token travels as `Authorization: Bearer`
                let mut m = msg(Peer::Aef, "POST", path, MonitoringEventSubscription::SCHEMA, body);
                m.authorization = self.token.as_ref().map(|t| format!("Bearer {}", t.access_token));
                self.send(now, Pending::Invoke, m);
            }
            (E::InvokeAnswered | E::Rejected, InvokerInput::Response { status, body }) if status >= 400 => {
                self.fail(Some(status), serde_json::from_value(body).ok());
            }
            (E::Rejected | E::Timeout, _) => self.fail(None, None),
            (E::SessionClosed, _) if was == Some(Pending::Invoke) => self.fail(None, None),
            (E::KeyExpired, _) => {
                //= TS 33.122 6.5.2.1 (seed 003): the key expired; steps 1-2 must run again
                self.key = None;
                self.method = None;
            }
            _ => {}
        }
        self.fired.insert((self.state, event));
        self.state = next;
    }

    fn fail(&mut self, status: Option<u16>, problem: Option<ProblemDetails29122>) {
        self.outputs.push_back(Output::Failed {
            invoker: self.id.clone(),
            status,
            problem,
        });
    }

    fn negotiate(&mut self, now: SimTime, update: bool) {
        let id = self.id.clone().unwrap_or_default();
        //= TS 33.122 6.3.1: Security Method Request with the invoker's preferences per AEF
        let body = security_method_request(
            &[(self.cfg.target.clone(), self.cfg.prefs.clone())],
            &self.cfg.enrolment.notification_destination,
        );
        let (method, path) = if update {
            ("POST", format!("/capif-security/v1/trustedInvokers/{id}/update"))
        } else {
            ("PUT", format!("/capif-security/v1/trustedInvokers/{id}"))
        };
        self.send(
            now,
            Pending::Negotiate,
            msg(Peer::Ccf, method, path, "ServiceSecurity", json(&body)),
        );
    }

    fn on_method(&mut self, now: SimTime, body: serde_json::Value) -> InvokerState {
        let entry = serde_json::from_value::<ServiceSecurity>(body)
            .ok()
            .and_then(|s| s.security_info.into_iter().find(|e| e.sel_security_method.is_some()));
        let Some(entry) = entry else {
            self.fail(None, Some(problem(400, "INVALID_SECURITY_METHOD_RESPONSE")));
            return InvokerState::Onboarded;
        };
        let method = entry.sel_security_method.clone();
        if method == Some(SecurityMethod::Psk) {
            let validity = SimDuration::from_secs(psk_validity_s(&entry).unwrap_or(0));
            //= TS 33.122 6.5.2.1 step 2: derive AEFPSK and start its validity timer
            match derive_entry(
                now,
                self.cfg.variant,
                self.cfg.capif1e.session(),
                &self.cfg.interface,
                validity,
            ) {
                Ok(k) => {
                    let invoker = self.id.clone().unwrap_or_default();
                    self.outputs.push_back(Output::SetTimer {
                        timer: Timer::KeyExpiry(invoker.clone()),
                        at: k.expires_at,
                    });
                    self.outputs.push_back(Output::KeyInstalled {
                        invoker,
                        expires_at: k.expires_at,
                    });
                    self.key = Some(k);
                }
                Err(e) => {
                    self.fail(None, Some(problem(500, &e.to_string())));
                    return InvokerState::Onboarded;
                }
            }
        }
        self.method = method;
        self.selected = Some(entry);
        InvokerState::MethodSelected
    }

    fn authenticate(&mut self, now: SimTime) {
        let id = self.id.clone().unwrap_or_default();
        if self.method == Some(SecurityMethod::Oauth) {
            //= TS 33.122 Annex C: client credentials grant over CAPIF-1e
            let req = AccessTokenReq::client_credentials(id.clone(), None);
            let body = serde_json::Value::String(req.to_form());
            let path = format!("/capif-security/v1/securities/{id}/token");
            self.send(
                now,
                Pending::Token,
                msg(Peer::Ccf, "POST", path, "AccessTokenReq", body),
            );
        } else {
            //= TS 33.122 6.5.2.1 step 3: Authentication Initiation Request with the API invoker ID
            let req = CheckAuthenticationReq {
                api_invoker_id: id,
                supported_features: SupportedFeatures::none(),
            };
            let path = "/aef-security/v1/check-authentication".to_owned();
            self.send(
                now,
                Pending::CheckAuth,
                msg(Peer::Aef, "POST", path, "CheckAuthenticationReq", json(&req)),
            );
        }
    }
}
