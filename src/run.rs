//! Running experiments.
