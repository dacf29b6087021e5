//! A run's directory: what `faultline run` writes there (the manifest, JSON written through a
//! temporary file and a rename) and how `replay` and `report` find and load it again.

use super::{Exit, EXIT_BAD_INPUT};
use crate::scenario::{self, Loaded, Overrides};
use anyhow::{anyhow, Context, Result};
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
    /// Every data file the run wrote, by path in the directory, with the FNV-1a 64 of its
    /// bytes: `report` and `replay` refuse a directory whose files are not this run's (an
    /// earlier run's left beside it, or an edited one). Empty in manifests from before it.
    #[serde(default)]
    pub files: std::collections::BTreeMap<String, String>,
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

/// `reports/<file name without .ron>`, the name made safe for a directory: characters other
/// than letters, digits, `-`, `_` and `.` become `_`, leading dots are dropped (so `...ron`
/// and `..ron` cannot name the current directory or `reports/` itself), and an empty name
/// becomes `run`.
pub(super) fn default_out(file: &Path) -> PathBuf {
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let safe: String = stem
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let safe = safe.trim_start_matches('.');
    Path::new("reports").join(if safe.is_empty() { "run" } else { safe })
}

/// A run's files are written into a staging directory beside `out` and moved into place
/// when all are written, so `out` holds one whole run, never a mix: a failed or killed run
/// leaves the earlier run as it was (and its staging directory, removed by the next run).
pub(super) struct Staging {
    out: PathBuf,
    tmp: PathBuf,
}

impl Staging {
    /// Checks `out` before anything is simulated: a regular file, or a directory holding
    /// files but no run (`manifest.json`), is bad input, since replacing it would destroy
    /// what the user keeps there.
    pub(super) fn begin(out: &Path) -> Result<Staging> {
        let bad = |why: String| {
            anyhow!(Exit(
                EXIT_BAD_INPUT,
                format!("error: --out {}: {why}", out.display())
            ))
        };
        if out.exists() {
            if !out.is_dir() {
                return Err(bad("is a file, not a directory; name a directory for the run's files (it is created)".into()));
            }
            let mut entries =
                std::fs::read_dir(out).map_err(|e| bad(format!("cannot read it: {e}")))?;
            if entries.next().is_some() && !out.join("manifest.json").is_file() {
                return Err(bad("holds files but no faultline run (no manifest.json), and a run replaces its directory whole; name a new or empty directory".into()));
            }
        }
        let name = out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|n| n != "." && n != "..")
            .ok_or_else(|| {
                bad(
                    "name a directory by its own name (not `.` or `..`), so the run can replace it"
                        .into(),
                )
            })?;
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent)
            .map_err(|e| bad(format!("cannot create {}: {e}", parent.display())))?;
        let tmp = parent.join(format!(".{name}.partial"));
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp)
                .with_context(|| format!("cannot remove a stale {}", tmp.display()))?;
        }
        std::fs::create_dir(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        Ok(Staging {
            out: out.to_path_buf(),
            tmp,
        })
    }

    /// Where the run's files go until [`Staging::commit`].
    pub(super) fn dir(&self) -> &Path {
        &self.tmp
    }

    /// Puts the staged run in `out`'s place (an earlier run there is removed whole).
    pub(super) fn commit(self) -> Result<()> {
        if self.out.exists() {
            let mut old = self.tmp.as_os_str().to_owned();
            old.push(".old");
            let old = PathBuf::from(old);
            if old.exists() {
                std::fs::remove_dir_all(&old)
                    .with_context(|| format!("cannot remove {}", old.display()))?;
            }
            std::fs::rename(&self.out, &old).with_context(|| {
                format!(
                    "cannot move the earlier run in {} aside",
                    self.out.display()
                )
            })?;
            std::fs::rename(&self.tmp, &self.out)
                .with_context(|| format!("cannot move the run into {}", self.out.display()))?;
            std::fs::remove_dir_all(&old).with_context(|| {
                format!("cannot remove the earlier run, moved to {}", old.display())
            })?;
        } else {
            std::fs::rename(&self.tmp, &self.out)
                .with_context(|| format!("cannot move the run into {}", self.out.display()))?;
        }
        Ok(())
    }
}

/// The FNV-1a 64 of a file's bytes, as the manifest records it.
pub(super) fn file_hash(bytes: &[u8]) -> String {
    format!("{:016x}", crate::engine::stable_hash_bytes(bytes))
}

/// `Err(why)` when a data file in `dir` is missing or is not the one `m` recorded.
pub(super) fn check_files(dir: &Path, m: &Manifest) -> std::result::Result<(), String> {
    for (rel, want) in &m.files {
        let path = dir.join(rel);
        let bytes = std::fs::read(&path).map_err(|e| format!("cannot read {rel}: {e}"))?;
        let got = file_hash(&bytes);
        if got != *want {
            return Err(format!(
                "{rel} is not the file this run wrote (hash {got}, manifest.json records {want}): it was edited or left by another run; run the scenario again"
            ));
        }
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::default_out;
    use std::path::Path;

    #[test]
    fn the_default_out_is_a_directory_of_its_own_under_reports() {
        for (file, out) in [
            ("scenarios/quickstart.ron", "reports/quickstart"),
            ("...ron", "reports/run"),
            ("..ron", "reports/run"),
            (".ron", "reports/ron"),
            ("a b/c d.ron", "reports/c_d"),
            ("x/.hidden.ron", "reports/hidden"),
            ("v1.2.ron", "reports/v1.2"),
            ("/", "reports/run"),
        ] {
            assert_eq!(default_out(Path::new(file)), Path::new(out), "{file}");
        }
    }
}
