//! Data types shared by the N32 and CAPIF APIs: ProblemDetails (TS 29.571 clause 5.2.4.1 and
//! the TS 29.122 clause 5.2.1.2.12 CAPIF variant), ProblemDetailsMsgForwarding (TS 29.573
//! clause 6.2.5.2, Rel-18), PlmnId, SupportedFeatures, and the [`ApiBody`] trait that names a
//! body after its OpenAPI schema.
//!
//! # Wire and typed layers
//!
//! Every type here (de)serializes with serde under the exact OpenAPI member names. Optional
//! members are `Option` and are skipped when absent; required members are not `Option`.
//! Values with a pattern ([`SupportedFeatures`], [`PlmnId`]) are parsed once at the border,
//! so a value that exists is valid (parse, don't validate).
//!
//! # Extensible enumerations
//!
//! 3GPP enumerations are "enum or any string" (TS 29.501 clause 5.2.3.3): the OpenAPI says
//! `anyOf: [{enum: [...]}, {type: string}]`. The crate-private `extensible_enum!` macro models
//! one as a Rust enum with the known values plus `Other(String)`, which (de)serializes as the
//! raw string. Parsing a known string always gives the named variant, never `Other`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// FQDN (TS 29.571 `Fqdn`). Pattern `^([0-9A-Za-z]([-0-9A-Za-z]{0,61}[0-9A-Za-z])?\.)+[A-Za-z]{2,63}\.?$`,
/// length 4..=253; checked by the OpenAPI tests, not by the type.
pub type Fqdn = String;

/// URI per RFC 3986 (TS 29.571 `Uri`, TS 29.122 `Uri`).
pub type Uri = String;

/// A body or data type named after its OpenAPI schema, used to name messages in traces and to
/// pick the schema when a test validates a body.
pub trait ApiBody {
    /// OpenAPI schema name, e.g. `"SecNegotiateReqData"`.
    const SCHEMA: &'static str;
    /// The OpenAPI file defining [`Self::SCHEMA`], e.g. `"TS29573_N32_Handshake.yaml"`.
    const FILE: &'static str;

    /// The schema name of this value's type (for traces).
    fn schema_name(&self) -> &'static str {
        Self::SCHEMA
    }
}

/// Implements [`ApiBody`] for `(type, schema, file)` triples.
macro_rules! api_body {
    ($($ty:ty => $schema:literal in $file:literal;)+) => {
        $(impl $crate::proto::common::ApiBody for $ty {
            const SCHEMA: &'static str = $schema;
            const FILE: &'static str = $file;
        })+
    };
}
pub(crate) use api_body;

/// Declares an extensible ("enum or any string") 3GPP enumeration: the known variants with their
/// wire strings, plus `Other(String)` for any other string. Serializes as the bare string.
macro_rules! extensible_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$vmeta:meta])* $variant:ident = $wire:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
        $vis enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this release does not know ("enum or any string"), kept verbatim.
            Other(String),
        }

        impl $name {
            /// The known values, in OpenAPI order.
            pub const KNOWN: &'static [$name] = &[$($name::$variant,)+];

            /// The wire string.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $wire,)+
                    $name::Other(s) => s,
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $($wire => $name::$variant,)+
                    other => $name::Other(other.to_owned()),
                }
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                match $name::from(s.as_str()) {
                    $name::Other(_) => $name::Other(s),
                    known => known,
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl ::schemars::JsonSchema for $name {
            fn schema_name() -> ::std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            /// Any string (an unknown one is kept verbatim, as `Other`); the known values are
            /// offered as an `enum` alternative so that editors complete them.
            fn json_schema(_: &mut ::schemars::SchemaGenerator) -> ::schemars::Schema {
                ::schemars::json_schema!({
                    "anyOf": [
                        { "enum": [$($wire),+] },
                        { "type": "string" }
                    ]
                })
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                String::deserialize(deserializer).map($name::from)
            }
        }
    };
}
pub(crate) use extensible_enum;

