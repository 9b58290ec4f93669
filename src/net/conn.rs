//! Connections: TCP setup, TLS 1.3 handshake flights, HTTP/2 streams multiplexed on one
//! connection, HTTP CONNECT tunnels through a proxy, and idle timeouts.
//!
//! Direct connection (client C, server S); the first request leaves after 2 RTT:
//!
//! ```text
//!  C ── SYN ─────────────────────────► S
//!  C ◄───────────────────── SYN-ACK ── S      1 RTT  (TCP)
//!  C ── ClientHello ─────────────────► S
//!  C ◄── ServerHello..Finished ─────── S      2 RTT  (TLS 1.3, mutual)
//!  C ── Certificate, CV, Finished ───► S
//!  C ── HEADERS/DATA (stream 1, 3..) ► S      requests follow the client's Finished
//! ```
//!
//! Through a CONNECT proxy P (RFC 9110 9.3.6): TCP to P, `CONNECT S`, P opens TCP to S and
//! answers 200, then TLS end to end through the tunnel. The first request leaves after
//! `2 RTT(C,P) + RTT(P,S) + RTT(C,S)`: with P on the path, 2 RTT(C,S) + 1 RTT(C,P), i.e.
//! one extra round trip to the proxy. With `tls_to_proxy`, a TLS handshake with P comes
//! before the CONNECT (one more RTT(C,P)). The proxy's application decides on each CONNECT
//! ([`Network::accept_connect`] / [`Network::refuse_connect`]); a refusal (e.g. 403 with a
//! ProblemDetails body) fails the connection and every request waiting on it.
//!
//! Requests issued while a connection is being set up wait on it; once it is ready they
//! leave in order, each on its own stream. TCP delivers in order: no segment of a
//! connection overtakes an earlier one in the same direction. A connection with no open
//! stream for `idle_timeout` is closed by the client (the next request opens a new one).
//! A segment that the links give up on (outage or loss beyond the retransmission budget)
//! fails the connection at the sender.
//!
//! The model is omniscient about connection state (both ends' states live in one
//! [`Conn`]), but each transition happens only when the segment that causes it arrives.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::http::{HandshakeSizes, HttpRequest, HttpResponse};
use super::link::Transit;
use super::tls::{FinishMsg, FlightMsg, HelloMsg, Security, Session, TlsFailure, TlsMode};
use super::topology::{NodeId, Topology};
use crate::engine::{Ctx, SimDuration, SimTime};
use crate::metrics::trace_line::TraceLine;

/// A connection id, dense from 0 in creation order.
pub type ConnId = u32;

/// Which TCP connection of a tunnelled connection a segment is on.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Leg {
    /// Client to its first hop (the server, or the proxy).
    Edge,
    /// Proxy to server.
    Upstream,
}

/// A segment (or flight) on a connection.
#[derive(Clone, Debug, PartialEq)]
pub enum Segment {
    Syn(Leg),
    SynAck(Leg),
    /// TLS with the proxy (only with `tls_to_proxy`).
    ProxyClientHello(Box<HelloMsg>),
    ProxyServerFlight(Box<FlightMsg>),
    /// HTTP CONNECT; with `tls_to_proxy` the client's Finished travels with it.
    Connect(Option<Box<FinishMsg>>),
    ConnectReply {
        status: u16,
        body: Option<String>,
        /// Response headers beyond the status (e.g. `Proxy-Status`, `3gpp-Connect-Res-Info`).
        headers: Vec<(String, String)>,
        /// The OpenAPI schema of the body ("" for none).
        schema: &'static str,
    },
    ClientHello(Box<HelloMsg>),
    ServerFlight(Box<FlightMsg>),
    ClientFinished(Box<FinishMsg>),
    /// A fatal TLS alert (the handshake failed at the sender).
    Alert {
        alert: &'static str,
        reason: String,
    },
    Request {
        stream: u32,
        req: HttpRequest,
    },
    Response {
        stream: u32,
        rsp: HttpResponse,
    },
}

impl Segment {
    /// The name in traces: the OpenAPI schema for HTTP bodies, else the protocol message.
    pub fn name(&self) -> &str {
        match self {
            Segment::Syn(_) => "TCP SYN",
            Segment::SynAck(_) => "TCP SYN-ACK",
            Segment::ProxyClientHello(_) => "TLS ClientHello (proxy)",
            Segment::ProxyServerFlight(_) => "TLS ServerHello..Finished (proxy)",
            Segment::Connect(_) => "HTTP CONNECT",
            Segment::ConnectReply { schema, .. } if !schema.is_empty() => schema,
            Segment::ConnectReply { .. } => "HTTP CONNECT response",
            Segment::ClientHello(_) => "TLS ClientHello",
            Segment::ServerFlight(_) => "TLS ServerHello..Finished",
            Segment::ClientFinished(_) => "TLS Certificate..Finished",
            Segment::Alert { .. } => "TLS Alert",
            Segment::Request { req, .. } if !req.schema.is_empty() => req.schema,
            Segment::Request { .. } => "HTTP request",
            Segment::Response { rsp, .. } if !rsp.schema.is_empty() => rsp.schema,
            Segment::Response { .. } => "HTTP response",
        }
    }
}

