//! N32 invariants (TS 29.573, TS 33.501 cl. 13): the audited facts of the N32 plane and the
//! checker that judges them.
//!
//! ```text
//!  c-SEPP                     RI                       p-SEPP
//!  CapabilityOffered ───────────────────────────────► CapabilitySelected   capability-in-both-lists
//!  Established, ContextInstalled ◄──────────────────► ContextInstalled     prins-contexts-match
//!                             ConnectRefused                               refused-connect-no-context
//!  MessageSent [FaultInjected] ──────────────────────► MessageReceived
//!                                                      MessageVerified      f-verified-before-accept
//!                                                      MessageAccepted | ErrorReported
//!                                                                           fault-reported-once
//!  ResponseReceived ◄───────────────────────────────── ResponseSent
//!  ResponseVerified, ResponseAccepted                                       f-verified-before-accept
//!  ContextTerminated                                   ContextTerminated    terminated-not-used
//! ```
//!
//! Every [`N32Audit`] states what one actor did, as the world saw it happen: the list a c-SEPP
//! put in its `exchange-capability`, the list a p-SEPP supports and what its 200 answer
//! selected, a fingerprint of the N32-f keys each SEPP installed, how many JWS a received
//! message carried on the wire and how many signature checks the receiver's JWS primitive
//! passed. The [`N32Checker`] draws the conclusions; no event says "ok".
//!
//! # Identities
//! - N32-c exchanges are matched by (connection, stream): the network uses one id pair for a
//!   request at both ends.
//! - An N32-f PRINS message is `msg`, the world's number for it, carried along its hops; it
//!   equals the metadata `messageId` the c-SEPP wrote, which a fault may change on the wire.
//! - A context is (SEPP, the id that SEPP gave its peer): the metadata of messages towards a
//!   SEPP names that SEPP's id.
//!
//! # What is judged where
//! - A fault's expected N32fErrorType is the injected fault's; a detection on a message
//!   without an injected fault calls for `CONTEXT_NOT_FOUND` when the receiver holds no live
//!   context with the id the message was sent under, and for no particular type otherwise
//!   (it must still be reported once).
//! - Accepting covers both directions: a p-SEPP delivering a request to the pNF, and a
//!   c-SEPP delivering a 2xx answer to the cNF (an error answer carries nothing to accept).
//!   Reporting covers requests only: a c-SEPP that cannot open an answer answers the cNF 502
//!   and sends no `n32f-error` (the world injects no faults into answers).
//! - "Used" is sending a PRINS request (c-SEPP), accepting one or protecting its response
//!   (p-SEPP). A response that arrives after the c-SEPP terminated its context is opened with
//!   the keys kept with its request (secsim decision, `proto::n32::node::sepp` `Pending::N32f`): opening
//!   is not a use.
//! - Each SEPP must not use a context after *it* terminated it: the peer learns of a
//!   termination only with `n32f-terminate`, and a message in flight meanwhile is no fault.

use std::collections::{BTreeMap, BTreeSet};

use super::{AuditEvent, EventRef, Invariant, Sink};
use crate::engine::SimTime;

pub use crate::audit::n32::{N32Audit, N32Mutant};

pub const CAPABILITY_IN_BOTH_LISTS: Invariant = Invariant {
    id: "n32.capability-in-both-lists",
    clause: "TS 29.573 cl. 5.2.2 step 2a; TS 33.501 cl. 13.2.2.2",
    statement: "the selected security capability is in the initiator's offered list and in the responder's \
                supported list, and the initiator establishes exactly it",
};

pub const PRINS_CONTEXTS_MATCH: Invariant = Invariant {
    id: "n32.prins-contexts-match",
    clause: "TS 29.573 cl. 5.2.3; TS 33.501 cl. 13.2.2.4, 13.2.4.4.1",
    statement: "both SEPPs hold the same N32-f context: crossed context ids, capability and key fingerprint",
};

pub const F_VERIFIED_BEFORE_ACCEPT: Invariant = Invariant {
    id: "n32.f-verified-before-accept",
    clause: "TS 33.501 cl. 13.2.4.3.2, 13.2.4.5; TS 29.573 cl. 6.2.3",
    statement: "a PRINS message (request or answer) is delivered onward only after its JWE decryption and the \
                JWS verification of every modification succeeded at the receiving SEPP for that message",
};

