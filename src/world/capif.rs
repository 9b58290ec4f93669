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
use crate::engine::{SimDuration, SimTime};
use crate::metrics::Record;
use crate::net::{NetEvent, Network, NodeId};
use crate::proto::capif::machines::InvokerState;
use crate::proto::capif::node::{CHECK_PATH, CapifNode, CapifTimer, REVOKE_PATH};
use crate::proto::capif::observer::{CapifChecks, Observer, Wire, invoker_facts};
use crate::proto::capif::types::SecurityMethod;
use crate::proto::effect::{Effect, Input, Machine};

use super::Msg;
use super::driver::{Driver, Io};

/// Engine messages of the CAPIF plane.
#[derive(Clone, Debug)]
pub enum CapifMsg {
    /// A timer of the node machine at `node`.
    Timer { node: NodeId, timer: CapifTimer },
    /// `capif.method_changes[k]`.
    MethodChange(u32),
    /// `capif.revocations[k]`.
    Revoke(u32),
    /// `capif.ccf_restarts[k]`.
    CcfRestart(u32),
}

/// A scripted method change: the AEF, the APF that publishes it (if one is modelled), the
/// AEF's CCF, the new methods.
pub(crate) struct ChangeAt {
    pub aef: NodeId,
    pub aef_id: String,
    pub apf: Option<NodeId>,
    pub ccf: NodeId,
    pub methods: Vec<SecurityMethod>,
}

