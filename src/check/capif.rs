//! CAPIF invariants (TS 33.122, TS 29.222): the audited facts of the CAPIF plane and the
//! checker that judges them.
//!
//! ```text
//!  invoker ── Negotiated (offered, known, selected) ──────────► negotiation-within-intersection
//!     │  PskDerived (fingerprint)        PskInstalled (grant) ─┬► aefpsk-equal
//!     └─ CAPIF-2e ─► AEF: SessionAccepted (credential facts) ──┼► aef-session-credential
//!                         InvocationServed (token facts) ──────┼► no-use-after-expiry
//!                         AefMethodsChanged / MethodsPublished ┴► no-stale-method-success
//!  any node ─ SecretSent (items, from/to domain) ──────────────► no-forbidden-secret-crossing
//! ```
//!
//! Every [`CapifAudit`] states what an actor *did* or *received*: the preference list an
//! invoker offered, the method a CCF selected, the AEFPSK fingerprint an invoker derived, the
//! validity an AEF received on the wire with a key, the key and chain and token an AEF had when
//! it accepted a session, the items a message carried across which domains. The world takes
//! these facts from the messages on the wire or from its own independent checks (it verifies
//! chains and token signatures itself), never from a machine's verdict, so a buggy machine
//! cannot vouch for itself: an AEF that ignores the validity it was given is judged against the
//! validity it was given.
//!
//! Fingerprints are the first 8 bytes of SHA-256 of a key, in hex ([`fingerprint`]). Times in
//! events are \[ns\] of simulated time.

use std::collections::BTreeMap;

use super::{Invariant, Sink};
use crate::engine::{SimDuration, SimTime};
use crate::proto::capif::authentication::ExpiryBehaviour;
use crate::proto::capif::interconnection::{self, Domain, Item};
use crate::proto::capif::types::SecurityMethod;

pub use crate::audit::capif::{
    AefAudit, CapifAudit, CapifMutant, FlowAudit, GrantValidity, NodeAudit, SecretSent, SessionCredential, SetupAudit,
    TokenFacts, fingerprint,
};

/// `capif.aef-session-credential`: an AEF accepts a CAPIF-2e session, and serves invocations
/// on it, only with a valid credential for its method. PSK: an AEFPSK the AEF installed from
/// its CCF for that invoker, with the fingerprint it holds. PKI: a client chain that the world
/// verifies to a CCF CA certificate, naming the invoker. OAUTH: the TLS session authenticates
/// only the AEF, so each invocation served must carry a bearer token signed by a CCF, for that
/// invoker, unexpired (see [`NO_USE_AFTER_EXPIRY`]) and not revoked. Invocations are served
/// only on sessions the AEF accepted, for the invoker and method it accepted.
///
/// Revocation (TS 29.222 5.6.2.4) withdraws the authorization, not the invoker: once the AEF
/// received revoke-authorization for an invoker, nothing obtained before it may be used, but
/// the invoker may re-negotiate at its CCF and be accepted again on authorization obtained
/// after it.
/// - TLS-PSK and TLS-PKI: a session is accepted only if the security information the AEF
///   holds for the invoker was requested from the CCF after the revocation (for PSK the
///   AEFPSK is also installed after it); no invocation is served on a session accepted before
///   the revocation.
/// - OAUTH: a token carries no issue time, so the AEF cannot tell a token issued before the
///   revocation from one issued after: no token of that client id is accepted at that AEF
///   from then on (the AEF's token verifier refuses the client id).
pub const AEF_SESSION_CREDENTIAL: Invariant = Invariant {
    id: "capif.aef-session-credential",
    clause: "TS 33.122 cl. 6.5.2.1 step 6, 6.5.2.2, 6.5.2.3 and Annex C; TS 29.222 cl. 5.6 (revoke-authorization)",
    statement: "no AEF session or invocation without a valid credential for its method (PSK installed, chain to a CCF CA, valid unrevoked token)",
};

/// `capif.aefpsk-equal`: in an accepted TLS-PSK session the AEFPSK the AEF holds equals the
/// key the invoker used on the connection, which is the latest key the invoker derived.
pub const AEFPSK_EQUAL: Invariant = Invariant {
    id: "capif.aefpsk-equal",
    clause: "TS 33.122 cl. 6.5.2.1 steps 2, 4-6 and Annex A.1 (AEFPSK derivation)",
    statement: "the AEFPSK the AEF uses in a TLS-PSK session equals the one the invoker derived",
};

/// `capif.no-use-after-expiry`: no TLS-PSK session is accepted at or after the expiry of its
/// AEFPSK, taken from the validity the AEF *received* (remaining validity: receipt + remaining;
/// absolute: that time), not from the AEF's own timer. The `expiry` knob (seed 003) decides
/// what happens to established sessions:
/// - `BlockNewHandshakes` (default): a session established before the expiry may keep serving
///   invocations after it; only new handshakes are forbidden.
/// - `CloseSessions`: no invocation is served on a TLS-PSK session at or after its key's
///   expiry either.
///
/// No bearer token is accepted once `exp` + leeway (clamped to 30 s, TS 33.122 Annex C) has
/// passed: the AEF's time in whole seconds must be below `exp + leeway`.
pub const NO_USE_AFTER_EXPIRY: Invariant = Invariant {
    id: "capif.no-use-after-expiry",
    clause: "TS 33.122 cl. 6.5.2.1 steps 1-5 (AEFPSK validity timer, seed 003 CR) and Annex C (exp, leeway <= 30 s)",
    statement: "no PSK session (or, with CloseSessions, invocation) after the AEFPSK expired; no token after exp + leeway",
};

/// `capif.no-stale-method-success`: once an AEF's method change took effect, no session is
/// accepted and no invocation is served with a method the AEF no longer supports.
pub const NO_STALE_METHOD_SUCCESS: Invariant = Invariant {
    id: "capif.no-stale-method-success",
    clause: "TS 33.122 cl. 5.1.1 (seed 004 CR: AEF security method update, mismatch indication)",
    statement: "no session or invocation succeeds with a method the AEF no longer supports",
};

/// `capif.negotiation-within-intersection`: the method a CCF selects is one the invoker offered
/// and one the AEF supports as published to the CCFs (the start profile, then the APF's
/// updates); the CCF's own view must match what was published.
pub const NEGOTIATION_WITHIN_INTERSECTION: Invariant = Invariant {
    id: "capif.negotiation-within-intersection",
    clause: "TS 33.122 cl. 6.3.1 (figure 6.3.1-1) and 6.X.2 (seed 002); TS 29.222 cl. 5.6 (Obtain_Security_Method)",
    statement: "the negotiated method is in the invoker's preferences and the AEF's supported methods",
};

