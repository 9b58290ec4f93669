//! Security method negotiation on CAPIF-1e (TS 33.122 6.3.1 / figure 6.3.1-1; TS 29.222
//! CAPIF_Security_API `PUT /trustedInvokers/{apiInvokerId}`, `POST .../update`).
//!
//! ```text
//!  invoker                                              CCF
//!    |-- PUT /trustedInvokers/{id} ---------------------->|  ServiceSecurity{securityInfo[
//!    |   (prefSecurityMethods per AEF interface)          |    {aefId|interfaceDetails, pref}]}
//!    |                                                    |  per entry: effective AEF set
//!    |                                                    |  (interface > AEF), policy, prefs
//!    |<-- 201 ServiceSecurity{selSecurityMethod, ...} ----|  store in TrustedInvokers
//!    |-- POST /trustedInvokers/{id}/update -------------->|  re-negotiate (same rules)
//!    |<-- 200 ServiceSecurity ----------------------------|
//! ```
//!
//! Selection (secsim, deterministic): the first method in the invoker's preference order that
//! the AEF offers (the interface's `securityMethods` when present, else the AefProfile's) and
//! the access-scenario [`AccessPolicy`] allows. None → 403 `NO_COMMON_SECURITY_METHOD` (a
//! secsim cause: TS 29.222 names none). An unknown AEF or interface → 404
//! `AEF_NOT_FOUND` (secsim).
//!
//! Filled in the answer: `selSecurityMethod`; `authorizationInfo` = the policy's APIs at that
//! AEF in the Annex C scope form `aef:api1,api2`; for OAUTH `authorizationFlow =
//! [CLIENT_CREDENTIALS_FLOW]`; for PSK `authenticationInfo = "aefpsk-validity-s=<n>"`, the
//! validity timer the CCF gives on CAPIF-1e (seed 003: Rel-18 has no field for it, so secsim
//! carries it in the free-text authenticationInfo).

// ProblemDetails is the answer body itself: boxing it would only move the allocation.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;

use crate::proto::capif::onboarding::problem;
use crate::proto::capif::types::{
    AefLocator, AefProfile, AuthorizationFlow, InterfaceDescription, SecurityInformation, SecurityMethod,
    SecurityTarget, ServiceSecurity,
};
use crate::proto::common::ProblemDetails29122;

/// Cause of the 403 when no method is in the intersection (secsim).
pub const CAUSE_NO_COMMON_SECURITY_METHOD: &str = "NO_COMMON_SECURITY_METHOD";
/// Cause of the 404 when the target AEF or interface is not published (secsim).
pub const CAUSE_AEF_NOT_FOUND: &str = "AEF_NOT_FOUND";
/// Cause of the 404 on `update` / `GET` of an invoker without a TrustedInvokers entry.
pub const CAUSE_INVOKER_NOT_FOUND: &str = "API_INVOKER_NOT_FOUND";
/// Prefix of the PSK validity in `authenticationInfo` (secsim encoding, seed 003).
pub const PSK_VALIDITY_PREFIX: &str = "aefpsk-validity-s=";

/// The access-scenario policy of the CCF for one invoker.
///
/// Defaults: every method allowed, no APIs, PSK validity 3600 s.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct AccessPolicy {
    /// Methods the access scenario allows (`None`: all).
    pub allowed_methods: Option<Vec<SecurityMethod>>,
    /// Authorized APIs per AEF ID (becomes `authorizationInfo`).
    pub apis: BTreeMap<String, Vec<String>>,
    /// AEFPSK validity given on CAPIF-1e \[s\].
    pub psk_validity_s: u64,
    /// Deliberate bugs of the selection (tests only).
    pub mutants: crate::audit::mutant::Mutants,
}

impl Default for AccessPolicy {
    fn default() -> Self {
        AccessPolicy {
            allowed_methods: None,
            apis: BTreeMap::new(),
            psk_validity_s: 3600,
            mutants: crate::audit::mutant::Mutants::NONE,
        }
    }
}

impl AccessPolicy {
    /// Whether the access scenario allows `m`.
    pub fn allows(&self, m: &SecurityMethod) -> bool {
        self.allowed_methods.as_ref().is_none_or(|a| a.contains(m))
    }
}

