//! CAPIF-2e authentication (TS 33.122 6.5.2): method 1 TLS-PSK with AEFPSK (6.5.2.1 as
//! changed by seed 003), method 2 TLS-PKI (6.5.2.2), method 3 TLS + OAuth token (6.5.2.3,
//! Annex C). Pure functions and stores; [`super::machines`] drives them.
//!
//! ```text
//!  invoker                     CCF                               AEF
//!    |== CAPIF-1e TLS ==========|                                 |
//!    | derive AEFPSK, start     | derive AEFPSK, start timer      |
//!    | timer (validity from CCF)|                                 |
//!    |-- check-authentication {apiInvokerId} -------------------->|  valid key? no:
//!    |                          |<-- GET /trustedInvokers/{id} ---|  FetchSecurityInfo
//!    |                          |--- 200 authenticationInfo ----->|  key + remaining|absolute
//!    |<-- 200 CheckAuthenticationRsp -----------------------------|  start timer
//!    |== TLS-PSK (identity = apiInvokerId, key = AEFPSK) ========>|  refused after expiry
//! ```
//!
//! Knobs (seed 003):
//! - [`ValidityEncoding`]: the CCF gives the AEF the *remaining* validity (spec text; immune
//!   to clock offset, stretched by transfer delay) or the *absolute* expiry (exact with synced
//!   clocks, wrong by the skew otherwise). Default `Remaining`.
//! - [`ExpiryBehaviour`]: at expiry the AEF closes the sessions keyed with it, or only refuses
//!   new handshakes. Default `BlockNewHandshakes`.
//!
//! Wire encoding (secsim; Rel-18 has no field): the AEF gets the key in the ServiceSecurity
//! `authenticationInfo` string `aefpsk=<base64url>;remaining-ns=<n>` or
//! `aefpsk=<base64url>;expires-at-ns=<t>`. PSK identity on CAPIF-2e = apiInvokerId (DIGEST 9).
//! A missing interface port means 443 in P0.

use std::collections::BTreeMap;

use p256::ecdsa::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::crypto::aefpsk::{
    self, AefHost, AefPskEntry, AefPskError, AefPskVariant, Capif1eSession, ServiceApiInterface,
};
use crate::crypto::jose::{b64_decode, b64_encode};
use crate::crypto::jwt::{self, AccessTokenClaims, JwtError, RevocationSet, Scope};
use crate::crypto::pki::{Certificate, PkiError, RevocationList, Role, verify_chain};
use crate::engine::time::{SimDuration, SimTime};
use crate::proto::capif::types::{
    AccessTokenErr, AccessTokenError, AccessTokenReq, AccessTokenRsp, CheckAuthenticationReq, CheckAuthenticationRsp,
    InterfaceAddress, InterfaceDescription, TokenType,
};
use crate::proto::common::SupportedFeatures;

/// Why authentication failed. All are caused by a peer or the scenario; none is fatal.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
pub enum AuthError {
    /// AEFPSK derivation failed.
    #[error(transparent)]
    Derive(#[from] AefPskError),
    /// The interface address is not an FQDN or IP address.
    #[error("capif: bad interface address `{0}`")]
    BadInterface(String),
    /// The AEF has no AEFPSK for the invoker (unknown PSK identity).
    #[error("aef: no aefpsk for invoker `{0}`")]
    NoKey(String),
    /// The AEFPSK's validity timer ran out.
    #[error("aef: aefpsk of invoker `{0}` expired")]
    KeyExpired(String),
    /// The invoker's key differs from the AEF's (TLS handshake failure).
    #[error("aef: aefpsk of invoker `{0}` does not match")]
    PskMismatch(String),
    /// The authenticationInfo from the CCF does not parse.
    #[error("aef: malformed authenticationInfo `{0}`")]
    BadSecurityInfo(String),
    /// The invoker's certificate chain does not verify.
    #[error(transparent)]
    Pki(#[from] PkiError),
    /// The certificate is valid but not the invoker's.
    #[error("aef: certificate of `{subject}` does not identify invoker `{invoker}`")]
    WrongIdentity {
        /// Certificate subject.
        subject: String,
        /// Expected invoker.
        invoker: String,
    },
    /// The access token was refused.
    #[error(transparent)]
    Token(#[from] JwtError),
}

/// How the CCF tells the AEF the AEFPSK validity (seed 003). Default `Remaining`.
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, PartialEq, Serialize, schemars::JsonSchema)]
pub enum ValidityEncoding {
    /// Remaining time; the AEF adds it to its own clock (TS 33.122 6.5.2.1 step 4).
    #[default]
    Remaining,
    /// Absolute expiry in the CCF's clock; the AEF compares with its own (skew matters).
    Absolute,
}

impl ValidityEncoding {
    /// Every alternative, in declaration order (the random cases draw from it).
    pub const ALL: [ValidityEncoding; 2] = [ValidityEncoding::Remaining, ValidityEncoding::Absolute];
}

/// What the AEF does when an AEFPSK expires (seed 003). Default `BlockNewHandshakes`.
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, PartialEq, Serialize, schemars::JsonSchema)]
pub enum ExpiryBehaviour {
    /// Close established sessions keyed with it too.
    CloseSessions,
    /// Keep established sessions, refuse new handshakes.
    #[default]
    BlockNewHandshakes,
}

