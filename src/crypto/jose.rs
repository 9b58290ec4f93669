//! JOSE for N32-f PRINS: JWE (`dir` + AES-GCM) and JWS (ES256) in flattened JSON, base64url.
//!
//! What a sending SEPP and a modifying Roaming Intermediary build (TS 29.573 6.2, TS 33.501
//! 13.2.4), restricted to the TS 33.210 JOSE profile:
//!
//! ```text
//!   JWE (RFC 7516 7.2.2, flattened JSON)          JWS (RFC 7515 7.2.2, flattened JSON)
//!   protected  = b64({"alg":"dir","enc":...})     protected = b64({"alg":"ES256",...})
//!   aad        = b64(DataToIntegrityProtect)      payload   = b64(Modifications)
//!   iv         = b64(salt || SEQ)   [12 B]        signature = b64(r || s)       [64 B]
//!   ciphertext = AES-GCM(CEK, iv, plaintext, AAD)
//!   tag        = 128-bit GCM tag    [16 B]        signing input = b64(protected) '.' b64(payload)
//!   AAD = ASCII(b64(protected) '.' b64(aad))   (just ASCII(b64(protected)) without `aad`)
//! ```
//!
//! - `alg` is only `dir`: the N32-f session key is the content encryption key, so
//!   `encrypted_key` is empty (RFC 7518 4.5). `enc` is `A128GCM` (shall) or `A256GCM` (should).
//! - The IV is the caller's: on N32-f it is the nonce salt || counter (TS 33.501 13.2.4.4.1),
//!   computed in [`crate::crypto::n32f`]. This module never draws randomness.
//! - JWS `alg` is only `ES256`; `none` and the `jwk` header are refused (TS 33.210 profile).
//!   Signing is deterministic (RFC 6979, `p256`'s `SigningKey::sign`), so one seed gives one
//!   byte-identical run. Signatures are accepted with a high or low `s` (RFC 7515 A.3 has a
//!   high one).
//! - `alg` and `enc` must be in the integrity-protected header; `crit` is refused since this
//!   implementation understands no extension (RFC 7515 4.1.11).
//!
//! Every [`JoseError`] comes from peer input and none is fatal to the run: the protocol layer
//! maps it to an N32-f error (DECIPHERING_FAILED, INTEGRITY_CHECK_FAILED,
//! INTEGRITY_CHECK_ON_MODIFICATIONS_FAILED).

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes128Gcm, Aes256Gcm, KeyInit, Nonce, Tag};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// JSON object type of the unprotected header members (`unprotected`, `header`).
pub type JsonObject = Map<String, Value>;

/// Length of the AES-GCM IV \[B\] (RFC 7518 5.3: 96 bits).
pub const IV_LEN: usize = 12;
/// Length of the AES-GCM authentication tag \[B\] (RFC 7518 5.3: 128 bits).
pub const TAG_LEN: usize = 16;
/// Length of an ES256 signature, r || s \[B\] (RFC 7518 3.4).
pub const ES256_SIGNATURE_LEN: usize = 64;

