//! CAPIF interconnection over CAPIF-6/6e (seed 002, draft TS 33.122 clause 6.X): an invoker
//! onboarded at CCF-B negotiates a method and authenticates towards an AEF registered at CCF-A.
//!
//! The draft leaves eight items FFS; each is one enum knob in [`InterconnectionKnobs`]. [`plan`]
//! turns knobs and a [`Scenario`] into the message sequence as data, [`exposure`] says which
//! identifiers and secrets crossed which trust-domain boundary, and [`forbidden`] what the chosen
//! alternatives promise never crosses (for an invariant checker).
//!
//! ```text
//!  Invoker          CCF-B               CCF-A              AEF        (RO, other CCFs)
//!     |-- ServiceSecurity -->|                |                 |
//!     |                      |-- method query ->|  (6.X.2)      |
//!     |                      |<- methods -------|               |
//!     |<- ServiceSecurity ---|  [+ CCF-B id / handle per items 2,3]
//!     |-- CheckAuthenticationReq (invokerId [+ CCF-B id]) ---->|
//!     |                      |                |<- get sec info --|
//!     |                      |                |  (item 4: map / prefix / ask all peers)
//!     |                      |<- sec info req -|                 |
//!     |                      |-- AEFPSK | root CA [+ authz] ->|  (items 5, 6)
//!     |                      |                |-- sec info ----->|
//!     |<===================== TLS-PSK / TLS-PKI ================>|
//!  method 3: token from CCF-B (item 7), or from CCF-A (item 8); RNAA consent (item 1)
//! ```
//!
//! | item | knob | alternatives (default first) | trade-off |
//! |---|---|---|---|
//! | 1 | [`Rnaa`] | `RelayConsent`, `CcfAAsksOwner`, `NotSupported` | consent crosses B→A vs A contacts the owner vs no RNAA |
//! | 2 | [`CcfDiscovery`] | `CcfIdInDiscovery`, `CcfIdInSecurityMethodResponse`, `AefChallenge` | free vs free vs extra round trip |
//! | 3 | [`CcfBIdExposure`] | `MandatoryClear`, `OptionalIfNoMapping`, `OpaqueHandle` | success rate vs exposure to the AEF's domain |
//! | 4 | [`HomeCcfLookup`] | `MapLearned`, `RoutablePrefix`, `AskAllPeers` | state vs ID leaks CCF-B vs 2·n messages |
//! | 5 | [`PskScope`] | `PerInvokerAef`, `PerInvokerAefApi` | derivations vs key separation |
//! | 6 | [`CrossAuthorization`] | `PushWithPsk`, `PullPerInvocation`, `CacheTtl` | round trips vs staleness |
//! | 7 | [`CrossOauth`] | `CcfBIssues`, `CcfBForwards`, `TokenExchange` | AEF trusts B's key vs secret exposed to A vs extra exchange |
//! | 8 | [`CcfAIssues`] | `TrustSignedAssertion`, `ReauthWithCcfBCert`, `NarrowUnauthenticated` | trust in B vs invoker talks to A vs weak token |

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::engine::time::SimDuration;
use crate::proto::capif::types::SecurityMethod;

/// Item 1 (seed 002 6.X.3 EN: "Security procedure for CAPIF RNAA interconnection is FFS").
/// Default: `RelayConsent`.
#[derive(
    Clone, Copy, Debug, Default, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize, schemars::JsonSchema,
)]
pub enum Rnaa {
    /// (a) CCF-B obtains the resource owner's consent and relays it to CCF-A: the consent crosses
    /// B→A and CCF-A must trust CCF-B's word for it.
    #[default]
    RelayConsent,
    /// (b) CCF-A asks the resource owner itself: A learns the invoker ID from B, no relayed trust,
    /// but A needs a path to the owner.
    CcfAAsksOwner,
    /// (c) RNAA is refused over interconnection: nothing crosses, the use case fails.
    NotSupported,
}

impl Rnaa {
    /// Every alternative, in declaration order (the random cases draw from it).
    pub const ALL: [Rnaa; 3] = [Rnaa::RelayConsent, Rnaa::CcfAAsksOwner, Rnaa::NotSupported];
}

/// Item 2 (seed 002 6.X.3.1 ENs: how the invoker learns an API is behind another CCF and that it
/// must send the CCF-B ID). Default: `CcfIdInDiscovery`.
#[derive(
    Clone, Copy, Debug, Default, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize, schemars::JsonSchema,
)]
pub enum CcfDiscovery {
    /// (a) `ServiceAPIDescription.ccfId` in the discovery result (Rel-18 member): no extra message.
    #[default]
    CcfIdInDiscovery,
    /// (b) CCF-B says so in the Security Method Response: no extra message, needs a new member.
    CcfIdInSecurityMethodResponse,
    /// (c) The AEF challenges an unknown invoker, which retries with the CCF-B information: one
    /// extra round trip with the AEF, no new CCF member.
    AefChallenge,
}

