//! Security method change at an AEF (TS 33.122 Rel-18 clause 5.1.1; seed 004): how an invoker
//! that still uses the old CAPIF-2e method learns about the change and recovers.
//!
//! TS 33.122 only says: the APF informs the CCF of the AEF's new method; an invoker using the old
//! method gets "a failure indication that there is a mismatch of security method" from the AEF,
//! re-asks the CCF and invokes again. No HTTP or API encoding exists in Rel-18 (DIGEST section 10),
//! so [`RecoveryStrategy`] is the scenario knob over the four alternatives of DIGEST section 11.
//!
//! ```text
//!  invoker                AEF                  CCF                 APF
//!     |                    |                    |<-- method change --|   (all strategies)
//!     |                    |                    |
//!  ExplicitCause:          |                    |
//!     |--- TLS + request ->|                    |
//!     |<-- 401/403 SECURITY_METHOD_MISMATCH     |
//!     |    + methods now supported              |
//!     |--- POST /trustedInvokers/{id}/update -->|
//!     |<------------- 200 ServiceSecurity ------|
//!     |--- TLS (new method) + request -->|      |
//!  TlsFailureOnly:         |                    |
//!     |--- ClientHello --->|                    |
//!     |<-- alert unknown_psk_identity / handshake_failure
//!     |    (retries, then infers a method change and re-asks the CCF as above)
//!  CcfPush:                |                    |
//!     |<------ SecurityNotification or SERVICE_API_UPDATE event ---|
//!     |--- POST /trustedInvokers/{id}/update -->|  (before any failure)
//!  RenegotiateBeforeEachSession:                |
//!     |--- POST /trustedInvokers/{id}/update -->|  (before every new CAPIF-2e session)
//! ```
//!
//! | strategy                       | failed invocations     | recovery (see [`recovery_bound`]) | CCF load               | new encoding |
//! |--------------------------------|------------------------|------------------------------|------------------------|--------------|
//! | `ExplicitCause`                | 1 per invoker          | 1 failed call + renegotiate  | on demand              | yes (cause)  |
//! | `TlsFailureOnly`               | 1 + retries per invoker| retries + backoff + renegotiate | on demand           | no           |
//! | `CcfPush`                      | 0 unless racing        | push + renegotiate           | burst at change        | no (reuses)  |
//! | `RenegotiateBeforeEachSession` | 0 unless racing        | next session                 | 1 update per session   | no           |
//!
//! Whatever the strategy, the AEF never accepts an invocation with a method it no longer
//! supports ([`aef_reaction`]).

use serde::{Deserialize, Serialize};

use crate::engine::time::SimDuration;
use crate::proto::capif::types::{
    CapifEvent, CapifEventDetail, Cause, EventNotification, SecurityMethod, SecurityNotification, ServiceApiDescription,
};
use crate::proto::common::{InvalidParam, ProblemDetails29122};

/// The `cause` secsim puts in the AEF's ProblemDetails for [`RecoveryStrategy::ExplicitCause`].
/// Not a 3GPP value: Rel-18 defines no cause for a method mismatch (DIGEST section 10).
pub const CAUSE_SECURITY_METHOD_MISMATCH: &str = "SECURITY_METHOD_MISMATCH";

/// The `invalidParams[].param` under which secsim lists the methods the AEF now supports, one
/// entry per method with the method's wire string (`PSK`, `PKI`, `OAUTH`) as `reason`, in the
/// AEF's order of preference. A secsim encoding: TS 29.122 has no member for it.
pub const PARAM_SUPPORTED_METHODS: &str = "/supportedSecurityMethods";

