//! Joining the journals of a sweep's shards (`netsweep run --shard K/N`) into one normal
//! journal: what `netsweep merge` does.
//!
//! Nothing is written unless every check passes: each shard 1..N given exactly once (or
//! missing with `allow_missing`), every header agreeing on what was swept and how it was
//! split, each record's device owned by the shard that wrote it, and each device in one shard
//! only. A device recorded twice within its shard (resumed with `--rerun-failed`) keeps its
//! last record. Records are copied byte for byte, so fields of a newer netsweep survive.
//!
//! Inputs are read twice (checks and index, then copying), holding each device's name and
//! line numbers, never its outputs; and each under a shared lock, so a shard still being
//! written is refused instead of merged half-done. The result goes to a temporary file in the
//! target's directory, synced and renamed over the target: a crash leaves the old file or the
//! new one, never a part.
//!
//! This module must not contact devices nor print: it hands back a [`MergeReport`].

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use netsweep_shard::{PARTITION, Shard, shard_of};
use nix::fcntl::{Flock, FlockArg};

use crate::error::{HeaderMismatch, JournalError, MergeError};
use crate::header::{JournalHeader, MergedFrom, parse_shard_file_name};
use crate::reader::JournalReader;

/// How to merge.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MergeOptions {
    /// Merge even though some shards have no journal (their devices get no record).
    pub allow_missing: bool,
}

/// One shard's part in a merge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MergedShard {
    /// The shard.
    pub shard: Shard,
    /// Its journal.
    pub path: PathBuf,
    /// Devices the shard was planned with (its header).
    pub planned: u64,
    /// Devices with a record in its journal.
    pub recorded: u64,
    /// Records replaced by a later record of the same device (a resume with
    /// `--rerun-failed`).
    pub superseded: u64,
    /// Its last line was torn by a crash and was left out.
    pub torn_tail: bool,
}

impl MergedShard {
    /// Planned devices without a record: the shard was interrupted and not resumed.
    pub fn unrecorded(&self) -> u64 {
        self.planned.saturating_sub(self.recorded)
    }
}

/// What a merge did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MergeReport {
    /// The sweep's run id.
    pub run_id: String,
    /// N.
    pub count: u32,
    /// The shards merged, in order.
    pub shards: Vec<MergedShard>,
    /// Shards without a journal (with `allow_missing`), 1-based.
    pub missing: Vec<u32>,
    /// Devices in the merged journal.
    pub devices: u64,
    /// Of those, devices whose final outcome is ok.
    pub ok: u64,
}

impl MergeReport {
    /// Devices whose final outcome is a failure.
    pub fn failed(&self) -> u64 {
        self.devices - self.ok
    }
}

