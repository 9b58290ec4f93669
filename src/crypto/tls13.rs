//! The TLS 1.3 key schedule with SHA-256 (RFC 8446 section 7), X25519, PSK binders, the
//! exporter, and a sans-IO *handshake computation* for simulated connections.
//!
//! ```text
//!            0 ──► HKDF-Extract(salt 0^32, IKM = PSK or 0^32) = Early Secret
//!                    ├─ Derive-Secret(., "ext binder" | "res binder", "") = binder_key
//!                    ├─ Derive-Secret(., "c e traffic", ClientHello)
//!                    ├─ Derive-Secret(., "e exp master", ClientHello)
//!                    ▼ Derive-Secret(., "derived", "")
//!  (EC)DHE or 0 ──► HKDF-Extract = Handshake Secret
//!                    ├─ Derive-Secret(., "c hs traffic", ClientHello...ServerHello)
//!                    ├─ Derive-Secret(., "s hs traffic", ClientHello...ServerHello)
//!                    ▼ Derive-Secret(., "derived", "")
//!            0 ──► HKDF-Extract = Master Secret
//!                    ├─ Derive-Secret(., "c ap traffic", ClientHello...server Finished)
//!                    ├─ Derive-Secret(., "s ap traffic", ClientHello...server Finished)
//!                    ├─ Derive-Secret(., "exp master",   ClientHello...server Finished)
//!                    └─ Derive-Secret(., "res master",   ClientHello...client Finished)
//! ```
//!
//! `HKDF-Expand-Label(S, L, C, n) = HKDF-Expand(S, u16 n || u8 len || "tls13 " L || u8 len(C)
//! || C, n)` and `Derive-Secret(S, L, M) = Expand-Label(S, L, Hash(M), 32)` (RFC 8446 7.1).
//! Here [`derive_secret`] takes the transcript *hash*, not the messages.
//!
//! # The simulated handshake
//!
//! [`ClientHandshake`] and [`ServerHandshake`] compute the real key schedule over simulated
//! messages; they never send anything (sans-IO):
//!
//! ```text
//!  client                                     server
//!  ClientHandshake::start(rng, mode)
//!     ── ClientHello {random, key_share?, psk {identity, binder}?} ──►
//!                                             ServerHandshake::respond(rng, &ch, psk lookup)
//!                                             (verifies the binder: BinderMismatch)
//!     ◄── ServerFlight {ServerHello {random, key_share?, psk}, server Finished} ──
//!  client.finish(&flight)
//!  (verifies server Finished: FinishedMismatch)
//!     ── ClientFinished ──►                   server.finish(&cf)
//!  Tls13Secrets                               Tls13Secrets (equal on success)
//! ```
//!
//! The transcript is SHA-256 over *canonical encodings* of these simulated messages, not the
//! TLS wire format: each message is `type (1) || u32 length || body`, with the TLS handshake
//! type numbers (client_hello 1, server_hello 2, finished 20). Bodies:
//!
//! - ClientHello: `random(32) || has_share(1) [|| share(32)] || has_psk(1) [|| u16 len ||
//!   identity]`, then, if a PSK is offered, `binder(32)`. The *truncated* ClientHello the binder
//!   covers (RFC 8446 4.2.11.2) is the same message without the binder (its length field
//!   counts the binder, as in TLS).
//! - ServerHello: `random(32) || has_share(1) [|| share(32)] || psk_accepted(1)`.
//! - Finished: `verify_data(32)`.
//!
//! EncryptedExtensions, Certificate and CertificateVerify are not modelled: the server's
//! Finished covers ClientHello..ServerHello. Certificate authentication (see `pki`) is the
//! caller's: it costs signatures, not key-schedule steps. Cipher suite: always
//! TLS_AES_128_GCM_SHA256 ([`traffic_keys`] with key length 16), group: always X25519.
//!
//! Policy choices (secsim's): an offered PSK whose identity the server does not know fails
//! the handshake (`UnknownPskIdentity`) instead of falling back to a certificate handshake,
//! as a PSK-only CAPIF AEF would; a single PSK is offered; obfuscated_ticket_age is not
//! modelled; 0-RTT data is not sent (its secrets are derivable with
//! [`client_early_traffic_secret`]).
//!
//! Randomness (randoms, X25519 secrets) comes only from the caller's RNG, in a documented
//! order, so a seed fixes every key.

use hkdf::Hkdf;
use rand::RngCore;
use sha2::{Digest, Sha256};
use x25519_dalek::{PublicKey, StaticSecret};

use super::kdf::{hmac_sha256, hmac_sha256_verify};

/// SHA-256 output length \[octets\].
pub const HASH_LEN: usize = 32;

/// A secret of the key schedule (SHA-256 sized).
pub type Secret = [u8; HASH_LEN];

/// A transcript hash.
pub type TranscriptHash = [u8; HASH_LEN];

/// Which side of a connection.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Role {
    /// The TLS client.
    Client,
    /// The TLS server.
    Server,
}

