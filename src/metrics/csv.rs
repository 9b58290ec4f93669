//! CSV output: one row per record (long format: every column says what the row is), and a
//! per-(flow, procedure, variant) summary. Columns carry their units; the scenario hash and
//! the commit are in the manifest, once.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::record::{Outcome, Record};
use super::stats::{LogHistogram, mean_ci95, summarize, wilson95};

/// Quotes a field if it needs it (RFC 4180).
pub fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Says what run a row belongs to: the experiment's name and, in a sweep, the point's index
/// and axis values (one column each, named after the axis). The scenario hash and the git
/// commit are in `manifest.json` (and each point's `point.json`), once, not on every row.
#[derive(Clone, Debug, Default)]
pub struct RowContext {
    /// The values of the context columns of every row, comma-terminated.
    prefix: String,
    /// The matching header columns, comma-terminated.
    header: String,
}

impl RowContext {
    /// The rows of a run that is not part of a sweep: `experiment`.
    pub fn run(experiment: &str) -> RowContext {
        RowContext {
            prefix: format!("{},", field(experiment)),
            header: "experiment,".into(),
        }
    }

    /// The rows of sweep point `point` with its `(axis, value)` labels: `experiment`,
    /// `point`, then one column per axis.
    pub fn point(experiment: &str, point: usize, labels: &[(String, String)]) -> RowContext {
        let mut prefix = format!("{},{point},", field(experiment));
        let mut header = String::from("experiment,point,");
        for (axis, value) in labels {
            let _ = write!(prefix, "{},", field(value));
            let _ = write!(header, "{},", field(axis));
        }
        RowContext { prefix, header }
    }

    /// The context columns, comma-terminated, for a header.
    pub fn header(&self) -> &str {
        &self.header
    }

    /// The same columns' values, comma-terminated.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

/// The columns of `records.csv` after the [`RowContext`] ones. `latency_ms` is end minus
/// start; for an `unfinished` procedure the end is the time the run stopped, so it is its age.
/// `new_connection` is 0 or 1.
pub const RECORDS_COLUMNS: &str = "seed,flow,procedure,variant,outcome,result,cause,status,initiator,responder,via,start_ns,end_ns,latency_ms,new_connection,bytes,round_trips,overhead_bytes";

/// The header of a `records.csv` with the context columns of `ctx`.
pub fn records_header(ctx: &RowContext) -> String {
    format!("{}{RECORDS_COLUMNS}\n", ctx.header)
}

/// Appends the rows of one seed's records.
pub fn write_records(out: &mut String, ctx: &RowContext, seed: u64, records: &[Record]) {
    for r in records {
        let _ = writeln!(
            out,
            "{}{seed},{},{},{},{},{},{},{},{},{},{},{},{},{:.6},{},{},{},{}",
            ctx.prefix,
            field(&r.flow),
            r.procedure,
            field(&r.variant),
            r.outcome.as_str(),
            field(&r.result),
            field(&r.cause),
            r.status,
            field(&r.initiator),
            field(&r.responder),
            field(&r.via),
            r.start_ns,
            r.end_ns,
            r.latency_ms(),
            u8::from(r.new_connection),
            r.bytes,
            r.round_trips,
            r.overhead_bytes
        );
    }
}

/// The columns of `summary.csv` after the [`RowContext`] ones.
pub const SUMMARY_COLUMNS: &str = "flow,procedure,variant,seeds,count,ok,error,refused,unreachable,timeout,unfinished,latency_ms_mean,latency_ms_p50,latency_ms_p90,latency_ms_p99,latency_ms_min,latency_ms_max,latency_ms_mean_ci95_low,latency_ms_mean_ci95_high,failure_rate,failure_rate_ci95_low,failure_rate_ci95_high";

/// The header of a `summary.csv` with the context columns of `ctx`.
pub fn summary_header(ctx: &RowContext) -> String {
    format!("{}{SUMMARY_COLUMNS}\n", ctx.header)
}

/// Above this many successful samples in a group, quantiles come from a [`LogHistogram`]
/// (1% buckets) instead of sorting every sample.
pub const EXACT_QUANTILES_UP_TO: usize = 1_000_000;

/// One (flow, procedure, variant) group of a summary: outcome counts, latencies of the successful
/// runs (exact up to [`EXACT_QUANTILES_UP_TO`], then a histogram) and per-seed means.
#[derive(Default)]
pub struct Group {
    lat: Vec<f64>,
    hist: Option<LogHistogram>,
    outcomes: BTreeMap<Outcome, usize>,
    /// Per seed: (sum, count) of successful latencies.
    per_seed: BTreeMap<u64, (f64, usize)>,
}

/// The statistics columns of one group (from `latency_ms_mean` on), for `summary.csv` and
/// sweep summaries: mean, quantiles, min, max of the successful latencies; 95% interval of
/// the mean across seeds (Student t over per-seed means); failure rate (not `ok`) with its
/// Wilson 95% interval.
fn group_stats(g: &mut Group) -> String {
    g.stats()
}

impl Group {
    /// Adds one run of the procedure.
    pub fn add(&mut self, seed: u64, outcome: Outcome, latency_ms: f64) {
        add_sample(self, seed, outcome, latency_ms);
    }

