use super::fault::{Fault, FaultEnv, apply_fault};
use super::*;
use crate::crypto::pki::key_from_rng;
use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;

const CTX: &str = "0123456789ABCDEF";
const CRI: &str = "cri.ipx-a.example";
const PRI: &str = "pri.ipx-b.example";
const ROGUE: &str = "rogue.ipx-c.example";
const API: &str = "/nudm-uecm/v1/{ueId}/registrations/amf-3gpp-access";

fn ri(name: &str, seed: u64) -> RiIdentity {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    RiIdentity {
        fqdn: name.into(),
        key: key_from_rng(&mut rng),
    }
}

fn ris() -> (RiIdentity, RiIdentity, RiIdentity) {
    (ri(CRI, 1), ri(PRI, 2), ri(ROGUE, 3))
}

fn ri_keys(list: &[&RiIdentity]) -> BTreeMap<String, VerifyingKey> {
    list.iter().map(|r| (r.fqdn.clone(), *r.key.verifying_key())).collect()
}

fn key() -> Vec<u8> {
    hex::decode("6fc8927fe7328bc1c6e90871b5ce75e56840332bbbcb6b4f3addfc0d5c1b1749").unwrap()
}

fn nonce(seq: u32) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[..8].copy_from_slice(&hex::decode("4bc0f5974db1bf8d").unwrap());
    n[8..].copy_from_slice(&seq.to_be_bytes());
    n
}

fn lookup(id: &str) -> Option<ContextKeys> {
    (id == CTX).then(|| ContextKeys {
        key: key(),
        enc: Enc::A256Gcm,
        expired: None,
    })
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
                IeRule::new(Body, AuthenticationMaterial, "/authInfo/av"),
                IeRule::new(Body, Location, "/ratInfo/cellId"),
                IeRule::new(Body, Nonsensitive, "/servingNetwork").modifiable_by(CRI),
                IeRule::new(Body, Nonsensitive, "/pei").modifiable_by(PRI),
            ],
        }],
        data_type_enc_policy: PolicyView::default_enc_types(),
    }
}

fn request() -> HttpMessage {
    HttpMessage {
        method: "PUT".into(),
        scheme: "https".into(),
        authority: "udm.5gc.mnc001.mcc001.3gppnetwork.org".into(),
        path: "/nudm-uecm/v1/imsi-001010000000001/registrations/amf-3gpp-access".into(),
        query: vec![
            ("dnn".into(), "internet & more".into()),
            ("plmn-id".into(), "00101".into()),
            ("supi".into(), "imsi-001010000000001".into()),
        ],
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("Authorization".into(), "Bearer eyJhbGciOiJFUzI1NiJ9.e30.sig".into()),
            ("x-route".into(), "hop1".into()),
        ],
        body: json!({
            "supi": "imsi-001010000000001",
            "pei": "imeisv-4370816125816151",
            "servingNetwork": {"mcc": "001", "mnc": "01"},
            "authInfo": {"av": {"rand": "00112233", "autn": "44556677"}, "type": "5G_AKA"},
            "ratInfo": {"rat": "NR", "cellId": 42},
            "list": [1, 2, {"x": null}]
        }),
    }
}

fn send_ctx(authorized: Option<&str>) -> SendContext {
    SendContext {
        n32f_context_id: CTX.into(),
        message_id: 7,
        authorized_ipx_id: authorized.map(str::to_owned),
        enc: Enc::A256Gcm,
    }
}

fn aad_json(msg: &impl Reformatted) -> Value {
    serde_json::from_slice(&jose::b64_decode(msg.jwe().aad.as_deref().unwrap(), "aad").unwrap()).unwrap()
}

