//! N32-c handshake bodies (TS 29.573 clause 6.1, `n32c-handshake` v1; OpenAPI
//! `TS29573_N32_Handshake.yaml`, Rel-18 V18.5.0).
//!
//! The four custom operations `POST {apiRoot}/n32c-handshake/v1/<op>` (TS 29.573 clause 6.1.3):
//!
//! ```text
//!  /exchange-capability   SecNegotiateReqData  -> 200 SecNegotiateRspData
//!  /exchange-params       SecParamExchReqData  -> 200 SecParamExchRspData
//!  /n32f-terminate        N32fContextInfo      -> 200 N32fContextInfo
//!  /n32f-error            N32fErrorInfo        -> 204
//!  errors                 ProblemDetails (crate::proto::common)
//! ```
//!
//! # Types and schemas
//!
//! | Rust type | OpenAPI schema | TS 29.573 clause |
//! |---|---|---|
//! | [`SecNegotiateReqData`] | `SecNegotiateReqData` | 6.1.5.2.2 |
//! | [`SecNegotiateRspData`] | `SecNegotiateRspData` | 6.1.5.2.3 |
//! | [`SecParamExchReqData`] | `SecParamExchReqData` | 6.1.5.2.4 |
//! | [`SecParamExchRspData`] | `SecParamExchRspData` | 6.1.5.2.5 |
//! | [`ProtectionPolicy`] | `ProtectionPolicy` | 6.1.5.2.6 |
//! | [`ApiIeMapping`] | `ApiIeMapping` | 6.1.5.2.7 |
//! | [`IeInfo`] | `IeInfo` | 6.1.5.2.8 |
//! | [`N32fContextInfo`] | `N32fContextInfo` | 6.1.5.2.9 |
//! | [`N32fErrorInfo`] | `N32fErrorInfo` | 6.1.5.2.10 |
//! | [`FailedModificationInfo`] | `FailedModificationInfo` | 6.1.5.2.11 |
//! | [`N32fErrorDetail`] | `N32fErrorDetail` | 6.1.5.2.12 |
//! | [`IpxProviderSecInfo`] | `IpxProviderSecInfo` | 6.1.5.2.13 |
//! | [`CallbackName`] | `CallbackName` | 6.1.5.2.14 |
//! | [`IntendedN32Purpose`] | `IntendedN32Purpose` | 6.1.5.2.15 |
//! | [`ApiSignature`] | `ApiSignature` (oneOf Uri, CallbackName) | 6.1.5.3.2 |
//! | [`N32fContextId`] | `n32fContextId` (`^[A-Fa-f0-9]{16}$`) | 6.1.5.2.4 |
//! | [`SecurityCapability`] | `SecurityCapability` | 6.1.5.3.3 |
//! | [`HttpMethod`] | `HttpMethod` | 6.1.5.3.4 |
//! | [`IeType`] | `IeType` | 6.1.5.3.5 |
//! | [`IeLocation`] | `IeLocation` | 6.1.5.3.6 |
//! | [`N32fErrorType`] | `N32fErrorType` | 6.1.5.3.7 |
//! | [`FailureReason`] | `FailureReason` | 6.1.5.3.8 |
//! | [`N32Purpose`] | `N32Purpose` | 6.1.5.3.9 |
//!
//! Clause numbers follow the TS 29.573 V18 layout (6.1.5.2 structured types, 6.1.5.3 simple
//! types and enumerations); the schema name is the authoritative key.
//!
//! Lists with `minItems: 1` are plain `Vec`s: the OpenAPI tests check that a built body never
//! sends an empty one. The enumerations are extensible (see [`crate::proto::common`]).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::proto::common::{
    Fqdn, InvalidParam, ParseError, PlmnId, PlmnIdNid, SupportedFeatures, Uri, api_body, extensible_enum,
};

// ---------------------------------------------------------------------------------------------
// N32fContextId
// ---------------------------------------------------------------------------------------------