/// Why a TLS 1.3 derivation or handshake failed. Every variant is fatal to the handshake
/// (the connection is aborted with [`Tls13Error::alert`]) and never to the run.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
pub enum Tls13Error {
    /// HKDF-Expand-Label takes labels up to 249 octets ("tls13 " + label <= 255).
    #[error("expand-label label is {0} octets; the limit is 249")]
    LabelTooLong(usize),
    /// HKDF-Expand-Label takes contexts up to 255 octets.
    #[error("expand-label context is {0} octets; the limit is 255")]
    ContextTooLong(usize),
    /// HKDF-Expand with SHA-256 yields at most 255 * 32 octets.
    #[error("requested {0} octets; hkdf-sha256 yields at most 8160")]
    OutputTooLong(usize),
    /// PSK identities are at most 65535 octets (RFC 8446 4.2.11).
    #[error("psk identity is {0} octets; the limit is 65535")]
    IdentityTooLong(usize),
    /// The server has no PSK under the identity the client offered.
    #[error("server does not know the offered psk identity")]
    UnknownPskIdentity,
    /// The PSK binder did not verify: the client holds another PSK, or the ClientHello was
    /// altered (RFC 8446 4.2.11.2).
    #[error("psk binder does not verify (wrong psk or altered client hello)")]
    BinderMismatch,
    /// A handshake that needs (EC)DHE lacks a key share.
    #[error("{0:?} sent no key share where one is required")]
    MissingKeyShare(Role),
    /// The ServerHello does not fit the ClientHello (e.g. accepts a PSK never offered).
    #[error("server hello does not match the client hello: {0}")]
    UnexpectedServerHello(&'static str),
    /// The peer's X25519 share is a low-order point (shared secret all zero).
    #[error("{0:?} sent a low-order x25519 key share")]
    WeakKeyShare(Role),
    /// The Finished MAC sent by this role did not verify: the two sides derived different
    /// handshake secrets or saw different transcripts.
    #[error("{0:?} finished does not verify (key or transcript mismatch)")]
    FinishedMismatch(Role),
}

impl Tls13Error {
    /// The TLS alert (RFC 8446 6.2) the aborting side would send.
    pub fn alert(&self) -> &'static str {
        match self {
            Tls13Error::LabelTooLong(_)
            | Tls13Error::ContextTooLong(_)
            | Tls13Error::OutputTooLong(_)
            | Tls13Error::IdentityTooLong(_) => "internal_error",
            Tls13Error::UnknownPskIdentity => "unknown_psk_identity",
            Tls13Error::BinderMismatch | Tls13Error::FinishedMismatch(_) => "decrypt_error",
            Tls13Error::MissingKeyShare(_) => "missing_extension",
            Tls13Error::UnexpectedServerHello(_) => "unexpected_message",
            Tls13Error::WeakKeyShare(_) => "illegal_parameter",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Key schedule primitives (RFC 8446 7.1)
// ---------------------------------------------------------------------------------------------

/// SHA-256 of the empty string, the context of every `Derive-Secret(., "derived", "")`.
pub fn empty_hash() -> TranscriptHash {
    Sha256::digest([]).into()
}

/// HKDF-Extract(salt, ikm) with SHA-256 (RFC 5869 2.2).
pub fn hkdf_extract(salt: &[u8], ikm: &[u8]) -> Secret {
    Hkdf::<Sha256>::extract(Some(salt), ikm).0.into()
}

/// HKDF-Expand-Label(secret, label, context, out.len()) (RFC 8446 7.1); `label` without the
/// "tls13 " prefix.
pub fn hkdf_expand_label(secret: &Secret, label: &[u8], context: &[u8], out: &mut [u8]) -> Result<(), Tls13Error> {
    if label.len() > 249 {
        return Err(Tls13Error::LabelTooLong(label.len()));
    }
    if context.len() > 255 {
        return Err(Tls13Error::ContextTooLong(context.len()));
    }
    if out.len() > 255 * HASH_LEN {
        return Err(Tls13Error::OutputTooLong(out.len()));
    }
    // The lengths were checked above, so the casts are exact.
    let n = (out.len() as u16).to_be_bytes();
    let label_len = [(6 + label.len()) as u8];
    let ctx_len = [context.len() as u8];
    // A 32-octet PRK is always accepted by from_prk.
    let hk = Hkdf::<Sha256>::from_prk(secret).expect("prk is hash-sized");
    hk.expand_multi_info(&[&n, &label_len, b"tls13 ", label, &ctx_len, context], out)
        .map_err(|_| Tls13Error::OutputTooLong(out.len()))
}

/// Expand-Label for the schedule's own constant labels and hash-sized contexts.
fn expand32(secret: &Secret, label: &[u8], context: &[u8]) -> Secret {
    let mut out = [0u8; HASH_LEN];
    // Invariant: callers pass constant labels (< 20 octets) and contexts of at most 32 octets.
    hkdf_expand_label(secret, label, context, &mut out).expect("constant label and short context");
    out
}

/// Derive-Secret(secret, label, messages) = Expand-Label(secret, label, Hash(messages), 32),
/// given `Hash(messages)`.
pub fn derive_secret(secret: &Secret, label: &[u8], transcript_hash: &TranscriptHash) -> Secret {
    expand32(secret, label, transcript_hash)
}

/// Early Secret = HKDF-Extract(0^32, PSK) or, without a PSK, HKDF-Extract(0^32, 0^32).
pub fn early_secret(psk: Option<&[u8]>) -> Secret {
    hkdf_extract(&[0u8; HASH_LEN], psk.unwrap_or(&[0u8; HASH_LEN]))
}

/// Where a PSK comes from, which picks the binder label (RFC 8446 7.1).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum PskKind {
    /// Provisioned out of band (e.g. CAPIF AEFPSK): "ext binder".
    External,
    /// From a NewSessionTicket of an earlier connection: "res binder".
    Resumption,
}

/// binder_key = Derive-Secret(Early Secret, "ext binder" | "res binder", "").
pub fn binder_key(early: &Secret, kind: PskKind) -> Secret {
    let label: &[u8] = match kind {
        PskKind::External => b"ext binder",
        PskKind::Resumption => b"res binder",
    };
    derive_secret(early, label, &empty_hash())
}

/// finished_key = Expand-Label(base_key, "finished", "", 32) (RFC 8446 4.4.4).
pub fn finished_key(base_key: &Secret) -> Secret {
    expand32(base_key, b"finished", &[])
}

/// Finished verify_data = HMAC(finished_key(base_key), transcript_hash) (RFC 8446 4.4.4).
pub fn finished_verify_data(base_key: &Secret, transcript_hash: &TranscriptHash) -> [u8; HASH_LEN] {
    hmac_sha256(&finished_key(base_key), transcript_hash)
}

/// The PSK binder: a Finished MAC keyed by the binder key over the hash of the truncated
/// ClientHello (RFC 8446 4.2.11.2).
pub fn binder(binder_key: &Secret, truncated_client_hello_hash: &TranscriptHash) -> [u8; HASH_LEN] {
    finished_verify_data(binder_key, truncated_client_hello_hash)
}

/// Checks a Finished MAC (or binder) in constant time.
pub fn verify_finished(base_key: &Secret, transcript_hash: &TranscriptHash, verify_data: &[u8]) -> bool {
    verify_data.len() == HASH_LEN && hmac_sha256_verify(&finished_key(base_key), transcript_hash, verify_data)
}

/// client_early_traffic_secret = Derive-Secret(ES, "c e traffic", ClientHello).
pub fn client_early_traffic_secret(early: &Secret, client_hello_hash: &TranscriptHash) -> Secret {
    derive_secret(early, b"c e traffic", client_hello_hash)
}

/// early_exporter_master_secret = Derive-Secret(ES, "e exp master", ClientHello).
pub fn early_exporter_master_secret(early: &Secret, client_hello_hash: &TranscriptHash) -> Secret {
    derive_secret(early, b"e exp master", client_hello_hash)
}

/// Handshake Secret = HKDF-Extract(Derive-Secret(ES, "derived", ""), (EC)DHE or 0^32 for
/// psk_ke).
pub fn handshake_secret(early: &Secret, ecdhe: Option<&[u8; 32]>) -> Secret {
    let salt = derive_secret(early, b"derived", &empty_hash());
    hkdf_extract(&salt, ecdhe.unwrap_or(&[0u8; 32]))
}

/// client_handshake_traffic_secret = Derive-Secret(HS, "c hs traffic", CH..SH).
pub fn client_handshake_traffic_secret(hs: &Secret, hello_hash: &TranscriptHash) -> Secret {
    derive_secret(hs, b"c hs traffic", hello_hash)
}

/// server_handshake_traffic_secret = Derive-Secret(HS, "s hs traffic", CH..SH).
pub fn server_handshake_traffic_secret(hs: &Secret, hello_hash: &TranscriptHash) -> Secret {
    derive_secret(hs, b"s hs traffic", hello_hash)
}

/// Master Secret = HKDF-Extract(Derive-Secret(HS, "derived", ""), 0^32).
pub fn master_secret(hs: &Secret) -> Secret {
    hkdf_extract(&derive_secret(hs, b"derived", &empty_hash()), &[0u8; HASH_LEN])
}

/// client_application_traffic_secret_0 = Derive-Secret(MS, "c ap traffic", CH..server Finished).
pub fn client_application_traffic_secret(ms: &Secret, server_finished_hash: &TranscriptHash) -> Secret {
    derive_secret(ms, b"c ap traffic", server_finished_hash)
}

/// server_application_traffic_secret_0 = Derive-Secret(MS, "s ap traffic", CH..server Finished).
pub fn server_application_traffic_secret(ms: &Secret, server_finished_hash: &TranscriptHash) -> Secret {
    derive_secret(ms, b"s ap traffic", server_finished_hash)
}

/// exporter_master_secret = Derive-Secret(MS, "exp master", CH..server Finished).
pub fn exporter_master_secret(ms: &Secret, server_finished_hash: &TranscriptHash) -> Secret {
    derive_secret(ms, b"exp master", server_finished_hash)
}

/// resumption_master_secret = Derive-Secret(MS, "res master", CH..client Finished).
pub fn resumption_master_secret(ms: &Secret, client_finished_hash: &TranscriptHash) -> Secret {
    derive_secret(ms, b"res master", client_finished_hash)
}

/// The PSK of a ticket: Expand-Label(resumption_master, "resumption", ticket_nonce, 32)
/// (RFC 8446 4.6.1). Nonces are at most 255 octets (longer ones are truncated to 255 here,
/// which RFC 8446 forbids anyway).
pub fn resumption_psk(resumption_master: &Secret, ticket_nonce: &[u8]) -> Secret {
    expand32(
        resumption_master,
        b"resumption",
        &ticket_nonce[..ticket_nonce.len().min(255)],
    )
}

/// application_traffic_secret_N+1 = Expand-Label(secret_N, "traffic upd", "", 32) (RFC 8446
/// 7.2).
pub fn next_traffic_secret(secret: &Secret) -> Secret {
    expand32(secret, b"traffic upd", &[])
}

/// TLS-Exporter(label, context, len) = Expand-Label(Derive-Secret(exporter_master, label, ""),
/// "exporter", Hash(context), len) (RFC 8446 7.5). An absent context is the empty one.
pub fn exporter(exporter_master: &Secret, label: &[u8], context: &[u8], len: usize) -> Result<Vec<u8>, Tls13Error> {
    if label.len() > 249 {
        return Err(Tls13Error::LabelTooLong(label.len()));
    }
    let secret = derive_secret(exporter_master, label, &empty_hash());
    let mut out = vec![0u8; len];
    hkdf_expand_label(&secret, b"exporter", &Sha256::digest(context), &mut out)?;
    Ok(out)
}

/// A record-protection key and IV (RFC 8446 7.3).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct TrafficKeys {
    /// write_key, `key_len` octets (16 for AES-128-GCM).
    pub key: Vec<u8>,
    /// write_iv, 12 octets.
    pub iv: [u8; 12],
}

/// key = Expand-Label(secret, "key", "", key_len); iv = Expand-Label(secret, "iv", "", 12).
/// `key_len` is 16 or 32 in practice; values above 8160 are an invariant violation.
pub fn traffic_keys(secret: &Secret, key_len: usize) -> TrafficKeys {
    let mut key = vec![0u8; key_len];
    let mut iv = [0u8; 12];
    hkdf_expand_label(secret, b"key", &[], &mut key).expect("aead key lengths are short");
    hkdf_expand_label(secret, b"iv", &[], &mut iv).expect("12 octets");
    TrafficKeys { key, iv }
}

// ---------------------------------------------------------------------------------------------
// Simulated handshake
// ---------------------------------------------------------------------------------------------

/// What the client offers.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum ClientMode {
    /// Full handshake: X25519 key share, no PSK (authentication by certificates elsewhere).
    Full,
    /// An external PSK (RFC 8446 4.2.11), e.g. the CAPIF AEFPSK with the API invoker ID as
    /// identity. `dhe`: psk_dhe_ke (X25519 too, forward secrecy) or psk_ke (PSK only).
    ExternalPsk {
        /// The PSK identity.
        identity: Vec<u8>,
        /// The PSK.
        psk: Vec<u8>,
        /// Whether to add an X25519 key share (psk_dhe_ke).
        dhe: bool,
    },
    /// Resumption with a ticket from an earlier connection ([`Tls13Secrets::resumption_psk`]).
    Resumption {
        /// The opaque ticket, sent as the PSK identity.
        ticket: Vec<u8>,
        /// The PSK derived from the ticket nonce.
        psk: Secret,
        /// Whether to add an X25519 key share (psk_dhe_ke).
        dhe: bool,
    },
}

