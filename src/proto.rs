//! Sans-IO protocol machines and the message types they exchange. A machine never sends,
//! sleeps or reads a clock: inputs are `handle_*(now, ...)`, outputs are data.
//!
//! - [`common`]: ProblemDetails (TS 29.571 and TS 29.122 variants).
//! - [`n32`]: N32-c handshake (TS 29.573 clause 5.2) and N32-f PRINS (clause 5.3/6.2).
//! - [`roaming`]: Roaming Intermediaries: CONNECT policy, rejection, FFS alternatives.
//! - [`capif`]: CAPIF security (TS 33.122, TS 29.222).

pub mod capif;
pub mod common;
pub mod n32;
pub mod roaming;
