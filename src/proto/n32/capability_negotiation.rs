//! Security capability negotiation (TS 29.573 clause 5.2.2; TS 33.501 clause 13.2.2.2).
//!
//! ```text
//!  initiating SEPP                                   responding SEPP
//!       │  (end-to-end mutually authenticated TLS, HTTP/2)  │
//!       │── POST /exchange-capability ──────────────────────►│  SecNegotiateReqData
//!       │   supportedSecCapabilityList [PRINS, TLS]          │  select_capability(offered, local)
//!       │◄──────────────────────────── 200 SecNegotiateRspData│  selectedSecCapability
//!       │◄──────────────────────── 403 ProblemDetails (none) ─│
//!  TLS (or any non-PRINS value): close this N32-c connection (TS 33.501 13.5)
//!  PRINS: keep N32-c for the parameter exchange (clause 5.2.3)
//! ```
//!
//! # Selection (local policy of the responder)
//!
//! The responder picks a capability both SEPPs support (TS 29.573 5.2.2 step 2a), steered by
//! [`Preference`] (default [`Preference::ResponderOrder`]). TS 33.501 13.2.2.2 names RIs on the
//! path as the typical reason to pick PRINS: [`Preference::PrinsIfIntermediaries`].
//!
//! # secsim's decisions (the spec is silent)
//!
//! - **No common capability**: `403 Forbidden`, cause [`CAUSE_CAPABILITY_MISMATCH`]
//!   (`"SECURITY_CAPABILITY_MISMATCH"`). TS 29.573 lists 400/403 for the operation but its
//!   application error table was not retrieved (DIGEST 10): the string is secsim's.
//! - **Empty list** (violates `minItems: 1`): `400`, cause `MANDATORY_IE_INCORRECT` (TS 29.500).
//! - **`NONE`** means "no mechanism" and never counts as a common mechanism. An offer made only
//!   of `NONE` is a teardown request (what open5gs does, DIGEST 1 \[?\]): the responder
//!   answers `200` with `NONE`, closes N32-c and drops the pairing's contexts.
//! - **Unknown values** (`Other(s)`) match by exact string; like TLS they close N32-c ("any
//!   other capability other than PRINS", 5.2.2 step 2a).

// ProblemDetails is the wire error of the handshake API (224 octets); rejections are the cold path.
#![allow(clippy::result_large_err)]

use serde::{Deserialize, Serialize};

use crate::audit::mutant::{Mutant, Mutants};
use crate::audit::n32::N32Mutant;
use crate::proto::common::{Fqdn, InvalidParam, ProblemDetails};
use crate::proto::n32::types::{SecNegotiateReqData, SecNegotiateRspData, SecurityCapability};

/// Cause of the 403 when no capability is common (secsim's string, see module doc).
pub const CAUSE_CAPABILITY_MISMATCH: &str = "SECURITY_CAPABILITY_MISMATCH";

/// Cause of a 400 for a present but invalid mandatory IE (TS 29.500 table 5.2.7.2-1).
pub const CAUSE_MANDATORY_IE_INCORRECT: &str = "MANDATORY_IE_INCORRECT";

/// How the responder chooses among the common capabilities.
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, PartialEq, Serialize, schemars::JsonSchema)]
pub enum Preference {
    /// The first of the responder's own list that the initiator offers (default).
    #[default]
    ResponderOrder,
    /// The first of the initiator's list that the responder supports.
    InitiatorOrder,
    /// PRINS when RIs are on the path, else TLS (TS 33.501 13.2.2.2 rationale); if the
    /// preferred one is not common, falls back to [`Preference::ResponderOrder`].
    PrinsIfIntermediaries {
        /// Whether Roaming Intermediaries sit between the SEPPs.
        ris_on_path: bool,
    },
}

impl Preference {
    /// Every alternative, in declaration order (`PrinsIfIntermediaries` with `ris_on_path: false`: set it from the topology).
    pub const ALL: [Preference; 3] = [
        Preference::ResponderOrder,
        Preference::InitiatorOrder,
        Preference::PrinsIfIntermediaries { ris_on_path: false },
    ];
}

/// The responder's capability policy. Default: supports `[PRINS, TLS]`, responder order.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct LocalCapPolicy {
    /// Supported capabilities, the responder's priority order (`NONE` is ignored).
    pub supported: Vec<SecurityCapability>,
    /// How to choose among the common ones.
    pub prefer: Preference,
}

impl Default for LocalCapPolicy {
    fn default() -> Self {
        LocalCapPolicy {
            supported: vec![SecurityCapability::Prins, SecurityCapability::Tls],
            prefer: Preference::ResponderOrder,
        }
    }
}

