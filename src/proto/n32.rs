//! N32 between SEPPs (TS 29.573, TS 33.501 clause 13).
//!
//! - [`types`]: the N32-c handshake bodies (TS29573_N32_Handshake.yaml).
//! - [`prins`]: N32-f PRINS message protection (TS29573_JOSEProtectedMessageForwarding.yaml).
//! - [`capability_negotiation`], [`parameter_exchange`], [`context_termination`],
//!   [`error_reporting`]: the N32-c procedures (TS 29.573 5.2.2 to 5.2.5), one file each.
//! - [`sepp`]: the SEPP's N32-c machines (initiating and responding) built from them.

pub mod capability_negotiation;
pub mod context_termination;
pub mod error_reporting;
pub mod node;
pub mod parameter_exchange;
pub mod prins;
pub mod sepp;
pub mod types;
