//! N32-f PRINS message protection (TS 29.573 clause 6.2, TS 33.501 clause 13.2.4) as pure,
//! sans-IO functions: a sending SEPP reformats an HTTP message into an
//! [`N32fReformattedReqMsg`], up to two Roaming Intermediaries append signed JSON patches, and
//! the receiving SEPP checks everything and rebuilds the HTTP message.
//!
//! ```text
//!  cSEPP  protect()                       cRI / pRI  ri_modify()          pSEPP  unprotect()
//!  HTTP msg ──policy──┐                   view = b64d(aad) + earlier ops   1 metaData → context
//!   clear IEs ──────► DataToIntegrity-    ops  = JSON patch on the view    2 JWE open (AES-GCM)
//!   (index for each    ProtectBlock ─b64─► aad                             3 each JWS: signer,
//!    encrypted IE)                        Modifications{identity, ops,       tag, policy, apply
//!   encrypted IEs ──► dataToEncrypt ─GCM─► ciphertext, tag ───copy───► tag 4 fill encBlockIndex
//!                                         JWS ES256 appended to             → HTTP message
//!                                         modificationsBlock
//! ```
//!
//! # Layout of the cleartext view (DataToIntegrityProtectBlock)
//! - `metaData`: receiver's N32-f context ID, message ID (decimal u64), authorizedIpxId.
//! - `requestLine` (requests) / `statusLine` (responses: the 3-digit status code, since HTTP/2
//!   has only `:status`). `queryFragment` holds the query parameters that no URI_PARAM rule
//!   names, percent-encoded, `&`-joined.
//! - `headers`: every header, in order; encrypted values become `{"encBlockIndex": n}`.
//! - `payload`: first one URI_PARAM entry per query parameter a rule names (`iePath` = `/name`),
//!   then one BODY entry with `iePath` `""` (RFC 6901: the whole document) holding the JSON body
//!   with each encrypted IE replaced in place by `{"encBlockIndex": n}`. The receiver also
//!   accepts further BODY entries with a non-root `iePath` (added with RFC 6902 `add`).
//!
//! # Decisions (DIGEST 9 and where the spec is silent)
//! - **encBlockIndex is 1-based** ([`ENC_BLOCK_INDEX_BASE`]), as in the TS 29.573 example where
//!   the first encrypted header gets 1; 0 is an invalid index.
//! - **authorizedIpxId is `null`** when no RI may modify (the stage-2 text), a string otherwise.
//!   The YAML types it as a required string; serializing `None` as `null` reproduces the DIGEST
//!   7 JWE vector byte for byte. An absent member is read as `null`.
//! - **No encrypted IE**: the JWE plaintext is empty (`ciphertext` = `""`), since
//!   `dataToEncrypt` has minItems 1; the GCM tag still covers the aad.
//! - **Required signers**: the receiver expects exactly the JWS chain `[authorizedIpxId (cRI)?,
//!   RecvContext::local_ri (pRI)?]`, one JWS each, in that order (TS 33.501: an RI appends a JWS
//!   even without changes). So a dropped `modificationsBlock` is detected, not silently accepted.
//! - **What an RI may write**: `/headers/{k}/value`, `/headers/{k}` (insert, remove, or replace
//!   keeping the name) and `/payload/{k}/value[/...]`, and only when an [`IeRule`] of the API
//!   covers that IE for that IPX ([`IeRule::may_modify`]: `isModifiableByIpx[ipx]`, else
//!   `isModifiable`, else false). A BODY rule covers its pointer and everything under it.
//!   Nothing may read, write or introduce an `{"encBlockIndex"}` object (encrypted IEs must not
//!   move to clear locations). `test` is read-only and always allowed.
//! - **Ambiguity**: a clear body value shaped like `{"encBlockIndex": n}` could not be told from
//!   an index, so [`protect`] refuses it ([`ProtectError::AmbiguousValue`]).
//!
//! # Which N32fErrorType for which failure
//! | failure | N32fErrorType |
//! |---|---|
//! | aad missing, not base64url/JSON, no metaData | INTEGRITY_CHECK_FAILED |
//! | context lookup fails | CONTEXT_NOT_FOUND |
//! | caller says the key expired | INTEGRITY_KEY_EXPIRED / ENCRYPTION_KEY_EXPIRED |
//! | GCM tag mismatch (33.501: the AEAD tag is the integrity check) | INTEGRITY_CHECK_FAILED |
//! | JWE malformed (header, alg, enc ≠ context, iv, base64), plaintext not JSON | DECIPHERING_FAILED |
//! | JWS missing, extra, unknown key, bad signature, kid/identity ≠ expected signer, tag ≠ JWE tag | INTEGRITY_CHECK_ON_MODIFICATIONS_FAILED |
//! | signed payload not Modifications, op outside the modification policy, op fails, view broken | MODIFICATIONS_INSTRUCTIONS_FAILED |
//! | rebuild: index out of range / bad pointer / bad header, request line, status, URI param | MESSAGE_RECONSTRUCTION_FAILED |
//!
//! The JWS failures carry `failedModificationList` `[{ipxId, n32fErrorType}]`; the rebuild
//! failures carry `errorDetailsList` `[{attribute, msgReconstructFailReason}]`.
//!
//! # Not modelled
//! - Path parameters: a SUPI in `:path` stays in clear.
//! - MULTIPART_BINARY parts and wildcard pointers in BODY rules.
//! - RI changes to query parameters that no rule names (they sit in `queryFragment`).
//! - PLMN-ID plausibility checks, and the roaming-hub error message (metadata-only
//!   reformattedData plus the hub's JWS).
//!
//! Submodules: [`patch`] (RFC 6901/6902 by hand, no dependency added) and [`fault`] (defects
//! to inject, each with the error the receiver must report).
//!
//! # Size
//! [`wire_len`] is the serialized JSON length. The protection overhead over the plain message is
//! about 4/3 × (|aad JSON| + |dataToEncrypt JSON|) + 160 B (protected header 44, iv 16, tag 22,
//! member names 78), the aad repeating the clear message in base64url. Each RI adds about
//! 4/3 × (|Modifications JSON| + |kid|) + 162 B (signature 86, fixed header part 32, member
//! names 44), plus 22 B for the first (the `modificationsBlock` member). Checked by the
//! `sizes_documented_overhead` test.

pub mod fault;
pub mod patch;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use p256::ecdsa::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::audit::mutant::Mutants;
use crate::crypto::jose::{self, Enc, FlatJwe, FlatJws, JoseError, JweHeader, JwsHeader};
pub use patch::{PatchError, PatchItem, PatchOperation};

/// The OpenAPI name of the flattened JWE (TS 29.573 6.2.5.2.2).
pub type FlatJweJson = FlatJwe;
/// The OpenAPI name of the flattened JWS (TS 29.573 6.2.5.2.3).
pub type FlatJwsJson = FlatJws;

/// Index of the first element of `dataToEncrypt` (see the module doc).
pub const ENC_BLOCK_INDEX_BASE: u64 = 1;
/// At most two RIs modify a message (TS 33.501 13.2.4.5: cRI and pRI).
pub const MAX_RI_HOPS: usize = 2;
/// `requestLine.protocolVersion` written by [`protect`].
pub const PROTOCOL_VERSION: &str = "HTTP/2";

// ---------------------------------------------------------------------------------------------
// Wire types (TS29573_JOSEProtectedMessageForwarding.yaml)
// ---------------------------------------------------------------------------------------------

/// Body of `POST /n32f-process` (TS 29.573 6.2.5.2.4).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct N32fReformattedReqMsg {
    /// The JWE: aad = DataToIntegrityProtectBlock, plaintext = DataToIntegrityProtectAndCipherBlock.
    pub reformatted_data: FlatJweJson,
    /// One JWS per RI on the path, in path order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modifications_block: Option<Vec<FlatJwsJson>>,
}

/// 200 body of `POST /n32f-process` (TS 29.573 6.2.5.2.5).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct N32fReformattedRspMsg {
    /// As in [`N32fReformattedReqMsg`].
    pub reformatted_data: FlatJweJson,
    /// As in [`N32fReformattedReqMsg`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modifications_block: Option<Vec<FlatJwsJson>>,
}

/// The parts shared by reformatted requests and responses.
pub trait Reformatted: Clone {
    /// The JWE.
    fn jwe(&self) -> &FlatJwe;
    /// Mutable JWE (fault injection).
    fn jwe_mut(&mut self) -> &mut FlatJwe;
    /// The RI JWS list (empty when absent).
    fn modifications(&self) -> &[FlatJws];
    /// Mutable JWS list (`None` = absent).
    fn modifications_mut(&mut self) -> &mut Option<Vec<FlatJws>>;
    /// Whether the JWS list is present (possibly empty).
    fn modifications_present(&self) -> bool;
}

macro_rules! impl_reformatted {
    ($t:ty) => {
        impl Reformatted for $t {
            fn jwe(&self) -> &FlatJwe {
                &self.reformatted_data
            }
            fn jwe_mut(&mut self) -> &mut FlatJwe {
                &mut self.reformatted_data
            }
            fn modifications(&self) -> &[FlatJws] {
                self.modifications_block.as_deref().unwrap_or(&[])
            }
            fn modifications_mut(&mut self) -> &mut Option<Vec<FlatJws>> {
                &mut self.modifications_block
            }
            fn modifications_present(&self) -> bool {
                self.modifications_block.is_some()
            }
        }
    };
}
impl_reformatted!(N32fReformattedReqMsg);
impl_reformatted!(N32fReformattedRspMsg);

