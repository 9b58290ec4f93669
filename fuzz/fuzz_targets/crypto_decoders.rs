//! Fuzz target `crypto_decoders`: JWT, JOSE envelopes, PKI certificates and the TLS handshake
//! messages, as received from a peer, decoded and verified with fixed keys.
//!
//! The first input byte picks what the rest is; every branch is reached by some inputs:
//!
//! - **certificates**: `pki::Certificate::from_bytes` (the canonical encoding the simulator
//!   sends in TLS flights and CAPIF onboarding answers), `to_bytes` (must give the input back),
//!   `verifying_key`, `verify_signature`, `check_validity`, `check_role`, `plmn_ids_within`,
//!   `pki::verify_chain` (as leaf, as intermediate, as anchor); and `Ca::issue` of a
//!   certificate whose subject fields come from the input, then verified;
//! - **JWT**: `jwt::verify` and `jwt::authorize` of the input as a token, and of a token
//!   whose header and claims come from the input but whose ES256 signature is good (so that
//!   the claims decoding, expiry, issuer, revocation and `jwt::Scope::parse` run);
//! - **JOSE**: `jose::verify_compact`, `jose::verify` and `jose::decrypt` of the input as a
//!   compact JWS or flattened JSON JWS/JWE; then a JWS and a JWE whose base64url protected
//!   header is the input, correctly signed / sealed, so that header decoding
//!   (`decode_header`, `check_common`, `alg`/`enc`/`kid`/`zip`/`crit`/`jwk` rules) runs past the
//!   cryptographic check; `jose::b64_decode`, `Enc::from_name`;
//! - **TLS 1.3** (`crypto::tls13`): `ServerHandshake::respond` to a ClientHello built from the
//!   input (random, key share, PSK identity and binder; with a correct binder too),
//!   `ClientHandshake::finish` on a fuzzed ServerFlight, `ServerHandshake::finish` on a fuzzed
//!   ClientFinished, both for real X25519 and the simulated ECDHE; `hkdf_expand_label` and
//!   the exporters with fuzzed labels, contexts and lengths; TLS 1.2 `exporter`;
//! - **TLS on a connection** (`net::tls::Security`): `server_respond` to a fuzzed
//!   `HelloMsg`, `client_finish` on a `FlightMsg` whose certificate chain and
//!   CertificateVerify come from the input (`check_peer`), and `server_finish` on a fuzzed
//!   `FinishMsg`, for every crypto fidelity.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use secsim::crypto::cost::{CostModel, CryptoFidelity};
use secsim::crypto::jose::{self, Enc, FlatJwe, FlatJws};
use secsim::crypto::jwt::{self, Check, RevocationSet};
use secsim::crypto::n32f::{self, JweEnc};
use secsim::crypto::pki::{self, Ca, Certificate, RevocationList, Role, Subject, Validity};
use secsim::crypto::tls12;
use secsim::crypto::tls13::{
    self, ClientFinished, ClientHandshake, ClientHello, ClientMode, Ecdhe, OfferedPsk, Psk, PskKind, ServerFlight,
    ServerHandshake, ServerHello,
};
use secsim::engine::SimTime;
use secsim::net::Topology;
use secsim::net::tls::{FinishMsg, PskEntry, Security, Session, TlsMode};

/// Reads the input front to back; past the end it yields zeros.
struct Bytes<'a>(&'a [u8]);

impl<'a> Bytes<'a> {
    fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.0.len());
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        head
    }
    fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let head = self.take(N);
        out[..head.len()].copy_from_slice(head);
        out
    }
    fn u8(&mut self) -> u8 {
        self.array::<1>()[0]
    }
    fn flag(&mut self) -> bool {
        self.u8() & 1 == 1
    }
    /// A length-prefixed (one byte) slice.
    fn short(&mut self) -> &'a [u8] {
        let n = usize::from(self.u8());
        self.take(n)
    }
}

