//! The network's TLS handshakes run the real key schedule: equal secrets on success, and a
//! wrong PSK, an unknown identity or a revoked certificate fail the handshake in the
//! simulation, at every crypto fidelity.

use secsim::crypto::cost::{CostModel, CryptoFidelity};
use secsim::engine::{Ctx, Event, Limits, Sim, SimTime, World};
use secsim::net::conn::{ConnFailure, NetConfig, NetEvent, Network, Wire};
use secsim::net::tls::{PskEntry, Security, TlsMode};
use secsim::net::{HttpRequest, HttpResponse, Topology};
use secsim::scenario::TopologyFile;

const TOPO: &str = r#"Topology(
    domains: [(name: "a", kind: Plmn), (name: "b", kind: CapifProvider)],
    nodes: [(name: "c", domain: "a", role: Invoker), (name: "s", domain: "b", role: Aef)],
    links: [(source: "c", target: "s", latency: Constant("5ms"))],
)"#;

struct W {
    net: Network,
    outcome: Option<Result<u16, ConnFailure>>,
}

impl World for W {
    type Msg = Wire;
    fn handle(&mut self, ctx: &mut Ctx<'_, Wire>, ev: Event<Wire>) {
        match self.net.on_wire(ctx, ev.to, ev.msg) {
            Some(NetEvent::Request { conn, stream, .. }) => self.net.respond(
                ctx,
                conn,
                stream,
                HttpResponse {
                    headers: Default::default(),
                    typed: None,
                    status: 200,
                    schema: "",
                    body: String::new(),
                },
            ),
            Some(NetEvent::Response { rsp, .. }) => self.outcome = Some(Ok(rsp.status)),
            Some(NetEvent::Failed { cause, .. }) => self.outcome = Some(Err(cause)),
            _ => {}
        }
    }
}

/// Runs one request from c to s with `mode`; `setup` adjusts the server's security state.
fn handshake(
    fidelity: CryptoFidelity,
    mode: TlsMode,
    setup: impl FnOnce(&mut Security),
) -> (Result<u16, ConnFailure>, Network) {
    let spec: TopologyFile = ron::from_str(TOPO).unwrap();
    let topo = Topology::build(&spec, 3).unwrap();
    let mut sec = Security::build(&topo, 3, fidelity, CostModel::default()).unwrap();
    setup(&mut sec);
    let net = Network::new(topo, NetConfig::default(), sec);
    let mut sim = Sim::new(W { net, outcome: None });
    {
        let (w, mut ctx) = sim.ctx(0);
        let req = HttpRequest {
            headers: Default::default(),
            typed: None,
            method: "POST",
            path: "/x".into(),
            schema: "",
            body: "{}".into(),
        };
        w.net.request_with(&mut ctx, 0, 1, None, mode, req);
    }
    sim.run(Limits {
        until: SimTime::from_nanos(10_000_000_000),
        max_events: 10_000,
    });
    let w = sim.world;
    (w.outcome.expect("the request ended"), w.net)
}

fn psk_mode(key: &[u8]) -> TlsMode {
    TlsMode::ExternalPsk {
        identity: b"invoker-1".to_vec(),
        psk: key.to_vec(),
    }
}

fn holds(key: &'static [u8]) -> impl FnOnce(&mut Security) {
    move |sec| {
        sec.install_psk(
            1,
            b"invoker-1".to_vec(),
            PskEntry {
                key: key.to_vec(),
                expires: None,
            },
        )
    }
}

const FIDELITIES: [CryptoFidelity; 3] = [CryptoFidelity::Full, CryptoFidelity::Keys, CryptoFidelity::Timing];

#[test]
fn certificate_handshake_succeeds_with_equal_secrets() {
    for f in [CryptoFidelity::Full, CryptoFidelity::Keys] {
        let (r, net) = handshake(f, TlsMode::Certificate, |_| {});
        assert_eq!(r, Ok(200), "{f:?}");
        let tls = &net.conn(0).tls;
        assert!(tls.client_secrets.is_some());
        assert_eq!(tls.client_secrets, tls.server_secrets, "{f:?}");
    }
    assert_eq!(
        handshake(CryptoFidelity::Timing, TlsMode::Certificate, |_| {}).0,
        Ok(200)
    );
}

#[test]
fn psk_handshake_succeeds_only_with_the_same_key() {
    for f in FIDELITIES {
        let (r, net) = handshake(f, psk_mode(b"aefpsk-1"), holds(b"aefpsk-1"));
        assert_eq!(r, Ok(200), "{f:?}");
        let tls = &net.conn(0).tls;
        assert_eq!(tls.client_secrets, tls.server_secrets);
        let (r, _) = handshake(f, psk_mode(b"aefpsk-1"), holds(b"aefpsk-2"));
        match r {
            Err(ConnFailure::Tls(t)) => assert_eq!(t.alert, "decrypt_error", "{f:?}: {t}"),
            other => panic!("{f:?}: wrong PSK gave {other:?}"),
        }
    }
}

#[test]
fn unknown_or_expired_psk_identity_fails() {
    for f in FIDELITIES {
        let (r, _) = handshake(f, psk_mode(b"k"), |_| {});
        assert!(
            matches!(&r, Err(ConnFailure::Tls(t)) if t.alert == "unknown_psk_identity"),
            "{f:?}: {r:?}"
        );
        let expired = |sec: &mut Security| {
            sec.install_psk(
                1,
                b"invoker-1".to_vec(),
                PskEntry {
                    key: b"k".to_vec(),
                    expires: Some(SimTime::ZERO),
                },
            )
        };
        let (r, _) = handshake(f, psk_mode(b"k"), expired);
        assert!(
            matches!(&r, Err(ConnFailure::Tls(t)) if t.alert == "unknown_psk_identity"),
            "{f:?}: {r:?}"
        );
    }
}