/// Integrity-protected, readable part; base64url'd into the JWE `aad` (TS 29.573 6.2.5.2.7).
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DataToIntegrityProtectBlock {
    /// Context, message ID, authorized IPX.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta_data: Option<MetaData>,
    /// Request line (requests only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_line: Option<RequestLine>,
    /// Status code (responses only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_line: Option<String>,
    /// All headers, in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Vec<HttpHeader>>,
    /// Named URI parameters and the JSON body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Vec<HttpPayload>>,
}

/// Replay-protection metadata (TS 29.573 6.2.5.2.12).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetaData {
    /// The RECEIVING SEPP's context ID (16 hex digits).
    pub n32f_context_id: String,
    /// 64-bit message ID as a decimal string, echoed in the response.
    pub message_id: String,
    /// First-hop RI allowed to modify; serialized as `null` when none (module doc).
    #[serde(default)]
    pub authorized_ipx_id: Option<String>,
}

/// HTTP request line (TS 29.573 6.2.5.2.8).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestLine {
    /// `GET`, `POST`, ... (TS 29.573 HttpMethod).
    pub method: String,
    /// `http` or `https` (TS 29.571 UriScheme).
    pub scheme: String,
    /// `:authority`.
    pub authority: String,
    /// `:path` without the query.
    pub path: String,
    /// `HTTP/2`.
    pub protocol_version: String,
    /// Query parameters no rule names, percent-encoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_fragment: Option<String>,
}

/// One header (TS 29.573 6.2.5.2.9).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct HttpHeader {
    /// Header name.
    pub header: String,
    /// Clear value or index of the encrypted one.
    pub value: EncodedHttpHeaderValue,
}

/// A header value or the index of its encrypted value (TS 29.573 6.2.5.3.2, oneOf).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(untagged)]
pub enum EncodedHttpHeaderValue {
    /// In clear.
    Clear(String),
    /// Encrypted.
    Index(IndexToEncryptedValue),
}

/// `{"encBlockIndex": n}` (TS 29.573 6.2.5.2.14), [`ENC_BLOCK_INDEX_BASE`]-based.
#[derive(Clone, Copy, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexToEncryptedValue {
    /// Position in `dataToEncrypt`.
    pub enc_block_index: u64,
}

/// One JSON IE or URI parameter (TS 29.573 6.2.5.2.10).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpPayload {
    /// RFC 6901 pointer: into the body (BODY), or `/name` of a query parameter (URI_PARAM).
    pub ie_path: String,
    /// Where the IE lives.
    pub ie_value_location: IeLocation,
    /// The value, with `{"encBlockIndex": n}` in place of encrypted parts.
    pub value: Value,
}

/// JWE plaintext (TS 29.573 6.2.5.2.6).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DataToIntegrityProtectAndCipherBlock {
    /// Encrypted values, indexed by `encBlockIndex`.
    pub data_to_encrypt: Vec<Value>,
}

/// JWS payload of an RI (TS 29.573 6.2.5.2.13).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct Modifications {
    /// The RI's FQDN.
    pub identity: String,
    /// RFC 6902 patch on the cleartext view; absent when the RI changed nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operations: Option<Vec<PatchItem>>,
    /// Copy of the JWE `tag`: binds the patch to this message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Policy view (subset of TS 29.573 6.1.5.2 ProtectionPolicy)
// ---------------------------------------------------------------------------------------------

/// Kind of IE (TS 29.573 6.1.5.3.5 IeType).
#[derive(Clone, Copy, Debug, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IeType {
    /// SUPI, GPSI, ...
    Ueid,
    /// Location data.
    Location,
    /// Keys.
    KeyMaterial,
    /// Authentication vectors.
    AuthenticationMaterial,
    /// OAuth tokens.
    AuthorizationToken,
    /// Other.
    Other,
    /// Never encrypted.
    Nonsensitive,
}

/// Where an IE lives (TS 29.573 6.1.5.3.6 IeLocation).
#[derive(Clone, Copy, Debug, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IeLocation {
    /// A query parameter (path parameters are not modelled).
    UriParam,
    /// A header.
    Header,
    /// The JSON body.
    Body,
    /// A multipart binary part (not modelled; never produced).
    MultipartBinary,
}

/// One IE of an API: mirrors TS 29.573 `IeInfo` (`ieLoc`, `ieType`, `reqIe`, `rspIe`,
/// `isModifiable`, `isModifiableByIpx`).
///
/// The IE name is a query parameter name (URI_PARAM), a header name compared ASCII
/// case-insensitively (HEADER) or an exact RFC 6901 pointer into the body (BODY; no wildcards).
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
pub struct IeRule {
    /// Location.
    pub ie_loc: Option<IeLocation>,
    /// Kind, checked against [`PolicyView::data_type_enc_policy`].
    pub ie_type: Option<IeType>,
    /// Name in the request, if the IE occurs there.
    pub req_ie: Option<String>,
    /// Name in the response, if the IE occurs there.
    pub rsp_ie: Option<String>,
    /// Default for any IPX (absent = false).
    pub is_modifiable: bool,
    /// Per-IPX override, keyed by IPX FQDN.
    pub is_modifiable_by_ipx: BTreeMap<String, bool>,
}

impl IeRule {
    /// A rule for an IE with the same name in request and response.
    pub fn new(ie_loc: IeLocation, ie_type: IeType, name: &str) -> Self {
        IeRule {
            ie_loc: Some(ie_loc),
            ie_type: Some(ie_type),
            req_ie: Some(name.to_owned()),
            rsp_ie: Some(name.to_owned()),
            ..IeRule::default()
        }
    }

    /// Same, modifiable by `ipx`.
    pub fn modifiable_by(mut self, ipx: &str) -> Self {
        self.is_modifiable_by_ipx.insert(ipx.to_owned(), true);
        self
    }

    /// Same, modifiable by any IPX.
    pub fn modifiable(mut self) -> Self {
        self.is_modifiable = true;
        self
    }

    /// The IE name in one direction.
    pub fn name(&self, dir: Direction) -> Option<&str> {
        match dir {
            Direction::Request => self.req_ie.as_deref(),
            Direction::Response => self.rsp_ie.as_deref(),
        }
    }

    /// Whether `ipx` may modify this IE: `isModifiableByIpx[ipx]`, else `isModifiable`.
    pub fn may_modify(&self, ipx: &str) -> bool {
        self.is_modifiable_by_ipx
            .get(ipx)
            .copied()
            .unwrap_or(self.is_modifiable)
    }
}

/// IEs of one API operation: mirrors TS 29.573 `ApiIeMapping`.
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
pub struct ApiRule {
    /// Path template, `{var}` matching one segment, e.g. `/nausf-auth/v1/ue-authentications/{authCtxId}`.
    pub api_signature: String,
    /// HTTP method.
    pub api_method: String,
    /// The IEs.
    pub ie_list: Vec<IeRule>,
}

/// What protection needs from the N32-c ProtectionPolicy: the per-API IE list and the
/// data-type encryption policy (which IeTypes are encrypted). The integrator converts the full
/// `n32::types::ProtectionPolicy` into this.
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
pub struct PolicyView {
    /// Per-API IE lists; the first matching entry applies.
    pub api_ie_mapping_list: Vec<ApiRule>,
    /// IeTypes to encrypt.
    pub data_type_enc_policy: BTreeSet<IeType>,
}

impl PolicyView {
    /// UEID, LOCATION, KEY_MATERIAL, AUTHENTICATION_MATERIAL, AUTHORIZATION_TOKEN.
    pub fn default_enc_types() -> BTreeSet<IeType> {
        use IeType::*;
        [Ueid, Location, KeyMaterial, AuthenticationMaterial, AuthorizationToken].into()
    }

    /// The rule for `method` on `path` (query excluded), if any.
    pub fn api(&self, method: &str, path: &str) -> Option<&ApiRule> {
        self.api_ie_mapping_list
            .iter()
            .find(|a| a.api_method == method && template_matches(&a.api_signature, path))
    }

    fn encrypts(&self, rule: &IeRule) -> bool {
        rule.ie_type.is_some_and(|t| self.data_type_enc_policy.contains(&t))
    }
}

