//! Roaming Intermediaries (RIs) on N32-c: when an RI refuses an N32 connection, how it says so,
//! and what the c-SEPP tells the cNF (TS 29.573 5.2.1 and 5.2.X.2, CR seed 000). Pure sans-IO
//! logic: nothing here sends, sleeps or reads a clock.
//!
//! - [`policy`]: [`RiPolicy`] (RON), [`Decision`] and its precedence, the [`TokenBucket`].
//! - [`ri`]: the [`Ri`] machine, its [`State`]s and the [`TRANSITIONS`] table (snapshot
//!   `tests/snapshots/roaming_ri.txt`).
//! - [`direct_tls`]: FFS alternative 1, [`DirectTlsReaction`] (no CONNECT, no HTTP answer).
//! - [`rejection`]: FFS alternative 2, [`SuggestionEncoding`], [`encode_rejection`],
//!   [`decode_rejection`].
//! - [`csepp`]: the c-SEPP's [`CseppMapping`] and [`answer_to_cnf`].
//!
//! # The CONNECT rejection flow (TS 29.573 5.2.X.2)
//!
//! ```text
//!   cNF                 c-SEPP                    RI                      p-SEPP
//!    │ 1. HTTP request    │                        │                         │
//!    │───────────────────►│ 2. CONNECT p-sepp:443  │                         │
//!    │                    │───────────────────────►│ Ri::handle_connect      │
//!    │                    │                        │ decide(): scripted >    │
//!    │                    │                        │ contract > unreachable  │
//!    │                    │                        │ > rate limit            │
//!    │                    │ 3. 403 + ProblemDetails│                         │
//!    │                    │    + suggestion (504,  │   (no TCP, no TLS, no   │
//!    │                    │    TARGET_PLMN_NOT_    │    N32-c towards the    │
//!    │                    │    REACHABLE), encoded │    p-SEPP)              │
//!    │                    │◄───────────────────────│ encode_rejection        │
//!    │                    │ decode_rejection       │                         │
//!    │ 4. 504 +           │ answer_to_cnf          │                         │
//!    │    ProblemDetails  │ (CseppMapping)         │                         │
//!    │◄───────────────────│                        │                         │
//!
//!   Accepted instead: 3'. 200 (tunnel up), then TLS and N32-c end to end through the tunnel.
//! ```
//!
//! # FFS alternative 1: direct TLS on N32-c (5.2.1 Editor's note)
//!
//! Without CONNECT there is no HTTP exchange with the RI to reject, so the refusal moves into
//! the network ([`DirectEffect`]). Only `RequireConnect` lets the c-SEPP blame the RI
//! correctly, and only because it falls back to the explicit CONNECT rejection.
//!
//! | reaction         | time to failure at cNF      | blamed  | c-SEPP tells the cNF | verifiable             |
//! |------------------|-----------------------------|---------|----------------------|------------------------|
//! | `DropTimeout`    | connect timeout (+ retries) | p-SEPP  | own 504              | no                     |
//! | `TcpReset`       | 1 RTT                       | p-SEPP  | own 504              | no                     |
//! | `TlsAlertOnSni`  | 2 RTT (TCP + ClientHello)   | p-SEPP  | own 504              | no, spoofable          |
//! | `RequireConnect` | 1 RTT, then the CONNECT 403 | RI      | RI's suggestion      | with `ProtectedHeader` |
//! | `OutOfBand`      | immediate (or DNS timeout)  | network | own 504              | no                     |
//!
//! # FFS alternative 2: API details of the rejection (5.2.X.2 Editor's note)
//!
//! | encoding                      | suggestion in                                               | standing                                  | verifiable |
//! |-------------------------------|-------------------------------------------------------------|-------------------------------------------|------------|
//! | `ProblemDetailsMsgForwarding` | body `suggestedStatusCode`, `suggestedProblemDetails.cause` | Rel-18 N32-f schema, reused               | no         |
//! | `FlatFields`                  | body `suggestedStatus`, `suggestedCause`                    | secsim invention; fails strict validation | no         |
//! | `ProtectedHeader`             | `3gpp-connect-res-info`, compact JWS (ES256)                | TS 33.501 13.1.2 header, secsim payload   | yes        |
//! | `ProxyStatus`                 | `proxy-status` `details` (RFC 9209)                         | RFC 9209 header, `details` by convention  | no         |
//!
//! Whether the c-SEPP should relay a suggestion: an unverifiable one is only as good as the
//! c-SEPP's trust in the hop that delivered it (NDS/IP or TLS to the first RI, TS 33.501
//! 13.1.2); a verified one binds the RI, the target PLMN and the time ([`ConnectResInfo`]).
//!
//! Sizes with the default suggestion ([`Rejection::size_bytes`], content-type header and the
//! RI's `detail` included; test `rejection_sizes_per_encoding`): `FlatFields` 216 B,
//! `ProblemDetailsMsgForwarding` 252 B, `ProxyStatus` 282 B, `ProtectedHeader` 446 B (the JWS
//! header, payload and 64-byte signature in base64url).
//!
//! # Decisions taken here (the spec is silent)
//!
//! - The suggested cause `TARGET_PLMN_NOT_REACHABLE` and the RI's own causes
//!   ([`RefusalReason::cause`]) are secsim names (DIGEST 3 and 10).
//! - The RI's 403 `cause` tells the c-SEPP the real reason; the suggestion (the same for every
//!   reason, from [`RejectionSpec`]) is what the RI wants the cNF to see.
//! - The c-SEPP's own answer is 504 `TARGET_NF_NOT_REACHABLE` (TS 29.500), distinct from the
//!   RI's suggestion so a trace shows whose answer reached the cNF.

pub mod csepp;
pub mod direct_tls;
pub mod node;
pub mod policy;
pub mod rejection;
pub mod ri;

pub use csepp::{CseppMapping, OWN_CAUSE, OWN_STATUS, answer_to_cnf};
pub use direct_tls::{Blame, DirectEffect, DirectTlsReaction};
pub use policy::{
    Contract, Decision, PolicyError, RateLimit, RefusalReason, RejectionSpec, RiPolicy, ScriptedDecision,
    TARGET_PLMN_NOT_REACHABLE, TokenBucket,
};
pub use rejection::{
    CONNECT_RES_INFO, ConnectResInfo, PROXY_STATUS, Rejection, Suggestion, SuggestionEncoding, decode_rejection,
    encode_rejection,
};
pub use ri::{
    Effect, EffectKind, Event, FlowId, Ri, RiError, State, TRANSITIONS, Transition, render_table, transition,
};

#[cfg(test)]
mod tests;
