//! CAPIF bodies (TS 29.222 Rel-18; TS 33.122 for the security semantics): the subset secsim
//! uses of the CAPIF_Security_API, AEF_Security_API, CAPIF_API_Invoker_Management_API,
//! CAPIF_Publish_Service_API, CAPIF_Discover_Service_API and CAPIF_Events_API.
//!
//! Each type keeps every REQUIRED member of its schema, with exact names and enumerations; of
//! the optional members only those secsim reads or writes. Unknown members are ignored when
//! parsing.
//!
//! # Types and schemas
//!
//! | Rust type | OpenAPI schema | file (TS 29.222 API) |
//! |---|---|---|
//! | [`ServiceSecurity`] | `ServiceSecurity` | CAPIF_Security_API (clause 8.5) |
//! | [`SecurityInformation`] | `SecurityInformation` | CAPIF_Security_API |
//! | [`SecurityNotification`] | `SecurityNotification` | CAPIF_Security_API |
//! | [`AccessTokenReq`] | `AccessTokenReq` (form-urlencoded) | CAPIF_Security_API |
//! | [`AccessTokenRsp`] | `AccessTokenRsp` | CAPIF_Security_API |
//! | [`AccessTokenClaims`] | `AccessTokenClaims` (from [`crate::crypto::jwt`]) | CAPIF_Security_API |
//! | [`AccessTokenErr`] | `AccessTokenErr` | CAPIF_Security_API |
//! | [`Cause`], [`AuthorizationFlow`] | `Cause`, `AuthorizationFlow` | CAPIF_Security_API |
//! | [`CheckAuthenticationReq`] / [`CheckAuthenticationRsp`] | same | AEF_Security_API |
//! | [`RevokeAuthorizationReq`] / [`RevokeAuthorizationRsp`] | same | AEF_Security_API |
//! | [`ApiInvokerEnrolmentDetails`] | `APIInvokerEnrolmentDetails` | CAPIF_API_Invoker_Management_API (8.4) |
//! | [`OnboardingInformation`] | `OnboardingInformation` | CAPIF_API_Invoker_Management_API |
//! | [`OnboardingNotification`] | `OnboardingNotification` | CAPIF_API_Invoker_Management_API |
//! | [`ApiList`] | `APIList` | CAPIF_API_Invoker_Management_API |
//! | [`ServiceApiDescription`] | `ServiceAPIDescription` | CAPIF_Publish_Service_API (8.2) |
//! | [`AefProfile`] | `AefProfile` | CAPIF_Publish_Service_API |
//! | [`InterfaceDescription`] | `InterfaceDescription` | CAPIF_Publish_Service_API |
//! | [`Version`] | `Version` | CAPIF_Publish_Service_API |
//! | [`ShareableInformation`] | `ShareableInformation` | CAPIF_Publish_Service_API |
//! | [`PublishedApiPath`] | `PublishedApiPath` | CAPIF_Publish_Service_API |
//! | [`SecurityMethod`], [`Protocol`] | `SecurityMethod`, `Protocol` | CAPIF_Publish_Service_API |
//! | [`DiscoveredApis`] | `DiscoveredAPIs` | CAPIF_Discover_Service_API (8.1) |
//! | [`EventSubscription`] | `EventSubscription` | CAPIF_Events_API (8.3) |
//! | [`EventNotification`] | `EventNotification` | CAPIF_Events_API |
//! | [`CapifEventDetail`], [`CapifEventFilter`], [`CapifEvent`] | `CAPIFEventDetail`, `CAPIFEventFilter`, `CAPIFEvent` | CAPIF_Events_API |
//! | [`WebsockNotifConfig`] | `WebsockNotifConfig` | TS29122_CommonData |
//!
//! # `oneOf` of required members
//!
//! Three schemas require exactly one of a set of members: SecurityInformation
//! (`interfaceDetails` XOR `aefId`), InterfaceDescription (`ipv4Addr` XOR `ipv6Addr` XOR `fqdn`)
//! and AefProfile (`domainName` XOR `interfaceDescriptions`). Each is a Rust enum
//! ([`SecurityTarget`], [`InterfaceAddress`], [`AefLocator`]) flattened into its parent, parsed
//! from a private wire struct that refuses none or several.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

pub use crate::crypto::jwt::AccessTokenClaims;
use crate::proto::common::{Fqdn, ParseError, SupportedFeatures, Uri, api_body, extensible_enum};

// ---------------------------------------------------------------------------------------------
// Enumerations
// ---------------------------------------------------------------------------------------------

extensible_enum! {
    /// CAPIF-2e security method (TS 29.222 Publish API `SecurityMethod`; TS 33.122 clause 6.5.2).
    pub enum SecurityMethod {
        /// Method 1: TLS-PSK with AEFPSK.
        Psk = "PSK",
        /// Method 2: TLS with certificates.
        Pki = "PKI",
        /// Method 3: TLS with an OAuth 2.0 access token.
        Oauth = "OAUTH",
    }
}

