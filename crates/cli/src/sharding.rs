//! `netsweep run --shard`: which shard this process sweeps, under which run id, and where its
//! journal goes (`--journal DIR/` → `DIR/<run id>/shard-K-of-N.jsonl`).
//!
//! Every doubt here is a usage error (exit code 2) before anything is swept: a shard that
//! guessed its devices could leave some unswept and others swept twice.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use netsweep_journal::{JournalHeader, check_run_id, shard_file_name};
use netsweep_shard::{PARTITION, Shard};

use crate::args::RunArgs;

/// The variable that gives the run id when `--run-id` is not given.
pub(crate) const RUN_ID_VAR: &str = "NETSWEEP_RUN_ID";

/// What `--shard` and the run id ask of this run, resolved before anything else is read.
#[derive(Clone, Debug, Default)]
pub(crate) struct ShardRequest {
    /// The shard asked for (`auto` resolved against the environment).
    pub shard: Option<Shard>,
    /// `--run-id`, or `NETSWEEP_RUN_ID`.
    pub run_id: Option<String>,
}

/// Resolves `--shard` and the run id. A new sharded run with a journal needs a run id: its
/// shards' journals must share it to be found and merged.
pub(crate) fn request(args: &RunArgs) -> anyhow::Result<ShardRequest> {
    let flags = &args.shards;
    let env = |name: &str| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned());
    let shard = flags
        .shard
        .map(|spec| spec.resolve(env))
        .transpose()
        .context("--shard")?;
    let run_id = flags
        .run_id
        .clone()
        .or_else(|| env(RUN_ID_VAR).filter(|v| !v.is_empty()));
    if let Some(id) = &run_id {
        check_run_id(id)?;
    }
    if shard.is_some() && run_id.is_none() && args.resume.is_none() && !args.no_journal {
        bail!(
            "--shard needs a run id shared by every shard of the sweep, so their journals can be \
             found and merged: pass --run-id ID or set {RUN_ID_VAR} (e.g. to the Job's name, or \
             to $SLURM_ARRAY_JOB_ID)"
        );
    }
    Ok(ShardRequest { shard, run_id })
}

/// Whether `--journal` names a directory: it ends with `/` or is one already.
fn is_directory(path: &Path) -> bool {
    path.as_os_str().as_bytes().ends_with(b"/") || path.is_dir()
}

/// Where a new run's journal goes, and whether an existing one there is carried on.
pub(crate) struct Placement {
    /// The journal's path.
    pub path: PathBuf,
    /// A shard journal at a path made from the run id: if it exists, it is this very shard of
    /// this very run, started before (a retried pod, a requeued task), so it is resumed
    /// instead of refused.
    pub continue_existing: bool,
}

/// The journal of a new run: `--journal FILE` as given; `--journal DIR/` (or the default
/// runs directory) with a run id and a shard, `DIR/<run id>/shard-K-of-N.jsonl`; without a
/// shard, the default file name inside DIR.
pub(crate) fn place_journal(
    args: &RunArgs,
    header: &JournalHeader,
    shard: Option<Shard>,
) -> anyhow::Result<Placement> {
    let dir = match &args.journal {
        Some(path) if !is_directory(path) => {
            return Ok(Placement {
                path: path.clone(),
                continue_existing: false,
            });
        }
        Some(dir) => dir.clone(),
        None => netsweep_journal::default_runs_dir_from_env()
            .context("cannot find the runs directory")?,
    };
    Ok(match shard {
        Some(shard) => Placement {
            path: dir.join(&header.run_id).join(shard_file_name(shard)),
            continue_existing: true,
        },
        None => Placement {
            path: dir.join(header.file_name()),
            continue_existing: false,
        },
    })
}

/// The shard a resumed journal holds, checked against the one asked for (if any), the run
/// id, and — for a shard — the inventory: a shard resumed on another inventory would sweep
/// devices its sibling shards never saw.
pub(crate) fn resumed_shard(
    journal: &Path,
    header: &JournalHeader,
    requested: Option<Shard>,
    run_id: Option<&str>,
    inventory_sha256: &str,
    force: bool,
) -> anyhow::Result<Option<Shard>> {
    let journal_shard = match &header.shard {
        None => None,
        Some(s) => {
            if s.partition != PARTITION {
                bail!(
                    "{} was split by `{}`; this netsweep splits by `{PARTITION}` and cannot \
                     tell which devices the shard owns",
                    journal.display(),
                    s.partition
                );
            }
            Some(s.shard().with_context(|| {
                format!(
                    "{}:1: shard {}/{} does not exist",
                    journal.display(),
                    s.index,
                    s.count
                )
            })?)
        }
    };
    match (journal_shard, requested) {
        (Some(had), Some(asked)) if had != asked => bail!(
            "{} holds shard {had}, but this run is shard {asked}: resume each shard from its own \
             journal",
            journal.display()
        ),
        (None, Some(asked)) => bail!(
            "{} is not a shard journal, but this run is shard {asked}: drop --shard to resume it \
             whole",
            journal.display()
        ),
        _ => {}
    }
    if let Some(id) = run_id
        && id != header.run_id
    {
        bail!(
            "{} belongs to run {}, not to run {id}",
            journal.display(),
            header.run_id
        );
    }
    if let Some(shard) = journal_shard
        && header.inventory.sha256 != inventory_sha256
    {
        if !force {
            bail!(
                "{} (shard {shard}) was swept from an inventory with sha256 {}, but the inventory \
                 now has {inventory_sha256}: resumed on another inventory, the shard would sweep \
                 devices its sibling shards never planned for, or leave out some they count \
                 on; use --force to resume anyway",
                journal.display(),
                header.inventory.sha256
            );
        }
        tracing::warn!(
            "{}: resuming shard {shard} on a changed inventory (--force)",
            journal.display()
        );
    }
    Ok(journal_shard)
}
