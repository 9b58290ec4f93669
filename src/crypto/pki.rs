//! A light PKI for the simulation: certificates with real ES256 signatures, chains, validity
//! and revocation.
//!
//! Stands in for X.509 (TS 33.310 for the operator PKI behind N32 TLS and CAPIF-1e/2e;
//! TS 33.501 13.1 for SEPP certificates with PLMN IDs) without ASN.1: the fields a simulated
//! verifier needs, a canonical byte encoding, and a P-256 signature over it.
//!
//! ```text
//!   root Ca (self-signed) ──issues──► intermediate Ca ──issues──► leaf (Sepp, Ri, Ccf, Aef, ...)
//!   verify_chain: leaf ──► issuer by name + signature ──► ... ──► a trust anchor
//!                 each step: signature, then not_before <= now < not_after \[s\], then revocation
//! ```
//!
//! Canonical encoding (all integers big-endian; `str` = u16 length \[B\] || UTF-8 bytes):
//!
//! ```text
//!   tbs  = "secsim-cert-v1" (14 B, domain separation)
//!          || serial u64 || str(subject) || str(issuer) || role u8 (see Role::code)
//!          || str(domain) || plmn count u16 || str(plmn_id) * count
//!          || public key (SEC1 compressed P-256, 33 B)
//!          || not_before_s u64 || not_after_s u64
//!   cert = tbs || signature (ES256 over tbs: SHA-256, RFC 6979 nonce, r || s, 64 B)
//! ```
//!
//! Determinism: keys come from the owning actor's seeded RNG through [`key_from_rng`] (never
//! `OsRng`), signatures are RFC 6979, serials are per-CA counters. One seed gives the same
//! certificate bytes every run.
//!
//! Times are simulated seconds \[s\] (X.509 validity has one-second resolution too). Every
//! [`PkiError`] from [`verify_chain`] and [`Certificate::from_bytes`] comes from a peer or a
//! scenario (a bad or expired certificate) and is not fatal to the run.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use rand::RngCore;

/// Domain separation prefix of the to-be-signed bytes.
const TBS_MAGIC: &[u8; 14] = b"secsim-cert-v1";
/// Length of a SEC1 compressed P-256 public key \[B\].
pub const PUBLIC_KEY_LEN: usize = 33;
/// Length of an ES256 signature r || s \[B\].
pub const SIGNATURE_LEN: usize = 64;
/// Most certificates in a chain, leaf and anchor included (bounds the walk).
pub const MAX_CHAIN_LEN: usize = 8;

/// Public keys of keys drawn by [`key_from_rng`] a thread keeps (see [`public_key_from_sec1`]).
pub const KEY_MEMO_MAX: usize = 1 << 14;

thread_local! {
    /// SEC1 compressed encoding → public key, of the keys [`key_from_rng`] drew.
    static DRAWN_KEYS: RefCell<BTreeMap<[u8; PUBLIC_KEY_LEN], VerifyingKey>> = const { RefCell::new(BTreeMap::new()) };
}

/// Decodes a SEC1 P-256 public key: `VerifyingKey::from_sec1_bytes`, without the square root
/// of decompression for the compressed encoding of a key this thread drew with
/// [`key_from_rng`] (an invoker's key the CCF gets at onboarding). The compressed encoding
/// is one-to-one (canonical x, the parity of y), so the remembered key is the one decoding
/// gives; every other input is decoded.
pub fn public_key_from_sec1(bytes: &[u8]) -> Option<VerifyingKey> {
    if let Ok(b) = <&[u8; PUBLIC_KEY_LEN]>::try_from(bytes)
        && let Some(key) = DRAWN_KEYS.with(|m| m.borrow().get(b).copied())
    {
        return Some(key);
    }
    VerifyingKey::from_sec1_bytes(bytes).ok()
}

/// The memo key of a certificate signature's verdict ([`super::verdict`]).
fn verdict_key(issuer_key: &[u8; PUBLIC_KEY_LEN], tbs: &[u8], signature: &[u8; SIGNATURE_LEN]) -> [u8; 32] {
    super::verdict::key(b"secsim-cert", issuer_key, tbs, signature)
}