extensible_enum! {
    /// Why the CCF revoked an invoker's authorization (CAPIF_Security_API `Cause`).
    pub enum Cause {
        /// Over-limit usage of the service API.
        OverlimitUsage = "OVERLIMIT_USAGE",
        /// Another reason.
        UnexpectedReason = "UNEXPECTED_REASON",
    }
}

extensible_enum! {
    /// OAuth flow offered to the invoker (CAPIF_Security_API `AuthorizationFlow`, Rel-18).
    pub enum AuthorizationFlow {
        /// Client credentials (TS 33.122 Annex C).
        ClientCredentialsFlow = "CLIENT_CREDENTIALS_FLOW",
        /// Authorization code (RNAA).
        AuthorizationCodeFlow = "AUTHORIZATION_CODE_FLOW",
        /// Authorization code with PKCE.
        AuthorizationCodeFlowWithPkce = "AUTHORIZATION_CODE_FLOW_WITH_PKCE",
    }
}

extensible_enum! {
    /// Protocol of a service API (Publish API `Protocol`).
    pub enum Protocol {
        /// HTTP/1.1.
        Http11 = "HTTP_1_1",
        /// HTTP/2.
        Http2 = "HTTP_2",
        /// MQTT.
        Mqtt = "MQTT",
        /// WebSocket.
        Websocket = "WEBSOCKET",
    }
}

extensible_enum! {
    /// CAPIF event (CAPIF_Events_API `CAPIFEvent`).
    pub enum CapifEvent {
        /// A service API was published.
        ServiceApiAvailable = "SERVICE_API_AVAILABLE",
        /// A service API was unpublished.
        ServiceApiUnavailable = "SERVICE_API_UNAVAILABLE",
        /// A service API description changed (e.g. an AEF's security methods).
        ServiceApiUpdate = "SERVICE_API_UPDATE",
        /// An invoker onboarded.
        ApiInvokerOnboarded = "API_INVOKER_ONBOARDED",
        /// An invoker offboarded.
        ApiInvokerOffboarded = "API_INVOKER_OFFBOARDED",
        /// A service API invocation succeeded.
        ServiceApiInvocationSuccess = "SERVICE_API_INVOCATION_SUCCESS",
        /// A service API invocation failed.
        ServiceApiInvocationFailure = "SERVICE_API_INVOCATION_FAILURE",
        /// An access control policy changed.
        AccessControlPolicyUpdate = "ACCESS_CONTROL_POLICY_UPDATE",
        /// An access control policy became unavailable.
        AccessControlPolicyUnavailable = "ACCESS_CONTROL_POLICY_UNAVAILABLE",
        /// An invoker's authorization was revoked.
        ApiInvokerAuthorizationRevoked = "API_INVOKER_AUTHORIZATION_REVOKED",
        /// An invoker's profile changed.
        ApiInvokerUpdated = "API_INVOKER_UPDATED",
        /// Topology hiding created or updated.
        ApiTopologyHidingCreated = "API_TOPOLOGY_HIDING_CREATED",
        /// Topology hiding revoked.
        ApiTopologyHidingRevoked = "API_TOPOLOGY_HIDING_REVOKED",
    }
}

/// `grant_type` of [`AccessTokenReq`] (closed enumeration: only `client_credentials`).
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, Hash, PartialEq, Serialize)]
pub enum GrantType {
    /// RFC 6749 clause 4.4.
    #[default]
    #[serde(rename = "client_credentials")]
    ClientCredentials,
}

/// `token_type` of [`AccessTokenRsp`] (closed enumeration: only `Bearer`).
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, Hash, PartialEq, Serialize)]
pub enum TokenType {
    /// RFC 6750.
    #[default]
    Bearer,
}

/// `error` of [`AccessTokenErr`] (closed enumeration, RFC 6749 clause 5.2).
#[derive(Clone, Copy, Debug, Deserialize, Eq, Hash, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessTokenError {
    /// Malformed request.
    InvalidRequest,
    /// Client authentication failed.
    InvalidClient,
    /// Invalid grant.
    InvalidGrant,
    /// The client may not use this grant type.
    UnauthorizedClient,
    /// Grant type not supported.
    UnsupportedGrantType,
    /// Scope invalid or beyond what was granted.
    InvalidScope,
}

// ---------------------------------------------------------------------------------------------
// Publish / Discover (CAPIF-4, CAPIF-1e discovery)
// ---------------------------------------------------------------------------------------------

/// The address of an interface: exactly one of `ipv4Addr`, `ipv6Addr`, `fqdn`.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum InterfaceAddress {
    /// Dotted-decimal IPv4 address.
    Ipv4Addr(String),
    /// IPv6 address (RFC 5952).
    Ipv6Addr(String),
    /// FQDN.
    Fqdn(Fqdn),
}

/// An API interface of an AEF (Publish API `InterfaceDescription`).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(try_from = "InterfaceDescriptionWire", into = "InterfaceDescriptionWire")]
pub struct InterfaceDescription {
    /// Address (oneOf ipv4Addr / ipv6Addr / fqdn).
    pub address: InterfaceAddress,
    /// Port, 0..=65535.
    pub port: Option<u16>,
    /// Path prefix, starting with `/`.
    pub api_prefix: Option<String>,
    /// Methods of this interface; take precedence over [`AefProfile::security_methods`].
    pub security_methods: Option<Vec<SecurityMethod>>,
}

