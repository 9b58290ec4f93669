//! The CAPIF invoker, CCF and AEF as sans-IO state machines (TS 33.122 6.1, 6.3.1, 6.5.2;
//! TS 29.222 5.5, 5.6, AEF_Security_API).
//!
//! Each machine is fed with `handle(now, rng, input)` and its effects are taken with
//! `drain_outputs()`, in the order they were produced: [`Output::Send`] messages (requests
//! with `status: None`, answers with the HTTP status), [`Output::SetTimer`] /
//! [`Output::CancelTimer`], then events (`Established`, `KeyInstalled`, `Failed`, ...).
//!
//! ```text
//!  Invoker                               CCF                                  AEF
//!  Unonboarded --Start--> Onboarding
//!     POST /onboardedInvokers ---------->  Unknown -> Onboarded
//!  Onboarded <--------------- 201 ------
//!  --Negotiate--> Negotiating
//!     PUT /trustedInvokers/{id} -------->  Onboarded -> Trusted (derive AEFPSK)
//!  MethodSelected <---------- 201 ------
//!  --Authenticate--> Authenticating
//!     PSK/PKI: POST /check-authentication ------------------------------>  NoKey -> FetchingKey
//!                                           GET /trustedInvokers/{id} <----
//!                                           ----- 200 ServiceSecurity --->  FetchingKey -> KeyValid
//!              <--------------------------------------------- 200 ------
//!     OAUTH:   POST /securities/{id}/token -> 200 AccessTokenRsp
//!  StartTls; --TlsEstablished--> Authenticated  ... TLS on CAPIF-2e ....>  KeyValid -> Authenticated
//!  --Invoke--> Invoking  ---- request --------------------------------->  authorize
//!  Authenticated <------------------------------------------ 200|403 ---
//! ```
//!
//! Every machine declares its transitions once ([`INVOKER_TRANSITIONS`],
//! [`CCF_TRANSITIONS`], [`AEF_TRANSITIONS`]), looks them up in `handle`, and snapshot-tests
//! the rendered table (`tests/snapshots/capif_{invoker,ccf,aef}.txt`; `UPDATE_SNAPSHOTS=1`
//! rewrites). Pairs absent from a table are ignored. CCF and AEF requests refused for a
//! reason other than the state (e.g. no common method) are answered with their
//! ProblemDetails and leave the state as it is; those are not table rows.
//!
//! Decision: the invoker's `MethodSelected` state is a unit variant; the chosen method is
//! [`Invoker::method`] (the table stays `Copy`).

// ProblemDetails is the answer body itself: boxing it would only move the allocation.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, VecDeque};
use std::fmt;

use rand::RngCore;
use serde::Serialize;

use crate::crypto::aefpsk::{AefPskEntry, AefPskVariant, Capif1eSession};
use crate::crypto::jwt::Scope;
use crate::crypto::pki::{Certificate, RevocationList};
use crate::crypto::tls12::Tls12Session;
use crate::crypto::tls13::Tls13Secrets;
use crate::engine::time::{SimDuration, SimTime};
use crate::proto::capif::authentication::{
    AefPskCache, CcfPskStore, CheckOutcome, ExpiryBehaviour, PskGrant, TokenEndpoint, TokenVerifier, ValidityEncoding,
    derive_entry, verify_invoker_certificate,
};
use crate::proto::capif::authorization::{Invocation, authorize_with_info, authorize_with_token};
use crate::proto::capif::onboarding::{OnboardingService, problem};
use crate::proto::capif::security_method::{AccessPolicy, TrustedInvokers, psk_validity_s, security_method_request};
use crate::proto::capif::types::{
    AccessTokenReq, AccessTokenRsp, AefProfile, ApiInvokerEnrolmentDetails, CheckAuthenticationReq,
    SecurityInformation, SecurityMethod, SecurityTarget, ServiceSecurity,
};
use crate::proto::common::{ProblemDetails29122, SupportedFeatures};
pub use crate::proto::n32::sepp::{Transition, render_table};

// ---------------------------------------------------------------------------------------------
// Shared effects
// ---------------------------------------------------------------------------------------------

