//! Fuzz target `ron_loaders`: everything a user's RON file goes through, up to building the
//! world. The input (UTF-8, or lossily converted) is used as:
//!
//! - an experiment, loaded with [`load_experiment_source`] on each of three fixed shipped
//!   topologies (HTTP, CAPIF, N32 with two RIs), then its sweep expanded
//!   ([`secsim::sweep::expand_sources`]) and the world built ([`secsim::build::world`]);
//! - a topology (plain or `TopologyGenerator(`), under each of the three fixed shipped
//!   experiments: [`load_experiment_source`] with the input as the topology source, then the
//!   world built;
//! - [`parse_topology_str`], [`parse_generator_str`] (generator check and expansion),
//!   [`parse_experiment_str`], [`file_kind`], the source outline ([`Outline::parse`]) and a
//!   sweep substitution ([`secsim::sweep::substitute`]);
//! - a duration ([`SimDuration::parse`], [`secsim::metrics::sequence::parse_until`]: the
//!   `--until` flag).
//!
//! Every call must return `Ok` or `Err`, never panic; an error must name a file, have a
//! message and, when it has a position, point inside the file it names.
//!
//! The world is built only for scenarios of at most [`MAX_BUILD_NODES`] nodes, bodies of at
//! most [`MAX_BUILD_BODY`] bytes and sweeps of at most [`MAX_SWEEP_POINTS`] points, so that one
//! execution stays fast; the loaders themselves (and the limits they enforce) see every input.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use secsim::engine::SimDuration;
use secsim::scenario::locate::Outline;
use secsim::scenario::{
    Scenario, ScenarioError, file_kind, load_experiment_source, parse_experiment_str, parse_topology_str,
};
use secsim::world::SimWorld;

/// (experiment path, experiment source, topology source): shipped files.
const PAIRS: [(&str, &str, &str); 3] = [
    (
        "experiments/http-baseline.ron",
        include_str!("../../experiments/http-baseline.ron"),
        include_str!("../../topologies/two-domain-proxy.ron"),
    ),
    (
        "experiments/capif-single.ron",
        include_str!("../../experiments/capif-single.ron"),
        include_str!("../../topologies/capif-single.ron"),
    ),
    (
        "experiments/n32-prins-two-ri.ron",
        include_str!("../../experiments/n32-prins-two-ri.ron"),
        include_str!("../../topologies/two-plmn-two-ri.ron"),
    ),
];

const MAX_BUILD_NODES: usize = 64;
const MAX_BUILD_BODY: u32 = 1 << 20;
const MAX_SWEEP_POINTS: usize = 8;

/// An error must name a file and say something; its position must be inside `src` (the
/// source of the file it names) or at its very end.
fn check_error(e: &ScenarioError, sources: &[(&Path, &str)]) {
    assert!(!e.message.is_empty(), "empty message: {e:?}");
    assert!(!e.path.as_os_str().is_empty(), "no file: {e:?}");
    let shown = e.to_string();
    assert!(shown.contains(&*e.path.to_string_lossy()), "{shown}");
    let (Some(line), Some(col)) = (e.line, e.column) else {
        return;
    };
    let Some((_, src)) = sources.iter().find(|(p, _)| *p == e.path.as_path()) else {
        return;
    };
    let lines: Vec<&str> = src.split('\n').collect();
    let (line, col) = (line as usize, col as usize);
    assert!(line >= 1 && line <= lines.len(), "line {line} of {}: {e}", lines.len());
    let width = lines[line - 1].chars().count();
    assert!(col >= 1 && col <= width + 1, "column {col} of {}: {e}", width + 1);
}

/// Builds the world of a loaded scenario when it is small enough (see the module doc).
fn build(s: &Scenario) {
    if s.topology.nodes.len() > MAX_BUILD_NODES {
        return;
    }
    let bodies = s.experiment.workload.iter().all(|w| {
        let v = w.view();
        v.request_bytes <= MAX_BUILD_BODY && v.response_bytes <= MAX_BUILD_BODY
    });
    if !bodies {
        return;
    }
    let seed = s
        .experiment
        .seeds
        .as_ref()
        .and_then(|v| v.first().copied())
        .unwrap_or(1);
    let _ = secsim::build::world(&s.topology, &s.experiment, seed).map_err(|e| e.to_string());
}

/// Expands a loaded experiment's sweep (small sweeps only) and builds each point's world.
fn sweep(path: &Path, s: &Scenario, esrc: &str, tsrc: &str) {
    let points = s
        .experiment
        .sweep
        .iter()
        .try_fold(1usize, |n, a| n.checked_mul(a.values.len()))
        .unwrap_or(usize::MAX);
    if s.experiment.sweep.is_empty() || points > MAX_SWEEP_POINTS {
        return;
    }
    match secsim::sweep::expand_sources(path, esrc, tsrc) {
        Ok(points) => {
            for p in &points {
                build(&p.scenario);
            }
        }
        Err(e) => assert!(!e.message.is_empty()),
    }
}

fuzz_target!(|data: &[u8]| {
    let src = String::from_utf8_lossy(data);
    let src: &str = &src;
    let fuzz = Path::new("fuzz/input.ron");

    // On its own.
    let _ = file_kind(src);
    let outline = Outline::parse(src);
    if let Some(e) = outline.entries().first() {
        let _ = outline.line_col(e.value.end);
        let _ = secsim::sweep::substitute(src, &e.key_path, "1");
    }
    if let Err(e) = parse_topology_str(src, fuzz) {
        check_error(&e, &[(fuzz, src)]);
    }
    if let Err(e) = secsim::scenario::load::parse_generator_str(src, fuzz) {
        check_error(&e, &[(fuzz, src)]);
    }
    if let Err(e) = parse_experiment_str(src, fuzz) {
        check_error(&e, &[(fuzz, src)]);
    }
    if src.len() < 64 {
        let _ = SimDuration::parse(src);
        let _ = secsim::metrics::sequence::parse_until(src);
    }

    for (epath, esrc, tsrc) in PAIRS {
        let epath = Path::new(epath);
        // The input as the experiment, on a shipped topology (which is valid: errors are in
        // the experiment).
        match load_experiment_source(src, epath, Some(tsrc)) {
            Ok(s) => {
                let _ = secsim::scenario::validate::summarize_scenario(&s);
                build(&s);
                sweep(epath, &s, src, tsrc);
            }
            Err(e) => check_error(&e, &[(epath, src)]),
        }
        // The input as the topology of a shipped experiment.
        match load_experiment_source(esrc, epath, Some(src)) {
            Ok(s) => {
                let _ = secsim::scenario::validate::summarize_scenario(&s);
                build(&s);
            }
            Err(e) => {
                // Errors in the topology name the path the experiment gives for it.
                let tpath = epath.parent().unwrap_or(Path::new(".")).join(
                    parse_experiment_str(esrc, epath)
                        .map(|x| x.topology)
                        .unwrap_or_default(),
                );
                check_error(&e, &[(epath, esrc), (tpath.as_path(), src)]);
            }
        }
    }
});
