//! Fuzz target `prins`: N32-f PRINS protected messages (JWE + RI JWS, JSON serialisations)
//! as a receiving SEPP or a Roaming Intermediary gets them, decoded and verified or decrypted
//! with fixed keys.
//!
//! Two ways of using the input, both on every input:
//!
//! - **raw**: the whole input is the `n32f-process` body, decoded as
//!   `N32fReformattedReqMsg` and `N32fReformattedRspMsg` (`FlatJwe`, `FlatJws`), then
//!   `prins::unprotect` / `unprotect_response` (aad and metaData decoding, context lookup,
//!   `jose::decrypt`, `jose::verify` of each JWS, `Modifications` decoding, policy checks,
//!   JSON patch, rebuild with `decode_query`), `prins::ri_view` and `ri_modify` (the RI's
//!   reading of unverified earlier patches) and `fault::apply_fault` for every fault (the
//!   costlier steps on some inputs only, by the input's length: see `receive`);
//! - **sealed**: the input is split at NUL bytes into `flags` (a byte: see `receive`; 0x01 sets
//!   each payload's `tag`, 0x02 also tries the message as a response), the aad, the JWE
//!   plaintext and up to two `Modifications` payloads. The aad and plaintext are sealed into a valid JWE with
//!   the fixed context key and each payload is signed with the expected RI's key (its `tag`
//!   member set to the JWE tag when a flag says so), so that the decoders behind the
//!   cryptographic checks see fuzzed content: `DataToIntegrityProtectBlock`,
//!   `DataToIntegrityProtectAndCipherBlock`, `Modifications` and `PatchItem`
//!   (`prins::patch::apply`, `parse_pointer`), the modification policy and the HTTP rebuild.
//!
//! Also reached: `jose::b64_decode`, `jose::decrypt` and `jose::verify` on the raw members,
//! `jose::verify_compact` on the raw input, `prins::patch::parse_pointer` / `get` on a
//! fuzzed pointer, `crypto::n32f::aead_open` and `N32fKeys::open` (the N32-f AEAD under
//! derived keys) on the raw bytes.
#![no_main]

use std::collections::BTreeMap;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use p256::ecdsa::{SigningKey, VerifyingKey};
use secsim::crypto::jose::{self, Enc, FlatJws, JweHeader, JwsHeader};
use secsim::crypto::n32f::{self, Direction, JweEnc, KdfContextId, N32ContextIds, N32Master, N32fKeys};
use secsim::proto::n32::prins::fault::{Fault, FaultEnv, apply_fault};
use secsim::proto::n32::prins::{
    self, ApiRule, ContextKeys, IeLocation, IeRule, IeType, KeyExpiry, N32fReformattedReqMsg, N32fReformattedRspMsg,
    PolicyView, RecvContext, Reformatted, RiIdentity, patch,
};
use serde_json::Value;

const CRI: &str = "cri.ipx-a.example";
const PRI: &str = "pri.ipx-b.example";
const API: &str = "/nudm-uecm/v1/{ueId}/registrations/amf-3gpp-access";
const KEY: [u8; 32] = [0x6f; 32];

/// The two RIs, their verifying keys and the policy: computed once.
static RIS: LazyLock<[RiIdentity; 2]> = LazyLock::new(|| [ri(CRI, 1), ri(PRI, 2)]);
static RI_KEYS: LazyLock<BTreeMap<String, VerifyingKey>> =
    LazyLock::new(|| RIS.iter().map(|r| (r.fqdn.clone(), *r.key.verifying_key())).collect());
static POLICY: LazyLock<PolicyView> = LazyLock::new(policy);

fn ri(name: &str, byte: u8) -> RiIdentity {
    RiIdentity {
        fqdn: name.into(),
        key: SigningKey::from_slice(&[byte; 32]).unwrap(),
    }
}

