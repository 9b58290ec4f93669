//! The simulated world: the network plus one machine per node, built from a scenario; the
//! world only carries messages between them.
//!
//! ```text
//!  engine ──Event<Msg>──► SimWorld::handle
//!                           ├─ Msg::Net(wire) ─► Network::on_wire ─► NetEvent ─► the node's plane
//!                           └─ a machine's timer ─────────────────────────────► the node's plane
//!  plane router ─► driver::Driver::input (correlates) ─► Machine::handle ─► effects, applied in order
//! ```
//!
//! Nodes of N32 flows (cNF, SEPPs, pNF) and every Roaming Intermediary belong to the N32 plane
//! ([`n32`]), invokers, CCFs and AEFs to the CAPIF plane ([`capif`]); every other node runs a
//! plain HTTP machine ([`crate::proto::workload`]: client, server or CONNECT proxy of the
//! `Http` flows).

pub mod capif;
pub mod driver;
pub mod n32;

use crate::engine::{Ctx, Event, Sim, SimDuration, SimTime, World};
use crate::metrics::Record;
use crate::net::tls::Security;
use crate::net::{NetConfig, Network, NodeId, Topology, Wire};
use crate::proto::effect::{Effect, Input, Machine};
use crate::proto::workload::{self, HttpNode};
use crate::scenario::{ExperimentFile, TopologyFile, WorkloadSpec};
use driver::{Driver, Io};

/// Everything on the engine's queue.
#[derive(Clone, Debug)]
pub enum Msg {
    Net(Wire),
    /// A timer of the node's plain HTTP machine ([`crate::proto::workload`]).
    Http(workload::Timer),
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

/// The world of one run.
pub struct SimWorld {
    pub net: Network,
    /// Every node's plain HTTP machine (client, server, proxy of the `Http` flows).
    http: Vec<HttpNode>,
    http_driver: Driver<workload::Timer>,
    /// Each HTTP flow's first arrival.
    http_initial: Vec<(SimTime, NodeId, workload::Timer)>,
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
    /// run stopped at `now`, with outcome [`crate::metrics::Outcome::Unfinished`] (`end_ns` = `now`, so the
    /// latency is its age) and the flow, variant, initiator and responder its end record
    /// would have had. Outstanding HTTP requests first, then the N32 plane's, then the CAPIF
    /// plane's, each in a fixed order (map keys, invoker indices). A procedure with an end
    /// record is no longer outstanding anywhere, so none is counted twice. Call once, after
    /// the event loop and before [`SimWorld::take_records`].
    pub fn finish(&mut self, now: SimTime) {
        for m in &mut self.http {
            m.finish(now);
            while let Some(Effect::Record(r)) = m.poll_effect() {
                self.records.push(r);
            }
        }
        if let Some(p) = &mut self.n32 {
            p.finish(now, &mut self.records);
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
        let mut http_flows = Vec::new();
        let mut n32_flows = Vec::new();
        let mut capif_flows = Vec::new();
        for (index, w) in exp.workload.iter().enumerate() {
            match w {
                WorkloadSpec::N32(f) => n32_flows.push((index, f)),
                WorkloadSpec::Capif(f) => capif_flows.push((index, f)),
                WorkloadSpec::Http(f) => http_flows.push((index, f)),
            }
        }
        let http = crate::build::http::build(&topo, topo_spec, &http_flows, seed)?;
        let cfg = NetConfig {
            idle_timeout: exp.network.idle_timeout.unwrap_or(SimDuration::from_secs(60)),
            tls_to_proxy: exp.network.tls_to_proxy.unwrap_or(false),
            connect_timeout: exp.network.connect_timeout.unwrap_or(SimDuration::from_secs(3)),
            ..NetConfig::default()
        };
        let costs = exp.crypto.costs.clone().unwrap_or_default();
        costs.validate().map_err(|e| BuildError::Crypto(e.to_string()))?;
        let mut sec = Security::build(&topo, seed, exp.crypto.fidelity, costs).map_err(BuildError::Crypto)?;
        sec.mutants = exp.mutants();
        let mut net = Network::new(topo, cfg, sec);
        let warmup = SimTime::ZERO + exp.warmup;
        let node_count = net.topo.node_count();
        let mut n32_nodes = vec![false; node_count];
        let n32 = if n32_flows.is_empty() {
            None
        } else {
            let plane = n32::N32Plane::build(&mut net, exp, &n32_flows, seed).map_err(BuildError::Plane)?;
            for n in plane.nodes() {
                n32_nodes[n as usize] = true;
            }
            Some(plane)
        };
        let mut capif_nodes = vec![false; node_count];
        let capif = if capif_flows.is_empty() {
            None
        } else {
            let plane =
                crate::build::capif::plane(&mut net, topo_spec, &exp.capif, &capif_flows, (seed, exp.mutants()))
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
            http: http.nodes,
            http_driver: Driver::new(|_, t| Msg::Http(t)),
            http_initial: http.initial,
            records: Vec::new(),
            warmup,
            n32,
            n32_nodes,
        })
    }

