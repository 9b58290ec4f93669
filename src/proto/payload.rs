//! The application payloads of the workload traffic: real 3GPP bodies, sized by the
//! scenario's `request_bytes` / `response_bytes`.
//!
//! | traffic | request | answer |
//! |---|---|---|
//! | N32 flows (cNF → pNF over N32-f) | TS 29.509 `AuthenticationInfo`, `POST {apiRoot}/nausf-auth/v1/ue-authentications` | `201` `UEAuthenticationCtx` (5G AKA: `5gAuthData` = `Av5gAka`, `_links`) |
//! | `Http` flows (the HTTP baseline) | the same TS 29.509 pair | the same |
//! | CAPIF-2e invocations (invoker → AEF) | TS 29.122 `MonitoringEventSubscription`, `POST {apiRoot}/3gpp-monitoring-event/v1/{scsAsId}/subscriptions` | `201` `MonitoringEventSubscription` (the created subscription, with `self`) |
//!
//! The baseline uses the same AUSF operation as the N32 flows, so that a plain HTTP flow and an
//! N32 flow carry the same bytes and differ only in their security. The YAML of these schemas is
//! in `../shared/spec/openapi-more/` (TS 29.509 V18.3.0, TS 29.503 V18.4.0, TS 29.122 V18.4.0).
//!
//! # Size
//!
//! A body is exactly its configured size in bytes of JSON text when that is at least the size
//! of its smallest valid form; below that it is the smallest valid form (rounded up: with the
//! shipped topologies' names about 120 bytes for an `AuthenticationInfo`, 280 for a
//! `UEAuthenticationCtx`, 310 for a created subscription). The extra bytes go into a member whose length the schema leaves free and
//! whose meaning does not change with it:
//!
//! - requests: `supportedFeatures` (TS 29.571 `SupportedFeatures`, pattern `^[A-Fa-f0-9]*$`)
//!   is extended with leading `0`s. By TS 29.500 clause 6.6 each character stands for four
//!   features, most significant first, and a `0` says none of them is supported, so a longer
//!   string of zeros says the same thing as `"0"`: no optional feature.
//! - answers: the ID of the resource the answer creates (`authCtxId` in the `5g-aka` link of
//!   a `UEAuthenticationCtx`, the subscription ID in the `self` link of a
//!   `MonitoringEventSubscription`) is the sender's serial number with leading zeros. Both
//!   IDs are server-chosen strings without a length limit (TS 29.509 clause 6.1.3, TS 29.122
//!   clause 5.3.2).
//!
//! The padding characters are plain ASCII, so one character is one byte of JSON text. Answers
//! carry no `Location` header (the model has none for any `201`).
//!
//! # Authentication vectors
//!
//! The pNF (and the baseline's server) plays the home AUSF/UDM: each `Av5gAka` is drawn from
//! its own random stream (`av:<node>`, apart from the stream of its processing delays, so that
//! adding the vectors shifts no delay): `RAND` and `XRES*` are 128 random bits; `AUTN` is
//! `SQN ⊕ AK` (48 random bits) ‖ `AMF` (`8000`, the separation bit set, TS 33.501 clause
//! 6.1.3.2 / TS 33.102 Annex H) ‖ `MAC` (64 random bits); `HXRES*` is derived from `RAND` and
//! `XRES*` as TS 33.501 Annex A.5 says.

use std::collections::BTreeMap;

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::engine::SimRng;
use crate::proto::common::{SupportedFeatures, Uri, api_body};

/// The AUSF's UE authentication collection (TS 29.509 clause 6.1.3): the resource a cNF
/// `POST`s an [`AuthenticationInfo`] to.
pub const UE_AUTHENTICATIONS_PATH: &str = "/nausf-auth/v1/ue-authentications";

/// The API name of the TS 29.122 monitoring event API (clause 5.3), the default API an AEF
/// exposes over CAPIF-2e.
pub const MONITORING_EVENT_API: &str = "3gpp-monitoring-event";

/// The MCC of every simulated PLMN: `001`, the test network's (TS 23.003 clause 2.2).
pub const TEST_MCC: &str = "001";

/// The MNC secsim gives the PLMN of topology domain `domain` (0-based): `domain + 1`, three
/// digits, wrapping after 999 (`000` is never used).
pub fn test_mnc(domain: u32) -> String {
    format!("{:03}", domain % 999 + 1)
}

/// The serving network name of the PLMN of domain `domain` (TS 33.501 clause 6.1.1.4.1;
/// `5G:mnc<MNC>.mcc<MCC>.3gppnetwork.org`.
pub fn serving_network_name(domain: u32) -> String {
    format!("5G:mnc{}.mcc{TEST_MCC}.3gppnetwork.org", test_mnc(domain))
}

