//! The N32-f key hierarchy, nonces and AES-GCM (TS 33.501 13.2.4.4.1; RFC 7518 5.3).
//!
//! ```text
//!  first N32-c TLS connection between the two SEPPs
//!      │  exporter("EXPORTER_3GPP_N32_MASTER", context "", 64)   (RFC 8446 7.5 / RFC 5705)
//!      ▼
//!  N32 master (64 octets)
//!      │  N32-KDF(label, L) = HKDF-Expand(PRK = master, info = "N32" || context ID || label, L)
//!      │                      (SHA-256, no Extract)
//!      ├─ parallel_request_key   (16|32) + parallel_request_iv_salt   (8)   initiator → responder
//!      ├─ parallel_response_key  (16|32) + parallel_response_iv_salt  (8)   responder → initiator
//!      ├─ reverse_request_key    (16|32) + reverse_request_iv_salt    (8)   responder → initiator
//!      └─ reverse_response_key   (16|32) + reverse_response_iv_salt   (8)   initiator → responder
//!  nonce = iv_salt (8) || SEQ (u32 big-endian, 0, 1, 2, ...; one counter per salt)
//! ```
//!
//! "parallel" is the direction where the N32-c initiator is the HTTP client, "reverse" the one
//! where the responder is (TS 33.501 13.2.4.4.1). Key length is 16 for A128GCM and 32 for
//! A256GCM ([`JweEnc`]). A sequence number never wraps: [`NonceSequence`] refuses the
//! 2^32-th nonce with [`N32fError::NonceExhausted`]; the SEPPs must then set up a new
//! context (a new context ID, hence new keys from the same master).
//!
//! # Which context ID (secsim's decision, DIGEST 9)
//!
//! Each SEPP owns an N32 context ID; the spec does not say whose goes into the KDF and open
//! implementations disagree. secsim uses the **receiving SEPP's** context ID for each
//! direction's key and salt by default, the same ID the sender puts in the N32-f message
//! metadata (`n32fContextId`) so that the receiver can find its context. The knob
//! [`KdfContextId`] selects the alternatives (sender's, always the initiator's, always the
//! responder's) for experiments on interoperability failures.
//!
//! The TLS 1.2 master uses the RFC 5705 exporter with a *present, empty* context (two zero
//! length octets): TS 33.501 gives the context as "" and RFC 5705 distinguishes "" from absent.

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes128Gcm, Aes256Gcm, Nonce, Tag};
use hkdf::Hkdf;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::tls12::Tls12Session;
use super::tls13::{self, Secret, Tls13Secrets};

/// The exporter label of the N32 master (TS 33.501 13.2.4.4.1).
pub const N32_MASTER_LABEL: &[u8] = b"EXPORTER_3GPP_N32_MASTER";

/// Length of the N32 master \[octets\].
pub const N32_MASTER_LEN: usize = 64;

/// Length of an AES-GCM tag \[octets\].
pub const TAG_LEN: usize = 16;

/// Why an AEAD operation failed.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
pub enum AeadError {
    /// The key does not have the algorithm's length. An invariant violation in secsim's own
    /// callers; a peer cannot cause it.
    #[error("{enc} needs a {expected}-octet key, got {got}")]
    KeyLength {
        /// The algorithm.
        enc: &'static str,
        /// Its key length.
        expected: usize,
        /// The given length.
        got: usize,
    },
    /// Authentication failed: wrong key, nonce or AAD, or altered ciphertext or tag. A peer
    /// or an intermediary can cause it; fatal to the message only.
    #[error("aead authentication failed")]
    Authentication,
    /// The input is shorter than a tag.
    #[error("aead input of {0} octets is shorter than the 16-octet tag")]
    Truncated(usize),
}

