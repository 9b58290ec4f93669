//! AEFPSK, the pre-shared key of CAPIF-2e TLS-PSK (TS 33.122 6.5.2.1 and Annex A.1).
//!
//! ```text
//!  CAPIF-1e TLS (invoker ↔ CCF) ──► AEFPSK = KDF(Key, FC = 0x7A, P0, P1)   (TS 33.220 B.2)
//!      P0 = service API interface information of the AEF (UTF-8), L0
//!      P1 = CAPIF-1e TLS session ID (full handshake), L1
//!      Key = CAPIF-1e TLS master secret (48 octets, TLS 1.2)
//!  invoker and CCF both derive it; the CCF hands it to the AEF over CAPIF-3; invoker and
//!  AEF then run TLS-PSK on CAPIF-2e with it.
//! ```
//!
//! # P0 encoding (secsim's decision, DIGEST 9)
//!
//! TS 33.122 does not encode "service API interface information". secsim uses the UTF-8
//! string `host ":" port api_prefix` from the AEF's InterfaceDescription (TS 29.222):
//! `host` is the FQDN, or the IPv4 address in dotted form, or the IPv6 address in brackets
//! (`[2001:db8::1]`, as in a URI authority, so that the port stays unambiguous); `port` is
//! decimal; `api_prefix` is appended verbatim (typically `/<apiName>/<apiVersion>` or an
//! apiPrefix followed by it), e.g. `aef1.example.com:443/3gpp-monitoring-event/v1`. Strings
//! are not NFKC-normalised (identity on the ASCII FQDNs secsim uses).
//!
//! # TLS 1.3 (secsim's decision; 3GPP defines nothing, DIGEST 10)
//!
//! TLS 1.3 has no "master secret" to hand out and its session ID is a legacy field the
//! client picks (so it does not identify the handshake). [`AefPskVariant::Tls13Exporter`]
//! therefore uses:
//!
//! - Key = TLS-Exporter(`"EXPORTER_3GPP_CAPIF_AEFPSK"`, context "", 32) (RFC 8446 7.5),
//!   a secsim-chosen label. RFC 8446 7.5 makes exporters the way to take keys out of a
//!   TLS 1.3 connection; the exporter_master_secret itself is not meant to leave the key
//!   schedule, and a distinct label separates AEFPSK from every other exported key (e.g. N32).
//! - P1 = the transcript hash through the client Finished ([`Tls13Secrets::transcript_hash`]),
//!   which, like the TLS 1.2 session ID of a full handshake, is known to both ends and unique
//!   per connection (it covers both randoms and key shares). Tickets are not used: a
//!   connection may issue none or several.
//!
//! The knob is for RON (`aefpsk_variant: Tls13Exporter`); default `Tls12MasterSecret`, the
//! only variant the spec defines.
//!
//! # Validity timer (seed 003)
//!
//! The CCF gives the AEFPSK a validity timer on CAPIF-1e; invoker and CCF start it when they
//! derive the key, and the CCF passes the *remaining* value to the AEF. [`AefPskEntry`] holds
//! the key with its expiry in simulated time.

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::kdf::{KdfError, kdf};
use super::tls12::Tls12Session;
use super::tls13::{Tls13Error, Tls13Secrets};
use crate::engine::{SimDuration, SimTime};

/// FC of AEFPSK (TS 33.122 A.1).
pub const FC_AEFPSK: u8 = 0x7A;

/// The exporter label of the TLS 1.3 variant: a secsim choice, not a 3GPP value.
pub const TLS13_EXPORTER_LABEL: &[u8] = b"EXPORTER_3GPP_CAPIF_AEFPSK";

