//! A Roaming Intermediary on the network: the sans-IO [`Ri`] decisions on N32-c (CONNECT
//! tunnels, direct TLS) plus its N32-f PRINS relaying (modify if configured, then sign).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::json;

use crate::audit::mutant::{Mutant, Mutants};
use crate::audit::n32::{N32Audit, N32Mutant};
use crate::crypto::cost::CryptoOp;
use crate::engine::{SimDuration, SimTime};
use crate::net::conn::{ConnFailure, Intercept};
use crate::net::http::Typed;
use crate::net::tls::TlsMode;
use crate::net::{HttpRequest, NodeId};
use crate::proto::common::ProblemDetails;
use crate::proto::effect::{Corr, Effect, Effects, Inbound, Input, Machine};
use crate::proto::n32::node::{N32F_PATH, Names, PrinsRoute, Timer, problem};
use crate::proto::n32::prins::{self, RiIdentity};

use super::{DirectEffect, FlowId, Ri};

/// A Roaming Intermediary's configuration.
pub struct RiConfig {
    /// Its own address.
    pub node: NodeId,
    /// The address book (audit facts name nodes).
    pub names: Names,
    /// The PLMN of every address (the IPX's routing knowledge: which PLMN a SEPP belongs to).
    pub plmns: Vec<String>,
    /// Its signing identity for PRINS Modifications (its IPX provider id and key).
    pub identity: RiIdentity,
    /// Whether it rewrites the message priority header of the PRINS messages it relays.
    pub modify: bool,
    /// Whether signatures are computed (full crypto fidelity); below it the RI relays the
    /// message unchanged (its CPU cost is still charged).
    pub sign: bool,
    /// Its deliberate bugs (none outside the checker's tests).
    pub mutants: Mutants,
}

/// A Roaming Intermediary's machine.
pub struct RiNode {
    ri: Ri,
    cfg: RiConfig,
    /// Direct-TLS attempts seen (flow ids for the RI machine).
    direct_attempts: u64,
    /// Relayed PRINS requests: the request this node answers with their answer.
    relays: BTreeMap<Corr, Inbound>,
    next: Corr,
    fx: Effects<Timer>,
}

impl RiNode {
    /// The node around the RI machine `ri`.
    pub fn new(ri: Ri, cfg: RiConfig) -> RiNode {
        RiNode {
            ri,
            cfg,
            direct_attempts: 0,
            relays: BTreeMap::new(),
            next: 0,
            fx: Effects::default(),
        }
    }

    fn plmn(&self, node: NodeId) -> &str {
        &self.cfg.plmns[node as usize]
    }

    fn name(&self, node: NodeId) -> String {
        self.cfg.names[node as usize].clone()
    }

    /// A direct (non-CONNECT) N32-c connection attempt from `csepp` to `psepp` passes this
    /// RI: what it does to it, decided when the c-SEPP opens it (`None`: let through).
    pub fn direct_attempt(&mut self, now: SimTime, csepp: NodeId, psepp: NodeId) -> Option<Intercept> {
        // Each attempt is its own flow at the RI (ids above 2^63 never collide with CONNECT
        // flows, which use connection ids).
        self.direct_attempts += 1;
        let id = FlowId((1 << 63) + self.direct_attempts);
        let (c, p) = (self.plmn(csepp).to_string(), self.plmn(psepp).to_string());
        if let Err(e) = self.ri.handle_direct_tls(now, id, &c, &p) {
            debug_assert!(false, "a fresh flow accepts DirectTls: {e}");
            return None;
        }
        let mut action = None;
        while let Some(e) = self.ri.poll_effect() {
            if let super::Effect::DirectRefusal { effect, .. } = e {
                action = Some(match effect {
                    DirectEffect::DropSilently => Intercept::Drop,
                    DirectEffect::ResetAtTcp => Intercept::Reset,
                    DirectEffect::AlertAfterClientHello { .. } => Intercept::AlertOnClientHello,
                    DirectEffect::NoRoute => Intercept::NoRoute,
                });
            }
        }
        if action.is_none() {
            // Let through: the RI forgets the flow once it closes (bounded state).
            let _closed = self.ri.handle_close(now, id);
            while self.ri.poll_effect().is_some() {}
        }
        action
    }