impl InterfaceDescription {
    /// The TS 33.122 Annex A.1 `P0` ("Service API interface information") as secsim encodes it:
    /// `<fqdn|ip>:<port><apiPrefix>` in UTF-8 (DIGEST section 9 choice).
    pub fn aefpsk_p0(&self) -> String {
        let mut s = match &self.address {
            InterfaceAddress::Ipv4Addr(a) | InterfaceAddress::Fqdn(a) => a.clone(),
            InterfaceAddress::Ipv6Addr(a) => format!("[{a}]"),
        };
        if let Some(port) = self.port {
            let _ = write!(s, ":{port}");
        }
        if let Some(prefix) = &self.api_prefix {
            s.push_str(prefix);
        }
        s
    }
}

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct InterfaceDescriptionWire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ipv4_addr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ipv6_addr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fqdn: Option<Fqdn>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    api_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    security_methods: Option<Vec<SecurityMethod>>,
}

impl TryFrom<InterfaceDescriptionWire> for InterfaceDescription {
    type Error = ParseError;
    fn try_from(w: InterfaceDescriptionWire) -> Result<Self, ParseError> {
        let address = match (w.ipv4_addr, w.ipv6_addr, w.fqdn) {
            (Some(a), None, None) => InterfaceAddress::Ipv4Addr(a),
            (None, Some(a), None) => InterfaceAddress::Ipv6Addr(a),
            (None, None, Some(a)) => InterfaceAddress::Fqdn(a),
            _ => {
                return Err(ParseError::OneOf {
                    what: "InterfaceDescription",
                    members: "ipv4Addr, ipv6Addr, fqdn",
                });
            }
        };
        Ok(InterfaceDescription {
            address,
            port: w.port,
            api_prefix: w.api_prefix,
            security_methods: w.security_methods,
        })
    }
}

impl From<InterfaceDescription> for InterfaceDescriptionWire {
    fn from(d: InterfaceDescription) -> Self {
        let (mut ipv4_addr, mut ipv6_addr, mut fqdn) = (None, None, None);
        match d.address {
            InterfaceAddress::Ipv4Addr(a) => ipv4_addr = Some(a),
            InterfaceAddress::Ipv6Addr(a) => ipv6_addr = Some(a),
            InterfaceAddress::Fqdn(a) => fqdn = Some(a),
        }
        InterfaceDescriptionWire {
            ipv4_addr,
            ipv6_addr,
            fqdn,
            port: d.port,
            api_prefix: d.api_prefix,
            security_methods: d.security_methods,
        }
    }
}

/// An API version (Publish API `Version`; resources and custom operations not modelled).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Version {
    /// Major version in the URI, e.g. `v1`.
    pub api_version: String,
}

/// Where an AEF exposes the API: exactly one of `domainName`, `interfaceDescriptions`.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum AefLocator {
    /// Domain of the API.
    DomainName(String),
    /// Interfaces (minItems 1).
    InterfaceDescriptions(Vec<InterfaceDescription>),
}

/// One AEF exposing a service API (Publish API `AefProfile`).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(try_from = "AefProfileWire", into = "AefProfileWire")]
pub struct AefProfile {
    /// AEF identifier.
    pub aef_id: String,
    /// API versions (minItems 1).
    pub versions: Vec<Version>,
    /// Protocol.
    pub protocol: Option<Protocol>,
    /// Security methods the AEF supports (minItems 1).
    pub security_methods: Option<Vec<SecurityMethod>>,
    /// Domain name or interfaces (oneOf).
    pub locator: AefLocator,
}

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct AefProfileWire {
    aef_id: String,
    versions: Vec<Version>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    protocol: Option<Protocol>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    security_methods: Option<Vec<SecurityMethod>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    domain_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    interface_descriptions: Option<Vec<InterfaceDescription>>,
}

impl TryFrom<AefProfileWire> for AefProfile {
    type Error = ParseError;
    fn try_from(w: AefProfileWire) -> Result<Self, ParseError> {
        let locator = match (w.domain_name, w.interface_descriptions) {
            (Some(d), None) => AefLocator::DomainName(d),
            (None, Some(i)) => AefLocator::InterfaceDescriptions(i),
            _ => {
                return Err(ParseError::OneOf {
                    what: "AefProfile",
                    members: "domainName, interfaceDescriptions",
                });
            }
        };
        Ok(AefProfile {
            aef_id: w.aef_id,
            versions: w.versions,
            protocol: w.protocol,
            security_methods: w.security_methods,
            locator,
        })
    }
}

impl From<AefProfile> for AefProfileWire {
    fn from(p: AefProfile) -> Self {
        let (domain_name, interface_descriptions) = match p.locator {
            AefLocator::DomainName(d) => (Some(d), None),
            AefLocator::InterfaceDescriptions(i) => (None, Some(i)),
        };
        AefProfileWire {
            aef_id: p.aef_id,
            versions: p.versions,
            protocol: p.protocol,
            security_methods: p.security_methods,
            domain_name,
            interface_descriptions,
        }
    }
}