/// The shard journals named by `inputs`: a directory stands for the `shard-K-of-N.jsonl`
/// files in it, a file for itself. A directory without any is an error that points at the
/// run directories inside it, if any.
pub fn shard_journals(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, MergeError> {
    let mut files = Vec::new();
    for input in inputs {
        if !input.is_dir() {
            files.push(input.clone());
            continue;
        }
        let found = shard_files_in(input)?;
        if found.is_empty() {
            let mut runs: Vec<String> = list_dir(input)?
                .into_iter()
                .filter(|p| p.is_dir())
                .filter(|p| shard_files_in(p).is_ok_and(|f| !f.is_empty()))
                .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .collect();
            runs.sort();
            return Err(MergeError::NoShardJournals {
                dir: input.clone(),
                runs,
            });
        }
        files.extend(found);
    }
    if files.is_empty() {
        return Err(MergeError::NoInputs);
    }
    Ok(files)
}

fn list_dir(dir: &Path) -> Result<Vec<PathBuf>, JournalError> {
    let entries = std::fs::read_dir(dir).map_err(|source| JournalError::Io {
        action: "list",
        path: dir.to_path_buf(),
        source,
    })?;
    Ok(entries.flatten().map(|e| e.path()).collect())
}

fn shard_files_in(dir: &Path) -> Result<Vec<PathBuf>, JournalError> {
    let mut found: Vec<(Shard, PathBuf)> = list_dir(dir)?
        .into_iter()
        .filter_map(|p| {
            let shard = parse_shard_file_name(p.file_name()?.to_str()?)?;
            p.is_file().then_some((shard, p))
        })
        .collect();
    found.sort();
    Ok(found.into_iter().map(|(_, p)| p).collect())
}

/// A shard journal opened for merging: locked against writers, header checked.
struct Input {
    path: PathBuf,
    header: JournalHeader,
    shard: Shard,
    planned: u64,
    _lock: Flock<File>,
}

/// Merges the shard journals `files` into a new journal at `output`.
pub fn merge_shards(
    files: &[PathBuf],
    output: &Path,
    options: MergeOptions,
) -> Result<MergeReport, MergeError> {
    if files.is_empty() {
        return Err(MergeError::NoInputs);
    }
    let mut inputs = files
        .iter()
        .map(|p| open_input(p))
        .collect::<Result<Vec<_>, _>>()?;
    // The lowest shard is the reference every other header is held against.
    inputs.sort_by_key(|i| i.shard.index());
    check_headers(&inputs)?;
    let count = inputs[0].shard.count();
    for pair in inputs.windows(2) {
        if pair[0].shard == pair[1].shard {
            return Err(MergeError::DuplicateShard {
                shard: pair[1].shard.to_string(),
                first: pair[0].path.clone(),
                second: pair[1].path.clone(),
            });
        }
    }
    let missing: Vec<u32> = (1..=count)
        .filter(|k| !inputs.iter().any(|i| i.shard.index() == *k))
        .collect();
    if !missing.is_empty() && !options.allow_missing {
        return Err(MergeError::MissingShards { missing, count });
    }
    check_output_is_not_an_input(output, &inputs)?;

    let (finals, mut shards) = index_shards(&inputs)?;
    let devices = finals.len() as u64;
    let ok = finals.values().filter(|f| f.ok).count() as u64;

    let header = merged_header(&inputs, &missing);
    write_atomically(output, |out| {
        out.line(&serde_json::to_vec(&header).map_err(JournalError::Serialize)?)?;
        for (position, input) in inputs.iter().enumerate() {
            let mut keep: Vec<u64> = finals
                .values()
                .filter(|f| f.input == position)
                .map(|f| f.last_line)
                .collect();
            keep.sort_unstable();
            let mut keep = keep.into_iter().peekable();
            let mut reader = JournalReader::open(&input.path)?;
            while keep.peek().is_some() {
                let Some(record) = reader.next() else {
                    break;
                };
                record?;
                if keep.peek() == Some(&reader.line()) {
                    keep.next();
                    out.line(reader.raw_line())?;
                }
            }
            if keep.peek().is_some() {
                // The file cannot change under our shared lock; if it did anyway, say so
                // rather than write a journal missing records.
                return Err(JournalError::BadHeader {
                    path: input.path.clone(),
                    reason: "the journal changed while it was being merged".into(),
                }
                .into());
            }
        }
        Ok(())
    })?;

    for shard in &mut shards {
        shard.recorded = finals
            .values()
            .filter(|f| inputs[f.input].shard == shard.shard)
            .count() as u64;
    }
    Ok(MergeReport {
        run_id: inputs[0].header.run_id.clone(),
        count,
        shards,
        missing,
        devices,
        ok,
    })
}

fn open_input(path: &Path) -> Result<Input, MergeError> {
    let file = File::open(path).map_err(|source| JournalError::Io {
        action: "open",
        path: path.to_path_buf(),
        source,
    })?;
    // A running shard holds its journal's exclusive lock: merging it now would lose the
    // records it has yet to write.
    let lock = Flock::lock(file, FlockArg::LockSharedNonblock).map_err(|(_, errno)| {
        if errno == nix::errno::Errno::EWOULDBLOCK {
            JournalError::Locked {
                path: path.to_path_buf(),
            }
        } else {
            JournalError::Io {
                action: "lock",
                path: path.to_path_buf(),
                source: errno.into(),
            }
        }
    })?;
    let header = JournalReader::open(path)?.header().clone();
    let Some(shard_header) = &header.shard else {
        return Err(MergeError::NotAShard {
            path: path.to_path_buf(),
        });
    };
    if shard_header.partition != PARTITION {
        return Err(MergeError::UnknownPartition {
            path: path.to_path_buf(),
            found: shard_header.partition.clone(),
            known: PARTITION,
        });
    }
    let shard = shard_header
        .shard()
        .ok_or_else(|| JournalError::BadHeader {
            path: path.to_path_buf(),
            reason: format!(
                "shard {}/{} does not exist",
                shard_header.index, shard_header.count
            ),
        })?;
    let planned = shard_header.devices;
    Ok(Input {
        path: path.to_path_buf(),
        header,
        shard,
        planned,
        _lock: lock,
    })
}

/// What every shard's header must agree on, in the order worth reporting first: a journal of
/// another run explains every other difference.
fn agreement(header: &JournalHeader, shard: Shard) -> [(&'static str, String, &'static str); 6] {
    [
        (
            "run id",
            header.run_id.clone(),
            "these are journals of different runs",
        ),
        (
            "shard count",
            shard.count().to_string(),
            "the shards were split into different numbers of shards",
        ),
        (
            "partition function",
            header
                .shard
                .as_ref()
                .map(|s| s.partition.clone())
                .unwrap_or_default(),
            "the shards were split by different rules",
        ),
        (
            "inventory digest (sha256)",
            header.inventory.sha256.clone(),
            "the shards read different inventories (the file changed between them)",
        ),
        (
            "commands",
            serde_json::to_string(&header.commands).unwrap_or_default(),
            "the shards ran different commands",
        ),
        (
            "options",
            result_options(&header.pool),
            "the shards ran with different options (timeouts, retries, --limit)",
        ),
    ]
}

/// The recorded options that shape results. The pool kind and worker count change only how
/// fast a shard runs, so shards on bigger or smaller machines may differ there.
fn result_options(pool: &serde_json::Value) -> String {
    let mut pool = pool.clone();
    if let Some(map) = pool.as_object_mut() {
        map.remove("kind");
        map.remove("workers");
    }
    pool.to_string()
}

fn check_headers(inputs: &[Input]) -> Result<(), MergeError> {
    let reference = &inputs[0];
    let expected = agreement(&reference.header, reference.shard);
    for input in &inputs[1..] {
        for ((field, value, hint), (_, reference_value, _)) in agreement(&input.header, input.shard)
            .into_iter()
            .zip(expected.iter())
        {
            if value != *reference_value {
                return Err(MergeError::HeaderMismatch(Box::new(HeaderMismatch {
                    path: input.path.clone(),
                    field,
                    value,
                    reference: reference.path.clone(),
                    reference_value: reference_value.clone(),
                    hint,
                })));
            }
        }
    }
    Ok(())
}

fn check_output_is_not_an_input(output: &Path, inputs: &[Input]) -> Result<(), MergeError> {
    let Ok(output) = absolute(output) else {
        return Ok(());
    };
    for input in inputs {
        if absolute(&input.path).is_ok_and(|p| p == output) {
            return Err(MergeError::OutputIsInput {
                path: input.path.clone(),
            });
        }
    }
    Ok(())
}

/// The path with its directory resolved (the file itself may not exist yet).
fn absolute(path: &Path) -> std::io::Result<PathBuf> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path.file_name().ok_or(std::io::ErrorKind::InvalidInput)?;
    Ok(parent.canonicalize()?.join(name))
}