/// Picks the CAPIF-2e method (TS 33.122 6.3.1): the invoker's first preference that is in the
/// effective AEF set (`interface_methods` overrides `aef_methods`, TS 29.222
/// InterfaceDescription) and allowed by `policy`.
pub fn select_method(
    invoker_prefs: &[SecurityMethod],
    aef_methods: &[SecurityMethod],
    interface_methods: Option<&[SecurityMethod]>,
    policy: &AccessPolicy,
) -> Result<SecurityMethod, ProblemDetails29122> {
    //= TS 29.222 InterfaceDescription.securityMethods: takes precedence over the AefProfile's
    let effective = interface_methods.unwrap_or(aef_methods);
    if policy.mutants.on(crate::audit::mutant::Mutant::Capif(
        crate::audit::capif::CapifMutant::NegotiateOutsideIntersection,
    )) && let Some(m) = effective
        .iter()
        .find(|m| !invoker_prefs.contains(m) && policy.allows(m))
    {
        return Ok(m.clone()); // the bug: a method of the AEF the invoker did not offer
    }
    //= TS 33.122 6.3.1: chosen from access scenario, AEF capability and invoker preference
    invoker_prefs
        .iter()
        .find(|m| effective.contains(m) && policy.allows(m))
        .cloned()
        .ok_or_else(|| problem(403, CAUSE_NO_COMMON_SECURITY_METHOD))
}

/// Finds the AEF (and interface, if any) a request entry names among the published profiles.
pub fn resolve_target<'a>(
    target: &SecurityTarget,
    aefs: &'a [AefProfile],
) -> Option<(&'a AefProfile, Option<&'a InterfaceDescription>)> {
    match target {
        SecurityTarget::AefId(id) => aefs.iter().find(|a| &a.aef_id == id).map(|a| (a, None)),
        SecurityTarget::InterfaceDetails(want) => aefs.iter().find_map(|a| match &a.locator {
            AefLocator::InterfaceDescriptions(ifs) => ifs
                .iter()
                .find(|i| i.address == want.address && i.port == want.port && i.api_prefix == want.api_prefix)
                .map(|i| (a, Some(i))),
            AefLocator::DomainName(_) => None,
        }),
    }
}

/// The answer entry for one request entry.
pub fn answer_entry(
    req: &SecurityInformation,
    aefs: &[AefProfile],
    policy: &AccessPolicy,
) -> Result<SecurityInformation, ProblemDetails29122> {
    let (aef, iface) = resolve_target(&req.target, aefs).ok_or_else(|| problem(404, CAUSE_AEF_NOT_FOUND))?;
    let aef_methods = aef.security_methods.as_deref().unwrap_or(&[]);
    let iface_methods = iface.and_then(|i| i.security_methods.as_deref());
    let sel = select_method(&req.pref_security_methods, aef_methods, iface_methods, policy)?;
    let mut rsp = req.clone();
    rsp.authorization_info = policy
        .apis
        .get(&aef.aef_id)
        .filter(|apis| !apis.is_empty())
        .map(|apis| format!("{}:{}", aef.aef_id, apis.join(",")));
    match sel {
        //= TS 33.122 6.5.2.1 step 1 (seed 003): the CCF provides the AEFPSK validity timer value
        SecurityMethod::Psk => {
            rsp.authentication_info = Some(format!("{PSK_VALIDITY_PREFIX}{}", policy.psk_validity_s))
        }
        //= TS 33.122 Annex C: client credentials grant
        SecurityMethod::Oauth => rsp.authorization_flow = Some(vec![AuthorizationFlow::ClientCredentialsFlow]),
        _ => {}
    }
    rsp.sel_security_method = Some(sel);
    Ok(rsp)
}

/// Parses the PSK validity secsim puts in `authenticationInfo` \[s\].
pub fn psk_validity_s(info: &SecurityInformation) -> Option<u64> {
    info.authentication_info
        .as_deref()?
        .strip_prefix(PSK_VALIDITY_PREFIX)?
        .parse()
        .ok()
}