    /// A c-SEPP asks for a tunnel (TS 29.573 5.2.X.2): accept, or refuse.
    fn on_connect(&mut self, now: SimTime, conn: crate::net::ConnId, client: NodeId, target: NodeId) {
        let id = FlowId(u64::from(conn));
        let (c, t) = (self.plmn(client).to_string(), self.plmn(target).to_string());
        let mut refused = None;
        let failed = self.ri.handle_connect(now, id, &c, &t).is_err();
        if failed {
            self.fx.push(Effect::RefuseTunnel {
                conn,
                status: 400,
                body: None,
                headers: vec![],
                schema: "",
            });
            refused = Some(400);
        }
        while !failed && let Some(e) = self.ri.poll_effect() {
            match e {
                super::Effect::OpenTunnel { .. } => self.fx.push(Effect::AcceptTunnel(conn)),
                //= TS 29.573 5.2.X.2 step 3: the RI answers the CONNECT with an HTTP error
                super::Effect::Reject { rejection, .. } => {
                    refused = Some(rejection.status);
                    if self.cfg.mutants.on(Mutant::N32(N32Mutant::ContextAfterRefusal)) {
                        // Mutant: the refusal is decided, but the tunnel opens.
                        self.fx.push(Effect::AcceptTunnel(conn));
                        continue;
                    }
                    self.fx.push(Effect::RefuseTunnel {
                        conn,
                        status: rejection.status,
                        body: Some(rejection.body),
                        headers: rejection.headers,
                        schema: rejection.schema,
                    });
                }
                _ => {}
            }
        }
        if let Some(status) = refused {
            let (ri, client, target) = (self.name(self.cfg.node), self.name(client), self.name(target));
            self.fx.audit(|| {
                N32Audit::ConnectRefused {
                    ri,
                    client,
                    target,
                    conn: u64::from(conn),
                    status,
                }
                .into()
            });
        }
    }

    /// Relays a PRINS message: modifies (if configured) and signs, then forwards.
    fn relay(&mut self, back: Inbound, route: &PrinsRoute, req: HttpRequest) {
        // The message the body encodes came with it (else the body is parsed).
        let msg = match &route.msg {
            Some(m) => Ok(m.clone()),
            None => serde_json::from_str::<prins::N32fReformattedReqMsg>(&req.body).map(Arc::new),
        };
        let Ok(msg) = msg else {
            self.fx.push(Effect::Respond {
                at: back,
                rsp: Box::new(problem(400, ProblemDetails::with_status(400))),
                delay: SimDuration::ZERO,
            });
            return;
        };
        let ops = if self.cfg.modify {
            vec![prins::patch::PatchItem::replace("/headers/0/value", json!("12"))]
        } else {
            vec![]
        };
        //= TS 33.501 13.2.4.5: an RI appends its signed Modifications even without changes.
        // Below full fidelity the signature is not computed (its CPU cost is still charged)
        // and the RI relays the message unchanged.
        let signed = match self.cfg.sign {
            true => prins::ri_modify(&*msg, &self.cfg.identity, ops).map_or(msg, Arc::new),
            false => msg,
        };
        self.fx.push(Effect::Work(vec![(CryptoOp::EcdsaSign, 1)]));
        // Unchanged, the message's encoding is the body it came with.
        let body = match (&route.msg, self.cfg.sign) {
            (Some(_), false) => req.body,
            _ => prins::wire_json(&*signed),
        };
        let mut hops = route.hops.clone();
        let next = hops.remove(0);
        let mut fwd = HttpRequest::new("POST", N32F_PATH, "N32fReformattedReqMsg", body);
        fwd.typed = Some(Typed::new(PrinsRoute {
            hops,
            number: route.number,
            msg: Some(signed),
            memo: route.memo.clone(),
        }));
        self.next += 1;
        let corr = self.next;
        self.fx.push(Effect::AfterWork(Box::new(Effect::Request {
            corr,
            to: next,
            via: None,
            mode: TlsMode::Certificate,
            req: Box::new(fwd),
            delay: SimDuration::ZERO,
        })));
        self.relays.insert(corr, back);
    }
}

impl Machine for RiNode {
    type Timer = Timer;

    fn handle(&mut self, now: SimTime, input: Input<Timer>) {
        match input {
            Input::ConnectRequest { conn, client, target } => self.on_connect(now, conn, client, target),
            Input::Request { at, req, .. } if req.path == N32F_PATH => {
                if let Some(route) = req.typed::<PrinsRoute>() {
                    let route = route.clone();
                    self.relay(at, &route, req);
                }
            }
            Input::Response { corr, rsp, .. } => {
                if let Some(back) = self.relays.remove(&corr) {
                    self.fx.push(Effect::Respond {
                        at: back,
                        rsp: Box::new(rsp),
                        delay: SimDuration::ZERO,
                    });
                }
            }
            Input::Failed { corrs, cause, .. } => {
                for corr in corrs {
                    if let Some(back) = self.relays.remove(&corr) {
                        self.fx.push(Effect::Respond {
                            at: back,
                            rsp: Box::new(forwarding_failed(&cause)),
                            delay: SimDuration::ZERO,
                        });
                    }
                }
            }
            _ => {}
        }
    }

    fn effects(&mut self) -> &mut Effects<Timer> {
        &mut self.fx
    }
}

/// The answer to a request whose onward N32-f hop failed.
pub fn forwarding_failed(cause: &ConnFailure) -> crate::net::HttpResponse {
    let (status, detail) = match cause {
        ConnFailure::Refused { status, .. } => (*status, "refused by roaming intermediary"),
        ConnFailure::Unreachable => (504, "peer unreachable"),
        ConnFailure::Reset => (504, "connection reset"),
        ConnFailure::Tls(_) => (504, "tls failure"),
    };
    problem(
        status,
        ProblemDetails::with_cause(status, "N32F_FORWARDING_FAILED").detail(detail),
    )
}