/// Whether an API may be shared with other CAPIF provider domains (Publish API
/// `ShareableInformation`; CAPIF interconnection, TS 23.222 clause 8.25).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ShareableInformation {
    /// Shareable?
    pub is_shareable: bool,
    /// Provider domains it may be shared with (minItems 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capif_prov_doms: Option<Vec<String>>,
}

/// CCFs where the API is already published (Publish API `PublishedApiPath`).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishedApiPath {
    /// CCF identifiers (minItems 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ccf_ids: Option<Vec<String>>,
}

/// A published service API (Publish API `ServiceAPIDescription`; also the discovery result).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceApiDescription {
    /// API name (the `{apiName}` URI part).
    pub api_name: String,
    /// API identifier assigned by the CCF.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_id: Option<String>,
    /// AEF profiles (minItems 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aef_profiles: Option<Vec<AefProfile>>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Supported features of the Publish API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_features: Option<SupportedFeatures>,
    /// Sharing with other provider domains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shareable_info: Option<ShareableInformation>,
    /// CCFs where it is published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pub_api_path: Option<PublishedApiPath>,
    /// The CCF identifier (Rel-18, CAPIF interconnection).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ccf_id: Option<String>,
}

/// Discovery result (Discover API `DiscoveredAPIs`).
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
pub struct DiscoveredApis {
    /// Matching APIs (minItems 1).
    #[serde(rename = "serviceAPIDescriptions", default, skip_serializing_if = "Option::is_none")]
    pub service_api_descriptions: Option<Vec<ServiceApiDescription>>,
}

// ---------------------------------------------------------------------------------------------
// Onboarding (CAPIF-1e)
// ---------------------------------------------------------------------------------------------

/// Onboarding credentials (Invoker Management API `OnboardingInformation`).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OnboardingInformation {
    /// The invoker's public key.
    pub api_invoker_public_key: String,
    /// Client certificate issued by the CCF (in the response).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_invoker_certificate: Option<String>,
    /// Onboarding secret issued by the CCF (in the response).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onboarding_secret: Option<String>,
}

/// Websocket notification configuration (TS 29.122 `WebsockNotifConfig`).
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebsockNotifConfig {
    /// The websocket URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub websocket_uri: Option<Uri>,
    /// Websocket delivery requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_websocket_uri: Option<bool>,
}

/// APIs an invoker may use (Invoker Management API `APIList`).
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
pub struct ApiList {
    /// The APIs (minItems 1).
    #[serde(rename = "serviceAPIDescriptions", default, skip_serializing_if = "Option::is_none")]
    pub service_api_descriptions: Option<Vec<ServiceApiDescription>>,
}

/// `POST /onboardedInvokers` request and 201 response (Invoker Management API
/// `APIInvokerEnrolmentDetails`; TS 33.122 clause 6.1).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiInvokerEnrolmentDetails {
    /// API invoker ID assigned by the CCF (readOnly: absent in the request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_invoker_id: Option<String>,
    /// Onboarding credentials.
    pub onboarding_information: OnboardingInformation,
    /// Where the CCF sends notifications.
    pub notification_destination: Uri,
    /// Request a test notification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_test_notification: Option<bool>,
    /// Websocket delivery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub websock_notif_config: Option<WebsockNotifConfig>,
    /// APIs the invoker may use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_list: Option<ApiList>,
    /// Information about the invoker (device, application).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_invoker_information: Option<String>,
    /// Supported features of the Invoker Management API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_features: Option<SupportedFeatures>,
}

/// Result of an onboarding or update (Invoker Management API `OnboardingNotification`).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OnboardingNotification {
    /// Success?
    pub result: bool,
    /// The created resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_location: Option<Uri>,
    /// The enrolment details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_invoker_enrolment_details: Option<Box<ApiInvokerEnrolmentDetails>>,
    /// APIs the invoker may use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_list: Option<ApiList>,
}

// ---------------------------------------------------------------------------------------------
// Security method negotiation and revocation (CAPIF-1e, CAPIF-3)
// ---------------------------------------------------------------------------------------------

/// Which AEF interface a [`SecurityInformation`] is about: exactly one of `interfaceDetails`,
/// `aefId`.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum SecurityTarget {
    /// An interface.
    InterfaceDetails(InterfaceDescription),
    /// An AEF, by ID.
    AefId(String),
}

/// Security method for one AEF interface (CAPIF_Security_API `SecurityInformation`; TS 33.122
/// clause 6.2 / figure 6.3.1-1). In a request, the invoker's preferences; in the response, the
/// CCF's choice and the data needed at the AEF.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(try_from = "SecurityInformationWire", into = "SecurityInformationWire")]
pub struct SecurityInformation {
    /// Interface or AEF (oneOf).
    pub target: SecurityTarget,
    /// API identifier.
    pub api_id: Option<String>,
    /// Methods the invoker prefers (minItems 1).
    pub pref_security_methods: Vec<SecurityMethod>,
    /// Method selected by the CCF.
    pub sel_security_method: Option<SecurityMethod>,
    /// Authentication information (e.g. for PSK).
    pub authentication_info: Option<String>,
    /// Authorization information.
    pub authorization_info: Option<String>,
    /// OAuth flows offered (minItems 1).
    pub authorization_flow: Option<Vec<AuthorizationFlow>>,
}

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct SecurityInformationWire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    interface_details: Option<InterfaceDescription>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    aef_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    api_id: Option<String>,
    pref_security_methods: Vec<SecurityMethod>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sel_security_method: Option<SecurityMethod>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    authentication_info: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    authorization_info: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    authorization_flow: Option<Vec<AuthorizationFlow>>,
}

