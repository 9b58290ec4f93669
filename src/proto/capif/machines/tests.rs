use super::*;
use crate::crypto::jwt::RevocationSet;
use crate::crypto::pki::key_from_rng;
use crate::crypto::tls12;
use crate::proto::capif::onboarding::{enrolment_request, tests::service};
use crate::proto::capif::security_method::tests::{aef, iface};
use SecurityMethod::{Oauth, Pki, Psk};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeSet;

type Step = (InvokerState, fn(&mut World));
type Fired = (
    BTreeSet<(InvokerState, InvokerEvent)>,
    BTreeSet<(CcfState, CcfEvent)>,
    BTreeSet<(AefState, AefEvent)>,
);

struct World {
    now: SimTime,
    rng: ChaCha8Rng,
    inv: Invoker,
    ccf: Ccf,
    aef: Aef,
    session: Capif1eMaterial,
    secret_ok: bool,
    inv_key: [u8; 32],
    sent: Vec<Message>,
}

impl World {
    fn new(prefs: Vec<SecurityMethod>, expiry: ExpiryBehaviour) -> World {
        let mut rng = ChaCha8Rng::seed_from_u64(42);
        let s12 = tls12::handshake(
            &mut ChaCha8Rng::seed_from_u64(1),
            &mut ChaCha8Rng::seed_from_u64(2),
            true,
        )
        .unwrap();
        let session = Capif1eMaterial::Tls12(s12);
        let onboarding = service(&mut rng);
        let tokens = TokenEndpoint::new(key_from_rng(&mut rng), "ccf1", 600);
        let policy = AccessPolicy {
            apis: [("aef1".to_owned(), vec!["api1".to_owned()])].into(),
            psk_validity_s: 100,
            ..AccessPolicy::default()
        };
        let ccf_cfg = CcfConfig {
            aefs: vec![aef(vec![Psk, Pki, Oauth], None)],
            policy,
            variant: AefPskVariant::Tls12MasterSecret,
            encoding: ValidityEncoding::Remaining,
            mutants: crate::audit::mutant::Mutants::NONE,
        };
        let ccf = Ccf::new(ccf_cfg, onboarding, tokens);
        let aef_cfg = AefConfig {
            aef_id: "aef1".into(),
            ccf_anchors: vec![ccf.onboarding().ca_certificate().clone()],
            revoked_certs: RevocationList::new(),
            tokens: Some(TokenVerifier {
                ccf_key: ccf.token_key(),
                also_trusted: Vec::new(),
                issuer: Some("ccf1".into()),
                leeway_s: 0,
                revoked: RevocationSet::default(),
            }),
            expiry,
            mutants: crate::audit::mutant::Mutants::NONE,
        };
        let inv_signing = key_from_rng(&mut rng);
        let inv = Invoker::new(InvokerConfig {
            enrolment: enrolment_request(inv_signing.verifying_key(), Some("s".into()), "https://inv/cb".into()),
            target: SecurityTarget::InterfaceDetails(iface(None)),
            interface: iface(None),
            prefs,
            variant: AefPskVariant::Tls12MasterSecret,
            capif1e: session.clone(),
            response_timeout: SimDuration::from_secs(5),
        });
        World {
            now: SimTime::ZERO,
            rng,
            inv,
            ccf,
            aef: Aef::new(aef_cfg),
            session,
            secret_ok: true,
            inv_key: [0; 32],
            sent: Vec::new(),
        }
    }

    fn id(&self) -> String {
        self.inv.api_invoker_id().unwrap_or_default().to_owned()
    }

    fn inv(&mut self, input: InvokerInput) {
        let (now, rng) = (self.now, &mut self.rng);
        self.inv.handle(now, rng, input);
    }
    fn aef_in(&mut self, input: AefInput) {
        let (now, rng) = (self.now, &mut self.rng);
        self.aef.handle(now, rng, input);
    }
    fn ccf_in(&mut self, input: CcfInput) {
        let (now, rng) = (self.now, &mut self.rng);
        self.ccf.handle(now, rng, input);
    }