/// N32-f context identifier: 64 bits as 16 hex digits, pattern `^[A-Fa-f0-9]{16}$` (TS 29.573
/// clause 6.1.5.2.4; TS 33.501 clause 13.2.2.4: each SEPP picks the ID the peer uses towards it).
///
/// Kept verbatim, case included: the ID is an input of the N32-f key derivation (TS 33.501
/// clause 13.2.4.4.1), so `"abcdef0123456789"` and `"ABCDEF0123456789"` are different IDs.
/// Construction and deserialization refuse anything else than 16 hex digits.
#[derive(Clone, Debug, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct N32fContextId(String);

impl N32fContextId {
    /// The OpenAPI pattern.
    pub const PATTERN: &'static str = "^[A-Fa-f0-9]{16}$";

    /// Parses 16 hex digits.
    pub fn new(s: impl Into<String>) -> Result<Self, ParseError> {
        let s = s.into();
        if s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(N32fContextId(s))
        } else {
            Err(ParseError::Pattern {
                what: "n32fContextId",
                value: s,
                pattern: Self::PATTERN,
            })
        }
    }

    /// The ID of a 64-bit value, upper-case hex (as in the TS 29.573 examples).
    pub fn from_u64(v: u64) -> Self {
        N32fContextId(format!("{v:016X}"))
    }

    /// The 64-bit value.
    pub fn to_u64(&self) -> u64 {
        // 16 hex digits always fit: the constructor checked them.
        u64::from_str_radix(&self.0, 16).expect("n32fContextId is 16 hex digits")
    }

    /// The wire string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for N32fContextId {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, ParseError> {
        N32fContextId::new(s)
    }
}

impl From<N32fContextId> for String {
    fn from(id: N32fContextId) -> String {
        id.0
    }
}

impl std::str::FromStr for N32fContextId {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        N32fContextId::new(s)
    }
}

impl fmt::Display for N32fContextId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// ---------------------------------------------------------------------------------------------
// Enumerations (TS 29.573 clause 6.1.5.3)
// ---------------------------------------------------------------------------------------------

extensible_enum! {
    /// Security capability of a SEPP (TS 29.573 clause 6.1.5.3.3; TS 33.501 clause 13.5).
    pub enum SecurityCapability {
        /// TLS on N32-f (no RI may modify).
        Tls = "TLS",
        /// PRINS: application layer security on N32-f.
        Prins = "PRINS",
        /// No mechanism (Rel-17).
        None = "NONE",
    }
}

extensible_enum! {
    /// HTTP method of a protected API (TS 29.573 clause 6.1.5.3.4).
    pub enum HttpMethod {
        /// GET.
        Get = "GET",
        /// PUT.
        Put = "PUT",
        /// POST.
        Post = "POST",
        /// DELETE.
        Delete = "DELETE",
        /// PATCH.
        Patch = "PATCH",
        /// HEAD.
        Head = "HEAD",
        /// OPTIONS.
        Options = "OPTIONS",
        /// CONNECT.
        Connect = "CONNECT",
        /// TRACE.
        Trace = "TRACE",
    }
}

extensible_enum! {
    /// Kind of IE for the protection policy (TS 29.573 clause 6.1.5.3.5; data-type encryption
    /// policy, TS 33.501 clause 13.2.3.2).
    pub enum IeType {
        /// UE identity (SUPI, GPSI, ...).
        Ueid = "UEID",
        /// Location data.
        Location = "LOCATION",
        /// Key material.
        KeyMaterial = "KEY_MATERIAL",
        /// Authentication material.
        AuthenticationMaterial = "AUTHENTICATION_MATERIAL",
        /// Authorization token.
        AuthorizationToken = "AUTHORIZATION_TOKEN",
        /// Another kind of IE (`OTHER`; not to be confused with the catch-all `Other(String)`).
        OtherType = "OTHER",
        /// Not sensitive.
        Nonsensitive = "NONSENSITIVE",
    }
}