/// `capif.no-forbidden-secret-crossing`: no message carries an item into a domain that the
/// chosen interconnection alternatives forbid ([`interconnection::forbidden`]). Domains are
/// those of the flow: the invokers' CCF's is B, the AEF's CCF's is A (B when they coincide),
/// the invoker's own is Invoker, any other is Peers.
pub const NO_FORBIDDEN_SECRET_CROSSING: Invariant = Invariant {
    id: "capif.no-forbidden-secret-crossing",
    clause: "TS 33.122 cl. 6.X.3.1-6.X.3.3 (seed 002 CR: CAPIF-6/6e, ENs on the CCF-B ID and the onboarding secret)",
    statement: "no secret or identifier crosses into a domain the selected interconnection alternative forbids",
};

/// `capif.recovers-or-gives-up`: after a disturbance heals, every invoker it affected either
/// succeeds again with a method the AEF supports or ends with a definite error (it gives up),
/// within its strategy's bound. Affected: after an AEF's method change, every invoker whose
/// negotiated method (the latest `Negotiated` for that AEF) the AEF no longer supports; after
/// a revocation, the revoked invoker; after a CCF restart, every invoker onboarded at that
/// CCF or using an AEF registered there. Recovered: an `InvocationServed` for it at its AEF
/// with a method the AEF supports at that time; a definite error: `GaveUp`. From the healing
/// time on (the last scheduled disturbance's end, as for
/// [`super::liveness::LIVENESS_AFTER_HEALING`]) it may fail at most its flow's
/// `recovery_budget` procedures (the failures its own retry rules allow, see `FlowAudit`),
/// and it must be done by healing + `recovery_bound_ns`. An invoker that keeps failing to
/// the end of the run (for ever re-authenticating and being refused) breaks it once its
/// failures exceed the budget, however long the run.
pub const RECOVERS_OR_GIVES_UP: Invariant = Invariant {
    id: "capif.recovers-or-gives-up",
    clause: "TS 33.122 cl. 5.1.1 (seed 004 CR: method change), 6.5.2.1-6.5.2.3 and Annex C; TS 29.222 cl. 5.6.2.4 (revocation); issue 12",
    statement: "after a method change, revocation or CCF restart heals, every affected invoker succeeds with a supported method or gives up, within its bound",
};

/// The CAPIF invariants.
pub const INVARIANTS: &[&Invariant] = &[
    &RECOVERS_OR_GIVES_UP,
    &AEF_SESSION_CREDENTIAL,
    &AEFPSK_EQUAL,
    &NO_USE_AFTER_EXPIRY,
    &NO_STALE_METHOD_SUCCESS,
    &NEGOTIATION_WITHIN_INTERSECTION,
    &NO_FORBIDDEN_SECRET_CROSSING,
];

/// The largest token leeway the AEF may apply \[s\] (TS 33.122 Annex C).
const MAX_LEEWAY_S: u64 = 30;

#[derive(Debug)]
struct Session {
    invoker: String,
    /// When the AEF accepted it.
    accepted: SimTime,
    method: SecurityMethod,
    /// The AEFPSK (fingerprint) of a TLS-PSK session.
    key: Option<String>,
}

/// An invoker a disturbance affected, until it recovers or gives up.
#[derive(Debug)]
struct Affected {
    /// When the disturbance reached it.
    at: SimTime,
    /// What it was (for the report).
    what: String,
    /// Its AEF.
    aef: String,
    /// Failed procedures since healing.
    failures: u32,
    bound: SimDuration,
    budget: u32,
    /// Already reported.
    judged: bool,
}

/// The CAPIF checker's state.
#[derive(Debug, Default)]
pub struct CapifChecker {
    /// When the scheduled disturbances stopped (from the trail's `Run`).
    heal: Option<SimTime>,
    /// Onboarded invokers: API invoker ID -> (node, home CCF, flow).
    onboarded: BTreeMap<String, (String, String, String)>,
    /// The latest method negotiated per (API invoker ID, AEF).
    negotiated: BTreeMap<(String, String), SecurityMethod>,
    /// Invokers under recovery, by node.
    affected: BTreeMap<String, Affected>,
    /// Open CAPIF invoker procedures: (kind, key) -> node.
    procs: BTreeMap<(String, u64), String>,
    setup: Option<SetupAudit>,
    forbidden: Vec<(Item, Domain)>,
    ccf_domain: BTreeMap<String, String>,
    flows: BTreeMap<String, FlowAudit>,
    /// The AEFs' methods as configured at the CCFs, and as published to each CCF since:
    /// (CCF, AEF) -> methods.
    published: BTreeMap<String, Vec<SecurityMethod>>,
    published_at: BTreeMap<(String, String), Vec<SecurityMethod>>,
    /// The AEFs' methods as the AEFs support them.
    supported: BTreeMap<String, Vec<SecurityMethod>>,
    /// The latest AEFPSK each invoker derived.
    derived: BTreeMap<String, String>,
    /// The AEFPSK each AEF installed per invoker.
    installed: BTreeMap<(String, String), String>,
    /// The expiry of each installed AEFPSK, from the validity the AEF received.
    expiry: BTreeMap<String, SimTime>,
    sessions: BTreeMap<(String, u32), Session>,
    /// When each AEF last received revoke-authorization, per invoker.
    revoked: BTreeMap<(String, String), SimTime>,
    /// When the AEF requested the security information it holds, per invoker (dropped at a
    /// revocation).
    obtained: BTreeMap<(String, String), SimTime>,
}

fn names(m: &[SecurityMethod]) -> String {
    let v: Vec<&str> = m.iter().map(SecurityMethod::as_str).collect();
    format!("[{}]", v.join(", "))
}

