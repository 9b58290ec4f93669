//! The simulated world: the network plus the actors on its nodes, built from a scenario.
//!
//! ```text
//!  engine ──Event<Msg>──► SimWorld::handle
//!                           ├─ Msg::Net(wire)  ─► Network::on_wire ─► NetEvent ─► node's actor
//!                           └─ Msg::Arrival / Processed / Timeout ─► workload actors
//! ```
//!
//! Actors: nodes of N32 flows (cNF, SEPPs, pNF) and every Roaming Intermediary belong to the
//! N32 plane ([`n32`]); the rest serve the plain HTTP flows: a `Proxy` node accepts every
//! CONNECT tunnel, and each flow's server answers each request after its processing delay
//! with a JSON body of the configured size. Each flow draws its arrivals from the stream
//! `flow:<name>`, each server its processing delays from `node:<name>`.

pub mod capif;
pub mod driver;
pub mod n32;

use std::collections::BTreeMap;

use crate::engine::{Arrival, Ctx, Event, EventKind, Sim, SimDuration, SimRng, SimTime, TimerId, World, stream};
use crate::metrics::{Outcome, Record};
use crate::net::tls::Security;
use crate::net::{
    ConnFailure, ConnId, HttpRequest, HttpResponse, Latency, NetConfig, NetEvent, Network, NodeId, Topology, Wire,
};
use crate::scenario::{ExperimentFile, TopologyFile, WorkloadSpec};

/// Everything on the engine's queue.
#[derive(Clone, Debug)]
pub enum Msg {
    Net(Wire),
    /// The next request of a flow is due.
    Arrival(u32),
    /// A server finished processing a request.
    Processed {
        conn: ConnId,
        stream: u32,
        flow: u32,
    },
    /// A request's timeout.
    Timeout {
        conn: ConnId,
        stream: u32,
    },
    /// The N32 plane's own events.
    N32(n32::N32Msg),
    /// The CAPIF plane's own events.
    Capif(capif::CapifMsg),
}

impl From<Wire> for Msg {
    fn from(w: Wire) -> Msg {
        Msg::Net(w)
    }
}

/// A world that could not be built from a scenario.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("topology: {0}")]
    Topology(#[from] crate::net::topology::TopologyError),
    #[error("workload[{index}]: unknown node `{name}`")]
    UnknownNode { index: usize, name: String },
    #[error("workload[{index}]: {message}")]
    Workload { index: usize, message: String },
    #[error("crypto: {0}")]
    Crypto(String),
    /// An N32 or CAPIF plane refused the scenario; the message names the field itself
    /// (`workload[3].Capif.ccf: unknown node ...`, `n32.ri_policies[ri-a]: ...`), once.
    #[error("{0}")]
    Plane(String),
}

struct Flow {
    label: String,
    client: NodeId,
    server: NodeId,
    via: Option<NodeId>,
    arrival: Arrival,
    request_body: String,
    response_body: String,
    processing: Option<Latency>,
    timeout: SimDuration,
    start: SimTime,
    rng: SimRng,
    sent: u64,
}

struct Outstanding {
    flow: u32,
    start: SimTime,
    timer: TimerId,
    new_connection: bool,
    request_bytes: u32,
}

/// The world of one run.
pub struct SimWorld {
    pub net: Network,
    flows: Vec<Flow>,
    node_rng: Vec<SimRng>,
    outstanding: BTreeMap<(ConnId, u32), Outstanding>,
    /// Records of completed procedures, in completion order (warm-up not yet applied: see
    /// [`SimWorld::take_records`]).
    pub records: Vec<Record>,
    /// Records of procedures that began before this are left out, whatever their kind.
    warmup: SimTime,
    /// The N32 actors, if the workload has N32 flows.
    n32: Option<n32::N32Plane>,
    /// Nodes whose network events go to the N32 plane.
    n32_nodes: Vec<bool>,
    /// The CAPIF actors, if the workload has Capif flows.
    capif: Option<capif::CapifPlane>,
    /// Nodes whose network events go to the CAPIF plane.
    capif_nodes: Vec<bool>,
}

/// A JSON body of exactly `n` bytes (at least `{"d":""}`, 8 bytes).
fn body_of(n: u32) -> String {
    let pad = (n as usize).saturating_sub(8);
    format!("{{\"d\":\"{}\"}}", "x".repeat(pad))
}

impl SimWorld {
    /// The records of the run, in completion order, without those whose procedure began
    /// before the warm-up ended: one rule for every record type.
    pub fn take_records(&mut self) -> Vec<Record> {
        let warmup = self.warmup.as_nanos();
        let mut records = std::mem::take(&mut self.records);
        records.retain(|r| r.start_ns >= warmup);
        records
    }

