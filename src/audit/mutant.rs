//! Deliberate bugs, for showing that the checker catches them (acceptance of issues 7 and 13).
//!
//! A mutant is a behaviour knob in a machine's configuration: the builders copy the
//! experiment's [`Mutants`] (`ExperimentFile::mutant`) into every machine they build, and
//! the one decision the bug lives in asks `if self.mutants.on(Mutant::X) { <the bug> }`.
//! It is settable only with the cargo feature `mutants` (which the test suite's build has,
//! through the crate's dev-dependency on itself): without it [`Mutants`] is empty,
//! [`Mutants::on`] is the constant `false` and the mutated branches compile away.

use super::{capif, n32};

/// One deliberate bug.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Mutant {
    N32(n32::N32Mutant),
    Capif(capif::CapifMutant),
    /// A procedure's end is never reported (a lost completion).
    DropProcEnd,
}

/// The mutants a machine is configured with (at most one per run).
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct Mutants {
    #[cfg(feature = "mutants")]
    on: Option<Mutant>,
}

impl Mutants {
    /// No mutant.
    pub const NONE: Mutants = Mutants {
        #[cfg(feature = "mutants")]
        on: None,
    };

    /// Only mutant `m` (with the `mutants` feature only).
    #[cfg(feature = "mutants")]
    pub fn only(m: Mutant) -> Mutants {
        Mutants { on: Some(m) }
    }

    /// Whether mutant `m` is on.
    #[inline(always)]
    pub fn on(self, m: Mutant) -> bool {
        #[cfg(feature = "mutants")]
        {
            self.on == Some(m)
        }
        #[cfg(not(feature = "mutants"))]
        {
            let _ = m;
            false
        }
    }
}
