//! Fuzz target `capif_messages`: the CAPIF bodies a CCF, an AEF or an invoker receives
//! (TS 29.222 / TS 33.122), decoded and handed to the procedures and machines that use them.
//!
//! The input is a sequence of messages separated by NUL bytes; each is a selector byte and a
//! body (UTF-8, or lossily converted). Decoders reached:
//!
//! - `serde_json` into every body type of `proto::capif::types` the world decodes
//!   (`ServiceApiDescription`, `ApiInvokerEnrolmentDetails`, `ServiceSecurity`,
//!   `SecurityNotification`, `EventNotification`, `CheckAuthenticationReq`,
//!   `RevokeAuthorizationReq`) and the answers an invoker reads (`AccessTokenRsp`,
//!   `AccessTokenErr`, `CheckAuthenticationRsp`, `RevokeAuthorizationRsp`, `DiscoveredApis`,
//!   `OnboardingNotification`, `EventSubscription`, `SecurityInformation`, `AefProfile`,
//!   `InterfaceDescription`, `ProblemDetails29122`);
//! - `AccessTokenReq::from_form` (the token request is form-urlencoded) and `to_form`;
//! - `onboarding::decode_public_key`, `decode_certificate` (base64url + `Certificate::from_bytes`);
//! - `authentication::PskGrant::parse` (the `authenticationInfo` string),
//!   `security_method::psk_validity_s`, `authentication::service_api_interface` and
//!   `InterfaceDescription::aefpsk_p0`;
//! - `jwt::Scope::parse`, `authorization::authorize_with_info`, `TokenVerifier::verify`
//!   (the bearer token as a JWS compact serialization) and `authorize_with_token`;
//! - `mismatch::parse_mismatch` and `invoker_next` for every strategy (AEF ProblemDetails,
//!   SecurityNotification, EventNotification);
//! - the machines: `machines::Ccf::handle` (onboarding with `OnboardingService::handle_onboard`,
//!   security method negotiation with `TrustedInvokers::handle_put`, security information,
//!   token requests with `TokenEndpoint::handle_token_request`, revocation) and
//!   `machines::Aef::handle` (check-authentication, the CCF's security information answer as
//!   JSON, invocations with a bearer token), their state kept across messages.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use p256::ecdsa::SigningKey;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use secsim::crypto::aefpsk::AefPskVariant;
use secsim::crypto::jwt::{self, RevocationSet, Scope};
use secsim::crypto::pki::{Ca, RevocationList, Role, Subject, Validity};
use secsim::engine::{SimDuration, SimTime};
use secsim::proto::capif::authentication::{
    self, AefPskCache, ExpiryBehaviour, PskGrant, TokenEndpoint, TokenVerifier, ValidityEncoding,
};
use secsim::proto::capif::authorization::{self, Invocation};
use secsim::proto::capif::machines::{Aef, AefConfig, AefInput, Ccf, CcfConfig, CcfInput, Credential};
use secsim::proto::capif::mismatch::{self, AefReaction, InvokerSignal, RecoveryStrategy};
use secsim::proto::capif::onboarding::{self, OnboardingService};
use secsim::proto::capif::security_method::{self, AccessPolicy};
use secsim::proto::capif::types::{
    AccessTokenErr, AccessTokenReq, AccessTokenRsp, AefProfile, ApiInvokerEnrolmentDetails, CheckAuthenticationReq,
    CheckAuthenticationRsp, DiscoveredApis, EventNotification, EventSubscription, InterfaceDescription,
    OnboardingNotification, RevokeAuthorizationReq, RevokeAuthorizationRsp, SecurityInformation, SecurityNotification,
    ServiceApiDescription, ServiceSecurity,
};
use secsim::proto::common::ProblemDetails29122;
use serde_json::{Value, json};

const AEF: &str = "aef-a1";
const CCF: &str = "ccf-a";

fn de<T: serde::de::DeserializeOwned + serde::Serialize>(body: &str) -> Option<T> {
    let v: T = serde_json::from_str(body).ok()?;
    let _ = serde_json::to_string(&v);
    Some(v)
}

fn aefs() -> Vec<AefProfile> {
    serde_json::from_value(json!([{
        "aefId": AEF,
        "versions": [{"apiVersion": "v1"}],
        "securityMethods": ["PSK", "PKI", "OAUTH"],
        "interfaceDescriptions": [{"fqdn": "aef-a1.example", "port": 443, "apiPrefix": "/api"}]
    }]))
    .expect("fixed AEF profile")
}

