//! Plain HTTP workload endpoints (`WorkloadSpec::Http`): one [`HttpNode`] machine per node
//! that is a client, a server or a CONNECT proxy of some HTTP flow.
//!
//! - As a **client** of a flow it sends `POST /secsim-test/v1/flows/<flow>/requests/<n>` at
//!   each arrival (gaps from the flow's own stream `flow:<name>`), arms the flow's timeout,
//!   and writes one `http_request` record per request: `ok` for 2xx, `error` for another
//!   status or a TLS failure, `refused` for a proxy's refusal, `unreachable` for a reset or
//!   unreachable connection, `timeout`, or `unfinished` when the run ends first.
//! - As a **server** it answers each request of a flow it serves with the flow's JSON body
//!   after the flow's processing delay (drawn from the node's stream `node:<name>`), and 404
//!   for any other path.
//! - As a **proxy** it accepts every CONNECT tunnel (the Roaming Intermediaries of the N32
//!   plane have policies; a plain proxy has none).

use std::collections::BTreeMap;

use crate::engine::{Arrival, SimDuration, SimRng, SimTime};
use crate::metrics::{Outcome, Record};
use crate::net::conn::ConnFailure;
use crate::net::tls::TlsMode;
use crate::net::{HttpRequest, HttpResponse, Latency, NodeId};
use crate::proto::effect::{Corr, Effect, Effects, Inbound, Input, Machine};

const PREFIX: &str = "/secsim-test/v1/flows/";

/// A flow this node is the client of.
#[derive(Clone, Debug)]
pub struct ClientFlow {
    /// The flow's index in the workload (it names the path).
    pub index: u32,
    /// Label in records.
    pub label: String,
    pub server: NodeId,
    pub via: Option<NodeId>,
    /// Names of the server and the proxy ("" if none), for records.
    pub server_name: String,
    pub via_name: String,
    pub arrival: Arrival,
    /// The flow's arrival stream.
    pub rng: SimRng,
    pub request_body: String,
    pub timeout: SimDuration,
    /// When its first request is due.
    pub start: SimTime,
}

/// A flow this node serves.
#[derive(Clone, Debug)]
pub struct ServedFlow {
    pub response_body: String,
    pub processing: Option<Latency>,
}

/// The machine's timers.
#[derive(Clone, Copy, Debug, Eq, Ord, PartialEq, PartialOrd)]
pub enum Timer {
    /// The next request of client flow `i` (index into [`HttpNode`]'s client flows) is due.
    Arrival(u32),
    /// Request `corr` is given up.
    Timeout(Corr),
    /// The answer to `at` (flow `flow`) is processed.
    Processed { at: Inbound, flow: u32 },
}

struct Outstanding {
    /// Index into the client flows.
    flow: u32,
    start: SimTime,
    request_bytes: u32,
    /// Whether the request waited for a new connection ([`Input::Sent`]).
    new_connection: bool,
}

/// One node's HTTP endpoints.
pub struct HttpNode {
    name: String,
    clients: Vec<ClientFlow>,
    /// Requests sent per client flow.
    sent: Vec<u64>,
    serves: BTreeMap<u32, ServedFlow>,
    /// The node's own stream (processing delays).
    rng: SimRng,
    outstanding: BTreeMap<Corr, Outstanding>,
    next_corr: Corr,
    out: Effects<Timer>,
}

impl HttpNode {
    /// The node `name` with its own stream `rng`, client of `clients` and server of `serves`
    /// (by flow index).
    pub fn new(name: String, rng: SimRng, clients: Vec<ClientFlow>, serves: BTreeMap<u32, ServedFlow>) -> HttpNode {
        HttpNode {
            name,
            sent: vec![0; clients.len()],
            clients,
            serves,
            rng,
            outstanding: BTreeMap::new(),
            next_corr: 0,
            out: Effects::default(),
        }
    }

    /// When each client flow's first request is due (the driver arms nothing else at start).
    pub fn start(&mut self) {
        for (i, f) in self.clients.iter().enumerate() {
            let after = f.start - SimTime::ZERO;
            self.out.set_timer(after, Timer::Arrival(i as u32));
        }
    }

    /// Censoring: every request still outstanding at `now` gets an `unfinished` record.
    pub fn finish(&mut self, now: SimTime) {
        let corrs: Vec<Corr> = self.outstanding.keys().copied().collect();
        for c in corrs {
            self.record(c, now, Outcome::Unfinished, (0, 0));
        }
    }