/// A segment in flight.
#[derive(Clone, Debug, PartialEq)]
pub struct Packet {
    pub conn: ConnId,
    pub from: NodeId,
    pub bytes: u32,
    pub seg: Segment,
}

/// What the network puts on the engine's queue.
#[derive(Clone, Debug, PartialEq)]
pub enum Wire {
    /// A segment arriving at the event's target node.
    Packet(Packet),
    /// The client checks whether a connection has been idle long enough to close.
    IdleCheck(ConnId),
    /// The links gave up on a segment this node sent.
    GiveUp(ConnId),
    /// A middlebox reset the connection.
    Reset(ConnId),
}

/// What an on-path node does to a direct connection it will not carry.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Intercept {
    /// Drops every packet: the client gives up after its connect timeout.
    Drop,
    /// Answers the SYN with a TCP reset.
    Reset,
    /// Lets TCP through, reads the ClientHello (SNI) and answers with a TLS alert.
    AlertOnClientHello,
    /// No route exists (routes withdrawn, DNS): the client fails at once.
    NoRoute,
}

/// Why a connection failed.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum ConnFailure {
    /// The proxy refused the CONNECT with this status and body.
    Refused {
        status: u16,
        body: Option<String>,
        headers: Vec<(String, String)>,
    },
    /// The connection was reset (TCP RST), e.g. by a middlebox on the path.
    Reset,
    /// The links gave up (outage, loss beyond the retransmission budget, no route).
    Unreachable,
    /// The TLS handshake failed (bad certificate, unknown PSK identity, wrong PSK...).
    Tls(TlsFailure),
}

/// What a node's application sees.
#[derive(Clone, Debug, PartialEq)]
pub enum NetEvent {
    /// At a server: a request on `stream` from `client`.
    Request {
        conn: ConnId,
        stream: u32,
        client: NodeId,
        req: HttpRequest,
    },
    /// At a client: the response on `stream`.
    Response {
        conn: ConnId,
        stream: u32,
        rsp: HttpResponse,
    },
    /// At a proxy: a client asks for a tunnel to `target`. Answer with
    /// [`Network::accept_connect`] or [`Network::refuse_connect`].
    ConnectRequest {
        conn: ConnId,
        client: NodeId,
        target: NodeId,
    },
    /// At a client: a connection opened with [`Network::connect`] completed its handshake
    /// on the client side (TLS 1.3: server flight checked, Finished sent). A server that
    /// then refuses the client's certificate still answers with an alert (`Failed`).
    Connected { conn: ConnId },
    /// At a client: the connection failed; these streams will get no response.
    Failed {
        conn: ConnId,
        streams: Vec<u32>,
        cause: ConnFailure,
    },
}

#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum ClientState {
    TcpSyn,
    ProxyTls,
    Connecting,
    Tls,
    Ready,
    Closed,
}

/// One connection (both ends' views).
#[derive(Debug)]
pub struct Conn {
    pub client: NodeId,
    pub server: NodeId,
    pub via: Option<NodeId>,
    state: ClientState,
    server_ready: bool,
    pending: Vec<(u32, HttpRequest)>,
    open: BTreeSet<u32>,
    next_stream: u32,
    last_activity: SimTime,
    /// When the client sent its SYN.
    pub opened_at: SimTime,
    /// When the client could send its first request.
    pub ready_at: Option<SimTime>,
    /// Latest arrival per direction (client→server, server→client): TCP order.
    arrival: [SimTime; 2],
    /// Bytes sent on the connection, both directions, all legs.
    pub bytes: u64,
    pub retransmissions: u32,
    /// The end-to-end TLS session (client and server secrets once complete).
    pub tls: Session,
    /// The TLS session with the proxy (`tls_to_proxy`).
    pub proxy_tls: Session,
    /// Tell the client's application when the handshake completes ([`NetEvent::Connected`]).
    notify_ready: bool,
}

/// Connection-model knobs.
#[derive(Clone, Copy, Debug)]
pub struct NetConfig {
    pub idle_timeout: SimDuration,
    /// A client gives up on a connection whose SYN gets no answer after this.
    pub connect_timeout: SimDuration,
    pub tls_to_proxy: bool,
    pub sizes: HandshakeSizes,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            idle_timeout: SimDuration::from_secs(60),
            connect_timeout: SimDuration::from_secs(3),
            tls_to_proxy: false,
            sizes: HandshakeSizes::default(),
        }
    }
}

/// The network: topology, connections and the pool of reusable connections.
pub struct Network {
    /// On-path interceptions by (client, server): the intercepting node and its action.
    intercepts: BTreeMap<(NodeId, NodeId), (NodeId, Intercept)>,
    pub topo: Topology,
    pub cfg: NetConfig,
    /// PKI, PSK stores, crypto fidelity and CPU costs.
    pub sec: Security,
    conns: Vec<Conn>,
    pool: BTreeMap<PoolKey, ConnId>,
    /// Per node, as the client of its connections: what [`Network::client_traffic`] reports.
    client_traffic: Vec<ClientTraffic>,
}