pub const FAULT_REPORTED_ONCE: Invariant = Invariant {
    id: "n32.fault-reported-once",
    clause: "TS 29.573 cl. 5.2.5; TS 33.501 cl. 13.2.4.6",
    statement: "every N32-f fault that reaches the receiving SEPP is reported once with n32f-error, with the \
                N32fErrorType the fault calls for",
};

pub const REFUSED_CONNECT_NO_CONTEXT: Invariant = Invariant {
    id: "n32.refused-connect-no-context",
    clause: "TS 29.573 cl. 5.2.1, 5.2.X.2 step 3 (seed 000)",
    statement: "a CONNECT refused by a Roaming Intermediary never yields an N32-c or N32-f context on that \
                connection",
};

pub const TERMINATED_NOT_USED: Invariant = Invariant {
    id: "n32.terminated-not-used",
    clause: "TS 29.573 cl. 5.2.4; TS 33.501 cl. 13.2.2.4",
    statement: "a SEPP never sends or accepts N32-f messages under a context it terminated",
};

/// The N32 invariants.
pub const INVARIANTS: &[&Invariant] = &[
    &CAPABILITY_IN_BOTH_LISTS,
    &PRINS_CONTEXTS_MATCH,
    &F_VERIFIED_BEFORE_ACCEPT,
    &FAULT_REPORTED_ONCE,
    &REFUSED_CONNECT_NO_CONTEXT,
    &TERMINATED_NOT_USED,
];

/// The `N32fErrorType` a message to an unknown context calls for.
const CONTEXT_NOT_FOUND: &str = "CONTEXT_NOT_FOUND";

/// An earlier event, for a violation judged later.
#[derive(Debug)]
struct Seen {
    at: EventRef,
    json: String,
}

impl Seen {
    fn now(sink: &Sink<'_>, ev: &N32Audit) -> Seen {
        Seen {
            at: sink.current(),
            json: serde_json::to_string(&AuditEvent::N32(ev.clone())).unwrap_or_default(),
        }
    }
}

/// One side's installed context.
#[derive(Debug)]
struct Installed {
    peer: String,
    peer_id: String,
    capability: String,
    keys: String,
}

/// A receiver's checks of one message: (decrypted, JWS verifications passed, error).
type Checks = (bool, u32, Option<String>);

/// What the receiver did with one message.
#[derive(Debug, Default)]
struct Rx {
    modifications: Option<u32>,
    verified: Option<Checks>,
}

/// A fault the receiver detected.
#[derive(Debug)]
struct Detection {
    seen: Seen,
    error: String,
    /// The type the fault calls for, if known.
    expected: Option<String>,
    reports: u32,
}

/// The N32 checker's state.
#[derive(Debug, Default)]
pub struct N32Checker {
    /// Capability offers by N32-c (connection, stream).
    offers: BTreeMap<(u64, u32), Vec<String>>,
    /// The last capability selected on each N32-c connection.
    selected: BTreeMap<u64, String>,
    /// Installed contexts by (SEPP, own id).
    installed: BTreeMap<(String, String), Installed>,
    /// Terminated contexts by (SEPP, own id): when, and whether used since.
    terminated: BTreeMap<(String, String), (Seen, bool)>,
    /// Refused CONNECTs by connection: the refusal, and whether a context followed.
    refused: BTreeMap<u64, (Seen, bool)>,
    /// Connections that carried an N32-c or N32-f context.
    with_context: BTreeSet<u64>,
    /// Each sent message's context id at the receiver.
    sent: BTreeMap<u64, String>,
    /// Injected faults: the expected type.
    faults: BTreeMap<u64, String>,
    /// Received messages by (SEPP, msg).
    rx: BTreeMap<(String, u64), Rx>,
    /// Answers received by c-SEPPs by (SEPP, msg): whether protected, and their checks.
    answers: BTreeMap<(String, u64), (bool, Option<Checks>)>,
    /// Detected faults by (SEPP, msg).
    detections: BTreeMap<(String, u64), Detection>,
}

