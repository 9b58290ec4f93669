//! Onboarding on CAPIF-1e (TS 33.122 6.1; TS 29.222 5.5 `POST /onboardedInvokers`).
//!
//! ```text
//!  invoker                                            CCF
//!    |  server-auth TLS (CAPIF-1e)                     |
//!    |-- POST /onboardedInvokers ---------------------->|  APIInvokerEnrolmentDetails
//!    |   onboardingInformation{apiInvokerPublicKey,    |  check onboarding secret
//!    |   onboardingSecret}                             |  draw apiInvokerId (rng)
//!    |<-- 201 {apiInvokerId, apiInvokerCertificate} ---|  issue cert for the key (CCF CA)
//! ```
//!
//! Decisions (secsim):
//! - `apiInvokerPublicKey` is the base64url (no padding) SEC1 compressed P-256 key, and
//!   `apiInvokerCertificate` in the answer the base64url of [`Certificate::to_bytes`].
//! - The certificate is issued for the *presented* key (not a CCF-generated identity), so the
//!   invoker's private key never leaves it.
//! - The invoker ID is `INV` followed by 16 hex digits of one `u64` drawn from the CCF's RNG;
//!   a collision redraws (bounded).
//! - Refusals: a bad onboarding secret is 401 `INVALID_ONBOARDING_SECRET`, an unparsable key is
//!   400 `INVALID_API_INVOKER_PUBLIC_KEY` (secsim causes; TS 29.222 names none).

// ProblemDetails is the answer body itself: boxing it would only move the allocation.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;

use p256::ecdsa::VerifyingKey;
use rand::RngCore;

use crate::crypto::jose::{b64_decode, b64_encode};
use crate::crypto::pki::{Ca, Certificate, Role, Subject, Validity};
use crate::engine::time::{SimDuration, SimTime};
use crate::proto::capif::types::{ApiInvokerEnrolmentDetails, OnboardingInformation};
use crate::proto::common::{ProblemDetails29122, Uri};

/// Cause of a 401 to an onboarding request with a bad onboarding secret (secsim).
pub const CAUSE_INVALID_ONBOARDING_SECRET: &str = "INVALID_ONBOARDING_SECRET";
/// Cause of a 400 to an onboarding request whose public key does not parse (secsim).
pub const CAUSE_INVALID_PUBLIC_KEY: &str = "INVALID_API_INVOKER_PUBLIC_KEY";
/// Cause of a 500 when the CCF cannot issue a certificate (scenario error).
pub const CAUSE_CERTIFICATE_ISSUANCE: &str = "CERTIFICATE_ISSUANCE_FAILED";

/// What the CCF answers to a successful onboarding.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct OnboardResult {
    /// The CCF-assigned API invoker ID (also the PSK identity on CAPIF-2e, DIGEST 9).
    pub api_invoker_id: String,
    /// The invoker's certificate, issued by the CCF's CA for its public key.
    pub certificate: Certificate,
}

impl OnboardResult {
    /// The 201 body: the request echoed with `apiInvokerId` and `apiInvokerCertificate` set.
    pub fn response_body(&self, req: &ApiInvokerEnrolmentDetails) -> ApiInvokerEnrolmentDetails {
        let mut rsp = req.clone();
        rsp.api_invoker_id = Some(self.api_invoker_id.clone());
        rsp.onboarding_information.api_invoker_certificate = Some(b64_encode(&self.certificate.to_bytes()));
        rsp.onboarding_information.onboarding_secret = None;
        rsp
    }
}

/// The invoker's request (TS 29.222 5.5.2.2): its public key and onboarding secret.
pub fn enrolment_request(
    key: &VerifyingKey,
    onboarding_secret: Option<String>,
    notification_destination: Uri,
) -> ApiInvokerEnrolmentDetails {
    ApiInvokerEnrolmentDetails {
        api_invoker_id: None,
        onboarding_information: OnboardingInformation {
            api_invoker_public_key: encode_public_key(key),
            api_invoker_certificate: None,
            onboarding_secret,
        },
        notification_destination,
        request_test_notification: None,
        websock_notif_config: None,
        api_list: None,
        api_invoker_information: None,
        supported_features: None,
    }
}

/// The `apiInvokerPublicKey` encoding: base64url of the SEC1 compressed point.
pub fn encode_public_key(key: &VerifyingKey) -> String {
    b64_encode(key.to_encoded_point(true).as_bytes())
}

/// Parses an `apiInvokerPublicKey` (`VerifyingKey::from_sec1_bytes`, without decompressing a
/// key this thread drew: [`crate::crypto::pki::public_key_from_sec1`]).
pub fn decode_public_key(text: &str) -> Option<VerifyingKey> {
    let bytes = b64_decode(text, "apiInvokerPublicKey").ok()?;
    crate::crypto::pki::public_key_from_sec1(&bytes)
}

/// Parses the `apiInvokerCertificate` of a 201 answer.
pub fn decode_certificate(text: &str) -> Option<Certificate> {
    Certificate::from_bytes(&b64_decode(text, "apiInvokerCertificate").ok()?).ok()
}

/// The CCF's onboarding service: its CA and the onboarded invokers.
#[derive(Clone, Debug)]
pub struct OnboardingService {
    ca: Ca,
    domain: String,
    cert_validity: SimDuration,
    onboarded: BTreeMap<String, Certificate>,
}

impl OnboardingService {
    /// A service issuing invoker certificates from `ca`, valid `cert_validity` from issuance.
    pub fn new(ca: Ca, domain: impl Into<String>, cert_validity: SimDuration) -> Self {
        OnboardingService {
            ca,
            domain: domain.into(),
            cert_validity,
            onboarded: BTreeMap::new(),
        }
    }

