//! CAPIF interconnection (seed 002) between two CCF machines: when an invoker onboarded at
//! CCF-B uses an AEF registered at CCF-A, the CCF-to-CCF messages of
//! [`interconnection::plan`] for the flow's knobs run on the network as HTTP exchanges under
//! `/secsim-capif6e/v1/` (no 3GPP encoding exists yet): the method query before CCF-B answers
//! the Security Method Request, the lookups and security information request when the AEF
//! asks CCF-A (answered by CCF-B's procedure machine: its ServiceSecurity, AEFPSK included),
//! and the token messages for OAUTH.
//!
//! A CCF runs the exchanges of one phase as a *job* of steps, one after the other; each
//! request carries what its receiver needs to answer (the plan message's name and items, the
//! answer the plan expects, and the API invoker ID and AEF ID it concerns), so the receiver
//! answers from the message alone. CCF-A learns an invoker's home CCF from CCF-B's method
//! query (which carries the API invoker ID). Plan messages between the invoker or AEF and a
//! CCF that the machines do not send (discovery, AEF challenge, token re-authentication at
//! CCF-A) are counted in the exposure records but not put on the wire.

use serde_json::{Value, json};

use super::ccf::CcfNode;
use crate::audit::capif::CapifMutant;
use crate::audit::mutant::Mutant;
use crate::engine::SimTime;
use crate::metrics::Outcome;
use crate::net::{HttpRequest, HttpResponse, NodeId};
use crate::proto::capif::interconnection::{self, Item, Party, Plan, Scenario};
use crate::proto::capif::machines::{CcfInput, Output};
use crate::proto::capif::security_method::CAUSE_INVOKER_NOT_FOUND;
use crate::proto::capif::types::SecurityMethod;
use crate::proto::effect::{Corr, Inbound};

pub(crate) const CAPIF6E_PREFIX: &str = "/secsim-capif6e/v1/jobs/";
/// The plan message whose answer is CCF-B's procedure machine's security information.
const SECURITY_INFO_REQUEST: &str = "security information request";
/// The plan message from which CCF-A learns the invoker's home CCF.
const METHOD_QUERY: &str = "security method query";

/// One CCF-to-CCF exchange of a plan.
#[derive(Clone, Debug)]
pub(crate) struct Step {
    to: NodeId,
    name: &'static str,
    carries: Vec<Item>,
    reply: Option<(&'static str, Vec<Item>)>,
}

/// What happens when a job's steps are done.
#[derive(Clone, Debug)]
enum Then {
    /// Feed the deferred input to the procedure machine and answer the request at `at`.
    Feed {
        at: Inbound,
        client: NodeId,
        input: Box<CcfInput>,
        op: &'static str,
        /// The request's bytes on the wire (the `ccf_request` record's bytes).
        req_bytes: u32,
    },
    /// Answer the AEF's request at `at` with the last step's answer.
    Relay { at: Inbound, client: NodeId },
}

/// A phase's CCF-to-CCF exchanges, run by one CCF.
pub(crate) struct Job {
    pub(crate) steps: Vec<Step>,
    then: Then,
    last: Option<(u16, &'static str, String)>,
    /// The API invoker ID whose procedure it serves.
    invoker: String,
    /// The AEF ID it concerns (security information).
    aef_id: String,
    /// Lost in a CCF restart: its steps are not run and nobody is answered.
    pub(crate) dead: bool,
}

fn is_ccf(p: Party) -> bool {
    matches!(p, Party::CcfA | Party::CcfB | Party::OtherCcf(_))
}

fn labels(items: &[Item]) -> Vec<String> {
    items.iter().map(|c| format!("{c:?}")).collect()
}

impl CcfNode {
    /// The plan of a flow whose AEF is registered at `ccf_a`, for `method`.
    fn plan_for(&self, ccf_a: NodeId, method: SecurityMethod) -> Plan {
        let n_peer_ccfs = self.cfg.ccfs.iter().filter(|&&n| n != ccf_a).count().max(1) as u16;
        interconnection::plan(
            &self.cfg.interconnection,
            &Scenario {
                n_peer_ccfs,
                has_mapping: true,
                method,
                n_apis: 1,
                rnaa: false,
            },
        )
    }