impl ExpiryBehaviour {
    /// Every alternative, in declaration order (the random cases draw from it).
    pub const ALL: [ExpiryBehaviour; 2] = [ExpiryBehaviour::CloseSessions, ExpiryBehaviour::BlockNewHandshakes];
}

/// The validity the CCF hands to the AEF.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum KeyValidity {
    /// Remaining validity.
    Remaining(SimDuration),
    /// Absolute expiry (CCF clock).
    Absolute(SimTime),
}

/// AEFPSK with its validity, as the CCF gives it to the AEF over CAPIF-3.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct PskGrant {
    /// The key.
    pub key: [u8; 32],
    /// Its validity.
    pub validity: KeyValidity,
}

impl PskGrant {
    /// The `authenticationInfo` string (secsim encoding, see module doc).
    pub fn to_authentication_info(&self) -> String {
        let k = b64_encode(&self.key);
        match self.validity {
            KeyValidity::Remaining(d) => format!("aefpsk={k};remaining-ns={}", d.as_nanos()),
            KeyValidity::Absolute(t) => format!("aefpsk={k};expires-at-ns={}", t.as_nanos()),
        }
    }

    /// Parses [`PskGrant::to_authentication_info`].
    pub fn parse(text: &str) -> Result<PskGrant, AuthError> {
        let bad = || AuthError::BadSecurityInfo(text.to_owned());
        let (k, v) = text.split_once(';').ok_or_else(bad)?;
        let key = b64_decode(k.strip_prefix("aefpsk=").ok_or_else(bad)?, "aefpsk").map_err(|_| bad())?;
        let key: [u8; 32] = key.try_into().map_err(|_| bad())?;
        let validity = if let Some(n) = v.strip_prefix("remaining-ns=") {
            KeyValidity::Remaining(SimDuration::from_nanos(n.parse().map_err(|_| bad())?))
        } else if let Some(n) = v.strip_prefix("expires-at-ns=") {
            KeyValidity::Absolute(SimTime::from_nanos(n.parse().map_err(|_| bad())?))
        } else {
            return Err(bad());
        };
        Ok(PskGrant { key, validity })
    }
}

/// P0 input from an InterfaceDescription (port 443 when absent, empty prefix when absent).
pub fn service_api_interface(iface: &InterfaceDescription) -> Result<ServiceApiInterface, AuthError> {
    let host = match &iface.address {
        InterfaceAddress::Fqdn(f) => AefHost::Fqdn(f.clone()),
        InterfaceAddress::Ipv4Addr(a) | InterfaceAddress::Ipv6Addr(a) => {
            AefHost::Ip(a.parse().map_err(|_| AuthError::BadInterface(a.clone()))?)
        }
    };
    Ok(ServiceApiInterface {
        host,
        port: iface.port.unwrap_or(443),
        api_prefix: iface.api_prefix.clone().unwrap_or_default(),
    })
}

