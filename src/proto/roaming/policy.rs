//! What the Roaming Intermediary allows: the [`RiPolicy`] read from the scenario (RON), the
//! [`Decision`] it yields for one N32-c connection attempt, and the [`TokenBucket`] of its rate
//! limit in simulated time.
//!
//! # Precedence
//!
//! [`RiPolicy`] is evaluated in a fixed order; the first rule that speaks decides:
//!
//! ```text
//!   1. scripted   first ScriptedDecision whose window holds `now` (and whose target matches)
//!   2. contract   (client PLMN, target PLMN) not in `contracts`   -> Refuse(NoContract)
//!   3. unreachable target PLMN in `unreachable`                  -> Refuse(TargetUnreachable)
//!   4. rate limit no token left in the bucket                    -> Refuse(RateLimited)
//!   5. otherwise                                                 -> Accept
//! ```
//!
//! Scripts come first so that an experiment can force any outcome (an outage, a recovery)
//! regardless of configuration. Contracts come before reachability because a contract refusal
//! is known without looking at the network. The rate limit is last so that only attempts
//! that would otherwise be accepted spend a token: a refused attempt costs nothing, and a
//! scripted decision bypasses the bucket entirely.

use serde::{Deserialize, Serialize};

use crate::engine::time::{SimDuration, SimTime};

use super::direct_tls::DirectTlsReaction;
use super::rejection::SuggestionEncoding;

/// The standard-looking application error the RI suggests towards the cNF. TS 29.573 has no
/// such string (DIGEST 3: "TARGET PLMN NOT REACHABLE" appears only as prose in the CR); this
/// one follows the TS 29.500 naming convention of `TARGET_NF_NOT_REACHABLE`. A secsim choice.
pub const TARGET_PLMN_NOT_REACHABLE: &str = "TARGET_PLMN_NOT_REACHABLE";

/// A roaming contract: the RI carries N32 from `from_plmn` (the c-SEPP's PLMN) to `to_plmn`.
///
/// Directional: list both pairs for a bilateral agreement. A PLMN is named by its domain in
/// the topology (`"plmn-a"`): the RI compares these names with the domains of the c-SEPP and
/// the p-SEPP of each attempt, and the validator refuses a name that is not the domain of
/// some `Sepp` node (an `"<mcc>-<mnc>"` string would match no attempt and refuse every
/// CONNECT).
#[derive(Clone, Debug, Deserialize, Eq, Ord, PartialEq, PartialOrd, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Contract {
    /// The initiating (consumer-side) PLMN.
    pub from_plmn: String,
    /// The target (producer-side) PLMN.
    pub to_plmn: String,
}

/// A token bucket: `burst` tokens, refilled at `per_s` tokens per simulated second.
#[derive(Clone, Debug, Deserialize, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Refill rate \[1/s\]; finite and > 0.
    pub per_s: f64,
    /// Bucket size \[tokens\]; >= 1. The bucket starts full at time zero.
    pub burst: u32,
}

/// A decision forced during a window of simulated time (e.g. an outage of one target PLMN).
///
/// Active when `at <= now < until` (`until` absent: until the end of the run) and, if
/// `target_plmn` is set, only for that target. When several are active, the first in the list
/// wins.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScriptedDecision {
    /// Start of the window, from the start of the run.
    pub at: SimDuration,
    /// End of the window (exclusive), from the start of the run. Default absent (until the
    /// end of the run).
    #[serde(default)]
    pub until: Option<SimDuration>,
    /// Only this target PLMN (its domain name in the topology, e.g. `"plmn-b"`); absent:
    /// every target. Default absent.
    #[serde(default)]
    pub target_plmn: Option<String>,
    /// The decision to return, e.g. `Refuse(reason: Scripted)` or
    /// `Refuse(reason: TargetUnreachable)` to mimic an outage.
    pub decision: Decision,
}

impl ScriptedDecision {
    /// Whether this script speaks for `target_plmn` at `now`.
    pub fn applies(&self, now: SimTime, target_plmn: &str) -> bool {
        let start = SimTime::ZERO + self.at;
        let before_end = self.until.is_none_or(|until| now < SimTime::ZERO + until);
        let target_ok = self.target_plmn.as_deref().is_none_or(|t| t == target_plmn);
        start <= now && before_end && target_ok
    }
}