    fn party_node(&self, (ccf_a, ccf_b): (NodeId, NodeId), p: Party) -> Option<NodeId> {
        match p {
            Party::CcfA => Some(ccf_a),
            Party::CcfB => Some(ccf_b),
            Party::OtherCcf(k) => self
                .cfg
                .ccfs
                .iter()
                .copied()
                .filter(|&n| n != ccf_a && n != ccf_b)
                .nth(k as usize),
            _ => None,
        }
    }

    /// CCF-to-CCF exchanges among the plan's messages in `range`, paired request/answer;
    /// parties without a node in the topology (more peer CCFs than exist) are skipped. Every
    /// step is sent by this CCF (the plans' phases start at it).
    fn steps_in(&self, plan: &Plan, parties: (NodeId, NodeId), range: std::ops::Range<usize>) -> Vec<Step> {
        let msgs = &plan.messages[range];
        let mut steps = Vec::new();
        let mut k = 0;
        while k < msgs.len() {
            let m = &msgs[k];
            if !(is_ccf(m.from) && is_ccf(m.to)) {
                k += 1;
                continue;
            }
            let reply = msgs
                .get(k + 1)
                .filter(|r| r.from == m.to && r.to == m.from)
                .map(|r| (r.name, r.carries.clone()));
            k += if reply.is_some() { 2 } else { 1 };
            let Some(to) = self.party_node(parties, m.to) else {
                continue;
            };
            if self.party_node(parties, m.from).is_none() {
                continue;
            }
            steps.push(Step {
                to,
                name: m.name,
                carries: m.carries.clone(),
                reply,
            });
        }
        steps
    }

    /// The exchanges after the first message named `after` up to the next message to the AEF
    /// or the invoker that closes the phase.
    fn steps_between(&self, plan: &Plan, parties: (NodeId, NodeId), after: &str) -> Vec<Step> {
        let Some(start) = plan.messages.iter().position(|m| m.name == after) else {
            return Vec::new();
        };
        let end = plan.messages[start + 1..]
            .iter()
            .position(|m| !is_ccf(m.from) || !is_ccf(m.to))
            .map_or(plan.messages.len(), |p| start + 1 + p);
        // The token phase also covers one-way key distribution (CCF-B -> CCF-A -> AEF).
        let end = if after == "AccessTokenReq" {
            plan.messages[start + 1..]
                .iter()
                .position(|m| m.to == Party::Invoker)
                .map_or(plan.messages.len(), |p| start + 1 + p)
        } else {
            end
        };
        self.steps_in(plan, parties, start + 1..end)
    }

    /// CCF-B: the Security Method Request of an invoker for an AEF registered at `home`
    /// (CCF-A) waits for the method query.
    pub(super) fn remote_negotiation(
        &mut self,
        now: SimTime,
        (at, client): (Inbound, NodeId),
        ccf_a: NodeId,
        (input, req_bytes): (CcfInput, u32),
    ) {
        let CcfInput::ObtainSecurityMethod { invoker, .. } = &input else {
            return;
        };
        let invoker = invoker.clone();
        let plan = self.plan_for(ccf_a, SecurityMethod::Psk);
        let end = plan
            .messages
            .iter()
            .position(|m| m.from == Party::CcfB && m.to == Party::Invoker && m.name == "ServiceSecurity")
            .unwrap_or(0);
        let steps = self.steps_in(&plan, (ccf_a, self.cfg.node), 0..end);
        let then = Then::Feed {
            at,
            client,
            input: Box::new(input),
            op: "negotiation",
            req_bytes,
        };
        self.start_job(now, steps, then, (invoker, String::new()));
    }

    /// CCF-B: the token request of an invoker for an AEF registered at `ccf_a`.
    pub(super) fn remote_token(
        &mut self,
        now: SimTime,
        (at, client): (Inbound, NodeId),
        ccf_a: NodeId,
        (invoker, input, req_bytes): (&str, CcfInput, u32),
    ) {
        let plan = self.plan_for(ccf_a, SecurityMethod::Oauth);
        let mut steps = self.steps_between(&plan, (ccf_a, self.cfg.node), "AccessTokenReq");
        if self.cfg.mutants.on(Mutant::Capif(CapifMutant::LeakOnboardingSecret)) {
            // The bug: the token request is relayed verbatim, onboarding secret included,
            // whatever the `oauth` alternative.
            steps.insert(
                0,
                Step {
                    to: ccf_a,
                    name: "AccessTokenReq (forwarded)",
                    carries: vec![Item::InvokerId, Item::OnboardingSecret],
                    reply: Some(("AccessTokenRsp", vec![Item::AccessToken])),
                },
            );
        }
        let then = Then::Feed {
            at,
            client,
            input: Box::new(input),
            op: "token",
            req_bytes,
        };
        self.start_job(now, steps, then, (invoker.to_string(), String::new()));
    }