    /// The CA certificate an AEF trusts for TLS-PKI (method 2).
    pub fn ca_certificate(&self) -> &Certificate {
        self.ca.certificate()
    }

    /// Onboarded invokers and their certificates.
    pub fn onboarded(&self) -> &BTreeMap<String, Certificate> {
        &self.onboarded
    }

    /// `POST /onboardedInvokers` (TS 29.222 5.5.2.2; TS 33.122 6.1). `onboarding_secret_ok`
    /// is the caller's check of the onboarding credential.
    pub fn handle_onboard<R: RngCore + ?Sized>(
        &mut self,
        now: SimTime,
        rng: &mut R,
        req: &ApiInvokerEnrolmentDetails,
        onboarding_secret_ok: bool,
    ) -> Result<OnboardResult, ProblemDetails29122> {
        //= TS 33.122 6.1: the CCF authenticates the invoker with the onboarding credential
        if !onboarding_secret_ok {
            return Err(problem(401, CAUSE_INVALID_ONBOARDING_SECRET));
        }
        let key = decode_public_key(&req.onboarding_information.api_invoker_public_key)
            .ok_or_else(|| problem(400, CAUSE_INVALID_PUBLIC_KEY))?;
        // Bounded redraw: a u64 collision is vanishingly rare; 8 tries keep it finite.
        let mut api_invoker_id = new_invoker_id(rng);
        for _ in 0..8 {
            if !self.onboarded.contains_key(&api_invoker_id) {
                break;
            }
            api_invoker_id = new_invoker_id(rng);
        }
        let not_before_s = now.as_nanos() / 1_000_000_000;
        let validity = Validity {
            not_before_s,
            not_after_s: not_before_s.saturating_add(self.cert_validity.as_nanos() / 1_000_000_000),
        };
        //= TS 33.122 6.1: the CCF returns the API invoker ID and a client certificate
        let certificate = self
            .ca
            .issue(
                &Subject::new(api_invoker_id.clone(), Role::Invoker, self.domain.clone()),
                &key,
                validity,
            )
            .map_err(|_| problem(500, CAUSE_CERTIFICATE_ISSUANCE))?;
        self.onboarded.insert(api_invoker_id.clone(), certificate.clone());
        Ok(OnboardResult {
            api_invoker_id,
            certificate,
        })
    }
}

fn new_invoker_id<R: RngCore + ?Sized>(rng: &mut R) -> String {
    format!("INV{:016x}", rng.next_u64())
}

/// A CAPIF error answer (see [`ProblemDetails29122::with_cause`]).
pub(crate) fn problem(status: u16, cause: &str) -> ProblemDetails29122 {
    ProblemDetails29122::with_cause(status, cause)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::crypto::pki::{RevocationList, key_from_rng, verify_chain};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    pub(crate) fn service(rng: &mut ChaCha8Rng) -> OnboardingService {
        let ca = Ca::new_root(
            key_from_rng(rng),
            Subject::new("ccf-ca", Role::Ca, "op1"),
            Validity {
                not_before_s: 0,
                not_after_s: 1 << 40,
            },
        )
        .unwrap();
        OnboardingService::new(ca, "op1", SimDuration::from_secs(86_400))
    }

    #[test]
    fn onboard_issues_certificate_for_key() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut ccf = service(&mut rng);
        let inv_key = key_from_rng(&mut rng);
        let req = enrolment_request(inv_key.verifying_key(), Some("s3cret".into()), "https://inv/cb".into());
        let res = ccf.handle_onboard(SimTime::ZERO, &mut rng, &req, true).unwrap();
        assert!(res.api_invoker_id.starts_with("INV") && res.api_invoker_id.len() == 19);
        assert_eq!(res.certificate.verifying_key().unwrap(), *inv_key.verifying_key());
        assert_eq!(res.certificate.role, Role::Invoker);
        let anchors = [ccf.ca_certificate().clone()];
        verify_chain(&res.certificate, &[], &anchors, 10, &RevocationList::new()).unwrap();
        // body round trip
        let body = res.response_body(&req);
        let v = serde_json::to_value(&body).unwrap();
        assert_eq!(v["apiInvokerId"], res.api_invoker_id.as_str());
        let back: ApiInvokerEnrolmentDetails = serde_json::from_value(v).unwrap();
        let cert = decode_certificate(back.onboarding_information.api_invoker_certificate.as_deref().unwrap());
        assert_eq!(cert.as_ref(), Some(&res.certificate));
        // deterministic
        let mut rng2 = ChaCha8Rng::seed_from_u64(1);
        let mut ccf2 = service(&mut rng2);
        let _ = key_from_rng(&mut rng2);
        let res2 = ccf2.handle_onboard(SimTime::ZERO, &mut rng2, &req, true).unwrap();
        assert_eq!(res2, res);
    }

    #[test]
    fn onboard_refusals() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut ccf = service(&mut rng);
        let k = key_from_rng(&mut rng);
        let req = enrolment_request(k.verifying_key(), None, "https://inv/cb".into());
        let e = ccf.handle_onboard(SimTime::ZERO, &mut rng, &req, false).unwrap_err();
        assert_eq!(
            (e.status, e.cause.as_deref()),
            (Some(401), Some(CAUSE_INVALID_ONBOARDING_SECRET))
        );
        let mut bad = req.clone();
        bad.onboarding_information.api_invoker_public_key = "AAAA".into();
        let e = ccf.handle_onboard(SimTime::ZERO, &mut rng, &bad, true).unwrap_err();
        assert_eq!(e.status, Some(400));
        assert!(ccf.onboarded().is_empty());
    }
}