extensible_enum! {
    /// Where an IE sits in an HTTP message (TS 29.573 clause 6.1.5.3.6).
    pub enum IeLocation {
        /// URI query or path parameter.
        UriParam = "URI_PARAM",
        /// HTTP header.
        Header = "HEADER",
        /// JSON body.
        Body = "BODY",
        /// Binary part of a multipart body.
        MultipartBinary = "MULTIPART_BINARY",
    }
}

extensible_enum! {
    /// N32-f processing error (TS 29.573 clause 6.1.5.3.7; TS 33.501 clause 13.2.4.6).
    pub enum N32fErrorType {
        /// The JWE integrity check failed.
        IntegrityCheckFailed = "INTEGRITY_CHECK_FAILED",
        /// A Modifications JWS failed to verify.
        IntegrityCheckOnModificationsFailed = "INTEGRITY_CHECK_ON_MODIFICATIONS_FAILED",
        /// A patch could not be applied or broke policy.
        ModificationsInstructionsFailed = "MODIFICATIONS_INSTRUCTIONS_FAILED",
        /// Decryption failed.
        DecipheringFailed = "DECIPHERING_FAILED",
        /// The HTTP message could not be rebuilt.
        MessageReconstructionFailed = "MESSAGE_RECONSTRUCTION_FAILED",
        /// Unknown N32-f context ID.
        ContextNotFound = "CONTEXT_NOT_FOUND",
        /// The integrity key expired.
        IntegrityKeyExpired = "INTEGRITY_KEY_EXPIRED",
        /// The encryption key expired.
        EncryptionKeyExpired = "ENCRYPTION_KEY_EXPIRED",
        /// The exchanged protection policy differs from the configured one.
        PolicyMismatch = "POLICY_MISMATCH",
    }
}

extensible_enum! {
    /// Why the HTTP/2 message could not be rebuilt (TS 29.573 clause 6.1.5.3.8).
    pub enum FailureReason {
        /// A JSON pointer does not resolve.
        InvalidJsonPointer = "INVALID_JSON_POINTER",
        /// An `encBlockIndex` is out of range.
        InvalidIndexToEncryptedBlock = "INVALID_INDEX_TO_ENCRYPTED_BLOCK",
        /// A header is malformed.
        InvalidHttpHeader = "INVALID_HTTP_HEADER",
    }
}

extensible_enum! {
    /// Usage purpose of an N32 connection (TS 29.573 clause 6.1.5.3.9).
    pub enum N32Purpose {
        /// Roaming.
        Roaming = "ROAMING",
        /// Inter-PLMN mobility.
        InterPlmnMobility = "INTER_PLMN_MOBILITY",
        /// SMS interconnect.
        SmsInterconnect = "SMS_INTERCONNECT",
        /// Roaming, test.
        RoamingTest = "ROAMING_TEST",
        /// Inter-PLMN mobility, test.
        InterPlmnMobilityTest = "INTER_PLMN_MOBILITY_TEST",
        /// SMS interconnect, test.
        SmsInterconnectTest = "SMS_INTERCONNECT_TEST",
        /// SNPN interconnect.
        SnpnInterconnect = "SNPN_INTERCONNECT",
        /// SNPN interconnect, test.
        SnpnInterconnectTest = "SNPN_INTERCONNECT_TEST",
        /// Disaster roaming.
        DisasterRoaming = "DISASTER_ROAMING",
        /// Disaster roaming, test.
        DisasterRoamingTest = "DISASTER_ROAMING_TEST",
    }
}

// ---------------------------------------------------------------------------------------------
// Capability negotiation (TS 29.573 clause 5.2.2)
// ---------------------------------------------------------------------------------------------

/// Intended N32 establishment purpose (TS 29.573 clause 6.1.5.2.15).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IntendedN32Purpose {
    /// The purpose.
    pub usage_purpose: N32Purpose,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_info: Option<String>,
    /// Why a purpose was rejected (in `rejectedUsagePurpose`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

