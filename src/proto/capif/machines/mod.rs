//! The CAPIF invoker (`invoker.rs`), CCF (`ccf.rs`) and AEF (`aef.rs`) as sans-IO state
//! machines (TS 33.122 6.1, 6.3.1, 6.5.2; TS 29.222 5.5, 5.6, AEF_Security_API).
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
pub use crate::proto::machine::{Transition, render_table};
use crate::proto::machine::{lookup, t};

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
    /// The `Authorization` header of a request (`Bearer <token>`), if any.
    pub authorization: Option<String>,
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

fn msg(to: Peer, method: &'static str, path: String, schema: &'static str, body: serde_json::Value) -> Message {
    Message {
        to,
        method,
        path,
        status: None,
        schema,
        body,
        authorization: None,
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
        authorization: None,
    }
}

mod aef;
mod ccf;
mod invoker;
#[cfg(test)]
mod tests;

pub use aef::*;
pub use ccf::*;
pub use invoker::*;
