//! The Roaming Intermediary's N32-c machine: one [`State`] per flow (a CONNECT request or a
//! direct-TLS connection attempt), driven by [`Ri::handle_connect`],
//! [`Ri::handle_direct_tls`] and [`Ri::handle_close`], with effects drained by
//! [`Ri::poll_effect`] in the order they arose.
//!
//! The transitions are declared once, in [`TRANSITIONS`]; the machine looks every step up
//! there, and the table is snapshot-tested (`tests/snapshots/roaming_ri.txt`). The spec names
//! no RI states: these names are secsim's, from RFC 9110 9.3.6 vocabulary (tunnel).
//!
//! ```text
//!              Connect               Accept / OpenTunnel (200)
//!  Listening ──────────► Evaluating ─────────────────────────┐
//!      │                     │ Refuse / Reject (403)         ▼
//!      │                     ▼                          Tunnelling ──Close / CloseTunnel──► Closed
//!      │                  Refused                            ▲
//!      │                     ▲ Refuse / DirectRefusal        │ Accept / Forward
//!      │ DirectTls           │                               │
//!      └───────────────► Inspecting ─────────────────────────┘
//! ```
//!
//! `Refused` and `Closed` are final: the flow is forgotten once they are reached (so the table
//! of flows stays bounded), and its id may be reused.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;

use p256::ecdsa::{SigningKey, VerifyingKey};
use rand::RngCore;

use crate::crypto::pki::key_from_rng;
use crate::engine::time::SimTime;

use super::direct_tls::DirectEffect;
use super::policy::{Decision, PolicyError, RefusalReason, RiPolicy, TokenBucket};
use super::rejection::{Rejection, encode_rejection};

/// The state of one flow through the RI.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub enum State {
    /// Nothing seen for this flow yet (the RI listens).
    Listening,
    /// An HTTP CONNECT arrived; the RI decides.
    Evaluating,
    /// A direct-TLS attempt (SYN or ClientHello, no CONNECT) arrived; the RI decides.
    Inspecting,
    /// The RI relays bytes between c-SEPP and p-SEPP.
    Tunnelling,
    /// The RI refused the flow (final).
    Refused,
    /// The tunnel was torn down (final).
    Closed,
}

impl State {
    /// Every state, in declaration order.
    pub const ALL: [State; 6] = [
        State::Listening,
        State::Evaluating,
        State::Inspecting,
        State::Tunnelling,
        State::Refused,
        State::Closed,
    ];

