//! The CAPIF plane's router: carries messages between the node machines of
//! [`crate::proto::capif::node`] (invoker, CCF, AEF, APF; built by [`crate::build::capif`])
//! through the [`Driver`], adding only what each node's own stack provides (the peer its
//! TLS stack authenticated, the secrets of a connection), the scripted changes at their time
//! (method changes, revocations, CCF restarts, which also reset the restarting CCF's
//! connections), and measurement: the world's independent checks
//! ([`crate::proto::capif::observer`]) and labels of audit facts.

use std::collections::BTreeMap;

use crate::audit::capif::{CapifAudit, SetupAudit};
use crate::audit::label::Labeller;
use crate::engine::SimTime;
use crate::metrics::Record;
use crate::net::{NetEvent, Network, NodeId};
use crate::proto::capif::node::{CHECK_PATH, CapifNode, CapifTimer, REVOKE_PATH, Scripted};
use crate::proto::capif::observer::{CapifChecks, Observer, Wire, observe_node};
use crate::proto::effect::{Effect, Input, Machine};

use super::Msg;
use super::driver::{Driver, Io};

/// Engine messages of the CAPIF plane.
#[derive(Clone, Debug)]
pub enum CapifMsg {
    /// A timer of the node machine at `node`.
    Timer { node: NodeId, timer: CapifTimer },
    /// Scripted event `k` (method changes, revocations, CCF restarts, in that order).
    Script(u32),
}

/// The CAPIF machines of one run and their driver.
pub struct CapifPlane {
    pub nodes: BTreeMap<NodeId, CapifNode>,
    /// The invokers, in the order of the flows.
    pub invokers: Vec<NodeId>,
    /// Their driver (its audit sink is the plane's).
    pub driver: Driver<CapifTimer>,
    pub checks: CapifChecks,
    pub(crate) observer: Observer,
    pub(crate) setup: Option<SetupAudit>,
    pub(crate) initial: Vec<(SimTime, NodeId, Msg)>,
    /// The scripted events: the nodes each is handed to, in order.
    pub(crate) scripts: Vec<(Vec<NodeId>, Scripted)>,
    /// Labels of the machines' audit facts.
    pub(crate) labeller: Labeller,
    /// API invoker ID → the invoker's address (the checks look the invoker up).
    ids: BTreeMap<String, NodeId>,
}

pub(crate) fn timer(node: NodeId, timer: CapifTimer) -> Msg {
    Msg::Capif(CapifMsg::Timer { node, timer })
}

impl CapifPlane {
    pub(crate) fn new(nodes: BTreeMap<NodeId, CapifNode>, invokers: Vec<NodeId>, observer: Observer) -> CapifPlane {
        CapifPlane {
            nodes,
            invokers,
            driver: Driver::new(timer),
            checks: CapifChecks::default(),
            observer,
            setup: None,
            initial: Vec::new(),
            scripts: Vec::new(),
            labeller: Labeller::default(),
            ids: BTreeMap::new(),
        }
    }

    /// Censoring (issue 12): each invoker's procedures under way at `now`, in flow order.
    pub fn finish(&mut self, net: &Network, now: SimTime, records: &mut Vec<Record>) {
        for n in &self.invokers {
            if let Some(CapifNode::Invoker(i)) = self.nodes.get_mut(n) {
                i.finish(now);
                self.driver.finish(net, *n, &mut **i, records);
            }
        }
    }

    /// Handles one of the plane's engine messages.
    pub fn on_msg(&mut self, io: &mut Io<'_, '_>, m: CapifMsg) {
        if let Some(s) = self.setup.take()
            && self.driver.audit.active(io.ctx)
        {
            self.driver.audit.emit(io.ctx, CapifAudit::Setup(Box::new(s)));
        }
        let now = io.ctx.now();
        match m {
            CapifMsg::Timer { node, timer } => {
                self.driver.fired(node, &timer);
                self.run(io, node, Some(Input::Timer(timer)));
            }
            CapifMsg::Script(k) => {
                let Some((nodes, ev)) = self.scripts.get(k as usize).cloned() else {
                    return;
                };
                for &n in &nodes {
                    self.with(io, n, |m| m.scripted(now, &ev));
                }
                if let Scripted::Restart { .. } = ev {
                    for &n in &nodes {
                        io.net.reset_connections(io.ctx, n);
                    }
                }
            }
        }
    }

    /// Calls `f` on `node`'s machine and applies the effects it pushed.
    fn with(&mut self, io: &mut Io<'_, '_>, node: NodeId, f: impl FnOnce(&mut CapifNode) -> bool) {
        let audit = self.driver.audit.active(io.ctx);
        let Some(m) = self.nodes.get_mut(&node) else { return };
        m.set_audit(audit);
        if f(m) {
            self.run(io, node, None);
        }
    }

    /// A network event at one of this plane's nodes.
    pub fn on_net_event(&mut self, io: &mut Io<'_, '_>, node: NodeId, ev: NetEvent) {
        if let NetEvent::ConnectRequest { conn, .. } = ev {
            self.driver.apply(io, node, Effect::AcceptTunnel(conn));
            return;
        }
        let audit = self.driver.audit.active(io.ctx);
        let now = io.ctx.now();
        let net = &*io.net;
        match (&ev, self.nodes.get_mut(&node)) {
            // The node's own TLS stack: the peer it authenticated and the connection's secrets.
            (NetEvent::Request { conn, client, .. }, Some(CapifNode::Ccf(c))) => {
                let name = net.identity(*client).1;
                c.peer_seen(name, net.tls_secrets(*conn, true));
            }
            (NetEvent::Response { conn, .. }, Some(CapifNode::Invoker(i))) => {
                i.set_tls_secrets(*conn, net.tls_secrets(*conn, false));
            }
            (NetEvent::Request { conn, client, req, .. }, Some(CapifNode::Aef(a)))
                if req.path != CHECK_PATH && req.path != REVOKE_PATH =>
            {
                let (cert, name) = net.identity(*client);
                let mode = net.tls_mode(*conn);
                let seen = (mode, cert, name);
                let (peer, facts) = self.observer.aef_peer((now, &**a), seen, (*conn, req), audit);
                a.peer_seen(peer, facts);
            }
            _ => {}
        }
        let input = self.driver.input(node, ev);
        if input.is_some() {
            self.run(io, node, input);
        }
    }

    /// Hands `input` (if any) to `node`'s machine and applies its effects in order, labelling
    /// its audit facts; then the world's checks of what an AEF observed, and a CCF's counts.
    fn run(&mut self, io: &mut Io<'_, '_>, node: NodeId, input: Option<Input<CapifTimer>>) {
        let audit = self.driver.audit.active(io.ctx);
        let Some(m) = self.nodes.get_mut(&node) else { return };
        m.set_audit(audit);
        let now = io.ctx.now();
        if let Some(input) = input {
            m.handle(now, input);
        }
        while let Some(e) = m.poll_effect() {
            let e = match e {
                Effect::Audit(ev) => Effect::Audit(Box::new(self.labeller.label(node, *ev))),
                e => e,
            };
            if let Some(report) = self.driver.apply(io, node, e) {
                m.handle(now, report);
            }
        }
        let net = &*io.net;
        let wire = |c| Wire::of(net.tls_mode(c), net.identity(net.ends(c).0).0);
        let checks = (&self.observer, &mut self.checks);
        observe_node(checks, (&mut self.nodes, &mut self.ids), (node, now), wire);
    }
}