/// Why a certificate could not be issued, decoded or verified.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
pub enum PkiError {
    /// The bytes are not a canonical certificate encoding.
    #[error("pki: malformed certificate: {0}")]
    Malformed(&'static str),
    /// A string field does not fit its u16 length prefix (issuance only).
    #[error("pki: field `{0}` longer than 65535 bytes")]
    FieldTooLong(&'static str),
    /// `not_before_s` is after `not_after_s` (issuance only).
    #[error("pki: validity starts after it ends")]
    BadValidity,
    /// The public key is not a valid SEC1 compressed P-256 point.
    #[error("pki: bad public key in certificate of `{subject}`")]
    BadPublicKey {
        /// Owner of the key.
        subject: String,
    },
    /// A certificate's signature does not verify with its issuer's key.
    #[error("pki: bad signature on certificate of `{subject}`")]
    BadSignature {
        /// Subject of the certificate whose signature failed.
        subject: String,
    },
    /// `now` is at or after `not_after_s`.
    #[error("pki: certificate of `{subject}` expired at {not_after_s} s, now {now_s} s")]
    Expired {
        /// Subject of the expired certificate.
        subject: String,
        /// Its end of validity \[s\].
        not_after_s: u64,
        /// Verifier's time \[s\].
        now_s: u64,
    },
    /// `now` is before `not_before_s`.
    #[error("pki: certificate of `{subject}` valid from {not_before_s} s, now {now_s} s")]
    NotYetValid {
        /// Subject of the certificate.
        subject: String,
        /// Its start of validity \[s\].
        not_before_s: u64,
        /// Verifier's time \[s\].
        now_s: u64,
    },
    /// No trust anchor or intermediate has the issuer's name.
    #[error("pki: unknown issuer `{issuer}`")]
    UnknownIssuer {
        /// The issuer name looked for.
        issuer: String,
    },
    /// The certificate is on the revocation list.
    #[error("pki: certificate {serial} of `{subject}` is revoked")]
    Revoked {
        /// Subject of the revoked certificate.
        subject: String,
        /// Its serial.
        serial: u64,
    },
    /// A certificate that signed another is not a CA certificate.
    #[error("pki: `{subject}` is not a ca")]
    NotCa {
        /// Subject of the would-be issuer.
        subject: String,
    },
    /// The chain is longer than [`MAX_CHAIN_LEN`] (or loops).
    #[error("pki: chain longer than {MAX_CHAIN_LEN}")]
    ChainTooLong,
    /// The certificate's role is not the one the verifier expects.
    #[error("pki: `{subject}` has role {actual:?}, expected {expected:?}")]
    WrongRole {
        /// Subject of the certificate.
        subject: String,
        /// Role the verifier wants.
        expected: Role,
        /// Role in the certificate.
        actual: Role,
    },
}

/// What a certificate's key may be used as (stands in for X.509 extended key usage and
/// basic constraints).
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub enum Role {
    /// Certification authority: may sign certificates.
    Ca,
    /// Security Edge Protection Proxy (N32-c / N32-f).
    Sepp,
    /// Roaming Intermediary (IPX or roaming hub) signing N32-f modifications.
    Ri,
    /// CAPIF core function.
    Ccf,
    /// API exposing function.
    Aef,
    /// API publishing function.
    Apf,
    /// API invoker.
    Invoker,
    /// Any other network function.
    Nf,
}

impl Role {
    /// The one-byte code in the canonical encoding (stable: never renumber).
    pub fn code(self) -> u8 {
        match self {
            Role::Ca => 0,
            Role::Sepp => 1,
            Role::Ri => 2,
            Role::Ccf => 3,
            Role::Aef => 4,
            Role::Apf => 5,
            Role::Invoker => 6,
            Role::Nf => 7,
        }
    }

    /// Inverse of [`Role::code`].
    pub fn from_code(code: u8) -> Option<Role> {
        Some(match code {
            0 => Role::Ca,
            1 => Role::Sepp,
            2 => Role::Ri,
            3 => Role::Ccf,
            4 => Role::Aef,
            5 => Role::Apf,
            6 => Role::Invoker,
            7 => Role::Nf,
            _ => return None,
        })
    }
}

/// Who a certificate is for: everything but the key, serial and validity.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Subject {
    /// Subject name, e.g. the SEPP FQDN.
    pub name: String,
    /// Key usage.
    pub role: Role,
    /// Trust domain (operator or IPX provider), e.g. `operator-a`.
    pub domain: String,
    /// PLMN IDs the subject serves (TS 33.501 13.1: SEPP certificates carry them).
    pub plmn_ids: Vec<String>,
}

impl Subject {
    /// A subject without PLMN IDs.
    pub fn new(name: impl Into<String>, role: Role, domain: impl Into<String>) -> Self {
        Subject {
            name: name.into(),
            role,
            domain: domain.into(),
            plmn_ids: Vec::new(),
        }
    }

    /// Same, with PLMN IDs.
    pub fn with_plmn_ids<I, S>(mut self, plmn_ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.plmn_ids = plmn_ids.into_iter().map(Into::into).collect();
        self
    }
}

/// A validity window in simulated seconds: valid while `not_before_s <= now < not_after_s`.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Validity {
    /// First valid second \[s\].
    pub not_before_s: u64,
    /// First invalid second \[s\].
    pub not_after_s: u64,
}

