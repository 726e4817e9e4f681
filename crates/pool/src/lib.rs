//! Runs many device jobs at once behind one [`Executor`] interface.
//!
//! Two pools implement it and share one dispatcher ([`dispatch`]), so retries, deadlines,
//! cancellation and the events handed to the caller are the same whichever runs the devices:
//!
//! - [`PoolKind::Threads`]: a thread per worker slot in this process. A thread cannot be
//!   killed, so a device that overruns its deadline has its thread *abandoned* (its late
//!   result ignored) and a fresh thread takes the slot; the abandoned thread ends when its
//!   session's own I/O timeout fires. That is the thread pool's honest limit.
//! - [`PoolKind::Processes`]: a `netsweep-worker` process per slot, fed jobs as frames on its
//!   stdin and answering with frames on its stdout (see [`process`] and [`worker`]). A worker
//!   that hangs is stopped with SIGTERM, a grace period, then SIGKILL; one that dies costs
//!   exactly its current device, and a fresh worker takes its place. Workers are forked from
//!   a pre-initialised fork server by default ([`WorkerStart`]).
//!
//! This crate never prints and never decides what the user sees: it hands out [`PoolEvent`]s
//! through a callback, in the order it observes them, from the caller's thread.

mod backend;
pub mod controls;
mod dispatch;
mod fork_server;
pub mod limits;
pub mod order;
pub mod parse;
mod process;
mod reap;
mod retry;
mod threads;
pub mod worker;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use netsweep_protocol::{AttemptSummary, DeviceRecord, Job, JobId};

pub use controls::{Canary, ConnectRate, FailureLimit, StopReason, SweepControls};
pub use fork_server::ForkServerError;
pub use retry::Backoff;

/// Which pool runs the devices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PoolKind {
    /// Threads in the coordinator's process.
    Threads,
    /// Supervised `netsweep-worker` processes.
    Processes {
        /// The worker binary.
        worker_path: PathBuf,
        /// Arguments for it (none for `netsweep-worker`; never credentials).
        worker_args: Vec<std::ffi::OsString>,
        /// Replace a worker after it has handled this many devices (`Some(1)`: a fresh process
        /// per device). `None`: keep workers for the whole sweep.
        max_devices_per_worker: Option<usize>,
        /// How each worker process is started.
        start: WorkerStart,
    },
}

/// How the process pool starts a worker.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WorkerStart {
    /// `fork` of a fork server: one `netsweep-worker --fork-server` started once, already
    /// initialised, which forks each worker (about 5 ms of CPU less per worker than exec).
    #[default]
    ForkServer,
    /// `exec` of the worker binary for every worker: needed when the worker path is not a
    /// `netsweep-worker` (a wrapper script, a worker under a debugger or valgrind).
    Exec,
}

/// How a pool runs.
#[derive(Clone, Debug)]
pub struct PoolConfig {
    /// Threads or processes.
    pub kind: PoolKind,
    /// How many devices run at once.
    pub workers: usize,
    /// Further attempts for transient failures (see `Outcome::is_transient`).
    pub retries: u32,
    /// Delay before each retry.
    pub backoff: Backoff,
    /// After SIGTERM (deadline or cancellation), how long a worker has before SIGKILL.
    pub kill_grace: Duration,
    /// After a graceful stop is requested, how long in-flight devices may take to finish.
    pub cancel_grace: Duration,
    /// Pace of new sessions, per-group limit, canary and failure limit (all off by default).
    pub controls: SweepControls,
}

impl PoolConfig {
    /// A configuration with netsweep's defaults for everything but the pool and its size.
    pub fn new(kind: PoolKind, workers: usize) -> Self {
        PoolConfig {
            kind,
            workers,
            retries: 0,
            backoff: Backoff::default(),
            kill_grace: Duration::from_secs(2),
            cancel_grace: Duration::from_secs(10),
            controls: SweepControls::default(),
        }
    }
}

/// What a pool tells its caller, as it happens.
#[derive(Debug)]
pub enum PoolEvent {
    /// A device was handed to a worker.
    Started {
        /// The job.
        job: JobId,
        /// Device name.
        device: String,
        /// Where the device is, `host:port`.
        address: String,
        /// Worker label (`thread-3`, `worker-3[pid 1234]`).
        worker: String,
        /// 1-based attempt.
        attempt: u32,
    },
    /// An attempt failed transiently and will be tried again after `delay`.
    Retrying {
        /// The job.
        job: JobId,
        /// Device name.
        device: String,
        /// The failed attempt.
        failed: AttemptSummary,
        /// Back-off before the next attempt.
        delay: Duration,
    },
    /// The device's final record. Exactly one per device that was started.
    Finished {
        /// The job.
        job: JobId,
        /// The record (boxed: outputs can be megabytes and events move around).
        record: Box<DeviceRecord>,
    },
    /// Every canary device ended `ok`: the other devices start now.
    CanaryPassed {
        /// Canary devices.
        devices: usize,
    },
    /// The sweep starts no new device (devices already started finish): the canary failed
    /// or the failure limit was reached. Sent once.
    Stopped {
        /// Why.
        reason: StopReason,
    },
}