/// A CAPIF actor.
#[derive(Clone, Copy, Debug, Eq, Ord, PartialEq, PartialOrd)]
pub enum Peer {
    /// The API invoker.
    Invoker,
    /// The CAPIF core function.
    Ccf,
    /// The API exposing function.
    Aef,
}

/// One HTTP message: a request (`status: None`) or an answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    /// Destination.
    pub to: Peer,
    /// HTTP method of the request (of the answered request for an answer).
    pub method: &'static str,
    /// Resource path.
    pub path: String,
    /// HTTP status of an answer.
    pub status: Option<u16>,
    /// OpenAPI schema name of the body (`""` for none).
    pub schema: &'static str,
    /// JSON body (`Null` for none).
    pub body: serde_json::Value,
}

fn json<T: Serialize>(body: &T) -> serde_json::Value {
    // Invariant: every CAPIF body type serializes (plain structs and strings).
    serde_json::to_value(body).expect("capif bodies serialize")
}

/// Timers the machines ask for.
#[derive(Clone, Debug, Eq, Ord, PartialEq, PartialOrd)]
pub enum Timer {
    /// Waiting for an answer → `Timeout`.
    Response,
    /// AEFPSK validity of an invoker → `KeyExpired`.
    KeyExpiry(String),
}

/// An effect of a machine.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// Send a message.
    Send(Message),
    /// Start or restart a timer.
    SetTimer {
        /// Which.
        timer: Timer,
        /// When it fires.
        at: SimTime,
    },
    /// Stop a timer.
    CancelTimer {
        /// Which.
        timer: Timer,
    },
    /// Invoker: run TLS on CAPIF-2e (PSK: identity and key; PKI: certificate; OAUTH: server auth).
    StartTls {
        /// Method.
        method: SecurityMethod,
        /// PSK identity (= apiInvokerId) and AEFPSK, for PSK.
        psk: Option<(String, [u8; 32])>,
    },
    /// CAPIF-2e is authenticated with `method`.
    Established {
        /// Invoker concerned (AEF) or self (invoker).
        invoker: String,
        /// Method.
        method: SecurityMethod,
    },
    /// An AEFPSK was installed with its validity.
    KeyInstalled {
        /// Invoker.
        invoker: String,
        /// Expiry in the holder's clock.
        expires_at: SimTime,
    },
    /// An AEF closed the invoker's CAPIF-2e sessions (key expiry with CloseSessions, revoke).
    SessionClosed {
        /// Invoker.
        invoker: String,
    },
    /// A procedure failed.
    Failed {
        /// Invoker concerned.
        invoker: Option<String>,
        /// HTTP status (`None`: timeout or local refusal).
        status: Option<u16>,
        /// Details.
        problem: Option<ProblemDetails29122>,
    },
}

/// The CAPIF-1e TLS session material an AEFPSK is derived from (owned copy).
#[derive(Clone, Debug)]
pub enum Capif1eMaterial {
    /// TLS 1.2.
    Tls12(Tls12Session),
    /// TLS 1.3.
    Tls13(Box<Tls13Secrets>),
}

impl Capif1eMaterial {
    fn session(&self) -> Capif1eSession<'_> {
        match self {
            Capif1eMaterial::Tls12(s) => Capif1eSession::Tls12(s),
            Capif1eMaterial::Tls13(s) => Capif1eSession::Tls13(s),
        }
    }
}

fn lookup<S: Copy + Eq, E: Copy + Eq>(table: &[Transition<S, E>], from: S, event: E) -> Option<S> {
    table.iter().find(|t| t.from == from && t.event == event).map(|t| t.to)
}

const fn t<S, E>(from: S, event: E, to: S, clause: &'static str) -> Transition<S, E> {
    Transition {
        from,
        event,
        to,
        clause,
    }
}

fn secs(t: SimTime) -> u64 {
    t.as_nanos() / 1_000_000_000
}

macro_rules! named_states {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident => $note:literal,)+ }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, Eq, Ord, PartialEq, PartialOrd)]
        pub enum $name { $($(#[$vm])* $v,)+ }
        impl $name {
            /// All states with their description.
            pub const ALL: &'static [($name, &'static str)] = &[$(($name::$v, $note),)+];
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(self, f)
            }
        }
    };
}