/// Why an N32-f key or nonce could not be produced.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
pub enum N32fError {
    /// All 2^32 sequence numbers of an IV salt are used; a new N32-f context is needed.
    /// Fatal to the context, not to the run.
    #[error("n32-f sequence numbers of iv salt {salt} are exhausted; a new context id is needed")]
    NonceExhausted {
        /// The salt, hex.
        salt: String,
    },
    /// HKDF-Expand with SHA-256 yields at most 8160 octets.
    #[error("n32-kdf asked for {0} octets; the limit is 8160")]
    OutputTooLong(usize),
    /// Protection failed.
    #[error(transparent)]
    Aead(#[from] AeadError),
}

/// The JWE content encryption of N32-f (RFC 7518 5.3).
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
pub enum JweEnc {
    /// AES-128-GCM, 16-octet keys.
    #[serde(rename = "A128GCM")]
    A128Gcm,
    /// AES-256-GCM, 32-octet keys (default).
    #[default]
    #[serde(rename = "A256GCM")]
    A256Gcm,
}

impl JweEnc {
    /// Key length \[octets\].
    pub fn key_len(self) -> usize {
        match self {
            JweEnc::A128Gcm => 16,
            JweEnc::A256Gcm => 32,
        }
    }

    /// The JOSE name (`"A128GCM"`, `"A256GCM"`).
    pub fn name(self) -> &'static str {
        match self {
            JweEnc::A128Gcm => "A128GCM",
            JweEnc::A256Gcm => "A256GCM",
        }
    }

    fn check_key(self, key: &[u8]) -> Result<(), AeadError> {
        if key.len() != self.key_len() {
            return Err(AeadError::KeyLength {
                enc: self.name(),
                expected: self.key_len(),
                got: key.len(),
            });
        }
        Ok(())
    }
}

