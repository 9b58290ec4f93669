//! JSON Schemas (draft 2020-12) of the experiment and topology file formats, for editors
//! (`secsim schema`), generated from the Rust types of [`schema`](super::schema) with
//! `schemars`, so they cannot drift from what the loader reads.
//!
//! # RON and JSON
//!
//! Scenario files are RON; a schema describes the JSON that serde makes of the same typed
//! value (what `serde_json` writes for a loaded [`ExperimentFile`] or [`TopologyFile`]). The
//! mapping, with serde's default (externally tagged) enum representation:
//!
//! | RON | JSON |
//! |---|---|
//! | `Experiment(name: "x", ...)`, `(name: "x", ...)` | `{"name": "x", ...}` (struct names are dropped) |
//! | `Plmn` (unit variant) | `"Plmn"` |
//! | `Poisson(rate_per_s: 1.0)` (struct variant) | `{"Poisson": {"rate_per_s": 1.0}}` |
//! | `Constant("20ms")` (newtype variant) | `{"Constant": "20ms"}` |
//! | `Http((client: "a", ...))` (newtype of a struct) | `{"Http": {"client": "a", ...}}` |
//! | `Some("3s")` / `None` | `"3s"` / `null` (or the field left out where it has a default) |
//! | `{"ri-1": (...)}` (map) | `{"ri-1": {...}}` |
//! | `"150ms"` (a duration) | `"150ms"` (a string with a unit, see [`DURATION_PATTERN`]) |
//!
//! Every struct refuses unknown fields (`additionalProperties: false`), as the loader does.
//! Fields with a default are optional; the default is given as `default`. A topology file is
//! either a `Topology` or a `TopologyGenerator` (`oneOf`). What a schema cannot say (node
//! names that exist, loss in `[0, 1)`, durations that fit) the loader still checks:
//! `secsim validate` is the final word.
//!
//! [`DURATION_PATTERN`]: crate::engine::time::DURATION_PATTERN

use schemars::generate::SchemaSettings;
use serde_json::{Value, json};

use super::schema::{ExperimentFile, TopologyFile, TopologyGenerator};

/// Which file format a schema describes.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum SchemaKind {
    /// `experiments/*.ron`: an [`ExperimentFile`].
    Experiment,
    /// `topologies/*.ron`: a [`TopologyFile`] or a [`TopologyGenerator`].
    Topology,
}

impl SchemaKind {
    /// Both kinds, experiment first.
    pub const ALL: [SchemaKind; 2] = [SchemaKind::Experiment, SchemaKind::Topology];

    /// `experiment` or `topology`.
    pub fn name(self) -> &'static str {
        match self {
            SchemaKind::Experiment => "experiment",
            SchemaKind::Topology => "topology",
        }
    }

    /// The file `secsim schema --out DIR` writes: `experiment.schema.json`,
    /// `topology.schema.json`.
    pub fn file_name(self) -> String {
        format!("{}.schema.json", self.name())
    }
}

/// The JSON Schema (draft 2020-12) of one file format.
pub fn json_schema(kind: SchemaKind) -> Value {
    let mut generator = SchemaSettings::draft2020_12().for_deserialize().into_generator();
    match kind {
        SchemaKind::Experiment => {
            let mut root = generator.root_schema_for::<ExperimentFile>().to_value();
            if let Some(obj) = root.as_object_mut() {
                obj.insert(
                    "title".into(),
                    json!("secsim experiment file (experiments/*.ron, as JSON)"),
                );
            }
            root
        }
        SchemaKind::Topology => {
            let topology = generator.subschema_for::<TopologyFile>().to_value();
            let topology_generator = generator.subschema_for::<TopologyGenerator>().to_value();
            let defs = generator.take_definitions(true);
            json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "title": "secsim topology file (topologies/*.ron, as JSON)",
                "description": "A topology (`Topology(...)` in RON) or a topology generator \
                                (`TopologyGenerator(...)`), expanded at load.",
                "oneOf": [topology, topology_generator],
                "$defs": Value::Object(defs),
            })
        }
    }
}

/// [`json_schema`] as pretty-printed JSON text with a final newline.
pub fn json_schema_text(kind: SchemaKind) -> String {
    let mut text = serde_json::to_string_pretty(&json_schema(kind)).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_are_deterministic_and_name_the_root_types() {
        for kind in SchemaKind::ALL {
            assert_eq!(json_schema_text(kind), json_schema_text(kind));
        }
        let e = json_schema(SchemaKind::Experiment);
        assert_eq!(e["additionalProperties"], json!(false));
        assert!(e["required"].as_array().is_some_and(|r| r.contains(&json!("workload"))));
        let t = json_schema(SchemaKind::Topology);
        assert_eq!(t["oneOf"].as_array().map(Vec::len), Some(2));
        assert!(t["$defs"].get("GeneratorKind").is_some());
        assert!(t["$defs"].get("SimDuration").is_some());
    }

    /// The duration pattern of the schemas accepts what `SimDuration::parse` accepts, and
    /// refuses what it refuses (range limits aside: "1e30h" passes the pattern).
    #[test]
    fn duration_pattern_agrees_with_the_parser() {
        use crate::engine::SimDuration;
        use crate::engine::time::DURATION_PATTERN;
        let re = regex::Regex::new(DURATION_PATTERN).unwrap();
        let accepted = [
            "150ms", "2.5s", " 40 us ", "1e3ms", "5e-3ms", "+5s", ".5s", "5.s", "7ns", "1m", "1min", "1h", "5µs", "0s",
        ];
        let refused = [
            "5",
            "-5ms",
            "5 parsecs",
            "ms",
            "1e",
            "1es",
            "inf s",
            "NaNs",
            "5msx",
            "1.2.3s",
            "1+2ms",
            "",
            "5 m s",
        ];
        for t in accepted {
            assert!(SimDuration::parse(t).is_ok(), "parser refuses {t:?}");
            assert!(re.is_match(t), "pattern refuses {t:?}");
        }
        for t in refused {
            assert!(SimDuration::parse(t).is_err(), "parser accepts {t:?}");
            assert!(!re.is_match(t), "pattern accepts {t:?}");
        }
    }
}