/// `/a/{x}/c` matches `/a/anything/c` (one non-empty segment per variable).
fn template_matches(template: &str, path: &str) -> bool {
    // Segment by segment, without collecting them (the policy is looked up per message).
    let (mut ts, mut ps) = (template.split('/'), path.split('/'));
    loop {
        match (ts.next(), ps.next()) {
            (None, None) => return true,
            (Some(t), Some(p)) => {
                let ok = if t.starts_with('{') && t.ends_with('}') {
                    !p.is_empty()
                } else {
                    t == p
                };
                if !ok {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// Request or response.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Direction {
    /// Uses `reqIe`.
    Request,
    /// Uses `rspIe`.
    Response,
}

// ---------------------------------------------------------------------------------------------
// Plain HTTP model
// ---------------------------------------------------------------------------------------------

/// The HTTP/2 request a SEPP protects.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct HttpMessage {
    /// `:method`.
    pub method: String,
    /// `:scheme`.
    pub scheme: String,
    /// `:authority`.
    pub authority: String,
    /// `:path` without query.
    pub path: String,
    /// Decoded query parameters, in order.
    pub query: Vec<(String, String)>,
    /// Headers, in order.
    pub headers: Vec<(String, String)>,
    /// JSON body; `Null` = no body.
    pub body: Value,
}

/// The HTTP/2 response a SEPP protects.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct HttpResponse {
    /// `:status`.
    pub status: u16,
    /// Headers, in order.
    pub headers: Vec<(String, String)>,
    /// JSON body; `Null` = no body.
    pub body: Value,
}

// ---------------------------------------------------------------------------------------------
// Sending SEPP
// ---------------------------------------------------------------------------------------------

/// What the sending SEPP knows about the N32-f context.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct SendContext {
    /// The RECEIVER's N32-f context ID (DIGEST 1 rule 3).
    pub n32f_context_id: String,
    /// 64-bit message ID (requests: fresh; responses: the request's).
    pub message_id: u64,
    /// First-hop RI allowed to modify.
    pub authorized_ipx_id: Option<String>,
    /// Negotiated JWE `enc`.
    pub enc: Enc,
}

/// Why a message could not be protected. Caused by the local message, policy or key; never by
/// a peer. Not fatal to the run.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
pub enum ProtectError {
    /// No ApiIeMapping for this method and path.
    #[error("prins: no protection policy for {method} {path}")]
    NoPolicy {
        /// Method.
        method: String,
        /// Path.
        path: String,
    },
    /// A BODY rule's name is not an RFC 6901 pointer.
    #[error("prins: policy pointer `{0}` is invalid")]
    BadPolicyPointer(String),
    /// A clear body value looks like `{"encBlockIndex": n}`.
    #[error("prins: clear value at `{0}` looks like an encBlockIndex")]
    AmbiguousValue(String),
    /// Header name not an RFC 9110 token, or value with CR, LF or NUL.
    #[error("prins: invalid header `{0}`")]
    InvalidHeader(String),
    /// Key length or similar.
    #[error("prins: {0}")]
    Jose(#[from] JoseError),
}

/// Protects a request (TS 29.573 6.2.2; TS 33.501 13.2.4.3).
pub fn protect(
    ctx: &SendContext,
    msg: &HttpMessage,
    policy: &PolicyView,
    key: &[u8],
    nonce: [u8; 12],
) -> Result<N32fReformattedReqMsg, ProtectError> {
    protect_memo(ctx, msg, policy, key, nonce).map(|(m, _)| m)
}

/// [`protect`], with the sender's [`SealMemo`] of the message for its receiver.
pub fn protect_memo(
    ctx: &SendContext,
    msg: &HttpMessage,
    policy: &PolicyView,
    key: &[u8],
    nonce: [u8; 12],
) -> Result<(N32fReformattedReqMsg, SealMemo), ProtectError> {
    let api = policy
        .api(&msg.method, &msg.path)
        .ok_or_else(|| ProtectError::NoPolicy {
            method: msg.method.clone(),
            path: msg.path.clone(),
        })?;
    let mut b = Builder::new(policy, &api.ie_list, Direction::Request);
    let headers = b.headers(&msg.headers)?;
    let clear_query = b.query(&msg.query);
    b.body(&msg.body)?;
    let block = DataToIntegrityProtectBlock {
        meta_data: Some(meta(ctx)),
        //= TS 29.573 6.2.5.2.8: method, scheme, authority, path, protocolVersion, queryFragment
        request_line: Some(RequestLine {
            method: msg.method.clone(),
            scheme: msg.scheme.clone(),
            authority: msg.authority.clone(),
            path: msg.path.clone(),
            protocol_version: PROTOCOL_VERSION.to_owned(),
            query_fragment: (!clear_query.is_empty()).then(|| encode_query(&clear_query)),
        }),
        status_line: None,
        headers,
        payload: (!b.payload.is_empty()).then_some(b.payload),
    };
    let memo = seal_memo(block, b.data, ctx.enc, key, nonce)?;
    let msg = N32fReformattedReqMsg {
        reformatted_data: memo.jwe.clone(),
        modifications_block: None,
    };
    Ok((msg, memo))
}

/// Protects a response to a request for `api_method` on `api_path` (TS 29.573 6.2.2; the
/// `rspIe` names apply). `ctx.message_id` is the request's.
pub fn protect_response(
    ctx: &SendContext,
    rsp: &HttpResponse,
    api: (&str, &str),
    policy: &PolicyView,
    key: &[u8],
    nonce: [u8; 12],
) -> Result<N32fReformattedRspMsg, ProtectError> {
    protect_response_memo(ctx, rsp, api, policy, key, nonce).map(|(m, _)| m)
}

/// [`protect_response`], with the sender's [`SealMemo`] of the message for its receiver.
pub fn protect_response_memo(
    ctx: &SendContext,
    rsp: &HttpResponse,
    (api_method, api_path): (&str, &str),
    policy: &PolicyView,
    key: &[u8],
    nonce: [u8; 12],
) -> Result<(N32fReformattedRspMsg, SealMemo), ProtectError> {
    let api = policy.api(api_method, api_path).ok_or_else(|| ProtectError::NoPolicy {
        method: api_method.to_owned(),
        path: api_path.to_owned(),
    })?;
    let mut b = Builder::new(policy, &api.ie_list, Direction::Response);
    let headers = b.headers(&rsp.headers)?;
    b.body(&rsp.body)?;
    let block = DataToIntegrityProtectBlock {
        meta_data: Some(meta(ctx)),
        request_line: None,
        status_line: Some(rsp.status.to_string()),
        headers,
        payload: (!b.payload.is_empty()).then_some(b.payload),
    };
    let memo = seal_memo(block, b.data, ctx.enc, key, nonce)?;
    let msg = N32fReformattedRspMsg {
        reformatted_data: memo.jwe.clone(),
        modifications_block: None,
    };
    Ok((msg, memo))
}

fn meta(ctx: &SendContext) -> MetaData {
    //= TS 29.573 6.2.5.2.12: n32fContextId, messageId, authorizedIpxId
    MetaData {
        n32f_context_id: ctx.n32f_context_id.clone(),
        message_id: ctx.message_id.to_string(),
        authorized_ipx_id: ctx.authorized_ipx_id.clone(),
    }
}

/// Seals a cleartext block and the encrypted values into the JWE (TS 33.501 13.2.4.3.1):
/// `alg` `dir`, aad = the block's JSON, plaintext = DataToIntegrityProtectAndCipherBlock (empty
/// when nothing is encrypted).
pub fn seal(
    block: &DataToIntegrityProtectBlock,
    data: &[Value],
    enc: Enc,
    key: &[u8],
    nonce: [u8; 12],
) -> Result<FlatJwe, ProtectError> {
    // Plain derived structs of strings and JSON values always serialize.
    let mut aad = Vec::with_capacity(1024);
    write_block(&mut aad, block);
    let plaintext = if data.is_empty() {
        Vec::new()
    } else {
        cipher_block_json(data)
    };
    //= TS 33.501 13.2.4.3.1: JWE with the N32-f session key as CEK (alg dir), aad = integrity-only part
    Ok(jose::encrypt(
        key,
        &nonce,
        &JweHeader::dir(enc),
        Some(&aad),
        &plaintext,
    )?)
}

/// The JSON of a DataToIntegrityProtectAndCipherBlock of `data` (`{"dataToEncrypt":[..]}`,
/// as its derived `Serialize` writes it), without copying `data`.
fn cipher_block_json(data: &[Value]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(b"{\"dataToEncrypt\":");
    out.push(b'[');
    for (i, v) in data.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_value(&mut out, v);
    }
    out.extend_from_slice(b"]}");
    out
}

/// What the sender of a sealed message knows of it, for its receiver: simulation metadata
/// that travels with the message (as its typed value, never on the wire).
///
/// The receiver ([`unprotect_counted`], [`unprotect_response_counted`]) uses it only for a JWE
/// equal to [`SealMemo::jwe`] under the same key, and then skips the work whose result the
/// memo holds: decoding the `aad` into the block, AES-GCM decryption and parsing the plaintext.
/// Base64url, JSON and AES-GCM give back exactly what the sender encoded and encrypted, so the
/// memo never changes an outcome (any other JWE, a tampered one included, takes the full path);
/// the CPU cost is charged by the caller either way.
#[derive(Debug)]
pub struct SealMemo {
    /// The JWE as sealed.
    pub jwe: FlatJwe,
    key: Vec<u8>,
    enc: Enc,
    block: DataToIntegrityProtectBlock,
    data: Vec<Value>,
}

/// [`seal`], keeping what the receiver would decode and decrypt.
fn seal_memo(
    block: DataToIntegrityProtectBlock,
    data: Vec<Value>,
    enc: Enc,
    key: &[u8],
    nonce: [u8; 12],
) -> Result<SealMemo, ProtectError> {
    let jwe = seal(&block, &data, enc, key, nonce)?;
    Ok(SealMemo {
        jwe,
        key: key.to_vec(),
        enc,
        block,
        data,
    })
}

/// Sorts an HTTP message into the cleartext block and `dataToEncrypt`.
struct Builder<'a> {
    policy: &'a PolicyView,
    rules: &'a [IeRule],
    dir: Direction,
    data: Vec<Value>,
    payload: Vec<HttpPayload>,
}

