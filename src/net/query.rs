//! What a node's own stack knows about a connection or a route: the questions the world's
//! routers ask the network model on a node's behalf (the ends of its connection, its TLS
//! secrets, the peer its TLS stack authenticated, the hops a packet of its takes). This is
//! the one surface through which `world/` reads the network besides the driver (the wire-truth
//! hygiene test, `tests/sim/hygiene.rs`, holds the routers to it).

use crate::crypto::pki::Certificate;
use crate::crypto::tls13::Tls13Secrets;
use crate::engine::Ctx;

use super::tls::TlsMode;
use super::{ConnId, Network, NodeId, Wire};

impl Network {
    /// The TLS secrets of connection `conn`, the server's side or the client's (a node's own
    /// TLS stack hands them to its machine).
    pub fn tls_secrets(&self, conn: ConnId, server: bool) -> Option<Tls13Secrets> {
        let tls = &self.conn(conn).tls;
        if server {
            tls.server_secrets.clone()
        } else {
            tls.client_secrets.clone()
        }
    }

    /// The two ends of connection `conn` (client, server): the peer address a node's own
    /// transport knows of a connection it is an end of.
    pub fn ends(&self, conn: ConnId) -> (NodeId, NodeId) {
        let c = self.conn(conn);
        (c.client, c.server)
    }

    /// The nodes a message from `from` to `to` passes, in order (`to` last).
    pub fn route_nodes(&mut self, from: NodeId, to: NodeId) -> Vec<NodeId> {
        let path = self.topo.path(from, to).unwrap_or_default();
        let ends = path.iter().filter_map(|&e| self.topo.graph.edge_endpoints(e));
        ends.map(|(_, b)| b.index() as NodeId).collect()
    }

    /// How connection `conn` is authenticated (the PSK identity and key the client offered,
    /// or certificates).
    pub fn tls_mode(&self, conn: ConnId) -> &TlsMode {
        &self.conn(conn).tls.mode
    }

    /// The certificate `node` presents, and the name in it.
    pub fn identity(&self, node: NodeId) -> (&Certificate, String) {
        (
            self.sec.certificate(node),
            self.sec.expected_name(node, self.topo.name(node)),
        )
    }

    /// A restarting node: every connection it is an end of is reset at its client now.
    pub fn reset_connections<M: From<Wire>>(&self, ctx: &mut Ctx<'_, M>, node: NodeId) {
        let now = ctx.now();
        for id in 0..self.conn_count() as ConnId {
            let c = self.conn(id);
            if c.client == node || c.server == node {
                ctx.send_at(c.client, now, M::from(Wire::Reset(id)));
            }
        }
    }
}