/// `POST /exchange-capability` request: the initiating SEPP's capabilities, in priority order
/// (TS 29.573 clause 6.1.5.2.2).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecNegotiateReqData {
    /// The sender SEPP's FQDN.
    pub sender: Fqdn,
    /// Supported capabilities, highest priority first (minItems 1).
    pub supported_sec_capability_list: Vec<SecurityCapability>,
    /// Supports the `3gpp-Sbi-Target-apiRoot` header (default false).
    #[serde(
        rename = "3GppSbiTargetApiRootSupported",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub sbi_target_api_root_supported_3gpp: Option<bool>,
    /// PLMN IDs the sender serves (minItems 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plmn_id_list: Option<Vec<PlmnId>>,
    /// SNPN IDs the sender serves (minItems 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snpn_id_list: Option<Vec<PlmnIdNid>>,
    /// The PLMN the sender wants to reach.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_plmn_id: Option<PlmnId>,
    /// The SNPN the sender wants to reach.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_snpn_id: Option<PlmnIdNid>,
    /// Intended usage purposes (minItems 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intended_usage_purpose: Option<Vec<IntendedN32Purpose>>,
    /// Supported features of the n32c-handshake API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_features: Option<SupportedFeatures>,
    /// FQDN for N32-f (if it differs from N32-c).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_n32f_fqdn: Option<Fqdn>,
    /// Port for N32-f.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_n32f_port: Option<u16>,
}

impl SecNegotiateReqData {
    /// A request with the required members only.
    pub fn new(sender: impl Into<Fqdn>, supported_sec_capability_list: Vec<SecurityCapability>) -> Self {
        SecNegotiateReqData {
            sender: sender.into(),
            supported_sec_capability_list,
            sbi_target_api_root_supported_3gpp: None,
            plmn_id_list: None,
            snpn_id_list: None,
            target_plmn_id: None,
            target_snpn_id: None,
            intended_usage_purpose: None,
            supported_features: None,
            sender_n32f_fqdn: None,
            sender_n32f_port: None,
        }
    }
}

/// `POST /exchange-capability` 200 response: the capability the responder selected (TS 29.573
/// clause 6.1.5.2.3).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecNegotiateRspData {
    /// The responding SEPP's FQDN.
    pub sender: Fqdn,
    /// The selected capability.
    pub selected_sec_capability: SecurityCapability,
    /// Supports the `3gpp-Sbi-Target-apiRoot` header (default false).
    #[serde(
        rename = "3GppSbiTargetApiRootSupported",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub sbi_target_api_root_supported_3gpp: Option<bool>,
    /// PLMN IDs the responder serves (minItems 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plmn_id_list: Option<Vec<PlmnId>>,
    /// SNPN IDs the responder serves (minItems 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snpn_id_list: Option<Vec<PlmnIdNid>>,
    /// Accepted usage purposes (minItems 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_usage_purpose: Option<Vec<IntendedN32Purpose>>,
    /// Rejected usage purposes, with causes (minItems 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected_usage_purpose: Option<Vec<IntendedN32Purpose>>,
    /// Supported features of the n32c-handshake API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_features: Option<SupportedFeatures>,
    /// FQDN for N32-f.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_n32f_fqdn: Option<Fqdn>,
    /// Ports for N32-f (minItems 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_n32f_port_list: Option<Vec<u16>>,
}