fn policy() -> PolicyView {
    use IeLocation::*;
    use IeType::*;
    PolicyView {
        api_ie_mapping_list: vec![ApiRule {
            api_signature: API.into(),
            api_method: "PUT".into(),
            ie_list: vec![
                IeRule::new(Header, AuthorizationToken, "Authorization"),
                IeRule::new(Header, Nonsensitive, "x-route")
                    .modifiable_by(CRI)
                    .modifiable_by(PRI),
                IeRule::new(UriParam, Ueid, "supi"),
                IeRule::new(UriParam, Nonsensitive, "plmn-id").modifiable(),
                IeRule::new(Body, Ueid, "/supi"),
                IeRule::new(Body, Location, "/ratInfo/cellId"),
                IeRule::new(Body, Nonsensitive, "/servingNetwork").modifiable_by(CRI),
                IeRule::new(Body, Nonsensitive, "/pei").modifiable_by(PRI),
                IeRule::new(Body, Nonsensitive, "").modifiable(),
            ],
        }],
        data_type_enc_policy: PolicyView::default_enc_types(),
    }
}

/// Everything a receiver (and an RI) does with a message. `flags` picks the receiver's
/// configuration and the costlier steps (each adds signatures): 0x04 a local RI (pRI) that
/// must sign last, 0x10/0x20 an expired key, 0x40 the RIs' own modifications, 0x80 every
/// fault injection.
fn receive<M: Reformatted + serde::Serialize>(
    msg: &M,
    flags: u8,
    unprotect: impl Fn(&RecvContext, &M, &dyn Fn(&str) -> Option<ContextKeys>) -> bool,
) {
    let expired = match flags & 0x30 {
        0x10 => Some(KeyExpiry::Integrity),
        0x20 => Some(KeyExpiry::Encryption),
        _ => None,
    };
    let lookup = |id: &str| -> Option<ContextKeys> {
        (!id.starts_with('X')).then(|| ContextKeys {
            key: KEY.to_vec(),
            enc: Enc::A256Gcm,
            expired,
        })
    };
    let rx = RecvContext {
        local_ri: (flags & 0x04 != 0).then(|| PRI.to_string()),
    };
    let _ = unprotect(&rx, msg, &lookup);
    let _ = prins::ri_view(msg);
    let _ = prins::wire_len(msg);
    if flags & 0x40 != 0 {
        let _ = prins::ri_modify(msg, &RIS[0], Vec::new());
        let _ = prins::ri_modify(
            msg,
            &RIS[1],
            vec![patch::PatchItem::replace("/headers/0/value", Value::String("x".into()))],
        );
    }
    if flags & 0x80 == 0 {
        return;
    }
    let env = FaultEnv {
        key: KEY.to_vec(),
        nonce: [3; 12],
    };
    for fault in [
        Fault::TamperCiphertext,
        Fault::TamperAad,
        Fault::TamperTag,
        Fault::BadJweHeader,
        Fault::UnknownContext,
        Fault::TamperModification(RIS[0].clone()),
        Fault::BadPatch(RIS[1].clone()),
        Fault::UnauthorisedRi(RIS[1].clone()),
        Fault::ReplayedModification(RIS[0].clone()),
        Fault::ForgeSignature,
        Fault::StripModifications,
        Fault::WrongKey,
        Fault::BadEncBlockIndex,
        Fault::BadIePath,
        Fault::BadHeader,
    ] {
        if let Ok(faulty) = apply_fault(msg, &fault, &env) {
            let _ = unprotect(&RecvContext::default(), &faulty, &lookup);
        }
    }
}

fn receive_req(msg: &N32fReformattedReqMsg, flags: u8) {
    receive(msg, flags, |rx, m, lookup| {
        prins::unprotect(rx, m, lookup, &RI_KEYS, &POLICY).is_ok()
    });
}

fn receive_rsp(msg: &N32fReformattedRspMsg, flags: u8) {
    let api = ("PUT", "/nudm-uecm/v1/imsi-1/registrations/amf-3gpp-access");
    receive(msg, flags, |rx, m, lookup| {
        prins::unprotect_response(rx, m, api, lookup, &RI_KEYS, &POLICY).is_ok()
    });
}

