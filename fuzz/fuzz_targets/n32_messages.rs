//! Fuzz target `n32_messages`: the N32-c handshake bodies and the Roaming Intermediary's
//! CONNECT rejections, as a SEPP receives them.
//!
//! The input is a sequence of messages separated by NUL bytes; each message is a selector
//! byte and a body (UTF-8, or lossily converted). Decoders reached:
//!
//! - `serde_json` into every N32-c body type of `proto::n32::types`
//!   (`SecNegotiateReqData`, `SecNegotiateRspData`, `SecParamExchReqData`,
//!   `SecParamExchRspData`, `N32fContextInfo`, `N32fErrorInfo`, `ProtectionPolicy`), the
//!   ProblemDetails of `proto::common` (`ProblemDetails`, `ProblemDetailsMsgForwarding`), and
//!   the string types `N32fContextId`, `PlmnId` (`FromStr`), `SupportedFeatures::new`;
//! - `N32cRequest::parse` (every path and an unknown one) and `Responder::handle_raw`: the
//!   responding SEPP's machine, kept across messages so that later requests meet a
//!   negotiated pairing (`capability_negotiation::handle_request`,
//!   `parameter_exchange::respond`, `context_termination::handle_request`,
//!   `error_reporting::accept_report`);
//! - the initiating SEPP's machine (`Initiator::handle` with `Input::Response`, the body parsed
//!   as the world does: JSON, else `null`), answered either by a real responder or by the
//!   fuzzed status and body (`capability_negotiation::check_response`,
//!   `parameter_exchange::apply_response`, `context_termination::check_response`);
//! - `parameter_exchange::policy_view` and `compare_policy` on a received policy;
//! - the CONNECT rejection (`proto::roaming::decode_rejection`) in all four encodings, with
//!   and without the RI's key, the `3gpp-Connect-Res-Info` header also signed with the RI's
//!   key over the fuzzed payload (so that `ConnectResInfo` is decoded after a good
//!   signature), and the `Proxy-Status` header parser; then `answer_to_cnf` for every
//!   `CseppMapping`. Selector bit 0x40 asks for the rejection, 0x80 for the signed header.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use secsim::crypto::jose;
use secsim::engine::{SimDuration, SimTime};
use secsim::proto::common::{PlmnId, ProblemDetails, ProblemDetailsMsgForwarding, SupportedFeatures};
use secsim::proto::n32::parameter_exchange::{self, LocalParams};
use secsim::proto::n32::sepp::{
    Initiator, InitiatorConfig, Input, N32cRequest, Op, Output, Responder, ResponderConfig,
};
use secsim::proto::n32::types::{
    ApiIeMapping, ApiSignature, HttpMethod, IeInfo, IeLocation, IeType, N32fContextId, N32fContextInfo, N32fErrorInfo,
    ProtectionPolicy, SecNegotiateReqData, SecNegotiateRspData, SecParamExchReqData, SecParamExchRspData,
};
use secsim::proto::roaming::{self, CseppMapping, Rejection, SuggestionEncoding};
use serde_json::Value;

/// The RI's signing key (a fixed scalar).
static RI_KEY: LazyLock<p256::ecdsa::SigningKey> =
    LazyLock::new(|| p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap());

const A: &str = "sepp.a.example.org";
const B: &str = "sepp.b.example.org";

/// The policy both SEPPs configure (as the world's N32 plane does): the SUPI in the body is
/// encrypted, one header is modifiable by any IPX.
fn policy() -> ProtectionPolicy {
    let ie = |loc, ty, name: &str, modifiable| IeInfo {
        ie_loc: loc,
        ie_type: ty,
        req_ie: Some(name.to_string()),
        rsp_ie: None,
        is_modifiable: modifiable,
        is_modifiable_by_ipx: None,
    };
    ProtectionPolicy {
        api_ie_mapping_list: vec![ApiIeMapping {
            api_signature: ApiSignature::Uri("/nudm-uecm/v1/{ueId}/registrations".to_string()),
            api_method: HttpMethod::Put,
            ie_list: vec![
                ie(IeLocation::Body, IeType::Ueid, "/supi", None),
                ie(IeLocation::Header, IeType::Nonsensitive, "x-route", Some(true)),
            ],
        }],
        data_type_enc_policy: Some(vec![IeType::Ueid, IeType::KeyMaterial]),
    }
}

/// Decodes `body` as every N32-c type; what decodes is serialized again.
fn decode_all(body: &str) {
    fn de<T: serde::de::DeserializeOwned + serde::Serialize>(body: &str) -> Option<T> {
        let v: T = serde_json::from_str(body).ok()?;
        let _ = serde_json::to_string(&v);
        Some(v)
    }
    let _ = de::<SecNegotiateReqData>(body);
    let _ = de::<SecNegotiateRspData>(body);
    if let Some(r) = de::<SecParamExchReqData>(body)
        && let Some(p) = &r.protection_policy_info
    {
        let _ = parameter_exchange::policy_view(p);
    }
    if let Some(r) = de::<SecParamExchRspData>(body)
        && let Some(p) = &r.sel_protection_policy_info
    {
        let _ = parameter_exchange::policy_view(p);
    }
    let _ = de::<N32fContextInfo>(body);
    let _ = de::<N32fErrorInfo>(body);
    if let Some(p) = de::<ProtectionPolicy>(body) {
        let _ = parameter_exchange::policy_view(&p);
    }
    let _ = de::<ProblemDetails>(body);
    let _ = de::<ProblemDetailsMsgForwarding>(body);
    let _ = de::<roaming::ConnectResInfo>(body);
    let _ = N32fContextId::new(body).map(|id| id.to_u64());
    let _ = body.parse::<PlmnId>();
    let _ = SupportedFeatures::new(body);
}

