//! Costs of the crypto operations secsim computes, one element per operation.
//!
//! Run: `cargo bench --bench crypto -- --warm-up-time 1 --measurement-time 2`. The figures
//! feed `docs/crypto-bench.md` and the defaults of `secsim::crypto::cost::OpCosts`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use secsim::crypto::aefpsk::{AefHost, ServiceApiInterface, aefpsk_tls12};
use secsim::crypto::kdf::{hmac_sha256, kdf};
use secsim::crypto::n32f::{JweEnc, KdfContextId, N32ContextIds, N32Master, N32fKeys, aead_open, aead_seal};
use secsim::crypto::tls12;
use secsim::crypto::tls13::{
    self, ClientHandshake, ClientMode, Psk, PskKind, ServerHandshake, hkdf_expand_label, hkdf_extract,
};
use x25519_dalek::{PublicKey, StaticSecret};

fn symmetric(c: &mut Criterion) {
    let mut g = c.benchmark_group("symmetric");
    g.throughput(Throughput::Elements(1));
    g.bench_function("hmac_sha256_32B", |b| {
        b.iter(|| hmac_sha256(black_box(&[7u8; 32]), black_box(&[1u8; 32])))
    });
    g.bench_function("hkdf_extract_expand_32B", |b| {
        b.iter(|| {
            let prk = hkdf_extract(black_box(&[0u8; 32]), black_box(&[9u8; 32]));
            let mut out = [0u8; 32];
            hkdf_expand_label(&prk, b"derived", &[], &mut out).unwrap();
            out
        })
    });
    let iface = ServiceApiInterface {
        host: AefHost::Fqdn("aef1.example.com".into()),
        port: 443,
        api_prefix: "/3gpp-monitoring-event/v1".into(),
    };
    g.bench_function("kdf_3gpp_aefpsk", |b| {
        b.iter(|| aefpsk_tls12(black_box(&[1u8; 48]), black_box(&[0xAA; 32]), &iface).unwrap())
    });
    g.bench_function("kdf_3gpp_raw", |b| {
        b.iter(|| kdf(black_box(&[1u8; 32]), 0x7A, &[b"p0", &[0xAA; 32]]).unwrap())
    });
    g.bench_function("tls12_master_secret", |b| {
        b.iter(|| tls12::master_secret(black_box(&[3u8; 32]), &[1u8; 32], &[2u8; 32]))
    });
    g.bench_function("tls12_exporter_64B", |b| {
        b.iter(|| {
            tls12::exporter(
                black_box(&[3u8; 48]),
                &[1u8; 32],
                &[2u8; 32],
                b"EXPORTER_3GPP_N32_MASTER",
                Some(&[]),
                64,
            )
        })
    });
    g.bench_function("tls13_exporter_64B", |b| {
        b.iter(|| tls13::exporter(black_box(&[3u8; 32]), b"EXPORTER_3GPP_N32_MASTER", b"", 64).unwrap())
    });
    let master = N32Master::from_bytes([5u8; 64]);
    let ids = N32ContextIds {
        initiator: "a".repeat(16),
        responder: "b".repeat(16),
    };
    g.bench_function("n32f_keys_8_derivations", |b| {
        b.iter(|| N32fKeys::derive(black_box(&master), &ids, KdfContextId::Receiver, JweEnc::A256Gcm))
    });
    let data = [0x5Au8; 1024];
    for enc in [JweEnc::A128Gcm, JweEnc::A256Gcm] {
        let key = vec![1u8; enc.key_len()];
        g.bench_function(format!("{}_seal_1KiB", enc.name()), |b| {
            b.iter(|| aead_seal(enc, &key, &[2u8; 12], b"aad", black_box(&data)).unwrap())
        });
        let sealed = aead_seal(enc, &key, &[2u8; 12], b"aad", &data).unwrap();
        g.bench_function(format!("{}_open_1KiB", enc.name()), |b| {
            b.iter(|| aead_open(enc, &key, &[2u8; 12], b"aad", black_box(&sealed)).unwrap())
        });
    }
    g.finish();
}

fn asymmetric(c: &mut Criterion) {
    let mut g = c.benchmark_group("asymmetric");
    g.throughput(Throughput::Elements(1));
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    g.bench_function("x25519_keygen", |b| {
        b.iter(|| {
            let mut bytes = [0u8; 32];
            rng.fill_bytes(&mut bytes);
            PublicKey::from(&StaticSecret::from(bytes))
        })
    });
    let a = StaticSecret::from([3u8; 32]);
    let peer = PublicKey::from(&StaticSecret::from([4u8; 32]));
    g.bench_function("x25519_dh", |b| b.iter(|| a.diffie_hellman(black_box(&peer))));

    let sk = SigningKey::from_slice(&[0x11u8; 32]).unwrap();
    let vk = VerifyingKey::from(&sk);
    let msg = [0x42u8; 64];
    g.bench_function("ecdsa_p256_sign", |b| {
        b.iter(|| -> Signature { sk.sign(black_box(&msg)) })
    });
    let sig: Signature = sk.sign(&msg);
    g.bench_function("ecdsa_p256_verify", |b| {
        b.iter(|| vk.verify(black_box(&msg), &sig).unwrap())
    });
    g.finish();
}

