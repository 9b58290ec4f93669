//! Which code does the ECDSA P-256 arithmetic: every ES256 signature secsim makes or checks
//! (JWS in [`super::jose`], certificates in [`super::pki`], the TLS CertificateVerify in
//! `net::tls`) goes through [`p256_sign`] and [`p256_verify`].
//!
//! Both backends compute the same function: signing is deterministic (RFC 6979 nonces), and
//! [`super::es256::sign`] gives the same bytes as the `p256` crate's signer (its known-answer
//! tests); verification is a pure function of (public key, message, signature), and `ring`
//! reaches the same verdict as `p256` (tested below on valid, tampered and high-S signatures).
//! So the backend changes wall time only: the simulated CPU time is charged by the cost model
//! either way, and runs are byte-identical under either backend.
//!
//! - [`P256Backend::Fast`] (default): signing by [`super::es256`] (`k·G` from a precomputed
//!   table, a variable-time inverse of the public nonce's scalar), verification by `ring`
//!   (BoringSSL's P-256; `ring` signs only with random nonces, so it cannot sign here).
//! - [`P256Backend::RustCrypto`]: the `p256` crate for both, kept for the comparison
//!   (`secsim bench n32 --compare-crypto-backends`; docs/bench.md, "P-256 backends").
//!
//! The choice is process-wide (an atomic read per operation) and set only by the bench.

use std::sync::atomic::{AtomicU8, Ordering};

use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};

/// The code that makes and checks ECDSA P-256 signatures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum P256Backend {
    /// Signing by [`super::es256`], verification by `ring`.
    Fast,
    /// RustCrypto's `p256` crate for both.
    RustCrypto,
}

impl P256Backend {
    /// Every backend, the default first.
    pub const ALL: [P256Backend; 2] = [P256Backend::Fast, P256Backend::RustCrypto];

    /// The name printed by the bench.
    pub fn name(self) -> &'static str {
        match self {
            P256Backend::Fast => "fast",
            P256Backend::RustCrypto => "rustcrypto",
        }
    }

    fn code(self) -> u8 {
        match self {
            P256Backend::Fast => 0,
            P256Backend::RustCrypto => 1,
        }
    }
}

static BACKEND: AtomicU8 = AtomicU8::new(0);

/// Selects the P-256 backend for the whole process (changes wall time only).
pub fn set_p256_backend(b: P256Backend) {
    BACKEND.store(b.code(), Ordering::Relaxed);
}

/// The P-256 backend in use.
pub fn p256_backend() -> P256Backend {
    match BACKEND.load(Ordering::Relaxed) {
        0 => P256Backend::Fast,
        _ => P256Backend::RustCrypto,
    }
}

/// Whether `sig` is a valid ECDSA P-256 / SHA-256 signature of `msg` under `key`, computed by
/// the selected backend.
pub fn p256_verify(key: &VerifyingKey, msg: &[u8], sig: &Signature) -> bool {
    verify_with(p256_backend(), key, msg, sig)
}

/// The ES256 signature of `msg` (SHA-256, RFC 6979 nonce, `r || s` as the `p256` crate makes
/// it), computed by the selected backend.
pub fn p256_sign(key: &SigningKey, msg: &[u8]) -> Signature {
    sign_with(p256_backend(), key, msg)
}

/// [`p256_sign`] with an explicit backend.
pub fn sign_with(backend: P256Backend, key: &SigningKey, msg: &[u8]) -> Signature {
    match backend {
        P256Backend::Fast => super::es256::sign(key, msg),
        P256Backend::RustCrypto => key.sign(msg),
    }
}

/// [`p256_verify`] with an explicit backend.
pub fn verify_with(backend: P256Backend, key: &VerifyingKey, msg: &[u8], sig: &Signature) -> bool {
    match backend {
        P256Backend::RustCrypto => key.verify(msg, sig).is_ok(),
        P256Backend::Fast => {
            let point = key.to_encoded_point(false);
            let sig = sig.to_bytes();
            ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, point.as_bytes())
                .verify(msg, &sig)
                .is_ok()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::elliptic_curve::ops::Reduce as _;

    fn key(i: u8) -> p256::ecdsa::SigningKey {
        let mut b = [0u8; 32];
        b[0] = 1;
        b[31] = i.wrapping_mul(37).wrapping_add(11);
        p256::ecdsa::SigningKey::from_bytes(&b.into()).unwrap()
    }

    /// Both backends make the same signature and reach the same verdict on valid signatures, on a tampered message, a
    /// tampered signature, another key, and on the high-S twin of a valid signature (ECDSA
    /// accepts (r, n - s) too; neither library enforces low S on verification).
    #[test]
    fn backends_agree_on_every_verdict() {
        let mut seen = [0usize; 2];
        for i in 0..24u8 {
            let sk = key(i);
            let vk = *sk.verifying_key();
            let other = *key(i.wrapping_add(100)).verifying_key();
            let msg = format!("message {i} for both backends").into_bytes();
            let sig = sign_with(P256Backend::Fast, &sk, &msg);
            assert_eq!(
                sig,
                sign_with(P256Backend::RustCrypto, &sk, &msg),
                "signatures (key {i})"
            );
            let (r, s) = sig.split_scalars();
            let high_s = Signature::from_scalars(r, -*s).unwrap();
            let mut bad_msg = msg.clone();
            bad_msg[(i as usize) % msg.len()] ^= 1;
            let tweaked_s = p256::Scalar::reduce_bytes(&s.to_bytes()) + p256::Scalar::ONE;
            let bad_sig = Signature::from_scalars(r, tweaked_s).unwrap();
            let cases: [(&VerifyingKey, &[u8], &Signature, bool); 5] = [
                (&vk, &msg, &sig, true),
                (&vk, &msg, &high_s, true),
                (&vk, &bad_msg, &sig, false),
                (&vk, &msg, &bad_sig, false),
                (&other, &msg, &sig, false),
            ];
            for (k, m, s, want) in cases {
                let a = verify_with(P256Backend::Fast, k, m, s);
                let b = verify_with(P256Backend::RustCrypto, k, m, s);
                assert_eq!(a, b, "backends disagree (key {i})");
                assert_eq!(a, want, "verdict (key {i})");
                seen[usize::from(a)] += 1;
            }
        }
        assert!(seen[0] > 0 && seen[1] > 0);
    }

    #[test]
    fn the_selection_is_process_wide_and_defaults_to_fast() {
        assert_eq!(p256_backend(), P256Backend::Fast);
        assert_eq!(P256Backend::ALL[0], P256Backend::Fast);
        assert_eq!(P256Backend::RustCrypto.name(), "rustcrypto");
    }
}