impl CapifChecker {
    /// Judges one event.
    pub fn observe(&mut self, at: SimTime, ev: &CapifAudit, sink: &mut Sink<'_>) {
        match ev {
            CapifAudit::Setup(s) => self.on_setup(s),
            CapifAudit::Negotiated {
                ccf,
                invoker,
                aef,
                offered,
                known,
                selected,
            } => {
                self.negotiated.insert((invoker.clone(), aef.clone()), selected.clone());
                // Negotiated after the AEF's change but with a method it dropped (the CCF had
                // not learnt it yet): this invoker meets the change too.
                if self.supported.get(aef).is_some_and(|m| !m.contains(selected)) {
                    let what = format!(
                        "the method change of `{aef}` (negotiated {} after it)",
                        selected.as_str()
                    );
                    self.affect(at, invoker, &what, sink);
                }
                let published = self
                    .published_at
                    .get(&(ccf.clone(), aef.clone()))
                    .or(self.published.get(aef))
                    .unwrap_or(known);
                let mut wrong = Vec::new();
                if !offered.contains(selected) {
                    wrong.push(format!("the invoker offered only {}", names(offered)));
                }
                if !published.contains(selected) {
                    wrong.push(format!("AEF `{aef}` supports (as published) only {}", names(published)));
                }
                if known != published {
                    wrong.push(format!(
                        "the CCF's profile of `{aef}` says {} but {} was published",
                        names(known),
                        names(published)
                    ));
                }
                if wrong.is_empty() {
                    sink.pass(&NEGOTIATION_WITHIN_INTERSECTION);
                } else {
                    sink.violate(
                        &NEGOTIATION_WITHIN_INTERSECTION,
                        format!(
                            "CCF `{ccf}` selected {} for invoker `{invoker}` at `{aef}`: {}",
                            selected.as_str(),
                            wrong.join("; ")
                        ),
                    );
                }
            }
            CapifAudit::MethodsPublished { aef, methods, ccf } => {
                // Published at the AEF's own CCF, or learnt over CAPIF-6e by `ccf`.
                let home = self.flows.values().find(|f| &f.aef == aef).map(|f| f.aef_ccf.clone());
                if let Some(c) = ccf.clone().or(home) {
                    self.published_at.insert((c, aef.clone()), methods.clone());
                }
            }
            CapifAudit::AefMethodsChanged { aef, methods } => {
                self.supported.insert(aef.clone(), methods.clone());
                let hit: Vec<String> = self
                    .negotiated
                    .iter()
                    .filter(|((_, a), m)| a == aef && !methods.contains(m))
                    .map(|((i, _), _)| i.clone())
                    .collect();
                let what = format!("the method change of `{aef}` to {}", names(methods));
                for invoker in hit {
                    self.affect(at, &invoker, &what, sink);
                }
            }
            CapifAudit::PskDerived { invoker, key, .. } => {
                self.derived.insert(invoker.clone(), key.clone());
            }
            CapifAudit::PskInstalled {
                aef,
                invoker,
                key,
                validity,
                ..
            } => {
                //= TS 33.122 6.5.2.1 step 5: the AEF starts the timer from the value received
                let until = match *validity {
                    GrantValidity::Remaining { ns } => at.saturating_add(SimDuration::from_nanos(ns)),
                    GrantValidity::Absolute { at_ns } => SimTime::from_nanos(at_ns),
                };
                self.expiry.insert(key.clone(), until);
                self.installed.insert((aef.clone(), invoker.clone()), key.clone());
            }
            CapifAudit::SessionAccepted {
                aef,
                invoker,
                conn,
                method,
                credential,
            } => self.on_session((at, aef, invoker, *conn), method, credential, sink),
            CapifAudit::InvocationServed {
                aef,
                invoker,
                conn,
                method,
                token,
            } => self.on_served((at, aef, invoker, *conn), method, token.as_ref(), sink),
            CapifAudit::RevocationReceived { aef, invoker } => {
                self.affect(at, invoker, &format!("its revocation at `{aef}`"), sink);
                self.revoked.insert((aef.clone(), invoker.clone()), at);
                // Revocation deletes the AEF's security information for the invoker.
                self.installed.remove(&(aef.clone(), invoker.clone()));
                self.obtained.remove(&(aef.clone(), invoker.clone()));
            }
            CapifAudit::SecurityInfoObtained {
                aef,
                invoker,
                requested_at_ns,
            } => {
                self.obtained
                    .insert((aef.clone(), invoker.clone()), SimTime::from_nanos(*requested_at_ns));
            }
            CapifAudit::SecretSent(s) => self.on_secret(s, sink),
            CapifAudit::CcfRestarted { ccf, .. } => {
                let hit: Vec<String> = self
                    .onboarded
                    .iter()
                    .filter(|(_, (_, home, flow))| {
                        home == ccf || self.flows.get(flow).is_some_and(|f| &f.aef_ccf == ccf)
                    })
                    .map(|(id, _)| id.clone())
                    .collect();
                let what = format!("the restart of `{ccf}`");
                for invoker in hit {
                    self.affect(at, &invoker, &what, sink);
                }
            }
            CapifAudit::Onboarded {
                node,
                invoker,
                ccf,
                flow,
            } => {
                self.onboarded
                    .insert(invoker.clone(), (node.clone(), ccf.clone(), flow.clone()));
            }
            CapifAudit::GaveUp { node } => {
                if let Some(a) = self.affected.remove(node)
                    && !a.judged
                {
                    sink.pass(&RECOVERS_OR_GIVES_UP);
                }
            }
        }
    }

    /// Sets the healing time (from the trail's `Run` event).
    pub fn set_heal(&mut self, heal: Option<SimTime>) {
        self.heal = heal;
    }

    /// Invoker `invoker` (API invoker ID) meets a disturbance at `at`; an invoker under
    /// recovery already stays so (from its first disturbance).
    fn affect(&mut self, at: SimTime, invoker: &str, what: &str, _sink: &mut Sink<'_>) {
        let Some((node, _, flow)) = self.onboarded.get(invoker) else {
            return; // not onboarded (yet): nothing to recover
        };
        let f = self.flows.get(flow);
        let aef = f.map(|f| f.aef.clone()).unwrap_or_default();
        let (bound, budget) = f.map_or((0, 0), |f| (f.recovery_bound_ns, f.recovery_budget));
        self.affected.entry(node.clone()).or_insert_with(|| Affected {
            at,
            what: what.to_string(),
            aef,
            failures: 0,
            bound: SimDuration::from_nanos(bound),
            budget,
            judged: false,
        });
    }

    /// Liveness facts of the invoker procedures (begin: whose; end: failed or not), for
    /// [`RECOVERS_OR_GIVES_UP`].
    pub fn observe_proc(&mut self, at: SimTime, ev: &super::ProcAudit, sink: &mut Sink<'_>) {
        const COUNTED: [&str; 4] = [
            "capif_onboarding",
            "capif_negotiation",
            "capif_authentication",
            "capif_invocation",
        ];
        match ev {
            super::ProcAudit::Begin { kind, key, node, .. } => {
                if COUNTED.contains(&kind.as_str()) {
                    self.procs.insert((kind.clone(), *key), node.clone());
                }
            }
            super::ProcAudit::End { kind, key, outcome } => {
                let Some(node) = self.procs.remove(&(kind.clone(), *key)) else {
                    return;
                };
                let Some(heal) = self.heal else { return };
                if outcome == "ok" || at < heal {
                    return;
                }
                let Some(a) = self.affected.get_mut(&node).filter(|a| !a.judged && at >= a.at) else {
                    return;
                };
                a.failures += 1;
                if a.budget > 0 && a.failures > a.budget {
                    a.judged = true;
                    sink.violate(
                        &RECOVERS_OR_GIVES_UP,
                        format!(
                            "`{node}`, affected by {} at {}, failed {} procedures since healing at {heal} \
                             (budget {}; the last: {kind} {outcome}) without an invocation served with a \
                             method `{}` supports, and has not given up",
                            a.what, a.at, a.failures, a.budget, a.aef
                        ),
                    );
                }
            }
        }
    }