    fn record(&mut self, corr: Corr, end: SimTime, outcome: Outcome, (status, response_bytes): (u16, u32)) {
        let Some(o) = self.outstanding.remove(&corr) else {
            return;
        };
        let f = &self.clients[o.flow as usize];
        self.out.record(Record {
            procedure: "http_request",
            flow: f.label.clone(),
            variant: String::new(),
            result: String::new(),
            cause: String::new(),
            initiator: self.name.clone(),
            responder: f.server_name.clone(),
            via: f.via_name.clone(),
            start_ns: o.start.as_nanos(),
            end_ns: end.as_nanos(),
            outcome,
            status,
            new_connection: o.new_connection,
            round_trips: 0,
            overhead_bytes: 0,
            bytes: u64::from(o.request_bytes) + u64::from(response_bytes),
        });
    }

    fn arrival(&mut self, now: SimTime, i: u32) {
        let f = &mut self.clients[i as usize];
        let gap = f.arrival.next_gap(&mut f.rng);
        self.sent[i as usize] += 1;
        let req = HttpRequest::new(
            "POST",
            format!("{PREFIX}{}/requests/{}", f.index, self.sent[i as usize]),
            "",
            f.request_body.clone(),
        );
        let corr = self.next_corr;
        self.next_corr += 1;
        let request_bytes = req.wire_bytes();
        let (to, via, timeout) = (f.server, f.via, f.timeout);
        self.out.push(Effect::Request {
            corr,
            to,
            via,
            mode: TlsMode::Certificate,
            req: Box::new(req),
            delay: SimDuration::ZERO,
        });
        self.out.set_timer(timeout, Timer::Timeout(corr));
        self.outstanding.insert(
            corr,
            Outstanding {
                flow: i,
                start: now,
                request_bytes,
                new_connection: false,
            },
        );
        self.out.set_timer(gap, Timer::Arrival(i));
    }

    fn request(&mut self, at: Inbound, req: &HttpRequest) {
        let flow = req
            .path
            .strip_prefix(PREFIX)
            .and_then(|p| p.split('/').next())
            .and_then(|p| p.parse::<u32>().ok());
        let Some((flow, served)) = flow.and_then(|f| self.serves.get(&f).map(|s| (f, s))) else {
            let rsp = HttpResponse::new(404, "", String::new());
            self.out.push(Effect::Respond {
                at,
                rsp: Box::new(rsp),
                delay: SimDuration::ZERO,
            });
            return;
        };
        let delay = match &served.processing {
            Some(l) => SimDuration::from_nanos(l.sample(&mut self.rng)),
            None => SimDuration::ZERO,
        };
        self.out.set_timer(delay, Timer::Processed { at, flow });
    }

    fn failed(&mut self, now: SimTime, corrs: Vec<Corr>, cause: &ConnFailure) {
        let (outcome, status) = match cause {
            ConnFailure::Refused { status, .. } => (Outcome::Refused, *status),
            ConnFailure::Reset | ConnFailure::Unreachable => (Outcome::Unreachable, 0),
            ConnFailure::Tls(_) => (Outcome::Error, 0),
        };
        for c in corrs {
            if self.outstanding.contains_key(&c) {
                self.out.cancel_timer(Timer::Timeout(c));
            }
            self.record(c, now, outcome, (status, 0));
        }
    }
}

impl Machine for HttpNode {
    type Timer = Timer;

    fn handle(&mut self, now: SimTime, input: Input<Timer>) {
        match input {
            Input::Timer(Timer::Arrival(i)) => self.arrival(now, i),
            Input::Timer(Timer::Timeout(c)) => self.record(c, now, Outcome::Timeout, (0, 0)),
            Input::Timer(Timer::Processed { at, flow }) => {
                let body = self
                    .serves
                    .get(&flow)
                    .map(|s| s.response_body.clone())
                    .unwrap_or_default();
                let rsp = HttpResponse::new(200, "", body);
                self.out.push(Effect::Respond {
                    at,
                    rsp: Box::new(rsp),
                    delay: SimDuration::ZERO,
                });
            }
            Input::Request { at, req, .. } => self.request(at, &req),
            Input::Sent {
                corr, new_connection, ..
            } => {
                if let Some(o) = self.outstanding.get_mut(&corr) {
                    o.new_connection = new_connection;
                }
            }
            Input::Response { corr, rsp, .. } => {
                if self.outstanding.contains_key(&corr) {
                    self.out.cancel_timer(Timer::Timeout(corr));
                }
                let outcome = if (200..300).contains(&rsp.status) {
                    Outcome::Ok
                } else {
                    Outcome::Error
                };
                self.record(corr, now, outcome, (rsp.status, rsp.wire_bytes()));
            }
            Input::Failed { corrs, cause, .. } => self.failed(now, corrs, &cause),
            Input::ConnectRequest { conn, .. } => self.out.push(Effect::AcceptTunnel(conn)),
            Input::Connected { .. } => {} // requests open their connections themselves
        }
    }

    fn effects(&mut self) -> &mut Effects<Timer> {
        &mut self.out
    }
}