impl TryFrom<SecurityInformationWire> for SecurityInformation {
    type Error = ParseError;
    fn try_from(w: SecurityInformationWire) -> Result<Self, ParseError> {
        let target = match (w.interface_details, w.aef_id) {
            (Some(i), None) => SecurityTarget::InterfaceDetails(i),
            (None, Some(a)) => SecurityTarget::AefId(a),
            _ => {
                return Err(ParseError::OneOf {
                    what: "SecurityInformation",
                    members: "interfaceDetails, aefId",
                });
            }
        };
        Ok(SecurityInformation {
            target,
            api_id: w.api_id,
            pref_security_methods: w.pref_security_methods,
            sel_security_method: w.sel_security_method,
            authentication_info: w.authentication_info,
            authorization_info: w.authorization_info,
            authorization_flow: w.authorization_flow,
        })
    }
}

impl From<SecurityInformation> for SecurityInformationWire {
    fn from(s: SecurityInformation) -> Self {
        let (interface_details, aef_id) = match s.target {
            SecurityTarget::InterfaceDetails(i) => (Some(i), None),
            SecurityTarget::AefId(a) => (None, Some(a)),
        };
        SecurityInformationWire {
            interface_details,
            aef_id,
            api_id: s.api_id,
            pref_security_methods: s.pref_security_methods,
            sel_security_method: s.sel_security_method,
            authentication_info: s.authentication_info,
            authorization_info: s.authorization_info,
            authorization_flow: s.authorization_flow,
        }
    }
}

impl SecurityInformation {
    /// A request entry: `target` with the invoker's preferred methods.
    pub fn preferring(target: SecurityTarget, pref_security_methods: Vec<SecurityMethod>) -> Self {
        SecurityInformation {
            target,
            api_id: None,
            pref_security_methods,
            sel_security_method: None,
            authentication_info: None,
            authorization_info: None,
            authorization_flow: None,
        }
    }
}

/// `PUT /trustedInvokers/{apiInvokerId}` body and `GET` result (CAPIF_Security_API
/// `ServiceSecurity`; TS 33.122 clause 6.2 security method request/response).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSecurity {
    /// One entry per AEF interface.
    pub security_info: Vec<SecurityInformation>,
    /// Where the CCF sends SecurityNotification.
    pub notification_destination: Uri,
    /// Request a test notification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_test_notification: Option<bool>,
    /// Websocket delivery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub websock_notif_config: Option<WebsockNotifConfig>,
    /// Supported features of the CAPIF_Security_API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_features: Option<SupportedFeatures>,
}

/// Revoked authorization (CAPIF_Security_API `SecurityNotification`): body of
/// `POST /trustedInvokers/{id}/delete` and of the notification to the invoker.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityNotification {
    /// The invoker.
    pub api_invoker_id: String,
    /// The AEF.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aef_id: Option<String>,
    /// Revoked APIs (minItems 1).
    pub api_ids: Vec<String>,
    /// Why.
    pub cause: Cause,
}

// ---------------------------------------------------------------------------------------------
// OAuth token (security method 3, TS 33.122 Annex C)
// ---------------------------------------------------------------------------------------------

/// `POST /securities/{securityId}/token` request (CAPIF_Security_API `AccessTokenReq`),
/// `application/x-www-form-urlencoded` on the wire ([`Self::to_form`], [`Self::from_form`]); the
/// serde form is the JSON object the OpenAPI schema describes.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct AccessTokenReq {
    /// Always `client_credentials`.
    pub grant_type: GrantType,
    /// The API invoker ID.
    pub client_id: String,
    /// Client secret (e.g. the onboarding secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// Requested scope, `3gpp#aef1:api1,api2;aef2:api3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Resource owner (RNAA).
    #[serde(rename = "resOwnerId", default, skip_serializing_if = "Option::is_none")]
    pub res_owner_id: Option<String>,
    /// Authorization code (RNAA).
    #[serde(rename = "authCode", default, skip_serializing_if = "Option::is_none")]
    pub auth_code: Option<String>,
}

impl AccessTokenReq {
    /// A client-credentials request.
    pub fn client_credentials(client_id: impl Into<String>, scope: Option<String>) -> Self {
        AccessTokenReq {
            grant_type: GrantType::ClientCredentials,
            client_id: client_id.into(),
            client_secret: None,
            scope,
            res_owner_id: None,
            auth_code: None,
        }
    }