impl<'a> Builder<'a> {
    fn new(policy: &'a PolicyView, rules: &'a [IeRule], dir: Direction) -> Self {
        Builder {
            policy,
            rules,
            dir,
            data: Vec::new(),
            payload: Vec::new(),
        }
    }

    fn rule(&self, loc: IeLocation, name: &str) -> Option<&'a IeRule> {
        let dir = self.dir;
        self.rules.iter().find(|r| {
            r.ie_loc == Some(loc)
                && r.name(dir).is_some_and(|n| match loc {
                    IeLocation::Header => n.eq_ignore_ascii_case(name),
                    _ => n == name,
                })
        })
    }

    /// Moves a value into `dataToEncrypt` and returns its index.
    fn encrypt(&mut self, value: Value) -> IndexToEncryptedValue {
        self.data.push(value);
        //= TS 29.573 6.2.5.2.14: encBlockIndex locates the value in dataToEncrypt (1-based here)
        IndexToEncryptedValue {
            enc_block_index: ENC_BLOCK_INDEX_BASE + (self.data.len() as u64 - 1),
        }
    }

    fn headers(&mut self, headers: &[(String, String)]) -> Result<Option<Vec<HttpHeader>>, ProtectError> {
        let mut out = Vec::with_capacity(headers.len());
        for (name, value) in headers {
            if !valid_header(name, value) {
                return Err(ProtectError::InvalidHeader(name.clone()));
            }
            let encrypted = self
                .rule(IeLocation::Header, name)
                .is_some_and(|r| self.policy.encrypts(r));
            //= TS 29.573 6.2.5.2.9: the value or an index to the encrypted value
            let value = if encrypted {
                EncodedHttpHeaderValue::Index(self.encrypt(Value::String(value.clone())))
            } else {
                EncodedHttpHeaderValue::Clear(value.clone())
            };
            out.push(HttpHeader {
                header: name.clone(),
                value,
            });
        }
        Ok((!out.is_empty()).then_some(out))
    }

    /// Named parameters go to `payload`; returns the unnamed ones for `queryFragment`.
    fn query(&mut self, query: &[(String, String)]) -> Vec<(String, String)> {
        let mut clear = Vec::new();
        for (name, value) in query {
            let Some(rule) = self.rule(IeLocation::UriParam, name) else {
                clear.push((name.clone(), value.clone()));
                continue;
            };
            let value = if self.policy.encrypts(rule) {
                serde_json::to_value(self.encrypt(Value::String(value.clone()))).expect("index serializes")
            } else {
                Value::String(value.clone())
            };
            self.payload.push(HttpPayload {
                ie_path: patch::format_pointer(&[name]),
                ie_value_location: IeLocation::UriParam,
                value,
            });
        }
        clear
    }

    fn body(&mut self, body: &Value) -> Result<(), ProtectError> {
        if body.is_null() {
            return Ok(());
        }
        let mut pointers = Vec::new();
        for rule in self.rules {
            if rule.ie_loc != Some(IeLocation::Body) || !self.policy.encrypts(rule) {
                continue;
            }
            let Some(name) = rule.name(self.dir) else { continue };
            let tokens = patch::parse_pointer(name).map_err(|_| ProtectError::BadPolicyPointer(name.to_owned()))?;
            if patch::get(body, name).is_ok() {
                pointers.push(tokens);
            }
        }
        // Outer IEs first, so an encrypted IE never holds an index of an inner one.
        pointers.sort_by_key(Vec::len);
        check_ambiguity(body, &mut Vec::new(), &pointers)?;
        let mut clear = body.clone();
        let mut done: Vec<&Vec<String>> = Vec::new();
        for tokens in &pointers {
            // Taken already, whole or inside an outer IE (duplicate or nested rules).
            if done.iter().any(|d| tokens.starts_with(d)) {
                continue;
            }
            done.push(tokens);
            let pointer = patch::format_pointer(tokens);
            // Absent when an outer encrypted IE already took it.
            let Ok(slot) = patch::get_mut(&mut clear, &pointer) else {
                continue;
            };
            // Moved out, not copied: the slot gets the index below.
            let value = std::mem::take(slot);
            let index = serde_json::to_value(self.encrypt(value)).expect("index serializes");
            // The pointer resolved just above, so replace cannot fail.
            patch::replace_one(&mut clear, &pointer, index).expect("pointer resolved");
        }
        //= TS 29.573 6.2.5.2.10: iePath (JSON pointer), ieValueLocation, value
        self.payload.push(HttpPayload {
            ie_path: String::new(),
            ie_value_location: IeLocation::Body,
            value: clear,
        });
        Ok(())
    }
}

/// Refuses clear values shaped like an index (outside every encrypted IE).
fn check_ambiguity(v: &Value, at: &mut Vec<String>, encrypted: &[Vec<String>]) -> Result<(), ProtectError> {
    if encrypted.iter().any(|p| at.starts_with(p)) {
        return Ok(());
    }
    if as_index(v).is_some() {
        return Err(ProtectError::AmbiguousValue(patch::format_pointer(at)));
    }
    match v {
        // A scalar is never an index and holds none: only objects and arrays are visited.
        Value::Object(map) => {
            for (k, child) in map.iter().filter(|(_, c)| c.is_object() || c.is_array()) {
                at.push(k.clone());
                check_ambiguity(child, at, encrypted)?;
                at.pop();
            }
        }
        Value::Array(items) => {
            let nested = items.iter().enumerate().filter(|(_, c)| c.is_object() || c.is_array());
            for (i, child) in nested {
                at.push(i.to_string());
                check_ambiguity(child, at, encrypted)?;
                at.pop();
            }
        }
        _ => {}
    }
    Ok(())
}

/// `Some(n)` for an object that is exactly `{"encBlockIndex": <u64>}`.
fn as_index(v: &Value) -> Option<u64> {
    match v {
        Value::Object(map) if map.len() == 1 => map.get("encBlockIndex").and_then(Value::as_u64),
        _ => None,
    }
}

/// Whether any part of `v` is an index object.
fn contains_index(v: &Value) -> bool {
    as_index(v).is_some()
        || match v {
            Value::Object(map) => map.values().any(contains_index),
            Value::Array(items) => items.iter().any(contains_index),
            _ => false,
        }
}

/// RFC 9110 5.1 token name; value without CR, LF, NUL (RFC 9110 5.5).
fn valid_header(name: &str, value: &str) -> bool {
    const TCHAR: &[u8] = b"!#$%&'*+-.^_`|~";
    !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || TCHAR.contains(&b))
        && !value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0))
}

