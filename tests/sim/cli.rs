//! The `secsim` binary: exit codes, error messages and reproducible outputs.

use std::path::{Path, PathBuf};
use std::process::Command;

fn secsim() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_secsim"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("secsim-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn every_bad_input_exits_2_with_a_located_message_and_no_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad_inputs");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut checked = 0;
    for f in files.iter().filter(|f| !f.ends_with("ok_topology.ron")) {
        for verb in ["validate", "run"] {
            let mut cmd = secsim();
            cmd.arg(verb).arg(f);
            if verb == "run" {
                // Experiments only: running a topology file is itself an input error.
                cmd.arg("--quiet").arg("--out").arg(tmp("bad"));
            }
            let out = cmd.output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{verb} {}: {stderr}", f.display());
            assert!(!stderr.contains("panicked"), "{verb} {}: {stderr}", f.display());
            // file:line:column: field: message
            let name = f.file_name().unwrap().to_string_lossy();
            let located = stderr
                .lines()
                .any(|l| l.contains(&*name) && l.split(':').nth(2).is_some_and(|c| c.trim().parse::<u32>().is_ok()));
            assert!(
                located || stderr.contains("ok_topology") || stderr.contains(".ron:"),
                "{verb} {}: {stderr}",
                f.display()
            );
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} bad inputs checked");
}

#[test]
fn validate_accepts_the_shipped_files() {
    for f in ["experiments/http-baseline.ron", "topologies/two-domain-proxy.ron"] {
        let out = secsim().arg("validate").arg(f).output().unwrap();
        assert!(out.status.success(), "{f}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(!out.stdout.is_empty());
    }
}

#[test]
fn bad_flags_exit_2_and_help_exits_0() {
    let out = secsim().args(["run", "--no-such-flag"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = secsim().arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let out = secsim()
        .args(["run", "experiments/does-not-exist.ron"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does-not-exist.ron"));
}

#[test]
fn run_twice_with_the_same_seed_gives_identical_files() {
    let (a, b) = (tmp("a"), tmp("b"));
    for d in [&a, &b] {
        let out = secsim()
            .args(["run", "experiments/http-baseline.ron", "--quiet", "--trace", "--out"])
            .arg(d)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    for f in [
        "records.csv",
        "summary.csv",
        "trace.jsonl",
        "latency_cdf.svg",
        "latency_cdf.png",
    ] {
        let (x, y) = (std::fs::read(a.join(f)).unwrap(), std::fs::read(b.join(f)).unwrap());
        assert!(x.len() > 100, "{f} is trivial");
        assert!(x == y, "{f} differs between two runs");
    }
    let manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(a.join("manifest.json")).unwrap()).unwrap();
    for key in [
        "secsim_version",
        "git_commit",
        "scenario_hash",
        "seeds",
        "runs",
        "wall_time_s",
    ] {
        assert!(manifest.get(key).is_some(), "manifest lacks {key}");
    }
    let _ = std::fs::remove_dir_all(a);
    let _ = std::fs::remove_dir_all(b);
}

/// `--format parquet` writes records.parquet in a build with the `parquet` feature; without
/// it, the run is refused up front (exit 2) with the way to get it, and nothing is written.
#[test]
fn format_parquet_is_written_or_refused_with_the_feature_to_enable() {
    let out_dir = tmp("parquet");
    let out = secsim()
        .args([
            "run",
            "experiments/http-baseline.ron",
            "--quiet",
            "--format",
            "parquet",
            "--out",
        ])
        .arg(&out_dir)
        .output()
        .unwrap();
    if cfg!(feature = "parquet") {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let bytes = std::fs::read(out_dir.join("records.parquet")).unwrap();
        assert_eq!(&bytes[..4], b"PAR1", "a Parquet file starts with its magic");
        assert!(!out_dir.join("records.csv").exists(), "parquet replaces records.csv");
        assert!(out_dir.join("summary.csv").exists());
    } else {
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--features parquet"), "{err}");
        assert!(!out_dir.join("records.csv").exists(), "refused before running");
    }
    let _ = std::fs::remove_dir_all(out_dir);
}