    /// The form-urlencoded body (WHATWG URL `application/x-www-form-urlencoded` serializer),
    /// fields in OpenAPI order, absent ones left out.
    pub fn to_form(&self) -> String {
        let mut pairs: Vec<(&str, &str)> = vec![("grant_type", "client_credentials"), ("client_id", &self.client_id)];
        for (k, v) in [
            ("resOwnerId", &self.res_owner_id),
            ("client_secret", &self.client_secret),
            ("scope", &self.scope),
            ("authCode", &self.auth_code),
        ] {
            if let Some(v) = v {
                pairs.push((k, v));
            }
        }
        let mut out = String::new();
        for (i, (k, v)) in pairs.into_iter().enumerate() {
            if i > 0 {
                out.push('&');
            }
            form_escape(k, &mut out);
            out.push('=');
            form_escape(v, &mut out);
        }
        out
    }

    /// Parses a form-urlencoded body. Refuses a missing or repeated `grant_type`/`client_id`,
    /// a grant type other than `client_credentials`, and malformed escapes; ignores unknown
    /// fields.
    pub fn from_form(body: &str) -> Result<Self, ParseError> {
        let mut grant_type = None;
        let mut req = AccessTokenReq::client_credentials(String::new(), None);
        let mut client_id = None;
        for part in body.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            let (k, v) = (form_unescape(k)?, form_unescape(v)?);
            let slot = match k.as_str() {
                "grant_type" => &mut grant_type,
                "client_id" => &mut client_id,
                "client_secret" => &mut req.client_secret,
                "scope" => &mut req.scope,
                "resOwnerId" => &mut req.res_owner_id,
                "authCode" => &mut req.auth_code,
                _ => continue,
            };
            if slot.replace(v).is_some() {
                return Err(ParseError::Form(format!("repeated field {k}")));
            }
        }
        match grant_type.as_deref() {
            Some("client_credentials") => {}
            Some(other) => return Err(ParseError::Form(format!("unsupported grant_type {other:?}"))),
            None => return Err(ParseError::Form("missing grant_type".into())),
        }
        req.client_id = client_id.ok_or_else(|| ParseError::Form("missing client_id".into()))?;
        Ok(req)
    }
}

/// Appends `s` form-urlencoded: `*-._` and ASCII alphanumerics kept, space as `+`, the rest
/// as `%XX` of the UTF-8 bytes.
fn form_escape(s: &str, out: &mut String) {
    for b in s.bytes() {
        match b {
            b'*' | b'-' | b'.' | b'_' | b'0'..=b'9' | b'A'..=b'Z' | b'a'..=b'z' => out.push(b as char),
            b' ' => out.push('+'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
}

/// Decodes one form-urlencoded name or value.
fn form_unescape(s: &str) -> Result<String, ParseError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| ParseError::Form(format!("bad escape in {s:?}")))?;
                out.push(hex);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| ParseError::Form(format!("not UTF-8: {s:?}")))
}

/// `POST /securities/{securityId}/token` 200 response (CAPIF_Security_API `AccessTokenRsp`).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct AccessTokenRsp {
    /// JWS compact serialization of [`AccessTokenClaims`].
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: TokenType,
    /// Lifetime \[s\] (`DurationSec`).
    pub expires_in: u64,
    /// Granted scope, if it differs from the requested one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// `POST /securities/{securityId}/token` 400/401 response (CAPIF_Security_API `AccessTokenErr`).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct AccessTokenErr {
    /// The error code.
    pub error: AccessTokenError,
    /// Human-readable text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
    /// URI of an error page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_uri: Option<Uri>,
}

// ---------------------------------------------------------------------------------------------
// AEF_Security_API (CAPIF-2e authentication initiation, CAPIF-3 revocation)
// ---------------------------------------------------------------------------------------------

/// `POST /check-authentication` request, invoker → AEF (AEF_Security_API
/// `CheckAuthenticationReq`; TS 33.122 clause 6.5.2.1 Authentication Initiation Request).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckAuthenticationReq {
    /// The API invoker ID.
    pub api_invoker_id: String,
    /// Supported features of the AEF_Security_API.
    pub supported_features: SupportedFeatures,
}

/// `POST /check-authentication` 200 response (AEF_Security_API `CheckAuthenticationRsp`).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckAuthenticationRsp {
    /// Supported features of the AEF_Security_API.
    pub supported_features: SupportedFeatures,
}

/// `POST /revoke-authorization` request, CCF → AEF (AEF_Security_API `RevokeAuthorizationReq`).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RevokeAuthorizationReq {
    /// What is revoked.
    pub revoke_info: SecurityNotification,
    /// Supported features of the AEF_Security_API.
    pub supported_features: SupportedFeatures,
}

/// `POST /revoke-authorization` 200 response (AEF_Security_API `RevokeAuthorizationRsp`).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RevokeAuthorizationRsp {
    /// Supported features of the AEF_Security_API.
    pub supported_features: SupportedFeatures,
}

// ---------------------------------------------------------------------------------------------
// Events (CAPIF_Events_API)
// ---------------------------------------------------------------------------------------------

/// Event filter (CAPIF_Events_API `CAPIFEventFilter`).
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CapifEventFilter {
    /// APIs (minItems 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_ids: Option<Vec<String>>,
    /// Invokers (minItems 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_invoker_ids: Option<Vec<String>>,
    /// AEFs (minItems 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aef_ids: Option<Vec<String>>,
}

