//! The `secsim` command line: a thin layer over the library.
//!
//! Exit codes: 0 success, 1 run failure (I/O, failed seeds), 2 bad input (scenario files,
//! flags).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc as the global allocator: the protocol planes allocate and free many small
/// buffers per message (bodies, headers, effects), where it is markedly faster than the
/// system allocator. Results do not depend on the allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `purge_delay` option (`mi_option_purge_delay` in its `mimalloc.h`, v2 and v3).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Keeps freed memory in the process instead of handing it back to the OS after 10 ms: a
/// run's buffers come and go at a high rate, and re-faulting (zeroing) pages cost about 5%
/// of the N32 run loop. The process's resident memory stays at its peak instead.
fn tune_allocator() {
    // SAFETY: setting an option is a plain store in mimalloc's option table.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
}

#[derive(Parser, Debug)]
#[command(
    name = "secsim",
    version,
    about = "Deterministic discrete-event simulator for 5G trust-domain border security"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run an experiment: one simulation per seed, results in results/<experiment>/.
    Run {
        /// The experiment file (experiments/*.ron).
        experiment: PathBuf,
        /// Run seeds 1..=N (replications in parallel) instead of the file's seed list.
        #[arg(long, value_parser = seed_count())]
        seeds: Option<u64>,
        /// Results folder (default results/<experiment name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write the message trace (trace.jsonl).
        #[arg(long)]
        trace: bool,
        /// Worker threads (default: all cores). Results do not depend on it.
        #[arg(long, value_parser = threads_arg)]
        threads: Option<usize>,
        /// No progress output.
        #[arg(long, short)]
        quiet: bool,
        /// Run only sweep points p with p % N == I (`I/N`, I from 0) into DIR/points/; combine
        /// the shards' folders with `secsim merge`.
        #[arg(long, value_name = "I/N", value_parser = parse_shard)]
        shard: Option<(usize, usize)>,
        /// Skip sweep points whose folder is already complete (after an interrupted run).
        #[arg(long)]
        resume: bool,
        /// The records table's format: `csv` (records.csv) or `parquet` (records.parquet
        /// instead; needs a build with `--features parquet`).
        #[arg(long, value_enum, default_value_t)]
        format: secsim::run::RecordsFormat,
    },
    /// Run every alternative of an experiment's sweep on the same seeds and write compare.md
    /// (a side-by-side table with 95% intervals and differences) and compare.csv.
    Compare {
        /// The experiment file; its `sweep` lists the alternatives.
        experiment: PathBuf,
        /// Run seeds 1..=N instead of the file's seed list.
        #[arg(long, value_parser = seed_count())]
        seeds: Option<u64>,
        /// Results folder (default results/<experiment name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Worker threads (default: all cores).
        #[arg(long, value_parser = threads_arg)]
        threads: Option<usize>,
        /// No progress output.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Combine the point folders of sharded sweep runs into one results folder (the same
    /// files a single run writes).
    Merge {
        /// The combined results folder.
        #[arg(long)]
        out: PathBuf,
        /// The shards' results folders.
        #[arg(required = true)]
        shards: Vec<PathBuf>,
        /// The records table's format, as for `run`.
        #[arg(long, value_enum, default_value_t)]
        format: secsim::run::RecordsFormat,
    },
    /// Sequence chart of one seed: runs it with the message trace on and writes
    /// sequence.mmd (Mermaid) and sequence.svg.
    Trace {
        /// The experiment file (experiments/*.ron).
        experiment: PathBuf,
        /// The seed to run.
        #[arg(long)]
        seed: u64,
        /// Stop at this simulated time, e.g. 2s or 500ms (default: the experiment's duration).
        #[arg(long, value_name = "T", value_parser = secsim::run_trace::parse_until)]
        until: Option<secsim::engine::SimDuration>,
        /// Output folder (default results/<experiment name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Only messages between these nodes (comma-separated).
        #[arg(long, value_delimiter = ',', value_name = "A,B,..")]
        nodes: Option<Vec<String>>,
        /// At most this many arrows; a final note counts the rest.
        #[arg(long, value_name = "N", default_value_t = secsim::metrics::sequence::DEFAULT_MAX_MESSAGES)]
        max_messages: usize,
        /// Show every TCP/TLS segment instead of one note per connection set-up.
        #[arg(long)]
        transport: bool,
    },
    /// Check the behavioural invariants (README "Invariants"): run each seed with the audit
    /// trail on and judge it; prints every violation (invariant, seed, event) and a final
    /// `N passed, N failed`. Exit code 1 if any seed fails.
    Check {
        /// The experiment file (every point of a sweep is checked).
        #[arg(required_unless_present_any = ["trace", "list"])]
        experiment: Option<PathBuf>,
        /// Check seeds 1..=N instead of the file's seed list.
        #[arg(long, value_parser = seed_count())]
        seeds: Option<u64>,
        /// Worker threads (default: all cores). The report does not depend on it.
        #[arg(long, value_parser = threads_arg)]
        threads: Option<usize>,
        /// Check written trace files (`secsim run --trace`) instead of running.
        #[arg(long, num_args = 1.., conflicts_with = "experiment")]
        trace: Vec<PathBuf>,
        /// List the invariants with their spec clauses, and exit.
        #[arg(long)]
        list: bool,
        /// No progress bar and no per-invariant table.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Soak tier: random topologies, knobs and faults (one case per seed), each run with the
    /// invariant checker. Failing cases are written as RON files that reproduce them.
    Soak {
        /// Number of cases (1 to 1,000,000).
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=MAX_SOAK_CASES))]
        cases: u64,
        /// First case seed (the last, `from + cases - 1`, must fit in 64 bits).
        #[arg(long, default_value_t = 1)]
        from: u64,
        /// Worker threads (default: all cores).
        #[arg(long, value_parser = threads_arg)]
        threads: Option<usize>,
        /// Folder for failing cases (`case-<seed>/experiment.ron`, `topology.ron`).
        #[arg(long, default_value = "soak-failures")]
        failures: PathBuf,
        /// No progress bar.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Check a topology or experiment file and print a summary.
    Validate {
        /// A topologies/*.ron or experiments/*.ron file.
        file: PathBuf,
        /// List every domain and flow (default: counts per role and per flow kind).
        #[arg(long, short)]
        verbose: bool,
    },
    /// Write JSON Schemas (draft 2020-12) of the experiment and topology formats for
    /// editors: DIR/experiment.schema.json and DIR/topology.schema.json, or one schema to
    /// stdout with --kind.
    ///
    /// The schemas describe the JSON serde makes of a scenario (RON struct names dropped,
    /// enums externally tagged): `Poisson(rate_per_s: 1.0)` in RON is
    /// `{"Poisson": {"rate_per_s": 1.0}}` in JSON, `Constant("20ms")` is
    /// `{"Constant": "20ms"}`, `Plmn` is `"Plmn"`, `Some(x)` is `x` and `None` is `null`.
    Schema {
        /// Folder to write both schemas into (created if missing; default: the current one).
        #[arg(long, value_name = "DIR", conflicts_with = "kind")]
        out: Option<PathBuf>,
        /// Print only this schema to stdout.
        #[arg(long, value_enum)]
        kind: Option<SchemaKindArg>,
    },
    /// Print a complete, commented experiment of one kind (save it into experiments/; its
    /// topology path is relative to that folder). `--list` lists the kinds.
    Example {
        /// The kind (see --list).
        #[arg(required_unless_present = "list")]
        kind: Option<String>,
        /// List the kinds with a line each, and exit.
        #[arg(long, conflicts_with = "kind")]
        list: bool,
    },
    /// Benchmarks.
    #[command(subcommand)]
    Bench(BenchCommand),
}

