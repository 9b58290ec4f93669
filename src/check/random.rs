//! Random scenarios for the property tests and the soak tier (filled in below).