/// AES-GCM encryption with a 96-bit nonce; returns the ciphertext and the 16-octet tag.
pub fn aead_seal_detached(
    enc: JweEnc,
    key: &[u8],
    nonce: &[u8; 12],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<(Vec<u8>, [u8; TAG_LEN]), AeadError> {
    enc.check_key(key)?;
    let mut buf = plaintext.to_vec();
    let nonce = &Nonce::from(*nonce);
    // Lengths were checked; encryption fails only beyond 2^36 octets, which secsim never sends.
    let tag = match enc {
        JweEnc::A128Gcm => Aes128Gcm::new_from_slice(key)
            .expect("checked")
            .encrypt_in_place_detached(nonce, aad, &mut buf),
        JweEnc::A256Gcm => Aes256Gcm::new_from_slice(key)
            .expect("checked")
            .encrypt_in_place_detached(nonce, aad, &mut buf),
    }
    .expect("message below the aes-gcm length limit");
    Ok((buf, tag.into()))
}

/// AES-GCM decryption of a detached ciphertext and tag.
pub fn aead_open_detached(
    enc: JweEnc,
    key: &[u8],
    nonce: &[u8; 12],
    aad: &[u8],
    ciphertext: &[u8],
    tag: &[u8; TAG_LEN],
) -> Result<Vec<u8>, AeadError> {
    enc.check_key(key)?;
    let mut buf = ciphertext.to_vec();
    let nonce = &Nonce::from(*nonce);
    let tag = &Tag::from(*tag);
    match enc {
        JweEnc::A128Gcm => Aes128Gcm::new_from_slice(key)
            .expect("checked")
            .decrypt_in_place_detached(nonce, aad, &mut buf, tag),
        JweEnc::A256Gcm => Aes256Gcm::new_from_slice(key)
            .expect("checked")
            .decrypt_in_place_detached(nonce, aad, &mut buf, tag),
    }
    .map_err(|_| AeadError::Authentication)?;
    Ok(buf)
}

/// AES-GCM encryption; returns `ciphertext || tag`.
pub fn aead_seal(
    enc: JweEnc,
    key: &[u8],
    nonce: &[u8; 12],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, AeadError> {
    let (mut ct, tag) = aead_seal_detached(enc, key, nonce, aad, plaintext)?;
    ct.extend_from_slice(&tag);
    Ok(ct)
}

/// AES-GCM decryption of `ciphertext || tag`.
pub fn aead_open(enc: JweEnc, key: &[u8], nonce: &[u8; 12], aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, AeadError> {
    let split = sealed
        .len()
        .checked_sub(TAG_LEN)
        .ok_or(AeadError::Truncated(sealed.len()))?;
    let (ct, tag) = sealed.split_at(split);
    let tag: &[u8; TAG_LEN] = tag.try_into().expect("split leaves 16 octets");
    aead_open_detached(enc, key, nonce, aad, ct, tag)
}

/// The N32 master key, exported from the first N32-c TLS connection.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct N32Master([u8; N32_MASTER_LEN]);

impl N32Master {
    /// From raw octets (tests, or a master carried over from elsewhere).
    pub fn from_bytes(bytes: [u8; N32_MASTER_LEN]) -> Self {
        N32Master(bytes)
    }

    /// The octets.
    pub fn as_bytes(&self) -> &[u8; N32_MASTER_LEN] {
        &self.0
    }

    /// From a TLS 1.3 exporter_master_secret: TLS-Exporter(label, "", 64) (RFC 8446 7.5).
    pub fn from_tls13_exporter_master(exporter_master: &Secret) -> Self {
        let out = tls13::exporter(exporter_master, N32_MASTER_LABEL, b"", N32_MASTER_LEN)
            .expect("constant label and length are within limits");
        N32Master(out.try_into().expect("64 octets requested"))
    }

    /// From a completed TLS 1.3 N32-c handshake.
    pub fn from_tls13(secrets: &Tls13Secrets) -> Self {
        Self::from_tls13_exporter_master(&secrets.exporter_master)
    }

    /// From a TLS 1.2 N32-c session: RFC 5705 exporter with a present, empty context.
    pub fn from_tls12(session: &Tls12Session) -> Self {
        let out = session
            .exporter(N32_MASTER_LABEL, Some(&[]), N32_MASTER_LEN)
            .expect("label is not reserved and the context is empty");
        N32Master(out.try_into().expect("64 octets requested"))
    }
}

/// N32-KDF(label, L) = HKDF-Expand(PRK = master, info = "N32" || context_id || label, L),
/// SHA-256, without Extract (TS 33.501 13.2.4.4.1).
pub fn n32_kdf(master: &N32Master, context_id: &[u8], label: &[u8], len: usize) -> Result<Vec<u8>, N32fError> {
    // A 64-octet PRK is at least hash-sized, so from_prk accepts it.
    let hk = Hkdf::<Sha256>::from_prk(&master.0).expect("prk is 64 octets");
    let mut out = vec![0u8; len];
    hk.expand_multi_info(&[b"N32", context_id, label], &mut out)
        .map_err(|_| N32fError::OutputTooLong(len))?;
    Ok(out)
}

/// The two ends of an N32 connection.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum N32Role {
    /// The SEPP that initiated N32-c (c-SEPP).
    Initiator,
    /// The SEPP that answered N32-c (p-SEPP).
    Responder,
}

/// One of the four N32-f protection directions.
#[derive(Clone, Copy, Debug, Eq, Ord, PartialEq, PartialOrd)]
pub enum Direction {
    /// Requests from the initiator (HTTP client) to the responder.
    ParallelRequest,
    /// Responses from the responder to the initiator.
    ParallelResponse,
    /// Requests from the responder (HTTP client) to the initiator.
    ReverseRequest,
    /// Responses from the initiator to the responder.
    ReverseResponse,
}

impl Direction {
    /// All four, in the spec's order.
    pub const ALL: [Direction; 4] = [
        Direction::ParallelRequest,
        Direction::ParallelResponse,
        Direction::ReverseRequest,
        Direction::ReverseResponse,
    ];

    /// The key label of TS 33.501 13.2.4.4.1.
    pub fn key_label(self) -> &'static str {
        match self {
            Direction::ParallelRequest => "parallel_request_key",
            Direction::ParallelResponse => "parallel_response_key",
            Direction::ReverseRequest => "reverse_request_key",
            Direction::ReverseResponse => "reverse_response_key",
        }
    }

    /// The IV salt label of TS 33.501 13.2.4.4.1.
    pub fn iv_salt_label(self) -> &'static str {
        match self {
            Direction::ParallelRequest => "parallel_request_iv_salt",
            Direction::ParallelResponse => "parallel_response_iv_salt",
            Direction::ReverseRequest => "reverse_request_iv_salt",
            Direction::ReverseResponse => "reverse_response_iv_salt",
        }
    }

    /// The SEPP that encrypts in this direction.
    pub fn sender(self) -> N32Role {
        match self {
            Direction::ParallelRequest | Direction::ReverseResponse => N32Role::Initiator,
            Direction::ParallelResponse | Direction::ReverseRequest => N32Role::Responder,
        }
    }

    /// The SEPP that decrypts in this direction.
    pub fn receiver(self) -> N32Role {
        match self.sender() {
            N32Role::Initiator => N32Role::Responder,
            N32Role::Responder => N32Role::Initiator,
        }
    }
}

