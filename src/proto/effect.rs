//! The one contract between every node machine and the driver that carries its messages.
//!
//! A node machine is sans-IO: it is handed an [`Input`] (a message it received, a transport
//! event on one of its own connections, one of its own timers) with `handle(now, input)`, and
//! it answers with [`Effect`]s that the driver drains with [`Machine::poll_effect`] and applies
//! **in the order they were pushed** (the order is part of the behaviour: two effects at the
//! same instant are scheduled in that order, and the trace hash sees it).
//!
//! Requests carry a correlation id ([`Corr`]) the machine chooses; the answer (or the failure
//! of the connection it travelled on) comes back with the same id, so no machine keeps a FIFO
//! of waiting streams and no machine needs the transport's connection table. A request the
//! machine *received* is named by its [`Inbound`] handle, which it passes back to answer.
//!
//! What a machine may know: its own configuration (keys, certificates, trust anchors, policy,
//! knobs, its own and its peers' addresses) and what arrives in its inputs. The driver hands a
//! machine nothing else (see the wire-truth hygiene test in `tests/sim/hygiene.rs`).

use std::collections::VecDeque;

use crate::audit::AuditEvent;
use crate::crypto::cost::CryptoOp;
use crate::engine::SimDuration;
use crate::metrics::Record;
use crate::net::conn::{ConnFailure, Intercept};
use crate::net::tls::{PskEntry, TlsMode};
use crate::net::{ConnId, HttpRequest, HttpResponse, NodeId};

/// A machine's correlation id for a request it sent or a connection it opened (unique per
/// machine; the driver never interprets it).
pub type Corr = u64;

/// A request this node received: pass it back in [`Effect::Respond`].
#[derive(Clone, Copy, Debug, Eq, Ord, PartialEq, PartialOrd)]
pub struct Inbound {
    pub conn: ConnId,
    pub stream: u32,
}

/// A connection of this node's: known by its id, or (before the driver reported the id) by
/// the correlation id of the [`Effect::Connect`] or [`Effect::Request`] that opened or used it.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum ConnRef {
    Id(ConnId),
    Corr(Corr),
}

/// What a machine is handed.
#[derive(Clone, Debug)]
pub enum Input<T> {
    /// A request arrived from `client` (the peer address the transport saw).
    Request {
        at: Inbound,
        client: NodeId,
        req: HttpRequest,
    },
    /// Request `corr` went out on `conn`; `new_connection`: it opened a connection or waits
    /// for one being set up (the client's own stack knows). Handed back at once, while the
    /// machine's effects are being applied: a machine only notes it and pushes no effect.
    Sent {
        corr: Corr,
        conn: ConnId,
        new_connection: bool,
    },
    /// The answer to request `corr`, which travelled on `conn`.
    Response {
        corr: Corr,
        conn: ConnId,
        rsp: HttpResponse,
    },
    /// Connection `conn` failed: the requests `corrs` (and the [`Effect::Connect`] that
    /// opened it, if it was one, listed first) get no answer.
    Failed {
        conn: ConnId,
        corrs: Vec<Corr>,
        cause: ConnFailure,
    },
    /// The connection opened with [`Effect::Connect`] `corr` is ready on this (client) side.
    Connected { corr: Corr, conn: ConnId },
    /// As a proxy: `client` asks for a tunnel to `target` (answer with
    /// [`Effect::AcceptTunnel`] or [`Effect::RefuseTunnel`]).
    ConnectRequest {
        conn: ConnId,
        client: NodeId,
        target: NodeId,
    },
    /// One of this machine's timers fired.
    Timer(T),
}