/// The invoker's Security Method Request: one entry per target with its preferences.
pub fn security_method_request(
    targets: &[(SecurityTarget, Vec<SecurityMethod>)],
    notification_destination: &str,
) -> ServiceSecurity {
    ServiceSecurity {
        security_info: targets
            .iter()
            .map(|(t, prefs)| SecurityInformation::preferring(t.clone(), prefs.clone()))
            .collect(),
        notification_destination: notification_destination.to_owned(),
        request_test_notification: None,
        websock_notif_config: None,
        supported_features: None,
    }
}

/// The CCF's TrustedInvokers resources: negotiated ServiceSecurity per API invoker ID.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct TrustedInvokers {
    entries: BTreeMap<String, ServiceSecurity>,
}

impl TrustedInvokers {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// `PUT /trustedInvokers/{id}` (201, or 200 when replacing) and `POST .../update` (200;
    /// 404 without an entry when `update`). Every entry must succeed, or nothing is stored.
    pub fn handle_put(
        &mut self,
        api_invoker_id: &str,
        req: &ServiceSecurity,
        aefs: &[AefProfile],
        policy: &AccessPolicy,
        update: bool,
    ) -> Result<(u16, ServiceSecurity), ProblemDetails29122> {
        let exists = self.entries.contains_key(api_invoker_id);
        if update && !exists {
            return Err(problem(404, CAUSE_INVOKER_NOT_FOUND));
        }
        let security_info = req
            .security_info
            .iter()
            .map(|e| answer_entry(e, aefs, policy))
            .collect::<Result<Vec<_>, _>>()?;
        let rsp = ServiceSecurity {
            security_info,
            ..req.clone()
        };
        self.entries.insert(api_invoker_id.to_owned(), rsp.clone());
        Ok((if exists { 200 } else { 201 }, rsp))
    }

    /// `GET /trustedInvokers/{id}` (the AEF's Obtain_API_Invoker_Info).
    pub fn get(&self, api_invoker_id: &str) -> Result<&ServiceSecurity, ProblemDetails29122> {
        self.entries
            .get(api_invoker_id)
            .ok_or_else(|| problem(404, CAUSE_INVOKER_NOT_FOUND))
    }

    /// `DELETE /trustedInvokers/{id}`: revokes the invoker's authorization (204 → true).
    pub fn delete(&mut self, api_invoker_id: &str) -> bool {
        self.entries.remove(api_invoker_id).is_some()
    }

