//! Issue 12: every invoker a disturbance affects recovers, or ends with a definite error,
//! for each security method × each disturbance × home or interconnected invoker; and what
//! is under way when a run stops is recorded `unfinished`, not dropped.
//!
//! The table runs, on `topologies/capif-two-providers.ron`, one home invoker (`invoker-1`,
//! onboarded at ccf-a) and one interconnected invoker (`invoker-2`, onboarded at ccf-b,
//! CAPIF-6/6e) of aef-a1 (registered at ccf-a), both using method M, and disturbs them at
//! 5 s: a method change M → N for each other method N (TS 33.122 cl. 5.1.1, seed 004), the
//! revocation of both (TS 29.222 cl. 5.6.2.4), a restart of ccf-a (both affected) and of
//! ccf-b (the interconnected invoker only). Oracles: the checker's
//! `capif.recovers-or-gives-up` is judged once per affected invoker and holds (each one
//! succeeded with a method the AEF supports, or gave up), no other invariant breaks, and no
//! `capif_recovery` is left `unfinished`; after a method change both invokers recover
//! (`capif_recovery` ok) and invoke with N.

use std::path::Path;

use secsim::check::check_seed;
use secsim::metrics::Outcome;
use secsim::scenario::{Scenario, load_experiment, load_experiment_source};

const METHODS: [&str; 3] = ["PSK", "PKI", "OAUTH"];

/// The disturbance of a case.
#[derive(Clone, Copy, Debug)]
enum Change {
    Method(&'static str),
    Revoke,
    Restart(&'static str),
}

fn scenario(method: &str, change: Change) -> Scenario {
    let (prefs, disturbance) = match change {
        Change::Method(n) => (
            format!(r#"["{method}", "{n}"]"#),
            format!(r#"method_changes: [(at: "5s", aef: "aef-a1", methods: ["{n}"])],"#),
        ),
        Change::Revoke => (
            format!(r#"["{method}"]"#),
            r#"revocations: [(at: "5s", invoker: "invoker-1"), (at: "5s", invoker: "invoker-2")],"#.to_string(),
        ),
        Change::Restart(ccf) => (
            format!(r#"["{method}"]"#),
            format!(r#"ccf_restarts: [(at: "5s", ccf: "{ccf}", down: "1s")],"#),
        ),
    };
    let src = format!(
        r#"Experiment(
    name: "liveness-table",
    topology: "../topologies/capif-two-providers.ron",
    duration: "25s",
    crypto: (fidelity: Keys),
    capif: (
        invocations_per_session: Some(5),
        aefs: {{"aef-a1": (methods: Some(["{method}"]))}},
        {disturbance}
    ),
    workload: [
        Capif((name: Some("home"), invokers: ["invoker-1"], ccf: "ccf-a", aef: "aef-a1",
               prefs: Some({prefs}), arrival: Poisson(rate_per_s: 2.0))),
        Capif((name: Some("interconnected"), invokers: ["invoker-2"], ccf: "ccf-b", aef: "aef-a1",
               aef_ccf: Some("ccf-a"), prefs: Some({prefs}), arrival: Poisson(rate_per_s: 2.0))),
    ],
)"#
    );
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/liveness-table.ron");
    load_experiment_source(&src, &path, None).unwrap()
}

#[test]
fn every_affected_invoker_recovers_or_gives_up_for_each_method_change_and_invoker() {
    let mut failed = Vec::new();
    for method in METHODS {
        let mut changes: Vec<Change> = METHODS
            .iter()
            .filter(|n| **n != method)
            .map(|n| Change::Method(n))
            .collect();
        changes.extend([Change::Revoke, Change::Restart("ccf-a"), Change::Restart("ccf-b")]);
        for change in changes {
            let case = format!("{method} × {change:?}");
            let scn = scenario(method, change);
            let (res, report) = check_seed(&scn, 1).unwrap();
            let affected = match change {
                Change::Restart("ccf-b") => 1,
                _ => 2,
            };
            let judged = report.checked.get("capif.recovers-or-gives-up").copied().unwrap_or(0);
            if !report.passed() || judged != affected {
                let v: Vec<String> = report.violations.iter().map(|v| v.to_string()).collect();
                failed.push(format!(
                    "{case}: recovers-or-gives-up judged {judged} of {affected}; violations:\n  {}",
                    v.join("\n  ")
                ));
            }
            let unfinished: Vec<&str> = res
                .records
                .iter()
                .filter(|r| r.procedure == "capif_recovery" && r.outcome == Outcome::Unfinished)
                .map(|r| r.initiator.as_str())
                .collect();
            if !unfinished.is_empty() {
                failed.push(format!("{case}: recoveries unfinished at the end: {unfinished:?}"));
            }
            if let Change::Method(n) = change {
                for flow in ["home", "interconnected"] {
                    let recovered = res
                        .records
                        .iter()
                        .any(|r| r.procedure == "capif_recovery" && r.flow == flow && r.outcome == Outcome::Ok);
                    let invoked = res.records.iter().any(|r| {
                        r.procedure == "capif_invocation"
                            && r.flow == flow
                            && r.variant == n
                            && r.outcome == Outcome::Ok
                    });
                    if !(recovered && invoked) {
                        failed.push(format!(
                            "{case}: {flow}: recovered {recovered}, invoked with {n} {invoked}"
                        ));
                    }
                }
            }
        }
    }
    assert!(
        failed.is_empty(),
        "{} case(s) failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
}

/// Acceptance 1 of issue 12 on the shipped scenario: with the fix, every invoker (home and
/// interconnected) recovers from PSK -> OAUTH; nothing is left `unfinished` but procedures
/// in flight at the very end (younger than a second).
#[test]
fn shipped_interconnect_method_change_every_invoker_recovers() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/capif-interconnect-method-change.ron");
    let scn = load_experiment(&path).unwrap();
    let (res, report) = check_seed(&scn, 1).unwrap();
    assert!(report.passed(), "{:?}", report.violations);
    assert_eq!(
        report.checked.get("capif.recovers-or-gives-up"),
        Some(&40),
        "{:?}",
        report.checked
    );
    for flow in ["home", "interconnected"] {
        let ok: std::collections::BTreeSet<&str> = res
            .records
            .iter()
            .filter(|r| r.procedure == "capif_recovery" && r.flow == flow && r.outcome == Outcome::Ok)
            .map(|r| r.initiator.as_str())
            .collect();
        assert_eq!(ok.len(), 20, "{flow}: {ok:?}");
    }
    let end = scn.experiment.duration.as_nanos();
    for r in res.records.iter().filter(|r| r.outcome == Outcome::Unfinished) {
        assert_eq!(r.end_ns, end, "{r:?}");
        assert!(r.latency_ms() < 1000.0, "{r:?}");
        assert_ne!(r.procedure, "capif_recovery", "{r:?}");
    }
}
