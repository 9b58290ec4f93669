//! Scenario loading: a table of malformed files with their expected location, field,
//! message and suggestion; the good files; and fuzz properties (no panics, every error
//! located inside the file).

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use secsim::scenario::{
    ErrorKind, FileKind, ScenarioError, file_kind, load_experiment, load_topology, parse_experiment_str,
    parse_topology_str, validate_path,
};

fn dir(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join(sub)
}

/// One malformed file and where its first error must be reported.
struct Case {
    file: &'static str,
    /// `line:column`, 1-based.
    at: &'static str,
    field: &'static str,
    message: &'static str,
    suggestion: Option<&'static str>,
    /// The file the error names, when not `file` itself (a bad topology of an experiment).
    blames: Option<&'static str>,
}

const fn case(
    file: &'static str,
    at: &'static str,
    field: &'static str,
    message: &'static str,
    suggestion: Option<&'static str>,
) -> Case {
    Case {
        file,
        at,
        field,
        message,
        suggestion,
        blames: None,
    }
}

#[rustfmt::skip]
const CASES: &[Case] = &[
    // Topologies: schema errors from ron/serde.
    case("t_field_typo.ron",        "12:42", "links[0].latncy",                  "unknown field `latncy`",            Some("latency")),
    case("t_variant_typo.ron",      "12:51", "links[0].latency",                 "unknown variant `Constnt`",         Some("Constant")),
    case("t_unknown_role.ron",      "9:48",  "nodes[1].role",                    "unknown variant `Sep`",             Some("Sepp")),
    case("t_negative_duration.ron", "12:60", "links[0].latency.Constant",        "`-5ms` is negative",                None),
    case("t_duration_no_unit.ron",  "12:60", "links[0].latency.Constant",        "`20` has no unit",                  None),
    case("t_bad_unit.ron",          "12:60", "links[0].latency.Constant",        "unknown unit `parsecs`",            None),
    case("t_missing_field.ron",     "12:9",  "links[0].latency",                 "missing field `latency`",           None),
    case("t_wrong_type.ron",        "12:75", "links[0].loss",                    "expected float, found `\"high\"`",  None),
    case("t_not_option.ron",        "12:85", "links[0].bandwidth_mbps",          "write `Some(value)` or `None`, found `5.0`", None),
    case("t_unclosed.ron",          "14:1",  "",                                 "the `(` at 2:9 is never closed",    None),
    case("t_trailing.ron",          "15:1",  "",                                 "after the end",                     None),
    case("t_no_header.ron",         "2:1",   "",                                 "start with `Topology(` or `Experiment(`", None),
    // Topologies: semantic errors.
    case("t_unknown_link_node.ron", "12:34", "links[0].target",                  "unknown node `nf-x`",               Some("nf-a")),
    case("t_self_link.ron",         "12:34", "links[0].target",                  "link from `nf-a` to itself",        None),
    case("t_duplicate_link.ron",    "13:18", "links[1].source",                  "duplicate link `nf-b` -> `nf-a`",   None),
    case("t_nan_loss.ron",          "12:75", "links[0].loss",                    "loss NaN must be in [0, 1)",        None),
    case("t_loss_high.ron",         "12:75", "links[0].loss",                    "loss 1.5 must be in [0, 1)",        None),
    case("t_bandwidth.ron",         "12:85", "links[0].bandwidth_mbps",          "must be finite and > 0",            None),
    case("t_uniform.ron",           "12:64", "links[0].latency.Uniform.min",     "uniform min 5ms is greater than max 2ms", None),
    case("t_lognormal.ron",         "12:84", "links[0].latency.LogNormal.sigma", "sigma -1 must be finite and >= 0",  None),
    case("t_empirical.ron",         "12:51", "links[0].latency.Empirical",       "at least one sample",               None),
    case("t_window.ron",            "13:34", "links[0].down[0].to",              "`to` must be after `from`",         None),
    case("t_unknown_domain.ron",    "9:32",  "nodes[1].domain",                  "unknown domain `plmn-c`",           Some("plmn-a")),
    case("t_duplicate_node.ron",    "10:16", "nodes[2].name",                    "duplicate node `nf-b`",             None),
    case("t_duplicate_domain.ron",  "5:16",  "domains[1].name",                  "duplicate domain `plmn-a`",         None),
    // Experiments: schema errors.
    case("e_variant_typo.ron",      "7:9",   "workload[0]",                      "unknown variant `Htp`",             Some("Http")),
    case("e_missing_field.ron",     "7:14",  "workload[0].Http.arrival",         "missing field `arrival`",           None),
    case("e_topology_header.ron",   "2:1",   "",                                 "start with `Topology(` or `Experiment(`", Some("Experiment")),
    // Experiments: semantic errors on their own.
    case("e_bad_name.ron",          "3:11",  "name",                             "not usable as a folder name",       None),
    case("e_missing_topology.ron",  "4:15",  "topology",                         "no_such_topology.ron` not found",   None),
    case("e_zero_duration.ron",     "5:15",  "duration",                         "duration must be > 0",              None),
    case("e_warmup.ron",            "6:13",  "warmup",                           "warmup 10s must be shorter than the duration 10s", None),
    case("e_empty_seeds.ron",       "6:12",  "seeds",                            "seeds list is empty",               None),
    case("e_max_events.ron",        "6:17",  "max_events",                       "max_events must be > 0",            None),
    case("e_empty_workload.ron",    "6:15",  "workload",                         "workload is empty",                 None),
    case("e_client_is_server.ron",  "7:39",  "workload[0].Http.server",          "client and server are both `nf-a`", None),
    case("e_zero_rate.ron",         "7:96",  "workload[0].Http.arrival.Poisson.rate_per_s", "rate 0/s must be finite and > 0", None),
    case("e_zero_interval.ron",     "7:95",  "workload[0].Http.arrival.Periodic.interval",  "interval must be > 0",  None),
    case("e_huge_body.ron",         "7:118", "workload[0].Http.request_bytes",   "above the limit of 67108864 (64 MiB)", None),
    // Experiments on their topology.
    case("e_unknown_client.ron",    "7:23",  "workload[0].Http.client",          "unknown node `nf-aa`",              Some("nf-a")),
    case("e_via_not_proxy.ron",     "7:52",  "workload[0].Http.via",             "has role Sepp; it must be Proxy or Ri", None),
    case("e_unreachable.ron",       "7:39",  "workload[0].Http.server",          "`island` is unreachable from `proxy`", None),
    case("e_one_way.ron",           "7:52",  "workload[0].Http.via",             "`proxy` is unreachable from `nf-b`", None),
    // CAPIF flows and knobs.
    case("e_capif_glob_no_match.ron",  "7:40", "workload[0].Capif.invokers[1]",  "`invokr-*` matches no node with role Invoker", Some("invoker-*")),
    case("e_capif_invoker_typo.ron",   "7:40", "workload[0].Capif.invokers[1]",  "unknown node `invoker-3`",          Some("invoker-1")),
    case("e_capif_duplicate_invoker.ron", "7:40", "workload[0].Capif.invokers[1]", "`invoker-*` matches invoker `invoker-2`, already listed at invokers[0]", None),
    case("e_capif_glob_unreachable.ron", "7:27", "workload[0].Capif.invokers[0]", "`ccf-x` is unreachable from `inv-2` (matched by `inv-*`)", None),
    case("e_capif_aef_is_ccf.ron",     "7:60", "workload[0].Capif.aef",          "aef node `ccf-a` has role Ccf; it must be Aef", None),
    case("e_capif_same_ccf.ron",       "7:79", "workload[0].Capif.aef_ccf",      "ccf and aef_ccf are both `ccf-b`",  None),
    case("e_capif_empty_prefs.ron",    "7:77", "workload[0].Capif.prefs",        "prefs is empty",                    None),
    case("e_capif_recovery_typo.ron",  "10:19", "capif.recovery",                "unknown variant `ExplicitCaus`",    Some("ExplicitCause")),
    case("e_capif_interconnection.ron", "10:26", "capif.interconnection",        "RoutablePrefix reveals the CCF-B id that OpaqueHandle hides", None),
    case("e_capif_zero_session.ron",   "11:34", "capif.invocations_per_session", "invocations_per_session must be >= 1", None),
    case("e_capif_event_share.ron",    "11:28", "capif.event_subscribers",       "event_subscribers 1.5 must be in [0, 1]", None),
    case("e_capif_aefs_unknown.ron",   "12:13", "capif.aefs[\"aef-a3\"]",        "unknown node `aef-a3`",             Some("aef-a1")),
    case("e_capif_duplicate_method.ron", "11:53", "capif.aefs[\"aef-a1\"].methods[2]", "duplicate security method `PSK` (already at methods[0])", None),
    case("e_capif_empty_apis.ron",     "10:33", "capif.aefs[\"aef-a1\"].apis",    "apis is empty",                     None),
    case("e_capif_method_change_unknown_aef.ron", "10:42", "capif.method_changes[0].aef", "unknown node `aef-1a`", Some("aef-a1")),
    case("e_capif_method_change_unused_aef.ron",  "10:42", "capif.method_changes[0].aef", "no Capif flow uses AEF `aef-a2`", Some("aef-a1")),
    case("e_capif_method_change_late.ron", "10:76", "capif.method_changes[1].at", "method change at 12s is not before the end of the run (duration 10s)", None),
    case("e_capif_revoke_non_invoker.ron", "10:43", "capif.revocations[0].invoker", "node `aef-a2` has role Aef; it must be Invoker", None),
    case("e_capif_revoke_unlisted.ron", "10:43", "capif.revocations[0].invoker", "invoker `invoker-2` is not an invoker of any Capif flow", Some("invoker-1")),
    // N32 Roaming Intermediary policies: keys are Ri nodes, PLMNs are SEPP domains.
    case("e_ri_policy_unknown_ri.ron", "11:13", "n32.ri_policies[\"ri-c\"]",  "unknown node `ri-c`",               Some("ri-a")),
    case("e_ri_policy_key_not_ri.ron", "10:23", "n32.ri_policies[\"sepp-a\"]", "ri_policies key node `sepp-a` has role Sepp; it must be Ri", None),
    case("e_ri_policy_mcc_mnc_contract.ron", "12:65", "n32.ri_policies[\"ri-a\"].contracts[0].to_plmn", "unknown PLMN `001-01`: PLMNs are named by their domain", None),
    case("e_ri_policy_unreachable_typo.ron", "11:46", "n32.ri_policies[\"ri-a\"].unreachable[1]", "unknown PLMN `plmn-bb`", Some("plmn-b")),
    case("e_ri_policy_scripted_ipx_target.ron", "11:57", "n32.ri_policies[\"ri-a\"].scripted[0].target_plmn", "domain `ipx-b` has no Sepp node", None),
    Case { blames: Some("t_unknown_link_node.ron"),
        ..case("e_bad_topology.ron","12:34", "links[0].target",                  "unknown node `nf-x`",               Some("nf-a")) },
    // Topology generators (`TopologyGenerator(`): located in the generator file.
    case("g_kind_typo.ron",         "4:11",  "kind",                             "unknown variant `IpxHb`",           Some("IpxHub")),
    case("g_field_typo.ron",        "4:9",   "kind.IpxHub.plmn",                 "unknown field `plmn`",              Some("plmns")),
    case("g_missing_degree.ron",    "3:11",  "kind.RandomMesh.degree",           "missing field `degree`",            None),
    case("g_latency_typo.ron",      "3:70",  "kind.CapifProviders.access_latency", "unknown variant `Constnt`",       Some("Constant")),
    case("g_header_typo.ron",       "2:1",   "",                                 "or `TopologyGenerator(` for a generated topology", Some("TopologyGenerator")),
    case("g_zero_plmns.ron",        "3:25",  "kind.IpxHub.plmns",                "plmns must be >= 1, found 0",       None),
    case("g_degree_too_high.ron",   "3:40",  "kind.RandomMesh.degree",           "degree 4 must be less than plmns 4", None),
    case("g_hubs_exceed_plmns.ron", "3:43",  "kind.IpxHub.ipx_providers",        "ipx_providers 3 is more than plmns 2", None),
    case("g_too_many_nodes.ron",    "5:19",  "kind.CapifProviders.invokers",     "300009 nodes, above the limit of 250000", None),
    case("g_drawn_range.ron",       "5:50",  "kind.IpxHub.sepp_latency.LogNormalDrawn.median_min", "median_min 60ms is greater than median_max 3ms", None),
    case("g_loss_high.ron",         "3:55",  "kind.RandomMesh.sepp_loss",        "loss 1.5 must be in [0, 1)",        None),
    Case { blames: Some("g_degree_too_high.ron"),
        ..case("g_experiment.ron",  "3:40",  "kind.RandomMesh.degree",           "degree 4 must be less than plmns 4", None) },
];

