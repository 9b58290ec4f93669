//! Fault injection on reformatted N32-f messages, for tests and the simulator: each [`Fault`]
//! turns a good message into one the receiving SEPP must refuse with
//! [`Fault::expected`].
//!
//! - Network and RI tampering (no key needed): bit flips, header and metadata edits, dropped or
//!   forged JWS, JWS from the wrong RI.
//! - A misbehaving sending SEPP (needs [`FaultEnv`], the sender's key and a nonce): the message
//!   is decrypted and re-sealed with the defect. Re-sealing changes the tag, so any JWS already
//!   appended is dropped: apply sender faults before the RI hops.

use serde_json::{Value, json};

use super::{
    DataToIntegrityProtectAndCipherBlock, DataToIntegrityProtectBlock, EncodedHttpHeaderValue, FailureReason,
    IndexToEncryptedValue, Modifications, N32fErrorType, PatchItem, ProtectError, Reformatted, RiError, RiIdentity,
    ri_modify, seal, sign_modifications,
};
use crate::crypto::jose::{self, FlatJwe};

/// A defect to inject.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Flip one bit of the ciphertext.
    TamperCiphertext,
    /// Change `metaData.messageId` in the aad.
    TamperAad,
    /// Flip one bit of the JWE tag.
    TamperTag,
    /// An unsupported `enc` in the protected header.
    BadJweHeader,
    /// `metaData.n32fContextId` names no context.
    UnknownContext,
    /// The RI (which must be the next expected signer) changes a non-modifiable IE
    /// (`/requestLine/authority`, or `/statusLine` in a response).
    TamperModification(RiIdentity),
    /// The RI's patch does not apply (a failing `test`).
    BadPatch(RiIdentity),
    /// An RI that is not the expected signer appends a valid JWS.
    UnauthorisedRi(RiIdentity),
    /// The RI signs a Modifications whose tag belongs to another message.
    ReplayedModification(RiIdentity),
    /// Flip one bit of the last JWS signature (needs a JWS).
    ForgeSignature,
    /// Drop the whole `modificationsBlock` (needs a JWS).
    StripModifications,
    /// The sender sealed with a different key.
    WrongKey,
    /// The sender wrote an `encBlockIndex` past `dataToEncrypt`.
    BadEncBlockIndex,
    /// The sender wrote an `iePath` that is not a JSON pointer.
    BadIePath,
    /// The sender wrote an invalid header name.
    BadHeader,
}

impl Fault {
    /// The error type (and reconstruction reason) the receiver reports.
    pub fn expected(&self) -> (N32fErrorType, Option<FailureReason>) {
        use N32fErrorType as E;
        match self {
            Fault::TamperCiphertext | Fault::TamperAad | Fault::TamperTag | Fault::WrongKey => {
                (E::IntegrityCheckFailed, None)
            }
            Fault::BadJweHeader => (E::DecipheringFailed, None),
            Fault::UnknownContext => (E::ContextNotFound, None),
            Fault::TamperModification(_) | Fault::BadPatch(_) => (E::ModificationsInstructionsFailed, None),
            Fault::UnauthorisedRi(_)
            | Fault::ReplayedModification(_)
            | Fault::ForgeSignature
            | Fault::StripModifications => (E::IntegrityCheckOnModificationsFailed, None),
            Fault::BadEncBlockIndex => (
                E::MessageReconstructionFailed,
                Some(FailureReason::InvalidIndexToEncryptedBlock),
            ),
            Fault::BadIePath => (E::MessageReconstructionFailed, Some(FailureReason::InvalidJsonPointer)),
            Fault::BadHeader => (E::MessageReconstructionFailed, Some(FailureReason::InvalidHttpHeader)),
        }
    }
}

/// The sending SEPP's key material, for sender-side faults.
#[derive(Clone, Debug)]
pub struct FaultEnv {
    /// The key the message was sealed with.
    pub key: Vec<u8>,
    /// Nonce for re-sealing.
    pub nonce: [u8; 12],
}

