//! The plain HTTP flows' builder: scenario → one [`HttpNode`] per node (client, server or
//! proxy of the `Http` workload flows; every other node answers unknown requests with 404).
//! Each flow draws its arrivals from the stream `flow:<name>`, each server its processing
//! delays from `node:<name>` and its authentication vectors from `av:<name>`. The bodies are
//! TS 29.509 ones ([`crate::proto::payload`]).

use std::collections::BTreeMap;

use super::BuildError;
use crate::engine::{SimTime, stream};
use crate::net::{Latency, NodeId, Topology};
use crate::proto::payload;
use crate::proto::workload::{ClientFlow, FLOWS_PER_SERVER_MAX, HttpNode, ServedFlow, Timer};
use crate::scenario::{HttpFlowSpec, TopologyFile};

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
    for &(index, f) in flows {
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
        // The flow's number at its server, which picks its subscribers (`flow_msin`).
        let tag = serves[server as usize].len() as u32;
        if tag >= FLOWS_PER_SERVER_MAX {
            return Err(workload(format!(
                "server `{}` serves more than {FLOWS_PER_SERVER_MAX} Http flows (a flow's requests \
                 are told apart by four digits of the SUPI)",
                f.server
            )));
        }
        let local = clients[client as usize].len() as u32;
        initial.push((start, client, Timer::Arrival(local)));
        clients[client as usize].push(ClientFlow {
            tag,
            rng: stream(seed, &format!("flow:{label}")),
            label,
            server,
            via,
            server_name: f.server.clone(),
            via_name: f.via.clone().unwrap_or_default(),
            arrival,
            request_bytes: f.request_bytes as usize,
            home_domain: topo.node(server).domain,
            serving_network_name: payload::serving_network_name(topo.node(client).domain),
            timeout: f.timeout,
            start,
        });
        serves[server as usize].insert(
            tag,
            ServedFlow {
                response_bytes: f.response_bytes as usize,
                processing,
            },
        );
    }
    let nodes = topo_spec
        .nodes
        .iter()
        .zip(clients)
        .zip(serves)
        .map(|((n, c), s)| {
            let streams = (
                stream(seed, &format!("node:{}", n.name)),
                stream(seed, &format!("av:{}", n.name)),
            );
            HttpNode::new(n.name.clone(), streams, c, s)
        })
        .collect();
    Ok(HttpNodes { nodes, initial })
}