/// A signed certificate. The signature covers every other field (see the module doc).
#[derive(Clone, Debug, Eq, Hash, PartialEq)]
pub struct Certificate {
    /// Serial, unique per issuer.
    pub serial: u64,
    /// Subject name.
    pub subject: String,
    /// Issuer's subject name.
    pub issuer: String,
    /// Key usage.
    pub role: Role,
    /// Trust domain.
    pub domain: String,
    /// PLMN IDs.
    pub plmn_ids: Vec<String>,
    /// SEC1 compressed P-256 public key.
    pub public_key: [u8; PUBLIC_KEY_LEN],
    /// Start of validity \[s\].
    pub not_before_s: u64,
    /// End of validity (exclusive) \[s\].
    pub not_after_s: u64,
    /// ES256 signature r || s over [`Certificate::tbs_bytes`].
    pub signature: [u8; SIGNATURE_LEN],
}

/// Appends a u16-length-prefixed string.
fn put_str(out: &mut Vec<u8>, field: &'static str, s: &str) -> Result<(), PkiError> {
    let len = u16::try_from(s.len()).map_err(|_| PkiError::FieldTooLong(field))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

/// Reads canonical fields front to back.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], PkiError> {
        if self.0.len() < n {
            return Err(PkiError::Malformed(what));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], PkiError> {
        let bytes = self.take(N, what)?;
        Ok(bytes.try_into().expect("take returned N bytes"))
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, PkiError> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, PkiError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    fn str(&mut self, what: &'static str) -> Result<String, PkiError> {
        let len = usize::from(self.u16(what)?);
        let bytes = self.take(len, what)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| PkiError::Malformed(what))
    }
}

impl Certificate {
    /// The to-be-signed bytes: the canonical encoding of every field but the signature.
    /// Fails only if a string exceeds 65535 bytes.
    pub fn tbs_bytes(&self) -> Result<Vec<u8>, PkiError> {
        let mut out = Vec::with_capacity(128 + self.subject.len() + self.issuer.len());
        out.extend_from_slice(TBS_MAGIC);
        out.extend_from_slice(&self.serial.to_be_bytes());
        put_str(&mut out, "subject", &self.subject)?;
        put_str(&mut out, "issuer", &self.issuer)?;
        out.push(self.role.code());
        put_str(&mut out, "domain", &self.domain)?;
        let count = u16::try_from(self.plmn_ids.len()).map_err(|_| PkiError::FieldTooLong("plmn_ids"))?;
        out.extend_from_slice(&count.to_be_bytes());
        for plmn in &self.plmn_ids {
            put_str(&mut out, "plmn_id", plmn)?;
        }
        out.extend_from_slice(&self.public_key);
        out.extend_from_slice(&self.not_before_s.to_be_bytes());
        out.extend_from_slice(&self.not_after_s.to_be_bytes());
        Ok(out)
    }

    /// The full encoding: `tbs || signature`. Its length is the certificate's size on the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Every Certificate is built by `Ca::sign` or `from_bytes`, both of which bound the
        // string lengths, so the encoding cannot fail.
        let mut out = self.tbs_bytes().expect("certificate fields fit their length prefixes");
        out.extend_from_slice(&self.signature);
        out
    }

    /// Decodes the canonical encoding (no signature check: see [`verify_chain`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Certificate, PkiError> {
        let mut r = Reader(bytes);
        if r.take(TBS_MAGIC.len(), "magic")? != TBS_MAGIC {
            return Err(PkiError::Malformed("magic"));
        }
        let serial = r.u64("serial")?;
        let subject = r.str("subject")?;
        let issuer = r.str("issuer")?;
        let role = Role::from_code(r.array::<1>("role")?[0]).ok_or(PkiError::Malformed("role"))?;
        let domain = r.str("domain")?;
        let count = r.u16("plmn_ids")?;
        let plmn_ids = (0..count).map(|_| r.str("plmn_id")).collect::<Result<Vec<_>, _>>()?;
        let public_key = r.array("public_key")?;
        let not_before_s = r.u64("not_before")?;
        let not_after_s = r.u64("not_after")?;
        let signature = r.array("signature")?;
        if !r.0.is_empty() {
            return Err(PkiError::Malformed("trailing bytes"));
        }
        Ok(Certificate {
            serial,
            subject,
            issuer,
            role,
            domain,
            plmn_ids,
            public_key,
            not_before_s,
            not_after_s,
            signature,
        })
    }

    /// The subject's public key.
    pub fn verifying_key(&self) -> Result<VerifyingKey, PkiError> {
        public_key_from_sec1(&self.public_key).ok_or_else(|| PkiError::BadPublicKey {
            subject: self.subject.clone(),
        })
    }

    /// Checks this certificate's signature with the issuer's key.
    ///
    /// The verdict is a pure function of (issuer key, signed bytes, signature), so each thread
    /// remembers the verdicts it reached ([`super::verdict::MEMO_MAX`] at most, then it starts over):
    /// an AEF or a TLS stack checking the same certificate again pays a hash, not an ECDSA
    /// verification. The simulated CPU cost is charged by the cost model either way.
    pub fn verify_signature(&self, issuer_key: &VerifyingKey) -> Result<(), PkiError> {
        self.verify_signature_by(&compressed(issuer_key), || Ok(*issuer_key))
    }

    /// [`Certificate::verify_signature`] with the issuer's key as its SEC1 compressed bytes
    /// (as a certificate carries it), decoded only when the verdict is not remembered: a
    /// remembered verdict was reached with a key that decoded from these very bytes (the
    /// compressed encoding is one-to-one), so decoding again could not fail.
    fn verify_signature_by(
        &self,
        issuer_key: &[u8; PUBLIC_KEY_LEN],
        decode: impl FnOnce() -> Result<VerifyingKey, PkiError>,
    ) -> Result<(), PkiError> {
        let bad = || PkiError::BadSignature {
            subject: self.subject.clone(),
        };
        let tbs = self.tbs_bytes()?;
        let digest = verdict_key(issuer_key, &tbs, &self.signature);
        let ok = match super::verdict::get(&digest) {
            Some(ok) => ok,
            None => {
                let issuer_key = decode()?;
                let ok = Signature::from_slice(&self.signature)
                    .is_ok_and(|sig| super::backend::p256_verify(&issuer_key, &tbs, &sig));
                super::verdict::remember(digest, ok);
                ok
            }
        };
        if ok { Ok(()) } else { Err(bad()) }
    }

    /// Checks `not_before_s <= now_s < not_after_s`.
    pub fn check_validity(&self, now_s: u64) -> Result<(), PkiError> {
        if now_s < self.not_before_s {
            return Err(PkiError::NotYetValid {
                subject: self.subject.clone(),
                not_before_s: self.not_before_s,
                now_s,
            });
        }
        if now_s >= self.not_after_s {
            return Err(PkiError::Expired {
                subject: self.subject.clone(),
                not_after_s: self.not_after_s,
                now_s,
            });
        }
        Ok(())
    }

    /// Checks the role.
    pub fn check_role(&self, expected: Role) -> Result<(), PkiError> {
        if self.role != expected {
            return Err(PkiError::WrongRole {
                subject: self.subject.clone(),
                expected,
                actual: self.role,
            });
        }
        Ok(())
    }

    /// Whether every PLMN ID of this certificate is in `other` (TS 33.501 13.1.2: an N32-f
    /// certificate must not carry PLMN IDs absent from the N32-c certificate).
    pub fn plmn_ids_within(&self, other: &Certificate) -> bool {
        self.plmn_ids.iter().all(|p| other.plmn_ids.contains(p))
    }
}

