//! CAPIF security (TS 33.122, TS 29.222).
//!
//! - [`types`]: the CAPIF security, AEF security, onboarding, publish and events bodies.

pub mod types;
