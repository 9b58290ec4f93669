//! Metric records and outputs.