/// How a method change at an AEF reaches invokers that still use the old method (seed 004).
/// Default: `ExplicitCause` (what the seed's normative text asks for).
///
/// In RON: `ExplicitCause`, `TlsFailureOnly`, `CcfPush(SecurityNotification)`,
/// `CcfPush(ServiceApiUpdateEvent)`, `RenegotiateBeforeEachSession`.
#[derive(
    Clone, Copy, Debug, Default, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize, schemars::JsonSchema,
)]
pub enum RecoveryStrategy {
    /// (a) The AEF answers the stale invocation with 401 (OAUTH) or 403 (PSK, PKI) and a
    /// ProblemDetails with cause [`CAUSE_SECURITY_METHOD_MISMATCH`] and the methods now supported
    /// (see [`PARAM_SUPPORTED_METHODS`]). Precise and fast, but needs a new cause, and the AEF must
    /// still complete a TLS handshake with the old credentials just to say "no".
    #[default]
    ExplicitCause,
    /// (b) The AEF only fails the TLS handshake (`unknown_psk_identity`, `handshake_failure`,
    /// `certificate_required`). No new encoding, but the invoker cannot tell a method change from
    /// a transient or key problem: it retries, then infers and re-asks the CCF.
    TlsFailureOnly,
    /// (c) The CCF pushes the change to every affected invoker when the APF updates, over the
    /// given channel. No failed invocation unless one races the push; a burst of renegotiations
    /// at the CCF; invokers the CCF cannot reach fall back to TLS failures.
    CcfPush(PushChannel),
    /// (d) The invoker calls `/trustedInvokers/{id}/update` before each new CAPIF-2e session.
    /// Never stale except in a race, at one CCF round trip per session.
    RenegotiateBeforeEachSession,
}

/// How the CCF pushes a method change for [`RecoveryStrategy::CcfPush`].
#[derive(
    Clone, Copy, Debug, Default, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize, schemars::JsonSchema,
)]
pub enum PushChannel {
    /// `SecurityNotification` (cause `UNEXPECTED_REASON`) to the invoker's
    /// `notificationDestination`: every invoker that negotiated has one, but the invoker cannot
    /// tell a method change from a revocation.
    #[default]
    SecurityNotification,
    /// `SERVICE_API_UPDATE` `EventNotification` with the updated descriptions: explicit, but only
    /// invokers that subscribed to the event receive it.
    ServiceApiUpdateEvent,
}

impl RecoveryStrategy {
    /// Every strategy (both push channels), in declaration order.
    pub const ALL: [RecoveryStrategy; 5] = [
        RecoveryStrategy::ExplicitCause,
        RecoveryStrategy::TlsFailureOnly,
        RecoveryStrategy::CcfPush(PushChannel::SecurityNotification),
        RecoveryStrategy::CcfPush(PushChannel::ServiceApiUpdateEvent),
        RecoveryStrategy::RenegotiateBeforeEachSession,
    ];

    /// Whether the invoker renegotiates before each new CAPIF-2e session (d).
    pub fn renegotiates_each_session(self) -> bool {
        match self {
            RecoveryStrategy::RenegotiateBeforeEachSession => true,
            RecoveryStrategy::ExplicitCause | RecoveryStrategy::TlsFailureOnly | RecoveryStrategy::CcfPush(_) => false,
        }
    }

    /// Whether the AEF's TLS stack drops its AEFPSKs when PSK is withdrawn, so that TLS-PSK
    /// fails at the ClientHello (every strategy but the explicit cause, which must complete
    /// the handshake to answer).
    pub fn drops_psks_on_withdrawal(self) -> bool {
        match self {
            RecoveryStrategy::ExplicitCause => false,
            RecoveryStrategy::TlsFailureOnly
            | RecoveryStrategy::CcfPush(_)
            | RecoveryStrategy::RenegotiateBeforeEachSession => true,
        }
    }
}

/// What the AEF does with an invocation (or its TLS handshake).
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum AefReaction {
    /// The method is supported: go on with authentication and authorization.
    Accept,
    /// An HTTP error response with an `application/problem+json` body.
    ProblemDetails {
        /// HTTP status.
        status: u16,
        /// The body.
        body: ProblemDetails29122,
    },
    /// A fatal TLS alert (RFC 8446 clause 6.2 description name); no HTTP response.
    TlsAlert(&'static str),
}

/// The AEF's reaction to an invocation with method `used` when it now supports `now_supported`.
//= TS 33.122 5.1.1 / seed 004: "the AEF shall send a failure indication that there is a
//= mismatch of security method between the API invoker and AEF to the API invoker"
pub fn aef_reaction(
    strategy: RecoveryStrategy,
    used: &SecurityMethod,
    now_supported: &[SecurityMethod],
) -> AefReaction {
    if now_supported.contains(used) {
        return AefReaction::Accept;
    }
    match strategy {
        RecoveryStrategy::ExplicitCause => {
            // 401 for a bearer token the AEF no longer takes (RFC 6750 3.1), 403 for a client that
            // authenticated at TLS with a method the AEF no longer allows.
            let status = if *used == SecurityMethod::Oauth { 401 } else { 403 };
            AefReaction::ProblemDetails {
                status,
                body: mismatch_body(status, used, now_supported),
            }
        }
        // (b), and the fallback of (c) and (d) when an invocation races the change: no new
        // encoding exists, so the only failure is the handshake's.
        RecoveryStrategy::TlsFailureOnly
        | RecoveryStrategy::CcfPush(_)
        | RecoveryStrategy::RenegotiateBeforeEachSession => AefReaction::TlsAlert(tls_alert(used, now_supported)),
    }
}

/// The RFC 8446 alert the AEF sends to a client using `used` when it supports `now_supported`.
fn tls_alert(used: &SecurityMethod, now_supported: &[SecurityMethod]) -> &'static str {
    match used {
        // The AEF has no AEFPSK for the offered identity.
        SecurityMethod::Psk => "unknown_psk_identity",
        // Server-auth TLS for a token, but the AEF now requests a client certificate.
        SecurityMethod::Oauth if now_supported.contains(&SecurityMethod::Pki) => "certificate_required",
        _ => "handshake_failure",
    }
}