impl N32Checker {
    /// Judges one event.
    pub fn observe(&mut self, _at: SimTime, ev: &N32Audit, sink: &mut Sink<'_>) {
        match ev {
            N32Audit::CapabilityOffered {
                conn, stream, offered, ..
            } => {
                self.offers.insert((*conn, *stream), offered.clone());
            }
            N32Audit::CapabilitySelected {
                sepp,
                peer,
                conn,
                stream,
                supported,
                selected,
            } => {
                self.context_on(*conn, sink);
                self.selected.insert(*conn, selected.clone());
                let inv = &CAPABILITY_IN_BOTH_LISTS;
                let Some(offered) = self.offers.get(&(*conn, *stream)) else {
                    sink.violate(inv, format!("{sepp} selected {selected} for {peer} without an offer"));
                    return;
                };
                //= TS 29.573 5.2.2 step 2a: a security mechanism supported by both SEPPs
                // (secsim: an offer of only NONE is a teardown, answered with NONE.)
                let teardown = selected == "NONE" && offered.iter().all(|c| c == "NONE");
                if teardown || (offered.contains(selected) && supported.contains(selected) && selected != "NONE") {
                    sink.pass(inv);
                } else {
                    sink.violate(
                        inv,
                        format!(
                            "{sepp} selected {selected}: {peer} offered {offered:?}, {sepp} supports {supported:?}"
                        ),
                    );
                }
            }
            N32Audit::Established {
                sepp,
                peer,
                conn,
                capability,
            } => {
                self.context_on(*conn, sink);
                let inv = &CAPABILITY_IN_BOTH_LISTS;
                match self.selected.get(conn) {
                    Some(s) if s == capability => sink.pass(inv),
                    other => sink.violate(
                        inv,
                        format!(
                            "{sepp} established {capability} with {peer}; the responder selected {} on \
                             connection {conn}",
                            other.map_or("nothing", String::as_str)
                        ),
                    ),
                }
            }
            N32Audit::ContextInstalled {
                sepp,
                peer,
                role,
                conn,
                local_id,
                peer_id,
                capability,
                keys,
            } => {
                self.context_on(*conn, sink);
                self.installed.insert(
                    (sepp.clone(), local_id.clone()),
                    Installed {
                        peer: peer.clone(),
                        peer_id: peer_id.clone(),
                        capability: capability.clone(),
                        keys: keys.clone(),
                    },
                );
                let inv = &PRINS_CONTEXTS_MATCH;
                match self.installed.get(&(peer.clone(), peer_id.clone())) {
                    // The responder installs first; the initiator completes the pair.
                    None if role == "responder" => {}
                    None => sink.violate(
                        inv,
                        format!("{sepp} installed context {local_id}/{peer_id}, but {peer} holds no context {peer_id}"),
                    ),
                    Some(other) => {
                        let mut diffs = Vec::new();
                        if other.peer != *sepp || other.peer_id != *local_id {
                            diffs.push(format!(
                                "ids: {sepp} has {local_id}/{peer_id}, {peer} has {peer_id}/{} for {}",
                                other.peer_id, other.peer
                            ));
                        }
                        if other.capability != *capability {
                            diffs.push(format!("capability: {capability} vs {}", other.capability));
                        }
                        if other.keys != *keys {
                            diffs.push(format!("key fingerprint: {sepp} {keys}, {peer} {}", other.keys));
                        }
                        if diffs.is_empty() {
                            sink.pass(inv);
                        } else {
                            sink.violate(
                                inv,
                                format!("context {local_id}/{peer_id} differs: {}", diffs.join("; ")),
                            );
                        }
                    }
                }
            }
            N32Audit::ContextTerminated { sepp, context_id, .. } => {
                self.terminated
                    .entry((sepp.clone(), context_id.clone()))
                    .or_insert_with(|| (Seen::now(sink, ev), false));
            }
            N32Audit::ConnectRefused { ri, conn, .. } => {
                let context = self.with_context.contains(conn);
                self.refused.insert(*conn, (Seen::now(sink, ev), context));
                if context {
                    sink.violate(
                        &REFUSED_CONNECT_NO_CONTEXT,
                        format!("{ri} refused connection {conn}, which already carries an n32 context"),
                    );
                }
            }
            N32Audit::MessageSent {
                sepp,
                msg,
                context_id,
                peer_context_id,
                ..
            } => {
                self.sent.insert(*msg, peer_context_id.clone());
                self.use_context(sepp, context_id, "sent", *msg, sink);
            }
            N32Audit::FaultInjected { msg, expected, .. } => {
                self.faults.insert(*msg, expected.clone());
            }
            N32Audit::MessageReceived {
                sepp,
                msg,
                modifications,
            } => {
                self.rx.entry((sepp.clone(), *msg)).or_default().modifications = Some(*modifications);
            }
            N32Audit::MessageVerified {
                sepp,
                msg,
                decrypted,
                jws_verified,
                error,
            } => {
                self.rx.entry((sepp.clone(), *msg)).or_default().verified =
                    Some((*decrypted, *jws_verified, error.clone()));
                if let Some(error) = error {
                    let expected = self.expected_error(sepp, *msg);
                    self.sent.remove(msg);
                    self.faults.remove(msg);
                    let d = Detection {
                        seen: Seen::now(sink, ev),
                        error: error.clone(),
                        expected,
                        reports: 0,
                    };
                    self.detections.insert((sepp.clone(), *msg), d);
                }
            }
            N32Audit::MessageAccepted { sepp, msg, context_id } => {
                self.judge_accept(sepp, *msg, sink);
                self.sent.remove(msg);
                if let Some(expected) = self.faults.remove(msg) {
                    sink.violate(
                        &FAULT_REPORTED_ONCE,
                        format!("{sepp} accepted message {msg}, which carries a fault calling for {expected}"),
                    );
                }
                self.use_context(sepp, context_id, "accepted", *msg, sink);
            }
            N32Audit::ResponseReceived {
                sepp, msg, protected, ..
            } => {
                self.answers.insert((sepp.clone(), *msg), (*protected, None));
            }
            N32Audit::ResponseVerified {
                sepp,
                msg,
                decrypted,
                jws_verified,
                error,
            } => {
                if let Some(a) = self.answers.get_mut(&(sepp.clone(), *msg)) {
                    a.1 = Some((*decrypted, *jws_verified, error.clone()));
                }
            }
            N32Audit::ResponseAccepted { sepp, msg, status } => {
                let inv = &F_VERIFIED_BEFORE_ACCEPT;
                let why = match self.answers.remove(&(sepp.clone(), *msg)) {
                    None => "without receiving it",
                    Some((false, _)) => "although it came unprotected",
                    Some((true, None)) => "without verifying it",
                    Some((true, Some((false, _, _)))) => "without decrypting its jwe",
                    Some((true, Some((true, _, Some(_))))) => "although its checks failed",
                    Some((true, Some((true, _, None)))) => {
                        sink.pass(inv);
                        return;
                    }
                };
                sink.violate(
                    inv,
                    format!("{sepp} accepted the {status} answer to message {msg} {why}"),
                );
            }
            N32Audit::ResponseSent { sepp, msg, context_id } => {
                self.use_context(sepp, context_id, "protected the answer to", *msg, sink);
            }
            N32Audit::ErrorReported {
                sepp, msg, error_type, ..
            } => {
                let inv = &FAULT_REPORTED_ONCE;
                let Some(d) = self.detections.get_mut(&(sepp.clone(), *msg)) else {
                    sink.violate(
                        inv,
                        format!("{sepp} reported {error_type} for message {msg}, which it never found faulty"),
                    );
                    return;
                };
                d.reports += 1;
                if d.reports > 1 {
                    sink.violate(inv, format!("{sepp} reported message {msg} {} times", d.reports));
                } else if *error_type != d.error {
                    sink.violate(
                        inv,
                        format!("{sepp} detected {} on message {msg} but reported {error_type}", d.error),
                    );
                } else if let Some(expected) = d.expected.as_ref().filter(|e| *e != error_type) {
                    sink.violate(
                        inv,
                        format!("{sepp} reported {error_type} for message {msg}; the fault calls for {expected}"),
                    );
                } else {
                    sink.pass(inv);
                }
            }
        }
    }