/// Invoker and CCF: derive AEFPSK for one AEF interface from the CAPIF-1e session and start
/// its validity timer at `now`.
pub fn derive_entry(
    now: SimTime,
    variant: AefPskVariant,
    session: Capif1eSession<'_>,
    iface: &InterfaceDescription,
    validity: SimDuration,
) -> Result<AefPskEntry, AuthError> {
    //= TS 33.122 6.5.2.1 step 2: invoker and CCF derive AEFPSK (Annex A) and start the timer
    let key = aefpsk::derive(variant, session, &service_api_interface(iface)?)?;
    Ok(AefPskEntry::new(key, now, validity))
}

/// The CCF's AEFPSKs per (invoker, AEF).
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct CcfPskStore {
    keys: BTreeMap<(String, String), AefPskEntry>,
}

impl CcfPskStore {
    /// Stores the CCF's copy.
    pub fn install(&mut self, invoker: &str, aef: &str, entry: AefPskEntry) {
        self.keys.insert((invoker.to_owned(), aef.to_owned()), entry);
    }

    /// What the CCF hands to the AEF at `now` (`None`: no valid key).
    pub fn grant(&self, now: SimTime, invoker: &str, aef: &str, encoding: ValidityEncoding) -> Option<PskGrant> {
        let e = self.keys.get(&(invoker.to_owned(), aef.to_owned()))?;
        if !e.is_valid(now) {
            return None;
        }
        //= TS 33.122 6.5.2.1 step 4 (seed 003): the CCF provides the remaining validity timer value
        let validity = match encoding {
            ValidityEncoding::Remaining => KeyValidity::Remaining(e.remaining(now)),
            ValidityEncoding::Absolute => KeyValidity::Absolute(e.expires_at),
        };
        Some(PskGrant { key: e.key, validity })
    }
}

/// The AEF's answer to `check-authentication`.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum CheckOutcome {
    /// A valid key is present: answer now.
    Ready(CheckAuthenticationRsp),
    /// Fetch the security information over CAPIF-3 first.
    FetchSecurityInfo {
        /// The invoker.
        invoker: String,
    },
}

/// The AEF's AEFPSKs per invoker, with its established CAPIF-2e sessions.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct AefPskCache {
    /// What happens at expiry.
    pub behaviour: ExpiryBehaviour,
    keys: BTreeMap<String, AefPskEntry>,
    sessions: BTreeMap<String, SimTime>,
    /// Deliberate bugs (tests only).
    pub mutants: crate::audit::mutant::Mutants,
}

impl AefPskCache {
    /// An empty cache.
    pub fn new(behaviour: ExpiryBehaviour) -> Self {
        AefPskCache {
            behaviour,
            ..Self::default()
        }
    }

    /// The same cache with deliberate bugs `mutants` (tests only).
    pub fn with_mutants(mut self, mutants: crate::audit::mutant::Mutants) -> Self {
        self.mutants = mutants;
        self
    }

    /// The key of `invoker`, valid or not.
    pub fn entry(&self, invoker: &str) -> Option<&AefPskEntry> {
        self.keys.get(invoker)
    }

    /// `POST /check-authentication` (TS 29.222 AEF_Security_API).
    pub fn check_authentication(&self, now: SimTime, req: &CheckAuthenticationReq) -> CheckOutcome {
        //= TS 33.122 6.5.2.1 step 4: request security information if the AEF has no valid key
        match self.keys.get(&req.api_invoker_id) {
            Some(e) if e.is_valid(now) => CheckOutcome::Ready(CheckAuthenticationRsp {
                supported_features: SupportedFeatures::none(),
            }),
            _ => CheckOutcome::FetchSecurityInfo {
                invoker: req.api_invoker_id.clone(),
            },
        }
    }

    /// Installs a key from the CCF at the AEF's `now`; returns the entry (its `expires_at` is
    /// the AEF's timer).
    pub fn install(&mut self, now: SimTime, invoker: &str, grant: &PskGrant) -> AefPskEntry {
        //= TS 33.122 6.5.2.1 step 5: the AEF starts the timer from the value received
        let expires_at = match grant.validity {
            // The bug: the validity received is ignored; the key is kept for a year.
            _ if self.mutants.on(crate::audit::mutant::Mutant::Capif(
                crate::audit::capif::CapifMutant::AcceptExpiredPsk,
            )) =>
            {
                now.saturating_add(SimDuration::from_secs(365 * 86_400))
            }
            KeyValidity::Remaining(d) => now.saturating_add(d),
            KeyValidity::Absolute(t) => t,
        };
        let e = AefPskEntry {
            key: grant.key,
            expires_at,
        };
        self.keys.insert(invoker.to_owned(), e.clone());
        e
    }