impl CcfDiscovery {
    /// Every alternative, in declaration order (the random cases draw from it).
    pub const ALL: [CcfDiscovery; 3] = [
        CcfDiscovery::CcfIdInDiscovery,
        CcfDiscovery::CcfIdInSecurityMethodResponse,
        CcfDiscovery::AefChallenge,
    ];
}

/// Item 3 (seed 002 6.X.3.1 EN: CCF-B ID mandatory or optional, and whether it is sensitive
/// against an AEF in another domain). Default: `MandatoryClear`.
#[derive(
    Clone, Copy, Debug, Default, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize, schemars::JsonSchema,
)]
pub enum CcfBIdExposure {
    /// (a) Always sent in clear: always resolvable, always exposed to domain A.
    #[default]
    MandatoryClear,
    /// (b) Sent only if CCF-A lacks a mapping (seed NOTE): exposed less, fails if the invoker's
    /// belief about the mapping is wrong.
    OptionalIfNoMapping,
    /// (c) An opaque handle, issued by CCF-B, that only CCF-A resolves (e.g. encrypted to CCF-A):
    /// the CCF-B ID never crosses in clear; needs a key between the CCFs.
    OpaqueHandle,
}

impl CcfBIdExposure {
    /// Every alternative, in declaration order (the random cases draw from it).
    pub const ALL: [CcfBIdExposure; 3] = [
        CcfBIdExposure::MandatoryClear,
        CcfBIdExposure::OptionalIfNoMapping,
        CcfBIdExposure::OpaqueHandle,
    ];
}

/// Item 4 (seed 002 6.X.3.1 EN: communicating with other CCFs to find the invoker's CCF).
/// Used only when the request carries no CCF-B ID or handle. Default: `MapLearned`.
#[derive(
    Clone, Copy, Debug, Default, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize, schemars::JsonSchema,
)]
pub enum HomeCcfLookup {
    /// (a) CCF-A keeps an invokerId→CCF map learnt from API sharing: no message, fails without an
    /// entry.
    #[default]
    MapLearned,
    /// (b) The invoker ID has a routable CCF prefix: no message, no state, but every holder of the
    /// invoker ID learns the CCF-B ID (so it conflicts with [`CcfBIdExposure::OpaqueHandle`]).
    RoutablePrefix,
    /// (c) CCF-A asks all its peers: 2·n messages and the invoker ID exposed to every peer.
    AskAllPeers,
}

impl HomeCcfLookup {
    /// Every alternative, in declaration order (the random cases draw from it).
    pub const ALL: [HomeCcfLookup; 3] = [
        HomeCcfLookup::MapLearned,
        HomeCcfLookup::RoutablePrefix,
        HomeCcfLookup::AskAllPeers,
    ];
}

/// Item 5 (seed 002 6.X.3.1 EN: AEFPSK identification by AEF details or also by service API).
/// Default: `PerInvokerAef`.
#[derive(
    Clone, Copy, Debug, Default, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize, schemars::JsonSchema,
)]
pub enum PskScope {
    /// One AEFPSK per (invoker, AEF): one derivation, shared by all APIs of the AEF.
    #[default]
    PerInvokerAef,
    /// One AEFPSK per (invoker, AEF, API): one derivation per API, a key per API.
    PerInvokerAefApi,
}

impl PskScope {
    /// Every alternative, in declaration order (the random cases draw from it).
    pub const ALL: [PskScope; 2] = [PskScope::PerInvokerAef, PskScope::PerInvokerAefApi];
}

/// Item 6 (seed 002 6.X.3.1 EN: whether CCF-A can authorize without more information from
/// CCF-B). Default: `PushWithPsk`.
#[derive(
    Clone, Copy, Debug, Default, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize, schemars::JsonSchema,
)]
pub enum CrossAuthorization {
    /// (a) CCF-B pushes the authorization information with the security information: no extra
    /// round trip; stale until the key is renewed.
    #[default]
    PushWithPsk,
    /// (b) CCF-A pulls it from CCF-B per invocation: never stale, a CAPIF-6 round trip each time.
    PullPerInvocation,
    /// (c) Pull, then cache for the TTL: a round trip per TTL, stale for at most the TTL.
    CacheTtl(SimDuration),
}

impl CrossAuthorization {
    /// Every alternative, in declaration order (`CacheTtl` with a 2 s TTL).
    pub const ALL: [CrossAuthorization; 3] = [
        CrossAuthorization::PushWithPsk,
        CrossAuthorization::PullPerInvocation,
        CrossAuthorization::CacheTtl(SimDuration::from_secs(2)),
    ];
}