/// How the RI answers a refused HTTP CONNECT (TS 29.573 5.2.X.2 step 3).
///
/// Defaults: `status: 403`, `suggested_status: Some(504)`,
/// `suggested_cause: Some("TARGET_PLMN_NOT_REACHABLE")` ([`TARGET_PLMN_NOT_REACHABLE`], a secsim
/// name: the standard string does not exist), `encoding: ProblemDetailsMsgForwarding`.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RejectionSpec {
    /// Status of the CONNECT response; 400..=599 (a 2xx would open the tunnel, RFC 9110 9.3.6).
    pub status: u16,
    /// Status the RI suggests the c-SEPP relays to the cNF; 400..=599 when present.
    pub suggested_status: Option<u16>,
    /// Application error (ProblemDetails `cause`) the RI suggests relaying to the cNF.
    pub suggested_cause: Option<String>,
    /// How the suggestion travels (seed 000 EN "API details", FFS alternative 2).
    pub encoding: SuggestionEncoding,
}

impl Default for RejectionSpec {
    fn default() -> Self {
        RejectionSpec {
            //= TS 29.573 5.2.X.2 step 3: "e.g. "403 forbidden" response with the ProblemDetails"
            status: 403,
            //= TS 29.573 5.2.X.2 step 3: "a suggested status code e.g. "504 Gateway Timeout""
            suggested_status: Some(504),
            //= TS 29.573 5.2.X.2 step 3: "a suggested application error e.g. "TARGET PLMN NOT REACHABLE""
            suggested_cause: Some(TARGET_PLMN_NOT_REACHABLE.to_owned()),
            encoding: SuggestionEncoding::default(),
        }
    }
}

/// The Roaming Intermediary's N32-c policy (scenario RON).
///
/// Written in an experiment as an entry of `n32: (ri_policies: {"<ri node>": (...)})`
/// ([`crate::scenario::N32Spec::ri_policies`]). PLMNs are the topology's domain names of the
/// SEPPs (`"plmn-a"`), as in the shipped topologies; the validator checks every name.
///
/// Defaults (every field may be omitted): `contracts: []` (allow every pair),
/// `unreachable: []`, `rate_limit: None` (no limit), `scripted: []`,
/// `rejection: RejectionSpec::default()` (403, suggests 504 + `TARGET_PLMN_NOT_REACHABLE`,
/// ProblemDetailsMsgForwarding), `direct_tls: RequireConnect`.
///
/// For `topologies/ipx-hub-50.ron` (PLMNs `plmn-01` … `plmn-50`):
///
/// ```ron
/// (
///     contracts: [(from_plmn: "plmn-01", to_plmn: "plmn-02")],
///     unreachable: ["plmn-03"],
///     rate_limit: Some((per_s: 10.0, burst: 5)),
///     scripted: [(at: "10s", until: Some("20s"), decision: Refuse(reason: Scripted))],
///     rejection: (suggested_status: Some(503), encoding: ProtectedHeader),
///     direct_tls: TlsAlertOnSni,
/// )
/// ```
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RiPolicy {
    /// Allowed (client PLMN, target PLMN) pairs; empty: every pair is allowed. Default `[]`.
    pub contracts: Vec<Contract>,
    /// Target PLMNs (domain names) the RI cannot reach. Default `[]`.
    pub unreachable: Vec<String>,
    /// Rate limit over all accepted attempts; `None` (default): unlimited.
    pub rate_limit: Option<RateLimit>,
    /// Forced decisions in windows of simulated time; checked first. Default `[]`.
    pub scripted: Vec<ScriptedDecision>,
    /// How refused CONNECTs are answered. Default [`RejectionSpec::default`].
    pub rejection: RejectionSpec,
    /// How direct TLS (no CONNECT) on N32-c is prevented (seed 000 EN, FFS alternative 1).
    /// Default `RequireConnect`.
    pub direct_tls: DirectTlsReaction,
}

/// A scenario value the RI policy refuses at load time. Always fatal to the run (the
/// scenario is wrong), never caused by a peer.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PolicyError {
    /// `rate_limit.per_s` is not finite and positive.
    #[error("ri policy: rate_limit.per_s must be finite and > 0, got {0}")]
    Rate(f64),
    /// `rate_limit.burst` is zero.
    #[error("ri policy: rate_limit.burst must be >= 1")]
    Burst,
    /// A status that is not an HTTP error status.
    #[error("ri policy: rejection.{field} must be in 400..=599, got {status}")]
    Status {
        /// `status` or `suggested_status`.
        field: &'static str,
        /// The offending value.
        status: u16,
    },
    /// A scripted window that ends before it starts.
    #[error("ri policy: scripted[{index}] ends ({until}) before it starts ({at})")]
    Window {
        /// Index in `scripted`.
        index: usize,
        /// Start.
        at: SimDuration,
        /// End.
        until: SimDuration,
    },
}

