//! The CAPIF facts of the audit trail (judged by `check::capif`) and the deliberate CAPIF
//! bugs. Fingerprints are the first 8 bytes of SHA-256 of a key, in hex ([`fingerprint`]).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::proto::capif::authentication::ExpiryBehaviour;
use crate::proto::capif::interconnection::{InterconnectionKnobs, Item};
use crate::proto::capif::types::SecurityMethod;

/// The fingerprint of a key in the audit trail: the first 8 bytes of its SHA-256, in hex.
pub fn fingerprint(key: &[u8]) -> String {
    hex::encode(&Sha256::digest(key)[..8])
}

/// The plane as built: what the checker needs to interpret the other facts.
#[derive(Clone, Debug, Deserialize, PartialEq, Serialize)]
pub struct SetupAudit {
    /// The interconnection FFS alternatives (seed 002).
    pub interconnection: InterconnectionKnobs,
    /// What AEFs do at AEFPSK expiry (seed 003).
    pub expiry: ExpiryBehaviour,
    /// Clock-skew leeway of the AEFs' token check \[s\] (clamped to 30 s when judged).
    pub token_leeway_s: u64,
    /// The CCFs and their trust domains.
    pub ccfs: Vec<NodeAudit>,
    /// The AEFs, their domains and the methods they support at the start (what the CCFs
    /// publish).
    pub aefs: Vec<AefAudit>,
    /// The Capif flows.
    pub flows: Vec<FlowAudit>,
}

/// A node and its trust domain.
#[derive(Clone, Debug, Deserialize, PartialEq, Serialize)]
pub struct NodeAudit {
    pub node: String,
    pub domain: String,
}

/// An AEF at the start of the run.
#[derive(Clone, Debug, Deserialize, PartialEq, Serialize)]
pub struct AefAudit {
    pub aef: String,
    pub domain: String,
    /// Its effective methods (interface level over AEF level).
    pub methods: Vec<SecurityMethod>,
}

/// A Capif flow: where its invokers onboard and which AEF (registered where) they use.
#[derive(Clone, Debug, Deserialize, PartialEq, Serialize)]
pub struct FlowAudit {
    pub label: String,
    /// The invokers' CCF (CCF-B when interconnected).
    pub ccf: String,
    pub aef: String,
    /// The AEF's CCF (CCF-A).
    pub aef_ccf: String,
    /// The time an invoker of the flow may take to recover from a disturbance: every
    /// procedure of its budget waiting its full timeout, TLS handshake and back-off \[ns\]
    /// (its configuration; 0 in traces written before issue 12: not judged by time).
    #[serde(default)]
    pub recovery_bound_ns: u64,
    /// The most failed procedures an invoker of the flow allows itself in one recovery before
    /// it gives up (its configuration; 0: not judged by count).
    #[serde(default)]
    pub recovery_budget: u32,
}

/// The AEFPSK validity an AEF received from its CCF with the key (the wire value).
#[derive(Clone, Copy, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub enum GrantValidity {
    /// Remaining validity \[ns\]: the key is valid until the receipt plus this.
    Remaining { ns: u64 },
    /// Absolute expiry \[ns\].
    Absolute { at_ns: u64 },
}

/// What a bearer token said, as the world decoded it from the request.
#[derive(Clone, Debug, Deserialize, PartialEq, Serialize)]
pub struct TokenFacts {
    /// `jti`, if any.
    pub jti: Option<String>,
    /// `client_id`.
    pub client_id: String,
    /// `exp` \[s\].
    pub exp_s: u64,
    /// The CCF whose token key verifies the signature (the world checks every CCF's key);
    /// `None`: no CCF signed it.
    pub signed_by: Option<String>,
}

/// The credential an AEF had when it accepted a CAPIF-2e session.
#[derive(Clone, Debug, Deserialize, PartialEq, Serialize)]
pub enum SessionCredential {
    /// TLS-PSK.
    Psk {
        /// The AEFPSK the AEF holds for the identity (fingerprint); `None`: none.
        aef_key: Option<String>,
        /// The key the invoker's TLS stack used on the connection (fingerprint).
        offered_key: String,
    },
    /// TLS with the client's certificate.
    Pki {
        /// The certificate's subject.
        subject: String,
        /// The CCF whose CA certificate the chain verifies to (checked by the world, not the
        /// AEF); `None`: no CCF CA.
        anchor: Option<String>,
    },
    /// TLS with server authentication only; the request's bearer token.
    Oauth { token: Option<TokenFacts> },
}

/// A message that carried identifiers or secret material between two nodes.
#[derive(Clone, Debug, Deserialize, PartialEq, Serialize)]
pub struct SecretSent {
    /// The flow it serves (empty: none known).
    pub flow: String,
    /// The trust domain of the flow's invoker concerned.
    pub invoker_domain: String,
    pub from: String,
    pub from_domain: String,
    pub to: String,
    pub to_domain: String,
    /// The message (schema or CAPIF-6e plan message name).
    pub message: String,
    /// What it carried.
    pub items: Vec<Item>,
    /// The API invoker ID it concerns, for the world to label `flow` and `invoker_domain`
    /// with (a CCF knows the ID, not the flow); not written.
    #[serde(skip)]
    pub about: Option<String>,
    /// The address of the invoker it concerns, where the sender knows it (not written).
    #[serde(skip)]
    pub about_node: Option<u32>,
}