    /// A TLS-PSK handshake on CAPIF-2e with PSK identity `identity` and the invoker's key.
    pub fn accept_handshake(&mut self, now: SimTime, identity: &str, invoker_key: &[u8; 32]) -> Result<(), AuthError> {
        let e = self
            .keys
            .get(identity)
            .ok_or_else(|| AuthError::NoKey(identity.to_owned()))?;
        if !e.is_valid(now) {
            return Err(AuthError::KeyExpired(identity.to_owned()));
        }
        // (The AefpskWrongLabel bug: only the PSK identity is looked at.)
        if &e.key != invoker_key
            && !self.mutants.on(crate::audit::mutant::Mutant::Capif(
                crate::audit::capif::CapifMutant::AefpskWrongLabel,
            ))
        {
            return Err(AuthError::PskMismatch(identity.to_owned()));
        }
        //= TS 33.122 6.5.2.1 step 6: mutual authentication with AEFPSK
        self.sessions.insert(identity.to_owned(), now);
        Ok(())
    }

    /// Forgets the key and sessions of `invoker` (revocation).
    pub fn remove(&mut self, invoker: &str) {
        self.keys.remove(invoker);
        self.sessions.remove(invoker);
    }

    /// Whether `invoker` has an established CAPIF-2e session.
    pub fn has_session(&self, invoker: &str) -> bool {
        self.sessions.contains_key(invoker)
    }

    /// Drops expired keys; returns the invokers whose sessions close (only with
    /// [`ExpiryBehaviour::CloseSessions`]).
    pub fn expire(&mut self, now: SimTime) -> Vec<String> {
        let expired: Vec<String> = self
            .keys
            .iter()
            .filter(|(_, e)| !e.is_valid(now))
            .map(|(k, _)| k.clone())
            .collect();
        let mut closed = Vec::new();
        for inv in expired {
            self.keys.remove(&inv);
            if self.behaviour == ExpiryBehaviour::CloseSessions && self.sessions.remove(&inv).is_some() {
                closed.push(inv);
            }
        }
        closed
    }
}

/// Method 2: the AEF verifies the invoker's certificate against the CA certificate(s) it got
/// from the CCF, and that it names `invoker` with the invoker role (TS 33.122 6.5.2.2).
pub fn verify_invoker_certificate(
    now_s: u64,
    cert: &Certificate,
    intermediates: &[Certificate],
    ccf_anchors: &[Certificate],
    revoked: &RevocationList,
    invoker: &str,
) -> Result<(), AuthError> {
    //= TS 33.122 6.5.2.2: certificate-based mutual TLS on CAPIF-2e
    verify_chain(cert, intermediates, ccf_anchors, now_s, revoked)?;
    cert.check_role(Role::Invoker)?;
    if cert.subject != invoker {
        return Err(AuthError::WrongIdentity {
            subject: cert.subject.clone(),
            invoker: invoker.to_owned(),
        });
    }
    Ok(())
}

/// Method 3: the CCF's token endpoint (`POST /securities/{securityId}/token`, TS 33.122
/// Annex C client credentials).
#[derive(Clone, Debug)]
pub struct TokenEndpoint {
    key: SigningKey,
    /// `iss` of issued tokens (the CCF ID).
    pub issuer: String,
    /// Token lifetime \[s\].
    pub lifetime_s: u64,
    next_jti: u64,
}

impl TokenEndpoint {
    /// An endpoint signing with `key`.
    pub fn new(key: SigningKey, issuer: impl Into<String>, lifetime_s: u64) -> Self {
        TokenEndpoint {
            key,
            issuer: issuer.into(),
            lifetime_s,
            next_jti: 1,
        }
    }

    /// The key AEFs verify tokens with.
    pub fn verifying_key(&self) -> VerifyingKey {
        *self.key.verifying_key()
    }

