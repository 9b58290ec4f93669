//! The plain HTTP flows' builder: scenario → one [`HttpNode`] per node (client, server or
//! proxy of the `Http` workload flows; every other node answers unknown requests with 404).
//! Each flow draws its arrivals from the stream `flow:<name>`, each server its processing
//! delays from `node:<name>`.

use std::collections::BTreeMap;

use super::BuildError;
use crate::engine::{SimTime, stream};
use crate::net::{Latency, NodeId, Topology};
use crate::proto::workload::{ClientFlow, HttpNode, ServedFlow, Timer};
use crate::scenario::{HttpFlowSpec, TopologyFile};

/// A JSON body of exactly `n` bytes (at least `{"d":""}`, 8 bytes).
pub fn body_of(n: u32) -> String {
    let pad = (n as usize).saturating_sub(8);
    format!("{{\"d\":\"{}\"}}", "x".repeat(pad))
}

/// The HTTP machines of a run, one per node, and each flow's first arrival (in flow order).
pub struct HttpNodes {
    pub nodes: Vec<HttpNode>,
    pub initial: Vec<(SimTime, NodeId, Timer)>,
}

/// Builds the machines for `flows` (each with its index in the workload).
pub fn build(
    topo: &Topology,
    topo_spec: &TopologyFile,
    flows: &[(usize, &HttpFlowSpec)],
    seed: u64,
) -> Result<HttpNodes, BuildError> {
    let lookup = |index: usize, name: &str| {
        topo.node_id(name).ok_or_else(|| BuildError::UnknownNode {
            index,
            name: name.to_string(),
        })
    };
    let count = topo_spec.nodes.len();
    let mut clients: Vec<Vec<ClientFlow>> = vec![Vec::new(); count];
    let mut serves: Vec<BTreeMap<u32, ServedFlow>> = vec![BTreeMap::new(); count];
    let mut initial = Vec::new();
    for (fi, &(index, f)) in flows.iter().enumerate() {
        let client = lookup(index, &f.client)?;
        let server = lookup(index, &f.server)?;
        let via = f.via.as_deref().map(|v| lookup(index, v)).transpose()?;
        let label = f.name.clone().unwrap_or_else(|| match &f.via {
            Some(v) => format!("{}->{} via {v}", f.client, f.server),
            None => format!("{}->{}", f.client, f.server),
        });
        let workload = |message: String| BuildError::Workload { index, message };
        let arrival = f.arrival.process().map_err(|e| workload(format!("arrival: {e}")))?;
        let processing = f
            .processing
            .as_ref()
            .map(Latency::from_spec)
            .transpose()
            .map_err(|e| workload(format!("processing: {e}")))?;
        let start = SimTime::ZERO + f.start;
        let local = clients[client as usize].len() as u32;
        initial.push((start, client, Timer::Arrival(local)));
        clients[client as usize].push(ClientFlow {
            index: fi as u32,
            rng: stream(seed, &format!("flow:{label}")),
            label,
            server,
            via,
            server_name: f.server.clone(),
            via_name: f.via.clone().unwrap_or_default(),
            arrival,
            request_body: body_of(f.request_bytes),
            timeout: f.timeout,
            start,
        });
        serves[server as usize].insert(
            fi as u32,
            ServedFlow {
                response_body: body_of(f.response_bytes),
                processing,
            },
        );
    }
    let nodes = topo_spec
        .nodes
        .iter()
        .zip(clients)
        .zip(serves)
        .map(|((n, c), s)| HttpNode::new(n.name.clone(), stream(seed, &format!("node:{}", n.name)), c, s))
        .collect();
    Ok(HttpNodes { nodes, initial })
}
