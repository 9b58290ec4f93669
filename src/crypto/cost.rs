//! Simulated CPU cost of crypto operations, and the `crypto_fidelity` knob.
//!
//! A node that performs a crypto operation is busy for the operation's cost in simulated
//! time: [`CostModel::cost`] gives it per [`CryptoOp`] and node class. The reference costs
//! ([`OpCosts`]) default to criterion measurements of this crate's own code on the reference
//! machine (`benches/crypto.rs`, figures in `docs/crypto-bench.md`):
//!
//! ```text
//!  op                     default \[ns\]   measured as
//!  HmacSha256                        197 hmac_sha256_32B
//!  HkdfExtractExpand                 551 hkdf_extract_expand_32B
//!  Kdf3gpp                           373 kdf_3gpp_aefpsk (TS 33.220 KDF incl. P0 encoding)
//!  Prf12                             937 tls12_master_secret (48 octets)
//!  TlsExporter                      1083 tls13_exporter_64B
//!  N32fKeyDerivation                2871 n32f_keys_8_derivations (all eight values)
//!  AesGcmSeal1k                     2096 A256GCM_seal_1KiB
//!  AesGcmOpen1k                     2031 A256GCM_open_1KiB
//!  EcdsaSign                      203140 ecdsa_p256_sign (RFC 6979)
//!  EcdsaVerify                    351920 ecdsa_p256_verify
//!  X25519Keygen                    22351 x25519_keygen
//!  X25519Dh                        75841 x25519_dh
//!  Tls13KeySchedule                 7419 tls13_psk_ke_both_sides / 2 (one side, no ECDHE)
//! ```
//!
//! A node class (e.g. `"sepp"`, `"ccf"`) scales the reference costs by `slowdown` (2.0 = twice
//! as slow) and may override single operations. Costs are integer nanoseconds
//! ([`SimDuration`]); scaling rounds to the nearest nanosecond, so it is deterministic.
//!
//! # Fidelity
//!
//! [`CryptoFidelity`] trades realism for speed: `Full` computes everything, `Keys` computes
//! symmetric derivations and AEADs but replaces signatures and ECDHE by deterministic values
//! drawn from the actor's seeded stream, `Timing` computes nothing and only charges costs.
//! The costs charged are the same at every fidelity, so simulated timings do not change with
//! it; only what can be checked (wrong keys, bad signatures) does.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::engine::SimDuration;

/// A costed crypto operation.
#[derive(Clone, Copy, Debug, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize, schemars::JsonSchema)]
pub enum CryptoOp {
    /// One HMAC-SHA-256 over a short input.
    HmacSha256,
    /// HKDF-Extract plus one 32-octet Expand.
    HkdfExtractExpand,
    /// The 3GPP generic KDF (TS 33.220 B), e.g. AEFPSK.
    Kdf3gpp,
    /// The TLS 1.2 PRF producing a master secret.
    Prf12,
    /// A TLS exporter call (64 octets).
    TlsExporter,
    /// The eight N32-f keys and IV salts of one context.
    N32fKeyDerivation,
    /// AES-GCM encryption of 1 KiB.
    AesGcmSeal1k,
    /// AES-GCM decryption of 1 KiB.
    AesGcmOpen1k,
    /// ECDSA P-256 signature.
    EcdsaSign,
    /// ECDSA P-256 verification.
    EcdsaVerify,
    /// X25519 key pair generation.
    X25519Keygen,
    /// X25519 shared secret.
    X25519Dh,
    /// One side's TLS 1.3 key schedule (binder, secrets, Finished MACs), without ECDHE.
    Tls13KeySchedule,
}

impl CryptoOp {
    /// Whether the operation is public-key (replaced by seeded values at `Keys` fidelity).
    pub fn is_asymmetric(self) -> bool {
        matches!(
            self,
            CryptoOp::EcdsaSign | CryptoOp::EcdsaVerify | CryptoOp::X25519Keygen | CryptoOp::X25519Dh
        )
    }
}

