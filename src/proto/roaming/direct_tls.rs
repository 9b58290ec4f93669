//! FFS alternative 1 (TS 29.573 5.2.1, seed 000 Editor's note): "How the Roaming Intermediary
//! reacts on avoiding N32 connection to be established when direct TLS is used over N32-c to
//! connect between c-SEPP and p-SEPP is FFS."
//!
//! With direct TLS there is no HTTP request for the RI to answer, so the refusal has to happen
//! in the network. [`DirectTlsReaction`] is the scenario knob; [`DirectTlsReaction::direct_tls_effect`]
//! says what the network model must do with the attempt, and [`DirectTlsReaction::blame`] whom
//! the c-SEPP ends up blaming.
//!
//! | reaction         | network effect          | c-SEPP sees           | blamed  | tells cNF        | verifiable                  |
//! |------------------|-------------------------|-----------------------|---------|------------------|-----------------------------|
//! | `DropTimeout`    | SYN/packets dropped     | connect timeout       | p-SEPP  | own 504, late    | no                          |
//! | `TcpReset`       | RST (p-SEPP's address)  | connection refused    | p-SEPP  | own 504, fast    | no                          |
//! | `TlsAlertOnSni`  | alert after ClientHello | TLS alert, no auth    | p-SEPP  | own 504, fast    | no (spoofable)              |
//! | `RequireConnect` | RST from the RI         | use CONNECT, then 403 | RI      | RI's suggestion  | only with `ProtectedHeader` |
//! | `OutOfBand`      | no route / no DNS       | cannot even start     | network | own 504, at once | no                          |

use serde::{Deserialize, Serialize};

/// How the RI prevents an N32 connection that the c-SEPP tries with direct TLS (no CONNECT).
/// Default: `RequireConnect`.
#[derive(
    Clone, Copy, Debug, Default, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize, schemars::JsonSchema,
)]
pub enum DirectTlsReaction {
    /// Drop the SYN (and every later packet) silently. The c-SEPP's connect timer expires and
    /// it answers the cNF 504 itself, after the timeout, likely after retries. It blames the
    /// p-SEPP (or the path); it learns nothing it could relay and nothing is verifiable.
    DropTimeout,
    /// Answer the SYN with a TCP RST carrying the p-SEPP's address. Fast, but the c-SEPP sees
    /// "p-SEPP refused" and blames it; nothing to relay, nothing verifiable (spoofed RST).
    TcpReset,
    /// Let TCP through, read the SNI in the TLS ClientHello and abort with a TLS alert before
    /// any key exists. Fast and able to decide per target, but the alert is unauthenticated:
    /// the c-SEPP cannot tell the RI from the p-SEPP (or an attacker), blames the p-SEPP, and
    /// can only answer 504 on its own.
    TlsAlertOnSni,
    /// The RI forwards only CONNECT tunnels: every direct attempt is reset at TCP by the RI
    /// itself, whatever the policy. The c-SEPP learns that it must use CONNECT (a
    /// configuration error, blamed on the RI correctly); the real refusal is then the explicit
    /// 403 of TS 29.573 5.2.X.2 with its suggestion (verifiable only with
    /// [`super::SuggestionEncoding::ProtectedHeader`]).
    #[default]
    RequireConnect,
    /// Out of band: routes to the p-SEPP are withdrawn or its FQDN is not resolvable via the
    /// IPX. The c-SEPP cannot even start; it answers 504 at once and blames the network.
    /// Nothing is verifiable and the decision is coarse (per route, not per attempt).
    OutOfBand,
}

/// What the network model must do with a refused direct-TLS attempt (the integrator maps these
/// onto links and connections).
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub enum DirectEffect {
    /// Drop the SYN and every retransmission; the client only sees its own timeout.
    DropSilently,
    /// Answer the SYN with a TCP RST.
    ResetAtTcp,
    /// Complete TCP, let the ClientHello arrive, then send a fatal TLS alert and close.
    AlertAfterClientHello {
        /// The RFC 8446 6.2 alert description.
        alert: &'static str,
    },
    /// There is no route (or name) to the target: the attempt fails before any packet leaves.
    NoRoute,
}

/// Whom the c-SEPP attributes a failed N32 connection to.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub enum Blame {
    /// The Roaming Intermediary (correct: it refused).
    Ri,
    /// The p-SEPP (wrong).
    PeerSepp,
    /// Routing or DNS (wrong or at best vague).
    Network,
}

impl DirectTlsReaction {
    /// Every reaction, in declaration order.
    pub const ALL: [DirectTlsReaction; 5] = [
        DirectTlsReaction::DropTimeout,
        DirectTlsReaction::TcpReset,
        DirectTlsReaction::TlsAlertOnSni,
        DirectTlsReaction::RequireConnect,
        DirectTlsReaction::OutOfBand,
    ];

    /// What the network does with a refused direct attempt.
    pub fn direct_tls_effect(&self) -> DirectEffect {
        match self {
            DirectTlsReaction::DropTimeout => DirectEffect::DropSilently,
            DirectTlsReaction::TcpReset | DirectTlsReaction::RequireConnect => DirectEffect::ResetAtTcp,
            //= RFC 8446 6.2: access_denied(49) "when access control was applied, the sender
            //= decided not to proceed with negotiation"
            DirectTlsReaction::TlsAlertOnSni => DirectEffect::AlertAfterClientHello { alert: "access_denied" },
            DirectTlsReaction::OutOfBand => DirectEffect::NoRoute,
        }
    }

    /// Whom the c-SEPP blames for the failure.
    pub fn blame(&self) -> Blame {
        match self {
            DirectTlsReaction::DropTimeout | DirectTlsReaction::TcpReset | DirectTlsReaction::TlsAlertOnSni => {
                Blame::PeerSepp
            }
            DirectTlsReaction::RequireConnect => Blame::Ri,
            DirectTlsReaction::OutOfBand => Blame::Network,
        }
    }

    /// Whether the RI consults its policy for a direct attempt (`false`: refuses every one).
    pub fn consults_policy(&self) -> bool {
        !matches!(self, DirectTlsReaction::RequireConnect)
    }
}