/// The ProblemDetails of [`RecoveryStrategy::ExplicitCause`].
pub fn mismatch_body(status: u16, used: &SecurityMethod, now_supported: &[SecurityMethod]) -> ProblemDetails29122 {
    let list: Vec<&str> = now_supported.iter().map(SecurityMethod::as_str).collect();
    ProblemDetails29122 {
        title: Some("Security method mismatch".into()),
        status: Some(status),
        detail: Some(format!(
            "security method {used} no longer supported; supported: {}",
            list.join(",")
        )),
        cause: Some(CAUSE_SECURITY_METHOD_MISMATCH.into()),
        invalid_params: Some(
            now_supported
                .iter()
                .map(|m| InvalidParam {
                    param: PARAM_SUPPORTED_METHODS.into(),
                    reason: Some(m.as_str().into()),
                })
                .collect(),
        ),
        ..ProblemDetails29122::default()
    }
}

/// The methods a mismatch ProblemDetails lists, or `None` if it is not one.
pub fn parse_mismatch(body: &ProblemDetails29122) -> Option<Vec<SecurityMethod>> {
    if body.cause.as_deref() != Some(CAUSE_SECURITY_METHOD_MISMATCH) {
        return None;
    }
    let params = body.invalid_params.as_deref().unwrap_or_default();
    Some(
        params
            .iter()
            .filter(|p| p.param == PARAM_SUPPORTED_METHODS)
            .filter_map(|p| p.reason.as_deref().map(SecurityMethod::from))
            .collect(),
    )
}

/// What reaches the invoker: an AEF reaction or a CCF push.
#[derive(Clone, Copy, Debug)]
pub enum InvokerSignal<'a> {
    /// The AEF's answer to an invocation.
    Aef(&'a AefReaction),
    /// A `SecurityNotification` from the CCF.
    Security(&'a SecurityNotification),
    /// A CAPIF event notification from the CCF.
    Event(&'a EventNotification),
}

/// What the invoker does next.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum InvokerAction {
    /// Carry on (accepted, or a signal that does not concern the method).
    Proceed,
    /// Retry the same method (a failure that may be transient); the caller bounds the retries
    /// and turns the last one into [`InvokerAction::ReNegotiate`].
    Retry,
    /// Call `POST /trustedInvokers/{id}/update`, preferring these methods (empty: no hint), then
    /// invoke again with the selected method.
    ReNegotiate {
        /// `prefSecurityMethods` hint learnt from the signal.
        prefer: Vec<SecurityMethod>,
    },
    /// Stop invoking this API (e.g. authorization revoked for over-limit usage).
    GiveUp,
}

/// The invoker's interpretation of a signal under `strategy`.
pub fn invoker_next(strategy: RecoveryStrategy, signal: InvokerSignal<'_>) -> InvokerAction {
    match signal {
        InvokerSignal::Aef(AefReaction::Accept) => InvokerAction::Proceed,
        // An explicit mismatch is understood whatever the configured strategy.
        InvokerSignal::Aef(AefReaction::ProblemDetails { body, .. }) => match parse_mismatch(body) {
            Some(prefer) => InvokerAction::ReNegotiate { prefer },
            None => InvokerAction::GiveUp,
        },
        InvokerSignal::Aef(AefReaction::TlsAlert(_)) => match strategy {
            // The AEF would have said "mismatch" explicitly: a bare alert looks transient.
            RecoveryStrategy::ExplicitCause => InvokerAction::Retry,
            // (b): infer a method change. (c)/(d): the invocation raced the change.
            RecoveryStrategy::TlsFailureOnly
            | RecoveryStrategy::CcfPush(_)
            | RecoveryStrategy::RenegotiateBeforeEachSession => InvokerAction::ReNegotiate { prefer: Vec::new() },
        },
        //= TS 29.222 8.5 SecurityNotification: the invoker cannot tell a method change from a
        //= revocation for UNEXPECTED_REASON, so it renegotiates; over-limit usage is final.
        InvokerSignal::Security(n) => match n.cause {
            Cause::OverlimitUsage => InvokerAction::GiveUp,
            _ => InvokerAction::ReNegotiate { prefer: Vec::new() },
        },
        InvokerSignal::Event(e) if e.events == CapifEvent::ServiceApiUpdate => {
            let prefer = e
                .event_detail
                .iter()
                .flat_map(|d| d.service_api_descriptions.iter().flatten())
                .flat_map(|s| s.aef_profiles.iter().flatten())
                .flat_map(|p| p.security_methods.iter().flatten())
                .fold(Vec::new(), |mut acc: Vec<SecurityMethod>, m| {
                    if !acc.contains(m) {
                        acc.push(m.clone());
                    }
                    acc
                });
            InvokerAction::ReNegotiate { prefer }
        }
        InvokerSignal::Event(_) => InvokerAction::Proceed,
    }
}

/// An AEF's method change as the APF reports it to the CCF.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct MethodChange {
    /// The AEF.
    pub aef_id: String,
    /// The APIs the AEF exposes with the changed method (minItems 1 in the notifications).
    pub api_ids: Vec<String>,
    /// The updated descriptions (for `SERVICE_API_UPDATE`; may be empty).
    pub descriptions: Vec<ServiceApiDescription>,
}

