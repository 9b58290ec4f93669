//! Parameter exchange for PRINS (TS 29.573 clause 5.2.3; TS 33.501 clauses 13.2.2.3, 13.2.2.4,
//! 13.2.4.4.1).
//!
//! ```text
//!  initiating SEPP                                        responding SEPP
//!       │── POST /exchange-params ────────────────────────────►│ (a) cipher suites
//!       │   n32fContextId = I (16 hex), jweCipherSuiteList,      │   new context, ID R
//!       │   jwsCipherSuiteList (priority order)                  │   select_jwe / select_jws
//!       │◄──── 200 n32fContextId = R, selectedJwe/JwsCipherSuite │
//!       │── POST /exchange-params  I, protectionPolicyInfo ─────►│ (b) protection policy
//!       │◄──── 200 R, selProtectionPolicyInfo ───────────────────│   compare with configured
//!       │── POST /exchange-params  I, [ipxProviderSecInfoList] ─►│ (c) RI security info
//!       │◄──── 200 R, [ipxProviderSecInfoList] ──────────────────│
//!  both: N32-f keys = N32-KDF(master exported from the first N32-c TLS connection, ...)
//!  policy mismatch (either side), per MismatchAction: POST /n32f-error POLICY_MISMATCH or log
//! ```
//!
//! The steps can be separate POSTs ([`ExchangeMode::Separate`], the default, as in 29.573) or
//! one POST carrying everything ([`ExchangeMode::Combined`]). Errors are 4xx ProblemDetails.
//!
//! # secsim's decisions
//!
//! - **Context IDs**: `rng.next_u64()` as 16 upper-case hex digits ([`new_context_id`]); each
//!   side gives the peer the ID to use towards it (33.501 13.2.2.4).
//! - **Suite selection**: the first of the initiator's list (its priority order) that the
//!   responder supports; only `A128GCM`/`A256GCM` (JWE `enc`) and `ES256` (JWS `alg`) exist.
//!   None common: `403`, cause [`CAUSE_CIPHER_SUITE_MISMATCH`] (secsim's string).
//! - **Steps**: a request carrying cipher-suite lists always opens a new context (replacing one
//!   with the same initiator ID). A request without suite lists updates the context named by its
//!   `n32fContextId` (the initiator's ID); unknown: `404 CONTEXT_NOT_FOUND`. The responder
//!   answers with its IPX list (if it has RIs) when the request carries one, carries neither
//!   suites nor policy (the step (c) of an initiator without RIs), or carries both (combined).
//! - **Policy comparison** ([`compare_policy`]): only against a configured expectation; items
//!   are compared by position, differences are [`InvalidParam`]s whose `param` is a JSON pointer
//!   into the body that carried the policy (`/protectionPolicyInfo/...` or
//!   `/selProtectionPolicyInfo/...`). A mismatch never aborts the exchange: with
//!   [`MismatchAction::SendError`] the detecting side also sends `n32f-error` (see
//!   [`super::error_reporting::policy_mismatch`] for the `n32fMessageId`).
//! - **Keys**: [`derive_keys`] feeds `N32fKeys::derive` with (initiator ID, responder ID) taken
//!   from the context and its role, so both sides agree for any [`KdfContextId`].
//!
//! # From ProtectionPolicy to the PRINS PolicyView
//!
//! [`policy_view`] converts the exchanged policy for `prins::protect`. Gaps (documented, lossy):
//! callback entries (`apiSignature` = CallbackName) have no path template and are dropped;
//! IeType/IeLocation values this release does not know become `None` (never encrypted, never
//! matched); an absent `dataTypeEncPolicy` means [`PolicyView::default_enc_types`].

// ProblemDetails is the wire error of the handshake API (224 octets); rejections are the cold path.
#![allow(clippy::result_large_err)]

use std::collections::BTreeSet;

use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::audit::mutant::{Mutant, Mutants};
use crate::audit::n32::N32Mutant;
use crate::crypto::n32f::{JweEnc, KdfContextId, N32ContextIds, N32Master, N32Role, N32fKeys};
use crate::engine::time::{SimDuration, SimTime};
use crate::proto::common::{Fqdn, InvalidParam, ProblemDetails};
use crate::proto::n32::error_reporting;
use crate::proto::n32::prins::{self, PolicyView};
use crate::proto::n32::types::{
    ApiSignature, IeLocation, IeType, IpxProviderSecInfo, N32fContextId, N32fErrorInfo, ProtectionPolicy,
    SecParamExchReqData, SecParamExchRspData, SecurityCapability,
};

/// The only JWS algorithm of N32-f (TS 33.210 JOSE profile).
pub const ES256: &str = "ES256";

