//! CAPIF security (TS 33.122, TS 29.222).
//!
//! - [`types`]: the CAPIF security, AEF security, onboarding, publish and events bodies.
//! - [`onboarding`], [`security_method`], [`authentication`], [`authorization`]: the
//!   invoker / CCF / AEF procedures, one file each, and [`machines`] built from them.
//! - [`mismatch`], [`interconnection`]: the method-change recovery strategies (seed 004) and
//!   CAPIF-6/6e interconnection alternatives (seed 002) as knobs.

pub mod authentication;
pub mod authorization;
pub mod interconnection;
pub mod machines;
pub mod mismatch;
pub mod node;
pub mod observer;
pub mod onboarding;
pub mod security_method;
pub mod types;
