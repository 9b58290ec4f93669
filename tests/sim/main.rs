//! The integration test binary: one binary, one module per area.

mod cli;
mod determinism;
mod net_setup;
mod openapi;
mod scenario_errors;
