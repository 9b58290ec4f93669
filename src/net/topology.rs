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
//!
//! The Dijkstra runs on `Routing`, an index of the reversed graph built on the first
//! route query: each node's incoming links in petgraph's iteration order with their integer
//! weights computed once, and the distance and heap buffers reused between destinations.
//! A *pendant* node (all its links, in and out, go to one neighbour `v`) gets its distance
//! and next hop when `v` is settled but is never queued: settling it could improve nothing
//! (its only predecessor is `v`, already settled), so the routes are those of the plain
//! algorithm (`tests::routes_match_plain_dijkstra`). In a star of invokers behind one
//! access router this skips a heap push and pop per invoker per destination.
//!
//! A *leaf* destination (a node whose links all go to one neighbour `p`, with at least one
//! link into it) gets no table of its own: every route to it ends with `p`'s cheapest link
//! into it (the first of the cheapest, as the algorithm picks), and Dijkstra from the leaf
//! is Dijkstra from `p` with every distance shifted by that link's weight, which keeps every
//! comparison and tie, so the next hops elsewhere are `p`'s (`tests::routes_match_plain_dijkstra`).
//! A table costs 4 bytes per node, so without this 100,000 invokers (each a destination of
//! its CCF's and AEF's answers) would take 40 GB; with it the tables are those of the few
//! routers and servers.

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
    /// The reversed graph for routing, built on the first route query.
    routing: Option<Box<Routing>>,
}

const NO_EDGE: u32 = u32::MAX;

/// A link seen from its target: the node that can use it and its routing weight.
#[derive(Clone, Copy, Debug)]
struct InLink {
    source: u32,
    edge: u32,
    weight: u64,
}

/// The reversed graph in compressed form, plus the Dijkstra's buffers.
#[derive(Clone, Debug)]
struct Routing {
    /// Node `v`'s incoming links are `ins[start[v]..start[v + 1]]`, in the order of
    /// `edges_directed(v, Incoming)`.
    start: Vec<u32>,
    ins: Vec<InLink>,
    /// Pendant nodes (see the module notes): never queued.
    pendant: Vec<bool>,
    /// For a leaf destination (see the module notes): its neighbour and the link from it
    /// that every route to the leaf ends with.
    leaf: Vec<Option<(u32, u32)>>,
    dist: Vec<u64>,
    heap: BinaryHeap<Reverse<(u64, u32)>>,
}

impl Routing {
    fn new(graph: &StableDiGraph<Node, Link>) -> Routing {
        let n = graph.node_count();
        let mut start = Vec::with_capacity(n + 1);
        let mut ins = Vec::with_capacity(graph.edge_count());
        for v in 0..n {
            start.push(ins.len() as u32);
            for e in graph.edges_directed(NodeIndex::new(v), Direction::Incoming) {
                ins.push(InLink {
                    source: e.source().index() as u32,
                    edge: e.id().index() as u32,
                    // Mean latency in whole ns plus 1, so equal latencies prefer fewer hops.
                    weight: e.weight().latency.mean_ns().max(0.0).round() as u64 + 1,
                });
            }
        }
        start.push(ins.len() as u32);
        // The one neighbour of each node over all its links (`Some(None)`: several).
        let mut only: Vec<Option<Option<u32>>> = vec![None; n];
        for e in graph.edge_indices() {
            let Some((a, b)) = graph.edge_endpoints(e) else {
                continue;
            };
            let (a, b) = (a.index() as u32, b.index() as u32);
            for (x, y) in [(a, b), (b, a)] {
                let o = &mut only[x as usize];
                *o = match *o {
                    None if x != y => Some(Some(y)),
                    Some(Some(z)) if z == y => Some(Some(y)),
                    _ => Some(None),
                };
            }
        }
        // A node with links to one other node only, and at least one of them outgoing.
        let pendant = (0..n)
            .map(|u| {
                matches!(only[u], Some(Some(_)))
                    && graph
                        .edges_directed(NodeIndex::new(u), Direction::Outgoing)
                        .next()
                        .is_some()
            })
            .collect();
        // A leaf: one neighbour over all its links and at least one link into it; the first
        // of its cheapest incoming links (all from that neighbour) ends every route to it.
        let leaf = (0..n)
            .map(|v| {
                matches!(only[v], Some(Some(_)))
                    .then(|| {
                        let links = &ins[start[v] as usize..start[v + 1] as usize];
                        let mut best: Option<&InLink> = None;
                        for l in links {
                            if best.is_none_or(|b| l.weight < b.weight) {
                                best = Some(l);
                            }
                        }
                        best.map(|b| (b.source, b.edge))
                    })
                    .flatten()
            })
            .collect();
        Routing {
            start,
            ins,
            pendant,
            leaf,
            dist: vec![u64::MAX; n],
            heap: BinaryHeap::new(),
        }
    }