/// Why an AEFPSK could not be derived.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
pub enum AefPskError {
    /// A KDF parameter was too long (an absurd interface description in the scenario).
    #[error(transparent)]
    Kdf(#[from] KdfError),
    /// The TLS 1.3 exporter failed (an invariant violation: the label is constant).
    #[error(transparent)]
    Exporter(#[from] Tls13Error),
    /// The configured variant does not fit the TLS version of the CAPIF-1e session.
    #[error("aefpsk variant {configured:?} does not fit a {session:?} capif-1e session")]
    VariantMismatch {
        /// The scenario's variant.
        configured: AefPskVariant,
        /// What the session supports.
        session: AefPskVariant,
    },
    /// A TLS 1.2 session without a session ID cannot bind the key to the handshake.
    #[error("capif-1e tls 1.2 session has an empty session id")]
    EmptySessionId,
}

/// How AEFPSK is derived: as TS 33.122 A.1 says (TLS 1.2), or secsim's TLS 1.3 variant (see
/// the module doc for the choices and why). Default: `Tls12MasterSecret`.
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
pub enum AefPskVariant {
    /// Key = TLS 1.2 master secret, P1 = TLS session ID (TS 33.122 A.1).
    #[default]
    Tls12MasterSecret,
    /// Key = TLS-Exporter("EXPORTER_3GPP_CAPIF_AEFPSK", "", 32), P1 = transcript hash.
    Tls13Exporter,
}

/// The AEF's address part of the interface information.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum AefHost {
    /// An FQDN (ASCII, A-labels).
    Fqdn(String),
    /// An IPv4 or IPv6 address.
    Ip(IpAddr),
}

/// The service API interface information that goes into P0.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ServiceApiInterface {
    /// FQDN or IP address of the AEF.
    pub host: AefHost,
    /// TCP port.
    pub port: u16,
    /// Appended verbatim after the port, e.g. `/3gpp-monitoring-event/v1`.
    pub api_prefix: String,
}

impl fmt::Display for ServiceApiInterface {
    /// The P0 string: `host ":" port api_prefix` (IPv6 in brackets).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            AefHost::Fqdn(name) => write!(f, "{name}")?,
            AefHost::Ip(IpAddr::V4(a)) => write!(f, "{a}")?,
            AefHost::Ip(IpAddr::V6(a)) => write!(f, "[{a}]")?,
        }
        write!(f, ":{}{}", self.port, self.api_prefix)
    }
}

/// The CAPIF-1e TLS session an AEFPSK is derived from.
#[derive(Clone, Copy, Debug)]
pub enum Capif1eSession<'a> {
    /// A TLS 1.2 session (master secret and session ID).
    Tls12(&'a Tls12Session),
    /// A completed TLS 1.3 handshake.
    Tls13(&'a Tls13Secrets),
}

impl Capif1eSession<'_> {
    /// The variant this session supports.
    pub fn variant(&self) -> AefPskVariant {
        match self {
            Capif1eSession::Tls12(_) => AefPskVariant::Tls12MasterSecret,
            Capif1eSession::Tls13(_) => AefPskVariant::Tls13Exporter,
        }
    }
}

/// AEFPSK per TS 33.122 A.1: KDF(master_secret, 0x7A, P0 = interface, P1 = session ID).
pub fn aefpsk_tls12(
    master_secret: &[u8; 48],
    session_id: &[u8],
    iface: &ServiceApiInterface,
) -> Result<[u8; 32], AefPskError> {
    if session_id.is_empty() {
        return Err(AefPskError::EmptySessionId);
    }
    let p0 = iface.to_string();
    Ok(kdf(master_secret, FC_AEFPSK, &[p0.as_bytes(), session_id])?)
}

/// AEFPSK, TLS 1.3 variant (secsim): KDF(TLS-Exporter(label, "", 32), 0x7A, P0 = interface,
/// P1 = transcript hash).
pub fn aefpsk_tls13(secrets: &Tls13Secrets, iface: &ServiceApiInterface) -> Result<[u8; 32], AefPskError> {
    let key = secrets.exporter(TLS13_EXPORTER_LABEL, b"", 32)?;
    let p0 = iface.to_string();
    Ok(kdf(&key, FC_AEFPSK, &[p0.as_bytes(), &secrets.transcript_hash])?)
}

