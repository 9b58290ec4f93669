//! TLS 1.3 on simulated connections, computed with [`crate::crypto`].
//!
//! Every handshake the network carries runs the real key schedule, so a wrong PSK or a bad
//! certificate makes it fail in the simulation:
//!
//! ```text
//!  client                                   server
//!  client_hello()  ── ClientHello ──────►   server_respond()   PSK lookup + binder check,
//!                                                              chain + CertificateVerify
//!  client_finish() ◄─ ServerHello..Fin ──                      (certificate mode)
//!    verify server chain, name, CV, Finished
//!                  ── Cert, CV, Finished ►  server_finish()    verify client chain, CV, Finished
//! ```
//!
//! Modes: [`TlsMode::Certificate`] is mutual TLS with certificates issued by each domain's
//! CA (every node gets an identity at build time, keys from the node's seeded stream);
//! [`TlsMode::ExternalPsk`] is TLS-PSK with psk_dhe_ke (the CAPIF-2e AEFPSK case): the
//! server looks the identity up in its PSK store, where keys have an expiry time.
//!
//! CertificateVerify is an ES256 signature over SHA-256 of a role label and both hello
//! randoms: it binds the certificate key to this handshake (secsim's simplification of
//! RFC 8446 4.4.3, which signs the transcript hash).
//!
//! Resumption (RFC 8446 2.2): after a full certificate handshake the client holds a ticket
//! for that server (PSK = resumption_psk(resumption_master, nonce)); its next connection to
//! the same server offers it with a `res binder` and skips certificates. Tickets are
//! installed at both ends when the client completes the handshake (the NewSessionTicket
//! message is not carried separately). Off with `NetConfig::resumption = false`.
//!
//! Crypto fidelity ([`CryptoFidelity`]): `Full` computes everything; `Keys` computes the key
//! schedule, binders and Finished but replaces X25519 by a seeded simulated exchange and
//! skips signatures and their checks (chains are still checked for expiry and revocation);
//! `Timing` computes nothing and compares PSKs directly. Every fidelity charges the same
//! simulated CPU time from the [`CostModel`], queued per node (one core per node).

use std::collections::BTreeMap;

use p256::ecdsa::{Signature, SigningKey};
use sha2::{Digest, Sha256};

use crate::crypto::cost::{CostModel, CryptoFidelity, CryptoOp};
use crate::crypto::pki::{self, Ca, Certificate, RevocationList, Subject, Validity};
use crate::crypto::tls13::{
    ClientFinished, ClientHandshake, ClientHello, ClientMode, Ecdhe, Psk, PskKind, ServerFlight, ServerHandshake,
    Tls13Secrets,
};
use crate::engine::{SimDuration, SimRng, SimTime, stream};
use crate::net::topology::{NodeId, Topology};
use crate::scenario::NodeRole;

/// How a connection authenticates.
#[derive(Clone, Debug, Default, Eq, Ord, PartialEq, PartialOrd)]
pub enum TlsMode {
    /// Mutual TLS with certificates.
    #[default]
    Certificate,
    /// TLS-PSK (psk_dhe_ke) with an external PSK.
    ExternalPsk { identity: Vec<u8>, psk: Vec<u8> },
}

/// The ClientHello as carried.
#[derive(Clone, Debug, PartialEq)]
pub struct HelloMsg {
    pub hello: Option<ClientHello>,
    /// Timing fidelity: the identity and a digest of the PSK stand in for the binder.
    pub psk_identity: Option<Vec<u8>>,
    psk_digest: Option<[u8; 32]>,
}

/// The server's flight as carried.
#[derive(Clone, Debug, PartialEq)]
pub struct FlightMsg {
    pub flight: Option<ServerFlight>,
    /// Certificate chain (leaf first) in certificate mode.
    pub chain: Vec<Certificate>,
    pub cert_verify: Option<[u8; 64]>,
}

/// The client's last flight as carried.
#[derive(Clone, Debug, PartialEq)]
pub struct FinishMsg {
    pub finished: Option<ClientFinished>,
    pub chain: Vec<Certificate>,
    pub cert_verify: Option<[u8; 64]>,
}

