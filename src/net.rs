//! The simulated network: topology graph, links, routing, and the connection model.
//!
//! - [`topology`]: petgraph graph of nodes in trust domains and per-direction links;
//!   routes by lowest mean latency.
//! - [`link`]: latency distributions, loss as TCP retransmission delay, bandwidth, outages.
//! - [`http`]: HTTP/2 messages and their size on the wire.
//! - [`conn`]: TCP + TLS 1.3 + HTTP/2 connections, CONNECT tunnels, idle timeouts.

pub mod conn;
pub mod http;
pub mod link;
mod query;
pub mod tls;
pub mod topology;

pub use conn::{ClientTraffic, ConnFailure, ConnId, NetConfig, NetEvent, Network, Segment, Wire};
pub use http::{HttpRequest, HttpResponse};
pub use link::{Latency, Link, Transit};
pub use topology::{NodeId, Topology};
