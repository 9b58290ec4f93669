//! The experiments shipped with secsim: the manifest `experiments/SHIPPED`, one file name
//! per line (`#` starts a comment line; blank lines are skipped).
//!
//! Tests, `scripts/check-shipped` and the trace-hash guard cover exactly the listed files, so
//! an experiment a researcher adds to `experiments/` is never judged by them.

use std::path::{Path, PathBuf};

/// The manifest's file name inside the experiments folder.
pub const MANIFEST: &str = "SHIPPED";

/// The shipped experiments of the experiments folder `dir` (`dir/SHIPPED`), as paths in
/// `dir`, sorted by name. Fails with a message naming the manifest and line when the
/// manifest cannot be read, or a line is not a plain `*.ron` file name (no folder), or a
/// name is listed twice. Does not check that the files exist.
pub fn shipped_experiments(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let manifest = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&manifest).map_err(|e| format!("{}: {e}", manifest.display()))?;
    let mut names: Vec<&str> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let name = line.trim();
        if name.is_empty() || name.starts_with('#') {
            continue;
        }
        let at = format!("{}:{}", manifest.display(), i + 1);
        if !name.ends_with(".ron") || name.contains(['/', '\\']) || name.starts_with('.') {
            return Err(format!(
                "{at}: `{name}` is not an experiment file name (`name.ron`, no folder)"
            ));
        }
        if names.contains(&name) {
            return Err(format!("{at}: `{name}` is listed twice"));
        }
        names.push(name);
    }
    names.sort_unstable();
    Ok(names.into_iter().map(|n| dir.join(n)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(manifest: &str, name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("secsim-shipped-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(MANIFEST), manifest).unwrap();
        d
    }

    #[test]
    fn comments_and_blank_lines_are_skipped_and_names_sorted() {
        let d = dir_with("# header\n\nb.ron\n  a.ron  \n", "ok");
        let got = shipped_experiments(&d).unwrap();
        assert_eq!(got, vec![d.join("a.ron"), d.join("b.ron")]);
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn bad_lines_are_refused_with_their_line() {
        for (text, want) in [
            (
                "a.ron\n../x.ron\n",
                "SHIPPED:2: `../x.ron` is not an experiment file name",
            ),
            ("a.txt\n", "SHIPPED:1: `a.txt`"),
            ("a.ron\na.ron\n", "SHIPPED:2: `a.ron` is listed twice"),
        ] {
            let d = dir_with(text, "bad");
            let e = shipped_experiments(&d).unwrap_err();
            assert!(e.contains(want), "{e}");
            let _ = std::fs::remove_dir_all(d);
        }
        let missing = std::env::temp_dir().join("secsim-shipped-no-such-dir");
        assert!(shipped_experiments(&missing).unwrap_err().contains("SHIPPED"));
    }
}