impl RiPolicy {
    /// Checks the values serde cannot (once, at load).
    pub fn validate(&self) -> Result<(), PolicyError> {
        if let Some(rate) = &self.rate_limit {
            if !(rate.per_s.is_finite() && rate.per_s > 0.0) {
                return Err(PolicyError::Rate(rate.per_s));
            }
            if rate.burst == 0 {
                return Err(PolicyError::Burst);
            }
        }
        let error_status = |field, status: u16| {
            if (400..=599).contains(&status) {
                Ok(())
            } else {
                Err(PolicyError::Status { field, status })
            }
        };
        error_status("status", self.rejection.status)?;
        if let Some(s) = self.rejection.suggested_status {
            error_status("suggested_status", s)?;
        }
        for (index, s) in self.scripted.iter().enumerate() {
            if let Some(until) = s.until
                && until < s.at
            {
                return Err(PolicyError::Window { index, at: s.at, until });
            }
        }
        Ok(())
    }

    /// Whether a contract covers `client_plmn` -> `target_plmn` (always, with no contracts).
    pub fn has_contract(&self, client_plmn: &str, target_plmn: &str) -> bool {
        self.contracts.is_empty()
            || self
                .contracts
                .iter()
                .any(|c| c.from_plmn == client_plmn && c.to_plmn == target_plmn)
    }
}

/// Why the RI refuses an N32 connection.
#[derive(Clone, Copy, Debug, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize, schemars::JsonSchema)]
pub enum RefusalReason {
    /// No contract for (client PLMN, target PLMN): "e.g. for contractual reasons" (5.2.1).
    NoContract,
    /// The RI cannot reach the target PLMN: "or connectivity issue" (5.2.1).
    TargetUnreachable,
    /// The rate limit's bucket is empty.
    RateLimited,
    /// A [`ScriptedDecision`] said so.
    Scripted,
}

impl RefusalReason {
    /// Every reason, in declaration order.
    pub const ALL: [RefusalReason; 4] = [
        RefusalReason::NoContract,
        RefusalReason::TargetUnreachable,
        RefusalReason::RateLimited,
        RefusalReason::Scripted,
    ];

    /// The `cause` of the RI's own ProblemDetails (towards the c-SEPP). TS 29.573's
    /// application errors for CONNECT are not known (DIGEST 10), so these are secsim names in
    /// the TS 29.500 style.
    pub fn cause(self) -> &'static str {
        match self {
            RefusalReason::NoContract => "NO_ROAMING_CONTRACT",
            RefusalReason::TargetUnreachable => TARGET_PLMN_NOT_REACHABLE,
            RefusalReason::RateLimited => "RI_RATE_LIMITED",
            RefusalReason::Scripted => "RI_SCRIPTED_REJECTION",
        }
    }
}

/// The RI's answer to one N32-c connection attempt.
#[derive(Clone, Copy, Debug, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize, schemars::JsonSchema)]
pub enum Decision {
    /// Let the connection through (CONNECT: 2xx and a tunnel).
    Accept,
    /// Refuse it.
    Refuse {
        /// Why.
        reason: RefusalReason,
    },
}

/// A token bucket in simulated time, in integer nanoseconds so that it is exact and
/// deterministic: one token is worth `round(1e9 / per_s)` ns of credit, credit accrues one ns
/// per simulated ns up to `burst` tokens, and a request takes one token's worth.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct TokenBucket {
    /// Credit per token \[ns\] (>= 1).
    ns_per_token: u64,
    /// Credit cap \[ns\] = `burst * ns_per_token`.
    capacity_ns: u64,
    /// Credit now \[ns\].
    credit_ns: u64,
    /// When `credit_ns` was last brought up to date.
    last: SimTime,
}

impl TokenBucket {
    /// A full bucket at time zero. `rate` must have passed [`RiPolicy::validate`].
    pub fn new(rate: &RateLimit) -> TokenBucket {
        // `as` saturates; per_s > 0 and finite (validated), so this is >= 1 after the max.
        let ns_per_token = ((1e9 / rate.per_s).round() as u64).max(1);
        let capacity_ns = ns_per_token.saturating_mul(u64::from(rate.burst));
        TokenBucket {
            ns_per_token,
            capacity_ns,
            credit_ns: capacity_ns,
            last: SimTime::ZERO,
        }
    }

    /// Refills up to `now`, then takes one token if there is one. A `now` earlier than the
    /// last call refills nothing.
    pub fn try_take(&mut self, now: SimTime) -> bool {
        let elapsed = now.saturating_since(self.last).as_nanos();
        self.credit_ns = self.credit_ns.saturating_add(elapsed).min(self.capacity_ns);
        self.last = self.last.max(now);
        if self.credit_ns >= self.ns_per_token {
            self.credit_ns -= self.ns_per_token;
            true
        } else {
            false
        }
    }

    /// Whole tokens available at the last call.
    pub fn tokens(&self) -> u64 {
        self.credit_ns / self.ns_per_token
    }
}
