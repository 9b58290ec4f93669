//! FFS alternative 2 (TS 29.573 5.2.X.2, seed 000 Editor's note "The details of related API
//! definitions are ffs"): how the RI's CONNECT rejection carries the suggested status and
//! application error, and how the c-SEPP reads them back.
//!
//! [`encode_rejection`] builds the RI's response; [`decode_rejection`] is the c-SEPP side. Only
//! [`SuggestionEncoding::ProtectedHeader`] yields a [`Suggestion`] with `verified: true`: bodies
//! from an RI are not integrity protected (DIGEST 3; TS 33.501 13.1.2 protects only the
//! `3gpp-Connect-Res-Info` header with JWS).
//!
//! Sizes are [`Rejection::size_bytes`]: header lines as HTTP/1.1 text plus the body (HPACK
//! would shrink repeated headers; the ranking between encodings stays).

use p256::ecdsa::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::crypto::jose::{self, JwsHeader};
use crate::engine::time::SimTime;
use crate::proto::common::{ApiBody, ProblemDetails, ProblemDetailsMsgForwarding};

use super::policy::{RefusalReason, RejectionSpec};

/// Response header with the RI's JWS-protected CONNECT result (TS 33.501 13.1.2; lowercase as
/// on HTTP/2).
pub const CONNECT_RES_INFO: &str = "3gpp-connect-res-info";
/// RFC 9209 response header.
pub const PROXY_STATUS: &str = "proxy-status";
/// Content type of every rejection body (RFC 9457).
pub const CONTENT_TYPE_PROBLEM: &str = "application/problem+json";

/// How the suggestion travels in the CONNECT rejection. Default: `ProblemDetailsMsgForwarding`.
///
/// | encoding                      | body schema                   | suggestion in           | verifiable |
/// |-------------------------------|-------------------------------|-------------------------|------------|
/// | `ProblemDetailsMsgForwarding` | ProblemDetailsMsgForwarding   | body (standard members) | no         |
/// | `FlatFields`                  | ProblemDetails (+2 members)   | body (secsim members)   | no         |
/// | `ProtectedHeader`             | ProblemDetails                | JWS header              | yes        |
/// | `ProxyStatus`                 | ProblemDetails                | RFC 9209 header details | no         |
#[derive(
    Clone, Copy, Debug, Default, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize, schemars::JsonSchema,
)]
pub enum SuggestionEncoding {
    /// Reuse the Rel-18 N32-f 403 body (TS 29.573 6.2.5.2): ProblemDetails plus
    /// `suggestedStatusCode` and `suggestedProblemDetails` (whose `cause` carries the
    /// suggested application error). Standard members, but defined for `n32f-process`, not
    /// for CONNECT (no OpenAPI covers CONNECT responses).
    #[default]
    ProblemDetailsMsgForwarding,
    /// New flat ProblemDetails members `suggestedStatus` (integer) and `suggestedCause`
    /// (string): a secsim invention. The schema is open so the body validates leniently
    /// against TS 29.571 ProblemDetails, but not strictly: a strict validator (secsim's
    /// OpenAPI harness) reports both members as undeclared.
    FlatFields,
    /// The suggestion in the `3gpp-Connect-Res-Info` header as a compact JWS (ES256, `kid` =
    /// RI FQDN) over [`ConnectResInfo`]; the body is a plain ProblemDetails. The only
    /// verifiable encoding (the c-SEPP needs the RI's key, e.g. from the RI trust anchors of
    /// TS 33.501 13.1.2).
    ProtectedHeader,
    /// RFC 9209 `Proxy-Status: <ri-fqdn>; error=<type>; details="suggested-status=504
    /// suggested-cause=..."` plus a plain ProblemDetails. RFC 9209 defines `details` (2.1) for
    /// debugging, so parsing it is a convention between RI and c-SEPP.
    ProxyStatus,
}

impl SuggestionEncoding {
    /// Every encoding, in declaration order.
    pub const ALL: [SuggestionEncoding; 4] = [
        SuggestionEncoding::ProblemDetailsMsgForwarding,
        SuggestionEncoding::FlatFields,
        SuggestionEncoding::ProtectedHeader,
        SuggestionEncoding::ProxyStatus,
    ];

