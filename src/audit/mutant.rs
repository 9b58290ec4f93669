//! Deliberate bugs, for showing that the checker catches them (acceptance of issues 7 and 13).
//!
//! Where this is going (issue 13): a mutant is a behaviour knob in a machine's configuration
//! (the builders copy the experiment's [`Mutants`] into every machine they build, and the one
//! decision the bug lives in asks `if self.mutants.on(Mutant::X) { <the bug> }`), settable
//! only with the cargo feature `mutants` (which the test suite's build has): without it
//! [`Mutants`] is empty, [`Mutants::on`] is the constant `false` and the mutated branches
//! compile away. Today the call sites still ask the thread-local switch [`is`] (on only in
//! the library's own unit tests, through `with`); moving them to [`Mutants`] is open.

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

#[cfg(test)]
thread_local! {
    static ACTIVE: std::cell::Cell<Option<Mutant>> = const { std::cell::Cell::new(None) };
}

/// Whether mutant `m` is on for this thread (the earlier switch, kept while call sites move
/// to [`Mutants`]).
#[inline(always)]
pub fn is(m: Mutant) -> bool {
    #[cfg(test)]
    {
        ACTIVE.with(|a| a.get() == Some(m))
    }
    #[cfg(not(test))]
    {
        let _ = m;
        false
    }
}

/// Runs `f` with mutant `m` on for this thread.
#[cfg(test)]
pub fn with<R>(m: Mutant, f: impl FnOnce() -> R) -> R {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            ACTIVE.with(|a| a.set(None));
        }
    }
    ACTIVE.with(|a| a.set(Some(m)));
    let _reset = Reset;
    f()
}