    /// Judges what is still open at the end of the run.
    pub fn finish(&mut self, _end: SimTime, sink: &mut Sink<'_>) {
        // The report is sent when the fault is detected, so none can still be on its way.
        for ((sepp, msg), d) in std::mem::take(&mut self.detections) {
            if d.reports == 0 {
                sink.violate_at(
                    &FAULT_REPORTED_ONCE,
                    d.seen.at,
                    d.seen.json,
                    format!("{sepp} detected {} on message {msg} and never reported it", d.error),
                );
            }
        }
        for (_, (_, used)) in std::mem::take(&mut self.terminated) {
            if !used {
                sink.pass(&TERMINATED_NOT_USED);
            }
        }
        for (_, (_, context)) in std::mem::take(&mut self.refused) {
            if !context {
                sink.pass(&REFUSED_CONNECT_NO_CONTEXT);
            }
        }
    }

    /// Connection `conn` carries an N32-c or N32-f context now.
    fn context_on(&mut self, conn: u64, sink: &mut Sink<'_>) {
        self.with_context.insert(conn);
        if let Some((refusal, violated)) = self.refused.get_mut(&conn)
            && !*violated
        {
            *violated = true;
            let at = refusal.at.seq;
            sink.violate(
                &REFUSED_CONNECT_NO_CONTEXT,
                format!("connection {conn}, refused by an ri (audit event #{at}), carries an n32 context"),
            );
        }
    }