    /// Censoring (issue 12): records every procedure that began and had not ended when the
    /// run stopped at `now`, with outcome [`Outcome::Unfinished`] (`end_ns` = `now`, so the
    /// latency is its age) and the flow, variant, initiator and responder its end record
    /// would have had. Outstanding HTTP requests first, then the N32 plane's, then the CAPIF
    /// plane's, each in a fixed order (map keys, invoker indices). A procedure with an end
    /// record is no longer outstanding anywhere, so none is counted twice. Call once, after
    /// the event loop and before [`SimWorld::take_records`].
    pub fn finish(&mut self, now: SimTime) {
        let keys: Vec<(ConnId, u32)> = self.outstanding.keys().copied().collect();
        for key in keys {
            self.record(key, now, Outcome::Unfinished, 0, 0);
        }
        if let Some(p) = &mut self.n32 {
            p.finish(&self.net, now, &mut self.records);
        }
        if let Some(p) = &mut self.capif {
            p.finish(&self.net, now, &mut self.records);
        }
    }

    /// The scenario as a simulation ready to run: the world built for `seed` and its initial
    /// events scheduled (turn the audit or the trace on before running, as needed). The one
    /// way every caller goes from a scenario to a running [`Sim`].
    pub fn simulation(topo_spec: &TopologyFile, exp: &ExperimentFile, seed: u64) -> Result<Sim<SimWorld>, BuildError> {
        let world = SimWorld::build(topo_spec, exp, seed)?;
        let initial = world.initial_events();
        let mut sim = Sim::new(world);
        for (t, node, msg) in initial {
            sim.schedule(t, node, msg);
        }
        Ok(sim)
    }

    /// Builds the world for one seed.
    pub fn build(topo_spec: &TopologyFile, exp: &ExperimentFile, seed: u64) -> Result<SimWorld, BuildError> {
        let topo = Topology::build(topo_spec, seed)?;
        let node_rng = topo_spec
            .nodes
            .iter()
            .map(|n| stream(seed, &format!("node:{}", n.name)))
            .collect();
        let lookup = |index: usize, name: &str| {
            topo.node_id(name).ok_or_else(|| BuildError::UnknownNode {
                index,
                name: name.to_string(),
            })
        };
        let mut flows = Vec::new();
        let mut n32_flows = Vec::new();
        let mut capif_flows = Vec::new();
        for (index, w) in exp.workload.iter().enumerate() {
            match w {
                WorkloadSpec::N32(f) => n32_flows.push((index, f)),
                WorkloadSpec::Capif(f) => capif_flows.push((index, f)),
                WorkloadSpec::Http(f) => {
                    let client = lookup(index, &f.client)?;
                    let server = lookup(index, &f.server)?;
                    let via = f.via.as_deref().map(|v| lookup(index, v)).transpose()?;
                    let label = f.name.clone().unwrap_or_else(|| match &f.via {
                        Some(v) => format!("{}->{} via {v}", f.client, f.server),
                        None => format!("{}->{}", f.client, f.server),
                    });
                    let arrival = f.arrival.process().map_err(|e| BuildError::Workload {
                        index,
                        message: format!("arrival: {e}"),
                    })?;
                    let processing = f.processing.as_ref().map(Latency::from_spec).transpose().map_err(|e| {
                        BuildError::Workload {
                            index,
                            message: format!("processing: {e}"),
                        }
                    })?;
                    flows.push(Flow {
                        rng: stream(seed, &format!("flow:{label}")),
                        label,
                        client,
                        server,
                        via,
                        arrival,
                        request_body: body_of(f.request_bytes),
                        response_body: body_of(f.response_bytes),
                        processing,
                        timeout: f.timeout,
                        start: SimTime::ZERO + f.start,
                        sent: 0,
                    });
                }
            }
        }
        let cfg = NetConfig {
            idle_timeout: exp.network.idle_timeout.unwrap_or(SimDuration::from_secs(60)),
            tls_to_proxy: exp.network.tls_to_proxy.unwrap_or(false),
            connect_timeout: exp.network.connect_timeout.unwrap_or(SimDuration::from_secs(3)),
            ..NetConfig::default()
        };
        let costs = exp.crypto.costs.clone().unwrap_or_default();
        costs.validate().map_err(|e| BuildError::Crypto(e.to_string()))?;
        let sec = Security::build(&topo, seed, exp.crypto.fidelity, costs).map_err(BuildError::Crypto)?;
        let mut net = Network::new(topo, cfg, sec);
        let warmup = SimTime::ZERO + exp.warmup;
        let node_count = net.topo.node_count();
        let mut n32_nodes = vec![false; node_count];
        let n32 = if n32_flows.is_empty() {
            None
        } else {
            let plane = n32::N32Plane::build(&mut net, &exp.n32, &n32_flows, seed).map_err(BuildError::Plane)?;
            for n in plane.nodes() {
                n32_nodes[n as usize] = true;
            }
            Some(plane)
        };
        let mut capif_nodes = vec![false; node_count];
        let capif = if capif_flows.is_empty() {
            None
        } else {
            let plane = crate::build::capif::plane(&mut net, topo_spec, &exp.capif, &capif_flows, seed)
                .map_err(BuildError::Plane)?;
            for n in plane.nodes() {
                capif_nodes[n as usize] = true;
            }
            Some(plane)
        };
        Ok(SimWorld {
            net,
            capif,
            capif_nodes,
            flows,
            node_rng,
            outstanding: BTreeMap::new(),
            records: Vec::new(),
            warmup,
            n32,
            n32_nodes,
        })
    }

