//! The world's independent checks of the CAPIF plane (measurement only: they decide
//! nothing). The router hands them what the wire showed (the key a client's TLS stack used,
//! the certificate it presented, a bearer token) and what the machines hold, and they check
//! it themselves: chains against each CCF CA, token signatures against each CCF's key.
//! Tests assert on the counts ([`CapifChecks`], `tests/sim/capif.rs`); the audit facts of a
//! session's credential come from here, never from the AEF's own verdict.

use crate::audit::capif::{SessionCredential, TokenFacts, fingerprint};
use crate::crypto::pki::{self, Certificate, RevocationList};
use crate::engine::SimTime;
use crate::proto::capif::machines::Credential;
use std::collections::BTreeMap;

use crate::net::NodeId;
use crate::net::tls::TlsMode;
use crate::proto::capif::node::{AefAuditFacts, AefNode, AefObservation, CapifNode, PeerTls, bearer};
use crate::proto::capif::types::SecurityMethod;

/// Independent checks of the security properties, counted as the run goes.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct CapifChecks {
    /// TLS-PSK sessions the AEF accepted.
    pub psk_sessions: u64,
    /// ... whose AEFPSK differed between invoker and AEF (must stay 0).
    pub psk_key_mismatch: u64,
    /// ... accepted with a key past its validity (must stay 0).
    pub expired_key_sessions: u64,
    /// PKI sessions the AEF accepted.
    pub pki_sessions: u64,
    /// ... whose client certificate does not chain to a CCF CA (must stay 0).
    pub untrusted_sessions: u64,
    /// Invocations answered 200 for an invoker, after the AEF processed its revocation, on a
    /// session accepted before it (0).
    pub revoked_successes: u64,
    /// Invocations answered 200 with a bearer token that is revoked (0).
    pub revoked_token_successes: u64,
    /// Invocations answered 200 with a method the AEF no longer supports (0).
    pub stale_method_successes: u64,
    /// Negotiations whose method lies outside prefs ∩ AEF methods (0).
    pub outside_intersection: u64,
    /// Successful negotiations.
    pub negotiations: u64,
    /// Invocations refused by the AEF (any reason).
    pub refused_invocations: u64,
    /// TLS handshakes the AEF refused or aborted.
    pub refused_handshakes: u64,
}

/// What the wire showed of one accepted session, for [`Observer::observe`].
#[derive(Default)]
pub struct Wire<'a> {
    /// The PSK the client's TLS stack used (TLS-PSK).
    pub client_psk: Option<[u8; 32]>,
    /// The certificate the client presented (certificate TLS).
    pub client_cert: Option<&'a Certificate>,
}

impl<'a> Wire<'a> {
    /// A session authenticated with `mode` whose client presents `cert`.
    pub fn of(mode: &TlsMode, cert: &'a Certificate) -> Wire<'a> {
        match mode {
            TlsMode::ExternalPsk { psk, .. } => Wire {
                client_psk: Some(psk32(psk)),
                client_cert: Some(cert),
            },
            TlsMode::Certificate => Wire {
                client_psk: None,
                client_cert: Some(cert),
            },
        }
    }
}

/// The trust material the checks use: every CCF's CA and token key.
#[derive(Clone, Debug, Default)]
pub struct Observer {
    /// CCF CA certificates, and the CCFs' names in the same order.
    pub ccf_cas: Vec<Certificate>,
    pub ccf_names: Vec<String>,
    /// Every CCF's token key.
    pub token_keys: Vec<(String, p256::ecdsa::VerifyingKey)>,
}

/// The first 32 bytes of a PSK (zero-padded).
pub fn psk32(psk: &[u8]) -> [u8; 32] {
    let mut key = [0u8; 32];
    let n = psk.len().min(32);
    key[..n].copy_from_slice(&psk[..n]);
    key
}

impl Observer {
    /// What the AEF had when it accepted a session: the PSK it holds and the one the client's
    /// TLS stack used; the client chain checked against each CCF CA; the bearer token as
    /// verified here.
    pub fn credential_facts(
        &self,
        now: SimTime,
        aef: &AefNode,
        (invoker, credential): (&str, &Credential),
        token: Option<&str>,
    ) -> SessionCredential {
        match credential {
            Credential::Psk(offered) => SessionCredential::Psk {
                aef_key: aef.m.psk().entry(invoker).map(|e| fingerprint(&e.key)),
                offered_key: fingerprint(offered),
            },
            Credential::Certificate(cert) => {
                let now_s = now.as_nanos() / 1_000_000_000;
                let anchor = self
                    .ccf_cas
                    .iter()
                    .zip(&self.ccf_names)
                    .find(|(ca, _)| {
                        pki::verify_chain(cert, &[], std::slice::from_ref(*ca), now_s, &RevocationList::new()).is_ok()
                    })
                    .map(|(_, n)| n.clone());
                SessionCredential::Pki {
                    subject: cert.subject.clone(),
                    anchor,
                }
            }
            Credential::ServerAuthOnly => SessionCredential::Oauth {
                token: token.and_then(|t| self.token_facts(t)),
            },
        }
    }

