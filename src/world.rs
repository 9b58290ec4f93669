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

pub use crate::build::BuildError;
use crate::engine::{Ctx, Event, SimTime, World};
use crate::metrics::Record;
use crate::net::{Network, NodeId, Wire};
use crate::proto::effect::{Effect, Input, Machine};
use crate::proto::workload::{self, HttpNode};
pub(crate) use driver::{Driver, Io};

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

/// The world of one run.
pub struct SimWorld {
    pub net: Network,
    /// Every node's plain HTTP machine (client, server, proxy of the `Http` flows).
    pub(crate) http: Vec<HttpNode>,
    pub(crate) http_driver: Driver<workload::Timer>,
    /// Each HTTP flow's first arrival.
    pub(crate) http_initial: Vec<(SimTime, NodeId, workload::Timer)>,
    /// Records of completed procedures, in completion order (warm-up not yet applied: see
    /// [`SimWorld::take_records`]).
    pub records: Vec<Record>,
    /// Records of procedures that began before this are left out, whatever their kind.
    pub(crate) warmup: SimTime,
    /// The most records [`SimWorld::records`] may hold: an event that brings it there stops
    /// the run ([`SimWorld::record_limit_reached`]). Default: no bound.
    pub max_records: usize,
    /// The N32 actors, if the workload has N32 flows.
    pub(crate) n32: Option<n32::N32Plane>,
    /// Nodes whose network events go to the N32 plane.
    pub(crate) n32_nodes: Vec<bool>,
    /// The CAPIF actors, if the workload has Capif flows.
    pub(crate) capif: Option<capif::CapifPlane>,
    /// Nodes whose network events go to the CAPIF plane.
    pub(crate) capif_nodes: Vec<bool>,
}

impl SimWorld {
    /// Whether the records reached [`SimWorld::max_records`] (the run was stopped for it).
    pub fn record_limit_reached(&self) -> bool {
        self.records.len() >= self.max_records
    }

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
                self.records.push(*r);
            }
        }
        if let Some(p) = &mut self.n32 {
            p.finish(now, &mut self.records);
        }
        if let Some(p) = &mut self.capif {
            p.finish(&self.net, now, &mut self.records);
        }
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
        v.extend(self.n32.iter().flat_map(|p| p.initial.iter().cloned()));
        v.extend(self.capif.iter().flat_map(|p| p.initial.iter().cloned()));
        v
    }
}

impl World for SimWorld {
    type Msg = Msg;

    fn handle(&mut self, ctx: &mut Ctx<'_, Msg>, ev: Event<Msg>) {
        let node = ev.to;
        let mut io = Io {
            net: &mut self.net,
            ctx,
            records: &mut self.records,
        };
        match ev.msg {
            Msg::Net(wire) => {
                let Some(e) = io.net.on_wire(io.ctx, node, wire) else {
                    return;
                };
                match (&mut self.n32, &mut self.capif) {
                    (Some(p), _) if self.n32_nodes[node as usize] => p.on_net_event(&mut io, node, e),
                    (_, Some(p)) if self.capif_nodes[node as usize] => p.on_net_event(&mut io, node, e),
                    _ => {
                        if let Some(input) = self.http_driver.input(node, e) {
                            let m = &mut self.http[node as usize];
                            self.http_driver.handle(&mut io, node, m, input);
                        }
                    }
                }
            }
            Msg::N32(m) => {
                if let Some(p) = &mut self.n32 {
                    p.on_msg(&mut io, m);
                }
            }
            Msg::Capif(m) => {
                if let Some(p) = &mut self.capif {
                    p.on_msg(&mut io, m);
                }
            }
            Msg::Http(timer) => {
                self.http_driver.fired(node, &timer);
                let m = &mut self.http[node as usize];
                self.http_driver.handle(&mut io, node, m, Input::Timer(timer));
            }
        }
        if self.record_limit_reached() {
            // The record budget (`crate::run::MAX_RECORDS_IN_MEMORY`): the run ends here.
            ctx.stop();
        }
    }
}