/// The CCF's CA and token key: computed once (each costs a scalar multiplication).
static CA: LazyLock<Ca> = LazyLock::new(|| {
    Ca::new_root(
        SigningKey::from_slice(&[5u8; 32]).unwrap(),
        Subject::new("ca.ccf-a", Role::Ca, "provider-a"),
        Validity {
            not_before_s: 0,
            not_after_s: 1 << 40,
        },
    )
    .unwrap()
});
static TOKEN_KEY: LazyLock<SigningKey> = LazyLock::new(|| SigningKey::from_slice(&[6u8; 32]).unwrap());

fn ccf(token_key: &SigningKey) -> Ccf {
    let ca = CA.clone();
    let mut policy = AccessPolicy::default();
    policy.apis.insert(AEF.into(), vec!["api1".into(), "api2".into()]);
    Ccf::new(
        CcfConfig {
            aefs: aefs(),
            policy,
            variant: AefPskVariant::Tls13Exporter,
            encoding: ValidityEncoding::Remaining,
        },
        OnboardingService::new(ca, "provider-a", SimDuration::from_secs(3600)),
        TokenEndpoint::new(token_key.clone(), CCF, 600),
    )
}

/// Everything done with one body on its own.
fn decode_all(body: &str, now: SimTime, token_key: &SigningKey, strategy: RecoveryStrategy) {
    let now_s = now.as_nanos() / 1_000_000_000;
    if let Some(d) = de::<ServiceApiDescription>(body) {
        for p in d.aef_profiles.iter().flatten() {
            if let secsim::proto::capif::types::AefLocator::InterfaceDescriptions(ifs) = &p.locator {
                for i in ifs {
                    let _ = i.aefpsk_p0();
                    let _ = authentication::service_api_interface(i);
                }
            }
        }
    }
    if let Some(e) = de::<ApiInvokerEnrolmentDetails>(body) {
        let _ = onboarding::decode_public_key(&e.onboarding_information.api_invoker_public_key);
        if let Some(c) = &e.onboarding_information.api_invoker_certificate {
            let _ = onboarding::decode_certificate(c);
        }
    }
    if let Some(s) = de::<ServiceSecurity>(body) {
        for info in &s.security_info {
            let _ = security_method::psk_validity_s(info);
            if let Some(a) = &info.authentication_info {
                let _ = PskGrant::parse(a);
            }
            if let Some(a) = &info.authorization_info {
                let inv = Invocation {
                    invoker: "INV1",
                    aef: AEF,
                    api: "api1",
                };
                let _ = authorization::authorize_with_info(&inv, Some(a));
            }
        }
    }
    if let Some(n) = de::<SecurityNotification>(body) {
        let _ = mismatch::invoker_next(strategy, InvokerSignal::Security(&n));
    }
    if let Some(n) = de::<EventNotification>(body) {
        let _ = mismatch::invoker_next(strategy, InvokerSignal::Event(&n));
    }
    let _ = de::<CheckAuthenticationReq>(body);
    let _ = de::<CheckAuthenticationRsp>(body);
    let _ = de::<RevokeAuthorizationReq>(body);
    let _ = de::<RevokeAuthorizationRsp>(body);
    let _ = de::<AccessTokenRsp>(body);
    let _ = de::<AccessTokenErr>(body);
    let _ = de::<DiscoveredApis>(body);
    let _ = de::<OnboardingNotification>(body);
    let _ = de::<EventSubscription>(body);
    let _ = de::<SecurityInformation>(body);
    if let Some(i) = de::<InterfaceDescription>(body) {
        let _ = i.aefpsk_p0();
        let _ = authentication::service_api_interface(&i);
    }
    let _ = de::<AefProfile>(body);
    if let Some(p) = de::<ProblemDetails29122>(body) {
        let _ = mismatch::parse_mismatch(&p);
        let reaction = AefReaction::ProblemDetails { status: 403, body: p };
        let _ = mismatch::invoker_next(strategy, InvokerSignal::Aef(&reaction));
    }
    if let Ok(req) = AccessTokenReq::from_form(body) {
        let again = AccessTokenReq::from_form(&req.to_form()).expect("to_form parses back");
        assert_eq!(again, req);
        let mut endpoint = TokenEndpoint::new(token_key.clone(), CCF, 600);
        let mut allowed = Scope::new();
        allowed.allow(AEF, ["api1", "api2"]);
        if let Ok(rsp) = endpoint.handle_token_request(now_s, &req, true, &allowed) {
            let verifier = TokenVerifier {
                ccf_key: *token_key.verifying_key(),
                issuer: Some(CCF.into()),
                also_trusted: Vec::new(),
                leeway_s: 5,
                revoked: RevocationSet::default(),
            };
            if let Ok(claims) = verifier.verify(now_s, &rsp.access_token) {
                let inv = Invocation {
                    invoker: &req.client_id,
                    aef: AEF,
                    api: "api1",
                };
                let _ = authorization::authorize_with_token(&inv, &claims);
            }
        }
    }
    let _ = PskGrant::parse(body);
    let _ = Scope::parse(body).map(|s| s.to_request_string());
    let _ = onboarding::decode_public_key(body);
    let _ = onboarding::decode_certificate(body);
    // A bearer token as the AEF receives it.
    let _ = jwt::verify(token_key.verifying_key(), body, now_s, 30);
}