/// Is `cap` a protection mechanism (not `NONE`)?
fn is_mechanism(cap: &SecurityCapability) -> bool {
    *cap != SecurityCapability::None
}

/// The responder's choice (TS 29.573 5.2.2 step 2a), or the ProblemDetails of step 2b.
///
/// `offered` is the initiator's list in its priority order. Returns `NONE` only for a
/// teardown offer (only `NONE` values, see module doc).
pub fn select_capability(
    offered: &[SecurityCapability],
    local: &LocalCapPolicy,
    mutants: Mutants,
) -> Result<SecurityCapability, ProblemDetails> {
    if offered.is_empty() {
        let mut p = ProblemDetails::with_cause(400, CAUSE_MANDATORY_IE_INCORRECT);
        p.invalid_params = Some(vec![InvalidParam {
            param: "/supportedSecCapabilityList".into(),
            reason: Some("empty list".into()),
        }]);
        return Err(p);
    }
    // secsim: an offer of only NONE tears the pairing down (open5gs behaviour, DIGEST 1 [?]).
    if offered.iter().all(|c| *c == SecurityCapability::None) {
        return Ok(SecurityCapability::None);
    }
    //= TS 29.573 5.2.2 step 2a
    //# selects, based on its local policy, a security mechanism, which is supported by both
    let common = |c: &&SecurityCapability| is_mechanism(c) && offered.contains(c) && local.supported.contains(c);
    let responder_order = || local.supported.iter().find(common);
    let pick = match local.prefer {
        // Mutant: the initiator's first mechanism, whether this SEPP supports it or not.
        _ if mutants.on(Mutant::N32(N32Mutant::CapabilityOutsideIntersection)) => {
            offered.iter().find(|c| is_mechanism(c))
        }
        Preference::ResponderOrder => responder_order(),
        Preference::InitiatorOrder => offered.iter().find(common),
        //= TS 33.501 13.2.2.2
        // (paraphrase) PRINS when RIs that modify messages are on the path, else TLS.
        Preference::PrinsIfIntermediaries { ris_on_path } => {
            let want = if ris_on_path {
                SecurityCapability::Prins
            } else {
                SecurityCapability::Tls
            };
            local
                .supported
                .iter()
                .find(|c| **c == want && common(c))
                .or_else(responder_order)
        }
    };
    pick.cloned().ok_or_else(|| {
        //= TS 29.573 5.2.2 step 2b
        let mut p = ProblemDetails::with_cause(403, CAUSE_CAPABILITY_MISMATCH);
        p.detail = Some(format!(
            "no common security capability: offered {}, supported {}",
            list(offered),
            list(&local.supported)
        ));
        p
    })
}

fn list(caps: &[SecurityCapability]) -> String {
    let names: Vec<&str> = caps.iter().map(|c| c.as_str()).collect();
    format!("[{}]", names.join(", "))
}

/// The initiator's request (TS 29.573 5.2.2 step 1): its capabilities in priority order.
pub fn build_request(sender: &str, supported: &[SecurityCapability]) -> SecNegotiateReqData {
    SecNegotiateReqData::new(sender, supported.to_vec())
}

/// The responder's handling of a request: a 200 body or the 4xx ProblemDetails.
pub fn handle_request(
    req: &SecNegotiateReqData,
    local: &LocalCapPolicy,
    sender: &str,
    mutants: Mutants,
) -> Result<SecNegotiateRspData, ProblemDetails> {
    select_capability(&req.supported_sec_capability_list, local, mutants).map(|c| build_response(sender, c))
}

/// The responder's 200 body (TS 29.573 5.2.2 step 2a).
pub fn build_response(sender: &str, selected: SecurityCapability) -> SecNegotiateRspData {
    SecNegotiateRspData::new(sender, selected)
}

/// Why the initiator refuses a 200 answer.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
pub enum CapabilityError {
    /// The responder selected a capability that was not offered (peer fault; fatal to the
    /// negotiation only).
    #[error("responding sepp {responder} selected {selected}, which was not offered")]
    NotOffered {
        /// The responder's FQDN.
        responder: Fqdn,
        /// What it selected.
        selected: SecurityCapability,
    },
}