/// The IMSI-type SUPI of subscriber `msin` (taken modulo 10⁹) of the PLMN of domain
/// `domain` (TS 23.003 clause 2.2: MCC ‖ MNC ‖ MSIN, 15 digits; TS 29.571 `Supi`).
pub fn supi(domain: u32, msin: u64) -> String {
    format!("imsi-{TEST_MCC}{}{:09}", test_mnc(domain), msin % 1_000_000_000)
}

/// The subscriber number (MSIN) of an IMSI-type SUPI of [`supi`]'s form.
pub fn msin_of(supi: &str) -> Option<u64> {
    let digits = supi.strip_prefix("imsi-")?;
    if digits.len() != 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits[6..].parse().ok()
}

/// `AuthenticationInfo` (TS 29.509 clause 6.1.6.2): what the AMF/SEAF of the serving
/// network sends the home AUSF to start authenticating a UE (clause 5.2.2.2.2, step 1 of
/// TS 33.501 clause 6.1.3.2). Only the members secsim writes; the schema declares more.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationInfo {
    /// The UE: a SUPI (a SUCI concealed by the UE would be as long; the model does not conceal).
    pub supi_or_suci: String,
    /// The serving network (TS 33.501 clause 6.1.1.4.1).
    pub serving_network_name: String,
    /// The features the sender supports: none, as `0`s (the size padding, see the module doc).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_features: Option<SupportedFeatures>,
}

/// `UEAuthenticationCtx` (TS 29.509 clause 6.1.6.2): the AUSF's `201` answer that creates
/// the authentication context of a 5G AKA run (clause 5.2.2.2.2, step 2 of TS 33.501 clause
/// 6.1.3.2).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct UeAuthenticationCtx {
    /// `5G_AKA` (TS 29.503 `AuthType`).
    #[serde(rename = "authType")]
    pub auth_type: String,
    /// The serving environment's authentication vector.
    #[serde(rename = "5gAuthData")]
    pub auth_data: Av5gAka,
    /// Link relation → link: `5g-aka` points at the context's `5g-aka-confirmation` resource
    /// (TS 29.509 clause 6.1.3), which the AMF `PUT`s RES* to.
    #[serde(rename = "_links")]
    pub links: BTreeMap<String, Link>,
}

/// `Av5gAka` (TS 29.509 clause 6.1.6.2): the 5G serving environment authentication vector,
/// 128-bit values as 32 hex digits each (TS 29.503 `Rand`, `Autn`; TS 29.509 `HxresStar`).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Av5gAka {
    pub rand: String,
    pub hxres_star: String,
    pub autn: String,
}

/// TS 29.571 `Link`: `{"href": <URI>}`.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct Link {
    pub href: Uri,
}

/// `MonitoringEventSubscription` (TS 29.122 clause 5.3.2): an SCS/AS's subscription to a
/// monitoring event of a UE, and the created resource the SCEF/NEF answers with (then with
/// `self`). Only the members secsim writes.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MonitoringEventSubscription {
    /// The created resource (answers only).
    #[serde(rename = "self", default, skip_serializing_if = "Option::is_none")]
    pub self_link: Option<Uri>,
    /// Features supported: none, as `0`s (the size padding of answers is in `self`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_features: Option<SupportedFeatures>,
    /// The monitored UE (TS 23.682 clause 4.6.2: `<local identifier>@<domain>`).
    pub external_id: String,
    /// Where the reports go.
    pub notification_destination: Uri,
    /// TS 29.122 `MonitoringType`.
    pub monitoring_type: String,
    /// A one-time request: one report (TS 23.682 clause 5.6.0).
    pub maximum_number_of_reports: u32,
}

api_body! {
    AuthenticationInfo => "AuthenticationInfo" in "TS29509_Nausf_UEAuthentication.yaml";
    UeAuthenticationCtx => "UEAuthenticationCtx" in "TS29509_Nausf_UEAuthentication.yaml";
    Av5gAka => "Av5gAka" in "TS29509_Nausf_UEAuthentication.yaml";
    MonitoringEventSubscription => "MonitoringEventSubscription" in "TS29122_MonitoringEvent.yaml";
}

/// The body `build(pad)` makes with `pad` padding characters (one JSON byte each), the
/// smallest that is at least `target` bytes long, and its JSON text.
fn sized<T: Serialize>(target: usize, build: impl Fn(usize) -> T) -> (T, String) {
    let smallest = build(0);
    let text = serde_json::to_string(&smallest).expect("payload bodies serialize");
    if text.len() >= target {
        return (smallest, text);
    }
    let body = build(target - text.len());
    let text = serde_json::to_string(&body).expect("payload bodies serialize");
    debug_assert_eq!(text.len(), target, "padding is one JSON byte per character");
    (body, text)
}