    /// What the AEF's own TLS stack authenticated of the client of request `req` on `conn`,
    /// seen as `(mode, certificate, name in it)`, and (with `audit`) the audit facts of it:
    /// the credential of a session not accepted yet and the bearer token as checked here.
    pub fn aef_peer(
        &self,
        (now, aef): (SimTime, &AefNode),
        (mode, cert, name): (&TlsMode, &Certificate, String),
        (conn, req): (crate::net::ConnId, &crate::net::HttpRequest),
        audit: bool,
    ) -> (PeerTls, AefAuditFacts) {
        let peer = match mode {
            TlsMode::ExternalPsk { identity, .. } => PeerTls::Psk {
                identity: String::from_utf8_lossy(identity).into_owned(),
            },
            TlsMode::Certificate => PeerTls::Certificate {
                name,
                cert: Box::new(cert.clone()),
            },
        };
        let mut facts = AefAuditFacts::default();
        if !audit {
            return (peer, facts);
        }
        let token = bearer(req);
        if !aef.has_session(conn) {
            let (invoker, credential) = match (mode, &peer) {
                (TlsMode::ExternalPsk { psk, .. }, PeerTls::Psk { identity }) => {
                    (identity.clone(), Credential::Psk(psk32(psk)))
                }
                (_, PeerTls::Certificate { name, .. }) if token.is_some() => (name.clone(), Credential::ServerAuthOnly),
                (_, PeerTls::Certificate { name, cert }) => (name.clone(), Credential::Certificate(cert.clone())),
                (_, PeerTls::Psk { identity }) => (identity.clone(), Credential::ServerAuthOnly),
            };
            facts.credential = Some(self.credential_facts(now, aef, (&invoker, &credential), token));
        }
        facts.token = token.and_then(|t| self.token_facts(t));
        (peer, facts)
    }

    /// A bearer token's claims, and the CCF whose key verifies its signature.
    pub fn token_facts(&self, token: &str) -> Option<TokenFacts> {
        let signed = self.token_keys.iter().find_map(|(n, k)| {
            crate::crypto::jose::verify_compact(k, token)
                .ok()
                .map(|v| (n.clone(), v.payload))
        });
        let (signed_by, payload) = match signed {
            Some((n, p)) => (Some(n), p),
            None => (
                None,
                crate::crypto::jose::b64_decode(token.split('.').nth(1)?, "payload").ok()?,
            ),
        };
        let claims: crate::crypto::jwt::AccessTokenClaims = serde_json::from_slice(&payload).ok()?;
        Some(TokenFacts {
            jti: claims.jti,
            client_id: claims.client_id,
            exp_s: claims.exp,
            signed_by,
        })
    }