/// Draws a P-256 signing key from the actor's seeded RNG: 32 bytes, retried in the (2^-32)
/// case that they are zero or not below the group order. Deterministic for a given RNG state.
pub fn key_from_rng<R: RngCore + ?Sized>(rng: &mut R) -> SigningKey {
    loop {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        if let Ok(key) = SigningKey::from_slice(&bytes) {
            let public = *key.verifying_key();
            DRAWN_KEYS.with(|m| {
                let mut m = m.borrow_mut();
                if m.len() >= KEY_MEMO_MAX {
                    m.clear();
                }
                m.insert(compressed(&public), public);
            });
            return key;
        }
    }
}

/// Compressed SEC1 encoding of a public key.
fn compressed(key: &VerifyingKey) -> [u8; PUBLIC_KEY_LEN] {
    let point = key.to_encoded_point(true);
    point
        .as_bytes()
        .try_into()
        .expect("compressed P-256 points are 33 bytes")
}

/// Revoked certificates, by (issuer name, serial) (stands in for a CRL, RFC 5280 5).
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct RevocationList(BTreeSet<(String, u64)>);

impl RevocationList {
    /// An empty list.
    pub fn new() -> Self {
        RevocationList::default()
    }

    /// Revokes `cert`.
    pub fn revoke(&mut self, cert: &Certificate) {
        self.revoke_serial(&cert.issuer, cert.serial);
    }

    /// Revokes serial `serial` of `issuer`.
    pub fn revoke_serial(&mut self, issuer: &str, serial: u64) {
        self.0.insert((issuer.to_owned(), serial));
    }

    /// Whether `cert` is revoked.
    pub fn contains(&self, cert: &Certificate) -> bool {
        self.0.contains(&(cert.issuer.clone(), cert.serial))
    }
}

/// A certification authority: its certificate, its key and the next serial.
#[derive(Clone, Debug)]
pub struct Ca {
    cert: Certificate,
    key: SigningKey,
    next_serial: u64,
}

impl Ca {
    /// A self-signed root CA with serial 1 (its role is forced to [`Role::Ca`]).
    pub fn new_root(key: SigningKey, subject: Subject, validity: Validity) -> Result<Ca, PkiError> {
        let subject = Subject {
            role: Role::Ca,
            ..subject
        };
        let issuer = subject.name.clone();
        let cert = sign_cert(&key, &issuer, 1, &subject, key.verifying_key(), validity)?;
        Ok(Ca {
            cert,
            key,
            next_serial: 2,
        })
    }

