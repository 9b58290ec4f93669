//! The N32 plane's builder: scenario → cNF, SEPP, RI and pNF machines, each configured with
//! only what its node may know.
//!
//! Configuration choices (what each machine is given, beyond its own name and address):
//! - every machine: the address book of node names ([`Names`]);
//! - a SEPP: the JWS keys of the IPX providers it trusts, which are the RIs on the N32-f
//!   paths of its flows ([`SeppConfig::ipx_keys`]), and for each RI whose CONNECT tunnel it
//!   uses, that RI's refusal encoding and verifying key ([`SeppConfig::ri_rejections`]);
//! - a p-SEPP: its pNF, the c-SEPP it reports faults to, its own IPX provider and the
//!   number of RIs on the path, from the first flow it serves ([`ProducerSide`]);
//! - a c-SEPP's fault injector: the first RI's signing identity ([`SeppFlow::fault_ri`]);
//! - an RI: the PLMN of every address ([`RiConfig::plmns`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::audit::mutant::Mutants;
use crate::crypto::cost::CryptoFidelity;
use crate::crypto::pki;
use crate::engine::{SimDuration, SimTime, stream};
use crate::net::{Latency, Network, NodeId};
use crate::proto::n32::capability_negotiation::LocalCapPolicy;
use crate::proto::n32::node::cnf::{Cnf, CnfFlow};
use crate::proto::n32::node::pnf::Pnf;
use crate::proto::n32::node::sepp::{ProducerSide, Sepp, SeppConfig, SeppFlow};
use crate::proto::n32::node::{N32Node, N32Nodes, Names, SBI_PATH, Timer};
use crate::proto::n32::parameter_exchange::{LocalParams, policy_view};
use crate::proto::n32::prins::RiIdentity;
use crate::proto::n32::sepp::{InitiatorConfig, ResponderConfig};
use crate::proto::n32::types::{
    self, ApiIeMapping, ApiSignature, HttpMethod, IeInfo, ProtectionPolicy, SecurityCapability,
};
use crate::proto::payload;
use crate::proto::roaming::Ri;
use crate::proto::roaming::node::{RiConfig, RiNode};
use crate::scenario::{ExperimentFile, N32FlowSpec, N32Spec, NodeRole};
use crate::world::n32::{self, N32Msg, N32Plane};
use crate::world::{Driver, Msg};

/// The N32 machines of one run and their first events.
pub struct N32Build {
    /// Every N32 node's machine.
    pub nodes: BTreeMap<NodeId, N32Node>,
    /// Each flow's first arrival at its cNF, in workload order.
    pub arrivals: Vec<(SimTime, NodeId, Timer)>,
    /// The scripted terminations (at the first flow's c-SEPP; every SEPP takes them).
    pub terminations: Vec<(SimTime, NodeId)>,
}

/// One flow, resolved.
struct Flow {
    label: String,
    cnf: NodeId,
    csepp: NodeId,
    psepp: NodeId,
    pnf: NodeId,
    via: Option<NodeId>,
    ris: Vec<NodeId>,
    spec: N32FlowSpec,
    arrival: crate::engine::Arrival,
    processing: Option<Latency>,
}

/// The FQDN of a Roaming Intermediary (its IPX provider id, JWS `kid` and Modifications
/// identity).
fn ri_fqdn(name: &str) -> String {
    format!("{name}.ipx.example")
}

/// The protection policy both SEPPs configure for the workload's API (TS 29.573 6.1.5.3.2):
/// the SUPI (UEID) in the body is encrypted, the message priority header is modifiable by
/// any IPX, all else is integrity protected in clear.
fn protection_policy() -> ProtectionPolicy {
    let ie = |loc, ty, name: &str, modifiable| IeInfo {
        ie_loc: loc,
        ie_type: ty,
        req_ie: Some(name.to_string()),
        rsp_ie: None,
        is_modifiable: modifiable,
        is_modifiable_by_ipx: None,
    };
    ProtectionPolicy {
        api_ie_mapping_list: vec![ApiIeMapping {
            api_signature: ApiSignature::Uri(SBI_PATH.to_string()),
            api_method: HttpMethod::Post,
            ie_list: vec![
                ie(types::IeLocation::Body, types::IeType::Ueid, "/supiOrSuci", None),
                ie(
                    types::IeLocation::Header,
                    types::IeType::Nonsensitive,
                    "3gpp-sbi-message-priority",
                    Some(true),
                ),
            ],
        }],
        data_type_enc_policy: Some(vec![
            types::IeType::Ueid,
            types::IeType::KeyMaterial,
            types::IeType::AuthenticationMaterial,
        ]),
    }
}

