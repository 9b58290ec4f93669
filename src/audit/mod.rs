//! The audit trail: protocol-level facts the world's planes emit while a run goes on, for the
//! invariant checker (`crate::check::Checker`). A leaf module: the planes that emit facts and
//! the checker that judges them both depend on it, it depends on the engine (and the protocol
//! types the facts name) only.
//!
//! An [`AuditEvent`] states what an actor *did* (sent this offer, selected that capability,
//! derived a key with this fingerprint, accepted this message), never what the checker
//! should conclude: the invariants are judged by the checker from those facts, so a protocol
//! machine that misbehaves cannot vouch for itself.
//!
//! Events go to two places, each optional: the run's trace (`trace.jsonl`, one line
//! `{"time_ns":…,"audit":…}` among the packet lines, hashed with them) and an in-memory log the
//! checker reads directly ([`Audit::enable`]). With both off, emitting costs one branch.

use serde::{Deserialize, Serialize};

use crate::engine::{Ctx, SimTime};

pub mod capif;
pub mod label;
pub mod mutant;
pub mod n32;

/// One audited fact.
#[derive(Clone, Debug, Deserialize, PartialEq, Serialize)]
pub enum AuditEvent {
    /// The run itself: written first, so that a trace file alone can be checked.
    Run(RunAudit),
    /// A procedure that liveness judges began or ended.
    Proc(ProcAudit),
    /// N32-c / N32-f facts.
    N32(n32::N32Audit),
    /// CAPIF facts.
    Capif(capif::CapifAudit),
}

/// What the checker needs to know of the run as a whole.
#[derive(Clone, Debug, Deserialize, PartialEq, Serialize)]
pub struct RunAudit {
    pub seed: u64,
    /// The end of the simulated run \[ns\].
    pub end_ns: u64,
    /// When the last scheduled fault stops \[ns\] (see `Scenario::heal_time`); `None`: some
    /// fault never stops, so liveness is not judged.
    pub heal_ns: Option<u64>,
}

/// A procedure liveness judges: every `Begin` must be followed by an `End` with the same
/// `kind` and `key` within `bound_ns` of the later of its begin and the healing time.
#[derive(Clone, Debug, Deserialize, PartialEq, Serialize)]
pub enum ProcAudit {
    Begin {
        /// e.g. `n32_request`, `capif_invocation`.
        kind: String,
        /// Unique per kind within a run.
        key: u64,
        /// The node that owns it (the initiator).
        node: String,
        /// How long it may take once nothing disturbs it \[ns\] (its own timeouts and retries).
        bound_ns: u64,
    },
    End {
        kind: String,
        key: u64,
        /// The outcome as recorded (`ok`, `timeout`, `rejected`, …).
        outcome: String,
    },
}

impl AuditEvent {
    /// The fact with the connection and stream of the request it is about filled in (the
    /// facts that name one; others unchanged).
    pub fn at_stream(mut self, at_conn: u64, at_stream: u32) -> AuditEvent {
        if let AuditEvent::N32(n32::N32Audit::CapabilityOffered { conn, stream, .. }) = &mut self {
            (*conn, *stream) = (at_conn, at_stream);
        }
        self
    }
}

impl From<ProcAudit> for AuditEvent {
    fn from(p: ProcAudit) -> Self {
        AuditEvent::Proc(p)
    }
}
impl From<n32::N32Audit> for AuditEvent {
    fn from(e: n32::N32Audit) -> Self {
        AuditEvent::N32(e)
    }
}
impl From<capif::CapifAudit> for AuditEvent {
    fn from(e: capif::CapifAudit) -> Self {
        AuditEvent::Capif(e)
    }
}

/// The trace line of an audit event.
pub fn trace_line(at: SimTime, ev: &AuditEvent) -> String {
    serde_json::json!({ "time_ns": at.as_nanos(), "audit": ev }).to_string()
}

/// The last line of a trace file: the run's end (events delivered, why it stopped). It is
/// written after the trace hash is taken, so the hash covers the lines before it.
pub fn trace_end_line(at: SimTime, events: u64, stop: &str) -> String {
    serde_json::json!({ "time_ns": at.as_nanos(), "end": { "events": events, "stop": stop } }).to_string()
}

/// Whether `line` is a trace's end line ([`trace_end_line`]): `Some(stop)` if it is.
pub fn parse_trace_end(line: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct End {
        stop: String,
    }
    #[derive(Deserialize)]
    struct Line {
        #[allow(dead_code)]
        time_ns: u64,
        end: End,
    }
    if !line.contains("\"end\"") {
        return None;
    }
    serde_json::from_str::<Line>(line).ok().map(|l| l.end.stop)
}

/// Parses a trace line; `Ok(None)` for a line that is not an audit line (a packet line).
pub fn parse_trace_line(line: &str) -> Result<Option<(SimTime, AuditEvent)>, String> {
    if !line.contains("\"audit\"") {
        return Ok(None);
    }
    #[derive(Deserialize)]
    struct Line {
        time_ns: u64,
        audit: Option<AuditEvent>,
    }
    let l: Line = serde_json::from_str(line).map_err(|e| e.to_string())?;
    Ok(l.audit.map(|a| (SimTime::from_nanos(l.time_ns), a)))
}

/// A plane's audit emitter.
#[derive(Debug, Default)]
pub struct Audit {
    on: bool,
    events: Vec<(SimTime, AuditEvent)>,
}

impl Audit {
    /// Keeps emitted events in memory (for [`Audit::take`]).
    pub fn enable(&mut self) {
        self.on = true;
    }

    /// Whether an event emitted now goes anywhere: build events only then.
    #[inline(always)]
    pub fn active<M>(&self, ctx: &Ctx<'_, M>) -> bool {
        self.on || ctx.tracing()
    }

    /// Emits one event at the current time.
    pub fn emit<M>(&mut self, ctx: &mut Ctx<'_, M>, ev: impl Into<AuditEvent>) {
        if !self.active(ctx) {
            return;
        }
        let ev = ev.into();
        if ctx.tracing() {
            ctx.trace(&trace_line(ctx.now(), &ev));
        }
        if self.on {
            self.events.push((ctx.now(), ev));
        }
    }

    /// Emits the event `f` builds, building it only if it goes anywhere.
    #[inline]
    pub fn emit_with<M, E: Into<AuditEvent>>(&mut self, ctx: &mut Ctx<'_, M>, f: impl FnOnce() -> E) {
        if self.active(ctx) {
            self.emit(ctx, f());
        }
    }

    /// The events kept so far, in emission order.
    pub fn take(&mut self) -> Vec<(SimTime, AuditEvent)> {
        std::mem::take(&mut self.events)
    }
}