    /// Whether a c-SEPP holding the RI's key can verify the suggestion.
    pub fn verifiable(self) -> bool {
        matches!(self, SuggestionEncoding::ProtectedHeader)
    }
}

/// The RI's response to a refused HTTP CONNECT.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Rejection {
    /// Status line (e.g. 403).
    pub status: u16,
    /// JSON body (`application/problem+json`).
    pub body: String,
    /// OpenAPI schema name the body claims (`"ProblemDetailsMsgForwarding"` or
    /// `"ProblemDetails"`; see [`SuggestionEncoding::FlatFields`] for the strictness caveat).
    pub schema: &'static str,
    /// Response headers, lowercase names, in emission order.
    pub headers: Vec<(String, String)>,
}

impl Rejection {
    /// The value of header `name` (case-insensitive), the last if repeated.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .rev()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Size on the wire \[B\]: each header as `name: value\r\n`, plus the body.
    pub fn size_bytes(&self) -> usize {
        let headers: usize = self.headers.iter().map(|(n, v)| n.len() + v.len() + 4).sum();
        headers + self.body.len()
    }
}

/// The payload of the `3gpp-Connect-Res-Info` JWS (a secsim layout: TS 33.501 13.1.2 requires
/// the header to be JWS-protected with replay protection but its content is not retrieved).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectResInfo {
    /// Status suggested towards the cNF.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggested_status_code: Option<u16>,
    /// Application error suggested towards the cNF.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggested_cause: Option<String>,
    /// The target PLMN the refusal is about (`"<mcc>-<mnc>"`): binds the answer to the request.
    pub plmn: String,
    /// Issued at \[s\] since the start of the run (simulated clock, not Unix time): lets the
    /// c-SEPP refuse stale (replayed) headers.
    pub iat: u64,
}

/// What the c-SEPP got out of a rejection.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct Suggestion {
    /// Suggested status for the cNF, if any was found.
    pub status: Option<u16>,
    /// Suggested application error for the cNF, if any was found.
    pub cause: Option<String>,
    /// Whether the suggestion was verified against the RI's key (only `ProtectedHeader`).
    pub verified: bool,
    /// Size of the whole rejection \[B\] ([`Rejection::size_bytes`]).
    pub bytes: usize,
}

impl Suggestion {
    /// No suggestion at all (e.g. a direct-TLS failure, or a timeout).
    pub fn none() -> Suggestion {
        Suggestion::default()
    }
}

/// The RI's own problem towards the c-SEPP: status and the reason's cause.
fn own_problem(ri_fqdn: &str, spec: &RejectionSpec, reason: RefusalReason, target_plmn: &str) -> ProblemDetails {
    //= TS 29.573 5.2.X.2 step 3: "the ProblemDetails providing details on the N32 related error
    //= for the c-SEPP"
    ProblemDetails {
        detail: Some(format!("{ri_fqdn} refused the N32 connection to {target_plmn}")),
        ..ProblemDetails::with_cause(spec.status, reason.cause())
    }
}

/// Serializing these plain types cannot fail.
fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("ProblemDetails types always serialize")
}

/// The RFC 9209 error type for a reason.
fn proxy_error(reason: RefusalReason) -> &'static str {
    match reason {
        //= RFC 9209 2.3 (error types): http_request_denied, the request was refused by the
        //= intermediary's policy
        RefusalReason::NoContract => "http_request_denied",
        //= RFC 9209 2.3: destination_unavailable, the next hop is considered unavailable
        RefusalReason::TargetUnreachable | RefusalReason::Scripted => "destination_unavailable",
        //= RFC 9209 2.3: connection_limit_reached, the configured limit on connections to the
        //= next hop is exceeded
        RefusalReason::RateLimited => "connection_limit_reached",
    }
}

/// An RFC 8941 sf-token if `s` is one, else an sf-string.
fn sf_item(s: &str) -> String {
    let token = s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '*')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~:/".contains(c));
    if token { s.to_owned() } else { sf_string(s) }
}

