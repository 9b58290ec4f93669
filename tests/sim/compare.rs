//! `secsim compare`: the numbers of compare.csv / compare.md are recomputed here from the
//! sweep's records.csv.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use secsim::sweep::parse_csv;

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("secsim-compare-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn nearest_rank(sorted: &[f64], q: f64) -> f64 {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn close(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || (a - b).abs() <= 2e-6 * (1.0 + b.abs())
}

#[test]
fn compare_tables_match_recomputation_from_records() {
    for exp in [
        "experiments/compare-n32-preference.ron",
        "experiments/compare-capif-interconnection.ron",
        "experiments/compare-capif-recovery.ron",
    ] {
        let out = scratch(exp.rsplit('/').next().unwrap());
        let o = Command::new(env!("CARGO_BIN_EXE_secsim"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args([
                "compare",
                exp,
                "--quiet",
                "--seeds",
                "3",
                "--out",
                out.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{exp}: {}", String::from_utf8_lossy(&o.stderr));
        let md = std::fs::read_to_string(out.join("compare.md")).unwrap();
        assert!(md.contains("| alternative | runs | latency mean [95% CI]"), "{md}");
        let records = parse_csv(&secsim::run::read_gzip_text(&out.join("records.csv.gz")).unwrap());
        let table = parse_csv(&std::fs::read_to_string(out.join("compare.csv")).unwrap());
        let h = &records[0];
        let c = |n: &str| h.iter().position(|x| x == n).unwrap();
        let (cp, cs, cpr, cv, cl, co, cb) = (
            c("point"),
            c("seed"),
            c("procedure"),
            c("variant"),
            c("latency_ms"),
            c("outcome"),
            c("bytes"),
        );
        // (procedure, variant, point) -> per seed (latencies of ok runs, runs, bytes)
        type PerSeed = BTreeMap<u64, (Vec<f64>, usize, f64)>;
        let mut groups: BTreeMap<(String, String, usize), PerSeed> = BTreeMap::new();
        for r in records.iter().skip(1) {
            if r[cpr] == "capif_exposure" {
                continue;
            }
            let g = groups
                .entry((r[cpr].clone(), r[cv].clone(), r[cp].parse().unwrap()))
                .or_default();
            let s = g.entry(r[cs].parse().unwrap()).or_default();
            s.1 += 1;
            s.2 += r[cb].parse::<f64>().unwrap();
            if r[co] == "ok" {
                s.0.push(r[cl].parse().unwrap());
            }
        }
        let th = &table[0];
        let t = |row: &Vec<String>, n: &str| -> f64 {
            row[th.iter().position(|x| x == n).unwrap()].parse().unwrap_or(f64::NAN)
        };
        assert_eq!(
            table.len() - 1,
            groups.len(),
            "{exp}: one row per procedure, variant, point"
        );
        for row in table.iter().skip(1) {
            let key = (row[0].clone(), row[1].clone(), row[2].parse::<usize>().unwrap());
            let g = &groups[&key];
            let mut all: Vec<f64> = g.values().flat_map(|s| s.0.iter().copied()).collect();
            all.sort_by(|a, b| a.total_cmp(b));
            let runs: usize = g.values().map(|s| s.1).sum();
            let what = format!("{exp} {key:?}");
            assert_eq!(t(row, "runs") as usize, runs, "{what}");
            assert_eq!(t(row, "ok") as usize, all.len(), "{what}");
            let mean = all.iter().sum::<f64>() / all.len() as f64;
            assert!(close(t(row, "latency_ms_mean"), mean), "{what}");
            if !all.is_empty() {
                assert!(close(t(row, "latency_ms_p50"), nearest_rank(&all, 0.5)), "{what}");
                assert!(close(t(row, "latency_ms_p90"), nearest_rank(&all, 0.9)), "{what}");
            }
            let fail = (runs - all.len()) as f64 / runs as f64;
            assert!(close(t(row, "failure_rate"), fail), "{what}");
            let bytes: f64 = g.values().map(|s| s.2).sum::<f64>() / runs as f64;
            assert!(close(t(row, "bytes_per_run"), bytes), "{what}");
            // The difference to point 0, paired by seed.
            if key.2 != 0
                && let Some(base) = groups.get(&(key.0.clone(), key.1.clone(), 0))
            {
                let d: Vec<f64> = g
                    .iter()
                    .filter(|(_, s)| !s.0.is_empty())
                    .filter_map(|(seed, s)| {
                        let b = base.get(seed).filter(|b| !b.0.is_empty())?;
                        Some(s.0.iter().sum::<f64>() / s.0.len() as f64 - b.0.iter().sum::<f64>() / b.0.len() as f64)
                    })
                    .collect();
                if !d.is_empty() {
                    let dm = d.iter().sum::<f64>() / d.len() as f64;
                    assert!(close(t(row, "latency_ms_diff"), dm), "{what}: diff");
                }
            }
            // The same numbers in the Markdown table.
            let alt = &row[3];
            let section = md
                .split("\n## ")
                .find(|s| s.starts_with(&format!("{} — {}\n", key.0, key.1)))
                .unwrap_or_else(|| panic!("{what}: no section"));
            let line = section
                .lines()
                .find(|l| l.starts_with(&format!("| {} | {runs} |", alt.replace('|', "\\|"))))
                .unwrap_or_else(|| panic!("{what}: no row for {alt} in compare.md"));
            if !mean.is_nan() {
                assert!(line.contains(&format!("{mean:.3} [")), "{what}: {line}");
            }
        }
        let _ = std::fs::remove_dir_all(&out);
    }
}
