//! Liveness after healing: once the scheduled faults stop, every pending procedure ends within
//! its bound.
//!
//! A procedure is what a plane announces with [`ProcAudit::Begin`] (kind, key, owner and
//! bound: its own timeouts and retries) and closes with [`ProcAudit::End`]. Its deadline is
//! `max(begin, heal) + bound + GRACE`; it is judged only if the run went on past that
//! deadline (a procedure begun just before the end is not late). A procedure that ends after
//! its deadline breaks the invariant too. "Ends" means any recorded
//! outcome, errors included: a persistent fault (an RI that refuses, an attacker that
//! tampers) must yield a definite error, never a hang.

use std::collections::BTreeMap;

use super::{EventRef, Invariant, ProcAudit, Sink};
use crate::engine::{SimDuration, SimTime};

/// Slack added to every bound: scheduling of the final events (retransmissions, close).
pub const GRACE: SimDuration = SimDuration::from_millis(100);

pub const LIVENESS_AFTER_HEALING: Invariant = Invariant {
    id: "liveness.after-healing",
    clause: "TS 29.500 cl. 6.3 (request timeouts); TS 33.122 cl. 6.5.2.1; issue 7",
    statement: "once faults stop, every pending procedure ends (ok or a definite error) within its bound",
};

pub const END_MATCHES_BEGIN: Invariant = Invariant {
    id: "liveness.end-matches-begin",
    clause: "issue 7 (audit trail well-formed)",
    statement: "a procedure ends once, and only after it began",
};

/// The liveness invariants.
pub const INVARIANTS: &[&Invariant] = &[&LIVENESS_AFTER_HEALING, &END_MATCHES_BEGIN];

#[derive(Debug)]
struct Open {
    begin: EventRef,
    node: String,
    bound: SimDuration,
}

/// Open procedures.
#[derive(Debug, Default)]
pub struct Liveness {
    open: BTreeMap<(String, u64), Open>,
    heal: Option<SimTime>,
}

impl Liveness {
    /// Sets the healing time (from the trail's `Run` event).
    pub fn set_heal(&mut self, heal: Option<SimTime>) {
        self.heal = heal;
    }

    pub fn observe(&mut self, at: SimTime, ev: &ProcAudit, sink: &mut Sink<'_>) {
        match ev {
            ProcAudit::Begin {
                kind,
                key,
                node,
                bound_ns,
            } => {
                let open = Open {
                    begin: sink.current(),
                    node: node.clone(),
                    bound: SimDuration::from_nanos(*bound_ns),
                };
                if self.open.insert((kind.clone(), *key), open).is_some() {
                    sink.violate(&END_MATCHES_BEGIN, format!("{kind} {key} began twice"));
                }
            }
            ProcAudit::End { kind, key, outcome } => match self.open.remove(&(kind.clone(), *key)) {
                Some(o) => {
                    sink.pass(&END_MATCHES_BEGIN);
                    // Judged only with a healing time (see `finish`).
                    if let Some(heal) = self.heal {
                        let deadline = o.begin.at.max(heal) + o.bound + GRACE;
                        if at > deadline {
                            sink.violate(
                                &LIVENESS_AFTER_HEALING,
                                format!(
                                    "{kind} {key} of {} begun at {} ended ({outcome}) at {at}, after its deadline \
                                     {deadline} (healed at {heal}, bound {})",
                                    o.node, o.begin.at, o.bound
                                ),
                            );
                        } else {
                            sink.pass(&LIVENESS_AFTER_HEALING);
                        }
                    }
                }
                None => sink.violate(&END_MATCHES_BEGIN, format!("{kind} {key} ended but was not open")),
            },
        }
    }

    /// Procedures still open at `end` whose deadline passed. Without a healing time (a fault
    /// that never stops) nothing is judged.
    pub fn finish(&mut self, end: SimTime, heal: Option<SimTime>, sink: &mut Sink<'_>) {
        let Some(heal) = heal else { return };
        for ((kind, key), o) in std::mem::take(&mut self.open) {
            let deadline = o.begin.at.max(heal) + o.bound + GRACE;
            if deadline > end {
                continue;
            }
            sink.violate_at(
                &LIVENESS_AFTER_HEALING,
                o.begin,
                format!(
                    r#"{{"Proc":{{"Begin":{{"kind":"{kind}","key":{key},"node":"{}"}}}}}}"#,
                    o.node
                ),
                format!(
                    "{kind} {key} of {} begun at {} still pending at the end ({end}); deadline {deadline} \
                     (healed at {heal}, bound {})",
                    o.node, o.begin.at, o.bound
                ),
            );
        }
    }
}