/// A wire value that failed to parse into its typed form.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
pub enum ParseError {
    /// The string does not match the schema's pattern.
    #[error("{what} {value:?} does not match {pattern}")]
    Pattern {
        /// The schema or attribute name.
        what: &'static str,
        /// The offending value.
        value: String,
        /// The OpenAPI pattern it must match.
        pattern: &'static str,
    },
    /// A `oneOf` of required members (e.g. interfaceDetails XOR aefId) had none or several.
    #[error("{what}: exactly one of {members} must be present")]
    OneOf {
        /// The schema name.
        what: &'static str,
        /// The alternatives, comma-separated.
        members: &'static str,
    },
    /// A form-urlencoded body is malformed or lacks a required field.
    #[error("form: {0}")]
    Form(String),
}

// ---------------------------------------------------------------------------------------------
// SupportedFeatures, PlmnId
// ---------------------------------------------------------------------------------------------

/// Supported-features bitmask in hexadecimal, most significant character first (TS 29.571
/// `SupportedFeatures`, TS 29.500 clause 6.6). Pattern `^[A-Fa-f0-9]*$`; kept verbatim.
#[derive(Clone, Debug, Default, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct SupportedFeatures(String);

impl SupportedFeatures {
    /// The OpenAPI pattern.
    pub const PATTERN: &'static str = "^[A-Fa-f0-9]*$";

    /// Parses a hex bitmask (empty is allowed: no feature).
    pub fn new(s: impl Into<String>) -> Result<Self, ParseError> {
        let s = s.into();
        if s.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(SupportedFeatures(s))
        } else {
            Err(ParseError::Pattern {
                what: "SupportedFeatures",
                value: s,
                pattern: Self::PATTERN,
            })
        }
    }

    /// No optional feature: `"0"`.
    pub fn none() -> Self {
        SupportedFeatures("0".to_owned())
    }

    /// Is feature `n` (1-based, TS 29.500 table 5.2.2-3) set?
    pub fn has(&self, n: u32) -> bool {
        if n == 0 {
            return false;
        }
        let idx = ((n - 1) / 4) as usize;
        let bit = (n - 1) % 4;
        let len = self.0.len();
        if idx >= len {
            return false;
        }
        // The bytes are ASCII hex digits: the constructor checked them.
        let c = self.0.as_bytes()[len - 1 - idx] as char;
        c.to_digit(16).is_some_and(|v| v & (1 << bit) != 0)
    }

    /// The wire string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SupportedFeatures {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, ParseError> {
        SupportedFeatures::new(s)
    }
}

impl From<SupportedFeatures> for String {
    fn from(f: SupportedFeatures) -> String {
        f.0
    }
}

impl fmt::Display for SupportedFeatures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// PLMN identity (TS 29.571 `PlmnId`): MCC of 3 digits (`^\d{3}$`), MNC of 2 or 3 digits
/// (`^\d{2,3}$`). As a string (e.g. a map key): `"<mcc>-<mnc>"`.
#[derive(Clone, Debug, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize)]
#[serde(try_from = "PlmnIdWire", into = "PlmnIdWire")]
pub struct PlmnId {
    mcc: String,
    mnc: String,
}

/// The lossless wire form of [`PlmnId`].
#[derive(Deserialize, Serialize)]
struct PlmnIdWire {
    mcc: String,
    mnc: String,
}

impl PlmnId {
    /// Parses MCC and MNC.
    pub fn new(mcc: impl Into<String>, mnc: impl Into<String>) -> Result<Self, ParseError> {
        let (mcc, mnc) = (mcc.into(), mnc.into());
        let digits = |s: &str, lens: &[usize]| lens.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(&mcc, &[3]) {
            return Err(ParseError::Pattern {
                what: "Mcc",
                value: mcc,
                pattern: r"^\d{3}$",
            });
        }
        if !digits(&mnc, &[2, 3]) {
            return Err(ParseError::Pattern {
                what: "Mnc",
                value: mnc,
                pattern: r"^\d{2,3}$",
            });
        }
        Ok(PlmnId { mcc, mnc })
    }

    /// Mobile country code (3 digits).
    pub fn mcc(&self) -> &str {
        &self.mcc
    }

    /// Mobile network code (2 or 3 digits).
    pub fn mnc(&self) -> &str {
        &self.mnc
    }
}

impl TryFrom<PlmnIdWire> for PlmnId {
    type Error = ParseError;
    fn try_from(w: PlmnIdWire) -> Result<Self, ParseError> {
        PlmnId::new(w.mcc, w.mnc)
    }
}