impl SecNegotiateRspData {
    /// A response with the required members only.
    pub fn new(sender: impl Into<Fqdn>, selected_sec_capability: SecurityCapability) -> Self {
        SecNegotiateRspData {
            sender: sender.into(),
            selected_sec_capability,
            sbi_target_api_root_supported_3gpp: None,
            plmn_id_list: None,
            snpn_id_list: None,
            allowed_usage_purpose: None,
            rejected_usage_purpose: None,
            supported_features: None,
            sender_n32f_fqdn: None,
            sender_n32f_port_list: None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Parameter exchange (TS 29.573 clause 5.2.3)
// ---------------------------------------------------------------------------------------------

/// A callback named instead of an API URI (TS 29.573 clause 6.1.5.2.14).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallbackName {
    /// Callback type, e.g. `Nudm_SDM_Notification`.
    pub callback_type: String,
}

/// API of a protection-policy entry (TS 29.573 clause 6.1.5.3.2, `oneOf` [Uri, CallbackName]).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ApiSignature {
    /// API URI of the service operation.
    Uri(Uri),
    /// A callback.
    Callback(CallbackName),
}

/// Protection and modification policy of one IE (TS 29.573 clause 6.1.5.2.8).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IeInfo {
    /// Where the IE is.
    pub ie_loc: IeLocation,
    /// Kind of IE.
    pub ie_type: IeType,
    /// The IE in the request (JSON pointer, header name, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub req_ie: Option<String>,
    /// The IE in the response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rsp_ie: Option<String>,
    /// May an RI modify it?
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_modifiable: Option<bool>,
    /// Per-IPX modifiability, IPX ID → allowed (minProperties 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_modifiable_by_ipx: Option<BTreeMap<String, bool>>,
}

/// API to IE mapping of a protection policy (TS 29.573 clause 6.1.5.2.7).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiIeMapping {
    /// The API (URI or callback).
    pub api_signature: ApiSignature,
    /// The HTTP method.
    pub api_method: HttpMethod,
    /// IEs of this API (minItems 1). The wire name `IeList` breaks TS 29.501 naming, kept for
    /// backward compatibility.
    #[serde(rename = "IeList")]
    pub ie_list: Vec<IeInfo>,
}

/// Protection policy exchanged between SEPPs (TS 29.573 clause 6.1.5.2.6; TS 33.501
/// clause 13.2.3).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProtectionPolicy {
    /// Modification/protection policy per API (minItems 1).
    pub api_ie_mapping_list: Vec<ApiIeMapping>,
    /// IE types to encrypt (minItems 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_type_enc_policy: Option<Vec<IeType>>,
}

/// Security information of one IPX provider (TS 29.573 clause 6.1.5.2.13).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IpxProviderSecInfo {
    /// The IPX (RI) FQDN.
    pub ipx_provider_id: Fqdn,
    /// Raw public keys (minItems 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_public_key_list: Option<Vec<String>>,
    /// Certificates (minItems 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_list: Option<Vec<String>>,
}

/// `POST /exchange-params` request (TS 29.573 clause 6.1.5.2.4): one step of the parameter
/// exchange (cipher suites, protection policy or IPX security information).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecParamExchReqData {
    /// The context ID the peer shall use towards the sender.
    pub n32f_context_id: N32fContextId,
    /// JWE `enc` values, highest priority first (minItems 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwe_cipher_suite_list: Option<Vec<String>>,
    /// JWS `alg` values, highest priority first (minItems 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jws_cipher_suite_list: Option<Vec<String>>,
    /// The sender's protection policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protection_policy_info: Option<ProtectionPolicy>,
    /// Security information of the sender's IPX providers (minItems 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipx_provider_sec_info_list: Option<Vec<IpxProviderSecInfo>>,
    /// The sender's FQDN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<Fqdn>,
}

impl SecParamExchReqData {
    /// A request with only the context ID.
    pub fn new(n32f_context_id: N32fContextId) -> Self {
        SecParamExchReqData {
            n32f_context_id,
            jwe_cipher_suite_list: None,
            jws_cipher_suite_list: None,
            protection_policy_info: None,
            ipx_provider_sec_info_list: None,
            sender: None,
        }
    }
}

/// `POST /exchange-params` 200 response (TS 29.573 clause 6.1.5.2.5).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecParamExchRspData {
    /// The context ID the peer shall use towards the responder.
    pub n32f_context_id: N32fContextId,
    /// Selected JWE `enc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selected_jwe_cipher_suite: Option<String>,
    /// Selected JWS `alg`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selected_jws_cipher_suite: Option<String>,
    /// The responder's protection policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sel_protection_policy_info: Option<ProtectionPolicy>,
    /// Security information of the responder's IPX providers (minItems 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipx_provider_sec_info_list: Option<Vec<IpxProviderSecInfo>>,
    /// The responder's FQDN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<Fqdn>,
}