/// AEFPSK for the configured `variant` from a CAPIF-1e session; refuses a session of the
/// other TLS version.
pub fn derive(
    variant: AefPskVariant,
    session: Capif1eSession<'_>,
    iface: &ServiceApiInterface,
) -> Result<[u8; 32], AefPskError> {
    match (variant, session) {
        (AefPskVariant::Tls12MasterSecret, Capif1eSession::Tls12(s)) => {
            aefpsk_tls12(&s.master_secret, &s.session_id, iface)
        }
        (AefPskVariant::Tls13Exporter, Capif1eSession::Tls13(s)) => aefpsk_tls13(s, iface),
        (configured, session) => Err(AefPskError::VariantMismatch {
            configured,
            session: session.variant(),
        }),
    }
}

/// An AEFPSK with its validity timer (TS 33.122 6.5.2.1 as changed by seed 003).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct AefPskEntry {
    /// The key.
    pub key: [u8; 32],
    /// When the validity timer runs out (in the holder's clock).
    pub expires_at: SimTime,
}

impl AefPskEntry {
    /// A key whose timer of `validity` starts at `now`.
    pub fn new(key: [u8; 32], now: SimTime, validity: SimDuration) -> Self {
        AefPskEntry {
            key,
            expires_at: now + validity,
        }
    }

    /// Whether the key is still valid at `now` (valid strictly before expiry).
    pub fn is_valid(&self, now: SimTime) -> bool {
        now < self.expires_at
    }