/// `"0"` followed by `pad` more zeros: no optional feature (TS 29.500 clause 6.6).
fn no_features(pad: usize) -> SupportedFeatures {
    SupportedFeatures::new("0".repeat(pad + 1)).expect("zeros are hex digits")
}

/// `serial` in decimal with leading zeros to at least its own digits plus `pad`.
fn padded_id(serial: u64, pad: usize) -> String {
    let digits = serial.to_string();
    format!("{}{digits}", "0".repeat(pad))
}

/// The `AuthenticationInfo` for UE `supi` in `serving_network_name`, `bytes` long (see the
/// module doc), with its JSON text.
pub fn authentication_info(supi: String, serving_network_name: String, bytes: usize) -> (AuthenticationInfo, String) {
    sized(bytes, |pad| AuthenticationInfo {
        supi_or_suci: supi.clone(),
        serving_network_name: serving_network_name.clone(),
        supported_features: Some(no_features(pad)),
    })
}

/// A 5G AKA authentication vector for the serving environment, drawn from `rng` (the module
/// doc lists the parts).
pub fn av_5g_aka(rng: &mut SimRng) -> Av5gAka {
    let mut rand = [0u8; 16];
    let mut xres_star = [0u8; 16];
    let mut autn = [0u8; 16];
    rng.fill_bytes(&mut rand);
    rng.fill_bytes(&mut xres_star);
    rng.fill_bytes(&mut autn);
    //= TS 33.102 6.3.2: AUTN = SQN ⊕ AK (6) ‖ AMF (2) ‖ MAC (8)
    //= TS 33.501 6.1.3.2 (step 1, UDM): the AMF separation bit (bit 0) is 1
    autn[6] = 0x80;
    autn[7] = 0x00;
    Av5gAka {
        rand: hex::encode_upper(rand),
        hxres_star: hex::encode_upper(hxres_star_of(&rand, &xres_star)),
        autn: hex::encode_upper(autn),
    }
}

/// HXRES* (TS 33.501 Annex A.5): the 128 least significant bits of SHA-256(RAND ‖ XRES*).
pub fn hxres_star_of(rand: &[u8; 16], xres_star: &[u8; 16]) -> [u8; 16] {
    let digest = Sha256::new().chain_update(rand).chain_update(xres_star).finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest[16..]);
    out
}

/// The AUSF at `api_root` (`https://<fqdn>`) answers with context `serial`: a
/// `UEAuthenticationCtx` carrying `av`, `bytes` long (see the module doc), with its JSON text.
pub fn ue_authentication_ctx(api_root: &str, serial: u64, av: Av5gAka, bytes: usize) -> (UeAuthenticationCtx, String) {
    sized(bytes, |pad| {
        let href = format!(
            "{api_root}{UE_AUTHENTICATIONS_PATH}/{}/5g-aka-confirmation",
            padded_id(serial, pad)
        );
        UeAuthenticationCtx {
            auth_type: "5G_AKA".into(),
            auth_data: av.clone(),
            links: BTreeMap::from([("5g-aka".to_owned(), Link { href })]),
        }
    })
}

/// The path of the subscriptions of SCS/AS `scs_as_id` in API `api` (TS 29.122 clause 5.3.2:
/// `{apiRoot}/3gpp-monitoring-event/v1/{scsAsId}/subscriptions` for the default API name).
pub fn subscriptions_path(api: &str, scs_as_id: &str) -> String {
    format!("/{api}/v1/{scs_as_id}/subscriptions")
}

/// The API name and SCS/AS ID of a subscriptions path ([`subscriptions_path`]'s inverse).
pub fn parse_subscriptions_path(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix('/')?;
    let (api, rest) = rest.split_once('/')?;
    let scs_as_id = rest.strip_prefix("v1/")?.strip_suffix("/subscriptions")?;
    (!api.is_empty() && !scs_as_id.is_empty() && !scs_as_id.contains('/')).then_some((api, scs_as_id))
}

/// The subscription an SCS/AS (a CAPIF API invoker) sends to invoke the monitoring event API:
/// a one-time loss-of-connectivity report on UE `external_id`, notified to
/// `notification_destination` (TS 29.122 clause 4.4.2, monitoring procedures).
pub fn monitoring_event_subscription(
    external_id: String,
    notification_destination: Uri,
) -> MonitoringEventSubscription {
    MonitoringEventSubscription {
        self_link: None,
        supported_features: None,
        external_id,
        notification_destination,
        monitoring_type: "LOSS_OF_CONNECTIVITY".into(),
        maximum_number_of_reports: 1,
    }
}