/// The key exchange a completed handshake used.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum KeyExchange {
    /// Certificate-style full handshake: X25519 only.
    Full,
    /// PSK with X25519 (psk_dhe_ke).
    PskDhe(PskKind),
    /// PSK only (psk_ke): no forward secrecy.
    PskOnly(PskKind),
}

/// A PSK offered in the ClientHello.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct OfferedPsk {
    /// The PSK identity (external identity or ticket).
    pub identity: Vec<u8>,
    /// The binder over the truncated ClientHello.
    pub binder: [u8; HASH_LEN],
}

/// The parts of a ClientHello that matter to the key schedule.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ClientHello {
    /// ClientHello.random.
    pub random: [u8; 32],
    /// The X25519 public key share, if any.
    pub key_share: Option<[u8; 32]>,
    /// The offered PSK, if any (psk_key_exchange_modes: psk_dhe_ke iff `key_share` is set).
    pub psk: Option<OfferedPsk>,
}

const HT_CLIENT_HELLO: u8 = 1;
const HT_SERVER_HELLO: u8 = 2;
const HT_FINISHED: u8 = 20;

impl ClientHello {
    /// Body length including the binder, as the length field of the full message.
    fn body_len(&self) -> usize {
        32 + 1 + self.key_share.map_or(0, |_| 32) + 1 + self.psk.as_ref().map_or(0, |p| 2 + p.identity.len() + 32)
    }

    /// Feeds the truncated ClientHello (everything before the binder) into `h`.
    fn hash_truncated(&self, h: &mut Sha256) {
        h.update([HT_CLIENT_HELLO]);
        h.update((self.body_len() as u32).to_be_bytes());
        h.update(self.random);
        hash_option(h, self.key_share.as_ref());
        match &self.psk {
            None => h.update([0]),
            Some(p) => {
                h.update([1]);
                // Identities are at most 65535 octets (PskIdentity.identity<1..2^16-1>);
                // `start` refuses longer ones, and a received value keeps its low bits.
                h.update((p.identity.len() as u16).to_be_bytes());
                h.update(&p.identity);
            }
        }
    }