/// Cause of the 403 when no JWE or JWS suite is common (secsim's string).
pub const CAUSE_CIPHER_SUITE_MISMATCH: &str = "CIPHER_SUITE_MISMATCH";

/// Cause of the 404 for an unknown context (same string as the N32fErrorType).
pub const CAUSE_CONTEXT_NOT_FOUND: &str = "CONTEXT_NOT_FOUND";

/// Separate POSTs per step, or one.
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
pub enum ExchangeMode {
    /// (a) cipher suites, (b) protection policy, (c) IPX security info: three POSTs (default).
    #[default]
    Separate,
    /// One POST carrying all three.
    Combined,
}

/// One `exchange-params` POST of the initiator.
#[derive(Clone, Copy, Debug, Eq, Ord, PartialEq, PartialOrd)]
pub enum ParamStep {
    /// (a) context ID and cipher suites.
    CipherSuites,
    /// (b) protection policy.
    ProtectionPolicy,
    /// (c) IPX provider security information.
    IpxSecInfo,
    /// All at once ([`ExchangeMode::Combined`]).
    All,
}

impl ParamStep {
    /// The first step of a mode.
    pub fn first(mode: ExchangeMode) -> ParamStep {
        match mode {
            ExchangeMode::Separate => ParamStep::CipherSuites,
            ExchangeMode::Combined => ParamStep::All,
        }
    }

    /// The step after this one, `None` when done.
    pub fn next(self) -> Option<ParamStep> {
        match self {
            ParamStep::CipherSuites => Some(ParamStep::ProtectionPolicy),
            ParamStep::ProtectionPolicy => Some(ParamStep::IpxSecInfo),
            ParamStep::IpxSecInfo | ParamStep::All => None,
        }
    }

    /// Short name for traces.
    pub fn name(self) -> &'static str {
        match self {
            ParamStep::CipherSuites => "cipher-suites",
            ParamStep::ProtectionPolicy => "protection-policy",
            ParamStep::IpxSecInfo => "ipx-sec-info",
            ParamStep::All => "all",
        }
    }
}

/// What to do when the exchanged policy differs from the configured one (operator policy,
/// TS 33.501 13.2.2.3).
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
pub enum MismatchAction {
    /// Report `POLICY_MISMATCH` with `n32f-error` (default) and go on.
    #[default]
    SendError,
    /// Only log; go on.
    LogOnly,
}

/// A SEPP's own parameters for the exchange.
///
/// Defaults: JWE `[A256GCM, A128GCM]`, JWS `[ES256]`, mismatch action `SendError`, no RIs,
/// validity 24 h; `policy` has no default.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct LocalParams {
    /// The SEPP's FQDN (`sender`).
    pub sender: Fqdn,
    /// JWE `enc` values, priority order.
    pub jwe_suites: Vec<JweEnc>,
    /// JWS `alg` values, priority order (only `ES256` can be selected).
    pub jws_suites: Vec<String>,
    /// The SEPP's protection policy, sent to the peer.
    pub policy: ProtectionPolicy,
    /// On mismatch with the configured peer policy.
    pub on_mismatch: MismatchAction,
    /// Security info of this SEPP's own IPX providers (RIs), sent to the peer.
    pub ipx_sec_info: Vec<IpxProviderSecInfo>,
    /// Context validity from establishment.
    pub validity: SimDuration,
}

impl LocalParams {
    /// Defaults around a sender and policy.
    pub fn new(sender: impl Into<Fqdn>, policy: ProtectionPolicy) -> Self {
        LocalParams {
            sender: sender.into(),
            jwe_suites: vec![JweEnc::A256Gcm, JweEnc::A128Gcm],
            jws_suites: vec![ES256.to_owned()],
            policy,
            on_mismatch: MismatchAction::SendError,
            ipx_sec_info: Vec::new(),
            validity: SimDuration::from_secs(24 * 3600),
        }
    }
}

/// An N32-f context as held by one side (TS 33.501 13.2.2.4: ID, peer, security part, info).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct NegotiatedContext {
    /// The ID this side gave the peer (the peer puts it in N32-f metadata towards us).
    pub local_id: N32fContextId,
    /// The ID the peer gave us.
    pub peer_id: N32fContextId,
    /// This side's N32-c role.
    pub role: N32Role,
    /// The peer SEPP's FQDN.
    pub peer: Fqdn,
    /// Always PRINS (TLS needs no context).
    pub capability: SecurityCapability,
    /// Selected JWE `enc`.
    pub jwe: JweEnc,
    /// Selected JWS `alg`.
    pub jws: String,
    /// Own protection policy (as sent).
    pub policy: ProtectionPolicy,
    /// The peer's protection policy (as received), once exchanged.
    pub peer_policy: Option<ProtectionPolicy>,
    /// Own IPX providers' security info (as sent).
    pub ipx_sec_info: Vec<IpxProviderSecInfo>,
    /// The peer's IPX providers' security info (RI public keys/certificates), as received.
    pub peer_ipx_sec_info: Vec<IpxProviderSecInfo>,
    /// End of validity (local clock).
    pub expires_at: SimTime,
}

