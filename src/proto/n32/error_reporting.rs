//! N32-f error reporting on N32-c (TS 29.573 clause 5.2.5; TS 33.501 clause 13.2.4.6).
//!
//! ```text
//!  SEPP that detected the fault                          peer SEPP
//!       │── POST /n32f-error  N32fErrorInfo ─────────────────►│ record
//!       │   n32fMessageId, n32fErrorType, n32fContextId,       │
//!       │   failedModificationList | errorDetailsList |        │
//!       │   policyMismatchList                                 │
//!       │◄──────────────────────────────────────────── 204 ───│
//!       │◄───────────────────── 404 CONTEXT_NOT_FOUND ────────│ (unknown n32fContextId)
//! ```
//!
//! # secsim's decisions
//!
//! - `n32fContextId` is the **reporter's own** context ID, as in the N32-f metadata of the
//!   failing message (it carries the receiver's ID, DIGEST 1.3). The peer finds its context by
//!   its `peer_id`.
//! - `POLICY_MISMATCH` has no N32-f message (DIGEST 9): its `n32fMessageId` is the reporter's
//!   context ID (16 hex digits). Real N32-f message IDs are decimal strings (metadata
//!   `messageId`), so the two never collide, and the report stays traceable to the exchange.
//! - A fault whose metadata was unreadable has no message ID: [`UNKNOWN_MESSAGE_ID`] (`"0"`).
//! - Empty lists are left out (`minItems: 1`).
//! - The receiver answers 204 and records the report; with an `n32fContextId` it knows
//!   neither as its own nor as its peer's ID: 404 `CONTEXT_NOT_FOUND`.

// ProblemDetails is the wire error of the handshake API (224 octets); rejections are the cold path.
#![allow(clippy::result_large_err)]

use crate::proto::common::{InvalidParam, ProblemDetails};
use crate::proto::n32::prins;
use crate::proto::n32::types::{
    FailedModificationInfo, FailureReason, N32fContextId, N32fErrorDetail, N32fErrorInfo, N32fErrorType,
};

/// `n32fMessageId` when the failing message's metadata was unreadable (secsim's choice).
pub const UNKNOWN_MESSAGE_ID: &str = "0";

/// A fault detected while processing N32-f, or during parameter exchange.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct DetectedFault {
    /// The failing N32-f message's ID (metadata `messageId`).
    pub message_id: String,
    /// What went wrong.
    pub error_type: Option<N32fErrorType>,
    /// The reporter's context ID.
    pub context_id: Option<N32fContextId>,
    /// Failed Modifications blocks.
    pub failed_modifications: Vec<FailedModificationInfo>,
    /// Reconstruction failures.
    pub error_details: Vec<N32fErrorDetail>,
    /// Policy differences.
    pub policy_mismatches: Vec<InvalidParam>,
}

fn non_empty<T>(v: Vec<T>) -> Option<Vec<T>> {
    (!v.is_empty()).then_some(v)
}

/// The `n32f-error` body of a fault (TS 29.573 5.2.5 step 1). A fault without a type reports
/// `MESSAGE_RECONSTRUCTION_FAILED`.
pub fn build_error_info(f: DetectedFault) -> N32fErrorInfo {
    N32fErrorInfo {
        n32f_message_id: f.message_id,
        n32f_error_type: f.error_type.unwrap_or(N32fErrorType::MessageReconstructionFailed),
        n32f_context_id: f.context_id,
        failed_modification_list: non_empty(f.failed_modifications),
        error_details_list: non_empty(f.error_details),
        policy_mismatch_list: non_empty(f.policy_mismatches),
    }
}

/// The `POLICY_MISMATCH` report of a parameter exchange (see module doc for the message ID).
pub fn policy_mismatch(reporter_id: &N32fContextId, diffs: Vec<InvalidParam>) -> N32fErrorInfo {
    build_error_info(DetectedFault {
        message_id: reporter_id.to_string(),
        error_type: Some(N32fErrorType::PolicyMismatch),
        context_id: Some(reporter_id.clone()),
        policy_mismatches: diffs,
        ..DetectedFault::default()
    })
}

/// An N32-f enumeration of the PRINS code as the N32-c one (same wire strings).
fn wire<T: serde::Serialize>(v: &T) -> String {
    // Unit enums serialize as strings; anything else is a bug in the PRINS types.
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        other => panic!("prins enum serialized as {other:?}"),
    }
}

