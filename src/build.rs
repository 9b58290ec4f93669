//! Scenario → node machines: each plane's builder reads the scenario (topology, workload,
//! knobs) and gives every node its own machine, configured with only what that node may
//! know (its keys, certificates, trust anchors, policy, knobs and its peers' addresses).
//! The world then only carries messages between them ([`crate::world`]).

pub mod capif;
pub mod http;
pub mod n32;