/// An invoker with a security context at the changed AEF.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct AffectedInvoker {
    /// API invoker ID.
    pub api_invoker_id: String,
    /// Its `SERVICE_API_UPDATE` subscription, if it has one.
    pub subscription_id: Option<String>,
}

/// A push the CCF sends.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum PushBody {
    /// To the invoker's `notificationDestination` (CAPIF_Security_API).
    Security(SecurityNotification),
    /// To the subscription's `notificationDestination` (CAPIF_Events_API).
    Event(EventNotification),
}

/// What the CCF does on a method change.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum CcfAction {
    /// Notify one invoker.
    Notify {
        /// API invoker ID.
        invoker: String,
        /// The body.
        body: PushBody,
    },
}

/// The CCF's actions when the APF reports `change`, for the invokers in `affected` (in order).
//= TS 33.122 5.1.1 / seed 004: "API publishing function shall inform the CAPIF core function the
//= updated security method when AEF updates its security method"
pub fn ccf_on_method_change(
    strategy: RecoveryStrategy,
    change: &MethodChange,
    affected: &[AffectedInvoker],
) -> Vec<CcfAction> {
    match strategy {
        RecoveryStrategy::ExplicitCause
        | RecoveryStrategy::TlsFailureOnly
        | RecoveryStrategy::RenegotiateBeforeEachSession => Vec::new(),
        RecoveryStrategy::CcfPush(PushChannel::SecurityNotification) => affected
            .iter()
            .map(|a| CcfAction::Notify {
                invoker: a.api_invoker_id.clone(),
                body: PushBody::Security(SecurityNotification {
                    api_invoker_id: a.api_invoker_id.clone(),
                    aef_id: Some(change.aef_id.clone()),
                    api_ids: change.api_ids.clone(),
                    cause: Cause::UnexpectedReason,
                }),
            })
            .collect(),
        // Only subscribers hear about it; the others fall back to TLS failures.
        RecoveryStrategy::CcfPush(PushChannel::ServiceApiUpdateEvent) => affected
            .iter()
            .filter_map(|a| {
                let sub = a.subscription_id.as_ref()?;
                Some(CcfAction::Notify {
                    invoker: a.api_invoker_id.clone(),
                    body: PushBody::Event(EventNotification {
                        subscription_id: sub.clone(),
                        events: CapifEvent::ServiceApiUpdate,
                        event_detail: Some(CapifEventDetail {
                            service_api_descriptions: (!change.descriptions.is_empty())
                                .then(|| change.descriptions.clone()),
                            api_ids: Some(change.api_ids.clone()),
                            api_invoker_ids: None,
                        }),
                    }),
                })
            })
            .collect(),
    }
}

