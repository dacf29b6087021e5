//! A sweep's directory: the manifest (`sweep.json`), the journal that makes a killed sweep
//! resumable, the final CSV files and page, and the merge of shard directories.
//!
//! Crash safety rests on two rules. Finished runs are appended to `runs.journal` one whole line
//! per `write` call, each line ending in a checksum of its content, so a line cut short by a kill
//! (or mangled by a crash of the machine) fails its check and its run is simply done again.
//! Every other file is written to a temporary name and renamed into place, so a reader sees the
//! old file or the new one, never half of one. What the files contain is decided elsewhere
//! (`sweep` for the rows, `sweep::page` for the HTML); this module only stores and checks them.

use super::{Criterion, Plan, RunRow, Shard};
use crate::engine::stable_hash_bytes;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// What can go wrong with a sweep's files.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot {what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// Files that belong to another sweep, shards missing, and the like: the user's to fix.
    #[error("{0}")]
    Input(String),
}

/// An I/O error on `path`, saying what was being done (for this store and the search's).
pub(crate) fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.to_path_buf();
    move |source| StoreError::Io { what, path, source }
}

/// Writes `bytes` to `path` through a temporary file and a rename (every file `run`, `report`
/// and `sweep` write goes through here).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).map_err(io("write", &tmp))?;
    std::fs::rename(&tmp, path).map_err(io("write", path))
}

/// One `--set` in the manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SetSpec {
    pub path: String,
    pub values: Vec<String>,
}

/// `sweep.json`: enough to rebuild the plan (the scenario's text is kept whole), so that
/// `sweep merge` needs nothing but the shard directories.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub faultline: String,
    pub fingerprint: String,
    pub file: String,
    pub sets: Vec<SetSpec>,
    pub seeds: Vec<u64>,
    pub slo: String,
    pub runs: usize,
    /// `[index, count]` for a shard's directory; absent for a whole sweep.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub shard: Option<[usize; 2]>,
    pub scenario: String,
}

impl Manifest {
    pub fn new(plan: &Plan, slo: &Criterion, shard: Option<Shard>) -> Manifest {
        Manifest {
            faultline: env!("CARGO_PKG_VERSION").to_string(),
            fingerprint: plan.fingerprint(),
            file: plan.file.clone(),
            sets: plan
                .params
                .iter()
                .map(|p| SetSpec {
                    path: p.path.clone(),
                    values: p.labels.clone(),
                })
                .collect(),
            seeds: plan.seeds.clone(),
            slo: slo.to_string(),
            runs: plan.runs(),
            shard: shard.map(|s| [s.index, s.count]),
            scenario: plan.text.clone(),
        }
    }

    pub fn read(dir: &Path) -> Result<Manifest, StoreError> {
        let path = dir.join("sweep.json");
        let text = std::fs::read_to_string(&path).map_err(io("read", &path))?;
        serde_json::from_str(&text).map_err(|e| {
            StoreError::Input(format!(
                "{}: {e} (not a sweep manifest written by faultline)",
                path.display()
            ))
        })
    }

    pub fn write(&self, dir: &Path) -> Result<(), StoreError> {
        let mut s = serde_json::to_string_pretty(self).expect("a manifest serialises");
        s.push('\n');
        write_atomic(&dir.join("sweep.json"), s.as_bytes())
    }

    /// The plan again, checked against the fingerprint.
    pub fn plan(&self) -> Result<Plan, StoreError> {
        let sets: Vec<(String, Vec<String>)> = self
            .sets
            .iter()
            .map(|s| (s.path.clone(), s.values.clone()))
            .collect();
        let plan = super::plan(&self.scenario, &self.file, &sets, Some(self.seeds.clone()))
            .map_err(|ps| StoreError::Input(ps.join("\n")))?;
        if plan.fingerprint() != self.fingerprint {
            return Err(StoreError::Input(format!(
                "the sweep in this manifest was run by faultline {}, this is {}: results of two versions are not merged; rerun the shards with one version",
                self.faultline,
                env!("CARGO_PKG_VERSION")
            )));
        }
        Ok(plan)
    }

