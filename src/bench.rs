//! Benchmark models on the engine.
//!
//! - [`capif`]: full CAPIF flows (onboard, negotiate, authenticate, invoke) per wall-second
//!   (`secsim bench capif`).
//! - [`n32`]: N32 handshakes per wall-second on a scenario (`secsim bench n32`).
//! - [`phold`]: the classic PHOLD model (see `secsim bench phold`).
//! - [`baseline`]: the suite's bare reference kernel, for same-process comparisons
//!   (`secsim bench phold --compare`).

pub mod baseline;
pub mod capif;
pub mod n32;
pub mod phold;
