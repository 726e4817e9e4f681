//! Typed errors of the journal: file problems name the file (and the line), resume refusals
//! say what changed and how to proceed anyway.

use std::io;
use std::path::PathBuf;

/// Why a journal could not be created, written, read or reopened.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// A file-system operation failed.
    #[error("cannot {action} journal {}", path.display())]
    Io {
        /// What was being done: `create`, `write to`, `sync`, `read`, `open`, `truncate`.
        action: &'static str,
        /// The journal (or runs directory).
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// `create` never overwrites a journal: that would lose a run's results.
    #[error("journal {} already exists", path.display())]
    AlreadyExists {
        /// The journal.
        path: PathBuf,
    },
    /// Another process holds the journal open for writing.
    #[error("journal {} is in use by another netsweep process", path.display())]
    Locked {
        /// The journal.
        path: PathBuf,
    },
    /// The first line is not a netsweep journal header.
    #[error("{}:1: not a netsweep journal header: {reason}", path.display())]
    BadHeader {
        /// The journal.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The journal was written by a newer netsweep.
    #[error(
        "journal {} has format version {found}; this netsweep reads version {supported}",
        path.display()
    )]
    UnsupportedVersion {
        /// The journal.
        path: PathBuf,
        /// The version in the header.
        found: u32,
        /// The version this build reads and writes.
        supported: u32,
    },
    /// A record could not be serialized (never expected for `DeviceRecord`).
    #[error("cannot serialize a journal line")]
    Serialize(#[source] serde_json::Error),
    /// A run id that cannot name a directory shared by every shard.
    #[error("run id `{run_id}` cannot be used: {reason}")]
    BadRunId {
        /// The run id given.
        run_id: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// `latest` was asked for but the runs directory holds no journal.
    #[error("no journal found in {}", dir.display())]
    NoJournal {
        /// The runs directory searched.
        dir: PathBuf,
    },
}

/// Why a sweep may not resume from a journal (each is overridden by `--force`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResumeError {
    /// The journal's commands are not the commands of this run: mixing their outputs would
    /// give a report that answers two different questions.
    #[error(
        "the journal ran {} but this run asks for {}; use the same commands, or --force",
        quote_list(journal),
        quote_list(now)
    )]
    CommandsDiffer {
        /// The journal's commands.
        journal: Vec<String>,
        /// This run's commands.
        now: Vec<String>,
    },
    /// Finished devices now point somewhere else: their recorded results are about a
    /// different box.
    #[error(
        "{} finished device(s) changed in the inventory since the journal was written ({}); \
         use --force to keep their old results",
        changed.len(),
        describe_changes(changed)
    )]
    TargetsChanged {
        /// Every changed device.
        changed: Vec<ChangedTarget>,
    },
}

/// A finished device whose address or platform differs between journal and inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedTarget {
    /// Device name.
    pub device: String,
    /// The field that changed: `host`, `port` or `platform`.
    pub field: &'static str,
    /// The value in the journal.
    pub was: String,
    /// The value in the inventory now.
    pub now: String,
}