    /// Delivers every message until quiet (bounded).
    fn pump(&mut self) {
        for _ in 0..64 {
            let mut quiet = true;
            for o in self.inv.drain_outputs() {
                quiet = false;
                match o {
                    Output::Send(m) => {
                        self.sent.push(m.clone());
                        match m.to {
                            Peer::Ccf if m.path.ends_with("onboardedInvokers") => {
                                let req = serde_json::from_value(m.body).unwrap();
                                let secret_ok = self.secret_ok;
                                self.ccf_in(CcfInput::Onboard { req, secret_ok });
                            }
                            Peer::Ccf if m.path.ends_with("/token") => {
                                let req = AccessTokenReq::from_form(m.body.as_str().unwrap()).unwrap();
                                self.ccf_in(CcfInput::ObtainToken { req });
                            }
                            Peer::Ccf => {
                                let body = serde_json::from_value(m.body).unwrap();
                                let input = CcfInput::ObtainSecurityMethod {
                                    invoker: self.id(),
                                    body,
                                    update: m.method == "POST",
                                    session: Some(self.session.clone()),
                                };
                                self.ccf_in(input);
                            }
                            Peer::Aef if m.path.ends_with("check-authentication") => {
                                let req = serde_json::from_value(m.body).unwrap();
                                self.aef_in(AefInput::CheckAuthentication { req });
                            }
                            Peer::Aef => {
                                let token = m
                                    .authorization
                                    .as_deref()
                                    .map(|b| b.trim_start_matches("Bearer ").to_owned());
                                // `/<API name>/v1/{scsAsId}/subscriptions` (TS 29.122 5.3.2)
                                let (api, scs_as_id) =
                                    crate::proto::payload::parse_subscriptions_path(&m.path).unwrap();
                                assert_eq!(scs_as_id, self.id(), "the SCS/AS ID is the API invoker ID");
                                let api = api.to_owned();
                                let invoker = self.id();
                                self.aef_in(AefInput::Invoke { invoker, api, token });
                            }
                            Peer::Invoker => unreachable!(),
                        }
                    }
                    Output::StartTls { method, psk } => {
                        let credential = match method {
                            Psk => Credential::Psk(psk.unwrap().1),
                            Pki => {
                                Credential::Certificate(Box::new(self.ccf.onboarding().onboarded()[&self.id()].clone()))
                            }
                            _ => Credential::ServerAuthOnly,
                        };
                        if let Credential::Psk(k) = credential {
                            self.inv_key = k;
                        }
                        let invoker = self.id();
                        self.aef_in(AefInput::Handshake { invoker, credential });
                        let up = self.aef.state(&self.id()) == AefState::Authenticated;
                        self.inv(if up {
                            InvokerInput::TlsEstablished
                        } else {
                            InvokerInput::TlsFailed
                        });
                    }
                    _ => {}
                }
            }
            for o in self.ccf.drain_outputs().into_iter().chain(self.aef.drain_outputs()) {
                let Output::Send(m) = o else { continue };
                quiet = false;
                self.sent.push(m.clone());
                match (m.to, m.status) {
                    (Peer::Invoker, Some(status)) => self.inv(InvokerInput::Response { status, body: m.body }),
                    (Peer::Ccf, None) => {
                        let (invoker, aef_id) = (self.id(), "aef1".to_owned());
                        self.ccf_in(CcfInput::ObtainSecurityInfo { invoker, aef_id });
                    }
                    (Peer::Aef, Some(status)) => {
                        let invoker = self.id();
                        self.aef_in(AefInput::SecurityInfoResponse {
                            invoker,
                            status,
                            body: m.body,
                        });
                    }
                    _ => {}
                }
            }
            if quiet {
                return;
            }
        }
        panic!("pump did not settle");
    }