#[test]
fn bad_inputs_are_located() {
    assert!(CASES.len() >= 20);
    let mut failures = Vec::new();
    for c in CASES {
        let path = dir("bad_inputs").join(c.file);
        let e = match validate_path(&path) {
            Ok(summary) => {
                failures.push(format!("{}: loaded, expected an error ({summary})", c.file));
                continue;
            }
            Err(e) => e,
        };
        let blamed = dir("bad_inputs").join(c.blames.unwrap_or(c.file));
        // The expected position itself must be on a token, or at the very end of the file.
        let text = std::fs::read_to_string(&blamed).unwrap();
        let (line, col) = c.at.split_once(':').unwrap();
        let (line, col): (usize, usize) = (line.parse().unwrap(), col.parse().unwrap());
        let at_char = text.split('\n').nth(line - 1).and_then(|l| l.chars().nth(col - 1));
        let at_end = line == text.split('\n').count() && at_char.is_none();
        assert!(
            at_char.is_some_and(|ch| !ch.is_whitespace()) || at_end,
            "{}: {} is not on a token",
            c.file,
            c.at
        );
        let ok = e.path == blamed
            && e.position() == c.at
            && e.field == c.field
            && e.message.contains(c.message)
            && e.suggestion.as_deref() == c.suggestion
            && e.is_input_error()
            && e.message.chars().next().is_some_and(|ch| !ch.is_uppercase());
        if !ok {
            failures.push(format!(
                "{}: got {} [{}:{:?}], expected {} at {} field `{}` containing `{}` suggesting {:?}",
                c.file,
                e,
                e.position(),
                e.suggestion,
                c.blames.unwrap_or(c.file),
                c.at,
                c.field,
                c.message,
                c.suggestion
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

#[test]
fn every_bad_input_file_is_in_the_table() {
    let mut files: Vec<String> = std::fs::read_dir(dir("bad_inputs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|f| f.ends_with(".ron") && f != "ok_topology.ron")
        .collect();
    files.sort();
    for f in files {
        assert!(CASES.iter().any(|c| c.file == f), "{f} has no row in CASES");
    }
}

#[test]
fn error_display_is_file_line_column_field_message_suggestion() {
    let e = validate_path(&dir("bad_inputs").join("t_unknown_link_node.ron")).unwrap_err();
    let shown = e.to_string();
    assert!(
        shown.ends_with("t_unknown_link_node.ron:12:34: links[0].target: unknown node `nf-x` (did you mean `nf-a`?)"),
        "{shown}"
    );
    assert_eq!(e.kind, ErrorKind::Invalid);
}

#[test]
fn missing_file_is_a_read_error_without_position() {
    let e = load_topology(&dir("bad_inputs").join("does_not_exist.ron")).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Read);
    assert_eq!((e.line, e.column), (None, None));
    assert!(e.is_input_error());
    assert!(e.to_string().contains("does_not_exist.ron: cannot read file"), "{e}");
}

#[test]
fn wrong_file_kind_is_named() {
    let e = load_topology(&dir("good_inputs").join("experiment.ron")).unwrap_err();
    assert_eq!((e.kind, e.position().as_str()), (ErrorKind::Syntax, "2:1"));
    assert!(
        e.message.contains("this is an experiment file, expected a topology"),
        "{e}"
    );
    let e = load_experiment(&dir("good_inputs").join("topology.ron")).unwrap_err();
    assert!(
        e.message.contains("this is a topology file, expected an experiment"),
        "{e}"
    );
}

#[test]
fn good_inputs_load() {
    let t = load_topology(&dir("good_inputs").join("topology.ron")).unwrap();
    assert_eq!((t.domains.len(), t.nodes.len(), t.links.len()), (3, 5, 4));

    let s = load_experiment(&dir("good_inputs").join("experiment.ron")).unwrap();
    assert_eq!(s.experiment.name, "roaming-small");
    assert_eq!(s.experiment.workload.len(), 2);
    assert_eq!(s.topology_path, dir("good_inputs").join("topology.ron"));
    assert_eq!(s.hash.len(), 64);
    // The hash covers both files' bytes, in order.
    let again = load_experiment(&dir("good_inputs").join("experiment.ron")).unwrap();
    assert_eq!(s.hash, again.hash);

    let u = load_experiment(&dir("good_inputs").join("experiment_unwrapped.ron")).unwrap();
    assert_eq!(u.experiment.workload.len(), 1);
    assert_ne!(u.hash, s.hash);

    for (file, kind, words) in [
        (
            "topology.ron",
            FileKind::Topology,
            &["3 domains", "5 nodes", "8 directed links"][..],
        ),
        (
            "experiment.ron",
            FileKind::Experiment,
            &["roaming-small", "2 workload flows", "seeds [1, 2, 3]", "10s"][..],
        ),
    ] {
        let path = dir("good_inputs").join(file);
        assert_eq!(file_kind(&std::fs::read_to_string(&path).unwrap()), Some(kind));
        let summary = validate_path(&path).unwrap();
        for w in words {
            assert!(summary.contains(w), "{file}: `{w}` not in {summary}");
        }
    }
}

/// Writes an experiment into a fresh temporary folder (its topology path is absolute, so
/// the shipped topologies serve) and loads it.
fn load_written(name: &str, src: &str) -> Result<secsim::scenario::Scenario, ScenarioError> {
    let d = std::env::temp_dir().join(format!("secsim-scenario-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    let path = d.join(format!("{name}.ron"));
    std::fs::write(&path, src).unwrap();
    let loaded = validate_path(&path).and_then(|_| load_experiment(&path));
    let _ = std::fs::remove_dir_all(&d);
    loaded
}

fn topology(file: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("topologies")
        .join(file)
        .display()
        .to_string()
}

#[test]
fn capif_experiments_validate() {
    // A storm: 1000 invokers by one glob, every knob block in use.
    let storm = format!(
        r#"Experiment(
    name: "capif-storm",
    topology: "{}",
    duration: "60s",
    workload: [
        Capif((
            invokers: ["invoker-*"],
            ccf: "ccf-a",
            aef: "aef-a1",
            prefs: Some(["PSK", "OAUTH"]),
            arrival: Poisson(rate_per_s: 0.5),
            start_spread: Some("0s"),
        )),
    ],
    capif: (
        capif1e_tls: Tls12,
        psk_validity: Some("10m"),
        recovery: CcfPush(SecurityNotification),
        invocations_per_session: Some(1),
        aefs: {{"aef-a1": (methods: Some(["PKI", "PSK"]), apis: Some(["api1", "api2"]))}},
        method_changes: [(at: "30s", aef: "aef-a1", methods: ["OAUTH"])],
        revocations: [(at: "40s", invoker: "invoker-0500")],
        interconnection: (ccf_b_id: OpaqueHandle, home_lookup: AskAllPeers),
    ),
)"#,
        topology("capif-storm-1000.ron")
    );
    let s = load_written("storm", &storm).unwrap();
    let secsim::scenario::WorkloadSpec::Capif(flow) = &s.experiment.workload[0] else {
        panic!("not a Capif flow");
    };
    let invokers = secsim::scenario::validate::expand_invokers(&flow.invokers, &s.topology).unwrap();
    assert_eq!(invokers.len(), 1000);
    assert_eq!((invokers[0], invokers[999]), ("invoker-0001", "invoker-1000"));
    let summary = secsim::scenario::validate::summarize_scenario(&s);
    for w in [
        "CAPIF invoker-* (1000 invokers) onboarding at ccf-a, invoking aef-a1 (Poisson 0.5/s)",
        "recovery CcfPush(SecurityNotification)",
        "1 method change",
        "1 revocation",
    ] {
        assert!(summary.contains(w), "`{w}` not in {summary}");
    }

    // Interconnected: plain invoker, the AEF registered at the other CCF.
    let two = format!(
        r#"Experiment(
    name: "capif-two",
    topology: "{}",
    duration: "10s",
    workload: [
        Capif((invokers: ["invoker-1"], ccf: "ccf-b", aef: "aef-a1", aef_ccf: Some("ccf-a"),
               arrival: Periodic(interval: "1s"))),
    ],
)"#,
        topology("capif-two-providers.ron")
    );
    let s = load_written("two", &two).unwrap();
    let summary = secsim::scenario::validate::summarize_scenario(&s);
    assert!(
        summary.contains("CAPIF invoker-1 (1 invoker) onboarding at ccf-b, invoking aef-a1 registered at ccf-a"),
        "{summary}"
    );

    // CAPIF knobs without a Capif flow are no error.
    let http = format!(
        r#"Experiment(
    name: "no-capif-flow",
    topology: "{}",
    duration: "10s",
    workload: [Http((client: "nf-a", server: "sepp-a", arrival: Poisson(rate_per_s: 1.0)))],
    capif: (recovery: TlsFailureOnly, aefs: {{"aef-x": (apis: Some(["api9"]))}}),
)"#,
        dir("bad_inputs").join("ok_topology.ron").display()
    );
    let s = load_written("http", &http).unwrap();
    assert!(!secsim::scenario::validate::summarize_scenario(&s).contains("CAPIF"));
}

/// Checks that an error is located inside `src` (or at its very end).
fn located_inside(src: &str, e: &ScenarioError) -> Result<(), TestCaseError> {
    let (Some(line), Some(col)) = (e.line, e.column) else {
        return Err(TestCaseError::fail(format!("no position: {e}")));
    };
    let (line, col) = (line as usize, col as usize);
    let lines: Vec<&str> = src.split('\n').collect();
    prop_assert!(
        line >= 1 && line <= lines.len(),
        "line {line} outside 1..={}: {e}",
        lines.len()
    );
    let width = lines[line - 1].chars().count();
    prop_assert!(
        col >= 1 && col <= width + 1,
        "column {col} outside 1..={}: {e}",
        width + 1
    );
    prop_assert!(!e.message.is_empty());
    Ok(())
}

fn good(file: &str) -> String {
    std::fs::read_to_string(dir("good_inputs").join(file)).unwrap()
}

/// Small edits that keep most of the file: delete, duplicate or replace a span.
fn mutate(src: &str, edits: &[(usize, usize, u8, String)]) -> String {
    let mut s: Vec<char> = src.chars().collect();
    for (at, len, op, text) in edits {
        if s.is_empty() {
            break;
        }
        let at = at % s.len();
        let end = (at + len % 8).min(s.len());
        match op % 3 {
            0 => {
                s.drain(at..end);
            }
            1 => {
                let piece: Vec<char> = s[at..end].to_vec();
                s.splice(at..at, piece);
            }
            _ => {
                s.splice(at..end, text.chars());
            }
        }
    }
    s.into_iter().collect()
}

/// Pieces of scenario files, for token soups.
const SOUP: [&str; 40] = [
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    " ",
    "\n",
    "// c\n",
    "/* c */",
    "domains",
    "nodes",
    "links",
    "name",
    "kind",
    "Plmn",
    "domain",
    "\"a\"",
    "\"b\"",
    "source",
    "target",
    "latency",
    "Constant",
    "Uniform",
    "min",
    "max",
    "\"5ms\"",
    "\"-1s\"",
    "loss",
    "NaN",
    "1.5",
    "Some",
    "None",
    "workload",
    "Http",
    "duration",
    "'x'",
    "r#\"raw\"#",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(src in "(?s).{0,200}") {
        let p = Path::new("fuzz.ron");
        if let Err(e) = parse_topology_str(&src, p) {
            located_inside(&src, &e)?;
        }
        if let Err(e) = parse_experiment_str(&src, p) {
            located_inside(&src, &e)?;
        }
    }

    #[test]
    fn random_token_soup_never_panics(
        head in prop::sample::select(&["Topology(", "Experiment(", "#![enable(unwrap_variant_newtypes)] Experiment(", "("][..]),
        toks in proptest::collection::vec(prop::sample::select(&SOUP[..]), 0..60),
    ) {
        let src = format!("{head}{}", toks.concat());
        let p = Path::new("fuzz.ron");
        if let Err(e) = parse_topology_str(&src, p) {
            located_inside(&src, &e)?;
        }
        if let Err(e) = parse_experiment_str(&src, p) {
            located_inside(&src, &e)?;
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let src = String::from_utf8_lossy(&bytes);
        if let Err(e) = parse_topology_str(&src, Path::new("fuzz.ron")) {
            located_inside(&src, &e)?;
        }
    }

    #[test]
    fn mutated_good_files_never_panic(
        edits in proptest::collection::vec(
            (any::<usize>(), 0usize..8, any::<u8>(), "[()\\[\\]{},:\"'/*#a-z0-9 .\\-]{0,4}"),
            1..4,
        ),
    ) {
        let p = Path::new("fuzz.ron");
        let topology = mutate(&good("topology.ron"), &edits);
        if let Err(e) = parse_topology_str(&topology, p) {
            located_inside(&topology, &e)?;
        }
        let experiment = mutate(&good("experiment.ron"), &edits);
        if let Err(e) = parse_experiment_str(&experiment, p) {
            located_inside(&experiment, &e)?;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The malformed-file corpus (tests/bad_input/) through the binary
// ---------------------------------------------------------------------------------------------

/// What a subcommand must report for a file: the library's own error for it.
type Expect = fn(&Path) -> Result<(), ScenarioError>;

/// The subcommands every malformed file is given to: name, extra arguments (`{out}` is a fresh
/// folder) and the library call whose error the subcommand reports. Another subcommand is one
/// more line.
const VERBS: &[(&str, &[&str], Expect)] = &[
    ("validate", &[], |p| validate_path(p).map(drop)),
    ("run", &["--quiet", "--out", "{out}"], |p| {
        secsim::sweep::expand(p).map(drop)
    }),
    ("check", &["--quiet", "--seeds", "1"], |p| {
        secsim::sweep::expand(p).map(drop)
    }),
];

/// Corpus files too large to commit, written at test time into `dir`.
fn generated_bad_inputs(dir: &Path) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    let topology = Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies/two-domain-proxy.ron");
    let experiment = |fields: &str, client: &str| {
        format!(
            "Experiment(\n    name: \"generated\",\n    topology: {:?},\n    duration: \"10s\",{fields}\n    workload: [\n        \
             Http((client: \"{client}\", server: \"nf-b1\", arrival: Poisson(rate_per_s: 5.0))),\n    ],\n)\n",
            topology.display().to_string()
        )
    };
    let ten_mb = "x".repeat(10 * 1024 * 1024);
    let seeds: Vec<String> = (1..=200_000).map(|s| s.to_string()).collect();
    let files = [
        // A 10 MB unknown node name: the typo suggestion must not compare 10 MB strings.
        ("huge_string_10mb_node_name.ron", experiment("", &ten_mb)),
        // A 10 MB experiment name (it names the results folder).
        (
            "huge_string_10mb_experiment_name.ron",
            experiment("", "nf-a1").replace("\"generated\"", &format!("\"{ten_mb}\"")),
        ),
        // A 10 MB unknown field name.
        (
            "huge_string_10mb_field_name.ron",
            experiment(&format!("\n    {ten_mb}: 1,"), "nf-a1"),
        ),
        // 200,000 seeds, above the limit.
        (
            "huge_seeds_list.ron",
            experiment(&format!("\n    seeds: Some([{}]),", seeds.join(", ")), "nf-a1"),
        ),
        // 100,000 nested lists.
        (
            "deep_brackets_100000.ron",
            format!(
                "Topology(domains: {}{}, nodes: [], links: [])",
                "[".repeat(100_000),
                "]".repeat(100_000)
            ),
        ),
    ];
    files
        .into_iter()
        .map(|(name, text)| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            path
        })
        .collect()
}

#[test]
fn every_malformed_file_exits_2_with_a_located_error_and_no_panic() {
    let tmp = std::env::temp_dir().join(format!("secsim-bad-input-{}", std::process::id()));
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir("bad_input"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 30, "only {} files in tests/bad_input", files.len());
    files.extend(generated_bad_inputs(&tmp.join("generated")));
    let mut failures = Vec::new();
    for f in &files {
        for (verb, args, expect) in VERBS {
            let out_dir = tmp.join("out");
            let _ = std::fs::remove_dir_all(&out_dir);
            let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_secsim"));
            cmd.arg(verb).arg(f);
            for a in *args {
                if *a == "{out}" {
                    cmd.arg(&out_dir);
                } else {
                    cmd.arg(a);
                }
            }
            let out = cmd.output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            let name = f.file_name().unwrap().to_string_lossy();
            let mut fail = |why: String| failures.push(format!("{verb} {name}: {why}\n  stderr: {stderr:.600}"));
            if out.status.code() != Some(2) {
                fail(format!("exit code {:?}, expected 2", out.status.code()));
                continue;
            }
            if stderr.contains("panicked") {
                fail("panicked".into());
                continue;
            }
            if stderr.len() > 8192 {
                fail(format!("{} bytes on stderr: not a clear error", stderr.len()));
            }
            // The file at fault: the file itself, or the topology an experiment names.
            let e = match expect(f) {
                Ok(()) => {
                    fail("the library accepts it".into());
                    continue;
                }
                Err(e) => e,
            };
            if e.path != *f {
                let topology = std::fs::read_to_string(f)
                    .ok()
                    .and_then(|src| parse_experiment_str(&src, f).ok())
                    .map(|x| f.parent().unwrap().join(x.topology));
                if topology.as_deref() != Some(e.path.as_path()) {
                    fail(format!("blames {}, which is not its topology", e.path.display()));
                }
            }
            let blamed = e.path.display().to_string();
            if !stderr.contains(&blamed) {
                fail(format!("stderr does not name {blamed}"));
            }
            // Syntax and field errors are located.
            if matches!(e.kind, ErrorKind::Syntax | ErrorKind::Schema) {
                let at = format!("{blamed}:{}:", e.position());
                if e.line.is_none() || !stderr.contains(&at) {
                    fail(format!("a {:?} error not located as `{at}`", e.kind));
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
