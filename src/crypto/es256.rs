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
use p256::elliptic_curve::ops::Reduce;
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

/// A modulus for [`inv_mod_vartime`]: its signed 62-bit limbs and `m⁻¹ mod 2^62`.
struct Modulus {
    /// `m = Σ limbs[i]·2^(62·i)`, each limb in `[0, 2^62)`.
    limbs: [i64; 5],
    /// `m⁻¹ mod 2^62`.
    inv62: u64,
}

const M62: u64 = u64::MAX >> 2;

/// Little-endian 64-bit limbs to 62-bit limbs.
const fn to_signed62(a: &[u64; 4]) -> [i64; 5] {
    [
        (a[0] & M62) as i64,
        ((a[0] >> 62 | a[1] << 2) & M62) as i64,
        ((a[1] >> 60 | a[2] << 4) & M62) as i64,
        ((a[2] >> 58 | a[3] << 6) & M62) as i64,
        (a[3] >> 56) as i64,
    ]
}

/// 62-bit limbs (each in `[0, 2^62)`, value below 2^256) to little-endian 64-bit limbs.
fn from_signed62(a: &[i64; 5]) -> [u64; 4] {
    let a = a.map(|l| l as u64);
    [
        a[0] | a[1] << 62,
        a[1] >> 2 | a[2] << 60,
        a[2] >> 4 | a[3] << 58,
        a[3] >> 6 | a[4] << 56,
    ]
}

const fn modulus(m: [u64; 4]) -> Modulus {
    // Newton's iteration for the inverse of an odd number mod 2^64 (each step doubles the
    // correct low bits; 3 correct from `x = m`).
    let m0 = m[0];
    let mut x = m0;
    let mut i = 0;
    while i < 5 {
        x = x.wrapping_mul(2u64.wrapping_sub(m0.wrapping_mul(x)));
        i += 1;
    }
    Modulus {
        limbs: to_signed62(&m),
        inv62: x & M62,
    }
}

/// The group order `n`, little-endian limbs.
const N_LIMBS: [u64; 4] = [
    0xf3b9_cac2_fc63_2551,
    0xbce6_faad_a717_9e84,
    0xffff_ffff_ffff_ffff,
    0xffff_ffff_0000_0000,
];
static MOD_N: Modulus = modulus(N_LIMBS);

/// 62 division steps of Bernstein–Yang's safegcd on the low bits of `f` and `g`, variable
/// time (libsecp256k1's `modinv64_divsteps_62_var`): the new `eta` and the transition
/// matrix `[u v; q r]` (scaled by 2^62).
fn divsteps_62_var(mut eta: i64, f0: u64, g0: u64) -> (i64, [i64; 4]) {
    let (mut u, mut v, mut q, mut r) = (1u64, 0u64, 0u64, 1u64);
    let (mut f, mut g) = (f0, g0);
    let mut i: u32 = 62;
    loop {
        let zeros = (g | (u64::MAX << i)).trailing_zeros();
        g >>= zeros;
        u <<= zeros;
        v <<= zeros;
        eta -= i64::from(zeros);
        i -= zeros;
        if i == 0 {
            break;
        }
        let w;
        if eta < 0 {
            eta = -eta;
            (f, g) = (g, f.wrapping_neg());
            (u, q) = (q, u.wrapping_neg());
            (v, r) = (r, v.wrapping_neg());
            let limit = (eta as u32 + 1).min(i);
            let m = (u64::MAX >> (64 - limit)) & 63;
            w = (f.wrapping_mul(g).wrapping_mul(f.wrapping_mul(f).wrapping_sub(2))) & m;
        } else {
            let limit = (eta as u32 + 1).min(i);
            let m = (u64::MAX >> (64 - limit)) & 15;
            let w0 = f.wrapping_add((f.wrapping_add(1) & 4) << 1);
            w = w0.wrapping_neg().wrapping_mul(g) & m;
        }
        g = g.wrapping_add(f.wrapping_mul(w));
        q = q.wrapping_add(u.wrapping_mul(w));
        r = r.wrapping_add(v.wrapping_mul(w));
    }
    (eta, [u as i64, v as i64, q as i64, r as i64])
}

