//! Plain HTTP workload endpoints (`WorkloadSpec::Http`): one [`HttpNode`] machine per node
//! that is a client, a server or a CONNECT proxy of some HTTP flow.
//!
//! - As a **client** of a flow it sends a TS 29.509 `AuthenticationInfo` to `POST
//!   /nausf-auth/v1/ue-authentications` at each arrival (gaps from the flow's own stream
//!   `flow:<name>`), the same AUSF operation as the N32 flows ([`crate::proto::payload`]: so
//!   that the baseline and N32 carry the same bytes), and arms the flow's timeout,
//!   and writes one `http_request` record per request: `ok` for 2xx, `error` for another
//!   status or a TLS failure, `refused` for a proxy's refusal, `unreachable` for a reset or
//!   unreachable connection, `timeout`, or `unfinished` when the run ends first.
//! - As a **server** (the home AUSF) it answers each request of a flow it serves with a `201
//!   UEAuthenticationCtx` of the flow's `response_bytes` after the flow's processing delay
//!   (drawn from the node's stream `node:<name>`; the vectors from `av:<name>`). The server
//!   tells the flows apart by what is on the wire: each flow authenticates its own block of
//!   subscribers, the first four digits of the SUPI's MSIN being the flow's number at its
//!   server ([`flow_msin`]). A request for another path is `404`, for a subscriber of no
//!   flow it serves `404 USER_NOT_FOUND`, with a body that is no `AuthenticationInfo` `400`
//!   (each with a TS 29.571 `ProblemDetails`).
//! - As a **proxy** it accepts every CONNECT tunnel (the Roaming Intermediaries of the N32
//!   plane have policies; a plain proxy has none).

use std::collections::BTreeMap;

use crate::engine::{Arrival, SimDuration, SimRng, SimTime};
use crate::metrics::{Outcome, Record};
use crate::net::conn::ConnFailure;
use crate::net::tls::TlsMode;
use crate::net::{HttpRequest, HttpResponse, Latency, NodeId};
use crate::proto::common::{ApiBody, ProblemDetails};
use crate::proto::effect::{Corr, Effect, Effects, Inbound, Input, Machine};
use crate::proto::payload::{self, AuthenticationInfo, UE_AUTHENTICATIONS_PATH, UeAuthenticationCtx};

/// The flows one server tells apart: four decimal digits of the MSIN.
pub const FLOWS_PER_SERVER_MAX: u32 = 10_000;

/// The MSIN of request `n` (1-based) of the flow numbered `tag` at its server: `tag` in the
/// first four of nine digits, `n` (modulo 10⁵, a subscriber authenticates again after that)
/// in the rest.
pub fn flow_msin(tag: u32, n: u64) -> u64 {
    u64::from(tag % FLOWS_PER_SERVER_MAX) * 100_000 + n % 100_000
}

/// A flow this node is the client of.
#[derive(Clone, Debug)]
pub struct ClientFlow {
    /// The flow's number at its server (it picks the subscribers, [`flow_msin`]).
    pub tag: u32,
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
    /// The configured size of a request's body \[bytes\].
    pub request_bytes: usize,
    /// The topology domain of the server's PLMN (whose subscribers are authenticated).
    pub home_domain: u32,
    /// The serving network name of the client's PLMN.
    pub serving_network_name: String,
    pub timeout: SimDuration,
    /// When its first request is due.
    pub start: SimTime,
}

/// A flow this node serves.
#[derive(Clone, Debug)]
pub struct ServedFlow {
    /// The configured size of an answer's body \[bytes\].
    pub response_bytes: usize,
    pub processing: Option<Latency>,
}

/// The machine's timers.
#[derive(Clone, Copy, Debug, Eq, Ord, PartialEq, PartialOrd)]
pub enum Timer {
    /// The next request of client flow `i` (index into [`HttpNode`]'s client flows) is due.
    Arrival(u32),
    /// Request `corr` is given up.
    Timeout(Corr),
    /// The answer to `at` (flow `flow`, by its number at this server) is processed.
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
    /// The stream of its authentication vectors, and its API root for their links.
    av_rng: SimRng,
    api_root: String,
    /// Authentication contexts it created (their IDs).
    contexts: u64,
    outstanding: BTreeMap<Corr, Outstanding>,
    next_corr: Corr,
    out: Effects<Timer>,
}

impl HttpNode {
    /// The node `name` with its own stream `rng` and the stream of its vectors `av_rng`,
    /// client of `clients` and server of `serves` (by their number at this server).
    pub fn new(
        name: String,
        (rng, av_rng): (SimRng, SimRng),
        clients: Vec<ClientFlow>,
        serves: BTreeMap<u32, ServedFlow>,
    ) -> HttpNode {
        HttpNode {
            api_root: format!("https://{name}.5gc.example"),
            av_rng,
            contexts: 0,
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
        //= TS 29.509 5.2.2.2.2: authenticate the flow's next subscriber
        let msin = flow_msin(f.tag, self.sent[i as usize]);
        let (info, text) = payload::authentication_info(
            payload::supi(f.home_domain, msin),
            f.serving_network_name.clone(),
            f.request_bytes,
        );
        let mut req = HttpRequest::new("POST", UE_AUTHENTICATIONS_PATH, AuthenticationInfo::SCHEMA, text);
        req.typed = Some(crate::net::http::Typed::new(info));
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
        let refuse = |status, cause| {
            let rsp = HttpResponse::new(
                status,
                ProblemDetails::SCHEMA,
                ProblemDetails::with_cause(status, cause).to_json(),
            );
            Effect::Respond {
                at,
                rsp: Box::new(rsp),
                delay: SimDuration::ZERO,
            }
        };
        if req.path != UE_AUTHENTICATIONS_PATH || req.method != "POST" {
            //= TS 29.500 5.2.7.2: no such resource
            return self.out.push(refuse(404, "RESOURCE_URI_STRUCTURE_NOT_FOUND"));
        }
        let Some(info) = req.decode::<AuthenticationInfo>() else {
            return self.out.push(refuse(400, "MANDATORY_IE_INCORRECT"));
        };
        let tag = payload::msin_of(&info.supi_or_suci).map(|m| (m / 100_000) as u32);
        let Some((flow, served)) = tag.and_then(|f| self.serves.get(&f).map(|s| (f, s))) else {
            //= TS 29.509 6.1.7.3: the subscriber is not one of this AUSF's
            return self.out.push(refuse(404, "USER_NOT_FOUND"));
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
                let bytes = self.serves.get(&flow).map_or(0, |s| s.response_bytes);
                //= TS 33.501 6.1.3.2 step 2: the AUSF sends the 5G SE AV
                self.contexts += 1;
                let av = payload::av_5g_aka(&mut self.av_rng);
                let (ctx, text) = payload::ue_authentication_ctx(&self.api_root, self.contexts, av, bytes);
                let mut rsp = HttpResponse::new(201, UeAuthenticationCtx::SCHEMA, text);
                rsp.typed = Some(crate::net::http::Typed::new(ctx));
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