    fn drive_to(&mut self, target: InvokerState) {
        use InvokerState as S;
        let steps: [Step; 7] = [
            (S::Onboarding, |w| w.inv(InvokerInput::Start)),
            (S::Onboarded, |w| w.pump()),
            (S::Negotiating, |w| w.inv(InvokerInput::Start)),
            (S::MethodSelected, |w| w.pump()),
            (S::Authenticating, |w| w.inv(InvokerInput::Authenticate)),
            (S::Authenticated, |w| w.pump()),
            (S::Invoking, |w| w.inv(InvokerInput::Invoke { api: "api1".into() })),
        ];
        for (state, step) in steps {
            if self.inv.state() == target {
                return;
            }
            step(self);
            assert_eq!(self.inv.state(), state);
        }
    }
}

#[test]
fn psk_end_to_end_same_key_and_authorization() {
    let mut w = World::new(vec![Psk], ExpiryBehaviour::BlockNewHandshakes);
    w.drive_to(InvokerState::Authenticated);
    let id = w.id();
    assert_eq!(w.inv.method(), Some(&Psk));
    let k = w.inv.aefpsk().unwrap().clone();
    assert_eq!(w.aef.psk().entry(&id).unwrap().key, k.key);
    assert_eq!(w.inv_key, k.key);
    assert_eq!(w.aef.state(&id), AefState::Authenticated);
    assert_eq!(w.ccf.record(&id), CcfState::Trusted);
    w.inv(InvokerInput::Invoke { api: "api1".into() });
    w.pump();
    assert_eq!(w.sent.last().unwrap().status, Some(200));
    w.inv(InvokerInput::Invoke { api: "api2".into() });
    w.pump();
    assert_eq!(w.sent.last().unwrap().status, Some(403));
    check_bodies(&w.sent);
}

/// Every body: JSON with the OpenAPI names, round trip through the types.rs schema.
fn check_bodies(sent: &[Message]) {
    for m in sent {
        match m.schema {
            "ServiceSecurity" => {
                let b: ServiceSecurity = serde_json::from_value(m.body.clone()).unwrap();
                assert_eq!(json(&b), m.body);
                assert!(m.body.get("securityInfo").is_some());
            }
            "APIInvokerEnrolmentDetails" => {
                let b: ApiInvokerEnrolmentDetails = serde_json::from_value(m.body.clone()).unwrap();
                assert_eq!(json(&b), m.body);
                assert!(m.body.get("onboardingInformation").is_some());
            }
            "CheckAuthenticationReq" => {
                let b: CheckAuthenticationReq = serde_json::from_value(m.body.clone()).unwrap();
                assert_eq!(json(&b), m.body);
                assert!(m.body.get("apiInvokerId").is_some());
            }
            "CheckAuthenticationRsp" => {
                let b: crate::proto::capif::types::CheckAuthenticationRsp =
                    serde_json::from_value(m.body.clone()).unwrap();
                assert_eq!(json(&b), m.body);
            }
            "ProblemDetails" => {
                let b: ProblemDetails29122 = serde_json::from_value(m.body.clone()).unwrap();
                assert_eq!(json(&b), m.body);
            }
            "MonitoringEventSubscription" => {
                let b: crate::proto::payload::MonitoringEventSubscription =
                    serde_json::from_value(m.body.clone()).unwrap();
                assert_eq!(json(&b), m.body);
                assert!(m.body.get("notificationDestination").is_some());
            }
            "AccessTokenReq" => {
                let form = m.body.as_str().unwrap();
                assert_eq!(AccessTokenReq::from_form(form).unwrap().to_form(), form);
                assert!(form.contains("grant_type=client_credentials"));
            }
            "AccessTokenRsp" => {
                let b: AccessTokenRsp = serde_json::from_value(m.body.clone()).unwrap();
                assert_eq!(json(&b), m.body);
                assert!(m.body.get("access_token").is_some());
            }
            "AccessTokenErr" => {
                let b: crate::proto::capif::types::AccessTokenErr = serde_json::from_value(m.body.clone()).unwrap();
                assert_eq!(json(&b), m.body);
            }
            "" => {}
            other => panic!("unchecked schema {other}"),
        }
    }
}