    /// Handles an AccessTokenReq. `client_ok`: the CCF authenticated `client_id` (onboarded,
    /// CAPIF-1e identity matches); `allowed`: the invoker's authorized APIs. Without `scope`
    /// the whole `allowed` scope is granted; with one, every API must be allowed.
    pub fn handle_token_request(
        &mut self,
        now_s: u64,
        req: &AccessTokenReq,
        client_ok: bool,
        allowed: &Scope,
    ) -> Result<AccessTokenRsp, AccessTokenErr> {
        let err = |error| AccessTokenErr {
            error,
            error_description: None,
            error_uri: None,
        };
        if !client_ok {
            return Err(err(AccessTokenError::InvalidClient));
        }
        let scope = match &req.scope {
            None => allowed.to_string(),
            Some(s) => {
                let text = s.strip_prefix("3gpp#").unwrap_or(s);
                Scope::parse(text).map_err(|_| err(AccessTokenError::InvalidScope))?;
                let all_allowed = text.split(';').all(|g| {
                    g.split_once(':')
                        .is_some_and(|(aef, apis)| apis.split(',').all(|api| allowed.allows(aef, api)))
                });
                if !all_allowed {
                    return Err(err(AccessTokenError::InvalidScope));
                }
                text.to_owned()
            }
        };
        if scope.is_empty() {
            return Err(err(AccessTokenError::InvalidScope));
        }
        let claims = AccessTokenClaims {
            iss: self.issuer.clone(),
            scope: scope.clone(),
            exp: now_s.saturating_add(self.lifetime_s),
            client_id: req.client_id.clone(),
            res_owner_id: None,
            jti: Some(format!("{}-{}", self.issuer, self.next_jti)),
        };
        self.next_jti += 1;
        //= TS 33.122 Annex C: JWS-signed bearer token with exp, client_id, scope
        Ok(AccessTokenRsp {
            access_token: jwt::issue(&self.key, None, &claims),
            token_type: TokenType::default(),
            expires_in: self.lifetime_s,
            scope: Some(scope),
        })
    }
}

/// Method 3 at the AEF: the CCF's key, leeway and revocations.
#[derive(Clone, Debug)]
pub struct TokenVerifier {
    /// The CCF's token key.
    pub ccf_key: VerifyingKey,
    /// Expected issuer (`None`: not checked).
    pub issuer: Option<String>,
    /// Further CCFs whose tokens the AEF accepts, (issuer, token key): with CAPIF
    /// interconnection CCF-B issues the tokens of the invokers onboarded at it (TS 33.122
    /// cl. 6.X.3.3, seed 002, `oauth: CcfBIssues`), and the AEF verifies each token with the
    /// key of the CCF that issued it (cl. 6.5.2.3, Annex C). The key is chosen by the token's
    /// `iss`, and the signature then proves that issuer; a token naming no trusted issuer is
    /// checked against `ccf_key` (and fails as before).
    pub also_trusted: Vec<(String, VerifyingKey)>,
    /// Clock-skew leeway \[s\] (clamped to 30 s).
    pub leeway_s: u64,
    /// Revoked tokens and invokers.
    pub revoked: RevocationSet,
}

