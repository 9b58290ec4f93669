//! Fast ES256 (ECDSA P-256, SHA-256, RFC 6979) signing: the same signature bytes as
//! `p256::ecdsa::SigningKey::sign`, with `k·G` from a precomputed table of multiples of the
//! generator instead of 256 doublings.
//!
//! RustCrypto's `p256` 0.13 (`primeorder` 0.13) computes `ProjectivePoint::mul_by_generator`
//! as a generic variable-base multiplication ("TODO: precomputed basepoint tables"). Here the
//! scalar is recoded in signed radix 2^[`W`] (digits in `[-2^(W-1), 2^(W-1)]`), and
//! `k·G = Σ d_i·2^(W·i)·G` is [`WINDOWS`] mixed additions of table points (affine, built once
//! per process with `std::sync::OnceLock`, about 1,400 points), no doubling. Only the crate's own field and
//! point arithmetic is used (`ProjectivePoint + AffinePoint`, complete formulas), so the
//! result is the very point the crate computes; the tests compare both over many scalars.
//!
//! [`sign`] then follows `ecdsa` 0.16's `SignPrimitive::try_sign_prehashed_rfc6979` and
//! `hazmat::sign_prehashed` step by step: `z` = SHA-256 of the message (`bits2field` is the
//! identity for a 32-byte digest), `k` from the `rfc6979` crate's HMAC-DRBG with the same
//! inputs, `r = x(k·G) mod n`, `s = k⁻¹ (z + r d)`, no low-`s` normalisation. The tests check
//! the bytes against `SigningKey::sign` over many keys and messages.
//!
//! Not constant-time (table indices and the inversion depend on secret scalars): fine for a
//! simulator whose keys are drawn from seeded RNGs, not for real secrets.

use std::sync::OnceLock;

use p256::ecdsa::{Signature, SigningKey};
use p256::elliptic_curve::ops::{Invert, Reduce};
use p256::elliptic_curve::point::AffineCoordinates;
use p256::elliptic_curve::{Curve, FieldBytesEncoding, Group, PrimeField};
use p256::{AffinePoint, FieldBytes, NistP256, ProjectivePoint, Scalar, U256};
use sha2::{Digest, Sha256};

/// Window width of the signed-digit recoding \[bit\].
pub const W: usize = 6;
/// Windows: enough for 256 bits and the final carry (`WINDOWS * W >= 257`).
pub const WINDOWS: usize = 256 / W + 1;
/// Table points per window: `1·B .. 2^(W-1)·B` for `B = 2^(W·i)·G`.
const PER_WINDOW: usize = 1 << (W - 1);

const _: () = assert!(WINDOWS * W >= 257);

/// `TABLE[i * PER_WINDOW + j] = (j + 1)·2^(W·i)·G`, affine.
static TABLE: OnceLock<Vec<AffinePoint>> = OnceLock::new();

fn table() -> &'static [AffinePoint] {
    TABLE.get_or_init(|| {
        let mut points = Vec::with_capacity(WINDOWS * PER_WINDOW);
        let mut base = ProjectivePoint::GENERATOR;
        for _ in 0..WINDOWS {
            let mut p = base;
            for _ in 0..PER_WINDOW {
                points.push(p.to_affine());
                p += base;
            }
            // The next base is 2^W·base.
            for _ in 0..W {
                base = base.double();
            }
        }
        points
    })
}

