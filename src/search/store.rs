//! A search's directory on disk: the journal of judged schedules (`schedules.journal`) that
//! makes a stopped search resumable and a sharded one mergeable, and the scenario's text kept
//! beside it (`scenario.ron`) so a merge needs nothing but the directories.
//!
//! As a sweep's journal: one whole line per schedule, appended with one `write`, ending in a
//! checksum of its content and of the search's fingerprint (faultline's version, the file's
//! name and text), so a line cut short by a kill, or copied from another search, is dropped and
//! its schedule judged again. A schedule's verdict depends on its index and the text alone,
//! never on the budget, the threads or the shard, so lines from any of them may be combined.

use crate::engine::stable_hash_bytes;
use crate::sweep::store::{checksum, io, write_atomic, StoreError};
use crate::sweep::Shard;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The journal's name in a search (or shard) directory.
pub const JOURNAL: &str = "schedules.journal";
/// The scenario's text, kept whole.
pub const SCENARIO: &str = "scenario.ron";
const HEAD: &str = "faultline search journal v1";

/// A schedule's judgement: how badly it missed, and whether it broke an expectation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Judgement {
    pub miss: f64,
    pub fails: bool,
}

/// What identifies a search: faultline's version, the file's name and text, and the seeds each
/// schedule runs with.
pub fn fingerprint(file: &str, text: &str, seeds: &[u64]) -> String {
    let b = format!(
        "faultline {}\0{file}\0{text}\0{}",
        env!("CARGO_PKG_VERSION"),
        seeds_text(seeds)
    );
    format!("{:016x}", stable_hash_bytes(b.as_bytes()))
}

fn seeds_text(seeds: &[u64]) -> String {
    seeds
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Appends judged schedules, one checked line each.
pub struct Journal {
    file: std::fs::File,
    path: PathBuf,
    fingerprint: String,
}

/// A journal read back: the search's file name, text and seeds, and its good lines.
pub struct Read {
    pub file: String,
    pub text: String,
    pub seeds: Vec<u64>,
    pub judged: BTreeMap<u64, Judgement>,
    /// Lines cut short or failing their check.
    pub discarded: usize,
}

impl Journal {
    /// Starts `dir`'s journal afresh for the search of `file` with `text` and `seeds`, keeping
    /// `judged` (what a resumed search found), and opens it for appending.
    pub fn create(
        dir: &Path,
        file: &str,
        text: &str,
        seeds: &[u64],
        judged: &BTreeMap<u64, Judgement>,
    ) -> Result<Journal, StoreError> {
        std::fs::create_dir_all(dir).map_err(io("create", dir))?;
        write_atomic(&dir.join(SCENARIO), text.as_bytes())?;
        let fingerprint = fingerprint(file, text, seeds);
        let mut out = format!("{HEAD} {fingerprint} {} {file}\n", seeds_text(seeds));
        for (&k, &j) in judged {
            out.push_str(&line(&fingerprint, k, j));
        }
        let path = dir.join(JOURNAL);
        write_atomic(&path, out.as_bytes())?;
        let handle = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(io("open", &path))?;
        Ok(Journal {
            file: handle,
            path,
            fingerprint,
        })
    }

    /// Appends judged schedules as one write.
    pub fn append(&mut self, judged: &[(u64, Judgement)]) -> Result<(), StoreError> {
        let text: String = judged
            .iter()
            .map(|&(k, j)| line(&self.fingerprint, k, j))
            .collect();
        self.file
            .write_all(text.as_bytes())
            .map_err(io("append to", &self.path))
    }
}

fn line(fingerprint: &str, k: u64, j: Judgement) -> String {
    let body = format!("{k}\t{:016x}\t{}", j.miss.to_bits(), j.fails as u8);
    format!("{body}\t{}\n", checksum(fingerprint, &body))
}

/// Reads `dir`'s journal and scenario; None when there is no journal.
pub fn read(dir: &Path) -> Result<Option<Read>, StoreError> {
    let path = dir.join(JOURNAL);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io("read", &path)(e)),
    };
    let other = || {
        StoreError::Input(format!(
            "{} is not a journal of this faultline's search (or its scenario.ron was changed); run without --resume to start over there, or choose another --out",
            path.display()
        ))
    };
    let text = String::from_utf8_lossy(&bytes);
    let mut lines = text.split_inclusive('\n');
    let head = lines.next().unwrap_or("").trim_end();
    let rest = head.strip_prefix(HEAD).ok_or_else(other)?.trim_start();
    let (fp, rest) = rest.split_once(' ').ok_or_else(other)?;
    let (seeds, file) = rest.split_once(' ').ok_or_else(other)?;
    let seeds = seeds
        .split(',')
        .map(|s| s.parse::<u64>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| other())?;
    let scenario_path = dir.join(SCENARIO);
    let scenario = std::fs::read_to_string(&scenario_path).map_err(io("read", &scenario_path))?;
    if fingerprint(file, &scenario, &seeds) != fp {
        return Err(other());
    }
    let mut judged = BTreeMap::new();
    let mut discarded = 0;
    for l in lines {
        let parsed = l.strip_suffix('\n').and_then(|l| {
            let (body, sum) = l.rsplit_once('\t')?;
            if sum != checksum(fp, body) {
                return None;
            }
            let mut f = body.split('\t');
            let k = f.next()?.parse::<u64>().ok()?;
            let miss = f64::from_bits(u64::from_str_radix(f.next()?, 16).ok()?);
            let fails = f.next()? == "1";
            Some((k, Judgement { miss, fails }))
        });
        match parsed {
            Some((k, j)) => {
                judged.entry(k).or_insert(j);
            }
            None => discarded += 1,
        }
    }
    Ok(Some(Read {
        file: file.to_string(),
        text: scenario,
        seeds,
        judged,
        discarded,
    }))
}