/// `[d, e] = t·[d, e] / 2^62 mod m` (libsecp256k1's `modinv64_update_de_62`).
fn update_de(d: &mut [i64; 5], e: &mut [i64; 5], t: &[i64; 4], m: &Modulus) {
    let [u, v, q, r] = *t;
    let (sd, se) = (d[4] >> 63, e[4] >> 63);
    let mut md = (u & sd) + (v & se);
    let mut me = (q & sd) + (r & se);
    let mut cd = i128::from(u) * i128::from(d[0]) + i128::from(v) * i128::from(e[0]);
    let mut ce = i128::from(q) * i128::from(d[0]) + i128::from(r) * i128::from(e[0]);
    md -= (m.inv62.wrapping_mul(cd as u64).wrapping_add(md as u64) & M62) as i64;
    me -= (m.inv62.wrapping_mul(ce as u64).wrapping_add(me as u64) & M62) as i64;
    cd += i128::from(m.limbs[0]) * i128::from(md);
    ce += i128::from(m.limbs[0]) * i128::from(me);
    debug_assert_eq!(cd as u64 & M62, 0);
    debug_assert_eq!(ce as u64 & M62, 0);
    cd >>= 62;
    ce >>= 62;
    for i in 1..5 {
        cd += i128::from(u) * i128::from(d[i]) + i128::from(v) * i128::from(e[i]);
        ce += i128::from(q) * i128::from(d[i]) + i128::from(r) * i128::from(e[i]);
        cd += i128::from(m.limbs[i]) * i128::from(md);
        ce += i128::from(m.limbs[i]) * i128::from(me);
        d[i - 1] = (cd as u64 & M62) as i64;
        e[i - 1] = (ce as u64 & M62) as i64;
        cd >>= 62;
        ce >>= 62;
    }
    d[4] = cd as i64;
    e[4] = ce as i64;
}

/// `[f, g] = t·[f, g] / 2^62` over the first `len` limbs (`modinv64_update_fg_62_var`).
fn update_fg(len: usize, f: &mut [i64; 5], g: &mut [i64; 5], t: &[i64; 4]) {
    let [u, v, q, r] = *t;
    let mut cf = i128::from(u) * i128::from(f[0]) + i128::from(v) * i128::from(g[0]);
    let mut cg = i128::from(q) * i128::from(f[0]) + i128::from(r) * i128::from(g[0]);
    cf >>= 62;
    cg >>= 62;
    for i in 1..len {
        cf += i128::from(u) * i128::from(f[i]) + i128::from(v) * i128::from(g[i]);
        cg += i128::from(q) * i128::from(f[i]) + i128::from(r) * i128::from(g[i]);
        f[i - 1] = (cf as u64 & M62) as i64;
        g[i - 1] = (cg as u64 & M62) as i64;
        cf >>= 62;
        cg >>= 62;
    }
    f[len - 1] = cf as i64;
    g[len - 1] = cg as i64;
}

/// Carries of signed 62-bit limbs: limbs 0 to 3 in `[0, 2^62)`, the sign in limb 4.
fn carry62(a: &mut [i64; 5]) {
    for i in 0..4 {
        let c = a[i] >> 62;
        a[i] &= M62 as i64;
        a[i + 1] += c;
    }
}

