//! The TLS 1.2 PRF with SHA-256 (RFC 5246 section 5), its key derivations, and the RFC 5705
//! keying-material exporter.
//!
//! ```text
//!  P_SHA256(secret, seed) = HMAC(secret, A(1) || seed) || HMAC(secret, A(2) || seed) || ...
//!      A(0) = seed, A(i) = HMAC(secret, A(i-1))
//!  PRF(secret, label, seed) = P_SHA256(secret, label || seed)
//!
//!  master_secret     = PRF(pre_master, "master secret", client_random || server_random)[0..48]
//!  ext. master secr. = PRF(pre_master, "extended master secret", session_hash)[0..48] (RFC 7627)
//!  key_block         = PRF(master, "key expansion", server_random || client_random)
//!  verify_data       = PRF(master, finished_label, Hash(handshake_messages))[0..12]
//!  exporter          = PRF(master, label, client_random || server_random
//!                          [|| u16 context_length || context])              (RFC 5705 4)
//! ```
//!
//! RFC 5705: a context that is *absent* and one that is *empty* give different outputs (the
//! empty one still adds the two length octets). 3GPP's N32 master uses context "" (TS 33.501
//! 13.2.4.4.1); secsim passes it as present-and-empty, `Some(&[])`; see [`crate::crypto::n32f`].
//!
//! [`Tls12Session`] holds what both ends of a TLS 1.2 connection know after the handshake
//! (master secret, randoms, session ID); [`handshake`] computes one for a simulated full
//! ECDHE (X25519) handshake from each side's seeded RNG. Certificates and signatures are not
//! modelled here (see `pki`).

use rand::RngCore;
use sha2::{Digest, Sha256};
use x25519_dalek::{PublicKey, StaticSecret};

use hmac::Mac;

use super::kdf::HmacSha256;

/// Length of a TLS 1.2 master secret \[octets\].
pub const MASTER_SECRET_LEN: usize = 48;

/// Why a TLS 1.2 derivation was refused.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
pub enum Tls12Error {
    /// RFC 5705: the context length is a uint16.
    #[error("exporter context is {0} octets; the limit is 65535")]
    ContextTooLong(usize),
    /// RFC 5705 4: labels of the reserved TLS PRF uses may not be used as exporter labels.
    #[error("exporter label `{0}` is reserved by tls")]
    ReservedLabel(String),
    /// The peer's X25519 share was a low-order point (shared secret all zero).
    #[error("the peer's x25519 key share is a low-order point")]
    WeakKeyShare,
}

/// Fills `out` with PRF(secret, label, seed) = P_SHA256(secret, label || seed) (RFC 5246 5).
pub fn prf(secret: &[u8], label: &[u8], seed: &[u8], out: &mut [u8]) {
    prf_parts(secret, label, &[seed], out)
}

/// [`prf`] with the seed given in pieces (avoids concatenating randoms).
fn prf_parts(secret: &[u8], label: &[u8], seed: &[&[u8]], out: &mut [u8]) {
    let keyed = HmacSha256::new_from_slice(secret).expect("hmac accepts any key length");
    // A(1) = HMAC(secret, label || seed).
    let mut a = {
        let mut m = keyed.clone();
        m.update(label);
        seed.iter().for_each(|s| m.update(s));
        m.finalize().into_bytes()
    };
    for chunk in out.chunks_mut(32) {
        let mut m = keyed.clone();
        m.update(&a);
        m.update(label);
        seed.iter().for_each(|s| m.update(s));
        let block = m.finalize().into_bytes();
        chunk.copy_from_slice(&block[..chunk.len()]);
        let mut m = keyed.clone();
        m.update(&a);
        a = m.finalize().into_bytes();
    }
}

/// master_secret = PRF(pre_master, "master secret", client_random || server_random) (RFC 5246 8.1).
pub fn master_secret(pre_master: &[u8], client_random: &[u8; 32], server_random: &[u8; 32]) -> [u8; 48] {
    let mut ms = [0u8; 48];
    prf_parts(pre_master, b"master secret", &[client_random, server_random], &mut ms);
    ms
}

/// The extended master secret: PRF(pre_master, "extended master secret", session_hash)
/// (RFC 7627 4), where `session_hash` is the hash of the handshake through ClientKeyExchange.
pub fn extended_master_secret(pre_master: &[u8], session_hash: &[u8]) -> [u8; 48] {
    let mut ms = [0u8; 48];
    prf(pre_master, b"extended master secret", session_hash, &mut ms);
    ms
}