    pub fn slo(&self) -> Result<Criterion, StoreError> {
        Criterion::parse(&self.slo).map_err(StoreError::Input)
    }
}

const JOURNAL_HEAD: &str = "faultline sweep journal v2";

/// The journal's name in a sweep (or shard) directory.
pub const JOURNAL: &str = "runs.journal";

/// A line's checksum covers the sweep's fingerprint too, so a line copied from another
/// sweep's journal fails its check and its run is done again, even where it would parse.
pub(crate) fn checksum(fingerprint: &str, body: &str) -> String {
    let mut bytes = Vec::with_capacity(fingerprint.len() + 1 + body.len());
    bytes.extend_from_slice(fingerprint.as_bytes());
    bytes.push(b'\t');
    bytes.extend_from_slice(body.as_bytes());
    format!("{:016x}", stable_hash_bytes(&bytes))
}

/// Appends finished runs, one checked line each.
pub struct Journal {
    file: std::fs::File,
    path: PathBuf,
    fingerprint: String,
}

/// What resuming found.
pub struct Resumed {
    pub journal: Journal,
    /// Finished runs, each once.
    pub rows: Vec<RunRow>,
    /// Lines that were cut short or failed their check (their runs are done again).
    pub discarded: usize,
}

impl Journal {
    /// A new, empty journal for the sweep with this fingerprint (replacing any old one).
    pub fn create(dir: &Path, fingerprint: &str) -> Result<Journal, StoreError> {
        Self::write_fresh(dir, fingerprint, &[])
    }

    fn write_fresh(dir: &Path, fingerprint: &str, lines: &[String]) -> Result<Journal, StoreError> {
        let path = dir.join(JOURNAL);
        let mut text = format!("{JOURNAL_HEAD} {fingerprint}\n");
        for l in lines {
            text.push_str(l);
            text.push('\n');
        }
        write_atomic(&path, text.as_bytes())?;
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(io("open", &path))?;
        Ok(Journal {
            file,
            path,
            fingerprint: fingerprint.to_string(),
        })
    }

