//! The topology: a petgraph `StableDiGraph` of nodes (each in a trust domain) and
//! per-direction links, with routes by lowest mean latency.
//!
//! Node indices are dense and equal to the order of `nodes` in the file; they double as
//! engine actor ids. Every link direction draws from its own RNG stream named
//! `link:<source>-><target>`, so adding a link changes no other link's draws.
//!
//! Routing: for each destination (on first use, then cached for the run), Dijkstra over the
//! reversed graph with the links' mean latency as weights gives every node its next hop.
//! Ties go to the lower node index, so routes are deterministic.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use petgraph::Direction;
use petgraph::stable_graph::{EdgeIndex, NodeIndex, StableDiGraph};
use petgraph::visit::EdgeRef;

use super::link::{Latency, LatencyError, Link, RTO_DEFAULT, Transit};
use crate::engine::{SimTime, stream};
use crate::scenario::{DomainKind, NodeRole, TopologyFile};

/// A node id: the node's index in the topology file, also its engine actor id.
pub type NodeId = u32;

/// A network node.
#[derive(Clone, Debug)]
pub struct Node {
    pub name: String,
    /// Index into [`Topology::domains`].
    pub domain: u32,
    pub role: NodeRole,
}

/// A trust domain.
#[derive(Clone, Debug)]
pub struct Domain {
    pub name: String,
    pub kind: DomainKind,
}

/// A topology that could not be built (the loader's validation normally reports these
/// with file positions first).
#[derive(Clone, Debug, thiserror::Error, PartialEq)]
pub enum TopologyError {
    #[error("node `{node}` names unknown domain `{domain}`")]
    UnknownDomain { node: String, domain: String },
    #[error("link names unknown node `{0}`")]
    UnknownNode(String),
    #[error("duplicate node `{0}`")]
    DuplicateNode(String),
    #[error("link {source_node} -> {target}: {error}")]
    Latency {
        source_node: String,
        target: String,
        error: LatencyError,
    },
}

/// The network graph plus routing state.
#[derive(Clone, Debug)]
pub struct Topology {
    pub graph: StableDiGraph<Node, Link>,
    pub domains: Vec<Domain>,
    by_name: BTreeMap<String, NodeId>,
    /// Per destination (by node id): next-hop edge from each node (`u32::MAX`: none); empty
    /// until the destination is first used.
    next_hop: Vec<Vec<u32>>,
}

const NO_EDGE: u32 = u32::MAX;

impl Topology {
    /// Builds the graph; link RNG streams derive from `seed`.
    pub fn build(spec: &TopologyFile, seed: u64) -> Result<Topology, TopologyError> {
        let domains: Vec<Domain> = spec
            .domains
            .iter()
            .map(|d| Domain {
                name: d.name.clone(),
                kind: d.kind,
            })
            .collect();
        let mut graph = StableDiGraph::new();
        let mut by_name = BTreeMap::new();
        for n in &spec.nodes {
            let domain =
                domains
                    .iter()
                    .position(|d| d.name == n.domain)
                    .ok_or_else(|| TopologyError::UnknownDomain {
                        node: n.name.clone(),
                        domain: n.domain.clone(),
                    })?;
            let idx = graph.add_node(Node {
                name: n.name.clone(),
                domain: domain as u32,
                role: n.role,
            });
            if by_name.insert(n.name.clone(), idx.index() as NodeId).is_some() {
                return Err(TopologyError::DuplicateNode(n.name.clone()));
            }
        }
        for l in &spec.links {
            let a = *by_name
                .get(&l.source)
                .ok_or_else(|| TopologyError::UnknownNode(l.source.clone()))?;
            let b = *by_name
                .get(&l.target)
                .ok_or_else(|| TopologyError::UnknownNode(l.target.clone()))?;
            let latency = Latency::from_spec(&l.latency).map_err(|error| TopologyError::Latency {
                source_node: l.source.clone(),
                target: l.target.clone(),
                error,
            })?;
            let down: Vec<_> = l
                .down
                .iter()
                .map(|w| (SimTime::ZERO + w.from, w.to.map(|t| SimTime::ZERO + t)))
                .collect();
            let bps = l.bandwidth_mbps.map(|m| m * 1e6);
            let rto = l.rto.unwrap_or(RTO_DEFAULT);
            let mut add = |from: NodeId, to: NodeId| {
                let name = format!(
                    "link:{}->{}",
                    spec.nodes[from as usize].name, spec.nodes[to as usize].name
                );
                let link = Link::new(latency.clone(), l.loss, rto, bps, down.clone(), stream(seed, &name));
                graph.add_edge(NodeIndex::new(from as usize), NodeIndex::new(to as usize), link);
            };
            add(a, b);
            if l.duplex {
                add(b, a);
            }
        }
        Ok(Topology {
            graph,
            domains,
            by_name,
            next_hop: Vec::new(),
        })
    }