/// Whose N32 context ID enters N32-KDF (spec silent, DIGEST 9). Default: `Receiver`.
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
pub enum KdfContextId {
    /// The receiving SEPP's, per direction (the ID the sender writes in the metadata).
    #[default]
    Receiver,
    /// The sending SEPP's, per direction.
    Sender,
    /// Always the N32-c initiator's.
    Initiator,
    /// Always the N32-c responder's.
    Responder,
}

impl KdfContextId {
    /// The role whose context ID is used for `dir`.
    pub fn role(self, dir: Direction) -> N32Role {
        match self {
            KdfContextId::Receiver => dir.receiver(),
            KdfContextId::Sender => dir.sender(),
            KdfContextId::Initiator => N32Role::Initiator,
            KdfContextId::Responder => N32Role::Responder,
        }
    }
}

/// The two SEPPs' N32 context IDs (exchanged on N32-c).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct N32ContextIds {
    /// The initiator's (c-SEPP's) context ID.
    pub initiator: String,
    /// The responder's (p-SEPP's) context ID.
    pub responder: String,
}

impl N32ContextIds {
    /// The context ID of `role`.
    pub fn of(&self, role: N32Role) -> &str {
        match role {
            N32Role::Initiator => &self.initiator,
            N32Role::Responder => &self.responder,
        }
    }
}

/// The key and IV salt of one direction.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct DirectionKeys {
    /// The AES-GCM key (16 or 32 octets).
    pub key: Vec<u8>,
    /// The IV salt (8 octets).
    pub iv_salt: [u8; 8],
}

/// All eight N32-f keys and IV salts of one context.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct N32fKeys {
    /// The content encryption the keys are for.
    pub enc: JweEnc,
    /// Keys indexed as [`Direction::ALL`].
    keys: [DirectionKeys; 4],
}

impl N32fKeys {
    /// Derives the eight values (TS 33.501 13.2.4.4.1); `choice` picks whose context ID enters
    /// the KDF for each direction.
    pub fn derive(master: &N32Master, ids: &N32ContextIds, choice: KdfContextId, enc: JweEnc) -> Self {
        let keys = Direction::ALL.map(|dir| {
            let ctx = ids.of(choice.role(dir)).as_bytes();
            // Lengths are 8, 16 or 32 octets, far below the HKDF limit.
            let key = n32_kdf(master, ctx, dir.key_label().as_bytes(), enc.key_len()).expect("short output");
            let salt = n32_kdf(master, ctx, dir.iv_salt_label().as_bytes(), 8).expect("short output");
            DirectionKeys {
                key,
                iv_salt: salt.try_into().expect("8 octets requested"),
            }
        });
        N32fKeys { enc, keys }
    }

