//! The generic driver: hands each node machine its inputs and applies its effects to the
//! network and the engine. It knows no protocol: one request correlator (the transport's
//! `(connection, stream)` ↔ the machine's [`Corr`]) and one timer table for every machine.

use std::collections::BTreeMap;

use crate::engine::{Ctx, SimDuration, TimerId};
use crate::metrics::Record;
use crate::net::{ClientTraffic, ConnId, NetEvent, Network, NodeId};
use crate::proto::effect::{ConnRef, Corr, Effect, Inbound, Input, Machine, slot};

use super::Msg;

/// What the driver applies effects to.
pub struct Io<'a, 'b> {
    pub net: &'a mut Network,
    pub ctx: &'a mut Ctx<'b, Msg>,
    pub records: &'a mut Vec<Record>,
}

/// The correlator and timer table of the machines of one kind.
pub struct Driver<T> {
    /// Outstanding requests by connection: (stream, client node, correlation id), by stream.
    requests: Vec<Vec<(u32, NodeId, Corr)>>,
    /// Connections opened with `Connect` and not yet reported: connection → correlation id.
    opened: Vec<Option<Corr>>,
    /// The connection (and stream, for a request) each outstanding correlation id uses.
    conn_of: BTreeMap<(NodeId, Corr), (ConnId, Option<u32>)>,
    timers: BTreeMap<(NodeId, T), TimerId>,
    /// The work delay held for the next `AfterWork` (from the last `Work`).
    work: SimDuration,
    /// Byte marks: (node, mark) → (connection, its byte count then).
    marks: BTreeMap<(NodeId, Corr), (ConnId, u64)>,
    /// Traffic marks: (node, mark) → what the node had exchanged as a client then.
    traffic: BTreeMap<(NodeId, Corr), ClientTraffic>,
    /// Audit facts go here (and to the trace).
    pub audit: crate::audit::Audit,
    wrap: fn(NodeId, T) -> Msg,
}

impl<T: Clone + Ord> Driver<T> {
    /// A driver whose timers travel on the engine as `wrap(node, timer)`.
    pub fn new(wrap: fn(NodeId, T) -> Msg) -> Driver<T> {
        Driver {
            requests: Vec::new(),
            opened: Vec::new(),
            conn_of: BTreeMap::new(),
            timers: BTreeMap::new(),
            work: SimDuration::ZERO,
            marks: BTreeMap::new(),
            traffic: BTreeMap::new(),
            audit: crate::audit::Audit::default(),
            wrap,
        }
    }

    /// The machine input for a network event at `node` (`None`: nothing for the machine,
    /// e.g. the answer to a request it no longer waits for).
    pub fn input(&mut self, node: NodeId, ev: NetEvent) -> Option<Input<T>> {
        Some(match ev {
            NetEvent::Request {
                conn,
                stream,
                client,
                req,
            } => Input::Request {
                at: Inbound { conn, stream },
                client,
                req,
            },
            NetEvent::Response { conn, stream, rsp } => {
                let (_, _, corr) = self.take(conn, stream)?;
                self.conn_of.remove(&(node, corr));
                Input::Response { corr, conn, rsp }
            }
            NetEvent::Connected { conn } => {
                let corr = self.opened.get_mut(conn as usize)?.take()?;
                self.conn_of.remove(&(node, corr));
                Input::Connected { corr, conn }
            }
            NetEvent::ConnectRequest { conn, client, target } => Input::ConnectRequest { conn, client, target },
            NetEvent::Failed { conn, streams, cause } => {
                let mut corrs = Vec::new();
                if let Some(c) = self.opened.get_mut(conn as usize).and_then(Option::take) {
                    corrs.push(c);
                }
                for s in streams {
                    if let Some((_, _, c)) = self.take(conn, s) {
                        corrs.push(c);
                    }
                }
                for c in &corrs {
                    self.conn_of.remove(&(node, *c));
                }
                Input::Failed { conn, corrs, cause }
            }
        })
    }

    /// The engine delivered `timer` of `node`'s machine: it is no longer armed.
    pub fn fired(&mut self, node: NodeId, timer: &T) {
        self.timers.remove(&(node, timer.clone()));
    }