    /// Runs by outcome.
    pub fn count(&self, o: Outcome) -> usize {
        self.outcomes.get(&o).copied().unwrap_or(0)
    }

    /// All runs.
    pub fn total(&self) -> usize {
        self.outcomes.values().sum()
    }

    /// The outcome counts as `count,ok,error,refused,unreachable,timeout,unfinished`.
    pub fn counts_csv(&self) -> String {
        format!(
            "{},{},{},{},{},{},{}",
            self.total(),
            self.count(Outcome::Ok),
            self.count(Outcome::Error),
            self.count(Outcome::Refused),
            self.count(Outcome::Unreachable),
            self.count(Outcome::Timeout),
            self.count(Outcome::Unfinished)
        )
    }

    /// The statistics columns (see [`SUMMARY_COLUMNS`], from `latency_ms_mean` on).
    pub fn stats(&mut self) -> String {
        let g = self;
        let s = match &g.hist {
            Some(h) => h.summary(),
            None => summarize(&mut g.lat),
        };
        let means: Vec<f64> = g.per_seed.values().map(|(sum, n)| sum / *n as f64).collect();
        let (_, lo, hi) = mean_ci95(&means);
        let total: usize = g.outcomes.values().sum();
        let ok = g.outcomes.get(&Outcome::Ok).copied().unwrap_or(0);
        let (rate, rlo, rhi) = wilson95((total - ok) as u64, total as u64);
        format!(
            "{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{lo:.6},{hi:.6},{rate:.6},{rlo:.6},{rhi:.6}",
            s.mean, s.p50, s.p90, s.p99, s.min, s.max
        )
    }
}

fn add(g: &mut Group, seed: u64, r: &Record) {
    add_sample(g, seed, r.outcome, r.latency_ms());
}

fn add_sample(g: &mut Group, seed: u64, outcome: Outcome, x: f64) {
    *g.outcomes.entry(outcome).or_default() += 1;
    if outcome == Outcome::Ok {
        match &mut g.hist {
            Some(h) => h.add(x),
            None if g.lat.len() >= EXACT_QUANTILES_UP_TO => {
                let mut h = LogHistogram::new();
                for v in g.lat.drain(..) {
                    h.add(v);
                }
                h.add(x);
                g.hist = Some(h);
            }
            None => g.lat.push(x),
        }
        let e = g.per_seed.entry(seed).or_default();
        e.0 += x;
        e.1 += 1;
    }
}

/// `summary.csv`: per (flow, procedure, variant) over all seeds: counts by outcome, latency
/// statistics of the successful ones with the 95% interval of the mean across seeds, and the
/// failure rate (every outcome but `ok`, `unfinished` included, over all outcomes of the
/// group) with its Wilson interval (see [`SUMMARY_COLUMNS`]).
pub fn summary(ctx: &RowContext, runs: &[(u64, &[Record])]) -> String {
    let mut groups: BTreeMap<(&str, &str, &str), Group> = BTreeMap::new();
    for (seed, records) in runs {
        for r in records.iter() {
            let key = (r.flow.as_str(), r.procedure, r.variant.as_str());
            add(groups.entry(key).or_default(), *seed, r);
        }
    }
    let mut out = summary_header(ctx);
    for ((flow, procedure, variant), mut g) in groups {
        let _ = writeln!(
            out,
            "{}{},{procedure},{},{},{},{}",
            ctx.prefix,
            field(flow),
            field(variant),
            runs.len(),
            g.counts_csv(),
            group_stats(&mut g)
        );
    }
    out
}

/// Header of `exposure.csv`.
pub const EXPOSURE_HEADER: &str = "item,from_domain,to_domain,flow,records\n";

/// `exposure.csv`: the `capif_exposure` records of all seeds counted per item, boundary
/// (the domain it left, the domain it entered) and flow, sorted by those columns. One record
/// stands for one item crossing one boundary when an invoker first authenticates with a
/// method, so `records` counts such crossings over all seeds.
pub fn exposure(runs: &[&[Record]]) -> String {
    let mut counts: BTreeMap<(&str, &str, &str, &str), u64> = BTreeMap::new();
    for r in runs
        .iter()
        .flat_map(|r| r.iter())
        .filter(|r| r.procedure == "capif_exposure")
    {
        *counts
            .entry((
                r.variant.as_str(),
                r.initiator.as_str(),
                r.responder.as_str(),
                r.flow.as_str(),
            ))
            .or_default() += 1;
    }
    let mut out = String::from(EXPOSURE_HEADER);
    for ((item, from, to, flow), n) in counts {
        let _ = writeln!(out, "{},{},{},{},{n}", field(item), field(from), field(to), field(flow));
    }
    out
}

/// Header of `capif_ccf_load.csv`.
pub const CCF_LOAD_HEADER: &str = "ccf,second,operation,requests\n";

/// `capif_ccf_load.csv`: the `ccf_request` records per CCF (responder), 1-second bin of the
/// time the CCF handled the request (`start_ns`) and operation (variant), summed over the
/// seeds and divided by their number (so `requests` is the mean requests per second of one
/// run). Bins without requests are left out; rows are sorted by CCF, second, operation.
pub fn ccf_load(runs: &[&[Record]]) -> String {
    let mut counts: BTreeMap<(&str, u64, &str), u64> = BTreeMap::new();
    for r in runs
        .iter()
        .flat_map(|r| r.iter())
        .filter(|r| r.procedure == "ccf_request")
    {
        *counts
            .entry((r.responder.as_str(), r.start_ns / 1_000_000_000, r.variant.as_str()))
            .or_default() += 1;
    }
    let seeds = runs.len().max(1) as f64;
    let mut out = String::from(CCF_LOAD_HEADER);
    for ((ccf, second, op), n) in counts {
        let _ = writeln!(out, "{},{second},{},{:.6}", field(ccf), field(op), n as f64 / seeds);
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

    fn rec(
        procedure: &'static str,
        variant: &str,
        initiator: &str,
        responder: &str,
        flow: &str,
        start_s: f64,
    ) -> Record {
        let start_ns = (start_s * 1e9) as u64;
        Record {
            procedure,
            flow: flow.to_string(),
            variant: variant.to_string(),
            result: String::new(),
            cause: String::new(),
            initiator: initiator.to_string(),
            responder: responder.to_string(),
            via: String::new(),
            start_ns,
            end_ns: start_ns + 1_000_000,
            outcome: Outcome::Ok,
            status: 200,
            new_connection: false,
            bytes: 0,
            round_trips: 0,
            overhead_bytes: 0,
        }
    }

    #[test]
    fn exposure_counts_records_per_item_boundary_and_flow_over_seeds() {
        let seed1 = vec![
            rec("capif_exposure", "InvokerId", "B", "A", "psk", 1.0),
            rec("capif_exposure", "Aefpsk", "A", "Invoker", "psk", 1.0),
            rec("capif_exposure", "InvokerId", "B", "A", "psk", 2.0),
            rec("capif_exposure", "InvokerId", "B", "A", "pki,x", 2.0),
            rec("capif_invocation", "PSK", "invoker-1", "aef", "psk", 2.0),
        ];
        let seed2 = vec![
            rec("capif_exposure", "InvokerId", "B", "A", "psk", 1.5),
            rec("capif_exposure", "CcfBId", "B", "A", "oauth", 1.5),
        ];
        let csv = exposure(&[&seed1, &seed2]);
        assert_eq!(
            csv,
            "item,from_domain,to_domain,flow,records\n\
             Aefpsk,A,Invoker,psk,1\n\
             CcfBId,B,A,oauth,1\n\
             InvokerId,B,A,\"pki,x\",1\n\
             InvokerId,B,A,psk,3\n"
        );
        assert_eq!(exposure(&[]), EXPOSURE_HEADER);
    }

    #[test]
    fn ccf_load_is_the_mean_per_seed_per_second() {
        let seed1 = vec![
            rec("ccf_request", "token", "invoker-1", "ccf-a", "", 0.2),
            rec("ccf_request", "token", "invoker-1", "ccf-a", "", 0.9),
            rec("ccf_request", "negotiation", "invoker-1", "ccf-a", "", 10.0),
            rec("ccf_request", "token", "invoker-1", "ccf-b", "", 2.5),
            rec("capif_invocation", "PSK", "invoker-1", "aef", "psk", 2.0),
        ];
        let seed2 = vec![rec("ccf_request", "token", "invoker-2", "ccf-a", "", 0.5)];
        assert_eq!(
            ccf_load(&[&seed1, &seed2]),
            "ccf,second,operation,requests\n\
             ccf-a,0,token,1.500000\n\
             ccf-a,10,negotiation,0.500000\n\
             ccf-b,2,token,0.500000\n"
        );
        assert_eq!(ccf_load(&[]), CCF_LOAD_HEADER);
    }
}