impl TokenVerifier {
    /// Signature, expiry (with leeway), issuer, revocation (TS 33.122 Annex C). Scope is
    /// checked per invocation by [`super::authorization::authorize_with_token`].
    pub fn verify(&self, now_s: u64, token: &str) -> Result<AccessTokenClaims, AuthError> {
        // The issuer the token names (unverified: it only selects the key to verify with).
        let named = token
            .split('.')
            .nth(1)
            .and_then(|p| crate::crypto::jose::b64_decode(p, "payload").ok())
            .and_then(|p| serde_json::from_slice::<AccessTokenClaims>(&p).ok())
            .map(|c| c.iss);
        let other = named
            .as_ref()
            .filter(|n| self.issuer.as_ref() != Some(*n))
            .and_then(|n| self.also_trusted.iter().find(|(i, _)| i == n));
        let (key, expected) = match other {
            Some((issuer, key)) => (key, Some(issuer)),
            None => (&self.ccf_key, self.issuer.as_ref()),
        };
        let claims = jwt::verify(key, token, now_s, self.leeway_s)?;
        if let Some(iss) = expected
            && &claims.iss != iss
        {
            return Err(JwtError::IssuerMismatch {
                expected: iss.clone(),
                actual: claims.iss,
            }
            .into());
        }
        //= TS 33.122 Annex C: the AEF rejects revoked tokens
        self.revoked.check(&claims)?;
        Ok(claims)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::crypto::pki::{Ca, Subject, Validity, key_from_rng};
    use crate::crypto::tls12;
    use crate::crypto::tls13::{ClientHandshake, ClientMode, ServerHandshake, Tls13Secrets};
    use crate::proto::capif::security_method::tests::iface;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    pub(crate) fn tls13_pair(seed: u64) -> (Tls13Secrets, Tls13Secrets) {
        let (c, ch) = ClientHandshake::start(&mut ChaCha8Rng::seed_from_u64(seed), ClientMode::Full).unwrap();
        let (s, flight) = ServerHandshake::respond(&mut ChaCha8Rng::seed_from_u64(seed + 1), &ch, |_| None).unwrap();
        let (cf, cs) = c.finish(&flight).unwrap();
        (cs, s.finish(&cf).unwrap())
    }

    const HOUR: SimDuration = SimDuration::from_secs(3600);

    fn through_ccf(inv: &AefPskEntry, ccf: AefPskEntry, now: SimTime, enc: ValidityEncoding) -> AefPskCache {
        let mut store = CcfPskStore::default();
        store.install("INV1", "aef1", ccf);
        let grant = store.grant(now, "INV1", "aef1", enc).unwrap();
        let wire = grant.to_authentication_info();
        let mut aef = AefPskCache::new(ExpiryBehaviour::BlockNewHandshakes);
        let req = CheckAuthenticationReq {
            api_invoker_id: "INV1".into(),
            supported_features: SupportedFeatures::none(),
        };
        assert!(matches!(
            aef.check_authentication(now, &req),
            CheckOutcome::FetchSecurityInfo { .. }
        ));
        aef.install(now, "INV1", &PskGrant::parse(&wire).unwrap());
        assert!(matches!(aef.check_authentication(now, &req), CheckOutcome::Ready(_)));
        aef.accept_handshake(now, "INV1", &inv.key).unwrap();
        aef
    }

    #[test]
    fn invoker_and_aef_share_aefpsk_both_variants() {
        let s12 = tls12::handshake(
            &mut ChaCha8Rng::seed_from_u64(1),
            &mut ChaCha8Rng::seed_from_u64(2),
            true,
        )
        .unwrap();
        let (c13, s13) = tls13_pair(7);
        let cases = [
            (
                AefPskVariant::Tls12MasterSecret,
                Capif1eSession::Tls12(&s12),
                Capif1eSession::Tls12(&s12),
            ),
            (
                AefPskVariant::Tls13Exporter,
                Capif1eSession::Tls13(&c13),
                Capif1eSession::Tls13(&s13),
            ),
        ];
        let t0 = SimTime::ZERO;
        for (variant, inv_side, ccf_side) in cases {
            let inv = derive_entry(t0, variant, inv_side, &iface(None), HOUR).unwrap();
            let ccf = derive_entry(t0, variant, ccf_side, &iface(None), HOUR).unwrap();
            assert_eq!(inv, ccf);
            let later = t0 + SimDuration::from_secs(600);
            let aef = through_ccf(&inv, ccf, later, ValidityEncoding::Remaining);
            assert_eq!(aef.entry("INV1").unwrap().key, inv.key);
            assert_eq!(aef.entry("INV1").unwrap().expires_at, inv.expires_at);
        }
    }

    #[test]
    fn expired_aefpsk_is_refused() {
        let s12 = tls12::handshake(
            &mut ChaCha8Rng::seed_from_u64(3),
            &mut ChaCha8Rng::seed_from_u64(4),
            true,
        )
        .unwrap();
        let v = AefPskVariant::Tls12MasterSecret;
        let inv = derive_entry(SimTime::ZERO, v, Capif1eSession::Tls12(&s12), &iface(None), HOUR).unwrap();
        let mut aef = through_ccf(&inv, inv.clone(), SimTime::ZERO, ValidityEncoding::Absolute);
        let after = SimTime::ZERO + HOUR;
        assert_eq!(
            aef.accept_handshake(after, "INV1", &inv.key),
            Err(AuthError::KeyExpired("INV1".into()))
        );
        // BlockNewHandshakes keeps the session; the key is dropped
        assert!(aef.expire(after).is_empty());
        assert!(aef.has_session("INV1"));
        assert_eq!(
            aef.accept_handshake(after, "INV1", &inv.key),
            Err(AuthError::NoKey("INV1".into()))
        );
        // the CCF gives nothing after expiry
        let mut store = CcfPskStore::default();
        store.install("INV1", "aef1", inv.clone());
        assert!(
            store
                .grant(after, "INV1", "aef1", ValidityEncoding::Remaining)
                .is_none()
        );
        // CloseSessions closes it
        let mut aef = through_ccf(&inv, inv.clone(), SimTime::ZERO, ValidityEncoding::Remaining);
        aef.behaviour = ExpiryBehaviour::CloseSessions;
        assert_eq!(aef.expire(after), vec!["INV1".to_owned()]);
        assert!(!aef.has_session("INV1"));
        // wrong key
        let mut aef = through_ccf(&inv, inv.clone(), SimTime::ZERO, ValidityEncoding::Remaining);
        assert!(matches!(
            aef.accept_handshake(SimTime::ZERO, "INV1", &[0; 32]),
            Err(AuthError::PskMismatch(_))
        ));
    }

    #[test]
    fn absolute_encoding_suffers_skew_remaining_does_not() {
        let entry = AefPskEntry::new([1; 32], SimTime::ZERO, HOUR);
        let mut store = CcfPskStore::default();
        store.install("INV1", "aef1", entry);
        let ccf_now = SimTime::ZERO + SimDuration::from_secs(100);
        let aef_now = ccf_now + SimDuration::from_secs(30); // AEF clock 30 s ahead
        let mut aef = AefPskCache::default();
        let rem = store
            .grant(ccf_now, "INV1", "aef1", ValidityEncoding::Remaining)
            .unwrap();
        let abs = store
            .grant(ccf_now, "INV1", "aef1", ValidityEncoding::Absolute)
            .unwrap();
        // remaining: the AEF's timer runs the full remaining 3500 s on its own clock
        assert_eq!(
            aef.install(aef_now, "INV1", &rem).expires_at,
            aef_now + SimDuration::from_secs(3500)
        );
        // absolute: compared with a clock 30 s ahead, 30 s are lost
        assert_eq!(aef.install(aef_now, "INV1", &abs).expires_at, SimTime::ZERO + HOUR);
        assert!(PskGrant::parse("aefpsk=AA;remaining-ns=1").is_err());
    }

    #[test]
    fn untrusted_chain_is_refused() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let v = Validity {
            not_before_s: 0,
            not_after_s: 1 << 30,
        };
        let mut ca = Ca::new_root(key_from_rng(&mut rng), Subject::new("ccf-ca", Role::Ca, "op1"), v).unwrap();
        let mut rogue = Ca::new_root(key_from_rng(&mut rng), Subject::new("ccf-ca", Role::Ca, "op1"), v).unwrap();
        let subj = Subject::new("INV1", Role::Invoker, "op1");
        let (_, good) = ca.issue_identity(&mut rng, &subj, v).unwrap();
        let (_, bad) = rogue.issue_identity(&mut rng, &subj, v).unwrap();
        let anchors = [ca.certificate().clone()];
        let rl = RevocationList::new();
        verify_invoker_certificate(5, &good, &[], &anchors, &rl, "INV1").unwrap();
        assert!(matches!(
            verify_invoker_certificate(5, &bad, &[], &anchors, &rl, "INV1"),
            Err(AuthError::Pki(_))
        ));
        assert!(matches!(
            verify_invoker_certificate(5, &good, &[], &anchors, &rl, "INV2"),
            Err(AuthError::WrongIdentity { .. })
        ));
    }