/// The CAPIF machines of one run and their driver.
pub struct CapifPlane {
    pub(crate) nodes: BTreeMap<NodeId, CapifNode>,
    /// The invokers, in the order of the flows.
    pub(crate) invokers: Vec<NodeId>,
    /// Their driver (its audit sink is the plane's).
    pub driver: Driver<CapifTimer>,
    pub checks: CapifChecks,
    pub(crate) observer: Observer,
    pub(crate) setup: Option<SetupAudit>,
    pub(crate) initial: Vec<(SimTime, NodeId, Msg)>,
    pub(crate) changes: Vec<(SimTime, ChangeAt)>,
    /// (CCF, invoker, AEF ID) of each revocation; (CCF, down) of each restart.
    pub(crate) revocations: Vec<(NodeId, NodeId, String)>,
    pub(crate) restarts: Vec<(NodeId, SimDuration)>,
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
            changes: Vec::new(),
            revocations: Vec::new(),
            restarts: Vec::new(),
            labeller: Labeller::default(),
            ids: BTreeMap::new(),
        }
    }

    /// Every node whose network events belong to this plane.
    pub fn nodes(&self) -> Vec<NodeId> {
        self.nodes.keys().copied().collect()
    }

    /// The invoker machines (for tests): name, state, selected method.
    pub fn invoker_states(&self) -> Vec<(String, InvokerState, Option<SecurityMethod>)> {
        let inv = self.invokers.iter().filter_map(|n| match self.nodes.get(n) {
            Some(CapifNode::Invoker(i)) => Some(i),
            _ => None,
        });
        inv.map(|i| (i.config().name.clone(), i.m.state(), i.m.method().cloned()))
            .collect()
    }

    /// The AEFPSK the invoker on `node` holds and the one its AEF holds for it (for tests).
    pub fn aefpsk_pair(&self, node: NodeId) -> Option<([u8; 32], Option<[u8; 32]>)> {
        let Some(CapifNode::Invoker(i)) = self.nodes.get(&node) else {
            return None;
        };
        let (key, id) = (i.m.aefpsk()?.key, i.m.api_invoker_id()?);
        let Some(CapifNode::Aef(aef)) = self.nodes.get(&i.config().aef) else {
            return None;
        };
        Some((key, aef.m.psk().entry(id).map(|e| e.key)))
    }

    /// The initial events: onboarding starts and scripted changes.
    pub fn initial_events(&self) -> Vec<(SimTime, NodeId, Msg)> {
        self.initial.clone()
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
            CapifMsg::MethodChange(k) => {
                let Some((_, c)) = self.changes.get(k as usize) else {
                    return;
                };
                let (aef, apf, ccf, aef_id, methods) = (c.aef, c.apf, c.ccf, c.aef_id.clone(), c.methods.clone());
                // The AEF changes its methods now; uses of the old ones fail from here on.
                self.with(io, aef, |n| n.aef().map(|a| a.change_methods(&methods)).is_some());
                for i in self.invokers.clone() {
                    self.with(io, i, |n| {
                        let inv = n.invoker().filter(|v| v.config().aef == aef);
                        inv.map(|v| v.handle_aef_change(now, &methods)).is_some()
                    });
                }
                // The APF publishes it at the AEF's CCF; without an APF the CCF learns it at once.
                match apf {
                    Some(apf) => self.with(io, apf, |n| {
                        n.apf().map(|a| a.publish_change(&aef_id, &methods)).is_some()
                    }),
                    None => self.with(io, ccf, |n| {
                        n.ccf().map(|c| c.handle_aef_change(&aef_id, &methods)).is_some()
                    }),
                }
            }
            CapifMsg::Revoke(k) => {
                let Some((ccf, invoker, aef_id)) = self.revocations.get(k as usize).cloned() else {
                    return;
                };
                self.with(io, ccf, |n| {
                    n.ccf().map(|c| c.handle_revocation(now, invoker, &aef_id)).is_some()
                });
            }
            CapifMsg::CcfRestart(k) => {
                let Some(&(ccf, down)) = self.restarts.get(k as usize) else {
                    return;
                };
                self.with(io, ccf, |n| n.ccf().map(|c| c.handle_restart(now, down)).is_some());
                Driver::<CapifTimer>::reset_connections(io.net, io.ctx, ccf);
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
                let name = Driver::<CapifTimer>::identity(net, *client).1;
                c.peer_seen(name, Driver::<CapifTimer>::tls_secrets(net, *conn, true));
            }
            (NetEvent::Response { conn, .. }, Some(CapifNode::Invoker(i))) => {
                i.set_tls_secrets(*conn, Driver::<CapifTimer>::tls_secrets(net, *conn, false));
            }
            (NetEvent::Request { conn, client, req, .. }, Some(CapifNode::Aef(a)))
                if req.path != CHECK_PATH && req.path != REVOKE_PATH =>
            {
                let (cert, name) = Driver::<CapifTimer>::identity(net, *client);
                let mode = Driver::<CapifTimer>::tls_mode(net, *conn);
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
                Effect::Audit(ev) => Effect::Audit(self.labeller.label(node, ev)),
                e => e,
            };
            if let Some(report) = self.driver.apply(io, node, e) {
                m.handle(now, report);
            }
        }
        self.observe(io.net, node, now);
    }

    /// The world's independent checks of what the AEF at `node` observed, and a CCF's counts
    /// (measurement only: they read the wire and the machines, and decide nothing).
    fn observe(&mut self, net: &Network, node: NodeId, now: SimTime) {
        let observed = match self.nodes.get_mut(&node) {
            Some(CapifNode::Ccf(c)) => {
                self.checks.negotiations += std::mem::take(&mut c.negotiations);
                self.checks.outside_intersection += std::mem::take(&mut c.outside_intersection);
                return;
            }
            Some(CapifNode::Aef(a)) => std::mem::take(&mut a.observed),
            _ => return,
        };
        for o in &observed {
            let wire = o.session_conn().map_or(Wire::default(), |c| {
                let client = Driver::<CapifTimer>::client_of(net, c);
                Wire::of(
                    Driver::<CapifTimer>::tls_mode(net, c),
                    Driver::<CapifTimer>::identity(net, client).0,
                )
            });
            let (key, revoked) = o
                .invoker()
                .map_or((None, false), |id| invoker_facts(&self.nodes, &mut self.ids, id));
            let Some(CapifNode::Aef(a)) = self.nodes.get(&node) else {
                return;
            };
            self.observer
                .observe(&mut self.checks, (now, a), o, &wire, (key, revoked));
        }
    }
}