    /// Reads back what an interrupted sweep finished, from its journal and, if it got that far,
    /// its runs.csv; rewrites the journal with only the good lines and opens it for appending.
    /// Files written by another sweep (another fingerprint) are refused, not mixed in.
    pub fn resume(dir: &Path, plan: &Plan, shard: Option<Shard>) -> Result<Resumed, StoreError> {
        let fingerprint = plan.fingerprint();
        let mut found: BTreeMap<usize, (RunRow, String)> = BTreeMap::new();
        let mut discarded = 0;
        let other = |what: &str| {
            StoreError::Input(format!(
                "{} holds {what} of a different sweep (scenario, --set, --seeds, shard or faultline version differ); run without --resume to start over there, or choose another --out",
                dir.display()
            ))
        };
        // A manifest, if there is one, must be this sweep's (then its runs.csv is too).
        let has_manifest = match Manifest::read(dir) {
            Ok(m) => {
                let same_shard = m.shard == shard.map(|s| [s.index, s.count]);
                if m.fingerprint != fingerprint || !same_shard {
                    return Err(other("the manifest (sweep.json)"));
                }
                true
            }
            Err(_) => false,
        };
        let path = dir.join(JOURNAL);
        match std::fs::read(&path) {
            Ok(bytes) => {
                // Only whole lines count: the last one may have been cut short.
                let text = String::from_utf8_lossy(&bytes);
                let mut lines = text.split_inclusive('\n');
                let head = lines.next().unwrap_or("");
                if head.trim_end() != format!("{JOURNAL_HEAD} {fingerprint}") {
                    return Err(other("a journal"));
                }
                for line in lines {
                    let good = line.strip_suffix('\n').and_then(|l| {
                        let (body, sum) = l.rsplit_once('\t')?;
                        (sum == checksum(&fingerprint, body)).then_some(body)
                    });
                    match good.map(|b| (b, super::parse_runs_line(plan, b))) {
                        Some((body, Ok(row))) => {
                            let k = plan.run_index(row.point, row.seed_index);
                            if shard.is_none_or(|s| s.owns(k)) {
                                found.entry(k).or_insert((row, body.to_string()));
                            } else {
                                discarded += 1;
                            }
                        }
                        _ => discarded += 1,
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("read", &path)(e)),
        }
        // A sweep that finished has no journal but a runs.csv.
        let finished = has_manifest
            .then(|| std::fs::read_to_string(dir.join("runs.csv")).ok())
            .flatten();
        for line in finished.iter().flat_map(|t| t.lines().skip(1)) {
            if let Ok(row) = super::parse_runs_line(plan, line) {
                let k = plan.run_index(row.point, row.seed_index);
                if shard.is_none_or(|s| s.owns(k)) {
                    found.entry(k).or_insert((row, line.to_string()));
                }
            }
        }
        let lines: Vec<String> = found
            .values()
            .map(|(_, body)| format!("{body}\t{}", checksum(&fingerprint, body)))
            .collect();
        let journal = Self::write_fresh(dir, &fingerprint, &lines)?;
        Ok(Resumed {
            journal,
            rows: found.into_values().map(|(r, _)| r).collect(),
            discarded,
        })
    }

    /// Appends one finished run as a single write.
    pub fn append(&mut self, plan: &Plan, row: &RunRow) -> Result<(), StoreError> {
        let body = super::runs_line(plan, row);
        let line = format!("{body}\t{}\n", checksum(&self.fingerprint, &body));
        self.file
            .write_all(line.as_bytes())
            .map_err(io("append to", &self.path))
    }

    /// The sweep finished and its outputs are written: the journal is no longer needed.
    pub fn finish(self) -> Result<(), StoreError> {
        drop(self.file);
        std::fs::remove_file(&self.path).map_err(io("remove", &self.path))
    }
}

/// Files a whole sweep writes besides sweep.json; removed when a new sweep starts in the same
/// directory, so that a stale file is never taken for this sweep's.
pub const OUTPUTS: [&str; 3] = ["runs.csv", "points.csv", "index.html"];

/// Removes the outputs of an earlier sweep in `dir`.
pub fn clear_outputs(dir: &Path) -> Result<(), StoreError> {
    for f in OUTPUTS {
        let p = dir.join(f);
        match std::fs::remove_file(&p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io("remove", &p)(e)),
            _ => {}
        }
    }
    Ok(())
}

/// Writes a finished sweep's outputs: runs.csv for a shard; runs.csv, points.csv and index.html
/// (and the manifest) for a whole sweep. `rows` must hold every run of the sweep or shard.
pub fn write_outputs(
    dir: &Path,
    plan: &Plan,
    slo: &Criterion,
    rows: &[RunRow],
    shard: Option<Shard>,
) -> Result<(), StoreError> {
    write_atomic(
        &dir.join("runs.csv"),
        super::runs_csv(plan, rows).as_bytes(),
    )?;
    if shard.is_some() {
        return Ok(());
    }
    write_atomic(
        &dir.join("points.csv"),
        super::points_csv(plan, rows).as_bytes(),
    )?;
    let page = super::page::render(plan, slo, rows).map_err(StoreError::Input)?;
    write_atomic(&dir.join("index.html"), page.as_bytes())?;
    Manifest::new(plan, slo, None).write(dir)
}

/// The shard directories under a sweep directory (`shard-K-of-N`), in name order.
pub fn shard_dirs(dir: &Path) -> Result<Vec<PathBuf>, StoreError> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| {
            StoreError::Input(format!(
                "cannot read {}: {e} (merge takes the --out directory of a sweep run with --shard or --shards)",
                dir.display()
            ))
        })?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("shard-") && e.path().is_dir())
        .map(|e| e.path())
        .collect();
    v.sort();
    if v.is_empty() {
        return Err(StoreError::Input(format!(
            "{} has no shard directories (shard-K-of-N): run the sweep with --shard K/N or --shards N and --out {} first",
            dir.display(),
            dir.display()
        )));
    }
    Ok(v)
}