    /// SHA-256 of the truncated ClientHello, the binder's input (RFC 8446 4.2.11.2).
    pub fn truncated_hash(&self) -> TranscriptHash {
        let mut h = Sha256::new();
        self.hash_truncated(&mut h);
        h.finalize().into()
    }

    /// Feeds the whole ClientHello into the transcript.
    fn hash_into(&self, h: &mut Sha256) {
        self.hash_truncated(h);
        if let Some(p) = &self.psk {
            h.update(p.binder);
        }
    }
}

fn hash_option(h: &mut Sha256, share: Option<&[u8; 32]>) {
    match share {
        None => h.update([0]),
        Some(s) => {
            h.update([1]);
            h.update(s);
        }
    }
}

/// The parts of a ServerHello that matter to the key schedule.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ServerHello {
    /// ServerHello.random.
    pub random: [u8; 32],
    /// The server's X25519 key share, if (EC)DHE is used.
    pub key_share: Option<[u8; 32]>,
    /// Whether the server selected the offered PSK.
    pub psk_accepted: bool,
}

impl ServerHello {
    fn hash_into(&self, h: &mut Sha256) {
        let len = 32 + 1 + self.key_share.map_or(0, |_| 32) + 1;
        h.update([HT_SERVER_HELLO]);
        h.update((len as u32).to_be_bytes());
        h.update(self.random);
        hash_option(h, self.key_share.as_ref());
        h.update([self.psk_accepted as u8]);
    }
}

fn hash_finished(h: &mut Sha256, verify_data: &[u8; HASH_LEN]) {
    h.update([HT_FINISHED]);
    h.update((HASH_LEN as u32).to_be_bytes());
    h.update(verify_data);
}

fn snapshot(h: &Sha256) -> TranscriptHash {
    h.clone().finalize().into()
}

/// The server's single flight: ServerHello and its Finished (EncryptedExtensions,
/// Certificate, CertificateVerify are not modelled).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ServerFlight {
    /// The ServerHello.
    pub server_hello: ServerHello,
    /// server Finished verify_data over ClientHello..ServerHello.
    pub finished: [u8; HASH_LEN],
}

/// The client's Finished.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ClientFinished {
    /// client Finished verify_data over ClientHello..server Finished.
    pub verify_data: [u8; HASH_LEN],
}

/// A PSK the server holds for an identity.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Psk {
    /// External or resumption (picks the binder label).
    pub kind: PskKind,
    /// The key.
    pub secret: Vec<u8>,
}

/// Everything a completed handshake yields; both sides hold equal values on success.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Tls13Secrets {
    /// The key exchange that was used.
    pub key_exchange: KeyExchange,
    /// Handshake Secret.
    pub handshake: Secret,
    /// client_handshake_traffic_secret.
    pub client_hs: Secret,
    /// server_handshake_traffic_secret.
    pub server_hs: Secret,
    /// Master Secret.
    pub master: Secret,
    /// client_application_traffic_secret_0.
    pub client_ap: Secret,
    /// server_application_traffic_secret_0.
    pub server_ap: Secret,
    /// exporter_master_secret.
    pub exporter_master: Secret,
    /// resumption_master_secret.
    pub resumption_master: Secret,
    /// Hash of ClientHello..client Finished: unique per connection, used as a session
    /// identifier (e.g. AEFPSK over TLS 1.3, see `aefpsk`).
    pub transcript_hash: TranscriptHash,
}

impl Tls13Secrets {
    /// TLS-Exporter(label, context, len) of this connection (RFC 8446 7.5).
    pub fn exporter(&self, label: &[u8], context: &[u8], len: usize) -> Result<Vec<u8>, Tls13Error> {
        exporter(&self.exporter_master, label, context, len)
    }

    /// The PSK of a NewSessionTicket with `ticket_nonce` (RFC 8446 4.6.1).
    pub fn resumption_psk(&self, ticket_nonce: &[u8]) -> Secret {
        resumption_psk(&self.resumption_master, ticket_nonce)
    }

    /// The application traffic keys (AES-128-GCM: 16-octet key) of `role`'s sending direction.
    pub fn application_keys(&self, role: Role) -> TrafficKeys {
        match role {
            Role::Client => traffic_keys(&self.client_ap, 16),
            Role::Server => traffic_keys(&self.server_ap, 16),
        }
    }
}

/// An X25519 key pair from 32 octets of the caller's RNG (never the OS RNG).
/// How the (EC)DHE shared secret is computed.
///
/// `X25519` is the real thing. `Simulated` is the `keys` crypto fidelity: the key share is 32
/// bytes from the caller's seeded RNG and the shared secret is SHA-256 over the two shares
/// in a fixed order, so both sides agree, the whole key schedule after it is computed for
/// real, and no scalar multiplication is done (about 100 µs saved per handshake side).
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub enum Ecdhe {
    #[default]
    X25519,
    Simulated,
}

enum DhSecret {
    Real(StaticSecret),
    Simulated([u8; 32]),
}

fn keypair(ecdhe: Ecdhe, rng: &mut impl RngCore) -> (DhSecret, [u8; 32]) {
    match ecdhe {
        Ecdhe::X25519 => {
            let (s, p) = x25519_keypair(rng);
            (DhSecret::Real(s), p)
        }
        Ecdhe::Simulated => {
            let mut share = [0u8; 32];
            rng.fill_bytes(&mut share);
            (DhSecret::Simulated(share), share)
        }
    }
}

fn shared(secret: &DhSecret, peer: &[u8; 32], peer_role: Role) -> Result<[u8; 32], Tls13Error> {
    match secret {
        DhSecret::Real(s) => x25519_shared(s, peer, peer_role),
        DhSecret::Simulated(mine) => {
            let (a, b) = if mine <= peer { (mine, peer) } else { (peer, mine) };
            let mut h = Sha256::new();
            h.update(b"secsim simulated ecdhe");
            h.update(a);
            h.update(b);
            Ok(h.finalize().into())
        }
    }
}

fn x25519_keypair(rng: &mut impl RngCore) -> (StaticSecret, [u8; 32]) {
    let mut bytes = [0u8; 32];
    rng.fill_bytes(&mut bytes);
    let secret = StaticSecret::from(bytes);
    let public = PublicKey::from(&secret).to_bytes();
    (secret, public)
}

/// X25519 shared secret; refuses low-order peer shares (RFC 8446 7.4.2 / RFC 7748 6.1).
fn x25519_shared(secret: &StaticSecret, peer: &[u8; 32], peer_role: Role) -> Result<[u8; 32], Tls13Error> {
    let shared = secret.diffie_hellman(&PublicKey::from(*peer));
    if !shared.was_contributory() {
        return Err(Tls13Error::WeakKeyShare(peer_role));
    }
    Ok(shared.to_bytes())
}

