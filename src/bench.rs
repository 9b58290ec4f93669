//! Benchmark models on the engine.
//!
//! - [`phold`]: the classic PHOLD model (see `secsim bench phold`).

pub mod phold;