#[test]
fn psk_expired_key_refuses_new_sessions() {
    for expiry in [ExpiryBehaviour::BlockNewHandshakes, ExpiryBehaviour::CloseSessions] {
        let mut w = World::new(vec![Psk], expiry);
        w.drive_to(InvokerState::Authenticated);
        let id = w.id();
        w.now += SimDuration::from_secs(100);
        w.aef_in(AefInput::KeyExpired { invoker: id.clone() });
        let want = match expiry {
            ExpiryBehaviour::BlockNewHandshakes => AefState::SessionOnly,
            ExpiryBehaviour::CloseSessions => AefState::NoKey,
        };
        assert_eq!(w.aef.state(&id), want);
        let key = w.inv_key;
        w.aef_in(AefInput::Handshake {
            invoker: id.clone(),
            credential: Credential::Psk(key),
        });
        assert_ne!(w.aef.state(&id), AefState::Authenticated, "no session after expiry");
        // a new check-authentication finds no key at the CCF either
        let req = CheckAuthenticationReq {
            api_invoker_id: id.clone(),
            supported_features: SupportedFeatures::none(),
        };
        w.aef_in(AefInput::CheckAuthentication { req });
        w.pump();
        assert_eq!(w.aef.state(&id), AefState::NoKey);
        w.inv(InvokerInput::KeyExpired);
        assert_eq!(w.inv.state(), InvokerState::Onboarded);
    }
}

#[test]
fn pki_and_oauth_end_to_end() {
    for m in [Pki, Oauth] {
        let mut w = World::new(vec![m.clone()], ExpiryBehaviour::BlockNewHandshakes);
        w.drive_to(InvokerState::Authenticated);
        assert_eq!(w.inv.method(), Some(&m));
        w.inv(InvokerInput::Invoke { api: "api1".into() });
        w.pump();
        assert_eq!(w.sent.last().unwrap().status, Some(200), "{m:?}");
        check_bodies(&w.sent);
    }
    // a revoked token is refused
    let mut w = World::new(vec![Oauth], ExpiryBehaviour::BlockNewHandshakes);
    w.drive_to(InvokerState::Authenticated);
    let tok = w.inv.token().unwrap().access_token.clone();
    let id = w.id();
    w.aef.cfg.tokens.as_mut().unwrap().revoked.client_ids.insert(id);
    w.inv(InvokerInput::Invoke { api: "api1".into() });
    w.pump();
    assert_eq!(w.sent.last().unwrap().status, Some(401));
    // an expired one too
    w.aef.cfg.tokens.as_mut().unwrap().revoked = RevocationSet::default();
    w.now += SimDuration::from_secs(600);
    let (id, t) = (w.id(), Some(tok));
    w.aef_in(AefInput::Invoke {
        invoker: id,
        api: "api1".into(),
        token: t,
    });
    let out = w.aef.drain_outputs();
    assert!(matches!(&out[0], Output::Send(m) if m.status == Some(401)));
}