/// Both sides' common computation once ClientHello and ServerHello are fixed.
struct Schedule {
    transcript: Sha256,
    handshake: Secret,
    client_hs: Secret,
    server_hs: Secret,
}

impl Schedule {
    fn new(ch: &ClientHello, sh: &ServerHello, early: &Secret, ecdhe: Option<&[u8; 32]>) -> Self {
        let mut transcript = Sha256::new();
        ch.hash_into(&mut transcript);
        sh.hash_into(&mut transcript);
        let hello_hash = snapshot(&transcript);
        let handshake = handshake_secret(early, ecdhe);
        Schedule {
            client_hs: client_handshake_traffic_secret(&handshake, &hello_hash),
            server_hs: server_handshake_traffic_secret(&handshake, &hello_hash),
            transcript,
            handshake,
        }
    }

    fn server_finished(&self) -> [u8; HASH_LEN] {
        finished_verify_data(&self.server_hs, &snapshot(&self.transcript))
    }

    /// Adds the server Finished and derives the master-secret family; returns the client
    /// Finished MAC that must follow.
    fn after_server_finished(
        mut self,
        key_exchange: KeyExchange,
        server_finished: &[u8; HASH_LEN],
    ) -> ([u8; HASH_LEN], PendingSecrets) {
        hash_finished(&mut self.transcript, server_finished);
        let sf_hash = snapshot(&self.transcript);
        let client_finished = finished_verify_data(&self.client_hs, &sf_hash);
        let master = master_secret(&self.handshake);
        let pending = PendingSecrets {
            key_exchange,
            client_ap: client_application_traffic_secret(&master, &sf_hash),
            server_ap: server_application_traffic_secret(&master, &sf_hash),
            exporter_master: exporter_master_secret(&master, &sf_hash),
            handshake: self.handshake,
            client_hs: self.client_hs,
            server_hs: self.server_hs,
            master,
            transcript: self.transcript,
        };
        (client_finished, pending)
    }
}

/// The schedule after server Finished, waiting for client Finished.
#[derive(Clone)]
struct PendingSecrets {
    key_exchange: KeyExchange,
    handshake: Secret,
    client_hs: Secret,
    server_hs: Secret,
    master: Secret,
    client_ap: Secret,
    server_ap: Secret,
    exporter_master: Secret,
    transcript: Sha256,
}

impl PendingSecrets {
    fn complete(mut self, client_finished: &[u8; HASH_LEN]) -> Tls13Secrets {
        hash_finished(&mut self.transcript, client_finished);
        let cf_hash = snapshot(&self.transcript);
        Tls13Secrets {
            key_exchange: self.key_exchange,
            handshake: self.handshake,
            client_hs: self.client_hs,
            server_hs: self.server_hs,
            master: self.master,
            client_ap: self.client_ap,
            server_ap: self.server_ap,
            exporter_master: self.exporter_master,
            resumption_master: resumption_master_secret(&self.master, &cf_hash),
            transcript_hash: cf_hash,
        }
    }
}

/// The client side of a simulated TLS 1.3 handshake (sans-IO).
pub struct ClientHandshake {
    client_hello: ClientHello,
    dh: Option<DhSecret>,
    /// The PSK's kind and Early Secret, if one was offered.
    psk: Option<(PskKind, Secret)>,
}

impl ClientHandshake {
    /// Builds the ClientHello for `mode`. Draws from `rng`, in order: random(32), then the
    /// X25519 secret(32) if a key share is sent.
    pub fn start(rng: &mut impl RngCore, mode: ClientMode) -> Result<(Self, ClientHello), Tls13Error> {
        Self::start_with(rng, mode, Ecdhe::X25519)
    }

    /// [`ClientHandshake::start`] with a choice of (EC)DHE computation.
    pub fn start_with(
        rng: &mut impl RngCore,
        mode: ClientMode,
        ecdhe: Ecdhe,
    ) -> Result<(Self, ClientHello), Tls13Error> {
        let mut random = [0u8; 32];
        rng.fill_bytes(&mut random);
        let (identity, psk, kind, dhe) = match mode {
            ClientMode::Full => (Vec::new(), None, PskKind::External, true),
            ClientMode::ExternalPsk { identity, psk, dhe } => (identity, Some(psk), PskKind::External, dhe),
            ClientMode::Resumption { ticket, psk, dhe } => (ticket, Some(psk.to_vec()), PskKind::Resumption, dhe),
        };
        if identity.len() > usize::from(u16::MAX) {
            return Err(Tls13Error::IdentityTooLong(identity.len()));
        }
        let (dh, key_share) = if dhe {
            let (s, p) = keypair(ecdhe, rng);
            (Some(s), Some(p))
        } else {
            (None, None)
        };
        let mut ch = ClientHello {
            random,
            key_share,
            psk: None,
        };
        let psk = psk.map(|psk| {
            let early = early_secret(Some(&psk));
            // The binder covers the truncated hello; its own bytes are a placeholder here.
            ch.psk = Some(OfferedPsk {
                identity: identity.clone(),
                binder: [0; HASH_LEN],
            });
            let b = binder(&binder_key(&early, kind), &ch.truncated_hash());
            if let Some(p) = ch.psk.as_mut() {
                p.binder = b;
            }
            (kind, early)
        });
        Ok((
            ClientHandshake {
                client_hello: ch.clone(),
                dh,
                psk,
            },
            ch,
        ))
    }

    /// The ClientHello this handshake sent.
    pub fn client_hello(&self) -> &ClientHello {
        &self.client_hello
    }

    /// Processes the server's flight: checks the ServerHello against the ClientHello,
    /// verifies the server Finished, and returns the client Finished and the secrets.
    pub fn finish(self, flight: &ServerFlight) -> Result<(ClientFinished, Tls13Secrets), Tls13Error> {
        let sh = &flight.server_hello;
        let (early, psk_kind) = match (sh.psk_accepted, self.psk) {
            (true, Some((kind, early))) => (early, Some(kind)),
            (true, None) => {
                return Err(Tls13Error::UnexpectedServerHello("accepts a psk that was not offered"));
            }
            (false, _) => (early_secret(None), None),
        };
        let ecdhe = match (&self.dh, &sh.key_share) {
            (Some(dh), Some(peer)) => Some(shared(dh, peer, Role::Server)?),
            (None, Some(_)) => {
                return Err(Tls13Error::UnexpectedServerHello("key share without a client share"));
            }
            // Full handshake without a share, or psk_ke although the client offered only
            // psk_dhe_ke (secsim clients with a share do not list psk_ke).
            (Some(_), None) => return Err(Tls13Error::MissingKeyShare(Role::Server)),
            (None, None) => None,
        };
        let key_exchange = match (psk_kind, ecdhe.is_some()) {
            (None, _) => KeyExchange::Full,
            (Some(k), true) => KeyExchange::PskDhe(k),
            (Some(k), false) => KeyExchange::PskOnly(k),
        };
        let schedule = Schedule::new(&self.client_hello, sh, &early, ecdhe.as_ref());
        if !verify_finished(&schedule.server_hs, &snapshot(&schedule.transcript), &flight.finished) {
            return Err(Tls13Error::FinishedMismatch(Role::Server));
        }
        let (verify_data, pending) = schedule.after_server_finished(key_exchange, &flight.finished);
        Ok((ClientFinished { verify_data }, pending.complete(&verify_data)))
    }
}