/// What a node has exchanged as the client of its connections so far: the bytes of every
/// segment on them (both directions, every leg, as [`Conn::bytes`]) and its exchanges (each
/// HTTP request it sent and each connection it set up, a TCP + TLS handshake counting as one).
/// A procedure's bytes and exchanges are the difference of two readings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientTraffic {
    pub bytes: u64,
    pub exchanges: u32,
}

impl ClientTraffic {
    /// What was exchanged from `earlier` to `self`: (bytes, exchanges).
    pub fn since(self, earlier: ClientTraffic) -> (u64, u32) {
        (
            self.bytes.saturating_sub(earlier.bytes),
            self.exchanges.saturating_sub(earlier.exchanges),
        )
    }
}

type PoolKey = (NodeId, NodeId, Option<NodeId>, TlsMode);

/// Segments flow end to end (through the proxy if any), on the edge leg, or upstream.
#[derive(Clone, Copy)]
enum Route {
    EndToEnd,
    Edge,
    Upstream,
}

impl Network {
    pub fn new(topo: Topology, cfg: NetConfig, sec: Security) -> Network {
        Network {
            client_traffic: vec![ClientTraffic::default(); topo.node_count()],
            topo,
            cfg,
            sec,
            conns: Vec::new(),
            intercepts: BTreeMap::new(),
            pool: BTreeMap::new(),
        }
    }

    /// What `node` has exchanged as a client so far (see [`ClientTraffic`]).
    pub fn client_traffic(&self, node: NodeId) -> ClientTraffic {
        self.client_traffic.get(node as usize).copied().unwrap_or_default()
    }

    fn count_exchange(&mut self, client: NodeId) {
        if let Some(t) = self.client_traffic.get_mut(client as usize) {
            t.exchanges += 1;
        }
    }

    pub fn conn(&self, id: ConnId) -> &Conn {
        &self.conns[id as usize]
    }

    /// Connections opened so far.
    pub fn conn_count(&self) -> usize {
        self.conns.len()
    }

    /// Sends `req` from `client` to `server` (through the CONNECT proxy `via`) over mutual
    /// TLS with certificates, on a pooled connection if one is open, else on a new one.
    /// Returns the connection and stream.
    pub fn request<M: From<Wire>>(
        &mut self,
        ctx: &mut Ctx<'_, M>,
        client: NodeId,
        server: NodeId,
        via: Option<NodeId>,
        req: HttpRequest,
    ) -> (ConnId, u32) {
        self.request_with(ctx, client, server, via, TlsMode::Certificate, req)
    }

    /// [`Network::request`] on a connection authenticated with `mode`; connections with
    /// different modes are pooled apart.
    pub fn request_with<M: From<Wire>>(
        &mut self,
        ctx: &mut Ctx<'_, M>,
        client: NodeId,
        server: NodeId,
        via: Option<NodeId>,
        mode: TlsMode,
        req: HttpRequest,
    ) -> (ConnId, u32) {
        self.request_on(ctx, (client, server, via, mode), req, ZERO)
    }

    /// [`Network::request`] after `delay` of processing at the client (e.g. protecting the
    /// message); on a connection still being set up the request waits for it anyway.
    pub fn request_after<M: From<Wire>>(
        &mut self,
        ctx: &mut Ctx<'_, M>,
        client: NodeId,
        server: NodeId,
        via: Option<NodeId>,
        req: HttpRequest,
        delay: SimDuration,
    ) -> (ConnId, u32) {
        self.request_on(ctx, (client, server, via, TlsMode::Certificate), req, delay)
    }

    /// Sends `req` on the pooled connection of `key` = (client, server, via, mode), opening
    /// it if none is open, after `delay` of processing at the client. Returns the connection
    /// and stream.
    pub fn request_on<M: From<Wire>>(
        &mut self,
        ctx: &mut Ctx<'_, M>,
        key: (NodeId, NodeId, Option<NodeId>, TlsMode),
        req: HttpRequest,
        delay: SimDuration,
    ) -> (ConnId, u32) {
        let (client, server, via, mode) = key;
        let now = ctx.now();
        let id = self.open(ctx, client, server, via, mode);
        self.count_exchange(client);
        let c = &mut self.conns[id as usize];
        let stream = c.next_stream;
        c.next_stream += 2; // client-initiated HTTP/2 streams are odd
        c.open.insert(stream);
        c.last_activity = now;
        if c.state == ClientState::Ready {
            let bytes = req.wire_bytes();
            self.ship(
                ctx,
                id,
                client,
                Route::EndToEnd,
                Segment::Request { stream, req },
                bytes,
                delay,
            );
        } else {
            c.pending.push((stream, req));
        }
        (id, stream)
    }

