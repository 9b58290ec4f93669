//! CAPIF invariants (TS 33.122, TS 29.222): the audited facts of the CAPIF plane and the
//! checker that judges them.
//!
//! (Skeleton: the events, invariants and mutants are filled in with the CAPIF instrumentation.)

use serde::{Deserialize, Serialize};

use super::{Invariant, Sink};
use crate::engine::SimTime;

/// An audited CAPIF fact.
#[derive(Clone, Debug, Deserialize, PartialEq, Serialize)]
pub enum CapifAudit {}

/// The deliberate CAPIF bugs (see [`super::mutant`]).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum CapifMutant {}

/// The CAPIF invariants.
pub const INVARIANTS: &[&Invariant] = &[];

/// The CAPIF checker's state.
#[derive(Debug, Default)]
pub struct CapifChecker {}

impl CapifChecker {
    /// Judges one event.
    pub fn observe(&mut self, _at: SimTime, ev: &CapifAudit, _sink: &mut Sink<'_>) {
        match *ev {}
    }
    /// Judges what is still open at the end of the run.
    pub fn finish(&mut self, _end: SimTime, _sink: &mut Sink<'_>) {}
}