/// What a machine asks the driver to do.
#[derive(Clone, Debug)]
pub enum Effect<T> {
    /// Send `req` to `to` (through the CONNECT proxy `via`) on a pooled connection
    /// authenticated with `mode`, after `delay` of local processing.
    Request {
        corr: Corr,
        to: NodeId,
        via: Option<NodeId>,
        mode: TlsMode,
        req: Box<HttpRequest>,
        delay: SimDuration,
    },
    /// Open a new (never pooled) connection; [`Input::Connected`] follows when it is ready.
    Connect {
        corr: Corr,
        to: NodeId,
        via: Option<NodeId>,
        mode: TlsMode,
    },
    /// Answer a received request after `delay` of processing.
    Respond {
        at: Inbound,
        rsp: Box<HttpResponse>,
        delay: SimDuration,
    },
    /// Close a connection of this node's (requests still open on it get no answer).
    Close(ConnRef),
    /// As a TLS server: abort the connection with a fatal alert.
    Abort {
        conn: ConnId,
        alert: &'static str,
        reason: String,
    },
    /// As a proxy: accept the tunnel.
    AcceptTunnel(ConnId),
    /// As a proxy: refuse the tunnel with `status` and an optional body.
    RefuseTunnel {
        conn: ConnId,
        status: u16,
        body: Option<String>,
        headers: Vec<(String, String)>,
        schema: &'static str,
    },
    /// As an on-path middlebox: meet direct connections from `client` to `server` with
    /// `action` (`None` lifts it).
    Intercept {
        client: NodeId,
        server: NodeId,
        action: Option<Intercept>,
    },
    /// Arm `timer` to fire after `after` (re-arming an armed timer replaces it).
    SetTimer { after: SimDuration, timer: T },
    /// Disarm `timer` (nothing if it is not armed).
    CancelTimer(T),
    /// A finished (or censored) procedure's metric record.
    Record(Box<Record>),
    /// A fact for the invariant checker (emit only when [`Effects::audit`] is on).
    Audit(Box<AuditEvent>),
    /// Charge `ops` to this node's CPU now (its cost model; work queues behind earlier
    /// work); the time until it is done is held for the next [`Effect::AfterWork`].
    Work(Vec<(CryptoOp, u64)>),
    /// Apply the [`Effect::Request`] or [`Effect::Respond`] inside after the work held from
    /// the last [`Effect::Work`] (its delay raised by it); a [`Effect::Record`] inside ends
    /// that much later.
    AfterWork(Box<Effect<T>>),
    /// Measurement: remember as `mark` the bytes connection `conn` carried so far, less
    /// `less` (the driver reads the connection; the machine never sees the number).
    MarkBytes { mark: Corr, conn: ConnRef, less: u64 },
    /// A metric record whose `bytes` the driver fills with what the connection of `mark`
    /// carried since [`Effect::MarkBytes`] (0 without a mark).
    RecordBytes { record: Box<Record>, mark: Corr },
    /// A fact for the invariant checker about request `corr` just sent: the driver fills in
    /// its connection and stream ([`AuditEvent::at_stream`]).
    AuditStream { corr: Corr, ev: Box<AuditEvent> },
    /// Give up on request `corr` (its answer, if any, is dropped): the client resets the
    /// stream, and the server learns it at once (the model carries no RST_STREAM frame; the
    /// world tells the server's machine).
    Abandon(Corr),
    /// A direct (not tunnelled) connection to `to` is about to be opened: the on-path
    /// middleboxes decide now how they meet it (the world asks them; see
    /// [`Effect::Intercept`]).
    DirectAttempt { to: NodeId },
    /// As a TLS server: this node's TLS stack holds `entry` for the PSK `identity` (replacing
    /// the one it held).
    InstallPsk { identity: Vec<u8>, entry: PskEntry },
    /// As a TLS server: this node's TLS stack drops the PSK of `identity`.
    RemovePsk(Vec<u8>),
    /// This node's TLS identity is now `cert` (for the same key pair, e.g. the certificate
    /// its CCF issued at onboarding): later connections present it.
    SetCertificate(Box<crate::crypto::pki::Certificate>),
    /// Measurement: remember as `mark` what this node has exchanged as a client so far (its
    /// own stack's counters; the machine never sees the numbers).
    MarkTraffic(Corr),
    /// A metric record whose `bytes` (and, with `exchanges`, `round_trips`) the driver fills
    /// with what this node exchanged as a client since [`Effect::MarkTraffic`] `mark`.
    RecordTraffic {
        record: Box<Record>,
        mark: Corr,
        exchanges: bool,
    },
    /// Answer a received request after `delay` of processing or, if it ends later, after this
    /// node's CPU has done `ops` (charged when the effect is applied; none: nothing charged).
    RespondAfterWork {
        at: Inbound,
        rsp: Box<HttpResponse>,
        delay: SimDuration,
        ops: Vec<(CryptoOp, u64)>,
    },
}

/// A machine's queue of effects, drained by the driver after each input.
#[derive(Clone, Debug)]
pub struct Effects<T> {
    queue: VecDeque<Effect<T>>,
    /// Whether audit facts are wanted (the driver sets it before the run): build them only
    /// then.
    pub audit: bool,
}

impl<T> Default for Effects<T> {
    fn default() -> Self {
        Effects {
            queue: VecDeque::new(),
            audit: false,
        }
    }
}

impl<T> Effects<T> {
    pub fn push(&mut self, e: Effect<T>) {
        self.queue.push_back(e);
    }

    pub fn pop(&mut self) -> Option<Effect<T>> {
        self.queue.pop_front()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Every queued effect, in the order pushed, moved out at once (the queue is left empty):
    /// the same effects as polling [`Effects::pop`] until `None`, without moving each.
    pub fn take(&mut self) -> Vec<Effect<T>> {
        Vec::from(std::mem::take(&mut self.queue))
    }

    /// Pushes an audit fact, built only when the audit is on.
    pub fn audit(&mut self, ev: impl FnOnce() -> AuditEvent) {
        if self.audit {
            self.queue.push_back(Effect::Audit(Box::new(ev())));
        }
    }

    /// Pushes a metric record.
    pub fn record(&mut self, r: Record) {
        self.queue.push_back(Effect::Record(Box::new(r)));
    }

    pub fn set_timer(&mut self, after: SimDuration, timer: T) {
        self.queue.push_back(Effect::SetTimer { after, timer });
    }

    pub fn cancel_timer(&mut self, timer: T) {
        self.queue.push_back(Effect::CancelTimer(timer));
    }
}

/// Every node machine: one input entry point, one polling contract.
pub trait Machine {
    /// The machine's own timers (the driver keys its timer table by node and timer).
    type Timer: Clone + Ord + std::fmt::Debug;

    /// Handles one input at `now`; its effects wait in the machine's queue.
    fn handle(&mut self, now: crate::engine::SimTime, input: Input<Self::Timer>);

    /// The machine's queue of effects (every machine keeps one).
    fn effects(&mut self) -> &mut Effects<Self::Timer>;

    /// The next effect, in the order pushed; `None` once drained.
    fn poll_effect(&mut self) -> Option<Effect<Self::Timer>> {
        self.effects().pop()
    }

    /// Turns the building of audit facts on or off.
    fn set_audit(&mut self, on: bool) {
        self.effects().audit = on;
    }
}

/// Element `i` of `v`, which grows (with default elements) to hold it: the driver's tables
/// indexed by dense ids.
pub fn slot<E: Default>(v: &mut Vec<E>, i: usize) -> &mut E {
    if v.len() <= i {
        v.resize_with(i + 1, E::default);
    }
    &mut v[i]
}