    /// Opens a new connection from `client` to `server` authenticated with `mode` (never a
    /// pooled one: a new CAPIF-2e session is a new handshake) and reports
    /// [`NetEvent::Connected`] to the client when its side of the handshake completes. Later
    /// requests with the same (client, server, via, mode) use it while it is open.
    pub fn connect<M: From<Wire>>(
        &mut self,
        ctx: &mut Ctx<'_, M>,
        client: NodeId,
        server: NodeId,
        via: Option<NodeId>,
        mode: TlsMode,
    ) -> ConnId {
        let key = (client, server, via, mode.clone());
        // An older connection with the same key stays open for its streams, unpooled.
        self.pool.remove(&key);
        let id = self.open(ctx, client, server, via, mode);
        self.conns[id as usize].notify_ready = true;
        id
    }

    /// The server aborts a connection with a fatal TLS alert (e.g. it refuses the client's
    /// certificate when it reads the client's Finished): the client learns it one way later
    /// as [`ConnFailure::Tls`], with the streams still open; later requests are ignored.
    pub fn abort_conn<M: From<Wire>>(
        &mut self,
        ctx: &mut Ctx<'_, M>,
        conn: ConnId,
        alert: &'static str,
        reason: String,
    ) {
        let c = &mut self.conns[conn as usize];
        if c.state == ClientState::Closed {
            return;
        }
        c.server_ready = false;
        let server = c.server;
        let f = TlsFailure { alert, reason };
        self.tls_failed(ctx, conn, server, f);
    }

    /// The open pooled connection for the key, or a new one.
    fn open<M: From<Wire>>(
        &mut self,
        ctx: &mut Ctx<'_, M>,
        client: NodeId,
        server: NodeId,
        via: Option<NodeId>,
        mode: TlsMode,
    ) -> ConnId {
        let now = ctx.now();
        let key = (client, server, via, mode.clone());
        match self.pool.get(&key) {
            Some(&id) if self.conns[id as usize].state != ClientState::Closed => id,
            _ => {
                let id = self.conns.len() as ConnId;
                self.count_exchange(client);
                self.conns.push(Conn {
                    client,
                    server,
                    via,
                    state: ClientState::TcpSyn,
                    server_ready: false,
                    pending: Vec::new(),
                    open: BTreeSet::new(),
                    next_stream: 1,
                    last_activity: now,
                    opened_at: now,
                    ready_at: None,
                    arrival: [SimTime::ZERO; 2],
                    bytes: 0,
                    retransmissions: 0,
                    tls: Session::new(mode),
                    proxy_tls: Session::default(),
                    notify_ready: false,
                });
                self.pool.insert(key, id);
                match self.intercept(client, server, via) {
                    Some((_, Intercept::Drop)) => {
                        ctx.send_at(client, now + self.cfg.connect_timeout, Wire::GiveUp(id).into());
                    }
                    Some((_, Intercept::NoRoute)) => ctx.send_at(client, now, Wire::GiveUp(id).into()),
                    Some((node, Intercept::Reset)) => {
                        let t = self.round_trip(client, node, now, self.cfg.sizes.tcp_syn);
                        ctx.send_at(client, t, Wire::Reset(id).into());
                    }
                    _ => {
                        let syn = self.cfg.sizes.tcp_syn;
                        self.ship(ctx, id, client, Route::Edge, Segment::Syn(Leg::Edge), syn, ZERO);
                    }
                }
                id
            }
        }
    }

    /// Answers the request on `stream` (called by the server's application), after
    /// `delay` of processing.
    pub fn respond_after<M: From<Wire>>(
        &mut self,
        ctx: &mut Ctx<'_, M>,
        conn: ConnId,
        stream: u32,
        rsp: HttpResponse,
        delay: SimDuration,
    ) {
        let c = &self.conns[conn as usize];
        if c.state == ClientState::Closed {
            return; // the client gave up on this connection; nobody is listening
        }
        let server = c.server;
        let bytes = rsp.wire_bytes();
        // The answer also waits for the server's CPU (e.g. still verifying a handshake).
        let backlog = self.sec.cpu.charge(server, ctx.now(), &[]);
        let delay = delay.max(backlog);
        self.ship(
            ctx,
            conn,
            server,
            Route::EndToEnd,
            Segment::Response { stream, rsp },
            bytes,
            delay,
        );
    }

    /// Charges `ops` to `node`'s CPU at `now` (its cost model); the delay until the work is
    /// done.
    pub fn work(&mut self, node: NodeId, now: SimTime, ops: &[(crate::crypto::cost::CryptoOp, u64)]) -> SimDuration {
        self.sec.cpu.charge(node, now, ops)
    }

    /// Answers the request on `stream` now.
    pub fn respond<M: From<Wire>>(&mut self, ctx: &mut Ctx<'_, M>, conn: ConnId, stream: u32, rsp: HttpResponse) {
        self.respond_after(ctx, conn, stream, rsp, ZERO);
    }

