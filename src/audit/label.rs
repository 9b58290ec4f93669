//! Audit facts as a run writes them: the liveness keys each machine numbers for itself,
//! numbered for the run, and a CCF's facts labelled with the flow of the invoker they concern
//! (a CCF knows an API invoker ID, not the scenario's flow). Measurement only.

use std::collections::BTreeMap;

use super::capif::CapifAudit;
use super::{AuditEvent, ProcAudit};

/// The labels of one plane's audit facts.
#[derive(Clone, Debug, Default)]
pub struct Labeller {
    /// (machine, kind, its key) → the run's key.
    keys: BTreeMap<(u32, String, u64), u64>,
    next: u64,
    /// Each invoker's (flow, trust domain), by address (configuration).
    pub invokers: BTreeMap<u32, (String, String)>,
    /// API invoker ID → address, from the onboarding facts.
    ids: BTreeMap<String, u32>,
}

impl Labeller {
    /// Fact `ev` of the machine at `node`, as the run writes it.
    pub fn label(&mut self, node: u32, ev: AuditEvent) -> AuditEvent {
        match ev {
            AuditEvent::Proc(ProcAudit::Begin {
                kind,
                key,
                node: name,
                bound_ns,
            }) => {
                let run_key = self.next;
                self.next += 1;
                self.keys.insert((node, kind.clone(), key), run_key);
                AuditEvent::Proc(ProcAudit::Begin {
                    kind,
                    key: run_key,
                    node: name,
                    bound_ns,
                })
            }
            AuditEvent::Proc(ProcAudit::End { kind, key, outcome }) => {
                let key = self.keys.remove(&(node, kind.clone(), key)).unwrap_or(u64::MAX);
                AuditEvent::Proc(ProcAudit::End { kind, key, outcome })
            }
            AuditEvent::Capif(CapifAudit::Onboarded { ref invoker, .. }) => {
                self.ids.insert(invoker.clone(), node);
                ev
            }
            AuditEvent::Capif(CapifAudit::SecretSent(mut s)) => {
                let (at, id) = (s.about_node.take(), s.about.take());
                let at = at.or_else(|| id.and_then(|id| self.ids.get(&id).copied()));
                if let Some((flow, domain)) = at.and_then(|n| self.invokers.get(&n)) {
                    s.flow = flow.clone();
                    s.invoker_domain = domain.clone();
                }
                AuditEvent::Capif(CapifAudit::SecretSent(s))
            }
            ev => ev,
        }
    }
}