    /// CCF-A: the AEF asks for the security information of an invoker of `ccf_b`.
    pub(super) fn relay_security_info(
        &mut self,
        now: SimTime,
        (at, client): (Inbound, NodeId),
        ccf_b: NodeId,
        (invoker, aef_id): (&str, &str),
    ) {
        // The request steps are those of PSK and PKI alike (CCF-B's answer differs).
        let plan = self.plan_for(self.cfg.node, SecurityMethod::Pki);
        let steps = self.steps_between(&plan, (self.cfg.node, ccf_b), "Obtain_API_Invoker_Info request");
        let then = Then::Relay { at, client };
        self.start_job(now, steps, then, (invoker.to_string(), aef_id.to_string()));
    }

    fn start_job(&mut self, now: SimTime, steps: Vec<Step>, then: Then, (invoker, aef_id): (String, String)) {
        let job = self.jobs.len() as u32;
        self.jobs.push(Job {
            steps,
            then,
            last: None,
            invoker,
            aef_id,
            dead: false,
        });
        self.run_step(now, job, 0);
    }

    fn run_step(&mut self, now: SimTime, job: u32, step: usize) {
        let j = &self.jobs[job as usize];
        if j.dead {
            return;
        }
        let Some(s) = j.steps.get(step).cloned() else {
            return self.finish_job(now, job);
        };
        let mut body = json!({"secsimInterconnection": s.name, "carries": labels(&s.carries)});
        if let Some((name, carries)) = &s.reply {
            body["reply"] = json!({"secsimInterconnection": name, "carries": labels(carries)});
        }
        if s.carries.contains(&Item::InvokerId) {
            body["apiInvokerId"] = json!(j.invoker);
        }
        if s.name == SECURITY_INFO_REQUEST {
            body["aefId"] = json!(j.aef_id);
        }
        let invoker = j.invoker.clone();
        let req = HttpRequest::new(
            "POST",
            format!("{CAPIF6E_PREFIX}{job}/steps/{step}"),
            "",
            body.to_string(),
        );
        let corr = self.request(s.to, req);
        self.steps.insert(corr, (job, step));
        self.audit_sent(Some(&invoker), s.to, (s.name, ""), &s.carries);
    }

    /// The answer to one of its steps (`None`: the peer CCF is unreachable or restarted, 504).
    pub(super) fn step_answered(&mut self, now: SimTime, corr: Corr, rsp: Option<HttpResponse>) {
        let Some((job, step)) = self.steps.remove(&corr) else {
            return; // a notification or revoke-authorization: the answer is not used
        };
        let j = &mut self.jobs[job as usize];
        if j.dead || step >= j.steps.len() {
            return; // lost in a CCF restart
        }
        let Some(rsp) = rsp else {
            let p = crate::proto::capif::onboarding::problem(504, "TARGET_CCF_NOT_REACHABLE");
            j.last = Some((504, "ProblemDetails", serde_json::to_string(&p).unwrap_or_default()));
            return self.finish_job(now, job);
        };
        let schema = if j.steps[step].name == SECURITY_INFO_REQUEST && rsp.status == 200 {
            "ServiceSecurity"
        } else if rsp.status >= 400 {
            "ProblemDetails"
        } else {
            ""
        };
        let failed = rsp.status >= 400;
        j.last = Some((rsp.status, schema, rsp.body));
        if failed {
            self.finish_job(now, job);
        } else {
            self.run_step(now, job, step + 1);
        }
    }