impl SecParamExchRspData {
    /// A response with only the context ID.
    pub fn new(n32f_context_id: N32fContextId) -> Self {
        SecParamExchRspData {
            n32f_context_id,
            selected_jwe_cipher_suite: None,
            selected_jws_cipher_suite: None,
            sel_protection_policy_info: None,
            ipx_provider_sec_info_list: None,
            sender: None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Termination and error reporting (TS 29.573 clauses 5.2.4, 5.2.5)
// ---------------------------------------------------------------------------------------------

/// `POST /n32f-terminate` request and 200 response: the context to drop (TS 29.573
/// clause 6.1.5.2.9).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct N32fContextInfo {
    /// The N32-f context.
    pub n32f_context_id: N32fContextId,
}

/// A Modifications block that failed (TS 29.573 clause 6.1.5.2.11).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FailedModificationInfo {
    /// The IPX whose block failed.
    pub ipx_id: Fqdn,
    /// What failed.
    pub n32f_error_type: N32fErrorType,
}

/// Why a message could not be rebuilt (TS 29.573 clause 6.1.5.2.12).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct N32fErrorDetail {
    /// The failing attribute.
    pub attribute: String,
    /// The reason.
    pub msg_reconstruct_fail_reason: FailureReason,
}

/// `POST /n32f-error` request (TS 29.573 clause 6.1.5.2.10): an N32-f error reported on N32-c.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct N32fErrorInfo {
    /// The N32-f message ID from the failing message's metadata.
    pub n32f_message_id: String,
    /// The error.
    pub n32f_error_type: N32fErrorType,
    /// The N32-f context (Rel-17).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n32f_context_id: Option<N32fContextId>,
    /// Failed Modifications blocks (minItems 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_modification_list: Option<Vec<FailedModificationInfo>>,
    /// Reconstruction failures (minItems 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_details_list: Option<Vec<N32fErrorDetail>>,
    /// Mismatching policy items for `POLICY_MISMATCH` (Rel-18, minItems 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_mismatch_list: Option<Vec<InvalidParam>>,
}

impl N32fErrorInfo {
    /// A report with the required members only.
    pub fn new(n32f_message_id: impl Into<String>, n32f_error_type: N32fErrorType) -> Self {
        N32fErrorInfo {
            n32f_message_id: n32f_message_id.into(),
            n32f_error_type,
            n32f_context_id: None,
            failed_modification_list: None,
            error_details_list: None,
            policy_mismatch_list: None,
        }
    }
}