/// Where a device's final record is.
struct Final {
    input: usize,
    first_line: u64,
    last_line: u64,
    ok: bool,
}

/// First pass: every record checked, each device's final record located.
fn index_shards(
    inputs: &[Input],
) -> Result<(HashMap<String, Final>, Vec<MergedShard>), MergeError> {
    let mut finals: HashMap<String, Final> = HashMap::new();
    let mut shards = Vec::with_capacity(inputs.len());
    for (position, input) in inputs.iter().enumerate() {
        let mut reader = JournalReader::open(&input.path)?;
        let mut superseded = 0;
        while let Some(record) = reader.next() {
            let record = record?;
            let line = reader.line();
            if let Some(seen) = finals.get_mut(&record.device) {
                if seen.input != position {
                    return Err(MergeError::DeviceInTwoShards {
                        path: input.path.clone(),
                        line,
                        device: record.device,
                        first: inputs[seen.input].path.clone(),
                        first_line: seen.first_line,
                    });
                }
                seen.last_line = line;
                seen.ok = record.outcome.is_ok();
                superseded += 1;
                continue;
            }
            let owner = shard_of(&record.device, input.shard.count());
            if owner != input.shard.index() {
                return Err(MergeError::WrongShard {
                    path: input.path.clone(),
                    line,
                    device: record.device,
                    owner,
                    shard: input.shard.index(),
                    count: input.shard.count(),
                });
            }
            finals.insert(
                record.device,
                Final {
                    input: position,
                    first_line: line,
                    last_line: line,
                    ok: record.outcome.is_ok(),
                },
            );
        }
        if let Some(&line) = reader.damaged_lines().first() {
            return Err(MergeError::DamagedLine {
                path: input.path.clone(),
                line,
            });
        }
        shards.push(MergedShard {
            shard: input.shard,
            path: input.path.clone(),
            planned: input.planned,
            recorded: 0,
            superseded,
            torn_tail: reader.torn_tail(),
        });
    }
    Ok((finals, shards))
}

