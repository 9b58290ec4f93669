//! N32 between SEPPs (TS 29.573, TS 33.501 clause 13).
//!
//! - [`types`]: the N32-c handshake bodies (TS29573_N32_Handshake.yaml).
//! - [`prins`]: N32-f PRINS message protection (TS29573_JOSEProtectedMessageForwarding.yaml).

pub mod prins;
pub mod types;