    /// The proxy accepts a CONNECT: it opens TCP to the target, then answers 200.
    pub fn accept_connect<M: From<Wire>>(&mut self, ctx: &mut Ctx<'_, M>, conn: ConnId) {
        let Some(proxy) = self.conns[conn as usize].via else {
            return;
        };
        let syn = self.cfg.sizes.tcp_syn;
        self.ship(
            ctx,
            conn,
            proxy,
            Route::Upstream,
            Segment::Syn(Leg::Upstream),
            syn,
            ZERO,
        );
    }

    /// The proxy refuses a CONNECT with `status` and an optional body (e.g. ProblemDetails).
    pub fn refuse_connect<M: From<Wire>>(
        &mut self,
        ctx: &mut Ctx<'_, M>,
        conn: ConnId,
        status: u16,
        body: Option<String>,
        headers: Vec<(String, String)>,
        schema: &'static str,
    ) {
        let Some(proxy) = self.conns[conn as usize].via else {
            return;
        };
        let header_bytes: usize = headers.iter().map(|(n, v)| n.len() + v.len() + 2).sum();
        let bytes =
            self.cfg.sizes.connect_response + header_bytes as u32 + body.as_ref().map_or(0, |b| 9 + b.len() as u32);
        let seg = Segment::ConnectReply {
            status,
            body,
            headers,
            schema,
        };
        self.ship(ctx, conn, proxy, Route::Edge, seg, bytes, ZERO);
    }

    /// The client closes a connection (e.g. N32-c after TLS was selected); requests still
    /// open on it get no answer.
    pub fn close_conn(&mut self, id: ConnId) {
        self.close(id);
    }

    /// Installs (or, with `None`, removes) an on-path interception at `node`: direct (not
    /// tunnelled) connections from `client` to `server` whose route passes `node` meet
    /// `action`. Models what a Roaming Intermediary does to direct TLS on N32-c.
    pub fn set_intercept(&mut self, node: NodeId, client: NodeId, server: NodeId, action: Option<Intercept>) {
        match action {
            Some(a) => self.intercepts.insert((client, server), (node, a)),
            None => self.intercepts.remove(&(client, server)),
        };
    }

    /// The interception that applies to a new direct connection, if its route passes the
    /// intercepting node.
    fn intercept(&mut self, client: NodeId, server: NodeId, via: Option<NodeId>) -> Option<(NodeId, Intercept)> {
        if via.is_some() {
            return None;
        }
        let (node, action) = *self.intercepts.get(&(client, server))?;
        let path = self.topo.path(client, server)?;
        let on_path = path.iter().any(|&e| {
            self.topo
                .graph
                .edge_endpoints(e)
                .is_some_and(|(_, b)| b.index() == node as usize)
        });
        on_path.then_some((node, action))
    }

    /// When an answer from `node` to a segment `client` sends now is back at `client`.
    fn round_trip(&mut self, client: NodeId, node: NodeId, now: SimTime, bytes: u32) -> SimTime {
        let there = match self.topo.transmit(client, node, now, bytes) {
            Transit::Arrives { at, .. } | Transit::GivenUp { at } => at,
        };
        match self.topo.transmit(node, client, there, bytes) {
            Transit::Arrives { at, .. } | Transit::GivenUp { at } => at,
        }
    }

    /// Puts a segment on its way from `from` after `delay` (processing time); schedules its
    /// arrival (or the give-up).
    #[allow(clippy::too_many_arguments)]
    fn ship<M: From<Wire>>(
        &mut self,
        ctx: &mut Ctx<'_, M>,
        id: ConnId,
        from: NodeId,
        route: Route,
        seg: Segment,
        bytes: u32,
        delay: SimDuration,
    ) {
        let now = ctx.now() + delay;
        let c = &self.conns[id as usize];
        let from_client = from == c.client;
        let to = match (route, from_client) {
            (Route::EndToEnd, true) => c.server,
            (Route::EndToEnd, false) => c.client,
            (Route::Edge, true) => c.via.unwrap_or(c.server),
            (Route::Edge, false) => c.client,
            (Route::Upstream, _) if from == c.server => c.via.unwrap_or(c.client),
            (Route::Upstream, _) => c.server,
        };
        let hops: [Option<NodeId>; 2] = match (route, c.via) {
            (Route::EndToEnd, Some(p)) => [Some(p), Some(to)],
            _ => [Some(to), None],
        };
        let mut t = now;
        let mut at = from;
        let mut retrans = 0;
        for hop in hops.into_iter().flatten() {
            match self.topo.transmit(at, hop, t, bytes) {
                Transit::Arrives {
                    at: arrive,
                    retransmissions,
                } => {
                    t = arrive;
                    retrans += retransmissions;
                    at = hop;
                }
                Transit::GivenUp { at: when } => {
                    ctx.send_at(from, when, Wire::GiveUp(id).into());
                    return;
                }
            }
        }
        let c = &mut self.conns[id as usize];
        // TCP delivers in order per direction (towards the client, or away from it).
        let dir = usize::from(to == c.client);
        let t = t.max(c.arrival[dir]);
        c.arrival[dir] = t;
        let legs = if c.via.is_some() && matches!(route, Route::EndToEnd) {
            2
        } else {
            1
        };
        c.bytes += u64::from(bytes) * legs;
        c.retransmissions += retrans;
        if let Some(t) = self.client_traffic.get_mut(c.client as usize) {
            t.bytes += u64::from(bytes) * legs;
        }
        ctx.send_at(
            to,
            t,
            Wire::Packet(Packet {
                conn: id,
                from,
                bytes,
                seg,
            })
            .into(),
        );
    }