/// `POST /{subscriberId}/subscriptions` body (CAPIF_Events_API `EventSubscription`).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventSubscription {
    /// Subscribed events (minItems 1).
    pub events: Vec<CapifEvent>,
    /// Filters (minItems 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_filters: Option<Vec<CapifEventFilter>>,
    /// Where notifications go.
    pub notification_destination: Uri,
    /// Supported features of the Events API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_features: Option<SupportedFeatures>,
}

/// Event details (CAPIF_Events_API `CAPIFEventDetail`; access control policies, logs and
/// topology hiding not modelled).
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CapifEventDetail {
    /// Updated API descriptions, for `SERVICE_API_UPDATE` (minItems 1).
    #[serde(rename = "serviceAPIDescriptions", default, skip_serializing_if = "Option::is_none")]
    pub service_api_descriptions: Option<Vec<ServiceApiDescription>>,
    /// APIs (minItems 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_ids: Option<Vec<String>>,
    /// Invokers, e.g. for `API_INVOKER_AUTHORIZATION_REVOKED` (minItems 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_invoker_ids: Option<Vec<String>>,
}

/// A CAPIF event notification (CAPIF_Events_API `EventNotification`).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventNotification {
    /// The subscription.
    pub subscription_id: String,
    /// The event (one value, despite the plural name).
    pub events: CapifEvent,
    /// Details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_detail: Option<CapifEventDetail>,
}

