//! OAuth 2.0 access tokens for CAPIF security method 3 (TS 33.122 6.5.2.3 and Annex C;
//! TS 29.222 8.5.4.2.x `AccessTokenClaims`).
//!
//! The CCF issues a client-credentials token over CAPIF-1e; the invoker presents it to the AEF
//! as `Authorization: Bearer <token>` over CAPIF-2e; the AEF checks it:
//!
//! ```text
//!   CCF: claims ──JSON──► JWS compact, ES256 (RFC 7519 7.1) ──► access_token
//!   AEF: access_token ──► signature (CCF key) ──► exp + leeway vs now ──► revocation ──► scope
//!            errors:        BadSignature              Expired            Revoked      ScopeDenied
//! ```
//!
//! - Time is simulated time in whole seconds \[s\] supplied by the caller: no wall clock.
//! - A token is valid while `now_s < exp + leeway_s` (RFC 7519 4.1.4); the leeway for clock
//!   skew is at most 30 s (TS 33.122 Annex C) and is clamped to [`MAX_LEEWAY_S`].
//! - `scope` is `aef1:api1,api2;aef2:api3` (TS 33.122 Annex C). The TS 29.222 AccessTokenReq
//!   form prefixes `3gpp#` (as an open CAPIF implementation quotes the spec; not checked against
//!   the spec text): accepted on parse, emitted by [`Scope::to_request_string`] only.
//! - `jti` (RFC 7519 4.1.7) is an addition to the 3GPP claims so a single token can be revoked;
//!   the issuer picks it deterministically (e.g. `<ccf id>-<counter>`). Revocation can also name
//!   a `client_id` (TS 29.222 `DELETE /trustedInvokers/{apiInvokerId}` revokes the invoker).
//!
//! Every [`JwtError`] comes from the presented token or the AEF's policy; none is fatal to the
//! run.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use p256::ecdsa::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::jose::{self, JoseError, JwsHeader};

/// Largest clock-skew leeway \[s\] (TS 33.122 Annex C: "no more than 30 seconds").
pub const MAX_LEEWAY_S: u64 = 30;
/// Default leeway \[s\].
pub const DEFAULT_LEEWAY_S: u64 = 30;

/// Why a token was refused.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
pub enum JwtError {
    /// The JWS envelope was refused before any signature check (bad compact form or base64,
    /// `alg` none or not ES256, `jwk` header...).
    #[error("jwt: refused envelope: {0}")]
    Envelope(JoseError),
    /// The ES256 signature does not verify with the issuer's key.
    #[error("jwt: bad signature")]
    BadSignature,
    /// The payload is not a valid AccessTokenClaims object, or the scope has bad syntax.
    #[error("jwt: malformed claims: {0}")]
    Malformed(String),
    /// `exp` + leeway is not after `now`.
    #[error("jwt: expired at {exp_s} s, now {now_s} s")]
    Expired {
        /// The token's `exp` \[s\].
        exp_s: u64,
        /// The verifier's simulated time \[s\].
        now_s: u64,
    },
    /// `iss` is not the expected issuer.
    #[error("jwt: issuer `{actual}`, expected `{expected}`")]
    IssuerMismatch {
        /// The issuer the verifier trusts.
        expected: String,
        /// The token's `iss`.
        actual: String,
    },
    /// The token (by `jti`) or its client (by `client_id`) is revoked.
    #[error("jwt: token revoked")]
    Revoked,
    /// The scope does not include this API at this AEF.
    #[error("jwt: scope denies api `{api}` at aef `{aef}`")]
    ScopeDenied {
        /// The AEF asked.
        aef: String,
        /// The API asked.
        api: String,
    },
}

impl From<JoseError> for JwtError {
    fn from(e: JoseError) -> Self {
        match e {
            JoseError::BadSignature | JoseError::SignatureLength(_) => JwtError::BadSignature,
            other => JwtError::Envelope(other),
        }
    }
}

