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