    /// The key and salt of `dir`.
    pub fn get(&self, dir: Direction) -> &DirectionKeys {
        &self.keys[dir as usize]
    }

    /// A sealing channel for `dir`, with its sequence number at 0.
    pub fn sealer(&self, dir: Direction) -> Sealer {
        let k = self.get(dir);
        Sealer {
            enc: self.enc,
            key: k.key.clone(),
            nonces: NonceSequence::new(k.iv_salt),
        }
    }

    /// Opens a message protected in `dir` with the IV it carries.
    pub fn open(
        &self,
        dir: Direction,
        iv: &[u8; 12],
        aad: &[u8],
        ciphertext: &[u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<Vec<u8>, AeadError> {
        aead_open_detached(self.enc, &self.get(dir).key, iv, aad, ciphertext, tag)
    }
}

/// Nonces `salt || SEQ` with SEQ a big-endian u32 from 0; never wraps.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct NonceSequence {
    salt: [u8; 8],
    /// The next SEQ; 2^32 means exhausted.
    next: u64,
}

impl NonceSequence {
    /// A fresh sequence starting at SEQ 0.
    pub fn new(salt: [u8; 8]) -> Self {
        NonceSequence { salt, next: 0 }
    }

    /// A sequence whose next SEQ is `seq` (restoring state, tests).
    pub fn starting_at(salt: [u8; 8], seq: u32) -> Self {
        NonceSequence {
            salt,
            next: u64::from(seq),
        }
    }

    /// The next nonce, or `NonceExhausted` once SEQ 2^32 - 1 has been used.
    pub fn next_nonce(&mut self) -> Result<[u8; 12], N32fError> {
        let seq = u32::try_from(self.next).map_err(|_| N32fError::NonceExhausted {
            salt: hex::encode(self.salt),
        })?;
        self.next += 1;
        let mut nonce = [0u8; 12];
        nonce[..8].copy_from_slice(&self.salt);
        nonce[8..].copy_from_slice(&seq.to_be_bytes());
        Ok(nonce)
    }

    /// How many nonces are left.
    pub fn remaining(&self) -> u64 {
        (1u64 << 32) - self.next
    }
}

/// An encrypted N32-f payload: the IV it used, the ciphertext and the tag.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Sealed {
    /// The 12-octet IV (`salt || SEQ`).
    pub iv: [u8; 12],
    /// The ciphertext (as long as the plaintext).
    pub ciphertext: Vec<u8>,
    /// The 16-octet tag.
    pub tag: [u8; TAG_LEN],
}

/// The sending side of one direction: key plus nonce sequence.
#[derive(Clone, Debug)]
pub struct Sealer {
    enc: JweEnc,
    key: Vec<u8>,
    nonces: NonceSequence,
}

impl Sealer {
    /// Encrypts with the next nonce.
    pub fn seal(&mut self, aad: &[u8], plaintext: &[u8]) -> Result<Sealed, N32fError> {
        let iv = self.nonces.next_nonce()?;
        let (ciphertext, tag) = aead_seal_detached(self.enc, &self.key, &iv, aad, plaintext)?;
        Ok(Sealed { iv, ciphertext, tag })
    }