#[test]
fn vector_digest7_jwe() {
    //= DIGEST 7: JWE with parallel_request_key, nonce = salt || 00000000, aad = metaData only
    let block = DataToIntegrityProtectBlock {
        meta_data: Some(MetaData {
            n32f_context_id: CTX.into(),
            message_id: "1".into(),
            authorized_ipx_id: None,
        }),
        ..Default::default()
    };
    assert_eq!(
        serde_json::to_string(&block).unwrap(),
        r#"{"metaData":{"n32fContextId":"0123456789ABCDEF","messageId":"1","authorizedIpxId":null}}"#
    );
    let jwe = seal(&block, &[json!("imsi-001010000000001")], Enc::A256Gcm, &key(), nonce(0)).unwrap();
    assert_eq!(
        jwe.protected.as_deref(),
        Some(jose::b64_encode(br#"{"alg":"dir","enc":"A256GCM"}"#).as_str())
    );
    assert_eq!(
        jwe.ciphertext,
        "fcmzuShEVHHHbSJE1mmHMOno8BvTU11XF8qXCEZCeGDKBLFI1z_yXE5u"
    );
    assert_eq!(jwe.tag.as_deref(), Some("mGLt16XCYWFSJCnxR5yFdw"));
    // The receiver opens it (no request line: the API is given as for a response).
    let msg = N32fReformattedRspMsg {
        reformatted_data: jwe,
        modifications_block: None,
    };
    let opened = open(
        &RecvContext::default(),
        (&msg, None),
        lookup,
        &BTreeMap::new(),
        &policy(),
        Direction::Response,
        Some(("PUT", "/x")),
        &mut Verification::default(),
    )
    .unwrap();
    assert_eq!(opened.data, vec![json!("imsi-001010000000001")]);
}

#[test]
fn protect_request_hides_encrypted_ies() {
    let msg = protect(&send_ctx(None), &request(), &policy(), &key(), nonce(1)).unwrap();
    let aad = aad_json(&msg);
    // The path itself is not protected (path parameters are not modelled): leave it out.
    let mut rest = aad.clone();
    rest["requestLine"]["path"] = json!("");
    let text = rest.to_string();
    for secret in ["001010000000001", "Bearer", "00112233", "cellId\":42"] {
        assert!(!text.contains(secret), "{secret} leaked in {text}");
    }
    // 1-based indices, in order: header Authorization, URI param supi, body /supi, /authInfo/av, /ratInfo/cellId.
    assert_eq!(aad["headers"][1]["value"], json!({"encBlockIndex": 1}));
    assert_eq!(aad["headers"][2]["value"], json!("hop1"));
    assert_eq!(aad["requestLine"]["queryFragment"], json!("dnn=internet%20%26%20more"));
    assert_eq!(
        aad["payload"][0],
        json!({"iePath": "/plmn-id", "ieValueLocation": "URI_PARAM", "value": "00101"})
    );
    assert_eq!(aad["payload"][1]["value"], json!({"encBlockIndex": 2}));
    assert_eq!(aad["payload"][2]["iePath"], json!(""));
    assert_eq!(aad["payload"][2]["value"]["supi"], json!({"encBlockIndex": 3}));
    assert_eq!(
        aad["payload"][2]["value"]["authInfo"]["av"],
        json!({"encBlockIndex": 4})
    );
    assert_eq!(
        aad["payload"][2]["value"]["ratInfo"]["cellId"],
        json!({"encBlockIndex": 5})
    );
    assert_eq!(aad["metaData"]["messageId"], json!("7"));
    assert!(msg.modifications_block.is_none());
}

/// Query order after a round trip: parameters no rule names, then the named ones.
fn normalized(mut msg: HttpMessage, policy: &PolicyView) -> HttpMessage {
    let rules = &policy.api(&msg.method, &msg.path).unwrap().ie_list;
    let named = |k: &str| {
        rules
            .iter()
            .any(|r| r.ie_loc == Some(IeLocation::UriParam) && r.req_ie.as_deref() == Some(k))
    };
    let (mut clear, rest): (Vec<_>, Vec<_>) = msg.query.into_iter().partition(|(k, _)| !named(k));
    clear.extend(rest);
    msg.query = clear;
    msg
}

#[test]
fn unprotect_request_roundtrip_no_ri() {
    let req = request();
    let msg = protect(&send_ctx(None), &req, &policy(), &key(), nonce(1)).unwrap();
    let got = unprotect(&RecvContext::default(), &msg, lookup, &BTreeMap::new(), &policy()).unwrap();
    assert_eq!(got.message, normalized(req, &policy()));
    assert_eq!(got.meta.message_id, "7");
    assert!(got.ipx_chain.is_empty());
}

#[test]
fn unprotect_response_roundtrip() {
    let rsp = HttpResponse {
        status: 201,
        headers: vec![("location".into(), "https://udm/x".into())],
        body: json!({"supi": "imsi-1", "pei": "imei-1", "servingNetwork": {"mcc": "001"}}),
    };
    let ctx = send_ctx(Some(CRI));
    let api = ("PUT", "/nudm-uecm/v1/imsi-1/registrations/amf-3gpp-access");
    let msg = protect_response(&ctx, &rsp, api, &policy(), &key(), nonce(2)).unwrap();
    assert_eq!(aad_json(&msg)["statusLine"], json!("201"));
    let (cri, _, _) = ris();
    let msg = ri_modify(
        &msg,
        &cri,
        vec![PatchItem::replace("/payload/0/value/servingNetwork/mcc", json!("999"))],
    )
    .unwrap();
    let got = unprotect_response(&RecvContext::default(), &msg, api, lookup, &ri_keys(&[&cri]), &policy()).unwrap();
    let mut want = rsp;
    want.body["servingNetwork"]["mcc"] = json!("999");
    assert_eq!(got.message, want);
    assert_eq!(got.ipx_chain, vec![CRI.to_owned()]);
}

#[test]
fn unprotect_two_ris_modify_allowed_ies() {
    let (cri, pri, _) = ris();
    let req = request();
    let msg = protect(&send_ctx(Some(CRI)), &req, &policy(), &key(), nonce(3)).unwrap();
    // cRI: rewrites a header, a body IE, a URI param; adds a header.
    let msg = ri_modify(
        &msg,
        &cri,
        vec![
            PatchItem::replace("/headers/2/value", json!("hop1,cri")),
            PatchItem::add("/payload/2/value/servingNetwork/nid", json!("abc")),
            PatchItem::replace("/payload/0/value", json!("99999")),
            PatchItem::add("/headers/-", json!({"header": "X-Route", "value": "extra"})),
        ],
    )
    .unwrap();
    // pRI: sees the cRI's changes; modifies what it may, and moves nothing encrypted.
    let view = ri_view(&msg).unwrap();
    assert_eq!(view["headers"][2]["value"], json!("hop1,cri"));
    let msg = ri_modify(
        &msg,
        &pri,
        vec![
            PatchItem::test("/headers/2/value", json!("hop1,cri")),
            PatchItem::replace("/payload/2/value/pei", json!("imeisv-0")),
            PatchItem::remove("/headers/3"),
        ],
    )
    .unwrap();
    assert_eq!(msg.modifications_block.as_ref().unwrap().len(), 2);
    let rx = RecvContext {
        local_ri: Some(PRI.into()),
        ..RecvContext::default()
    };
    let got = unprotect(&rx, &msg, lookup, &ri_keys(&[&cri, &pri]), &policy()).unwrap();
    let mut want = normalized(req, &policy());
    want.headers[2].1 = "hop1,cri".into();
    want.body["servingNetwork"]["nid"] = json!("abc");
    want.body["pei"] = json!("imeisv-0");
    want.query[1].1 = "99999".into();
    assert_eq!(got.message, want);
    assert_eq!(got.ipx_chain, vec![CRI.to_owned(), PRI.to_owned()]);
    // A third RI is refused.
    assert_eq!(ri_modify(&msg, &cri, vec![]).unwrap_err(), RiError::TooManyHops(2));
}

#[test]
fn unprotect_ri_without_change_still_signs() {
    let (cri, _, _) = ris();
    let msg = protect(&send_ctx(Some(CRI)), &request(), &policy(), &key(), nonce(4)).unwrap();
    let msg = ri_modify(&msg, &cri, vec![]).unwrap();
    let jws = &msg.modifications_block.as_ref().unwrap()[0];
    let payload: Value = serde_json::from_slice(&jose::b64_decode(&jws.payload, "p").unwrap()).unwrap();
    assert_eq!(payload, json!({"identity": CRI, "tag": msg.reformatted_data.tag}));
    let header: Value =
        serde_json::from_slice(&jose::b64_decode(jws.protected.as_ref().unwrap(), "p").unwrap()).unwrap();
    assert_eq!(header, json!({"alg": "ES256", "kid": CRI}));
    unprotect(&RecvContext::default(), &msg, lookup, &ri_keys(&[&cri]), &policy()).unwrap();
    // Without the JWS the authorized RI's absence is detected.
    let mut stripped = msg.clone();
    stripped.modifications_block = None;
    let err = unprotect(&RecvContext::default(), &stripped, lookup, &ri_keys(&[&cri]), &policy()).unwrap_err();
    assert_eq!(err.n32f_error_type, N32fErrorType::IntegrityCheckOnModificationsFailed);
    assert_eq!(err.failed_modification_list[0].ipx_id, CRI);
}

fn modification_error(ops: Vec<PatchItem>, ri_name: &str) -> N32fFault {
    let the_ri = ri(ri_name, 1);
    let msg = protect(&send_ctx(Some(ri_name)), &request(), &policy(), &key(), nonce(5)).unwrap();
    let msg = ri_modify(&msg, &the_ri, ops).unwrap();
    unprotect(&RecvContext::default(), &msg, lookup, &ri_keys(&[&the_ri]), &policy()).unwrap_err()
}

#[test]
fn unprotect_ri_outside_policy_refused() {
    use N32fErrorType::ModificationsInstructionsFailed as Mif;
    let cases = vec![
        // Not modifiable by anyone / not by this RI.
        (vec![PatchItem::replace("/headers/0/value", json!("text/plain"))], CRI),
        (vec![PatchItem::replace("/payload/2/value/pei", json!("x"))], CRI),
        (
            vec![PatchItem::replace("/payload/2/value/servingNetwork/mcc", json!("x"))],
            PRI,
        ),
        // Not IEs at all.
        (vec![PatchItem::replace("/requestLine/authority", json!("evil"))], CRI),
        (vec![PatchItem::replace("/metaData/messageId", json!("8"))], CRI),
        (vec![PatchItem::remove("/payload/0")], CRI),
        // Encrypted values: read, overwritten, moved, or indices introduced.
        (vec![PatchItem::replace("/headers/1/value", json!("Bearer x"))], CRI),
        (
            vec![PatchItem::copy(
                "/payload/2/value/supi",
                "/payload/2/value/servingNetwork/s",
            )],
            CRI,
        ),
        (
            vec![PatchItem::add(
                "/payload/2/value/servingNetwork/i",
                json!({"encBlockIndex": 1}),
            )],
            CRI,
        ),
        // Renaming a header through replace.
        (
            vec![PatchItem::replace(
                "/headers/2",
                json!({"header": "content-type", "value": "x"}),
            )],
            CRI,
        ),
    ];
    for (ops, who) in cases {
        let err = modification_error(ops.clone(), who);
        assert_eq!(err.n32f_error_type, Mif, "{ops:?}");
        assert_eq!(err.failed_modification_list[0].ipx_id, who);
        assert_eq!(err.n32f_message_id.as_deref(), Some("7"));
    }
}

#[test]
fn protect_refuses_ambiguous_and_unknown() {
    let mut req = request();
    req.body["list"][2] = json!({"encBlockIndex": 3});
    assert_eq!(
        protect(&send_ctx(None), &req, &policy(), &key(), nonce(0)).unwrap_err(),
        ProtectError::AmbiguousValue("/list/2".into())
    );
    // Inside an encrypted IE it is fine.
    let mut req = request();
    req.body["authInfo"]["av"] = json!({"encBlockIndex": 3});
    let msg = protect(&send_ctx(None), &req, &policy(), &key(), nonce(0)).unwrap();
    let got = unprotect(&RecvContext::default(), &msg, lookup, &BTreeMap::new(), &policy()).unwrap();
    assert_eq!(got.message.body, req.body);
    let mut req = request();
    req.path = "/other".into();
    assert!(matches!(
        protect(&send_ctx(None), &req, &policy(), &key(), nonce(0)),
        Err(ProtectError::NoPolicy { .. })
    ));
    let mut req = request();
    req.headers.push(("bad name".into(), "v".into()));
    assert!(matches!(
        protect(&send_ctx(None), &req, &policy(), &key(), nonce(0)),
        Err(ProtectError::InvalidHeader(_))
    ));
}

#[test]
fn unprotect_context_faults() {
    use N32fErrorType as E;
    let msg = protect(&send_ctx(None), &request(), &policy(), &key(), nonce(6)).unwrap();
    let keys = BTreeMap::new();
    let with = |expired: Option<KeyExpiry>, enc: Enc, k: Vec<u8>| {
        move |_: &str| {
            Some(ContextKeys {
                key: k.clone(),
                enc,
                expired,
            })
        }
    };
    let rx = RecvContext::default();
    let p = policy();
    let t = |r: Result<Unprotected<HttpMessage>, N32fFault>| r.unwrap_err().n32f_error_type;
    assert_eq!(t(unprotect(&rx, &msg, |_| None, &keys, &p)), E::ContextNotFound);
    let k = key();
    assert_eq!(
        t(unprotect(
            &rx,
            &msg,
            with(Some(KeyExpiry::Integrity), Enc::A256Gcm, k.clone()),
            &keys,
            &p
        )),
        E::IntegrityKeyExpired
    );
    assert_eq!(
        t(unprotect(
            &rx,
            &msg,
            with(Some(KeyExpiry::Encryption), Enc::A256Gcm, k.clone()),
            &keys,
            &p
        )),
        E::EncryptionKeyExpired
    );
    assert_eq!(
        t(unprotect(&rx, &msg, with(None, Enc::A128Gcm, k.clone()), &keys, &p)),
        E::DecipheringFailed
    );
    let mut wrong = k.clone();
    wrong[0] ^= 1;
    assert_eq!(
        t(unprotect(&rx, &msg, with(None, Enc::A256Gcm, wrong), &keys, &p)),
        E::IntegrityCheckFailed
    );
    // A local RI is expected but absent.
    let rx = RecvContext {
        local_ri: Some(PRI.into()),
        ..RecvContext::default()
    };
    let err = unprotect(&rx, &msg, lookup, &keys, &p).unwrap_err();
    assert_eq!(err.n32f_error_type, E::IntegrityCheckOnModificationsFailed);
    assert_eq!(err.failed_modification_list[0].ipx_id, PRI);
}

/// Each fault, applied after the cRI hop where it needs one, gives its documented error.
#[test]
fn fault_table() {
    let (cri, _pri, rogue) = ris();
    let env = FaultEnv {
        key: key(),
        nonce: nonce(99),
    };
    let keys = ri_keys(&[&cri, &rogue]);
    let p = policy();
    let fresh = || protect(&send_ctx(Some(CRI)), &request(), &p, &key(), nonce(8)).unwrap();
    let hopped = |m: &N32fReformattedReqMsg| ri_modify(m, &cri, vec![]).unwrap();
    let table: Vec<(Fault, bool)> = vec![
        // (fault, apply before the cRI hop)
        (Fault::TamperCiphertext, false),
        (Fault::TamperAad, false),
        (Fault::TamperTag, false),
        (Fault::BadJweHeader, false),
        (Fault::UnknownContext, false),
        (Fault::WrongKey, true),
        (Fault::BadEncBlockIndex, true),
        (Fault::BadIePath, true),
        (Fault::BadHeader, true),
        (Fault::ForgeSignature, false),
        (Fault::StripModifications, false),
        (Fault::UnauthorisedRi(rogue.clone()), true),
        (Fault::TamperModification(cri.clone()), true),
        (Fault::BadPatch(cri.clone()), true),
        (Fault::ReplayedModification(cri.clone()), true),
    ];
    for (fault, before_hop) in table {
        let msg = if before_hop {
            let faulted = apply_fault(&fresh(), &fault, &env).unwrap();
            match fault {
                // These faults are the first hop themselves.
                Fault::UnauthorisedRi(_)
                | Fault::TamperModification(_)
                | Fault::BadPatch(_)
                | Fault::ReplayedModification(_) => faulted,
                _ => hopped(&faulted),
            }
        } else {
            apply_fault(&hopped(&fresh()), &fault, &env).unwrap()
        };
        let err = unprotect(&RecvContext::default(), &msg, lookup, &keys, &p).unwrap_err();
        let (want, reason) = fault.expected();
        assert_eq!(err.n32f_error_type, want, "{fault:?}: {err}");
        assert_eq!(
            err.error_details_list.first().map(|d| d.msg_reconstruct_fail_reason),
            reason,
            "{fault:?}"
        );
        if matches!(
            want,
            N32fErrorType::IntegrityCheckOnModificationsFailed | N32fErrorType::ModificationsInstructionsFailed
        ) {
            assert_eq!(err.failed_modification_list.len(), 1, "{fault:?}");
        }
        // Every fault here leaves metaData readable, so the report names the message.
        assert!(err.n32f_message_id.is_some(), "{fault:?}");
    }
}

#[test]
fn sizes_documented_overhead() {
    let (cri, pri, _) = ris();
    let req = request();
    let msg = protect(&send_ctx(Some(CRI)), &req, &policy(), &key(), nonce(9)).unwrap();
    let aad = jose::b64_decode(msg.reformatted_data.aad.as_deref().unwrap(), "aad").unwrap();
    let ct = jose::b64_decode(&msg.reformatted_data.ciphertext, "c").unwrap();
    let base = wire_len(&msg);
    let predicted = (aad.len() + ct.len()) * 4 / 3 + 160;
    assert!(base.abs_diff(predicted) < 8, "wire {base} predicted {predicted}");
    let one = ri_modify(&msg, &cri, vec![PatchItem::replace("/headers/2/value", json!("v"))]).unwrap();
    let two = ri_modify(&one, &pri, vec![]).unwrap();
    let mods = |m: &N32fReformattedReqMsg| {
        let jws = m.modifications_block.as_ref().unwrap().last().unwrap();
        jose::b64_decode(&jws.payload, "p").unwrap().len()
    };
    for (before, after, kid, member) in [(&msg, &one, CRI, 23), (&one, &two, PRI, 1)] {
        let added = wire_len(after) - wire_len(before);
        let predicted = (mods(after) + kid.len()) * 4 / 3 + 162 + member;
        assert!(added.abs_diff(predicted) < 8, "added {added} predicted {predicted}");
    }
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i32>().prop_map(Value::from),
        "[a-z0-9 ~/\"\\\\é]{0,8}".prop_map(Value::from),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[abc~/]{1,3}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// All pointers into a document.
fn pointers(v: &Value, at: &mut Vec<String>, out: &mut Vec<String>) {
    out.push(patch::format_pointer(at));
    match v {
        Value::Object(map) => {
            for (k, c) in map {
                at.push(k.clone());
                pointers(c, at, out);
                at.pop();
            }
        }
        Value::Array(items) => {
            for (i, c) in items.iter().enumerate() {
                at.push(i.to_string());
                pointers(c, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

const TYPES: [IeType; 7] = [
    IeType::Ueid,
    IeType::Location,
    IeType::KeyMaterial,
    IeType::AuthenticationMaterial,
    IeType::AuthorizationToken,
    IeType::Other,
    IeType::Nonsensitive,
];

#[derive(Debug, Clone)]
struct Case {
    msg: HttpMessage,
    policy: PolicyView,
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop_oneof![
            json_value(),
            prop::collection::btree_map("[abc]{1,2}", json_value(), 1..4)
                .prop_map(|m| Value::Object(m.into_iter().collect()))
        ],
        prop::collection::vec(("[a-d]{1,3}", "[ -~]{0,6}"), 0..4),
        prop::collection::vec(("x-[a-d]{1,2}", "[ -~]{0,6}"), 0..4),
        prop::collection::vec((any::<prop::sample::Index>(), 0..7usize), 0..5),
        prop::collection::vec((0..7usize, 0..2usize, 0..2usize), 0..4),
        prop::collection::btree_set(0..7usize, 0..7),
    )
        .prop_map(|(body, query, headers, body_rules, named, enc)| {
            let mut all = Vec::new();
            pointers(&body, &mut Vec::new(), &mut all);
            let mut ie_list: Vec<IeRule> = body_rules
                .into_iter()
                .map(|(i, t)| IeRule::new(IeLocation::Body, TYPES[t], i.get::<String>(&all).as_str()))
                .collect();
            for (t, which, kind) in named {
                let (loc, list) = if kind == 0 {
                    (IeLocation::UriParam, &query)
                } else {
                    (IeLocation::Header, &headers)
                };
                if let Some((name, _)) = list.get(which) {
                    ie_list.push(IeRule::new(loc, TYPES[t], name));
                }
            }
            let msg = HttpMessage {
                method: "POST".into(),
                scheme: "https".into(),
                authority: "nf.example".into(),
                path: "/api/v1/x".into(),
                query,
                headers,
                body,
            };
            let policy = PolicyView {
                api_ie_mapping_list: vec![ApiRule {
                    api_signature: "/api/v1/{id}".into(),
                    api_method: "POST".into(),
                    ie_list,
                }],
                data_type_enc_policy: enc.into_iter().map(|t| TYPES[t]).collect(),
            };
            Case { msg, policy }
        })
}

fn lookup128(id: &str) -> Option<ContextKeys> {
    (id == CTX).then(|| ContextKeys {
        key: vec![7; 16],
        enc: Enc::A128Gcm,
        expired: None,
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn prop_roundtrip(case in case()) {
        let ctx = SendContext { enc: Enc::A128Gcm, ..send_ctx(None) };
        let msg = protect(&ctx, &case.msg, &case.policy, &[7; 16], nonce(0)).unwrap();
        let wire = serde_json::to_vec(&msg).unwrap();
        let msg: N32fReformattedReqMsg = serde_json::from_slice(&wire).unwrap();
        let got = unprotect(&RecvContext::default(), &msg, lookup128, &BTreeMap::new(), &case.policy).unwrap();
        prop_assert_eq!(got.message, normalized(case.msg, &case.policy));
    }
}

/// A message with a cRI JWS (the flipped message has every part: aad, ciphertext, JWS).
fn flip_subject() -> (N32fReformattedReqMsg, BTreeMap<String, VerifyingKey>, HttpMessage) {
    let (cri, _, _) = ris();
    let mut req = request();
    req.body["list"] = json!([]);
    let msg = protect(&send_ctx(Some(CRI)), &req, &policy(), &key(), nonce(10)).unwrap();
    let msg = ri_modify(&msg, &cri, vec![PatchItem::replace("/headers/2/value", json!("h"))]).unwrap();
    let mut want = normalized(req, &policy());
    want.headers[2].1 = "h".into();
    (msg, ri_keys(&[&cri]), want)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Any single-bit flip of the serialized message is refused or yields the original content.
    #[test]
    fn prop_bit_flip_detected_or_harmless(bits in prop::collection::vec(any::<prop::sample::Index>(), 16)) {
        let (msg, keys, want) = flip_subject();
        let wire = serde_json::to_vec(&msg).unwrap();
        for bit in bits {
            let bit = bit.index(wire.len() * 8);
            let mut flipped = wire.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            let Ok(parsed) = serde_json::from_slice::<N32fReformattedReqMsg>(&flipped) else { continue };
            if let Ok(got) = unprotect(&RecvContext::default(), &parsed, lookup, &keys, &policy()) {
                prop_assert_eq!(&got.message, &want, "bit {} accepted with changed content", bit);
            }
        }
    }
}

/// The sender's seal memo never changes what the receiver concludes: the message as sealed,
/// modified by an RI, with each JWE member altered, or under another key, opens (or fails)
/// exactly as it does without the memo.
#[test]
fn seal_memo_changes_no_verdict() {
    let (cri, _, _) = ris();
    let keys = ri_keys(&[&cri]);
    let (msg, memo) = protect_memo(&send_ctx(Some(CRI)), &request(), &policy(), &key(), nonce(11)).unwrap();
    assert_eq!(memo.jwe, msg.reformatted_data);
    let signed = ri_modify(&msg, &cri, vec![PatchItem::replace("/headers/2/value", json!("h"))]).unwrap();
    let flip = |s: &str| {
        let mut b = s.as_bytes().to_vec();
        b[3] = if b[3] == b'A' { b'B' } else { b'A' };
        String::from_utf8(b).unwrap()
    };
    let mut variants = vec![msg.clone(), signed.clone()];
    for member in 0..5 {
        let mut m = signed.clone();
        let jwe = &mut m.reformatted_data;
        match member {
            0 => jwe.aad = jwe.aad.as_deref().map(flip),
            1 => jwe.ciphertext = flip(&jwe.ciphertext),
            2 => jwe.tag = jwe.tag.as_deref().map(flip),
            3 => jwe.iv = jwe.iv.as_deref().map(flip),
            _ => jwe.protected = jwe.protected.as_deref().map(flip),
        }
        variants.push(m);
    }
    let other_key = |id: &str| {
        lookup(id).map(|mut k| {
            k.key[0] ^= 1;
            k
        })
    };
    let rx = RecvContext::default();
    type Lookup<'a> = &'a dyn Fn(&str) -> Option<ContextKeys>;
    let lookups: [(Lookup, &str); 2] = [(&lookup, "key"), (&other_key, "other key")];
    for (i, m) in variants.iter().enumerate() {
        for (with_lookup, name) in lookups {
            let (mut a, mut b) = (Verification::default(), Verification::default());
            let plain = unprotect_counted(&rx, (m, None), with_lookup, &keys, &policy(), &mut a);
            let memoed = unprotect_counted(&rx, (m, Some(&memo)), with_lookup, &keys, &policy(), &mut b);
            assert_eq!(plain, memoed, "variant {i}, {name}");
            assert_eq!(a, b, "variant {i}, {name}");
        }
    }
}

#[test]
fn copy_bomb_in_an_earlier_modification_is_refused() {
    // Regression (fuzzing): 40 unverified copies of the whole view to new members asked an RI
    // for 2^40 values (an out-of-memory abort on a message of a few KB).
    let (cri, pri, _) = ris();
    let msg = protect(&send_ctx(Some(CRI)), &request(), &policy(), &key(), nonce(1)).unwrap();
    let ops: Vec<PatchItem> = (0..40).map(|i| PatchItem::copy("", format!("/x{i}"))).collect();
    let mods = Modifications {
        identity: CRI.into(),
        operations: Some(ops),
        tag: msg.jwe().tag.clone(),
    };
    let mut bomb = msg.clone();
    bomb.modifications_block = Some(vec![sign_modifications(&cri, &mods)]);
    assert_eq!(ri_view(&bomb), Err(RiError::BadEarlierModification(0)));
    assert_eq!(
        ri_modify(&bomb, &pri, Vec::new()).unwrap_err(),
        RiError::BadEarlierModification(0)
    );
}

#[test]
fn wire_json_matches_serde() {
    let m = protect(&send_ctx(None), &request(), &policy(), &key(), nonce(1)).unwrap();
    let same = |m: &N32fReformattedReqMsg| assert_eq!(wire_json(m), serde_json::to_string(m).unwrap());
    same(&m);
    // An empty JWS list is written as one.
    let mut empty = m.clone();
    empty.modifications_block = Some(vec![]);
    same(&empty);
    // Members a fault rewrites: escapes, control characters, non-ASCII, absent and empty members.
    let mut odd = m.clone();
    odd.reformatted_data.ciphertext = "a\"b\\c\u{1}d\u{7f}é\n".into();
    odd.reformatted_data.aad = None;
    odd.reformatted_data.encrypted_key = Some(String::new());
    odd.reformatted_data.tag = Some("</tag>".into());
    same(&odd);
    odd.reformatted_data.protected = None;
    odd.reformatted_data.iv = None;
    same(&odd);
    // Headers in clear and RI signatures go through serde_json.
    let mut hdr = m.clone();
    hdr.reformatted_data.header = Some(serde_json::Map::from_iter([("kid".to_string(), json!("k"))]));
    same(&hdr);
    let signed = ri_modify(&m, &ris().0, vec![]).unwrap();
    same(&signed);
    let rsp = N32fReformattedRspMsg {
        reformatted_data: m.reformatted_data.clone(),
        modifications_block: None,
    };
    assert_eq!(wire_json(&rsp), serde_json::to_string(&rsp).unwrap());
}

#[test]
fn json_writers_match_serde() {
    let values = [
        request().body,
        json!(null),
        json!([]),
        json!({}),
        json!({"a\"b": "c\\d\u{0}\u{1f}é\u{7f}", "n": [-1, 2.5, 1e300, 18446744073709551615u64, true, false, null]}),
        json!({"nested": {"x": [{"y": "</script>"}]}, "": ""}),
    ];
    for v in &values {
        assert_eq!(json_text(v, 0), serde_json::to_string(v).unwrap());
        let data = vec![v.clone(), json!("s")];
        assert_eq!(
            cipher_block_json(&data),
            serde_json::to_vec(&DataToIntegrityProtectAndCipherBlock {
                data_to_encrypt: data.clone()
            })
            .unwrap()
        );
    }
    // The blocks of requests and responses, with and without encrypted headers and query
    // parameters, and with odd strings.
    let mut blocks = Vec::new();
    for (req, authorized) in [(request(), None), (request(), Some(CRI))] {
        let m = protect(&send_ctx(authorized), &req, &policy(), &key(), nonce(1)).unwrap();
        blocks.push(decode_aad(&m.reformatted_data).unwrap().1);
    }
    let mut odd = blocks[0].clone();
    odd.meta_data.as_mut().unwrap().n32f_context_id = "\"\n".into();
    odd.request_line.as_mut().unwrap().query_fragment = None;
    odd.status_line = Some("201".into());
    blocks.push(odd);
    blocks.push(DataToIntegrityProtectBlock::default());
    blocks.push(DataToIntegrityProtectBlock {
        headers: Some(vec![]),
        payload: Some(vec![]),
        ..DataToIntegrityProtectBlock::default()
    });
    for b in &blocks {
        let mut out = Vec::new();
        write_block(&mut out, b);
        assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(b).unwrap());
    }
}

#[test]
fn templates_match_segment_by_segment() {
    assert!(template_matches("/a/{x}/c", "/a/b/c"));
    assert!(template_matches("/a/b", "/a/b"));
    assert!(template_matches("", ""));
    assert!(!template_matches("/a/{x}/c", "/a//c"));
    assert!(!template_matches("/a/{x}", "/a/b/c"));
    assert!(!template_matches("/a/{x}/c", "/a/b"));
    assert!(!template_matches("/a/b", "/a/c"));
}
