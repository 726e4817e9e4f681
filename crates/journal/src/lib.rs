//! The append-only JSON Lines journal of a sweep, resume bookkeeping, and rendering of
//! records into reports and summaries.
//!
//! A journal is one header line ([`JournalHeader`]) followed by one
//! [`DeviceRecord`](netsweep_protocol::DeviceRecord) per line, each the device's final
//! outcome, written as it arrives ([`JournalWriter`]). It is read back whole
//! ([`read_journal`]), streamed ([`JournalReader`]) or reduced to what a resume needs
//! ([`index_journal`], [`plan_resume`]). The journals of a sweep's shards are joined into one
//! by [`merge_shards`]. The [`render`] functions and the
//! [`SummaryAccumulator`] turn records into what the CLI shows; [`OutputDir`] writes
//! `--output-dir` files.
//!
//! This crate must not contact devices and must not print: renderers write to the writer
//! they are given.

mod error;
mod header;
mod merge;
mod output_dir;
mod reader;
pub mod render;
mod resume;
mod summary;
mod writer;

pub use error::{ChangedTarget, HeaderMismatch, JournalError, MergeError, ResumeError};
pub use header::{
    FORMAT_VERSION, InventoryRef, JOURNAL_EXTENSION, JOURNAL_MAGIC, JournalHeader, MAX_RUN_ID_LEN,
    MergedFrom, ShardHeader, check_run_id, default_runs_dir, default_runs_dir_from_env,
    latest_journal, new_run_id, parse_shard_file_name, shard_file_name,
};
pub use merge::{MergeOptions, MergeReport, MergedShard, merge_shards, shard_journals};
pub use output_dir::{OutputDir, safe_name};
pub use reader::{
    IndexedDevice, Journal, JournalIndex, JournalReader, index_journal, read_journal,
};
pub use render::{JsonArrayWriter, MergedText, write_jsonl, write_text};
pub use resume::{ResumeOptions, ResumePlan, plan_resume};
pub use summary::{FailedClass, SLOWEST_KEPT, Summary, SummaryAccumulator, SummaryStyle};
pub use writer::{JournalWriter, SYNC_EVERY_RECORDS, SYNC_INTERVAL};
