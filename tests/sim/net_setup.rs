//! Connection setup costs in round trips, on constant-latency links without loss.
//!
//! c ── 10 ms ── p ── 15 ms ── s, and a direct c ── 25 ms ── s link, so RTT(c,s) = 50 ms
//! either way and RTT(c,p) = 20 ms.

use secsim::engine::{Limits, SimDuration, SimTime};
use secsim::metrics::Outcome;
use secsim::scenario::{ExperimentFile, TopologyFile};

const TOPO: &str = r#"Topology(
    domains: [(name: "a", kind: Plmn), (name: "x", kind: Ipx), (name: "b", kind: Plmn)],
    nodes: [(name: "c", domain: "a"), (name: "p", domain: "x", role: Proxy), (name: "s", domain: "b")],
    links: [
        (source: "c", target: "p", latency: Constant("10ms")),
        (source: "p", target: "s", latency: Constant("15ms")),
        (source: "c", target: "s", latency: Constant("25ms")),
    ],
)"#;

/// Crypto CPU costs set to zero: these tests count network round trips only.
const NO_CPU: &str = r#"crypto: (costs: Some((classes: {"Nf": (slowdown: 0.0), "Proxy": (slowdown: 0.0)}))),"#;

fn experiment(via: &str, interval: &str, extra: &str) -> ExperimentFile {
    experiment_with(via, interval, &format!("{NO_CPU} {extra}"))
}

fn experiment_with(via: &str, interval: &str, extra: &str) -> ExperimentFile {
    let src = format!(
        r#"Experiment(name: "t", topology: "unused", duration: "1s", {extra}
            workload: [Http((client: "c", server: "s", via: {via}, arrival: Periodic(interval: "{interval}")))])"#
    );
    ron::from_str(&src).unwrap()
}

/// Runs until `until` and returns (latency_ms, new_connection) of each request, and the
/// time from SYN to ready of the first connection.
fn run(exp: &ExperimentFile, until_ms: u64) -> (Vec<(f64, bool)>, SimDuration) {
    let topo: TopologyFile = ron::from_str(TOPO).unwrap();
    let mut sim = secsim::build::simulation(&topo, exp, 1).unwrap();
    sim.run(Limits {
        until: SimTime::ZERO + SimDuration::from_millis(until_ms),
        max_events: 1_000_000,
    });
    let recs = sim
        .world
        .records
        .iter()
        .inspect(|r| assert_eq!(r.outcome, Outcome::Ok))
        .map(|r| (r.latency_ms(), r.new_connection))
        .collect();
    let c = sim.world.net.conn(0);
    (recs, c.ready_at.unwrap() - c.opened_at)
}

#[test]
fn tcp_and_tls13_take_two_rtt_before_the_first_request() {
    // One request every 400 ms: the first opens the connection, the rest reuse it.
    let (recs, setup) = run(&experiment("None", "400ms", ""), 1000);
    assert_eq!(setup, SimDuration::from_millis(100), "TCP (1 RTT) + TLS 1.3 (1 RTT)");
    // First request: 2 RTT setup + 1 RTT request/response.
    assert_eq!(recs[0], (150.0, true));
    // Later requests on the open connection: 1 RTT.
    assert_eq!(recs[1], (50.0, false));
}

#[test]
fn connect_tunnel_adds_one_rtt_to_the_proxy() {
    let (recs, setup) = run(&experiment(r#"Some("p")"#, "400ms", ""), 1000);
    // TCP to p (20) + CONNECT with p's TCP to s (20 + 30) + TLS end to end (50).
    assert_eq!(setup, SimDuration::from_millis(120), "2 RTT(c,s) + 1 RTT(c,p)");
    assert_eq!(recs[0], (170.0, true));
    assert_eq!(recs[1], (50.0, false));
}

#[test]
fn tls_to_proxy_adds_another_rtt_to_the_proxy() {
    let exp = experiment(r#"Some("p")"#, "400ms", "network: (tls_to_proxy: Some(true)),");
    let (_, setup) = run(&exp, 1000);
    assert_eq!(setup, SimDuration::from_millis(140));
}

#[test]
fn idle_timeout_closes_and_the_next_request_reconnects() {
    // Idle timeout 300 ms, a request every 500 ms: each response ends 150 ms after its
    // request, the connection closes 300 ms later, before the next request: every request
    // pays the set-up.
    let exp = experiment("None", "500ms", r#"network: (idle_timeout: Some("300ms")),"#);
    let (recs, _) = run(&exp, 1700);
    assert!(recs.len() >= 3);
    for r in &recs {
        assert_eq!(*r, (150.0, true));
    }
}

#[test]
fn requests_multiplex_on_one_connection_while_it_opens() {
    // Three requests 1 ms apart: all wait for the same connection, then share it.
    let exp = experiment("None", "1ms", "");
    let topo: TopologyFile = ron::from_str(TOPO).unwrap();
    let mut sim = secsim::build::simulation(&topo, &exp, 1).unwrap();
    sim.run(Limits {
        until: SimTime::ZERO + SimDuration::from_millis(160),
        max_events: 1_000_000,
    });
    assert_eq!(sim.world.net.conn_count(), 1, "one connection for all streams");
    // Requests at 0, 1, 2 ms all leave at 100 ms and complete at 150 ms.
    let lat: Vec<f64> = sim.world.records.iter().take(3).map(|r| r.latency_ms()).collect();
    assert_eq!(lat, [150.0, 149.0, 148.0]);
}

#[test]
fn handshake_crypto_adds_its_cpu_cost_to_the_set_up() {
    use secsim::crypto::cost::OpCosts;
    let c = OpCosts::default();
    let (_, setup) = run(&experiment_with("None", "400ms", ""), 1000);
    // ClientHello: keygen; server flight: keygen + DH + schedule + CertificateVerify sign;
    // client: DH + schedule + verify chain and CertificateVerify + sign its own.
    let cpu = c.x25519_keygen
        + (c.x25519_keygen + c.x25519_dh + c.tls13_key_schedule + c.ecdsa_sign)
        + (c.x25519_dh + c.tls13_key_schedule + c.ecdsa_verify * 2 + c.ecdsa_sign);
    assert_eq!(setup, SimDuration::from_millis(100) + cpu);
}