api_body! {
    ServiceSecurity => "ServiceSecurity" in "TS29222_CAPIF_Security_API.yaml";
    SecurityInformation => "SecurityInformation" in "TS29222_CAPIF_Security_API.yaml";
    SecurityNotification => "SecurityNotification" in "TS29222_CAPIF_Security_API.yaml";
    AccessTokenReq => "AccessTokenReq" in "TS29222_CAPIF_Security_API.yaml";
    AccessTokenRsp => "AccessTokenRsp" in "TS29222_CAPIF_Security_API.yaml";
    AccessTokenClaims => "AccessTokenClaims" in "TS29222_CAPIF_Security_API.yaml";
    AccessTokenErr => "AccessTokenErr" in "TS29222_CAPIF_Security_API.yaml";
    Cause => "Cause" in "TS29222_CAPIF_Security_API.yaml";
    AuthorizationFlow => "AuthorizationFlow" in "TS29222_CAPIF_Security_API.yaml";
    CheckAuthenticationReq => "CheckAuthenticationReq" in "TS29222_AEF_Security_API.yaml";
    CheckAuthenticationRsp => "CheckAuthenticationRsp" in "TS29222_AEF_Security_API.yaml";
    RevokeAuthorizationReq => "RevokeAuthorizationReq" in "TS29222_AEF_Security_API.yaml";
    RevokeAuthorizationRsp => "RevokeAuthorizationRsp" in "TS29222_AEF_Security_API.yaml";
    ApiInvokerEnrolmentDetails => "APIInvokerEnrolmentDetails" in "TS29222_CAPIF_API_Invoker_Management_API.yaml";
    OnboardingInformation => "OnboardingInformation" in "TS29222_CAPIF_API_Invoker_Management_API.yaml";
    OnboardingNotification => "OnboardingNotification" in "TS29222_CAPIF_API_Invoker_Management_API.yaml";
    ApiList => "APIList" in "TS29222_CAPIF_API_Invoker_Management_API.yaml";
    ServiceApiDescription => "ServiceAPIDescription" in "TS29222_CAPIF_Publish_Service_API.yaml";
    AefProfile => "AefProfile" in "TS29222_CAPIF_Publish_Service_API.yaml";
    InterfaceDescription => "InterfaceDescription" in "TS29222_CAPIF_Publish_Service_API.yaml";
    Version => "Version" in "TS29222_CAPIF_Publish_Service_API.yaml";
    ShareableInformation => "ShareableInformation" in "TS29222_CAPIF_Publish_Service_API.yaml";
    PublishedApiPath => "PublishedApiPath" in "TS29222_CAPIF_Publish_Service_API.yaml";
    SecurityMethod => "SecurityMethod" in "TS29222_CAPIF_Publish_Service_API.yaml";
    Protocol => "Protocol" in "TS29222_CAPIF_Publish_Service_API.yaml";
    DiscoveredApis => "DiscoveredAPIs" in "TS29222_CAPIF_Discover_Service_API.yaml";
    EventSubscription => "EventSubscription" in "TS29222_CAPIF_Events_API.yaml";
    EventNotification => "EventNotification" in "TS29222_CAPIF_Events_API.yaml";
    CapifEventDetail => "CAPIFEventDetail" in "TS29222_CAPIF_Events_API.yaml";
    CapifEventFilter => "CAPIFEventFilter" in "TS29222_CAPIF_Events_API.yaml";
    CapifEvent => "CAPIFEvent" in "TS29222_CAPIF_Events_API.yaml";
    WebsockNotifConfig => "WebsockNotifConfig" in "TS29122_CommonData.yaml";
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn iface() -> InterfaceDescription {
        InterfaceDescription {
            address: InterfaceAddress::Fqdn("aef1.example.com".into()),
            port: Some(443),
            api_prefix: Some("/3gpp-monitoring-event/v1".into()),
            security_methods: Some(vec![SecurityMethod::Psk, SecurityMethod::Oauth]),
        }
    }

    #[test]
    fn interface_description_one_of() {
        let v = serde_json::to_value(iface()).unwrap();
        assert_eq!(v["fqdn"], "aef1.example.com");
        assert!(v.get("ipv4Addr").is_none());
        assert_eq!(serde_json::from_value::<InterfaceDescription>(v).unwrap(), iface());
        assert_eq!(iface().aefpsk_p0(), "aef1.example.com:443/3gpp-monitoring-event/v1");
        let both = json!({"fqdn": "aef1.example.com", "ipv4Addr": "192.0.2.1"});
        assert!(serde_json::from_value::<InterfaceDescription>(both).is_err());
        assert!(serde_json::from_value::<InterfaceDescription>(json!({"port": 443})).is_err());
    }

    #[test]
    fn security_information_one_of() {
        let s = SecurityInformation::preferring(SecurityTarget::AefId("aef1".into()), vec![SecurityMethod::Pki]);
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v, json!({"aefId": "aef1", "prefSecurityMethods": ["PKI"]}));
        assert_eq!(serde_json::from_value::<SecurityInformation>(v).unwrap(), s);
        let both =
            json!({"aefId": "aef1", "interfaceDetails": {"fqdn": "aef1.example.com"}, "prefSecurityMethods": ["PKI"]});
        let err = serde_json::from_value::<SecurityInformation>(both).unwrap_err();
        assert!(err.to_string().contains("exactly one"), "{err}");
    }

    #[test]
    fn security_method_other_round_trip() {
        let m: SecurityMethod = serde_json::from_value(json!("PSK_WITH_TIMER")).unwrap();
        assert_eq!(m, SecurityMethod::Other("PSK_WITH_TIMER".into()));
        assert_eq!(serde_json::to_value(&m).unwrap(), json!("PSK_WITH_TIMER"));
        assert_eq!(SecurityMethod::from("OAUTH"), SecurityMethod::Oauth);
        assert_eq!(CapifEvent::KNOWN.len(), 13);
    }

    #[test]
    fn access_token_req_form_round_trip() {
        let mut req = AccessTokenReq::client_credentials("inv-1", Some("3gpp#aef1:api 1,api2".into()));
        req.client_secret = Some("s3cr=t&x".into());
        let form = req.to_form();
        assert_eq!(
            form,
            "grant_type=client_credentials&client_id=inv-1&client_secret=s3cr%3Dt%26x&scope=3gpp%23aef1%3Aapi+1%2Capi2"
        );
        assert_eq!(AccessTokenReq::from_form(&form).unwrap(), req);
        assert!(AccessTokenReq::from_form("client_id=a").is_err());
        assert!(AccessTokenReq::from_form("grant_type=password&client_id=a").is_err());
        assert!(AccessTokenReq::from_form("grant_type=client_credentials").is_err());
        assert!(AccessTokenReq::from_form("grant_type=client_credentials&client_id=a&client_id=b").is_err());
        assert!(AccessTokenReq::from_form("grant_type=client_credentials&client_id=%4").is_err());
        let odd = AccessTokenReq::from_form("grant_type=client_credentials&client_id=%C3%A9&x=1").unwrap();
        assert_eq!(odd.client_id, "é");
    }

    #[test]
    fn token_rsp_and_err_closed_enums() {
        let r = AccessTokenRsp {
            access_token: "a.b.c".into(),
            token_type: TokenType::Bearer,
            expires_in: 3600,
            scope: None,
        };
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(
            v,
            json!({"access_token": "a.b.c", "token_type": "Bearer", "expires_in": 3600})
        );
        assert_eq!(serde_json::from_value::<AccessTokenRsp>(v).unwrap(), r);
        assert!(
            serde_json::from_value::<AccessTokenRsp>(
                json!({"access_token": "x", "token_type": "MAC", "expires_in": 1})
            )
            .is_err()
        );
        let e: AccessTokenErr = serde_json::from_value(json!({"error": "invalid_scope"})).unwrap();
        assert_eq!(e.error, AccessTokenError::InvalidScope);
        assert!(serde_json::from_value::<AccessTokenErr>(json!({"error": "nope"})).is_err());
    }

    #[test]
    fn aef_profile_one_of_and_round_trip() {
        let p = AefProfile {
            aef_id: "aef1".into(),
            versions: vec![Version {
                api_version: "v1".into(),
            }],
            protocol: Some(Protocol::Http2),
            security_methods: Some(vec![SecurityMethod::Psk]),
            locator: AefLocator::InterfaceDescriptions(vec![iface()]),
        };
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["interfaceDescriptions"][0]["port"], 443);
        assert_eq!(serde_json::from_value::<AefProfile>(v).unwrap(), p);
        let neither = json!({"aefId": "aef1", "versions": [{"apiVersion": "v1"}]});
        assert!(serde_json::from_value::<AefProfile>(neither).is_err());
    }
}