    /// Hands `input` to `node`'s machine and applies its effects.
    pub fn handle<M: Machine<Timer = T>>(&mut self, io: &mut Io<'_, '_>, node: NodeId, m: &mut M, input: Input<T>) {
        m.handle(io.ctx.now(), input);
        self.drain(io, node, m);
    }

    /// Applies `node`'s machine's effects, in order (handing it [`Input::Sent`] for each
    /// request as it goes out).
    pub fn drain<M: Machine<Timer = T>>(&mut self, io: &mut Io<'_, '_>, node: NodeId, m: &mut M) {
        while let Some(e) = m.poll_effect() {
            if let Some(report) = self.apply(io, node, e) {
                m.handle(io.ctx.now(), report);
            }
        }
    }

    fn conn(&self, node: NodeId, r: ConnRef) -> Option<ConnId> {
        match r {
            ConnRef::Id(c) => Some(c),
            ConnRef::Corr(c) => self.conn_of.get(&(node, c)).map(|&(conn, _)| conn),
        }
    }

    /// Applies one effect of `node`'s machine; returns the report the machine is owed at once
    /// ([`Input::Sent`] for a request).
    pub fn apply(&mut self, io: &mut Io<'_, '_>, node: NodeId, e: Effect<T>) -> Option<Input<T>> {
        let (net, ctx) = (&mut *io.net, &mut *io.ctx);
        match e {
            Effect::Request {
                corr,
                to,
                via,
                mode,
                req,
                delay,
            } => {
                let before = net.conn_count();
                let (conn, stream) = net.request_on(ctx, (node, to, via, mode), *req, delay);
                let new_connection = net.conn_count() > before || net.conn(conn).ready_at.is_none();
                self.put(conn, stream, (node, corr));
                self.conn_of.insert((node, corr), (conn, Some(stream)));
                return Some(Input::Sent {
                    corr,
                    conn,
                    new_connection,
                });
            }
            Effect::Connect { corr, to, via, mode } => {
                let conn = net.connect(ctx, node, to, via, mode);
                *slot(&mut self.opened, conn as usize) = Some(corr);
                self.conn_of.insert((node, corr), (conn, None));
            }
            Effect::Respond { at, rsp, delay } => net.respond_after(ctx, at.conn, at.stream, *rsp, delay),
            Effect::Close(r) => {
                if let Some(c) = self.conn(node, r) {
                    net.close_conn(c);
                }
            }
            Effect::Abort { conn, alert, reason } => net.abort_conn(ctx, conn, alert, reason),
            Effect::AcceptTunnel(conn) => net.accept_connect(ctx, conn),
            Effect::RefuseTunnel {
                conn,
                status,
                body,
                headers,
                schema,
            } => net.refuse_connect(ctx, conn, status, body, headers, schema),
            Effect::Intercept { client, server, action } => net.set_intercept(node, client, server, action),
            Effect::SetTimer { after, timer } => {
                let id = ctx.set_timer_for(node, after, (self.wrap)(node, timer.clone()));
                if let Some(old) = self.timers.insert((node, timer), id) {
                    ctx.cancel(old);
                }
            }
            Effect::CancelTimer(timer) => {
                if let Some(id) = self.timers.remove(&(node, timer)) {
                    ctx.cancel(id);
                }
            }
            Effect::Record(r) => io.records.push(*r),
            Effect::Audit(ev) => self.audit.emit(ctx, *ev),
            Effect::Work(ops) => self.work = net.work(node, ctx.now(), &ops),
            Effect::AfterWork(mut e) => {
                match &mut *e {
                    Effect::Request { delay, .. } | Effect::Respond { delay, .. } => *delay += self.work,
                    Effect::Record(r) => r.end_ns += self.work.as_nanos(),
                    _ => {}
                }
                return self.apply(io, node, *e);
            }
            Effect::MarkBytes { mark, conn, less } => {
                if let Some(c) = self.conn(node, conn) {
                    let base = net.conn(c).bytes.saturating_sub(less);
                    self.marks.insert((node, mark), (c, base));
                }
            }
            Effect::RecordBytes { mut record, mark } => {
                record.bytes = self
                    .marks
                    .get(&(node, mark))
                    .map_or(0, |&(c, base)| net.conn(c).bytes.saturating_sub(base));
                io.records.push(*record);
            }
            Effect::AuditStream { corr, ev } => {
                if let Some(at) = self.find(node, corr) {
                    self.audit.emit(ctx, ev.at_stream(u64::from(at.conn), at.stream));
                }
            }
            Effect::Abandon(corr) => _ = self.forget(node, corr),
            // The world handles it before the driver (it knows the middleboxes).
            Effect::DirectAttempt { .. } => {}
            Effect::SetCertificate(cert) => net.sec.set_certificate(node, *cert),
            Effect::MarkTraffic(mark) => {
                self.traffic.insert((node, mark), net.client_traffic(node));
            }
            Effect::RecordTraffic {
                record,
                mark,
                exchanges,
            } => io
                .records
                .push(self.traffic_record(net, node, *record, (mark, exchanges))),
            Effect::InstallPsk { identity, entry } => net.sec.install_psk(node, identity, entry),
            Effect::RemovePsk(identity) => net.sec.remove_psk(node, &identity),
            Effect::RespondAfterWork { at, rsp, delay, ops } => {
                let work = if ops.is_empty() {
                    crate::engine::SimDuration::ZERO
                } else {
                    net.sec.cpu.charge(node, ctx.now(), &ops)
                };
                net.respond_after(ctx, at.conn, at.stream, *rsp, delay.max(work));
            }
        }
        None
    }