fuzz_target!(|data: &[u8]| {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let token_key = &*TOKEN_KEY;
    let mut ccf = ccf(token_key);
    let mut aef = Aef::new(AefConfig {
        aef_id: AEF.into(),
        ccf_anchors: vec![ccf.onboarding().ca_certificate().clone()],
        revoked_certs: RevocationList::new(),
        tokens: Some(TokenVerifier {
            ccf_key: *token_key.verifying_key(),
            issuer: Some(CCF.into()),
            also_trusted: Vec::new(),
            leeway_s: 5,
            revoked: RevocationSet::default(),
        }),
        expiry: ExpiryBehaviour::CloseSessions,
    });
    let mut cache = AefPskCache::new(ExpiryBehaviour::BlockNewHandshakes);
    let mut now = SimTime::from_nanos(1_000_000_000);
    let mut invoker = "INV0000000000000001".to_string();

    for chunk in data.split(|&b| b == 0).take(32) {
        let Some((&sel, rest)) = chunk.split_first() else {
            continue;
        };
        let body = String::from_utf8_lossy(rest);
        let body: &str = &body;
        now += SimDuration::from_nanos(u64::from(sel >> 5) * 1_000_000_000);
        let strategy = RecoveryStrategy::ALL[usize::from(sel) % RecoveryStrategy::ALL.len()];
        decode_all(body, now, token_key, strategy);

        // The CCF.
        let input = match sel & 0x07 {
            0 => de::<ApiInvokerEnrolmentDetails>(body).map(|req| CcfInput::Onboard {
                req,
                secret_ok: sel & 0x08 == 0,
            }),
            1 | 2 => de::<ServiceSecurity>(body).map(|body| CcfInput::ObtainSecurityMethod {
                invoker: invoker.clone(),
                body,
                update: sel & 0x07 == 2,
                session: None,
            }),
            3 => Some(CcfInput::ObtainSecurityInfo {
                invoker: body.to_string(),
                aef_id: AEF.into(),
            }),
            4 => AccessTokenReq::from_form(body)
                .ok()
                .map(|req| CcfInput::ObtainToken { req }),
            5 => Some(CcfInput::Revoke {
                invoker: invoker.clone(),
            }),
            _ => None,
        };
        if let Some(input) = input {
            ccf.handle(now, &mut rng, input);
            for out in ccf.drain_outputs() {
                // An onboarding answer names the invoker the later requests come from.
                let text = format!("{out:?}");
                if let Some(i) = text.find("INV") {
                    let id: String = text[i..].chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
                    if id.len() == 19 {
                        invoker = id;
                    }
                }
            }
        }

        // The AEF.
        let input = match (sel >> 3) & 0x03 {
            0 => de::<CheckAuthenticationReq>(body).map(|req| AefInput::CheckAuthentication { req }),
            1 => Some(AefInput::SecurityInfoResponse {
                invoker: invoker.clone(),
                status: if sel & 0x40 != 0 { 200 } else { 404 },
                body: serde_json::from_str(body).unwrap_or(Value::Null),
            }),
            2 => Some(AefInput::Invoke {
                invoker: invoker.clone(),
                api: "api1".into(),
                token: Some(body.to_string()),
            }),
            _ => Some(AefInput::Handshake {
                invoker: invoker.clone(),
                credential: Credential::ServerAuthOnly,
            }),
        };
        if let Some(input) = input {
            aef.handle(now, &mut rng, input);
            let _ = aef.drain_outputs();
        }

        // The AEF's PSK cache, keyed by a grant from the body.
        if let Ok(grant) = PskGrant::parse(body) {
            cache.install(now, &invoker, &grant);
            let _ = cache.accept_handshake(now, &invoker, &grant.key);
            let _ = cache.expire(now);
        }
        if let Some(req) = de::<CheckAuthenticationReq>(body) {
            let _ = cache.check_authentication(now, &req);
        }
    }
});
