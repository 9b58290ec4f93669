//! The c-SEPP side: N32 with each p-SEPP (handshake, fail-fast, retry), forwarding over
//! N32-f TLS or PRINS, opening the answers, context termination.

use super::*;

impl Sepp {
    /// A cNF request reached this c-SEPP: forward it if N32 is up, else wait for it.
    pub(super) fn at_csepp(
        &mut self,
        now: SimTime,
        peer: NodeId,
        flow: u32,
        back: Inbound,
        body: (String, Option<Arc<Value>>),
    ) {
        let retry = self.cfg.retry_after;
        if !self.links.contains_key(&peer) {
            let link = Link {
                state: LinkState::Idle,
                machine: Initiator::new(self.cfg.initiator.clone()),
                timers: BTreeSet::new(),
                machine_msgs: 0,
                waiting: Vec::new(),
                started: now,
                key_corr: None,
                conn: None,
                flow,
                answer: None,
            };
            self.links.insert(peer, link);
        }
        let Some(link) = self.links.get_mut(&peer) else { return };
        match &link.state {
            LinkState::Tls | LinkState::Prins(_) => self.forward(now, peer, (back, body, flow)),
            LinkState::Handshaking => link.waiting.push((back, body, flow)),
            LinkState::Failed { at, .. } if now < *at + retry => {
                let (status, body) = self.cnf_answer_for_failure(peer);
                self.respond(back, HttpResponse::new(status, "ProblemDetails", body));
            }
            LinkState::Idle | LinkState::Failed { .. } => {
                link.waiting.push((back, body, flow));
                link.flow = flow;
                self.begin_handshake(now, peer);
            }
        }
    }

    /// Forwards the cNF request `back` over established N32-f.
    pub(super) fn forward(&mut self, now: SimTime, peer: NodeId, (back, body, flow): WaitingRequest) {
        if self.reset.remove(&back) {
            return; // the cNF gave up on it
        }
        let Some(f) = self.cfg.flows.get(&flow) else { return };
        let (via, ris, psepp) = (f.via, f.ris.clone(), f.psepp);
        let Some(link) = self.links.get_mut(&peer) else { return };
        match &mut link.state {
            LinkState::Tls => {
                // N32-f over its own TLS connection, through the RI's tunnel if N32-c used one.
                let req = HttpRequest::new("POST", SBI_PATH, "AuthenticationInfo", body.0);
                let corr = self.request(psepp, via, req);
                self.pending.insert(
                    corr,
                    Pending::N32f {
                        peer,
                        back,
                        plain_bytes: 0,
                        protected_bytes: 0,
                        sent: now,
                        open: None,
                    },
                );
            }
            LinkState::Prins(p) => {
                self.numbering.messages += 1;
                let message_id = self.numbering.messages;
                let msg = HttpMessage {
                    method: "POST".into(),
                    scheme: "https".into(),
                    authority: format!("{}.5gc.example", self.cfg.names[psepp as usize]),
                    path: SBI_PATH.into(),
                    query: vec![],
                    headers: vec![
                        ("3gpp-sbi-message-priority".into(), "10".into()),
                        ("content-type".into(), "application/json".into()),
                    ],
                    body: match &body.1 {
                        Some(v) => Value::clone(v),
                        None => serde_json::from_str(&body.0).unwrap_or(Value::Null),
                    },
                };
                let body = body.0;
                let plain_bytes = body.len() + SBI_PATH.len() + 60;
                let key = p.keys.get(Direction::ParallelRequest).key.clone();
                // An exhausted sequence (2^32 messages) needs a new context; the request is
                // not sent and times out at the cNF.
                let Ok(nonce) = p.nonces.next_nonce() else { return };
                let send = SendContext {
                    n32f_context_id: p.peer_id.clone(),
                    message_id,
                    // Below full fidelity RIs compute no JWS, so none is expected of them.
                    authorized_ipx_id: self.cfg.flows[&flow].authorized_ipx.clone(),
                    enc: p.enc,
                };
                let open = Box::new(OpenWith {
                    local_id: p.local_id.clone(),
                    keys: ContextKeys {
                        key: p.keys.get(Direction::ParallelResponse).key.clone(),
                        enc: p.enc,
                        expired: None,
                    },
                    msg: message_id,
                });
                self.fx.push(Effect::Work(vec![(
                    CryptoOp::AesGcmSeal1k,
                    1 + (body.len() / 1024) as u64,
                )]));
                let Ok((mut reformatted, memo)) = prins::protect_memo(&send, &msg, &self.cfg.policy, &key, nonce)
                else {
                    return;
                };
                let (me, peer_name) = (self.me(), self.name(psepp));
                self.fx.audit(|| {
                    N32Audit::MessageSent {
                        sepp: me.clone(),
                        peer: peer_name,
                        msg: message_id,
                        context_id: open.local_id.clone(),
                        peer_context_id: send.n32f_context_id.clone(),
                    }
                    .into()
                });
                if let Some(fault) = self.fault_for(flow) {
                    let env = prins::fault::FaultEnv {
                        key: key.clone(),
                        nonce,
                    };
                    if let Ok(m) = prins::fault::apply_fault(&reformatted, &fault, &env) {
                        reformatted = m;
                        let expected = expected_error(&fault, self.cfg.full);
                        self.injected.push((message_id, expected));
                        self.fx.audit(|| {
                            N32Audit::FaultInjected {
                                sepp: me,
                                msg: message_id,
                                fault: fault_name(&fault).into(),
                                expected: wire_name(&expected),
                            }
                            .into()
                        });
                    }
                }
                let json = prins::wire_json(&reformatted);
                let protected_bytes = json.len();
                let mut hops = ris;
                hops.push(psepp);
                let first = hops.remove(0);
                let mut req = HttpRequest::new("POST", N32F_PATH, "N32fReformattedReqMsg", json);
                req.typed = Some(Typed::new(PrinsRoute {
                    hops,
                    number: message_id,
                    msg: Some(Arc::new(reformatted)),
                    memo: Some(Arc::new(memo)),
                }));
                let corr = self.corr();
                self.fx.push(Effect::AfterWork(Box::new(Effect::Request {
                    corr,
                    to: first,
                    via: None,
                    mode: TlsMode::Certificate,
                    req: Box::new(req),
                    delay: SimDuration::ZERO,
                })));
                self.pending.insert(
                    corr,
                    Pending::N32f {
                        peer,
                        back,
                        plain_bytes,
                        protected_bytes,
                        sent: now,
                        open: Some(open),
                    },
                );
            }
            _ => {}
        }
    }

