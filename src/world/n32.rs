//! The N32 plane's router: carries messages between the node machines of
//! [`crate::proto::n32::node`] (cNF, SEPP, pNF) and [`crate::proto::roaming::node`] (RI)
//! through the generic [`Driver`]; the machines, built by [`crate::build::n32`], hold every
//! protocol decision. The router adds only what the network model itself provides: a node's
//! TLS secrets of a connection, a reset stream's notice to its server, and the on-path RIs'
//! reaction to a direct connection attempt.

use std::collections::BTreeMap;

use crate::audit::AuditEvent;
use crate::crypto::n32f::Direction;
use crate::engine::SimTime;
use crate::metrics::Record;
use crate::net::{NetEvent, Network, NodeId};
use crate::proto::effect::{Effect, Inbound, Input, Machine};
use crate::proto::n32::node::{N32Node, Numbering, Timer};
use crate::proto::n32::prins::N32fErrorType;
use crate::scenario::{N32FlowSpec, N32Spec};

use super::Msg;
use super::driver::{Driver, Io};

pub use crate::proto::n32::node::SBI_PATH;

/// Engine messages of the N32 plane.
#[derive(Clone, Debug)]
pub enum N32Msg {
    /// A timer of `node`'s machine.
    Timer { node: NodeId, timer: Timer },
    /// The operator terminates every PRINS context (every SEPP takes it).
    Terminate,
}

/// The N32 machines of one run and their driver.
pub struct N32Plane {
    nodes: BTreeMap<NodeId, N32Node>,
    driver: Driver<Timer>,
    numbering: Numbering,
    initial: Vec<(SimTime, NodeId, Msg)>,
}

impl N32Plane {
    /// Builds the plane; `flows` are (index in the workload, spec).
    pub fn build(
        net: &mut Network,
        spec: &N32Spec,
        flows: &[(usize, &N32FlowSpec)],
        seed: u64,
    ) -> Result<N32Plane, String> {
        let b = crate::build::n32::build(net, spec, flows, seed)?;
        let timer = |node, timer| Msg::N32(N32Msg::Timer { node, timer });
        let mut initial: Vec<_> = b.arrivals.into_iter().map(|(t, n, a)| (t, n, timer(n, a))).collect();
        initial.extend(
            b.terminations
                .into_iter()
                .map(|(t, n)| (t, n, Msg::N32(N32Msg::Terminate))),
        );
        Ok(N32Plane {
            nodes: b.nodes,
            driver: Driver::new(timer),
            numbering: Numbering::default(),
            initial,
        })
    }

    /// Nodes this plane owns (their network events come here).
    pub fn nodes(&self) -> Vec<NodeId> {
        self.nodes.keys().copied().collect()
    }

    /// Each flow's first arrival, then the scripted terminations.
    pub fn initial_events(&self) -> Vec<(SimTime, NodeId, Msg)> {
        self.initial.clone()
    }

    /// Keeps audit events in memory.
    pub fn enable_audit(&mut self) {
        self.driver.audit.enable();
    }

    /// The audit events kept so far.
    pub fn take_audit(&mut self) -> Vec<(SimTime, AuditEvent)> {
        self.driver.audit.take()
    }

    /// Censoring (issue 12): the unfinished cNF requests and PRINS messages in (connection,
    /// stream) order, then the handshakes in progress in (c-SEPP, p-SEPP) order.
    pub fn finish(&self, now: SimTime, records: &mut Vec<Record>) {
        for (node, corr) in self.driver.outstanding() {
            records.extend(self.nodes.get(&node).and_then(|m| m.unfinished(corr, now)));
        }
        for m in self.nodes.values() {
            if let N32Node::Sepp(s) = m {
                records.extend(s.unfinished_handshakes(now));
            }
        }
    }

    /// Handles an N32 engine message.
    pub fn on_msg(&mut self, io: &mut Io<'_, '_>, m: N32Msg) {
        match m {
            N32Msg::Timer { node, timer } => {
                self.driver.fired(node, &timer);
                self.run(io, node, Input::Timer(timer));
            }
            N32Msg::Terminate => {
                let sepps: Vec<NodeId> = self
                    .nodes
                    .iter()
                    .filter(|(_, m)| matches!(m, N32Node::Sepp(_)))
                    .map(|(&n, _)| n)
                    .collect();
                for n in sepps {
                    self.run(io, n, Input::Timer(Timer::Terminate));
                }
            }
        }
    }