/// `secsim schema --kind`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum SchemaKindArg {
    /// experiments/*.ron
    Experiment,
    /// topologies/*.ron (a Topology or a TopologyGenerator)
    Topology,
}

#[derive(Subcommand, Debug)]
enum BenchCommand {
    /// The PHOLD benchmark on secsim's engine (same model and digest as ../shared/bench/phold).
    Phold(secsim::bench::phold::PholdArgs),
    /// N32 handshakes per wall-second (default: the 50-PLMN IPX hub), per crypto fidelity;
    /// `--compare-phold`: events/s at Timing against PHOLD in the same process.
    N32(secsim::bench::n32::N32BenchArgs),
    /// Full CAPIF flows (onboard, negotiate, authenticate, invoke) per wall-second, per crypto
    /// fidelity, on a generated single-provider scenario (default 1000 invokers);
    /// `--compare-phold`: events/s at Timing against PHOLD in the same process.
    Capif(secsim::bench::capif::CapifBenchArgs),
    /// Cost per event of a whole `run` (load, validate, build, simulate, write) at growing IPX
    /// sizes with the same workload per PLMN (default 50, 200, 1000 PLMNs), and the ratio.
    Scale(secsim::bench::scale::ScaleBenchArgs),
}

/// The most worker threads a command starts (a larger `--threads` is refused: each thread
/// costs a stack and start-up time, and results do not depend on the count).
const MAX_THREADS: usize = 1024;
/// The most cases one `soak` runs (each keeps a result in memory until the report).
const MAX_SOAK_CASES: u64 = 1_000_000;