/// What a finished run looked like from the pool's side.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Devices that got a final record.
    pub finished: usize,
    /// Devices never started because the run was interrupted or stopped, by id.
    pub not_started: Vec<JobId>,
    /// Why the run stopped starting devices before it had started them all, if it did.
    pub stopped: Option<StopReason>,
    /// Worker processes (or threads) started over the run, replacements included.
    pub workers_spawned: usize,
    /// Workers that died or were killed mid-device.
    pub workers_lost: usize,
    /// Peak resident set of the largest worker process, KiB, sampled after each device
    /// (0 for threads).
    pub worker_peak_rss_kib: u64,
}

/// Why a pool could not run at all (per-device failures are outcomes, not errors).
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// The worker binary could not be started.
    #[error("cannot start worker binary {path}")]
    SpawnWorker {
        /// Path tried.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The fork server could not be started, or could not fork a worker.
    #[error("fork server {path}")]
    ForkServer {
        /// The worker binary serving as fork server.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: ForkServerError,
    },
    /// A thread could not be started.
    #[error("cannot start a worker thread")]
    SpawnThread(#[source] std::io::Error),
    /// The process limits cannot hold the requested number of workers.
    #[error(
        "{workers} workers need about {needed} open files but the limit is {limit}; lower --workers or raise `ulimit -n`"
    )]
    TooManyWorkers {
        /// Requested workers.
        workers: usize,
        /// Descriptors they need.
        needed: u64,
        /// RLIMIT_NOFILE.
        limit: u64,
    },
    /// Zero workers requested.
    #[error("the pool needs at least one worker")]
    NoWorkers,
}

/// Stops a run from another thread (a signal handler's thread, a test).
#[derive(Clone, Debug, Default)]
pub struct Cancel(Arc<AtomicU8>);

/// Levels of [`Cancel`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum CancelLevel {
    /// Keep going.
    None,
    /// Start nothing new; let in-flight devices finish within the cancel grace, then stop them.
    Graceful,
    /// Stop every in-flight device now.
    Immediate,
}

impl Cancel {
    /// A token that has not been triggered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Escalates: the first call asks for a graceful stop, the second for an immediate one.
    pub fn escalate(&self) -> CancelLevel {
        let prev = self
            .0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| Some((v + 1).min(2)))
            .unwrap_or(2);
        Self::level_of((prev + 1).min(2))
    }

    /// Raises the level to at least `level`.
    pub fn request(&self, level: CancelLevel) {
        let v = match level {
            CancelLevel::None => 0,
            CancelLevel::Graceful => 1,
            CancelLevel::Immediate => 2,
        };
        self.0.fetch_max(v, Ordering::SeqCst);
    }

    /// The current level.
    pub fn level(&self) -> CancelLevel {
        Self::level_of(self.0.load(Ordering::SeqCst))
    }

    fn level_of(v: u8) -> CancelLevel {
        match v {
            0 => CancelLevel::None,
            1 => CancelLevel::Graceful,
            _ => CancelLevel::Immediate,
        }
    }
}

/// The interface both pools implement: jobs in, events out.
pub trait Executor {
    /// Runs every job to a final record (or until `cancel` stops the run), calling `on_event`
    /// for each event. Returns once no worker is running a device any more.
    fn run(
        &mut self,
        jobs: Vec<Job>,
        cancel: &Cancel,
        on_event: &mut dyn FnMut(PoolEvent),
    ) -> Result<RunStats, PoolError>;
}

/// Builds the pool `config` describes.
pub fn executor(config: PoolConfig) -> Result<Box<dyn Executor>, PoolError> {
    if config.workers == 0 {
        return Err(PoolError::NoWorkers);
    }
    Ok(match &config.kind {
        PoolKind::Threads => {
            limits::check_thread_pool(config.workers)?;
            Box::new(dispatch::Dispatcher::new(
                config.clone(),
                threads::ThreadBackend::new(),
            ))
        }
        PoolKind::Processes {
            worker_path,
            worker_args,
            max_devices_per_worker,
            start,
        } => {
            limits::check_process_pool(config.workers)?;
            Box::new(dispatch::Dispatcher::new(
                config.clone(),
                process::ProcessBackend::new(
                    worker_path.clone(),
                    worker_args.clone(),
                    *max_devices_per_worker,
                    *start,
                ),
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_escalates_graceful_then_immediate() {
        let c = Cancel::new();
        assert_eq!(c.level(), CancelLevel::None);
        assert_eq!(c.escalate(), CancelLevel::Graceful);
        assert_eq!(c.escalate(), CancelLevel::Immediate);
        assert_eq!(c.escalate(), CancelLevel::Immediate);
    }
}
