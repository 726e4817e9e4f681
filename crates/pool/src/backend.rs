//! The interface between the dispatcher and one kind of worker (threads or processes).
//!
//! A [`Backend`] knows how to start, feed, stop and collect its workers, and nothing about a
//! device's fate: deadlines, retries, cancellation and records are the dispatcher's
//! (`crate::dispatch`). Workers speak back only through [`SlotMsg`]s on the channel the
//! dispatcher hands to [`Backend::spawn`], each tagged with the slot's generation so that a
//! replaced worker's late words can be told apart.
//!
//! Nothing here may block for long or decide an outcome.

use std::sync::mpsc::Sender;

use netsweep_protocol::frame::FrameError;
use netsweep_protocol::{CommandOutput, DeviceRecord, Job, JobId, Stage};

use crate::PoolError;

/// A message from a worker slot.
#[derive(Debug)]
pub(crate) struct SlotMsg {
    pub slot: usize,
    /// The generation of the worker that spoke (see [`Backend::spawn`]).
    pub generation: u64,
    pub body: SlotBody,
}

#[derive(Debug)]
pub(crate) enum SlotBody {
    Stage(JobId, Stage),
    // Boxed like `Finished`: an output is far larger than the other messages.
    Output(JobId, Box<CommandOutput>),
    Finished(JobId, Box<DeviceRecord>),
    /// The worker's stream of messages ended: the process exited or closed its stdout.
    Closed,
    /// The worker said something that is not the protocol; it must be stopped.
    Garbage(String),
}

/// How a worker ended, for `worker_crashed`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ExitInfo {
    pub signal: Option<i32>,
    pub exit_code: Option<i32>,
}

/// What stopping a worker achieved immediately.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stopping {
    /// The worker is out of the way already (a thread abandoned); the slot can be refilled.
    Gone,
    /// A signal was sent; a `Closed` message will follow.
    Pending,
}

/// Why a job could not be handed to a worker. The worker is dead or dying: the dispatcher
/// waits for its `Closed`, which settles the device as `worker_crashed`.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AssignError {
    /// The slot has no worker taking jobs (never started, retired, or collected).
    #[error("no worker is taking jobs in this slot")]
    NoWorker,
    /// The worker thread has ended and dropped its end of the job channel.
    #[error("the worker thread has ended")]
    ThreadEnded,
    /// The job frame could not be written to the worker's stdin (it has exited).
    #[error("cannot write the job to the worker")]
    Write(#[source] FrameError),
}

/// One kind of worker: threads or processes.
pub(crate) trait Backend {
    /// Starts the worker for `slot`, tagging its messages with `generation`.
    fn spawn(
        &mut self,
        slot: usize,
        generation: u64,
        tx: &Sender<SlotMsg>,
    ) -> Result<(), PoolError>;
    /// Hands a job to the idle worker in `slot`.
    fn assign(&mut self, slot: usize, job: &Job) -> Result<(), AssignError>;
    /// Stops the worker in `slot` politely (SIGTERM), or abandons it.
    fn terminate(&mut self, slot: usize) -> Stopping;
    /// Stops the worker in `slot` now (SIGKILL).
    fn kill(&mut self, slot: usize);
    /// Tells the idle worker in `slot` that no more jobs come (it exits; `Closed` follows).
    fn retire(&mut self, slot: usize) -> Stopping;
    /// Collects a worker whose stream closed: waits for the process (killing it if it
    /// lingers) so no zombie is left.
    fn reap(&mut self, slot: usize) -> ExitInfo;
    /// The worker's name for logs and records.
    fn label(&self, slot: usize) -> String;
    /// Whether a worker should be replaced after it has done `jobs_done` devices.
    fn wants_recycle(&self, jobs_done: usize) -> bool;
    /// The largest peak RSS of a worker process so far, KiB (0 where workers are threads).
    fn peak_worker_rss_kib(&self) -> u64 {
        0
    }
    /// Compiles before the first device what the sweep will parse (see
    /// [`crate::parse::ParsePlan`]), where workers will find it.
    fn prepare_parse(&mut self, _plan: &crate::parse::ParsePlan) {}
    /// Releases what outlives single workers (the fork server) once every worker is gone.
    fn shutdown(&mut self) {}
    /// The stage of `job` in `slot` where the worker records it in place rather than in
    /// messages (threads); `None`: the messages tell.
    fn current_stage(&self, _slot: usize, _job: JobId) -> Option<Stage> {
        None
    }
}
