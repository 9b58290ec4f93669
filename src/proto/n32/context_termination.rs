//! N32-f context termination (TS 29.573 clause 5.2.4).
//!
//! ```text
//!  SEPP ending the context                                 peer SEPP
//!       │── POST /n32f-terminate  N32fContextInfo{peer's ID} ──►│ delete its context
//!       │◄──────────────────── 200 N32fContextInfo{same ID} ────│
//!       │◄──────────────────── 404 CONTEXT_NOT_FOUND ───────────│ (unknown ID, or not this
//!       │                                                       │  peer's context)
//! ```
//!
//! # secsim's decisions
//!
//! - The request names the **receiver's** context ID (the sender's `peer_id`), the same ID that
//!   N32-f metadata carries towards the receiver; the receiver deletes that context of its own.
//! - The 200 body echoes the deleted ID.
//! - A context that exists but belongs to another peer SEPP (by the N32-c TLS identity) is
//!   answered like an unknown one (404), so a SEPP cannot probe or drop others' contexts.
//! - The sender drops its side when it sends the request (it does not wait for the answer).

// ProblemDetails is the wire error of the handshake API (224 octets); rejections are the cold path.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;

use crate::proto::common::ProblemDetails;
use crate::proto::n32::parameter_exchange::{CAUSE_CONTEXT_NOT_FOUND, NegotiatedContext};
use crate::proto::n32::types::{N32fContextId, N32fContextInfo};

/// The request ending `ctx` (TS 29.573 5.2.4 step 1): names the peer's ID.
pub fn build_request(ctx: &NegotiatedContext) -> N32fContextInfo {
    N32fContextInfo {
        n32f_context_id: ctx.peer_id.clone(),
    }
}

/// The receiver's handling (TS 29.573 5.2.4 step 2): deletes the named context of `peer` and
/// returns the 200 body and the deleted context, or a 404.
pub fn handle_request(
    contexts: &mut BTreeMap<N32fContextId, NegotiatedContext>,
    peer: &str,
    req: &N32fContextInfo,
) -> Result<(N32fContextInfo, NegotiatedContext), ProblemDetails> {
    let id = &req.n32f_context_id;
    if contexts.get(id).is_some_and(|c| c.peer == peer) {
        //= TS 29.573 5.2.4: the responding SEPP deletes the N32-f context
        let ctx = contexts.remove(id).expect("checked above");
        Ok((req.clone(), ctx))
    } else {
        let mut p = ProblemDetails::with_cause(404, CAUSE_CONTEXT_NOT_FOUND);
        p.detail = Some(format!("no n32-f context {id} for peer {peer}"));
        Err(p)
    }
}

/// Why the sender does not accept an answer.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
pub enum TerminateError {
    /// The peer did not know the context (already gone: harmless).
    #[error("peer sepp has no n32-f context {0}")]
    NotFound(N32fContextId),
    /// Another error status.
    #[error("peer sepp answered n32f-terminate with {0}")]
    Status(u16),
    /// A 200 whose body names another context.
    #[error("peer sepp confirmed {got} instead of {sent}")]
    WrongId {
        /// The ID sent.
        sent: N32fContextId,
        /// The ID confirmed.
        got: N32fContextId,
    },
}

/// The sender's check of the answer.
pub fn check_response(sent: &N32fContextInfo, status: u16, body: &serde_json::Value) -> Result<(), TerminateError> {
    match status {
        200 => match serde_json::from_value::<N32fContextInfo>(body.clone()) {
            Ok(got) if got == *sent => Ok(()),
            Ok(got) => Err(TerminateError::WrongId {
                sent: sent.n32f_context_id.clone(),
                got: got.n32f_context_id,
            }),
            Err(_) => Err(TerminateError::Status(200)),
        },
        404 => Err(TerminateError::NotFound(sent.n32f_context_id.clone())),
        s => Err(TerminateError::Status(s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::n32f::{JweEnc, N32Role};
    use crate::engine::time::SimTime;
    use crate::proto::n32::parameter_exchange::tests::policy;
    use crate::proto::n32::types::SecurityCapability;

    fn ctx(local: u64, peer_id: u64, peer: &str) -> NegotiatedContext {
        NegotiatedContext {
            local_id: N32fContextId::from_u64(local),
            peer_id: N32fContextId::from_u64(peer_id),
            role: N32Role::Responder,
            peer: peer.into(),
            capability: SecurityCapability::Prins,
            jwe: JweEnc::A128Gcm,
            jws: "ES256".into(),
            policy: policy(1),
            peer_policy: None,
            ipx_sec_info: Vec::new(),
            peer_ipx_sec_info: Vec::new(),
            expires_at: SimTime::MAX,
        }
    }

    #[test]
    fn terminate_removes_then_404() {
        let mut map = BTreeMap::new();
        let c = ctx(1, 2, "a.example.org");
        map.insert(c.local_id.clone(), c.clone());
        // the initiator's view of the same context
        let mut mine = c.clone();
        (mine.local_id, mine.peer_id) = (c.peer_id.clone(), c.local_id.clone());
        let req = build_request(&mine);
        assert_eq!(req.n32f_context_id, c.local_id);
        let (rsp, gone) = handle_request(&mut map, "a.example.org", &req).unwrap();
        assert_eq!(gone, c);
        assert!(map.is_empty());
        let body = serde_json::to_value(&rsp).unwrap();
        assert_eq!(body, serde_json::json!({"n32fContextId": "0000000000000001"}));
        assert_eq!(check_response(&req, 200, &body), Ok(()));
        let p = handle_request(&mut map, "a.example.org", &req).unwrap_err();
        assert_eq!((p.status, p.cause.as_deref()), (Some(404), Some("CONTEXT_NOT_FOUND")));
        assert!(matches!(
            check_response(&req, 404, &serde_json::Value::Null),
            Err(TerminateError::NotFound(_))
        ));
    }

    #[test]
    fn other_peer_cannot_terminate() {
        let mut map = BTreeMap::new();
        let c = ctx(1, 2, "a.example.org");
        map.insert(c.local_id.clone(), c.clone());
        let req = N32fContextInfo {
            n32f_context_id: c.local_id.clone(),
        };
        assert_eq!(
            handle_request(&mut map, "evil.example.org", &req).unwrap_err().status,
            Some(404)
        );
        assert_eq!(map.len(), 1);
    }
}