/// The token claims (TS 29.222 `AccessTokenClaims`, plus the TS 33.122 `client_id` and an
/// optional `jti`). JSON names are the OpenAPI ones; absent optional claims are skipped.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct AccessTokenClaims {
    /// Issuer: the CCF identity.
    pub iss: String,
    /// Authorized APIs, `aef1:api1,api2;aef2:api3` (see [`Scope`]).
    pub scope: String,
    /// Expiry, simulated time \[s\] (OpenAPI `DurationSec`).
    pub exp: u64,
    /// The API invoker ID (TS 33.122 Annex C: mandatory).
    pub client_id: String,
    /// Resource owner for RNAA (TS 29.222), if any.
    #[serde(rename = "resOwnerId", default, skip_serializing_if = "Option::is_none")]
    pub res_owner_id: Option<String>,
    /// Token ID for per-token revocation (RFC 7519 4.1.7; not in the 3GPP claims).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

impl AccessTokenClaims {
    /// Remaining lifetime at `now_s`, the `expires_in` of AccessTokenRsp \[s\].
    pub fn expires_in_s(&self, now_s: u64) -> u64 {
        self.exp.saturating_sub(now_s)
    }

    /// Parses the `scope` claim.
    pub fn parsed_scope(&self) -> Result<Scope, JwtError> {
        Scope::parse(&self.scope)
    }

    /// Does the scope allow `api` at `aef`? (TS 33.122 6.5.2.3: the AEF authorizes each
    /// invocation from the token.)
    pub fn check_scope(&self, aef: &str, api: &str) -> Result<(), JwtError> {
        if self.parsed_scope()?.allows(aef, api) {
            Ok(())
        } else {
            Err(JwtError::ScopeDenied {
                aef: aef.to_owned(),
                api: api.to_owned(),
            })
        }
    }

    /// Is the token still valid at `now_s`? Valid while `now_s < exp + leeway_s`
    /// (RFC 7519 4.1.4), with `leeway_s` clamped to [`MAX_LEEWAY_S`].
    pub fn check_expiry(&self, now_s: u64, leeway_s: u64) -> Result<(), JwtError> {
        let leeway_s = leeway_s.min(MAX_LEEWAY_S);
        if now_s < self.exp.saturating_add(leeway_s) {
            Ok(())
        } else {
            Err(JwtError::Expired { exp_s: self.exp, now_s })
        }
    }
}

/// The parsed `scope` claim: AEF ID → API names. Ordered, so it displays the same every run.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct Scope(BTreeMap<String, BTreeSet<String>>);

impl Scope {
    /// An empty scope (allows nothing).
    pub fn new() -> Self {
        Scope::default()
    }

    /// Adds `apis` at `aef`.
    pub fn allow<I, S>(&mut self, aef: &str, apis: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.0
            .entry(aef.to_owned())
            .or_default()
            .extend(apis.into_iter().map(Into::into));
        self
    }

    /// Parses `aef1:api1,api2;aef2:api3` (TS 33.122 Annex C). Empty AEF IDs or API names, or a
    /// group without `:`, are malformed. An optional `3gpp#` prefix is skipped.
    pub fn parse(text: &str) -> Result<Scope, JwtError> {
        let text = text.strip_prefix("3gpp#").unwrap_or(text);
        let bad = || JwtError::Malformed(format!("scope `{text}`"));
        let mut scope = Scope::new();
        for group in text.split(';') {
            let (aef, apis) = group.split_once(':').ok_or_else(bad)?;
            if aef.is_empty() || aef.contains(',') {
                return Err(bad());
            }
            let apis: Vec<&str> = apis.split(',').collect();
            if apis.iter().any(|a| a.is_empty() || a.contains(':')) {
                return Err(bad());
            }
            scope.allow(aef, apis);
        }
        Ok(scope)
    }

    /// The TS 29.222 AccessTokenReq form: `3gpp#` followed by the [`fmt::Display`] form.
    pub fn to_request_string(&self) -> String {
        format!("3gpp#{self}")
    }