    /// Issues a certificate for `public_key` with the next serial.
    pub fn issue(
        &mut self,
        subject: &Subject,
        public_key: &VerifyingKey,
        validity: Validity,
    ) -> Result<Certificate, PkiError> {
        let cert = sign_cert(
            &self.key,
            &self.cert.subject,
            self.next_serial,
            subject,
            public_key,
            validity,
        )?;
        self.next_serial += 1;
        Ok(cert)
    }

    /// Draws a key from `rng` and issues a certificate for it: what an actor needs to
    /// authenticate.
    pub fn issue_identity<R: RngCore + ?Sized>(
        &mut self,
        rng: &mut R,
        subject: &Subject,
        validity: Validity,
    ) -> Result<(SigningKey, Certificate), PkiError> {
        let key = key_from_rng(rng);
        let cert = self.issue(subject, key.verifying_key(), validity)?;
        Ok((key, cert))
    }

    /// Creates a subordinate CA signed by this one (its role is forced to [`Role::Ca`]).
    pub fn new_intermediate(&mut self, key: SigningKey, subject: Subject, validity: Validity) -> Result<Ca, PkiError> {
        let subject = Subject {
            role: Role::Ca,
            ..subject
        };
        let cert = self.issue(&subject, key.verifying_key(), validity)?;
        Ok(Ca {
            cert,
            key,
            next_serial: 1,
        })
    }

    /// This CA's certificate (a trust anchor for a root, an intermediate otherwise).
    pub fn certificate(&self) -> &Certificate {
        &self.cert
    }
}

/// Builds and signs a certificate.
fn sign_cert(
    key: &SigningKey,
    issuer: &str,
    serial: u64,
    subject: &Subject,
    public_key: &VerifyingKey,
    validity: Validity,
) -> Result<Certificate, PkiError> {
    if validity.not_before_s > validity.not_after_s {
        return Err(PkiError::BadValidity);
    }
    let mut cert = Certificate {
        serial,
        subject: subject.name.clone(),
        issuer: issuer.to_owned(),
        role: subject.role,
        domain: subject.domain.clone(),
        plmn_ids: subject.plmn_ids.clone(),
        public_key: compressed(public_key),
        not_before_s: validity.not_before_s,
        not_after_s: validity.not_after_s,
        signature: [0; SIGNATURE_LEN],
    };
    let tbs = cert.tbs_bytes()?;
    // RFC 6979 nonce: the signature depends only on the key and the bytes (the very bytes
    // `SigningKey::sign` gives, with `k·G` from a precomputed table: `crypto::es256`).
    cert.signature = super::backend::p256_sign(key, &tbs).to_bytes().into();
    // A signature just made with the issuer's key verifies with it (ECDSA is correct:
    // u1·G + u2·Q = k·G for Q = d·G), so the verdict is known: a verifier on this thread
    // (an AEF checking the certificate) pays a hash, not an ECDSA verification.
    super::verdict::remember(
        verdict_key(&compressed(key.verifying_key()), &tbs, &cert.signature),
        true,
    );
    Ok(cert)
}

/// Finds the certificate among `candidates` that issued `cert`: same name, CA role, and a
/// signature that verifies. Errors if a name matches but none verifies.
fn find_issuer<'a>(cert: &Certificate, candidates: &'a [Certificate]) -> Result<Option<&'a Certificate>, PkiError> {
    let mut failure = None;
    for cand in candidates.iter().filter(|c| c.subject == cert.issuer) {
        if cand.role != Role::Ca {
            failure = Some(PkiError::NotCa {
                subject: cand.subject.clone(),
            });
            continue;
        }
        match cert.verify_signature_by(&cand.public_key, || cand.verifying_key()) {
            Ok(()) => return Ok(Some(cand)),
            Err(e) => failure = Some(e),
        }
    }
    failure.map_or(Ok(None), Err)
}

/// Verifies `leaf` up to one of `trust_anchors`, through `intermediates` (in any order), at
/// simulated time `now_s`. Returns the chain length (1 when the leaf is itself an anchor).
///
/// For each certificate from the leaf up: find the issuer by name among anchors then
/// intermediates and check the signature, then the validity window, then revocation
/// (a simplified RFC 5280 6.1). Anchors are time-checked but not revocation-checked. The
/// caller checks the leaf's role, domain and PLMN IDs against what it expects.
pub fn verify_chain(
    leaf: &Certificate,
    intermediates: &[Certificate],
    trust_anchors: &[Certificate],
    now_s: u64,
    revoked: &RevocationList,
) -> Result<usize, PkiError> {
    if trust_anchors.contains(leaf) {
        leaf.check_validity(now_s)?;
        return Ok(1);
    }
    let mut cert = leaf;
    for len in 1..MAX_CHAIN_LEN {
        if let Some(anchor) = find_issuer(cert, trust_anchors)? {
            cert.check_validity(now_s)?;
            check_revoked(cert, revoked)?;
            anchor.check_validity(now_s)?;
            return Ok(len + 1);
        }
        let Some(issuer) = find_issuer(cert, intermediates)? else {
            return Err(PkiError::UnknownIssuer {
                issuer: cert.issuer.clone(),
            });
        };
        cert.check_validity(now_s)?;
        check_revoked(cert, revoked)?;
        cert = issuer;
    }
    Err(PkiError::ChainTooLong)
}