/// `k=v&k2=v2`, percent-encoding everything but RFC 3986 unreserved characters.
fn encode_query(params: &[(String, String)]) -> String {
    fn enc(s: &str, out: &mut String) {
        for b in s.bytes() {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                out.push(b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    let mut out = String::new();
    for (i, (k, v)) in params.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        enc(k, &mut out);
        out.push('=');
        enc(v, &mut out);
    }
    out
}

/// Inverse of [`encode_query`]; `None` on a bad `%` escape or non-UTF-8.
fn decode_query(query: &str) -> Option<Vec<(String, String)>> {
    fn dec(s: &str) -> Option<String> {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).ok()
    }
    if query.is_empty() {
        return Some(Vec::new());
    }
    query
        .split('&')
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Some((dec(k)?, dec(v)?))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Roaming Intermediary
// ---------------------------------------------------------------------------------------------

/// An RI's signing identity.
#[derive(Clone, Debug)]
pub struct RiIdentity {
    /// FQDN: `Modifications.identity` and the JWS `kid`.
    pub fqdn: String,
    /// ES256 key (from a seeded RNG, `crypto::pki::key_from_rng`).
    pub key: SigningKey,
}

/// Why an RI could not add its modifications. Local to the RI; not fatal to the run.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
pub enum RiError {
    /// Already [`MAX_RI_HOPS`] JWS.
    #[error("prins ri: message already carries {0} modifications")]
    TooManyHops(usize),
    /// The aad is not a readable DataToIntegrityProtectBlock.
    #[error("prins ri: unreadable aad")]
    BadAad,
    /// The JWE has no `tag` to bind to.
    #[error("prins ri: jwe without tag")]
    MissingTag,
    /// An earlier RI's modifications do not apply.
    #[error("prins ri: earlier modifications {0} unreadable or inapplicable")]
    BadEarlierModification(usize),
    /// The RI's own patch does not apply to the view.
    #[error("prins ri: operation {0} fails: {1}")]
    PatchFailed(usize, PatchError),
}

/// The cleartext view an RI patches: the aad JSON after all earlier (unverified) patches.
pub fn ri_view<M: Reformatted>(msg: &M) -> Result<Value, RiError> {
    let mut view = decode_aad(msg.jwe()).ok_or(RiError::BadAad)?.0;
    // One budget for all the (unverified) earlier patches: see `patch::MAX_VALUES`.
    let mut budget = patch::Budget::default();
    for (i, jws) in msg.modifications().iter().enumerate() {
        let mods = jose::b64_decode(&jws.payload, "payload")
            .ok()
            .and_then(|p| serde_json::from_slice::<Modifications>(&p).ok())
            .ok_or(RiError::BadEarlierModification(i))?;
        patch::apply_within(&mut view, mods.operations.as_deref().unwrap_or(&[]), &mut budget)
            .map_err(|_| RiError::BadEarlierModification(i))?;
    }
    Ok(view)
}

/// An RI patches the message and appends its JWS (TS 33.501 13.2.4.5; TS 29.573 6.2.5.2.13):
/// `Modifications{identity, operations, tag}` signed ES256 with `kid` = FQDN. Appended even
/// when `ops` is empty (operations then absent). The patch must apply to [`ri_view`]; whether
/// the policy allows it is the receiver's check.
pub fn ri_modify<M: Reformatted>(msg: &M, ri: &RiIdentity, ops: Vec<PatchItem>) -> Result<M, RiError> {
    let hops = msg.modifications().len();
    //= TS 33.501 13.2.4.5: at most two intermediaries modify (cRI, pRI)
    if hops >= MAX_RI_HOPS {
        return Err(RiError::TooManyHops(hops));
    }
    let tag = msg.jwe().tag.clone().ok_or(RiError::MissingTag)?;
    let mut view = ri_view(msg)?;
    patch::apply(&mut view, &ops).map_err(|(i, e)| RiError::PatchFailed(i, e))?;
    let mods = Modifications {
        identity: ri.fqdn.clone(),
        //= TS 29.573 6.2.5.2.13: a JWS is needed even without modifications
        operations: (!ops.is_empty()).then_some(ops),
        tag: Some(tag),
    };
    let mut out = msg.clone();
    out.modifications_mut()
        .get_or_insert_with(Vec::new)
        .push(sign_modifications(ri, &mods));
    Ok(out)
}

/// Signs a Modifications object (flattened JWS, ES256, `kid` = FQDN); no checks (faults use it).
pub fn sign_modifications(ri: &RiIdentity, mods: &Modifications) -> FlatJws {
    let payload = serde_json::to_vec(mods).expect("modifications serialize");
    jose::sign(&ri.key, &JwsHeader::es256_with_kid(ri.fqdn.clone()), &payload)
}

/// Decodes the aad into JSON and the typed block.
fn decode_aad(jwe: &FlatJwe) -> Option<(Value, DataToIntegrityProtectBlock)> {
    let bytes = jose::b64_decode(jwe.aad.as_deref()?, "aad").ok()?;
    let view: Value = serde_json::from_slice(&bytes).ok()?;
    // Read from the view in place (a clone of the whole view per message otherwise).
    let block = DataToIntegrityProtectBlock::deserialize(&view).ok()?;
    Some((view, block))
}

// ---------------------------------------------------------------------------------------------
// Receiving SEPP
// ---------------------------------------------------------------------------------------------

/// TS 29.573 6.1.5.3.7 N32fErrorType.
#[derive(Clone, Copy, Debug, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum N32fErrorType {
    /// JWE integrity (GCM tag) failed.
    IntegrityCheckFailed,
    /// An RI's JWS failed.
    IntegrityCheckOnModificationsFailed,
    /// An RI's patch is not allowed or does not apply.
    ModificationsInstructionsFailed,
    /// The JWE could not be decrypted.
    DecipheringFailed,
    /// The HTTP message could not be rebuilt.
    MessageReconstructionFailed,
    /// Unknown n32fContextId.
    ContextNotFound,
    /// Integrity key expired.
    IntegrityKeyExpired,
    /// Encryption key expired.
    EncryptionKeyExpired,
    /// Policies differ (N32-c).
    PolicyMismatch,
}

/// TS 29.573 6.1.5.3.8 FailureReason.
#[derive(Clone, Copy, Debug, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FailureReason {
    /// Bad `iePath`.
    InvalidJsonPointer,
    /// `encBlockIndex` outside `dataToEncrypt`.
    InvalidIndexToEncryptedBlock,
    /// Bad header (also: request line, status, URI parameter, i.e. pseudo-headers).
    InvalidHttpHeader,
}

/// TS 29.573 FailedModificationInfo.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FailedModificationInfo {
    /// The RI.
    pub ipx_id: String,
    /// What failed.
    pub n32f_error_type: N32fErrorType,
}

/// TS 29.573 N32fErrorDetail.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct N32fErrorDetail {
    /// The attribute (a pointer into the cleartext view).
    pub attribute: String,
    /// Why.
    pub msg_reconstruct_fail_reason: FailureReason,
}

/// A receiving-SEPP failure, shaped like the N32fErrorInfo it reports on N32-c (`n32f-error`).
/// Caused by a peer or an RI; never fatal to the run.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[error("n32f: {n32f_error_type:?}: {detail}")]
pub struct N32fFault {
    /// The error type to report.
    pub n32f_error_type: N32fErrorType,
    /// From metaData, when readable.
    pub n32f_context_id: Option<String>,
    /// From metaData, when readable.
    pub n32f_message_id: Option<String>,
    /// For modification failures.
    pub failed_modification_list: Vec<FailedModificationInfo>,
    /// For reconstruction failures.
    pub error_details_list: Vec<N32fErrorDetail>,
    /// Free text for logs (boxed: keeps the error small).
    pub detail: Box<str>,
}

impl N32fFault {
    fn new(t: N32fErrorType, meta: Option<&MetaData>, detail: impl Into<String>) -> Self {
        N32fFault {
            n32f_error_type: t,
            n32f_context_id: meta.map(|m| m.n32f_context_id.clone()),
            n32f_message_id: meta.map(|m| m.message_id.clone()),
            failed_modification_list: Vec::new(),
            error_details_list: Vec::new(),
            detail: detail.into().into_boxed_str(),
        }
    }
}

/// Key expiry as indicated by the caller.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum KeyExpiry {
    /// → INTEGRITY_KEY_EXPIRED.
    Integrity,
    /// → ENCRYPTION_KEY_EXPIRED.
    Encryption,
}

/// What the context lookup returns for a known n32fContextId.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ContextKeys {
    /// The N32-f session key for this direction.
    pub key: Vec<u8>,
    /// Negotiated `enc`.
    pub enc: Enc,
    /// Set when the key is past its lifetime.
    pub expired: Option<KeyExpiry>,
}

/// Receiver-side configuration beyond the context.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct RecvContext {
    /// The receiver's own-side RI (pRI) that must sign last, if messages pass one.
    pub local_ri: Option<String>,
    /// The receiving SEPP's deliberate bugs (none outside the checker's tests).
    pub mutants: Mutants,
}

/// A verified, rebuilt message.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Unprotected<T> {
    /// The HTTP message.
    pub message: T,
    /// Its metadata (the message ID to echo, the context).
    pub meta: MetaData,
    /// RIs whose JWS were verified, in path order.
    pub ipx_chain: Vec<String>,
}

/// What the receiver's cryptographic checks of one message did, counted where the JOSE
/// primitives are called (for the invariant checker's audit trail, [`crate::check::n32`]).
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct Verification {
    /// The JWE decryption (GCM tag over the aad) succeeded.
    pub decrypted: bool,
    /// RI JWS signatures that verified.
    pub jws_verified: u32,
}

/// Verifies and rebuilds a request (TS 29.573 6.2.3; TS 33.501 13.2.4.3.2, 13.2.4.5).
///
/// `lookup` maps the metaData n32fContextId to its keys; `ri_keys` holds the RI keys learned
/// on N32-c (cRI) or configured (pRI), by FQDN.
pub fn unprotect<F>(
    rx: &RecvContext,
    msg: &N32fReformattedReqMsg,
    lookup: F,
    ri_keys: &BTreeMap<String, VerifyingKey>,
    policy: &PolicyView,
) -> Result<Unprotected<HttpMessage>, N32fFault>
where
    F: Fn(&str) -> Option<ContextKeys>,
{
    unprotect_counted(rx, (msg, None), lookup, ri_keys, policy, &mut Verification::default())
}

/// [`unprotect`], counting its checks in `done`; `memo` is the sender's [`SealMemo`] of the
/// message, if it came with one.
pub fn unprotect_counted<F>(
    rx: &RecvContext,
    (msg, memo): (&N32fReformattedReqMsg, Option<&SealMemo>),
    lookup: F,
    ri_keys: &BTreeMap<String, VerifyingKey>,
    policy: &PolicyView,
    done: &mut Verification,
) -> Result<Unprotected<HttpMessage>, N32fFault>
where
    F: Fn(&str) -> Option<ContextKeys>,
{
    let opened = open(rx, (msg, memo), lookup, ri_keys, policy, Direction::Request, None, done)?;
    let message = rebuild_request(&opened.block, &opened.data).map_err(|e| e.fault(&opened.meta))?;
    Ok(Unprotected {
        message,
        meta: opened.meta,
        ipx_chain: opened.ipx_chain,
    })
}