    /// Whether `api` at `aef` is included.
    pub fn allows(&self, aef: &str, api: &str) -> bool {
        self.0.get(aef).is_some_and(|apis| apis.contains(api))
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (aef, apis)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(";")?;
            }
            write!(f, "{aef}:")?;
            for (j, api) in apis.iter().enumerate() {
                if j > 0 {
                    f.write_str(",")?;
                }
                f.write_str(api)?;
            }
        }
        Ok(())
    }
}

/// Revoked tokens (by `jti`) and revoked clients (by `client_id`), as known to one AEF or CCF.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct RevocationSet {
    /// Revoked token IDs.
    pub jtis: BTreeSet<String>,
    /// Revoked API invoker IDs: every token of theirs is refused.
    pub client_ids: BTreeSet<String>,
}

impl RevocationSet {
    /// Refuses a token whose `jti` or `client_id` is listed.
    pub fn check(&self, claims: &AccessTokenClaims) -> Result<(), JwtError> {
        let jti_revoked = claims.jti.as_ref().is_some_and(|j| self.jtis.contains(j));
        if jti_revoked || self.client_ids.contains(&claims.client_id) {
            return Err(JwtError::Revoked);
        }
        Ok(())
    }
}

/// What an AEF checks beyond the signature (inputs to [`authorize`]).
#[derive(Clone, Copy, Debug)]
pub struct Check<'a> {
    /// The AEF's simulated time \[s\].
    pub now_s: u64,
    /// Clock-skew leeway \[s\], clamped to [`MAX_LEEWAY_S`].
    pub leeway_s: u64,
    /// The issuer (CCF) the AEF trusts, if it checks `iss`.
    pub issuer: Option<&'a str>,
    /// Revocations known to the AEF.
    pub revoked: &'a RevocationSet,
    /// The AEF being invoked.
    pub aef: &'a str,
    /// The API being invoked.
    pub api: &'a str,
}

/// `{"alg":"ES256","typ":"JWT"}` plus the key ID, if any.
fn token_header(kid: Option<&str>) -> JwsHeader {
    JwsHeader {
        typ: Some("JWT".into()),
        kid: kid.map(str::to_owned),
        ..JwsHeader::es256()
    }
}

/// Issues a token: the claims as JSON, signed as a JWS compact serialization with ES256
/// (RFC 7519 7.1; TS 33.122 Annex C). Deterministic (RFC 6979).
pub fn issue(key: &SigningKey, kid: Option<&str>, claims: &AccessTokenClaims) -> String {
    let payload = serde_json::to_vec(claims).expect("claims always serialize");
    jose::sign_compact(key, &token_header(kid), &payload)
}

/// Verifies the signature and expiry of a token (RFC 7519 7.2) and returns its claims.
pub fn verify(key: &VerifyingKey, token: &str, now_s: u64, leeway_s: u64) -> Result<AccessTokenClaims, JwtError> {
    let verified = jose::verify_compact(key, token)?;
    let claims: AccessTokenClaims =
        serde_json::from_slice(&verified.payload).map_err(|e| JwtError::Malformed(e.to_string()))?;
    claims.check_expiry(now_s, leeway_s)?;
    Ok(claims)
}

