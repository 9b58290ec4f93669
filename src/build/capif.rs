//! The CAPIF plane's builder: scenario → invoker, CCF, AEF and APF machines.
//!
//! Each node gets only its own configuration: a CCF its CA, onboarding service, token key,
//! the AEF profiles it publishes and its access policy; an AEF its trust anchors (the CAs of
//! the CCFs its invokers onboard at), the token keys it trusts, its methods and processing;
//! an invoker its enrolment request, preferences and target.

use std::collections::{BTreeMap, BTreeSet};

use crate::audit::capif::CapifMutant;
use crate::audit::capif::{AefAudit, FlowAudit, NodeAudit, SetupAudit};
use crate::audit::mutant::{Mutant, Mutants};
use crate::crypto::aefpsk::AefPskVariant;
use crate::crypto::cost::CryptoFidelity;
use crate::crypto::jwt::RevocationSet;
use crate::crypto::pki::{self, Ca, RevocationList, Role, Subject, Validity};
use crate::crypto::tls12;
use crate::engine::{SimDuration, SimTime, stream};
use crate::net::{Latency, Network, NodeId};
use crate::proto::capif::authentication::{TokenEndpoint, TokenVerifier};
use crate::proto::capif::interconnection;
use crate::proto::capif::machines::{Aef, AefConfig, Capif1eMaterial, Ccf, CcfConfig, Invoker, InvokerConfig};
use crate::proto::capif::node::{
    AefAt, AefNode, AefNodeConfig, ApfNode, CapifNode, CapifTimer, CcfNode, CcfNodeConfig, InvokerNode,
    InvokerNodeConfig, Labels, NOTIFY_PATH, Published, Scripted, recovery_bound, recovery_budget,
};
use crate::proto::capif::observer::Observer;
use crate::proto::capif::onboarding::{OnboardingService, enrolment_request};
use crate::proto::capif::security_method::AccessPolicy;
use crate::proto::capif::types::{AefLocator, AefProfile, SecurityMethod, SecurityTarget, Version};
use crate::proto::capif::types::{InterfaceAddress, InterfaceDescription};
use crate::proto::payload;
use crate::scenario::{Capif1eTls, CapifFlowSpec, CapifSpec, TopologyFile};
use crate::world::Msg;
use crate::world::capif::{CapifMsg, CapifPlane, timer};
use std::sync::Arc;

/// Certificates of the CAPIF CAs are valid for the whole run.
const VALIDITY: Validity = Validity {
    not_before_s: 0,
    not_after_s: 10 * 365 * 86_400,
};

/// One Capif flow as the builder sees it.
struct Flow {
    label: String,
    ccf: NodeId,
    aef: NodeId,
    aef_ccf: NodeId,
    arrival: crate::engine::Arrival,
    timeout: SimDuration,
}

impl Flow {
    fn interconnected(&self) -> bool {
        self.ccf != self.aef_ccf
    }
}

pub(crate) fn interface_of(aef: &str, api: &str, methods: Option<Vec<SecurityMethod>>) -> InterfaceDescription {
    InterfaceDescription {
        address: InterfaceAddress::Fqdn(format!("{aef}.capif.example")),
        port: Some(443),
        api_prefix: Some(format!("/{api}/v1")),
        security_methods: methods,
    }
}

pub(crate) fn default_methods() -> Vec<SecurityMethod> {
    vec![SecurityMethod::Psk, SecurityMethod::Pki, SecurityMethod::Oauth]
}

