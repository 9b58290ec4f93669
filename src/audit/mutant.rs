//! Deliberate bugs, for showing that the checker catches them (acceptance of issue 7).
//!
//! A mutant is switched on for the current thread only, and only in test builds
//! (`cfg(test)`): in every other build [`is`] is the constant `false` and the mutated
//! branches compile away. Protocol code asks `if mutant::is(Mutant::X) { <the bug> }` at the
//! one place the bug would live.

use super::{capif, n32};

/// One deliberate bug.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Mutant {
    N32(n32::N32Mutant),
    Capif(capif::CapifMutant),
    /// A procedure's end is never reported (a lost completion).
    DropProcEnd,
}

#[cfg(test)]
thread_local! {
    static ACTIVE: std::cell::Cell<Option<Mutant>> = const { std::cell::Cell::new(None) };
}

/// Whether mutant `m` is on for this thread.
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