/// All the checks an AEF makes on an invocation, in order: signature, expiry, issuer,
/// revocation, scope (TS 33.122 6.5.2.3 and Annex C).
pub fn authorize(key: &VerifyingKey, token: &str, check: &Check<'_>) -> Result<AccessTokenClaims, JwtError> {
    let claims = verify(key, token, check.now_s, check.leeway_s)?;
    if let Some(expected) = check.issuer
        && claims.iss != expected
    {
        return Err(JwtError::IssuerMismatch {
            expected: expected.to_owned(),
            actual: claims.iss,
        });
    }
    check.revoked.check(&claims)?;
    claims.check_scope(check.aef, check.api)?;
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::jose::{b64_decode, b64_encode};

    fn ccf_key() -> SigningKey {
        SigningKey::from_slice(&[7u8; 32]).unwrap()
    }

    fn claims() -> AccessTokenClaims {
        AccessTokenClaims {
            iss: "ccf.operator-a.example".into(),
            scope: "aef1:api1,api2;aef2:api3".into(),
            exp: 1_000,
            client_id: "invoker-42".into(),
            res_owner_id: None,
            jti: Some("ccf-1".into()),
        }
    }

    fn check<'a>(revoked: &'a RevocationSet, now_s: u64, aef: &'a str, api: &'a str) -> Check<'a> {
        Check {
            now_s,
            leeway_s: DEFAULT_LEEWAY_S,
            issuer: Some("ccf.operator-a.example"),
            revoked,
            aef,
            api,
        }
    }

    #[test]
    fn token_issue_verify_round_trip() {
        let key = ccf_key();
        let token = issue(&key, Some("ccf-key-1"), &claims());
        assert_eq!(token, issue(&key, Some("ccf-key-1"), &claims()), "deterministic");
        let got = verify(key.verifying_key(), &token, 500, DEFAULT_LEEWAY_S).unwrap();
        assert_eq!(got, claims());
        assert_eq!(got.expires_in_s(500), 500);
        let header = b64_decode(token.split('.').next().unwrap(), "h").unwrap();
        assert_eq!(header, br#"{"alg":"ES256","typ":"JWT","kid":"ccf-key-1"}"#);
    }

    #[test]
    fn claims_json_names() {
        let mut c = claims();
        c.res_owner_id = Some("ue-1".into());
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"iss":"ccf.operator-a.example","scope":"aef1:api1,api2;aef2:api3","exp":1000,"client_id":"invoker-42","resOwnerId":"ue-1","jti":"ccf-1"}"#
        );
        c.res_owner_id = None;
        c.jti = None;
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"iss":"ccf.operator-a.example","scope":"aef1:api1,api2;aef2:api3","exp":1000,"client_id":"invoker-42"}"#
        );
    }

    #[test]
    fn token_expired_refused_within_leeway_accepted() {
        let key = ccf_key();
        let token = issue(&key, None, &claims());
        let vk = key.verifying_key();
        // exp = 1000, leeway 30: valid while now < 1030.
        assert!(verify(vk, &token, 1_000, DEFAULT_LEEWAY_S).is_ok());
        assert!(verify(vk, &token, 1_029, DEFAULT_LEEWAY_S).is_ok());
        assert_eq!(
            verify(vk, &token, 1_030, DEFAULT_LEEWAY_S),
            Err(JwtError::Expired {
                exp_s: 1_000,
                now_s: 1_030
            })
        );
        assert_eq!(
            verify(vk, &token, 1_000, 0),
            Err(JwtError::Expired {
                exp_s: 1_000,
                now_s: 1_000
            })
        );
        // A leeway above 30 s is clamped.
        assert!(verify(vk, &token, 1_031, 3_600).is_err());
    }

    #[test]
    fn token_flipped_bits_refused() {
        let key = ccf_key();
        let token = issue(&key, None, &claims());
        let parts: Vec<&str> = token.split('.').collect();
        let flip = |part: &str, byte: usize| {
            let mut b = b64_decode(part, "t").unwrap();
            b[byte] ^= 0x01;
            b64_encode(&b)
        };
        // Payload: `"exp":1000` → another digit; the signature no longer matches.
        let bad_payload = format!("{}.{}.{}", parts[0], flip(parts[1], 60), parts[2]);
        assert_eq!(
            verify(key.verifying_key(), &bad_payload, 0, 30),
            Err(JwtError::BadSignature)
        );
        let bad_sig = format!("{}.{}.{}", parts[0], parts[1], flip(parts[2], 40));
        assert_eq!(
            verify(key.verifying_key(), &bad_sig, 0, 30),
            Err(JwtError::BadSignature)
        );
        // Header: `"typ"` → `"txp"` keeps it parseable; the signature covers it.
        let bad_header = format!("{}.{}.{}", flip(parts[0], 17), parts[1], parts[2]);
        assert_eq!(
            verify(key.verifying_key(), &bad_header, 0, 30),
            Err(JwtError::BadSignature)
        );
        let other = SigningKey::from_slice(&[8u8; 32]).unwrap();
        assert_eq!(
            verify(other.verifying_key(), &token, 0, 30),
            Err(JwtError::BadSignature)
        );
    }

    #[test]
    fn token_envelope_and_claims_malformed() {
        let key = ccf_key();
        let vk = key.verifying_key();
        assert_eq!(
            verify(vk, "abc", 0, 30),
            Err(JwtError::Envelope(JoseError::BadCompact(3)))
        );
        let none = format!("{}.{}.", b64_encode(br#"{"alg":"none"}"#), b64_encode(b"{}"));
        assert_eq!(verify(vk, &none, 0, 30), Err(JwtError::Envelope(JoseError::AlgNone)));
        // Signed, but not AccessTokenClaims (client_id missing).
        let token = jose::sign_compact(&key, &JwsHeader::es256(), br#"{"iss":"ccf","scope":"a:b","exp":5}"#);
        assert!(matches!(verify(vk, &token, 0, 30), Err(JwtError::Malformed(_))));
    }

    #[test]
    fn scope_parse_allows_and_display() {
        let scope = Scope::parse("aef1:api1,api2;aef2:api3").unwrap();
        assert!(scope.allows("aef1", "api1"));
        assert!(scope.allows("aef1", "api2"));
        assert!(scope.allows("aef2", "api3"));
        assert!(!scope.allows("aef2", "api1"));
        assert!(!scope.allows("aef3", "api3"));
        assert_eq!(scope.to_string(), "aef1:api1,api2;aef2:api3");
        assert_eq!(Scope::parse("3gpp#aef1:api1").unwrap().to_string(), "aef1:api1");
        let mut built = Scope::new();
        built.allow("aef2", ["api3"]).allow("aef1", ["api2", "api1"]);
        assert_eq!(built, scope);
        for bad in ["", "aef1", ":api", "aef1:", "aef1:a,,b", "aef1:a;", "a,b:c", "a:b:c"] {
            assert!(Scope::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn authorize_checks_scope_revocation_issuer() {
        let key = ccf_key();
        let token = issue(&key, None, &claims());
        let vk = key.verifying_key();
        let none = RevocationSet::default();
        assert!(authorize(vk, &token, &check(&none, 10, "aef2", "api3")).is_ok());
        assert_eq!(
            authorize(vk, &token, &check(&none, 10, "aef2", "api1")),
            Err(JwtError::ScopeDenied {
                aef: "aef2".into(),
                api: "api1".into()
            })
        );
        let mut by_jti = RevocationSet::default();
        by_jti.jtis.insert("ccf-1".into());
        assert_eq!(
            authorize(vk, &token, &check(&by_jti, 10, "aef1", "api1")),
            Err(JwtError::Revoked)
        );
        let mut by_client = RevocationSet::default();
        by_client.client_ids.insert("invoker-42".into());
        assert_eq!(
            authorize(vk, &token, &check(&by_client, 10, "aef1", "api1")),
            Err(JwtError::Revoked)
        );
        let mut c = check(&none, 10, "aef1", "api1");
        c.issuer = Some("ccf.operator-b.example");
        assert!(matches!(
            authorize(vk, &token, &c),
            Err(JwtError::IssuerMismatch { .. })
        ));
        // Expiry is checked before scope and revocation.
        assert!(matches!(
            authorize(vk, &token, &check(&by_jti, 2_000, "aef9", "x")),
            Err(JwtError::Expired { .. })
        ));
    }
}