fn threads_arg(s: &str) -> Result<usize, String> {
    let n: usize = s.parse().map_err(|e| format!("{e}"))?;
    if (1..=MAX_THREADS).contains(&n) {
        Ok(n)
    } else {
        Err(format!("must be between 1 and {MAX_THREADS}"))
    }
}

/// Restores the default action of SIGPIPE (end the process quietly), which the Rust runtime
/// sets to ignore: output piped into a reader that stops early (`secsim validate x | head -1`)
/// then ends secsim as it ends any Unix filter, instead of a panic at the next `println!`
/// ("failed printing to stdout: Broken pipe"). Files are written through file descriptors
/// that never raise it, so results are unaffected.
#[cfg(unix)]
fn default_sigpipe() {
    // The C library's `signal(2)`; libc is not a dependency for this one call.
    unsafe extern "C" {
        fn signal(signum: i32, handler: usize) -> usize;
    }
    const SIGPIPE: i32 = 13; // the same on Linux, the BSDs and macOS
    const SIG_DFL: usize = 0;
    // SAFETY: installs the default disposition for one signal before any thread starts;
    // no handler code runs in this process.
    unsafe { signal(SIGPIPE, SIG_DFL) };
}

#[cfg(not(unix))]
fn default_sigpipe() {}

fn main() -> ExitCode {
    default_sigpipe();
    tune_allocator();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match cli.command {
        Command::Run {
            experiment,
            seeds,
            out,
            trace,
            threads,
            quiet,
            shard,
            resume,
            format,
        } => {
            if let Err(e) = format.check() {
                eprintln!("secsim: error: {e}");
                return ExitCode::from(2);
            }
            let opts = secsim::run::RunOptions {
                seeds,
                out,
                trace,
                threads,
                quiet,
                shard,
                resume,
                format,
            };
            let sweep = match secsim::scenario::load_experiment(&experiment) {
                Ok(s) => !s.experiment.sweep.is_empty(),
                Err(e) => {
                    eprintln!("secsim: error: {e}");
                    return ExitCode::from(2);
                }
            };
            if sweep || shard.is_some() || resume {
                return match secsim::sweep::run_sweep(&experiment, &opts) {
                    Ok(s) => {
                        println!(
                            "secsim: {} of {} sweep point(s) run ({} already complete), {} events in {:.2} s -> {}{}",
                            s.ran,
                            s.total,
                            s.skipped,
                            s.events,
                            s.wall_s,
                            s.dir.display(),
                            if s.aggregated {
                                ""
                            } else {
                                " (shard: combine with `secsim merge`)"
                            }
                        );
                        stopped_early(&s.early)
                    }
                    Err(e) => {
                        eprintln!("secsim: error: {e}");
                        ExitCode::from(e.exit_code() as u8)
                    }
                };
            }
            match secsim::run::run_experiment(&experiment, &opts) {
                Ok(summary) => {
                    let events: u64 = summary.seeds.iter().map(|s| s.events).sum();
                    let records: usize = summary.seeds.iter().map(|s| s.records.len()).sum();
                    println!(
                        "secsim: {} seed(s), {events} events, {records} records in {:.2} s -> {}",
                        summary.seeds.len(),
                        summary.wall_s,
                        summary.dir.display()
                    );
                    stopped_early(&summary.early_stops())
                }
                Err(e) => {
                    eprintln!("secsim: error: {e}");
                    ExitCode::from(e.exit_code() as u8)
                }
            }
        }
        Command::Trace {
            experiment,
            seed,
            until,
            out,
            nodes,
            max_messages,
            transport,
        } => {
            let opts = secsim::run_trace::TraceOptions {
                seed,
                until,
                out,
                nodes,
                max_messages,
                transport,
            };
            match secsim::run_trace::run_trace(&experiment, &opts) {
                Ok(t) => {
                    let c = &t.chart;
                    println!(
                        "secsim: seed {seed} until {} ms: {} events, {} trace lines; messages: {} charted, {} left out; connection set-ups: {} charted, {} left out",
                        secsim::metrics::sequence::format_ms(t.until.as_nanos()),
                        t.events,
                        c.lines,
                        c.arrows(),
                        c.omitted_messages,
                        c.notes(),
                        c.omitted_setups,
                    );
                    println!("{}", t.mermaid.display());
                    println!("{}", t.svg.display());
                    let why = t.stop.early_reason();
                    stopped_early(
                        &why.map(|w| format!("seed {seed} stopped early after {} events: {w}", t.events))
                            .into_iter()
                            .collect::<Vec<_>>(),
                    )
                }
                Err(e) => {
                    eprintln!("secsim: error: {e}");
                    ExitCode::from(e.exit_code() as u8)
                }
            }
        }
        Command::Compare {
            experiment,
            seeds,
            out,
            threads,
            quiet,
        } => {
            let opts = secsim::run::RunOptions {
                seeds,
                out,
                threads,
                quiet,
                ..Default::default()
            };
            match secsim::compare::compare(&experiment, &opts) {
                Ok(dir) => {
                    println!("{}", dir.join("compare.md").display());
                    println!("{}", dir.join("compare.csv").display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("secsim: error: {e}");
                    ExitCode::from(e.exit_code() as u8)
                }
            }
        }
        Command::Merge { format, .. } if format.check().is_err() => {
            eprintln!("secsim: error: {}", format.check().unwrap_err());
            ExitCode::from(2)
        }
        Command::Merge { out, shards, format } => match secsim::sweep::merge(&out, &shards, format) {
            Ok(n) => {
                println!(
                    "secsim: merged {n} point(s) from {} shard(s) -> {}",
                    shards.len(),
                    out.display()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("secsim: error: {e}");
                ExitCode::from(e.exit_code() as u8)
            }
        },
        Command::Check {
            experiment,
            seeds,
            threads,
            trace,
            list,
            quiet,
        } => check_command(experiment, seeds, threads, trace, list, quiet),
        Command::Soak {
            cases,
            from,
            threads,
            failures,
            quiet,
        } => soak_command(cases, from, threads, &failures, quiet),
        Command::Validate { file, verbose } => match secsim::scenario::load::validate_path_with(&file, verbose) {
            Ok(summary) => {
                println!("{summary}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("secsim: error: {e}");
                ExitCode::from(2)
            }
        },
        Command::Schema { out, kind } => schema_command(out, kind),
        Command::Example { kind, list } => example_command(kind.as_deref(), list),
        Command::Bench(which) => {
            let result = match which {
                BenchCommand::N32(args) => secsim::bench::n32::run(&args),
                BenchCommand::Capif(args) => secsim::bench::capif::run(&args),
                BenchCommand::Scale(args) => secsim::bench::scale::run(&args),
                BenchCommand::Phold(args) => secsim::bench::phold::run(&args),
            };
            match result {
                Ok(text) => {
                    print!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("secsim: error: {e}");
                    ExitCode::from(2)
                }
            }
        }
    }
}

/// Reports the seeds that stopped before the experiment's end on stderr and in the summary
/// line; exit status [`secsim::run::EXIT_STOPPED_EARLY`] if there are any (their results,
/// censored at the stop, are written all the same).
fn stopped_early(lines: &[String]) -> ExitCode {
    if lines.is_empty() {
        return ExitCode::SUCCESS;
    }
    for l in lines {
        eprintln!("secsim: warning: {l}");
    }
    println!(
        "secsim: {} run(s) stopped early, their results are censored at the stop (exit status {})",
        lines.len(),
        secsim::run::EXIT_STOPPED_EARLY
    );
    ExitCode::from(secsim::run::EXIT_STOPPED_EARLY)
}

fn schema_command(out: Option<PathBuf>, kind: Option<SchemaKindArg>) -> ExitCode {
    use secsim::scenario::json_schema::{SchemaKind, json_schema_text};
    if let Some(k) = kind {
        let k = match k {
            SchemaKindArg::Experiment => SchemaKind::Experiment,
            SchemaKindArg::Topology => SchemaKind::Topology,
        };
        print!("{}", json_schema_text(k));
        return ExitCode::SUCCESS;
    }
    let dir = out.unwrap_or_else(|| PathBuf::from("."));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("secsim: error: {}: {e}", dir.display());
        return ExitCode::from(1);
    }
    for k in SchemaKind::ALL {
        let path = dir.join(k.file_name());
        if let Err(e) = std::fs::write(&path, json_schema_text(k)) {
            eprintln!("secsim: error: {}: {e}", path.display());
            return ExitCode::from(1);
        }
        println!("{}", path.display());
    }
    ExitCode::SUCCESS
}

fn example_command(kind: Option<&str>, list: bool) -> ExitCode {
    use secsim::scenario::examples;
    if list {
        for e in examples::EXAMPLES {
            println!("{:<20} {}", e.kind, e.summary);
        }
        return ExitCode::SUCCESS;
    }
    let Some(kind) = kind else {
        eprintln!("secsim: error: give an example kind or --list");
        return ExitCode::from(2);
    };
    match examples::example(kind) {
        Some(e) => {
            print!("{}", e.text);
            ExitCode::SUCCESS
        }
        None => {
            let kinds: Vec<&str> = examples::EXAMPLES.iter().map(|e| e.kind).collect();
            let hint = secsim::scenario::validate::suggest(kind, kinds.iter().copied())
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            eprintln!(
                "secsim: error: unknown example kind `{kind}`{hint}; kinds: {}",
                kinds.join(", ")
            );
            ExitCode::from(2)
        }
    }
}

fn bar(total: u64, quiet: bool, what: &str) -> indicatif::ProgressBar {
    if quiet {
        return indicatif::ProgressBar::hidden();
    }
    let b = indicatif::ProgressBar::new(total);
    b.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {elapsed_precise} eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    b.set_message(what.to_string());
    b
}

fn check_command(
    experiment: Option<PathBuf>,
    seeds: Option<u64>,
    threads: Option<usize>,
    trace: Vec<PathBuf>,
    list: bool,
    quiet: bool,
) -> ExitCode {
    use secsim::check::runner;
    if list {
        for inv in secsim::check::all_invariants() {
            println!("{:<40} {}\n{:<40} ({})", inv.id, inv.statement, "", inv.clause);
        }
        return ExitCode::SUCCESS;
    }
    let results = if !trace.is_empty() {
        let mut v = Vec::new();
        for t in &trace {
            match runner::check_trace(t) {
                Ok(r) => v.push(r),
                Err(e) => {
                    eprintln!("secsim: error: {e}");
                    return ExitCode::from(2);
                }
            }
        }
        v
    } else {
        let Some(experiment) = experiment else {
            eprintln!("secsim: error: give an experiment file or --trace FILE");
            return ExitCode::from(2);
        };
        let b = std::sync::Mutex::new(None::<indicatif::ProgressBar>);
        let opts = runner::CheckOptions { seeds, threads };
        let r = runner::check_experiment(&experiment, &opts, &|done, total| {
            if let Ok(mut g) = b.lock() {
                let bar = g.get_or_insert_with(|| bar(total, quiet, "checking"));
                bar.set_position(done);
            }
        });
        if let Ok(mut g) = b.lock()
            && let Some(bar) = g.take()
        {
            bar.finish_and_clear();
        }
        match r {
            Ok(v) => v,
            Err(e) => {
                eprintln!("secsim: error: {e}");
                return ExitCode::from(e.exit_code() as u8);
            }
        }
    };
    let mut checked: std::collections::BTreeMap<&str, u64> = Default::default();
    let (mut passed, mut failed) = (0u64, 0u64);
    for r in &results {
        for (k, v) in &r.report.checked {
            *checked.entry(k).or_default() += v;
        }
        let point = if r.point.is_empty() {
            String::new()
        } else {
            format!("[{}] ", r.point)
        };
        if r.passed() {
            passed += 1;
            continue;
        }
        failed += 1;
        if let Some(e) = &r.error {
            println!("FAIL {point}seed {}: {e}", r.report.seed);
            continue;
        }
        println!(
            "FAIL {point}seed {}: {} violation(s)",
            r.report.seed,
            r.report.violations.len()
        );
        for v in r.report.violations.iter().take(10) {
            println!("  {v}");
        }
        if r.report.violations.len() > 10 {
            println!("  ... and {} more", r.report.violations.len() - 10);
        }
    }
    if !quiet {
        println!("{:<40} {:>12}  clause", "invariant", "judgements");
        for inv in secsim::check::all_invariants() {
            println!(
                "{:<40} {:>12}  {}",
                inv.id,
                checked.get(inv.id).copied().unwrap_or(0),
                inv.clause
            );
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn soak_command(cases: u64, from: u64, threads: Option<usize>, failures: &std::path::Path, quiet: bool) -> ExitCode {
    if from.checked_add(cases - 1).is_none() {
        eprintln!("secsim: error: --from {from} --cases {cases}: the last case seed would be beyond 2^64 - 1");
        return ExitCode::from(2);
    }
    let b = bar(cases, quiet, "soak");
    let start = std::time::Instant::now();
    let r = secsim::check::runner::soak(from, cases, threads, Some(failures), &|done, _, failed| {
        b.set_position(done);
        if failed > 0 {
            b.set_message(format!("soak ({failed} failed)"));
        }
    });
    b.finish_and_clear();
    match r {
        Ok(s) => {
            for f in &s.failures {
                println!("FAIL case seed {} ({:?}):\n{}", f.case.seed, f.case.shape, f.message);
                if let Some(d) = &f.dir {
                    println!("  reproduce: secsim check {}", d.join("experiment.ron").display());
                }
            }
            if !quiet {
                println!("{:<40} {:>14}", "invariant", "judgements");
                for inv in secsim::check::all_invariants() {
                    println!("{:<40} {:>14}", inv.id, s.checked.get(inv.id).copied().unwrap_or(0));
                }
                println!(
                    "cases {from}..{}: {} engine events in {:.1} s",
                    from + cases - 1,
                    s.events,
                    start.elapsed().as_secs_f64()
                );
            }
            println!("{} passed, {} failed", s.passed, s.failures.len());
            if s.failures.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("secsim: error: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

/// `--seeds N`: 1 to `MAX_SEEDS` (0 left the seed list empty and panicked).
fn seed_count() -> clap::builder::RangedU64ValueParser<u64> {
    clap::value_parser!(u64).range(1..=secsim::scenario::validate::MAX_SEEDS)
}

/// `I/N` with I < N.
fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let (i, n) = s.split_once('/').ok_or("expected I/N, e.g. 0/3")?;
    let i: usize = i.trim().parse().map_err(|_| format!("`{i}` is not a shard index"))?;
    let n: usize = n.trim().parse().map_err(|_| format!("`{n}` is not a shard count"))?;
    if n == 0 || i >= n {
        return Err(format!("shard {i}/{n}: need 0 <= I < N"));
    }
    Ok((i, n))
}
