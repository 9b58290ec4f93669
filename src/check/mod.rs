//! The invariant checker: the safety and liveness properties each protocol must keep, judged
//! from a run's audit trail ([`audit`]).
//!
//! ```text
//!  run (audit on) ──(time, AuditEvent)──► Checker::observe ─┬─ n32::N32Checker
//!  trace.jsonl ─── parse_trace_line ──────┘                 ├─ capif::CapifChecker
//!                                                           └─ liveness
//!                                          Checker::finish ──► Report { violations, checked }
//! ```
//!
//! Every invariant is an [`Invariant`] with an id (`n32.capability-in-both-lists`), the spec
//! clause it comes from and a one-line statement; [`all_invariants`] lists them (the README's
//! table and `secsim check --list` print it). A [`Violation`] names the invariant, the seed,
//! the event (its number in the trail, its time and its JSON) and what was wrong.
//!
//! `secsim check <experiment.ron> --seeds N` runs seeds with the audit on and checks each;
//! `secsim check --trace trace.jsonl` checks a written trace. [`random`] generates random
//! scenarios (topologies, knobs, faults) for the property tests and the soak tier.

pub mod capif;
pub mod liveness;
pub mod n32;
pub mod random;
pub mod runner;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

pub use crate::audit::{self as audit, Audit, AuditEvent, ProcAudit, RunAudit, mutant};

use crate::engine::SimTime;
use crate::scenario::Scenario;

/// One property a protocol must keep.
#[derive(Debug, Eq, PartialEq)]
pub struct Invariant {
    /// Stable id, `<protocol>.<name>`.
    pub id: &'static str,
    /// The spec clause it comes from.
    pub clause: &'static str,
    /// What must hold, one line.
    pub statement: &'static str,
}

/// Every invariant the checker judges, in report order.
pub fn all_invariants() -> Vec<&'static Invariant> {
    n32::INVARIANTS
        .iter()
        .chain(capif::INVARIANTS)
        .chain(liveness::INVARIANTS)
        .copied()
        .collect()
}

/// Where in the trail an event sits.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct EventRef {
    /// Its number in the audit trail, from 1.
    pub seq: u64,
    pub at: SimTime,
}

/// A broken invariant.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Violation {
    pub invariant: &'static Invariant,
    pub seed: u64,
    pub event: EventRef,
    /// The offending event, as JSON.
    pub event_json: String,
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invariant `{}` ({}) violated: seed {}, audit event #{} at {}: {}\n    event: {}",
            self.invariant.id,
            self.invariant.clause,
            self.seed,
            self.event.seq,
            self.event.at,
            self.detail,
            self.event_json
        )
    }
}

/// What the protocol checkers report to.
pub struct Sink<'a> {
    seed: u64,
    current: EventRef,
    event: Option<&'a AuditEvent>,
    violations: &'a mut Vec<Violation>,
    checked: &'a mut BTreeMap<&'static str, u64>,
}

impl Sink<'_> {
    /// The event being observed (at `finish`, the end of the run with seq 0).
    pub fn current(&self) -> EventRef {
        self.current
    }
    /// Counts one judgement of `inv` that held (the report shows that checks were not vacuous).
    pub fn pass(&mut self, inv: &'static Invariant) {
        *self.checked.entry(inv.id).or_default() += 1;
    }
    /// Reports a violation of `inv` by the event being observed.
    pub fn violate(&mut self, inv: &'static Invariant, detail: impl Into<String>) {
        let json = self
            .event
            .map(|e| serde_json::to_string(e).unwrap_or_default())
            .unwrap_or_default();
        self.violate_at(inv, self.current, json, detail);
    }
    /// Reports a violation of `inv` by an earlier event (`event_json` describes it).
    pub fn violate_at(&mut self, inv: &'static Invariant, at: EventRef, event_json: String, detail: impl Into<String>) {
        *self.checked.entry(inv.id).or_default() += 1;
        self.violations.push(Violation {
            invariant: inv,
            seed: self.seed,
            event: at,
            event_json,
            detail: detail.into(),
        });
    }
}

/// The verdict on one run.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub seed: u64,
    /// Audit events read.
    pub events: u64,
    pub violations: Vec<Violation>,
    /// Judgements made per invariant id (held or not).
    pub checked: BTreeMap<&'static str, u64>,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Judges one run's audit trail, event by event.
pub struct Checker {
    seed: u64,
    seq: u64,
    run: Option<RunAudit>,
    n32: n32::N32Checker,
    capif: capif::CapifChecker,
    live: liveness::Liveness,
    violations: Vec<Violation>,
    checked: BTreeMap<&'static str, u64>,
}

impl Checker {
    /// A checker for the run with `seed` (a `Run` event in the trail overrides it).
    pub fn new(seed: u64) -> Self {
        Checker {
            seed,
            seq: 0,
            run: None,
            n32: Default::default(),
            capif: Default::default(),
            live: Default::default(),
            violations: Vec::new(),
            checked: BTreeMap::new(),
        }
    }