/// The fixed keys and CA: computed once (each costs a scalar multiplication).
static CA: LazyLock<Ca> = LazyLock::new(|| {
    Ca::new_root(
        SigningKey::from_slice(&[3u8; 32]).unwrap(),
        Subject::new("ca.fuzz", Role::Ca, "fuzz"),
        Validity {
            not_before_s: 0,
            not_after_s: 1 << 40,
        },
    )
    .unwrap()
});
static LEAF_KEY: LazyLock<SigningKey> = LazyLock::new(|| SigningKey::from_slice(&[4u8; 32]).unwrap());
static TOKEN_KEY: LazyLock<SigningKey> = LazyLock::new(|| SigningKey::from_slice(&[8u8; 32]).unwrap());

fn certificates(data: &[u8]) {
    let mut ca = CA.clone();
    let anchor = ca.certificate().clone();
    if let Ok(cert) = Certificate::from_bytes(data) {
        assert_eq!(cert.to_bytes(), data, "the canonical encoding is canonical");
        let _ = cert.verifying_key();
        let _ = cert.verify_signature(anchor.verifying_key().as_ref().unwrap());
        let _ = cert.check_validity(1000);
        let _ = cert.check_role(Role::Sepp);
        let _ = cert.plmn_ids_within(&anchor);
        let revoked = RevocationList::new();
        let _ = pki::verify_chain(&cert, &[], std::slice::from_ref(&anchor), 1000, &revoked);
        let _ = pki::verify_chain(
            &anchor,
            std::slice::from_ref(&cert),
            std::slice::from_ref(&anchor),
            1000,
            &revoked,
        );
        let _ = pki::verify_chain(&anchor, &[], std::slice::from_ref(&cert), 1000, &revoked);
        let _ = secsim::proto::capif::onboarding::decode_certificate(&jose::b64_encode(data));
    }
    // A certificate issued with fuzzed subject fields, then checked.
    let mut b = Bytes(data);
    let role = Role::from_code(b.u8()).unwrap_or(Role::Nf);
    let name = String::from_utf8_lossy(b.short()).into_owned();
    let domain = String::from_utf8_lossy(b.short()).into_owned();
    let plmns: Vec<String> = (0..b.u8() % 8)
        .map(|_| String::from_utf8_lossy(b.short()).into_owned())
        .collect();
    let validity = Validity {
        not_before_s: u64::from_be_bytes(b.array()),
        not_after_s: u64::from_be_bytes(b.array()),
    };
    let key = &*LEAF_KEY;
    let subject = Subject::new(name, role, domain).with_plmn_ids(plmns);
    if let Ok(cert) = ca.issue(&subject, key.verifying_key(), validity) {
        let back = Certificate::from_bytes(&cert.to_bytes()).expect("an issued certificate decodes");
        assert_eq!(back, cert);
        let _ = pki::verify_chain(&cert, &[], std::slice::from_ref(&anchor), 1000, &RevocationList::new());
    }
}

/// Signs `header.payload` (both already base64url) with ES256 and returns the compact JWS.
fn signed_compact(key: &SigningKey, header_b64: &str, payload_b64: &str) -> String {
    let input = format!("{header_b64}.{payload_b64}");
    let sig: Signature = key.sign(input.as_bytes());
    format!("{input}.{}", jose::b64_encode(&sig.to_bytes()))
}