/// Signs a Modifications payload as `ri`; with `fix_tag`, a JSON object payload gets the
/// JWE's tag.
fn sign(ri: &RiIdentity, payload: &[u8], tag: Option<&str>, fix_tag: bool) -> FlatJws {
    let mut bytes = payload.to_vec();
    if fix_tag && let Ok(Value::Object(mut map)) = serde_json::from_slice::<Value>(payload) {
        if let Some(t) = tag {
            map.insert("tag".into(), Value::String(t.to_string()));
        }
        map.entry("identity").or_insert_with(|| Value::String(ri.fqdn.clone()));
        bytes = serde_json::to_vec(&map).unwrap_or(bytes);
    }
    jose::sign(&ri.key, &JwsHeader::es256_with_kid(ri.fqdn.clone()), &bytes)
}

fuzz_target!(|data: &[u8]| {
    let ris = &*RIS;
    // Raw mode's flags: the input's length, so that every step is reached by some inputs.
    let raw_flags = data.len() as u8;

    // Raw: the body as received.
    if let Ok(msg) = serde_json::from_slice::<N32fReformattedReqMsg>(data) {
        receive_req(&msg, raw_flags);
        let _ = jose::decrypt(&KEY, msg.jwe());
        let _ = jose::decrypt(&KEY[..16], msg.jwe());
        for jws in msg.modifications() {
            for r in ris {
                let _ = jose::verify(r.key.verifying_key(), jws);
            }
        }
    }
    if let Ok(msg) = serde_json::from_slice::<N32fReformattedRspMsg>(data) {
        receive_rsp(&msg, raw_flags);
    }
    let text = String::from_utf8_lossy(data);
    let _ = jose::verify_compact(ris[0].key.verifying_key(), &text);
    let _ = jose::b64_decode(&text, "fuzz");
    if let Ok(tokens) = patch::parse_pointer(&text) {
        let _ = patch::format_pointer(&tokens);
        let doc = serde_json::json!({"a": [1, {"b": null}], "": {"~/": 2}});
        let _ = patch::get(&doc, &text);
    }
    if data.len() >= 12 {
        let (nonce, rest) = data.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().unwrap();
        let _ = n32f::aead_open(JweEnc::A128Gcm, &KEY[..16], &nonce, b"aad", rest);
        let _ = n32f::aead_open(JweEnc::A256Gcm, &KEY, &nonce, b"", rest);
        let keys = N32fKeys::derive(
            &N32Master::from_bytes([9; 64]),
            &N32ContextIds {
                initiator: "0123456789ABCDEF".into(),
                responder: "FEDCBA9876543210".into(),
            },
            KdfContextId::Sender,
            JweEnc::A256Gcm,
        );
        if rest.len() >= 16 {
            let (tag, ct) = rest.split_at(16);
            let tag: [u8; 16] = tag.try_into().unwrap();
            for dir in Direction::ALL {
                let _ = keys.open(dir, &nonce, b"", ct, &tag);
            }
        }
    }

    // Sealed: fuzzed content behind valid cryptography.
    let mut parts = data.splitn(5, |&b| b == 0);
    let flags = parts.next().and_then(|p| p.first().copied()).unwrap_or(0);
    let aad = parts.next().unwrap_or_default();
    let plaintext = parts.next().unwrap_or_default();
    let mods: Vec<&[u8]> = parts.collect();
    let Ok(jwe) = jose::encrypt(&KEY, &[flags; 12], &JweHeader::dir(Enc::A256Gcm), Some(aad), plaintext) else {
        return;
    };
    let fix_tag = flags & 0x01 != 0;
    let block: Option<Vec<FlatJws>> = (!mods.is_empty()).then(|| {
        mods.iter()
            .enumerate()
            .map(|(i, p)| sign(&ris[i.min(1)], p, jwe.tag.as_deref(), fix_tag))
            .collect()
    });
    let req = N32fReformattedReqMsg {
        reformatted_data: jwe.clone(),
        modifications_block: block.clone(),
    };
    receive_req(&req, flags);
    if flags & 0x02 != 0 {
        let rsp = N32fReformattedRspMsg {
            reformatted_data: jwe,
            modifications_block: block,
        };
        receive_rsp(&rsp, flags);
    }
});