/// Why a fault could not be injected (the message lacks what the fault needs).
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
pub enum FaultError {
    /// The fault needs a JWS and the message has none.
    #[error("fault: message has no modifications")]
    NoModification,
    /// The fault needs a header (BadHeader) or an encrypted value and the message has none.
    #[error("fault: message has nothing to corrupt for this fault")]
    NothingToCorrupt,
    /// The JWE could not be read or reopened with the environment's key.
    #[error("fault: cannot reopen the message")]
    Unreadable,
    /// An RI step failed.
    #[error("fault: {0}")]
    Ri(#[from] RiError),
    /// Re-sealing failed.
    #[error("fault: {0}")]
    Protect(#[from] ProtectError),
}

/// Flips the lowest bit of the first decoded byte of a base64url member.
fn flip_b64(member: &str) -> Option<String> {
    let mut bytes = jose::b64_decode(member, "member").ok()?;
    *bytes.first_mut()? ^= 1;
    Some(jose::b64_encode(&bytes))
}

fn read_aad(jwe: &FlatJwe) -> Result<DataToIntegrityProtectBlock, FaultError> {
    let bytes = jose::b64_decode(jwe.aad.as_deref().ok_or(FaultError::Unreadable)?, "aad")
        .map_err(|_| FaultError::Unreadable)?;
    serde_json::from_slice(&bytes).map_err(|_| FaultError::Unreadable)
}

fn write_aad(jwe: &mut FlatJwe, block: &DataToIntegrityProtectBlock) {
    jwe.aad = Some(jose::b64_encode(&serde_json::to_vec(block).expect("block serializes")));
}

/// Decrypts with the sender's key, lets `edit` corrupt the parts, re-seals; drops any JWS.
fn reseal<M: Reformatted>(
    msg: &M,
    env: &FaultEnv,
    key: &[u8],
    edit: impl FnOnce(&mut DataToIntegrityProtectBlock, &mut Vec<Value>) -> Result<(), FaultError>,
) -> Result<M, FaultError> {
    let opened = jose::decrypt(&env.key, msg.jwe()).map_err(|_| FaultError::Unreadable)?;
    let mut block = read_aad(msg.jwe())?;
    let mut data = if opened.plaintext.is_empty() {
        Vec::new()
    } else {
        serde_json::from_slice::<DataToIntegrityProtectAndCipherBlock>(&opened.plaintext)
            .map_err(|_| FaultError::Unreadable)?
            .data_to_encrypt
    };
    edit(&mut block, &mut data)?;
    let mut out = msg.clone();
    *out.jwe_mut() = seal(&block, &data, opened.enc, key, env.nonce)?;
    *out.modifications_mut() = None;
    Ok(out)
}

/// Injects `fault` into `msg`.
pub fn apply_fault<M: Reformatted>(msg: &M, fault: &Fault, env: &FaultEnv) -> Result<M, FaultError> {
    let mut out = msg.clone();
    let unreadable = || FaultError::Unreadable;
    match fault {
        Fault::TamperCiphertext => {
            let jwe = out.jwe_mut();
            // An empty ciphertext (nothing encrypted) has no bit to flip: append a byte instead.
            jwe.ciphertext = flip_b64(&jwe.ciphertext).unwrap_or_else(|| jose::b64_encode(&[0]));
        }
        Fault::TamperTag => {
            let jwe = out.jwe_mut();
            jwe.tag = Some(flip_b64(jwe.tag.as_deref().ok_or_else(unreadable)?).ok_or_else(unreadable)?);
        }
        Fault::TamperAad => {
            let mut block = read_aad(out.jwe())?;
            let meta = block.meta_data.as_mut().ok_or_else(unreadable)?;
            meta.message_id.push('9');
            write_aad(out.jwe_mut(), &block);
        }
        Fault::UnknownContext => {
            let mut block = read_aad(out.jwe())?;
            let meta = block.meta_data.as_mut().ok_or_else(unreadable)?;
            meta.n32f_context_id = "FFFFFFFFFFFFFFFF".into();
            write_aad(out.jwe_mut(), &block);
        }
        Fault::BadJweHeader => {
            out.jwe_mut().protected = Some(jose::b64_encode(br#"{"alg":"dir","enc":"A192GCM"}"#));
        }
        Fault::TamperModification(ri) => {
            let block = read_aad(out.jwe())?;
            let op = if block.request_line.is_some() {
                PatchItem::replace("/requestLine/authority", json!("evil.example"))
            } else {
                PatchItem::replace("/statusLine", json!("500"))
            };
            out = ri_modify(&out, ri, vec![op])?;
        }
        Fault::BadPatch(ri) => {
            // `test` is allowed by policy and cannot be pre-checked by ri_modify's apply if we
            // sign directly.
            let mods = Modifications {
                identity: ri.fqdn.clone(),
                operations: Some(vec![PatchItem::test("/metaData/messageId", json!("not-this-one"))]),
                tag: out.jwe().tag.clone(),
            };
            out.modifications_mut()
                .get_or_insert_with(Vec::new)
                .push(sign_modifications(ri, &mods));
        }
        Fault::UnauthorisedRi(ri) => out = ri_modify(&out, ri, Vec::new())?,
        Fault::ReplayedModification(ri) => {
            let mods = Modifications {
                identity: ri.fqdn.clone(),
                operations: None,
                tag: Some(flip_b64(out.jwe().tag.as_deref().ok_or_else(unreadable)?).ok_or_else(unreadable)?),
            };
            out.modifications_mut()
                .get_or_insert_with(Vec::new)
                .push(sign_modifications(ri, &mods));
        }
        Fault::ForgeSignature => {
            let jws = out
                .modifications_mut()
                .as_mut()
                .and_then(|l| l.last_mut())
                .ok_or(FaultError::NoModification)?;
            jws.signature = flip_b64(&jws.signature).ok_or_else(unreadable)?;
        }
        Fault::StripModifications => {
            if out.modifications().is_empty() {
                return Err(FaultError::NoModification);
            }
            *out.modifications_mut() = None;
        }
        Fault::WrongKey => {
            let wrong: Vec<u8> = env.key.iter().map(|b| b ^ 0x5a).collect();
            out = reseal(msg, env, &wrong, |_, _| Ok(()))?;
        }
        Fault::BadEncBlockIndex => {
            out = reseal(msg, env, &env.key, |block, data| {
                let past = IndexToEncryptedValue {
                    enc_block_index: super::ENC_BLOCK_INDEX_BASE + data.len() as u64,
                };
                let header = block
                    .headers
                    .iter_mut()
                    .flatten()
                    .next()
                    .ok_or(FaultError::NothingToCorrupt)?;
                header.value = EncodedHttpHeaderValue::Index(past);
                Ok(())
            })?;
        }
        Fault::BadIePath => {
            out = reseal(msg, env, &env.key, |block, _| {
                let entry = block
                    .payload
                    .iter_mut()
                    .flatten()
                    .next()
                    .ok_or(FaultError::NothingToCorrupt)?;
                entry.ie_path = "no-leading-slash".into();
                Ok(())
            })?;
        }
        Fault::BadHeader => {
            out = reseal(msg, env, &env.key, |block, _| {
                let header = block
                    .headers
                    .iter_mut()
                    .flatten()
                    .next()
                    .ok_or(FaultError::NothingToCorrupt)?;
                header.header = "bad header".into();
                Ok(())
            })?;
        }
    }
    Ok(out)
}