/// Refuses a revoked certificate.
fn check_revoked(cert: &Certificate, revoked: &RevocationList) -> Result<(), PkiError> {
    if revoked.contains(cert) {
        return Err(PkiError::Revoked {
            subject: cert.subject.clone(),
            serial: cert.serial,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    const YEAR_S: u64 = 365 * 24 * 3600;

    fn validity(from: u64, to: u64) -> Validity {
        Validity {
            not_before_s: from,
            not_after_s: to,
        }
    }

    struct Pki {
        root: Ca,
        inter: Ca,
        sepp: Certificate,
    }

    /// Root → intermediate → SEPP leaf, all keys from one seeded stream.
    fn pki(seed: u64) -> Pki {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut root = Ca::new_root(
            key_from_rng(&mut rng),
            Subject::new("root.operator-a", Role::Ca, "operator-a"),
            validity(0, 10 * YEAR_S),
        )
        .unwrap();
        let mut inter = root
            .new_intermediate(
                key_from_rng(&mut rng),
                Subject::new("sepp-ca.operator-a", Role::Ca, "operator-a"),
                validity(0, 5 * YEAR_S),
            )
            .unwrap();
        let subject =
            Subject::new("sepp.operator-a.example", Role::Sepp, "operator-a").with_plmn_ids(["001-01", "001-02"]);
        let (_, sepp) = inter.issue_identity(&mut rng, &subject, validity(100, YEAR_S)).unwrap();
        Pki { root, inter, sepp }
    }

    fn verify(p: &Pki, leaf: &Certificate, now_s: u64, revoked: &RevocationList) -> Result<usize, PkiError> {
        verify_chain(
            leaf,
            std::slice::from_ref(p.inter.certificate()),
            std::slice::from_ref(p.root.certificate()),
            now_s,
            revoked,
        )
    }

    #[test]
    fn chain_valid() {
        let p = pki(1);
        assert_eq!(verify(&p, &p.sepp, 1_000, &RevocationList::new()), Ok(3));
        assert_eq!(p.sepp.issuer, "sepp-ca.operator-a");
        assert_eq!(p.sepp.serial, 1);
        assert_eq!(p.inter.certificate().serial, 2);
        assert!(p.sepp.check_role(Role::Sepp).is_ok());
        // The root is its own anchor.
        let root = p.root.certificate();
        assert_eq!(verify(&p, root, 0, &RevocationList::new()), Ok(1));
    }

    #[test]
    fn same_seed_same_bytes() {
        let (a, b, c) = (pki(42), pki(42), pki(43));
        assert_eq!(a.sepp.to_bytes(), b.sepp.to_bytes());
        assert_eq!(a.root.certificate().to_bytes(), b.root.certificate().to_bytes());
        assert_ne!(a.sepp.to_bytes(), c.sepp.to_bytes());
    }

    #[test]
    fn encoding_round_trips() {
        let p = pki(2);
        let bytes = p.sepp.to_bytes();
        assert_eq!(Certificate::from_bytes(&bytes), Ok(p.sepp.clone()));
        assert_eq!(&bytes[..14], b"secsim-cert-v1");
        assert_eq!(
            Certificate::from_bytes(&bytes[..bytes.len() - 1]),
            Err(PkiError::Malformed("signature"))
        );
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(
            Certificate::from_bytes(&longer),
            Err(PkiError::Malformed("trailing bytes"))
        );
    }

    #[test]
    fn chain_every_flipped_bit_refused() {
        let p = pki(3);
        let bytes = p.sepp.to_bytes();
        for bit in 0..bytes.len() * 8 {
            let mut b = bytes.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            if let Ok(cert) = Certificate::from_bytes(&b) {
                let result = verify(&p, &cert, 1_000, &RevocationList::new());
                assert!(result.is_err(), "bit {bit} accepted");
            }
        }
    }

    /// The memo of verdicts never changes one: the same certificate checked again, a tampered
    /// copy checked between two checks of the good one, and a check against another key all
    /// give what a fresh ECDSA verification gives.
    #[test]
    fn remembered_signature_verdicts_are_the_verdicts() {
        let p = pki(5);
        let none = RevocationList::new();
        let good = p.sepp.clone();
        let mut bad = good.clone();
        bad.signature[10] ^= 1;
        for _ in 0..3 {
            assert!(verify(&p, &good, 1_000, &none).is_ok());
            assert!(verify(&p, &bad, 1_000, &none).is_err());
        }
        let other = pki(6);
        assert!(verify(&other, &good, 1_000, &none).is_err());
        assert!(verify(&p, &good, 1_000, &none).is_ok());
    }

    /// A certificate's verdict is remembered as good when it is signed: over many issued
    /// identities, the verdict a fresh ECDSA verification (no memo) reaches is good too, and a
    /// tampered copy is still refused.
    #[test]
    fn verdicts_remembered_at_signing_are_fresh_verdicts() {
        let mut p = pki(13);
        let mut rng = ChaCha8Rng::seed_from_u64(130);
        let none = RevocationList::new();
        let issuer_key = *p.inter.certificate().verifying_key().as_ref().unwrap();
        for i in 0..64 {
            let subject = Subject::new(format!("inv{i}"), Role::Invoker, "operator-a");
            let (_, cert) = p.inter.issue_identity(&mut rng, &subject, validity(0, YEAR_S)).unwrap();
            let sig = Signature::from_slice(&cert.signature).unwrap();
            assert!(
                p256::ecdsa::signature::Verifier::verify(&issuer_key, &cert.tbs_bytes().unwrap(), &sig).is_ok(),
                "identity {i}"
            );
            assert_eq!(verify(&p, &cert, 1_000, &none), Ok(3));
            let mut bad = cert.clone();
            bad.serial += 1;
            assert!(verify(&p, &bad, 1_000, &none).is_err());
        }
    }

    /// Decoding through the memo of drawn keys gives what `from_sec1_bytes` gives: for drawn
    /// keys (compressed and uncompressed), for every one-bit change of their encoding (valid
    /// or not), and for keys of another thread (no memo).
    #[test]
    fn drawn_keys_decode_as_sec1() {
        let mut rng = ChaCha8Rng::seed_from_u64(140);
        let keys: Vec<VerifyingKey> = (0..32).map(|_| *key_from_rng(&mut rng).verifying_key()).collect();
        let fresh = |b: &[u8]| VerifyingKey::from_sec1_bytes(b).ok();
        for key in &keys {
            let c = compressed(key);
            assert_eq!(public_key_from_sec1(&c), Some(*key));
            let u = key.to_encoded_point(false);
            assert_eq!(public_key_from_sec1(u.as_bytes()), Some(*key));
            for bit in 0..c.len() * 8 {
                let mut b = c;
                b[bit / 8] ^= 1 << (bit % 8);
                assert_eq!(public_key_from_sec1(&b), fresh(&b), "bit {bit}");
            }
        }
        let other: Vec<[u8; PUBLIC_KEY_LEN]> = std::thread::spawn(move || {
            let mut rng = ChaCha8Rng::seed_from_u64(141);
            (0..8)
                .map(|_| compressed(key_from_rng(&mut rng).verifying_key()))
                .collect()
        })
        .join()
        .unwrap();
        for c in other {
            assert_eq!(public_key_from_sec1(&c), fresh(&c));
            assert!(public_key_from_sec1(&c).is_some());
        }
        assert_eq!(public_key_from_sec1(&[2u8; 32]), None);
    }

    #[test]
    fn chain_flipped_fields_typed_errors() {
        let p = pki(4);
        let none = RevocationList::new();
        let bad_sig = Err(PkiError::BadSignature {
            subject: p.sepp.subject.clone(),
        });
        let tamper = |f: &dyn Fn(&mut Certificate)| {
            let mut c = p.sepp.clone();
            f(&mut c);
            verify(&p, &c, 1_000, &none)
        };
        assert_eq!(tamper(&|c| c.serial ^= 1), bad_sig);
        assert_eq!(
            tamper(&|c| c.subject.push('x')),
            Err(PkiError::BadSignature {
                subject: "sepp.operator-a.examplex".into()
            })
        );
        assert_eq!(tamper(&|c| c.role = Role::Ri), bad_sig);
        assert_eq!(tamper(&|c| c.domain = "operator-b".into()), bad_sig);
        assert_eq!(tamper(&|c| c.plmn_ids.push("999-99".into())), bad_sig);
        assert_eq!(tamper(&|c| c.public_key[5] ^= 1), bad_sig);
        assert_eq!(tamper(&|c| c.not_before_s ^= 1), bad_sig);
        assert_eq!(tamper(&|c| c.not_after_s ^= 1 << 40), bad_sig);
        assert_eq!(tamper(&|c| c.signature[0] ^= 1), bad_sig);
        assert_eq!(tamper(&|c| c.signature[63] ^= 1), bad_sig);
        assert_eq!(
            tamper(&|c| c.issuer = "sepp-ca.operator-b".into()),
            Err(PkiError::UnknownIssuer {
                issuer: "sepp-ca.operator-b".into()
            })
        );
    }

    #[test]
    fn chain_expired_and_not_yet_valid() {
        let p = pki(5);
        let none = RevocationList::new();
        assert_eq!(
            verify(&p, &p.sepp, 99, &none),
            Err(PkiError::NotYetValid {
                subject: p.sepp.subject.clone(),
                not_before_s: 100,
                now_s: 99
            })
        );
        assert!(verify(&p, &p.sepp, 100, &none).is_ok());
        assert!(verify(&p, &p.sepp, YEAR_S - 1, &none).is_ok());
        assert_eq!(
            verify(&p, &p.sepp, YEAR_S, &none),
            Err(PkiError::Expired {
                subject: p.sepp.subject.clone(),
                not_after_s: YEAR_S,
                now_s: YEAR_S
            })
        );
    }

    #[test]
    fn chain_expired_intermediate() {
        let mut p = pki(6);
        let mut rng = ChaCha8Rng::seed_from_u64(60);
        let mut short = p
            .root
            .new_intermediate(
                key_from_rng(&mut rng),
                Subject::new("short-ca", Role::Ca, "operator-a"),
                validity(0, 500),
            )
            .unwrap();
        let (_, leaf) = short
            .issue_identity(
                &mut rng,
                &Subject::new("aef1", Role::Aef, "operator-a"),
                validity(0, 2_000),
            )
            .unwrap();
        p.inter = short;
        assert_eq!(verify(&p, &leaf, 400, &RevocationList::new()), Ok(3));
        assert!(matches!(
            verify(&p, &leaf, 600, &RevocationList::new()),
            Err(PkiError::Expired { subject, .. }) if subject == "short-ca"
        ));
    }

    #[test]
    fn chain_revoked_leaf_or_intermediate() {
        let p = pki(7);
        let mut crl = RevocationList::new();
        crl.revoke(&p.sepp);
        assert_eq!(
            verify(&p, &p.sepp, 1_000, &crl),
            Err(PkiError::Revoked {
                subject: p.sepp.subject.clone(),
                serial: 1
            })
        );
        let mut crl = RevocationList::new();
        crl.revoke(p.inter.certificate());
        assert!(matches!(
            verify(&p, &p.sepp, 1_000, &crl),
            Err(PkiError::Revoked { serial: 2, .. })
        ));
        // Same serial under another issuer is not revoked.
        let mut crl = RevocationList::new();
        crl.revoke_serial("someone-else", 1);
        assert!(verify(&p, &p.sepp, 1_000, &crl).is_ok());
    }

    #[test]
    fn chain_unknown_issuer_and_wrong_anchor() {
        let p = pki(8);
        let other = pki(9);
        // Missing intermediate.
        assert_eq!(
            verify_chain(
                &p.sepp,
                &[],
                std::slice::from_ref(p.root.certificate()),
                1_000,
                &RevocationList::new()
            ),
            Err(PkiError::UnknownIssuer {
                issuer: "sepp-ca.operator-a".into()
            })
        );
        // Same names, other keys: the signature check catches the impostor.
        assert_eq!(
            verify(&other, &p.sepp, 1_000, &RevocationList::new()),
            Err(PkiError::BadSignature {
                subject: p.sepp.subject.clone()
            })
        );
    }

    #[test]
    fn chain_leaf_cannot_issue() {
        let mut rng = ChaCha8Rng::seed_from_u64(10);
        let p = pki(10);
        // A leaf key signs a certificate naming the leaf as issuer.
        let sepp_key = key_from_rng(&mut rng);
        let mut fake_issuer = p.sepp.clone();
        fake_issuer.public_key = compressed(sepp_key.verifying_key());
        let victim_key = key_from_rng(&mut rng);
        let forged = sign_cert(
            &sepp_key,
            &fake_issuer.subject,
            9,
            &Subject::new("evil", Role::Aef, "operator-a"),
            victim_key.verifying_key(),
            validity(0, 10_000),
        )
        .unwrap();
        assert_eq!(
            verify_chain(&forged, &[fake_issuer], &[], 1_000, &RevocationList::new()),
            Err(PkiError::NotCa {
                subject: p.sepp.subject.clone()
            })
        );
    }

    #[test]
    fn issue_refuses_bad_input() {
        let mut p = pki(11);
        let key = key_from_rng(&mut ChaCha8Rng::seed_from_u64(1));
        let subject = Subject::new("x", Role::Nf, "d");
        assert_eq!(
            p.inter.issue(&subject, key.verifying_key(), validity(10, 5)),
            Err(PkiError::BadValidity)
        );
        let long = Subject::new("x".repeat(70_000), Role::Nf, "d");
        assert_eq!(
            p.inter.issue(&long, key.verifying_key(), validity(0, 5)),
            Err(PkiError::FieldTooLong("subject"))
        );
    }

    #[test]
    fn plmn_ids_within() {
        let p = pki(12);
        let mut n32f = p.sepp.clone();
        n32f.plmn_ids = vec!["001-02".into()];
        assert!(n32f.plmn_ids_within(&p.sepp));
        n32f.plmn_ids.push("002-01".into());
        assert!(!n32f.plmn_ids_within(&p.sepp));
    }

    #[test]
    fn role_codes_round_trip() {
        for code in 0..=255u8 {
            if let Some(role) = Role::from_code(code) {
                assert_eq!(role.code(), code);
            }
        }
        assert_eq!(Role::from_code(8), None);
    }
}
