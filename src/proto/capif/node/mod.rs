//! The CAPIF node machines: one sans-IO machine per node kind, each implementing
//! [`crate::proto::effect::Machine`] and owning all of its node's protocol state and
//! decisions. They drive the inner procedure machines of [`crate::proto::capif::machines`].
//!
//! A node machine knows its own configuration (given at build, [`crate::build::capif`]) and
//! what arrives in its inputs. Two things the driver hands a machine beside the input, both
//! about the node's *own* side of a connection, never the peer's:
//! - [`PeerTls`]: what the node's own TLS stack authenticated of the peer on the connection a
//!   request arrived on (the PSK identity the client offered and the binder check passed, or
//!   the client certificate whose chain it checked);
//! - facts for the audit only ([`crate::audit::capif`]), computed by the world from the wire
//!   (e.g. the key the client's TLS stack used), which a machine copies into its audit facts
//!   and never reads for a decision.

pub mod aef;
pub mod apf;

pub use aef::*;
pub use apf::*;

use crate::crypto::pki::Certificate;

/// The timers of every CAPIF node machine (one driver, one timer table for the plane).
#[derive(Clone, Debug, Eq, Ord, PartialEq, PartialOrd)]
pub enum CapifTimer {
    /// An AEF's AEFPSK validity for an invoker ran out.
    AefKeyExpiry(String),
}

/// What a node's own TLS stack authenticated of the peer on the connection a request came
/// on (the server side of the handshake).
#[derive(Clone, Debug)]
pub enum PeerTls {
    /// TLS-PSK: the identity the client offered (its binder matched the key this node holds).
    Psk {
        /// The PSK identity.
        identity: String,
    },
    /// Certificate TLS: the name the client's certificate carries and the certificate.
    Certificate {
        /// The authenticated name (the certificate's subject).
        name: String,
        /// The client's certificate.
        cert: Box<Certificate>,
    },
}

/// The JSON text of a machine's body (`Null`: no body).
pub(crate) fn json_body(v: &serde_json::Value) -> String {
    if v.is_null() { String::new() } else { v.to_string() }
}