    /// Every node's next-hop edge towards `dest` (`NO_EDGE`: none).
    fn next_hops(&mut self, dest: NodeId) -> Vec<u32> {
        let n = self.dist.len();
        let dist = &mut self.dist;
        dist.fill(u64::MAX);
        let mut next = vec![NO_EDGE; n];
        let heap = &mut self.heap;
        heap.clear();
        dist[dest as usize] = 0;
        heap.push(Reverse((0u64, dest)));
        while let Some(Reverse((d, v))) = heap.pop() {
            if d > dist[v as usize] {
                continue;
            }
            // Every link u -> v: u can reach dest through v. The heap order (distance, node
            // index) and strict improvement make ties deterministic.
            let (a, b) = (self.start[v as usize] as usize, self.start[v as usize + 1] as usize);
            for l in &self.ins[a..b] {
                let u = l.source as usize;
                let nd = d.saturating_add(l.weight);
                if nd < dist[u] {
                    dist[u] = nd;
                    next[u] = l.edge;
                    if !self.pendant[u] {
                        heap.push(Reverse((nd, u as u32)));
                    }
                }
            }
        }
        next
    }
}

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
            routing: None,
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

    /// The next-hop edge from `cur` towards `dest` (`NO_EDGE`: none, or `cur == dest`).
    fn next_edge(&mut self, cur: NodeId, dest: NodeId) -> u32 {
        if cur == dest {
            return NO_EDGE;
        }
        let graph = &self.graph;
        let routing = self.routing.get_or_insert_with(|| Box::new(Routing::new(graph)));
        match routing.leaf[dest as usize] {
            Some((p, e)) if cur == p => e,
            Some((p, _)) => self.routes_to(p)[cur as usize],
            None => self.routes_to(dest)[cur as usize],
        }
    }

    fn routes_to(&mut self, dest: NodeId) -> &[u32] {
        let d = dest as usize;
        if self.next_hop.len() <= d {
            self.next_hop.resize(d + 1, Vec::new());
        }
        if self.next_hop[d].is_empty() {
            let graph = &self.graph;
            let routing = self.routing.get_or_insert_with(|| Box::new(Routing::new(graph)));
            self.next_hop[d] = routing.next_hops(dest);
        }
        &self.next_hop[d]
    }

    /// The directed links from `from` to `to` along the route, or `None` if unreachable.
    pub fn path(&mut self, from: NodeId, to: NodeId) -> Option<Vec<EdgeIndex>> {
        let mut hops = Vec::new();
        let mut cur = from;
        let n = self.graph.node_count();
        while cur != to {
            let e = self.next_edge(cur, to);
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
        from == to || self.next_edge(from, to) != NO_EDGE
    }

    /// Sends `bytes` from `from` to `to` hop by hop, entering the first link at `at`.
    pub fn transmit(&mut self, from: NodeId, to: NodeId, at: SimTime, bytes: u32) -> Transit {
        let mut t = at;
        let mut retransmissions = 0;
        let mut cur = from;
        let n = self.graph.node_count();
        let mut hops = 0;
        while cur != to {
            let e = self.next_edge(cur, to);
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

    /// The routing of the branch point, kept as it was: Dijkstra on the petgraph graph,
    /// the weight recomputed at every relaxation, every improved node queued.
    fn plain_next_hops(graph: &StableDiGraph<Node, Link>, dest: NodeId) -> Vec<u32> {
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

    /// A random topology: stars of pendant nodes (some with parallel or one-way links),
    /// random links between hubs and leaves, self-loops, latencies drawn from a few values
    /// so that ties are common.
    fn random_topology(seed: u64) -> TopologyFile {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let n = rng.random_range(1..40usize);
        let name = |i: usize| format!("n{i}");
        let mut links = Vec::new();
        let ms = |rng: &mut rand::rngs::StdRng| SimDuration::from_micros(rng.random_range(1..6u64) * 500);
        let latency = |rng: &mut rand::rngs::StdRng| match rng.random_range(0..5) {
            0 | 1 => LatencySpec::Constant(ms(rng)),
            2 => {
                let (a, b) = (ms(rng), ms(rng));
                LatencySpec::Uniform {
                    min: a.min(b),
                    max: a.max(b),
                }
            }
            3 => LatencySpec::LogNormal {
                median: ms(rng),
                sigma: [0.0, 0.1, 0.2][rng.random_range(0..3)],
            },
            _ => LatencySpec::Constant(SimDuration::ZERO),
        };
        let hubs = rng.random_range(1..=n.min(4));
        for i in 0..n {
            let kind = rng.random_range(0..10);
            let (a, b) = if i < hubs || kind < 5 {
                // A leaf of a hub (or a link between hubs).
                (i, rng.random_range(0..hubs))
            } else {
                (i, rng.random_range(0..n))
            };
            let count = if kind == 9 { 2 } else { 1 };
            for _ in 0..count {
                let one_way = rng.random_range(0..8) == 0;
                let (s, t) = if one_way && rng.random_bool(0.5) {
                    (b, a)
                } else {
                    (a, b)
                };
                links.push(LinkSpec {
                    source: name(s),
                    target: name(t),
                    duplex: !one_way,
                    latency: latency(&mut rng),
                    loss: 0.0,
                    rto: None,
                    bandwidth_mbps: None,
                    down: vec![],
                });
            }
        }
        for _ in 0..rng.random_range(0..n) {
            let (a, b) = (rng.random_range(0..n), rng.random_range(0..n));
            links.push(LinkSpec {
                source: name(a),
                target: name(b),
                duplex: rng.random_bool(0.7),
                latency: latency(&mut rng),
                loss: 0.0,
                rto: None,
                bandwidth_mbps: None,
                down: vec![],
            });
        }
        TopologyFile {
            domains: vec![DomainSpec {
                name: "d".into(),
                kind: DomainKind::Plmn,
            }],
            nodes: (0..n)
                .map(|i| NodeSpec {
                    name: name(i),
                    domain: "d".into(),
                    role: NodeRole::Nf,
                })
                .collect(),
            links,
        }
    }

    #[test]
    fn routes_match_plain_dijkstra() {
        let mut pendants = 0;
        let mut leaves = 0;
        for seed in 0..3000 {
            let spec = random_topology(seed);
            let mut t = Topology::build(&spec, 1).unwrap();
            let n = t.node_count() as NodeId;
            for dest in 0..n {
                let want = plain_next_hops(&t.graph, dest);
                let got: Vec<u32> = (0..n).map(|cur| t.next_edge(cur, dest)).collect();
                assert_eq!(got, want, "seed {seed} dest {dest}");
            }
            // (A one-node topology asks no route question, so builds no routing.)
            if let Some(r) = t.routing.as_ref() {
                pendants += r.pendant.iter().filter(|&&p| p).count();
                leaves += r.leaf.iter().filter(|l| l.is_some()).count();
            }
            // Paths follow the tables.
            for from in 0..n {
                for to in 0..n {
                    if let Some(path) = t.path(from, to) {
                        let mut cur = from;
                        for e in path {
                            let (a, b) = t.graph.edge_endpoints(e).unwrap();
                            assert_eq!(a.index() as NodeId, cur);
                            cur = b.index() as NodeId;
                        }
                        assert_eq!(cur, to);
                    } else {
                        assert!(!t.reachable(from, to));
                    }
                }
            }
        }
        assert!(pendants > 10_000, "{pendants}");
        assert!(leaves > 10_000, "{leaves}");
    }

    /// Leaves of a star (invokers behind an access router) get no table of their own: every
    /// route between them is answered from the router's one table.
    #[test]
    fn a_star_of_leaves_needs_one_table() {
        let links: Vec<(String, String, u64)> = (0..500)
            .map(|i| (format!("leaf-{i:03}"), "hub".to_string(), 1 + i % 7))
            .collect();
        let links: Vec<(&str, &str, u64)> = links.iter().map(|(a, b, ms)| (a.as_str(), b.as_str(), *ms)).collect();
        let mut t = topo(&links);
        let (a, b, hub) = (
            t.node_id("leaf-001").unwrap(),
            t.node_id("leaf-499").unwrap(),
            t.node_id("hub").unwrap(),
        );
        for x in 0..500 {
            let l = t.node_id(&format!("leaf-{x:03}")).unwrap();
            assert_eq!(t.path(a, l).map(|p| p.len()), Some(if l == a { 0 } else { 2 }));
            assert_eq!(t.path(l, hub).map(|p| p.len()), Some(1));
        }
        assert!(t.reachable(b, a));
        assert_eq!(t.next_hop.iter().filter(|v| !v.is_empty()).count(), 1);
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