/// The server side of a simulated TLS 1.3 handshake (sans-IO).
pub struct ServerHandshake {
    pending: PendingSecrets,
}

impl ServerHandshake {
    /// Answers a ClientHello. `psk_for(identity)` looks up the PSK the server holds for an
    /// offered identity. Verifies the binder, then draws from `rng`, in order: random(32),
    /// then the X25519 secret(32) if (EC)DHE is used.
    pub fn respond(
        rng: &mut impl RngCore,
        ch: &ClientHello,
        psk_for: impl FnOnce(&[u8]) -> Option<Psk>,
    ) -> Result<(Self, ServerFlight), Tls13Error> {
        Self::respond_with(rng, ch, psk_for, Ecdhe::X25519)
    }

    /// [`ServerHandshake::respond`] with a choice of (EC)DHE computation (both sides must
    /// use the same).
    pub fn respond_with(
        rng: &mut impl RngCore,
        ch: &ClientHello,
        psk_for: impl FnOnce(&[u8]) -> Option<Psk>,
        ecdhe: Ecdhe,
    ) -> Result<(Self, ServerFlight), Tls13Error> {
        let (early, psk_kind) = match &ch.psk {
            None => (early_secret(None), None),
            Some(offered) => {
                let psk = psk_for(&offered.identity).ok_or(Tls13Error::UnknownPskIdentity)?;
                let early = early_secret(Some(&psk.secret));
                // RFC 8446 4.2.11.2: the server MUST validate the binder before accepting.
                if !verify_finished(&binder_key(&early, psk.kind), &ch.truncated_hash(), &offered.binder) {
                    return Err(Tls13Error::BinderMismatch);
                }
                (early, Some(psk.kind))
            }
        };
        if psk_kind.is_none() && ch.key_share.is_none() {
            return Err(Tls13Error::MissingKeyShare(Role::Client));
        }
        let mut random = [0u8; 32];
        rng.fill_bytes(&mut random);
        let (key_share, ecdhe) = match &ch.key_share {
            Some(peer) => {
                let (secret, public) = keypair(ecdhe, rng);
                (Some(public), Some(shared(&secret, peer, Role::Client)?))
            }
            None => (None, None),
        };
        let key_exchange = match (psk_kind, ecdhe.is_some()) {
            (None, _) => KeyExchange::Full,
            (Some(k), true) => KeyExchange::PskDhe(k),
            (Some(k), false) => KeyExchange::PskOnly(k),
        };
        let sh = ServerHello {
            random,
            key_share,
            psk_accepted: psk_kind.is_some(),
        };
        let schedule = Schedule::new(ch, &sh, &early, ecdhe.as_ref());
        let finished = schedule.server_finished();
        let (_, pending) = schedule.after_server_finished(key_exchange, &finished);
        Ok((
            ServerHandshake { pending },
            ServerFlight {
                server_hello: sh,
                finished,
            },
        ))
    }