    /// Handles a network event at `node`; returns what the node's application must see.
    pub fn on_wire<M: From<Wire>>(&mut self, ctx: &mut Ctx<'_, M>, node: NodeId, wire: Wire) -> Option<NetEvent> {
        match wire {
            Wire::Packet(p) => {
                if ctx.tracing() {
                    let line = self.trace_line(ctx.now(), node, &p);
                    ctx.trace(&line);
                }
                self.on_packet(ctx, node, p)
            }
            Wire::IdleCheck(id) => {
                let now = ctx.now();
                let idle = self.cfg.idle_timeout;
                let c = &mut self.conns[id as usize];
                if c.state != ClientState::Ready {
                    return None;
                }
                if c.open.is_empty() && now.saturating_since(c.last_activity) >= idle {
                    self.close(id);
                } else {
                    let due = if c.open.is_empty() {
                        c.last_activity + idle
                    } else {
                        now + idle
                    };
                    ctx.set_timer_for(c.client, due - now, Wire::IdleCheck(id).into());
                }
                None
            }
            Wire::GiveUp(id) => self.fail(id, node, ConnFailure::Unreachable),
            Wire::Reset(id) => self.fail(id, node, ConnFailure::Reset),
        }
    }

    /// Closes a connection after a failure seen at `node`; the client's application learns
    /// which streams are lost.
    fn fail(&mut self, id: ConnId, node: NodeId, cause: ConnFailure) -> Option<NetEvent> {
        let c = &self.conns[id as usize];
        if c.state == ClientState::Closed {
            return None;
        }
        let client = c.client;
        let streams: Vec<u32> = c.open.iter().copied().collect();
        self.close(id);
        (node == client).then_some(NetEvent::Failed {
            conn: id,
            streams,
            cause,
        })
    }

    fn close(&mut self, id: ConnId) {
        let c = &mut self.conns[id as usize];
        c.state = ClientState::Closed;
        c.server_ready = false;
        c.pending.clear();
        c.open.clear();
        let key = (c.client, c.server, c.via, c.tls.mode.clone());
        if self.pool.get(&key) == Some(&id) {
            self.pool.remove(&key);
        }
    }

    /// A handshake failed at `node`: the connection closes there; a server tells the client
    /// with an alert.
    fn tls_failed<M: From<Wire>>(
        &mut self,
        ctx: &mut Ctx<'_, M>,
        id: ConnId,
        node: NodeId,
        f: TlsFailure,
    ) -> Option<NetEvent> {
        let c = &self.conns[id as usize];
        if node != c.client {
            let bytes = TCP_ALERT_BYTES;
            let seg = Segment::Alert {
                alert: f.alert,
                reason: f.reason.clone(),
            };
            let route = if Some(node) == c.via {
                Route::Edge
            } else {
                Route::EndToEnd
            };
            self.ship(ctx, id, node, route, seg, bytes, ZERO);
            return None;
        }
        self.fail(id, node, ConnFailure::Tls(f))
    }