    /// The N32 actors, if any.
    pub fn n32(&self) -> Option<&n32::N32Plane> {
        self.n32.as_ref()
    }

    /// The CAPIF actors, if any.
    pub fn capif(&self) -> Option<&capif::CapifPlane> {
        self.capif.as_ref()
    }

    /// Keeps every plane's audit events in memory for the invariant checker.
    pub fn enable_audit(&mut self) {
        if let Some(p) = &mut self.n32 {
            p.audit.enable();
        }
        if let Some(p) = &mut self.capif {
            p.driver.audit.enable();
        }
    }

    /// The audit events kept so far, all planes merged in time order (within one time, N32
    /// before CAPIF; each plane's own order kept).
    pub fn take_audit(&mut self) -> Vec<(SimTime, crate::check::AuditEvent)> {
        let mut v = Vec::new();
        if let Some(p) = &mut self.n32 {
            v.extend(p.audit.take());
        }
        if let Some(p) = &mut self.capif {
            v.extend(p.driver.audit.take());
        }
        v.sort_by_key(|(t, _)| *t);
        v
    }

    /// The initial events: each flow's first arrival at its start, at its client.
    pub fn initial_events(&self) -> Vec<(SimTime, NodeId, Msg)> {
        let mut v: Vec<_> = self
            .flows
            .iter()
            .enumerate()
            .map(|(i, f)| (f.start, f.client, Msg::Arrival(i as u32)))
            .collect();
        if let Some(p) = &self.n32 {
            v.extend(p.initial_events());
        }
        if let Some(p) = &self.capif {
            v.extend(p.initial_events());
        }
        v
    }

    fn next_gap(flow: &mut Flow) -> SimDuration {
        flow.arrival.next_gap(&mut flow.rng)
    }