    /// Whether the flow is over.
    pub fn is_final(self) -> bool {
        matches!(self, State::Refused | State::Closed)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// What happens to a flow: inputs (`Connect`, `DirectTls`, `Close`) and the RI's own decision
/// (`Accept`, `Refuse`).
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub enum Event {
    /// The c-SEPP's HTTP CONNECT to the p-SEPP's authority.
    Connect,
    /// A TCP SYN or TLS ClientHello towards the p-SEPP outside any CONNECT tunnel.
    DirectTls,
    /// The RI lets the flow through.
    Accept,
    /// The RI refuses the flow.
    Refuse,
    /// Either end closed the tunnel.
    Close,
}

impl Event {
    /// Every event, in declaration order.
    pub const ALL: [Event; 5] = [
        Event::Connect,
        Event::DirectTls,
        Event::Accept,
        Event::Refuse,
        Event::Close,
    ];
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// The kind of [`Effect`] a transition emits.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub enum EffectKind {
    /// Nothing leaves the RI.
    Nothing,
    /// [`Effect::OpenTunnel`].
    OpenTunnel,
    /// [`Effect::Forward`].
    Forward,
    /// [`Effect::Reject`].
    Reject,
    /// [`Effect::DirectRefusal`].
    DirectRefusal,
    /// [`Effect::CloseTunnel`].
    CloseTunnel,
}

impl fmt::Display for EffectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// One row of the RI's transition table.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Transition {
    /// State before.
    pub from: State,
    /// What happened.
    pub event: Event,
    /// State after.
    pub to: State,
    /// What the RI emits.
    pub effect: EffectKind,
    /// The clause this row implements.
    pub clause: &'static str,
}

/// Every transition of an RI flow; any other (state, event) pair is refused with
/// [`RiError::NoTransition`].
pub const TRANSITIONS: &[Transition] = &[
    //= TS 29.573 5.2.X.2 step 2: "The cSEPP shall use HTTP CONNECT to send the HTTP message to
    //= the pSEPP."
    Transition {
        from: State::Listening,
        event: Event::Connect,
        to: State::Evaluating,
        effect: EffectKind::Nothing,
        clause: "TS 29.573 5.2.X.2 step 2 (cSEPP uses HTTP CONNECT)",
    },
    //= TS 29.573 5.2.1 General: "the Roaming Intermediary may reject N32 connection to be
    //= established by rejecting the HTTP CONNECT request"; otherwise RFC 9110 9.3.6: 2xx, tunnel
    Transition {
        from: State::Evaluating,
        event: Event::Accept,
        to: State::Tunnelling,
        effect: EffectKind::OpenTunnel,
        clause: "TS 29.573 5.2.1 General; RFC 9110 9.3.6 (2xx opens the tunnel)",
    },
    //= TS 29.573 5.2.X.2 step 3: "the Roaming Intermediary shall returns an HTTP error response,
    //= e.g. "403 forbidden" response with the ProblemDetails"
    Transition {
        from: State::Evaluating,
        event: Event::Refuse,
        to: State::Refused,
        effect: EffectKind::Reject,
        clause: "TS 29.573 5.2.X.2 step 3 (403 + ProblemDetails + suggestion)",
    },
    //= TS 29.573 5.2.1 General, Editor's note: "How the Roaming Intermediary reacts on avoiding
    //= N32 connection to be established when direct TLS is used over N32-c ... is FFS."
    Transition {
        from: State::Listening,
        event: Event::DirectTls,
        to: State::Inspecting,
        effect: EffectKind::Nothing,
        clause: "TS 29.573 5.2.1 General EN (direct TLS over N32-c, FFS)",
    },
    Transition {
        from: State::Inspecting,
        event: Event::Accept,
        to: State::Tunnelling,
        effect: EffectKind::Forward,
        clause: "TS 29.573 5.2.1 General EN (direct TLS allowed: forward)",
    },
    Transition {
        from: State::Inspecting,
        event: Event::Refuse,
        to: State::Refused,
        effect: EffectKind::DirectRefusal,
        clause: "TS 29.573 5.2.1 General EN (direct TLS refused: DirectTlsReaction)",
    },
    //= RFC 9113 8.5: the tunnel ends when either end closes the stream
    Transition {
        from: State::Tunnelling,
        event: Event::Close,
        to: State::Closed,
        effect: EffectKind::CloseTunnel,
        clause: "RFC 9113 8.5 (CONNECT stream closed)",
    },
];

/// The row for `(from, event)`, if any.
pub fn transition(from: State, event: Event) -> Option<&'static Transition> {
    TRANSITIONS.iter().find(|t| t.from == from && t.event == event)
}

/// The transition table as text (the snapshot): one row per transition, then the
/// (state, event) pairs that are refused, then a Graphviz dot graph.
pub fn render_table() -> String {
    let mut out = String::from("# Roaming Intermediary N32-c flow (src/proto/roaming/ri.rs TRANSITIONS)\n");
    out.push_str("# from        + event      -> to          [effect]        clause\n");
    for t in TRANSITIONS {
        out.push_str(&format!(
            "{:<12}  + {:<10} -> {:<11} [{:<13}] {}\n",
            t.from.to_string(),
            t.event.to_string(),
            t.to.to_string(),
            t.effect.to_string(),
            t.clause
        ));
    }
    out.push_str("\n# refused (RiError::NoTransition); Refused and Closed are final: the flow is forgotten\n");
    for state in State::ALL {
        let refused: Vec<String> = Event::ALL
            .iter()
            .filter(|e| transition(state, **e).is_none())
            .map(ToString::to_string)
            .collect();
        out.push_str(&format!("{:<12}  : {}\n", state.to_string(), refused.join(", ")));
    }
    out.push_str("\ndigraph ri {\n");
    for t in TRANSITIONS {
        out.push_str(&format!(
            "  {} -> {} [label=\"{} / {}\"];\n",
            t.from, t.to, t.event, t.effect
        ));
    }
    out.push_str("}\n");
    out
}

/// A flow through the RI, named by the caller (e.g. its connection or stream id).
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct FlowId(pub u64);

