//! `secsim bench n32|capif --compare-phold` (issue 13): the printed lines are well formed and
//! consistent (the ratio is the quotient of the two printed rates; the protocol plane's event
//! count is the one the plain benchmark reports). No timing is asserted.

use std::process::Command;

fn secsim(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_secsim"))
        .args(args)
        .output()
        .expect("runs secsim");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `key=value` of a line.
fn field<'a>(line: &'a str, key: &str) -> &'a str {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
        .unwrap_or_else(|| panic!("no {key}= in `{line}`"))
}

/// Checks the five lines of `--compare-phold`; returns the plane's delivered events.
fn check_compare_output(out: &str, label: &str, target: &str, repeat: u32, phold_events: u64) -> u64 {
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "{out}");
    assert!(
        lines[0].starts_with(&format!("compare-phold plane={label} fidelity=Timing repeat={repeat} ")),
        "{out}"
    );
    assert_eq!(field(lines[0], "phold_events"), phold_events.to_string(), "{out}");

    let median = lines[1]
        .strip_prefix(&format!("{label} (Timing) median of {repeat}: "))
        .unwrap_or_else(|| panic!("{out}"));
    let events: u64 = field(median, "events").parse().unwrap();
    assert!(events > 0, "{out}");
    let run_s: f64 = field(median, "run_s").parse().unwrap();
    assert!(run_s >= 0.0, "{out}");
    let plane_rate = field(median, "events_per_s");

    let phold = lines[2]
        .strip_prefix(&format!("phold median of {repeat}: engine=secsim "))
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(field(phold, "events"), phold_events.to_string(), "{out}");
    let phold_rate = field(phold, "events_per_s");

    // `<label> (Timing): A events/s; phold: B events/s; ratio R`
    let rest = lines[3]
        .strip_prefix(&format!("{label} (Timing): "))
        .unwrap_or_else(|| panic!("{out}"));
    let (a, rest) = rest.split_once(" events/s; phold: ").unwrap_or_else(|| panic!("{out}"));
    let (b, r) = rest.split_once(" events/s; ratio ").unwrap_or_else(|| panic!("{out}"));
    assert_eq!(a, plane_rate, "the summary repeats the median's rate: {out}");
    assert_eq!(b, phold_rate, "the summary repeats PHOLD's rate: {out}");
    let (a, b, r): (f64, f64, f64) = (a.parse().unwrap(), b.parse().unwrap(), r.parse().unwrap());
    assert!(a > 0.0 && b > 0.0, "{out}");
    let quotient = a / b;
    // Four significant digits in the ratio, whole events/s in the rates.
    let tolerance = quotient * (1e-3 + 0.5 / a + 0.5 / b);
    assert!(
        (r - quotient).abs() <= tolerance,
        "ratio {r} vs {a}/{b} = {quotient}: {out}"
    );

    let verdict = lines[4]
        .strip_prefix(&format!("target {label}/phold >= {target} at Timing: "))
        .unwrap_or_else(|| panic!("{out}"));
    let met = r >= target.parse::<f64>().unwrap();
    assert_eq!(verdict, if met { "met" } else { "not met" }, "{out}");
    events
}

#[test]
fn n32_compare_phold_lines_are_consistent() {
    let exp = "experiments/n32-tls-direct.ron";
    let (code, out, err) = secsim(&[
        "bench",
        "n32",
        "--experiment",
        exp,
        "--compare-phold",
        "--repeat",
        "2",
        "--phold-events",
        "20000",
    ]);
    assert_eq!(code, 0, "{err}");
    let events = check_compare_output(&out, "n32", "0.05", 2, 20_000);
    // The same delivered events as `run_seed` (the plain benchmark) at Timing.
    let (code, plain, err) = secsim(&["bench", "n32", "--experiment", exp, "--fidelity", "timing"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(field(plain.trim(), "events"), events.to_string(), "{plain}\n{out}");
    let median = out.lines().nth(1).unwrap();
    for key in ["handshakes", "requests"] {
        assert_eq!(field(plain.trim(), key), field(median, key), "{plain}\n{out}");
    }
}

#[test]
fn capif_compare_phold_lines_are_consistent() {
    let small = ["bench", "capif", "--invokers", "6", "--seconds", "1"];
    let mut args = small.to_vec();
    args.extend(["--compare-phold", "--phold-events", "20000"]);
    let (code, out, err) = secsim(&args);
    assert_eq!(code, 0, "{err}");
    // --repeat defaults to 3 under --compare-phold.
    let events = check_compare_output(&out, "capif", "0.02", 3, 20_000);
    assert!(out.lines().nth(1).unwrap().contains(" flows=6/6 "), "{out}");
    let mut args = small.to_vec();
    args.extend(["--fidelity", "timing"]);
    let (code, table, err) = secsim(&args);
    assert_eq!(code, 0, "{err}");
    let row: Vec<&str> = table
        .lines()
        .find(|l| l.starts_with("timing "))
        .unwrap_or_else(|| panic!("{table}"))
        .split_whitespace()
        .collect();
    assert_eq!(row[6], events.to_string(), "events column: {table}\n{out}");
}

#[test]
fn compare_phold_flags_are_checked() {
    for args in [
        &["bench", "n32", "--compare-phold", "--fidelity", "full"][..],
        &["bench", "capif", "--compare-phold", "--fidelity", "keys"],
        &["bench", "n32", "--phold-events", "10"],
        &["bench", "n32", "--repeat", "2"],
        &["bench", "capif", "--phold-events", "10"],
        &["bench", "n32", "--compare-crypto-backends", "--compare-phold"],
        &["bench", "n32", "--compare-crypto-backends", "--fidelity", "full"],
    ] {
        let (code, _, err) = secsim(args);
        assert_eq!(code, 2, "{args:?}: {err}");
    }
}

/// `--compare-crypto-backends` (issue 16): both P-256 backends give the same run (the command
/// checks it and fails otherwise), and the ratio line is the quotient of the printed rates.
#[test]
fn n32_compare_crypto_backends_lines_are_consistent() {
    let exp = "experiments/n32-tls-direct.ron";
    let (code, out, err) = secsim(&[
        "bench",
        "n32",
        "--experiment",
        exp,
        "--compare-crypto-backends",
        "--repeat",
        "1",
    ]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(field(lines[0], "backend"), "fast", "{out}");
    assert_eq!(field(lines[1], "backend"), "rustcrypto", "{out}");
    for key in ["handshakes", "events"] {
        assert_eq!(field(lines[0], key), field(lines[1], key), "{out}");
    }
    // The same handshakes as the plain benchmark at Full.
    let (code, plain, err) = secsim(&["bench", "n32", "--experiment", exp, "--fidelity", "full"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        field(plain.trim(), "handshakes"),
        field(lines[0], "handshakes"),
        "{plain}\n{out}"
    );
    assert_eq!(
        field(plain.trim(), "events"),
        field(lines[0], "events"),
        "{plain}\n{out}"
    );
    let rate = |l: &str| field(l, "handshakes_per_s").parse::<f64>().unwrap();
    let ratio: f64 = field(lines[2], "fast_over_rustcrypto").parse().unwrap();
    let want = rate(lines[0]) / rate(lines[1]);
    assert!((ratio - want).abs() <= 0.01 * want + 0.01, "{out}");
}