fn quote_list(items: &[String]) -> String {
    if items.is_empty() {
        return "no commands".into();
    }
    items
        .iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn describe_changes(changed: &[ChangedTarget]) -> String {
    const SHOWN: usize = 3;
    let mut parts: Vec<String> = changed
        .iter()
        .take(SHOWN)
        .map(|c| format!("{} {} {} → {}", c.device, c.field, c.was, c.now))
        .collect();
    if changed.len() > SHOWN {
        parts.push(format!("and {} more", changed.len() - SHOWN));
    }
    parts.join(", ")
}

/// Why shard journals could not be merged (`netsweep merge`). Each names the file, and the
/// line where one is to blame: the operator must be able to find the culprit at once.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// A journal could not be read (its header, a damaged line, a lock held by a running
    /// shard).
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// Nothing to merge.
    #[error("no shard journals given")]
    NoInputs,
    /// A directory without shard journals.
    #[error(
        "{} holds no shard journals (shard-K-of-N.jsonl){}",
        dir.display(),
        runs_hint(runs)
    )]
    NoShardJournals {
        /// The directory.
        dir: PathBuf,
        /// Its subdirectories that do hold shard journals: run directories, one level up.
        runs: Vec<String>,
    },
    /// A journal written without `--shard` (or a merged one).
    #[error("{}:1: not a shard journal (it was written without --shard)", path.display())]
    NotAShard {
        /// The journal.
        path: PathBuf,
    },
    /// A journal split by a rule this build does not know.
    #[error(
        "{}:1: the shards were split by `{found}`; this netsweep splits by `{known}`",
        path.display()
    )]
    UnknownPartition {
        /// The journal.
        path: PathBuf,
        /// Its partition function.
        found: String,
        /// This build's.
        known: &'static str,
    },
    /// Two journals whose headers disagree: they are not shards of one sweep.
    #[error("{0}")]
    HeaderMismatch(Box<HeaderMismatch>),
    /// The same shard twice.
    #[error(
        "{}:1: shard {shard} again (already in {}); each shard must be given once",
        second.display(),
        first.display()
    )]
    DuplicateShard {
        /// `K/N`.
        shard: String,
        /// The first journal of that shard.
        first: PathBuf,
        /// The second.
        second: PathBuf,
    },
    /// Shards without a journal.
    #[error(
        "shard{} {} of {count} ha{} no journal; merge when {} done, or pass --allow-missing to \
         merge the others (the missing shards' devices then have no record, and \
         `netsweep run --resume MERGED` sweeps them)",
        if missing.len() == 1 { "" } else { "s" },
        join_numbers(missing),
        if missing.len() == 1 { "s" } else { "ve" },
        if missing.len() == 1 { "it is" } else { "they are" }
    )]
    MissingShards {
        /// The missing shards, 1-based.
        missing: Vec<u32>,
        /// N.
        count: u32,
    },
    /// A record of a device the shard does not own.
    #[error(
        "{}:{line}: device {device} belongs to shard {owner}/{count}, not to this journal's \
         shard {shard}/{count}",
        path.display()
    )]
    WrongShard {
        /// The journal.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// The device.
        device: String,
        /// The shard that owns it.
        owner: u32,
        /// The shard of this journal.
        shard: u32,
        /// N.
        count: u32,
    },
    /// A complete line that is not a record, before the file's end: the journal was damaged or
    /// edited. A plain read skips such a line (its device is swept again on resume); a merge
    /// refuses, since the merged journal would silently lose that device.
    #[error(
        "{}:{line}: not a journal record (a damaged line before the end of the file; only a \
         torn last line is tolerated)",
        path.display()
    )]
    DamagedLine {
        /// The journal.
        path: PathBuf,
        /// 1-based line.
        line: u64,
    },
    /// One device recorded by two shards.
    #[error(
        "{}:{line}: device {device} is also in {}:{first_line}; a device belongs to one shard only",
        path.display(),
        first.display()
    )]
    DeviceInTwoShards {
        /// The later journal.
        path: PathBuf,
        /// Line there.
        line: u64,
        /// The device.
        device: String,
        /// The earlier journal.
        first: PathBuf,
        /// Line there.
        first_line: u64,
    },
    /// `-o` names one of the inputs.
    #[error("{} is one of the shard journals; write the merged journal elsewhere", path.display())]
    OutputIsInput {
        /// The path.
        path: PathBuf,
    },
}

fn runs_hint(runs: &[String]) -> String {
    if runs.is_empty() {
        return String::new();
    }
    format!(
        "; its run directories {} do: pass one of them",
        runs.iter()
            .map(|r| format!("`{r}`"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn join_numbers(numbers: &[u32]) -> String {
    numbers
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where two shard journals' headers disagree.
#[derive(Debug)]
pub struct HeaderMismatch {
    /// The journal that disagrees.
    pub path: PathBuf,
    /// What differs: `run id`, `shard count`, `inventory digest (sha256)` …
    pub field: &'static str,
    /// Its value there.
    pub value: String,
    /// The journal it was compared with (the lowest shard).
    pub reference: PathBuf,
    /// The value there.
    pub reference_value: String,
    /// What it means.
    pub hint: &'static str,
}

impl std::fmt::Display for HeaderMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:1: {} {} differs from {}:1 ({}): {}",
            self.path.display(),
            self.field,
            self.value,
            self.reference.display(),
            self.reference_value,
            self.hint
        )
    }
}