impl fmt::Display for FlowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "flow {}", self.0)
    }
}

/// What the RI asks its environment to do, in the order it arose.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum Effect {
    /// Answer the CONNECT with 200 and connect to the p-SEPP of `target_plmn`.
    OpenTunnel {
        /// The flow.
        id: FlowId,
        /// Target PLMN.
        target_plmn: String,
    },
    /// Let a direct-TLS flow through to the p-SEPP of `target_plmn`.
    Forward {
        /// The flow.
        id: FlowId,
        /// Target PLMN.
        target_plmn: String,
    },
    /// Answer the CONNECT with `rejection` (TS 29.573 5.2.X.2 step 3).
    Reject {
        /// The flow.
        id: FlowId,
        /// Why (for metrics; the wire carries it as the ProblemDetails `cause`).
        reason: RefusalReason,
        /// The response.
        rejection: Rejection,
    },
    /// Make the network refuse a direct-TLS flow as `effect` says.
    DirectRefusal {
        /// The flow.
        id: FlowId,
        /// Why; `None` when the RI refuses every direct attempt
        /// ([`super::DirectTlsReaction::RequireConnect`]).
        reason: Option<RefusalReason>,
        /// What the network does.
        effect: DirectEffect,
    },
    /// Tear the tunnel down.
    CloseTunnel {
        /// The flow.
        id: FlowId,
    },
}

/// An input the RI cannot take. Comes from a peer (a reused stream id) or from wiring; never
/// fatal to the run: the input is ignored.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
pub enum RiError {
    /// No transition for this (state, event).
    #[error("ri: {id} in state {state} cannot take {event}")]
    NoTransition {
        /// The flow.
        id: FlowId,
        /// Its state.
        state: State,
        /// The refused event.
        event: Event,
    },
}

/// The Roaming Intermediary on N32-c: policy, rate-limit bucket, signing key, flows, effects.
#[derive(Clone, Debug)]
pub struct Ri {
    fqdn: String,
    policy: RiPolicy,
    key: SigningKey,
    bucket: Option<TokenBucket>,
    flows: BTreeMap<FlowId, State>,
    effects: VecDeque<Effect>,
}

impl Ri {
    /// An RI called `fqdn` (its Proxy-Status name and JWS `kid`) with `policy`; its signing key
    /// is drawn from `rng` (the RI actor's stream).
    pub fn new<R: RngCore + ?Sized>(fqdn: impl Into<String>, policy: RiPolicy, rng: &mut R) -> Result<Ri, PolicyError> {
        policy.validate()?;
        let bucket = policy.rate_limit.as_ref().map(TokenBucket::new);
        Ok(Ri {
            fqdn: fqdn.into(),
            policy,
            key: key_from_rng(rng),
            bucket,
            flows: BTreeMap::new(),
            effects: VecDeque::new(),
        })
    }

    /// The RI's FQDN.
    pub fn fqdn(&self) -> &str {
        &self.fqdn
    }

    /// The policy.
    pub fn policy(&self) -> &RiPolicy {
        &self.policy
    }

    /// The key a c-SEPP verifies `3gpp-connect-res-info` with.
    pub fn verifying_key(&self) -> VerifyingKey {
        *self.key.verifying_key()
    }

    /// Whole rate-limit tokens left at the last decision (`None` without a rate limit).
    pub fn tokens(&self) -> Option<u64> {
        self.bucket.as_ref().map(TokenBucket::tokens)
    }

    /// The state of flow `id` (`Listening` if unknown or over).
    pub fn state(&self, id: FlowId) -> State {
        self.flows.get(&id).copied().unwrap_or(State::Listening)
    }

    /// Decides one connection attempt from `client_plmn` to `target_plmn` at `now`, in the
    /// order scripted > contract > unreachable > rate limit (see [`super::policy`]). Takes a
    /// rate-limit token only when it accepts on the policy's own account. Deterministic: no
    /// randomness is involved.
    pub fn decide(&mut self, now: SimTime, client_plmn: &str, target_plmn: &str) -> Decision {
        if let Some(script) = self.policy.scripted.iter().find(|s| s.applies(now, target_plmn)) {
            return script.decision;
        }
        //= TS 29.573 5.2.1: reject "e.g. for contractual reasons"
        if !self.policy.has_contract(client_plmn, target_plmn) {
            return Decision::Refuse {
                reason: RefusalReason::NoContract,
            };
        }
        //= TS 29.573 5.2.1: reject "e.g. for ... connectivity issue"
        if self.policy.unreachable.iter().any(|p| p == target_plmn) {
            return Decision::Refuse {
                reason: RefusalReason::TargetUnreachable,
            };
        }
        if let Some(bucket) = &mut self.bucket
            && !bucket.try_take(now)
        {
            return Decision::Refuse {
                reason: RefusalReason::RateLimited,
            };
        }
        Decision::Accept
    }

