//! Hostile but well-formed input (issue 15): files and command lines that parse, tried as a
//! user or a fuzzing job would. Each case has its expected outcome: refused with a located
//! error (exit 2), run and reported as stopped early (exit 3), or accepted. Every case runs
//! under a memory cap (`prlimit --as`, where the machine has it) and a time limit: none may
//! panic, abort, hang or exceed the cap. For an experiment, `validate` and `run` must give the
//! same verdict and the same message.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Address-space cap of each case's process.
const MEMORY_CAP: u64 = 2 << 30;
/// Wall-time limit of each case's process.
const TIME_LIMIT: Duration = Duration::from_secs(60);

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A shipped experiment with textual edits, its topology path made absolute.
fn edited(base: &str, edits: &[(&str, &str)]) -> String {
    let mut text = std::fs::read_to_string(root().join("experiments").join(base)).unwrap();
    text = text.replace("\"../topologies/", &format!("\"{}/topologies/", root().display()));
    for (from, to) in edits {
        assert!(text.contains(from), "{base}: no `{from}` to edit");
        text = text.replacen(from, to, 1);
    }
    text
}

/// What a case must give.
struct Expect {
    code: i32,
    /// Substrings stderr must contain.
    stderr: &'static [&'static str],
    /// Whether the message must name `file:line:column`.
    located: bool,
}

const REFUSED: fn(&'static [&'static str]) -> Expect = |stderr| Expect {
    code: 2,
    stderr,
    located: true,
};
const EARLY: fn(&'static [&'static str]) -> Expect = |stderr| Expect {
    code: 3,
    stderr,
    located: false,
};
const INPUT: fn(&'static [&'static str]) -> Expect = |stderr| Expect {
    code: 2,
    stderr,
    located: false,
};

