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
    /// The shard this journal holds, in a sweep split over many machines (`--shard`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardHeader>,
    /// The shard journals this one was merged from (`netsweep merge`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_from: Option<MergedFrom>,
}

/// A shard journal's place in its sweep: which shard, by which rule, and how many devices the
/// shard had when it was planned (`0`: an empty shard, whose journal says so).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardHeader {
    /// K, 1-based.
    pub index: u32,
    /// N.
    pub count: u32,
    /// The partition function, [`netsweep_shard::PARTITION`] for journals this build writes.
    pub partition: String,
    /// Devices of the selection that belong to this shard.
    pub devices: u64,
    /// Devices of the whole selection, every shard together.
    pub selected: u64,
}

impl ShardHeader {
    /// The header of `shard`, holding `devices` of the `selected` devices.
    pub fn new(shard: netsweep_shard::Shard, devices: u64, selected: u64) -> Self {
        ShardHeader {
            index: shard.index(),
            count: shard.count(),
            partition: netsweep_shard::PARTITION.into(),
            devices,
            selected,
        }
    }

    /// The shard, when the header's numbers make one.
    pub fn shard(&self) -> Option<netsweep_shard::Shard> {
        netsweep_shard::Shard::new(self.index, self.count).ok()
    }
}

/// Where a merged journal came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergedFrom {
    /// N.
    pub count: u32,
    /// The partition function of the shards.
    pub partition: String,
    /// The shards merged, 1-based.
    pub shards: Vec<u32>,
    /// Shards left out (`--allow-missing`): their devices have no record.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<u32>,
}

/// The file name of a shard's journal under `--journal DIR/`: `shard-K-of-N.jsonl`, inside
/// a directory named after the run id.
pub fn shard_file_name(shard: netsweep_shard::Shard) -> String {
    format!(
        "shard-{}-of-{}.{JOURNAL_EXTENSION}",
        shard.index(),
        shard.count()
    )
}

/// The shard a [`shard_file_name`] names.
pub fn parse_shard_file_name(name: &str) -> Option<netsweep_shard::Shard> {
    let stem = name.strip_suffix(&format!(".{JOURNAL_EXTENSION}"))?;
    let (k, n) = stem.strip_prefix("shard-")?.split_once("-of-")?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(k) || !digits(n) {
        return None;
    }
    netsweep_shard::Shard::new(k.parse().ok()?, n.parse().ok()?).ok()
}

/// Longest run id accepted: it names a directory, and appears in every header.
pub const MAX_RUN_ID_LEN: usize = 128;

/// Checks a run id given by the user (`--run-id`, `NETSWEEP_RUN_ID`): it becomes a directory
/// name on a volume shared by every shard, so letters, digits, `.`, `_` and `-` only, not
/// starting with `.` or `-`.
pub fn check_run_id(run_id: &str) -> Result<(), JournalError> {
    let reason = if run_id.is_empty() {
        Some("it is empty")
    } else if run_id.len() > MAX_RUN_ID_LEN {
        Some("it is longer than 128 characters")
    } else if run_id.starts_with(['.', '-']) {
        Some("it starts with `.` or `-`")
    } else if !run_id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        Some("it may hold only letters, digits, `.`, `_` and `-`")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(JournalError::BadRunId {
            run_id: run_id.into(),
            reason,
        }),
        None => Ok(()),
    }
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
            shard: None,
            merged_from: None,
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
    fn shard_file_names_round_trip_and_strangers_are_not_shards() {
        let shard = netsweep_shard::Shard::new(3, 12).unwrap();
        assert_eq!(shard_file_name(shard), "shard-3-of-12.jsonl");
        assert_eq!(parse_shard_file_name("shard-3-of-12.jsonl"), Some(shard));
        for name in [
            "merged.jsonl",
            "shard-0-of-4.jsonl",
            "shard-5-of-4.jsonl",
            "shard-1-of-4.json",
            "shard--1-of-4.jsonl",
            "shard-1-of-+4.jsonl",
        ] {
            assert_eq!(parse_shard_file_name(name), None, "{name}");
        }
    }

    #[test]
    fn run_ids_must_be_safe_directory_names() {
        for good in ["sweep-2026-11-21", "12345_7", "a.b"] {
            assert!(check_run_id(good).is_ok(), "{good}");
        }
        for bad in ["", ".", "..", "../x", "a/b", "-rf", "a b", &"x".repeat(129)] {
            assert!(check_run_id(bad).is_err(), "{bad}");
        }
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