/// The RI's rejection with the fuzzed body and headers, decoded in every encoding.
fn rejection(status: u16, body: &str, ri: &p256::ecdsa::SigningKey, sign: bool) {
    let mut headers = vec![body.to_string()];
    if sign {
        headers.push(jose::sign_compact(
            ri,
            &jose::JwsHeader::es256_with_kid("ri.example"),
            body.as_bytes(),
        ));
    }
    let key = *ri.verifying_key();
    for header in headers {
        let r = Rejection {
            status,
            body: body.to_string(),
            schema: "ProblemDetails",
            headers: vec![
                ("3gpp-connect-res-info".into(), header.clone()),
                ("proxy-status".into(), body.to_string()),
            ],
        };
        for enc in SuggestionEncoding::ALL {
            for k in [None, Some(&key)] {
                let s = roaming::decode_rejection(enc, &r, k);
                for m in [
                    CseppMapping::UseSuggestion,
                    CseppMapping::own_default(),
                    CseppMapping::UseSuggestionIfVerified,
                ] {
                    let _ = roaming::answer_to_cnf(&m, &s);
                }
            }
        }
    }
}

/// The initiator and its honest peer.
struct Conversation {
    i: Initiator,
    peer: Responder,
    pending: Option<N32cRequest>,
}

impl Conversation {
    fn feed(&mut self, now: SimTime, rng: &mut ChaCha8Rng, input: Input) {
        self.i.handle(now, rng, input);
        let outs = self.i.drain_outputs();
        for (k, o) in outs.iter().enumerate() {
            if let Output::Send(req) = o {
                let awaited = matches!(outs.get(k + 1), Some(Output::SetTimer { .. }));
                if awaited {
                    self.pending = Some(req.clone());
                } else {
                    let _ = self.peer.handle_request(now, rng, A, req);
                }
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut now = SimTime::from_nanos(1_000);
    let mut responder = Responder::new(ResponderConfig::new(LocalParams::new(B, policy())));
    let mut conv = Conversation {
        i: Initiator::new(InitiatorConfig::new(LocalParams::new(A, policy()))),
        peer: Responder::new(ResponderConfig::new(LocalParams::new(B, policy()))),
        pending: None,
    };
    let ri = &*RI_KEY;
    let paths: Vec<&str> = Op::ALL
        .iter()
        .map(|op| op.path())
        .chain(["/n32c-handshake/v1/nope"])
        .collect();

    for chunk in data.split(|&b| b == 0).take(32) {
        let Some((&sel, rest)) = chunk.split_first() else {
            continue;
        };
        let body = String::from_utf8_lossy(rest);
        let body: &str = &body;
        now += SimDuration::from_nanos(u64::from(sel >> 4) * 700_000_000);

        decode_all(body);
        for path in &paths {
            let _ = N32cRequest::parse(path, body).map(|r| r.to_json());
        }
        // The responding SEPP, whose state carries over.
        let reply = responder.handle_raw(now, &mut rng, A, paths[usize::from(sel) % paths.len()], body);
        if let Some(b) = reply.body {
            assert!(serde_json::from_str::<Value>(&b).is_ok(), "reply body not JSON: {b}");
        }
        if sel & 0x20 != 0 {
            let _ = responder.expire(now);
        }

        // The initiating SEPP.
        let status = match sel & 0x07 {
            0 => 200,
            1 => 204,
            2 => 400,
            3 => 403,
            4 => 404,
            5 => 500,
            6 => u16::from(sel) * 3,
            _ => 201,
        };
        match conv.pending.take() {
            Some(req) if sel & 0x08 != 0 => {
                // The fuzzed answer, parsed as the world does.
                let body = serde_json::from_str(body).unwrap_or(Value::Null);
                conv.feed(
                    now,
                    &mut rng,
                    Input::Response {
                        op: req.op(),
                        status,
                        body,
                    },
                );
            }
            Some(req) => {
                let reply = conv.peer.handle_raw(now, &mut rng, A, req.path(), &req.to_json());
                let body = reply
                    .body
                    .map_or(Value::Null, |b| serde_json::from_str(&b).unwrap_or(Value::Null));
                conv.feed(
                    now,
                    &mut rng,
                    Input::Response {
                        op: req.op(),
                        status: reply.status,
                        body,
                    },
                );
            }
            None => {
                let input = match sel & 0x18 {
                    0x00 => Input::Start,
                    0x08 => Input::TerminateRequested,
                    0x10 => Input::ContextExpired,
                    _ => Input::Timeout,
                };
                conv.feed(now, &mut rng, input);
            }
        }

        // The RI's CONNECT rejection (a signature or two: not on every message).
        if sel & 0x40 != 0 {
            rejection(status, body, ri, sel & 0x80 != 0);
        }
    }
});