/// The signed radix-2^W digits of `k`, least significant first: `k = Σ d_i 2^(W·i)`.
fn recode(k: &Scalar) -> [i8; WINDOWS] {
    let be = k.to_repr();
    let mut limbs = [0u64; 4];
    for (i, limb) in limbs.iter_mut().enumerate() {
        let start = 32 - 8 * (i + 1);
        *limb = u64::from_be_bytes(be[start..start + 8].try_into().expect("8 bytes"));
    }
    let bits = |pos: usize| -> u32 {
        // W bits from bit `pos` (little-endian), zero beyond bit 255.
        let mut v = 0u64;
        for b in 0..W {
            let at = pos + b;
            if at < 256 {
                v |= ((limbs[at / 64] >> (at % 64)) & 1) << b;
            }
        }
        v as u32
    };
    let mut digits = [0i8; WINDOWS];
    let mut carry = 0u32;
    let half = 1u32 << (W - 1);
    for (i, d) in digits.iter_mut().enumerate() {
        let v = bits(i * W) + carry;
        if v > half {
            *d = (v as i32 - (1i32 << W)) as i8;
            carry = 1;
        } else {
            *d = v as i8;
            carry = 0;
        }
    }
    debug_assert_eq!(carry, 0, "WINDOWS * W >= 257 absorbs the carry");
    digits
}

/// `k·G`, from the table: equal to `ProjectivePoint::GENERATOR * k` (as a point).
pub fn mul_generator(k: &Scalar) -> ProjectivePoint {
    let table = table();
    let mut acc = ProjectivePoint::IDENTITY;
    for (i, &d) in recode(k).iter().enumerate() {
        if d == 0 {
            continue;
        }
        let p = &table[i * PER_WINDOW + (d.unsigned_abs() as usize - 1)];
        if d > 0 {
            acc += p;
        } else {
            acc -= p;
        }
    }
    acc
}

/// ES256 over `msg`: the same `Signature` as `SigningKey::sign(msg)` (ecdsa 0.16: SHA-256,
/// RFC 6979 nonce, `r || s` without normalisation), `k·G` by [`mul_generator`].
pub fn sign(key: &SigningKey, msg: &[u8]) -> Signature {
    let z_bytes: FieldBytes = Sha256::digest(msg);
    let d = key.as_nonzero_scalar();
    let d_repr = d.to_repr();
    let order = <U256 as FieldBytesEncoding<NistP256>>::encode_field_bytes(&NistP256::ORDER);
    let k_bytes = rfc6979::generate_k::<Sha256, _>(&d_repr, &order, &z_bytes, &[]);
    // generate_k returns 0 < k < n.
    let k = Option::<Scalar>::from(Scalar::from_repr(k_bytes)).expect("RFC 6979 k is below n");
    let z = <Scalar as Reduce<U256>>::reduce_bytes(&z_bytes);
    let k_inv = Option::<Scalar>::from(k.invert_vartime()).expect("k is not zero");
    let big_r = mul_generator(&k).to_affine();
    let r = <Scalar as Reduce<U256>>::reduce_bytes(&big_r.x());
    let s = k_inv * (z + r * d.as_ref());
    // Zero r or s (probability ~2^-256): ecdsa refuses them too, and `Signer::sign` panics.
    Signature::from_scalars(r, s).expect("ECDSA signature with non-zero r and s")
}