    /// Judges the affected invokers still neither recovered nor given up at the end: those
    /// whose bound passed break [`RECOVERS_OR_GIVES_UP`].
    pub fn finish(&mut self, end: SimTime, sink: &mut Sink<'_>) {
        let Some(heal) = self.heal else { return };
        for (node, a) in std::mem::take(&mut self.affected) {
            if a.judged || a.bound.as_nanos() == 0 {
                continue;
            }
            let deadline = a.at.max(heal) + a.bound + super::liveness::GRACE;
            if deadline > end {
                continue;
            }
            sink.violate(
                &RECOVERS_OR_GIVES_UP,
                format!(
                    "`{node}`, affected by {} at {}, neither had an invocation served with a method `{}` \
                     supports nor gave up by {deadline} (healed at {heal}, bound {}); {} failed procedures since",
                    a.what, a.at, a.aef, a.bound, a.failures
                ),
            );
        }
    }

    fn on_setup(&mut self, s: &SetupAudit) {
        self.forbidden = interconnection::forbidden(&s.interconnection);
        self.ccf_domain = s.ccfs.iter().map(|c| (c.node.clone(), c.domain.clone())).collect();
        self.flows = s.flows.iter().map(|f| (f.label.clone(), f.clone())).collect();
        for a in &s.aefs {
            self.published.insert(a.aef.clone(), a.methods.clone());
            self.supported.insert(a.aef.clone(), a.methods.clone());
        }
        self.setup = Some(s.clone());
    }

    fn expiry_behaviour(&self) -> ExpiryBehaviour {
        self.setup.as_ref().map(|s| s.expiry).unwrap_or_default()
    }

    /// Whether a token is unexpired at `at`: the AEF's time in whole seconds below `exp` +
    /// leeway.
    fn token_live(&self, at: SimTime, t: &TokenFacts) -> bool {
        let leeway = self.setup.as_ref().map_or(0, |s| s.token_leeway_s).min(MAX_LEEWAY_S);
        at.as_nanos() / 1_000_000_000 < t.exp_s.saturating_add(leeway)
    }

    /// What is wrong with a token presented by `invoker` at `aef` (credential only; expiry is
    /// judged separately).
    fn token_problem(&self, aef: &str, invoker: &str, token: Option<&TokenFacts>) -> Option<String> {
        let Some(t) = token else {
            return Some("no bearer token".into());
        };
        if t.signed_by.is_none() {
            return Some(format!("token {:?} is signed by no CCF", t.jti));
        }
        if t.client_id != invoker {
            return Some(format!("token {:?} is for `{}`, not `{invoker}`", t.jti, t.client_id));
        }
        if let Some(r) = self.revoked.get(&(aef.to_string(), t.client_id.clone())) {
            return Some(format!(
                "token {:?} of `{}` whose revocation `{aef}` received at {r}",
                t.jti, t.client_id
            ));
        }
        None
    }

    /// `(at, aef, invoker, conn)`: when, where and on which connection.
    fn on_session(
        &mut self,
        (at, aef, invoker, conn): (SimTime, &str, &str, u32),
        method: &SecurityMethod,
        credential: &SessionCredential,
        sink: &mut Sink<'_>,
    ) {
        let key = (aef.to_string(), invoker.to_string());
        // The credential for the method.
        let mut bad: Option<String> = None;
        let mut session_key = None;
        match (method, credential) {
            (SecurityMethod::Psk, SessionCredential::Psk { aef_key, offered_key }) => {
                session_key = aef_key.clone();
                match (aef_key, self.installed.get(&key)) {
                    (None, _) => bad = Some(format!("`{aef}` holds no AEFPSK for `{invoker}`")),
                    (Some(_), None) => {
                        bad = Some(format!(
                            "`{aef}` never installed an AEFPSK from its CCF for `{invoker}`"
                        ))
                    }
                    (Some(k), Some(i)) if k != i => {
                        bad = Some(format!("`{aef}` holds AEFPSK {k} but installed {i} for `{invoker}`"))
                    }
                    _ => {}
                }
                // Equality with what the invoker derived and used.
                let derived = self.derived.get(invoker);
                let mut unequal = Vec::new();
                if aef_key.as_ref() != Some(offered_key) {
                    unequal.push(format!(
                        "the AEF holds {} but the invoker's connection used {offered_key}",
                        aef_key.as_deref().unwrap_or("none")
                    ));
                }
                if derived != aef_key.as_ref() {
                    unequal.push(format!(
                        "the invoker derived {} but the AEF uses {}",
                        derived.map_or("none", String::as_str),
                        aef_key.as_deref().unwrap_or("none")
                    ));
                }
                if unequal.is_empty() {
                    sink.pass(&AEFPSK_EQUAL);
                } else {
                    sink.violate(
                        &AEFPSK_EQUAL,
                        format!(
                            "TLS-PSK session {conn} of `{invoker}` at `{aef}`: {}",
                            unequal.join("; ")
                        ),
                    );
                }
                // Expiry, from the validity the AEF received.
                match aef_key.as_ref().and_then(|k| self.expiry.get(k)) {
                    Some(&until) if at >= until => sink.violate(
                        &NO_USE_AFTER_EXPIRY,
                        format!(
                            "`{aef}` accepted a TLS-PSK session of `{invoker}` at {at} with AEFPSK {} \
                             valid until {until} (by the validity it received)",
                            aef_key.as_deref().unwrap_or("?")
                        ),
                    ),
                    Some(_) => sink.pass(&NO_USE_AFTER_EXPIRY),
                    None => {}
                }
            }
            (SecurityMethod::Pki, SessionCredential::Pki { subject, anchor }) => {
                if anchor.is_none() {
                    bad = Some(format!(
                        "the client chain of `{subject}` verifies to no CCF CA certificate"
                    ));
                } else if subject != invoker {
                    bad = Some(format!("the certificate names `{subject}`, not `{invoker}`"));
                }
            }
            // Server-authenticated TLS: the token is judged on each invocation served.
            (SecurityMethod::Oauth, SessionCredential::Oauth { .. }) => {}
            (m, c) => {
                bad = Some(format!(
                    "method {} with a credential of another method: {c:?}",
                    m.as_str()
                ))
            }
        }
        // After a revocation only security information requested after it authorizes.
        if bad.is_none()
            && *method != SecurityMethod::Oauth
            && let Some(&r) = self.revoked.get(&key)
        {
            match self.obtained.get(&key) {
                Some(&o) if o >= r => {}
                Some(o) => {
                    bad = Some(format!(
                        "`{aef}` received the revocation of `{invoker}` at {r} and holds security information requested at {o}, before it"
                    ))
                }
                None => {
                    bad = Some(format!(
                        "`{aef}` received the revocation of `{invoker}` at {r} and obtained no security information since"
                    ))
                }
            }
        }
        match bad {
            None => sink.pass(&AEF_SESSION_CREDENTIAL),
            Some(why) => sink.violate(
                &AEF_SESSION_CREDENTIAL,
                format!(
                    "`{aef}` accepted {} session {conn} of `{invoker}`: {why}",
                    method.as_str()
                ),
            ),
        }
        self.judge_method(aef, invoker, method, "accepted a session", sink);
        self.sessions.insert(
            (aef.to_string(), conn),
            Session {
                invoker: invoker.to_string(),
                accepted: at,
                method: method.clone(),
                key: session_key,
            },
        );
    }

