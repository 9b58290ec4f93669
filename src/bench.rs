//! Benchmark models on the engine.
//!
//! - [`capif`]: full CAPIF flows (onboard, negotiate, authenticate, invoke) per wall-second
//!   (`secsim bench capif`).
//! - [`n32`]: N32 handshakes per wall-second on a scenario (`secsim bench n32`).
//! - [`crypto_backend`]: N32 at `Full` under each P-256 backend
//!   (`secsim bench n32 --compare-crypto-backends`).
//! - [`phold`]: the classic PHOLD model (see `secsim bench phold`).
//! - [`scale`]: cost per event of a whole run at growing IPX sizes (`secsim bench scale`).
//! - [`baseline`]: the suite's bare reference kernel, for same-process comparisons
//!   (`secsim bench phold --compare`).

pub mod baseline;
pub mod capif;
pub mod crypto_backend;
pub mod n32;
pub mod phold;
pub mod scale;
