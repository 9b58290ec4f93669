//! CSV output: one row per record, and a per-variant summary. Every row carries the seed,
//! the scenario hash and the git commit; columns carry their units.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::record::{Outcome, Record};
use super::stats::summarize;

/// Quotes a field if it needs it (RFC 4180).
pub fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Identifies the run a row belongs to.
#[derive(Clone, Debug)]
pub struct RowContext<'a> {
    pub scenario_hash: &'a str,
    pub commit: &'a str,
}

pub const RECORDS_HEADER: &str = "seed,scenario_hash,commit,procedure,variant,initiator,responder,via,start_ns,end_ns,latency_ms,outcome,status,new_connection,bytes,round_trips,overhead_bytes\n";

/// Appends the rows of one seed's records.
pub fn write_records(out: &mut String, ctx: &RowContext<'_>, seed: u64, records: &[Record]) {
    for r in records {
        let _ = writeln!(
            out,
            "{seed},{},{},{},{},{},{},{},{},{},{:.6},{},{},{},{},{},{}",
            ctx.scenario_hash,
            field(ctx.commit),
            r.procedure,
            field(&r.variant),
            field(&r.initiator),
            field(&r.responder),
            field(&r.via),
            r.start_ns,
            r.end_ns,
            r.latency_ms(),
            r.outcome.as_str(),
            r.status,
            r.new_connection,
            r.bytes,
            r.round_trips,
            r.overhead_bytes
        );
    }
}

/// `summary.csv`: per (procedure, variant) over all seeds: counts by outcome and latency
/// statistics of the successful ones.
pub fn summary(ctx: &RowContext<'_>, runs: &[(u64, Vec<Record>)]) -> String {
    type Group = (Vec<f64>, BTreeMap<Outcome, usize>);
    let mut groups: BTreeMap<(&str, &str), Group> = BTreeMap::new();
    for (_, records) in runs {
        for r in records {
            let g = groups.entry((r.procedure, r.variant.as_str())).or_default();
            *g.1.entry(r.outcome).or_default() += 1;
            if r.outcome == Outcome::Ok {
                g.0.push(r.latency_ms());
            }
        }
    }
    let mut out = String::from(
        "scenario_hash,commit,procedure,variant,seeds,count,ok,error,refused,unreachable,timeout,latency_ms_mean,latency_ms_p50,latency_ms_p90,latency_ms_p99,latency_ms_min,latency_ms_max\n",
    );
    for ((procedure, variant), (mut lat, outcomes)) in groups {
        let s = summarize(&mut lat);
        let n = |o| outcomes.get(&o).copied().unwrap_or(0);
        let total: usize = outcomes.values().sum();
        let _ = writeln!(
            out,
            "{},{},{procedure},{},{},{total},{},{},{},{},{},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6}",
            ctx.scenario_hash,
            field(ctx.commit),
            field(variant),
            runs.len(),
            n(Outcome::Ok),
            n(Outcome::Error),
            n(Outcome::Refused),
            n(Outcome::Unreachable),
            n(Outcome::Timeout),
            s.mean,
            s.p50,
            s.p90,
            s.p99,
            s.min,
            s.max
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_when_needed() {
        assert_eq!(field("a"), "a");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