fn resolve(net: &Network, flows: &[(usize, &N32FlowSpec)]) -> Result<Vec<Flow>, String> {
    let id = |index: usize, name: &str| {
        net.topo
            .node_id(name)
            .ok_or_else(|| format!("workload[{index}]: unknown node `{name}`"))
    };
    let mut out = Vec::new();
    for &(index, f) in flows {
        let label = f
            .name
            .clone()
            .unwrap_or_else(|| format!("{}->{}", f.consumer, f.producer));
        let arrival = f
            .arrival
            .process()
            .map_err(|e| format!("workload[{index}].N32.arrival: {e}"))?;
        out.push(Flow {
            cnf: id(index, &f.consumer)?,
            csepp: id(index, &f.c_sepp)?,
            psepp: id(index, &f.p_sepp)?,
            pnf: id(index, &f.producer)?,
            via: f.n32c_via.as_deref().map(|v| id(index, v)).transpose()?,
            ris: f.n32f_ris.iter().map(|r| id(index, r)).collect::<Result<_, _>>()?,
            label,
            arrival,
            processing: f
                .processing
                .as_ref()
                .map(Latency::from_spec)
                .transpose()
                .map_err(|e| format!("workload[{index}]: processing: {e}"))?,
            spec: f.clone(),
        });
    }
    Ok(out)
}

/// The N32 plane of the world: its machines, driver and first events.
pub fn plane(
    net: &Network,
    exp: &ExperimentFile,
    flows: &[(usize, &N32FlowSpec)],
    seed: u64,
) -> Result<N32Plane, String> {
    let b = build(net, exp, flows, seed)?;
    let arrivals = b.arrivals.into_iter().map(|(t, n, a)| (t, n, n32::timer(n, a)));
    let ends = b
        .terminations
        .into_iter()
        .map(|(t, n)| (t, n, Msg::N32(N32Msg::Terminate)));
    Ok(N32Plane {
        nodes: N32Nodes::new(b.nodes),
        driver: Driver::new(n32::timer),
        initial: arrivals.chain(ends).collect(),
    })
}

/// Builds the plane's machines from the experiment's `n32` section and mutants; `flows` are
/// (index in the workload, spec).
pub fn build(
    net: &Network,
    exp: &ExperimentFile,
    flows: &[(usize, &N32FlowSpec)],
    seed: u64,
) -> Result<N32Build, String> {
    let (spec, mutants) = (&exp.n32, exp.mutants());
    let flows = resolve(net, flows)?;
    let count = net.topo.node_count() as NodeId;
    let names: Names = Arc::new((0..count).map(|n| net.topo.name(n).to_string()).collect());
    let full = net.sec.fidelity == CryptoFidelity::Full;
    // Every RI gets a signing identity from its own stream.
    let mut ris = BTreeMap::new();
    for n in 0..count {
        if net.topo.node(n).role == NodeRole::Ri {
            let name = &names[n as usize];
            let key = pki::key_from_rng(&mut stream(seed, &format!("ri-key:{name}")));
            let identity = RiIdentity {
                fqdn: ri_fqdn(name),
                key,
            };
            let policy = spec.ri_policies.get(name.as_str()).cloned().unwrap_or_default();
            let mut rng = stream(seed, &format!("ri-policy-key:{name}"));
            let ri = Ri::new(ri_fqdn(name), policy, &mut rng).map_err(|e| format!("n32.ri_policies[{name}]: {e}"))?;
            ris.insert(n, (ri, identity));
        }
    }
    let name_of = |n: NodeId| names[n as usize].clone();
    let via_name = |f: &Flow| f.via.map(name_of).unwrap_or_default();
    let mut nodes = BTreeMap::new();
    let mut seen = Vec::new();
    for f in &flows {
        for n in [f.cnf, f.csepp, f.psepp, f.pnf] {
            if !seen.contains(&n) {
                seen.push(n);
            }
        }
    }
    seen.sort_unstable();
    if let Some(f) = flows
        .iter()
        .find(|f| ris.contains_key(&f.cnf) || ris.contains_key(&f.pnf))
    {
        let n = if ris.contains_key(&f.cnf) { f.cnf } else { f.pnf };
        return Err(format!(
            "n32: flow `{}`: node `{}` is a Roaming Intermediary, not an NF",
            f.label, names[n as usize]
        ));
    }
    for n in seen {
        if ris.contains_key(&n) {
            continue;
        }
        let rng = stream(seed, &format!("n32:{}", names[n as usize]));
        let is_sepp = flows.iter().any(|f| f.csepp == n || f.psepp == n);
        let pnf = flows.iter().position(|f| f.pnf == n);
        let cnf = flows.iter().any(|f| f.cnf == n);
        let node = if is_sepp {
            if pnf.is_some() || cnf {
                return Err(format!("n32: node `{}` is a SEPP and an NF", names[n as usize]));
            }
            N32Node::Sepp(Box::new(Sepp::new(
                sepp_config(net, spec, &flows, &ris, n, (&names, seed, mutants)),
                rng,
            )))
        } else if let Some(i) = pnf {
            if cnf {
                return Err(format!(
                    "n32: node `{}` is both a consumer and a producer",
                    names[n as usize]
                ));
            }
            let f = &flows[i];
            // Its vectors from a stream of their own, so that they shift no processing delay.
            let av = stream(seed, &format!("av:{}", names[n as usize]));
            let api_root = format!("https://{}.5gc.example", names[n as usize]);
            N32Node::Pnf(Pnf::new(
                f.processing.clone(),
                f.spec.response_bytes as usize,
                (rng, av),
                api_root,
            ))
        } else {
            let mut own = BTreeMap::new();
            for (i, f) in flows.iter().enumerate().filter(|(_, f)| f.cnf == n) {
                own.insert(
                    i as u32,
                    CnfFlow {
                        rng: stream(seed, &format!("flow:{}", f.label)),
                        label: f.label.clone(),
                        csepp: f.csepp,
                        pnf_name: name_of(f.pnf),
                        via_name: via_name(f),
                        arrival: f.arrival.clone(),
                        request_bytes: f.spec.request_bytes as usize,
                        home_domain: net.topo.node(f.pnf).domain,
                        serving_network_name: payload::serving_network_name(net.topo.node(n).domain),
                        timeout: f.spec.timeout,
                        sent: 0,
                    },
                );
            }
            N32Node::Cnf(Cnf::new(name_of(n), own, mutants))
        };
        nodes.insert(n, node);
    }
    let plmns: Vec<String> = (0..count).map(|n| net.topo.domain_of(n).name.clone()).collect();
    for (n, (ri, identity)) in ris {
        let cfg = RiConfig {
            node: n,
            names: names.clone(),
            plmns: plmns.clone(),
            identity,
            modify: spec.ri_modify,
            sign: full,
            mutants,
        };
        nodes.insert(n, N32Node::Ri(RiNode::new(ri, cfg)));
    }
    let arrivals = flows
        .iter()
        .enumerate()
        .map(|(i, f)| (SimTime::ZERO + f.spec.start, f.cnf, Timer::Arrival(i as u32)))
        .collect();
    let terminations = match flows.first() {
        Some(f) => spec
            .terminate_at
            .iter()
            .map(|&t| (SimTime::ZERO + t, f.csepp))
            .collect(),
        None => Vec::new(),
    };
    Ok(N32Build {
        nodes,
        arrivals,
        terminations,
    })
}

