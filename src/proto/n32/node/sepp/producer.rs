//! The p-SEPP side: the N32-c responder and its N32-f receive contexts, opening PRINS
//! requests, protecting the answers, reporting faults.

use super::*;

impl Sepp {
    /// The p-SEPP opens a PRINS request (message `msg`), forwards it to the pNF, or reports
    /// the fault.
    pub(super) fn at_psepp_prins(&mut self, now: SimTime, back: Inbound, msg: u64, req: &HttpRequest) {
        // The c-SEPP's message comes with what its body encodes and its seal memo.
        let route = req.typed::<PrinsRoute>();
        let parsed = match route.and_then(|r| r.msg.as_deref()) {
            Some(m) => Ok(Cow::Borrowed(m)),
            None => serde_json::from_str::<prins::N32fReformattedReqMsg>(&req.body).map(Cow::Owned),
        };
        let memo = route.and_then(|r| r.memo.as_deref());
        // The p-side RI signs last; with a single RI on the path (a roaming hub) it is the
        // authorized c-side RI itself and signs once.
        let rx = RecvContext {
            local_ri: self.cfg.producer.local_ri.clone(),
            mutants: self.cfg.mutants,
        };
        let verifies = 1 + self.cfg.producer.path_ris;
        self.fx.push(Effect::Work(vec![
            (CryptoOp::AesGcmOpen1k, 1 + (req.body.len() / 1024) as u64),
            (CryptoOp::EcdsaVerify, verifies - 1),
        ]));
        let me = self.me();
        let mut done = prins::Verification::default();
        let result = match parsed {
            Ok(m) => {
                self.fx.audit(|| {
                    N32Audit::MessageReceived {
                        sepp: me.clone(),
                        msg,
                        modifications: m.modifications_block.as_ref().map_or(0, |b| b.len() as u32),
                    }
                    .into()
                });
                let recv = &self.recv;
                let lookup = |id: &str| {
                    recv.get(id).map(|r| ContextKeys {
                        key: r.keys.get(Direction::ParallelRequest).key.clone(),
                        enc: r.enc,
                        expired: None,
                    })
                };
                prins::unprotect_counted(&rx, (&m, memo), lookup, &self.cfg.ipx_keys, &self.cfg.policy, &mut done)
            }
            Err(_) => {
                self.respond(back, problem(400, ProblemDetails::with_status(400)));
                return;
            }
        };
        self.fx.audit(|| {
            N32Audit::MessageVerified {
                sepp: me.clone(),
                msg,
                decrypted: done.decrypted,
                jws_verified: done.jws_verified,
                error: result.as_ref().err().map(|f| wire_name(&f.n32f_error_type)),
            }
            .into()
        });
        match result {
            Ok(u) => {
                let pnf = self.cfg.producer.pnf.unwrap_or(self.cfg.node);
                let fwd = HttpRequest::new(
                    "POST",
                    u.message.path.clone(),
                    "AuthenticationInfo",
                    prins::json_text(&u.message.body, req.body.len()),
                );
                let message_id = u.meta.message_id.parse::<u64>().unwrap_or(0);
                let corr = self.corr();
                self.fx.push(Effect::AfterWork(Box::new(Effect::Request {
                    corr,
                    to: pnf,
                    via: None,
                    mode: TlsMode::Certificate,
                    req: Box::new(fwd),
                    delay: SimDuration::ZERO,
                })));
                let context_id = u.meta.n32f_context_id.clone();
                self.fx.audit(|| {
                    N32Audit::MessageAccepted {
                        sepp: me,
                        msg,
                        context_id: context_id.clone(),
                    }
                    .into()
                });
                self.pending.insert(
                    corr,
                    Pending::ToPnf {
                        back,
                        prins: Some((context_id, message_id, msg)),
                    },
                );
            }
            Err(fault) => {
                //= TS 29.573 5.2.5: report on N32-c; answer the N32-f request with an error.
                let t = format!("{:?}", fault.n32f_error_type);
                self.fx.record(Record {
                    procedure: "n32f_error",
                    flow: String::new(),
                    variant: String::new(),
                    result: String::new(),
                    cause: t.clone(),
                    initiator: me,
                    responder: String::new(),
                    via: String::new(),
                    start_ns: now.as_nanos(),
                    end_ns: now.as_nanos(),
                    outcome: Outcome::Error,
                    status: 403,
                    new_connection: false,
                    round_trips: 0,
                    overhead_bytes: 0,
                    bytes: req.body.len() as u64,
                });
                self.report_error(msg, &fault);
                let body = ProblemDetails::with_cause(403, "N32F_PROTECTION_FAILURE").detail(t);
                self.fx.push(Effect::AfterWork(Box::new(Effect::Respond {
                    at: back,
                    rsp: Box::new(problem(403, body)),
                    delay: SimDuration::ZERO,
                })));
            }
        }
    }

