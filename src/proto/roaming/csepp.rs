//! The c-SEPP's answer to the cNF after the RI refused the N32 connection (TS 29.573 5.2.X.2
//! step 4: "The c-SEPP may use the suggested status code and/or suggested application error").
//!
//! The RI's own status (403) is about the N32 connection, not about the cNF's request, so it
//! is never relayed as is: the cNF gets either the RI's suggestion or the c-SEPP's own answer
//! ([`OWN_STATUS`] + [`OWN_CAUSE`] by default), as [`CseppMapping`] says.

use serde::{Deserialize, Serialize};

use crate::proto::common::ProblemDetails;

use super::rejection::Suggestion;

/// The c-SEPP's own status when it does not relay a suggestion: 504 Gateway Timeout, as a
/// SEPP or SCP answers when the target is not reachable (TS 29.500 5.2.7.2).
pub const OWN_STATUS: u16 = 504;
/// The c-SEPP's own cause: the standard TS 29.500 `TARGET_NF_NOT_REACHABLE`, deliberately not
/// the RI's `TARGET_PLMN_NOT_REACHABLE`, so a trace shows whose answer the cNF got.
pub const OWN_CAUSE: &str = "TARGET_NF_NOT_REACHABLE";

fn own_status() -> u16 {
    OWN_STATUS
}

fn own_cause() -> String {
    OWN_CAUSE.to_owned()
}

/// Whether the c-SEPP relays the RI's suggestion to the cNF. Default: `UseSuggestion` (the
/// CR's example behaviour).
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq, Serialize, schemars::JsonSchema)]
pub enum CseppMapping {
    /// Relay the suggested status and cause, each when present; fill in the own default
    /// ([`OWN_STATUS`], [`OWN_CAUSE`]) for what is missing. Trusts an unauthenticated RI body.
    #[default]
    UseSuggestion,
    /// Ignore any suggestion; always answer `status` with `cause`.
    /// Defaults: `status: 504`, `cause: "TARGET_NF_NOT_REACHABLE"`.
    OwnAnswer {
        /// Status towards the cNF.
        #[serde(default = "own_status")]
        status: u16,
        /// ProblemDetails `cause` towards the cNF.
        #[serde(default = "own_cause")]
        cause: String,
    },
    /// Relay the suggestion only when it was verified (only
    /// [`super::SuggestionEncoding::ProtectedHeader`] can be); else the own default.
    UseSuggestionIfVerified,
}

impl CseppMapping {
    /// Every alternative, in declaration order, `OwnAnswer` with its defaults (a function,
    /// not a `const`: `OwnAnswer` holds a `String`).
    pub fn all() -> [CseppMapping; 3] {
        [
            CseppMapping::UseSuggestion,
            CseppMapping::own_default(),
            CseppMapping::UseSuggestionIfVerified,
        ]
    }

    /// `OwnAnswer` with the defaults.
    pub fn own_default() -> CseppMapping {
        CseppMapping::OwnAnswer {
            status: OWN_STATUS,
            cause: OWN_CAUSE.to_owned(),
        }
    }

    /// Whether this policy relays `suggestion` (when it holds anything).
    pub fn relays(&self, suggestion: &Suggestion) -> bool {
        match self {
            CseppMapping::UseSuggestion => true,
            CseppMapping::OwnAnswer { .. } => false,
            CseppMapping::UseSuggestionIfVerified => suggestion.verified,
        }
    }
}

/// The status and ProblemDetails the c-SEPP sends to the cNF.
///
/// A suggested status outside 400..=599 is ignored (peer input: a 2xx or 3xx would tell the
/// cNF its request succeeded or moved).
pub fn answer_to_cnf(mapping: &CseppMapping, suggestion: &Suggestion) -> (u16, ProblemDetails) {
    let (default_status, default_cause) = match mapping {
        CseppMapping::OwnAnswer { status, cause } => (*status, cause.clone()),
        _ => (OWN_STATUS, OWN_CAUSE.to_owned()),
    };
    let (status, cause) = if mapping.relays(suggestion) {
        //= TS 29.573 5.2.X.2 step 4: "the c-SEPP may send a "504 Gateway timeout" response with
        //= the cause "TARGET PLMN NOT REACHABLE" in the ProblemDetails"
        let status = suggestion
            .status
            .filter(|s| (400..=599).contains(s))
            .unwrap_or(default_status);
        (status, suggestion.cause.clone().unwrap_or(default_cause))
    } else {
        (default_status, default_cause)
    };
    (status, ProblemDetails::with_cause(status, cause))
}