    /// `sepp` uses its context `id` for message `msg`.
    fn use_context(&mut self, sepp: &str, id: &str, how: &str, msg: u64, sink: &mut Sink<'_>) {
        if let Some((t, used)) = self.terminated.get_mut(&(sepp.to_string(), id.to_string())) {
            *used = true;
            let at = t.at.seq;
            sink.violate(
                &TERMINATED_NOT_USED,
                format!("{sepp} {how} message {msg} under context {id}, which it terminated (audit event #{at})"),
            );
        }
    }

    /// The N32fErrorType a detection at `sepp` on `msg` calls for, if known.
    fn expected_error(&self, sepp: &str, msg: u64) -> Option<String> {
        //= TS 33.501 13.2.4.3.2: a message naming no context the receiver holds
        // This comes first, even for a message that also carries an injected fault: without
        // the context the receiver cannot decrypt or verify anything (found by the property
        // tests: tampering on every message plus a termination while messages were in flight).
        if let Some(id) = self.sent.get(&msg) {
            let key = (sepp.to_string(), id.clone());
            let live = self.installed.contains_key(&key) && !self.terminated.contains_key(&key);
            if !live {
                return Some(CONTEXT_NOT_FOUND.to_string());
            }
        }
        self.faults.get(&msg).cloned()
    }