/// Combines finished shards into one sweep's rows (in no particular order: the outputs sort
/// them). Every shard of the split must be there, from
/// the same sweep, each with exactly the runs it owns.
pub fn merge(shards: &[PathBuf]) -> Result<(Plan, Criterion, Vec<RunRow>), StoreError> {
    let first = shards
        .first()
        .ok_or_else(|| StoreError::Input("no shard directories (shard-K-of-N) to merge".into()))?;
    let m0 = Manifest::read(first)?;
    let plan = m0.plan()?;
    let slo = m0.slo()?;
    let count = match m0.shard {
        Some([_, n]) => n,
        None => {
            return Err(StoreError::Input(format!(
                "{} is a whole sweep, not a shard",
                first.display()
            )))
        }
    };
    let mut seen: Vec<Option<&PathBuf>> = vec![None; count];
    let mut rows = Vec::with_capacity(plan.runs());
    // Which runs have been read: each exactly once, from the shard that owns it.
    let mut have = vec![false; plan.runs()];
    for d in shards {
        let m = Manifest::read(d)?;
        let [index, n] = m.shard.ok_or_else(|| {
            StoreError::Input(format!("{} is a whole sweep, not a shard", d.display()))
        })?;
        if m.fingerprint != m0.fingerprint || n != count {
            return Err(StoreError::Input(format!(
                "{} belongs to a different sweep or split than {} (fingerprint {} of {} vs {} of {count}); merge the shards of one sweep",
                d.display(),
                first.display(),
                m.fingerprint,
                n,
                m0.fingerprint
            )));
        }
        if let Some(other) = seen[index] {
            return Err(StoreError::Input(format!(
                "shard {index}/{count} twice: {} and {}",
                other.display(),
                d.display()
            )));
        }
        seen[index] = Some(d);
        let shard = Shard { index, count };
        let path = d.join("runs.csv");
        let text = std::fs::read_to_string(&path).map_err(|e| {
            StoreError::Input(format!(
                "{}: {e}: shard {index}/{count} has not finished; run it again with --resume",
                path.display()
            ))
        })?;
        for (n, line) in text.lines().enumerate().skip(1) {
            let row = super::parse_runs_line(&plan, line)
                .map_err(|e| StoreError::Input(format!("{}:{}: {e}", path.display(), n + 1)))?;
            let k = plan.run_index(row.point, row.seed_index);
            if !shard.owns(k) {
                return Err(StoreError::Input(format!(
                    "{}:{}: run {k} does not belong to shard {index}/{count}",
                    path.display(),
                    n + 1
                )));
            }
            if std::mem::replace(&mut have[k], true) {
                return Err(StoreError::Input(format!(
                    "{}:{}: run {k} appears twice",
                    path.display(),
                    n + 1
                )));
            }
            rows.push(row);
        }
        let lacking = (0..plan.runs())
            .filter(|&k| shard.owns(k) && !have[k])
            .count();
        if lacking > 0 {
            return Err(StoreError::Input(format!(
                "{}: {lacking} of shard {index}/{count}'s runs are missing; run it again with --resume",
                path.display()
            )));
        }
    }
    let missing: Vec<String> = seen
        .iter()
        .enumerate()
        .filter(|(_, s)| s.is_none())
        .map(|(k, _)| format!("{k}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(StoreError::Input(format!(
            "shards missing: {} (run them with --shard K/{count}, into the same --out)",
            missing.join(", ")
        )));
    }
    Ok((plan, slo, rows))
}