/// The report of a receiving-SEPP failure from [`prins::unprotect`] (TS 33.501 13.2.4.6).
/// A context ID from the metadata that is not 16 hex digits is left out.
pub fn from_prins_fault(fault: &prins::N32fFault) -> N32fErrorInfo {
    build_error_info(DetectedFault {
        message_id: fault
            .n32f_message_id
            .clone()
            .unwrap_or_else(|| UNKNOWN_MESSAGE_ID.to_owned()),
        error_type: Some(N32fErrorType::from(wire(&fault.n32f_error_type))),
        context_id: fault
            .n32f_context_id
            .as_deref()
            .and_then(|s| N32fContextId::new(s).ok()),
        failed_modifications: fault
            .failed_modification_list
            .iter()
            .map(|m| FailedModificationInfo {
                ipx_id: m.ipx_id.clone(),
                n32f_error_type: N32fErrorType::from(wire(&m.n32f_error_type)),
            })
            .collect(),
        error_details: fault
            .error_details_list
            .iter()
            .map(|d| N32fErrorDetail {
                attribute: d.attribute.clone(),
                msg_reconstruct_fail_reason: FailureReason::from(wire(&d.msg_reconstruct_fail_reason)),
            })
            .collect(),
        policy_mismatches: Vec::new(),
    })
}

/// The receiver's handling (TS 29.573 5.2.5 step 2): `Ok(())` → 204 and record; an unknown
/// context → 404. `known` says whether an ID names one of the receiver's contexts (own or peer
/// ID).
pub fn accept_report(info: &N32fErrorInfo, known: impl Fn(&N32fContextId) -> bool) -> Result<(), ProblemDetails> {
    match &info.n32f_context_id {
        Some(id) if !known(id) => {
            let mut p = ProblemDetails::with_cause(404, "CONTEXT_NOT_FOUND");
            p.detail = Some(format!("no n32-f context {id}"));
            Err(p)
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_leaves_out_empty_lists() {
        let e = build_error_info(DetectedFault {
            message_id: "42".into(),
            error_type: Some(N32fErrorType::IntegrityCheckFailed),
            ..DetectedFault::default()
        });
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"n32fMessageId": "42", "n32fErrorType": "INTEGRITY_CHECK_FAILED"})
        );
        assert_eq!(serde_json::from_value::<N32fErrorInfo>(v).unwrap(), e);
    }

    #[test]
    fn policy_mismatch_shape() {
        let id = N32fContextId::from_u64(0x1234);
        let diffs = vec![InvalidParam {
            param: "/selProtectionPolicyInfo/dataTypeEncPolicy".into(),
            reason: None,
        }];
        let e = policy_mismatch(&id, diffs);
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["n32fMessageId"], "0000000000001234");
        assert_eq!(v["n32fContextId"], "0000000000001234");
        assert_eq!(v["n32fErrorType"], "POLICY_MISMATCH");
        assert_eq!(
            v["policyMismatchList"][0]["param"],
            "/selProtectionPolicyInfo/dataTypeEncPolicy"
        );
    }

    #[test]
    fn from_prins_fault_maps_enums() {
        let fault = prins::N32fFault {
            n32f_error_type: prins::N32fErrorType::ModificationsInstructionsFailed,
            n32f_context_id: Some("00000000000000FF".into()),
            n32f_message_id: None,
            failed_modification_list: vec![prins::FailedModificationInfo {
                ipx_id: "ipx.example.org".into(),
                n32f_error_type: prins::N32fErrorType::IntegrityCheckOnModificationsFailed,
            }],
            error_details_list: vec![prins::N32fErrorDetail {
                attribute: "/payload".into(),
                msg_reconstruct_fail_reason: prins::FailureReason::InvalidJsonPointer,
            }],
            detail: "x".into(),
        };
        let e = from_prins_fault(&fault);
        assert_eq!(e.n32f_message_id, UNKNOWN_MESSAGE_ID);
        assert_eq!(e.n32f_error_type, N32fErrorType::ModificationsInstructionsFailed);
        assert_eq!(e.n32f_context_id, Some(N32fContextId::from_u64(0xFF)));
        let m = &e.failed_modification_list.as_ref().unwrap()[0];
        assert_eq!(m.n32f_error_type, N32fErrorType::IntegrityCheckOnModificationsFailed);
        let d = &e.error_details_list.as_ref().unwrap()[0];
        assert_eq!(d.msg_reconstruct_fail_reason, FailureReason::InvalidJsonPointer);
    }

    #[test]
    fn receiver_records_or_404() {
        let id = N32fContextId::from_u64(1);
        let mut e = N32fErrorInfo::new("7", N32fErrorType::DecipheringFailed);
        assert!(accept_report(&e, |_| false).is_ok(), "no context id: record");
        e.n32f_context_id = Some(id.clone());
        assert!(accept_report(&e, |i| *i == id).is_ok());
        assert_eq!(accept_report(&e, |_| false).unwrap_err().status, Some(404));
    }
}