/// An audited CAPIF fact.
#[derive(Clone, Debug, Deserialize, PartialEq, Serialize)]
pub enum CapifAudit {
    /// The plane's configuration; first, before any other CAPIF fact.
    Setup(Box<SetupAudit>),
    /// A CCF answered a Security Method Request: what the invoker offered for the AEF, the
    /// AEF's methods in the CCF's profile at that moment, and what it selected.
    Negotiated {
        ccf: String,
        invoker: String,
        aef: String,
        offered: Vec<SecurityMethod>,
        known: Vec<SecurityMethod>,
        selected: SecurityMethod,
    },
    /// The APF's update of an AEF's methods was applied at the CCFs.
    MethodsPublished {
        aef: String,
        methods: Vec<SecurityMethod>,
        /// The CCF that learnt it over CAPIF-6e from the AEF's own CCF (`None`: the AEF's own
        /// CCF, from the APF).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ccf: Option<String>,
    },
    /// An AEF's method change took effect at the AEF.
    AefMethodsChanged { aef: String, methods: Vec<SecurityMethod> },
    /// An invoker derived an AEFPSK for an AEF (its validity timer runs out at `expires_at_ns`).
    PskDerived {
        invoker: String,
        aef: String,
        key: String,
        expires_at_ns: u64,
    },
    /// An AEF installed an AEFPSK for an invoker: the key and validity it received from its
    /// CCF, and the expiry its own timer was set to.
    PskInstalled {
        aef: String,
        invoker: String,
        key: String,
        validity: GrantValidity,
        expires_at_ns: u64,
    },
    /// An AEF accepted a CAPIF-2e session (at its first request) with `method`.
    SessionAccepted {
        aef: String,
        invoker: String,
        conn: u32,
        method: SecurityMethod,
        credential: SessionCredential,
    },
    /// An AEF answered an invocation with success.
    InvocationServed {
        aef: String,
        invoker: String,
        conn: u32,
        method: SecurityMethod,
        token: Option<TokenFacts>,
    },
    /// An AEF received revoke-authorization for an invoker.
    RevocationReceived { aef: String, invoker: String },
    /// An AEF took security information (authentication and authorization information) for an
    /// invoker from its CCF, in answer to the `GET trustedInvokers` it sent at
    /// `requested_at_ns`.
    SecurityInfoObtained {
        aef: String,
        invoker: String,
        requested_at_ns: u64,
    },
    /// A message carried identifiers or secrets (see [`SecretSent`]).
    SecretSent(Box<SecretSent>),
    /// A CCF restarted: its connections dropped, unreachable for `down_ns`.
    CcfRestarted { ccf: String, down_ns: u64 },
    /// The invoker on `node` received its API invoker ID `invoker` (the subject of the
    /// certificate in the onboarding answer) from `ccf`, for flow `flow`.
    Onboarded {
        node: String,
        invoker: String,
        ccf: String,
        flow: String,
    },
    /// The invoker on `node` stopped for good (its last failure was final, or it reached its
    /// failure budget): it sends nothing more.
    GaveUp { node: String },
}

/// The deliberate CAPIF bugs (see [`crate::audit::mutant`]), each at the place the real bug would
/// live.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum CapifMutant {
    /// The AEF ignores the validity it receives with an AEFPSK and keeps the key (and accepts
    /// handshakes with it) for a year (`AefPskCache::install`).
    AcceptExpiredPsk,
    /// The CCF selects a method of the AEF the invoker did not offer (`select_method`).
    NegotiateOutsideIntersection,
    /// The CCF derives the AEFPSK with another P0 (the interface port + 1), and the AEF's
    /// TLS-PSK check (timing fidelity) and its handshake check look at the PSK identity only:
    /// keys differ, the session is still accepted (`Ccf::install_keys`,
    /// `AefPskCache::accept_handshake`, `Security::server_respond`).
    AefpskWrongLabel,
    /// The AEF keeps accepting a method it no longer supports (`aef_reaction`).
    StaleMethodAccepted,
    /// The AEF acknowledges revoke-authorization but keeps the invoker's sessions, security
    /// information and tokens (the world's revoke-authorization handler).
    AcceptRevokedInvoker,
    /// CCF-B relays the invoker's token request, onboarding secret included, to CCF-A although
    /// the `oauth` alternative is not `CcfBForwards` (the world's token handler at CCF-B).
    LeakOnboardingSecret,
    /// Issue 12's bug as it was: the AEF is configured with the token key of the first CCF
    /// its invokers onboard at only, so tokens CCF-B issues to interconnected invokers fail
    /// the signature check (`401 INVALID_TOKEN`, "jwt: bad signature") when the AEF serves
    /// both home and interconnected invokers (the AEF's configuration at build); and an
    /// invoker whose every new session authenticates but whose every invocation is refused
    /// retries for ever (no give-up on consecutive refusals, `invocation_answered`).
    SingleTokenKey,
}