/// An RFC 8941 sf-string (quotes and backslashes escaped).
fn sf_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Builds the RI's response to a refused CONNECT for `target_plmn` at `now`.
///
/// `signing_key` is used only by [`SuggestionEncoding::ProtectedHeader`]. Without a suggestion
/// (`spec.suggested_status` and `spec.suggested_cause` both `None`) every encoding still
/// sends its body, `ProtectedHeader` omits the header and `ProxyStatus` omits `details`.
pub fn encode_rejection(
    enc: SuggestionEncoding,
    ri_fqdn: &str,
    spec: &RejectionSpec,
    reason: RefusalReason,
    target_plmn: &str,
    now: SimTime,
    signing_key: &SigningKey,
) -> Rejection {
    let problem = own_problem(ri_fqdn, spec, reason, target_plmn);
    let has_suggestion = spec.suggested_status.is_some() || spec.suggested_cause.is_some();
    let mut headers = vec![("content-type".to_owned(), CONTENT_TYPE_PROBLEM.to_owned())];
    let (body, schema) = match enc {
        SuggestionEncoding::ProblemDetailsMsgForwarding => {
            //= TS 29.573 6.2.5.2 (Rel-18 OpenAPI): ProblemDetailsMsgForwarding = allOf
            //= [ProblemDetails, {suggestedStatusCode, suggestedProblemDetails}]
            let body = ProblemDetailsMsgForwarding {
                problem,
                suggested_status_code: spec.suggested_status,
                suggested_problem_details: has_suggestion.then(|| {
                    Box::new(ProblemDetails {
                        status: spec.suggested_status,
                        cause: spec.suggested_cause.clone(),
                        ..ProblemDetails::default()
                    })
                }),
            };
            (to_json(&body), ProblemDetailsMsgForwarding::SCHEMA)
        }
        SuggestionEncoding::FlatFields => {
            // secsim invention: two flat members next to the ProblemDetails ones.
            let mut value = serde_json::to_value(&problem).expect("ProblemDetails always serializes");
            let object = value.as_object_mut().expect("ProblemDetails serializes to an object");
            if let Some(status) = spec.suggested_status {
                object.insert("suggestedStatus".into(), status.into());
            }
            if let Some(cause) = &spec.suggested_cause {
                object.insert("suggestedCause".into(), cause.as_str().into());
            }
            (value.to_string(), ProblemDetails::SCHEMA)
        }
        SuggestionEncoding::ProtectedHeader => {
            if has_suggestion {
                let info = ConnectResInfo {
                    suggested_status_code: spec.suggested_status,
                    suggested_cause: spec.suggested_cause.clone(),
                    plmn: target_plmn.to_owned(),
                    iat: now.as_nanos() / 1_000_000_000,
                };
                //= TS 33.501 13.1.2: the 3gpp-Connect-Res-Info header is integrity protected
                //= with JWS (ES256 per TS 33.501 13.2.4.6)
                let jws = jose::sign_compact(
                    signing_key,
                    &JwsHeader::es256_with_kid(ri_fqdn),
                    to_json(&info).as_bytes(),
                );
                headers.push((CONNECT_RES_INFO.to_owned(), jws));
            }
            (to_json(&problem), ProblemDetails::SCHEMA)
        }
        SuggestionEncoding::ProxyStatus => {
            //= RFC 9209 2: Proxy-Status = sf-list; member = intermediary name; params error, details
            let mut value = format!("{}; error={}", sf_item(ri_fqdn), proxy_error(reason));
            if has_suggestion {
                let mut details = Vec::new();
                if let Some(status) = spec.suggested_status {
                    details.push(format!("suggested-status={status}"));
                }
                if let Some(cause) = &spec.suggested_cause {
                    details.push(format!("suggested-cause={cause}"));
                }
                value.push_str("; details=");
                value.push_str(&sf_string(&details.join(" ")));
            }
            headers.push((PROXY_STATUS.to_owned(), value));
            (to_json(&problem), ProblemDetails::SCHEMA)
        }
    };
    //= TS 29.573 5.2.1: "the Roaming Intermediary may reject N32 connection to be established
    //= by rejecting the HTTP CONNECT request"
    Rejection {
        status: spec.status,
        body,
        schema,
        headers,
    }
}

/// The flat members of [`SuggestionEncoding::FlatFields`] (other members ignored).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FlatSuggestion {
    #[serde(default)]
    suggested_status: Option<u16>,
    #[serde(default)]
    suggested_cause: Option<String>,
}