    /// The id of the node called `name`.
    pub fn node_id(&self, name: &str) -> Option<NodeId> {
        self.by_name.get(name).copied()
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.graph[NodeIndex::new(id as usize)]
    }

    pub fn name(&self, id: NodeId) -> &str {
        &self.node(id).name
    }

    pub fn node_count(&self) -> usize {
        self.graph.node_count()
    }

    /// The domain of a node.
    pub fn domain_of(&self, id: NodeId) -> &Domain {
        &self.domains[self.node(id).domain as usize]
    }

    fn routes_to(&mut self, dest: NodeId) -> &[u32] {
        let d = dest as usize;
        if self.next_hop.len() <= d {
            self.next_hop.resize(d + 1, Vec::new());
        }
        if self.next_hop[d].is_empty() {
            self.next_hop[d] = Self::next_hops(&self.graph, dest);
        }
        &self.next_hop[d]
    }

    /// Every node's next-hop edge towards `dest` (`NO_EDGE`: none).
    fn next_hops(graph: &StableDiGraph<Node, Link>, dest: NodeId) -> Vec<u32> {
        let n = graph.node_count();
        let mut dist = vec![u64::MAX; n];
        let mut next = vec![NO_EDGE; n];
        let mut heap = BinaryHeap::new();
        dist[dest as usize] = 0;
        heap.push(Reverse((0u64, dest)));
        while let Some(Reverse((d, v))) = heap.pop() {
            if d > dist[v as usize] {
                continue;
            }
            // Every edge u -> v: u can reach dest through v. Weights are the mean
            // latency in whole ns plus 1, so equal latencies prefer fewer hops; the heap
            // order (distance, node index) and strict improvement make ties deterministic.
            for e in graph.edges_directed(NodeIndex::new(v as usize), Direction::Incoming) {
                let u = e.source().index();
                let w = e.weight().latency.mean_ns().max(0.0).round() as u64 + 1;
                let nd = d.saturating_add(w);
                if nd < dist[u] {
                    dist[u] = nd;
                    next[u] = e.id().index() as u32;
                    heap.push(Reverse((nd, u as u32)));
                }
            }
        }
        next
    }

    /// The directed links from `from` to `to` along the route, or `None` if unreachable.
    pub fn path(&mut self, from: NodeId, to: NodeId) -> Option<Vec<EdgeIndex>> {
        let mut hops = Vec::new();
        let mut cur = from;
        let n = self.graph.node_count();
        while cur != to {
            let e = self.routes_to(to)[cur as usize];
            if e == NO_EDGE || hops.len() > n {
                return None;
            }
            let e = EdgeIndex::new(e as usize);
            hops.push(e);
            cur = self.graph.edge_endpoints(e)?.1.index() as NodeId;
        }
        Some(hops)
    }

    /// Whether `to` can be reached from `from`.
    pub fn reachable(&mut self, from: NodeId, to: NodeId) -> bool {
        from == to || self.routes_to(to)[from as usize] != NO_EDGE
    }

