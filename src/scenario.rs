//! Scenario files: the RON schema ([`schema`]), loading with located errors ([`load`]) and
//! validation at load time.

pub mod load;
pub mod schema;

pub use load::{Scenario, ScenarioError, load_experiment, load_topology, validate_path};
pub use schema::*;