    /// The p-SEPP protects the pNF's answer to message `msg` (metadata `message_id`) for the
    /// context `local_id`; whether it charged work for it.
    pub(super) fn protect_response(
        &mut self,
        local_id: &str,
        (message_id, msg): (u64, u64),
        rsp: &HttpResponse,
    ) -> (HttpResponse, bool) {
        let me = self.me();
        let Some(r) = self.recv.get_mut(local_id) else {
            // The context was terminated while the pNF answered: the answer cannot be
            // protected, and must not cross N32-f in clear (found by the invariant checker).
            return (protection_failure(prins::N32fErrorType::ContextNotFound), false);
        };
        self.fx.audit(|| {
            N32Audit::ResponseSent {
                sepp: me,
                msg,
                context_id: local_id.to_string(),
            }
            .into()
        });
        let Ok(nonce) = r.nonces.next_nonce() else {
            // 2^32 responses in this context: none can be protected any more.
            return (protection_failure(prins::N32fErrorType::ContextNotFound), false);
        };
        let send = SendContext {
            n32f_context_id: r.peer_id.clone(),
            message_id,
            authorized_ipx_id: None,
            enc: r.enc,
        };
        let plain = prins::HttpResponse {
            status: rsp.status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: rsp.decode::<Value>().unwrap_or(Value::Null),
        };
        self.fx.push(Effect::Work(vec![(
            CryptoOp::AesGcmSeal1k,
            1 + (rsp.body.len() / 1024) as u64,
        )]));
        let key = &r.keys.get(Direction::ParallelResponse).key;
        match prins::protect_response_memo(&send, &plain, ("POST", SBI_PATH), &self.cfg.policy, key, nonce) {
            Ok((m, memo)) => {
                let mut rsp = HttpResponse::new(200, "N32fReformattedRspMsg", prins::wire_json(&m));
                rsp.typed = Some(Typed::new(PrinsAnswer {
                    msg: Arc::new(m),
                    memo: Arc::new(memo),
                }));
                (rsp, true)
            }
            // Nothing crosses N32-f in clear.
            Err(_) => (
                problem(500, ProblemDetails::with_cause(500, "N32F_PROTECTION_FAILURE")),
                true,
            ),
        }
    }