    /// The fault to inject into the next PRINS message, per the experiment's fault list (the
    /// caller records it in [`Sepp::injected`] once it is applied).
    pub(super) fn fault_for(&self, flow: u32) -> Option<prins::fault::Fault> {
        let n = self.numbering.messages;
        let kind = self
            .cfg
            .faults
            .iter()
            .find(|f| f.every > 0 && n.is_multiple_of(f.every))?
            .kind;
        Some(kind.to_fault(self.cfg.flows[&flow].fault_ri.clone()))
    }

    /// The c-SEPP opens an N32-f answer and records the N32-f message; whether it charged
    /// work for it.
    pub(super) fn open_response(
        &mut self,
        now: SimTime,
        peer: NodeId,
        sent: SimTime,
        rsp: HttpResponse,
        (plain_bytes, protected_bytes): (usize, usize),
        open: Option<Box<OpenWith>>,
    ) -> (HttpResponse, bool) {
        let Some(open) = open else {
            return (rsp, false); // N32-f TLS: the answer is the pNF's
        };
        let OpenWith {
            local_id: local,
            keys,
            msg: number,
        } = *open;
        let protected = rsp.schema == "N32fReformattedRspMsg";
        let me = self.me();
        self.fx.audit(|| {
            N32Audit::ResponseReceived {
                sepp: me.clone(),
                msg: number,
                status: rsp.status,
                protected,
            }
            .into()
        });
        if !protected {
            if (200..300).contains(&rsp.status) {
                // A success in clear on a PRINS request is no N32-f answer: refused.
                return (
                    problem(502, ProblemDetails::with_cause(502, "N32F_PROTECTION_FAILURE")),
                    false,
                );
            }
            return (rsp, false); // an error from a hop, passed on as it is
        }
        self.fx.push(Effect::Work(vec![(
            CryptoOp::AesGcmOpen1k,
            1 + (rsp.body.len() / 1024) as u64,
        )]));
        let lookup = |id: &str| (id == local).then(|| keys.clone());
        // The p-SEPP's answer comes with what its body encodes and its seal memo.
        let answer = rsp.typed::<PrinsAnswer>();
        let msg = match answer {
            Some(a) => Ok(Cow::Borrowed(&*a.msg)),
            None => serde_json::from_str::<prins::N32fReformattedRspMsg>(&rsp.body).map(Cow::Owned),
        };
        let memo = answer.map(|a| &*a.memo);
        let mut done = prins::Verification::default();
        let opened = msg.map_err(|_| None).and_then(|m| {
            prins::unprotect_response_counted(
                &RecvContext {
                    local_ri: None,
                    mutants: self.cfg.mutants,
                },
                (&m, memo),
                ("POST", SBI_PATH),
                lookup,
                &self.cfg.ipx_keys,
                &self.cfg.policy,
                &mut done,
            )
            .map_err(|f| Some(f.n32f_error_type))
        });
        self.fx.audit(|| {
            N32Audit::ResponseVerified {
                sepp: me.clone(),
                msg: number,
                decrypted: done.decrypted,
                jws_verified: done.jws_verified,
                error: opened.as_ref().err().map(|e| match e {
                    Some(t) => wire_name(t),
                    None => "UNREADABLE".to_string(),
                }),
            }
            .into()
        });
        let opened = opened.ok();
        if let Some(u) = opened.as_ref().filter(|u| (200..300).contains(&u.message.status)) {
            let status = u.message.status;
            self.fx.audit(|| {
                N32Audit::ResponseAccepted {
                    sepp: me.clone(),
                    msg: number,
                    status,
                }
                .into()
            });
        }
        let body = opened
            .as_ref()
            .map(|u| prins::json_text(&u.message.body, rsp.body.len()));
        let plain_total = plain_bytes + body.as_ref().map_or(0, |b| b.len() + 40);
        self.fx.record(Record {
            procedure: "n32f_message",
            flow: String::new(),
            variant: "PRINS".into(),
            result: String::new(),
            cause: String::new(),
            initiator: me,
            responder: self.name(peer),
            via: String::new(),
            start_ns: sent.as_nanos(),
            end_ns: now.as_nanos(),
            outcome: if opened.is_some() { Outcome::Ok } else { Outcome::Error },
            status: rsp.status,
            new_connection: false,
            round_trips: 0,
            overhead_bytes: ((protected_bytes + rsp.body.len()) as u64).saturating_sub(plain_total as u64),
            bytes: (protected_bytes + rsp.body.len()) as u64,
        });
        match (opened, body) {
            (Some(u), Some(body)) => (HttpResponse::new(u.message.status, "UEAuthenticationCtx", body), true),
            _ => (
                problem(502, ProblemDetails::with_cause(502, "N32F_PROTECTION_FAILURE")),
                true,
            ),
        }
    }

