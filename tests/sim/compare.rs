//! `secsim compare`: the numbers of compare.csv / compare.md are recomputed here from the
//! sweep's records.csv (grouping, folding rule, statistics and paired differences written out
//! again, with the Student t quantiles from a printed table), and the cases of issue 12: the
//! recovery strategies in one table, a flow's N32 failure rate as one row, the exposure table
//! of the interconnection comparison, and the error for an experiment without a sweep.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use secsim::sweep::parse_csv;

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("secsim-compare-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn secsim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_secsim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .unwrap()
}

/// `secsim compare EXP --seeds 3` once per test binary; the results folder.
fn compared(exp: &str, cell: &'static OnceLock<PathBuf>) -> &'static Path {
    cell.get_or_init(|| {
        let out = scratch(exp.rsplit('/').next().unwrap());
        let o = secsim(&[
            "compare",
            exp,
            "--quiet",
            "--seeds",
            "3",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{exp}: {}", String::from_utf8_lossy(&o.stderr));
        out
    })
}

static PREFERENCE: OnceLock<PathBuf> = OnceLock::new();
static INTERCONNECTION: OnceLock<PathBuf> = OnceLock::new();
static RECOVERY: OnceLock<PathBuf> = OnceLock::new();

const RECOVERY_EXP: &str = "experiments/compare-capif-recovery.ron";
const INTERCONNECTION_EXP: &str = "experiments/compare-capif-interconnection.ron";

fn nearest_rank(sorted: &[f64], q: f64) -> f64 {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn close(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || (a - b).abs() <= 2e-6 * (1.0 + b.abs())
}

/// Two-sided 95% Student t quantiles for 1..=9 degrees of freedom (printed tables).
const T975: [f64; 9] = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262];

/// Mean and 95% t interval; NaN bounds below two samples.
fn t_interval(x: &[f64]) -> (f64, f64, f64) {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    if x.len() < 2 {
        return (m, f64::NAN, f64::NAN);
    }
    let sd = (x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (n - 1.0)).sqrt();
    let h = T975[x.len() - 2] * sd / n.sqrt();
    (m, m - h, m + h)
}

/// One seed of one group: latencies of the ok runs, runs, bytes, round trips.
#[derive(Default, Clone)]
struct Seed {
    lat: Vec<f64>,
    runs: usize,
    bytes: f64,
    rt: f64,
}

type Group = BTreeMap<u64, Seed>;

/// compare.csv read by (procedure, flow, variant, point, metric) -> its row as column -> text.
type Csv = BTreeMap<(String, String, String, usize, String), BTreeMap<String, String>>;

fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = if path.extension().is_some_and(|e| e == "gz") {
        secsim::run::read_gzip_text(path)
    } else {
        std::fs::read_to_string(path)
    }
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut rows = parse_csv(&text);
    rows.retain(|r| !(r.len() == 1 && r[0].is_empty()));
    let h = rows.remove(0);
    (h, rows)
}

fn compare_csv(dir: &Path) -> Csv {
    let (h, rows) = read_csv(&dir.join("compare.csv"));
    let mut out = Csv::new();
    for r in rows {
        let m: BTreeMap<String, String> = h.iter().cloned().zip(r.iter().cloned()).collect();
        let key = (
            m["procedure"].clone(),
            m["flow"].clone(),
            m["variant"].clone(),
            m["point"].parse().unwrap(),
            m["metric"].clone(),
        );
        assert!(
            out.insert(key.clone(), m).is_none(),
            "duplicate compare.csv row {key:?}"
        );
    }
    out
}

fn num(row: &BTreeMap<String, String>, col: &str) -> f64 {
    row[col].parse().unwrap_or(f64::NAN)
}

#[test]
fn compare_tables_match_recomputation_from_records() {
    for (exp, cell) in [
        ("experiments/compare-n32-preference.ron", &PREFERENCE),
        (INTERCONNECTION_EXP, &INTERCONNECTION),
        (RECOVERY_EXP, &RECOVERY),
    ] {
        let dir = compared(exp, cell);
        let md = std::fs::read_to_string(dir.join("compare.md")).unwrap();
        let table = compare_csv(dir);
        let (h, records) = read_csv(&dir.join("records.csv.gz"));
        let c = |n: &str| h.iter().position(|x| x == n).unwrap();
        let (cp, cs, cf, cpr, cv, cl, co, cb, crt) = (
            c("point"),
            c("seed"),
            c("flow"),
            c("procedure"),
            c("variant"),
            c("latency_ms"),
            c("outcome"),
            c("bytes"),
            c("round_trips"),
        );
        let mut groups: BTreeMap<(String, String, String, usize), Group> = BTreeMap::new();
        let mut exposure: BTreeMap<(String, usize), f64> = BTreeMap::new();
        let mut seeds: BTreeMap<usize, BTreeSet<u64>> = BTreeMap::new();
        let mut labels: BTreeMap<usize, String> = BTreeMap::new();
        for r in &records {
            let point: usize = r[cp].parse().unwrap();
            let seed: u64 = r[cs].parse().unwrap();
            seeds.entry(point).or_default().insert(seed);
            labels.entry(point).or_insert_with(|| {
                (cp + 1..cs)
                    .map(|a| format!("{}={}", h[a], r[a]))
                    .collect::<Vec<_>>()
                    .join(", ")
            });
            if r[cpr] == "capif_exposure" {
                let key = format!("{} {}→{}", r[cv], r[c("initiator")], r[c("responder")]);
                *exposure.entry((key, point)).or_default() += 1.0;
                continue;
            }
            let s = groups
                .entry((r[cpr].clone(), r[cf].clone(), r[cv].clone(), point))
                .or_default()
                .entry(seed)
                .or_default();
            s.runs += 1;
            s.bytes += r[cb].parse::<f64>().unwrap();
            s.rt += r[crt].parse::<f64>().unwrap();
            if r[co] == "ok" {
                s.lat.push(r[cl].parse().unwrap());
            }
        }
        // The folding rule: per (procedure, flow), does every point have one variant?
        let mut variants: BTreeMap<(String, String), BTreeMap<usize, BTreeSet<String>>> = BTreeMap::new();
        for (p, f, v, point) in groups.keys() {
            variants
                .entry((p.clone(), f.clone()))
                .or_default()
                .entry(*point)
                .or_default()
                .insert(v.clone());
        }
        let folded = |p: &str, f: &str| variants[&(p.to_string(), f.to_string())].values().all(|v| v.len() == 1);
        let mut expected_keys = BTreeSet::new();
        for (key, g) in &groups {
            let (p, f, v, point) = key;
            let what = format!("{exp} {key:?}");
            let fold = folded(p, f);
            // The baseline: the first point of the table (the same variant unless folded).
            let base_key = groups
                .keys()
                .filter(|(p2, f2, v2, _)| p2 == p && f2 == f && (fold || v2 == v))
                .min_by_key(|k| k.3)
                .unwrap()
                .clone();
            let base = (base_key.3 != *point).then(|| &groups[&base_key]);
            let runs: usize = g.values().map(|s| s.runs).sum();
            let mut all: Vec<f64> = g.values().flat_map(|s| s.lat.iter().copied()).collect();
            all.sort_by(|a, b| a.total_cmp(b));
            let get = |metric: &str| {
                let k = (p.clone(), f.clone(), v.clone(), *point, metric.to_string());
                table
                    .get(&k)
                    .unwrap_or_else(|| panic!("{what}: no {metric} row in compare.csv"))
            };
            // Per-seed values and their differences to the baseline.
            let check = |metric: &str, value: f64, per_seed: &dyn Fn(&Seed) -> Option<f64>, ci: bool| {
                let row = get(metric);
                assert_eq!(row["variant_by_point"], if fold { "1" } else { "0" }, "{what}");
                assert_eq!(row["baseline_point"], base_key.3.to_string(), "{what}");
                assert_eq!(row["alternative"], labels[point], "{what}");
                assert_eq!(num(row, "runs") as usize, runs, "{what}");
                assert!(
                    close(num(row, "value"), value),
                    "{what} {metric}: {} vs {value}",
                    row["value"]
                );
                if ci {
                    let xs: Vec<f64> = g.values().filter_map(per_seed).collect();
                    let (_, lo, hi) = t_interval(&xs);
                    assert!(
                        close(num(row, "ci95_low"), lo) && close(num(row, "ci95_high"), hi),
                        "{what} {metric} CI"
                    );
                }
                let d: Vec<f64> = base.map_or(Vec::new(), |b| {
                    g.iter()
                        .filter_map(|(seed, s)| Some(per_seed(s)? - per_seed(b.get(seed)?)?))
                        .collect()
                });
                if d.is_empty() {
                    assert_eq!(row["diff"], "", "{what} {metric}: a diff without a paired seed");
                } else {
                    let (m, lo, hi) = t_interval(&d);
                    assert!(
                        close(num(row, "diff"), m),
                        "{what} {metric}: diff {} vs {m}",
                        row["diff"]
                    );
                    assert!(close(num(row, "diff_ci95_low"), lo), "{what} {metric} diff low");
                    assert!(close(num(row, "diff_ci95_high"), hi), "{what} {metric} diff high");
                }
            };
            let mean = all.iter().sum::<f64>() / all.len() as f64;
            check(
                "latency_ms_mean",
                mean,
                &|s: &Seed| (!s.lat.is_empty()).then(|| s.lat.iter().sum::<f64>() / s.lat.len() as f64),
                true,
            );
            let failures = runs - all.len();
            let fail_seed = |s: &Seed| Some((s.runs - s.lat.len()) as f64 / s.runs as f64);
            check("failure_rate", failures as f64 / runs as f64, &fail_seed, false);
            if !all.is_empty() {
                assert!(
                    close(num(get("latency_ms_p50"), "value"), nearest_rank(&all, 0.5)),
                    "{what}"
                );
                assert!(
                    close(num(get("latency_ms_p90"), "value"), nearest_rank(&all, 0.9)),
                    "{what}"
                );
            }
            expected_keys.extend(
                ["latency_ms_mean", "latency_ms_p50", "latency_ms_p90", "failure_rate"]
                    .map(|m| (p.clone(), f.clone(), v.clone(), *point, m.to_string())),
            );
            // bytes and round trips: a row only where some record of the group carries them.
            for (metric, pick) in [
                ("bytes_per_run", (|s: &Seed| s.bytes) as fn(&Seed) -> f64),
                ("exchanges_per_run", |s: &Seed| s.rt),
            ] {
                let total: f64 = g.values().map(pick).sum();
                let carried = g.values().any(|s| pick(s) != 0.0);
                let base_carried = base.is_none_or(|b| b.values().any(|s| pick(s) != 0.0));
                if carried {
                    expected_keys.insert((p.clone(), f.clone(), v.clone(), *point, metric.to_string()));
                    let per_seed = |s: &Seed| Some(pick(s) / s.runs as f64);
                    if base_carried {
                        check(metric, total / runs as f64, &per_seed, true);
                    } else {
                        assert_eq!(get(metric)["diff"], "", "{what}: diff to a baseline without {metric}");
                    }
                }
            }
            // The same numbers in the Markdown tables.
            let mut heading = p.clone();
            if !f.is_empty() {
                heading += &format!(" · flow `{f}`");
            }
            if !fold {
                heading += &if v.is_empty() {
                    " · no variant".to_string()
                } else {
                    format!(" · variant `{v}`")
                };
            }
            let section = md
                .split("\n## ")
                .find(|s| s.lines().next() == Some(heading.as_str()))
                .unwrap_or_else(|| panic!("{what}: no section `{heading}` in compare.md"));
            let alt = labels[point].replace('|', "\\|");
            let latency = section.split("**Failure rate**").next().unwrap();
            let line = latency
                .lines()
                .find(|l| l.starts_with(&format!("| {alt} |")))
                .unwrap_or_else(|| panic!("{what}: no latency row for {alt} in compare.md"));
            assert!(line.contains(&format!(" {} / {runs} |", all.len())), "{what}: {line}");
            if !mean.is_nan() {
                assert!(line.contains(&format!("| {mean:.3} [")), "{what}: {line}");
            }
            let failure = section.split("**Failure rate**").nth(1).unwrap();
            let line = failure.lines().find(|l| l.starts_with(&format!("| {alt} |"))).unwrap();
            assert!(line.contains(&format!(" {failures} / {runs} |")), "{what}: {line}");
            if !g.values().any(|s| s.bytes != 0.0)
                && !groups
                    .iter()
                    .any(|(k, g2)| k.0 == *p && k.1 == *f && (fold || k.2 == *v) && g2.values().any(|s| s.bytes != 0.0))
            {
                assert!(section.contains("**Bytes/run**: n/a"), "{what}: bytes not n/a");
            }
        }
        // Exposure, per seed.
        for ((item, point), n) in &exposure {
            let row = table
                .get(&(
                    "capif_exposure".into(),
                    String::new(),
                    item.clone(),
                    *point,
                    "exposure_per_seed".into(),
                ))
                .unwrap_or_else(|| panic!("{exp}: no exposure row {item} {point}"));
            assert!(
                close(num(row, "value"), n / seeds[point].len() as f64),
                "{exp} exposure {item}"
            );
            expected_keys.insert((
                "capif_exposure".into(),
                String::new(),
                item.clone(),
                *point,
                "exposure_per_seed".into(),
            ));
        }
        let got: BTreeSet<_> = table.keys().cloned().collect();
        assert_eq!(got, expected_keys, "{exp}: the rows of compare.csv");
        assert!(md.contains(&format!("- Experiment: `{exp}`")), "{exp}: header");
        assert!(md.contains("- Seeds: 3 (1, 2, 3)"), "{exp}: header");
    }
}

/// Point → strategy, from the axis column `ca` of records.csv (point column `cp`).
fn strategy_map(records: &[Vec<String>], cp: usize, ca: usize) -> BTreeMap<usize, String> {
    records
        .iter()
        .map(|r| (r[cp].parse().unwrap(), r[ca].clone()))
        .collect()
}

fn strategy_point(map: &BTreeMap<usize, String>, strategy: &str) -> usize {
    *map.iter()
        .find(|(_, s)| *s == strategy)
        .unwrap_or_else(|| panic!("no point {strategy}"))
        .0
}

#[test]
fn compare_capif_recovery_has_the_five_strategies_in_one_table_per_metric() {
    let dir = compared(RECOVERY_EXP, &RECOVERY);
    let table = compare_csv(dir);
    let (h, records) = read_csv(&dir.join("records.csv.gz"));
    let (cp, ca) = (
        h.iter().position(|x| x == "point").unwrap(),
        h.iter().position(|x| x == "recovery").unwrap(),
    );
    // The strategy of each point, from the axis column of records.csv.
    let strategy: BTreeMap<usize, String> = records
        .iter()
        .map(|r| (r[cp].parse().unwrap(), r[ca].clone()))
        .collect();
    assert_eq!(strategy.len(), 5);
    for metric in ["latency_ms_mean", "failure_rate", "bytes_per_run", "exchanges_per_run"] {
        let rows: Vec<_> = table
            .iter()
            .filter(|(k, _)| k.0 == "capif_recovery" && k.1 == "storm" && k.4 == metric)
            .collect();
        assert_eq!(rows.len(), 5, "{metric}: one row per strategy");
        for (k, row) in rows {
            assert_eq!(row["variant_by_point"], "1", "{k:?}");
            assert_eq!(k.2, strategy[&k.3], "{k:?}: the variant is the point's strategy");
            assert_eq!(row["baseline_point"], "0");
            if k.3 == 0 {
                assert_eq!(row["diff"], "", "{k:?}");
                continue;
            }
            let (d, lo, hi) = (num(row, "diff"), num(row, "diff_ci95_low"), num(row, "diff_ci95_high"));
            assert!(d.is_finite() && lo.is_finite() && hi.is_finite(), "{k:?}: {row:?}");
            assert!(lo <= d && d <= hi, "{k:?}");
        }
    }
    // The two push channels are different alternatives: only half the invokers subscribe to
    // the SERVICE_API_UPDATE event (`event_subscribers: Some(0.5)`), the others fall back to
    // TLS failures, so the recoveries take more exchanges than with SecurityNotification.
    let exchanges = |strategy: &str| {
        let point = strategy_point(&strategy_map(&records, cp, ca), strategy);
        table
            .iter()
            .find(|(k, _)| k.0 == "capif_recovery" && k.3 == point && k.4 == "exchanges_per_run")
            .map(|(_, row)| num(row, "value"))
            .unwrap_or_else(|| panic!("no exchanges_per_run row for {strategy}"))
    };
    let (notification, event) = (
        exchanges("CcfPush(SecurityNotification)"),
        exchanges("CcfPush(ServiceApiUpdateEvent)"),
    );
    assert!(event > notification, "event {event} vs notification {notification}");
    // In compare.md: one section, each metric table with the five strategies.
    let md = std::fs::read_to_string(dir.join("compare.md")).unwrap();
    let sections: Vec<&str> = md.split("\n## ").filter(|s| s.starts_with("capif_recovery")).collect();
    assert_eq!(sections.len(), 1, "{md}");
    for title in [
        "**Latency [ms]**",
        "**Failure rate**",
        "**Bytes/run**",
        "**Exchanges/run**",
    ] {
        let t = sections[0]
            .split(title)
            .nth(1)
            .unwrap_or_else(|| panic!("no {title}"))
            .split("\n\n")
            .nth(1)
            .unwrap();
        let body: Vec<&str> = t.lines().skip(2).collect();
        assert_eq!(body.len(), 5, "{title}: {t}");
        for (i, (line, s)) in body.iter().zip(strategy.values()).enumerate() {
            assert!(line.starts_with(&format!("| recovery={s} |")), "{line}");
            assert_eq!(line.contains("(baseline)"), i == 0, "{line}");
        }
    }
    // Bytes and exchanges are filled for CAPIF procedures too.
    assert!(!sections[0].contains("n/a"), "{}", sections[0]);
}

#[test]
fn compare_capif_interconnection_keeps_the_exposure_table() {
    let dir = compared(INTERCONNECTION_EXP, &INTERCONNECTION);
    let md = std::fs::read_to_string(dir.join("compare.md")).unwrap();
    let exposure = md.split("\n## Exposure").nth(1).expect("an exposure section");
    let header = exposure.lines().find(|l| l.starts_with("| item, boundary |")).unwrap();
    assert_eq!(
        header.matches("interconnection=").count(),
        5,
        "one column per alternative: {header}"
    );
    // Per flow (one CAPIF method each), the invocation tables are separate.
    for flow in ["psk", "pki", "oauth"] {
        assert!(md.contains(&format!("## capif_invocation · flow `{flow}`")), "{flow}");
    }
}

#[test]
fn n32_prins_faults_flow_failure_rate_is_one_row() {
    let exp = "experiments/n32-prins-faults.ron";
    let out = scratch("prins-faults");
    let o = secsim(&["run", exp, "--quiet", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (rh, records) = read_csv(&out.join("records.csv"));
    let rc = |n: &str| rh.iter().position(|x| x == n).unwrap();
    let flow = "cnf-a -> pnf-b (PRINS, faults)";
    let mine: Vec<_> = records
        .iter()
        .filter(|r| r[rc("procedure")] == "cnf_request" && r[rc("flow")] == flow)
        .collect();
    let failed = mine.iter().filter(|r| r[rc("outcome")] != "ok").count();
    assert!(failed > 0 && failed < mine.len(), "{failed} of {}", mine.len());
    let (sh, summary) = read_csv(&out.join("summary.csv"));
    let sc = |n: &str| sh.iter().position(|x| x == n).unwrap();
    let rows: Vec<_> = summary.iter().filter(|r| r[sc("procedure")] == "cnf_request").collect();
    assert_eq!(rows.len(), 1, "one summary row for the flow's cnf_request: {rows:?}");
    let r = rows[0];
    assert_eq!(r[sc("flow")], flow);
    assert_eq!(r[sc("count")].parse::<usize>().unwrap(), mine.len());
    assert_eq!(
        r[sc("count")].parse::<usize>().unwrap() - r[sc("ok")].parse::<usize>().unwrap(),
        failed
    );
    let rate: f64 = r[sc("failure_rate")].parse().unwrap();
    assert!(close(rate, failed as f64 / mine.len() as f64), "{rate}");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn compare_without_a_sweep_is_an_input_error() {
    let exp = "experiments/n32-prins-faults.ron";
    let out = scratch("no-sweep");
    let o = secsim(&["compare", exp, "--quiet", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(exp) && err.contains("nothing to compare") && err.contains("no sweep"),
        "{err}"
    );
    assert!(
        !out.join("compare.md").exists() && !out.join("records.csv").exists(),
        "nothing is run"
    );
}