    /// The N32 actors, if any.
    pub fn n32(&self) -> Option<&crate::proto::n32::node::N32Nodes> {
        self.n32.as_ref().map(|p| &p.nodes)
    }

    /// The CAPIF actors, if any.
    pub fn capif(&self) -> Option<&capif::CapifPlane> {
        self.capif.as_ref()
    }

    /// Keeps every plane's audit events in memory for the invariant checker.
    pub fn enable_audit(&mut self) {
        if let Some(p) = &mut self.n32 {
            p.driver.audit.enable();
        }
        if let Some(p) = &mut self.capif {
            p.driver.audit.enable();
        }
    }

    /// The audit events kept so far, all planes merged in time order (within one time, N32
    /// before CAPIF; each plane's own order kept).
    pub fn take_audit(&mut self) -> Vec<(SimTime, crate::audit::AuditEvent)> {
        let mut v = Vec::new();
        if let Some(p) = &mut self.n32 {
            v.extend(p.driver.audit.take());
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
            .http_initial
            .iter()
            .map(|&(t, n, timer)| (t, n, Msg::Http(timer)))
            .collect();
        if let Some(p) = &self.n32 {
            v.extend(p.initial_events());
        }
        if let Some(p) = &self.capif {
            v.extend(p.initial_events());
        }
        v
    }

    /// Hands `input` to `node`'s plain HTTP machine and applies its effects.
    fn http_input(&mut self, ctx: &mut Ctx<'_, Msg>, node: NodeId, input: Input<workload::Timer>) {
        let mut io = Io {
            net: &mut self.net,
            ctx,
            records: &mut self.records,
        };
        self.http_driver
            .handle(&mut io, node, &mut self.http[node as usize], input);
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
                            let mut io = driver::Io {
                                net: &mut self.net,
                                ctx,
                                records: &mut self.records,
                            };
                            p.on_net_event(&mut io, node, e)
                        }
                        (_, Some(p)) if self.capif_nodes[node as usize] => {
                            let mut io = Io {
                                net: &mut self.net,
                                ctx,
                                records: &mut self.records,
                            };
                            p.on_net_event(&mut io, node, e)
                        }
                        _ => {
                            if let Some(input) = self.http_driver.input(node, e) {
                                self.http_input(ctx, node, input);
                            }
                        }
                    }
                }
            }
            Msg::N32(m) => {
                if let Some(p) = &mut self.n32 {
                    p.on_msg(
                        &mut driver::Io {
                            net: &mut self.net,
                            ctx,
                            records: &mut self.records,
                        },
                        m,
                    );
                }
            }
            Msg::Capif(m) => {
                if let Some(p) = &mut self.capif {
                    let mut io = Io {
                        net: &mut self.net,
                        ctx,
                        records: &mut self.records,
                    };
                    p.on_msg(&mut io, m);
                }
            }
            Msg::Http(timer) => {
                self.http_driver.fired(node, &timer);
                self.http_input(ctx, node, Input::Timer(timer));
            }
        }
    }
}