    /// Counts one observation of the AEF `aef`: `wire` is what the session showed, `invoker_key`
    /// the AEFPSK the invoker holds, `revoked` whether the invoker's authorization was revoked.
    pub fn observe(
        &self,
        checks: &mut CapifChecks,
        (now, aef): (SimTime, &AefNode),
        o: &AefObservation,
        wire: &Wire<'_>,
        (invoker_key, revoked): (Option<[u8; 32]>, bool),
    ) {
        match o {
            AefObservation::RefusedInvocation => checks.refused_invocations += 1,
            AefObservation::RefusedHandshake => checks.refused_handshakes += 1,
            AefObservation::Accepted { invoker, method, .. } => match method {
                SecurityMethod::Psk => {
                    checks.psk_sessions += 1;
                    let Some(k) = wire.client_psk else { return };
                    let entry = aef.m.psk().entry(invoker).cloned();
                    if entry.as_ref().map(|e| e.key) != Some(k) || invoker_key != Some(k) {
                        checks.psk_key_mismatch += 1;
                    }
                    if entry.is_none_or(|e| e.expires_at <= now) {
                        checks.expired_key_sessions += 1;
                    }
                }
                SecurityMethod::Pki => {
                    checks.pki_sessions += 1;
                    let now_s = now.as_nanos() / 1_000_000_000;
                    let trusted = wire.client_cert.is_some_and(|c| {
                        pki::verify_chain(c, &[], &self.ccf_cas, now_s, &RevocationList::new()).is_ok()
                    });
                    if !trusted {
                        checks.untrusted_sessions += 1;
                    }
                }
                _ => {}
            },
            AefObservation::Served {
                token,
                after_revocation,
                stale_method,
                ..
            } => {
                checks.revoked_successes += u64::from(*after_revocation);
                checks.revoked_token_successes += u64::from(*token && revoked);
                checks.stale_method_successes += u64::from(*stale_method);
            }
        }
    }
}

/// The world's independent checks of what the AEF at `node` observed since the last call,
/// and a CCF's counts (measurement only: they read the wire and the machines, and decide
/// nothing). `wire` gives what a session's connection showed; `ids` caches API invoker ID →
/// address.
pub fn observe_node<'w>(
    (observer, checks): (&Observer, &mut CapifChecks),
    (nodes, ids): (&mut BTreeMap<NodeId, CapifNode>, &mut BTreeMap<String, NodeId>),
    (node, now): (NodeId, SimTime),
    wire: impl Fn(crate::net::ConnId) -> Wire<'w>,
) {
    let observed = match nodes.get_mut(&node) {
        Some(CapifNode::Ccf(c)) => {
            checks.negotiations += std::mem::take(&mut c.negotiations);
            checks.outside_intersection += std::mem::take(&mut c.outside_intersection);
            return;
        }
        Some(CapifNode::Aef(a)) => std::mem::take(&mut a.observed),
        _ => return,
    };
    for o in &observed {
        let seen = o.session_conn().map_or(Wire::default(), &wire);
        let (key, revoked) = o.invoker().map_or((None, false), |id| invoker_facts(nodes, ids, id));
        let Some(CapifNode::Aef(a)) = nodes.get(&node) else {
            return;
        };
        observer.observe(checks, (now, a), o, &seen, (key, revoked));
    }
}

/// The AEFPSK the invoker with API invoker ID `id` holds, and whether a CCF revoked it, from
/// the plane's machines (`ids` caches ID → address).
pub fn invoker_facts(
    nodes: &BTreeMap<NodeId, CapifNode>,
    ids: &mut BTreeMap<String, NodeId>,
    id: &str,
) -> (Option<[u8; 32]>, bool) {
    if !ids.contains_key(id) {
        for (&n, m) in nodes {
            if let CapifNode::Invoker(i) = m
                && let Some(id) = i.m.api_invoker_id()
                // The map an insert of every pair would leave, without a new key string
                // for the IDs it already has at this address.
                && ids.get(id) != Some(&n)
            {
                ids.insert(id.to_string(), n);
            }
        }
    }
    let key = match ids.get(id).and_then(|n| nodes.get(n)) {
        Some(CapifNode::Invoker(i)) => i.m.aefpsk().map(|e| e.key),
        _ => None,
    };
    let revoked = nodes
        .values()
        .any(|n| matches!(n, CapifNode::Ccf(c) if c.revoked.contains(id)));
    (key, revoked)
}