/// Why a JOSE object could not be built, decrypted or verified.
///
/// All variants come from peer input (or a caller bug such as a wrong key length); none is
/// fatal to the run.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
pub enum JoseError {
    /// A member is not valid unpadded base64url (RFC 7515 2).
    #[error("jose: member `{0}` is not valid base64url")]
    BadBase64(&'static str),
    /// The protected header is not a JSON object (or a member has the wrong JSON type).
    #[error("jose: bad header: {0}")]
    BadHeader(String),
    /// A member needed for this operation is absent.
    #[error("jose: missing member `{0}`")]
    MissingMember(&'static str),
    /// JWS `alg` = `none`: refused (TS 33.210 JOSE profile).
    #[error("jose: unsecured jws (`alg` none) refused")]
    AlgNone,
    /// An `alg` other than `dir` (JWE) or `ES256` (JWS).
    #[error("jose: unsupported alg `{0}`")]
    UnsupportedAlg(String),
    /// An `enc` other than `A128GCM` or `A256GCM`.
    #[error("jose: unsupported enc `{0}`")]
    UnsupportedEnc(String),
    /// A header parameter this profile refuses (`jwk`, `crit`, `zip`).
    #[error("jose: forbidden header parameter `{0}`")]
    ForbiddenHeader(&'static str),
    /// The same header parameter in two header members (RFC 7516 7.2.1, RFC 7515 7.2.1).
    #[error("jose: header parameter `{0}` appears twice")]
    DuplicateHeader(String),
    /// `encrypted_key` is not empty although `alg` is `dir` (RFC 7518 4.5).
    #[error("jose: `encrypted_key` must be empty with alg dir")]
    EncryptedKeyWithDir,
    /// The key does not fit `enc` \[B\].
    #[error("jose: key of {actual} bytes, {enc} needs {expected}")]
    KeyLength {
        /// Content encryption algorithm from the header.
        enc: &'static str,
        /// Key length the algorithm needs \[B\].
        expected: usize,
        /// Key length supplied \[B\].
        actual: usize,
    },
    /// IV is not 12 bytes.
    #[error("jose: iv of {0} bytes, need 12")]
    IvLength(usize),
    /// Tag is not 16 bytes.
    #[error("jose: tag of {0} bytes, need 16")]
    TagLength(usize),
    /// AES-GCM authentication failed: wrong key, or a modified protected header, aad, iv,
    /// ciphertext or tag (RFC 7516 5.2 step 16).
    #[error("jose: jwe authentication failed")]
    TagMismatch,
    /// The signature is not 64 bytes r || s.
    #[error("jose: signature of {0} bytes, need 64")]
    SignatureLength(usize),
    /// ECDSA verification failed (RFC 7515 5.2 step 8).
    #[error("jose: jws signature invalid")]
    BadSignature,
    /// A compact serialization without exactly the expected number of parts.
    #[error("jose: compact serialization must have {0} parts")]
    BadCompact(usize),
}

// ---------------------------------------------------------------------------------------------
// base64url
// ---------------------------------------------------------------------------------------------

/// base64url without padding (RFC 7515 2, RFC 4648 5).
pub fn b64_encode(bytes: &[u8]) -> String {
    // The SIMD encoder (the same text as `base64`'s URL_SAFE_NO_PAD: `b64_simd_is_base64`);
    // the JWE members of every PRINS message go through it.
    base64_simd::URL_SAFE_NO_PAD.encode_to_string(bytes)
}

/// Decodes unpadded base64url; padding, non-alphabet characters and non-zero trailing bits are
/// refused. `member` names the field for the error.
pub fn b64_decode(text: &str, member: &'static str) -> Result<Vec<u8>, JoseError> {
    URL_SAFE_NO_PAD.decode(text).map_err(|_| JoseError::BadBase64(member))
}

// ---------------------------------------------------------------------------------------------
// Algorithms and headers
// ---------------------------------------------------------------------------------------------

/// JWE content encryption algorithm (RFC 7518 5.3), TS 33.210 profile.
#[derive(Clone, Copy, Debug, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize)]
pub enum Enc {
    /// AES-GCM with a 128-bit key (TS 33.210: shall be supported).
    #[serde(rename = "A128GCM")]
    A128Gcm,
    /// AES-GCM with a 256-bit key (TS 33.210: should be supported).
    #[serde(rename = "A256GCM")]
    A256Gcm,
}

impl Enc {
    /// The JOSE name (`A128GCM`, `A256GCM`).
    pub fn name(self) -> &'static str {
        match self {
            Enc::A128Gcm => "A128GCM",
            Enc::A256Gcm => "A256GCM",
        }
    }

    /// Key length \[B\].
    pub fn key_len(self) -> usize {
        match self {
            Enc::A128Gcm => 16,
            Enc::A256Gcm => 32,
        }
    }

    /// Parses a JOSE name.
    pub fn from_name(name: &str) -> Result<Enc, JoseError> {
        match name {
            "A128GCM" => Ok(Enc::A128Gcm),
            "A256GCM" => Ok(Enc::A256Gcm),
            other => Err(JoseError::UnsupportedEnc(other.to_owned())),
        }
    }
}

/// JWE protected header for `dir` (RFC 7516 4.1).
///
/// Serializes in the order `alg`, `kid`, `enc` (the order of RFC 7520 5.6); `kid` is skipped when
/// absent, giving `{"alg":"dir","enc":"A128GCM"}`.
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
pub struct JweHeader {
    /// Always `dir` (TS 33.210).
    pub alg: &'static str,
    /// Key identifier (TS 33.210: supported; its `alg` must match the N32-c agreement).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Content encryption algorithm.
    pub enc: Enc,
}

impl JweHeader {
    /// `{"alg":"dir","enc":<enc>}`.
    pub fn dir(enc: Enc) -> Self {
        JweHeader {
            alg: "dir",
            kid: None,
            enc,
        }
    }

    /// Same, with a `kid`.
    pub fn dir_with_kid(enc: Enc, kid: impl Into<String>) -> Self {
        JweHeader {
            kid: Some(kid.into()),
            ..JweHeader::dir(enc)
        }
    }
}

/// JWS protected header for ES256 (RFC 7515 4.1).
///
/// Serializes in the order `alg`, `typ`, `kid`, absent members skipped: `{"alg":"ES256"}`.
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
pub struct JwsHeader {
    /// Always `ES256` (TS 33.501 13.2.4.6: SEPPs and RIs use only ES256).
    pub alg: &'static str,
    /// Media type, `JWT` for access tokens (RFC 7519 5.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
    /// Key identifier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
}

impl JwsHeader {
    /// `{"alg":"ES256"}`.
    pub fn es256() -> Self {
        JwsHeader {
            alg: "ES256",
            typ: None,
            kid: None,
        }
    }

    /// Same, with a `kid`.
    pub fn es256_with_kid(kid: impl Into<String>) -> Self {
        JwsHeader {
            kid: Some(kid.into()),
            ..JwsHeader::es256()
        }
    }
}

/// Serializes a header and base64url-encodes it. Serializing these plain structs cannot fail.
fn encode_header<H: Serialize>(header: &H) -> String {
    let json = serde_json::to_vec(header).expect("header structs always serialize");
    b64_encode(&json)
}

/// Decodes the base64url protected header into a JSON object.
fn decode_header(b64: &str) -> Result<JsonObject, JoseError> {
    let bytes = b64_decode(b64, "protected")?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(JoseError::BadHeader("protected header is not an object".into())),
        Err(e) => Err(JoseError::BadHeader(e.to_string())),
    }
}

/// Reads a string member of a header.
fn header_str<'a>(header: &'a JsonObject, name: &'static str) -> Result<&'a str, JoseError> {
    match header.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(JoseError::BadHeader(format!("`{name}` is not a string"))),
        None => Err(JoseError::MissingMember(name)),
    }
}

/// Reads an optional string member (`kid`).
fn header_opt_str(header: &JsonObject, name: &'static str) -> Result<Option<String>, JoseError> {
    match header.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(JoseError::BadHeader(format!("`{name}` is not a string"))),
    }
}