/// Round trips and retry policy behind [`recovery_bound`]. No defaults: the scenario gives them.
#[derive(Clone, Copy, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RecoveryModel {
    /// Invoker ↔ AEF round trip (CAPIF-2e) \[ns\].
    pub rtt_invoker_aef: SimDuration,
    /// Invoker ↔ CCF round trip (CAPIF-1e) \[ns\].
    pub rtt_invoker_ccf: SimDuration,
    /// AEF ↔ CCF round trip (CAPIF-3) \[ns\].
    pub rtt_aef_ccf: SimDuration,
    /// TLS failures the invoker retries before inferring a method change (`TlsFailureOnly`).
    pub tls_retries: u32,
    /// Wait before each such retry \[ns\].
    pub retry_backoff: SimDuration,
}

/// Worst-case time from the method change taking effect to the first successful invocation with
/// the new method, for one invoker that invokes right after the change, no loss.
///
/// Model (TLS 1.3, one round trip per handshake and per HTTP exchange):
/// - `renegotiate` = 2 × rtt_invoker_ccf (fresh CAPIF-1e TLS + `POST .../update`);
/// - `setup` = rtt_invoker_ccf + rtt_invoker_aef + rtt_aef_ccf: the worst new method's
///   preparation (an OAUTH token from the CCF, or `check-authentication` with the AEF fetching the
///   AEFPSK or root CA over CAPIF-3);
/// - `invoke` = 2 × rtt_invoker_aef (CAPIF-2e TLS + request).
///
/// | strategy | bound |
/// |---|---|
/// | `ExplicitCause` | invoke (fails) + renegotiate + setup + invoke |
/// | `TlsFailureOnly` | (1 + retries) × rtt_invoker_aef + retries × backoff + renegotiate + setup + invoke |
/// | `CcfPush` | rtt_invoker_ccf / 2 (one-way push) + renegotiate + setup + invoke |
/// | `RenegotiateBeforeEachSession` | rtt_invoker_aef (raced handshake fails) + renegotiate + setup + invoke |
///
/// The push bound assumes the invoker is reachable (for `ServiceApiUpdateEvent`: subscribed);
/// otherwise it degrades to the `TlsFailureOnly` bound with `tls_retries = 0`.
pub fn recovery_bound(strategy: RecoveryStrategy, m: &RecoveryModel) -> SimDuration {
    let renegotiate = m.rtt_invoker_ccf * 2;
    let setup = m.rtt_invoker_ccf + m.rtt_invoker_aef + m.rtt_aef_ccf;
    let invoke = m.rtt_invoker_aef * 2;
    let tail = renegotiate + setup + invoke;
    match strategy {
        RecoveryStrategy::ExplicitCause => invoke + tail,
        RecoveryStrategy::TlsFailureOnly => {
            let retries = u64::from(m.tls_retries);
            m.rtt_invoker_aef.saturating_mul(1 + retries) + m.retry_backoff.saturating_mul(retries) + tail
        }
        RecoveryStrategy::CcfPush(_) => SimDuration::from_nanos(m.rtt_invoker_ccf.as_nanos() / 2) + tail,
        RecoveryStrategy::RenegotiateBeforeEachSession => m.rtt_invoker_aef + tail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: [SecurityMethod; 2] = [SecurityMethod::Pki, SecurityMethod::Oauth];

    #[test]
    fn aef_reaction_table() {
        use SecurityMethod::*;
        let cases: [(RecoveryStrategy, SecurityMethod, Option<u16>, Option<&str>); 10] = [
            (RecoveryStrategy::ExplicitCause, Psk, Some(403), None),
            (RecoveryStrategy::ExplicitCause, Pki, None, None),
            (
                RecoveryStrategy::TlsFailureOnly,
                Psk,
                None,
                Some("unknown_psk_identity"),
            ),
            (RecoveryStrategy::TlsFailureOnly, Oauth, None, None),
            (RecoveryStrategy::ALL[2], Psk, None, Some("unknown_psk_identity")),
            (RecoveryStrategy::ALL[3], Psk, None, Some("unknown_psk_identity")),
            (
                RecoveryStrategy::RenegotiateBeforeEachSession,
                Psk,
                None,
                Some("unknown_psk_identity"),
            ),
            (RecoveryStrategy::RenegotiateBeforeEachSession, Pki, None, None),
            (RecoveryStrategy::ExplicitCause, Oauth, None, None),
            (RecoveryStrategy::TlsFailureOnly, Pki, None, None),
        ];
        for (s, used, status, alert) in cases {
            let r = aef_reaction(s, &used, &NOW);
            match (status, alert) {
                (Some(st), _) => assert!(matches!(r, AefReaction::ProblemDetails { status, .. } if status == st)),
                (None, Some(a)) => assert_eq!(r, AefReaction::TlsAlert(a)),
                (None, None) => assert_eq!(r, AefReaction::Accept, "{s:?} {used}"),
            }
        }
        // Stale OAUTH when PKI is now required: 401 explicitly, certificate_required at TLS.
        assert!(matches!(
            aef_reaction(RecoveryStrategy::ExplicitCause, &Oauth, &[Pki]),
            AefReaction::ProblemDetails { status: 401, .. }
        ));
        assert_eq!(
            aef_reaction(RecoveryStrategy::TlsFailureOnly, &Oauth, &[Pki]),
            AefReaction::TlsAlert("certificate_required")
        );
        assert_eq!(
            aef_reaction(RecoveryStrategy::TlsFailureOnly, &Pki, &[Psk]),
            AefReaction::TlsAlert("handshake_failure")
        );
    }

    #[test]
    fn aef_never_accepts_stale_method() {
        for s in RecoveryStrategy::ALL {
            for used in SecurityMethod::KNOWN {
                for supported in [vec![], vec![SecurityMethod::Psk], NOW.to_vec()] {
                    let r = aef_reaction(s, used, &supported);
                    assert_eq!(
                        r == AefReaction::Accept,
                        supported.contains(used),
                        "{s:?} {used} {supported:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn mismatch_body_openapi_names_round_trip() {
        let AefReaction::ProblemDetails { body, .. } =
            aef_reaction(RecoveryStrategy::ExplicitCause, &SecurityMethod::Psk, &NOW)
        else {
            panic!("expected ProblemDetails");
        };
        let v = serde_json::to_value(&body).unwrap();
        assert_eq!(v["cause"], "SECURITY_METHOD_MISMATCH");
        assert_eq!(v["status"], 403);
        assert_eq!(
            v["invalidParams"],
            json!([{"param": "/supportedSecurityMethods", "reason": "PKI"},
                   {"param": "/supportedSecurityMethods", "reason": "OAUTH"}])
        );
        let back: ProblemDetails29122 = serde_json::from_value(v).unwrap();
        assert_eq!(back, body);
        assert_eq!(parse_mismatch(&back), Some(NOW.to_vec()));
        assert_eq!(parse_mismatch(&ProblemDetails29122::default()), None);
    }

    #[test]
    fn invoker_next_table() {
        let explicit = aef_reaction(RecoveryStrategy::ExplicitCause, &SecurityMethod::Psk, &NOW);
        let alert = AefReaction::TlsAlert("unknown_psk_identity");
        let other_pd = AefReaction::ProblemDetails {
            status: 403,
            body: ProblemDetails29122::default(),
        };
        let reneg = InvokerAction::ReNegotiate { prefer: Vec::new() };
        for s in RecoveryStrategy::ALL {
            assert_eq!(
                invoker_next(s, InvokerSignal::Aef(&AefReaction::Accept)),
                InvokerAction::Proceed
            );
            assert_eq!(
                invoker_next(s, InvokerSignal::Aef(&explicit)),
                InvokerAction::ReNegotiate { prefer: NOW.to_vec() }
            );
            assert_eq!(invoker_next(s, InvokerSignal::Aef(&other_pd)), InvokerAction::GiveUp);
            let want = if s == RecoveryStrategy::ExplicitCause {
                InvokerAction::Retry
            } else {
                reneg.clone()
            };
            assert_eq!(invoker_next(s, InvokerSignal::Aef(&alert)), want, "{s:?}");
        }
    }

    fn change() -> MethodChange {
        MethodChange {
            aef_id: "aef1".into(),
            api_ids: vec!["api1".into()],
            descriptions: vec![ServiceApiDescription {
                api_name: "3gpp-monitoring-event".into(),
                api_id: Some("api1".into()),
                aef_profiles: Some(vec![crate::proto::capif::types::AefProfile {
                    aef_id: "aef1".into(),
                    versions: vec![crate::proto::capif::types::Version {
                        api_version: "v1".into(),
                    }],
                    protocol: None,
                    security_methods: Some(vec![SecurityMethod::Pki]),
                    locator: crate::proto::capif::types::AefLocator::DomainName("aef1.example.com".into()),
                }]),
                description: None,
                supported_features: None,
                shareable_info: None,
                pub_api_path: None,
                ccf_id: None,
            }],
        }
    }

    #[test]
    fn ccf_on_method_change_table() {
        let affected = [
            AffectedInvoker {
                api_invoker_id: "inv-1".into(),
                subscription_id: Some("sub-1".into()),
            },
            AffectedInvoker {
                api_invoker_id: "inv-2".into(),
                subscription_id: None,
            },
        ];
        let counts = RecoveryStrategy::ALL.map(|s| ccf_on_method_change(s, &change(), &affected).len());
        assert_eq!(counts, [0, 0, 2, 1, 0]);

        // Each push reaches the invoker and makes it renegotiate; bodies use OpenAPI names.
        for s in [RecoveryStrategy::ALL[2], RecoveryStrategy::ALL[3]] {
            for CcfAction::Notify { invoker, body } in ccf_on_method_change(s, &change(), &affected) {
                assert!(invoker.starts_with("inv-"));
                let action = match &body {
                    PushBody::Security(n) => {
                        let v = serde_json::to_value(n).unwrap();
                        assert_eq!(
                            v,
                            json!({"apiInvokerId": invoker, "aefId": "aef1", "apiIds": ["api1"],
                                   "cause": "UNEXPECTED_REASON"})
                        );
                        assert_eq!(&serde_json::from_value::<SecurityNotification>(v).unwrap(), n);
                        invoker_next(s, InvokerSignal::Security(n))
                    }
                    PushBody::Event(e) => {
                        let v = serde_json::to_value(e).unwrap();
                        assert_eq!(v["events"], "SERVICE_API_UPDATE");
                        assert_eq!(v["subscriptionId"], "sub-1");
                        assert_eq!(v["eventDetail"]["serviceAPIDescriptions"][0]["apiId"], "api1");
                        assert_eq!(&serde_json::from_value::<EventNotification>(v).unwrap(), e);
                        invoker_next(s, InvokerSignal::Event(e))
                    }
                };
                let prefer = if matches!(body, PushBody::Event(_)) {
                    vec![SecurityMethod::Pki]
                } else {
                    vec![]
                };
                assert_eq!(action, InvokerAction::ReNegotiate { prefer });
            }
        }
    }

    #[test]
    fn security_notification_overlimit_gives_up() {
        let n = SecurityNotification {
            api_invoker_id: "inv-1".into(),
            aef_id: None,
            api_ids: vec!["api1".into()],
            cause: Cause::OverlimitUsage,
        };
        for s in RecoveryStrategy::ALL {
            assert_eq!(invoker_next(s, InvokerSignal::Security(&n)), InvokerAction::GiveUp);
        }
    }

    #[test]
    fn recovery_bound_table() {
        let m = RecoveryModel {
            rtt_invoker_aef: SimDuration::from_millis(10),
            rtt_invoker_ccf: SimDuration::from_millis(20),
            rtt_aef_ccf: SimDuration::from_millis(4),
            tls_retries: 2,
            retry_backoff: SimDuration::from_millis(100),
        };
        // tail = renegotiate 40 + setup 34 + invoke 20 = 94 ms.
        let got = RecoveryStrategy::ALL.map(|s| recovery_bound(s, &m));
        let want = [114, 324, 104, 104, 104].map(SimDuration::from_millis);
        assert_eq!(got, want);
        assert_eq!(
            recovery_bound(RecoveryStrategy::RenegotiateBeforeEachSession, &m),
            SimDuration::from_millis(104)
        );
    }

    #[test]
    fn strategy_ron() {
        let s: RecoveryStrategy = ron::from_str("CcfPush(ServiceApiUpdateEvent)").unwrap();
        assert_eq!(s, RecoveryStrategy::ALL[3]);
        let m: RecoveryModel = ron::from_str(
            r#"(rtt_invoker_aef: "10ms", rtt_invoker_ccf: "20ms", rtt_aef_ccf: "4ms", tls_retries: 1,
                retry_backoff: "1s")"#,
        )
        .unwrap();
        assert_eq!(m.retry_backoff, SimDuration::from_secs(1));
        assert!(ron::from_str::<RecoveryStrategy>("Nope").is_err());
    }
}
