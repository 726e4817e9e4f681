//! netsweep's stable data types and its coordinator ↔ worker wire protocol.
//!
//! Everything that crosses a process boundary or lands on disk is defined here: the [`Job`] a
//! worker runs, the [`Outcome`] and [`DeviceRecord`] it produces (also the journal and
//! `--format jsonl` schema), and the length-prefixed [`frame`]s that carry them over a pipe.
//!
//! It also holds [`error_chain`], the one way netsweep words an error and its causes on one
//! line: every other crate depends on this one, so they all can use it.
//!
//! This crate must stay small and dependency-light (serde, serde_json, thiserror): it does no
//! I/O beyond reading and writing frames on a byte stream it is handed, and it knows nothing of
//! SSH, telnet, YAML, threads or processes.

pub mod change;
mod error_chain;
pub mod frame;
pub mod job;
pub mod outcome;
pub mod parsed;

pub use change::{ChangeReport, ConfigChange, RejectedLine};
pub use error_chain::error_chain;
pub use frame::{CoordinatorMessage, FrameError, WorkerMessage};
pub use job::{
    AlgorithmList, Algorithms, DeviceTarget, HostKeyPolicy, Job, JobId, JumpHost, NamedCommand,
    ParseSpec, Secret, SshSettings, Timeouts, Transport, host_port, parse_hop, wildcard_match,
};
pub use outcome::{AttemptSummary, CommandOutput, DeviceRecord, Outcome, Stage, Timings};
pub use parsed::{ParsedRows, ParsedValue};

/// Version of the frame protocol. A coordinator and a worker of different versions refuse to
/// talk (see [`frame::CoordinatorMessage::Hello`]); bump it on any incompatible change to the
/// types carried in frames.
pub const PROTOCOL_VERSION: u32 = 1;