/// The merged journal's header: the sweep's, with no shard of its own, started when its first
/// shard started.
fn merged_header(inputs: &[Input], missing: &[u32]) -> JournalHeader {
    let mut header = inputs[0].header.clone();
    if let Some(earliest) = inputs
        .iter()
        .filter_map(|i| i.header.started_at().map(|t| (t, &i.header.started_at)))
        .min()
    {
        header.started_at = earliest.1.clone();
    }
    header.shard = None;
    header.merged_from = Some(MergedFrom {
        count: inputs[0].shard.count(),
        partition: PARTITION.into(),
        shards: inputs.iter().map(|i| i.shard.index()).collect(),
        missing: missing.to_vec(),
    });
    header
}

/// The merged journal being written.
struct Output<'p> {
    out: BufWriter<File>,
    path: &'p Path,
}

impl Output<'_> {
    fn line(&mut self, line: &[u8]) -> Result<(), MergeError> {
        self.out
            .write_all(line)
            .and_then(|()| self.out.write_all(b"\n"))
            .map_err(|source| {
                JournalError::Io {
                    action: "write to",
                    path: self.path.to_path_buf(),
                    source,
                }
                .into()
            })
    }
}

/// Writes `output` through a temporary file in its directory (mode 0600, as every journal),
/// synced and renamed into place, then syncs the directory.
fn write_atomically(
    output: &Path,
    fill: impl FnOnce(&mut Output<'_>) -> Result<(), MergeError>,
) -> Result<(), MergeError> {
    let io_err = |action: &'static str| {
        move |source| JournalError::Io {
            action,
            path: output.to_path_buf(),
            source,
        }
    };
    let dir = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let temp = tempfile::Builder::new()
        .prefix(".netsweep-merge-")
        .suffix(".partial")
        .tempfile_in(dir)
        .map_err(io_err("create"))?;
    let file = temp.reopen().map_err(io_err("create"))?;
    let mut out = Output {
        out: BufWriter::with_capacity(256 * 1024, file),
        path: output,
    };
    fill(&mut out)?;
    out.out.flush().map_err(io_err("write to"))?;
    out.out.get_ref().sync_all().map_err(io_err("sync"))?;
    drop(out);
    temp.persist(output).map_err(|e| JournalError::Io {
        action: "create",
        path: output.to_path_buf(),
        source: e.error,
    })?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("sync the directory of"))?;
    Ok(())
}