    fn on_packet<M: From<Wire>>(&mut self, ctx: &mut Ctx<'_, M>, node: NodeId, p: Packet) -> Option<NetEvent> {
        let id = p.conn;
        let now = ctx.now();
        let sizes = self.cfg.sizes;
        let c = &self.conns[id as usize];
        if c.state == ClientState::Closed {
            return None; // late segment of a closed connection
        }
        let (client, server, via) = (c.client, c.server, c.via);
        match p.seg {
            Segment::Syn(leg) => {
                let route = if leg == Leg::Edge { Route::Edge } else { Route::Upstream };
                self.ship(ctx, id, node, route, Segment::SynAck(leg), sizes.tcp_syn, ZERO);
                None
            }
            Segment::SynAck(Leg::Edge) => {
                if via.is_some() && self.cfg.tls_to_proxy {
                    self.conns[id as usize].state = ClientState::ProxyTls;
                    let proxy = via.unwrap_or(server);
                    let r = self
                        .sec
                        .client_hello(client, proxy, now, &mut self.conns[id as usize].proxy_tls);
                    match r {
                        Ok((hello, d)) => {
                            let seg = Segment::ProxyClientHello(Box::new(hello));
                            self.ship(ctx, id, client, Route::Edge, seg, sizes.client_hello, d);
                        }
                        Err(f) => return self.tls_failed(ctx, id, node, f),
                    }
                } else if via.is_some() {
                    self.conns[id as usize].state = ClientState::Connecting;
                    self.ship(
                        ctx,
                        id,
                        client,
                        Route::Edge,
                        Segment::Connect(None),
                        sizes.connect_request,
                        ZERO,
                    );
                } else {
                    return self.start_tls(ctx, id);
                }
                None
            }
            Segment::ProxyClientHello(hello) => {
                let r = self
                    .sec
                    .server_respond(node, now, &mut self.conns[id as usize].proxy_tls, &hello);
                match r {
                    Ok((flight, d)) => {
                        let seg = Segment::ProxyServerFlight(Box::new(flight));
                        self.ship(ctx, id, node, Route::Edge, seg, sizes.server_flight, d);
                        None
                    }
                    Err(f) => self.tls_failed(ctx, id, node, f),
                }
            }
            Segment::ProxyServerFlight(flight) => {
                let proxy_name = self.topo.name(via.unwrap_or(server)).to_string();
                let r = self.sec.client_finish(
                    client,
                    via.unwrap_or(server),
                    &proxy_name,
                    now,
                    &mut self.conns[id as usize].proxy_tls,
                    &flight,
                );
                match r {
                    Ok((fin, d)) => {
                        // The client's Finished travels with the CONNECT.
                        self.conns[id as usize].state = ClientState::Connecting;
                        let bytes = sizes.connect_request + sizes.client_finished;
                        self.ship(
                            ctx,
                            id,
                            client,
                            Route::Edge,
                            Segment::Connect(Some(Box::new(fin))),
                            bytes,
                            d,
                        );
                        None
                    }
                    Err(f) => self.tls_failed(ctx, id, node, f),
                }
            }
            Segment::Connect(fin) => {
                if let Some(fin) = fin {
                    let client_name = self.topo.name(client).to_string();
                    let r = self.sec.server_finish(
                        node,
                        client,
                        &client_name,
                        now,
                        &mut self.conns[id as usize].proxy_tls,
                        &fin,
                    );
                    if let Err(f) = r {
                        return self.tls_failed(ctx, id, node, f);
                    }
                }
                Some(NetEvent::ConnectRequest {
                    conn: id,
                    client,
                    target: server,
                })
            }
            Segment::SynAck(Leg::Upstream) => {
                // At the proxy: upstream TCP is up, the tunnel is ready.
                let seg = Segment::ConnectReply {
                    status: 200,
                    body: None,
                    headers: Vec::new(),
                    schema: "",
                };
                self.ship(ctx, id, node, Route::Edge, seg, sizes.connect_response, ZERO);
                None
            }
            Segment::ConnectReply {
                status, body, headers, ..
            } => {
                if (200..300).contains(&status) {
                    self.start_tls(ctx, id)
                } else {
                    self.fail(id, client, ConnFailure::Refused { status, body, headers })
                }
            }
            Segment::ClientHello(hello) => {
                let r = self
                    .sec
                    .server_respond(server, now, &mut self.conns[id as usize].tls, &hello);
                match r {
                    Ok((flight, d)) => {
                        let seg = Segment::ServerFlight(Box::new(flight));
                        self.ship(ctx, id, server, Route::EndToEnd, seg, sizes.server_flight, d);
                        None
                    }
                    Err(f) => self.tls_failed(ctx, id, node, f),
                }
            }
            Segment::ServerFlight(flight) => {
                let server_name = self.sec.expected_name(server, self.topo.name(server));
                let r = self.sec.client_finish(
                    client,
                    server,
                    &server_name,
                    now,
                    &mut self.conns[id as usize].tls,
                    &flight,
                );
                let (fin, d) = match r {
                    Ok(x) => x,
                    Err(f) => return self.tls_failed(ctx, id, node, f),
                };
                let bytes = if fin.chain.is_empty() {
                    52 + 58
                } else {
                    sizes.client_finished
                };
                self.ship(
                    ctx,
                    id,
                    client,
                    Route::EndToEnd,
                    Segment::ClientFinished(Box::new(fin)),
                    bytes,
                    d,
                );
                let c = &mut self.conns[id as usize];
                c.state = ClientState::Ready;
                c.ready_at = Some(now + d);
                c.last_activity = now;
                let pending = std::mem::take(&mut c.pending);
                for (stream, req) in pending {
                    let bytes = req.wire_bytes();
                    self.ship(
                        ctx,
                        id,
                        client,
                        Route::EndToEnd,
                        Segment::Request { stream, req },
                        bytes,
                        d,
                    );
                }
                let idle = self.cfg.idle_timeout;
                ctx.set_timer_for(client, idle, Wire::IdleCheck(id).into());
                self.conns[id as usize]
                    .notify_ready
                    .then_some(NetEvent::Connected { conn: id })
            }
            Segment::ClientFinished(fin) => {
                let client_name = self.sec.expected_name(client, self.topo.name(client));
                let r = self.sec.server_finish(
                    server,
                    client,
                    &client_name,
                    now,
                    &mut self.conns[id as usize].tls,
                    &fin,
                );
                match r {
                    Ok(_) => {
                        self.conns[id as usize].server_ready = true;
                        None
                    }
                    Err(f) => self.tls_failed(ctx, id, node, f),
                }
            }
            Segment::Alert { alert, reason } => {
                if node == client {
                    self.fail(id, client, ConnFailure::Tls(TlsFailure { alert, reason }))
                } else {
                    None
                }
            }
            Segment::Request { stream, req } => {
                let c = &mut self.conns[id as usize];
                if !c.server_ready {
                    // Requests follow the client's Finished in order; a server that refused
                    // the handshake has sent an alert and ignores them.
                    return None;
                }
                c.last_activity = now;
                Some(NetEvent::Request {
                    conn: id,
                    stream,
                    client,
                    req,
                })
            }
            Segment::Response { stream, rsp } => {
                let c = &mut self.conns[id as usize];
                c.last_activity = now;
                c.open
                    .remove(&stream)
                    .then_some(NetEvent::Response { conn: id, stream, rsp })
            }
        }
    }