/// The `201` answer of the AEF at `api_root` to `req` on `path` (its subscriptions
/// collection): the created subscription `serial`, with `self` and the features the AEF
/// supports (none), `bytes` long (see the module doc), with its JSON text.
pub fn monitoring_event_created(
    req: &MonitoringEventSubscription,
    api_root: &str,
    path: &str,
    serial: u64,
    bytes: usize,
) -> (MonitoringEventSubscription, String) {
    sized(bytes, |pad| MonitoringEventSubscription {
        self_link: Some(format!("{api_root}{path}/{}", padded_id(serial, pad))),
        supported_features: Some(SupportedFeatures::none()),
        ..req.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::stream;

    #[test]
    fn bodies_have_the_configured_size_or_their_smallest() {
        for bytes in [0, 50, 109, 110, 111, 512, 2048, 100_000] {
            let (v, text) = authentication_info(supi(1, 42), serving_network_name(0), bytes);
            assert_eq!(text.len(), bytes.max(serde_json::to_string(&v).unwrap().len()));
            assert!(text.len() >= bytes);
            assert!(text.len() == bytes || v.supported_features.as_ref().unwrap().as_str() == "0");
            assert_eq!(serde_json::from_str::<AuthenticationInfo>(&text).unwrap(), v);
            let av = av_5g_aka(&mut stream(1, "av:test"));
            let (c, text) = ue_authentication_ctx("https://pnf.5gc.example", 7, av, bytes);
            assert!(text.len() == bytes || (text.len() > bytes && c.links["5g-aka"].href.contains("/7/")));
            let req = monitoring_event_subscription("ue1@iot.example".into(), "https://i.example/n".into());
            let (s, text) = monitoring_event_created(&req, "https://aef", "/a/v1/x/subscriptions", 3, bytes);
            assert!(text.len() == bytes || (text.len() > bytes && s.self_link.as_deref().unwrap().ends_with("/3")));
        }
        let (_, small) = authentication_info(supi(1, 42), serving_network_name(0), 0);
        assert!((100..=130).contains(&small.len()), "{}", small.len());
    }

    #[test]
    fn av_parts_have_their_lengths_and_come_from_the_stream() {
        let a = av_5g_aka(&mut stream(1, "av:pnf"));
        for part in [&a.rand, &a.hxres_star, &a.autn] {
            assert_eq!(part.len(), 32);
            assert!(part.bytes().all(|b| b.is_ascii_hexdigit()));
        }
        assert_eq!(&a.autn[12..16], "8000", "AMF with the separation bit");
        assert_eq!(a, av_5g_aka(&mut stream(1, "av:pnf")), "same seed, same vector");
        assert_ne!(a, av_5g_aka(&mut stream(2, "av:pnf")));
        let mut rng = stream(1, "av:pnf");
        assert_ne!(av_5g_aka(&mut rng), av_5g_aka(&mut rng), "each vector is fresh");
    }

    /// TS 33.501 Annex A.5 on an all-zero input: the low half of SHA-256 of 32 zero bytes.
    #[test]
    fn hxres_star_is_the_low_half_of_sha256() {
        let h = hxres_star_of(&[0; 16], &[0; 16]);
        // SHA-256(0^32) = 66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925
        assert_eq!(hex::encode(h), "089714856ee233b3902a591d0d5f2925");
    }

    #[test]
    fn supi_and_paths_round_trip() {
        let s = supi(2, 1_234_567);
        assert_eq!(s, "imsi-001003001234567");
        assert_eq!(msin_of(&s), Some(1_234_567));
        assert_eq!(msin_of("imsi-00100300123456"), None);
        assert_eq!(msin_of("nai-x@y"), None);
        assert_eq!(serving_network_name(0), "5G:mnc001.mcc001.3gppnetwork.org");
        let p = subscriptions_path(MONITORING_EVENT_API, "inv-1");
        assert_eq!(p, "/3gpp-monitoring-event/v1/inv-1/subscriptions");
        assert_eq!(parse_subscriptions_path(&p), Some((MONITORING_EVENT_API, "inv-1")));
        for bad in [
            "/api1",
            "/a/v1//subscriptions",
            "/a/v2/x/subscriptions",
            "/a/v1/x/y/subscriptions",
            "",
        ] {
            assert_eq!(parse_subscriptions_path(bad), None, "{bad}");
        }
    }
}