    /// The c-SEPP starts (or re-starts) N32 with the p-SEPP (TS 29.573 5.2.2).
    pub(super) fn start_handshake(&mut self, now: SimTime, peer: NodeId) {
        let Some(link) = self.links.get_mut(&peer) else { return };
        if self.cfg.flows[&link.flow].via.is_none() {
            // Direct TLS on N32-c: every RI on the route decides now whether to carry it
            // (seed 000 FFS 1).
            self.fx.push(Effect::DirectAttempt { to: peer });
        }
        link.machine_msgs = 0;
        self.drive(now, peer, InitiatorInput::Start);
    }

    /// The link enters the handshake (requests now wait for it) and the machine starts.
    pub(super) fn begin_handshake(&mut self, now: SimTime, peer: NodeId) {
        if let Some(link) = self.links.get_mut(&peer) {
            link.state = LinkState::Handshaking;
            link.started = now;
        }
        self.start_handshake(now, peer);
    }

    /// Feeds `input` to the initiator machine for `peer` and carries out its outputs.
    pub(super) fn drive(&mut self, now: SimTime, peer: NodeId, input: InitiatorInput) {
        let Some(link) = self.links.get_mut(&peer) else { return };
        link.machine.handle(now, &mut self.rng, input);
        let outputs = link.machine.drain_outputs();
        let via = self.cfg.flows[&link.flow].via;
        for out in outputs {
            match out {
                Output::Send(req) => self.send_n32c(peer, via, &req),
                Output::SetTimer { timer, at } => {
                    if let Some(link) = self.links.get_mut(&peer) {
                        link.timers.insert(timer);
                    }
                    self.fx.set_timer(at - now, Timer::Initiator { peer, timer });
                }
                Output::CancelTimer { timer } => {
                    if self.links.get_mut(&peer).is_some_and(|l| l.timers.remove(&timer)) {
                        self.fx.cancel_timer(Timer::Initiator { peer, timer });
                    }
                }
                Output::CloseN32c => {
                    //= TS 29.573 5.2.2: TLS selected: the N32-c connection is terminated.
                    if let Some(link) = self.links.get(&peer) {
                        match (link.conn.as_ref(), link.key_corr) {
                            (Some((c, _)), _) => self.fx.push(Effect::Close(ConnRef::Id(*c))),
                            (None, Some(corr)) => self.fx.push(Effect::Close(ConnRef::Corr(corr))),
                            (None, None) => {}
                        }
                    }
                }
                Output::Established { capability, context } => self.established_output(now, peer, capability, context),
                Output::ContextReleased { context } => {
                    let me = self.me();
                    self.fx.audit(|| {
                        N32Audit::ContextTerminated {
                            sepp: me,
                            context_id: context.local_id.to_string(),
                            reason: "Released".into(),
                        }
                        .into()
                    });
                    self.responder.remove(&context.local_id);
                    self.release_send_context(peer, Some(context.local_id.as_str()));
                }
                Output::Failed { status, problem } => {
                    let cause = problem
                        .as_ref()
                        .and_then(|p| p.cause.clone())
                        .unwrap_or_else(|| "TIMEOUT".into());
                    let outcome = if status.is_none() {
                        Outcome::Timeout
                    } else {
                        Outcome::Error
                    };
                    self.fail_link(now, peer, outcome, status.unwrap_or(0), cause);
                }
                Output::TornDown => {
                    if let Some(link) = self.links.get_mut(&peer) {
                        link.state = LinkState::Idle;
                    }
                }
            }
        }
        // Requests that arrived while a context was being torn down start the next one.
        // (The machine ignores Start while Terminating; it is back in Idle once the peer
        // answered the n32f-terminate.)
        if let Some(link) = self.links.get(&peer)
            && matches!(link.state, LinkState::Idle | LinkState::Handshaking)
            && !link.waiting.is_empty()
            && link.machine.state() == InitiatorState::Idle
        {
            self.begin_handshake(now, peer);
        }
    }