/// Item 7 (seed 002 6.X.3.3 EN: which CCF provides the access token; forwarding exposes the
/// onboarding secret to CCF-A). Default: `CcfBIssues`.
#[derive(
    Clone, Copy, Debug, Default, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize, schemars::JsonSchema,
)]
pub enum CrossOauth {
    /// (a) CCF-B issues; the AEF trusts CCF-B's signing key, distributed via CCF-A.
    #[default]
    CcfBIssues,
    /// (b) CCF-B forwards the token request to CCF-A: the onboarding secret crosses B→A.
    CcfBForwards,
    /// (c) CCF-B authenticates the invoker, then obtains a CCF-A token for it (token exchange);
    /// CCF-A issues, so [`CcfAIssues`] decides how A authenticates the invoker.
    TokenExchange,
}

impl CrossOauth {
    /// Every alternative, in declaration order (the random cases draw from it).
    pub const ALL: [CrossOauth; 3] = [
        CrossOauth::CcfBIssues,
        CrossOauth::CcfBForwards,
        CrossOauth::TokenExchange,
    ];
}

/// Item 8 (seed 002 6.X.3.3 EN: if CCF-A issues, whether it can authenticate the invoker before
/// putting its ID in the token). Applies with [`CrossOauth::TokenExchange`]. Default:
/// `TrustSignedAssertion`.
#[derive(
    Clone, Copy, Debug, Default, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize, schemars::JsonSchema,
)]
pub enum CcfAIssues {
    /// (a) CCF-A trusts an assertion signed by CCF-B: no invoker round trip, transitive trust.
    #[default]
    TrustSignedAssertion,
    /// (b) The invoker re-authenticates to CCF-A with its CCF-B-issued certificate: A checks it
    /// itself, but the invoker must reach A and present its certificate.
    ReauthWithCcfBCert,
    /// (c) No authentication: a narrowly scoped token bound to nothing but the claimed ID.
    NarrowUnauthenticated,
}

impl CcfAIssues {
    /// Every alternative, in declaration order (the random cases draw from it).
    pub const ALL: [CcfAIssues; 3] = [
        CcfAIssues::TrustSignedAssertion,
        CcfAIssues::ReauthWithCcfBCert,
        CcfAIssues::NarrowUnauthenticated,
    ];
}

/// All interconnection knobs. Defaults: the first alternative of each item (see each type).
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, Hash, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct InterconnectionKnobs {
    /// Item 1.
    pub rnaa: Rnaa,
    /// Item 2.
    pub discovery: CcfDiscovery,
    /// Item 3.
    pub ccf_b_id: CcfBIdExposure,
    /// Item 4.
    pub home_lookup: HomeCcfLookup,
    /// Item 5.
    pub psk_scope: PskScope,
    /// Item 6.
    pub authorization: CrossAuthorization,
    /// Item 7.
    pub oauth: CrossOauth,
    /// Item 8.
    pub ccf_a_issues: CcfAIssues,
}

/// Knob combinations that contradict each other.
#[derive(Clone, Copy, Debug, Eq, PartialEq, thiserror::Error)]
pub enum KnobError {
    /// Fatal to the scenario: a routable prefix in the invoker ID reveals the CCF-B ID the opaque
    /// handle hides.
    #[error("interconnection knobs: RoutablePrefix reveals the CCF-B id that OpaqueHandle hides")]
    PrefixDefeatsHandle,
}

impl InterconnectionKnobs {
    /// Checks the combination (once, at scenario load).
    pub fn validate(&self) -> Result<(), KnobError> {
        match (self.ccf_b_id, self.home_lookup) {
            (CcfBIdExposure::OpaqueHandle, HomeCcfLookup::RoutablePrefix) => Err(KnobError::PrefixDefeatsHandle),
            _ => Ok(()),
        }
    }
}

/// A participant.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub enum Party {
    /// The API invoker (onboarded at CCF-B).
    Invoker,
    /// The invoker's CCF.
    CcfB,
    /// The AEF's CCF.
    CcfA,
    /// The AEF.
    Aef,
    /// The resource owner (RNAA).
    ResourceOwner,
    /// Another peer CCF of CCF-A, `k` in `0..n_peer_ccfs - 1`.
    OtherCcf(u16),
}

/// A trust domain.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub enum Domain {
    /// The invoker's own.
    Invoker,
    /// CAPIF provider A (CCF-A, AEF).
    A,
    /// CAPIF provider B (CCF-B).
    B,
    /// Any other CAPIF provider.
    Peers,
    /// The resource owner.
    User,
}