    fn record(&mut self, key: (ConnId, u32), end: SimTime, outcome: Outcome, status: u16, response_bytes: u32) {
        let Some(o) = self.outstanding.remove(&key) else { return };
        let f = &self.flows[o.flow as usize];
        let topo = &self.net.topo;
        self.records.push(Record {
            procedure: "http_request",
            flow: f.label.clone(),
            variant: String::new(),
            result: String::new(),
            cause: String::new(),
            initiator: topo.name(f.client).to_string(),
            responder: topo.name(f.server).to_string(),
            via: f.via.map(|v| topo.name(v).to_string()).unwrap_or_default(),
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

    fn on_arrival(&mut self, ctx: &mut Ctx<'_, Msg>, fi: u32) {
        let f = &mut self.flows[fi as usize];
        let gap = Self::next_gap(f);
        f.sent += 1;
        let req = HttpRequest {
            headers: Default::default(),
            typed: None,
            method: "POST",
            path: format!("/secsim-test/v1/flows/{fi}/requests/{}", f.sent),
            schema: "",
            body: f.request_body.clone(),
        };
        let (client, server, via, timeout) = (f.client, f.server, f.via, f.timeout);
        let request_bytes = req.wire_bytes();
        let conns_before = self.net.conn_count();
        let was_ready = |net: &Network, c: ConnId| net.conn(c).ready_at.is_some();
        let (conn, stream) = self.net.request(ctx, client, server, via, req);
        let new_connection = self.net.conn_count() > conns_before || !was_ready(&self.net, conn);
        let timer = ctx.set_timer_for(client, timeout, Msg::Timeout { conn, stream });
        self.outstanding.insert(
            (conn, stream),
            Outstanding {
                flow: fi,
                start: ctx.now(),
                timer,
                new_connection,
                request_bytes,
            },
        );
        ctx.set_timer_for(client, gap, Msg::Arrival(fi));
    }

    fn on_net_event(&mut self, ctx: &mut Ctx<'_, Msg>, node: NodeId, ev: NetEvent) {
        match ev {
            NetEvent::Connected { .. } => {} // HTTP flows open connections with `request`
            NetEvent::ConnectRequest { conn, .. } => {
                // Plain proxies accept every tunnel (Roaming Intermediary policies come later).
                self.net.accept_connect(ctx, conn);
            }
            NetEvent::Request { conn, stream, req, .. } => {
                let flow = req
                    .path
                    .strip_prefix("/secsim-test/v1/flows/")
                    .and_then(|p| p.split('/').next())
                    .and_then(|p| p.parse::<u32>().ok())
                    .filter(|&f| (f as usize) < self.flows.len());
                let Some(flow) = flow else {
                    let rsp = HttpResponse {
                        headers: Default::default(),
                        typed: None,
                        status: 404,
                        schema: "",
                        body: String::new(),
                    };
                    self.net.respond(ctx, conn, stream, rsp);
                    return;
                };
                let delay = match &self.flows[flow as usize].processing {
                    Some(l) => SimDuration::from_nanos(l.sample(&mut self.node_rng[node as usize])),
                    None => SimDuration::ZERO,
                };
                ctx.set_timer_for(node, delay, Msg::Processed { conn, stream, flow });
            }
            NetEvent::Response { conn, stream, rsp } => {
                if let Some(o) = self.outstanding.get(&(conn, stream)) {
                    ctx.cancel(o.timer);
                }
                let outcome = if (200..300).contains(&rsp.status) {
                    Outcome::Ok
                } else {
                    Outcome::Error
                };
                let bytes = rsp.wire_bytes();
                self.record((conn, stream), ctx.now(), outcome, rsp.status, bytes);
            }
            NetEvent::Failed { conn, streams, cause } => {
                let (outcome, status) = match cause {
                    ConnFailure::Refused { status, .. } => (Outcome::Refused, status),
                    ConnFailure::Reset => (Outcome::Unreachable, 0),
                    ConnFailure::Unreachable => (Outcome::Unreachable, 0),
                    ConnFailure::Tls(_) => (Outcome::Error, 0),
                };
                for stream in streams {
                    if let Some(o) = self.outstanding.get(&(conn, stream)) {
                        ctx.cancel(o.timer);
                    }
                    self.record((conn, stream), ctx.now(), outcome, status, 0);
                }
            }
        }
    }
}

impl World for SimWorld {
    type Msg = Msg;

    fn handle(&mut self, ctx: &mut Ctx<'_, Msg>, ev: Event<Msg>) {
        let node = ev.to;
        match ev.msg {
            Msg::Net(wire) => {
                if let Some(e) = self.net.on_wire(ctx, node, wire) {
                    match (&mut self.n32, &mut self.capif) {
                        (Some(p), _) if self.n32_nodes[node as usize] => {
                            p.on_net_event(&mut self.net, ctx, node, e, &mut self.records)
                        }
                        (_, Some(p)) if self.capif_nodes[node as usize] => {
                            p.on_net_event(&mut self.net, ctx, node, e, &mut self.records)
                        }
                        _ => self.on_net_event(ctx, node, e),
                    }
                }
            }
            Msg::N32(m) => {
                if let Some(p) = &mut self.n32 {
                    p.on_msg(&mut self.net, ctx, m, &mut self.records);
                }
            }
            Msg::Capif(m) => {
                if let Some(p) = &mut self.capif {
                    p.on_msg(&mut self.net, ctx, m, &mut self.records);
                }
            }
            Msg::Arrival(f) => self.on_arrival(ctx, f),
            Msg::Processed { conn, stream, flow } => {
                let body = self.flows[flow as usize].response_body.clone();
                let rsp = HttpResponse {
                    headers: Default::default(),
                    typed: None,
                    status: 200,
                    schema: "",
                    body,
                };
                self.net.respond(ctx, conn, stream, rsp);
            }
            Msg::Timeout { conn, stream } => {
                debug_assert!(matches!(ev.kind, EventKind::Timer(_)));
                self.record((conn, stream), ctx.now(), Outcome::Timeout, 0, 0);
            }
        }
    }
}