    /// Sends an N32-c request of the initiator's.
    pub(super) fn send_n32c(&mut self, peer: NodeId, via: Option<NodeId>, req: &N32cRequest) {
        let mut http = HttpRequest::new("POST", req.path(), req.schema(), req.to_json());
        // The request the body encodes rides along: the responder does not parse it again.
        http.typed = Some(Typed::new(req.clone()));
        let wire = u64::from(http.wire_bytes());
        let corr = self.request(peer, via, http);
        if let N32cRequest::ExchangeCapability(body) = req
            && self.fx.audit
        {
            let ev = N32Audit::CapabilityOffered {
                sepp: self.me(),
                peer: self.name(peer),
                conn: 0,
                stream: 0,
                offered: body
                    .supported_sec_capability_list
                    .iter()
                    .map(|c| c.as_str().to_string())
                    .collect(),
            };
            self.fx.push(Effect::AuditStream {
                corr,
                ev: Box::new(ev.into()),
            });
        }
        if let Some(link) = self.links.get_mut(&peer) {
            // The first N32-c connection's exporter keys N32-f (TS 33.501 13.2.4.4.1).
            if req.op() == Op::ExchangeCapability || link.key_corr.is_none() {
                link.key_corr = Some(corr);
                link.conn = None;
                // Bytes this handshake puts on the (possibly reused) connection.
                self.fx.push(Effect::MarkBytes {
                    mark: Corr::from(peer),
                    conn: ConnRef::Corr(corr),
                    less: wire,
                });
            }
            link.machine_msgs += 1;
        }
        self.pending.insert(corr, Pending::N32c { peer, op: req.op() });
    }