#[test]
fn revoked_or_untrusted_server_certificate_fails() {
    for f in [CryptoFidelity::Full, CryptoFidelity::Keys] {
        let (r, _) = handshake(f, TlsMode::Certificate, |sec| {
            let cert = sec.certificate(1).clone();
            sec.revoked.revoke(&cert);
        });
        assert!(
            matches!(&r, Err(ConnFailure::Tls(t)) if t.alert.contains("certificate")),
            "{f:?}: {r:?}"
        );
    }
    // Without the server domain's CA among the trust anchors, the chain does not verify.
    let (r, _) = handshake(CryptoFidelity::Full, TlsMode::Certificate, |sec| {
        sec.anchors.truncate(1)
    });
    assert!(
        matches!(&r, Err(ConnFailure::Tls(t)) if t.alert == "bad_certificate"),
        "{r:?}"
    );
}

/// A second connection to the same server resumes the first session: `res binder`, no
/// certificates, and again equal secrets at both ends.
#[test]
fn second_connection_resumes_with_a_ticket() {
    for f in FIDELITIES {
        let spec: TopologyFile = ron::from_str(TOPO).unwrap();
        let topo = Topology::build(&spec, 3).unwrap();
        let sec = Security::build(&topo, 3, f, CostModel::default()).unwrap();
        let cfg = NetConfig {
            idle_timeout: secsim::engine::SimDuration::from_millis(100),
            ..NetConfig::default()
        };
        let mut sim = Sim::new(W {
            net: Network::new(topo, cfg, sec),
            outcome: None,
        });
        let req = || HttpRequest {
            headers: Default::default(),
            typed: None,
            method: "POST",
            path: "/x".into(),
            schema: "",
            body: "{}".into(),
        };
        for round in 0..2u64 {
            {
                let (w, mut ctx) = sim.ctx(0);
                w.outcome = None;
                w.net.request(&mut ctx, 0, 1, None, req());
            }
            sim.run(Limits {
                until: SimTime::from_nanos((round + 1) * 2_000_000_000),
                max_events: 10_000,
            });
            assert_eq!(sim.world.outcome, Some(Ok(200)), "{f:?} round {round}");
        }
        let net = &sim.world.net;
        assert_eq!(net.conn_count(), 2, "the idle timeout closed the first connection");
        assert!(!net.conn(0).tls.resumed && net.conn(1).tls.resumed, "{f:?}");
        assert_eq!(net.conn(1).tls.client_secrets, net.conn(1).tls.server_secrets);
    }
}

/// An on-path node that will not carry a direct connection: each reaction fails it in its
/// own way and at its own time (the FFS alternatives for direct TLS on N32-c).
#[test]
fn on_path_interception_fails_direct_connections() {
    use secsim::engine::SimDuration;
    use secsim::net::conn::Intercept;
    const PATH: &str = r#"Topology(
        domains: [(name: "a", kind: Plmn), (name: "x", kind: Ipx), (name: "b", kind: Plmn)],
        nodes: [(name: "c", domain: "a", role: Sepp), (name: "m", domain: "x", role: Ri), (name: "s", domain: "b", role: Sepp)],
        links: [(source: "c", target: "m", latency: Constant("10ms")), (source: "m", target: "s", latency: Constant("10ms"))],
    )"#;
    let run = |action: Option<Intercept>| {
        let spec: TopologyFile = ron::from_str(PATH).unwrap();
        let topo = Topology::build(&spec, 3).unwrap();
        let sec = Security::build(&topo, 3, CryptoFidelity::Timing, CostModel::default()).unwrap();
        let mut net = Network::new(topo, NetConfig::default(), sec);
        net.set_intercept(1, 0, 2, action);
        let mut sim = Sim::new(W { net, outcome: None });
        {
            let (w, mut ctx) = sim.ctx(0);
            let req = HttpRequest {
                headers: Default::default(),
                typed: None,
                method: "POST",
                path: "/x".into(),
                schema: "",
                body: "{}".into(),
            };
            w.net.request(&mut ctx, 0, 2, None, req);
        }
        sim.run(Limits {
            until: SimTime::from_nanos(10_000_000_000),
            max_events: 10_000,
        });
        let now = sim.now();
        (sim.world.outcome.unwrap(), now)
    };
    let ms = |x| SimTime::ZERO + SimDuration::from_millis(x);
    assert_eq!(run(None).0, Ok(200));
    assert_eq!(
        run(Some(Intercept::Drop)),
        (Err(ConnFailure::Unreachable), ms(3000)),
        "connect timeout"
    );
    assert_eq!(
        run(Some(Intercept::Reset)),
        (Err(ConnFailure::Reset), ms(20)),
        "RST after one RTT to m"
    );
    assert_eq!(run(Some(Intercept::NoRoute)), (Err(ConnFailure::Unreachable), ms(0)));
    let (r, t) = run(Some(Intercept::AlertOnClientHello));
    assert!(
        matches!(r, Err(ConnFailure::Tls(ref f)) if f.alert == "handshake_failure"),
        "{r:?}"
    );
    let keygen = secsim::crypto::cost::OpCosts::default().x25519_keygen;
    assert_eq!(
        t,
        ms(40 + 20) + keygen,
        "TCP with s (40 ms), ClientHello (keygen) to m and back"
    );
}
