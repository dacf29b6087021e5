//! A run's directory: what `faultline run` writes there (the manifest, JSON written through a
//! temporary file and a rename) and how `replay` and `report` find and load it again.

use crate::scenario::{self, Loaded, Overrides};
use anyhow::{anyhow, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What `run` records so that `replay` can do it again.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Manifest {
    pub faultline_version: String,
    pub scenario_name: String,
    /// The file given to `run`; a copy is kept as `scenario.ron` beside the manifest.
    pub scenario_file: String,
    /// FNV-1a 64 of the scenario's bytes.
    pub scenario_hash: String,
    pub seed: u64,
    /// Overrides given on the command line (null when not given).
    pub duration_override_ns: Option<u64>,
    pub max_events_override: Option<u64>,
    pub trace_hash: String,
    pub events: u64,
    pub stopped_by: Option<String>,
    pub wall_seconds: f64,
    /// The expanded fault schedule, one line per window, as the seed produced it.
    #[serde(default)]
    pub fault_schedule: Vec<String>,
    /// The scenario's variants, in file order, each with its own hash (empty when it has none;
    /// then `trace_hash` is the only run).
    #[serde(default)]
    pub variants: Vec<VariantRecord>,
}

/// One variant's run.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct VariantRecord {
    pub name: String,
    pub trace_hash: String,
    pub events: u64,
}

pub(super) fn load(file: &Path, overrides: &Overrides) -> Result<Loaded> {
    Ok(scenario::load_file(file, overrides)?)
}

/// `reports/<file name without .ron>`.
pub(super) fn default_out(file: &Path) -> PathBuf {
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".to_string());
    Path::new("reports").join(stem)
}

pub(super) fn to_json<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    let mut s = serde_json::to_vec_pretty(v)?;
    s.push(b'\n');
    Ok(s)
}

/// Writes through a temporary file and a rename, so a crash never leaves half a file.
pub(super) fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::sweep::store::write_atomic(path, bytes).map_err(|e| anyhow!(e.to_string()))
}

/// What `summary.json` holds: every figure of the run ([`crate::metrics::Summary`], read
/// back by `report` and `replay`) and, beside them, the analysis's verdicts
/// ([`crate::report::Analysis`], by the rules of docs/analysis.md).
#[derive(Serialize)]
pub struct SummaryFile<'a> {
    #[serde(flatten)]
    pub summary: &'a crate::metrics::Summary,
    pub analysis: crate::report::Analysis,
}

impl<'a> SummaryFile<'a> {
    pub fn new(summary: &'a crate::metrics::Summary, analysis: crate::report::Analysis) -> Self {
        SummaryFile { summary, analysis }
    }
}