fn jose_and_jwt(data: &[u8]) {
    let key = &*TOKEN_KEY;
    let vk = *key.verifying_key();
    let text = String::from_utf8_lossy(data);
    let revoked = RevocationSet::default();
    let check = Check {
        now_s: 100,
        leeway_s: 30,
        issuer: Some("ccf-a"),
        revoked: &revoked,
        aef: "aef-a1",
        api: "api1",
    };
    // The input as received.
    let _ = jose::verify_compact(&vk, &text);
    let _ = jwt::verify(&vk, &text, 100, 30);
    let _ = jwt::authorize(&vk, &text, &check);
    let _ = jose::b64_decode(&text, "fuzz");
    let _ = Enc::from_name(&text);
    if let Ok(jws) = serde_json::from_slice::<FlatJws>(data) {
        let _ = jose::verify(&vk, &jws);
    }
    if let Ok(jwe) = serde_json::from_slice::<FlatJwe>(data) {
        let _ = jose::decrypt(&[1u8; 16], &jwe);
        let _ = jose::decrypt(&[1u8; 32], &jwe);
    }
    // Header and claims from the input, signature good: split at the first NUL.
    let (header, claims) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&br#"{"alg":"ES256","typ":"JWT"}"#[..], data),
    };
    let compact = signed_compact(key, &jose::b64_encode(header), &jose::b64_encode(claims));
    let _ = jose::verify_compact(&vk, &compact);
    let _ = jwt::verify(&vk, &compact, 100, 30);
    if let Ok(claims) = jwt::authorize(&vk, &compact, &check) {
        let _ = claims.parsed_scope();
    }
    // A JWE whose protected header is the input's first part, sealed under a fixed key.
    let protected = jose::b64_encode(header);
    let aad_b64 = jose::b64_encode(b"aad");
    let iv = [7u8; 12];
    for (enc, key) in [(JweEnc::A128Gcm, &[1u8; 16][..]), (JweEnc::A256Gcm, &[1u8; 32][..])] {
        let aead_aad = format!("{protected}.{aad_b64}");
        let Ok((ct, tag)) = n32f::aead_seal_detached(enc, key, &iv, aead_aad.as_bytes(), claims) else {
            continue;
        };
        let jwe = FlatJwe {
            protected: Some(protected.clone()),
            unprotected: None,
            header: None,
            encrypted_key: None,
            aad: Some(aad_b64.clone()),
            iv: Some(jose::b64_encode(&iv)),
            ciphertext: jose::b64_encode(&ct),
            tag: Some(jose::b64_encode(&tag)),
        };
        let _ = jose::decrypt(key, &jwe);
    }
}

fn client_hello(b: &mut Bytes<'_>) -> ClientHello {
    ClientHello {
        random: b.array(),
        key_share: b.flag().then(|| b.array()),
        psk: b.flag().then(|| OfferedPsk {
            identity: b.short().to_vec(),
            binder: b.array(),
        }),
    }
}

fn tls13_handshakes(data: &[u8]) {
    let mut b = Bytes(data);
    let ecdhe = if b.flag() { Ecdhe::X25519 } else { Ecdhe::Simulated };
    let psk_secret = vec![9u8; 32];
    let psk_for = |id: &[u8]| {
        (id == b"INV1").then(|| Psk {
            kind: PskKind::External,
            secret: psk_secret.clone(),
        })
    };
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    // A fuzzed ClientHello.
    let ch = client_hello(&mut b);
    if let Ok((server, _flight)) = ServerHandshake::respond_with(&mut rng, &ch, psk_for, ecdhe) {
        let _ = server.finish(&ClientFinished { verify_data: b.array() });
    }
    // A real client offering a fuzzed identity (correct binder), then a fuzzed server flight.
    let identity = b.short().to_vec();
    let mode = match b.u8() % 3 {
        0 => ClientMode::Full,
        1 => ClientMode::ExternalPsk {
            identity: identity.clone(),
            psk: psk_secret.clone(),
            dhe: b.flag(),
        },
        _ => ClientMode::Resumption {
            ticket: identity.clone(),
            psk: [9u8; 32],
            dhe: b.flag(),
        },
    };
    if let Ok((client, ch)) = ClientHandshake::start_with(&mut rng, mode.clone(), ecdhe)
        && let Ok((server, flight)) = ServerHandshake::respond_with(&mut rng, &ch, psk_for, ecdhe)
    {
        // Either the real flight with fuzzed edits or an entirely fuzzed one.
        let fuzzed = ServerFlight {
            server_hello: ServerHello {
                random: if b.flag() {
                    flight.server_hello.random
                } else {
                    b.array()
                },
                key_share: match b.u8() % 3 {
                    0 => flight.server_hello.key_share,
                    1 => None,
                    _ => Some(b.array()),
                },
                psk_accepted: b.flag(),
            },
            finished: if b.flag() { flight.finished } else { b.array() },
        };
        if let Ok((cf, _)) = client.finish(&fuzzed) {
            let cf = if b.flag() {
                cf
            } else {
                ClientFinished { verify_data: b.array() }
            };
            let _ = server.finish(&cf);
        }
    }
    // Key schedule helpers with fuzzed sizes.
    let (salt, ikm) = (b.short(), b.short());
    let secret = tls13::hkdf_extract(salt, ikm);
    let n = usize::from(b.u8()) * 2;
    let label = b.take(n).to_vec();
    let n = usize::from(b.u8()) * 2;
    let context = b.take(n).to_vec();
    let len = usize::from(u16::from_be_bytes(b.array())) % 9000;
    let mut out = vec![0u8; len];
    let _ = tls13::hkdf_expand_label(&secret, &label, &context, &mut out);
    let _ = tls13::exporter(&secret, &label, &context, len);
    let _ = tls12::exporter(
        &[1; 48],
        &[2; 32],
        &[3; 32],
        &label,
        b.flag().then_some(&context[..]),
        len,
    );
    let _ = tls13::resumption_psk(&secret, &context);
}

