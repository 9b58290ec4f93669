//! N32 invariants (TS 29.573, TS 33.501 cl. 13): the audited facts of the N32 plane and the
//! checker that judges them.
//!
//! (Skeleton: the events, invariants and mutants are filled in with the N32 instrumentation.)

use serde::{Deserialize, Serialize};

use super::{Invariant, Sink};
use crate::engine::SimTime;

/// An audited N32 fact.
#[derive(Clone, Debug, Deserialize, PartialEq, Serialize)]
pub enum N32Audit {}

/// The deliberate N32 bugs (see [`super::mutant`]).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum N32Mutant {}

/// The N32 invariants.
pub const INVARIANTS: &[&Invariant] = &[];

/// The N32 checker's state.
#[derive(Debug, Default)]
pub struct N32Checker {}

impl N32Checker {
    /// Judges one event.
    pub fn observe(&mut self, _at: SimTime, ev: &N32Audit, _sink: &mut Sink<'_>) {
        match *ev {}
    }
    /// Judges what is still open at the end of the run.
    pub fn finish(&mut self, _end: SimTime, _sink: &mut Sink<'_>) {}
}