impl From<PlmnId> for PlmnIdWire {
    fn from(p: PlmnId) -> Self {
        PlmnIdWire { mcc: p.mcc, mnc: p.mnc }
    }
}

impl fmt::Display for PlmnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.mcc, self.mnc)
    }
}

impl std::str::FromStr for PlmnId {
    type Err = ParseError;
    /// Parses `"<mcc>-<mnc>"`.
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let (mcc, mnc) = s.split_once('-').ok_or_else(|| ParseError::Pattern {
            what: "PlmnId",
            value: s.to_owned(),
            pattern: r"^\d{3}-\d{2,3}$",
        })?;
        PlmnId::new(mcc, mnc)
    }
}

/// SNPN identity (TS 29.571 `PlmnIdNid`): a PLMN ID plus, for an SNPN, the NID (11 hex digits,
/// `^[A-Fa-f0-9]{11}$`, checked by the OpenAPI tests).
#[derive(Clone, Debug, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize)]
pub struct PlmnIdNid {
    /// MCC and MNC.
    #[serde(flatten)]
    pub plmn_id: PlmnId,
    /// Network identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nid: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// ProblemDetails
// ---------------------------------------------------------------------------------------------

/// An invalid parameter of a rejected request (TS 29.571 `InvalidParam`, same shape as the
/// TS 29.122 one). Also the N32-c `policyMismatchList` items (TS 29.573 clause 6.1.5.2.9).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct InvalidParam {
    /// JSON pointer of a body attribute, `"header <name>"`, `"query <name>"` or `"{var}"`.
    pub param: String,
    /// Human-readable reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Error details in an `application/problem+json` response (TS 29.571 clause 5.2.4.1
/// `ProblemDetails`, RFC 9457). All members are optional. The NRF members `accessTokenError` and
/// `accessTokenRequest` (TS 29.510) are not modelled.
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProblemDetails {
    /// URI reference identifying the problem type.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub problem_type: Option<Uri>,
    /// Short summary of the problem type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The HTTP status code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Explanation of this occurrence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// URI of this occurrence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<Uri>,
    /// Machine-readable application error cause (e.g. `TARGET_NF_NOT_REACHABLE`, TS 29.500).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// Invalid parameters (minItems 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalid_params: Option<Vec<InvalidParam>>,
    /// Features supported by the sender.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_features: Option<SupportedFeatures>,
    /// NRF that can issue an access token (TS 29.571 Rel-16 on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nrf_id: Option<Fqdn>,
    /// API versions the server supports (minItems 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_api_versions: Option<Vec<String>>,
}

impl ProblemDetails {
    /// A ProblemDetails with `status` and `cause` set (the common SBI error shape).
    pub fn with_cause(status: u16, cause: impl Into<String>) -> Self {
        ProblemDetails {
            status: Some(status),
            cause: Some(cause.into()),
            ..ProblemDetails::default()
        }
    }

    /// Only `status` set.
    pub fn with_status(status: u16) -> Self {
        ProblemDetails {
            status: Some(status),
            ..ProblemDetails::default()
        }
    }

    /// The same with `detail` set.
    pub fn detail(self, detail: impl Into<String>) -> Self {
        ProblemDetails {
            detail: Some(detail.into()),
            ..self
        }
    }

    /// The JSON body (members in declaration order, absent ones left out).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The 403 body of `POST /n32f-process` (TS 29.573 clause 6.2.5.2.x, Rel-18 OpenAPI
/// `ProblemDetailsMsgForwarding` = `allOf` [ProblemDetails, AdditionInfoMsgForwarding]): the
/// problem plus the status and problem the receiver suggests relaying to the consumer NF.
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProblemDetailsMsgForwarding {
    /// The ProblemDetails members.
    #[serde(flatten)]
    pub problem: ProblemDetails,
    /// Status code suggested towards the consumer NF.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggested_status_code: Option<u16>,
    /// Problem suggested towards the consumer NF.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggested_problem_details: Option<Box<ProblemDetails>>,
}

/// Error details of the CAPIF and northbound APIs (TS 29.122 clause 5.2.1.2.12 `ProblemDetails`):
/// the TS 29.571 members up to `supportedFeatures`, without the NRF members.
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProblemDetails29122 {
    /// URI reference identifying the problem type.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub problem_type: Option<Uri>,
    /// Short summary of the problem type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The HTTP status code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Explanation of this occurrence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// URI of this occurrence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<Uri>,
    /// Machine-readable application error cause.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// Invalid parameters (minItems 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalid_params: Option<Vec<InvalidParam>>,
    /// Features supported by the sender.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_features: Option<SupportedFeatures>,
}

impl ProblemDetails29122 {
    /// A ProblemDetails with `status` and `cause` set: the one way CAPIF machines build their
    /// error answers.
    pub fn with_cause(status: u16, cause: impl Into<String>) -> Self {
        ProblemDetails29122 {
            status: Some(status),
            cause: Some(cause.into()),
            ..ProblemDetails29122::default()
        }
    }