    /// The p-SEPP reports an N32-f fault on message `msg` to the c-SEPP on N32-c (TS 29.573
    /// 5.2.5).
    pub(super) fn report_error(&mut self, msg: u64, fault: &prins::N32fFault) {
        let Some(csepp) = self.cfg.producer.csepp else { return };
        let mut info = error_reporting::from_prins_fault(fault);
        if fault.n32f_error_type == prins::N32fErrorType::ContextNotFound {
            // The reporter has no such context and cannot name one the peer would know.
            info.n32f_context_id = None;
        }
        // Mutant: the report goes out twice.
        let copies = if self.cfg.mutants.on(Mutant::N32(N32Mutant::DoubleFaultReport)) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let (me, peer) = (self.me(), self.name(csepp));
            self.fx.audit(|| {
                N32Audit::ErrorReported {
                    sepp: me,
                    peer,
                    msg,
                    message_id: info.n32f_message_id.clone(),
                    error_type: info.n32f_error_type.as_str().to_string(),
                }
                .into()
            });
            let req = N32cRequest::ReportError(info.clone());
            let http = HttpRequest::new("POST", req.path(), req.schema(), req.to_json());
            self.request(csepp, None, http);
        }
    }

    /// This SEPP answers an N32-c request with its responder machine.
    pub(super) fn at_responder(&mut self, now: SimTime, at: Inbound, client: NodeId, req: &HttpRequest) {
        let peer = format!("{}.5gc.example", self.name(client));
        // An initiator's request comes with what its body encodes, at its operation's path.
        let reply = match req.typed::<N32cRequest>().filter(|r| r.path() == req.path) {
            Some(r) => self.responder.handle_request(now, &mut self.rng, &peer, r),
            None => self
                .responder
                .handle_raw(now, &mut self.rng, &peer, &req.path, &req.body),
        };
        if reply.status == 200 && req.path == Op::ExchangeCapability.path() && self.fx.audit {
            // What the 200 answer selected, against the responder's configured list.
            let selected = reply
                .body
                .as_deref()
                .and_then(|b| serde_json::from_str::<types::SecNegotiateRspData>(b).ok())
                .map(|r| r.selected_sec_capability.as_str().to_string())
                .unwrap_or_default();
            let supported = &self.responder.config().capability.supported;
            let ev = N32Audit::CapabilitySelected {
                sepp: self.me(),
                peer: self.name(client),
                conn: u64::from(at.conn),
                stream: at.stream,
                supported: supported.iter().map(|c| c.as_str().to_string()).collect(),
                selected,
            };
            self.fx.push(Effect::Audit(Box::new(ev.into())));
        }
        let rsp = HttpResponse::new(reply.status, reply.schema.unwrap_or(""), reply.body.unwrap_or_default());
        self.respond(at, rsp);
        for e in reply.events {
            match e {
                ResponderEvent::ContextEstablished { context } => {
                    let secrets = self.secrets_of(at.conn);
                    let master = master_of(secrets.as_ref(), at.conn, self.cfg.seed);
                    let keys = derive_keys(&master, &context, KdfContextId::Receiver, self.cfg.mutants);
                    let (me, peer) = (self.me(), self.name(client));
                    self.fx.audit(|| {
                        N32Audit::ContextInstalled {
                            sepp: me,
                            peer,
                            role: "responder".into(),
                            conn: u64::from(at.conn),
                            local_id: context.local_id.to_string(),
                            peer_id: context.peer_id.to_string(),
                            capability: context.capability.as_str().to_string(),
                            keys: keys_fingerprint(&keys, &context.jws),
                        }
                        .into()
                    });
                    let recv = PrinsRecv {
                        nonces: NonceSequence::new(keys.get(Direction::ParallelResponse).iv_salt),
                        keys,
                        enc: jose_enc(context.jwe),
                        peer_id: context.peer_id.as_str().to_string(),
                    };
                    self.recv.insert(context.local_id.as_str().to_string(), recv);
                }
                ResponderEvent::ContextTerminated { context, reason } => {
                    let me = self.me();
                    self.fx.audit(|| {
                        N32Audit::ContextTerminated {
                            sepp: me,
                            context_id: context.local_id.to_string(),
                            reason: format!("{reason:?}"),
                        }
                        .into()
                    });
                    self.recv.remove(context.local_id.as_str());
                }
                ResponderEvent::ErrorReported { info, .. } => {
                    let id = info.n32f_message_id.parse::<u64>().unwrap_or(0);
                    let t = serde_json::to_value(&info.n32f_error_type)
                        .ok()
                        .and_then(|v| serde_json::from_value::<prins::N32fErrorType>(v).ok());
                    if let Some(t) = t {
                        self.detected.push((id, t));
                    }
                }
                ResponderEvent::Send { request, .. } => {
                    // A request of the responder's own (e.g. a policy-mismatch report), on
                    // a second N32-c connection (TS 29.573 5.2.3).
                    let http = HttpRequest::new("POST", request.path(), request.schema(), request.to_json());
                    self.request(client, None, http);
                }
                // The initiator closes N32-c itself after a TLS selection; context updates
                // change nothing the network needs.
                ResponderEvent::CloseN32c { .. }
                | ResponderEvent::CapabilitySelected { .. }
                | ResponderEvent::ContextUpdated { .. }
                | ResponderEvent::TornDown { .. } => {}
            }
        }
    }

    /// The PRINS receive context `local_id`: (the c-SEPP's context id, keys).
    pub fn recv_context(&self, local_id: &str) -> Option<(&str, &N32fKeys)> {
        self.recv.get(local_id).map(|r| (r.peer_id.as_str(), &r.keys))
    }
}

/// The 403 `N32F_PROTECTION_FAILURE` answer to a cNF when the p-SEPP cannot protect a
/// response (`kind` in the detail).
fn protection_failure(kind: prins::N32fErrorType) -> HttpResponse {
    problem(
        403,
        ProblemDetails::with_cause(403, "N32F_PROTECTION_FAILURE").detail(format!("{kind:?}")),
    )
}