    /// A step of another CCF's job arrived: answered from the message alone.
    pub(super) fn step_at(&mut self, now: SimTime, at: Inbound, client: NodeId, req: &HttpRequest) {
        let Ok(body) = serde_json::from_str::<Value>(&req.body) else {
            return self.respond(at, HttpResponse::new(404, "", String::new()));
        };
        let name = body["secsimInterconnection"].as_str().unwrap_or_default().to_string();
        let invoker = body["apiInvokerId"].as_str().map(str::to_string);
        let reply: Option<(String, Vec<Item>)> = body.get("reply").map(|r| {
            let carries = serde_json::from_value(r["carries"].clone()).unwrap_or_default();
            (
                r["secsimInterconnection"].as_str().unwrap_or_default().to_string(),
                carries,
            )
        });
        if name == METHOD_QUERY
            && let Some(id) = &invoker
        {
            // CCF-A learns the invoker's home CCF from its query.
            self.homes.insert(id.clone(), client);
        }
        let (rsp, audit_reply) = match (name.as_str(), &invoker, body["aefId"].as_str(), &reply) {
            (SECURITY_INFO_REQUEST, Some(invoker), Some(aef_id), _) => {
                //= seed 002 6.X.3.1: CCF-B provides the security information (AEFPSK or root CA)
                let input = CcfInput::ObtainSecurityInfo {
                    invoker: invoker.clone(),
                    aef_id: aef_id.to_string(),
                };
                self.m.handle(now, &mut self.rng, input);
                let rsp = self
                    .m
                    .drain_outputs()
                    .into_iter()
                    .find_map(|o| match o {
                        Output::Send(m) => m
                            .status
                            .map(|st| HttpResponse::new(st, m.schema, super::json_body(&m.body))),
                        _ => None,
                    })
                    .unwrap_or(HttpResponse::new(500, "", String::new()));
                // What it carries follows the method this CCF selected.
                let method = self.m.selected(invoker, aef_id).cloned().unwrap_or(SecurityMethod::Pki);
                let ccf_a = client;
                let plan = self.plan_for(ccf_a, method);
                let carries = plan
                    .messages
                    .iter()
                    .position(|m| m.name == SECURITY_INFO_REQUEST)
                    .and_then(|k| plan.messages.get(k + 1))
                    .map(|m| (m.name.to_string(), m.carries.clone()));
                (rsp, carries)
            }
            (_, _, _, Some((rname, carries))) => {
                let rsp = HttpResponse::new(
                    200,
                    "",
                    json!({"secsimInterconnection": rname, "carries": labels(carries)}).to_string(),
                );
                (rsp, Some((rname.clone(), carries.clone())))
            }
            _ => (HttpResponse::new(204, "", String::new()), None),
        };
        let (name, carries) = audit_reply.unwrap_or((name, Vec::new()));
        let body = rsp.body.clone();
        self.audit_sent(invoker.as_deref(), client, (&name, &body), &carries);
        self.respond(at, rsp);
    }

    fn finish_job(&mut self, now: SimTime, job: u32) {
        let j = &mut self.jobs[job as usize];
        let last = j.last.take();
        // Steps are no longer needed once the job ends.
        j.steps.clear();
        if j.dead {
            return; // lost in a CCF restart: nobody waits for it
        }
        let invoker = j.invoker.clone();
        match j.then.clone() {
            Then::Feed {
                at,
                client,
                input,
                op,
                req_bytes,
            } => {
                if let Some((status, schema, body)) = last.filter(|l| l.0 >= 400) {
                    return self.respond(at, HttpResponse::new(status, schema, body));
                }
                self.feed(now, (at, client), (op, req_bytes), *input);
            }
            Then::Relay { at, client } => {
                let (status, schema, body) = last.unwrap_or_else(|| {
                    let p = crate::proto::capif::onboarding::problem(404, CAUSE_INVOKER_NOT_FOUND);
                    (404, "ProblemDetails", serde_json::to_string(&p).unwrap_or_default())
                });
                self.audit_sent(Some(&invoker), client, (schema, &body), &[]);
                let rsp = HttpResponse::new(status, schema, body);
                let outcome = if status < 400 { Outcome::Ok } else { Outcome::Error };
                let mut r = super::plane_record(
                    ("ccf_request", "security_info_relay".into()),
                    "",
                    (self.labels.name(client), &self.cfg.name),
                    (now, now),
                    (outcome, status, 1),
                );
                // The answer relayed to the AEF.
                r.bytes = u64::from(rsp.wire_bytes());
                self.fx.record(r);
                self.respond(at, rsp);
            }
        }
    }
}