    /// `(at, aef, invoker, conn)`: when, where and on which connection.
    fn on_served(
        &mut self,
        (at, aef, invoker, conn): (SimTime, &str, &str, u32),
        method: &SecurityMethod,
        token: Option<&TokenFacts>,
        sink: &mut Sink<'_>,
    ) {
        if let Some((node, _, _)) = self.onboarded.get(invoker)
            && self.supported.get(aef).is_none_or(|m| m.contains(method))
            && let Some(a) = self.affected.get(node)
            && a.aef == aef
            && at >= a.at
        {
            let judged = a.judged;
            self.affected.remove(&node.clone());
            if !judged {
                sink.pass(&RECOVERS_OR_GIVES_UP);
            }
        }
        let mut bad = None;
        let revoked = self.revoked.get(&(aef.to_string(), invoker.to_string())).copied();
        match self.sessions.get(&(aef.to_string(), conn)) {
            None => bad = Some(format!("connection {conn} is no session `{aef}` accepted")),
            Some(s) if s.invoker != invoker || &s.method != method => {
                bad = Some(format!(
                    "session {conn} was accepted for `{}` with {}",
                    s.invoker,
                    s.method.as_str()
                ))
            }
            Some(s) => {
                // A TLS-PSK or TLS-PKI session accepted before the revocation is authorization
                // obtained before it (OAUTH: the token decides, below).
                if *method != SecurityMethod::Oauth
                    && let Some(r) = revoked.filter(|&r| s.accepted < r)
                {
                    bad = Some(format!(
                        "session {conn} was accepted at {}, before `{aef}` received the revocation of `{invoker}` at {r}",
                        s.accepted
                    ));
                }
                if let (SecurityMethod::Psk, Some(k)) = (method, &s.key)
                    && let Some(&until) = self.expiry.get(k)
                {
                    match self.expiry_behaviour() {
                        ExpiryBehaviour::CloseSessions if at >= until => sink.violate(
                            &NO_USE_AFTER_EXPIRY,
                            format!(
                                "`{aef}` served `{invoker}` at {at} on TLS-PSK session {conn} whose AEFPSK {k} \
                                 expired at {until} (expiry: CloseSessions)"
                            ),
                        ),
                        // BlockNewHandshakes: an established session may outlive its key.
                        _ => sink.pass(&NO_USE_AFTER_EXPIRY),
                    }
                }
            }
        }
        if *method == SecurityMethod::Oauth {
            if bad.is_none() {
                bad = self.token_problem(aef, invoker, token);
            }
            if let Some(t) = token {
                self.judge_token_expiry(at, aef, invoker, t, sink);
            }
        }
        match bad {
            None => sink.pass(&AEF_SESSION_CREDENTIAL),
            Some(why) => sink.violate(
                &AEF_SESSION_CREDENTIAL,
                format!(
                    "`{aef}` served an invocation of `{invoker}` ({}): {why}",
                    method.as_str()
                ),
            ),
        }
        self.judge_method(aef, invoker, method, "served an invocation", sink);
    }

    fn judge_token_expiry(&self, at: SimTime, aef: &str, invoker: &str, t: &TokenFacts, sink: &mut Sink<'_>) {
        if self.token_live(at, t) {
            sink.pass(&NO_USE_AFTER_EXPIRY);
        } else {
            let leeway = self.setup.as_ref().map_or(0, |s| s.token_leeway_s).min(MAX_LEEWAY_S);
            sink.violate(
                &NO_USE_AFTER_EXPIRY,
                format!(
                    "`{aef}` accepted token {:?} of `{invoker}` at {at}: exp {} s + leeway {leeway} s passed",
                    t.jti, t.exp_s
                ),
            );
        }
    }

    fn judge_method(&self, aef: &str, invoker: &str, method: &SecurityMethod, what: &str, sink: &mut Sink<'_>) {
        match self.supported.get(aef) {
            Some(m) if !m.contains(method) => sink.violate(
                &NO_STALE_METHOD_SUCCESS,
                format!(
                    "`{aef}` {what} of `{invoker}` with {} but supports only {} since its method change",
                    method.as_str(),
                    names(m)
                ),
            ),
            Some(_) => sink.pass(&NO_STALE_METHOD_SUCCESS),
            None => {}
        }
    }

    /// The domain a message entered, as the interconnection alternatives name it.
    fn domain(&self, s: &SecretSent, f: &FlowAudit, domain: &str) -> Domain {
        if self.ccf_domain.get(&f.ccf).map(String::as_str) == Some(domain) {
            Domain::B
        } else if self.ccf_domain.get(&f.aef_ccf).map(String::as_str) == Some(domain) {
            Domain::A
        } else if s.invoker_domain == domain {
            Domain::Invoker
        } else {
            Domain::Peers
        }
    }