    /// `sepp` delivered `msg` onward: it must have decrypted it and verified every JWS.
    fn judge_accept(&mut self, sepp: &str, msg: u64, sink: &mut Sink<'_>) {
        let inv = &F_VERIFIED_BEFORE_ACCEPT;
        let Some(rx) = self.rx.remove(&(sepp.to_string(), msg)) else {
            sink.violate(inv, format!("{sepp} accepted message {msg}, which it never received"));
            return;
        };
        let why = match (rx.modifications, rx.verified) {
            (None, _) => "without receiving it".to_string(),
            (_, None) => "without verifying it".to_string(),
            (_, Some((false, _, _))) => "without decrypting its jwe".to_string(),
            (_, Some((_, _, Some(e)))) => format!("although its checks failed with {e}"),
            (Some(n), Some((true, v, None))) if v < n => {
                format!("with {v} of its {n} modification signatures verified")
            }
            _ => {
                sink.pass(inv);
                return;
            }
        };
        sink.violate(inv, format!("{sepp} accepted message {msg} {why}"));
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::check::mutant::Mutant;
    use crate::check::{Report, check_seed};
    use crate::scenario::{Scenario, load_experiment_source};

    /// A shipped experiment, its source edited by `edits` (each must apply): shorter runs.
    fn experiment(name: &str, edits: &[(&str, &str)]) -> Scenario {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments").join(name);
        let mut src = std::fs::read_to_string(&path).unwrap();
        for (from, to) in edits {
            assert!(src.contains(from), "{name}: no `{from}` to replace");
            src = src.replace(from, to);
        }
        load_experiment_source(&src, &path, None).unwrap()
    }

    fn check(scn: &Scenario, seed: u64) -> Report {
        check_seed(scn, seed).unwrap().1
    }

    fn list(r: &Report) -> String {
        r.violations.iter().map(|v| format!("\n  {v}")).collect()
    }

    /// The run passes every invariant, and judged each of `exercised` at least once.
    fn assert_clean(what: &str, r: &Report, exercised: &[&Invariant]) {
        assert!(r.passed(), "{what} seed {}: {}", r.seed, list(r));
        for inv in exercised {
            let n = r.checked.get(inv.id).copied().unwrap_or(0);
            assert!(
                n > 0,
                "{what} seed {}: {} never judged ({:?})",
                r.seed,
                inv.id,
                r.checked
            );
        }
    }

    /// The run violates `inv`, and the report names it, the seed and a numbered audit event.
    fn assert_caught(what: &str, r: &Report, inv: &Invariant) {
        let v = r
            .violations
            .iter()
            .find(|v| v.invariant.id == inv.id)
            .unwrap_or_else(|| panic!("{what}: {} not violated; got: {}", inv.id, list(r)));
        let text = v.to_string();
        assert!(v.event.seq > 0, "{text}");
        for part in [
            inv.id.to_string(),
            format!("seed {}", r.seed),
            format!("audit event #{}", v.event.seq),
        ] {
            assert!(text.contains(&part), "{what}: `{part}` missing from: {text}");
        }
    }

    /// Without the mutant the run is clean and judges `inv`; with it `inv` is violated.
    fn mutant_caught(m: N32Mutant, scn: &Scenario, inv: &Invariant) {
        let what = format!("{m:?} on {}", scn.experiment.name);
        assert_clean(&what, &check(scn, 1), &[inv]);
        let mut on = scn.clone();
        on.experiment.mutant = Some(Mutant::N32(m));
        let r = check(&on, 1);
        assert_caught(&what, &r, inv);
    }

    fn tls_direct_responder_tls_only() -> Scenario {
        experiment(
            "n32-tls-direct.ron",
            &[
                (r#"duration: "30s""#, r#"duration: "2s""#),
                (
                    r#"responder_capabilities: Some(["TLS", "PRINS"])"#,
                    r#"responder_capabilities: Some(["TLS"])"#,
                ),
            ],
        )
    }

    fn prins_two_ri(duration: &str, terminate: &str) -> Scenario {
        experiment(
            "n32-prins-two-ri.ron",
            &[
                (r#"duration: "30s""#, &format!(r#"duration: "{duration}""#)),
                (r#"terminate_at: ["10s", "20s"]"#, &format!("terminate_at: {terminate}")),
            ],
        )
    }

    fn prins_faults() -> Scenario {
        experiment("n32-prins-faults.ron", &[(r#"duration: "30s""#, r#"duration: "3s""#)])
    }

    #[test]
    fn capability_outside_intersection_is_caught() {
        let scn = tls_direct_responder_tls_only();
        mutant_caught(
            N32Mutant::CapabilityOutsideIntersection,
            &scn,
            &CAPABILITY_IN_BOTH_LISTS,
        );
    }

    #[test]
    fn skipped_jws_verification_is_caught() {
        let scn = prins_two_ri("2s", "[]");
        mutant_caught(N32Mutant::SkipJwsVerification, &scn, &F_VERIFIED_BEFORE_ACCEPT);
    }

    #[test]
    fn wrong_fault_type_is_caught() {
        mutant_caught(N32Mutant::WrongFaultType, &prins_faults(), &FAULT_REPORTED_ONCE);
    }

    #[test]
    fn double_fault_report_is_caught() {
        mutant_caught(N32Mutant::DoubleFaultReport, &prins_faults(), &FAULT_REPORTED_ONCE);
    }

    #[test]
    fn context_key_mismatch_is_caught() {
        let scn = prins_two_ri("2s", "[]");
        mutant_caught(N32Mutant::ContextKeyMismatch, &scn, &PRINS_CONTEXTS_MATCH);
    }

    #[test]
    fn use_of_terminated_context_is_caught() {
        let scn = prins_two_ri("3s", r#"["1s", "2s"]"#);
        mutant_caught(N32Mutant::UseTerminatedContext, &scn, &TERMINATED_NOT_USED);
    }

    #[test]
    fn context_after_refusal_is_caught() {
        let scn = experiment(
            "n32-ri-reject-encodings.ron",
            &[(r#"duration: "40s""#, r#"duration: "3s""#)],
        );
        mutant_caught(N32Mutant::ContextAfterRefusal, &scn, &REFUSED_CONNECT_NO_CONTEXT);
    }

    /// A cNF request whose end is never recorded is caught by liveness (its bound is the
    /// flow's 5 s timeout).
    #[test]
    fn dropped_request_end_is_caught_by_liveness() {
        let scn = experiment("n32-tls-direct.ron", &[(r#"duration: "30s""#, r#"duration: "7s""#)]);
        assert_clean(
            "n32-tls-direct",
            &check(&scn, 1),
            &[&crate::check::liveness::END_MATCHES_BEGIN],
        );
        let mut on = scn.clone();
        on.experiment.mutant = Some(Mutant::DropProcEnd);
        let r = check(&on, 1);
        assert_caught("DropProcEnd", &r, &crate::check::liveness::LIVENESS_AFTER_HEALING);
    }

    /// Every shipped experiment with N32 flows (shortened) passes over seeds 1..=3, and
    /// judges each invariant it exercises. The fault experiment also runs below full crypto
    /// fidelity, where RIs sign nothing.
    #[test]
    fn shipped_n32_experiments_pass() {
        use crate::check::liveness::END_MATCHES_BEGIN as ENDS;
        let cap = &CAPABILITY_IN_BOTH_LISTS;
        let prins = [cap, &PRINS_CONTEXTS_MATCH, &F_VERIFIED_BEFORE_ACCEPT, &ENDS];
        let faults = [&prins[..], &[&FAULT_REPORTED_ONCE]].concat();
        let terminations = [&prins[..], &[&TERMINATED_NOT_USED]].concat();
        // (experiment, source edits, invariants it exercises)
        type Run<'a> = (&'a str, Vec<(&'a str, &'a str)>, Vec<&'a Invariant>);
        let runs: Vec<Run> = vec![
            (
                "n32-tls-direct.ron",
                vec![(r#"duration: "30s""#, r#"duration: "3s""#)],
                vec![cap, &ENDS],
            ),
            // Seed 3 terminates while the pNF answers: that answer must not cross N32-f in
            // clear (a bug the checker found).
            (
                "n32-prins-two-ri.ron",
                vec![
                    (r#"duration: "30s""#, r#"duration: "5s""#),
                    (r#"terminate_at: ["10s", "20s"]"#, r#"terminate_at: ["2s", "4s"]"#),
                ],
                terminations.clone(),
            ),
            (
                "n32-prins-faults.ron",
                vec![(r#"duration: "30s""#, r#"duration: "3s""#)],
                faults.clone(),
            ),
            (
                "n32-prins-faults.ron",
                vec![(r#"duration: "30s""#, r#"duration: "3s", crypto: (fidelity: Keys)"#)],
                faults,
            ),
            // The RIs refuse for 20 s, then N32 comes up.
            (
                "n32-ri-reject-encodings.ron",
                vec![(r#"duration: "40s""#, r#"duration: "22s""#)],
                vec![&REFUSED_CONNECT_NO_CONTEXT, cap, &ENDS],
            ),
            (
                "n32-direct-tls-reactions.ron",
                vec![(r#"duration: "40s""#, r#"duration: "22s""#)],
                vec![cap, &ENDS],
            ),
            (
                "n32-ipx-hub.ron",
                vec![(r#"duration: "30s""#, r#"duration: "3s""#)],
                terminations,
            ),
            // The base points of the compare and sweep experiments (warm-up, Keys fidelity).
            (
                "compare-n32-preference.ron",
                vec![(r#"duration: "8s""#, r#"duration: "4s""#)],
                vec![cap, &ENDS],
            ),
            ("sweep-n32-prins.ron", vec![], prins.to_vec()),
        ];
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments");
        // The shipped set only (experiments/SHIPPED), not a researcher's own files.
        let mut shipped: Vec<String> = crate::scenario::shipped::shipped_experiments(&dir)
            .unwrap()
            .into_iter()
            .filter(|p| std::fs::read_to_string(p).unwrap().contains("N32(("))
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        shipped.sort();
        let mut checked: Vec<String> = runs.iter().map(|r| r.0.to_string()).collect();
        checked.sort();
        checked.dedup();
        assert_eq!(
            shipped, checked,
            "every shipped experiment with N32 flows is checked here"
        );
        for (name, edits, exercised) in &runs {
            let scn = experiment(name, edits);
            for seed in 1..=3 {
                assert_clean(name, &check(&scn, seed), exercised);
            }
        }
    }

    /// Judgements on hand-made trails: what no shipped scenario produces.
    #[test]
    fn hand_made_trails_are_judged() {
        let t = |ms| SimTime::ZERO + crate::engine::SimDuration::from_millis(ms);
        let n = |e: N32Audit| AuditEvent::N32(e);
        let (a, b) = (|| "sepp-a".to_string(), || "sepp-b".to_string());
        let trail = vec![
            // A teardown offer answered with NONE holds.
            (
                t(1),
                n(N32Audit::CapabilityOffered {
                    sepp: a(),
                    peer: b(),
                    conn: 1,
                    stream: 1,
                    offered: vec!["NONE".into()],
                }),
            ),
            (
                t(2),
                n(N32Audit::CapabilitySelected {
                    sepp: b(),
                    peer: a(),
                    conn: 1,
                    stream: 1,
                    supported: vec!["TLS".into()],
                    selected: "NONE".into(),
                }),
            ),
            // A 2xx answer accepted although it came in clear.
            (
                t(3),
                n(N32Audit::ResponseReceived {
                    sepp: a(),
                    msg: 7,
                    status: 201,
                    protected: false,
                }),
            ),
            (
                t(3),
                n(N32Audit::ResponseAccepted {
                    sepp: a(),
                    msg: 7,
                    status: 201,
                }),
            ),
            // A detection never reported, and a report of nothing detected.
            (
                t(4),
                n(N32Audit::MessageVerified {
                    sepp: b(),
                    msg: 8,
                    decrypted: false,
                    jws_verified: 0,
                    error: Some("INTEGRITY_CHECK_FAILED".into()),
                }),
            ),
            (
                t(5),
                n(N32Audit::ErrorReported {
                    sepp: b(),
                    peer: a(),
                    msg: 9,
                    message_id: "9".into(),
                    error_type: "INTEGRITY_CHECK_FAILED".into(),
                }),
            ),
        ];
        let r = crate::check::check_events(5, t(10), &trail);
        assert_eq!(r.checked.get(CAPABILITY_IN_BOTH_LISTS.id), Some(&1));
        let got: Vec<(&str, u64)> = r.violations.iter().map(|v| (v.invariant.id, v.event.seq)).collect();
        let want = [
            (F_VERIFIED_BEFORE_ACCEPT.id, 4),
            (FAULT_REPORTED_ONCE.id, 6),
            (FAULT_REPORTED_ONCE.id, 5),
        ];
        assert_eq!(got, want, "{}", list(&r));
        assert!(r.violations[2].to_string().contains("never reported"), "{}", list(&r));
    }

    /// The trail in a trace file judges as the in-memory trail does.
    #[test]
    fn trace_file_trail_judges_like_the_memory_trail() {
        use std::io::Write;
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Shared(Arc<Mutex<Vec<u8>>>);
        impl Write for Shared {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let scn = prins_faults();
        let memory = check(&scn, 2);
        let sink = Shared::default();
        crate::run::run_seed_audited(&scn, 2, Some(Some(Box::new(sink.clone()))), false, &|_| {}).unwrap();
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let trail: Vec<_> = text
            .lines()
            .filter_map(|l| crate::check::audit::parse_trace_line(l).unwrap())
            .collect();
        let end = SimTime::ZERO + scn.experiment.duration;
        let traced = crate::check::check_events(2, end, &trail);
        assert_eq!(traced.events, memory.events);
        assert_eq!(traced.checked, memory.checked);
        assert!(traced.passed(), "{}", list(&traced));
    }
}