    /// The negotiated entry of `aef_id` for an invoker.
    pub fn entry_for(&self, api_invoker_id: &str, aefs: &[AefProfile], aef_id: &str) -> Option<&SecurityInformation> {
        self.entries
            .get(api_invoker_id)?
            .security_info
            .iter()
            .find(|e| resolve_target(&e.target, aefs).is_some_and(|(a, _)| a.aef_id == aef_id))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::proto::capif::types::{InterfaceAddress, Version};
    use proptest::prelude::*;

    pub(crate) fn iface(methods: Option<Vec<SecurityMethod>>) -> InterfaceDescription {
        InterfaceDescription {
            address: InterfaceAddress::Fqdn("aef1.example.com".into()),
            port: Some(443),
            api_prefix: Some("/3gpp-monitoring-event/v1".into()),
            security_methods: methods,
        }
    }

    pub(crate) fn aef(methods: Vec<SecurityMethod>, iface_methods: Option<Vec<SecurityMethod>>) -> AefProfile {
        AefProfile {
            aef_id: "aef1".into(),
            versions: vec![Version {
                api_version: "v1".into(),
            }],
            protocol: None,
            security_methods: Some(methods),
            locator: AefLocator::InterfaceDescriptions(vec![iface(iface_methods)]),
        }
    }

    use SecurityMethod::{Oauth, Pki, Psk};

    #[test]
    fn select_prefers_invoker_order_and_interface_overrides() {
        let p = AccessPolicy::default();
        assert_eq!(select_method(&[Pki, Psk], &[Psk, Pki], None, &p).unwrap(), Pki);
        assert_eq!(select_method(&[Pki, Psk], &[Psk, Pki], Some(&[Psk]), &p).unwrap(), Psk);
        let only_oauth = AccessPolicy {
            allowed_methods: Some(vec![Oauth]),
            ..AccessPolicy::default()
        };
        let e = select_method(&[Pki, Psk], &[Psk, Pki], None, &only_oauth).unwrap_err();
        assert_eq!(
            (e.status, e.cause.as_deref()),
            (Some(403), Some(CAUSE_NO_COMMON_SECURITY_METHOD))
        );
    }

    #[test]
    fn put_update_get_delete() {
        let aefs = [aef(vec![Psk, Oauth], None)];
        let policy = AccessPolicy {
            apis: [("aef1".to_owned(), vec!["api1".to_owned(), "api2".to_owned()])].into(),
            ..AccessPolicy::default()
        };
        let mut store = TrustedInvokers::new();
        let req = security_method_request(
            &[(SecurityTarget::InterfaceDetails(iface(None)), vec![Psk])],
            "https://inv/cb",
        );
        assert_eq!(
            store.handle_put("INV1", &req, &aefs, &policy, true).unwrap_err().status,
            Some(404)
        );
        let (status, rsp) = store.handle_put("INV1", &req, &aefs, &policy, false).unwrap();
        assert_eq!(status, 201);
        let e = &rsp.security_info[0];
        assert_eq!(e.sel_security_method, Some(Psk));
        assert_eq!(e.authorization_info.as_deref(), Some("aef1:api1,api2"));
        assert_eq!(psk_validity_s(e), Some(3600));
        // JSON with the OpenAPI names, round trip
        let v = serde_json::to_value(&rsp).unwrap();
        assert_eq!(v["securityInfo"][0]["selSecurityMethod"], "PSK");
        assert_eq!(v["securityInfo"][0]["interfaceDetails"]["fqdn"], "aef1.example.com");
        assert_eq!(serde_json::from_value::<ServiceSecurity>(v).unwrap(), rsp);
        let req2 = security_method_request(&[(SecurityTarget::AefId("aef1".into()), vec![Pki, Oauth])], "x");
        let (status, rsp2) = store.handle_put("INV1", &req2, &aefs, &policy, true).unwrap();
        assert_eq!(status, 200);
        assert_eq!(rsp2.security_info[0].sel_security_method, Some(Oauth));
        assert_eq!(
            rsp2.security_info[0].authorization_flow,
            Some(vec![AuthorizationFlow::ClientCredentialsFlow])
        );
        assert!(store.entry_for("INV1", &aefs, "aef1").is_some());
        let missing = security_method_request(&[(SecurityTarget::AefId("nope".into()), vec![Psk])], "x");
        assert_eq!(
            store
                .handle_put("INV1", &missing, &aefs, &policy, true)
                .unwrap_err()
                .status,
            Some(404)
        );
        assert!(store.get("INV1").is_ok());
        assert!(store.delete("INV1"));
        assert!(store.get("INV1").is_err());
    }

    fn method_set() -> impl Strategy<Value = Vec<SecurityMethod>> {
        proptest::sample::subsequence(vec![Psk, Pki, Oauth], 0..=3).prop_shuffle()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn negotiation_stays_in_intersection(
            prefs in method_set(),
            aef_m in method_set(),
            iface_m in proptest::option::of(method_set()),
            allowed in proptest::option::of(method_set()),
        ) {
            let policy = AccessPolicy { allowed_methods: allowed.clone(), ..AccessPolicy::default() };
            let effective = iface_m.clone().unwrap_or(aef_m.clone());
            let in_all = |m: &SecurityMethod| {
                effective.contains(m) && allowed.as_ref().is_none_or(|a| a.contains(m))
            };
            match select_method(&prefs, &aef_m, iface_m.as_deref(), &policy) {
                Ok(m) => {
                    prop_assert!(prefs.contains(&m) && in_all(&m));
                    // and it is the invoker's first acceptable preference
                    prop_assert_eq!(Some(&m), prefs.iter().find(|p| in_all(p)));
                }
                Err(e) => prop_assert!(!prefs.iter().any(in_all) && e.status == Some(403)),
            }
        }
    }
}
