//! Checker tests: each mutant is caught, named by invariant, seed and event.