    /// Issue 12: an AEF that serves home and interconnected invokers verifies each token with
    /// the key of the CCF that issued it; a token whose `iss` names a trusted CCF but that
    /// another key signed is refused, and so is a token of an untrusted CCF.
    #[test]
    fn token_of_each_trusted_ccf_verifies_with_its_own_key() {
        let mut rng = ChaCha8Rng::seed_from_u64(12);
        let mut ccf_a = TokenEndpoint::new(key_from_rng(&mut rng), "ccf-a", 600);
        let mut ccf_b = TokenEndpoint::new(key_from_rng(&mut rng), "ccf-b", 600);
        let mut rogue = TokenEndpoint::new(key_from_rng(&mut rng), "ccf-b", 600);
        let mut other = TokenEndpoint::new(key_from_rng(&mut rng), "ccf-c", 600);
        let req = AccessTokenReq::client_credentials("INV1", None);
        let tok = |ep: &mut TokenEndpoint| {
            ep.handle_token_request(1000, &req, true, &scope())
                .unwrap()
                .access_token
        };
        let (a, b, forged, c) = (tok(&mut ccf_a), tok(&mut ccf_b), tok(&mut rogue), tok(&mut other));
        let mut aef = TokenVerifier {
            ccf_key: ccf_a.verifying_key(),
            issuer: Some("ccf-a".into()),
            also_trusted: Vec::new(),
            leeway_s: 0,
            revoked: RevocationSet::default(),
        };
        assert!(aef.verify(1100, &a).is_ok());
        // Configured with CCF-A's key only (the bug): CCF-B's token fails the signature.
        assert!(matches!(aef.verify(1100, &b), Err(AuthError::Token(_))));
        aef.also_trusted.push(("ccf-b".into(), ccf_b.verifying_key()));
        assert_eq!(aef.verify(1100, &b).unwrap().iss, "ccf-b");
        assert!(aef.verify(1100, &a).is_ok());
        assert!(aef.verify(1100, &forged).is_err(), "`iss: ccf-b` signed by another key");
        assert!(aef.verify(1100, &c).is_err(), "an issuer the AEF does not trust");
        aef.revoked.client_ids.insert("INV1".into());
        assert_eq!(aef.verify(1100, &b), Err(AuthError::Token(JwtError::Revoked)));
    }