/// Scenarios that, together, fire every row of the three tables.
fn run_all_scenarios() -> Fired {
    let (mut fi, mut fc, mut fa) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    let mut collect = |w: &World| {
        fi.extend(w.inv.fired().iter().copied());
        fc.extend(w.ccf.fired().iter().copied());
        fa.extend(w.aef.fired().iter().copied());
    };
    // every invoker row from a world driven to its `from` state
    for row in INVOKER_TRANSITIONS {
        let mut w = World::new(vec![Psk], ExpiryBehaviour::BlockNewHandshakes);
        w.drive_to(row.from);
        use InvokerEvent as E;
        match row.event {
            E::Start => w.inv(InvokerInput::Start),
            E::OnboardAccepted | E::MethodChosen | E::InvokeAnswered => w.pump(),
            E::AuthReady => w.inv(InvokerInput::Response {
                status: 200,
                body: serde_json::json!({"supportedFeatures": ""}),
            }),
            E::Authenticate => w.inv(InvokerInput::Authenticate),
            E::TlsEstablished => w.inv(InvokerInput::TlsEstablished),
            E::Invoke => w.inv(InvokerInput::Invoke { api: "api1".into() }),
            E::Rejected if matches!(row.from, InvokerState::Authenticated | InvokerState::Invoking) => {
                w.inv(InvokerInput::TlsFailed)
            }
            E::Rejected => w.inv(InvokerInput::Response {
                status: 403,
                body: serde_json::Value::Null,
            }),
            E::Timeout => w.inv(InvokerInput::Timeout),
            E::KeyExpired => w.inv(InvokerInput::KeyExpired),
            E::Renegotiate => w.inv(InvokerInput::Renegotiate { session: None }),
            E::SessionClosed => w.inv(InvokerInput::SessionClosed),
        }
        assert_eq!(w.inv.state(), row.to, "invoker {} x {:?}", row.from, row.event);
        if row.event == E::Renegotiate {
            w.pump(); // CCF: update
            assert_eq!(w.inv.state(), InvokerState::MethodSelected);
        }
        collect(&w);
    }
    // AEF and CCF: PSK with expiry (both behaviours), revoke, re-negotiate
    for expiry in [ExpiryBehaviour::BlockNewHandshakes, ExpiryBehaviour::CloseSessions] {
        let mut w = World::new(vec![Psk], expiry);
        w.drive_to(InvokerState::Authenticated);
        let id = w.id();
        let req = CheckAuthenticationReq {
            api_invoker_id: id.clone(),
            supported_features: SupportedFeatures::none(),
        };
        w.aef_in(AefInput::CheckAuthentication { req: req.clone() }); // Authenticated x Check
        let key = w.inv_key;
        w.aef_in(AefInput::Handshake {
            invoker: id.clone(),
            credential: Credential::Psk(key),
        });
        w.now += SimDuration::from_secs(100);
        w.aef_in(AefInput::KeyExpired { invoker: id.clone() });
        w.inv(InvokerInput::Invoke { api: "api1".into() });
        w.pump(); // SessionOnly x Invoke (BlockNewHandshakes)
        w.aef_in(AefInput::CheckAuthentication { req: req.clone() });
        w.pump(); // SessionOnly x Check, then FetchFailed
        collect(&w);
    }
    let mut w = World::new(vec![Psk], ExpiryBehaviour::BlockNewHandshakes);
    w.drive_to(InvokerState::MethodSelected);
    let id = w.id();
    let req = CheckAuthenticationReq {
        api_invoker_id: id.clone(),
        supported_features: SupportedFeatures::none(),
    };
    w.aef_in(AefInput::CheckAuthentication { req: req.clone() });
    w.pump(); // KeyValid
    w.aef_in(AefInput::CheckAuthentication { req: req.clone() }); // KeyValid x Check
    w.aef_in(AefInput::Revoke { invoker: id.clone() }); // KeyValid x Revoke
    w.aef_in(AefInput::Revoke { invoker: id.clone() }); // NoKey x Revoke (below the table)
    w.aef_in(AefInput::CheckAuthentication { req: req.clone() });
    w.aef_in(AefInput::Revoke { invoker: id.clone() }); // FetchingKey x Revoke (below the table)
    w.pump(); // the answer to the fetch sent before the revocation is discarded
    assert_eq!(w.aef.state(&id), AefState::NoKey);
    w.aef_in(AefInput::CheckAuthentication { req: req.clone() });
    w.pump();
    w.now += SimDuration::from_secs(100);
    w.aef_in(AefInput::KeyExpired { invoker: id.clone() }); // KeyValid x KeyExpired
    w.inv(InvokerInput::Renegotiate { session: None });
    w.pump(); // CCF Trusted x Update
    w.inv(InvokerInput::Authenticate);
    w.pump();
    w.aef_in(AefInput::Revoke { invoker: id.clone() }); // Authenticated x Revoke
    w.ccf_in(CcfInput::Revoke { invoker: id.clone() });
    let body = security_method_request(&[(SecurityTarget::AefId("aef1".into()), vec![Psk])], "x");
    for _ in 0..2 {
        let s = Some(w.session.clone());
        w.ccf_in(CcfInput::ObtainSecurityMethod {
            invoker: id.clone(),
            body: body.clone(),
            update: false,
            session: s,
        });
    }
    collect(&w);
    // SessionOnly x Revoke
    let mut w = World::new(vec![Psk], ExpiryBehaviour::BlockNewHandshakes);
    w.drive_to(InvokerState::Authenticated);
    let id = w.id();
    w.now += SimDuration::from_secs(100);
    w.aef_in(AefInput::KeyExpired { invoker: id.clone() });
    w.aef_in(AefInput::Revoke { invoker: id });
    collect(&w);
    // SessionOnly x Handshake: an OAUTH session after the AEFPSK expired (issue 12)
    let mut w = World::new(vec![Psk], ExpiryBehaviour::BlockNewHandshakes);
    w.drive_to(InvokerState::Authenticated);
    let id = w.id();
    w.now += SimDuration::from_secs(100);
    w.aef_in(AefInput::KeyExpired { invoker: id.clone() });
    assert_eq!(w.aef.state(&id), AefState::SessionOnly);
    w.aef_in(AefInput::Handshake {
        invoker: id.clone(),
        credential: Credential::ServerAuthOnly,
    });
    assert_eq!(w.aef.state(&id), AefState::Authenticated);
    collect(&w);
    // OAUTH: token and NoKey x Handshake
    let mut w = World::new(vec![Oauth], ExpiryBehaviour::BlockNewHandshakes);
    w.drive_to(InvokerState::Authenticated);
    collect(&w);
    (fi, fc, fa)
}