/// Checks the rules shared by JWE and JWS headers: header members disjoint (RFC 7516 7.2.1,
/// RFC 7515 7.2.1), no `crit` (RFC 7515 4.1.11: no extension is understood), no `jwk`
/// (TS 33.210 profile: keys come from N32-c or configuration, never from the message).
fn check_common(protected: &JsonObject, unprotected: &[Option<&JsonObject>]) -> Result<(), JoseError> {
    let mut seen: Vec<&str> = protected.keys().map(String::as_str).collect();
    for map in unprotected.iter().flatten() {
        for key in map.keys() {
            if seen.contains(&key.as_str()) {
                return Err(JoseError::DuplicateHeader(key.clone()));
            }
            seen.push(key);
        }
    }
    if seen.contains(&"jwk") {
        return Err(JoseError::ForbiddenHeader("jwk"));
    }
    if seen.contains(&"crit") {
        return Err(JoseError::ForbiddenHeader("crit"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// JWE
// ---------------------------------------------------------------------------------------------

/// JWE in flattened JSON serialization (RFC 7516 7.2.2); the OpenAPI `FlatJweJson`
/// (TS 29.573 6.2.5.2). Only `ciphertext` is required on the wire; absent members are skipped.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct FlatJwe {
    /// base64url of the protected header JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protected: Option<String>,
    /// Shared unprotected header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unprotected: Option<JsonObject>,
    /// Per-recipient unprotected header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<JsonObject>,
    /// Encrypted CEK; empty or absent with `dir`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted_key: Option<String>,
    /// base64url of the additional authenticated data (N32-f: DataToIntegrityProtectBlock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aad: Option<String>,
    /// base64url of the 12-byte IV.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iv: Option<String>,
    /// base64url of the ciphertext.
    pub ciphertext: String,
    /// base64url of the 16-byte tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// A decrypted JWE.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct JweOpened {
    /// Content encryption algorithm from the protected header.
    pub enc: Enc,
    /// `kid` from the protected header, if any.
    pub kid: Option<String>,
    /// Decoded `aad` member, if any (authenticated, not encrypted).
    pub aad: Option<Vec<u8>>,
    /// The plaintext.
    pub plaintext: Vec<u8>,
}

/// The AEAD additional data (RFC 7516 5.1 step 14):
/// ASCII(b64(protected) '.' b64(aad)) with an `aad` member, else ASCII(b64(protected)).
fn aead_aad(protected_b64: &str, aad_b64: Option<&str>) -> Vec<u8> {
    match aad_b64 {
        Some(aad) => {
            let mut out = Vec::with_capacity(protected_b64.len() + 1 + aad.len());
            out.extend_from_slice(protected_b64.as_bytes());
            out.push(b'.');
            out.extend_from_slice(aad.as_bytes());
            out
        }
        None => protected_b64.as_bytes().to_vec(),
    }
}

/// Checks the key length against `enc`.
fn check_key(enc: Enc, key: &[u8]) -> Result<(), JoseError> {
    if key.len() != enc.key_len() {
        return Err(JoseError::KeyLength {
            enc: enc.name(),
            expected: enc.key_len(),
            actual: key.len(),
        });
    }
    Ok(())
}

/// AES-GCM seal in place, detached tag (RFC 7518 5.3). The key length was checked.
fn gcm_seal(enc: Enc, key: &[u8], iv: &[u8; IV_LEN], aad: &[u8], buf: &mut [u8]) -> [u8; TAG_LEN] {
    let nonce = &Nonce::from(*iv);
    let tag = match enc {
        Enc::A128Gcm => Aes128Gcm::new_from_slice(key)
            .expect("key length checked")
            .encrypt_in_place_detached(nonce, aad, buf),
        Enc::A256Gcm => Aes256Gcm::new_from_slice(key)
            .expect("key length checked")
            .encrypt_in_place_detached(nonce, aad, buf),
    };
    // aes-gcm only fails for inputs beyond 2^36 bytes, which no simulated message reaches.
    tag.expect("aes-gcm input within limits").into()
}

/// AES-GCM open in place, detached tag. The key length was checked.
fn gcm_open(
    enc: Enc,
    key: &[u8],
    iv: &[u8; IV_LEN],
    aad: &[u8],
    buf: &mut [u8],
    tag: &[u8; TAG_LEN],
) -> Result<(), JoseError> {
    let nonce = &Nonce::from(*iv);
    let tag = &Tag::from(*tag);
    let result = match enc {
        Enc::A128Gcm => Aes128Gcm::new_from_slice(key)
            .expect("key length checked")
            .decrypt_in_place_detached(nonce, aad, buf, tag),
        Enc::A256Gcm => Aes256Gcm::new_from_slice(key)
            .expect("key length checked")
            .decrypt_in_place_detached(nonce, aad, buf, tag),
    };
    result.map_err(|_| JoseError::TagMismatch)
}

/// Encrypts `plaintext` into a flattened JWE with `alg` = `dir` (RFC 7516 5.1, 7.2.2).
///
/// `key` is the CEK (16 B for A128GCM, 32 B for A256GCM), `iv` the 96-bit nonce supplied by
/// the caller (never reuse one under a key), `aad` the optional JWE AAD (its base64url goes
/// into the `aad` member and into the AEAD additional data).
pub fn encrypt(
    key: &[u8],
    iv: &[u8; IV_LEN],
    header: &JweHeader,
    aad: Option<&[u8]>,
    plaintext: &[u8],
) -> Result<FlatJwe, JoseError> {
    check_key(header.enc, key)?;
    //= RFC 7516 5.1 step 13: Encoded Protected Header = BASE64URL(UTF8(JWE Protected Header))
    let protected = encode_header(header);
    let aad_b64 = aad.map(b64_encode);
    //= RFC 7516 5.1 step 14: ASCII(Encoded Protected Header || '.' || BASE64URL(JWE AAD))
    let aead_aad = aead_aad(&protected, aad_b64.as_deref());
    let mut buf = plaintext.to_vec();
    let tag = gcm_seal(header.enc, key, iv, &aead_aad, &mut buf);
    Ok(FlatJwe {
        protected: Some(protected),
        unprotected: None,
        header: None,
        encrypted_key: None,
        aad: aad_b64,
        iv: Some(b64_encode(iv)),
        ciphertext: b64_encode(&buf),
        tag: Some(b64_encode(&tag)),
    })
}

/// Decrypts and authenticates a flattened JWE with `alg` = `dir` (RFC 7516 5.2).
///
/// The AEAD additional data is built from the `protected` and `aad` members exactly as
/// received. `alg`, `enc` must be in the protected header; the caller should check the returned
/// `enc` and `kid` against the suite agreed on N32-c.
pub fn decrypt(key: &[u8], jwe: &FlatJwe) -> Result<JweOpened, JoseError> {
    let protected_b64 = jwe.protected.as_deref().ok_or(JoseError::MissingMember("protected"))?;
    let protected = decode_header(protected_b64)?;
    check_common(&protected, &[jwe.unprotected.as_ref(), jwe.header.as_ref()])?;
    match header_str(&protected, "alg")? {
        "dir" => {}
        other => return Err(JoseError::UnsupportedAlg(other.to_owned())),
    }
    let enc = Enc::from_name(header_str(&protected, "enc")?)?;
    if protected.contains_key("zip") {
        // RFC 7516 4.1.3: compression is out of the TS 33.210 profile.
        return Err(JoseError::ForbiddenHeader("zip"));
    }
    let kid = header_opt_str(&protected, "kid")?;
    //= RFC 7518 4.5: with dir, the JWE Encrypted Key is the empty octet sequence
    if jwe.encrypted_key.as_deref().is_some_and(|k| !k.is_empty()) {
        return Err(JoseError::EncryptedKeyWithDir);
    }
    check_key(enc, key)?;
    let iv_bytes = b64_decode(jwe.iv.as_deref().ok_or(JoseError::MissingMember("iv"))?, "iv")?;
    let iv: [u8; IV_LEN] = iv_bytes
        .as_slice()
        .try_into()
        .map_err(|_| JoseError::IvLength(iv_bytes.len()))?;
    let tag_bytes = b64_decode(jwe.tag.as_deref().ok_or(JoseError::MissingMember("tag"))?, "tag")?;
    let tag: [u8; TAG_LEN] = tag_bytes
        .as_slice()
        .try_into()
        .map_err(|_| JoseError::TagLength(tag_bytes.len()))?;
    let aad = jwe.aad.as_deref().map(|a| b64_decode(a, "aad")).transpose()?;
    let mut buf = b64_decode(&jwe.ciphertext, "ciphertext")?;
    //= RFC 7516 5.2 step 15: same AAD construction as on encryption
    let aead_aad = aead_aad(protected_b64, jwe.aad.as_deref());
    gcm_open(enc, key, &iv, &aead_aad, &mut buf, &tag)?;
    Ok(JweOpened {
        enc,
        kid,
        aad,
        plaintext: buf,
    })
}

// ---------------------------------------------------------------------------------------------
// JWS
// ---------------------------------------------------------------------------------------------

/// JWS in flattened JSON serialization (RFC 7515 7.2.2); the OpenAPI `FlatJwsJson`
/// (TS 29.573 6.2.5.2). `payload` and `signature` are required; absent members are skipped.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct FlatJws {
    /// base64url of the payload (N32-f: the Modifications object).
    pub payload: String,
    /// base64url of the protected header JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protected: Option<String>,
    /// Unprotected header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<JsonObject>,
    /// base64url of r || s (64 B).
    pub signature: String,
}

/// A verified JWS.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct JwsVerified {
    /// `kid` from the protected header, if any.
    pub kid: Option<String>,
    /// The payload bytes.
    pub payload: Vec<u8>,
}

/// ES256 over the signing input: SHA-256 then ECDSA P-256, nonce by RFC 6979 (deterministic),
/// encoded as r || s (RFC 7518 3.4).
fn es256_sign(key: &SigningKey, signing_input: &[u8]) -> [u8; ES256_SIGNATURE_LEN] {
    // The bytes of ecdsa 0.16's `Signer::sign` (SHA-256, k from RFC 6979 3.2, no RNG, same
    // bytes every run), with `k·G` from a precomputed table (`crypto::es256`).
    let sig: [u8; ES256_SIGNATURE_LEN] = crate::crypto::backend::p256_sign(key, signing_input).to_bytes().into();
    // A signature just made verifies with the key's public half (ECDSA is correct), so the
    // verdict is known: an AEF on this thread checking the token pays a hash.
    let digest = es256_verdict_key(key.verifying_key(), signing_input, &sig);
    super::verdict::remember(digest, true);
    sig
}

/// The memo key of an ES256 verdict ([`super::verdict`]).
fn es256_verdict_key(key: &VerifyingKey, signing_input: &[u8], sig: &[u8]) -> [u8; 32] {
    super::verdict::key(
        b"secsim-es256",
        key.to_encoded_point(true).as_bytes(),
        signing_input,
        sig,
    )
}

/// ES256 verification of r || s (RFC 7518 3.4). Both low and high `s` are accepted.
/// ES256 verification. A pure function of its inputs, so each thread remembers the verdicts
/// it reached ([`super::verdict::MEMO_MAX`] at most, then it starts over): an AEF checking the same
/// bearer token again pays a hash, not an ECDSA verification. The simulated CPU cost is
/// charged by the cost model either way.
fn es256_verify(key: &VerifyingKey, signing_input: &[u8], sig: &[u8]) -> Result<(), JoseError> {
    if sig.len() != ES256_SIGNATURE_LEN {
        return Err(JoseError::SignatureLength(sig.len()));
    }
    // from_slice refuses r or s equal to zero or not below n.
    let parsed = Signature::from_slice(sig).map_err(|_| JoseError::BadSignature)?;
    let digest = es256_verdict_key(key, signing_input, sig);
    let ok = match super::verdict::get(&digest) {
        Some(ok) => ok,
        None => {
            let ok = super::backend::p256_verify(key, signing_input, &parsed);
            super::verdict::remember(digest, ok);
            ok
        }
    };
    if ok { Ok(()) } else { Err(JoseError::BadSignature) }
}

/// Checks a JWS protected header: `alg` = ES256 in the protected part, `none` refused
/// explicitly, no `jwk`/`crit`, members disjoint from the unprotected header.
fn check_jws_header(protected: &JsonObject, unprotected: Option<&JsonObject>) -> Result<Option<String>, JoseError> {
    check_common(protected, &[unprotected])?;
    match header_str(protected, "alg")? {
        "ES256" => {}
        //= TS 33.210 JWS profile: the "none" algorithm shall not be used
        "none" => return Err(JoseError::AlgNone),
        other => return Err(JoseError::UnsupportedAlg(other.to_owned())),
    }
    header_opt_str(protected, "kid")
}

/// Signs `payload` into a flattened JWS with ES256 (RFC 7515 5.1, 7.2.2). Deterministic.
pub fn sign(key: &SigningKey, header: &JwsHeader, payload: &[u8]) -> FlatJws {
    let protected = encode_header(header);
    let payload_b64 = b64_encode(payload);
    //= RFC 7515 5.1 step 5: ASCII(BASE64URL(UTF8(JWS Protected Header)) || '.' || BASE64URL(JWS Payload))
    let input = format!("{protected}.{payload_b64}");
    let sig = es256_sign(key, input.as_bytes());
    FlatJws {
        payload: payload_b64,
        protected: Some(protected),
        header: None,
        signature: b64_encode(&sig),
    }
}

/// Verifies a flattened JWS with ES256 (RFC 7515 5.2) and returns the payload.
///
/// The signing input is built from the `protected` and `payload` members as received.
pub fn verify(key: &VerifyingKey, jws: &FlatJws) -> Result<JwsVerified, JoseError> {
    let protected_b64 = jws.protected.as_deref().ok_or(JoseError::MissingMember("protected"))?;
    let protected = decode_header(protected_b64)?;
    let kid = check_jws_header(&protected, jws.header.as_ref())?;
    let sig = b64_decode(&jws.signature, "signature")?;
    let payload = b64_decode(&jws.payload, "payload")?;
    let input = format!("{protected_b64}.{}", jws.payload);
    es256_verify(key, input.as_bytes(), &sig)?;
    Ok(JwsVerified { kid, payload })
}

/// Signs `payload` into a JWS compact serialization (RFC 7515 7.1):
/// `b64(protected) '.' b64(payload) '.' b64(signature)`. Deterministic.
pub fn sign_compact(key: &SigningKey, header: &JwsHeader, payload: &[u8]) -> String {
    let jws = sign(key, header, payload);
    let protected = jws.protected.expect("sign always sets protected");
    format!("{protected}.{}.{}", jws.payload, jws.signature)
}

/// Verifies a JWS compact serialization with ES256 (RFC 7515 5.2, 7.1).
pub fn verify_compact(key: &VerifyingKey, compact: &str) -> Result<JwsVerified, JoseError> {
    let mut parts = compact.split('.');
    let (Some(protected), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JoseError::BadCompact(3));
    };
    let jws = FlatJws {
        payload: payload.to_owned(),
        protected: Some(protected.to_owned()),
        header: None,
        signature: signature.to_owned(),
    };
    verify(key, &jws)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn b64_simd_is_base64() {
        use base64::Engine as _;
        let bytes: Vec<u8> = (0..600u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for n in 0..bytes.len() {
            let b = &bytes[..n];
            assert_eq!(
                b64_encode(b),
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
            );
        }
    }

    /// The remembered ES256 verdicts are the verdicts: a valid token verifies twice, the same
    /// token with one bit of its signature flipped fails twice, under another key it fails.
    #[test]
    fn remembered_es256_verdicts_are_the_verdicts() {
        let mut rng = crate::engine::stream(7, "es256-memo");
        let k1 = crate::crypto::pki::key_from_rng(&mut rng);
        let k2 = crate::crypto::pki::key_from_rng(&mut rng);
        let header = JwsHeader::es256();
        let token = sign_compact(&k1, &header, b"{\"a\":1}");
        let (v1, v2) = (*k1.verifying_key(), *k2.verifying_key());
        for _ in 0..2 {
            assert!(verify_compact(&v1, &token).is_ok());
            assert!(verify_compact(&v2, &token).is_err());
        }
        let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
        parts[2] = flip(&parts[2], 5);
        let bad = parts.join(".");
        for _ in 0..2 {
            assert_eq!(verify_compact(&v1, &bad).unwrap_err(), JoseError::BadSignature);
        }
    }

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    fn b64(s: &str) -> Vec<u8> {
        b64_decode(s, "test").unwrap()
    }

    /// Flips one bit of the base64url member's decoded bytes and re-encodes it, so the result is
    /// still valid base64url and only the cryptographic check can catch it.
    fn flip(member: &str, byte: usize) -> String {
        let mut bytes = b64(member);
        bytes[byte] ^= 0x01;
        b64_encode(&bytes)
    }

    // ----- AES-GCM raw (DIGEST 8; McGrew-Viega test cases 1 and 2) -----

    #[test]
    fn aes128gcm_kat_empty_and_zero_block() {
        let key = [0u8; 16];
        let iv = [0u8; 12];
        let mut empty: [u8; 0] = [];
        let tag = gcm_seal(Enc::A128Gcm, &key, &iv, b"", &mut empty);
        assert_eq!(hex::encode(tag), "58e2fccefa7e3061367f1d57a4e7455a");
        let mut block = [0u8; 16];
        let tag = gcm_seal(Enc::A128Gcm, &key, &iv, b"", &mut block);
        assert_eq!(hex::encode(block), "0388dace60b6a392f328c2b971b2fe78");
        assert_eq!(hex::encode(tag), "ab6e47d42cec13bdf53a67b21257bddf");
    }

    // ----- RFC 7520 5.6: dir + A128GCM -----

    /// RFC 7520 Figure 72 (the plaintext of all the 5.x JWE examples): U+2013 en dashes.
    const RFC7520_PLAINTEXT: &str = "You can trust us to stick with you through thick and \
        thin\u{2013}to the bitter end. And you can trust us to keep any secret of \
        yours\u{2013}closer than you keep it yourself. But you cannot trust us to let you face \
        trouble alone, and go off without a word. We are your friends, Frodo.";
    const RFC7520_5_6_PROTECTED: &str = "eyJhbGciOiJkaXIiLCJraWQiOiI3N2M3ZTJiOC02ZTEzLTQ1Y2YtODY3\
        Mi02MTdiNWI0NTI0M2EiLCJlbmMiOiJBMTI4R0NNIn0";
    const RFC7520_5_6_CIPHERTEXT: &str = "JW_i_f52hww_ELQPGaYyeAB6HYGcR559l9TYnSovc23XJoBcW29rHP8y\
        ZOZG7YhLpT1bjFuvZPjQS-m0IFtVcXkZXdH_lr_FrdYt9HRUYkshtrMmIUAyGmUnd9zMDB2n0cRDIHAzFVeJUDxkUw\
        VAE7_YGRPdcqMyiBoCO-FBdE-Nceb4h3-FtBP-c_BIwCPTjb9o0SbdcdREEMJMyZBH8ySWMVi1gPD9yxi-aQpGbSv_\
        F9N4IZAxscj5g-NJsUPbjk29-s7LJAGb15wEBtXphVCgyy53CoIKLHHeJHXex45Uz9aKZSRSInZI-wjsY0yu3cT4_a\
        Q3i1o-tiE-F8Ios61EKgyIQ4CWao8PFMj8TTnp";

    fn rfc7520_5_6() -> (Vec<u8>, [u8; 12], JweHeader) {
        let key = b64("XctOhJAkA-pD9Lh7ZgW_2A");
        let iv: [u8; 12] = b64("refa467QzzKx6QAB").try_into().unwrap();
        let header = JweHeader::dir_with_kid(Enc::A128Gcm, "77c7e2b8-6e13-45cf-8672-617b5b45243a");
        (key, iv, header)
    }

    #[test]
    fn jwe_encrypt_rfc7520_5_6() {
        let (key, iv, header) = rfc7520_5_6();
        let jwe = encrypt(&key, &iv, &header, None, RFC7520_PLAINTEXT.as_bytes()).unwrap();
        assert_eq!(jwe.protected.as_deref(), Some(RFC7520_5_6_PROTECTED));
        assert_eq!(jwe.iv.as_deref(), Some("refa467QzzKx6QAB"));
        assert_eq!(jwe.ciphertext, RFC7520_5_6_CIPHERTEXT);
        assert_eq!(jwe.tag.as_deref(), Some("vbb32Xvllea2OtmHAdccRQ"));
        assert_eq!(jwe.aad, None);
        // RFC 7520 Figure 137 (flattened JSON) has exactly these members in this order.
        let json = serde_json::to_string(&jwe).unwrap();
        assert_eq!(
            json,
            format!(
                r#"{{"protected":"{RFC7520_5_6_PROTECTED}","iv":"refa467QzzKx6QAB","ciphertext":"{RFC7520_5_6_CIPHERTEXT}","tag":"vbb32Xvllea2OtmHAdccRQ"}}"#
            )
        );
    }

    #[test]
    fn jwe_decrypt_rfc7520_5_6() {
        let (key, _, _) = rfc7520_5_6();
        let jwe = FlatJwe {
            protected: Some(RFC7520_5_6_PROTECTED.into()),
            unprotected: None,
            header: None,
            encrypted_key: None,
            aad: None,
            iv: Some("refa467QzzKx6QAB".into()),
            ciphertext: RFC7520_5_6_CIPHERTEXT.into(),
            tag: Some("vbb32Xvllea2OtmHAdccRQ".into()),
        };
        let opened = decrypt(&key, &jwe).unwrap();
        assert_eq!(opened.plaintext, RFC7520_PLAINTEXT.as_bytes());
        assert_eq!(opened.enc, Enc::A128Gcm);
        assert_eq!(opened.kid.as_deref(), Some("77c7e2b8-6e13-45cf-8672-617b5b45243a"));
    }

    // ----- DIGEST 7: N32-f JWE with A256GCM and an aad member -----

    fn n32_vector() -> (Vec<u8>, [u8; 12], &'static [u8], &'static [u8]) {
        let key = unhex("6fc8927fe7328bc1c6e90871b5ce75e56840332bbbcb6b4f3addfc0d5c1b1749");
        let iv: [u8; 12] = unhex("4bc0f5974db1bf8d00000000").try_into().unwrap();
        let aad: &[u8] = br#"{"metaData":{"n32fContextId":"0123456789ABCDEF","messageId":"1","authorizedIpxId":null}}"#;
        let plaintext: &[u8] = br#"{"dataToEncrypt":["imsi-001010000000001"]}"#;
        (key, iv, aad, plaintext)
    }

    #[test]
    fn jwe_encrypt_n32f_vector_with_aad() {
        let (key, iv, aad, plaintext) = n32_vector();
        let jwe = encrypt(&key, &iv, &JweHeader::dir(Enc::A256Gcm), Some(aad), plaintext).unwrap();
        assert_eq!(
            jwe.protected.as_deref(),
            Some(b64_encode(br#"{"alg":"dir","enc":"A256GCM"}"#).as_str())
        );
        assert_eq!(jwe.aad.as_deref(), Some(b64_encode(aad).as_str()));
        assert_eq!(
            jwe.ciphertext,
            "fcmzuShEVHHHbSJE1mmHMOno8BvTU11XF8qXCEZCeGDKBLFI1z_yXE5u"
        );
        assert_eq!(jwe.tag.as_deref(), Some("mGLt16XCYWFSJCnxR5yFdw"));
        let opened = decrypt(&key, &jwe).unwrap();
        assert_eq!(opened.plaintext, plaintext);
        assert_eq!(opened.aad.as_deref(), Some(aad));
    }

    #[test]
    fn jwe_serializes_openapi_names() {
        let (key, iv, aad, plaintext) = n32_vector();
        let jwe = encrypt(&key, &iv, &JweHeader::dir(Enc::A256Gcm), Some(aad), plaintext).unwrap();
        let value = serde_json::to_value(&jwe).unwrap();
        let keys: Vec<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["protected", "aad", "iv", "ciphertext", "tag"]);
        let back: FlatJwe = serde_json::from_value(value).unwrap();
        assert_eq!(back, jwe);
        // A full object with every OpenAPI member round-trips.
        let full = r#"{"protected":"e30","unprotected":{"a":1},"header":{"b":2},"encrypted_key":"","aad":"","iv":"","ciphertext":"","tag":""}"#;
        let parsed: FlatJwe = serde_json::from_str(full).unwrap();
        assert_eq!(serde_json::to_string(&parsed).unwrap(), full);
    }

    // ----- JWE negative tests -----

    fn n32_jwe() -> (Vec<u8>, FlatJwe) {
        let (key, iv, aad, plaintext) = n32_vector();
        let jwe = encrypt(&key, &iv, &JweHeader::dir(Enc::A256Gcm), Some(aad), plaintext).unwrap();
        (key, jwe)
    }

    #[test]
    fn jwe_flipped_ciphertext_fails_tag() {
        let (key, mut jwe) = n32_jwe();
        jwe.ciphertext = flip(&jwe.ciphertext, 3);
        assert_eq!(decrypt(&key, &jwe), Err(JoseError::TagMismatch));
    }

    #[test]
    fn jwe_flipped_tag_fails_tag() {
        let (key, mut jwe) = n32_jwe();
        jwe.tag = Some(flip(jwe.tag.as_deref().unwrap(), 15));
        assert_eq!(decrypt(&key, &jwe), Err(JoseError::TagMismatch));
    }

    #[test]
    fn jwe_flipped_aad_fails_tag() {
        let (key, mut jwe) = n32_jwe();
        jwe.aad = Some(flip(jwe.aad.as_deref().unwrap(), 40));
        assert_eq!(decrypt(&key, &jwe), Err(JoseError::TagMismatch));
        // Dropping the aad member changes the AEAD input as well.
        let (key, mut jwe) = n32_jwe();
        jwe.aad = None;
        assert_eq!(decrypt(&key, &jwe), Err(JoseError::TagMismatch));
    }

    #[test]
    fn jwe_flipped_iv_fails_tag() {
        let (key, mut jwe) = n32_jwe();
        jwe.iv = Some(flip(jwe.iv.as_deref().unwrap(), 11));
        assert_eq!(decrypt(&key, &jwe), Err(JoseError::TagMismatch));
    }

    #[test]
    fn jwe_modified_protected_fails() {
        // Same meaning, different bytes (whitespace): the tag covers the bytes.
        let (key, mut jwe) = n32_jwe();
        jwe.protected = Some(b64_encode(br#"{"alg":"dir", "enc":"A256GCM"}"#));
        assert_eq!(decrypt(&key, &jwe), Err(JoseError::TagMismatch));
        // A flipped bit in the protected bytes: `"alg":"dis"` is no longer dir.
        let (key, mut jwe) = n32_jwe();
        let protected = jwe.protected.clone().unwrap();
        jwe.protected = Some(flip(&protected, 10));
        assert_eq!(decrypt(&key, &jwe), Err(JoseError::UnsupportedAlg("dis".into())));
        // A flipped bit in the key name: `alg` is gone.
        jwe.protected = Some(flip(&protected, 3));
        assert_eq!(decrypt(&key, &jwe), Err(JoseError::MissingMember("alg")));
    }

    #[test]
    fn jwe_wrong_key_fails() {
        let (mut key, jwe) = n32_jwe();
        key[0] ^= 0x80;
        assert_eq!(decrypt(&key, &jwe), Err(JoseError::TagMismatch));
        assert_eq!(
            decrypt(&key[..16], &jwe),
            Err(JoseError::KeyLength {
                enc: "A256GCM",
                expected: 32,
                actual: 16
            })
        );
    }

    #[test]
    fn jwe_bad_members_refused() {
        let (key, jwe) = n32_jwe();
        let with = |f: &dyn Fn(&mut FlatJwe)| {
            let mut j = jwe.clone();
            f(&mut j);
            decrypt(&key, &j)
        };
        assert_eq!(
            with(&|j| j.ciphertext.push('=')),
            Err(JoseError::BadBase64("ciphertext"))
        );
        assert_eq!(
            with(&|j| j.protected = Some("e30=".into())),
            Err(JoseError::BadBase64("protected"))
        );
        assert_eq!(
            with(&|j| j.protected = Some(b64_encode(b"[1]"))),
            Err(JoseError::BadHeader("protected header is not an object".into()))
        );
        assert_eq!(
            with(&|j| j.protected = None),
            Err(JoseError::MissingMember("protected"))
        );
        assert_eq!(with(&|j| j.tag = None), Err(JoseError::MissingMember("tag")));
        assert_eq!(
            with(&|j| j.tag = Some(b64_encode(&[0; 12]))),
            Err(JoseError::TagLength(12))
        );
        assert_eq!(
            with(&|j| j.iv = Some(b64_encode(&[0; 16]))),
            Err(JoseError::IvLength(16))
        );
        assert_eq!(
            with(&|j| j.encrypted_key = Some("AAAA".into())),
            Err(JoseError::EncryptedKeyWithDir)
        );
        assert!(with(&|j| j.encrypted_key = Some(String::new())).is_ok());
        let header = |h: &str| b64_encode(h.as_bytes());
        assert_eq!(
            with(&|j| j.protected = Some(header(r#"{"alg":"A128KW","enc":"A256GCM"}"#))),
            Err(JoseError::UnsupportedAlg("A128KW".into()))
        );
        assert_eq!(
            with(&|j| j.protected = Some(header(r#"{"alg":"dir","enc":"A128CBC-HS256"}"#))),
            Err(JoseError::UnsupportedEnc("A128CBC-HS256".into()))
        );
        assert_eq!(
            with(&|j| j.protected = Some(header(r#"{"alg":"dir"}"#))),
            Err(JoseError::MissingMember("enc"))
        );
        assert_eq!(
            with(&|j| j.protected = Some(header(r#"{"alg":"dir","enc":"A256GCM","zip":"DEF"}"#))),
            Err(JoseError::ForbiddenHeader("zip"))
        );
        assert_eq!(
            with(&|j| j.protected = Some(header(r#"{"alg":"dir","enc":"A256GCM","crit":["x"]}"#))),
            Err(JoseError::ForbiddenHeader("crit"))
        );
        let mut dup = JsonObject::new();
        dup.insert("enc".into(), "A128GCM".into());
        assert_eq!(
            with(&|j| j.unprotected = Some(dup.clone())),
            Err(JoseError::DuplicateHeader("enc".into()))
        );
    }

    #[test]
    fn jwe_encrypt_checks_key_length() {
        let err = encrypt(&[0; 32], &[0; 12], &JweHeader::dir(Enc::A128Gcm), None, b"x");
        assert_eq!(
            err,
            Err(JoseError::KeyLength {
                enc: "A128GCM",
                expected: 16,
                actual: 32
            })
        );
    }

    // ----- ECDSA: RFC 6979 A.2.5 and RFC 7515 A.3 -----

    fn rfc6979_key() -> SigningKey {
        let x = unhex("C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721");
        SigningKey::from_slice(&x).unwrap()
    }

    #[test]
    fn es256_rfc6979_a_2_5_sample() {
        let key = rfc6979_key();
        let sig = es256_sign(&key, b"sample");
        assert_eq!(
            hex::encode_upper(&sig[..32]),
            "EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716"
        );
        assert_eq!(
            hex::encode_upper(&sig[32..]),
            "F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8"
        );
        // RFC 6979 A.2.5 public key Ux, Uy.
        let point = key.verifying_key().to_encoded_point(false);
        assert_eq!(
            hex::encode_upper(point.x().unwrap()),
            "60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6"
        );
        assert_eq!(
            hex::encode_upper(point.y().unwrap()),
            "7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299"
        );
        assert!(es256_verify(key.verifying_key(), b"sample", &sig).is_ok());
        assert_eq!(
            es256_verify(key.verifying_key(), b"samplf", &sig),
            Err(JoseError::BadSignature)
        );
    }

    /// RFC 7515 A.3.1 JWK (x, y) as a verifying key.
    fn rfc7515_a3_key() -> VerifyingKey {
        let x = b64("f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU");
        let y = b64("x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0");
        let point = p256::EncodedPoint::from_affine_coordinates(
            &p256::FieldBytes::from(<[u8; 32]>::try_from(x).unwrap()),
            &p256::FieldBytes::from(<[u8; 32]>::try_from(y).unwrap()),
            false,
        );
        VerifyingKey::from_encoded_point(&point).unwrap()
    }

    const RFC7515_A3_PAYLOAD: &str =
        "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
    const RFC7515_A3_SIGNATURE: &str =
        "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";

    fn rfc7515_a3_jws() -> FlatJws {
        FlatJws {
            payload: RFC7515_A3_PAYLOAD.into(),
            protected: Some("eyJhbGciOiJFUzI1NiJ9".into()),
            header: None,
            signature: RFC7515_A3_SIGNATURE.into(),
        }
    }

    #[test]
    fn jws_verify_rfc7515_a_3() {
        let key = rfc7515_a3_key();
        let verified = verify(&key, &rfc7515_a3_jws()).unwrap();
        assert_eq!(
            verified.payload,
            b"{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}"
        );
        let compact = format!("eyJhbGciOiJFUzI1NiJ9.{RFC7515_A3_PAYLOAD}.{RFC7515_A3_SIGNATURE}");
        assert_eq!(verify_compact(&key, &compact).unwrap(), verified);
        // The A.3.1 private key d matches the public key.
        let d = SigningKey::from_slice(&b64("jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI")).unwrap();
        assert_eq!(d.verifying_key(), &key);
        // Our header serialization is the RFC's protected header.
        assert_eq!(encode_header(&JwsHeader::es256()), "eyJhbGciOiJFUzI1NiJ9");
    }

    #[test]
    fn jws_sign_is_deterministic_and_verifies() {
        let key = rfc6979_key();
        let header = JwsHeader::es256_with_kid("ri-1.ipx.example");
        let a = sign(&key, &header, br#"{"identity":"ri-1.ipx.example"}"#);
        let b = sign(&key, &header, br#"{"identity":"ri-1.ipx.example"}"#);
        assert_eq!(a, b);
        assert_eq!(b64(&a.signature).len(), 64);
        let verified = verify(key.verifying_key(), &a).unwrap();
        assert_eq!(verified.kid.as_deref(), Some("ri-1.ipx.example"));
        let json = serde_json::to_value(&a).unwrap();
        let keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["payload", "protected", "signature"]);
    }

    #[test]
    fn jws_flipped_payload_or_signature_fails() {
        let key = rfc7515_a3_key();
        let mut jws = rfc7515_a3_jws();
        jws.payload = flip(&jws.payload, 5);
        assert_eq!(verify(&key, &jws), Err(JoseError::BadSignature));
        for byte in [0, 31, 32, 63] {
            let mut jws = rfc7515_a3_jws();
            jws.signature = flip(&jws.signature, byte);
            assert_eq!(verify(&key, &jws), Err(JoseError::BadSignature), "byte {byte}");
        }
        let mut jws = rfc7515_a3_jws();
        jws.signature = b64_encode(&[0u8; 64]);
        assert_eq!(verify(&key, &jws), Err(JoseError::BadSignature));
        jws.signature = b64_encode(&[1u8; 70]);
        assert_eq!(verify(&key, &jws), Err(JoseError::SignatureLength(70)));
    }

    #[test]
    fn jws_other_key_fails() {
        let jws = rfc7515_a3_jws();
        assert_eq!(
            verify(rfc6979_key().verifying_key(), &jws),
            Err(JoseError::BadSignature)
        );
    }

    #[test]
    fn jws_refuses_none_other_alg_and_jwk() {
        let key = rfc7515_a3_key();
        let with_header = |h: &str| FlatJws {
            protected: Some(b64_encode(h.as_bytes())),
            ..rfc7515_a3_jws()
        };
        assert_eq!(verify(&key, &with_header(r#"{"alg":"none"}"#)), Err(JoseError::AlgNone));
        assert_eq!(
            verify(&key, &with_header(r#"{"alg":"HS256"}"#)),
            Err(JoseError::UnsupportedAlg("HS256".into()))
        );
        assert_eq!(
            verify(&key, &with_header(r#"{"typ":"JWT"}"#)),
            Err(JoseError::MissingMember("alg"))
        );
        assert_eq!(
            verify(&key, &with_header(r#"{"alg":"ES256","jwk":{"kty":"EC"}}"#)),
            Err(JoseError::ForbiddenHeader("jwk"))
        );
        // jwk in the unprotected header is refused too.
        let mut jws = rfc7515_a3_jws();
        let mut header = JsonObject::new();
        header.insert("jwk".into(), Value::Object(JsonObject::new()));
        jws.header = Some(header);
        assert_eq!(verify(&key, &jws), Err(JoseError::ForbiddenHeader("jwk")));
        // alg only in the unprotected header: refused (must be integrity protected).
        let mut jws = rfc7515_a3_jws();
        jws.protected = Some(b64_encode(b"{}"));
        let mut header = JsonObject::new();
        header.insert("alg".into(), "ES256".into());
        jws.header = Some(header);
        assert_eq!(verify(&key, &jws), Err(JoseError::MissingMember("alg")));
        // A kid in the unprotected header is fine.
        let mut jws = rfc7515_a3_jws();
        let mut header = JsonObject::new();
        header.insert("kid".into(), "e9bc097a-ce51-4036-9562-d2ade882db0d".into());
        jws.header = Some(header);
        assert!(verify(&key, &jws).is_ok());
    }

    #[test]
    fn jws_compact_round_trip_and_malformed() {
        let key = rfc6979_key();
        let token = sign_compact(&key, &JwsHeader::es256(), b"hello");
        assert_eq!(token.split('.').count(), 3);
        let verified = verify_compact(key.verifying_key(), &token).unwrap();
        assert_eq!(verified.payload, b"hello");
        assert_eq!(
            verify_compact(key.verifying_key(), "a.b"),
            Err(JoseError::BadCompact(3))
        );
        assert_eq!(
            verify_compact(key.verifying_key(), &format!("{token}.x")),
            Err(JoseError::BadCompact(3))
        );
    }
}