/// The default party → domain map.
pub fn default_domain(p: Party) -> Domain {
    match p {
        Party::Invoker => Domain::Invoker,
        Party::CcfB => Domain::B,
        Party::CcfA | Party::Aef => Domain::A,
        Party::ResourceOwner => Domain::User,
        Party::OtherCcf(_) => Domain::Peers,
    }
}

/// An identifier or secret a message carries (serialized by its name, e.g. `"Aefpsk"`).
#[derive(Clone, Copy, Debug, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize)]
pub enum Item {
    /// API invoker ID.
    InvokerId,
    /// CCF-B ID in clear.
    CcfBId,
    /// Opaque handle for the CCF-B ID.
    OpaqueHandle,
    /// AEFPSK.
    Aefpsk,
    /// The invoker's onboarding secret (`client_secret`).
    OnboardingSecret,
    /// The invoker's certificate.
    InvokerCert,
    /// The invoker's root CA certificate (method 2 security information).
    InvokerRootCa,
    /// An access token.
    AccessToken,
    /// CCF-B's token signing key (public part).
    CcfBSigningKey,
    /// An assertion about the invoker signed by CCF-B.
    CcfBAssertion,
    /// Authorization information.
    AuthorizationInfo,
    /// The resource owner's consent.
    ResourceOwnerConsent,
}

/// One message of a plan.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct PlannedMessage {
    /// Sender.
    pub from: Party,
    /// Receiver.
    pub to: Party,
    /// Schema name where one exists, else a description.
    pub name: &'static str,
    /// Identifiers and secrets carried.
    pub carries: Vec<Item>,
}

/// How the plan ends.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Outcome {
    /// The invoker can invoke.
    Ok,
    /// Refused, with why.
    Rejected(&'static str),
}

/// The scenario of one negotiation and one authentication.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Scenario {
    /// Peer CCFs of CCF-A, CCF-B included (≥ 1).
    pub n_peer_ccfs: u16,
    /// CCF-A has learnt the invoker→CCF-B mapping (and the invoker knows it).
    pub has_mapping: bool,
    /// The selected method.
    pub method: SecurityMethod,
    /// APIs the invoker uses at the AEF (≥ 1; AEFPSK derivations with `PerInvokerAefApi`).
    pub n_apis: u16,
    /// The invocation needs resource owner authorization (RNAA).
    pub rnaa: bool,
}

/// A plan: messages in order, AEFPSK derivations at CCF-B, outcome.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Plan {
    /// The messages, in order.
    pub messages: Vec<PlannedMessage>,
    /// AEFPSK derivations.
    pub psk_derivations: u16,
    /// The outcome.
    pub outcome: Outcome,
}

struct Builder {
    messages: Vec<PlannedMessage>,
    routable_prefix: bool,
}

impl Builder {
    fn send(&mut self, from: Party, to: Party, name: &'static str, carries: &[Item]) {
        let mut carries = carries.to_vec();
        // A routable prefix makes every invoker ID reveal the CCF-B ID.
        if self.routable_prefix && carries.contains(&Item::InvokerId) && !carries.contains(&Item::CcfBId) {
            carries.push(Item::CcfBId);
        }
        self.messages.push(PlannedMessage {
            from,
            to,
            name,
            carries,
        });
    }
}