/// The key block, `len` octets: PRF(master, "key expansion", server_random || client_random)
/// (RFC 5246 6.3). For AES-GCM suites it is client key, server key, client IV(4), server IV(4).
pub fn key_block(master: &[u8; 48], client_random: &[u8; 32], server_random: &[u8; 32], len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    prf_parts(master, b"key expansion", &[server_random, client_random], &mut out);
    out
}

/// Finished verify_data: PRF(master, label, handshake_hash)[0..12] (RFC 5246 7.4.9), with label
/// `b"client finished"` or `b"server finished"`.
pub fn verify_data(master: &[u8; 48], label: &[u8], handshake_hash: &[u8; 32]) -> [u8; 12] {
    let mut out = [0u8; 12];
    prf(master, label, handshake_hash, &mut out);
    out
}

/// The RFC 5705 exporter: `len` octets of PRF(master, label, client_random || server_random
/// [|| u16 len(context) || context]). `context = None` (absent) differs from `Some(&[])`.
pub fn exporter(
    master: &[u8; 48],
    client_random: &[u8; 32],
    server_random: &[u8; 32],
    label: &[u8],
    context: Option<&[u8]>,
    len: usize,
) -> Result<Vec<u8>, Tls12Error> {
    // RFC 5705 4 forbids the labels TLS itself uses.
    const RESERVED: [&[u8]; 5] = [
        b"client finished",
        b"server finished",
        b"master secret",
        b"key expansion",
        b"extended master secret",
    ];
    if RESERVED.contains(&label) {
        return Err(Tls12Error::ReservedLabel(String::from_utf8_lossy(label).into_owned()));
    }
    let mut out = vec![0u8; len];
    match context {
        None => prf_parts(master, label, &[client_random, server_random], &mut out),
        Some(ctx) => {
            let n = u16::try_from(ctx.len()).map_err(|_| Tls12Error::ContextTooLong(ctx.len()))?;
            prf_parts(
                master,
                label,
                &[client_random, server_random, &n.to_be_bytes(), ctx],
                &mut out,
            );
        }
    }
    Ok(out)
}

/// What both ends of an established TLS 1.2 connection share (after a full handshake).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Tls12Session {
    /// ClientHello.random.
    pub client_random: [u8; 32],
    /// ServerHello.random.
    pub server_random: [u8; 32],
    /// The session ID the server assigned (32 octets in secsim), used by AEFPSK (TS 33.122 A.1).
    pub session_id: [u8; 32],
    /// The 48-octet master secret.
    pub master_secret: [u8; 48],
    /// Whether the extended master secret (RFC 7627) was used.
    pub extended_master_secret: bool,
}

impl Tls12Session {
    /// The RFC 5705 exporter of this session.
    pub fn exporter(&self, label: &[u8], context: Option<&[u8]>, len: usize) -> Result<Vec<u8>, Tls12Error> {
        exporter(
            &self.master_secret,
            &self.client_random,
            &self.server_random,
            label,
            context,
            len,
        )
    }
}

/// Computes a full TLS 1.2 ECDHE_X25519 handshake's shared state, as both ends get it.
///
/// Draws, in this order, client: random(32), X25519 secret(32); server: random(32),
/// session ID(32), X25519 secret(32). The pre-master secret is the X25519 shared secret
/// (RFC 8422 5.10). With `ems`, the session hash is SHA-256 over a canonical encoding
/// (`"CH" || client_random || client_share || "SH" || server_random || session_id ||
/// server_share`) standing in for the real handshake messages.
pub fn handshake(
    client_rng: &mut impl RngCore,
    server_rng: &mut impl RngCore,
    ems: bool,
) -> Result<Tls12Session, Tls12Error> {
    let mut client_random = [0u8; 32];
    client_rng.fill_bytes(&mut client_random);
    let client_secret = x25519_secret(client_rng);
    let client_share = PublicKey::from(&client_secret);

    let mut server_random = [0u8; 32];
    server_rng.fill_bytes(&mut server_random);
    let mut session_id = [0u8; 32];
    server_rng.fill_bytes(&mut session_id);
    let server_secret = x25519_secret(server_rng);
    let server_share = PublicKey::from(&server_secret);

    let shared = client_secret.diffie_hellman(&server_share);
    if !shared.was_contributory() {
        return Err(Tls12Error::WeakKeyShare);
    }
    let master_secret = if ems {
        let mut h = Sha256::new();
        h.update(b"CH");
        h.update(client_random);
        h.update(client_share.as_bytes());
        h.update(b"SH");
        h.update(server_random);
        h.update(session_id);
        h.update(server_share.as_bytes());
        extended_master_secret(shared.as_bytes(), &h.finalize())
    } else {
        master_secret(shared.as_bytes(), &client_random, &server_random)
    };
    Ok(Tls12Session {
        client_random,
        server_random,
        session_id,
        master_secret,
        extended_master_secret: ems,
    })
}