    /// The nonce sequence (e.g. to check how many remain).
    pub fn nonces(&self) -> &NonceSequence {
        &self.nonces
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

    const CTX: &str = "0123456789ABCDEF";
    const MASTER: &str = "dd0403190bf6c4d2c34cdc50c41c48d7eba9b1b507eade0554b7be87baa4e44c\
                          ce8f5abb2dce9207f3a186f7ddd7aeb81b81ff3c6951533d379cb61c9ae5a78b";
    const EXP_MASTER: &str = "fe22f881176eda18eb8f44529e6792c50c9a3f89452f68d8ae311b4309d3cf50";

    fn master() -> N32Master {
        N32Master::from_bytes(hex::decode(MASTER).unwrap().try_into().unwrap())
    }

    /// DIGEST 7, self-computed N32 chain.
    #[test]
    fn n32_master_from_rfc8448_exporter_master() {
        let em: Secret = hex::decode(EXP_MASTER).unwrap().try_into().unwrap();
        assert_eq!(N32Master::from_tls13_exporter_master(&em), master());
    }

    #[test]
    fn n32_kdf_digest_chain() {
        let m = master();
        let k = |label: &str, len| hex::encode(n32_kdf(&m, CTX.as_bytes(), label.as_bytes(), len).unwrap());
        assert_eq!(
            k("parallel_request_key", 32),
            "6fc8927fe7328bc1c6e90871b5ce75e56840332bbbcb6b4f3addfc0d5c1b1749"
        );
        assert_eq!(k("parallel_request_iv_salt", 8), "4bc0f5974db1bf8d");
        assert_eq!(
            k("parallel_response_key", 32),
            "e9926fbb3a6b9a2db83e2d8751eb18b688e2c8fa0a0ec0cd94527d037b7991bd"
        );
        assert_eq!(k("parallel_response_iv_salt", 8), "e25890589260a516");
        assert_eq!(k("reverse_request_key", 16), "49f2863962c9d8583fa01ae8262e596e");
    }

    #[test]
    fn keys_derive_matches_chain_and_context_choice() {
        let ids = N32ContextIds {
            initiator: CTX.into(),
            responder: CTX.into(),
        };
        let keys = N32fKeys::derive(&master(), &ids, KdfContextId::Receiver, JweEnc::A256Gcm);
        let pr = keys.get(Direction::ParallelRequest);
        assert_eq!(
            hex::encode(&pr.key),
            "6fc8927fe7328bc1c6e90871b5ce75e56840332bbbcb6b4f3addfc0d5c1b1749"
        );
        assert_eq!(hex::encode(pr.iv_salt), "4bc0f5974db1bf8d");
        let k128 = N32fKeys::derive(&master(), &ids, KdfContextId::Receiver, JweEnc::A128Gcm);
        assert_eq!(
            hex::encode(&k128.get(Direction::ReverseRequest).key),
            "49f2863962c9d8583fa01ae8262e596e"
        );

        // Distinct IDs: the receiver's ID is used, so the choice matters.
        let ids = N32ContextIds {
            initiator: "init-ctx".into(),
            responder: CTX.into(),
        };
        let recv = N32fKeys::derive(&master(), &ids, KdfContextId::Receiver, JweEnc::A256Gcm);
        let send = N32fKeys::derive(&master(), &ids, KdfContextId::Sender, JweEnc::A256Gcm);
        // Parallel requests go to the responder, whose ID is CTX.
        assert_eq!(recv.get(Direction::ParallelRequest).key, pr.key);
        assert_ne!(send.get(Direction::ParallelRequest).key, pr.key);
        assert_eq!(
            KdfContextId::Responder.role(Direction::ReverseRequest),
            N32Role::Responder
        );
        assert_eq!(Direction::ReverseRequest.receiver(), N32Role::Initiator);
    }

    #[test]
    fn n32_master_tls12_and_tls13_sides_agree() {
        use rand::SeedableRng;
        let mut c = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut s = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        let session = crate::crypto::tls12::handshake(&mut c, &mut s, true).unwrap();
        let m12 = N32Master::from_tls12(&session);
        let manual = session.exporter(N32_MASTER_LABEL, Some(&[]), 64).unwrap();
        assert_eq!(m12.as_bytes()[..], manual[..]);
        assert_ne!(
            m12.as_bytes()[..],
            session.exporter(N32_MASTER_LABEL, None, 64).unwrap()[..]
        );
    }

    /// DIGEST 8: AES-128-GCM, K = 0, IV = 0.
    #[test]
    fn aes128gcm_zero_vectors() {
        let (k, iv) = ([0u8; 16], [0u8; 12]);
        let sealed = aead_seal(JweEnc::A128Gcm, &k, &iv, b"", b"").unwrap();
        assert_eq!(hex::encode(&sealed), "58e2fccefa7e3061367f1d57a4e7455a");
        let sealed = aead_seal(JweEnc::A128Gcm, &k, &iv, b"", &[0u8; 16]).unwrap();
        assert_eq!(
            hex::encode(&sealed),
            "0388dace60b6a392f328c2b971b2fe78ab6e47d42cec13bdf53a67b21257bddf"
        );
        assert_eq!(
            aead_open(JweEnc::A128Gcm, &k, &iv, b"", &sealed).unwrap(),
            vec![0u8; 16]
        );
    }

    #[test]
    fn aead_tag_flip_fails() {
        let (k, iv) = ([1u8; 32], [2u8; 12]);
        let mut sealed = aead_seal(JweEnc::A256Gcm, &k, &iv, b"aad", b"payload").unwrap();
        assert_eq!(
            aead_open(JweEnc::A256Gcm, &k, &iv, b"aad", &sealed).unwrap(),
            b"payload"
        );
        assert_eq!(
            aead_open(JweEnc::A256Gcm, &k, &iv, b"aaD", &sealed),
            Err(AeadError::Authentication)
        );
        let last = sealed.len() - 1;
        sealed[last] ^= 0x01;
        assert_eq!(
            aead_open(JweEnc::A256Gcm, &k, &iv, b"aad", &sealed),
            Err(AeadError::Authentication)
        );
        assert_eq!(
            aead_open(JweEnc::A256Gcm, &k, &iv, b"", &[0; 5]),
            Err(AeadError::Truncated(5))
        );
        assert!(matches!(
            aead_seal(JweEnc::A128Gcm, &k, &iv, b"", b""),
            Err(AeadError::KeyLength { .. })
        ));
    }

    /// DIGEST 7: JWE (dir, A256GCM) with parallel_request_key and nonce salt || 0; the JWE AAD
    /// is ASCII(BASE64URL(protected) "." BASE64URL(aad)) (RFC 7516 5.1 step 14).
    #[test]
    fn jwe_digest_example_with_first_nonce() {
        let ids = N32ContextIds {
            initiator: CTX.into(),
            responder: CTX.into(),
        };
        let keys = N32fKeys::derive(&master(), &ids, KdfContextId::Receiver, JweEnc::A256Gcm);
        let mut sealer = keys.sealer(Direction::ParallelRequest);
        let protected = B64.encode(br#"{"alg":"dir","enc":"A256GCM"}"#);
        let aad =
            B64.encode(br#"{"metaData":{"n32fContextId":"0123456789ABCDEF","messageId":"1","authorizedIpxId":null}}"#);
        let jwe_aad = format!("{protected}.{aad}");
        let sealed = sealer
            .seal(jwe_aad.as_bytes(), br#"{"dataToEncrypt":["imsi-001010000000001"]}"#)
            .unwrap();
        assert_eq!(hex::encode(sealed.iv), "4bc0f5974db1bf8d00000000");
        assert_eq!(
            B64.encode(&sealed.ciphertext),
            "fcmzuShEVHHHbSJE1mmHMOno8BvTU11XF8qXCEZCeGDKBLFI1z_yXE5u"
        );
        assert_eq!(B64.encode(sealed.tag), "mGLt16XCYWFSJCnxR5yFdw");
        let opened = keys.open(
            Direction::ParallelRequest,
            &sealed.iv,
            jwe_aad.as_bytes(),
            &sealed.ciphertext,
            &sealed.tag,
        );
        assert_eq!(opened.unwrap(), br#"{"dataToEncrypt":["imsi-001010000000001"]}"#);
        assert_eq!(
            hex::encode(sealer.seal(b"", b"").unwrap().iv),
            "4bc0f5974db1bf8d00000001"
        );
    }

    #[test]
    fn nonce_sequence_exhaustion_refused() {
        let mut seq = NonceSequence::starting_at([0xAB; 8], u32::MAX - 1);
        assert_eq!(
            hex::encode(seq.next_nonce().unwrap()),
            "abababababababab fffffffe".replace(' ', "")
        );
        assert_eq!(seq.remaining(), 1);
        assert_eq!(
            hex::encode(seq.next_nonce().unwrap()),
            "abababababababab ffffffff".replace(' ', "")
        );
        assert_eq!(seq.remaining(), 0);
        assert!(matches!(seq.next_nonce(), Err(N32fError::NonceExhausted { .. })));
        // Still refused: the counter does not wrap to 0.
        assert!(matches!(seq.next_nonce(), Err(N32fError::NonceExhausted { .. })));
        let mut fresh = NonceSequence::new([0; 8]);
        assert_eq!(fresh.next_nonce().unwrap(), [0u8; 12]);
    }

    /// N32-c over TLS 1.3, then N32-f: both SEPPs derive the same keys; the responder opens
    /// what the initiator sealed, and a different context choice cannot.
    #[test]
    fn sepps_agree_after_tls13_n32c() {
        use crate::crypto::tls13::{ClientHandshake, ClientMode, ServerHandshake};
        use rand::SeedableRng;
        let mut c_rng = rand_chacha::ChaCha8Rng::seed_from_u64(31);
        let mut p_rng = rand_chacha::ChaCha8Rng::seed_from_u64(32);
        let (client, ch) = ClientHandshake::start(&mut c_rng, ClientMode::Full).unwrap();
        let (server, flight) = ServerHandshake::respond(&mut p_rng, &ch, |_| None).unwrap();
        let (cf, c_secrets) = client.finish(&flight).unwrap();
        let p_secrets = server.finish(&cf).unwrap();
        let ids = N32ContextIds {
            initiator: "c-sepp-ctx".into(),
            responder: "p-sepp-ctx".into(),
        };
        let c_keys = N32fKeys::derive(
            &N32Master::from_tls13(&c_secrets),
            &ids,
            KdfContextId::Receiver,
            JweEnc::A128Gcm,
        );
        let p_keys = N32fKeys::derive(
            &N32Master::from_tls13(&p_secrets),
            &ids,
            KdfContextId::Receiver,
            JweEnc::A128Gcm,
        );
        assert_eq!(c_keys, p_keys);
        let sealed = c_keys
            .sealer(Direction::ParallelRequest)
            .seal(b"meta", b"body")
            .unwrap();
        let dir = Direction::ParallelRequest;
        assert_eq!(
            p_keys
                .open(dir, &sealed.iv, b"meta", &sealed.ciphertext, &sealed.tag)
                .unwrap(),
            b"body"
        );
        let other = N32fKeys::derive(
            &N32Master::from_tls13(&p_secrets),
            &ids,
            KdfContextId::Sender,
            JweEnc::A128Gcm,
        );
        assert_eq!(
            other.open(dir, &sealed.iv, b"meta", &sealed.ciphertext, &sealed.tag),
            Err(AeadError::Authentication)
        );
    }

    #[test]
    fn n32_kdf_refuses_long_output() {
        assert_eq!(
            n32_kdf(&master(), b"x", b"y", 8161),
            Err(N32fError::OutputTooLong(8161))
        );
    }

    #[test]
    fn jwe_enc_serde_names() {
        assert_eq!(ron::from_str::<JweEnc>("A128GCM").unwrap(), JweEnc::A128Gcm);
        assert_eq!(ron::from_str::<KdfContextId>("Sender").unwrap(), KdfContextId::Sender);
        assert_eq!(KdfContextId::default(), KdfContextId::Receiver);
    }
}
