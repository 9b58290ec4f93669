//! Sans-IO protocol machines and the message types they exchange. A machine never sends,
//! sleeps or reads a clock: inputs are `handle_*(now, ...)`, outputs are data.
//!
//! - [`common`]: ProblemDetails (TS 29.571 and TS 29.122 variants).
//! - [`effect`]: the one input/effect contract of every node machine ([`effect::Machine`]).
//! - [`machine`]: the transition-table machinery (`Transition`, `lookup`, `render_table`) of
//!   every machine.
//! - [`n32`]: N32-c handshake (TS 29.573 clause 5.2) and N32-f PRINS (clause 5.3/6.2).
//! - [`payload`]: the workload's application bodies (TS 29.509 UE authentication, TS 29.122
//!   monitoring event subscription), sized by the scenario.
//! - [`roaming`]: Roaming Intermediaries: CONNECT policy, rejection, FFS alternatives.
//! - [`capif`]: CAPIF security (TS 33.122, TS 29.222).
//! - [`workload`]: plain HTTP clients, servers and proxies of the `Http` flows.

pub mod capif;
pub mod common;
pub mod effect;
pub mod machine;
pub mod n32;
pub mod payload;
pub mod roaming;
pub mod workload;

/// Snapshot checks of transition tables, shared by the protocol machines' tests.
#[cfg(test)]
pub(crate) mod snapshot {
    /// Compares `actual` with `tests/snapshots/<file>`; with `UPDATE_SNAPSHOTS=1` rewrites the
    /// file instead. A missing or different snapshot fails with the text to review.
    pub(crate) fn check(file: &str, actual: &str) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/snapshots")
            .join(file);
        if std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v == "1") {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, actual).unwrap();
            return;
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            expected == actual,
            "snapshot {} differs from the transition table; review, then rerun the test with \
             UPDATE_SNAPSHOTS=1 to rewrite it.\n--- actual\n{actual}",
            path.display()
        );
    }
}