/// One TLS session's state on a connection.
#[derive(Default)]
pub struct Session {
    pub mode: TlsMode,
    client: Option<ClientHandshake>,
    server: Option<ServerHandshake>,
    randoms: [[u8; 32]; 2],
    /// Whether this handshake resumed an earlier session.
    pub resumed: bool,
    /// The client's and the server's secrets once each side completed (full and keys
    /// fidelity); equal on success.
    pub client_secrets: Option<Tls13Secrets>,
    pub server_secrets: Option<Tls13Secrets>,
}

impl Session {
    /// A session that will authenticate with `mode`.
    pub fn new(mode: TlsMode) -> Session {
        Session {
            mode,
            ..Session::default()
        }
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

/// A node's certificate identity.
#[derive(Clone, Debug)]
pub struct Identity {
    pub cert: Certificate,
    key: SigningKey,
}

/// A PSK held by a server for an identity.
#[derive(Clone, Debug)]
pub struct PskEntry {
    pub key: Vec<u8>,
    pub expires: Option<SimTime>,
}

/// A resumption ticket a client holds for a server.
#[derive(Clone, Debug)]
struct Ticket {
    id: Vec<u8>,
    psk: Vec<u8>,
}

/// Simulated CPU time, per node: work queues behind earlier work (one core per node).
#[derive(Clone, Debug)]
pub struct Cpu {
    free_at: Vec<SimTime>,
    classes: Vec<String>,
    pub costs: CostModel,
    /// Crypto operations charged so far, by kind.
    pub ops: BTreeMap<CryptoOp, u64>,
}

impl Cpu {
    /// Charges `ops` to `node` at `now`; returns the delay until the work is done.
    pub fn charge(&mut self, node: NodeId, now: SimTime, ops: &[(CryptoOp, u64)]) -> SimDuration {
        let class = &self.classes[node as usize];
        let mut work = SimDuration::ZERO;
        for &(op, n) in ops {
            work += self.costs.cost_n(class, op, n);
            *self.ops.entry(op).or_default() += n;
        }
        let start = now.max(self.free_at[node as usize]);
        let done = start + work;
        self.free_at[node as usize] = done;
        done - now
    }
}

/// The security setting of a network: PKI, PSK stores, fidelity, CPU costs.
pub struct Security {
    pub fidelity: CryptoFidelity,
    /// Deliberate bugs of the TLS stacks (tests only).
    pub mutants: crate::audit::mutant::Mutants,
    pub cpu: Cpu,
    identities: Vec<Identity>,
    pub anchors: Vec<Certificate>,
    pub revoked: RevocationList,
    psks: BTreeMap<(NodeId, Vec<u8>), PskEntry>,
    /// Server side resumption PSKs by (server, ticket).
    resumption: BTreeMap<(NodeId, Vec<u8>), Vec<u8>>,
    /// Client side tickets by (client, server).
    tickets: BTreeMap<(NodeId, NodeId), Ticket>,
    issued: u64,
    /// Resume sessions with tickets (default true).
    pub resume: bool,
    rngs: Vec<SimRng>,
    /// Name a node's peers expect in its certificate, where it is not the node's name (an
    /// API invoker after onboarding presents a certificate naming its API invoker ID).
    names: BTreeMap<NodeId, String>,
    /// Trust anchors a server checks one client's chains against instead of
    /// [`Security::anchors`], by (server, client) (an AEF trusts only the CCF CAs for the
    /// API invokers' certificates, TLS-PKI).
    client_anchors: BTreeMap<(NodeId, NodeId), Vec<Certificate>>,
}

/// A failed handshake, named by its TLS alert.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[error("tls alert {alert}: {reason}")]
pub struct TlsFailure {
    pub alert: &'static str,
    pub reason: String,
}

fn fail(alert: &'static str, reason: impl Into<String>) -> TlsFailure {
    TlsFailure {
        alert,
        reason: reason.into(),
    }
}

fn pki_role(role: NodeRole) -> pki::Role {
    match role {
        NodeRole::Sepp => pki::Role::Sepp,
        NodeRole::Ri | NodeRole::Proxy => pki::Role::Ri,
        NodeRole::Ccf => pki::Role::Ccf,
        NodeRole::Aef => pki::Role::Aef,
        NodeRole::Apf => pki::Role::Apf,
        NodeRole::Invoker => pki::Role::Invoker,
        NodeRole::Nf | NodeRole::Router => pki::Role::Nf,
    }
}

/// Certificates are valid for the whole run (ten years of simulated time) unless a scenario
/// says otherwise.
const VALIDITY: Validity = Validity {
    not_before_s: 0,
    not_after_s: 10 * 365 * 86_400,
};

impl Security {
    /// Builds one CA per domain (key from stream `ca:<domain>`) and one identity per node
    /// (key from `tls-key:<node>`); handshake randomness comes from `tls:<node>`.
    pub fn build(topo: &Topology, seed: u64, fidelity: CryptoFidelity, costs: CostModel) -> Result<Security, String> {
        let mut cas = Vec::new();
        for d in &topo.domains {
            let mut rng = stream(seed, &format!("ca:{}", d.name));
            let key = pki::key_from_rng(&mut rng);
            let subject = Subject::new(format!("ca.{}", d.name), pki::Role::Ca, d.name.clone());
            cas.push(Ca::new_root(key, subject, VALIDITY).map_err(|e| format!("ca {}: {e}", d.name))?);
        }
        let anchors = cas.iter().map(|c| c.certificate().clone()).collect();
        let mut identities = Vec::new();
        let mut rngs = Vec::new();
        let mut classes = Vec::new();
        for id in 0..topo.node_count() as NodeId {
            let node = topo.node(id);
            let ca = &mut cas[node.domain as usize];
            let mut rng = stream(seed, &format!("tls-key:{}", node.name));
            let subject = Subject::new(node.name.clone(), pki_role(node.role), topo.domain_of(id).name.clone());
            let (key, cert) = ca
                .issue_identity(&mut rng, &subject, VALIDITY)
                .map_err(|e| format!("identity {}: {e}", node.name))?;
            identities.push(Identity { cert, key });
            rngs.push(stream(seed, &format!("tls:{}", node.name)));
            classes.push(format!("{:?}", node.role));
        }
        Ok(Security {
            fidelity,
            mutants: crate::audit::mutant::Mutants::NONE,
            cpu: Cpu {
                free_at: vec![SimTime::ZERO; topo.node_count()],
                classes,
                costs,
                ops: BTreeMap::new(),
            },
            identities,
            anchors,
            revoked: RevocationList::new(),
            psks: BTreeMap::new(),
            resumption: BTreeMap::new(),
            tickets: BTreeMap::new(),
            issued: 0,
            resume: true,
            rngs,
            names: BTreeMap::new(),
            client_anchors: BTreeMap::new(),
        })
    }

    /// The certificate of a node.
    pub fn certificate(&self, node: NodeId) -> &Certificate {
        &self.identities[node as usize].cert
    }

    /// The public key of a node's identity.
    pub fn verifying_key(&self, node: NodeId) -> p256::ecdsa::VerifyingKey {
        *self.identities[node as usize].key.verifying_key()
    }

    /// Replaces a node's certificate (for the same key, e.g. one its CCF issued at
    /// onboarding); peers then expect the certificate's subject as the node's name.
    pub fn set_certificate(&mut self, node: NodeId, cert: Certificate) {
        self.names.insert(node, cert.subject.clone());
        self.identities[node as usize].cert = cert;
    }

    /// The name peers expect in `node`'s certificate (`topo_name` unless replaced).
    pub fn expected_name(&self, node: NodeId, topo_name: &str) -> String {
        self.names.get(&node).cloned().unwrap_or_else(|| topo_name.to_string())
    }

    /// Makes `server` check `client`'s chains against `anchors` only (`None`: the global
    /// ones).
    pub fn set_client_anchors(&mut self, server: NodeId, client: NodeId, anchors: Option<Vec<Certificate>>) {
        match anchors {
            Some(a) => self.client_anchors.insert((server, client), a),
            None => self.client_anchors.remove(&(server, client)),
        };
    }

    /// Installs (or replaces) a PSK at `server` for `identity`.
    pub fn install_psk(&mut self, server: NodeId, identity: Vec<u8>, entry: PskEntry) {
        self.psks.insert((server, identity), entry);
    }

    /// Removes a PSK.
    pub fn remove_psk(&mut self, server: NodeId, identity: &[u8]) {
        self.psks.remove(&(server, identity.to_vec()));
    }

    /// The PSK `server` holds for `identity`, if still valid at `now`.
    pub fn psk(&self, server: NodeId, identity: &[u8], now: SimTime) -> Option<&PskEntry> {
        self.psks
            .get(&(server, identity.to_vec()))
            .filter(|e| e.expires.is_none_or(|t| now < t))
    }

    fn ecdhe(&self) -> Ecdhe {
        if self.fidelity == CryptoFidelity::Full {
            Ecdhe::X25519
        } else {
            Ecdhe::Simulated
        }
    }

    fn sign_cv(&self, node: NodeId, label: &[u8], randoms: &[[u8; 32]; 2]) -> [u8; 64] {
        if self.fidelity != CryptoFidelity::Full {
            return [0; 64];
        }
        crate::crypto::backend::p256_sign(&self.identities[node as usize].key, &cv_input(label, randoms))
            .to_bytes()
            .into()
    }

    #[allow(clippy::too_many_arguments)]
    fn check_peer(
        &self,
        anchors: &[Certificate],
        chain: &[Certificate],
        cv: Option<&[u8; 64]>,
        label: &[u8],
        randoms: &[[u8; 32]; 2],
        expected_name: &str,
        now: SimTime,
    ) -> Result<(), TlsFailure> {
        let leaf = chain
            .first()
            .ok_or_else(|| fail("certificate_required", "no certificate"))?;
        if leaf.subject != expected_name {
            return Err(fail(
                "bad_certificate",
                format!("certificate names {}, expected {expected_name}", leaf.subject),
            ));
        }
        let now_s = now.as_nanos() / 1_000_000_000;
        if self.fidelity == CryptoFidelity::Full {
            pki::verify_chain(leaf, &chain[1..], anchors, now_s, &self.revoked)
                .map_err(|e| fail("bad_certificate", e.to_string()))?;
            let key = leaf
                .verifying_key()
                .map_err(|e| fail("bad_certificate", e.to_string()))?;
            let sig = cv
                .and_then(|b| Signature::from_slice(b).ok())
                .ok_or_else(|| fail("decrypt_error", "missing CertificateVerify"))?;
            if !crate::crypto::backend::p256_verify(&key, &cv_input(label, randoms), &sig) {
                return Err(fail("decrypt_error", "bad CertificateVerify"));
            }
        } else {
            leaf.check_validity(now_s)
                .map_err(|e| fail("certificate_expired", e.to_string()))?;
            if self.revoked.contains(leaf) {
                return Err(fail("certificate_revoked", "revoked"));
            }
            // Without signatures, trust is checked by name: the chain must end at an anchor.
            let top = chain.last().unwrap_or(leaf);
            if !anchors
                .iter()
                .any(|a| a.subject == top.issuer || a.subject == top.subject)
            {
                return Err(fail("unknown_ca", format!("issuer {} is not trusted", top.issuer)));
            }
        }
        Ok(())
    }

    /// Client: builds the ClientHello for a connection to `server`. Returns the message and
    /// the CPU delay.
    pub fn client_hello(
        &mut self,
        node: NodeId,
        server: NodeId,
        now: SimTime,
        s: &mut Session,
    ) -> Result<(HelloMsg, SimDuration), TlsFailure> {
        let ticket = match s.mode {
            TlsMode::Certificate if self.resume => self.tickets.get(&(node, server)).cloned(),
            _ => None,
        };
        s.resumed = ticket.is_some();
        let psk = matches!(s.mode, TlsMode::ExternalPsk { .. }) || s.resumed;
        let mut ops = vec![(CryptoOp::X25519Keygen, 1)];
        if psk {
            ops.push((CryptoOp::HkdfExtractExpand, 2));
            ops.push((CryptoOp::HmacSha256, 1));
        }
        let delay = self.cpu.charge(node, now, &ops);
        if self.fidelity == CryptoFidelity::Timing {
            let (psk_identity, psk_digest) = match (&s.mode, &ticket) {
                (_, Some(t)) => (Some(t.id.clone()), Some(Sha256::digest(&t.psk).into())),
                (TlsMode::ExternalPsk { identity, psk }, None) => {
                    (Some(identity.clone()), Some(Sha256::digest(psk).into()))
                }
                (TlsMode::Certificate, None) => (None, None),
            };
            return Ok((
                HelloMsg {
                    hello: None,
                    psk_identity,
                    psk_digest,
                },
                delay,
            ));
        }
        let mode = match (&s.mode, ticket) {
            (TlsMode::Certificate, Some(t)) => {
                let mut psk = [0u8; 32];
                psk.copy_from_slice(&t.psk);
                ClientMode::Resumption {
                    ticket: t.id,
                    psk,
                    dhe: true,
                }
            }
            (TlsMode::Certificate, None) => ClientMode::Full,
            (TlsMode::ExternalPsk { identity, psk }, _) => ClientMode::ExternalPsk {
                identity: identity.clone(),
                psk: psk.clone(),
                dhe: true,
            },
        };
        let ecdhe = self.ecdhe();
        let (hs, ch) = ClientHandshake::start_with(&mut self.rngs[node as usize], mode, ecdhe)
            .map_err(|e| fail(e.alert(), e.to_string()))?;
        s.randoms[0] = ch.random;
        s.client = Some(hs);
        let psk_identity = ch.psk.as_ref().map(|p| p.identity.clone());
        Ok((
            HelloMsg {
                hello: Some(ch),
                psk_identity,
                psk_digest: None,
            },
            delay,
        ))
    }

    /// Server: answers a ClientHello. Returns the flight and the CPU delay.
    pub fn server_respond(
        &mut self,
        node: NodeId,
        now: SimTime,
        s: &mut Session,
        hello: &HelloMsg,
    ) -> Result<(FlightMsg, SimDuration), TlsFailure> {
        let resumed = hello
            .psk_identity
            .as_ref()
            .and_then(|id| self.resumption.get(&(node, id.clone())).cloned());
        let kind = if resumed.is_some() {
            PskKind::Resumption
        } else {
            PskKind::External
        };
        let held = hello.psk_identity.as_ref().map(|id| {
            resumed
                .clone()
                .or_else(|| self.psk(node, id, now).map(|e| e.key.clone()))
        });
        let cert_mode = hello.psk_identity.is_none();
        s.resumed = resumed.is_some();
        let mut ops = vec![
            (CryptoOp::X25519Keygen, 1),
            (CryptoOp::X25519Dh, 1),
            (CryptoOp::Tls13KeySchedule, 1),
        ];
        if cert_mode {
            ops.push((CryptoOp::EcdsaSign, 1));
        } else {
            ops.push((CryptoOp::HmacSha256, 1));
        }
        let delay = self.cpu.charge(node, now, &ops);
        let mut flight = FlightMsg {
            flight: None,
            chain: Vec::new(),
            cert_verify: None,
        };
        match (&hello.hello, &held) {
            (_, Some(None)) => return Err(fail("unknown_psk_identity", "no valid psk for the identity")),
            (None, Some(Some(key))) => {
                // (The AefpskWrongLabel bug of the checker's tests: identity-only PSK check.)
                if hello.psk_digest != Some(Sha256::digest(key).into())
                    && !self.mutants.on(crate::audit::mutant::Mutant::Capif(
                        crate::audit::capif::CapifMutant::AefpskWrongLabel,
                    ))
                {
                    return Err(fail("decrypt_error", "psk binder mismatch"));
                }
            }
            (None, None) => {}
            (Some(ch), _) => {
                let psk = held.flatten().map(|secret| Psk { kind, secret });
                let ecdhe = self.ecdhe();
                let (hs, f) = ServerHandshake::respond_with(&mut self.rngs[node as usize], ch, |_| psk, ecdhe)
                    .map_err(|e| fail(e.alert(), e.to_string()))?;
                s.randoms = [ch.random, f.server_hello.random];
                flight.flight = Some(f);
                s.server = Some(hs);
            }
        }
        if cert_mode {
            flight.chain = vec![self.identities[node as usize].cert.clone()];
            flight.cert_verify = Some(self.sign_cv(node, b"server", &s.randoms));
        }
        Ok((flight, delay))
    }

    /// Client: checks the server's flight, returns its last flight and the CPU delay.
    pub fn client_finish(
        &mut self,
        node: NodeId,
        server: NodeId,
        server_name: &str,
        now: SimTime,
        s: &mut Session,
        flight: &FlightMsg,
    ) -> Result<(FinishMsg, SimDuration), TlsFailure> {
        let cert_mode = s.mode == TlsMode::Certificate && !s.resumed;
        let mut ops = vec![(CryptoOp::X25519Dh, 1), (CryptoOp::Tls13KeySchedule, 1)];
        if cert_mode {
            ops.push((CryptoOp::EcdsaVerify, 2 * flight.chain.len() as u64));
            ops.push((CryptoOp::EcdsaSign, 1));
        }
        let delay = self.cpu.charge(node, now, &ops);
        if let Some(f) = &flight.flight {
            s.randoms[1] = f.server_hello.random;
        }
        if cert_mode {
            self.check_peer(
                &self.anchors,
                &flight.chain,
                flight.cert_verify.as_ref(),
                b"server",
                &s.randoms,
                server_name,
                now,
            )?;
        }
        let mut fin = FinishMsg {
            finished: None,
            chain: Vec::new(),
            cert_verify: None,
        };
        if let (Some(hs), Some(f)) = (s.client.take(), &flight.flight) {
            let (cf, secrets) = hs.finish(f).map_err(|e| fail(e.alert(), e.to_string()))?;
            fin.finished = Some(cf);
            s.client_secrets = Some(secrets);
        }
        if cert_mode {
            fin.chain = vec![self.identities[node as usize].cert.clone()];
            fin.cert_verify = Some(self.sign_cv(node, b"client", &s.randoms));
        }
        if s.mode == TlsMode::Certificate && self.resume {
            self.issue_ticket(node, server, s);
        }
        Ok((fin, delay))
    }

    /// Gives the client a fresh ticket for `server` (and the server its PSK).
    fn issue_ticket(&mut self, client: NodeId, server: NodeId, s: &Session) {
        self.issued += 1;
        let nonce = self.issued.to_be_bytes();
        let psk = match &s.client_secrets {
            Some(secrets) => secrets.resumption_psk(&nonce).to_vec(),
            // Timing fidelity: no secrets; any value both ends agree on will do.
            None => Sha256::digest(nonce).to_vec(),
        };
        let id = format!("ticket-{}", self.issued).into_bytes();
        if let Some(old) = self.tickets.insert(
            (client, server),
            Ticket {
                id: id.clone(),
                psk: psk.clone(),
            },
        ) {
            self.resumption.remove(&(server, old.id));
        }
        self.resumption.insert((server, id), psk);
    }

    /// Server: checks the client's last flight; returns the CPU delay.
    pub fn server_finish(
        &mut self,
        node: NodeId,
        client: NodeId,
        client_name: &str,
        now: SimTime,
        s: &mut Session,
        fin: &FinishMsg,
    ) -> Result<SimDuration, TlsFailure> {
        let cert_mode = s.mode == TlsMode::Certificate && !s.resumed;
        let ops = if cert_mode {
            vec![(CryptoOp::EcdsaVerify, 2 * fin.chain.len() as u64)]
        } else {
            vec![]
        };
        let delay = self.cpu.charge(node, now, &ops);
        if cert_mode {
            let anchors = self.client_anchors.get(&(node, client)).unwrap_or(&self.anchors);
            self.check_peer(
                anchors,
                &fin.chain,
                fin.cert_verify.as_ref(),
                b"client",
                &s.randoms,
                client_name,
                now,
            )?;
        }
        if let (Some(hs), Some(cf)) = (s.server.take(), &fin.finished) {
            s.server_secrets = Some(hs.finish(cf).map_err(|e| fail(e.alert(), e.to_string()))?);
        }
        Ok(delay)
    }
}

fn cv_input(label: &[u8], randoms: &[[u8; 32]; 2]) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(b"secsim TLS 1.3 CertificateVerify ");
    h.update(label);
    h.update(randoms[0]);
    h.update(randoms[1]);
    h.finalize().to_vec()
}