/// How much real cryptography a run computes (scenario knob `crypto_fidelity`, default
/// `Full`).
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, PartialEq, Serialize, schemars::JsonSchema)]
pub enum CryptoFidelity {
    /// Everything is computed: key schedules, AEADs, signatures, ECDHE.
    #[default]
    Full,
    /// Symmetric derivations and AEADs are computed; signatures and ECDHE are replaced by
    /// deterministic values from the actor's seeded RNG stream (so PSK and key mismatches
    /// are still detected, forged signatures are not).
    Keys,
    /// Nothing is computed; operations only cost simulated time.
    Timing,
}

impl CryptoFidelity {
    /// Whether `op` is really computed at this fidelity.
    pub fn computes(self, op: CryptoOp) -> bool {
        match self {
            CryptoFidelity::Full => true,
            CryptoFidelity::Keys => !op.is_asymmetric(),
            CryptoFidelity::Timing => false,
        }
    }
}

/// The cost of each operation on the reference machine. Defaults: see the module doc.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct OpCosts {
    /// [`CryptoOp::HmacSha256`].
    pub hmac_sha256: SimDuration,
    /// [`CryptoOp::HkdfExtractExpand`].
    pub hkdf_extract_expand: SimDuration,
    /// [`CryptoOp::Kdf3gpp`].
    pub kdf_3gpp: SimDuration,
    /// [`CryptoOp::Prf12`].
    pub prf12: SimDuration,
    /// [`CryptoOp::TlsExporter`].
    pub tls_exporter: SimDuration,
    /// [`CryptoOp::N32fKeyDerivation`].
    pub n32f_key_derivation: SimDuration,
    /// [`CryptoOp::AesGcmSeal1k`].
    pub aes_gcm_seal_1k: SimDuration,
    /// [`CryptoOp::AesGcmOpen1k`].
    pub aes_gcm_open_1k: SimDuration,
    /// [`CryptoOp::EcdsaSign`].
    pub ecdsa_sign: SimDuration,
    /// [`CryptoOp::EcdsaVerify`].
    pub ecdsa_verify: SimDuration,
    /// [`CryptoOp::X25519Keygen`].
    pub x25519_keygen: SimDuration,
    /// [`CryptoOp::X25519Dh`].
    pub x25519_dh: SimDuration,
    /// [`CryptoOp::Tls13KeySchedule`].
    pub tls13_key_schedule: SimDuration,
}

impl Default for OpCosts {
    /// Measured with `benches/crypto.rs` (see `docs/crypto-bench.md`).
    fn default() -> Self {
        let ns = SimDuration::from_nanos;
        OpCosts {
            hmac_sha256: ns(197),
            hkdf_extract_expand: ns(551),
            kdf_3gpp: ns(373),
            prf12: ns(937),
            tls_exporter: ns(1083),
            n32f_key_derivation: ns(2871),
            aes_gcm_seal_1k: ns(2096),
            aes_gcm_open_1k: ns(2031),
            ecdsa_sign: ns(203140),
            ecdsa_verify: ns(351920),
            x25519_keygen: ns(22351),
            x25519_dh: ns(75841),
            tls13_key_schedule: ns(7419),
        }
    }
}

impl OpCosts {
    /// The cost of `op`.
    pub fn of(&self, op: CryptoOp) -> SimDuration {
        match op {
            CryptoOp::HmacSha256 => self.hmac_sha256,
            CryptoOp::HkdfExtractExpand => self.hkdf_extract_expand,
            CryptoOp::Kdf3gpp => self.kdf_3gpp,
            CryptoOp::Prf12 => self.prf12,
            CryptoOp::TlsExporter => self.tls_exporter,
            CryptoOp::N32fKeyDerivation => self.n32f_key_derivation,
            CryptoOp::AesGcmSeal1k => self.aes_gcm_seal_1k,
            CryptoOp::AesGcmOpen1k => self.aes_gcm_open_1k,
            CryptoOp::EcdsaSign => self.ecdsa_sign,
            CryptoOp::EcdsaVerify => self.ecdsa_verify,
            CryptoOp::X25519Keygen => self.x25519_keygen,
            CryptoOp::X25519Dh => self.x25519_dh,
            CryptoOp::Tls13KeySchedule => self.tls13_key_schedule,
        }
    }
}