    fn on_secret(&mut self, s: &SecretSent, sink: &mut Sink<'_>) {
        if s.from_domain == s.to_domain {
            return; // no boundary crossed
        }
        // Without the configuration the domains cannot be named.
        let Some(f) = self.flows.get(&s.flow) else { return };
        let to = self.domain(s, f, &s.to_domain);
        let from = self.domain(s, f, &s.from_domain);
        for item in &s.items {
            if self.forbidden.contains(&(*item, to)) {
                sink.violate(
                    &NO_FORBIDDEN_SECRET_CROSSING,
                    format!(
                        "{item:?} crossed from `{}` ({from:?}) to `{}` ({to:?}) in `{}` ({} -> {}), which the \
                         interconnection alternatives forbid",
                        s.from_domain, s.to_domain, s.message, s.from, s.to
                    ),
                );
            } else {
                sink.pass(&NO_FORBIDDEN_SECRET_CROSSING);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::check::mutant::Mutant;
    use crate::check::{Report, Violation, check_seed};
    use crate::metrics::Outcome;
    use crate::scenario::{Scenario, WorkloadSpec, load_experiment, load_experiment_source};

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
    }

    fn shipped(name: &str) -> Scenario {
        load_experiment(&root().join("experiments").join(name)).unwrap()
    }

    /// An experiment written here, its topology relative to `experiments/`.
    fn inline(src: &str) -> Scenario {
        load_experiment_source(src, &root().join("experiments/check-capif-inline.ron"), None).unwrap()
    }

    /// `scn` with mutant `m` in its machines' configuration.
    fn with_mutant(scn: &Scenario, m: Mutant) -> Scenario {
        let mut s = scn.clone();
        s.experiment.mutant = Some(m);
        s
    }

    fn report(scn: &Scenario, seed: u64) -> Report {
        check_seed(scn, seed).unwrap().1
    }

    fn listed(r: &Report) -> String {
        r.violations.iter().map(|v| format!("{v}\n")).collect()
    }

    /// Every Capif flow keeps its first `n` invokers (a smaller storm).
    fn first_invokers(scn: &mut Scenario, n: usize) {
        let topo = scn.topology.clone();
        for w in &mut scn.experiment.workload {
            if let WorkloadSpec::Capif(f) = w {
                let all = crate::scenario::validate::expand_invokers(&f.invokers, &topo).unwrap();
                f.invokers = all.into_iter().take(n).map(str::to_string).collect();
            }
        }
    }

    /// The checker passes `scn` on `seed` with judgements of `inv`, and catches mutant `m` as
    /// a violation of `inv` named by invariant, seed and audit event.
    fn caught(scn: &Scenario, seed: u64, m: CapifMutant, inv: &'static Invariant) {
        let clean = report(scn, seed);
        assert!(clean.passed(), "without {m:?}:\n{}", listed(&clean));
        let n = clean.checked.get(inv.id).copied().unwrap_or(0);
        assert!(n > 0, "without {m:?}: `{}` never judged: {:?}", inv.id, clean.checked);
        let bad = report(&with_mutant(scn, Mutant::Capif(m)), seed);
        let Some(v) = bad.violations.iter().find(|v| v.invariant.id == inv.id) else {
            panic!("{m:?} not caught by `{}`; violations:\n{}", inv.id, listed(&bad));
        };
        let text = v.to_string();
        assert!(v.event.seq > 0, "{text}");
        for want in [
            inv.id.to_string(),
            format!("seed {seed}"),
            format!("audit event #{}", v.event.seq),
        ] {
            assert!(text.contains(&want), "`{want}` missing in: {text}");
        }
    }

    /// Issue 12, acceptance 1: the shipped scenario (home and interconnected invokers at
    /// aef-a1, PSK -> OAUTH at 20 s), smaller (6 invokers per flow, 32 s). With the bug put
    /// back (mutant), every interconnected invoker loops until the end: its recovery is
    /// recorded `unfinished` and `capif.recovers-or-gives-up` fails; without it, the
    /// invariant is judged and holds, and every invoker's recovery is `ok`.
    #[test]
    fn interconnected_oauth_after_method_change_recovers_and_the_bug_is_caught() {
        let mut scn = shipped("capif-interconnect-method-change.ron");
        first_invokers(&mut scn, 6);
        scn.experiment.duration = SimDuration::from_secs(32);
        let recoveries = |res: &crate::run::SeedResult| {
            let mut m: BTreeMap<(String, Outcome), usize> = BTreeMap::new();
            for r in res.records.iter().filter(|r| r.procedure == "capif_recovery") {
                *m.entry((r.flow.clone(), r.outcome)).or_default() += 1;
            }
            m
        };
        let want = |pairs: &[(&str, Outcome, usize)]| -> BTreeMap<(String, Outcome), usize> {
            pairs.iter().map(|(f, o, n)| ((f.to_string(), *o), *n)).collect()
        };
        let (res, clean) = check_seed(&scn, 1).unwrap();
        assert!(clean.passed(), "{}", listed(&clean));
        assert_eq!(
            clean.checked.get(RECOVERS_OR_GIVES_UP.id),
            Some(&12),
            "{:?}",
            clean.checked
        );
        assert_eq!(
            recoveries(&res),
            want(&[("home", Outcome::Ok, 6), ("interconnected", Outcome::Ok, 6)])
        );
        let (res, bad) = check_seed(&with_mutant(&scn, Mutant::Capif(CapifMutant::SingleTokenKey)), 1).unwrap();
        assert_eq!(
            recoveries(&res),
            want(&[("home", Outcome::Ok, 6), ("interconnected", Outcome::Unfinished, 6)])
        );
        let caught: Vec<&Violation> = bad
            .violations
            .iter()
            .filter(|v| v.invariant.id == RECOVERS_OR_GIVES_UP.id)
            .collect();
        assert_eq!(caught.len(), 6, "{}", listed(&bad));
        for v in caught {
            assert!(v.detail.contains("the method change of `aef-a1` to [OAUTH]"), "{v}");
            assert!(v.event.seq > 0 && v.to_string().contains("seed 1"), "{v}");
        }
        // The loop shows in the records as refused OAUTH invocations of the interconnected flow.
        let refused = res
            .records
            .iter()
            .filter(|r| r.flow == "interconnected" && r.procedure == "capif_invocation" && r.cause == "INVALID_TOKEN")
            .count();
        assert!(refused > 6 * 10, "{refused} refused invocations");
    }

    /// An invoker that gives up after a disturbance has ended with a definite error: the
    /// invariant holds (a give-up is counted as a judgement that passed), and the checker
    /// sees it only through the `GaveUp` fact.
    #[test]
    fn a_give_up_ends_the_recovery_and_a_late_one_breaks_it() {
        use crate::check::{AuditEvent, ProcAudit, RunAudit, check_events};
        let t = |s: u64| SimTime::ZERO + SimDuration::from_secs(s);
        let setup = SetupAudit {
            interconnection: Default::default(),
            expiry: Default::default(),
            token_leeway_s: 0,
            ccfs: vec![],
            aefs: vec![AefAudit {
                aef: "aef".into(),
                domain: "a".into(),
                methods: vec![SecurityMethod::Psk],
            }],
            flows: vec![FlowAudit {
                label: "f".into(),
                ccf: "ccf".into(),
                aef: "aef".into(),
                aef_ccf: "ccf".into(),
                recovery_bound_ns: SimDuration::from_secs(10).as_nanos(),
                recovery_budget: 2,
            }],
        };
        let trail = |fail: u64, gave_up: bool| {
            let mut v = vec![
                (
                    t(0),
                    AuditEvent::Run(RunAudit {
                        seed: 1,
                        end_ns: t(60).as_nanos(),
                        heal_ns: Some(t(5).as_nanos()),
                    }),
                ),
                (t(0), AuditEvent::Capif(CapifAudit::Setup(Box::new(setup.clone())))),
                (
                    t(1),
                    AuditEvent::Capif(CapifAudit::Onboarded {
                        node: "inv".into(),
                        invoker: "ID1".into(),
                        ccf: "ccf".into(),
                        flow: "f".into(),
                    }),
                ),
                (
                    t(2),
                    AuditEvent::Capif(CapifAudit::Negotiated {
                        ccf: "ccf".into(),
                        invoker: "ID1".into(),
                        aef: "aef".into(),
                        offered: vec![SecurityMethod::Psk],
                        known: vec![SecurityMethod::Psk],
                        selected: SecurityMethod::Psk,
                    }),
                ),
                (
                    t(5),
                    AuditEvent::Capif(CapifAudit::AefMethodsChanged {
                        aef: "aef".into(),
                        methods: vec![SecurityMethod::Pki],
                    }),
                ),
            ];
            for k in 0..fail {
                let kind = "capif_invocation".to_string();
                v.push((
                    t(6 + k),
                    AuditEvent::Proc(ProcAudit::Begin {
                        kind: kind.clone(),
                        key: k,
                        node: "inv".into(),
                        bound_ns: 1,
                    }),
                ));
                v.push((
                    t(6 + k),
                    AuditEvent::Proc(ProcAudit::End {
                        kind,
                        key: k,
                        outcome: "rejected".into(),
                    }),
                ));
            }
            if gave_up {
                v.push((t(9), AuditEvent::Capif(CapifAudit::GaveUp { node: "inv".into() })));
            }
            v
        };
        let judged = |r: &Report| r.checked.get(RECOVERS_OR_GIVES_UP.id).copied().unwrap_or(0);
        let r = check_events(1, t(60), &trail(2, true));
        assert!(r.passed() && judged(&r) == 1, "{}", listed(&r));
        // Three failures: over the budget of 2, at the third.
        let r = check_events(1, t(60), &trail(3, true));
        assert_eq!((r.violations.len(), judged(&r)), (1, 1), "{}", listed(&r));
        assert!(r.violations[0].detail.contains("failed 3 procedures"), "{}", listed(&r));
        // No attempt, no give-up: late once healing + bound (15 s) passed, not before.
        let r = check_events(1, t(60), &trail(0, false));
        assert_eq!(r.violations.len(), 1, "{}", listed(&r));
        assert!(r.violations[0].detail.contains("nor gave up"), "{}", listed(&r));
        let r = check_events(1, t(14), &trail(0, false));
        assert!(r.passed() && judged(&r) == 0, "{}", listed(&r));
    }

    #[test]
    fn negotiate_outside_intersection_is_caught() {
        // invoker-2 offers OAUTH and PKI only; the mutant picks PSK.
        let mut scn = shipped("capif-single.ron");
        scn.experiment.duration = SimDuration::from_secs(10);
        caught(
            &scn,
            1,
            CapifMutant::NegotiateOutsideIntersection,
            &NEGOTIATION_WITHIN_INTERSECTION,
        );
    }

    #[test]
    fn stale_method_accepted_is_caught() {
        // PSK is dropped at aef-a1 at 20 s; invoker-1 negotiated PSK.
        let mut scn = shipped("capif-single.ron");
        scn.experiment.duration = SimDuration::from_secs(24);
        caught(&scn, 1, CapifMutant::StaleMethodAccepted, &NO_STALE_METHOD_SUCCESS);
    }

    #[test]
    fn leak_onboarding_secret_is_caught() {
        // oauth: CcfBIssues forbids the onboarding secret in domain A.
        let mut scn = shipped("capif-two-providers.ron");
        scn.experiment.duration = SimDuration::from_secs(6);
        caught(
            &scn,
            1,
            CapifMutant::LeakOnboardingSecret,
            &NO_FORBIDDEN_SECRET_CROSSING,
        );
    }

    #[test]
    fn accept_revoked_invoker_is_caught() {
        // One long OAUTH session that is always busy when the revocation comes.
        let scn = inline(
            r#"Experiment(
                name: "check-capif-revoked",
                topology: "../topologies/capif-single.ron",
                duration: "6s",
                crypto: (fidelity: Keys),
                capif: (invocations_per_session: Some(1000), revocations: [(at: "4s", invoker: "invoker-2")]),
                workload: [
                    Capif((name: Some("oauth"), invokers: ["invoker-2"], ccf: "ccf-a", aef: "aef-a1",
                           prefs: Some(["OAUTH"]), arrival: Periodic(interval: "5ms"))),
                ],
            )"#,
        );
        caught(&scn, 1, CapifMutant::AcceptRevokedInvoker, &AEF_SESSION_CREDENTIAL);
    }

    #[test]
    fn accept_expired_psk_is_caught() {
        // A slow CCF (400 ms per AEFPSK derivation) answers the invoker long after it started
        // its timer, so the invoker's key outlives the AEF's by ~400 ms; one session per
        // invocation keeps handshakes coming in that window.
        let scn = inline(
            r#"Experiment(
                name: "check-capif-expiry",
                topology: "../topologies/capif-single.ron",
                duration: "8s",
                crypto: (fidelity: Keys, costs: Some((classes: {"Ccf": (overrides: {Kdf3gpp: "400ms"})}))),
                capif: (psk_validity: Some("2s"), invocations_per_session: Some(1)),
                workload: [
                    Capif((name: Some("psk"), invokers: ["invoker-1"], ccf: "ccf-a", aef: "aef-a1",
                           prefs: Some(["PSK"]), arrival: Periodic(interval: "5ms"))),
                ],
            )"#,
        );
        caught(&scn, 1, CapifMutant::AcceptExpiredPsk, &NO_USE_AFTER_EXPIRY);
    }

