//! The thread pool's workers: one OS thread per slot, running device sessions in-process.
//!
//! A thread cannot be stopped from outside. "Terminating" one abandons it: its job channel is
//! dropped, the dispatcher moves the slot to a new generation (so the thread's late report is
//! ignored) and starts a fresh thread. The abandoned thread finishes when its session's own
//! I/O timeout fires, then exits because its job channel is gone.
//!
//! A thread records its device's stage in a cell the dispatcher reads when it needs it (a
//! deadline, a panic), rather than sending a message per stage: eight fewer wake-ups of the
//! dispatcher per device.

use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Sender};
use std::thread;

use netsweep_device::SessionContext;
use netsweep_protocol::{Job, JobId, Stage};

use crate::PoolError;
use crate::backend::{AssignError, Backend, ExitInfo, SlotBody, SlotMsg, Stopping};

pub(crate) struct ThreadBackend {
    /// Shared by every thread: parsed keys and known_hosts access are per process.
    ctx: Arc<SessionContext>,
    /// Job senders by slot; `None` once abandoned or retired.
    jobs: Vec<Option<Sender<Job>>>,
    /// Each slot's current thread's stage cell.
    stages: Vec<Arc<StageCell>>,
}

/// The job a thread is running and its stage, in one word: `job << 8 | stage index`.
#[derive(Default)]
struct StageCell(AtomicU64);

impl StageCell {
    fn set(&self, job: JobId, stage: Stage) {
        let index = Stage::ALL.iter().position(|s| *s == stage).unwrap_or(0);
        self.0.store(job << 8 | index as u64, Ordering::Relaxed);
    }

    /// The stage of `job`, if this cell is about it.
    fn get(&self, job: JobId) -> Option<Stage> {
        let word = self.0.load(Ordering::Relaxed);
        (word >> 8 == job).then(|| Stage::ALL[(word & 0xff) as usize % Stage::ALL.len()])
    }
}

impl ThreadBackend {
    pub(crate) fn new() -> Self {
        ThreadBackend {
            ctx: Arc::new(SessionContext::new()),
            jobs: Vec::new(),
            stages: Vec::new(),
        }
    }
}

impl Backend for ThreadBackend {
    fn prepare_parse(&mut self, plan: &crate::parse::ParsePlan) {
        plan.compile();
    }

    fn spawn(
        &mut self,
        slot: usize,
        generation: u64,
        tx: &Sender<SlotMsg>,
    ) -> Result<(), PoolError> {
        let (job_tx, job_rx) = mpsc::channel::<Job>();
        let tx = tx.clone();
        // A fresh cell per thread: an abandoned thread's late stages must not be read.
        let cell = Arc::new(StageCell::default());
        let stage_cell = Arc::clone(&cell);
        let ctx = Arc::clone(&self.ctx);
        let send = move |body| {
            // The dispatcher may be gone (run over): nothing left to tell.
            let _ = tx.send(SlotMsg {
                slot,
                generation,
                body,
            });
        };
        thread::Builder::new()
            .name(format!("netsweep-thread-{slot}"))
            .spawn(move || {
                for job in job_rx {
                    let result = panic::catch_unwind(AssertUnwindSafe(|| {
                        let mut record = netsweep_device::run_job(&job, &ctx, &mut |stage| {
                            stage_cell.set(job.id, stage)
                        });
                        crate::parse::parse_job_outputs(&job, &mut record);
                        record
                    }));
                    match result {
                        Ok(record) => send(SlotBody::Finished(job.id, Box::new(record))),
                        Err(_) => {
                            // The panic message went to stderr through the panic hook; the
                            // dispatcher classifies the device as a crashed worker.
                            send(SlotBody::Closed);
                            return;
                        }
                    }
                }
            })
            .map_err(PoolError::SpawnThread)?;
        if self.jobs.len() <= slot {
            self.jobs.resize_with(slot + 1, || None);
            self.stages.resize_with(slot + 1, Arc::default);
        }
        self.jobs[slot] = Some(job_tx);
        self.stages[slot] = cell;
        Ok(())
    }

    fn assign(&mut self, slot: usize, job: &Job) -> Result<(), AssignError> {
        match &self.jobs[slot] {
            Some(tx) => tx.send(job.clone()).map_err(|_| AssignError::ThreadEnded),
            None => Err(AssignError::NoWorker),
        }
    }

    fn terminate(&mut self, slot: usize) -> Stopping {
        self.jobs[slot] = None;
        Stopping::Gone
    }

    fn kill(&mut self, slot: usize) {
        self.jobs[slot] = None;
    }

    fn retire(&mut self, slot: usize) -> Stopping {
        self.jobs[slot] = None;
        Stopping::Gone
    }

    fn reap(&mut self, slot: usize) -> ExitInfo {
        self.jobs[slot] = None;
        ExitInfo::default()
    }

    fn label(&self, slot: usize) -> String {
        format!("thread-{slot}")
    }

    fn wants_recycle(&self, _jobs_done: usize) -> bool {
        false
    }

    fn current_stage(&self, slot: usize, job: JobId) -> Option<Stage> {
        self.stages.get(slot)?.get(job)
    }
}