    /// The same with `detail` set.
    pub fn detail(self, detail: impl Into<String>) -> Self {
        ProblemDetails29122 {
            detail: Some(detail.into()),
            ..self
        }
    }
}

api_body! {
    ProblemDetails => "ProblemDetails" in "TS29571_CommonData.yaml";
    ProblemDetailsMsgForwarding => "ProblemDetailsMsgForwarding" in "TS29573_JOSEProtectedMessageForwarding.yaml";
    ProblemDetails29122 => "ProblemDetails" in "TS29122_CommonData.yaml";
    InvalidParam => "InvalidParam" in "TS29571_CommonData.yaml";
    PlmnId => "PlmnId" in "TS29571_CommonData.yaml";
    PlmnIdNid => "PlmnIdNid" in "TS29571_CommonData.yaml";
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn problem_details_round_trip_skips_absent() {
        let p = ProblemDetails {
            problem_type: Some("https://example.com/p".into()),
            invalid_params: Some(vec![InvalidParam {
                param: "/n32fContextId".into(),
                reason: None,
            }]),
            ..ProblemDetails::with_cause(400, "MANDATORY_IE_INCORRECT")
        };
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(
            v,
            json!({"type": "https://example.com/p", "status": 400, "cause": "MANDATORY_IE_INCORRECT",
                   "invalidParams": [{"param": "/n32fContextId"}]})
        );
        assert_eq!(serde_json::from_value::<ProblemDetails>(v).unwrap(), p);
    }

    #[test]
    fn msg_forwarding_flattens_problem() {
        let p = ProblemDetailsMsgForwarding {
            problem: ProblemDetails::with_cause(403, "REQUEST_REJECTED"),
            suggested_status_code: Some(504),
            suggested_problem_details: Some(Box::new(ProblemDetails::with_cause(504, "TARGET_PLMN_NOT_REACHABLE"))),
        };
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["status"], 403);
        assert_eq!(v["suggestedStatusCode"], 504);
        assert_eq!(v["suggestedProblemDetails"]["cause"], "TARGET_PLMN_NOT_REACHABLE");
        assert_eq!(serde_json::from_value::<ProblemDetailsMsgForwarding>(v).unwrap(), p);
    }

    #[test]
    fn plmn_id_parses_and_refuses() {
        let p: PlmnId = serde_json::from_value(json!({"mcc": "001", "mnc": "01"})).unwrap();
        assert_eq!(p.to_string(), "001-01");
        assert_eq!("001-01".parse::<PlmnId>().unwrap(), p);
        assert!(serde_json::from_value::<PlmnId>(json!({"mcc": "01", "mnc": "01"})).is_err());
        assert!(serde_json::from_value::<PlmnId>(json!({"mcc": "001", "mnc": "1"})).is_err());
        assert!(PlmnId::new("001", "0a1").is_err());
        let n: PlmnIdNid = serde_json::from_value(json!({"mcc": "001", "mnc": "001", "nid": "000007ed9d5"})).unwrap();
        assert_eq!(n.plmn_id.mnc(), "001");
        assert_eq!(
            serde_json::to_value(&n).unwrap(),
            json!({"mcc": "001", "mnc": "001", "nid": "000007ed9d5"})
        );
    }

    #[test]
    fn supported_features_bits() {
        let f = SupportedFeatures::new("1a").unwrap();
        assert!(f.has(2) && f.has(4) && f.has(5) && !f.has(1) && !f.has(9) && !f.has(0));
        assert!(SupportedFeatures::new("xyz").is_err());
        assert!(serde_json::from_value::<SupportedFeatures>(json!("0g")).is_err());
    }
}