fn handshakes(c: &mut Criterion) {
    let mut g = c.benchmark_group("handshake");
    g.throughput(Throughput::Elements(1));
    let run = |seed: u64, mode: ClientMode, psk: Option<Psk>| {
        let (client, ch) = ClientHandshake::start(&mut ChaCha8Rng::seed_from_u64(seed), mode).unwrap();
        let (server, flight) =
            ServerHandshake::respond(&mut ChaCha8Rng::seed_from_u64(seed + 1), &ch, |_| psk).unwrap();
        let (cf, secrets) = client.finish(&flight).unwrap();
        server.finish(&cf).unwrap();
        secrets
    };
    let mut seed = 0u64;
    g.bench_function("tls13_full_both_sides", |b| {
        b.iter(|| {
            seed += 2;
            run(seed, ClientMode::Full, None)
        })
    });
    let ext = |dhe| ClientMode::ExternalPsk {
        identity: b"invoker".to_vec(),
        psk: vec![7u8; 32],
        dhe,
    };
    let psk = || {
        Some(Psk {
            kind: PskKind::External,
            secret: vec![7u8; 32],
        })
    };
    g.bench_function("tls13_psk_dhe_both_sides", |b| {
        b.iter(|| {
            seed += 2;
            run(seed, ext(true), psk())
        })
    });
    g.bench_function("tls13_psk_ke_both_sides", |b| {
        b.iter(|| {
            seed += 2;
            run(seed, ext(false), psk())
        })
    });
    g.bench_function("tls12_handshake_ems_both_sides", |b| {
        b.iter(|| {
            seed += 2;
            let mut c = ChaCha8Rng::seed_from_u64(seed);
            let mut s = ChaCha8Rng::seed_from_u64(seed + 1);
            tls12::handshake(&mut c, &mut s, true).unwrap()
        })
    });
    g.finish();
}

/// Message protection and credentials: JOSE (PRINS), JWT (CAPIF OAuth), certificates.
fn protection(c: &mut Criterion) {
    use secsim::crypto::jose::{self, Enc, JweHeader, JwsHeader};
    use secsim::crypto::jwt::{self, AccessTokenClaims};
    use secsim::crypto::pki::{self, Ca, RevocationList, Role, Subject, Validity};

    let mut g = c.benchmark_group("protection");
    g.throughput(Throughput::Elements(1));
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let key = [7u8; 32];
    let iv = [1u8; 12];
    let body = vec![b'x'; 1024];
    let header = JweHeader::dir(Enc::A256Gcm);
    g.bench_function("jwe_dir_A256GCM_encrypt_1KiB", |b| {
        b.iter(|| {
            jose::encrypt(
                black_box(&key),
                &iv,
                &header,
                Some(b"{\"metaData\":{}}"),
                black_box(&body),
            )
        })
    });
    let jwe = jose::encrypt(&key, &iv, &header, Some(b"{\"metaData\":{}}"), &body).unwrap();
    g.bench_function("jwe_dir_A256GCM_decrypt_1KiB", |b| {
        b.iter(|| jose::decrypt(black_box(&key), black_box(&jwe)))
    });
    let sk = pki::key_from_rng(&mut rng);
    let vk = *sk.verifying_key();
    g.bench_function("jws_es256_sign_256B", |b| {
        b.iter(|| jose::sign(&sk, &JwsHeader::es256(), black_box(&body[..256])))
    });
    let jws = jose::sign(&sk, &JwsHeader::es256(), &body[..256]);
    g.bench_function("jws_es256_verify_256B", |b| {
        b.iter(|| jose::verify(&vk, black_box(&jws)))
    });
    let claims = AccessTokenClaims {
        iss: "ccf.provider-a".into(),
        scope: "aef1:api1,api2".into(),
        exp: 3600,
        client_id: "invoker-1".into(),
        res_owner_id: None,
        jti: Some("t1".into()),
    };
    g.bench_function("jwt_issue", |b| b.iter(|| jwt::issue(&sk, None, black_box(&claims))));
    let token = jwt::issue(&sk, None, &claims);
    g.bench_function("jwt_verify", |b| b.iter(|| jwt::verify(&vk, black_box(&token), 10, 30)));
    let validity = Validity {
        not_before_s: 0,
        not_after_s: 1_000_000,
    };
    let mut ca = Ca::new_root(
        pki::key_from_rng(&mut rng),
        Subject::new("ca.a", Role::Ca, "a"),
        validity,
    )
    .unwrap();
    let subject = Subject::new("sepp.a", Role::Sepp, "a");
    g.bench_function("cert_issue", |b| {
        b.iter(|| ca.issue(black_box(&subject), &vk, validity))
    });
    let (_, leaf) = ca.issue_identity(&mut rng, &subject, validity).unwrap();
    let anchors = [ca.certificate().clone()];
    let revoked = RevocationList::new();
    g.bench_function("cert_verify_chain_1", |b| {
        b.iter(|| pki::verify_chain(black_box(&leaf), &[], &anchors, 10, &revoked))
    });
    g.finish();
}

criterion_group!(benches, symmetric, asymmetric, handshakes, protection);
criterion_main!(benches);
