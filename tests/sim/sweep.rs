//! Sweeps: one command runs every point on all cores; the same sweep in three shards merged
//! gives byte-identical files; a run killed midway and resumed gives them too.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn secsim() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_secsim"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("secsim-sweep-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn run(args: &[&str]) {
    let out = secsim().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "secsim {args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every file under `dir` except the manifests (wall time, shard list), by relative path.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let rel = p.strip_prefix(dir).unwrap().display().to_string();
            if rel.ends_with("manifest.json") {
                continue;
            }
            out.insert(rel, std::fs::read(&p).unwrap());
        }
    }
    out
}

fn assert_same(a: &Path, b: &Path) {
    let (fa, fb) = (files(a), files(b));
    assert_eq!(
        fa.keys().collect::<Vec<_>>(),
        fb.keys().collect::<Vec<_>>(),
        "{} vs {}",
        a.display(),
        b.display()
    );
    for (k, v) in &fa {
        assert!(v == &fb[k], "{k} differs between {} and {}", a.display(), b.display());
    }
}

#[test]
fn shards_merged_and_resumed_runs_equal_the_single_run() {
    for exp in [
        "experiments/sweep-n32-prins.ron",
        "experiments/sweep-capif-recovery.ron",
    ] {
        let tag = Path::new(exp).file_stem().unwrap().to_string_lossy().to_string();
        let single = scratch(&format!("{tag}-single"));
        run(&["run", exp, "--quiet", "--out", single.to_str().unwrap()]);
        let f = files(&single);
        // 3 axes x 3 values, 10 seeds each, and the outputs of the issue.
        assert_eq!(
            std::fs::read_to_string(single.join("points.csv"))
                .unwrap()
                .lines()
                .count(),
            28
        );
        for must in [
            "records.csv.gz",
            "summary.csv",
            "points.csv",
            "sweep_outcomes.svg",
            "sweep_outcomes.png",
        ] {
            assert!(f.get(must).is_some_and(|b| b.len() > 200), "{tag}: {must}");
        }
        assert!(f.keys().any(|k| k.starts_with("sweep_") && k.ends_with("_latency.png")));
        // Each point also has a single run's plots.
        // (a CAPIF-only run has no request latencies).
        let plots: &[&str] = if tag.contains("capif") {
            &["outcomes.png", "capif_latency_cdf.png"]
        } else {
            &["latency_cdf.png", "latency_cdf.svg", "outcomes.png"]
        };
        for plot in plots {
            let k = format!("points/p00000/{plot}");
            assert!(f.get(&k).is_some_and(|b| b.len() > 1000), "{tag}: {k}");
        }
        if tag.contains("capif") {
            assert!(f.contains_key("points/p00000/capif_recovery_timeline.png"), "{tag}");
        }
        let summary = std::fs::read_to_string(single.join("summary.csv")).unwrap();
        assert!(
            summary.lines().skip(1).all(|l| l.contains(",10,")),
            "10 seeds per point"
        );

        // Three shards, merged.
        let shards: Vec<PathBuf> = (0..3).map(|i| scratch(&format!("{tag}-shard{i}"))).collect();
        for (i, s) in shards.iter().enumerate() {
            run(&[
                "run",
                exp,
                "--quiet",
                "--shard",
                &format!("{i}/3"),
                "--out",
                s.to_str().unwrap(),
            ]);
            assert!(!s.join("records.csv.gz").exists(), "a shard writes point folders only");
        }
        let merged = scratch(&format!("{tag}-merged"));
        let mut args = vec!["merge", "--out", merged.to_str().unwrap()];
        args.extend(shards.iter().map(|s| s.to_str().unwrap()));
        run(&args);
        assert_same(&single, &merged);

        // Interrupted: one shard done, a point half written (no point.json), a stray temp
        // file; then resumed.
        let resumed = scratch(&format!("{tag}-resumed"));
        run(&[
            "run",
            exp,
            "--quiet",
            "--shard",
            "0/2",
            "--out",
            resumed.to_str().unwrap(),
        ]);
        let p2 = resumed.join("points").join("p00002");
        std::fs::remove_file(p2.join("point.json")).unwrap();
        std::fs::write(p2.join("records.csv.gz.tmp"), b"half").unwrap();
        std::fs::write(p2.join(".summary.csv.1-0.tmp"), b"half").unwrap();
        std::fs::write(p2.join("records.csv.gz"), b"seed,truncated").unwrap();
        let out = secsim()
            .args(["run", exp, "--quiet", "--resume", "--out", resumed.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(out.status.success());
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(said.contains("(13 already complete)"), "{said}");
        assert!(
            !p2.join("records.csv.gz.tmp").exists() && !p2.join(".summary.csv.1-0.tmp").exists(),
            "the resumed point rewrote its files"
        );
        assert_same(&single, &resumed);
        for d in shards.iter().chain([&single, &merged, &resumed]) {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

#[test]
fn a_sweep_killed_midway_resumes_to_the_same_files() {
    let exp = "experiments/sweep-capif-recovery.ron";
    let full = scratch("kill-full");
    run(&["run", exp, "--quiet", "--out", full.to_str().unwrap()]);
    let killed = scratch("kill-killed");
    let mut child = secsim()
        .args(["run", exp, "--threads", "1", "--out", killed.to_str().unwrap()])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once a few points are done (progress lines go to stderr when not a terminal).
    let lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut done = 0;
    for l in lines {
        if l.unwrap().contains(" done (") {
            done += 1;
            if done == 4 {
                break;
            }
        }
    }
    child.kill().unwrap();
    let _ = child.wait();
    assert!(!killed.join("records.csv.gz").exists(), "killed before the end");
    run(&["run", exp, "--quiet", "--resume", "--out", killed.to_str().unwrap()]);
    // Leftover temp files of the killed process are not results.
    for (k, _) in files(&killed) {
        assert!(!k.ends_with(".tmp"), "{k}");
    }
    assert_same(&full, &killed);
    let _ = std::fs::remove_dir_all(&full);
    let _ = std::fs::remove_dir_all(&killed);
}

#[test]
fn merge_refuses_an_incomplete_sweep_and_bad_shard_flags() {
    let exp = "experiments/sweep-capif-recovery.ron";
    let s0 = scratch("incomplete");
    run(&[
        "run",
        exp,
        "--quiet",
        "--seeds",
        "1",
        "--shard",
        "0/3",
        "--out",
        s0.to_str().unwrap(),
    ]);
    let merged = scratch("incomplete-merged");
    let out = secsim()
        .args(["merge", "--out", merged.to_str().unwrap(), s0.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("incomplete sweep: 18 of 27 points missing"), "{err}");
    for bad in ["3/3", "1", "x/2", "0/0"] {
        let out = secsim().args(["run", exp, "--shard", bad]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "--shard {bad}");
    }
    let _ = std::fs::remove_dir_all(&s0);
    let _ = std::fs::remove_dir_all(&merged);
}