    /// The initiator agreed a mechanism with `peer`.
    pub(super) fn established_output(
        &mut self,
        now: SimTime,
        peer: NodeId,
        capability: SecurityCapability,
        context: Option<crate::proto::n32::parameter_exchange::NegotiatedContext>,
    ) {
        let (me, peer_name) = (self.me(), self.name(peer));
        let conn = self.links.get(&peer).and_then(|l| l.conn.as_ref());
        let conn_id = conn.map_or(0, |(c, _)| *c);
        match (capability, context) {
            (SecurityCapability::Prins, Some(context)) => {
                let secrets = conn.and_then(|(_, s)| s.as_ref());
                let master = master_of(secrets, conn_id, self.cfg.seed);
                let keys = derive_keys(&master, &context, KdfContextId::Receiver, self.cfg.mutants);
                if self.fx.audit {
                    let conn = u64::from(conn_id);
                    self.fx.push(Effect::Audit(Box::new(
                        N32Audit::Established {
                            sepp: me.clone(),
                            peer: peer_name.clone(),
                            conn,
                            capability: SecurityCapability::Prins.as_str().to_string(),
                        }
                        .into(),
                    )));
                    self.fx.push(Effect::Audit(Box::new(
                        N32Audit::ContextInstalled {
                            sepp: me,
                            peer: peer_name,
                            role: "initiator".into(),
                            conn,
                            local_id: context.local_id.to_string(),
                            peer_id: context.peer_id.to_string(),
                            capability: context.capability.as_str().to_string(),
                            keys: keys_fingerprint(&keys, &context.jws),
                        }
                        .into(),
                    )));
                }
                let send = PrinsSend {
                    peer_id: context.peer_id.as_str().to_string(),
                    local_id: context.local_id.as_str().to_string(),
                    nonces: NonceSequence::new(keys.get(Direction::ParallelRequest).iv_salt),
                    keys,
                    enc: jose_enc(context.jwe),
                };
                self.responder.adopt(context);
                if let Some(link) = self.links.get_mut(&peer) {
                    link.state = LinkState::Prins(Box::new(send));
                }
                self.established(now, peer, "PRINS");
            }
            (c, _) => {
                if let Some(link) = self.links.get_mut(&peer) {
                    link.state = LinkState::Tls;
                }
                self.fx.audit(|| {
                    N32Audit::Established {
                        sepp: me,
                        peer: peer_name,
                        conn: u64::from(conn_id),
                        capability: c.as_str().to_string(),
                    }
                    .into()
                });
                let name = serde_json::to_value(&c)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string));
                self.established(now, peer, &name.unwrap_or_else(|| "TLS".into()));
            }
        }
    }

    /// N32 is up: record the handshake and release the waiting requests.
    pub(super) fn established(&mut self, now: SimTime, peer: NodeId, capability: &str) {
        let Some(link) = self.links.get_mut(&peer) else { return };
        let waiting = std::mem::take(&mut link.waiting);
        let record = self.handshake_record(peer, now, capability, Outcome::Ok, 200);
        self.fx.push(Effect::RecordBytes {
            record: Box::new(record),
            mark: Corr::from(peer),
        });
        for w in waiting {
            self.forward(now, peer, w);
        }
    }

    /// The handshake failed: record it and answer every waiting cNF request.
    pub(super) fn fail_link(&mut self, now: SimTime, peer: NodeId, outcome: Outcome, status: u16, cause: String) {
        let Some(link) = self.links.get_mut(&peer) else { return };
        link.state = LinkState::Failed { at: now };
        let waiting = std::mem::take(&mut link.waiting);
        let record = self.handshake_record(peer, now, &cause, outcome, status);
        self.fx.record(record);
        let (status, body) = self.cnf_answer_for_failure(peer);
        for (back, _, _) in waiting {
            self.respond(back, HttpResponse::new(status, "ProblemDetails", body.clone()));
        }
    }

    /// The N32-c connection failed under the handshake with `peer`.
    pub(super) fn handshake_failed(&mut self, now: SimTime, peer: NodeId, cause: &ConnFailure) {
        let (outcome, status, why) = match cause {
            ConnFailure::Refused { status, body, headers } => {
                //= TS 29.573 5.2.X.2 step 4: the c-SEPP answers the cNF, using the RI's
                //= suggested status and application error as its policy says.
                let via = self.links.get(&peer).and_then(|l| self.cfg.flows[&l.flow].via);
                let ri = via.and_then(|v| self.cfg.ri_rejections.get(&v));
                let enc = ri.map(|r| r.0).unwrap_or_default();
                let key = ri.map(|r| r.1);
                let rejection = roaming::Rejection {
                    status: *status,
                    body: body.clone().unwrap_or_default(),
                    schema: "ProblemDetails",
                    headers: headers.clone(),
                };
                let suggestion = roaming::decode_rejection(enc, &rejection, key.as_ref());
                let (cnf_status, problem) = roaming::answer_to_cnf(&self.cfg.mapping, &suggestion);
                let ri_cause = serde_json::from_str::<Value>(rejection.body.as_str())
                    .ok()
                    .and_then(|v| v.get("cause").and_then(Value::as_str).map(str::to_string))
                    .unwrap_or_else(|| "REFUSED_BY_RI".into());
                if let Some(link) = self.links.get_mut(&peer) {
                    link.answer = Some((cnf_status, serde_json::to_string(&problem).unwrap_or_default()));
                }
                (Outcome::Refused, *status, ri_cause)
            }
            ConnFailure::Unreachable => (Outcome::Unreachable, 0, "UNREACHABLE".into()),
            ConnFailure::Reset => (Outcome::Unreachable, 0, "CONNECTION_RESET".into()),
            ConnFailure::Tls(t) => (Outcome::Error, 0, format!("TLS_{}", t.alert.to_uppercase())),
        };
        // The connection failed under the initiator's outstanding request: it starts over
        // from Idle (its response timer would otherwise report the same failure again).
        if let Some(link) = self.links.get_mut(&peer) {
            for timer in std::mem::take(&mut link.timers) {
                self.fx.cancel_timer(Timer::Initiator { peer, timer });
            }
            link.machine = Initiator::new(link.machine.config().clone());
        }
        self.fail_link(now, peer, outcome, status, why);
    }

    /// What the c-SEPP answers the cNF while N32 with the peer is down: after an RI's
    /// refusal, the answer its mapping policy derived; otherwise its own 504.
    pub(super) fn cnf_answer_for_failure(&self, peer: NodeId) -> (u16, String) {
        if let Some((status, body)) = self.links.get(&peer).and_then(|l| l.answer.clone()) {
            return (status, body);
        }
        (504, ProblemDetails::with_cause(504, roaming::OWN_CAUSE).to_json())
    }

    /// The handshake record with `peer` (its bytes are filled by the driver on success).
    pub(super) fn handshake_record(
        &self,
        peer: NodeId,
        end: SimTime,
        detail: &str,
        outcome: Outcome,
        status: u16,
    ) -> Record {
        let link = &self.links[&peer];
        // A success's detail is the agreed capability, a failure's its cause.
        let (result, cause) = match outcome {
            Outcome::Ok => (detail.to_string(), String::new()),
            _ => (String::new(), detail.to_string()),
        };
        Record {
            procedure: "n32_handshake",
            flow: self.cfg.flows[&link.flow].label.clone(),
            variant: String::new(),
            result,
            cause,
            initiator: self.me(),
            responder: self.name(peer),
            via: self.via_name(link.flow),
            start_ns: link.started.as_nanos(),
            end_ns: end.as_nanos(),
            outcome,
            status,
            new_connection: true,
            round_trips: link.machine_msgs,
            overhead_bytes: 0,
            bytes: 0,
        }
    }

    /// Every PRINS context of this c-SEPP's is terminated with `n32f-terminate` (TS 29.573
    /// 5.2.4).
    pub(super) fn terminate_all(&mut self, now: SimTime) {
        let peers: Vec<NodeId> = self.links.keys().copied().collect();
        for peer in peers {
            if matches!(self.links.get(&peer).map(|l| &l.state), Some(LinkState::Prins(_))) {
                self.drive(now, peer, InitiatorInput::TerminateRequested);
                self.release_send_context(peer, None);
            }
        }
    }

    /// The c-SEPP stops sending under its PRINS context with `peer` (only if it is
    /// `local_id`, when given): requests wait for the next handshake.
    pub(super) fn release_send_context(&mut self, peer: NodeId, local_id: Option<&str>) {
        // Mutant: the send state outlives the released context.
        if self.cfg.mutants.on(Mutant::N32(N32Mutant::UseTerminatedContext)) {
            return;
        }
        if let Some(link) = self.links.get_mut(&peer)
            && matches!(&link.state, LinkState::Prins(p) if local_id.is_none_or(|id| p.local_id == id))
        {
            link.state = LinkState::Idle;
        }
    }

    /// The censoring records of the handshakes in progress, in peer order (issue 12).
    pub fn unfinished_handshakes(&self, now: SimTime) -> Vec<Record> {
        let mut v = Vec::new();
        for (&peer, link) in &self.links {
            if matches!(link.state, LinkState::Handshaking) {
                let (me, p, via) = (self.me(), self.name(peer), self.via_name(link.flow));
                let mut r = unfinished("n32_handshake", (&me, &p, &via), link.started, now);
                r.flow = self.cfg.flows[&link.flow].label.clone();
                r.new_connection = true;
                r.round_trips = link.machine_msgs;
                v.push(r);
            }
        }
        v
    }

    /// The PRINS send contexts: (p-SEPP, the p-SEPP's context id, own context id, keys).
    pub fn send_contexts(&self) -> impl Iterator<Item = (NodeId, &str, &str, &N32fKeys)> {
        self.links.iter().filter_map(|(&peer, l)| match &l.state {
            LinkState::Prins(p) => Some((peer, p.peer_id.as_str(), p.local_id.as_str(), &p.keys)),
            _ => None,
        })
    }
}

