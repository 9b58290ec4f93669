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

/// `http-baseline` for 2 simulated seconds (with a two-point sweep if `sweep`), written into
/// `dir` with its topology path made absolute.
fn small_experiment(dir: &Path, sweep: bool) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut text = std::fs::read_to_string(root.join("experiments/http-baseline.ron")).unwrap();
    text = text.replace("\"../topologies/", &format!("\"{}/topologies/", root.display()));
    text = text.replacen("duration: \"60s\"", "duration: \"2s\"", 1);
    if sweep {
        text = text.replacen(
            "warmup: \"1s\",",
            "warmup: \"1s\",\n    sweep: [(path: \"workload[0].Http.arrival\", values: [\"Poisson(rate_per_s: 5.0)\", \"Poisson(rate_per_s: 20.0)\"])],",
            1,
        );
        assert!(text.contains("sweep: ["));
    }
    std::fs::create_dir_all(dir).unwrap();
    let f = dir.join(if sweep { "sweep.ron" } else { "experiment.ron" });
    std::fs::write(&f, text).unwrap();
    f
}

/// Every file under `dir` (relative paths), sorted.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// A second writer on a folder another live process holds (here: this test's own pid in the
/// lock) is refused with exit 2, naming the folder and the holder, for a run, a sweep, a
/// resume and a merge; the holder's lock stays and nothing is written.
#[test]
fn a_second_writer_on_a_locked_folder_is_refused_naming_the_holder() {
    let d = tmp("locked");
    let (exp, sweep) = (small_experiment(&d, false), small_experiment(&d, true));
    let shard = d.join("shard");
    let out = secsim()
        .args(["run", "--quiet", "--shard", "0/2", "--out"])
        .arg(&shard)
        .arg(&sweep)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let locked = d.join("out");
    std::fs::create_dir_all(&locked).unwrap();
    let lock = locked.join(".secsim.lock");
    let pid = std::process::id();
    std::fs::write(&lock, format!("{pid}\n")).unwrap();
    let runs: [Vec<std::ffi::OsString>; 4] = [
        vec!["run".into(), "--quiet".into(), exp.clone().into()],
        vec!["run".into(), "--quiet".into(), sweep.clone().into()],
        vec!["run".into(), "--quiet".into(), "--resume".into(), sweep.clone().into()],
        vec!["merge".into(), shard.clone().into()],
    ];
    for args in runs {
        let out = secsim().args(&args).arg("--out").arg(&locked).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(
            err.contains(&format!(
                "{}: another secsim (pid {pid}) is writing this folder",
                locked.display()
            )),
            "{args:?}: {err}"
        );
        assert_eq!(std::fs::read_to_string(&lock).unwrap(), format!("{pid}\n"), "{args:?}");
        assert_eq!(
            files_under(&locked),
            [".secsim.lock"],
            "{args:?} wrote into the locked folder"
        );
    }
    let _ = std::fs::remove_dir_all(d);
}

/// A lock left by a process that is gone is taken over (with that writer's temporary files
/// removed), and the run succeeds; a finished folder holds no lock and no temporary file.
#[test]
fn a_stale_lock_is_taken_over_and_outputs_hold_no_lock_or_temporary_file() {
    let d = tmp("stale");
    let (exp, sweep) = (small_experiment(&d, false), small_experiment(&d, true));
    // Above the kernel's largest pid (2^22): never a live process.
    let dead = 4_194_400u32;
    for (name, f) in [("run", &exp), ("sweep", &sweep)] {
        let out_dir = d.join(name);
        std::fs::create_dir_all(&out_dir).unwrap();
        std::fs::write(out_dir.join(".secsim.lock"), format!("{dead}\n")).unwrap();
        let leftover = out_dir.join(format!(".summary.csv.{dead}-7.tmp"));
        std::fs::write(&leftover, "half a file").unwrap();
        let out = secsim()
            .args(["run", "--quiet", "--out"])
            .arg(&out_dir)
            .arg(f)
            .output()
            .unwrap();
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        let files = files_under(&out_dir);
        assert!(files.iter().any(|f| f == "manifest.json"), "{name}: {files:?}");
        let stray: Vec<&String> = files
            .iter()
            .filter(|f| f.ends_with(".secsim.lock") || f.ends_with(".tmp"))
            .collect();
        assert!(stray.is_empty(), "{name}: left {stray:?}");
    }
    // A merge leaves none either.
    let merged = d.join("merged");
    let out = secsim()
        .arg("merge")
        .arg("--out")
        .arg(&merged)
        .arg(d.join("sweep"))
        .output()
        .unwrap();
    assert!(out.status.success(), "merge: {}", String::from_utf8_lossy(&out.stderr));
    let files = files_under(&merged);
    assert!(
        !files.iter().any(|f| f.ends_with(".secsim.lock") || f.ends_with(".tmp")),
        "merge: {files:?}"
    );
    let _ = std::fs::remove_dir_all(d);
}

/// Output into a pipe whose reader has gone (`secsim ... | head -1`) ends secsim quietly, as it
/// ends any Unix filter, with no panic ("failed printing to stdout: Broken pipe").
#[cfg(unix)]
#[test]
fn a_closed_stdout_pipe_ends_secsim_without_a_panic() {
    use std::os::unix::process::ExitStatusExt as _;
    use std::process::Stdio;
    // More than a pipe's buffer (64 KiB), so the writer meets the closed pipe even if it
    // started writing before the read end was closed.
    for args in [
        vec!["schema", "--kind", "experiment"],
        vec!["validate", "experiments/n32-ipx-hub.ron"],
    ] {
        let mut child = secsim()
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // the reader goes away at once
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !err.contains("panicked") && !err.contains("Broken pipe"),
            "{args:?}: {err}"
        );
        assert!(
            out.status.success() || out.status.signal() == Some(13),
            "{args:?}: {:?}: {err}",
            out.status
        );
    }
}
