//! Metric records and their outputs.
//!
//! - [`record`]: one [`Record`] per procedure (an HTTP request, later a handshake).
//! - [`csv`]: `records.csv` and `summary.csv` (units in column names).
//! - `parquet` (cargo feature `parquet`): `records.parquet`, the same rows with typed columns.
//! - [`plot`]: latency CDFs, breakdowns, timelines and tables as SVG and PNG.
//! - [`stats`]: quantiles and summaries.
//! - [`sequence`]: sequence charts of a run's message trace (Mermaid and SVG).
//! - [`trace_line`]: one message line of the trace (`trace.jsonl`), as written and read.

pub mod csv;
#[cfg(feature = "parquet")]
pub mod parquet;
pub mod plot;
pub mod record;
pub mod sequence;
pub mod stats;
pub mod trace_line;

pub use record::{Outcome, Record};