#[test]
fn every_row_is_driven() {
    let (fi, fc, fa) = run_all_scenarios();
    for r in INVOKER_TRANSITIONS {
        assert!(
            fi.contains(&(r.from, r.event)),
            "invoker row {} x {:?} not driven",
            r.from,
            r.event
        );
    }
    for r in CCF_TRANSITIONS {
        assert!(
            fc.contains(&(r.from, r.event)),
            "ccf row {} x {:?} not driven",
            r.from,
            r.event
        );
    }
    for r in AEF_TRANSITIONS {
        assert!(
            fa.contains(&(r.from, r.event)),
            "aef row {} x {:?} not driven",
            r.from,
            r.event
        );
    }
}

#[test]
fn refusals_keep_state() {
    let mut w = World::new(vec![Psk], ExpiryBehaviour::BlockNewHandshakes);
    w.secret_ok = false;
    w.inv(InvokerInput::Start);
    w.pump();
    assert_eq!(w.inv.state(), InvokerState::Unonboarded);
    let mut w = World::new(
        vec![SecurityMethod::Other("X".into())],
        ExpiryBehaviour::BlockNewHandshakes,
    );
    w.drive_to(InvokerState::Negotiating);
    w.pump();
    assert_eq!(w.inv.state(), InvokerState::Onboarded);
    assert_eq!(w.ccf.record(&w.id()), CcfState::Onboarded);
    assert_eq!(w.sent.last().unwrap().status, Some(403));
}

#[test]
fn table_snapshots() {
    crate::proto::snapshot::check(
        "capif_invoker.txt",
        &render_table("capif_invoker", InvokerState::ALL, INVOKER_TRANSITIONS),
    );
    crate::proto::snapshot::check(
        "capif_ccf.txt",
        &render_table("capif_ccf", CcfState::ALL, CCF_TRANSITIONS),
    );
    crate::proto::snapshot::check(
        "capif_aef.txt",
        &render_table("capif_aef", AefState::ALL, AEF_TRANSITIONS),
    );
}

#[test]
fn tables_have_unique_pairs() {
    fn unique<S: Copy + Eq + fmt::Debug, E: Copy + Eq + fmt::Debug>(t: &[Transition<S, E>]) {
        for (k, a) in t.iter().enumerate() {
            assert!(
                !t[k + 1..].iter().any(|b| a.from == b.from && a.event == b.event),
                "{a:?} twice"
            );
        }
    }
    unique(INVOKER_TRANSITIONS);
    unique(CCF_TRANSITIONS);
    unique(AEF_TRANSITIONS);
}