    /// At the end of a run (no engine any more): applies only the metric records among
    /// `node`'s machine's effects (censoring), the others are dropped.
    pub fn finish<M: Machine<Timer = T>>(&mut self, net: &Network, node: NodeId, m: &mut M, records: &mut Vec<Record>) {
        while let Some(e) = m.poll_effect() {
            match e {
                Effect::Record(r) => records.push(*r),
                Effect::RecordTraffic {
                    record,
                    mark,
                    exchanges,
                } => records.push(self.traffic_record(net, node, *record, (mark, exchanges))),
                _ => {}
            }
        }
    }

    /// `record` with the bytes (and exchanges) `node` sent as a client since traffic mark `mark`.
    fn traffic_record(
        &self,
        net: &Network,
        node: NodeId,
        mut record: Record,
        (mark, exchanges): (Corr, bool),
    ) -> Record {
        let (bytes, n) = self
            .traffic
            .get(&(node, mark))
            .map_or((0, 0), |&t| net.client_traffic(node).since(t));
        record.bytes = bytes;
        if exchanges {
            record.round_trips = n;
        }
        record
    }

    /// Forgets request `corr` of `node` (its answer will be dropped); returns where it was
    /// sent (connection, stream).
    pub fn forget(&mut self, node: NodeId, corr: Corr) -> Option<Inbound> {
        let at = self.find(node, corr)?;
        self.take(at.conn, at.stream);
        self.conn_of.remove(&(node, corr));
        Some(at)
    }

    /// Where request `corr` of `node` is outstanding.
    fn find(&self, node: NodeId, corr: Corr) -> Option<Inbound> {
        let &(conn, Some(stream)) = self.conn_of.get(&(node, corr))? else {
            return None;
        };
        let row = self.requests.get(conn as usize)?;
        row.contains(&(stream, node, corr)).then_some(Inbound { conn, stream })
    }

    /// Notes request `(node, corr)` outstanding on `(conn, stream)`.
    fn put(&mut self, conn: ConnId, stream: u32, (node, corr): (NodeId, Corr)) {
        let row = slot(&mut self.requests, conn as usize);
        match row.binary_search_by_key(&stream, |e| e.0) {
            Ok(i) => row[i] = (stream, node, corr),
            Err(i) => row.insert(i, (stream, node, corr)),
        }
    }

    /// The request outstanding on `(conn, stream)`, no longer outstanding.
    fn take(&mut self, conn: ConnId, stream: u32) -> Option<(u32, NodeId, Corr)> {
        let row = self.requests.get_mut(conn as usize)?;
        let i = row.binary_search_by_key(&stream, |e| e.0).ok()?;
        Some(row.remove(i))
    }

    /// The outstanding requests in (connection, stream) order, with their sender and
    /// correlation id (censoring walks them).
    pub fn outstanding(&self) -> impl Iterator<Item = (NodeId, Corr)> + '_ {
        self.requests.iter().flatten().map(|&(_, node, corr)| (node, corr))
    }
}