    /// Verifies the client Finished and returns the secrets.
    pub fn finish(self, cf: &ClientFinished) -> Result<Tls13Secrets, Tls13Error> {
        let sf_hash = snapshot(&self.pending.transcript);
        if !verify_finished(&self.pending.client_hs, &sf_hash, &cf.verify_data) {
            return Err(Tls13Error::FinishedMismatch(Role::Client));
        }
        Ok(self.pending.complete(&cf.verify_data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn h32(s: &str) -> [u8; 32] {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    // RFC 8448 section 3 (simple 1-RTT handshake). ES, derived, ECDHE, HS, MS, the
    // server-Finished transcript, exp master and res master are in DIGEST 7; the other
    // values (hello and client-Finished transcript hashes, traffic secrets, keys, verify_data)
    // are copied from the RFC 8448 text.
    const ES: &str = "33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a";
    const DERIVED: &str = "6f2615a108c702c5678f54fc9dbab69716c076189c48250cebeac3576c3611ba";
    const ECDHE: &str = "8bd4054fb55b9d63fdfbacf9f04b9f0d35e6d63f537563efd46272900f89492d";
    const HS: &str = "1dc826e93606aa6fdc0aadc12f741b01046aa6b99f691ed221a9f0ca043fbeac";
    const MS: &str = "18df06843d13a08bf2a449844c5f8a478001bc4d4c627984d5a41da8d0402919";
    const TH_HELLO: &str = "860c06edc07858ee8e78f0e7428c58edd6b43f2ca3e6e95f02ed063cf0e1cad8";
    const TH_SF: &str = "9608102a0f1ccc6db6250b7b7e417b1a000eaada3daae4777a7686c9ff83df13";
    const TH_CF: &str = "209145a96ee8e2a122ff810047cc952684658d6049e86429426db87c54ad143d";
    const C_HS: &str = "b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21";
    const S_HS: &str = "b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38";
    const C_AP: &str = "9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5";
    const S_AP: &str = "a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643";
    const EXP_MASTER: &str = "fe22f881176eda18eb8f44529e6792c50c9a3f89452f68d8ae311b4309d3cf50";
    const RES_MASTER: &str = "7df235f2031d2a051287d02b0241b0bfdaf86cc856231f2d5aba46c434ec196c";

    #[test]
    fn rfc8448_s3_early_handshake_master() {
        let es = early_secret(None);
        assert_eq!(hex::encode(es), ES);
        assert_eq!(hex::encode(derive_secret(&es, b"derived", &empty_hash())), DERIVED);
        let hs = handshake_secret(&es, Some(&h32(ECDHE)));
        assert_eq!(hex::encode(hs), HS);
        assert_eq!(hex::encode(master_secret(&hs)), MS);
    }

    #[test]
    fn rfc8448_s3_traffic_exporter_resumption_secrets() {
        let (hs, ms) = (h32(HS), h32(MS));
        assert_eq!(hex::encode(client_handshake_traffic_secret(&hs, &h32(TH_HELLO))), C_HS);
        assert_eq!(hex::encode(server_handshake_traffic_secret(&hs, &h32(TH_HELLO))), S_HS);
        assert_eq!(hex::encode(client_application_traffic_secret(&ms, &h32(TH_SF))), C_AP);
        assert_eq!(hex::encode(server_application_traffic_secret(&ms, &h32(TH_SF))), S_AP);
        assert_eq!(hex::encode(exporter_master_secret(&ms, &h32(TH_SF))), EXP_MASTER);
        assert_eq!(hex::encode(resumption_master_secret(&ms, &h32(TH_CF))), RES_MASTER);
    }

    #[test]
    fn rfc8448_s3_traffic_keys_and_client_finished() {
        let s_hs = traffic_keys(&h32(S_HS), 16);
        assert_eq!(hex::encode(&s_hs.key), "3fce516009c21727d0f2e4e86ee403bc");
        assert_eq!(hex::encode(s_hs.iv), "5d313eb2671276ee13000b30");
        let s_ap = traffic_keys(&h32(S_AP), 16);
        assert_eq!(hex::encode(&s_ap.key), "9f02283b6c9c07efc26bb9f2ac92e356");
        assert_eq!(hex::encode(s_ap.iv), "cf782b88dd83549aadf1e984");
        let c_ap = traffic_keys(&h32(C_AP), 16);
        assert_eq!(hex::encode(&c_ap.key), "17422dda596ed5d9acd890e3c63f5051");
        assert_eq!(hex::encode(c_ap.iv), "5b78923dee08579033e523d9");
        assert_eq!(
            hex::encode(finished_key(&h32(S_HS))),
            "008d3b66f816ea559f96b537e885c31fc068bf492c652f01f288a1d8cdc19fc8"
        );
        let vd = finished_verify_data(&h32(C_HS), &h32(TH_SF));
        assert_eq!(
            hex::encode(vd),
            "a8ec436d677634ae525ac1fcebe11a039ec17694fac6e98527b642f2edd5ce61"
        );
        assert!(verify_finished(&h32(C_HS), &h32(TH_SF), &vd));
        assert!(!verify_finished(&h32(C_HS), &h32(TH_SF), &vd[..31]));
    }

    /// RFC 8448 section 4 (resumed 0-RTT handshake), from DIGEST 7, plus the RFC's binder.
    #[test]
    fn rfc8448_s4_resumption_psk_and_binder() {
        let psk = resumption_psk(&h32(RES_MASTER), &[0, 0]);
        assert_eq!(
            hex::encode(psk),
            "4ecd0eb6ec3b4d87f5d6028f922ca4c5851a277fd41311c9e62d2c9492e1c4f3"
        );
        let es = early_secret(Some(&psk));
        assert_eq!(
            hex::encode(es),
            "9b2188e9b2fc6d64d71dc329900e20bb41915000f678aa839cbb797cb7d8332c"
        );
        let bk = binder_key(&es, PskKind::Resumption);
        assert_eq!(
            hex::encode(bk),
            "69fe131a3bbad5d63c64eebcc30e395b9d8107726a13d074e389dbc8a4e47256"
        );
        assert_eq!(
            hex::encode(finished_key(&bk)),
            "5588673e72cb59c87d220caffe94f2dea9a3b1609f7d50e90a48227db9ed7eaa"
        );
        // Hash of the truncated ClientHello and the binder, from the RFC 8448 section 4 trace.
        let truncated = h32("63224b2e4573f2d3454ca84b9d009a04f6be9e05711a8396473aefa01e924a14");
        assert_eq!(
            hex::encode(binder(&bk, &truncated)),
            "3add4fb2d8fdf822a0ca3cf7678ef5e88dae990141c5924d57bb6fa31b9e5f9d"
        );
        // DIGEST 7: self-computed "ext binder" key from the same Early Secret.
        assert_eq!(
            hex::encode(binder_key(&es, PskKind::External)),
            "ce30064fe130ccc35799d808397cadddc95f09730c23b65ff659bb16202f51aa"
        );
    }

    /// DIGEST 7: N32 master from the RFC 8448 section 3 exporter master (matched OpenSSL).
    #[test]
    fn exporter_n32_master_from_rfc8448_exp_master() {
        let out = exporter(&h32(EXP_MASTER), b"EXPORTER_3GPP_N32_MASTER", b"", 64).unwrap();
        assert_eq!(
            hex::encode(out),
            "dd0403190bf6c4d2c34cdc50c41c48d7eba9b1b507eade0554b7be87baa4e44c\
             ce8f5abb2dce9207f3a186f7ddd7aeb81b81ff3c6951533d379cb61c9ae5a78b"
        );
    }

    #[test]
    fn expand_label_refuses_oversized_inputs() {
        let s = [0u8; 32];
        let mut out = [0u8; 8];
        assert_eq!(
            hkdf_expand_label(&s, &[b'a'; 250], &[], &mut out),
            Err(Tls13Error::LabelTooLong(250))
        );
        assert_eq!(
            hkdf_expand_label(&s, b"x", &[0; 256], &mut out),
            Err(Tls13Error::ContextTooLong(256))
        );
        assert_eq!(exporter(&s, b"x", b"", 8161), Err(Tls13Error::OutputTooLong(8161)));
        assert_eq!(exporter(&s, b"x", b"", 8160).unwrap().len(), 8160);
    }

    fn rng(seed: u64) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(seed)
    }

    /// Runs a whole handshake; the server knows `server_psk` under every identity.
    fn run(seed: u64, mode: ClientMode, server_psk: Option<Psk>) -> Result<(Tls13Secrets, Tls13Secrets), Tls13Error> {
        let (client, ch) = ClientHandshake::start(&mut rng(seed), mode)?;
        let (server, flight) = ServerHandshake::respond(&mut rng(seed + 1000), &ch, |_| server_psk)?;
        let (cf, c) = client.finish(&flight)?;
        let s = server.finish(&cf)?;
        Ok((c, s))
    }

    fn ext(psk: &[u8], dhe: bool) -> ClientMode {
        ClientMode::ExternalPsk {
            identity: b"invoker-1".to_vec(),
            psk: psk.to_vec(),
            dhe,
        }
    }

    fn server_ext(psk: &[u8]) -> Option<Psk> {
        Some(Psk {
            kind: PskKind::External,
            secret: psk.to_vec(),
        })
    }

    #[test]
    fn full_handshake_agrees() {
        let (c, s) = run(1, ClientMode::Full, None).unwrap();
        assert_eq!(c, s);
        assert_eq!(c.key_exchange, KeyExchange::Full);
        assert_eq!(c.application_keys(Role::Client), s.application_keys(Role::Client));
    }

    #[test]
    fn external_psk_handshake_agrees_with_and_without_dhe() {
        let (c, s) = run(2, ext(&[7; 32], true), server_ext(&[7; 32])).unwrap();
        assert_eq!(c, s);
        assert_eq!(c.key_exchange, KeyExchange::PskDhe(PskKind::External));
        let (c2, s2) = run(2, ext(&[7; 32], false), server_ext(&[7; 32])).unwrap();
        assert_eq!(c2, s2);
        assert_eq!(c2.key_exchange, KeyExchange::PskOnly(PskKind::External));
        assert_ne!(c.master, c2.master);
    }

    #[test]
    fn resumption_after_full_handshake() {
        let (c, s) = run(3, ClientMode::Full, None).unwrap();
        let nonce = [0u8, 1];
        let mode = ClientMode::Resumption {
            ticket: b"ticket-1".to_vec(),
            psk: c.resumption_psk(&nonce),
            dhe: true,
        };
        let server_psk = Some(Psk {
            kind: PskKind::Resumption,
            secret: s.resumption_psk(&nonce).to_vec(),
        });
        let (c2, s2) = run(4, mode.clone(), server_psk).unwrap();
        assert_eq!(c2, s2);
        assert_eq!(c2.key_exchange, KeyExchange::PskDhe(PskKind::Resumption));
        // The same PSK registered as external fails: the binder label differs.
        let wrong_kind = Some(Psk {
            kind: PskKind::External,
            secret: s.resumption_psk(&nonce).to_vec(),
        });
        assert_eq!(run(4, mode, wrong_kind).unwrap_err(), Tls13Error::BinderMismatch);
    }

    #[test]
    fn server_wrong_psk_fails_binder() {
        let err = run(5, ext(&[7; 32], true), server_ext(&[8; 32])).unwrap_err();
        assert_eq!(err, Tls13Error::BinderMismatch);
        assert_eq!(err.alert(), "decrypt_error");
    }

    #[test]
    fn server_unknown_identity_fails() {
        assert_eq!(
            run(5, ext(&[7; 32], true), None).unwrap_err(),
            Tls13Error::UnknownPskIdentity
        );
    }

    #[test]
    fn server_binder_bit_flip_fails() {
        let (_, mut ch) = ClientHandshake::start(&mut rng(6), ext(&[7; 32], true)).unwrap();
        ch.psk.as_mut().unwrap().binder[31] ^= 0x01;
        let err = ServerHandshake::respond(&mut rng(7), &ch, |_| server_ext(&[7; 32]))
            .err()
            .unwrap();
        assert_eq!(err, Tls13Error::BinderMismatch);
    }

    #[test]
    fn server_altered_client_hello_fails_binder() {
        let (_, mut ch) = ClientHandshake::start(&mut rng(6), ext(&[7; 32], true)).unwrap();
        ch.random[0] ^= 0x80;
        let err = ServerHandshake::respond(&mut rng(7), &ch, |_| server_ext(&[7; 32]))
            .err()
            .unwrap();
        assert_eq!(err, Tls13Error::BinderMismatch);
    }

    #[test]
    fn server_full_without_key_share_fails() {
        let ch = ClientHello {
            random: [0; 32],
            key_share: None,
            psk: None,
        };
        let err = ServerHandshake::respond(&mut rng(1), &ch, |_| None).err().unwrap();
        assert_eq!(err, Tls13Error::MissingKeyShare(Role::Client));
    }

    #[test]
    fn client_tampered_key_share_gives_finished_mismatch() {
        let (client, ch) = ClientHandshake::start(&mut rng(8), ClientMode::Full).unwrap();
        let (_, mut flight) = ServerHandshake::respond(&mut rng(9), &ch, |_| None).unwrap();
        // An attacker substitutes its own share: the client derives other handshake keys.
        let (_, attacker) = x25519_keypair(&mut rng(10));
        flight.server_hello.key_share = Some(attacker);
        assert_eq!(
            client.finish(&flight).err().unwrap(),
            Tls13Error::FinishedMismatch(Role::Server)
        );
    }

    #[test]
    fn client_low_order_share_refused() {
        let (client, ch) = ClientHandshake::start(&mut rng(8), ClientMode::Full).unwrap();
        let (_, mut flight) = ServerHandshake::respond(&mut rng(9), &ch, |_| None).unwrap();
        flight.server_hello.key_share = Some([0u8; 32]);
        assert_eq!(
            client.finish(&flight).err().unwrap(),
            Tls13Error::WeakKeyShare(Role::Server)
        );
    }

    #[test]
    fn server_tampered_client_finished_fails() {
        let (client, ch) = ClientHandshake::start(&mut rng(11), ClientMode::Full).unwrap();
        let (server, flight) = ServerHandshake::respond(&mut rng(12), &ch, |_| None).unwrap();
        let (mut cf, _) = client.finish(&flight).unwrap();
        cf.verify_data[0] ^= 1;
        assert_eq!(
            server.finish(&cf).err().unwrap(),
            Tls13Error::FinishedMismatch(Role::Client)
        );
    }

    #[test]
    fn client_psk_accept_without_offer_refused() {
        let (client, ch) = ClientHandshake::start(&mut rng(13), ClientMode::Full).unwrap();
        let (_, mut flight) = ServerHandshake::respond(&mut rng(14), &ch, |_| None).unwrap();
        flight.server_hello.psk_accepted = true;
        assert!(matches!(
            client.finish(&flight),
            Err(Tls13Error::UnexpectedServerHello(_))
        ));
    }

    #[test]
    fn handshake_same_seed_same_keys() {
        let a = run(42, ext(&[1; 32], true), server_ext(&[1; 32])).unwrap();
        let b = run(42, ext(&[1; 32], true), server_ext(&[1; 32])).unwrap();
        assert_eq!(a, b);
        let c = run(43, ext(&[1; 32], true), server_ext(&[1; 32])).unwrap();
        assert_ne!(a.0.master, c.0.master);
        assert_ne!(a.0.transcript_hash, c.0.transcript_hash);
    }

    #[test]
    fn exporter_agrees_across_sides() {
        let (c, s) = run(15, ClientMode::Full, None).unwrap();
        let a = c.exporter(b"EXPORTER_3GPP_N32_MASTER", b"", 64).unwrap();
        assert_eq!(a, s.exporter(b"EXPORTER_3GPP_N32_MASTER", b"", 64).unwrap());
        assert_ne!(a, c.exporter(b"EXPORTER_3GPP_N32_MASTER", b"x", 64).unwrap());
    }

    #[test]
    fn simulated_ecdhe_agrees_and_still_checks_binders() {
        let mut crng = ChaCha8Rng::seed_from_u64(1);
        let mut srng = ChaCha8Rng::seed_from_u64(2);
        let (c, ch) = ClientHandshake::start_with(&mut crng, ClientMode::Full, Ecdhe::Simulated).unwrap();
        let (s, flight) = ServerHandshake::respond_with(&mut srng, &ch, |_| None, Ecdhe::Simulated).unwrap();
        let (cf, cs) = c.finish(&flight).unwrap();
        assert_eq!(cs, s.finish(&cf).unwrap());
        let psk = |k: &[u8]| ClientMode::ExternalPsk {
            identity: b"id".to_vec(),
            psk: k.to_vec(),
            dhe: true,
        };
        let (_, ch) = ClientHandshake::start_with(&mut crng, psk(b"key-a"), Ecdhe::Simulated).unwrap();
        let held = Psk {
            kind: PskKind::External,
            secret: b"key-b".to_vec(),
        };
        let r = ServerHandshake::respond_with(&mut srng, &ch, |_| Some(held), Ecdhe::Simulated);
        assert!(matches!(r, Err(Tls13Error::BinderMismatch)));
    }

    #[test]
    fn traffic_update_changes_secret() {
        let s = h32(S_AP);
        assert_ne!(next_traffic_secret(&s), s);
    }
}