/// How one node class differs from the reference machine.
#[derive(Clone, Debug, Deserialize, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ClassCosts {
    /// Multiplies every reference cost (default 1.0; 2.0 = twice as slow). Must be finite and
    /// >= 0.
    pub slowdown: f64,
    /// Per-operation costs that replace the scaled reference (default none).
    #[schemars(schema_with = "overrides_schema")]
    pub overrides: BTreeMap<CryptoOp, SimDuration>,
}

/// The JSON Schema of [`ClassCosts::overrides`]: an object whose keys are [`CryptoOp`] names
/// (serde refuses any other key) and whose values are durations.
fn overrides_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let keys = generator.subschema_for::<CryptoOp>();
    let values = generator.subschema_for::<SimDuration>();
    schemars::json_schema!({
        "type": "object",
        "propertyNames": keys,
        "additionalProperties": values,
        "default": {},
    })
}

impl Default for ClassCosts {
    fn default() -> Self {
        ClassCosts {
            slowdown: 1.0,
            overrides: BTreeMap::new(),
        }
    }
}

/// Why a cost model was refused at load.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum CostError {
    /// A slowdown that is negative, NaN or infinite.
    #[error("node class `{class}` has slowdown {slowdown}; it must be finite and >= 0")]
    Slowdown {
        /// The class.
        class: String,
        /// The bad value.
        slowdown: f64,
    },
}

/// Simulated CPU cost per operation and node class (RON: `crypto_costs: (...)`).
///
/// Defaults: reference costs from [`OpCosts::default`], no node classes (every class costs
/// the reference).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct CostModel {
    /// Costs on the reference machine.
    pub reference: OpCosts,
    /// Per node class (by name) adjustments; unknown classes cost the reference.
    pub classes: BTreeMap<String, ClassCosts>,
}

impl CostModel {
    /// Checks the slowdowns (call once at load).
    pub fn validate(&self) -> Result<(), CostError> {
        for (class, c) in &self.classes {
            if !c.slowdown.is_finite() || c.slowdown < 0.0 {
                return Err(CostError::Slowdown {
                    class: class.clone(),
                    slowdown: c.slowdown,
                });
            }
        }
        Ok(())
    }

    /// The cost of `op` on a node of `class`.
    pub fn cost(&self, class: &str, op: CryptoOp) -> SimDuration {
        let base = self.reference.of(op);
        match self.classes.get(class) {
            None => base,
            Some(c) => c.overrides.get(&op).copied().unwrap_or_else(|| scale(base, c.slowdown)),
        }
    }

    /// The cost of `n` operations `op` on a node of `class`.
    pub fn cost_n(&self, class: &str, op: CryptoOp, n: u64) -> SimDuration {
        self.cost(class, op).saturating_mul(n)
    }

    /// The cost of sealing (or, with `open`, opening) `len` octets with AES-GCM: linear in the
    /// length from the 1 KiB figure, rounded up, and at least 1/16 of it (fixed overhead).
    pub fn aead(&self, class: &str, len: usize, open: bool) -> SimDuration {
        let per_kib = self
            .cost(
                class,
                if open {
                    CryptoOp::AesGcmOpen1k
                } else {
                    CryptoOp::AesGcmSeal1k
                },
            )
            .as_nanos();
        let linear = (u128::from(per_kib) * len as u128).div_ceil(1024);
        let ns = u64::try_from(linear).unwrap_or(u64::MAX).max(per_kib / 16);
        SimDuration::from_nanos(ns)
    }
}

