//! # secsim
//!
//! A deterministic discrete-event simulator for the security procedures at 5G trust-domain
//! borders (N32 between SEPPs, CAPIF between invokers, CCFs and AEFs).
//!
//! One way through, one module per step:
//!
//! ```text
//!  scenario (RON files) ──► net (topology graph, links, connections) + actors
//!        │                                   │
//!        ▼                                   ▼
//!  engine (event loop, time, RNG streams) ◄──┘   proto (sans-IO protocol machines)
//!        │
//!        ▼
//!  metrics (records → CSV, plots, trace)
//! ```
//!
//! - [`engine`]: time, queue, RNG streams, the event loop. Knows nothing of 3GPP.
//! - [`net`]: topology, links (latency, loss, bandwidth, outages), routing, and the
//!   connection model (TCP, TLS 1.3 flights, HTTP/2 streams, CONNECT tunnels).
//! - [`scenario`]: RON schema, loading with located errors, validation.
//! - [`crypto`]: key schedules and message protection (KDFs, TLS 1.3/1.2, N32-f keys, JOSE,
//!   JWT, PKI) and the simulated CPU cost model.
//! - [`proto`]: sans-IO protocol machines and message types (N32-c, N32-f PRINS, Roaming
//!   Intermediaries, CAPIF).
//! - [`metrics`]: per-procedure records, CSV, plots.
//! - [`bench`](mod@bench): benchmarks on the engine (PHOLD, N32 handshakes).
//! - [`world`]: the actors of a scenario on the network (HTTP flows, the N32 plane).
//! - [`run`]: runs seeds in parallel and writes results.
//! - [`run_trace`](mod@run_trace): `secsim trace`, one seed's sequence chart.
//! - [`audit`]: the facts the planes emit for the checker and the mutant switches; a leaf
//!   module, so dependencies point one way (world, proto, net → audit ← check).
//! - [`check`]: the behavioural invariants, judged from a run's audit trail; random
//!   scenarios for property tests and the soak tier.

pub mod audit;
pub mod bench;
pub mod build;
pub mod check;
pub mod compare;
pub mod crypto;
pub mod engine;
pub mod metrics;
pub mod net;
pub mod proto;
pub mod run;
pub mod run_trace;
pub mod scenario;
pub mod sweep;
pub mod world;