/// `x⁻¹ mod m` for `0 < x < m`, `m` an odd prime below 2^256, by Bernstein–Yang safegcd
/// (a port of libsecp256k1's `secp256k1_modinv64_var`). **Variable time** (the number of
/// steps and their branches depend on `x`): fine for the simulator's seeded keys and nonces,
/// not for real secrets. `0` gives `0`.
fn inv_mod_vartime(x: &[u64; 4], m: &Modulus) -> [u64; 4] {
    let mut d = [0i64; 5];
    let mut e = [1i64, 0, 0, 0, 0];
    let mut f = m.limbs;
    let mut g = to_signed62(x);
    let mut len = 5;
    let mut eta = -1i64;
    loop {
        let (eta2, t) = divsteps_62_var(eta, f[0] as u64, g[0] as u64);
        eta = eta2;
        update_de(&mut d, &mut e, &t, m);
        update_fg(len, &mut f, &mut g, &t);
        if g[..len].iter().all(|&l| l == 0) {
            break;
        }
        let (fnl, gnl) = (f[len - 1], g[len - 1]);
        if len >= 2 && (fnl ^ (fnl >> 63)) == 0 && (gnl ^ (gnl >> 63)) == 0 {
            f[len - 2] |= ((fnl as u64) << 62) as i64;
            g[len - 2] |= ((gnl as u64) << 62) as i64;
            len -= 1;
        }
    }
    // f = ±1 (gcd), d·x = f mod m, d in (-2m, m).
    if f[len - 1] < 0 {
        d = d.map(|l| -l);
    }
    carry62(&mut d);
    while d[4] < 0 {
        for (l, ml) in d.iter_mut().zip(m.limbs) {
            *l += ml;
        }
        carry62(&mut d);
    }
    // While d >= m: subtract.
    while (0..5)
        .rev()
        .find(|&i| d[i] != m.limbs[i])
        .is_none_or(|i| d[i] > m.limbs[i])
    {
        for (l, ml) in d.iter_mut().zip(m.limbs) {
            *l -= ml;
        }
        carry62(&mut d);
    }
    from_signed62(&d)
}

fn be_to_limbs(b: &[u8]) -> [u64; 4] {
    let mut out = [0u64; 4];
    for (i, limb) in out.iter_mut().enumerate() {
        let start = 32 - 8 * (i + 1);
        *limb = u64::from_be_bytes(b[start..start + 8].try_into().expect("8 bytes"));
    }
    out
}

fn limbs_to_be(l: &[u64; 4]) -> FieldBytes {
    let mut out = FieldBytes::default();
    for (i, limb) in l.iter().enumerate() {
        let start = 32 - 8 * (i + 1);
        out[start..start + 8].copy_from_slice(&limb.to_be_bytes());
    }
    out
}

/// `k⁻¹ mod n` by `inv_mod_vartime` (variable time): equal to `Scalar::invert` for
/// every non-zero scalar (`0` gives `0`).
pub fn scalar_invert_vartime(k: &Scalar) -> Scalar {
    let inv = inv_mod_vartime(&be_to_limbs(&k.to_repr()), &MOD_N);
    Option::<Scalar>::from(Scalar::from_repr(limbs_to_be(&inv))).expect("inverse below n")
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
    let k_inv = scalar_invert_vartime(&k);
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
    /// The safegcd inversion equals the crate's constant-time `Scalar::invert` on edge
    /// values and many random scalars, and `k·k⁻¹ = 1`.
    #[test]
    fn scalar_invert_vartime_is_the_crates_inversion() {
        assert_eq!(scalar_invert_vartime(&Scalar::ZERO), Scalar::ZERO);
        let mut ks = scalars();
        let n_minus = |c: u64| -Scalar::from(c);
        ks.extend([
            Scalar::ONE,
            n_minus(1),
            n_minus(2),
            Scalar::from(2u64),
            Scalar::from(3u64),
        ]);
        // (n - 1) / 2 and neighbours, 2^255 region, small values.
        let half = Scalar::from(2u64).invert().unwrap();
        ks.extend([-half, -half + Scalar::ONE, half]);
        for c in 1..200u64 {
            ks.push(Scalar::from(c));
            ks.push(n_minus(c));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(0x1a2b);
        for _ in 0..20_000 {
            let mut b = [0u8; 32];
            rng.fill_bytes(&mut b);
            // Some with short values (fewer limbs), most full width.
            let short = (rng.next_u32() % 4) as usize * 8;
            b[..short].fill(0);
            ks.push(<Scalar as Reduce<U256>>::reduce_bytes(&b.into()));
        }
        for k in ks {
            if bool::from(k.is_zero()) {
                continue;
            }
            let want = k.invert().unwrap();
            let got = scalar_invert_vartime(&k);
            assert_eq!(got, want, "k = {:?}", k.to_repr());
            assert_eq!(got * k, Scalar::ONE);
        }
    }
}