    /// The c-SEPP's HTTP CONNECT for `target_plmn` on flow `id`. Returns the flow's state
    /// after the decision (`Tunnelling` or `Refused`); the response is in [`Ri::poll_effect`].
    pub fn handle_connect(
        &mut self,
        now: SimTime,
        id: FlowId,
        client_plmn: &str,
        target_plmn: &str,
    ) -> Result<State, RiError> {
        self.step(now, id, Event::Connect, target_plmn, None)?;
        let (event, reason) = match self.decide(now, client_plmn, target_plmn) {
            Decision::Accept => (Event::Accept, None),
            Decision::Refuse { reason } => (Event::Refuse, Some(reason)),
        };
        self.step(now, id, event, target_plmn, reason)
    }

    /// A direct-TLS attempt (no CONNECT) from `client_plmn` to `target_plmn` on flow `id`
    /// (the RI knows the target from the destination address, or from the SNI with
    /// [`super::DirectTlsReaction::TlsAlertOnSni`]). With `RequireConnect` every attempt is
    /// refused without consulting the policy (and without spending a token).
    pub fn handle_direct_tls(
        &mut self,
        now: SimTime,
        id: FlowId,
        client_plmn: &str,
        target_plmn: &str,
    ) -> Result<State, RiError> {
        self.step(now, id, Event::DirectTls, target_plmn, None)?;
        let (event, reason) = if self.policy.direct_tls.consults_policy() {
            match self.decide(now, client_plmn, target_plmn) {
                Decision::Accept => (Event::Accept, None),
                Decision::Refuse { reason } => (Event::Refuse, Some(reason)),
            }
        } else {
            (Event::Refuse, None)
        };
        self.step(now, id, event, target_plmn, reason)
    }

    /// Either end closed the tunnel of flow `id`.
    pub fn handle_close(&mut self, now: SimTime, id: FlowId) -> Result<State, RiError> {
        self.step(now, id, Event::Close, "", None)
    }

    /// The next effect, oldest first.
    pub fn poll_effect(&mut self) -> Option<Effect> {
        self.effects.pop_front()
    }

    /// Takes one transition from [`TRANSITIONS`] and queues its effect.
    fn step(
        &mut self,
        now: SimTime,
        id: FlowId,
        event: Event,
        target_plmn: &str,
        reason: Option<RefusalReason>,
    ) -> Result<State, RiError> {
        let state = self.state(id);
        let t = transition(state, event).ok_or(RiError::NoTransition { id, state, event })?;
        if t.to.is_final() {
            self.flows.remove(&id);
        } else {
            self.flows.insert(id, t.to);
        }
        let target_plmn = target_plmn.to_owned();
        let effect = match t.effect {
            EffectKind::Nothing => None,
            EffectKind::OpenTunnel => Some(Effect::OpenTunnel { id, target_plmn }),
            EffectKind::Forward => Some(Effect::Forward { id, target_plmn }),
            EffectKind::Reject => {
                // Reject rows are reached only from `Event::Refuse` in `handle_connect`, which
                // always passes the decision's reason.
                let reason = reason.expect("a CONNECT refusal always has a reason");
                let spec = &self.policy.rejection;
                let rejection = encode_rejection(spec.encoding, &self.fqdn, spec, reason, &target_plmn, now, &self.key);
                Some(Effect::Reject { id, reason, rejection })
            }
            EffectKind::DirectRefusal => Some(Effect::DirectRefusal {
                id,
                reason,
                effect: self.policy.direct_tls.direct_tls_effect(),
            }),
            EffectKind::CloseTunnel => Some(Effect::CloseTunnel { id }),
        };
        self.effects.extend(effect);
        Ok(t.to)
    }
}