/// The message sequence for `s` under `k`.
pub fn plan(k: &InterconnectionKnobs, s: &Scenario) -> Plan {
    use Item::*;
    use Party::*;
    let mut b = Builder {
        messages: Vec::new(),
        routable_prefix: k.home_lookup == HomeCcfLookup::RoutablePrefix,
    };
    let mut psk_derivations = 0;
    let done = |b: Builder, psk_derivations, outcome| Plan {
        messages: b.messages,
        psk_derivations,
        outcome,
    };

    //= seed 002 6.X.2: the invoker sends the security method request to CCF-B; CCF-B asks CCF-A
    //= for the AEF's methods or a selection.
    if k.discovery == CcfDiscovery::CcfIdInDiscovery {
        b.send(Invoker, CcfB, "Discover_Service_API request", &[InvokerId]);
        b.send(CcfB, Invoker, "DiscoveredAPIs", &[]);
    }
    b.send(Invoker, CcfB, "ServiceSecurity", &[InvokerId]);
    b.send(CcfB, CcfA, "security method query", &[InvokerId]);
    b.send(CcfA, CcfB, "AEF security methods", &[]);
    // What the invoker sends the AEF to identify its CCF (item 3).
    let mut id_items = vec![InvokerId];
    match k.ccf_b_id {
        CcfBIdExposure::MandatoryClear => id_items.push(CcfBId),
        CcfBIdExposure::OptionalIfNoMapping if !s.has_mapping => id_items.push(CcfBId),
        CcfBIdExposure::OptionalIfNoMapping => {}
        CcfBIdExposure::OpaqueHandle => id_items.push(OpaqueHandle),
    }
    let rsp_items: &[Item] = if k.ccf_b_id == CcfBIdExposure::OpaqueHandle {
        &[OpaqueHandle]
    } else {
        &[]
    };
    b.send(CcfB, Invoker, "ServiceSecurity", rsp_items);

    //= seed 002 6.X.3.1: "The API invoker shall include the API invoker ID and may include the
    //= CCF-B ID ... in the authentication initiation request"
    if k.discovery == CcfDiscovery::AefChallenge {
        b.send(Invoker, Aef, "CheckAuthenticationReq", &[InvokerId]);
        b.send(
            Aef,
            Invoker,
            "ProblemDetails (unknown invoker: send CCF information)",
            &[],
        );
    }
    let uses_tls_auth = s.method != SecurityMethod::Oauth;
    if uses_tls_auth {
        b.send(Invoker, Aef, "CheckAuthenticationReq", &id_items);
        b.send(Aef, CcfA, "Obtain_API_Invoker_Info request", &id_items);

        // Item 4: find CCF-B when no CCF-B ID or handle came with the request.
        if id_items.len() == 1 {
            match k.home_lookup {
                HomeCcfLookup::MapLearned if !s.has_mapping => {
                    b.send(CcfA, Aef, "ProblemDetails (unknown invoker)", &[]);
                    return done(
                        b,
                        psk_derivations,
                        Outcome::Rejected("ccf-a has no mapping for the invoker"),
                    );
                }
                HomeCcfLookup::MapLearned | HomeCcfLookup::RoutablePrefix => {}
                HomeCcfLookup::AskAllPeers => {
                    for p in 0..s.n_peer_ccfs.saturating_sub(1) {
                        b.send(CcfA, OtherCcf(p), "home ccf query", &[InvokerId]);
                        b.send(OtherCcf(p), CcfA, "home ccf answer (not mine)", &[]);
                    }
                    b.send(CcfA, CcfB, "home ccf query", &[InvokerId]);
                    b.send(CcfB, CcfA, "home ccf answer (mine)", &[]);
                }
            }
        }

        //= seed 002 6.X.3.1: "CCF-A shall request the security information from CCF-B over
        //= CAPIF-6/6e"; 6.X.3.2: for PKI CCF-B includes only the API invoker ID.
        b.send(CcfA, CcfB, "security information request", &[InvokerId]);
        let mut info = vec![InvokerId];
        if s.method == SecurityMethod::Psk {
            info.push(Aefpsk);
            psk_derivations = match k.psk_scope {
                PskScope::PerInvokerAef => 1,
                PskScope::PerInvokerAefApi => s.n_apis.max(1),
            };
        } else {
            info.push(InvokerRootCa);
        }
        if k.authorization == CrossAuthorization::PushWithPsk {
            info.push(AuthorizationInfo);
        }
        b.send(CcfB, CcfA, "security information", &info);
        b.send(CcfA, Aef, "ServiceSecurity (security information)", &info);
    }

    //= seed 002 6.X.3.3: "The API invoker shall send the access token request message to the
    //= onboarded CCF-B"
    if s.method == SecurityMethod::Oauth {
        b.send(Invoker, CcfB, "AccessTokenReq", &[InvokerId, OnboardingSecret]);
        match k.oauth {
            CrossOauth::CcfBIssues => {
                b.send(CcfB, CcfA, "CCF-B signing key", &[CcfBSigningKey]);
                b.send(CcfA, Aef, "CCF-B signing key", &[CcfBSigningKey]);
            }
            CrossOauth::CcfBForwards => {
                b.send(CcfB, CcfA, "AccessTokenReq (forwarded)", &[InvokerId, OnboardingSecret]);
                b.send(CcfA, CcfB, "AccessTokenRsp", &[AccessToken]);
            }
            CrossOauth::TokenExchange => match k.ccf_a_issues {
                CcfAIssues::TrustSignedAssertion => {
                    b.send(CcfB, CcfA, "token exchange request", &[InvokerId, CcfBAssertion]);
                    b.send(CcfA, CcfB, "AccessTokenRsp", &[AccessToken]);
                }
                CcfAIssues::ReauthWithCcfBCert => {
                    b.send(CcfB, Invoker, "redirect to CCF-A", &[]);
                    b.send(Invoker, CcfA, "AccessTokenReq (mutual TLS)", &[InvokerId, InvokerCert]);
                    b.send(CcfA, Invoker, "AccessTokenRsp", &[AccessToken]);
                }
                CcfAIssues::NarrowUnauthenticated => {
                    b.send(CcfB, CcfA, "token exchange request", &[InvokerId]);
                    b.send(CcfA, CcfB, "AccessTokenRsp (narrow scope)", &[AccessToken]);
                }
            },
        }
        let issued_to_invoker =
            k.oauth == CrossOauth::TokenExchange && k.ccf_a_issues == CcfAIssues::ReauthWithCcfBCert;
        if !issued_to_invoker {
            b.send(CcfB, Invoker, "AccessTokenRsp", &[AccessToken]);
        }
    }

    // Item 6: authorization information not pushed with the security information.
    if matches!(
        k.authorization,
        CrossAuthorization::PullPerInvocation | CrossAuthorization::CacheTtl(_)
    ) || (s.method == SecurityMethod::Oauth && k.authorization == CrossAuthorization::PushWithPsk)
    {
        b.send(Aef, CcfA, "authorization information request", &[InvokerId]);
        if k.authorization != CrossAuthorization::PushWithPsk {
            b.send(CcfA, CcfB, "authorization information request", &[InvokerId]);
            b.send(CcfB, CcfA, "authorization information", &[AuthorizationInfo]);
        }
        b.send(CcfA, Aef, "authorization information", &[AuthorizationInfo]);
    }

    // Item 1: RNAA consent.
    if s.rnaa {
        match k.rnaa {
            Rnaa::RelayConsent => {
                b.send(CcfB, ResourceOwner, "consent request", &[InvokerId]);
                b.send(ResourceOwner, CcfB, "consent", &[ResourceOwnerConsent]);
                b.send(CcfB, CcfA, "relayed consent", &[InvokerId, ResourceOwnerConsent]);
            }
            Rnaa::CcfAAsksOwner => {
                b.send(CcfA, ResourceOwner, "consent request", &[InvokerId]);
                b.send(ResourceOwner, CcfA, "consent", &[ResourceOwnerConsent]);
            }
            Rnaa::NotSupported => {
                b.send(
                    CcfA,
                    Aef,
                    "ProblemDetails (RNAA over interconnection not supported)",
                    &[],
                );
                return done(
                    b,
                    psk_derivations,
                    Outcome::Rejected("rnaa over interconnection not supported"),
                );
            }
        }
    }

    let credential: &[Item] = if s.method == SecurityMethod::Oauth {
        &[AccessToken]
    } else {
        &[]
    };
    b.send(Invoker, Aef, "service API request", credential);
    b.send(Aef, Invoker, "service API response", &[]);
    done(b, psk_derivations, Outcome::Ok)
}

