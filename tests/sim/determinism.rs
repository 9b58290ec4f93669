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
        let opts = RunOptions {
            seeds: Some(3),
            out: Some(out.clone()),
            threads: Some(threads),
            quiet: true,
            trace: true,
            ..RunOptions::default()
        };
        run_experiment(&experiment(), &opts).unwrap();
        out
    };
    let one = run(1, "t1");
    let two = run(2, "t2");
    for f in [
        "records.csv",
        "summary.csv",
        "trace-seed-1.jsonl",
        "trace-seed-3.jsonl",
        "latency_cdf.svg",
    ] {
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

/// Adding an actor (a node, its links and its flow) leaves every other actor's draws, and
/// so their records, unchanged: streams are keyed by stable names, not creation order.
#[test]
fn adding_an_actor_leaves_other_draws_unchanged() {
    use secsim::engine::{Limits, SimDuration, SimTime};
    use secsim::scenario::{ExperimentFile, TopologyFile};

    let topo = |extra_node: &str, extra_link: &str| -> TopologyFile {
        ron::from_str(&format!(
            r#"Topology(domains: [(name: "a", kind: Plmn)],
                nodes: [{extra_node} (name: "c", domain: "a"), (name: "s", domain: "a")],
                links: [{extra_link} (source: "c", target: "s", latency: Uniform(min: "1ms", max: "9ms"), loss: 0.05)])"#
        ))
        .unwrap()
    };
    let exp = |extra_flow: &str| -> ExperimentFile {
        ron::from_str(&format!(
            r#"Experiment(name: "t", topology: "unused", duration: "20s", workload: [{extra_flow}
                Http((name: Some("main"), client: "c", server: "s", arrival: Poisson(rate_per_s: 20.0)))])"#
        ))
        .unwrap()
    };
    let main_records = |t: &TopologyFile, e: &ExperimentFile| {
        let mut sim = secsim::build::simulation(t, e, 99).unwrap();
        sim.run(Limits {
            until: SimTime::ZERO + SimDuration::from_secs(20),
            max_events: u64::MAX,
        });
        sim.world
            .records
            .iter()
            .filter(|r| r.flow == "main")
            .cloned()
            .collect::<Vec<_>>()
    };
    let before = main_records(&topo("", ""), &exp(""));
    let after = main_records(
        &topo(
            r#"(name: "z", domain: "a"),"#,
            r#"(source: "z", target: "s", latency: Uniform(min: "1ms", max: "9ms"), loss: 0.05),"#,
        ),
        &exp(r#"Http((name: Some("extra"), client: "z", server: "s", arrival: Poisson(rate_per_s: 30.0))),"#),
    );
    assert!(before.len() > 300);
    assert_eq!(before, after);
}

/// The recorded trace hash of every shipped experiment (`experiments/SHIPPED`; its first seed, tracing on, the
/// audit trail included). A change of behaviour, intended or not, changes a hash: this test
/// then fails and names the experiments. When the change is on purpose, record the new hashes
/// with `SECSIM_BLESS_TRACE_HASHES=1 cargo test --release --test sim recorded_trace_hashes`
/// and add a line to the notes in `tests/trace-hashes.txt` saying why.
#[test]
fn recorded_trace_hashes_of_shipped_experiments() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let file = root.join("tests/trace-hashes.txt");
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    let notes: Vec<&str> = text.lines().filter(|l| l.starts_with('#')).collect();
    let recorded: std::collections::BTreeMap<String, (u64, String)> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((
                it.next()?.to_string(),
                (it.next()?.parse().ok()?, it.next()?.to_string()),
            ))
        })
        .collect();
    // The shipped set (experiments/SHIPPED): a researcher's own file in experiments/ has no
    // recorded hash and is none of this test's business.
    let names = secsim::scenario::shipped::shipped_experiments(&root.join("experiments")).unwrap();
    let mut now = std::collections::BTreeMap::new();
    for p in &names {
        let scn = load_experiment(p).unwrap();
        let seed = scn.experiment.first_seed();
        let hash = run_seed(&scn, seed, Some(None), &|_| {}).unwrap().trace_hash.unwrap();
        let name = p.file_stem().unwrap().to_string_lossy().to_string();
        now.insert(name, (seed, hash));
    }
    if std::env::var_os("SECSIM_BLESS_TRACE_HASHES").is_some() {
        let mut out = String::new();
        for n in &notes {
            out.push_str(n);
            out.push('\n');
        }
        for (name, (seed, hash)) in &now {
            out.push_str(&format!("{name} {seed} {hash}\n"));
        }
        std::fs::write(&file, out).unwrap();
        return;
    }
    let mut changed = Vec::new();
    for (name, (seed, hash)) in &now {
        match recorded.get(name) {
            Some((s, h)) if s == seed && h == hash => {}
            Some((s, h)) => changed.push(format!("{name}: seed {s} recorded {h}, now seed {seed} {hash}")),
            None => changed.push(format!("{name}: no recorded hash (now seed {seed} {hash})")),
        }
    }
    for name in recorded.keys().filter(|n| !now.contains_key(*n)) {
        changed.push(format!("{name}: recorded but no such experiment"));
    }
    assert!(
        changed.is_empty(),
        "trace hashes changed (behaviour changed); if on purpose, rerun with SECSIM_BLESS_TRACE_HASHES=1 \
         and add a note to tests/trace-hashes.txt:\n{}",
        changed.join("\n")
    );
}

/// The checker's verdicts do not depend on the thread count either.
#[test]
fn check_reports_do_not_depend_on_thread_count() {
    use secsim::check::runner::{CheckOptions, check_experiment};
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/n32-prins-faults.ron");
    let run = |threads| {
        let opts = CheckOptions {
            seeds: Some(4),
            threads: Some(threads),
        };
        check_experiment(&path, &opts, &|_, _| {})
            .unwrap()
            .into_iter()
            .map(|r| {
                (
                    r.report.seed,
                    r.events,
                    r.report.events,
                    r.report.checked,
                    r.report.violations.len(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(run(1), run(2));
}
