//! Whole-run determinism: equal seeds give equal trace hashes and byte-identical outputs,
//! whatever the thread count; different seeds give different traces.

use std::path::{Path, PathBuf};

use secsim::run::{RunOptions, run_experiment, run_seed};
use secsim::scenario::load_experiment;

fn experiment() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/http-baseline.ron")
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("secsim-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn trace_hash_is_equal_for_equal_seeds_and_differs_across_seeds() {
    let scn = load_experiment(&experiment()).unwrap();
    let hash = |seed| run_seed(&scn, seed, Some(None), &|_| {}).unwrap().trace_hash.unwrap();
    let (a, b, c) = (hash(7), hash(7), hash(8));
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn outputs_do_not_depend_on_thread_count() {
    let run = |threads, name| {
        let out = tmp(name);
        let opts = RunOptions { seeds: Some(3), out: Some(out.clone()), threads: Some(threads), quiet: true, trace: true };
        run_experiment(&experiment(), &opts).unwrap();
        out
    };
    let one = run(1, "t1");
    let two = run(2, "t2");
    for f in ["records.csv", "summary.csv", "trace-seed-1.jsonl", "trace-seed-3.jsonl", "latency_cdf.svg"] {
        let a = std::fs::read(one.join(f)).unwrap();
        let b = std::fs::read(two.join(f)).unwrap();
        assert!(a == b, "{f} differs between 1 and 2 threads");
    }
    let m1: serde_json::Value = serde_json::from_slice(&std::fs::read(one.join("manifest.json")).unwrap()).unwrap();
    let m2: serde_json::Value = serde_json::from_slice(&std::fs::read(two.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m1["runs"], m2["runs"], "per-seed events and trace hashes");
    assert_eq!(m1["scenario_hash"], m2["scenario_hash"]);
    let _ = std::fs::remove_dir_all(one);
    let _ = std::fs::remove_dir_all(two);
}