const TOPOLOGY: &str = r#"Topology(
    domains: [(name: "plmn-a", kind: Plmn), (name: "plmn-b", kind: Plmn)],
    nodes: [(name: "a", domain: "plmn-a"), (name: "b", domain: "plmn-b")],
    links: [(source: "a", target: "b", latency: Constant("5ms"))],
)"#;

fn connection(data: &[u8]) {
    let spec = secsim::scenario::parse_topology_str(TOPOLOGY, std::path::Path::new("t.ron")).unwrap();
    let topo = Topology::build(&spec, 1).unwrap();
    let mut b = Bytes(data);
    let fidelity = match b.u8() % 3 {
        0 => CryptoFidelity::Full,
        1 => CryptoFidelity::Keys,
        _ => CryptoFidelity::Timing,
    };
    let mut sec = Security::build(&topo, 1, fidelity, CostModel::default()).unwrap();
    let (client, server) = (0, 1);
    let now = SimTime::from_nanos(1_000_000_000);
    let mode = if b.flag() {
        sec.install_psk(
            server,
            b"INV1".to_vec(),
            PskEntry {
                key: vec![9; 32],
                expires: None,
            },
        );
        TlsMode::ExternalPsk {
            identity: b.short().to_vec(),
            psk: vec![9; 32],
        }
    } else {
        TlsMode::Certificate
    };
    let mut cs = Session::new(mode.clone());
    let mut ss = Session::new(mode);
    let Ok((mut hello, _)) = sec.client_hello(client, server, now, &mut cs) else {
        return;
    };
    if b.flag() {
        hello.hello = b.flag().then(|| client_hello(&mut b));
        hello.psk_identity = b.flag().then(|| b.short().to_vec());
    }
    let Ok((mut flight, _)) = sec.server_respond(server, now, &mut ss, &hello) else {
        return;
    };
    // The chain: real, empty, or certificates from the input.
    match b.u8() % 4 {
        0 => {}
        1 => flight.chain.clear(),
        _ => {
            let n = usize::from(b.u8() % 4);
            flight.chain = (0..n)
                .filter_map(|_| {
                    let len = usize::from(u16::from_be_bytes(b.array()) % 1024);
                    Certificate::from_bytes(b.take(len)).ok()
                })
                .collect();
        }
    }
    if b.flag() {
        flight.cert_verify = b.flag().then(|| b.array());
    }
    if b.flag()
        && let Some(f) = flight.flight.as_mut()
    {
        f.finished = b.array();
    }
    let Ok((fin, _)) = sec.client_finish(client, server, "b", now, &mut cs, &flight) else {
        return;
    };
    let fin = if b.flag() {
        fin
    } else {
        FinishMsg {
            finished: b.flag().then(|| ClientFinished { verify_data: b.array() }),
            chain: fin.chain,
            cert_verify: b.flag().then(|| b.array()),
        }
    };
    let _ = sec.server_finish(server, client, "a", now, &mut ss, &fin);
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 4 {
        0 => certificates(rest),
        1 => jose_and_jwt(rest),
        2 => tls13_handshakes(rest),
        _ => connection(rest),
    }
});