    /// The remaining validity at `now` (what the CCF sends the AEF), zero once expired.
    pub fn remaining(&self, now: SimTime) -> SimDuration {
        self.expires_at.saturating_since(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::tls13::{ClientHandshake, ClientMode, ServerHandshake};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn iface() -> ServiceApiInterface {
        ServiceApiInterface {
            host: AefHost::Fqdn("aef1.example.com".into()),
            port: 443,
            api_prefix: "/3gpp-monitoring-event/v1".into(),
        }
    }

    /// DIGEST 5: self-computed AEFPSK example.
    #[test]
    fn aefpsk_digest_example() {
        let ms: [u8; 48] = core::array::from_fn(|i| i as u8);
        assert_eq!(iface().to_string(), "aef1.example.com:443/3gpp-monitoring-event/v1");
        let k = aefpsk_tls12(&ms, &[0xAA; 32], &iface()).unwrap();
        assert_eq!(
            hex::encode(k),
            "8bb33620cb9f3aac3a93bc201f0b800c7526c936228d91ab4acf00ac48588c33"
        );
    }

    #[test]
    fn p0_encodes_ip_hosts() {
        let mut i = iface();
        i.host = AefHost::Ip("192.0.2.7".parse().unwrap());
        assert_eq!(i.to_string(), "192.0.2.7:443/3gpp-monitoring-event/v1");
        i.host = AefHost::Ip("2001:db8::1".parse().unwrap());
        i.port = 8443;
        assert_eq!(i.to_string(), "[2001:db8::1]:8443/3gpp-monitoring-event/v1");
    }

    #[test]
    fn aefpsk_binds_the_aef() {
        let ms = [3u8; 48];
        let mut other = iface();
        other.host = AefHost::Fqdn("aef2.example.com".into());
        assert_ne!(
            aefpsk_tls12(&ms, &[1; 32], &iface()).unwrap(),
            aefpsk_tls12(&ms, &[1; 32], &other).unwrap()
        );
        assert_eq!(aefpsk_tls12(&ms, &[], &iface()), Err(AefPskError::EmptySessionId));
    }

    fn tls13_pair(seed: u64) -> (Tls13Secrets, Tls13Secrets) {
        let (c, ch) = ClientHandshake::start(&mut ChaCha8Rng::seed_from_u64(seed), ClientMode::Full).unwrap();
        let (s, flight) = ServerHandshake::respond(&mut ChaCha8Rng::seed_from_u64(seed + 1), &ch, |_| None).unwrap();
        let (cf, cs) = c.finish(&flight).unwrap();
        (cs, s.finish(&cf).unwrap())
    }

    #[test]
    fn aefpsk_tls13_invoker_and_ccf_agree() {
        let (invoker, ccf) = tls13_pair(1);
        let a = derive(AefPskVariant::Tls13Exporter, Capif1eSession::Tls13(&invoker), &iface()).unwrap();
        let b = derive(AefPskVariant::Tls13Exporter, Capif1eSession::Tls13(&ccf), &iface()).unwrap();
        assert_eq!(a, b);
        // Manual composition of the documented formula.
        let key = invoker.exporter(b"EXPORTER_3GPP_CAPIF_AEFPSK", b"", 32).unwrap();
        let manual = kdf(&key, 0x7A, &[iface().to_string().as_bytes(), &invoker.transcript_hash]).unwrap();
        assert_eq!(a, manual);
        // Another connection, another key.
        let (other, _) = tls13_pair(5);
        assert_ne!(a, aefpsk_tls13(&other, &iface()).unwrap());
    }

    #[test]
    fn derive_refuses_variant_mismatch() {
        let (invoker, _) = tls13_pair(1);
        assert_eq!(
            derive(
                AefPskVariant::Tls12MasterSecret,
                Capif1eSession::Tls13(&invoker),
                &iface()
            ),
            Err(AefPskError::VariantMismatch {
                configured: AefPskVariant::Tls12MasterSecret,
                session: AefPskVariant::Tls13Exporter
            })
        );
    }

    #[test]
    fn derive_tls12_session() {
        let mut c = ChaCha8Rng::seed_from_u64(7);
        let mut s = ChaCha8Rng::seed_from_u64(8);
        let session = crate::crypto::tls12::handshake(&mut c, &mut s, false).unwrap();
        let k = derive(
            AefPskVariant::Tls12MasterSecret,
            Capif1eSession::Tls12(&session),
            &iface(),
        )
        .unwrap();
        assert_eq!(
            k,
            aefpsk_tls12(&session.master_secret, &session.session_id, &iface()).unwrap()
        );
    }

    /// End to end: the AEFPSK from CAPIF-1e keys a CAPIF-2e TLS-PSK handshake with the AEF.
    #[test]
    fn aefpsk_keys_capif2e_tls_psk() {
        let (invoker, ccf) = tls13_pair(9);
        let k_inv = aefpsk_tls13(&invoker, &iface()).unwrap();
        let k_aef = aefpsk_tls13(&ccf, &iface()).unwrap();
        let mode = ClientMode::ExternalPsk {
            identity: b"api-invoker-1".to_vec(),
            psk: k_inv.to_vec(),
            dhe: true,
        };
        let (c, ch) = ClientHandshake::start(&mut ChaCha8Rng::seed_from_u64(20), mode).unwrap();
        let aef_psk = crate::crypto::tls13::Psk {
            kind: crate::crypto::tls13::PskKind::External,
            secret: k_aef.to_vec(),
        };
        let (s, flight) = ServerHandshake::respond(&mut ChaCha8Rng::seed_from_u64(21), &ch, |id| {
            (id == b"api-invoker-1").then_some(aef_psk)
        })
        .unwrap();
        let (cf, cs) = c.finish(&flight).unwrap();
        assert_eq!(cs, s.finish(&cf).unwrap());
    }

    #[test]
    fn entry_validity_timer() {
        let e = AefPskEntry::new([0; 32], SimTime::from_nanos(1_000), SimDuration::from_nanos(500));
        assert!(e.is_valid(SimTime::from_nanos(1_499)));
        assert!(!e.is_valid(SimTime::from_nanos(1_500)));
        assert_eq!(e.remaining(SimTime::from_nanos(1_200)), SimDuration::from_nanos(300));
        assert_eq!(e.remaining(SimTime::from_nanos(9_000)), SimDuration::ZERO);
    }

    #[test]
    fn variant_serde() {
        assert_eq!(
            ron::from_str::<AefPskVariant>("Tls13Exporter").unwrap(),
            AefPskVariant::Tls13Exporter
        );
        assert_eq!(AefPskVariant::default(), AefPskVariant::Tls12MasterSecret);
    }
}