impl NegotiatedContext {
    /// The (initiator, responder) context IDs.
    pub fn ids(&self) -> N32ContextIds {
        let (l, p) = (self.local_id.to_string(), self.peer_id.to_string());
        match self.role {
            N32Role::Initiator => N32ContextIds {
                initiator: l,
                responder: p,
            },
            N32Role::Responder => N32ContextIds {
                initiator: p,
                responder: l,
            },
        }
    }
}

/// A fresh context ID: 64 random bits as 16 upper-case hex digits (TS 33.501 13.2.2.4).
pub fn new_context_id<R: RngCore + ?Sized>(rng: &mut R) -> N32fContextId {
    N32fContextId::from_u64(rng.next_u64())
}

/// The N32-f keys of a context (TS 33.501 13.2.4.4.1). Both sides get equal keys from the same
/// master, whatever `kdf_ctx`: the IDs come from the context and its role.
pub fn derive_keys(master: &N32Master, ctx: &NegotiatedContext, kdf_ctx: KdfContextId, mutants: Mutants) -> N32fKeys {
    let mut ids = ctx.ids();
    if ctx.role == N32Role::Responder && mutants.on(Mutant::N32(N32Mutant::ContextKeyMismatch)) {
        // Mutant: the responder puts its own ID first, as if it were the initiator.
        std::mem::swap(&mut ids.initiator, &mut ids.responder);
    }
    N32fKeys::derive(master, &ids, kdf_ctx, ctx.jwe)
}

fn jwe_from_name(s: &str) -> Option<JweEnc> {
    match s {
        "A128GCM" => Some(JweEnc::A128Gcm),
        "A256GCM" => Some(JweEnc::A256Gcm),
        _ => None,
    }
}

fn suite_mismatch(what: &str, offered: &[String]) -> ProblemDetails {
    let mut p = ProblemDetails::with_cause(403, CAUSE_CIPHER_SUITE_MISMATCH);
    p.invalid_params = Some(vec![InvalidParam {
        param: format!("/{what}"),
        reason: Some(format!("no supported suite in {offered:?}")),
    }]);
    p
}

/// JWE selection: first of `offered` (initiator order) in `supported` (TS 29.573 5.2.3).
pub fn select_jwe(offered: &[String], supported: &[JweEnc]) -> Result<JweEnc, ProblemDetails> {
    offered
        .iter()
        .filter_map(|s| jwe_from_name(s))
        .find(|e| supported.contains(e))
        .ok_or_else(|| suite_mismatch("jweCipherSuiteList", offered))
}

/// JWS selection: first of `offered` that is `ES256` and in `supported`.
pub fn select_jws(offered: &[String], supported: &[String]) -> Result<String, ProblemDetails> {
    offered
        .iter()
        .find(|s| s.as_str() == ES256 && supported.contains(s))
        .cloned()
        .ok_or_else(|| suite_mismatch("jwsCipherSuiteList", offered))
}

/// The initiator's request for one step.
pub fn build_request(local_id: &N32fContextId, local: &LocalParams, step: ParamStep) -> SecParamExchReqData {
    let mut req = SecParamExchReqData::new(local_id.clone());
    req.sender = Some(local.sender.clone());
    if matches!(step, ParamStep::CipherSuites | ParamStep::All) {
        //= TS 29.573 5.2.3 step 1: JWE and JWS cipher suites in priority order
        req.jwe_cipher_suite_list = Some(local.jwe_suites.iter().map(|e| e.name().to_owned()).collect());
        req.jws_cipher_suite_list = Some(local.jws_suites.clone());
    }
    if matches!(step, ParamStep::ProtectionPolicy | ParamStep::All) {
        req.protection_policy_info = Some(local.policy.clone());
    }
    if matches!(step, ParamStep::IpxSecInfo | ParamStep::All) && !local.ipx_sec_info.is_empty() {
        req.ipx_provider_sec_info_list = Some(local.ipx_sec_info.clone());
    }
    req
}