    pub(crate) fn scope() -> Scope {
        let mut s = Scope::new();
        s.allow("aef1", ["api1", "api2"]);
        s
    }

    #[test]
    fn token_issue_verify_expire_revoke() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut ep = TokenEndpoint::new(key_from_rng(&mut rng), "ccf1", 600);
        let req = AccessTokenReq::client_credentials("INV1", Some("3gpp#aef1:api1".into()));
        let rsp = ep.handle_token_request(1000, &req, true, &scope()).unwrap();
        assert_eq!((rsp.expires_in, rsp.scope.as_deref()), (600, Some("aef1:api1")));
        let v = serde_json::to_value(&rsp).unwrap();
        assert_eq!(v["token_type"], "Bearer");
        assert_eq!(serde_json::from_value::<AccessTokenRsp>(v).unwrap(), rsp);
        let full = ep
            .handle_token_request(1000, &AccessTokenReq::client_credentials("INV1", None), true, &scope())
            .unwrap();
        assert_eq!(full.scope.as_deref(), Some("aef1:api1,api2"));
        let e = ep.handle_token_request(1000, &req, false, &scope()).unwrap_err();
        assert_eq!(e.error, AccessTokenError::InvalidClient);
        let wide = AccessTokenReq::client_credentials("INV1", Some("aef1:api9".into()));
        assert_eq!(
            ep.handle_token_request(1000, &wide, true, &scope()).unwrap_err().error,
            AccessTokenError::InvalidScope
        );

        let mut aef = TokenVerifier {
            ccf_key: ep.verifying_key(),
            issuer: Some("ccf1".into()),
            also_trusted: Vec::new(),
            leeway_s: 30,
            revoked: RevocationSet::default(),
        };
        let claims = aef.verify(1500, &rsp.access_token).unwrap();
        assert_eq!(claims.client_id, "INV1");
        assert!(aef.verify(1629, &rsp.access_token).is_ok()); // within leeway
        assert!(matches!(
            aef.verify(1630, &rsp.access_token),
            Err(AuthError::Token(JwtError::Expired { .. }))
        ));
        aef.revoked.jtis.insert(claims.jti.clone().unwrap());
        assert_eq!(
            aef.verify(1500, &rsp.access_token),
            Err(AuthError::Token(JwtError::Revoked))
        );
        assert!(aef.verify(1500, &full.access_token).is_ok());
        aef.issuer = Some("other".into());
        assert!(aef.verify(1500, &full.access_token).is_err());
    }
}