// ---------------------------------------------------------------------------------------------
// Invoker
// ---------------------------------------------------------------------------------------------

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
                //= TS 33.122 Annex C: the token travels as `Authorization: Bearer`
                let body = match &self.token {
                    Some(t) => serde_json::json!({"authorization": format!("Bearer {}", t.access_token)}),
                    None => serde_json::Value::Null,
                };
                self.send(
                    now,
                    Pending::Invoke,
                    msg(Peer::Aef, "POST", format!("/{api}"), "", body),
                );
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

fn msg(to: Peer, method: &'static str, path: String, schema: &'static str, body: serde_json::Value) -> Message {
    Message {
        to,
        method,
        path,
        status: None,
        schema,
        body,
    }
}

fn answer(
    to: Peer,
    method: &'static str,
    path: String,
    status: u16,
    schema: &'static str,
    body: serde_json::Value,
) -> Message {
    Message {
        to,
        method,
        path,
        status: Some(status),
        schema,
        body,
    }
}

// ---------------------------------------------------------------------------------------------
// CCF
// ---------------------------------------------------------------------------------------------

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
            let iface = if crate::check::mutant::is(crate::check::mutant::Mutant::Capif(
                crate::check::capif::CapifMutant::AefpskWrongLabel,
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

// ---------------------------------------------------------------------------------------------
// AEF
// ---------------------------------------------------------------------------------------------

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
    cfg: AefConfig,
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
            psk: AefPskCache::new(cfg.expiry),
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
                        Err(e) => Err(ProblemDetails29122 {
                            detail: Some(e.to_string()),
                            ..problem(401, "INVALID_TOKEN")
                        }),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::jwt::RevocationSet;
    use crate::crypto::pki::key_from_rng;
    use crate::crypto::tls12;
    use crate::proto::capif::onboarding::{enrolment_request, tests::service};
    use crate::proto::capif::security_method::tests::{aef, iface};
    use SecurityMethod::{Oauth, Pki, Psk};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use std::collections::BTreeSet;

    type Step = (InvokerState, fn(&mut World));
    type Fired = (
        BTreeSet<(InvokerState, InvokerEvent)>,
        BTreeSet<(CcfState, CcfEvent)>,
        BTreeSet<(AefState, AefEvent)>,
    );

    struct World {
        now: SimTime,
        rng: ChaCha8Rng,
        inv: Invoker,
        ccf: Ccf,
        aef: Aef,
        session: Capif1eMaterial,
        secret_ok: bool,
        inv_key: [u8; 32],
        sent: Vec<Message>,
    }

    impl World {
        fn new(prefs: Vec<SecurityMethod>, expiry: ExpiryBehaviour) -> World {
            let mut rng = ChaCha8Rng::seed_from_u64(42);
            let s12 = tls12::handshake(
                &mut ChaCha8Rng::seed_from_u64(1),
                &mut ChaCha8Rng::seed_from_u64(2),
                true,
            )
            .unwrap();
            let session = Capif1eMaterial::Tls12(s12);
            let onboarding = service(&mut rng);
            let tokens = TokenEndpoint::new(key_from_rng(&mut rng), "ccf1", 600);
            let policy = AccessPolicy {
                apis: [("aef1".to_owned(), vec!["api1".to_owned()])].into(),
                psk_validity_s: 100,
                ..AccessPolicy::default()
            };
            let ccf_cfg = CcfConfig {
                aefs: vec![aef(vec![Psk, Pki, Oauth], None)],
                policy,
                variant: AefPskVariant::Tls12MasterSecret,
                encoding: ValidityEncoding::Remaining,
            };
            let ccf = Ccf::new(ccf_cfg, onboarding, tokens);
            let aef_cfg = AefConfig {
                aef_id: "aef1".into(),
                ccf_anchors: vec![ccf.onboarding().ca_certificate().clone()],
                revoked_certs: RevocationList::new(),
                tokens: Some(TokenVerifier {
                    ccf_key: ccf.token_key(),
                    also_trusted: Vec::new(),
                    issuer: Some("ccf1".into()),
                    leeway_s: 0,
                    revoked: RevocationSet::default(),
                }),
                expiry,
            };
            let inv_signing = key_from_rng(&mut rng);
            let inv = Invoker::new(InvokerConfig {
                enrolment: enrolment_request(inv_signing.verifying_key(), Some("s".into()), "https://inv/cb".into()),
                target: SecurityTarget::InterfaceDetails(iface(None)),
                interface: iface(None),
                prefs,
                variant: AefPskVariant::Tls12MasterSecret,
                capif1e: session.clone(),
                response_timeout: SimDuration::from_secs(5),
            });
            World {
                now: SimTime::ZERO,
                rng,
                inv,
                ccf,
                aef: Aef::new(aef_cfg),
                session,
                secret_ok: true,
                inv_key: [0; 32],
                sent: Vec::new(),
            }
        }

        fn id(&self) -> String {
            self.inv.api_invoker_id().unwrap_or_default().to_owned()
        }

        fn inv(&mut self, input: InvokerInput) {
            let (now, rng) = (self.now, &mut self.rng);
            self.inv.handle(now, rng, input);
        }
        fn aef_in(&mut self, input: AefInput) {
            let (now, rng) = (self.now, &mut self.rng);
            self.aef.handle(now, rng, input);
        }
        fn ccf_in(&mut self, input: CcfInput) {
            let (now, rng) = (self.now, &mut self.rng);
            self.ccf.handle(now, rng, input);
        }

        /// Delivers every message until quiet (bounded).
        fn pump(&mut self) {
            for _ in 0..64 {
                let mut quiet = true;
                for o in self.inv.drain_outputs() {
                    quiet = false;
                    match o {
                        Output::Send(m) => {
                            self.sent.push(m.clone());
                            match m.to {
                                Peer::Ccf if m.path.ends_with("onboardedInvokers") => {
                                    let req = serde_json::from_value(m.body).unwrap();
                                    let secret_ok = self.secret_ok;
                                    self.ccf_in(CcfInput::Onboard { req, secret_ok });
                                }
                                Peer::Ccf if m.path.ends_with("/token") => {
                                    let req = AccessTokenReq::from_form(m.body.as_str().unwrap()).unwrap();
                                    self.ccf_in(CcfInput::ObtainToken { req });
                                }
                                Peer::Ccf => {
                                    let body = serde_json::from_value(m.body).unwrap();
                                    let input = CcfInput::ObtainSecurityMethod {
                                        invoker: self.id(),
                                        body,
                                        update: m.method == "POST",
                                        session: Some(self.session.clone()),
                                    };
                                    self.ccf_in(input);
                                }
                                Peer::Aef if m.path.ends_with("check-authentication") => {
                                    let req = serde_json::from_value(m.body).unwrap();
                                    self.aef_in(AefInput::CheckAuthentication { req });
                                }
                                Peer::Aef => {
                                    let token = m.body["authorization"]
                                        .as_str()
                                        .map(|b| b.trim_start_matches("Bearer ").to_owned());
                                    let api = m.path.trim_start_matches('/').to_owned();
                                    let invoker = self.id();
                                    self.aef_in(AefInput::Invoke { invoker, api, token });
                                }
                                Peer::Invoker => unreachable!(),
                            }
                        }
                        Output::StartTls { method, psk } => {
                            let credential = match method {
                                Psk => Credential::Psk(psk.unwrap().1),
                                Pki => Credential::Certificate(Box::new(
                                    self.ccf.onboarding().onboarded()[&self.id()].clone(),
                                )),
                                _ => Credential::ServerAuthOnly,
                            };
                            if let Credential::Psk(k) = credential {
                                self.inv_key = k;
                            }
                            let invoker = self.id();
                            self.aef_in(AefInput::Handshake { invoker, credential });
                            let up = self.aef.state(&self.id()) == AefState::Authenticated;
                            self.inv(if up {
                                InvokerInput::TlsEstablished
                            } else {
                                InvokerInput::TlsFailed
                            });
                        }
                        _ => {}
                    }
                }
                for o in self.ccf.drain_outputs().into_iter().chain(self.aef.drain_outputs()) {
                    let Output::Send(m) = o else { continue };
                    quiet = false;
                    self.sent.push(m.clone());
                    match (m.to, m.status) {
                        (Peer::Invoker, Some(status)) => self.inv(InvokerInput::Response { status, body: m.body }),
                        (Peer::Ccf, None) => {
                            let (invoker, aef_id) = (self.id(), "aef1".to_owned());
                            self.ccf_in(CcfInput::ObtainSecurityInfo { invoker, aef_id });
                        }
                        (Peer::Aef, Some(status)) => {
                            let invoker = self.id();
                            self.aef_in(AefInput::SecurityInfoResponse {
                                invoker,
                                status,
                                body: m.body,
                            });
                        }
                        _ => {}
                    }
                }
                if quiet {
                    return;
                }
            }
            panic!("pump did not settle");
        }

        fn drive_to(&mut self, target: InvokerState) {
            use InvokerState as S;
            let steps: [Step; 7] = [
                (S::Onboarding, |w| w.inv(InvokerInput::Start)),
                (S::Onboarded, |w| w.pump()),
                (S::Negotiating, |w| w.inv(InvokerInput::Start)),
                (S::MethodSelected, |w| w.pump()),
                (S::Authenticating, |w| w.inv(InvokerInput::Authenticate)),
                (S::Authenticated, |w| w.pump()),
                (S::Invoking, |w| w.inv(InvokerInput::Invoke { api: "api1".into() })),
            ];
            for (state, step) in steps {
                if self.inv.state() == target {
                    return;
                }
                step(self);
                assert_eq!(self.inv.state(), state);
            }
        }
    }

    #[test]
    fn psk_end_to_end_same_key_and_authorization() {
        let mut w = World::new(vec![Psk], ExpiryBehaviour::BlockNewHandshakes);
        w.drive_to(InvokerState::Authenticated);
        let id = w.id();
        assert_eq!(w.inv.method(), Some(&Psk));
        let k = w.inv.aefpsk().unwrap().clone();
        assert_eq!(w.aef.psk().entry(&id).unwrap().key, k.key);
        assert_eq!(w.inv_key, k.key);
        assert_eq!(w.aef.state(&id), AefState::Authenticated);
        assert_eq!(w.ccf.record(&id), CcfState::Trusted);
        w.inv(InvokerInput::Invoke { api: "api1".into() });
        w.pump();
        assert_eq!(w.sent.last().unwrap().status, Some(200));
        w.inv(InvokerInput::Invoke { api: "api2".into() });
        w.pump();
        assert_eq!(w.sent.last().unwrap().status, Some(403));
        check_bodies(&w.sent);
    }

    /// Every body: JSON with the OpenAPI names, round trip through the types.rs schema.
    fn check_bodies(sent: &[Message]) {
        for m in sent {
            match m.schema {
                "ServiceSecurity" => {
                    let b: ServiceSecurity = serde_json::from_value(m.body.clone()).unwrap();
                    assert_eq!(json(&b), m.body);
                    assert!(m.body.get("securityInfo").is_some());
                }
                "APIInvokerEnrolmentDetails" => {
                    let b: ApiInvokerEnrolmentDetails = serde_json::from_value(m.body.clone()).unwrap();
                    assert_eq!(json(&b), m.body);
                    assert!(m.body.get("onboardingInformation").is_some());
                }
                "CheckAuthenticationReq" => {
                    let b: CheckAuthenticationReq = serde_json::from_value(m.body.clone()).unwrap();
                    assert_eq!(json(&b), m.body);
                    assert!(m.body.get("apiInvokerId").is_some());
                }
                "CheckAuthenticationRsp" => {
                    let b: crate::proto::capif::types::CheckAuthenticationRsp =
                        serde_json::from_value(m.body.clone()).unwrap();
                    assert_eq!(json(&b), m.body);
                }
                "ProblemDetails" => {
                    let b: ProblemDetails29122 = serde_json::from_value(m.body.clone()).unwrap();
                    assert_eq!(json(&b), m.body);
                }
                "AccessTokenReq" => {
                    let form = m.body.as_str().unwrap();
                    assert_eq!(AccessTokenReq::from_form(form).unwrap().to_form(), form);
                    assert!(form.contains("grant_type=client_credentials"));
                }
                "AccessTokenRsp" => {
                    let b: AccessTokenRsp = serde_json::from_value(m.body.clone()).unwrap();
                    assert_eq!(json(&b), m.body);
                    assert!(m.body.get("access_token").is_some());
                }
                "AccessTokenErr" => {
                    let b: crate::proto::capif::types::AccessTokenErr = serde_json::from_value(m.body.clone()).unwrap();
                    assert_eq!(json(&b), m.body);
                }
                "" => {}
                other => panic!("unchecked schema {other}"),
            }
        }
    }

    #[test]
    fn psk_expired_key_refuses_new_sessions() {
        for expiry in [ExpiryBehaviour::BlockNewHandshakes, ExpiryBehaviour::CloseSessions] {
            let mut w = World::new(vec![Psk], expiry);
            w.drive_to(InvokerState::Authenticated);
            let id = w.id();
            w.now += SimDuration::from_secs(100);
            w.aef_in(AefInput::KeyExpired { invoker: id.clone() });
            let want = match expiry {
                ExpiryBehaviour::BlockNewHandshakes => AefState::SessionOnly,
                ExpiryBehaviour::CloseSessions => AefState::NoKey,
            };
            assert_eq!(w.aef.state(&id), want);
            let key = w.inv_key;
            w.aef_in(AefInput::Handshake {
                invoker: id.clone(),
                credential: Credential::Psk(key),
            });
            assert_ne!(w.aef.state(&id), AefState::Authenticated, "no session after expiry");
            // a new check-authentication finds no key at the CCF either
            let req = CheckAuthenticationReq {
                api_invoker_id: id.clone(),
                supported_features: SupportedFeatures::none(),
            };
            w.aef_in(AefInput::CheckAuthentication { req });
            w.pump();
            assert_eq!(w.aef.state(&id), AefState::NoKey);
            w.inv(InvokerInput::KeyExpired);
            assert_eq!(w.inv.state(), InvokerState::Onboarded);
        }
    }

    #[test]
    fn pki_and_oauth_end_to_end() {
        for m in [Pki, Oauth] {
            let mut w = World::new(vec![m.clone()], ExpiryBehaviour::BlockNewHandshakes);
            w.drive_to(InvokerState::Authenticated);
            assert_eq!(w.inv.method(), Some(&m));
            w.inv(InvokerInput::Invoke { api: "api1".into() });
            w.pump();
            assert_eq!(w.sent.last().unwrap().status, Some(200), "{m:?}");
            check_bodies(&w.sent);
        }
        // a revoked token is refused
        let mut w = World::new(vec![Oauth], ExpiryBehaviour::BlockNewHandshakes);
        w.drive_to(InvokerState::Authenticated);
        let tok = w.inv.token().unwrap().access_token.clone();
        let id = w.id();
        w.aef.cfg.tokens.as_mut().unwrap().revoked.client_ids.insert(id);
        w.inv(InvokerInput::Invoke { api: "api1".into() });
        w.pump();
        assert_eq!(w.sent.last().unwrap().status, Some(401));
        // an expired one too
        w.aef.cfg.tokens.as_mut().unwrap().revoked = RevocationSet::default();
        w.now += SimDuration::from_secs(600);
        let (id, t) = (w.id(), Some(tok));
        w.aef_in(AefInput::Invoke {
            invoker: id,
            api: "api1".into(),
            token: t,
        });
        let out = w.aef.drain_outputs();
        assert!(matches!(&out[0], Output::Send(m) if m.status == Some(401)));
    }

    /// Scenarios that, together, fire every row of the three tables.
    fn run_all_scenarios() -> Fired {
        let (mut fi, mut fc, mut fa) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
        let mut collect = |w: &World| {
            fi.extend(w.inv.fired().iter().copied());
            fc.extend(w.ccf.fired().iter().copied());
            fa.extend(w.aef.fired().iter().copied());
        };
        // every invoker row from a world driven to its `from` state
        for row in INVOKER_TRANSITIONS {
            let mut w = World::new(vec![Psk], ExpiryBehaviour::BlockNewHandshakes);
            w.drive_to(row.from);
            use InvokerEvent as E;
            match row.event {
                E::Start => w.inv(InvokerInput::Start),
                E::OnboardAccepted | E::MethodChosen | E::InvokeAnswered => w.pump(),
                E::AuthReady => w.inv(InvokerInput::Response {
                    status: 200,
                    body: serde_json::json!({"supportedFeatures": ""}),
                }),
                E::Authenticate => w.inv(InvokerInput::Authenticate),
                E::TlsEstablished => w.inv(InvokerInput::TlsEstablished),
                E::Invoke => w.inv(InvokerInput::Invoke { api: "api1".into() }),
                E::Rejected if matches!(row.from, InvokerState::Authenticated | InvokerState::Invoking) => {
                    w.inv(InvokerInput::TlsFailed)
                }
                E::Rejected => w.inv(InvokerInput::Response {
                    status: 403,
                    body: serde_json::Value::Null,
                }),
                E::Timeout => w.inv(InvokerInput::Timeout),
                E::KeyExpired => w.inv(InvokerInput::KeyExpired),
                E::Renegotiate => w.inv(InvokerInput::Renegotiate { session: None }),
                E::SessionClosed => w.inv(InvokerInput::SessionClosed),
            }
            assert_eq!(w.inv.state(), row.to, "invoker {} x {:?}", row.from, row.event);
            if row.event == E::Renegotiate {
                w.pump(); // CCF: update
                assert_eq!(w.inv.state(), InvokerState::MethodSelected);
            }
            collect(&w);
        }
        // AEF and CCF: PSK with expiry (both behaviours), revoke, re-negotiate
        for expiry in [ExpiryBehaviour::BlockNewHandshakes, ExpiryBehaviour::CloseSessions] {
            let mut w = World::new(vec![Psk], expiry);
            w.drive_to(InvokerState::Authenticated);
            let id = w.id();
            let req = CheckAuthenticationReq {
                api_invoker_id: id.clone(),
                supported_features: SupportedFeatures::none(),
            };
            w.aef_in(AefInput::CheckAuthentication { req: req.clone() }); // Authenticated x Check
            let key = w.inv_key;
            w.aef_in(AefInput::Handshake {
                invoker: id.clone(),
                credential: Credential::Psk(key),
            });
            w.now += SimDuration::from_secs(100);
            w.aef_in(AefInput::KeyExpired { invoker: id.clone() });
            w.inv(InvokerInput::Invoke { api: "api1".into() });
            w.pump(); // SessionOnly x Invoke (BlockNewHandshakes)
            w.aef_in(AefInput::CheckAuthentication { req: req.clone() });
            w.pump(); // SessionOnly x Check, then FetchFailed
            collect(&w);
        }
        let mut w = World::new(vec![Psk], ExpiryBehaviour::BlockNewHandshakes);
        w.drive_to(InvokerState::MethodSelected);
        let id = w.id();
        let req = CheckAuthenticationReq {
            api_invoker_id: id.clone(),
            supported_features: SupportedFeatures::none(),
        };
        w.aef_in(AefInput::CheckAuthentication { req: req.clone() });
        w.pump(); // KeyValid
        w.aef_in(AefInput::CheckAuthentication { req: req.clone() }); // KeyValid x Check
        w.aef_in(AefInput::Revoke { invoker: id.clone() }); // KeyValid x Revoke
        w.aef_in(AefInput::Revoke { invoker: id.clone() }); // NoKey x Revoke (below the table)
        w.aef_in(AefInput::CheckAuthentication { req: req.clone() });
        w.aef_in(AefInput::Revoke { invoker: id.clone() }); // FetchingKey x Revoke (below the table)
        w.pump(); // the answer to the fetch sent before the revocation is discarded
        assert_eq!(w.aef.state(&id), AefState::NoKey);
        w.aef_in(AefInput::CheckAuthentication { req: req.clone() });
        w.pump();
        w.now += SimDuration::from_secs(100);
        w.aef_in(AefInput::KeyExpired { invoker: id.clone() }); // KeyValid x KeyExpired
        w.inv(InvokerInput::Renegotiate { session: None });
        w.pump(); // CCF Trusted x Update
        w.inv(InvokerInput::Authenticate);
        w.pump();
        w.aef_in(AefInput::Revoke { invoker: id.clone() }); // Authenticated x Revoke
        w.ccf_in(CcfInput::Revoke { invoker: id.clone() });
        let body = security_method_request(&[(SecurityTarget::AefId("aef1".into()), vec![Psk])], "x");
        for _ in 0..2 {
            let s = Some(w.session.clone());
            w.ccf_in(CcfInput::ObtainSecurityMethod {
                invoker: id.clone(),
                body: body.clone(),
                update: false,
                session: s,
            });
        }
        collect(&w);
        // SessionOnly x Revoke
        let mut w = World::new(vec![Psk], ExpiryBehaviour::BlockNewHandshakes);
        w.drive_to(InvokerState::Authenticated);
        let id = w.id();
        w.now += SimDuration::from_secs(100);
        w.aef_in(AefInput::KeyExpired { invoker: id.clone() });
        w.aef_in(AefInput::Revoke { invoker: id });
        collect(&w);
        // SessionOnly x Handshake: an OAUTH session after the AEFPSK expired (issue 12)
        let mut w = World::new(vec![Psk], ExpiryBehaviour::BlockNewHandshakes);
        w.drive_to(InvokerState::Authenticated);
        let id = w.id();
        w.now += SimDuration::from_secs(100);
        w.aef_in(AefInput::KeyExpired { invoker: id.clone() });
        assert_eq!(w.aef.state(&id), AefState::SessionOnly);
        w.aef_in(AefInput::Handshake {
            invoker: id.clone(),
            credential: Credential::ServerAuthOnly,
        });
        assert_eq!(w.aef.state(&id), AefState::Authenticated);
        collect(&w);
        // OAUTH: token and NoKey x Handshake
        let mut w = World::new(vec![Oauth], ExpiryBehaviour::BlockNewHandshakes);
        w.drive_to(InvokerState::Authenticated);
        collect(&w);
        (fi, fc, fa)
    }

    #[test]
    fn every_row_is_driven() {
        let (fi, fc, fa) = run_all_scenarios();
        for r in INVOKER_TRANSITIONS {
            assert!(
                fi.contains(&(r.from, r.event)),
                "invoker row {} x {:?} not driven",
                r.from,
                r.event
            );
        }
        for r in CCF_TRANSITIONS {
            assert!(
                fc.contains(&(r.from, r.event)),
                "ccf row {} x {:?} not driven",
                r.from,
                r.event
            );
        }
        for r in AEF_TRANSITIONS {
            assert!(
                fa.contains(&(r.from, r.event)),
                "aef row {} x {:?} not driven",
                r.from,
                r.event
            );
        }
    }

    #[test]
    fn refusals_keep_state() {
        let mut w = World::new(vec![Psk], ExpiryBehaviour::BlockNewHandshakes);
        w.secret_ok = false;
        w.inv(InvokerInput::Start);
        w.pump();
        assert_eq!(w.inv.state(), InvokerState::Unonboarded);
        let mut w = World::new(
            vec![SecurityMethod::Other("X".into())],
            ExpiryBehaviour::BlockNewHandshakes,
        );
        w.drive_to(InvokerState::Negotiating);
        w.pump();
        assert_eq!(w.inv.state(), InvokerState::Onboarded);
        assert_eq!(w.ccf.record(&w.id()), CcfState::Onboarded);
        assert_eq!(w.sent.last().unwrap().status, Some(403));
    }

    #[test]
    fn table_snapshots() {
        crate::proto::snapshot::check(
            "capif_invoker.txt",
            &render_table("capif_invoker", InvokerState::ALL, INVOKER_TRANSITIONS),
        );
        crate::proto::snapshot::check(
            "capif_ccf.txt",
            &render_table("capif_ccf", CcfState::ALL, CCF_TRANSITIONS),
        );
        crate::proto::snapshot::check(
            "capif_aef.txt",
            &render_table("capif_aef", AefState::ALL, AEF_TRANSITIONS),
        );
    }

    #[test]
    fn tables_have_unique_pairs() {
        fn unique<S: Copy + Eq + fmt::Debug, E: Copy + Eq + fmt::Debug>(t: &[Transition<S, E>]) {
            for (k, a) in t.iter().enumerate() {
                assert!(
                    !t[k + 1..].iter().any(|b| a.from == b.from && a.event == b.event),
                    "{a:?} twice"
                );
            }
        }
        unique(INVOKER_TRANSITIONS);
        unique(CCF_TRANSITIONS);
        unique(AEF_TRANSITIONS);
    }
}