/// Differences between the configured and the received policy, as `InvalidParam`s with
/// pointers under `base` (e.g. `"/protectionPolicyInfo"`). Empty when nothing is configured.
pub fn compare_policy(
    expected: Option<&ProtectionPolicy>,
    received: Option<&ProtectionPolicy>,
    base: &str,
) -> Vec<InvalidParam> {
    let Some(expected) = expected else {
        return Vec::new();
    };
    let Some(received) = received else {
        return vec![InvalidParam {
            param: base.to_owned(),
            reason: Some("absent; a policy is configured for this peer".into()),
        }];
    };
    let mut out = Vec::new();
    let (e, r) = (&expected.api_ie_mapping_list, &received.api_ie_mapping_list);
    for i in 0..e.len().max(r.len()) {
        let reason = match (e.get(i), r.get(i)) {
            (Some(a), Some(b)) if a == b => continue,
            (Some(_), Some(_)) => "differs from the configured policy",
            (Some(_), None) => "missing",
            (None, _) => "not in the configured policy",
        };
        out.push(InvalidParam {
            param: format!("{base}/apiIeMappingList/{i}"),
            reason: Some(reason.into()),
        });
    }
    let set = |p: &ProtectionPolicy| {
        p.data_type_enc_policy
            .clone()
            .map(|v| v.into_iter().collect::<BTreeSet<_>>())
    };
    if set(expected) != set(received) {
        out.push(InvalidParam {
            param: format!("{base}/dataTypeEncPolicy"),
            reason: Some("differs from the configured policy".into()),
        });
    }
    out
}

/// The n32f-error to send for `diffs`, if any and if the operator policy says so.
pub fn on_mismatch(
    action: MismatchAction,
    reporter_id: &N32fContextId,
    diffs: Vec<InvalidParam>,
) -> Option<N32fErrorInfo> {
    if diffs.is_empty() {
        return None;
    }
    match action {
        //= TS 33.501 13.2.2.3 (DIGEST 1.2b): per operator policy send n32f-error POLICY_MISMATCH
        MismatchAction::SendError => Some(error_reporting::policy_mismatch(reporter_id, diffs)),
        // ... or just log (the diffs stay visible to the caller through the context).
        MismatchAction::LogOnly => None,
    }
}

/// What the responder does with one `exchange-params` request.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Accepted {
    /// The new or updated context.
    pub context: NegotiatedContext,
    /// Whether it is new (the request carried cipher suites).
    pub created: bool,
    /// The 200 body.
    pub response: SecParamExchRspData,
    /// An n32f-error to send to the initiator (policy mismatch with `SendError`).
    pub report: Option<N32fErrorInfo>,
}

/// The responder's handling of `exchange-params` (TS 29.573 5.2.3 step 2).
///
/// `existing` is the context whose `peer_id` is the request's `n32fContextId` (from `peer`), if
/// any; `fresh_id` the responder's ID for a new context; `expected` the policy configured for
/// this peer.
pub fn respond(
    existing: Option<&NegotiatedContext>,
    req: &SecParamExchReqData,
    local: &LocalParams,
    expected: Option<&ProtectionPolicy>,
    peer: &str,
    fresh_id: N32fContextId,
    now: SimTime,
) -> Result<Accepted, ProblemDetails> {
    let has_suites = req.jwe_cipher_suite_list.is_some() || req.jws_cipher_suite_list.is_some();
    let (mut ctx, created) = if has_suites {
        //= TS 29.573 5.2.3 step 2a: select one JWE and one JWS suite, return own context ID
        let jwe = select_jwe(
            req.jwe_cipher_suite_list.as_deref().unwrap_or_default(),
            &local.jwe_suites,
        )?;
        let jws = select_jws(
            req.jws_cipher_suite_list.as_deref().unwrap_or_default(),
            &local.jws_suites,
        )?;
        let ctx = NegotiatedContext {
            local_id: fresh_id,
            peer_id: req.n32f_context_id.clone(),
            role: N32Role::Responder,
            peer: peer.to_owned(),
            capability: SecurityCapability::Prins,
            jwe,
            jws,
            policy: local.policy.clone(),
            peer_policy: None,
            ipx_sec_info: local.ipx_sec_info.clone(),
            peer_ipx_sec_info: Vec::new(),
            expires_at: now.saturating_add(local.validity),
        };
        (ctx, true)
    } else {
        let ctx = existing.cloned().ok_or_else(|| {
            let mut p = ProblemDetails::with_cause(404, CAUSE_CONTEXT_NOT_FOUND);
            p.detail = Some(format!("no n32-f context with initiator id {}", req.n32f_context_id));
            p
        })?;
        (ctx, false)
    };
    let mut rsp = SecParamExchRspData::new(ctx.local_id.clone());
    rsp.sender = Some(local.sender.clone());
    if created {
        rsp.selected_jwe_cipher_suite = Some(ctx.jwe.name().to_owned());
        rsp.selected_jws_cipher_suite = Some(ctx.jws.clone());
    }
    let mut report = None;
    if let Some(policy) = &req.protection_policy_info {
        //= TS 33.501 13.2.2.3: policies are stored and only compared with configured ones
        ctx.peer_policy = Some(policy.clone());
        rsp.sel_protection_policy_info = Some(ctx.policy.clone());
        let diffs = compare_policy(expected, Some(policy), "/protectionPolicyInfo");
        report = on_mismatch(local.on_mismatch, &ctx.local_id, diffs);
    }
    // Steps (a) and (b) alone do not ask for the IPX list; a bare request (an initiator without
    // RIs at step (c)) or a combined one (suites and policy) does.
    let bare = has_suites == req.protection_policy_info.is_some();
    if let Some(list) = &req.ipx_provider_sec_info_list {
        //= TS 33.501 13.2.2.3 (c): store the RIs' public keys / certificates
        ctx.peer_ipx_sec_info = list.clone();
    }
    if (req.ipx_provider_sec_info_list.is_some() || bare) && !ctx.ipx_sec_info.is_empty() {
        rsp.ipx_provider_sec_info_list = Some(ctx.ipx_sec_info.clone());
    }
    Ok(Accepted {
        context: ctx,
        created,
        response: rsp,
        report,
    })
}

