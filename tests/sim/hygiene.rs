//! Determinism hygiene over the whole source tree (STYLE.md): nothing in the simulation
//! draws on the OS or thread RNG, iterates a hash map, or reads a clock. Only the CLI, the
//! run drivers (src/run.rs, src/sweep.rs: wall time in the manifest, progress) and the benchmark drivers (src/bench/)
//! may time themselves. Comment lines are skipped, so docs may name what they forbid.

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn no_ambient_randomness_hash_iteration_or_clock_in_src() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    files.sort();
    let rng = [
        concat!("Os", "Rng"),
        concat!("thread", "_rng"),
        concat!("rand::", "rng()"),
        concat!("get", "random"),
    ];
    let hash = [concat!("Hash", "Map"), concat!("Hash", "Set")];
    let clock = [concat!("Instant", "::"), concat!("System", "Time")];
    // Wall time is measured only by the CLI, the run drivers (single runs and sweeps: the
    // manifest's wall time and the progress output) and the benchmark drivers.
    let clock_ok = |f: &Path| {
        f.ends_with("src/main.rs")
            || f.ends_with("src/run.rs")
            || f.ends_with("src/sweep.rs")
            || f.parent().is_some_and(|p| p.ends_with("src/bench"))
    };
    let mut bad = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            let mut banned: Vec<&str> = rng.iter().chain(hash.iter()).copied().collect();
            if !clock_ok(f) {
                banned.extend(clock);
            }
            for b in banned {
                if code.contains(b) {
                    bad.push(format!("{}:{}: {b}", f.display(), n + 1));
                }
            }
        }
    }
    assert!(files.len() > 20);
    assert!(bad.is_empty(), "determinism hazards:\n{}", bad.join("\n"));
}
