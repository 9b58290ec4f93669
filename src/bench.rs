//! Benchmark models on the engine.
//!
//! - [`phold`]: the classic PHOLD model (see `secsim bench phold`).
//! - [`baseline`]: the suite's bare reference kernel, for same-process comparisons
//!   (`secsim bench phold --compare`).

pub mod baseline;
pub mod phold;