    /// The client starts the end-to-end TLS handshake (after TCP, or through the tunnel).
    fn start_tls<M: From<Wire>>(&mut self, ctx: &mut Ctx<'_, M>, id: ConnId) -> Option<NetEvent> {
        let now = ctx.now();
        let (client, server) = (self.conns[id as usize].client, self.conns[id as usize].server);
        self.conns[id as usize].state = ClientState::Tls;
        let r = self
            .sec
            .client_hello(client, server, now, &mut self.conns[id as usize].tls);
        let via = self.conns[id as usize].via;
        if let (Ok((_, d)), Some((node, Intercept::AlertOnClientHello))) = (&r, self.intercept(client, server, via)) {
            // The on-path node reads the SNI and aborts the handshake.
            let t = self.round_trip(client, node, now + *d, self.cfg.sizes.client_hello);
            let seg = Segment::Alert {
                alert: "handshake_failure",
                reason: "refused by an on-path intermediary".into(),
            };
            ctx.send_at(
                client,
                t,
                Wire::Packet(Packet {
                    conn: id,
                    from: node,
                    bytes: TCP_ALERT_BYTES,
                    seg,
                })
                .into(),
            );
            return None;
        }
        match r {
            Ok((hello, d)) => {
                let size = self.cfg.sizes.client_hello;
                self.ship(
                    ctx,
                    id,
                    client,
                    Route::EndToEnd,
                    Segment::ClientHello(Box::new(hello)),
                    size,
                    d,
                );
                None
            }
            Err(f) => self.tls_failed(ctx, id, client, f),
        }
    }

    /// Whether the server side of a connection completed its handshake.
    pub fn server_ready(&self, id: ConnId) -> bool {
        self.conns[id as usize].server_ready
    }

    /// One trace line (JSON) for a delivered segment.
    fn trace_line(&self, now: SimTime, to: NodeId, p: &Packet) -> String {
        let c = &self.conns[p.conn as usize];
        let (method, path, status, body): (Option<&str>, Option<&str>, Option<u16>, Option<&str>) = match &p.seg {
            Segment::Request { req, .. } => (Some(req.method), Some(req.path.as_str()), None, Some(req.body.as_str())),
            Segment::Response { rsp, .. } => (None, None, Some(rsp.status), Some(rsp.body.as_str())),
            Segment::Connect(_) => (Some("CONNECT"), Some(self.topo.name(c.server)), None, None),
            Segment::ConnectReply { status, body, .. } => (None, None, Some(*status), body.as_deref()),
            Segment::Alert { alert, .. } => (None, None, None, Some(*alert)),
            _ => (None, None, None, None),
        };
        let body = body
            .filter(|b| !b.is_empty())
            .map(|b| serde_json::from_str::<Value>(b).unwrap_or_else(|_| Value::String(b.to_string())));
        // Only where they tell alternatives apart (sequence charts): the headers of a CONNECT
        // reply (the RI's suggestion may travel in `3gpp-connect-res-info` or
        // `proxy-status`), and a ClientHello offering a PSK (TLS-PSK, resumption).
        let (headers, tls) = match &p.seg {
            Segment::ConnectReply { headers, .. } if !headers.is_empty() => (Some(headers.clone()), None),
            Segment::ClientHello(h)
                if h.psk_identity.is_some() || h.hello.as_ref().is_some_and(|c| c.psk.is_some()) =>
            {
                (None, Some("psk".into()))
            }
            _ => (None, None),
        };
        TraceLine {
            time_ns: now.as_nanos(),
            from: self.topo.name(p.from).into(),
            to: self.topo.name(to).into(),
            conn: Some(p.conn),
            msg: p.seg.name().into(),
            method: method.map(Into::into),
            path: path.map(Into::into),
            status,
            bytes: Some(p.bytes),
            body,
            headers,
            tls,
        }
        .to_json()
    }
}

const ZERO: SimDuration = SimDuration::ZERO;
/// A TLS alert record with TCP/IP headers \[bytes\].
const TCP_ALERT_BYTES: u32 = 52 + 24;