/// Verifies and rebuilds a response to `api` = (method, path) of the request it answers.
pub fn unprotect_response<F>(
    rx: &RecvContext,
    msg: &N32fReformattedRspMsg,
    api: (&str, &str),
    lookup: F,
    ri_keys: &BTreeMap<String, VerifyingKey>,
    policy: &PolicyView,
) -> Result<Unprotected<HttpResponse>, N32fFault>
where
    F: Fn(&str) -> Option<ContextKeys>,
{
    unprotect_response_counted(
        rx,
        (msg, None),
        api,
        lookup,
        ri_keys,
        policy,
        &mut Verification::default(),
    )
}

/// [`unprotect_response`], counting its checks in `done`; `memo` as in [`unprotect_counted`].
pub fn unprotect_response_counted<F>(
    rx: &RecvContext,
    (msg, memo): (&N32fReformattedRspMsg, Option<&SealMemo>),
    api: (&str, &str),
    lookup: F,
    ri_keys: &BTreeMap<String, VerifyingKey>,
    policy: &PolicyView,
    done: &mut Verification,
) -> Result<Unprotected<HttpResponse>, N32fFault>
where
    F: Fn(&str) -> Option<ContextKeys>,
{
    let opened = open(
        rx,
        (msg, memo),
        lookup,
        ri_keys,
        policy,
        Direction::Response,
        Some(api),
        done,
    )?;
    let message = rebuild_response(&opened.block, &opened.data).map_err(|e| e.fault(&opened.meta))?;
    Ok(Unprotected {
        message,
        meta: opened.meta,
        ipx_chain: opened.ipx_chain,
    })
}

struct Opened<'a> {
    block: Cow<'a, DataToIntegrityProtectBlock>,
    data: Cow<'a, [Value]>,
    meta: MetaData,
    ipx_chain: Vec<String>,
}

#[allow(clippy::too_many_arguments)]
fn open<'a, M: Reformatted, F: Fn(&str) -> Option<ContextKeys>>(
    rx: &RecvContext,
    (msg, memo): (&M, Option<&'a SealMemo>),
    lookup: F,
    ri_keys: &BTreeMap<String, VerifyingKey>,
    policy: &PolicyView,
    dir: Direction,
    api: Option<(&str, &str)>,
    done: &mut Verification,
) -> Result<Opened<'a>, N32fFault> {
    use crate::audit::mutant::Mutant;
    use crate::audit::n32::N32Mutant;
    use N32fErrorType as E;
    let jwe = msg.jwe();
    // The sender's memo holds what decoding and decrypting this very JWE give.
    let memo = memo.filter(|s| s.jwe == *jwe);
    // The cleartext view (the aad's JSON) is read only when RIs modified the message.
    let (block, mut view): (Cow<'a, DataToIntegrityProtectBlock>, Option<Value>) = match memo {
        Some(s) => (Cow::Borrowed(&s.block), None),
        None => {
            let Some((view, block)) = decode_aad(jwe) else {
                return Err(N32fFault::new(E::IntegrityCheckFailed, None, "aad unreadable"));
            };
            (Cow::Owned(block), Some(view))
        }
    };
    let Some(meta) = block.meta_data.clone() else {
        return Err(N32fFault::new(E::IntegrityCheckFailed, None, "aad without metaData"));
    };
    let m = Some(&meta);
    //= TS 33.501 13.2.4.3.2: the receiving SEPP finds the context from n32fContextId
    let keys =
        lookup(&meta.n32f_context_id).ok_or_else(|| N32fFault::new(E::ContextNotFound, m, "unknown n32fContextId"))?;
    match keys.expired {
        Some(KeyExpiry::Integrity) => return Err(N32fFault::new(E::IntegrityKeyExpired, m, "key expired")),
        Some(KeyExpiry::Encryption) => return Err(N32fFault::new(E::EncryptionKeyExpired, m, "key expired")),
        None => {}
    }
    //= TS 33.501 13.2.4.3.2: decrypt and check the integrity of the JWE
    let data: Cow<'a, [Value]> = match memo.filter(|s| s.key == keys.key) {
        // The JWE the sender sealed under this key: it decrypts to the memo's plaintext.
        Some(s) => {
            done.decrypted = true;
            if s.enc != keys.enc {
                return Err(N32fFault::new(E::DecipheringFailed, m, "enc differs from the context"));
            }
            Cow::Borrowed(&s.data)
        }
        None => {
            let opened = jose::decrypt(&keys.key, jwe).map_err(|e| match e {
                // Mutant: a tag mismatch taken for a decryption failure.
                JoseError::TagMismatch if rx.mutants.on(Mutant::N32(N32Mutant::WrongFaultType)) => {
                    N32fFault::new(E::DecipheringFailed, m, "jwe tag mismatch")
                }
                JoseError::TagMismatch => N32fFault::new(E::IntegrityCheckFailed, m, "jwe tag mismatch"),
                other => N32fFault::new(E::DecipheringFailed, m, other.to_string()),
            })?;
            done.decrypted = true;
            if opened.enc != keys.enc {
                return Err(N32fFault::new(E::DecipheringFailed, m, "enc differs from the context"));
            }
            if opened.plaintext.is_empty() {
                Cow::Owned(Vec::new())
            } else {
                let block = serde_json::from_slice::<DataToIntegrityProtectAndCipherBlock>(&opened.plaintext)
                    .map_err(|_| N32fFault::new(E::DecipheringFailed, m, "plaintext not dataToEncrypt"))?;
                Cow::Owned(block.data_to_encrypt)
            }
        }
    };
    let rules: &[IeRule] = match (dir, api, &block.request_line) {
        (_, Some((method, path)), _) => policy.api(method, path),
        (_, None, Some(rl)) => policy.api(&rl.method, &rl.path),
        (_, None, None) => None,
    }
    .map_or(&[], |a| a.ie_list.as_slice());

    //= TS 33.501 13.2.4.5: signer of the first modification = authorizedIpxId; then the local RI
    let expected: Vec<&str> = meta
        .authorized_ipx_id
        .iter()
        .chain(&rx.local_ri)
        .map(String::as_str)
        .collect();
    let jws_list = msg.modifications();
    let mut ipx_chain = Vec::new();
    let mut patched = None;
    // One budget for every operation of every RI: see `patch::MAX_VALUES`.
    let mut budget = patch::Budget::default();
    for i in 0..expected.len().max(jws_list.len()) {
        let claimed = jws_list.get(i).and_then(claimed_identity);
        let fail = |t: E, ipx: &str, why: String| {
            let mut f = N32fFault::new(t, m, why);
            f.failed_modification_list.push(FailedModificationInfo {
                ipx_id: ipx.to_owned(),
                n32f_error_type: t,
            });
            f
        };
        let (Some(&ipx), Some(jws)) = (expected.get(i), jws_list.get(i)) else {
            let who = expected.get(i).copied().or(claimed.as_deref()).unwrap_or("unknown");
            return Err(fail(
                E::IntegrityCheckOnModificationsFailed,
                who,
                format!("modification {i} missing or unexpected"),
            ));
        };
        let integrity = |why: &str| {
            fail(
                E::IntegrityCheckOnModificationsFailed,
                claimed.as_deref().unwrap_or(ipx),
                why.into(),
            )
        };
        let key = ri_keys
            .get(ipx)
            .ok_or_else(|| integrity("no key for the expected ri"))?;
        //= TS 33.501 13.2.4.5: verify the JWS with the RI's key (N32-c list or configuration)
        let verified = if rx.mutants.on(Mutant::N32(N32Mutant::SkipJwsVerification)) {
            // Mutant: the Modifications are read without checking the signature.
            let payload = jose::b64_decode(&jws.payload, "payload").map_err(|e| integrity(&e.to_string()))?;
            jose::JwsVerified { kid: None, payload }
        } else {
            let v = jose::verify(key, jws).map_err(|e| integrity(&e.to_string()))?;
            done.jws_verified += 1;
            v
        };
        if verified.kid.as_deref().is_some_and(|k| k != ipx) {
            return Err(integrity("kid is not the expected ri"));
        }
        let mods: Modifications = serde_json::from_slice(&verified.payload).map_err(|_| {
            fail(
                E::ModificationsInstructionsFailed,
                ipx,
                "payload not Modifications".into(),
            )
        })?;
        if mods.identity != ipx {
            return Err(integrity("identity is not the expected ri"));
        }
        //= TS 29.573 6.2.5.2.13: tag = the JWE tag, binding the modifications to this message
        if mods.tag.is_none() || mods.tag != jwe.tag {
            return Err(integrity("tag is not this message's"));
        }
        let instr = |why: String| fail(E::ModificationsInstructionsFailed, ipx, why);
        // A memo's aad is the sender's own encoding of its block, so it decodes.
        let mut work = view
            .get_or_insert_with(|| decode_aad(jwe).expect("sealed aad decodes").0)
            .clone();
        for (k, op) in mods.operations.iter().flatten().enumerate() {
            //= TS 33.501 13.2.4.5: check the modifications against the modification policy
            check_op(&work, op, rules, dir, ipx).map_err(|why| instr(format!("operation {k}: {why}")))?;
            patch::apply_within(&mut work, std::slice::from_ref(op), &mut budget)
                .map_err(|(_, e)| instr(format!("operation {k}: {e}")))?;
        }
        match serde_json::from_value::<DataToIntegrityProtectBlock>(work.clone()) {
            // The block of the patched view (what decoding the final view gives).
            Ok(b) if b.meta_data.as_ref() == Some(&meta) => patched = Some(b),
            _ => return Err(instr("patched view is not a DataToIntegrityProtectBlock".into())),
        }
        view = Some(work);
        ipx_chain.push(ipx.to_owned());
    }
    // The last patched view's block, else the aad's (no modification at all).
    let block = patched.map_or(block, Cow::Owned);
    Ok(Opened {
        block,
        data,
        meta,
        ipx_chain,
    })
}

