//! The N32 facts of the audit trail (judged by `check::n32`) and the deliberate N32 bugs.

use serde::{Deserialize, Serialize};

/// An audited N32 fact. SEPPs, RIs and peers are node names; capabilities and error types
/// are their wire strings (`"PRINS"`, `"INTEGRITY_CHECK_FAILED"`).
#[derive(Clone, Debug, Deserialize, PartialEq, Serialize)]
pub enum N32Audit {
    /// A c-SEPP sent `exchange-capability` with `offered` (its list, priority order).
    CapabilityOffered {
        sepp: String,
        peer: String,
        /// The N32-c connection and stream of the request.
        conn: u64,
        stream: u32,
        offered: Vec<String>,
    },
    /// A p-SEPP answered an `exchange-capability` with 200, selecting `selected`; `supported`
    /// is its own configured list.
    CapabilitySelected {
        sepp: String,
        peer: String,
        conn: u64,
        stream: u32,
        supported: Vec<String>,
        selected: String,
    },
    /// A c-SEPP's initiator established N32 with `capability` (N32-c connection `conn`).
    Established {
        sepp: String,
        peer: String,
        conn: u64,
        capability: String,
    },
    /// A SEPP installed an N32-f context: the keys it derived, as a fingerprint.
    ContextInstalled {
        sepp: String,
        peer: String,
        /// `initiator` (c-SEPP) or `responder` (p-SEPP).
        role: String,
        /// The N32-c connection whose exporter keyed it.
        conn: u64,
        /// The id this SEPP gave its peer (in metadata towards this SEPP).
        local_id: String,
        /// The id the peer gave this SEPP.
        peer_id: String,
        capability: String,
        /// First 8 bytes (hex) of SHA-256 over the JWE `enc`, JWS `alg` and the four N32-f
        /// keys and IV salts in [`crate::crypto::n32f::Direction::ALL`] order.
        keys: String,
    },
    /// A SEPP dropped its context `context_id` (its own id).
    ContextTerminated {
        sepp: String,
        context_id: String,
        reason: String,
    },
    /// An RI refused a c-SEPP's CONNECT (N32-c connection `conn`) with `status`.
    ConnectRefused {
        ri: String,
        client: String,
        target: String,
        conn: u64,
        status: u16,
    },
    /// A c-SEPP sent PRINS request `msg` under its context `context_id` (metadata names the
    /// receiver's `peer_context_id`).
    MessageSent {
        sepp: String,
        peer: String,
        msg: u64,
        context_id: String,
        peer_context_id: String,
    },
    /// A fault was injected into `msg` after the c-SEPP protected it; the receiver must
    /// report `expected`.
    FaultInjected {
        sepp: String,
        msg: u64,
        fault: String,
        expected: String,
    },
    /// A p-SEPP received `msg`, carrying `modifications` RI JWS on the wire.
    MessageReceived { sepp: String, msg: u64, modifications: u32 },
    /// A p-SEPP's checks of `msg`: whether its JWE decryption succeeded, how many RI JWS
    /// signature verifications succeeded, and the N32fErrorType it detected (if any).
    MessageVerified {
        sepp: String,
        msg: u64,
        decrypted: bool,
        jws_verified: u32,
        error: Option<String>,
    },
    /// A p-SEPP delivered `msg` onward (to the pNF) under its context `context_id`.
    MessageAccepted { sepp: String, msg: u64, context_id: String },
    /// A c-SEPP received the answer to its PRINS request `msg`: protected
    /// (N32fReformattedRspMsg) or not (an HTTP answer from a hop).
    ResponseReceived {
        sepp: String,
        msg: u64,
        status: u16,
        protected: bool,
    },
    /// A c-SEPP's checks of the protected answer to `msg` (as [`N32Audit::MessageVerified`]).
    ResponseVerified {
        sepp: String,
        msg: u64,
        decrypted: bool,
        jws_verified: u32,
        error: Option<String>,
    },
    /// A c-SEPP delivered a 2xx answer to `msg` onward (to the cNF).
    ResponseAccepted { sepp: String, msg: u64, status: u16 },
    /// A p-SEPP protected the answer to `msg` under its context `context_id`.
    ResponseSent { sepp: String, msg: u64, context_id: String },
    /// A p-SEPP sent `n32f-error` for `msg` to `peer`, with the message id and type on the
    /// wire.
    ErrorReported {
        sepp: String,
        peer: String,
        msg: u64,
        message_id: String,
        error_type: String,
    },
}

/// The deliberate N32 bugs (see [`crate::audit::mutant`]), each at the one spot the real bug would
/// live.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum N32Mutant {
    /// The responder takes the initiator's first mechanism without checking its own list
    /// (`capability_negotiation::select_capability`).
    CapabilityOutsideIntersection,
    /// The receiving SEPP decodes the RI Modifications without verifying their JWS
    /// (`prins::open`).
    SkipJwsVerification,
    /// A JWE tag mismatch is classified `DECIPHERING_FAILED` (`prins::open`).
    WrongFaultType,
    /// The p-SEPP sends every `n32f-error` twice (`proto::n32::node::sepp` `report_error`).
    DoubleFaultReport,
    /// The responder orders the context IDs own-first in the N32-KDF
    /// (`parameter_exchange::NegotiatedContext::ids`), DIGEST 9's open question got wrong.
    ContextKeyMismatch,
    /// The c-SEPP keeps its send state after releasing a context (`proto::n32::node::sepp`
    /// `release_send_context`).
    UseTerminatedContext,
    /// An RI decides to refuse a CONNECT but the tunnel opens anyway (`proto::roaming::node`
    /// `RiNode::on_connect`).
    ContextAfterRefusal,
}
