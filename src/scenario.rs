//! Scenario files: the RON schema ([`schema`]), loading with located errors ([`load`]),
//! the source locator behind them ([`locate`]) and the semantic checks ([`validate`]).
//!
//! Errors read `file:line:column: field.path: message (did you mean `name`?)`; see
//! [`load`] for the format and the struct-name rule (files start with `Topology(` or
//! `Experiment(`). A topology may also be written as a generator (`TopologyGenerator(`,
//! [`generate`]). `secsim validate <file>` is [`validate_path`]; `secsim schema` writes the
//! JSON Schemas of [`json_schema`].

pub mod examples;
pub mod generate;
pub mod json_schema;
pub mod load;
pub mod locate;
pub mod points;
pub mod schema;
pub mod shipped;
pub mod validate;
pub mod workload_gen;

pub use load::{
    ErrorKind, FileKind, INPUT_ERROR_EXIT_CODE, Scenario, ScenarioError, file_kind, load_experiment,
    load_experiment_source, load_topology, parse_experiment_str, parse_topology_str, topology_path_of, validate_path,
};
pub use schema::*;