    /// Sends `bytes` from `from` to `to` hop by hop, entering the first link at `at`.
    pub fn transmit(&mut self, from: NodeId, to: NodeId, at: SimTime, bytes: u32) -> Transit {
        let mut t = at;
        let mut retransmissions = 0;
        let mut cur = from;
        let n = self.graph.node_count();
        let mut hops = 0;
        while cur != to {
            let e = self.routes_to(to)[cur as usize];
            if e == NO_EDGE || hops > n {
                return Transit::GivenUp { at: t };
            }
            hops += 1;
            let e = EdgeIndex::new(e as usize);
            match self.graph[e].transmit(t, bytes) {
                Transit::Arrives { at, retransmissions: r } => {
                    t = at;
                    retransmissions += r;
                }
                given_up => return given_up,
            }
            cur = match self.graph.edge_endpoints(e) {
                Some((_, b)) => b.index() as NodeId,
                None => return Transit::GivenUp { at: t },
            };
        }
        Transit::Arrives { at: t, retransmissions }
    }

    /// The mean one-way latency along the route \[ns\] (without serialisation or loss).
    pub fn mean_latency_ns(&mut self, from: NodeId, to: NodeId) -> Option<f64> {
        let path = self.path(from, to)?;
        Some(path.iter().map(|&e| self.graph[e].latency.mean_ns()).sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SimDuration;
    use crate::scenario::{DomainSpec, LatencySpec, LinkSpec, NodeSpec};

    fn topo(links: &[(&str, &str, u64)]) -> Topology {
        let mut names: Vec<&str> = links.iter().flat_map(|l| [l.0, l.1]).collect();
        names.sort();
        names.dedup();
        let spec = TopologyFile {
            domains: vec![DomainSpec {
                name: "d".into(),
                kind: DomainKind::Plmn,
            }],
            nodes: names
                .iter()
                .map(|n| NodeSpec {
                    name: n.to_string(),
                    domain: "d".into(),
                    role: NodeRole::Nf,
                })
                .collect(),
            links: links
                .iter()
                .map(|&(a, b, ms)| LinkSpec {
                    source: a.into(),
                    target: b.into(),
                    duplex: true,
                    latency: LatencySpec::Constant(SimDuration::from_millis(ms)),
                    loss: 0.0,
                    rto: None,
                    bandwidth_mbps: None,
                    down: vec![],
                })
                .collect(),
        };
        Topology::build(&spec, 1).unwrap()
    }

    fn names(t: &mut Topology, from: &str, to: &str) -> Vec<String> {
        let (a, b) = (t.node_id(from).unwrap(), t.node_id(to).unwrap());
        let path = t.path(a, b).unwrap();
        let mut out = vec![from.to_string()];
        for e in path {
            let (_, y) = t.graph.edge_endpoints(e).unwrap();
            out.push(t.graph[y].name.clone());
        }
        out
    }

    #[test]
    fn routes_follow_lowest_mean_latency() {
        // a-b-d costs 2+2, a-c-d costs 1+5: the route goes through b.
        let mut t = topo(&[("a", "b", 2), ("b", "d", 2), ("a", "c", 1), ("c", "d", 5)]);
        assert_eq!(names(&mut t, "a", "d"), ["a", "b", "d"]);
        assert_eq!(names(&mut t, "d", "a"), ["d", "b", "a"]);
        assert_eq!(names(&mut t, "c", "b"), ["c", "a", "b"]);
        let (a, d) = (t.node_id("a").unwrap(), t.node_id("d").unwrap());
        assert_eq!(t.mean_latency_ns(a, d), Some(4e6));
        assert_eq!(
            t.transmit(a, d, SimTime::ZERO, 100),
            Transit::Arrives {
                at: SimTime::ZERO + SimDuration::from_millis(4),
                retransmissions: 0
            }
        );
    }

    #[test]
    fn unreachable_is_reported() {
        let mut t = topo(&[("a", "b", 1), ("c", "d", 1)]);
        let (a, d) = (t.node_id("a").unwrap(), t.node_id("d").unwrap());
        assert!(t.path(a, d).is_none());
        assert!(!t.reachable(a, d));
        assert!(matches!(t.transmit(a, d, SimTime::ZERO, 1), Transit::GivenUp { .. }));
    }
}