/// `Modifications.identity` read without verification (for error reports), else the `kid`.
fn claimed_identity(jws: &FlatJws) -> Option<String> {
    jose::b64_decode(&jws.payload, "payload")
        .ok()
        .and_then(|p| serde_json::from_slice::<Modifications>(&p).ok())
        .map(|m| m.identity)
}

/// Kind of write at a location.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum Write {
    Insert,
    Overwrite,
    Delete,
}

/// The modification policy check of one operation on the current view (module doc).
fn check_op(view: &Value, op: &PatchItem, rules: &[IeRule], dir: Direction, ipx: &str) -> Result<(), String> {
    let source = |op: &PatchItem| -> Result<Value, String> {
        let from = op.from.as_deref().ok_or("no from")?;
        let v = patch::get(view, from).map_err(|e| e.to_string())?;
        if contains_index(v) {
            return Err("reads an encrypted index".into());
        }
        Ok(v.clone())
    };
    match op.op {
        PatchOperation::Test => Ok(()),
        PatchOperation::Add => check_write(
            view,
            &op.path,
            add_kind(view, &op.path),
            op.value.as_ref(),
            rules,
            dir,
            ipx,
        ),
        PatchOperation::Replace => check_write(view, &op.path, Write::Overwrite, op.value.as_ref(), rules, dir, ipx),
        PatchOperation::Remove => check_write(view, &op.path, Write::Delete, None, rules, dir, ipx),
        PatchOperation::Copy => {
            let v = source(op)?;
            check_write(view, &op.path, add_kind(view, &op.path), Some(&v), rules, dir, ipx)
        }
        PatchOperation::Move => {
            let v = source(op)?;
            let from = op.from.as_deref().unwrap_or_default();
            check_write(view, from, Write::Delete, None, rules, dir, ipx)?;
            check_write(view, &op.path, add_kind(view, &op.path), Some(&v), rules, dir, ipx)
        }
    }
}

/// `add` inserts into arrays and overwrites (or creates) object members.
fn add_kind(view: &Value, pointer: &str) -> Write {
    let tokens = patch::parse_pointer(pointer).unwrap_or_default();
    let parent = patch::format_pointer(&tokens[..tokens.len().saturating_sub(1)]);
    match patch::get(view, &parent) {
        Ok(Value::Array(_)) if !tokens.is_empty() => Write::Insert,
        _ => Write::Overwrite,
    }
}

fn check_write(
    view: &Value,
    pointer: &str,
    kind: Write,
    new: Option<&Value>,
    rules: &[IeRule],
    dir: Direction,
    ipx: &str,
) -> Result<(), String> {
    let tokens = patch::parse_pointer(pointer).map_err(|e| e.to_string())?;
    if kind != Write::Insert
        && let Ok(old) = patch::get(view, pointer)
        && contains_index(old)
    {
        return Err(format!("`{pointer}` holds an encrypted index"));
    }
    if new.is_some_and(contains_index) {
        return Err("value introduces an encrypted index".into());
    }
    let not_ie = || format!("`{pointer}` is not a modifiable location");
    let entry = |list: &str, k: &str| patch::get(view, &patch::format_pointer(&[list, k])).ok();
    let t: Vec<&str> = tokens.iter().map(String::as_str).collect();
    let (loc, name): (IeLocation, Vec<String>) = match t.as_slice() {
        ["headers", k] => {
            let new_name = new.and_then(|v| v.get("header")).and_then(Value::as_str);
            let old_name = entry("headers", k)
                .and_then(|h| h.get("header"))
                .and_then(Value::as_str);
            let name = match kind {
                Write::Insert => new_name,
                Write::Delete => old_name,
                Write::Overwrite => old_name.filter(|o| new_name.is_some_and(|n| n.eq_ignore_ascii_case(o))),
            };
            (IeLocation::Header, vec![name.ok_or_else(not_ie)?.to_owned()])
        }
        ["headers", k, "value"] if kind == Write::Overwrite => {
            let name = entry("headers", k)
                .and_then(|h| h.get("header"))
                .and_then(Value::as_str);
            (IeLocation::Header, vec![name.ok_or_else(not_ie)?.to_owned()])
        }
        ["payload", k, "value", rest @ ..] => {
            let e = entry("payload", k).ok_or_else(not_ie)?;
            let e = HttpPayload::deserialize(e).map_err(|_| not_ie())?;
            let mut path = patch::parse_pointer(&e.ie_path).map_err(|_| not_ie())?;
            match e.ie_value_location {
                IeLocation::Body => {
                    path.extend(rest.iter().map(|s| s.to_string()));
                    (IeLocation::Body, path)
                }
                IeLocation::UriParam if rest.is_empty() && path.len() == 1 && kind == Write::Overwrite => {
                    (IeLocation::UriParam, path)
                }
                _ => return Err(not_ie()),
            }
        }
        _ => return Err(not_ie()),
    };
    let allowed = rules.iter().any(|r| {
        r.ie_loc == Some(loc)
            && r.may_modify(ipx)
            && r.name(dir).is_some_and(|n| match loc {
                IeLocation::Header => n.eq_ignore_ascii_case(&name[0]),
                IeLocation::UriParam => n == name[0],
                _ => patch::parse_pointer(n).is_ok_and(|rule| name.starts_with(&rule)),
            })
    });
    if allowed {
        Ok(())
    } else {
        Err(format!(
            "{loc:?} `{}` not modifiable by {ipx}",
            patch::format_pointer(&name)
        ))
    }
}

/// A rebuild failure: the attribute and the reason.
struct Rebuild(String, FailureReason);

impl Rebuild {
    fn fault(self, meta: &MetaData) -> N32fFault {
        let mut f = N32fFault::new(
            N32fErrorType::MessageReconstructionFailed,
            Some(meta),
            format!("{:?} at {}", self.1, self.0),
        );
        f.error_details_list.push(N32fErrorDetail {
            attribute: self.0,
            msg_reconstruct_fail_reason: self.1,
        });
        f
    }
}

/// Replaces every index object in `v` by its decrypted value.
fn fill(v: &Value, data: &[Value], attr: &str) -> Result<Value, Rebuild> {
    if let Some(i) = as_index(v) {
        return lookup_index(i, data, attr).cloned();
    }
    Ok(match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, c)| Ok((k.clone(), fill(c, data, attr)?)))
                .collect::<Result<_, _>>()?,
        ),
        Value::Array(items) => Value::Array(items.iter().map(|c| fill(c, data, attr)).collect::<Result<_, _>>()?),
        other => other.clone(),
    })
}

fn lookup_index<'d>(i: u64, data: &'d [Value], attr: &str) -> Result<&'d Value, Rebuild> {
    //= TS 29.573 6.2.3: an index outside dataToEncrypt is INVALID_INDEX_TO_ENCRYPTED_BLOCK
    i.checked_sub(ENC_BLOCK_INDEX_BASE)
        .and_then(|k| usize::try_from(k).ok())
        .and_then(|k| data.get(k))
        .ok_or_else(|| Rebuild(attr.to_owned(), FailureReason::InvalidIndexToEncryptedBlock))
}

fn rebuild_headers(block: &DataToIntegrityProtectBlock, data: &[Value]) -> Result<Vec<(String, String)>, Rebuild> {
    let mut out = Vec::new();
    for (k, h) in block.headers.iter().flatten().enumerate() {
        let attr = format!("/headers/{k}");
        let value = match &h.value {
            EncodedHttpHeaderValue::Clear(s) => s.clone(),
            EncodedHttpHeaderValue::Index(i) => lookup_index(i.enc_block_index, data, &attr)?
                .as_str()
                .ok_or_else(|| Rebuild(attr.clone(), FailureReason::InvalidHttpHeader))?
                .to_owned(),
        };
        if !valid_header(&h.header, &value) {
            return Err(Rebuild(attr, FailureReason::InvalidHttpHeader));
        }
        out.push((h.header.clone(), value));
    }
    Ok(out)
}

/// URI parameters (appended to `clear`) and the body from `payload`.
fn rebuild_payload(
    block: &DataToIntegrityProtectBlock,
    data: &[Value],
    query: &mut Vec<(String, String)>,
) -> Result<Value, Rebuild> {
    let mut body = Value::Null;
    for (k, p) in block.payload.iter().flatten().enumerate() {
        let attr = format!("/payload/{k}");
        let bad_pointer = || Rebuild(attr.clone(), FailureReason::InvalidJsonPointer);
        let tokens = patch::parse_pointer(&p.ie_path).map_err(|_| bad_pointer())?;
        let value = fill(&p.value, data, &attr)?;
        match p.ie_value_location {
            IeLocation::UriParam => {
                let [name] = tokens.as_slice() else {
                    return Err(bad_pointer());
                };
                let v = value
                    .as_str()
                    .ok_or_else(|| Rebuild(attr.clone(), FailureReason::InvalidHttpHeader))?;
                query.push((name.clone(), v.to_owned()));
            }
            IeLocation::Body => patch::add_one(&mut body, &p.ie_path, value).map_err(|_| bad_pointer())?,
            IeLocation::Header | IeLocation::MultipartBinary => return Err(bad_pointer()),
        }
    }
    Ok(body)
}

