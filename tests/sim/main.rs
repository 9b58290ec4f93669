//! The integration test binary: one binary, one module per area.

mod bench;
mod capif;
mod cli;
mod compare;
mod determinism;
mod hostile;
mod hygiene;
mod invariants;
mod liveness;
mod n32;
mod net_setup;
mod openapi;
mod scenario_errors;
mod scenario_schema;
mod sequence;
mod sweep;
mod tls_handshake;
