//! Loading scenario files. (Placeholder loader; replaced by the located-error loader.)

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::schema::{ExperimentFile, TopologyFile};

/// A loaded, validated experiment and its topology.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub experiment: ExperimentFile,
    pub topology: TopologyFile,
    pub experiment_path: PathBuf,
    pub topology_path: PathBuf,
    /// SHA-256 (hex) over both files' bytes: travels with every result.
    pub hash: String,
}

/// A scenario file that could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ScenarioError {
    pub path: String,
    pub message: String,
}

fn read(path: &Path) -> Result<String, ScenarioError> {
    std::fs::read_to_string(path).map_err(|e| ScenarioError {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

pub fn load_topology(path: &Path) -> Result<TopologyFile, ScenarioError> {
    let src = read(path)?;
    ron::from_str(&src).map_err(|e| ScenarioError {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

pub fn load_experiment(path: &Path) -> Result<Scenario, ScenarioError> {
    let src = read(path)?;
    let experiment: ExperimentFile = ron::from_str(&src).map_err(|e| ScenarioError {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    let topology_path = path
        .parent()
        .unwrap_or(Path::new("."))
        .join(&experiment.topology);
    let tsrc = read(&topology_path)?;
    let topology = load_topology(&topology_path)?;
    let mut h = Sha256::new();
    h.update(src.as_bytes());
    h.update(tsrc.as_bytes());
    Ok(Scenario {
        experiment,
        topology,
        experiment_path: path.to_path_buf(),
        topology_path,
        hash: hex::encode(h.finalize()),
    })
}
