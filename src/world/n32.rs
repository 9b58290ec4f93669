//! The N32 plane's router: carries messages between the machines of [`crate::proto::n32::node`]
//! and [`crate::proto::roaming::node`] (built by [`crate::build::n32`]) through the [`Driver`],
//! adding only what the network model provides: a node's TLS secrets of a connection, a reset
//! stream's notice to its server, the route a direct connection attempt takes past the RIs.

use crate::engine::SimTime;
use crate::metrics::Record;
use crate::net::{NetEvent, NodeId};
use crate::proto::effect::{Effect, Inbound, Input};
use crate::proto::n32::node::{N32Node, N32Nodes, Timer};

use super::Msg;
use super::driver::{Driver, Io};

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
    /// The machines by address (tests observe them).
    pub nodes: N32Nodes,
    /// Their driver (its audit sink is the plane's).
    pub driver: Driver<Timer>,
    pub(crate) initial: Vec<(SimTime, NodeId, Msg)>,
}

pub(crate) fn timer(node: NodeId, timer: Timer) -> Msg {
    Msg::N32(N32Msg::Timer { node, timer })
}

impl N32Plane {
    /// Censoring (issue 12): the unfinished cNF requests and PRINS messages in (connection,
    /// stream) order, then the handshakes in progress in (c-SEPP, p-SEPP) order.
    pub fn finish(&self, now: SimTime, records: &mut Vec<Record>) {
        for (node, corr) in self.driver.outstanding() {
            records.extend(self.nodes.machines.get(&node).and_then(|m| m.unfinished(corr, now)));
        }
        records.extend(self.nodes.unfinished_handshakes(now));
    }

    /// Handles an N32 engine message.
    pub fn on_msg(&mut self, io: &mut Io<'_, '_>, m: N32Msg) {
        match m {
            N32Msg::Timer { node, timer } => {
                self.driver.fired(node, &timer);
                self.run(io, node, Input::Timer(timer));
            }
            N32Msg::Terminate => {
                for n in self.nodes.sepp_nodes() {
                    self.run(io, n, Input::Timer(Timer::Terminate));
                }
            }
        }
    }

    /// A network event at one of this plane's nodes.
    pub fn on_net_event(&mut self, io: &mut Io<'_, '_>, node: NodeId, ev: NetEvent) {
        match (&ev, self.nodes.machines.get_mut(&node)) {
            // The cNF's connection failed: its requests' streams are gone at the server too.
            (NetEvent::Failed { conn, streams, .. }, Some(N32Node::Cnf(_))) => {
                let server = io.net.ends(*conn).1;
                for &stream in streams {
                    self.nodes.stream_reset(server, Inbound { conn: *conn, stream });
                }
            }
            // The node's own TLS stack: the secrets of the connection the input arrives on.
            (NetEvent::Request { conn, .. } | NetEvent::Response { conn, .. }, Some(N32Node::Sepp(s))) => {
                let server = matches!(ev, NetEvent::Request { .. });
                s.set_tls_secrets(*conn, io.net.tls_secrets(*conn, server));
            }
            _ => {}
        }
        if let Some(input) = self.driver.input(node, ev) {
            self.run(io, node, input);
        }
    }

    /// Hands `input` to `node`'s machine and applies its effects in order.
    fn run(&mut self, io: &mut Io<'_, '_>, node: NodeId, input: Input<Timer>) {
        let audit = self.driver.audit.active(io.ctx);
        let effects = self.nodes.handle(node, io.ctx.now(), input, audit);
        for e in effects {
            match e {
                Effect::DirectAttempt { to } => {
                    // The RIs on the route, in order, meet the attempt.
                    let hops = io.net.route_nodes(node, to);
                    let (at, action) = self.nodes.direct_attempt(io.ctx.now(), &hops, (node, to));
                    let intercept = Effect::Intercept {
                        client: node,
                        server: to,
                        action,
                    };
                    self.driver.apply(io, at, intercept);
                }
                Effect::Abandon(corr) => {
                    if let Some(at) = self.driver.forget(node, corr) {
                        let server = io.net.ends(at.conn).1;
                        self.nodes.stream_reset(server, at);
                    }
                }
                e => {
                    self.driver.apply(io, node, e);
                }
            }
        }
    }
}