fn rebuild_request(block: &DataToIntegrityProtectBlock, data: &[Value]) -> Result<HttpMessage, Rebuild> {
    let bad_line = |a: &str| Rebuild(a.to_owned(), FailureReason::InvalidHttpHeader);
    let rl = block.request_line.as_ref().ok_or_else(|| bad_line("/requestLine"))?;
    let mut query = match &rl.query_fragment {
        Some(q) => decode_query(q).ok_or_else(|| bad_line("/requestLine/queryFragment"))?,
        None => Vec::new(),
    };
    let headers = rebuild_headers(block, data)?;
    let body = rebuild_payload(block, data, &mut query)?;
    Ok(HttpMessage {
        method: rl.method.clone(),
        scheme: rl.scheme.clone(),
        authority: rl.authority.clone(),
        path: rl.path.clone(),
        query,
        headers,
        body,
    })
}

fn rebuild_response(block: &DataToIntegrityProtectBlock, data: &[Value]) -> Result<HttpResponse, Rebuild> {
    let status = block
        .status_line
        .as_deref()
        .filter(|s| s.len() == 3)
        .and_then(|s| s.parse::<u16>().ok())
        .filter(|s| (100..600).contains(s))
        .ok_or_else(|| Rebuild("/statusLine".into(), FailureReason::InvalidHttpHeader))?;
    let headers = rebuild_headers(block, data)?;
    let mut query = Vec::new();
    let body = rebuild_payload(block, data, &mut query)?;
    if !query.is_empty() {
        return Err(Rebuild("/payload".into(), FailureReason::InvalidJsonPointer));
    }
    Ok(HttpResponse { status, headers, body })
}

/// Serialized JSON length of a reformatted message \[B\] (the `n32f-process` body).
pub fn wire_len<M: Serialize>(msg: &M) -> usize {
    serde_json::to_vec(msg).expect("wire types serialize").len()
}

/// The `n32f-process` body of a reformatted message: `serde_json::to_string`, written into
/// a buffer sized for it up front (the JWE members and the JWS make up nearly all of it).
///
/// Without RI signatures and JWE headers in clear (every message below full crypto fidelity)
/// the JSON is written here member by member, in the order and with the escaping the derived
/// `Serialize` uses, and the base64url members, which need no escaping, are copied as they
/// are (serde_json would test every byte for an escape); `wire_json_matches_serde` checks it.
pub fn wire_json<M: Reformatted + Serialize>(msg: &M) -> String {
    let jwe = msg.jwe();
    let len = |s: &Option<String>| s.as_ref().map_or(0, String::len);
    let jws: usize = msg
        .modifications()
        .iter()
        .map(|j| j.payload.len() + j.signature.len() + len(&j.protected) + 64)
        .sum();
    let guess = 160 + len(&jwe.protected) + len(&jwe.aad) + len(&jwe.iv) + jwe.ciphertext.len() + len(&jwe.tag) + jws;
    let mut out = Vec::with_capacity(guess);
    if msg.modifications().is_empty() && jwe.unprotected.is_none() && jwe.header.is_none() {
        write_bare(&mut out, jwe, msg.modifications_present());
    } else {
        serde_json::to_writer(&mut out, msg).expect("wire types serialize");
    }
    // serde_json writes UTF-8 only, and so does `write_bare` (it copies `&str`s).
    String::from_utf8(out).expect("json is utf-8")
}

/// `{"reformattedData":<jwe>}` (with `,"modificationsBlock":[]` if present), for a JWE
/// without `unprotected` and `header`, as the derived `Serialize` writes it.
fn write_bare(out: &mut Vec<u8>, jwe: &FlatJwe, empty_block: bool) {
    out.extend_from_slice(b"{\"reformattedData\":{");
    let mut first = true;
    let mut member = |out: &mut Vec<u8>, name: &str, value: Option<&str>| {
        let Some(v) = value else { return };
        if !first {
            out.push(b',');
        }
        first = false;
        out.push(b'"');
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\":");
        json_str(out, v);
    };
    member(out, "protected", jwe.protected.as_deref());
    member(out, "encrypted_key", jwe.encrypted_key.as_deref());
    member(out, "aad", jwe.aad.as_deref());
    member(out, "iv", jwe.iv.as_deref());
    member(out, "ciphertext", Some(&jwe.ciphertext));
    member(out, "tag", jwe.tag.as_deref());
    out.push(b'}');
    if empty_block {
        out.extend_from_slice(b",\"modificationsBlock\":[]");
    }
    out.push(b'}');
}

/// A JSON string as serde_json writes it: copied as it is when no byte needs an escape
/// (control characters, `"` and `\\`), else escaped by serde_json.
fn json_str(out: &mut Vec<u8>, s: &str) {
    // No early exit: the whole test compiles to a vector loop.
    let plain = s
        .bytes()
        .fold(true, |ok, b| ok & (b >= 0x20) & (b != b'"') & (b != b'\\'));
    if plain {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        serde_json::to_writer(&mut *out, s).expect("strings serialize");
    }
}

/// A JSON value's text (`Value::to_string`), written into a buffer of `capacity` bytes
/// reserved up front (the caller's estimate of its length).
pub fn json_text(v: &Value, capacity: usize) -> String {
    let mut out = Vec::with_capacity(capacity);
    write_value(&mut out, v);
    // Only `&str`s and serde_json's own output are written.
    String::from_utf8(out).expect("json is utf-8")
}

/// `serde_json::to_writer(out, v)` (compact), with strings written by [`json_str`]: the
/// same bytes (`json_writers_match_serde`).
fn write_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => serde_json::to_writer(&mut *out, n).expect("numbers serialize"),
        Value::String(s) => json_str(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                json_str(out, k);
                out.push(b':');
                write_value(out, item);
            }
            out.push(b'}');
        }
    }
}

/// Writes the members of a JSON object in order, each `"name":value`.
struct Members<'o> {
    out: &'o mut Vec<u8>,
    first: bool,
}

impl<'o> Members<'o> {
    fn open(out: &'o mut Vec<u8>) -> Self {
        out.push(b'{');
        Members { out, first: true }
    }

    /// Starts member `name` (a literal that needs no escape); the caller writes its value.
    fn name(&mut self, name: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b"\":");
        &mut *self.out
    }

    fn str(&mut self, name: &str, v: &str) {
        json_str(self.name(name), v);
    }

    fn close(self) {
        self.out.push(b'}');
    }
}

/// `serde_json::to_writer(out, block)` for the derived `Serialize` of
/// [`DataToIntegrityProtectBlock`] (member names, order, skipped `None`s and `null`s as
/// the derive has them), with strings written by [`json_str`] (`json_writers_match_serde`).
fn write_block(out: &mut Vec<u8>, block: &DataToIntegrityProtectBlock) {
    let mut m = Members::open(out);
    if let Some(meta) = &block.meta_data {
        let mut md = Members::open(m.name("metaData"));
        md.str("n32fContextId", &meta.n32f_context_id);
        md.str("messageId", &meta.message_id);
        match &meta.authorized_ipx_id {
            Some(ipx) => md.str("authorizedIpxId", ipx),
            None => md.name("authorizedIpxId").extend_from_slice(b"null"),
        }
        md.close();
    }
    if let Some(rl) = &block.request_line {
        let mut r = Members::open(m.name("requestLine"));
        r.str("method", &rl.method);
        r.str("scheme", &rl.scheme);
        r.str("authority", &rl.authority);
        r.str("path", &rl.path);
        r.str("protocolVersion", &rl.protocol_version);
        if let Some(q) = &rl.query_fragment {
            r.str("queryFragment", q);
        }
        r.close();
    }
    if let Some(status) = &block.status_line {
        m.str("statusLine", status);
    }
    if let Some(headers) = &block.headers {
        let out = m.name("headers");
        out.push(b'[');
        for (i, h) in headers.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let mut hm = Members::open(out);
            hm.str("header", &h.header);
            match &h.value {
                EncodedHttpHeaderValue::Clear(v) => hm.str("value", v),
                EncodedHttpHeaderValue::Index(ix) => write_index(hm.name("value"), ix),
            }
            hm.close();
        }
        out.push(b']');
    }
    if let Some(payload) = &block.payload {
        let out = m.name("payload");
        out.push(b'[');
        for (i, p) in payload.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let mut pm = Members::open(out);
            pm.str("iePath", &p.ie_path);
            serde_json::to_writer(pm.name("ieValueLocation"), &p.ie_value_location).expect("locations serialize");
            write_value(pm.name("value"), &p.value);
            pm.close();
        }
        out.push(b']');
    }
    m.close();
}

/// `{"encBlockIndex":n}`.
fn write_index(out: &mut Vec<u8>, ix: &IndexToEncryptedValue) {
    let mut m = Members::open(out);
    serde_json::to_writer(m.name("encBlockIndex"), &ix.enc_block_index).expect("integers serialize");
    m.close();
}

#[cfg(test)]
mod tests;