/// The N32fErrorType the receiver must report for `fault`. Below full fidelity RIs sign
/// nothing and the receiver expects no JWS, so a tampering RI's signed patch is an unexpected
/// modification (INTEGRITY_CHECK_ON_MODIFICATIONS_FAILED) before its content is looked at.
fn expected_error(fault: &prins::fault::Fault, full: bool) -> prins::N32fErrorType {
    match fault {
        prins::fault::Fault::TamperModification(_) if !full => {
            prins::N32fErrorType::IntegrityCheckOnModificationsFailed
        }
        f => f.expected().0,
    }
}

/// The name of a fault in the audit trail.
fn fault_name(fault: &prins::fault::Fault) -> &'static str {
    use prins::fault::Fault as F;
    match fault {
        F::TamperCiphertext => "TamperCiphertext",
        F::TamperAad => "TamperAad",
        F::TamperTag => "TamperTag",
        F::BadJweHeader => "BadJweHeader",
        F::UnknownContext => "UnknownContext",
        F::TamperModification(_) => "TamperModification",
        F::BadPatch(_) => "BadPatch",
        F::UnauthorisedRi(_) => "UnauthorisedRi",
        F::ReplayedModification(_) => "ReplayedModification",
        F::ForgeSignature => "ForgeSignature",
        F::StripModifications => "StripModifications",
        F::WrongKey => "WrongKey",
        F::BadEncBlockIndex => "BadEncBlockIndex",
        F::BadIePath => "BadIePath",
        F::BadHeader => "BadHeader",
    }
}

