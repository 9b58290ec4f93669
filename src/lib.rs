//! # secsim
//!
//! A deterministic discrete-event simulator for the security procedures at 5G trust-domain
//! borders (N32 between SEPPs, CAPIF between invokers, CCFs and AEFs).
//!
//! One way through, one module per step:
//!
//! ```text
//!  scenario (RON files) ──► build: topology graph + one node machine per node
//!        │                                   │
//!        ▼                                   ▼
//!  engine (event loop, time, RNG streams) ──► world: a thin driver that carries messages
//!        │                                   between machines over net (links, connections)
//!        ▼
//!  metrics (records → CSV, plots, trace) + audit facts → check (invariants)
//! ```
//!
//! - [`engine`]: time, queue, RNG streams, the event loop. Knows nothing of 3GPP.
//! - [`net`]: topology, links (latency, loss, bandwidth, outages), routing, and the
//!   connection model (TCP, TLS 1.3 flights, HTTP/2 streams with headers and typed bodies,
//!   CONNECT tunnels).
//! - [`scenario`]: RON schema, loading with located errors, validation.
//! - [`build`](mod@build): scenario → node machines, each configured with only what its node
//!   may know (its keys, certificates, trust anchors, policy, knobs, peers' addresses).
//! - [`crypto`]: key schedules and message protection (KDFs, TLS 1.3/1.2, N32-f keys, JOSE,
//!   JWT, PKI) and the simulated CPU cost model.
//! - [`proto`]: the sans-IO node machines and the procedures they run, one file per spec
//!   procedure. Every machine implements [`proto::effect::Machine`]: typed inputs
//!   (`handle(now, Input)`: a received message, a transport event on its own connection, its
//!   own timer) and effects drained in order (`poll_effect`). It never sees the network, the
//!   engine or another machine (`tests/sim/hygiene.rs` checks the source).
//! - [`world`]: the generic driver ([`world::driver`]: one request correlator and one timer
//!   table) and the per-plane routers. Knows no protocol.
//! - [`metrics`]: per-procedure records, CSV, plots.
//! - [`bench`](mod@bench): benchmarks on the engine (PHOLD, N32 handshakes, CAPIF).
//! - [`run`]: runs seeds in parallel and writes results.
//! - [`run_trace`](mod@run_trace): `secsim trace`, one seed's sequence chart.
//! - [`audit`]: the facts machines emit for the checker, and the mutant knobs (cargo feature
//!   `mutants`); a leaf module, so dependencies point one way (world, proto, net → audit ←
//!   check).
//! - [`check`]: the behavioural invariants, judged from a run's audit trail; random
//!   scenarios for property tests and the soak tier.
//!
//! # Where a newcomer adds things
//!
//! - **A node kind**: a machine type in `src/proto/<area>/node/` implementing
//!   [`proto::effect::Machine`] (its state, its timers, its decisions, spec citations at the
//!   arms), its configuration built in `src/build/<area>.rs` from the scenario, and one arm in
//!   its plane's router (`src/world/<area>.rs`) that routes the node's events to it.
//! - **A message**: its typed body in `src/proto/<area>/types.rs` (serde, validated against
//!   the OpenAPI files by `tests/sim/openapi.rs`); the sender builds it with
//!   [`net::HttpRequest::json`] (encoded once; headers with `with_header`), the receiver reads
//!   [`net::HttpRequest::typed`] / `decode`. Nothing in the world changes.
//! - **An FFS alternative**: one enum variant (and its entry in the enum's `ALL`, which the
//!   random cases draw from) plus its match arms in the methods on that enum, in the
//!   procedure's file. The compiler lists every arm to write; nothing in the world changes.
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