/// An X25519 secret from 32 octets of the caller's RNG (never the OS RNG).
fn x25519_secret(rng: &mut impl RngCore) -> StaticSecret {
    let mut bytes = [0u8; 32];
    rng.fill_bytes(&mut bytes);
    StaticSecret::from(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// The widely published TLS 1.2 PRF SHA-256 vector (from the IETF TLS list, used by
    /// many test suites).
    #[test]
    fn prf_sha256_known_answer() {
        let secret = hex::decode("9bbe436ba940f017b17652849a71db35").unwrap();
        let seed = hex::decode("a0ba9f936cda311827a6f796ffd5198c").unwrap();
        let mut out = [0u8; 100];
        prf(&secret, b"test label", &seed, &mut out);
        assert_eq!(
            hex::encode(out),
            "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14baf9af\
             0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff7\
             0187347b66"
        );
    }

    #[test]
    fn prf_output_is_a_prefix_of_a_longer_output() {
        let mut short = [0u8; 40];
        let mut long = [0u8; 77];
        prf(b"k", b"l", b"s", &mut short);
        prf(b"k", b"l", b"s", &mut long);
        assert_eq!(short[..], long[..40]);
    }

    #[test]
    fn exporter_absent_context_differs_from_empty() {
        let ms = [7u8; 48];
        let (cr, sr) = ([1u8; 32], [2u8; 32]);
        let absent = exporter(&ms, &cr, &sr, b"EXPORTER_3GPP_N32_MASTER", None, 64).unwrap();
        let empty = exporter(&ms, &cr, &sr, b"EXPORTER_3GPP_N32_MASTER", Some(&[]), 64).unwrap();
        assert_ne!(absent, empty);
        // Absent context: the seed is just the randoms.
        let mut manual = vec![0u8; 64];
        prf(&ms, b"EXPORTER_3GPP_N32_MASTER", &[cr, sr].concat(), &mut manual);
        assert_eq!(absent, manual);
        // Empty context: two zero length octets follow.
        prf(
            &ms,
            b"EXPORTER_3GPP_N32_MASTER",
            &[&cr[..], &sr[..], &[0, 0]].concat(),
            &mut manual,
        );
        assert_eq!(empty, manual);
    }

    #[test]
    fn exporter_refuses_reserved_label_and_long_context() {
        let (ms, cr, sr) = ([0u8; 48], [0u8; 32], [0u8; 32]);
        assert!(matches!(
            exporter(&ms, &cr, &sr, b"key expansion", None, 8),
            Err(Tls12Error::ReservedLabel(_))
        ));
        let long = vec![0u8; 70_000];
        assert_eq!(
            exporter(&ms, &cr, &sr, b"x", Some(&long), 8),
            Err(Tls12Error::ContextTooLong(70_000))
        );
    }

    #[test]
    fn master_secret_and_key_block_use_the_spec_seeds() {
        let (pm, cr, sr) = ([3u8; 32], [1u8; 32], [2u8; 32]);
        let mut manual = [0u8; 48];
        prf(&pm, b"master secret", &[cr, sr].concat(), &mut manual);
        let ms = master_secret(&pm, &cr, &sr);
        assert_eq!(ms, manual);
        let mut kb = [0u8; 40];
        prf(&ms, b"key expansion", &[sr, cr].concat(), &mut kb);
        assert_eq!(key_block(&ms, &cr, &sr, 40), kb);
        let mut ems = [0u8; 48];
        prf(&pm, b"extended master secret", &[9u8; 32], &mut ems);
        assert_eq!(extended_master_secret(&pm, &[9u8; 32]), ems);
        assert_eq!(verify_data(&ms, b"client finished", &[0u8; 32]).len(), 12);
    }

    #[test]
    fn handshake_same_seed_same_session() {
        let run = |seed: u64, ems: bool| {
            let mut c = ChaCha8Rng::seed_from_u64(seed);
            let mut s = ChaCha8Rng::seed_from_u64(seed ^ 0xFFFF);
            handshake(&mut c, &mut s, ems).unwrap()
        };
        assert_eq!(run(1, true), run(1, true));
        assert_ne!(run(1, true).master_secret, run(2, true).master_secret);
        assert_ne!(run(1, true).master_secret, run(1, false).master_secret);
        assert!(run(1, true).extended_master_secret);
    }
}