impl crate::scenario::N32FaultKind {
    /// The PRINS fault this kind injects (`ri`: the authorized RI, for RI faults).
    pub fn to_fault(self, ri: Option<RiIdentity>) -> prins::fault::Fault {
        use crate::scenario::N32FaultKind as K;
        use prins::fault::Fault;
        let rogue = || RiIdentity {
            fqdn: "rogue-ri.example".into(),
            key: crate::crypto::pki::key_from_rng(&mut crate::engine::stream(0, "rogue-ri")),
        };
        match self {
            K::TamperCiphertext => Fault::TamperCiphertext,
            K::TamperAad => Fault::TamperAad,
            // Without an authorized RI on the path the tampering modification is signed by a
            // party the p-SEPP does not know: an unauthorised RI, whatever it changes (found by
            // the property tests on a mesh without RIs, where the receiver rightly reported
            // INTEGRITY_CHECK_ON_MODIFICATIONS_FAILED).
            K::TamperingRi => match ri {
                Some(ri) => Fault::TamperModification(ri),
                None => Fault::UnauthorisedRi(rogue()),
            },
            K::UnauthorisedRi => Fault::UnauthorisedRi(rogue()),
            K::WrongKey => Fault::WrongKey,
            K::UnknownContext => Fault::UnknownContext,
        }
    }
}