/// The initiator's check of a 200 answer: the selection must be one it offered (or `NONE`,
/// a teardown).
pub fn check_response(
    offered: &[SecurityCapability],
    rsp: &SecNegotiateRspData,
) -> Result<SecurityCapability, CapabilityError> {
    let sel = &rsp.selected_sec_capability;
    if *sel == SecurityCapability::None || offered.contains(sel) {
        Ok(sel.clone())
    } else {
        Err(CapabilityError::NotOffered {
            responder: rsp.sender.clone(),
            selected: sel.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SecurityCapability::{None as NoneCap, Prins, Tls};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn select(offered: &[SecurityCapability], local: &LocalCapPolicy) -> Result<SecurityCapability, ProblemDetails> {
        select_capability(offered, local, Mutants::NONE)
    }

    fn pol(supported: Vec<SecurityCapability>, prefer: Preference) -> LocalCapPolicy {
        LocalCapPolicy { supported, prefer }
    }

    fn random_list(rng: &mut ChaCha8Rng) -> Vec<SecurityCapability> {
        let pool = [Prins, Tls, NoneCap, SecurityCapability::Other("QUANTUM".into())];
        let mut v: Vec<_> = pool.iter().filter(|_| rng.random_bool(0.5)).cloned().collect();
        // shuffle by random swaps
        for i in (1..v.len()).rev() {
            let j = rng.random_range(0..=i);
            v.swap(i, j);
        }
        v
    }

    #[test]
    fn agreed_capability_is_always_common() {
        for seed in 0..500u64 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let offered = random_list(&mut rng);
            let prefer = match rng.random_range(0..4) {
                0 => Preference::ResponderOrder,
                1 => Preference::InitiatorOrder,
                2 => Preference::PrinsIfIntermediaries { ris_on_path: true },
                _ => Preference::PrinsIfIntermediaries { ris_on_path: false },
            };
            let local = pol(random_list(&mut rng), prefer);
            match select(&offered, &local) {
                Ok(NoneCap) => assert!(offered.iter().all(|c| *c == NoneCap), "seed {seed}"),
                Ok(c) => {
                    assert!(offered.contains(&c) && local.supported.contains(&c), "seed {seed}");
                    let rsp = build_response("b.example.org", c.clone());
                    assert_eq!(check_response(&offered, &rsp), Ok(c));
                }
                Err(p) => {
                    let common = offered.iter().any(|c| is_mechanism(c) && local.supported.contains(c));
                    assert!(!common, "seed {seed}: {p:?}");
                    assert!(matches!(p.status, Some(400) | Some(403)));
                }
            }
        }
    }

    #[test]
    fn preference_orders() {
        let offered = [Tls, Prins];
        assert_eq!(
            select(&offered, &pol(vec![Prins, Tls], Preference::ResponderOrder)),
            Ok(Prins)
        );
        assert_eq!(
            select(&offered, &pol(vec![Prins, Tls], Preference::InitiatorOrder)),
            Ok(Tls)
        );
        let ri = |on| Preference::PrinsIfIntermediaries { ris_on_path: on };
        assert_eq!(select(&offered, &pol(vec![Tls, Prins], ri(true))), Ok(Prins));
        assert_eq!(select(&offered, &pol(vec![Prins, Tls], ri(false))), Ok(Tls));
        // preferred one not common: falls back to responder order
        assert_eq!(select(&[Tls], &pol(vec![Prins, Tls], ri(true))), Ok(Tls));
    }

    #[test]
    fn mismatch_empty_and_none() {
        let p = select(&[Tls], &pol(vec![Prins], Preference::ResponderOrder)).unwrap_err();
        assert_eq!(
            (p.status, p.cause.as_deref()),
            (Some(403), Some(CAUSE_CAPABILITY_MISMATCH))
        );
        let p = select(&[], &LocalCapPolicy::default()).unwrap_err();
        assert_eq!(p.status, Some(400));
        assert_eq!(select(&[NoneCap], &LocalCapPolicy::default()), Ok(NoneCap));
        // NONE never matches as a mechanism
        let p = select(&[NoneCap, Tls], &pol(vec![NoneCap], Preference::ResponderOrder)).unwrap_err();
        assert_eq!(p.status, Some(403));
        let rsp = build_response("b.example.org", Tls);
        assert!(check_response(&[Prins], &rsp).is_err());
    }

    #[test]
    fn bodies_use_openapi_names() {
        let req = build_request("a.example.org", &[Prins, Tls]);
        let v = serde_json::to_value(&req).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"sender": "a.example.org", "supportedSecCapabilityList": ["PRINS", "TLS"]})
        );
        let rsp = handle_request(&req, &LocalCapPolicy::default(), "b.example.org", Mutants::NONE).unwrap();
        let v = serde_json::to_value(&rsp).unwrap();
        assert_eq!(v["selectedSecCapability"], "PRINS");
        assert_eq!(serde_json::from_value::<SecNegotiateRspData>(v).unwrap(), rsp);
    }
}