/// The judged schedules of every shard of a split search: the shards must all be there, of
/// one search and one split. Returns the file's name and text, and the union.
pub fn merge(shards: &[PathBuf]) -> Result<Read, StoreError> {
    let mut all: Option<Read> = None;
    let mut split: Option<usize> = None;
    let mut seen = Vec::new();
    for dir in shards {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let shard = name
            .strip_prefix("shard-")
            .and_then(|s| Shard::parse(&s.replacen("-of-", "/", 1)).ok())
            .ok_or_else(|| {
                StoreError::Input(format!(
                    "{}: not a shard directory (shard-K-of-N)",
                    dir.display()
                ))
            })?;
        if *split.get_or_insert(shard.count) != shard.count {
            return Err(StoreError::Input(format!(
                "{}: shards of different splits ({} and {}); merge the shards of one split",
                dir.display(),
                split.unwrap_or(0),
                shard.count
            )));
        }
        let r = read(dir)?.ok_or_else(|| {
            StoreError::Input(format!(
                "{}: no {JOURNAL}: run that shard (faultline search FILE --shard {}/{} --out ...) first",
                dir.display(),
                shard.index,
                shard.count
            ))
        })?;
        if r.judged.keys().any(|&k| !shard.owns(k as usize)) {
            return Err(StoreError::Input(format!(
                "{}: holds schedules of another shard",
                dir.display()
            )));
        }
        seen.push(shard.index);
        match &mut all {
            None => all = Some(r),
            Some(a) => {
                if a.file != r.file || a.text != r.text || a.seeds != r.seeds {
                    return Err(StoreError::Input(format!(
                        "{}: a shard of another search (scenario {} against {})",
                        dir.display(),
                        r.file,
                        a.file
                    )));
                }
                a.judged.extend(r.judged);
                a.discarded += r.discarded;
            }
        }
    }
    let count = split.unwrap_or(0);
    let missing: Vec<String> = (0..count)
        .filter(|k| !seen.contains(k))
        .map(|k| format!("shard-{k}-of-{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(StoreError::Input(format!(
            "missing shards: {}; run them (or pass their directories) before merging",
            missing.join(", ")
        )));
    }
    all.ok_or_else(|| StoreError::Input("no shard directories given".into()))
}