/// `d·G` as a public key of a signing key's scalar (key generation; the tests check it
/// against `PublicKey::from_secret_scalar`).
pub fn public_point(d: &Scalar) -> AffinePoint {
    mul_generator(d).to_affine()
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::PublicKey;
    use p256::ecdsa::signature::Signer;
    use p256::elliptic_curve::Field;
    use rand::{RngCore, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Scalars with extreme digit patterns, then random ones.
    fn scalars() -> Vec<Scalar> {
        let mut out = vec![Scalar::ONE, Scalar::ONE.double(), -Scalar::ONE, -Scalar::ONE.double()];
        for pattern in [0x00u8, 0xff, 0x55, 0xaa, 0x7f, 0x80, 0x20, 0x1f, 0xc1] {
            for top in [0x00u8, 0x7f, 0xfe, pattern] {
                let mut b = [pattern; 32];
                b[0] = top;
                if let Some(s) = Option::<Scalar>::from(Scalar::from_repr(b.into())) {
                    out.push(s);
                }
            }
        }
        // Powers of two and their neighbours (carries across every window).
        let mut p = Scalar::ONE;
        for _ in 0..256 {
            out.push(p);
            out.push(p + Scalar::ONE);
            out.push(p - Scalar::ONE);
            p = p.double();
        }
        let mut rng = ChaCha8Rng::seed_from_u64(0x6c61);
        for _ in 0..1500 {
            out.push(**crate::crypto::pki::key_from_rng(&mut rng).as_nonzero_scalar());
        }
        out
    }

    #[test]
    fn mul_generator_is_the_crates_multiplication() {
        assert_eq!(mul_generator(&Scalar::ZERO), ProjectivePoint::IDENTITY);
        for k in scalars() {
            let want = (ProjectivePoint::GENERATOR * k).to_affine();
            assert_eq!(mul_generator(&k).to_affine(), want, "k = {:?}", k.to_repr());
            if !bool::from(k.is_zero()) {
                let d = p256::NonZeroScalar::new(k).unwrap();
                assert_eq!(public_point(&k), *PublicKey::from_secret_scalar(&d).as_affine());
            }
        }
    }

    #[test]
    fn recode_sums_to_the_scalar() {
        for k in scalars() {
            let mut sum = Scalar::ZERO;
            let mut weight = Scalar::ONE;
            for d in recode(&k) {
                let m = Scalar::from(u64::from(d.unsigned_abs()));
                sum += if d < 0 { -(m * weight) } else { m * weight };
                for _ in 0..W {
                    weight = weight.double();
                }
            }
            assert_eq!(sum, k);
        }
    }

    /// JWS signatures (whose verdicts are remembered as good when made) verify with the
    /// crate's own ECDSA verification, and a tampered token is refused by `jose`.
    #[test]
    fn jws_signatures_verify_afresh() {
        use crate::crypto::jose::{JwsHeader, b64_decode, sign_compact, verify_compact};
        use p256::ecdsa::signature::Verifier;
        let mut rng = ChaCha8Rng::seed_from_u64(0x7a35);
        for i in 0..64u32 {
            let key = crate::crypto::pki::key_from_rng(&mut rng);
            let payload = format!("{{\"n\":{i}}}");
            let token = sign_compact(&key, &JwsHeader::es256(), payload.as_bytes());
            let (input, sig) = token.rsplit_once('.').unwrap();
            let sig = Signature::from_slice(&b64_decode(sig, "sig").unwrap()).unwrap();
            assert!(key.verifying_key().verify(input.as_bytes(), &sig).is_ok(), "token {i}");
            assert!(verify_compact(key.verifying_key(), &token).is_ok());
            let mut bad = token.clone().into_bytes();
            let at = input.len() - 2;
            bad[at] = if bad[at] == b'A' { b'B' } else { b'A' };
            assert!(verify_compact(key.verifying_key(), std::str::from_utf8(&bad).unwrap()).is_err());
        }
    }

    /// Byte for byte the crate's RFC 6979 signature, over many keys and messages (lengths 0
    /// to 300, so one- and multi-block SHA-256 inputs).
    #[test]
    fn sign_is_signing_key_sign() {
        let mut rng = ChaCha8Rng::seed_from_u64(0x5193);
        for i in 0..600 {
            let key = crate::crypto::pki::key_from_rng(&mut rng);
            let mut msg = vec![0u8; i % 301];
            rng.fill_bytes(&mut msg);
            let want: Signature = key.sign(&msg);
            assert_eq!(sign(&key, &msg).to_bytes(), want.to_bytes(), "message {i}");
        }
        // RFC 6979 A.2.5 (P-256, SHA-256, "sample" and "test").
        let x = hex::decode("C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721").unwrap();
        let key = SigningKey::from_slice(&x).unwrap();
        let sample = sign(&key, b"sample").to_bytes();
        assert_eq!(
            hex::encode_upper(sample),
            "EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716\
             F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8"
        );
        let test = sign(&key, b"test").to_bytes();
        assert_eq!(
            hex::encode_upper(test),
            "F1ABB023518351CD71D881567B1EA663ED3EFCF6C5132B354F28D3B0B7D38367\
             019F4113742A2B14BD25926B49C649155F267E60D3814B4C0CC84250E46F0083"
        );
    }
}