    /// A network event at one of this plane's nodes.
    pub fn on_net_event(&mut self, io: &mut Io<'_, '_>, node: NodeId, ev: NetEvent) {
        match (&ev, self.nodes.get_mut(&node)) {
            // The cNF's connection failed: its requests' streams are gone at the server too.
            (NetEvent::Failed { conn, streams, .. }, Some(N32Node::Cnf(_))) => {
                for &stream in streams {
                    self.reset(io.net, Inbound { conn: *conn, stream });
                }
            }
            // The node's own TLS stack: the secrets of the connection the input arrives on.
            (NetEvent::Request { conn, .. }, Some(N32Node::Sepp(s))) => {
                s.set_tls_secrets(*conn, io.net.conn(*conn).tls.server_secrets.clone())
            }
            (NetEvent::Response { conn, .. }, Some(N32Node::Sepp(s))) => {
                s.set_tls_secrets(*conn, io.net.conn(*conn).tls.client_secrets.clone())
            }
            _ => {}
        }
        if let Some(input) = self.driver.input(node, ev) {
            self.run(io, node, input);
        }
    }

    fn run(&mut self, io: &mut Io<'_, '_>, node: NodeId, input: Input<Timer>) {
        let Some(m) = self.nodes.get_mut(&node) else { return };
        m.set_audit(self.driver.audit.active(io.ctx));
        m.lend(self.numbering);
        m.handle(io.ctx.now(), input);
        self.numbering = m.numbering(self.numbering);
        let effects: Vec<_> = std::iter::from_fn(|| m.poll_effect()).collect();
        for e in effects {
            match e {
                Effect::DirectAttempt { to } => self.direct_attempt(io, node, to),
                Effect::Abandon(corr) => {
                    if let Some(at) = self.driver.forget(node, corr) {
                        self.reset(io.net, at);
                    }
                }
                e => self.driver.apply(io, node, e),
            }
        }
    }

    /// The server of a reset stream learns it (the network carries no RST_STREAM).
    fn reset(&mut self, net: &Network, at: Inbound) {
        if let Some(N32Node::Sepp(s)) = self.nodes.get_mut(&net.conn(at.conn).server) {
            s.stream_reset(at);
        }
    }

    /// Every RI on the route from `csepp` to `psepp` decides whether it carries a direct
    /// connection; the network applies the reaction of the first that will not.
    fn direct_attempt(&mut self, io: &mut Io<'_, '_>, csepp: NodeId, psepp: NodeId) {
        let topo = &mut io.net.topo;
        let path = topo.path(csepp, psepp).unwrap_or_default();
        let hops: Vec<NodeId> = path
            .iter()
            .filter_map(|&e| topo.graph.edge_endpoints(e).map(|(_, b)| b.index() as NodeId))
            .collect();
        let (now, mut action) = (io.ctx.now(), (0, None));
        for n in hops {
            if let Some(N32Node::Ri(ri)) = self.nodes.get_mut(&n)
                && let Some(a) = ri.direct_attempt(now, csepp, psepp)
            {
                action = (n, Some(a));
                break;
            }
        }
        self.driver.apply(
            io,
            action.0,
            Effect::Intercept {
                client: csepp,
                server: psepp,
                action: action.1,
            },
        );
    }

    /// For every established PRINS context: whether the c-SEPP's and the p-SEPP's N32-f keys
    /// are equal (both derived from the same N32-c exporter and context ids).
    pub fn key_agreement(&self) -> Vec<bool> {
        let sepps = self.nodes.values().filter_map(|m| match m {
            N32Node::Sepp(s) => Some(s),
            _ => None,
        });
        let agree = |psepp: NodeId, peer_id: &str, local_id: &str, keys: &crate::crypto::n32f::N32fKeys| match self
            .nodes
            .get(&psepp)
        {
            Some(N32Node::Sepp(p)) => p
                .recv_context(peer_id)
                .is_some_and(|(id, k)| id == local_id && Direction::ALL.iter().all(|&d| k.get(d) == keys.get(d))),
            _ => false,
        };
        sepps
            .flat_map(|s| {
                s.send_contexts()
                    .map(|(p, peer_id, local_id, keys)| agree(p, peer_id, local_id, keys))
            })
            .collect()
    }

    /// Faults injected: (message id, the N32fErrorType the receiver must report), in order.
    pub fn injected(&self) -> Vec<(u64, N32fErrorType)> {
        self.gather(|s| &s.injected)
    }

    /// Faults the p-SEPPs detected: (message id, reported type), from their n32f-error.
    pub fn detected(&self) -> Vec<(u64, N32fErrorType)> {
        self.gather(|s| &s.detected)
    }

    fn gather(
        &self,
        f: impl Fn(&crate::proto::n32::node::sepp::Sepp) -> &Vec<(u64, N32fErrorType)>,
    ) -> Vec<(u64, N32fErrorType)> {
        let mut v: Vec<_> = self
            .nodes
            .values()
            .filter_map(|m| match m {
                N32Node::Sepp(s) => Some(f(s).clone()),
                _ => None,
            })
            .flatten()
            .collect();
        v.sort_by_key(|x| x.0);
        v
    }
}