api_body! {
    SecNegotiateReqData => "SecNegotiateReqData" in "TS29573_N32_Handshake.yaml";
    SecNegotiateRspData => "SecNegotiateRspData" in "TS29573_N32_Handshake.yaml";
    SecParamExchReqData => "SecParamExchReqData" in "TS29573_N32_Handshake.yaml";
    SecParamExchRspData => "SecParamExchRspData" in "TS29573_N32_Handshake.yaml";
    N32fContextInfo => "N32fContextInfo" in "TS29573_N32_Handshake.yaml";
    N32fErrorInfo => "N32fErrorInfo" in "TS29573_N32_Handshake.yaml";
    FailedModificationInfo => "FailedModificationInfo" in "TS29573_N32_Handshake.yaml";
    N32fErrorDetail => "N32fErrorDetail" in "TS29573_N32_Handshake.yaml";
    ProtectionPolicy => "ProtectionPolicy" in "TS29573_N32_Handshake.yaml";
    ApiIeMapping => "ApiIeMapping" in "TS29573_N32_Handshake.yaml";
    IeInfo => "IeInfo" in "TS29573_N32_Handshake.yaml";
    IpxProviderSecInfo => "IpxProviderSecInfo" in "TS29573_N32_Handshake.yaml";
    IntendedN32Purpose => "IntendedN32Purpose" in "TS29573_N32_Handshake.yaml";
    CallbackName => "CallbackName" in "TS29573_N32_Handshake.yaml";
    ApiSignature => "ApiSignature" in "TS29573_N32_Handshake.yaml";
    SecurityCapability => "SecurityCapability" in "TS29573_N32_Handshake.yaml";
    HttpMethod => "HttpMethod" in "TS29573_N32_Handshake.yaml";
    IeType => "IeType" in "TS29573_N32_Handshake.yaml";
    IeLocation => "IeLocation" in "TS29573_N32_Handshake.yaml";
    N32fErrorType => "N32fErrorType" in "TS29573_N32_Handshake.yaml";
    FailureReason => "FailureReason" in "TS29573_N32_Handshake.yaml";
    N32Purpose => "N32Purpose" in "TS29573_N32_Handshake.yaml";
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::common::ApiBody;
    use serde_json::json;

    fn id() -> N32fContextId {
        N32fContextId::new("0123456789ABCDEF").unwrap()
    }

    #[test]
    fn context_id_refuses_bad_input() {
        for bad in [
            "",
            "0123456789ABCDE",
            "0123456789ABCDEF0",
            "0123456789ABCDEG",
            " 123456789ABCDEF",
            "0x23456789ABCDEF",
        ] {
            assert!(N32fContextId::new(bad).is_err(), "{bad:?}");
            assert!(serde_json::from_value::<N32fContextId>(json!(bad)).is_err(), "{bad:?}");
        }
        assert!(serde_json::from_value::<N32fContextId>(json!(12)).is_err());
        let err = serde_json::from_value::<N32fContextInfo>(json!({"n32fContextId": "xyz"})).unwrap_err();
        assert!(err.to_string().contains("does not match"), "{err}");
    }

    #[test]
    fn context_id_keeps_case_and_value() {
        let lower = N32fContextId::new("abcdef0123456789").unwrap();
        assert_eq!(lower.as_str(), "abcdef0123456789");
        assert_ne!(lower, N32fContextId::new("ABCDEF0123456789").unwrap());
        assert_eq!(lower.to_u64(), 0xabcd_ef01_2345_6789);
        assert_eq!(N32fContextId::from_u64(0x0123_4567_89ab_cdef), id());
        assert_eq!(N32fContextId::from_u64(1).as_str(), "0000000000000001");
    }

    #[test]
    fn extensible_enum_round_trips_other() {
        let v: SecurityCapability = serde_json::from_value(json!("QUANTUM")).unwrap();
        assert_eq!(v, SecurityCapability::Other("QUANTUM".into()));
        assert_eq!(serde_json::to_value(&v).unwrap(), json!("QUANTUM"));
        // A known string never becomes Other.
        assert_eq!(SecurityCapability::from("PRINS".to_owned()), SecurityCapability::Prins);
        assert_eq!(serde_json::to_value(SecurityCapability::None).unwrap(), json!("NONE"));
        assert_eq!(N32fErrorType::KNOWN.len(), 9);
        for e in N32fErrorType::KNOWN {
            assert_eq!(&N32fErrorType::from(e.as_str()), e);
        }
        assert_eq!(IeType::from("OTHER"), IeType::OtherType);
        assert_eq!(N32Purpose::KNOWN.len(), 10);
    }

    #[test]
    fn sec_negotiate_round_trip() {
        let mut req = SecNegotiateReqData::new(
            "sepp.5gc.mnc001.mcc001.3gppnetwork.org",
            vec![SecurityCapability::Prins, SecurityCapability::Tls],
        );
        req.sbi_target_api_root_supported_3gpp = Some(true);
        req.plmn_id_list = Some(vec![PlmnId::new("001", "01").unwrap()]);
        let v = serde_json::to_value(&req).unwrap();
        assert_eq!(v["3GppSbiTargetApiRootSupported"], true);
        assert_eq!(v["supportedSecCapabilityList"], json!(["PRINS", "TLS"]));
        assert!(v.get("targetPlmnId").is_none());
        assert_eq!(serde_json::from_value::<SecNegotiateReqData>(v).unwrap(), req);
        assert_eq!(req.schema_name(), "SecNegotiateReqData");

        let rsp = SecNegotiateRspData::new("sepp.5gc.mnc002.mcc002.3gppnetwork.org", SecurityCapability::Prins);
        let v = serde_json::to_value(&rsp).unwrap();
        assert_eq!(
            v,
            json!({"sender": "sepp.5gc.mnc002.mcc002.3gppnetwork.org", "selectedSecCapability": "PRINS"})
        );
        assert_eq!(serde_json::from_value::<SecNegotiateRspData>(v).unwrap(), rsp);
    }

    #[test]
    fn sec_param_exch_round_trip() {
        let mut req = SecParamExchReqData::new(id());
        req.protection_policy_info = Some(ProtectionPolicy {
            api_ie_mapping_list: vec![ApiIeMapping {
                api_signature: ApiSignature::Callback(CallbackName {
                    callback_type: "Nudm_SDM_Notification".into(),
                }),
                api_method: HttpMethod::Post,
                ie_list: vec![IeInfo {
                    ie_loc: IeLocation::Body,
                    ie_type: IeType::Ueid,
                    req_ie: Some("/supi".into()),
                    rsp_ie: None,
                    is_modifiable: Some(false),
                    is_modifiable_by_ipx: Some(BTreeMap::from([("ipx1.example.org".to_owned(), true)])),
                }],
            }],
            data_type_enc_policy: Some(vec![IeType::KeyMaterial]),
        });
        let v = serde_json::to_value(&req).unwrap();
        let m = &v["protectionPolicyInfo"]["apiIeMappingList"][0];
        assert_eq!(m["apiSignature"], json!({"callbackType": "Nudm_SDM_Notification"}));
        assert_eq!(m["IeList"][0]["isModifiableByIpx"]["ipx1.example.org"], true);
        assert_eq!(serde_json::from_value::<SecParamExchReqData>(v).unwrap(), req);

        let uri: ApiSignature = serde_json::from_value(json!("/nudm-sdm/v2/{supi}")).unwrap();
        assert_eq!(uri, ApiSignature::Uri("/nudm-sdm/v2/{supi}".into()));

        let mut rsp = SecParamExchRspData::new(N32fContextId::from_u64(7));
        rsp.selected_jwe_cipher_suite = Some("A128GCM".into());
        let v = serde_json::to_value(&rsp).unwrap();
        assert_eq!(
            v,
            json!({"n32fContextId": "0000000000000007", "selectedJweCipherSuite": "A128GCM"})
        );
        assert_eq!(serde_json::from_value::<SecParamExchRspData>(v).unwrap(), rsp);
    }

    #[test]
    fn n32f_error_round_trip() {
        let mut e = N32fErrorInfo::new("42", N32fErrorType::PolicyMismatch);
        e.n32f_context_id = Some(id());
        e.policy_mismatch_list = Some(vec![InvalidParam {
            param: "/apiIeMappingList/0".into(),
            reason: Some("differs".into()),
        }]);
        e.failed_modification_list = Some(vec![FailedModificationInfo {
            ipx_id: "ipx1.example.org".into(),
            n32f_error_type: N32fErrorType::Other("NEW_ERROR".into()),
        }]);
        e.error_details_list = Some(vec![N32fErrorDetail {
            attribute: "/payload/0".into(),
            msg_reconstruct_fail_reason: FailureReason::InvalidJsonPointer,
        }]);
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["n32fErrorType"], "POLICY_MISMATCH");
        assert_eq!(v["failedModificationList"][0]["n32fErrorType"], "NEW_ERROR");
        assert_eq!(serde_json::from_value::<N32fErrorInfo>(v).unwrap(), e);
        let c = N32fContextInfo { n32f_context_id: id() };
        assert_eq!(
            serde_json::to_value(&c).unwrap(),
            json!({"n32fContextId": "0123456789ABCDEF"})
        );
        assert!(serde_json::from_value::<N32fErrorInfo>(json!({"n32fErrorType": "CONTEXT_NOT_FOUND"})).is_err());
    }
}
