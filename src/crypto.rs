//! Real key schedules and message protection (issue 3). Each file is one piece:
//!
//! - [`kdf`]: the 3GPP generic KDF (TS 33.220 Annex B).
//! - [`aefpsk`]: AEFPSK (TS 33.122 Annex A), TLS 1.2 as specified and a TLS 1.3 variant.
//! - [`tls13`]: the TLS 1.3 key schedule (RFC 8446 section 7), X25519, binders, exporter.
//! - [`tls12`]: the TLS 1.2 PRF and the RFC 5705 exporter.
//! - [`n32f`]: the N32-f key hierarchy and nonces (TS 33.501 13.2.4.4.1).
//! - [`jose`]: JWE (dir + AES-GCM) and JWS (ES256) in flattened JSON, base64url.
//! - [`backend`]: which code signs and verifies ECDSA P-256 (`es256` + `ring` by default).
//! - [`es256`]: ES256 signing with a precomputed generator table (same bytes as `p256`).
//! - [`jwt`]: OAuth access tokens (JWS compact, ES256) for CAPIF.
//! - [`pki`]: a light PKI: certificates with real signatures, chains, expiry, revocation.
//! - [`cost`]: simulated CPU cost per operation and the `crypto_fidelity` knob.

pub mod aefpsk;
pub mod backend;
pub mod cost;
pub mod es256;
pub mod jose;
pub mod jwt;
pub mod kdf;
pub mod n32f;
pub mod pki;
pub mod tls12;
pub mod tls13;
pub mod verdict;