enum Input {
    /// An experiment (text): checked with both `validate` and `run`.
    Experiment(String),
    /// An experiment and its own topology (text), written beside it.
    WithTopology(String, String),
    /// A file (name, text) and the command line (`{f}`: the file, `{d}`: the case folder).
    Command(&'static str, String, &'static [&'static str]),
    /// Files (name, text) and command lines run in order (`{d}`: the case folder): every one
    /// but the last must succeed; the last is judged.
    Steps(Vec<(&'static str, String)>, Vec<Vec<&'static str>>),
}

struct Case {
    name: &'static str,
    input: Input,
    expect: Expect,
}

/// Two small sweeps (`a.ron`, `b.ron`: other names and rates) of two points each.
fn sweeps() -> Vec<(&'static str, String)> {
    let sweep = |name: &str, rate: &str| {
        edited(
            "http-baseline.ron",
            &[
                ("name: \"http-baseline\"", &format!("name: \"{name}\"")),
                ("duration: \"60s\"", "duration: \"2s\""),
                (
                    "warmup: \"1s\",",
                    &format!(
                        "warmup: \"1s\",\n    sweep: [(path: \"workload[0].Http.arrival\", values: [\"Poisson(rate_per_s: {rate})\", \"Poisson(rate_per_s: 20.0)\"])],"
                    ),
                ),
            ],
        )
    };
    vec![("a.ron", sweep("sweep-a", "5.0")), ("b.ron", sweep("sweep-b", "7.0"))]
}

/// A shipped topology with textual edits.
fn topology(base: &str, edits: &[(&str, &str)]) -> String {
    let mut text = std::fs::read_to_string(root().join("topologies").join(base)).unwrap();
    for (from, to) in edits {
        assert!(text.contains(from), "{base}: no `{from}` to edit");
        text = text.replacen(from, to, 1);
    }
    text
}

fn cases() -> Vec<Case> {
    let ri = |edits: &[(&str, &str)]| Input::Experiment(edited("n32-ri-reject-encodings.ron", edits));
    // http-baseline on its topology with the first link's latency replaced.
    let link0 = |latency: &str| {
        let uniform = "latency: Uniform(min: \"200us\", max: \"600us\")";
        let topo = topology("two-domain-proxy.ron", &[(uniform, &format!("latency: {latency}"))]);
        Input::WithTopology(
            edited("http-baseline.ron", &[("duration: \"60s\"", "duration: \"5s\"")]),
            topo,
        )
    };
    let http = |edits: &[(&str, &str)]| Input::Experiment(edited("http-baseline.ron", edits));
    let short = ("duration: \"60s\"", "duration: \"5s\"");
    // 300-byte names: the first node's, and the first domain's.
    let long_node = format!("(name: \"{}nf-a1", "n".repeat(295));
    let long_domain = format!("(name: \"{}", "d".repeat(300));
    let busy = "arrival: Poisson(rate_per_s: 50.0)";
    let trace = a_trace();
    let lines: Vec<&str> = trace.lines().collect();
    let check = |name: &'static str, text: String| Input::Command(name, text, &["check", "--trace", "{f}"]);
    vec![
        // Class 1: unbounded memory.
        Case {
            name: "poisson-rate-below-clock-resolution",
            input: http(&[short, (busy, "arrival: Poisson(rate_per_s: 1e12)")]),
            expect: REFUSED(&["arrival.Poisson.rate_per_s", "below the clock's resolution"]),
        },
        Case {
            name: "poisson-rate-beyond-event-limit",
            input: http(&[short, (busy, "arrival: Poisson(rate_per_s: 1e9)")]),
            expect: REFUSED(&["arrival.Poisson.rate_per_s", "more than the event limit"]),
        },
        Case {
            name: "periodic-1ns",
            input: http(&[short, (busy, "arrival: Periodic(interval: \"1ns\")")]),
            expect: REFUSED(&["arrival.Periodic.interval", "more than the event limit"]),
        },
        Case {
            name: "periodic-within-a-small-event-limit",
            input: http(&[
                ("duration: \"60s\"", "duration: \"5s\", max_events: Some(1000)"),
                (busy, "arrival: Periodic(interval: \"1ms\")"),
            ]),
            expect: REFUSED(&["arrival.Periodic.interval", "event limit of 1000"]),
        },
        Case {
            name: "pending-events-pile-up",
            // Ten million requests a second, each answered after 100 s: procedures pile up
            // until the engine's bound on pending events stops the run.
            input: http(&[
                short,
                (
                    "arrival: Poisson(rate_per_s: 50.0), processing: Some(Exponential(mean: \"2ms\"))",
                    "arrival: Poisson(rate_per_s: 10000000.0), request_bytes: 1, response_bytes: 1, \
                     processing: Some(Exponential(mean: \"100s\")), timeout: \"1000s\"",
                ),
            ]),
            expect: EARLY(&["stopped early", "pending-event limit was reached"]),
        },
        Case {
            name: "record-limit",
            input: http(&[("duration: \"60s\"", "duration: \"5s\", max_records: Some(100)")]),
            expect: EARLY(&["stopped early", "the record limit was reached"]),
        },
        Case {
            name: "max-records-zero",
            input: http(&[("duration: \"60s\"", "duration: \"5s\", max_records: Some(0)")]),
            expect: REFUSED(&["max_records", "between 1 and 1000000"]),
        },
        Case {
            name: "max-records-beyond-the-memory-budget",
            input: http(&[("duration: \"60s\"", "duration: \"5s\", max_records: Some(1000001)")]),
            expect: REFUSED(&["max_records", "between 1 and 1000000"]),
        },
        Case {
            name: "http-bodies-in-flight-beyond-the-budget",
            input: http(&[
                short,
                (
                    "request_bytes: 2048",
                    "request_bytes: 67108864, response_bytes: 67108864",
                ),
                (
                    "arrival: Poisson(rate_per_s: 0.5)",
                    "arrival: Poisson(rate_per_s: 50.0)",
                ),
            ]),
            expect: REFUSED(&[
                "workload[1].Http.request_bytes",
                "could be in flight at once",
                "1024 MiB",
            ]),
        },
        Case {
            name: "n32-one-huge-request-in-flight",
            input: Input::Experiment(edited(
                "n32-prins-two-ri.ron",
                &[
                    ("duration: \"30s\"", "duration: \"10s\""),
                    (
                        "arrival: Poisson(rate_per_s: 20.0)",
                        "arrival: Poisson(rate_per_s: 0.2), request_bytes: 67108864, response_bytes: 67108864",
                    ),
                ],
            )),
            expect: REFUSED(&["workload[0].N32.request_bytes", "10 copies a request"]),
        },
        Case {
            name: "sweep-beyond-the-point-limit",
            input: Input::Experiment(edited(
                "sweep-n32-prins.ron",
                &[(
                    "    sweep: [\n",
                    &format!(
                        "    sweep: [\n        (path: \"seeds\", values: [{}]),\n",
                        (0..5000)
                            .map(|i| format!("\"Some([{i}])\""))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )],
            )),
            expect: REFUSED(&["sweep", "135000 points; at most 100000"]),
        },
        Case {
            name: "bench-capif-invokers-beyond-the-node-limit",
            input: Input::Command(
                "x",
                String::new(),
                &["bench", "capif", "--invokers", "4000000000", "--fidelity", "timing"],
            ),
            expect: INPUT(&["--invokers 4000000000", "limit of 250000 nodes"]),
        },
        Case {
            name: "bench-phold-lps-beyond-the-node-limit",
            input: Input::Command("x", String::new(), &["bench", "phold", "--lps", "1000000"]),
            expect: INPUT(&["--lps 1000000", "limit of 250000 logical processes"]),
        },
        Case {
            name: "bench-phold-population-beyond-the-pending-limit",
            input: Input::Command(
                "x",
                String::new(),
                &["bench", "phold", "--lps", "100000", "--init", "1000"],
            ),
            expect: INPUT(&["--init 1000", "limit of 16000000 pending events"]),
        },
        // Class 2: runs that stop at a limit say so.
        Case {
            name: "idle-timeout-livelock",
            input: http(&[short, ("idle_timeout: Some(\"1s\")", "idle_timeout: Some(\"1ns\")")]),
            expect: EARLY(&["stopped early", "simulated time stopped advancing"]),
        },
        Case {
            name: "event-limit",
            input: http(&[("duration: \"60s\"", "duration: \"5s\", max_events: Some(1000)")]),
            expect: EARLY(&["stopped early", "after 1000 events", "event limit (`max_events`)"]),
        },
        // Class 3: validate and run agree (checks that ran only at build time).
        Case {
            name: "zero-log-normal-median",
            input: link0("LogNormal(median: \"0s\", sigma: 0.2)"),
            expect: REFUSED(&["links[0].latency.LogNormal.median", "must be > 0"]),
        },
        Case {
            name: "uniform-latency-min-above-max",
            input: link0("Uniform(min: \"900us\", max: \"600us\")"),
            expect: REFUSED(&["links[0].latency.Uniform.min", "greater than max"]),
        },
        Case {
            name: "empty-empirical-latency",
            input: link0("Empirical([])"),
            expect: REFUSED(&["links[0].latency.Empirical", "at least one sample"]),
        },
        Case {
            name: "ri-rate-limit-zero",
            input: ri(&[(
                "\"ri-1\": (scripted",
                "\"ri-1\": (rate_limit: Some((per_s: 0.0, burst: 1)), scripted",
            )]),
            expect: REFUSED(&["n32.ri_policies[\"ri-1\"].rate_limit.per_s", "must be finite and > 0"]),
        },
        Case {
            name: "ri-rate-limit-burst-zero",
            input: ri(&[(
                "\"ri-1\": (scripted",
                "\"ri-1\": (rate_limit: Some((per_s: 5.0, burst: 0)), scripted",
            )]),
            expect: REFUSED(&["rate_limit.burst", "must be >= 1"]),
        },
        Case {
            name: "ri-reversed-scripted-window",
            input: ri(&[("(at: \"0s\", until: Some(\"20s\")", "(at: \"20s\", until: Some(\"5s\")")]),
            expect: REFUSED(&[
                "n32.ri_policies[\"ri-1\"].scripted[0].until",
                "ends (5s) before it starts (20s)",
            ]),
        },
        Case {
            name: "ri-rejection-status-not-an-error",
            input: ri(&[(
                "rejection: (encoding: FlatFields)",
                "rejection: (encoding: FlatFields, status: 200)",
            )]),
            expect: REFUSED(&["n32.ri_policies[\"ri-2\"].rejection.status", "400..=599"]),
        },
        Case {
            name: "one-invoker-in-two-capif-flows",
            input: Input::Experiment(edited(
                "capif-two-providers.ron",
                &[("invokers: [\"invoker-2\"]", "invokers: [\"invoker-1\"]")],
            )),
            expect: REFUSED(&["workload[1].Capif.invokers[0]", "also in workload[0]"]),
        },
        Case {
            name: "crypto-cost-negative-slowdown",
            input: http(&[(
                "warmup: \"1s\",",
                "warmup: \"1s\", crypto: (costs: Some((classes: {\"Sepp\": (slowdown: -2.0)}))),",
            )]),
            expect: REFUSED(&[
                "crypto.costs.classes[\"Sepp\"].slowdown",
                "slowdown -2; it must be finite and >= 0",
            ]),
        },
        Case {
            name: "n32-sepp-that-is-also-a-consumer",
            input: ri(&[("consumer: \"cnf-2\"", "consumer: \"sepp-1\"")]),
            expect: REFUSED(&[
                "workload[1].N32.consumer",
                "`sepp-1` is already the c_sepp of workload[0]: a node is either a SEPP or an NF",
            ]),
        },
        Case {
            name: "n32-producer-that-is-also-a-consumer",
            input: ri(&[("consumer: \"cnf-2\"", "consumer: \"pnf-b\"")]),
            expect: REFUSED(&[
                "workload[1].N32.consumer",
                "already the producer of workload[0]: a node is either a consumer or a producer",
            ]),
        },
        Case {
            name: "n32-consumer-is-a-roaming-intermediary",
            input: ri(&[("consumer: \"cnf-2\"", "consumer: \"ri-5\"")]),
            expect: REFUSED(&["workload[1].N32.consumer", "`ri-5` is a Roaming Intermediary"]),
        },
        Case {
            name: "n32-consumer-in-a-capif-flow",
            input: Input::WithTopology(
                edited(
                    "capif-single.ron",
                    &[(
                        "    workload: [\n",
                        "    workload: [\n        N32((consumer: \"aef-a1\", c_sepp: \"sepp-a\", p_sepp: \"sepp-i\", producer: \"nf-i\", arrival: Poisson(rate_per_s: 1.0))),\n",
                    )],
                ),
                topology(
                    "capif-single.ron",
                    &[
                        (
                            "        (name: \"invoker-1\"",
                            "        (name: \"sepp-a\", domain: \"provider-a\", role: Sepp),\n        (name: \"sepp-i\", domain: \"internet\", role: Sepp),\n        (name: \"nf-i\", domain: \"internet\", role: Nf),\n        (name: \"invoker-1\"",
                        ),
                        (
                            "    links: [\n",
                            "    links: [\n        (source: \"sepp-a\", target: \"gw-a\", latency: Constant(\"1ms\")),\n        (source: \"sepp-i\", target: \"gw-a\", latency: Constant(\"1ms\")),\n        (source: \"nf-i\", target: \"gw-a\", latency: Constant(\"1ms\")),\n",
                        ),
                    ],
                ),
            ),
            expect: REFUSED(&["workload[0].N32.consumer", "node of the CAPIF plane (workload[1])"]),
        },
        Case {
            name: "one-aef-registered-at-two-ccfs",
            input: Input::Experiment(edited(
                "capif-two-providers.ron",
                &[(
                    "invokers: [\"invoker-2\"], ccf: \"ccf-b\", aef: \"aef-a1\", aef_ccf: Some(\"ccf-a\"),",
                    "invokers: [\"invoker-2\"], ccf: \"ccf-b\", aef: \"aef-a1\",",
                )],
            )),
            expect: REFUSED(&[
                "workload[1].Capif.ccf",
                "AEF `aef-a1` is registered at `ccf-b` here and at `ccf-a` in workload[0]",
            ]),
        },
        Case {
            name: "node-name-beyond-255-bytes",
            input: Input::WithTopology(
                edited("http-baseline.ron", &[short]),
                topology("two-domain-proxy.ron", &[("(name: \"nf-a1", &long_node)]),
            ),
            expect: REFUSED(&["nodes[0].name", "…` (300 bytes) is above the limit of 255 bytes"]),
        },
        Case {
            name: "domain-name-beyond-255-bytes",
            input: Input::WithTopology(
                edited("http-baseline.ron", &[short]),
                topology("two-domain-proxy.ron", &[("(name: \"", &long_domain)]),
            ),
            expect: REFUSED(&["domains[0].name", "domain name `dddd", "above the limit of 255"]),
        },
        // Class 4: accepted and ignored.
        Case {
            name: "sweep-axis-over-the-topology-file",
            input: Input::Experiment(edited(
                "sweep-n32-prins.ron",
                &[(
                    "    sweep: [\n",
                    "    sweep: [\n        (path: \"topology\", values: [\"../topologies/none.ron\"]),\n",
                )],
            )),
            expect: REFUSED(&["sweep[0].path", "cannot change the topology file"]),
        },
        Case {
            name: "two-sweep-axes-on-one-field",
            input: Input::Experiment(edited(
                "sweep-n32-prins.ron",
                &[(
                    "path: \"topology.links[2].loss\"",
                    "path: \"topology.links[2].latency\"",
                )],
            )),
            expect: REFUSED(&["sweep[1].path", "overlaps sweep[0]"]),
        },
        Case {
            name: "sweep-axis-inside-another",
            input: Input::Experiment(edited(
                "sweep-n32-prins.ron",
                &[("path: \"topology.links[2].loss\"", "path: \"topology.links[2]\"")],
            )),
            expect: REFUSED(&["sweep[1].path", "overlaps sweep[0]"]),
        },
        Case {
            name: "http-flow-on-nodes-of-an-n32-flow",
            input: ri(&[(
                "    workload: [\n",
                "    workload: [\n        Http((client: \"cnf-1\", server: \"pnf-b\", arrival: Poisson(rate_per_s: 1.0))),\n",
            )]),
            expect: REFUSED(&["workload[0].Http.client", "node of the N32 plane (workload[1])"]),
        },
        Case {
            name: "http-flow-through-a-roaming-intermediary",
            input: ri(&[(
                "    workload: [\n",
                "    workload: [\n        Http((client: \"cnf-5\", server: \"ri-5\", arrival: Poisson(rate_per_s: 1.0))),\n",
            )]),
            expect: REFUSED(&["workload[0].Http", "every Roaming Intermediary"]),
        },
        Case {
            name: "n32-fault-every-zero",
            input: Input::Experiment(edited("n32-prins-faults.ron", &[("(every: 11,", "(every: 0,")])),
            expect: REFUSED(&["n32.faults[0].every", "must be >= 1"]),
        },
        // Class 7: command-line and file bounds.
        Case {
            name: "threads-beyond-the-bound",
            input: Input::Command(
                "x",
                String::new(),
                &[
                    "run",
                    "experiments/http-baseline.ron",
                    "--threads",
                    "100000",
                    "--out",
                    "{d}/out",
                ],
            ),
            expect: INPUT(&["--threads", "between 1 and 1024"]),
        },
        Case {
            name: "threads-zero",
            input: Input::Command(
                "x",
                String::new(),
                &["check", "experiments/http-baseline.ron", "--threads", "0"],
            ),
            expect: INPUT(&["--threads", "between 1 and 1024"]),
        },
        Case {
            name: "soak-zero-cases",
            input: Input::Command("x", String::new(), &["soak", "--cases", "0", "--failures", "{d}/f"]),
            expect: INPUT(&["--cases"]),
        },
        Case {
            name: "soak-too-many-cases",
            input: Input::Command(
                "x",
                String::new(),
                &["soak", "--cases", "2000000", "--failures", "{d}/f"],
            ),
            expect: INPUT(&["--cases"]),
        },
        Case {
            name: "threads-just-beyond-the-bound",
            input: Input::Command(
                "x",
                String::new(),
                &["check", "experiments/http-baseline.ron", "--threads", "1025"],
            ),
            expect: INPUT(&["--threads", "between 1 and 1024"]),
        },
        Case {
            name: "soak-seeds-overflow",
            input: Input::Command(
                "x",
                String::new(),
                &[
                    "soak",
                    "--cases",
                    "2",
                    "--from",
                    "18446744073709551615",
                    "--failures",
                    "{d}/f",
                ],
            ),
            expect: INPUT(&["beyond 2^64 - 1"]),
        },
        Case {
            name: "experiment-is-a-folder",
            input: Input::Command("x", String::new(), &["validate", "{d}"]),
            expect: INPUT(&["it is a folder"]),
        },
        Case {
            name: "experiment-is-a-named-pipe",
            input: Input::Command("fifo.ron", String::new(), &["validate", "{f}"]),
            expect: INPUT(&["not a regular file (a named pipe"]),
        },
        Case {
            name: "run-of-a-named-pipe",
            input: Input::Command("fifo.ron", String::new(), &["run", "{f}", "--out", "{d}/out"]),
            expect: INPUT(&["not a regular file (a named pipe"]),
        },
        Case {
            name: "utf8-bom-is-accepted",
            input: Input::Experiment(format!(
                "\u{feff}{}",
                edited("http-baseline.ron", &[("duration: \"60s\"", "duration: \"2s\"")])
            )),
            expect: Expect {
                code: 0,
                stderr: &[],
                located: false,
            },
        },
        // Class 5: results mixed or stale.
        Case {
            name: "merge-shards-of-two-experiments",
            input: Input::Steps(
                sweeps(),
                vec![
                    vec!["run", "{d}/a.ron", "--quiet", "--shard", "0/2", "--out", "{d}/s0"],
                    vec!["run", "{d}/b.ron", "--quiet", "--shard", "1/2", "--out", "{d}/s1"],
                    vec!["merge", "--out", "{d}/m", "{d}/s0", "{d}/s1"],
                ],
            ),
            expect: INPUT(&["s1", "a shard of another sweep"]),
        },
        Case {
            name: "merge-shards-run-with-other-seeds",
            input: Input::Steps(
                sweeps(),
                vec![
                    vec!["run", "{d}/a.ron", "--quiet", "--shard", "0/2", "--out", "{d}/s0"],
                    vec![
                        "run",
                        "{d}/a.ron",
                        "--quiet",
                        "--seeds",
                        "2",
                        "--shard",
                        "1/2",
                        "--out",
                        "{d}/s1",
                    ],
                    vec!["merge", "--out", "{d}/m", "{d}/s0", "{d}/s1"],
                ],
            ),
            expect: INPUT(&["s1", "run with seeds [1,2]"]),
        },
        Case {
            name: "merge-a-shard-given-twice",
            input: Input::Steps(
                sweeps(),
                vec![
                    vec!["run", "{d}/a.ron", "--quiet", "--shard", "0/2", "--out", "{d}/s0"],
                    vec!["merge", "--out", "{d}/m", "{d}/s0", "{d}/s0"],
                ],
            ),
            expect: INPUT(&["shard 0/2 is given twice"]),
        },
        Case {
            name: "merge-a-folder-that-is-no-sweep",
            input: Input::Steps(sweeps(), vec![vec!["merge", "--out", "{d}/m", "{d}"]]),
            expect: INPUT(&["not a sweep folder"]),
        },
        Case {
            name: "resume-into-another-experiments-folder",
            input: Input::Steps(
                sweeps(),
                vec![
                    vec!["run", "{d}/a.ron", "--quiet", "--out", "{d}/r"],
                    vec!["run", "{d}/b.ron", "--quiet", "--resume", "--out", "{d}/r"],
                ],
            ),
            expect: INPUT(&["holds the results of another sweep"]),
        },
        Case {
            name: "resume-with-other-seeds",
            input: Input::Steps(
                sweeps(),
                vec![
                    vec!["run", "{d}/a.ron", "--quiet", "--out", "{d}/r"],
                    vec![
                        "run",
                        "{d}/a.ron",
                        "--quiet",
                        "--resume",
                        "--seeds",
                        "3",
                        "--out",
                        "{d}/r",
                    ],
                ],
            ),
            expect: INPUT(&["run with seeds [1]"]),
        },
        Case {
            name: "run-into-a-folder-another-writer-holds",
            // pid 1 is always alive.
            input: Input::Command(
                ".secsim.lock",
                "1\n".into(),
                &["run", "experiments/http-baseline.ron", "--quiet", "--out", "{d}"],
            ),
            expect: INPUT(&["another secsim (pid 1) is writing this folder"]),
        },
        // Class 6: verdicts on non-input.
        Case {
            name: "check-empty-trace",
            input: check("t.jsonl", String::new()),
            expect: INPUT(&["empty file: not a secsim trace"]),
        },
        Case {
            name: "check-csv-as-trace",
            input: check("t.csv", "a,b,c\n1,2,3\n".into()),
            expect: INPUT(&["t.csv:1: not a secsim trace"]),
        },
        Case {
            name: "check-trace-cut-inside-a-line",
            input: check("t.jsonl", trace[..trace.len() / 2].to_string()),
            expect: INPUT(&["truncated"]),
        },
        Case {
            name: "check-trace-cut-at-a-line",
            input: check("t.jsonl", lines[..lines.len() - 1].join("\n") + "\n"),
            expect: INPUT(&["truncated trace: no end line"]),
        },
        Case {
            name: "check-trace-without-header",
            input: check("t.jsonl", lines[1..].join("\n") + "\n"),
            expect: INPUT(&["t.jsonl:1: not a secsim trace"]),
        },
        Case {
            name: "check-trace-with-an-unknown-stop-reason",
            input: check("t.jsonl", {
                let (last, rest) = lines.split_last().unwrap();
                let stop = regex::Regex::new(r#""stop":"[A-Za-z]+""#).unwrap();
                assert!(stop.is_match(last), "{last}");
                format!("{}\n{}\n", rest.join("\n"), stop.replace(last, r#""stop":"Bogus""#))
            }),
            expect: INPUT(&["unknown stop reason `Bogus`"]),
        },
        Case {
            name: "check-trace-with-lines-after-its-end",
            input: check("t.jsonl", format!("{trace}{}\n", lines[1])),
            expect: INPUT(&["a line after the trace's end line"]),
        },
    ]
}

/// A real trace: `http-baseline` for 2 simulated seconds.
fn a_trace() -> String {
    let dir = std::env::temp_dir().join(format!("secsim-hostile-trace-{}", std::process::id()));
    let f = dir.join("experiment.ron");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        &f,
        edited("http-baseline.ron", &[("duration: \"60s\"", "duration: \"2s\"")]),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_secsim"))
        .args(["run", "--quiet", "--trace", "--out"])
        .arg(dir.join("out"))
        .arg(&f)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let trace = std::fs::read_to_string(dir.join("out/trace.jsonl")).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    trace
}

/// Runs `args` under the memory cap and the time limit: (exit code, stderr).
fn run_capped(case: &str, args: &[String]) -> (i32, String) {
    let capped = Command::new("prlimit")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let bin = env!("CARGO_BIN_EXE_secsim");
    let mut cmd = if capped {
        let mut c = Command::new("prlimit");
        c.arg(format!("--as={MEMORY_CAP}")).arg(bin);
        c
    } else {
        Command::new(bin)
    };
    let mut child = cmd
        .args(args)
        .current_dir(root())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > TIME_LIMIT {
            let _ = child.kill();
            panic!("{case}: still running after {TIME_LIMIT:?}: {args:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    use std::io::Read;
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    let code = status
        .code()
        .unwrap_or_else(|| panic!("{case}: killed by a signal ({status}): {stderr}"));
    (code, stderr)
}

fn judge(case: &Case, verb: &str, (code, stderr): &(i32, String)) {
    let what = format!("{} ({verb}): exit {code}, stderr:\n{stderr}", case.name);
    assert!(!stderr.contains("panicked"), "{what}");
    assert_eq!(*code, case.expect.code, "{what}");
    for s in case.expect.stderr {
        assert!(stderr.contains(s), "{what}\nmissing `{s}`");
    }
    if case.expect.located {
        let located = regex::Regex::new(r"\.ron:\d+:\d+: ").unwrap();
        assert!(located.is_match(stderr), "{what}\nnot located (file:line:column)");
    }
}

#[test]
fn hostile_inputs_get_their_expected_outcome_within_bounds() {
    if Command::new("prlimit").arg("--version").output().is_err() {
        eprintln!("hostile inputs: prlimit not found, so the cases run without a memory cap");
    }
    let cases = cases();
    let topology_field = regex::Regex::new(r#"topology: "[^"]*""#).unwrap();
    let base = std::env::temp_dir().join(format!("secsim-hostile-{}", std::process::id()));
    for case in &cases {
        let dir: PathBuf = base.join(case.name);
        std::fs::create_dir_all(&dir).unwrap();
        let d = dir.display().to_string();
        match &case.input {
            Input::Experiment(text) | Input::WithTopology(text, _) => {
                let f = dir.join("experiment.ron");
                let mut text = text.clone();
                if let Input::WithTopology(_, topo) = &case.input {
                    std::fs::write(dir.join("topology.ron"), topo).unwrap();
                    text = topology_field
                        .replace(&text, r#"topology: "topology.ron""#)
                        .into_owned();
                }
                std::fs::write(&f, text).unwrap();
                let f = f.display().to_string();
                let validate = run_capped(case.name, &["validate".into(), f.clone()]);
                let run = run_capped(
                    case.name,
                    &["run".into(), f, "--quiet".into(), "--out".into(), format!("{d}/out")],
                );
                if case.expect.code == 2 {
                    judge(case, "validate", &validate);
                    let first = |s: &str| s.lines().find(|l| l.contains("error")).map(str::to_string);
                    assert_eq!(
                        first(&validate.1),
                        first(&run.1),
                        "{}: validate and run disagree",
                        case.name
                    );
                } else {
                    assert_eq!(
                        validate.0, 0,
                        "{}: validate refused what run accepts: {}",
                        case.name, validate.1
                    );
                }
                judge(case, "run", &run);
            }
            Input::Steps(files, steps) => {
                for (name, text) in files {
                    std::fs::write(dir.join(name), text).unwrap();
                }
                let expand = |args: &[&str]| -> Vec<String> { args.iter().map(|a| a.replace("{d}", &d)).collect() };
                let (last, first) = steps.split_last().unwrap();
                for args in first {
                    let (code, err) = run_capped(case.name, &expand(args));
                    assert_eq!(code, 0, "{}: step {args:?} failed: {err}", case.name);
                }
                judge(case, "last step", &run_capped(case.name, &expand(last)));
            }
            Input::Command(name, text, args) => {
                let f = dir.join(name);
                if *name == "fifo.ron" {
                    // A named pipe: opening it would block until a writer comes.
                    let made = Command::new("mkfifo").arg(&f).status().is_ok_and(|s| s.success());
                    if !made {
                        eprintln!("{}: skipped (no mkfifo)", case.name);
                        continue;
                    }
                } else {
                    std::fs::write(&f, text).unwrap();
                }
                let f = f.display().to_string();
                let args: Vec<String> = args.iter().map(|a| a.replace("{f}", &f).replace("{d}", &d)).collect();
                judge(case, "command", &run_capped(case.name, &args));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&base);
    assert!(cases.len() >= 40, "{} cases", cases.len());
}