/// Builds the CAPIF actors of the Capif flows; installs the CCF CAs as trust anchors.
pub fn plane(
    net: &mut Network,
    topo_spec: &TopologyFile,
    spec: &CapifSpec,
    flows: &[(usize, &CapifFlowSpec)],
    (seed, exp_mutants): (u64, Mutants),
) -> Result<CapifPlane, String> {
    let node = |net: &Network, name: &str, field: &str| {
        net.topo
            .node_id(name)
            .ok_or_else(|| format!("{field}: unknown node `{name}`"))
    };
    let variant = match (spec.capif1e_tls, net.sec.fidelity) {
        (Capif1eTls::Tls13, f) if f != CryptoFidelity::Timing => AefPskVariant::Tls13Exporter,
        _ => AefPskVariant::Tls12MasterSecret,
    };
    let psk_validity_s = spec.psk_validity.unwrap_or(SimDuration::from_secs(3600)).as_nanos() / 1_000_000_000;
    let token_lifetime_s = spec.token_lifetime.unwrap_or(SimDuration::from_secs(600)).as_nanos() / 1_000_000_000;
    let aef_spec = |name: &str| spec.aefs.get(name);
    let aef_api = |name: &str| {
        aef_spec(name)
            .and_then(|a| a.apis.as_ref())
            .and_then(|a| a.first().cloned())
            .unwrap_or_else(|| payload::MONITORING_EVENT_API.to_string())
    };
    let profile = |name: &str| {
        let a = aef_spec(name);
        let methods = a.and_then(|a| a.methods.clone()).unwrap_or_else(default_methods);
        let iface_methods = a.and_then(|a| a.interface_methods.clone());
        AefProfile {
            aef_id: name.to_string(),
            versions: vec![Version {
                api_version: "v1".into(),
            }],
            protocol: None,
            security_methods: Some(methods),
            locator: AefLocator::InterfaceDescriptions(vec![interface_of(name, &aef_api(name), iface_methods)]),
        }
    };

    // Flows and the CCF / AEF nodes they use.
    let mut plan_flows = Vec::new();
    let mut ccf_nodes = BTreeSet::new();
    let mut aef_users: BTreeMap<NodeId, Vec<NodeId>> = BTreeMap::new(); // aef -> home CCFs
    let mut aef_ccf_of: BTreeMap<NodeId, NodeId> = BTreeMap::new();
    let mut members: Vec<(u32, NodeId, SimTime, Vec<SecurityMethod>)> = Vec::new();
    for (fi, (index, f)) in flows.iter().enumerate() {
        let at = |field: &str| format!("workload[{index}].Capif.{field}");
        let ccf = node(net, &f.ccf, &at("ccf"))?;
        let aef = node(net, &f.aef, &at("aef"))?;
        let aef_ccf = match &f.aef_ccf {
            Some(a) => node(net, a, &at("aef_ccf"))?,
            None => ccf,
        };
        if let Some(prev) = aef_ccf_of.insert(aef, aef_ccf)
            && prev != aef_ccf
        {
            return Err(format!("{}: `{}` is registered at two CCFs", at("aef_ccf"), f.aef));
        }
        ccf_nodes.insert(ccf);
        ccf_nodes.insert(aef_ccf);
        aef_users.entry(aef).or_default().push(ccf);
        let arrival = f.arrival.process().map_err(|e| format!("{}: {e}", at("arrival")))?;
        let label = f.name.clone().unwrap_or_else(|| format!("{}->{}", f.ccf, f.aef));
        let names = crate::scenario::validate::expand_invokers(&f.invokers, topo_spec)
            .map_err(|(i, m)| format!("{}: {m}", at(&format!("invokers[{i}]"))))?;
        let spread = f.start_spread.unwrap_or(SimDuration::from_secs(1));
        let mut rng = stream(seed, &format!("capif-start:{label}"));
        let prefs = f.prefs.clone().unwrap_or_else(default_methods);
        for n in names {
            let id = node(net, n, &at("invokers"))?;
            let offset = if spread.as_nanos() == 0 {
                0
            } else {
                rand::Rng::random_range(&mut rng, 0..spread.as_nanos())
            };
            members.push((
                fi as u32,
                id,
                SimTime::ZERO + f.start + SimDuration::from_nanos(offset),
                prefs.clone(),
            ));
        }
        plan_flows.push(Flow {
            label,
            ccf,
            aef,
            aef_ccf,
            arrival,
            timeout: f.timeout,
        });
    }

    let members_flow: BTreeMap<NodeId, u32> = members.iter().map(|m| (m.1, m.0)).collect();
    // Node labels (records, audit facts) and the topology's CCFs (interconnection parties).
    let labels = Arc::new(Labels {
        names: (0..net.topo.node_count() as NodeId)
            .map(|n| net.topo.name(n).to_string())
            .collect(),
        domains: (0..net.topo.node_count() as NodeId)
            .map(|n| net.topo.domain_of(n).name.clone())
            .collect(),
    });
    let all_ccfs: Vec<NodeId> = (0..net.topo.node_count() as NodeId)
        .filter(|&n| net.topo.node(n).role == crate::scenario::NodeRole::Ccf)
        .collect();
    let full = net.sec.fidelity == CryptoFidelity::Full;
    let share = spec.event_subscribers.unwrap_or(1.0);
    let subscribed: BTreeSet<NodeId> = members
        .iter()
        .enumerate()
        .filter(|(i, _)| ((*i + 1) as f64 * share).floor() > (*i as f64 * share).floor())
        .map(|(_, m)| m.1)
        .collect();
    let strategy = spec.recovery;
    let tls_retries = spec.tls_retries.unwrap_or(2);
    let backoff = spec.retry_backoff.unwrap_or(SimDuration::from_millis(500));
    let mutants = exp_mutants;

    // CCFs: a CA, an onboarding service and a token endpoint each.
    let mut ccfs: BTreeMap<NodeId, CcfNode> = BTreeMap::new();
    let mut ccf_cas = Vec::new();
    let mut ccf_names = Vec::new();
    let mut token_keys = BTreeMap::new();
    for &c in &ccf_nodes {
        let name = net.topo.name(c).to_string();
        let domain = net.topo.domain_of(c).name.clone();
        let mut rng = stream(seed, &format!("capif-ca:{name}"));
        let ca = Ca::new_root(
            pki::key_from_rng(&mut rng),
            Subject::new(format!("ca.capif.{name}"), Role::Ca, domain.clone()),
            VALIDITY,
        )
        .map_err(|e| format!("ccf {name}: {e}"))?;
        ccf_cas.push(ca.certificate().clone());
        ccf_names.push(name.clone());
        net.sec.anchors.push(ca.certificate().clone());
        let onboarding = OnboardingService::new(ca, domain, SimDuration::from_secs(VALIDITY.not_after_s));
        let tokens = TokenEndpoint::new(pki::key_from_rng(&mut rng), name.clone(), token_lifetime_s);
        token_keys.insert(c, tokens.verifying_key());
        // Every AEF a flow of this CCF uses (its own, or remote ones learnt over CAPIF-6e).
        let mut published = BTreeSet::new();
        for f in &plan_flows {
            if f.ccf == c || f.aef_ccf == c {
                published.insert(f.aef);
            }
        }
        let aefs: Vec<AefProfile> = published.iter().map(|&a| profile(net.topo.name(a))).collect();
        let policy = AccessPolicy {
            allowed_methods: None,
            apis: published
                .iter()
                .map(|&a| {
                    let n = net.topo.name(a).to_string();
                    let apis = aef_spec(&n)
                        .and_then(|s| s.apis.clone())
                        .unwrap_or_else(|| vec![payload::MONITORING_EVENT_API.into()]);
                    (n, apis)
                })
                .collect(),
            psk_validity_s,
            mutants,
        };
        let cfg = CcfConfig {
            aefs,
            policy,
            variant,
            encoding: spec.validity_encoding,
            mutants,
        };
        let aefs_at = published
            .iter()
            .map(|&a| {
                let home = aef_ccf_of[&a];
                let mut shared_with: Vec<NodeId> = plan_flows
                    .iter()
                    .filter(|f| f.aef == a && f.interconnected() && home == c)
                    .map(|f| f.ccf)
                    .collect();
                shared_with.sort_unstable();
                shared_with.dedup();
                let at = AefAt {
                    node: a,
                    api: aef_api(net.topo.name(a)),
                    home: (home != c).then_some(home),
                    shared_with,
                };
                (net.topo.name(a).to_string(), at)
            })
            .collect();
        let node_cfg = CcfNodeConfig {
            node: c,
            name: name.clone(),
            aefs: aefs_at,
            ccfs: all_ccfs.clone(),
            interconnection: spec.interconnection,
            strategy,
            subscribed: subscribed.clone(),
            variant,
            tls12_seed: seed,
            full,
            mutants,
        };
        let m = Ccf::new(cfg, onboarding, tokens);
        ccfs.insert(
            c,
            CcfNode::new(node_cfg, labels.clone(), m, stream(seed, &format!("ccf:{name}"))),
        );
    }

    // AEFs.
    let mut aefs = BTreeMap::new();
    let mut aef_anchors = BTreeMap::new();
    for (&a, homes) in &aef_users {
        let name = net.topo.name(a).to_string();
        let flow = flows
            .iter()
            .find(|(_, f)| f.aef == name)
            .map(|(_, f)| *f)
            .ok_or_else(|| format!("aef {name}: no flow"))?;
        // The AEF trusts the CAs of the CCFs its invokers onboard at, and the token keys of
        // its own CCF and of every CCF its invokers onboard at: each token is verified
        // with the key of the CCF that issued it (TS 33.122 cl. 6.5.2.3 and Annex C;
        // interconnection, cl. 6.X.3.3: CCF-B issues the tokens of its invokers). Wire
        // truth: CCF-B's key reaches the AEF via CCF-A in the plan (`CcfBSigningKey`,
        // counted in the exposure records) but that distribution is not put on the wire,
        // so here the AEF knows the keys from its configuration, like its CA anchors. The
        // SingleTokenKey mutant is the bug of issue 12: the key of `homes[0]` only.
        let anchors: Vec<pki::Certificate> = homes
            .iter()
            .filter_map(|h| ccfs.get(h).map(|c| c.m.onboarding().ca_certificate().clone()))
            .collect();
        let own = if mutants.on(Mutant::Capif(CapifMutant::SingleTokenKey)) {
            homes[0]
        } else {
            aef_ccf_of[&a]
        };
        let mut issuers: Vec<NodeId> = homes.iter().copied().filter(|&h| h != own).collect();
        issuers.sort_unstable();
        issuers.dedup();
        if mutants.on(Mutant::Capif(CapifMutant::SingleTokenKey)) {
            issuers.clear();
        }
        let tokens = Some(TokenVerifier {
            ccf_key: token_keys[&own],
            issuer: Some(net.topo.name(own).to_string()),
            also_trusted: issuers
                .iter()
                .map(|&h| (net.topo.name(h).to_string(), token_keys[&h]))
                .collect(),
            leeway_s: spec.token_leeway.as_nanos() / 1_000_000_000,
            revoked: RevocationSet::default(),
        });
        let cfg = AefConfig {
            aef_id: name.clone(),
            ccf_anchors: anchors.clone(),
            revoked_certs: RevocationList::new(),
            tokens,
            expiry: spec.expiry,
            mutants,
        };
        let p = profile(&name);
        let processing = flow
            .processing
            .as_ref()
            .map(Latency::from_spec)
            .transpose()
            .map_err(|e| format!("aef {name}: processing: {e}"))?;
        let methods = match &p.locator {
            AefLocator::InterfaceDescriptions(v) => v.first().and_then(|i| i.security_methods.clone()),
            AefLocator::DomainName(_) => None,
        }
        .or(p.security_methods.clone())
        .unwrap_or_else(default_methods);
        aef_anchors.insert(a, anchors.clone());
        let node_cfg = AefNodeConfig {
            aef_id: name.clone(),
            ccf: aef_ccf_of[&a],
            methods,
            api: aef_api(&name),
            strategy: spec.recovery,
            processing,
            response_bytes: flow.response_bytes as usize,
            mutants,
        };
        aefs.insert(
            a,
            AefNode::new(node_cfg, Aef::new(cfg), stream(seed, &format!("aef:{name}"))),
        );
    }

    // APFs: the first APF node of each AEF's domain publishes it (the profile its CCF holds).
    let mut apfs: BTreeMap<NodeId, ApfNode> = BTreeMap::new();
    for &a in aef_users.keys() {
        let d = net.topo.node(a).domain;
        let Some(apf) = (0..net.topo.node_count() as NodeId)
            .find(|&n| net.topo.node(n).role == crate::scenario::NodeRole::Apf && net.topo.node(n).domain == d)
        else {
            continue;
        };
        let name = net.topo.name(a).to_string();
        let published = Published {
            profile: profile(&name),
            api: aef_api(&name),
            ccf: aef_ccf_of[&a],
        };
        let apf_name = net.topo.name(apf).to_string();
        apfs.entry(apf)
            .or_insert_with(|| ApfNode::new(apf_name, BTreeMap::new()))
            .add(name, published);
    }

    // Invokers.
    let mut invokers = Vec::new();
    let mut nodes: BTreeMap<NodeId, CapifNode> = BTreeMap::new();
    let mut invoker_labels = BTreeMap::new();
    let mut initial: Vec<(SimTime, NodeId, Msg)> = Vec::new();
    for (fi, id, start_at, prefs) in members {
        let name = net.topo.name(id).to_string();
        if nodes.contains_key(&id) {
            return Err(format!("invoker `{name}` is in two Capif flows"));
        }
        let f = &plan_flows[fi as usize];
        let aef_name = net.topo.name(f.aef).to_string();
        let iface = interface_of(&aef_name, &aef_api(&aef_name), None);
        let enrolment = enrolment_request(
            &net.sec.verifying_key(id),
            Some(format!("secret-{name}")),
            format!("https://{name}.invoker.example{NOTIFY_PATH}"),
        );
        // The material is replaced by the session of the connection the Security Method
        // Response arrives on (`set_capif1e`); this placeholder is never used for a key.
        let placeholder = tls12::Tls12Session {
            client_random: [0; 32],
            server_random: [0; 32],
            session_id: [0; 32],
            master_secret: [0; 48],
            extended_master_secret: true,
        };
        let cfg = InvokerConfig {
            enrolment,
            target: SecurityTarget::InterfaceDetails(iface.clone()),
            interface: iface,
            prefs,
            variant,
            capif1e: Capif1eMaterial::Tls12(placeholder),
            response_timeout: f.timeout,
        };
        // The AEF checks this invoker's CAPIF-2e certificates against the CCF CAs only.
        if let Some(anchors) = aef_anchors.get(&f.aef) {
            net.sec.set_client_anchors(f.aef, id, Some(anchors.clone()));
        }
        let exposures = f.interconnected().then(|| {
            let n_peer_ccfs = all_ccfs.iter().filter(|&&n| n != f.aef_ccf).count().max(1) as u16;
            SecurityMethod::KNOWN
                .iter()
                .map(|m| {
                    let plan = interconnection::plan(
                        &spec.interconnection,
                        &interconnection::Scenario {
                            n_peer_ccfs,
                            has_mapping: true,
                            method: m.clone(),
                            n_apis: 1,
                            rnaa: false,
                        },
                    );
                    (
                        m.clone(),
                        interconnection::exposure(&plan, interconnection::default_domain),
                    )
                })
                .collect()
        });
        let node_cfg = InvokerNodeConfig {
            node: id,
            name: name.clone(),
            flow: f.label.clone(),
            ccf: f.ccf,
            aef: f.aef,
            api: aef_api(&aef_name),
            arrival: f.arrival.clone(),
            timeout: f.timeout,
            connect_timeout: net.cfg.connect_timeout,
            strategy,
            tls_retries,
            backoff,
            per_session: spec.invocations_per_session.unwrap_or(20).max(1),
            exposures,
            variant,
            tls12_seed: seed,
            full,
            mutants,
        };
        invoker_labels.insert(id, (f.label.clone(), net.topo.domain_of(id).name.clone()));
        initial.push((start_at, id, timer(id, CapifTimer::Start)));
        let m = InvokerNode::new(
            node_cfg,
            labels.clone(),
            Invoker::new(cfg),
            stream(seed, &format!("invoker:{name}")),
        );
        nodes.insert(id, CapifNode::Invoker(Box::new(m)));
        invokers.push(id);
    }
    // CCF restarts: the CCF's links are down for the window (its traffic is retransmitted
    // until it is back); the restart itself happens at `at` (`ccf_restart`).
    for r in &spec.ccf_restarts {
        let c = node(net, &r.ccf, "capif.ccf_restarts.ccf")?;
        let from = SimTime::ZERO + r.at;
        let window = (from, Some(from + r.down));
        let edges: Vec<_> = net.topo.graph.edge_indices().collect();
        for e in edges {
            if net
                .topo
                .graph
                .edge_endpoints(e)
                .is_some_and(|(a, b)| a.index() == c as usize || b.index() == c as usize)
            {
                net.topo.graph[e].down.push(window);
            }
        }
    }
    // Scripted events, each with the nodes it is handed to, in order.
    let any = invokers.first().copied().unwrap_or(0);
    let mut scripts = Vec::new();
    for c in &spec.method_changes {
        let aef = node(net, &c.aef, "capif.method_changes.aef")?;
        let apf = apfs.iter().find(|(_, a)| a.publishes(&c.aef)).map(|(&n, _)| n);
        let ccf = aef_ccf_of.get(&aef).copied().unwrap_or(aef);
        let mut to = vec![aef];
        let uses = |i: &&NodeId| matches!(nodes.get(i), Some(CapifNode::Invoker(v)) if v.config().aef == aef);
        to.extend(invokers.iter().filter(uses));
        to.push(apf.unwrap_or(ccf));
        let ev = Scripted::MethodChange {
            aef_id: c.aef.clone(),
            methods: c.methods.clone(),
        };
        scripts.push((c.at, to, ev));
    }
    for r in &spec.revocations {
        let inv = node(net, &r.invoker, "capif.revocations.invoker")?;
        let f = members_flow.get(&inv).map(|&fi| &plan_flows[fi as usize]);
        let (to, aef_id) = f.map_or((vec![], String::new()), |f| {
            (vec![f.ccf], net.topo.name(f.aef).to_string())
        });
        scripts.push((r.at, to, Scripted::Revoke { invoker: inv, aef_id }));
    }
    for r in &spec.ccf_restarts {
        let to = vec![node(net, &r.ccf, "capif.ccf_restarts.ccf")?];
        scripts.push((r.at, to, Scripted::Restart { down: r.down }));
    }
    for (k, (at, ..)) in scripts.iter().enumerate() {
        initial.push((SimTime::ZERO + *at, any, Msg::Capif(CapifMsg::Script(k as u32))));
    }
    let setup = SetupAudit {
        interconnection: spec.interconnection,
        expiry: spec.expiry,
        token_leeway_s: spec.token_leeway.as_nanos() / 1_000_000_000,
        ccfs: ccfs
            .keys()
            .map(|&c| NodeAudit {
                node: net.topo.name(c).to_string(),
                domain: net.topo.domain_of(c).name.clone(),
            })
            .collect(),
        aefs: aefs
            .iter()
            .map(|(&n, a)| AefAudit {
                aef: a.aef_id().to_string(),
                domain: net.topo.domain_of(n).name.clone(),
                methods: a.methods.clone(),
            })
            .collect(),
        flows: plan_flows
            .iter()
            .map(|f| FlowAudit {
                label: f.label.clone(),
                ccf: net.topo.name(f.ccf).to_string(),
                aef: net.topo.name(f.aef).to_string(),
                aef_ccf: net.topo.name(f.aef_ccf).to_string(),
                recovery_bound_ns: recovery_bound(f.timeout, net.cfg.connect_timeout, backoff, tls_retries).as_nanos(),
                recovery_budget: recovery_budget(tls_retries),
            })
            .collect(),
    };
    let observer = Observer {
        ccf_cas,
        ccf_names,
        token_keys: token_keys
            .iter()
            .map(|(&c, k)| (net.topo.name(c).to_string(), *k))
            .collect(),
    };
    for (n, c) in ccfs {
        nodes.insert(n, CapifNode::Ccf(Box::new(c)));
    }
    for (n, a) in aefs {
        nodes.insert(n, CapifNode::Aef(Box::new(a)));
    }
    for (n, a) in apfs {
        nodes.insert(n, CapifNode::Apf(a));
    }
    let mut plane = CapifPlane::new(nodes, invokers, observer);
    plane.setup = Some(setup);
    plane.initial = initial;
    plane.scripts = scripts.into_iter().map(|(_, to, ev)| (to, ev)).collect();
    plane.labeller.invokers = invoker_labels;
    Ok(plane)
}
