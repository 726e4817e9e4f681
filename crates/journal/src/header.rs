//! The journal's first line, run ids, and where journals live by default.
//!
//! Journal file names start with the run's start time in UTC (`20261121T103000.123Z-…`), so
//! sorting names sorts runs, and `latest` is the greatest name. This module must not read
//! or write records.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::JournalError;

/// The journal format this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// The value of the header's `journal` key: what makes a first line recognisable.
pub const JOURNAL_MAGIC: &str = "netsweep";

/// Extension of journal files.
pub const JOURNAL_EXTENSION: &str = "jsonl";

/// The first line of a journal: what was run, on what, and how.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JournalHeader {
    /// Always [`JOURNAL_MAGIC`].
    pub journal: String,
    /// [`FORMAT_VERSION`] of the writer.
    pub format_version: u32,
    /// Unique id of the run (also in the file name).
    pub run_id: String,
    /// Start of the run, RFC 3339 in UTC.
    pub started_at: String,
    /// Version of the netsweep that started the run.
    pub netsweep_version: String,
    /// The inventory the run was planned from.
    pub inventory: InventoryRef,
    /// Commands run on every device, in order.
    pub commands: Vec<String>,
    /// Pool settings (kind, workers, timeouts …) as the CLI chose to record them.
    #[serde(default)]
    pub pool: serde_json::Value,
}

/// Which inventory, and which version of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryRef {
    /// Path as given on the command line.
    pub path: PathBuf,
    /// SHA-256 of the file's bytes, hex.
    pub sha256: String,
}

impl JournalHeader {
    /// A header for a run starting at `started_at`, with a fresh run id.
    pub fn new(
        started_at: Timestamp,
        netsweep_version: impl Into<String>,
        inventory: InventoryRef,
        commands: Vec<String>,
        pool: serde_json::Value,
    ) -> Self {
        JournalHeader {
            journal: JOURNAL_MAGIC.into(),
            format_version: FORMAT_VERSION,
            run_id: new_run_id(started_at),
            started_at: started_at.to_string(),
            netsweep_version: netsweep_version.into(),
            inventory,
            commands,
            pool,
        }
    }

    /// The start time, if the header's text parses (it always does for headers we wrote).
    pub fn started_at(&self) -> Option<Timestamp> {
        self.started_at.parse().ok()
    }

    /// The default file name of this run's journal: start time, then run id.
    pub fn file_name(&self) -> String {
        let stamp = self
            .started_at()
            .map(|t| t.strftime("%Y%m%dT%H%M%S%.3fZ").to_string())
            .unwrap_or_else(|| "unknown-time".into());
        format!("{stamp}-{}.{JOURNAL_EXTENSION}", self.run_id)
    }
}

/// A short random-looking id, unique per process and call: 12 hex digits of a hash of the
/// time, the process id and a counter (no RNG needed, no clash between runs started in the
/// same millisecond by different processes).
pub fn new_run_id(now: Timestamp) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = Sha256::new();
    h.update(now.as_nanosecond().to_le_bytes());
    h.update(std::process::id().to_le_bytes());
    h.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    h.finalize()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Where journals go when `--journal` is not given: `$XDG_STATE_HOME/netsweep/runs` when
/// that variable is set (non-empty and absolute, as the XDG spec requires), otherwise
/// `runs/` under the working directory, next to the inventory being worked on.
pub fn default_runs_dir(working_dir: &Path, xdg_state_home: Option<&OsStr>) -> PathBuf {
    match xdg_state_home.map(Path::new) {
        Some(state) if state.is_absolute() => state.join("netsweep").join("runs"),
        _ => working_dir.join("runs"),
    }
}

/// [`default_runs_dir`] for this process's working directory and environment.
pub fn default_runs_dir_from_env() -> std::io::Result<PathBuf> {
    let cwd = std::env::current_dir()?;
    Ok(default_runs_dir(
        &cwd,
        std::env::var_os("XDG_STATE_HOME").as_deref(),
    ))
}

/// The most recent journal in `runs_dir` (the greatest file name of the form this crate
/// writes). Files of other shapes are ignored.
pub fn latest_journal(runs_dir: &Path) -> Result<PathBuf, JournalError> {
    let entries = std::fs::read_dir(runs_dir).map_err(|source| JournalError::Io {
        action: "list",
        path: runs_dir.to_path_buf(),
        source,
    })?;
    let mut best: Option<String> = None;
    for entry in entries.flatten() {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if !looks_like_journal_name(&name) {
            continue;
        }
        if best.as_ref().is_none_or(|b| name > *b) {
            best = Some(name);
        }
    }
    best.map(|name| runs_dir.join(name))
        .ok_or_else(|| JournalError::NoJournal {
            dir: runs_dir.to_path_buf(),
        })
}

/// `YYYYMMDDTHHMMSS.mmmZ-<id>.jsonl`
fn looks_like_journal_name(name: &str) -> bool {
    let Some(stem) = name.strip_suffix(".jsonl") else {
        return false;
    };
    let bytes = stem.as_bytes();
    bytes.len() > 21
        && bytes[..8].iter().all(u8::is_ascii_digit)
        && bytes[8] == b'T'
        && bytes[9..15].iter().all(u8::is_ascii_digit)
        && bytes[15] == b'.'
        && bytes[16..19].iter().all(u8::is_ascii_digit)
        && &bytes[19..21] == b"Z-"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(at: &str) -> JournalHeader {
        JournalHeader::new(
            at.parse().unwrap(),
            "0.1.0",
            InventoryRef {
                path: "devices.yaml".into(),
                sha256: "ab".into(),
            },
            vec!["show clock".into()],
            serde_json::json!({"kind": "threads", "workers": 4}),
        )
    }

    #[test]
    fn file_names_sort_by_start_time_and_are_recognised() {
        let a = header("2026-11-21T10:30:00.5Z");
        let b = header("2026-11-21T10:30:01Z");
        assert!(a.file_name().starts_with("20261121T103000.500Z-"));
        assert!(a.file_name() < b.file_name());
        assert!(looks_like_journal_name(&a.file_name()));
        assert!(!looks_like_journal_name("notes.jsonl"));
        assert!(!looks_like_journal_name("20261121T103000.500Z-x.json"));
        assert_ne!(a.run_id, b.run_id);
        assert_eq!(a.run_id.len(), 12);
        assert!(a.file_name().contains(&a.run_id));
    }

    #[test]
    fn runs_dir_prefers_an_absolute_xdg_state_home() {
        let cwd = Path::new("/work/here");
        assert_eq!(default_runs_dir(cwd, None), Path::new("/work/here/runs"));
        assert_eq!(
            default_runs_dir(cwd, Some(OsStr::new("/home/u/.local/state"))),
            Path::new("/home/u/.local/state/netsweep/runs")
        );
        assert_eq!(
            default_runs_dir(cwd, Some(OsStr::new(""))),
            Path::new("/work/here/runs")
        );
        assert_eq!(
            default_runs_dir(cwd, Some(OsStr::new("relative"))),
            Path::new("/work/here/runs")
        );
    }

    #[test]
    fn latest_picks_the_newest_journal_and_ignores_strangers() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            latest_journal(dir.path()),
            Err(JournalError::NoJournal { .. })
        ));
        let older = header("2026-11-21T10:30:00Z").file_name();
        let newer = header("2026-11-21T11:00:00Z").file_name();
        for name in [&newer, &older, &"zzz-notes.jsonl".to_string()] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        assert_eq!(latest_journal(dir.path()).unwrap(), dir.path().join(newer));
    }
}
