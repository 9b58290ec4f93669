//! The API publishing function as one node machine: it publishes its AEFs' method changes
//! to their CCF by message (TS 29.222 8.2 Publish_Service_API, `PUT`; TS 33.122 5.1.1: "API
//! publishing function shall inform the CAPIF core function the updated security method
//! when AEF updates its security method").
//!
//! Configuration choices: the APF holds the AEF profile it published for each AEF of its
//! domain (at build, the same profile the CCF was configured with), and it learns an AEF's
//! method change when the AEF makes it (the scripted change reaches both at the same
//! instant: the APF–AEF interface is not modelled).

use std::collections::BTreeMap;

use super::CapifTimer;
use crate::engine::{SimDuration, SimTime};
use crate::net::tls::TlsMode;
use crate::net::{HttpRequest, NodeId};
use crate::proto::capif::types::{AefLocator, AefProfile, SecurityMethod, ServiceApiDescription};
use crate::proto::common::SupportedFeatures;
use crate::proto::effect::{Corr, Effect, Effects, Input, Machine};

/// The resource prefix of Publish_Service_API (TS 29.222 8.2).
pub const PUBLISH_PREFIX: &str = "/published-apis/v1/";

/// What the APF published for one AEF.
#[derive(Clone, Debug)]
pub struct Published {
    /// The AEF's profile as published.
    pub profile: AefProfile,
    /// The API it exposes.
    pub api: String,
    /// The node of the CCF it is published at.
    pub ccf: NodeId,
}

/// The API publishing function (sans-IO node machine).
pub struct ApfNode {
    /// Its own name (the `apfId` of its resources).
    name: String,
    published: BTreeMap<String, Published>,
    next_corr: Corr,
    fx: Effects<CapifTimer>,
}

impl ApfNode {
    /// The APF `name`, with what it published per AEF ID.
    pub fn new(name: String, published: BTreeMap<String, Published>) -> ApfNode {
        ApfNode {
            name,
            published,
            next_corr: 0,
            fx: Effects::default(),
        }
    }

    /// It publishes `aef_id` as `p` (at build).
    pub fn add(&mut self, aef_id: String, p: Published) {
        self.published.insert(aef_id, p);
    }

    /// Whether it publishes AEF `aef_id`.
    pub fn publishes(&self, aef_id: &str) -> bool {
        self.published.contains_key(aef_id)
    }

    /// AEF `aef_id` now supports `methods`: the APF updates the published description at the
    /// AEF's CCF (`PUT .../service-apis/{api}`; the answer is not used).
    //= TS 33.122 5.1.1 (seed 004): "API publishing function shall inform the CAPIF core
    //= function the updated security method when AEF updates its security method"
    pub fn publish_change(&mut self, aef_id: &str, methods: &[SecurityMethod]) {
        let Some(p) = self.published.get_mut(aef_id) else {
            return;
        };
        p.profile.security_methods = Some(methods.to_vec());
        if let AefLocator::InterfaceDescriptions(ifs) = &mut p.profile.locator {
            for i in ifs {
                i.security_methods = None;
            }
        }
        let api = p.api.clone();
        let body = ServiceApiDescription {
            api_name: api.clone(),
            api_id: Some(api.clone()),
            aef_profiles: Some(vec![p.profile.clone()]),
            description: None,
            supported_features: Some(SupportedFeatures::none()),
            shareable_info: None,
            pub_api_path: None,
            ccf_id: None,
        };
        let req = HttpRequest::json(
            "PUT",
            format!("{PUBLISH_PREFIX}{}/service-apis/{api}", self.name),
            "ServiceAPIDescription",
            body,
        );
        let corr = self.next_corr;
        self.next_corr += 1;
        self.fx.push(Effect::Request {
            corr,
            to: p.ccf,
            via: None,
            mode: TlsMode::Certificate,
            req: Box::new(req),
            delay: SimDuration::ZERO,
        });
    }
}

impl Machine for ApfNode {
    type Timer = CapifTimer;

    /// The answers to its publications are not used.
    fn handle(&mut self, _now: SimTime, _input: Input<CapifTimer>) {}

    fn effects(&mut self) -> &mut Effects<CapifTimer> {
        &mut self.fx
    }
}
