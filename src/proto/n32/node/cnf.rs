//! The consumer NF: sends its flows' SBI requests to its c-SEPP, each with a deadline, and
//! records how each ended (`cnf_request`).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use crate::audit::ProcAudit;
use crate::audit::mutant::{Mutant, Mutants};
use crate::engine::{Arrival, SimDuration, SimRng, SimTime};
use crate::metrics::{Outcome, Record};
use crate::net::conn::ConnFailure;
use crate::net::http::Typed;
use crate::net::tls::TlsMode;
use crate::net::{HttpRequest, HttpResponse, NodeId};
use crate::proto::effect::{Corr, Effect, Effects, Input, Machine};

use super::{Numbering, PROC_KIND, SBI_PATH, SbiTarget, Timer, unfinished};
use crate::proto::common::ApiBody;
use crate::proto::payload::{self, AuthenticationInfo};

/// One workload flow of a cNF.
pub struct CnfFlow {
    /// The flow's label in records.
    pub label: String,
    /// The c-SEPP the cNF sends to.
    pub csepp: NodeId,
    /// The producer's name (records).
    pub pnf_name: String,
    /// The N32-c proxy's name, or "" (records).
    pub via_name: String,
    /// The request process.
    pub arrival: Arrival,
    /// The flow's own random stream.
    pub rng: SimRng,
    /// The configured size of a request's body \[bytes\] (see [`crate::proto::payload`]).
    pub request_bytes: usize,
    /// The topology domain of the producer's PLMN, whose subscribers the requests authenticate.
    pub home_domain: u32,
    /// The serving network name of the cNF's own PLMN.
    pub serving_network_name: String,
    /// How long the cNF waits for an answer.
    pub timeout: SimDuration,
    /// Requests sent so far.
    pub sent: u64,
}

/// A request waiting for its answer.
struct Waiting {
    flow: u32,
    start: SimTime,
    /// Its key in the audit trail.
    proc: u64,
    /// The request's bytes on the consumer's leg (the record adds its answer's).
    req_bytes: u32,
}

/// A consumer NF's machine.
pub struct Cnf {
    name: String,
    flows: BTreeMap<u32, CnfFlow>,
    waiting: BTreeMap<Corr, Waiting>,
    next: Corr,
    fx: Effects<Timer>,
    /// The plane-wide numbering lent for the current input.
    pub numbering: Numbering,
    /// Its deliberate bugs (none outside the checker's tests).
    mutants: Mutants,
}

impl Cnf {
    /// A cNF named `name` with its flows (by workload index) and deliberate bugs.
    pub fn new(name: String, flows: BTreeMap<u32, CnfFlow>, mutants: Mutants) -> Cnf {
        Cnf {
            name,
            flows,
            waiting: BTreeMap::new(),
            next: 0,
            fx: Effects::default(),
            numbering: Numbering::default(),
            mutants,
        }
    }

    fn arrival(&mut self, now: SimTime, fi: u32) {
        let Some(f) = self.flows.get_mut(&fi) else { return };
        let gap = f.arrival.next_gap(&mut f.rng);
        f.sent += 1;
        //= TS 29.509 5.2.2.2.2: the serving network asks the home AUSF to authenticate
        //= subscriber `sent` of the producer's PLMN
        let (info, text) = payload::authentication_info(
            payload::supi(f.home_domain, f.sent),
            f.serving_network_name.clone(),
            f.request_bytes,
        );
        let body = serde_json::to_value(&info).expect("AuthenticationInfo is JSON");
        let mut req = HttpRequest::new("POST", SBI_PATH, AuthenticationInfo::SCHEMA, text);
        req.typed = Some(Typed::new(SbiTarget(fi, Arc::new(body))));
        let req_bytes = req.wire_bytes();
        self.next += 1;
        let corr = self.next;
        self.fx.push(Effect::Request {
            corr,
            to: f.csepp,
            via: None,
            mode: TlsMode::Certificate,
            req: Box::new(req),
            delay: SimDuration::ZERO,
        });
        self.fx.set_timer(f.timeout, Timer::Timeout(corr));
        self.numbering.procs += 1;
        let proc = self.numbering.procs;
        // The request ends with an answer or at its own timeout, whichever comes first.
        let (name, bound_ns) = (&self.name, f.timeout.as_nanos());
        self.fx.audit(|| {
            ProcAudit::Begin {
                kind: PROC_KIND.into(),
                key: proc,
                node: name.clone(),
                bound_ns,
            }
            .into()
        });
        self.waiting.insert(
            corr,
            Waiting {
                flow: fi,
                start: now,
                proc,
                req_bytes,
            },
        );
        self.fx.set_timer(gap, Timer::Arrival(fi));
    }