/// One item crossing one boundary.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct Exposure {
    /// What crossed.
    pub item: Item,
    /// From where.
    pub from_domain: Domain,
    /// To where.
    pub to_domain: Domain,
}

/// The distinct (item, from, to) crossings of a plan, sorted.
pub fn exposure(plan: &Plan, domain_of: impl Fn(Party) -> Domain) -> Vec<Exposure> {
    let mut out = BTreeSet::new();
    for m in &plan.messages {
        let (from_domain, to_domain) = (domain_of(m.from), domain_of(m.to));
        if from_domain == to_domain {
            continue;
        }
        for &item in &m.carries {
            out.insert(Exposure {
                item,
                from_domain,
                to_domain,
            });
        }
    }
    out.into_iter().collect()
}

/// What the knobs promise never enters a domain (from any other), for the default domains.
pub fn forbidden(k: &InterconnectionKnobs) -> Vec<(Item, Domain)> {
    let mut f = vec![
        (Item::Aefpsk, Domain::Peers),
        (Item::Aefpsk, Domain::User),
        (Item::OnboardingSecret, Domain::Peers),
        (Item::OnboardingSecret, Domain::User),
        (Item::AccessToken, Domain::Peers),
    ];
    //= seed 002 6.X.3.3 EN: forwarding "means to make the onboarding secret public to the CCF-A"
    if k.oauth != CrossOauth::CcfBForwards {
        f.push((Item::OnboardingSecret, Domain::A));
    }
    if k.ccf_b_id == CcfBIdExposure::OpaqueHandle {
        f.push((Item::CcfBId, Domain::A));
    }
    if k.home_lookup != HomeCcfLookup::AskAllPeers {
        f.push((Item::InvokerId, Domain::Peers));
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(method: SecurityMethod) -> Scenario {
        Scenario {
            n_peer_ccfs: 3,
            has_mapping: false,
            method,
            n_apis: 2,
            rnaa: true,
        }
    }

    /// Every valid knob combination.
    fn all_knobs() -> Vec<InterconnectionKnobs> {
        let mut v = Vec::new();
        for rnaa in [Rnaa::RelayConsent, Rnaa::CcfAAsksOwner, Rnaa::NotSupported] {
            for discovery in [
                CcfDiscovery::CcfIdInDiscovery,
                CcfDiscovery::CcfIdInSecurityMethodResponse,
                CcfDiscovery::AefChallenge,
            ] {
                for ccf_b_id in [
                    CcfBIdExposure::MandatoryClear,
                    CcfBIdExposure::OptionalIfNoMapping,
                    CcfBIdExposure::OpaqueHandle,
                ] {
                    for home_lookup in [
                        HomeCcfLookup::MapLearned,
                        HomeCcfLookup::RoutablePrefix,
                        HomeCcfLookup::AskAllPeers,
                    ] {
                        for psk_scope in [PskScope::PerInvokerAef, PskScope::PerInvokerAefApi] {
                            for authorization in [
                                CrossAuthorization::PushWithPsk,
                                CrossAuthorization::PullPerInvocation,
                                CrossAuthorization::CacheTtl(SimDuration::from_secs(60)),
                            ] {
                                for oauth in [
                                    CrossOauth::CcfBIssues,
                                    CrossOauth::CcfBForwards,
                                    CrossOauth::TokenExchange,
                                ] {
                                    for ccf_a_issues in [
                                        CcfAIssues::TrustSignedAssertion,
                                        CcfAIssues::ReauthWithCcfBCert,
                                        CcfAIssues::NarrowUnauthenticated,
                                    ] {
                                        let k = InterconnectionKnobs {
                                            rnaa,
                                            discovery,
                                            ccf_b_id,
                                            home_lookup,
                                            psk_scope,
                                            authorization,
                                            oauth,
                                            ccf_a_issues,
                                        };
                                        if k.validate().is_ok() {
                                            v.push(k);
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        v
    }

    fn scenarios() -> Vec<Scenario> {
        let mut v = Vec::new();
        for method in SecurityMethod::KNOWN {
            for has_mapping in [false, true] {
                for rnaa in [false, true] {
                    v.push(Scenario {
                        has_mapping,
                        rnaa,
                        ..scenario(method.clone())
                    });
                }
            }
        }
        v
    }

    #[test]
    fn every_knob_value_yields_a_plan_within_its_promises() {
        let knobs = all_knobs();
        assert_eq!(knobs.len(), 3 * 3 * (9 - 1) * 2 * 3 * 3 * 3);
        for k in &knobs {
            for s in scenarios() {
                let p = plan(k, &s);
                assert!(!p.messages.is_empty());
                let forbid = forbidden(k);
                for e in exposure(&p, default_domain) {
                    assert!(!forbid.contains(&(e.item, e.to_domain)), "{k:?} {s:?} exposes {e:?}");
                }
                let rnaa_refused = s.rnaa && k.rnaa == Rnaa::NotSupported;
                assert_eq!(matches!(p.outcome, Outcome::Rejected(_)), rnaa_refused, "{k:?} {s:?}");
            }
        }
    }

    #[test]
    fn onboarding_secret_reaches_ccf_a_only_when_forwarded() {
        for k in all_knobs() {
            for s in scenarios() {
                let p = plan(&k, &s);
                let crossed = exposure(&p, default_domain)
                    .iter()
                    .any(|e| e.item == Item::OnboardingSecret && e.to_domain == Domain::A);
                let expect = k.oauth == CrossOauth::CcfBForwards && s.method == SecurityMethod::Oauth;
                assert_eq!(crossed, expect, "{k:?} {s:?}");
            }
        }
    }

    #[test]
    fn lookup_messages_scale_with_peers() {
        let base = InterconnectionKnobs {
            ccf_b_id: CcfBIdExposure::OptionalIfNoMapping,
            ..InterconnectionKnobs::default()
        };
        let count = |home_lookup, n| {
            let s = Scenario {
                n_peer_ccfs: n,
                has_mapping: true,
                ..scenario(SecurityMethod::Psk)
            };
            plan(&InterconnectionKnobs { home_lookup, ..base }, &s).messages.len()
        };
        let map1 = count(HomeCcfLookup::MapLearned, 1);
        for n in [1, 2, 5, 10] {
            assert_eq!(count(HomeCcfLookup::MapLearned, n), map1);
            assert_eq!(count(HomeCcfLookup::RoutablePrefix, n), map1);
            assert_eq!(count(HomeCcfLookup::AskAllPeers, n), map1 + 2 * usize::from(n));
        }
        // Without a mapping the map fails; the CCF-B ID then travels in the request.
        let s = Scenario {
            has_mapping: true,
            ..scenario(SecurityMethod::Psk)
        };
        let k = InterconnectionKnobs {
            ccf_b_id: CcfBIdExposure::OptionalIfNoMapping,
            ..InterconnectionKnobs::default()
        };
        assert_eq!(plan(&k, &s).outcome, Outcome::Ok);
    }

    #[test]
    fn psk_derivations_per_scope() {
        let s = scenario(SecurityMethod::Psk);
        let per_api = InterconnectionKnobs {
            psk_scope: PskScope::PerInvokerAefApi,
            ..InterconnectionKnobs::default()
        };
        assert_eq!(plan(&InterconnectionKnobs::default(), &s).psk_derivations, 1);
        assert_eq!(plan(&per_api, &s).psk_derivations, 2);
        assert_eq!(plan(&per_api, &scenario(SecurityMethod::Pki)).psk_derivations, 0);
    }

    /// Distinct crossings and messages for each alternative, others at their defaults; PSK for
    /// items 1-6, OAUTH for items 7-8; no mapping, 3 peers, RNAA.
    #[test]
    fn exposure_counts_per_alternative() {
        let d = InterconnectionKnobs::default();
        let ttl = CrossAuthorization::CacheTtl(SimDuration::from_secs(60));
        let psk: Vec<(InterconnectionKnobs, usize, usize)> = vec![
            (d, 10, 16),
            (
                InterconnectionKnobs {
                    rnaa: Rnaa::CcfAAsksOwner,
                    ..d
                },
                9,
                15,
            ),
            (
                InterconnectionKnobs {
                    rnaa: Rnaa::NotSupported,
                    ..d
                },
                7,
                12,
            ),
            (
                InterconnectionKnobs {
                    discovery: CcfDiscovery::CcfIdInSecurityMethodResponse,
                    ..d
                },
                10,
                14,
            ),
            (
                InterconnectionKnobs {
                    discovery: CcfDiscovery::AefChallenge,
                    ..d
                },
                10,
                16,
            ),
            (
                InterconnectionKnobs {
                    ccf_b_id: CcfBIdExposure::OptionalIfNoMapping,
                    ..d
                },
                10,
                16,
            ),
            (
                InterconnectionKnobs {
                    ccf_b_id: CcfBIdExposure::OpaqueHandle,
                    ..d
                },
                11,
                16,
            ),
            (
                InterconnectionKnobs {
                    home_lookup: HomeCcfLookup::RoutablePrefix,
                    ..d
                },
                14,
                16,
            ),
            (
                InterconnectionKnobs {
                    psk_scope: PskScope::PerInvokerAefApi,
                    ..d
                },
                10,
                16,
            ),
            (
                InterconnectionKnobs {
                    authorization: CrossAuthorization::PullPerInvocation,
                    ..d
                },
                10,
                20,
            ),
            (
                InterconnectionKnobs {
                    authorization: ttl,
                    ..d
                },
                10,
                20,
            ),
        ];
        let oauth: Vec<(InterconnectionKnobs, usize, usize)> = vec![
            (d, 9, 17),
            (
                InterconnectionKnobs {
                    oauth: CrossOauth::CcfBForwards,
                    ..d
                },
                10,
                17,
            ),
            (
                InterconnectionKnobs {
                    oauth: CrossOauth::TokenExchange,
                    ..d
                },
                10,
                17,
            ),
            (
                InterconnectionKnobs {
                    oauth: CrossOauth::TokenExchange,
                    ccf_a_issues: CcfAIssues::ReauthWithCcfBCert,
                    ..d
                },
                10,
                17,
            ),
            (
                InterconnectionKnobs {
                    oauth: CrossOauth::TokenExchange,
                    ccf_a_issues: CcfAIssues::NarrowUnauthenticated,
                    ..d
                },
                9,
                17,
            ),
        ];
        for (method, table) in [(SecurityMethod::Psk, psk), (SecurityMethod::Oauth, oauth)] {
            for (k, crossings, messages) in table {
                let p = plan(&k, &scenario(method.clone()));
                let e = exposure(&p, default_domain);
                assert_eq!((e.len(), p.messages.len()), (crossings, messages), "{k:?} {e:?}");
            }
        }
    }

    #[test]
    fn knobs_ron_defaults_and_validation() {
        let k: InterconnectionKnobs =
            ron::from_str("(home_lookup: AskAllPeers, authorization: CacheTtl(\"30s\"))").unwrap();
        assert_eq!(k.home_lookup, HomeCcfLookup::AskAllPeers);
        assert_eq!(
            k.authorization,
            CrossAuthorization::CacheTtl(SimDuration::from_secs(30))
        );
        assert_eq!(k.rnaa, Rnaa::RelayConsent);
        assert!(ron::from_str::<InterconnectionKnobs>("(nope: 1)").is_err());
        let bad = InterconnectionKnobs {
            ccf_b_id: CcfBIdExposure::OpaqueHandle,
            home_lookup: HomeCcfLookup::RoutablePrefix,
            ..k
        };
        assert_eq!(bad.validate(), Err(KnobError::PrefixDefeatsHandle));
    }
}