    #[test]
    fn aefpsk_wrong_label_is_caught() {
        // Timing fidelity: the TLS-PSK check compares keys directly (the mutant skips it).
        let scn = inline(
            r#"Experiment(
                name: "check-capif-label",
                topology: "../topologies/capif-single.ron",
                duration: "4s",
                crypto: (fidelity: Timing),
                workload: [
                    Capif((name: Some("psk"), invokers: ["invoker-1"], ccf: "ccf-a", aef: "aef-a1",
                           prefs: Some(["PSK"]), arrival: Poisson(rate_per_s: 5.0))),
                ],
            )"#,
        );
        caught(&scn, 1, CapifMutant::AefpskWrongLabel, &AEFPSK_EQUAL);
    }

    fn passes(scn: &Scenario, seeds: std::ops::RangeInclusive<u64>, what: &str) {
        for seed in seeds {
            let r = report(scn, seed);
            assert!(r.passed(), "{what} seed {seed}:\n{}", listed(&r));
            for inv in INVARIANTS {
                // Every experiment judges credentials and methods; the others where they apply.
                if [AEF_SESSION_CREDENTIAL.id, NO_STALE_METHOD_SUCCESS.id].contains(&inv.id) {
                    assert!(r.checked.get(inv.id).copied().unwrap_or(0) > 0, "{what}: {}", inv.id);
                }
            }
        }
    }

    #[test]
    fn shipped_capif_single_and_two_providers_pass() {
        passes(&shipped("capif-single.ron"), 1..=3, "capif-single");
        passes(&shipped("capif-two-providers.ron"), 1..=3, "capif-two-providers");
    }

    #[test]
    fn shipped_capif_mismatch_storm_passes_reduced() {
        let mut scn = shipped("capif-mismatch-storm.ron");
        first_invokers(&mut scn, 60);
        scn.experiment.duration = SimDuration::from_secs(40);
        passes(&scn, 1..=3, "capif-mismatch-storm (60 invokers, 40 s)");
    }

    #[test]
    fn shipped_capif_compare_and_sweep_points_pass() {
        for name in [
            "compare-capif-interconnection.ron",
            "compare-capif-recovery.ron",
            "sweep-capif-recovery.ron",
        ] {
            let points = crate::sweep::expand(&root().join("experiments").join(name)).unwrap();
            for p in points {
                let mut scn = p.scenario;
                first_invokers(&mut scn, 20);
                // Every point on one seed, the seeds 1..=3 in turn over the points.
                let seed = 1 + p.index as u64 % 3;
                passes(&scn, seed..=seed, &format!("{name} point {} {:?}", p.index, p.labels));
            }
        }
    }

    /// The records of successful invocations per invoker that started after `after`.
    fn invoked_after(res: &crate::run::SeedResult, after: SimTime) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for r in &res.records {
            if r.procedure == "capif_invocation" && r.outcome == Outcome::Ok && r.start_ns > after.as_nanos() {
                *m.entry(r.initiator.clone()).or_default() += 1;
            }
        }
        m
    }

    #[test]
    fn ccf_restart_passes_and_invokers_recover() {
        let single = r#"Experiment(
            name: "check-capif-restart",
            topology: "../topologies/capif-two-providers.ron",
            duration: "16s",
            crypto: (fidelity: Keys),
            capif: (psk_validity: Some("4s"), token_lifetime: Some("3s"), invocations_per_session: Some(5),
                    ccf_restarts: [(at: "5s", ccf: "ccf-a", down: "2s")]),
            workload: [
                Capif((name: Some("psk"), invokers: ["invoker-1"], ccf: "ccf-a", aef: "aef-a1",
                       prefs: Some(["PSK"]), arrival: Poisson(rate_per_s: 4.0))),
                Capif((name: Some("pki"), invokers: ["invoker-2"], ccf: "ccf-a", aef: "aef-a1",
                       prefs: Some(["PKI"]), arrival: Poisson(rate_per_s: 4.0))),
                Capif((name: Some("oauth"), invokers: ["invoker-3"], ccf: "ccf-a", aef: "aef-a1",
                       prefs: Some(["OAUTH"]), arrival: Poisson(rate_per_s: 4.0))),
            ],
        )"#;
        let interconnected = r#"Experiment(
            name: "check-capif-restart-b",
            topology: "../topologies/capif-two-providers.ron",
            duration: "16s",
            crypto: (fidelity: Keys),
            capif: (psk_validity: Some("4s"), token_lifetime: Some("3s"), invocations_per_session: Some(5),
                    ccf_restarts: [(at: "5s", ccf: "ccf-b", down: "2s"), (at: "9s", ccf: "ccf-a", down: "1s")]),
            workload: [
                Capif((name: Some("psk"), invokers: ["invoker-1"], ccf: "ccf-b", aef: "aef-a1", aef_ccf: Some("ccf-a"),
                       prefs: Some(["PSK"]), arrival: Poisson(rate_per_s: 4.0))),
                Capif((name: Some("pki"), invokers: ["invoker-2"], ccf: "ccf-b", aef: "aef-a1", aef_ccf: Some("ccf-a"),
                       prefs: Some(["PKI"]), arrival: Poisson(rate_per_s: 4.0))),
                Capif((name: Some("oauth"), invokers: ["invoker-3"], ccf: "ccf-b", aef: "aef-a1", aef_ccf: Some("ccf-a"),
                       prefs: Some(["OAUTH"]), arrival: Poisson(rate_per_s: 4.0))),
            ],
        )"#;
        for (src, healed) in [(single, 7), (interconnected, 10)] {
            let scn = inline(src);
            assert_eq!(scn.heal_time(), Some(SimTime::ZERO + SimDuration::from_secs(healed)));
            for seed in 1..=3 {
                let (res, r) = check_seed(&scn, seed).unwrap();
                let what = format!("{} seed {seed}", scn.experiment.name);
                // The restart mattered: the CCF had lost security contexts it was asked for.
                let restart = scn.experiment.capif.ccf_restarts[0].at.as_nanos();
                assert!(
                    res.records
                        .iter()
                        .any(|r| r.procedure == "ccf_request" && r.status == 404 && r.start_ns > restart),
                    "{what}: no request met a lost security context"
                );
                // Liveness was judged: procedures began and ended, across the restart.
                assert!(
                    r.checked.get("liveness.end-matches-begin").copied().unwrap_or(0) > 20,
                    "{what}"
                );
                let after = invoked_after(&res, SimTime::ZERO + SimDuration::from_secs(healed + 1));
                for inv in ["invoker-1", "invoker-2", "invoker-3"] {
                    assert!(
                        after.get(inv).copied().unwrap_or(0) > 0,
                        "{what}: {inv} never recovered: {after:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn ccf_restart_of_an_unknown_ccf_is_a_located_error() {
        let src = r#"Experiment(
            name: "check-capif-restart-bad",
            topology: "../topologies/capif-single.ron",
            duration: "10s",
            capif: (ccf_restarts: [(at: "5s", ccf: "ccf-x", down: "1s")]),
            workload: [
                Capif((invokers: ["invoker-1"], ccf: "ccf-a", aef: "aef-a1", arrival: Poisson(rate_per_s: 1.0))),
            ],
        )"#;
        let e = load_experiment_source(src, &root().join("experiments/bad.ron"), None).unwrap_err();
        let text = e.to_string();
        assert_eq!(e.field, "capif.ccf_restarts[0].ccf", "{text}");
        assert!(e.line == Some(5) && e.column.is_some(), "{text}");
        assert!(
            text.contains("unknown node `ccf-x`") && text.contains("did you mean `ccf-a`"),
            "{text}"
        );
        // A zero outage, and a node that is no CCF.
        let src2 = src.replace("ccf-x", "aef-a1").replace("\"1s\"", "\"0s\"");
        let e = load_experiment_source(&src2, &root().join("experiments/bad.ron"), None).unwrap_err();
        assert_eq!(e.field, "capif.ccf_restarts[0].down", "{e}");
        let src3 = src.replace("ccf-x", "aef-a1");
        let e = load_experiment_source(&src3, &root().join("experiments/bad.ron"), None).unwrap_err();
        assert!(e.to_string().contains("must be Ccf"), "{e}");
    }

    #[test]
    fn audit_off_emits_nothing_and_trace_round_trips() {
        // The same run with the audit on: every CAPIF event serializes and parses back.
        let mut scn = shipped("capif-two-providers.ron");
        scn.experiment.duration = SimDuration::from_secs(3);
        let (_, trail) = crate::run::run_seed_audited(&scn, 1, None, true, &|_| {}).unwrap();
        let capif: Vec<_> = trail
            .iter()
            .filter(|(_, e)| matches!(e, crate::check::AuditEvent::Capif(_)))
            .collect();
        assert!(matches!(
            capif.first(),
            Some((_, crate::check::AuditEvent::Capif(CapifAudit::Setup(_))))
        ));
        for (t, e) in &capif {
            let line = crate::check::audit::trace_line(*t, e);
            let (t2, e2) = crate::check::audit::parse_trace_line(&line).unwrap().unwrap();
            assert_eq!((t2, &e2), (*t, e), "{line}");
        }
        let (_, none) = crate::run::run_seed_audited(&scn, 1, None, false, &|_| {}).unwrap();
        assert!(none.is_empty());
    }
}