/// A SEPP's configuration: its own parameters, the flows it is the c-SEPP of, its p-SEPP
/// side, and the keys of the IPX providers it deals with.
fn sepp_config(
    net: &Network,
    spec: &N32Spec,
    flows: &[Flow],
    ris: &BTreeMap<NodeId, (Ri, RiIdentity)>,
    n: NodeId,
    (names, seed, mutants): (&Names, u64, Mutants),
) -> SeppConfig {
    let full = net.sec.fidelity == CryptoFidelity::Full;
    let params = LocalParams::new(format!("{}.5gc.example", names[n as usize]), protection_policy());
    let mut initiator = InitiatorConfig::new(params.clone());
    initiator.capabilities = spec
        .initiator_capabilities
        .clone()
        .unwrap_or_else(|| vec![SecurityCapability::Prins, SecurityCapability::Tls]);
    initiator.tls_close = spec.tls_close;
    let mut responder = ResponderConfig::new(params);
    responder.capability = LocalCapPolicy {
        supported: spec
            .responder_capabilities
            .clone()
            .unwrap_or_else(|| vec![SecurityCapability::Tls, SecurityCapability::Prins]),
        prefer: spec.preference,
    };
    responder.tls_close = spec.tls_close;
    responder.mutants = mutants;
    let mut own = BTreeMap::new();
    let mut ipx_keys = BTreeMap::new();
    let mut ri_rejections = BTreeMap::new();
    for (i, f) in flows.iter().enumerate() {
        if f.csepp == n || f.psepp == n {
            for r in &f.ris {
                if let Some((_, id)) = ris.get(r) {
                    ipx_keys.insert(id.fqdn.clone(), *id.key.verifying_key());
                }
            }
        }
        if f.csepp != n {
            continue;
        }
        if let Some((ri, _)) = f.via.and_then(|v| ris.get(&v)) {
            let v = f.via.unwrap_or_default();
            ri_rejections.insert(v, (ri.policy().rejection.encoding, ri.verifying_key()));
        }
        own.insert(
            i as u32,
            SeppFlow {
                label: f.label.clone(),
                psepp: f.psepp,
                via: f.via,
                ris: f.ris.clone(),
                authorized_ipx: f.ris.first().filter(|_| full).map(|&r| ri_fqdn(&names[r as usize])),
                fault_ri: f.ris.first().and_then(|r| ris.get(r)).map(|(_, id)| id.clone()),
            },
        );
    }
    let producer = match flows.iter().find(|f| f.psepp == n) {
        Some(f) => ProducerSide {
            pnf: Some(f.pnf),
            csepp: Some(f.csepp),
            local_ri: (f.ris.len() == 2)
                .then(|| f.ris[1])
                .filter(|_| full)
                .map(|r| ri_fqdn(&names[r as usize])),
            path_ris: f.ris.len() as u64,
        },
        None => ProducerSide::default(),
    };
    SeppConfig {
        node: n,
        names: names.clone(),
        initiator,
        responder,
        policy: policy_view(&protection_policy()),
        retry_after: spec.retry_after.unwrap_or(SimDuration::from_secs(10)),
        flows: own,
        faults: spec.faults.clone(),
        ipx_keys,
        ri_rejections,
        mapping: spec.csepp_mapping.clone(),
        producer,
        full,
        seed,
        mutants,
    }
}
