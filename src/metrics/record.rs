//! One row per procedure run.

use serde::Serialize;

/// How a procedure ended.
#[derive(Clone, Copy, Debug, Eq, Ord, PartialEq, PartialOrd, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Completed with a 2xx answer.
    Ok,
    /// Completed with a 4xx/5xx answer.
    Error,
    /// A proxy refused the CONNECT.
    Refused,
    /// The links gave up (outage, loss beyond the retransmission budget).
    Unreachable,
    /// No answer before the procedure's timeout.
    Timeout,
    /// Began but had not ended when the run stopped (censored): `end_ns` is the stop time,
    /// so the latency column is the procedure's age. Counts as a failure in failure rates.
    Unfinished,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Refused => "refused",
            Outcome::Unreachable => "unreachable",
            Outcome::Timeout => "timeout",
            Outcome::Unfinished => "unfinished",
        }
    }

    /// The outcome [`Outcome::as_str`] names.
    pub fn parse(s: &str) -> Option<Outcome> {
        Some(match s {
            "ok" => Outcome::Ok,
            "error" => Outcome::Error,
            "refused" => Outcome::Refused,
            "unreachable" => Outcome::Unreachable,
            "timeout" => Outcome::Timeout,
            "unfinished" => Outcome::Unfinished,
            _ => return None,
        })
    }
}

/// One procedure run (for the HTTP workload: one request).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Record {
    /// The procedure, e.g. `http_request`.
    pub procedure: &'static str,
    /// The workload flow the procedure belongs to (its `name`), "" if it serves no one flow
    /// (a CCF's requests).
    pub flow: String,
    /// The alternative the procedure ran under, known when it began: the CAPIF security
    /// method, the recovery strategy, the exposed item; "" when the flow alone says it.
    /// Never the failure cause.
    pub variant: String,
    /// What a successful procedure settled on, when that is its point: the security
    /// capability an N32-c handshake agreed, the method a CAPIF negotiation selected; "" if
    /// none or not `ok`.
    pub result: String,
    /// Why it did not end `ok` (an N32-f error type, a ProblemDetails cause, a TLS alert),
    /// "" if none.
    pub cause: String,
    pub initiator: String,
    pub responder: String,
    /// The proxy tunnelled through, "" if none.
    pub via: String,
    pub start_ns: u64,
    pub end_ns: u64,
    /// How it ended.
    pub outcome: Outcome,
    /// HTTP status seen by the initiator (0 if none).
    pub status: u16,
    /// Whether the procedure waited for a new connection to be set up.
    pub new_connection: bool,
    /// Bytes of the procedure's own messages on the wire (both directions).
    pub bytes: u64,
    /// Request/response exchanges the procedure took (N32-c handshakes), 0 if not counted.
    pub round_trips: u32,
    /// Bytes added by message protection (N32-f PRINS: protected minus plain, both
    /// directions), 0 if none.
    pub overhead_bytes: u64,
}

impl Record {
    /// End minus start \[ms\].
    pub fn latency_ms(&self) -> f64 {
        (self.end_ns.saturating_sub(self.start_ns)) as f64 / 1e6
    }
}