    fn answered(&mut self, now: SimTime, corr: Corr, rsp: &HttpResponse) {
        if !self.waiting.contains_key(&corr) {
            return;
        }
        self.fx.cancel_timer(Timer::Timeout(corr));
        let outcome = if (200..300).contains(&rsp.status) {
            Outcome::Ok
        } else {
            Outcome::Error
        };
        // Without `cause` in the text (nor an escape that could spell it) there is no such member.
        let may_name = rsp.body.contains("cause") || rsp.body.contains('\\');
        let cause = may_name
            .then(|| serde_json::from_str::<Value>(&rsp.body).ok())
            .flatten()
            .and_then(|v| v.get("cause").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_default();
        self.finish(now, corr, outcome, (rsp.status, rsp.wire_bytes()), cause);
    }

    /// Records the end of a request (if it was still open), with the `status` and wire bytes
    /// of the answer the cNF got (`(0, 0)` without one). Its bytes and exchanges are the
    /// consumer's leg (one request, its answer); the N32-f hops are `n32f_message` records.
    fn finish(&mut self, now: SimTime, corr: Corr, outcome: Outcome, (status, rsp_bytes): (u16, u32), cause: String) {
        let Some(w) = self.waiting.remove(&corr) else { return };
        // Mutant (liveness): the request's end goes unrecorded.
        if !self.mutants.on(Mutant::DropProcEnd) {
            self.fx.audit(|| {
                ProcAudit::End {
                    kind: PROC_KIND.into(),
                    key: w.proc,
                    outcome: outcome.as_str().into(),
                }
                .into()
            });
        }
        let f = &self.flows[&w.flow];
        self.fx.record(Record {
            procedure: "cnf_request",
            flow: f.label.clone(),
            variant: String::new(),
            result: String::new(),
            cause,
            initiator: self.name.clone(),
            responder: f.pnf_name.clone(),
            via: f.via_name.clone(),
            start_ns: w.start.as_nanos(),
            end_ns: now.as_nanos(),
            outcome,
            status,
            new_connection: false,
            round_trips: 1,
            overhead_bytes: 0,
            bytes: u64::from(w.req_bytes + rsp_bytes),
        });
    }

    /// The censoring record of request `corr`, if it still waits (issue 12).
    pub fn unfinished(&self, corr: Corr, now: SimTime) -> Option<Record> {
        let w = self.waiting.get(&corr)?;
        let f = &self.flows[&w.flow];
        let mut r = unfinished("cnf_request", (&self.name, &f.pnf_name, &f.via_name), w.start, now);
        r.flow = f.label.clone();
        Some(r)
    }
}

impl Machine for Cnf {
    type Timer = Timer;

    fn handle(&mut self, now: SimTime, input: Input<Timer>) {
        match input {
            Input::Timer(Timer::Arrival(fi)) => {
                self.arrival(now, fi);
            }
            Input::Timer(Timer::Timeout(corr)) if self.waiting.contains_key(&corr) => {
                self.fx.push(Effect::Abandon(corr));
                self.finish(now, corr, Outcome::Timeout, (0, 0), String::new());
            }
            Input::Response { corr, rsp, .. } => self.answered(now, corr, &rsp),
            Input::Failed { corrs, cause, .. } => {
                let (outcome, detail) = match cause {
                    ConnFailure::Refused { .. } => (Outcome::Error, "refused by roaming intermediary"),
                    ConnFailure::Unreachable => (Outcome::Unreachable, "peer unreachable"),
                    ConnFailure::Reset => (Outcome::Unreachable, "connection reset"),
                    ConnFailure::Tls(_) => (Outcome::Error, "tls failure"),
                };
                for corr in corrs {
                    self.finish(now, corr, outcome, (0, 0), detail.into());
                }
            }
            Input::ConnectRequest { conn, .. } => self.fx.push(Effect::AcceptTunnel(conn)),
            _ => {}
        }
    }

    fn effects(&mut self) -> &mut Effects<Timer> {
        &mut self.fx
    }
}