/// Reads the suggestion out of a JWS payload.
fn from_res_info(payload: &[u8]) -> (Option<u16>, Option<String>) {
    match serde_json::from_slice::<ConnectResInfo>(payload) {
        Ok(info) => (info.suggested_status_code, info.suggested_cause),
        Err(_) => (None, None),
    }
}

/// Splits `s` on `sep` outside sf-strings.
fn split_unquoted(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if quoted && c == '\\' {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if !quoted && c == sep {
            parts.push(&s[start..i]);
            start = i + c.len_utf8();
        }
    }
    parts.push(&s[start..]);
    parts
}

/// Unquotes an sf-string (or returns a bare token as is).
fn sf_unquote(s: &str) -> String {
    let s = s.trim();
    match s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(inner) => {
            let mut out = String::with_capacity(inner.len());
            let mut escaped = false;
            for c in inner.chars() {
                if !escaped && c == '\\' {
                    escaped = true;
                } else {
                    out.push(c);
                    escaped = false;
                }
            }
            out
        }
        None => s.to_owned(),
    }
}

/// Reads the `details` of the last Proxy-Status member (the intermediary closest to the
/// c-SEPP; RFC 9209 2: the last member is the intermediary closest to the user agent).
fn from_proxy_status(value: &str) -> (Option<u16>, Option<String>) {
    let member = split_unquoted(value, ',').pop().unwrap_or_default();
    let details = split_unquoted(member, ';')
        .into_iter()
        .skip(1)
        .filter_map(|param| param.split_once('='))
        .find(|(key, _)| key.trim() == "details")
        .map(|(_, v)| sf_unquote(v));
    let (mut status, mut cause) = (None, None);
    for word in details.as_deref().unwrap_or_default().split_whitespace() {
        match word.split_once('=') {
            Some(("suggested-status", v)) => status = v.parse().ok(),
            Some(("suggested-cause", v)) => cause = Some(v.to_owned()),
            _ => {}
        }
    }
    (status, cause)
}

/// The c-SEPP reads the suggestion out of an RI's rejection encoded with `enc`.
///
/// Never fails: a malformed body or header (peer input) gives no suggestion. With
/// `ProtectedHeader`, a header that does not verify under `ri_keys` (or no key) still yields
/// the claimed values, with `verified: false`, so that the c-SEPP's policy decides
/// ([`super::CseppMapping::UseSuggestionIfVerified`]). The JWS `kid`, `plmn` and `iat` are not
/// checked here (the caller knows the target and the clock; see [`ConnectResInfo`]).
pub fn decode_rejection(enc: SuggestionEncoding, rejection: &Rejection, ri_keys: Option<&VerifyingKey>) -> Suggestion {
    let bytes = rejection.size_bytes();
    let (status, cause, verified) = match enc {
        SuggestionEncoding::ProblemDetailsMsgForwarding => {
            match serde_json::from_str::<ProblemDetailsMsgForwarding>(&rejection.body) {
                Ok(body) => {
                    let suggested = body.suggested_problem_details.unwrap_or_default();
                    (body.suggested_status_code.or(suggested.status), suggested.cause, false)
                }
                Err(_) => (None, None, false),
            }
        }
        SuggestionEncoding::FlatFields => match serde_json::from_str::<FlatSuggestion>(&rejection.body) {
            Ok(flat) => (flat.suggested_status, flat.suggested_cause, false),
            Err(_) => (None, None, false),
        },
        SuggestionEncoding::ProtectedHeader => match rejection.header(CONNECT_RES_INFO) {
            None => (None, None, false),
            Some(compact) => match ri_keys.map(|key| jose::verify_compact(key, compact)) {
                Some(Ok(jws)) => {
                    let (status, cause) = from_res_info(&jws.payload);
                    (status, cause, true)
                }
                // No key or a bad signature: read the claim, unverified.
                _ => {
                    let payload = compact
                        .split('.')
                        .nth(1)
                        .and_then(|p| jose::b64_decode(p, "payload").ok())
                        .unwrap_or_default();
                    let (status, cause) = from_res_info(&payload);
                    (status, cause, false)
                }
            },
        },
        SuggestionEncoding::ProxyStatus => match rejection.header(PROXY_STATUS) {
            Some(value) => {
                let (status, cause) = from_proxy_status(value);
                (status, cause, false)
            }
            None => (None, None, false),
        },
    };
    Suggestion {
        status,
        cause,
        verified,
        bytes,
    }
}