/// Why the initiator refuses a 200 `exchange-params` answer (a peer fault; fatal to the
/// exchange only).
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
pub enum ExchangeError {
    /// A selection is missing from the first answer.
    #[error("responding sepp did not select a {0} cipher suite")]
    MissingSelection(&'static str),
    /// The responder selected a suite that was not offered.
    #[error("responding sepp selected {0:?}, which was not offered")]
    NotOffered(String),
    /// A later answer names another responder context ID.
    #[error("responding sepp changed its context id from {expected} to {got}")]
    ContextIdChanged {
        /// The ID of the first answer.
        expected: N32fContextId,
        /// The ID of this answer.
        got: N32fContextId,
    },
}

/// What the initiator learned from one answer.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Applied {
    /// The context so far (complete after the last step).
    pub context: NegotiatedContext,
    /// An n32f-error to send (policy mismatch with `SendError`).
    pub report: Option<N32fErrorInfo>,
}

/// The initiator's handling of a 200 answer to `step`. `ctx` is `None` on the first step.
#[allow(clippy::too_many_arguments)]
pub fn apply_response(
    ctx: Option<NegotiatedContext>,
    local_id: &N32fContextId,
    step: ParamStep,
    rsp: &SecParamExchRspData,
    local: &LocalParams,
    expected: Option<&ProtectionPolicy>,
    peer: &str,
    now: SimTime,
) -> Result<Applied, ExchangeError> {
    let mut ctx = match ctx {
        Some(c) => {
            if c.peer_id != rsp.n32f_context_id {
                return Err(ExchangeError::ContextIdChanged {
                    expected: c.peer_id,
                    got: rsp.n32f_context_id.clone(),
                });
            }
            c
        }
        None => {
            let jwe_name = rsp
                .selected_jwe_cipher_suite
                .as_deref()
                .ok_or(ExchangeError::MissingSelection("jwe"))?;
            let jwe = jwe_from_name(jwe_name)
                .filter(|e| local.jwe_suites.contains(e))
                .ok_or_else(|| ExchangeError::NotOffered(jwe_name.to_owned()))?;
            let jws = rsp
                .selected_jws_cipher_suite
                .clone()
                .ok_or(ExchangeError::MissingSelection("jws"))?;
            if jws != ES256 || !local.jws_suites.contains(&jws) {
                return Err(ExchangeError::NotOffered(jws));
            }
            NegotiatedContext {
                local_id: local_id.clone(),
                peer_id: rsp.n32f_context_id.clone(),
                role: N32Role::Initiator,
                peer: rsp.sender.clone().unwrap_or_else(|| peer.to_owned()),
                capability: SecurityCapability::Prins,
                jwe,
                jws,
                policy: local.policy.clone(),
                peer_policy: None,
                ipx_sec_info: local.ipx_sec_info.clone(),
                peer_ipx_sec_info: Vec::new(),
                expires_at: now.saturating_add(local.validity),
            }
        }
    };
    let mut report = None;
    if matches!(step, ParamStep::ProtectionPolicy | ParamStep::All) {
        ctx.peer_policy = rsp.sel_protection_policy_info.clone();
        let diffs = compare_policy(expected, ctx.peer_policy.as_ref(), "/selProtectionPolicyInfo");
        report = on_mismatch(local.on_mismatch, &ctx.local_id, diffs);
    }
    if let Some(list) = &rsp.ipx_provider_sec_info_list {
        ctx.peer_ipx_sec_info = list.clone();
    }
    Ok(Applied { context: ctx, report })
}

