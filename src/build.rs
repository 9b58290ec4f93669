//! Scenario → node machines: each plane's builder reads the scenario (topology, workload,
//! knobs) and gives every node its own machine, configured with only what that node may
//! know (its keys, certificates, trust anchors, policy, knobs and its peers' addresses).
//! The world then only carries messages between them ([`crate::world`]).

pub mod capif;
pub mod http;
pub mod n32;

use crate::engine::{Sim, SimDuration, SimTime};
use crate::net::tls::Security;
use crate::net::{NetConfig, Network, Topology};
use crate::scenario::{ExperimentFile, TopologyFile, WorkloadSpec};
use crate::world::{Driver, Msg, SimWorld};

/// A world that could not be built from a scenario.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("topology: {0}")]
    Topology(#[from] crate::net::topology::TopologyError),
    #[error("workload[{index}]: unknown node `{name}`")]
    UnknownNode { index: usize, name: String },
    #[error("workload[{index}]: {message}")]
    Workload { index: usize, message: String },
    #[error("crypto: {0}")]
    Crypto(String),
    /// An N32 or CAPIF plane refused the scenario; the message names the field itself
    /// (`workload[3].Capif.ccf: unknown node ...`, `n32.ri_policies[ri-a]: ...`), once.
    #[error("{0}")]
    Plane(String),
}

/// The scenario as a simulation ready to run: the world built for `seed` and its initial
/// events scheduled (turn the audit or the trace on before running, as needed). The one way
/// every caller goes from a scenario to a running [`Sim`].
pub fn simulation(topo_spec: &TopologyFile, exp: &ExperimentFile, seed: u64) -> Result<Sim<SimWorld>, BuildError> {
    let world = self::world(topo_spec, exp, seed)?;
    let initial = world.initial_events();
    let mut sim = Sim::new(world);
    for (t, node, msg) in initial {
        sim.schedule(t, node, msg);
    }
    Ok(sim)
}

/// Builds the world for one seed: the network, then each plane's machines.
pub fn world(topo_spec: &TopologyFile, exp: &ExperimentFile, seed: u64) -> Result<SimWorld, BuildError> {
    let topo = Topology::build(topo_spec, seed)?;
    let (mut http_flows, mut n32_flows, mut capif_flows) = (Vec::new(), Vec::new(), Vec::new());
    for (index, w) in exp.workload.iter().enumerate() {
        match w {
            WorkloadSpec::N32(f) => n32_flows.push((index, f)),
            WorkloadSpec::Capif(f) => capif_flows.push((index, f)),
            WorkloadSpec::Http(f) => http_flows.push((index, f)),
        }
    }
    let http = http::build(&topo, topo_spec, &http_flows, seed)?;
    let cfg = NetConfig {
        idle_timeout: exp.network.idle_timeout.unwrap_or(SimDuration::from_secs(60)),
        tls_to_proxy: exp.network.tls_to_proxy.unwrap_or(false),
        connect_timeout: exp.network.connect_timeout.unwrap_or(SimDuration::from_secs(3)),
        ..NetConfig::default()
    };
    let costs = exp.crypto.costs.clone().unwrap_or_default();
    costs.validate().map_err(|e| BuildError::Crypto(e.to_string()))?;
    let mut sec = Security::build(&topo, seed, exp.crypto.fidelity, costs).map_err(BuildError::Crypto)?;
    sec.mutants = exp.mutants();
    let mut net = Network::new(topo, cfg, sec);
    let node_count = net.topo.node_count();
    let mut n32_nodes = vec![false; node_count];
    let n32 = if n32_flows.is_empty() {
        None
    } else {
        let plane = n32::plane(&net, exp, &n32_flows, seed).map_err(BuildError::Plane)?;
        for &n in plane.nodes.machines.keys() {
            n32_nodes[n as usize] = true;
        }
        Some(plane)
    };
    let mut capif_nodes = vec![false; node_count];
    let capif = if capif_flows.is_empty() {
        None
    } else {
        let plane = capif::plane(&mut net, topo_spec, &exp.capif, &capif_flows, (seed, exp.mutants()))
            .map_err(BuildError::Plane)?;
        for &n in plane.nodes.keys() {
            capif_nodes[n as usize] = true;
        }
        Some(plane)
    };
    // A node runs one plane's machine (the validator refuses this, located).
    if let Some(n) = (0..node_count).find(|&n| n32_nodes[n] && capif_nodes[n]) {
        return Err(BuildError::Plane(format!(
            "node `{}` is in an N32 flow and in a Capif flow",
            net.topo.name(n as crate::net::NodeId)
        )));
    }
    Ok(SimWorld {
        net,
        capif,
        capif_nodes,
        http: http.nodes,
        http_driver: Driver::new(|_, t| Msg::Http(t)),
        http_initial: http.initial,
        records: Vec::new(),
        warmup: SimTime::ZERO + exp.warmup,
        max_records: usize::MAX,
        n32,
        n32_nodes,
    })
}