    /// Judges one event.
    pub fn observe(&mut self, at: SimTime, ev: &AuditEvent) {
        self.seq += 1;
        if let AuditEvent::Run(r) = ev {
            self.seed = r.seed;
            self.run = Some(r.clone());
            self.live.set_heal(r.heal_ns.map(SimTime::from_nanos));
            self.capif.set_heal(r.heal_ns.map(SimTime::from_nanos));
        }
        let mut sink = Sink {
            seed: self.seed,
            current: EventRef { seq: self.seq, at },
            event: Some(ev),
            violations: &mut self.violations,
            checked: &mut self.checked,
        };
        match ev {
            AuditEvent::Run(_) => {}
            AuditEvent::Proc(p) => {
                self.capif.observe_proc(at, p, &mut sink);
                self.live.observe(at, p, &mut sink)
            }
            AuditEvent::N32(e) => self.n32.observe(at, e, &mut sink),
            AuditEvent::Capif(e) => self.capif.observe(at, e, &mut sink),
        }
    }

    /// Judges what is still open when the run ended at `end`, and reports.
    pub fn finish(mut self, end: SimTime) -> Report {
        let mut sink = Sink {
            seed: self.seed,
            current: EventRef { seq: 0, at: end },
            event: None,
            violations: &mut self.violations,
            checked: &mut self.checked,
        };
        self.n32.finish(end, &mut sink);
        self.capif.finish(end, &mut sink);
        let heal = self.run.as_ref().and_then(|r| r.heal_ns).map(SimTime::from_nanos);
        self.live.finish(end, heal, &mut sink);
        Report {
            seed: self.seed,
            events: self.seq,
            violations: self.violations,
            checked: self.checked,
        }
    }
}

/// Checks a list of audit events.
pub fn check_events(seed: u64, end: SimTime, events: &[(SimTime, AuditEvent)]) -> Report {
    let mut c = Checker::new(seed);
    for (t, e) in events {
        c.observe(*t, e);
    }
    c.finish(end)
}

/// Checks a trace file (`trace.jsonl`, from `secsim run --trace`): its audit lines, in order.
/// A trace starts with the run's header (the `Run` audit line) and ends with its end line
/// ([`audit::trace_end_line`]); a file without the header is not a trace, one without the
/// end line (or cut off inside a line) is truncated, and both are errors, not verdicts. The
/// run's end for liveness is the header's, or the end line's time if the run stopped early.
pub fn check_trace_file(path: &Path) -> Result<Report, String> {
    use std::io::BufRead;
    let at = |i: usize| format!("{}:{}", path.display(), i + 1);
    let f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut c = Checker::new(0);
    let mut run_end = None;
    let mut last = None;
    let mut lines = 0;
    for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line.map_err(|e| format!("{}: {e}", at(i)))?;
        lines = i + 1;
        if let Some(stop) = audit::parse_trace_end(&line) {
            last = Some((i, line, stop));
            continue;
        }
        if let Some((j, ..)) = &last {
            return Err(format!("{}: a line after the trace's end line (line {})", at(i), j + 1));
        }
        let parsed = audit::parse_trace_line(&line);
        if i == 0 {
            match &parsed {
                Ok(Some((_, AuditEvent::Run(r)))) => run_end = Some(SimTime::from_nanos(r.end_ns)),
                _ => {
                    return Err(format!(
                        "{}: not a secsim trace: it must start with the run's header line \
                         ({{\"time_ns\":0,\"audit\":{{\"Run\":...}}}}, written by `secsim run --trace`)",
                        at(i)
                    ));
                }
            }
        }
        match parsed {
            Ok(Some((t, ev))) => c.observe(t, &ev),
            Ok(None) => {}
            Err(e) => return Err(format!("{}: {e} (a truncated trace?)", at(i))),
        }
    }
    if lines == 0 {
        return Err(format!("{}: empty file: not a secsim trace", path.display()));
    }
    let Some((i, line, stop)) = last else {
        return Err(format!(
            "{}: truncated trace: no end line after line {lines} (the run was cut off, or the file is incomplete)",
            path.display()
        ));
    };
    let early = stop
        .parse::<crate::engine::StopReason>()
        .map_err(|e| format!("{}: the end line's stop: {e} (a trace of another secsim?)", at(i)))?
        .is_early();
    let end_time = serde_json::from_str::<serde_json::Value>(&line)
        .ok()
        .and_then(|v| v["time_ns"].as_u64())
        .map(SimTime::from_nanos)
        .ok_or_else(|| format!("{}: the end line has no time_ns", at(i)))?;
    let end = if early { end_time } else { run_end.unwrap_or(end_time) };
    Ok(c.finish(end))
}

/// Runs one seed of a scenario with the audit on, and checks its trail. The run's end for
/// liveness is the experiment's duration, or where an event limit stopped it.
pub fn check_seed(scn: &Scenario, seed: u64) -> Result<(crate::run::SeedResult, Report), crate::world::BuildError> {
    let (res, trail) = crate::run::run_seed_audited(scn, seed, None, true, &|_| {})?;
    let end = if res.stop.is_early() {
        res.sim_end
    } else {
        SimTime::ZERO + scn.experiment.duration
    };
    let report = check_events(seed, end, &trail);
    Ok((res, report))
}