fn prins_ie_type(t: &IeType) -> Option<prins::IeType> {
    Some(match t {
        IeType::Ueid => prins::IeType::Ueid,
        IeType::Location => prins::IeType::Location,
        IeType::KeyMaterial => prins::IeType::KeyMaterial,
        IeType::AuthenticationMaterial => prins::IeType::AuthenticationMaterial,
        IeType::AuthorizationToken => prins::IeType::AuthorizationToken,
        IeType::OtherType => prins::IeType::Other,
        IeType::Nonsensitive => prins::IeType::Nonsensitive,
        IeType::Other(_) => return None,
    })
}

fn prins_ie_loc(l: &IeLocation) -> Option<prins::IeLocation> {
    Some(match l {
        IeLocation::UriParam => prins::IeLocation::UriParam,
        IeLocation::Header => prins::IeLocation::Header,
        IeLocation::Body => prins::IeLocation::Body,
        IeLocation::MultipartBinary => prins::IeLocation::MultipartBinary,
        IeLocation::Other(_) => return None,
    })
}

/// The exchanged policy as the PRINS code needs it (gaps in the module doc).
pub fn policy_view(policy: &ProtectionPolicy) -> PolicyView {
    let api_ie_mapping_list = policy
        .api_ie_mapping_list
        .iter()
        .filter_map(|m| {
            let ApiSignature::Uri(uri) = &m.api_signature else {
                return None; // gap: callbacks have no path template
            };
            Some(prins::ApiRule {
                api_signature: uri.clone(),
                api_method: m.api_method.as_str().to_owned(),
                ie_list: m
                    .ie_list
                    .iter()
                    .map(|ie| prins::IeRule {
                        ie_loc: prins_ie_loc(&ie.ie_loc),
                        ie_type: prins_ie_type(&ie.ie_type),
                        req_ie: ie.req_ie.clone(),
                        rsp_ie: ie.rsp_ie.clone(),
                        is_modifiable: ie.is_modifiable.unwrap_or(false),
                        is_modifiable_by_ipx: ie.is_modifiable_by_ipx.clone().unwrap_or_default(),
                    })
                    .collect(),
            })
        })
        .collect();
    let data_type_enc_policy = match &policy.data_type_enc_policy {
        Some(v) => v.iter().filter_map(prins_ie_type).collect(),
        None => PolicyView::default_enc_types(),
    };
    PolicyView {
        api_ie_mapping_list,
        data_type_enc_policy,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::proto::n32::types::{ApiIeMapping, CallbackName, HttpMethod, IeInfo, N32fErrorType};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// A one-entry policy; `variant` changes the API path.
    pub(crate) fn policy(variant: u32) -> ProtectionPolicy {
        ProtectionPolicy {
            api_ie_mapping_list: vec![ApiIeMapping {
                api_signature: ApiSignature::Uri(format!("/nudm-uecm/v1/{{ueId}}/registrations/{variant}")),
                api_method: HttpMethod::Put,
                ie_list: vec![IeInfo {
                    ie_loc: IeLocation::Body,
                    ie_type: IeType::Ueid,
                    req_ie: Some("/supi".into()),
                    rsp_ie: None,
                    is_modifiable: Some(false),
                    is_modifiable_by_ipx: None,
                }],
            }],
            data_type_enc_policy: Some(vec![IeType::Ueid, IeType::KeyMaterial]),
        }
    }

    fn random_suites(rng: &mut ChaCha8Rng) -> Vec<JweEnc> {
        let mut v = vec![JweEnc::A128Gcm, JweEnc::A256Gcm];
        if rng.random_bool(0.5) {
            v.reverse();
        }
        if rng.random_bool(0.3) {
            v.pop();
        }
        v
    }

    /// Runs the three steps (or one) between an initiator and a responder.
    fn run(
        mode: ExchangeMode,
        a: &LocalParams,
        b: &LocalParams,
        rng: &mut ChaCha8Rng,
    ) -> Result<(NegotiatedContext, NegotiatedContext), ProblemDetails> {
        let now = SimTime::from_nanos(5);
        let id_a = new_context_id(rng);
        let (mut ca, mut cb) = (None, None::<NegotiatedContext>);
        let mut step = Some(ParamStep::first(mode));
        while let Some(s) = step {
            let req = build_request(&id_a, a, s);
            let acc = respond(
                cb.as_ref(),
                &req,
                b,
                Some(&a.policy),
                "a.example.org",
                new_context_id(rng),
                now,
            )?;
            let applied = apply_response(ca, &id_a, s, &acc.response, a, Some(&b.policy), "b.example.org", now)
                .expect("valid answer");
            ca = Some(applied.context);
            cb = Some(acc.context);
            step = s.next();
        }
        Ok((ca.unwrap(), cb.unwrap()))
    }

    #[test]
    fn context_ids_are_16_upper_hex() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..100 {
            let id = new_context_id(&mut rng);
            assert_eq!(id.as_str().len(), 16);
            assert!(
                id.as_str()
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
            );
        }
    }

    #[test]
    fn both_sides_agree_and_derive_equal_keys() {
        for seed in 0..500u64 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut a = LocalParams::new("a.example.org", policy(1));
            let mut b = LocalParams::new("b.example.org", policy(2));
            a.jwe_suites = random_suites(&mut rng);
            b.jwe_suites = random_suites(&mut rng);
            if rng.random_bool(0.5) {
                b.ipx_sec_info = vec![IpxProviderSecInfo {
                    ipx_provider_id: "ipx-b.example.org".into(),
                    raw_public_key_list: Some(vec!["BASE64KEY".into()]),
                    certificate_list: None,
                }];
            }
            let mode = if rng.random_bool(0.5) {
                ExchangeMode::Separate
            } else {
                ExchangeMode::Combined
            };
            let common = a.jwe_suites.iter().any(|e| b.jwe_suites.contains(e));
            let (ca, cb) = match run(mode, &a, &b, &mut rng) {
                Ok(x) => x,
                Err(p) => {
                    assert!(!common, "seed {seed}: {p:?}");
                    assert_eq!(p.cause.as_deref(), Some(CAUSE_CIPHER_SUITE_MISMATCH));
                    continue;
                }
            };
            assert!(common, "seed {seed}");
            assert_eq!(
                ca.jwe,
                a.jwe_suites.iter().find(|e| b.jwe_suites.contains(e)).copied().unwrap()
            );
            assert_eq!(
                (ca.local_id.clone(), ca.peer_id.clone()),
                (cb.peer_id.clone(), cb.local_id.clone())
            );
            assert_eq!((ca.jwe, &ca.jws, &ca.capability), (cb.jwe, &cb.jws, &cb.capability));
            assert_eq!(Some(&ca.policy), cb.peer_policy.as_ref(), "seed {seed}");
            assert_eq!(Some(&cb.policy), ca.peer_policy.as_ref(), "seed {seed}");
            assert_eq!(ca.peer_ipx_sec_info, cb.ipx_sec_info, "seed {seed} {mode:?}");
            assert_eq!(ca.ids(), cb.ids());
            let mut m = [0u8; 64];
            rng.fill(&mut m[..]);
            let master = N32Master::from_bytes(m);
            for k in [
                KdfContextId::Receiver,
                KdfContextId::Sender,
                KdfContextId::Initiator,
                KdfContextId::Responder,
            ] {
                assert_eq!(
                    derive_keys(&master, &ca, k, Mutants::NONE),
                    derive_keys(&master, &cb, k, Mutants::NONE),
                    "seed {seed}"
                );
            }
        }
    }

    #[test]
    fn suite_selection_follows_initiator_order() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            select_jwe(&s(&["A128GCM", "A256GCM"]), &[JweEnc::A256Gcm, JweEnc::A128Gcm]),
            Ok(JweEnc::A128Gcm)
        );
        assert_eq!(
            select_jwe(&s(&["X", "A256GCM"]), &[JweEnc::A256Gcm]),
            Ok(JweEnc::A256Gcm)
        );
        assert_eq!(
            select_jwe(&s(&["A128GCM"]), &[JweEnc::A256Gcm]).unwrap_err().status,
            Some(403)
        );
        assert_eq!(select_jws(&s(&["RS256", "ES256"]), &s(&["ES256"])), Ok("ES256".into()));
        assert!(select_jws(&s(&["RS256"]), &s(&["RS256"])).is_err());
    }

    #[test]
    fn policy_mismatch_reports_only_with_send_error() {
        let id = N32fContextId::from_u64(9);
        let diffs = compare_policy(Some(&policy(1)), Some(&policy(2)), "/protectionPolicyInfo");
        assert_eq!(diffs.len(), 1);
        assert_eq!(diffs[0].param, "/protectionPolicyInfo/apiIeMappingList/0");
        assert!(compare_policy(Some(&policy(1)), Some(&policy(1)), "").is_empty());
        assert!(compare_policy(None, Some(&policy(1)), "").is_empty());
        assert_eq!(compare_policy(Some(&policy(1)), None, "/p").len(), 1);
        let e = on_mismatch(MismatchAction::SendError, &id, diffs.clone()).unwrap();
        assert_eq!(e.n32f_error_type, N32fErrorType::PolicyMismatch);
        assert_eq!(e.policy_mismatch_list.as_deref(), Some(&diffs[..]));
        assert!(on_mismatch(MismatchAction::LogOnly, &id, diffs).is_none());
        assert!(on_mismatch(MismatchAction::SendError, &id, Vec::new()).is_none());

        // through respond(): the responder expects policy(3) from the initiator
        let a = LocalParams::new("a.example.org", policy(1));
        let mut b = LocalParams::new("b.example.org", policy(2));
        let req = build_request(&id, &a, ParamStep::All);
        let fresh = N32fContextId::from_u64(10);
        let now = SimTime::ZERO;
        let acc = respond(None, &req, &b, Some(&policy(3)), "a.example.org", fresh.clone(), now).unwrap();
        assert_eq!(acc.report.unwrap().n32f_context_id, Some(fresh.clone()));
        b.on_mismatch = MismatchAction::LogOnly;
        let acc = respond(None, &req, &b, Some(&policy(3)), "a.example.org", fresh, now).unwrap();
        assert!(acc.report.is_none());
    }

    #[test]
    fn unknown_context_update_is_404() {
        let a = LocalParams::new("a.example.org", policy(1));
        let req = build_request(&N32fContextId::from_u64(1), &a, ParamStep::ProtectionPolicy);
        let p = respond(None, &req, &a, None, "a", N32fContextId::from_u64(2), SimTime::ZERO).unwrap_err();
        assert_eq!(
            (p.status, p.cause.as_deref()),
            (Some(404), Some(CAUSE_CONTEXT_NOT_FOUND))
        );
    }

    #[test]
    fn initiator_refuses_bad_answers() {
        let a = LocalParams::new("a.example.org", policy(1));
        let id = N32fContextId::from_u64(1);
        let mut rsp = SecParamExchRspData::new(N32fContextId::from_u64(2));
        let t = SimTime::ZERO;
        let r = apply_response(None, &id, ParamStep::CipherSuites, &rsp, &a, None, "b", t);
        assert_eq!(r.unwrap_err(), ExchangeError::MissingSelection("jwe"));
        rsp.selected_jwe_cipher_suite = Some("A512GCM".into());
        rsp.selected_jws_cipher_suite = Some(ES256.into());
        let r = apply_response(None, &id, ParamStep::CipherSuites, &rsp, &a, None, "b", t);
        assert!(matches!(r, Err(ExchangeError::NotOffered(_))));
        rsp.selected_jwe_cipher_suite = Some("A128GCM".into());
        let ctx = apply_response(None, &id, ParamStep::CipherSuites, &rsp, &a, None, "b", t)
            .unwrap()
            .context;
        let other = SecParamExchRspData::new(N32fContextId::from_u64(3));
        let r = apply_response(Some(ctx), &id, ParamStep::IpxSecInfo, &other, &a, None, "b", t);
        assert!(matches!(r, Err(ExchangeError::ContextIdChanged { .. })));
    }

    #[test]
    fn policy_view_converts_uri_entries() {
        let mut p = policy(1);
        p.api_ie_mapping_list.push(ApiIeMapping {
            api_signature: ApiSignature::Callback(CallbackName {
                callback_type: "Nudm_SDM_Notification".into(),
            }),
            api_method: HttpMethod::Post,
            ie_list: p.api_ie_mapping_list[0].ie_list.clone(),
        });
        let v = policy_view(&p);
        assert_eq!(v.api_ie_mapping_list.len(), 1, "callbacks are dropped");
        let api = v
            .api("PUT", "/nudm-uecm/v1/imsi-001010000000001/registrations/1")
            .unwrap();
        assert_eq!(api.ie_list[0].ie_type, Some(prins::IeType::Ueid));
        assert_eq!(api.ie_list[0].req_ie.as_deref(), Some("/supi"));
        assert_eq!(
            v.data_type_enc_policy,
            [prins::IeType::Ueid, prins::IeType::KeyMaterial].into()
        );
        p.data_type_enc_policy = None;
        assert_eq!(policy_view(&p).data_type_enc_policy, PolicyView::default_enc_types());
    }

    #[test]
    fn bodies_use_openapi_names() {
        let mut a = LocalParams::new("a.example.org", policy(1));
        a.ipx_sec_info = vec![IpxProviderSecInfo {
            ipx_provider_id: "ipx.example.org".into(),
            raw_public_key_list: Some(vec!["K".into()]),
            certificate_list: None,
        }];
        let req = build_request(&N32fContextId::from_u64(0xAB), &a, ParamStep::All);
        let v = serde_json::to_value(&req).unwrap();
        assert_eq!(v["n32fContextId"], "00000000000000AB");
        assert_eq!(v["jweCipherSuiteList"], serde_json::json!(["A256GCM", "A128GCM"]));
        assert_eq!(v["jwsCipherSuiteList"], serde_json::json!(["ES256"]));
        assert_eq!(v["ipxProviderSecInfoList"][0]["rawPublicKeyList"][0], "K");
        assert!(v["protectionPolicyInfo"]["apiIeMappingList"][0]["IeList"].is_array());
        assert_eq!(serde_json::from_value::<SecParamExchReqData>(v).unwrap(), req);
    }
}
