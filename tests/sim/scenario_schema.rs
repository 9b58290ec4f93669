//! Writing a scenario: the JSON Schemas of `secsim schema` describe every shipped file (and
//! refuse what the loader refuses), every `secsim example` validates where it is meant to be
//! saved, and the shipped set of experiments is `experiments/SHIPPED`, whatever else a
//! researcher puts in `experiments/`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use secsim::scenario::examples::{EXAMPLES, example};
use secsim::scenario::json_schema::{SchemaKind, json_schema, json_schema_text};
use secsim::scenario::load::parse_generator_str;
use secsim::scenario::shipped::{MANIFEST, shipped_experiments};
use secsim::scenario::{load_experiment, load_topology, validate_path};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("secsim-schema-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn validator(kind: SchemaKind) -> jsonschema::Validator {
    jsonschema::validator_for(&json_schema(kind)).unwrap_or_else(|e| panic!("{} schema: {e}", kind.name()))
}

/// The schema's complaints about `value`, one line each (empty: valid).
fn errors(v: &jsonschema::Validator, value: &Value) -> Vec<String> {
    v.iter_errors(value)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// Files under `dir` (relative to the repository) that git tracks, if git can tell.
fn git_tracked(dir: &str) -> Option<Vec<String>> {
    let out = Command::new("git")
        .args(["ls-files", "--", dir])
        .current_dir(root())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let files: Vec<String> = text.lines().map(str::to_string).collect();
    (!files.is_empty()).then_some(files)
}

/// The shipped topologies: those the shipped experiments use, and the tracked ones.
fn shipped_topologies() -> BTreeSet<PathBuf> {
    let mut set = BTreeSet::new();
    for e in shipped_experiments(&root().join("experiments")).unwrap() {
        let scn = load_experiment(&e).unwrap_or_else(|err| panic!("{err}"));
        set.insert(std::fs::canonicalize(&scn.topology_path).unwrap());
    }
    for f in git_tracked("topologies").unwrap_or_default() {
        if f.ends_with(".ron") {
            set.insert(std::fs::canonicalize(root().join(f)).unwrap());
        }
    }
    set
}

#[test]
fn every_shipped_experiment_and_topology_validates_against_its_json_schema() {
    let experiments = validator(SchemaKind::Experiment);
    let topologies = validator(SchemaKind::Topology);
    let shipped = shipped_experiments(&root().join("experiments")).unwrap();
    for path in &shipped {
        let scn = load_experiment(path).unwrap_or_else(|e| panic!("{e}"));
        let value = serde_json::to_value(&scn.experiment).unwrap();
        let errs = errors(&experiments, &value);
        assert!(errs.is_empty(), "{}:\n{}", path.display(), errs.join("\n"));
    }
    let topology_files = shipped_topologies();
    let mut generators = 0;
    for path in &topology_files {
        let t = load_topology(path).unwrap_or_else(|e| panic!("{e}"));
        let errs = errors(&topologies, &serde_json::to_value(&t).unwrap());
        assert!(errs.is_empty(), "{} (loaded):\n{}", path.display(), errs.join("\n"));
        let src = std::fs::read_to_string(path).unwrap();
        if src.contains("TopologyGenerator(") {
            // The file itself is a generator: the schema's other alternative.
            let (g, _) = parse_generator_str(&src, path).unwrap_or_else(|e| panic!("{e}"));
            let errs = errors(&topologies, &serde_json::to_value(&g).unwrap());
            assert!(errs.is_empty(), "{} (generator):\n{}", path.display(), errs.join("\n"));
            generators += 1;
        }
    }
    assert!(shipped.len() >= 15, "only {} shipped experiments", shipped.len());
    assert!(topology_files.len() >= 9, "only {} topologies", topology_files.len());
    assert!(generators >= 1, "no topology generator checked");
}

#[test]
fn the_json_schemas_refuse_unknown_fields_wrong_types_and_bad_durations() {
    let experiments = validator(SchemaKind::Experiment);
    let scn = load_experiment(&root().join("experiments/http-baseline.ron")).unwrap();
    let good = serde_json::to_value(&scn.experiment).unwrap();
    assert!(errors(&experiments, &good).is_empty());
    /// What a case does to a valid value (and what it is, for the message).
    type Edit = (&'static str, fn(&mut Value));
    let experiment_cases: &[Edit] = &[
        ("unknown top-level field", |v| v["no_such_field"] = json!(1)),
        ("duration as a number", |v| v["duration"] = json!(5)),
        ("duration without unit", |v| v["duration"] = json!("5")),
        ("duration in parsecs", |v| v["duration"] = json!("5 parsecs")),
        ("seeds as a string", |v| v["seeds"] = json!("1")),
        ("negative seed", |v| v["seeds"] = json!([-1])),
        ("unknown field in a flow", |v| {
            v["workload"][0]["Http"]["bogus"] = json!(true)
        }),
        ("unknown workload variant", |v| {
            v["workload"][0] = json!({"Htp": v["workload"][0]["Http"].clone()})
        }),
        ("arrival written the RON way", |v| {
            v["workload"][0]["Http"]["arrival"] = json!("Poisson(rate_per_s: 1.0)")
        }),
        ("missing workload", |v| {
            drop(v.as_object_mut().unwrap().remove("workload"))
        }),
        ("unknown recovery strategy", |v| {
            v["capif"]["recovery"] = json!("Telepathy")
        }),
        ("unknown crypto operation", |v| {
            v["crypto"]["costs"] = json!({"classes": {"Sepp": {"overrides": {"EcdsaSing": "10us"}}}})
        }),
    ];
    for (what, edit) in experiment_cases {
        let mut v = good.clone();
        edit(&mut v);
        assert!(
            !errors(&experiments, &v).is_empty(),
            "the experiment schema accepts {what}"
        );
    }

    let topologies = validator(SchemaKind::Topology);
    let t = load_topology(&root().join("topologies/two-domain-proxy.ron")).unwrap();
    let good_topology = serde_json::to_value(&t).unwrap();
    assert!(errors(&topologies, &good_topology).is_empty());
    let topology_cases: &[Edit] = &[
        ("loss as a string", |v| v["links"][0]["loss"] = json!("x")),
        ("unknown domain kind", |v| v["domains"][0]["kind"] = json!("Plmm")),
        ("unknown link field", |v| v["links"][0]["jitter"] = json!("1ms")),
        ("latency as a bare string", |v| v["links"][0]["latency"] = json!("1ms")),
    ];
    for (what, edit) in topology_cases {
        let mut v = good_topology.clone();
        edit(&mut v);
        assert!(
            !errors(&topologies, &v).is_empty(),
            "the topology schema accepts {what}"
        );
    }
    // The RON ↔ JSON mapping of the docs: a struct variant is an object under its name.
    let mut v = serde_json::to_value(&scn.experiment).unwrap();
    v["crypto"]["costs"] = json!({"classes": {"Sepp": {"slowdown": 2.0, "overrides": {"EcdsaSign": "10us"}}}});
    v["workload"][0]["Http"]["arrival"] = json!({"Poisson": {"rate_per_s": 1.0}});
    v["workload"][0]["Http"]["processing"] = json!({"Constant": "20ms"});
    assert!(errors(&experiments, &v).is_empty(), "{:?}", errors(&experiments, &v));
}

#[test]
fn secsim_schema_writes_both_files_and_prints_one_kind() {
    let dir = tmp("out");
    let out = Command::new(env!("CARGO_BIN_EXE_secsim"))
        .args(["schema", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for kind in SchemaKind::ALL {
        let text = std::fs::read_to_string(dir.join(kind.file_name())).unwrap();
        assert_eq!(text, json_schema_text(kind), "{}", kind.file_name());
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["$schema"], json!("https://json-schema.org/draft/2020-12/schema"));
    }
    let out = Command::new(env!("CARGO_BIN_EXE_secsim"))
        .args(["schema", "--kind", "topology"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        json_schema_text(SchemaKind::Topology)
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// Copies `from` (a folder of files) to `to`.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
        }
    }
}

#[test]
fn every_example_validates_when_saved_into_experiments() {
    // A copy of the repository's layout: experiments/ beside topologies/.
    let base = tmp("examples");
    copy_dir(&root().join("topologies"), &base.join("topologies"));
    std::fs::create_dir_all(base.join("experiments")).unwrap();
    let schema = validator(SchemaKind::Experiment);
    for kind in ["http", "n32", "capif", "sweep", "n32-prins", "capif-interconnect"] {
        assert!(example(kind).is_some(), "no example `{kind}`");
    }
    for e in EXAMPLES {
        assert!(
            e.text.lines().filter(|l| l.trim_start().starts_with("//")).count() >= 5,
            "example {} is not commented",
            e.kind
        );
        let path = base.join("experiments").join(format!("my-{}.ron", e.kind));
        std::fs::write(&path, e.text).unwrap();
        let summary = validate_path(&path).unwrap_or_else(|err| panic!("example {}: {err}", e.kind));
        assert!(summary.contains(": ok: "), "{summary}");
        let scn = load_experiment(&path).unwrap();
        assert_eq!(scn.experiment.name, format!("my-{}", e.kind));
        let errs = errors(&schema, &serde_json::to_value(&scn.experiment).unwrap());
        assert!(errs.is_empty(), "example {}:\n{}", e.kind, errs.join("\n"));
        if e.kind == "sweep" {
            assert!(summary.contains("Sweep: 4 points"), "{summary}");
        }
    }
    let _ = std::fs::remove_dir_all(base);
}

#[test]
fn secsim_example_lists_prints_and_refuses_unknown_kinds() {
    let run = |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_secsim")).args(args).output().unwrap();
    let out = run(&["example", "--list"]);
    assert!(out.status.success());
    let list = String::from_utf8(out.stdout).unwrap();
    for e in EXAMPLES {
        assert!(list.lines().any(|l| l.starts_with(e.kind)), "{list}");
    }
    let out = run(&["example", "capif"]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), example("capif").unwrap().text);
    let out = run(&["example", "capf"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown example kind `capf` (did you mean `capif`?)"),
        "{err}"
    );
}

#[test]
fn a_researchers_own_file_does_not_change_the_shipped_set() {
    let shipped = shipped_experiments(&root().join("experiments")).unwrap();
    let names = |v: &[PathBuf]| -> Vec<String> {
        v.iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    };
    let copy = tmp("experiments");
    copy_dir(&root().join("experiments"), &copy);
    // A file of one's own (even an invalid one) and a note.
    std::fs::write(copy.join("my-own.ron"), "Experiment(name: \"mine\", this is not done").unwrap();
    std::fs::write(copy.join("notes.txt"), "x").unwrap();
    let with_extra = shipped_experiments(&copy).unwrap();
    assert_eq!(names(&with_extra), names(&shipped));
    assert!(with_extra.iter().all(|p| p.starts_with(&copy)));
    // Listing it is what makes it shipped.
    let manifest = std::fs::read_to_string(copy.join(MANIFEST)).unwrap();
    std::fs::write(copy.join(MANIFEST), format!("{manifest}my-own.ron\n")).unwrap();
    assert_eq!(shipped_experiments(&copy).unwrap().len(), shipped.len() + 1);
    let _ = std::fs::remove_dir_all(copy);
}

#[test]
fn shipped_lists_exactly_the_tracked_experiments_and_each_exists() {
    let dir = root().join("experiments");
    let shipped = shipped_experiments(&dir).unwrap();
    for p in &shipped {
        assert!(
            p.is_file(),
            "{MANIFEST} lists {} but there is no such file",
            p.display()
        );
    }
    let listed: BTreeSet<String> = shipped
        .iter()
        .map(|p| format!("experiments/{}", p.file_name().unwrap().to_string_lossy()))
        .collect();
    match git_tracked("experiments") {
        Some(tracked) => {
            // Top-level files only: experiments/scale/ is the scale tier (scripts/scale).
            let tracked: BTreeSet<String> = tracked
                .into_iter()
                .filter(|f| f.ends_with(".ron") && !f["experiments/".len()..].contains('/'))
                .collect();
            let missing: Vec<&String> = tracked.difference(&listed).collect();
            let untracked: Vec<&String> = listed.difference(&tracked).collect();
            assert!(
                missing.is_empty(),
                "tracked experiments not in experiments/{MANIFEST}: {missing:?}"
            );
            assert!(
                untracked.is_empty(),
                "experiments/{MANIFEST} lists files git does not track: {untracked:?}"
            );
        }
        None => crate::openapi::skipped("git cannot list the tracked experiments (not a git checkout?)"),
    }
}

/// The RON example of the `RiPolicy` doc (src/proto/roaming/policy.rs) as the policy of
/// `ri-hub` on the topology it names: it must validate, and connect (a doc example that
/// validates and then refuses every CONNECT is what issue 12 found).
#[test]
fn the_ri_policy_doc_example_validates_on_its_topology() {
    let src = std::fs::read_to_string(root().join("src/proto/roaming/policy.rs")).unwrap();
    let doc: Vec<&str> = src
        .lines()
        .map(|l| l.trim_start())
        .skip_while(|l| !l.starts_with("/// For `topologies/ipx-hub-50.ron`"))
        .skip_while(|l| *l != "/// ```ron")
        .skip(1)
        .take_while(|l| *l != "/// ```")
        .map(|l| l.strip_prefix("///").unwrap_or(l).trim_start())
        .collect();
    assert!(doc.len() >= 5, "no RON example found in the RiPolicy doc");
    let policy = doc.join("\n");
    assert!(policy.contains("contracts"), "{policy}");
    let base = tmp("ri-doc");
    copy_dir(&root().join("topologies"), &base.join("topologies"));
    std::fs::create_dir_all(base.join("experiments")).unwrap();
    let path = base.join("experiments/ri-doc.ron");
    let text = format!(
        r#"Experiment(
    name: "ri-doc",
    topology: "../topologies/ipx-hub-50.ron",
    duration: "30s",
    n32: (ri_policies: {{"ri-hub": {policy}}}),
    workload: [
        N32((consumer: "cnf-01", c_sepp: "sepp-01", p_sepp: "sepp-02", producer: "pnf-02",
             n32c_via: Some("ri-hub"), arrival: Poisson(rate_per_s: 1.0))),
    ],
)"#
    );
    std::fs::write(&path, &text).unwrap();
    let scn = load_experiment(&path).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let p = &scn.experiment.n32.ri_policies["ri-hub"];
    // The contract covers the flow's pair: this CONNECT is not refused for want of one.
    assert!(p.has_contract("plmn-01", "plmn-02"), "{p:?}");
    let _ = std::fs::remove_dir_all(base);
}

/// The scale tier (`experiments/scale/`, run by `scripts/scale`): each validates, with the
/// sizes issue 16 asks for, and `validate` prints a few lines of counts, not every flow.
#[test]
fn scale_experiments_validate_with_their_sizes() {
    let dir = root().join("experiments/scale");
    let mut seen = 0;
    for (file, words) in [
        (
            "ipx-1000-partners.ron",
            &["3004 nodes (2000 Nf, 1000 Sepp, 4 Ri)", "from 1 workload generator"][..],
        ),
        ("capif-storm-100k.ron", &["100000 Invoker", "(100000 invokers,"][..]),
    ] {
        let path = dir.join(file);
        let summary = validate_path(&path).unwrap_or_else(|e| panic!("{e}"));
        for w in words {
            assert!(summary.contains(w), "{file}: `{w}` not in {summary}");
        }
        assert!(
            summary.lines().count() <= 6 && summary.len() < 1500,
            "{file}: {summary}"
        );
        let scn = load_experiment(&path).unwrap();
        if file.starts_with("ipx") {
            // About 20 partners per PLMN, both ways: about 20,000 SEPP pairs.
            let n = scn.experiment.workload.len();
            assert!((19_000..=20_000).contains(&n), "{n} flows");
        }
        seen += 1;
    }
    let on_disk = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "ron"))
        .count();
    assert_eq!(seen, on_disk, "a scale experiment without a row here");
}
