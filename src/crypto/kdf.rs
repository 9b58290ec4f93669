//! The 3GPP generic key derivation function (TS 33.220 Annex B) and HMAC-SHA-256.
//!
//! ```text
//!  derived key = HMAC-SHA-256(Key, S)                          (TS 33.220 B.2.0)
//!  S = FC || P0 || L0 || P1 || L1 || ... || Pn || Ln           (TS 33.220 B.2.2)
//!  Li = length of Pi in octets, 2 octets, big-endian
//! ```
//!
//! FC is one octet (0x00..=0xFE) or the two-octet form `0xFF || FC2`; see [`Fc`]. Strings are
//! passed as UTF-8 bytes: the spec asks for NFKC normalisation first, which is the identity on
//! ASCII, and every string secsim derives from (FQDNs, API prefixes, IDs) is ASCII. Callers with
//! non-ASCII text must normalise it themselves (this crate has no Unicode tables).
//!
//! The output is always 256 bits; truncation (e.g. to 128 bits) is the caller's business and
//! takes the least significant (last) octets per TS 33.220 B.2.1 where a clause asks for it.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// HMAC with SHA-256 (RFC 2104), the PRF of the generic KDF.
pub type HmacSha256 = Hmac<Sha256>;

/// Why a KDF input was refused.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
pub enum KdfError {
    /// A parameter longer than 65535 octets has no 2-octet length (TS 33.220 B.2.1).
    /// Fatal to the derivation only: the scenario configured an absurdly long string.
    #[error("kdf parameter P{index} is {len} octets; the limit is 65535")]
    ParameterTooLong {
        /// Index of the parameter (P0 is 0).
        index: usize,
        /// Its length in octets.
        len: usize,
    },
}

/// The function code that starts S: one octet, or `0xFF || FC2` (TS 33.220 B.2.2).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Fc {
    /// A one-octet code 0x00..=0xFE.
    Short(u8),
    /// The two-octet form: 0xFF followed by this octet.
    Extended(u8),
}

impl From<u8> for Fc {
    fn from(fc: u8) -> Self {
        Fc::Short(fc)
    }
}

/// HMAC-SHA-256(key, data) as 32 octets. Any key length is accepted (RFC 2104).
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    hmac_sha256_parts(key, &[data])
}

/// HMAC-SHA-256 over the concatenation of `parts`, without building the concatenation.
pub fn hmac_sha256_parts(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // `new_from_slice` only fails for fixed-length-key MACs; HMAC takes any key length.
    let mut mac = HmacSha256::new_from_slice(key).expect("hmac accepts any key length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// Constant-time check of an HMAC-SHA-256 tag (`tag` may be truncated, but not empty).
pub fn hmac_sha256_verify(key: &[u8], data: &[u8], tag: &[u8]) -> bool {
    let mut mac = HmacSha256::new_from_slice(key).expect("hmac accepts any key length");
    mac.update(data);
    !tag.is_empty() && mac.verify_truncated_left(tag).is_ok()
}

/// The input string S of the KDF: `FC || P0 || L0 || ... || Pn || Ln` (TS 33.220 B.2.2).
pub fn encode_s(fc: impl Into<Fc>, params: &[&[u8]]) -> Result<Vec<u8>, KdfError> {
    let mut s = Vec::with_capacity(2 + params.iter().map(|p| p.len() + 2).sum::<usize>());
    match fc.into() {
        Fc::Short(c) => s.push(c),
        Fc::Extended(c) => s.extend_from_slice(&[0xFF, c]),
    }
    for (index, p) in params.iter().enumerate() {
        let len = u16::try_from(p.len()).map_err(|_| KdfError::ParameterTooLong { index, len: p.len() })?;
        s.extend_from_slice(p);
        s.extend_from_slice(&len.to_be_bytes());
    }
    Ok(s)
}

/// The generic KDF: HMAC-SHA-256(key, S) with S built from `fc` and `params` (TS 33.220 B.2).
///
/// ```
/// # use secsim::crypto::kdf::kdf;
/// let k = kdf(&[0u8; 32], 0x7A, &[b"aef1.example.com:443/api", &[0xAA; 32]]).unwrap();
/// assert_eq!(k.len(), 32);
/// ```
pub fn kdf(key: &[u8], fc: impl Into<Fc>, params: &[&[u8]]) -> Result<[u8; 32], KdfError> {
    Ok(hmac_sha256(key, &encode_s(fc, params)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    /// RFC 4231 test case 2.
    #[test]
    fn hmac_rfc4231_case2() {
        let tag = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(tag),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(hmac_sha256_verify(b"Jefe", b"what do ya want for nothing?", &tag));
        assert!(!hmac_sha256_verify(b"Jefe", b"what do ya want for nothing!", &tag));
        assert!(!hmac_sha256_verify(b"Jefe", b"what do ya want for nothing?", &[]));
    }

    /// RFC 4231 test case 1 (20-octet key of 0x0b, "Hi There").
    #[test]
    fn hmac_rfc4231_case1() {
        let tag = hmac_sha256(&[0x0b; 20], b"Hi There");
        assert_eq!(
            hex::encode(tag),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        assert_eq!(hmac_sha256_parts(&[0x0b; 20], &[b"Hi ", b"There"]), tag);
    }

    #[test]
    fn encode_s_layout() {
        let s = encode_s(0x7A, &[b"ab", b""]).unwrap();
        // FC, P0 "ab", L0 = 2, P1 empty, L1 = 0.
        assert_eq!(s, unhex("7a616200020000"));
        let s = encode_s(Fc::Extended(0x01), &[b"x"]).unwrap();
        assert_eq!(s, vec![0xFF, 0x01, b'x', 0x00, 0x01]);
    }

    #[test]
    fn encode_s_refuses_long_parameter() {
        let long = vec![0u8; 65536];
        assert_eq!(
            encode_s(0x7A, &[b"ok", &long]),
            Err(KdfError::ParameterTooLong { index: 1, len: 65536 })
        );
        assert!(encode_s(0x7A, &[&long[..65535]]).is_ok());
    }

    /// DIGEST section 5, self-computed AEFPSK example through the generic KDF.
    #[test]
    fn kdf_aefpsk_example() {
        let key: Vec<u8> = (0u8..0x30).collect();
        let k = kdf(
            &key,
            0x7A,
            &[b"aef1.example.com:443/3gpp-monitoring-event/v1", &[0xAA; 32]],
        )
        .unwrap();
        assert_eq!(
            hex::encode(k),
            "8bb33620cb9f3aac3a93bc201f0b800c7526c936228d91ab4acf00ac48588c33"
        );
    }
}