/// `d * factor`, rounded to the nearest nanosecond (saturating).
fn scale(d: SimDuration, factor: f64) -> SimDuration {
    // `as` saturates; validate() keeps factor finite and non-negative.
    SimDuration::from_nanos((d.as_nanos() as f64 * factor).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_positive_and_ordered() {
        let c = OpCosts::default();
        for op in [
            CryptoOp::HmacSha256,
            CryptoOp::HkdfExtractExpand,
            CryptoOp::Kdf3gpp,
            CryptoOp::Prf12,
            CryptoOp::TlsExporter,
            CryptoOp::N32fKeyDerivation,
            CryptoOp::AesGcmSeal1k,
            CryptoOp::AesGcmOpen1k,
            CryptoOp::EcdsaSign,
            CryptoOp::EcdsaVerify,
            CryptoOp::X25519Keygen,
            CryptoOp::X25519Dh,
            CryptoOp::Tls13KeySchedule,
        ] {
            assert!(c.of(op) > SimDuration::ZERO, "{op:?}");
        }
        // Public-key operations are orders of magnitude dearer than symmetric ones.
        assert!(c.ecdsa_verify > c.hmac_sha256.saturating_mul(100));
        assert!(c.x25519_dh > c.hkdf_extract_expand.saturating_mul(10));
    }

    #[test]
    fn class_scaling_and_overrides() {
        let ron = r#"(
            reference: (hmac_sha256: "1us", ecdsa_sign: "100us"),
            classes: {
                "sepp": (slowdown: 2.5),
                "ccf": (overrides: {EcdsaSign: "10us"}),
            },
        )"#;
        let m: CostModel = ron::from_str(ron).unwrap();
        m.validate().unwrap();
        assert_eq!(m.cost("sepp", CryptoOp::HmacSha256), SimDuration::from_nanos(2_500));
        assert_eq!(m.cost("ccf", CryptoOp::EcdsaSign), SimDuration::from_micros(10));
        assert_eq!(m.cost("ccf", CryptoOp::HmacSha256), SimDuration::from_micros(1));
        assert_eq!(m.cost("unknown", CryptoOp::EcdsaSign), SimDuration::from_micros(100));
        assert_eq!(m.cost_n("sepp", CryptoOp::HmacSha256, 4), SimDuration::from_micros(10));
        // Unspecified reference fields keep their defaults.
        assert_eq!(m.reference.x25519_dh, OpCosts::default().x25519_dh);
    }

    #[test]
    fn cost_model_refuses_bad_slowdown_and_unknown_fields() {
        let m: CostModel = ron::from_str(r#"(classes: {"ri": (slowdown: -1.0)})"#).unwrap();
        assert!(matches!(m.validate(), Err(CostError::Slowdown { .. })));
        assert!(ron::from_str::<CostModel>("(refrence: ())").is_err());
    }

    #[test]
    fn aead_cost_is_linear_with_floor() {
        let mut m = CostModel::default();
        m.reference.aes_gcm_seal_1k = SimDuration::from_nanos(1024);
        assert_eq!(m.aead("x", 2048, false), SimDuration::from_nanos(2048));
        assert_eq!(m.aead("x", 1, false), SimDuration::from_nanos(64));
        assert_eq!(m.aead("x", 1000, false), SimDuration::from_nanos(1000));
    }

    #[test]
    fn fidelity_selects_computed_ops() {
        assert!(CryptoFidelity::Full.computes(CryptoOp::EcdsaSign));
        assert!(!CryptoFidelity::Keys.computes(CryptoOp::X25519Dh));
        assert!(CryptoFidelity::Keys.computes(CryptoOp::AesGcmSeal1k));
        assert!(!CryptoFidelity::Timing.computes(CryptoOp::HmacSha256));
        assert_eq!(CryptoFidelity::default(), CryptoFidelity::Full);
        assert_eq!(ron::from_str::<CryptoFidelity>("Keys").unwrap(), CryptoFidelity::Keys);
    }
}
