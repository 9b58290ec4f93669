//! Per-invocation authorization at the AEF (TS 33.122 6.5.2.1 step 6, 6.5.2.2, 6.5.2.3;
//! TS 23.222 8.16).
//!
//! ```text
//!  invoker ──invoke(aef, api)──► AEF: grant from the CCF ──► allow | deny(reason)
//!      grant = ServiceSecurity authorizationInfo (PSK, PKI) or token scope (OAUTH)
//! ```
//!
//! Both grant forms are the Annex C scope string `aef1:api1,api2;aef2:api3`. A deny maps to
//! 403 with a secsim cause ([`Deny::problem`]).

use crate::crypto::jwt::{AccessTokenClaims, Scope};
use crate::proto::capif::onboarding::problem;
use crate::proto::common::ProblemDetails29122;

/// Why an invocation is refused (all caused by the invoker or the CCF's data; not fatal).
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
pub enum Deny {
    /// The AEF holds no authorization information for the invoker.
    #[error("aef: no authorization information for invoker `{invoker}`")]
    NoAuthorizationInfo {
        /// The invoker.
        invoker: String,
    },
    /// The authorization information does not parse.
    #[error("aef: malformed authorization information `{0}`")]
    Malformed(String),
    /// The API is not in the grant.
    #[error("aef: api `{api}` at `{aef}` not authorized")]
    ApiNotAuthorized {
        /// AEF ID.
        aef: String,
        /// API name.
        api: String,
    },
    /// The token was issued to another invoker than the one authenticated on CAPIF-2e.
    #[error("aef: token of `{token_client}` presented by `{invoker}`")]
    InvokerMismatch {
        /// Authenticated invoker.
        invoker: String,
        /// The token's client_id.
        token_client: String,
    },
}

/// Cause of the 403 for a refused invocation (secsim).
pub const CAUSE_NOT_AUTHORIZED: &str = "API_INVOKER_NOT_AUTHORIZED";

impl Deny {
    /// The 403 ProblemDetails the AEF answers.
    pub fn problem(&self) -> ProblemDetails29122 {
        problem(403, CAUSE_NOT_AUTHORIZED).detail(self.to_string())
    }
}

/// One service API invocation as the AEF sees it.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Invocation<'a> {
    /// Invoker authenticated on CAPIF-2e.
    pub invoker: &'a str,
    /// This AEF.
    pub aef: &'a str,
    /// The invoked API.
    pub api: &'a str,
}

/// Authorizes from CCF-supplied `authorizationInfo` (methods PSK and PKI).
pub fn authorize_with_info(inv: &Invocation<'_>, authorization_info: Option<&str>) -> Result<(), Deny> {
    let info = authorization_info.ok_or_else(|| Deny::NoAuthorizationInfo {
        invoker: inv.invoker.to_owned(),
    })?;
    let scope = Scope::parse(info).map_err(|_| Deny::Malformed(info.to_owned()))?;
    //= TS 33.122 6.5.2.1 step 6: authorize based on authorization information from the CCF
    allow(&scope, inv)
}

/// Authorizes from verified token claims (method OAUTH; TS 33.122 6.5.2.3, Annex C).
pub fn authorize_with_token(inv: &Invocation<'_>, claims: &AccessTokenClaims) -> Result<(), Deny> {
    if claims.client_id != inv.invoker {
        return Err(Deny::InvokerMismatch {
            invoker: inv.invoker.to_owned(),
            token_client: claims.client_id.clone(),
        });
    }
    let scope = claims
        .parsed_scope()
        .map_err(|_| Deny::Malformed(claims.scope.clone()))?;
    //= TS 33.122 Annex C: the scope claim lists the authorized AEFs and APIs
    allow(&scope, inv)
}

fn allow(scope: &Scope, inv: &Invocation<'_>) -> Result<(), Deny> {
    if scope.allows(inv.aef, inv.api) {
        Ok(())
    } else {
        Err(Deny::ApiNotAuthorized {
            aef: inv.aef.to_owned(),
            api: inv.api.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INV: Invocation<'static> = Invocation {
        invoker: "INV1",
        aef: "aef1",
        api: "api1",
    };

    #[test]
    fn info_allows_and_denies() {
        assert_eq!(authorize_with_info(&INV, Some("aef1:api1,api2")), Ok(()));
        assert!(matches!(
            authorize_with_info(&INV, Some("aef1:api2;aef2:api1")),
            Err(Deny::ApiNotAuthorized { .. })
        ));
        assert!(matches!(
            authorize_with_info(&INV, None),
            Err(Deny::NoAuthorizationInfo { .. })
        ));
        assert!(matches!(
            authorize_with_info(&INV, Some("junk")),
            Err(Deny::Malformed(_))
        ));
        assert_eq!(Deny::Malformed("x".into()).problem().status, Some(403));
    }

    #[test]
    fn token_checks_client_and_scope() {
        let claims = AccessTokenClaims {
            iss: "ccf".into(),
            scope: "aef1:api1".into(),
            exp: 100,
            client_id: "INV1".into(),
            res_owner_id: None,
            jti: None,
        };
        assert_eq!(authorize_with_token(&INV, &claims), Ok(()));
        let other = Invocation { invoker: "INV2", ..INV };
        assert!(matches!(
            authorize_with_token(&other, &claims),
            Err(Deny::InvokerMismatch { .. })
        ));
        let api2 = Invocation { api: "api2", ..INV };
        assert!(matches!(
            authorize_with_token(&api2, &claims),
            Err(Deny::ApiNotAuthorized { .. })
        ));
    }
}
